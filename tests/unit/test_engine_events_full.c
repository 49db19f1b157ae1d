/*
 * unit.engine_events_full: many concurrent orders, each filled by many executions, through
 * small engine rings (ring_capacity 16), against the two in-process simulated venues of
 * engine_test_util.h.
 *
 * Regression: the venue driver (adapters/engine_venues.c) queued the child events the router's
 * ring could not take in a fixed queue of 256 and dropped what did not fit
 * (ev=venue_event_dropped): an order whose fills were dropped ended short (or never ended)
 * although the venue had filled it, and the venue's position no longer matched the ledger.
 * Found by `xroute-bank load` at >= 1,000 orders/s (perf/e2e). Now every child holds its
 * events in its own record until the ring has room (executions summed exactly when they
 * cannot pass one by one), and the driver takes a child order only when a record is free:
 * nothing is dropped, nothing doubled.
 *
 * The book: venue A's best ask is ORDERS x FILLS resting sell orders of 0.0001 BTC at 60000
 * from MAKERS other (maker) accounts of the simulator, so each buy of FILLS x 0.0001 BTC fills in
 * FILLS executions, all at 60000, whichever order reaches the venue first; every other ask
 * (A 62000, B 61000) is beyond the slippage limit 60000 x 1.005 = 60300 (B at 61000 x 1.002
 * is worse too). The venue reports each execution twice (the REST answer, FULL, and the user
 * stream): ORDERS x (2 x FILLS + 2) = 2,020 child events, 202 per order, arriving faster than
 * the router takes them through a ring of 16 (the old queue of 256 overflowed).
 *
 * Expected amounts by hand (docs/ledger.md, "Rounding"), per order of 0.01 BTC:
 * N = 0.01 x 60000 = 600.000000 USDT, F = ceil(600.000000 x 10 / 10^4) = 0.600000,
 * E = 600.600000, S = floor(600.600000 x 150 / 10^4) = 9.009000; the customer pays
 * 609.609000. The venue's fee: 10 bps of each 0.0001 BTC execution = 10 sat; 1,000 sat per
 * order.
 */
#include "engine_test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include "adapters/sim/engine.h"
#include "core/base/log.h"

#define ORDERS    10
#define FILLS     100
#define MAKERS    5     /* ORDERS x FILLS resting orders, at most 200 per simulator account */
#define LOT_SAT   10000 /* each resting order: 0.0001 BTC */
#define BUY_SAT   (FILLS * LOT_SAT)
#define BUY_PAID  609609000 /* USDT/6 */
#define BUY_NOTL  600000000
#define BUY_FEE   600000
#define BUY_SPRD  9009000
#define VENUE_FEE 1000 /* sat */

static char log_path[96];
static int log_fd = -1;

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engevq_XXXXXX");
    E.cfg.ring_capacity = 16;
    snprintf(log_path, sizeof log_path, "%s.log", E.dir);
    log_fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
    assert_true(log_fd >= 0);
    xr_log_set_fd(log_fd);
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

/* The number of lines of the log that contain `needle`. */
static int log_count(const char *needle)
{
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[XR_LOG_LINE_MAX + 2];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* Venue A's asks: ORDERS x FILLS resting sells of LOT_SAT at 60000 (maker accounts), then
 * 62000; venue B's: 61000. Waits until the engine's consolidated book shows them. */
static void many_makers(void)
{
    xr_sim_engine *se = xr_sim_engine_of(E.sim, 0);
    uint32_t maker[MAKERS];
    for (int m = 0; m < MAKERS; m++) {
        char key[32];
        snprintf(key, sizeof key, "maker-evq-%d", m);
        assert_int_equal(xr_sim_engine_add_account(se, key, "maker-secret", 12, &maker[m]), XR_OK);
        assert_int_equal(xr_sim_engine_set_balance(se, maker[m], E.btc[0], (xr_i128)U8), XR_OK);
    }
    level(0, XR_SIM_ASK, 60000, 0);
    level(0, XR_SIM_ASK, 60200, 0);
    level(0, XR_SIM_ASK, 62000, 5000);
    level(1, XR_SIM_ASK, 60010, 0);
    level(1, XR_SIM_ASK, 60300, 0);
    level(1, XR_SIM_ASK, 61000, 5000);
    int pair = xr_sim_engine_find_pair(se, "BTCUSDT", 7);
    assert_true(pair >= 0);
    for (int i = 0; i < ORDERS * FILLS; i++) {
        xr_sim_order_req r = {.pair = (uint32_t)pair,
                              .side = XR_SIM_SIDE_SELL,
                              .type = XR_SIM_TYPE_LIMIT,
                              .tif = XR_SIM_TIF_GTC,
                              .price = 60000 * U8,
                              .qty = LOT_SAT};
        const xr_sim_order *o = NULL;
        size_t nf = 0;
        xr_sim_reject rej;
        xr_err err = xr_sim_engine_new_order(se, maker[i % MAKERS], &r,
                                             xr_clock_wall_ns() / 1000000, &o, NULL, 0, &nf, &rej);
        if (err != XR_OK)
            fail_msg("maker order %d: %s (%d %s)", i, xr_err_name(err), rej.code, rej.msg);
        assert_int_equal(nf, 0);
    }
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks >= 3 &&
            ev.u.book.asks[0].price.ticks == 60000 * E.price_one &&
            ev.u.book.asks[0].qty.units == (xr_i128)ORDERS * BUY_SAT &&
            ev.u.book.asks[1].price.ticks == 61000 * E.price_one &&
            ev.u.book.asks[2].price.ticks == 62000 * E.price_one)
            return;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
}

