/*
 * unit.engine: the embedded engine end to end through xroute/engine.h, against two
 * in-process simulated Binance-dialect venues on loopback with different books and fees.
 *
 * Every expected amount is computed here from the books the test sets, with the rules of
 * docs/ledger.md ("Rounding"), not by calling core/pricing. After every scenario the ledger
 * (opened read-only beside the engine) verifies, every account balance equals the
 * expectation, and each venue position equals what the simulator itself holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/sim/sim.h"
#include "core/base/clock.h"
#include "core/ledger/ledger.h"
#include "xroute/engine.h"

#define BANK    1
#define SPREAD  150 /* bps */
#define SLIP    50
#define U8      INT64_C(100000000) /* 10^8: the simulator's unit */
#define USDT(x) ((xr_i128)(x))     /* USDT/6 minor units */
#define WAIT_NS (30ull * XR_NS_PER_SEC)
#define NVENUES 2
#define CUST_A  42
#define CUST_B  43

static const int fee_bps[NVENUES] = {10, 20};

typedef struct env {
    char dir[64];
    xr_sim *sim;
    xr_engine *eng;
    xr_ledger *ro; /* read-only view of the engine's ledger */
    uint64_t corr;
    int btc[NVENUES], usdt[NVENUES];               /* simulator asset indexes */
    xr_i128 sim0_btc[NVENUES], sim0_usdt[NVENUES]; /* simulator balances at start */
    /* expectations, ledger balances (credit positive) */
    xr_i128 cust_usdt[2], cust_btc[2];
    xr_i128 pos_usdt[NVENUES], pos_btc[NVENUES], fee_usdt[NVENUES], fee_btc[NVENUES];
    xr_i128 revenue, funding;
    xr_engine_exec_report_ev buy_report;
    xr_i128 price_one; /* 1 USDT per BTC in price ticks */
    bool registered[2];
    xr_engine_key buy_key;
} env;

static env E;

/* ---- driving ------------------------------------------------------------------------------- */

static void pump_once(void)
{
    assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
}

/* Submits `c` and waits for its one answer. */
static xr_engine_event call(xr_engine_cmd c)
{
    c.bank_id = c.bank_id ? c.bank_id : BANK;
    c.correlation_id = ++E.corr;
    assert_int_equal(xr_engine_submit(E.eng, &c), XR_OK);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    xr_engine_event ev[8];
    for (;;) {
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 8, &n), XR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ev[i].correlation_id, E.corr); /* one command at a time */
            assert_int_equal(n, 1);
            return ev[i];
        }
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
}

static xr_engine_key key_of(uint8_t k)
{
    xr_engine_key key;
    memset(&key, 0, sizeof key);
    key.bytes[0] = 0xE1;
    key.bytes[15] = k;
    return key;
}

static xr_engine_cmd order_cmd(uint64_t cust, uint8_t k, uint8_t side, xr_i128 base)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_NEW_ORDER, .customer_id = cust};
    c.u.order.key = key_of(k);
    snprintf(c.u.order.pair, sizeof c.u.order.pair, "BTC/USDT");
    c.u.order.side = side;
    c.u.order.type = XR_ENGINE_MARKET;
    c.u.order.amount_side = XR_ENGINE_AMOUNT_BASE;
    c.u.order.amount.units = base;
    return c;
}

/* ---- the simulator's books ---------------------------------------------------------------- */

static xr_sim_market *market(int v)
{
    xr_sim_engine *se = xr_sim_engine_of(E.sim, (uint32_t)v);
    int p = xr_sim_engine_find_pair(se, "BTCUSDT", 7);
    assert_true(p >= 0);
    return xr_sim_engine_market(se, (uint32_t)p);
}

/* price in whole USDT (tick 0.01 -> x100 ticks), qty in BTC x 10^5 (step 0.00001 = 1 lot) */
static void level(int v, int side, int64_t usdt, int64_t lots)
{
    assert_int_equal(xr_sim_market_set_synth(market(v), side, usdt * 100, lots), XR_OK);
}

static void sim_balance(int v, int asset, xr_i128 *total)
{
    xr_i128 f, l;
    xr_sim_engine_balance(xr_sim_engine_of(E.sim, (uint32_t)v), 0, asset, &f, &l);
    *total = f + l;
}

