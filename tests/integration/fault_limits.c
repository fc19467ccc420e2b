/* Integration suite "fault_limits": real memory limits in forked children.
 * RLIMIT_DATA and RLIMIT_AS exhausted by the main thread and met by brand-new
 * threads (NULL + ENOMEM, never a crash), recovery once the limit is raised;
 * and a mapping right above the break, so sbrk cannot grow (mmap fallback). */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

enum { SENTINEL = 0x7e57 };

/* The children report on fd 2 (captured by it_run_child) and return 1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 1;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0)
        return 1;
    return 1;
}

static void report(const char *what, const it_child_t *c)
{
    char why[64];
    IT_ASSERT(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0, "%s: child ended with %s: %s", what,
              it_status_str(c->status, why, sizeof why), c->out);
}

/* Data segment size as RLIMIT_DATA counts it (VmData of /proc/self/status,
 * read without stdio: the allocator may be out of memory). */
static size_t vm_data_bytes(void)
{
    char buf[4096];
    if (!it_read_text("/proc/self/status", buf, sizeof buf))
        return 0;
    char *s = strstr(buf, "VmData:");
    return s ? (size_t)strtoull(s + 7, NULL, 10) * 1024 : 0;
}

/* ---- exhausting a limit ---- */

enum { MAXBLK = 1 << 15 };
static it_blk_t blk[MAXBLK];
static const size_t cycle[] = {4096, 100, 256 * 1024, 40000, 1000, 600 * 1024, 24, 3 * 1024 * 1024};
#define NCYCLE (sizeof cycle / sizeof cycle[0])

/* What a thread that meets the exhausted limit saw. */
typedef struct {
    pthread_barrier_t *go; /* NULL: start at once */
    unsigned long ok, nulls, bad_errno, corrupt, errno_changed;
    int realloc_bad, memalign_bad, stats_bad;
    int done;
} thr_t;

static void *oom_thread(void *arg)
{
    thr_t *t = arg;
    if (t->go)
        pthread_barrier_wait(t->go); /* first allocation only after main ran out */
    enum { KEEP = 128 };
    it_blk_t keep[KEEP];
    unsigned nkeep = 0, misses = 0;
    for (unsigned i = 0; i < 200 && misses < 64; i++) {
        size_t n = cycle[i % NCYCLE];
        errno = SENTINEL;
        unsigned char *p = i % 3 == 0 ? calloc(1, n) : malloc(n);
        if (!p) {
            t->nulls++;
            misses++;
            t->bad_errno += errno != ENOMEM;
            continue;
        }
        t->errno_changed += errno != SENTINEL;
        t->ok++;
        it_fill(p, n, i);
        if (nkeep < KEEP) {
            keep[nkeep++] = (it_blk_t){p, n, i};
        } else {
            t->corrupt += it_check(p, n, i) >= 0;
            free(p);
        }
    }
    if (nkeep) {
        errno = 0;
        void *q = realloc(keep[0].p, 64 * IT_MIB);
        if (q)
            keep[0].p = q, keep[0].n = 0; /* the limit left room after all: not a failure of the allocator */
        else
            t->realloc_bad = errno != ENOMEM || it_check(keep[0].p, keep[0].n, keep[0].id) >= 0;
    }
    void *pm = &pm;
    int rc = posix_memalign(&pm, 4096, 64 * IT_MIB);
    if (rc == 0)
        free(pm);
    else
        t->memalign_bad = rc != ENOMEM || pm != &pm;
    /* Statistics from a thread that never could allocate must still work. */
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    t->stats_bad = ta_stats_get(&st) != 0;
    for (unsigned k = 0; k < nkeep; k++) {
        t->corrupt += it_check(keep[k].p, keep[k].n, keep[k].id) >= 0;
        free(keep[k].p);
    }
    t->done = 1;
    return NULL;
}

static int thr_verdict(const char *who, const thr_t *t)
{
    if (!t->done)
        return fail("%s: did not finish", who);
    if (t->bad_errno)
        return fail("%s: %lu of %lu NULL allocations had errno != ENOMEM", who, t->bad_errno, t->nulls);
    if (t->errno_changed)
        return fail("%s: %lu successful allocations changed errno", who, t->errno_changed);
    if (t->corrupt)
        return fail("%s: %lu blocks corrupted", who, t->corrupt);
    if (t->realloc_bad)
        return fail("%s: failed realloc(64M) was not NULL/ENOMEM with the old block intact", who);
    if (t->memalign_bad)
        return fail("%s: failed posix_memalign was not ENOMEM with *memptr untouched", who);
    if (t->stats_bad)
        return fail("%s: ta_stats_get failed", who);
    return 0;
}

static int check_all(size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (blk[i].p && it_check(blk[i].p, blk[i].n, blk[i].id) >= 0)
            return 1;
    return 0;
}

enum { PARKED = 4, LATE = 4 };

/* Runs in a child: the limit `res` set to what is in use plus `room`, the
 * main thread allocates until ENOMEM, brand-new threads (parked before, or
 * created after: creation may fail) meet the exhausted limit, then the limit
 * is raised and everything must work again. */
