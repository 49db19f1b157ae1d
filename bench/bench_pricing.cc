// bench_pricing - a consolidated quote for a size across 4 venues x 50 levels a side.
//
// Four venues quote BTC/USDT (BTC/8, USDT/6, price scale 6) around 60000 USDT with 50 levels a
// side, interleaved across venues, 10 USDT apart (each venue offset by 2.50), with taker fees of
// 10, 10, 11 and 12 bps (a fee difference of 1 bps is 6 USDT here, so the walk alternates between
// venues), Binance's lot step (0.00001 BTC) and min notional (5 USDT). Each iteration prices one
// request, cycling through 64 sizes so the branch predictor does not learn one path.
//
// Benchmarks (ns per request):
//   walk_base_small   buy 0.01 .. 0.6 BTC: the top few levels (a typical bank customer)
//   walk_base_medium  buy 10 .. 30 BTC: about 20 .. 55 of the 200 ask levels (110 BTC in all)
//   walk_base_large   buy 60 .. 100 BTC: about 110 .. 180 levels
//   walk_quote_budget buy for 10k .. 600k USDT (quote-side size: exact budget per level)
//   price_medium      xr_pricing_price: the medium walk plus spread lookup and customer amounts
//   firm_quote_execute xr_pricing_quote + xr_pricing_execute of the same request (two walks)
// Each also reports p50_ns and p99_ns of requests timed one by one (clock_gettime around each,
// the clock's own cost subtracted).
//
// Usage: bench_pricing [google-benchmark flags]
// Instructions per walk, repeatable on a busy machine (docs/ARCHITECTURE.md has the numbers):
//   valgrind --tool=callgrind bench_pricing --benchmark_filter='^walk_base_medium$'
//       --benchmark_min_time=0.001, then xr_pricing_walk's inclusive count / its calls.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <time.h>
#include <vector>

#include "core/pricing/pricing.h"

namespace
{

constexpr int kVenues = 4;
constexpr int kLevels = 50;
constexpr int64_t kBtc = 100000000;   // base units per BTC
constexpr int64_t kUsdt = 1000000;    // price ticks per USDT
constexpr uint64_t kNow = 1000000000; // all books fresh

struct Fixture {
    xr_pricing p{};
    void *mem = nullptr;
    uint32_t pair = 0;
    xr_book books[kVenues]{};
    void *book_mem[kVenues]{};
    xr_instrument inst[kVenues]{};

    Fixture()
    {
        xr_pricing_config cfg = {4, 16, 1024, 5000000000ull, 50, 500};
        size_t len = xr_pricing_footprint(&cfg);
        mem = std::aligned_alloc(16, (len + 15) & ~size_t(15));
        if (xr_pricing_init(&p, mem, len, &cfg) != XR_OK)
            std::abort();
        xr_pair_scale sc = {8, 6, 6};
        if (xr_pricing_add_pair(&p, "BTC/USDT", 8, &sc, &pair) != XR_OK)
            std::abort();
        static const uint16_t fees[kVenues] = {10, 10, 11, 12};
        for (int v = 0; v < kVenues; v++) {
            xr_book_config bc = {128, 0};
            size_t bl = xr_book_footprint(&bc);
            book_mem[v] = std::aligned_alloc(16, (bl + 15) & ~size_t(15));
            if (xr_book_init(&books[v], book_mem[v], bl, &bc) != XR_OK)
                std::abort();
            xr_instrument &in = inst[v];
            std::strcpy(in.symbol, "BTCUSDT");
            std::strcpy(in.canonical, "BTC/USDT");
            std::strcpy(in.base, "BTC");
            std::strcpy(in.quote, "USDT");
            in.scale = sc;
            in.status = XR_INSTRUMENT_TRADING;
            in.tick.ticks = 10000; // 0.01 USDT
            in.lot_step.units = 1000;
            in.qty_min.units = 1000;
            in.notional_min.units = 5 * kUsdt;
            fill_book(v);
            xr_pricing_venue pv = {&books[v], &inst[v], uint16_t(v + 1), fees[v]};
            if (xr_pricing_add_venue(&p, pair, &pv) != XR_OK)
                std::abort();
        }
        if (xr_pricing_set_spread(&p, 1, pair, XR_PRICING_ANY_TIER, 150) != XR_OK)
            std::abort();
    }

    // 50 bids and 50 asks, 10 USDT apart, each venue offset by 2.50 USDT; quantities
    // 0.1 .. 1.0 BTC.
    void fill_book(int v)
    {
        uint64_t x = 0x1234 + v;
        xr_ev_book ev;
        for (int part = 0; part < 2; part++) {
            std::memset(&ev, 0, sizeof ev);
            ev.first_id = ev.last_id = 1;
            ev.part = part == 0 ? XR_EV_BOOK_PART_FIRST : XR_EV_BOOK_PART_LAST;
            for (int k = 0; k < kLevels; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                int64_t qty = (10 + int64_t((x >> 33) % 91)) * kBtc / 100;
                int64_t off = (k * 1000 + v * 250) * kUsdt / 100;
                if (part == 0) {
                    xr_book_level &l = ev.levels[ev.n_bids++];
                    l.price.ticks = 59999 * kUsdt - off;
                    l.qty.units = qty;
                } else {
                    xr_book_level &l = ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - ev.n_asks++];
                    l.price.ticks = 60001 * kUsdt + off;
                    l.qty.units = qty;
                }
            }
            xr_book_outcome o;
            if (xr_book_apply_snapshot(&books[v], &ev, 0, &o) != XR_OK)
                std::abort();
        }
    }

