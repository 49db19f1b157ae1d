/* Pricing: scripted books on several venues with hand-computed walks (averages, plans, fees,
 * spread and customer amounts exact to the minor unit), rounding directions, lot / tick /
 * min-notional / max-quantity rules with reallocation, stale and unsynced venues, the
 * cross-venue rule, the spread table, firm quotes (expiry, slippage, single use, store full,
 * other bank), and a randomized comparison of the walk against a naive GMP reference over
 * thousands of random books, which also checks the rounding invariants of docs/ledger.md on
 * every result. A second randomized comparison covers what the first never generates and the
 * walk's fast paths fall back on: prices far beyond the 64-bit merge keys (alone, mixed, and
 * met mid-walk), fees up to the maximum, odd, prime and wider-than-64-bit lot steps, levels
 * that are not whole lots, venues with and without caps; hand-written cases pin each fallback.
 *
 * Scales of the scripted pair BTC/USD: base 8 (satoshi), quote 2 (cents), price 2 (a tick is a
 * cent per BTC). So 1 BTC = 100000000 units and a notional is sum(qty x ticks) / 10^8 cents.
 *
 * XR_TEST_SEED overrides the random seed (printed), XR_TEST_CASES the number of random books,
 * XR_TEST_WIDE_CASES the number of the second test's books. */
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
static void book_set128(xr_book *b, const xr_i128 *bids, uint32_t nb, const xr_i128 *asks,
                        uint32_t na, uint64_t id, uint64_t now)
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

/* book_set128 from 64-bit {price, qty} pairs (at most MAXLV of each). */
static void book_set(xr_book *b, const int64_t *bids, uint32_t nb, const int64_t *asks, uint32_t na,
                     uint64_t id, uint64_t now)
{
    xr_i128 wb[2 * MAXLV] = {0}, wa[2 * MAXLV] = {0};
    assert_true(nb <= MAXLV && na <= MAXLV);
    for (uint32_t i = 0; i < 2 * nb; i++)
        wb[i] = bids[i];
    for (uint32_t i = 0; i < 2 * na; i++)
        wa[i] = asks[i];
    book_set128(b, wb, nb, wa, na, id, now);
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

/* A sell level below one tick of its venue has no limit price there: flooring it to the tick
 * gives 0, which xr_instrument_check_order reads as a MARKET order (price and notional rules
 * skipped). Such a leg must never be planned at limit 0; it is dropped like a leg that breaks
 * price_min (check_order: INVALID_AMOUNT), and its quantity goes to the other venues. */
static void test_sell_leg_never_gets_limit_zero_below_one_tick(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_btcusd, 16);
    xr_instrument ia;
    inst_make(&ia, &scale_btcusd);
    ia.tick.ticks = 5;
    ia.notional_min.units = 1000; /* 10.00 USD: skipped if the limit were 0 */
    tvenue *a = fx_venue(&f, 1, 0, &ia, 0);
    tvenue *b = fx_venue(&f, 2, 0, NULL, 0);
    static const int64_t none[] = {1000000, 1};
    static const int64_t a_bids[] = {10000, BTC / 2, 3, 1 * BTC}; /* 3 < one tick of 5 */
    static const int64_t b_bids[] = {9000, BTC / 4, 2, 1 * BTC};
    SET(a, a_bids, none);
    SET(b, b_bids, none);
    xr_pricing_fill fl;
    /* Sell 1 BTC: A 0.5 @ 100.00, B 0.25 @ 90.00, A 0.25 @ 0.03 -> A's limit floor(3 / 5) x 5 =
     * 0: A dropped. Again without A: B 0.25 @ 90.00 + 0.75 @ 0.02 = 22.515 -> floor 22.51. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(1 * BTC), 1, &fl), XR_OK);
    for (uint32_t i = 0; i < fl.n_legs; i++)
        assert_true(fl.legs[i].limit.ticks > 0);
    assert_int_equal(fl.n_legs, 1);
    assert_int_equal(fl.venues_dropped, 1);
    expect_leg(&fl, 2, 1 * BTC, 2, 2251, 0);
    /* The same with QUOTE sizing: receive at least 50.00 USD. A 0.5 @ 100.00 gives 50.00 on its
     * own and stays at limit 10000, so nothing is dropped. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_QUOTE, amt(5000), 1, &fl), XR_OK);
    expect_leg(&fl, 1, BTC / 2, 10000, 5000, 0);
    /* A alone (B halted): 0.75 BTC reaches A's sub-tick level, so A's only leg is dropped and
     * nothing is left to plan. */
    f.v[1].inst.status = XR_INSTRUMENT_HALTED;
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(3 * BTC / 4), 1, &fl),
        XR_ERR_BELOW_MIN_SIZE);
    assert_int_equal(fl.n_legs, 0);
    assert_int_equal((int64_t)fl.base.units, 0);
    /* 0.5 BTC stays above the sub-tick level: A's leg is planned at 100.00. */
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(BTC / 2), 1, &fl), XR_OK);
    expect_leg(&fl, 1, BTC / 2, 10000, 5000, 0);
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

    /* Released (its order was refused before booking): executable once more, only by its
     * bank and customer, and only while executed. */
    assert_int_equal(xr_pricing_release(&f.p, 1, 7, 43), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_release(&f.p, 9, 7, 42), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_pricing_release(&f.p, 1, 7, 42), XR_OK);
    assert_int_equal(xr_pricing_release(&f.p, 1, 7, 42), XR_ERR_INVALID_STATE);
    assert_int_equal(xr_pricing_execute(&f.p, 1, 7, 42, 300, &e, &fl), XR_OK);
    assert_int_equal((int64_t)e.quote.units, 20342);
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

/* ---- the walk's fast paths and their fallbacks -------------------------------------------- */

/* Scales 0/0/0: a notional is exactly sum(qty x price), so amounts are easy to state. */
static const xr_pair_scale scale_unit = {0, 0, 0};

#define P2(n) ((xr_i128)1 << (n))

#define SET128(v, bids, asks)                                                                      \
    book_set128(&(v)->book, bids, (uint32_t)(sizeof(bids) / sizeof(xr_i128) / 2), asks,            \
                (uint32_t)(sizeof(asks) / sizeof(xr_i128) / 2), 1, 0)

static void expect_i128(xr_i128 got, xr_i128 want, const char *what)
{
    if (got != want) {
        char g[64], w[64];
        xr_decimal_format(got, 0, g, sizeof g);
        xr_decimal_format(want, 0, w, sizeof w);
        fail_msg("%s: want %s got %s", what, w, g);
    }
}

