/* Shared helpers of the workload programs: argument parsing (key=value),
 * timing, RSS sampling, a fast per-thread PRNG, thread spawning, and the
 * "malloc-from:" line that lets bench/compare check which allocator ran. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Prints "malloc-from: <library>" and "workload: <name> <args>". Every
 * workload calls it first, so a preload that did not take is caught by
 * bench/compare before any figure is trusted. */
void bench_banner(const char *name, int argc, char **argv);

/* Path of the object that defines the malloc this process calls. */
const char *bench_malloc_from(void);

/* Arguments are key=value (a leading "--" is accepted). bench_args_check
 * exits with a usage message on an unknown key, so a typo in a compare
 * profile fails loudly instead of silently running the default. */
void bench_args_check(int argc, char **argv, const char *known_keys, const char *usage);
long bench_arg_long(int argc, char **argv, const char *key, long def);
double bench_arg_double(int argc, char **argv, const char *key, double def);
const char *bench_arg_str(int argc, char **argv, const char *key, const char *def);

/* Monotonic clock in seconds. */
double bench_now(void);

/* Current resident set (from /proc/self/statm) and its high-water mark
 * (VmHWM in /proc/self/status), in KiB. Read with read(2) into a stack
 * buffer so sampling does not itself allocate. -1 when unavailable. */
long bench_rss_kb(void);
long bench_peak_rss_kb(void);

/* xoshiro-style state, one per thread: no sharing, no locks, no libc rand. */
typedef struct { uint64_t s[2]; } bench_rng_t;
void bench_rng_seed(bench_rng_t *r, uint64_t seed);

static inline uint64_t bench_rand(bench_rng_t *r)
{
    /* xorshift128+: fast and good enough to pick sizes and slots. */
    uint64_t s1 = r->s[0];
    const uint64_t s0 = r->s[1];
    r->s[0] = s0;
    s1 ^= s1 << 23;
    r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return r->s[1] + s0;
}

/* Uniform in [lo, hi] (inclusive); the tiny modulo bias does not matter here. */
static inline uint64_t bench_rand_range(bench_rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + bench_rand(r) % (hi - lo + 1);
}

/* Mostly-small size in [lo, hi]: uniform over log2 buckets, then uniform in the
 * bucket, so small sizes dominate as they do in real programs. */
size_t bench_rand_size_log(bench_rng_t *r, size_t lo, size_t hi);

/* Writes one byte per page and the last byte, so memory is really committed
 * and a block the allocator handed out twice would show up as corruption
 * in the workload's own checks. */
void bench_touch(void *p, size_t n);

/* malloc that exits with a message on NULL: a workload must not measure
 * a failed run as a fast one. */
void *bench_xmalloc(size_t n);

/* Starts n threads running fn(base + i * stride) and joins them all. */
void bench_run_threads(int n, void *(*fn)(void *), void *base, size_t stride);

/* Prints a message to stderr and exits with status 2. */
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Defeats dead-store and malloc/free pair elimination. */
extern volatile uint64_t bench_sink;

#endif
