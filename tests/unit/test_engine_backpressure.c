/*
 * unit.engine_backpressure: a burst of far more orders than the engine's rings, outboxes and
 * order slots hold, through xroute/engine.h, while the simulated venues stay silent; then the
 * venues answer and every order must fill (engine_internal.h, "Back-pressure": no cycle of
 * full ports may stall the pipeline).
 *
 * Regression: with rings of 16 the stages stalled each other in a cycle. The gateway stopped
 * reading every answer while its to_pricing port was full of new orders; pricing could not
 * hand orders to the ledger (its to_ledger port full); the ledger started no batch while its
 * answers to the gateway were still in its outbox. Both engine threads sat in sched_yield
 * with input they could not take (`XR_ENGINE_SCHEDULE=threads` unit.bank_backpressure, 3 of
 * 3), and xroute-bank load at 10,000 orders/s stopped the engine.
 *
 * Two engines: 2 order slots (the router's pool the narrow part), and 64 (many bookings come
 * back at once, so the ledger's answers overflow their ring). Each takes BURST market buys
 * submitted as fast as xr_engine_submit accepts them while the venues are not polled, with a
 * BOOK query after every 8th order (an answer that comes from pricing, not the ledger). Once
 * the engine has taken nothing for 200 ms the venues are polled again.
 *
 * Expected by hand (docs/ledger.md, "Rounding"; venue A's 60000 ask raised to 10 BTC so every
 * buy fills there): a buy of 0.0001 BTC on A at 60000 (60000 x 1.001 = 60060 net beats B's
 * 60010 x 1.002 = 60130.02): N = 6.000000 USDT, F = ceil(6.000000 x 10 / 10^4) = 0.006000,
 * E = 6.006000, S = floor(6.006000 x 150 / 10^4) = 0.090090, paid 6.096090; the venue's fee
 * 10 bps of 10,000 sat = 10 sat.
 */
#include "engine_test_util.h"

#define BURST     600
#define BUY_SAT   10000
#define BUY_PAID  6096090
#define BUY_NOTL  6000000
#define BUY_FEE   6000
#define BUY_SPRD  90090
#define VENUE_FEE 10

static uint32_t slots;

static void open_engine(const char *tmpl, uint32_t orders_max)
{
    et_sim_and_config(tmpl);
    /* The simulated venues' ORDERS limit (50 per 10 s) would spread the burst over minutes:
     * raised before the engine reads it from exchangeInfo (the simulator's own storage). */
    for (uint32_t v = 0; v < NVENUES; v++)
        ((xr_sim_venue_config *)xr_sim_venue_config_of(E.sim, v))->orders_10s = 1000000;
    E.cfg.ring_capacity = 16;
    E.cfg.orders_max = orders_max;
    slots = orders_max;
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true);
    level(0, XR_SIM_ASK, 60000, 1000000); /* 10 BTC */
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks > 0 &&
            ev.u.book.asks[0].qty.units == 1000000000)
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
    et_register_and_fund(CUST_A, 0, USDT(10000000000), 1, true); /* 10,000 USDT */
}

static int setup_2(void **state)
{
    (void)state;
    open_engine("/tmp/xr-engbp2-XXXXXX", 2);
    return 0;
}

static int setup_64(void **state)
{
    (void)state;
    open_engine("/tmp/xr-engbp64-XXXXXX", 64);
    return 0;
}

/* Command i of the burst: of every 9, one a BOOK query (answered by pricing), one a
 * BALANCES query (answered by the ledger), the others orders. */
static bool is_book(int i)
{
    return i % 9 == 8;
}

static bool is_balances(int i)
{
    return i % 9 == 4;
}

static bool is_query(int i)
{
    return is_book(i) || is_balances(i);
}

static xr_engine_cmd burst_cmd(int i)
{
    xr_engine_cmd c;
    if (is_book(i)) {
        memset(&c, 0, sizeof c);
        c.kind = XR_ENGINE_CMD_BOOK;
        snprintf(c.u.market.pair, sizeof c.u.market.pair, "BTC/USDT");
        c.u.market.depth = 1;
    } else if (is_balances(i)) {
        memset(&c, 0, sizeof c);
        c.kind = XR_ENGINE_CMD_BALANCES;
        c.customer_id = CUST_A;
    } else {
        c = order_cmd(CUST_A, 0, XR_ENGINE_BUY, BUY_SAT);
        c.u.order.key.bytes[13] = 0x5B; /* apart from the funding key */
        c.u.order.key.bytes[14] = (uint8_t)(i >> 8);
        c.u.order.key.bytes[15] = (uint8_t)i;
    }
    c.bank_id = BANK;
    c.correlation_id = 100000 + (uint64_t)i;
    return c;
}

