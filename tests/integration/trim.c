/* Integration suite "trim": memory goes back to the OS. The background
 * trimmer (thread "tarena-trim") returns freed working sets of the main and
 * of secondary arenas without malloc_trim, starts only when a free leaves
 * more than M_TRIM_THRESHOLD dirty, survives 200 forks, and never shrinks the
 * break below someone else's sbrk; TARENA_BACKGROUND_TRIM=0 trims inside
 * free as glibc does; malloc_trim(0) says whether it released anything.
 * Waits are polls with a deadline of 2 x TARENA_DECAY_MS plus a margin after
 * the free: the deadline turns a trimmer that never acts into a failure, it
 * is not a speed requirement. */
#include "envrun.h"
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

#define WS_BYTES (384 * IT_MIB) /* the working set of tests (a) and (b) */
#define RSS_SLACK (32 * IT_MIB) /* what may stay resident after it is freed */
#define NTHREADS 4
#define DEFAULT_PAD (128 * IT_KIB)
#define MARGIN_MS 3000u

/* Capped so that a huge TARENA_DECAY_MS in the environment fails the
 * suite in a minute rather than hanging it. */
static unsigned deadline_ms(void)
{
    unsigned d = 2 * er_decay_ms() + MARGIN_MS;
    return d < 60000 ? d : 60000;
}

static void default_thresholds(void)
{
    mallopt(M_TRIM_THRESHOLD, (int)DEFAULT_PAD);
    mallopt(M_TOP_PAD, (int)DEFAULT_PAD);
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

/* ---- working sets of small blocks (16 B .. 4 KiB), pointer arrays mmap'd
 * outside the heap; each block starts with a tag and is touched in full ---- */
typedef struct {
    unsigned char **p;
    size_t n, map_bytes;
    uint64_t seed;
} ws_t;

static size_t ws_size(it_rng_t *r)
{
    return it_range(r, 16, 4096);
}

/* 0, or -1 when malloc failed (everything allocated so far stays in w). */
static int ws_alloc(ws_t *w, size_t bytes, uint64_t seed)
{
    w->map_bytes = (bytes / 16 + 1) * sizeof *w->p;
    w->p = er_map(w->map_bytes);
    w->n = 0;
    w->seed = seed;
    if (!w->p)
        return -1;
    it_rng_t r = {seed};
    for (size_t total = 0; total < bytes;) {
        size_t sz = ws_size(&r);
        unsigned char *p = malloc(sz);
        if (!p)
            return -1;
        memset(p, (int)(w->n & 0xff), sz);
        uint64_t tag = seed ^ (uint64_t)w->n;
        memcpy(p, &tag, 8);
        w->p[w->n++] = p;
        total += sz;
    }
    return 0;
}

/* Frees the blocks in a shuffled order; returns how many had a bad tag. */
static size_t ws_free(ws_t *w)
{
    size_t bad = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t tag;
        memcpy(&tag, w->p[i], 8);
        bad += tag != (w->seed ^ (uint64_t)i);
    }
    it_rng_t r = {w->seed + 1};
    for (size_t i = w->n; i > 1; i--) {
        size_t j = (size_t)(it_rand(&r) % i);
        unsigned char *t = w->p[i - 1];
        w->p[i - 1] = w->p[j];
        w->p[j] = t;
    }
    for (size_t i = 0; i < w->n; i++)
        free(w->p[i]);
    er_unmap(w->p, w->map_bytes);
    w->p = NULL;
    w->n = 0;
    return bad;
}

/* Polls until the resident set is at most limit or timeout_ms passed;
 * returns the last reading. */
static size_t wait_rss_at_most(size_t limit, unsigned timeout_ms)
{
    uint64_t deadline = er_now_ms() + timeout_ms;
    size_t rss = er_rss_bytes();
    while (rss > limit && er_now_ms() < deadline) {
        er_sleep_ms(10);
        rss = er_rss_bytes();
    }
    return rss;
}

static unsigned wait_trim_thread(unsigned timeout_ms)
{
    uint64_t deadline = er_now_ms() + timeout_ms;
    unsigned n = er_threads_named("tarena-trim");
    while (!n && er_now_ms() < deadline) {
        er_sleep_ms(5);
        n = er_threads_named("tarena-trim");
    }
    return n;
}

