/* Integration suite "oom": running out of memory through the fault-injection
 * hooks and through RLIMIT_AS (NULL + ENOMEM, old blocks intact, recovery),
 * sbrk failure falling back to mmap, and a foreign sbrk surviving a trim. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

/* With sbrk failing the main arena must grow with mmap instead. The heap
 * is trimmed first and more is asked for than it has free, so it must grow. */
static void test_sbrk_failure_falls_back_to_mmap(void)
{
    enum { MAXBIG = 1024, SMALL = 1000 };
    static unsigned char *big[MAXBIG], *small[SMALL];
    malloc_trim(0);
    ta_stats_t before = it_stats();
    size_t nbig = 64 + before.heap_free_bytes / (64 * IT_KIB) + 16;
    if (nbig > MAXBIG)
        nbig = MAXBIG;
    size_t failed = 0;
    ta_test_os_fail(TA_OS_SBRK, 0, -1);
    for (size_t i = 0; i < nbig; i++) {
        big[i] = malloc(64 * IT_KIB);
        if (big[i])
            it_fill(big[i], 64 * IT_KIB, i);
        else
            failed++;
    }
    for (size_t i = 0; i < SMALL; i++) {
        small[i] = malloc(16 + i % 1000);
        if (small[i])
            it_fill(small[i], 16 + i % 1000, 5000 + i);
        else
            failed++;
    }
    ta_test_os_fail(0, 0, 0);
    ta_stats_t after = it_stats();
    IT_ASSERT(failed == 0, "%zu of %zu allocations failed with sbrk failing", failed, nbig + SMALL);
    IT_ASSERT(after.sbrk_fallbacks > before.sbrk_fallbacks,
              "sbrk_fallbacks %llu -> %llu after %zu x 64 KiB (heap had %llu free bytes)",
              (unsigned long long)before.sbrk_fallbacks, (unsigned long long)after.sbrk_fallbacks, nbig,
              (unsigned long long)before.heap_free_bytes);
    size_t corrupt = 0;
    for (size_t i = 0; i < nbig; i++)
        if (big[i]) {
            corrupt += it_check(big[i], 64 * IT_KIB, i) >= 0;
            free(big[i]);
        }
    for (size_t i = 0; i < SMALL; i++)
        if (small[i]) {
            corrupt += it_check(small[i], 16 + i % 1000, 5000 + i) >= 0;
            free(small[i]);
        }
    IT_ASSERT(corrupt == 0, "%zu blocks allocated during the sbrk failure were corrupted", corrupt);
    void *p = malloc(1 << 20);
    CU_ASSERT_PTR_NOT_NULL(p);
    free(p);
}

/* With sbrk, mmap and mremap all failing: big requests give NULL/ENOMEM, small
 * ones succeed from what the heap has until that runs out, then NULL/ENOMEM.
 * Results are recorded and asserted only after the hook is cleared. */
static void test_os_failure_enomem_and_recovery(void)
{
    enum { MAXSMALL = 1 << 18 };
    static unsigned char *small[MAXSMALL];
    const size_t big = 256 * IT_MIB;
    malloc_trim(0);
    ta_test_os_fail(TA_OS_SBRK | TA_OS_MMAP | TA_OS_MREMAP, 0, -1);
    void *r[5];
    int e[5];
    errno = 0, r[0] = malloc(big), e[0] = errno;
    errno = 0, r[1] = calloc(1, big), e[1] = errno;
    errno = 0, r[2] = memalign(4096, big), e[2] = errno;
    errno = 0, r[3] = aligned_alloc(65536, big), e[3] = errno;
    errno = 0, r[4] = realloc(NULL, big), e[4] = errno;
    void *pm = &pm;
    int pmrc = posix_memalign(&pm, 64, big);
    size_t nsmall = 0;
    int small_errno = 0;
    for (; nsmall < MAXSMALL; nsmall++) {
        errno = 0;
        small[nsmall] = malloc(1024);
        if (!small[nsmall]) {
            small_errno = errno;
            break;
        }
        it_fill(small[nsmall], 1024, nsmall);
    }
    ta_test_os_fail(0, 0, 0);

    static const char *what[] = {"malloc(256M)", "calloc(1, 256M)", "memalign(4096, 256M)",
                                 "aligned_alloc(65536, 256M)", "realloc(NULL, 256M)"};
    for (int i = 0; i < 5; i++) {
        IT_ASSERT(r[i] == NULL && e[i] == ENOMEM, "%s with the OS failing = %p errno %d", what[i], r[i], e[i]);
        free(r[i]);
    }
    IT_ASSERT(pmrc == ENOMEM && pm == &pm, "posix_memalign(64, 256M) with the OS failing = %d", pmrc);
    IT_ASSERT(nsmall < MAXSMALL, "%d x malloc(1024) all succeeded with the OS failing", MAXSMALL);
    IT_ASSERT(nsmall == MAXSMALL || small_errno == ENOMEM, "malloc(1024) failed with errno %d", small_errno);
    size_t corrupt = 0;
    for (size_t i = 0; i < nsmall; i++) {
        corrupt += it_check(small[i], 1024, i) >= 0;
        free(small[i]);
    }
    IT_ASSERT(corrupt == 0, "%zu of %zu small blocks corrupted", corrupt, nsmall);

    /* memory is back: everything works again */
    unsigned char *p = malloc(big);
    IT_ASSERT(p != NULL, "malloc(256M) after recovery = NULL errno %d", errno);
    if (p) {
        for (size_t o = 0; o < big; o += 4096)
            p[o] = 1;
        free(p);
    }
    void *q[100];
    for (int i = 0; i < 100; i++) {
        q[i] = malloc(1024);
        IT_ASSERT(q[i] != NULL, "malloc(1024) after recovery = NULL");
    }
    for (int i = 0; i < 100; i++)
        free(q[i]);
}

