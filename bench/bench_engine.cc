// bench_engine - what the pinned-thread schedule costs and buys (core/engine/engine.c).
//
// Benchmarks:
//   ring_handoff            one message through an SPSC ring, producer and consumer in this
//                           thread (reserve, commit, peek, release): the baseline
//   ring_handoff_doorbell   the same plus the producer's doorbell check as engine.c does it
//                           after a commit (a seq_cst fence and a relaxed load of the
//                           consumer's state, which says awake): the doorbell's cost on the
//                           hot path while the consumer is awake
//   roundtrip_inline        a command answered by the gateway alone (a reject: unknown bank)
//                           through the embedded engine, xr_engine_submit then xr_engine_poll
//                           in this thread (INLINE schedule; the engine has no venue)
//   roundtrip_threads_spin  the same in the THREADS schedule with the gateway's thread
//                           spinning (spin_ns 1 s): submit, then poll until the answer is in
//   roundtrip_threads_default the same with the default spin_ns (50 us): commands back to back
//                           find the gateway's thread still spinning
//   roundtrip_threads_sleep the same with spin_ns 0: the gateway's thread sleeps on its futex
//                           between commands, so each one pays the futex wake-up
// Each round trip also reports p50_ns and p99_ns of single commands.
//
// Usage: bench_engine [google-benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <time.h>
#include <vector>

#include "core/ring/spsc_ring.h"
#include "xroute/engine.h"

namespace
{

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Ring {
    xr_spsc_ring r;
    void *mem;
    Ring()
    {
        size_t len = xr_spsc_ring_footprint(256, 64);
        mem = std::aligned_alloc(64, (len + 63) & ~size_t(63));
        if (xr_spsc_ring_init(&r, mem, len, 256, 64) != XR_OK)
            std::abort();
    }
    ~Ring()
    {
        std::free(mem);
    }
};

alignas(128) std::atomic<uint32_t> consumer_state{0}; // 0: awake (engine.c ENG_AWAKE)

template <bool Doorbell> void handoff(benchmark::State &state)
{
    Ring ring;
    uint64_t woke = 0;
    for (auto _ : state) {
        void *slot = xr_spsc_ring_try_reserve(&ring.r);
        std::memset(slot, 1, 64);
        xr_spsc_ring_commit(&ring.r, 1);
        if (Doorbell) {
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (consumer_state.load(std::memory_order_relaxed) != 0)
                woke++;
        }
        const void *m = xr_spsc_ring_peek(&ring.r);
        benchmark::DoNotOptimize(m);
        xr_spsc_ring_release(&ring.r, 1);
    }
    benchmark::DoNotOptimize(woke);
}

void ring_handoff(benchmark::State &state)
{
    handoff<false>(state);
}
void ring_handoff_doorbell(benchmark::State &state)
{
    handoff<true>(state);
}

struct Engine {
    xr_engine *e = nullptr;
    char dir[64] = "/tmp/xr_bench_engine_XXXXXX";
    Engine(uint32_t schedule, uint32_t spin_ns)
    {
        if (mkdtemp(dir) == nullptr)
            std::abort();
        xr_engine_config c;
        xr_engine_config_default(&c);
        std::snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
        c.nbanks = 1;
        c.banks[0] = xr_engine_bank_config{1, 150};
        c.schedule = schedule;
        c.spin_ns = spin_ns;
        if (xr_engine_open(&c, &e) != XR_OK)
            std::abort();
    }
    ~Engine()
    {
        xr_engine_close(e);
        std::string cmd = std::string("rm -rf '") + dir + "'";
        if (std::system(cmd.c_str()) != 0)
            std::abort();
    }
    // One command the gateway answers by itself (unknown bank), to its answer.
    void roundtrip(uint64_t corr)
    {
        xr_engine_cmd c;
        std::memset(&c, 0, sizeof c);
        c.kind = XR_ENGINE_CMD_BALANCES;
        c.bank_id = 99;
        c.correlation_id = corr;
        c.customer_id = 1;
        if (xr_engine_submit(e, &c) != XR_OK)
            std::abort();
        xr_engine_event ev;
        size_t n = 0;
        do {
            if (xr_engine_poll(e, &ev, 1, &n) != XR_OK)
                std::abort();
        } while (n == 0);
        if (ev.kind != XR_ENGINE_EV_REJECT || ev.correlation_id != corr ||
            ev.u.reject.err != XR_ERR_UNAUTHORIZED)
            std::abort();
    }
};

void roundtrip(benchmark::State &state, uint32_t schedule, uint32_t spin_ns)
{
    Engine eng(schedule, spin_ns);
    uint64_t corr = 0;
    for (auto _ : state)
        eng.roundtrip(++corr);
    constexpr int n = 20000;
    std::vector<uint64_t> t(n);
    for (int i = 0; i < n; i++) {
        if (spin_ns == 0) {
            timespec ts = {0, 20000}; // let the gateway's thread fall asleep
            nanosleep(&ts, nullptr);
        }
        uint64_t a = now_ns();
        eng.roundtrip(++corr);
        t[size_t(i)] = now_ns() - a;
    }
    std::sort(t.begin(), t.end());
    state.counters["p50_ns"] = double(t[n / 2]);
    state.counters["p99_ns"] = double(t[n * 99 / 100]);
}

void roundtrip_inline(benchmark::State &state)
{
    roundtrip(state, XR_ENGINE_SCHEDULE_INLINE, 50000);
}
void roundtrip_threads_spin(benchmark::State &state)
{
    roundtrip(state, XR_ENGINE_SCHEDULE_THREADS, 1000000000);
}
void roundtrip_threads_default(benchmark::State &state)
{
    roundtrip(state, XR_ENGINE_SCHEDULE_THREADS, 50000);
}
void roundtrip_threads_sleep(benchmark::State &state)
{
    roundtrip(state, XR_ENGINE_SCHEDULE_THREADS, 0);
}

} // namespace

BENCHMARK(ring_handoff);
BENCHMARK(ring_handoff_doorbell);
BENCHMARK(roundtrip_inline);
BENCHMARK(roundtrip_threads_spin);
BENCHMARK(roundtrip_threads_default);
BENCHMARK(roundtrip_threads_sleep);
BENCHMARK_MAIN();
