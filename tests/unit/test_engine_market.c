/*
 * unit.engine_market: TICKER, OHLC and PAIRS through xroute/engine.h against the two
 * in-process simulated Binance-dialect venues of engine_test_util.h (A: 10 bps, B: 20 bps).
 *
 * Trades are scripted in the simulators with explicit venue trade times (the simulator's
 * @trade stream carries them); every expected candle, last price and 24 h volume is worked
 * out here by hand from that script. The pair rules are the simulator's Binance-modelled
 * BTCUSDT rules (adapters/sim/spec.c: tick 0.01, step and minQty 0.00001, minNotional 5).
 *
 * The last part drives core/engine/market_data.c directly: duplicate trade ids, equal trade
 * times and a ring slot reused after 24 h.
 */
#include "engine_test_util.h"

#include "core/engine/engine_internal.h"
#include "core/market/book.h"
#include "core/engine/market_data.h"

#define LOT     INT64_C(1000) /* 0.00001 BTC in BTC/8 units */
#define MIN_NS  (60 * INT64_C(1000000000))
#define HOUR_NS (60 * MIN_NS)
#define MS_NS   INT64_C(1000000)

static int group_setup(void **state)
{
    (void)state;
    return et_group_setup("/tmp/xr_engmkt_XXXXXX");
}

static xr_engine_event market_call(uint8_t kind, const char *pair, uint32_t interval_s,
                                   int64_t from_ns, int64_t to_ns)
{
    xr_engine_cmd c = {.kind = kind};
    snprintf(c.u.market.pair, sizeof c.u.market.pair, "%s", pair);
    c.u.market.interval_s = interval_s;
    c.u.market.from_ns = from_ns;
    c.u.market.to_ns = to_ns;
    return call(c);
}

/* Sim price of `usdt` whole USDT (ticks of 0.01) in the engine's price ticks. */
static xr_i128 px(int64_t usdt)
{
    return (xr_i128)usdt * E.price_one;
}

static void expect_candle(const xr_engine_candle *c, int64_t open_ns, int64_t o, int64_t h,
                          int64_t l, int64_t cl, int64_t lots, uint32_t trades)
{
    assert_true(c->open_ns == open_ns);
    assert_true(c->open.ticks == px(o));
    assert_true(c->high.ticks == px(h));
    assert_true(c->low.ticks == px(l));
    assert_true(c->close.ticks == px(cl));
    assert_true(c->volume.units == (xr_i128)lots * LOT);
    assert_int_equal(c->trades, trades);
}

/* ---- PAIRS ------------------------------------------------------------------------------------
 */

static void test_pairs(void **state)
{
    (void)state;
    xr_engine_event ev = market_call(XR_ENGINE_CMD_PAIRS, "", 0, 0, 0);
    assert_int_equal(ev.kind, XR_ENGINE_EV_PAIRS);
    const xr_engine_pairs_ev *p = &ev.u.pairs;
    assert_int_equal(p->n, 1);
    assert_int_equal(p->next_cursor, 0);
    const xr_engine_pair_info *i = &p->items[0];
    assert_string_equal(i->pair, "BTC/USDT");
    assert_int_equal(i->base_scale, 8);
    assert_int_equal(i->quote_scale, 6);
    assert_true(i->price_scale >= 6);
    assert_int_equal(i->venues, 3);
    assert_int_equal(i->venues_ready, 3);
    assert_int_equal(i->trading, 1);
    assert_true(i->min_qty.units == LOT);
    assert_true(i->lot_step.units == LOT);
    assert_true(i->tick.ticks == E.price_one / 100); /* 0.01 USDT */
    assert_true(i->min_notional.units == 5000000);   /* 5 USDT at USDT/6 */

    /* A cursor past the end is refused; one at the end is an empty last page. */
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_PAIRS};
    c.u.market.cursor = 2;
    ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT);
    c.u.market.cursor = 1;
    ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_PAIRS);
    assert_int_equal(ev.u.pairs.n, 0);
}

