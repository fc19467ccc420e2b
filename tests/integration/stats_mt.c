/* Integration suite "stats_mt": the statistics conserve across threads.
 * Threads allocate and free known blocks (some freed by other threads, some
 * left live for main); ta_stats_get deltas must match exactly: allocs - frees
 * = live blocks, allocated_bytes - freed_bytes = their usable sizes; live
 * caches are counted while their threads run and gone after; mallinfo2()
 * stays self-consistent while threads allocate. */
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>
#include <unistd.h>

#define D(a, b, f) ((long long)((b).f - (a).f))

/* ---- conservation with cross-thread frees and reallocs ---- */

enum { NT = 8, PER = 3000, HAND = 60 };

typedef struct {
    int idx;
    it_errlog_t log;
    unsigned long calls; /* allocation calls that made a new block */
    it_blk_t *mine;      /* PER blocks */
    unsigned nlive;      /* blocks [0, nlive) of mine stay live for main */
    it_blk_t hand[HAND]; /* for the next thread to free */
} st_job_t;

static pthread_barrier_t st_barrier;
static st_job_t st_jobs[NT];

static size_t st_size(it_rng_t *r)
{
    unsigned x = (unsigned)it_range(r, 0, 99);
    if (x < 85)
        return it_logsize(r, 32 * IT_KIB);
    if (x < 98)
        return it_range(r, 32 * IT_KIB + 1, 512 * IT_KIB);
    return it_range(r, 512 * IT_KIB, 3 * IT_MIB);
}

static void *st_alloc(it_rng_t *r, size_t n)
{
    void *p = NULL;
    switch (it_range(r, 0, 4)) {
    case 0:
        return calloc(1, n);
    case 1:
        return posix_memalign(&p, (size_t)64 << it_range(r, 0, 6), n) == 0 ? p : NULL;
    case 2:
        return aligned_alloc(32, n);
    case 3:
        return realloc(NULL, n);
    default:
        return malloc(n);
    }
}

static void *st_thread(void *arg)
{
    st_job_t *j = arg;
    it_rng_t r = {0x57A70000u + (uint64_t)j->idx};
    j->nlive = 50 + 25 * (unsigned)j->idx;
    for (unsigned i = 0; i < PER; i++) {
        it_blk_t *b = &j->mine[i];
        b->n = st_size(&r);
        b->id = ((uint64_t)j->idx << 32) | i;
        b->p = st_alloc(&r, b->n);
        if (!b->p) {
            it_note(&j->log, "allocation of %zu failed", b->n);
            continue;
        }
        j->calls++;
        it_fill(b->p, b->n < 512 ? b->n : 512, b->id);
        /* resize some: the balance counts a moved block once */
        if (i % 7 == 0) {
            size_t n = st_size(&r);
            unsigned char *q = realloc(b->p, n);
            if (!q) {
                it_note(&j->log, "realloc to %zu failed", n);
                continue;
            }
            size_t keep = n < b->n ? n : b->n;
            b->p = q;
            b->n = n;
            if (it_check(q, keep < 512 ? keep : 512, b->id) >= 0)
                it_note(&j->log, "realloc lost the contents of block %u", i);
            it_fill(b->p, b->n < 512 ? b->n : 512, b->id);
        }
    }
    for (unsigned k = 0; k < HAND; k++) {
        j->hand[k].n = it_logsize(&r, 64 * IT_KIB);
        j->hand[k].id = ((uint64_t)(j->idx + 100) << 32) | k;
        j->hand[k].p = malloc(j->hand[k].n);
        if (!j->hand[k].p) {
            it_note(&j->log, "hand malloc failed");
            continue;
        }
        j->calls++;
        it_fill(j->hand[k].p, j->hand[k].n, j->hand[k].id);
    }
    /* free all but the first nlive, newest first */
    for (unsigned i = PER; i-- > j->nlive;) {
        it_blk_t *b = &j->mine[i];
        if (b->p && it_check(b->p, b->n < 512 ? b->n : 512, b->id) >= 0)
            it_note(&j->log, "block %u corrupted", i);
        free(b->p);
        b->p = NULL;
    }
    pthread_barrier_wait(&st_barrier);
    /* cross-thread: free what the previous thread handed over */
    st_job_t *prev = &st_jobs[(j->idx + NT - 1) % NT];
    for (unsigned k = 0; k < HAND; k++) {
        it_blk_check(&j->log, "handed block", &prev->hand[k], prev->hand[k].n);
        free(prev->hand[k].p);
        prev->hand[k].p = NULL;
    }
    return NULL;
}