/* ---- the ledger ------------------------------------------------------------------------------ */

static xr_i128 balance_of(unsigned kind, uint64_t bank, uint64_t owner, const char *asset,
                          xr_i128 *reserved)
{
    xr_ledger_account acc[256];
    size_t n = 0;
    uint64_t after = 0;
    for (;;) {
        assert_int_equal(xr_ledger_accounts_list(E.ro, after, acc, 256, &n), XR_OK);
        for (size_t i = 0; i < n; i++)
            if (acc[i].kind == kind && acc[i].bank_id == bank && acc[i].owner_id == owner &&
                strcmp(acc[i].asset, asset) == 0) {
                if (reserved != NULL)
                    *reserved = acc[i].debits_pending.units;
                return xr_ledger_account_balance(&acc[i]).units;
            }
        if (n < 256)
            break;
        after = acc[n - 1].id;
    }
    fail_msg("no account kind %u bank %llu owner %llu %s", kind, (unsigned long long)bank,
             (unsigned long long)owner, asset);
    return 0;
}

#define EXPECT_BAL(kind, bank, owner, asset, want)                                                 \
    do {                                                                                           \
        xr_i128 r_ = 0;                                                                            \
        xr_i128 b_ = balance_of(kind, bank, owner, asset, &r_);                                    \
        if (b_ != (want))                                                                          \
            fail_msg("%s:%d: account kind %d owner %llu %s: balance %lld, expected %lld",          \
                     __FILE__, __LINE__, (int)(kind), (unsigned long long)(owner), asset,          \
                     (long long)b_, (long long)(want));                                            \
        assert_true(r_ == 0);                                                                      \
    } while (0)

/* Verify, every expected balance, and each venue position against the simulator. */
static void check_books(void)
{
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
    static const uint64_t cust[2] = {CUST_A, CUST_B};
    for (int c = 0; c < 2; c++) {
        if (!E.registered[c])
            continue;
        EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, cust[c], "USDT", E.cust_usdt[c]);
        EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, cust[c], "BTC", E.cust_btc[c]);
    }
    EXPECT_BAL(XR_LEDGER_KIND_BANK_OMNIBUS, BANK, 0, "USDT", 0);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_OMNIBUS, BANK, 0, "BTC", 0);
    EXPECT_BAL(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, 0, "USDT", E.revenue);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_FUNDING, BANK, 0, "USDT", E.funding);
    for (int v = 0; v < NVENUES; v++) {
        EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, (uint64_t)v, "USDT", E.pos_usdt[v]);
        EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, (uint64_t)v, "BTC", E.pos_btc[v]);
        EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, (uint64_t)v, "USDT", E.fee_usdt[v]);
        EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, (uint64_t)v, "BTC", E.fee_btc[v]);
        /* A holding is a debit balance: what the venue holds for us is minus the position's
         * balance; the simulator counts in 10^-8 (USDT/6: / 100). */
        xr_i128 b, u;
        sim_balance(v, E.btc[v], &b);
        sim_balance(v, E.usdt[v], &u);
        assert_true(b - E.sim0_btc[v] == -E.pos_btc[v]);
        assert_true(u - E.sim0_usdt[v] == -E.pos_usdt[v] * 100);
    }
}

/* ---- rounding helpers (docs/ledger.md) ------------------------------------------------------- */

