/* The API layer's internal interface: start-up, the allocation core shared by
 * every entry point, and the per-thread arena choice. */
#ifndef TA_API_H
#define TA_API_H
#include "arena.h"
#include "options.h"
#include "tarena.h"

extern bool ta_booted TA_HIDDEN;
void ta_boot(void) TA_HIDDEN;

/* Allocates size bytes aligned to align (a power of two; <= 16 means the
 * default). *zeroed tells whether the memory is known to be zero (fresh
 * mapping). NULL with errno ENOMEM on failure. */
void *ta_alloc(size_t size, size_t align, bool *zeroed) TA_HIDDEN;
/* free() of a validated-or-not pointer; func names the entry point in reports. */
void ta_free_checked(void *p, const char *func) TA_HIDDEN;

/* Reports misuse of ptr and aborts. */
void ta_misuse(const char *func, ta_lookup_result_t r, const void *ptr) __attribute__((noreturn)) TA_HIDDEN;

static TA_ALWAYS_INLINE ta_arena_t *ta_thread_arena(void)
{
    return &ta_main_arena;
}
#endif
