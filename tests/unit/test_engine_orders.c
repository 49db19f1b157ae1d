/*
 * unit.engine_orders: LIMIT orders through xroute/engine.h against two in-process simulated
 * Binance-dialect venues (engine_test_util.h): IOC with its remainder cancelled, FOK all or
 * nothing, GTC resting in the internal book until the market reaches it, cancel of a resting
 * and of a routed order, GTD expiry, a cross of two client orders inside the internal book,
 * and a resting order that survives a restart.
 *
 * A LIMIT price is the customer's price all in (fee and spread included). Every expected
 * amount is computed here from the books the test sets, with the rules of docs/ledger.md
 * ("Rounding", "Internal cross"), not by calling the engine's code. After every scenario the
 * ledger verifies, every balance and every reservation equals the expectation, and each
 * venue position equals what the simulator itself holds.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>

#include "engine_test_util.h"

/* ---- heap allocations in the engine's calls (this thread only) --------------------------
 * malloc and friends are interposed (glibc's __libc_* do the work) and counted while
 * `counting` is set: around xr_engine_submit and xr_engine_poll only, so the simulator's and
 * the test's own allocations are not counted; each one's caller is kept to tell LMDB's own
 * (it allocates a cursor per write transaction) from anything else. Not with a sanitizer,
 * which owns malloc. */
#if defined(XR_SANITIZED) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XR_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define XR_COUNT_ALLOCS 0
#else
#define XR_COUNT_ALLOCS 1
#endif
#else
#define XR_COUNT_ALLOCS 1
#endif

static _Thread_local int counting;
static unsigned long allocs;
static void *alloc_caller[1024];

#if XR_COUNT_ALLOCS
static void count_alloc(void *caller)
{
    if (counting == 0)
        return;
    if (allocs < sizeof alloc_caller / sizeof alloc_caller[0])
        alloc_caller[allocs] = caller;
    allocs++;
}

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
void *malloc(size_t n)
{
    count_alloc(__builtin_return_address(0));
    return __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    count_alloc(__builtin_return_address(0));
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    count_alloc(__builtin_return_address(0));
    return __libc_realloc(p, n);
}
#endif

static int group_setup(void **state)
{
    (void)state;
    return et_group_setup("/tmp/xr_engine_orders_XXXXXX");
}

/* ---- events: several may answer one submit (an unsolicited report beside the answer) ---- */

static xr_engine_event evq[64];
static size_t nevq;

static uint64_t submit(xr_engine_cmd c)
{
    c.bank_id = BANK;
    c.correlation_id = ++E.corr;
    assert_int_equal(xr_engine_submit(E.eng, &c), XR_OK);
    return E.corr;
}

static void poll_some(void)
{
    xr_engine_event ev[8];
    size_t n = 0;
    assert_int_equal(xr_engine_poll(E.eng, ev, 8, &n), XR_OK);
    for (size_t i = 0; i < n; i++) {
        assert_true(nevq < 64);
        evq[nevq++] = ev[i];
    }
}

/* The next event with correlation id `corr` (waiting for it). */
static xr_engine_event wait_corr(uint64_t corr)
{
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        for (size_t i = 0; i < nevq; i++)
            if (evq[i].correlation_id == corr) {
                xr_engine_event ev = evq[i];
                memmove(&evq[i], &evq[i + 1], (nevq - i - 1) * sizeof evq[0]);
                nevq--;
                return ev;
            }
        assert_true(xr_clock_mono_ns() < end);
        poll_some();
        pump_once();
    }
}

/* No event is left over (each command got exactly its answers). */
static void no_more_events(void)
{
    for (int i = 0; i < 30; i++) {
        poll_some();
        pump_once();
    }
    if (nevq != 0)
        fail_msg("unexpected event kind %d corr %llu", evq[0].kind,
                 (unsigned long long)evq[0].correlation_id);
}

static xr_engine_cmd limit_cmd(uint64_t cust, uint8_t k, uint8_t side, xr_i128 base, int64_t usdt,
                               uint8_t tif)
{
    xr_engine_cmd c = order_cmd(cust, k, side, base);
    c.u.order.type = XR_ENGINE_LIMIT;
    c.u.order.tif = tif;
    c.u.order.limit.ticks = usdt * E.price_one;
    return c;
}

