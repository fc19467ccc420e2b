/* Thread-cache lifecycle and slow paths: creation on a thread's first miss,
 * batch refill and flush, idle-bin GC, arena migration under contention,
 * return of everything on thread exit (pthread key destructor) and fork. */
#include "tcache_inline.h"
#include "log.h"
#include "options.h"
#include "vg.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <urcu/urcu-bp.h>

const ta_tcache_t ta_tcache_empty;
TA_TLS ta_tcache_t *ta_tcache_tls = (ta_tcache_t *)&ta_tcache_empty;
/* Set once the thread's cache was torn down: later calls (other TSD
 * destructors) go straight to the arenas instead of building a new cache. */
static TA_TLS bool thread_exiting;
/* Set while this thread rearranges its cache (refill, flush). A fork from a
 * signal handler that lands in that window leaves the child a half-moved
 * stack, which the child then drops (see ta_tcache_postfork). */
static TA_TLS bool rearranging;

static pthread_key_t exit_key;
static ta_lock_t list_lock = TA_LOCK_INITIALIZER("tcache.list", TA_RANK_TCACHE_LIST);
static ta_tcache_t *live_caches;      /* list lock for writers; RCU readers */
static ta_tcache_t *limbo;            /* list lock: unlinked, not yet reclaimable */
static unsigned limbo_count;          /* list lock */
static bool walk_locked;              /* set in forked children: no RCU there */
static ta_tcache_totals_t retired;    /* list lock: counters of exited threads */
static unsigned generation;           /* atomic */

/* Bytes a cache may hold per class, whatever TARENA_TCACHE_COUNT says. */
#define TA_TCACHE_CLASS_BYTES ((size_t)64 * 1024)
/* Slow-path calls between two GC steps, and trylock failures before moving. */
#define TA_TCACHE_GC_EVERY 64
#define TA_TCACHE_CONTENTION_MOVE 8

static unsigned tcache_class_max(unsigned cls)
{
    size_t size = ta_classes[cls].size;
    /* Perturbation fills on every malloc/free, hardened mode checks every
     * block: the slow path does that, so such a process caches nothing. */
    if (TA_OPT(perturb) || ta_hardened || size > TA_OPT(tcache_max))
        return 0;
    size_t by_bytes = TA_MAX(TA_TCACHE_CLASS_BYTES / size, (size_t)2);
    return (unsigned)TA_MIN((size_t)TA_OPT(tcache_count), by_bytes);
}

/* Outbox capacity: a batch worth a lock, but few bytes of big blocks held
 * back from their owners. None where the class is not cached. */
#define TA_TCACHE_OUTBOX_BYTES ((size_t)16 * 1024)
static unsigned outbox_max(unsigned cls, unsigned class_max)
{
    if (!class_max)
        return 0;
    size_t by_bytes = TA_MAX(TA_TCACHE_OUTBOX_BYTES / ta_classes[cls].size, (size_t)1);
    return (unsigned)TA_MIN(by_bytes, (size_t)TA_TCACHE_OUTBOX);
}

static void tcache_exit(void *arg);

void ta_tcache_boot(void)
{
    /* Early, so the key's index is small: glibc keeps keys below 32 in static
     * storage, and pthread_setspecific for larger ones calls calloc. */
    pthread_key_create(&exit_key, tcache_exit);
}

static ta_tcache_t *tcache_create(void)
{
    unsigned max[TA_NCLASSES], slots = 0;
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        max[c] = tcache_class_max(c);
        slots += max[c];
    }
    size_t bytes = sizeof(ta_tcache_t) + (size_t)slots * sizeof(void *);
    /* The record lives in the main arena's page heap, outside any cache. */
    ta_span_t *s = ta_pages_alloc(&ta_main_arena, ta_pages_for(bytes), TA_PAGE_SIZE, TA_SPAN_BLOCK);
    if (!s)
        return NULL;
    ta_tcache_t *tc = (ta_tcache_t *)s->start;
    TA_VG_META_BEGIN(tc, bytes); /* valgrind: its stale block addresses hide no leak */
    memset(tc, 0, sizeof *tc);
    tc->mem_bytes = bytes;
    void **slot = (void **)(tc + 1);
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        tc->bins[c].max = max[c];
        tc->bins[c].items = slot;
        slot += max[c];
        tc->outbox_max[c] = (uint8_t)outbox_max(c, max[c]);
    }
    tc->generation = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
    tc->arena = ta_arena_bind(NULL);
    ta_lock_acquire(&list_lock);
    tc->next = live_caches;
    if (live_caches)
        live_caches->prev = tc;
    __atomic_store_n(&live_caches, tc, __ATOMIC_RELEASE);
    ta_lock_release(&list_lock);
    pthread_setspecific(exit_key, tc);
    return tc;
}

