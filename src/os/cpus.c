/* What the process may really use: CPUs, for sizing the arena table, and its
 * cgroup v2 memory limits, for the trimmer. CPUs:
 * sched_getaffinity, then the cgroup v2 quota (cpu.max "quota period").
 * Plain open/read into stack buffers: no stdio, no allocation. */
#define _GNU_SOURCE
#include "os.h"
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

static bool read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return true;
}

static uint64_t parse_num(const char **s)
{
    uint64_t v = 0;
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (uint64_t)(*(*s)++ - '0');
    return v;
}

/* The cgroup v2 path of this process, from /proc/self/cgroup ("0::/path"). */
static bool cgroup_cpu_max(char *out, size_t cap)
{
    char line[512];
    if (!read_small_file("/proc/self/cgroup", line, sizeof line) || strncmp(line, "0::", 3) != 0)
        return false;
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = 0;
    const char *prefix = "/sys/fs/cgroup";
    size_t need = strlen(prefix) + strlen(line + 3) + strlen("/cpu.max") + 1;
    if (need > cap)
        return false;
    strcpy(out, prefix);
    strcat(out, line + 3);
    strcat(out, "/cpu.max");
    return true;
}

unsigned ta_os_usable_cpus(void)
{
    int saved = errno;
    unsigned n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (unsigned)CPU_COUNT(&set);
    if (!n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (unsigned)c : 1;
    }
    char path[600], buf[64];
    if (cgroup_cpu_max(path, sizeof path) && read_small_file(path, buf, sizeof buf) &&
        strncmp(buf, "max", 3) != 0) {
        const char *s = buf;
        uint64_t quota = parse_num(&s);
        while (*s == ' ')
            s++;
        uint64_t period = parse_num(&s);
        if (quota && period) {
            uint64_t q = (quota + period - 1) / period;
            if (q < n)
                n = (unsigned)q;
        }
    }
    errno = saved;
    return n ? n : 1;
}

static uint64_t read_u64_file(const char *dir, const char *name, bool *unlimited)
{
    char path[640], buf[64];
    size_t dl = strlen(dir), nl = strlen(name);
    *unlimited = false;
    if (dl + nl + 2 > sizeof path)
        return 0;
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, name, nl + 1);
    if (!read_small_file(path, buf, sizeof buf))
        return 0;
    if (strncmp(buf, "max", 3) == 0) {
        *unlimited = true;
        return 0;
    }
    const char *s = buf;
    return parse_num(&s);
}

unsigned ta_os_memory_pressure(void)
{
    int saved = errno;
    char path[600];
    unsigned pressure = 0;
    if (cgroup_cpu_max(path, sizeof path)) {
        *strrchr(path, '/') = 0; /* the cgroup's directory */
        bool unl_high, unl_max, unl_cur;
        uint64_t high = read_u64_file(path, "memory.high", &unl_high);
        uint64_t max = read_u64_file(path, "memory.max", &unl_max);
        uint64_t cur = read_u64_file(path, "memory.current", &unl_cur);
        uint64_t limit = 0;
        if (high && !unl_high)
            limit = high;
        if (max && !unl_max && (!limit || max < limit))
            limit = max;
        if (limit && cur)
            pressure = (unsigned)TA_MIN(cur * 1000 / limit, (uint64_t)1000);
    }
    errno = saved;
    return pressure;
}
