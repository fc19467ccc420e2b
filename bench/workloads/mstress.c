/* mstress: mixed-size multi-threaded stress after mimalloc's mstress idea.
 * Each thread runs bursts of short-lived objects, keeps a set of long-lived
 * ones that it slowly replaces and resizes, and swaps some through a shared
 * exchange array so they die in another thread. Sizes are mostly small with
 * a long tail up to 1 MiB, the shape most programs show. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "mstress threads=4 steps=200000 keep=2000 burst=32 xfer=5 seed=1\n" \
              "  steps: per thread; keep: long-lived objects per thread;\n" \
              "  burst: max short-lived objects per step; xfer: percent of steps\n" \
              "  that swap a long-lived object with another thread"

typedef struct {
    size_t size;
    uint64_t tag;
} obj_t; /* every object starts with this header, checked before free */

typedef struct {
    int id;
    long steps, keep, burst;
    bench_rng_t rng;
} worker_t;

static _Atomic(obj_t *) *exchange;
static long exchange_n, xfer_pct;

static size_t pick_size(bench_rng_t *r)
{
    uint64_t p = bench_rand_range(r, 0, 9999);
    if (p < 7000) return bench_rand_size_log(r, 16, 128);
    if (p < 9500) return bench_rand_size_log(r, 129, 4096);
    if (p < 9990) return bench_rand_size_log(r, 4097, 65536);
    return bench_rand_size_log(r, 65537, 1 << 20);
}

static obj_t *obj_new(size_t size, uint64_t tag)
{
    obj_t *o = bench_xmalloc(size);
    o->size = size;
    o->tag = tag;
    ((unsigned char *)o)[size - 1] = (unsigned char)tag;
    return o;
}

static void obj_check(const obj_t *o)
{
    if (o->size < sizeof *o || o->size > (1u << 21) || ((const unsigned char *)o)[o->size - 1] != (unsigned char)o->tag)
        bench_die("mstress: object %p corrupted", (const void *)o);
}

static void obj_free(obj_t *o)
{
    if (o) {
        obj_check(o);
        free(o);
    }
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    bench_rng_t *r = &w->rng;
    obj_t **keep = calloc((size_t)w->keep, sizeof *keep);
    obj_t **tmp = bench_xmalloc(sizeof *tmp * (size_t)w->burst);
    for (long i = 0; i < w->keep; i++)
        keep[i] = obj_new(pick_size(r), bench_rand(r));

    for (long s = 0; s < w->steps; s++) {
        /* Short-lived burst, freed in a shuffled order. */
        int n = (int)bench_rand_range(r, 1, (uint64_t)w->burst);
        for (int i = 0; i < n; i++) {
            size_t sz = pick_size(r);
            if (sz > 16384) sz = bench_rand_size_log(r, 16, 512); /* big ones live long */
            tmp[i] = obj_new(sz, bench_rand(r));
        }
        for (int i = n - 1; i > 0; i--) {
            int j = (int)bench_rand_range(r, 0, (uint64_t)i);
            obj_t *t = tmp[i]; tmp[i] = tmp[j]; tmp[j] = t;
        }
        for (int i = 0; i < n; i++)
            obj_free(tmp[i]);

        long k = (long)(bench_rand(r) % (uint64_t)w->keep);
        uint64_t p = bench_rand_range(r, 0, 99);
        if (p < 10) {
            /* Replace a long-lived object. */
            obj_free(keep[k]);
            keep[k] = obj_new(pick_size(r), bench_rand(r));
        } else if (p < 15) {
            /* Resize one, as buffers and vectors do. */
            obj_check(keep[k]);
            size_t nsz = keep[k]->size * (bench_rand(r) & 1 ? 2 : 1) / (bench_rand(r) & 1 ? 1 : 2);
            if (nsz < sizeof(obj_t) + 1) nsz = sizeof(obj_t) + 1;
            if (nsz > (1u << 20)) nsz = 1u << 20;
            obj_t *o = realloc(keep[k], nsz);
            if (o == NULL) bench_die("mstress: realloc failed");
            o->size = nsz;
            ((unsigned char *)o)[nsz - 1] = (unsigned char)o->tag;
            keep[k] = o;
        } else if (p < 15 + (uint64_t)xfer_pct) {
            /* Swap with the exchange: what we take was made by someone else. */
            long x = (long)(bench_rand(r) % (uint64_t)exchange_n);
            obj_t *got = atomic_exchange(&exchange[x], keep[k]);
            keep[k] = got ? got : obj_new(pick_size(r), bench_rand(r));
        }
    }
    for (long i = 0; i < w->keep; i++)
        obj_free(keep[i]);
    free(keep);
    free(tmp);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,steps,keep,burst,xfer,seed", USAGE);
    bench_banner("mstress", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 4);
    long steps = bench_arg_long(argc, argv, "steps", 200000);
    long keep = bench_arg_long(argc, argv, "keep", 2000);
    long burst = bench_arg_long(argc, argv, "burst", 32);
    xfer_pct = bench_arg_long(argc, argv, "xfer", 5);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || steps < 0 || keep < 1 || burst < 1 || xfer_pct < 0 || xfer_pct > 85)
        bench_die("mstress: bad arguments\n%s", USAGE);

    exchange_n = 64L * threads;
    exchange = calloc((size_t)exchange_n, sizeof *exchange);
    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.id = i, .steps = steps, .keep = keep, .burst = burst};
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;
    for (long i = 0; i < exchange_n; i++)
        obj_free(atomic_load(&exchange[i]));
    free(exchange);
    free(w);
    double total = (double)steps * threads;
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f steps=%.0f threads=%d peak_rss_kb=%ld\n",
           total / elapsed, elapsed, total, threads, bench_peak_rss_kb());
    return 0;
}
