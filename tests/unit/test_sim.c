/* The venue simulator (adapters/sim): seeded repeatable markets; the matching engine with
 * hand-computed fills, fees and balances; filters, duplicates and signatures; Binance REST
 * and WebSocket over real loopback connections (an HTTP and a WebSocket client built on
 * adapters/net), U/u continuity of the depth stream and injected gaps; rate limits, 429
 * storms and bans; the other faults; TLS; the mock dialect; the control endpoint.
 *
 * Everything runs in this thread: the simulator and the test's clients share one loop, and
 * xr_sim_poll() drives both. Markets step only when a test says so (step_us = 0), so the
 * books are known; only the rate-limit tests wait on the clock, and they wait for longer
 * than they must, never shorter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/net/http.h"
#include "adapters/net/loop.h"
#include "adapters/net/stream.h"
#include "adapters/net/tls.h"
#include "adapters/net/ws.h"
#include "adapters/sim/engine.h"
#include "adapters/sim/market.h"
#include "adapters/sim/sim.h"
#include "core/base/clock.h"

#define DATA(f) XR_TEST_DATA "/tls/" f
#define WAIT_NS (15ull * XR_NS_PER_SEC)
#define U       XR_SIM_UNIT

/* Binance's documented example credentials: the simulator's default account. */
#define KEY    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define SECRET "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
#define KEY_B  "simtestkeyB"
#define SEC_B  "simtestsecretB"

/* ---- the test pair and its hand-made book --------------------------------------------- */

/* TSTUSDT: tick 0.01, step 0.001, min qty 0.001, min notional 5. Prices in ticks of 0.01,
 * quantities in lots of 0.001. */
static xr_sim_pair_config tst_pair(void)
{
    xr_sim_pair_config p;
    char why[200];
    assert_int_equal(xr_sim_pair_parse("TSTUSDT:base=TST,quote=USDT,mid=100,tick=0.01,"
                                       "step=0.001,min_qty=0.001,max_qty=1000,min_notional=5,"
                                       "max_notional=100000,level_qty=1,depth=5",
                                       &p, why, sizeof why),
                     XR_OK);
    return p;
}

/* asks 100.00 x 1.0, 100.01 x 2.0, 100.03 x 3.0; bids 99.99 x 1.5, 99.98 x 2.0 */
static void set_book(xr_sim_market *m)
{
    xr_sim_market_clear_synth(m);
    assert_int_equal(xr_sim_market_set_synth(m, XR_SIM_ASK, 10000, 1000), XR_OK);
    assert_int_equal(xr_sim_market_set_synth(m, XR_SIM_ASK, 10001, 2000), XR_OK);
    assert_int_equal(xr_sim_market_set_synth(m, XR_SIM_ASK, 10003, 3000), XR_OK);
    assert_int_equal(xr_sim_market_set_synth(m, XR_SIM_BID, 9999, 1500), XR_OK);
    assert_int_equal(xr_sim_market_set_synth(m, XR_SIM_BID, 9998, 2000), XR_OK);
    assert_true(xr_sim_market_verify(m));
}

static int64_t dec(const char *s)
{
    xr_i128 v;
    assert_int_equal(xr_decimal_parse(s, strlen(s), 8,
                                      XR_DEC_ALLOW_TRAILING_ZEROS | XR_DEC_ALLOW_NEGATIVE, &v,
                                      NULL),
                     XR_OK);
    return (int64_t)v;
}

/* ---- market ------------------------------------------------------------------------------- */

static void record_stream(xr_sim_market *m, int steps, xr_sim_change *log, size_t *nlog)
{
    *nlog = 0;
    uint64_t from = xr_sim_market_last_id(m) + 1;
    for (int i = 0; i < steps; i++) {
        xr_sim_market_step(m, 1700000000000 + i);
        if (i % 97 == 0)
            assert_true(xr_sim_market_verify(m));
        for (uint64_t id = from; id <= xr_sim_market_last_id(m); id++)
            log[(*nlog)++] = *xr_sim_market_change(m, id);
        from = xr_sim_market_last_id(m) + 1;
    }
}

static void test_market_repeatable(void **state)
{
    (void)state;
    xr_sim_pair_config cfg;
    assert_int_equal(xr_sim_pair_preset("BTCUSDT", &cfg), XR_OK);
    xr_sim_market *a, *b, *c;
    assert_int_equal(xr_sim_market_create(&cfg, 42, 0, &a), XR_OK);
    assert_int_equal(xr_sim_market_create(&cfg, 42, 0, &b), XR_OK);
    assert_int_equal(xr_sim_market_create(&cfg, 43, 0, &c), XR_OK);
    /* The initial book is part of the stream: 20 levels a side. */
    assert_int_equal(xr_sim_market_level_count(a, XR_SIM_BID), 20);
    assert_int_equal(xr_sim_market_level_count(a, XR_SIM_ASK), 20);
    assert_int_equal(xr_sim_market_last_id(a), 40);
    enum { STEPS = 5000 };
    size_t cap = STEPS * 64, na, nb, nc;
    xr_sim_change *la = malloc(cap * sizeof *la), *lb = malloc(cap * sizeof *lb),
                  *lc = malloc(cap * sizeof *lc);
    record_stream(a, STEPS, la, &na);
    record_stream(b, STEPS, lb, &nb);
    record_stream(c, STEPS, lc, &nc);
    assert_true(na >= STEPS); /* every step changes something */
    assert_int_equal(na, nb);
    assert_memory_equal(la, lb, na * sizeof *la);
    assert_true(nc != na || memcmp(la, lc, na * sizeof *la) != 0);
    /* Consecutive update ids, prices on the tick grid, the book near its start. */
    for (size_t i = 1; i < na; i++)
        assert_int_equal(la[i].id, la[i - 1].id + 1);
    int64_t mid = xr_sim_market_mid(a);
    assert_true(mid % cfg.tick == 0);
    assert_true(mid > 59000 * U && mid < 61000 * U);
    assert_true(xr_sim_market_level_count(a, XR_SIM_BID) >= 20);
    /* Same trades, too. */
    assert_int_equal(xr_sim_market_last_trade_id(a), xr_sim_market_last_trade_id(b));
    assert_true(xr_sim_market_last_trade_id(a) > STEPS / 10);
    for (uint64_t id = 1; id <= xr_sim_market_last_trade_id(a); id++) {
        const xr_sim_trade *ta = xr_sim_market_trade(a, id), *tb = xr_sim_market_trade(b, id);
        if (ta == NULL)
            continue;
        assert_int_equal(ta->price, tb->price);
        assert_int_equal(ta->qty, tb->qty);
        assert_int_equal(ta->buyer_maker, tb->buyer_maker);
    }
    free(la);
    free(lb);
    free(lc);
    xr_sim_market_destroy(a);
    xr_sim_market_destroy(b);
    xr_sim_market_destroy(c);
}

static void test_market_long_run(void **state)
{
    (void)state;
    /* Every preset stays sane over many steps: uncrossed, on the grid, not drifting away. */
    const char *syms[] = {"BTCUSDT", "ETHUSDT", "ETHBTC", "AZNUSDT", "USDCUSDT"};
    for (size_t k = 0; k < 5; k++) {
        xr_sim_pair_config cfg;
        assert_int_equal(xr_sim_pair_preset(syms[k], &cfg), XR_OK);
        xr_sim_market *m;
        assert_int_equal(xr_sim_market_create(&cfg, 7, 0, &m), XR_OK);
        for (int i = 0; i < 20000; i++) {
            xr_sim_market_step(m, i);
            if (i % 1000 == 0)
                assert_true(xr_sim_market_verify(m));
        }
        assert_true(xr_sim_market_verify(m));
        int64_t mid = xr_sim_market_mid(m);
        assert_true(mid > cfg.mid - cfg.mid / 20 && mid < cfg.mid + cfg.mid / 20);
        assert_true(xr_sim_market_level_count(m, XR_SIM_BID) >= cfg.depth);
        assert_true(xr_sim_market_level_count(m, XR_SIM_ASK) >= cfg.depth);
        xr_sim_market_destroy(m);
    }
}

static void test_config_parse(void **state)
{
    (void)state;
    xr_sim_pair_config p;
    char why[200];
    assert_int_equal(xr_sim_pair_parse("BTCUSDT:mid=65000.5", &p, why, sizeof why), XR_OK);
    assert_int_equal(p.mid, 6500050000000);
    assert_int_equal(p.tick, U / 100);
    assert_int_equal(xr_sim_pair_parse("SOLUSDT:base=SOL,quote=USDT,mid=150,tick=0.01,step=0.001",
                                       &p, why, sizeof why),
                     XR_OK);
    assert_string_equal(p.base, "SOL");
    assert_int_equal(p.step, 100000);
    assert_int_equal(p.min_qty, 100000); /* defaults to the step */
    /* A mid off the tick grid, an unknown key, a missing base. */
    assert_int_equal(xr_sim_pair_parse("BTCUSDT:mid=65000.005", &p, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_sim_pair_parse("BTCUSDT:color=red", &p, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_sim_pair_parse("SOLUSDT:mid=1,tick=0.01,step=1", &p, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_sim_pair_parse("btcusdt", &p, why, sizeof why), XR_ERR_INVALID_ARGUMENT);

    xr_sim_fault f;
    const char *q = "kind=5xx&count=3&status=502&after_exec=1";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why), XR_OK);
    assert_int_equal(f.kind, XR_SIM_FAULT_HTTP_5XX);
    assert_int_equal(f.count, 3);
    assert_int_equal(f.status, 502);
    assert_true(f.after_exec);
    q = "reject:count=2,code=-2010,msg=Market%20is%20closed.";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why), XR_OK);
    assert_int_equal(f.kind, XR_SIM_FAULT_REJECT);
    assert_string_equal(f.msg, "Market is closed.");
    q = "429";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why), XR_OK);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.retry_after_s, 1);
    q = "clock:offset_ms=-5000";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why), XR_OK);
    assert_int_equal(f.offset_ms, -5000);
    q = "kind=meteor";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
    q = "latency:ms=abc";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
    q = "5xx:status=404";
    assert_int_equal(xr_sim_fault_parse(q, strlen(q), &f, why, sizeof why),
                     XR_ERR_INVALID_ARGUMENT);
}

/* ---- engine -------------------------------------------------------------------------------- */

typedef struct reports {
    int n;
    uint8_t type[64];
    uint64_t order[64];
    int64_t qty[64], price[64];
    xr_i128 commission[64];
    bool maker[64];
} reports;

static void on_exec(void *ctx, const xr_sim_exec_report *r)
{
    reports *rs = ctx;
    if (rs->n == 64)
        return;
    rs->type[rs->n] = r->exec_type;
    rs->order[rs->n] = r->order->id;
    rs->qty[rs->n] = r->last_qty;
    rs->price[rs->n] = r->last_price;
    rs->commission[rs->n] = r->commission;
    rs->maker[rs->n] = r->maker;
    rs->n++;
}

typedef struct eng {
    xr_sim_engine *e;
    xr_sim_market *m;
    int tst, usdt;
    uint32_t a, b;
    reports rep;
} eng;

/* Maker 5 bps, taker 10 bps; accounts A and B with 10,000 USDT and 10 TST each. */
static void eng_setup(eng *t, bool dup_any)
{
    memset(t, 0, sizeof *t);
    xr_sim_engine_config ec = {.maker_bps = 5, .taker_bps = 10, .dup_any = dup_any, .seed = 9};
    assert_int_equal(xr_sim_engine_create(&ec, &t->e), XR_OK);
    xr_sim_pair_config p = tst_pair();
    assert_int_equal(xr_sim_engine_add_pair(t->e, &p, 1, 0, NULL), XR_OK);
    t->m = xr_sim_engine_market(t->e, 0);
    t->tst = xr_sim_engine_find_asset(t->e, "TST");
    t->usdt = xr_sim_engine_find_asset(t->e, "USDT");
    assert_int_equal(xr_sim_engine_add_account(t->e, "A", "sa", 2, &t->a), XR_OK);
    assert_int_equal(xr_sim_engine_add_account(t->e, "B", "sb", 2, &t->b), XR_OK);
    assert_int_equal(xr_sim_engine_add_account(t->e, "A", "sx", 2, NULL), XR_ERR_ALREADY_EXISTS);
    for (uint32_t acct = 0; acct < 2; acct++) {
        assert_int_equal(xr_sim_engine_set_balance(t->e, acct, t->usdt, 10000 * U), XR_OK);
        assert_int_equal(xr_sim_engine_set_balance(t->e, acct, t->tst, 10 * U), XR_OK);
    }
    xr_sim_engine_set_exec_hook(t->e, on_exec, &t->rep);
    set_book(t->m);
}

static xr_err place(eng *t, uint32_t acct, int side, int type, int tif, const char *price,
                    const char *qty, const char *cid, const xr_sim_order **o, xr_sim_fill *fills,
                    size_t *nf, xr_sim_reject *rej)
{
    xr_sim_order_req r;
    memset(&r, 0, sizeof r);
    r.pair = 0;
    r.side = (uint8_t)side;
    r.type = (uint8_t)type;
    r.tif = (uint8_t)tif;
    r.price = price ? dec(price) : 0;
    r.qty = qty ? dec(qty) : 0;
    r.client_id = cid;
    t->rep.n = 0;
    return xr_sim_engine_new_order(t->e, acct, &r, 1000, o, fills, 16, nf, rej);
}

static void expect_balance(eng *t, uint32_t acct, int asset, const char *free_s,
                           const char *locked_s)
{
    xr_i128 fr, lk;
    xr_sim_engine_balance(t->e, acct, asset, &fr, &lk);
    assert_true(fr == dec(free_s));
    assert_true(lk == dec(locked_s));
}

static void expect_level(eng *t, int side, size_t i, int64_t price, int64_t lots)
{
    assert_true(xr_sim_market_level_count(t->m, side) > i);
    const xr_sim_level *l = xr_sim_market_level(t->m, side, i);
    assert_int_equal(l->price, price);
    assert_int_equal(l->synth + l->user, lots);
}