static void expect_leg128(const xr_pricing_fill *fl, uint16_t venue, xr_i128 qty, xr_i128 limit,
                          xr_i128 notional, xr_i128 fee)
{
    const xr_pricing_leg *l = leg_of(fl, venue);
    assert_non_null(l);
    expect_i128(l->qty.units, qty, "qty");
    expect_i128(l->limit.ticks, limit, "limit");
    expect_i128(l->notional.units, notional, "notional");
    expect_i128(l->fee.units, fee, "fee");
}

/* A venue with lot `lot` (0: none) on the 0/0/0 pair. */
static tvenue *unit_venue(fixture *f, uint16_t id, uint16_t fee_bps, xr_i128 lot)
{
    xr_instrument in;
    inst_make(&in, &scale_unit);
    in.lot_step.units = lot;
    return fx_venue(f, id, fee_bps, &in, 0);
}

static const xr_i128 no_bids[] = {1, 1};

/* A BASE buy starts with 64-bit keys; when a venue's next level is priced beyond them the walk
 * must start again with 128-bit keys and merge exactly. Net of fees A's 2^60 (10 bps) is
 * 2^60 x 10010, above B's 2^60 + 1 (no fee) x 10^4, so after A 5 @ 100 and B 4 @ 200, B takes
 * the last 3: A 5 (notional 500, fee ceil(0.5) = 1), B 7 (800 + 3 x (2^60 + 1)).
 * A sell whose best bid is already beyond the fast path: A 2^61 (10 bps) nets less than
 * B 2^61 - 2^50 (no fee) since 2^61 x 10 > 2^50 x 10^4, so B fills first. */
static void test_walk_retries_in_128_bit_when_price_exceeds_64_bit_fast_path(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 10, 1);
    tvenue *b = unit_venue(&f, 2, 0, 1);
    static const xr_i128 a_asks[] = {100, 5, P2(60), 3};
    static const xr_i128 b_asks[] = {200, 4, P2(60) + 1, 10};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(12), 1, &fl),
                     XR_OK);
    assert_int_equal(fl.n_legs, 2);
    expect_leg128(&fl, 1, 5, 100, 500, 1);
    expect_leg128(&fl, 2, 7, P2(60) + 1, 3 * P2(60) + 803, 0);
    assert_int_equal(leg_of(&fl, 2)->levels, 2);
    expect_i128(fl.notional.units, 3 * P2(60) + 1303, "notional");
    expect_i128(fl.executable.units, 3 * P2(60) + 1304, "executable");
    expect_i128(fl.worst_price.ticks, P2(60) + 1, "worst");
    /* 9 stops before the big levels: the 64-bit pass alone, same merge. */
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(9), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 5, 100, 500, 1);
    expect_leg128(&fl, 2, 4, 200, 800, 0);

    static const xr_i128 a_bids[] = {P2(61), 2, 50, 10};
    static const xr_i128 b_bids[] = {P2(61) - P2(50), 5};
    static const xr_i128 no_asks[] = {P2(62), 1};
    SET128(a, a_bids, no_asks);
    SET128(b, b_bids, no_asks);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(3), 1, &fl),
                     XR_OK);
    assert_int_equal(fl.n_legs, 1);
    expect_leg128(&fl, 2, 3, P2(61) - P2(50), 3 * (P2(61) - P2(50)), 0);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_SELL, XR_PRICING_BASE, amt(7), 1, &fl),
                     XR_OK);
    /* A: 2 x 2^61 = 2^62, fee ceil(2^62 x 10 / 10^4) = ceil(2^62 / 1000). */
    expect_leg128(&fl, 1, 2, P2(61), P2(62), (P2(62) + 999) / 1000);
    expect_leg128(&fl, 2, 5, P2(61) - P2(50), 5 * (P2(61) - P2(50)), 0);
    fx_free(&f);
}

/* Around the bound of the 64-bit keys, K = floor((2^64 - 1) / 11000): K x 11000 fits, but at
 * K + 1 with the highest fee the key wraps in 64 bits to 4384, which would sort before every
 * real level. Net of fees: A 10000 (no fee), D K + 2 (no fee), C K (1000 bps), B K + 1 (1000
 * bps); buying 3 takes A, D, C and never B. */
static void test_walk_orders_levels_whose_fee_key_exceeds_64_bits(void **state)
{
    (void)state;
    const xr_i128 k = (xr_i128)(UINT64_MAX / 11000u);
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 0, 1);
    tvenue *b = unit_venue(&f, 2, 1000, 1);
    tvenue *c = unit_venue(&f, 3, 1000, 1);
    tvenue *d = unit_venue(&f, 4, 0, 1);
    const xr_i128 a_asks[] = {10000, 1};
    const xr_i128 b_asks[] = {k + 1, 1};
    const xr_i128 c_asks[] = {k, 1};
    const xr_i128 d_asks[] = {k + 2, 1};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    SET128(c, no_bids, c_asks);
    SET128(d, no_bids, d_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(3), 1, &fl),
                     XR_OK);
    assert_int_equal(fl.n_legs, 3);
    assert_null(leg_of(&fl, 2));
    expect_leg128(&fl, 1, 1, 10000, 10000, 0);
    expect_leg128(&fl, 3, 1, k, k, (k * 1000 + 9999) / 10000);
    expect_leg128(&fl, 4, 1, k + 2, k + 2, 0);
    /* Only C at K with 1000 bps: the largest price the 64-bit keys take. */
    assert_int_equal(xr_pricing_set_fee(&f.p, f.pair, 4, 1000), XR_OK);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(2), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 1, 10000, 10000, 0);
    expect_leg128(&fl, 3, 1, k, k, (k * 1000 + 9999) / 10000);
    fx_free(&f);
}

/* Levels that are not whole lots are floored level by level, with an odd lot (7) and one with
 * trailing zero bits (12 = 4 x 3). Buy 60: A 14 of 20 @ 100, C 24 of 30 @ 100, A 14 of 16 @
 * 101; 8 left is below C's lot (C is done), so B (lot 1) takes 8 @ 110. */
static void test_walk_floors_levels_that_are_not_whole_lots(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 0, 7);
    tvenue *b = unit_venue(&f, 2, 0, 1);
    tvenue *c = unit_venue(&f, 3, 0, 12);
    static const xr_i128 a_asks[] = {100, 20, 101, 16};
    static const xr_i128 b_asks[] = {110, 1000};
    static const xr_i128 c_asks[] = {100, 30, 105, 36};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    SET128(c, no_bids, c_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(60), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 28, 101, 2814, 0);
    expect_leg128(&fl, 2, 8, 110, 880, 0);
    expect_leg128(&fl, 3, 24, 100, 2400, 0);
    assert_int_equal(leg_of(&fl, 1)->levels, 2);
    assert_int_equal(leg_of(&fl, 3)->levels, 1);
    fx_free(&f);
}

