/* The API layer's internal interface: start-up, the allocation core shared by
 * every entry point, and the per-thread arena choice. */
#ifndef TA_API_H
#define TA_API_H
#include "arena.h"
#include "harden.h"
#include "options.h"
#include "tarena.h"
#include "tcache_inline.h"
#include "trim.h"
#ifdef TARENA_VALGRIND
/* The entry points get memcheck annotations around them (valgrind_api.c). */
#include "unannotated.h"
#endif

extern bool ta_booted TA_HIDDEN;
void ta_boot(void) TA_HIDDEN;

/* Allocates size bytes aligned to align (a power of two; <= 16 means the
 * default), bypassing the thread cache's fast path. *zeroed tells whether the
 * memory is known to be zero (fresh mapping). NULL with errno ENOMEM. */
void *ta_alloc(size_t size, size_t align, bool *zeroed) TA_HIDDEN;
/* free() of a validated-or-not pointer; func names the entry point in reports. */
void ta_free_checked(void *p, const char *func) TA_HIDDEN;

/* Statistics: an in-place resize of a page-run or mapped block. */
void ta_count_resize(size_t old_usable, size_t new_usable) TA_HIDDEN;
/* nmalloc, nfree, bytes malloc'd, bytes freed by threads without a cache. */
void ta_uncached_totals(uint64_t out[4]) TA_HIDDEN;

/* ta_lookup, plus: a slab block carrying the free key is already free. */
ta_lookup_result_t ta_lookup_live(const void *p, ta_span_t **s) TA_HIDDEN;

/* Reports misuse of ptr; returns only when TARENA_CHECK_ACTION says not to
 * abort, and the caller then leaves the block alone. */
void ta_misuse(const char *func, ta_lookup_result_t r, const void *ptr) TA_HIDDEN;

#endif
