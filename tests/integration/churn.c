/* Integration suite "churn": many short-lived threads. 20,000 sequential
 * threads must leave the resident size flat and the count of live thread
 * caches back where it was; 6,000 threads alive at once hand blocks to main;
 * detached threads exit on their own; cancelled threads free their blocks in
 * cleanup handlers. Throughout, the allocs - frees balance is conserved. */
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>
#include <time.h>
#include <unistd.h>

static void assert_balance(const ta_stats_t *s0, const ta_stats_t *s1, long long live, const char *what)
{
    long long got = (long long)((s1->allocs - s0->allocs) - (s1->frees - s0->frees));
    IT_ASSERT(got == live, "%s: allocs +%llu, frees +%llu: %lld blocks live, expected %lld", what,
              (unsigned long long)(s1->allocs - s0->allocs), (unsigned long long)(s1->frees - s0->frees), got,
              live);
    if (live == 0)
        IT_ASSERT(s1->allocated_bytes - s0->allocated_bytes == s1->freed_bytes - s0->freed_bytes,
                  "%s: allocated_bytes +%llu, freed_bytes +%llu", what,
                  (unsigned long long)(s1->allocated_bytes - s0->allocated_bytes),
                  (unsigned long long)(s1->freed_bytes - s0->freed_bytes));
}

/* Blocks carry their pattern over the first 2 KiB: enough to see two blocks
 * overlap, and tens of thousands of threads stay cheap. */
#define PATTERN_MAX (2 * IT_KIB)
static size_t pattern_len(const it_blk_t *b)
{
    return b->n < PATTERN_MAX ? b->n : PATTERN_MAX;
}

/* Allocates n blocks of mixed sizes (1 in 24 above 32 KiB) with patterns. */
static void make_blocks(it_errlog_t *log, it_rng_t *r, it_blk_t *b, unsigned n, uint64_t id0, size_t max)
{
    for (unsigned i = 0; i < n; i++) {
        b[i].n = it_range(r, 0, 23) == 0 ? it_range(r, 40 * IT_KIB, 200 * IT_KIB) : it_logsize(r, max);
        b[i].id = id0 + i;
        b[i].p = malloc(b[i].n);
        if (!b[i].p) {
            it_note(log, "malloc(%zu) failed", b[i].n);
            continue;
        }
        it_fill(b[i].p, pattern_len(&b[i]), b[i].id);
    }
}

static void drop_block(it_errlog_t *log, const char *what, it_blk_t *b)
{
    if (!b->p)
        return;
    it_blk_check(log, what, b, pattern_len(b));
    free(b->p);
    b->p = NULL;
}

/* ---- 20,000 sequential threads ---- */

enum { SEQ_THREADS = 20000, SEQ_EARLY = 1000, SEQ_BLOCKS = 48, SEQ_HAND = 8, SEQ_LAG = 64 };
#define SEQ_RSS_SLACK (16 * IT_MIB)

typedef struct {
    unsigned idx;
    it_errlog_t log;
    it_blk_t b[SEQ_BLOCKS];
} seq_job_t;

static void *seq_thread(void *arg)
{
    seq_job_t *j = arg;
    it_rng_t r = {0x5E90000u + j->idx};
    make_blocks(&j->log, &r, j->b, SEQ_BLOCKS, (uint64_t)j->idx << 16, 16 * IT_KIB);
    /* all but SEQ_HAND are freed here, in an order unlike allocation */
    for (unsigned i = SEQ_HAND; i < SEQ_BLOCKS; i++)
        drop_block(&j->log, "freed in thread", &j->b[(i * 7) % (SEQ_BLOCKS - SEQ_HAND) + SEQ_HAND]);
    return NULL;
}