/* Lot steps beyond 64 bits (L = 2^64 + 13) and the widest 64-bit one (U = 2^64 - 1), with
 * quantities beyond 64 bits. Buy 5L + 2U + 7: A takes 3L of 3L + 5 @ 3, nothing of L - 1 @ 4
 * (below one lot), 2L @ 5; C 2U of 2U + 1 @ 6; B (lot 1) the last 7 @ 10. */
static void test_walk_floors_to_lot_steps_wider_than_64_bits(void **state)
{
    (void)state;
    const xr_i128 l = P2(64) + 13, u = (xr_i128)UINT64_MAX;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 0, l);
    tvenue *b = unit_venue(&f, 2, 0, 1);
    tvenue *c = unit_venue(&f, 3, 0, u);
    const xr_i128 a_asks[] = {3, 3 * l + 5, 4, l - 1, 5, 2 * l};
    const xr_i128 b_asks[] = {10, P2(80)};
    const xr_i128 c_asks[] = {6, 2 * u + 1};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    SET128(c, no_bids, c_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE,
                                     (xr_amount){5 * l + 2 * u + 7}, 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 5 * l, 5, 19 * l, 0);
    assert_int_equal(leg_of(&fl, 1)->levels, 2);
    expect_leg128(&fl, 2, 7, 10, 70, 0);
    expect_leg128(&fl, 3, 2 * u, 6, 12 * u, 0);
    expect_i128(fl.base.units, 5 * l + 2 * u + 7, "base");
    /* Every level below one lot: nothing but B. */
    const xr_i128 small[] = {3, l - 1, 4, 5};
    SET128(a, no_bids, small);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(3), 1, &fl),
                     XR_OK);
    assert_null(leg_of(&fl, 1));
    expect_leg128(&fl, 2, 3, 10, 30, 0);
    fx_free(&f);
}

/* The divisibility test is cached per venue at registration; when the instrument's lot changes
 * (a rules refresh) the walk must use the new lot. A registered with lot 1000, now 7: buy 10
 * takes 7 @ 100 from A and 3 @ 200 from B. Back to 1000: A's 20 is below one lot. */
static void test_walk_uses_current_lot_after_rules_refresh(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 0, 1000);
    tvenue *b = unit_venue(&f, 2, 0, 1);
    static const xr_i128 a_asks[] = {100, 20};
    static const xr_i128 b_asks[] = {200, 100};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    xr_pricing_fill fl;
    a->inst.lot_step.units = 7;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(10), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 7, 100, 700, 0);
    expect_leg128(&fl, 2, 3, 200, 600, 0);
    a->inst.lot_step.units = 1000;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(10), 1, &fl),
                     XR_OK);
    assert_null(leg_of(&fl, 1));
    expect_leg128(&fl, 2, 10, 200, 2000, 0);
    fx_free(&f);
}

/* Caps at prices beyond 63 bits, where the cap's products need the 128-bit checks: A's
 * notional_max 3 x 2^70 + 5 allows 3 @ 2^70; B (no caps) the rest @ 2^71. Buy 5: A 3, B 2;
 * a QUOTE buy of 3 x 2^70 + 2^72 gets the same. */
static void test_walk_caps_notional_at_price_beyond_63_bits(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    xr_instrument in;
    inst_make(&in, &scale_unit);
    in.notional_max.units = 3 * P2(70) + 5;
    tvenue *a = fx_venue(&f, 1, 0, &in, 0);
    tvenue *b = unit_venue(&f, 2, 0, 1);
    static const xr_i128 a_asks[] = {P2(70), 10};
    static const xr_i128 b_asks[] = {P2(71), 10};
    SET128(a, no_bids, a_asks);
    SET128(b, no_bids, b_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(5), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 3, P2(70), 3 * P2(70), 0);
    expect_leg128(&fl, 2, 2, P2(71), P2(72), 0);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_QUOTE,
                                     (xr_amount){3 * P2(70) + P2(72)}, 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 3, P2(70), 3 * P2(70), 0);
    expect_leg128(&fl, 2, 2, P2(71), P2(72), 0);
    fx_free(&f);
}

/* A price at or beyond 2^113 is refused as an overflow (pricing.c: the merge key price x
 * (10^4 + fee) must stay within 127 bits), whether the walk meets it in its 64-bit pass or
 * in a QUOTE walk, and only when the walk reaches it. */
static void test_walk_refuses_price_beyond_merge_range(void **state)
{
    (void)state;
    fixture f;
    fx_init(&f, &scale_unit, 4);
    tvenue *a = unit_venue(&f, 1, 0, 1);
    static const xr_i128 a_asks[] = {100, 1, P2(113), 1};
    SET128(a, no_bids, a_asks);
    xr_pricing_fill fl;
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(1), 1, &fl),
                     XR_OK);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(2), 1, &fl),
                     XR_ERR_OVERFLOW);
    assert_int_equal(fl.n_legs, 0);
    assert_int_equal(
        xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_QUOTE, amt(1000), 1, &fl),
        XR_ERR_OVERFLOW);
    static const xr_i128 a_asks2[] = {100, 1, P2(113) - 1, 1};
    SET128(a, no_bids, a_asks2);
    assert_int_equal(xr_pricing_walk(&f.p, f.pair, XR_SIDE_BUY, XR_PRICING_BASE, amt(2), 1, &fl),
                     XR_OK);
    expect_leg128(&fl, 1, 2, P2(113) - 1, P2(113) + 99, 0);
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

/* The reference's view of one venue: 128-bit like the walk's own values, so that prices
 * beyond the walk's 64-bit fast path and lot steps beyond 64 bits can be described. */
typedef struct rvenue {
    bool usable;
    int64_t fee;
    xr_i128 lot, tick, qty_min, qty_max, nmin, nmax;
    uint32_t n;
    xr_i128 px[MAXLV], qty[MAXLV]; /* best first */
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
    xr_i128 amount;
    int64_t num, den;
    uint32_t nv;
    rvenue v[NVENUES];
} rcase;

/* The price below which pricing.h's walk may compare 64-bit keys: price x (10^4 + the highest
 * fee) within 64 bits. Used only to aim the generator at both sides of it; the reference never
 * looks at it to decide anything. */
#define KEY64_PRICE ((xr_i128)(UINT64_MAX / (XR_PRICING_BPS_ONE + XR_PRICING_FEE_BPS_MAX)))

static void mpz_set_i128(mpz_t z, xr_i128 x)
{
    xr_u128 m = x < 0 ? -(xr_u128)x : (xr_u128)x;
    mpz_set_ui(z, (unsigned long)(uint64_t)(m >> 64));
    mpz_mul_2exp(z, z, 64);
    mpz_add_ui(z, z, (unsigned long)(uint64_t)m);
    if (x < 0)
        mpz_neg(z, z);
}

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
static void r_exec_with(const rcase *c, rleg *legs, uint32_t i, const mpz_t q, const mpz_t px,
                        mpz_t total)
{
    mpz_t save;
    mpz_init_set(save, legs[i].raw);
    mpz_addmul(legs[i].raw, q, px);
    r_exec(c, legs, total);
    mpz_set(legs[i].raw, save);
    mpz_clear(save);
}

