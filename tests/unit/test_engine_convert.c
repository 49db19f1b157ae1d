/*
 * unit.engine_convert: conversions (CONVERT, XR_ENGINE_EV_CONVERSION_REPORT) through
 * xroute/engine.h against two in-process simulated Binance-dialect venues. Venue A's Convert
 * endpoint offers USD -> USDC and USDC -> USD at 1:1 less 10 bps (USDC delivered at 6
 * places, USD at 2); venue B offers none.
 *
 * Every expected amount is worked out here by hand: 25.00 USD -> 24.975 USDC; 12.345678
 * USDC -> 12.333332322 USD, 12.33 at USD's 2 places; 10.00 USD -> 9.99 USDC. After each
 * scenario the ledger verifies, every balance (customer, omnibus, venue position, fees)
 * equals the expectation, nothing stays reserved, and venue A's own balances moved exactly
 * as its USD and USDC positions say. Scenarios: completed both ways, refusals, idempotent
 * replay and conflict, a venue reject, an accept whose answer is lost (resolved by
 * orderStatus), and restarts with a conversion in flight (accepted: found and booked; only
 * quoted: voided).
 */
#include "engine_test_util.h"

#define USD_U  INT64_C(1000000) /* one USD/2 minor unit in the simulator's 10^-8 */
#define USDC_U INT64_C(100)     /* one USDC/6 minor unit in 10^-8 */

static int usd_a, usdc_a, pyusd_a;              /* venue A's asset indexes */
static xr_i128 sim0_usd, sim0_usdc, sim0_pyusd; /* venue A's balances at start */
/* expectations (ledger balances, credit positive) */
static xr_i128 cust_usd, cust_usdc, pos_usd, pos_usdc, cust_pyusd, pos_pyusd;

static void sim_bal(int asset, xr_i128 *out)
{
    sim_balance(0, asset, out);
}

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engconv_XXXXXX");
    /* The harness's simulator has no Convert routes: start ours in its place, same books. */
    xr_sim_destroy(E.sim);
    xr_sim_config *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    sc->nvenues = NVENUES;
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_venue_config *vc = &sc->venues[v];
        xr_sim_venue_config_default(vc, v == 0 ? "venue-a" : "venue-b");
        vc->port = 0;
        vc->step_us = 0;
        vc->taker_bps = vc->maker_bps = fee_bps[v];
        vc->seed = (uint64_t)v + 11;
        /* Convert's weights (200 a quote, 500 an accept, 100 a status) would use up the
         * default 6000 a minute within this file's conversions and restarts: a 429 then
         * delays a status query past the test's wait. The limits are not what is tested. */
        vc->weight_limit = 600000;
        xr_sim_account_config *a = &vc->accounts[0];
        snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "USD");
        a->balances[a->nbalances++].amount = 10000 * XR_SIM_UNIT;
        snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "USDC");
        a->balances[a->nbalances++].amount = 10000 * XR_SIM_UNIT;
        snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "PYUSD");
        a->balances[a->nbalances++].amount = 10000 * XR_SIM_UNIT;
    }
    char why[256] = "";
    assert_int_equal(xr_sim_convert_parse("USD:USDC:fee_bps=10,decimals=6",
                                          &sc->venues[0].converts[0], why, sizeof why),
                     XR_OK);
    assert_int_equal(xr_sim_convert_parse("USDC:USD:fee_bps=10,decimals=2",
                                          &sc->venues[0].converts[1], why, sizeof why),
                     XR_OK);
    assert_int_equal(
        xr_sim_convert_parse("USD:PYUSD:decimals=6", &sc->venues[0].converts[2], why, sizeof why),
        XR_OK);
    sc->venues[0].nconverts = 3;
    xr_err err = xr_sim_create(sc, NULL, &E.sim, why, sizeof why);
    if (err != XR_OK)
        fail_msg("sim: %s", why);
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_market_clear_synth(market(v));
        E.cfg.venues[v].port = xr_sim_port(E.sim, (uint32_t)v);
        snprintf(E.cfg.venues[v].api_key, sizeof E.cfg.venues[v].api_key, "%s",
                 sc->venues[v].accounts[0].api_key);
        snprintf(E.cfg.venues[v].secret, sizeof E.cfg.venues[v].secret, "%s",
                 sc->venues[v].accounts[0].secret);
    }
    free(sc);
    level(0, XR_SIM_ASK, 60000, 1000);
    level(0, XR_SIM_ASK, 60200, 5000);
    level(0, XR_SIM_BID, 59900, 1000);
    level(0, XR_SIM_BID, 59700, 5000);
    level(1, XR_SIM_ASK, 60010, 2000);
    level(1, XR_SIM_ASK, 60300, 5000);
    level(1, XR_SIM_BID, 59950, 500);
    level(1, XR_SIM_BID, 59600, 5000);
    xr_sim_engine *se = xr_sim_engine_of(E.sim, 0);
    usd_a = xr_sim_engine_find_asset(se, "USD");
    usdc_a = xr_sim_engine_find_asset(se, "USDC");
    pyusd_a = xr_sim_engine_find_asset(se, "PYUSD");
    assert_true(usd_a >= 0 && usdc_a >= 0 && pyusd_a >= 0);
    sim_bal(usd_a, &sim0_usd);
    sim_bal(usdc_a, &sim0_usdc);
    sim_bal(pyusd_a, &sim0_pyusd);
    for (int v = 0; v < NVENUES; v++) {
        sim_balance(v, E.btc[v], &E.sim0_btc[v]);
        sim_balance(v, E.usdt[v], &E.sim0_usdt[v]);
    }
    E.cfg.venues[0].nconverts = 3;
    snprintf(E.cfg.venues[0].converts[0], sizeof E.cfg.venues[0].converts[0], "USD/USDC");
    snprintf(E.cfg.venues[0].converts[1], sizeof E.cfg.venues[0].converts[1], "USDC/USD");
    snprintf(E.cfg.venues[0].converts[2], sizeof E.cfg.venues[0].converts[2], "USD/PYUSD");
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true); /* the venue sessions are up */
    return 0;
}

