/*
 * unit.engine: the embedded engine end to end through xroute/engine.h, against two
 * in-process simulated Binance-dialect venues on loopback with different books and fees.
 *
 * Every expected amount is computed here from the books the test sets, with the rules of
 * docs/ledger.md ("Rounding"), not by calling core/pricing. After every scenario the ledger
 * (opened read-only beside the engine) verifies, every account balance equals the
 * expectation, and each venue position equals what the simulator itself holds.
 */
#include "engine_test_util.h"

static int group_setup(void **state)
{
    (void)state;
    return et_group_setup("/tmp/xr_engine_XXXXXX");
}

/* ---- scenarios ------------------------------------------------------------------------------ */

static void register_and_fund(uint64_t cust, int idx, xr_i128 usdt, uint8_t k)
{
    et_register_and_fund(cust, idx, usdt, k, true);
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
    lim.u.order.type = XR_ENGINE_LIMIT; /* without a limit price */
    ev = call(lim);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT);
    xr_engine_cmd cancel = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    ev = call(cancel);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT); /* all-zero key */
    cancel.u.ref.key = key_of(99);
    ev = call(cancel);
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_FOUND);
    cancel.u.ref.key = key_of(10); /* the buy: final already */
    ev = call(cancel);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_STATE);
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
