/* Bins: per size class, the slabs of an arena that still have free slots,
 * and the lock-free stack of blocks other threads gave back to them.
 * Slabs are headerless; a slot's state is one bit in the span's freemap, so
 * a double free is seen without trusting anything written in the block. */
#include "arena.h"
#include "secret.h"
#include "log.h"
#include "options.h"
#include <stdlib.h>
#include <string.h>
#include <urcu/compiler.h>
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TA_TSAN 1
#endif
#endif
#if defined(TA_TSAN) || defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
/* TSan builds: the release that the drain's acquire (tests/fuzz/
 * tsan_urcu_shim.c, around __cds_lfs_pop_all) pairs with. */
#define TA_TSAN_RELEASE(p) __tsan_release(p)
#else
#define TA_TSAN_RELEASE(p) ((void)0)
#endif

static void bin_push(ta_bin_t *bin, ta_span_t *s)
{
    s->prev = NULL;
    s->next = bin->partial;
    if (s->next)
        s->next->prev = s;
    bin->partial = s;
}

static void bin_unlink(ta_bin_t *bin, ta_span_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        bin->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static ta_span_t *slab_new(ta_arena_t *a, unsigned cls)
{
    const ta_class_info_t *ci = &ta_classes[cls];
    ta_span_t *s = ta_pages_alloc(a, ci->slab_pages, TA_PAGE_SIZE, TA_SPAN_SLAB);
    if (!s)
        return NULL;
    static uint32_t slab_generation; /* atomic */
    /* Scrambled here, once per slab, rather than on every free (see
     * ta_block_key); an odd multiplier keeps distinct generations distinct. */
    s->gen = __atomic_add_fetch(&slab_generation, 1, __ATOMIC_RELAXED) * 0x9e3779b9u;
    s->sclass = (uint8_t)cls;
    s->nobjs = ci->slab_objs;
    s->nfree = ci->slab_objs;
    TA_RELAXED_STORE(s->fresh, 0);
    memset(s->freemap, 0, sizeof s->freemap);
    for (unsigned i = 0; i < ci->slab_objs; i += 64) {
        unsigned n = TA_MIN(64u, ci->slab_objs - i);
        s->freemap[i / 64] = n == 64 ? ~0ull : (1ull << n) - 1;
    }
    return s;
}

/* Returns one object of slab s to it; bin lock held, s checked under it to
 * be a slab of this bin. Slabs that become empty are queued on *retire for
 * the page heap (returned after the bin lock drops). */
static void bin_put_checked(ta_bin_t *bin, ta_span_t *s, void *obj, const char *func, ta_span_t **retire)
{
    uintptr_t p = (uintptr_t)obj;
    unsigned cls = s->sclass;
    uint32_t idx = ta_class_index(cls, (uint32_t)(p - s->start));
    uint64_t bit = 1ull << (idx % 64);
    if (s->freemap[idx / 64] & bit) {
        ta_log_misuse(func, "double free", obj);
        return;
    }
    /* Relaxed: ta_lookup_live reads the free map without this lock. */
    TA_RELAXED_STORE(s->freemap[idx / 64], s->freemap[idx / 64] | bit);
    s->nfree++;
    bin->free_slots++;
    bin->nfree++;
    if (s->nfree == 1)
        bin_push(bin, s);
    /* An empty slab goes back to the page heap unless it is the bin's only
     * one, which is kept to avoid thrashing at a slab boundary. */
    if (s->nfree == s->nobjs && !(bin->partial == s && !s->next)) {
        bin_unlink(bin, s);
        bin->nslabs--;
        bin->free_slots -= s->nobjs;
        /* Under the bin lock, while page-lock holders look at the state of
         * neighbouring runs (only "FREE or not" matters to them). */
        TA_RELAXED_STORE(s->state, TA_SPAN_RETIRING);
        s->next = *retire;
        *retire = s;
    }
}

static void bin_put(ta_arena_t *a, ta_bin_t *bin, unsigned cls, void *obj, const char *func, ta_span_t **retire)
{
    ta_span_t *s = ta_pagemap_get((uintptr_t)obj);
    /* Re-checked under the bin lock: the slab may have been retired by a
     * racing double free since the caller looked it up. (Reporting under the
     * lock is fine: write(2) only; abort ends everything anyway.) */
    if (!s || TA_RELAXED_LOAD(s->state) != TA_SPAN_SLAB || s->sclass != cls || s->arena != a) {
        ta_log_misuse(func, "double free or invalid pointer", obj);
        return;
    }
    bin_put_checked(bin, s, obj, func, retire);
}

/* The slab of node, if node can be a block on this bin's remote stack (a
 * slot of one of this bin's slabs carrying the free key), else NULL. The stack's links live inside
 * freed blocks, where a use-after-free write can reach them; liburcu keeps
 * them as plain pointers, so instead of mangling them each node is checked
 * through the page map before its link is followed. */
static ta_span_t *remote_node_slab(ta_arena_t *a, unsigned cls, const void *node)
{
    if (!ta_link_plausible(node))
        return NULL;
    uintptr_t p = (uintptr_t)node;
    ta_span_t *s = ta_pagemap_get(p);
    if (!s || __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != TA_SPAN_SLAB ||
        s->sclass != cls || s->arena != a)
        return NULL;
    bool ok = ta_slab_is_slot(s, cls, p) && (TA_CHECKS_OFF || ta_block_marked_free(s, node));
    return ok ? s : NULL;
}

/* Takes the remote stack's blocks back into their slabs; bin lock held. A
 * node that fails the check ends the walk: the rest of the stack is
 * unreachable garbage or the victim of an overwrite, and is leaked. */
static void bin_drain_remote(ta_arena_t *a, ta_bin_t *bin, unsigned cls, ta_span_t **retire)
{
    if (cds_lfs_empty(&bin->remote))
        return;
    struct cds_lfs_head *head = __cds_lfs_pop_all(&bin->remote);
    struct cds_lfs_node *node = head ? &head->node : NULL;
    while (node) {
        ta_span_t *s = remote_node_slab(a, cls, node);
        if (TA_UNLIKELY(!s)) {
            ta_log_misuse("free", "corrupted remote free list", node);
            return;
        }
        struct cds_lfs_node *next = node->next;
        bin_put_checked(bin, s, node, "free", retire);
        node = next;
    }
}

static void bin_retire(ta_arena_t *a, ta_span_t *retire, const char *func)
{
    while (retire) {
        ta_span_t *s = retire;
        retire = s->next;
        ta_pages_free(a, s, func);
    }
}

static bool bin_lock(ta_bin_t *bin)
{
    if (ta_lock_try(&bin->lock))
        return false;
    ta_lock_acquire(&bin->lock);
    return true;
}

/* The block of slot idx, which the caller took out of s's free map (bin
 * lock held), tagged TA_FRESH_TAG if no block was handed out there since the
 * slab was made; every later one is (see s->fresh). */
static TA_ALWAYS_INLINE void *slab_slot_taken(ta_span_t *s, uint32_t idx, uint32_t size)
{
    uintptr_t p = s->start + (uintptr_t)idx * size;
    if (idx >= s->fresh) {
        TA_RELAXED_STORE(s->fresh, idx + 1);
        p |= TA_FRESH_TAG;
    }
    return (void *)p;
}

/* Hardened mode: takes a random free slot of s (bin lock held), so neither
 * the order in which blocks are handed out nor their neighbours can be
 * predicted. s has a free slot. */
static void *slab_take_random(ta_span_t *s, uint32_t size)
{
    static TA_TLS uint64_t rng;
    uint64_t x = rng ? rng : (ta_free_key ^ (uint64_t)(uintptr_t)&rng) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng = x;
    unsigned nwords = (s->nobjs + 63u) / 64u;
    unsigned w = (unsigned)(x % nwords), r = (unsigned)(x >> 58);
    while (!s->freemap[w])
        w = (w + 1) % nwords;
    uint64_t bits = s->freemap[w];
    uint64_t rotated = r ? (bits >> r) | (bits << (64 - r)) : bits;
    unsigned bit = ((unsigned)__builtin_ctzll(rotated) + r) % 64u;
    __atomic_store_n(&s->freemap[w], bits & ~(1ull << bit), __ATOMIC_RELAXED);
    return slab_slot_taken(s, w * 64 + bit, size);
}

unsigned ta_bin_alloc(ta_arena_t *a, unsigned cls, void **out, unsigned n, bool *contended)
{
    ta_bin_t *bin = &a->bins[cls];
    const uint32_t size = ta_classes[cls].size;
    unsigned got = 0;
    ta_span_t *retire = NULL;
    bool busy = bin_lock(bin);
    if (contended)
        *contended = busy;
    bin_drain_remote(a, bin, cls, &retire);
    while (got < n) {
        ta_span_t *s = bin->partial;
        if (!s) {
            s = slab_new(a, cls);
            if (!s)
                break;
            bin->nslabs++;
            bin->free_slots += s->nobjs;
            bin_push(bin, s);
        }
        unsigned taken = 0;
        while (TA_UNLIKELY(ta_hardened & TA_HARDEN_RANDOM) && got < n && taken < s->nfree) {
            out[got++] = slab_take_random(s, size);
            taken++;
        }
        for (unsigned w = 0; w < TA_SLAB_MAX_OBJS / 64 && got < n; w++) {
            uint64_t bits = s->freemap[w];
            while (bits && got < n) {
                unsigned bit = (unsigned)__builtin_ctzll(bits);
                bits &= bits - 1;
                out[got++] = slab_slot_taken(s, w * 64 + bit, size);
                taken++;
            }
            TA_RELAXED_STORE(s->freemap[w], bits);
        }
        s->nfree = (uint16_t)(s->nfree - taken);
        bin->free_slots -= taken;
        if (!s->nfree)
            bin_unlink(bin, s);
    }
    bin->nmalloc += got;
    ta_lock_release(&bin->lock);
    bin_retire(a, retire, "malloc");
    return got;
}

static void bin_free_locked(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n, const char *func)
{
    ta_bin_t *bin = &a->bins[cls];
    ta_span_t *retire = NULL;
    bin_drain_remote(a, bin, cls, &retire);
    for (unsigned i = 0; i < n; i++)
        bin_put(a, bin, cls, objs[i], func, &retire);
    ta_lock_release(&bin->lock);
    bin_retire(a, retire, func);
}

void ta_bin_free(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n, const char *func)
{
    bin_lock(&a->bins[cls]);
    bin_free_locked(a, cls, objs, n, func);
}

void ta_arena_drain_remote(ta_arena_t *a)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        ta_bin_t *bin = &a->bins[c];
        if (cds_lfs_empty(&bin->remote) || !ta_lock_try(&bin->lock))
            continue;
        bin_free_locked(a, c, NULL, 0, "free");
    }
}