/* ---- TICKER and OHLC ------------------------------------------------------------------------- */

static void record(int v, int64_t usdt, int64_t lots, int64_t time_ns)
{
    xr_sim_market_record_trade(market(v), usdt * 100, lots, false, time_ns / MS_NS);
}

static void test_ticker_and_ohlc(void **state)
{
    (void)state;
    /* Before any trade: the top of book (A asks 60000 x 0.01; B bids 59950 x 0.005), no
     * last price, no volume. */
    xr_engine_event ev = market_call(XR_ENGINE_CMD_TICKER, "BTC/USDT", 0, 0, 0);
    assert_int_equal(ev.kind, XR_ENGINE_EV_TICKER);
    const xr_engine_ticker_ev *t = &ev.u.ticker;
    assert_string_equal(t->pair, "BTC/USDT");
    assert_true(t->ask.ticks == px(60000) && t->ask_qty.units == 1000 * LOT);
    assert_true(t->bid.ticks == px(59950) && t->bid_qty.units == 500 * LOT);
    assert_true(t->last.ticks == 0 && t->last_ns == 0);
    assert_true(t->volume_24h.units == 0 && t->trades_24h == 0);
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 60, 0, 0);
    assert_int_equal(ev.kind, XR_ENGINE_EV_OHLC);
    assert_int_equal(ev.u.ohlc.n, 0);

    /* The script. M: a 15-minute boundary 15 to 30 minutes ago, so every trade below lies in
     * [M, M + 15 min): one 15 m, 1 h, 4 h and 1 d candle. OLD: 25 h before M, outside the
     * ticker's 24 h and in an earlier day and 4 h candle.
     *   A  OLD        61000 x 7
     *   A  M + 1 s    60000 x 100
     *   A  M + 30 s   60100 x 50
     *   A  M + 5 m    60200 x 30   (+1 ms)
     *   B  M + 20 s   59900 x 200
     *   B  M + 65 s   60050 x 10
     * A's stream brings the old one first; B's trades arrive after A's but sit between them
     * in time, which the candles must not care about. */
    const int64_t q15 = 15 * MIN_NS;
    const int64_t now = xr_clock_wall_ns();
    const int64_t M = (now / q15) * q15 - q15;
    const int64_t OLD = M - 25 * HOUR_NS;
    record(0, 61000, 7, OLD);
    record(0, 60000, 100, M + 1000 * MS_NS);
    record(0, 60100, 50, M + 30000 * MS_NS);
    record(0, 60200, 30, M + 5 * MIN_NS + MS_NS);
    record(1, 59900, 200, M + 20000 * MS_NS);
    record(1, 60050, 10, M + 65000 * MS_NS);

    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        ev = market_call(XR_ENGINE_CMD_TICKER, "BTC/USDT", 0, 0, 0);
        assert_int_equal(ev.kind, XR_ENGINE_EV_TICKER);
        if (ev.u.ticker.trades_24h == 5)
            break;
        assert_true(ev.u.ticker.trades_24h < 5);
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 10; i++)
            pump_once();
    }
    /* Last: the latest by trade time (A's M + 5 m), not the last to arrive (B's). */
    assert_true(t->last.ticks == px(60200));
    assert_true(t->last_ns == M + 5 * MIN_NS + MS_NS);
    assert_true(t->volume_24h.units == (100 + 50 + 30 + 200 + 10) * LOT);
    assert_true(t->ask.ticks == px(60000) && t->bid.ticks == px(59950));

    /* 1 m over [M, M + 10 m): three candles. */
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 60, M, M + 10 * MIN_NS);
    assert_int_equal(ev.kind, XR_ENGINE_EV_OHLC);
    const xr_engine_ohlc_ev *o = &ev.u.ohlc;
    assert_string_equal(o->pair, "BTC/USDT");
    assert_int_equal(o->interval_s, 60);
    assert_int_equal(o->base_scale, 8);
    assert_int_equal(o->n, 3);
    assert_true(o->next_from_ns == 0);
    expect_candle(&o->items[0], M, 60000, 60100, 59900, 60100, 350, 3);
    expect_candle(&o->items[1], M + MIN_NS, 60050, 60050, 60050, 60050, 10, 1);
    expect_candle(&o->items[2], M + 5 * MIN_NS, 60200, 60200, 60200, 60200, 30, 1);

    /* The range is [from, to): from just after M drops M's candle; to = M + 5 m drops the
     * last. */
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 60, M + 1, M + 5 * MIN_NS);
    assert_int_equal(ev.u.ohlc.n, 1);
    expect_candle(&ev.u.ohlc.items[0], M + MIN_NS, 60050, 60050, 60050, 60050, 10, 1);

    /* 5 m: M's five minutes hold four trades; the fifth opens the next candle. */
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 300, M, 0);
    assert_int_equal(ev.u.ohlc.n, 2);
    expect_candle(&ev.u.ohlc.items[0], M, 60000, 60100, 59900, 60050, 360, 4);
    expect_candle(&ev.u.ohlc.items[1], M + 5 * MIN_NS, 60200, 60200, 60200, 60200, 30, 1);

    /* 15 m: one candle of the five. */
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 900, M, 0);
    assert_int_equal(ev.u.ohlc.n, 1);
    expect_candle(&ev.u.ohlc.items[0], M, 60000, 60200, 59900, 60200, 390, 5);

    /* 1 h, 4 h, 1 d from 0: OLD's candle, then the five's. */
    static const uint32_t ivs[] = {3600, 14400, 86400};
    for (size_t k = 0; k < 3; k++) {
        int64_t iv = (int64_t)ivs[k] * 1000000000;
        ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", ivs[k], 0, 0);
        assert_int_equal(ev.kind, XR_ENGINE_EV_OHLC);
        assert_int_equal(ev.u.ohlc.n, 2);
        expect_candle(&ev.u.ohlc.items[0], (OLD / iv) * iv, 61000, 61000, 61000, 61000, 7, 1);
        expect_candle(&ev.u.ohlc.items[1], (M / iv) * iv, 60000, 60200, 59900, 60200, 390, 5);
    }

    /* Bad requests change nothing and say why. */
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 120, 0, 0);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT);
    ev = market_call(XR_ENGINE_CMD_OHLC, "BTC/USDT", 60, M + MIN_NS, M);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT);
    ev = market_call(XR_ENGINE_CMD_OHLC, "ETH/USDT", 60, 0, 0);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_UNKNOWN_PAIR);
    ev = market_call(XR_ENGINE_CMD_TICKER, "ETH/USDT", 0, 0, 0);
    assert_int_equal(ev.u.reject.err, XR_ERR_UNKNOWN_PAIR);
    ev = market_call(XR_ENGINE_CMD_TICKER, "BTC/USDT", 0, 0, 0);
    assert_true(ev.u.ticker.trades_24h == 5);
}

