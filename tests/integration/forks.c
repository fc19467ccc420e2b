/* Integration suite "forks": fork() from a multi-threaded process while its
 * threads allocate (from main and from a worker; children free blocks they
 * inherited, start threads, fork again), fork racing glibc's stdio (flushes,
 * getline from a pipe, printf that allocates, memstreams, fopen/fclose), and
 * fork from a signal handler that interrupted malloc in a single-threaded
 * process. A child that does not finish in time counts as a deadlock. */
#include "integ.h"
#include "ta_test.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <tarena.h>
#include <time.h>
#include <unistd.h>

/* Child exit codes (0 = fine). */
enum {
    CH_MALLOC = 2,   /* an allocation failed */
    CH_CORRUPT = 3,  /* a block's contents were wrong */
    CH_INHERIT = 4,  /* an inherited block's contents were wrong */
    CH_THREAD = 5,   /* pthread_create failed, or the thread failed */
    CH_GRAND = 6,    /* the grandchild failed or hung */
    CH_FORK = 7,     /* fork() failed */
    CH_STDIO = 8     /* a stdio call failed */
};

static const char *child_code_str(int status)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return "killed by its watchdog: deadlock";
    if (!WIFEXITED(status))
        return "killed";
    switch (WEXITSTATUS(status)) {
    case 0: return "ok";
    case CH_MALLOC: return "an allocation failed";
    case CH_CORRUPT: return "a fresh block was corrupted";
    case CH_INHERIT: return "an inherited block was corrupted";
    case CH_THREAD: return "its thread failed";
    case CH_GRAND: return "its grandchild failed or hung";
    case CH_FORK: return "fork failed";
    case CH_STDIO: return "stdio failed";
    default: return "unknown exit code";
    }
}

/* ---- 200 forks while threads allocate ---- */

enum { NW = 6, INHERIT = 48, FORKS_MAIN = 150, FORKS_WORKER = 50, WSLOTS = 64 };
/* Patterns cover at most the first 4 KiB of a block: enough to see blocks
 * overlap or inherited contents change, without 200 children each writing
 * megabytes. */
#define HEAD(n) ((n) < 4096 ? (n) : (size_t)4096)

static it_blk_t inherited[NW][INHERIT]; /* made by the workers before any fork, never touched after */
static atomic_int workers_ready, workers_stop;

typedef struct {
    int idx;
    it_errlog_t log;
    unsigned long ops;
    /* worker 0 also forks: results for main */
    unsigned forks_done, forks_bad;
    int first_bad_status, first_bad_seq, first_bad_timeout;
} fw_t;

static int child_body(int depth, unsigned seq);

/* Churn with content checks; worker 0 also forks FORKS_WORKER times. */
static void *fork_worker(void *arg)
{
    fw_t *w = arg;
    it_rng_t r = {0xF0F0000u + (uint64_t)w->idx};
    for (int k = 0; k < INHERIT; k++) {
        it_blk_t *b = &inherited[w->idx][k];
        b->n = k % 8 == 7 ? it_range(&r, 40 * IT_KIB, 400 * IT_KIB) : it_logsize(&r, 8 * IT_KIB);
        b->id = ((uint64_t)w->idx << 32) | (uint64_t)k;
        b->p = malloc(b->n);
        if (b->p)
            it_fill(b->p, b->n, b->id);
        else
            it_note(&w->log, "inherit malloc(%zu) failed", b->n);
    }
    atomic_fetch_add(&workers_ready, 1);
    it_blk_t s[WSLOTS];
    memset(s, 0, sizeof s);
    unsigned next_fork = 0;
    /* worker 0 keeps going until its forks are done (or one failed: a
     * deadlocked child costs its 10 s watchdog, one is enough) */
    while (!atomic_load_explicit(&workers_stop, memory_order_relaxed) ||
           (w->idx == 0 && next_fork < FORKS_WORKER && !w->forks_bad)) {
        it_blk_t *b = &s[it_range(&r, 0, WSLOTS - 1)];
        if (b->p) {
            it_blk_check(&w->log, "worker block", b, b->n);
            free(b->p);
            b->p = NULL;
        } else {
            b->n = it_range(&r, 0, 31) == 0 ? it_range(&r, 32 * IT_KIB, 600 * IT_KIB) : it_logsize(&r, 16 * IT_KIB);
            b->id = ((uint64_t)(w->idx + 100) << 32) | w->ops;
            b->p = malloc(b->n);
            if (b->p)
                it_fill(b->p, b->n, b->id);
        }
        w->ops++;
        if (w->idx == 0 && next_fork < FORKS_WORKER && !w->forks_bad && w->ops % 200 == 0 &&
            atomic_load(&workers_ready) == NW) { /* every inherited block exists */
            unsigned seq = 1000 + next_fork++;
            pid_t pid = fork();
            if (pid == 0)
                _exit(child_body(0, seq));
            int st = 0, to = 0;
            if (pid < 0) {
                st = CH_FORK << 8;
            } else {
                int rc = it_wait_pid(pid, 15000, &st);
                to = rc == 1;
            }
            w->forks_done++;
            if (to || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                if (w->forks_bad++ == 0) {
                    w->first_bad_status = st;
                    w->first_bad_seq = (int)seq;
                    w->first_bad_timeout = to;
                }
            }
        }
    }
    for (int k = 0; k < WSLOTS; k++)
        if (s[k].p) {
            it_blk_check(&w->log, "worker block at exit", &s[k], s[k].n);
            free(s[k].p);
        }
    return NULL;
}

