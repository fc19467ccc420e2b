/* ta_env_helper: the program the suites trim, options_env and stats_json run
 * in a fresh process with a chosen environment (TARENA_*, MALLOC_*,
 * GLIBC_TUNABLES are read once, at start-up, so each environment needs its
 * own process). Linked to libtarena.so. Its arguments are commands, run in
 * order; each reports KEY=VALUE lines on stdout, and tarena's own messages
 * (TARENA_SHOW_OPTIONS, warnings, TARENA_STATS) go to stderr untouched.
 * Exit status 0, 2 for a bad command line, 3 when an allocation failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <tarena.h>
#include <time.h>
#include <unistd.h>

#define KIB ((size_t)1024)

static void die(const char *what)
{
    fprintf(stderr, "ta_env_helper: %s\n", what);
    exit(3);
}

static size_t arg_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    switch (*end) {
    case 'k': v <<= 10; end++; break;
    case 'm': v <<= 20; end++; break;
    case 'g': v <<= 30; end++; break;
    default: break;
    }
    if (*end || end == s) {
        fprintf(stderr, "ta_env_helper: bad size '%s'\n", s);
        exit(2);
    }
    return (size_t)v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static ta_stats_t stats(void)
{
    ta_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.version = TA_STATS_VERSION;
    if (ta_stats_get(&s) != 0)
        die("ta_stats_get failed");
    return s;
}

static unsigned trim_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    unsigned n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, name, sizeof name - 1);
        close(fd);
        n += len > 0 && strncmp(name, "tarena-trim\n", 12) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static size_t rss_bytes(void)
{
    char buf[2048];
    int fd = open("/proc/self/smaps_rollup", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n > 0) {
        buf[n] = 0;
        char *r = strstr(buf, "\nRss:"), *l = strstr(buf, "\nLazyFree:");
        size_t rss = r ? strtoull(r + 5, NULL, 10) : 0, lazy = l ? strtoull(l + 10, NULL, 10) : 0;
        return (rss - (lazy < rss ? lazy : rss)) * KIB;
    }
    fd = open("/proc/self/statm", O_RDONLY);
    n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *s = strchr(buf, ' ');
    return s ? strtoull(s + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* A working set of small blocks (16 B .. 4 KiB, fixed sequence), touched. */
typedef struct {
    void **p;
    size_t n, cap_bytes;
} wset_t;

static void wset_alloc(wset_t *w, size_t bytes)
{
    size_t cap = bytes / 16 + 1;
    w->cap_bytes = cap * sizeof(void *);
    w->p = mmap(NULL, w->cap_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->p == MAP_FAILED)
        die("mmap failed");
    w->n = 0;
    uint64_t x = 0x1234567;
    for (size_t total = 0; total < bytes;) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t sz = 16 + (size_t)((x >> 33) % (4096 - 16 + 1));
        void *p = malloc(sz);
        if (!p)
            die("malloc failed");
        memset(p, 0x5c, sz);
        w->p[w->n++] = p;
        total += sz;
    }
}

static void wset_free(wset_t *w)
{
    for (size_t i = w->n; i-- > 0;)
        free(w->p[i]);
    munmap(w->p, w->cap_bytes);
    w->p = NULL;
    w->n = 0;
}

static void *arena_thread(void *arg)
{
    pthread_barrier_t *b = arg;
    void *p = malloc(1000);
    pthread_barrier_wait(b); /* all threads alive, each with its cache */
    pthread_barrier_wait(b); /* main has taken its snapshot */
    free(p);
    return NULL;
}

typedef struct {
    size_t bytes, base, peak, after, lazy;
    unsigned wait; /* ms to wait for RSS to come within 16 MiB of base */
} rss_job_t;

