/* Binance codec against real payloads (tests/data/binance, copied from the shared fixtures):
 * every fixture parses to the values written below by hand from reading the fixture, not
 * from our own output. Then the error mapping, and bad input: truncation at every byte,
 * wrong types, huge numbers, duplicates, unknown fields, key order, oversize messages split
 * into parts, and a refusing callback. A malformed message must report no event at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/codec.h"
#include "adapters/venues/binance/codec_internal.h"
#include "core/market/instrument.h"
#include "tests/unit/venue_test_util.h"

#define MS 1000000ll /* nanoseconds per millisecond */

typedef struct fx {
    xr_asset_registry assets;
    xr_instruments table;
    void *mem;
    xr_binance_codec codec;
    vt_events ev;
} fx;

static fx F;

static const xr_instrument *sym(const char *s)
{
    const xr_instrument *in = xr_instruments_by_symbol(&F.table, s, strlen(s));
    assert_non_null(in);
    return in;
}

/* A pair the fixtures use without an exchangeInfo of their own: Binance's 8 places. */
static void add_pair(const char *symbol, const char *base, const char *quote)
{
    xr_instrument in;
    memset(&in, 0, sizeof in);
    strcpy(in.symbol, symbol);
    strcpy(in.base, base);
    strcpy(in.quote, quote);
    const xr_asset *a = xr_assets_find(&F.assets, base);
    in.scale.base = a != NULL && a->scale > 8 ? a->scale : 8;
    in.scale.quote = 8;
    in.scale.price = 8;
    assert_int_equal(xr_instruments_add(&F.table, &in, NULL), XR_OK);
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    xr_assets_init_default(&F.assets);
    size_t len = xr_instruments_footprint(64);
    F.mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_int_equal(xr_instruments_init(&F.table, F.mem, len, 64, 7), XR_OK);
    F.codec.assets = &F.assets;
    F.codec.instruments = &F.table;
    F.codec.venue = 7;
    size_t n;
    char *buf = vt_load("binance/rest/exchange_info_captured_nautilus.json", &n);
    xr_binance_exchange_info info;
    xr_decode_error perr;
    assert_int_equal(xr_binance_load_exchange_info(&F.codec, buf, n, &info, &perr), XR_OK);
    free(buf);
    add_pair("BNBBTC", "BNB", "BTC");
    add_pair("LTCBTC", "LTC", "BTC");
    add_pair("ETHBTC", "ETH", "BTC");
    add_pair("BNBUSDT", "BNB", "USDT");
    vt_events_init(&F.ev);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vt_events_free(&F.ev);
    free(F.mem);
    return 0;
}

static int reset_events(void **state)
{
    (void)state;
    F.ev.n = 0;
    F.ev.refuse_after = XR_OK;
    return 0;
}

/* Decodes a fixture of `kind` and returns the number of events. */
static size_t decode_file(xr_binance_kind kind, const char *inst, const char *rel)
{
    size_t n;
    char *buf = vt_load(rel, &n);
    xr_decode_error perr = {0, NULL};
    F.ev.n = 0;
    xr_err err = xr_binance_decode(&F.codec, kind, inst != NULL ? sym(inst) : NULL, buf, n,
                                   vt_collect, &F.ev, NULL, &perr);
    if (err != XR_OK)
        fprintf(stderr, "%s: %s at %zu: %s\n", rel, xr_err_name(err), perr.offset,
                perr.reason != NULL ? perr.reason : "");
    assert_int_equal(err, XR_OK);
    free(buf);
    return F.ev.n;
}

static xr_err decode_text(xr_binance_kind kind, const char *text)
{
    xr_decode_error perr;
    F.ev.n = 0;
    return xr_binance_decode(&F.codec, kind, NULL, text, strlen(text), vt_collect, &F.ev, NULL,
                             &perr);
}

static void expect_level(const xr_book_level *l, const char *price, const char *qty,
                         const xr_instrument *in)
{
    assert_i128_equal(l->price.ticks, vt_dec(price, in->scale.price));
    assert_i128_equal(l->qty.units, vt_dec(qty, in->scale.base));
}

/* ---- instruments from exchangeInfo ---------------------------------------------------- */

static void test_exchange_info_captured(void **state)
{
    (void)state;
    size_t n;
    char *buf = vt_load("binance/rest/exchange_info_captured_nautilus.json", &n);
    xr_binance_exchange_info info;
    xr_decode_error perr;
    /* Loaded again into the same table: every pair is already there. */
    assert_int_equal(xr_binance_load_exchange_info(&F.codec, buf, n, &info, &perr), XR_OK);
    free(buf);
    assert_int_equal(info.server_time_ms, 1634942465856);
    assert_int_equal(info.symbols_seen, 2);
    assert_int_equal(info.symbols_added, 0);
    assert_int_equal(info.n_limits, 4);
    assert_int_equal(info.limits[0].kind, XR_BINANCE_LIMIT_REQUEST_WEIGHT);
    assert_int_equal(info.limits[0].interval_s, 60);
    assert_int_equal(info.limits[0].limit, 1200);
    assert_string_equal(info.limits[0].header_suffix, "1M");
    assert_int_equal(info.limits[1].kind, XR_BINANCE_LIMIT_ORDERS);
    assert_int_equal(info.limits[1].interval_s, 10);
    assert_int_equal(info.limits[1].limit, 50);
    assert_string_equal(info.limits[1].header_suffix, "10S");
    assert_int_equal(info.limits[2].kind, XR_BINANCE_LIMIT_ORDERS);
    assert_int_equal(info.limits[2].interval_s, 86400);
    assert_int_equal(info.limits[2].limit, 160000);
    assert_string_equal(info.limits[2].header_suffix, "1D");
    assert_int_equal(info.limits[3].kind, XR_BINANCE_LIMIT_RAW_REQUESTS);
    assert_int_equal(info.limits[3].interval_s, 300);
    assert_int_equal(info.limits[3].limit, 6100);
    assert_string_equal(info.limits[3].header_suffix, "5M");

    /* BTCUSDT: BTC/8 from the registry; USDT is 6 in the registry but Binance reports 8
     * places, so the pair keeps 8; the tick 0.01 needs 2 <= 8. */
    const xr_instrument *btc = sym("BTCUSDT");
    assert_string_equal(btc->canonical, "BTC/USDT");
    assert_string_equal(btc->base, "BTC");
    assert_string_equal(btc->quote, "USDT");
    assert_int_equal(btc->status, XR_INSTRUMENT_TRADING);
    assert_int_equal(btc->scale.base, 8);
    assert_int_equal(btc->scale.quote, 8);
    assert_int_equal(btc->scale.price, 8);
    assert_i128_equal(btc->tick.ticks, 1000000);      /* 0.01 */
    assert_i128_equal(btc->price_min.ticks, 1000000); /* 0.01 */
    assert_i128_equal(btc->price_max.ticks, vt_dec("1000000", 8));
    assert_i128_equal(btc->lot_step.units, 1000); /* 0.00001 BTC */
    assert_i128_equal(btc->qty_min.units, 1000);
    assert_i128_equal(btc->qty_max.units, vt_dec("9000", 8));
    assert_i128_equal(btc->notional_min.units, vt_dec("10", 8));
    assert_i128_equal(btc->notional_max.units, 0);
    /* ETHUSDT: ETH/18 from the registry. */
    const xr_instrument *eth = sym("ETHUSDT");
    assert_string_equal(eth->canonical, "ETH/USDT");
    assert_int_equal(eth->scale.base, 18);
    assert_i128_equal(eth->lot_step.units, vt_dec("0.0001", 18));
    assert_i128_equal(eth->qty_min.units, vt_dec("0.0001", 18));
    assert_i128_equal(eth->qty_max.units, vt_dec("9000", 18));
    assert_i128_equal(eth->tick.ticks, vt_dec("0.01", 8));
    assert_i128_equal(eth->notional_min.units, vt_dec("10", 8));
    /* Canonical name back to the venue's symbol. */
    const xr_instrument *byname = xr_instruments_by_canonical(&F.table, "BTC/USDT", 8);
    assert_ptr_equal(byname, btc);
}

