/*
 * unit.engine_quotes: orders on a firm quote, orders with the amount fixed on the quote side,
 * and the KYC-tier daily notional caps, end to end through xroute/engine.h against the two
 * simulated venues of engine_test_util.h.
 *
 * Every expected amount is computed here from the books the test sets, with the rules of
 * docs/ledger.md ("Rounding", "Firm quotes", "Amounts fixed on the quote side"), never by
 * calling core/pricing. After every scenario the ledger verifies and every balance equals the
 * expectation (check_books), including the bank's quote P&L account; after every refusal the
 * balances are unchanged and no order reached a venue.
 */
#include "engine_test_util.h"

#include <sys/stat.h>

#include "core/engine/engine_internal.h" /* xr_eng_wall_clock: crossing a UTC midnight */

#define TTL_S     3 /* the firm quotes' lifetime in this group */
#define CAP_TIER  2
#define CAP_T2    (USDT(1500) * 1000000) /* tier 2: 1,500 USDT a day */
#define CAP_ANY   (USDT(1560) * 1000000) /* every other tier of the bank: 1,560 USDT */
#define CAP_T1    (USDT(1000000) * 1000000)
#define PNL_OWNER 1 /* the quote P&L account: SPREAD_REVENUE kind, owner 1 */

static xr_i128 pnl; /* expected balance of the bank's quote P&L account, USDT/6 */

/* ---- books ---------------------------------------------------------------------------------- */

typedef struct lv {
    int64_t usdt, lots; /* whole USDT, lots of 0.00001 BTC */
} lv;

typedef struct venue_book {
    lv asks[2], bids[2];
} venue_book;

/* The books of engine_test_util.h. */
static const venue_book DEF_A = {{{60000, 1000}, {60200, 5000}}, {{59900, 1000}, {59700, 5000}}};
static const venue_book DEF_B = {{{60010, 2000}, {60300, 5000}}, {{59950, 500}, {59600, 5000}}};

static int by_price_asc(const void *a, const void *b)
{
    const lv *x = a, *y = b;
    return x->usdt < y->usdt ? -1 : x->usdt > y->usdt;
}

/* Sets both venues' books and waits until the engine's consolidated book is exactly their
 * sum (so that a quote or an order priced next sees them). */
static void set_books(const venue_book *a, const venue_book *b)
{
    const venue_book *vb[NVENUES] = {a, b};
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_market_clear_synth(market(v));
        for (int i = 0; i < 2; i++) {
            level(v, XR_SIM_ASK, vb[v]->asks[i].usdt, vb[v]->asks[i].lots);
            level(v, XR_SIM_BID, vb[v]->bids[i].usdt, vb[v]->bids[i].lots);
        }
    }
    lv asks[4], bids[4];
    for (int v = 0; v < NVENUES; v++)
        for (int i = 0; i < 2; i++) {
            asks[2 * v + i] = vb[v]->asks[i];
            bids[2 * v + i] = vb[v]->bids[i];
        }
    qsort(asks, 4, sizeof asks[0], by_price_asc);
    qsort(bids, 4, sizeof bids[0], by_price_asc); /* ascending: compared from the end */
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        bool same = ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks == 4 && ev.u.book.n_bids == 4;
        for (int i = 0; same && i < 4; i++) {
            const xr_engine_level *ea = &ev.u.book.asks[i], *eb = &ev.u.book.bids[i];
            same = ea->price.ticks == asks[i].usdt * E.price_one &&
                   ea->qty.units == asks[i].lots * 1000 &&
                   eb->price.ticks == bids[3 - i].usdt * E.price_one &&
                   eb->qty.units == bids[3 - i].lots * 1000;
        }
        if (same)
            return;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 10; i++)
            pump_once();
    }
}

/* ---- expectations -----------------------------------------------------------------------------
 */

/* A buy leg of `sat` on venue v with notional n and fee f (quote): the venue keeps its fee
 * from the BTC it delivers (docs/ledger.md, "The venue's own fee"). */
static void exp_buy_leg(int v, int64_t sat, xr_i128 n, xr_i128 f)
{
    xr_i128 vf = ceil_div((xr_i128)sat * fee_bps[v], 10000);
    E.pos_usdt[v] += n;
    E.fee_usdt[v] += f;
    E.pos_btc[v] -= sat - vf;
    E.fee_btc[v] -= vf;
}

/* A sell leg: the venue keeps its fee from the USDT proceeds (here exact at USDT/6). */
static void exp_sell_leg(int v, int64_t sat, xr_i128 n, xr_i128 f)
{
    xr_i128 vf = ceil_div(n * fee_bps[v], 10000);
    E.pos_btc[v] += sat;
    E.pos_usdt[v] -= n - vf;
    E.fee_usdt[v] += f - vf;
}

static void check_all(void)
{
    check_books();
    EXPECT_BAL(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, PNL_OWNER, "USDT", pnl);
    EXPECT_BAL(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, PNL_OWNER, "BTC", 0);
}

/* Orders received by the venues so far (sent and refused). */
static uint64_t venue_orders(void)
{
    uint64_t n = 0;
    for (int v = 0; v < NVENUES; v++) {
        xr_sim_counters c;
        xr_sim_get_counters(E.sim, (uint32_t)v, &c);
        n += c.orders_new + c.orders_rejected;
    }
    return n;
}

/* A refused order: the reject `want`, nothing reached a venue, every balance unchanged. */
static void expect_refused(xr_engine_cmd c, xr_err want)
{
    uint64_t before = venue_orders();
    xr_engine_event ev = call(c);
    if (ev.kind != XR_ENGINE_EV_REJECT)
        fail_msg("expected reject %s, got event %d", xr_err_name(want), ev.kind);
    if (ev.u.reject.err != want)
        fail_msg("expected %s, got %s", xr_err_name(want), xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.u.reject.cmd_kind, XR_ENGINE_CMD_NEW_ORDER);
    for (int i = 0; i < 30; i++)
        pump_once();
    assert_true(venue_orders() == before);
    check_all();
}