static void test_every_fill_arrives(void **state)
{
    (void)state;
    et_register_and_fund(CUST_A, 0, USDT(7000000000), 1, true); /* 7,000 USDT */
    many_makers();
    xr_i128 sim_btc0;
    sim_balance(0, E.btc[0], &sim_btc0);
    /* All at once (the gateway's ring of 16 takes them as fast as the engine drains it). */
    uint64_t first_corr = E.corr + 1;
    int submitted = 0, reports = 0;
    bool seen[ORDERS] = {false};
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (reports < ORDERS) {
        while (submitted < ORDERS) {
            xr_engine_cmd c =
                order_cmd(CUST_A, (uint8_t)(0x40 + submitted), XR_ENGINE_BUY, BUY_SAT);
            c.bank_id = BANK;
            c.correlation_id = first_corr + (uint64_t)submitted;
            xr_err err = xr_engine_submit(E.eng, &c);
            if (err == XR_ERR_AGAIN)
                break;
            assert_int_equal(err, XR_OK);
            submitted++;
        }
        xr_engine_event ev[8];
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 8, &n), XR_OK);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = ev[i].correlation_id - first_corr;
            assert_true(k < ORDERS && !seen[k]);
            seen[k] = true;
            assert_int_equal(ev[i].kind, XR_ENGINE_EV_EXEC_REPORT);
            const xr_engine_exec_report_ev *r = &ev[i].u.report;
            if (r->status != XR_ENGINE_ORDER_FILLED || r->filled.units != BUY_SAT)
                fail_msg("order %llu: status %d filled %lld of %d", (unsigned long long)k,
                         (int)r->status, (long long)r->filled.units, BUY_SAT);
            assert_true(r->notional.units == BUY_NOTL);
            assert_true(r->fees.units == BUY_FEE);
            assert_true(r->spread.units == BUY_SPRD);
            assert_true(r->quote.units == BUY_PAID);
            reports++;
        }
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
    E.corr = first_corr + ORDERS - 1;
    /* Each order: FILLS executions at venue A (the simulator really made them). */
    xr_i128 sim_btc1;
    sim_balance(0, E.btc[0], &sim_btc1);
    assert_true(sim_btc1 - sim_btc0 == (xr_i128)ORDERS * (BUY_SAT - VENUE_FEE));
    for (int i = 0; i < ORDERS; i++) {
        xr_i128 n = ceil_div(notional_exact_e8(BUY_SAT, 60000), U8);
        assert_true(n == BUY_NOTL);
        E.pos_usdt[0] += n;
        E.fee_usdt[0] += ceil_div(n * fee_bps[0], 10000);
        E.pos_btc[0] -= BUY_SAT - VENUE_FEE;
        E.fee_btc[0] -= VENUE_FEE;
        E.revenue += BUY_SPRD;
        E.cust_usdt[0] -= BUY_PAID;
        E.cust_btc[0] += BUY_SAT;
    }
    check_books();
    assert_int_equal(log_count("ev=venue_event_dropped"), 0);
    assert_int_equal(log_count("ev=conversion_query_dropped"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fill_arrives),
    };
    return cmocka_run_group_tests(tests, group_setup, teardown);
}