static void test_exchange_info_docs_and_filters(void **state)
{
    (void)state;
    xr_asset_registry assets;
    xr_assets_init_default(&assets);
    size_t tl = xr_instruments_footprint(16);
    void *mem = aligned_alloc(16, (tl + 15) & ~(size_t)15);
    xr_instruments table;
    assert_int_equal(xr_instruments_init(&table, mem, tl, 16, 1), XR_OK);
    xr_binance_codec c = {&assets, &table, 1, 0};
    xr_binance_exchange_info info;
    xr_decode_error perr;

    /* The documentation's schematic example: ETHBTC without filters. */
    size_t n;
    char *buf = vt_load("binance/rest/exchange_info_docs.jsonc", &n);
    assert_int_equal(xr_binance_load_exchange_info(&c, buf, n, &info, &perr), XR_OK);
    free(buf);
    assert_int_equal(info.server_time_ms, 1565246363776);
    assert_int_equal(info.symbols_added, 1);
    assert_int_equal(info.n_limits, 0); /* the one rateLimits entry is an empty object */
    const xr_instrument *in = xr_instruments_by_symbol(&table, "ETHBTC", 6);
    assert_non_null(in);
    assert_string_equal(in->canonical, "ETH/BTC");
    assert_int_equal(in->scale.base, 18);
    assert_int_equal(in->scale.quote, 8);
    assert_int_equal(in->scale.price, 8);
    assert_i128_equal(in->tick.ticks, 0);
    assert_i128_equal(in->lot_step.units, 0);

    /* Each documented filter object inside a one-pair document. */
    static const struct {
        const char *file;
    } filters[] = {{"filter_price_filter_docs.json"},
                   {"filter_lot_size_docs.json"},
                   {"filter_min_notional_docs.json"},
                   {"filter_notional_docs.json"},
                   {"filter_market_lot_size_docs.json"}};
    static char doc[4096];
    int len = snprintf(doc, sizeof doc,
                       "{\"symbols\":[{\"symbol\":\"BNBBTC\",\"status\":\"BREAK\","
                       "\"baseAsset\":\"BNB\",\"quoteAsset\":\"BTC\",\"filters\":[");
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "binance/rest/%s", filters[i].file);
        char *f = vt_load(rel, &n);
        len += snprintf(doc + len, sizeof doc - (size_t)len, "%s%s", i ? "," : "", f);
        free(f);
    }
    len += snprintf(doc + len, sizeof doc - (size_t)len, "]}]}");
    assert_int_equal(xr_binance_load_exchange_info(&c, doc, (size_t)len, &info, &perr), XR_OK);
    assert_int_equal(info.symbols_added, 1);
    in = xr_instruments_by_symbol(&table, "BNBBTC", 6);
    assert_non_null(in);
    assert_int_equal(in->status, XR_INSTRUMENT_HALTED); /* "BREAK" */
    assert_int_equal(in->scale.price, 8);
    /* PRICE_FILTER: minPrice 0.00000100, maxPrice 100000.00000000, tickSize 0.00000100 */
    assert_i128_equal(in->tick.ticks, 100);
    assert_i128_equal(in->price_min.ticks, 100);
    assert_i128_equal(in->price_max.ticks, vt_dec("100000", 8));
    /* LOT_SIZE: minQty 0.00100000, maxQty 100000.00000000, stepSize 0.00100000 (the
     * MARKET_LOT_SIZE filter with the same numbers is not a limit-order rule) */
    assert_i128_equal(in->lot_step.units, 100000);
    assert_i128_equal(in->qty_min.units, 100000);
    assert_i128_equal(in->qty_max.units, vt_dec("100000", 8));
    /* MIN_NOTIONAL 0.001 and NOTIONAL min 10: the stricter wins; NOTIONAL max 10000 */
    assert_i128_equal(in->notional_min.units, vt_dec("10", 8));
    assert_i128_equal(in->notional_max.units, vt_dec("10000", 8));

    /* Only pairs of known assets, when asked: BNB is not in the default registry. */
    xr_instruments_clear(&table);
    c.flags = XR_BINANCE_CODEC_KNOWN_ASSETS_ONLY;
    assert_int_equal(xr_binance_load_exchange_info(&c, doc, (size_t)len, &info, &perr), XR_OK);
    assert_int_equal(info.symbols_seen, 1);
    assert_int_equal(info.symbols_skipped, 1);
    assert_int_equal(table.count, 0);

    /* Not an exchangeInfo at all. */
    assert_int_equal(xr_binance_load_exchange_info(&c, "[1,2]", 5, &info, &perr), XR_ERR_MALFORMED);
    assert_int_equal(xr_binance_load_exchange_info(&c, "{\"symbols\":[", 12, &info, &perr),
                     XR_ERR_MALFORMED);
    free(mem);
}

/* ---- market data ---------------------------------------------------------------------- */

static void test_depth_update_docs(void **state)
{
    (void)state;
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_DEPTH_UPDATE, NULL, "binance/ws/depth_update_docs.jsonc"), 1);
    const xr_event *e = &F.ev.ev[0];
    const xr_instrument *in = sym("BNBBTC");
    assert_int_equal(e->kind, XR_EV_BOOK_DELTA);
    assert_int_equal(e->venue, 7);
    assert_int_equal(e->instrument, in->id);
    assert_int_equal(e->event_time_ns, 1672515782136 * MS);
    assert_int_equal(e->u.book.first_id, 157);
    assert_int_equal(e->u.book.last_id, 160);
    assert_int_equal(e->u.book.part, XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST);
    assert_int_equal(e->u.book.n_bids, 1);
    assert_int_equal(e->u.book.n_asks, 1);
    expect_level(xr_ev_book_bid(&e->u.book, 0), "0.0024", "10", in);
    expect_level(xr_ev_book_ask(&e->u.book, 0), "0.0026", "100", in);
    /* The same through the generic stream entry point. */
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_STREAM, NULL, "binance/ws/depth_update_docs.jsonc"), 1);
    assert_int_equal(F.ev.ev[0].u.book.last_id, 160);
}

static void test_depth_snapshot_captured(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_DEPTH, "BTCUSDT",
                                 "binance/rest/depth_btcusdt_captured_nautilus.json"),
                     1);
    const xr_event *e = &F.ev.ev[0];
    const xr_instrument *in = sym("BTCUSDT");
    assert_int_equal(e->kind, XR_EV_BOOK_SNAPSHOT);
    assert_int_equal(e->u.book.first_id, 14527958487ull);
    assert_int_equal(e->u.book.last_id, 14527958487ull);
    assert_int_equal(e->u.book.n_bids, 10);
    assert_int_equal(e->u.book.n_asks, 10);
    expect_level(xr_ev_book_bid(&e->u.book, 0), "60650.00000000", "0.00213000", in);
    expect_level(xr_ev_book_bid(&e->u.book, 1), "60648.08", "0.06346", in);
    expect_level(xr_ev_book_bid(&e->u.book, 9), "60639.93", "0.07282", in);
    expect_level(xr_ev_book_ask(&e->u.book, 0), "60650.01", "0.61982", in);
    expect_level(xr_ev_book_ask(&e->u.book, 3), "60656.89", "0.01", in);
    expect_level(xr_ev_book_ask(&e->u.book, 9), "60659.94", "0.9617", in);
}

static void test_depth_snapshot_docs(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_DEPTH, "BNBBTC", "binance/rest/depth_docs.jsonc"),
                     1);
    const xr_event *e = &F.ev.ev[0];
    const xr_instrument *in = sym("BNBBTC");
    assert_int_equal(e->u.book.last_id, 1027024);
    expect_level(xr_ev_book_bid(&e->u.book, 0), "4.00000000", "431.00000000", in);
    expect_level(xr_ev_book_ask(&e->u.book, 0), "4.00000200", "12.00000000", in);
    /* The partial-depth stream payload has the same shape. */
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_DEPTH, "BNBBTC", "binance/ws/partial_depth_docs.jsonc"), 1);
    assert_int_equal(F.ev.ev[0].u.book.last_id, 160);
    expect_level(xr_ev_book_ask(&F.ev.ev[0].u.book, 0), "0.0026", "100", in);
    /* And inside a combined stream, the pair comes from the stream's name. */
    size_t n;
    char *buf = vt_load("binance/ws/partial_depth_docs.jsonc", &n);
    char *msg = malloc(n + 64);
    int len = sprintf(msg, "{\"stream\":\"bnbbtc@depth5@100ms\",\"data\":%s}", buf);
    assert_int_equal(decode_text(XR_BINANCE_KIND_STREAM, msg), XR_OK);
    (void)len;
    assert_int_equal(F.ev.n, 1);
    assert_int_equal(F.ev.ev[0].kind, XR_EV_BOOK_SNAPSHOT);
    assert_int_equal(F.ev.ev[0].instrument, in->id);
    free(msg);
    free(buf);
}

