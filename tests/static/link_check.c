/* tests/static/link_check.c: the program of static.link and install.consumers.
 * Linked against tarena (libtarena.a with or without -static, or libtarena.so)
 * it calls the whole malloc surface, from several threads, and proves with
 * ta_owns()/ta_version() that tarena, not glibc, answered every call.
 * Usage: link_check static|exe|shared
 *   static: fully static executable;  exe: dynamic executable with libtarena.a
 *   inside (its malloc must interpose libc's);  shared: linked to libtarena.so */
#define _GNU_SOURCE
#ifndef TA_NO_DLFCN
#include <dlfcn.h>
#endif
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tarena.h>

static int failures;

static void expect(int cond, const char *what)
{
    if (!cond) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

/* Every entry point once, checking results as glibc would give them. */
static void surface(void)
{
    char *m = malloc(10);
    expect(m && ta_owns(m) == 1, "ta_owns(malloc(10))");
    expect(malloc_usable_size(m) >= 10, "malloc_usable_size >= 10");
    memcpy(m, "123456789", 10);
    char *r = realloc(m, 100000);
    expect(r && ta_owns(r) == 1 && memcmp(r, "123456789", 10) == 0, "realloc keeps contents");
    int *c = calloc(1000, sizeof(int));
    int zero = c != NULL;
    for (int i = 0; c && i < 1000; i++)
        zero &= c[i] == 0;
    expect(zero && ta_owns(c) == 1, "calloc zeroes and is tarena's");
    void *ra = reallocarray(NULL, 100, 8);
    expect(ra && ta_owns(ra) == 1, "reallocarray");
    volatile size_t huge = SIZE_MAX / 2; /* volatile: no compile-time overflow warning */
    errno = 0;
    expect(reallocarray(NULL, huge, 4) == NULL && errno == ENOMEM, "reallocarray overflow: ENOMEM");
    void *pm = NULL;
    expect(posix_memalign(&pm, 256, 1000) == 0 && ((uintptr_t)pm & 255) == 0 && ta_owns(pm) == 1,
           "posix_memalign(256)");
    expect(posix_memalign(&pm, 3, 10) == EINVAL, "posix_memalign(3): EINVAL");
    void *al = aligned_alloc(4096, 8192);
    expect(al && ((uintptr_t)al & 4095) == 0 && ta_owns(al) == 1, "aligned_alloc(4096)");
    void *me = memalign(64, 100);
    expect(me && ((uintptr_t)me & 63) == 0 && ta_owns(me) == 1, "memalign(64)");
    long page = sysconf(_SC_PAGESIZE);
    void *va = valloc(100);
    expect(va && ((uintptr_t)va % (uintptr_t)page) == 0 && ta_owns(va) == 1, "valloc");
    void *pv = pvalloc(100);
    expect(pv && ((uintptr_t)pv % (uintptr_t)page) == 0 && malloc_usable_size(pv) >= (size_t)page,
           "pvalloc rounds up to a page");
    /* libc's own allocations must come from tarena as well. */
    char *s = strdup("libc allocates this");
    expect(s && ta_owns(s) == 1, "ta_owns(strdup())");
    char *fmt = NULL;
    expect(asprintf(&fmt, "%0500d", 7) == 500 && ta_owns(fmt) == 1, "ta_owns(asprintf())");

    expect(mallopt(M_TRIM_THRESHOLD, 1 << 20) == 1, "mallopt(M_TRIM_THRESHOLD)");
    int trimmed = malloc_trim(0);
    expect(trimmed == 0 || trimmed == 1, "malloc_trim returns 0 or 1");
    struct mallinfo2 mi2 = mallinfo2();
    expect(mi2.uordblks > 0, "mallinfo2().uordblks > 0");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo mi = mallinfo();
#pragma GCC diagnostic pop
    expect(mi.uordblks > 0, "mallinfo().uordblks > 0");
    char *xml = NULL;
    size_t xml_len = 0;
    FILE *f = open_memstream(&xml, &xml_len);
    expect(f && malloc_info(0, f) == 0, "malloc_info");
    if (f)
        fclose(f);
    expect(xml && strstr(xml, "<malloc") != NULL, "malloc_info writes XML");
    free(xml);

    free(fmt);
    free(s);
    free(pv);
    free(va);
    free(me);
    free(al);
    free(pm);
    free(ra);
    free(c);
    free(r);
}

#define THREADS 4
#define ROUNDS 20000
static void *slots[THREADS][64];

/* Each thread allocates blocks of many sizes and frees the blocks its
 * neighbour left behind: thread caches, refills and cross-thread frees. */
static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg, bad = 0;
    unsigned x = 12345u + (unsigned)id;
    for (int i = 0; i < ROUNDS; i++) {
        x = x * 1103515245u + 12345u;
        size_t size = (x >> 8) % (i % 100 == 0 ? 300000 : 2000) + 1;
        char *p = malloc(size);
        if (!p || ta_owns(p) != 1) {
            bad++;
            continue;
        }
        memset(p, id, size);
        int slot = (int)(x % 64);
        /* Atomic swap: the neighbour's slots are shared with it. */
        void *old = __atomic_exchange_n(&slots[(id + 1) % THREADS][slot], p, __ATOMIC_ACQ_REL);
        free(old);
    }
    return (void *)(intptr_t)bad;
}

static void threads(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        expect(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        expect(bad == NULL, "every block a thread got is tarena's");
    }
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < 64; j++)
            free(slots[i][j]);
}

#ifndef TA_NO_DLFCN
/* Which object's malloc does the dynamic linker hand out? */
static void where_is_malloc(const char *mode)
{
    Dl_info info;
    char obj[PATH_MAX], self[PATH_MAX];
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    if (!sym || !dladdr(sym, &info) || !realpath(info.dli_fname, obj)) {
        expect(0, "dladdr(dlsym(RTLD_DEFAULT, \"malloc\"))");
        return;
    }
    printf("malloc is in %s\n", obj);
    if (strcmp(mode, "exe") == 0) {
        /* The executable must export its malloc so that libc.so.6 and every
         * other library bind to it. */
        expect(realpath("/proc/self/exe", self) && strcmp(obj, self) == 0,
               "malloc is the executable's own");
    } else {
        const char *base = strrchr(obj, '/');
        expect(strncmp(base ? base + 1 : obj, "libtarena.so", 12) == 0, "malloc is libtarena.so's");
    }
}
#endif

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "static") && strcmp(mode, "exe") && strcmp(mode, "shared")) {
        fprintf(stderr, "usage: %s static|exe|shared\n", argv[0]);
        return 2;
    }
    const char *v = ta_version();
    printf("ta_version() = %s\n", v ? v : "(null)");
    expect(v && strncmp(v, "tarena ", 7) == 0, "ta_version() starts with \"tarena \"");
    /* In a static executable (built with -DTA_NO_DLFCN) dlsym/dladdr know
     * nothing of the program's own symbols; static_link.sh checks with nm
     * that glibc's malloc was left out instead. */
#ifndef TA_NO_DLFCN
    if (strcmp(mode, "static") != 0)
        where_is_malloc(mode);
#endif
    surface();
    threads();
    int on_stack;
    expect(ta_owns(&on_stack) == 0, "ta_owns(stack address) == 0");
    printf("%s: %s\n", mode, failures ? "FAILED" : "tarena in use, all checks passed");
    return failures ? 1 : 0;
}
