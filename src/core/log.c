/* write(2)-based message formatting; see log.h. */
#include "log.h"
#include "options.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

void ta_buf_str(ta_buf_t *b, const char *s)
{
    while (*s && b->len < b->cap)
        b->p[b->len++] = *s++;
}

void ta_buf_u64(ta_buf_t *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && b->len < b->cap)
        b->p[b->len++] = tmp[--n];
}

void ta_buf_hex(ta_buf_t *b, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    ta_buf_str(b, "0x");
    while (n && b->len < b->cap)
        b->p[b->len++] = tmp[--n];
}

int ta_buf_write(ta_buf_t *b, int fd)
{
    int saved = errno, rc = 0;
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->p + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? errno : EIO;
            break;
        }
        off += (size_t)w;
    }
    b->len = 0;
    errno = saved;
    return rc;
}

/* Detections so far, whatever the check action (ta_test_misuse_count). */
static unsigned long misuse_count;

TA_EXPORT unsigned long ta_test_misuse_count(void)
{
    return __atomic_load_n(&misuse_count, __ATOMIC_RELAXED);
}

void ta_log_misuse(const char *func, const char *what, const void *ptr)
{
    __atomic_add_fetch(&misuse_count, 1, __ATOMIC_RELAXED);
    uint64_t action = TA_OPT(check_action);
    if (!(action & 1)) {
        if (action & 2)
            abort();
        return;
    }
    char mem[256];
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "tarena: ");
    ta_buf_str(&b, func);
    ta_buf_str(&b, "(): ");
    ta_buf_str(&b, what);
    ta_buf_str(&b, " (ptr=");
    ta_buf_hex(&b, (uintptr_t)ptr);
    ta_buf_str(&b, ")\n");
    ta_buf_write(&b, 2);
    if (action & 2)
        abort();
}

void ta_log_warn(const char *what, const char *detail)
{
    char mem[256];
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "tarena: warning: ");
    ta_buf_str(&b, what);
    if (detail) {
        ta_buf_str(&b, ": ");
        ta_buf_str(&b, detail);
    }
    ta_buf_str(&b, "\n");
    ta_buf_write(&b, 2);
}

void ta_assert_fail(const char *expr, const char *file, int line)
{
    char mem[256];
    ta_buf_t b = {mem, 0, sizeof mem};
    ta_buf_str(&b, "tarena: assertion failed: ");
    ta_buf_str(&b, expr);
    ta_buf_str(&b, " at ");
    ta_buf_str(&b, file);
    ta_buf_str(&b, ":");
    ta_buf_u64(&b, (uint64_t)line);
    ta_buf_str(&b, "\n");
    ta_buf_write(&b, 2);
    abort();
}
