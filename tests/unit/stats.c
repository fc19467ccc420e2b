/* Unit suite "stats": the counters behind ta_stats_get and mallinfo2 are
 * conserved — allocation and free counts match the calls, mallinfo2's arena
 * splits into used and free, in-use bytes follow the usable sizes handed out,
 * hblks/hblkhd follow the mapped blocks — and the versioned struct is only
 * written up to the caller's size. */
#include "unit.h"
#include <unistd.h>

static ta_stats_t stats_now(void)
{
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(&st), 0);
    return st;
}

static void test_stats_get_contract(void)
{
    CU_ASSERT_EQUAL(ta_stats_get(NULL), EINVAL);
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION + 1;
    CU_ASSERT_EQUAL(ta_stats_get(&st), EINVAL);
    st.version = TA_STATS_VERSION;
    st.size = 4;
    CU_ASSERT_EQUAL(ta_stats_get(&st), EINVAL);

    /* An older, smaller caller: nothing past its size is written. */
    unsigned char buf[sizeof(ta_stats_t) + 16];
    memset(buf, 0xcd, sizeof buf);
    ta_stats_t *old = (ta_stats_t *)buf;
    size_t small = offsetof(ta_stats_t, in_use_bytes);
    old->size = (uint32_t)small;
    old->version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(old), 0);
    CU_ASSERT_EQUAL(old->size, small);
    CU_ASSERT_EQUAL(old->version, TA_STATS_VERSION);
    CU_ASSERT_EQUAL(u_first_not(buf + small, sizeof buf - small, 0xcd), -1);
    /* A newer, larger caller gets everything we have and no more. */
    memset(buf, 0xcd, sizeof buf);
    old->size = (uint32_t)sizeof buf;
    old->version = TA_STATS_VERSION;
    CU_ASSERT_EQUAL(ta_stats_get(old), 0);
    CU_ASSERT_EQUAL(u_first_not(buf + sizeof(ta_stats_t), 16, 0xcd), -1);
    CU_ASSERT(old->arenas >= 1);
}

