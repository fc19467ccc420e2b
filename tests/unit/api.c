/* Unit suite "api": the ta_* entry points called directly (not through
 * malloc): every size up to 1 MiB, usable sizes, realloc in place (BLOCK grow
 * into a free neighbour, BLOCK shrink), calloc zeroing, ta_owns, the aligned
 * family, and errno rules. */
#include "unit.h"
#include "pagemap.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static size_t usable_bound(size_t s)
{
    if (s == 0)
        s = 1;
    if (s <= TA_SMALL_MAX)
        return ta_class2size(ta_size2class(s));
    return ta_align_up(s, U_PAGE);
}

/* Sizes 0..4096 one by one, then about 6% steps to 1 MiB, plus every class
 * boundary and page multiple neighbourhood of interest. */
static size_t sizes[8192];
static unsigned nsizes;
static void make_sizes(void)
{
    if (nsizes)
        return;
    for (size_t s = 0; s <= 4096; s++)
        sizes[nsizes++] = s;
    for (size_t s = 4097; s <= U_MIB; s += s / 16 + 1)
        sizes[nsizes++] = s;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        sizes[nsizes++] = ta_class2size(c) + 1;
        sizes[nsizes++] = ta_class2size(c) - 1;
    }
    const size_t extra[] = {TA_SMALL_MAX, TA_SMALL_MAX + 1, 64 * U_KIB - 1, 64 * U_KIB,
                            128 * U_KIB - 1, 128 * U_KIB, 128 * U_KIB + 1, U_MIB - 1, U_MIB};
    for (unsigned i = 0; i < sizeof extra / sizeof extra[0]; i++)
        sizes[nsizes++] = extra[i];
}

static int cmp_range(const void *x, const void *y)
{
    const uintptr_t *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

static void test_sizes_all_live(void)
{
    static void *ptrs[8192];
    static uintptr_t ranges[8192][2];
    make_sizes();
    unsigned bad_align = 0, bad_usable = 0, bad_owns = 0;
    for (unsigned i = 0; i < nsizes; i++) {
        size_t s = sizes[i];
        ptrs[i] = ta_malloc(u_opaque(s));
        CU_ASSERT_PTR_NOT_NULL_FATAL(ptrs[i]);
        size_t u = ta_malloc_usable_size(ptrs[i]);
        bad_align += (uintptr_t)ptrs[i] % TA_QUANTUM != 0;
        bad_usable += u < s || u < 1 || u > usable_bound(s);
        bad_owns += !ta_owns(ptrs[i]);
        u_fill(ptrs[i], u, i);
        ranges[i][0] = (uintptr_t)ptrs[i];
        ranges[i][1] = (uintptr_t)ptrs[i] + u;
    }
    CU_ASSERT_EQUAL(bad_align, 0);
    CU_ASSERT_EQUAL(bad_usable, 0);
    CU_ASSERT_EQUAL(bad_owns, 0);
    /* No two live blocks overlap... */
    qsort(ranges, nsizes, sizeof ranges[0], cmp_range);
    unsigned overlap = 0;
    for (unsigned i = 1; i < nsizes; i++)
        overlap += ranges[i][0] < ranges[i - 1][1];
    CU_ASSERT_EQUAL(overlap, 0);
    /* ...so every pattern survived the others' writes. */
    unsigned smashed = 0;
    for (unsigned i = 0; i < nsizes; i++)
        smashed += !u_check(ptrs[i], ta_malloc_usable_size(ptrs[i]), i);
    CU_ASSERT_EQUAL(smashed, 0);
    for (unsigned i = 0; i < nsizes; i++)
        ta_free(ptrs[i]);
}

/* malloc(0) gives a distinct, freeable, minimal block each time. */
static void test_malloc_zero(void)
{
    void *a = ta_malloc(0), *b = ta_malloc(0);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    CU_ASSERT(ta_malloc_usable_size(a) >= 1);
    ta_free(a);
    ta_free(b);
    ta_free(NULL);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(NULL), 0);
}