/* Live blocks that must survive every purge untouched. */
#define NKEEP 256
typedef struct {
    void *p[NKEEP];
    size_t n[NKEEP];
} keep_t;

static void keep_alloc(keep_t *k, uint64_t seed)
{
    it_rng_t r = {seed};
    for (int i = 0; i < NKEEP; i++) {
        k->n[i] = it_logsize(&r, 64 * IT_KIB);
        k->p[i] = malloc(k->n[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(k->p[i]);
        it_fill(k->p[i], k->n[i], seed + (uint64_t)i);
    }
}

static int keep_check_free(keep_t *k, uint64_t seed)
{
    int bad = 0;
    for (int i = 0; i < NKEEP; i++) {
        ptrdiff_t off = it_check(k->p[i], k->n[i], seed + (uint64_t)i);
        if (off >= 0 && bad++ < 3)
            fprintf(stderr, "\n  live block %d (%zu bytes) corrupted at offset %td", i, k->n[i], off);
        free(k->p[i]);
    }
    return bad;
}

/* (a) One thread, the main arena: 384 MiB of small blocks allocated and
 * freed; without malloc_trim the resident set comes back to within 32 MiB of
 * where it started, live blocks stay intact, and the trimmer thread exists. */
static void test_main_thread_working_set(void)
{
    default_thresholds();
    keep_t keep;
    keep_alloc(&keep, 0xa11);
    ws_t w;
    size_t base = er_rss_bytes();
    int rc = ws_alloc(&w, WS_BYTES, 0xabcdef);
    size_t peak = er_rss_bytes();
    size_t bad = ws_free(&w);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    IT_ASSERT(bad == 0, "%zu blocks of the working set lost their tag", bad);
    IT_ASSERT(peak >= base + WS_BYTES / 2, "the working set was not resident: RSS %zu MiB -> %zu MiB", base >> 20,
              peak >> 20);
    size_t rss = wait_rss_at_most(base + RSS_SLACK, deadline_ms());
    IT_ASSERT(rss <= base + RSS_SLACK,
              "RSS %zu MiB -> %zu MiB with 384 MiB allocated -> %zu MiB %u ms after freeing it all "
              "(want <= %zu MiB; no malloc_trim call)",
              base >> 20, peak >> 20, rss >> 20, deadline_ms(), (base + RSS_SLACK) >> 20);
    IT_ASSERT(keep_check_free(&keep, 0xa11) == 0, "live blocks were changed while the working set was trimmed");
    unsigned threads = wait_trim_thread(1000);
    IT_ASSERT(threads == 1, "%u threads named tarena-trim, want 1", threads);
    ta_stats_t s = it_stats();
    IT_ASSERT(s.trimmer_running == 1, "ta_stats trimmer_running = %llu, want 1",
              (unsigned long long)s.trimmer_running);
    IT_ASSERT(s.trimmed_bytes > 0, "trimmed_bytes is 0 after the working set went back");
}

/* (b) Four threads that stay alive, each with 96 MiB: secondary arenas. */
typedef struct {
    pthread_barrier_t *bar;
    unsigned idx;
    int alloc_rc;
    size_t bad;
} worker_t;

static void *ws_worker(void *arg)
{
    worker_t *wk = arg;
    ws_t w;
    free(malloc(16));               /* bind to an arena now */
    pthread_barrier_wait(wk->bar);  /* 1: all alive, main reads the baseline */
    pthread_barrier_wait(wk->bar);  /* 2: go */
    wk->alloc_rc = ws_alloc(&w, WS_BYTES / NTHREADS, 0x5eed00 + wk->idx);
    pthread_barrier_wait(wk->bar);  /* 3: allocated, main reads the peak */
    pthread_barrier_wait(wk->bar);  /* 4: free */
    wk->bad = ws_free(&w);
    pthread_barrier_wait(wk->bar);  /* 5: freed */
    pthread_barrier_wait(wk->bar);  /* 6: main has measured; exit */
    return NULL;
}

static void test_threads_working_sets(void)
{
    default_thresholds();
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, NTHREADS + 1);
    pthread_t t[NTHREADS];
    worker_t wk[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++) {
        wk[i] = (worker_t){&bar, i, 0, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, ws_worker, &wk[i]), 0);
    }
    pthread_barrier_wait(&bar); /* 1 */
    size_t base = er_rss_bytes();
    pthread_barrier_wait(&bar); /* 2 */
    pthread_barrier_wait(&bar); /* 3 */
    size_t peak = er_rss_bytes();
    ta_stats_t during = it_stats();
    pthread_barrier_wait(&bar); /* 4 */
    pthread_barrier_wait(&bar); /* 5 */
    size_t rss = wait_rss_at_most(base + RSS_SLACK, deadline_ms());
    unsigned threads = wait_trim_thread(1000);
    ta_stats_t s = it_stats();
    pthread_barrier_wait(&bar); /* 6 */
    for (unsigned i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);

    for (unsigned i = 0; i < NTHREADS; i++) {
        IT_ASSERT(wk[i].alloc_rc == 0, "thread %u: malloc failed", i);
        IT_ASSERT(wk[i].bad == 0, "thread %u: %zu blocks lost their tag", i, wk[i].bad);
    }
    IT_ASSERT(during.arenas >= 2, "4 threads allocating at once use %llu arena(s)",
              (unsigned long long)during.arenas);
    IT_ASSERT(peak >= base + WS_BYTES / 2, "the working sets were not resident: RSS %zu MiB -> %zu MiB",
              base >> 20, peak >> 20);
    IT_ASSERT(rss <= base + RSS_SLACK,
              "RSS %zu MiB -> %zu MiB with 4 x 96 MiB allocated by 4 live threads -> %zu MiB %u ms after "
              "they freed it all (want <= %zu MiB; no malloc_trim call)",
              base >> 20, peak >> 20, rss >> 20, deadline_ms(), (base + RSS_SLACK) >> 20);
    IT_ASSERT(threads == 1, "%u threads named tarena-trim, want 1", threads);
    IT_ASSERT(s.trimmer_running == 1, "ta_stats trimmer_running = %llu, want 1",
              (unsigned long long)s.trimmer_running);
}

