/* TARENA_VALGRIND builds: the public entry points, wrapped around the
 * *_unannotated ones (unannotated.h) to tell memcheck about every block,
 * with error reporting off while the allocator itself runs, since it reads
 * and writes freed blocks. Empty otherwise. See docs/design.md. */
#ifdef TARENA_VALGRIND
#define TA_VG_DEFINING_WRAPPERS
#include "api.h"
#include "os.h"
#include "vg.h"
#include <unistd.h>

/* Evaluates expr (a call into the allocator) with reports off. */
#define QUIET(expr)                         \
    ({                                      \
        TA_VG_QUIET_BEGIN();                \
        __typeof__(expr) quiet_r_ = (expr); \
        TA_VG_QUIET_END();                  \
        quiet_r_;                           \
    })

/* Usable bytes of the live block at p, 0 when p is not one; never reports.
 * *extent (may be NULL): the bytes of its slot or page run, which may be
 * more (hardened mode's canary or guard page). */
static size_t live_usable(const void *p, size_t *extent)
{
    size_t n = 0, all = 0;
    ta_span_t *s;
    TA_VG_QUIET_BEGIN();
    if (ta_lookup_live(p, &s) == TA_LOOKUP_OK) {
        n = ta_block_usable(s);
        all = s->state == TA_SPAN_SLAB ? ta_classes[s->sclass].size : s->npages << TA_PAGE_SHIFT;
    }
    TA_VG_QUIET_END();
    /* The lookup compares words of the block itself, which may be undefined
     * to memcheck; the answer is what tarena acts on, so it is defined. */
    (void)VALGRIND_MAKE_MEM_DEFINED(&n, sizeof n);
    (void)VALGRIND_MAKE_MEM_DEFINED(&all, sizeof all);
    if (extent)
        *extent = TA_MAX(all, n);
    return n;
}

/* Tells memcheck that p is a new block of size bytes and keeps the rest of
 * its slot or run unaddressable: reads past the request are reported, and
 * block_size() can find the size again. */
static void *announce(void *p, size_t size, bool zeroed)
{
    if (!p || !RUNNING_ON_VALGRIND)
        return p;
    VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed);
    size_t extent;
    live_usable(p, &extent);
    if (extent > size)
        (void)VALGRIND_MAKE_MEM_NOACCESS((char *)p + size, extent - size);
    return p;
}

/* The size memcheck knows for the live block p: its first unaddressable
 * byte (tarena does not store the requested size). */
static size_t block_size(const void *p, size_t usable)
{
    uintptr_t bad = QUIET(VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, usable));
    return bad ? bad - (uintptr_t)p : usable;
}

TA_EXPORT void *ta_malloc(size_t size)
{
    return announce(QUIET(ta_malloc_unannotated(size)), size, false);
}

TA_EXPORT void *ta_calloc(size_t n, size_t size)
{
    /* Non-NULL means n * size did not overflow. */
    return announce(QUIET(ta_calloc_unannotated(n, size)), n * size, true);
}

/* The free entry points tell memcheck first: once tarena has the block
 * back, another thread may get it and announce it, and memcheck must never
 * see one address live twice. A pointer that is not a live block is
 * reported by memcheck here ("Invalid free()"), then by tarena. */
TA_EXPORT void ta_free(void *p)
{
    if (p)
        VALGRIND_FREELIKE_BLOCK(p, 0);
    TA_VG_QUIET_BEGIN();
    ta_free_unannotated(p);
    TA_VG_QUIET_END();
}

TA_EXPORT void ta_cfree(void *p)
{
    if (p)
        VALGRIND_FREELIKE_BLOCK(p, 0);
    TA_VG_QUIET_BEGIN();
    ta_cfree_unannotated(p);
    TA_VG_QUIET_END();
}

/* realloc: memcheck forgets the old block before tarena may release it
 * (same reason as free), so the block's validity bits are saved first and
 * put back on whichever block holds the data afterwards (the same one when
 * resized in place). tarena's own copy runs quiet, from memory memcheck
 * already holds freed. */
