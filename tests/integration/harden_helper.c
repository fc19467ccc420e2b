/* ta_harden_helper: the program the suites corruption and harden run in a
 * fresh process (TARENA_HARDEN and the other options are read at start-up).
 * Each argument is a command, run in order; results go to stdout as
 * KEY=VALUE lines (flushed before anything that may abort), tarena's own
 * reports go to stderr. Exit 0, 2 for a bad command line, 3 when an
 * allocation failed, 4 when a precondition of a scenario does not hold,
 * 5 when a block came back damaged or handed out twice; the guard command
 * ends with 40 (fault at the expected address) or 41 (fault elsewhere). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <tarena.h>
#include <unistd.h>

#define KIB ((size_t)1024)

static void fail(int code, const char *what)
{
    printf("error=%s\n", what);
    fflush(stdout);
    exit(code);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        fail(3, "malloc failed");
    return p;
}

static size_t arg_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end == 'k')
        v <<= 10, end++;
    else if (*end == 'm')
        v <<= 20, end++;
    if (*end || end == s) {
        fprintf(stderr, "ta_harden_helper: bad number '%s'\n", s);
        exit(2);
    }
    return (size_t)v;
}

static void say_ptr(const char *key, const void *p)
{
    printf("%s=%#lx\n", key, (unsigned long)(uintptr_t)p);
    fflush(stdout);
}

/* The compiler must not see through a pointer that is written after free. */
static void *launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* Position- and seed-dependent bytes: a block mixed up with another one, or
 * overlapping it, does not keep its pattern. */
static unsigned char pat(size_t i, uint64_t seed)
{
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(i / 8) * 0xD6E8FEB86659FD93ull;
    x ^= x >> 29;
    return (unsigned char)(x >> (8 * (i % 8)));
}

static void fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pat(i, seed);
}

static int intact(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(i, seed))
            return 0;
    return 1;
}

/* 1 when the n bytes at p all equal c. */
static int all_bytes(const void *p, size_t n, unsigned char c)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != c)
            return 0;
    return 1;
}

/* After a corrupted entry was dropped (check action 1), the size class must
 * still hand out distinct, usable blocks: 64 of them at once, each filled
 * with its own pattern and checked after all were filled. */
static void size_still_works(size_t size)
{
    enum { N = 64 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = xmalloc(size);
        if (!ta_owns(p[i]) || malloc_usable_size(p[i]) < size)
            fail(5, "block not ours or too small");
        fill(p[i], size, (uint64_t)i);
    }
    for (int i = 0; i < N; i++)
        if (!intact(p[i], size, (uint64_t)i))
            fail(5, "blocks overlap");
    for (int i = 0; i < N; i++)
        free(p[i]);
    printf("still_works=1\n");
}

/* ---- thread-cache safe-linking ---- */

/* Overwrites the newest cached entry of size's class with the block's own
 * address plus off, as an overflow from the block below would; then
 * malloc(size) pops it. */
static void tcache_pop(size_t size, size_t off)
{
    unsigned char *p = xmalloc(size), *q = xmalloc(size);
    free(q);
    free(p);
    void **slot = ta_test_tcache_slot(size);
    if (!slot)
        fail(4, "no cached entry (thread cache off?)");
    *slot = p + off;
    void *r = malloc(size);
    printf("popped_ours=%d\n", r && ta_owns(r) && malloc_usable_size(r) >= size);
    size_still_works(size);
}

/* The entry goes bad while the bin holds just it; then malloc_trim()
 * flushes the cache, which decodes every entry. */
static void tcache_flush(size_t size, size_t off)
{
    unsigned char *p = xmalloc(size);
    free(p);
    void **slot = ta_test_tcache_slot(size);
    if (!slot)
        fail(4, "no cached entry (thread cache off?)");
    *slot = p + off;
    malloc_trim(0);
    printf("flushed=1\n");
    size_still_works(size);
}

/* ---- double frees of blocks the thread cache holds ---- */

/* Hands out NB blocks of size, each filled with its own pattern; fails with
 * 5 when one of them is a block still in use (live[0..1], NULL for none),
 * and checks afterwards that those kept their patterns (seeds 7 and 8). */