static void *child_thread(void *arg)
{
    unsigned seq = (unsigned)(uintptr_t)arg;
    it_rng_t r = {seq * 7u + 1};
    /* a thread of the child frees an inherited block as well (indices 40..47
     * are the threads', 0..39 child_body's: no block is freed twice) */
    it_blk_t *ib = &inherited[(seq + 2) % NW][40 + seq % 8];
    if (it_check(ib->p, ib->n, ib->id) >= 0)
        return (void *)(uintptr_t)CH_INHERIT;
    free(ib->p);
    for (int i = 0; i < 300; i++) {
        size_t n = it_range(&r, 0, 15) == 0 ? it_range(&r, 32 * IT_KIB, 300 * IT_KIB) : it_logsize(&r, 8 * IT_KIB);
        unsigned char *p = malloc(n);
        if (!p)
            return (void *)(uintptr_t)CH_MALLOC;
        it_fill(p, HEAD(n), (uint64_t)i);
        if (it_check(p, HEAD(n), (uint64_t)i) >= 0)
            return (void *)(uintptr_t)CH_CORRUPT;
        free(p);
    }
    return NULL;
}

/* What every (grand)child does: allocate and check, free and resize inherited
 * blocks (allocated by the parent's workers before the fork), run a thread
 * that allocates, sometimes fork once more. Returns an exit code. */
