/* Pricing: scripted books on several venues with hand-computed walks (averages, plans, fees,
 * spread and customer amounts exact to the minor unit), rounding directions, lot / tick /
 * min-notional / max-quantity rules with reallocation, stale and unsynced venues, the
 * cross-venue rule, the spread table, firm quotes (expiry, slippage, single use, store full,
 * other bank), and a randomized comparison of the walk against a naive GMP reference over
 * thousands of random books, which also checks the rounding invariants of docs/ledger.md on
 * every result.
 *
 * Scales of the scripted pair BTC/USD: base 8 (satoshi), quote 2 (cents), price 2 (a tick is a
 * cent per BTC). So 1 BTC = 100000000 units and a notional is sum(qty x ticks) / 10^8 cents.
 *
 * XR_TEST_SEED overrides the random seed (printed), XR_TEST_CASES the number of random books. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gmp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pricing/pricing.h"

#define SEC     1000000000ull
#define BTC     100000000ll /* units of 1 BTC */
#define MAXLV   64
#define NVENUES 6

/* ---- fixtures ----------------------------------------------------------------------------- */

typedef struct tvenue {
    xr_book book;
    void *mem;
    xr_instrument inst;
} tvenue;

typedef struct fixture {
    xr_pricing p;
    void *mem;
    uint32_t pair;
    xr_pair_scale scale;
    tvenue v[NVENUES];
    uint32_t nv;
} fixture;

static const xr_pair_scale scale_btcusd = {8, 2, 2};

static void inst_make(xr_instrument *in, const xr_pair_scale *sc)
{
    memset(in, 0, sizeof *in);
    strcpy(in->symbol, "BTCUSD");
    strcpy(in->canonical, "BTC/USD");
    strcpy(in->base, "BTC");
    strcpy(in->quote, "USD");
    in->scale = *sc;
    in->status = XR_INSTRUMENT_TRADING;
}

/* Replaces the book's content with bids and asks ({price, qty} pairs, any order), in parts. */
static void book_set(xr_book *b, const int64_t *bids, uint32_t nb, const int64_t *asks, uint32_t na,
                     uint64_t id, uint64_t now)
{
    static xr_ev_book ev;
    uint32_t ib = 0, ia = 0;
    bool first = true;
    do {
        memset(&ev, 0, sizeof ev);
        ev.first_id = ev.last_id = id;
        ev.part = first ? XR_EV_BOOK_PART_FIRST : 0;
        while (ib < nb && ev.n_bids + ev.n_asks < XR_EV_BOOK_LEVELS_MAX) {
            ev.levels[ev.n_bids].price.ticks = bids[2 * ib];
            ev.levels[ev.n_bids++].qty.units = bids[2 * ib + 1];
            ib++;
        }
        while (ia < na && ev.n_bids + ev.n_asks < XR_EV_BOOK_LEVELS_MAX) {
            xr_book_level *l = &ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - ev.n_asks++];
            l->price.ticks = asks[2 * ia];
            l->qty.units = asks[2 * ia + 1];
            ia++;
        }
        if (ib == nb && ia == na)
            ev.part |= XR_EV_BOOK_PART_LAST;
        xr_book_outcome o;
        assert_int_equal(xr_book_apply_snapshot(b, &ev, now, &o), XR_OK);
        first = false;
    } while (ib < nb || ia < na);
}

static void fx_init(fixture *f, const xr_pair_scale *sc, uint32_t quotes_max)
{
    memset(f, 0, sizeof *f);
    xr_pricing_config cfg = {4, 64, quotes_max, 5 * SEC, 50, 500};
    size_t len = xr_pricing_footprint(&cfg);
    assert_true(len > 0);
    f->mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_non_null(f->mem);
    assert_int_equal(xr_pricing_init(&f->p, f->mem, len, &cfg), XR_OK);
    f->scale = *sc;
    assert_int_equal(xr_pricing_add_pair(&f->p, "BTC/USD", 7, sc, &f->pair), XR_OK);
}

/* Adds venue `id` with `fee_bps`, rules from `rules` (may be NULL), and a fresh book. */
static tvenue *fx_venue(fixture *f, uint16_t id, uint16_t fee_bps, const xr_instrument *rules,
                        uint64_t stale_ns)
{
    tvenue *v = &f->v[f->nv++];
    xr_book_config bc = {MAXLV, stale_ns};
    size_t len = xr_book_footprint(&bc);
    v->mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_non_null(v->mem);
    assert_int_equal(xr_book_init(&v->book, v->mem, len, &bc), XR_OK);
    if (rules != NULL)
        v->inst = *rules;
    else
        inst_make(&v->inst, &f->scale);
    xr_pricing_venue pv = {&v->book, &v->inst, id, fee_bps};
    assert_int_equal(xr_pricing_add_venue(&f->p, f->pair, &pv), XR_OK);
    return v;
}

static void fx_free(fixture *f)
{
    for (uint32_t i = 0; i < f->nv; i++)
        free(f->v[i].mem);
    free(f->mem);
}

#define SET(v, bids, asks)                                                                         \
    book_set(&(v)->book, bids, (uint32_t)(sizeof(bids) / sizeof(int64_t) / 2), asks,               \
             (uint32_t)(sizeof(asks) / sizeof(int64_t) / 2), 1, 0)

static const xr_pricing_leg *leg_of(const xr_pricing_fill *fl, uint16_t venue)
{
    for (uint32_t i = 0; i < fl->n_legs; i++)
        if (fl->legs[i].venue == venue)
            return &fl->legs[i];
    return NULL;
}

static void expect_leg(const xr_pricing_fill *fl, uint16_t venue, int64_t qty, int64_t limit,
                       int64_t notional, int64_t fee)
{
    const xr_pricing_leg *l = leg_of(fl, venue);
    assert_non_null(l);
    assert_int_equal((int64_t)l->qty.units, qty);
    assert_int_equal((int64_t)l->limit.ticks, limit);
    assert_int_equal((int64_t)l->notional.units, notional);
    assert_int_equal((int64_t)l->fee.units, fee);
}

static xr_amount amt(int64_t u)
{
    return (xr_amount){u};
}

/* Three venues: A (id 1, 10 bps), B (id 2, 20 bps), C (id 3, no fee). */
static void three_venues(fixture *f)
{
    fx_init(f, &scale_btcusd, 16);
    tvenue *a = fx_venue(f, 1, 10, NULL, 0);
    tvenue *b = fx_venue(f, 2, 20, NULL, 0);
    tvenue *c = fx_venue(f, 3, 0, NULL, 0);
    static const int64_t a_bids[] = {9990, 1 * BTC, 9900, 1 * BTC};
    static const int64_t a_asks[] = {10000, 1 * BTC, 10100, 2 * BTC};
    static const int64_t b_bids[] = {10000, 40000000};
    static const int64_t b_asks[] = {10001, 50000000, 10050, 1 * BTC};
    static const int64_t c_bids[] = {9980, 2 * BTC};
    static const int64_t c_asks[] = {10020, 30000000, 10200, 5 * BTC};
    SET(a, a_bids, a_asks);
    SET(b, b_bids, b_asks);
    SET(c, c_bids, c_asks);
    assert_int_equal(xr_pricing_set_spread(&f->p, 7, f->pair, 1, 150), XR_OK);
}

/* ---- scripted walks ----------------------------------------------------------------------- */