static void hand_out_around(size_t size, unsigned char *const live[2])
{
    enum { NB = 600 };
    static void *got[NB];
    for (int i = 0; i < NB; i++) {
        got[i] = xmalloc(size);
        if (got[i] == live[0] || got[i] == live[1])
            fail(5, "a block in use was handed out again");
        fill(got[i], size, 1000 + (uint64_t)i);
    }
    for (int k = 0; k < 2; k++)
        if (live[k] && !intact(live[k], size, 7 + (uint64_t)k))
            fail(5, "a block in use was overwritten");
    for (int i = 0; i < NB; i++)
        if (!intact(got[i], size, 1000 + (uint64_t)i))
            fail(5, "blocks overlap");
    for (int i = 0; i < NB; i++)
        free(got[i]);
    printf("never_twice=1\n");
}

/* free(p), free(q), free(p): not back to back, so the bin's top entry is q;
 * the free key in p still tells. Afterwards p and q must come back once
 * each, never twice. */
static void cache_double_free(size_t size)
{
    unsigned char *p = xmalloc(size), *q = xmalloc(size);
    say_ptr("ptr", p);
    free(p);
    free(q);
    free(launder(p));
    unsigned char *live[2] = {xmalloc(size), xmalloc(size)};
    if (live[0] == live[1])
        fail(5, "the same block handed out twice in a row");
    fill(live[0], size, 7);
    fill(live[1], size, 8);
    hand_out_around(size, live);
    free(live[0]);
    free(live[1]);
    size_still_works(size);
}

static void *cross_p;
static unsigned char *cross_got;

static void *cross_thread_free(void *arg)
{
    size_t size = *(size_t *)arg;
    free(xmalloc(size));           /* this thread's cache now takes the class */
    free(cross_p);                 /* the second free: p sits in main's cache */
    cross_got = xmalloc(size);
    fill(cross_got, size, 7);
    return NULL;
}

/* main frees p into its cache; another thread (same arena: run with
 * TARENA_ARENA_MAX=1, so its cache would take p) frees p again, then
 * allocates and keeps a block; main then allocates on. */
static void cross_double_free(size_t size)
{
    cross_p = xmalloc(size);
    say_ptr("ptr", cross_p);
    free(cross_p);
    pthread_t t;
    if (pthread_create(&t, NULL, cross_thread_free, &size) != 0 || pthread_join(t, NULL) != 0)
        fail(4, "thread failed");
    unsigned char *live[2] = {cross_got, NULL};
    hand_out_around(size, live);
    free(cross_got);
    size_still_works(size);
}

static int outbox_used;

static void *outbox_thread(void *arg)
{
    size_t size = *(size_t *)arg;
    free(cross_p);           /* another arena's block, a class never allocated here */
    outbox_used = ta_test_outbox_count(size) == 1;
    free(launder(cross_p));  /* the second free: the block sits in this thread's outbox */
    return NULL;
}

/* main allocates p; a new thread (an arena of its own: run with up to 4
 * arenas) frees it twice. When the thread exits its outbox goes back to
 * main's arena: p must then come back once, never twice. */
static void outbox_double_free(size_t size)
{
    cross_p = xmalloc(size);
    say_ptr("ptr", cross_p);
    pthread_t t;
    if (pthread_create(&t, NULL, outbox_thread, &size) != 0 || pthread_join(t, NULL) != 0)
        fail(4, "thread failed");
    /* Outboxes hold 16 KiB at most: a block of more than 8 KiB is sent on
     * at once, so the second free finds it back in its slab instead. */
    if (!outbox_used && size <= 8192)
        fail(4, "the first free did not go to the thread's outbox");
    unsigned char *live[2] = {NULL, NULL};
    hand_out_around(size, live);
    size_still_works(size);
}

/* ---- remote-free stacks ---- */

static void *remote_blk[2];
static _Alignas(64) unsigned char decoy[256]; /* aligned, but no block of ours */

static void *remote_free_thread(void *arg)
{
    (void)arg;
    free(remote_blk[0]);
    free(remote_blk[1]); /* now the head of the owner's remote stack */
    return NULL;
}