static void test_trades(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_TRADE, NULL, "binance/ws/trade_docs.jsonc"), 1);
    const xr_event *e = &F.ev.ev[0];
    const xr_instrument *in = sym("BNBBTC");
    assert_int_equal(e->kind, XR_EV_TRADE);
    assert_int_equal(e->instrument, in->id);
    assert_int_equal(e->u.trade.trade_id, 12345);
    assert_i128_equal(e->u.trade.price.ticks, vt_dec("0.001", 8));
    assert_i128_equal(e->u.trade.qty.units, vt_dec("100", 8));
    assert_int_equal(e->u.trade.trade_time_ns, 1672515782136 * MS);
    assert_int_equal(e->u.trade.taker_side, XR_SIDE_SELL); /* "m": true, the buyer made */

    assert_int_equal(decode_file(XR_BINANCE_KIND_TRADE, NULL,
                                 "binance/ws/trade_combined_captured_nautilus.json"),
                     1);
    e = &F.ev.ev[0];
    in = sym("ETHUSDT");
    assert_int_equal(e->instrument, in->id);
    assert_int_equal(e->event_time_ns, 1639351062244 * MS);
    assert_int_equal(e->u.trade.trade_id, 705291099);
    assert_i128_equal(e->u.trade.price.ticks, vt_dec("4149.74", 8));
    assert_i128_equal(e->u.trade.qty.units, vt_dec("0.4387", 18));
    assert_int_equal(e->u.trade.trade_time_ns, 1639351062243 * MS);
    assert_int_equal(e->u.trade.taker_side, XR_SIDE_SELL);

    assert_int_equal(decode_file(XR_BINANCE_KIND_TRADE, "BNBBTC", "binance/rest/trades_docs.json"),
                     1);
    e = &F.ev.ev[0];
    assert_int_equal(e->u.trade.trade_id, 28457);
    assert_i128_equal(e->u.trade.price.ticks, vt_dec("4.000001", 8));
    assert_i128_equal(e->u.trade.qty.units, vt_dec("12", 8));
    assert_int_equal(e->u.trade.trade_time_ns, 1499865549590 * MS);
    assert_int_equal(e->u.trade.taker_side, XR_SIDE_SELL);

    /* aggTrade (documented shape): the id is "a". */
    assert_int_equal(
        decode_text(XR_BINANCE_KIND_STREAM,
                    "{\"e\":\"aggTrade\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"a\":12345,"
                    "\"p\":\"0.001\",\"q\":\"100\",\"f\":100,\"l\":105,"
                    "\"T\":1672515782136,\"m\":false,\"M\":true}"),
        XR_OK);
    assert_int_equal(F.ev.n, 1);
    assert_int_equal(F.ev.ev[0].u.trade.trade_id, 12345);
    assert_int_equal(F.ev.ev[0].u.trade.taker_side, XR_SIDE_BUY);
}

static void test_tickers(void **state)
{
    (void)state;
    const xr_instrument *in = sym("BNBBTC");
    assert_int_equal(decode_file(XR_BINANCE_KIND_TICKER, NULL, "binance/ws/ticker_24hr_docs.jsonc"),
                     1);
    const xr_ev_ticker *t = &F.ev.ev[0].u.ticker;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_TICKER);
    assert_int_equal(t->fields, XR_TICKER_BEST | XR_TICKER_LAST | XR_TICKER_STATS);
    assert_i128_equal(t->last.ticks, vt_dec("0.0025", 8));
    assert_i128_equal(t->last_qty.units, vt_dec("10", 8));
    assert_i128_equal(t->bid.ticks, vt_dec("0.0024", 8));
    assert_i128_equal(t->bid_qty.units, vt_dec("10", 8));
    assert_i128_equal(t->ask.ticks, vt_dec("0.0026", 8));
    assert_i128_equal(t->ask_qty.units, vt_dec("100", 8));
    assert_i128_equal(t->open.ticks, vt_dec("0.0010", 8));
    assert_i128_equal(t->high.ticks, vt_dec("0.0025", 8));
    assert_i128_equal(t->low.ticks, vt_dec("0.0010", 8));
    assert_i128_equal(t->volume.units, vt_dec("10000", 8));
    assert_i128_equal(t->quote_volume.units, vt_dec("18", 8));
    assert_int_equal(t->open_time_ns, 0);
    assert_int_equal(t->close_time_ns, 86400000 * MS);
    assert_int_equal(t->first_trade_id, 0);
    assert_int_equal(t->last_trade_id, 18150);
    assert_int_equal(t->trade_count, 18151);

    static const char *const rest[] = {"binance/rest/ticker_24hr_full_docs.jsonc",
                                       "binance/rest/ticker_24hr_nautilus.json"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_TICKER, NULL, rest[i]), 1);
        t = &F.ev.ev[0].u.ticker;
        assert_int_equal(F.ev.ev[0].instrument, in->id);
        assert_int_equal(t->fields, XR_TICKER_BEST | XR_TICKER_LAST | XR_TICKER_STATS);
        assert_i128_equal(t->last.ticks, vt_dec("4.00000200", 8));
        assert_i128_equal(t->last_qty.units, vt_dec("200", 8));
        assert_i128_equal(t->bid.ticks, vt_dec("4", 8));
        assert_i128_equal(t->bid_qty.units, vt_dec("100", 8));
        assert_i128_equal(t->ask.ticks, vt_dec("4.000002", 8));
        assert_i128_equal(t->ask_qty.units, vt_dec("100", 8));
        assert_i128_equal(t->open.ticks, vt_dec("99", 8));
        assert_i128_equal(t->high.ticks, vt_dec("100", 8));
        assert_i128_equal(t->low.ticks, vt_dec("0.1", 8));
        assert_i128_equal(t->volume.units, vt_dec("8913.3", 8));
        assert_i128_equal(t->quote_volume.units, vt_dec("15.3", 8));
        assert_int_equal(t->open_time_ns, 1499783499040 * MS);
        assert_int_equal(t->close_time_ns, 1499869899040 * MS);
        assert_int_equal(t->first_trade_id, 28385);
        assert_int_equal(t->last_trade_id, 28460);
        assert_int_equal(t->trade_count, 76);
    }

    assert_int_equal(decode_file(XR_BINANCE_KIND_TICKER, NULL, "binance/ws/book_ticker_docs.jsonc"),
                     1);
    t = &F.ev.ev[0].u.ticker;
    assert_int_equal(F.ev.ev[0].instrument, sym("BNBUSDT")->id);
    assert_int_equal(t->fields, XR_TICKER_BEST);
    assert_int_equal(t->update_id, 400900217);
    assert_i128_equal(t->bid.ticks, vt_dec("25.3519", 8));
    assert_i128_equal(t->bid_qty.units, vt_dec("31.21", 8));
    assert_i128_equal(t->ask.ticks, vt_dec("25.3652", 8));
    assert_i128_equal(t->ask_qty.units, vt_dec("40.66", 8));
}

static void test_klines(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_KLINE, NULL, "binance/ws/kline_docs.jsonc"), 1);
    const xr_ev_candle *c = &F.ev.ev[0].u.candle;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_CANDLE);
    assert_int_equal(F.ev.ev[0].instrument, sym("BNBBTC")->id);
    assert_int_equal(c->interval_s, 60);
    assert_int_equal(c->open_time_ns, 1672515780000 * MS);
    assert_int_equal(c->close_time_ns, 1672515839999 * MS);
    assert_i128_equal(c->open.ticks, vt_dec("0.001", 8));
    assert_i128_equal(c->close.ticks, vt_dec("0.002", 8));
    assert_i128_equal(c->high.ticks, vt_dec("0.0025", 8));
    assert_i128_equal(c->low.ticks, vt_dec("0.0015", 8));
    assert_i128_equal(c->volume.units, vt_dec("1000", 8));
    assert_i128_equal(c->quote_volume.units, vt_dec("1", 8));
    assert_i128_equal(c->taker_buy_volume.units, vt_dec("500", 8));
    assert_i128_equal(c->taker_buy_quote_volume.units, vt_dec("0.5", 8));
    assert_int_equal(c->trade_count, 100);
    assert_int_equal(c->closed, 0);

    assert_int_equal(decode_file(XR_BINANCE_KIND_KLINE, "LTCBTC", "binance/rest/klines_docs.jsonc"),
                     1);
    c = &F.ev.ev[0].u.candle;
    assert_int_equal(c->open_time_ns, 1499040000000 * MS);
    assert_int_equal(c->close_time_ns, 1499644799999 * MS);
    assert_int_equal(c->interval_s, 7 * 86400); /* derived from the row's span */
    assert_i128_equal(c->open.ticks, vt_dec("0.0163479", 8));
    assert_i128_equal(c->high.ticks, vt_dec("0.8", 8));
    assert_i128_equal(c->low.ticks, vt_dec("0.015758", 8));
    assert_i128_equal(c->close.ticks, vt_dec("0.015771", 8));
    assert_i128_equal(c->volume.units, vt_dec("148976.11427815", 8));
    assert_i128_equal(c->quote_volume.units, vt_dec("2434.19055334", 8));
    assert_int_equal(c->trade_count, 308);
    assert_i128_equal(c->taker_buy_volume.units, vt_dec("1756.87402397", 8));
    assert_i128_equal(c->taker_buy_quote_volume.units, vt_dec("28.46694368", 8));

    assert_int_equal(
        decode_file(XR_BINANCE_KIND_KLINE, "BTCUSDT", "binance/rest/klines_captured_nautilus.json"),
        10);
    c = &F.ev.ev[0].u.candle;
    assert_int_equal(c->interval_s, 60);
    assert_int_equal(c->open_time_ns, 1634943780000 * MS);
    assert_i128_equal(c->open.ticks, vt_dec("60685.22", 8));
    assert_i128_equal(c->high.ticks, vt_dec("60729.84", 8));
    assert_i128_equal(c->low.ticks, vt_dec("60670.9", 8));
    assert_i128_equal(c->close.ticks, vt_dec("60719.27", 8));
    assert_i128_equal(c->volume.units, vt_dec("21.63272", 8));
    assert_i128_equal(c->quote_volume.units, vt_dec("1313200.0134041", 8));
    assert_int_equal(c->trade_count, 617);
    c = &F.ev.ev[9].u.candle;
    assert_int_equal(c->open_time_ns, 1634944320000 * MS);
    assert_int_equal(c->close_time_ns, 1634944379999 * MS);
    assert_i128_equal(c->open.ticks, vt_dec("60739.85", 8));
    assert_i128_equal(c->close.ticks, vt_dec("60739.85", 8));
    assert_i128_equal(c->volume.units, vt_dec("0.04734", 8));
    assert_i128_equal(c->quote_volume.units, vt_dec("2875.424499", 8));
    assert_int_equal(c->trade_count, 7);
}