static xr_engine_cmd convert_cmd(uint64_t cust, uint8_t k, const char *from, const char *to,
                                 xr_i128 amount)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CONVERT, .customer_id = cust};
    c.u.convert.key = key_of(k);
    snprintf(c.u.convert.from_asset, sizeof c.u.convert.from_asset, "%s", from);
    snprintf(c.u.convert.to_asset, sizeof c.u.convert.to_asset, "%s", to);
    c.u.convert.amount.units = amount;
    return c;
}

static void expect_report(const xr_engine_event *ev, uint8_t status, const char *from,
                          const char *to, xr_i128 from_amount, xr_i128 to_amount, uint8_t replayed)
{
    if (ev->kind != XR_ENGINE_EV_CONVERSION_REPORT)
        fail_msg("expected a conversion report, got %s %s",
                 xr_engine_event_kind_name((xr_engine_event_kind)ev->kind),
                 ev->kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev->u.reject.err) : "");
    const xr_engine_conversion_ev *r = &ev->u.conversion;
    if (r->status != status)
        fail_msg("status %d err %s, expected status %d", r->status, xr_err_name(r->err), status);
    assert_string_equal(r->from_asset, from);
    assert_string_equal(r->to_asset, to);
    assert_true(r->from_amount.units == from_amount);
    assert_true(r->to_amount.units == to_amount);
    assert_true(r->fee.units == 0);
    assert_int_equal(r->replayed, replayed);
    if (status == 1)
        assert_int_equal(r->err, XR_OK);
    else
        assert_int_not_equal(r->err, XR_OK);
}

static void expect_reject(xr_engine_cmd c, xr_err err)
{
    xr_engine_event ev = call(c);
    if (ev.kind != XR_ENGINE_EV_REJECT || ev.u.reject.err != err)
        fail_msg("expected reject %s, got %s %s", xr_err_name(err),
                 xr_engine_event_kind_name((xr_engine_event_kind)ev.kind),
                 ev.kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev.u.reject.err) : "");
}

/* Verify, the conversion accounts, and venue A's balances against its positions (a holding
 * is a debit balance: what the venue holds for us moved by minus the position's balance). */