/* Main allocates two blocks of a class it uses nowhere else; a new thread
 * (another arena, that class never allocated there) frees both, so they go
 * onto the owning bin's remote stack; main then overwrites the link in the
 * head block (a write after free) and allocates until a refill drains the
 * stack. Needs TARENA_BACKGROUND_TRIM=0, or the trimmer may drain the stack
 * before the write. With write 0, the same without the write (the control). */
static void remote(size_t size, int write)
{
    remote_blk[0] = xmalloc(size);
    remote_blk[1] = xmalloc(size);
    pthread_t t;
    if (pthread_create(&t, NULL, remote_free_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
        fail(4, "thread failed");
    say_ptr("ptr", decoy);
    if (write)
        *(uintptr_t *)launder(remote_blk[1]) = (uintptr_t)decoy;
    enum { N = 200 };
    static void *keep[N];
    for (int i = 0; i < N; i++) {
        keep[i] = xmalloc(size);
        if ((unsigned char *)keep[i] >= decoy && (unsigned char *)keep[i] < decoy + sizeof decoy)
            fail(5, "malloc returned the planted pointer");
    }
    for (int i = 0; i < N; i++)
        free(keep[i]);
    printf("survived=1\n");
    size_still_works(size);
}

/* ---- hardened mode ---- */

/* One byte written just past the usable end (into the canary), then the
 * block freed or reallocated. */
static void overflow(size_t size, size_t align, const char *how)
{
    unsigned char *p;
    if (align) {
        if (posix_memalign((void **)&p, align, size) != 0)
            fail(3, "posix_memalign failed");
    } else {
        p = xmalloc(size);
    }
    size_t u = malloc_usable_size(p);
    fill(p, u, 7);
    say_ptr("ptr", p);
    p[u] ^= 0x01;
    if (strcmp(how, "free") == 0) {
        free(launder(p));
    } else {
        errno = 0;
        void *r = realloc(launder(p), 2 * size);
        printf("realloc_null=%d\nrealloc_errno=%d\nold_intact=%d\n", r == NULL, errno, intact(p, u, 7));
    }
    printf("survived=1\n");
    size_still_works(size);
}

static volatile uintptr_t guard_expect;

static void guard_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    _exit((uintptr_t)si->si_addr == guard_expect ? 40 : 41);
}

/* The last usable byte is writable; the byte after it faults. */
static void guard(size_t size)
{
    unsigned char *p = xmalloc(size);
    size_t u = malloc_usable_size(p);
    printf("usable=%zu\n", u);
    p[u - 1] = 0x5a;
    guard_expect = (uintptr_t)(p + u);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    fflush(stdout);
    ((volatile unsigned char *)launder(p))[u] = 0x5a;
    printf("no_fault=1\n");
}

/* What a new block holds, what it holds once freed (from byte 16 on: the
 * first words may carry links and keys; slab sizes only, where the memory
 * stays mapped), and whether calloc still zeroes. */
static void junk(size_t size)
{
    unsigned char *p = xmalloc(size);
    printf("new_byte=%u\nnew_uniform=%d\n", p[0], all_bytes(p, size, p[0]));
    size_t u = malloc_usable_size(p);
    free(p);
    if (size <= 32 * KIB && u > 16) {
        p = launder(p);
        printf("freed_byte=%u\nfreed_uniform=%d\n", p[16], all_bytes(p + 16, u - 16, p[16]));
    }
    /* Recycled memory (junk-filled on free) and fresh memory alike. */
    for (int i = 0; i < 16; i++)
        free(xmalloc(size));
    unsigned char *z = calloc(1, size);
    if (!z)
        fail(3, "calloc failed");
    printf("calloc_zero=%d\n", all_bytes(z, size, 0));
    free(z);
}

/* How often the block just freed comes back in the next n malloc/free pairs. */
static void reuse(size_t size, size_t n)
{
    void *p = xmalloc(size);
    free(p);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        void *q = xmalloc(size);
        same += q == p;
        free(q);
    }
    printf("reused=%zu\n", same);
}

static void double_free(size_t size)
{
    void *p = xmalloc(size);
    say_ptr("ptr", p);
    free(p);
    free(launder(p));
    printf("survived=1\n");
}

