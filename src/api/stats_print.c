/* Statistics as JSON or text on a file descriptor (write(2), stack buffers:
 * callable from anywhere), and TARENA_STATS=json|text printing at exit, to
 * stderr or to TARENA_STATS_FILE. */
#include "stats.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct field {
    const char *name;
    size_t offset;
} field_t;

#define F(n) {#n, offsetof(ta_stats_t, n)}
static const field_t stat_fields[] = {
    F(heap_bytes), F(heap_free_bytes), F(in_use_bytes), F(mmapped_bytes), F(mmapped_blocks),
    F(free_runs), F(top_bytes), F(allocs), F(frees), F(trimmed_bytes), F(sbrk_fallbacks),
    F(arenas), F(allocated_bytes), F(freed_bytes), F(cached_bytes), F(threads), F(dirty_bytes),
    F(purged_bytes), F(resident_bytes), F(trimmer_running),
};
#undef F
#define NFIELDS (sizeof stat_fields / sizeof stat_fields[0])

static uint64_t field_value(const ta_stats_t *st, const field_t *f)
{
    return *(const uint64_t *)((const char *)st + f->offset);
}

/* Resident set of the whole process, from /proc/self/statm (0 if unknown). */
static uint64_t process_rss(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *s = strchr(buf, ' ');
    uint64_t pages = 0;
    while (s && (*++s >= '0' && *s <= '9'))
        pages = pages * 10 + (uint64_t)(*s - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int stats_snapshot(ta_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->size = sizeof *st;
    st->version = TA_STATS_VERSION;
    return ta_stats_get(st);
}

TA_EXPORT int ta_stats_print_json(int fd)
{
    ta_stats_t st;
    int rc = stats_snapshot(&st);
    if (rc)
        return rc;
    char mem[256];
    int err = 0;
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "{\"tarena\": {\"version\": \"0.1.0\", \"stats\": {");
    for (size_t i = 0; i < NFIELDS; i++) {
        ta_buf_str(&b, i ? ", \"" : "\"");
        ta_buf_str(&b, stat_fields[i].name);
        ta_buf_str(&b, "\": ");
        ta_buf_u64(&b, field_value(&st, &stat_fields[i]));
        err = err ? err : ta_buf_write(&b, fd);
    }
    ta_buf_str(&b, ", \"process_rss_bytes\": ");
    ta_buf_u64(&b, process_rss());
    ta_buf_str(&b, "}, \"arenas\": [");
    err = err ? err : ta_buf_write(&b, fd);
    ta_arena_snapshot_t a;
    for (unsigned i = 0; ta_snapshot_arena(i, &a); i++) {
        ta_buf_str(&b, i ? ", {\"index\": " : "{\"index\": ");
        ta_buf_u64(&b, i);
        ta_buf_str(&b, ", \"heap_bytes\": ");
        ta_buf_u64(&b, a.heap_bytes);
        ta_buf_str(&b, ", \"free_run_bytes\": ");
        ta_buf_u64(&b, a.run_free_bytes);
        ta_buf_str(&b, ", \"free_slot_bytes\": ");
        ta_buf_u64(&b, a.slot_free_bytes);
        ta_buf_str(&b, ", \"dirty_bytes\": ");
        ta_buf_u64(&b, a.dirty_bytes);
        ta_buf_str(&b, ", \"purged_bytes\": ");
        ta_buf_u64(&b, a.purged_bytes);
        ta_buf_str(&b, ", \"trimmed_bytes\": ");
        ta_buf_u64(&b, a.trimmed_bytes);
        ta_buf_str(&b, "}");
        err = err ? err : ta_buf_write(&b, fd);
    }
    ta_buf_str(&b, "]}}\n");
    err = err ? err : ta_buf_write(&b, fd);
    return err;
}

TA_EXPORT int ta_stats_print_text(int fd)
{
    ta_stats_t st;
    int rc = stats_snapshot(&st);
    if (rc)
        return rc;
    char mem[128];
    int err = 0;
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "tarena statistics:\n");
    for (size_t i = 0; i < NFIELDS; i++) {
        ta_buf_str(&b, "  ");
        ta_buf_str(&b, stat_fields[i].name);
        ta_buf_str(&b, " = ");
        ta_buf_u64(&b, field_value(&st, &stat_fields[i]));
        ta_buf_str(&b, "\n");
        err = err ? err : ta_buf_write(&b, fd);
    }
    ta_buf_str(&b, "  process_rss_bytes = ");
    ta_buf_u64(&b, process_rss());
    ta_buf_str(&b, "\n");
    err = err ? err : ta_buf_write(&b, fd);
    return err;
}

/* Many programs (all of coreutils) close stderr before they exit, so the
 * at-exit report keeps its own copy of it, made at start-up. */
static int stats_fd = -1;

__attribute__((constructor)) static void stats_keep_stderr(void)
{
    const char *mode = ta_env_lookup("TARENA_STATS");
    const char *path = ta_env_lookup("TARENA_STATS_FILE");
    if (mode && *mode && !(path && *path))
        stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
}

__attribute__((destructor)) static void stats_at_exit(void)
{
    const char *mode = ta_env_lookup("TARENA_STATS");
    if (!mode || !*mode)
        return;
    bool json = strcmp(mode, "json") == 0;
    if (!json && strcmp(mode, "text") != 0) {
        ta_log_warn("ignoring bad value for TARENA_STATS (json|text)", mode);
        return;
    }
    const char *path = ta_env_lookup("TARENA_STATS_FILE");
    int fd = stats_fd >= 0 ? stats_fd : 2;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            ta_log_warn("cannot open TARENA_STATS_FILE", path);
            return;
        }
    }
    if (json)
        ta_stats_print_json(fd);
    else
        ta_stats_print_text(fd);
    if (fd != 2)
        close(fd);
    stats_fd = -1;
}
