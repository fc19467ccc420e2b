/* Integration suite "fault_signals": SIGUSR1 storms (pthread_kill) landing
 * inside malloc/free/realloc in 8 threads, with and without SA_RESTART, while
 * short-lived threads come and go and statistics are read. The handler
 * clobbers errno and restores it; blocks must keep their contents, errno must
 * survive every successful allocator call, and nothing may hang. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

/* The storm runs in this binary re-executed (TA_IT_SIGSTORM=restart|norestart,
 * a constructor runs it before main): an exec'd process, not just a fork, so
 * the allocator's RCU paths (thread exit, statistics walks) are live, as in
 * a real program; forked children of a threaded process avoid them. */
#define STORM_ENV "TA_IT_SIGSTORM"

/* Each worker makes at least OPS calls and goes on until MIN_SIGNALS landed
 * on it (on a loaded machine the sender may get little time). */
enum { NW = 8, OPS = 200000, MIN_SIGNALS = 200, SLOTS = 64, SENTINEL0 = 0x5160 };

static _Atomic unsigned long handled;
static __thread unsigned long handled_here;

/* Async-signal-safe work that sets errno (EBADF), then errno put back. */
static void storm_handler(int sig)
{
    (void)sig;
    int saved = errno;
    handled_here++;
    atomic_fetch_add_explicit(&handled, 1, memory_order_relaxed);
    if (close(-1) == 0 || errno != EBADF)
        handled_here += 1000000000ul; /* impossible: shows up as a failure */
    sigset_t pend;
    sigpending(&pend);
    if ((handled_here & 63) == 0)
        sched_yield(); /* now and then stay away longer: widen the window */
    errno = saved;
}

typedef struct {
    int idx;
    pthread_t th;
    it_errlog_t log;
    unsigned long ops, signals;
} worker_t;

static worker_t workers[NW];
static _Atomic int workers_done, stop_sender;
static _Atomic unsigned long churned;

/* Patterns over the first 2 KiB and the last 64 bytes: two blocks that
 * overlap or a realloc that copies short are seen; big blocks stay cheap. */
static void blk_fill(it_blk_t *b)
{
    size_t head = b->n < 2048 ? b->n : 2048;
    it_fill(b->p, head, b->id);
    if (b->n >= 2048 + 64)
        it_fill(b->p + b->n - 64, 64, ~b->id);
}

static int blk_ok(it_errlog_t *log, const it_blk_t *b, size_t m, const char *what)
{
    size_t head = b->n < 2048 ? b->n : 2048;
    if (m < head)
        head = m;
    ptrdiff_t bad = it_check(b->p, head, b->id);
    if (bad < 0 && b->n >= 2048 + 64 && m >= b->n)
        bad = it_check(b->p + b->n - 64, 64, ~b->id) >= 0 ? (ptrdiff_t)(b->n - 64) : -1;
    if (bad >= 0)
        it_note(log, "%s: block %p (%zu bytes) corrupted at %td", what, (void *)b->p, b->n, bad);
    return bad < 0;
}

