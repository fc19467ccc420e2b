/* Large blocks: at or above M_MMAP_THRESHOLD each gets its own mapping,
 * returned with munmap on free and resized with mremap. The block starts at
 * the mapping (no header), so its usable size is the whole mapping (less the
 * guard page in hardened mode). */
#include "arena.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include <stdlib.h>

uint64_t ta_large_count, ta_large_bytes, ta_large_allocs, ta_large_frees;

/* glibc's ceiling for the dynamic mmap threshold on 64-bit. */
#define TA_MMAP_THRESHOLD_MAX ((uint64_t)32 << 20)

static void large_account(size_t bytes, bool add)
{
    if (add) {
        __atomic_add_fetch(&ta_large_count, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&ta_large_bytes, bytes, __ATOMIC_RELAXED);
        __atomic_add_fetch(&ta_large_allocs, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_sub_fetch(&ta_large_count, 1, __ATOMIC_RELAXED);
        __atomic_sub_fetch(&ta_large_bytes, bytes, __ATOMIC_RELAXED);
        __atomic_add_fetch(&ta_large_frees, 1, __ATOMIC_RELAXED);
    }
}

void *ta_large_alloc(size_t size, size_t align)
{
    size_t len = ta_align_up(size, TA_PAGE_SIZE);
    /* Hardened mode: one more page, made inaccessible, right after the
     * block's pages, so a linear overflow faults at the page boundary. */
    size_t guard = ta_hardened & TA_HARDEN_GUARD ? TA_PAGE_SIZE : 0;
    if (len < size || len + guard < len)
        return NULL;
    len += guard;
    ta_span_t *s = ta_span_new();
    if (!s)
        return NULL;
    void *mem;
    if (ta_os_map(len, align, &mem)) {
        ta_span_delete(s);
        return NULL;
    }
    if ((guard && ta_os_protect((char *)mem + len - guard, guard, false)) ||
        ta_pagemap_ensure((uintptr_t)mem, len)) {
        ta_os_unmap(mem, len);
        ta_span_delete(s);
        return NULL;
    }
    s->start = (uintptr_t)mem;
    s->npages = len >> TA_PAGE_SHIFT;
    s->origin = TA_ORIGIN_MAP;
    __atomic_store_n(&s->state, TA_SPAN_MMAP, __ATOMIC_RELEASE);
    ta_pagemap_set(s->start, 1, s);
    large_account(len, true);
    return mem;
}

void ta_large_free(ta_span_t *s, const char *func)
{
    uint8_t expected = TA_SPAN_MMAP;
    /* The state flip makes a racing second free of the same block lose. */
    if (!__atomic_compare_exchange_n(&s->state, &expected, TA_SPAN_NONE, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        ta_log_misuse(func, "double free", (void *)s->start);
        return;
    }
    size_t len = s->npages << TA_PAGE_SHIFT;
    void *mem = (void *)s->start;
    /* Like glibc: a freed mapped block shows the threshold was too low for
     * this program, so raise it (and the trim threshold) unless the user set
     * it. One page above the block, so that the same request (rounded up to
     * this mapping's size) comes from the heap next time. */
    if (!TA_OPT(thresholds_fixed) && !(ta_hardened & TA_HARDEN_GUARD) && len >= TA_OPT(mmap_threshold) && len < TA_MMAP_THRESHOLD_MAX) {
        /* Any thread, no lock (atomic words, see options.h): two racing
         * frees, or a racing mallopt, leave one of their values, as in glibc. */
        TA_OPT_SET(mmap_threshold, len + TA_PAGE_SIZE);
        TA_OPT_SET(trim_threshold, 2 * (len + TA_PAGE_SIZE));
    }
    ta_pagemap_set(s->start, 1, NULL);
    large_account(len, false);
    ta_span_delete(s);
    ta_os_unmap(mem, len);
}

void *ta_large_realloc(ta_span_t *s, size_t size)
{
    /* A guarded mapping would carry its guard page into the middle: hardened
     * mode moves instead (the caller falls back to malloc, copy, free). */
    if (ta_hardened & TA_HARDEN_GUARD)
        return NULL;
    size_t len = ta_align_up(size, TA_PAGE_SIZE);
    size_t old = s->npages << TA_PAGE_SHIFT;
    if (len < size)
        return NULL;
    if (len != old && ta_os_remap((void *)s->start, old, len, NULL) != 0) {
        /* Cannot grow where it is: make (and track) the new place first, so
         * every failure leaves the caller's block untouched, then let the
         * kernel move the pages there. */
        void *dest;
        if (ta_os_map(len, TA_PAGE_SIZE, &dest))
            return NULL;
        if (ta_pagemap_ensure((uintptr_t)dest, len) ||
            ta_os_remap((void *)s->start, old, len, dest)) {
            ta_os_unmap(dest, len);
            return NULL;
        }
        /* The old range is unmapped from here on: another thread may
         * already have a block there with its own entry. */
        uintptr_t from = s->start;
        s->start = (uintptr_t)dest;
        ta_pagemap_set(s->start, 1, s);
        ta_pagemap_clear_if(from, s);
    }
    s->npages = len >> TA_PAGE_SHIFT;
    if (len > old)
        __atomic_add_fetch(&ta_large_bytes, len - old, __ATOMIC_RELAXED);
    else
        __atomic_sub_fetch(&ta_large_bytes, old - len, __ATOMIC_RELAXED);
    return (void *)s->start;
}