ta_tcache_t *ta_tcache_get(void)
{
    ta_tcache_t *tc = ta_tcache_tls;
    if (TA_LIKELY(tc != &ta_tcache_empty))
        return tc;
    if (thread_exiting)
        return NULL;
    tc = tcache_create();
    if (tc)
        ta_tcache_tls = tc;
    return tc;
}

ta_arena_t *ta_tcache_arena(ta_tcache_t *tc)
{
    return tc ? tc->arena : &ta_main_arena;
}

static ta_arena_t *block_arena(void *p)
{
    return ta_pagemap_get((uintptr_t)p)->arena;
}

/* Returns n blocks of class cls, mangled entries of items (decoded in
 * place), to their arenas, grouped by arena: the own arena waits for its
 * lock, others never do (remote stack). Caller sets rearranging. */
static void return_blocks(ta_tcache_t *tc, unsigned cls, void **items, unsigned n)
{
    /* Decode in place; an entry that does not decode to a block of ours was
     * overwritten: reported and dropped. (bin_put checks the rest.) The same
     * lookup tells whether all belong to one arena, the usual case, which
     * then needs no sorting by arena (and no second lookup). */
    unsigned left = 0;
    ta_arena_t *first = NULL;
    bool one_arena = true;
    for (unsigned i = 0; i < n; i++) {
        void *p = ta_block_untag(ta_link_decode(items[i]));
        ta_span_t *s = ta_link_plausible(p) ? ta_pagemap_get((uintptr_t)p) : NULL;
        if (TA_LIKELY(s)) {
            items[left++] = p;
            if (!first)
                first = s->arena;
            one_arena &= s->arena == first;
        } else {
            ta_log_misuse("free", "corrupted thread-cache entry", p);
        }
    }
    while (left) {
        /* Partition: blocks of the first block's arena to the front. */
        ta_arena_t *a = first;
        unsigned same = left;
        if (!one_arena) {
            a = block_arena(items[0]);
            same = 0;
            for (unsigned i = 0; i < left; i++) {
                if (block_arena(items[i]) == a) {
                    void *t = items[same];
                    items[same++] = items[i];
                    items[i] = t;
                }
            }
        }
        if (a == tc->arena)
            ta_bin_free(a, cls, items, same, "free");
        else
            ta_bin_free_nowait(a, cls, items, same, "free");
        items += same;
        left -= same;
    }
}

/* Returns the n oldest blocks of bin cls to their arenas. */
static void tcache_flush_bin(ta_tcache_t *tc, unsigned cls, unsigned n)
{
    rearranging = true;
    ta_tbin_t *b = &tc->bins[cls];
    return_blocks(tc, cls, b->items, n);
    memmove(b->items, b->items + n, (b->count - n) * sizeof(void *));
    TA_RELAXED_STORE(b->count, b->count - n);
    rearranging = false;
}

static void outbox_flush(ta_tcache_t *tc, unsigned cls)
{
    rearranging = true;
    return_blocks(tc, cls, tc->outbox[cls], tc->outbox_count[cls]);
    TA_RELAXED_STORE(tc->outbox_count[cls], 0);
    rearranging = false;
}