/* ---- commands -----------------------------------------------------------------------------------
 */

static xr_engine_event quote_req(uint64_t cust, uint8_t side, uint8_t amount_side, xr_i128 amount)
{
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_QUOTE, .customer_id = cust};
    snprintf(q.u.quote.pair, sizeof q.u.quote.pair, "BTC/USDT");
    q.u.quote.side = side;
    q.u.quote.amount_side = amount_side;
    q.u.quote.amount.units = amount;
    xr_engine_event ev = call(q);
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("quote rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_QUOTE);
    return ev;
}

static xr_engine_cmd quoted_order(uint64_t cust, uint8_t k, const xr_engine_quote_ev *q)
{
    xr_engine_cmd c = order_cmd(cust, k, q->side, 0);
    c.u.order.amount_side = q->amount_side;
    c.u.order.amount.units = q->amount_side == XR_ENGINE_AMOUNT_BASE ? q->base.units : 0;
    c.u.order.quote_id = q->quote_id;
    return c;
}

static xr_engine_exec_report_ev filled(xr_engine_cmd c)
{
    xr_engine_event ev = call(c);
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("order rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_int_equal(ev.u.report.err, XR_OK);
    assert_int_equal(ev.u.report.replayed, 0);
    return ev.u.report;
}

static void register_tier(uint64_t cust, int idx, uint8_t tier, xr_i128 usdt, uint8_t k)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = cust};
    c.u.customer.kyc_tier = tier;
    xr_engine_event ev = call(c);
    assert_int_equal(ev.kind, XR_ENGINE_EV_CUSTOMER);
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = cust};
    f.u.fund.key = key_of(k);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USDT");
    f.u.fund.amount.units = usdt;
    ev = call(f);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    E.registered[idx] = true;
    E.cust_usdt[idx] += usdt;
    E.funding -= usdt;
}

/* ---- setup --------------------------------------------------------------------------------------
 */

static void open_engine(void)
{
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
}

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engine_quotes_XXXXXX");
    E.cfg.quote_ttl_ns = TTL_S * XR_NS_PER_SEC;
    E.cfg.nlimits = 3;
    E.cfg.limits[0] = (xr_engine_limit_config){.bank_id = BANK, .tier = 1, .asset = "USDT"};
    E.cfg.limits[0].daily_notional.units = CAP_T1;
    E.cfg.limits[1] = (xr_engine_limit_config){.bank_id = BANK, .tier = CAP_TIER, .asset = "USDT"};
    E.cfg.limits[1].daily_notional.units = CAP_T2;
    E.cfg.limits[2] =
        (xr_engine_limit_config){.bank_id = BANK, .tier = XR_ENGINE_ANY_TIER, .asset = "USDT"};
    E.cfg.limits[2].daily_notional.units = CAP_ANY;
    open_engine();
    open_ledger_view();
    et_wait_book(4, true);
    pnl = 0;
    return 0;
}

/* ---- firm quotes ---------------------------------------------------------------------------- */

/* The quoted buy of 0.02 BTC on the books of engine_test_util.h: 0.01 on A at 60000 (net of
 * its 10 bps 60060), 0.01 on B at 60010 (60130.02). */
typedef struct buy_quote {
    xr_i128 n_a, n_b, f_a, f_b, e, s;
} buy_quote;

static buy_quote default_buy(void)
{
    buy_quote b;
    b.n_a = ceil_div(notional_exact_e8(1000000, 60000), U8);
    b.n_b = ceil_div(notional_exact_e8(1000000, 60010), U8);
    b.f_a = ceil_div(b.n_a * fee_bps[0], 10000);
    b.f_b = ceil_div(b.n_b * fee_bps[1], 10000);
    b.e = b.n_a + b.f_a + b.n_b + b.f_b;
    b.s = floor_div(b.e * SPREAD, 10000);
    assert_true(b.e == USDT(1201900200) && b.s == USDT(18028503));
    return b;
}

static void expect_quote(const xr_engine_quote_ev *q, const buy_quote *b)
{
    assert_true(q->quote_id != 0);
    assert_true(q->base.units == 2000000);
    assert_true(q->notional.units == b->n_a + b->n_b);
    assert_true(q->fees.units == b->f_a + b->f_b);
    assert_true(q->spread.units == b->s);
    assert_true(q->quote.units == b->e + b->s);
}

/* Registration, and a quote executed on an unchanged market: exactly the quoted amounts, the
 * quoted spread as revenue, no price move. */
static void test_quote_executed(void **state)
{
    (void)state;
    register_tier(CUST_A, 0, 1, USDT(20000) * 1000000, 1);
    register_tier(CUST_B, 1, CAP_TIER, USDT(3000) * 1000000, 2);
    check_all();
    buy_quote b = default_buy();
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    expect_quote(&qe.u.quote, &b);
    check_all(); /* a quote books nothing */

    xr_engine_exec_report_ev r = filled(quoted_order(CUST_A, 10, &qe.u.quote));
    assert_true(r.ordered.units == 2000000 && r.filled.units == 2000000);
    assert_true(r.quote.units == b.e + b.s);
    assert_true(r.notional.units == b.n_a + b.n_b);
    assert_true(r.fees.units == b.f_a + b.f_b);
    assert_true(r.spread.units == b.s);
    assert_true(r.avg_price.ticks == qe.u.quote.price.ticks);
    assert_int_equal(r.venues, 2);
    E.cust_usdt[0] -= b.e + b.s;
    E.cust_btc[0] += 2000000;
    exp_buy_leg(0, 1000000, b.n_a, b.f_a);
    exp_buy_leg(1, 1000000, b.n_b, b.f_b);
    E.revenue += b.s;
    check_all();

    /* Used once: the second order on it is INVALID_STATE, nothing booked. */
    expect_refused(quoted_order(CUST_A, 11, &qe.u.quote), XR_ERR_INVALID_STATE);
    /* The first order's key still replays its report. */
    xr_engine_event ev = call(quoted_order(CUST_A, 10, &qe.u.quote));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.replayed, 1);
    assert_true(ev.u.report.quote.units == b.e + b.s);
}