static xr_i128 ceil_div(xr_i128 a, xr_i128 d)
{
    return a >= 0 ? (a + d - 1) / d : -((-a) / d);
}
static xr_i128 floor_div(xr_i128 a, xr_i128 d)
{
    return a >= 0 ? a / d : -ceil_div(-a, d);
}
/* Notional in USDT/6 of `sat` (BTC/8) at `usdt` whole USDT: sat x usdt x 10^6 / 10^8. */
static xr_i128 notional_exact_e8(int64_t sat, int64_t usdt)
{
    return (xr_i128)sat * usdt * 1000000; /* x 10^-8: divide by 10^8 to get USDT/6 */
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof E);
    snprintf(E.dir, sizeof E.dir, "/tmp/xr_engine_XXXXXX");
    assert_non_null(mkdtemp(E.dir));

    xr_sim_config *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    sc->nvenues = NVENUES;
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_venue_config *vc = &sc->venues[v];
        xr_sim_venue_config_default(vc, v == 0 ? "venue-a" : "venue-b");
        vc->port = 0;
        vc->step_us = 0; /* the book changes only when the test or an order changes it */
        vc->taker_bps = vc->maker_bps = fee_bps[v];
        vc->seed = (uint64_t)v + 11;
    }
    char why[256] = "";
    xr_err err = xr_sim_create(sc, NULL, &E.sim, why, sizeof why);
    if (err != XR_OK)
        fail_msg("sim: %s", why);

    /* Books (whole USDT x lots of 0.00001 BTC):
     *   A (10 bps): asks 60000 x 0.01, 60200 x 0.05   bids 59900 x 0.01, 59700 x 0.05
     *   B (20 bps): asks 60010 x 0.02, 60300 x 0.05   bids 59950 x 0.005, 59600 x 0.05 */
    for (int v = 0; v < NVENUES; v++)
        xr_sim_market_clear_synth(market(v));
    level(0, XR_SIM_ASK, 60000, 1000);
    level(0, XR_SIM_ASK, 60200, 5000);
    level(0, XR_SIM_BID, 59900, 1000);
    level(0, XR_SIM_BID, 59700, 5000);
    level(1, XR_SIM_ASK, 60010, 2000);
    level(1, XR_SIM_ASK, 60300, 5000);
    level(1, XR_SIM_BID, 59950, 500);
    level(1, XR_SIM_BID, 59600, 5000);
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_engine *se = xr_sim_engine_of(E.sim, (uint32_t)v);
        E.btc[v] = xr_sim_engine_find_asset(se, "BTC");
        E.usdt[v] = xr_sim_engine_find_asset(se, "USDT");
        sim_balance(v, E.btc[v], &E.sim0_btc[v]);
        sim_balance(v, E.usdt[v], &E.sim0_usdt[v]);
    }

    xr_engine_config *c = calloc(1, sizeof *c);
    assert_non_null(c);
    xr_engine_config_default(c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", E.dir);
    c->slippage_bps = SLIP;
    c->nbanks = 1;
    c->banks[0] = (xr_engine_bank_config){.id = BANK, .spread_bps = SPREAD};
    c->nvenues = NVENUES;
    for (int v = 0; v < NVENUES; v++) {
        xr_engine_venue_config *vc = &c->venues[v];
        snprintf(vc->name, sizeof vc->name, "%s", v == 0 ? "venue-a" : "venue-b");
        snprintf(vc->dialect, sizeof vc->dialect, "binance");
        snprintf(vc->ip, sizeof vc->ip, "127.0.0.1");
        vc->port = xr_sim_port(E.sim, (uint32_t)v);
        snprintf(vc->api_key, sizeof vc->api_key, "%s", sc->venues[v].accounts[0].api_key);
        snprintf(vc->secret, sizeof vc->secret, "%s", sc->venues[v].accounts[0].secret);
        vc->taker_fee_bps = (uint16_t)fee_bps[v];
        snprintf(vc->depth_stream, sizeof vc->depth_stream, "@depth@0ms");
        vc->npairs = 1;
        snprintf(vc->pairs[0], sizeof vc->pairs[0], "BTC/USDT");
    }
    assert_int_equal(xr_engine_open(c, &E.eng), XR_OK);
    free(c);
    free(sc);

    char ldir[128];
    snprintf(ldir, sizeof ldir, "%s/ledger", E.dir);
    xr_ledger_config lc = {.dir = ldir, .read_only = 1};
    assert_int_equal(xr_ledger_open(&lc, &E.ro), XR_OK);

    /* Ready when the consolidated book shows both venues' levels. */
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
        snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
        q.u.market.depth = 10;
        xr_engine_event ev = call(q);
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks == 4 && ev.u.book.n_bids == 4) {
            /* prices at the pair's scale: the larger of USDT's 6 and the tick's decimals */
            E.price_one = 1;
            for (int i = 0; i < ev.u.book.price_scale; i++)
                E.price_one *= 10;
            assert_true(ev.u.book.price_scale >= 6);
            assert_true(ev.u.book.asks[0].price.ticks == 60000 * E.price_one);
            assert_true(ev.u.book.asks[0].qty.units == 1000000);
            assert_true(ev.u.book.asks[1].price.ticks == 60010 * E.price_one);
            assert_true(ev.u.book.bids[0].price.ticks == 59950 * E.price_one);
            break;
        }
        if (getenv("XR_TEST_DEBUG"))
            fprintf(stderr, "book: kind %d err %s bids %d asks %d\n", ev.kind,
                    ev.kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev.u.reject.err) : "-",
                    ev.u.book.n_bids, ev.u.book.n_asks);
        assert_true(xr_clock_mono_ns() < end);
        /* A depth sync starts at the first stream event: once the streams are up, touch a
         * far level and take it away again, leaving the book as set. */
        for (int v = 0; v < NVENUES; v++) {
            xr_sim_counters sc2;
            xr_sim_get_counters(E.sim, (uint32_t)v, &sc2);
            if (sc2.ws_connections >= 2) {
                level(v, XR_SIM_BID, 50000, 1);
                level(v, XR_SIM_BID, 50000, 0);
            }
        }
        for (int i = 0; i < 20; i++)
            pump_once();
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    xr_ledger_close(E.ro);
    xr_engine_close(E.eng);
    xr_sim_destroy(E.sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- scenarios ------------------------------------------------------------------------------ */

static void register_and_fund(uint64_t cust, int idx, xr_i128 usdt, uint8_t k)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = cust};
    c.u.customer.kyc_tier = 1;
    xr_engine_event ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_CUSTOMER);
    assert_int_equal(ev.u.customer.created, 1);
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = cust};
    f.u.fund.key = key_of(k);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USDT");
    f.u.fund.amount.units = usdt;
    ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    assert_true(ev.u.funding.amount.units == usdt);
    assert_int_equal(ev.u.funding.replayed, 0);
    E.registered[idx] = true;
    E.cust_usdt[idx] += usdt;
    E.funding -= usdt;
}