static void test_sequential_threads_flat(void)
{
    static seq_job_t jobs[SEQ_LAG];
    it_errlog_t log = {0, ""};
    it_threads_warm(4);
    ta_stats_t s0 = it_stats(), s_early = s0;
    size_t rss_early = 0;
    unsigned long bad_threads = 0;
    memset(jobs, 0, sizeof jobs);
    for (unsigned t = 0; t < SEQ_THREADS; t++) {
        /* The job slot of thread t - SEQ_LAG: main frees its blocks only now,
         * long after that thread exited. */
        seq_job_t *j = &jobs[t % SEQ_LAG];
        for (unsigned i = 0; i < SEQ_HAND; i++)
            drop_block(&log, "freed by main after thread exit", &j->b[i]);
        if (j->log.errors && bad_threads++ == 0)
            it_note(&log, "thread %u: %lu errors, first: %s", j->idx, j->log.errors, j->log.msg);
        memset(j, 0, sizeof *j);
        j->idx = t;
        pthread_t th;
        int rc = it_thread_start(&th, seq_thread, j, 0);
        IT_ASSERT(rc == 0, "pthread_create of thread %u: %d", t, rc);
        if (rc)
            break;
        pthread_join(th, NULL);
        if (t + 1 == SEQ_EARLY) {
            rss_early = it_rss_bytes();
            s_early = it_stats();
        }
    }
    size_t rss_end = it_rss_bytes();
    ta_stats_t s_end = it_stats();
    for (unsigned k = 0; k < SEQ_LAG; k++) {
        for (unsigned i = 0; i < SEQ_HAND; i++)
            drop_block(&log, "freed by main at the end", &jobs[k].b[i]);
        if (jobs[k].log.errors && bad_threads++ == 0)
            it_note(&log, "thread %u: %lu errors, first: %s", jobs[k].idx, jobs[k].log.errors, jobs[k].log.msg);
    }
    ta_stats_t s1 = it_stats();
    IT_ASSERT(log.errors == 0, "%lu errors (%lu threads had errors), first: %s", log.errors, bad_threads, log.msg);
    IT_ASSERT(rss_end <= rss_early + SEQ_RSS_SLACK,
              "resident size after %d threads: %zu KiB, after %d: %zu KiB (bound +%zu KiB): exited threads leave "
              "memory behind", SEQ_EARLY, rss_early / IT_KIB, SEQ_THREADS, rss_end / IT_KIB, SEQ_RSS_SLACK / IT_KIB);
    IT_ASSERT(s_end.threads == s0.threads, "threads with a cache: %llu before, %llu after %d exited threads",
              (unsigned long long)s0.threads, (unsigned long long)s_end.threads, SEQ_THREADS);
    IT_ASSERT(s_end.arenas == s_early.arenas, "arenas: %llu after %d threads, %llu after %d (one at a time)",
              (unsigned long long)s_early.arenas, SEQ_EARLY, (unsigned long long)s_end.arenas, SEQ_THREADS);
    /* main's own cache moves with the blocks it frees (a few MiB at most);
     * caches of exited threads still counted would be gigabytes */
    IT_ASSERT(s_end.cached_bytes <= s_early.cached_bytes + 8 * IT_MIB,
              "cached bytes %llu after %d threads, %llu after %d", (unsigned long long)s_early.cached_bytes,
              SEQ_EARLY, (unsigned long long)s_end.cached_bytes, SEQ_THREADS);
    assert_balance(&s0, &s1, 0, "20,000 sequential threads");
    IT_ASSERT(s1.allocs - s0.allocs >= (uint64_t)SEQ_THREADS * SEQ_BLOCKS, "allocs +%llu",
              (unsigned long long)(s1.allocs - s0.allocs));
}

/* ---- 6,000 threads alive at once, in waves if the limits say so ---- */

enum { CONC_TOTAL = 6000, CONC_FIRST = 6, CONC_SECOND = 4, CONC_HAND = 7 };