/* A byte of a freed block changed at off, then churn of the same size until
 * the block has left the quarantine (with a small TARENA_QUARANTINE); then
 * the block must never be handed out again (it was reported and leaked). */
static void write_after_free(size_t size, size_t off)
{
    unsigned char *p = xmalloc(size);
    say_ptr("ptr", p);
    free(p);
    ((volatile unsigned char *)launder(p))[off] ^= 0x11;
    size_t back = 0;
    for (int i = 0; i < 5000; i++) {
        void *q = xmalloc(size);
        back += q == p;
        free(q);
    }
    printf("survived=1\nhanded_out_again=%zu\n", back);
}

/* n 16-byte blocks allocated, then all freed: a quarantine stripe full of
 * small entries. */
static void free_small(size_t n)
{
    void **p = xmalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = xmalloc(16);
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

/* n blocks of size allocated (touched) and freed one by one; with alt, a
 * 64-byte block freed before each. */
static void churn(size_t size, size_t n, int alt)
{
    for (size_t i = 0; i < n; i++) {
        if (alt)
            free(xmalloc(64));
        unsigned char *p = xmalloc(size);
        p[0] = 1;
        free(p);
    }
}

/* n blocks of one size in a row: how many steps go up in address. */
static void order(size_t size, size_t n)
{
    void **p = xmalloc(n * sizeof *p);
    size_t up = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = xmalloc(size);
        if (i && (uintptr_t)p[i] > (uintptr_t)p[i - 1])
            up++;
    }
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
    printf("steps=%zu\nup=%zu\n", n - 1, up);
}

/* Contents survive a chain of reallocs across slab, page-run and mapped
 * sizes (growing and shrinking); the last free finds every canary intact. */
static void realloc_chain(void)
{
    static const size_t sizes[] = {10, 100, 24, 5000, 100 * KIB, 300 * KIB, 2000, 40, 70 * KIB, 1, 129 * KIB, 8};
    size_t n = sizes[0];
    unsigned char *p = xmalloc(n);
    fill(p, n, 1);
    for (size_t i = 1; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t m = sizes[i], keep = n < m ? n : m;
        unsigned char *q = realloc(p, m);
        if (!q)
            fail(3, "realloc failed");
        if (!intact(q, keep, 1) || malloc_usable_size(q) < m)
            fail(5, "realloc lost contents");
        fill(q, m, 1);
        p = q;
        n = m;
    }
    free(p);
    printf("realloc_ok=1\n");
}

/* ---- threads and fork ---- */

typedef struct {
    unsigned char *p;
    size_t n;
    uint64_t seed;
} blk_t;

enum { NT = 4, MBOX = 64 };
/* Each thread posts blocks to the next one's mailbox, which checks and
 * frees them: every block is freed by a thread other than its allocator. */
static struct {
    pthread_mutex_t lock;
    blk_t b[MBOX];
    unsigned n;
} mbox[NT];
static unsigned long mt_errors;
static volatile int churn_stop;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Sizes from 1 byte to 256 KiB, small ones more often. */
static size_t rng_size(uint64_t *s)
{
    unsigned bits = (unsigned)(rng_next(s) % 19);
    return 1 + (size_t)(rng_next(s) % ((size_t)1 << bits));
}

static unsigned char *mt_alloc(size_t n, uint64_t r)
{
    void *p = NULL;
    switch (r % 4) {
    case 0:
        if (posix_memalign(&p, (size_t)16 << (r % 8), n) != 0)
            p = NULL;
        break;
    case 1:
        p = calloc(1, n);
        break;
    default:
        p = malloc(n);
    }
    return p;
}

static int check_and_free(blk_t *b)
{
    int ok = intact(b->p, b->n, b->seed);
    free(b->p);
    return ok;
}