/* ---- runs of ta_env_helper ---- */
static int helper(er_result_t *r, const char *const env[], const char *const *args)
{
    const char *argv[32] = {TA_ENV_HELPER};
    size_t n = 1;
    for (; args && args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int rc = er_run(argv, env, 60, r);
    if (rc != 0 || !er_ok(r)) {
        char st[64];
        fprintf(stderr, "\n  ta_env_helper failed (%s); stdout:\n%s\n  stderr:\n%s\n",
                er_status_str(r->status, st, sizeof st), r->out ? r->out : "", r->err ? r->err : "");
    }
    return rc == 0 && er_ok(r);
}

static uint64_t report(const er_result_t *r, const char *key)
{
    uint64_t v = UINT64_MAX;
    if (!er_get_u64(r->out, key, &v))
        fprintf(stderr, "\n  no %s= in the helper's report:\n%s", key, r->out);
    return v;
}

/* A process that never frees more than M_TRIM_THRESHOLD at once never gets
 * a trimmer thread; one that does gets it at once (the control). */
static void test_no_trimmer_below_threshold(void)
{
    er_result_t r;
    /* 32 KiB of small blocks, a 60 KiB page-run block, a mapped 1 MiB block
     * (unmapped when freed): never more than 92 KiB dirty */
    const char *quiet[] = {"churn", "32k", "malloc", "mapped", "60k", "mapped", "1m", "sleep", "50", "trimmer", NULL};
    if (helper(&r, NULL, quiet)) {
        IT_ASSERT(report(&r, "trimmer_thread") == 0, "a process that freed 32 KiB of small blocks, a 60 KiB "
                  "and a mapped 1 MiB block has a tarena-trim thread");
        IT_ASSERT(report(&r, "trimmer_running") == 0, "trimmer_running != 0 in a process below the thresholds");
    } else {
        CU_FAIL("helper run failed");
    }
    er_free(&r);

    const char *busy[] = {"churn", "8m", "wait_trimmer", "2000", "trimmer", NULL};
    if (helper(&r, NULL, busy)) {
        IT_ASSERT(report(&r, "trimmer_thread") == 1, "no tarena-trim thread after freeing 8 MiB of small blocks");
        IT_ASSERT(report(&r, "trimmer_running") == 1, "trimmer_running != 1 after freeing 8 MiB of small blocks");
    } else {
        CU_FAIL("helper run failed");
    }
    er_free(&r);
}

/* TARENA_BACKGROUND_TRIM=0: glibc's behaviour. The break goes down inside
 * the free that leaves more than M_TRIM_THRESHOLD at the top (down to
 * M_TOP_PAD above where it was), runs of secondary arenas are purged at
 * once, and no tarena-trim thread ever appears. */
static void test_sync_trim_when_background_off(void)
{
    const char *env[] = {"TARENA_BACKGROUND_TRIM=0", "TARENA_MMAP_THRESHOLD=32m", NULL};
    const char *args[] = {"brk_medium", "16m", "0", "trimmer", NULL};
    er_result_t r;
    if (helper(&r, env, args)) {
        uint64_t grow = report(&r, "grow"), drop = report(&r, "drop");
        IT_ASSERT(report(&r, "in_heap") == 1, "malloc(16M) with the mmap threshold at 32M is not in the break heap");
        IT_ASSERT(grow >= 16 * IT_MIB && grow != UINT64_MAX, "the break grew by %llu for malloc(16M)",
                  (unsigned long long)grow);
        IT_ASSERT(drop >= 16 * IT_MIB - 2 * DEFAULT_PAD && drop <= grow,
                  "free(16M block at the top) moved the break down by %llu right away (it grew by %llu)",
                  (unsigned long long)drop, (unsigned long long)grow);
        uint64_t top = report(&r, "top_after");
        IT_ASSERT(top >= DEFAULT_PAD && top < DEFAULT_PAD + 64 * IT_KIB,
                  "right after free(16M block at the top) the free top is %llu bytes, want M_TOP_PAD (%zu)",
                  (unsigned long long)top, DEFAULT_PAD);
        IT_ASSERT(report(&r, "trimmer_thread") == 0, "tarena-trim thread exists with TARENA_BACKGROUND_TRIM=0");
        IT_ASSERT(report(&r, "trimmer_running") == 0, "trimmer_running != 0 with TARENA_BACKGROUND_TRIM=0");
    } else {
        CU_FAIL("helper run failed");
    }
    er_free(&r);

    /* Small blocks of a secondary arena: their free runs are purged beyond
     * M_TOP_PAD inside free. (The main heap's small-block slabs are not
     * checked here: the thread cache and each bin's spare slab keep the top
     * of the break busy, as glibc's tcache does when blocks are freed in
     * reverse order.) */
    const char *small[] = {"rss_thread", "64m", "trimmer", NULL};
    if (helper(&r, env, small)) {
        uint64_t base = report(&r, "rss_base"), peak = report(&r, "rss_peak"), after = report(&r, "rss_after");
        IT_ASSERT(peak >= base + 32 * IT_MIB, "thread working set not resident: RSS %llu -> %llu MiB",
                  (unsigned long long)base >> 20, (unsigned long long)peak >> 20);
        IT_ASSERT(after <= base + 16 * IT_MIB,
                  "a thread freed 64 MiB of small blocks (secondary arena): RSS %llu -> %llu -> %llu MiB right "
                  "after, want <= %llu MiB (synchronous purge)",
                  (unsigned long long)base >> 20, (unsigned long long)peak >> 20, (unsigned long long)after >> 20,
                  (unsigned long long)(base + 16 * IT_MIB) >> 20);
        IT_ASSERT(report(&r, "trimmer_thread") == 0, "tarena-trim thread exists with TARENA_BACKGROUND_TRIM=0");
    } else {
        CU_FAIL("helper run failed");
    }
    er_free(&r);
}

/* The default, background trimming, gives the same top back, from the
 * trimmer thread: within the deadline the break is within M_TOP_PAD of where
 * it started. */
static void test_background_trim_gives_top_back(void)
{
    char wait[32];
    snprintf(wait, sizeof wait, "%u", deadline_ms());
    const char *env[] = {"TARENA_MMAP_THRESHOLD=32m", NULL};
    const char *args[] = {"brk_medium", "16m", wait, "trimmer", NULL};
    er_result_t r;
    if (helper(&r, env, args)) {
        uint64_t grow = report(&r, "grow"), later = report(&r, "later_drop");
        IT_ASSERT(report(&r, "in_heap") == 1, "malloc(16M) with the mmap threshold at 32M is not in the break heap");
        IT_ASSERT(later >= 16 * IT_MIB - 2 * DEFAULT_PAD && later <= grow,
                  "%s ms after free(16M block at the top) the break is down by %llu (it grew by %llu)", wait,
                  (unsigned long long)later, (unsigned long long)grow);
        uint64_t top = report(&r, "top_later");
        IT_ASSERT(top >= DEFAULT_PAD && top < DEFAULT_PAD + 64 * IT_KIB,
                  "%s ms after free(16M block at the top) the free top is %llu bytes, want M_TOP_PAD (%zu)", wait,
                  (unsigned long long)top, DEFAULT_PAD);
        IT_ASSERT(report(&r, "trimmer_thread") == 1, "no tarena-trim thread after freeing a 16 MiB top");
    } else {
        CU_FAIL("helper run failed");
    }
    er_free(&r);
}

/* TARENA_MADV_FREE=1: purged pages are given back lazily (MADV_FREE): they
 * leave the RSS as counted here (Rss - LazyFree) just the same, and show up
 * in LazyFree until the kernel reclaims them. With background trimming and
 * with synchronous trimming. */
static void test_madv_free_purging(void)
{
    char wait[32];
    snprintf(wait, sizeof wait, "%u", deadline_ms());
    static const char *const modes[] = {"TARENA_BACKGROUND_TRIM=1", "TARENA_BACKGROUND_TRIM=0"};
    for (int m = 0; m < 2; m++) {
        const char *env[] = {modes[m], "TARENA_MADV_FREE=1", NULL};
        const char *args[] = {"rss_thread_wait", "64m", m == 0 ? wait : "0", NULL};
        er_result_t r;
        if (helper(&r, env, args)) {
            uint64_t base = report(&r, "rss_base"), peak = report(&r, "rss_peak"), after = report(&r, "rss_after");
            IT_ASSERT(peak >= base + 32 * IT_MIB, "[%s] working set not resident: RSS %llu -> %llu MiB", modes[m],
                      (unsigned long long)base >> 20, (unsigned long long)peak >> 20);
            IT_ASSERT(after <= base + 16 * IT_MIB,
                      "[%s TARENA_MADV_FREE=1] a thread freed 64 MiB: RSS - LazyFree %llu -> %llu -> %llu MiB %s ms "
                      "later, want <= %llu MiB",
                      modes[m], (unsigned long long)base >> 20, (unsigned long long)peak >> 20,
                      (unsigned long long)after >> 20, m == 0 ? wait : "0", (unsigned long long)(base >> 20) + 16);
            IT_ASSERT(report(&r, "lazyfree") >= 16 * IT_MIB,
                      "[%s TARENA_MADV_FREE=1] only %llu KiB LazyFree after purging 64 MiB: MADV_FREE not used?",
                      modes[m], (unsigned long long)report(&r, "lazyfree") >> 10);
        } else {
            CU_FAIL("helper run failed");
        }
        er_free(&r);
    }
    /* the default purges with MADV_DONTNEED: nothing lazy */
    const char *env[] = {"TARENA_BACKGROUND_TRIM=0", NULL};
    const char *args[] = {"rss_thread", "64m", NULL};
    er_result_t r;
    if (helper(&r, env, args))
        IT_ASSERT(report(&r, "lazyfree") < 4 * IT_MIB, "%llu KiB LazyFree with TARENA_MADV_FREE=0",
                  (unsigned long long)report(&r, "lazyfree") >> 10);
    else
        CU_FAIL("helper run failed");
    er_free(&r);
}

/* malloc_trim(0) after freeing a big working set releases memory (1), and a
 * second call finds nothing left (0). In a helper whose trimmer cannot get
 * there first (decay one hour, top trim off, or no background trimming),
 * and in this process with the trim threshold raised meanwhile. */
static void test_malloc_trim_twice(void)
{
    static const char *const envs[][3] = {
        {"TARENA_DECAY_MS=3600000", "TARENA_TRIM_THRESHOLD=1g", NULL},
        {"TARENA_BACKGROUND_TRIM=0", "TARENA_TRIM_THRESHOLD=1g", NULL},
    };
    const char *args[] = {"malloc_trim", "64m", NULL};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        er_result_t r;
        if (helper(&r, envs[i], args)) {
            IT_ASSERT(report(&r, "trim1") == 1, "[%s %s] malloc_trim(0) after freeing 64 MiB returned %llu, want 1",
                      envs[i][0], envs[i][1], (unsigned long long)report(&r, "trim1"));
            IT_ASSERT(report(&r, "trim2") == 0, "[%s %s] second malloc_trim(0) returned %llu, want 0", envs[i][0],
                      envs[i][1], (unsigned long long)report(&r, "trim2"));
        } else {
            CU_FAIL("helper run failed");
        }
        er_free(&r);
    }

    CU_ASSERT_EQUAL(mallopt(M_TRIM_THRESHOLD, INT_MAX), 1);
    ws_t w;
    size_t base = er_rss_bytes();
    int rc = ws_alloc(&w, 64 * IT_MIB, 0x7717);
    size_t bad = ws_free(&w);
    int r1 = malloc_trim(0);
    size_t rss = er_rss_bytes();
    int r2 = malloc_trim(0);
    default_thresholds();
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(bad, 0);
    IT_ASSERT(r1 == 1, "malloc_trim(0) after freeing 64 MiB returned %d, want 1", r1);
    IT_ASSERT(r2 == 0, "second malloc_trim(0) returned %d, want 0 (nothing left)", r2);
    IT_ASSERT(rss <= base + 16 * IT_MIB, "RSS %zu MiB before, %zu MiB right after malloc_trim(0)", base >> 20,
              rss >> 20);
}

