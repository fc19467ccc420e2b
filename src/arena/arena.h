/* Arenas: each owns heaps (the main arena: the sbrk heap; others and the
 * main arena's fallback: mmap'd heaps), a page heap of free runs with
 * coalescing, and one bin per size class holding partially used slabs.
 * Locking is split: one lock per bin, one page lock per arena (rank order in
 * lock.h: bin before pages), so refills of different classes do not contend. */
#ifndef TA_ARENA_H
#define TA_ARENA_H
#include "internal.h"
#include "lock.h"
#include "pagemap.h"
#include "sizeclass.h"
#include "span.h"
#include <urcu/lfstack.h>

/* Free runs: exact lists for 1..64 pages, then one list per power of two. */
#define TA_NBUCKETS 128
#define TA_EXACT_BUCKETS 64

typedef struct ta_bin {
    ta_lock_t lock;
    /* Blocks freed by threads that found the bin lock busy: lock-free push by
     * anyone, drained by whoever holds the lock next (liburcu lfstack). */
    struct __cds_lfs_stack remote;
    ta_span_t *partial;  /* bin lock: slabs with free slots */
    uint64_t free_slots; /* bin lock */
    uint64_t nslabs;     /* bin lock */
    uint64_t nmalloc;    /* bin lock: objects handed out, ever */
    uint64_t nfree;      /* bin lock: objects given back, ever */
} TA_ALIGNED_CL ta_bin_t;

typedef struct ta_arena {
    ta_lock_t page_lock;
    unsigned index;
    bool is_main;
    unsigned nthreads; /* arena table lock: threads bound to this arena */
    /* Everything below up to bins: page lock. */
    ta_span_t *free_runs[TA_NBUCKETS];
    uint64_t nonempty[TA_NBUCKETS / 64];
    uintptr_t brk_end;      /* main: end of our part of the break heap, 0 = none */
    uint64_t heap_bytes;    /* memory in this arena's heaps */
    uint64_t free_bytes;    /* of which in free runs */
    uint64_t free_runs_n;   /* number of free runs */
    uint64_t dirty_pages;   /* pages of free runs that may be resident; stored
                             * relaxed: the trimmer also reads it unlocked */
    uint64_t purged_bytes;  /* purged with madvise, ever */
    uint64_t block_allocs, block_frees; /* medium blocks, ever */
    uint64_t trimmed_bytes; /* returned to the OS (sbrk shrink + purge), ever */
    uint64_t sbrk_fallbacks;
    uint64_t brk_foreign;   /* shrinks refused because a foreign sbrk moved the break */
    ta_bin_t bins[TA_NCLASSES];
} ta_arena_t;

#define TA_MAX_ARENAS 256
extern ta_arena_t ta_main_arena TA_HIDDEN;

/* Runs of pages (pages.c). Both take the page lock themselves. */
ta_span_t *ta_pages_alloc(ta_arena_t *a, size_t npages, size_t align, ta_span_state_t state) TA_HIDDEN;
/* Returns a SLAB or BLOCK span; func names the caller for the double-free report. */
void ta_pages_free(ta_arena_t *a, ta_span_t *s, const char *func) TA_HIDDEN;
/* Grows a BLOCK in place into the free run after it; false if impossible. */
bool ta_pages_grow_in_place(ta_arena_t *a, ta_span_t *s, size_t npages) TA_HIDDEN;
/* Shrinks a BLOCK in place, freeing its tail. */
void ta_pages_shrink_in_place(ta_arena_t *a, ta_span_t *s, size_t npages) TA_HIDDEN;
/* Trims the arena: the top above pad, and with `all` every free run's pages
 * (glibc's malloc_trim). Returns bytes given back. (purge.c) */
size_t ta_arena_trim(ta_arena_t *a, size_t pad, bool all) TA_HIDDEN;
/* One step of the background trimmer's policy for arena a: once the break
 * heap's top passes M_TRIM_THRESHOLD, give back all of it beyond M_TOP_PAD;
 * then purge free runs idle for at least decay_ms (every dirty run when
 * `urgent`), up to about `budget` bytes. Starts with a trylock (an
 * allocating thread never waits for the trimmer beyond one list update) and
 * drops the page lock around each madvise. Returns bytes released; lowers
 * *due_in to the ms until the next run becomes idle enough (0: call again
 * now, UINT32_MAX untouched: nothing dirty). */