static size_t lazyfree_bytes(void)
{
    char buf[2048];
    int fd = open("/proc/self/smaps_rollup", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *l = strstr(buf, "\nLazyFree:");
    return l ? strtoull(l + 10, NULL, 10) * KIB : 0;
}

static void *rss_thread(void *arg)
{
    rss_job_t *j = arg;
    wset_t w;
    j->base = rss_bytes();
    wset_alloc(&w, j->bytes);
    j->peak = rss_bytes();
    wset_free(&w);
    uint64_t deadline = now_ms() + j->wait;
    j->after = rss_bytes();
    while (j->after > j->base + (16 << 20) && now_ms() < deadline) {
        sleep_ms(5);
        j->after = rss_bytes();
    }
    j->lazy = lazyfree_bytes();
    return NULL;
}

/* Byte pattern that depends on the seed and the position. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 12)) & 0xff);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)((i * 131 + seed * 7 + (i >> 12)) & 0xff))
            return 0;
    return 1;
}

/* tarena grows the break (block A, 8 MiB), someone else sbrk()s 1 MiB above
 * it, A is freed: the break must stay where the foreign sbrk left it, while
 * waiting up to WAIT ms (for the trimmer to purge A instead) and through
 * malloc_trim(0). Then tarena grows the break again (block B, 24 MiB, above
 * the foreign region) and frees it: the break may come down, never below the
 * foreign region. Live blocks below and the foreign region stay intact.
 * Needs the mmap threshold above 24 MiB. Reports what happened. */
static void foreign_sbrk(unsigned wait)
{
    enum { NKEEP = 64 };
    const size_t asz = 8 << 20, bsz = 24 << 20, fsz = 1 << 20, pad = 128 * KIB;
    unsigned char *keep[NKEEP];
    size_t keep_n[NKEEP];
    for (int k = 0; k < NKEEP; k++) {
        keep_n[k] = (size_t)(k + 1) * 997;
        keep[k] = malloc(keep_n[k]);
        if (!keep[k])
            die("malloc failed");
        fill(keep[k], keep_n[k], (unsigned)k);
    }
    char *b0 = sbrk(0);
    unsigned char *a = malloc(asz);
    char *b1 = sbrk(0);
    if (!a)
        die("malloc failed");
    fill(a, asz, 1000);
    int a_in_heap = (char *)a + asz > b0 && (char *)a + asz <= b1;

    unsigned char *f = sbrk((intptr_t)fsz);
    if (f == (void *)-1)
        die("sbrk failed");
    char *fend = (char *)f + fsz;
    fill(f, fsz, 2000);
    int a_intact = intact(a, asz, 1000);
    uint64_t purged0 = stats().purged_bytes, purged1 = purged0;
    free(a);
    int moved = (char *)sbrk(0) != fend;
    uint64_t deadline = now_ms() + wait;
    while (now_ms() < deadline) {
        moved |= (char *)sbrk(0) != fend;
        purged1 = stats().purged_bytes;
        if (purged1 >= purged0 + asz / 2)
            break;
        sleep_ms(5);
    }
    moved |= (char *)sbrk(0) != fend;
    int trim_rc = malloc_trim(0);
    int moved_by_trim = (char *)sbrk(0) != fend;
    int f_intact1 = intact(f, fsz, 2000);

    unsigned char *b = malloc(bsz);
    char *b3 = sbrk(0);
    if (!b)
        die("malloc failed");
    fill(b, bsz, 3000);
    int b_above = (char *)b >= fend && (char *)b + bsz <= b3;
    int b_intact = intact(b, bsz, 3000);
    free(b);
    char *now = sbrk(0);
    int below = now < fend;
    deadline = now_ms() + wait;
    while (now > fend + 2 * pad && now_ms() < deadline) {
        sleep_ms(5);
        now = sbrk(0);
        below |= now < fend;
    }
    int f_intact2 = intact(f, fsz, 2000);
    int keep_ok = 1;
    for (int k = 0; k < NKEEP; k++) {
        keep_ok &= intact(keep[k], keep_n[k], (unsigned)k);
        free(keep[k]);
    }
    unsigned char *c = malloc(asz);
    if (!c)
        die("malloc failed");
    fill(c, asz, 4000);
    int reuse_ok = intact(c, asz, 4000) && intact(f, fsz, 2000);
    free(c);
    printf("a_in_heap=%d\na_intact=%d\nmoved=%d\npurged=%llu\ntrim_rc=%d\nmoved_by_trim=%d\nforeign_intact=%d\n"
           "b_above=%d\nb_intact=%d\nbelow=%d\nabove_end=%zu\nforeign_intact_after=%d\nkeep_intact=%d\n"
           "reuse_ok=%d\n",
           a_in_heap, a_intact, moved, (unsigned long long)(purged1 - purged0), trim_rc, moved_by_trim, f_intact1,
           b_above, b_intact, below, (size_t)(now - fend), f_intact2 && intact(f, fsz, 2000), keep_ok, reuse_ok);
}

static int need(int i, int argc, int n)
{
    if (i + n >= argc) {
        fprintf(stderr, "ta_env_helper: missing argument\n");
        exit(2);
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        free(malloc(100));
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *cmd = argv[i];
        if (strcmp(cmd, "malloc") == 0) {
            free(malloc(100));
        } else if (strcmp(cmd, "churn") == 0 && need(i, argc, 1)) {
            wset_t w;
            wset_alloc(&w, arg_size(argv[++i]));
            wset_free(&w);
        } else if (strcmp(cmd, "mapped") == 0 && need(i, argc, 1)) {
            /* whether malloc(SIZE) got a mapping of its own */
            size_t sz = arg_size(argv[++i]);
            size_t h0 = mallinfo2().hblks;
            void *p = malloc(sz);
            size_t h1 = mallinfo2().hblks;
            if (!p)
                die("malloc failed");
            free(p);
            printf("mapped=%zu\n", h1 - h0);
        } else if (strcmp(cmd, "mallopt") == 0 && need(i, argc, 2)) {
            int param = atoi(argv[i + 1]), value = atoi(argv[i + 2]);
            i += 2;
            printf("mallopt=%d\n", mallopt(param, value));
        } else if (strcmp(cmd, "perturb") == 0 && need(i, argc, 1)) {
            size_t sz = arg_size(argv[++i]);
            unsigned char *p = malloc(sz);
            if (!p)
                die("malloc failed");
            size_t same = 1;
            while (same < sz && p[same] == p[0])
                same++;
            printf("perturb_byte=%u\nperturb_uniform=%d\n", p[0], same == sz);
            free(p);
        } else if (strcmp(cmd, "arenas") == 0 && need(i, argc, 1)) {
            /* N threads alive at once, each allocating: how many arenas */
            unsigned n = (unsigned)arg_size(argv[++i]);
            pthread_t *t = calloc(n, sizeof *t);
            pthread_barrier_t b;
            pthread_barrier_init(&b, NULL, n + 1);
            for (unsigned k = 0; k < n; k++)
                if (pthread_create(&t[k], NULL, arena_thread, &b) != 0)
                    die("pthread_create failed");
            pthread_barrier_wait(&b);
            ta_stats_t s = stats();
            pthread_barrier_wait(&b);
            for (unsigned k = 0; k < n; k++)
                pthread_join(t[k], NULL);
            free(t);
            printf("arenas=%llu\n", (unsigned long long)s.arenas);
        } else if (strcmp(cmd, "cached") == 0) {
            /* What the 64-byte frees added to the cache: other code in the
             * process (a sanitizer runtime, liburcu registering the thread
             * on the first stats walk) may leave blocks of its own cached. */
            void *p[8];
            (void)stats();
            uint64_t before = stats().cached_bytes;
            for (int k = 0; k < 8; k++)
                p[k] = malloc(64);
            for (int k = 0; k < 8; k++)
                free(p[k]);
            printf("cached_bytes=%llu\n", (unsigned long long)(stats().cached_bytes - before));
        } else if (strcmp(cmd, "trimmer") == 0) {
            unsigned t = trim_threads();
            printf("trimmer_thread=%u\ntrimmer_running=%llu\n", t, (unsigned long long)stats().trimmer_running);
        } else if (strcmp(cmd, "wait_trimmer") == 0 && need(i, argc, 1)) {
            uint64_t deadline = now_ms() + arg_size(argv[++i]);
            while (!trim_threads() && now_ms() < deadline)
                sleep_ms(5);
        } else if (strcmp(cmd, "brk_medium") == 0 && need(i, argc, 2)) {
            /* One block below the mmap threshold (set it above SIZE) at the
             * top of the break heap: how far the break goes back down right
             * after free, and after waiting up to WAIT ms for it to give back
             * all but about M_TOP_PAD of the block. */
            size_t sz = arg_size(argv[i + 1]), wait = arg_size(argv[i + 2]), pad = 128 * KIB; /* default M_TOP_PAD */
            i += 2;
            char *b0 = sbrk(0);
            char *p = malloc(sz);
            if (!p)
                die("malloc failed");
            memset(p, 0x33, sz);
            char *b1 = sbrk(0);
            free(p);
            char *b2 = sbrk(0);
            uint64_t top_after = stats().top_bytes;
            char *b3 = b2;
            uint64_t t0 = now_ms(), deadline = t0 + wait;
            while ((size_t)(b1 - b3) + 2 * pad < sz && now_ms() < deadline) {
                sleep_ms(5);
                b3 = sbrk(0);
            }
            uint64_t top_later = stats().top_bytes;
            /* in_heap: the block ends in what the break grew by (it may
             * start in a free top that was there before) */
            printf("grow=%zu\ndrop=%zu\nlater_drop=%zu\nin_heap=%d\ntop_after=%llu\ntop_later=%llu\n",
                   (size_t)(b1 - b0), (size_t)(b1 - b2), (size_t)(b1 - b3), p + sz > b0 && p + sz <= b1,
                   (unsigned long long)top_after, (unsigned long long)top_later);
        } else if (strcmp(cmd, "foreign_sbrk") == 0 && need(i, argc, 1)) {
            foreign_sbrk((unsigned)arg_size(argv[++i]));
        } else if (strcmp(cmd, "brk_small") == 0 && need(i, argc, 1)) {
            char *b0 = sbrk(0);
            wset_t w;
            wset_alloc(&w, arg_size(argv[++i]));
            char *b1 = sbrk(0);
            wset_free(&w);
            char *b2 = sbrk(0);
            printf("grow=%zu\ndrop=%zu\n", (size_t)(b1 - b0), (size_t)(b1 - b2));
        } else if ((strcmp(cmd, "rss_thread") == 0 && need(i, argc, 1)) ||
                   (strcmp(cmd, "rss_thread_wait") == 0 && need(i, argc, 2))) {
            /* a thread (so a secondary arena) allocates and frees SIZE of
             * small blocks; RSS (Rss - LazyFree) right after, or once it is
             * within 16 MiB of where it started (waiting up to MS) */
            rss_job_t j = {arg_size(argv[i + 1]), 0, 0, 0, 0, 0};
            if (strcmp(cmd, "rss_thread_wait") == 0)
                j.wait = (unsigned)arg_size(argv[i + 2]), i++;
            i++;
            pthread_t t;
            if (pthread_create(&t, NULL, rss_thread, &j) != 0)
                die("pthread_create failed");
            pthread_join(t, NULL);
            printf("rss_base=%zu\nrss_peak=%zu\nrss_after=%zu\nlazyfree=%zu\n", j.base, j.peak, j.after, j.lazy);
        } else if (strcmp(cmd, "malloc_trim") == 0 && need(i, argc, 1)) {
            wset_t w;
            wset_alloc(&w, arg_size(argv[++i]));
            wset_free(&w);
            int r1 = malloc_trim(0);
            int r2 = malloc_trim(0);
            printf("trim1=%d\ntrim2=%d\n", r1, r2);
        } else if (strcmp(cmd, "close_stderr") == 0) {
            /* as GNU coreutils do at exit (gnulib's close_stdout) */
            fclose(stdout);
            fclose(stderr);
            return 0;
        } else if (strcmp(cmd, "sleep") == 0 && need(i, argc, 1)) {
            sleep_ms((unsigned)arg_size(argv[++i]));
        } else {
            fprintf(stderr, "ta_env_helper: unknown command '%s'\n", cmd);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
