/* The allocation and free fast paths: one TLS load, a size-class lookup and
 * a pop or push. Everything else tail-calls a slow path. */
#ifndef TA_TCACHE_INLINE_H
#define TA_TCACHE_INLINE_H
#include "tcache.h"

/* A per-process random key, mixed with the block's address and its slab's
 * generation, stored in the second word of every free slab block and
 * cleared when the block is handed out: free() of a block that carries it
 * is a double free. The mixing matters: uninitialised memory can hold a
 * stale key, and realloc copies whatever was there. The address makes a
 * key moved elsewhere invalid; the generation (new for every slab) makes a
 * key left by an earlier slab at the same address invalid, so a stale key
 * copied away and back again cannot make a live block look free. */
extern uint64_t ta_free_key TA_HIDDEN;

static TA_ALWAYS_INLINE uint64_t ta_block_key(const ta_span_t *s, const void *p)
{
    return ta_free_key ^ (uint64_t)(uintptr_t)p ^ ((uint64_t)s->gen * 0x9e3779b97f4a7c15ull);
}
static TA_ALWAYS_INLINE bool ta_block_marked_free(const ta_span_t *s, const void *p)
{
    return ((const uint64_t *)p)[1] == ta_block_key(s, p);
}
static TA_ALWAYS_INLINE void ta_block_mark_free(const ta_span_t *s, void *p)
{
    ((uint64_t *)p)[1] = ta_block_key(s, p);
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

/* Whether this thread's cache should keep a block of class cls from arena
 * a: its own arena's always; another arena's only while the thread is
 * allocating that class itself (the bin was refilled lately), so blocks get
 * reused where they are freed (larson-like servers), while a thread that
 * only consumes sends them straight back to their owner (producer/consumer
 * pipelines) instead of hoarding them. */
static TA_ALWAYS_INLINE bool ta_tcache_wants(const ta_tcache_t *tc, const struct ta_arena *a, unsigned cls)
{
    return tc->arena == a || (tc->active & (1ull << cls));
}

/* True when p was taken by the cache. p must be a valid slab object of
 * class cls from arena a (the caller looked it up). */
static TA_ALWAYS_INLINE bool ta_tcache_push(const struct ta_arena *a, unsigned cls, void *p)
{
    ta_tcache_t *tc = ta_tcache_tls;
    ta_tbin_t *b = &tc->bins[cls];
    if (TA_UNLIKELY(!ta_tcache_wants(tc, a, cls)))
        return false;
    if (TA_UNLIKELY(b->count >= b->max))
        return false;
    b->nfree++;
    b->items[b->count++] = p;
    return true;
}
#endif
