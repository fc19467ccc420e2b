// realloc growth (a buffer growing by x1.5 up to a limit, as string builders
// and vectors do) and aligned allocation from 64 B to 2 MiB alignment.
#include "policy.h"

#include <cstdint>

template <class P>
static void BM_ReallocGrow(benchmark::State &state)
{
    const std::size_t limit = static_cast<std::size_t>(state.range(0));
    double ops = 0;
    for (auto _ : state) {
        std::size_t size = 16;
        char *p = static_cast<char *>(check_alloc(state, P::malloc(size)));
        p[0] = 1;
        ops++;
        while (p != nullptr && size < limit) {
            size += size / 2;
            p = static_cast<char *>(check_alloc(state, P::realloc(p, size)));
            if (p != nullptr)
                p[size - 1] = 1; // the new tail is used, as a growing buffer would
            ops++;
        }
        benchmark::DoNotOptimize(p);
        P::free(p);
        ops++;
    }
    set_time_per_op(state, ops);
}
TA_BENCH(BM_ReallocGrow, ->RangeMultiplier(16)->Range(4 << 10, 16 << 20)->UseRealTime());

// args: alignment, size (0 = same as the alignment).
template <class P>
static void BM_Aligned(benchmark::State &state)
{
    const std::size_t align = static_cast<std::size_t>(state.range(0));
    const std::size_t size = state.range(1) ? static_cast<std::size_t>(state.range(1)) : align;
    for (auto _ : state) {
        void *p = nullptr;
        if (P::posix_memalign(&p, align, size) != 0 || p == nullptr) {
            state.SkipWithError("posix_memalign failed");
            break;
        }
        if (reinterpret_cast<std::uintptr_t>(p) % align != 0) {
            state.SkipWithError("misaligned block");
            break;
        }
        benchmark::DoNotOptimize(p);
        P::free(p);
    }
    set_time_per_op(state, 2.0 * static_cast<double>(state.iterations()));
}
TA_BENCH(BM_Aligned, ->ArgsProduct({{64, 512, 4096, 32 << 10, 256 << 10, 2 << 20}, {256, 0}})->UseRealTime());
