/* The page heap of an arena: free runs in size buckets, split on allocation,
 * coalesced with both neighbours on free (found through the page map), and
 * heap growth (sbrk for the main arena, mmap'd heaps otherwise or when sbrk
 * fails). Giving memory back is purge.c's job. Page lock held throughout. */
#include "pages_internal.h"
#include "options.h"
#include "log.h"
#include "os.h"
#include <stdlib.h>

/* Heaps grown with mmap come in at least this size. */
#define TA_MAP_HEAP_MIN ((size_t)1 << 20)
#define TA_MAP_HEAP_STEP_MAX ((size_t)64 << 20)

static unsigned pages_bucket(size_t npages)
{
    if (npages <= TA_EXACT_BUCKETS)
        return (unsigned)npages - 1;
    unsigned lg = 63u - (unsigned)__builtin_clzll(npages); /* >= 6 */
    unsigned b = TA_EXACT_BUCKETS + (lg - 6);
    return b < TA_NBUCKETS ? b : TA_NBUCKETS - 1;
}

void ta_runs_insert(ta_arena_t *a, ta_span_t *s)
{
    unsigned b = pages_bucket(s->npages);
    s->prev = NULL;
    s->next = a->free_runs[b];
    if (s->next)
        s->next->prev = s;
    a->free_runs[b] = s;
    a->nonempty[b / 64] |= 1ull << (b % 64);
    a->free_bytes += s->npages << TA_PAGE_SHIFT;
    TA_OWNER_ADD(a->dirty_pages, s->dirty_pages); /* read unlocked by the trimmer */
    a->free_runs_n++;
}

void ta_runs_remove(ta_arena_t *a, ta_span_t *s)
{
    unsigned b = pages_bucket(s->npages);
    if (s->prev)
        s->prev->next = s->next;
    else
        a->free_runs[b] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (!a->free_runs[b])
        a->nonempty[b / 64] &= ~(1ull << (b % 64));
    a->free_bytes -= s->npages << TA_PAGE_SHIFT;
    TA_RELAXED_STORE(a->dirty_pages, a->dirty_pages - s->dirty_pages);
    a->free_runs_n--;
}