void ta_bin_free_remote(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n)
{
    if (!n)
        return;
    /* Linked here, then published with one compare-and-swap: the same
     * thing cds_lfs_push does for one node (node->next is the old head,
     * the head becomes the node; struct cds_lfs_head is that node), done
     * for a chain. __cds_lfs_pop_all, the only reader, takes chains. */
    for (unsigned i = 0; i < n; i++) {
        struct cds_lfs_node *node = objs[i];
        /* Blocks a refill put in a cache were never marked free. */
        ta_block_mark_free(ta_pagemap_get((uintptr_t)node), node);
        node->next = i + 1 < n ? (struct cds_lfs_node *)objs[i + 1] : NULL;
    }
    struct cds_lfs_node *last = objs[n - 1];
    struct cds_lfs_head *first = caa_container_of((struct cds_lfs_node *)objs[0], struct cds_lfs_head, node);
    struct __cds_lfs_stack *s = &a->bins[cls].remote;
    struct cds_lfs_head *head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
    /* A full barrier like liburcu's own push: the links and free keys are
     * written first. */
    TA_TSAN_RELEASE(s);
    do
        last->next = head ? &head->node : NULL;
    while (!__atomic_compare_exchange_n(&s->head, &head, first, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
}

void ta_bin_free_nowait(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n, const char *func)
{
    ta_bin_t *bin = &a->bins[cls];
    if (ta_lock_try(&bin->lock)) {
        bin_free_locked(a, cls, objs, n, func);
        return;
    }
    ta_bin_free_remote(a, cls, objs, n);
}
