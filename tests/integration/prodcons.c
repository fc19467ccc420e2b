/* Integration suite "prodcons": producers allocate, consumers free, so nearly
 * every free is a cross-thread one. Millions of blocks pass through a bounded
 * queue while the main thread samples the resident size: it must stay within
 * a fixed bound of the start, which holds only if the remote-free lists are
 * drained back into their arenas rather than growing. The allocs - frees
 * balance must come back to where it started. */
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

enum { BATCH = 64, QCAP = 64, MAXT = 8 };
#define MIN_BLOCK 16
#define MAX_BLOCK (4 * IT_KIB)
/* Resident growth allowed over the start. Everything legitimately in flight
 * (the queue: QCAP * BATCH blocks of <= 4 KiB = 16 MiB at most, thread caches
 * of 8 threads, partly used slabs) stays well below; a remote-free list that
 * is never drained grows by the whole traffic (gigabytes). */
#define RSS_SLACK (64 * IT_MIB)

/* A batch of blocks, malloc()ed by the producer and freed by the consumer
 * (so the batches themselves cross threads too). */
typedef struct {
    unsigned n;
    it_blk_t b[BATCH];
} batch_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    batch_t *q[QCAP];
    unsigned head, tail;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};

static void queue_push(batch_t *b)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.tail - queue.head == QCAP)
        pthread_cond_wait(&queue.not_full, &queue.lock);
    queue.q[queue.tail++ % QCAP] = b;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

static batch_t *queue_pop(void)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.tail == queue.head)
        pthread_cond_wait(&queue.not_empty, &queue.lock);
    batch_t *b = queue.q[queue.head++ % QCAP];
    pthread_cond_signal(&queue.not_full);
    pthread_mutex_unlock(&queue.lock);
    return b;
}

/* Blocks carry the pattern over their first 64 bytes and their last 8 (the
 * whole block for millions of them would only measure memset). */
static void mark(it_blk_t *b)
{
    size_t head = b->n < 64 ? b->n : 64;
    it_fill(b->p, head, b->id);
    if (b->n >= 72)
        it_fill(b->p + b->n - 8, 8, ~b->id);
}

static int marked(it_errlog_t *log, const char *what, const it_blk_t *b)
{
    size_t head = b->n < 64 ? b->n : 64;
    ptrdiff_t off = it_check(b->p, head, b->id);
    if (off < 0 && b->n >= 72 && (off = it_check(b->p + b->n - 8, 8, ~b->id)) >= 0)
        off += (ptrdiff_t)(b->n - 8);
    if (off >= 0)
        it_note(log, "%s: block %p size %zu id %llx bad at byte %td", what, (void *)b->p, b->n,
                (unsigned long long)b->id, off);
    return off < 0;
}

typedef struct {
    int idx;
    unsigned long quota; /* producer: blocks to make */
    it_errlog_t log;
    unsigned long done;
} role_t;

static atomic_ulong consumed;

static size_t block_size(it_rng_t *r)
{
    size_t n = it_logsize(r, MAX_BLOCK);
    return n < MIN_BLOCK ? MIN_BLOCK + (n & 15) : n;
}

static void *producer(void *arg)
{
    role_t *c = arg;
    it_rng_t r = {0x9D0D0000u + (uint64_t)c->idx};
    batch_t *bt = NULL;
    for (unsigned long i = 0; i < c->quota; i++) {
        if (!bt) {
            bt = malloc(sizeof *bt);
            if (!bt) {
                it_note(&c->log, "batch malloc failed");
                return NULL;
            }
            bt->n = 0;
        }
        it_blk_t *b = &bt->b[bt->n];
        b->n = block_size(&r);
        b->id = ((uint64_t)(c->idx + 1) << 40) | i;
        b->p = malloc(b->n);
        if (!b->p) {
            it_note(&c->log, "malloc(%zu) failed", b->n);
            continue;
        }
        mark(b);
        c->done++;
        if (++bt->n == BATCH) {
            queue_push(bt);
            bt = NULL;
        }
    }
    if (bt && bt->n)
        queue_push(bt);
    else
        free(bt);
    return NULL;
}

static void *consumer(void *arg)
{
    role_t *c = arg;
    for (;;) {
        batch_t *bt = queue_pop();
        if (!bt)
            break; /* end marker */
        for (unsigned i = 0; i < bt->n; i++) {
            marked(&c->log, "consumer", &bt->b[i]);
            free(bt->b[i].p);
        }
        c->done += bt->n;
        atomic_fetch_add_explicit(&consumed, bt->n, memory_order_relaxed);
        free(bt);
    }
    return NULL;
}