static const xr_engine_exec_report_ev *report_of(const xr_engine_event *ev)
{
    if (ev->kind == XR_ENGINE_EV_REJECT)
        fail_msg("rejected: %s", xr_err_name(ev->u.reject.err));
    assert_int_equal(ev->kind, XR_ENGINE_EV_EXEC_REPORT);
    return &ev->u.report;
}

/* ---- books and expectations ------------------------------------------------------------- */

/* The books of engine_test_util.h again (orders consume levels), seen by the engine. */
static void reset_books(void)
{
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
    for (int i = 0; i < 20; i++)
        pump_once();
    et_wait_book(4, true);
}

/* Reservations held now, per customer (debits pending), besides check_books' balances. */
static xr_i128 res_usdt[2], res_btc[2];

static void check_all(void)
{
    static const uint64_t cust[2] = {CUST_A, CUST_B};
    /* check_books, except that customers may have reservations held (res_usdt, res_btc) */
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
    for (int c = 0; c < 2; c++) {
        if (!E.registered[c])
            continue;
        xr_i128 r = -1;
        xr_i128 b = balance_of(XR_LEDGER_KIND_CUSTOMER, BANK, cust[c], "USDT", &r);
        if (b != E.cust_usdt[c] || r != res_usdt[c])
            fail_msg("customer %d USDT %lld reserved %lld, expected %lld reserved %lld", c,
                     (long long)b, (long long)r, (long long)E.cust_usdt[c], (long long)res_usdt[c]);
        b = balance_of(XR_LEDGER_KIND_CUSTOMER, BANK, cust[c], "BTC", &r);
        if (b != E.cust_btc[c] || r != res_btc[c])
            fail_msg("customer %d BTC %lld reserved %lld, expected %lld reserved %lld", c,
                     (long long)b, (long long)r, (long long)E.cust_btc[c], (long long)res_btc[c]);
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
        /* the simulator's own balances agree with the venue positions */
        xr_i128 b, u;
        sim_balance(v, E.btc[v], &b);
        sim_balance(v, E.usdt[v], &u);
        assert_true(b - E.sim0_btc[v] == -E.pos_btc[v]);
        assert_true(u - E.sim0_usdt[v] == -E.pos_usdt[v] * 100);
    }
}

/* What a buy reserves: the whole amount at the customer's limit (quote/6, rounded up) plus
 * 4 x 8 + 2 minor units of rounding room (docs/ledger.md, "Limit orders"). */
static xr_i128 buy_reserve(int64_t sat, int64_t usdt)
{
    return ceil_div(notional_exact_e8(sat, usdt), U8) + 34;
}

typedef struct fill {
    int venue;
    int64_t sat, usdt; /* executed base and its price in whole USDT */
} fill;

typedef struct expect {
    xr_i128 notional, fees, exec, spread, quote, filled;
} expect;

/* The legs of a venue buy (docs/ledger.md), applied to the expectations; returns the totals
 * the report must show. */
static expect book_buy(int c, const fill *f, int nf)
{
    expect x = {0};
    for (int i = 0; i < nf; i++) {
        int v = f[i].venue;
        xr_i128 n = ceil_div(notional_exact_e8(f[i].sat, f[i].usdt), U8);
        xr_i128 fee = ceil_div(n * fee_bps[v], 10000);
        x.notional += n;
        x.fees += fee;
        x.filled += f[i].sat;
        E.pos_usdt[v] += n;
        E.fee_usdt[v] += fee;
        xr_i128 vf = ceil_div((xr_i128)f[i].sat * fee_bps[v], 10000);
        E.pos_btc[v] -= f[i].sat - vf;
        E.fee_btc[v] -= vf;
    }
    x.exec = x.notional + x.fees;
    x.spread = floor_div(x.exec * SPREAD, 10000);
    x.quote = x.exec + x.spread;
    E.cust_usdt[c] -= x.quote;
    E.cust_btc[c] += x.filled;
    E.revenue += x.spread;
    return x;
}

static void expect_report(const xr_engine_exec_report_ev *r, uint8_t status, xr_i128 ordered,
                          const expect *x)
{
    if (r->status != status)
        fail_msg("status %d (err %s), expected %d", r->status, xr_err_name(r->err), status);
    assert_int_equal(r->err, XR_OK);
    assert_true(r->ordered.units == ordered);
    assert_true(r->filled.units == x->filled);
    assert_true(r->notional.units == x->notional);
    assert_true(r->fees.units == x->fees);
    assert_true(r->spread.units == x->spread);
    assert_true(r->quote.units == x->quote);
}

