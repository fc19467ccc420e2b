/* Page-heap internals shared by pages.c (allocation, coalescing, growth) and
 * purge.c (giving memory back). Every function needs the arena's page lock. */
#ifndef TA_PAGES_INTERNAL_H
#define TA_PAGES_INTERNAL_H
#include "arena.h"
#include "os.h"

void ta_runs_insert(ta_arena_t *a, ta_span_t *s) TA_HIDDEN;
void ta_runs_remove(ta_arena_t *a, ta_span_t *s) TA_HIDDEN;
/* Marks a run's boundary pages in the page map. */
void ta_run_publish(ta_span_t *s) TA_HIDDEN;
/* Inserts a free run, merging neighbours; returns the merged run. */
ta_span_t *ta_run_release(ta_arena_t *a, ta_span_t *s) TA_HIDDEN;
/* Called after a free made `run`: trims synchronously, or flags the
 * background trimmer, depending on TARENA_BACKGROUND_TRIM. */
void ta_arena_after_free(ta_arena_t *a, ta_span_t *run) TA_HIDDEN;
#endif