void ta_tcache_send_back(ta_tcache_t *tc, ta_arena_t *owner, unsigned cls, void *p)
{
    if (TA_UNLIKELY(!tc->outbox_max[cls])) {
        /* No outbox (this class is not cached): straight to the owner. */
        ta_bin_free_remote(owner, cls, &p, 1);
        return;
    }
    /* Full outboxes are sent on at once, so there is room. */
    if (ta_outbox_put(tc, cls, tc->outbox_count[cls], p) >= tc->outbox_max[cls])
        outbox_flush(tc, cls);
}

static void tcache_flush_all(ta_tcache_t *tc)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        if (tc->bins[c].count)
            tcache_flush_bin(tc, c, tc->bins[c].count);
        if (tc->outbox_count[c])
            outbox_flush(tc, c);
    }
}

/* One GC step: a bin that needed no refill since the last visit is idle and
 * gives back half of what it holds, so an idle thread does not hoard. */
static void tcache_gc_step(ta_tcache_t *tc)
{
    unsigned c = tc->gc_next;
    tc->gc_next = (c + 1) % TA_NCLASSES;
    ta_tbin_t *b = &tc->bins[c];
    if (!(tc->active & (1ull << c)) && b->count)
        tcache_flush_bin(tc, c, (b->count + 1) / 2);
    /* An outbox is held at most one GC round (and by a thread that stops
     * allocating, until it exits or trims). */
    if (tc->outbox_count[c])
        outbox_flush(tc, c);
    tc->active &= ~(1ull << c);
    if (tc->contention)
        tc->contention--;
}

/* Slow-path housekeeping: GC ticks and option changes. */
static void tcache_housekeeping(ta_tcache_t *tc)
{
    if (++tc->gc_tick >= TA_TCACHE_GC_EVERY) {
        tc->gc_tick = 0;
        tcache_gc_step(tc);
    }
    if (TA_UNLIKELY(tc->generation != __atomic_load_n(&generation, __ATOMIC_ACQUIRE))) {
        tc->generation = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        tcache_flush_all(tc);
        /* Caches can shrink their limits in place; growing needs a new record,
         * which the next thread gets. */
        for (unsigned c = 0; c < TA_NCLASSES; c++) {
            tc->bins[c].max = TA_MIN(tc->bins[c].max, tcache_class_max(c));
            tc->outbox_max[c] = (uint8_t)TA_MIN(tc->outbox_max[c], outbox_max(c, tc->bins[c].max));
        }
    }
}

void *ta_tcache_refill(ta_tcache_t *tc, unsigned cls)
{
    tcache_housekeeping(tc);
    ta_tbin_t *b = &tc->bins[cls];
    if (!b->max)
        return NULL;
    tc->active |= 1ull << cls;
    bool contended = false;
    unsigned want = TA_MAX(b->max / 4, 1u);
    rearranging = true;
    unsigned got = ta_bin_alloc(tc->arena, cls, b->items, want, &contended);
    if (contended && ++tc->contention >= TA_TCACHE_CONTENTION_MOVE) {
        /* This stripe is busy: move to a less loaded arena. */
        ta_arena_t *old = tc->arena;
        tc->arena = ta_arena_bind(old);
        ta_arena_unbind(old);
        tc->contention = 0;
    }
    if (!got) {
        rearranging = false;
        return NULL;
    }
    for (unsigned i = 0; i + 1 < got; i++)
        b->items[i] = ta_link_encode(b->items[i]);
    TA_RELAXED_STORE(b->count, got - 1);
    rearranging = false;
    TA_OWNER_ADD(b->nmalloc, 1);
    return ta_block_hand_out(b->items[got - 1]);
}

TA_TLS void *ta_tcache_bad_entry;

void ta_tcache_report_corrupt(void)
{
    /* Something overwrote the cache's stack (it lives in heap memory). */
    void *p = ta_tcache_bad_entry;
    ta_tcache_bad_entry = NULL;
    ta_log_misuse("malloc", "corrupted thread-cache entry", p);
}

