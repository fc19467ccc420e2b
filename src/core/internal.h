/* Basics shared by every tarena module: compiler attributes, page geometry,
 * rounding helpers and debug assertions. No OS calls, no state. */
#ifndef TA_INTERNAL_H
#define TA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TA_LIKELY(x) __builtin_expect(!!(x), 1)
#define TA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TA_ALWAYS_INLINE inline __attribute__((always_inline))
#define TA_NOINLINE __attribute__((noinline))
#define TA_HIDDEN __attribute__((visibility("hidden")))
#define TA_EXPORT __attribute__((visibility("default")))
#define TA_CACHELINE 64
#define TA_ALIGNED_CL __attribute__((aligned(TA_CACHELINE)))
#define TA_TLS __thread __attribute__((tls_model("initial-exec")))

/* Pages are the unit of the page map and of every span. 4 KiB is the base page
 * on x86-64 and most aarch64 kernels; larger kernel pages still work because
 * the OS layer rounds mappings to the real page size. */
#define TA_PAGE_SHIFT 12
#define TA_PAGE_SIZE ((size_t)1 << TA_PAGE_SHIFT)
#define TA_PAGE_MASK (TA_PAGE_SIZE - 1)
/* Blocks are 16-byte aligned, like glibc's on 64-bit. */
#define TA_QUANTUM 16
/* Virtual address bits covered by the page map (user space on x86-64/aarch64). */
#define TA_VA_BITS 48

#define TA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TA_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Words that their writers update under a lock (or as their only writer)
 * while other threads read them without it: statistics, hints, flags. Both
 * sides use relaxed atomics, which compile to plain loads and stores on
 * x86-64 and aarch64 but make the race defined, and keep ThreadSanitizer
 * quiet about exactly these accesses. TA_OWNER_ADD is a load and a store,
 * not a read-modify-write: only for words with one writer at a time. */
#define TA_RELAXED_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TA_RELAXED_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define TA_OWNER_ADD(x, n) TA_RELAXED_STORE(x, (x) + (n))

static inline size_t ta_align_up(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}
static inline uintptr_t ta_page_of(uintptr_t addr)
{
    return addr >> TA_PAGE_SHIFT;
}
static inline size_t ta_pages_for(size_t bytes)
{
    return (bytes + TA_PAGE_MASK) >> TA_PAGE_SHIFT;
}
static inline bool ta_is_pow2(size_t n)
{
    return n && !(n & (n - 1));
}

void ta_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn)) TA_HIDDEN;
#ifdef TA_DEBUG
#define TA_ASSERT(e) ((e) ? (void)0 : ta_assert_fail(#e, __FILE__, __LINE__))
#else
#define TA_ASSERT(e) ((void)0)
#endif

#endif