static void test_engine_market_order(void **state)
{
    (void)state;
    eng t;
    eng_setup(&t, false);
    const xr_sim_order *o;
    xr_sim_fill f[16];
    size_t nf;
    xr_sim_reject rej;
    /* MARKET BUY 2.5: 1.0 @ 100.00 and 1.5 @ 100.01 = 250.015 USDT; the taker fee is 10 bps
     * of the TST received: 0.001 + 0.0015. */
    assert_int_equal(
        place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_MARKET, 0, NULL, "2.5", "m1", &o, f, &nf, &rej),
        XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    assert_int_equal(o->filled, 2500);
    assert_true(o->quote_e16 == (xr_i128)dec("250.015") * U);
    assert_int_equal(nf, 2);
    assert_int_equal(f[0].price, 10000);
    assert_int_equal(f[0].qty, 1000);
    assert_true(f[0].commission == dec("0.001"));
    assert_int_equal(f[0].commission_asset, t.tst);
    assert_int_equal(f[1].price, 10001);
    assert_int_equal(f[1].qty, 1500);
    assert_true(f[1].commission == dec("0.0015"));
    assert_int_equal(f[1].trade_id, f[0].trade_id + 1);
    expect_balance(&t, t.a, t.tst, "12.4975", "0");
    expect_balance(&t, t.a, t.usdt, "9749.985", "0");
    expect_level(&t, XR_SIM_ASK, 0, 10001, 500);
    expect_level(&t, XR_SIM_ASK, 1, 10003, 3000);
    /* Reports: NEW, then one TRADE per fill. */
    assert_int_equal(t.rep.n, 3);
    assert_int_equal(t.rep.type[0], XR_SIM_EXEC_NEW);
    assert_int_equal(t.rep.type[1], XR_SIM_EXEC_TRADE);
    assert_int_equal(t.rep.type[2], XR_SIM_EXEC_TRADE);
    assert_false(t.rep.maker[1]);
    assert_int_equal(xr_sim_engine_take_dirty(t.e, t.a), (1ull << t.tst) | (1ull << t.usdt));
    assert_int_equal(xr_sim_engine_take_dirty(t.e, t.a), 0);

    /* MARKET SELL 2.0: 1.5 @ 99.99 (149.985) + 0.5 @ 99.98 (49.99) = 199.975 USDT, minus 10
     * bps of it (0.149985 + 0.04999). */
    assert_int_equal(
        place(&t, t.b, XR_SIM_SIDE_SELL, XR_SIM_TYPE_MARKET, 0, NULL, "2", NULL, &o, f, &nf, &rej),
        XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    assert_int_equal(strlen(o->client_id), 22); /* generated */
    assert_true(f[0].commission == dec("0.149985"));
    assert_true(f[1].commission == dec("0.04999"));
    expect_balance(&t, t.b, t.usdt, "10199.775025", "0");
    expect_balance(&t, t.b, t.tst, "8", "0");
    expect_level(&t, XR_SIM_BID, 0, 9998, 1500);

    /* A MARKET order larger than the book fills what there is and expires the rest. */
    assert_int_equal(
        place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_MARKET, 0, NULL, "4", NULL, &o, f, &nf, &rej),
        XR_OK);
    assert_int_equal(o->status, XR_SIM_EXPIRED);
    assert_int_equal(o->filled, 3500);
    assert_int_equal(xr_sim_market_level_count(t.m, XR_SIM_ASK), 0);
    assert_int_equal(t.rep.type[t.rep.n - 1], XR_SIM_EXEC_EXPIRED);
    expect_balance(&t, t.a, t.usdt, "9399.89", "0"); /* 9749.985 - 50.005 - 300.09 */
    xr_sim_engine_destroy(t.e);
}

static void test_engine_limit_orders(void **state)
{
    (void)state;
    eng t;
    eng_setup(&t, false);
    const xr_sim_order *o;
    xr_sim_fill f[16];
    size_t nf;
    xr_sim_reject rej;
    /* IOC BUY 4.0 @ 100.01: 1.0 @ 100.00 + 2.0 @ 100.01 = 300.02; the rest expires and its
     * lock (400.04 locked at the limit) is released. */
    assert_int_equal(place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_IOC, "100.01",
                           "4", "ioc", &o, f, &nf, &rej),
                     XR_OK);
    assert_int_equal(o->status, XR_SIM_EXPIRED);
    assert_int_equal(o->filled, 3000);
    assert_int_equal(nf, 2);
    expect_balance(&t, t.a, t.usdt, "9699.98", "0");
    expect_balance(&t, t.a, t.tst, "12.997", "0");
    expect_level(&t, XR_SIM_ASK, 0, 10003, 3000);
    assert_int_equal(t.rep.type[t.rep.n - 1], XR_SIM_EXEC_EXPIRED);

    /* FOK all or nothing: 3.5 @ 100.01 against 3.0 available expires untouched. */
    set_book(t.m);
    assert_int_equal(place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_FOK, "100.01",
                           "3.5", NULL, &o, f, &nf, &rej),
                     XR_OK);
    assert_int_equal(o->status, XR_SIM_EXPIRED);
    assert_int_equal(o->filled, 0);
    assert_int_equal(nf, 0);
    expect_level(&t, XR_SIM_ASK, 0, 10000, 1000);
    expect_balance(&t, t.a, t.usdt, "9699.98", "0");
    /* ... and 6.0 @ 100.03 fills all three levels: 100 + 200.02 + 300.09. */
    assert_int_equal(place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_FOK, "100.03",
                           "6", NULL, &o, f, &nf, &rej),
                     XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    assert_int_equal(nf, 3);
    assert_true(o->quote_e16 == (xr_i128)dec("600.11") * U);
    expect_balance(&t, t.a, t.usdt, "9099.87", "0");

    /* GTC BUY 1.5 @ 100.00: 1.0 fills, 0.5 rests as the best bid with 50.00 locked. */
    set_book(t.m);
    assert_int_equal(place(&t, t.a, XR_SIM_SIDE_BUY, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_GTC, "100",
                           "1.5", "gtc", &o, f, &nf, &rej),
                     XR_OK);
    uint64_t gtc = o->id;
    assert_int_equal(o->status, XR_SIM_PARTIALLY_FILLED);
    assert_true(o->working);
    expect_balance(&t, t.a, t.usdt, "8949.87", "50");
    expect_level(&t, XR_SIM_BID, 0, 10000, 500);
    expect_level(&t, XR_SIM_ASK, 0, 10001, 2000);
    assert_true(xr_sim_market_verify(t.m));
    const xr_sim_order *open[4];
    assert_int_equal(xr_sim_engine_open_orders(t.e, t.a, 0, open, 4), 1);
    assert_int_equal(open[0]->id, gtc);

    /* B sells 0.3 @ 100.00 into it: A is the maker (5 bps of 0.3 TST = 0.00015), B the
     * taker (10 bps of 30.00 USDT = 0.03). */
    assert_int_equal(place(&t, t.b, XR_SIM_SIDE_SELL, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_GTC, "100",
                           "0.3", NULL, &o, f, &nf, &rej),
                     XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    assert_int_equal(t.rep.n, 3); /* B NEW, A TRADE (maker), B TRADE */
    assert_true(t.rep.maker[1]);
    assert_int_equal(t.rep.order[1], gtc);
    assert_true(t.rep.commission[1] == dec("0.00015"));
    expect_balance(&t, t.b, t.usdt, "10029.97", "0");
    expect_balance(&t, t.b, t.tst, "9.7", "0");
    expect_balance(&t, t.a, t.usdt, "8949.87", "20");
    const xr_sim_order *q = xr_sim_engine_find_order(t.e, t.a, 0, 0, "gtc");
    assert_non_null(q);
    assert_int_equal(q->filled, 1300);
    assert_int_equal(q->status, XR_SIM_PARTIALLY_FILLED);
    expect_level(&t, XR_SIM_BID, 0, 10000, 200);

    xr_sim_market_clear_synth(t.m);
    assert_int_equal(xr_sim_market_level_count(t.m, XR_SIM_BID), 1);
    /* Cancel: the rest of the lock comes back. */
    t.rep.n = 0;
    assert_int_equal(xr_sim_engine_cancel(t.e, t.a, 0, gtc, NULL, 2000, &q, &rej), XR_OK);
    assert_int_equal(q->status, XR_SIM_CANCELED);
    assert_int_equal(t.rep.type[0], XR_SIM_EXEC_CANCELED);
    expect_balance(&t, t.a, t.usdt, "8969.87", "0");
    assert_int_equal(xr_sim_market_level_count(t.m, XR_SIM_BID), 0);
    assert_int_equal(xr_sim_engine_cancel(t.e, t.a, 0, gtc, NULL, 2000, &q, &rej), XR_ERR_REJECTED);
    assert_int_equal(rej.code, -2011);
    assert_string_equal(rej.msg, "Unknown order sent.");
    assert_null(xr_sim_engine_find_order(t.e, t.b, 0, gtc, NULL)); /* not B's order */
    xr_sim_engine_destroy(t.e);
}

/* A resting order reached by the market's own flow: the hook fills it as maker. */
static void test_engine_resting_filled_by_market(void **state)
{
    (void)state;
    eng t;
    eng_setup(&t, false);
    const xr_sim_order *o;
    size_t nf;
    xr_sim_reject rej;
    /* A SELL resting at the best ask, ahead of everything synthetic there. */
    assert_int_equal(place(&t, t.a, XR_SIM_SIDE_SELL, XR_SIM_TYPE_LIMIT, XR_SIM_TIF_GTC, "100",
                           "0.5", "rest", &o, NULL, &nf, &rej),
                     XR_OK);
    assert_int_equal(o->status, XR_SIM_NEW);
    expect_level(&t, XR_SIM_ASK, 0, 10000, 1500);
    int guard = 0;
    while (xr_sim_engine_find_order(t.e, t.a, 0, 0, "rest")->status == XR_SIM_NEW &&
           guard++ < 10000)
        xr_sim_engine_step(t.e, 0, 5000);
    const xr_sim_order *r = xr_sim_engine_find_order(t.e, t.a, 0, 0, "rest");
    assert_true(r->status == XR_SIM_PARTIALLY_FILLED || r->status == XR_SIM_FILLED);
    assert_true(r->filled > 0);
    assert_true(xr_sim_market_verify(t.m));
    /* Received USDT at 100.00 less 5 bps, exactly. */
    xr_i128 fr, lk;
    xr_sim_engine_balance(t.e, t.a, t.usdt, &fr, &lk);
    xr_i128 got = (xr_i128)r->filled * 100000 * 100; /* lots x step x price */
    assert_true(fr == 10000 * U + got - (got * 5 + 9999) / 10000);
    xr_sim_engine_destroy(t.e);
}

static void expect_reject(eng *t, int side, int type, int tif, const char *price, const char *qty,
                          const char *cid, int code, const char *msg)
{
    const xr_sim_order *o;
    size_t nf;
    xr_sim_reject rej;
    uint64_t before = xr_sim_engine_order_count(t->e);
    assert_int_equal(place(t, t->a, side, type, tif, price, qty, cid, &o, NULL, &nf, &rej),
                     XR_ERR_REJECTED);
    assert_int_equal(rej.code, code);
    assert_int_equal(rej.http_status, 400);
    assert_string_equal(rej.msg, msg);
    assert_null(o);
    assert_int_equal(xr_sim_engine_order_count(t->e), before);
    assert_int_equal(t->rep.n, 0);
}