/* The market moves against the house inside the tolerance: the customer still pays exactly
 * the quote, the revenue is the quoted spread, the house's P&L absorbs the move. */
static void test_quote_adverse_within_slippage(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    buy_quote b = default_buy();
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    expect_quote(&qe.u.quote, &b);

    /* A's best ask 60000 -> 60100 (net 60160.1): all 0.02 now on B at 60010 (net 60130.02). */
    venue_book a = DEF_A;
    a.asks[0].usdt = 60100;
    set_books(&a, &DEF_B);
    xr_i128 n = ceil_div(notional_exact_e8(2000000, 60010), U8);
    xr_i128 f = ceil_div(n * fee_bps[1], 10000);
    assert_true(n == USDT(1200200000) && f == USDT(2400400));
    /* Within 50 bps of the quoted executable amount (5.8 bps). */
    assert_true((n + f) * 10000 <= b.e * (10000 + SLIP));

    xr_engine_exec_report_ev r = filled(quoted_order(CUST_A, 12, &qe.u.quote));
    assert_true(r.filled.units == 2000000);
    assert_true(r.quote.units == b.e + b.s); /* the quoted amount, to the unit */
    assert_true(r.spread.units == b.s);      /* the stated spread, never more */
    assert_true(r.notional.units == n && r.fees.units == f);
    assert_int_equal(r.venues, 1);
    xr_i128 move = (b.e + b.s) - (n + f) - b.s;
    assert_true(move == -USDT(700200)); /* the house pays 0.7002 USDT */
    E.cust_usdt[0] -= b.e + b.s;
    E.cust_btc[0] += 2000000;
    exp_buy_leg(1, 2000000, n, f);
    E.revenue += b.s;
    pnl += move;
    check_all();
}

/* A quoted sell, market moved in the house's favour: the customer receives exactly the
 * quote, the revenue is the stated spread, the gain is the house's P&L (not spread). */
static void test_quote_sell_favourable(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    /* 0.01 on A at 59900 (net 59840.1) before B's 59950 (net 59830.1). */
    xr_i128 n_q = floor_div(notional_exact_e8(1000000, 59900), U8);
    xr_i128 f_q = ceil_div(n_q * fee_bps[0], 10000);
    xr_i128 e_q = n_q - f_q;
    xr_i128 s_q = floor_div(e_q * SPREAD, 10000);
    assert_true(e_q == USDT(598401000) && s_q == USDT(8976015));
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_SELL, XR_ENGINE_AMOUNT_BASE, 1000000);
    assert_true(qe.u.quote.quote.units == e_q - s_q);
    assert_true(qe.u.quote.spread.units == s_q);

    venue_book a = DEF_A;
    a.bids[0].usdt = 59980; /* A's best bid 59900 -> 59980 */
    set_books(&a, &DEF_B);
    xr_i128 n = floor_div(notional_exact_e8(1000000, 59980), U8);
    xr_i128 f = ceil_div(n * fee_bps[0], 10000);

    xr_engine_exec_report_ev r = filled(quoted_order(CUST_A, 13, &qe.u.quote));
    assert_true(r.filled.units == 1000000);
    assert_true(r.quote.units == e_q - s_q);
    assert_true(r.spread.units == s_q);
    assert_true(r.notional.units == n && r.fees.units == f);
    xr_i128 move = (n - f) - s_q - (e_q - s_q);
    assert_true(move == USDT(799200));
    E.cust_btc[0] -= 1000000;
    E.cust_usdt[0] += e_q - s_q;
    exp_sell_leg(0, 1000000, n, f);
    E.revenue += s_q;
    pnl += move;
    check_all();
}

/* Part of a quote fills: B refuses its child (the simulator's reject fault) and A has nothing
 * else inside the order's slippage bound, so only A's 0.01 of the quoted 0.02 fills. The
 * order fails with INSUFFICIENT_LIQUIDITY and what filled is booked at the quoted price, pro
 * rata: the customer pays ceil(C_q / 2), the revenue is floor(S_q / 2), the house's P&L the
 * rest. */
