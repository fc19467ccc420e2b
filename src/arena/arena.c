/* The arena table and arena lifecycle: boot of the main arena, and the fork
 * protocol (every lock taken in rank order before fork, released in the
 * parent, re-initialised in the child). */
#include "arena.h"

ta_arena_t ta_main_arena;
static ta_arena_t *arenas[TA_MAX_ARENAS];
static unsigned narenas;

static void arena_init(ta_arena_t *a, unsigned index)
{
    ta_lock_init(&a->page_lock, "arena.pages", TA_RANK_PAGES);
    for (unsigned c = 0; c < TA_NCLASSES; c++)
        ta_lock_init(&a->bins[c].lock, "arena.bin", TA_RANK_BIN);
    a->index = index;
}

void ta_arena_boot(void)
{
    arena_init(&ta_main_arena, 0);
    ta_main_arena.is_main = true;
    arenas[0] = &ta_main_arena;
    narenas = 1;
}

unsigned ta_arena_count(void)
{
    return __atomic_load_n(&narenas, __ATOMIC_ACQUIRE);
}

ta_arena_t *ta_arena_get(unsigned index)
{
    return index < ta_arena_count() ? arenas[index] : NULL;
}

void ta_arena_prefork(void)
{
    unsigned n = ta_arena_count();
    for (unsigned i = 0; i < n; i++)
        for (unsigned c = 0; c < TA_NCLASSES; c++)
            ta_lock_acquire_for_fork(&arenas[i]->bins[c].lock);
    for (unsigned i = 0; i < n; i++)
        ta_lock_acquire_for_fork(&arenas[i]->page_lock);
    ta_span_prefork();
    ta_pagemap_prefork();
}

void ta_arena_postfork(bool child)
{
    unsigned n = ta_arena_count();
    ta_pagemap_postfork(child);
    ta_span_postfork(child);
    for (unsigned i = 0; i < n; i++) {
        ta_arena_t *a = arenas[i];
        if (child)
            ta_lock_reinit(&a->page_lock);
        else
            ta_lock_release_for_fork(&a->page_lock);
        for (unsigned c = 0; c < TA_NCLASSES; c++) {
            if (child)
                ta_lock_reinit(&a->bins[c].lock);
            else
                ta_lock_release_for_fork(&a->bins[c].lock);
        }
    }
}