static void check_conv_books(void)
{
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "USD", cust_usd);
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "USDC", cust_usdc);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_OMNIBUS, BANK, 0, "USD", 0);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_OMNIBUS, BANK, 0, "USDC", 0);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_FUNDING, BANK, 0, "USD", -10000);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 0, "USD", pos_usd);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 0, "USDC", pos_usdc);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 1, "USD", 0);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 1, "USDC", 0);
    for (int v = 0; v < NVENUES; v++) {
        EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, (uint64_t)v, "USD", 0);
        EXPECT_BAL(XR_LEDGER_KIND_FEES, 0, (uint64_t)v, "USDC", 0);
    }
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "PYUSD", cust_pyusd);
    EXPECT_BAL(XR_LEDGER_KIND_VENUE_POSITION, 0, 0, "PYUSD", pos_pyusd);
    EXPECT_BAL(XR_LEDGER_KIND_BANK_OMNIBUS, BANK, 0, "PYUSD", 0);
    xr_i128 u, c, p;
    sim_bal(usd_a, &u);
    sim_bal(usdc_a, &c);
    sim_bal(pyusd_a, &p);
    assert_true(u - sim0_usd == -pos_usd * USD_U);
    assert_true(c - sim0_usdc == -pos_usdc * USDC_U);
    assert_true(p - sim0_pyusd == -pos_pyusd * USDC_U); /* PYUSD/6 like USDC */
}

static void book(xr_i128 usd_out, xr_i128 usdc_in)
{
    /* The customer gave usd_out (negative: received) and got usdc_in (negative: gave). */
    cust_usd -= usd_out;
    cust_usdc += usdc_in;
    pos_usd += usd_out;
    pos_usdc -= usdc_in;
}

/* ---- scenarios ---------------------------------------------------------------------------- */

static void test_completed(void **state)
{
    (void)state;
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = CUST_A};
    c.u.customer.kyc_tier = 1;
    assert_int_equal(call(c).kind, XR_ENGINE_EV_CUSTOMER);
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_A};
    f.u.fund.key = key_of(1);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USD");
    f.u.fund.amount.units = 10000; /* 100.00 USD */
    assert_int_equal(call(f).kind, XR_ENGINE_EV_FUNDING);
    cust_usd = 10000;
    check_conv_books();

    xr_engine_event ev = call(convert_cmd(CUST_A, 10, "USD", "USDC", 2500)); /* 25.00 USD */
    expect_report(&ev, 1, "USD", "USDC", 2500, 24975000, 0);
    book(2500, 24975000);
    check_conv_books();

    /* The other way: 12.345678 USDC -> 12.33 USD. */
    ev = call(convert_cmd(CUST_A, 11, "USDC", "USD", 12345678));
    expect_report(&ev, 1, "USDC", "USD", 12345678, 1233, 0);
    book(-1233, -12345678);
    check_conv_books();

    /* USD -> PYUSD at 1:1 without a fee: 5.00 USD -> 5.000000 PYUSD. */
    ev = call(convert_cmd(CUST_A, 16, "USD", "PYUSD", 500));
    expect_report(&ev, 1, "USD", "PYUSD", 500, 5000000, 0);
    cust_usd -= 500;
    pos_usd += 500;
    cust_pyusd += 5000000;
    pos_pyusd -= 5000000;
    check_conv_books();
    /* Offered one way only: PYUSD -> USD is not. */
    xr_engine_event r = call(convert_cmd(CUST_A, 17, "PYUSD", "USD", 100));
    assert_int_equal(r.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(r.u.reject.err, XR_ERR_NOT_SUPPORTED);
}

