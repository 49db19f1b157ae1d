/*
 * unit.engine_recovery: "nothing lost, nothing doubled" through xroute/engine.h. The engine is
 * closed while an order's children are in flight (venue A executes its child and loses the
 * answer: the simulator's 5xx-after-execution fault), then opened again over the same data
 * directory: the order is reconciled with both venues by client order id before any new
 * order is accepted, booked exactly once, and the ledger, every balance and the simulator's
 * own balances agree with expectations computed here. Then: the customer directory and the
 * order keys survive a restart (a resend replays the stored report and books nothing), and
 * ORDER_STATUS / LIST_ORDERS read the order store.
 */
#include "engine_test_util.h"

/* Opens the engine and waits until the consolidated book shows `asks` ask levels. */
static void engine_open(int asks)
{
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    et_wait_book(asks, false);
}

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engine_rec_XXXXXX");
    engine_open(4);
    open_ledger_view();
    return 0;
}

static void register_and_fund(uint64_t cust, int idx, xr_i128 usdt, uint8_t k)
{
    et_register_and_fund(cust, idx, usdt, k, false);
}

static xr_engine_event status_of(uint8_t k)
{
    xr_engine_cmd s = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_A};
    s.u.ref.key = key_of(k);
    return call(s);
}

/* Expectations of a buy of `sat` on venue v at `usdt`, one fill. */
static void expect_buy_leg(int v, int64_t sat, int64_t usdt, xr_i128 *e)
{
    xr_i128 n = ceil_div(notional_exact_e8(sat, usdt), U8);
    xr_i128 f = ceil_div(n * fee_bps[v], 10000);
    xr_i128 vf = ceil_div((xr_i128)sat * fee_bps[v], 10000);
    *e += n + f;
    E.pos_usdt[v] += n;
    E.fee_usdt[v] += f;
    E.pos_btc[v] -= sat - vf;
    E.fee_btc[v] -= vf;
}

static xr_engine_exec_report_ev recovered_report;

/* Close while venue A's child has executed and its answer is lost (5xx after execution) and
 * venue B's child has executed: reopen, reconcile, book once. */
static void test_restart_in_flight(void **state)
{
    (void)state;
    register_and_fund(CUST_A, 0, USDT(10000) * 1000000, 1);
    check_books();
    xr_sim_fault f = {.kind = XR_SIM_FAULT_HTTP_5XX, .count = 1, .status = 503, .after_exec = true};
    assert_int_equal(xr_sim_apply_fault(E.sim, 0, &f), XR_OK);
    xr_sim_counters c0[NVENUES], c1[NVENUES];
    for (int v = 0; v < NVENUES; v++)
        xr_sim_get_counters(E.sim, (uint32_t)v, &c0[v]);

    xr_engine_cmd o = order_cmd(CUST_A, 11, XR_ENGINE_BUY, 2000000);
    o.bank_id = BANK;
    o.correlation_id = ++E.corr;
    assert_int_equal(xr_engine_submit(E.eng, &o), XR_OK);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev[4];
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 4, &n), XR_OK);
        assert_int_equal(n, 0); /* the report cannot come: A's answer is lost */
        assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
        xr_sim_get_counters(E.sim, 0, &c1[0]);
        xr_sim_get_counters(E.sim, 1, &c1[1]);
        if (c1[0].http_5xx > c0[0].http_5xx && c1[1].orders_new > c0[1].orders_new)
            break; /* both children executed at their venues; A's answer was a 503 */
        assert_true(xr_clock_mono_ns() < end);
    }
    /* "Crash": the engine stops here, with a durable reservation and two children whose
     * outcome it does not know. */
    xr_engine_close(E.eng);
    E.eng = NULL;
    xr_i128 reserved = 0;
    (void)balance_of(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "USDT", &reserved);
    assert_true(reserved > 0);

    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    /* Reconciliation runs first: a new order is refused with AGAIN, the resend of the
     * order being reconciled too; its status is the stored one (OPEN); other commands work
     * (the customer directory was rebuilt: no re-registration). */
    xr_engine_event ev = call(order_cmd(CUST_A, 12, XR_ENGINE_BUY, 1000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_AGAIN);
    ev = call(order_cmd(CUST_A, 11, XR_ENGINE_BUY, 2000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_AGAIN);
    ev = status_of(11);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
    if (ev.u.order.report.status != XR_ENGINE_ORDER_FILLED) {
        assert_int_equal(ev.u.order.report.status, XR_ENGINE_ORDER_OPEN);
        assert_int_equal(ev.u.order.n_children, 2);
    }
    xr_engine_cmd b = {.kind = XR_ENGINE_CMD_BALANCES, .customer_id = CUST_A};
    ev = call(b);
    assert_int_equal(ev.kind, XR_ENGINE_EV_BALANCES);

    end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        ev = status_of(11);
        assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
        if (ev.u.order.report.status != XR_ENGINE_ORDER_OPEN)
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 10; i++)
            pump_once();
    }
    const xr_engine_order_ev *st = &ev.u.order;
    assert_int_equal(st->report.status, XR_ENGINE_ORDER_FILLED);
    assert_true(st->report.filled.units == 2000000);
    assert_int_equal(st->report.venues, 2);
    assert_int_equal(st->n_children, 2);
    xr_i128 e = 0;
    expect_buy_leg(0, 1000000, 60000, &e);
    expect_buy_leg(1, 1000000, 60010, &e);
    xr_i128 s = floor_div(e * SPREAD, 10000);
    assert_true(st->report.quote.units == e + s);
    assert_true(st->report.spread.units == s);
    for (int i = 0; i < 2; i++) {
        assert_true(st->children[i].filled.units == 1000000);
        assert_int_equal(st->children[i].done, 1);
        assert_int_equal(strlen(st->children[i].client_order_id), 35);
    }
    E.cust_usdt[0] -= e + s;
    E.cust_btc[0] += 2000000;
    E.revenue += s;
    recovered_report = st->report;
    /* Nothing was sent again: the venues saw one order each. */
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_get_counters(E.sim, (uint32_t)v, &c1[v]);
        assert_int_equal(c1[v].orders_new, c0[v].orders_new + 1);
    }
    check_books(); /* also: no reservation left (reserved == 0 on every account) */
}

