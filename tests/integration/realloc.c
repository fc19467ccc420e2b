/* Integration suite "realloc": contents survive growing, shrinking and
 * crossing the mmap threshold; a failed realloc (impossible size or injected
 * OS failure) leaves the old block intact; reallocarray. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

/* One block walks through the size list; at every step the kept prefix must
 * hold the previous pattern, then the whole block gets a new one. */
static void walk_sizes(unsigned char *p, size_t n, uint64_t seed, const size_t *sizes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t m = it_opaque(sizes[i]);
        unsigned char *q = realloc(p, m);
        IT_ASSERT(q != NULL, "realloc %zu -> %zu failed", n, m);
        if (!q) {
            free(p);
            return;
        }
        size_t keep = n < m ? n : m;
        ptrdiff_t off = it_check(q, keep, seed);
        IT_ASSERT(off < 0, "realloc %zu -> %zu: byte %td changed", n, m, off);
        IT_ASSERT(malloc_usable_size(q) >= m, "realloc %zu -> %zu: usable %zu", n, m, malloc_usable_size(q));
        IT_ASSERT(ta_owns(q), "realloc %zu -> %zu = %p not owned", n, m, (void *)q);
        p = q;
        n = m;
        it_fill(p, n, ++seed);
    }
    free(p);
}

static void test_grow_shrink_across_mmap(void)
{
    static const size_t sizes[] = {64 * 1024, 1 << 20, 200 * 1024, 30,      1,       4096,
                                   2 << 20,   130 * 1024, 127 * 1024, 5 << 20, 17, 0x10000 + 3};
    unsigned char *p = malloc(100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    it_fill(p, 100, 500);
    walk_sizes(p, 100, 500, sizes, sizeof sizes / sizeof sizes[0]);
}

/* Growth one byte at a time (the in-place path of every small size class),
 * then in odd-sized steps past the mmap threshold, then back down. */
static void test_step_by_step(void)
{
    unsigned char *p = malloc(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[0] = 0;
    size_t n = 1;
    for (size_t m = 2; m <= 4096; m++) {
        unsigned char *q = realloc(p, m);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        IT_ASSERT(q[m - 2] == (unsigned char)(m - 2) && (m < 3 || q[m - 3] == (unsigned char)(m - 3)),
                  "growing to %zu lost the last bytes", m);
        q[m - 1] = (unsigned char)(m - 1);
        p = q;
        n = m;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)i) {
            IT_ASSERT(0, "after byte-wise growth byte %zu is %u", i, p[i]);
            break;
        }
    uint64_t seed = 77;
    it_fill(p, n, seed);
    for (size_t m = n + 4099; m < (1 << 20); m += 4099 * 7) {
        unsigned char *q = realloc(p, m);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        ptrdiff_t off = it_check(q, n, seed);
        IT_ASSERT(off < 0, "growing %zu -> %zu: byte %td changed", n, m, off);
        p = q;
        n = m;
        it_fill(p, n, ++seed);
    }
    while (n > 3) {
        size_t m = n / 3;
        unsigned char *q = realloc(p, m);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        ptrdiff_t off = it_check(q, m, seed);
        IT_ASSERT(off < 0, "shrinking %zu -> %zu: byte %td changed", n, m, off);
        p = q;
        n = m;
        it_fill(p, n, ++seed);
    }
    free(p);
}

/* Blocks from the aligned entry points sit at an offset inside their chunk;
 * realloc must still find their true start and size. */
static void test_realloc_aligned_blocks(void)
{
    static const size_t aligns[] = {64, 4096, 65536, 1 << 21};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        unsigned char *p = memalign(aligns[i], 1000);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        it_fill(p, 1000, i);
        static const size_t sizes[] = {10000, 500, 300000, 800};
        walk_sizes(p, 1000, i, sizes, sizeof sizes / sizeof sizes[0]);
    }
}

