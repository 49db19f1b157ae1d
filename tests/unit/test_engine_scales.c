/*
 * unit.engine_scales: a pair whose base asset the venue counts finer than the ledger, through
 * xroute/engine.h: USDT/AZN (USDT/6 and AZN/2 in the ledger; the Binance-dialect venue counts
 * both with 8 decimals). The venue driver bridges base quantities (adapters/engine_venues.c,
 * docs/venues.md "Base scales"); before it the engine refused the pair (XR_ERR_CONFIG in
 * stage_pricing.c) and it had no book.
 *
 * Venue A of engine_test_util.h also lists USDTAZN (lot 0.01 USDT, tick 0.0001 AZN, min qty
 * 1 USDT, min notional 1 AZN, the simulator's taker fee 10 bps): asks 2.0000 x 1,000 USDT,
 * bids 1.6000 x 1,000 USDT (round prices: every notional below is exact at AZN/2, so the
 * simulator's balances must equal the ledger's venue positions to the unit).
 *
 * The brief's scenario: fund a customer with 1,000 AZN, buy USDT for 100 AZN at the venue
 * price plus the 1.5% spread. Amounts by hand (docs/ledger.md "Rounding", "Amounts fixed on
 * the quote side"):
 *   1. buy 50 USDT (base): N = 50 x 2 = 100.00 AZN, F = ceil(100.00 x 10 / 10^4) = 0.10,
 *      E = 100.10, S = floor(100.10 x 150 / 10^4) = 1.50, paid 101.60 AZN. The venue's fee,
 *      in USDT: 50 x 0.001 = 0.050000.
 *   2. buy USDT for 100 AZN (quote): budget B = floor(100.00 x 10^4 / 10150) = 98.52; the
 *      largest lot multiple q with q x 2 x 1.001 <= 98.52 is 49.21 USDT (49.22 costs 98.54):
 *      N = 98.42, F = ceil(0.09842) = 0.10, E = 98.52, S = floor(98.52 x 0.015) = 1.47,
 *      paid min(E + S, 100.00) = 99.99 AZN. The venue's fee: 49.21 x 0.001 = 0.049210 USDT.
 *   3. sell 50 USDT (base) at 1.6: N = 80.00, F = ceil(0.08) = 0.08, E = N - F = 79.92,
 *      S = floor(79.92 x 0.015) = 1.19, received 78.73 AZN. The venue keeps 0.08 AZN.
 */
#include "engine_test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include "adapters/sim/engine.h"
#include "core/base/log.h"

#define AZN(x)  ((xr_i128)(x)) /* AZN/2 minor units */
#define U6(x)   ((xr_i128)(x)) /* USDT/6 minor units */
#define CUST    CUST_A
#define ASK_AZN 2     /* whole AZN per USDT */
#define BID_T4  16000 /* 1.6000 AZN in ticks of 0.0001 */

static int sim_pair = -1;
static int azn = -1;
static xr_i128 sim0_usdt, sim0_azn;
static xr_i128 e_cust_azn, e_cust_usdt, e_pos_azn, e_pos_usdt, e_fee_azn, e_fee_usdt, e_rev;

static char log_path[96];
static int log_fd = -1;