/* ---- orders --------------------------------------------------------------------------- */

static void test_order_ack_result(void **state)
{
    (void)state;
    const xr_instrument *in = sym("BTCUSDT");
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_ORDER, NULL, "binance/rest/new_order_ack_docs.jsonc"), 1);
    const xr_ev_order *o = &F.ev.ev[0].u.order;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_ACK);
    assert_int_equal(F.ev.ev[0].instrument, in->id);
    assert_string_equal(o->client_order_id, "6gCrw2kRUAF9CvJDGP16IP");
    assert_int_equal(o->venue_order_id, 28);
    assert_int_equal(o->status, XR_ORDER_PENDING); /* ACK says nothing about the state */
    assert_int_equal(o->transact_time_ns, 1507725176595 * MS);

    assert_int_equal(
        decode_file(XR_BINANCE_KIND_ORDER, NULL, "binance/rest/new_order_result_docs.jsonc"), 1);
    o = &F.ev.ev[0].u.order;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_ACK);
    assert_int_equal(o->status, XR_ORDER_FILLED);
    assert_int_equal(o->side, XR_SIDE_SELL);
    assert_int_equal(o->type, XR_ORDER_TYPE_MARKET);
    assert_int_equal(o->tif, XR_TIF_GTC);
    assert_i128_equal(o->price.ticks, 0);
    assert_i128_equal(o->qty.units, vt_dec("10", 8));
    assert_i128_equal(o->cum_qty.units, vt_dec("10", 8));
    assert_i128_equal(o->cum_quote.units, vt_dec("10", 8));
}

static void test_order_full(void **state)
{
    (void)state;
    static const char *const files[] = {"binance/rest/new_order_full_market_docs.jsonc",
                                        "binance/rest/new_order_full_market_nautilus.json"};
    static const struct {
        const char *price, *qty, *fee, *cum;
        uint64_t trade;
    } fills[] = {
        {"4000", "1", "4", "1", 56},      {"3999", "5", "19.995", "6", 57},
        {"3998", "2", "7.996", "8", 58},  {"3997", "1", "3.997", "9", 59},
        {"3995", "1", "3.995", "10", 60},
    };
    for (int f = 0; f < 2; f++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_ORDER, NULL, files[f]), 6);
        assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_ACK);
        assert_int_equal(F.ev.ev[0].u.order.status, XR_ORDER_FILLED);
        for (int i = 0; i < 5; i++) {
            const xr_event *e = &F.ev.ev[1 + i];
            const xr_ev_order *o = &e->u.order;
            assert_int_equal(e->kind, XR_EV_ORDER_FILL);
            assert_string_equal(o->client_order_id, "6gCrw2kRUAF9CvJDGP16IP");
            assert_int_equal(o->venue_order_id, 28);
            assert_int_equal(o->side, XR_SIDE_SELL);
            assert_i128_equal(o->last_price.ticks, vt_dec(fills[i].price, 8));
            assert_i128_equal(o->last_qty.units, vt_dec(fills[i].qty, 8));
            assert_i128_equal(o->cum_qty.units, vt_dec(fills[i].cum, 8));
            assert_string_equal(o->fee_asset, "USDT");
            assert_int_equal(o->fee_asset_id, 3); /* USDT in the default registry */
            assert_int_equal(o->fee_scale, 8);    /* Binance reports 8 places */
            assert_i128_equal(o->fee.units, vt_dec(fills[i].fee, 8));
            assert_int_equal(o->trade_id, fills[i].trade);
            assert_int_equal(o->status, i == 4 ? XR_ORDER_FILLED : XR_ORDER_PARTIALLY_FILLED);
        }
    }
}

static void test_order_query_cancel_open(void **state)
{
    (void)state;
    const xr_instrument *in = sym("LTCBTC");
    static const char *const query[] = {"binance/rest/query_order_docs.jsonc",
                                        "binance/rest/query_order_nautilus.json"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_ORDER, NULL, query[i]), 1);
        const xr_ev_order *o = &F.ev.ev[0].u.order;
        assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_STATUS);
        assert_int_equal(F.ev.ev[0].instrument, in->id);
        assert_string_equal(o->client_order_id, "myOrder1");
        assert_int_equal(o->venue_order_id, 1);
        assert_int_equal(o->status, XR_ORDER_OPEN);
        assert_int_equal(o->side, XR_SIDE_BUY);
        assert_int_equal(o->type, XR_ORDER_TYPE_LIMIT);
        assert_int_equal(o->tif, XR_TIF_GTC);
        assert_i128_equal(o->price.ticks, vt_dec("0.1", 8));
        assert_i128_equal(o->qty.units, vt_dec("1", 8));
        assert_i128_equal(o->cum_qty.units, 0);
        assert_int_equal(o->transact_time_ns, 1499827319559 * MS);
    }
    static const char *const cancel[] = {"binance/rest/cancel_order_docs.jsonc",
                                         "binance/rest/cancel_order_nautilus.json"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_ORDER, NULL, cancel[i]), 1);
        const xr_ev_order *o = &F.ev.ev[0].u.order;
        assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_CANCEL);
        assert_string_equal(o->client_order_id, "myOrder1");
        assert_string_equal(o->cancel_request_id, "cancelMyOrder1");
        assert_int_equal(o->venue_order_id, 4);
        assert_int_equal(o->status, XR_ORDER_CANCELLED);
        assert_i128_equal(o->price.ticks, vt_dec("2", 8));
        assert_i128_equal(o->qty.units, vt_dec("1", 8));
        assert_int_equal(o->transact_time_ns, 1684804350068 * MS);
    }
    static const char *const lists[] = {"binance/rest/open_orders_docs.jsonc",
                                        "binance/rest/open_orders_nautilus.json",
                                        "binance/rest/all_orders_docs.jsonc"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_ORDER, NULL, lists[i]), 1);
        assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_STATUS);
        assert_string_equal(F.ev.ev[0].u.order.client_order_id, "myOrder1");
        assert_int_equal(F.ev.ev[0].u.order.status, XR_ORDER_OPEN);
    }
    /* An empty list, and an error body where an order was expected. */
    assert_int_equal(decode_text(XR_BINANCE_KIND_ORDER, "[]"), XR_OK);
    assert_int_equal(F.ev.n, 0);
    assert_int_equal(
        decode_text(XR_BINANCE_KIND_ORDER, "{\"code\":-2013,\"msg\":\"Order does not exist.\"}"),
        XR_OK);
    assert_int_equal(F.ev.n, 1);
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ERROR);
    assert_int_equal(F.ev.ev[0].u.error.err, XR_ERR_NOT_FOUND);
}

/* ---- account and user data ------------------------------------------------------------ */

static void test_account(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_ACCOUNT, NULL, "binance/rest/account_docs.json"),
                     2);
    const xr_ev_balance *b = &F.ev.ev[0].u.balance;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_BALANCE);
    assert_string_equal(b->asset, "BTC");
    assert_int_equal(b->asset_id, 6);
    assert_int_equal(b->scale, 8);
    assert_int_equal(b->is_delta, 0);
    assert_i128_equal(b->free.units, vt_dec("4723846.89208129", 8));
    assert_i128_equal(b->locked.units, 0);
    assert_int_equal(b->update_time_ns, 123456789 * MS);
    b = &F.ev.ev[1].u.balance;
    assert_string_equal(b->asset, "LTC");
    assert_int_equal(b->asset_id, XR_ASSET_ID_NONE);
    assert_int_equal(b->scale, 8);
    assert_i128_equal(b->free.units, vt_dec("4763368.68006011", 8));
}