static void test_init_and_registration(void **state)
{
    (void)state;
    xr_pricing_config bad = {0, 1, 1, 1, 0, 0};
    assert_int_equal(xr_pricing_footprint(&bad), 0);
    xr_pricing_config cfg = {1, 1, 1, 1, 0, 0};
    size_t len = xr_pricing_footprint(&cfg);
    assert_true(len > 0);
    void *mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    xr_pricing p;
    assert_int_equal(xr_pricing_init(&p, mem, len - 1, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pricing_init(&p, (char *)mem + 8, len, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pricing_init(&p, mem, len, &cfg), XR_OK);
    uint32_t id;
    assert_int_equal(xr_pricing_add_pair(&p, "BTCUSD", 6, &scale_btcusd, &id),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pricing_add_pair(&p, "BTC/USD", 7, &scale_btcusd, &id), XR_OK);
    assert_int_equal(id, 0);
    assert_int_equal(xr_pricing_add_pair(&p, "BTC/USD", 7, &scale_btcusd, &id),
                     XR_ERR_ALREADY_EXISTS);
    assert_int_equal(xr_pricing_add_pair(&p, "ETH/USD", 7, &scale_btcusd, &id), XR_ERR_NO_MEMORY);
    assert_int_equal(xr_pricing_find_pair(&p, "BTC/USD", 7, &id), XR_OK);
    assert_int_equal(xr_pricing_find_pair(&p, "ETH/USD", 7, &id), XR_ERR_UNKNOWN_PAIR);

    xr_book book;
    xr_instrument in;
    inst_make(&in, &scale_btcusd);
    xr_pricing_venue pv = {&book, &in, 1, 10};
    assert_int_equal(xr_pricing_add_venue(&p, 1, &pv), XR_ERR_UNKNOWN_PAIR);
    pv.fee_bps = XR_PRICING_FEE_BPS_MAX + 1;
    assert_int_equal(xr_pricing_add_venue(&p, 0, &pv), XR_ERR_INVALID_ARGUMENT);
    pv.fee_bps = 10;
    in.scale.price = 8; /* a venue at another price scale would mix units */
    assert_int_equal(xr_pricing_add_venue(&p, 0, &pv), XR_ERR_CONFIG);
    in.scale = scale_btcusd;
    assert_int_equal(xr_pricing_add_venue(&p, 0, &pv), XR_OK);
    assert_int_equal(xr_pricing_add_venue(&p, 0, &pv), XR_ERR_ALREADY_EXISTS);
    assert_int_equal(xr_pricing_set_fee(&p, 0, 1, 5), XR_OK);
    assert_int_equal(xr_pricing_set_fee(&p, 0, 9, 5), XR_ERR_NOT_FOUND);

    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&p, 3, XR_SIDE_BUY, XR_PRICING_BASE, amt(1), 0, &fl),
                     XR_ERR_UNKNOWN_PAIR);
    assert_int_equal(xr_pricing_walk(&p, 0, XR_SIDE_NONE, XR_PRICING_BASE, amt(1), 0, &fl),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pricing_walk(&p, 0, XR_SIDE_BUY, XR_PRICING_BASE, amt(0), 0, &fl),
                     XR_ERR_INVALID_AMOUNT);
    free(mem);
}

/* Buy 2 BTC. Asks net of fee (price x (10^4 + fee)): A 100.00 -> 100100000, C 100.20 ->
 * 100200000, B 100.01 -> 100210020, B 100.50 -> 100701000, A 101.00 -> 101101000, C 102.00.
 * So A 1.0 @ 100.00, C 0.3 @ 100.20, B 0.5 @ 100.01, B 0.2 @ 100.50: B's best price is not
 * its best net of fees.
 *   A: notional 100.00, fee ceil(10.000) = 10 cents
 *   B: 50.005 + 20.10 = 70.105 -> ceil 70.11; fee ceil(7011 x 20 / 10^4 = 14.022) = 15 cents
 *   C: 30.06, no fee
 *   N = 200.17, F = 0.25, executable 200.42; average price (200.165 / 2 = 100.0825 -> up)
 *   100.09, net (200.42 / 2) 100.21; worst 100.50.
 *   Spread 150 bps: floor(20042 x 150 / 10^4 = 300.63) = 300; the customer pays 203.42, a
 *   price of 101.71. */
static void test_buy_base_three_venues(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(2 * BTC), 1, &fl), XR_OK);
    assert_int_equal(fl.n_legs, 3);
    assert_int_equal(fl.venues_usable, 3);
    expect_leg(&fl, 1, 1 * BTC, 10000, 10000, 10);
    expect_leg(&fl, 2, 70000000, 10050, 7011, 15);
    expect_leg(&fl, 3, 30000000, 10020, 3006, 0);
    assert_int_equal(leg_of(&fl, 2)->levels, 2);
    assert_int_equal((int64_t)fl.base.units, 2 * BTC);
    assert_int_equal((int64_t)fl.notional.units, 20017);
    assert_int_equal((int64_t)fl.fees.units, 25);
    assert_int_equal((int64_t)fl.executable.units, 20042);
    assert_int_equal((int64_t)fl.avg_price.ticks, 10009);
    assert_int_equal((int64_t)fl.avg_price_net.ticks, 10021);
    assert_int_equal((int64_t)fl.worst_price.ticks, 10050);

    xr_quote_request rq = {7, 42, f.pair, XR_SIDE_BUY, 1, XR_QUOTE_FIX_TARGET, amt(2 * BTC)};
    xr_quote q;
    assert_int_equal(xr_pricing_price(&f.p, &rq, 1, &q, NULL), XR_OK);
    assert_int_equal(q.id, 0);
    assert_int_equal(q.spread_bps, 150);
    assert_int_equal((int64_t)q.spread.units, 300);
    assert_int_equal((int64_t)q.quote.units, 20342);
    assert_int_equal((int64_t)q.source_amount.units, 20342);
    assert_int_equal((int64_t)q.target_amount.units, 2 * BTC);
    assert_int_equal((int64_t)q.price.ticks, 10171);
    assert_int_equal((int64_t)q.executable_price.ticks, 10021);
    assert_int_equal((int64_t)q.fees.units, 25);
    fx_free(&f);
}

/* Sell 1.5 BTC. Bids net of fee (price x (10^4 - fee)): A 99.90 -> 99800100, B 100.00 ->
 * 99800000, C 99.80 -> 99800000 (a tie: B was registered first), A 99.00 -> 98901000.
 * So A 1.0 @ 99.90, B 0.4 @ 100.00, C 0.1 @ 99.80.
 *   A: 99.90, fee ceil(9.99) = 10; B: 40.00, fee 8; C: 9.98, no fee.
 *   N = 149.88, F = 0.18, executable (received) 149.70; average 149.88 / 1.5 = 99.92;
 *   net 149.70 / 1.5 = 99.80; worst 99.80.
 *   Spread 150 bps: floor(14970 x 150 / 10^4 = 224.55) = 224; the customer receives 147.46,
 *   a price of 98.30666.. -> down 98.30. */
static void test_sell_base_tie_break(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(150000000), 1, &fl),
        XR_OK);
    assert_int_equal(fl.n_legs, 3);
    expect_leg(&fl, 1, 1 * BTC, 9990, 9990, 10);
    expect_leg(&fl, 2, 40000000, 10000, 4000, 8);
    expect_leg(&fl, 3, 10000000, 9980, 998, 0);
    assert_int_equal((int64_t)fl.notional.units, 14988);
    assert_int_equal((int64_t)fl.fees.units, 18);
    assert_int_equal((int64_t)fl.executable.units, 14970);
    assert_int_equal((int64_t)fl.avg_price.ticks, 9992);
    assert_int_equal((int64_t)fl.avg_price_net.ticks, 9980);
    assert_int_equal((int64_t)fl.worst_price.ticks, 9980);

    xr_quote_request rq = {7, 42, f.pair, XR_SIDE_SELL, 1, XR_QUOTE_FIX_SOURCE, amt(150000000)};
    xr_quote q;
    assert_int_equal(xr_pricing_price(&f.p, &rq, 1, &q, NULL), XR_OK);
    assert_int_equal((int64_t)q.spread.units, 224);
    assert_int_equal((int64_t)q.quote.units, 14746);
    assert_int_equal((int64_t)q.source_amount.units, 150000000);
    assert_int_equal((int64_t)q.target_amount.units, 14746);
    assert_int_equal((int64_t)q.price.ticks, 9830);
    /* The customer's amount, the spread and the fees are exactly the venue notional. */
    assert_true(q.quote.units + q.spread.units + q.fees.units == q.notional.units);
    fx_free(&f);
}

