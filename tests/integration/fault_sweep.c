/* Integration suite "fault_sweep": one fixed workload (every allocation entry
 * point, realloc across slab / page run / own mapping, malloc_trim, in the
 * main thread and in a new thread) run once for each OS call it makes, with
 * that call failing, and once with every call from it on failing. Each run
 * checks NULL+ENOMEM semantics, errno, contents, and recovery afterwards. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

/* The sweep runs in this binary re-executed with the background trimmer off
 * (its OS calls would land at random points of the count) and a fixed mmap
 * threshold (the dynamic one would move blocks between heap and mappings
 * from run to run); every run is then a fork of that one process, so each
 * starts from the same state and makes nearly the same OS calls in the same
 * order until the injected failure (which idle run malloc_trim purges first
 * follows the clock, so counts vary by a few calls: the sweep goes one past
 * the count). */
#define SWEEP_ENV "TA_IT_FAULT_SWEEP"
/* Debug aid: TA_IT_FAULT_SWEEP_ONLY="ops:n:count" runs that single case in
 * the re-executed process itself (no fork), for gdb. */
#define SWEEP_ONLY_ENV "TA_IT_FAULT_SWEEP_ONLY"

enum { NSLOT = 48, STEPS = 160, HANDOFF = 8, SENTINEL = 0x7e57 };
#define SPOT 64
#define STRIDE (3 * 4096)

/* What a forked run tells the driver, in a shared mapping. */
typedef struct {
    unsigned long calls;  /* OS calls of the chosen kinds during the workload */
    unsigned long nulls;  /* allocation calls that failed (NULL / ENOMEM) */
    unsigned long ops;    /* allocator calls made */
    unsigned long errors; /* broken promises */
    char msg[320];        /* the first one */
} sweep_out_t;

static sweep_out_t *out; /* shared with the forked runs */

