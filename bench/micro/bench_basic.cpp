// Small-block micro benchmarks: malloc+free pairs per size class, batches of
// N allocations freed together, and calloc. These measure the thread-cache
// fast path (pairs) and the refill/flush path (batches).
#include "policy.h"

#include <cstring>
#include <vector>

// One malloc and one free per iteration: the tightest fast-path loop.
template <class P>
static void BM_MallocFree(benchmark::State &state)
{
    const std::size_t size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        void *p = check_alloc(state, P::malloc(size));
        benchmark::DoNotOptimize(p);
        P::free(p);
    }
    set_time_per_op(state, 2.0 * static_cast<double>(state.iterations()));
}
TA_BENCH(BM_MallocFree, ->RangeMultiplier(2)->Range(16, 32 << 10)->ThreadRange(1, 8)->UseRealTime());

// Allocate N blocks, then free them in allocation order: more blocks than a
// thread cache holds, so refill and flush to the arenas are part of the cost.
// footprint_bytes: what the allocator holds from the OS with the N blocks live
// (includes whatever earlier cases left cached; compare policies, not runs).
template <class P>
static void BM_Batch(benchmark::State &state)
{
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    const std::size_t size = static_cast<std::size_t>(state.range(1));
    std::vector<void *> blocks(n);
    std::size_t footprint = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < n; i++) {
            blocks[i] = check_alloc(state, P::malloc(size));
            *static_cast<char *>(blocks[i]) = 1;
        }
        benchmark::ClobberMemory();
        if (footprint == 0 && state.thread_index() == 0) {
            state.PauseTiming();
            footprint = P::footprint();
            state.ResumeTiming();
        }
        for (std::size_t i = 0; i < n; i++)
            P::free(blocks[i]);
    }
    set_time_per_op(state, 2.0 * static_cast<double>(n) * static_cast<double>(state.iterations()));
    if (state.thread_index() == 0) {
        state.counters["footprint_bytes"] = benchmark::Counter(static_cast<double>(footprint), benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
        state.counters["live_bytes"] = benchmark::Counter(static_cast<double>(n * size * static_cast<std::size_t>(state.threads())), benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
    }
}
TA_BENCH(BM_Batch, ->ArgsProduct({{1000, 10000}, {16, 64, 512, 4096}})->ThreadRange(1, 8)->UseRealTime());

// calloc must hand out zeroed memory; large sizes show who avoids the memset
// for fresh pages.
template <class P>
static void BM_Calloc(benchmark::State &state)
{
    const std::size_t size = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        char *p = static_cast<char *>(check_alloc(state, P::calloc(1, size)));
        benchmark::DoNotOptimize(p);
        if (p != nullptr && p[size - 1] != 0)
            state.SkipWithError("calloc returned non-zero memory");
        P::free(p);
    }
    set_time_per_op(state, 2.0 * static_cast<double>(state.iterations()));
}
TA_BENCH(BM_Calloc, ->RangeMultiplier(8)->Range(16, 1 << 20)->ThreadRange(1, 8)->UseRealTime());