static void test_quote_partial_fill(void **state)
{
    (void)state;
    venue_book a = {{{60000, 1000}, {61000, 5000}}, {{59900, 1000}, {59700, 5000}}};
    set_books(&a, &DEF_B);
    buy_quote b = default_buy(); /* the walk is the same: 0.01 on A at 60000, 0.01 on B */
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    expect_quote(&qe.u.quote, &b);

    xr_sim_fault flt;
    memset(&flt, 0, sizeof flt);
    flt.kind = XR_SIM_FAULT_REJECT;
    flt.count = 1;
    flt.code = -2010;
    snprintf(flt.msg, sizeof flt.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(xr_sim_apply_fault(E.sim, 1, &flt), XR_OK);

    xr_engine_event ev = call(quoted_order(CUST_A, 16, &qe.u.quote));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("order rejected: %s", xr_err_name(ev.u.reject.err));
    const xr_engine_exec_report_ev *r = &ev.u.report;
    assert_int_equal(r->status, XR_ENGINE_ORDER_FAILED);
    assert_int_equal(r->err, XR_ERR_INSUFFICIENT_LIQUIDITY);
    xr_i128 c = ceil_div(b.e + b.s, 2), s = floor_div(b.s, 2);
    assert_true(c == USDT(609964352) && s == USDT(9014251));
    assert_true(r->ordered.units == 2000000 && r->filled.units == 1000000);
    assert_true(r->quote.units == c && r->spread.units == s);
    assert_true(r->notional.units == b.n_a && r->fees.units == b.f_a);
    xr_i128 move = c - (b.n_a + b.f_a) - s;
    assert_true(move == USDT(350101));
    E.cust_usdt[0] -= c;
    E.cust_btc[0] += 1000000;
    exp_buy_leg(0, 1000000, b.n_a, b.f_a);
    E.revenue += s;
    pnl += move;
    memset(&flt, 0, sizeof flt);
    flt.kind = XR_SIM_FAULT_CLEAR;
    assert_int_equal(xr_sim_apply_fault(E.sim, 1, &flt), XR_OK);
    check_all();
}

/* Beyond the tolerance: SLIPPAGE_EXCEEDED, nothing booked; the quote is not used up and
 * executes once the market is back. */
static void test_quote_slippage_exceeded(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    buy_quote b = default_buy();
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    expect_quote(&qe.u.quote, &b);

    /* Only A 60700 (net 60760.7) and B 60300 (net 60420.6) left: 0.02 on B at 60300 costs
     * 1206 + 2.412 = 54 bps above the quoted 1201.9002. */
    venue_book a = {{{60700, 1000}, {60800, 5000}}, {{59900, 1000}, {59700, 5000}}};
    venue_book bb = {{{60300, 5000}, {60400, 5000}}, {{59950, 500}, {59600, 5000}}};
    set_books(&a, &bb);
    xr_i128 n = ceil_div(notional_exact_e8(2000000, 60300), U8);
    xr_i128 f = ceil_div(n * fee_bps[1], 10000);
    assert_true((n + f) * 10000 > b.e * (10000 + SLIP));
    expect_refused(quoted_order(CUST_A, 14, &qe.u.quote), XR_ERR_SLIPPAGE_EXCEEDED);

    set_books(&DEF_A, &DEF_B);
    xr_engine_exec_report_ev r = filled(quoted_order(CUST_A, 15, &qe.u.quote));
    assert_true(r.quote.units == b.e + b.s && r.spread.units == b.s);
    E.cust_usdt[0] -= b.e + b.s;
    E.cust_btc[0] += 2000000;
    exp_buy_leg(0, 1000000, b.n_a, b.f_a);
    exp_buy_leg(1, 1000000, b.n_b, b.f_b);
    E.revenue += b.s;
    check_all();
}

/* Unknown id, another customer's quote, a different amount or side: refused, nothing
 * booked; after its expiry: QUOTE_EXPIRED. */
static void test_quote_refusals(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    uint64_t t0 = xr_clock_mono_ns();
    xr_engine_quote_ev q = qe.u.quote;

    xr_engine_cmd c = quoted_order(CUST_A, 20, &q);
    c.u.order.quote_id = q.quote_id + 1000;
    expect_refused(c, XR_ERR_NOT_FOUND);
    c = quoted_order(CUST_B, 21, &q); /* CUST_B's order, CUST_A's quote */
    expect_refused(c, XR_ERR_NOT_FOUND);
    c = quoted_order(CUST_A, 22, &q);
    c.u.order.amount.units = 1000000;
    expect_refused(c, XR_ERR_INVALID_ARGUMENT);
    c = quoted_order(CUST_A, 23, &q);
    c.u.order.side = XR_ENGINE_SELL;
    expect_refused(c, XR_ERR_INVALID_ARGUMENT);
    c = quoted_order(CUST_A, 24, &q);
    c.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    c.u.order.amount = q.quote;
    expect_refused(c, XR_ERR_INVALID_ARGUMENT);

    /* None of these used the quote: past its lifetime it is expired. */
    while (xr_clock_mono_ns() < t0 + (TTL_S + 1) * XR_NS_PER_SEC)
        pump_once();
    expect_refused(quoted_order(CUST_A, 25, &q), XR_ERR_QUOTE_EXPIRED);
}

/* ---- amounts fixed on the quote side -------------------------------------------------------- */

/* "Spend 700 USDT all in": budget for the walk floor(700 x 10^4 / 10150) = 689.655172; A's
 * 0.01 at 60000 costs 600.60 with its fee, the rest buys on B at 60010 (with 20 bps: 601.3002
 * USDT/6 per satoshi) floored to the lot of 0.00001. */
static void test_buy_spend_quote(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    const xr_i128 x = USDT(700) * 1000000;
    xr_i128 budget = floor_div(x * 10000, 10000 + SPREAD);
    assert_true(budget == USDT(689655172));
    xr_i128 n_a = ceil_div(notional_exact_e8(1000000, 60000), U8);
    xr_i128 f_a = ceil_div(n_a * fee_bps[0], 10000);
    /* The largest lot multiple on B whose notional + fee fits what is left. */
    int64_t sat_b = 0;
    for (int64_t q = 1000;; q += 1000) {
        xr_i128 n = ceil_div(notional_exact_e8(q, 60010), U8);
        if (n_a + f_a + n + ceil_div(n * fee_bps[1], 10000) > budget)
            break;
        sat_b = q;
    }
    assert_true(sat_b == 148000);
    xr_i128 n_b = ceil_div(notional_exact_e8(sat_b, 60010), U8);
    xr_i128 f_b = ceil_div(n_b * fee_bps[1], 10000);
    xr_i128 e = n_a + f_a + n_b + f_b;
    xr_i128 s = floor_div(e * SPREAD, 10000);
    assert_true(e + s == USDT(699936316) && e + s <= x);

    xr_engine_cmd c = order_cmd(CUST_A, 30, XR_ENGINE_BUY, x);
    c.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    xr_engine_exec_report_ev r = filled(c);
    assert_true(r.ordered.units == 1000000 + sat_b); /* the base it was sized to */
    assert_true(r.filled.units == 1000000 + sat_b);
    assert_true(r.quote.units == e + s); /* never above X; the rest is not debited */
    assert_true(r.notional.units == n_a + n_b && r.fees.units == f_a + f_b);
    assert_true(r.spread.units == s);
    E.cust_usdt[0] -= e + s;
    E.cust_btc[0] += 1000000 + sat_b;
    exp_buy_leg(0, 1000000, n_a, f_a);
    exp_buy_leg(1, sat_b, n_b, f_b);
    E.revenue += s;
    check_all();

    /* The same as a firm quote: "spend 700" quoted, then executed on the quote. */
    set_books(&DEF_A, &DEF_B);
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_QUOTE, x);
    assert_true(qe.u.quote.base.units == 1000000 + sat_b);
    assert_true(qe.u.quote.quote.units == e + s && qe.u.quote.spread.units == s);
    xr_engine_cmd qc = quoted_order(CUST_A, 34, &qe.u.quote);
    qc.u.order.amount.units = x;
    r = filled(qc);
    assert_true(r.ordered.units == 1000000 + sat_b && r.filled.units == 1000000 + sat_b);
    assert_true(r.quote.units == e + s && r.spread.units == s);
    E.cust_usdt[0] -= e + s;
    E.cust_btc[0] += 1000000 + sat_b;
    exp_buy_leg(0, 1000000, n_a, f_a);
    exp_buy_leg(1, sat_b, n_b, f_b);
    E.revenue += s;
    check_all();

    /* More than the customer has: INSUFFICIENT_FUNDS, nothing booked (2,000 USDT left after
     * a withdrawal; the books hold more than that). */
    xr_engine_cmd d = {.kind = XR_ENGINE_CMD_DEFUND, .customer_id = CUST_A};
    d.u.fund.key = key_of(3);
    snprintf(d.u.fund.asset, sizeof d.u.fund.asset, "USDT");
    d.u.fund.amount.units = E.cust_usdt[0] - USDT(2000) * 1000000;
    xr_engine_event ev = call(d);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    E.funding += d.u.fund.amount.units;
    E.cust_usdt[0] -= d.u.fund.amount.units;
    check_all();
    set_books(&DEF_A, &DEF_B);
    xr_engine_cmd big = order_cmd(CUST_A, 31, XR_ENGINE_BUY, E.cust_usdt[0] + 1);
    big.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    expect_refused(big, XR_ERR_INSUFFICIENT_FUNDS);
    /* A firm quote the customer cannot pay yet: INSUFFICIENT_FUNDS gives the quote back, so
     * after a funding it executes (new key) at the quoted amounts. 0.04 BTC: 0.01 on A at
     * 60000, 0.02 on B at 60010, then A's 60200 (net 60260.2) before B's 60300 (60420.6). */
    set_books(&DEF_A, &DEF_B);
    xr_i128 n4_a =
        ceil_div(notional_exact_e8(1000000, 60000) + notional_exact_e8(1000000, 60200), U8);
    xr_i128 n4_b = ceil_div(notional_exact_e8(2000000, 60010), U8);
    xr_i128 f4_a = ceil_div(n4_a * fee_bps[0], 10000), f4_b = ceil_div(n4_b * fee_bps[1], 10000);
    xr_i128 e4 = n4_a + f4_a + n4_b + f4_b, s4 = floor_div(e4 * SPREAD, 10000);
    assert_true(e4 + s4 == USDT(2441889436) && e4 + s4 > E.cust_usdt[0]);
    xr_engine_event q4 = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 4000000);
    assert_true(q4.u.quote.quote.units == e4 + s4 && q4.u.quote.spread.units == s4);
    expect_refused(quoted_order(CUST_A, 36, &q4.u.quote), XR_ERR_INSUFFICIENT_FUNDS);
    xr_engine_cmd fund = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_A};
    fund.u.fund.key = key_of(4);
    snprintf(fund.u.fund.asset, sizeof fund.u.fund.asset, "USDT");
    fund.u.fund.amount.units = USDT(1000) * 1000000;
    ev = call(fund);
    assert_int_equal(ev.kind, XR_ENGINE_EV_FUNDING);
    E.funding -= fund.u.fund.amount.units;
    E.cust_usdt[0] += fund.u.fund.amount.units;
    r = filled(quoted_order(CUST_A, 37, &q4.u.quote));
    assert_true(r.filled.units == 4000000 && r.quote.units == e4 + s4 && r.spread.units == s4);
    assert_true(r.notional.units == n4_a + n4_b && r.fees.units == f4_a + f4_b);
    E.cust_usdt[0] -= e4 + s4;
    E.cust_btc[0] += 4000000;
    exp_buy_leg(0, 2000000, n4_a, f4_a);
    exp_buy_leg(1, 2000000, n4_b, f4_b);
    E.revenue += s4;
    check_all();

    /* Below the venues' minimums (5 USDT notional): BELOW_MIN_SIZE. */
    xr_engine_cmd tiny = order_cmd(CUST_A, 32, XR_ENGINE_BUY, USDT(3) * 1000000);
    tiny.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    expect_refused(tiny, XR_ERR_BELOW_MIN_SIZE);
}