size_t ta_arena_purge_step(ta_arena_t *a, uint32_t decay_ms, bool urgent, size_t budget, uint32_t *due_in) TA_HIDDEN;
/* Set (atomic) by a free that left more than M_TRIM_THRESHOLD releasable
 * while the background trimmer is on; the layer above wakes the trimmer. */
extern bool ta_arena_release_pending TA_HIDDEN;
/* Kept by the trimmer (atomic): true while it sleeps with nothing to watch,
 * so frees only wake it then; while it ticks it finds new work itself. */
extern bool ta_arena_trimmer_idle TA_HIDDEN;

/* Slabs and bins (bins.c). */
/* Fills out[] with up to n objects of class cls; returns how many (0: ENOMEM).
 * *contended (may be NULL) is set when the bin lock was busy. Objects from
 * never-used slots carry TA_FRESH_TAG: hand them out with ta_block_hand_out. */
unsigned ta_bin_alloc(ta_arena_t *a, unsigned cls, void **out, unsigned n, bool *contended) TA_HIDDEN;
/* Gives back n objects, all from slabs of class cls in arena a. Objects that
 * are already free are reported (func) and skipped. */
void ta_bin_free(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n, const char *func) TA_HIDDEN;
/* n blocks of class cls freed by threads bound to other arenas: pushed as
 * one chain on the owning bin's remote stack (one CAS, never waits),
 * drained by the next holder of its lock. */
void ta_bin_free_remote(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n) TA_HIDDEN;
/* Drains every bin's remote stack whose lock is free (trylock only): the
 * trimmer calls it so blocks of idle arenas do not stay stranded. */
void ta_arena_drain_remote(ta_arena_t *a) TA_HIDDEN;
/* Like ta_bin_free, but never waits: when the bin lock is busy the objects go
 * on the bin's remote stack for the next lock holder. */
void ta_bin_free_nowait(ta_arena_t *a, unsigned cls, void *const *objs, unsigned n, const char *func) TA_HIDDEN;

/* Large blocks with their own mapping (large.c). */
void *ta_large_alloc(size_t size, size_t align) TA_HIDDEN;
void ta_large_free(ta_span_t *s, const char *func) TA_HIDDEN;
/* Resizes with mremap; NULL (block intact) on failure. */
void *ta_large_realloc(ta_span_t *s, size_t size) TA_HIDDEN;
extern uint64_t ta_large_count, ta_large_bytes, ta_large_allocs, ta_large_frees TA_HIDDEN; /* atomic, relaxed */

/* Arena table and lifecycle (arena.c). */
void ta_arena_boot(void) TA_HIDDEN;
/* Sets up an arena record (locks, remote stacks); tests use it for private arenas. */
void ta_arena_init(ta_arena_t *a, unsigned index) TA_HIDDEN;
/* Binds a thread: an arena with no threads first (exited threads' arenas are
 * reused), else a new one while under the limit, else the least loaded.
 * `avoid` (may be NULL) is skipped when another choice exists. */
ta_arena_t *ta_arena_bind(ta_arena_t *avoid) TA_HIDDEN;
void ta_arena_unbind(ta_arena_t *a) TA_HIDDEN;
/* The most arenas this process will create. */
unsigned ta_arena_limit(void) TA_HIDDEN;
void ta_arena_prefork(void) TA_HIDDEN;
/* child: `survivor` is the forking thread's arena (may be NULL). */
void ta_arena_postfork(bool child, ta_arena_t *survivor) TA_HIDDEN;
unsigned ta_arena_count(void) TA_HIDDEN;
ta_arena_t *ta_arena_get(unsigned index) TA_HIDDEN;

/* Block lookup used by free/realloc/usable_size (lookup.c). */
typedef enum ta_lookup_result {
    TA_LOOKUP_OK = 0,
    TA_LOOKUP_INVALID,   /* not a pointer tarena handed out */
    TA_LOOKUP_FREED,     /* the block is already free */
} ta_lookup_result_t;
ta_lookup_result_t ta_lookup(const void *p, ta_span_t **span) TA_HIDDEN;
/* Usable bytes of the block at p in span s (validated by ta_lookup). */
size_t ta_block_usable(const ta_span_t *s) TA_HIDDEN;
#endif