static void note(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const char *who, const char *fmt, ...)
{
    /* Only one thread runs the workload at a time: no locking needed. */
    if (out->errors++ == 0) {
        int n = snprintf(out->msg, sizeof out->msg, "%s: ", who);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->msg + n, sizeof out->msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* ---- patterns: whole small blocks; in larger ones SPOT bytes every
 * STRIDE bytes (three pages: an odd multiple, so every page position of a
 * moved block gets sampled over the run) and the last SPOT bytes, so a
 * realloc that copied the wrong pages or too little is seen without
 * faulting in megabytes per run ---- */

static void pat_fill(unsigned char *p, size_t n, uint64_t id)
{
    if (n <= STRIDE) {
        it_fill(p, n, id);
        return;
    }
    size_t o = 0;
    for (; o < n; o += STRIDE)
        it_fill(p + o, n - o < SPOT ? n - o : SPOT, id ^ o);
    o -= STRIDE; /* last spot */
    if (n - SPOT >= o + SPOT)
        it_fill(p + n - SPOT, SPOT, ~id);
}

/* Offset of the first bad byte among the first m bytes of a block of n bytes
 * filled by pat_fill(p, n, id), or -1. */
static ptrdiff_t pat_check(const unsigned char *p, size_t n, size_t m, uint64_t id)
{
    if (m > n)
        m = n;
    if (n <= STRIDE)
        return it_check(p, m, id);
    size_t o = 0;
    for (; o < m; o += STRIDE) {
        size_t len = n - o < SPOT ? n - o : SPOT;
        if (len > m - o)
            len = m - o;
        ptrdiff_t bad = it_check(p + o, len, id ^ o);
        if (bad >= 0)
            return (ptrdiff_t)o + bad;
    }
    size_t last = ((n - 1) / STRIDE) * STRIDE;
    if (m == n && n - SPOT >= last + SPOT) {
        ptrdiff_t bad = it_check(p + n - SPOT, SPOT, ~id);
        if (bad >= 0)
            return (ptrdiff_t)(n - SPOT) + bad;
    }
    return -1;
}

/* ---- the workload ---- */


typedef struct {
    const char *who;
    it_rng_t r;
    it_blk_t b[NSLOT];
    uint64_t next_id;
} wl_t;

/* Sizes of the three homes (the mmap threshold is fixed at 128 KiB). */
static size_t size_small(it_rng_t *r)
{
    return it_logsize(r, 4096) + (it_range(r, 0, 7) == 0 ? it_range(r, 4096, 30000) : 0);
}
static size_t size_pages(it_rng_t *r)
{
    return it_range(r, 33 * IT_KIB, 120 * IT_KIB);
}
static size_t size_mapped(it_rng_t *r)
{
    return it_range(r, 130 * IT_KIB, 600 * IT_KIB);
}
static size_t size_any(it_rng_t *r)
{
    unsigned k = (unsigned)it_range(r, 0, 9);
    return k < 6 ? size_small(r) : k < 9 ? size_pages(r) : size_mapped(r);
}

/* A call that should not change errno left it alone. */
static void check_errno_kept(wl_t *w, const char *call, size_t n)
{
    if (errno != SENTINEL)
        note(w->who, "%s(%zu) succeeded but changed errno to %d", call, n, errno);
}

/* Stores a new block (or notes the failure) after an allocation call. */
static void took(wl_t *w, it_blk_t *b, void *p, size_t n, const char *call, int zeroed, size_t align)
{
    out->ops++;
    if (!p) {
        out->nulls++;
        if (errno != ENOMEM)
            note(w->who, "%s(%zu) = NULL with errno %d, not ENOMEM", call, n, errno);
        return;
    }
    check_errno_kept(w, call, n);
    if (align && !it_is_aligned(p, align))
        note(w->who, "%s(%zu, align %zu) = %p: misaligned", call, n, align, p);
    if (zeroed && it_check_byte(p, n, 0) >= 0)
        note(w->who, "calloc(%zu) = %p: not zeroed at %td", n, p, it_check_byte(p, n, 0));
    b->p = p;
    b->n = n;
    b->id = w->next_id++;
    pat_fill(b->p, b->n, b->id);
}

static void drop(wl_t *w, it_blk_t *b)
{
    ptrdiff_t bad = pat_check(b->p, b->n, b->n, b->id);
    if (bad >= 0)
        note(w->who, "block %p (%zu bytes) corrupted at byte %td", (void *)b->p, b->n, bad);
    errno = SENTINEL;
    free(b->p);
    out->ops++;
    if (errno != SENTINEL)
        note(w->who, "free(%zu bytes) changed errno to %d", b->n, errno);
    b->p = NULL;
}

static void do_alloc(wl_t *w, it_blk_t *b)
{
    static const size_t aligns[] = {32, 256, 4096, 65536};
    unsigned k = (unsigned)it_range(&w->r, 0, 19);
    size_t n = size_any(&w->r);
    size_t align = aligns[it_range(&w->r, 0, 3)];
    errno = SENTINEL;
    if (k < 9) {
        took(w, b, malloc(n), n, "malloc", 0, 0);
    } else if (k < 11) {
        n = n > 300 * IT_KIB ? n / 4 : n; /* whole block checked for zeros: keep it cheap */
        took(w, b, calloc(1, n), n, "calloc", 1, 0);
    } else if (k < 13) {
        took(w, b, memalign(align, n), n, "memalign", 0, align);
    } else if (k < 15) {
        void *p = &w->b; /* not a block: must stay so on failure */
        int rc = posix_memalign(&p, align, n);
        out->ops++;
        if (rc == 0) {
            out->ops--; /* took() counts it */
            took(w, b, p, n, "posix_memalign", 0, align);
        } else {
            out->nulls++;
            if (rc != ENOMEM)
                note(w->who, "posix_memalign(%zu, %zu) = %d, not ENOMEM", align, n, rc);
            if (p != &w->b)
                note(w->who, "failed posix_memalign(%zu, %zu) wrote *memptr", align, n);
        }
    } else if (k < 17) {
        took(w, b, aligned_alloc(align, n), n, "aligned_alloc", 0, align);
    } else {
        took(w, b, realloc(NULL, n), n, "realloc(NULL)", 0, 0);
    }
}

/* Grow, shrink or move a block to another home; the old one must survive a
 * failure untouched. */
static void do_realloc(wl_t *w, it_blk_t *b)
{
    unsigned k = (unsigned)it_range(&w->r, 0, 5);
    size_t n;
    switch (k) {
    case 0: n = b->n + it_range(&w->r, 1, b->n < 64 ? 64 : b->n); break;          /* grow */
    case 1: n = b->n * it_range(&w->r, 2, 8); break;                            /* grow a lot */
    case 2: n = b->n / it_range(&w->r, 2, 4) + 1; break;                        /* shrink */
    case 3: n = b->n > 16 ? b->n - it_range(&w->r, 1, b->n / 8 + 1) : b->n; break; /* trim a little */
    default: n = size_any(&w->r); break;                                        /* anywhere */
    }
    if (n > IT_MIB)
        n = IT_MIB;
    errno = SENTINEL;
    unsigned char *q = realloc(b->p, n);
    out->ops++;
    if (!q) {
        out->nulls++;
        if (errno != ENOMEM)
            note(w->who, "realloc(%zu -> %zu) = NULL with errno %d, not ENOMEM", b->n, n, errno);
        ptrdiff_t bad = pat_check(b->p, b->n, b->n, b->id);
        if (bad >= 0)
            note(w->who, "failed realloc(%zu -> %zu) changed the old block at byte %td", b->n, n, bad);
        return;
    }
    check_errno_kept(w, "realloc", n);
    ptrdiff_t bad = pat_check(q, b->n, n, b->id);
    if (bad >= 0)
        note(w->who, "realloc(%zu -> %zu) lost the contents at byte %td", b->n, n, bad);
    b->p = q;
    b->n = n;
    b->id = w->next_id++;
    pat_fill(b->p, b->n, b->id);
}

static void do_trim(wl_t *w)
{
    errno = SENTINEL;
    malloc_trim(0);
    out->ops++;
    if (errno != SENTINEL)
        note(w->who, "malloc_trim(0) changed errno to %d", errno);
}

/* STEPS random operations over NSLOT slots; every 40th a malloc_trim. */
static void workload_steps(wl_t *w)
{
    for (int s = 0; s < STEPS; s++) {
        it_blk_t *b = &w->b[it_range(&w->r, 0, NSLOT - 1)];
        if (s % 40 == 39)
            do_trim(w);
        if (!b->p)
            do_alloc(w, b);
        else if (it_range(&w->r, 0, 9) < 4)
            drop(w, b);
        else
            do_realloc(w, b);
    }
}

static void *second_thread(void *arg)
{
    wl_t *w = arg;
    workload_steps(w);
    /* The first HANDOFF slots outlive the thread: main frees them (blocks of
     * an exited thread's arena, its cache torn down meanwhile). */
    for (int i = HANDOFF; i < NSLOT; i++)
        if (w->b[i].p)
            drop(w, &w->b[i]);
    return NULL;
}

/* Main thread: steps; a new thread runs its own steps; main frees what the
 * thread left and runs more steps; everything is freed; trim. */
static void workload(void)
{
    static wl_t m, t;
    memset(&m, 0, sizeof m);
    memset(&t, 0, sizeof t);
    m.who = "main thread";
    m.r.s = 0x5EE9;
    m.next_id = 1;
    t.who = "second thread";
    t.r.s = 0x7EAD;
    t.next_id = 1u << 20;
    workload_steps(&m);
    pthread_t th;
    int rc = it_thread_start(&th, second_thread, &t, 0);
    if (rc != 0) {
        note("main thread", "pthread_create failed: %d", rc);
    } else {
        pthread_join(th, NULL);
        for (int i = 0; i < HANDOFF; i++)
            if (t.b[i].p)
                drop(&m, &t.b[i]);
    }
    workload_steps(&m);
    for (int i = 0; i < NSLOT; i++)
        if (m.b[i].p)
            drop(&m, &m.b[i]);
    do_trim(&m);
}

/* After the fault is cleared: each home serves again. */
static void recovery(void)
{
    static const size_t sizes[] = {8, 700, 20000, 64 * IT_KIB, 300 * IT_KIB, 4 * IT_MIB};
    void *p[sizeof sizes / sizeof sizes[0] + 2];
    size_t k = 0;
    for (; k < sizeof sizes / sizeof sizes[0]; k++) {
        p[k] = malloc(sizes[k]);
        if (!p[k])
            note("recovery", "malloc(%zu) failed after the fault was cleared", sizes[k]);
        else
            memset(p[k], 0xa5, sizes[k]);
    }
    p[k] = memalign(65536, 100000);
    if (!p[k++])
        note("recovery", "memalign(64K, 100000) failed after the fault was cleared");
    p[k] = calloc(1000, 1000);
    if (!p[k++])
        note("recovery", "calloc(1000, 1000) failed after the fault was cleared");
    for (size_t i = 0; i < k; i++)
        free(p[i]);
}

static unsigned long live_blocks(void)
{
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    if (ta_stats_get(&st) != 0)
        note("stats", "ta_stats_get failed");
    return (unsigned long)(st.allocs - st.frees);
}

/* One run: arm the fault, run the workload, clear the fault, check recovery
 * and the allocs - frees balance (the workload frees all it allocates).
 * count 0: no fault, just count the OS calls. */
static int run_case(unsigned ops, long skip, long count)
{
    unsigned long live0 = live_blocks();
    unsigned long calls0 = ta_test_os_calls(ops);
    if (count)
        ta_test_os_fail(ops, skip, count);
    workload();
    ta_test_os_fail(0, 0, 0);
    out->calls = ta_test_os_calls(ops) - calls0;
    recovery();
    unsigned long live1 = live_blocks();
    if (live1 != live0)
        note("stats", "allocs - frees went from %lu to %lu over a run that freed everything", live0, live1);
    return out->errors ? 1 : 0;
}

typedef struct {
    const char *name;
    unsigned ops;
    int may_fail; /* whether failures of these calls may make an allocation fail */
    long cap;     /* most runs per mode; a larger call count is strided */
} opset_t;

/* sbrk has the mmap fallback and madvise only gives memory back: their
 * failures must never fail an allocation. */
static const opset_t opsets[] = {
    {"all", TA_OS_ALL, 1, 150},
    {"sbrk", TA_OS_SBRK, 0, 60},
    {"mmap", TA_OS_MMAP, 1, 60},
    {"mremap", TA_OS_MREMAP, 1, 60},
    {"madvise", TA_OS_MADVISE, 0, 30},
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0 && write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0)
        return;
}

/* Forks one run; 0 when it passed, 1 when it failed, 2 when it hung (and
 * says why, for the first few). */
static int fork_case(const opset_t *os, long n, long count, unsigned *reported)
{
    memset(out, 0, sizeof *out);
    pid_t pid = fork();
    if (pid < 0) {
        say("fork failed\n");
        return 1;
    }
    if (pid == 0) {
        alarm(5); /* a run takes milliseconds: this is a hang */
        _exit(run_case(os->ops, n - 1, count));
    }
    /* A plain blocking wait (polling would add latency to every run): the
     * child's alarm() ends a hang. */
    int st = 0, w = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            w = -1;
            break;
        }
    int ok = w == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (ok && !os->may_fail && count && out->nulls) {
        ok = 0;
        snprintf(out->msg, sizeof out->msg, "%lu allocation calls failed, yet only %s calls were failing",
                 out->nulls, os->name);
    }
    if (!ok && (*reported)++ < 3) {
        char why[64];
        say("FAIL %s call #%ld %s: %s%s: %s\n  (rerun alone: %s=1 TARENA_BACKGROUND_TRIM=0 "
            "TARENA_MMAP_THRESHOLD=131072 %s=%u:%ld:%ld ta_integration_tests fault_sweep)\n",
            os->name, n, count == 1 ? "failing" : "and all after it failing", it_status_str(st, why, sizeof why),
            WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (hung)" : "", out->msg, SWEEP_ENV, SWEEP_ONLY_ENV,
            os->ops, n, count);
    }
    if (ok)
        return 0;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? 2 : 1;
}