typedef struct {
    unsigned idx;
    it_errlog_t log;
    it_blk_t b[CONC_FIRST + CONC_SECOND];
} conc_job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned arrived;
    int open;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void *conc_thread(void *arg)
{
    conc_job_t *j = arg;
    it_rng_t r = {0xC0C0000u + j->idx};
    make_blocks(&j->log, &r, j->b, CONC_FIRST, (uint64_t)j->idx << 16, 8 * IT_KIB);
    pthread_mutex_lock(&gate.lock);
    gate.arrived++;
    pthread_cond_broadcast(&gate.cond);
    while (!gate.open)
        pthread_cond_wait(&gate.cond, &gate.lock);
    pthread_mutex_unlock(&gate.lock);
    /* every thread of the wave is alive and has a cache now */
    make_blocks(&j->log, &r, j->b + CONC_FIRST, CONC_SECOND, ((uint64_t)j->idx << 16) + CONC_FIRST, 8 * IT_KIB);
    for (unsigned i = 0; i < CONC_FIRST + CONC_SECOND - CONC_HAND; i++)
        drop_block(&j->log, "freed in thread", &j->b[i * 3]);
    return NULL;
}

static void test_6000_concurrent_threads(void)
{
    conc_job_t *jobs = calloc(CONC_TOTAL, sizeof *jobs);
    pthread_t *th = calloc(CONC_TOTAL, sizeof *th);
    CU_ASSERT_FATAL(jobs != NULL && th != NULL);
    size_t room = it_thread_room();
    unsigned wave = room / 2 < CONC_TOTAL ? (unsigned)(room / 2) : CONC_TOTAL;
    if (wave < 100)
        wave = 100;
    it_threads_warm(200); /* fill glibc's stack cache: see integ.h */
    ta_stats_t s0 = it_stats();
    it_errlog_t log = {0, ""};
    unsigned done = 0, waves = 0, eagain = 0, peak_alive = 0;
    unsigned long long max_threads_seen = 0, max_arenas = 0;
    while (done < CONC_TOTAL) {
        unsigned want = CONC_TOTAL - done < wave ? CONC_TOTAL - done : wave, made = 0;
        pthread_mutex_lock(&gate.lock);
        gate.arrived = 0;
        gate.open = 0;
        pthread_mutex_unlock(&gate.lock);
        while (made < want) {
            conc_job_t *j = &jobs[done + made];
            j->idx = done + made;
            int rc = it_thread_start(&th[done + made], conc_thread, j, 0);
            if (rc != 0) {
                eagain++; /* a limit we could not see: close this wave early */
                break;
            }
            made++;
        }
        IT_ASSERT(made > 0, "could not create any thread in wave %u (%u done)", waves, done);
        if (made == 0)
            break;
        /* wait until every thread of the wave has allocated and parked */
        pthread_mutex_lock(&gate.lock);
        uint64_t deadline = it_now_ms() + 60000;
        while (gate.arrived < made && it_now_ms() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&gate.cond, &gate.lock, &ts);
        }
        unsigned arrived = gate.arrived;
        pthread_mutex_unlock(&gate.lock);
        IT_ASSERT(arrived == made, "wave %u: only %u of %u threads got through their first allocations", waves,
                  arrived, made);
        ta_stats_t mid = it_stats();
        if (mid.threads > max_threads_seen)
            max_threads_seen = mid.threads;
        if (mid.arenas > max_arenas)
            max_arenas = mid.arenas;
        IT_ASSERT(mid.threads == s0.threads + made, "wave %u: %u threads parked, %llu live caches (%llu before)",
                  waves, made, (unsigned long long)mid.threads, (unsigned long long)s0.threads);
        if (made > peak_alive)
            peak_alive = made;
        pthread_mutex_lock(&gate.lock);
        gate.open = 1;
        pthread_cond_broadcast(&gate.cond);
        pthread_mutex_unlock(&gate.lock);
        for (unsigned i = 0; i < made; i++)
            pthread_join(th[done + i], NULL);
        /* main frees what each thread handed over */
        for (unsigned i = 0; i < made; i++) {
            conc_job_t *j = &jobs[done + i];
            if (j->log.errors)
                it_note(&log, "thread %u: %lu errors, first: %s", j->idx, j->log.errors, j->log.msg);
            for (unsigned k = 0; k < CONC_FIRST + CONC_SECOND; k++)
                drop_block(&log, "handed to main", &j->b[k]);
        }
        done += made;
        waves++;
    }
    ta_stats_t s1 = it_stats();
    IT_ASSERT(done == CONC_TOTAL, "%u of %d threads ran", done, CONC_TOTAL);
    IT_ASSERT(log.errors == 0, "%lu errors, first: %s", log.errors, log.msg);
    IT_ASSERT(s1.threads == s0.threads, "threads with a cache: %llu before, %llu after",
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    unsigned long long arena_cap = (unsigned long long)(4 * ncpu > 8 ? 4 * ncpu : 8);
    IT_ASSERT(max_arenas <= arena_cap, "%llu arenas for %u threads (cap %llu)", max_arenas, peak_alive, arena_cap);
    assert_balance(&s0, &s1, 0, "6,000 concurrent threads");
    if (eagain || waves > 1)
        fprintf(stderr, "\n  (6,000 threads in %u waves of up to %u, %u creation failures)\n", waves, wave, eagain);
    free(jobs);
    free(th);
}