/* ORDER_STATUS of key `k` of `cust`; asserts the best-execution record: both venues, with
 * the best bid / ask (whole USDT) the test's books had at the decision, a fresh book age. */
static xr_engine_event status_bx(uint64_t cust, uint8_t k, const int64_t bid[NVENUES],
                                 const int64_t ask[NVENUES])
{
    xr_engine_cmd s = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = cust};
    s.u.ref.key = key_of(k);
    xr_engine_event ev = call(s);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
    const xr_engine_order_ev *o = &ev.u.order;
    assert_int_equal(o->n_venue_prices, NVENUES);
    assert_true(o->decided_ns >= o->created_ns - 5 * (int64_t)XR_NS_PER_SEC && o->decided_ns > 0);
    for (int v = 0; v < NVENUES; v++) {
        const xr_engine_venue_price *x = &o->venue_prices[v];
        assert_int_equal(x->venue, v);
        assert_int_equal(x->usable, 1);
        if (x->bid.ticks != bid[v] * E.price_one || x->ask.ticks != ask[v] * E.price_one)
            fail_msg("venue %d: bid %lld ask %lld, expected %lld %lld", v,
                     (long long)(x->bid.ticks / E.price_one),
                     (long long)(x->ask.ticks / E.price_one), (long long)bid[v], (long long)ask[v]);
        assert_true(x->age_ns < WAIT_NS);
    }
    return ev;
}

static const int64_t std_bid[NVENUES] = {59900, 59950}, std_ask[NVENUES] = {60000, 60010};

/* Submits `c` and waits for the answer with its correlation id, counting the heap
 * allocations made inside the engine's calls (their callers from alloc_caller[*n]). */
static xr_engine_event counted_call(xr_engine_cmd c, unsigned long *n)
{
    c.bank_id = BANK;
    c.correlation_id = ++E.corr;
    unsigned long before = allocs;
    (void)before;
    counting = 1;
    assert_int_equal(xr_engine_submit(E.eng, &c), XR_OK);
    counting = 0;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev[8];
        size_t k = 0;
        counting = 1;
        xr_err err = xr_engine_poll(E.eng, ev, 8, &k);
        counting = 0;
        assert_int_equal(err, XR_OK);
        for (size_t i = 0; i < k; i++) {
            assert_true(nevq < 64);
            evq[nevq++] = ev[i]; /* wait_corr finds it */
        }
        for (size_t i = 0; i < nevq; i++)
            if (evq[i].correlation_id == E.corr) {
                *n = allocs;
                return wait_corr(E.corr);
            }
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
}

/* ---- scenarios ------------------------------------------------------------------------------ */

/* Child limits of a buy at 61100 all in: A (10 bps) 61100 / (1.015 x 1.001) = 60137.9,
 * B (20 bps) 61100 / (1.015 x 1.002) = 60077.9: A's 60000 x 0.01 and B's 60010 x 0.02 are
 * inside, 60200 and 60300 are not. */
#define L_BUY 61100

/* IOC LIMIT buy of 0.04: 0.03 executes inside the limit, the rest is cancelled and its
 * reservation released. */
static void test_limit_ioc_partial(void **state)
{
    (void)state;
    et_register_and_fund(CUST_A, 0, USDT(10000) * 1000000, 1, true);
    check_all();
    xr_engine_event ev =
        call(limit_cmd(CUST_A, 10, XR_ENGINE_BUY, 4000000, L_BUY, XR_ENGINE_TIF_IOC));
    const xr_engine_exec_report_ev *r = report_of(&ev);
    const fill f[] = {{0, 1000000, 60000}, {1, 2000000, 60010}};
    expect x = book_buy(0, f, 2);
    /* 600 + 0.60 + 1200.20 + 2.4004 = 1803.2004; spread 27.048006 */
    assert_true(x.exec == USDT(1803200400) && x.spread == USDT(27048006));
    expect_report(r, XR_ENGINE_ORDER_CANCELLED, 4000000, &x);
    assert_int_equal(r->venues, 2);
    /* the customer's average price stays within the limit */
    assert_true(r->avg_price.ticks <= L_BUY * E.price_one);
    check_all();
    ev = status_bx(CUST_A, 10, std_bid, std_ask);
    assert_int_equal(ev.u.order.report.status, XR_ENGINE_ORDER_CANCELLED);
    assert_int_equal(ev.u.order.n_children, 2);
    /* child limits: floor(61100 x 10^8 / ((10^4 + 150)(10^4 + fee))) on the 0.01 tick */
    for (int v = 0; v < NVENUES; v++) {
        const xr_engine_child *ch = &ev.u.order.children[v];
        xr_i128 tick = E.price_one / 100;
        xr_i128 want = (xr_i128)L_BUY * E.price_one * 100000000 /
                       ((10000 + SPREAD) * (10000 + fee_bps[ch->venue]) * tick) * tick;
        assert_true(ch->limit.ticks == want);
    }
}

