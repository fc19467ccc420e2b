/* Unit suite "os": the written contract of src/os/os.h — break growth and the
 * guarded shrink (foreign sbrk gives EBUSY), aligned zeroed mappings, remap in
 * place and onto a target, purge, the fault-injection hook and its call
 * counters, and errno left as the caller had it by every call. */
#include "unit.h"
#include "os.h"
#include <sys/mman.h>
#include <unistd.h>

#define ERRNO_MARK 4242

static uintptr_t brk_now(void)
{
    return (uintptr_t)sbrk(0);
}

/* Whether every page of [p, p+len) is mapped: msync answers ENOMEM otherwise. */
static bool is_mapped(void *p, size_t len)
{
    int saved = errno;
    bool ok = msync(p, len, MS_ASYNC) == 0;
    errno = saved;
    return ok;
}
/* Whether no page of [p, p+len) is mapped. */
static bool is_unmapped(void *p, size_t len)
{
    for (size_t off = 0; off < len; off += U_PAGE)
        if (is_mapped((char *)p + off, U_PAGE))
            return false;
    return true;
}

static bool all_zero(const void *p, size_t n)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i++)
        if (w[i])
            return false;
    return true;
}

static void test_brk_extend_shrink(void)
{
    uintptr_t b0 = brk_now();
    uintptr_t start = 1;
    size_t len = 1;
    errno = ERRNO_MARK;
    int rc = ta_os_brk_extend(5 * U_PAGE, &start, &len);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    uintptr_t b1 = brk_now();
    CU_ASSERT(b1 > b0);
    CU_ASSERT_EQUAL(start % U_PAGE, 0);
    CU_ASSERT(start >= b0);
    CU_ASSERT(start - b0 < U_PAGE); /* at most the misalignment of the old break */
    CU_ASSERT(len >= 5 * U_PAGE);
    CU_ASSERT_EQUAL(len % U_PAGE, 0);
    CU_ASSERT_EQUAL(start + len, b1);
    /* Writable from end to end. */
    memset((void *)start, 0x5c, len);
    CU_ASSERT_EQUAL(u_first_not((void *)start, len, 0x5c), -1);

    /* The right expected end: the break goes back to where the range began. */
    errno = ERRNO_MARK;
    rc = ta_os_brk_shrink(start + len, len);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(brk_now(), start);
    if (brk_now() > b0)
        sbrk(-(intptr_t)(brk_now() - b0)); /* the old break was misaligned */
    CU_ASSERT_EQUAL(brk_now(), b0);
}

static void test_brk_shrink_partial(void)
{
    uintptr_t b0 = brk_now();
    uintptr_t start;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(ta_os_brk_extend(8 * U_PAGE, &start, &len), 0);
    /* Give back only the upper half; the lower half stays usable. */
    CU_ASSERT_EQUAL(ta_os_brk_shrink(start + len, len / 2), 0);
    CU_ASSERT_EQUAL(brk_now(), start + len / 2);
    memset((void *)start, 1, len / 2);
    CU_ASSERT_EQUAL(ta_os_brk_shrink(start + len / 2, len / 2), 0);
    CU_ASSERT_EQUAL(brk_now(), start);
    if (brk_now() > b0)
        sbrk(-(intptr_t)(brk_now() - b0));
}

static void test_brk_shrink_foreign(void)
{
    uintptr_t b0 = brk_now();
    uintptr_t start;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(ta_os_brk_extend(4 * U_PAGE, &start, &len), 0);
    memset((void *)start, 0x11, len);

    /* Somebody else moves the break. */
    void *foreign = sbrk(4096);
    CU_ASSERT_FATAL(foreign != (void *)-1);
    CU_ASSERT_EQUAL((uintptr_t)foreign, start + len);
    memset(foreign, 0x22, 4096);
    uintptr_t b1 = brk_now();

    errno = ERRNO_MARK;
    int rc = ta_os_brk_shrink(start + len, len);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(rc, EBUSY);
    CU_ASSERT_EQUAL(brk_now(), b1); /* untouched */
    CU_ASSERT_EQUAL(u_first_not((void *)start, len, 0x11), -1);
    CU_ASSERT_EQUAL(u_first_not(foreign, 4096, 0x22), -1);

    /* A wrong expected end is refused the same way. */
    CU_ASSERT_EQUAL(ta_os_brk_shrink(b1 - U_PAGE, U_PAGE), EBUSY);
    CU_ASSERT_EQUAL(brk_now(), b1);

    /* Once the foreigner is gone the shrink works again. */
    sbrk(-4096);
    CU_ASSERT_EQUAL(ta_os_brk_shrink(start + len, len), 0);
    CU_ASSERT_EQUAL(brk_now(), start);
    if (brk_now() > b0)
        sbrk(-(intptr_t)(brk_now() - b0));
}