static xr_sim_market *azn_market(void)
{
    xr_sim_engine *se = xr_sim_engine_of(E.sim, 0);
    return xr_sim_engine_market(se, (uint32_t)sim_pair);
}

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engscale_XXXXXX");
    snprintf(log_path, sizeof log_path, "%s.log", E.dir);
    log_fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
    assert_true(log_fd >= 0);
    xr_log_set_fd(log_fd);
    xr_sim_pair_config pc;
    char why[128] = "";
    /* Venue B lists USDTEUR with a lot step of 0.0000001 USDT, finer than USDT/6: refused. */
    assert_int_equal(xr_sim_pair_parse("USDTEUR:base=USDT,quote=EUR,mid=0.9,tick=0.0001,"
                                       "step=0.0000001,min_qty=1,min_notional=1,"
                                       "level_qty=20000,depth=20,gap=2",
                                       &pc, why, sizeof why),
                     XR_OK);
    assert_int_equal(xr_sim_engine_add_pair(xr_sim_engine_of(E.sim, 1), &pc, 8,
                                            xr_clock_wall_ns() / 1000000, NULL),
                     XR_OK);
    E.cfg.venues[1].npairs = 2;
    snprintf(E.cfg.venues[1].pairs[1], sizeof E.cfg.venues[1].pairs[1], "USDT/EUR");
    xr_sim_engine *se = xr_sim_engine_of(E.sim, 0);
    assert_int_equal(xr_sim_pair_parse("USDTAZN:base=USDT,quote=AZN,mid=1.8,tick=0.0001,"
                                       "step=0.01,min_qty=1,min_notional=1,level_qty=20000,"
                                       "depth=20,gap=2",
                                       &pc, why, sizeof why),
                     XR_OK);
    uint32_t idx = 0;
    assert_int_equal(xr_sim_engine_add_pair(se, &pc, 7, xr_clock_wall_ns() / 1000000, &idx), XR_OK);
    sim_pair = (int)idx;
    xr_sim_market_clear_synth(azn_market());
    /* 1,000 USDT = 100,000 lots of 0.01 */
    assert_int_equal(xr_sim_market_set_synth(azn_market(), XR_SIM_ASK, ASK_AZN * 10000, 100000),
                     XR_OK);
    assert_int_equal(xr_sim_market_set_synth(azn_market(), XR_SIM_BID, BID_T4, 100000), XR_OK);
    azn = xr_sim_engine_find_asset(se, "AZN");
    assert_true(azn >= 0);
    sim_balance(0, E.usdt[0], &sim0_usdt);
    sim_balance(0, azn, &sim0_azn);
    E.cfg.venues[0].npairs = 2;
    snprintf(E.cfg.venues[0].pairs[1], sizeof E.cfg.venues[0].pairs[1], "USDT/AZN");
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true);
    return 0;
}

static int teardown(void **state)
{
    xr_log_set_fd(2);
    close(log_fd);
    unlink(log_path);
    return group_teardown(state);
}

/* The number of lines of the log that contain both `a` and `b`. */
static int log_count(const char *a, const char *b)
{
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[XR_LOG_LINE_MAX + 2];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, a) != NULL && strstr(line, b) != NULL;
    fclose(f);
    return n;
}

static xr_engine_event azn_book(void)
{
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "USDT/AZN");
    q.u.market.depth = 10;
    return call(q);
}

static void check_azn_books(void)
{
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST, "AZN", e_cust_azn);
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST, "USDT", e_cust_usdt);
    EXPECT_BAL(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, 0, "AZN", e_rev);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 0, "AZN", e_pos_azn);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 0, "USDT", e_pos_usdt);
    EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, 0, "AZN", e_fee_azn);
    EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, 0, "USDT", e_fee_usdt);
    /* The simulator counts in 10^-8: USDT/6 x 100, AZN/2 x 10^6. A holding is minus the
     * position's balance. */
    xr_i128 u, a;
    sim_balance(0, E.usdt[0], &u);
    sim_balance(0, azn, &a);
    if (u - sim0_usdt != -e_pos_usdt * 100 || a - sim0_azn != -e_pos_azn * 1000000)
        fail_msg("simulator USDT %lld AZN %lld, ledger positions USDT %lld AZN %lld",
                 (long long)(u - sim0_usdt), (long long)(a - sim0_azn), (long long)e_pos_usdt,
                 (long long)e_pos_azn);
}

static xr_engine_cmd azn_order(uint8_t k, uint8_t side, uint8_t amount_side, xr_i128 units)
{
    xr_engine_cmd c = order_cmd(CUST, k, side, units);
    snprintf(c.u.order.pair, sizeof c.u.order.pair, "USDT/AZN");
    c.u.order.amount_side = amount_side;
    return c;
}

static const xr_engine_exec_report_ev *filled(const xr_engine_event *ev)
{
    if (ev->kind != XR_ENGINE_EV_EXEC_REPORT)
        fail_msg("kind %d err %s", ev->kind,
                 ev->kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev->u.reject.err) : "-");
    assert_int_equal(ev->u.report.status, XR_ENGINE_ORDER_FILLED);
    return &ev->u.report;
}