/* IOC LIMIT sell of 0.02 at 58900 all in: child limits A 58900 / (0.985 x 0.999) = 59856.8,
 * B 58900 / (0.985 x 0.998) = 59917.9 (rounded up to the tick): A's 59900 x 0.01 and
 * B's 59950 x 0.005 are inside, 59700 and 59600 are not: 0.015 sold, the rest cancelled. */
static void test_limit_ioc_sell(void **state)
{
    (void)state;
    reset_books();
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_A};
    f.u.fund.key = key_of(4);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "BTC");
    f.u.fund.amount.units = 2000000;
    xr_engine_event ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    E.cust_btc[0] += 2000000;
    ev = call(limit_cmd(CUST_A, 13, XR_ENGINE_SELL, 2000000, 58900, XR_ENGINE_TIF_IOC));
    const xr_engine_exec_report_ev *r = report_of(&ev);
    const int64_t sat[2] = {1000000, 500000}, px[2] = {59900, 59950};
    expect x = {0};
    for (int v = 0; v < NVENUES; v++) {
        xr_i128 n = floor_div(notional_exact_e8(sat[v], px[v]), U8);
        xr_i128 fee = ceil_div(n * fee_bps[v], 10000);
        x.notional += n;
        x.fees += fee;
        x.filled += sat[v];
        E.pos_btc[v] += sat[v];
        E.pos_usdt[v] -= n - fee; /* the venue keeps its fee from the USDT */
    }
    x.exec = x.notional - x.fees;
    x.spread = floor_div(x.exec * SPREAD, 10000);
    x.quote = x.exec - x.spread;
    assert_true(x.exec == USDT(897551500) && x.spread == USDT(13463272));
    expect_report(r, XR_ENGINE_ORDER_CANCELLED, 2000000, &x);
    assert_true(r->avg_price.ticks >= 58900 * E.price_one);
    E.cust_btc[0] -= x.filled;
    E.cust_usdt[0] += x.quote;
    E.revenue += x.spread;
    check_all();
}

/* FOK: 0.04 is more than the depth inside the limit: refused, nothing reserved or sent;
 * 0.03 is all there: filled whole. */
static void test_limit_fok(void **state)
{
    (void)state;
    reset_books();
    xr_sim_counters before[NVENUES], after[NVENUES];
    for (int v = 0; v < NVENUES; v++)
        xr_sim_get_counters(E.sim, (uint32_t)v, &before[v]);
    xr_engine_event ev =
        call(limit_cmd(CUST_A, 11, XR_ENGINE_BUY, 4000000, L_BUY, XR_ENGINE_TIF_FOK));
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INSUFFICIENT_LIQUIDITY);
    for (int i = 0; i < 30; i++)
        pump_once();
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_get_counters(E.sim, (uint32_t)v, &after[v]);
        assert_int_equal(after[v].orders_new, before[v].orders_new);
    }
    check_all();

    ev = call(limit_cmd(CUST_A, 12, XR_ENGINE_BUY, 3000000, L_BUY, XR_ENGINE_TIF_FOK));
    const xr_engine_exec_report_ev *r = report_of(&ev);
    const fill f[] = {{0, 1000000, 60000}, {1, 2000000, 60010}};
    expect x = book_buy(0, f, 2);
    expect_report(r, XR_ENGINE_ORDER_FILLED, 3000000, &x);
    check_all();
}

/* Child limits of a buy at 60900 all in: A 59940.48, B 59880.0: below both venues' asks, so
 * it rests; its internal-book price is 60900 / 1.015 = 60000. */
#define L_REST 60900

/* GTC buy below the market: OPEN with its reservation held; when venue A's ask comes down to
 * 59930 the order routes there and fills: an unsolicited FILLED report with its own
 * correlation id. */
