// Cross-thread micro benchmark: threads are paired, the even one of each pair
// allocates and hands blocks over a single-producer ring, the odd one frees
// them. Every free is remote, the case thread caches find hardest.
#include "policy.h"

#include <atomic>
#include <thread>

namespace {
constexpr int kMaxPairs = 8;
constexpr std::size_t kRing = 1024; // power of two

struct alignas(64) Ring {
    std::atomic<std::size_t> head{0}; // written by the consumer
    alignas(64) std::atomic<std::size_t> tail{0}; // written by the producer
    alignas(64) void *slot[kRing];
};

void spin_pause(unsigned &spins)
{
    // Threads may outnumber cores (2 cores, 8 threads): yield rather than
    // burn the core the peer needs to make progress.
    if (++spins > 64) {
        std::this_thread::yield();
        spins = 0;
    }
}
} // namespace

template <class P>
static void BM_ProducerConsumer(benchmark::State &state)
{
    static Ring rings[kMaxPairs];
    const std::size_t size = static_cast<std::size_t>(state.range(0));
    Ring &r = rings[state.thread_index() / 2];
    const bool producer = state.thread_index() % 2 == 0;
    if (state.thread_index() == 0)
        for (Ring &x : rings)
            x.head = x.tail = 0; // rings are drained at the end of each run
    // Every thread runs the same number of iterations, so each consumer frees
    // exactly what its producer allocated and the rings end empty.
    for (auto _ : state) {
        unsigned spins = 0;
        if (producer) {
            void *p = check_alloc(state, P::malloc(size));
            *static_cast<char *>(p) = 1;
            std::size_t t = r.tail.load(std::memory_order_relaxed);
            while (t - r.head.load(std::memory_order_acquire) >= kRing)
                spin_pause(spins);
            r.slot[t % kRing] = p;
            r.tail.store(t + 1, std::memory_order_release);
        } else {
            std::size_t h = r.head.load(std::memory_order_relaxed);
            while (r.tail.load(std::memory_order_acquire) == h)
                spin_pause(spins);
            P::free(r.slot[h % kRing]);
            r.head.store(h + 1, std::memory_order_release);
        }
    }
    set_time_per_op(state, static_cast<double>(state.iterations()));
}
TA_BENCH(BM_ProducerConsumer, ->RangeMultiplier(4)->Range(16, 4096)->Threads(2)->Threads(4)->Threads(8)->UseRealTime());