/* An order of the engine trades at venue A (asks 60000 x 0.01 at 10 bps against B's 60010 at
 * 20 bps): the venue's public trade comes back on its @trade stream and becomes the last
 * price and part of the volume. Runs after test_ticker_and_ohlc (5 trades so far). */
static void test_ticker_sees_engine_fill(void **state)
{
    (void)state;
    et_register_and_fund(CUST_A, 0, USDT(1000000000), 1, true);                /* 1000 USDT */
    xr_engine_event ev = call(order_cmd(CUST_A, 2, XR_ENGINE_BUY, 100 * LOT)); /* 0.001 BTC */
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    const int64_t before = xr_clock_wall_ns();
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        ev = market_call(XR_ENGINE_CMD_TICKER, "BTC/USDT", 0, 0, 0);
        assert_int_equal(ev.kind, XR_ENGINE_EV_TICKER);
        /* The trade and the book change come on two streams: wait for both. */
        if (ev.u.ticker.trades_24h == 6 && ev.u.ticker.ask_qty.units == 900 * LOT)
            break;
        assert_true(ev.u.ticker.trades_24h == 5 || ev.u.ticker.trades_24h == 6);
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 10; i++)
            pump_once();
    }
    assert_true(ev.u.ticker.last.ticks == px(60000));
    assert_true(ev.u.ticker.last_ns > before - 60 * MIN_NS && ev.u.ticker.last_ns <= before);
    assert_true(ev.u.ticker.volume_24h.units == (390 + 100) * LOT);
    /* The fill took A's level down to 0.009 BTC. */
    assert_true(ev.u.ticker.ask.ticks == px(60000));
}

