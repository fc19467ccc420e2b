/* Unit suite "mallopt": ta_mallopt for each parameter, its return value
 * (glibc's: 1 for unknown parameters, 0 for rejected values) and its effect on
 * ta_opt and on allocation. The fixture restores the options after each test. */
#include "unit.h"
#include <unistd.h>

static int state_of(void *p)
{
    ta_span_t *s;
    return ta_lookup(p, &s) == TA_LOOKUP_OK ? s->state : -1;
}

static void test_mmap_threshold_values(void)
{
    u_boot();
    TA_OPT_SET(thresholds_fixed, false);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 256 * 1024), 1);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 256 * U_KIB);
    CU_ASSERT(ta_opt.thresholds_fixed);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024), 1);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 32 * U_MIB);
    /* Above glibc's HEAP_MAX_SIZE / 2 and negative values: rejected, unchanged. */
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024 + 1), 0);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024), 0);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, -1), 0);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 32 * U_MIB);
}

static void test_mmap_threshold_zero(void)
{
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 0), 1);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 0);
    /* Every allocation above the small limit gets its own mapping. */
    const size_t sz[] = {TA_SMALL_MAX + 1, 40 * U_KIB, 64 * U_KIB, 100 * U_KIB, U_MIB};
    for (unsigned i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        void *p = ta_malloc(u_opaque(sz[i]));
        CU_ASSERT_EQUAL(state_of(p), TA_SPAN_MMAP);
        ta_free(p);
    }
    /* Small sizes stay in slabs. */
    void *p = ta_malloc(u_opaque(TA_SMALL_MAX));
    CU_ASSERT_EQUAL(state_of(p), TA_SPAN_SLAB);
    ta_free(p);
    p = ta_malloc(1);
    CU_ASSERT_EQUAL(state_of(p), TA_SPAN_SLAB);
    ta_free(p);
    /* Set by the user: freeing mapped blocks no longer moves it. */
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 0);
}

static void test_mmap_max(void)
{
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_THRESHOLD, 128 * 1024), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, 0), 1);
    CU_ASSERT_EQUAL(ta_opt.mmap_max, 0);
    CU_ASSERT(ta_opt.thresholds_fixed);
    /* None mapped, not even 1 MiB or 40 MiB. */
    const size_t sz[] = {200 * U_KIB, U_MIB, 40 * U_MIB};
    for (unsigned i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        void *p = ta_malloc(u_opaque(sz[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(state_of(p), TA_SPAN_BLOCK);
        memset(p, 1, sz[i]);
        ta_free(p);
    }
    /* A limit of n: the first n live blocks are mapped, the next is not. */
    uint64_t live = __atomic_load_n(&ta_large_count, __ATOMIC_RELAXED);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, (int)live + 2), 1);
    void *a = ta_malloc(300 * U_KIB), *b = ta_malloc(300 * U_KIB), *c = ta_malloc(300 * U_KIB);
    CU_ASSERT_EQUAL(state_of(a), TA_SPAN_MMAP);
    CU_ASSERT_EQUAL(state_of(b), TA_SPAN_MMAP);
    CU_ASSERT_EQUAL(state_of(c), TA_SPAN_BLOCK);
    ta_free(b);
    void *d = ta_malloc(300 * U_KIB);
    CU_ASSERT_EQUAL(state_of(d), TA_SPAN_MMAP);
    ta_free(a);
    ta_free(c);
    ta_free(d);
    /* Negative counts as 0. */
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, -5), 1);
    CU_ASSERT_EQUAL(ta_opt.mmap_max, 0);
}

/* The main arena's break heap must grow for this many pages. */
static size_t pages_forcing_growth(void)
{
    return TA_MAX((size_t)(ta_main_arena.free_bytes >> 12) + 64, 256);
}