static size_t pick_size(it_rng_t *r)
{
    unsigned k = (unsigned)it_range(r, 0, 63);
    if (k == 0)
        return it_range(r, 200 * IT_KIB, 900 * IT_KIB); /* own mapping */
    if (k < 5)
        return it_range(r, 33 * IT_KIB, 120 * IT_KIB); /* page run */
    return it_logsize(r, 8 * IT_KIB);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    it_rng_t r = {0x51600u + (uint64_t)w->idx};
    const int sentinel = SENTINEL0 + w->idx;
    it_blk_t s[SLOTS];
    memset(s, 0, sizeof s);
    for (unsigned long op = 0; op < OPS || handled_here < MIN_SIGNALS; op++, w->ops++) {
        it_blk_t *b = &s[it_range(&r, 0, SLOTS - 1)];
        unsigned k = (unsigned)it_range(&r, 0, 9);
        errno = sentinel;
        if (!b->p) {
            size_t n = pick_size(&r);
            if (k < 6)
                b->p = malloc(n);
            else if (k < 8)
                b->p = calloc(1, n);
            else
                b->p = memalign(k == 8 ? 64 : 4096, n);
            if (!b->p) {
                it_note(&w->log, "allocation of %zu failed, errno %d", n, errno);
                continue;
            }
            if (errno != sentinel)
                it_note(&w->log, "allocation of %zu succeeded but errno became %d", n, errno);
            b->n = n;
            b->id = ((uint64_t)w->idx << 40) | op;
            blk_fill(b);
        } else if (k < 5) {
            blk_ok(&w->log, b, b->n, "before free");
            free(b->p);
            if (errno != sentinel)
                it_note(&w->log, "free changed errno to %d", errno);
            b->p = NULL;
        } else {
            blk_ok(&w->log, b, b->n, "before realloc");
            size_t n = pick_size(&r);
            unsigned char *q = realloc(b->p, n);
            if (!q) {
                it_note(&w->log, "realloc(%zu -> %zu) failed, errno %d", b->n, n, errno);
                continue;
            }
            if (errno != sentinel)
                it_note(&w->log, "realloc(%zu -> %zu) succeeded but errno became %d", b->n, n, errno);
            it_blk_t moved = {q, b->n, b->id};
            blk_ok(&w->log, &moved, n, "after realloc");
            b->p = q;
            b->n = n;
            b->id = ((uint64_t)w->idx << 40) | op;
            blk_fill(b);
        }
        if (w->idx == 0 && op % 4000 == 0) {
            /* statistics walk the other threads' caches while they run */
            ta_stats_t st;
            memset(&st, 0, sizeof st);
            st.size = sizeof st;
            st.version = TA_STATS_VERSION;
            if (ta_stats_get(&st) != 0 || errno != sentinel)
                it_note(&w->log, "ta_stats_get failed or changed errno (%d)", errno);
        }
        if (w->idx == 1 && op % 10000 == 0) {
            malloc_trim(0);
            if (errno != sentinel)
                it_note(&w->log, "malloc_trim changed errno to %d", errno);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (s[i].p) {
            blk_ok(&w->log, &s[i], s[i].n, "at the end");
            free(s[i].p);
        }
    w->signals = handled_here;
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

static void *short_lived(void *arg)
{
    it_rng_t r = {(uint64_t)(uintptr_t)arg};
    void *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = malloc(pick_size(&r));
    for (int i = 0; i < 16; i++)
        free(p[i]);
    return NULL;
}

/* Threads that live a few operations each: their caches are created and torn
 * down (RCU grace periods) while the storm goes on. */
static void *churner(void *arg)
{
    (void)arg;
    for (uintptr_t i = 1; atomic_load(&workers_done) < NW; i++) {
        pthread_t t;
        if (it_thread_start(&t, short_lived, (void *)i, 0) == 0) {
            pthread_join(t, NULL);
            atomic_fetch_add(&churned, 1);
        }
    }
    return NULL;
}

static void *sender(void *arg)
{
    pthread_t *churn = arg;
    unsigned long sent = 0;
    while (!atomic_load_explicit(&stop_sender, memory_order_relaxed)) {
        for (int i = 0; i < NW; i++)
            if (pthread_kill(workers[i].th, SIGUSR1) == 0)
                sent++;
        if (pthread_kill(*churn, SIGUSR1) == 0)
            sent++;
        if (sent % 4096 < NW + 1)
            sched_yield(); /* let the workers make progress on a small machine */
    }
    return (void *)(uintptr_t)sent;
}

static void say(const char *msg)
{
    if (write(2, msg, strlen(msg)) < 0)
        return;
}

static int storm_main(int restart)
{
    alarm(60); /* kept from the test's watchdog too: a deadlock ends as SIGALRM */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = storm_handler;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 10;
    for (int i = 0; i < NW; i++) {
        workers[i].idx = i;
        if (it_thread_start(&workers[i].th, worker_main, &workers[i], 0) != 0)
            return 11;
    }
    pthread_t ch, sn;
    if (it_thread_start(&ch, churner, NULL, 0) != 0 || it_thread_start(&sn, sender, &ch, 0) != 0)
        return 11;
    /* Workers are joined only once the sender stopped: pthread_kill of a
     * joined thread's id would be undefined. */
    while (atomic_load(&workers_done) < NW)
        it_sleep_ms(5);
    atomic_store(&stop_sender, 1);
    void *sent;
    pthread_join(sn, &sent);
    pthread_join(ch, NULL);
    for (int i = 0; i < NW; i++)
        pthread_join(workers[i].th, NULL);
    char msg[512];
    int rc = 0;
    unsigned long min_sig = ~0ul;
    for (int i = 0; i < NW; i++) {
        if (workers[i].log.errors) {
            snprintf(msg, sizeof msg, "worker %d: %lu errors, first: %s\n", i, workers[i].log.errors,
                     workers[i].log.msg);
            say(msg);
            rc = 1;
        }
        if (workers[i].signals < min_sig)
            min_sig = workers[i].signals;
    }
    snprintf(msg, sizeof msg, "signals sent %lu, handled %lu (fewest in one worker %lu), short-lived threads %lu\n",
             (unsigned long)(uintptr_t)sent, atomic_load(&handled), min_sig, atomic_load(&churned));
    say(msg);
    if (min_sig >= 1000000000ul) {
        say("close(-1) in the handler did not fail with EBADF\n");
        rc = 1;
    }
    if (!rc && min_sig < MIN_SIGNALS) {
        say("a worker got too few signals: the storm did not reach it\n");
        rc = 2;
    }
    return rc;
}

__attribute__((constructor)) static void storm_entry(void)
{
    const char *v = getenv(STORM_ENV);
    if (v && *v)
        _exit(storm_main(strcmp(v, "restart") == 0));
}

static int exec_storm(void *arg)
{
    char *argv[] = {(char *)"ta_integration_tests", (char *)"fault_signals", NULL};
    if (setenv(STORM_ENV, (const char *)arg, 1) != 0)
        return 20;
    execv("/proc/self/exe", argv);
    return 21;
}

static void run_storm(const char *mode)
{
    it_child_t c;
    char why[64];
    CU_ASSERT_EQUAL_FATAL(it_run_child(exec_storm, (void *)mode, 1, 90, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
              "storm (%s) ended with %s (SIGALRM means a hang): %s", mode, it_status_str(c.status, why, sizeof why),
              c.out);
}

static void test_signal_storm_sa_restart(void)
{
    run_storm("restart");
}

static void test_signal_storm_no_restart(void)
{
    run_storm("norestart");
}

TA_SUITE(fault_signals)
{
    TA_ADD(suite, test_signal_storm_sa_restart);
    TA_ADD(suite, test_signal_storm_no_restart);
}
