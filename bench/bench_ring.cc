// bench_ring - xroute's SPSC ring against Concurrency Kit's ck_ring, on two pinned threads.
//
// (a) Throughput: a producer thread (core 1) pushes N sequenced messages as fast as it can, a
//     consumer thread (core 0) pops and checks them; msg/s over the wall time of the whole
//     transfer. Variants: ours with 8-byte and 64-byte slots (try_push / try_pop), ours with
//     8-byte slots moved 32 at a time (try_push_batch / try_pop_batch), and ck_ring with
//     pointer-sized entries (ck_ring_enqueue_spsc / ck_ring_dequeue_spsc). Same capacity
//     (1024), same spin loop (a pause between failed attempts) for all.
// (b) One-way hop latency: ping-pong between the two pinned threads over a pair of rings (8-byte
//     slots for ours); each sample is half of one round trip, timed with the TSC (calibrated
//     against CLOCK_MONOTONIC), reported as p50 / p99 in ns. Both sides busy-poll.
//
// Fairness on a small shared VM:
//  - Each variant runs --benchmark_repetitions times (default 11), interleaved at random with
//    the other variants, so background load hits all of them alike.
//  - Repetition k of every variant places its ring(s) in the same freshly mapped memory block
//    k. Runs of one ring in different processes (so different physical pages) differed by up
//    to several times while runs inside one process agreed; sharing placements makes
//    repetition k of ours and of ck_ring directly comparable, and the summary reports the
//    median of those paired ratios next to the best figures.
//  - The threads' involuntary context switches are counted per repetition and the load
//    average is printed, so a noisy run shows as one.
//
// The summary gives the best repetition of each variant (the quietest conditions), the median,
// the minimum and the paired ratio.
//
// Usage: bench_ring [google-benchmark flags]; XR_BENCH_RING_MSGS overrides N (default 8M).
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <x86intrin.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <benchmark/benchmark.h>

// ck_ring.h 0.7.1 is written for C: _ck_ring_enqueue_reserve_mp() does `return false;` from a
// function returning void *, which C++11 and later reject (false is no longer a null pointer
// constant). That function is never called here; spelling false as 0 while the header is read
// makes it compile as C would. Every C header it pulls in is included above, so the macro
// reaches nothing but Concurrency Kit's own headers.
#pragma push_macro("false")
#undef false
#define false 0
#include <ck_ring.h>
#pragma pop_macro("false")

#include "core/ring/spsc_ring.h"

namespace
{

constexpr uint32_t kCapacity = 1024; // slots, for every ring in this file
constexpr uint32_t kBatch = 32;      // messages per call in the batch variant
constexpr int kProducerCpu = 1;
constexpr int kConsumerCpu = 0;
constexpr size_t kLatencySamples = 100000;
constexpr size_t kLatencyWarmup = 10000;
constexpr size_t kBlockBytes = 256 * 1024; // one placement: two rings and their slots
constexpr size_t kBlocks = 64;             // distinct placements, reused round-robin

uint64_t g_msgs = 8000000;
unsigned char *g_arena = nullptr;

void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) {
        std::fprintf(stderr, "bench_ring: cannot pin to cpu %d: %s\n", cpu, std::strerror(rc));
        std::exit(1);
    }
}

double now_s()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// TSC ticks per ns, measured once against CLOCK_MONOTONIC over 100 ms.
double tsc_per_ns()
{
    static double value = [] {
        timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        uint64_t t0 = __rdtsc();
        long long ns;
        do {
            clock_gettime(CLOCK_MONOTONIC, &b);
            ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        } while (ns < 100000000LL);
        return double(__rdtsc() - t0) / double(ns);
    }();
    return value;
}

// Involuntary context switches of the calling thread so far. On a 2-core machine shared with
// builds, both pinned threads are preempted now and then; the count per repetition is
// reported so a noisy figure can be recognised as such.
long involuntary_switches()
{
    rusage u;
    getrusage(RUSAGE_THREAD, &u);
    return u.ru_nivcsw;
}