/* ---- 200 forks while the trimmer works ---- */
#define NFORKS 200
#define TRIM_CHILD_EVERY 25

enum { CH_OK = 0, CH_RSS = 10, CH_NO_TRIMMER = 11, CH_NOMEM = 12, CH_CORRUPT = 13, CH_NOT_RESIDENT = 14 };

static int trimming_child(unsigned i)
{
    size_t base = er_rss_bytes();
    ws_t w;
    if (ws_alloc(&w, 64 * IT_MIB, 0xc0ffee + i) != 0)
        return CH_NOMEM;
    size_t peak = er_rss_bytes();
    if (ws_free(&w))
        return CH_CORRUPT;
    if (peak < base + 32 * IT_MIB)
        return CH_NOT_RESIDENT;
    size_t rss = wait_rss_at_most(base + 16 * IT_MIB, deadline_ms());
    if (rss > base + 16 * IT_MIB) {
        dprintf(2, "\n  fork child %u: RSS %zu -> %zu -> %zu MiB\n", i, base >> 20, peak >> 20, rss >> 20);
        return CH_RSS;
    }
    return wait_trim_thread(1000) == 1 ? CH_OK : CH_NO_TRIMMER;
}

static void *child_thread(void *arg)
{
    void *p = malloc((size_t)(uintptr_t)arg);
    if (p)
        memset(p, 1, (size_t)(uintptr_t)arg);
    free(p);
    return p;
}