static void test_engine_rejects(void **state)
{
    (void)state;
    eng t;
    eng_setup(&t, false);
    const int B = XR_SIM_SIDE_BUY, L = XR_SIM_TYPE_LIMIT, G = XR_SIM_TIF_GTC;
    expect_reject(&t, B, L, G, "100.005", "1", NULL, -1013, "Filter failure: PRICE_FILTER");
    expect_reject(&t, B, L, G, "0.001", "1", NULL, -1013, "Filter failure: PRICE_FILTER");
    expect_reject(&t, B, L, G, "100", "0.0005", NULL, -1013, "Filter failure: LOT_SIZE");
    expect_reject(&t, B, L, G, "100", "0.0015", NULL, -1013, "Filter failure: LOT_SIZE");
    expect_reject(&t, B, L, G, "100", "1001", NULL, -1013, "Filter failure: LOT_SIZE");
    /* 0.049 x 100.00 = 4.90 < 5 */
    expect_reject(&t, B, L, G, "100", "0.049", NULL, -1013, "Filter failure: NOTIONAL");
    expect_reject(&t, B, XR_SIM_TYPE_MARKET, 0, NULL, "0.049", NULL, -1013,
                  "Filter failure: NOTIONAL");
    /* 0.05 x 100.00 = 5.00 is enough; 101 x 1000 = 101,000 is above the maximum. */
    expect_reject(&t, B, L, G, "1000", "101", NULL, -1013, "Filter failure: NOTIONAL");
    expect_reject(&t, B, L, G, "99", "200", NULL, -2010,
                  "Account has insufficient balance for requested action.");
    expect_reject(&t, XR_SIM_SIDE_SELL, L, G, "101", "10.001", NULL, -2010,
                  "Account has insufficient balance for requested action.");
    expect_reject(&t, B, XR_SIM_TYPE_LIMIT_MAKER, 0, "100", "1", NULL, -2010,
                  "Order would immediately match and take.");
    /* Duplicates among open orders (Binance's rule). */
    const xr_sim_order *o;
    size_t nf;
    xr_sim_reject rej;
    assert_int_equal(place(&t, t.a, B, L, G, "99", "0.06", "dup", &o, NULL, &nf, &rej), XR_OK);
    uint64_t id = o->id;
    t.rep.n = 0;
    expect_reject(&t, B, L, G, "98", "0.1", "dup", -2010, "Duplicate order sent.");
    assert_int_equal(xr_sim_engine_cancel(t.e, t.a, 0, 0, "dup", 1, &o, &rej), XR_OK);
    t.rep.n = 0;
    assert_int_equal(place(&t, t.a, B, L, G, "98", "0.1", "dup", &o, NULL, &nf, &rej), XR_OK);
    assert_true(o->id != id);
    /* The latest order answers for its client id; B may use the same id. */
    assert_int_equal(xr_sim_engine_find_order(t.e, t.a, 0, 0, "dup")->id, o->id);
    assert_int_equal(place(&t, t.b, B, L, G, "98", "0.1", "dup", &o, NULL, &nf, &rej), XR_OK);
    /* A LIMIT_MAKER that does not cross rests. */
    assert_int_equal(
        place(&t, t.a, B, XR_SIM_TYPE_LIMIT_MAKER, 0, "99.5", "1", NULL, &o, NULL, &nf, &rej),
        XR_OK);
    assert_int_equal(o->status, XR_SIM_NEW);
    xr_sim_engine_destroy(t.e);

    /* With dup_any, a final order's id stays taken. */
    eng_setup(&t, true);
    assert_int_equal(
        place(&t, t.a, B, XR_SIM_TYPE_MARKET, 0, NULL, "0.1", "once", &o, NULL, &nf, &rej), XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    t.rep.n = 0;
    expect_reject(&t, B, XR_SIM_TYPE_MARKET, 0, NULL, "0.1", "once", -2010,
                  "Duplicate order sent.");
    xr_sim_engine_destroy(t.e);
}

static void test_engine_quote_qty(void **state)
{
    (void)state;
    eng t;
    eng_setup(&t, false);
    xr_sim_order_req r;
    memset(&r, 0, sizeof r);
    r.side = XR_SIM_SIDE_BUY;
    r.type = XR_SIM_TYPE_MARKET;
    r.quote_qty = dec("150");
    const xr_sim_order *o;
    xr_sim_fill f[4];
    size_t nf;
    xr_sim_reject rej;
    /* 1.0 @ 100.00 costs 100; the other 50 buy floor(50 / 0.10001) = 499 lots @ 100.01. */
    assert_int_equal(xr_sim_engine_new_order(t.e, t.a, &r, 1, &o, f, 4, &nf, &rej), XR_OK);
    assert_int_equal(o->status, XR_SIM_FILLED);
    assert_int_equal(o->filled, 1499);
    assert_true(o->quote_e16 == (xr_i128)dec("149.90499") * U);
    expect_balance(&t, t.a, t.usdt, "9850.09501", "0");
    xr_sim_engine_destroy(t.e);
}

/* ---- the simulator over loopback ------------------------------------------------------------ */

typedef struct env {
    xr_sim *sim;
    uint16_t port;
    bool tls;
    xr_tls_trust trust;
    xr_sim_engine *e;
    int tst; /* pair index of TSTUSDT */
} env;

/* One venue on a free port, manual steps, maker 5 / taker 10 bps, the presets plus TSTUSDT
 * and LTCBTC (the documentation's signing example trades it), two accounts. */
static xr_sim_config *test_config(void)
{
    static xr_sim_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.nvenues = 1;
    xr_sim_venue_config *v = &cfg.venues[0];
    xr_sim_venue_config_default(v, "binance");
    v->port = 0;
    v->step_us = 0;
    v->maker_bps = 5;
    v->taker_bps = 10;
    v->pairs[v->npairs++] = tst_pair();
    char why[200];
    assert_int_equal(xr_sim_pair_parse("LTCBTC:base=LTC,quote=BTC,mid=0.1,tick=0.000001,"
                                       "step=0.001,min_qty=0.001,min_notional=0.0001",
                                       &v->pairs[v->npairs++], why, sizeof why),
                     XR_OK);
    xr_sim_account_config *a = &v->accounts[0];
    snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "TST");
    a->balances[a->nbalances++].amount = 10 * U;
    v->accounts[1] = *a;
    snprintf(v->accounts[1].api_key, sizeof v->accounts[1].api_key, KEY_B);
    snprintf(v->accounts[1].secret, sizeof v->accounts[1].secret, SEC_B);
    v->naccounts = 2;
    return &cfg;
}

static void env_start(env *e, xr_sim_config *cfg, bool tls)
{
    memset(e, 0, sizeof *e);
    if (tls) {
        snprintf(cfg->venues[0].tls_cert, sizeof cfg->venues[0].tls_cert, "%s",
                 DATA("server-ec.pem"));
        snprintf(cfg->venues[0].tls_key, sizeof cfg->venues[0].tls_key, "%s",
                 DATA("server-ec.key"));
    }
    char why[256];
    xr_err err = xr_sim_create(cfg, NULL, &e->sim, why, sizeof why);
    if (err != XR_OK)
        fail_msg("xr_sim_create: %s: %s", xr_err_name(err), why);
    e->port = xr_sim_port(e->sim, 0);
    e->tls = tls;
    e->e = xr_sim_engine_of(e->sim, 0);
    e->tst = xr_sim_engine_find_pair(e->e, "TSTUSDT", 7);
    xr_tls_trust_init(&e->trust);
    assert_int_equal(xr_tls_trust_add_file(&e->trust, DATA("ca.pem")), XR_OK);
}

static void env_stop(env *e)
{
    xr_sim_destroy(e->sim);
    xr_tls_trust_free(&e->trust);
}

static void pump_once(env *e)
{
    assert_int_equal(xr_sim_poll(e->sim, XR_NS_PER_MS), XR_OK);
}

#define PUMP_UNTIL(e, cond)                                                                        \
    do {                                                                                           \
        uint64_t dl_ = xr_clock_mono_ns() + WAIT_NS;                                               \
        while (!(cond)) {                                                                          \
            if (xr_clock_mono_ns() > dl_)                                                          \
                fail_msg("timed out waiting for: %s", #cond);                                      \
            pump_once(e);                                                                          \
        }                                                                                          \
    } while (0)

static void pump_for(env *e, uint64_t ns)
{
    uint64_t end = xr_clock_mono_ns() + ns;
    while (xr_clock_mono_ns() < end)
        pump_once(e);
}

static xr_sim_market *tst_market(env *e)
{
    return xr_sim_engine_market(e->e, (uint32_t)e->tst);
}

static int64_t now_ms(void)
{
    return xr_clock_wall_ns() / 1000000;
}

/* ---- an HTTP client on adapters/net --------------------------------------------------------- */

typedef struct hc {
    env *e;
    xr_net_stream st;
    xr_tls *tls;
    xr_http_parser p;
    void *mem;
    int opened, closed, have;
    int status;
    char *body;
    size_t body_len;
    char hdrs[4096];
} hc;

static size_t hc_on_data(xr_net_stream *s, const uint8_t *d, size_t n, void *u)
{
    (void)s;
    hc *c = u;
    size_t off = 0;
    while (off < n) {
        size_t used = 0;
        const xr_http_message *m = NULL;
        xr_err e = xr_http_parse(&c->p, d + off, n - off, &used, &m);
        off += used;
        if (e == XR_ERR_AGAIN)
            break;
        assert_int_equal(e, XR_OK);
        c->status = m->status;
        free(c->body);
        c->body = malloc(m->body_len + 1);
        memcpy(c->body, m->body ? (const char *)m->body : "", m->body_len);
        c->body[m->body_len] = '\0';
        c->body_len = m->body_len;
        size_t hl = 0;
        for (size_t i = 0; i < m->header_count; i++)
            hl += (size_t)snprintf(c->hdrs + hl, sizeof c->hdrs - hl, "%.*s: %.*s\n",
                                   (int)m->headers[i].name_len, m->headers[i].name,
                                   (int)m->headers[i].value_len, m->headers[i].value);
        c->have = 1;
    }
    return n;
}

static void hc_on_open(xr_net_stream *s, void *u)
{
    (void)s;
    ((hc *)u)->opened = 1;
}

static void hc_on_close(xr_net_stream *s, xr_err reason, void *u)
{
    (void)s;
    (void)reason;
    ((hc *)u)->closed = 1;
}

static const xr_net_stream_handler hc_handler = {
    .on_open = hc_on_open, .on_data = hc_on_data, .on_close = hc_on_close};

/* Starts a connection; with `wait`, until it is open (or closed). */
static hc *hc_start(env *e, bool wait)
{
    hc *c = calloc(1, sizeof *c);
    c->e = e;
    size_t fp = xr_http_parser_footprint(NULL);
    c->mem = malloc(fp);
    assert_int_equal(xr_http_parser_init(&c->p, XR_HTTP_RESPONSE, c->mem, fp, NULL), XR_OK);
    if (e->tls) {
        c->tls = malloc(sizeof *c->tls);
        assert_int_equal(xr_tls_client_init(c->tls, &e->trust, "localhost"), XR_OK);
    }
    assert_int_equal(xr_net_stream_connect(&c->st, xr_sim_loop(e->sim), "127.0.0.1", e->port, NULL,
                                           c->tls, &hc_handler, c),
                     XR_OK);
    if (wait)
        PUMP_UNTIL(e, c->opened || c->closed);
    return c;
}

static hc *hc_open(env *e)
{
    hc *c = hc_start(e, true);
    assert_true(c->opened);
    return c;
}

static void hc_free(hc *c)
{
    env *e = c->e;
    if (!c->closed) {
        xr_net_stream_close(&c->st);
        PUMP_UNTIL(e, c->closed);
    }
    free(c->body);
    free(c->mem);
    free(c->tls);
    free(c);
}

/* Sends one request and waits for the answer; returns its status. */
static int hc_req(hc *c, const char *method, const char *target, const char *api_key,
                  const char *ctype, const char *body)
{
    char req[16384];
    size_t len = 0;
    xr_http_header h[2];
    size_t nh = 0;
    if (api_key)
        h[nh++] = (xr_http_header){"X-MBX-APIKEY", 12, api_key, strlen(api_key)};
    if (ctype)
        h[nh++] = (xr_http_header){"Content-Type", 12, ctype, strlen(ctype)};
    assert_int_equal(xr_http_build_request(req, sizeof req, &len, method, target, "localhost", h,
                                           nh, body, body ? strlen(body) : 0),
                     XR_OK);
    c->have = 0;
    assert_int_equal(xr_net_stream_send(&c->st, req, len, NULL), XR_OK);
    env *e = c->e;
    PUMP_UNTIL(e, c->have || c->closed);
    assert_true(c->have);
    return c->status;
}

static int hc_get(hc *c, const char *target)
{
    return hc_req(c, "GET", target, NULL, NULL, NULL);
}

/* The value of response header `name`, or NULL (valid until the next call). */
static const char *hc_header(hc *c, const char *name)
{
    static char val[256];
    size_t nl = strlen(name);
    for (const char *p = c->hdrs; *p;) {
        const char *eol = strchr(p, '\n');
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            size_t vl = (size_t)(eol - (p + nl + 2));
            memcpy(val, p + nl + 2, vl);
            val[vl] = '\0';
            return val;
        }
        p = eol + 1;
    }
    return NULL;
}

static void hmac_hex(const char *secret, const char *msg, size_t len, char out[65])
{
    br_hmac_key_context kc;
    br_hmac_context hc_;
    br_hmac_key_init(&kc, &br_sha256_vtable, secret, strlen(secret));
    br_hmac_init(&hc_, &kc, 0);
    br_hmac_update(&hc_, msg, len);
    uint8_t mac[32];
    br_hmac_out(&hc_, mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A SIGNED request: `params` plus timestamp (now + ts_skew_ms) and signature, in the query. */
static int api_signed(hc *c, const char *method, const char *path, const char *params,
                      const char *key, const char *secret, int64_t ts_skew_ms)
{
    char q[4096], target[4600], sig[65];
    snprintf(q, sizeof q, "%s%stimestamp=%lld", params, params[0] ? "&" : "",
             (long long)(now_ms() + ts_skew_ms));
    hmac_hex(secret, q, strlen(q), sig);
    snprintf(target, sizeof target, "%s?%s&signature=%s", path, q, sig);
    return hc_req(c, method, target, key, NULL, NULL);
}

static int api(hc *c, const char *method, const char *path, const char *params)
{
    return api_signed(c, method, path, params, KEY, SECRET, 0);
}

static json_t *jparse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (j == NULL)
        fail_msg("bad JSON (%s): %s", je.text, s);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    if (v == NULL)
        fail_msg("no string field '%s'", k);
    return v != NULL ? v : "";
}

static long long jint(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("no integer field '%s'", k);
    return (long long)json_integer_value(v);
}

/* The body is exactly {"code":code,"msg":"msg"}. */
static void expect_error(hc *c, int status, int code, const char *msg)
{
    char want[512];
    snprintf(want, sizeof want, "{\"code\":%d,\"msg\":\"%s\"}", code, msg);
    if (c->status != status || strcmp(c->body, want) != 0)
        fail_msg("expected %d %s, got %d %s", status, want, c->status, c->body);
}

/* ---- a WebSocket client on adapters/net ---------------------------------------------------- */

#define WQ 16384

typedef struct wc {
    env *e;
    xr_net_stream st;
    xr_tls *tls;
    xr_http_parser p;
    void *pmem;
    xr_ws ws;
    void *wmem;
    char key[XR_WS_KEY_LEN + 1];
    char target[256];
    int opened, upgraded, closed, status;
    char *body; /* a refused upgrade's body */
    char *q[WQ];
    size_t qh, qt;
} wc;

static void wc_flush(wc *c)
{
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&c->ws, &n);
    if (n == 0 || c->closed)
        return;
    size_t sent = 0;
    (void)xr_net_stream_send(&c->st, out, n, &sent);
    xr_ws_output_ack(&c->ws, sent);
}

static void wc_frames(wc *c, const uint8_t *d, size_t n)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        xr_ws_event ev;
        xr_err r = xr_ws_recv(&c->ws, d + off, n - off, &used, &ev);
        off += used;
        if (r == XR_ERR_AGAIN || r == XR_ERR_INVALID_STATE)
            break;
        assert_int_equal(r, XR_OK);
        if (ev.type == XR_WS_EV_TEXT) {
            assert_true(c->qt - c->qh < WQ);
            char *m = malloc(ev.len + 1);
            memcpy(m, ev.data, ev.len);
            m[ev.len] = '\0';
            c->q[c->qt++ % WQ] = m;
        }
    }
    wc_flush(c);
}