/* ---- detached threads ---- */

enum { DET_THREADS = 3000, DET_AT_ONCE = 150, DET_BLOCKS = 12, DET_HAND = 4 };

typedef struct {
    unsigned idx;
    it_errlog_t log;
    it_blk_t b[DET_BLOCKS];
} det_job_t;

static atomic_uint det_finished;

static void *det_thread(void *arg)
{
    det_job_t *j = arg;
    it_rng_t r = {0xDE7A0000u + j->idx};
    make_blocks(&j->log, &r, j->b, DET_BLOCKS, (uint64_t)j->idx << 16, 4 * IT_KIB);
    for (unsigned i = DET_HAND; i < DET_BLOCKS; i++)
        drop_block(&j->log, "freed in detached thread", &j->b[i]);
    atomic_fetch_add(&det_finished, 1);
    return NULL; /* then the cache goes back in this thread's TSD destructor */
}

static void test_detached_threads(void)
{
    det_job_t *jobs = calloc(DET_THREADS, sizeof *jobs);
    CU_ASSERT_FATAL(jobs != NULL);
    atomic_store(&det_finished, 0);
    it_threads_warm(DET_AT_ONCE + 50);
    ta_stats_t s0 = it_stats();
    it_errlog_t log = {0, ""};
    unsigned started = 0;
    uint64_t deadline = it_now_ms() + 60000;
    while (started < DET_THREADS && it_now_ms() < deadline) {
        if (started - atomic_load(&det_finished) >= DET_AT_ONCE) {
            sched_yield();
            continue;
        }
        pthread_t th;
        jobs[started].idx = started;
        int rc = it_thread_start(&th, det_thread, &jobs[started], 1);
        if (rc == 0)
            started++;
        else
            it_sleep_ms(1); /* EAGAIN: exiting threads still hold their slots */
    }
    IT_ASSERT(started == DET_THREADS, "only %u detached threads started", started);
    while (atomic_load(&det_finished) < started && it_now_ms() < deadline)
        it_sleep_ms(1);
    IT_ASSERT(atomic_load(&det_finished) == started, "%u of %u detached threads finished",
              atomic_load(&det_finished), started);
    /* They are done with their work; their caches go away as they exit. */
    ta_stats_t s1 = it_stats();
    deadline = it_now_ms() + 20000;
    while (s1.threads != s0.threads && it_now_ms() < deadline) {
        it_sleep_ms(2);
        s1 = it_stats();
    }
    IT_ASSERT(s1.threads == s0.threads, "live caches: %llu before, still %llu after the detached threads exited",
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
    for (unsigned t = 0; t < started; t++) {
        if (jobs[t].log.errors)
            it_note(&log, "thread %u: %lu errors, first: %s", t, jobs[t].log.errors, jobs[t].log.msg);
        for (unsigned i = 0; i < DET_HAND; i++)
            drop_block(&log, "handed by a detached thread", &jobs[t].b[i]);
    }
    IT_ASSERT(log.errors == 0, "%lu errors, first: %s", log.errors, log.msg);
    /* A detached thread releases its stack itself, after its cache: wait for
     * the balance to settle rather than racing the last exits. */
    deadline = it_now_ms() + 20000;
    ta_stats_t s2 = it_stats();
    while ((s2.allocs - s0.allocs) != (s2.frees - s0.frees) && it_now_ms() < deadline) {
        it_sleep_ms(2);
        s2 = it_stats();
    }
    assert_balance(&s0, &s2, 0, "detached threads");
    free(jobs);
}

/* ---- cancelled threads ---- */

enum { CANCEL_THREADS = 400, CANCEL_AT_ONCE = 100, CANCEL_BLOCKS = 24, CANCEL_HAND = 4 };

typedef struct {
    unsigned idx;
    int how; /* 0: condition wait, 1: nanosleep, 2: pthread_testcancel in a malloc loop
              * (for a while: then nanosleep, so spinning threads do not
              * starve the canceller on a small machine) */
    it_errlog_t log;
    it_blk_t b[CANCEL_BLOCKS];
    it_blk_t *extra; /* a growing array reallocated in the malloc loop */
    size_t nextra;
    unsigned long cleaned;
} cancel_job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond, parked_cond;
    unsigned parked;
} park = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void cancel_cleanup_blocks(void *arg)
{
    cancel_job_t *j = arg;
    for (unsigned i = CANCEL_HAND; i < CANCEL_BLOCKS; i++)
        if (j->b[i].p) {
            drop_block(&j->log, "freed by cleanup handler", &j->b[i]);
            j->cleaned++;
        }
    for (size_t i = 0; i < j->nextra; i++) {
        drop_block(&j->log, "loop block freed by cleanup handler", &j->extra[i]);
        j->cleaned++;
    }
    free(j->extra);
    j->extra = NULL;
    j->nextra = 0;
}

