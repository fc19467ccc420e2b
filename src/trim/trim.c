/* The tarena-trim thread: when to call the arenas' purge policy. It sleeps
 * indefinitely while nothing is dirty, until the next run becomes idle
 * enough otherwise, and purges more eagerly as a cgroup v2 memory limit gets
 * close (decay shrinks from full at 50 % of the limit to none at 90 %). */
#include "trim.h"
#include "options.h"
#include "os.h"
#include "vg.h"
#include <pthread.h>
#include <time.h>

static pthread_mutex_t trim_mutex = PTHREAD_MUTEX_INITIALIZER; /* guards the two below */
static pthread_cond_t trim_cond;
static bool trim_wake;
static int trim_state; /* atomic: 0 none, 1 started */

/* Bytes one pass may purge before it looks at the clock and the locks again. */
#define TA_TRIM_PASS_BUDGET ((size_t)256 << 20)

static uint32_t effective_decay(unsigned pressure, bool *urgent)
{
    uint32_t decay = (uint32_t)TA_OPT(decay_ms);
    *urgent = pressure >= 900;
    if (pressure > 500 && !*urgent)
        decay = (uint32_t)((uint64_t)decay * (900 - pressure) / 400);
    return decay;
}

static uint32_t trim_pass(void)
{
    bool urgent;
    uint32_t decay = effective_decay(ta_os_memory_pressure(), &urgent);
    uint32_t due_in = UINT32_MAX;
    unsigned n = ta_arena_count();
    for (unsigned i = 0; i < n; i++)
        ta_arena_purge_step(ta_arena_get(i), decay, urgent, TA_TRIM_PASS_BUDGET, &due_in);
    return due_in;
}

static bool trim_any_dirty(void)
{
    unsigned n = ta_arena_count();
    for (unsigned i = 0; i < n; i++)
        if (__atomic_load_n(&ta_arena_get(i)->dirty_pages, __ATOMIC_RELAXED))
            return true;
    return false;
}

static void *trim_main(void *arg)
{
    (void)arg;
    for (;;) {
        __atomic_store_n(&ta_arena_trimmer_idle, false, __ATOMIC_RELAXED);
        /* valgrind: a pass reads and writes freed blocks (remote-free links). */
        TA_VG_QUIET_BEGIN();
        uint32_t due_in = trim_pass();
        TA_VG_QUIET_END();
        pthread_mutex_lock(&trim_mutex);
        if (!trim_wake && due_in) {
            if (due_in == UINT32_MAX) {
                /* Nothing dirty anywhere: sleep until a free has work again.
                 * A free that saw us busy just before did not wake us, so
                 * look once more after saying we are idle. */
                __atomic_store_n(&ta_arena_trimmer_idle, true, __ATOMIC_SEQ_CST);
                if (trim_any_dirty())
                    due_in = (uint32_t)TA_MAX(TA_OPT(decay_ms), (uint64_t)5);
            }
            if (due_in == UINT32_MAX) {
                pthread_cond_wait(&trim_cond, &trim_mutex);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)TA_MAX(due_in, 5u) * 1000000u;
                ts.tv_sec += (time_t)(ns / 1000000000u);
                ts.tv_nsec = (long)(ns % 1000000000u);
                pthread_cond_timedwait(&trim_cond, &trim_mutex, &ts);
            }
        }
        trim_wake = false;
        pthread_mutex_unlock(&trim_mutex);
    }
    return NULL;
}

static void trim_cond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&trim_cond, &attr);
    pthread_condattr_destroy(&attr);
}

void ta_trim_kick_slow(void)
{
    if (!__atomic_exchange_n(&ta_arena_release_pending, false, __ATOMIC_ACQ_REL))
        return;
    if (!TA_OPT(background_trim))
        return;
    int expected = 0;
    if (__atomic_compare_exchange_n(&trim_state, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        /* pthread_create may call malloc: fine, no allocator lock is held here. */
        if (ta_os_thread_start(trim_main, NULL, "tarena-trim") != 0)
            __atomic_store_n(&trim_state, 0, __ATOMIC_RELEASE); /* try again next time */
        return;
    }
    pthread_mutex_lock(&trim_mutex);
    trim_wake = true;
    pthread_cond_signal(&trim_cond);
    pthread_mutex_unlock(&trim_mutex);
}

void ta_trim_boot(void)
{
    /* Before any kick can signal it (not when the thread starts: a second
     * kick could then signal a condition variable still being set up). */
    trim_cond_init();
}

bool ta_trim_running(void)
{
    return __atomic_load_n(&trim_state, __ATOMIC_ACQUIRE) != 0;
}

void ta_trim_postfork_child(void)
{
    __atomic_store_n(&ta_arena_trimmer_idle, true, __ATOMIC_RELAXED);
    pthread_mutex_init(&trim_mutex, NULL);
    trim_cond_init();
    trim_wake = false;
    __atomic_store_n(&trim_state, 0, __ATOMIC_RELEASE);
}
