/* Giving memory back: shrinking the break heap's top (never after a foreign
 * sbrk), purging idle free runs with madvise, the synchronous policy used
 * when the background trimmer is off, and the step function the trimmer
 * (src/trim) and malloc_trim call. */
#include "pages_internal.h"
#include "options.h"

bool ta_arena_release_pending;
bool ta_arena_trimmer_idle = true;

/* Gives back the top of the break heap beyond pad. Page lock held. */
static size_t trim_top(ta_arena_t *a, size_t pad)
{
    if (!a->brk_end)
        return 0;
    ta_span_t *top = ta_pagemap_get(a->brk_end - TA_PAGE_SIZE);
    /* A stale entry: arena first (see ta_span_delete). */
    if (!top || TA_RELAXED_LOAD(top->arena) != a || TA_RELAXED_LOAD(top->state) != TA_SPAN_FREE ||
        ta_span_end(top) != a->brk_end)
        return 0;
    size_t bytes = top->npages << TA_PAGE_SHIFT;
    /* Written so that a pad near SIZE_MAX (malloc_trim(-1), M_TOP_PAD -1)
     * means "keep everything", as in glibc, instead of wrapping around. */
    if (pad >= bytes || bytes - pad <= TA_PAGE_SIZE)
        return 0;
    size_t release = bytes - ta_align_up(pad, TA_PAGE_SIZE);
    int rc = ta_os_brk_shrink(a->brk_end, release);
    if (rc) {
        a->brk_foreign += rc == EBUSY;
        return 0;
    }
    ta_runs_remove(a, top);
    a->brk_end -= release;
    a->heap_bytes -= release;
    top->npages -= release >> TA_PAGE_SHIFT;
    top->dirty_pages = TA_MIN(top->dirty_pages, top->npages);
    if (top->npages) {
        ta_run_publish(top);
        ta_runs_insert(a, top);
    } else {
        ta_span_delete(top);
    }
    a->trimmed_bytes += release;
    return release;
}

/* madvise()s run s (taken out of the lists) with the page lock dropped, so
 * allocating threads wait at most for one list update, then puts it back.
 * Returns the dirty bytes released, or SIZE_MAX when madvise failed (the
 * run goes back as it was). */
static size_t purge_run(ta_arena_t *a, ta_span_t *s)
{
    size_t bytes = s->npages << TA_PAGE_SHIFT;
    /* Counted as the pages that may have been resident, not the whole run. */
    size_t dirty = s->dirty_pages << TA_PAGE_SHIFT;
    ta_runs_remove(a, s);
    s->state = TA_SPAN_PURGING;
    ta_lock_release(&a->page_lock);
    int rc = ta_os_purge((void *)s->start, bytes, TA_OPT(madv_free));
    ta_lock_acquire(&a->page_lock);
    if (rc == 0) {
        s->dirty_pages = 0;
        a->purged_bytes += dirty;
        a->trimmed_bytes += dirty;
    }
    ta_run_release(a, s);
    return rc == 0 ? dirty : SIZE_MAX;
}

/* The dirty run idle longest past decay_ms (any dirty run when urgent), or
 * NULL; *due_in is how long until the next one becomes idle enough. */
static ta_span_t *purge_candidate(ta_arena_t *a, uint32_t now, uint32_t decay_ms, bool urgent, uint32_t *due_in)
{
    ta_span_t *best = NULL;
    for (unsigned b = TA_NBUCKETS; b-- > 0;) {
        for (ta_span_t *s = a->free_runs[b]; s; s = s->next) {
            if (!s->dirty_pages)
                continue;
            uint32_t age = now - s->dirty_since;
            if (urgent || age >= decay_ms) {
                if (!best || (int32_t)(s->dirty_since - best->dirty_since) < 0)
                    best = s;
            } else if (decay_ms - age < *due_in) {
                *due_in = decay_ms - age;
            }
        }
    }
    return best;
}

