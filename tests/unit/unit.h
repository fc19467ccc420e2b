/* Shared helpers of the unit suites: a per-test fixture that restores the
 * options and clears fault injection after every test, and small utilities
 * (byte checks, an opaque size, the page size). */
#ifndef TA_UNIT_H
#define TA_UNIT_H

#include "ta_test.h"
#include "arena.h"
#include "lock.h"
#include "options.h"
#include "secret.h"
#include "tarena.h"
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define U_KIB ((size_t)1024)
#define U_MIB (U_KIB * 1024)
#define U_PAGE ((size_t)4096)

/* Options as they were before the first test ran (environment applied). */
static ta_options_t unit_default_opt;
static bool unit_have_default_opt;

static void unit_setup(void)
{
    if (!unit_have_default_opt) {
        unit_default_opt = ta_opt;
        unit_have_default_opt = true;
    }
    ta_test_os_fail(0, 0, 0);
}

static void unit_teardown(void)
{
    ta_test_os_fail(0, 0, 0);
    /* Word by word, atomically: the trimmer thread may be reading them. */
    ta_options_restore(&unit_default_opt);
}

/* Inside TA_SUITE: every test of the suite runs between setup and teardown. */
#define UNIT_FIXTURE(suite)                      \
    do {                                         \
        (suite)->pSetUpFunc = unit_setup;        \
        (suite)->pTearDownFunc = unit_teardown;  \
    } while (0)

/* Hides a value from the optimiser. */
static inline size_t u_opaque(size_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* -1 when all n bytes at p equal b, else the first offset that does not. */
static inline ptrdiff_t u_first_not(const void *p, size_t n, unsigned char b)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != b)
            return (ptrdiff_t)i;
    return -1;
}

/* Position-dependent pattern, so a moved or mixed-up block is noticed. */
static inline unsigned char u_pat(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}
static inline void u_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = u_pat(i, seed);
}
static inline bool u_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != u_pat(i, seed))
            return false;
    return true;
}

/* Boots the test's own copy of tarena (the first allocation does it). */
static inline void u_boot(void)
{
    ta_free(ta_malloc(1));
}

/* A fresh, empty, non-main arena set up by ta_arena_init (it is never
 * entered in the arena table). Its heaps are mmap'd. NULL once the file's
 * pool of arenas is used up. */
#define U_ARENA_POOL 8
static ta_arena_t u_arena_pool[U_ARENA_POOL];
static unsigned u_arena_used;
static inline ta_arena_t *u_new_arena(void)
{
    u_boot();
    if (u_arena_used >= U_ARENA_POOL)
        return NULL;
    ta_arena_t *a = &u_arena_pool[u_arena_used++];
    ta_arena_init(a, 200 + u_arena_used);
    return a;
}

/* ta_bin_alloc with the blocks' fresh tags (secret.h) taken off. */
static inline unsigned u_bin_alloc(ta_arena_t *a, unsigned cls, void **out, unsigned n)
{
    unsigned got = ta_bin_alloc(a, cls, out, n, NULL);
    for (unsigned i = 0; i < got; i++)
        out[i] = ta_block_untag(out[i]);
    return got;
}
#endif
