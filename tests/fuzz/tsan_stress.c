/* tsan_stress: the allocator's own concurrency, for ThreadSanitizer. Drives
 * the ta_* prefixed API (so the sanitizer keeps its own malloc) from worker
 * threads with cross-thread frees through a shared exchange, threads that
 * exit and are replaced while their blocks live on, a thread walking the
 * statistics, one calling malloc_trim, and the background trimmer purging
 * (TARENA_DECAY_MS=5 unless set). Every block carries a pattern checked
 * before it is freed, so it doubles as a plain stress test.
 *
 * Usage: ta_tsan_stress [seconds (10)] [workers (8)] [--mallopt]
 *   --mallopt: a thread also changes M_TRIM_THRESHOLD / M_MMAP_THRESHOLD /
 *   M_PERTURB while the others run (expected to race: mallopt updates plain
 *   option words that every allocation reads). */
#include "tarena.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SLOTS = 96, XCHG = 256, OPS_PER_LIFE = 20000 };

typedef struct {
    unsigned char *p;
    size_t size;
    unsigned char tag;
} blk_t;

static blk_t xchg[XCHG];
static pthread_mutex_t xchg_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop; /* written by main, read by all: atomics below */
static unsigned long total_ops, total_lives;

static bool stopping(void)
{
    return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void die(const char *what, const void *p)
{
    fprintf(stderr, "tsan_stress: FAIL: %s (%p)\n", what, p);
    abort();
}

static size_t pick_size(uint64_t *r)
{
    uint64_t x = rng_next(r) % 1000;
    if (x < 900)
        return rng_next(r) % 1024;
    if (x < 985)
        return rng_next(r) % (40 * 1024);
    return 32 * 1024 + rng_next(r) % (600 * 1024);
}

/* Pattern on the first and last 16 bytes (cheap, catches overlap and reuse). */
static void mark(blk_t *b)
{
    size_t n = b->size < 16 ? b->size : 16;
    memset(b->p, b->tag, n);
    if (b->size >= 32)
        memset(b->p + b->size - 16, b->tag ^ 0xff, 16);
}

static void check(const blk_t *b)
{
    size_t n = b->size < 16 ? b->size : 16;
    for (size_t i = 0; i < n; i++)
        if (b->p[i] != b->tag)
            die("block head corrupted", b->p);
    if (b->size >= 32)
        for (size_t i = b->size - 16; i < b->size; i++)
            if (b->p[i] != (unsigned char)(b->tag ^ 0xff))
                die("block tail corrupted", b->p);
}

static void release(blk_t *b)
{
    if (!b->p)
        return;
    check(b);
    ta_free(b->p);
    b->p = NULL;
}

static void alloc_into(blk_t *b, uint64_t *r)
{
    size_t size = pick_size(r);
    unsigned op = (unsigned)(rng_next(r) % 10);
    void *p = NULL;
    if (op < 6) {
        p = ta_malloc(size);
    } else if (op < 7) {
        p = ta_calloc(1, size);
        if (p && size && ((unsigned char *)p)[size - 1])
            die("calloc not zeroed", p);
    } else if (op < 8 && b->p) {
        check(b);
        p = ta_realloc(b->p, size ? size : 1);
        if (!p)
            die("realloc failed", b->p);
        b->p = NULL;
        size = size ? size : 1;
    } else {
        size_t align = (size_t)16 << (rng_next(r) % 9);
        if (ta_posix_memalign(&p, align, size) != 0)
            p = NULL;
        else if ((uintptr_t)p % align)
            die("misaligned", p);
    }
    if (!p)
        die("allocation failed", NULL);
    release(b);
    b->p = p;
    b->size = size;
    b->tag = (unsigned char)rng_next(r);
    mark(b);
}

/* One worker life: OPS_PER_LIFE operations, then exit. Half of the time the
 * live blocks are parked in the exchange for other threads to free after
 * this thread is gone. */
static void *worker(void *arg)
{
    uint64_t r = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    blk_t slots[SLOTS];
    memset(slots, 0, sizeof slots);
    unsigned long ops = 0;
    for (; ops < OPS_PER_LIFE && !stopping(); ops++) {
        blk_t *b = &slots[rng_next(&r) % SLOTS];
        unsigned op = (unsigned)(rng_next(&r) % 16);
        if (op < 8) {
            alloc_into(b, &r);
        } else if (op < 12) {
            release(b);
        } else {
            /* Exchange: put ours in, take whatever was there (usually a block
             * of another thread, from another arena). */
            unsigned x = (unsigned)(rng_next(&r) % XCHG);
            pthread_mutex_lock(&xchg_lock);
            blk_t theirs = xchg[x];
            xchg[x] = *b;
            pthread_mutex_unlock(&xchg_lock);
            *b = theirs;
            if (op == 15)
                release(b);
        }
        if ((ops & 1023) == 0)
            ta_malloc_usable_size(slots[0].p);
    }
    bool park = (r & 1) != 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        if (park && slots[i].p) {
            unsigned x = (unsigned)(rng_next(&r) % XCHG);
            pthread_mutex_lock(&xchg_lock);
            blk_t old = xchg[x];
            xchg[x] = slots[i];
            pthread_mutex_unlock(&xchg_lock);
            slots[i] = old;
        }
        release(&slots[i]);
    }
    __atomic_add_fetch(&total_ops, ops, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_lives, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* A worker slot: runs lives back to back until told to stop. */
static void *worker_slot(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uintptr_t life = 0; !stopping(); life++) {
        pthread_t th;
        if (pthread_create(&th, NULL, worker, (void *)(id * 100000 + life + 1)) != 0)
            die("pthread_create", NULL);
        pthread_join(th, NULL);
    }
    return NULL;
}

static void *stats_walker(void *arg)
{
    (void)arg;
    FILE *devnull = fopen("/dev/null", "w");
    unsigned long n = 0;
    while (!stopping()) {
        ta_stats_t st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        st.version = TA_STATS_VERSION;
        if (ta_stats_get(&st) != 0)
            die("ta_stats_get", NULL);
        if (st.heap_free_bytes > st.heap_bytes)
            die("stats: free > heap", NULL);
        struct mallinfo2 mi = ta_mallinfo2();
        (void)mi;
        if (devnull && (++n % 16) == 0)
            ta_malloc_info(0, devnull);
        usleep(200);
    }
    if (devnull)
        fclose(devnull);
    return NULL;
}

static void *trimmer(void *arg)
{
    (void)arg;
    while (!stopping()) {
        ta_malloc_trim(0);
        usleep(2000);
    }
    return NULL;
}

static void *opt_changer(void *arg)
{
    (void)arg;
    unsigned i = 0;
    while (!stopping()) {
        switch (i++ % 3) {
        case 0:
            ta_mallopt(M_TRIM_THRESHOLD, (int)(64 * 1024 << (i % 4)));
            break;
        case 1:
            ta_mallopt(M_MMAP_THRESHOLD, (int)(128 * 1024 << (i % 3)));
            break;
        default:
            ta_mallopt(M_PERTURB, (i & 4) ? 0x5a : 0);
            break;
        }
        usleep(3000);
    }
    ta_mallopt(M_PERTURB, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    /* Options are read once at start-up: re-run with a short decay so the
     * background trimmer is busy purging while the workers allocate. */
    if (!getenv("TARENA_DECAY_MS")) {
        setenv("TARENA_DECAY_MS", "5", 1);
        execv("/proc/self/exe", argv);
        perror("tsan_stress: execv /proc/self/exe (continuing with the default decay)");
    }
    int seconds = argc > 1 ? atoi(argv[1]) : 10;
    int nworkers = argc > 2 ? atoi(argv[2]) : 8;
    bool with_mallopt = argc > 3 && strcmp(argv[3], "--mallopt") == 0;
    if (seconds <= 0 || nworkers <= 0 || nworkers > 64) {
        fprintf(stderr, "usage: %s [seconds] [workers 1..64] [--mallopt]\n", argv[0]);
        return 2;
    }
    pthread_t slots[64], walker, trim, opt;
    for (int i = 0; i < nworkers; i++)
        if (pthread_create(&slots[i], NULL, worker_slot, (void *)(uintptr_t)i) != 0)
            die("pthread_create", NULL);
    pthread_create(&walker, NULL, stats_walker, NULL);
    pthread_create(&trim, NULL, trimmer, NULL);
    if (with_mallopt)
        pthread_create(&opt, NULL, opt_changer, NULL);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        usleep(50 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < seconds);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < nworkers; i++)
        pthread_join(slots[i], NULL);
    pthread_join(walker, NULL);
    pthread_join(trim, NULL);
    if (with_mallopt)
        pthread_join(opt, NULL);
    /* Whatever is left in the exchange: freed by main, its owners long gone. */
    for (unsigned i = 0; i < XCHG; i++)
        release(&xchg[i]);
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    ta_stats_get(&st);
    printf("tsan_stress: %lu ops in %lu thread lives over %d s; allocs %llu frees %llu "
           "arenas %llu trimmer %llu purged %llu bytes\n",
           total_ops, total_lives, seconds, (unsigned long long)st.allocs,
           (unsigned long long)st.frees, (unsigned long long)st.arenas,
           (unsigned long long)st.trimmer_running, (unsigned long long)st.purged_bytes);
    if (st.allocs != st.frees) {
        fprintf(stderr, "tsan_stress: FAIL: allocs %llu != frees %llu with nothing live\n",
                (unsigned long long)st.allocs, (unsigned long long)st.frees);
        return 1;
    }
    return 0;
}