void ta_tcache_overflow(ta_tcache_t *tc, unsigned cls, void *p)
{
    tcache_housekeeping(tc);
    ta_tbin_t *b = &tc->bins[cls];
    if (!b->max) {
        TA_OWNER_ADD(b->nfree, 1);
        ta_arena_t *a = block_arena(p);
        ta_bin_free(a, cls, &p, 1, "free");
        return;
    }
    tc->active |= 1ull << cls;
    tcache_flush_bin(tc, cls, (b->count + 1) / 2);
    TA_OWNER_ADD(b->nfree, 1);
    b->items[b->count] = ta_link_encode(p);
    TA_RELAXED_STORE(b->count, b->count + 1);
}

void ta_tcache_flush_current(void)
{
    ta_tcache_t *tc = ta_tcache_tls;
    if (tc != &ta_tcache_empty)
        tcache_flush_all(tc);
}

void ta_tcache_options_changed(void)
{
    __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
    ta_tcache_t *tc = ta_tcache_tls;
    if (tc != &ta_tcache_empty)
        tcache_housekeeping(tc);
}

/* Reads another thread's counters while it runs: relaxed loads, each word
 * at worst a few operations old (owners store them relaxed, see tcache.h). */
static void totals_add(ta_tcache_totals_t *t, const ta_tcache_t *tc)
{
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        const ta_tbin_t *b = &tc->bins[c];
        uint64_t size = ta_classes[c].size - TA_CANARY_BYTES(); /* usable size */
        uint64_t nmalloc = TA_RELAXED_LOAD(b->nmalloc), nfree = TA_RELAXED_LOAD(b->nfree);
        uint64_t count = TA_RELAXED_LOAD(b->count);
        t->nmalloc += nmalloc;
        t->nfree += nfree;
        t->bytes_malloc += nmalloc * size;
        t->bytes_free += nfree * size;
        /* Outboxes too: freed by the program, not yet back in an arena. */
        count += TA_RELAXED_LOAD(tc->outbox_count[c]);
        t->cached_blocks += count;
        t->cached_bytes += count * size;
    }
    t->nmalloc += TA_RELAXED_LOAD(tc->big_nmalloc);
    t->nfree += TA_RELAXED_LOAD(tc->big_nfree);
    t->bytes_malloc += TA_RELAXED_LOAD(tc->big_bytes_malloc);
    t->bytes_free += TA_RELAXED_LOAD(tc->big_bytes_free);
}

/* Retired records go back to the page heap only after an RCU grace period,
 * since a stats walk may still be reading them. Batched, so that thread
 * churn pays for one grace period per TA_TCACHE_LIMBO_BATCH exits. Called
 * with no allocator lock held. */
#define TA_TCACHE_LIMBO_BATCH 8
static void tcache_reclaim(void)
{
    ta_lock_acquire(&list_lock);
    ta_tcache_t *batch = NULL;
    if (limbo_count >= TA_TCACHE_LIMBO_BATCH || (limbo_count && walk_locked)) {
        batch = limbo;
        limbo = NULL;
        limbo_count = 0;
    }
    ta_lock_release(&list_lock);
    if (!batch)
        return;
    if (!walk_locked)
        urcu_bp_synchronize_rcu();
    while (batch) {
        ta_tcache_t *tc = batch;
        batch = tc->limbo_next;
        TA_VG_META_END(tc, tc->mem_bytes);
        ta_pages_free(&ta_main_arena, ta_pagemap_get((uintptr_t)tc), "thread exit");
    }
}

/* Thread exit: everything goes back, the arena binding is released. */
static void tcache_exit(void *arg)
{
    ta_tcache_t *tc = arg;
    TA_VG_QUIET_BEGIN(); /* valgrind: the flush writes into freed blocks */
    thread_exiting = true;
    ta_tcache_tls = (ta_tcache_t *)&ta_tcache_empty;
    tcache_flush_all(tc);
    /* Before tc goes into limbo: from then on another thread's
     * tcache_reclaim may free it at any moment (this thread is in no RCU
     * read section), so nothing of it may be read after the list lock is
     * released. */
    ta_arena_unbind(tc->arena);
    ta_lock_acquire(&list_lock);
    ta_tcache_totals_t mine = {0};
    totals_add(&mine, tc);
    retired.nmalloc += mine.nmalloc;
    retired.nfree += mine.nfree;
    retired.bytes_malloc += mine.bytes_malloc;
    retired.bytes_free += mine.bytes_free;
    /* Unlink, leaving tc->next intact for readers still standing on tc. */
    if (tc->prev)
        __atomic_store_n(&tc->prev->next, tc->next, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&live_caches, tc->next, __ATOMIC_RELEASE);
    if (tc->next)
        tc->next->prev = tc->prev;
    tc->limbo_next = limbo;
    limbo = tc;
    limbo_count++;
    ta_lock_release(&list_lock);
    tcache_reclaim();
    TA_VG_QUIET_END();
}