static int plain_child(unsigned i)
{
    it_rng_t r = {i * 77 + 1};
    enum { N = 200 };
    static void *p[N];
    static size_t n[N];
    for (int k = 0; k < N; k++) {
        n[k] = it_logsize(&r, 64 * IT_KIB);
        p[k] = malloc(n[k]);
        if (!p[k])
            return CH_NOMEM;
        it_fill(p[k], n[k], (uint64_t)k);
    }
    void *big = malloc(IT_MIB + i);
    unsigned char *z = calloc(1, 300 * IT_KIB);
    if (!big || !z)
        return CH_NOMEM;
    if (it_check_byte(z, 300 * IT_KIB, 0) >= 0)
        return CH_CORRUPT;
    memset(big, 2, IT_MIB);
    int bad = 0;
    for (int k = 0; k < N; k++) {
        bad += it_check(p[k], n[k], (uint64_t)k) >= 0;
        free(p[k]);
    }
    free(big);
    free(z);
    if (i % 10 == 3) {
        pthread_t t;
        if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(200 * IT_KIB)) != 0)
            return CH_NOMEM;
        pthread_join(t, NULL);
    }
    return bad ? CH_CORRUPT : CH_OK;
}

static int stop_churn;

static void *churn_thread(void *arg)
{
    unsigned long *rounds = arg;
    while (!__atomic_load_n(&stop_churn, __ATOMIC_ACQUIRE)) {
        ws_t w;
        if (ws_alloc(&w, 4 * IT_MIB, 0xc4 + *rounds) != 0) {
            ws_free(&w);
            break;
        }
        void *mid = malloc(200 * IT_KIB);
        ws_free(&w);
        free(mid);
        (*rounds)++;
        er_sleep_ms(2); /* leave the second core to the forks and children */
    }
    return NULL;
}