/* What the reference met on its way, so each randomized test can show that its generator
 * reaches the paths it is meant to reach (bits of rresult.seen). */
enum {
    SEEN_HUGE = 1,      /* a BASE walk reached a level priced beyond the 64-bit fast path */
    SEEN_HUGE_MID = 2,  /* ... after starting with every venue's best level below it */
    SEEN_WIDE_LOT = 4,  /* took from a venue whose lot step is beyond 64 bits */
    SEEN_ODD_LOT = 8,   /* took from a venue with an odd lot step above 1 */
    SEEN_PART_LOT = 16, /* reached a level that is not a whole number of the venue's lots */
    SEEN_CAPPED = 32,   /* a qty or notional cap cut a level */
};

typedef struct rresult {
    xr_err err;
    uint32_t dropped;
    unsigned seen;
    rleg legs[NVENUES];
    mpz_t base, notional, fees, exec, raw;
} rresult;

/* Naive walk: flatten every usable level, sort net of fee, take greedily; quote-side sizes
 * pick each level's quantity by binary search over whole lots with the exact total. Every
 * value is a GMP integer. */
static void r_walk(const rcase *c, rresult *res)
{
    uint32_t excluded = 0;
    rlevel lv[NVENUES * MAXLV];
    uint32_t nl = 0;
    bool heads_small = true; /* every usable venue's best level is below KEY64_PRICE */
    for (uint32_t i = 0; i < c->nv; i++) {
        if (c->v[i].usable && c->v[i].n > 0 && c->v[i].px[0] >= KEY64_PRICE)
            heads_small = false;
        for (uint32_t k = 0; k < c->v[i].n; k++) {
            lv[nl].v = i;
            lv[nl].k = k;
            mpz_init(lv[nl].eff);
            mpz_set_i128(lv[nl].eff, c->v[i].px[k]);
            mpz_mul_si(lv[nl].eff, lv[nl].eff, c->buy ? 10000 + c->v[i].fee : 10000 - c->v[i].fee);
            nl++;
        }
    }
    /* insertion sort: small n */
    for (uint32_t i = 1; i < nl; i++)
        for (uint32_t j = i; j > 0 && lvl_before(c, &lv[j], &lv[j - 1]); j--) {
            rlevel t = lv[j];
            lv[j] = lv[j - 1];
            lv[j - 1] = t;
        }
    mpz_t total, t, u, amount, remaining, px, want, have, lot, q, lo, hi, mid;
    mpz_inits(total, t, u, amount, remaining, px, want, have, lot, q, lo, hi, mid, NULL);
    mpz_set_i128(amount, c->amount);
    res->seen = 0;
    bool bound;
    for (;;) {
        for (uint32_t i = 0; i < c->nv; i++) {
            mpz_set_ui(res->legs[i].qty, 0);
            mpz_set_ui(res->legs[i].raw, 0);
            mpz_set_ui(res->legs[i].limit, 0);
            res->legs[i].levels = 0;
        }
        bool done[NVENUES] = {false};
        mpz_set(remaining, amount);
        bound = false;
        mpz_set_ui(total, 0);
        for (uint32_t l = 0; l < nl; l++) {
            uint32_t i = lv[l].v;
            const rvenue *v = &c->v[i];
            if (!v->usable || (excluded & (1u << i)) || done[i])
                continue;
            if (c->kind == XR_PRICING_BASE && mpz_sgn(remaining) == 0)
                break;
            if (c->kind == XR_PRICING_QUOTE && !c->buy && mpz_cmp(total, amount) >= 0)
                break;
            mpz_set_i128(px, v->px[lv[l].k]);
            mpz_set_i128(want, v->qty[lv[l].k]);
            mpz_set(have, res->legs[i].qty);
            if (c->kind == XR_PRICING_BASE && v->px[lv[l].k] >= KEY64_PRICE)
                res->seen |= SEEN_HUGE | (heads_small ? SEEN_HUGE_MID : 0u);
            bool capped = false;
            if (v->qty_max > 0) {
                mpz_set_i128(t, v->qty_max);
                mpz_sub(t, t, have);
                if (mpz_cmp(want, t) > 0) {
                    mpz_set(want, t);
                    capped = true;
                }
            }
            if (v->nmax > 0) {
                /* largest q with (have + q) x px x num <= nmax x den */
                mpz_set_i128(t, v->nmax);
                mpz_mul_si(t, t, c->den);
                mpz_mul_si(u, px, c->num);
                mpz_fdiv_q(t, t, u);
                mpz_sub(t, t, have);
                if (mpz_cmp(t, want) < 0) {
                    if (mpz_sgn(t) < 0)
                        mpz_set_ui(want, 0);
                    else
                        mpz_set(want, t);
                    capped = true;
                }
            }
            mpz_set_i128(lot, v->lot > 0 ? v->lot : 1);
            if (capped)
                res->seen |= SEEN_CAPPED;
            if (!mpz_divisible_p(want, lot))
                res->seen |= SEEN_PART_LOT;
            bool last = capped;
            if (c->kind == XR_PRICING_BASE) {
                if (mpz_cmp(want, remaining) >= 0) {
                    mpz_set(want, remaining);
                    last = true;
                }
                mpz_fdiv_q(q, want, lot);
                mpz_mul(q, q, lot);
            } else if (c->buy) {
                r_exec_with(c, res->legs, i, want, px, t);
                if (mpz_cmp(t, amount) > 0) {
                    last = true;
                    bound = true;
                }
                mpz_set_ui(lo, 0); /* in lots: the largest that fits the budget */
                mpz_fdiv_q(hi, want, lot);
                while (mpz_cmp(lo, hi) < 0) {
                    mpz_sub(mid, hi, lo);
                    mpz_add_ui(mid, mid, 1);
                    mpz_fdiv_q_2exp(mid, mid, 1);
                    mpz_add(mid, mid, lo);
                    mpz_mul(q, mid, lot);
                    r_exec_with(c, res->legs, i, q, px, t);
                    if (mpz_cmp(t, amount) <= 0)
                        mpz_set(lo, mid);
                    else
                        mpz_sub_ui(hi, mid, 1);
                }
                mpz_mul(q, lo, lot);
            } else {
                mpz_fdiv_q(hi, want, lot);
                mpz_mul(q, hi, lot);
                r_exec_with(c, res->legs, i, q, px, t);
                if (mpz_cmp(t, amount) >= 0) {
                    mpz_set_ui(lo, 0); /* the smallest reaching the target */
                    while (mpz_cmp(lo, hi) < 0) {
                        mpz_sub(mid, hi, lo);
                        mpz_fdiv_q_2exp(mid, mid, 1);
                        mpz_add(mid, mid, lo);
                        mpz_mul(q, mid, lot);
                        r_exec_with(c, res->legs, i, q, px, t);
                        if (mpz_cmp(t, amount) >= 0)
                            mpz_set(hi, mid);
                        else
                            mpz_add_ui(lo, mid, 1);
                    }
                    mpz_mul(q, lo, lot);
                }
            }
            if (mpz_sgn(q) > 0) {
                mpz_add(res->legs[i].qty, res->legs[i].qty, q);
                mpz_addmul(res->legs[i].raw, q, px);
                mpz_set(res->legs[i].limit, px);
                res->legs[i].levels++;
                mpz_sub(remaining, remaining, q);
                r_exec(c, res->legs, total);
                if (v->lot > (xr_i128)UINT64_MAX)
                    res->seen |= SEEN_WIDE_LOT;
                if (v->lot > 1 && v->lot % 2 == 1)
                    res->seen |= SEEN_ODD_LOT;
            }
            if (last)
                done[i] = true;
        }
        /* The venues' order rules at the tick-rounded limit. */
        uint32_t drop = 0;
        for (uint32_t i = 0; i < c->nv; i++) {
            const rvenue *v = &c->v[i];
            rleg *lg = &res->legs[i];
            if (mpz_sgn(lg->qty) == 0)
                continue;
            mpz_set_i128(u, v->tick > 0 ? v->tick : 1);
            if (c->buy)
                mpz_cdiv_q(t, lg->limit, u);
            else
                mpz_fdiv_q(t, lg->limit, u);
            mpz_mul(lg->limit, t, u);
            mpz_set_i128(lot, v->lot > 0 ? v->lot : 1);
            /* A limit of 0 (a sell level below one tick) would be a market order: refused. */
            bool ok = mpz_sgn(lg->limit) > 0 && mpz_divisible_p(lg->qty, lot);
            mpz_set_i128(t, v->qty_min);
            ok = ok && mpz_cmp(lg->qty, t) >= 0;
            mpz_set_i128(t, v->qty_max);
            ok = ok && (v->qty_max == 0 || mpz_cmp(lg->qty, t) <= 0);
            mpz_mul_si(t, lg->qty, c->num);
            mpz_mul(t, t, lg->limit);
            if (v->nmin > 0) {
                mpz_fdiv_q_ui(u, t, (unsigned long)c->den);
                mpz_set_i128(q, v->nmin);
                ok = ok && mpz_cmp(u, q) >= 0;
            }
            if (v->nmax > 0) {
                mpz_cdiv_q_ui(u, t, (unsigned long)c->den);
                mpz_set_i128(q, v->nmax);
                ok = ok && mpz_cmp(u, q) <= 0;
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
        complete = mpz_cmp(res->base, amount) == 0;
    else if (c->buy)
        complete = bound;
    else
        complete = mpz_cmp(res->exec, amount) >= 0;
    if (mpz_sgn(res->base) == 0)
        res->err = excluded != 0 || bound ? XR_ERR_BELOW_MIN_SIZE : XR_ERR_INSUFFICIENT_LIQUIDITY;
    else
        res->err = complete ? XR_OK : XR_ERR_INSUFFICIENT_LIQUIDITY;
    for (uint32_t l = 0; l < nl; l++)
        mpz_clear(lv[l].eff);
    mpz_clears(total, t, u, amount, remaining, px, want, have, lot, q, lo, hi, mid, NULL);
}

static void print_i128(FILE *out, xr_i128 x)
{
    char buf[64];
    xr_decimal_format(x, 0, buf, sizeof buf);
    fputs(buf, out);
}

/* The case being checked, printed when the walk and the reference disagree. */
static const rcase *case_now;
static long case_index;

static void dump_case(const rcase *c)
{
    fprintf(stderr, "case %ld: %s %s amount ", case_index, c->buy ? "buy" : "sell",
            c->kind == XR_PRICING_BASE ? "BASE" : "QUOTE");
    print_i128(stderr, c->amount);
    fprintf(stderr, ", num %" PRId64 " den %" PRId64 "\n", c->num, c->den);
    for (uint32_t i = 0; i < c->nv; i++) {
        const rvenue *v = &c->v[i];
        fprintf(stderr, "  venue %u%s fee %" PRId64 " lot ", 10 + i, v->usable ? "" : " (stale)",
                v->fee);
        const xr_i128 f[] = {v->lot, v->tick, v->qty_min, v->qty_max, v->nmin, v->nmax};
        static const char *const names[] = {"",          " tick ",         " qty_min ",
                                            " qty_max ", " notional_min ", " notional_max "};
        for (int k = 0; k < 6; k++) {
            fputs(names[k], stderr);
            print_i128(stderr, f[k]);
        }
        fputs("\n   ", stderr);
        for (uint32_t k = 0; k < v->n; k++) {
            fputs(" ", stderr);
            print_i128(stderr, v->qty[k]);
            fputs("@", stderr);
            print_i128(stderr, v->px[k]);
        }
        fputs("\n", stderr);
    }
}

static void expect_mpz(const mpz_t want, xr_i128 got)
{
    char buf[64];
    mpz_get_str(buf, 10, want);
    char gbuf[64];
    xr_decimal_format(got, 0, gbuf, sizeof gbuf);
    if (strcmp(buf, gbuf) != 0) {
        if (case_now != NULL)
            dump_case(case_now);
        fail_msg("want %s got %s", buf, gbuf);
    }
}

static uint64_t seed_value;
static long cases_total;

/* Counts over a randomized run. */
typedef struct rtally {
    long ok, quote_ok, with_drops, below_min;
    long seen[6]; /* cases per SEEN_ bit */
    long buy_base, buy_quote, sell_base, sell_quote, capped_venues, free_venues;
} rtally;

/* Walks case `c` (set up in `f`), compares every amount with the reference and checks the
 * rounding invariants of docs/ledger.md and the spread on the result. */
static void check_case(rng *r, fixture *f, const rcase *c, rtally *k)
{
    case_now = c;
    xr_pricing_fill fl;
    xr_err err = xr_pricing_walk(&f->p, f->pair, c->buy ? XR_SIDE_BUY : XR_SIDE_SELL, c->kind,
                                 (xr_amount){c->amount}, 10, &fl);
    rresult res;
    for (uint32_t i = 0; i < NVENUES; i++)
        mpz_inits(res.legs[i].qty, res.legs[i].raw, res.legs[i].limit, res.legs[i].notional,
                  res.legs[i].fee, NULL);
    mpz_inits(res.base, res.notional, res.fees, res.exec, res.raw, NULL);
    *(c->buy ? (c->kind == XR_PRICING_BASE ? &k->buy_base : &k->buy_quote)
             : (c->kind == XR_PRICING_BASE ? &k->sell_base : &k->sell_quote)) += 1;
    for (uint32_t i = 0; i < c->nv; i++) {
        const rvenue *v = &c->v[i];
        bool caps = v->qty_max > 0 || v->nmax > 0;
        k->capped_venues += caps;
        k->free_venues += !caps;
    }
    bool any_usable = false;
    for (uint32_t i = 0; i < c->nv; i++)
        any_usable |= c->v[i].usable;
    if (!any_usable) {
        assert_int_equal(err, XR_ERR_STALE);
    } else {
        r_walk(c, &res);
        for (int b = 0; b < 6; b++)
            k->seen[b] += (res.seen >> b) & 1u;
        k->below_min += res.err == XR_ERR_BELOW_MIN_SIZE;
        if (err != res.err) {
            dump_case(c);
            fprintf(stderr, "case %ld: err %s, reference %s\n", case_index, xr_err_name(err),
                    xr_err_name(res.err));
        }
        assert_int_equal(err, res.err);
        if (err == XR_OK || err == XR_ERR_INSUFFICIENT_LIQUIDITY) {
            k->ok += err == XR_OK;
            k->quote_ok += err == XR_OK && c->kind == XR_PRICING_QUOTE;
            k->with_drops += fl.venues_dropped > 0;
            expect_mpz(res.base, fl.base.units);
            expect_mpz(res.notional, fl.notional.units);
            expect_mpz(res.fees, fl.fees.units);
            expect_mpz(res.exec, fl.executable.units);
            uint32_t nl = 0;
            for (uint32_t i = 0; i < c->nv; i++) {
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
            mpz_mul_si(exact, res.raw, c->num);
            mpz_set_i128(got, fl.notional.units);
            mpz_mul_si(got, got, c->den);
            assert_true(c->buy ? mpz_cmp(got, exact) >= 0 : mpz_cmp(got, exact) <= 0);
            mpz_set_i128(got, fl.avg_price.ticks);
            mpz_mul(got, got, res.base);
            assert_true(c->buy ? mpz_cmp(got, res.raw) >= 0 : mpz_cmp(got, res.raw) <= 0);
            mpz_clears(exact, got, NULL);
            /* Quote-side sizes: a buy costs at most the budget, a sell yields at least. */
            if (err == XR_OK && c->kind == XR_PRICING_QUOTE)
                assert_true(c->buy ? fl.executable.units <= c->amount
                                   : fl.executable.units >= c->amount);
        }
    }
    /* The spread on any result: never above the stated rate, and the customer's amount plus
     * spread plus fees is exactly the venues' notional. */
    if (err == XR_OK) {
        uint32_t s = (uint32_t)rbelow(r, 300);
        assert_int_equal(xr_pricing_set_spread(&f->p, 1, f->pair, 0, s), XR_OK);
        xr_quote_request rq = {1,
                               1,
                               f->pair,
                               (uint8_t)(c->buy ? XR_SIDE_BUY : XR_SIDE_SELL),
                               0,
                               (uint8_t)(c->kind == XR_PRICING_BASE) == c->buy
                                   ? XR_QUOTE_FIX_TARGET
                                   : XR_QUOTE_FIX_SOURCE,
                               (xr_amount){c->amount}};
        xr_quote q;
        xr_err qerr = xr_pricing_price(&f->p, &rq, 10, &q, NULL);
        if (qerr == XR_OK) {
            assert_true(q.spread.units * 10000 <= q.executable.units * (xr_i128)s);
            assert_true((q.spread.units + 1) * 10000 > q.executable.units * (xr_i128)s);
            if (c->buy) {
                assert_true(q.quote.units == q.notional.units + q.fees.units + q.spread.units);
                if (rq.fixed == XR_QUOTE_FIX_SOURCE)
                    assert_true(q.quote.units <= c->amount);
            } else {
                assert_true(q.quote.units + q.fees.units + q.spread.units == q.notional.units);
                if (rq.fixed == XR_QUOTE_FIX_TARGET)
                    assert_true(q.quote.units >= c->amount);
            }
        }
    }
    for (uint32_t i = 0; i < NVENUES; i++)
        mpz_clears(res.legs[i].qty, res.legs[i].raw, res.legs[i].limit, res.legs[i].notional,
                   res.legs[i].fee, NULL);
    mpz_clears(res.base, res.notional, res.fees, res.exec, res.raw, NULL);
    case_now = NULL;
}

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
        int64_t lot = sc->base == 0 ? 1 : lots_8[rbelow(r, 4)];
        int64_t tick = rbelow(r, 3) == 0 ? 5 : 1;
        v->lot = lot;
        v->tick = tick;
        v->qty_min = rbelow(r, 4) == 0 ? lot * (1 + rbelow(r, 20)) : 0;
        v->qty_max = rbelow(r, 6) == 0 ? lot * (1 + rbelow(r, 2000)) : 0;
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
        px -= px % tick;
        for (uint32_t k = 0; k < v->n; k++) {
            v->px[k] = px;
            int64_t scale_q = sc->base == 0 ? 1 + rbelow(r, 50) : lot * (1 + rbelow(r, 3000));
            v->qty[k] = scale_q;
            levels[2 * k] = px;
            levels[2 * k + 1] = scale_q;
            depth_base += scale_q;
            depth_raw += (xr_i128)scale_q * px;
            px += (c->buy ? 1 : -1) * tick * (1 + rbelow(r, 5));
        }
        /* The other side stays out of the way (and uncrossed). */
        if (c->buy)
            book_set(&tv->book, other, 1, levels, v->n, 1, 0);
        else
            book_set(&tv->book, levels, v->n, other + 0, 0, 1, 0);
        lot_min = i == 0 ? lot : (lot < lot_min ? lot : lot_min);
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
    rtally k;
    memset(&k, 0, sizeof k);
    for (long n = 0; n < cases_total; n++) {
        fixture f;
        rcase c;
        case_index = n;
        random_case(&r, &f, &c);
        check_case(&r, &f, &c, &k);
        fx_free(&f);
    }
    printf("random walks: %ld cases, %ld filled (%ld by quote amount), %ld with dropped venues, "
           "%ld below min size\n",
           cases_total, k.ok, k.quote_ok, k.with_drops, k.below_min);
    assert_true(k.ok > cases_total / 10 && k.quote_ok > cases_total / 50);
    assert_true(k.with_drops > cases_total / 100 && k.below_min > 0);
}

/* ---- randomized comparison beyond the walk's fast paths ----------------------------------- */

static xr_i128 rbelow128(rng *r, xr_i128 n)
{
    xr_u128 hi = rnext(r); /* two statements: the order of the draws is fixed */
    xr_u128 x = hi << 64 | rnext(r);
    return (xr_i128)(x % (xr_u128)n);
}

/* A value of exactly `bits` significant bits (1..126). */
static xr_i128 rbits(rng *r, int bits)
{
    if (bits <= 1)
        return 1;
    xr_i128 lo = (xr_i128)1 << (bits - 1);
    return lo + rbelow128(r, lo);
}

static int bitlen(xr_i128 x)
{
    int b = 0;
    for (; x > 0; x >>= 1)
        b++;
    return b;
}

/* A lot step: none, 1, small odd / prime / even-with-odd-part ones, random 64-bit ones with
 * any number of trailing zero bits, the 64-bit edges, and steps beyond 64 bits. */
static xr_i128 random_lot(rng *r)
{
    static const int64_t fixed[] = {0,         1,      2,     3,      7,       12,
                                    97,        1000,   65537, 96,     1000003, 6700417,
                                    999999937, 100000, 1024,  123456, 15625,   2147483647};
    static const uint64_t edges[] = {UINT64_MAX,     UINT64_MAX - 58 /* the largest 64-bit prime */,
                                     1ull << 63,     (1ull << 63) + 1,
                                     UINT64_MAX - 1, (UINT64_MAX / 3) * 2};
    switch (rbelow(r, 10)) {
    case 0:
    case 1:
    case 2:
    case 3:
        return fixed[rbelow(r, (int64_t)(sizeof fixed / sizeof fixed[0]))];
    case 4:
    case 5: {
        uint64_t odd = rnext(r);
        odd = (odd >> rbelow(r, 63)) | 1u;
        unsigned shift = (unsigned)rbelow(r, 64);
        while (shift > 0 && (odd << shift) >> shift != odd)
            shift--;
        return (xr_i128)(odd << shift) < 2 ? 3 : (xr_i128)(odd << shift);
    }
    case 6:
        return (xr_i128)edges[rbelow(r, (int64_t)(sizeof edges / sizeof edges[0]))];
    case 7:
        return ((xr_i128)1 << 64) + rbelow(r, 3) * 13;
    default:
        return rbits(r, 65 + (int)rbelow(r, 12));
    }
}

/* Like random_case, over what random_case never produces: prices far beyond the walk's 64-bit
 * fast path (alone, mixed with small ones on other venues, and behind small ones in the same
 * book so a walk meets them mid-way), prices either side of that bound, fees up to the
 * highest allowed, odd, prime and 128-bit lot steps, level quantities that are not whole
 * lots, and venues with and without caps. Magnitudes are kept so that no exact amount of the
 * walk reaches 2^112: the walk must not overflow on any of these books. */
static void random_case_wide(rng *r, fixture *f, rcase *c)
{
    static const xr_pair_scale scales[] = {{0, 0, 0}, {0, 0, 0}, {8, 2, 2}, {0, 4, 0}, {4, 4, 4}};
    const xr_pair_scale *sc = &scales[rbelow(r, (int64_t)(sizeof scales / sizeof scales[0]))];
    fx_init(f, sc, 4);
    memset(c, 0, sizeof *c);
    int e = sc->base + sc->price - sc->quote;
    c->num = 1;
    c->den = 1;
    for (int i = 0; i < (e < 0 ? -e : e); i++)
        *(e < 0 ? &c->num : &c->den) *= 10;
    /* Every exact sum qty x price stays below 2^raw_bits; times num or den below 2^111. */
    int raw_bits = 110 - bitlen(c->num > c->den ? c->num : c->den);
    c->buy = rbelow(r, 2) == 0;
    c->kind = rbelow(r, 3) == 0 ? XR_PRICING_QUOTE : XR_PRICING_BASE;
    c->nv = 1 + (uint32_t)rbelow(r, NVENUES);
    /* 0: small prices, 1: huge, 2: each venue its own, 3: around the 64-bit bound, 4: small
     * at the top of every book, huge deeper */
    int mode = (int)rbelow(r, 5);
    xr_i128 depth_base = 0, depth_raw = 0, lot_min = 0;
    /* A third of the cases give every venue the same lot, so that most BASE sizes can fill. */
    xr_i128 shared = -1;
    if (rbelow(r, 3) == 0) {
        xr_i128 cand = random_lot(r);
        if (bitlen(cand > 1 ? cand : 1) + 12 + 7 + 52 <= raw_bits)
            shared = cand;
    }
    for (uint32_t i = 0; i < c->nv; i++) {
        rvenue *v = &c->v[i];
        int vmode = mode == 2 ? (int)rbelow(r, 4) : mode;
        if (vmode == 2)
            vmode = 4; /* small at the top of the book, huge deeper */
        /* The price bits the venue's mode needs; the lot must leave room for them. */
        int need = vmode == 1 ? 52 : vmode == 3 ? 41 : vmode == 4 ? 52 : 15;
        int qmul_bits = 1 + (int)rbelow(r, 12);
        xr_i128 lot = 1;
        for (int tries = 0; tries < 20 && shared < 0; tries++) {
            xr_i128 cand = random_lot(r);
            if (bitlen(cand > 1 ? cand : 1) + qmul_bits + 7 + need <= raw_bits) {
                lot = cand;
                break;
            }
        }
        if (shared >= 0)
            lot = shared;
        xr_i128 lotv = lot > 1 ? lot : 1;
        int qty_bits = bitlen(lotv) + qmul_bits; /* every level's quantity is below 2^qty_bits */
        int px_bits = raw_bits - 7 - qty_bits;   /* and every price below 2^px_bits */
        v->usable = rbelow(r, 8) != 0;
        static const int64_t fees[] = {0, 1, 7, 10, 25, 999, 1000};
        v->fee = rbelow(r, 2) == 0 ? fees[rbelow(r, 7)] : rbelow(r, 1001);
        static const int64_t ticks[] = {1, 1, 1, 2, 5, 7, 100};
        xr_i128 tick = ticks[rbelow(r, 7)];
        v->lot = lot;
        v->tick = tick;
        /* Prices ascending from `px`; a sell's bids are the same list best (highest) first. */
        xr_i128 px;
        if (vmode == 0 || vmode == 4)
            px = 2 + rbelow(r, 20000);
        else if (vmode == 3)
            px = KEY64_PRICE - 4 + rbelow(r, 8);
        else
            px = rbits(r, 52 + (int)rbelow(r, px_bits - 51));
        uint32_t n = (uint32_t)rbelow(r, 21);
        xr_i128 asc[MAXLV];
        uint32_t got = 0;
        for (uint32_t k = 0; k < n; k++) {
            px += (tick - px % tick) % tick; /* on the tick, never below it */
            if (px < 2 || px < tick)
                px = tick < 2 ? 2 : tick;
            if (bitlen(px) > px_bits)
                break;
            asc[got++] = px;
            if (vmode == 4 && k >= 1 && rbelow(r, 3) == 0)
                px += rbits(r, 52 + (int)rbelow(r, px_bits - 51));
            else if (vmode == 3)
                px += 1 + rbelow(r, 2);
            else
                px += tick * (1 + rbelow(r, 5));
        }
        v->n = got;
        xr_i128 vq = 0, vraw = 0;
        for (uint32_t k = 0; k < got; k++) {
            v->px[k] = c->buy ? asc[k] : asc[got - 1 - k];
            xr_i128 q = lotv * rbelow128(r, ((xr_i128)1 << qmul_bits) - 1);
            if (lotv > 1 && rbelow(r, 3) == 0)
                q += 1 + rbelow128(r, lotv - 1); /* not a whole number of lots */
            if (q == 0)
                q = rbelow(r, 4) == 0 ? lotv : 1 + rbelow128(r, lotv); /* maybe below one lot */
            v->qty[k] = q;
            vq += q;
            vraw += q * v->px[k];
        }
        depth_base += vq;
        depth_raw += vraw;
        xr_i128 vnot = vraw * c->num / c->den;
        /* Caps on some venues, none on others; minimums likewise. */
        if (rbelow(r, 4) == 0)
            v->qty_max = 1 + rbelow128(r, vq + 1);
        if (rbelow(r, 4) == 0)
            v->nmax = 1 + rbelow128(r, vnot + 1);
        if (rbelow(r, 5) == 0)
            v->qty_min = 1 + rbelow128(r, vq / 4 + 1);
        if (rbelow(r, 5) == 0)
            v->nmin = 1 + rbelow128(r, vnot / 4 + 1);
        xr_instrument in;
        inst_make(&in, sc);
        in.lot_step.units = v->lot;
        in.tick.ticks = v->tick;
        in.qty_min.units = v->qty_min;
        in.qty_max.units = v->qty_max;
        in.notional_min.units = v->nmin;
        in.notional_max.units = v->nmax;
        tvenue *tv = fx_venue(f, (uint16_t)(10 + i), (uint16_t)v->fee, &in, v->usable ? 0 : 1);
        xr_i128 levels[2 * MAXLV], other[2] = {1, 1};
        for (uint32_t k = 0; k < got; k++) {
            levels[2 * k] = v->px[k];
            levels[2 * k + 1] = v->qty[k];
        }
        /* The other side stays out of the way: a bid of 1 below every ask (prices are >= 2). */
        if (c->buy)
            book_set128(&tv->book, other, 1, levels, got, 1, 0);
        else
            book_set128(&tv->book, levels, got, other, 0, 1, 0);
        xr_i128 l = v->lot;
        lot_min = i == 0 ? l : (l == 0 || lot_min == 0) ? 0 : (l < lot_min ? l : lot_min);
    }
    if (c->kind == XR_PRICING_BASE) {
        /* mostly within the depth; a quarter of the time up to a quarter beyond it */
        xr_i128 a = 1 + rbelow128(r, rbelow(r, 4) == 0 ? depth_base + depth_base / 4 + 1
                                                       : depth_base / 2 + 1);
        if (lot_min > 1)
            a = (a + lot_min - 1) / lot_min * lot_min;
        c->amount = a;
    } else {
        xr_i128 total = depth_raw * c->num / c->den;
        c->amount = 1 + rbelow128(r, total + total / 4 + 100);
    }
}

static long wide_cases;

static void test_random_wide_walk_vs_gmp(void **state)
{
    (void)state;
    rng r = {seed_value ^ 0x77696465ull}; /* "wide" */
    rtally k;
    memset(&k, 0, sizeof k);
    for (long n = 0; n < wide_cases; n++) {
        fixture f;
        rcase c;
        case_index = n;
        random_case_wide(&r, &f, &c);
        check_case(&r, &f, &c, &k);
        fx_free(&f);
    }
    printf("wide random walks: %ld cases (buy base %ld, buy quote %ld, sell base %ld, sell quote "
           "%ld), %ld filled (%ld by quote amount), %ld with dropped venues, %ld below min size; "
           "%ld venues with caps, %ld without\n",
           wide_cases, k.buy_base, k.buy_quote, k.sell_base, k.sell_quote, k.ok, k.quote_ok,
           k.with_drops, k.below_min, k.capped_venues, k.free_venues);
    printf("  reached: price beyond the 64-bit path %ld (mid-walk %ld), lot beyond 64 bits %ld, "
           "odd lot %ld, level not whole lots %ld, cap cut %ld\n",
           k.seen[0], k.seen[1], k.seen[2], k.seen[3], k.seen[4], k.seen[5]);
    /* The generator reaches every path it is for (with the default case count, by far). */
    long min = wide_cases / 100;
    assert_true(k.ok > wide_cases / 10 && k.quote_ok > min && k.with_drops > min);
    for (int b = 0; b < 6; b++)
        assert_true(k.seen[b] > min);
}

int main(void)
{
    const char *s = getenv("XR_TEST_SEED");
    seed_value = s != NULL ? strtoull(s, NULL, 0) : 0x7072696365ull; /* "price" */
    const char *n = getenv("XR_TEST_CASES");
    cases_total = n != NULL ? strtol(n, NULL, 0) : 20000;
    const char *w = getenv("XR_TEST_WIDE_CASES");
    wide_cases = w != NULL ? strtol(w, NULL, 0) : 6000;
    printf("XR_TEST_SEED=0x%" PRIx64 " XR_TEST_CASES=%ld XR_TEST_WIDE_CASES=%ld\n", seed_value,
           cases_total, wide_cases);
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
        cmocka_unit_test(test_sell_leg_never_gets_limit_zero_below_one_tick),
        cmocka_unit_test(test_stale_and_unsynced),
        cmocka_unit_test(test_cross_venue_rule),
        cmocka_unit_test(test_consolidated_depth),
        cmocka_unit_test(test_spread_table),
        cmocka_unit_test(test_firm_quote_lifecycle),
        cmocka_unit_test(test_firm_quote_slippage),
        cmocka_unit_test(test_quote_store_full),
        cmocka_unit_test(test_walk_retries_in_128_bit_when_price_exceeds_64_bit_fast_path),
        cmocka_unit_test(test_walk_orders_levels_whose_fee_key_exceeds_64_bits),
        cmocka_unit_test(test_walk_floors_levels_that_are_not_whole_lots),
        cmocka_unit_test(test_walk_floors_to_lot_steps_wider_than_64_bits),
        cmocka_unit_test(test_walk_uses_current_lot_after_rules_refresh),
        cmocka_unit_test(test_walk_caps_notional_at_price_beyond_63_bits),
        cmocka_unit_test(test_walk_refuses_price_beyond_merge_range),
        cmocka_unit_test(test_random_walk_vs_gmp),
        cmocka_unit_test(test_random_wide_walk_vs_gmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
