// bench_book - the market-data hot path: a Binance depthUpdate from text to an updated L2 book.
//
// The message is a realistic BTCUSDT diff-depth update: 20 levels (10 bids, 10 asks) with
// Binance's 8-place prices and quantities, about 700 bytes, changing the top 30 levels of a
// book that holds 1000 levels a side (a fifth of the changes remove a level). 64 different
// messages rotate so neither the branch predictor nor the book sees one message twice in a
// row, and every message carries a fresh update id (written into the text in place), so the
// book really applies each one instead of ignoring it as old.
//
// Benchmarks (ns per message):
//   decode_20          JSON text -> one XR_EV_BOOK_DELTA event (the zero-allocation reader)
//   apply_20           a decoded event -> the book (sequence check, 20 level updates, cross check)
//   decode_apply_20    both, as the market-data stage runs them; also reports p50 and p99 of
//                      single messages timed one by one (clock overhead subtracted), and
//                      best_batch_ns: per message in the fastest of 300 batches of the 64
//                      distinct messages (the code's own cost when the shared VM is quiet)
//   decode_apply_100   the same with 100 levels (50 + 50): a busy 100 ms update
//   jansson_20         the same 20-level message through jansson (the library the cold paths
//                      use): parse to a DOM, walk it, parse the decimals exactly; no book.
//                      This is the comparison docs/venues.md cites for the hot-path reader.
//   snapshot_5000      a 5000 + 5000 level REST snapshot decoded (in parts) into a fresh book
//
// Usage: bench_book [google-benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <time.h>
#include <vector>

#include <jansson.h>

#include "adapters/venues/binance/codec.h"
#include "core/market/book.h"
#include "core/market/instrument.h"

namespace
{

constexpr int kMessages = 64;
constexpr uint32_t kDepth = 1000;

uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Price text for `cents` hundredths of a dollar with Binance's 8 places.
std::string price_text(uint64_t cents)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%llu.%02llu000000", (unsigned long long)(cents / 100),
                  (unsigned long long)(cents % 100));
    return buf;
}

std::string qty_text(uint64_t sats)
{
    char buf[40];
    std::snprintf(buf, sizeof buf, "%llu.%08llu", (unsigned long long)(sats / 100000000),
                  (unsigned long long)(sats % 100000000));
    return buf;
}

struct Message {
    std::string text;
    size_t first_off, last_off; // where the 12 digits of "U" and "u" are
};

struct Bench {
    xr_asset_registry assets;
    xr_instruments table;
    void *table_mem = nullptr;
    xr_binance_codec codec;
    const xr_instrument *btc = nullptr;
    xr_book book;
    void *book_mem = nullptr;
    std::vector<Message> msgs;
    char id[13] = "100000000000"; // the next update id, 12 decimal digits
    uint64_t id_num = 100000000000ull;

    Bench(unsigned levels_per_side)
    {
        xr_assets_init_default(&assets);
        size_t tl = xr_instruments_footprint(16);
        table_mem = std::aligned_alloc(16, (tl + 15) & ~size_t(15));
        xr_instruments_init(&table, table_mem, tl, 16, 1);
        xr_instrument in;
        std::memset(&in, 0, sizeof in);
        std::strcpy(in.symbol, "BTCUSDT");
        std::strcpy(in.base, "BTC");
        std::strcpy(in.quote, "USDT");
        in.scale = xr_pair_scale{8, 8, 8};
        xr_instruments_add(&table, &in, &btc);
        codec = xr_binance_codec{&assets, &table, 1, 0};

        xr_book_config cfg{kDepth + 200, 0};
        size_t bl = xr_book_footprint(&cfg);
        book_mem = std::aligned_alloc(16, (bl + 15) & ~size_t(15));
        xr_book_init(&book, book_mem, bl, &cfg);

        // Mid 60650.00: bids from 60649.99 down, asks from 60650.01 up, one cent apart.
        uint64_t seed = 42;
        for (int m = 0; m < kMessages; m++) {
            Message msg;
            std::string s = "{\"e\":\"depthUpdate\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"U\":";
            msg.first_off = s.size();
            s += "100000000000,\"u\":";
            msg.last_off = s.size();
            s += "100000000000,\"b\":[";
            for (unsigned i = 0; i < levels_per_side; i++) {
                uint64_t cents = 6064999 - splitmix(&seed) % 30;
                uint64_t sats = splitmix(&seed) % 5 == 0 ? 0 : 1 + splitmix(&seed) % 300000000;
                s += (i ? ",[\"" : "[\"") + price_text(cents) + "\",\"" + qty_text(sats) + "\"]";
            }
            s += "],\"a\":[";
            for (unsigned i = 0; i < levels_per_side; i++) {
                uint64_t cents = 6065001 + splitmix(&seed) % 30;
                uint64_t sats = splitmix(&seed) % 5 == 0 ? 0 : 1 + splitmix(&seed) % 300000000;
                s += (i ? ",[\"" : "[\"") + price_text(cents) + "\",\"" + qty_text(sats) + "\"]";
            }
            s += "]}";
            msg.text = s;
            msgs.push_back(msg);
        }
        snapshot();
    }