/* A new thread meeting OOM on its first allocations (its cache or arena may
 * need OS memory to be set up) must get NULL/ENOMEM or a usable block, never
 * a crash, and be able to allocate once the OS cooperates again. */
typedef struct {
    pthread_barrier_t go, done;
    int big_ok, small_ok, small_null, small_bad_errno, after_ok;
} newthr_t;

static void *oom_thread(void *arg)
{
    newthr_t *t = arg;
    pthread_barrier_wait(&t->go); /* the main thread sets the hook */
    errno = 0;
    void *b = malloc(256 * IT_MIB);
    t->big_ok = b == NULL && errno == ENOMEM;
    free(b);
    void *s[500];
    for (int i = 0; i < 500; i++) {
        errno = 0;
        s[i] = malloc((size_t)(i % 50) * 40 + 1);
        if (s[i]) {
            memset(s[i], 0x31, (size_t)(i % 50) * 40 + 1);
            t->small_ok++;
        } else {
            t->small_null++;
            t->small_bad_errno += errno != ENOMEM;
        }
    }
    for (int i = 0; i < 500; i++)
        free(s[i]);
    pthread_barrier_wait(&t->done); /* the main thread clears the hook */
    pthread_barrier_wait(&t->go);
    void *p = malloc(3000), *q = malloc(300 * IT_KIB);
    t->after_ok = p && q;
    free(p);
    free(q);
    return NULL;
}

static void test_oom_in_new_thread(void)
{
    static newthr_t t;
    memset(&t, 0, sizeof t);
    pthread_barrier_init(&t.go, NULL, 2);
    pthread_barrier_init(&t.done, NULL, 2);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, oom_thread, &t), 0);
    ta_test_os_fail(TA_OS_SBRK | TA_OS_MMAP | TA_OS_MREMAP, 0, -1);
    pthread_barrier_wait(&t.go);
    pthread_barrier_wait(&t.done);
    ta_test_os_fail(0, 0, 0);
    pthread_barrier_wait(&t.go);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&t.go);
    pthread_barrier_destroy(&t.done);
    IT_ASSERT(t.big_ok, "malloc(256M) in a new thread with the OS failing was not NULL/ENOMEM");
    IT_ASSERT(t.small_bad_errno == 0, "%d of %d NULL small mallocs had errno != ENOMEM", t.small_bad_errno,
              t.small_null);
    IT_ASSERT(t.after_ok, "the thread could not allocate after recovery");
}

/* ---- RLIMIT_AS: real exhaustion, in a child so the limit stays there ---- */

enum { RL_MAX = 1 << 16 };
static unsigned char *rl_blk[RL_MAX];
static const size_t rl_cycle[] = {4096, 100, 256 * 1024, 40000, 1000, 600 * 1024};
#define RL_SIZE(i) rl_cycle[(i) % (sizeof rl_cycle / sizeof rl_cycle[0])]

static const char *rl_codes[] = {
    [10] = "could not read the VM size",
    [11] = "setrlimit failed",
    [12] = "never ran out of memory under the limit",
    [13] = "the failing malloc did not set ENOMEM",
    [14] = "ran out after fewer than 16 blocks",
    [15] = "blocks corrupted when memory ran out",
    [16] = "realloc(p, 32M) under the limit was not NULL/ENOMEM",
    [17] = "could not allocate each size again after freeing half",
    [18] = "blocks corrupted after freeing half and allocating again",
    [19] = "could not restore the limit",
    [20] = "malloc(256M) after raising the limit failed",
    [21] = "calloc under the limit was not NULL/ENOMEM",
};

static int rl_check_all(size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rl_blk[i] && it_check(rl_blk[i], RL_SIZE(i), i) >= 0)
            return 1;
    return 0;
}