static void test_conservation_across_threads(void)
{
    pthread_t th[NT];
    memset(st_jobs, 0, sizeof st_jobs);
    for (int i = 0; i < NT; i++) {
        st_jobs[i].idx = i;
        st_jobs[i].mine = calloc(PER, sizeof(it_blk_t));
        CU_ASSERT_FATAL(st_jobs[i].mine != NULL);
    }
    CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&st_barrier, NULL, NT), 0);
    it_threads_warm(NT);
    ta_stats_t s0 = it_stats();
    for (int i = 0; i < NT; i++)
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], st_thread, &st_jobs[i], 0), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    ta_stats_t s1 = it_stats();
    pthread_barrier_destroy(&st_barrier);

    long long live = 0, live_bytes = 0;
    unsigned long calls = 0;
    for (int i = 0; i < NT; i++) {
        st_job_t *j = &st_jobs[i];
        IT_ASSERT(j->log.errors == 0, "thread %d: %lu errors, first: %s", i, j->log.errors, j->log.msg);
        calls += j->calls;
        for (unsigned k = 0; k < j->nlive; k++)
            if (j->mine[k].p) {
                live++;
                live_bytes += (long long)malloc_usable_size(j->mine[k].p);
            }
    }
    IT_ASSERT(live == 50 * NT + 25 * NT * (NT - 1) / 2, "%lld live blocks", live);
    IT_ASSERT(D(s0, s1, allocs) - D(s0, s1, frees) == live,
              "after join: allocs +%lld, frees +%lld, so %lld live; the threads left %lld", D(s0, s1, allocs),
              D(s0, s1, frees), D(s0, s1, allocs) - D(s0, s1, frees), live);
    IT_ASSERT(D(s0, s1, allocated_bytes) - D(s0, s1, freed_bytes) == live_bytes,
              "after join: allocated_bytes +%lld, freed_bytes +%lld, so %lld live bytes; the live blocks' usable "
              "sizes add up to %lld",
              D(s0, s1, allocated_bytes), D(s0, s1, freed_bytes),
              D(s0, s1, allocated_bytes) - D(s0, s1, freed_bytes), live_bytes);
    IT_ASSERT(D(s0, s1, allocs) >= (long long)calls, "allocs +%lld, the threads made %lu allocations",
              D(s0, s1, allocs), calls);
    IT_ASSERT(s1.threads == s0.threads, "live caches %llu before, %llu after join", (unsigned long long)s0.threads,
              (unsigned long long)s1.threads);

    /* main frees what the exited threads left: back to zero */
    for (int i = 0; i < NT; i++) {
        st_job_t *j = &st_jobs[i];
        for (unsigned k = 0; k < j->nlive; k++) {
            it_blk_t *b = &j->mine[k];
            if (b->p && it_check(b->p, b->n < 512 ? b->n : 512, b->id) >= 0)
                IT_ASSERT(0, "thread %d block %u corrupted after join", i, k);
            free(b->p);
            b->p = NULL;
        }
    }
    ta_stats_t s2 = it_stats();
    IT_ASSERT(D(s0, s2, allocs) == D(s0, s2, frees), "after main freed the rest: allocs +%lld, frees +%lld",
              D(s0, s2, allocs), D(s0, s2, frees));
    IT_ASSERT(D(s0, s2, allocated_bytes) == D(s0, s2, freed_bytes),
              "after main freed the rest: allocated_bytes +%lld, freed_bytes +%lld", D(s0, s2, allocated_bytes),
              D(s0, s2, freed_bytes));
    IT_ASSERT(D(s1, s2, frees) == live, "main freed %lld blocks, counted %lld", live, D(s1, s2, frees));
    for (int i = 0; i < NT; i++)
        free(st_jobs[i].mine);
}

/* ---- live threads: their caches and blocks are counted while they run ---- */

enum { PT = 16, PT_BLOCKS = 200, PT_KEEP = 30 };

typedef struct {
    int idx;
    unsigned long calls;
    void *keep[PT_KEEP];
    size_t keep_usable;
    it_errlog_t log;
} pt_job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int parked, go;
} pt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void *pt_thread(void *arg)
{
    pt_job_t *j = arg;
    it_rng_t r = {0x9A4Cu + (uint64_t)j->idx};
    void *tmp[PT_BLOCKS];
    for (int i = 0; i < PT_BLOCKS; i++) {
        tmp[i] = malloc(it_logsize(&r, 4 * IT_KIB));
        if (!tmp[i])
            it_note(&j->log, "malloc failed");
        else
            j->calls++;
    }
    for (int i = 0; i < PT_BLOCKS; i++) {
        if (i < PT_KEEP) {
            j->keep[i] = tmp[i];
            j->keep_usable += malloc_usable_size(tmp[i]);
        } else {
            free(tmp[i]); /* into this thread's cache, mostly */
        }
    }
    pthread_mutex_lock(&pt.lock);
    pt.parked++;
    pthread_cond_broadcast(&pt.cond);
    while (!pt.go)
        pthread_cond_wait(&pt.cond, &pt.lock);
    pthread_mutex_unlock(&pt.lock);
    return NULL;
}

