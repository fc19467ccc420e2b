/* large: big-block workload. Threads keep a few slots of 1-16 MiB blocks and
 * allocate, grow with realloc (as growing buffers and vectors do) and free
 * them. Pages are touched, so the figure includes the page faults an
 * allocator causes by handing memory back and forth to the kernel. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "large threads=2 slots=16 ops=3000 min_mb=1 max_mb=16 seed=1\n" \
              "  ops: per thread; a slot is filled, grown by realloc (x1.25-x2) or freed"

typedef struct {
    long slots, ops;
    size_t min, max;
    bench_rng_t rng;
    long reallocs, mallocs;
} worker_t;

typedef struct {
    unsigned char *p;
    size_t size;
} slot_t;

static void mark(slot_t *s, size_t from)
{
    bench_touch(s->p + from, s->size - from);
    s->p[0] = 0xa5;
    s->p[s->size - 1] = 0x5a;
}

static void check(const slot_t *s)
{
    if (s->p[0] != 0xa5 || s->p[s->size - 1] != 0x5a)
        bench_die("large: block %p of %zu bytes lost its contents", (void *)s->p, s->size);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    bench_rng_t *r = &w->rng;
    slot_t *slot = calloc((size_t)w->slots, sizeof *slot);
    for (long i = 0; i < w->ops; i++) {
        slot_t *s = &slot[bench_rand(r) % (uint64_t)w->slots];
        uint64_t p = bench_rand_range(r, 0, 99);
        if (s->p == NULL) {
            s->size = (size_t)bench_rand_range(r, w->min, w->max);
            s->p = bench_xmalloc(s->size);
            mark(s, 0);
            w->mallocs++;
        } else if (p < 60 && s->size < w->max) {
            check(s);
            size_t old = s->size;
            size_t grow = old + old * (size_t)bench_rand_range(r, 25, 100) / 100;
            s->size = grow > w->max ? w->max : grow;
            unsigned char *np = realloc(s->p, s->size);
            if (np == NULL)
                bench_die("large: realloc(%zu) failed", s->size);
            s->p = np;
            if (np[old - 1] != 0x5a)
                bench_die("large: realloc lost the old tail");
            mark(s, old);
            w->reallocs++;
        } else {
            check(s);
            free(s->p);
            s->p = NULL;
        }
    }
    for (long i = 0; i < w->slots; i++)
        free(slot[i].p);
    free(slot);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,slots,ops,min_mb,max_mb,seed", USAGE);
    bench_banner("large", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 2);
    long slots = bench_arg_long(argc, argv, "slots", 16);
    long ops = bench_arg_long(argc, argv, "ops", 3000);
    long min_mb = bench_arg_long(argc, argv, "min_mb", 1);
    long max_mb = bench_arg_long(argc, argv, "max_mb", 16);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || slots < 1 || ops < 0 || min_mb < 1 || max_mb < min_mb)
        bench_die("large: bad arguments\n%s", USAGE);

    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.slots = slots, .ops = ops,
                          .min = (size_t)min_mb << 20, .max = (size_t)max_mb << 20};
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;
    long mallocs = 0, reallocs = 0;
    for (int i = 0; i < threads; i++)
        mallocs += w[i].mallocs, reallocs += w[i].reallocs;
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f mallocs=%ld reallocs=%ld threads=%d peak_rss_kb=%ld\n",
           (double)ops * threads / elapsed, elapsed, mallocs, reallocs, threads, bench_peak_rss_kb());
    free(w);
    return 0;
}