static int child_body(int depth, unsigned seq)
{
    alarm(10); /* a child stuck on a lock its parent's threads held dies */
    it_rng_t r = {seq + 77u * (unsigned)depth};
    enum { N = 120 };
    it_blk_t b[N];
    for (int i = 0; i < N; i++) {
        b[i].n = i % 16 == 15 ? it_range(&r, 32 * IT_KIB, 700 * IT_KIB) : it_logsize(&r, 16 * IT_KIB);
        b[i].id = ((uint64_t)seq << 16) | (uint64_t)i;
        b[i].p = i % 5 == 0 ? calloc(1, b[i].n) : malloc(b[i].n);
        if (!b[i].p)
            return CH_MALLOC;
        it_fill(b[i].p, HEAD(b[i].n), b[i].id);
    }
    /* inherited blocks: one per worker freed, one per worker resized */
    for (int w = 0; w < NW; w++) {
        it_blk_t *ib = &inherited[w][(seq + (unsigned)depth) % 20];
        if (it_check(ib->p, ib->n, ib->id) >= 0)
            return CH_INHERIT;
        free(ib->p);
        it_blk_t *rb = &inherited[w][20 + (seq + (unsigned)depth) % 20];
        if (it_check(rb->p, rb->n, rb->id) >= 0)
            return CH_INHERIT;
        size_t nn = rb->n / 2 + 1 + (seq % 3) * 5000;
        unsigned char *q = realloc(rb->p, nn);
        if (!q)
            return CH_MALLOC;
        if (it_check(q, nn < rb->n ? nn : rb->n, rb->id) >= 0)
            return CH_INHERIT;
        free(q);
    }
    for (int i = 0; i < N; i++) {
        if (it_check(b[i].p, HEAD(b[i].n), b[i].id) >= 0)
            return CH_CORRUPT;
        free(b[i].p);
    }
    pthread_t th;
    void *res = (void *)1;
    if (pthread_create(&th, NULL, child_thread, (void *)(uintptr_t)(seq + (unsigned)depth)) != 0)
        return CH_THREAD;
    pthread_join(th, &res);
    if (res != NULL)
        return (int)(uintptr_t)res == CH_INHERIT ? CH_INHERIT : CH_THREAD;
    if (depth == 0 && seq % 8 == 0) {
        /* the child is multi-threaded history now: fork once more */
        pid_t pid = fork();
        if (pid < 0)
            return CH_FORK;
        if (pid == 0)
            _exit(child_body(1, seq));
        int st;
        if (it_wait_pid(pid, 12000, &st) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return CH_GRAND;
    }
    return 0;
}

static void test_200_forks_while_threads_allocate(void)
{
    static fw_t w[NW];
    pthread_t th[NW];
    memset(w, 0, sizeof w);
    atomic_store(&workers_ready, 0);
    atomic_store(&workers_stop, 0);
    for (int i = 0; i < NW; i++) {
        w[i].idx = i;
        CU_ASSERT_EQUAL_FATAL(it_thread_start(&th[i], fork_worker, &w[i], 0), 0);
    }
    while (atomic_load(&workers_ready) < NW)
        it_sleep_ms(1);
    fflush(NULL); /* the children _exit(), but keep CUnit's buffers out of it */
    unsigned bad = 0;
    char why[64];
    for (unsigned i = 0; i < FORKS_MAIN && !bad; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_body(0, i));
        CU_ASSERT_FATAL(pid > 0);
        int st = 0;
        int rc = it_wait_pid(pid, 15000, &st);
        if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad++; /* and stop: each hung child costs its watchdog's 10 s */
            IT_ASSERT(0, "fork %u from main: child %s (%s)%s", i, it_status_str(st, why, sizeof why),
                      child_code_str(st), rc == 1 ? ", did not finish in 15 s: deadlock" : "");
        }
        /* let the workers move between forks */
        if (i % 4 == 0)
            it_sleep_ms(1);
    }
    atomic_store(&workers_stop, 1);
    unsigned long ops = 0;
    for (int i = 0; i < NW; i++) {
        pthread_join(th[i], NULL);
        ops += w[i].ops;
        IT_ASSERT(w[i].log.errors == 0, "worker %d: %lu errors, first: %s", i, w[i].log.errors, w[i].log.msg);
    }
    IT_ASSERT(w[0].forks_bad || w[0].forks_done == FORKS_WORKER, "the worker forked %u times", w[0].forks_done);
    IT_ASSERT(w[0].forks_bad == 0, "a child of the worker failed (%u forks made): fork %d: %s (%s)%s",
              w[0].forks_done, w[0].first_bad_seq, it_status_str(w[0].first_bad_status, why, sizeof why),
              child_code_str(w[0].first_bad_status), w[0].first_bad_timeout ? ", did not finish in 15 s" : "");
    IT_ASSERT(ops > 20000, "the workers made only %lu operations", ops);
    for (int i = 0; i < NW; i++)
        for (int k = 0; k < INHERIT; k++) {
            it_errlog_t log = {0, ""};
            it_blk_check(&log, "inherited block in the parent", &inherited[i][k], inherited[i][k].n);
            IT_ASSERT(log.errors == 0, "%s", log.msg);
            free(inherited[i][k].p);
            inherited[i][k].p = NULL;
        }
}

/* ---- fork racing stdio, heavy ---- */

