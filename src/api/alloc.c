/* malloc and free: the inline fast paths over the thread cache, and the
 * slow paths that choose between slab, page run and own mapping, count the
 * thread's allocations, and apply M_PERTURB. */
#include "api.h"
#include "log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Blocks served without the thread cache by threads that have none. */
static uint64_t uncached_nmalloc, uncached_nfree, uncached_bytes_malloc, uncached_bytes_free;

void ta_misuse(const char *func, ta_lookup_result_t r, const void *ptr)
{
    ta_log_misuse(func, r == TA_LOOKUP_FREED ? "double free" : "invalid pointer", ptr);
}

static void count_event(ta_tcache_t *tc, unsigned cls, size_t bytes, bool is_malloc)
{
    if (!tc) {
        __atomic_add_fetch(is_malloc ? &uncached_nmalloc : &uncached_nfree, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(is_malloc ? &uncached_bytes_malloc : &uncached_bytes_free, bytes, __ATOMIC_RELAXED);
    } else if (cls < TA_NCLASSES) {
        /* The cache's own counters: stats walks read them (see tcache.h). */
        if (is_malloc)
            TA_OWNER_ADD(tc->bins[cls].nmalloc, 1);
        else
            TA_OWNER_ADD(tc->bins[cls].nfree, 1);
    } else if (is_malloc) {
        TA_OWNER_ADD(tc->big_nmalloc, 1);
        TA_OWNER_ADD(tc->big_bytes_malloc, bytes);
    } else {
        TA_OWNER_ADD(tc->big_nfree, 1);
        TA_OWNER_ADD(tc->big_bytes_free, bytes);
    }
}

void ta_count_resize(size_t old_usable, size_t new_usable)
{
    ta_tcache_t *tc = ta_tcache_get();
    count_event(tc, TA_NCLASSES, old_usable, false);
    count_event(tc, TA_NCLASSES, new_usable, true);
}

void ta_uncached_totals(uint64_t out[4])
{
    out[0] = __atomic_load_n(&uncached_nmalloc, __ATOMIC_RELAXED);
    out[1] = __atomic_load_n(&uncached_nfree, __ATOMIC_RELAXED);
    out[2] = __atomic_load_n(&uncached_bytes_malloc, __ATOMIC_RELAXED);
    out[3] = __atomic_load_n(&uncached_bytes_free, __ATOMIC_RELAXED);
}

/* Smallest class whose size is a multiple of align (align <= page), so every
 * slot of a page-aligned slab is aligned. TA_NCLASSES if none. */
static unsigned class_for_alignment(size_t size, size_t align)
{
    unsigned cls = ta_size2class(TA_MAX(size, align));
    while (cls < TA_NCLASSES && ta_classes[cls].size % align)
        cls++;
    return cls;
}

static void *alloc_pages_or_map(ta_arena_t *a, size_t size, size_t align, bool *zeroed)
{
    bool map_ok = __atomic_load_n(&ta_large_count, __ATOMIC_RELAXED) < TA_OPT(mmap_max);
    bool want_map = map_ok && size >= TA_OPT(mmap_threshold);
    if (want_map) {
        void *p = ta_large_alloc(size, align);
        if (p) {
            *zeroed = true;
            return p;
        }
    }
    ta_span_t *s = ta_pages_alloc(a, ta_pages_for(size), align, TA_SPAN_BLOCK);
    if (s)
        return (void *)s->start;
    /* The heap could not grow: a mapping of its own may still fit. */
    if (!want_map && map_ok) {
        void *p = ta_large_alloc(size, align);
        if (p)
            *zeroed = true;
        return p;
    }
    return NULL;
}

void *ta_alloc(size_t size, size_t align, bool *zeroed)
{
    if (TA_UNLIKELY(!__atomic_load_n(&ta_booted, __ATOMIC_ACQUIRE)))
        ta_boot();
    *zeroed = false;
    if (TA_UNLIKELY(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    ta_tcache_t *tc = ta_tcache_get();
    ta_arena_t *a = ta_tcache_arena(tc);
    void *p = NULL;
    unsigned cls = TA_NCLASSES;
    const size_t request = size;
    size += TA_CANARY_BYTES(); /* room for the canary after the block */
    if (size <= TA_SMALL_MAX)
        cls = align <= TA_QUANTUM ? ta_size2class(size)
              : align <= TA_PAGE_SIZE ? class_for_alignment(size, align) : TA_NCLASSES;
    if (cls < TA_NCLASSES) {
        if (ta_bin_alloc(a, cls, &p, 1, NULL))
            p = ta_block_hand_out(p);
        else
            p = NULL;
    } else {
        p = alloc_pages_or_map(a, TA_MAX(size, (size_t)1), TA_MAX(align, TA_PAGE_SIZE), zeroed);
    }
    if (TA_UNLIKELY(!p)) {
        errno = ENOMEM;
        return NULL;
    }
    /* Hardened mode keys page-run blocks in the quarantine too: pages fresh
     * from the heap may still hold such a key (or a slab's). */
    if (TA_UNLIKELY(ta_hardened))
        ta_block_mark_live(p);
    size_t usable = cls < TA_NCLASSES ? ta_classes[cls].size - TA_CANARY_BYTES()
                                      : ta_malloc_usable_size(p);
    count_event(tc, cls, usable, true);
    if (TA_UNLIKELY(ta_hardened))
        ta_harden_arm(p);
    unsigned junk = ta_harden_junk();
    if (TA_UNLIKELY(junk)) {
        /* Like glibc, fresh mappings too: the point is to hide nothing. */
        memset(p, (int)(junk ^ 0xff), request);
        *zeroed = false;
    }
    return p;
}

static TA_NOINLINE void *malloc_slow(size_t size)
{
    if (TA_UNLIKELY(!__atomic_load_n(&ta_booted, __ATOMIC_ACQUIRE)))
        ta_boot();
    if (TA_UNLIKELY(ta_tcache_bad_entry != NULL))
        ta_tcache_report_corrupt();
    if (size <= TA_SMALL_MAX) {
        ta_tcache_t *tc = ta_tcache_get();
        if (tc) {
            void *p = ta_tcache_refill(tc, ta_size2class(size));
            if (p)
                return p;
        }
    }
    bool zeroed;
    return ta_alloc(size, 0, &zeroed);
}

TA_EXPORT void *ta_malloc(size_t size)
{
    void *p = ta_tcache_pop(size);
    if (TA_LIKELY(p))
        return p;
    return malloc_slow(size);
}

/* A slab slot is free when its free-map bit is set (racy read: used only to
 * diagnose misuse). */
static bool slab_slot_free(const ta_span_t *s, const void *p)
{
    uint32_t idx = ta_class_index(s->sclass, (uint32_t)((uintptr_t)p - s->start));
    return __atomic_load_n(&s->freemap[idx / 64], __ATOMIC_RELAXED) & (1ull << (idx % 64));
}

ta_lookup_result_t ta_lookup_live(const void *p, ta_span_t **s)
{
    ta_lookup_result_t r = ta_lookup(p, s);
    if (r != TA_LOOKUP_OK)
        return r;
    uint8_t state = (*s)->state;
    if (state == TA_SPAN_SLAB && (ta_block_marked_free(*s, p) || slab_slot_free(*s, p)))
        return TA_LOOKUP_FREED;
    /* Hardened mode marks page-run blocks it quarantines, too. */
    if (TA_UNLIKELY(ta_hardened) && state == TA_SPAN_BLOCK && ta_block_marked_free(*s, p))
        return TA_LOOKUP_FREED;
    return r;
}

/* Gives a block back to the thread cache, its arena or the OS. */
static void release_block(ta_span_t *s, void *p, const char *func)
{
    ta_tcache_t *tc = ta_tcache_get();
    size_t usable = ta_block_usable(s);
    switch (s->state) {
    case TA_SPAN_SLAB:
        ta_block_mark_free(s, p);
        if (tc && ta_tcache_wants(tc, s->arena, s->sclass)) {
            ta_tcache_overflow(tc, s->sclass, p);
        } else if (tc) {
            count_event(tc, s->sclass, usable, false);
            ta_tcache_send_back(tc, s->arena, s->sclass, p);
        } else {
            count_event(tc, s->sclass, usable, false);
            ta_bin_free(s->arena, s->sclass, &p, 1, func);
        }
        break;
    case TA_SPAN_BLOCK:
        count_event(tc, TA_NCLASSES, usable, false);
        ta_pages_free(s->arena, s, func);
        break;
    default:
        count_event(tc, TA_NCLASSES, usable, false);
        ta_large_free(s, func);
        break;
    }
}

/* Hardened mode: the free is counted when the caller lets go of the block
 * (the statistics show the program's view); whatever leaves the quarantine
 * then goes straight back to its arena or the OS, uncounted. */
static void free_block_hardened(ta_span_t *s, void *p, const char *func)
{
    count_event(ta_tcache_get(), s->state == TA_SPAN_SLAB ? s->sclass : TA_NCLASSES, ta_block_usable(s), false);
    /* One free may push several blocks out of the quarantine (a large one
     * in, small ones out): each goes back to its arena or the OS. */
    for (p = ta_harden_free(&s, p, func); p; p = ta_harden_next(&s, func)) {
        if (s->state == TA_SPAN_SLAB)
            ta_bin_free(s->arena, s->sclass, &p, 1, func);
        else if (s->state == TA_SPAN_BLOCK)
            ta_pages_free(s->arena, s, func);
        else
            ta_large_free(s, func);
    }
}

/* Frees a block that ta_lookup_live validated. */
static void free_block(ta_span_t *s, void *p, const char *func)
{
    if (TA_UNLIKELY(ta_hardened)) {
        free_block_hardened(s, p, func);
    } else {
        if (TA_UNLIKELY(TA_OPT(perturb)))
            memset(p, (int)TA_OPT(perturb), ta_block_usable(s));
        release_block(s, p, func);
    }
    /* Every allocator lock is released by now: safe to wake or start the trimmer. */
    ta_trim_kick();
}

void ta_free_checked(void *p, const char *func)
{
    if (!p)
        return;
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup_live(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK)) {
        ta_misuse(func, r, p);
        return;
    }
    free_block(s, p, func);
}

static TA_NOINLINE void free_slow(void *p)
{
    ta_free_checked(p, "free");
}

/* The free fast path: a slab object, validated through the page map (range
 * and slot boundary), pushed onto the thread's cache. */
static TA_ALWAYS_INLINE bool free_fast(void *p)
{
    ta_span_t *s = ta_pagemap_get((uintptr_t)p);
    if (TA_UNLIKELY(!s || s->state != TA_SPAN_SLAB))
        return false;
    /* A slot the slab has handed out, nothing else: a slab's tail handed
     * out would run into the next span, a never-used slot would be handed
     * out by the cache and by the slab. */
    unsigned cls = s->sclass;
    if (TA_UNLIKELY(!ta_slab_is_slot(s, cls, (uintptr_t)p) || ta_block_marked_free(s, p)))
        return false;
    /* Marked before the push, so that the key computed for the check above
     * is stored as it is: the push ends with relaxed atomic stores (stats
     * counters), after which gcc would load and compute it again. */
    uint64_t word1 = ((const uint64_t *)p)[1];
    ta_block_mark_free(s, p);
    if (TA_LIKELY(ta_tcache_push(s->arena, cls, p)))
        return true;
    /* The slow path checks the mark, then sets it. Restored rather than
     * cleared: in hardened mode a 16-byte slot keeps its canary there. */
    ((uint64_t *)p)[1] = word1;
    return false;
}

TA_EXPORT void ta_free(void *p)
{
    if (TA_LIKELY(p != NULL) && TA_LIKELY(free_fast(p)))
        return;
    free_slow(p);
}

TA_EXPORT void ta_cfree(void *p)
{
    ta_free_checked(p, "cfree");
}

TA_EXPORT size_t ta_malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup_live(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK)) {
        ta_misuse("malloc_usable_size", r, p);
        return 0;
    }
    return ta_block_usable(s);
}

TA_EXPORT int ta_owns(const void *p)
{
    ta_span_t *s;
    return p && ta_lookup_live(p, &s) == TA_LOOKUP_OK;
}
