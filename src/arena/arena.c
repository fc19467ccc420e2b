/* The arena table: arena 0 is the main arena (break heap); others are created
 * on demand, up to a limit from the usable CPUs (or M_ARENA_MAX), and live in
 * static storage so they never move or vanish. Threads are bound to arenas
 * here, and the fork protocol takes every lock in rank order. */
#include "arena.h"
#include "secret.h"
#include "options.h"
#include "os.h"

ta_arena_t ta_main_arena;
static ta_arena_t arena_storage[TA_MAX_ARENAS - 1];
static ta_arena_t *arenas[TA_MAX_ARENAS]; /* published with release */
static unsigned narenas;                  /* atomic; grows under table_lock */
static ta_lock_t table_lock = TA_LOCK_INITIALIZER("arena.table", TA_RANK_ARENA_TABLE);
static unsigned cpu_count;

/* Arenas per usable CPU when M_ARENA_MAX is unset: the thread caches absorb
 * most traffic, so fewer arenas than glibc's 8 per core keep contention low
 * while holding less memory in partly used slabs. */
#define TA_ARENAS_PER_CPU 4

void ta_arena_init(ta_arena_t *a, unsigned index)
{
    ta_lock_init(&a->page_lock, "arena.pages", TA_RANK_PAGES);
    for (unsigned c = 0; c < TA_NCLASSES; c++) {
        ta_lock_init(&a->bins[c].lock, "arena.bin", TA_RANK_BIN);
        __cds_lfs_init(&a->bins[c].remote);
    }
    a->index = index;
}

void ta_arena_boot(void)
{
    ta_secret_boot();
    ta_arena_init(&ta_main_arena, 0);
    ta_main_arena.is_main = true;
    arenas[0] = &ta_main_arena;
    cpu_count = ta_os_usable_cpus();
    __atomic_store_n(&narenas, 1, __ATOMIC_RELEASE);
}

unsigned ta_arena_count(void)
{
    return __atomic_load_n(&narenas, __ATOMIC_ACQUIRE);
}

ta_arena_t *ta_arena_get(unsigned index)
{
    return index < ta_arena_count() ? arenas[index] : NULL;
}

unsigned ta_arena_limit(void)
{
    uint64_t limit = TA_OPT(arena_max);
    if (!limit) {
        /* glibc's M_ARENA_TEST: that many arenas may exist before the CPU
         * count caps them. */
        limit = TA_MAX((uint64_t)cpu_count * TA_ARENAS_PER_CPU, TA_OPT(arena_test));
    }
    return (unsigned)TA_MIN(TA_MAX(limit, 1), (uint64_t)TA_MAX_ARENAS);
}

ta_arena_t *ta_arena_bind(ta_arena_t *avoid)
{
    ta_lock_acquire(&table_lock);
    unsigned n = narenas;
    ta_arena_t *best = NULL;
    for (unsigned i = 0; i < n; i++) {
        ta_arena_t *a = arenas[i];
        if (a == avoid && n > 1)
            continue;
        if (!best || a->nthreads < best->nthreads)
            best = a;
    }
    if ((!best || best->nthreads > 0) && n < ta_arena_limit()) {
        ta_arena_t *a = &arena_storage[n - 1];
        ta_arena_init(a, n);
        arenas[n] = a;
        __atomic_store_n(&narenas, n + 1, __ATOMIC_RELEASE);
        best = a;
    }
    best->nthreads++;
    ta_lock_release(&table_lock);
    return best;
}

void ta_arena_unbind(ta_arena_t *a)
{
    ta_lock_acquire(&table_lock);
    if (a->nthreads)
        a->nthreads--;
    ta_lock_release(&table_lock);
}

void ta_arena_prefork(void)
{
    ta_lock_acquire_for_fork(&table_lock);
    unsigned n = ta_arena_count();
    for (unsigned i = 0; i < n; i++)
        for (unsigned c = 0; c < TA_NCLASSES; c++)
            ta_lock_acquire_for_fork(&arenas[i]->bins[c].lock);
    for (unsigned i = 0; i < n; i++)
        ta_lock_acquire_for_fork(&arenas[i]->page_lock);
    ta_span_prefork();
    ta_pagemap_prefork();
}

void ta_arena_postfork(bool child, ta_arena_t *survivor)
{
    unsigned n = ta_arena_count();
    ta_pagemap_postfork(child);
    ta_span_postfork(child);
    for (unsigned i = 0; i < n; i++) {
        ta_arena_t *a = arenas[i];
        if (child) {
            ta_lock_reinit(&a->page_lock);
            for (unsigned c = 0; c < TA_NCLASSES; c++)
                ta_lock_reinit(&a->bins[c].lock);
            /* Only the forking thread lives on in the child. */
            a->nthreads = a == survivor;
        } else {
            ta_lock_release_for_fork(&a->page_lock);
            for (unsigned c = 0; c < TA_NCLASSES; c++)
                ta_lock_release_for_fork(&a->bins[c].lock);
        }
    }
    if (child)
        ta_lock_reinit(&table_lock);
    else
        ta_lock_release_for_fork(&table_lock);
}