/* Buying more than the usable depth: INSUFFICIENT_LIQUIDITY with the part that fills. */
static void test_insufficient_liquidity(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(10 * BTC), 1, &fl),
        XR_ERR_INSUFFICIENT_LIQUIDITY);
    /* All bids: A 2 BTC, B 0.4, C 2. */
    assert_int_equal((int64_t)fl.base.units, 440000000);
    assert_int_equal(fl.n_legs, 3);
    expect_leg(&fl, 1, 2 * BTC, 9900, 9990 + 9900, 20);
    fx_free(&f);
}

/* "Buy BTC for 1000.00 USD" and "sell BTC to receive 1000.00 USD" with a 100 bps spread, one
 * venue with a 10 bps fee, lot 0.0001 BTC:
 *   buy: walk budget floor(100000 x 10^4 / 10100) = 99009 cents; n <= floor(99009 x 10^4 /
 *   10010) = 98910, so 9.8910 BTC for 989.10 + fee ceil(98.91) = 0.99 -> 990.09; spread
 *   floor(99009 x 0.01) = 990; the customer pays 999.99 (<= 1000.00) for 9.8910 BTC.
 *   sell: walk target ceil(100000 x 10^4 / 9900) = 101011; n >= ceil(101011 x 10^4 / 9990) =
 *   101113 (101112.11..), so 10.1113 BTC for 1011.13 - fee ceil(101.113) = 1.02 -> 1010.11;
 *   spread floor(1010.11) = 1010; the customer receives 1000.01 (>= 1000.00). */
static void test_quote_amount_sides(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument in;
    inst_make(&in, &scale_btcusd);
    in.lot_step.units = 10000;
    tvenue *v = fx_venue(&f, 1, 10, &in, 0);
    static const int64_t bids[] = {9999, 20 * BTC};
    static const int64_t asks[] = {10000, 20 * BTC};
    SET(v, bids, asks);
    assert_int_equal(xr_pricing_set_spread(&f.p, 7, XR_PRICING_ANY_PAIR, XR_PRICING_ANY_TIER, 100),
                     XR_OK);

    xr_quote_request rq = {7, 1, f.pair, XR_SIDE_BUY, 0, XR_QUOTE_FIX_SOURCE, amt(100000)};
    xr_quote q;
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_price(&f.p, &rq, 1, &q, &fl), XR_OK);
    assert_int_equal((int64_t)q.base.units, 989100000);
    assert_int_equal((int64_t)q.notional.units, 98910);
    assert_int_equal((int64_t)q.fees.units, 99);
    assert_int_equal((int64_t)q.executable.units, 99009);
    assert_int_equal((int64_t)q.spread.units, 990);
    assert_int_equal((int64_t)q.quote.units, 99999);
    assert_int_equal((int64_t)q.source_amount.units, 99999);

    static const int64_t bids2[] = {10000, 20 * BTC};
    static const int64_t asks2[] = {10001, 20 * BTC};
    SET(v, bids2, asks2);
    rq.side = XR_SIDE_SELL;
    rq.fixed = XR_QUOTE_FIX_TARGET;
    assert_int_equal(xr_pricing_price(&f.p, &rq, 1, &q, &fl), XR_OK);
    assert_int_equal((int64_t)q.base.units, 1011130000);
    assert_int_equal((int64_t)q.notional.units, 101113);
    assert_int_equal((int64_t)q.fees.units, 102);
    assert_int_equal((int64_t)q.executable.units, 101011);
    assert_int_equal((int64_t)q.spread.units, 1010);
    assert_int_equal((int64_t)q.quote.units, 100001);
    assert_int_equal((int64_t)q.target_amount.units, 100001);

    /* A budget too small for one lot: below min size. */
    rq.side = XR_SIDE_BUY;
    rq.fixed = XR_QUOTE_FIX_SOURCE;
    rq.amount = amt(1);
    assert_int_equal(xr_pricing_price(&f.p, &rq, 1, &q, &fl), XR_ERR_BELOW_MIN_SIZE);
    fx_free(&f);
}

/* Lot steps: A (lot 0.001, best) takes what its lot allows, B (lot 1 satoshi) the rest. A
 * size finer than the finest lot is refused. */
static void test_lot_step(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument ia, ib;
    inst_make(&ia, &scale_btcusd);
    ia.lot_step.units = 100000;
    inst_make(&ib, &scale_btcusd);
    ib.lot_step.units = 1000;
    tvenue *a = fx_venue(&f, 1, 0, &ia, 0);
    tvenue *b = fx_venue(&f, 2, 0, &ib, 0);
    static const int64_t none[] = {1, 1};
    static const int64_t a_asks[] = {10000, 1 * BTC};
    static const int64_t b_asks[] = {10001, 1 * BTC};
    SET(a, none, a_asks);
    SET(b, none, b_asks);
    xr_pricing_fill fl;
    /* 0.00250 BTC: A 0.002, B 0.0005. B's notional 0.0005 x 100.01 = 0.050005 -> 6 cents. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(250000), 1, &fl), XR_OK);
    expect_leg(&fl, 1, 200000, 10000, 20, 0);
    expect_leg(&fl, 2, 50000, 10001, 6, 0);
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(250001), 1, &fl),
        XR_ERR_INVALID_AMOUNT);
    fx_free(&f);
}

/* Min notional and min quantity: a leg below its venue's minimum is dropped and its quantity
 * goes to the next venues; when every leg is too small, BELOW_MIN_SIZE. */
static void test_min_notional_reallocation(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument ia, ib;
    inst_make(&ia, &scale_btcusd);
    ia.notional_min.units = 1000; /* 10.00 USD */
    inst_make(&ib, &scale_btcusd);
    ib.qty_min.units = 1000000; /* 0.01 BTC */
    tvenue *a = fx_venue(&f, 1, 0, &ia, 0);
    tvenue *b = fx_venue(&f, 2, 0, &ib, 0);
    static const int64_t none[] = {1, 1};
    static const int64_t a_asks[] = {10000, 1 * BTC};
    static const int64_t b_asks[] = {9990, 4000000, 10010, 1 * BTC};
    SET(a, none, a_asks);
    SET(b, none, b_asks);
    xr_pricing_fill fl;
    /* 0.05 BTC: B 0.04 @ 99.90, then A 0.01 @ 100.00 = 1.00 USD < 10.00: A dropped, B takes
     * 0.01 more at 100.10: 3.996 + 1.001 = 4.997 -> ceil 5.00. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(5000000), 1, &fl), XR_OK);
    assert_int_equal(fl.n_legs, 1);
    assert_int_equal(fl.venues_dropped, 1);
    expect_leg(&fl, 2, 5000000, 10010, 500, 0);
    /* 0.005 BTC: B's leg is below its 0.01 minimum, A's 0.50 USD below 10.00. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(500000), 1, &fl),
        XR_ERR_BELOW_MIN_SIZE);
    assert_int_equal(fl.n_legs, 0);
    assert_int_equal((int64_t)fl.base.units, 0);
    /* 0.2 BTC: B 0.04 + 0.16, nothing dropped... B is cheaper at its first level only; A's
     * 100.00 beats B's 100.10: B 0.04 @ 99.90, A 0.16 @ 100.00 (16.00 >= 10.00). */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(20000000), 1, &fl), XR_OK);
    expect_leg(&fl, 1, 16000000, 10000, 1600, 0);
    expect_leg(&fl, 2, 4000000, 9990, 400, 0);
    fx_free(&f);
}