/* "Receive 500 USDT": the walk must yield ceil(500 x 10^4 / 9850) = 507.614214 net of fees;
 * A's bid 59900 nets 598.401 USDT/6 per satoshi, rounded up to the lot. */
static void test_sell_receive_quote(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    const xr_i128 x = USDT(500) * 1000000;
    xr_i128 target = ceil_div(x * 10000, 10000 - SPREAD);
    assert_true(target == USDT(507614214));
    int64_t sat = 0;
    for (int64_t q = 1000;; q += 1000) {
        xr_i128 n = floor_div(notional_exact_e8(q, 59900), U8);
        if (n - ceil_div(n * fee_bps[0], 10000) >= target) {
            sat = q;
            break;
        }
    }
    assert_true(sat == 849000);
    xr_i128 n = floor_div(notional_exact_e8(sat, 59900), U8);
    xr_i128 f = ceil_div(n * fee_bps[0], 10000);
    xr_i128 e = n - f, s = floor_div(e * SPREAD, 10000);
    assert_true(e - s == USDT(500421813) && e - s >= x);

    xr_engine_cmd c = order_cmd(CUST_A, 33, XR_ENGINE_SELL, x);
    c.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    xr_engine_exec_report_ev r = filled(c);
    assert_true(r.ordered.units == sat && r.filled.units == sat);
    assert_true(r.quote.units == e - s);
    assert_true(r.notional.units == n && r.fees.units == f && r.spread.units == s);
    E.cust_btc[0] -= sat;
    E.cust_usdt[0] += e - s;
    exp_sell_leg(0, sat, n, f);
    E.revenue += s;
    check_all();
}