static void test_execution_reports(void **state)
{
    (void)state;
    static const char *const files[] = {"binance/ws/user_execution_report_docs.jsonc",
                                        "binance/ws/user_execution_report_wrapped_nautilus.json"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decode_file(XR_BINANCE_KIND_USER_DATA, NULL, files[i]), 1);
        const xr_event *e = &F.ev.ev[0];
        const xr_ev_order *o = &e->u.order;
        assert_int_equal(e->kind, XR_EV_ORDER_ACK); /* "x": "NEW" */
        assert_int_equal(e->instrument, sym("ETHBTC")->id);
        assert_int_equal(e->event_time_ns, 1499405658658 * MS);
        assert_string_equal(o->client_order_id, "mUvoqJxFIILMdfAW5iGSOW");
        assert_int_equal(o->venue_order_id, 4293153);
        assert_int_equal(o->side, XR_SIDE_BUY);
        assert_int_equal(o->type, XR_ORDER_TYPE_LIMIT);
        assert_int_equal(o->tif, XR_TIF_GTC);
        assert_int_equal(o->status, XR_ORDER_OPEN);
        assert_i128_equal(o->qty.units, vt_dec("1", 18));
        assert_i128_equal(o->price.ticks, vt_dec("0.1026441", 8));
        assert_i128_equal(o->cum_qty.units, 0);
        assert_i128_equal(o->fee.units, 0);
        assert_string_equal(o->fee_asset, ""); /* "N": null */
        assert_int_equal(o->trade_id, 0);      /* "t": -1 */
        assert_int_equal(o->transact_time_ns, 1499405658657 * MS);
    }

    /* The same report as a partial fill, then a cancel and a reject (Binance documents the
     * fields; no captured example of these exists in the fixtures). */
    const char *fill =
        "{\"e\":\"executionReport\",\"E\":1499405658658,\"s\":\"ETHBTC\",\"c\":\"abc\",\"S\":"
        "\"SELL\","
        "\"o\":\"LIMIT\",\"f\":\"IOC\",\"q\":\"1.00000000\",\"p\":\"0.10264410\",\"x\":\"TRADE\","
        "\"X\":\"PARTIALLY_FILLED\",\"r\":\"NONE\",\"i\":4293153,\"l\":\"0.25000000\","
        "\"z\":\"0.25000000\",\"L\":\"0.10264410\",\"n\":\"0.00002566\",\"N\":\"BTC\","
        "\"T\":1499405658657,\"t\":77,\"m\":true,\"Z\":\"0.02566102\",\"Y\":\"0.02566102\"}";
    assert_int_equal(decode_text(XR_BINANCE_KIND_USER_DATA, fill), XR_OK);
    assert_int_equal(F.ev.n, 1);
    const xr_ev_order *o = &F.ev.ev[0].u.order;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_FILL);
    assert_int_equal(o->status, XR_ORDER_PARTIALLY_FILLED);
    assert_int_equal(o->tif, XR_TIF_IOC);
    assert_i128_equal(o->last_qty.units, vt_dec("0.25", 18));
    assert_i128_equal(o->last_price.ticks, vt_dec("0.1026441", 8));
    assert_i128_equal(o->cum_quote.units, vt_dec("0.02566102", 8));
    assert_i128_equal(o->last_quote.units, vt_dec("0.02566102", 8));
    assert_i128_equal(o->fee.units, vt_dec("0.00002566", 8));
    assert_string_equal(o->fee_asset, "BTC");
    assert_int_equal(o->trade_id, 77);
    assert_int_equal(o->maker, 1);

    const char *cancel = "{\"e\":\"executionReport\",\"E\":1,\"s\":\"ETHBTC\",\"c\":\"cxl-1\","
                         "\"C\":\"abc\",\"S\":\"SELL\","
                         "\"o\":\"LIMIT\",\"f\":\"GTC\",\"q\":\"1\",\"p\":\"0.1\",\"x\":"
                         "\"CANCELED\",\"X\":\"CANCELED\","
                         "\"r\":\"NONE\",\"i\":4293153,\"l\":\"0\",\"z\":\"0.25\",\"L\":\"0\","
                         "\"n\":\"0\",\"N\":null,"
                         "\"T\":2,\"t\":-1}";
    assert_int_equal(decode_text(XR_BINANCE_KIND_USER_DATA, cancel), XR_OK);
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_CANCEL);
    assert_string_equal(F.ev.ev[0].u.order.client_order_id, "abc");
    assert_string_equal(F.ev.ev[0].u.order.cancel_request_id, "cxl-1");
    assert_int_equal(F.ev.ev[0].u.order.status, XR_ORDER_CANCELLED);

    const char *reject =
        "{\"e\":\"executionReport\",\"E\":1,\"s\":\"ETHBTC\",\"c\":\"r1\",\"S\":\"BUY\",\"o\":"
        "\"LIMIT\","
        "\"f\":\"GTC\",\"q\":\"1\",\"p\":\"0.1\",\"x\":\"REJECTED\",\"X\":\"REJECTED\","
        "\"r\":\"INSUFFICIENT_BALANCE\",\"i\":5,\"l\":\"0\",\"z\":\"0\",\"L\":\"0\",\"n\":\"0\","
        "\"N\":null,\"T\":2,\"t\":-1}";
    assert_int_equal(decode_text(XR_BINANCE_KIND_USER_DATA, reject), XR_OK);
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ORDER_REJECT);
    assert_int_equal(F.ev.ev[0].u.order.reject, XR_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(F.ev.ev[0].u.order.status, XR_ORDER_REJECTED);
}

static void test_balances_user_data(void **state)
{
    (void)state;
    assert_int_equal(decode_file(XR_BINANCE_KIND_USER_DATA, NULL,
                                 "binance/ws/user_outbound_account_position_docs.jsonc"),
                     1);
    const xr_ev_balance *b = &F.ev.ev[0].u.balance;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_BALANCE);
    assert_int_equal(F.ev.ev[0].event_time_ns, 1564034571105 * MS);
    assert_string_equal(b->asset, "ETH");
    assert_int_equal(b->scale, 18);
    assert_i128_equal(b->free.units, vt_dec("10000", 18));
    assert_i128_equal(b->locked.units, 0);
    assert_int_equal(b->update_time_ns, 1564034571073 * MS);

    assert_int_equal(
        decode_file(XR_BINANCE_KIND_USER_DATA, NULL, "binance/ws/user_balance_update_docs.jsonc"),
        1);
    b = &F.ev.ev[0].u.balance;
    assert_string_equal(b->asset, "BTC");
    assert_int_equal(b->is_delta, 1);
    assert_i128_equal(b->delta.units, vt_dec("100", 8));
    assert_int_equal(b->update_time_ns, 1573200697068 * MS);
    assert_int_equal(F.ev.ev[0].event_time_ns, 1573200697110 * MS);
    /* A withdrawal is a negative delta. */
    assert_int_equal(
        decode_text(XR_BINANCE_KIND_USER_DATA,
                    "{\"e\":\"balanceUpdate\",\"E\":1,\"a\":\"BTC\",\"d\":\"-0.5\",\"T\":1}"),
        XR_OK);
    assert_i128_equal(F.ev.ev[0].u.balance.delta.units, vt_dec("-0.5", 8));
}