static void test_trim_threshold(void)
{
    TA_OPT_SET(background_trim, 0); /* glibc's synchronous trim inside free */
    u_boot();
    TA_OPT_SET(thresholds_fixed, false);
    CU_ASSERT_EQUAL(ta_mallopt(M_TRIM_THRESHOLD, 1024 * 1024), 1);
    CU_ASSERT_EQUAL(ta_opt.trim_threshold, U_MIB);
    CU_ASSERT(ta_opt.thresholds_fixed);
    /* -1: never (glibc keeps it as an unsigned long). */
    CU_ASSERT_EQUAL(ta_mallopt(M_TRIM_THRESHOLD, -1), 1);
    CU_ASSERT_EQUAL(ta_opt.trim_threshold, (uint64_t)(unsigned long)-1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, 0), 1); /* page runs only */

    ta_arena_t *a = &ta_main_arena;
    size_t np = pages_forcing_growth();
    void *p = ta_malloc(np * U_PAGE);
    CU_ASSERT_EQUAL_FATAL(state_of(p), TA_SPAN_BLOCK);
    uintptr_t b1 = (uintptr_t)sbrk(0);
    CU_ASSERT_EQUAL_FATAL(a->brk_end, b1);
    ta_free(p);
    CU_ASSERT_EQUAL((uintptr_t)sbrk(0), b1); /* kept */

    /* A low threshold: the next such free gives the top back. */
    CU_ASSERT_EQUAL(ta_mallopt(M_TRIM_THRESHOLD, 64 * 1024), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_TOP_PAD, 0), 1);
    p = ta_malloc(np * U_PAGE);
    CU_ASSERT_EQUAL_FATAL(state_of(p), TA_SPAN_BLOCK);
    CU_ASSERT_EQUAL((uintptr_t)sbrk(0), b1); /* reused the kept top */
    ta_free(p);
    CU_ASSERT((uintptr_t)sbrk(0) <= b1 - np * U_PAGE);
    CU_ASSERT_EQUAL(a->brk_end, (uintptr_t)sbrk(0));
}

static void test_top_pad(void)
{
    TA_OPT_SET(background_trim, 0); /* glibc's synchronous trim inside free */
    u_boot();
    TA_OPT_SET(thresholds_fixed, false);
    CU_ASSERT_EQUAL(ta_mallopt(M_TOP_PAD, 256 * 1024), 1);
    CU_ASSERT_EQUAL(ta_opt.top_pad, 256 * U_KIB);
    CU_ASSERT(ta_opt.thresholds_fixed);
    CU_ASSERT_EQUAL(ta_mallopt(M_TRIM_THRESHOLD, 64 * 1024), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, 0), 1);

    ta_arena_t *a = &ta_main_arena;
    ta_arena_trim(a, 0, false);
    size_t np = pages_forcing_growth();
    uintptr_t b0 = (uintptr_t)sbrk(0);
    void *p = ta_malloc(np * U_PAGE);
    CU_ASSERT_EQUAL_FATAL(state_of(p), TA_SPAN_BLOCK);
    uintptr_t b1 = (uintptr_t)sbrk(0);
    /* Growth asks for the request plus M_TOP_PAD. */
    CU_ASSERT(b1 - b0 >= np * U_PAGE + 256 * U_KIB);
    CU_ASSERT(b1 - b0 < np * U_PAGE + 256 * U_KIB + U_PAGE);
    /* A trim keeps M_TOP_PAD bytes on top. */
    ta_free(p);
    uintptr_t b2 = (uintptr_t)sbrk(0);
    CU_ASSERT(b2 < b1);
    ta_span_t *t = ta_pagemap_get(b2 - U_PAGE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->state, TA_SPAN_FREE);
    CU_ASSERT_EQUAL(ta_span_end(t), b2);
    CU_ASSERT_EQUAL(t->npages * U_PAGE, 256 * U_KIB);
}

/* M_TOP_PAD -1 (glibc: an unsigned long, "keep everything") must not wrap
 * around into "keep nothing" when the top is trimmed. */
static void test_top_pad_huge(void)
{
    u_boot();
    CU_ASSERT_EQUAL(ta_mallopt(M_TOP_PAD, -1), 1);
    CU_ASSERT_EQUAL(ta_opt.top_pad, (uint64_t)(unsigned long)-1);
    CU_ASSERT_EQUAL(ta_mallopt(M_TRIM_THRESHOLD, 64 * 1024), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MMAP_MAX, 0), 1);
    ta_arena_t *a = &ta_main_arena;
    size_t np = pages_forcing_growth();
    void *p = ta_malloc(np * U_PAGE);
    CU_ASSERT_EQUAL_FATAL(state_of(p), TA_SPAN_BLOCK);
    uintptr_t b1 = (uintptr_t)sbrk(0);
    CU_ASSERT_EQUAL_FATAL(a->brk_end, b1);
    ta_free(p);
    CU_ASSERT_EQUAL((uintptr_t)sbrk(0), b1);
    /* Give the (up to 1 GiB of) padding back with the default options. */
    ta_options_restore(&unit_default_opt);
    ta_arena_trim(a, ta_opt.top_pad, false);
}