static void test_gtc_rests_then_routes(void **state)
{
    (void)state;
    reset_books();
    uint64_t corr = submit(limit_cmd(CUST_A, 20, XR_ENGINE_BUY, 1000000, L_REST, 0));
    xr_engine_event ev = wait_corr(corr);
    const xr_engine_exec_report_ev *r = report_of(&ev);
    assert_int_equal(r->status, XR_ENGINE_ORDER_OPEN);
    assert_true(r->filled.units == 0);
    res_usdt[0] = buy_reserve(1000000, L_REST);
    no_more_events();
    check_all();

    /* status from the store; a resend of the key answers the OPEN report again */
    xr_engine_cmd s = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_A};
    s.u.ref.key = key_of(20);
    ev = call(s);
    assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
    assert_int_equal(ev.u.order.report.status, XR_ENGINE_ORDER_OPEN);
    assert_int_equal(ev.u.order.type, XR_ENGINE_LIMIT);
    ev = call(limit_cmd(CUST_A, 20, XR_ENGINE_BUY, 1000000, L_REST, 0));
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    assert_int_equal(ev.u.report.replayed, 1);

    level(0, XR_SIM_ASK, 59930, 1000); /* inside A's child limit 59940.48 */
    ev = wait_corr(corr);
    r = report_of(&ev);
    const fill f[] = {{0, 1000000, 59930}};
    expect x = book_buy(0, f, 1);
    /* 599.30 + 0.5993 = 599.8993; spread floor(8.9984895) = 8.998489 */
    assert_true(x.exec == USDT(599899300) && x.spread == USDT(8998489));
    expect_report(r, XR_ENGINE_ORDER_FILLED, 1000000, &x);
    assert_true(r->avg_price.ticks <= L_REST * E.price_one);
    res_usdt[0] = 0;
    no_more_events();
    check_all();
    /* decided when the market reached it: A's ask was 59930 then */
    const int64_t ask2[NVENUES] = {59930, 60010};
    ev = status_bx(CUST_A, 20, std_bid, ask2);
    assert_int_equal(ev.u.order.report.status, XR_ENGINE_ORDER_FILLED);
}

/* CANCEL of a resting order: the CANCEL is answered by the final report (CANCELLED), the
 * order's own correlation id gets it too; the reservation is released; a second CANCEL is
 * INVALID_STATE; another customer's key is NOT_FOUND. */
static void test_cancel_resting(void **state)
{
    (void)state;
    reset_books();
    uint64_t corr = submit(limit_cmd(CUST_A, 21, XR_ENGINE_BUY, 1000000, L_REST, 0));
    xr_engine_event ev = wait_corr(corr);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    res_usdt[0] = buy_reserve(1000000, L_REST);
    check_all();

    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_B};
    c.u.ref.key = key_of(21);
    ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT); /* CUST_B is not registered yet */
    assert_int_equal(ev.u.reject.err, XR_ERR_NOT_FOUND);

    c.customer_id = CUST_A;
    uint64_t cc = submit(c);
    ev = wait_corr(cc);
    const xr_engine_exec_report_ev *r = report_of(&ev);
    expect zero = {0};
    expect_report(r, XR_ENGINE_ORDER_CANCELLED, 1000000, &zero);
    ev = wait_corr(corr);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 1000000, &zero);
    res_usdt[0] = 0;
    no_more_events();
    check_all();

    ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_STATE);
}

/* GTD: an expiry in the past is INVALID_ARGUMENT; a resting GTD order expires: an
 * unsolicited EXPIRED report and its reservation released. */
static void test_gtd_expiry(void **state)
{
    (void)state;
    xr_engine_cmd c = limit_cmd(CUST_A, 22, XR_ENGINE_BUY, 1000000, L_REST, XR_ENGINE_TIF_GTD);
    c.u.order.expire_ns = xr_clock_wall_ns() - 1;
    xr_engine_event ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_REJECT);
    assert_int_equal(ev.u.reject.err, XR_ERR_INVALID_ARGUMENT);
    check_all();

    c.u.order.expire_ns = xr_clock_wall_ns() + 400 * 1000000ll;
    uint64_t corr = submit(c);
    ev = wait_corr(corr);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    res_usdt[0] = buy_reserve(1000000, L_REST);
    check_all();
    ev = wait_corr(corr);
    expect zero = {0};
    expect_report(report_of(&ev), XR_ENGINE_ORDER_EXPIRED, 1000000, &zero);
    assert_true(xr_clock_wall_ns() >= c.u.order.expire_ns);
    res_usdt[0] = 0;
    no_more_events();
    check_all();
}