static void wc_on_open(xr_net_stream *s, void *u)
{
    wc *c = u;
    c->opened = 1;
    char req[1024];
    size_t len = 0;
    assert_int_equal(xr_ws_make_key(c->key), XR_OK);
    assert_int_equal(xr_ws_build_client_handshake(req, sizeof req, &len, "localhost", c->target,
                                                  c->key, NULL, 0),
                     XR_OK);
    assert_int_equal(xr_net_stream_send(s, req, len, NULL), XR_OK);
}

static size_t wc_on_data(xr_net_stream *s, const uint8_t *d, size_t n, void *u)
{
    (void)s;
    wc *c = u;
    if (c->upgraded) {
        wc_frames(c, d, n);
        return n;
    }
    size_t used = 0;
    const xr_http_message *m = NULL;
    xr_err r = xr_http_parse(&c->p, d, n, &used, &m);
    if (r == XR_ERR_AGAIN)
        return used;
    assert_int_equal(r, XR_OK);
    c->status = m->status;
    if (m->status != 101) {
        c->body = malloc(m->body_len + 1);
        memcpy(c->body, m->body ? (const char *)m->body : "", m->body_len);
        c->body[m->body_len] = '\0';
        return n;
    }
    assert_int_equal(xr_ws_check_server_handshake(m, c->key), XR_OK);
    c->upgraded = 1;
    wc_frames(c, d + used, n - used);
    return n;
}

static void wc_on_close(xr_net_stream *s, xr_err reason, void *u)
{
    (void)s;
    (void)reason;
    ((wc *)u)->closed = 1;
}

static const xr_net_stream_handler wc_handler = {
    .on_open = wc_on_open, .on_data = wc_on_data, .on_close = wc_on_close};

/* Connects and waits for the upgrade's answer (101 or an error status). */
static wc *wc_open(env *e, const char *target)
{
    wc *c = calloc(1, sizeof *c);
    c->e = e;
    snprintf(c->target, sizeof c->target, "%s", target);
    size_t fp = xr_http_parser_footprint(NULL);
    c->pmem = malloc(fp);
    assert_int_equal(xr_http_parser_init(&c->p, XR_HTTP_RESPONSE, c->pmem, fp, NULL), XR_OK);
    xr_ws_config cfg;
    xr_ws_config_default(&cfg, XR_WS_CLIENT);
    fp = xr_ws_footprint(&cfg);
    c->wmem = malloc(fp);
    assert_int_equal(xr_ws_init(&c->ws, &cfg, c->wmem, fp), XR_OK);
    if (e->tls) {
        c->tls = malloc(sizeof *c->tls);
        assert_int_equal(xr_tls_client_init(c->tls, &e->trust, "localhost"), XR_OK);
    }
    assert_int_equal(xr_net_stream_connect(&c->st, xr_sim_loop(e->sim), "127.0.0.1", e->port, NULL,
                                           c->tls, &wc_handler, c),
                     XR_OK);
    PUMP_UNTIL(e, c->status != 0 || c->closed);
    return c;
}

static void wc_free(wc *c)
{
    env *e = c->e;
    if (!c->closed) {
        xr_net_stream_abort(&c->st);
        PUMP_UNTIL(e, c->closed);
    }
    while (c->qh < c->qt)
        free(c->q[c->qh++ % WQ]);
    free(c->body);
    xr_ws_free(&c->ws);
    free(c->wmem);
    free(c->pmem);
    free(c->tls);
    free(c);
}

/* The next message (caller frees), or NULL if none comes within `ns`. */
static char *wc_next(wc *c, uint64_t ns)
{
    uint64_t end = xr_clock_mono_ns() + ns;
    while (c->qh == c->qt && !c->closed && xr_clock_mono_ns() < end)
        pump_once(c->e);
    if (c->qh == c->qt)
        return NULL;
    return c->q[c->qh++ % WQ];
}

static char *wc_must(wc *c)
{
    char *m = wc_next(c, WAIT_NS);
    if (m == NULL)
        fail_msg("no message on %s", c->target);
    return m;
}

static void wc_send(wc *c, const char *text)
{
    assert_int_equal(xr_ws_send(&c->ws, XR_WS_TEXT, text, strlen(text)), XR_OK);
    wc_flush(c);
}

static void fault(env *e, const char *spec)
{
    xr_sim_fault f;
    char why[200];
    assert_int_equal(xr_sim_fault_parse(spec, strlen(spec), &f, why, sizeof why), XR_OK);
    assert_int_equal(xr_sim_apply_fault(e->sim, 0, &f), XR_OK);
}

static xr_sim_counters counters(env *e)
{
    xr_sim_counters c;
    xr_sim_get_counters(e->sim, 0, &c);
    return c;
}

/* ---- REST: public endpoints ------------------------------------------------------------------ */

static void test_rest_public(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);

    assert_int_equal(hc_get(c, "/api/v3/ping"), 200);
    assert_string_equal(c->body, "{}");
    assert_string_equal(hc_header(c, "X-MBX-USED-WEIGHT-1M"), "1");
    assert_string_equal(hc_header(c, "Content-Type"), "application/json;charset=UTF-8");
    assert_int_equal(hc_get(c, "/api/v3/time"), 200);
    json_t *j = jparse(c->body);
    assert_true(llabs(jint(j, "serverTime") - now_ms()) < 5000);
    json_decref(j);
    assert_string_equal(hc_header(c, "X-MBX-USED-WEIGHT-1M"), "2");

    /* exchangeInfo: limits and filters as Binance publishes them. */
    assert_int_equal(hc_get(c, "/api/v3/exchangeInfo?symbol=TSTUSDT"), 200);
    assert_string_equal(hc_header(c, "X-MBX-USED-WEIGHT-1M"), "22");
    j = jparse(c->body);
    json_t *rl = json_array_get(json_object_get(j, "rateLimits"), 0);
    assert_string_equal(jstr(rl, "rateLimitType"), "REQUEST_WEIGHT");
    assert_int_equal(jint(rl, "limit"), 6000);
    json_t *syms = json_object_get(j, "symbols");
    assert_int_equal(json_array_size(syms), 1);
    json_t *s0 = json_array_get(syms, 0);
    assert_string_equal(jstr(s0, "symbol"), "TSTUSDT");
    assert_string_equal(jstr(s0, "baseAsset"), "TST");
    assert_int_equal(jint(s0, "baseAssetPrecision"), 8);
    json_t *flt = json_object_get(s0, "filters");
    assert_string_equal(jstr(json_array_get(flt, 0), "filterType"), "PRICE_FILTER");
    assert_string_equal(jstr(json_array_get(flt, 0), "tickSize"), "0.01000000");
    assert_string_equal(jstr(json_array_get(flt, 1), "filterType"), "LOT_SIZE");
    assert_string_equal(jstr(json_array_get(flt, 1), "stepSize"), "0.00100000");
    assert_string_equal(jstr(json_array_get(flt, 1), "minQty"), "0.00100000");
    assert_string_equal(jstr(json_array_get(flt, 3), "filterType"), "NOTIONAL");
    assert_string_equal(jstr(json_array_get(flt, 3), "minNotional"), "5.00000000");
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/exchangeInfo"), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(json_object_get(j, "symbols")), 5);
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/exchangeInfo?symbols=%5B%22TSTUSDT%22,%22BTCUSDT%22%5D"),
                     200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(json_object_get(j, "symbols")), 2);
    json_decref(j);
    hc_get(c, "/api/v3/exchangeInfo?symbol=NOPE");
    expect_error(c, 400, -1121, "Invalid symbol.");

    /* depth: byte for byte what Binance would send for this book. */
    char want[512];
    snprintf(want, sizeof want,
             "{\"lastUpdateId\":%llu,\"bids\":[[\"99.99000000\",\"1.50000000\"],[\"99.98000000\","
             "\"2.00000000\"]],\"asks\":[[\"100.00000000\",\"1.00000000\"],[\"100.01000000\","
             "\"2.00000000\"],[\"100.03000000\",\"3.00000000\"]]}",
             (unsigned long long)xr_sim_market_last_id(tst_market(&e)));
    assert_int_equal(hc_get(c, "/api/v3/depth?symbol=TSTUSDT"), 200);
    assert_string_equal(c->body, want);
    assert_int_equal(hc_get(c, "/api/v3/depth?symbol=TSTUSDT&limit=1"), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(json_object_get(j, "asks")), 1);
    json_decref(j);
    hc_get(c, "/api/v3/depth");
    expect_error(c, 400, -1102,
                 "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    hc_get(c, "/api/v3/depth?symbol=TSTUSDT&limit=ten");
    expect_error(c, 400, -1100,
                 "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");

    /* A trade, then trades, klines and tickers show it. */
    assert_int_equal(
        api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.5"), 200);
    assert_int_equal(hc_get(c, "/api/v3/trades?symbol=TSTUSDT&limit=1"), 200);
    j = jparse(c->body);
    json_t *t0 = json_array_get(j, 0);
    assert_string_equal(jstr(t0, "price"), "100.00000000");
    assert_string_equal(jstr(t0, "qty"), "0.50000000");
    assert_string_equal(jstr(t0, "quoteQty"), "50.00000000");
    assert_true(json_is_false(json_object_get(t0, "isBuyerMaker")));
    assert_true(json_is_true(json_object_get(t0, "isBestMatch")));
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/klines?symbol=TSTUSDT&interval=1m&limit=3"), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(j), 3);
    json_t *k = json_array_get(j, 2);
    assert_int_equal(json_array_size(k), 12);
    assert_string_equal(json_string_value(json_array_get(k, 4)), "100.00000000"); /* close */
    assert_string_equal(json_string_value(json_array_get(k, 5)), "0.50000000");   /* volume */
    assert_int_equal(json_integer_value(json_array_get(k, 8)), 1);                /* trades */
    assert_int_equal(
        json_integer_value(json_array_get(k, 6)) - json_integer_value(json_array_get(k, 0)), 59999);
    json_decref(j);
    hc_get(c, "/api/v3/klines?symbol=TSTUSDT&interval=7m");
    expect_error(c, 400, -1120, "Invalid interval.");
    assert_int_equal(hc_get(c, "/api/v3/ticker/24hr?symbol=TSTUSDT"), 200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "lastPrice"), "100.00000000");
    assert_string_equal(jstr(j, "volume"), "0.50000000");
    assert_string_equal(jstr(j, "quoteVolume"), "50.00000000");
    assert_string_equal(jstr(j, "bidPrice"), "99.99000000");
    assert_string_equal(jstr(j, "askPrice"), "100.00000000");
    assert_string_equal(jstr(j, "askQty"), "0.50000000");
    assert_int_equal(jint(j, "count"), 1);
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/ticker/price?symbol=TSTUSDT"), 200);
    assert_string_equal(c->body, "{\"symbol\":\"TSTUSDT\",\"price\":\"100.00000000\"}");
    assert_int_equal(hc_get(c, "/api/v3/ticker/bookTicker?symbol=TSTUSDT"), 200);
    assert_string_equal(c->body, "{\"symbol\":\"TSTUSDT\",\"bidPrice\":\"99.99000000\",\"bidQty\":"
                                 "\"1.50000000\",\"askPrice\":\"100.00000000\",\"askQty\":"
                                 "\"0.50000000\"}");
    assert_int_equal(hc_get(c, "/api/v3/ticker/24hr"), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(j), 5);
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/nothing"), 404);
    assert_int_equal(hc_req(c, "PUT", "/api/v3/depth", NULL, NULL, ""), 405);
    hc_free(c);
    env_stop(&e);
}

/* ---- REST: signed endpoints and orders ------------------------------------------------------- */

