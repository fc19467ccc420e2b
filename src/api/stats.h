/* A consistent snapshot of the allocator's counters, taken arena by arena
 * under their locks, shared by mallinfo, malloc_stats, malloc_info and
 * ta_stats_get. */
#ifndef TA_API_STATS_H
#define TA_API_STATS_H
#include "api.h"

typedef struct ta_arena_snapshot {
    uint64_t heap_bytes, run_free_bytes, free_runs, slot_free_bytes, free_slots;
    uint64_t top_bytes, trimmed_bytes, sbrk_fallbacks, allocs, frees;
    uint64_t dirty_bytes, purged_bytes, brk_foreign;
    /* Free runs by size, for malloc_info: bucket upper bounds in pages. */
    uint64_t run_count[TA_NBUCKETS], run_bytes[TA_NBUCKETS];
} ta_arena_snapshot_t;

typedef struct ta_snapshot {
    unsigned narenas;
    ta_arena_snapshot_t total;
    uint64_t mmap_count, mmap_bytes, mmap_allocs, mmap_frees;
} ta_snapshot_t;

/* Totals over every arena plus the mapped blocks. */
void ta_snapshot_take(ta_snapshot_t *snap) TA_HIDDEN;
/* One arena; false when there is no arena i. */
bool ta_snapshot_arena(unsigned i, ta_arena_snapshot_t *out) TA_HIDDEN;
#endif
