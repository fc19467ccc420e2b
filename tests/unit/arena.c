/* Unit suite "arena": the page heap (split, coalesce, aligned runs), top trim
 * of the main arena's break heap with and without a foreign sbrk, the mmap
 * threshold and its dynamic rise, slabs and bins, and ta_lookup's verdicts.
 * Most tests use arenas of their own (set up by ta_arena_init) so that
 * counters start from zero; they grow with mmap'd heaps. */
#include "unit.h"
#include "os.h"
#include <stdlib.h>
#include <unistd.h>

/* Bytes of an arena's heaps that are not in free runs. */
static uint64_t arena_used_bytes(const ta_arena_t *a)
{
    return a->heap_bytes - a->free_bytes;
}

static uintptr_t brk_now(void)
{
    return (uintptr_t)sbrk(0);
}

static void test_split_coalesce(void)
{
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ta_span_t *A = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    ta_span_t *B = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    ta_span_t *C = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    CU_ASSERT_FATAL(A && B && C);
    uintptr_t as = A->start, bs = B->start, cs = C->start;
    CU_ASSERT_EQUAL(A->state, TA_SPAN_BLOCK);
    CU_ASSERT_EQUAL(A->npages, 4);
    CU_ASSERT_PTR_EQUAL(A->arena, a);
    CU_ASSERT_EQUAL(as % U_PAGE, 0);
    /* Carved one after the other from the one fresh heap run. */
    CU_ASSERT_EQUAL(bs, as + 4 * U_PAGE);
    CU_ASSERT_EQUAL(cs, bs + 4 * U_PAGE);
    uint64_t heap = a->heap_bytes;
    CU_ASSERT(heap >= 12 * U_PAGE);
    CU_ASSERT_EQUAL(a->free_runs_n, 1);
    CU_ASSERT_EQUAL(a->free_bytes, heap - 12 * U_PAGE);
    CU_ASSERT_EQUAL(a->block_allocs, 3);
    u_fill((void *)as, 4 * U_PAGE, 1);
    u_fill((void *)bs, 4 * U_PAGE, 2);
    u_fill((void *)cs, 4 * U_PAGE, 3);

    /* Middle first: a run of its own between two live blocks. */
    ta_pages_free(a, B, "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 2);
    CU_ASSERT_EQUAL(a->free_bytes, heap - 8 * U_PAGE);
    ta_span_t *s;
    CU_ASSERT_EQUAL(ta_lookup((void *)bs, &s), TA_LOOKUP_FREED);
    CU_ASSERT_EQUAL(ta_lookup((void *)as, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(ta_lookup((void *)cs, &s), TA_LOOKUP_OK);
    CU_ASSERT(u_check((void *)as, 4 * U_PAGE, 1));
    CU_ASSERT(u_check((void *)cs, 4 * U_PAGE, 3));

    /* The left neighbour merges with it. */
    ta_pages_free(a, A, "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 2);
    CU_ASSERT_EQUAL(a->free_bytes, heap - 4 * U_PAGE);
    CU_ASSERT_EQUAL(ta_lookup((void *)as, &s), TA_LOOKUP_FREED);
    CU_ASSERT_EQUAL(ta_lookup((void *)cs, &s), TA_LOOKUP_OK);
    CU_ASSERT(u_check((void *)cs, 4 * U_PAGE, 3));

    /* The right one joins both sides: one run, the whole heap. */
    ta_pages_free(a, C, "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 1);
    CU_ASSERT_EQUAL(a->free_bytes, heap);
    CU_ASSERT_EQUAL(a->heap_bytes, heap);
    CU_ASSERT_EQUAL(a->block_frees, 3);
    s = ta_pagemap_get(as);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_FREE);
    CU_ASSERT_EQUAL(s->start, as);
    CU_ASSERT_EQUAL(s->npages << 12, heap);
    /* The run's last page leads back to the same run (neighbour lookups). */
    CU_ASSERT_PTR_EQUAL(ta_pagemap_get(as + heap - U_PAGE), s);

    /* And it is usable as one piece again. */
    ta_span_t *all = ta_pages_alloc(a, heap >> 12, 0, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL(all->start, as);
    CU_ASSERT_EQUAL(a->heap_bytes, heap); /* no growth was needed */
    CU_ASSERT_EQUAL(a->free_runs_n, 0);
    ta_pages_free(a, all, "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 1);
}

/* Non-adjacent frees stay apart until the block between them goes. */
static void test_coalesce_order(void)
{
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ta_span_t *s[5];
    for (int i = 0; i < 5; i++) {
        s[i] = ta_pages_alloc(a, (size_t)i + 1, 0, TA_SPAN_BLOCK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
    }
    uint64_t heap = a->heap_bytes;
    CU_ASSERT_EQUAL(a->free_runs_n, 1); /* the tail */
    ta_pages_free(a, s[0], "test");
    ta_pages_free(a, s[2], "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 3);
    CU_ASSERT_EQUAL(arena_used_bytes(a), (2 + 4 + 5) * U_PAGE);
    ta_pages_free(a, s[1], "test"); /* 0,1,2 become one */
    CU_ASSERT_EQUAL(a->free_runs_n, 2);
    CU_ASSERT_EQUAL(arena_used_bytes(a), (4 + 5) * U_PAGE);
    ta_pages_free(a, s[4], "test"); /* joins the tail */
    CU_ASSERT_EQUAL(a->free_runs_n, 2);
    ta_pages_free(a, s[3], "test");
    CU_ASSERT_EQUAL(a->free_runs_n, 1);
    CU_ASSERT_EQUAL(a->free_bytes, heap);
    CU_ASSERT_EQUAL(a->heap_bytes, heap);
}

static void test_pages_alignment(void)
{
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    enum { N = 7 * 3 };
    ta_span_t *spans[N];
    uint64_t live = 0;
    int n = 0;
    /* A one-page block first, so the heap start is not aligned for free. */
    ta_span_t *pad = ta_pages_alloc(a, 1, 0, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pad);
    live += U_PAGE;
    for (size_t align = 64 * U_KIB; align <= 4 * U_MIB; align <<= 1) {
        const size_t np[3] = {1, 3, 17};
        for (int k = 0; k < 3; k++) {
            ta_span_t *s = ta_pages_alloc(a, np[k], align, TA_SPAN_BLOCK);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            CU_ASSERT_EQUAL(s->start % align, 0);
            CU_ASSERT_EQUAL(s->npages, np[k]);
            CU_ASSERT_EQUAL(s->state, TA_SPAN_BLOCK);
            ta_span_t *l;
            CU_ASSERT_EQUAL(ta_lookup((void *)s->start, &l), TA_LOOKUP_OK);
            CU_ASSERT_PTR_EQUAL(l, s);
            memset((void *)s->start, 0x3c, np[k] * U_PAGE);
            live += np[k] * U_PAGE;
            /* The skipped lead went back to the free runs, nothing leaked. */
            CU_ASSERT_EQUAL(arena_used_bytes(a), live);
            spans[n++] = s;
        }
    }
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(u_first_not((void *)spans[i]->start, spans[i]->npages * U_PAGE, 0x3c), -1);
        ta_pages_free(a, spans[i], "test");
    }
    ta_pages_free(a, pad, "test");
    CU_ASSERT_EQUAL(a->free_bytes, a->heap_bytes);
    CU_ASSERT_EQUAL(a->block_allocs, a->block_frees);
}

/* Pages of the main arena: enough that no free run can hold them, so the
 * break heap has to grow. */
static size_t pages_forcing_growth(const ta_arena_t *a)
{
    return TA_MAX((size_t)(a->free_bytes >> 12) + 64, 256);
}

static ta_span_t *top_run(ta_arena_t *a)
{
    ta_span_t *t = a->brk_end ? ta_pagemap_get(a->brk_end - U_PAGE) : NULL;
    if (!t || t->state != TA_SPAN_FREE || t->arena != a || ta_span_end(t) != a->brk_end)
        return NULL;
    return t;
}

static void test_top_trim(void)
{
    TA_OPT_SET(background_trim, 0); /* glibc's synchronous trim inside free */
    u_boot();
    ta_arena_t *a = &ta_main_arena;
    TA_OPT_SET(trim_threshold, 128 * U_KIB);
    TA_OPT_SET(top_pad, 64 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    ta_arena_trim(a, 0, false); /* start from a small top (if the break is ours) */

    size_t np = pages_forcing_growth(a);
    uintptr_t b0 = brk_now();
    uint64_t trimmed0 = a->trimmed_bytes, foreign0 = a->brk_foreign;
    ta_span_t *s = ta_pages_alloc(a, np, 0, TA_SPAN_BLOCK);
    uintptr_t b1 = brk_now();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(b1 >= b0 + np * U_PAGE);
    CU_ASSERT_EQUAL(s->origin, TA_ORIGIN_SBRK);
    CU_ASSERT_EQUAL(a->brk_end, b1);
    CU_ASSERT(ta_span_end(s) <= b1);
    memset((void *)s->start, 0x77, np * U_PAGE);

    ta_pages_free(a, s, "test");
    uintptr_t b2 = brk_now();
    CU_ASSERT(b2 < b1);
    CU_ASSERT(b1 - b2 >= np * U_PAGE);
    CU_ASSERT_EQUAL(a->brk_end, b2);
    CU_ASSERT_EQUAL(a->trimmed_bytes - trimmed0, b1 - b2);
    CU_ASSERT_EQUAL(a->brk_foreign, foreign0);
    /* M_TOP_PAD bytes are kept on top. */
    ta_span_t *t = top_run(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->npages * U_PAGE, 64 * U_KIB);
}

static void test_top_trim_foreign_sbrk(void)
{
    TA_OPT_SET(background_trim, 0); /* glibc's synchronous trim inside free */
    u_boot();
    ta_arena_t *a = &ta_main_arena;
    TA_OPT_SET(trim_threshold, 128 * U_KIB);
    TA_OPT_SET(top_pad, 64 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);

    size_t np = pages_forcing_growth(a);
    ta_span_t *s = ta_pages_alloc(a, np, 0, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    uintptr_t b1 = brk_now();
    CU_ASSERT_EQUAL_FATAL(a->brk_end, b1);
    uintptr_t start = s->start;
    u_fill((void *)start, np * U_PAGE, 9);

    /* Somebody else takes a page above our heap. */
    void *f = sbrk(4096);
    CU_ASSERT_EQUAL_FATAL((uintptr_t)f, b1);
    memset(f, 0x99, 4096);
    uint64_t trimmed0 = a->trimmed_bytes, foreign0 = a->brk_foreign, heap0 = a->heap_bytes;

    ta_pages_free(a, s, "test");
    CU_ASSERT_EQUAL(brk_now(), b1 + 4096); /* no shrink */
    CU_ASSERT_EQUAL(a->brk_end, b1);
    CU_ASSERT_EQUAL(a->trimmed_bytes, trimmed0);
    CU_ASSERT_EQUAL(a->heap_bytes, heap0);
    CU_ASSERT(a->brk_foreign > foreign0);
    CU_ASSERT_EQUAL(u_first_not(f, 4096, 0x99), -1);
    ta_span_t *t = top_run(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->npages >= np);

    /* Nothing is corrupted: the same pages come back without growth and are
     * fully usable, and the foreign page is left alone. */
    ta_span_t *s2 = ta_pages_alloc(a, np, 0, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    CU_ASSERT_EQUAL(brk_now(), b1 + 4096);
    CU_ASSERT(s2->start >= start - np * U_PAGE && ta_span_end(s2) <= b1);
    ta_span_t *l;
    CU_ASSERT_EQUAL(ta_lookup((void *)s2->start, &l), TA_LOOKUP_OK);
    memset((void *)s2->start, 0x42, np * U_PAGE);
    CU_ASSERT_EQUAL(u_first_not(f, 4096, 0x99), -1);
    ta_pages_free(a, s2, "test");
    CU_ASSERT_EQUAL(ta_arena_trim(a, 64 * U_KIB, false), 0);
    CU_ASSERT(a->brk_foreign >= foreign0 + 3);
    CU_ASSERT_EQUAL(brk_now(), b1 + 4096);

    /* Once the foreign page is gone the top can shrink again. */
    sbrk(-4096);
    CU_ASSERT_EQUAL(brk_now(), b1);
    size_t rel = ta_arena_trim(a, 64 * U_KIB, false);
    CU_ASSERT(rel >= np * U_PAGE);
    CU_ASSERT_EQUAL(brk_now(), b1 - rel);
    CU_ASSERT_EQUAL(a->brk_end, brk_now());
    t = top_run(a);
    CU_ASSERT_PTR_NOT_NULL(t);
    if (t)
        CU_ASSERT_EQUAL(t->npages * U_PAGE, 64 * U_KIB);
}

/* A pad larger than the top keeps it all (glibc's systrim: top <= pad -> 0). */
static void test_trim_huge_pad(void)
{
    u_boot();
    ta_arena_t *a = &ta_main_arena;
    TA_OPT_SET(trim_threshold, SIZE_MAX); /* no trim on free */
    TA_OPT_SET(top_pad, 0);
    TA_OPT_SET(thresholds_fixed, true);
    size_t np = pages_forcing_growth(a);
    ta_span_t *s = ta_pages_alloc(a, np, 0, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    ta_pages_free(a, s, "test");
    uintptr_t b1 = brk_now();
    CU_ASSERT_EQUAL_FATAL(a->brk_end, b1);
    ta_span_t *t = top_run(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    size_t top = t->npages * U_PAGE;
    CU_ASSERT(top >= np * U_PAGE);
    const size_t pads[] = {top, top - U_PAGE, top + 1, (size_t)1 << 40,
                           SIZE_MAX - 2 * U_PAGE, SIZE_MAX - 1, SIZE_MAX};
    for (unsigned i = 0; i < sizeof pads / sizeof pads[0]; i++) {
        CU_ASSERT_EQUAL(ta_arena_trim(a, pads[i], false), 0);
        CU_ASSERT_EQUAL(brk_now(), b1);
    }
    ta_arena_trim(a, 0, false);
}

static void test_mmap_threshold(void)
{
    u_boot();
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(trim_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, false);
    ta_span_t *s;

    void *p = ta_malloc(200 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(p, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_MMAP);
    CU_ASSERT_PTR_NULL(s->arena);
    CU_ASSERT_EQUAL((uintptr_t)p % U_PAGE, 0);
    CU_ASSERT_EQUAL(ta_block_usable(s), 200 * U_KIB);

    void *q = ta_malloc(64 * U_KIB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(q, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_BLOCK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->arena);
    CU_ASSERT_PTR_EQUAL(s->arena, ta_arena_get(s->arena->index));

    /* A freed mapped block above the threshold raises it (glibc's dynamic
     * threshold) to one page above the block, so the same request comes
     * from the heap next time, and the trim threshold to twice that. */
    const size_t raised = 1 * U_MIB + U_PAGE;
    void *r = ta_malloc(1 * U_MIB);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(r, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_MMAP);
    ta_free(r);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, raised);
    CU_ASSERT_EQUAL(ta_opt.trim_threshold, 2 * raised);
    CU_ASSERT_EQUAL(ta_lookup(r, &s), TA_LOOKUP_INVALID);
    r = ta_malloc(1 * U_MIB);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(r, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_BLOCK);
    ta_free(r);

    /* Now 200 KiB is a page run. */
    void *p2 = ta_malloc(200 * U_KIB);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(p2, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_BLOCK);
    ta_free(p2);
    ta_free(p);
    ta_free(q);
    /* A smaller mapped block does not lower it. */
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, raised);

    /* Above glibc's 32 MiB ceiling the threshold stays. */
    void *big = ta_malloc(40 * U_MIB);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(big, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_MMAP);
    ta_free(big);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, raised);
}

static void test_mmap_threshold_fixed(void)
{
    u_boot();
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(trim_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    void *r = ta_malloc(1 * U_MIB);
    ta_span_t *s;
    CU_ASSERT_EQUAL_FATAL(ta_lookup(r, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_MMAP);
    ta_free(r);
    CU_ASSERT_EQUAL(ta_opt.mmap_threshold, 128 * U_KIB);
    CU_ASSERT_EQUAL(ta_opt.trim_threshold, 128 * U_KIB);
}

static int cmp_ptr(const void *x, const void *y)
{
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

/* Every class: fill three slabs' worth (plus one), check the objects, give
 * them back; all but the bin's last slab return to the page heap. */
static void test_slabs_all_classes(void)
{
    static void *objs[2 * TA_SLAB_MAX_OBJS + 1], *sorted[2 * TA_SLAB_MAX_OBJS + 1];
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_class_info_t *ci = &ta_classes[c];
        ta_bin_t *bin = &a->bins[c];
        unsigned n = 2u * ci->slab_objs + 1;
        uint64_t used0 = arena_used_bytes(a);
        CU_ASSERT_EQUAL(bin->nslabs, 0);
        unsigned got = u_bin_alloc(a, c, objs, n);
        CU_ASSERT_EQUAL_FATAL(got, n);
        CU_ASSERT_EQUAL(bin->nslabs, 3);
        CU_ASSERT_EQUAL(bin->free_slots, ci->slab_objs - 1u);
        CU_ASSERT_EQUAL(bin->nmalloc, n);
        CU_ASSERT_EQUAL(arena_used_bytes(a) - used0, 3u * ci->slab_pages * U_PAGE);

        unsigned bad = 0;
        ta_span_t *spans[3] = {0};
        unsigned nspans = 0;
        for (unsigned i = 0; i < n; i++) {
            ta_span_t *s;
            if (ta_lookup(objs[i], &s) != TA_LOOKUP_OK || s->state != TA_SPAN_SLAB ||
                s->sclass != c || s->arena != a || s->npages != ci->slab_pages ||
                ((uintptr_t)objs[i] - s->start) % ci->size ||
                ((uintptr_t)objs[i] - s->start) / ci->size >= ci->slab_objs ||
                (uintptr_t)objs[i] % TA_QUANTUM) {
                bad++;
                continue;
            }
            if (!nspans || spans[nspans - 1] != s) {
                if (nspans < 3)
                    spans[nspans] = s;
                nspans++;
            } else if ((uintptr_t)objs[i] - (uintptr_t)objs[i - 1] != ci->size) {
                bad++; /* one slab is handed out in address order */
            }
            if (ta_block_usable(s) != ci->size)
                bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(nspans, 3);
        /* All distinct and disjoint. */
        memcpy(sorted, objs, n * sizeof objs[0]);
        qsort(sorted, n, sizeof sorted[0], cmp_ptr);
        unsigned overlap = 0;
        for (unsigned i = 1; i < n; i++)
            if ((uintptr_t)sorted[i] - (uintptr_t)sorted[i - 1] < ci->size)
                overlap++;
        CU_ASSERT_EQUAL(overlap, 0);
        /* Writable without stepping on each other. */
        for (unsigned i = 0; i < n; i++)
            memset(objs[i], (int)(i & 0xff), ci->size);
        unsigned smashed = 0;
        for (unsigned i = 0; i < n; i++)
            smashed += u_first_not(objs[i], ci->size, (unsigned char)(i & 0xff)) != -1;
        CU_ASSERT_EQUAL(smashed, 0);

        ta_bin_free(a, c, objs, n, "test");
        CU_ASSERT_EQUAL(bin->nfree, n);
        CU_ASSERT_EQUAL(bin->nslabs, 1);
        CU_ASSERT_EQUAL(bin->free_slots, ci->slab_objs);
        CU_ASSERT_EQUAL(arena_used_bytes(a) - used0, (uint64_t)ci->slab_pages * U_PAGE);
        /* The retired slabs' objects are no longer blocks. */
        CU_ASSERT_PTR_NOT_NULL_FATAL(bin->partial);
        uintptr_t kept = bin->partial->start, kept_end = ta_span_end(bin->partial);
        unsigned live = 0;
        for (unsigned i = 0; i < n; i++) {
            ta_span_t *s;
            if ((uintptr_t)objs[i] < kept || (uintptr_t)objs[i] >= kept_end)
                live += ta_lookup(objs[i], &s) == TA_LOOKUP_OK;
        }
        CU_ASSERT_EQUAL(live, 0);

        /* The kept slab serves the next allocation: no new slab. */
        void *one;
        CU_ASSERT_EQUAL(u_bin_alloc(a, c, &one, 1), 1);
        CU_ASSERT_EQUAL(bin->nslabs, 1);
        CU_ASSERT_EQUAL(arena_used_bytes(a) - used0, (uint64_t)ci->slab_pages * U_PAGE);
        ta_bin_free(a, c, &one, 1, "test");
    }
}

static void test_lookup_verdicts(void)
{
    static int global_var;
    int stack_var;
    ta_arena_t *a = u_new_arena();
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ta_span_t *s;

    /* Slab of 48-byte objects: 85 per page, 16 bytes of tail. */
    unsigned c = ta_size2class(48);
    CU_ASSERT_EQUAL_FATAL(ta_class2size(c), 48);
    void *o[2];
    CU_ASSERT_EQUAL_FATAL(u_bin_alloc(a, c, o, 2), 2);
    char *p = o[0];
    CU_ASSERT_EQUAL(ta_lookup(p, &s), TA_LOOKUP_OK);
    uintptr_t slab = s->start;
    CU_ASSERT_EQUAL(ta_lookup(p + 1, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(p + 16, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(p + 47, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup((void *)(slab + 85 * 48), &s), TA_LOOKUP_INVALID); /* tail */
    CU_ASSERT_EQUAL(ta_lookup(o[1], &s), TA_LOOKUP_OK);
    /* A slot the slab never handed out is no block either. */
    CU_ASSERT_EQUAL(ta_lookup((void *)(slab + 84 * 48), &s), TA_LOOKUP_INVALID);

    /* Page runs: only the first byte is a block. */
    ta_span_t *A = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    ta_span_t *B = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    ta_span_t *C = ta_pages_alloc(a, 4, 0, TA_SPAN_BLOCK);
    CU_ASSERT_FATAL(A && B && C);
    char *bp = (char *)B->start;
    CU_ASSERT_EQUAL(ta_lookup(bp, &s), TA_LOOKUP_OK);
    CU_ASSERT_PTR_EQUAL(s, B);
    CU_ASSERT_EQUAL(ta_lookup(bp + 16, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(bp + U_PAGE, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(bp + 3 * U_PAGE + 100, &s), TA_LOOKUP_INVALID);
    ta_pages_free(a, B, "test");
    CU_ASSERT_EQUAL(ta_lookup(bp, &s), TA_LOOKUP_FREED);

    /* Mapped blocks. */
    TA_OPT_SET(mmap_threshold, 128 * U_KIB);
    TA_OPT_SET(thresholds_fixed, true);
    char *m = ta_malloc(300 * U_KIB);
    CU_ASSERT_EQUAL_FATAL(ta_lookup(m, &s), TA_LOOKUP_OK);
    CU_ASSERT_EQUAL(s->state, TA_SPAN_MMAP);
    CU_ASSERT_EQUAL(ta_lookup(m + 16, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(m + U_PAGE, &s), TA_LOOKUP_INVALID);
    ta_free(m);
    CU_ASSERT_EQUAL(ta_lookup(m, &s), TA_LOOKUP_INVALID);

    /* Never ours. */
    CU_ASSERT_EQUAL(ta_lookup(NULL, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup((void *)16, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(&stack_var, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup(&global_var, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup((void *)test_lookup_verdicts, &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup((void *)((uintptr_t)1 << 50), &s), TA_LOOKUP_INVALID);
    CU_ASSERT_EQUAL(ta_lookup((void *)(UINTPTR_MAX & ~(uintptr_t)15), &s), TA_LOOKUP_INVALID);
    void *sys = malloc(100); /* the process's malloc: glibc, or libtarena.so under preload */
    CU_ASSERT_EQUAL(ta_lookup(sys, &s), TA_LOOKUP_INVALID);
    free(sys);
    void *raw;
    CU_ASSERT_EQUAL_FATAL(ta_os_map(U_PAGE, U_PAGE, &raw), 0);
    CU_ASSERT_EQUAL(ta_lookup(raw, &s), TA_LOOKUP_INVALID);
    ta_os_unmap(raw, U_PAGE);

    ta_bin_free(a, c, o, 2, "test");
    ta_pages_free(a, A, "test");
    ta_pages_free(a, C, "test");
}

/* Blocks from slots no block was handed out from since the slab was made
 * come tagged fresh (they carry no free key, so handing them out skips the
 * store that clears it); a slot handed out once never comes tagged again,
 * even after a free, whatever order the slots are taken in (hardened mode
 * takes them at random). A fresh tag on a reused slot would hand out a
 * block still marked free: its next legitimate free would abort. */
static void test_fresh_tags(void)
{
    enum { N = 40 };
    for (int random = 0; random <= 1; random++) {
        ta_arena_t *a = u_new_arena();
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        unsigned c = ta_size2class(64);
        unsigned saved_hardened = ta_hardened;
        ta_hardened = random ? TA_HARDEN_RANDOM : 0;
        void *o[N], *again[N];
        CU_ASSERT_EQUAL_FATAL(ta_bin_alloc(a, c, o, N, NULL), N);
        unsigned untagged = 0;
        for (unsigned i = 0; i < N; i++) {
            untagged += !((uintptr_t)o[i] & TA_FRESH_TAG);
            o[i] = ta_block_untag(o[i]);
        }
        /* In address order every slot of a new slab is fresh (no tags at all
         * with checks off); at random, only those past the highest one taken
         * so far count as fresh, which errs on the safe side. */
        if (!random)
            CU_ASSERT_EQUAL(untagged, TA_FRESH_TAG ? 0 : N);
        /* Every other one back, then take N again: the N/2 freed slots
         * must come back untagged, the new ones tagged. */
        void *back[N / 2];
        for (unsigned i = 0; i < N / 2; i++)
            back[i] = o[2 * i];
        ta_bin_free(a, c, back, N / 2, "test");
        CU_ASSERT_EQUAL_FATAL(ta_bin_alloc(a, c, again, N, NULL), N);
        unsigned reused_tagged = 0, new_untagged = 0, reused = 0;
        for (unsigned i = 0; i < N; i++) {
            void *p = ta_block_untag(again[i]);
            bool was_out = false;
            for (unsigned k = 0; k < N / 2; k++)
                was_out |= p == back[k];
            reused += was_out;
            if (was_out)
                reused_tagged += ((uintptr_t)again[i] & TA_FRESH_TAG) != 0;
            else if (!random)
                new_untagged += !((uintptr_t)again[i] & TA_FRESH_TAG);
            again[i] = p;
        }
        ta_hardened = saved_hardened;
        /* In address order the freed slots, the lowest, all come back; at
         * random most of them do. */
        CU_ASSERT(random ? reused > 0 : reused == N / 2);
        CU_ASSERT_EQUAL(reused_tagged, 0);
        /* In address order, slots past the highest one used are all new. */
        CU_ASSERT_EQUAL(new_untagged, TA_FRESH_TAG ? 0 : N / 2);
        ta_bin_free(a, c, again, N, "test");
        for (unsigned i = 0; i < N / 2; i++)
            back[i] = o[2 * i + 1];
        ta_bin_free(a, c, back, N / 2, "test");
    }
}

TA_SUITE(arena)
{
    UNIT_FIXTURE(suite);
    TA_ADD(suite, test_split_coalesce);
    TA_ADD(suite, test_coalesce_order);
    TA_ADD(suite, test_pages_alignment);
    TA_ADD(suite, test_top_trim);
    TA_ADD(suite, test_top_trim_foreign_sbrk);
    TA_ADD(suite, test_trim_huge_pad);
    TA_ADD(suite, test_mmap_threshold);
    TA_ADD(suite, test_mmap_threshold_fixed);
    TA_ADD(suite, test_slabs_all_classes);
    TA_ADD(suite, test_lookup_verdicts);
    TA_ADD(suite, test_fresh_tags);
}
