/* Integration suite "semantics": the glibc/POSIX contract of each entry point
 * (NULL and errno results, zero and overflowing sizes, alignment argument
 * checks, usable size, errno-preserving free, cfree, __libc_* aliases, ta_owns). */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <tarena.h>
#include <unistd.h>

/* cfree left glibc's headers (it is a compat symbol now) and the __libc_*
 * names were never declared; tarena exports them all, so declare them here. */
extern void cfree(void *ptr);
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* Requests no allocator can satisfy: above PTRDIFF_MAX (refused up front, as
 * glibc does) and just below it or 2^62 (refused when the OS says no); the
 * SIZE_MAX-ish ones catch rounding that wraps around to a small size. */
static const size_t huge_sizes[] = {
    (size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - 4095,
    (size_t)PTRDIFF_MAX,     (size_t)PTRDIFF_MAX - 4095, (size_t)1 << 62,
};
#define NHUGE (sizeof huge_sizes / sizeof huge_sizes[0])

/* Live blocks by tarena's count (tarena.h: allocs - frees = live blocks):
 * how these tests see that a call really freed its block. */
static long long live_blocks(void)
{
    ta_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(&s), 0);
    return (long long)(s.allocs - s.frees);
}

static void test_malloc_zero_unique(void)
{
    enum { N = 64 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(it_opaque(0));
        IT_ASSERT(p[i] != NULL, "malloc(0) #%d returned NULL", i);
        if (p[i])
            IT_ASSERT(ta_owns(p[i]), "malloc(0) %p not owned by tarena", p[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (p[i])
                IT_ASSERT(p[i] != p[j], "malloc(0) returned %p twice", p[i]);
    for (int i = 0; i < N; i++)
        free(p[i]);
}

static void test_huge_sizes_enomem(void)
{
    char *live = malloc(100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(live);
    it_fill(live, 100, 7);
    for (size_t i = 0; i < NHUGE; i++) {
        size_t s = it_opaque(huge_sizes[i]);
        void *r;
        errno = 0;
        r = malloc(s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "malloc(%zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = calloc(1, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "calloc(1, %zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = calloc(s, 1);
        IT_ASSERT(r == NULL && errno == ENOMEM, "calloc(%zu, 1) = %p errno %d", s, r, errno);
        errno = 0;
        r = realloc(NULL, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "realloc(NULL, %zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = realloc(live, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "realloc(p, %zu) = %p errno %d", s, r, errno);
        IT_ASSERT(it_check(live, 100, 7) == -1, "failed realloc(p, %zu) changed p", s);
        errno = 0;
        r = reallocarray(NULL, 1, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "reallocarray(NULL, 1, %zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = memalign(64, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "memalign(64, %zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = aligned_alloc(4096, s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "aligned_alloc(4096, %zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = valloc(s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "valloc(%zu) = %p errno %d", s, r, errno);
        errno = 0;
        r = pvalloc(s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "pvalloc(%zu) = %p errno %d", s, r, errno);
        /* posix_memalign reports through its result and must not touch *memptr. */
        void *m = &m;
        int rc = posix_memalign(&m, 64, s);
        IT_ASSERT(rc == ENOMEM && m == &m, "posix_memalign(64, %zu) = %d, memptr %p", s, rc, m);
        errno = 0;
        r = ta_malloc(s);
        IT_ASSERT(r == NULL && errno == ENOMEM, "ta_malloc(%zu) = %p errno %d", s, r, errno);
    }
    free(live);
}

static void test_calloc_reallocarray_overflow(void)
{
    /* Products that wrap around size_t, and one that does not wrap but
     * exceeds PTRDIFF_MAX (2^32 * 2^31 = 2^63). */
    static const size_t pairs[][2] = {
        {SIZE_MAX / 2 + 1, 2},
        {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX, SIZE_MAX},
        {3, SIZE_MAX / 3 + 1},
        {(size_t)1 << 32, (size_t)1 << 31},
        {65537, (size_t)1 << 48},
    };
    char *live = malloc(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(live);
    it_fill(live, 64, 9);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        size_t n = it_opaque(pairs[i][0]), m = it_opaque(pairs[i][1]);
        void *r;
        errno = 0;
        r = calloc(n, m);
        IT_ASSERT(r == NULL && errno == ENOMEM, "calloc(%zu, %zu) = %p errno %d", n, m, r, errno);
        errno = 0;
        r = calloc(m, n);
        IT_ASSERT(r == NULL && errno == ENOMEM, "calloc(%zu, %zu) = %p errno %d", m, n, r, errno);
        errno = 0;
        r = ta_calloc(n, m);
        IT_ASSERT(r == NULL && errno == ENOMEM, "ta_calloc(%zu, %zu) = %p errno %d", n, m, r, errno);
        errno = 0;
        r = reallocarray(NULL, n, m);
        IT_ASSERT(r == NULL && errno == ENOMEM, "reallocarray(NULL, %zu, %zu) = %p errno %d", n, m, r, errno);
        errno = 0;
        r = reallocarray(it_launder(live), n, m);
        IT_ASSERT(r == NULL && errno == ENOMEM, "reallocarray(p, %zu, %zu) = %p errno %d", n, m, r, errno);
        IT_ASSERT(it_check(live, 64, 9) == -1, "failed reallocarray changed the block");
    }
    /* A zero factor makes any product fine: a unique, freeable block. */
    void *z = calloc(it_opaque(SIZE_MAX / 2 + 1), it_opaque(0));
    IT_ASSERT(z != NULL, "calloc(huge, 0) returned NULL");
    free(z);
    free(live);
}

static void test_posix_memalign_einval(void)
{
    /* POSIX: alignment must be a power of two and a multiple of sizeof(void *). */
    static const size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 96, 4095, 4097, 3 * 4096,
                                 ((size_t)1 << 40) + 8, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i] == sizeof(void *))
            continue;
        void *m = &m;
        int rc = posix_memalign(&m, it_opaque(bad[i]), 16);
        IT_ASSERT(rc == EINVAL, "posix_memalign(align %zu) = %d, want EINVAL", bad[i], rc);
        IT_ASSERT(m == &m, "posix_memalign(align %zu) wrote *memptr = %p on error", bad[i], m);
        m = &m;
        rc = ta_posix_memalign(&m, it_opaque(bad[i]), 16);
        IT_ASSERT(rc == EINVAL && m == &m, "ta_posix_memalign(align %zu) = %d, memptr %p", bad[i], rc, m);
    }
    void *m = NULL;
    int rc = posix_memalign(&m, sizeof(void *), 16);
    IT_ASSERT(rc == 0 && m != NULL, "posix_memalign(sizeof(void*), 16) = %d", rc);
    free(m);
}

/* ISO C17 requires an error for unsupported alignments; glibc >= 2.38 (and
 * tarena, as documented by its lead) answer NULL/EINVAL for any alignment that
 * is not a power of two. glibc 2.36 (Debian 12) still accepts them. Zero is
 * left out: implementations disagree about it. */
static void test_aligned_alloc_einval(void)
{
    static const size_t bad[] = {3, 24, 48, 1000, 4097, 3 * 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *r = aligned_alloc(it_opaque(bad[i]), 64);
        IT_ASSERT(r == NULL && errno == EINVAL, "aligned_alloc(%zu, 64) = %p errno %d, want NULL/EINVAL",
                  bad[i], r, errno);
        free(r);
    }
}

static void test_memalign_rounds_up(void)
{
    /* A non-power-of-two alignment is rounded up to the next power of two.
     * Many blocks each: one block could be that aligned by luck, 32 cannot. */
    static const size_t cases[][2] = {{24, 32}, {48, 64}, {100, 128}, {3000, 4096}, {5000, 8192}, {65537, 131072}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        void *p[32];
        for (int i = 0; i < 32; i++) {
            p[i] = memalign(it_opaque(cases[c][0]), 24);
            IT_ASSERT(p[i] && it_is_aligned(p[i], cases[c][1]), "memalign(%zu, 24) = %p, want %zu-aligned",
                      cases[c][0], p[i], cases[c][1]);
            if (p[i])
                memset(p[i], 0x11, 24);
        }
        for (int i = 0; i < 32; i++)
            free(p[i]);
    }
    /* An alignment whose next power of two does not exist cannot be met. */
    errno = 0;
    void *r = memalign(it_opaque(SIZE_MAX / 2 + 2), 16);
    IT_ASSERT(r == NULL && (errno == EINVAL || errno == ENOMEM), "memalign(2^63+1, 16) = %p errno %d", r, errno);
}

static void test_valloc_page_aligned(void)
{
    size_t pg = it_page();
    static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 10000, 200000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p[8];
        for (int k = 0; k < 8; k++) {
            p[k] = valloc(it_opaque(sizes[i]));
            IT_ASSERT(p[k] && it_is_aligned(p[k], pg), "valloc(%zu) = %p not page-aligned", sizes[i], p[k]);
            if (p[k]) {
                IT_ASSERT(malloc_usable_size(p[k]) >= sizes[i], "valloc(%zu): usable %zu", sizes[i],
                          malloc_usable_size(p[k]));
                memset(p[k], 0x22, sizes[i]);
            }
        }
        for (int k = 0; k < 8; k++)
            free(p[k]);
    }
}

static void test_pvalloc_rounds_to_pages(void)
{
    size_t pg = it_page();
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 4096 + 1, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t want = sizes[i] ? (sizes[i] + pg - 1) / pg * pg : pg; /* pvalloc(0) gives a page */
        void *p = pvalloc(it_opaque(sizes[i]));
        IT_ASSERT(p && it_is_aligned(p, pg), "pvalloc(%zu) = %p not page-aligned", sizes[i], p);
        if (!p)
            continue;
        size_t us = malloc_usable_size(p);
        IT_ASSERT(us >= want, "pvalloc(%zu): usable %zu < %zu", sizes[i], us, want);
        memset(p, 0x33, us < want ? us : want); /* the rounded-up size is the caller's to use */
        free(p);
    }
}

static void test_realloc_null_is_malloc(void)
{
    static const size_t sizes[] = {0, 1, 100, 5000, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = realloc(NULL, it_opaque(sizes[i]));
        IT_ASSERT(p != NULL, "realloc(NULL, %zu) = NULL", sizes[i]);
        if (!p)
            continue;
        IT_ASSERT(ta_owns(p), "realloc(NULL, %zu) block not owned", sizes[i]);
        IT_ASSERT(malloc_usable_size(p) >= sizes[i], "realloc(NULL, %zu): usable %zu", sizes[i],
                  malloc_usable_size(p));
        it_fill(p, sizes[i], i);
        IT_ASSERT(it_check(p, sizes[i], i) == -1, "realloc(NULL, %zu) block not writable", sizes[i]);
        free(p);
    }
}

static void test_realloc_zero_frees(void)
{
    /* glibc frees the block and returns NULL; the live count drops by one. */
    static const size_t sizes[] = {1, 100, 5000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        p[0] = 1;
        long long live = live_blocks();
        void *r = realloc(p, it_opaque(0));
        long long after = live_blocks();
        IT_ASSERT(r == NULL, "realloc(p, 0) = %p, want NULL", r);
        if (r) {
            free(r);
            continue;
        }
        IT_ASSERT(after == live - 1, "realloc(%zu-byte block, 0): live blocks %lld -> %lld", sizes[i], live, after);
    }
}

/* Every byte malloc_usable_size reports belongs to the caller alone: fill 32
 * live blocks of one size to their full usable size with distinct bytes and
 * check that none was overwritten by a neighbour's fill. */
static void test_usable_size_all_writable(void)
{
    static const size_t sizes[] = {1,    7,     8,     15,    16,     24,     25,     100,      1000,
                                   4000, 4096,  10000, 65536, 131071, 131072, 131073, 1 << 20, 3000000};
    enum { N = 32 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p[N];
        size_t us[N];
        for (int k = 0; k < N; k++) {
            p[k] = malloc(it_opaque(sizes[i]));
            CU_ASSERT_PTR_NOT_NULL_FATAL(p[k]);
            us[k] = malloc_usable_size(p[k]);
            IT_ASSERT(us[k] >= sizes[i], "malloc(%zu): usable %zu", sizes[i], us[k]);
            memset(p[k], 0x40 + k, us[k]);
        }
        for (int k = 0; k < N; k++) {
            ptrdiff_t bad = it_check_byte(p[k], us[k], (unsigned char)(0x40 + k));
            IT_ASSERT(bad < 0, "malloc(%zu) #%d: usable byte %td of %zu overwritten by a neighbour", sizes[i],
                      k, bad, us[k]);
            IT_ASSERT(malloc_usable_size(p[k]) == us[k], "usable size of %p changed", (void *)p[k]);
        }
        for (int k = 0; k < N; k++)
            free(p[k]);
    }
}

static void test_usable_size_null(void)
{
    CU_ASSERT_EQUAL(malloc_usable_size(NULL), 0);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(NULL), 0);
}

static void test_free_null_noop(void)
{
    errno = 4321;
    free(NULL);
    cfree(NULL);
    ta_free(NULL);
    CU_ASSERT_EQUAL(errno, 4321);
    void *p = malloc(10); /* the allocator still works afterwards */
    CU_ASSERT_PTR_NOT_NULL(p);
    free(p);
}

/* free() must not clobber errno (POSIX 2024, glibc >= 2.33), also when it
 * calls into the OS (munmap, trimming) and when those OS calls fail. */
static void test_free_preserves_errno(void)
{
    static const size_t sizes[] = {16, 1000, 70000, 1 << 20, 16 << 20};
    for (int inject = 0; inject < 2; inject++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            void *p = malloc(sizes[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            memset(p, 1, sizes[i]);
            if (inject)
                ta_test_os_fail(TA_OS_ALL, 0, -1);
            errno = 1234;
            free(p);
            int e = errno;
            ta_test_os_fail(0, 0, 0);
            IT_ASSERT(e == 1234, "free(malloc(%zu))%s changed errno to %d", sizes[i],
                      inject ? " with OS calls failing" : "", e);
        }
        /* A heap region large enough to be trimmed once it is all free. */
        enum { N = 4096 };
        static void *blk[N];
        for (int k = 0; k < N; k++) {
            blk[k] = malloc(4096);
            CU_ASSERT_PTR_NOT_NULL_FATAL(blk[k]);
            memset(blk[k], 2, 4096);
        }
        if (inject)
            ta_test_os_fail(TA_OS_ALL, 0, -1);
        int changed = 0;
        for (int k = N - 1; k >= 0; k--) {
            errno = 1234;
            free(blk[k]);
            changed += errno != 1234;
        }
        ta_test_os_fail(0, 0, 0);
        IT_ASSERT(changed == 0, "%d of %d frees of a 16 MiB heap region%s changed errno", changed, N,
                  inject ? " with OS calls failing" : "");
    }
}

static void test_cfree(void)
{
    char *p = malloc(100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    memset(p, 3, 100);
    CU_ASSERT_TRUE(ta_owns(p));
    long long live = live_blocks();
    cfree(p);
    CU_ASSERT_EQUAL(live_blocks(), live - 1);
    void *q = ta_malloc(200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    ta_cfree(q);
    CU_ASSERT_EQUAL(live_blocks(), live - 1);
}

/* Old programs and some runtimes call the __libc_* names directly; they must
 * reach tarena, not the glibc allocator underneath: each block must be one
 * tarena owns, and interchangeable with malloc/free. */
static void test_libc_aliases(void)
{
    size_t pg = it_page();
    char *a = __libc_malloc(100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_TRUE(ta_owns(a));
    it_fill(a, 100, 1);
    a = __libc_realloc(a, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_TRUE(ta_owns(a));
    CU_ASSERT_EQUAL(it_check(a, 100, 1), -1);
    long long live = live_blocks();
    __libc_free(a);
    CU_ASSERT_EQUAL(live_blocks(), live - 1);

    unsigned char *c = __libc_calloc(10, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(ta_owns(c));
    CU_ASSERT_EQUAL(it_check_byte(c, 1000, 0), -1);
    free(c); /* mixing the names is fine: one allocator */

    void *m = __libc_memalign(256, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_TRUE(ta_owns(m) && it_is_aligned(m, 256));
    __libc_free(m);

    void *v = __libc_valloc(10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_TRUE(ta_owns(v) && it_is_aligned(v, pg));
    __libc_free(v);

    void *pv = __libc_pvalloc(10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pv);
    CU_ASSERT_TRUE(ta_owns(pv) && it_is_aligned(pv, pg));
    CU_ASSERT_TRUE(malloc_usable_size(pv) >= pg);
    memset(pv, 4, pg);
    __libc_free(pv);

    void *x = malloc(50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    live = live_blocks();
    __libc_free(x);
    CU_ASSERT_EQUAL(live_blocks(), live - 1);
}

static int static_array[64];

static void test_owns(void)
{
    int stack_var = 0;
    CU_ASSERT_FALSE(ta_owns(NULL));
    CU_ASSERT_FALSE(ta_owns(&stack_var));
    CU_ASSERT_FALSE(ta_owns(static_array));
    CU_ASSERT_FALSE(ta_owns(&static_array[32]));
    CU_ASSERT_FALSE(ta_owns((const void *)test_owns));
    CU_ASSERT_FALSE(ta_owns((void *)(uintptr_t)0x1000));
    CU_ASSERT_FALSE(ta_owns((void *)(uintptr_t)-4096));
    /* Memory tarena never mapped, and an address that is no longer mapped:
     * ta_owns must answer, not fault. */
    void *own = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(own != MAP_FAILED);
    CU_ASSERT_FALSE(ta_owns(own));
    munmap(own, 1 << 16);
    CU_ASSERT_FALSE(ta_owns(own));

    static const size_t sizes[] = {1, 64, 3000, 70000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        IT_ASSERT(ta_owns(p), "malloc(%zu) = %p not owned", sizes[i], (void *)p);
        /* only the start of a block counts */
        if (sizes[i] > 16)
            IT_ASSERT(!ta_owns(p + 16), "interior %p of malloc(%zu) owned", (void *)(p + 16), sizes[i]);
        free(p);
    }
    void *a = memalign(65536, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_TRUE(ta_owns(a));
    free(a);
}

/* tarena.h: ta_owns says whether ptr starts a *live* block, so a block is no
 * longer owned once freed (also while it sits in a thread cache). */
static void test_owns_false_after_free(void)
{
    static const size_t sizes[] = {1, 64, 3000, 70000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = malloc(sizes[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        free(p);
        IT_ASSERT(!ta_owns(it_launder(p)), "freed malloc(%zu) = %p still owned", sizes[i], (void *)p);
    }
}

/* The override covers allocations libc makes on the program's behalf: the
 * results of strdup, asprintf and getline must be tarena's blocks. */
static void test_override_covers_libc(void)
{
    const char *v = ta_version();
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(strncmp(v, "tarena ", 7), 0);
    char *d = strdup("hello");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_TRUE(ta_owns(d));
    free(d);
    char *s = NULL;
    CU_ASSERT_TRUE(asprintf(&s, "%d-%s", 42, "x") > 0);
    CU_ASSERT_TRUE(s && ta_owns(s));
    free(s);
    FILE *f = fmemopen((void *)"line one\nline two\n", 18, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line = NULL;
    size_t cap = 0;
    CU_ASSERT_EQUAL(getline(&line, &cap, f), 9);
    CU_ASSERT_TRUE(line && ta_owns(line));
    free(line);
    fclose(f);
}

/* libtarena.so exports both name sets over one heap: blocks cross freely. */
static void test_prefixed_interop(void)
{
    void *a = malloc(100), *b = ta_malloc(100);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(a), malloc_usable_size(a));
    CU_ASSERT_EQUAL(ta_malloc_usable_size(b), malloc_usable_size(b));
    b = realloc(b, 300);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    a = ta_realloc(a, 300);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    long long live = live_blocks();
    ta_free(a);
    free(b);
    CU_ASSERT_EQUAL(live_blocks(), live - 2);
}

TA_SUITE(semantics)
{
    TA_ADD(suite, test_malloc_zero_unique);
    TA_ADD(suite, test_huge_sizes_enomem);
    TA_ADD(suite, test_calloc_reallocarray_overflow);
    TA_ADD(suite, test_posix_memalign_einval);
    TA_ADD(suite, test_aligned_alloc_einval);
    TA_ADD(suite, test_memalign_rounds_up);
    TA_ADD(suite, test_valloc_page_aligned);
    TA_ADD(suite, test_pvalloc_rounds_to_pages);
    TA_ADD(suite, test_realloc_null_is_malloc);
    TA_ADD(suite, test_realloc_zero_frees);
    TA_ADD(suite, test_usable_size_all_writable);
    TA_ADD(suite, test_usable_size_null);
    TA_ADD(suite, test_free_null_noop);
    TA_ADD(suite, test_free_preserves_errno);
    TA_ADD(suite, test_cfree);
    TA_ADD(suite, test_libc_aliases);
    TA_ADD(suite, test_owns);
    TA_ADD(suite, test_owns_false_after_free);
    TA_ADD(suite, test_override_covers_libc);
    TA_ADD(suite, test_prefixed_interop);
}
