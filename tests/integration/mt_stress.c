/* Integration suite "mt_stress": 8 threads of random malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign and free over every
 * size class (1 B .. 32 KiB mostly, some 32 KiB .. 1 MiB), every block
 * checked before each realloc and free, usable tails included; blocks that
 * outlive their thread (freed by main, or by the next generation of threads);
 * and the allocs - frees balance over all of it. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tarena.h>

enum { NT = 8, SLOTS = 320, OPS = 24000, OUTBOX = 400, XCHG = 128, GENERATIONS = 3 };

/* A block of the stress: the first n bytes hold the pattern of id; for small
 * blocks the rest of the usable size [n, u) holds tail_byte(id). */
typedef struct {
    it_blk_t b;
    size_t u; /* usable size when the tail was filled, 0 when not */
} sblk_t;

static unsigned char tail_byte(uint64_t id)
{
    return (unsigned char)(id * 131u) | 1u;
}

typedef struct {
    int idx, gen;
    it_errlog_t log;
    uint64_t next_id;
    unsigned long allocs, frees, reallocs, crossed, big;
    sblk_t s[SLOTS];
    sblk_t out[OUTBOX]; /* handed on: to main, or to the next generation */
    unsigned nout;
    sblk_t *inherit; /* the previous generation's outbox: this thread frees it */
    unsigned ninherit;
} worker_t;

static sblk_t xchg[XCHG];
static pthread_mutex_t xchg_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t pick_size(it_rng_t *r)
{
    unsigned x = (unsigned)it_range(r, 0, 999);
    if (x == 0)
        return 0;
    if (x < 950)
        return it_logsize(r, 32 * IT_KIB);
    if (x < 993)
        return it_range(r, 32 * IT_KIB + 1, 256 * IT_KIB);
    return it_range(r, 256 * IT_KIB + 1, IT_MIB);
}

static uint64_t new_id(worker_t *w)
{
    return ((uint64_t)(w->gen * NT + w->idx + 1) << 40) | ++w->next_id;
}

/* Fills a fresh block: pattern over n, tail byte over the rest of the usable
 * size for small blocks (so a block overlapping another one's tail, or the
 * allocator writing into a live block's slack, is seen). */
static void sblk_fill(worker_t *w, sblk_t *s)
{
    size_t u = malloc_usable_size(s->b.p);
    if (u < s->b.n)
        it_note(&w->log, "usable size %zu < requested %zu (block %p)", u, s->b.n, (void *)s->b.p);
    it_fill(s->b.p, s->b.n, s->b.id);
    s->u = 0;
    if (u <= 32 * IT_KIB && u > s->b.n) {
        memset(s->b.p + s->b.n, tail_byte(s->b.id), u - s->b.n);
        s->u = u;
    }
}

static int sblk_check(it_errlog_t *log, const char *what, const sblk_t *s)
{
    if (!it_blk_check(log, what, &s->b, s->b.n))
        return 0;
    if (s->u) {
        size_t u = malloc_usable_size(s->b.p);
        if (u != s->u) {
            it_note(log, "%s: usable size of %p changed from %zu to %zu", what, (void *)s->b.p, s->u, u);
            return 0;
        }
        ptrdiff_t off = it_check_byte(s->b.p + s->b.n, s->u - s->b.n, tail_byte(s->b.id));
        if (off >= 0) {
            it_note(log, "%s: tail of %p (size %zu, usable %zu) bad at byte %zu", what, (void *)s->b.p, s->b.n,
                    s->u, s->b.n + (size_t)off);
            return 0;
        }
    }
    return 1;
}

static void sblk_alloc(worker_t *w, it_rng_t *r, sblk_t *s)
{
    size_t n = pick_size(r);
    unsigned pick = (unsigned)it_range(r, 0, 99);
    size_t align = 0;
    void *p = NULL;
    s->b.n = n;
    s->b.id = new_id(w);
    if (pick < 45) {
        p = malloc(it_opaque(n));
    } else if (pick < 65) {
        p = calloc(1, it_opaque(n));
        ptrdiff_t off = p ? it_check_byte(p, n, 0) : -1;
        if (off >= 0)
            it_note(&w->log, "calloc(%zu) = %p not zeroed at byte %td", n, p, off);
    } else if (pick < 75) {
        align = (size_t)16 << it_range(r, 0, it_range(r, 0, 1) ? 8 : 12); /* 16 B .. 64 KiB */
        int rc = posix_memalign(&p, align, it_opaque(n));
        if (rc != 0)
            p = NULL;
    } else if (pick < 82) {
        align = (size_t)8 << it_range(r, 0, 9);
        p = aligned_alloc(align, it_opaque(n));
    } else if (pick < 88) {
        align = (size_t)8 << it_range(r, 0, 9);
        p = memalign(align, it_opaque(n));
    } else if (pick < 94) {
        p = realloc(NULL, it_opaque(n));
    } else {
        /* reallocarray(NULL, k, n / k) */
        size_t k = it_range(r, 1, 8);
        s->b.n = n = n / k * k;
        p = reallocarray(NULL, k, it_opaque(n / k));
    }
    if (!p) {
        it_note(&w->log, "allocation of %zu (align %zu, kind %u) failed: errno %d", n, align, pick, errno);
        s->b.p = NULL;
        return;
    }
    if (align && !it_is_aligned(p, align))
        it_note(&w->log, "block %p of %zu not aligned to %zu (kind %u)", p, n, align, pick);
    s->b.p = p;
    w->allocs++;
    if (n > 32 * IT_KIB)
        w->big++;
    sblk_fill(w, s);
}