/* fund -> quote -> market buy of 0.02 BTC across both venues -> exact report and books. */
static void test_buy(void **state)
{
    (void)state;
    register_and_fund(CUST_A, 0, USDT(10000) * 1000000, 1);
    check_books();

    /* The walk, by price net of fee: A 60000 (x1.001 = 60060), B 60010 (x1.002 = 60130.02),
     * A 60200 (60260.2): 0.01 on A at 60000, 0.01 on B at 60010. */
    const int64_t sat = 1000000; /* 0.01 BTC per venue */
    xr_i128 n_a = ceil_div(notional_exact_e8(sat, 60000), U8);
    xr_i128 n_b = ceil_div(notional_exact_e8(sat, 60010), U8);
    xr_i128 f_a = ceil_div(n_a * fee_bps[0], 10000);
    xr_i128 f_b = ceil_div(n_b * fee_bps[1], 10000);
    xr_i128 e = n_a + f_a + n_b + f_b;
    xr_i128 s = floor_div(e * SPREAD, 10000);
    assert_true(n_a == USDT(600000000) && f_a == USDT(600000));  /* 600.00, 0.60 */
    assert_true(n_b == USDT(600100000) && f_b == USDT(1200200)); /* 600.10, 1.2002 */
    assert_true(s == USDT(18028503));                            /* 1.5% of 1201.9002 */

    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_QUOTE, .customer_id = CUST_A};
    snprintf(q.u.quote.pair, sizeof q.u.quote.pair, "BTC/USDT");
    q.u.quote.side = XR_ENGINE_BUY;
    q.u.quote.amount_side = XR_ENGINE_AMOUNT_BASE;
    q.u.quote.amount.units = 2000000;
    xr_engine_event ev = call(q);
    assert_int_equal(ev.kind, XR_ENGINE_EV_QUOTE);
    assert_true(ev.u.quote.quote_id != 0);
    assert_true(ev.u.quote.base.units == 2000000);
    assert_true(ev.u.quote.notional.units == n_a + n_b);
    assert_true(ev.u.quote.fees.units == f_a + f_b);
    assert_true(ev.u.quote.spread.units == s);
    assert_true(ev.u.quote.quote.units == e + s);
    assert_int_equal(ev.u.quote.spread_bps, SPREAD);
    check_books(); /* a quote books nothing */

    E.buy_key = key_of(10);
    ev = call(order_cmd(CUST_A, 10, XR_ENGINE_BUY, 2000000));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("buy rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    const xr_engine_exec_report_ev *r = &ev.u.report;
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_int_equal(r->err, XR_OK);
    assert_int_equal(r->replayed, 0);
    assert_int_equal(r->venues, 2);
    assert_true(r->filled.units == 2000000);
    assert_true(r->notional.units == n_a + n_b);
    assert_true(r->fees.units == f_a + f_b);
    assert_true(r->spread.units == s);
    assert_true(r->quote.units == e + s);
    /* (e + s) / 0.02 BTC, rounded up at the price scale 6 */
    /* quote / base at the price scale: USDT/6 x 10^8 (BTC) x price_one / 10^6, rounded up */
    assert_true(r->avg_price.ticks == ceil_div((e + s) * 100 * E.price_one, 2000000));
    assert_true(r->booked_ns > 0);
    E.buy_report = *r;

    E.cust_usdt[0] -= e + s;
    E.cust_btc[0] += 2 * sat;
    E.pos_usdt[0] += n_a; /* credited: we hold less at the venue */
    E.pos_usdt[1] += n_b;
    E.fee_usdt[0] += f_a;
    E.fee_usdt[1] += f_b;
    E.revenue += s;
    /* The venues keep their fee from the BTC they deliver (rounded up to 10^-8). */
    xr_i128 vf_a = ceil_div((xr_i128)sat * fee_bps[0], 10000);
    xr_i128 vf_b = ceil_div((xr_i128)sat * fee_bps[1], 10000);
    E.pos_btc[0] -= sat - vf_a;
    E.pos_btc[1] -= sat - vf_b;
    E.fee_btc[0] -= vf_a;
    E.fee_btc[1] -= vf_b;
    check_books();

    xr_engine_cmd b = {.kind = XR_ENGINE_CMD_BALANCES, .customer_id = CUST_A};
    ev = call(b);
    assert_int_equal(ev.kind, XR_ENGINE_EV_BALANCES);
    assert_int_equal(ev.u.balances.n, 2);
    for (uint32_t i = 0; i < ev.u.balances.n; i++) {
        const xr_engine_balance *bl = &ev.u.balances.items[i];
        xr_i128 want = strcmp(bl->asset, "USDT") == 0 ? E.cust_usdt[0] : E.cust_btc[0];
        assert_true(bl->balance.units == want && bl->available.units == want);
        assert_true(bl->reserved.units == 0);
    }
}

