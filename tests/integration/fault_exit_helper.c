/* ta_fault_exit_helper: the program the "fault_exit" suite runs many times.
 * Eight threads hammer malloc/free/realloc while the process ends in the
 * way argv[1] names: exit, quick_exit, return (from main), _exit, or
 * thread_exit (a worker calls exit). argv[2] seeds where the end lands.
 * Exit status 0; 3 when an allocation failed or a block was corrupted. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>
#include <unistd.h>

enum { NT = 8, SLOTS = 32, WARM_OPS = 50 };

static _Atomic unsigned long ops[NT];
static _Atomic int exiter = -1; /* thread_exit: the worker that calls exit */

static void die(const char *msg)
{
    if (write(2, msg, strlen(msg)) < 0)
        _exit(4);
    _exit(3);
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t pick(uint64_t *s)
{
    uint64_t k = rnd(s) % 128;
    if (k == 0)
        return 200 * 1024 + rnd(s) % (800 * 1024); /* own mapping */
    if (k < 4)
        return 33 * 1024 + rnd(s) % (90 * 1024); /* page run */
    return 1 + rnd(s) % (k < 32 ? 4096 : 256);
}

/* One step of churn; blocks carry their slot number in the first byte. */
static void step(uint64_t *s, unsigned char **slot)
{
    unsigned i = (unsigned)(rnd(s) % SLOTS);
    unsigned char *p = slot[i];
    if (p && p[0] != (unsigned char)i)
        die("ta_fault_exit_helper: block corrupted\n");
    switch (rnd(s) % 4) {
    case 0:
    case 1:
        free(p);
        slot[i] = NULL;
        return;
    case 2:
        if (p) {
            p = realloc(p, pick(s));
            if (!p)
                die("ta_fault_exit_helper: realloc failed\n");
            slot[i] = p;
            return;
        }
        /* fall through */
    default:
        free(p);
        p = rnd(s) % 8 ? malloc(pick(s)) : memalign(256, pick(s));
        if (!p)
            die("ta_fault_exit_helper: malloc failed\n");
        p[0] = (unsigned char)i;
        slot[i] = p;
        return;
    }
}

static void *hammer(void *arg)
{
    unsigned idx = (unsigned)(uintptr_t)arg;
    uint64_t s = 0xE817u + idx;
    unsigned char *slot[SLOTS] = {0};
    for (unsigned long n = 0;; n++) {
        step(&s, slot);
        atomic_store_explicit(&ops[idx], n, memory_order_relaxed);
        if (n % 5000 == 4999)
            malloc_trim(0);
        if ((int)idx == atomic_load_explicit(&exiter, memory_order_relaxed) && n > 2 * WARM_OPS)
            exit(0); /* leaves while the others (and main) are in the allocator */
    }
    return NULL;
}

/* Programs free their global structures at exit: allocation during exit,
 * while the workers still run. */
static void at_exit_alloc(void)
{
    for (int i = 0; i < 64; i++) {
        void *p = malloc((size_t)i * 97 + 1);
        if (!p)
            die("ta_fault_exit_helper: malloc in an exit handler failed\n");
        free(p);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1];
    uint64_t s = strtoull(argv[2], NULL, 10);
    atexit(at_exit_alloc);
    at_quick_exit(at_exit_alloc);
    if (strcmp(mode, "thread_exit") == 0)
        atomic_store(&exiter, (int)(s % NT));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (uintptr_t i = 0; i < NT; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, hammer, (void *)i) != 0)
            die("ta_fault_exit_helper: pthread_create failed\n");
    }
    /* Every worker inside its loop first, then a seeded amount of own churn
     * so the end lands at a different point of the workers' calls each run. */
    for (int i = 0; i < NT; i++)
        while (atomic_load_explicit(&ops[i], memory_order_relaxed) < WARM_OPS)
            sched_yield();
    unsigned char *slot[SLOTS] = {0};
    unsigned long own = rnd(&s) % 600;
    for (unsigned long n = 0; n < own || strcmp(mode, "thread_exit") == 0; n++)
        step(&s, slot);
    if (strcmp(mode, "exit") == 0)
        exit(0);
    if (strcmp(mode, "quick_exit") == 0)
        quick_exit(0);
    if (strcmp(mode, "_exit") == 0)
        _exit(0);
    if (strcmp(mode, "return") == 0)
        return 0;
    return 2;
}