static void sim_fault(int v, uint8_t kind)
{
    xr_sim_fault flt;
    memset(&flt, 0, sizeof flt);
    flt.kind = kind;
    assert_int_equal(xr_sim_apply_fault(E.sim, (uint32_t)v, &flt), XR_OK);
}

/* "Spend 700" again, but B's book moved where the engine cannot see it (B's feed is frozen by
 * the simulator's stale fault, then its 60010 ask becomes 60200): the plan is the one above,
 * B's child fills at 60200 inside its limit, and E + S would be 700.222304 > 700. The
 * customer pays exactly 700: the spread gives way (X - E), nothing is asked of the house. */
static void test_buy_spend_quote_fills_above_walk(void **state)
{
    (void)state;
    set_books(&DEF_A, &DEF_B);
    sim_fault(1, XR_SIM_FAULT_STALE);
    for (int i = 0; i < 20; i++)
        pump_once();
    level(1, XR_SIM_ASK, 60010, 0);
    level(1, XR_SIM_ASK, 60200, 2000);
    for (int i = 0; i < 20; i++)
        pump_once();

    const xr_i128 x = USDT(700) * 1000000;
    const int64_t sat_b = 148000; /* as in test_buy_spend_quote: the engine's book is the same */
    xr_i128 n_a = ceil_div(notional_exact_e8(1000000, 60000), U8);
    xr_i128 f_a = ceil_div(n_a * fee_bps[0], 10000);
    xr_i128 n_b = ceil_div(notional_exact_e8(sat_b, 60200), U8);
    xr_i128 f_b = ceil_div(n_b * fee_bps[1], 10000);
    xr_i128 e = n_a + f_a + n_b + f_b;
    xr_i128 s_full = floor_div(e * SPREAD, 10000);
    assert_true(e == USDT(689874192) && e + s_full == USDT(700222304));
    xr_i128 s = x - e; /* what is left under X */
    assert_true(s == USDT(10125808) && s < s_full);

    xr_engine_cmd c = order_cmd(CUST_A, 35, XR_ENGINE_BUY, x);
    c.u.order.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    xr_engine_exec_report_ev r = filled(c);
    assert_true(r.filled.units == 1000000 + sat_b);
    assert_true(r.quote.units == x);
    assert_true(r.notional.units == n_a + n_b && r.fees.units == f_a + f_b);
    assert_true(r.spread.units == s);
    E.cust_usdt[0] -= x;
    E.cust_btc[0] += 1000000 + sat_b;
    exp_buy_leg(0, 1000000, n_a, f_a);
    exp_buy_leg(1, sat_b, n_b, f_b);
    E.revenue += s;
    sim_fault(1, XR_SIM_FAULT_CLEAR);
    check_all();
}

static xr_engine_event status_of(uint64_t cust, uint8_t k)
{
    xr_engine_cmd c = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = cust};
    c.u.ref.key = key_of(k);
    return call(c);
}

/* The engine stops while the child of an order on a quote has executed at B and its answer
 * was lost (the simulator's 5xx-after-execution fault); reopened, it reconciles the order by
 * query and books it as quoted (the record's tail carries the quoted amounts), once. */