static void test_live_threads_counted(void)
{
    static pt_job_t jobs[PT];
    pthread_t th[PT];
    memset(jobs, 0, sizeof jobs);
    pt.parked = pt.go = 0;
    it_threads_warm(PT);
    ta_stats_t s0 = it_stats();
    for (int i = 0; i < PT; i++) {
        jobs[i].idx = i;
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], pt_thread, &jobs[i], 0), 0);
    }
    pthread_mutex_lock(&pt.lock);
    while (pt.parked < PT)
        pthread_cond_wait(&pt.cond, &pt.lock);
    pthread_mutex_unlock(&pt.lock);
    /* all parked: their counters are still, read through their live caches */
    ta_stats_t s1 = it_stats();
    unsigned long calls = 0;
    long long keep_bytes = 0;
    for (int i = 0; i < PT; i++) {
        calls += jobs[i].calls;
        keep_bytes += (long long)jobs[i].keep_usable;
        IT_ASSERT(jobs[i].log.errors == 0, "thread %d: %s", i, jobs[i].log.msg);
    }
    IT_ASSERT(s1.threads == s0.threads + PT, "%d threads parked with caches: threads %llu -> %llu", PT,
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
    IT_ASSERT(D(s0, s1, allocs) == (long long)calls, "parked: allocs +%lld, the threads made %lu allocations",
              D(s0, s1, allocs), calls);
    IT_ASSERT(D(s0, s1, allocs) - D(s0, s1, frees) == PT * PT_KEEP, "parked: allocs +%lld frees +%lld, %d kept",
              D(s0, s1, allocs), D(s0, s1, frees), PT * PT_KEEP);
    IT_ASSERT(D(s0, s1, allocated_bytes) - D(s0, s1, freed_bytes) == keep_bytes,
              "parked: allocated_bytes +%lld freed_bytes +%lld, kept blocks' usable sizes %lld",
              D(s0, s1, allocated_bytes), D(s0, s1, freed_bytes), keep_bytes);
    IT_ASSERT(s1.cached_bytes > s0.cached_bytes, "parked threads freed into their caches, yet cached bytes %llu -> %llu",
              (unsigned long long)s0.cached_bytes, (unsigned long long)s1.cached_bytes);
    IT_ASSERT(s1.in_use_bytes >= s0.in_use_bytes + (uint64_t)keep_bytes,
              "in-use bytes %llu -> %llu with %lld bytes kept live", (unsigned long long)s0.in_use_bytes,
              (unsigned long long)s1.in_use_bytes, keep_bytes);

    pthread_mutex_lock(&pt.lock);
    pt.go = 1;
    pthread_cond_broadcast(&pt.cond);
    pthread_mutex_unlock(&pt.lock);
    for (int i = 0; i < PT; i++)
        pthread_join(th[i], NULL);
    ta_stats_t s2 = it_stats();
    IT_ASSERT(s2.threads == s0.threads, "after join: threads %llu (was %llu)", (unsigned long long)s2.threads,
              (unsigned long long)s0.threads);
    IT_ASSERT(s2.cached_bytes == s0.cached_bytes, "after join: cached bytes %llu (was %llu): exited caches counted",
              (unsigned long long)s2.cached_bytes, (unsigned long long)s0.cached_bytes);
    IT_ASSERT(D(s0, s2, allocs) - D(s0, s2, frees) == PT * PT_KEEP, "after join: allocs +%lld frees +%lld",
              D(s0, s2, allocs), D(s0, s2, frees));
    for (int i = 0; i < PT; i++)
        for (int k = 0; k < PT_KEEP; k++)
            free(jobs[i].keep[k]);
    ta_stats_t s3 = it_stats();
    IT_ASSERT(D(s0, s3, allocs) == D(s0, s3, frees), "all freed: allocs +%lld frees +%lld", D(s0, s3, allocs),
              D(s0, s3, frees));
    IT_ASSERT(D(s0, s3, allocated_bytes) == D(s0, s3, freed_bytes), "all freed: allocated_bytes +%lld freed_bytes +%lld",
              D(s0, s3, allocated_bytes), D(s0, s3, freed_bytes));
}

/* ---- mallinfo2 and ta_stats_get agree with themselves under load ---- */

static atomic_int mi_stop;

