/* tests/valgrind: a program (static, or dynamic under the preload) that uses
 * every entry point correctly, from several threads, and frees everything:
 * memcheck must find nothing (no false report from tarena's own work). */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cfree(void *p);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "clean: %s failed at line %d\n", #c, __LINE__); exit(1); } } while (0)

static void fill(unsigned char *p, size_t n, unsigned char v)
{
    memset(p, v, n);
}

static int all(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* realloc in every direction and size range; the contents must follow. */
static void reallocs(void)
{
    size_t sizes[] = {1, 24, 100, 1000, 5000, 40000, 100000, 300000, 2000000, 64, 0};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *q = realloc(p, n);
        if (n == 0) {
            CHECK(q == NULL); /* glibc: realloc(p, 0) frees */
            p = NULL;
            break;
        }
        CHECK(q);
        CHECK(all(q, have < n ? have : n, (unsigned char)i));
        fill(q, n, (unsigned char)(i + 1));
        p = q;
        have = n;
    }
    free(p);
    /* Grow in place where the neighbour is free, then shrink. */
    unsigned char *b = malloc(200000);
    fill(b, 200000, 7);
    b = realloc(b, 100000);
    CHECK(all(b, 100000, 7));
    b = realloc(b, 180000);
    CHECK(all(b, 100000, 7));
    fill(b + 100000, 80000, 8);
    free(b);
    unsigned char *r = reallocarray(NULL, 10, 30);
    fill(r, 300, 3);
    r = reallocarray(r, 20, 30);
    CHECK(all(r, 300, 3));
    free(r);
}

static void aligned(void)
{
    void *p;
    CHECK(posix_memalign(&p, 64, 100) == 0 && (uintptr_t)p % 64 == 0);
    fill(p, 100, 1);
    free(p);
    p = aligned_alloc(4096, 8192);
    fill(p, 8192, 2);
    free(p);
    p = memalign(256, 3000);
    fill(p, 3000, 3);
    free(p);
    p = valloc(10);
    fill(p, 10, 4);
    free(p);
    p = pvalloc(10); /* a whole page is usable */
    fill(p, 4096, 5);
    free(p);
}

static void misc(void)
{
    unsigned char *z = calloc(100, 50);
    CHECK(all(z, 5000, 0));
    cfree(z);
    z = calloc(1, 1 << 20); /* its own mapping */
    CHECK(all(z, 1 << 20, 0));
    free(z);
    /* The caller may use everything malloc_usable_size grants. */
    unsigned char *u = malloc(20);
    size_t n = malloc_usable_size(u);
    CHECK(n >= 20);
    fill(u, n, 9);
    u = realloc(u, n + 100);
    CHECK(all(u, n, 9));
    free(u);
    free(NULL);
    CHECK(mallopt(M_PERTURB, 0x33) == 1);
    unsigned char *j = malloc(300);
    fill(j, 300, 1);
    free(j);
    CHECK(mallopt(M_PERTURB, 0) == 1);
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    CHECK(mi.arena > 0);
}

/* Blocks freed by another thread than the one that allocated them, and
 * threads that exit with blocks in their caches. */
#define NTHREADS 4
#define NBLOCKS 2000
static void *blocks[NTHREADS][NBLOCKS];

static void *producer(void *arg)
{
    void **mine = arg;
    for (int i = 0; i < NBLOCKS; i++) {
        mine[i] = malloc((size_t)(i % 700) + 1);
        fill(mine[i], (size_t)(i % 700) + 1, (unsigned char)i);
    }
    /* Leave some in this thread's cache at exit. */
    for (int i = 0; i < 50; i++)
        free(malloc(48));
    return NULL;
}

static void *consumer(void *arg)
{
    void **theirs = arg;
    for (int i = 0; i < NBLOCKS; i++)
        free(theirs[i]);
    return NULL;
}

static void threads(void)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, producer, blocks[i]) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, consumer, blocks[(i + 1) % NTHREADS]) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    for (int round = 0; round < 3; round++) {
        reallocs();
        aligned();
        misc();
        threads();
    }
    /* Enough freed that the background trimmer has work (TARENA_DECAY_MS=0). */
    void *big[64];
    for (int i = 0; i < 64; i++)
        big[i] = malloc(64 * 1024);
    for (int i = 0; i < 64; i++)
        free(big[i]);
    usleep(200 * 1000);
    puts("clean: done");
    return 0;
}
