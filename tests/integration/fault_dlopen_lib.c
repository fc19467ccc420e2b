/* ta_fault_dlopen_lib: the module the "fault_dlopen" suite loads and unloads
 * hundreds of times. It allocates in its constructor (checked and freed in
 * its destructor), has __thread data (dynamic TLS, which glibc allocates with
 * malloc), starts and joins a thread that allocates, and hands blocks to the
 * caller that outlive the module. Not linked to tarena: it gets whichever
 * malloc the process has, as a plugin would. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CTOR_BLOCKS = 16 };

static unsigned char *ctor_block[CTOR_BLOCKS];
static int *report; /* where the destructor says whether its blocks survived */

/* Big enough that glibc gives each thread its own malloc()ed block for it. */
static __thread unsigned char tls_buf[16384];
static __thread unsigned char *tls_ptr;

static size_t ctor_size(int i)
{
    return i == 0 ? 96 * 1024 : (size_t)(i * 300 + 8);
}

/* A byte pattern the caller can check without this module's code. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (unsigned char)(seed * 31u + k * 7u);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != (unsigned char)(seed * 31u + k * 7u))
            return 0;
    return 1;
}

__attribute__((constructor)) static void lib_init(void)
{
    for (int i = 0; i < CTOR_BLOCKS; i++) {
        ctor_block[i] = malloc(ctor_size(i));
        if (ctor_block[i])
            fill(ctor_block[i], ctor_size(i), (unsigned)i);
    }
}

__attribute__((destructor)) static void lib_fini(void)
{
    int ok = 1;
    for (int i = 0; i < CTOR_BLOCKS; i++) {
        ok &= ctor_block[i] && intact(ctor_block[i], ctor_size(i), (unsigned)i);
        free(ctor_block[i]);
        ctor_block[i] = NULL;
    }
    free(tls_ptr); /* the calling thread's, if it made one */
    tls_ptr = NULL;
    if (report)
        *report = ok ? 1 : 2;
}

void ta_dl_set_report(int *where)
{
    report = where;
}

/* Touches this thread's TLS, allocates and frees; 0 when all went well. */
static int tls_work(unsigned seed)
{
    memset(tls_buf, (int)seed, sizeof tls_buf);
    if (!tls_ptr)
        tls_ptr = malloc(5000);
    if (!tls_ptr)
        return 1;
    fill(tls_ptr, 5000, seed);
    void *p[32];
    for (int i = 0; i < 32; i++)
        p[i] = malloc((size_t)(i * i * 37 + 1));
    int bad = 0;
    for (int i = 0; i < 32; i++) {
        bad |= !p[i];
        free(p[i]);
    }
    bad |= !intact(tls_ptr, 5000, seed) || tls_buf[sizeof tls_buf - 1] != (unsigned char)seed;
    return bad;
}

static void *lib_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    int bad = tls_work(seed);
    free(tls_ptr); /* the thread's own, before it ends */
    tls_ptr = NULL;
    return (void *)(uintptr_t)bad;
}

/* Called once per load: TLS work here and in a thread of its own; hands out
 * n blocks (block i: i * 1000 + 1 bytes, pattern seed + i) for the caller to
 * check and free after dlclose. 0 when all went well. */
int ta_dl_work(unsigned seed, unsigned char **out, size_t n)
{
    int bad = tls_work(seed);
    pthread_t t;
    void *res = (void *)1;
    if (pthread_create(&t, NULL, lib_thread, (void *)(uintptr_t)seed) != 0)
        return 1;
    pthread_join(t, &res);
    bad |= res != NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = malloc(i * 1000 + 1);
        if (!out[i])
            return 1;
        fill(out[i], i * 1000 + 1, seed + (unsigned)i);
    }
    return bad;
}