/* Two client orders cross in the internal book, no venue involved: A's GTC buy at 60900 rests
 * at 60000 (60900 / 1.015); B's GTC sell at 59100 (internal price 59100 / 0.985 = 60000; its
 * child limits 60059.5 and 60119.8 are above both venues' bids) crosses it at the resting
 * price 60000: A pays 600 + 1.5% = 609, B receives 600 - 1.5% = 591, 18 USDT is revenue. */
static void test_internal_cross(void **state)
{
    (void)state;
    reset_books();
    et_register_and_fund(CUST_B, 1, 0 + 1, 2, true); /* 0.000001 USDT: accounts exist */
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_B};
    f.u.fund.key = key_of(3);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "BTC");
    f.u.fund.amount.units = 5000000;
    xr_engine_event ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    E.cust_btc[1] += 5000000;
    check_all();

    xr_sim_counters before[NVENUES], after[NVENUES];
    for (int v = 0; v < NVENUES; v++)
        xr_sim_get_counters(E.sim, (uint32_t)v, &before[v]);
    uint64_t ca = submit(limit_cmd(CUST_A, 23, XR_ENGINE_BUY, 1000000, L_REST, 0));
    ev = wait_corr(ca);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    uint64_t cb = submit(limit_cmd(CUST_B, 24, XR_ENGINE_SELL, 1000000, 59100, 0));
    ev = wait_corr(cb);
    expect xb = {.notional = USDT(600000000),
                 .spread = USDT(9000000),
                 .exec = USDT(600000000),
                 .quote = USDT(591000000),
                 .filled = 1000000};
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 1000000, &xb);
    assert_int_equal(ev.u.report.venues, 0);
    assert_true(ev.u.report.avg_price.ticks == 59100 * E.price_one);
    ev = wait_corr(ca);
    expect xa = {.notional = USDT(600000000),
                 .spread = USDT(9000000),
                 .exec = USDT(600000000),
                 .quote = USDT(609000000),
                 .filled = 1000000};
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 1000000, &xa);
    assert_true(ev.u.report.avg_price.ticks == L_REST * E.price_one);
    E.cust_usdt[0] -= xa.quote;
    E.cust_btc[0] += 1000000;
    E.cust_usdt[1] += xb.quote;
    E.cust_btc[1] -= 1000000;
    E.revenue += xa.spread + xb.spread;
    no_more_events();
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_get_counters(E.sim, (uint32_t)v, &after[v]);
        assert_int_equal(after[v].orders_new, before[v].orders_new);
    }
    check_all();
}

/* A partial cross: A's GTC buy of 0.02 at 60900 rests; B sells 0.005 at 59100: it fills
 * whole at 60000, A keeps resting with 0.015 (and the rest of its reservation); then A is
 * cancelled: its 0.005 is booked, the remainder voided. */
static void test_internal_partial_cross(void **state)
{
    (void)state;
    reset_books();
    uint64_t ca = submit(limit_cmd(CUST_A, 27, XR_ENGINE_BUY, 2000000, L_REST, 0));
    xr_engine_event ev = wait_corr(ca);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    res_usdt[0] = buy_reserve(2000000, L_REST);
    uint64_t cb = submit(limit_cmd(CUST_B, 28, XR_ENGINE_SELL, 500000, 59100, 0));
    ev = wait_corr(cb);
    /* 0.005 x 60000 = 300; spread 4.5 */
    expect xb = {.notional = USDT(300000000),
                 .spread = USDT(4500000),
                 .exec = USDT(300000000),
                 .quote = USDT(295500000),
                 .filled = 500000};
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 500000, &xb);
    E.cust_usdt[1] += xb.quote;
    E.cust_btc[1] -= 500000;
    E.revenue += xb.spread;
    no_more_events();
    /* A's fill is booked before it rests again (an interim booking): its 0.005 for 304.5,
     * and the rest of its reservation held again under a new reservation. */
    expect xa = {.notional = USDT(300000000),
                 .spread = USDT(4500000),
                 .exec = USDT(300000000),
                 .quote = USDT(304500000),
                 .filled = 500000};
    xr_engine_cmd s = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = CUST_A};
    s.u.ref.key = key_of(27);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        ev = call(s);
        assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
        if (ev.u.order.report.quote.units != 0)
            break;
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
    expect_report(&ev.u.order.report, XR_ENGINE_ORDER_PARTIALLY_FILLED, 2000000, &xa);
    assert_int_equal(ev.u.order.n_children, 1);
    assert_int_equal(ev.u.order.children[0].venue, 0xFFFF); /* an internal cross */
    E.cust_usdt[0] -= xa.quote;
    E.cust_btc[0] += 500000;
    E.revenue += xa.spread;
    res_usdt[0] -= xa.quote;
    check_all(); /* the omnibus is flat again: both sides are booked */

    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    c.u.ref.key = key_of(27);
    uint64_t cc = submit(c);
    ev = wait_corr(cc);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 2000000, &xa);
    ev = wait_corr(ca);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 2000000, &xa);
    res_usdt[0] = 0;
    no_more_events();
    check_all();
}

