/* remap_race (test fuzz.remap_race): regression test for a race that
 * fuzz_ops found. realloc of an mmap'd block that cannot grow in place
 * moves it with mremap(MREMAP_FIXED) onto a new mapping; the old address
 * range is free from that moment. If the allocator only afterwards clears
 * the page-map entry of the old address, a block that another thread got
 * at that very address in between loses its entry, and its free() aborts
 * with "invalid pointer".
 *
 * The window is a few instructions wide, so this test widens it: it defines
 * mremap itself (the static libtarena_prefixed links to this definition),
 * and after a successful move waits until the main thread has allocated a
 * block, which the kernel usually places exactly where the moved block was.
 * Then the main thread checks, after the realloc returned, that its block is
 * still known (ta_owns). Deterministic whenever the address is reused.
 *
 * Usage: ta_remap_race [seconds (default 3)] */
#include "tarena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

enum { IDLE, MOVED, ALLOCATED, DONE };
static int phase;          /* atomic: the hand-shake below */
static void *moved_from;   /* atomic: old address of the last move */
static int stop;           /* atomic */

/* Waits for the other thread to reach `want`; gives up after about 2 s or
 * when the test stops (the callers re-check the phase). */
static void wait_phase(int want)
{
    for (int i = 0; __atomic_load_n(&phase, __ATOMIC_ACQUIRE) != want; i++) {
        if (__atomic_load_n(&stop, __ATOMIC_RELAXED) || i > 40000)
            return;
        if (i > 100)
            usleep(50);
    }
}

/* Replaces libc's mremap for this program (and the allocator linked in). */
void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    void *r = (void *)syscall(SYS_mremap, old, old_size, new_size, flags, target);
    if (r != MAP_FAILED && (flags & MREMAP_FIXED)) {
        /* Moved: `old` is free address space now. Let the main thread map
         * something there before the allocator updates its page map. */
        __atomic_store_n(&moved_from, old, __ATOMIC_RELAXED);
        __atomic_store_n(&phase, MOVED, __ATOMIC_RELEASE);
        wait_phase(ALLOCATED);
    }
    return r;
}

static void *mover(void *arg)
{
    (void)arg;
    char *p = ta_malloc(2 * MIB);
    if (!p)
        abort();
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        /* A page mapped right after the block: growing in place fails, so
         * realloc moves it. */
        void *guard = mmap(p + 2 * MIB, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                           -1, 0);
        char *q = ta_realloc(p, 3 * MIB);
        if (!q) {
            fprintf(stderr, "remap_race: realloc to 3 MiB failed\n");
            exit(2);
        }
        if (guard != MAP_FAILED)
            munmap(guard, 4096);
        if (__atomic_load_n(&phase, __ATOMIC_ACQUIRE) == ALLOCATED)
            __atomic_store_n(&phase, DONE, __ATOMIC_RELEASE);
        else
            __atomic_store_n(&phase, IDLE, __ATOMIC_RELEASE); /* it grew in place */
        wait_phase(IDLE);
        p = ta_realloc(q, 2 * MIB);
        if (!p) {
            fprintf(stderr, "remap_race: realloc to 2 MiB failed\n");
            exit(2);
        }
    }
    ta_free(p);
    return NULL;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    /* Every 2 MiB request gets its own mapping. */
    ta_mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    pthread_t t;
    if (pthread_create(&t, NULL, mover, NULL) != 0)
        return 2;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long moves = 0, reused = 0;
    int lost = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (lost || (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
            break;
        wait_phase(MOVED);
        if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
            break;
        if (__atomic_load_n(&phase, __ATOMIC_ACQUIRE) != MOVED)
            continue;
        moves++;
        void *q = ta_malloc(2 * MIB);
        if (!q) {
            fprintf(stderr, "remap_race: malloc failed\n");
            return 2;
        }
        reused += q == __atomic_load_n(&moved_from, __ATOMIC_RELAXED);
        __atomic_store_n(&phase, ALLOCATED, __ATOMIC_RELEASE);
        wait_phase(DONE); /* the realloc has returned */
        if (!ta_owns(q)) {
            fprintf(stderr, "remap_race: FAIL: block %p, allocated while a realloc moved the block at "
                            "%p away, is no longer known to tarena (its page-map entry was cleared)\n",
                    q, moved_from);
            lost = 1;
        } else {
            ta_free(q);
        }
        __atomic_store_n(&phase, IDLE, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    printf("remap_race: %lu moves, %lu times the old address was reused at once: %s\n", moves, reused,
           lost ? "FAIL" : "ok");
    if (!lost && !reused)
        printf("remap_race: (the kernel never reused the old address: nothing was tested)\n");
    return lost;
}
