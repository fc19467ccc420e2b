/* Messages from inside the allocator: formatted into a stack buffer and
 * written with write(2), so reporting never allocates or touches stdio. */
#ifndef TA_LOG_H
#define TA_LOG_H
#include "internal.h"

/* A small append-only formatter over a caller-supplied buffer. */
typedef struct ta_buf {
    char *p;
    size_t len, cap;
} ta_buf_t;

void ta_buf_str(ta_buf_t *b, const char *s) TA_HIDDEN;
void ta_buf_u64(ta_buf_t *b, uint64_t v) TA_HIDDEN;
void ta_buf_hex(ta_buf_t *b, uint64_t v) TA_HIDDEN;
/* Writes and empties the buffer; 0 or the errno of a failed write. */
int ta_buf_write(ta_buf_t *b, int fd) TA_HIDDEN;

/* Misuse of the API: "tarena: <func>(): <what> (ptr=0x...)" on stderr and
 * abort(), or what TARENA_CHECK_ACTION / M_CHECK_ACTION says instead (bit 0
 * print, bit 1 abort). Returns only when the action does not abort; the
 * caller then leaves the block alone (it is leaked, never reused). */
void ta_log_misuse(const char *func, const char *what, const void *ptr) TA_HIDDEN;
/* One warning line on stderr. */
void ta_log_warn(const char *what, const char *detail) TA_HIDDEN;
#endif