static void cancel_unlock(void *arg)
{
    pthread_mutex_unlock(arg);
}

static void *cancel_thread(void *arg)
{
    cancel_job_t *j = arg;
    int old;
    it_rng_t r = {0xCA2C0000u + j->idx};
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_cleanup_push(cancel_cleanup_blocks, j);
    make_blocks(&j->log, &r, j->b, CANCEL_BLOCKS, (uint64_t)j->idx << 16, 8 * IT_KIB);
    pthread_mutex_lock(&park.lock);
    park.parked++;
    pthread_cond_broadcast(&park.parked_cond);
    pthread_mutex_unlock(&park.lock);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    if (j->how == 0) {
        pthread_mutex_lock(&park.lock);
        pthread_cleanup_push(cancel_unlock, &park.lock);
        for (;;)
            pthread_cond_wait(&park.cond, &park.lock); /* never signalled */
        pthread_cleanup_pop(1);
    } else if (j->how == 1) {
        for (;;) {
            struct timespec ts = {10, 0};
            nanosleep(&ts, NULL);
        }
    } else {
        /* Allocating until cancelled: cancellation comes between mallocs, with
         * the thread cache full of whatever this loop did last. */
        for (uint64_t k = 0;; k++) {
            if (k >= 3000) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
            size_t cap = j->nextra;
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
            if (cap < 256) {
                it_blk_t *e = realloc(j->extra, (cap + 1) * sizeof *e);
                if (e) {
                    j->extra = e;
                    it_blk_t *b = &e[cap];
                    b->n = it_logsize(&r, 2048);
                    b->id = ((uint64_t)j->idx << 32) | k;
                    b->p = malloc(b->n);
                    if (b->p) {
                        it_fill(b->p, pattern_len(b), b->id);
                        j->nextra = cap + 1;
                    }
                }
            } else {
                size_t i = it_range(&r, 0, cap - 1);
                drop_block(&j->log, "loop block", &j->extra[i]);
                j->extra[i] = j->extra[--j->nextra];
            }
            pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
            pthread_testcancel();
        }
    }
    pthread_cleanup_pop(1);
    return NULL;
}

