// bench_tick_to_quote - tick-to-quote: a Binance depthUpdate frame in memory to a refreshed
// consolidated two-sided customer quote (with the bank's spread) over 4 venues x 50 levels.
//
// The books are bench_pricing's: BTC/USDT (BTC/8, USDT/6, price scale 6) around 60000 USDT,
// 50 levels a side per venue, 10 USDT apart, each venue offset by 2.50, taker fees 10, 10, 11
// and 12 bps, Binance's lot step and min notional. Venue 0's updates arrive as Binance
// depthUpdate text (about 300 bytes: 3 bids and 3 asks among its top 10 levels a side, a fifth
// of them removals), 64 different frames rotating, each with a fresh update id written into
// the text in place so the book applies every one. After each frame the consolidated quote
// for 1 BTC is priced on both sides (buy and sell, spread 150 bps), as a quote stream to the
// bank's customers would be refreshed.
//
// Benchmarks (ns per frame, with p50_ns and p99_ns of frames timed one by one, the clock's
// own cost subtracted):
//   tick_to_quote         the engine's path in one thread: decode -> the venue connection's
//                         book (adapters) -> what changed in its top 32 levels a side
//                         (xr_book_levels_diff against the levels last sent) in a
//                         market-data message through an SPSC ring (the engine's md ring) ->
//                         applied as a delta to the pricing stage's copy of the venue book
//                         (adapters/engine_venues.c publish_md, stage_pricing.c md_book)
//                         -> buy and sell prices of 1 BTC over the 4 venues
//   tick_to_quote_direct  the library floor: decode -> the book the pricer reads -> buy and
//                         sell prices (no copy between two stages)
// Across threads the ring hop adds the wake-up of the pricing stage's thread (when it spins:
// one cache-line transfer; when it sleeps: a futex wake, see docs/ARCHITECTURE.md).
//
// Usage: bench_tick_to_quote [google-benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <string>
#include <time.h>
#include <vector>

#include "adapters/venues/binance/codec.h"
#include "core/market/book.h"
#include "core/market/instrument.h"
#include "core/pricing/pricing.h"
#include "core/ring/spsc_ring.h"

namespace
{

constexpr int kVenues = 4;
constexpr int kLevels = 50;
constexpr int kFrames = 64;
constexpr uint32_t kMdLevels = 32;  // XR_ENG_MD_LEVELS
constexpr int64_t kBtc = 100000000; // base units per BTC
constexpr int64_t kUsdt = 1000000;  // price ticks per USDT
constexpr uint64_t kNow = 1000000000;

uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// The engine's market-data message (core/engine/engine_internal.h, xr_eng_md_book).
struct MdLevel {
    xr_price price;
    xr_amount qty;
};
struct MdBook {
    uint16_t venue, pair, n_bids, n_asks;
    uint64_t update_id;
    MdLevel bids[kMdLevels];
    MdLevel asks[kMdLevels];
    bool delta;
    uint64_t base_id;
};
static_assert(sizeof(MdBook) % 8 == 0, "ring slots are multiples of 8 bytes");

struct Frame {
    std::string text;
    size_t first_off, last_off; // where the 12 digits of "U" and "u" are
};

std::string decimal(int64_t v, int64_t unit, int places)
{
    char buf[48];
    std::snprintf(buf, sizeof buf, "%lld.%0*lld", (long long)(v / unit), places,
                  (long long)(v % unit));
    return buf;
}

struct Fixture {
    xr_asset_registry assets;
    xr_instruments table;
    void *table_mem = nullptr;
    xr_binance_codec codec;
    const xr_instrument *inst0 = nullptr; // venue 0's, from the codec's table
    xr_instrument inst[kVenues]{};
    xr_book books[kVenues]{}; // the books the pricer reads
    void *book_mem[kVenues]{};
    xr_book conn_book; // venue 0's connection book (the adapter's)
    void *conn_mem = nullptr;
    xr_spsc_ring ring;
    void *ring_mem = nullptr;
    xr_pricing p{};
    void *pmem = nullptr;
    uint32_t pair = 0;
    xr_book_level sent[2][kMdLevels]; // what the pricing copy holds (engine_venues.c sent[])
    uint32_t sent_n[2] = {0, 0};
    uint64_t sent_id = 0;
    std::vector<Frame> frames;
    char id[13] = "100000000000";
    uint64_t id_num = 100000000000ull;