static void *idle_thread(void *arg)
{
    return arg;
}

static int sweep_main(void)
{
    out = mmap(NULL, sizeof *out, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED)
        return 10;
    /* One thread made and joined first: glibc caches its stack, so the
     * workload's thread reuses it and glibc allocates nothing for it (a
     * fresh stack gets a calloc()ed DTV that outlives the run). */
    pthread_t th;
    if (it_thread_start(&th, idle_thread, NULL, 0) != 0)
        return 12;
    pthread_join(th, NULL);
    const char *only = getenv(SWEEP_ONLY_ENV);
    if (only && *only) {
        unsigned ops = 0;
        long n = 0, count = 0;
        if (sscanf(only, "%u:%ld:%ld", &ops, &n, &count) != 3)
            return 11;
        int rc = run_case(ops, n - 1, count);
        say("ops %u call #%ld count %ld: %lu calls, %lu nulls, %lu errors: %s\n", ops, n, count, out->calls,
            out->nulls, out->errors, out->msg);
        return rc;
    }

    unsigned failed = 0, reported = 0;
    unsigned long runs = 0, nulls = 0;
    for (size_t i = 0; i < sizeof opsets / sizeof opsets[0]; i++) {
        const opset_t *os = &opsets[i];
        if (fork_case(os, 0, 0, &reported)) /* no fault: count the calls */
            return 13;
        unsigned long kcalls = out->calls, calls = out->ops;
        long stride = (long)kcalls > os->cap ? ((long)kcalls + os->cap - 1) / os->cap : 1;
        unsigned long before = nulls;
        for (int mode = 0; mode < 2; mode++) {
            /* n = k + 1: one past the last call, nothing fails */
            for (long n = 1; n <= (long)kcalls + 1; n += stride) {
                int rc = fork_case(os, n, mode == 0 ? 1 : -1, &reported);
                nulls += out->nulls;
                runs++;
                failed += rc != 0;
                if (rc == 2) { /* each hang costs its watchdog: one per mode is enough */
                    say("(rest of this mode skipped after a hang)\n");
                    break;
                }
            }
        }
        say("%s: %lu OS calls per workload (%lu allocator calls), swept with stride %ld; %lu allocation "
            "calls failed\n", os->name, kcalls, calls, stride, nulls - before);
        if (os->ops == TA_OS_ALL && nulls == before) {
            say("FAIL no allocation ever failed while OS calls failed: the sweep tested nothing\n");
            failed++;
        }
    }
    say("%lu runs, %u failed\n", runs, failed);
    return failed ? 1 : 0;
}