static void test_forks_while_trimming(void)
{
    default_thresholds();
    unsigned long rounds = 0;
    pthread_t churn;
    __atomic_store_n(&stop_churn, 0, __ATOMIC_RELEASE);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&churn, NULL, churn_thread, &rounds), 0);
    /* Watchdog for this process: a fork that deadlocks ends the run. */
    signal(SIGALRM, SIG_DFL);
    alarm(240);
    pid_t pids[NFORKS];
    int status[NFORKS];
    unsigned live = 0, forked = 0;
    for (unsigned i = 0; i < NFORKS; i++) {
        ws_t w;
        int rc = ws_alloc(&w, IT_MIB, 0xf0 + i); /* > M_TRIM_THRESHOLD: wakes the trimmer */
        void *mid = malloc(300 * IT_KIB);
        ws_free(&w); /* the trimmer has work: the fork races with it */
        free(mid);
        if (rc != 0)
            break;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            _exit(i % TRIM_CHILD_EVERY == 7 ? trimming_child(i) : plain_child(i));
        }
        if (pid < 0)
            break;
        pids[i] = pid;
        status[i] = -1;
        forked++;
        live++;
        for (unsigned k = 0; k <= i; k++) {
            int st;
            if (status[k] == -1 && waitpid(pids[k], &st, WNOHANG) == pids[k]) {
                status[k] = st;
                live--;
            }
        }
    }
    __atomic_store_n(&stop_churn, 1, __ATOMIC_RELEASE);
    pthread_join(churn, NULL);
    uint64_t deadline = er_now_ms() + 90000;
    while (live && er_now_ms() < deadline) {
        for (unsigned k = 0; k < forked; k++)
            if (status[k] == -1) {
                int st;
                if (waitpid(pids[k], &st, WNOHANG) == pids[k]) {
                    status[k] = st;
                    live--;
                }
            }
        if (live)
            er_sleep_ms(10);
    }
    for (unsigned k = 0; k < forked; k++)
        if (status[k] == -1) {
            kill(pids[k], SIGKILL);
            waitpid(pids[k], &status[k], 0);
            fprintf(stderr, "\n  fork child %u still running after the deadline (killed)", k);
            status[k] = -2;
        }
    alarm(0);
    IT_ASSERT(forked == NFORKS, "only %u of %d forks happened (fork or malloc failed)", forked, NFORKS);
    IT_ASSERT(rounds > 0, "the churn thread did no round");
    unsigned failed = 0;
    for (unsigned k = 0; k < forked; k++) {
        if (status[k] != -2 && WIFEXITED(status[k]) && WEXITSTATUS(status[k]) == 0)
            continue;
        char st[64];
        if (failed++ < 10)
            fprintf(stderr, "\n  fork child %u (%s): %s", k, k % TRIM_CHILD_EVERY == 7 ? "trimming" : "plain",
                    status[k] == -2 ? "hung" : er_status_str(status[k], st, sizeof st));
    }
    IT_ASSERT(failed == 0,
              "%u of %u fork children failed (exit 10: RSS did not drop in the child, 11: no trimmer in the "
              "child, 12: out of memory, 13: corrupted blocks, 14: working set not resident)",
              failed, forked);
}

