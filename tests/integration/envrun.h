/* Helpers of the suites trim, options_env and stats_json: running a program
 * (usually ta_env_helper, built beside the test binary) in a fresh process
 * with a chosen environment and capturing its stdout and stderr; the
 * resident set as the kernel counts it; the threads of a process by name. */
#ifndef TA_ENVRUN_H
#define TA_ENVRUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where CMake put the helper program and the source tree (compile
 * definitions of ta_integration_tests). */
#ifndef TA_ENV_HELPER
#error "TA_ENV_HELPER must name the ta_env_helper program"
#endif
#ifndef TA_SOURCE_DIR
#error "TA_SOURCE_DIR must name the source tree"
#endif

typedef struct {
    int status; /* as from waitpid; -1 when the program could not be run */
    char *out;  /* stdout, NUL-terminated (never NULL after er_run) */
    size_t outlen;
    char *err; /* stderr, NUL-terminated */
    size_t errlen;
} er_result_t;

/* Runs argv[0] (a path) with argv in a fork()ed and exec'd child. The child's
 * environment is this process's minus every variable that configures an
 * allocator (TARENA_*, MALLOC_*, GLIBC_TUNABLES, LD_PRELOAD), plus env
 * ("NAME=VALUE" strings, NULL-terminated; may be NULL). The child gets an
 * alarm(timeout_s) watchdog (kept across exec) and no core dumps. Returns 0
 * once the child has ended (r->status tells how), -1 if it could not start. */
int er_run(const char *const argv[], const char *const env[], unsigned timeout_s, er_result_t *r);
void er_free(er_result_t *r);
/* "exit 0", "signal 14 (Alarm clock)". */
const char *er_status_str(int status, char *buf, size_t len);
/* 1 when the child exited with status 0. */
int er_ok(const er_result_t *r);

/* Lines of text that start with prefix (counted). */
size_t er_count_lines(const char *text, const char *prefix);
/* Value of "KEY=" at the start of a line of text, parsed as unsigned; 1 when
 * found. For the helper's stdout reports. */
int er_get_u64(const char *text, const char *key, uint64_t *out);

/* Resident bytes of this process: Rss minus LazyFree from
 * /proc/self/smaps_rollup (MADV_FREE'd pages still count as Rss until the
 * kernel reclaims them), or statm's resident field where smaps_rollup is
 * missing. open/read only: no stdio, no allocation. */
size_t er_rss_bytes(void);
/* Threads of this process whose name (/proc/self/task/N/comm) is comm. */
unsigned er_threads_named(const char *comm);

/* TARENA_DECAY_MS of this process's environment, or the default 1000. */
unsigned er_decay_ms(void);
uint64_t er_now_ms(void);
void er_sleep_ms(unsigned ms);

/* Anonymous memory outside the allocator, for bookkeeping arrays that must
 * not disturb the heap under test. */
void *er_map(size_t bytes);
void er_unmap(void *p, size_t bytes);

/* Writes text to a new temporary file (path into path, PATH_MAX); 0 or -1. */
int er_write_temp(const char *text, size_t len, char *path);

#endif