static int limit_child(int res, const char *name, size_t in_use, size_t room)
{
    static pthread_barrier_t go;
    static thr_t parked[PARKED], late[LATE];
    pthread_t pth[PARKED], lth[LATE];
    memset(parked, 0, sizeof parked);
    memset(late, 0, sizeof late);
    /* Threads that exist before the limit but have not allocated yet (no
     * thread cache, no arena): their first allocation meets the limit. */
    pthread_barrier_init(&go, NULL, PARKED + 1);
    for (int i = 0; i < PARKED; i++) {
        parked[i].go = &go;
        if (it_thread_start(&pth[i], oom_thread, &parked[i], 0) != 0)
            return fail("%s: pthread_create before the limit failed", name);
    }
    struct rlimit orig;
    if (getrlimit(res, &orig) != 0 || !in_use)
        return fail("%s: getrlimit / usage unknown", name);
    struct rlimit lim = {(rlim_t)(in_use + room), orig.rlim_max};
    if (setrlimit(res, &lim) != 0)
        return fail("%s: setrlimit failed", name);

    size_t n = 0;
    int e = 0;
    for (; n < MAXBLK; n++) {
        size_t sz = cycle[n % NCYCLE];
        errno = SENTINEL;
        blk[n].p = malloc(sz);
        if (!blk[n].p) {
            e = errno;
            break;
        }
        if (errno != SENTINEL)
            return fail("%s: successful malloc(%zu) changed errno to %d", name, sz, errno);
        blk[n].n = sz;
        blk[n].id = n;
        it_fill(blk[n].p, sz, n);
    }
    if (n == MAXBLK)
        return fail("%s: never ran out under the limit", name);
    if (e != ENOMEM)
        return fail("%s: malloc(%zu) failed with errno %d, not ENOMEM", name, cycle[n % NCYCLE], e);
    if (n < 8)
        return fail("%s: ran out after only %zu blocks", name, n);
    /* Small requests may still fit in free slab slots: take those too, so
     * the threads find nothing at all. */
    size_t n2 = n;
    for (; n2 < MAXBLK; n2++) {
        blk[n2].p = malloc(16);
        if (!blk[n2].p)
            break;
        blk[n2].n = 16;
        blk[n2].id = n2;
        it_fill(blk[n2].p, 16, n2);
    }
    n = n2;
    if (check_all(n))
        return fail("%s: blocks corrupted when memory ran out", name);
    errno = 0;
    void *r = realloc(blk[2].p, 64 * IT_MIB);
    if (r || errno != ENOMEM || it_check(blk[2].p, blk[2].n, blk[2].id) >= 0)
        return fail("%s: realloc(256K -> 64M) under the limit was not NULL/ENOMEM with the block intact", name);
    errno = 0;
    r = calloc(1, 64 * IT_MIB);
    if (r || errno != ENOMEM)
        return fail("%s: calloc(64M) under the limit was not NULL/ENOMEM", name);

    pthread_barrier_wait(&go);
    for (int i = 0; i < PARKED; i++)
        pthread_join(pth[i], NULL);
    /* Threads created now: stacks count against the limit, creation may fail. */
    int started = 0;
    for (int i = 0; i < LATE; i++)
        if (it_thread_start(&lth[i], oom_thread, &late[i], 0) == 0) {
            pthread_join(lth[i], NULL);
            started++;
            char who[64];
            snprintf(who, sizeof who, "%s: thread created under the limit", name);
            if (thr_verdict(who, &late[i]))
                return 1;
        }
    for (int i = 0; i < PARKED; i++) {
        if (thr_verdict(name, &parked[i]))
            return 1;
        if (!parked[i].nulls)
            return fail("%s: a new thread never met the limit (%lu allocations succeeded): the test tests nothing",
                        name, parked[i].ok);
    }
    (void)started;
    if (check_all(n))
        return fail("%s: blocks corrupted after the threads ran", name);

    /* Raise the limit: everything works again, in main and in new threads. */
    if (setrlimit(res, &orig) != 0)
        return fail("%s: could not restore the limit", name);
    unsigned char *big = malloc(256 * IT_MIB);
    if (!big)
        return fail("%s: malloc(256M) after raising the limit failed", name);
    for (size_t o = 0; o < 256 * IT_MIB; o += 4096)
        big[o] = 1;
    free(big);
    for (size_t i = 1; i < n; i += 2) {
        if (it_check(blk[i].p, blk[i].n, blk[i].id) >= 0)
            return fail("%s: block %zu corrupted after recovery", name, i);
        free(blk[i].p);
        blk[i].p = NULL;
    }
    thr_t after;
    memset(&after, 0, sizeof after);
    pthread_t ath;
    if (it_thread_start(&ath, oom_thread, &after, 0) != 0)
        return fail("%s: pthread_create after raising the limit failed", name);
    pthread_join(ath, NULL);
    if (thr_verdict(name, &after))
        return 1;
    if (after.nulls)
        return fail("%s: a new thread got %lu NULLs after the limit was raised", name, after.nulls);
    if (check_all(n))
        return fail("%s: blocks corrupted after recovery", name);
    for (size_t i = 0; i < n; i++)
        free(blk[i].p);
    return 0;
}

