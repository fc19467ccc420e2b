/* The aligned entry points, with glibc's and POSIX's rules for bad
 * alignments: posix_memalign answers EINVAL and leaves *memptr alone,
 * memalign rounds up to a power of two, aligned_alloc rejects non-powers. */
#include "api.h"
#include <errno.h>
#include <unistd.h>

/* The largest alignment honoured; beyond it no mapping could be found anyway. */
#define TA_MAX_ALIGN ((size_t)1 << 40)

static void *aligned_core(size_t align, size_t size)
{
    if (align > TA_MAX_ALIGN) {
        errno = ENOMEM;
        return NULL;
    }
    bool zeroed;
    return ta_alloc(size, align, &zeroed);
}

TA_EXPORT int ta_posix_memalign(void **memptr, size_t align, size_t size)
{
    if (!ta_is_pow2(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = aligned_core(align, size);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *memptr = p;
    return 0;
}

TA_EXPORT void *ta_memalign(size_t align, size_t size)
{
    if (!ta_is_pow2(align)) {
        /* glibc rounds a non-power-of-two alignment up. */
        if (align > TA_MAX_ALIGN) {
            errno = EINVAL;
            return NULL;
        }
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    return aligned_core(align, size);
}

TA_EXPORT void *ta_aligned_alloc(size_t align, size_t size)
{
    /* C17/glibc 2.38: an alignment that is not a power of two is an error. */
    if (!ta_is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_core(align, size);
}

TA_EXPORT void *ta_valloc(size_t size)
{
    return aligned_core((size_t)sysconf(_SC_PAGESIZE), size);
}

TA_EXPORT void *ta_pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = ta_align_up(size ? size : 1, page);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_core(page, rounded);
}