/* ---- market_data.c directly ------------------------------------------------------------------ */

static xr_eng_md_trade tr(uint16_t venue, uint64_t id, int64_t price, int64_t qty, int64_t t)
{
    xr_eng_md_trade x = {.venue = venue, .pair = 0, .trade_id = id, .time_ns = t};
    x.price.ticks = price;
    x.qty.units = qty;
    return x;
}

static void test_mdata_rules(void **state)
{
    (void)state;
    static xr_eng_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.npairs = 1;
    snprintf(sh.pairs[0].name, sizeof sh.pairs[0].name, "BTC/USDT");
    sh.cfg.nvenues = 2;
    xr_eng_mdata *md = NULL;
    assert_int_equal(xr_eng_mdata_create(&sh, &md), XR_OK);
    const int64_t day = 24 * HOUR_NS;
    const int64_t T = 1000 * day; /* a minute boundary */

    /* Duplicates (same or lower id from the same venue) are dropped; another venue's equal
     * id is not a duplicate. */
    xr_eng_md_trade a = tr(0, 10, 500, 3, T + 5);
    assert_true(xr_eng_mdata_trade(md, &a));
    assert_false(xr_eng_mdata_trade(md, &a));
    xr_eng_md_trade a_old = tr(0, 9, 501, 3, T + 6);
    assert_false(xr_eng_mdata_trade(md, &a_old));
    /* Same time as a, from venue 1: the open stays a's (first received), the close is this. */
    xr_eng_md_trade b = tr(1, 10, 700, 2, T + 5);
    assert_true(xr_eng_mdata_trade(md, &b));
    /* Bad trades are refused. */
    xr_eng_md_trade bad = tr(1, 11, 0, 2, T + 7);
    assert_false(xr_eng_mdata_trade(md, &bad));
    bad = tr(2, 11, 5, 2, T + 7); /* venue out of range */
    assert_false(xr_eng_mdata_trade(md, &bad));

    xr_engine_ohlc_ev o;
    memset(&o, 0, sizeof o);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, 0, 0, T + MIN_NS, &o), XR_OK);
    assert_int_equal(o.n, 1);
    assert_true(o.items[0].open_ns == T && o.items[0].open.ticks == 500 &&
                o.items[0].close.ticks == 700 && o.items[0].high.ticks == 700 &&
                o.items[0].low.ticks == 500 && o.items[0].volume.units == 5 &&
                o.items[0].trades == 2);

    /* 24 h later the one-minute ring reuses T's slot: the new candle replaces the old one,
     * and the ticker's 24 h counts only it; the 1 h ring still has both. */
    xr_eng_md_trade c = tr(0, 11, 900, 4, T + day + 7);
    assert_true(xr_eng_mdata_trade(md, &c));
    xr_engine_ticker_ev tk;
    memset(&tk, 0, sizeof tk);
    xr_eng_mdata_ticker(md, 0, T + day + MIN_NS / 2, &tk);
    assert_true(tk.last.ticks == 900 && tk.last_ns == T + day + 7);
    assert_true(tk.volume_24h.units == 4 && tk.trades_24h == 1);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, 0, 0, T + day + MIN_NS, &o), XR_OK);
    assert_int_equal(o.n, 1);
    assert_true(o.items[0].open_ns == T + day);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 3600, 0, 0, T + day + MIN_NS, &o), XR_OK);
    assert_int_equal(o.n, 2);
    /* A trade older than the one-minute ring keeps is not counted there, but in the
     * longer rings it still is (and it does not move the last price). */
    xr_eng_md_trade d = tr(0, 12, 100, 1, T - MIN_NS);
    assert_true(xr_eng_mdata_trade(md, &d));
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, 0, 0, T + day + MIN_NS, &o), XR_OK);
    assert_int_equal(o.n, 1);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 86400, 0, 0, T + day + MIN_NS, &o), XR_OK);
    assert_int_equal(o.n, 3); /* days T - 1 (d), T (a, b) and T + 1 (c) */
    assert_true(o.items[0].open_ns == T - day && o.items[0].volume.units == 1);
    assert_true(o.items[1].open_ns == T && o.items[1].volume.units == 5);
    assert_true(o.items[2].open_ns == T + day && o.items[2].volume.units == 4);
    xr_eng_mdata_ticker(md, 0, T + day + MIN_NS / 2, &tk);
    assert_true(tk.last.ticks == 900);

    /* Pagination: 20 one-minute candles come as 16, then 4 from next_from_ns. */
    for (int i = 0; i < 20; i++) {
        xr_eng_md_trade e = tr(1, 100 + (uint64_t)i, 1000 + i, 1, T + 2 * day + i * MIN_NS);
        assert_true(xr_eng_mdata_trade(md, &e));
    }
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, T + 2 * day, 0, T + 3 * day, &o), XR_OK);
    assert_int_equal(o.n, XR_ENGINE_OHLC_MAX);
    assert_true(o.next_from_ns == T + 2 * day + 16 * MIN_NS);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, o.next_from_ns, 0, T + 3 * day, &o), XR_OK);
    assert_int_equal(o.n, 4);
    assert_true(o.next_from_ns == 0 && o.items[3].close.ticks == 1019);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 61, 0, 0, T, &o), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_eng_mdata_ohlc(md, 0, 60, -1, 0, T, &o), XR_ERR_INVALID_ARGUMENT);
    xr_eng_mdata_destroy(md);
}