/* Market sell of 0.015 BTC: 0.01 on A at 59900 (net 59840.1), 0.005 on B at 59950 (59830.1). */
static void test_sell(void **state)
{
    (void)state;
    const int64_t sat_a = 1000000, sat_b = 500000;
    xr_i128 n_a = floor_div(notional_exact_e8(sat_a, 59900), U8);
    xr_i128 n_b = floor_div(notional_exact_e8(sat_b, 59950), U8);
    xr_i128 f_a = ceil_div(n_a * fee_bps[0], 10000);
    xr_i128 f_b = ceil_div(n_b * fee_bps[1], 10000);
    xr_i128 e = (n_a - f_a) + (n_b - f_b);
    xr_i128 s = floor_div(e * SPREAD, 10000);
    assert_true(e == USDT(897551500) && s == USDT(13463272));

    xr_engine_event ev = call(order_cmd(CUST_A, 11, XR_ENGINE_SELL, sat_a + sat_b));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("sell rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    const xr_engine_exec_report_ev *r = &ev.u.report;
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == sat_a + sat_b);
    assert_true(r->notional.units == n_a + n_b);
    assert_true(r->fees.units == f_a + f_b);
    assert_true(r->spread.units == s);
    assert_true(r->quote.units == e - s);
    assert_true(r->avg_price.ticks == floor_div((e - s) * 100 * E.price_one, sat_a + sat_b));

    E.cust_btc[0] -= sat_a + sat_b;
    E.cust_usdt[0] += e - s;
    E.pos_btc[0] += sat_a; /* delivered: credited */
    E.pos_btc[1] += sat_b;
    /* Proceeds debit the positions; the venues keep their fee from the USDT (10^-8 units
     * rounded up, here exact at 10^-6). */
    E.pos_usdt[0] -= n_a - f_a;
    E.pos_usdt[1] -= n_b - f_b;
    E.fee_usdt[0] += f_a - f_a; /* charged to the customer, then kept by the venue */
    E.fee_usdt[1] += f_b - f_b;
    E.revenue += s;
    check_books();
}

