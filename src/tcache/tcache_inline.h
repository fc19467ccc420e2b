/* The allocation and free fast paths: one TLS load, a size-class lookup and
 * a pop or push. Everything else tail-calls a slow path. */
#ifndef TA_TCACHE_INLINE_H
#define TA_TCACHE_INLINE_H
#include "secret.h"
#include "tcache.h"

/* NULL when the request must take the slow path. */
static TA_ALWAYS_INLINE void *ta_tcache_pop(size_t size)
{
    if (TA_UNLIKELY(size > TA_SMALL_MAX))
        return NULL;
    ta_tcache_t *tc = ta_tcache_tls;
    ta_tbin_t *b = &tc->bins[ta_size2class(size)];
    uint32_t n = b->count;
    if (TA_UNLIKELY(!n))
        return NULL;
    void *p = ta_link_decode(b->items[--n]);
    /* count, nmalloc and nfree are read by stats walks in other threads:
     * relaxed stores (plain movs, no read-modify-write; see tcache.h), last
     * because gcc reloads memory values after any atomic. */
    TA_RELAXED_STORE(b->count, n);
    if (TA_UNLIKELY(!ta_link_plausible(ta_block_untag(p)))) {
        /* Its other entries cannot be trusted either: dropped (leaked). */
        TA_RELAXED_STORE(b->count, 0);
        ta_tcache_bad_entry = p;
        return NULL;
    }
    TA_OWNER_ADD(b->nmalloc, 1);
    return ta_block_hand_out(p);
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

/* Puts p in slot n (the count, read by the caller, which saw room) of the
 * class's outbox; returns the new count. n is passed in because gcc
 * reloads memory after the relaxed atomic stores of the free path. */
static TA_ALWAYS_INLINE unsigned ta_outbox_put(ta_tcache_t *tc, unsigned cls, unsigned n, void *p)
{
    tc->outbox[cls][n++] = ta_link_encode(p);
    TA_RELAXED_STORE(tc->outbox_count[cls], (uint8_t)n);
    return n;
}

/* A block the cache does not keep goes into the class's outbox while it
 * has room; the slow path (ta_tcache_send_back) takes the last slot and
 * sends the outbox on. */
static TA_ALWAYS_INLINE bool ta_tcache_post(ta_tcache_t *tc, unsigned cls, void *p)
{
    unsigned n = tc->outbox_count[cls];
    if (TA_UNLIKELY(n + 1 >= tc->outbox_max[cls]))
        return false;
    TA_OWNER_ADD(tc->bins[cls].nfree, 1);
    ta_outbox_put(tc, cls, n, p);
    return true;
}

/* True when p was taken by the cache. p must be a valid slab object of
 * class cls from arena a (the caller looked it up). */
static TA_ALWAYS_INLINE bool ta_tcache_push(const struct ta_arena *a, unsigned cls, void *p)
{
    ta_tcache_t *tc = ta_tcache_tls;
    ta_tbin_t *b = &tc->bins[cls];
    if (TA_UNLIKELY(!ta_tcache_wants(tc, a, cls)))
        return ta_tcache_post(tc, cls, p);
    uint32_t n = b->count;
    if (TA_UNLIKELY(n >= b->max))
        return false;
    TA_OWNER_ADD(b->nfree, 1);
    b->items[n] = ta_link_encode(p);
    TA_RELAXED_STORE(b->count, n + 1);
    return true;
}
#endif
