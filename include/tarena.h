/* tarena public API: the ta_-prefixed allocator entry points, the statistics
 * snapshot and the test hooks. libtarena.so/.a also export the standard names
 * (malloc, free, ...); libtarena_prefixed exports only what is declared here. */
#ifndef TARENA_H
#define TARENA_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TARENA_VERSION_MAJOR 0
#define TARENA_VERSION_MINOR 1
#define TARENA_VERSION_PATCH 0

/* Returns "tarena MAJOR.MINOR.PATCH"; also a cheap way to tell that tarena is loaded. */
const char *ta_version(void);

void *ta_malloc(size_t size);
void ta_free(void *ptr);
void ta_cfree(void *ptr);
void *ta_calloc(size_t nmemb, size_t size);
void *ta_realloc(void *ptr, size_t size);
void *ta_reallocarray(void *ptr, size_t nmemb, size_t size);
int ta_posix_memalign(void **memptr, size_t alignment, size_t size);
void *ta_aligned_alloc(size_t alignment, size_t size);
void *ta_memalign(size_t alignment, size_t size);
void *ta_valloc(size_t size);
void *ta_pvalloc(size_t size);
size_t ta_malloc_usable_size(void *ptr);

int ta_mallopt(int param, int value);
int ta_malloc_trim(size_t pad);
struct mallinfo ta_mallinfo(void);
struct mallinfo2 ta_mallinfo2(void);
void ta_malloc_stats(void);
int ta_malloc_info(int options, FILE *stream);

/* Whether ptr is the start of a live block handed out by tarena. Never aborts. */
int ta_owns(const void *ptr);

/* Statistics snapshot. Set size = sizeof(ta_stats_t) and version =
 * TA_STATS_VERSION before the call; fields past the caller's size are not
 * written, so an older caller keeps working with a newer library. */
#define TA_STATS_VERSION 1
typedef struct ta_stats {
    uint32_t size;
    uint32_t version;
    uint64_t heap_bytes;      /* bytes in arena heaps (sbrk + mmap'd heaps) */
    uint64_t heap_free_bytes; /* of those, in free page runs and free slab slots */
    uint64_t in_use_bytes;    /* heap bytes not free in the arenas (incl. thread caches) + mmapped */
    uint64_t mmapped_bytes;   /* bytes in blocks mmap'd on their own */
    uint64_t mmapped_blocks;
    uint64_t free_runs;       /* free page runs */
    uint64_t top_bytes;       /* releasable top of the main heap */
    uint64_t allocs;          /* blocks handed out, ever (allocs - frees = live blocks) */
    uint64_t frees;           /* blocks given back, ever */
    uint64_t trimmed_bytes;   /* bytes returned to the OS by trimming, ever */
    uint64_t sbrk_fallbacks;  /* times sbrk failed and the main arena used mmap */
    uint64_t arenas;
    uint64_t allocated_bytes; /* usable bytes of every block handed out, ever */
    uint64_t freed_bytes;     /* usable bytes of every block given back, ever */
    uint64_t cached_bytes;    /* free blocks held in thread caches now */
    uint64_t threads;         /* threads with a live cache */
    uint64_t dirty_bytes;     /* free heap pages that may still be resident */
    uint64_t purged_bytes;    /* free pages given back with madvise, ever */
    uint64_t resident_bytes;  /* estimate: heap_bytes - clean free pages + mmapped_bytes */
    uint64_t trimmer_running; /* 1 once the tarena-trim thread exists */
} ta_stats_t;

/* Returns 0, or EINVAL when stats is NULL or its size/version are unknown. */
int ta_stats_get(ta_stats_t *stats);

/* Statistics as one JSON object / as text, written to fd with write(2)
 * (usable anywhere, even where stdio is not). 0, or an errno value.
 * TARENA_STATS=json|text prints the same at exit, to stderr or to the file
 * named by TARENA_STATS_FILE. */
int ta_stats_print_json(int fd);
int ta_stats_print_text(int fd);

/* Test hooks: fault injection in the OS layer. ops is a mask of TA_OS_*; the
 * next `skip` matching calls succeed, then the following `count` fail with
 * ENOMEM (count < 0: all of them). ta_test_os_fail(0, 0, 0) clears it.
 * ta_test_os_calls() returns how many matching OS calls were made so far. */
#define TA_OS_SBRK 1u
#define TA_OS_MMAP 2u
#define TA_OS_MREMAP 4u
#define TA_OS_MADVISE 8u
#define TA_OS_ALL 15u
void ta_test_os_fail(unsigned ops, long skip, long count);
unsigned long ta_test_os_calls(unsigned ops);
/* Test hook: where the calling thread's cache keeps its most recently
 * cached block of size's class (an encoded pointer), or NULL when that bin
 * is empty. Lets tests overwrite it as a heap overflow would. */
void **ta_test_tcache_slot(size_t size);
/* Test hook: how many blocks of size's class the calling thread's outbox
 * holds (other arenas' blocks it freed and has not sent back yet). */
unsigned ta_test_outbox_count(size_t size);
/* Test hook: how many misuses (invalid pointer, double free, corruption)
 * the allocator has detected so far, whatever the check action; lets a test
 * that runs with check action 0 see that a bad call was refused. */
unsigned long ta_test_misuse_count(void);

#ifdef __cplusplus
}
#endif
#endif
