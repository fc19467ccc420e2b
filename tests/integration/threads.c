/* Integration suite "threads": multi-threaded malloc/realloc/free stress with
 * content checks, blocks freed and resized by other threads (also after their
 * allocating thread exited), and fork() from a multi-threaded process. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

/* A block whose contents are it_fill(p, n, id): any thread can check it. */
typedef struct {
    unsigned char *p;
    size_t n;
    uint64_t id;
} blk_t;

/* Threads must not call CUnit asserts (CUnit is not thread-safe): they count
 * errors and keep the first message; the main thread asserts on them. */
typedef struct {
    unsigned long errors;
    char msg[256];
} errlog_t;

static void note(errlog_t *e, const char *what, const blk_t *b, ptrdiff_t off)
{
    if (e->errors++ == 0)
        snprintf(e->msg, sizeof e->msg, "%s: block %p size %zu id %llx bad at byte %td", what, (void *)b->p, b->n,
                 (unsigned long long)b->id, off);
}

static int blk_check(errlog_t *e, const char *what, const blk_t *b, size_t n)
{
    ptrdiff_t off = it_check(b->p, n, b->id);
    if (off >= 0)
        note(e, what, b, off);
    return off < 0;
}

/* ---- random stress, 4 threads, with a shared exchange of live blocks ---- */

enum { NTHREADS = 4, SLOTS = 256, OPS = 12000, XCHG = 64 };
#define STRESS_MAX (256 * IT_KIB)

static blk_t xchg[XCHG];
static pthread_mutex_t xchg_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int idx;
    errlog_t log;
    unsigned long crossed; /* blocks this thread got from another one */
    uint64_t next_id;
    blk_t s[SLOTS];
} worker_t;

static uint64_t new_id(worker_t *w)
{
    return ((uint64_t)(w->idx + 1) << 48) | ++w->next_id;
}

static void *stress_worker(void *arg)
{
    worker_t *w = arg;
    it_rng_t r = {0x5EED0000u + (uint64_t)w->idx};
    for (int op = 0; op < OPS; op++) {
        blk_t *b = &w->s[it_range(&r, 0, SLOTS - 1)];
        unsigned pick = (unsigned)it_range(&r, 0, 99);
        if (!b->p) {
            size_t n = it_logsize(&r, STRESS_MAX);
            b->id = new_id(w);
            b->n = n;
            if (pick < 70) {
                b->p = malloc(n);
            } else if (pick < 85) {
                b->p = calloc(1, n);
                ptrdiff_t off = b->p ? it_check_byte(b->p, n, 0) : -1;
                if (off >= 0)
                    note(&w->log, "calloc not zeroed", b, off);
            } else if (pick < 95) {
                void *p = NULL;
                size_t a = (size_t)16 << it_range(&r, 0, 8);
                b->p = posix_memalign(&p, a, n) == 0 ? p : NULL;
                if (b->p && !it_is_aligned(b->p, a))
                    note(&w->log, "posix_memalign misaligned", b, 0);
            } else {
                b->p = realloc(NULL, n);
            }
            if (!b->p) {
                note(&w->log, "allocation failed", b, -1);
                continue;
            }
            it_fill(b->p, n, b->id);
            continue;
        }
        blk_check(&w->log, "stress check", b, b->n);
        if (pick < 45) {
            free(b->p);
            b->p = NULL;
        } else if (pick < 80) {
            size_t n = it_logsize(&r, STRESS_MAX);
            unsigned char *q = realloc(b->p, n);
            if (!q) {
                note(&w->log, "realloc failed", b, -1);
                continue;
            }
            b->p = q;
            blk_check(&w->log, "realloc kept prefix", b, n < b->n ? n : b->n);
            b->n = n;
            b->id = new_id(w);
            it_fill(q, n, b->id);
        } else {
            /* swap with the exchange: the block we take came from (and was
             * maybe resized by) another thread; we will free or resize it */
            size_t x = it_range(&r, 0, XCHG - 1);
            pthread_mutex_lock(&xchg_lock);
            blk_t t = xchg[x];
            xchg[x] = *b;
            pthread_mutex_unlock(&xchg_lock);
            *b = t;
            if (b->p && (b->id >> 48) != (uint64_t)(w->idx + 1))
                w->crossed++;
        }
    }
    for (int k = 0; k < SLOTS; k++)
        if (w->s[k].p) {
            blk_check(&w->log, "final check", &w->s[k], w->s[k].n);
            free(w->s[k].p);
        }
    return NULL;
}