    ~Bench()
    {
        std::free(table_mem);
        std::free(book_mem);
    }

    // A fresh 1000-level book at the current id.
    void snapshot()
    {
        static xr_ev_book part;
        uint64_t seed = 7;
        for (uint32_t i = 0; i < kDepth; i++) {
            std::memset(&part, 0, offsetof(xr_ev_book, levels));
            part.first_id = part.last_id = id_num;
            part.part = uint8_t((i == 0 ? XR_EV_BOOK_PART_FIRST : 0) |
                                (i == kDepth - 1 ? XR_EV_BOOK_PART_LAST : 0));
            part.n_bids = part.n_asks = 1;
            part.levels[0].price.ticks = (xr_i128)(6064999 - i) * 1000000;
            part.levels[0].qty.units = 1 + (xr_i128)(splitmix(&seed) % 100000000);
            part.levels[XR_EV_BOOK_LEVELS_MAX - 1].price.ticks = (xr_i128)(6065001 + i) * 1000000;
            part.levels[XR_EV_BOOK_LEVELS_MAX - 1].qty.units =
                1 + (xr_i128)(splitmix(&seed) % 100000000);
            xr_book_apply_snapshot(&book, &part, 0, nullptr);
        }
    }

    // Advances the id (a decimal string incremented in place) and writes it as U and u.
    Message &next(int i)
    {
        for (int k = 11; k >= 0; k--) {
            if (id[k] != '9') {
                id[k]++;
                break;
            }
            id[k] = '0';
        }
        id_num++;
        Message &m = msgs[size_t(i) % msgs.size()];
        std::memcpy(&m.text[m.first_off], id, 12);
        std::memcpy(&m.text[m.last_off], id, 12);
        return m;
    }
};

xr_err apply_event(void *ctx, const xr_event *ev)
{
    xr_book *book = static_cast<xr_book *>(ctx);
    return xr_book_apply_delta(book, &ev->u.book, 1, nullptr);
}

// Decode alone: look at the event as a consumer would, without copying its 2 KiB.
xr_err touch_event(void *ctx, const xr_event *ev)
{
    *static_cast<uint64_t *>(ctx) += ev->u.book.last_id + ev->u.book.n_bids + ev->u.book.n_asks;
    return XR_OK;
}

xr_err keep_event(void *ctx, const xr_event *ev)
{
    benchmark::DoNotOptimize(ev);
    std::memcpy(ctx, &ev->u.book, sizeof(xr_ev_book));
    return XR_OK;
}

void BM_decode_20(benchmark::State &state)
{
    Bench b(10);
    uint64_t sum = 0;
    int i = 0;
    for (auto _ : state) {
        Message &m = b.next(i++);
        xr_err err = xr_binance_decode_depth_update(&b.codec, m.text.data(), m.text.size(),
                                                    touch_event, &sum, nullptr);
        benchmark::DoNotOptimize(err);
    }
    benchmark::DoNotOptimize(sum);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(b.msgs[0].text.size()));
}
BENCHMARK(BM_decode_20);

void BM_apply_20(benchmark::State &state)
{
    Bench b(10);
    // Decode every message once; the loop then only rewrites ids and applies.
    static std::vector<xr_ev_book> evs(kMessages);
    for (int i = 0; i < kMessages; i++) {
        Message &m = b.msgs[size_t(i)];
        xr_binance_decode_depth_update(&b.codec, m.text.data(), m.text.size(), keep_event,
                                       &evs[size_t(i)], nullptr);
    }
    uint64_t id = b.id_num;
    int i = 0;
    for (auto _ : state) {
        xr_ev_book &ev = evs[size_t(i++) % evs.size()];
        ev.first_id = ev.last_id = ++id;
        xr_err err = xr_book_apply_delta(&b.book, &ev, 1, nullptr);
        benchmark::DoNotOptimize(err);
    }
    if (xr_book_verify(&b.book) != XR_OK || xr_book_update_id(&b.book) != id)
        state.SkipWithError("book went wrong");
}
BENCHMARK(BM_apply_20);

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void decode_apply(benchmark::State &state, unsigned per_side)
{
    Bench b(per_side);
    int i = 0;
    for (auto _ : state) {
        Message &m = b.next(i++);
        xr_err err = xr_binance_decode_depth_update(&b.codec, m.text.data(), m.text.size(),
                                                    apply_event, &b.book, nullptr);
        benchmark::DoNotOptimize(err);
    }
    if (xr_book_verify(&b.book) != XR_OK || xr_book_update_id(&b.book) != b.id_num)
        state.SkipWithError("book went wrong");

    // Single messages timed one by one: the distribution, not just the mean.
    constexpr int kSamples = 20000;
    std::vector<uint64_t> t(kSamples), overhead(kSamples);
    for (int k = 0; k < kSamples; k++) {
        uint64_t t0 = now_ns();
        overhead[size_t(k)] = now_ns() - t0;
    }
    for (int k = 0; k < kSamples; k++) {
        Message &m = b.next(i++);
        uint64_t t0 = now_ns();
        xr_binance_decode_depth_update(&b.codec, m.text.data(), m.text.size(), apply_event, &b.book,
                                       nullptr);
        t[size_t(k)] = now_ns() - t0;
    }
    std::sort(t.begin(), t.end());
    std::sort(overhead.begin(), overhead.end());
    double clock = double(overhead[kSamples / 2]);
    state.counters["p50_ns"] = double(t[kSamples / 2]) - clock;
    state.counters["p99_ns"] = double(t[kSamples * 99 / 100]) - clock;
    state.counters["bytes"] = double(b.msgs[0].text.size());

    // The fastest of many batches, each going once through all 64 distinct messages: the
    // cost of the code itself when the shared VM leaves the core alone for a moment.
    uint64_t best = UINT64_MAX;
    for (int batch = 0; batch < 300; batch++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < kMessages; k++) {
            Message &m = b.next(i++);
            xr_binance_decode_depth_update(&b.codec, m.text.data(), m.text.size(), apply_event,
                                           &b.book, nullptr);
        }
        best = std::min(best, now_ns() - t0);
    }
    state.counters["best_batch_ns"] = double(best) / kMessages;
    if (xr_book_verify(&b.book) != XR_OK)
        state.SkipWithError("book went wrong");
}

