/* The OS layer: the only code that calls sbrk, mmap, munmap, mremap, madvise.
 *
 * Contract (every function):
 *  - returns 0 on success or an errno value (ENOMEM, EINVAL, EBUSY); never -1,
 *    never "true means failure"; errno itself is left as the caller had it;
 *  - writes its out-parameters only on success;
 *  - sizes and addresses are multiples of TA_PAGE_SIZE;
 *  - is thread-safe as the kernel call is; moving the break is serialised by
 *    the caller (the main arena's page lock);
 *  - honours the fault-injection hook (ta_test_os_fail), so tests can make any
 *    call fail with ENOMEM exactly as the kernel would. */
#ifndef TA_OS_H
#define TA_OS_H
#include "internal.h"
#include "tarena.h"
#include <errno.h>

/* Extend the break by about `size` bytes. On success [*start, *start + *len)
 * is new page-aligned memory (len >= size; the break may have been misaligned
 * or moved by a foreign sbrk, which only shows as *start differing from the
 * caller's idea of the end). */
int ta_os_brk_extend(size_t size, uintptr_t *start, size_t *len) TA_HIDDEN;
/* Give back the last `size` bytes below the break, but only if the break is
 * still at expected_end: EBUSY means a foreign sbrk moved it, nothing done. */
int ta_os_brk_shrink(uintptr_t expected_end, size_t size) TA_HIDDEN;

/* Fresh zeroed anonymous memory aligned to `align` (a power of two >= page). */
int ta_os_map(size_t size, size_t align, void **out) TA_HIDDEN;
int ta_os_unmap(void *addr, size_t size) TA_HIDDEN;
/* Resize a mapping. target NULL: in place only. Otherwise move it onto
 * target, a mapping of new_size bytes the caller made (and that is replaced). */
int ta_os_remap(void *addr, size_t old_size, size_t new_size, void *target) TA_HIDDEN;
/* Make pages inaccessible (guard pages) or accessible again. Counts as an
 * mmap-class call for fault injection. */
int ta_os_protect(void *addr, size_t size, bool accessible) TA_HIDDEN;
/* Drop the pages' contents: with lazy false (MADV_DONTNEED) they read back
 * as zero; with lazy true (MADV_FREE) the kernel reclaims them when it needs
 * to, and the contents are undefined until written. */
int ta_os_purge(void *addr, size_t size, bool lazy) TA_HIDDEN;

/* Milliseconds on a monotonic clock (coarse, cheap: vDSO). */
uint32_t ta_os_now_ms(void) TA_HIDDEN;

/* Starts a detached thread named `name` with every signal blocked. */
int ta_os_thread_start(void *(*fn)(void *), void *arg, const char *name) TA_HIDDEN;

/* cgroup v2 memory pressure of this process: 0 when unknown or unlimited,
 * else memory.current as a per-mille of the tighter of memory.high and
 * memory.max. */
unsigned ta_os_memory_pressure(void) TA_HIDDEN;

/* CPUs this process may use: the affinity mask, lowered by a cgroup v2
 * cpu.max quota when one is set (rounded up). At least 1. Never allocates. */
unsigned ta_os_usable_cpus(void) TA_HIDDEN;
#endif
