/* Span descriptors: one per run of pages, whatever it holds (a free run, a
 * slab of one size class, one medium block, or one mmap'd large block).
 * Descriptors live outside the pages they describe, in memory that is never
 * given back, so a stale page-map entry always points at a readable span.
 *
 *   state  | pages in the page map      | guarded by
 *   FREE   | first and last             | arena page lock
 *   SLAB   | all (objects anywhere)     | bin lock (freemap, nfree), page lock (range)
 *   BLOCK  | first (block starts there) | arena page lock
 *   MMAP   | first                      | atomic state; no lock
 */
#ifndef TA_SPAN_H
#define TA_SPAN_H
#include "internal.h"
#include "sizeclass.h"

typedef enum ta_span_state {
    TA_SPAN_NONE = 0, /* descriptor not in use */
    TA_SPAN_FREE,
    TA_SPAN_SLAB,
    TA_SPAN_BLOCK,
    TA_SPAN_MMAP,
    TA_SPAN_RETIRING, /* slab on its way back to the page heap */
    TA_SPAN_PURGING,  /* free run taken out by the trimmer while it madvises */
} ta_span_state_t;

typedef enum ta_span_origin {
    TA_ORIGIN_SBRK = 1, /* main arena's break heap: the top can shrink with sbrk */
    TA_ORIGIN_MAP,      /* mmap'd heap memory: purged with madvise */
} ta_span_origin_t;

struct ta_arena;

typedef struct ta_span {
    uintptr_t start;
    size_t npages;           /* MMAP: length of the mapping in pages */
    struct ta_arena *arena;  /* NULL for MMAP and deleted records; atomic (see ta_span_delete) */
    struct ta_span *next, *prev;
    uint8_t state;           /* ta_span_state_t; read lock-free by free() */
    uint8_t sclass;          /* SLAB */
    uint8_t origin;          /* ta_span_origin_t */
    uint8_t pad_;
    uint16_t nfree, nobjs;   /* SLAB, bin lock */
    uint32_t gen;            /* SLAB: new for every slab, scrambled (free keys, see secret.h) */
    union {
        uint32_t dirty_since; /* FREE: ta_os_now_ms() when it last got dirty pages */
        uint32_t fresh;       /* SLAB: slots from here on were never handed out by
                               * this slab (no free key; no block starts there).
                               * Written under the bin lock, read by free():
                               * relaxed */
    };
    size_t dirty_pages;      /* FREE: pages that may be resident (<= npages) */
    uint64_t freemap[TA_SLAB_MAX_OBJS / 64]; /* SLAB: bit set = slot free */
} ta_span_t;

static TA_ALWAYS_INLINE uintptr_t ta_span_end(const ta_span_t *s)
{
    return s->start + (s->npages << TA_PAGE_SHIFT);
}

/* Whether p can be a block of slab s (class cls): a slot boundary, and a
 * slot the slab has handed out before (index below s->fresh, which is at
 * most nobjs). So neither the slab's tail past its last slot, which lies
 * inside its pages, nor a slot never handed out, which may sit in the
 * slab's free map, passes. The full 64-bit offset is compared, so a pointer
 * below start (a stale page-map entry whose descriptor now describes
 * another slab) or 4 GiB past it fails too. */
static TA_ALWAYS_INLINE bool ta_slab_is_slot(const ta_span_t *s, unsigned cls, uintptr_t p)
{
    uintptr_t off = p - s->start;
    uint32_t idx = ta_class_index(cls, (uint32_t)off);
    return idx < TA_RELAXED_LOAD(s->fresh) && (uintptr_t)idx * ta_classes[cls].size == off;
}

/* Descriptor allocator (meta lock). NULL when out of memory. */
ta_span_t *ta_span_new(void) TA_HIDDEN;
void ta_span_delete(ta_span_t *span) TA_HIDDEN;
void ta_span_prefork(void) TA_HIDDEN;
void ta_span_postfork(bool child) TA_HIDDEN;
#endif