static void test_quote_restart_in_flight(void **state)
{
    (void)state;
    xr_engine_cmd fund = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST_A};
    fund.u.fund.key = key_of(5);
    snprintf(fund.u.fund.asset, sizeof fund.u.fund.asset, "USDT");
    fund.u.fund.amount.units = USDT(5000) * 1000000;
    assert_int_equal(call(fund).kind, XR_ENGINE_EV_FUNDING);
    E.funding -= fund.u.fund.amount.units;
    E.cust_usdt[0] += fund.u.fund.amount.units;
    set_books(&DEF_A, &DEF_B);
    buy_quote b = default_buy();
    xr_engine_event qe = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 2000000);
    expect_quote(&qe.u.quote, &b);
    venue_book a = DEF_A;
    a.asks[0].usdt = 60100; /* as in test_quote_adverse_within_slippage: all 0.02 on B */
    set_books(&a, &DEF_B);
    xr_i128 n = ceil_div(notional_exact_e8(2000000, 60010), U8);
    xr_i128 f = ceil_div(n * fee_bps[1], 10000);

    xr_sim_fault flt = {
        .kind = XR_SIM_FAULT_HTTP_5XX, .count = 1, .status = 503, .after_exec = true};
    assert_int_equal(xr_sim_apply_fault(E.sim, 1, &flt), XR_OK);
    xr_sim_counters c0, c1;
    xr_sim_get_counters(E.sim, 1, &c0);
    xr_engine_cmd o = quoted_order(CUST_A, 17, &qe.u.quote);
    o.bank_id = BANK;
    o.correlation_id = ++E.corr;
    assert_int_equal(xr_engine_submit(E.eng, &o), XR_OK);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev[4];
        size_t k = 0;
        assert_int_equal(xr_engine_poll(E.eng, ev, 4, &k), XR_OK);
        if (k != 0)
            fail_msg("event %d err %s", ev[0].kind,
                     ev[0].kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev[0].u.reject.err)
                                                       : xr_err_name(ev[0].u.report.err));
        assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
        xr_sim_get_counters(E.sim, 1, &c1);
        if (c1.http_5xx > c0.http_5xx && c1.orders_new > c0.orders_new)
            break; /* executed at B, answer lost */
        assert_true(xr_clock_mono_ns() < end);
    }
    xr_engine_close(E.eng);
    E.eng = NULL;
    open_engine();
    et_wait_book(3, false); /* B's 60010 is gone: A 60100, 60200, B 60300 */

    xr_engine_event ev;
    end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        ev = status_of(CUST_A, 17);
        assert_int_equal(ev.kind, XR_ENGINE_EV_ORDER);
        if (ev.u.order.report.status != XR_ENGINE_ORDER_OPEN)
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 10; i++)
            pump_once();
    }
    const xr_engine_exec_report_ev *r = &ev.u.order.report;
    assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
    assert_true(r->filled.units == 2000000);
    assert_true(r->quote.units == b.e + b.s && r->spread.units == b.s);
    assert_true(r->notional.units == n && r->fees.units == f);
    xr_sim_get_counters(E.sim, 1, &c1);
    assert_int_equal(c1.orders_new, c0.orders_new + 1); /* never sent again */
    E.cust_usdt[0] -= b.e + b.s;
    E.cust_btc[0] += 2000000;
    exp_buy_leg(1, 2000000, n, f);
    E.revenue += b.s;
    pnl += (b.e + b.s) - (n + f) - b.s;
    check_all();
}

/* ---- daily notional caps -----------------------------------------------------------------------
 */

static void buy_b(uint8_t k, int64_t sat, int64_t usdt)
{
    set_books(&DEF_A, &DEF_B);
    xr_i128 n = ceil_div(notional_exact_e8(sat, usdt), U8);
    xr_i128 f = ceil_div(n * fee_bps[0], 10000);
    xr_i128 s = floor_div((n + f) * SPREAD, 10000);
    xr_engine_exec_report_ev r = filled(order_cmd(CUST_B, k, XR_ENGINE_BUY, sat));
    assert_true(r.notional.units == n && r.quote.units == n + f + s);
    E.cust_usdt[1] -= n + f + s;
    E.cust_btc[1] += sat;
    exp_buy_leg(0, sat, n, f);
    E.revenue += s;
    check_all();
}

/* Tier 2 may trade 1,500 USDT of notional a day: two buys of 600, a sell of 299.5, then any
 * order beyond is LIMIT_EXCEEDED with nothing booked; the count survives a restart; another
 * tier's cap (the bank's default, 1,560) applies after a tier change. */
static void test_daily_cap(void **state)
{
    (void)state;
    buy_b(40, 1000000, 60000); /* 600.00: 600 used */
    buy_b(41, 1000000, 60000); /* 1,200 used */
    set_books(&DEF_A, &DEF_B);
    expect_refused(order_cmd(CUST_B, 42, XR_ENGINE_BUY, 1000000), XR_ERR_LIMIT_EXCEEDED);
    expect_refused(order_cmd(CUST_B, 43, XR_ENGINE_BUY, 600000), XR_ERR_LIMIT_EXCEEDED);

    /* A sell counts too: 0.005 on A at 59900 = 299.50, 1,499.50 used. */
    xr_i128 n = floor_div(notional_exact_e8(500000, 59900), U8);
    xr_i128 f = ceil_div(n * fee_bps[0], 10000);
    xr_i128 s = floor_div((n - f) * SPREAD, 10000);
    assert_true(n == USDT(299500000));
    xr_engine_exec_report_ev r = filled(order_cmd(CUST_B, 44, XR_ENGINE_SELL, 500000));
    assert_true(r.notional.units == n && r.quote.units == n - f - s);
    E.cust_btc[1] -= 500000;
    E.cust_usdt[1] += n - f - s;
    exp_sell_leg(0, 500000, n, f);
    E.revenue += s;
    check_all();
    /* 0.001 BTC (60.00) more would make 1,559.50 > 1,500. */
    expect_refused(order_cmd(CUST_B, 45, XR_ENGINE_BUY, 100000), XR_ERR_LIMIT_EXCEEDED);
    /* (CUST_A, tier 1, has traded more than either cap today: its own entry applies.) */

    /* A firm quote of CUST_A from before the restart. */
    xr_engine_event old = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 100000);

    /* Restart: the counter comes back from the order store. */
    xr_engine_close(E.eng);
    E.eng = NULL;
    open_engine();
    et_wait_book(4, false);
    set_books(&DEF_A, &DEF_B);
    check_all();
    expect_refused(order_cmd(CUST_B, 46, XR_ENGINE_BUY, 100000), XR_ERR_LIMIT_EXCEEDED);
    /* Quotes are not kept across a restart, and their ids are never handed out again. */
    expect_refused(quoted_order(CUST_A, 49, &old.u.quote), XR_ERR_NOT_FOUND);
    xr_engine_event fresh = quote_req(CUST_A, XR_ENGINE_BUY, XR_ENGINE_AMOUNT_BASE, 100000);
    assert_true(fresh.u.quote.quote_id > old.u.quote.quote_id);

    /* Tier 3 has no entry of its own: the bank's default 1,560 applies; 60.00 fits once. */
    xr_engine_cmd up = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = CUST_B};
    up.u.customer.kyc_tier = 3;
    xr_engine_event ev = call(up);
    assert_int_equal(ev.kind, XR_ENGINE_EV_CUSTOMER);
    buy_b(47, 100000, 60000); /* 1,559.50 used */
    set_books(&DEF_A, &DEF_B);
    expect_refused(order_cmd(CUST_B, 48, XR_ENGINE_BUY, 100000), XR_ERR_LIMIT_EXCEEDED);

    /* A refused order's key is answered the same way again (nothing counted twice). */
    expect_refused(order_cmd(CUST_B, 48, XR_ENGINE_BUY, 100000), XR_ERR_LIMIT_EXCEEDED);
}

