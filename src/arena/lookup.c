/* From a pointer to its block: the page map gives the span, and the span's
 * range, state and slot geometry decide whether the pointer is the start of
 * a live block. Nothing is written, so a bad pointer is caught before harm. */
#include "arena.h"
#include "options.h"

ta_lookup_result_t ta_lookup(const void *ptr, ta_span_t **span)
{
    uintptr_t p = (uintptr_t)ptr;
    ta_span_t *s = ta_pagemap_get(p);
    if (TA_UNLIKELY(!s))
        return TA_LOOKUP_INVALID;
    uint8_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
    uintptr_t start = s->start;
    if (TA_UNLIKELY(p < start || p >= start + (s->npages << TA_PAGE_SHIFT)))
        return TA_LOOKUP_INVALID;
    *span = s;
    if (TA_LIKELY(state == TA_SPAN_SLAB))
        return ta_slab_is_slot(s, s->sclass, p) ? TA_LOOKUP_OK : TA_LOOKUP_INVALID;
    if (state == TA_SPAN_BLOCK || state == TA_SPAN_MMAP)
        return p == start ? TA_LOOKUP_OK : TA_LOOKUP_INVALID;
    if (state == TA_SPAN_FREE || state == TA_SPAN_RETIRING || state == TA_SPAN_PURGING)
        return TA_LOOKUP_FREED;
    return TA_LOOKUP_INVALID;
}

size_t ta_block_usable(const ta_span_t *s)
{
    uint8_t state = s->state;
    size_t n = state == TA_SPAN_SLAB ? ta_classes[s->sclass].size : s->npages << TA_PAGE_SHIFT;
    /* Hardened mode: the canary at the end of a slot or page run, the guard
     * page at the end of a mapping, are not the caller's. */
    if (TA_UNLIKELY(ta_hardened))
        n -= state == TA_SPAN_MMAP ? (ta_hardened & TA_HARDEN_GUARD ? TA_PAGE_SIZE : 0) : TA_CANARY_BYTES();
    return n;
}
