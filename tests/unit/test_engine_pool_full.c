/*
 * unit.engine_pool_full: more orders than the router has order slots (orders_max), submitted
 * at once, through xroute/engine.h against the two in-process simulated venues of
 * engine_test_util.h.
 *
 * Regression: the router peeked the next routed order and, finding its pool full, left the
 * peek open; the next xr_engine_poll peeked again and the ring's assertion (one peek at a
 * time) stopped the process. Found by `xroute-bank load` at 5,000 orders/s against the
 * gateway (perf/e2e). Now the order waits in its ring until a slot frees, and every order
 * fills.
 *
 * Expected amounts by hand (docs/ledger.md, "Rounding"): a buy of 0.0001 BTC fills on venue A
 * at 60000 (60000 x 1.001 = 60060 net beats B's 60010 x 1.002 = 60130.02): N = 6.000000 USDT,
 * F = ceil(6.000000 x 10 / 10^4) = 0.006000, E = 6.006000,
 * S = floor(6.006000 x 150 / 10^4) = 0.090090; the customer pays 6.096090 USDT.
 */
#include "engine_test_util.h"

#define ORDERS   6
#define SLOTS    2
#define BUY_SAT  10000   /* 0.0001 BTC */
#define BUY_PAID 6096090 /* USDT/6 */

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engpool_XXXXXX");
    E.cfg.orders_max = SLOTS;
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true);
    return 0;
}

static void test_more_orders_than_slots(void **state)
{
    (void)state;
    et_register_and_fund(CUST_A, 0, USDT(1000000000), 1, true); /* 1,000 USDT */
    /* All at once: the router can hold SLOTS of them; the rest wait in its ring. */
    uint64_t first_corr = E.corr + 1;
    for (int i = 0; i < ORDERS; i++) {
        xr_engine_cmd c = order_cmd(CUST_A, (uint8_t)(0x40 + i), XR_ENGINE_BUY, BUY_SAT);
        c.bank_id = BANK;
        c.correlation_id = ++E.corr;
        assert_int_equal(xr_engine_submit(E.eng, &c), XR_OK);
    }
    int reports = 0;
    bool seen[ORDERS] = {false};
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (reports < ORDERS) {
        xr_engine_event ev[8];
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 8, &n), XR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ev[i].kind, XR_ENGINE_EV_EXEC_REPORT);
            uint64_t k = ev[i].correlation_id - first_corr;
            assert_true(k < ORDERS && !seen[k]);
            seen[k] = true;
            const xr_engine_exec_report_ev *r = &ev[i].u.report;
            assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
            assert_true(r->filled.units == BUY_SAT);
            assert_true(r->notional.units == 6000000);
            assert_true(r->fees.units == 6000);
            assert_true(r->spread.units == 90090);
            assert_true(r->quote.units == BUY_PAID);
            reports++;
        }
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
    /* Booked once each: the customer paid six times and holds six lots. */
    E.cust_usdt[0] -= (xr_i128)ORDERS * BUY_PAID;
    E.cust_btc[0] += (xr_i128)ORDERS * BUY_SAT;
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "USDT", E.cust_usdt[0]);
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "BTC", E.cust_btc[0]);
    EXPECT_BAL(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, 0, "USDT", (xr_i128)ORDERS * 90090);
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    assert_int_equal(rep.err, XR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_orders_than_slots),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