static void test_counts_conserve(void)
{
    enum { N = 600 };
    static void *p[N];
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    ta_stats_t s0 = stats_now();
    uint64_t mapped = 0;
    for (int i = 0; i < N; i++) {
        size_t sz = (i % 50 == 0) ? 200 * U_KIB + (size_t)i : (i % 7 == 0) ? 40 * U_KIB + (size_t)i
                                                                    : (size_t)(i * 37 % 5000);
        switch (i % 4) {
        case 0: p[i] = ta_malloc(sz); break;
        case 1: p[i] = ta_calloc(1, sz); break;
        case 2: p[i] = ta_memalign(64, sz); break;
        default: p[i] = ta_realloc(NULL, sz); break;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        mapped += sz >= 128 * U_KIB;
    }
    ta_stats_t s1 = stats_now();
    CU_ASSERT_EQUAL(s1.allocs - s0.allocs, N);
    CU_ASSERT_EQUAL(s1.frees - s0.frees, 0);
    CU_ASSERT_EQUAL(s1.mmapped_blocks - s0.mmapped_blocks, mapped);
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
    ta_stats_t s2 = stats_now();
    CU_ASSERT_EQUAL(s2.allocs - s0.allocs, N);
    CU_ASSERT_EQUAL(s2.frees - s0.frees, N);
    CU_ASSERT_EQUAL(s2.mmapped_blocks, s0.mmapped_blocks);
    CU_ASSERT_EQUAL(s2.mmapped_bytes, s0.mmapped_bytes);
    /* A moving realloc is one allocation and one free; in place, neither. */
    void *q = ta_malloc(24);
    ta_stats_t s3 = stats_now();
    q = ta_realloc(q, 3000);
    ta_stats_t s4 = stats_now();
    CU_ASSERT_EQUAL(s4.allocs - s3.allocs, 1);
    CU_ASSERT_EQUAL(s4.frees - s3.frees, 1);
    q = ta_realloc(q, 2900);
    ta_stats_t s5 = stats_now();
    CU_ASSERT_EQUAL(s5.allocs, s4.allocs);
    CU_ASSERT_EQUAL(s5.frees, s4.frees);
    ta_free(q);
}

static void check_mallinfo2(void)
{
    struct mallinfo2 mi = ta_mallinfo2();
    ta_stats_t st = stats_now();
    CU_ASSERT_EQUAL(mi.arena, mi.uordblks + mi.fordblks);
    CU_ASSERT(mi.fordblks <= mi.arena);
    CU_ASSERT(mi.fsmblks <= mi.fordblks);
    CU_ASSERT(mi.keepcost <= mi.fordblks);
    CU_ASSERT_EQUAL(mi.arena, st.heap_bytes);
    CU_ASSERT_EQUAL(mi.fordblks, st.heap_free_bytes);
    CU_ASSERT_EQUAL(mi.ordblks, st.free_runs);
    CU_ASSERT_EQUAL(mi.hblks, st.mmapped_blocks);
    CU_ASSERT_EQUAL(mi.hblkhd, st.mmapped_bytes);
    CU_ASSERT_EQUAL(mi.keepcost, st.top_bytes);
    CU_ASSERT_EQUAL(mi.uordblks + mi.hblkhd, st.in_use_bytes);
}

static void test_mallinfo2_balance(void)
{
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    check_mallinfo2();
    enum { N = 300 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = ta_malloc((size_t)(i * i * 13) % (300 * U_KIB) + 1);
    check_mallinfo2();
    for (int i = 0; i < N; i += 2)
        ta_free(p[i]);
    check_mallinfo2();
    for (int i = 1; i < N; i += 2)
        ta_free(p[i]);
    check_mallinfo2();
    /* The old struct agrees where the values fit in an int. */
    struct mallinfo2 m2 = ta_mallinfo2();
    struct mallinfo m1 = ta_mallinfo();
    if (m2.arena < 0x7fffffff)
        CU_ASSERT_EQUAL((size_t)m1.arena, m2.arena);
    CU_ASSERT_EQUAL((size_t)m1.hblks, m2.hblks);
}

/* Bytes the program holds: in-use heap bytes less the free blocks sitting in
 * thread caches (which the heap counts as in use, as glibc's uordblks counts
 * its tcache chunks). */
static uint64_t held(const ta_stats_t *st)
{
    return st->in_use_bytes - st->cached_bytes;
}

/* The largest tail a slab of any class leaves unused. */
static uint64_t max_slab_tail(void)
{
    uint64_t m = 0;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        m = TA_MAX(m, (uint64_t)ci->slab_pages * U_PAGE - (uint64_t)ci->slab_objs * ci->size);
    }
    return m;
}

/* Classes whose slabs have no tail: in-use bytes (less the cached ones) move
 * by exactly the usable sizes, as do page runs and mapped blocks; so do the
 * allocated/freed byte counters, for any size. */
static void test_in_use_exact(void)
{
    TA_OPT_SET(mmap_threshold, 256 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    size_t sizes[64];
    unsigned ns = 0;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        if ((size_t)ci->slab_objs * ci->size == (size_t)ci->slab_pages * U_PAGE)
            sizes[ns++] = ci->size;
    }
    CU_ASSERT(ns >= 8);
    sizes[ns++] = 40 * U_KIB;
    sizes[ns++] = 100 * U_KIB + 1;
    sizes[ns++] = 300 * U_KIB;
    sizes[ns++] = 2 * U_MIB + 5;
    enum { REP = 40 };
    static void *p[64 * REP];
    unsigned n = 0;
    uint64_t sum = 0;
    ta_stats_t s0 = stats_now();
    for (unsigned r = 0; r < REP; r++) {
        for (unsigned i = 0; i < ns; i++) {
            p[n] = ta_malloc(sizes[i]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p[n]);
            sum += ta_malloc_usable_size(p[n]);
            n++;
        }
    }
    ta_stats_t s1 = stats_now();
    CU_ASSERT_EQUAL(held(&s1) - held(&s0), sum);
    CU_ASSERT_EQUAL(s1.allocated_bytes - s0.allocated_bytes, sum);
    CU_ASSERT_EQUAL(s1.freed_bytes, s0.freed_bytes);
    /* Every other one, then the rest. */
    uint64_t half = 0;
    for (unsigned i = 0; i < n; i += 2) {
        half += ta_malloc_usable_size(p[i]);
        ta_free(p[i]);
    }
    ta_stats_t s15 = stats_now();
    CU_ASSERT_EQUAL(held(&s1) - held(&s15), half);
    CU_ASSERT_EQUAL(s15.freed_bytes - s0.freed_bytes, half);
    for (unsigned i = 1; i < n; i += 2)
        ta_free(p[i]);
    ta_stats_t s2 = stats_now();
    CU_ASSERT_EQUAL(held(&s2), held(&s0));
    CU_ASSERT_EQUAL(s2.freed_bytes - s0.freed_bytes, sum);
    CU_ASSERT_EQUAL(s2.allocs - s2.frees, s0.allocs - s0.frees);
}

/* Any sizes: the byte counters are exact; held bytes move by the usable
 * sizes give or take the tails of slabs opened (or emptied by the cache's
 * housekeeping) on the way. */
static void test_in_use_approx(void)
{
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    enum { N = 800 };
    static void *p[N];
    static uintptr_t slabs[N];
    unsigned nslabs = 0;
    uint64_t sum = 0, rng = 0x9e3779b97f4a7c15ull;
    ta_stats_t s0 = stats_now();
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t sz = (size_t)(rng >> 33) % ((size_t)1 << ((rng >> 20) % 18)) + 1;
        p[i] = ta_malloc(sz);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        sum += ta_malloc_usable_size(p[i]);
        ta_span_t *s;
        if (ta_lookup(p[i], &s) == TA_LOOKUP_OK && s->state == TA_SPAN_SLAB) {
            unsigned k = 0;
            while (k < nslabs && slabs[k] != s->start)
                k++;
            if (k == nslabs)
                slabs[nslabs++] = s->start;
        }
    }
    ta_stats_t s1 = stats_now();
    CU_ASSERT_EQUAL(s1.allocated_bytes - s0.allocated_bytes, sum);
    CU_ASSERT_EQUAL(s1.allocs - s0.allocs, N);
    int64_t delta = (int64_t)(held(&s1) - held(&s0));
    uint64_t tail = max_slab_tail();
    CU_ASSERT(delta >= (int64_t)sum - (int64_t)(TA_NCLASSES * tail));
    CU_ASSERT(delta <= (int64_t)sum + (int64_t)((nslabs + TA_NCLASSES) * tail));
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
    ta_stats_t s2 = stats_now();
    CU_ASSERT_EQUAL(s2.freed_bytes - s0.freed_bytes, sum);
    CU_ASSERT_EQUAL(s2.frees - s0.frees, N);
}

