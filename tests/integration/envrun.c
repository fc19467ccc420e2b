/* Implementation of envrun.h: child processes with a chosen environment and
 * captured output, resident-set and thread-name probes from /proc. */
#include "envrun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Variables that configure tarena or glibc malloc: the child starts without
 * them, so only what a test passes is in effect. */
static int allocator_var(const char *e)
{
    static const char *const prefixes[] = {"TARENA_", "MALLOC_", "GLIBC_TUNABLES=", "LD_PRELOAD="};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

typedef struct {
    char *p;
    size_t len, cap;
} growbuf_t;

static void grow_append(growbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return; /* keep what we have; the test will see a short output */
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

int er_run(const char *const argv[], const char *const env[], unsigned timeout_s, er_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    size_t n = 0, extra = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    for (const char *const *e = env; e && *e; e++)
        extra++;
    char **envp = calloc(n + extra + 1, sizeof *envp);
    if (!envp)
        return -1;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!allocator_var(*e))
            envp[k++] = *e;
    for (const char *const *e = env; e && *e; e++)
        envp[k++] = (char *)*e;
    envp[k] = NULL;

    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0) {
        free(envp);
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        free(envp);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        free(envp);
        return -1;
    }
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        signal(SIGALRM, SIG_DFL);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        alarm(timeout_s); /* survives execve */
        execve(argv[0], (char *const *)argv, envp);
        static const char msg[] = "er_run: execve failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    free(envp);
    close(po[1]);
    close(pe[1]);
    growbuf_t out = {0}, err = {0};
    grow_append(&out, "", 0);
    grow_append(&err, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char tmp[4096];
            ssize_t got = read(fds[i].fd, tmp, sizeof tmp);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            grow_append(i ? &err : &out, tmp, (size_t)got);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    r->status = status;
    r->out = out.p;
    r->outlen = out.len;
    r->err = err.p;
    r->errlen = err.len;
    return 0;
}

void er_free(er_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *er_status_str(int status, char *buf, size_t len)
{
    if (status == -1)
        snprintf(buf, len, "not run");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "status 0x%x", status);
    return buf;
}

int er_ok(const er_result_t *r)
{
    return r->status != -1 && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

size_t er_count_lines(const char *text, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);
    for (const char *s = text; s && *s;) {
        if (strncmp(s, prefix, plen) == 0)
            n++;
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return n;
}

int er_get_u64(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *s = text; s && *s;) {
        if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(s + klen + 1, &end, 0);
            if (errno || end == s + klen + 1)
                return 0;
            *out = v;
            return 1;
        }
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return 0;
}

/* Reads a small /proc file into buf with open/read. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off + 1 < len) {
        ssize_t n = read(fd, buf + off, len - 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    buf[off] = 0;
    return (ssize_t)off;
}

static size_t kb_field(const char *text, const char *name)
{
    const char *s = strstr(text, name);
    if (!s)
        return 0;
    s += strlen(name);
    while (*s == ' ' || *s == '\t')
        s++;
    return (size_t)strtoull(s, NULL, 10) * 1024;
}

size_t er_rss_bytes(void)
{
    char buf[2048];
    if (read_file("/proc/self/smaps_rollup", buf, sizeof buf) > 0 && strstr(buf, "\nRss:")) {
        size_t rss = kb_field(buf, "\nRss:"), lazy = kb_field(buf, "\nLazyFree:");
        return rss > lazy ? rss - lazy : 0;
    }
    if (read_file("/proc/self/statm", buf, sizeof buf) <= 0)
        return 0;
    const char *s = strchr(buf, ' ');
    return s ? (size_t)strtoull(s + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

unsigned er_threads_named(const char *comm)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX], name[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        ssize_t len = read_file(path, name, sizeof name);
        if (len <= 0)
            continue;
        if (name[len - 1] == '\n')
            name[len - 1] = 0;
        n += strcmp(name, comm) == 0;
    }
    closedir(d);
    return n;
}

unsigned er_decay_ms(void)
{
    const char *v = getenv("TARENA_DECAY_MS");
    if (v && *v) {
        char *end;
        unsigned long d = strtoul(v, &end, 10);
        if (!*end && d <= 3600000)
            return (unsigned)d;
    }
    return 1000;
}

uint64_t er_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void er_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void *er_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void er_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

int er_write_temp(const char *text, size_t len, char *path)
{
    snprintf(path, PATH_MAX, "%s/ta_envrun_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        off += (size_t)n;
    }
    close(fd);
    return 0;
}