/* ---- a foreign sbrk between tarena's own ---- */
/* In a fresh process (this one's break heap is already shaped by the tests
 * above), with background trimming and with synchronous trimming; see
 * foreign_sbrk() in env_helper.c for the steps. */
static void test_foreign_sbrk(void)
{
    char wait[32];
    snprintf(wait, sizeof wait, "%u", deadline_ms());
    static const char *const modes[] = {"TARENA_BACKGROUND_TRIM=1", "TARENA_BACKGROUND_TRIM=0"};
    for (int m = 0; m < 2; m++) {
        const char *env[] = {modes[m], "TARENA_MMAP_THRESHOLD=32m", NULL};
        /* synchronous mode has no trimmer to wait for */
        const char *args[] = {"foreign_sbrk", m == 0 ? wait : "0", NULL};
        er_result_t r;
        if (!helper(&r, env, args)) {
            CU_FAIL("helper run failed");
            er_free(&r);
            continue;
        }
        const char *mode = modes[m];
        IT_ASSERT(report(&r, "a_in_heap") == 1, "[%s] malloc(8M) did not grow the break heap", mode);
        IT_ASSERT(report(&r, "a_intact") == 1, "[%s] block A changed by the foreign sbrk above it", mode);
        IT_ASSERT(report(&r, "moved") == 0,
                  "[%s] the break moved after freeing tarena's top below a foreign sbrk (it must not shrink)", mode);
        if (m == 0)
            IT_ASSERT(report(&r, "purged") >= 4 * IT_MIB,
                      "[%s] the trimmer did not purge the freed 8 MiB below the foreign region in %s ms "
                      "(purged %llu bytes)",
                      mode, wait, (unsigned long long)report(&r, "purged"));
        IT_ASSERT(report(&r, "moved_by_trim") == 0, "[%s] malloc_trim(0) moved the break below a foreign sbrk", mode);
        IT_ASSERT(report(&r, "trim_rc") <= 1, "[%s] malloc_trim returned %llu", mode,
                  (unsigned long long)report(&r, "trim_rc"));
        IT_ASSERT(report(&r, "foreign_intact") == 1, "[%s] the foreign sbrk region was changed", mode);
        IT_ASSERT(report(&r, "b_above") == 1, "[%s] malloc(24M) after the foreign sbrk is not above it", mode);
        IT_ASSERT(report(&r, "b_intact") == 1, "[%s] block B above the foreign region corrupted", mode);
        IT_ASSERT(report(&r, "below") == 0, "[%s] the break went below the end of the foreign region", mode);
        IT_ASSERT(report(&r, "above_end") <= 2 * DEFAULT_PAD,
                  "[%s] the free 24 MiB top above the foreign region was not given back in %s ms (the break stays "
                  "%llu bytes above the foreign region)",
                  mode, wait, (unsigned long long)report(&r, "above_end"));
        IT_ASSERT(report(&r, "foreign_intact_after") == 1, "[%s] the foreign region changed after the trim above it",
                  mode);
        IT_ASSERT(report(&r, "keep_intact") == 1, "[%s] live blocks below the foreign region were changed", mode);
        IT_ASSERT(report(&r, "reuse_ok") == 1, "[%s] memory below the foreign region not reusable", mode);
        er_free(&r);
    }
}

TA_SUITE(trim)
{
    TA_ADD(suite, test_main_thread_working_set);
    TA_ADD(suite, test_threads_working_sets);
    TA_ADD(suite, test_no_trimmer_below_threshold);
    TA_ADD(suite, test_sync_trim_when_background_off);
    TA_ADD(suite, test_background_trim_gives_top_back);
    TA_ADD(suite, test_madv_free_purging);
    TA_ADD(suite, test_malloc_trim_twice);
    TA_ADD(suite, test_forks_while_trimming);
    TA_ADD(suite, test_foreign_sbrk);
}