/* First non-empty bucket >= b, or TA_NBUCKETS. */
static unsigned runs_next_bucket(const ta_arena_t *a, unsigned b)
{
    for (unsigned w = b / 64; w < TA_NBUCKETS / 64; w++) {
        uint64_t bits = a->nonempty[w];
        if (w == b / 64)
            bits &= ~0ull << (b % 64);
        if (bits)
            return w * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return TA_NBUCKETS;
}

static ta_span_t *runs_find(ta_arena_t *a, size_t npages)
{
    unsigned b = pages_bucket(npages);
    if (b >= TA_EXACT_BUCKETS) {
        /* Mixed sizes in a power-of-two bucket: first fit. */
        for (ta_span_t *s = a->free_runs[b]; s; s = s->next)
            if (s->npages >= npages)
                return s;
        b++;
    }
    b = runs_next_bucket(a, b);
    return b < TA_NBUCKETS ? a->free_runs[b] : NULL;
}

/* Marks the run's boundary pages so neighbours can find it when they free. */
void ta_run_publish(ta_span_t *s)
{
    ta_pagemap_set(s->start, 1, s);
    if (s->npages > 1)
        ta_pagemap_set(ta_span_end(s) - TA_PAGE_SIZE, 1, s);
}

/* n comes from a page-map entry that may be stale: its arena is read first
 * and nothing else unless that is a (see ta_span_delete); its state may be
 * changing under a bin lock (a slab retiring), which only "not FREE" sees. */
static bool run_mergeable(const ta_arena_t *a, const ta_span_t *s, const ta_span_t *n)
{
    return n && n != s && TA_RELAXED_LOAD(n->arena) == a && TA_RELAXED_LOAD(n->state) == TA_SPAN_FREE &&
           n->origin == s->origin;
}

/* Inserts a free run, merging it with free neighbours. s->dirty_pages says
 * how much of s may be resident. Returns the merged run. */
ta_span_t *ta_run_release(ta_arena_t *a, ta_span_t *s)
{
    s->state = TA_SPAN_FREE;
    if (s->dirty_pages)
        s->dirty_since = ta_os_now_ms();
    ta_span_t *prev = ta_pagemap_get(s->start - TA_PAGE_SIZE);
    if (run_mergeable(a, s, prev) && ta_span_end(prev) == s->start) {
        ta_runs_remove(a, prev);
        prev->npages += s->npages;
        if (s->dirty_pages)
            prev->dirty_since = s->dirty_since;
        prev->dirty_pages += s->dirty_pages;
        ta_span_delete(s);
        s = prev;
    }
    ta_span_t *next = ta_pagemap_get(ta_span_end(s));
    if (run_mergeable(a, s, next) && next->start == ta_span_end(s)) {
        ta_runs_remove(a, next);
        s->npages += next->npages;
        if (!s->dirty_pages)
            s->dirty_since = next->dirty_since;
        s->dirty_pages += next->dirty_pages;
        ta_span_delete(next);
    }
    ta_run_publish(s);
    ta_runs_insert(a, s);
    return s;
}

/* Adds fresh heap memory [start, start+len) as a free run. */
static int heap_add(ta_arena_t *a, uintptr_t start, size_t len, ta_span_origin_t origin)
{
    ta_span_t *s = ta_span_new();
    if (!s)
        return ENOMEM;
    s->start = start;
    s->npages = len >> TA_PAGE_SHIFT;
    TA_RELAXED_STORE(s->arena, a); /* atomic: see ta_span_delete */
    s->origin = (uint8_t)origin; /* dirty_pages 0: fresh memory costs no RSS yet */
    a->heap_bytes += len;
    ta_run_release(a, s);
    return 0;
}

static int heap_grow_brk(ta_arena_t *a, size_t size)
{
    uintptr_t start;
    size_t len;
    if (ta_os_brk_extend(size, &start, &len))
        return ENOMEM;
    if (ta_pagemap_ensure(start, len) == 0) {
        a->brk_end = start + len;
        if (heap_add(a, start, len, TA_ORIGIN_SBRK) == 0)
            return 0;
    }
    /* Could not track it: hand it back if the break is still ours. */
    ta_os_brk_shrink(start + len, len);
    return ENOMEM;
}

static int heap_grow_map(ta_arena_t *a, size_t size)
{
    /* Grow geometrically (an eighth of the heap, up to 64 MiB) so a growing
     * arena needs few mappings; the unused tail costs address space only. */
    size_t step = TA_MIN(a->heap_bytes / 8, TA_MAP_HEAP_STEP_MAX);
    size = ta_align_up(TA_MAX(size, TA_MAX(step, TA_MAP_HEAP_MIN)), TA_PAGE_SIZE);
    void *mem;
    if (ta_os_map(size, TA_PAGE_SIZE, &mem))
        return ENOMEM;
    if (ta_pagemap_ensure((uintptr_t)mem, size) || heap_add(a, (uintptr_t)mem, size, TA_ORIGIN_MAP)) {
        ta_os_unmap(mem, size);
        return ENOMEM;
    }
    return 0;
}

/* Grows the heap by at least npages (plus M_TOP_PAD). */
static int heap_grow(ta_arena_t *a, size_t npages)
{
    size_t need = npages << TA_PAGE_SHIFT;
    size_t pad = ta_align_up(TA_MIN(TA_OPT(top_pad), (uint64_t)1 << 30), TA_PAGE_SIZE);
    size_t size = need + pad < need ? need : need + pad;
    if (a->is_main) {
        if (heap_grow_brk(a, size) == 0)
            return 0;
        /* glibc does the same: when the break cannot move (RLIMIT_DATA, a
         * mapping right above it), carry on with mmap'd heap memory. */
        a->sbrk_fallbacks++;
    }
    if (heap_grow_map(a, size) == 0)
        return 0;
    return size > need ? heap_grow_map(a, need) : ENOMEM;
}

/* Carves [s->start, +npages) off free run s (already removed from the lists),
 * returning the remainder to the free lists. */
static void run_split(ta_arena_t *a, ta_span_t *s, size_t npages)
{
    if (s->npages == npages)
        return;
    ta_span_t *rest = ta_span_new();
    if (!rest)
        return; /* keep the whole run allocated: wasteful but correct */
    rest->start = s->start + (npages << TA_PAGE_SHIFT);
    rest->npages = s->npages - npages;
    TA_RELAXED_STORE(rest->arena, a);
    rest->origin = s->origin;
    rest->state = TA_SPAN_FREE;
    /* Which pages are dirty is not tracked: assume the worst for the rest. */
    rest->dirty_pages = TA_MIN(s->dirty_pages, rest->npages);
    rest->dirty_since = s->dirty_since;
    s->npages = npages;
    ta_run_publish(rest);
    ta_runs_insert(a, rest);
}

/* Splits the leading `lead` pages off s into their own free run. */
static ta_span_t *run_drop_lead(ta_arena_t *a, ta_span_t *s, size_t lead)
{
    if (!lead)
        return s;
    ta_span_t *body = ta_span_new();
    if (!body)
        return NULL;
    body->start = s->start + (lead << TA_PAGE_SHIFT);
    body->npages = s->npages - lead;
    TA_RELAXED_STORE(body->arena, a);
    body->origin = s->origin;
    body->dirty_pages = TA_MIN(s->dirty_pages, body->npages);
    s->npages = lead;
    s->dirty_pages = TA_MIN(s->dirty_pages, lead);
    s->state = TA_SPAN_FREE;
    ta_run_publish(s);
    ta_runs_insert(a, s);
    return body;
}

ta_span_t *ta_pages_alloc(ta_arena_t *a, size_t npages, size_t align, ta_span_state_t state)
{
    size_t align_pages = align > TA_PAGE_SIZE ? align >> TA_PAGE_SHIFT : 1;
    size_t want = npages + align_pages - 1;
    if (want < npages || want > ((size_t)1 << (TA_VA_BITS - TA_PAGE_SHIFT)))
        return NULL;
    ta_lock_acquire(&a->page_lock);
    ta_span_t *s = runs_find(a, want);
    if (!s && heap_grow(a, want) == 0)
        s = runs_find(a, want);
    if (!s) {
        ta_lock_release(&a->page_lock);
        return NULL;
    }
    ta_runs_remove(a, s);
    if (align_pages > 1) {
        size_t lead = (ta_align_up(s->start, align) - s->start) >> TA_PAGE_SHIFT;
        ta_span_t *body = run_drop_lead(a, s, lead);
        if (!body) {
            ta_runs_insert(a, s);
            ta_lock_release(&a->page_lock);
            return NULL;
        }
        s = body;
    }
    run_split(a, s, npages);
    s->state = (uint8_t)state;
    s->dirty_pages = 0;
    s->next = s->prev = NULL;
    if (state == TA_SPAN_SLAB)
        ta_pagemap_set(s->start, s->npages, s);
    else
        ta_pagemap_set(s->start, 1, s);
    a->block_allocs += state == TA_SPAN_BLOCK;
    ta_lock_release(&a->page_lock);
    return s;
}

void ta_pages_free(ta_arena_t *a, ta_span_t *s, const char *func)
{
    ta_lock_acquire(&a->page_lock);
    uint8_t st = s->state;
    if (st != TA_SPAN_BLOCK && st != TA_SPAN_RETIRING) {
        ta_lock_release(&a->page_lock);
        ta_log_misuse(func, "double free", (void *)s->start);
        return;
    }
    a->block_frees += st == TA_SPAN_BLOCK;
    s->dirty_pages = s->npages;
    ta_span_t *run = ta_run_release(a, s);
    ta_arena_after_free(a, run);
    ta_lock_release(&a->page_lock);
}

bool ta_pages_grow_in_place(ta_arena_t *a, ta_span_t *s, size_t npages)
{
    bool ok = false;
    ta_lock_acquire(&a->page_lock);
    size_t extra = npages - s->npages;
    ta_span_t *next = ta_pagemap_get(ta_span_end(s));
    if (!(run_mergeable(a, s, next) && next->start == ta_span_end(s) && next->npages >= extra) &&
        a->is_main && s->origin == TA_ORIGIN_SBRK && ta_span_end(s) == a->brk_end) {
        /* The block is the top of the break heap: grow the heap under it. */
        heap_grow(a, extra);
        next = ta_pagemap_get(ta_span_end(s));
    }
    if (run_mergeable(a, s, next) && next->start == ta_span_end(s) && next->npages >= extra) {
        ta_runs_remove(a, next);
        if (next->npages > extra) {
            next->start += extra << TA_PAGE_SHIFT;
            next->npages -= extra;
            next->dirty_pages = TA_MIN(next->dirty_pages, next->npages);
            ta_run_publish(next);
            ta_runs_insert(a, next);
        } else {
            ta_span_delete(next);
        }
        s->npages = npages;
        ok = true;
    }
    ta_lock_release(&a->page_lock);
    return ok;
}

void ta_pages_shrink_in_place(ta_arena_t *a, ta_span_t *s, size_t npages)
{
    ta_span_t *tail = ta_span_new();
    if (!tail)
        return; /* keep the larger block: still correct */
    ta_lock_acquire(&a->page_lock);
    tail->start = s->start + (npages << TA_PAGE_SHIFT);
    tail->npages = s->npages - npages;
    TA_RELAXED_STORE(tail->arena, a);
    tail->origin = s->origin;
    tail->dirty_pages = tail->npages;
    s->npages = npages;
    ta_span_t *run = ta_run_release(a, tail);
    ta_arena_after_free(a, run);
    ta_lock_release(&a->page_lock);
}
