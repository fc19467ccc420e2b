/* Page-map leaves: created on demand (mmap'd, 2 MiB of entries per GiB of
 * address space) when a heap or a mapped block first touches a range. */
#include "pagemap.h"
#include "lock.h"
#include "os.h"

ta_span_t **ta_pagemap_root[(size_t)1 << TA_PM_ROOT_BITS];
static ta_lock_t pagemap_lock = TA_LOCK_INITIALIZER("pagemap", TA_RANK_PAGEMAP);

int ta_pagemap_ensure(uintptr_t addr, size_t len)
{
    if (!len)
        return 0;
    if ((addr + len - 1) >> TA_VA_BITS)
        return ENOMEM;
    uintptr_t first = (addr >> TA_PAGE_SHIFT) >> TA_PM_LEAF_BITS;
    uintptr_t last = ((addr + len - 1) >> TA_PAGE_SHIFT) >> TA_PM_LEAF_BITS;
    for (uintptr_t i = first; i <= last; i++) {
        if (__atomic_load_n(&ta_pagemap_root[i], __ATOMIC_ACQUIRE))
            continue;
        ta_lock_acquire(&pagemap_lock);
        int rc = 0;
        if (!ta_pagemap_root[i]) {
            void *leaf;
            rc = ta_os_map(TA_PM_LEAF_LEN * sizeof(ta_span_t *), TA_PAGE_SIZE, &leaf);
            if (!rc)
                __atomic_store_n(&ta_pagemap_root[i], (ta_span_t **)leaf, __ATOMIC_RELEASE);
        }
        ta_lock_release(&pagemap_lock);
        if (rc)
            return rc;
    }
    return 0;
}

void ta_pagemap_set(uintptr_t addr, size_t npages, ta_span_t *span)
{
    uintptr_t pg = addr >> TA_PAGE_SHIFT;
    for (size_t i = 0; i < npages; i++, pg++) {
        ta_span_t **leaf = ta_pagemap_root[pg >> TA_PM_LEAF_BITS];
        TA_ASSERT(leaf);
        __atomic_store_n(&leaf[pg & (TA_PM_LEAF_LEN - 1)], span, __ATOMIC_RELEASE);
    }
}

void ta_pagemap_clear_if(uintptr_t addr, ta_span_t *span)
{
    uintptr_t pg = addr >> TA_PAGE_SHIFT;
    ta_span_t **leaf = ta_pagemap_root[pg >> TA_PM_LEAF_BITS];
    ta_span_t *expected = span;
    __atomic_compare_exchange_n(&leaf[pg & (TA_PM_LEAF_LEN - 1)], &expected, NULL, false, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
}

void ta_pagemap_prefork(void)
{
    ta_lock_acquire_for_fork(&pagemap_lock);
}

void ta_pagemap_postfork(bool child)
{
    if (child)
        ta_lock_reinit(&pagemap_lock);
    else
        ta_lock_release_for_fork(&pagemap_lock);
}