    Fixture()
    {
        xr_assets_init_default(&assets);
        size_t tl = xr_instruments_footprint(16);
        table_mem = std::aligned_alloc(16, (tl + 15) & ~size_t(15));
        if (xr_instruments_init(&table, table_mem, tl, 16, 0) != XR_OK)
            std::abort();
        xr_pair_scale sc = {8, 6, 6};
        for (int v = 0; v < kVenues; v++) {
            xr_instrument &in = inst[v];
            std::strcpy(in.symbol, "BTCUSDT");
            std::strcpy(in.canonical, "BTC/USDT");
            std::strcpy(in.base, "BTC");
            std::strcpy(in.quote, "USDT");
            in.scale = sc;
            in.status = XR_INSTRUMENT_TRADING;
            in.venue = uint16_t(v);
            in.tick.ticks = 10000; // 0.01 USDT
            in.lot_step.units = 1000;
            in.qty_min.units = 1000;
            in.notional_min.units = 5 * kUsdt;
        }
        if (xr_instruments_add(&table, &inst[0], &inst0) != XR_OK)
            std::abort();
        codec = xr_binance_codec{&assets, &table, 0, 0};

        xr_pricing_config cfg = {4, 16, 1024, 5000000000ull, 50, 500};
        size_t len = xr_pricing_footprint(&cfg);
        pmem = std::aligned_alloc(16, (len + 15) & ~size_t(15));
        if (xr_pricing_init(&p, pmem, len, &cfg) != XR_OK ||
            xr_pricing_add_pair(&p, "BTC/USDT", 8, &sc, &pair) != XR_OK)
            std::abort();
        static const uint16_t fees[kVenues] = {10, 10, 11, 12};
        xr_book_config bc = {128, 0};
        size_t bl = xr_book_footprint(&bc);
        for (int v = 0; v < kVenues; v++) {
            book_mem[v] = std::aligned_alloc(16, (bl + 15) & ~size_t(15));
            if (xr_book_init(&books[v], book_mem[v], bl, &bc) != XR_OK)
                std::abort();
            fill_book(&books[v], v, id_num);
            const xr_instrument *pi = v == 0 ? inst0 : &inst[v];
            xr_pricing_venue pv = {&books[v], pi, uint16_t(v + 1), fees[v]};
            if (xr_pricing_add_venue(&p, pair, &pv) != XR_OK)
                std::abort();
        }
        if (xr_pricing_set_spread(&p, 1, pair, XR_PRICING_ANY_TIER, 150) != XR_OK)
            std::abort();
        conn_mem = std::aligned_alloc(16, (bl + 15) & ~size_t(15));
        if (xr_book_init(&conn_book, conn_mem, bl, &bc) != XR_OK)
            std::abort();
        fill_book(&conn_book, 0, id_num);
        (void)xr_book_top(&conn_book, XR_SIDE_BUY, kNow, sent[0], kMdLevels, &sent_n[0]);
        (void)xr_book_top(&conn_book, XR_SIDE_SELL, kNow, sent[1], kMdLevels, &sent_n[1]);
        sent_id = id_num;
        // The pricing copy holds venue 0's top 32 levels a side, as after the engine's
        // first (snapshot) message.
        xr_ev_book ev0{};
        ev0.first_id = ev0.last_id = id_num;
        ev0.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
        ev0.n_bids = uint16_t(sent_n[0]);
        ev0.n_asks = uint16_t(sent_n[1]);
        for (uint32_t k = 0; k < sent_n[0]; k++)
            ev0.levels[k] = sent[0][k];
        for (uint32_t k = 0; k < sent_n[1]; k++)
            ev0.levels[XR_EV_BOOK_LEVELS_MAX - 1 - k] = sent[1][k];
        if (xr_book_apply_snapshot(&books[0], &ev0, kNow, nullptr) != XR_OK)
            std::abort();
        size_t rl = xr_spsc_ring_footprint(256, sizeof(MdBook));
        ring_mem = std::aligned_alloc(64, (rl + 63) & ~size_t(63));
        if (xr_spsc_ring_init(&ring, ring_mem, rl, 256, sizeof(MdBook)) != XR_OK)
            std::abort();

        // Venue 0's grid: bids 59999 - 10k, asks 60001 + 10k USDT, k = 0..9.
        uint64_t seed = 42;
        for (int f = 0; f < kFrames; f++) {
            Frame fr;
            std::string s = "{\"e\":\"depthUpdate\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"U\":";
            fr.first_off = s.size();
            s += "100000000000,\"u\":";
            fr.last_off = s.size();
            s += "100000000000,\"b\":[";
            for (int i = 0; i < 3; i++) {
                int64_t px = (59999 - 10 * int64_t(splitmix(&seed) % 10)) * 100; // cents
                int64_t q = splitmix(&seed) % 5 == 0 ? 0 : 1000 * (1 + splitmix(&seed) % 100000);
                s += (i ? ",[\"" : "[\"") + decimal(px, 100, 2) + "000000\",\"" +
                     decimal(q, kBtc, 8) + "\"]";
            }
            s += "],\"a\":[";
            for (int i = 0; i < 3; i++) {
                int64_t px = (60001 + 10 * int64_t(splitmix(&seed) % 10)) * 100;
                int64_t q = splitmix(&seed) % 5 == 0 ? 0 : 1000 * (1 + splitmix(&seed) % 100000);
                s += (i ? ",[\"" : "[\"") + decimal(px, 100, 2) + "000000\",\"" +
                     decimal(q, kBtc, 8) + "\"]";
            }
            s += "]}";
            fr.text = s;
            frames.push_back(fr);
        }
    }