static void test_stress_4_threads(void)
{
    static worker_t w[NTHREADS];
    pthread_t th[NTHREADS];
    memset(w, 0, sizeof w);
    memset(xchg, 0, sizeof xchg);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].idx = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
    }
    unsigned long crossed = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        IT_ASSERT(w[i].log.errors == 0, "thread %d: %lu errors, first: %s", i, w[i].log.errors, w[i].log.msg);
        crossed += w[i].crossed;
    }
    errlog_t log = {0, ""};
    for (int x = 0; x < XCHG; x++)
        if (xchg[x].p) {
            blk_check(&log, "exchange leftover", &xchg[x], xchg[x].n);
            free(xchg[x].p); /* freed by main, allocated by a worker that has exited */
            crossed++;
        }
    IT_ASSERT(log.errors == 0, "%lu errors, first: %s", log.errors, log.msg);
    IT_ASSERT(crossed > 100, "only %lu blocks changed threads: the test did not do its job", crossed);
}

/* ---- producer/consumer: every block is freed by another thread ---- */

enum { RING = 256, PER_PRODUCER = 15000 };
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    blk_t q[RING];
    unsigned head, tail;
} ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0};

static void ring_push(blk_t b)
{
    pthread_mutex_lock(&ring.lock);
    while (ring.tail - ring.head == RING)
        pthread_cond_wait(&ring.not_full, &ring.lock);
    ring.q[ring.tail++ % RING] = b;
    pthread_cond_signal(&ring.not_empty);
    pthread_mutex_unlock(&ring.lock);
}

static blk_t ring_pop(void)
{
    pthread_mutex_lock(&ring.lock);
    while (ring.tail == ring.head)
        pthread_cond_wait(&ring.not_empty, &ring.lock);
    blk_t b = ring.q[ring.head++ % RING];
    pthread_cond_signal(&ring.not_full);
    pthread_mutex_unlock(&ring.lock);
    return b;
}

typedef struct {
    int idx;
    errlog_t log;
    unsigned long done;
} pc_t;

static void *producer(void *arg)
{
    pc_t *c = arg;
    it_rng_t r = {0xFEED00u + (uint64_t)c->idx};
    for (int i = 0; i < PER_PRODUCER; i++) {
        blk_t b = {NULL, it_logsize(&r, 64 * IT_KIB), ((uint64_t)(c->idx + 1) << 40) | (uint64_t)i};
        b.p = malloc(b.n);
        if (!b.p) {
            note(&c->log, "producer malloc failed", &b, -1);
            continue;
        }
        it_fill(b.p, b.n, b.id);
        ring_push(b);
        c->done++;
    }
    ring_push((blk_t){NULL, 0, 0}); /* one end marker per producer */
    return NULL;
}

static void *consumer(void *arg)
{
    pc_t *c = arg;
    it_rng_t r = {0xC0FFEEu + (uint64_t)c->idx};
    for (;;) {
        blk_t b = ring_pop();
        if (!b.p)
            break;
        blk_check(&c->log, "consumer check", &b, b.n);
        if (it_range(&r, 0, 3) == 0) { /* resize a foreign block before freeing it */
            size_t n = it_logsize(&r, 128 * IT_KIB);
            unsigned char *q = realloc(b.p, n);
            if (!q) {
                note(&c->log, "consumer realloc failed", &b, -1);
                free(b.p);
                continue;
            }
            b.p = q;
            blk_check(&c->log, "consumer realloc kept prefix", &b, n < b.n ? n : b.n);
        }
        free(b.p);
        c->done++;
    }
    return NULL;
}