static void sblk_free(worker_t *w, sblk_t *s, const char *what)
{
    sblk_check(&w->log, what, s);
    free(s->b.p);
    s->b.p = NULL;
    w->frees++;
}

static void sblk_realloc(worker_t *w, it_rng_t *r, sblk_t *s)
{
    sblk_check(&w->log, "before realloc", s);
    size_t n = pick_size(r);
    unsigned char *q = realloc(s->b.p, it_opaque(n));
    if (!q && n) {
        it_note(&w->log, "realloc(%p, %zu) failed: errno %d", (void *)s->b.p, n, errno);
        return;
    }
    if (!q) { /* realloc(p, 0) freed it (glibc semantics) */
        s->b.p = NULL;
        w->frees++;
        return;
    }
    sblk_t moved = *s;
    moved.b.p = q;
    it_blk_check(&w->log, "realloc kept the prefix", &moved.b, n < s->b.n ? n : s->b.n);
    s->b.p = q;
    s->b.n = n;
    s->b.id = new_id(w);
    w->reallocs++;
    sblk_fill(w, s);
}

static void *stress_worker(void *arg)
{
    worker_t *w = arg;
    it_rng_t r = {0x57E55000u + (uint64_t)(w->gen * NT + w->idx)};
    unsigned next_inherit = 0;
    for (int op = 0; op < OPS; op++) {
        /* Every 16th operation deals with a block of the previous generation:
         * resized (moved off its dead thread's arena) or freed. */
        if ((op & 15) == 0 && next_inherit < w->ninherit) {
            sblk_t *s = &w->inherit[next_inherit];
            if (!s->b.p) {
                next_inherit++;
            } else if (it_range(&r, 0, 3) == 0) {
                sblk_realloc(w, &r, s);
                w->crossed++;
            } else {
                sblk_free(w, s, "inherited block");
                w->crossed++;
                next_inherit++;
            }
        }
        sblk_t *s = &w->s[it_range(&r, 0, SLOTS - 1)];
        if (!s->b.p) {
            sblk_alloc(w, &r, s);
            continue;
        }
        unsigned pick = (unsigned)it_range(&r, 0, 99);
        if (pick < 40) {
            sblk_free(w, s, "before free");
        } else if (pick < 75) {
            sblk_realloc(w, &r, s);
        } else if (pick < 85) {
            if (w->nout < OUTBOX) {
                sblk_check(&w->log, "handing on", s);
                w->out[w->nout++] = *s;
                s->b.p = NULL;
            }
        } else {
            /* swap with the shared exchange: what we take was allocated (and
             * maybe resized) by another thread; we check, free or resize it */
            sblk_check(&w->log, "into exchange", s);
            size_t x = it_range(&r, 0, XCHG - 1);
            pthread_mutex_lock(&xchg_lock);
            sblk_t t = xchg[x];
            xchg[x] = *s;
            pthread_mutex_unlock(&xchg_lock);
            *s = t;
            if (s->b.p) {
                sblk_check(&w->log, "from exchange", s);
                if ((s->b.id >> 40) != (uint64_t)(w->gen * NT + w->idx + 1))
                    w->crossed++;
            }
        }
    }
    while (next_inherit < w->ninherit) {
        sblk_t *s = &w->inherit[next_inherit++];
        if (s->b.p)
            sblk_free(w, s, "inherited block at exit");
    }
    /* Half of what is left is freed here, half outlives the thread. */
    for (int k = 0; k < SLOTS; k++) {
        sblk_t *s = &w->s[k];
        if (!s->b.p)
            continue;
        if ((k & 1) && w->nout < OUTBOX) {
            sblk_check(&w->log, "handing on at exit", s);
            w->out[w->nout++] = *s;
            s->b.p = NULL;
        } else {
            sblk_free(w, s, "at exit");
        }
    }
    return NULL;
}

static worker_t workers[GENERATIONS][NT];

/* Runs generation g; its inherit lists point to generation g-1's outboxes. */
static void run_generation(int g)
{
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        worker_t *w = &workers[g][i];
        memset(w, 0, sizeof *w);
        w->idx = i;
        w->gen = g;
        if (g > 0) {
            worker_t *prev = &workers[g - 1][(i + 3) % NT]; /* another thread's blocks */
            w->inherit = prev->out;
            w->ninherit = prev->nout;
        }
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], stress_worker, w, 0), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        worker_t *w = &workers[g][i];
        IT_ASSERT(w->log.errors == 0, "generation %d thread %d: %lu errors, first: %s", g, i, w->log.errors,
                  w->log.msg);
    }
}

