/* Valgrind hooks for the layers below the API (TARENA_VALGRIND builds only;
 * otherwise every macro is empty). How the pieces fit: docs/design.md,
 * "Valgrind support". */
#ifndef TA_VG_H
#define TA_VG_H

#ifdef TARENA_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

/* Allocator work outside the API wrappers (thread exit, the trimmer) reads
 * and writes freed blocks, which memcheck holds unaddressable. Per thread,
 * nests. */
#define TA_VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define TA_VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING
/* Allocator records kept in memory that also holds blocks (page heap) or
 * that point at blocks (span records): addressable, and not a leak-check
 * root, so that stale block addresses there do not hide leaks. */
#define TA_VG_META_BEGIN(p, n)                                            \
    do {                                                                  \
        const void *vg_p_ = (p);                                          \
        size_t vg_n_ = (n);                                               \
        (void)VALGRIND_MAKE_MEM_DEFINED(vg_p_, vg_n_);                    \
        (void)VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE(vg_p_, vg_n_); \
    } while (0)
/* The record's memory goes back to the page heap: a block-to-be again. */
#define TA_VG_META_END(p, n)                                              \
    do {                                                                  \
        const void *vg_p_ = (p);                                          \
        size_t vg_n_ = (n);                                               \
        (void)VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE(vg_p_, vg_n_); \
        (void)VALGRIND_MAKE_MEM_NOACCESS(vg_p_, vg_n_);                   \
    } while (0)
#else
#define TA_VG_QUIET_BEGIN() ((void)0)
#define TA_VG_QUIET_END() ((void)0)
#define TA_VG_META_BEGIN(p, n) ((void)0)
#define TA_VG_META_END(p, n) ((void)0)
#endif

#endif