static void test_malloc_too_big(void)
{
    const size_t big[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - U_PAGE, (size_t)1 << 62};
    for (unsigned i = 0; i < sizeof big / sizeof big[0]; i++) {
        errno = 0;
        CU_ASSERT_PTR_NULL(ta_malloc(u_opaque(big[i])));
        CU_ASSERT_EQUAL(errno, ENOMEM);
    }
    errno = 0;
    CU_ASSERT_PTR_NULL(ta_calloc(u_opaque(SIZE_MAX / 2), 3));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    errno = 0;
    CU_ASSERT_PTR_NULL(ta_calloc(u_opaque((size_t)1 << 33), (size_t)1 << 33));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    void *p = ta_malloc(10);
    errno = 0;
    CU_ASSERT_PTR_NULL(ta_realloc(p, u_opaque(SIZE_MAX)));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    CU_ASSERT(ta_owns(p)); /* still there */
    ta_free(p);
}

/* Page runs only (no own mappings, no trim) for the in-place tests. */
static void blocks_only(void)
{
    TA_OPT_SET(mmap_threshold, 32 * U_MIB);
    TA_OPT_SET(trim_threshold, SIZE_MAX);
    TA_OPT_SET(thresholds_fixed, true);
}

static int span_state(void *p)
{
    ta_span_t *s;
    return ta_lookup(p, &s) == TA_LOOKUP_OK ? s->state : -1;
}

static void test_realloc_block_grow_in_place(void)
{
    blocks_only();
    char *p = ta_malloc(192 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(span_state(p), TA_SPAN_BLOCK);
    u_fill(p, 192 * U_KIB, 5);
    /* Shrinking leaves a free run right behind the block... */
    char *q = ta_realloc(p, 64 * U_KIB);
    CU_ASSERT_PTR_EQUAL_FATAL(q, p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 64 * U_KIB);
    /* ...which growing takes back without moving. */
    q = ta_realloc(p, 128 * U_KIB);
    CU_ASSERT_PTR_EQUAL_FATAL(q, p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 128 * U_KIB);
    CU_ASSERT(u_check(p, 64 * U_KIB, 5));
    memset(p + 64 * U_KIB, 0x61, 64 * U_KIB);
    q = ta_realloc(p, 192 * U_KIB - 100);
    CU_ASSERT_PTR_EQUAL_FATAL(q, p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 192 * U_KIB);
    CU_ASSERT(u_check(p, 64 * U_KIB, 5));
    CU_ASSERT_EQUAL(u_first_not(p + 64 * U_KIB, 64 * U_KIB, 0x61), -1);
    ta_free(p);
}

/* In a fresh arena (a known layout): A|B|C carved one after the other. With
 * B free, A grows into it in place; with C live, growing further moves A,
 * contents and all, and the old block is released. */
static void test_realloc_block_grow_moves(void)
{
    blocks_only();
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ta_span_t *A = ta_pages_alloc(a, 10, 0, TA_SPAN_BLOCK);
    ta_span_t *B = ta_pages_alloc(a, 10, 0, TA_SPAN_BLOCK);
    ta_span_t *C = ta_pages_alloc(a, 10, 0, TA_SPAN_BLOCK);
    CU_ASSERT_FATAL(A && B && C);
    CU_ASSERT_EQUAL_FATAL(B->start, ta_span_end(A));
    CU_ASSERT_EQUAL_FATAL(C->start, ta_span_end(B));
    char *p = (char *)A->start, *c = (char *)C->start;
    CU_ASSERT(ta_owns(p));
    ta_free((void *)B->start);
    u_fill(p, 40 * U_KIB, 6);
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, 80 * U_KIB), p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 80 * U_KIB);
    u_fill(p, 80 * U_KIB, 6);
    uint64_t used = a->heap_bytes - a->free_bytes;
    char *q = ta_realloc(p, 81 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_EQUAL(q, p);
    CU_ASSERT(u_check(q, 80 * U_KIB, 6));
    CU_ASSERT(ta_malloc_usable_size(q) >= 81 * U_KIB);
    CU_ASSERT(!ta_owns(p));
    CU_ASSERT(ta_owns(c));
    CU_ASSERT_EQUAL(a->heap_bytes - a->free_bytes, used - 80 * U_KIB);
    ta_free(q);
    ta_free(c);
    CU_ASSERT_EQUAL(a->free_bytes, a->heap_bytes);
}