/* Closes the engine ("crash" between two commands), checks the books, opens it again and
 * waits until the consolidated book shows `asks` ask levels and the resend `resend` of a resting
 * order's key is answered (its reconciliation
 * is done: it rests again); returns that answer (replayed). */
static xr_engine_event restart(xr_engine_cmd resend, int asks)
{
    xr_engine_close(E.eng);
    E.eng = NULL;
    check_all();
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    et_wait_book(asks, false);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = call(resend);
        if (ev.kind == XR_ENGINE_EV_EXEC_REPORT) {
            assert_int_equal(ev.u.report.replayed, 1);
            return ev;
        }
        assert_int_equal(ev.u.reject.err, XR_ERR_AGAIN);
        assert_true(xr_clock_mono_ns() < end);
        pump_once();
    }
}

/* A GTC buy of 0.04 at 61100: 0.03 fills on arrival (A 0.01 at 60000, B 0.02 at 60010) and is
 * booked at once; the answer is PARTIALLY_FILLED with those amounts, 0.01 rests with the rest
 * of the reservation held. Then it is cancelled: the remainder voided, the report the same. */
static void test_gtc_partial_then_rest(void **state)
{
    (void)state;
    reset_books();
    uint64_t corr = submit(limit_cmd(CUST_A, 29, XR_ENGINE_BUY, 4000000, L_BUY, 0));
    xr_engine_event ev = wait_corr(corr);
    const fill f[] = {{0, 1000000, 60000}, {1, 2000000, 60010}};
    expect x = book_buy(0, f, 2);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_PARTIALLY_FILLED, 4000000, &x);
    res_usdt[0] = buy_reserve(4000000, L_BUY) - x.quote;
    no_more_events();
    check_all(); /* booked: customer, venue positions and the simulator agree */

    /* it survives a restart with its booked part and its second reservation */
    ev = restart(limit_cmd(CUST_A, 29, XR_ENGINE_BUY, 4000000, L_BUY, 0), 2);
    expect_report(&ev.u.report, XR_ENGINE_ORDER_PARTIALLY_FILLED, 4000000, &x);
    check_all();

    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    c.u.ref.key = key_of(29);
    uint64_t cc = submit(c);
    ev = wait_corr(cc);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 4000000, &x);
    ev = wait_corr(corr);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 4000000, &x);
    assert_true(ev.u.report.avg_price.ticks <= L_BUY * E.price_one);
    res_usdt[0] = 0;
    no_more_events();
    check_all();
}

/* CANCEL while the order's children are at the venues (submitted right behind the order):
 * the IOC children run out, what filled is booked, the remainder is cancelled instead of
 * resting. Both the order and the CANCEL get the CANCELLED report. */
static void test_cancel_routed(void **state)
{
    (void)state;
    reset_books();
    uint64_t corr = submit(limit_cmd(CUST_A, 25, XR_ENGINE_BUY, 4000000, L_BUY, 0));
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    c.u.ref.key = key_of(25);
    uint64_t cc = submit(c);
    xr_engine_event ev = wait_corr(corr);
    const fill f[] = {{0, 1000000, 60000}, {1, 2000000, 60010}};
    expect x = book_buy(0, f, 2);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 4000000, &x);
    ev = wait_corr(cc);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_CANCELLED, 4000000, &x);
    no_more_events();
    check_all();
}