static void test_burst_with_silent_venues(void **state)
{
    (void)state;
    static bool seen[BURST];
    memset(seen, 0, sizeof seen);
    int sent = 0, got = 0, orders = 0;
    xr_engine_event ev[16];

    /* Answer checks: every order FILLED with the amounts above, every query a book. */
#define TAKE_EVENTS()                                                                              \
    do {                                                                                           \
        size_t n_ = 0;                                                                             \
        assert_int_equal(xr_engine_poll(E.eng, ev, 16, &n_), XR_OK);                               \
        for (size_t j = 0; j < n_; j++) {                                                          \
            uint64_t k = ev[j].correlation_id - 100000;                                            \
            assert_true(k < BURST && (int)k < sent);                                               \
            assert_false(seen[k]);                                                                 \
            seen[k] = true;                                                                        \
            got++;                                                                                 \
            if (is_query((int)k)) {                                                                \
                assert_int_equal(ev[j].kind,                                                       \
                                 is_book((int)k) ? XR_ENGINE_EV_BOOK : XR_ENGINE_EV_BALANCES);     \
                continue;                                                                          \
            }                                                                                      \
            assert_int_equal(ev[j].kind, XR_ENGINE_EV_EXEC_REPORT);                                \
            const xr_engine_exec_report_ev *r = &ev[j].u.report;                                   \
            assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);                                   \
            assert_true(r->filled.units == BUY_SAT);                                               \
            assert_true(r->notional.units == BUY_NOTL);                                            \
            assert_true(r->fees.units == BUY_FEE);                                                 \
            assert_true(r->spread.units == BUY_SPRD);                                              \
            assert_true(r->quote.units == BUY_PAID);                                               \
            orders++;                                                                              \
        }                                                                                          \
    } while (0)

    /* The venues are silent: submit until the engine has taken nothing for 200 ms. */
    uint64_t t0 = xr_clock_mono_ns(), last = t0, end = t0 + WAIT_NS;
    for (;;) {
        while (sent < BURST) {
            xr_engine_cmd c = burst_cmd(sent);
            xr_err err = xr_engine_submit(E.eng, &c);
            if (err == XR_ERR_AGAIN)
                break;
            assert_int_equal(err, XR_OK);
            sent++;
            last = xr_clock_mono_ns();
        }
        TAKE_EVENTS();
        uint64_t now = xr_clock_mono_ns();
        if (sent == BURST || now - last >= 200 * XR_NS_PER_MS)
            break;
        assert_true(now < end);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    print_message("orders_max %u: taken while the venues were silent: %d of %d\n", slots, sent,
                  BURST);
    assert_true(sent < BURST); /* back-pressure reached xr_engine_submit */

    /* The venues answer: everything submitted and answered, in bounded time. */
    end = xr_clock_mono_ns() + 20ull * XR_NS_PER_SEC;
    while (got < BURST) {
        while (sent < BURST) {
            xr_engine_cmd c = burst_cmd(sent);
            xr_err err = xr_engine_submit(E.eng, &c);
            if (err == XR_ERR_AGAIN)
                break;
            assert_int_equal(err, XR_OK);
            sent++;
        }
        TAKE_EVENTS();
        if (got < BURST) {
            if (xr_clock_mono_ns() >= end)
                fail_msg("stalled: %d of %d sent, %d answered", sent, BURST, got);
            assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
        }
    }
#undef TAKE_EVENTS
    for (int i = 0; i < orders; i++) {
        E.pos_usdt[0] += BUY_NOTL;
        E.fee_usdt[0] += ceil_div((xr_i128)BUY_NOTL * fee_bps[0], 10000);
        E.pos_btc[0] -= BUY_SAT - VENUE_FEE;
        E.fee_btc[0] -= VENUE_FEE;
        E.revenue += BUY_SPRD;
        E.cust_usdt[0] -= BUY_PAID;
        E.cust_btc[0] += BUY_SAT;
    }
    int want = 0;
    for (int i = 0; i < BURST; i++)
        want += !is_query(i);
    assert_int_equal(orders, want);
    check_books();
}

/* Submits `c` (correlation `corr`) and returns its answer, skipping unsolicited reports. */
static xr_engine_event answer_of(xr_engine_cmd c, uint64_t corr)
{
    c.bank_id = BANK;
    c.correlation_id = corr;
    assert_int_equal(xr_engine_submit(E.eng, &c), XR_OK);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev;
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, &ev, 1, &n), XR_OK);
        if (n == 1 && ev.correlation_id == corr)
            return ev;
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
}

static xr_engine_cmd rest_cmd(uint8_t k)
{
    xr_engine_cmd c = order_cmd(CUST_A, k, XR_ENGINE_BUY, BUY_SAT);
    c.u.order.key.bytes[13] = 0x6C;
    c.u.order.type = XR_ENGINE_LIMIT;
    c.u.order.tif = XR_ENGINE_TIF_GTC;
    c.u.order.limit.ticks = 50000 * E.price_one; /* far below the asks: it rests */
    return c;
}

/* Every order slot held by a resting order: a new order is refused XR_ERR_AGAIN (it would
 * wait for a slot that frees only by a cancel, and the cancel queues behind it), the
 * cancel comes through, and then a new order is taken and fills. */
static void test_slots_all_resting(void **state)
{
    (void)state;
    assert_int_equal(slots, 2);
    for (uint8_t k = 1; k <= 2; k++) {
        xr_engine_event ev = answer_of(rest_cmd(k), 200000 + k);
        assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
        assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_OPEN);
    }
    xr_engine_cmd m = order_cmd(CUST_A, 0, XR_ENGINE_BUY, BUY_SAT);
    m.u.order.key.bytes[13] = 0x6D;
    xr_engine_event ev = answer_of(m, 200010);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_AGAIN);

    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    c.u.ref.key = rest_cmd(1).u.order.key;
    ev = answer_of(c, 200020);
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_CANCELLED);
    assert_true(ev.u.report.filled.units == 0);

    /* The same key again (nothing stored for the refused one): taken now, filled. */
    ev = answer_of(m, 200011);
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_true(ev.u.report.quote.units == BUY_PAID);

    c.u.ref.key = rest_cmd(2).u.order.key;
    ev = answer_of(c, 200021);
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_CANCELLED);
}

int main(void)
{
    const struct CMUnitTest slots2[] = {
        cmocka_unit_test(test_burst_with_silent_venues),
        cmocka_unit_test(test_slots_all_resting),
    };
    const struct CMUnitTest slots64[] = {
        cmocka_unit_test(test_burst_with_silent_venues),
    };
    int fails = cmocka_run_group_tests_name("orders_max_2", slots2, setup_2, group_teardown);
    fails += cmocka_run_group_tests_name("orders_max_64", slots64, setup_64, group_teardown);
    return fails;
}
