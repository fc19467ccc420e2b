/* memret: does freed memory go back to the OS while the threads that freed
 * it are still alive? threads allocate mb MiB of small blocks in total, free
 * them all, stay alive and idle, and the main thread samples RSS every
 * interval_ms for duration_ms. The figure is the last sample (RSS 2 s after
 * the free by default); the "rss:" lines feed the memory-over-time chart. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define USAGE "memret threads=4 mb=1024 interval_ms=100 duration_ms=2000 seed=1"

typedef struct {
    size_t bytes;
    bench_rng_t rng;
} worker_t;

static pthread_barrier_t phase;

static void *worker(void *arg)
{
    worker_t *w = arg;
    const size_t min = 16, max = 512; /* "small blocks": tcache-sized everywhere */
    void *head = NULL, **tail = &head;
    pthread_barrier_wait(&phase); /* start together: arenas see real contention */
    /* Blocks are chained through their first word, in allocation order, so
     * no side array distorts the heap; freeing follows the same order. */
    for (size_t done = 0; done < w->bytes;) {
        size_t sz = bench_rand_size_log(&w->rng, min, max);
        void **b = bench_xmalloc(sz);
        ((char *)b)[sz - 1] = 1;
        *b = NULL;
        *tail = b;
        tail = (void **)b;
        done += sz;
    }
    pthread_barrier_wait(&phase); /* all allocated */
    for (void *b = head; b;) {
        void *next = *(void **)b;
        free(b);
        b = next;
    }
    pthread_barrier_wait(&phase); /* all freed */
    pthread_barrier_wait(&phase); /* sampling done: only now may we exit */
    return NULL;
}

static void sleep_until(double t)
{
    double d = t - bench_now();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,mb,interval_ms,duration_ms,seed", USAGE);
    bench_banner("memret", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 4);
    long mb = bench_arg_long(argc, argv, "mb", 1024);
    long interval_ms = bench_arg_long(argc, argv, "interval_ms", 100);
    long duration_ms = bench_arg_long(argc, argv, "duration_ms", 2000);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || mb < 1 || interval_ms < 1 || duration_ms < 0)
        bench_die("memret: bad arguments\n%s", USAGE);

    pthread_barrier_init(&phase, NULL, (unsigned)threads + 1);
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    for (int i = 0; i < threads; i++) {
        w[i].bytes = ((size_t)mb << 20) / (size_t)threads;
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
        if (pthread_create(&t[i], NULL, worker, &w[i]))
            bench_die("memret: pthread_create failed");
    }
    long rss_start = bench_rss_kb();
    pthread_barrier_wait(&phase);
    double t0 = bench_now();
    pthread_barrier_wait(&phase);
    double t_alloc = bench_now();
    long rss_full = bench_rss_kb();
    pthread_barrier_wait(&phase);
    double t_free = bench_now();

    /* The sample taken with everything allocated goes first, at its true
     * time relative to the end of the free, so the chart shows the drop. */
    printf("rss: t_ms=%ld rss_kb=%ld\n", -(long)((t_free - t_alloc) * 1000.0 + 0.5), rss_full);
    long last = -1;
    for (long ms = 0; ms <= duration_ms; ms += interval_ms) {
        sleep_until(t_free + (double)ms / 1000.0);
        last = bench_rss_kb();
        printf("rss: t_ms=%ld rss_kb=%ld\n", ms, last);
    }
    fflush(stdout);
    pthread_barrier_wait(&phase);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    printf("result: elapsed_s=%.4f alloc_s=%.4f free_s=%.4f rss_start_kb=%ld rss_full_kb=%ld "
           "rss_final_kb=%ld after_ms=%ld mb=%ld threads=%d peak_rss_kb=%ld\n",
           t_free - t0, t_alloc - t0, t_free - t_alloc, rss_start, rss_full, last, duration_ms,
           mb, threads, bench_peak_rss_kb());
    free(w);
    free(t);
    return 0;
}