static void test_brk_failure(void)
{
    uintptr_t b0 = brk_now();
    uintptr_t start = 7;
    size_t len = 9;
    /* More than the whole user address space: the kernel refuses. */
    errno = ERRNO_MARK;
    int rc = ta_os_brk_extend((size_t)1 << 47, &start, &len);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(rc, ENOMEM);
    CU_ASSERT_EQUAL(start, 7); /* out-parameters only on success */
    CU_ASSERT_EQUAL(len, 9);
    CU_ASSERT_EQUAL(brk_now(), b0);
}

static void test_map_alignments(void)
{
    for (size_t align = 4 * U_KIB; align <= 16 * U_MIB; align <<= 1) {
        const size_t sizes[] = {U_PAGE, 3 * U_PAGE, align + U_PAGE};
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t size = sizes[i];
            void *p = NULL;
            errno = ERRNO_MARK;
            int rc = ta_os_map(size, align, &p);
            CU_ASSERT_EQUAL(errno, ERRNO_MARK);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            CU_ASSERT_EQUAL((uintptr_t)p % align, 0);
            CU_ASSERT(is_mapped(p, size));
            CU_ASSERT(all_zero(p, size));
            memset(p, 0xa7, size);
            CU_ASSERT_EQUAL(u_first_not(p, size, 0xa7), -1);
            errno = ERRNO_MARK;
            CU_ASSERT_EQUAL(ta_os_unmap(p, size), 0);
            CU_ASSERT_EQUAL(errno, ERRNO_MARK);
            CU_ASSERT(is_unmapped(p, size));
        }
    }
}

static void test_map_failure(void)
{
    void *p = (void *)0x1234;
    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_map((size_t)1 << 47, U_PAGE, &p), ENOMEM);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(ta_os_map((size_t)1 << 47, 16 * U_MIB, &p), ENOMEM);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    /* size + align overflows. */
    CU_ASSERT_EQUAL(ta_os_map(SIZE_MAX & ~(U_PAGE - 1), 16 * U_MIB, &p), ENOMEM);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_PTR_EQUAL(p, (void *)0x1234);
}

static void test_remap_in_place(void)
{
    void *p;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(4 * U_PAGE, U_PAGE, &p), 0);
    char *c = p;
    /* Make room above the first two pages. */
    CU_ASSERT_EQUAL_FATAL(ta_os_unmap(c + 2 * U_PAGE, 2 * U_PAGE), 0);
    u_fill(c, 2 * U_PAGE, 1);

    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_remap(c, 2 * U_PAGE, 4 * U_PAGE, NULL), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT(is_mapped(c, 4 * U_PAGE));
    CU_ASSERT(u_check(c, 2 * U_PAGE, 1));
    CU_ASSERT(all_zero(c + 2 * U_PAGE, 2 * U_PAGE));

    /* Shrink in place. */
    CU_ASSERT_EQUAL(ta_os_remap(c, 4 * U_PAGE, U_PAGE, NULL), 0);
    CU_ASSERT(u_check(c, U_PAGE, 1));
    CU_ASSERT(is_unmapped(c + U_PAGE, 3 * U_PAGE));

    /* In place only: growth into an occupied range fails, block intact. */
    void *q;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(2 * U_PAGE, U_PAGE, &q), 0);
    u_fill(q, 2 * U_PAGE, 2);
    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_remap(q, U_PAGE, 3 * U_PAGE, NULL), ENOMEM);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT(u_check(q, 2 * U_PAGE, 2));
    ta_os_unmap(q, 2 * U_PAGE);
    ta_os_unmap(c, U_PAGE);
}

static void test_remap_onto_target(void)
{
    void *src, *dst;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(2 * U_PAGE, U_PAGE, &src), 0);
    CU_ASSERT_EQUAL_FATAL(ta_os_map(6 * U_PAGE, 2 * U_MIB, &dst), 0);
    u_fill(src, 2 * U_PAGE, 3);
    memset(dst, 0xee, 6 * U_PAGE); /* replaced by the move */
    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_remap(src, 2 * U_PAGE, 6 * U_PAGE, dst), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT(u_check(dst, 2 * U_PAGE, 3));
    CU_ASSERT(all_zero((char *)dst + 2 * U_PAGE, 4 * U_PAGE));
    CU_ASSERT(is_unmapped(src, 2 * U_PAGE));
    CU_ASSERT_EQUAL(ta_os_unmap(dst, 6 * U_PAGE), 0);
}