// Placement block k, zeroed; both ring types of repetition k live here.
unsigned char *block(size_t k)
{
    if (g_arena == nullptr) {
        void *p = mmap(nullptr, kBlockBytes * kBlocks, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            std::abort();
        g_arena = static_cast<unsigned char *>(p);
    }
    unsigned char *b = g_arena + (k % kBlocks) * kBlockBytes;
    std::memset(b, 0, kBlockBytes);
    return b;
}

// ---- the rings under test, behind one small interface ----
// A ring object is placed at `where` (ring state in the first 4 KiB, slots after it) and
// `which` (0 or 1) picks one of two rings in the block, for the ping-pong pair.

template <uint32_t SlotBytes> struct Ours {
    struct Msg {
        uint64_t words[SlotBytes / 8]; // words[0] is the sequence number
    };
    static_assert(sizeof(Msg) == SlotBytes, "message fills the slot");
    xr_spsc_ring *r;

    Ours(unsigned char *where, int which)
    {
        r = reinterpret_cast<xr_spsc_ring *>(where + size_t(which) * 1024);
        unsigned char *slots = where + 4096 + size_t(which) * (kBlockBytes - 4096) / 2;
        size_t len = xr_spsc_ring_footprint(kCapacity, SlotBytes);
        if (xr_spsc_ring_init(r, slots, len, kCapacity, SlotBytes) != XR_OK)
            std::abort();
    }
    bool push(uint64_t seq) const
    {
        Msg m;
        for (uint64_t &w : m.words)
            w = seq;
        return xr_spsc_ring_try_push(r, &m) == XR_OK;
    }
    bool pop(uint64_t *seq) const
    {
        Msg m;
        if (xr_spsc_ring_try_pop(r, &m) != XR_OK)
            return false;
        *seq = m.words[0];
        return true;
    }
};

struct Ck {
    ck_ring_t *ring;
    ck_ring_buffer_t *buf;

    Ck(unsigned char *where, int which)
    {
        ring = reinterpret_cast<ck_ring_t *>(where + size_t(which) * 1024);
        buf = reinterpret_cast<ck_ring_buffer_t *>(where + 4096 +
                                                   size_t(which) * (kBlockBytes - 4096) / 2);
        ck_ring_init(ring, kCapacity);
    }
    bool push(uint64_t seq) const
    {
        return ck_ring_enqueue_spsc(ring, buf, reinterpret_cast<void *>(uintptr_t(seq)));
    }
    bool pop(uint64_t *seq) const
    {
        void *p;
        if (!ck_ring_dequeue_spsc(ring, buf, &p))
            return false;
        *seq = uintptr_t(p);
        return true;
    }
};

// Results kept across repetitions for the summary, indexed by repetition (= placement), with
// how often the scheduler preempted the two threads during each (a noise indicator).
struct Series {
    std::vector<double> v;
    std::vector<long> switches;
    double max() const
    {
        return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
    }
    double min() const
    {
        return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
    }
    double median() const
    {
        if (v.empty())
            return 0;
        std::vector<double> s = v;
        std::sort(s.begin(), s.end());
        return s[s.size() / 2];
    }
    double mean_switches() const
    {
        double sum = 0;
        for (long n : switches)
            sum += double(n);
        return switches.empty() ? 0 : sum / double(switches.size());
    }
    void add(double value, long preemptions)
    {
        v.push_back(value);
        switches.push_back(preemptions);
    }
};
std::map<std::string, Series> g_rate;    // msg/s
std::map<std::string, Series> g_hop_p50; // ns
std::map<std::string, Series> g_hop_p99; // ns

// Median over k of a[k] / b[k], for the repetitions both have.
double paired_ratio(const Series &a, const Series &b)
{
    std::vector<double> r;
    for (size_t k = 0; k < a.v.size() && k < b.v.size(); k++)
        if (b.v[k] > 0)
            r.push_back(a.v[k] / b.v[k]);
    if (r.empty())
        return 0;
    std::sort(r.begin(), r.end());
    return r[r.size() / 2];
}

// ---- (a) throughput ----

// Runs one transfer of g_msgs messages: `produce(seq, left)` and `consume(expect, &ok)` return
// how many messages they moved and are called again, with a pause after a call that moved
// none. Returns msg/s, or 0 if a message was lost, duplicated or reordered; *switches is the
// number of times either thread was preempted meanwhile.
template <class Produce, class Consume>
double transfer(Produce produce, Consume consume, long *switches)
{
    const uint64_t n = g_msgs;
    std::atomic<int> go{0};
    long producer_switches = 0;
    // The producer works on its own copies of `produce` (which holds the ring's pointers by
    // value) and of n, on its own stack: reading them through references into this frame
    // would share a cache line with the consumer's locals and add a miss per message that
    // has nothing to do with the ring.
    std::thread producer([&go, &producer_switches, produce, n] {
        Produce local = produce;
        const uint64_t count = n;
        pin_to(kProducerCpu);
        go.store(1, std::memory_order_release);
        while (go.load(std::memory_order_acquire) != 2)
            _mm_pause();
        long before = involuntary_switches();
        // Sequence numbers start at 1 so ck_ring never carries a NULL pointer.
        for (uint64_t seq = 1; seq <= count;) {
            uint64_t done = local(seq, count - seq + 1);
            if (done == 0)
                _mm_pause();
            seq += done;
        }
        producer_switches = involuntary_switches() - before;
    });
    while (go.load(std::memory_order_acquire) != 1)
        _mm_pause();
    long before = involuntary_switches();
    double t0 = now_s();
    go.store(2, std::memory_order_release);
    bool ok = true;
    for (uint64_t expect = 1; expect <= n;) {
        uint64_t done = consume(expect, &ok);
        if (done == 0)
            _mm_pause();
        expect += done;
    }
    double secs = now_s() - t0;
    long consumer_switches = involuntary_switches() - before;
    producer.join();
    *switches = producer_switches + consumer_switches;
    return ok ? double(n) / secs : 0.0;
}

template <class Ring> void BM_Throughput(benchmark::State &state, const char *name)
{
    pin_to(kConsumerCpu);
    for (auto _ : state) {
        Series &series = g_rate[name];
        Ring ring(block(series.v.size()), 0);
        long switches = 0;
        double rate =
            transfer([ring](uint64_t seq, uint64_t) -> uint64_t { return ring.push(seq) ? 1 : 0; },
                     [&](uint64_t expect, bool *ok) -> uint64_t {
                         uint64_t seq;
                         if (!ring.pop(&seq))
                             return 0;
                         *ok &= seq == expect;
                         return 1;
                     },
                     &switches);
        if (rate == 0) {
            state.SkipWithError("messages lost or out of order");
            return;
        }
        state.SetIterationTime(double(g_msgs) / rate);
        series.add(rate, switches);
        state.counters["Mmsg_per_s"] = rate / 1e6;
        state.counters["preempted"] = double(switches);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(g_msgs));
}

void BM_ThroughputBatch(benchmark::State &state, const char *name)
{
    pin_to(kConsumerCpu);
    for (auto _ : state) {
        Series &series = g_rate[name];
        Ours<8> ring(block(series.v.size()), 0);
        long switches = 0;
        double rate = transfer(
            [ring](uint64_t seq, uint64_t left) -> uint64_t {
                uint64_t msgs[kBatch];
                uint32_t want = left < kBatch ? uint32_t(left) : kBatch;
                for (uint32_t i = 0; i < want; i++)
                    msgs[i] = seq + i;
                return xr_spsc_ring_try_push_batch(ring.r, msgs, want);
            },
            [&](uint64_t expect, bool *ok) -> uint64_t {
                uint64_t msgs[kBatch];
                uint32_t got = xr_spsc_ring_try_pop_batch(ring.r, msgs, kBatch);
                for (uint32_t i = 0; i < got; i++)
                    *ok &= msgs[i] == expect + i;
                return got;
            },
            &switches);
        if (rate == 0) {
            state.SkipWithError("messages lost or out of order");
            return;
        }
        state.SetIterationTime(double(g_msgs) / rate);
        series.add(rate, switches);
        state.counters["Mmsg_per_s"] = rate / 1e6;
        state.counters["preempted"] = double(switches);
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(g_msgs));
}

// ---- (b) one-way hop latency ----

template <class Ring> void BM_HopLatency(benchmark::State &state, const char *name)
{
    pin_to(kConsumerCpu);
    const double per_ns = tsc_per_ns();
    for (auto _ : state) {
        unsigned char *where = block(g_hop_p50[name].v.size());
        Ring ping(where, 0), pong(where, 1);
        std::vector<uint64_t> rtt(kLatencySamples);
        const uint64_t total = kLatencySamples + kLatencyWarmup;
        long echo_switches = 0;
        // The echo thread keeps its own copies of the ring handles (see transfer()).
        std::thread echo([&echo_switches, ping, pong, total] {
            const Ring in = ping, out = pong;
            pin_to(kProducerCpu);
            long before = involuntary_switches();
            for (uint64_t i = 0; i < total; i++) {
                uint64_t seq;
                while (!in.pop(&seq)) {
                }
                while (!out.push(seq)) {
                }
            }
            echo_switches = involuntary_switches() - before;
        });
        long before = involuntary_switches();
        double t0 = now_s();
        for (uint64_t i = 0; i < total; i++) {
            uint64_t seq = i + 1, back = 0;
            _mm_lfence(); // rdtsc is not ordered by itself; keep it after earlier work
            uint64_t start = __rdtsc();
            while (!ping.push(seq)) {
            }
            while (!pong.pop(&back)) {
            }
            unsigned aux;
            uint64_t end = __rdtscp(&aux); // rdtscp waits for the pop's loads to finish
            if (back != seq)
                std::abort();
            if (i >= kLatencyWarmup)
                rtt[i - kLatencyWarmup] = end - start;
        }
        double secs = now_s() - t0;
        long switches = involuntary_switches() - before;
        echo.join();
        switches += echo_switches;
        state.SetIterationTime(secs);
        std::sort(rtt.begin(), rtt.end());
        auto hop_ns = [&](double q) {
            return double(rtt[size_t(q * double(rtt.size() - 1))]) / per_ns / 2.0;
        };
        double p50 = hop_ns(0.50), p99 = hop_ns(0.99);
        g_hop_p50[name].add(p50, switches);
        g_hop_p99[name].add(p99, switches);
        state.counters["preempted"] = double(switches);
        state.counters["hop_p50_ns"] = p50;
        state.counters["hop_p99_ns"] = p99;
        state.counters["hop_p999_ns"] = hop_ns(0.999);
    }
}

double load_average()
{
    double load = -1;
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &load) != 1)
            load = -1;
        std::fclose(f);
    }
    return load;
}