    ~Fixture()
    {
        for (int v = 0; v < kVenues; v++)
            std::free(book_mem[v]);
        std::free(conn_mem);
        std::free(ring_mem);
        std::free(pmem);
        std::free(table_mem);
    }

    // bench_pricing's books: 50 bids and 50 asks, 10 USDT apart, venue v offset by 2.50 USDT;
    // quantities 0.1 .. 1.0 BTC.
    static void fill_book(xr_book *b, int v, uint64_t update_id)
    {
        uint64_t x = 0x1234 + uint64_t(v);
        xr_ev_book ev;
        for (int part = 0; part < 2; part++) {
            std::memset(&ev, 0, sizeof ev);
            ev.first_id = ev.last_id = update_id;
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
            if (xr_book_apply_snapshot(b, &ev, kNow, &o) != XR_OK)
                std::abort();
        }
    }

    // The next frame, with a fresh id (a decimal string incremented in place) as U and u.
    Frame &next(int i)
    {
        for (int k = 11; k >= 0; k--) {
            if (id[k] != '9') {
                id[k]++;
                break;
            }
            id[k] = '0';
        }
        id_num++;
        Frame &f = frames[size_t(i) % frames.size()];
        std::memcpy(&f.text[f.first_off], id, 12);
        std::memcpy(&f.text[f.last_off], id, 12);
        return f;
    }

    // The customer's two-sided quote for 1 BTC, spread included.
    void quote_both(xr_quote *buy, xr_quote *sell)
    {
        xr_quote_request rb = {1, 7, pair, XR_SIDE_BUY, 2, XR_QUOTE_FIX_TARGET, xr_amount{kBtc}};
        xr_quote_request rs = {1, 7, pair, XR_SIDE_SELL, 2, XR_QUOTE_FIX_SOURCE, xr_amount{kBtc}};
        if (xr_pricing_price(&p, &rb, kNow, buy, nullptr) != XR_OK ||
            xr_pricing_price(&p, &rs, kNow, sell, nullptr) != XR_OK)
            std::abort();
    }