static size_t purge_idle(ta_arena_t *a, uint32_t decay_ms, bool urgent, size_t budget, uint32_t *due_in)
{
    size_t released = 0;
    while (released < budget) {
        uint32_t due = UINT32_MAX;
        ta_span_t *s = purge_candidate(a, ta_os_now_ms(), decay_ms, urgent, &due);
        if (!s) {
            if (due < *due_in)
                *due_in = due;
            break;
        }
        size_t got = purge_run(a, s);
        if (got == SIZE_MAX) {
            /* madvise failed: the same run would be picked again at once.
             * Leave the rest for a later pass. */
            *due_in = TA_MIN(*due_in, TA_MAX(decay_ms, 100u));
            return released;
        }
        released += got;
    }
    if (released >= budget)
        *due_in = 0;
    return released;
}

size_t ta_arena_purge_step(ta_arena_t *a, uint32_t decay_ms, bool urgent, size_t budget, uint32_t *due_in)
{
    /* Remote frees to an arena nobody allocates from any more would stay
     * on its stacks, pinning their slabs: put them back first. */
    ta_arena_drain_remote(a);
    if (!ta_lock_try(&a->page_lock)) {
        *due_in = TA_MIN(*due_in, 10u);
        return 0;
    }
    size_t released = 0;
    if (a->is_main) {
        uint64_t limit = TA_OPT(trim_threshold);
        ta_span_t *top = a->brk_end ? ta_pagemap_get(a->brk_end - TA_PAGE_SIZE) : NULL;
        if (top && TA_RELAXED_LOAD(top->arena) == a && TA_RELAXED_LOAD(top->state) == TA_SPAN_FREE &&
            (top->npages << TA_PAGE_SHIFT) > limit)
            released += trim_top(a, TA_OPT(top_pad));
    }
    released += purge_idle(a, decay_ms, urgent, budget, due_in);
    ta_lock_release(&a->page_lock);
    return released;
}

size_t ta_arena_trim(ta_arena_t *a, size_t pad, bool all)
{
    ta_lock_acquire(&a->page_lock);
    size_t released = trim_top(a, pad);
    if (all) {
        uint32_t due = UINT32_MAX;
        released += purge_idle(a, 0, true, SIZE_MAX, &due);
    }
    ta_lock_release(&a->page_lock);
    return released;
}

/* Synchronous trimming inside free (glibc's way, a little more thorough):
 * the break heap's top beyond M_TOP_PAD once it passes M_TRIM_THRESHOLD;
 * any other free run that large gives back what lies beyond its first
 * M_TOP_PAD bytes (kept resident so a malloc/free loop at the boundary does
 * not page-fault) — so one live block near the top cannot pin the rest. */
static void trim_sync(ta_arena_t *a, ta_span_t *run)
{
    uint64_t bytes = run->npages << TA_PAGE_SHIFT;
    if (bytes <= TA_OPT(trim_threshold))
        return;
    if (run->origin == TA_ORIGIN_SBRK && ta_span_end(run) == a->brk_end) {
        trim_top(a, TA_OPT(top_pad));
        return;
    }
    size_t keep = ta_align_up(TA_MIN(TA_OPT(top_pad), bytes), TA_PAGE_SIZE);
    size_t keep_pages = keep >> TA_PAGE_SHIFT;
    if (run->dirty_pages <= keep_pages || bytes <= keep)
        return;
    if (ta_os_purge((void *)(run->start + keep), bytes - keep, TA_OPT(madv_free)) == 0) {
        ta_runs_remove(a, run);
        run->dirty_pages = keep_pages;
        ta_runs_insert(a, run);
        a->purged_bytes += bytes - keep;
        a->trimmed_bytes += bytes - keep;
    }
}

void ta_arena_after_free(ta_arena_t *a, ta_span_t *run)
{
    if (!TA_OPT(background_trim)) {
        trim_sync(a, run);
        return;
    }
    /* Wake the trimmer only when it sleeps with nothing to watch and there
     * is something worth its while now. */
    if (__atomic_load_n(&ta_arena_trimmer_idle, __ATOMIC_RELAXED) &&
        (a->dirty_pages << TA_PAGE_SHIFT) > TA_OPT(trim_threshold) &&
        !__atomic_load_n(&ta_arena_release_pending, __ATOMIC_RELAXED))
        __atomic_store_n(&ta_arena_release_pending, true, __ATOMIC_RELEASE);
}