/* A cap configuration that is inconsistent refuses to open, before anything is created. */
static void test_cap_config_errors(void **state)
{
    (void)state;
    xr_engine_config *c = malloc(sizeof *c);
    assert_non_null(c);
    struct {
        uint32_t bank;
        const char *asset;
        int64_t daily;
        uint32_t n;
        xr_err want;
    } cases[] = {
        {99, "USDT", 1, 1, XR_ERR_CONFIG},              /* unknown bank */
        {BANK, "XYZ", 1, 1, XR_ERR_CONFIG},             /* unknown asset */
        {BANK, "EUR", 1, 1, XR_ERR_CONFIG},             /* an asset of no pair */
        {BANK, "USDT", 0, 1, XR_ERR_INVALID_ARGUMENT},  /* no notional */
        {BANK, "USDT", -5, 1, XR_ERR_INVALID_ARGUMENT}, /* negative */
        {BANK, "USDT", 1, XR_ENGINE_LIMITS_MAX + 1, XR_ERR_INVALID_ARGUMENT}, /* too many */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        *c = E.cfg;
        snprintf(c->data_dir, sizeof c->data_dir, "%s/bad", E.dir);
        c->nlimits = cases[i].n;
        c->limits[0] = (xr_engine_limit_config){.bank_id = cases[i].bank, .tier = 1};
        snprintf(c->limits[0].asset, sizeof c->limits[0].asset, "%s", cases[i].asset);
        c->limits[0].daily_notional.units = cases[i].daily;
        xr_engine *e = NULL;
        xr_err err = xr_engine_open(c, &e);
        if (err != cases[i].want)
            fail_msg("case %zu: %s, expected %s", i, xr_err_name(err), xr_err_name(cases[i].want));
        assert_null(e);
        struct stat st;
        assert_int_not_equal(stat(c->data_dir, &st), 0); /* nothing created */
    }
    free(c);
}

static int64_t midnight_offset; /* added to the wall clock: just past the next UTC midnight */

static int64_t tomorrow_clock(void)
{
    return xr_clock_wall_ns() + midnight_offset;
}

/* At UTC midnight the day's count starts again from 0: 600 fits again at once; after a
 * restart (on the new day) that day's 600 is counted and 960 more reach the cap of 1,560
 * exactly, and 6 more are refused. */
static void test_daily_cap_midnight(void **state)
{
    (void)state;
    const int64_t day = INT64_C(86400) * 1000000000;
    int64_t now = xr_clock_wall_ns();
    midnight_offset = (now / day + 1) * day + (int64_t)XR_NS_PER_SEC - now;
    xr_eng_wall_clock = tomorrow_clock;
    buy_b(50, 1000000, 60000); /* 600 of the new day */

    set_books(&DEF_A, &DEF_B);
    xr_engine_close(E.eng);
    E.eng = NULL;
    open_engine();
    et_wait_book(4, false);
    /* 0.016 BTC on A at 60000 (its best ask set to that size) is 960.00 of notional. */
    venue_book a = DEF_A;
    a.asks[0].lots = 1600;
    set_books(&a, &DEF_B);
    xr_i128 n = ceil_div(notional_exact_e8(1600000, 60000), U8);
    assert_true(n == USDT(960000000)); /* 600 + 960 = the cap, exactly */
    xr_i128 f = ceil_div(n * fee_bps[0], 10000);
    xr_i128 s = floor_div((n + f) * SPREAD, 10000);
    xr_engine_exec_report_ev r = filled(order_cmd(CUST_B, 51, XR_ENGINE_BUY, 1600000));
    assert_true(r.notional.units == n && r.quote.units == n + f + s);
    E.cust_usdt[1] -= n + f + s;
    E.cust_btc[1] += 1600000;
    exp_buy_leg(0, 1600000, n, f);
    E.revenue += s;
    check_all();
    set_books(&DEF_A, &DEF_B);
    expect_refused(order_cmd(CUST_B, 52, XR_ENGINE_BUY, 10000), XR_ERR_LIMIT_EXCEEDED);
    /* A LIMIT order counts too (its whole amount at its limit). */
    xr_engine_cmd lim = order_cmd(CUST_B, 53, XR_ENGINE_BUY, 10000);
    lim.u.order.type = XR_ENGINE_LIMIT;
    lim.u.order.tif = XR_ENGINE_TIF_IOC;
    lim.u.order.limit.ticks = 61000 * E.price_one;
    expect_refused(lim, XR_ERR_LIMIT_EXCEEDED);
    xr_eng_wall_clock = xr_clock_wall_ns;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_executed),
        cmocka_unit_test(test_quote_adverse_within_slippage),
        cmocka_unit_test(test_quote_sell_favourable),
        cmocka_unit_test(test_quote_partial_fill),
        cmocka_unit_test(test_quote_slippage_exceeded),
        cmocka_unit_test(test_quote_refusals),
        cmocka_unit_test(test_buy_spend_quote),
        cmocka_unit_test(test_sell_receive_quote),
        cmocka_unit_test(test_buy_spend_quote_fills_above_walk),
        cmocka_unit_test(test_quote_restart_in_flight),
        cmocka_unit_test(test_daily_cap),
        cmocka_unit_test(test_daily_cap_midnight),
        cmocka_unit_test(test_cap_config_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