static void test_rest_orders(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);

    assert_int_equal(api(c, "GET", "/api/v3/account", ""), 200);
    json_t *j = jparse(c->body);
    assert_int_equal(jint(j, "makerCommission"), 5);
    assert_string_equal(jstr(json_object_get(j, "commissionRates"), "taker"), "0.00100000");
    bool seen = false;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(j, "balances"), i, b)
    {
        if (strcmp(jstr(b, "asset"), "TST") == 0) {
            assert_string_equal(jstr(b, "free"), "10.00000000");
            assert_string_equal(jstr(b, "locked"), "0.00000000");
            seen = true;
        }
    }
    assert_true(seen);
    json_decref(j);

    /* MARKET BUY 2.5 (FULL): the fills of test_engine_market_order, as Binance prints them. */
    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=2.5&newClientOrderId=c1"),
                     200);
    assert_string_equal(hc_header(c, "X-MBX-ORDER-COUNT-10S"), "1");
    assert_string_equal(hc_header(c, "X-MBX-ORDER-COUNT-1D"), "1");
    j = jparse(c->body);
    assert_string_equal(jstr(j, "symbol"), "TSTUSDT");
    assert_int_equal(jint(j, "orderListId"), -1);
    assert_string_equal(jstr(j, "clientOrderId"), "c1");
    assert_string_equal(jstr(j, "price"), "0.00000000");
    assert_string_equal(jstr(j, "origQty"), "2.50000000");
    assert_string_equal(jstr(j, "executedQty"), "2.50000000");
    assert_string_equal(jstr(j, "cummulativeQuoteQty"), "250.01500000");
    assert_string_equal(jstr(j, "status"), "FILLED");
    assert_string_equal(jstr(j, "timeInForce"), "GTC");
    assert_string_equal(jstr(j, "type"), "MARKET");
    assert_string_equal(jstr(j, "side"), "BUY");
    assert_string_equal(jstr(j, "selfTradePreventionMode"), "NONE");
    json_t *fills = json_object_get(j, "fills");
    assert_int_equal(json_array_size(fills), 2);
    json_t *f0 = json_array_get(fills, 0), *f1 = json_array_get(fills, 1);
    assert_string_equal(jstr(f0, "price"), "100.00000000");
    assert_string_equal(jstr(f0, "qty"), "1.00000000");
    assert_string_equal(jstr(f0, "commission"), "0.00100000");
    assert_string_equal(jstr(f0, "commissionAsset"), "TST");
    assert_string_equal(jstr(f1, "price"), "100.01000000");
    assert_string_equal(jstr(f1, "qty"), "1.50000000");
    assert_string_equal(jstr(f1, "commission"), "0.00150000");
    assert_int_equal(jint(f1, "tradeId"), jint(f0, "tradeId") + 1);
    long long id1 = jint(j, "orderId");
    json_decref(j);

    assert_int_equal(api(c, "GET", "/api/v3/order", "symbol=TSTUSDT&origClientOrderId=c1"), 200);
    j = jparse(c->body);
    assert_int_equal(jint(j, "orderId"), id1);
    assert_string_equal(jstr(j, "status"), "FILLED");
    assert_string_equal(jstr(j, "stopPrice"), "0.00000000");
    assert_true(json_is_false(json_object_get(j, "isWorking")));
    json_decref(j);

    /* A resting GTC order (RESULT): query, list, cancel. */
    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1.5&"
                         "price=99.00&newClientOrderId=g1&newOrderRespType=RESULT"),
                     200);
    assert_string_equal(hc_header(c, "X-MBX-ORDER-COUNT-10S"), "2");
    j = jparse(c->body);
    assert_string_equal(jstr(j, "status"), "NEW");
    assert_string_equal(jstr(j, "price"), "99.00000000");
    assert_null(json_object_get(j, "fills"));
    long long id2 = jint(j, "orderId");
    json_decref(j);
    assert_int_equal(api(c, "GET", "/api/v3/openOrders", "symbol=TSTUSDT"), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(jstr(json_array_get(j, 0), "clientOrderId"), "g1");
    assert_true(json_is_true(json_object_get(json_array_get(j, 0), "isWorking")));
    json_decref(j);
    assert_int_equal(api(c, "GET", "/api/v3/openOrders", ""), 200);
    j = jparse(c->body);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    assert_int_equal(hc_get(c, "/api/v3/depth?symbol=TSTUSDT&limit=10"), 200);
    assert_non_null(strstr(c->body, "[\"99.00000000\",\"1.50000000\"]"));
    /* The same client id while it is open. */
    api(c, "POST", "/api/v3/order",
        "symbol=TSTUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=98&"
        "newClientOrderId=g1");
    expect_error(c, 400, -2010, "Duplicate order sent.");
    char params[128];
    snprintf(params, sizeof params, "symbol=TSTUSDT&orderId=%lld&newClientOrderId=x1", id2);
    assert_int_equal(api(c, "DELETE", "/api/v3/order", params), 200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "status"), "CANCELED");
    assert_string_equal(jstr(j, "origClientOrderId"), "g1");
    assert_string_equal(jstr(j, "clientOrderId"), "x1");
    assert_string_equal(jstr(j, "executedQty"), "0.00000000");
    json_decref(j);
    api(c, "DELETE", "/api/v3/order", params);
    expect_error(c, 400, -2011, "Unknown order sent.");
    api(c, "GET", "/api/v3/order", "symbol=TSTUSDT&orderId=999999");
    expect_error(c, 400, -2013, "Order does not exist.");
    api(c, "GET", "/api/v3/order", "symbol=TSTUSDT");
    expect_error(c, 400, -1102,
                 "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    /* ACK: five fields. */
    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=0.1&"
                         "price=99.99&newOrderRespType=ACK"),
                     200);
    j = jparse(c->body);
    assert_int_equal(json_object_size(j), 5);
    assert_non_null(json_object_get(j, "transactTime"));
    json_decref(j);

    /* Parameters and filters. */
    const char *lim = "symbol=TSTUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
    snprintf(params, sizeof params, "%s&quantity=1&price=100.005", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1013, "Filter failure: PRICE_FILTER");
    snprintf(params, sizeof params, "%s&quantity=0.0015&price=100", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1013, "Filter failure: LOT_SIZE");
    snprintf(params, sizeof params, "%s&quantity=0.01&price=100", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1013, "Filter failure: NOTIONAL");
    snprintf(params, sizeof params, "%s&quantity=0.123456789&price=100", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1111, "Parameter 'quantity' has too much precision.");
    snprintf(params, sizeof params, "%s&quantity=1e3&price=100", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1100,
                 "Illegal characters found in parameter 'quantity'; legal range is "
                 "'^([0-9]{1,20})(\\\\.[0-9]{1,20})?$'.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=LIMIT&quantity=1&price=100");
    expect_error(c, 400, -1102,
                 "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=UP&type=MARKET&quantity=1");
    expect_error(c, 400, -1117, "Invalid side.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=STOP&quantity=1");
    expect_error(c, 400, -1116, "Invalid orderType.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=1&price=100");
    expect_error(c, 400, -1106, "Parameter 'price' sent when not required.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=SELL&type=MARKET&quantity=500");
    expect_error(c, 400, -2010, "Account has insufficient balance for requested action.");
    api(c, "POST", "/api/v3/order", "symbol=NOPE&side=BUY&type=MARKET&quantity=1");
    expect_error(c, 400, -1121, "Invalid symbol.");
    snprintf(params, sizeof params, "%s&quantity=1&price=99&newClientOrderId=bad%%20id", lim);
    api(c, "POST", "/api/v3/order", params);
    expect_error(c, 400, -1100,
                 "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                 "'^[\\\\.A-Z\\\\:/a-z0-9_-]{1,36}$'.");

    /* Keys, signatures and timestamps. */
    assert_int_equal(hc_get(c, "/api/v3/account?timestamp=1"), 401);
    expect_error(c, 401, -2014, "API-key format invalid.");
    api_signed(c, "GET", "/api/v3/account", "", "nobody", SECRET, 0);
    expect_error(c, 401, -2015, "Invalid API-key, IP, or permissions for action.");
    api_signed(c, "GET", "/api/v3/account", "", KEY, "wrong secret", 0);
    expect_error(c, 400, -1022, "Signature for this request is not valid.");
    api_signed(c, "GET", "/api/v3/account", "", KEY, SECRET, -10000);
    expect_error(c, 400, -1021, "Timestamp for this request is outside of the recvWindow.");
    assert_int_equal(
        api_signed(c, "GET", "/api/v3/account", "recvWindow=20000", KEY, SECRET, -10000), 200);
    api_signed(c, "GET", "/api/v3/account", "", KEY, SECRET, 5000);
    expect_error(c, 400, -1021,
                 "Timestamp for this request was 1000ms ahead of the server's time.");
    api_signed(c, "GET", "/api/v3/account", "recvWindow=70000", KEY, SECRET, 0);
    expect_error(c, 400, -1131, "recvWindow must be less than 60000");
    hc_req(c, "GET", "/api/v3/account?recvWindow=5000", KEY, NULL, NULL);
    expect_error(c, 400, -1102,
                 "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    char target[256];
    snprintf(target, sizeof target, "/api/v3/account?timestamp=%lld", (long long)now_ms());
    hc_req(c, "GET", target, KEY, NULL, NULL);
    expect_error(c, 400, -1102,
                 "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
    /* Upper-case hex signs as well. */
    char q[64], sig[65]; /* a timestamp query; small enough that target always fits */
    snprintf(q, sizeof q, "timestamp=%lld", (long long)now_ms());
    hmac_hex(SECRET, q, strlen(q), sig);
    for (char *p = sig; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    snprintf(target, sizeof target, "/api/v3/account?%s&signature=%s", q, sig);
    assert_int_equal(hc_req(c, "GET", target, KEY, NULL, NULL), 200);

    /* Parameters split between query and body: the payload is their concatenation without
     * a separator (Binance's rule), the signature at the end of the body. */
    char body[512];
    snprintf(body, sizeof body, "quantity=0.1&timestamp=%lld", (long long)now_ms());
    const char *query = "symbol=TSTUSDT&side=SELL&type=MARKET";
    char payload[700];
    snprintf(payload, sizeof payload, "%s%s", query, body);
    hmac_hex(SECRET, payload, strlen(payload), sig);
    snprintf(body + strlen(body), sizeof body - strlen(body), "&signature=%s", sig);
    snprintf(target, sizeof target, "/api/v3/order?%s", query);
    assert_int_equal(hc_req(c, "POST", target, KEY, "application/x-www-form-urlencoded", body),
                     200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "side"), "SELL");
    assert_string_equal(jstr(j, "executedQty"), "0.10000000");
    json_decref(j);

    /* Binance's documented signing example, verbatim: the venue's clock set back to its
     * timestamp, the default account holding its key and secret. */
    xr_sim_fault f = {.kind = XR_SIM_FAULT_CLOCK, .offset_ms = 1499827319559 + 500 - now_ms()};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f), XR_OK);
    assert_int_equal(hc_req(c, "POST",
                            "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&"
                            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&"
                            "signature="
                            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
                            KEY, NULL, NULL),
                     200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "symbol"), "LTCBTC");
    assert_string_equal(jstr(j, "origQty"), "1.00000000");
    json_decref(j);
    xr_sim_counters cn = counters(&e);
    assert_int_equal(cn.auth_failures, 4);
    assert_int_equal(cn.timestamp_failures, 2);
    hc_free(c);
    env_stop(&e);
}

/* ---- WebSocket streams ------------------------------------------------------------------------
 */

/* A local L2 book kept from a snapshot and depth updates, in 10^-8 units. */
typedef struct lbook {
    int64_t p[2][1024], q[2][1024];
    size_t n[2];
} lbook;

static void lb_set(lbook *b, int side, int64_t p, int64_t q)
{
    for (size_t i = 0; i < b->n[side]; i++) {
        if (b->p[side][i] == p) {
            if (q == 0) {
                b->p[side][i] = b->p[side][b->n[side] - 1];
                b->q[side][i] = b->q[side][b->n[side] - 1];
                b->n[side]--;
            } else {
                b->q[side][i] = q;
            }
            return;
        }
    }
    if (q == 0)
        return;
    assert_true(b->n[side] < 1024);
    b->p[side][b->n[side]] = p;
    b->q[side][b->n[side]++] = q;
}

static void lb_apply(lbook *b, int side, const json_t *levels)
{
    size_t i;
    json_t *l;
    json_array_foreach(levels, i, l)
    {
        lb_set(b, side, dec(json_string_value(json_array_get(l, 0))),
               dec(json_string_value(json_array_get(l, 1))));
    }
}

static void lb_sort(lbook *b)
{
    for (int s = 0; s < 2; s++)
        for (size_t i = 1; i < b->n[s]; i++)
            for (size_t k = i; k > 0 && b->p[s][k - 1] > b->p[s][k]; k--) {
                int64_t tp = b->p[s][k], tq = b->q[s][k];
                b->p[s][k] = b->p[s][k - 1];
                b->q[s][k] = b->q[s][k - 1];
                b->p[s][k - 1] = tp;
                b->q[s][k - 1] = tq;
            }
}

/* Snapshot from GET /api/v3/depth; returns lastUpdateId. */
static uint64_t lb_snapshot(hc *c, const char *symbol, lbook *b)
{
    char target[128];
    snprintf(target, sizeof target, "/api/v3/depth?symbol=%s&limit=5000", symbol);
    assert_int_equal(hc_get(c, target), 200);
    json_t *j = jparse(c->body);
    memset(b, 0, sizeof *b);
    lb_apply(b, 0, json_object_get(j, "bids"));
    lb_apply(b, 1, json_object_get(j, "asks"));
    uint64_t id = (uint64_t)jint(j, "lastUpdateId");
    json_decref(j);
    return id;
}

static void lb_expect_equal(hc *c, const char *symbol, lbook *local)
{
    lbook rest;
    (void)lb_snapshot(c, symbol, &rest);
    lb_sort(&rest);
    lb_sort(local);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(local->n[s], rest.n[s]);
        assert_memory_equal(local->p[s], rest.p[s], rest.n[s] * sizeof(int64_t));
        assert_memory_equal(local->q[s], rest.q[s], rest.n[s] * sizeof(int64_t));
    }
}

/* Applies one depthUpdate; checks the symbol and returns first and final. */
static void apply_update(lbook *b, const char *msg, uint64_t *first, uint64_t *final)
{
    json_t *j = jparse(msg);
    assert_string_equal(jstr(j, "e"), "depthUpdate");
    assert_string_equal(jstr(j, "s"), "BTCUSDT");
    assert_true(jint(j, "E") > 0);
    *first = (uint64_t)jint(j, "U");
    *final = (uint64_t)jint(j, "u");
    assert_true(*first <= *final);
    lb_apply(b, 0, json_object_get(j, "b"));
    lb_apply(b, 1, json_object_get(j, "a"));
    json_decref(j);
}