static void test_hblks(void)
{
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    struct mallinfo2 m0 = ta_mallinfo2();
    const size_t sz[3] = {200 * U_KIB, U_MIB, 3 * U_MIB + 5};
    void *p[3];
    size_t bytes = 0;
    for (int i = 0; i < 3; i++) {
        p[i] = ta_malloc(sz[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        bytes += ta_align_up(sz[i], U_PAGE);
    }
    void *blk = ta_malloc(64 * U_KIB), *small = ta_malloc(1000); /* not mapped */
    struct mallinfo2 m1 = ta_mallinfo2();
    CU_ASSERT_EQUAL(m1.hblks - m0.hblks, 3);
    CU_ASSERT_EQUAL(m1.hblkhd - m0.hblkhd, bytes);
    /* Resizing a mapped block is tracked too. */
    p[1] = ta_realloc(p[1], 2 * U_MIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[1]);
    bytes += U_MIB;
    struct mallinfo2 m2 = ta_mallinfo2();
    CU_ASSERT_EQUAL(m2.hblks - m0.hblks, 3);
    CU_ASSERT_EQUAL(m2.hblkhd - m0.hblkhd, bytes);
    ta_free(p[0]);
    struct mallinfo2 m3 = ta_mallinfo2();
    CU_ASSERT_EQUAL(m3.hblks - m0.hblks, 2);
    CU_ASSERT_EQUAL(m3.hblkhd - m0.hblkhd, bytes - 200 * U_KIB);
    ta_free(p[1]);
    ta_free(p[2]);
    ta_free(blk);
    ta_free(small);
    struct mallinfo2 m4 = ta_mallinfo2();
    CU_ASSERT_EQUAL(m4.hblks, m0.hblks);
    CU_ASSERT_EQUAL(m4.hblkhd, m0.hblkhd);
}

/* Trimming moves bytes out of the heap figures and into trimmed_bytes. */
static void test_trim_accounting(void)
{
    TA_OPT_SET(mmap_threshold, 32 * U_MIB);
    TA_OPT_SET(trim_threshold, SIZE_MAX);
    TA_OPT_SET(top_pad, 0);
    TA_OPT_SET(thresholds_fixed, true);
    /* Start from an empty thread cache (malloc_trim flushes the caller's). */
    ta_malloc_trim(0);
    CU_ASSERT_EQUAL(stats_now().cached_bytes, 0);
    /* More pages than any free run holds: the break heap grows, so its top
     * is ours (no foreign sbrk since). */
    size_t bytes = TA_MAX(ta_main_arena.free_bytes + U_MIB, 4 * U_MIB);
    void *p = ta_malloc(bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(ta_main_arena.brk_end, (uintptr_t)sbrk(0));
    ta_free(p);
    ta_stats_t s0 = stats_now();
    CU_ASSERT(s0.top_bytes >= bytes);
    CU_ASSERT_EQUAL(ta_malloc_trim(0), 1);
    ta_stats_t s1 = stats_now();
    uint64_t gone = s0.heap_bytes - s1.heap_bytes;
    CU_ASSERT(gone >= bytes);
    CU_ASSERT(s1.top_bytes <= U_PAGE);
    /* Only free memory went; trimming and purging both count. */
    CU_ASSERT_EQUAL(s1.cached_bytes, 0);
    CU_ASSERT_EQUAL(s0.heap_bytes - s0.heap_free_bytes, s1.heap_bytes - s1.heap_free_bytes);
    CU_ASSERT(s1.trimmed_bytes - s0.trimmed_bytes >= gone);
}

TA_SUITE(stats)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_stats_get_contract);
    TA_ADD(suite, test_counts_conserve);
    TA_ADD(suite, test_mallinfo2_balance);
    TA_ADD(suite, test_in_use_exact);
    TA_ADD(suite, test_in_use_approx);
    TA_ADD(suite, test_hblks);
    TA_ADD(suite, test_trim_accounting);
}
