/*
 * unit.engine_failover: failover through xroute/engine.h (DESIGN.md section 2, step 5),
 * against two in-process simulated Binance-dialect venues: A (10 bps) and B (20 bps).
 *
 * A child refused by its venue (the simulator's reject fault), answered 503 (unknown outcome,
 * resolved by query), aimed at a venue that is down, or that came back short (its venue had
 * less inside the limit than the engine's book said)
 * re-routes the remainder to the other venue inside the original slippage bound; when no
 * venue is left the rest fails with INSUFFICIENT_LIQUIDITY and what filled is booked.
 *
 * Every expected amount is computed here from the books the test sets, with the rules of
 * docs/ledger.md ("Rounding"), not by calling core/pricing. After every scenario the ledger
 * verifies, every account balance equals the expectation, each venue position equals what
 * the simulator holds, and no client order id reached a venue twice.
 */
#include "engine_test_util.h"

static int group_setup(void **state)
{
    (void)state;
    return et_group_setup("/tmp/xr_engfail_XXXXXX");
}

/* ---- helpers of this file ------------------------------------------------------------------ */

static void fault_ex(int v, uint8_t kind, uint32_t ms, uint32_t count, bool after_exec)
{
    xr_sim_fault f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.ms = ms;
    f.count = count;
    f.status = 503;
    f.after_exec = after_exec;
    f.code = -2010;
    snprintf(f.msg, sizeof f.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(xr_sim_apply_fault(E.sim, (uint32_t)v, &f), XR_OK);
}

static void fault(int v, uint8_t kind, uint32_t ms, uint32_t count)
{
    fault_ex(v, kind, ms, count, false);
}

/* Both venues' books: asks (whole USDT, lots of 0.00001 BTC) and one marker bid each that
 * differs per scenario, so the engine is known to have seen this very book. */
static void set_books(int64_t a_px, int64_t a_lots, int64_t b_px, int64_t b_lots, int64_t marker)
{
    for (int v = 0; v < NVENUES; v++) {
        fault(v, XR_SIM_FAULT_CLEAR, 0, 0);
        xr_sim_market_clear_synth(market(v));
    }
    level(0, XR_SIM_ASK, a_px, a_lots);
    level(1, XR_SIM_ASK, b_px, b_lots);
    level(0, XR_SIM_BID, marker, 100);
    level(1, XR_SIM_BID, marker - 1, 100);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        const xr_engine_book_ev *b = &ev.u.book;
        if (ev.kind == XR_ENGINE_EV_BOOK && b->n_asks == 2 && b->n_bids == 2 &&
            b->asks[0].price.ticks == a_px * E.price_one && b->asks[0].qty.units == a_lots * 1000 &&
            b->asks[1].price.ticks == b_px * E.price_one && b->asks[1].qty.units == b_lots * 1000 &&
            b->bids[0].price.ticks == marker * E.price_one &&
            b->bids[1].price.ticks == (marker - 1) * E.price_one)
            return;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 5; i++)
            pump_once();
    }
}

/* Runs the engine and the simulator for a while without a command. */
static void idle(int rounds)
{
    xr_engine_event ev[4];
    for (int i = 0; i < rounds; i++) {
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 4, &n), XR_OK);
        assert_int_equal(n, 0);
        pump_once();
    }
}

/* Every client order id that reached a venue is there once, over both venues and the run. */
static void check_client_ids(void)
{
    static char seen[256][XR_SIM_CLIENT_ID_MAX + 1];
    size_t n = 0;
    for (int v = 0; v < NVENUES; v++) {
        const xr_sim_engine *se = xr_sim_engine_of(E.sim, (uint32_t)v);
        for (uint64_t id = 1; id <= xr_sim_engine_order_count(se); id++) {
            const xr_sim_order *o = xr_sim_engine_order(se, id);
            assert_non_null(o);
            for (size_t k = 0; k < n; k++)
                if (strcmp(seen[k], o->client_id) == 0)
                    fail_msg("client order id %s sent twice", o->client_id);
            assert_true(n < 256);
            snprintf(seen[n++], sizeof seen[0], "%s", o->client_id);
        }
    }
}

