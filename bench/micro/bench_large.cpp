// Large blocks around the mmap threshold (64 KiB .. 1 MiB): a FIFO of 8 live
// blocks so the block just freed is not simply handed back, one byte touched
// per page so page-fault costs of returning memory too eagerly are counted.
#include "policy.h"

template <class P>
static void BM_Large(benchmark::State &state)
{
    constexpr int kLive = 8;
    const std::size_t size = static_cast<std::size_t>(state.range(0));
    void *live[kLive] = {};
    int next = 0;
    std::size_t footprint = 0;
    for (auto _ : state) {
        P::free(live[next]);
        char *p = static_cast<char *>(check_alloc(state, P::malloc(size)));
        if (p == nullptr)
            break;
        for (std::size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        live[next] = p;
        next = (next + 1) % kLive;
        if (next == 0 && footprint == 0 && state.thread_index() == 0)
            footprint = P::footprint();
    }
    for (void *p : live)
        P::free(p);
    set_time_per_op(state, 2.0 * static_cast<double>(state.iterations()));
    if (state.thread_index() == 0 && footprint != 0) // 0: fewer than kLive iterations ran
        state.counters["footprint_bytes"] = benchmark::Counter(static_cast<double>(footprint), benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
}
TA_BENCH(BM_Large, ->RangeMultiplier(2)->Range(64 << 10, 1 << 20)->ThreadRange(1, 8)->UseRealTime());