static void *mt_worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg, to = (me + 1) % NT;
    uint64_t s = 0x1234 + me;
    unsigned long errors = 0;
    for (int i = 0; i < 6000; i++) {
        blk_t b = {NULL, rng_size(&s), rng_next(&s)};
        b.p = mt_alloc(b.n, b.seed);
        if (!b.p) {
            errors++;
            continue;
        }
        fill(b.p, b.n, b.seed);
        if (b.seed % 3 == 0) { /* a realloc of our own keeps the contents */
            size_t m = rng_size(&s);
            unsigned char *q = realloc(b.p, m);
            if (!q) {
                errors++;
                continue;
            }
            errors += !intact(q, b.n < m ? b.n : m, b.seed);
            b.p = q;
            b.n = m;
            fill(b.p, b.n, b.seed);
        }
        blk_t out = {NULL, 0, 0};
        pthread_mutex_lock(&mbox[to].lock);
        if (mbox[to].n < MBOX)
            mbox[to].b[mbox[to].n++] = b;
        else
            out = b; /* mailbox full: free it here */
        pthread_mutex_unlock(&mbox[to].lock);
        if (out.p)
            errors += !check_and_free(&out);
        pthread_mutex_lock(&mbox[me].lock);
        blk_t in = mbox[me].n ? mbox[me].b[--mbox[me].n] : (blk_t){NULL, 0, 0};
        pthread_mutex_unlock(&mbox[me].lock);
        if (in.p)
            errors += !check_and_free(&in);
    }
    __atomic_add_fetch(&mt_errors, errors, __ATOMIC_RELAXED);
    return NULL;
}

static void threads(void)
{
    pthread_t t[NT];
    for (unsigned i = 0; i < NT; i++)
        pthread_mutex_init(&mbox[i].lock, NULL);
    for (unsigned i = 0; i < NT; i++)
        if (pthread_create(&t[i], NULL, mt_worker, (void *)(uintptr_t)i) != 0)
            fail(4, "pthread_create failed");
    for (unsigned i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < NT; i++)
        for (unsigned k = 0; k < mbox[i].n; k++)
            mt_errors += !check_and_free(&mbox[i].b[k]);
    printf("mt_errors=%lu\n", mt_errors);
}