static void test_cross_thread_free(void)
{
    static pc_t pc[4];
    pthread_t th[4];
    memset(pc, 0, sizeof pc);
    for (int i = 0; i < 4; i++) {
        pc[i].idx = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, i < 2 ? producer : consumer, &pc[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        IT_ASSERT(pc[i].log.errors == 0, "%s %d: %lu errors, first: %s", i < 2 ? "producer" : "consumer", i,
                  pc[i].log.errors, pc[i].log.msg);
    }
    IT_ASSERT(pc[0].done + pc[1].done == 2 * PER_PRODUCER, "produced %lu", pc[0].done + pc[1].done);
    IT_ASSERT(pc[2].done + pc[3].done == 2 * PER_PRODUCER, "consumed %lu", pc[2].done + pc[3].done);
}

/* ---- blocks outliving their thread ---- */

enum { EXIT_BLOCKS = 1500 };
typedef struct {
    int idx;
    errlog_t log;
    blk_t b[EXIT_BLOCKS];
} exit_job_t;

static void *exiting_worker(void *arg)
{
    exit_job_t *j = arg;
    it_rng_t r = {0xE617u + (uint64_t)j->idx};
    for (int i = 0; i < EXIT_BLOCKS; i++) {
        blk_t *b = &j->b[i];
        b->n = i % 100 == 0 ? it_range(&r, 100 * IT_KIB, 300 * IT_KIB) : it_logsize(&r, 4096);
        b->id = ((uint64_t)j->idx << 32) | (uint64_t)i;
        b->p = malloc(b->n);
        if (!b->p) {
            note(&j->log, "malloc failed", b, -1);
            continue;
        }
        it_fill(b->p, b->n, b->id);
    }
    /* free every other block: the thread's cache is full when it exits */
    for (int i = 0; i < EXIT_BLOCKS; i += 2)
        if (j->b[i].p) {
            blk_check(&j->log, "worker check", &j->b[i], j->b[i].n);
            free(j->b[i].p);
            j->b[i].p = NULL;
        }
    return NULL;
}

static void test_blocks_outlive_thread(void)
{
    static exit_job_t job;
    for (int t = 0; t < 16; t++) {
        pthread_t th;
        memset(&job, 0, sizeof job);
        job.idx = t;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, exiting_worker, &job), 0);
        pthread_join(th, NULL);
        /* the thread is gone; its blocks stay valid and are freed here */
        for (int i = 1; i < EXIT_BLOCKS; i += 2)
            if (job.b[i].p) {
                blk_check(&job.log, "after thread exit", &job.b[i], job.b[i].n);
                free(job.b[i].p);
            }
        IT_ASSERT(job.log.errors == 0, "thread %d: %lu errors, first: %s", t, job.log.errors, job.log.msg);
    }
}

/* ---- fork() while other threads allocate ---- */

static atomic_int churn_stop;

static void *churn(void *arg)
{
    it_rng_t r = {(uint64_t)(uintptr_t)arg};
    void *keep[32] = {0};
    while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
        size_t k = it_range(&r, 0, 31);
        free(keep[k]);
        size_t n = it_logsize(&r, 512 * IT_KIB);
        keep[k] = malloc(n);
        if (keep[k])
            memset(keep[k], 0x77, n < 16 ? n : 16);
    }
    for (int k = 0; k < 32; k++)
        free(keep[k]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        void *p = malloc((size_t)(i * 37 % 5000) + 1);
        if (!p)
            return (void *)1;
        free(p);
    }
    return NULL;
}

/* The child of a multi-threaded process: allocator locks must not be left
 * held by threads that do not exist in it. Exit code says what failed. */