static void test_perturb(void)
{
    CU_ASSERT_EQUAL(ta_mallopt(M_PERTURB, 0x5a), 1);
    CU_ASSERT_EQUAL(ta_opt.perturb, 0x5a);
    CU_ASSERT(!ta_opt.thresholds_fixed || unit_default_opt.thresholds_fixed);
    TA_OPT_SET(mmap_threshold, 32 * U_MIB);
    TA_OPT_SET(trim_threshold, SIZE_MAX); /* freed pages stay readable */

    /* New blocks are filled with ~byte, over the requested size. */
    unsigned char *keep = ta_malloc(100);
    unsigned char *p = ta_malloc(100);
    CU_ASSERT_FATAL(keep && p);
    CU_ASSERT_EQUAL(u_first_not(p, 100, 0xa5), -1);
    unsigned char *b = ta_malloc(64 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(state_of(b), TA_SPAN_BLOCK);
    CU_ASSERT_EQUAL(u_first_not(b, 64 * U_KIB, 0xa5), -1);

    /* Freed blocks are filled with byte over their usable size, except that
     * (as in glibc, whose free chunks carry their list links there) the
     * first 16 bytes may hold the allocator's own free-block marks. */
    size_t pu = ta_malloc_usable_size(p);
    CU_ASSERT(pu >= 100 && pu > 16);
    memset(p, 0, pu);
    ta_free(p);
    CU_ASSERT_EQUAL(u_first_not(p + 16, pu - 16, 0x5a), -1);
    memset(b, 0, 64 * U_KIB);
    ta_free(b);
    CU_ASSERT_EQUAL(u_first_not(b + 16, 64 * U_KIB - 16, 0x5a), -1);

    /* calloc still zeroes. */
    unsigned char *z = ta_calloc(1, 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    CU_ASSERT_EQUAL(u_first_not(z, 200, 0), -1);
    ta_free(z);
    ta_free(keep);

    /* Only the low byte counts; 0 turns it off. */
    CU_ASSERT_EQUAL(ta_mallopt(M_PERTURB, 0x1ff), 1);
    CU_ASSERT_EQUAL(ta_opt.perturb, 0xff);
    CU_ASSERT_EQUAL(ta_mallopt(M_PERTURB, 0), 1);
    CU_ASSERT_EQUAL(ta_opt.perturb, 0);
    p = ta_malloc(100);
    memset(p, 0x11, 100);
    ta_free(p);
    CU_ASSERT_EQUAL(u_first_not(p + 16, 100 - 16, 0x11), -1); /* not filled on free */
}

static void test_arena_params(void)
{
    ta_options_t before = ta_opt;
    CU_ASSERT_EQUAL(ta_mallopt(M_ARENA_MAX, 4), 1);
    CU_ASSERT_EQUAL(ta_opt.arena_max, 4);
    CU_ASSERT_EQUAL(ta_mallopt(M_ARENA_MAX, 0), 1); /* ignored, like glibc */
    CU_ASSERT_EQUAL(ta_opt.arena_max, 4);
    CU_ASSERT_EQUAL(ta_mallopt(M_ARENA_TEST, 3), 1);
    CU_ASSERT_EQUAL(ta_opt.arena_test, 3);
    CU_ASSERT_EQUAL(ta_mallopt(M_ARENA_TEST, -1), 1);
    CU_ASSERT_EQUAL(ta_opt.arena_test, 3);
    CU_ASSERT_EQUAL(ta_opt.thresholds_fixed, before.thresholds_fixed);
}

static void test_mxfast_and_unknown(void)
{
    ta_options_t before = ta_opt;
    CU_ASSERT_EQUAL(ta_mallopt(M_MXFAST, 0), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MXFAST, 64), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MXFAST, 160), 1);
    CU_ASSERT_EQUAL(ta_mallopt(M_MXFAST, 161), 0);
    CU_ASSERT_EQUAL(ta_mallopt(M_MXFAST, -1), 0);
    /* Unknown parameters: 1, like glibc, and nothing changes. */
    CU_ASSERT_EQUAL(ta_mallopt(12345, 1), 1);
    CU_ASSERT_EQUAL(ta_mallopt(-12345, 1), 1);
    CU_ASSERT_EQUAL(ta_mallopt(0, 7), 1);
    CU_ASSERT_EQUAL(memcmp(&before, &ta_opt, sizeof before), 0);
}

TA_SUITE(mallopt)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_mmap_threshold_values);
    TA_ADD(suite, test_mmap_threshold_zero);
    TA_ADD(suite, test_mmap_max);
    TA_ADD(suite, test_trim_threshold);
    TA_ADD(suite, test_top_pad);
    TA_ADD(suite, test_top_pad_huge);
    TA_ADD(suite, test_perturb);
    TA_ADD(suite, test_arena_params);
    TA_ADD(suite, test_mxfast_and_unknown);
}