/* A buy beyond the balance: INSUFFICIENT_FUNDS, nothing booked, nothing sent to a venue;
 * the same key again gets the same answer. */
static void test_insufficient_funds(void **state)
{
    (void)state;
    register_and_fund(CUST_B, 1, USDT(100) * 1000000, 2);
    check_books();
    xr_sim_counters before[NVENUES], after[NVENUES];
    for (int v = 0; v < NVENUES; v++)
        xr_sim_get_counters(E.sim, (uint32_t)v, &before[v]);
    xr_engine_event ev = call(order_cmd(CUST_B, 20, XR_ENGINE_BUY, 2000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(ev.u.reject.cmd_kind, XR_ENGINE_CMD_NEW_ORDER);
    ev = call(order_cmd(CUST_B, 20, XR_ENGINE_BUY, 2000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INSUFFICIENT_FUNDS);
    for (int i = 0; i < 50; i++)
        pump_once();
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_get_counters(E.sim, (uint32_t)v, &after[v]);
        assert_int_equal(after[v].orders_new + after[v].orders_rejected,
                         before[v].orders_new + before[v].orders_rejected);
    }
    check_books();
}

/* The buy's key again: the same report (replayed), nothing booked or sent; the same key with
 * other content: IDEMPOTENCY_CONFLICT; unsupported commands say so. */
static void test_idempotent_resend(void **state)
{
    (void)state;
    xr_sim_counters before, after;
    xr_sim_get_counters(E.sim, 0, &before);
    xr_engine_event ev = call(order_cmd(CUST_A, 10, XR_ENGINE_BUY, 2000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.replayed, 1);
    xr_engine_exec_report_ev r = ev.u.report;
    r.replayed = 0;
    assert_memory_equal(&r, &E.buy_report, sizeof r);

    ev = call(order_cmd(CUST_A, 10, XR_ENGINE_BUY, 3000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_IDEMPOTENCY_CONFLICT);

    /* The funding key replays from the ledger itself. */
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_A};
    f.u.fund.key = key_of(1);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USDT");
    f.u.fund.amount.units = USDT(10000) * 1000000;
    ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    assert_int_equal(ev.u.funding.replayed, 1);

    xr_engine_cmd lim = order_cmd(CUST_A, 30, XR_ENGINE_BUY, 1000000);
    lim.u.order.type = XR_ENGINE_LIMIT;
    lim.u.order.limit.ticks = 50000 * E.price_one;
    ev = call(lim);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_SUPPORTED);
    xr_engine_cmd cancel = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    ev = call(cancel);
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_SUPPORTED);
    xr_engine_cmd unknown_bank = {.kind = XR_ENGINE_CMD_BALANCES, .bank_id = 99, .customer_id = 1};
    ev = call(unknown_bank);
    assert_int_equal(ev.u.reject.err, XR_ERR_UNAUTHORIZED);
    xr_engine_cmd unknown_cust = {.kind = XR_ENGINE_CMD_BALANCES, .customer_id = 7};
    ev = call(unknown_cust);
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_FOUND);

    for (int i = 0; i < 50; i++)
        pump_once();
    xr_sim_get_counters(E.sim, 0, &after);
    assert_int_equal(after.orders_new, before.orders_new);
    check_books();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buy),
        cmocka_unit_test(test_sell),
        cmocka_unit_test(test_insufficient_funds),
        cmocka_unit_test(test_idempotent_resend),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