static void test_purge(void)
{
    void *p;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(4 * U_PAGE, U_PAGE, &p), 0);
    char *c = p;
    memset(c, 0xab, 4 * U_PAGE);
    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_purge(c + U_PAGE, U_PAGE, false), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(u_first_not(c, U_PAGE, 0xab), -1);
    CU_ASSERT(all_zero(c + U_PAGE, U_PAGE));
    CU_ASSERT_EQUAL(u_first_not(c + 2 * U_PAGE, 2 * U_PAGE, 0xab), -1);
    CU_ASSERT_EQUAL(ta_os_purge(c, 4 * U_PAGE, false), 0);
    CU_ASSERT(all_zero(c, 4 * U_PAGE));
    /* Still mapped and writable after a purge. */
    memset(c, 0x01, 4 * U_PAGE);
    CU_ASSERT_EQUAL(u_first_not(c, 4 * U_PAGE, 0x01), -1);
    ta_os_unmap(c, 4 * U_PAGE);
}

static void test_errno_on_errors(void)
{
    void *p;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(2 * U_PAGE, U_PAGE, &p), 0);
    char *c = p;
    /* Kernel errors (EINVAL for a misaligned address) come back as return
     * values, never through errno. */
    errno = ERRNO_MARK;
    CU_ASSERT_NOT_EQUAL(ta_os_unmap(c + 1, U_PAGE), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_NOT_EQUAL(ta_os_purge(c + 1, U_PAGE, false), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_NOT_EQUAL(ta_os_remap(c + 1, U_PAGE, 2 * U_PAGE, NULL), 0);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    /* errno 0 must stay 0 as well (a success path that forgot to restore it
     * would leave the kernel's value). */
    errno = 0;
    CU_ASSERT_EQUAL(ta_os_purge(c, U_PAGE, false), 0);
    CU_ASSERT_EQUAL(ta_os_unmap(c, 2 * U_PAGE), 0);
    CU_ASSERT_EQUAL(errno, 0);
}

static void test_inject_skip_count(void)
{
    void *p[4] = {0};
    void *sentinel = (void *)0x4321;
    unsigned long c0 = ta_test_os_calls(TA_OS_MMAP);
    ta_test_os_fail(TA_OS_MMAP, 2, 1);
    int rc[4];
    for (int i = 0; i < 4; i++) {
        p[i] = sentinel;
        errno = ERRNO_MARK;
        rc[i] = ta_os_map(U_PAGE, U_PAGE, &p[i]);
        CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    }
    ta_test_os_fail(0, 0, 0);
    CU_ASSERT_EQUAL(rc[0], 0);
    CU_ASSERT_EQUAL(rc[1], 0);
    CU_ASSERT_EQUAL(rc[2], ENOMEM);
    CU_ASSERT_PTR_EQUAL(p[2], sentinel);
    CU_ASSERT_EQUAL(rc[3], 0);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_MMAP) - c0, 4);
    for (int i = 0; i < 4; i++)
        if (rc[i] == 0)
            ta_os_unmap(p[i], U_PAGE);
}

static void test_inject_forever(void)
{
    ta_test_os_fail(TA_OS_MMAP, 0, -1);
    for (int i = 0; i < 5; i++) {
        void *p = NULL;
        errno = ERRNO_MARK;
        CU_ASSERT_EQUAL(ta_os_map(U_PAGE, i % 2 ? U_PAGE : 64 * U_KIB, &p), ENOMEM);
        CU_ASSERT_EQUAL(errno, ERRNO_MARK);
        CU_ASSERT_PTR_NULL(p);
    }
    ta_test_os_fail(0, 0, 0);
    void *p = NULL;
    CU_ASSERT_EQUAL(ta_os_map(U_PAGE, U_PAGE, &p), 0);
    if (p)
        ta_os_unmap(p, U_PAGE);
}

