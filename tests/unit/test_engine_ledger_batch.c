/*
 * unit.engine_ledger_batch: a ledger batch that fills up (cfg.ledger_batch_max ops) leaves the
 * next request in its ring for the next batch, in both schedules. Before the fix the ledger
 * stage peeked that request and neither took nor released it, so its next poll tripped the
 * ring's "one peek at a time" assertion (xrouted aborted at ~1,000 orders/s, where order
 * bookings of 36 ops each fill the default 1,024-op batch). 200 FUNDs of distinct keys are
 * queued before the engine runs, with the smallest batch allowed (64 ops, one op per FUND):
 * every FUND is answered exactly once and the customer's balance is the sum of the amounts,
 * computed here as n (n + 1) / 2.
 */
#include "engine_test_util.h"

enum { NFUND = 200 };

static int setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engine_lbatch_XXXXXX");
    return 0;
}

/* Keys are the bank's: each case uses its own (byte 1: the customer). */
static xr_engine_key fund_key(uint64_t cust, uint32_t i)
{
    xr_engine_key k;
    memset(&k, 0, sizeof k);
    k.bytes[0] = 0xB7;
    k.bytes[1] = (uint8_t)cust;
    k.bytes[14] = (uint8_t)(i >> 8);
    k.bytes[15] = (uint8_t)i;
    return k;
}

static void batch_case(uint32_t schedule, uint64_t cust)
{
    xr_engine_config c = E.cfg;
    c.schedule = schedule;
    c.ledger_batch_max = 64; /* the smallest the engine accepts */
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    xr_engine_cmd u = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = cust};
    u.u.customer.kyc_tier = 1;
    xr_engine_event ev = call(u);
    assert_int_equal(ev.kind, XR_ENGINE_EV_CUSTOMER);

    static uint8_t seen[NFUND + 1];
    memset(seen, 0, sizeof seen);
    uint32_t sent = 0, got = 0;
    uint64_t base = E.corr;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (got < NFUND) {
        /* Everything that fits before the engine runs: the gateway hands the ledger far more
         * than one batch at once. */
        while (sent < NFUND) {
            xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .bank_id = BANK, .customer_id = cust};
            f.correlation_id = base + sent + 1;
            f.u.fund.key = fund_key(cust, sent + 1);
            snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USDT");
            f.u.fund.amount.units = (xr_i128)(sent + 1);
            xr_err err = xr_engine_submit(E.eng, &f);
            if (err == XR_ERR_AGAIN)
                break;
            assert_int_equal(err, XR_OK);
            sent++;
        }
        if (schedule == XR_ENGINE_SCHEDULE_THREADS) {
            xr_err w = xr_engine_wait(E.eng, 100 * XR_NS_PER_MS);
            assert_true(w == XR_OK || w == XR_ERR_TIMEOUT);
        }
        xr_engine_event evs[64];
        size_t n = 0;
        assert_int_equal(xr_engine_poll(E.eng, evs, 64, &n), XR_OK);
        for (size_t i = 0; i < n; i++) {
            if (evs[i].kind != XR_ENGINE_EV_FUNDING)
                fail_msg(
                    "fund %llu: event %s (%s)", (unsigned long long)(evs[i].correlation_id - base),
                    xr_engine_event_kind_name(evs[i].kind),
                    evs[i].kind == XR_ENGINE_EV_REJECT ? xr_err_name(evs[i].u.reject.err) : "-");
            uint64_t k = evs[i].correlation_id - base;
            assert_true(k >= 1 && k <= NFUND);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
            assert_true(evs[i].u.funding.amount.units == (xr_i128)k);
            assert_int_equal(evs[i].u.funding.replayed, 0);
            got++;
        }
        assert_true(xr_clock_mono_ns() < end);
    }
    E.corr = base + NFUND;
    xr_engine_close(E.eng);
    E.eng = NULL;
    /* The ledger agrees: 1 + 2 + ... + NFUND minor units, nothing reserved. */
    open_ledger_view();
    EXPECT_BAL(XR_LEDGER_KIND_CUSTOMER, BANK, cust, "USDT", (xr_i128)NFUND * (NFUND + 1) / 2);
    xr_ledger_close(E.ro);
    E.ro = NULL;
}

static void test_full_batch_inline(void **state)
{
    (void)state;
    batch_case(XR_ENGINE_SCHEDULE_INLINE, CUST_A);
}

static void test_full_batch_threads(void **state)
{
    (void)state;
    batch_case(XR_ENGINE_SCHEDULE_THREADS, CUST_B);
}

static int teardown(void **state)
{
    (void)state;
    xr_sim_destroy(E.sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch_inline),
        cmocka_unit_test(test_full_batch_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