double g_load_start = -1;

void print_summary()
{
    const Series &o8 = g_rate["ours_8B"], &o64 = g_rate["ours_64B"], &ob = g_rate["ours_8B_x32"],
                 &ck = g_rate["ck_ring"];
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    std::printf("\nring: ours %.1fM msg/s, ck_ring %.1fM msg/s, ratio %.2f (paired median %.2f); "
                "hop p50 ours %.0f ns ck %.0f ns\n",
                o8.max() / 1e6, ck.max() / 1e6, ratio(o8.max(), ck.max()), paired_ratio(o8, ck),
                g_hop_p50["ours"].min(), g_hop_p50["ck_ring"].min());
    std::printf("ring detail: %zu repetitions per variant, N=%" PRIu64 " msgs, capacity %u, "
                "producer cpu %d, consumer cpu %d, load average %.2f at start, %.2f at end\n",
                ck.v.size(), g_msgs, kCapacity, kProducerCpu, kConsumerCpu, g_load_start,
                load_average());
    for (const char *k : {"ours_8B", "ours_64B", "ours_8B_x32", "ck_ring"}) {
        const Series &s = g_rate[k];
        std::printf("  throughput %-12s best %6.1fM  median %6.1fM  min %6.1fM msg/s"
                    "  paired ratio to ck_ring %.2f  (preempted %.1f times/rep)\n",
                    k, s.max() / 1e6, s.median() / 1e6, s.min() / 1e6, paired_ratio(s, ck),
                    s.mean_switches());
    }
    std::printf("  ratios of bests: ours_8B/ck %.2f, ours_64B/ck %.2f, ours_8B_x32/ck %.2f\n",
                ratio(o8.max(), ck.max()), ratio(o64.max(), ck.max()), ratio(ob.max(), ck.max()));
    for (const char *k : {"ours", "ck_ring"}) {
        std::printf("  hop %-8s p50 best %4.0f median %4.0f ns | p99 best %4.0f median %4.0f ns"
                    "  (preempted %.1f times/rep)\n",
                    k, g_hop_p50[k].min(), g_hop_p50[k].median(), g_hop_p99[k].min(),
                    g_hop_p99[k].median(), g_hop_p50[k].mean_switches());
    }
}

} // namespace

