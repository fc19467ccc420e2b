/* calloc, realloc and reallocarray: overflow checks, zeroing that skips
 * fresh mappings, and realloc in place (slab slack, page runs grown into
 * their free neighbour, mremap for mappings) before falling back to a move
 * that leaves the old block intact on failure. */
#include "api.h"
#include "log.h"
#include <errno.h>
#include <string.h>

TA_EXPORT void *ta_calloc(size_t n, size_t size)
{
    size_t total;
    if (TA_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p;
    bool zeroed = false;
    if (total <= TA_SMALL_MAX)
        p = ta_malloc(total);
    else
        p = ta_alloc(total, 0, &zeroed);
    if (p && !zeroed)
        memset(p, 0, total);
    return p;
}

static void *realloc_move(void *p, size_t old_usable, size_t size)
{
    void *q = ta_malloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, TA_MIN(old_usable, size));
    ta_free_checked(p, "realloc");
    return q;
}

TA_EXPORT void *ta_realloc(void *p, size_t size)
{
    if (!p)
        return ta_malloc(size);
    if (size == 0) {
        /* glibc: realloc(p, 0) frees p and returns NULL. */
        ta_free_checked(p, "realloc");
        return NULL;
    }
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup_live(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK)) {
        /* Not aborting (TARENA_CHECK_ACTION): the block is left alone. */
        ta_misuse("realloc", r, p);
        errno = EINVAL;
        return NULL;
    }
    if (TA_UNLIKELY(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t usable = ta_block_usable(s);
    if (TA_UNLIKELY(ta_hardened)) {
        if (!ta_harden_canary_ok(s, p)) {
            ta_log_misuse("realloc", "heap overflow: canary after the block overwritten", p);
            errno = EINVAL;
            return NULL;
        }
        /* Only a slab block stays put (its canary is at the slot's end);
         * everything else moves, so guards and canaries stay in place. */
        if (s->state == TA_SPAN_SLAB && size <= usable)
            return p;
        goto move;
    }
    switch (s->state) {
    case TA_SPAN_SLAB:
        /* Shrinking stays in place, as in glibc; the class bounds the waste. */
        if (size <= usable)
            return p;
        break;
    case TA_SPAN_BLOCK: {
        size_t npages = ta_pages_for(size);
        if (size <= TA_SMALL_MAX)
            break; /* a slab slot is the better home now */
        if (npages <= s->npages) {
            if (npages < s->npages) {
                ta_pages_shrink_in_place(s->arena, s, npages);
                ta_count_resize(usable, ta_block_usable(s));
            }
            return p;
        }
        if (ta_pages_grow_in_place(s->arena, s, npages)) {
            ta_count_resize(usable, ta_block_usable(s));
            return p;
        }
        break;
    }
    case TA_SPAN_MMAP:
        if (size > TA_SMALL_MAX) {
            void *q = ta_large_realloc(s, size);
            if (q) {
                ta_count_resize(usable, ta_block_usable(s));
                return q;
            }
        }
        break;
    }
move:;
    void *q = realloc_move(p, usable, size);
    if (!q)
        errno = ENOMEM;
    return q;
}

TA_EXPORT void *ta_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (TA_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return ta_realloc(p, total);
}
