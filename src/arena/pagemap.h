/* The page map: a two-level radix table from every 4 KiB page tarena manages
 * to the span descriptor that covers it. It is how free() finds a block's size
 * class and arena in O(1) and how foreign pointers are recognised.
 *
 * Entries are either NULL or point to a span descriptor. Descriptors are never
 * unmapped (see span.h), so a stale entry is still safe to read; callers check
 * that the descriptor's range covers the address before trusting it.
 * Entries are stored with release and loaded with acquire (plain moves on
 * x86-64), so whoever finds a descriptor also sees it set up, and the memory
 * it lives in mapped. */
#ifndef TA_PAGEMAP_H
#define TA_PAGEMAP_H
#include "internal.h"

typedef struct ta_span ta_span_t;

#define TA_PM_LEAF_BITS 18
#define TA_PM_ROOT_BITS (TA_VA_BITS - TA_PAGE_SHIFT - TA_PM_LEAF_BITS)
#define TA_PM_LEAF_LEN ((size_t)1 << TA_PM_LEAF_BITS)

/* Root slots: written once (release) under the page-map lock, read lock-free. */
extern ta_span_t **ta_pagemap_root[(size_t)1 << TA_PM_ROOT_BITS] TA_HIDDEN;

static TA_ALWAYS_INLINE ta_span_t *ta_pagemap_get(uintptr_t addr)
{
    if (TA_UNLIKELY(addr >> TA_VA_BITS))
        return NULL;
    uintptr_t pg = addr >> TA_PAGE_SHIFT;
    ta_span_t **leaf = __atomic_load_n(&ta_pagemap_root[pg >> TA_PM_LEAF_BITS], __ATOMIC_ACQUIRE);
    if (TA_UNLIKELY(!leaf))
        return NULL;
    return __atomic_load_n(&leaf[pg & (TA_PM_LEAF_LEN - 1)], __ATOMIC_ACQUIRE);
}

/* Makes sure leaves exist for [addr, addr + len): 0 or ENOMEM. */
int ta_pagemap_ensure(uintptr_t addr, size_t len) TA_HIDDEN;
/* Sets the entries of npages pages from addr (leaves must exist). */
void ta_pagemap_set(uintptr_t addr, size_t npages, ta_span_t *span) TA_HIDDEN;
/* Clears the entry of the page at addr, but only if it still names span:
 * once an address range is unmapped another thread may map a block there
 * and publish its own entry first. */
void ta_pagemap_clear_if(uintptr_t addr, ta_span_t *span) TA_HIDDEN;
/* Fork support for the page-map lock. */
void ta_pagemap_prefork(void) TA_HIDDEN;
void ta_pagemap_postfork(bool child) TA_HIDDEN;
#endif