static void test_huge_realloc_keeps_block(void)
{
    static const size_t start[] = {100, 5000, 2 << 20};
    static const size_t huge[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 4095, (size_t)1 << 62};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *p = malloc(start[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        it_fill(p, start[i], 40 + i);
        for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++) {
            errno = 0;
            void *q = realloc(p, it_opaque(huge[h]));
            IT_ASSERT(q == NULL && errno == ENOMEM, "realloc(%zu-byte block, %zu) = %p errno %d", start[i],
                      huge[h], q, errno);
            ptrdiff_t off = it_check(p, start[i], 40 + i);
            IT_ASSERT(off < 0, "failed realloc changed byte %td of the %zu-byte block", off, start[i]);
        }
        /* still a live, resizable block */
        unsigned char *q = realloc(p, start[i] * 2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        IT_ASSERT(it_check(q, start[i], 40 + i) < 0, "block damaged by earlier failed reallocs");
        free(q);
    }
}

/* With every way to get memory from the OS failing, growing to 1 GiB cannot
 * succeed: NULL, ENOMEM, old block intact and usable. Nothing is asserted
 * while the hook is set, since CUnit itself allocates to record a failure. */
static void test_injected_failure_keeps_block(void)
{
    static const size_t start[] = {100, 20000, 2 << 20};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *p = malloc(start[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        it_fill(p, start[i], 60 + i);
        ta_test_os_fail(TA_OS_MMAP | TA_OS_MREMAP | TA_OS_SBRK, 0, -1);
        errno = 0;
        void *q = realloc(p, it_opaque((size_t)1 << 30));
        int e = errno;
        void *q2 = NULL;
        int e2 = ENOMEM;
        if (!q) { /* p is still ours only if that failed */
            errno = 0;
            q2 = reallocarray(it_launder(p), 1 << 15, 1 << 15);
            e2 = errno;
        }
        ta_test_os_fail(0, 0, 0);
        IT_ASSERT(q == NULL && e == ENOMEM, "realloc(%zu-byte block, 1 GiB) with OS failing = %p errno %d",
                  start[i], q, e);
        IT_ASSERT(q2 == NULL && e2 == ENOMEM,
                  "reallocarray(%zu-byte block, 2^15, 2^15) with OS failing = %p errno %d", start[i], q2, e2);
        if (q || q2) {
            free(q ? q : q2);
            continue;
        }
        ptrdiff_t off = it_check(p, start[i], 60 + i);
        IT_ASSERT(off < 0, "failed realloc changed byte %td of the %zu-byte block", off, start[i]);
        /* and the allocator is whole again once the OS cooperates */
        unsigned char *r = realloc(p, 4 << 20);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        IT_ASSERT(it_check(r, start[i], 60 + i) < 0, "contents lost in realloc after recovery");
        memset(r, 7, 4 << 20);
        free(r);
    }
}

static void test_reallocarray(void)
{
    unsigned char *p = reallocarray(NULL, 10, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_TRUE(malloc_usable_size(p) >= 100);
    it_fill(p, 100, 90);
    unsigned char *q = reallocarray(p, 1000, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_TRUE(malloc_usable_size(q) >= 100000);
    CU_ASSERT_EQUAL(it_check(q, 100, 90), -1);
    it_fill(q, 100000, 91);
    p = reallocarray(q, 3, 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(it_check(p, 21, 91), -1);
    errno = 0;
    q = reallocarray(it_launder(p), it_opaque(SIZE_MAX / 2), 3);
    CU_ASSERT_PTR_NULL(q);
    CU_ASSERT_EQUAL(errno, ENOMEM);
    CU_ASSERT_EQUAL(it_check(p, 21, 91), -1);
    q = ta_reallocarray(p, 4, 4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(it_check(q, 21, 91), -1);
    free(q);
}

TA_SUITE(realloc)
{
    TA_ADD(suite, test_grow_shrink_across_mmap);
    TA_ADD(suite, test_step_by_step);
    TA_ADD(suite, test_realloc_aligned_blocks);
    TA_ADD(suite, test_huge_realloc_keeps_block);
    TA_ADD(suite, test_injected_failure_keeps_block);
    TA_ADD(suite, test_reallocarray);
}
