/* frag: fragmentation workload. Each round fills the heap with small
 * objects, frees most of them but leaves scattered survivors that pin their
 * pages, then asks for larger objects that cannot reuse the small holes.
 * Reports peak RSS, RSS at the end with only the last survivors live, and
 * the live bytes, so overhead = final RSS / live bytes. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "frag threads=2 rounds=8 small=200000 large=20000 survive=10 seed=1\n" \
              "  small/large: objects per thread per round; survive: percent of\n" \
              "  small objects kept alive until the next-but-one round"

typedef struct {
    long rounds, small, large;
    bench_rng_t rng;
    size_t live_bytes; /* requested bytes this thread still holds at the end */
    char **keep[2];    /* survivors of the last two rounds, freed by main */
} worker_t;

static long survive_pct;

static void *worker(void *arg)
{
    worker_t *w = arg;
    bench_rng_t *r = &w->rng;
    char **small = bench_xmalloc(sizeof(char *) * (size_t)w->small);
    size_t *sizes = bench_xmalloc(sizeof(size_t) * (size_t)w->small);
    char **large = bench_xmalloc(sizeof(char *) * (size_t)w->large);
    /* Survivors of the previous two rounds: older ones are freed, so the
     * live set stays bounded while holes keep appearing everywhere. */
    char **keep[2] = {calloc((size_t)w->small, sizeof(char *)), calloc((size_t)w->small, sizeof(char *))};
    size_t keep_bytes[2] = {0, 0};
    if (keep[0] == NULL || keep[1] == NULL)
        bench_die("frag: no memory");

    for (long round = 0; round < w->rounds; round++) {
        char **old = keep[round & 1];
        for (long i = 0; i < w->small; i++)
            free(old[i]), old[i] = NULL;
        keep_bytes[round & 1] = 0;

        for (long i = 0; i < w->small; i++) {
            size_t sz = bench_rand_size_log(r, 16, 256);
            sizes[i] = sz;
            small[i] = bench_xmalloc(sz);
            memset(small[i], (int)round, sz);
        }
        for (long i = 0; i < w->small; i++) {
            if ((long)bench_rand_range(r, 0, 99) < survive_pct) {
                old[i] = small[i];
                keep_bytes[round & 1] += sizes[i];
            } else {
                free(small[i]);
            }
        }
        /* Bigger requests: small holes do not fit them, so a heap that cannot
         * coalesce or return pinned pages has to grow. */
        for (long i = 0; i < w->large; i++) {
            size_t sz = bench_rand_size_log(r, 512, 8192);
            large[i] = bench_xmalloc(sz);
            bench_touch(large[i], sz);
        }
        for (long i = 0; i < w->large; i++)
            free(large[i]);
    }
    w->live_bytes = keep_bytes[0] + keep_bytes[1];
    /* The survivors stay allocated until main has sampled the final RSS. */
    w->keep[0] = keep[0];
    w->keep[1] = keep[1];
    free(sizes);
    free(small);
    free(large);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,rounds,small,large,survive,seed", USAGE);
    bench_banner("frag", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 2);
    long rounds = bench_arg_long(argc, argv, "rounds", 8);
    long small = bench_arg_long(argc, argv, "small", 200000);
    long large = bench_arg_long(argc, argv, "large", 20000);
    survive_pct = bench_arg_long(argc, argv, "survive", 10);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || rounds < 1 || small < 1 || large < 1 || survive_pct < 0 || survive_pct > 100)
        bench_die("frag: bad arguments\n%s", USAGE);

    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.rounds = rounds, .small = small, .large = large};
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;
    size_t live = 0;
    for (int i = 0; i < threads; i++)
        live += w[i].live_bytes;
    long final_rss = bench_rss_kb();
    printf("result: elapsed_s=%.4f peak_rss_kb=%ld final_rss_kb=%ld live_kb=%zu threads=%d\n",
           elapsed, bench_peak_rss_kb(), final_rss, live / 1024, threads);
    for (int i = 0; i < threads; i++)
        for (int k = 0; k < 2; k++) {
            for (long j = 0; j < small; j++)
                free(w[i].keep[k][j]);
            free(w[i].keep[k]);
        }
    free(w);
    return 0;
}