static void *mi_churn(void *arg)
{
    it_rng_t r = {(uint64_t)(uintptr_t)arg};
    void *keep[128] = {0};
    while (!atomic_load_explicit(&mi_stop, memory_order_relaxed)) {
        size_t k = it_range(&r, 0, 127);
        free(keep[k]);
        size_t n = it_range(&r, 0, 9) == 0 ? it_range(&r, 32 * IT_KIB, 1536 * IT_KIB) : it_logsize(&r, 32 * IT_KIB);
        keep[k] = malloc(n);
        if (keep[k])
            memset(keep[k], 0x5a, n < 64 ? n : 64);
    }
    for (int k = 0; k < 128; k++)
        free(keep[k]);
    return NULL;
}

static void test_mallinfo2_consistent_under_threads(void)
{
    enum { CT = 4, ROUNDS = 600 };
    pthread_t th[CT];
    atomic_store(&mi_stop, 0);
    for (int i = 0; i < CT; i++)
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], mi_churn, (void *)(uintptr_t)(i + 1), 0), 0);
    unsigned bad_sum = 0, bad_free = 0, bad_stats = 0;
    struct mallinfo2 first_bad;
    memset(&first_bad, 0, sizeof first_bad);
    ta_stats_t bad_st;
    memset(&bad_st, 0, sizeof bad_st);
    for (int i = 0; i < ROUNDS; i++) {
        struct mallinfo2 m = mallinfo2();
        if (m.arena != m.uordblks + m.fordblks && bad_sum++ == 0)
            first_bad = m;
        if (m.fordblks > m.arena && bad_free++ == 0)
            first_bad = m;
        ta_stats_t st = it_stats();
        if ((st.heap_free_bytes > st.heap_bytes || st.in_use_bytes < st.mmapped_bytes ||
             st.cached_bytes > st.in_use_bytes) && bad_stats++ == 0)
            bad_st = st;
        if (i % 16 == 0)
            sched_yield();
    }
    atomic_store(&mi_stop, 1);
    for (int i = 0; i < CT; i++)
        pthread_join(th[i], NULL);
    IT_ASSERT(bad_sum == 0, "%u of %d mallinfo2() calls had arena != uordblks + fordblks (first: %zu != %zu + %zu)",
              bad_sum, ROUNDS, first_bad.arena, first_bad.uordblks, first_bad.fordblks);
    IT_ASSERT(bad_free == 0, "%u of %d mallinfo2() calls had fordblks > arena (first: %zu > %zu)", bad_free, ROUNDS,
              first_bad.fordblks, first_bad.arena);
    IT_ASSERT(bad_stats == 0,
              "%u of %d snapshots inconsistent (first: heap %llu free %llu in_use %llu mmapped %llu cached %llu)",
              bad_stats, ROUNDS, (unsigned long long)bad_st.heap_bytes, (unsigned long long)bad_st.heap_free_bytes,
              (unsigned long long)bad_st.in_use_bytes, (unsigned long long)bad_st.mmapped_bytes,
              (unsigned long long)bad_st.cached_bytes);

    /* quiescent: the two views agree exactly */
    struct mallinfo2 m = mallinfo2();
    ta_stats_t st = it_stats();
    IT_ASSERT(m.arena == m.uordblks + m.fordblks, "quiescent: arena %zu != uordblks %zu + fordblks %zu", m.arena,
              m.uordblks, m.fordblks);
    IT_ASSERT(m.arena == st.heap_bytes && m.hblkhd == st.mmapped_bytes && m.fordblks == st.heap_free_bytes,
              "quiescent: mallinfo2 arena %zu hblkhd %zu fordblks %zu, stats heap %llu mmapped %llu free %llu",
              m.arena, m.hblkhd, m.fordblks, (unsigned long long)st.heap_bytes,
              (unsigned long long)st.mmapped_bytes, (unsigned long long)st.heap_free_bytes);
    IT_ASSERT(m.uordblks + m.hblkhd == st.in_use_bytes, "quiescent: uordblks %zu + hblkhd %zu != in_use_bytes %llu",
              m.uordblks, m.hblkhd, (unsigned long long)st.in_use_bytes);
    /* live blocks and cached blocks are both in use from the arenas' side */
    IT_ASSERT(st.in_use_bytes >= (st.allocated_bytes - st.freed_bytes) + st.cached_bytes,
              "quiescent: in_use_bytes %llu < live bytes %llu + cached bytes %llu",
              (unsigned long long)st.in_use_bytes, (unsigned long long)(st.allocated_bytes - st.freed_bytes),
              (unsigned long long)st.cached_bytes);
    IT_ASSERT(st.allocs >= st.frees, "allocs %llu < frees %llu", (unsigned long long)st.allocs,
              (unsigned long long)st.frees);
}

TA_SUITE(stats_mt)
{
    TA_ADD(suite, test_conservation_across_threads);
    TA_ADD(suite, test_live_threads_counted);
    TA_ADD(suite, test_mallinfo2_consistent_under_threads);
}
