/* Snapshot of the counters (see stats.h). Each arena is read under its own
 * locks, bins first then pages (the rank order), so figures within an arena
 * are consistent; the walk never stops other arenas. */
#include "stats.h"
#include <string.h>

static void snapshot_arena(ta_arena_t *a, ta_arena_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        ta_bin_t *bin = &a->bins[c];
        ta_lock_acquire(&bin->lock);
        out->free_slots += bin->free_slots;
        out->slot_free_bytes += bin->free_slots * ta_classes[c].size;
        out->allocs += bin->nmalloc;
        out->frees += bin->nfree;
        ta_lock_release(&bin->lock);
    }
    ta_lock_acquire(&a->page_lock);
    out->heap_bytes = a->heap_bytes;
    out->run_free_bytes = a->free_bytes;
    out->free_runs = a->free_runs_n;
    out->trimmed_bytes = a->trimmed_bytes;
    out->sbrk_fallbacks = a->sbrk_fallbacks;
    out->dirty_bytes = a->dirty_pages << TA_PAGE_SHIFT;
    out->purged_bytes = a->purged_bytes;
    out->brk_foreign = a->brk_foreign;
    out->allocs += a->block_allocs;
    out->frees += a->block_frees;
    if (a->brk_end) {
        ta_span_t *top = ta_pagemap_get(a->brk_end - TA_PAGE_SIZE);
        /* Possibly a stale entry: arena first (see ta_span_delete). */
        if (top && TA_RELAXED_LOAD(top->arena) == a && TA_RELAXED_LOAD(top->state) == TA_SPAN_FREE &&
            ta_span_end(top) == a->brk_end)
            out->top_bytes = top->npages << TA_PAGE_SHIFT;
    }
    for (unsigned b = 0; b < TA_NBUCKETS; b++) {
        for (ta_span_t *s = a->free_runs[b]; s; s = s->next) {
            out->run_count[b]++;
            out->run_bytes[b] += s->npages << TA_PAGE_SHIFT;
        }
    }
    ta_lock_release(&a->page_lock);
}

static void snapshot_add(ta_arena_snapshot_t *t, const ta_arena_snapshot_t *x)
{
    const uint64_t *src = (const uint64_t *)x;
    uint64_t *dst = (uint64_t *)t;
    for (size_t i = 0; i < sizeof *x / sizeof(uint64_t); i++)
        dst[i] += src[i];
}

bool ta_snapshot_arena(unsigned i, ta_arena_snapshot_t *out)
{
    ta_arena_t *a = ta_arena_get(i);
    if (!a)
        return false;
    snapshot_arena(a, out);
    return true;
}

void ta_snapshot_take(ta_snapshot_t *snap)
{
    if (!__atomic_load_n(&ta_booted, __ATOMIC_ACQUIRE))
        ta_boot();
    memset(snap, 0, sizeof *snap);
    ta_arena_snapshot_t one;
    for (unsigned i = 0; ta_snapshot_arena(i, &one); i++) {
        snapshot_add(&snap->total, &one);
        snap->narenas++;
    }
    snap->mmap_count = __atomic_load_n(&ta_large_count, __ATOMIC_RELAXED);
    snap->mmap_bytes = __atomic_load_n(&ta_large_bytes, __ATOMIC_RELAXED);
    snap->mmap_allocs = __atomic_load_n(&ta_large_allocs, __ATOMIC_RELAXED);
    snap->mmap_frees = __atomic_load_n(&ta_large_frees, __ATOMIC_RELAXED);
}
