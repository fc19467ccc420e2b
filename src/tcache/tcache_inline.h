/* The allocation and free fast paths: one TLS load, a size-class lookup and
 * a pop or push. Everything else tail-calls a slow path. */
#ifndef TA_TCACHE_INLINE_H
#define TA_TCACHE_INLINE_H
#include "tcache.h"

/* A per-process random key stored in the second word of every free slab
 * block, cleared when the block is handed out. A block that carries it is
 * probably free — but only probably: a program's uninitialised memory can
 * hold a stale key (realloc copies whatever was there), so the slow path
 * confirms with the thread's cache and the slab's free map before it
 * calls anything a double free. */
extern uint64_t ta_free_key TA_HIDDEN;

static TA_ALWAYS_INLINE bool ta_block_marked_free(const void *p)
{
    return ((const uint64_t *)p)[1] == ta_free_key;
}
static TA_ALWAYS_INLINE void ta_block_mark_free(void *p)
{
    ((uint64_t *)p)[1] = ta_free_key;
}
static TA_ALWAYS_INLINE void *ta_block_mark_live(void *p)
{
    ((uint64_t *)p)[1] = 0;
    return p;
}

/* NULL when the request must take the slow path. */
static TA_ALWAYS_INLINE void *ta_tcache_pop(size_t size)
{
    if (TA_UNLIKELY(size > TA_SMALL_MAX))
        return NULL;
    ta_tcache_t *tc = ta_tcache_tls;
    ta_tbin_t *b = &tc->bins[ta_size2class(size)];
    if (TA_UNLIKELY(!b->count))
        return NULL;
    b->nmalloc++;
    return ta_block_mark_live(b->items[--b->count]);
}

/* True when p was taken by the cache. p must be a valid slab object of
 * class cls (the caller looked it up). */
static TA_ALWAYS_INLINE bool ta_tcache_push(unsigned cls, void *p)
{
    ta_tcache_t *tc = ta_tcache_tls;
    ta_tbin_t *b = &tc->bins[cls];
    if (TA_UNLIKELY(b->count >= b->max))
        return false;
    b->nfree++;
    b->items[b->count++] = p;
    return true;
}
#endif