/* The stored children of order `k`: their venues, filled amounts and distinct client ids. */
static void check_children(uint8_t k, int n, const int *venue, const int64_t *filled)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_A};
    c.u.ref.key = key_of(k);
    xr_engine_event ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
    const xr_engine_order_ev *o = &ev.u.order;
    assert_int_equal(o->n_children, n);
    for (int i = 0; i < n; i++) {
        const xr_engine_child *ch = &o->children[i];
        assert_int_equal(ch->venue, venue[i]);
        assert_true(ch->filled.units == filled[i]);
        assert_true(ch->done);
        /* A child that came back short went to no venue or was refused, or its IOC ended. */
        if (ch->filled.units < ch->qty.units && ch->err == XR_OK)
            assert_true(ch->filled.units > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ch->client_order_id, o->children[j].client_order_id);
        char want[16];
        snprintf(want, sizeof want, "-%d", i); /* the leg index continues */
        assert_string_equal(ch->client_order_id + strlen(ch->client_order_id) - 2, want);
    }
}

/* A buy of `sat` filled on venue v at `usdt`: the expectations of every account. */
typedef struct fill_exp {
    int v;
    int64_t sat, usdt;
} fill_exp;

static xr_i128 expect_buy(const fill_exp *f, int n, xr_i128 *notional, xr_i128 *fees)
{
    xr_i128 e = 0;
    *notional = *fees = 0;
    for (int i = 0; i < n; i++) {
        xr_i128 nn = ceil_div(notional_exact_e8(f[i].sat, f[i].usdt), U8);
        xr_i128 ff = ceil_div(nn * fee_bps[f[i].v], 10000);
        e += nn + ff;
        *notional += nn;
        *fees += ff;
        E.pos_usdt[f[i].v] += nn;
        E.fee_usdt[f[i].v] += ff;
        xr_i128 vf = ceil_div((xr_i128)f[i].sat * fee_bps[f[i].v], 10000);
        E.pos_btc[f[i].v] -= f[i].sat - vf;
        E.fee_btc[f[i].v] -= vf;
        E.cust_btc[0] += f[i].sat;
    }
    xr_i128 s = floor_div(e * SPREAD, 10000);
    E.cust_usdt[0] -= e + s;
    E.revenue += s;
    return e + s;
}

static const xr_engine_exec_report_ev *order_report(xr_engine_event *ev)
{
    if (ev->kind == XR_ENGINE_EV_REJECT)
        fail_msg("order rejected: %s", xr_err_name(ev->u.reject.err));
    assert_int_equal(ev->kind, XR_ENGINE_EV_EXEC_REPORT);
    return &ev->u.report;
}

static void register_and_fund(uint64_t cust, int idx, xr_i128 usdt, uint8_t k)
{
    et_register_and_fund(cust, idx, usdt, k, true);
}

/* ---- scenarios ------------------------------------------------------------------------------ */

/* A rejects its child (the reject fault): the whole 0.01 BTC fills on B at 60010, inside the
 * bound (A's 60000 + 50 bps = 60300; B's ask is below it). */