/* qty_max caps a venue; notional_max likewise (at the limit price); the rest is reallocated. */
static void test_max_caps(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument ia;
    inst_make(&ia, &scale_btcusd);
    ia.qty_max.units = 50000000;
    tvenue *a = fx_venue(&f, 1, 0, &ia, 0);
    tvenue *b = fx_venue(&f, 2, 0, NULL, 0);
    static const int64_t none[] = {1, 1};
    static const int64_t a_asks[] = {10000, 1 * BTC, 10001, 1 * BTC};
    static const int64_t b_asks[] = {10100, 5 * BTC};
    SET(a, none, a_asks);
    SET(b, none, b_asks);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(1 * BTC), 1, &fl), XR_OK);
    expect_leg(&fl, 1, 50000000, 10000, 5000, 0);
    expect_leg(&fl, 2, 50000000, 10100, 5050, 0);

    f.v[0].inst.qty_max.units = 0;
    f.v[0].inst.notional_max.units = 7550; /* 75.50 USD */
    /* A: 0.755 BTC @ 100.00 = 75.50 at the limit; B the remaining 0.245. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(1 * BTC), 1, &fl), XR_OK);
    expect_leg(&fl, 1, 75500000, 10000, 7550, 0);
    expect_leg(&fl, 2, 24500000, 10100, 2475 /* 24.745 -> up */, 0);
    fx_free(&f);
}

/* A level off the venue's tick (it should not happen; a venue changed its tick) gives a limit
 * rounded away from the customer: a buy up, a sell down. */
static void test_tick_rounding_of_limits(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument ia;
    inst_make(&ia, &scale_btcusd);
    ia.tick.ticks = 5;
    tvenue *a = fx_venue(&f, 1, 0, &ia, 0);
    static const int64_t bids[] = {10002, 1 * BTC};
    static const int64_t asks[] = {10003, 1 * BTC};
    SET(a, bids, asks);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC / 2), 1, &fl), XR_OK);
    expect_leg(&fl, 1, BTC / 2, 10005, 5002 /* 50.015 -> up */, 0);
    assert_int_equal((int64_t)fl.worst_price.ticks, 10003);
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(BTC / 2), 1, &fl), XR_OK);
    expect_leg(&fl, 1, BTC / 2, 10000, 5001 /* 50.01 */, 0);
    fx_free(&f);
}

/* Stale and unsynced venues are left out; all stale halts with STALE, all unsynced with
 * VENUE_UNAVAILABLE; a venue whose own book is crossed is left out like an unsynced one. */
static void test_stale_and_unsynced(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    tvenue *a = fx_venue(&f, 1, 0, NULL, 2 * SEC);
    tvenue *b = fx_venue(&f, 2, 0, NULL, 10 * SEC);
    fx_venue(&f, 3, 0, NULL, 0); /* never synced */
    static const int64_t bids[] = {9900, 1 * BTC};
    static const int64_t a_asks[] = {10000, 1 * BTC};
    static const int64_t b_asks[] = {10100, 1 * BTC};
    SET(a, bids, a_asks);
    SET(b, bids, b_asks);
    xr_pricing_fill fl;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 1 * SEC, &fl), XR_OK);
    expect_leg(&fl, 1, BTC, 10000, 10000, 0);
    assert_int_equal(fl.venues_usable, 2);
    /* At 5 s A is stale: B prices alone. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 5 * SEC, &fl), XR_OK);
    assert_null(leg_of(&fl, 1));
    expect_leg(&fl, 2, BTC, 10100, 10100, 0);
    xr_pricing_bbo bbo;
    assert_int_equal(xr_pricing_bbo_get(&f.p, f.pair, 5 * SEC, &bbo), XR_OK);
    assert_int_equal(bbo.venues_usable, 1);
    assert_int_equal(bbo.venues_stale, 1);
    assert_int_equal(bbo.venues_unavailable, 1);
    assert_int_equal((int64_t)bbo.ask.ticks, 10100);
    /* At 20 s everything synced is stale. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 20 * SEC, &fl),
        XR_ERR_STALE);
    assert_int_equal(fl.n_legs, 0);
    xr_quote_request rq = {7, 1, f.pair, XR_SIDE_BUY, 0, XR_QUOTE_FIX_TARGET, amt(BTC)};
    xr_quote q;
    assert_int_equal(xr_pricing_set_spread(&f.p, 7, f.pair, XR_PRICING_ANY_TIER, 10), XR_OK);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 20 * SEC, &q, NULL), XR_ERR_STALE);
    /* Unsynced only. */
    xr_book_reset(&a->book);
    xr_book_reset(&b->book);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 1, &fl),
                     XR_ERR_VENUE_UNAVAILABLE);
    /* A halted instrument is unavailable too. */
    SET(a, bids, a_asks);
    a->inst.status = XR_INSTRUMENT_HALTED;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 1, &fl),
                     XR_ERR_VENUE_UNAVAILABLE);
    fx_free(&f);
}

/* Across venues a bid above another venue's ask is an arbitrage and is priced; a cross beyond
 * cross_halt_bps (500 here) is bad data and halts the pair. */
static void test_cross_venue_rule(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    tvenue *a = fx_venue(&f, 1, 0, NULL, 0);
    tvenue *b = fx_venue(&f, 2, 0, NULL, 0);
    static const int64_t a_bids[] = {10050, 1 * BTC};
    static const int64_t a_asks[] = {10060, 1 * BTC};
    static const int64_t b_bids[] = {9990, 1 * BTC};
    static const int64_t b_asks[] = {10000, 1 * BTC};
    SET(a, a_bids, a_asks);
    SET(b, b_bids, b_asks);
    xr_pricing_bbo bbo;
    assert_int_equal(xr_pricing_bbo_get(&f.p, f.pair, 1, &bbo), XR_OK);
    assert_true(bbo.cross_venue);
    assert_int_equal((int64_t)bbo.bid.ticks, 10050);
    assert_int_equal(bbo.bid_venue, 1);
    assert_int_equal((int64_t)bbo.ask.ticks, 10000);
    assert_int_equal(bbo.ask_venue, 2);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 1, &fl),
                     XR_OK);
    expect_leg(&fl, 2, BTC, 10000, 10000, 0);

    /* 106.00 bid against a 100.00 ask: 6% > 5%. */
    static const int64_t bad_bids[] = {10600, 1 * BTC};
    static const int64_t bad_asks[] = {10700, 1 * BTC};
    SET(a, bad_bids, bad_asks);
    assert_int_equal(xr_pricing_bbo_get(&f.p, f.pair, 1, &bbo), XR_ERR_INVALID_STATE);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(BTC), 1, &fl),
                     XR_ERR_INVALID_STATE);
    xr_book_level lv[8];
    uint32_t n;
    assert_int_equal(xr_pricing_depth(&f.p, f.pair, XR_SIDE_SELL, 1, lv, 8, &n),
                     XR_ERR_INVALID_STATE);

    /* Exactly 5% is still an arbitrage. */
    static const int64_t edge_bids[] = {10500, 1 * BTC};
    SET(a, edge_bids, bad_asks);
    assert_int_equal(xr_pricing_bbo_get(&f.p, f.pair, 1, &bbo), XR_OK);
    fx_free(&f);
}