/* Restart with nothing in flight: keys and customers come back from the store. */
static void test_restart_replay(void **state)
{
    (void)state;
    xr_engine_close(E.eng);
    E.eng = NULL;
    engine_open(3);
    xr_sim_counters c0, c1;
    xr_sim_get_counters(E.sim, 0, &c0);
    xr_engine_event ev = call(order_cmd(CUST_A, 11, XR_ENGINE_BUY, 2000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.replayed, 1);
    xr_engine_exec_report_ev r = ev.u.report;
    r.replayed = 0;
    assert_memory_equal(&r, &recovered_report, sizeof r);
    ev = call(order_cmd(CUST_A, 11, XR_ENGINE_BUY, 3000000));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_IDEMPOTENCY_CONFLICT);
    for (int i = 0; i < 20; i++)
        pump_once();
    xr_sim_get_counters(E.sim, 0, &c1);
    assert_int_equal(c1.orders_new, c0.orders_new);
    check_books();

    /* A new order after the restart: B 60010 x 0.01 is the best net ask (60130.02 against A's
     * 60200 x 1.001 = 60260.2). */
    ev = call(order_cmd(CUST_A, 12, XR_ENGINE_BUY, 1000000));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("buy rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    xr_i128 e = 0;
    expect_buy_leg(1, 1000000, 60010, &e);
    xr_i128 s = floor_div(e * SPREAD, 10000);
    assert_true(ev.u.report.quote.units == e + s);
    E.cust_usdt[0] -= e + s;
    E.cust_btc[0] += 1000000;
    E.revenue += s;
    check_books();

    /* LIST_ORDERS: newest first, one per page. */
    xr_engine_cmd l = {.kind = XR_ENGINE_CMD_LIST_ORDERS, .customer_id = CUST_A};
    l.u.list.limit = 1;
    ev = call(l);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER_LIST);
    assert_int_equal(ev.u.order_list.n, 1);
    assert_int_equal(ev.u.order_list.items[0].report.key.bytes[15], 12);
    assert_true(ev.u.order_list.next_cursor != 0);
    l.u.list.cursor = ev.u.order_list.next_cursor;
    ev = call(l);
    assert_int_equal(ev.u.order_list.n, 1);
    assert_int_equal(ev.u.order_list.items[0].report.key.bytes[15], 11);
    assert_int_equal(ev.u.order_list.items[0].report.status, XR_ENGINE_ORDER_FILLED);
    l.u.list.cursor = ev.u.order_list.next_cursor;
    ev = call(l);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER_LIST);
    assert_int_equal(ev.u.order_list.n, 0);
    assert_true(ev.u.order_list.next_cursor == 0);
    /* Filters: FAILED orders of this customer: none; all orders: both. */
    memset(&l.u.list, 0, sizeof l.u.list);
    l.u.list.status_mask = 1u << XR_ENGINE_ORDER_FAILED;
    ev = call(l);
    assert_int_equal(ev.u.order_list.n, 0);
    l.u.list.status_mask = 0;
    ev = call(l);
    assert_int_equal(ev.u.order_list.n, 2);
    /* Another customer's key is not found. */
    xr_engine_cmd s2 = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_B};
    s2.u.ref.key = key_of(11);
    register_and_fund(CUST_B, 1, USDT(100) * 1000000, 2);
    ev = call(s2);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_FOUND);
    check_books();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_in_flight),
        cmocka_unit_test(test_restart_replay),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
