/*
 * core/pricing/quote.c - the bank's spread table, customer prices and the firm-quote store
 * with expiry, slippage control and single use. Rules in pricing.h; rounding in
 * docs/ledger.md ("Rounding").
 */
#include "core/pricing/pricing_internal.h"

#include <string.h>

#include "core/base/assert.h"

#define BPS ((xr_i128)XR_PRICING_BPS_ONE)

/* ---- spreads ------------------------------------------------------------------------------ */

static uint32_t spread_hash(uint32_t bank, uint32_t pair, uint32_t tier)
{
    uint64_t h = ((uint64_t)bank << 32 | pair) * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)tier * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 32);
}

/* The slot holding the key, or the empty slot where it would go. The table is at most half
 * full (spreads_max <= slots / 2), so the probe ends. */
static xr_pricing_spread *spread_slot(const xr_pricing *p, uint32_t bank, uint32_t pair,
                                      uint32_t tier)
{
    uint32_t i = spread_hash(bank, pair, tier) & p->spread_mask;
    for (;;) {
        xr_pricing_spread *s = &p->spreads[i];
        if (s->tier == XR_PRICING_SPREAD_EMPTY ||
            (s->bank == bank && s->pair == pair && s->tier == tier))
            return s;
        i = (i + 1) & p->spread_mask;
    }
}