static void test_consolidated_depth(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_book_level lv[8];
    uint32_t n;
    assert_int_equal(xr_pricing_depth(&f.p, f.pair, XR_SIDE_BUY, 1, lv, 8, &n), XR_OK);
    /* Bids: B 100.00 x 0.4, A 99.90 x 1, C 99.80 x 2, A 99.00 x 1. */
    assert_int_equal(n, 4);
    assert_int_equal((int64_t)lv[0].price.ticks, 10000);
    assert_int_equal((int64_t)lv[0].qty.units, 40000000);
    assert_int_equal((int64_t)lv[3].price.ticks, 9900);
    assert_int_equal(xr_pricing_depth(&f.p, f.pair, XR_SIDE_SELL, 1, lv, 2, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_int_equal((int64_t)lv[0].price.ticks, 10000);
    assert_int_equal((int64_t)lv[1].price.ticks, 10001);
    /* Equal prices on two venues merge. */
    static const int64_t bids[] = {9990, 5};
    static const int64_t asks[] = {10000, 7};
    SET(&f.v[2], bids, asks);
    assert_int_equal(xr_pricing_depth(&f.p, f.pair, XR_SIDE_SELL, 1, lv, 1, &n), XR_OK);
    assert_int_equal((int64_t)lv[0].qty.units, 100000007);
    fx_free(&f);
}

static void test_spread_table(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 4);
    uint32_t bps;
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, f.pair, 2, &bps), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, XR_PRICING_ANY_PAIR, XR_PRICING_ANY_TIER, 200),
                     XR_OK);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, XR_PRICING_ANY_PAIR, 2, 180), XR_OK);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, f.pair, XR_PRICING_ANY_TIER, 160), XR_OK);
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, f.pair, 3, &bps), XR_OK);
    assert_int_equal(bps, 160);
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, 99, 2, &bps), XR_OK);
    assert_int_equal(bps, 180);
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, 99, 3, &bps), XR_OK);
    assert_int_equal(bps, 200);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, f.pair, 2, 150), XR_OK);
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, f.pair, 2, &bps), XR_OK);
    assert_int_equal(bps, 150);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, f.pair, 2, 140), XR_OK); /* replaces */
    assert_int_equal(xr_pricing_get_spread(&f.p, 1, f.pair, 2, &bps), XR_OK);
    assert_int_equal(bps, 140);
    assert_int_equal(xr_pricing_get_spread(&f.p, 2, f.pair, 2, &bps), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, f.pair, 2, 10000), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pricing_set_spread(&f.p, 1, 5, 2, 10), XR_ERR_UNKNOWN_PAIR);
    /* 64 entries configured by fx_init: fill it. */
    xr_err last = XR_OK;
    for (uint32_t bank = 100; bank < 200 && last == XR_OK; bank++)
        last = xr_pricing_set_spread(&f.p, bank, f.pair, 0, 10);
    assert_int_equal(last, XR_ERR_NO_MEMORY);
    fx_free(&f);
}

/* ---- firm quotes -------------------------------------------------------------------------- */

static void test_firm_quote_lifecycle(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_quote_request rq = {7, 42, f.pair, XR_SIDE_BUY, 1, XR_QUOTE_FIX_TARGET, amt(2 * BTC)};
    xr_quote q, e;
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 100, &q, NULL), XR_OK);
    assert_int_equal(q.id, 1);
    assert_int_equal(q.expires_ns, 100 + 5 * SEC);
    assert_int_equal((int64_t)q.quote.units, 20342);

    /* Unknown id, another customer, another bank: not found. */
    assert_int_equal(xr_pricing_execute(&f.p, 2, 7, 42, 200, &e, &fl), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_execute(&f.p, 0, 7, 42, 200, &e, &fl), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 43, 200, &e, &fl), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 8, 42, 200, &e, &fl), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_quote_get(&f.p, 1, 8, 42, &e), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_quote_get(&f.p, 1, 7, 42, &e), XR_OK);
    assert_false(e.executed);

    /* Executes once, at the quoted amounts, with the fresh plan. */
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 42, 200, &e, &fl), XR_OK);
    assert_true(e.executed);
    assert_int_equal((int64_t)e.quote.units, 20342);
    assert_int_equal((int64_t)fl.base.units, 2 * BTC);
    assert_int_equal(fl.n_legs, 3);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 42, 300, &e, &fl), XR_ERR_INVALID_STATE);

    /* Expiry: at expires_ns exactly the quote is gone. */
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1000, &q, NULL), XR_OK);
    assert_int_equal(q.id, 2);
    assert_int_equal(xr_pricing_execute(&f.p, 2, 7, 42, 1000 + 5 * SEC, &e, &fl),
                     XR_ERR_QUOTE_EXPIRED);
    assert_int_equal(xr_pricing_execute(&f.p, 2, 7, 42, 1000 + 5 * SEC - 1, &e, &fl), XR_OK);
    fx_free(&f);
}

/* Slippage 50 bps of the executable amount (20042 cents for 2 BTC): up to 20142.21 passes. */
static void test_firm_quote_slippage(void **state)
{
    (void)state;
    fixture f;
    three_venues(&f);
    xr_quote_request rq = {7, 42, f.pair, XR_SIDE_BUY, 1, XR_QUOTE_FIX_TARGET, amt(2 * BTC)};
    xr_quote q, e;
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1, &q, NULL), XR_OK);
    assert_int_equal((int64_t)q.executable.units, 20042);

    /* A's asks move up by 0.50: A 1.0 @ 100.50 (100.60 net) now comes after B's 100.50 ...
     * net of fees C 0.3 @ 100.20 (100.2), B 0.5 @ 100.01 (100.21), A 1.0 @ 100.50
     * (100.6005), B 0.2 @ 100.50 (100.701): A 100.50 + fee ceil(10.05) = 0.11, B 70.11 +
     * 0.15, C 30.06: executable 200.93 <= 200.42 x 1.005 = 201.42. */
    static const int64_t a_bids[] = {9990, 1 * BTC};
    static const int64_t a_asks1[] = {10050, 1 * BTC, 10100, 2 * BTC};
    SET(&f.v[0], a_bids, a_asks1);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 42, 2, &e, &fl), XR_OK);
    assert_int_equal((int64_t)fl.executable.units, 20093);
    assert_true(fl.executable.units * 10000 <= q.executable.units * 10050);

    /* A new quote, then the market moves 1%: refused, nothing changes, and it can be retried. */
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 3, &q, NULL), XR_OK);
    static const int64_t b_bids[] = {10000, 40000000};
    static const int64_t up_a[] = {10250, 1 * BTC, 10300, 2 * BTC};
    static const int64_t up_b[] = {10250, 50000000, 10300, 1 * BTC};
    static const int64_t up_c[] = {10250, 30000000, 10300, 5 * BTC};
    static const int64_t c_bids[] = {9980, 2 * BTC};
    SET(&f.v[0], a_bids, up_a);
    SET(&f.v[1], b_bids, up_b);
    SET(&f.v[2], c_bids, up_c);
    assert_int_equal(xr_pricing_execute(&f.p, q.id, 7, 42, 4, &e, &fl), XR_ERR_SLIPPAGE_EXCEEDED);
    assert_int_equal(xr_pricing_quote_get(&f.p, q.id, 7, 42, &e), XR_OK);
    assert_false(e.executed);
    /* The market comes back: the same quote executes. */
    static const int64_t a_asks[] = {10000, 1 * BTC, 10100, 2 * BTC};
    static const int64_t b_asks[] = {10001, 50000000, 10050, 1 * BTC};
    static const int64_t c_asks[] = {10020, 30000000, 10200, 5 * BTC};
    SET(&f.v[0], a_bids, a_asks);
    SET(&f.v[1], b_bids, b_asks);
    SET(&f.v[2], c_bids, c_asks);
    assert_int_equal(xr_pricing_execute(&f.p, q.id, 7, 42, 5, &e, &fl), XR_OK);

    /* A sell quote: lower proceeds beyond 50 bps are refused. */
    rq.side = XR_SIDE_SELL;
    rq.fixed = XR_QUOTE_FIX_SOURCE;
    rq.amount = amt(BTC);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 6, &q, NULL), XR_OK);
    static const int64_t low_bids[] = {9000, 2 * BTC};
    SET(&f.v[0], low_bids, a_asks);
    SET(&f.v[1], low_bids, b_asks);
    SET(&f.v[2], low_bids, c_asks);
    assert_int_equal(xr_pricing_execute(&f.p, q.id, 7, 42, 7, &e, &fl), XR_ERR_SLIPPAGE_EXCEEDED);
    fx_free(&f);
}