static void test_stream_misc(void **state)
{
    (void)state;
    /* Subscription traffic reports nothing. */
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_STREAM, NULL, "binance/ws/subscribe_response_docs.json"), 0);
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_STREAM, NULL, "binance/ws/subscribe_request_docs.json"), 0);
    /* An event type that xroute does not use reports nothing. */
    assert_int_equal(
        decode_text(XR_BINANCE_KIND_STREAM, "{\"e\":\"listStatus\",\"E\":1,\"s\":\"X\"}"), XR_OK);
    assert_int_equal(F.ev.n, 0);
    /* A combined-stream array (e.g. !ticker@arr). */
    assert_int_equal(
        decode_text(
            XR_BINANCE_KIND_STREAM,
            "{\"stream\":\"x\",\"data\":[{\"u\":1,\"s\":\"BNBUSDT\",\"b\":\"1\",\"B\":\"2\","
            "\"a\":\"3\",\"A\":\"4\"},{\"u\":2,\"s\":\"BNBUSDT\",\"b\":\"1\",\"B\":\"2\","
            "\"a\":\"3\",\"A\":\"5\"}]}"),
        XR_OK);
    assert_int_equal(F.ev.n, 2);
    assert_int_equal(F.ev.ev[1].u.ticker.update_id, 2);
    /* The raw "!ticker@arr" stream: an array of 24hrTicker events, also as --kind ticker. */
    size_t n;
    char *one = vt_load("binance/ws/ticker_24hr_docs.jsonc", &n);
    char *arr = malloc(2 * n + 8);
    sprintf(arr, "[%s,%s]", one, one);
    assert_int_equal(decode_text(XR_BINANCE_KIND_STREAM, arr), XR_OK);
    assert_int_equal(F.ev.n, 2);
    assert_int_equal(decode_text(XR_BINANCE_KIND_TICKER, arr), XR_OK);
    assert_int_equal(F.ev.n, 2);
    assert_int_equal(F.ev.ev[1].u.ticker.trade_count, 18151);
    assert_int_equal(decode_text(XR_BINANCE_KIND_STREAM, "[]"), XR_OK);
    assert_int_equal(F.ev.n, 0);
    free(arr);
    free(one);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_error_bodies(void **state)
{
    (void)state;
    assert_int_equal(
        decode_file(XR_BINANCE_KIND_ERROR, NULL, "binance/rest/error_invalid_symbol_docs.json"), 1);
    const xr_ev_error *e = &F.ev.ev[0].u.error;
    assert_int_equal(F.ev.ev[0].kind, XR_EV_ERROR);
    assert_int_equal(e->venue_code, -1121);
    assert_int_equal(e->err, XR_ERR_UNKNOWN_PAIR);
    assert_string_equal(e->msg, "Invalid symbol.");
    assert_int_equal(decode_file(XR_BINANCE_KIND_ERROR, NULL,
                                 "binance/rest/error_cancel_restrictions_docs.json"),
                     1);
    assert_int_equal(F.ev.ev[0].u.error.venue_code, -2011);
    assert_int_equal(F.ev.ev[0].u.error.err, XR_ERR_INVALID_STATE);

    /* Bodies quoted in public issues: "label | source | body" lines. */
    size_t n;
    char *text = vt_load("binance/rest/errors_captured_from_issues.txt", &n);
    int checked = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *body = strrchr(line, '|');
        if (body == NULL || strstr(body, "{\"code\"") == NULL)
            continue;
        body = strstr(body, "{\"code\"");
        int http = strncmp(line, "too_much_weight", 15) == 0 ? 429 : 400;
        xr_decode_error perr;
        F.ev.n = 0;
        assert_int_equal(
            xr_binance_decode_error(&F.codec, http, body, strlen(body), vt_collect, &F.ev, &perr),
            XR_OK);
        assert_int_equal(F.ev.n, 1);
        e = &F.ev.ev[0].u.error;
        assert_int_equal(e->http_status, http);
        if (strncmp(line, "invalid_signature_-1022", 23) == 0) {
            assert_int_equal(e->venue_code, -1022);
            assert_int_equal(e->err, XR_ERR_UNAUTHORIZED);
            assert_string_equal(e->msg, "Signature for this request is not valid.");
        } else if (strncmp(line, "insufficient_balance_-2010", 26) == 0) {
            assert_int_equal(e->venue_code, -2010);
            assert_int_equal(e->err, XR_ERR_INSUFFICIENT_FUNDS);
        } else if (strncmp(line, "unknown_order_-2011", 19) == 0) {
            assert_int_equal(e->venue_code, -2011);
            assert_int_equal(e->err, XR_ERR_NOT_FOUND);
            assert_string_equal(e->msg, "UNKNOWN_ORDER");
        } else if (strncmp(line, "too_much_weight_-1003", 21) == 0) {
            /* The body is cut short in the source: the status alone decides. */
            assert_int_equal(e->venue_code, 0);
            assert_int_equal(e->err, XR_ERR_RATE_LIMITED);
            assert_true(e->flags & XR_VENUE_ERR_RETRYABLE);
        } else {
            fail_msg("unexpected line %s", line);
        }
        checked++;
    }
    assert_int_equal(checked, 6);
    free(text);

    /* A proxy's 502 page. */
    xr_decode_error perr;
    F.ev.n = 0;
    const char *html = "<html><body>502 Bad Gateway</body></html>";
    assert_int_equal(
        xr_binance_decode_error(&F.codec, 502, html, strlen(html), vt_collect, &F.ev, &perr),
        XR_OK);
    assert_int_equal(F.ev.ev[0].u.error.err, XR_ERR_VENUE_UNAVAILABLE);
    assert_true(F.ev.ev[0].u.error.flags & XR_VENUE_ERR_OUTCOME_UNKNOWN);
    /* A long message is cut, not refused. */
    char longmsg[600];
    int len = snprintf(longmsg, sizeof longmsg, "{\"code\":-1013,\"msg\":\"");
    for (int i = 0; i < 400; i++)
        longmsg[len++] = 'x';
    strcpy(longmsg + len, "\"}");
    assert_int_equal(decode_text(XR_BINANCE_KIND_ERROR, longmsg), XR_OK);
    assert_int_equal(strlen(F.ev.ev[0].u.error.msg), XR_EV_ERROR_MSG_MAX);
}