void ta_tcache_totals(ta_tcache_totals_t *out)
{
    bool locked = walk_locked;
    /* Enter the read section before reading any counter: liburcu-bp
     * registers a thread on its first read section and may call malloc then,
     * which must land before the snapshot, not in the middle of it. */
    if (!locked)
        urcu_bp_read_lock();
    ta_lock_acquire(&list_lock);
    *out = retired;
    if (!locked)
        ta_lock_release(&list_lock);
    out->cached_blocks = out->cached_bytes = 0;
    /* Walk the live caches without stopping anyone: the list lock is not
     * held, so thread creation and exit go on while stats are gathered. */
    for (ta_tcache_t *tc = __atomic_load_n(&live_caches, __ATOMIC_ACQUIRE); tc;
         tc = __atomic_load_n(&tc->next, __ATOMIC_ACQUIRE)) {
        /* Other threads' counters are read without their owners' help:
         * monotonic words, so a read is at worst a few operations old. */
        totals_add(out, tc);
        out->threads++;
    }
    if (locked)
        ta_lock_release(&list_lock);
    else
        urcu_bp_read_unlock();
}

void ta_tcache_prefork(void)
{
    ta_lock_acquire_for_fork(&list_lock);
}

void ta_tcache_postfork(bool child, bool interrupted)
{
    if (!child) {
        ta_lock_release_for_fork(&list_lock);
        return;
    }
    /* liburcu-bp's registry in the child may hold readers that no longer
     * exist, and calling urcu_bp_before_fork from our handler would deadlock
     * whenever someone else in the process (the program, another copy of
     * tarena) calls it too. So a forked child never touches RCU: its walks
     * take the list lock, and records are freed as soon as they are unlinked. */
    walk_locked = true;
    ta_lock_reinit(&list_lock);
    /* Only the forking thread survives; the others' caches are unreachable
     * in the child (their blocks stay allocated, as with glibc). */
    ta_tcache_t *self = ta_tcache_tls;
    if ((rearranging || interrupted) && self != &ta_tcache_empty) {
        /* Forked from a signal handler that interrupted this thread inside
         * the allocator: the cache may hold a block twice (a refill or flush
         * half done), and the arena it was working on may be half updated.
         * Drop the cache (a leak in the child only) and move to another
         * arena, so the child does not build on a half-done change. */
        for (unsigned c = 0; c < TA_NCLASSES; c++)
            self->bins[c].count = self->outbox_count[c] = 0;
        ta_arena_t *old = self->arena;
        self->arena = ta_arena_bind(old);
        ta_arena_unbind(old);
    }
    rearranging = false;
    live_caches = NULL;
    if (self != &ta_tcache_empty) {
        self->next = self->prev = NULL;
        live_caches = self;
    }
}

TA_EXPORT void **ta_test_tcache_slot(size_t size)
{
    ta_tcache_t *tc = ta_tcache_tls;
    if (size > TA_SMALL_MAX || tc == &ta_tcache_empty)
        return NULL;
    ta_tbin_t *b = &tc->bins[ta_size2class(size)];
    return b->count ? &b->items[b->count - 1] : NULL;
}

TA_EXPORT unsigned ta_test_outbox_count(size_t size)
{
    ta_tcache_t *tc = ta_tcache_tls;
    if (size > TA_SMALL_MAX || tc == &ta_tcache_empty)
        return 0;
    return tc->outbox_count[ta_size2class(size)];
}