/* A resting order survives a restart: reloaded from the order store into the internal book
 * with its reservation, then routed when the market reaches it; its report carries the
 * correlation id it was submitted with. */
static void test_restart_resting(void **state)
{
    (void)state;
    reset_books();
    uint64_t corr = submit(limit_cmd(CUST_A, 26, XR_ENGINE_BUY, 1000000, L_REST, 0));
    xr_engine_event ev = wait_corr(corr);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    res_usdt[0] = buy_reserve(1000000, L_REST);
    no_more_events();

    ev = restart(limit_cmd(CUST_A, 26, XR_ENGINE_BUY, 1000000, L_REST, 0), 4);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_OPEN);
    check_all();

    level(0, XR_SIM_ASK, 59930, 1000);
    ev = wait_corr(corr);
    const fill f[] = {{0, 1000000, 59930}};
    expect x = book_buy(0, f, 1);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 1000000, &x);
    res_usdt[0] = 0;
    no_more_events();
    check_all();
}

/* No heap allocation on the order path after start, in xroute's code: LIMIT IOC, a GTC order
 * that rests and is cancelled, and a MARKET order, through submit and poll (after the orders
 * above warmed the engine up). LMDB's own (a cursor object per write transaction, and page
 * lists) are counted and printed, not refused: they are inside the ledger's durable commit. */
static void test_no_alloc_on_order_path(void **state)
{
    (void)state;
    if (!XR_COUNT_ALLOCS)
        skip();
    reset_books();
    unsigned long n = 0;
    allocs = 0;
    xr_engine_event ev =
        counted_call(limit_cmd(CUST_A, 40, XR_ENGINE_BUY, 1000000, L_BUY, XR_ENGINE_TIF_IOC), &n);
    const fill f1[] = {{0, 1000000, 60000}};
    expect x = book_buy(0, f1, 1);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 1000000, &x);
    ev = counted_call(limit_cmd(CUST_A, 41, XR_ENGINE_BUY, 1000000, L_REST, 0), &n);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_OPEN);
    uint64_t open_corr = E.corr;
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    c.u.ref.key = key_of(41);
    ev = counted_call(c, &n);
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_CANCELLED);
    ev = wait_corr(open_corr); /* the order's own final report */
    assert_int_equal(report_of(&ev)->status, XR_ENGINE_ORDER_CANCELLED);
    ev = counted_call(order_cmd(CUST_A, 42, XR_ENGINE_BUY, 1000000), &n);
    const fill f2[] = {{1, 1000000, 60010}};
    x = book_buy(0, f2, 1);
    expect_report(report_of(&ev), XR_ENGINE_ORDER_FILLED, 1000000, &x);
    no_more_events();
    check_all();
    assert_true(n <= sizeof alloc_caller / sizeof alloc_caller[0]);
    unsigned long lmdb = 0, other = 0;
    for (unsigned long i = 0; i < n; i++) {
        Dl_info di;
        memset(&di, 0, sizeof di);
        (void)dladdr(alloc_caller[i], &di);
        if ((di.dli_fname != NULL && strstr(di.dli_fname, "lmdb") != NULL) ||
            (di.dli_sname != NULL && strncmp(di.dli_sname, "mdb_", 4) == 0)) {
            lmdb++;
        } else {
            other++;
            fprintf(stderr, "allocation from %p (%s, %s)\n", alloc_caller[i],
                    di.dli_fname != NULL ? di.dli_fname : "?",
                    di.dli_sname != NULL ? di.dli_sname : "?");
        }
    }
    print_message("heap allocations in the engine's calls for 4 commands: %lu in LMDB, %lu "
                  "elsewhere\n",
                  lmdb, other);
    assert_true(other == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_ioc_partial),
        cmocka_unit_test(test_limit_ioc_sell),
        cmocka_unit_test(test_limit_fok),
        cmocka_unit_test(test_gtc_rests_then_routes),
        cmocka_unit_test(test_cancel_resting),
        cmocka_unit_test(test_gtd_expiry),
        cmocka_unit_test(test_internal_cross),
        cmocka_unit_test(test_internal_partial_cross),
        cmocka_unit_test(test_gtc_partial_then_rest),
        cmocka_unit_test(test_cancel_routed),
        cmocka_unit_test(test_restart_resting),
        cmocka_unit_test(test_no_alloc_on_order_path),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