TA_EXPORT void *ta_realloc(void *p, size_t size)
{
    if (!p)
        return ta_malloc(size);
    if (!RUNNING_ON_VALGRIND)
        return ta_realloc_unannotated(p, size);
    size_t usable = live_usable(p, NULL);
    if (!usable) {
        /* Freed or foreign: memcheck reports it, tarena too (and leaves it). */
        VALGRIND_FREELIKE_BLOCK(p, 0);
        return QUIET(ta_realloc_unannotated(p, size));
    }
    size_t old = block_size(p, usable);
    size_t keep = TA_MIN(old, size);
    /* A mapping of its own, not tarena's heap: taking heap pages here
     * could take the free run the block was about to grow into. */
    unsigned char small[512];
    unsigned char *vbits = small;
    if (keep > sizeof small) {
        void *mem;
        vbits = ta_os_map(keep, TA_PAGE_SIZE, &mem) == 0 ? mem : NULL;
    }
    bool saved = vbits && VALGRIND_GET_VBITS(p, vbits, keep) == 1;
    VALGRIND_FREELIKE_BLOCK(p, 0);
    void *q = QUIET(ta_realloc_unannotated(p, size));
    /* NULL with size 0: freed. NULL otherwise: failed, p is intact. */
    void *live = q ? q : size ? p : NULL;
    if (live) {
        announce(live, q ? size : old, false);
        if (saved)
            (void)VALGRIND_SET_VBITS(live, vbits, keep);
        else
            (void)VALGRIND_MAKE_MEM_DEFINED(live, keep); /* no false reports */
        if (!q && old > keep) /* failed shrink: bits past keep were not saved */
            (void)VALGRIND_MAKE_MEM_DEFINED((char *)live + keep, old - keep);
    }
    if (vbits && vbits != small)
        ta_os_unmap(vbits, keep);
    return q;
}

TA_EXPORT void *ta_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) /* ENOMEM, p untouched */
        return QUIET(ta_reallocarray_unannotated(p, n, size));
    return ta_realloc(p, total);
}

TA_EXPORT int ta_posix_memalign(void **memptr, size_t align, size_t size)
{
    /* *memptr is the caller's memory: written here, not in the quiet part. */
    void *p = NULL;
    int rc = QUIET(ta_posix_memalign_unannotated(&p, align, size));
    if (rc == 0)
        *memptr = announce(p, size, false);
    return rc;
}

TA_EXPORT void *ta_aligned_alloc(size_t align, size_t size)
{
    return announce(QUIET(ta_aligned_alloc_unannotated(align, size)), size, false);
}

TA_EXPORT void *ta_memalign(size_t align, size_t size)
{
    return announce(QUIET(ta_memalign_unannotated(align, size)), size, false);
}

TA_EXPORT void *ta_valloc(size_t size)
{
    return announce(QUIET(ta_valloc_unannotated(size)), size, false);
}

TA_EXPORT void *ta_pvalloc(size_t size)
{
    /* pvalloc's block is the request rounded up to whole pages. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return announce(QUIET(ta_pvalloc_unannotated(size)), ta_align_up(size ? size : 1, page), false);
}

TA_EXPORT size_t ta_malloc_usable_size(void *p)
{
    size_t n = QUIET(ta_malloc_usable_size_unannotated(p));
    (void)VALGRIND_MAKE_MEM_DEFINED(&n, sizeof n);
    /* The caller may use all n bytes now: memcheck's block grows to match. */
    if (n && RUNNING_ON_VALGRIND) {
        size_t known = block_size(p, n);
        if (known < n)
            VALGRIND_RESIZEINPLACE_BLOCK(p, known, n, 0);
    }
    return n;
}

TA_EXPORT int ta_owns(const void *p)
{
    int r = QUIET(ta_owns_unannotated(p));
    (void)VALGRIND_MAKE_MEM_DEFINED(&r, sizeof r);
    return r;
}

/* Both may flush the thread's cache, which writes into freed blocks. */
TA_EXPORT int ta_mallopt(int param, int value)
{
    return QUIET(ta_mallopt_unannotated(param, value));
}

TA_EXPORT int ta_malloc_trim(size_t pad)
{
    return QUIET(ta_malloc_trim_unannotated(pad));
}
#endif