    ~Fixture()
    {
        for (int v = 0; v < kVenues; v++)
            std::free(book_mem[v]);
        std::free(mem);
    }
};

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::vector<int64_t> sizes(int64_t lo, int64_t hi, int64_t step)
{
    std::vector<int64_t> v;
    uint64_t x = 42;
    for (int i = 0; i < 64; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t s = lo + int64_t((x >> 11) % uint64_t(hi - lo));
        v.push_back(s / step * step);
    }
    return v;
}

// p50 and p99 of single calls, the clock's own cost subtracted.
template <class F> void percentiles(benchmark::State &state, F &&call)
{
    constexpr int n = 20000;
    std::vector<uint64_t> t(n);
    uint64_t clock_cost = ~0ull;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = now_ns(), b = now_ns();
        clock_cost = std::min(clock_cost, b - a);
    }
    for (int i = 0; i < n; i++) {
        uint64_t a = now_ns();
        call(i);
        uint64_t b = now_ns();
        t[i] = b - a > clock_cost ? b - a - clock_cost : 0;
    }
    std::sort(t.begin(), t.end());
    state.counters["p50_ns"] = double(t[n / 2]);
    state.counters["p99_ns"] = double(t[n * 99 / 100]);
}

void walk_bench(benchmark::State &state, xr_pricing_size_kind kind, int64_t lo, int64_t hi,
                int64_t step)
{
    Fixture f;
    std::vector<int64_t> sz = sizes(lo, hi, step);
    xr_pricing_fill fill;
    auto call = [&](size_t i) {
        xr_err err =
            xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, kind, xr_amount{sz[i & 63]}, kNow, &fill);
        if (err != XR_OK)
            std::abort();
        benchmark::DoNotOptimize(fill);
    };
    size_t i = 0;
    for (auto _ : state)
        call(i++);
    percentiles(state, call);
    state.counters["legs"] = fill.n_legs;
}

void walk_base_small(benchmark::State &state)
{
    walk_bench(state, XR_PRICING_BASE, kBtc / 100, kBtc * 6 / 10, 1000);
}
void walk_base_medium(benchmark::State &state)
{
    walk_bench(state, XR_PRICING_BASE, 10 * kBtc, 30 * kBtc, 1000);
}
void walk_base_large(benchmark::State &state)
{
    walk_bench(state, XR_PRICING_BASE, 60 * kBtc, 100 * kBtc, 1000);
}
void walk_quote_budget(benchmark::State &state)
{
    walk_bench(state, XR_PRICING_QUOTE, 10000 * kUsdt, 600000 * kUsdt, 1);
}

void price_medium(benchmark::State &state)
{
    Fixture f;
    std::vector<int64_t> sz = sizes(10 * kBtc, 30 * kBtc, 1000);
    xr_quote q;
    auto call = [&](size_t i) {
        xr_quote_request rq = {
            1, 7, f.pair, XR_SIDE_BUY, 2, XR_QUOTE_FIX_TARGET, xr_amount{sz[i & 63]}};
        if (xr_pricing_price(&f.p, &rq, kNow, &q, nullptr) != XR_OK)
            std::abort();
        benchmark::DoNotOptimize(q);
    };
    size_t i = 0;
    for (auto _ : state)
        call(i++);
    percentiles(state, call);
}

void firm_quote_execute(benchmark::State &state)
{
    Fixture f;
    std::vector<int64_t> sz = sizes(kBtc / 100, kBtc * 6 / 10, 1000);
    xr_quote q, e;
    xr_pricing_fill fill;
    auto call = [&](size_t i) {
        xr_quote_request rq = {
            1, 7, f.pair, XR_SIDE_BUY, 2, XR_QUOTE_FIX_TARGET, xr_amount{sz[i & 63]}};
        if (xr_pricing_quote(&f.p, &rq, kNow, &q, nullptr) != XR_OK ||
            xr_pricing_execute(&f.p, q.id, 1, 7, kNow, &e, &fill) != XR_OK)
            std::abort();
        benchmark::DoNotOptimize(e);
    };
    size_t i = 0;
    for (auto _ : state)
        call(i++);
    percentiles(state, call);
}

} // namespace

BENCHMARK(walk_base_small);
BENCHMARK(walk_base_medium);
BENCHMARK(walk_base_large);
BENCHMARK(walk_quote_budget);
BENCHMARK(price_medium);
BENCHMARK(firm_quote_execute);
BENCHMARK_MAIN();