static void test_book_at_ledger_scale(void **state)
{
    (void)state;
    /* The venue's 1000.00000000 USDT levels, at USDT/6. */
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    xr_engine_event ev;
    for (;;) {
        ev = azn_book();
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks == 1 && ev.u.book.n_bids == 1)
            break;
        if (getenv("XR_TEST_DEBUG"))
            fprintf(stderr, "azn book: kind %d err %s\n", ev.kind,
                    ev.kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev.u.reject.err) : "-");
        assert_true(xr_clock_mono_ns() < end);
        /* A depth sync starts at the first stream event: touch a far level and take it away
         * again (as et_wait_book does). */
        assert_int_equal(xr_sim_market_set_synth(azn_market(), XR_SIM_BID, 10000, 1), XR_OK);
        assert_int_equal(xr_sim_market_set_synth(azn_market(), XR_SIM_BID, 10000, 0), XR_OK);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
    xr_i128 one = 1;
    for (int i = 0; i < ev.u.book.price_scale; i++)
        one *= 10;
    assert_true(ev.u.book.asks[0].price.ticks == ASK_AZN * one);
    assert_true(ev.u.book.bids[0].price.ticks == BID_T4 * one / 10000);
    assert_true(ev.u.book.asks[0].qty.units == U6(1000000000));
    assert_true(ev.u.book.bids[0].qty.units == U6(1000000000));
}

static void test_fund_buy_sell(void **state)
{
    (void)state;
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = CUST};
    c.u.customer.kyc_tier = 1;
    assert_int_equal(call(c).kind, XR_ENGINE_EV_CUSTOMER);
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST};
    f.u.fund.key = key_of(1);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "AZN");
    f.u.fund.amount.units = AZN(100000); /* 1,000.00 AZN */
    xr_engine_event ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    e_cust_azn = AZN(100000);
    check_azn_books();

    /* 1. buy 50 USDT */
    ev = call(azn_order(0x21, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, U6(50000000)));
    const xr_engine_exec_report_ev *r = filled(&ev);
    assert_true(r->filled.units == U6(50000000));
    assert_true(r->notional.units == AZN(10000));
    assert_true(r->fees.units == AZN(10));
    assert_true(r->spread.units == AZN(150));
    assert_true(r->quote.units == AZN(10160));
    e_cust_azn -= AZN(10160);
    e_cust_usdt += U6(50000000);
    e_rev += AZN(150);
    e_pos_azn += AZN(10000);
    e_fee_azn += AZN(10);
    e_pos_usdt -= U6(50000000) - U6(50000);
    e_fee_usdt -= U6(50000);
    check_azn_books();

    /* 2. buy USDT for 100 AZN */
    ev = call(azn_order(0x22, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_QUOTE, AZN(10000)));
    r = filled(&ev);
    assert_true(r->filled.units == U6(49210000));
    assert_true(r->notional.units == AZN(9842));
    assert_true(r->fees.units == AZN(10));
    assert_true(r->spread.units == AZN(147));
    assert_true(r->quote.units == AZN(9999));
    e_cust_azn -= AZN(9999);
    e_cust_usdt += U6(49210000);
    e_rev += AZN(147);
    e_pos_azn += AZN(9842);
    e_fee_azn += AZN(10);
    e_pos_usdt -= U6(49210000) - U6(49210);
    e_fee_usdt -= U6(49210);
    check_azn_books();

    /* 3. sell 50 USDT */
    ev = call(azn_order(0x23, XR_ENGINE_SELL, XR_ENGINE_AMOUNT_BASE, U6(50000000)));
    r = filled(&ev);
    assert_true(r->filled.units == U6(50000000));
    assert_true(r->notional.units == AZN(8000));
    assert_true(r->fees.units == AZN(8));
    assert_true(r->spread.units == AZN(119));
    assert_true(r->quote.units == AZN(7873));
    e_cust_azn += AZN(7873);
    e_cust_usdt -= U6(50000000);
    e_rev += AZN(119);
    e_pos_usdt += U6(50000000);
    e_pos_azn -= AZN(8000) - AZN(8); /* the venue keeps its fee from the AZN */
    check_azn_books();
    /* In all: 1,000.00 - 101.60 - 99.99 + 78.73 AZN and 49.21 USDT. */
    assert_true(e_cust_azn == AZN(87714) && e_cust_usdt == U6(49210000));
}

/* A lot step finer than the ledger's unit cannot be bridged: the driver refuses the pair with
 * a log naming it and why, once, and the engine never prices or routes it. */
static void test_finer_lot_refused(void **state)
{
    (void)state;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (log_count("ev=venue_pair_scale_refused", "symbol=USDTEUR") == 0) {
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
    assert_int_equal(log_count("ev=venue_pair_scale_refused", "reason=venue_lot_finer_than_ledger"),
                     1);
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "USDT/EUR");
    q.u.market.depth = 10;
    xr_engine_event ev = call(q);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_VENUE_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_book_at_ledger_scale),
        cmocka_unit_test(test_fund_buy_sell),
        cmocka_unit_test(test_finer_lot_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, teardown);
}