static void test_error_mapping(void **state)
{
    (void)state;
    uint16_t f = 0;
    static const struct {
        int http;
        int32_t code;
        const char *msg;
        xr_err want;
        uint16_t flags;
    } cases[] = {
        {429, -1003,
         "Too much request weight used; current limit is 1200 request weight per 1 MINUTE.",
         XR_ERR_RATE_LIMITED, XR_VENUE_ERR_RETRYABLE},
        {418, -1003, "Way too much request weight used; IP banned until 1.", XR_ERR_RATE_LIMITED,
         XR_VENUE_ERR_RETRYABLE | XR_VENUE_ERR_BANNED},
        {429, 0, NULL, XR_ERR_RATE_LIMITED, XR_VENUE_ERR_RETRYABLE},
        {400, -1015, "Too many new orders.", XR_ERR_RATE_LIMITED, XR_VENUE_ERR_RETRYABLE},
        {400, -1021, "Timestamp for this request is outside of the recvWindow.", XR_ERR_STALE,
         XR_VENUE_ERR_CLOCK_DRIFT | XR_VENUE_ERR_RETRYABLE},
        {400, -1022, "Signature for this request is not valid.", XR_ERR_UNAUTHORIZED, 0},
        {401, -2015, "Invalid API-key, IP, or permissions for action.", XR_ERR_UNAUTHORIZED, 0},
        {400, -2014, "API-key format invalid.", XR_ERR_UNAUTHORIZED, 0},
        {400, -1121, "Invalid symbol.", XR_ERR_UNKNOWN_PAIR, 0},
        {400, -1111, "Parameter 'quantity' has too much precision.", XR_ERR_INVALID_AMOUNT, 0},
        {400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
         XR_ERR_INVALID_ARGUMENT, 0},
        {400, -1100, "Illegal characters found in a parameter.", XR_ERR_INVALID_ARGUMENT, 0},
        {400, -1130, "Invalid data sent for a parameter.", XR_ERR_INVALID_ARGUMENT, 0},
        {400, -1125, "This listenKey does not exist.", XR_ERR_NOT_FOUND, 0},
        {400, -1013, "Filter failure: LOT_SIZE", XR_ERR_INVALID_AMOUNT, 0},
        {400, -1013, "Filter failure: PRICE_FILTER", XR_ERR_INVALID_AMOUNT, 0},
        {400, -1013, "Filter failure: MIN_NOTIONAL", XR_ERR_BELOW_MIN_SIZE, 0},
        {400, -1013, "Filter failure: NOTIONAL", XR_ERR_BELOW_MIN_SIZE, 0},
        {400, -1013, "Filter failure: MAX_NUM_ORDERS", XR_ERR_LIMIT_EXCEEDED, 0},
        {400, -2010, "Account has insufficient balance for requested action.",
         XR_ERR_INSUFFICIENT_FUNDS, 0},
        {400, -2010, "Duplicate order sent.", XR_ERR_ALREADY_EXISTS, 0},
        {400, -2010, "Market is closed.", XR_ERR_VENUE_UNAVAILABLE, 0},
        {400, -2010, "Order would immediately match and take.", XR_ERR_REJECTED, 0},
        {400, -2011, "Unknown order sent.", XR_ERR_NOT_FOUND, 0},
        {400, -2011, "Order was not canceled due to cancel restrictions.", XR_ERR_INVALID_STATE, 0},
        {400, -2013, "Order does not exist.", XR_ERR_NOT_FOUND, 0},
        {503, -1007, "Timeout waiting for response from backend server.", XR_ERR_TIMEOUT,
         XR_VENUE_ERR_OUTCOME_UNKNOWN},
        {500, -1006, "An unexpected response was received.", XR_ERR_VENUE_UNAVAILABLE,
         XR_VENUE_ERR_OUTCOME_UNKNOWN},
        {503, 0, NULL, XR_ERR_VENUE_UNAVAILABLE, XR_VENUE_ERR_OUTCOME_UNKNOWN},
        {400, -1008, "Server is currently overloaded.", XR_ERR_VENUE_UNAVAILABLE,
         XR_VENUE_ERR_RETRYABLE},
        {403, 0, NULL, XR_ERR_UNAUTHORIZED, 0},
        {409, 0, NULL, XR_ERR_INVALID_STATE, 0},
        {400, -9999, "new", XR_ERR_REJECTED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = cases[i].msg;
        xr_err got = xr_binance_map_error(cases[i].http, cases[i].code, m, m ? strlen(m) : 0, &f);
        if (got != cases[i].want || f != cases[i].flags)
            fail_msg("case %zu (%d %d): got %s flags %u", i, cases[i].http, cases[i].code,
                     xr_err_name(got), f);
    }
}

/* ---- bad input ------------------------------------------------------------------------ */

static void expect_refused(xr_binance_kind kind, const char *text, xr_err want)
{
    xr_err err = decode_text(kind, text);
    if (err != want)
        fail_msg("%s: got %s, want %s", text, xr_err_name(err), xr_err_name(want));
    assert_int_equal(F.ev.n, 0);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    static const struct {
        xr_binance_kind kind;
        const char *inst, *file;
    } cases[] = {
        {XR_BINANCE_KIND_DEPTH_UPDATE, NULL, "binance/ws/depth_update_docs.jsonc"},
        {XR_BINANCE_KIND_DEPTH, "BTCUSDT", "binance/rest/depth_btcusdt_captured_nautilus.json"},
        {XR_BINANCE_KIND_TRADE, NULL, "binance/ws/trade_combined_captured_nautilus.json"},
        {XR_BINANCE_KIND_ORDER, NULL, "binance/rest/new_order_full_market_nautilus.json"},
        {XR_BINANCE_KIND_USER_DATA, NULL, "binance/ws/user_execution_report_wrapped_nautilus.json"},
        {XR_BINANCE_KIND_TICKER, NULL, "binance/ws/ticker_24hr_docs.jsonc"},
        {XR_BINANCE_KIND_KLINE, NULL, "binance/ws/kline_docs.jsonc"},
        {XR_BINANCE_KIND_ACCOUNT, NULL, "binance/rest/account_docs.json"},
        {XR_BINANCE_KIND_ERROR, NULL, "binance/rest/error_invalid_symbol_docs.json"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n;
        char *buf = vt_load(cases[c].file, &n);
        /* Trailing whitespace is not part of the message. */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            n--;
        for (size_t cut = 0; cut < n; cut++) {
            char *copy = malloc(cut + 1); /* exact size: ASan sees any over-read */
            memcpy(copy, buf, cut);
            xr_decode_error perr = {0, NULL};
            F.ev.n = 0;
            xr_err err = xr_binance_decode(&F.codec, cases[c].kind,
                                           cases[c].inst ? sym(cases[c].inst) : NULL, copy, cut,
                                           vt_collect, &F.ev, NULL, &perr);
            if (err == XR_OK || F.ev.n != 0)
                fail_msg("%s cut at %zu: %s, %zu events", cases[c].file, cut, xr_err_name(err),
                         F.ev.n);
            assert_true(perr.offset <= cut);
            assert_non_null(perr.reason);
            free(copy);
        }
        free(buf);
    }
}

static void test_wrong_types_and_values(void **state)
{
    (void)state;
    const xr_binance_kind DU = XR_BINANCE_KIND_DEPTH_UPDATE;
#define DEPTH(fields) "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BNBBTC\"," fields "}"
    /* The reference message is accepted. */
    assert_int_equal(decode_text(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1.5\",\"2\"]],\"a\":[]")),
                     XR_OK);
    assert_int_equal(F.ev.n, 1);
    /* Wrong types. */
    expect_refused(DU, DEPTH("\"U\":\"1\",\"u\":2,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[1.5,\"2\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":{},\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[\"1.5\",\"2\"],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1.5\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1.0,\"u\":2,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":-1,\"u\":2,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, "{\"e\":\"depthUpdate\",\"s\":5,\"U\":1,\"u\":2,\"b\":[],\"a\":[]}",
                   XR_ERR_MALFORMED);
    expect_refused(DU, "[1,2]", XR_ERR_MALFORMED);
    expect_refused(DU, "\"depthUpdate\"", XR_ERR_MALFORMED);
    /* Huge numbers: ids beyond 64 bits, prices beyond 128 bits or the scale, exponents. */
    expect_refused(DU, DEPTH("\"U\":1,\"u\":18446744073709551616,\"b\":[],\"a\":[]"),
                   XR_ERR_MALFORMED);
    expect_refused(DU,
                   DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1701411834604692317316873037158841057280\","
                         "\"1\"]],\"a\":[]"),
                   XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1.000000001\",\"1\"]],\"a\":[]"),
                   XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1e5\",\"1\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"-1\",\"1\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1\",\"-1\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"0\",\"1\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\" 1\",\"1\"]],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1\\u0030\",\"1\"]],\"a\":[]"),
                   XR_ERR_MALFORMED);
    /* Ids reversed, missing fields, duplicates, another event type. */
    expect_refused(DU, DEPTH("\"U\":3,\"u\":2,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"u\":3,\"b\":[],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"a\":[[\"1\",\"1\"]]"),
                   XR_ERR_MALFORMED);
    expect_refused(DU, "{\"e\":\"trade\",\"s\":\"BNBBTC\",\"U\":1,\"u\":2,\"b\":[],\"a\":[]}",
                   XR_ERR_MALFORMED);
    /* An unknown symbol. */
    expect_refused(DU, "{\"e\":\"depthUpdate\",\"s\":\"NOPE\",\"U\":1,\"u\":2,\"b\":[],\"a\":[]}",
                   XR_ERR_UNKNOWN_PAIR);
    /* Not JSON: garbage, trailing bytes, comments, trailing commas, bad UTF-8, nesting. */
    expect_refused(DU, "", XR_ERR_MALFORMED);
    expect_refused(DU, "   ", XR_ERR_MALFORMED);
    expect_refused(DU, "\x01\x02garbage", XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[]") "x", XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[] // c"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[[\"1\",\"2\"],],\"a\":[]"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":\"\xff\""), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":\"\xc0\xaf\""),
                   XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":\"\xed\xa0\x80\""),
                   XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":\"a\tb\""), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":01"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":tru"), XR_ERR_MALFORMED);
    expect_refused(DU, DEPTH("\"U\":1,\"u\":2,\"b\":[],\"a\":[],\"x\":'a'"), XR_ERR_MALFORMED);
    char deep[256];
    int len = snprintf(deep, sizeof deep, "{\"e\":\"depthUpdate\",\"x\":");
    for (int i = 0; i < 40; i++)
        deep[len++] = '[';
    for (int i = 0; i < 40; i++)
        deep[len++] = ']';
    strcpy(deep + len, ",\"s\":\"BNBBTC\",\"U\":1,\"u\":2,\"b\":[],\"a\":[]}");
    expect_refused(DU, deep, XR_ERR_MALFORMED);
    /* Other kinds: wrong types where money is expected. */
    expect_refused(XR_BINANCE_KIND_TRADE,
                   "{\"e\":\"trade\",\"E\":1,\"s\":\"BNBBTC\",\"t\":1,\"p\":0.001,\"q\":\"1\","
                   "\"T\":1,\"m\":true}",
                   XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_TRADE,
                   "{\"e\":\"trade\",\"E\":1,\"s\":\"BNBBTC\",\"t\":1,\"p\":\"0.001\",\"q\":\"1\","
                   "\"T\":1,\"m\":1}",
                   XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_ORDER,
                   "{\"symbol\":\"LTCBTC\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":"
                   "\"WEIRD\",\"side\":\"BUY\"}",
                   XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_ORDER,
                   "{\"symbol\":\"LTCBTC\",\"orderId\":1,\"clientOrderId\":"
                   "\"0123456789012345678901234567890123456789x\","
                   "\"status\":\"NEW\",\"side\":\"BUY\"}",
                   XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_ACCOUNT,
                   "{\"balances\":[{\"asset\":\"BTC\",\"free\":1.5,\"locked\":\"0\"}]}",
                   XR_ERR_MALFORMED);
    expect_refused(
        XR_BINANCE_KIND_ACCOUNT,
        "{\"balances\":[{\"asset\":\"BTC\",\"free\":\"1\",\"free\":\"2\",\"locked\":\"0\"}]}",
        XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_ERROR, "{\"code\":99999999999,\"msg\":\"x\"}", XR_ERR_MALFORMED);
    expect_refused(XR_BINANCE_KIND_ERROR, "{\"msg\":\"x\"}", XR_ERR_MALFORMED);
#undef DEPTH
}

static void test_unknown_fields_and_key_order(void **state)
{
    (void)state;
    const xr_instrument *in = sym("BNBBTC");
    /* Unknown fields of any shape are skipped; the levels come before the symbol. */
    const char *msg =
        "{\"zz\":{\"a\":[1,-2.5e-3,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\"},"
        "\"b\":[[\"0.0024\",\"10\",[]]],\"a\":[[\"0.0026\",\"100\"]],\"pu\":7,"
        "\"u\":160,\"U\":157,\"E\":1672515782136,\"s\":\"BNBBTC\",\"e\":\"depthUpdate\","
        "\"\\u0065\":\"escaped keys are other keys\"}";
    assert_int_equal(decode_text(XR_BINANCE_KIND_DEPTH_UPDATE, msg), XR_OK);
    assert_int_equal(F.ev.n, 1);
    const xr_ev_book *b = &F.ev.ev[0].u.book;
    assert_int_equal(b->first_id, 157);
    assert_int_equal(b->last_id, 160);
    expect_level(xr_ev_book_bid(b, 0), "0.0024", "10", in);
    expect_level(xr_ev_book_ask(b, 0), "0.0026", "100", in);
    /* A combined-stream envelope with "data" before "stream". */
    assert_int_equal(
        decode_text(XR_BINANCE_KIND_STREAM,
                    "{\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BNBBTC\",\"t\":9,\"p\":\"1\","
                    "\"q\":\"2\",\"T\":1,\"m\":false},\"stream\":\"bnbbtc@trade\"}"),
        XR_OK);
    assert_int_equal(F.ev.n, 1);
    assert_int_equal(F.ev.ev[0].u.trade.trade_id, 9);
}

/* Builds a depthUpdate with `nb` bids and `na` asks at distinct prices. */
static char *big_depth(unsigned nb, unsigned na, const char *tail)
{
    size_t cap = 64 + (size_t)(nb + na) * 40 + strlen(tail);
    char *s = malloc(cap);
    int len = sprintf(s, "{\"e\":\"depthUpdate\",\"s\":\"BNBBTC\",\"U\":5,\"u\":9,\"b\":[");
    for (unsigned i = 0; i < nb; i++)
        len += sprintf(s + len, "%s[\"%u.5\",\"%u\"]", i ? "," : "", 1000 - i, i);
    len += sprintf(s + len, "],\"a\":[");
    for (unsigned i = 0; i < na; i++)
        len += sprintf(s + len, "%s[\"%u.5\",\"%u\"]", i ? "," : "", 2000 + i, i + 1);
    sprintf(s + len, "]%s", tail);
    return s;
}