static int forked_child(void *arg)
{
    (void)arg;
    blk_t b[400];
    it_rng_t r = {99};
    for (int i = 0; i < 400; i++) {
        b[i].n = it_logsize(&r, 300 * IT_KIB);
        b[i].id = (uint64_t)i;
        b[i].p = malloc(b[i].n);
        if (!b[i].p)
            return 2;
        it_fill(b[i].p, b[i].n, b[i].id);
    }
    for (int i = 0; i < 400; i++) {
        if (it_check(b[i].p, b[i].n, b[i].id) >= 0)
            return 3;
        free(b[i].p);
    }
    pthread_t th;
    void *res = (void *)1;
    if (pthread_create(&th, NULL, child_thread, NULL) != 0)
        return 4;
    pthread_join(th, &res);
    return res == NULL ? 0 : 5;
}

static void test_fork_while_threads_allocate(void)
{
    pthread_t th[3];
    atomic_store(&churn_stop, 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
    int bad = 0;
    char why[64];
    for (int i = 0; i < 40 && !bad; i++) {
        it_child_t c;
        CU_ASSERT_EQUAL_FATAL(it_run_child(forked_child, NULL, 0, 20, &c), 0);
        bad = !(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
        IT_ASSERT(!bad, "fork %d: child ended with %s (SIGALRM = deadlock, exit 2-5 = failed allocation)", i,
                  it_status_str(c.status, why, sizeof why));
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
}

/* ARCHITECTURE.md "Fork racing stdio": one thread in fflush(NULL) (stdio list
 * lock held, waiting for a FILE lock), one holding that FILE lock while it
 * mallocs, one forking. An allocator that takes its locks before glibc's
 * list lock deadlocks; the watchdog turns that into SIGALRM. All of it runs
 * in a child so a deadlock cannot hang the test binary. */
static FILE *race_file;
static atomic_int race_stop;

static void *race_flusher(void *arg)
{
    (void)arg;
    while (!atomic_load(&race_stop))
        fflush(NULL);
    return NULL;
}

static void *race_locker(void *arg)
{
    it_rng_t r = {(uint64_t)(uintptr_t)arg};
    while (!atomic_load(&race_stop)) {
        flockfile(race_file);
        fputs("x", race_file);
        /* sizes that miss the thread cache, so malloc takes arena locks */
        void *p = malloc(it_range(&r, 32 * IT_KIB, 600 * IT_KIB));
        if (p)
            memset(p, 1, 64);
        free(p);
        funlockfile(race_file);
    }
    return NULL;
}

static int stdio_race_child(void *arg)
{
    (void)arg;
    race_file = fopen("/dev/null", "w");
    if (!race_file)
        return 2;
    pthread_t th[3];
    atomic_store(&race_stop, 0);
    if (pthread_create(&th[0], NULL, race_flusher, NULL) || pthread_create(&th[1], NULL, race_locker, (void *)1) ||
        pthread_create(&th[2], NULL, churn, (void *)7))
        return 3;
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = 4;
            break;
        }
        if (pid == 0) {
            alarm(10); /* a grandchild stuck on an inherited lock dies */
            void *p = malloc(1000), *q = malloc(300 * 1024);
            int ok = p && q;
            free(p);
            free(q);
            _exit(ok ? 0 : 1);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = 5;
    }
    atomic_store(&race_stop, 1);
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    return rc;
}

static void test_fork_racing_stdio(void)
{
    it_child_t c;
    char why[64];
    atomic_store(&churn_stop, 0);
    CU_ASSERT_EQUAL_FATAL(it_run_child(stdio_race_child, NULL, 0, 60, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
              "child ended with %s (SIGALRM = deadlock, exit 5 = a grandchild failed)",
              it_status_str(c.status, why, sizeof why));
}

TA_SUITE(threads)
{
    TA_ADD(suite, test_stress_4_threads);
    TA_ADD(suite, test_cross_thread_free);
    TA_ADD(suite, test_blocks_outlive_thread);
    TA_ADD(suite, test_fork_while_threads_allocate);
    TA_ADD(suite, test_fork_racing_stdio);
}
