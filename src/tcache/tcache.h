/* Thread caches: per thread, per size class, a LIFO stack of free blocks,
 * refilled from and flushed to the arenas in batches. The fast path (see
 * tcache_inline.h) is a TLS load and a pop or push: no lock, no atomic
 * read-modify-write. A thread starts on a const empty sentinel, so its first call misses and
 * creates its cache on the slow path; no "initialised?" test anywhere. */
#ifndef TA_TCACHE_H
#define TA_TCACHE_H
#include "arena.h"

/* count, nmalloc, nfree and the big_* counters below are written by the
 * owner thread only and read by stats walks in other threads: the owner
 * stores them with TA_RELAXED_STORE / TA_OWNER_ADD (the same plain store as
 * before on x86-64 and aarch64, no locked instruction), readers load them
 * relaxed. */
typedef struct ta_tbin {
    uint32_t count;     /* owner writes (relaxed); stats read */
    uint32_t max;       /* owner thread only; 0 on the sentinel and for uncached classes */
    void **items;       /* items[count - 1] is the most recently freed */
    uint64_t nmalloc;   /* owner writes (relaxed); stats read (monotonic counters) */
    uint64_t nfree;
} ta_tbin_t;

/* Most blocks an outbox holds (fewer for big classes, see tcache.c). */
#define TA_TCACHE_OUTBOX 32

typedef struct ta_tcache {
    ta_tbin_t bins[TA_NCLASSES];
    ta_arena_t *arena;            /* owner; the arena this thread is bound to */
    /* Live caches, for stats: changed under the list lock, walked by readers
     * inside urcu-bp read sections (next is published with release). */
    struct ta_tcache *next, *prev;
    struct ta_tcache *limbo_next;  /* list lock: retired, awaiting a grace period */
    uint64_t big_nmalloc, big_nfree;             /* owner (relaxed): blocks above the small classes */
    uint64_t big_bytes_malloc, big_bytes_free;
    uint64_t active;              /* owner: bins refilled since the GC last looked
                                   * (also decides whether other arenas' blocks are kept) */
    unsigned gc_tick, gc_next, contention, generation;
    /* Outboxes: blocks of other arenas that this thread freed but does not
     * keep (see ta_tcache_wants), per class, mangled like items. They go
     * back to their owners a batch at a time (one bin lock or remote-stack
     * visit per batch, not per block) and are never handed out here. */
    uint8_t outbox_count[TA_NCLASSES]; /* owner writes (relaxed); stats read */
    uint8_t outbox_max[TA_NCLASSES];   /* 0: no outbox (classes the cache skips) */
    void *outbox[TA_NCLASSES][TA_TCACHE_OUTBOX];
    size_t mem_bytes;             /* size of this record's own memory */
} ta_tcache_t;

extern TA_TLS ta_tcache_t *ta_tcache_tls TA_HIDDEN;
extern const ta_tcache_t ta_tcache_empty TA_HIDDEN;

/* Creates the calling thread's cache if it may have one; returns it, or
 * NULL (exiting thread, or no memory) — then the caller goes to an arena. */
ta_tcache_t *ta_tcache_get(void) TA_HIDDEN;
/* Arena for a thread's uncached allocations. */
ta_arena_t *ta_tcache_arena(ta_tcache_t *tc) TA_HIDDEN;
/* Slow paths: bin empty (returns a block or NULL) / bin full. */
void *ta_tcache_refill(ta_tcache_t *tc, unsigned cls) TA_HIDDEN;
void ta_tcache_overflow(ta_tcache_t *tc, unsigned cls, void *p) TA_HIDDEN;
/* A block of another arena that tc does not keep: queued in its outbox and
 * sent back to its arena with the others of its class. */
void ta_tcache_send_back(ta_tcache_t *tc, ta_arena_t *owner, unsigned cls, void *p) TA_HIDDEN;
/* Set by the fast path when a popped entry failed its check (safe-linking);
 * that bin was dropped. The slow path then calls ta_tcache_report_corrupt.
 * (A flag, not a call: a call on the fast path would make it save
 * registers on every malloc.) */
extern TA_TLS void *ta_tcache_bad_entry TA_HIDDEN;
void ta_tcache_report_corrupt(void) TA_HIDDEN;
/* Empties the calling thread's cache (mallopt, malloc_trim) and re-reads
 * the cache options. */
void ta_tcache_flush_current(void) TA_HIDDEN;
/* Bumped when options that shape caches change; caches re-read on slow paths. */
void ta_tcache_options_changed(void) TA_HIDDEN;

void ta_tcache_boot(void) TA_HIDDEN;
void ta_tcache_prefork(void) TA_HIDDEN;
/* interrupted: the fork came from a signal handler that interrupted this
 * thread inside the allocator (child only). */
void ta_tcache_postfork(bool child, bool interrupted) TA_HIDDEN;

/* Counters over live caches plus those of exited threads. */
typedef struct ta_tcache_totals {
    uint64_t nmalloc, nfree, bytes_malloc, bytes_free, cached_blocks, cached_bytes, threads;
} ta_tcache_totals_t;
void ta_tcache_totals(ta_tcache_totals_t *out) TA_HIDDEN;
#endif
