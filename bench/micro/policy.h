// Allocator policies for the google-benchmark harness: every benchmark is a
// template over one of these, and TA_BENCH registers it for both, so each run
// carries its own baseline (the system malloc of the same process).
#ifndef TARENA_BENCH_POLICY_H
#define TARENA_BENCH_POLICY_H

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <malloc.h>

#if TARENA_BENCH_HAVE_TARENA
#include <tarena.h>
#endif

// glibc malloc as linked into this binary (never LD_PRELOAD this binary:
// the baseline would silently become the preloaded allocator).
struct SystemPolicy {
    static void *malloc(std::size_t n) { return ::malloc(n); }
    static void free(void *p) { ::free(p); }
    static void *calloc(std::size_t n, std::size_t s) { return ::calloc(n, s); }
    static void *realloc(void *p, std::size_t n) { return ::realloc(p, n); }
    static int posix_memalign(void **p, std::size_t a, std::size_t n) { return ::posix_memalign(p, a, n); }
    // Bytes the allocator holds from the OS: main + secondary arenas + mmapped.
    static std::size_t footprint()
    {
        struct mallinfo2 m = ::mallinfo2();
        return m.arena + m.hblkhd;
    }
};

#if TARENA_BENCH_HAVE_TARENA
// tarena through its prefixed API (libtarena_prefixed.a), beside glibc.
struct TarenaPolicy {
    static void *malloc(std::size_t n) { return ta_malloc(n); }
    static void free(void *p) { ta_free(p); }
    static void *calloc(std::size_t n, std::size_t s) { return ta_calloc(n, s); }
    static void *realloc(void *p, std::size_t n) { return ta_realloc(p, n); }
    static int posix_memalign(void **p, std::size_t a, std::size_t n) { return ta_posix_memalign(p, a, n); }
    static std::size_t footprint()
    {
        ta_stats_t s{};
        s.size = sizeof s;
        s.version = TA_STATS_VERSION;
        if (ta_stats_get(&s) != 0)
            return 0;
        return static_cast<std::size_t>(s.heap_bytes + s.mmapped_bytes);
    }
};
#define TA_BENCH(fn, ...)                                                      \
    BENCHMARK_TEMPLATE(fn, SystemPolicy) __VA_ARGS__;                          \
    BENCHMARK_TEMPLATE(fn, TarenaPolicy) __VA_ARGS__
#else
// Without the tarena_prefixed_static target only the baseline is built, so
// the harness still compiles (and can be checked) before the core exists.
#define TA_BENCH(fn, ...) BENCHMARK_TEMPLATE(fn, SystemPolicy) __VA_ARGS__
#endif

// Sets the "time_per_op" counter: wall time per allocator call, per thread
// (ops over real time, averaged over threads, inverted). The console prints
// it with a unit, e.g. "12.3ns"; the JSON output holds seconds. ops is the
// number of allocator calls this thread made.
inline void set_time_per_op(benchmark::State &state, double ops)
{
    state.counters["time_per_op"] =
        benchmark::Counter(ops, benchmark::Counter::kAvgThreadsRate | benchmark::Counter::kInvert);
    state.SetItemsProcessed(static_cast<int64_t>(ops));
}

// Aborts the run on a NULL: a failed allocation must not look fast.
inline void *check_alloc(benchmark::State &state, void *p)
{
    if (p == nullptr)
        state.SkipWithError("allocation failed");
    return p;
}

#endif