static void test_replay_and_refusals(void **state)
{
    (void)state;
    /* The same key and content: the stored report, nothing executes again. */
    xr_engine_event ev = call(convert_cmd(CUST_A, 10, "USD", "USDC", 2500));
    expect_report(&ev, 1, "USD", "USDC", 2500, 24975000, 1);
    expect_reject(convert_cmd(CUST_A, 10, "USD", "USDC", 2600), XR_ERR_IDEMPOTENCY_CONFLICT);
    expect_reject(convert_cmd(CUST_A, 1, "USD", "USDC", 100), XR_ERR_IDEMPOTENCY_CONFLICT);
    expect_reject(convert_cmd(CUST_A, 20, "XYZ", "USDC", 100), XR_ERR_UNKNOWN_ASSET);
    expect_reject(convert_cmd(CUST_A, 20, "USD", "EUR", 100), XR_ERR_NOT_SUPPORTED);
    expect_reject(convert_cmd(CUST_A, 20, "BTC", "USD", 100), XR_ERR_NOT_SUPPORTED);
    expect_reject(convert_cmd(CUST_A, 20, "USD", "USD", 100), XR_ERR_INVALID_ARGUMENT);
    expect_reject(convert_cmd(CUST_A, 20, "USD", "USDC", 0), XR_ERR_INVALID_AMOUNT);
    expect_reject(convert_cmd(CUST_A, 20, "USD", "USDC", 1000000), XR_ERR_INSUFFICIENT_FUNDS);
    expect_reject(convert_cmd(CUST_B, 20, "USD", "USDC", 100), XR_ERR_NOT_FOUND);
    xr_engine_cmd z = convert_cmd(CUST_A, 20, "USD", "USDC", 100);
    memset(&z.u.convert.key, 0, sizeof z.u.convert.key);
    expect_reject(z, XR_ERR_INVALID_ARGUMENT);
    check_conv_books();
}

static void fault(uint8_t kind, uint32_t count)
{
    xr_sim_fault f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.count = count;
    f.status = 503;
    f.after_exec = true;
    f.code = -2010;
    snprintf(f.msg, sizeof f.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(xr_sim_apply_fault(E.sim, 0, &f), XR_OK);
}

static void test_venue_reject(void **state)
{
    (void)state;
    fault(XR_SIM_FAULT_REJECT, 1); /* the accept is refused: nothing moves */
    xr_engine_event ev = call(convert_cmd(CUST_A, 12, "USD", "USDC", 500));
    expect_report(&ev, 2, "USD", "USDC", 500, 0, 0);
    check_conv_books(); /* voided: nothing reserved, nothing moved */
    ev = call(convert_cmd(CUST_A, 12, "USD", "USDC", 500));
    expect_report(&ev, 2, "USD", "USDC", 500, 0, 1);
}

static xr_sim_counters counters(void)
{
    xr_sim_counters c;
    xr_sim_get_counters(E.sim, 0, &c);
    return c;
}

/* Submits `c` and runs engine and simulator until `done` says so; returns the events seen. */
static size_t run_until(const xr_engine_cmd *c, bool (*done)(void), xr_engine_event *out,
                        size_t cap)
{
    xr_engine_cmd cc = *c;
    cc.bank_id = BANK;
    cc.correlation_id = ++E.corr;
    assert_int_equal(xr_engine_submit(E.eng, &cc), XR_OK);
    size_t n = 0;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        size_t k = 0;
        assert_int_equal(xr_engine_poll(E.eng, out + n, cap - n, &k), XR_OK);
        n += k;
        assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
        if (done())
            return n;
        assert_true(xr_clock_mono_ns() < end);
    }
}

static uint64_t quotes0, accepts0;
static bool quoted(void)
{
    return counters().convert_quotes > quotes0;
}
static bool accepted(void)
{
    return counters().convert_accepts > accepts0;
}

/* The accept executes at the venue and its answer is lost (503): the engine asks orderStatus
 * by the quote id and books what the venue did. */
static void test_unknown_outcome(void **state)
{
    (void)state;
    quotes0 = counters().convert_quotes;
    uint64_t e5 = counters().http_5xx;
    xr_engine_event ev[4];
    xr_engine_cmd c = convert_cmd(CUST_A, 13, "USD", "USDC", 1000); /* 10.00 USD */
    size_t n = run_until(&c, quoted, ev, 4);
    assert_int_equal(n, 0);
    fault(XR_SIM_FAULT_HTTP_5XX, 1); /* the next request, the accept, runs and answers 503 */
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (n == 0) {
        assert_int_equal(xr_engine_poll(E.eng, ev, 4, &n), XR_OK);
        pump_once();
        assert_true(xr_clock_mono_ns() < end);
    }
    assert_int_equal(n, 1);
    assert_int_equal(counters().http_5xx, e5 + 1);
    expect_report(&ev[0], 1, "USD", "USDC", 1000, 9990000, 0);
    book(1000, 9990000);
    check_conv_books();
}