/* Keeps allocating and freeing (all size ranges) while main forks. */
static void *churn_thread(void *arg)
{
    uint64_t s = 99;
    blk_t b[16] = {{0}};
    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        blk_t *x = &b[rng_next(&s) % 16];
        if (x->p && !check_and_free(x))
            __atomic_add_fetch(&mt_errors, 1, __ATOMIC_RELAXED);
        x->n = rng_size(&s);
        x->seed = rng_next(&s);
        x->p = malloc(x->n);
        if (x->p)
            fill(x->p, x->n, x->seed);
    }
    for (int i = 0; i < 16; i++)
        if (b[i].p && !check_and_free(&b[i]))
            __atomic_add_fetch(&mt_errors, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* The child checks and frees blocks the parent made, allocates and frees
 * its own, and finds an overflow still caught (one report, check action 1
 * in the child): all hardened machinery works across fork. */
static int fork_child(blk_t *kept, int n)
{
    mallopt(M_CHECK_ACTION, 1);
    for (int i = 0; i < n; i++)
        if (!check_and_free(&kept[i]))
            return 1;
    uint64_t s = 7;
    for (int i = 0; i < 500; i++) {
        blk_t b = {NULL, rng_size(&s), rng_next(&s)};
        b.p = malloc(b.n);
        if (!b.p)
            return 2;
        fill(b.p, b.n, b.seed);
        if (!check_and_free(&b))
            return 1;
    }
    unsigned char *p = malloc(100);
    if (!p)
        return 2;
    p[malloc_usable_size(p)] ^= 1;
    free(p); /* reported on stderr (canary) */
    return 0;
}

static void forks(int rounds)
{
    enum { K = 32 };
    pthread_t t;
    churn_stop = 0;
    if (pthread_create(&t, NULL, churn_thread, NULL) != 0)
        fail(4, "pthread_create failed");
    uint64_t s = 3;
    int ok = 0;
    for (int r = 0; r < rounds; r++) {
        blk_t kept[K];
        for (int i = 0; i < K; i++) {
            kept[i] = (blk_t){NULL, rng_size(&s), rng_next(&s)};
            kept[i].p = xmalloc(kept[i].n);
            fill(kept[i].p, kept[i].n, kept[i].seed);
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            fail(4, "fork failed");
        if (pid == 0)
            _exit(fork_child(kept, K));
        int st;
        while (waitpid(pid, &st, 0) < 0)
            if (errno != EINTR)
                fail(4, "waitpid failed");
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
        for (int i = 0; i < K; i++)
            mt_errors += !check_and_free(&kept[i]);
    }
    churn_stop = 1;
    pthread_join(t, NULL);
    printf("forks_ok=%d\nmt_errors=%lu\n", ok, mt_errors);
}

static int need(int i, int argc, int n)
{
    if (i + n >= argc) {
        fprintf(stderr, "ta_harden_helper: missing argument\n");
        exit(2);
    }
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        if (strcmp(c, "action1") == 0) {
            mallopt(M_CHECK_ACTION, 1);
        } else if (strcmp(c, "mmap_threshold") == 0 && need(i, argc, 1)) {
            mallopt(M_MMAP_THRESHOLD, (int)arg_size(argv[++i]));
        } else if (strcmp(c, "perturb") == 0 && need(i, argc, 1)) {
            mallopt(M_PERTURB, (int)arg_size(argv[++i]));
        } else if (strcmp(c, "usable") == 0 && need(i, argc, 1)) {
            size_t n = arg_size(argv[++i]);
            void *p = xmalloc(n);
            printf("usable_%zu=%zu\n", n, malloc_usable_size(p));
            free(p);
        } else if (strcmp(c, "cached") == 0 && need(i, argc, 1)) {
            size_t n = arg_size(argv[++i]);
            free(xmalloc(n));
            printf("cached=%d\n", ta_test_tcache_slot(n) != NULL);
        } else if (strcmp(c, "tcache_pop") == 0 && need(i, argc, 2)) {
            tcache_pop(arg_size(argv[i + 1]), arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "tcache_flush") == 0 && need(i, argc, 2)) {
            tcache_flush(arg_size(argv[i + 1]), arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "cache_double_free") == 0 && need(i, argc, 1)) {
            cache_double_free(arg_size(argv[++i]));
        } else if (strcmp(c, "cross_double_free") == 0 && need(i, argc, 1)) {
            cross_double_free(arg_size(argv[++i]));
        } else if (strcmp(c, "outbox_double_free") == 0 && need(i, argc, 1)) {
            outbox_double_free(arg_size(argv[++i]));
        } else if (strcmp(c, "remote") == 0 && need(i, argc, 2)) {
            remote(arg_size(argv[i + 1]), (int)arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "overflow") == 0 && need(i, argc, 3)) {
            overflow(arg_size(argv[i + 1]), arg_size(argv[i + 2]), argv[i + 3]);
            i += 3;
        } else if (strcmp(c, "guard") == 0 && need(i, argc, 1)) {
            guard(arg_size(argv[++i]));
        } else if (strcmp(c, "junk") == 0 && need(i, argc, 1)) {
            junk(arg_size(argv[++i]));
        } else if (strcmp(c, "reuse") == 0 && need(i, argc, 2)) {
            reuse(arg_size(argv[i + 1]), arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "double_free") == 0 && need(i, argc, 1)) {
            double_free(arg_size(argv[++i]));
        } else if (strcmp(c, "write_after_free") == 0 && need(i, argc, 2)) {
            write_after_free(arg_size(argv[i + 1]), arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "free_small") == 0 && need(i, argc, 1)) {
            free_small(arg_size(argv[++i]));
        } else if (strcmp(c, "churn") == 0 && need(i, argc, 3)) {
            churn(arg_size(argv[i + 1]), arg_size(argv[i + 2]), (int)arg_size(argv[i + 3]));
            i += 3;
        } else if (strcmp(c, "in_use") == 0) {
            /* bytes in blocks not given back: live ones and the quarantine */
            printf("in_use=%zu\n", mallinfo2().uordblks);
        } else if (strcmp(c, "order") == 0 && need(i, argc, 2)) {
            order(arg_size(argv[i + 1]), arg_size(argv[i + 2]));
            i += 2;
        } else if (strcmp(c, "realloc_chain") == 0) {
            realloc_chain();
        } else if (strcmp(c, "threads") == 0) {
            threads();
        } else if (strcmp(c, "forks") == 0 && need(i, argc, 1)) {
            forks((int)arg_size(argv[++i]));
        } else {
            fprintf(stderr, "ta_harden_helper: unknown command '%s'\n", c);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