static void test_realloc_block_shrink_in_place(void)
{
    blocks_only();
    char *p = ta_malloc(100 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(span_state(p), TA_SPAN_BLOCK);
    u_fill(p, 100 * U_KIB, 7);
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, 40 * U_KIB), p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 40 * U_KIB);
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, 33 * U_KIB), p);
    CU_ASSERT_EQUAL(ta_malloc_usable_size(p), 36 * U_KIB);
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, 36 * U_KIB), p); /* same pages: nothing to do */
    CU_ASSERT(u_check(p, 33 * U_KIB, 7));
    /* Down to small sizes the contents follow wherever the block goes. */
    char *q = ta_realloc(p, 20 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT(ta_malloc_usable_size(q) >= 20 * U_KIB);
    CU_ASSERT(u_check(q, 20 * U_KIB, 7));
    ta_free(q);
}

static void test_realloc_small(void)
{
    char *p = ta_realloc(NULL, 40);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t u = ta_malloc_usable_size(p);
    CU_ASSERT(u >= 40);
    u_fill(p, 40, 8);
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, u), p); /* within the class */
    CU_ASSERT_PTR_EQUAL_FATAL(ta_realloc(p, 1), p); /* shrink stays */
    CU_ASSERT(u_check(p, 1, 8));
    char *q = p;
    /* Grow through classes, slab to page run to mapping and back. */
    const size_t steps[] = {100, 1000, 5000, 30000, 40000, 300 * U_KIB, 2 * U_MIB, 50000, 60, 16};
    size_t have = 1;
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        q = ta_realloc(q, steps[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        CU_ASSERT(ta_malloc_usable_size(q) >= steps[i]);
        CU_ASSERT(u_check(q, TA_MIN(have, steps[i]), 8));
        have = steps[i];
        u_fill(q, have, 8);
    }
    /* realloc(p, 0) frees and returns NULL, as glibc does. */
    CU_ASSERT_PTR_NULL(ta_realloc(q, 0));
}