static void test_reject_then_b(void **state)
{
    (void)state;
    register_and_fund(CUST_A, 0, USDT(20000) * 1000000, 1);
    set_books(60000, 2000, 60010, 2000, 50001);
    check_books();
    fault(0, XR_SIM_FAULT_REJECT, 0, 1);
    xr_sim_counters a0, a1;
    xr_sim_get_counters(E.sim, 0, &a0);
    xr_engine_event ev = call(order_cmd(CUST_A, 10, XR_ENGINE_BUY, 1000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{1, 1000000, 60010}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 1, &n, &fe);
    assert_true(n == USDT(600100000) && fe == USDT(1200200));
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_int_equal(r->err, XR_OK);
    assert_true(r->filled.units == 1000000);
    assert_true(r->notional.units == n && r->fees.units == fe);
    assert_true(r->quote.units == paid);
    assert_int_equal(r->venues, 1);
    xr_sim_get_counters(E.sim, 0, &a1);
    assert_true(a1.orders_rejected == a0.orders_rejected + 1); /* A saw it, and refused */
    assert_true(a1.orders_new == a0.orders_new);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {0, 1000000};
    check_children(10, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A fills only part of its child: its feed is frozen (the stale fault), then half of its ask
 * is taken away, so the engine plans 0.02 on A where only 0.01 is left. A's IOC comes back
 * short and the remainder, 0.01, fills on B. */
static void test_partial_then_b(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50002);
    fault(0, XR_SIM_FAULT_STALE, 0, 0);
    idle(10);
    level(0, XR_SIM_ASK, 60000, 1000);
    idle(10);
    xr_engine_event ev = call(order_cmd(CUST_A, 11, XR_ENGINE_BUY, 2000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{0, 1000000, 60000}, {1, 1000000, 60010}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 2, &n, &fe);
    assert_true(n == USDT(1200100000) && fe == USDT(1800200));
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == 2000000);
    assert_true(r->notional.units == n && r->fees.units == fe && r->quote.units == paid);
    assert_int_equal(r->venues, 2);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {1000000, 1000000};
    check_children(11, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A answers 503 without executing (unavailable): the outcome is unknown, so the engine asks
 * A by client order id; "does not exist" fails the child and the order fills on B. */
static void test_unavailable_then_b(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50006);
    fault_ex(0, XR_SIM_FAULT_HTTP_5XX, 0, 1, false);
    xr_engine_event ev = call(order_cmd(CUST_A, 15, XR_ENGINE_BUY, 1000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{1, 1000000, 60010}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 1, &n, &fe);
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == 1000000);
    assert_true(r->notional.units == n && r->fees.units == fe && r->quote.units == paid);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {0, 1000000};
    check_children(15, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A partially fills, then becomes unavailable: it executes 0.01 of its 0.02 (its book was
 * thinner than the engine saw, as above) and its answer is lost (503 after execution). The
 * engine asks A by client order id, takes its 0.01, and the remainder fills on B. */
static void test_partial_unavailable_then_b(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50007);
    fault(0, XR_SIM_FAULT_STALE, 0, 0);
    idle(10);
    level(0, XR_SIM_ASK, 60000, 1000);
    idle(10);
    fault_ex(0, XR_SIM_FAULT_HTTP_5XX, 0, 1, true);
    xr_engine_event ev = call(order_cmd(CUST_A, 16, XR_ENGINE_BUY, 2000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{0, 1000000, 60000}, {1, 1000000, 60010}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 2, &n, &fe);
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == 2000000);
    assert_true(r->notional.units == n && r->fees.units == fe && r->quote.units == paid);
    xr_sim_counters a;
    xr_sim_get_counters(E.sim, 0, &a);
    assert_true(a.http_5xx >= 1);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {1000000, 1000000};
    check_children(16, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* Both refuse: 0.03 BTC is planned 0.02 on A and 0.01 on B; A has only 0.01 left (as above)
 * and B rejects. No venue is left: INSUFFICIENT_LIQUIDITY, A's 0.01 is booked, the rest of
 * the reservation released. */
static void test_both_refuse_partial(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50003);
    fault(0, XR_SIM_FAULT_STALE, 0, 0);
    idle(10);
    level(0, XR_SIM_ASK, 60000, 1000);
    idle(10);
    fault(1, XR_SIM_FAULT_REJECT, 0, 1);
    xr_engine_event ev = call(order_cmd(CUST_A, 12, XR_ENGINE_BUY, 3000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{0, 1000000, 60000}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 1, &n, &fe);
    assert_true(n == USDT(600000000) && fe == USDT(600000));
    assert_int_equal(r->status, XR_ENGINE_ORDER_FAILED);
    assert_int_equal(r->err, XR_ERR_INSUFFICIENT_LIQUIDITY);
    assert_true(r->filled.units == 1000000);
    assert_true(r->notional.units == n && r->fees.units == fe && r->quote.units == paid);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {1000000, 0};
    check_children(12, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A rejects, the remainder goes to B, B rejects too: nothing filled, nothing booked (the
 * reservation is voided), INSUFFICIENT_LIQUIDITY. */
static void test_both_reject(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50004);
    fault(0, XR_SIM_FAULT_REJECT, 0, 1);
    fault(1, XR_SIM_FAULT_REJECT, 0, 1);
    xr_engine_event ev = call(order_cmd(CUST_A, 13, XR_ENGINE_BUY, 1000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    assert_int_equal(r->status, XR_ENGINE_ORDER_FAILED);
    assert_int_equal(r->err, XR_ERR_INSUFFICIENT_LIQUIDITY);
    assert_true(r->filled.units == 0 && r->quote.units == 0);
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {0, 0};
    check_children(13, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A sell: A (best net bid: 59900 less 10 bps beats 59950 less 20 bps) rejects, the whole
 * 0.005 BTC is sold on B at 59950, above the bound (59900 - 50 bps). */
static void test_sell_reject_then_b(void **state)
{
    (void)state;
    for (int v = 0; v < NVENUES; v++) {
        fault(v, XR_SIM_FAULT_CLEAR, 0, 0);
        xr_sim_market_clear_synth(market(v));
    }
    level(0, XR_SIM_BID, 59900, 1000);
    level(1, XR_SIM_BID, 59950, 1000);
    level(0, XR_SIM_ASK, 70001, 100);
    level(1, XR_SIM_ASK, 70002, 100);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        const xr_engine_book_ev *b = &ev.u.book;
        if (ev.kind == XR_ENGINE_EV_BOOK && b->n_asks == 2 && b->n_bids == 2 &&
            b->bids[0].price.ticks == 59950 * E.price_one &&
            b->bids[1].price.ticks == 59900 * E.price_one &&
            b->asks[0].price.ticks == 70001 * E.price_one &&
            b->asks[1].price.ticks == 70002 * E.price_one)
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 5; i++)
            pump_once();
    }
    fault(0, XR_SIM_FAULT_REJECT, 0, 1);
    const int64_t sat = 500000;
    xr_engine_event ev = call(order_cmd(CUST_A, 17, XR_ENGINE_SELL, sat));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    xr_i128 n_b = floor_div(notional_exact_e8(sat, 59950), U8);
    xr_i128 f_b = ceil_div(n_b * fee_bps[1], 10000);
    xr_i128 e = n_b - f_b;
    xr_i128 sp = floor_div(e * SPREAD, 10000);
    assert_true(n_b == USDT(299750000) && f_b == USDT(599500) && sp == USDT(4487257));
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == sat);
    assert_true(r->notional.units == n_b && r->fees.units == f_b && r->spread.units == sp);
    assert_true(r->quote.units == e - sp);
    E.cust_btc[0] -= sat;
    E.cust_usdt[0] += e - sp;
    E.pos_btc[1] += sat;
    E.pos_usdt[1] -= n_b - f_b; /* the venue keeps its fee from the USDT it pays */
    E.revenue += sp;
    static const int venue[] = {0, 1};
    static const int64_t filled[] = {0, sat};
    check_children(17, 2, venue, filled);
    check_books();
    check_client_ids();
}

/* A is down (every connection reset): its child cannot be sent, the order fills on B. Last:
 * A stays down. */
static void test_down_then_b(void **state)
{
    (void)state;
    set_books(60000, 2000, 60010, 2000, 50005);
    fault(0, XR_SIM_FAULT_DOWN, 60000, 0);
    idle(50);
    xr_sim_counters a0, a1;
    xr_sim_get_counters(E.sim, 0, &a0);
    xr_engine_event ev = call(order_cmd(CUST_A, 14, XR_ENGINE_BUY, 1000000));
    const xr_engine_exec_report_ev *r = order_report(&ev);
    fill_exp f[] = {{1, 1000000, 60010}};
    xr_i128 n, fe;
    xr_i128 paid = expect_buy(f, 1, &n, &fe);
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == 1000000);
    assert_true(r->notional.units == n && r->fees.units == fe && r->quote.units == paid);
    xr_sim_get_counters(E.sim, 0, &a1);
    assert_true(a1.orders_new + a1.orders_rejected == a0.orders_new + a0.orders_rejected);
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_A};
    c.u.ref.key = key_of(14);
    ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
    /* Either A's book was still priced (its child failed: VENUE_UNAVAILABLE) or not. */
    const xr_engine_order_ev *o = &ev.u.order;
    assert_true(o->n_children >= 1);
    if (getenv("XR_TEST_DEBUG"))
        fprintf(stderr, "down: %u children, first err %s\n", (unsigned)o->n_children,
                xr_err_name(o->children[0].err));
    assert_int_equal(o->children[o->n_children - 1].venue, 1);
    if (o->n_children == 2)
        assert_int_equal(o->children[0].err, XR_ERR_VENUE_UNAVAILABLE);
    check_books();
    check_client_ids();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reject_then_b),
        cmocka_unit_test(test_unavailable_then_b),
        cmocka_unit_test(test_partial_then_b),
        cmocka_unit_test(test_partial_unavailable_then_b),
        cmocka_unit_test(test_both_refuse_partial),
        cmocka_unit_test(test_both_reject),
        cmocka_unit_test(test_sell_reject_then_b),
        cmocka_unit_test(test_down_then_b),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