typedef struct {
    size_t rss0, peak;
    unsigned long samples;
} rss_watch_t;

static void rss_sample(rss_watch_t *w)
{
    size_t rss = it_rss_bytes();
    if (rss > w->peak)
        w->peak = rss;
    w->samples++;
}

/* nprod producers share total blocks; ncons consumers free them. */
static void run_prodcons(int nprod, int ncons, unsigned long total)
{
    static role_t roles[MAXT];
    pthread_t th[MAXT];
    memset(roles, 0, sizeof roles);
    atomic_store(&consumed, 0);
    it_threads_warm(MAXT);
    ta_stats_t s0 = it_stats();
    rss_watch_t rw = {it_rss_bytes(), 0, 0};
    rw.peak = rw.rss0;

    for (int i = 0; i < ncons; i++) {
        roles[nprod + i].idx = nprod + i;
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[nprod + i], consumer, &roles[nprod + i], 0), 0);
    }
    for (int i = 0; i < nprod; i++) {
        roles[i].idx = i;
        roles[i].quota = total / (unsigned long)nprod + (i == 0 ? total % (unsigned long)nprod : 0);
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], producer, &roles[i], 0), 0);
    }
    /* Sample the resident size until every block is consumed. */
    unsigned long last = 0;
    uint64_t stalled_since = it_now_ms();
    while (atomic_load(&consumed) < total) {
        rss_sample(&rw);
        it_sleep_ms(2);
        unsigned long now = atomic_load(&consumed);
        if (now != last) {
            last = now;
            stalled_since = it_now_ms();
        } else if (it_now_ms() - stalled_since > 30000) {
            break; /* no progress for 30 s: a deadlock, reported below */
        }
    }
    IT_ASSERT(atomic_load(&consumed) == total, "no progress: %lu of %lu blocks consumed", atomic_load(&consumed),
              total);
    CU_ASSERT_FATAL(atomic_load(&consumed) == total);
    for (int i = 0; i < nprod; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < ncons; i++)
        queue_push(NULL);
    for (int i = 0; i < ncons; i++)
        pthread_join(th[nprod + i], NULL);
    rss_sample(&rw);

    unsigned long produced = 0, eaten = 0;
    for (int i = 0; i < nprod + ncons; i++) {
        IT_ASSERT(roles[i].log.errors == 0, "%s %d: %lu errors, first: %s", i < nprod ? "producer" : "consumer", i,
                  roles[i].log.errors, roles[i].log.msg);
        if (i < nprod)
            produced += roles[i].done;
        else
            eaten += roles[i].done;
    }
    IT_ASSERT(produced == total && eaten == total, "produced %lu, consumed %lu of %lu", produced, eaten, total);
    IT_ASSERT(rw.peak <= rw.rss0 + RSS_SLACK, "%d -> %d: resident size rose from %zu KiB to a peak of %zu KiB "
              "(bound +%zu KiB, %lu samples): cross-thread frees are not coming back",
              nprod, ncons, rw.rss0 / IT_KIB, rw.peak / IT_KIB, RSS_SLACK / IT_KIB, rw.samples);
    IT_ASSERT(rw.samples >= 10, "only %lu RSS samples", rw.samples);

    ta_stats_t s1 = it_stats();
    /* The test holds no block: every one made was freed. */
    IT_ASSERT(s1.allocs - s0.allocs == s1.frees - s0.frees,
              "allocs +%llu, frees +%llu: %lld blocks live, expected 0",
              (unsigned long long)(s1.allocs - s0.allocs), (unsigned long long)(s1.frees - s0.frees),
              (long long)((s1.allocs - s0.allocs) - (s1.frees - s0.frees)));
    IT_ASSERT(s1.allocs - s0.allocs >= total, "allocs +%llu for %lu blocks", (unsigned long long)(s1.allocs - s0.allocs),
              total);
    IT_ASSERT(s1.allocated_bytes - s0.allocated_bytes == s1.freed_bytes - s0.freed_bytes,
              "allocated_bytes +%llu, freed_bytes +%llu", (unsigned long long)(s1.allocated_bytes - s0.allocated_bytes),
              (unsigned long long)(s1.freed_bytes - s0.freed_bytes));
    IT_ASSERT(s1.threads == s0.threads, "threads with a cache: %llu before, %llu after",
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
}

static void test_1_producer_7_consumers(void)
{
    run_prodcons(1, 7, 1200000);
}

static void test_4_producers_4_consumers(void)
{
    run_prodcons(4, 4, 1600000);
}