__attribute__((constructor)) static void sweep_entry(void)
{
    const char *v = getenv(SWEEP_ENV);
    if (v && *v == '1')
        _exit(sweep_main());
}

static int exec_sweep(void *arg)
{
    (void)arg;
    char *argv[] = {(char *)"ta_integration_tests", (char *)"fault_sweep", NULL};
    if (setenv(SWEEP_ENV, "1", 1) || setenv("TARENA_BACKGROUND_TRIM", "0", 1) ||
        setenv("TARENA_MMAP_THRESHOLD", "131072", 1))
        return 20;
    execv("/proc/self/exe", argv);
    return 21;
}

static void test_enomem_sweep(void)
{
    it_child_t c;
    char why[64];
    CU_ASSERT_EQUAL_FATAL(it_run_child(exec_sweep, NULL, 1, 240, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "sweep process ended with %s:\n%s",
              it_status_str(c.status, why, sizeof why), c.out);
}

/* The sweep's first finding, on its own: madvise failing (as it does on
 * mlock'd pages, EINVAL) while malloc_trim purges. The run it could not purge
 * goes back dirty and must not be retried forever. */
static int trim_madvise_child(void *arg)
{
    (void)arg;
    enum { N = 32 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(64 * IT_KIB);
        if (!p[i])
            return 2;
        memset(p[i], 1, 64 * IT_KIB);
    }
    for (int i = 0; i < N; i += 2) /* holes: dirty free runs below the top */
        free(p[i]);
    ta_test_os_fail(TA_OS_MADVISE, 0, -1);
    malloc_trim(0);
    ta_test_os_fail(0, 0, 0);
    for (int i = 1; i < N; i += 2)
        free(p[i]);
    malloc_trim(0);
    return 0;
}

static void test_malloc_trim_with_madvise_failing(void)
{
    it_child_t c;
    char why[64];
    CU_ASSERT_EQUAL_FATAL(it_run_child(trim_madvise_child, NULL, 1, 10, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
              "child ended with %s (SIGALRM: malloc_trim never returned) %s",
              it_status_str(c.status, why, sizeof why), c.out);
}

TA_SUITE(fault_sweep)
{
    TA_ADD(suite, test_malloc_trim_with_madvise_failing);
    TA_ADD(suite, test_enomem_sweep);
}