static void test_cancelled_threads_free_in_cleanup(void)
{
    cancel_job_t *jobs = calloc(CANCEL_THREADS, sizeof *jobs);
    pthread_t *th = calloc(CANCEL_THREADS, sizeof *th);
    CU_ASSERT_FATAL(jobs != NULL && th != NULL);
    /* The first pthread_cancel loads libgcc_s (unwinding), which allocates
     * for good: do one before the baseline. */
    {
        static cancel_job_t warm;
        pthread_t w;
        memset(&warm, 0, sizeof warm);
        warm.how = 1;
        park.parked = 0;
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&w, cancel_thread, &warm, 0), 0);
        pthread_mutex_lock(&park.lock);
        while (park.parked < 1)
            pthread_cond_wait(&park.parked_cond, &park.lock);
        pthread_mutex_unlock(&park.lock);
        pthread_cancel(w);
        pthread_join(w, NULL);
        for (unsigned i = 0; i < CANCEL_HAND; i++)
            free(warm.b[i].p);
    }
    it_threads_warm(CANCEL_AT_ONCE + 20);
    ta_stats_t s0 = it_stats();
    it_errlog_t log = {0, ""};
    unsigned long cleaned = 0, canceled = 0;
    unsigned done = 0;
    while (done < CANCEL_THREADS) {
        unsigned want = CANCEL_THREADS - done < CANCEL_AT_ONCE ? CANCEL_THREADS - done : CANCEL_AT_ONCE, made = 0;
        pthread_mutex_lock(&park.lock);
        park.parked = 0;
        pthread_mutex_unlock(&park.lock);
        for (; made < want; made++) {
            cancel_job_t *j = &jobs[done + made];
            j->idx = done + made;
            j->how = (int)(j->idx % 3);
            if (it_thread_start(&th[done + made], cancel_thread, j, 0) != 0)
                break;
        }
        IT_ASSERT(made == want, "created %u of %u threads", made, want);
        pthread_mutex_lock(&park.lock);
        while (park.parked < made)
            pthread_cond_wait(&park.parked_cond, &park.lock);
        pthread_mutex_unlock(&park.lock);
        for (unsigned i = 0; i < made; i++) {
            if ((i & 3) == 0)
                sched_yield(); /* let the malloc loops run a little */
            pthread_cancel(th[done + i]);
        }
        for (unsigned i = 0; i < made; i++) {
            void *ret = NULL;
            pthread_join(th[done + i], &ret);
            if (ret == PTHREAD_CANCELED)
                canceled++;
            cancel_job_t *j = &jobs[done + i];
            cleaned += j->cleaned;
            if (j->log.errors)
                it_note(&log, "thread %u: %lu errors, first: %s", j->idx, j->log.errors, j->log.msg);
            for (unsigned k = 0; k < CANCEL_HAND; k++)
                drop_block(&log, "handed by a cancelled thread", &j->b[k]);
        }
        done += made;
        if (made < want)
            break;
    }
    ta_stats_t s1 = it_stats();
    IT_ASSERT(log.errors == 0, "%lu errors, first: %s", log.errors, log.msg);
    IT_ASSERT(canceled == CANCEL_THREADS, "%lu of %d threads ended cancelled", canceled, CANCEL_THREADS);
    IT_ASSERT(cleaned >= (unsigned long)CANCEL_THREADS * (CANCEL_BLOCKS - CANCEL_HAND), "cleanup handlers freed %lu",
              cleaned);
    IT_ASSERT(s1.threads == s0.threads, "live caches: %llu before, %llu after the cancelled threads",
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
    assert_balance(&s0, &s1, 0, "cancelled threads");
    free(jobs);
    free(th);
}

TA_SUITE(churn)
{
    TA_ADD(suite, test_sequential_threads_flat);
    TA_ADD(suite, test_6000_concurrent_threads);
    TA_ADD(suite, test_detached_threads);
    TA_ADD(suite, test_cancelled_threads_free_in_cleanup);
}