static void test_reallocarray(void)
{
    errno = 0;
    void *p = ta_reallocarray(NULL, u_opaque(SIZE_MAX / 4), 8);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(errno, ENOMEM);
    p = ta_reallocarray(NULL, 10, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(ta_malloc_usable_size(p) >= 100);
    ta_free(p);
}

static void test_calloc_zeroes(void)
{
    make_sizes();
    blocks_only();
    TA_OPT_SET(mmap_threshold, 256 * U_KIB);
    unsigned dirty = 0;
    for (unsigned i = 0; i < nsizes; i += (sizes[i] < 4096 ? 7 : 1)) {
        size_t s = sizes[i];
        /* Dirty the memory calloc is likely to get next. */
        unsigned char *d = ta_malloc(s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        memset(d, 0xff, ta_malloc_usable_size(d));
        ta_free(d);
        unsigned char *z = ta_calloc(1, u_opaque(s));
        CU_ASSERT_PTR_NOT_NULL_FATAL(z);
        dirty += u_first_not(z, s, 0) != -1;
        ta_free(z);
        z = ta_calloc(u_opaque(s), 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(z);
        dirty += u_first_not(z, s, 0) != -1;
        ta_free(z);
    }
    CU_ASSERT_EQUAL(dirty, 0);
    void *z = ta_calloc(0, 0);
    CU_ASSERT_PTR_NOT_NULL(z);
    ta_free(z);
}

static void test_owns(void)
{
    int local;
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    char *small = ta_malloc(24), *block = ta_malloc(64 * U_KIB), *map = ta_malloc(512 * U_KIB);
    CU_ASSERT_FATAL(small && block && map);
    CU_ASSERT(ta_owns(small));
    CU_ASSERT(ta_owns(block));
    CU_ASSERT(ta_owns(map));
    CU_ASSERT(!ta_owns(NULL));
    CU_ASSERT(!ta_owns(&local));
    CU_ASSERT(!ta_owns(small + 8));
    CU_ASSERT(!ta_owns(block + 16));
    CU_ASSERT(!ta_owns(block + U_PAGE));
    CU_ASSERT(!ta_owns(map + 64));
    void *sys = malloc(32);
    CU_ASSERT(!ta_owns(sys));
    free(sys);
    ta_free(block);
    ta_free(map);
    CU_ASSERT(!ta_owns(block));
    CU_ASSERT(!ta_owns(map));
    ta_free(small);
}

/* "Whether ptr is the start of a live block" holds for small blocks too:
 * a freed slot of a slab that is still in use is not live. */
static void test_owns_freed_small(void)
{
    void *keep = ta_malloc(24);
    void *p = ta_malloc(24);
    CU_ASSERT_FATAL(keep && p);
    CU_ASSERT(ta_owns(p));
    ta_free(p);
    CU_ASSERT(!ta_owns(p));
    ta_free(keep);
}

/* A small block freed twice must not be handed out twice: abort (the
 * allocator's answer to misuse) or two distinct blocks, never one block for
 * two owners. Runs in a child, since abort is an acceptable outcome. */
static void test_double_free_small_not_silent(void)
{
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        void *p = ta_malloc(32);
        ta_free(p);
        ta_free(p);
        void *a = ta_malloc(32), *b = ta_malloc(32);
        _exit(a == b ? 1 : 0);
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool distinct = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CU_ASSERT(aborted || distinct);
}

/* In a forked child: free(bad) must abort with one "invalid pointer" line.
 * Reports (and returns false) when it did anything else. */
static bool free_is_refused(uintptr_t bad, const char *what, unsigned cls)
{
    int err[2];
    CU_ASSERT_EQUAL_FATAL(pipe(err), 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        ta_free((void *)bad);
        _exit(0); /* accepted: the parent reports it */
    }
    close(err[1]);
    char msg[256] = "";
    ssize_t n = read(err[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = 0;
    close(err[0]);
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(msg, "invalid pointer"))
        return true;
    fprintf(stderr, "class %u (%u bytes): free of %s %#lx was not refused (\"%s\")\n", cls,
            (unsigned)ta_class2size(cls), what, (unsigned long)bad, msg);
    return false;
}

/* Slot boundaries of a slab that are no blocks, for every class: the tail
 * past the last slot when the slab's bytes are not a multiple of the class
 * size (it lies inside the slab's pages; handed out, it would run into the
 * next span), and the first slot the slab never handed out (it sits in the
 * slab's free map; accepted into a thread cache, it would be handed out by
 * the cache and by the slab). free() must refuse both, on the thread-cache
 * fast path as much as in the arena, and ta_owns must say no. */
static void test_free_unused_slots_rejected(void)
{
    unsigned tails = 0, unused = 0;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        void *p = ta_malloc(ta_class2size(c));
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        ta_span_t *s = ta_pagemap_get((uintptr_t)p);
        CU_ASSERT_FATAL(s && s->state == TA_SPAN_SLAB && s->sclass == c);
        uintptr_t tail = s->start + (uintptr_t)s->nobjs * ta_class2size(c);
        if (tail + 16 <= ta_span_end(s)) { /* room for at least a 16-byte block */
            tails++;
            CU_ASSERT(!ta_owns((void *)tail));
            if (!free_is_refused(tail, "the slab tail", c))
                CU_FAIL("free of a slab's tail accepted");
        }
        if (s->fresh < s->nobjs) {
            uintptr_t never = s->start + (uintptr_t)s->fresh * ta_class2size(c);
            unused++;
            CU_ASSERT(!ta_owns((void *)never));
            if (!free_is_refused(never, "a slot never handed out", c))
                CU_FAIL("free of a slot never handed out accepted");
        }
        ta_free(p);
    }
    /* The geometry has such classes; if not, this test needs another way in. */
    CU_ASSERT(tails > 0);
    CU_ASSERT(unused > 0);
}

static void test_aligned(void)
{
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    const size_t sz[] = {1, 24, 100, 4000, 5000, 40000, 300 * U_KIB};
    for (size_t al = sizeof(void *); al <= U_MIB; al <<= 1) {
        for (unsigned i = 0; i < sizeof sz / sizeof sz[0]; i++) {
            void *p = (void *)1;
            CU_ASSERT_EQUAL_FATAL(ta_posix_memalign(&p, al, sz[i]), 0);
            CU_ASSERT_EQUAL((uintptr_t)p % al, 0);
            CU_ASSERT(ta_malloc_usable_size(p) >= sz[i]);
            CU_ASSERT(ta_owns(p));
            memset(p, 0x5e, sz[i]);
            ta_free(p);
            void *q = ta_aligned_alloc(al, sz[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(q);
            CU_ASSERT_EQUAL((uintptr_t)q % al, 0);
            ta_free(q);
        }
    }
    void *p = (void *)1;
    int saved = errno = 4242;
    CU_ASSERT_EQUAL(ta_posix_memalign(&p, 24, 10), EINVAL);
    CU_ASSERT_EQUAL(ta_posix_memalign(&p, 0, 10), EINVAL);
    CU_ASSERT_EQUAL(ta_posix_memalign(&p, 4, 10), EINVAL);
    CU_ASSERT_PTR_EQUAL(p, (void *)1);
    CU_ASSERT_EQUAL(errno, saved);
    errno = 0;
    CU_ASSERT_PTR_NULL(ta_aligned_alloc(24, 10));
    CU_ASSERT_EQUAL(errno, EINVAL);
    void *m = ta_memalign(48, 10); /* rounded up to 64 */
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL((uintptr_t)m % 64, 0);
    ta_free(m);
    void *v = ta_valloc(10);
    CU_ASSERT_EQUAL((uintptr_t)v % U_PAGE, 0);
    ta_free(v);
    void *pv = ta_pvalloc(1);
    CU_ASSERT_EQUAL((uintptr_t)pv % U_PAGE, 0);
    CU_ASSERT(ta_malloc_usable_size(pv) >= U_PAGE);
    ta_free(pv);
}

/* free preserves errno (a must), whatever kind of block it returns. */
static void test_free_keeps_errno(void)
{
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(trim_threshold, 64 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    const size_t sz[] = {8, 3000, 64 * U_KIB, 600 * U_KIB, 2 * U_MIB};
    for (unsigned i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        void *p = ta_malloc(sz[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        errno = 4242;
        ta_free(p);
        CU_ASSERT_EQUAL(errno, 4242);
    }
    /* A large page-run block on top of the break: its free trims. */
    TA_OPT_SET(mmap_threshold, 32 * U_MIB);
    void *p = ta_malloc(4 * U_MIB);
    errno = 4343;
    ta_free(p);
    CU_ASSERT_EQUAL(errno, 4343);
    ta_cfree(ta_malloc(10));
}

TA_SUITE(api)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_sizes_all_live);
    TA_ADD(suite, test_malloc_zero);
    TA_ADD(suite, test_malloc_too_big);
    TA_ADD(suite, test_realloc_block_grow_in_place);
    TA_ADD(suite, test_realloc_block_grow_moves);
    TA_ADD(suite, test_realloc_block_shrink_in_place);
    TA_ADD(suite, test_realloc_small);
    TA_ADD(suite, test_reallocarray);
    TA_ADD(suite, test_calloc_zeroes);
    TA_ADD(suite, test_owns);
    TA_ADD(suite, test_owns_freed_small);
    TA_ADD(suite, test_double_free_small_not_silent);
    TA_ADD(suite, test_free_unused_slots_rejected);
    TA_ADD(suite, test_aligned);
    TA_ADD(suite, test_free_keeps_errno);
}
