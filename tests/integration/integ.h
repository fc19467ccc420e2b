/* Shared helpers of the integration suites: values the compiler cannot fold,
 * a deterministic PRNG, position-dependent fill patterns, /proc figures and
 * fork()ed child runs (watchdog, stderr capture) for process-wide effects. */
#ifndef TA_INTEG_H
#define TA_INTEG_H

#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <tarena.h>

#define IT_KIB ((size_t)1024)
#define IT_MIB (IT_KIB * 1024)

/* Sizes and pointers pass through these so that gcc cannot fold a malloc of a
 * constant huge size, warn about free() of a stack object, or drop a
 * malloc/free pair: the calls must really reach the allocator. Both are
 * safe to call from several threads at once. */
size_t it_opaque(size_t v);
static inline void *it_launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* splitmix64: fixed seeds keep every run identical. */
typedef struct {
    uint64_t s;
} it_rng_t;
static inline uint64_t it_rand(it_rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [lo, hi]. */
static inline size_t it_range(it_rng_t *r, size_t lo, size_t hi)
{
    return lo + (size_t)(it_rand(r) % (uint64_t)(hi - lo + 1));
}
/* Log-uniform in [1, max]: small sizes dominate, as in real programs. */
size_t it_logsize(it_rng_t *r, size_t max);

/* Fill n bytes with a pattern that depends on seed and on the position, so a
 * block moved by a few bytes, or mixed up with another block, is detected.
 * it_check returns -1 when intact, else the offset of the first bad byte. */
void it_fill(void *p, size_t n, uint64_t seed);
ptrdiff_t it_check(const void *p, size_t n, uint64_t seed);
/* -1 when all n bytes equal b, else the first offset that does not. */
ptrdiff_t it_check_byte(const void *p, size_t n, unsigned char b);

size_t it_page(void);
int it_is_aligned(const void *p, size_t align);
/* Reads a small file (e.g. under /proc) into buf, NUL-terminated; 1 on
 * success. open/read rather than stdio: callers run where a FILE buffer
 * could not be allocated (out of memory). */
int it_read_text(const char *path, char *buf, size_t size);
/* From /proc/self/statm: total mapped bytes and resident bytes. */
size_t it_vm_bytes(void);
size_t it_rss_bytes(void);

/* Assert with a formatted explanation on stderr when it fails (the loops in
 * these tests need to say which size or alignment went wrong). */
#define IT_ASSERT(cond, ...)                                                  \
    do {                                                                      \
        int it_ok_ = !!(cond);                                                \
        if (!it_ok_) {                                                        \
            fprintf(stderr, "\n  %s:%d: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
        CU_assertImplementation(it_ok_ ? CU_TRUE : CU_FALSE, __LINE__, #cond, \
                                __FILE__, "", CU_FALSE);                      \
    } while (0)

/* Run fn(arg) in a fork()ed child, which _exit()s with fn's return value.
 * The child gets no core dump and an alarm(timeout_s) watchdog, so a hang or
 * a deadlock shows as SIGALRM rather than a stuck test. With capture set, the
 * child's stderr (fd 2) goes to a pipe whose first bytes land in out. */
typedef int (*it_child_fn)(void *arg);
typedef struct {
    int status; /* as from waitpid */
    char out[4096];
    size_t outlen;
} it_child_t;
int it_run_child(it_child_fn fn, void *arg, int capture, unsigned timeout_s, it_child_t *res);
/* "exit 0", "exit 3", "signal 6 (Aborted)": for failure messages. */
const char *it_status_str(int status, char *buf, size_t len);

/* ---- helpers of the thread-scaling suites (mt_stress, prodcons, churn,
 * forks, stats_mt) ---- */
/* Worker threads must not call CUnit asserts (CUnit is not thread-safe):
 * they count errors and keep the first message; the main thread asserts. */
typedef struct {
    unsigned long errors;
    char msg[256];
} it_errlog_t;
void it_note(it_errlog_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A block whose first n bytes hold it_fill(p, n, id): any thread can check it. */
typedef struct {
    unsigned char *p;
    size_t n;
    uint64_t id;
} it_blk_t;
/* Checks the first n bytes of b; notes the first bad byte; 1 when intact. */
int it_blk_check(it_errlog_t *e, const char *what, const it_blk_t *b, size_t n);

/* ta_stats_get() of the current process, asserted to succeed. */
ta_stats_t it_stats(void);

/* Threads of these suites all use one attribute set: 256 KiB stacks. glibc
 * keeps freed stacks in a cache (40 MiB) and calloc()s a DTV for every newly
 * mapped stack, freeing it when the stack leaves the cache; with one stack
 * size everywhere the cache reaches the same state after every burst of
 * threads, so that noise cancels out of the allocs - frees balance once
 * it_threads_warm() has filled the cache. detached: create detached. */
int it_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int detached);
/* Creates n threads at once (doing nothing) and joins them; first
 * it_allocator_threads_settle(). Call before taking a stats baseline. */
void it_threads_warm(unsigned n);
/* tarena starts its background trimmer ("tarena-trim") on the first free
 * that leaves memory to return; creating it allocates (glibc's DTV of its
 * stack) for good. This provokes that start and waits (up to ~1 s) for the
 * thread, so that a stats baseline taken after it does not see that block.
 * Where no trimmer starts (disabled, older builds), it just returns. */
void it_allocator_threads_settle(void);
/* A conservative number of further threads this process may create now
 * (RLIMIT_NPROC, kernel threads-max and pid_max, minus the threads that
 * already exist on the system and a margin). */
size_t it_thread_room(void);

void it_sleep_ms(unsigned ms);
/* Milliseconds on CLOCK_MONOTONIC: only for deadlines of liveness checks
 * (a hang becomes a failure), never for asserting speed. */
uint64_t it_now_ms(void);
/* waitpid() with a deadline: 0 with *status set, or 1 when the child did not
 * end in timeout_ms (it is then SIGKILLed and reaped), -1 on error. */
int it_wait_pid(pid_t pid, unsigned timeout_ms, int *status);

#endif