static void test_oversize_split_into_parts(void **state)
{
    (void)state;
    const xr_instrument *in = sym("BNBBTC");
    /* 250 levels: kept from the first pass (spill); 700 levels: reported by a second pass. */
    static const struct {
        unsigned nb, na, parts;
    } sizes[] = {{150, 100, 4}, {400, 300, 11}, {64, 0, 1}, {0, 65, 2}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        char *msg = big_depth(sizes[c].nb, sizes[c].na, "}");
        assert_int_equal(decode_text(XR_BINANCE_KIND_DEPTH_UPDATE, msg), XR_OK);
        assert_int_equal(F.ev.n, sizes[c].parts);
        unsigned bids = 0, asks = 0;
        for (size_t p = 0; p < F.ev.n; p++) {
            const xr_ev_book *b = &F.ev.ev[p].u.book;
            assert_int_equal(F.ev.ev[p].instrument, in->id);
            assert_int_equal(b->first_id, 5);
            assert_int_equal(b->last_id, 9);
            uint8_t want = (uint8_t)((p == 0 ? XR_EV_BOOK_PART_FIRST : 0) |
                                     (p == F.ev.n - 1 ? XR_EV_BOOK_PART_LAST : 0));
            assert_int_equal(b->part, want);
            assert_true(b->n_bids + b->n_asks <= XR_EV_BOOK_LEVELS_MAX);
            assert_true(p + 1 == F.ev.n || b->n_bids + b->n_asks == XR_EV_BOOK_LEVELS_MAX);
            for (unsigned i = 0; i < b->n_bids; i++, bids++) {
                char price[32], qty[32];
                sprintf(price, "%u.5", 1000 - bids);
                sprintf(qty, "%u", bids);
                expect_level(xr_ev_book_bid(b, i), price, qty, in);
            }
            for (unsigned i = 0; i < b->n_asks; i++, asks++) {
                char price[32], qty[32];
                sprintf(price, "%u.5", 2000 + asks);
                sprintf(qty, "%u", asks + 1);
                expect_level(xr_ev_book_ask(b, i), price, qty, in);
            }
        }
        assert_int_equal(bids, sizes[c].nb);
        assert_int_equal(asks, sizes[c].na);
        free(msg);
    }
    /* The same message broken at the very end reports nothing at all. */
    char *msg = big_depth(150, 100, ",\"x\":}");
    expect_refused(XR_BINANCE_KIND_DEPTH_UPDATE, msg, XR_ERR_MALFORMED);
    free(msg);
    msg = big_depth(150, 100, ",\"zz\":1} ");
    msg[strlen(msg) - 10] = 'x'; /* a bad digit in the last ask */
    expect_refused(XR_BINANCE_KIND_DEPTH_UPDATE, msg, XR_ERR_MALFORMED);
    free(msg);
}

static void test_callback_refusal(void **state)
{
    (void)state;
    char *msg = big_depth(150, 100, "}");
    F.ev.refuse_after = XR_ERR_NO_MEMORY;
    F.ev.refuse_at = 2;
    xr_decode_error perr;
    F.ev.n = 0;
    assert_int_equal(
        xr_binance_decode_depth_update(&F.codec, msg, strlen(msg), vt_collect, &F.ev, &perr),
        XR_ERR_NO_MEMORY);
    assert_int_equal(F.ev.n, 2);
    F.ev.refuse_at = 0;
    F.ev.n = 0;
    const char *one = "{\"e\":\"depthUpdate\",\"s\":\"BNBBTC\",\"U\":5,\"u\":9,\"b\":[],\"a\":[]}";
    assert_int_equal(
        xr_binance_decode_depth_update(&F.codec, one, strlen(one), vt_collect, &F.ev, &perr),
        XR_ERR_NO_MEMORY);
    F.ev.refuse_after = XR_OK;
    free(msg);
}

/* The codec reads the common number shapes on fast paths (bn_decimal's and the fused level
 * parser's); the money parser is the reference. Over random texts (mostly numbers of every
 * length, with padding, signs, stray bytes), all three must accept exactly the same texts
 * with exactly the same values. */
static uint64_t rng_state = 0x64696666;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t random_number_text(char *buf)
{
    size_t n = 0;
    unsigned ints = (unsigned)(rnd() % 22), fracs = (unsigned)(rnd() % 22);
    if (rnd() % 20 == 0)
        buf[n++] = '-';
    for (unsigned i = 0; i < ints; i++)
        buf[n++] = (char)('0' + (i == 0 && rnd() % 3 ? 1 + rnd() % 9 : rnd() % 10));
    if (rnd() % 4 != 0) {
        buf[n++] = '.';
        for (unsigned i = 0; i < fracs; i++)
            buf[n++] = (char)('0' + (rnd() % 3 == 0 ? 0 : rnd() % 10));
        for (unsigned i = (unsigned)(rnd() % 4); i > 0; i--)
            buf[n++] = '0'; /* Binance's padding */
    }
    if (n > 0 && rnd() % 10 == 0) {
        static const char stray[] = "e+-. x/:9\\"; /* one byte replaced */
        buf[rnd() % n] = stray[rnd() % (sizeof stray - 1)];
    }
    buf[n] = '\0';
    return n;
}

static xr_err grab_price(void *ctx, const xr_event *ev)
{
    *(xr_i128 *)ctx = xr_ev_book_bid(&ev->u.book, 0)->price.ticks;
    return XR_OK;
}

static void test_number_fast_paths_match_reference(void **state)
{
    (void)state;
    char text[64], msg[256];
    unsigned accepted = 0;
    for (int it = 0; it < 200000; it++) {
        size_t n = random_number_text(text);
        unsigned scale = (unsigned)(rnd() % (XR_SCALE_MAX + 1));
        xr_i128 want = 0, got = 0;
        bool ref =
            xr_decimal_parse(text, n, scale, XR_DEC_ALLOW_TRAILING_ZEROS, &want, NULL) == XR_OK;
        bool fast = bn_decimal(text, n, scale, 0, &got, NULL);
        if (fast != ref || (ref && got != want))
            fail_msg("bn_decimal(\"%s\", %u): %d vs reference %d", text, scale, fast, ref);
        /* Through a depthUpdate: the fused level parser at BTCUSDT's price scale (8). */
        ref = xr_decimal_parse(text, n, 8, XR_DEC_ALLOW_TRAILING_ZEROS, &want, NULL) == XR_OK &&
              want > 0;
        int len = snprintf(msg, sizeof msg,
                           "{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":1,\"u\":1,"
                           "\"b\":[[\"%s\",\"1\"]],\"a\":[]}",
                           text);
        xr_decode_error perr;
        got = 0;
        xr_err err =
            xr_binance_decode_depth_update(&F.codec, msg, (size_t)len, grab_price, &got, &perr);
        if ((err == XR_OK) != ref || (ref && got != want))
            fail_msg("level price \"%s\": %s vs reference %d", text, xr_err_name(err), ref);
        accepted += ref;
    }
    assert_true(accepted > 80000); /* most texts were valid prices, so the fast paths ran */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_exchange_info_captured, reset_events),
        cmocka_unit_test_setup(test_exchange_info_docs_and_filters, reset_events),
        cmocka_unit_test_setup(test_depth_update_docs, reset_events),
        cmocka_unit_test_setup(test_depth_snapshot_captured, reset_events),
        cmocka_unit_test_setup(test_depth_snapshot_docs, reset_events),
        cmocka_unit_test_setup(test_trades, reset_events),
        cmocka_unit_test_setup(test_tickers, reset_events),
        cmocka_unit_test_setup(test_klines, reset_events),
        cmocka_unit_test_setup(test_order_ack_result, reset_events),
        cmocka_unit_test_setup(test_order_full, reset_events),
        cmocka_unit_test_setup(test_order_query_cancel_open, reset_events),
        cmocka_unit_test_setup(test_account, reset_events),
        cmocka_unit_test_setup(test_execution_reports, reset_events),
        cmocka_unit_test_setup(test_balances_user_data, reset_events),
        cmocka_unit_test_setup(test_stream_misc, reset_events),
        cmocka_unit_test_setup(test_error_bodies, reset_events),
        cmocka_unit_test_setup(test_error_mapping, reset_events),
        cmocka_unit_test_setup(test_truncated_everywhere, reset_events),
        cmocka_unit_test_setup(test_wrong_types_and_values, reset_events),
        cmocka_unit_test_setup(test_unknown_fields_and_key_order, reset_events),
        cmocka_unit_test_setup(test_oversize_split_into_parts, reset_events),
        cmocka_unit_test_setup(test_callback_refusal, reset_events),
        cmocka_unit_test_setup(test_number_fast_paths_match_reference, reset_events),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
