/* malloc, free, calloc, realloc and friends: size checks, the choice between
 * slab, page run and own mapping, in-place realloc, and glibc's edge cases
 * (malloc(0), realloc(p, 0), overflow, errno). */
#include "api.h"
#include "log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ta_misuse(const char *func, ta_lookup_result_t r, const void *ptr)
{
    ta_log_misuse(func, r == TA_LOOKUP_FREED ? "double free" : "invalid pointer", ptr);
    abort();
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
    bool want_map = size >= ta_opt.mmap_threshold &&
                    __atomic_load_n(&ta_large_count, __ATOMIC_RELAXED) < ta_opt.mmap_max;
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
    if (!want_map && __atomic_load_n(&ta_large_count, __ATOMIC_RELAXED) < ta_opt.mmap_max) {
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
    ta_arena_t *a = ta_thread_arena();
    void *p = NULL;
    unsigned cls = TA_NCLASSES;
    if (size <= TA_SMALL_MAX)
        cls = align <= TA_QUANTUM ? ta_size2class(size)
              : align <= TA_PAGE_SIZE ? class_for_alignment(size, align) : TA_NCLASSES;
    if (cls < TA_NCLASSES) {
        if (!ta_bin_alloc(a, cls, &p, 1))
            p = NULL;
    } else {
        p = alloc_pages_or_map(a, TA_MAX(size, (size_t)1), TA_MAX(align, TA_PAGE_SIZE), zeroed);
    }
    if (TA_UNLIKELY(!p)) {
        errno = ENOMEM;
        return NULL;
    }
    if (TA_UNLIKELY(ta_opt.perturb) && !*zeroed)
        memset(p, (int)(ta_opt.perturb ^ 0xff), size);
    return p;
}

static void free_span(ta_span_t *s, void *p, const char *func)
{
    if (TA_UNLIKELY(ta_opt.perturb))
        memset(p, (int)ta_opt.perturb, ta_block_usable(s));
    switch (s->state) {
    case TA_SPAN_SLAB:
        ta_bin_free(s->arena, s->sclass, &p, 1, func);
        break;
    case TA_SPAN_BLOCK:
        ta_pages_free(s->arena, s, func);
        break;
    default:
        ta_large_free(s, func);
        break;
    }
}

void ta_free_checked(void *p, const char *func)
{
    if (!p)
        return;
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK))
        ta_misuse(func, r, p);
    free_span(s, p, func);
}

TA_EXPORT void *ta_malloc(size_t size)
{
    bool zeroed;
    return ta_alloc(size, 0, &zeroed);
}

TA_EXPORT void ta_free(void *p)
{
    ta_free_checked(p, "free");
}

TA_EXPORT void ta_cfree(void *p)
{
    ta_free_checked(p, "cfree");
}

TA_EXPORT void *ta_calloc(size_t n, size_t size)
{
    size_t total;
    if (TA_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    bool zeroed;
    void *p = ta_alloc(total, 0, &zeroed);
    if (p && !zeroed)
        memset(p, 0, total);
    return p;
}

/* Moves the block to a new one of `size` bytes; the old one stays intact on failure. */
static void *realloc_move(void *p, size_t old_usable, size_t size)
{
    bool zeroed;
    void *q = ta_alloc(size, 0, &zeroed);
    if (!q)
        return NULL;
    memcpy(q, p, TA_MIN(old_usable, size));
    ta_free_checked(p, "realloc");
    return q;
}

TA_EXPORT void *ta_realloc(void *p, size_t size)
{
    if (!p)
        return ta_malloc(size);
    if (size == 0) {
        /* glibc: realloc(p, 0) frees p and returns NULL. */
        ta_free_checked(p, "realloc");
        return NULL;
    }
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK))
        ta_misuse("realloc", r, p);
    if (TA_UNLIKELY(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t usable = ta_block_usable(s);
    switch (s->state) {
    case TA_SPAN_SLAB:
        /* Shrinking stays in place, as in glibc; the class bounds the waste. */
        if (size <= usable)
            return p;
        break;
    case TA_SPAN_BLOCK: {
        size_t npages = ta_pages_for(size);
        if (size <= TA_SMALL_MAX)
            break; /* a slab slot is the better home now */
        if (npages <= s->npages) {
            if (npages < s->npages)
                ta_pages_shrink_in_place(s->arena, s, npages);
            return p;
        }
        if (ta_pages_grow_in_place(s->arena, s, npages))
            return p;
        break;
    }
    case TA_SPAN_MMAP:
        if (size > TA_SMALL_MAX) {
            void *q = ta_large_realloc(s, size);
            if (q)
                return q;
        }
        break;
    }
    void *q = realloc_move(p, usable, size);
    if (!q)
        errno = ENOMEM;
    return q;
}

TA_EXPORT void *ta_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (TA_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return ta_realloc(p, total);
}

TA_EXPORT size_t ta_malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    ta_span_t *s;
    ta_lookup_result_t r = ta_lookup(p, &s);
    if (TA_UNLIKELY(r != TA_LOOKUP_OK))
        ta_misuse("malloc_usable_size", r, p);
    return ta_block_usable(s);
}

TA_EXPORT int ta_owns(const void *p)
{
    ta_span_t *s;
    return p && ta_lookup(p, &s) == TA_LOOKUP_OK;
}
