/* Linux implementation of os.h, plus the fault-injection hook for tests. */
#define _GNU_SOURCE
#include "os.h"
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Fault injection: the next `skip` calls matching `mask` pass, then `count`
 * fail (count < 0: all). Atomics so tests can flip it while threads run. */
static _Atomic unsigned fail_mask;
static _Atomic long fail_skip, fail_count;
static _Atomic unsigned long call_counts[4];

static bool os_injected_failure(unsigned op)
{
    atomic_fetch_add_explicit(&call_counts[__builtin_ctz(op)], 1, memory_order_relaxed);
    if (TA_LIKELY(!(atomic_load_explicit(&fail_mask, memory_order_relaxed) & op)))
        return false;
    if (atomic_fetch_sub(&fail_skip, 1) > 0)
        return false;
    atomic_store(&fail_skip, 0);
    long c = atomic_load(&fail_count);
    if (c < 0)
        return true;
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_count, &c, c - 1))
            return true;
    }
    return false;
}

TA_EXPORT void ta_test_os_fail(unsigned ops, long skip, long count)
{
    atomic_store(&fail_mask, 0);
    atomic_store(&fail_skip, skip);
    atomic_store(&fail_count, count);
    atomic_store(&fail_mask, ops & TA_OS_ALL);
}

TA_EXPORT unsigned long ta_test_os_calls(unsigned ops)
{
    unsigned long n = 0;
    for (unsigned i = 0; i < 4; i++)
        if (ops & (1u << i))
            n += atomic_load_explicit(&call_counts[i], memory_order_relaxed);
    return n;
}

int ta_os_brk_extend(size_t size, uintptr_t *start, size_t *len)
{
    if (os_injected_failure(TA_OS_SBRK))
        return ENOMEM;
    int saved = errno;
    uintptr_t cur = (uintptr_t)sbrk(0);
    size_t pad = ta_align_up(cur, TA_PAGE_SIZE) - cur;
    if (size > (size_t)INTPTR_MAX - pad) {
        errno = saved;
        return ENOMEM;
    }
    void *old = sbrk((intptr_t)(size + pad));
    errno = saved;
    if (old == (void *)-1)
        return ENOMEM;
    /* A foreign sbrk may have run between the two calls: trust `old`. */
    uintptr_t s = ta_align_up((uintptr_t)old, TA_PAGE_SIZE);
    uintptr_t e = ((uintptr_t)old + size + pad) & ~(uintptr_t)TA_PAGE_MASK;
    if (e <= s)
        return ENOMEM;
    *start = s;
    *len = e - s;
    return 0;
}

int ta_os_brk_shrink(uintptr_t expected_end, size_t size)
{
    if (os_injected_failure(TA_OS_SBRK))
        return ENOMEM;
    int saved = errno;
    int rc = 0;
    if ((uintptr_t)sbrk(0) != expected_end)
        rc = EBUSY;
    else if (sbrk(-(intptr_t)size) == (void *)-1)
        rc = ENOMEM;
    errno = saved;
    return rc;
}

static void *os_mmap_raw(size_t size)
{
    return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int ta_os_map(size_t size, size_t align, void **out)
{
    if (os_injected_failure(TA_OS_MMAP))
        return ENOMEM;
    int saved = errno;
    if (align <= TA_PAGE_SIZE) {
        void *p = os_mmap_raw(size);
        errno = saved;
        if (p == MAP_FAILED)
            return ENOMEM;
        *out = p;
        return 0;
    }
    /* Over-map by align - page, then cut the misaligned ends off. */
    size_t span = size + align - TA_PAGE_SIZE;
    if (span < size)
        return ENOMEM;
    char *raw = os_mmap_raw(span);
    if (raw == MAP_FAILED) {
        errno = saved;
        return ENOMEM;
    }
    char *p = (char *)ta_align_up((uintptr_t)raw, align);
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + span - (p + size));
    if (tail)
        munmap(p + size, tail);
    errno = saved;
    *out = p;
    return 0;
}

int ta_os_unmap(void *addr, size_t size)
{
    int saved = errno;
    int rc = munmap(addr, size) ? ENOMEM : 0;
    errno = saved;
    return rc;
}

int ta_os_remap(void *addr, size_t old_size, size_t new_size, void *target)
{
    if (os_injected_failure(TA_OS_MREMAP))
        return ENOMEM;
    int saved = errno;
    void *p = target ? mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target)
                     : mremap(addr, old_size, new_size, 0);
    errno = saved;
    return p == MAP_FAILED ? ENOMEM : 0;
}

int ta_os_protect(void *addr, size_t size, bool accessible)
{
    if (os_injected_failure(TA_OS_MMAP))
        return ENOMEM;
    int saved = errno;
    int rc = mprotect(addr, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) ? errno : 0;
    errno = saved;
    return rc;
}

int ta_os_purge(void *addr, size_t size, bool lazy)
{
    if (os_injected_failure(TA_OS_MADVISE))
        return ENOMEM;
    int saved = errno;
    int rc = madvise(addr, size, lazy ? MADV_FREE : MADV_DONTNEED) ? errno : 0;
    if (rc == EINVAL && lazy) /* kernels before 4.5 */
        rc = madvise(addr, size, MADV_DONTNEED) ? errno : 0;
    errno = saved;
    return rc;
}

uint32_t ta_os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

int ta_os_thread_start(void *(*fn)(void *), void *arg, const char *name)
{
    int saved = errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    int rc = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!rc)
        pthread_setname_np(th, name);
    errno = saved;
    return rc;
}