static void test_ws_depth_stream(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    int btc = xr_sim_engine_find_pair(e.e, "BTCUSDT", 7);
    wc *w = wc_open(&e, "/ws/btcusdt@depth@0ms");
    assert_int_equal(w->status, 101);
    hc *c = hc_open(&e);
    lbook b;
    uint64_t last = lb_snapshot(c, "BTCUSDT", &b), first, final;
    /* Every update continues the last one: first = previous final + 1. */
    for (int round = 0; round < 300; round++) {
        assert_int_equal(xr_sim_step(e.sim, 0, btc, 1 + (uint32_t)round % 4), XR_OK);
        char *m = wc_must(w);
        apply_update(&b, m, &first, &final);
        free(m);
        assert_int_equal(first, last + 1);
        last = final;
    }
    lb_expect_equal(c, "BTCUSDT", &b);

    /* An injected gap: one update is lost, the next one shows it. */
    fault(&e, "gap:count=1");
    xr_sim_step(e.sim, 0, btc, 3);
    PUMP_UNTIL(&e, counters(&e).depth_gaps == 1);
    assert_true(w->qh == w->qt);
    xr_sim_step(e.sim, 0, btc, 2);
    char *m = wc_must(w);
    apply_update(&b, m, &first, &final);
    free(m);
    assert_true(first > last + 1);
    assert_int_equal(counters(&e).depth_gaps, 1);
    /* Resync from a snapshot, as the documented procedure says, and carry on. */
    last = lb_snapshot(c, "BTCUSDT", &b);
    for (int round = 0; round < 50; round++) {
        xr_sim_step(e.sim, 0, btc, 2);
        m = wc_must(w);
        apply_update(&b, m, &first, &final);
        free(m);
        assert_int_equal(first, last + 1);
        last = final;
    }
    lb_expect_equal(c, "BTCUSDT", &b);
    /* Every third message lost. */
    fault(&e, "gap:every=3");
    int gaps = 0;
    for (int round = 0; round < 9; round++) {
        /* Either the message comes or the counter says it was dropped: no timing involved. */
        uint64_t dropped = counters(&e).depth_gaps;
        xr_sim_step(e.sim, 0, btc, 1);
        PUMP_UNTIL(&e, w->qh != w->qt || counters(&e).depth_gaps > dropped);
        if (w->qh == w->qt) {
            gaps++;
            continue;
        }
        m = wc_must(w);
        apply_update(&b, m, &first, &final);
        free(m);
    }
    assert_int_equal(gaps, 3);
    fault(&e, "clear");

    /* A stale feed sends nothing, then resumes where it stopped. */
    last = lb_snapshot(c, "BTCUSDT", &b);
    fault(&e, "stale:ms=0");
    xr_sim_step(e.sim, 0, btc, 5);
    assert_null(wc_next(w, 150 * XR_NS_PER_MS));
    fault(&e, "clear");
    xr_sim_step(e.sim, 0, btc, 1);
    m = wc_must(w);
    apply_update(&b, m, &first, &final);
    free(m);
    assert_int_equal(first, last + 1);
    lb_expect_equal(c, "BTCUSDT", &b);

    /* Unknown streams are refused at the upgrade. */
    wc *bad = wc_open(&e, "/ws/nopeusdt@depth");
    assert_int_equal(bad->status, 400);
    assert_string_equal(bad->body, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
    wc_free(bad);
    bad = wc_open(&e, "/ws/btcusdt@depth7");
    assert_int_equal(bad->status, 400);
    wc_free(bad);
    wc_free(w);
    hc_free(c);
    env_stop(&e);
}

static void test_ws_streams(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    int btc = xr_sim_engine_find_pair(e.e, "BTCUSDT", 7);

    /* Combined streams: every message in {"stream","data"}. */
    wc *w = wc_open(&e, "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/tstusdt@bookTicker");
    assert_int_equal(w->status, 101);
    bool depth = false, trade = false, book = false;
    uint64_t deadline = xr_clock_mono_ns() + WAIT_NS;
    while (!(depth && trade && book)) {
        assert_true(xr_clock_mono_ns() < deadline);
        xr_sim_step(e.sim, 0, btc, 10);
        char *m;
        while ((m = wc_next(w, 20 * XR_NS_PER_MS)) != NULL) {
            json_t *j = jparse(m);
            const char *stream = jstr(j, "stream");
            json_t *d = json_object_get(j, "data");
            if (strcmp(stream, "btcusdt@depth@100ms") == 0) {
                assert_string_equal(jstr(d, "e"), "depthUpdate");
                depth = true;
            } else if (strcmp(stream, "btcusdt@trade") == 0) {
                assert_string_equal(jstr(d, "e"), "trade");
                assert_string_equal(jstr(d, "s"), "BTCUSDT");
                assert_true(jint(d, "t") > 0 && jint(d, "T") > 0);
                assert_true(json_is_boolean(json_object_get(d, "m")));
                assert_true(strlen(jstr(d, "p")) > 9 && strlen(jstr(d, "q")) > 9);
                trade = true;
            } else {
                assert_string_equal(stream, "tstusdt@bookTicker");
                assert_string_equal(jstr(d, "s"), "TSTUSDT");
                assert_string_equal(jstr(d, "b"), "99.99000000");
                assert_string_equal(jstr(d, "B"), "1.50000000");
                assert_string_equal(jstr(d, "a"), "100.00000000");
                assert_string_equal(jstr(d, "A"), "1.00000000");
                book = true;
            }
            json_decref(j);
            free(m);
        }
    }
    wc_free(w);

    /* SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE on a raw connection. */
    w = wc_open(&e, "/ws");
    assert_int_equal(w->status, 101);
    wc_send(w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"tstusdt@ticker\",\"tstusdt@depth5\"],"
               "\"id\":1}");
    bool ack = false, ticker = false, partial = false;
    deadline = xr_clock_mono_ns() + WAIT_NS;
    while (!(ack && ticker && partial)) {
        assert_true(xr_clock_mono_ns() < deadline);
        char *m = wc_must(w);
        json_t *j = jparse(m);
        if (json_object_get(j, "id") != NULL) {
            assert_string_equal(m, "{\"result\":null,\"id\":1}");
            ack = true;
        } else if (json_object_get(j, "lastUpdateId") != NULL) {
            assert_int_equal(json_array_size(json_object_get(j, "bids")), 2);
            assert_int_equal(json_array_size(json_object_get(j, "asks")), 3);
            partial = true;
        } else {
            assert_string_equal(jstr(j, "e"), "24hrTicker");
            assert_string_equal(jstr(j, "s"), "TSTUSDT");
            assert_string_equal(jstr(j, "b"), "99.99000000");
            ticker = true;
        }
        json_decref(j);
        free(m);
    }
    wc_send(w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":\"two\"}");
    char *m = wc_must(w);
    while (strstr(m, "\"id\"") == NULL) {
        free(m);
        m = wc_must(w);
    }
    assert_string_equal(m, "{\"result\":[\"tstusdt@ticker\",\"tstusdt@depth5\"],\"id\":\"two\"}");
    free(m);
    wc_send(w, "{\"method\":\"UNSUBSCRIBE\",\"params\":[\"tstusdt@ticker\",\"tstusdt@depth5\"],"
               "\"id\":3}");
    wc_send(w, "not json");
    wc_send(w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"nope@trade\"],\"id\":4}");
    const char *want[] = {"{\"result\":null,\"id\":3}",
                          "{\"error\":{\"code\":2,\"msg\":\"Invalid request: request ID must be "
                          "an unsigned integer\"},\"id\":null}",
                          "{\"error\":{\"code\":2,\"msg\":\"Invalid request: unknown or too many "
                          "streams\"},\"id\":4}"};
    for (int k = 0; k < 3;) {
        m = wc_must(w);
        if (strstr(m, "\"id\"") != NULL)
            assert_string_equal(m, want[k++]);
        free(m);
    }
    wc_free(w);

    /* The disconnect fault cuts a stream after N messages. */
    fault(&e, "disconnect:after=2");
    w = wc_open(&e, "/ws/btcusdt@depth@0ms");
    for (int k = 0; k < 2; k++) {
        xr_sim_step(e.sim, 0, btc, 1);
        free(wc_must(w));
    }
    PUMP_UNTIL(&e, w->closed);
    assert_int_equal(counters(&e).ws_disconnects, 1);
    wc_free(w);
    fault(&e, "clear");
    env_stop(&e);
}

static void test_user_stream(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);
    assert_int_equal(hc_req(c, "POST", "/api/v3/userDataStream", KEY, NULL, ""), 200);
    json_t *j = jparse(c->body);
    char key[128];
    snprintf(key, sizeof key, "%s", jstr(j, "listenKey"));
    json_decref(j);
    assert_int_equal(strlen(key), 60);
    assert_int_equal(hc_req(c, "POST", "/api/v3/userDataStream", KEY, NULL, ""), 200);
    assert_non_null(strstr(c->body, key)); /* the live key again */
    char target[200];
    snprintf(target, sizeof target, "/api/v3/userDataStream?listenKey=%s", key);
    assert_int_equal(hc_req(c, "PUT", target, KEY, NULL, ""), 200);
    assert_string_equal(c->body, "{}");
    assert_int_equal(hc_req(c, "POST", "/api/v3/userDataStream", NULL, NULL, ""), 401);
    snprintf(target, sizeof target, "/ws/%s", key);
    wc *w = wc_open(&e, target);
    assert_int_equal(w->status, 101);

    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.5&newClientOrderId=u1"),
                     200);
    j = jparse(c->body);
    long long oid = jint(j, "orderId");
    long long tid = jint(json_array_get(json_object_get(j, "fills"), 0), "tradeId");
    json_decref(j);
    char *m = wc_must(w);
    j = jparse(m);
    assert_string_equal(jstr(j, "e"), "executionReport");
    assert_string_equal(jstr(j, "s"), "TSTUSDT");
    assert_string_equal(jstr(j, "c"), "u1");
    assert_string_equal(jstr(j, "S"), "BUY");
    assert_string_equal(jstr(j, "o"), "MARKET");
    assert_string_equal(jstr(j, "x"), "NEW");
    assert_string_equal(jstr(j, "X"), "NEW");
    assert_string_equal(jstr(j, "q"), "0.50000000");
    assert_string_equal(jstr(j, "n"), "0");
    assert_true(json_is_null(json_object_get(j, "N")));
    assert_int_equal(jint(j, "i"), oid);
    assert_int_equal(jint(j, "t"), -1);
    assert_int_equal(jint(j, "g"), -1);
    json_decref(j);
    free(m);
    m = wc_must(w);
    j = jparse(m);
    assert_string_equal(jstr(j, "x"), "TRADE");
    assert_string_equal(jstr(j, "X"), "FILLED");
    assert_string_equal(jstr(j, "l"), "0.50000000");
    assert_string_equal(jstr(j, "z"), "0.50000000");
    assert_string_equal(jstr(j, "L"), "100.00000000");
    assert_string_equal(jstr(j, "n"), "0.00050000");
    assert_string_equal(jstr(j, "N"), "TST");
    assert_string_equal(jstr(j, "Z"), "50.00000000");
    assert_string_equal(jstr(j, "Y"), "50.00000000");
    assert_int_equal(jint(j, "t"), tid);
    assert_true(json_is_false(json_object_get(j, "m")));
    json_decref(j);
    free(m);
    m = wc_must(w);
    j = jparse(m);
    assert_string_equal(jstr(j, "e"), "outboundAccountPosition");
    json_t *bal = json_object_get(j, "B");
    assert_int_equal(json_array_size(bal), 2);
    for (size_t k = 0; k < 2; k++) {
        json_t *x = json_array_get(bal, k);
        if (strcmp(jstr(x, "a"), "TST") == 0)
            assert_string_equal(jstr(x, "f"), "10.49950000");
        else
            assert_string_equal(jstr(x, "f"), "999950.00000000");
        assert_string_equal(jstr(x, "l"), "0.00000000");
    }
    json_decref(j);
    free(m);

    /* A resting order, filled by another account (maker), then the rest cancelled. */
    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.3&"
                         "price=100&newClientOrderId=r1"),
                     200);
    m = wc_must(w);
    assert_non_null(strstr(m, "\"x\":\"NEW\""));
    assert_non_null(strstr(m, "\"w\":true"));
    free(m);
    m = wc_must(w);
    assert_non_null(
        strstr(m, "\"B\":[{\"a\":\"TST\",\"f\":\"10.19950000\",\"l\":\"0.30000000\"}]"));
    free(m);
    assert_int_equal(api_signed(c, "POST", "/api/v3/order",
                                "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.1", KEY_B, SEC_B,
                                0),
                     200);
    m = wc_must(w);
    j = jparse(m);
    assert_string_equal(jstr(j, "c"), "r1");
    assert_string_equal(jstr(j, "x"), "TRADE");
    assert_string_equal(jstr(j, "X"), "PARTIALLY_FILLED");
    assert_string_equal(jstr(j, "n"), "0.00500000"); /* maker 5 bps of 10.00 USDT */
    assert_true(json_is_true(json_object_get(j, "m")));
    json_decref(j);
    free(m);
    free(wc_must(w)); /* outboundAccountPosition */
    assert_int_equal(api(c, "DELETE", "/api/v3/order",
                         "symbol=TSTUSDT&origClientOrderId=r1&newClientOrderId=cx"),
                     200);
    m = wc_must(w);
    j = jparse(m);
    assert_string_equal(jstr(j, "x"), "CANCELED");
    assert_string_equal(jstr(j, "c"), "cx");
    assert_string_equal(jstr(j, "C"), "r1");
    assert_string_equal(jstr(j, "z"), "0.10000000");
    json_decref(j);
    free(m);
    free(wc_must(w));

    /* The key can be closed; then it is unknown. */
    snprintf(target, sizeof target, "/api/v3/userDataStream?listenKey=%s", key);
    assert_int_equal(hc_req(c, "DELETE", target, KEY, NULL, NULL), 200);
    hc_req(c, "PUT", target, KEY, NULL, "");
    expect_error(c, 400, -1125, "This listenKey does not exist.");
    snprintf(target, sizeof target, "/ws/%s", key);
    wc *w2 = wc_open(&e, target);
    assert_int_equal(w2->status, 400);
    assert_string_equal(w2->body, "{\"code\":-1125,\"msg\":\"This listenKey does not exist.\"}");
    wc_free(w2);
    wc_free(w);
    hc_free(c);
    env_stop(&e);
}

/* ---- rate limits ------------------------------------------------------------------------------
 */