    // The engine's hop: what changed in the connection book's top levels -> md message ->
    // ring -> the pricing stage's book (a delta, as engine_venues.c publish_md and
    // stage_pricing.c md_book do; a snapshot when the changes do not fit).
    void md_hop()
    {
        MdBook *m = static_cast<MdBook *>(xr_spsc_ring_try_reserve(&ring));
        if (m == nullptr)
            std::abort();
        m->venue = 0;
        m->pair = 0;
        uint64_t id = xr_book_update_id(&conn_book);
        m->update_id = id;
        xr_book_level top[2][kMdLevels], d[2][kMdLevels];
        uint32_t n_top[2] = {0, 0}, nd[2] = {0, 0};
        (void)xr_book_top(&conn_book, XR_SIDE_BUY, kNow, top[0], kMdLevels, &n_top[0]);
        (void)xr_book_top(&conn_book, XR_SIDE_SELL, kNow, top[1], kMdLevels, &n_top[1]);
        bool delta = id > sent_id &&
                     xr_book_levels_diff(XR_SIDE_BUY, sent[0], sent_n[0], top[0], n_top[0], d[0],
                                         kMdLevels, &nd[0]) == XR_OK &&
                     xr_book_levels_diff(XR_SIDE_SELL, sent[1], sent_n[1], top[1], n_top[1], d[1],
                                         kMdLevels, &nd[1]) == XR_OK;
        const xr_book_level *bl = delta ? d[0] : top[0], *al = delta ? d[1] : top[1];
        m->delta = delta;
        m->base_id = delta ? sent_id : 0;
        m->n_bids = uint16_t(delta ? nd[0] : n_top[0]);
        m->n_asks = uint16_t(delta ? nd[1] : n_top[1]);
        for (uint32_t k = 0; k < m->n_bids; k++)
            m->bids[k] = MdLevel{bl[k].price, bl[k].qty};
        for (uint32_t k = 0; k < m->n_asks; k++)
            m->asks[k] = MdLevel{al[k].price, al[k].qty};
        xr_spsc_ring_commit(&ring, 1);
        for (int sd = 0; sd < 2; sd++) {
            std::memcpy(sent[sd], top[sd], n_top[sd] * sizeof top[sd][0]);
            sent_n[sd] = n_top[sd];
        }
        sent_id = id;

        const MdBook *in = static_cast<const MdBook *>(xr_spsc_ring_peek(&ring));
        static xr_ev_book ev;
        std::memset(&ev, 0, offsetof(xr_ev_book, levels));
        if (in->delta && xr_book_update_id(&books[0]) != in->base_id)
            std::abort(); // the engine resets the copy here (never happens in this bench)
        ev.first_id = in->delta ? in->base_id + 1 : in->update_id;
        ev.last_id = in->update_id;
        ev.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
        ev.n_bids = in->n_bids;
        ev.n_asks = in->n_asks;
        for (uint32_t i = 0; i < in->n_bids; i++)
            ev.levels[i] = xr_book_level{in->bids[i].price, in->bids[i].qty};
        for (uint32_t i = 0; i < in->n_asks; i++)
            ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - i] =
                xr_book_level{in->asks[i].price, in->asks[i].qty};
        xr_book_outcome oc;
        xr_err err = in->delta ? xr_book_apply_delta(&books[0], &ev, kNow, &oc)
                               : xr_book_apply_snapshot(&books[0], &ev, kNow, &oc);
        if (err != XR_OK)
            std::abort();
        xr_spsc_ring_release(&ring, 1);
    }
};

xr_err apply_event(void *ctx, const xr_event *ev)
{
    return xr_book_apply_delta(static_cast<xr_book *>(ctx), &ev->u.book, kNow, nullptr);
}

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

template <class F> void run(benchmark::State &state, Fixture &f, F &&tick)
{
    xr_quote buy, sell;
    int i = 0;
    for (auto _ : state) {
        tick(f.next(i++));
        f.quote_both(&buy, &sell);
        benchmark::DoNotOptimize(buy);
        benchmark::DoNotOptimize(sell);
    }
    constexpr int n = 20000;
    std::vector<uint64_t> t(n);
    uint64_t clock_cost = ~0ull;
    for (int k = 0; k < 1000; k++) {
        uint64_t a = now_ns(), b = now_ns();
        clock_cost = std::min(clock_cost, b - a);
    }
    for (int k = 0; k < n; k++) {
        Frame &fr = f.next(i++);
        uint64_t a = now_ns();
        tick(fr);
        f.quote_both(&buy, &sell);
        uint64_t b = now_ns();
        t[size_t(k)] = b - a > clock_cost ? b - a - clock_cost : 0;
    }
    std::sort(t.begin(), t.end());
    state.counters["p50_ns"] = double(t[n / 2]);
    state.counters["p99_ns"] = double(t[n * 99 / 100]);
    state.counters["bytes"] = double(f.frames[0].text.size());
    // The quote really moves with venue 0's book and stays consistent.
    if (xr_book_verify(&f.books[0]) != XR_OK || xr_book_update_id(&f.books[0]) != f.id_num ||
        !(buy.price.ticks > sell.price.ticks))
        state.SkipWithError("book or quote went wrong");
}

void tick_to_quote(benchmark::State &state)
{
    Fixture f;
    run(state, f, [&](Frame &fr) {
        if (xr_binance_decode_depth_update(&f.codec, fr.text.data(), fr.text.size(), apply_event,
                                           &f.conn_book, nullptr) != XR_OK)
            std::abort();
        f.md_hop();
    });
}

void tick_to_quote_direct(benchmark::State &state)
{
    Fixture f;
    run(state, f, [&](Frame &fr) {
        if (xr_binance_decode_depth_update(&f.codec, fr.text.data(), fr.text.size(), apply_event,
                                           &f.books[0], nullptr) != XR_OK)
            std::abort();
    });
}

} // namespace

BENCHMARK(tick_to_quote);
BENCHMARK(tick_to_quote_direct);
BENCHMARK_MAIN();