/* Main frees what the threads left: exchange leftovers and outboxes. */
static unsigned long free_leftovers(worker_t *gen_row, int outboxes)
{
    it_errlog_t log = {0, ""};
    unsigned long n = 0;
    for (int x = 0; x < XCHG; x++)
        if (xchg[x].b.p) {
            sblk_check(&log, "exchange leftover after join", &xchg[x]);
            free(xchg[x].b.p);
            xchg[x].b.p = NULL;
            n++;
        }
    for (int i = 0; outboxes && i < NT; i++)
        for (unsigned k = 0; k < gen_row[i].nout; k++) {
            sblk_t *s = &gen_row[i].out[k];
            if (!s->b.p)
                continue;
            sblk_check(&log, "outlived its thread", s);
            free(s->b.p);
            s->b.p = NULL;
            n++;
        }
    IT_ASSERT(log.errors == 0, "%lu errors, first: %s", log.errors, log.msg);
    return n;
}

static void test_stress_8_threads(void)
{
    it_threads_warm(NT);
    ta_stats_t s0 = it_stats();
    memset(xchg, 0, sizeof xchg);
    run_generation(0);
    unsigned long allocs = 0, reallocs = 0, crossed = 0, big = 0, handed = 0;
    for (int i = 0; i < NT; i++) {
        allocs += workers[0][i].allocs;
        reallocs += workers[0][i].reallocs;
        crossed += workers[0][i].crossed;
        big += workers[0][i].big;
        handed += workers[0][i].nout;
    }
    unsigned long freed_by_main = free_leftovers(workers[0], 1);
    ta_stats_t s1 = it_stats();
    /* the test did its job */
    IT_ASSERT(allocs > NT * OPS / 4 && reallocs > NT * OPS / 10, "allocs %lu reallocs %lu", allocs, reallocs);
    IT_ASSERT(big > 200, "only %lu blocks above 32 KiB", big);
    IT_ASSERT(crossed > 500, "only %lu blocks changed threads", crossed);
    IT_ASSERT(handed > NT * 100 && freed_by_main >= handed, "handed %lu, freed by main %lu", handed, freed_by_main);
    /* every block is back: the balance is where it started */
    IT_ASSERT(s1.allocs - s0.allocs == s1.frees - s0.frees, "allocs +%llu frees +%llu: %lld blocks unaccounted",
              (unsigned long long)(s1.allocs - s0.allocs), (unsigned long long)(s1.frees - s0.frees),
              (long long)((s1.allocs - s0.allocs) - (s1.frees - s0.frees)));
    IT_ASSERT(s1.allocated_bytes - s0.allocated_bytes == s1.freed_bytes - s0.freed_bytes,
              "allocated_bytes +%llu freed_bytes +%llu",
              (unsigned long long)(s1.allocated_bytes - s0.allocated_bytes),
              (unsigned long long)(s1.freed_bytes - s0.freed_bytes));
    IT_ASSERT(s1.allocs - s0.allocs >= allocs, "allocs counter +%llu, the threads made %lu allocations",
              (unsigned long long)(s1.allocs - s0.allocs), allocs);
    IT_ASSERT(s1.threads == s0.threads, "threads with a cache: %llu before, %llu after join",
              (unsigned long long)s0.threads, (unsigned long long)s1.threads);
}

/* Three generations: each frees and resizes blocks the previous one (whose
 * threads have exited, their caches gone) allocated; main frees the last. */
static void test_stress_generations(void)
{
    it_threads_warm(NT);
    ta_stats_t s0 = it_stats();
    memset(xchg, 0, sizeof xchg);
    unsigned long crossed = 0;
    for (int g = 0; g < GENERATIONS; g++) {
        run_generation(g);
        for (int i = 0; i < NT; i++)
            crossed += workers[g][i].crossed;
    }
    /* a generation frees all it inherited */
    for (int g = 0; g + 1 < GENERATIONS; g++)
        for (int i = 0; i < NT; i++)
            for (unsigned k = 0; k < workers[g][i].nout; k++)
                IT_ASSERT(workers[g][i].out[k].b.p == NULL, "gen %d thread %d outbox %u not freed", g, i, k);
    free_leftovers(workers[GENERATIONS - 1], 1);
    ta_stats_t s1 = it_stats();
    IT_ASSERT(crossed > 2000, "only %lu blocks changed threads", crossed);
    IT_ASSERT(s1.allocs - s0.allocs == s1.frees - s0.frees, "allocs +%llu frees +%llu: %lld blocks unaccounted",
              (unsigned long long)(s1.allocs - s0.allocs), (unsigned long long)(s1.frees - s0.frees),
              (long long)((s1.allocs - s0.allocs) - (s1.frees - s0.frees)));
    IT_ASSERT(s1.allocated_bytes - s0.allocated_bytes == s1.freed_bytes - s0.freed_bytes,
              "allocated_bytes +%llu freed_bytes +%llu",
              (unsigned long long)(s1.allocated_bytes - s0.allocated_bytes),
              (unsigned long long)(s1.freed_bytes - s0.freed_bytes));
}

TA_SUITE(mt_stress)
{
    TA_ADD(suite, test_stress_8_threads);
    TA_ADD(suite, test_stress_generations);
}