static void test_rate_limits(void **state)
{
    (void)state;
    xr_sim_config *cfg = test_config();
    cfg->venues[0].weight_limit = 25;
    cfg->venues[0].orders_10s = 2;
    cfg->venues[0].ban_after = 2;
    cfg->venues[0].ban_s = 1;
    env e;
    env_start(&e, cfg, false);
    hc *c = hc_open(&e);
    const char *weight_msg = "Too much request weight used; current limit is 25 request weight "
                             "per 1 MINUTE. Please use WebSocket Streams for live updates to "
                             "avoid polling the API.";

    /* A 429 storm; a client that ignores Retry-After is counted, then banned (418). */
    fault(&e, "429:count=2,retry_after=5");
    hc_get(c, "/api/v3/ping");
    expect_error(c, 429, -1003, weight_msg);
    assert_string_equal(hc_header(c, "Retry-After"), "5");
    hc_get(c, "/api/v3/ping"); /* before Retry-After ran out: a violation */
    assert_int_equal(c->status, 429);
    assert_int_equal(atoi(hc_header(c, "Retry-After")), 5);
    hc_get(c, "/api/v3/ping"); /* the second violation in a row: banned */
    assert_int_equal(c->status, 418);
    assert_non_null(strstr(c->body, "{\"code\":-1003,\"msg\":\"Way too much request weight used; "
                                    "IP banned until "));
    assert_string_equal(hc_header(c, "Retry-After"), "1");
    hc_get(c, "/api/v3/time");
    assert_int_equal(c->status, 418);
    xr_sim_counters n = counters(&e);
    assert_int_equal(n.http_429, 2);
    assert_int_equal(n.http_418, 2);
    assert_int_equal(n.violations, 3);
    fault(&e, "clear");

    /* A client that honours Retry-After: the storm runs its course, no violation. */
    fault(&e, "429:count=2,retry_after=1");
    hc_get(c, "/api/v3/ping");
    assert_int_equal(c->status, 429);
    assert_string_equal(hc_header(c, "Retry-After"), "1");
    pump_for(&e, 1100 * XR_NS_PER_MS);
    hc_get(c, "/api/v3/ping");
    assert_int_equal(c->status, 429); /* still the storm, but not a violation */
    pump_for(&e, 1100 * XR_NS_PER_MS);
    assert_int_equal(hc_get(c, "/api/v3/ping"), 200);
    n = counters(&e);
    assert_int_equal(n.http_429, 4);
    assert_int_equal(n.violations, 3); /* zero further violations */

    /* ORDERS per 10 s: of 5 orders in a row at least 3 fall into one window. */
    int limited = 0;
    for (int k = 0; k < 5 && limited == 0; k++) {
        int st =
            api(c, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001");
        if (st == 429) {
            expect_error(c, 429, -1015,
                         "Too many new orders; current limit is 2 orders per 10 SECOND.");
            int ra = atoi(hc_header(c, "Retry-After"));
            assert_true(ra >= 1 && ra <= 10);
            limited++;
        } else {
            assert_int_equal(st, 200);
            assert_non_null(hc_header(c, "X-MBX-ORDER-COUNT-10S"));
        }
    }
    assert_int_equal(limited, 1);
    fault(&e, "clear");

    /* REQUEST_WEIGHT per minute: exchangeInfo weighs 20 against a limit of 25. */
    limited = 0;
    for (int k = 0; k < 3 && limited == 0; k++) {
        if (hc_get(c, "/api/v3/exchangeInfo") == 429) {
            expect_error(c, 429, -1003, weight_msg);
            int ra = atoi(hc_header(c, "Retry-After"));
            assert_true(ra >= 1 && ra <= 60);
            assert_true(atoi(hc_header(c, "X-MBX-USED-WEIGHT-1M")) > 25);
            limited++;
        }
    }
    assert_int_equal(limited, 1);
    /* The control endpoint is never limited. */
    assert_int_equal(hc_get(c, "/sim/state"), 200);
    hc_free(c);
    env_stop(&e);
}

/* ---- faults -----------------------------------------------------------------------------------
 */

static void test_faults(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);

    fault(&e, "5xx:count=1");
    hc_get(c, "/api/v3/ping");
    expect_error(c, 503, -1001,
                 "Internal error; unable to process your request. Please try again.");
    assert_int_equal(hc_get(c, "/api/v3/ping"), 200);
    fault(&e, "5xx:count=1,status=502");
    assert_int_equal(hc_get(c, "/api/v3/ping"), 502);
    assert_string_equal(hc_header(c, "Content-Type"), "text/html");
    /* after_exec: the order is placed, only its answer is lost; a query finds it. */
    fault(&e, "5xx:count=1,status=504,after_exec=1");
    assert_int_equal(api(c, "POST", "/api/v3/order",
                         "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.2&newClientOrderId=lost"),
                     504);
    assert_int_equal(api(c, "GET", "/api/v3/order", "symbol=TSTUSDT&origClientOrderId=lost"), 200);
    assert_non_null(strstr(c->body, "\"status\":\"FILLED\""));
    assert_int_equal(counters(&e).http_5xx, 3);

    /* Rejects. */
    fault(&e, "reject:count=1,code=-2010,msg=Market%20is%20closed.");
    api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.1");
    expect_error(c, 400, -2010, "Market is closed.");
    assert_int_equal(
        api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=0.1"), 200);

    /* Latency: an answer takes at least that long (only the lower bound is checked). */
    fault(&e, "latency:ms=150");
    uint64_t t0 = xr_clock_mono_ns();
    assert_int_equal(hc_get(c, "/api/v3/ping"), 200);
    assert_true(xr_clock_mono_ns() - t0 >= 150 * XR_NS_PER_MS);
    fault(&e, "latency:ms=0");

    /* The venue's clock off by 10 s: our timestamps are "ahead". */
    fault(&e, "clock:offset_ms=-10000");
    assert_int_equal(hc_get(c, "/api/v3/time"), 200);
    json_t *j = jparse(c->body);
    assert_true(llabs(jint(j, "serverTime") - (now_ms() - 10000)) < 3000);
    json_decref(j);
    api(c, "GET", "/api/v3/account", "");
    expect_error(c, 400, -1021,
                 "Timestamp for this request was 1000ms ahead of the server's time.");
    fault(&e, "clock:offset_ms=0");

    /* Down: connections are reset, new ones too, until it is over. */
    fault(&e, "down:ms=400");
    PUMP_UNTIL(&e, c->closed);
    hc *d = hc_start(&e, false);
    PUMP_UNTIL(&e, d->closed);
    assert_true(counters(&e).conns_refused >= 1);
    hc_free(d);
    pump_for(&e, 450 * XR_NS_PER_MS);
    d = hc_open(&e);
    assert_int_equal(hc_get(d, "/api/v3/ping"), 200);
    hc_free(d);
    hc_free(c);
    env_stop(&e);
}

/* ---- TLS --------------------------------------------------------------------------------------
 */

static void test_tls(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), true);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);
    assert_int_equal(hc_get(c, "/api/v3/ping"), 200);
    assert_int_equal(
        api(c, "POST", "/api/v3/order", "symbol=TSTUSDT&side=BUY&type=MARKET&quantity=2.5"), 200);
    assert_non_null(strstr(c->body, "\"cummulativeQuoteQty\":\"250.01500000\""));
    assert_int_equal(hc_get(c, "/ticker?symbol=TSTUSDT"), 200);
    hc_free(c);
    wc *w = wc_open(&e, "/ws/btcusdt@depth@0ms");
    assert_int_equal(w->status, 101);
    xr_sim_step(e.sim, 0, xr_sim_engine_find_pair(e.e, "BTCUSDT", 7), 3);
    char *m = wc_must(w);
    assert_non_null(strstr(m, "\"e\":\"depthUpdate\""));
    free(m);
    wc_free(w);
    env_stop(&e);
}

/* ---- the mock dialect -------------------------------------------------------------------------
 */

static void test_mock_dialect(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    set_book(tst_market(&e));
    hc *c = hc_open(&e);
    assert_int_equal(hc_get(c, "/ticker?symbol=AZNUSDT"), 200);
    json_t *j = jparse(c->body);
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(jstr(j, "symbol"), "AZNUSDT");
    const char *p = jstr(j, "price");
    assert_int_equal(strlen(p), 6); /* "0.58xx": the tick's four decimals */
    assert_true(dec(p) > dec("0.58") && dec(p) < dec("0.60"));
    assert_true(llabs(jint(j, "timestamp") - now_ms()) < 5000);
    json_decref(j);
    /* Before any trade the price is the mid: (99.99 + 100.00) / 2 on the tick grid. */
    assert_int_equal(hc_get(c, "/ticker?symbol=TSTUSDT"), 200);
    assert_non_null(strstr(c->body, "\"price\":\"99.99\""));

    const char *ct = "application/json";
    assert_int_equal(hc_req(c, "POST", "/order", NULL, ct,
                            "{\"symbol\":\"TSTUSDT\",\"side\":\"BUY\",\"quantity\":\"2.5\","
                            "\"type\":\"MARKET\"}"),
                     200);
    j = jparse(c->body);
    assert_int_equal(json_object_size(j), 4);
    assert_true(jint(j, "orderId") > 0);
    assert_string_equal(jstr(j, "status"), "FILLED");
    assert_string_equal(jstr(j, "executedPrice"), "100.006"); /* 250.015 / 2.5 */
    assert_string_equal(jstr(j, "executedQty"), "2.500");
    json_decref(j);
    assert_int_equal(hc_get(c, "/ticker?symbol=TSTUSDT"), 200);
    assert_non_null(strstr(c->body, "\"price\":\"100.01\"")); /* the last trade */
    assert_int_equal(hc_req(c, "POST", "/order", NULL, ct,
                            "{\"symbol\":\"AZNUSDT\",\"side\":\"SELL\",\"quantity\":\"100\","
                            "\"type\":\"MARKET\"}"),
                     200);
    assert_non_null(strstr(c->body, "\"executedQty\":\"100.0\""));

    hc_req(c, "POST", "/order", NULL, ct,
           "{\"symbol\":\"TSTUSDT\",\"side\":\"BUY\",\"quantity\":1,\"type\":\"MARKET\"}");
    assert_int_equal(c->status, 400);
    assert_non_null(strstr(c->body, "\"error\":\"MALFORMED\""));
    hc_req(c, "POST", "/order", NULL, ct,
           "{\"symbol\":\"NOPE\",\"side\":\"BUY\",\"quantity\":\"1\",\"type\":\"MARKET\"}");
    assert_int_equal(c->status, 404);
    assert_non_null(strstr(c->body, "\"error\":\"UNKNOWN_PAIR\""));
    hc_req(c, "POST", "/order", NULL, ct,
           "{\"symbol\":\"TSTUSDT\",\"side\":\"BUY\",\"quantity\":\"1\",\"type\":\"LIMIT\"}");
    assert_int_equal(c->status, 400);
    hc_req(c, "POST", "/order", NULL, ct,
           "{\"symbol\":\"TSTUSDT\",\"side\":\"BUY\",\"quantity\":\"0.0001\",\"type\":\"MARKET\"}");
    assert_int_equal(c->status, 400);
    assert_non_null(strstr(c->body, "\"error\":\"INVALID_AMOUNT\""));
    hc_req(c, "POST", "/order", NULL, ct, "{\"symbol\":");
    assert_int_equal(c->status, 400);
    assert_int_equal(hc_get(c, "/ticker?symbol=NOPE"), 404);
    assert_int_equal(hc_get(c, "/ticker"), 400);
    assert_int_equal(hc_get(c, "/elsewhere"), 404);
    hc_free(c);
    env_stop(&e);
}

/* ---- control endpoint and repeatability over the wire ------------------------------------------
 */

static json_t *state_books(env *e, hc *c, const char *target)
{
    (void)e;
    assert_int_equal(hc_get(c, target), 200);
    json_t *j = jparse(c->body);
    json_t *books = json_incref(json_object_get(j, "books"));
    json_decref(j);
    return books;
}

static void test_control(void **state)
{
    (void)state;
    env e;
    env_start(&e, test_config(), false);
    hc *c = hc_open(&e);
    assert_int_equal(hc_req(c, "POST", "/sim/book?symbol=TSTUSDT&clear=1", NULL, NULL, ""), 200);
    assert_int_equal(
        hc_req(c, "POST", "/sim/book?symbol=TSTUSDT&side=ask&price=101&qty=1.5", NULL, NULL, ""),
        200);
    assert_int_equal(
        hc_req(c, "POST", "/sim/book?symbol=TSTUSDT&side=bid&price=101&qty=1", NULL, NULL, ""),
        400); /* would cross */
    assert_int_equal(
        hc_req(c, "POST", "/sim/book?symbol=TSTUSDT&side=bid&price=99.5&qty=2", NULL, NULL, ""),
        200);
    assert_int_equal(hc_get(c, "/api/v3/depth?symbol=TSTUSDT"), 200);
    char depth[512];
    snprintf(depth, sizeof depth, "%s", c->body);
    assert_non_null(strstr(depth, "\"bids\":[[\"99.50000000\",\"2.00000000\"]],\"asks\":[["
                                  "\"101.00000000\",\"1.50000000\"]]"));
    /* /sim/state holds the same book as /api/v3/depth. */
    assert_int_equal(hc_get(c, "/sim/state?symbol=TSTUSDT&depth=100"), 200);
    json_t *j = jparse(c->body);
    assert_string_equal(jstr(j, "venue"), "binance");
    assert_int_equal(jint(j, "port"), e.port);
    assert_non_null(json_object_get(json_object_get(j, "counters"), "violations"));
    json_t *book = json_object_get(json_array_get(json_object_get(j, "books"), 0), "book");
    json_t *d = jparse(depth);
    assert_true(json_equal(book, d));
    json_decref(d);
    json_decref(j);

    assert_int_equal(hc_req(c, "POST", "/sim/fault?kind=latency&ms=5", NULL, NULL, ""), 200);
    assert_int_equal(hc_get(c, "/sim/state"), 200);
    assert_non_null(strstr(c->body, "\"latencyMs\":5"));
    assert_int_equal(hc_req(c, "POST", "/sim/fault?kind=nope", NULL, NULL, ""), 400);
    assert_non_null(strstr(c->body, "\"error\":"));
    assert_int_equal(
        hc_req(c, "POST", "/sim/fault", NULL, "application/x-www-form-urlencoded", "kind=clear"),
        200);
    assert_int_equal(hc_req(c, "POST", "/sim/balance?asset=TST&amount=5", NULL, NULL, ""), 200);
    assert_int_equal(api(c, "GET", "/api/v3/account", ""), 200);
    assert_non_null(strstr(c->body, "{\"asset\":\"TST\",\"free\":\"5.00000000\""));
    assert_int_equal(hc_get(c, "/sim/nothing"), 404);
    assert_string_equal(xr_sim_fault_name(XR_SIM_FAULT_HTTP_429), "429");
    /* Down, asked for over HTTP: the asker gets its answer, then the venue goes down. */
    hc *c3 = hc_open(&e);
    assert_int_equal(hc_req(c3, "POST", "/sim/fault?kind=down&ms=300", NULL, NULL, ""), 200);
    assert_string_equal(c3->body, "{\"ok\":true}");
    PUMP_UNTIL(&e, c3->closed && c->closed);
    hc_free(c3);
    hc_free(c);
    pump_for(&e, 350 * XR_NS_PER_MS);
    c = hc_open(&e);

    /* Two simulators with the same seed, stepped alike, hold the same books. */
    env e2;
    env_start(&e2, test_config(), false);
    hc *c2 = hc_open(&e2);
    assert_int_equal(hc_req(c, "POST", "/sim/step?symbol=BTCUSDT&n=500", NULL, NULL, ""), 200);
    assert_string_equal(c->body, "{\"ok\":true,\"steps\":500}");
    assert_int_equal(hc_req(c2, "POST", "/sim/step?symbol=BTCUSDT&n=500", NULL, NULL, ""), 200);
    json_t *b1 = state_books(&e, c, "/sim/state?symbol=BTCUSDT&depth=1000");
    json_t *b2 = state_books(&e2, c2, "/sim/state?symbol=BTCUSDT&depth=1000");
    assert_true(json_equal(b1, b2));
    assert_true(json_integer_value(json_object_get(json_object_get(json_array_get(b1, 0), "book"),
                                                   "lastUpdateId")) > 540);
    json_decref(b1);
    json_decref(b2);
    hc_free(c2);
    env_stop(&e2);
    hc_free(c);
    env_stop(&e);
}