/* The consolidated BOOK (20 levels) equals `want` ({whole USDT, lots} pairs, asks). */
static bool asks_are(const xr_engine_event *ev, const int64_t *want, int n)
{
    if (ev->kind != XR_ENGINE_EV_BOOK || ev->u.book.n_asks != n)
        return false;
    for (int i = 0; i < n; i++)
        if (ev->u.book.asks[i].price.ticks != want[2 * i] * E.price_one ||
            ev->u.book.asks[i].qty.units != want[2 * i + 1] * LOT)
            return false;
    return true;
}

/* The market-data hop sends pricing only what changed in a venue book's top 32 levels a side
 * (adapters/engine_venues.c): levels that enter the window from beyond it when the best ones
 * go, changed quantities and removals all reach the consolidated book. Venue A gets 40 more
 * asks (60400 + k USDT, 100 + k lots: A's window then ends at 60429), then loses its 22 best
 * (60000, 60200, 60400..60419) and 60425 changes to 7 lots: the consolidated asks must be B's
 * 60010 x 2000 and 60300 x 5000, then A's 60420..60437 (60430 and beyond were outside the
 * window before). Every expected level is written here from the script. */
static void test_md_window(void **state)
{
    (void)state;
    for (int k = 0; k < 40; k++)
        level(0, XR_SIM_ASK, 60400 + k, 100 + k);
    for (int i = 0; i < 20; i++)
        pump_once();
    level(0, XR_SIM_ASK, 60000, 0);
    level(0, XR_SIM_ASK, 60200, 0);
    for (int k = 0; k < 20; k++)
        level(0, XR_SIM_ASK, 60400 + k, 0);
    level(0, XR_SIM_ASK, 60425, 7);
    int64_t want[40];
    want[0] = 60010, want[1] = 2000, want[2] = 60300, want[3] = 5000;
    for (int k = 0; k < 18; k++) {
        want[4 + 2 * k] = 60420 + k;
        want[5 + 2 * k] = 60420 + k == 60425 ? 7 : 100 + 20 + k;
    }
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
    q.u.market.depth = XR_ENGINE_BOOK_LEVELS_MAX;
    for (;;) {
        xr_engine_event ev = call(q);
        if (asks_are(&ev, want, 20))
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
    /* Back to the group's books. */
    for (int k = 20; k < 40; k++)
        level(0, XR_SIM_ASK, 60400 + k, 0);
    level(0, XR_SIM_ASK, 60000, 1000);
    level(0, XR_SIM_ASK, 60200, 5000);
    et_wait_book(4, true);
}

/* The rule pricing applies to a market-data delta (xr_eng_md_delta_applies): only on a copy
 * synced at exactly the delta's base id, moving it forward; a lost, repeated or reordered
 * delta, or any delta after a reset, is refused (md_book then resets the copy until the next
 * snapshot). */
static void test_md_delta_rule(void **state)
{
    (void)state;
    xr_book_config bc = {XR_ENG_MD_LEVELS, 0};
    size_t len = xr_book_footprint(&bc);
    void *mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_non_null(mem);
    xr_book copy;
    assert_int_equal(xr_book_init(&copy, mem, len, &bc), XR_OK);
    static xr_eng_md_book mb;
    memset(&mb, 0, sizeof mb);
    mb.delta = true;
    mb.base_id = 10;
    mb.update_id = 12;
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* nothing held yet */

    static xr_ev_book ev;
    memset(&ev, 0, sizeof ev);
    ev.first_id = ev.last_id = 10;
    ev.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
    ev.n_bids = ev.n_asks = 1;
    ev.levels[0] = (xr_book_level){{100}, {1}};
    ev.levels[XR_EV_BOOK_LEVELS_MAX - 1] = (xr_book_level){{101}, {1}};
    assert_int_equal(xr_book_apply_snapshot(&copy, &ev, 1, NULL), XR_OK);
    assert_true(xr_eng_md_delta_applies(&copy, &mb)); /* 10 -> 12 on a copy at 10 */
    mb.delta = false;
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* a snapshot is no delta */
    mb.delta = true;

    /* Applied as md_book does: the copy is at 12 afterwards. */
    ev.first_id = mb.base_id + 1;
    ev.last_id = mb.update_id;
    ev.n_asks = 0;
    ev.levels[0] = (xr_book_level){{100}, {5}};
    assert_int_equal(xr_book_apply_delta(&copy, &ev, 2, NULL), XR_OK);
    assert_true(xr_book_update_id(&copy) == 12);
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* the same delta again */
    mb.base_id = 13;
    mb.update_id = 15;
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* 12 -> 13 was lost */
    mb.base_id = 12;
    mb.update_id = 12;
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* not forward */
    mb.update_id = 14;
    assert_true(xr_eng_md_delta_applies(&copy, &mb)); /* the next one */
    xr_book_reset(&copy);
    assert_false(xr_eng_md_delta_applies(&copy, &mb)); /* reset: only a snapshot helps */
    free(mem);
}

int main(void)
{
    const struct CMUnitTest engine_tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_ticker_and_ohlc),
        cmocka_unit_test(test_ticker_sees_engine_fill),
        cmocka_unit_test(test_md_window),
    };
    const struct CMUnitTest unit_tests[] = {
        cmocka_unit_test(test_mdata_rules),
        cmocka_unit_test(test_md_delta_rule),
    };
    int rc = cmocka_run_group_tests(unit_tests, NULL, NULL);
    return rc | cmocka_run_group_tests(engine_tests, group_setup, group_teardown);
}
