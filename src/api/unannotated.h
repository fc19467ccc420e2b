/* TARENA_VALGRIND builds: the API files define the public entry points
 * under *_unannotated names, and valgrind_api.c defines the real names
 * around them with memcheck's client requests. Included by api.h only. */
#ifndef TA_UNANNOTATED_H
#define TA_UNANNOTATED_H
#include <stddef.h>

void *ta_malloc_unannotated(size_t size);
void ta_free_unannotated(void *ptr);
void ta_cfree_unannotated(void *ptr);
void *ta_calloc_unannotated(size_t nmemb, size_t size);
void *ta_realloc_unannotated(void *ptr, size_t size);
void *ta_reallocarray_unannotated(void *ptr, size_t nmemb, size_t size);
int ta_posix_memalign_unannotated(void **memptr, size_t alignment, size_t size);
void *ta_aligned_alloc_unannotated(size_t alignment, size_t size);
void *ta_memalign_unannotated(size_t alignment, size_t size);
void *ta_valloc_unannotated(size_t size);
void *ta_pvalloc_unannotated(size_t size);
size_t ta_malloc_usable_size_unannotated(void *ptr);
int ta_owns_unannotated(const void *ptr);
int ta_mallopt_unannotated(int param, int value);
int ta_malloc_trim_unannotated(size_t pad);

/* Everywhere but in valgrind_api.c, so that calls between entry points
 * (calloc -> malloc, realloc -> free) are not annotated twice. */
#ifndef TA_VG_DEFINING_WRAPPERS
#define ta_malloc ta_malloc_unannotated
#define ta_free ta_free_unannotated
#define ta_cfree ta_cfree_unannotated
#define ta_calloc ta_calloc_unannotated
#define ta_realloc ta_realloc_unannotated
#define ta_reallocarray ta_reallocarray_unannotated
#define ta_posix_memalign ta_posix_memalign_unannotated
#define ta_aligned_alloc ta_aligned_alloc_unannotated
#define ta_memalign ta_memalign_unannotated
#define ta_valloc ta_valloc_unannotated
#define ta_pvalloc ta_pvalloc_unannotated
#define ta_malloc_usable_size ta_malloc_usable_size_unannotated
#define ta_owns ta_owns_unannotated
#define ta_mallopt ta_mallopt_unannotated
#define ta_malloc_trim ta_malloc_trim_unannotated
#endif

#endif