/* The store never overwrites a live quote; executed and expired slots are reused. */
static void test_quote_store_full(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 2);
    tvenue *a = fx_venue(&f, 1, 0, NULL, 0);
    static const int64_t bids[] = {9990, 10 * BTC};
    static const int64_t asks[] = {10000, 10 * BTC};
    SET(a, bids, asks);
    assert_int_equal(xr_pricing_set_spread(&f.p, 7, f.pair, XR_PRICING_ANY_TIER, 0), XR_OK);
    xr_quote_request rq = {7, 42, f.pair, XR_SIDE_BUY, 1, XR_QUOTE_FIX_TARGET, amt(BTC)};
    xr_quote q, e;
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1, &q, NULL), XR_OK);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1, &q, NULL), XR_OK);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1, &q, NULL), XR_ERR_NO_MEMORY);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 42, 2, &e, &fl), XR_OK);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 2, &q, NULL), XR_OK); /* reuses quote 1's slot */
    assert_int_equal(q.id, 3);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 3, &q, NULL), XR_ERR_NO_MEMORY);
    assert_int_equal(xr_pricing_quote(&f.p, &rq, 1 + 5 * SEC, &q, NULL), XR_OK); /* 2 expired */
    assert_int_equal(q.id, 4);
    /* Quote 1's slot now holds 3: 1 is not found any more. */
    assert_int_equal(xr_pricing_quote_get(&f.p, 1, 7, 42, &e), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_quote_get(&f.p, 3, 7, 42, &e), XR_OK);
    fx_free(&f);
}

/* ---- randomized comparison with a naive GMP reference ------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t rbelow(rng *r, int64_t n)
{
    return (int64_t)(rnext(r) % (uint64_t)n);
}

/* The reference's view of one venue. */
typedef struct rvenue {
    bool usable;
    int64_t fee, lot, tick, qty_min, qty_max, nmin, nmax;
    uint32_t n;
    int64_t px[MAXLV], qty[MAXLV]; /* best first */
} rvenue;

typedef struct rlevel {
    uint32_t v, k;
    mpz_t eff;
} rlevel;

typedef struct rleg {
    mpz_t qty, raw, limit, notional, fee;
    uint32_t levels;
} rleg;

typedef struct rcase {
    bool buy;
    xr_pricing_size_kind kind;
    int64_t amount;
    int64_t num, den;
    uint32_t nv;
    rvenue v[NVENUES];
} rcase;

static bool lvl_before(const rcase *c, const rlevel *x, const rlevel *y)
{
    int cmp = mpz_cmp(x->eff, y->eff);
    if (cmp != 0)
        return c->buy ? cmp < 0 : cmp > 0;
    if (x->v != y->v)
        return x->v < y->v;
    return x->k < y->k;
}

/* notional of a raw sum, rounded against the customer: buy ceil, sell floor. */
static void r_notional(const rcase *c, mpz_t out, const mpz_t raw)
{
    mpz_t t;
    mpz_init(t);
    mpz_mul_si(t, raw, c->num);
    if (c->buy)
        mpz_cdiv_q_ui(out, t, (unsigned long)c->den);
    else
        mpz_fdiv_q_ui(out, t, (unsigned long)c->den);
    mpz_clear(t);
}

/* Executable amount over all legs. */
static void r_exec(const rcase *c, rleg *legs, mpz_t total)
{
    mpz_set_ui(total, 0);
    for (uint32_t i = 0; i < c->nv; i++) {
        r_notional(c, legs[i].notional, legs[i].raw);
        mpz_mul_si(legs[i].fee, legs[i].notional, c->v[i].fee);
        mpz_cdiv_q_ui(legs[i].fee, legs[i].fee, 10000);
        if (c->buy) {
            mpz_add(total, total, legs[i].notional);
            mpz_add(total, total, legs[i].fee);
        } else {
            mpz_add(total, total, legs[i].notional);
            mpz_sub(total, total, legs[i].fee);
        }
    }
}

/* The executable total if leg `i` took `q` more at `px`. */
static void r_exec_with(const rcase *c, rleg *legs, uint32_t i, int64_t q, int64_t px, mpz_t total)
{
    mpz_t save;
    mpz_init_set(save, legs[i].raw);
    mpz_t add;
    mpz_init_set_si(add, q);
    mpz_mul_si(add, add, px);
    mpz_add(legs[i].raw, legs[i].raw, add);
    r_exec(c, legs, total);
    mpz_set(legs[i].raw, save);
    mpz_clear(save);
    mpz_clear(add);
}

typedef struct rresult {
    xr_err err;
    uint32_t dropped;
    rleg legs[NVENUES];
    mpz_t base, notional, fees, exec, raw;
} rresult;

/* Naive walk: flatten every usable level, sort net of fee, take greedily; quote-side sizes
 * pick each level's quantity by binary search over whole lots with the exact total. */
