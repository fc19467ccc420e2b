/* Helper implementations for the integration suites (see integ.h): patterns,
 * /proc/self/statm, and the fork()ed-child runner with stderr capture. */
#include "integ.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Thread-local: with one shared sink, a thread could read back the size
 * another thread stored in between (seen: malloc(3000) called for a
 * 172766-byte request in the mt_stress suite). */
static __thread volatile size_t opaque_sink;

size_t it_opaque(size_t v)
{
    opaque_sink = v;
    return opaque_sink;
}

size_t it_logsize(it_rng_t *r, size_t max)
{
    unsigned bits = 0;
    while (bits < 63 && ((size_t)1 << (bits + 1)) <= max)
        bits++;
    unsigned b = (unsigned)(it_rand(r) % (bits + 1));
    size_t hi = (size_t)1 << b;
    if (hi > max)
        hi = max;
    return it_range(r, hi / 2 + 1 > hi ? hi : hi / 2 + 1, hi);
}

static inline uint64_t pattern_word(uint64_t seed, uint64_t k)
{
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (k + 1) * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 29);
}

void it_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i >> 3);
        __builtin_memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = pattern_word(seed, i >> 3);
        __builtin_memcpy(b + i, &w, n - i);
    }
}

ptrdiff_t it_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i >> 3), got;
        __builtin_memcpy(&got, b + i, 8);
        if (got != w)
            break;
    }
    for (; i < n; i++) {
        uint64_t w = pattern_word(seed, i >> 3);
        if (b[i] != (unsigned char)(w >> (8 * (i & 7))))
            return (ptrdiff_t)i;
    }
    return -1;
}

ptrdiff_t it_check_byte(const void *p, size_t n, unsigned char c)
{
    const unsigned char *b = p;
    size_t i = 0;
    uint64_t w = 0x0101010101010101ull * c;
    for (; i + 8 <= n; i += 8) {
        uint64_t got;
        __builtin_memcpy(&got, b + i, 8);
        if (got != w)
            break;
    }
    for (; i < n; i++)
        if (b[i] != c)
            return (ptrdiff_t)i;
    return -1;
}

size_t it_page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

int it_is_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

int it_read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return 1;
}

static size_t statm_field(int idx)
{
    char buf[256];
    if (!it_read_text("/proc/self/statm", buf, sizeof buf))
        return 0;
    char *s = buf;
    for (int i = 0; i < idx; i++) {
        s = strchr(s, ' ');
        if (!s)
            return 0;
        s++;
    }
    return (size_t)strtoull(s, NULL, 10) * it_page();
}

size_t it_vm_bytes(void)
{
    return statm_field(0);
}

size_t it_rss_bytes(void)
{
    return statm_field(1);
}

int it_run_child(it_child_fn fn, void *arg, int capture, unsigned timeout_s, it_child_t *res)
{
    int fds[2] = {-1, -1};
    memset(res, 0, sizeof *res);
    if (capture && pipe(fds) != 0)
        return -1;
    fflush(NULL); /* or the child's copy of CUnit's buffered output shows twice */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        signal(SIGALRM, SIG_DFL);
        alarm(timeout_s);
        if (capture) {
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
        }
        _exit(fn(arg));
    }
    if (capture) {
        close(fds[1]);
        for (;;) {
            char tmp[512];
            ssize_t n = read(fds[0], tmp, sizeof tmp);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            size_t room = sizeof res->out - 1 - res->outlen;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(res->out + res->outlen, tmp, take);
            res->outlen += take;
        }
        res->out[res->outlen] = 0;
        close(fds[0]);
    }
    while (waitpid(pid, &res->status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

const char *it_status_str(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "status 0x%x", status);
    return buf;
}

/* ---- helpers of the thread-scaling suites ---- */

void it_note(it_errlog_t *e, const char *fmt, ...)
{
    if (e->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
}

int it_blk_check(it_errlog_t *e, const char *what, const it_blk_t *b, size_t n)
{
    ptrdiff_t off = it_check(b->p, n, b->id);
    if (off >= 0)
        it_note(e, "%s: block %p size %zu id %llx bad at byte %td", what, (void *)b->p, b->n,
                (unsigned long long)b->id, off);
    return off < 0;
}

ta_stats_t it_stats(void)
{
    ta_stats_t st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.version = TA_STATS_VERSION;
    int rc = ta_stats_get(&st);
    CU_ASSERT_EQUAL(rc, 0);
    return st;
}

static pthread_attr_t thread_attr[2];
static pthread_once_t thread_attr_once = PTHREAD_ONCE_INIT;

static void thread_attr_init(void)
{
    for (int d = 0; d < 2; d++) {
        pthread_attr_init(&thread_attr[d]);
        pthread_attr_setstacksize(&thread_attr[d], 256 * IT_KIB);
        pthread_attr_setdetachstate(&thread_attr[d], d ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
    }
}

int it_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int detached)
{
    pthread_once(&thread_attr_once, thread_attr_init);
    return pthread_create(t, &thread_attr[detached ? 1 : 0], fn, arg);
}

static void *warm_fn(void *arg)
{
    return arg;
}

/* Whether this process has a thread named name (from /proc/self/task). */
static int have_thread_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[320], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (n > 0) {
            comm[n] = 0;
            comm[strcspn(comm, "\n")] = 0;
            found = strcmp(comm, name) == 0;
        }
    }
    closedir(d);
    return found;
}

void it_allocator_threads_settle(void)
{
    /* Freed page runs give the trimmer work; the free that notices starts it. */
    for (int round = 0; round < 100 && !have_thread_named("tarena-trim"); round++) {
        void *p[64];
        for (int i = 0; i < 64; i++)
            p[i] = malloc(it_opaque(100 * IT_KIB));
        for (int i = 0; i < 64; i++)
            free(p[i]);
        it_sleep_ms(round < 5 ? 1 : 10);
    }
}

void it_threads_warm(unsigned n)
{
    it_allocator_threads_settle();
    pthread_t *t = calloc(n, sizeof *t);
    unsigned made = 0;
    if (!t)
        return;
    while (made < n && it_thread_start(&t[made], warm_fn, NULL, 0) == 0)
        made++;
    for (unsigned i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    free(t);
}

static long read_long_file(const char *path, int field)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *s = buf;
    for (int i = 0; i < field && s; i++) {
        s = strpbrk(s, " /");
        if (s)
            s++;
    }
    return s ? strtol(s, NULL, 10) : -1;
}

size_t it_thread_room(void)
{
    long limit = 1L << 30;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < limit)
        limit = (long)rl.rlim_cur;
    long v = read_long_file("/proc/sys/kernel/threads-max", 0);
    if (v > 0 && v < limit)
        limit = v;
    v = read_long_file("/proc/sys/kernel/pid_max", 0);
    if (v > 0 && v < limit)
        limit = v;
    /* /proc/loadavg: "0.00 0.01 0.05 1/123 4567": field 4 = all threads */
    long used = read_long_file("/proc/loadavg", 4);
    if (used < 0)
        used = 1000;
    limit -= used + 512;
    return limit > 0 ? (size_t)limit : 0;
}

void it_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int it_wait_pid(pid_t pid, unsigned timeout_ms, int *status)
{
    uint64_t deadline = it_now_ms() + timeout_ms;
    unsigned nap_us = 50;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (it_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return 1;
        }
        struct timespec ts = {0, (long)nap_us * 1000L};
        nanosleep(&ts, NULL);
        if (nap_us < 2000)
            nap_us *= 2;
    }
}
