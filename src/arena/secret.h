/* Per-process secrets and what is derived from them: the free key that marks
 * free slab blocks (double-free detection) and the link key that mangles the
 * pointers thread caches keep (safe-linking). Generated once at boot. */
#ifndef TA_SECRET_H
#define TA_SECRET_H
#include "span.h"

extern uint64_t ta_free_key TA_HIDDEN;
extern uintptr_t ta_link_key TA_HIDDEN;

void ta_secret_boot(void) TA_HIDDEN;

/* The free key, mixed with the block's address and its slab's generation,
 * is stored in the second word of every free slab block and cleared when the
 * block is handed out: free() of a block that carries it is a double free.
 * The mixing matters: uninitialised memory can hold a stale key, and realloc
 * copies whatever was there. The address makes a key moved elsewhere
 * invalid; the generation (new for every slab) makes a key left by an
 * earlier slab at the same address invalid, so a stale key copied away and
 * back again cannot make a live block look free. */
#ifndef TA_NO_CHECKS
#define TA_CHECKS_OFF 0
static TA_ALWAYS_INLINE uint64_t ta_block_key(const ta_span_t *s, const void *p)
{
    /* gen (already scrambled) fills the bits that block addresses leave 0. */
    return ta_free_key ^ (uint64_t)(uintptr_t)p ^ ((uint64_t)s->gen << 32);
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
/* Blocks that ta_bin_alloc takes from the never-used part of a slab come
 * with this bit set: they carry no key, so handing them out needs no store
 * into them (which, in a fresh page, would be the page's first touch inside
 * malloc). Entries of thread caches keep it until the block is handed out. */
#define TA_FRESH_TAG ((uintptr_t)1)
static TA_ALWAYS_INLINE void *ta_block_untag(void *p)
{
    return (void *)((uintptr_t)p & ~TA_FRESH_TAG);
}
static TA_ALWAYS_INLINE void *ta_block_hand_out(void *tagged)
{
    void *p = ta_block_untag(tagged);
    if (!((uintptr_t)tagged & TA_FRESH_TAG))
        ta_block_mark_live(p);
    return p;
}

/* Safe-linking for pointer arrays that live in heap memory (the thread
 * caches' stacks): stored values are xored with the link key, so an
 * overflow from a neighbouring block cannot plant a chosen pointer without
 * knowing the key. Decoded pointers must be 16-byte aligned and inside the
 * address space. (glibc also mixes in where the pointer is stored; mixing
 * in the array's address cost 2.7 ns per malloc/free pair here, 8.3 instead
 * of 5.6 ns, so the key alone is used.) */
static TA_ALWAYS_INLINE void *ta_link_encode(void *p)
{
    return (void *)((uintptr_t)p ^ ta_link_key);
}
#define ta_link_decode ta_link_encode
static TA_ALWAYS_INLINE bool ta_link_plausible(const void *p)
{
    /* 16-byte aligned and inside the address space the page map covers. */
    return ((uintptr_t)p & (~(((uintptr_t)1 << TA_VA_BITS) - 1) | (TA_QUANTUM - 1))) == 0;
}
#else
#define TA_CHECKS_OFF 1
/* TARENA_CHECKS=OFF (cost measurement only): no free key, no safe-linking.
 * The slab free maps still catch double frees that reach an arena. */
static TA_ALWAYS_INLINE bool ta_block_marked_free(const ta_span_t *s, const void *p)
{
    (void)s, (void)p;
    return false;
}
static TA_ALWAYS_INLINE void ta_block_mark_free(const ta_span_t *s, void *p)
{
    (void)s, (void)p;
}
static TA_ALWAYS_INLINE void *ta_block_mark_live(void *p)
{
    return p;
}
#define TA_FRESH_TAG ((uintptr_t)0)
static TA_ALWAYS_INLINE void *ta_block_untag(void *p)
{
    return p;
}
static TA_ALWAYS_INLINE void *ta_block_hand_out(void *tagged)
{
    return tagged;
}
static TA_ALWAYS_INLINE void *ta_link_encode(void *p)
{
    return p;
}
#define ta_link_decode ta_link_encode
static TA_ALWAYS_INLINE bool ta_link_plausible(const void *p)
{
    (void)p;
    return true;
}
#endif
#endif
