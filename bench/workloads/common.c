/* Implementation of the workload helpers declared in common.h: arguments,
 * clocks, RSS from /proc, PRNG seeding, thread spawning, the malloc-from
 * probe. Nothing here is timed; keep it simple rather than clever. */
#define _GNU_SOURCE
#include "common.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile uint64_t bench_sink;

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

const char *bench_malloc_from(void)
{
    /* dlsym(RTLD_DEFAULT) resolves the way the program's own calls do, also
     * in a non-PIE binary where &malloc would name the executable's PLT. */
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL)
        return "unknown";
    return info.dli_fname;
}

void bench_banner(const char *name, int argc, char **argv)
{
    printf("malloc-from: %s\n", bench_malloc_from());
    printf("workload: %s", name);
    for (int i = 1; i < argc; i++)
        printf(" %s", argv[i]);
    putchar('\n');
    fflush(stdout);
}

/* Returns the value part of argv[i] if it is key=value for this key. */
static const char *arg_match(const char *arg, const char *key)
{
    if (arg[0] == '-' && arg[1] == '-')
        arg += 2;
    size_t n = strlen(key);
    if (strncmp(arg, key, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    return NULL;
}

void bench_args_check(int argc, char **argv, const char *known_keys, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("%s\n", usage);
            exit(0);
        }
        if (a[0] == '-' && a[1] == '-')
            a += 2;
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : 0;
        int ok = 0;
        for (const char *k = known_keys; eq && *k;) {
            const char *end = strchr(k, ',');
            size_t n = end ? (size_t)(end - k) : strlen(k);
            if (n == klen && strncmp(k, a, n) == 0)
                ok = 1;
            k += n + (end != NULL);
        }
        if (!ok) {
            fprintf(stderr, "bench: unknown argument '%s'\n%s\n", argv[i], usage);
            exit(2);
        }
    }
}

const char *bench_arg_str(int argc, char **argv, const char *key, const char *def)
{
    const char *v = def;
    for (int i = 1; i < argc; i++) {
        const char *m = arg_match(argv[i], key);
        if (m)
            v = m; /* the last one wins, like most command lines */
    }
    return v;
}

long bench_arg_long(int argc, char **argv, const char *key, long def)
{
    const char *s = bench_arg_str(argc, argv, key, NULL);
    if (s == NULL)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    /* k/m/g suffixes: sizes and counts read more easily as 64k or 1m. */
    if (*end == 'k' || *end == 'K') v <<= 10, end++;
    else if (*end == 'm' || *end == 'M') v <<= 20, end++;
    else if (*end == 'g' || *end == 'G') v <<= 30, end++;
    if (errno || end == s || *end != '\0')
        bench_die("bad value for %s: '%s'", key, s);
    return v;
}

double bench_arg_double(int argc, char **argv, const char *key, double def)
{
    const char *s = bench_arg_str(argc, argv, key, NULL);
    if (s == NULL)
        return def;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        bench_die("bad value for %s: '%s'", key, s);
    return v;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads a small /proc file into buf without stdio (stdio would malloc). */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t total = 0, n;
    while ((size_t)total < size - 1 && (n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
        total += n;
    close(fd);
    buf[total] = '\0';
    return total;
}

long bench_rss_kb(void)
{
    char buf[256];
    if (read_proc("/proc/self/statm", buf, sizeof buf) <= 0)
        return -1;
    long size_pages, rss_pages;
    if (sscanf(buf, "%ld %ld", &size_pages, &rss_pages) != 2)
        return -1;
    return rss_pages * (sysconf(_SC_PAGESIZE) / 1024);
}

long bench_peak_rss_kb(void)
{
    char buf[4096];
    if (read_proc("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    const char *p = strstr(buf, "VmHWM:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

void bench_rng_seed(bench_rng_t *r, uint64_t seed)
{
    /* splitmix64 spreads small consecutive seeds (thread ids) apart. */
    for (int i = 0; i < 2; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
    if ((r->s[0] | r->s[1]) == 0)
        r->s[0] = 1;
}

size_t bench_rand_size_log(bench_rng_t *r, size_t lo, size_t hi)
{
    if (lo < 1)
        lo = 1;
    if (hi <= lo)
        return lo;
    int blo = 63 - __builtin_clzll(lo), bhi = 63 - __builtin_clzll(hi);
    int b = (int)bench_rand_range(r, (uint64_t)blo, (uint64_t)bhi);
    size_t from = (size_t)1 << b, to = ((size_t)2 << b) - 1;
    if (from < lo) from = lo;
    if (to > hi) to = hi;
    return (size_t)bench_rand_range(r, from, to);
}

void bench_touch(void *p, size_t n)
{
    volatile unsigned char *c = p;
    for (size_t i = 0; i < n; i += 4096)
        c[i] = (unsigned char)i;
    if (n)
        c[n - 1] = 1;
}

void *bench_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        bench_die("malloc(%zu) failed", n);
    return p;
}

void bench_run_threads(int n, void *(*fn)(void *), void *base, size_t stride)
{
    pthread_t *t = bench_xmalloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++) {
        int e = pthread_create(&t[i], NULL, fn, (char *)base + (size_t)i * stride);
        if (e)
            bench_die("pthread_create: %s", strerror(e));
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
}