/* Each mask bit fails exactly its own operation. */
static void test_inject_masks(void)
{
    void *p;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(2 * U_PAGE, U_PAGE, &p), 0);
    uintptr_t b0 = brk_now(), start = 3;
    size_t len = 5;

    ta_test_os_fail(TA_OS_MMAP, 0, -1);
    CU_ASSERT_EQUAL(ta_os_purge(p, U_PAGE, false), 0);
    CU_ASSERT_EQUAL(ta_os_remap(p, 2 * U_PAGE, U_PAGE, NULL), 0);

    ta_test_os_fail(TA_OS_SBRK, 0, -1);
    errno = ERRNO_MARK;
    CU_ASSERT_EQUAL(ta_os_brk_extend(U_PAGE, &start, &len), ENOMEM);
    CU_ASSERT_EQUAL(ta_os_brk_shrink(b0, U_PAGE), ENOMEM);
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);
    CU_ASSERT_EQUAL(brk_now(), b0);
    CU_ASSERT_EQUAL(start, 3);
    CU_ASSERT_EQUAL(len, 5);
    void *q = NULL;
    CU_ASSERT_EQUAL(ta_os_map(U_PAGE, U_PAGE, &q), 0);

    ta_test_os_fail(TA_OS_MREMAP, 0, -1);
    CU_ASSERT_EQUAL(ta_os_remap(q, U_PAGE, U_PAGE, NULL), ENOMEM);
    CU_ASSERT_EQUAL(ta_os_purge(q, U_PAGE, false), 0);

    ta_test_os_fail(TA_OS_MADVISE, 0, -1);
    memset(q, 0x33, U_PAGE);
    CU_ASSERT_EQUAL(ta_os_purge(q, U_PAGE, false), ENOMEM);
    CU_ASSERT_EQUAL(u_first_not(q, U_PAGE, 0x33), -1); /* nothing done */
    CU_ASSERT_EQUAL(errno, ERRNO_MARK);

    ta_test_os_fail(0, 0, 0);
    CU_ASSERT_EQUAL(ta_os_purge(q, U_PAGE, false), 0);
    CU_ASSERT(all_zero(q, U_PAGE));
    ta_os_unmap(q, U_PAGE);
    ta_os_unmap(p, U_PAGE);
}

static void test_call_counters(void)
{
    unsigned long m0 = ta_test_os_calls(TA_OS_MMAP), s0 = ta_test_os_calls(TA_OS_SBRK);
    unsigned long r0 = ta_test_os_calls(TA_OS_MREMAP), a0 = ta_test_os_calls(TA_OS_MADVISE);
    unsigned long all0 = ta_test_os_calls(TA_OS_ALL);
    CU_ASSERT_EQUAL(all0, m0 + s0 + r0 + a0);

    void *p, *p1, *p2;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(2 * U_PAGE, U_PAGE, &p1), 0);
    CU_ASSERT_EQUAL_FATAL(ta_os_map(U_PAGE, 64 * U_KIB, &p2), 0);
    ta_os_unmap(p1, 2 * U_PAGE);
    ta_os_unmap(p2, U_PAGE);
    CU_ASSERT_EQUAL_FATAL(ta_os_map(U_PAGE, U_PAGE, &p), 0);
    ta_os_purge(p, U_PAGE, false);
    ta_os_remap(p, U_PAGE, U_PAGE, NULL);
    ta_os_unmap(p, U_PAGE); /* not a counted operation */
    uintptr_t start;
    size_t len;
    uintptr_t b0 = brk_now();
    CU_ASSERT_EQUAL_FATAL(ta_os_brk_extend(U_PAGE, &start, &len), 0);
    CU_ASSERT_EQUAL(ta_os_brk_shrink(start + len, len), 0);
    if (brk_now() > b0)
        sbrk(-(intptr_t)(brk_now() - b0));

    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_MMAP) - m0, 3);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_SBRK) - s0, 2);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_MREMAP) - r0, 1);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_MADVISE) - a0, 1);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_MMAP | TA_OS_SBRK) - (m0 + s0), 5);
    CU_ASSERT_EQUAL(ta_test_os_calls(TA_OS_ALL) - all0, 7);
}

TA_SUITE(os)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_brk_extend_shrink);
    TA_ADD(suite, test_brk_shrink_partial);
    TA_ADD(suite, test_brk_shrink_foreign);
    TA_ADD(suite, test_brk_failure);
    TA_ADD(suite, test_map_alignments);
    TA_ADD(suite, test_map_failure);
    TA_ADD(suite, test_remap_in_place);
    TA_ADD(suite, test_remap_onto_target);
    TA_ADD(suite, test_purge);
    TA_ADD(suite, test_errno_on_errors);
    TA_ADD(suite, test_inject_skip_count);
    TA_ADD(suite, test_inject_forever);
    TA_ADD(suite, test_inject_masks);
    TA_ADD(suite, test_call_counters);
}