void BM_decode_apply_20(benchmark::State &state)
{
    decode_apply(state, 10);
}
BENCHMARK(BM_decode_apply_20);

void BM_decode_apply_100(benchmark::State &state)
{
    decode_apply(state, 50);
}
BENCHMARK(BM_decode_apply_100);

// The same message through jansson, done the way codec_ref.c reads documents: load, look the
// fields up, parse every decimal exactly. No book: this is the parse alone.
void BM_jansson_20(benchmark::State &state)
{
    Bench b(10);
    int i = 0;
    for (auto _ : state) {
        Message &m = b.next(i++);
        json_error_t jerr;
        json_t *root = json_loadb(m.text.data(), m.text.size(), JSON_REJECT_DUPLICATES, &jerr);
        json_int_t first = json_integer_value(json_object_get(root, "U"));
        json_int_t last = json_integer_value(json_object_get(root, "u"));
        const char *symbol = json_string_value(json_object_get(root, "s"));
        benchmark::DoNotOptimize(first);
        benchmark::DoNotOptimize(last);
        benchmark::DoNotOptimize(symbol);
        for (const char *side : {"b", "a"}) {
            json_t *arr = json_object_get(root, side);
            size_t k;
            json_t *lvl;
            json_array_foreach(arr, k, lvl)
            {
                xr_i128 p = 0, q = 0;
                json_t *ps = json_array_get(lvl, 0), *qs = json_array_get(lvl, 1);
                xr_decimal_parse(json_string_value(ps), json_string_length(ps), 8,
                                 XR_DEC_ALLOW_TRAILING_ZEROS, &p, nullptr);
                xr_decimal_parse(json_string_value(qs), json_string_length(qs), 8,
                                 XR_DEC_ALLOW_TRAILING_ZEROS, &q, nullptr);
                benchmark::DoNotOptimize(p);
                benchmark::DoNotOptimize(q);
            }
        }
        json_decref(root);
    }
}
BENCHMARK(BM_jansson_20);

xr_err snapshot_part(void *ctx, const xr_event *ev)
{
    return xr_book_apply_snapshot(static_cast<xr_book *>(ctx), &ev->u.book, 1, nullptr);
}

void BM_snapshot_5000(benchmark::State &state)
{
    Bench b(1);
    std::string s = "{\"lastUpdateId\":14527958487,\"bids\":[";
    for (int i = 0; i < 5000; i++)
        s += (i ? ",[\"" : "[\"") + price_text(6064999 - uint64_t(i)) + "\",\"0.00213000\"]";
    s += "],\"asks\":[";
    for (int i = 0; i < 5000; i++)
        s += (i ? ",[\"" : "[\"") + price_text(6065001 + uint64_t(i)) + "\",\"0.61982000\"]";
    s += "]}";
    xr_book_config cfg{5000, 0};
    size_t bl = xr_book_footprint(&cfg);
    void *mem = std::aligned_alloc(16, (bl + 15) & ~size_t(15));
    xr_book book;
    xr_book_init(&book, mem, bl, &cfg);
    for (auto _ : state) {
        xr_err err = xr_binance_decode_depth(&b.codec, b.btc, s.data(), s.size(), snapshot_part,
                                             &book, nullptr);
        benchmark::DoNotOptimize(err);
    }
    if (xr_book_get_state(&book) != XR_BOOK_SYNCED || xr_book_verify(&book) != XR_OK)
        state.SkipWithError("snapshot not applied");
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(s.size()));
    std::free(mem);
}
BENCHMARK(BM_snapshot_5000)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