static void test_two_venues(void **state)
{
    (void)state;
    xr_sim_config *cfg = test_config();
    cfg->nvenues = 2;
    cfg->venues[1] = cfg->venues[0];
    snprintf(cfg->venues[1].name, sizeof cfg->venues[1].name, "second");
    cfg->venues[1].seed = 99;
    cfg->venues[1].taker_bps = 25;
    env e;
    env_start(&e, cfg, false);
    assert_int_equal(xr_sim_venue_count(e.sim), 2);
    assert_int_equal(xr_sim_find_venue(e.sim, "second"), 1);
    assert_int_equal(xr_sim_find_venue(e.sim, "third"), -1);
    uint16_t p0 = xr_sim_port(e.sim, 0), p1 = xr_sim_port(e.sim, 1);
    assert_true(p0 != p1);
    e.port = p1;
    hc *c = hc_open(&e);
    assert_int_equal(api(c, "GET", "/api/v3/account", ""), 200);
    assert_non_null(strstr(c->body, "\"takerCommission\":25"));
    assert_int_equal(hc_get(c, "/sim/state?symbol=BTCUSDT"), 200);
    assert_non_null(strstr(c->body, "\"venue\":\"second\""));
    /* Different seeds, different books. */
    char a[8192], b[8192];
    size_t na = xr_sim_state_json(e.sim, 0, "BTCUSDT", 20, a, sizeof a);
    size_t nb = xr_sim_state_json(e.sim, 1, "BTCUSDT", 20, b, sizeof b);
    assert_true(na > 0 && nb > 0);
    assert_non_null(strstr(a, "\"books\""));
    assert_string_not_equal(strstr(a, "\"books\""), strstr(b, "\"books\""));
    assert_int_equal(xr_sim_state_json(e.sim, 0, NULL, 20, a, 100), 0); /* too small */
    hc_free(c);

    /* Configuration errors say what is wrong; a port in use is an I/O error. */
    xr_sim *bad = NULL;
    char why[256];
    xr_sim_config *c2 = test_config();
    c2->nvenues = 2;
    c2->venues[1] = c2->venues[0];
    assert_int_equal(xr_sim_create(c2, NULL, &bad, why, sizeof why), XR_ERR_CONFIG);
    assert_non_null(strstr(why, "used twice"));
    c2 = test_config();
    snprintf(c2->venues[0].dialect, sizeof c2->venues[0].dialect, "kraken");
    assert_int_equal(xr_sim_create(c2, NULL, &bad, why, sizeof why), XR_ERR_CONFIG);
    c2 = test_config();
    c2->venues[0].port = p0;
    assert_int_equal(xr_sim_create(c2, NULL, &bad, why, sizeof why), XR_ERR_IO);
    assert_non_null(strstr(why, "cannot listen"));
    c2 = test_config();
    snprintf(c2->venues[0].tls_cert, sizeof c2->venues[0].tls_cert, "/nonexistent.pem");
    assert_int_not_equal(xr_sim_create(c2, NULL, &bad, why, sizeof why), XR_OK);
    assert_null(bad);
    env_stop(&e);
}

/* ---- Convert (/sapi/v1/convert/getQuote, acceptQuote, orderStatus) -------------------------- */

static void conv_route(xr_sim_venue_config *v, const char *from, const char *to, uint8_t dec)
{
    xr_sim_convert_config *cv = &v->converts[v->nconverts++];
    snprintf(cv->from, sizeof cv->from, "%s", from);
    snprintf(cv->to, sizeof cv->to, "%s", to);
    cv->rate = U; /* 1:1 */
    cv->fee_bps = 10;
    cv->to_decimals = dec;
}

static void expect_conv_balance(env *e, const char *asset, int64_t want)
{
    xr_i128 fr, lk;
    xr_sim_engine_balance(e->e, 0, xr_sim_engine_find_asset(e->e, asset), &fr, &lk);
    if (fr != want || lk != 0)
        fail_msg("%s: free %lld, expected %lld", asset, (long long)fr, (long long)want);
}

/* Quote, accept, status by both ids; amounts worked out by hand: 1:1 less 10 bps is a ratio
 * of 0.999 (inverse 1/0.999 = 1.001001001.. -> 1.00100100), 100 USD -> 99.9 USDC; 12.345678
 * USDC -> 12.333332322 USD, down to USD's 2 places: 12.33. Refusals, the reject fault, a
 * 503 after the accept executed (the balances moved: orderStatus says SUCCESS), expiry. */
static void test_convert(void **state)
{
    (void)state;
    /* The --convert spec. */
    xr_sim_convert_config cc;
    char why[200];
    assert_int_equal(xr_sim_convert_parse("USD:PYUSD", &cc, why, sizeof why), XR_OK);
    assert_string_equal(cc.from, "USD");
    assert_string_equal(cc.to, "PYUSD");
    assert_true(cc.rate == U && cc.fee_bps == 0 && cc.to_decimals == 8);
    assert_int_equal(
        xr_sim_convert_parse("USDC:USD:rate=0.9995,fee_bps=10,decimals=2", &cc, why, sizeof why),
        XR_OK);
    assert_true(cc.rate == 99950000 && cc.fee_bps == 10 && cc.to_decimals == 2);
    static const char *const bad[] = {"USD",
                                      "USD:USD",
                                      "usd:USDC",
                                      "USD:USDC:x=1",
                                      "USD:USDC:rate=0",
                                      "USD:USDC:fee_bps=10000",
                                      "USD:USDC:decimals=9",
                                      "USD:USDC:rate=1.000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(xr_sim_convert_parse(bad[i], &cc, why, sizeof why),
                         XR_ERR_INVALID_ARGUMENT);
    xr_sim_config *cfg = test_config();
    xr_sim_venue_config *v = &cfg->venues[0];
    conv_route(v, "USD", "USDC", 6);
    conv_route(v, "USDC", "USD", 2);
    xr_sim_account_config *a = &v->accounts[0];
    snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "USD");
    a->balances[a->nbalances++].amount = 1000 * U;
    env e;
    env_start(&e, cfg, false);
    hc *c = hc_open(&e);

    if (api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=USDC&fromAmount=100") !=
        200)
        fail_msg("getQuote: %d %s", c->status, c->body);
    json_t *j = jparse(c->body);
    char qid[32];
    snprintf(qid, sizeof qid, "%s", jstr(j, "quoteId"));
    assert_string_equal(jstr(j, "ratio"), "0.99900000");
    assert_string_equal(jstr(j, "inverseRatio"), "1.00100100");
    assert_string_equal(jstr(j, "toAmount"), "99.90000000");
    assert_string_equal(jstr(j, "fromAmount"), "100.00000000");
    long long valid = jint(j, "validTimestamp");
    assert_true(llabs(valid - (now_ms() + 10000)) < 5000);
    json_decref(j);
    expect_conv_balance(&e, "USD", 1000 * U); /* a quote moves nothing */

    char params[128];
    snprintf(params, sizeof params, "quoteId=%s", qid);
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/acceptQuote", params), 200);
    j = jparse(c->body);
    char oid[32];
    snprintf(oid, sizeof oid, "%s", jstr(j, "orderId")); /* a string here */
    assert_string_equal(jstr(j, "orderStatus"), "PROCESS");
    json_decref(j);
    expect_conv_balance(&e, "USD", 900 * U);
    expect_conv_balance(&e, "USDC", 999 * U / 10);
    /* A quote is accepted once. */
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/acceptQuote", params), 400);
    expect_error(c, 400, -2013, "Quote does not exist or has expired.");
    expect_conv_balance(&e, "USD", 900 * U);

    assert_int_equal(api(c, "GET", "/sapi/v1/convert/orderStatus", params), 200);
    j = jparse(c->body);
    char num[32];
    snprintf(num, sizeof num, "%lld", jint(j, "orderId")); /* a number here */
    assert_string_equal(num, oid);
    assert_string_equal(jstr(j, "orderStatus"), "SUCCESS");
    assert_string_equal(jstr(j, "fromAsset"), "USD");
    assert_string_equal(jstr(j, "toAsset"), "USDC");
    assert_string_equal(jstr(j, "fromAmount"), "100.00000000");
    assert_string_equal(jstr(j, "toAmount"), "99.90000000");
    json_decref(j);
    snprintf(params, sizeof params, "orderId=%s", oid);
    assert_int_equal(api(c, "GET", "/sapi/v1/convert/orderStatus", params), 200);
    snprintf(params, sizeof params, "orderId=%s&quoteId=%s", oid, qid);
    assert_int_equal(api(c, "GET", "/sapi/v1/convert/orderStatus", params), 400);
    assert_int_equal(api(c, "GET", "/sapi/v1/convert/orderStatus", "quoteId=77"), 400);
    expect_error(c, 400, -2013, "Order does not exist.");

    /* The other way, rounded down to USD's 2 places. */
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/getQuote",
                         "fromAsset=USDC&toAsset=USD&fromAmount=12.345678&validTime=30s"),
                     200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "toAmount"), "12.33000000");
    snprintf(params, sizeof params, "quoteId=%s", jstr(j, "quoteId"));
    json_decref(j);
    /* The reject fault refuses the accept and leaves the quote usable. */
    xr_sim_fault f = {.kind = XR_SIM_FAULT_REJECT, .count = 1, .code = -2010};
    snprintf(f.msg, sizeof f.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f), XR_OK);
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/acceptQuote", params), 400);
    expect_error(c, 400, -2010, "Account has insufficient balance for requested action.");
    expect_conv_balance(&e, "USDC", 999 * U / 10);
    /* A 503 after the accept ran: the answer is lost, the balances moved, status says so. */
    f = (xr_sim_fault){
        .kind = XR_SIM_FAULT_HTTP_5XX, .count = 1, .status = 503, .after_exec = true};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f), XR_OK);
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/acceptQuote", params), 503);
    expect_conv_balance(&e, "USDC", 999 * U / 10 - 12345678 * (U / 1000000));
    expect_conv_balance(&e, "USD", 900 * U + 1233 * (U / 100));
    assert_int_equal(api(c, "GET", "/sapi/v1/convert/orderStatus", params), 200);
    j = jparse(c->body);
    assert_string_equal(jstr(j, "orderStatus"), "SUCCESS");
    assert_string_equal(jstr(j, "toAmount"), "12.33000000");
    json_decref(j);

    /* Refusals. More than the balance: a quote without quoteId (Binance's rule). */
    assert_int_equal(
        api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=USDC&fromAmount=5000"),
        200);
    j = jparse(c->body);
    assert_null(json_object_get(j, "quoteId"));
    json_decref(j);
    assert_int_equal(
        api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=BTC&fromAmount=1"), 400);
    expect_error(c, 400, -1121, "Invalid symbol.");
    assert_int_equal(
        api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=USDC&toAmount=1"), 400);
    expect_error(c, 400, -1106, "Parameter 'toAmount' sent when not required.");
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=USDC"),
                     400);
    assert_int_equal(api(c, "POST", "/sapi/v1/convert/getQuote",
                         "fromAsset=USD&toAsset=USDC&fromAmount=1&validTime=5s"),
                     400);
    assert_int_equal(api_signed(c, "POST", "/sapi/v1/convert/getQuote",
                                "fromAsset=USD&toAsset=USDC&fromAmount=1", KEY, "wrong", 0),
                     400);

    /* Expiry: quote, then the venue's clock jumps 20 s ahead. */
    assert_int_equal(
        api(c, "POST", "/sapi/v1/convert/getQuote", "fromAsset=USD&toAsset=USDC&fromAmount=1"),
        200);
    j = jparse(c->body);
    snprintf(params, sizeof params, "quoteId=%s", jstr(j, "quoteId"));
    json_decref(j);
    f = (xr_sim_fault){.kind = XR_SIM_FAULT_CLOCK, .offset_ms = 20000};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f), XR_OK);
    assert_int_equal(
        api_signed(c, "POST", "/sapi/v1/convert/acceptQuote", params, KEY, SECRET, 20000), 400);
    expect_error(c, 400, -2013, "Quote does not exist or has expired.");
    expect_conv_balance(&e, "USD", 900 * U + 1233 * (U / 100));
    hc_free(c);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_market_repeatable),
        cmocka_unit_test(test_market_long_run),
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_engine_market_order),
        cmocka_unit_test(test_engine_limit_orders),
        cmocka_unit_test(test_engine_resting_filled_by_market),
        cmocka_unit_test(test_engine_rejects),
        cmocka_unit_test(test_engine_quote_qty),
        cmocka_unit_test(test_rest_public),
        cmocka_unit_test(test_rest_orders),
        cmocka_unit_test(test_ws_depth_stream),
        cmocka_unit_test(test_ws_streams),
        cmocka_unit_test(test_user_stream),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_mock_dialect),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_two_venues),
        cmocka_unit_test(test_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
