/* larson: server simulation after Larson & Krishnan. Threads keep replacing
 * random blocks of one shared pool; a replaced block was usually allocated by
 * another thread, so frees are cross-thread and the working set never ends. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "larson threads=4 slots=8000 min=16 max=1024 ops=1000000 remote=20 seed=1\n" \
              "  slots: pool entries per thread; ops: replacements per thread;\n" \
              "  remote: percent of replacements that pick a slot anywhere in the pool"

#define COOKIE 0x5a5a5a5a00000000ull

typedef struct {
    int id;
    long ops;
    bench_rng_t rng;
} worker_t;

static _Atomic(uint64_t *) *pool;
static long pool_n, slots_per_thread, min_size, max_size, remote_pct;

static uint64_t *new_block(bench_rng_t *r)
{
    size_t size = (size_t)bench_rand_range(r, (uint64_t)min_size, (uint64_t)max_size);
    uint64_t *b = bench_xmalloc(size);
    /* Write the head and the tail: a real server touches what it allocates,
     * and the cookie lets the freeing thread check nobody reused the block. */
    b[0] = COOKIE | size;
    ((unsigned char *)b)[size - 1] = (unsigned char)size;
    return b;
}

static void drop_block(uint64_t *b)
{
    if (b == NULL)
        return;
    if ((b[0] & ~0xffffffffull) != COOKIE)
        bench_die("larson: block %p corrupted (head %#llx)", (void *)b, (unsigned long long)b[0]);
    free(b);
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    long base = (long)w->id * slots_per_thread;
    for (long i = 0; i < w->ops; i++) {
        long idx;
        if ((long)bench_rand_range(&w->rng, 0, 99) < remote_pct)
            idx = (long)(bench_rand(&w->rng) % (uint64_t)pool_n);
        else
            idx = base + (long)(bench_rand(&w->rng) % (uint64_t)slots_per_thread);
        uint64_t *b = new_block(&w->rng);
        drop_block(atomic_exchange_explicit(&pool[idx], b, memory_order_acq_rel));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,slots,min,max,ops,remote,seed", USAGE);
    bench_banner("larson", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 4);
    slots_per_thread = bench_arg_long(argc, argv, "slots", 8000);
    min_size = bench_arg_long(argc, argv, "min", 16);
    max_size = bench_arg_long(argc, argv, "max", 1024);
    long ops = bench_arg_long(argc, argv, "ops", 1000000);
    remote_pct = bench_arg_long(argc, argv, "remote", 20);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || slots_per_thread < 1 || min_size < 8 || max_size < min_size || ops < 0)
        bench_die("larson: bad arguments\n%s", USAGE);

    pool_n = slots_per_thread * threads;
    pool = calloc((size_t)pool_n, sizeof *pool);
    if (pool == NULL)
        bench_die("larson: no memory for the pool");
    /* The main thread fills the pool, so even the first frees are remote. */
    bench_rng_t r;
    bench_rng_seed(&r, (uint64_t)seed);
    for (long i = 0; i < pool_n; i++)
        atomic_init(&pool[i], new_block(&r));

    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        w[i].ops = ops;
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;

    for (long i = 0; i < pool_n; i++)
        drop_block(atomic_load(&pool[i]));
    free(pool);
    free(w);
    double total = (double)ops * threads;
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f ops=%.0f threads=%d peak_rss_kb=%ld\n",
           total / elapsed, elapsed, total, threads, bench_peak_rss_kb());
    return 0;
}