static int rlimit_child(void *arg)
{
    (void)arg;
    struct rlimit orig;
    size_t vm = it_vm_bytes();
    if (!vm || getrlimit(RLIMIT_AS, &orig) != 0)
        return 10;
    struct rlimit lim = {(rlim_t)(vm + 64 * IT_MIB), orig.rlim_max};
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 11;
    size_t n = 0;
    int e = 0;
    for (; n < RL_MAX; n++) {
        errno = 0;
        rl_blk[n] = malloc(RL_SIZE(n));
        if (!rl_blk[n]) {
            e = errno;
            break;
        }
        it_fill(rl_blk[n], RL_SIZE(n), n);
    }
    if (n == RL_MAX)
        return 12;
    if (e != ENOMEM)
        return 13;
    if (n < 16)
        return 14;
    if (rl_check_all(n))
        return 15;
    errno = 0;
    void *r = realloc(rl_blk[0], 32 * IT_MIB);
    if (r != NULL || errno != ENOMEM || it_check(rl_blk[0], RL_SIZE(0), 0) >= 0)
        return 16;
    errno = 0;
    r = calloc(1, 32 * IT_MIB);
    if (r != NULL || errno != ENOMEM)
        return 21;
    /* free every other block; then there is room again for each size (not
     * necessarily for all the freed blocks at once: heap growth has overhead
     * and freed heap holes are scattered) */
    for (size_t i = 1; i < n; i += 2) {
        free(rl_blk[i]);
        rl_blk[i] = NULL;
    }
    void *again[sizeof rl_cycle / sizeof rl_cycle[0]];
    for (size_t k = 0; k < sizeof rl_cycle / sizeof rl_cycle[0]; k++) {
        again[k] = malloc(rl_cycle[k]);
        if (!again[k])
            return 17;
        memset(again[k], 0x17, rl_cycle[k]);
    }
    for (size_t k = 0; k < sizeof rl_cycle / sizeof rl_cycle[0]; k++)
        free(again[k]);
    if (rl_check_all(n))
        return 18;
    if (setrlimit(RLIMIT_AS, &orig) != 0)
        return 19;
    unsigned char *big = malloc(256 * IT_MIB);
    if (!big)
        return 20;
    for (size_t o = 0; o < 256 * IT_MIB; o += 4096)
        big[o] = 1;
    free(big);
    if (rl_check_all(n))
        return 18;
    for (size_t i = 0; i < n; i++)
        free(rl_blk[i]);
    return 0;
}

static void report_child(const char *what, const it_child_t *c, const char *const *codes, size_t ncodes)
{
    char why[64];
    int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
    const char *msg = code > 0 && (size_t)code < ncodes && codes[code] ? codes[code] : "";
    IT_ASSERT(code == 0, "%s: child ended with %s %s", what, it_status_str(c->status, why, sizeof why), msg);
}

static void test_rlimit_as_exhaustion(void)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(rlimit_child, NULL, 0, 60, &c), 0);
    report_child("RLIMIT_AS", &c, rl_codes, sizeof rl_codes / sizeof rl_codes[0]);
}

/* ---- a foreign sbrk above the heap must survive trimming ---- */

static const char *fs_codes[] = {
    [2] = "sbrk(64K) failed", [3] = "foreign region changed by free/trim",
    [4] = "malloc failed after the foreign sbrk", [5] = "blocks corrupted after the foreign sbrk",
    [6] = "foreign region changed by heap growth", [7] = "foreign region changed by the final trim",
};

static int foreign_sbrk_child(void *arg)
{
    (void)arg;
    enum { N = 4096 };
    static unsigned char *b[N];
    for (int i = 0; i < N / 2; i++) { /* grow the main heap (below the mmap threshold) */
        b[i] = malloc(4096);
        if (!b[i])
            return 4;
        memset(b[i], 1, 4096);
    }
    unsigned char *mine = sbrk(65536);
    if (mine == (void *)-1)
        return 2;
    memset(mine, 0x5f, 65536);
    for (int i = N / 2 - 1; i >= 0; i--)
        free(b[i]);
    malloc_trim(0);
    if (it_check_byte(mine, 65536, 0x5f) >= 0) /* SIGSEGV here: the break was moved below it */
        return 3;
    for (int i = 0; i < N; i++) {
        b[i] = malloc(4096);
        if (!b[i])
            return 4;
        it_fill(b[i], 4096, (uint64_t)i);
    }
    for (int i = 0; i < N; i++)
        if (it_check(b[i], 4096, (uint64_t)i) >= 0)
            return 5;
    if (it_check_byte(mine, 65536, 0x5f) >= 0)
        return 6;
    for (int i = 0; i < N; i++)
        free(b[i]);
    malloc_trim(0);
    if (it_check_byte(mine, 65536, 0x5f) >= 0)
        return 7;
    return 0;
}

static void test_foreign_sbrk_survives_trim(void)
{
    it_child_t c;
    CU_ASSERT_EQUAL_FATAL(it_run_child(foreign_sbrk_child, NULL, 0, 60, &c), 0);
    report_child("foreign sbrk", &c, fs_codes, sizeof fs_codes / sizeof fs_codes[0]);
}

TA_SUITE(oom)
{
    TA_ADD(suite, test_sbrk_failure_falls_back_to_mmap);
    TA_ADD(suite, test_os_failure_enomem_and_recovery);
    TA_ADD(suite, test_oom_in_new_thread);
    TA_ADD(suite, test_rlimit_as_exhaustion);
    TA_ADD(suite, test_foreign_sbrk_survives_trim);
}