int main(int argc, char **argv)
{
    if (const char *env = std::getenv("XR_BENCH_RING_MSGS"))
        g_msgs = std::strtoull(env, nullptr, 10);

    auto reg = [](benchmark::internal::Benchmark *b) {
        b->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
    };
    reg(benchmark::RegisterBenchmark("throughput/ours_8B", BM_Throughput<Ours<8>>, "ours_8B"));
    reg(benchmark::RegisterBenchmark("throughput/ours_64B", BM_Throughput<Ours<64>>, "ours_64B"));
    reg(benchmark::RegisterBenchmark("throughput/ours_8B_x32", BM_ThroughputBatch, "ours_8B_x32"));
    reg(benchmark::RegisterBenchmark("throughput/ck_ring", BM_Throughput<Ck>, "ck_ring"));
    reg(benchmark::RegisterBenchmark("hop_latency/ours_8B", BM_HopLatency<Ours<8>>, "ours"));
    reg(benchmark::RegisterBenchmark("hop_latency/ck_ring", BM_HopLatency<Ck>, "ck_ring"));

    // Defaults that make the comparison fair on a shared machine; flags given on the command
    // line come later and win.
    std::vector<char *> args(argv, argv + argc);
    static char reps[] = "--benchmark_repetitions=11";
    static char interleave[] = "--benchmark_enable_random_interleaving=true";
    args.insert(args.begin() + 1, {reps, interleave});
    int n = int(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 1;
    g_load_start = load_average();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    print_summary();
    return 0;
}