enum { RACE_FORKS = 100 };
static atomic_int rs_stop;
static FILE *rs_null[4]; /* [3]: written only by the grandchildren */
static int rs_pipe[2];
static atomic_ulong rs_lines, rs_bad_lines, rs_printfs, rs_flushes, rs_fail;

static void *rs_flusher(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&rs_stop, memory_order_relaxed)) {
        fflush(NULL);
        atomic_fetch_add_explicit(&rs_flushes, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Holds FILE locks while allocating: vfprintf's work buffer for a wide field
 * is malloc()ed with the stream locked; a memstream reallocs under its lock;
 * fopen/fclose allocate and take the list lock. */
static void *rs_printer(void *arg)
{
    unsigned idx = (unsigned)(uintptr_t)arg;
    it_rng_t r = {0x9817u + idx};
    FILE *f = rs_null[idx % 3];
    for (unsigned long k = 0; !atomic_load_explicit(&rs_stop, memory_order_relaxed); k++) {
        int width = it_range(&r, 0, 3) == 0 ? (int)it_range(&r, 2000, 70000) : (int)it_range(&r, 1, 60);
        flockfile(f);
        fprintf(f, "%*lu|%s|%.3f\n", width, k, "tarena", (double)k / 7.0);
        void *p = malloc(it_range(&r, 32 * IT_KIB, 300 * IT_KIB)); /* misses the cache: arena locks */
        if (p)
            memset(p, 1, 64);
        free(p);
        funlockfile(f);
        if (k % 16 == 0) {
            char *buf = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&buf, &len);
            if (!m) {
                atomic_fetch_add(&rs_fail, 1);
                continue;
            }
            for (int i = 0; i < 50; i++)
                fprintf(m, "%0*d", (int)it_range(&r, 1, 400), i);
            fclose(m);
            free(buf);
        }
        if (k % 32 == 0) {
            FILE *t = fopen("/dev/null", "w");
            if (!t) {
                atomic_fetch_add(&rs_fail, 1);
                continue;
            }
            setvbuf(t, NULL, _IOFBF, it_range(&r, 512, 65536));
            fputs("x", t);
            fclose(t);
        }
        atomic_fetch_add_explicit(&rs_printfs, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Lines "<len>:<len bytes of 'a' + len % 26>\n" of 0..6000 bytes. */
static void *rs_writer(void *arg)
{
    (void)arg;
    it_rng_t r = {0x3717u};
    char *buf = malloc(7000);
    if (!buf)
        return NULL;
    while (!atomic_load_explicit(&rs_stop, memory_order_relaxed)) {
        size_t len = it_range(&r, 0, 3) == 0 ? it_range(&r, 1000, 6000) : it_range(&r, 0, 200);
        int h = snprintf(buf, 16, "%zu:", len);
        memset(buf + h, 'a' + (int)(len % 26), len);
        buf[h + (int)len] = '\n';
        size_t todo = (size_t)h + len + 1, off = 0;
        while (off < todo) {
            ssize_t n = write(rs_pipe[1], buf + off, todo - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto out;
            off += (size_t)n;
        }
    }
out:
    free(buf);
    close(rs_pipe[1]);
    return NULL;
}

static void *rs_reader(void *arg)
{
    (void)arg;
    FILE *in = fdopen(rs_pipe[0], "r");
    if (!in) {
        atomic_fetch_add(&rs_fail, 1);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long k = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)strtoul(line, NULL, 10);
        char *colon = strchr(line, ':');
        int ok = colon && (size_t)n == (size_t)(colon - line) + 1 + len + 1 &&
                 it_check_byte(colon + 1, len, (unsigned char)('a' + (int)(len % 26))) < 0;
        if (!ok)
            atomic_fetch_add(&rs_bad_lines, 1);
        atomic_fetch_add_explicit(&rs_lines, 1, memory_order_relaxed);
        if (++k % 20 == 0) { /* start again small: getline reallocs under the FILE lock */
            free(line);
            line = NULL;
            cap = 0;
        }
    }
    free(line);
    fclose(in);
    return NULL;
}

static void *rs_mallocer(void *arg)
{
    it_rng_t r = {(uint64_t)(uintptr_t)arg};
    it_blk_t keep[32];
    memset(keep, 0, sizeof keep);
    while (!atomic_load_explicit(&rs_stop, memory_order_relaxed)) {
        it_blk_t *b = &keep[it_range(&r, 0, 31)];
        if (b->p) {
            if (it_check(b->p, b->n, b->id) >= 0)
                atomic_fetch_add(&rs_fail, 1);
            free(b->p);
        }
        b->n = it_logsize(&r, 512 * IT_KIB);
        b->id = it_rand(&r);
        b->p = malloc(b->n);
        if (b->p)
            it_fill(b->p, b->n, b->id);
    }
    for (int k = 0; k < 32; k++)
        free(keep[k].p);
    return NULL;
}

static int rs_grandchild(unsigned i)
{
    alarm(10);
    void *p = malloc(100 + i), *q = malloc(200 * 1024 + i);
    if (!p || !q)
        return CH_MALLOC;
    free(p);
    free(q);
    /* stdio in the child: glibc reset the FILE locks, the list lock must be usable */
    if (fprintf(rs_null[3], "child %u %*d\n", i, 5000, 1) < 0 || fflush(rs_null[3]) != 0)
        return CH_STDIO;
    FILE *t = fopen("/dev/null", "w");
    if (!t)
        return CH_STDIO;
    fputs("grandchild", t);
    fclose(t);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return CH_STDIO;
    fprintf(m, "%*d", 3000, 7);
    fclose(m);
    if (len != 3000)
        return CH_STDIO;
    free(buf);
    return 0;
}

/* Runs in a child of the test (so a deadlock cannot hang the test binary);
 * its own children are the forks under test. Output on fd 2 (captured). */
static int stdio_race_main(void *arg)
{
    (void)arg;
    char msg[256];
    int rc = 0;
    for (int i = 0; i < 4; i++)
        if (!(rs_null[i] = fopen("/dev/null", "w")))
            return CH_STDIO;
    setvbuf(rs_null[1], NULL, _IOFBF, 128); /* tiny buffer: flushes often */
    if (pipe(rs_pipe) != 0)
        return CH_STDIO;
    atomic_store(&rs_stop, 0);
    pthread_t th[9];
    int nth = 0;
    int fail = 0;
    fail |= pthread_create(&th[nth++], NULL, rs_writer, NULL);
    fail |= pthread_create(&th[nth++], NULL, rs_reader, NULL);
    fail |= pthread_create(&th[nth++], NULL, rs_flusher, NULL);
    fail |= pthread_create(&th[nth++], NULL, rs_flusher, NULL);
    for (uintptr_t i = 0; i < 3; i++)
        fail |= pthread_create(&th[nth++], NULL, rs_printer, (void *)i);
    fail |= pthread_create(&th[nth++], NULL, rs_mallocer, (void *)11);
    fail |= pthread_create(&th[nth++], NULL, rs_mallocer, (void *)12);
    if (fail)
        return CH_THREAD;
    for (unsigned i = 0; i < RACE_FORKS && rc == 0; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = CH_FORK;
            break;
        }
        if (pid == 0)
            _exit(rs_grandchild(i));
        int st = 0;
        int w = it_wait_pid(pid, 12000, &st);
        if (w != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char why[64];
            int len = snprintf(msg, sizeof msg, "fork %u: grandchild %s (%s)%s\n", i, it_status_str(st, why, sizeof why),
                               child_code_str(st), w == 1 ? ", hung" : "");
            if (write(2, msg, (size_t)len) < 0)
                rc = CH_GRAND;
            rc = CH_GRAND;
        }
        /* a few stdio and allocator operations between forks */
        it_sleep_ms(i % 3);
    }
    atomic_store(&rs_stop, 1);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    int len = snprintf(msg, sizeof msg, "lines %lu (bad %lu), printfs %lu, flushes %lu, failures %lu\n",
                       atomic_load(&rs_lines), atomic_load(&rs_bad_lines), atomic_load(&rs_printfs),
                       atomic_load(&rs_flushes), atomic_load(&rs_fail));
    if (write(2, msg, (size_t)len) < 0)
        return CH_STDIO;
    if (rc == 0 && (atomic_load(&rs_bad_lines) || atomic_load(&rs_fail)))
        rc = CH_CORRUPT;
    if (rc == 0 && (atomic_load(&rs_lines) < 100 || atomic_load(&rs_printfs) < 100 || atomic_load(&rs_flushes) < 100))
        rc = 9; /* the threads barely ran: the test did not test */
    return rc;
}

static void test_fork_racing_stdio_heavy(void)
{
    it_child_t c;
    char why[64];
    CU_ASSERT_EQUAL_FATAL(it_run_child(stdio_race_main, NULL, 1, 30, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
              "child ended with %s (%s; SIGALRM = deadlock, exit 9 = threads did not run): %s",
              it_status_str(c.status, why, sizeof why), child_code_str(c.status), c.out);
}

/* ---- fork from a signal handler that interrupted malloc ---- */

/* This must run in a process that never had a second thread (glibc, and
 * tarena after it, only skip the fork locks when __libc_single_threaded is
 * still set, and it is never set again once a thread was created). The test
 * re-executes this binary with TA_IT_SIGFORK set; a constructor runs the
 * scenario before main() and exits. */
#define SIGFORK_ENV "TA_IT_SIGFORK"
enum { SIGFORK_TARGET = 400 };

static volatile sig_atomic_t sf_forks, sf_bad, sf_fork_fail, sf_first_status = -1, sf_stop;
static timer_t sf_timer;
static unsigned sf_lcg = 12345;

/* One-shot timer, re-armed by the handler when it is done: with a periodic
 * one, a handler slower than the period would starve the main loop. The
 * delays (50 us .. 1 ms) vary where the signal lands. */
static void sf_arm(void)
{
    sf_lcg = sf_lcg * 1103515245u + 12345u;
    long ns = 50000 + (long)((sf_lcg >> 8) % 950000u);
    struct itimerspec its = {{0, 0}, {0, ns}};
    timer_settime(sf_timer, 0, &its, NULL);
}

static int sigfork_grandchild(void)
{
    alarm(8); /* a lock held by the interrupted malloc would hang us: die instead
               * (generous: a loaded 2-core machine can be slow, not hung) */
    static const size_t sizes[] = {1, 24, 100, 1000, 4000, 20000, 40000, 200000, 3 * 1024 * 1024};
    void *p[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = (i & 1) ? calloc(1, sizes[i]) : malloc(sizes[i]);
        if (!p[i])
            return CH_MALLOC;
        it_fill(p[i], sizes[i] < 256 ? sizes[i] : 256, i);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (it_check(p[i], sizes[i] < 256 ? sizes[i] : 256, i) >= 0)
            return CH_CORRUPT;
        void *q = realloc(p[i], sizes[i] * 2 + 1);
        if (!q)
            return CH_MALLOC;
        free(q);
    }
    return 0;
}

static void sigfork_handler(int sig)
{
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0)
        _exit(sigfork_grandchild());
    if (pid < 0) {
        sf_fork_fail++;
    } else {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (sf_bad++ == 0)
                sf_first_status = st;
        }
        sf_forks++;
    }
    if (!sf_stop)
        sf_arm();
    errno = saved;
}

static void sf_say(const char *msg)
{
    if (write(2, msg, strlen(msg)) < 0)
        return;
}

/* The re-executed process: main loop of malloc/calloc/realloc/free over
 * every size range, SIGUSR1 about every half millisecond, the handler forks. */
static int sigfork_main(void)
{
    if (!__libc_single_threaded) {
        sf_say("precondition failed: __libc_single_threaded is false at start\n");
        return 10;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigfork_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 11;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    if (timer_create(CLOCK_MONOTONIC, &sev, &sf_timer) != 0)
        return 12;
    sf_arm();
    enum { S = 64 };
    it_blk_t s[S];
    memset(s, 0, sizeof s);
    it_rng_t r = {0x516F0}; /* the ops are deterministic; where the signal lands is not */
    unsigned long ops = 0, corrupt = 0;
    /* The target is what counts (coverage of where the signal lands); the
     * deadline only bounds a machine so slow or loaded that it is never
     * reached (then 17: too few forks). Unloaded, 400 forks take 1-3 s. */
    uint64_t deadline = it_now_ms() + 60000;
    while (sf_forks + sf_fork_fail < SIGFORK_TARGET && !sf_bad && it_now_ms() < deadline) {
        for (int burst = 0; burst < 64; burst++, ops++) {
            it_blk_t *b = &s[it_range(&r, 0, S - 1)];
            unsigned pick = (unsigned)it_range(&r, 0, 9);
            if (b->p && pick < 6) {
                if (it_check(b->p, b->n < 256 ? b->n : 256, b->id) >= 0)
                    corrupt++;
                if (pick < 4) {
                    free(b->p);
                    b->p = NULL;
                    continue;
                }
                size_t n = it_logsize(&r, 2 * IT_MIB);
                unsigned char *q = realloc(b->p, n);
                if (!q)
                    continue;
                if (it_check(q, (n < b->n ? n : b->n) < 256 ? (n < b->n ? n : b->n) : 256, b->id) >= 0)
                    corrupt++;
                b->p = q;
                b->n = n;
            } else if (!b->p) {
                /* half the sizes miss the thread cache: the slow paths take locks */
                size_t n = pick < 5 ? it_logsize(&r, 32 * IT_KIB) : it_logsize(&r, 2 * IT_MIB);
                b->p = pick % 3 == 0 ? calloc(1, n) : malloc(n);
                b->n = b->p ? n : 0;
            } else {
                continue;
            }
            b->id = it_rand(&r);
            it_fill(b->p, b->n < 256 ? b->n : 256, b->id);
        }
    }
    sf_stop = 1;
    struct itimerspec off = {{0, 0}, {0, 0}};
    timer_settime(sf_timer, 0, &off, NULL);
    timer_delete(sf_timer);
    for (int k = 0; k < S; k++)
        free(s[k].p);
    char why[64], msg[256];
    snprintf(msg, sizeof msg, "forks from the handler: %d, failed children: %d, fork failures: %d, main-loop ops: %lu\n",
             (int)sf_forks, (int)sf_bad, (int)sf_fork_fail, ops);
    sf_say(msg);
    if (sf_bad) {
        snprintf(msg, sizeof msg, "first failed child: %s (%s)\n", it_status_str(sf_first_status, why, sizeof why),
                 child_code_str(sf_first_status));
        sf_say(msg);
    }
    if (corrupt) {
        snprintf(msg, sizeof msg, "%lu blocks of the interrupted process were corrupted\n", corrupt);
        sf_say(msg);
        return 15;
    }
    if (sf_bad)
        return 16;
    if (sf_forks < SIGFORK_TARGET)
        return 17;
    return 0;
}

__attribute__((constructor)) static void sigfork_entry(void)
{
    const char *v = getenv(SIGFORK_ENV);
    if (v && *v == '1')
        _exit(sigfork_main());
}

static int exec_sigfork(void *arg)
{
    (void)arg;
    char *argv[] = {(char *)"ta_integration_tests", (char *)"forks", NULL};
    if (setenv(SIGFORK_ENV, "1", 1) != 0)
        return 20;
    execv("/proc/self/exe", argv);
    return 21;
}

static void test_fork_from_signal_handler_in_malloc(void)
{
    it_child_t c;
    char why[64];
    /* the alarm() watchdog of it_run_child survives the exec */
    CU_ASSERT_EQUAL_FATAL(it_run_child(exec_sigfork, NULL, 1, 90, &c), 0);
    IT_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
              "re-executed process ended with %s (SIGALRM = deadlock; 16 = a child of the handler failed, "
              "17 = too few forks): %s",
              it_status_str(c.status, why, sizeof why), c.out);
}

TA_SUITE(forks)
{
    TA_ADD(suite, test_200_forks_while_threads_allocate);
    TA_ADD(suite, test_fork_racing_stdio_heavy);
    TA_ADD(suite, test_fork_from_signal_handler_in_malloc);
}