static void r_walk(const rcase *c, rresult *res)
{
    uint32_t excluded = 0;
    rlevel lv[NVENUES * MAXLV];
    uint32_t nl = 0;
    for (uint32_t i = 0; i < c->nv; i++)
        for (uint32_t k = 0; k < c->v[i].n; k++) {
            lv[nl].v = i;
            lv[nl].k = k;
            mpz_init_set_si(lv[nl].eff, c->v[i].px[k]);
            mpz_mul_si(lv[nl].eff, lv[nl].eff, c->buy ? 10000 + c->v[i].fee : 10000 - c->v[i].fee);
            nl++;
        }
    /* insertion sort: small n */
    for (uint32_t i = 1; i < nl; i++)
        for (uint32_t j = i; j > 0 && lvl_before(c, &lv[j], &lv[j - 1]); j--) {
            rlevel t = lv[j];
            lv[j] = lv[j - 1];
            lv[j - 1] = t;
        }
    mpz_t total, t, u;
    mpz_inits(total, t, u, NULL);
    bool bound;
    for (;;) {
        for (uint32_t i = 0; i < c->nv; i++) {
            mpz_set_ui(res->legs[i].qty, 0);
            mpz_set_ui(res->legs[i].raw, 0);
            mpz_set_ui(res->legs[i].limit, 0);
            res->legs[i].levels = 0;
        }
        bool done[NVENUES] = {false};
        int64_t remaining = c->amount;
        bound = false;
        mpz_set_ui(total, 0);
        for (uint32_t l = 0; l < nl; l++) {
            uint32_t i = lv[l].v;
            const rvenue *v = &c->v[i];
            if (!v->usable || (excluded & (1u << i)) || done[i])
                continue;
            if (c->kind == XR_PRICING_BASE && remaining == 0)
                break;
            if (c->kind == XR_PRICING_QUOTE && !c->buy && mpz_cmp_si(total, c->amount) >= 0)
                break;
            int64_t px = v->px[lv[l].k], want = v->qty[lv[l].k];
            int64_t have = (int64_t)mpz_get_si(res->legs[i].qty);
            bool capped = false;
            if (v->qty_max > 0 && want > v->qty_max - have) {
                want = v->qty_max - have;
                capped = true;
            }
            if (v->nmax > 0) {
                /* largest q with (have + q) x px x num <= nmax x den */
                mpz_set_si(t, v->nmax);
                mpz_mul_si(t, t, c->den);
                mpz_set_si(u, px);
                mpz_mul_si(u, u, c->num);
                mpz_fdiv_q(t, t, u);
                int64_t qmax = (int64_t)mpz_get_si(t) - have;
                if (qmax < want) {
                    want = qmax < 0 ? 0 : qmax;
                    capped = true;
                }
            }
            int64_t lot = v->lot > 0 ? v->lot : 1;
            int64_t q;
            bool last = capped;
            if (c->kind == XR_PRICING_BASE) {
                if (want >= remaining) {
                    want = remaining;
                    last = true;
                }
                q = want / lot * lot;
            } else if (c->buy) {
                r_exec_with(c, res->legs, i, want, px, t);
                if (mpz_cmp_si(t, c->amount) > 0) {
                    last = true;
                    bound = true;
                }
                int64_t lo = 0, hi = want / lot; /* in lots: largest fitting */
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo + 1) / 2;
                    r_exec_with(c, res->legs, i, mid * lot, px, t);
                    if (mpz_cmp_si(t, c->amount) <= 0)
                        lo = mid;
                    else
                        hi = mid - 1;
                }
                q = lo * lot;
            } else {
                int64_t hi = want / lot;
                r_exec_with(c, res->legs, i, hi * lot, px, t);
                if (mpz_cmp_si(t, c->amount) < 0) {
                    q = hi * lot;
                } else {
                    int64_t lo = 0; /* smallest reaching the target */
                    while (lo < hi) {
                        int64_t mid = lo + (hi - lo) / 2;
                        r_exec_with(c, res->legs, i, mid * lot, px, t);
                        if (mpz_cmp_si(t, c->amount) >= 0)
                            hi = mid;
                        else
                            lo = mid + 1;
                    }
                    q = lo * lot;
                }
            }
            if (q > 0) {
                mpz_add_ui(res->legs[i].qty, res->legs[i].qty, (unsigned long)q);
                mpz_set_si(u, q);
                mpz_mul_si(u, u, px);
                mpz_add(res->legs[i].raw, res->legs[i].raw, u);
                mpz_set_si(res->legs[i].limit, px);
                res->legs[i].levels++;
                remaining -= q;
                r_exec(c, res->legs, total);
            }
            if (last)
                done[i] = true;
        }
        /* The venues' order rules at the tick-rounded limit. */
        uint32_t drop = 0;
        for (uint32_t i = 0; i < c->nv; i++) {
            const rvenue *v = &c->v[i];
            if (mpz_sgn(res->legs[i].qty) == 0)
                continue;
            int64_t tick = v->tick > 0 ? v->tick : 1;
            if (c->buy)
                mpz_cdiv_q_ui(t, res->legs[i].limit, (unsigned long)tick);
            else
                mpz_fdiv_q_ui(t, res->legs[i].limit, (unsigned long)tick);
            mpz_mul_ui(res->legs[i].limit, t, (unsigned long)tick);
            int64_t qty = (int64_t)mpz_get_si(res->legs[i].qty);
            bool ok = qty % (v->lot > 0 ? v->lot : 1) == 0 && qty >= v->qty_min &&
                      (v->qty_max == 0 || qty <= v->qty_max);
            mpz_mul_si(t, res->legs[i].qty, c->num);
            mpz_mul(t, t, res->legs[i].limit);
            if (v->nmin > 0) {
                mpz_fdiv_q_ui(u, t, (unsigned long)c->den);
                ok = ok && mpz_cmp_si(u, v->nmin) >= 0;
            }
            if (v->nmax > 0) {
                mpz_cdiv_q_ui(u, t, (unsigned long)c->den);
                ok = ok && mpz_cmp_si(u, v->nmax) <= 0;
            }
            if (!ok)
                drop |= 1u << i;
        }
        if (drop == 0)
            break;
        excluded |= drop;
    }
    res->dropped = excluded;
    r_exec(c, res->legs, res->exec);
    mpz_set_ui(res->base, 0);
    mpz_set_ui(res->notional, 0);
    mpz_set_ui(res->fees, 0);
    mpz_set_ui(res->raw, 0);
    for (uint32_t i = 0; i < c->nv; i++) {
        mpz_add(res->base, res->base, res->legs[i].qty);
        mpz_add(res->notional, res->notional, res->legs[i].notional);
        mpz_add(res->fees, res->fees, res->legs[i].fee);
        mpz_add(res->raw, res->raw, res->legs[i].raw);
    }
    bool complete;
    if (c->kind == XR_PRICING_BASE)
        complete = mpz_cmp_si(res->base, c->amount) == 0;
    else if (c->buy)
        complete = bound;
    else
        complete = mpz_cmp_si(res->exec, c->amount) >= 0;
    if (mpz_sgn(res->base) == 0)
        res->err = excluded != 0 || bound ? XR_ERR_BELOW_MIN_SIZE : XR_ERR_INSUFFICIENT_LIQUIDITY;
    else
        res->err = complete ? XR_OK : XR_ERR_INSUFFICIENT_LIQUIDITY;
    for (uint32_t l = 0; l < nl; l++)
        mpz_clear(lv[l].eff);
    mpz_clears(total, t, u, NULL);
}

static void expect_mpz(const mpz_t want, xr_i128 got)
{
    char buf[64];
    mpz_get_str(buf, 10, want);
    char gbuf[64];
    xr_decimal_format(got, 0, gbuf, sizeof gbuf);
    if (strcmp(buf, gbuf) != 0)
        fail_msg("want %s got %s", buf, gbuf);
}

static uint64_t seed_value;
static long cases_total;

static void random_case(rng *r, fixture *f, rcase *c)
{
    static const xr_pair_scale scales[3] = {{8, 2, 2}, {8, 6, 2}, {0, 6, 2}};
    const xr_pair_scale *sc = &scales[rbelow(r, 3)];
    fx_init(f, sc, 4);
    memset(c, 0, sizeof *c);
    int e = sc->base + sc->price - sc->quote;
    c->num = 1;
    c->den = 1;
    for (int i = 0; i < (e < 0 ? -e : e); i++)
        *(e < 0 ? &c->num : &c->den) *= 10;
    c->buy = rbelow(r, 2) == 0;
    c->kind = rbelow(r, 3) == 0 ? XR_PRICING_QUOTE : XR_PRICING_BASE;
    c->nv = 1 + (uint32_t)rbelow(r, 5);
    static const int64_t lots_8[] = {1, 1000, 100000, 1000000};
    int64_t mid = 10000 + rbelow(r, 1000);
    int64_t depth_base = 0;
    xr_i128 depth_raw = 0; /* sum of qty x price over every level */
    int64_t lot_min = 0;
    for (uint32_t i = 0; i < c->nv; i++) {
        rvenue *v = &c->v[i];
        xr_instrument in;
        inst_make(&in, sc);
        v->usable = rbelow(r, 8) != 0;
        v->fee = rbelow(r, 4) == 0 ? 0 : rbelow(r, 40);
        v->lot = sc->base == 0 ? 1 : lots_8[rbelow(r, 4)];
        v->tick = rbelow(r, 3) == 0 ? 5 : 1;
        v->qty_min = rbelow(r, 4) == 0 ? v->lot * (1 + rbelow(r, 20)) : 0;
        v->qty_max = rbelow(r, 6) == 0 ? v->lot * (1 + rbelow(r, 2000)) : 0;
        int64_t unit_q = sc->quote == 2 ? 100 : 1000000; /* one quote asset unit */
        v->nmin = rbelow(r, 3) == 0 ? unit_q * (1 + rbelow(r, 20)) : 0;
        v->nmax = rbelow(r, 8) == 0 ? unit_q * (100 + rbelow(r, 100000)) : 0;
        in.lot_step.units = v->lot;
        in.tick.ticks = v->tick;
        in.qty_min.units = v->qty_min;
        in.qty_max.units = v->qty_max;
        in.notional_min.units = v->nmin;
        in.notional_max.units = v->nmax;
        tvenue *tv = fx_venue(f, (uint16_t)(10 + i), (uint16_t)v->fee, &in, v->usable ? 0 : 1);
        v->n = (uint32_t)rbelow(r, 21);
        int64_t levels[2 * MAXLV], other[2] = {c->buy ? 1 : 1000000, 1};
        int64_t px = c->buy ? mid + rbelow(r, 30) : mid - rbelow(r, 30);
        px -= px % v->tick;
        for (uint32_t k = 0; k < v->n; k++) {
            v->px[k] = px;
            int64_t scale_q = sc->base == 0 ? 1 + rbelow(r, 50) : v->lot * (1 + rbelow(r, 3000));
            v->qty[k] = scale_q;
            levels[2 * k] = px;
            levels[2 * k + 1] = scale_q;
            depth_base += scale_q;
            depth_raw += (xr_i128)scale_q * px;
            px += (c->buy ? 1 : -1) * v->tick * (1 + rbelow(r, 5));
        }
        /* The other side stays out of the way (and uncrossed). */
        if (c->buy)
            book_set(&tv->book, other, 1, levels, v->n, 1, 0);
        else
            book_set(&tv->book, levels, v->n, other + 0, 0, 1, 0);
        lot_min = i == 0 ? v->lot : (v->lot < lot_min ? v->lot : lot_min);
    }
    if (c->kind == XR_PRICING_BASE) {
        int64_t a = 1 + rbelow(r, depth_base > 0 ? depth_base + depth_base / 4 + 1 : 1000);
        a = (a + lot_min - 1) / lot_min * lot_min;
        c->amount = a;
    } else {
        /* a quote amount up to a quarter more than the whole depth's notional */
        int64_t total = (int64_t)(depth_raw * c->num / c->den);
        c->amount = 1 + rbelow(r, total + total / 4 + 100);
    }
}

