/* Helper implementations for the integration suites (see integ.h): patterns,
 * /proc/self/statm, and the fork()ed-child runner with stderr capture. */
#include "integ.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile size_t opaque_sink;

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

/* Read with open/read rather than stdio: the OOM tests call this where a
 * FILE buffer could not be allocated. */
static size_t statm_field(int idx)
{
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
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