/* The venue is down for 300 ms when the conversion starts: its quote request waits for the
 * connection to come back (a read, retried by the session) and the conversion completes
 * once, late. */
static void test_venue_down(void **state)
{
    (void)state;
    xr_sim_fault f;
    memset(&f, 0, sizeof f);
    f.kind = XR_SIM_FAULT_DOWN;
    f.ms = 300;
    assert_int_equal(xr_sim_apply_fault(E.sim, 0, &f), XR_OK);
    uint64_t accepts = counters().convert_accepts;
    uint64_t t0 = xr_clock_mono_ns();
    xr_engine_event ev = call(convert_cmd(CUST_A, 18, "USD", "USDC", 200)); /* 2.00 USD */
    expect_report(&ev, 1, "USD", "USDC", 200, 1998000, 0);
    /* It did wait for the venue (the fault was applied just before the command). */
    assert_true(xr_clock_mono_ns() - t0 >= 250 * XR_NS_PER_MS);
    assert_true(counters().conns_refused > 0);
    assert_int_equal(counters().convert_accepts, accepts + 1);
    book(200, 1998000);
    check_conv_books();
}

static void reopen(void)
{
    xr_engine_close(E.eng);
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
}

/* Resends `c` until it is no longer in flight (AGAIN) and returns its answer. */
static xr_engine_event resend_until_final(xr_engine_cmd c)
{
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = call(c);
        if (ev.kind != XR_ENGINE_EV_REJECT || ev.u.reject.err != XR_ERR_AGAIN)
            return ev;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
}

/* A crash after the venue accepted, before the engine read the answer: at start-up the
 * conversion is asked for by its stored quote id and booked once. */
static void test_restart_accepted(void **state)
{
    (void)state;
    accepts0 = counters().convert_accepts;
    xr_engine_event ev[4];
    xr_engine_cmd c = convert_cmd(CUST_A, 14, "USD", "USDC", 1000);
    assert_int_equal(run_until(&c, accepted, ev, 4), 0);
    reopen();
    ev[0] = resend_until_final(c);
    expect_report(&ev[0], 1, "USD", "USDC", 1000, 9990000, 1);
    book(1000, 9990000);
    check_conv_books();
    assert_int_equal(counters().convert_accepts, accepts0 + 1); /* never accepted twice */
}

/* A crash after the venue quoted, before the quote id was stored: never accepted, voided. */
static void test_restart_quoted(void **state)
{
    (void)state;
    quotes0 = counters().convert_quotes;
    accepts0 = counters().convert_accepts;
    xr_engine_event ev[4];
    xr_engine_cmd c = convert_cmd(CUST_A, 15, "USD", "USDC", 700);
    assert_int_equal(run_until(&c, quoted, ev, 4), 0);
    reopen();
    ev[0] = resend_until_final(c);
    expect_report(&ev[0], 2, "USD", "USDC", 700, 0, 1);
    /* In the threads schedule the engine may have stored the quote id before the close (the
     * test stops it once the venue has quoted): then the venue is asked by that id and says
     * it does not know an accepted conversion (NOT_FOUND). Either way nothing was accepted. */
    assert_true(ev[0].u.conversion.err == XR_ERR_VENUE_UNAVAILABLE ||
                ev[0].u.conversion.err == XR_ERR_NOT_FOUND);
    for (int i = 0; i < 50; i++)
        pump_once(); /* nothing more may happen at the venue */
    assert_int_equal(counters().convert_accepts, accepts0);
    check_conv_books();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completed),      cmocka_unit_test(test_replay_and_refusals),
        cmocka_unit_test(test_venue_reject),   cmocka_unit_test(test_unknown_outcome),
        cmocka_unit_test(test_venue_down),     cmocka_unit_test(test_restart_accepted),
        cmocka_unit_test(test_restart_quoted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
