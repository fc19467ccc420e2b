/* xmalloc: producer/consumer after the xmalloc-test idea. Blocks are
 * allocated by one thread and freed by another, in batches passed through
 * bounded queues: mode=1n (one producer, N consumers) or mode=nn (a ring of
 * N threads, each producing for the next and consuming from the previous). */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "xmalloc mode=1n|nn threads=4 blocks=2000000 batch=256 min=16 max=512 depth=64 seed=1\n" \
              "  threads: consumers (1n) or ring members (nn); blocks: per producer"

typedef struct batch {
    struct batch *next;
    int n;
    void *blk[]; /* each block starts with its size, checked by the consumer */
} batch_t;

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t not_empty, not_full;
    batch_t *head, *tail;
    int count, done;
    char pad[64]; /* keep neighbouring queues' locks off one cache line */
} queue_t;

static int batch_size, depth;
static long min_size, max_size;

static void q_init(queue_t *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->m, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
}

/* Pushes b; when wait is 0 and the queue is full returns 0 without pushing. */
static int q_push(queue_t *q, batch_t *b, int wait)
{
    pthread_mutex_lock(&q->m);
    while (q->count >= depth) {
        if (!wait) {
            pthread_mutex_unlock(&q->m);
            return 0;
        }
        pthread_cond_wait(&q->not_full, &q->m);
    }
    b->next = NULL;
    if (q->tail) q->tail->next = b; else q->head = b;
    q->tail = b;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->m);
    return 1;
}

/* Pops a batch; with wait, blocks until one arrives or the producer is done.
 * NULL means empty (no wait) or finished (wait). */
static batch_t *q_pop(queue_t *q, int wait)
{
    pthread_mutex_lock(&q->m);
    while (q->head == NULL && wait && !q->done)
        pthread_cond_wait(&q->not_empty, &q->m);
    batch_t *b = q->head;
    if (b) {
        q->head = b->next;
        if (q->head == NULL) q->tail = NULL;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->m);
    return b;
}

static void q_finish(queue_t *q)
{
    pthread_mutex_lock(&q->m);
    q->done = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->m);
}

static batch_t *make_batch(bench_rng_t *r, int n)
{
    batch_t *b = bench_xmalloc(sizeof *b + sizeof(void *) * (size_t)n);
    b->n = n;
    for (int i = 0; i < n; i++) {
        size_t size = (size_t)bench_rand_range(r, (uint64_t)min_size, (uint64_t)max_size);
        size_t *p = bench_xmalloc(size);
        p[0] = size;
        ((unsigned char *)p)[size - 1] = 0x5a;
        b->blk[i] = p;
    }
    return b;
}

static void consume_batch(batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        size_t *p = b->blk[i];
        if (p[0] < (size_t)min_size || p[0] > (size_t)max_size || ((unsigned char *)p)[p[0] - 1] != 0x5a)
            bench_die("xmalloc: block %p corrupted", (void *)p);
        free(p);
    }
    free(b);
}

typedef struct {
    int id, nthreads;
    long blocks;
    queue_t *queues; /* 1n: one per consumer; nn: one per ring member (its input) */
    bench_rng_t rng;
} worker_t;

static void *producer_1n(void *arg)
{
    worker_t *w = arg;
    long left = w->blocks;
    for (long k = 0; left > 0; k++) {
        int n = left < batch_size ? (int)left : batch_size;
        q_push(&w->queues[k % w->nthreads], make_batch(&w->rng, n), 1);
        left -= n;
    }
    for (int i = 0; i < w->nthreads; i++)
        q_finish(&w->queues[i]);
    return NULL;
}

static void *consumer_1n(void *arg)
{
    worker_t *w = arg;
    batch_t *b;
    while ((b = q_pop(&w->queues[w->id], 1)) != NULL)
        consume_batch(b);
    return NULL;
}

static void *member_nn(void *arg)
{
    worker_t *w = arg;
    queue_t *in = &w->queues[w->id], *out = &w->queues[(w->id + 1) % w->nthreads];
    long left = w->blocks;
    batch_t *pending = NULL, *b;
    while (left > 0 || pending) {
        if (pending == NULL) {
            int n = left < batch_size ? (int)left : batch_size;
            pending = make_batch(&w->rng, n);
            left -= n;
        }
        /* Never block on a full queue while holding our own input back:
         * the ring would deadlock. Drain, yield, retry instead. */
        int pushed = q_push(out, pending, 0);
        if (pushed)
            pending = NULL;
        while ((b = q_pop(in, 0)) != NULL)
            consume_batch(b);
        if (!pushed)
            sched_yield();
    }
    q_finish(out);
    while ((b = q_pop(in, 1)) != NULL)
        consume_batch(b);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "mode,threads,blocks,batch,min,max,depth,seed", USAGE);
    bench_banner("xmalloc", argc, argv);
    const char *mode = bench_arg_str(argc, argv, "mode", "1n");
    int threads = (int)bench_arg_long(argc, argv, "threads", 4);
    long blocks = bench_arg_long(argc, argv, "blocks", 2000000);
    batch_size = (int)bench_arg_long(argc, argv, "batch", 256);
    depth = (int)bench_arg_long(argc, argv, "depth", 64);
    min_size = bench_arg_long(argc, argv, "min", 16);
    max_size = bench_arg_long(argc, argv, "max", 512);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    int nn = strcmp(mode, "nn") == 0;
    if ((!nn && strcmp(mode, "1n") != 0) || threads < 1 || blocks < 0 || batch_size < 1 ||
        depth < 1 || min_size < (long)sizeof(size_t) + 1 || max_size < min_size)
        bench_die("xmalloc: bad arguments\n%s", USAGE);

    queue_t *queues = aligned_alloc(64, sizeof(queue_t) * (size_t)threads + 64);
    for (int i = 0; i < threads; i++)
        q_init(&queues[i]);
    /* Slot 0 is the producer in 1n mode; consumers are 1..threads. */
    int nworkers = nn ? threads : threads + 1;
    worker_t *w = calloc((size_t)nworkers, sizeof *w);
    for (int i = 0; i < nworkers; i++) {
        w[i].id = nn ? i : i - 1;
        w[i].nthreads = threads;
        w[i].blocks = blocks;
        w[i].queues = queues;
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }

    double t0 = bench_now();
    if (nn) {
        bench_run_threads(threads, member_nn, w, sizeof *w);
    } else {
        pthread_t prod;
        pthread_create(&prod, NULL, producer_1n, &w[0]);
        bench_run_threads(threads, consumer_1n, &w[1], sizeof *w);
        pthread_join(prod, NULL);
    }
    double elapsed = bench_now() - t0;

    double total = (double)blocks * (nn ? threads : 1);
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f blocks=%.0f mode=%s threads=%d peak_rss_kb=%ld\n",
           total / elapsed, elapsed, total, mode, threads, bench_peak_rss_kb());
    free(w);
    free(queues);
    return 0;
}
