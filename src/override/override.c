/* The standard names (malloc & co, glibc's __libc_* aliases and GNU extras)
 * as thin forwards to the ta_* API. Only in libtarena.so and libtarena.a;
 * the prefixed variant leaves the system allocator alone. */
#include "tarena.h"
#include <errno.h>
#include <stdlib.h>

#define TA_EXPORT __attribute__((visibility("default")))

TA_EXPORT void *malloc(size_t n) { return ta_malloc(n); }
TA_EXPORT void free(void *p) { ta_free(p); }
TA_EXPORT void cfree(void *p);
TA_EXPORT void cfree(void *p) { ta_cfree(p); }
TA_EXPORT void *calloc(size_t n, size_t s) { return ta_calloc(n, s); }
TA_EXPORT void *realloc(void *p, size_t n) { return ta_realloc(p, n); }
TA_EXPORT void *reallocarray(void *p, size_t n, size_t s) { return ta_reallocarray(p, n, s); }
TA_EXPORT int posix_memalign(void **r, size_t a, size_t n) { return ta_posix_memalign(r, a, n); }
TA_EXPORT void *aligned_alloc(size_t a, size_t n) { return ta_aligned_alloc(a, n); }
TA_EXPORT void *memalign(size_t a, size_t n) { return ta_memalign(a, n); }
TA_EXPORT void *valloc(size_t n) { return ta_valloc(n); }
TA_EXPORT void *pvalloc(size_t n) { return ta_pvalloc(n); }
TA_EXPORT size_t malloc_usable_size(void *p) { return ta_malloc_usable_size(p); }
TA_EXPORT int mallopt(int param, int value) { return ta_mallopt(param, value); }
TA_EXPORT int malloc_trim(size_t pad) { return ta_malloc_trim(pad); }
TA_EXPORT struct mallinfo mallinfo(void) { return ta_mallinfo(); }
TA_EXPORT struct mallinfo2 mallinfo2(void) { return ta_mallinfo2(); }
TA_EXPORT void malloc_stats(void) { ta_malloc_stats(); }
TA_EXPORT int malloc_info(int options, FILE *f) { return ta_malloc_info(options, f); }

/* glibc's internal-but-exported names, used by some programs and by glibc
 * itself in static links. */
#define TA_LIBC_ALIAS(ret, name, params, args) \
    TA_EXPORT ret name params;                 \
    TA_EXPORT ret name params { return args; }
TA_LIBC_ALIAS(void *, __libc_malloc, (size_t n), ta_malloc(n))
TA_LIBC_ALIAS(void *, __libc_calloc, (size_t n, size_t s), ta_calloc(n, s))
TA_LIBC_ALIAS(void *, __libc_realloc, (void *p, size_t n), ta_realloc(p, n))
TA_LIBC_ALIAS(void *, __libc_memalign, (size_t a, size_t n), ta_memalign(a, n))
TA_LIBC_ALIAS(void *, __libc_valloc, (size_t n), ta_valloc(n))
TA_LIBC_ALIAS(void *, __libc_pvalloc, (size_t n), ta_pvalloc(n))
TA_LIBC_ALIAS(int, __libc_mallopt, (int p, int v), ta_mallopt(p, v))
TA_LIBC_ALIAS(struct mallinfo, __libc_mallinfo, (void), ta_mallinfo())
TA_LIBC_ALIAS(int, __posix_memalign, (void **r, size_t a, size_t n), ta_posix_memalign(r, a, n))
TA_EXPORT void __libc_free(void *p);
TA_EXPORT void __libc_free(void *p) { ta_free(p); }