static void test_random_walk_vs_gmp(void **state)
{
    (void)state;
    rng r = {seed_value};
    long mismatches = 0;
    long ok_cases = 0, quote_ok = 0, with_drops = 0, below_min = 0;
    for (long n = 0; n < cases_total; n++) {
        fixture f;
        rcase c;
        random_case(&r, &f, &c);
        xr_pricing_fill fl;
        xr_err err = xr_pricing_walk(&f.p, f.pair, c.buy ? XR_SIDE_BUY : XR_SIDE_SELL, c.kind,
                                     amt(c.amount), 10, &fl);
        rresult res;
        for (uint32_t i = 0; i < NVENUES; i++)
            mpz_inits(res.legs[i].qty, res.legs[i].raw, res.legs[i].limit, res.legs[i].notional,
                      res.legs[i].fee, NULL);
        mpz_inits(res.base, res.notional, res.fees, res.exec, res.raw, NULL);
        bool any_usable = false;
        for (uint32_t i = 0; i < c.nv; i++)
            any_usable |= c.v[i].usable;
        if (!any_usable) {
            assert_int_equal(err, XR_ERR_STALE);
        } else {
            r_walk(&c, &res);
            below_min += res.err == XR_ERR_BELOW_MIN_SIZE;
            if (err != res.err) {
                fprintf(stderr, "case %ld: err %s, reference %s\n", n, xr_err_name(err),
                        xr_err_name(res.err));
                mismatches++;
            }
            assert_int_equal(err, res.err);
            if (err == XR_OK || err == XR_ERR_INSUFFICIENT_LIQUIDITY) {
                ok_cases += err == XR_OK;
                quote_ok += err == XR_OK && c.kind == XR_PRICING_QUOTE;
                with_drops += fl.venues_dropped > 0;
                expect_mpz(res.base, fl.base.units);
                expect_mpz(res.notional, fl.notional.units);
                expect_mpz(res.fees, fl.fees.units);
                expect_mpz(res.exec, fl.executable.units);
                uint32_t nl = 0;
                for (uint32_t i = 0; i < c.nv; i++) {
                    if (mpz_sgn(res.legs[i].qty) == 0)
                        continue;
                    const xr_pricing_leg *l = &fl.legs[nl++];
                    assert_int_equal(l->venue, 10 + i);
                    expect_mpz(res.legs[i].qty, l->qty.units);
                    expect_mpz(res.legs[i].limit, l->limit.ticks);
                    expect_mpz(res.legs[i].notional, l->notional.units);
                    expect_mpz(res.legs[i].fee, l->fee.units);
                    assert_int_equal(res.legs[i].levels, l->levels);
                }
                assert_int_equal(nl, fl.n_legs);
                /* Rounding invariants: a buy's notional covers the exact cost, a sell's never
                 * exceeds the exact proceeds; average price on the customer's wrong side. */
                mpz_t exact, got;
                mpz_inits(exact, got, NULL);
                mpz_mul_si(exact, res.raw, c.num);
                mpz_set_si(got, (long)fl.notional.units);
                mpz_mul_si(got, got, c.den);
                assert_true(c.buy ? mpz_cmp(got, exact) >= 0 : mpz_cmp(got, exact) <= 0);
                mpz_set_si(got, (long)fl.avg_price.ticks);
                mpz_mul(got, got, res.base);
                assert_true(c.buy ? mpz_cmp(got, res.raw) >= 0 : mpz_cmp(got, res.raw) <= 0);
                mpz_clears(exact, got, NULL);
                /* Quote-side sizes: a buy costs at most the budget, a sell yields at least. */
                if (err == XR_OK && c.kind == XR_PRICING_QUOTE)
                    assert_true(c.buy ? fl.executable.units <= c.amount
                                      : fl.executable.units >= c.amount);
            }
        }
        /* The spread on any result: never above the stated rate, and the customer's amount
         * plus spread plus fees is exactly the venues' notional. */
        if (err == XR_OK) {
            uint32_t s = (uint32_t)rbelow(&r, 300);
            assert_int_equal(xr_pricing_set_spread(&f.p, 1, f.pair, 0, s), XR_OK);
            xr_quote_request rq = {1,
                                   1,
                                   f.pair,
                                   (uint8_t)(c.buy ? XR_SIDE_BUY : XR_SIDE_SELL),
                                   0,
                                   (uint8_t)(c.kind == XR_PRICING_BASE) == c.buy
                                       ? XR_QUOTE_FIX_TARGET
                                       : XR_QUOTE_FIX_SOURCE,
                                   amt(c.amount)};
            xr_quote q;
            xr_err qerr = xr_pricing_price(&f.p, &rq, 10, &q, NULL);
            if (qerr == XR_OK) {
                assert_true(q.spread.units * 10000 <= q.executable.units * (xr_i128)s);
                assert_true((q.spread.units + 1) * 10000 > q.executable.units * (xr_i128)s);
                if (c.buy) {
                    assert_true(q.quote.units == q.notional.units + q.fees.units + q.spread.units);
                    if (rq.fixed == XR_QUOTE_FIX_SOURCE)
                        assert_true(q.quote.units <= c.amount);
                } else {
                    assert_true(q.quote.units + q.fees.units + q.spread.units == q.notional.units);
                    if (rq.fixed == XR_QUOTE_FIX_TARGET)
                        assert_true(q.quote.units >= c.amount);
                }
            }
        }
        for (uint32_t i = 0; i < NVENUES; i++)
            mpz_clears(res.legs[i].qty, res.legs[i].raw, res.legs[i].limit, res.legs[i].notional,
                       res.legs[i].fee, NULL);
        mpz_clears(res.base, res.notional, res.fees, res.exec, res.raw, NULL);
        fx_free(&f);
    }
    assert_int_equal(mismatches, 0);
    printf("random walks: %ld cases, %ld filled (%ld by quote amount), %ld with dropped venues, "
           "%ld below min size\n",
           cases_total, ok_cases, quote_ok, with_drops, below_min);
    assert_true(ok_cases > cases_total / 10 && quote_ok > cases_total / 50);
    assert_true(with_drops > cases_total / 100 && below_min > 0);
}

int main(void)
{
    const char *s = getenv("XR_TEST_SEED");
    seed_value = s != NULL ? strtoull(s, NULL, 0) : 0x7072696365ull; /* "price" */
    const char *n = getenv("XR_TEST_CASES");
    cases_total = n != NULL ? strtol(n, NULL, 0) : 20000;
    printf("XR_TEST_SEED=0x%" PRIx64 " XR_TEST_CASES=%ld\n", seed_value, cases_total);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_registration),
        cmocka_unit_test(test_buy_base_three_venues),
        cmocka_unit_test(test_sell_base_tie_break),
        cmocka_unit_test(test_insufficient_liquidity),
        cmocka_unit_test(test_quote_amount_sides),
        cmocka_unit_test(test_lot_step),
        cmocka_unit_test(test_min_notional_reallocation),
        cmocka_unit_test(test_max_caps),
        cmocka_unit_test(test_tick_rounding_of_limits),
        cmocka_unit_test(test_stale_and_unsynced),
        cmocka_unit_test(test_cross_venue_rule),
        cmocka_unit_test(test_consolidated_depth),
        cmocka_unit_test(test_spread_table),
        cmocka_unit_test(test_firm_quote_lifecycle),
        cmocka_unit_test(test_firm_quote_slippage),
        cmocka_unit_test(test_quote_store_full),
        cmocka_unit_test(test_random_walk_vs_gmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
