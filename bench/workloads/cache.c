/* cache: false-sharing tests after Hoard's cache-thrash and cache-scratch.
 * mode=thrash: every thread allocates, writes and frees its own small objects;
 * an allocator that hands neighbouring bytes to different threads makes the
 * threads fight over cache lines. mode=scratch: the main thread allocates
 * adjacent objects, gives one to each thread, and the thread frees it first;
 * an allocator that reuses that foreign block locally inherits the sharing. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "cache mode=thrash|scratch threads=2 objsize=8 iterations=30000 repetitions=2000"

typedef struct {
    long iterations, repetitions;
    size_t objsize;
    char *initial; /* scratch: the object the main thread handed over */
} worker_t;

/* The writes go through a volatile pointer so the compiler keeps every one
 * of them: they are what exposes a shared cache line. */
static void hammer(char *obj, size_t n, long repetitions)
{
    volatile char *v = obj;
    for (long r = 0; r < repetitions; r++)
        for (size_t k = 0; k < n; k++)
            v[k] = (char)(v[k] + 1);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    if (w->initial)
        free(w->initial);
    for (long i = 0; i < w->iterations; i++) {
        char *obj = bench_xmalloc(w->objsize);
        obj[0] = 0;
        hammer(obj, w->objsize, w->repetitions);
        bench_sink += (uint64_t)obj[0];
        free(obj);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "mode,threads,objsize,iterations,repetitions", USAGE);
    bench_banner("cache", argc, argv);
    const char *mode = bench_arg_str(argc, argv, "mode", "thrash");
    int threads = (int)bench_arg_long(argc, argv, "threads", 2);
    size_t objsize = (size_t)bench_arg_long(argc, argv, "objsize", 8);
    long iterations = bench_arg_long(argc, argv, "iterations", 30000);
    long repetitions = bench_arg_long(argc, argv, "repetitions", 2000);
    int scratch = strcmp(mode, "scratch") == 0;
    if ((!scratch && strcmp(mode, "thrash") != 0) || threads < 1 || objsize < 1 ||
        iterations < 0 || repetitions < 0)
        bench_die("cache: bad arguments\n%s", USAGE);

    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i].iterations = iterations;
        w[i].repetitions = repetitions;
        w[i].objsize = objsize;
        /* Allocated back to back by one thread: with a small objsize these
         * share cache lines under any allocator that packs small blocks. */
        if (scratch)
            w[i].initial = bench_xmalloc(objsize);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;
    double total = (double)iterations * threads;
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f objects=%.0f mode=%s threads=%d peak_rss_kb=%ld\n",
           total / elapsed, elapsed, total, mode, threads, bench_peak_rss_kb());
    free(w);
    return 0;
}