static int data_child(void *arg)
{
    (void)arg;
    return limit_child(RLIMIT_DATA, "RLIMIT_DATA", vm_data_bytes(), 48 * IT_MIB);
}

static int as_child(void *arg)
{
    (void)arg;
    return limit_child(RLIMIT_AS, "RLIMIT_AS", it_vm_bytes(), 64 * IT_MIB);
}

static void test_rlimit_data_main_and_new_threads(void)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(data_child, NULL, 1, 60, &c), 0);
    report("RLIMIT_DATA", &c);
}

static void test_rlimit_as_new_threads(void)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(as_child, NULL, 1, 60, &c), 0);
    report("RLIMIT_AS", &c);
}

/* ---- a mapping right above the break ---- */

enum { WALL = 16 * 4096, ABOVE_BIG = 1024, ABOVE_SMALL = 2000 };

static int above_break_child(void *arg)
{
    (void)arg;
    static unsigned char *big[ABOVE_BIG], *small[ABOVE_SMALL];
    malloc_trim(0); /* the heap's free top goes back: growth must come soon */
    uintptr_t brk = (uintptr_t)sbrk(0);
    uintptr_t at = (brk + 4095) & ~(uintptr_t)4095;
    unsigned char *wall = mmap((void *)at, WALL, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (wall == MAP_FAILED || (uintptr_t)wall != at)
        return fail("could not map at the break %#lx: %s", (unsigned long)at, strerror(errno));
    it_fill(wall, WALL, 0xAB0E);
    if (sbrk(4096) != (void *)-1)
        return fail("sbrk could still grow past the mapping: the test tests nothing");
    ta_stats_t before = it_stats();
    /* More than the heap has free: the heap must grow, and cannot with sbrk. */
    size_t nbig = 64 + before.heap_free_bytes / (64 * IT_KIB);
    if (nbig > ABOVE_BIG)
        nbig = ABOVE_BIG;
    for (size_t i = 0; i < nbig; i++) {
        size_t n = 40 * IT_KIB + (i % 7) * 4096;
        errno = SENTINEL;
        big[i] = malloc(n);
        if (!big[i])
            return fail("malloc(%zu) #%zu failed with the break blocked (errno %d)", n, i, errno);
        if (errno != SENTINEL)
            return fail("malloc(%zu) succeeded but changed errno to %d", n, errno);
        it_fill(big[i], n, i);
    }
    for (size_t i = 0; i < ABOVE_SMALL; i++) {
        small[i] = malloc(16 + i % 3000);
        if (!small[i])
            return fail("malloc(%zu) failed with the break blocked", 16 + i % 3000);
        it_fill(small[i], 16 + i % 3000, 10000 + i);
    }
    /* Page runs grown in place and moved, now that the heap is mappings. */
    for (size_t i = 0; i < nbig; i += 5) {
        size_t n = 40 * IT_KIB + (i % 7) * 4096, nn = n * 2 + 4096;
        unsigned char *q = realloc(big[i], nn);
        if (!q)
            return fail("realloc(%zu -> %zu) failed with the break blocked", n, nn);
        if (it_check(q, n, i) >= 0)
            return fail("realloc(%zu -> %zu) lost the contents", n, nn);
        q = realloc(q, n); /* and back */
        if (!q || it_check(q, n, i) >= 0)
            return fail("realloc back to %zu failed or lost the contents", n);
        big[i] = q;
    }
    ta_stats_t after = it_stats();
    if (after.sbrk_fallbacks <= before.sbrk_fallbacks)
        return fail("sbrk_fallbacks did not grow (%llu): the heap never tried to grow?",
                    (unsigned long long)after.sbrk_fallbacks);
    for (size_t i = 0; i < nbig; i++) {
        if (it_check(big[i], 40 * IT_KIB + (i % 7) * 4096, i) >= 0)
            return fail("block %zu corrupted", i);
        free(big[i]);
    }
    for (size_t i = 0; i < ABOVE_SMALL; i++) {
        if (it_check(small[i], 16 + i % 3000, 10000 + i) >= 0)
            return fail("small block %zu corrupted", i);
        free(small[i]);
    }
    malloc_trim(0);
    if (it_check(wall, WALL, 0xAB0E) >= 0)
        return fail("the mapping above the break was written to");
    /* Take the wall away: sbrk works again, and so does everything else. */
    munmap(wall, WALL);
    void *p = malloc(10 * IT_MIB), *q = malloc(100 * IT_KIB);
    if (!p || !q)
        return fail("allocation after removing the mapping failed");
    free(p);
    free(q);
    return 0;
}

static void test_mapping_above_break(void)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(above_break_child, NULL, 1, 60, &c), 0);
    report("mapping above the break", &c);
}

TA_SUITE(fault_limits)
{
    TA_ADD(suite, test_rlimit_data_main_and_new_threads);
    TA_ADD(suite, test_rlimit_as_new_threads);
    TA_ADD(suite, test_mapping_above_break);
}