xr_err xr_pricing_set_spread(xr_pricing *p, uint32_t bank, uint32_t pair_id, uint8_t tier,
                             uint32_t bps)
{
    XR_ASSERT(p != NULL);
    if (bps >= XR_PRICING_BPS_ONE)
        return XR_ERR_INVALID_ARGUMENT;
    if (pair_id != XR_PRICING_ANY_PAIR && pair_id >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    xr_pricing_spread *s = spread_slot(p, bank, pair_id, tier);
    if (s->tier == XR_PRICING_SPREAD_EMPTY) {
        if (p->n_spreads == p->cfg.spreads_max)
            return XR_ERR_NO_MEMORY;
        p->n_spreads++;
        s->bank = bank;
        s->pair = pair_id;
        s->tier = tier;
    }
    s->bps = bps;
    return XR_OK;
}

xr_err xr_pricing_get_spread(const xr_pricing *p, uint32_t bank, uint32_t pair_id, uint8_t tier,
                             uint32_t *bps)
{
    XR_ASSERT(p != NULL && bps != NULL);
    const uint32_t pairs[4] = {pair_id, pair_id, XR_PRICING_ANY_PAIR, XR_PRICING_ANY_PAIR};
    const uint32_t tiers[4] = {tier, XR_PRICING_ANY_TIER, tier, XR_PRICING_ANY_TIER};
    for (int i = 0; i < 4; i++) {
        const xr_pricing_spread *s = spread_slot(p, bank, pairs[i], tiers[i]);
        if (s->tier != XR_PRICING_SPREAD_EMPTY) {
            *bps = s->bps;
            return XR_OK;
        }
    }
    return XR_ERR_NOT_FOUND;
}

/* ---- customer prices ---------------------------------------------------------------------- */

xr_err xr_pricing_price(const xr_pricing *p, const xr_quote_request *req, uint64_t now_ns,
                        xr_quote *out, xr_pricing_fill *fill)
{
    XR_ASSERT(p != NULL && req != NULL && out != NULL);
    xr_pricing_fill local;
    if (fill == NULL)
        fill = &local;
    memset(out, 0, sizeof *out);
    memset(fill, 0, sizeof *fill);
    if (req->pair >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    if ((req->side != XR_SIDE_BUY && req->side != XR_SIDE_SELL) ||
        (req->fixed != XR_QUOTE_FIX_SOURCE && req->fixed != XR_QUOTE_FIX_TARGET))
        return XR_ERR_INVALID_ARGUMENT;
    if (req->amount.units <= 0)
        return XR_ERR_INVALID_AMOUNT;
    uint32_t s;
    xr_err err = xr_pricing_get_spread(p, req->bank, req->pair, req->tier, &s);
    if (err != XR_OK)
        return err;

    bool buy = req->side == XR_SIDE_BUY;
    bool base_fixed = buy == (req->fixed == XR_QUOTE_FIX_TARGET);
    xr_amount walk_amt = req->amount;
    if (!base_fixed) {
        /* Buy for a quote budget A: the walk may cost B = floor(A x 10^4 / (10^4 + s)); then
         * cost + floor(cost x s / 10^4) <= B x (10^4 + s) / 10^4 <= A. Sell for a quote
         * target T: the walk must yield P >= ceil(T x 10^4 / (10^4 - s)); then
         * P - floor(P x s / 10^4) >= P x (10^4 - s) / 10^4 >= T. */
        err = buy ? xr_i128_muldiv(req->amount.units, BPS, xr_pricing_bps_up(s), XR_ROUND_DOWN,
                                   &walk_amt.units)
                  : xr_i128_muldiv(req->amount.units, BPS, xr_pricing_bps_down(s), XR_ROUND_UP,
                                   &walk_amt.units);
        if (err != XR_OK)
            return err;
        if (walk_amt.units <= 0)
            return XR_ERR_BELOW_MIN_SIZE;
    }
    err = xr_pricing_walk(p, req->pair, (xr_side)req->side,
                          base_fixed ? XR_PRICING_BASE : XR_PRICING_QUOTE, walk_amt, now_ns, fill);
    if (err != XR_OK)
        return err;

    const xr_pricing_pair *pr = &p->pairs[req->pair];
    xr_round against = buy ? XR_ROUND_UP : XR_ROUND_DOWN;
    out->bank = req->bank;
    out->customer = req->customer;
    out->pair = req->pair;
    out->side = req->side;
    out->tier = req->tier;
    out->fixed = req->fixed;
    out->amount = req->amount;
    out->spread_bps = s;
    out->base = fill->base;
    out->notional = fill->notional;
    out->fees = fill->fees;
    out->executable = fill->executable;
    /* The house's spread is rounded down: it never exceeds the stated rate. */
    err =
        xr_i128_muldiv(fill->executable.units, (xr_i128)s, BPS, XR_ROUND_DOWN, &out->spread.units);
    if (err != XR_OK)
        return err;
    out->quote.units = buy ? fill->executable.units + out->spread.units
                           : fill->executable.units - out->spread.units;
    out->source_amount = buy ? out->quote : out->base;
    out->target_amount = buy ? out->base : out->quote;
    err = xr_price_of(out->base, out->quote, &pr->scale, against, &out->price);
    if (err == XR_OK)
        err = xr_price_of(out->base, out->executable, &pr->scale, against, &out->executable_price);
    if (err != XR_OK)
        return err;
    out->created_ns = now_ns;
    out->expires_ns = now_ns;
    return XR_OK;
}

/* ---- firm quotes -------------------------------------------------------------------------- */

static xr_quote *quote_slot(const xr_pricing *p, uint64_t id)
{
    return &p->quotes[(id - 1) % p->cfg.quotes_max];
}

xr_err xr_pricing_quote(xr_pricing *p, const xr_quote_request *req, uint64_t now_ns, xr_quote *out,
                        xr_pricing_fill *fill)
{
    XR_ASSERT(p != NULL && req != NULL && out != NULL);
    xr_quote *slot = quote_slot(p, p->next_quote_id);
    /* A live quote is never overwritten: the store is sized for the quote rate x ttl. */
    if (slot->id != 0 && !slot->executed && now_ns < slot->expires_ns) {
        memset(out, 0, sizeof *out);
        return XR_ERR_NO_MEMORY;
    }
    xr_err err = xr_pricing_price(p, req, now_ns, out, fill);
    if (err != XR_OK)
        return err;
    if (__builtin_add_overflow(now_ns, p->cfg.quote_ttl_ns, &out->expires_ns))
        out->expires_ns = UINT64_MAX;
    out->id = p->next_quote_id++;
    *slot = *out;
    return XR_OK;
}

static xr_err quote_find(const xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer,
                         xr_quote **out)
{
    if (id == 0 || id >= p->next_quote_id)
        return XR_ERR_NOT_FOUND;
    xr_quote *q = quote_slot(p, id);
    /* Another bank's or customer's quote is "not found", never "not yours": ids do not leak
     * across banks (DESIGN.md section 9). */
    if (q->id != id || q->bank != bank || q->customer != customer)
        return XR_ERR_NOT_FOUND;
    *out = q;
    return XR_OK;
}

xr_err xr_pricing_quote_get(const xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer,
                            xr_quote *out)
{
    XR_ASSERT(p != NULL && out != NULL);
    xr_quote *q;
    xr_err err = quote_find(p, id, bank, customer, &q);
    if (err != XR_OK) {
        memset(out, 0, sizeof *out);
        return err;
    }
    *out = *q;
    return XR_OK;
}

xr_err xr_pricing_execute(xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer,
                          uint64_t now_ns, xr_quote *out, xr_pricing_fill *fill)
{
    XR_ASSERT(p != NULL && out != NULL && fill != NULL);
    memset(out, 0, sizeof *out);
    memset(fill, 0, sizeof *fill);
    xr_quote *q;
    xr_err err = quote_find(p, id, bank, customer, &q);
    if (err != XR_OK)
        return err;
    if (q->executed)
        return XR_ERR_INVALID_STATE;
    if (now_ns >= q->expires_ns)
        return XR_ERR_QUOTE_EXPIRED;
    /* The quote fixed both amounts; what must hold now is that its base can still be bought
     * (sold) for an executable amount within the slippage bound of the quoted one. */
    err = xr_pricing_walk(p, q->pair, (xr_side)q->side, XR_PRICING_BASE, q->base, now_ns, fill);
    if (err != XR_OK)
        return err;
    xr_i128 now_x, bound;
    bool buy = q->side == XR_SIDE_BUY;
    xr_i128 f =
        buy ? xr_pricing_bps_up(p->cfg.slippage_bps) : xr_pricing_bps_down(p->cfg.slippage_bps);
    if (__builtin_mul_overflow(fill->executable.units, BPS, &now_x) ||
        __builtin_mul_overflow(q->executable.units, f, &bound))
        return XR_ERR_OVERFLOW;
    if (buy ? now_x > bound : now_x < bound)
        return XR_ERR_SLIPPAGE_EXCEEDED;
    q->executed = true;
    *out = *q;
    return XR_OK;
}

xr_err xr_pricing_release(xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer)
{
    XR_ASSERT(p != NULL);
    xr_quote *q;
    xr_err err = quote_find(p, id, bank, customer, &q);
    if (err != XR_OK)
        return err;
    if (!q->executed)
        return XR_ERR_INVALID_STATE;
    q->executed = false;
    return XR_OK;
}
