/*
 * Harness shared by the engine tests (unit.engine, unit.engine_recovery,
 * unit.engine_failover; included by test_engine*.c, not a test itself; each also runs as
 * unit.<m>.threads with XR_ENGINE_SCHEDULE=threads, see et_schedule_from_env): two in-process
 * simulated Binance-dialect venues on loopback with the books and fees of unit.engine, the
 * embedded engine over them, a read-only view of its ledger, submit/poll helpers, the
 * expected-balance checks and the rounding helpers of docs/ledger.md.
 *
 * Include after <cmocka.h>. Everything is static inline: a test may leave helpers unused.
 */
#ifndef XR_TESTS_ENGINE_TEST_UTIL_H
#define XR_TESTS_ENGINE_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
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
    xr_engine_config cfg; /* the engine's configuration, kept to open it again */
} env;

static env E;

/* ---- driving ------------------------------------------------------------------------------- */

static inline void pump_once(void)
{
    assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
}

/* Submits `c` and waits for its one answer. */
static inline xr_engine_event call(xr_engine_cmd c)
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

static inline xr_engine_key key_of(uint8_t k)
{
    xr_engine_key key;
    memset(&key, 0, sizeof key);
    key.bytes[0] = 0xE1;
    key.bytes[15] = k;
    return key;
}

static inline xr_engine_cmd order_cmd(uint64_t cust, uint8_t k, uint8_t side, xr_i128 base)
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

static inline xr_sim_market *market(int v)
{
    xr_sim_engine *se = xr_sim_engine_of(E.sim, (uint32_t)v);
    int p = xr_sim_engine_find_pair(se, "BTCUSDT", 7);
    assert_true(p >= 0);
    return xr_sim_engine_market(se, (uint32_t)p);
}

/* price in whole USDT (tick 0.01 -> x100 ticks), qty in BTC x 10^5 (step 0.00001 = 1 lot) */
static inline void level(int v, int side, int64_t usdt, int64_t lots)
{
    assert_int_equal(xr_sim_market_set_synth(market(v), side, usdt * 100, lots), XR_OK);
}

static inline void sim_balance(int v, int asset, xr_i128 *total)
{
    xr_i128 f, l;
    xr_sim_engine_balance(xr_sim_engine_of(E.sim, (uint32_t)v), 0, asset, &f, &l);
    *total = f + l;
}

/* ---- the ledger ------------------------------------------------------------------------------ */

static inline xr_i128 balance_of(unsigned kind, uint64_t bank, uint64_t owner, const char *asset,
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
static inline void check_books(void)
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

static inline xr_i128 ceil_div(xr_i128 a, xr_i128 d)
{
    return a >= 0 ? (a + d - 1) / d : -((-a) / d);
}
static inline xr_i128 floor_div(xr_i128 a, xr_i128 d)
{
    return a >= 0 ? a / d : -ceil_div(-a, d);
}
/* Notional in USDT/6 of `sat` (BTC/8) at `usdt` whole USDT: sat x usdt x 10^6 / 10^8. */
static inline xr_i128 notional_exact_e8(int64_t sat, int64_t usdt)
{
    return (xr_i128)sat * usdt * 1000000; /* x 10^-8: divide by 10^8 to get USDT/6 */
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* The schedule under test, from the environment: XR_ENGINE_SCHEDULE=threads runs the stages
 * on engine threads (ctest unit.<m>.threads sets it), unset or "inline" in the thread that
 * polls (unit.<m>). Anything else fails the test. */
static inline void et_schedule_from_env(xr_engine_config *c)
{
    const char *s = getenv("XR_ENGINE_SCHEDULE");
    if (s == NULL || strcmp(s, "inline") == 0)
        c->schedule = XR_ENGINE_SCHEDULE_INLINE;
    else if (strcmp(s, "threads") == 0)
        c->schedule = XR_ENGINE_SCHEDULE_THREADS;
    else
        fail_msg("XR_ENGINE_SCHEDULE=%s: expected inline or threads", s);
}

/* Makes the data directory from `dir_template` (a mkdtemp pattern) and starts the simulator
 * with the books of unit.engine; fills E.cfg for an engine over it (not opened). */
static inline void et_sim_and_config(const char *dir_template)
{
    memset(&E, 0, sizeof E);
    snprintf(E.dir, sizeof E.dir, "%s", dir_template);
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

    xr_engine_config *c = &E.cfg;
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
    et_schedule_from_env(c);
    free(sc);
}

/* Opens the read-only view of the engine's ledger. */
static inline void open_ledger_view(void)
{
    char ldir[128];
    snprintf(ldir, sizeof ldir, "%s/ledger", E.dir);
    xr_ledger_config lc = {.dir = ldir, .read_only = 1};
    assert_int_equal(xr_ledger_open(&lc, &E.ro), XR_OK);
}

/* The consolidated BTC/USDT book, 10 levels deep. */
static inline xr_engine_event book_query(void)
{
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
    q.u.market.depth = 10;
    return call(q);
}

/* Waits until the consolidated book shows `asks` ask levels and both venues' 4 bid levels;
 * sets E.price_one. With `check_top`, also asserts the top levels are the books set above. */
static inline void et_wait_book(int asks, bool check_top)
{
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks == asks && ev.u.book.n_bids == 4) {
            /* prices at the pair's scale: the larger of USDT's 6 and the tick's decimals */
            E.price_one = 1;
            for (int i = 0; i < ev.u.book.price_scale; i++)
                E.price_one *= 10;
            if (check_top) {
                assert_true(ev.u.book.price_scale >= 6);
                assert_true(ev.u.book.asks[0].price.ticks == 60000 * E.price_one);
                assert_true(ev.u.book.asks[0].qty.units == 1000000);
                assert_true(ev.u.book.asks[1].price.ticks == 60010 * E.price_one);
                assert_true(ev.u.book.bids[0].price.ticks == 59950 * E.price_one);
            }
            return;
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
}

/* The group setup of unit.engine and unit.engine_failover: simulator, engine, ledger view,
 * then ready when the consolidated book shows both venues' levels as set. */
static inline int et_group_setup(const char *dir_template)
{
    et_sim_and_config(dir_template);
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true);
    return 0;
}

static inline int group_teardown(void **state)
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

/* ---- scenario helpers -------------------------------------------------------------------------
 */

/* Registers customer `cust` (expectation slot `idx`) and funds it with `usdt` under key `k`.
 * With `check_funding`, also asserts the funding event's amount and that it is not a replay. */
static inline void et_register_and_fund(uint64_t cust, int idx, xr_i128 usdt, uint8_t k,
                                        bool check_funding)
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
    if (check_funding) {
        assert_true(ev.u.funding.amount.units == usdt);
        assert_int_equal(ev.u.funding.replayed, 0);
    }
    E.registered[idx] = true;
    E.cust_usdt[idx] += usdt;
    E.funding -= usdt;
}

#endif /* XR_TESTS_ENGINE_TEST_UTIL_H */