/* Bursts: the producer allocates a burst and then sits idle while three
 * consumers free all of it. The frees go to the producer's arena without the
 * producer touching it; the next burst must reuse that memory. Resident size
 * after the last burst may not exceed that after the second by much: a burst
 * that found nothing reusable costs its full size (~40 MiB) again. */
enum { BURSTS = 10, BURST = 60000, BURST_CONS = 3 };
static it_blk_t burst[BURST];
static pthread_barrier_t burst_go, burst_done;
static atomic_int burst_stop;

typedef struct {
    int idx;
    it_errlog_t log;
} bcons_t;

static void *burst_consumer(void *arg)
{
    bcons_t *c = arg;
    for (;;) {
        pthread_barrier_wait(&burst_go);
        if (atomic_load(&burst_stop))
            break;
        for (unsigned i = (unsigned)c->idx; i < BURST; i += BURST_CONS) {
            marked(&c->log, "burst consumer", &burst[i]);
            free(burst[i].p);
        }
        pthread_barrier_wait(&burst_done);
    }
    return NULL;
}

typedef struct {
    it_errlog_t log;
    size_t rss_after[BURSTS];
    size_t bytes;
} bprod_t;

static void *burst_producer(void *arg)
{
    bprod_t *p = arg;
    it_rng_t r = {0xB0057u};
    for (int k = 0; k < BURSTS; k++) {
        for (unsigned i = 0; i < BURST; i++) {
            it_blk_t *b = &burst[i];
            b->n = block_size(&r);
            b->id = ((uint64_t)k << 32) | i;
            b->p = malloc(b->n);
            if (!b->p) {
                it_note(&p->log, "malloc(%zu) failed", b->n);
                b->n = 0;
                b->p = malloc(0);
            }
            p->bytes += b->n;
            mark(b);
        }
        pthread_barrier_wait(&burst_go);
        pthread_barrier_wait(&burst_done);
        p->rss_after[k] = it_rss_bytes();
    }
    atomic_store(&burst_stop, 1);
    pthread_barrier_wait(&burst_go);
    return NULL;
}

static void test_bursts_freed_remotely_are_reused(void)
{
    static bcons_t cons[BURST_CONS];
    static bprod_t prod;
    pthread_t th[BURST_CONS + 1];
    memset(cons, 0, sizeof cons);
    memset(&prod, 0, sizeof prod);
    atomic_store(&burst_stop, 0);
    it_threads_warm(BURST_CONS + 1);
    ta_stats_t s0 = it_stats();
    CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&burst_go, NULL, BURST_CONS + 1), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_barrier_init(&burst_done, NULL, BURST_CONS + 1), 0);
    for (int i = 0; i < BURST_CONS; i++) {
        cons[i].idx = i;
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], burst_consumer, &cons[i], 0), 0);
    }
    CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[BURST_CONS], burst_producer, &prod, 0), 0);
    for (int i = 0; i <= BURST_CONS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&burst_go);
    pthread_barrier_destroy(&burst_done);
    IT_ASSERT(prod.log.errors == 0, "producer: %lu errors, first: %s", prod.log.errors, prod.log.msg);
    for (int i = 0; i < BURST_CONS; i++)
        IT_ASSERT(cons[i].log.errors == 0, "consumer %d: %lu errors, first: %s", i, cons[i].log.errors,
                  cons[i].log.msg);
    size_t per_burst = prod.bytes / BURSTS;
    IT_ASSERT(per_burst > 20 * IT_MIB, "bursts of only %zu KiB", per_burst / IT_KIB);
    /* Flat: the last burst did not need more memory than the second. */
    IT_ASSERT(prod.rss_after[BURSTS - 1] <= prod.rss_after[1] + per_burst / 2,
              "resident size after burst 2: %zu KiB, after burst %d: %zu KiB (a burst is %zu KiB): memory freed "
              "by other threads is not reused by its arena",
              prod.rss_after[1] / IT_KIB, BURSTS, prod.rss_after[BURSTS - 1] / IT_KIB, per_burst / IT_KIB);
    ta_stats_t s1 = it_stats();
    IT_ASSERT(s1.allocs - s0.allocs == s1.frees - s0.frees, "allocs +%llu, frees +%llu",
              (unsigned long long)(s1.allocs - s0.allocs), (unsigned long long)(s1.frees - s0.frees));
}

TA_SUITE(prodcons)
{
    TA_ADD(suite, test_1_producer_7_consumers);
    TA_ADD(suite, test_4_producers_4_consumers);
    TA_ADD(suite, test_bursts_freed_remotely_are_reused);
}
