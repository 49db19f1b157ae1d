/*
 * Pricing stage: owns the pricer (core/pricing) and its own copy of every venue book, fed by
 * the venues' market-data rings; answers quotes and depth queries; runs an order's pre-trade
 * checks and turns the walk into the routing plan and the amount to reserve.
 */
#include <stddef.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/engine/market_data.h"
#include "core/pricing/pricing.h"
#include "core/router/ibook.h"

_Static_assert(XR_ENG_LEGS_MAX == XR_PRICING_VENUES_MAX, "one leg per venue of a pair");
_Static_assert(XR_ENG_MD_LEVELS * 2 <= XR_EV_BOOK_LEVELS_MAX, "a snapshot fits one book event");
_Static_assert((int)XR_ENGINE_BUY == (int)XR_SIDE_BUY && (int)XR_ENGINE_SELL == (int)XR_SIDE_SELL,
               "public sides are core/market's");

#define NO_PAIR UINT32_MAX

typedef struct venue_pair {
    xr_book book;
    void *book_mem;
    xr_instrument inst;
    bool added;          /* registered with the pricer */
    uint64_t updated_ns; /* the book's last update (best-execution record) */
} venue_pair;

struct xr_eng_pricing {
    const xr_eng_shared *sh;
    xr_spsc_ring *from_gw;
    xr_spsc_ring *from_router; /* failover: parents whose remainder needs new legs */
    xr_spsc_ring *md[XR_ENGINE_VENUES_MAX];
    xr_eng_port to_gw, to_ledger;
    xr_pricing pricer;
    void *pricer_mem;
    uint32_t pricer_pair[XR_ENG_PAIRS_MAX]; /* engine pair -> pricer pair id */
    venue_pair *vp;                         /* [venue * npairs + pair] */
    /* LIMIT orders (see "Limit orders and the internal book" below) */
    xr_ibook *ib;            /* [npairs] */
    void **ib_mem;           /* [npairs] */
    xr_eng_order *rest;      /* [orders_max]: resting orders by the router's pool index */
    uint8_t *rest_used;      /* [orders_max] */
    uint32_t *rest_by_entry; /* [idempotency_max]: gateway entry -> pool index + 1 */
    uint8_t *cancel_req;     /* [idempotency_max]: CANCEL seen while not resting */
    xr_ibook_fill *fills;    /* [orders_max]: the crosses of one xr_ibook_submit */
    uint32_t nfills;
    xr_eng_mdata *mdata; /* trades and candles (TICKER, OHLC) */
};

static venue_pair *vp_at(xr_eng_pricing *p, uint32_t venue, uint32_t pair)
{
    XR_ASSERT(venue < p->sh->cfg.nvenues && pair < p->sh->npairs);
    return &p->vp[venue * p->sh->npairs + pair];
}

/* ---- market data ----------------------------------------------------------------------------- */

static void add_pair(xr_eng_pricing *p, uint32_t pair, const xr_pair_scale *scale)
{
    const xr_eng_pair *ep = &p->sh->pairs[pair];
    uint32_t id;
    xr_err err = xr_pricing_add_pair(&p->pricer, ep->name, strlen(ep->name), scale, &id);
    XR_ASSERT(err == XR_OK); /* names were checked at open, pairs_max is the pair count */
    p->pricer_pair[pair] = id;
    const xr_engine_config *c = &p->sh->cfg;
    for (uint32_t s = 0; s < c->nspreads; s++) {
        const xr_engine_spread_config *sp = &c->spreads[s];
        if (strncmp(sp->pair, ep->name, sizeof sp->pair) == 0)
            (void)xr_pricing_set_spread(&p->pricer, sp->bank_id, id, sp->tier, sp->bps);
    }
}

static void log_refused(const xr_eng_pricing *p, const xr_eng_md_inst *mi, xr_err err)
{
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "engine", "venue_pair_refused");
    xr_log_str(&l, "venue", p->sh->cfg.venues[mi->venue].name);
    xr_log_str(&l, "pair", p->sh->pairs[mi->pair].name);
    xr_log_err(&l, err);
    xr_log_end(&l);
}

/* A venue states amounts at its own precision (Binance: 8 decimals for every asset); the
 * engine prices and books in the ledger's minor units (USDT/6). Quote amounts in the rules
 * are moved to the ledger's scale (minimums up, maximums down, so no check passes by
 * rounding); prices and base quantities keep theirs, and the base scale must be the
 * ledger's (else every fill would need rounding, which docs/ledger.md forbids for base). The
 * venue driver already converts a finer venue base scale (adapters/engine_venues.c,
 * docs/venues.md "Base scales"); it passes a pair it cannot convert unchanged, refused here. */
static xr_err to_ledger_scales(const xr_eng_pricing *p, uint32_t pair, xr_instrument *in)
{
    const xr_eng_pair *ep = &p->sh->pairs[pair];
    unsigned bs = xr_eng_asset(p->sh, ep->base_asset)->scale;
    unsigned qs = xr_eng_asset(p->sh, ep->quote_asset)->scale;
    if (in->scale.base != bs)
        return XR_ERR_CONFIG;
    xr_err err = XR_OK;
    if (in->scale.quote != qs) {
        err = xr_amount_rescale(in->notional_min, in->scale.quote, qs, XR_ROUND_UP,
                                &in->notional_min);
        if (err == XR_OK)
            err = xr_amount_rescale(in->notional_max, in->scale.quote, qs, XR_ROUND_DOWN,
                                    &in->notional_max);
        in->scale.quote = (uint8_t)qs;
    }
    return err;
}

static void md_inst(xr_eng_pricing *p, const xr_eng_md_inst *mi)
{
    venue_pair *vp = vp_at(p, mi->venue, mi->pair);
    xr_instrument in = mi->inst;
    xr_err err = to_ledger_scales(p, mi->pair, &in);
    if (err != XR_OK) {
        log_refused(p, mi, err);
        return;
    }
    vp->inst = in; /* the pricer holds a pointer to this copy */
    if (vp->added)
        return;
    if (p->pricer_pair[mi->pair] == NO_PAIR)
        add_pair(p, mi->pair, &in.scale);
    xr_pricing_venue v = {.book = &vp->book,
                          .inst = &vp->inst,
                          .venue = mi->venue,
                          .fee_bps = p->sh->cfg.venues[mi->venue].taker_fee_bps};
    err = xr_pricing_add_venue(&p->pricer, p->pricer_pair[mi->pair], &v);
    if (err != XR_OK) {
        log_refused(p, mi, err);
        return;
    }
    vp->added = true;
}

bool xr_eng_md_delta_applies(const xr_book *copy, const xr_eng_md_book *mb)
{
    return mb->delta && xr_book_get_state(copy) == XR_BOOK_SYNCED &&
           xr_book_update_id(copy) == mb->base_id && mb->update_id > mb->base_id;
}

static void md_book(xr_eng_pricing *p, const xr_eng_md_book *mb, bool down, uint64_t now)
{
    venue_pair *vp = vp_at(p, mb->venue, mb->pair);
    vp->updated_ns = now;
    if (down) {
        xr_book_reset(&vp->book);
        return;
    }
    if (mb->delta && !xr_eng_md_delta_applies(&vp->book, mb)) {
        /* Not a continuation of what this copy holds (cannot happen while the venue stage
         * keeps its rule): never price a wrong book; unusable until the next snapshot, which
         * the venue stage sends at least every XR_ENG_MD_KEYFRAME messages. */
        xr_book_reset(&vp->book);
        return;
    }
    xr_ev_book ev;
    memset(&ev, 0, offsetof(xr_ev_book, levels));
    ev.first_id = mb->delta ? mb->base_id + 1 : mb->update_id;
    ev.last_id = mb->update_id;
    ev.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
    ev.n_bids = mb->n_bids;
    ev.n_asks = mb->n_asks;
    for (uint32_t i = 0; i < mb->n_bids; i++)
        ev.levels[i] = (xr_book_level){mb->bids[i].price, mb->bids[i].qty};
    for (uint32_t i = 0; i < mb->n_asks; i++)
        ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - i] =
            (xr_book_level){mb->asks[i].price, mb->asks[i].qty};
    xr_book_outcome oc;
    if (mb->delta)
        (void)xr_book_apply_delta(&vp->book, &ev, now, &oc); /* a bad one leaves it unsynced */
    else
        (void)xr_book_apply_snapshot(&vp->book, &ev, now, &oc);
}

/* ---- requests -------------------------------------------------------------------------------- */

static xr_err find_pair(const xr_eng_pricing *p, const char *name, uint32_t *pair, uint32_t *pid)
{
    char buf[XR_ENGINE_PAIR_NAME_MAX];
    memcpy(buf, name, sizeof buf);
    buf[sizeof buf - 1] = '\0';
    int i = xr_eng_find_pair(p->sh, buf);
    if (i < 0)
        return XR_ERR_UNKNOWN_PAIR;
    if (p->pricer_pair[i] == NO_PAIR)
        return XR_ERR_VENUE_UNAVAILABLE; /* configured, but no venue has sent its rules yet */
    *pair = (uint32_t)i;
    *pid = p->pricer_pair[i];
    return XR_OK;
}

static uint8_t fixed_of(uint8_t side, uint8_t amount_side)
{
    bool base = amount_side == XR_ENGINE_AMOUNT_BASE;
    if (side == XR_ENGINE_BUY)
        return base ? XR_QUOTE_FIX_TARGET : XR_QUOTE_FIX_SOURCE;
    return base ? XR_QUOTE_FIX_SOURCE : XR_QUOTE_FIX_TARGET;
}

static void ev_header(xr_eng_msg *m, const xr_engine_cmd *cmd, xr_engine_event_kind kind)
{
    memset(m, 0, sizeof *m);
    m->type = XR_ENG_M_EVT;
    m->u.ev.kind = (uint8_t)kind;
    m->u.ev.bank_id = cmd->bank_id;
    m->u.ev.correlation_id = cmd->correlation_id;
    m->u.ev.customer_id = cmd->customer_id;
}

static void quote(xr_eng_pricing *p, const xr_eng_req *r, uint64_t now)
{
    const xr_engine_quote_cmd *qc = &r->cmd.u.quote;
    xr_eng_msg m;
    uint32_t pair, pid;
    xr_err err = find_pair(p, qc->pair, &pair, &pid);
    if (err == XR_OK && ((qc->side != XR_ENGINE_BUY && qc->side != XR_ENGINE_SELL) ||
                         qc->amount_side > XR_ENGINE_AMOUNT_QUOTE))
        err = XR_ERR_INVALID_ARGUMENT;
    xr_quote q;
    if (err == XR_OK) {
        xr_quote_request req = {.bank = r->cmd.bank_id,
                                .customer = r->cust_no,
                                .pair = pid,
                                .side = qc->side,
                                .tier = r->tier,
                                .fixed = fixed_of(qc->side, qc->amount_side),
                                .amount = qc->amount};
        err = xr_pricing_quote(&p->pricer, &req, now, &q, NULL);
    }
    if (err != XR_OK) {
        xr_eng_reject(&m, &r->cmd, err);
        xr_eng_port_send(&p->to_gw, &m);
        return;
    }
    ev_header(&m, &r->cmd, XR_ENGINE_EV_QUOTE);
    xr_engine_quote_ev *e = &m.u.ev.u.quote;
    const xr_instrument *inst = NULL;
    for (uint32_t v = 0; v < p->sh->cfg.nvenues && inst == NULL; v++)
        if (vp_at(p, v, pair)->added)
            inst = &vp_at(p, v, pair)->inst;
    XR_ASSERT(inst != NULL);
    e->quote_id = q.id;
    memcpy(e->pair, p->sh->pairs[pair].name, sizeof e->pair);
    e->side = qc->side;
    e->amount_side = qc->amount_side;
    e->base_scale = inst->scale.base;
    e->quote_scale = inst->scale.quote;
    e->price_scale = inst->scale.price;
    e->spread_bps = q.spread_bps;
    e->base = q.base;
    e->quote = q.quote;
    e->notional = q.notional;
    e->fees = q.fees;
    e->spread = q.spread;
    e->price = q.price;
    e->expires_ns = xr_clock_wall_ns() + (int64_t)(q.expires_ns - now);
    xr_eng_port_send(&p->to_gw, &m);
}

static void book(xr_eng_pricing *p, const xr_eng_req *r, uint64_t now)
{
    const xr_engine_market_cmd *mc = &r->cmd.u.market;
    xr_eng_msg m;
    uint32_t pair, pid;
    xr_err err = find_pair(p, mc->pair, &pair, &pid);
    if (err == XR_OK && (mc->depth == 0 || mc->depth > XR_ENGINE_BOOK_LEVELS_MAX))
        err = XR_ERR_INVALID_ARGUMENT;
    xr_book_level lv[2][XR_ENGINE_BOOK_LEVELS_MAX];
    uint32_t n[2] = {0, 0};
    if (err == XR_OK)
        err = xr_pricing_depth(&p->pricer, pid, XR_SIDE_BUY, now, lv[0], mc->depth, &n[0]);
    if (err == XR_OK)
        err = xr_pricing_depth(&p->pricer, pid, XR_SIDE_SELL, now, lv[1], mc->depth, &n[1]);
    if (err != XR_OK) {
        xr_eng_reject(&m, &r->cmd, err);
        xr_eng_port_send(&p->to_gw, &m);
        return;
    }
    ev_header(&m, &r->cmd, XR_ENGINE_EV_BOOK);
    xr_engine_book_ev *b = &m.u.ev.u.book;
    memcpy(b->pair, p->sh->pairs[pair].name, sizeof b->pair);
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++)
        if (vp_at(p, v, pair)->added) {
            b->base_scale = vp_at(p, v, pair)->inst.scale.base;
            b->price_scale = vp_at(p, v, pair)->inst.scale.price;
            break;
        }
    b->n_bids = (uint16_t)n[0];
    b->n_asks = (uint16_t)n[1];
    for (uint32_t i = 0; i < n[0]; i++)
        b->bids[i] = (xr_engine_level){lv[0][i].price, lv[0][i].qty};
    for (uint32_t i = 0; i < n[1]; i++)
        b->asks[i] = (xr_engine_level){lv[1][i].price, lv[1][i].qty};
    xr_eng_port_send(&p->to_gw, &m);
}

/* The child's IOC limit: the walk's limit moved by the allowed slippage, on the tick, never
 * beyond the bound (buy rounded down, sell up). */
static xr_err bound_of(const xr_instrument *inst, uint8_t side, xr_price limit, uint32_t slip_bps,
                       xr_price *out)
{
    xr_i128 tick = inst->tick.ticks > 0 ? inst->tick.ticks : 1, v;
    bool buy = side == XR_ENGINE_BUY;
    xr_i128 num = buy ? (xr_i128)(10000 + slip_bps) : (xr_i128)(10000 - slip_bps);
    /* limit x num / (10^4 x tick), rounded toward the customer, then back to ticks. */
    xr_err err = xr_i128_muldiv(limit.ticks, num, (xr_i128)10000 * tick,
                                buy ? XR_ROUND_DOWN : XR_ROUND_UP, &v);
    if (err == XR_OK)
        err = xr_i128_mul(v, tick, &out->ticks);
    if (err == XR_OK && inst->price_max.ticks > 0 && out->ticks > inst->price_max.ticks)
        out->ticks = inst->price_max.ticks - inst->price_max.ticks % tick;
    if (err == XR_OK && (buy ? out->ticks < limit.ticks : out->ticks > limit.ticks))
        out->ticks = limit.ticks; /* never inside the walk's own limit */
    return err;
}

/* An order executing firm quote oc->quote_id: the same bank, customer, pair, side, amount
 * side and amount as the quote request (else INVALID_ARGUMENT; an unknown id or another
 * customer's quote: NOT_FOUND), then the pricer's execute (expiry, single use, slippage). On
 * XR_OK `*q` is the quote as honoured and `*fill` the fresh walk of its base: the plan. */
static xr_err execute_quote(xr_eng_pricing *p, const xr_eng_order *o, uint32_t pid, uint64_t now,
                            xr_quote *q, xr_pricing_fill *fill)
{
    const xr_engine_order_cmd *oc = &o->cmd.u.order;
    xr_err err = xr_pricing_quote_get(&p->pricer, oc->quote_id, o->cmd.bank_id, o->cust_no, q);
    if (err != XR_OK)
        return err;
    if (q->pair != pid || q->side != oc->side || q->fixed != fixed_of(oc->side, oc->amount_side) ||
        q->amount.units != oc->amount.units)
        return XR_ERR_INVALID_ARGUMENT;
    return xr_pricing_execute(&p->pricer, oc->quote_id, o->cmd.bank_id, o->cust_no, now, q, fill);
}

/* The best-execution record of a routing decision: every venue of the pair, its best bid and
 * ask and the age of its book. */
static void best_ex(xr_eng_pricing *p, xr_eng_order *o, uint32_t pair, uint64_t now)
{
    o->n_bx = 0;
    o->decided_ns = xr_clock_wall_ns();
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++) {
        const venue_pair *vp = vp_at(p, v, pair);
        if (!vp->added)
            continue;
        xr_engine_venue_price *x = &o->bx[o->n_bx++];
        memset(x, 0, sizeof *x);
        x->venue = (uint16_t)v;
        x->usable =
            xr_book_check(&vp->book, now) == XR_OK && vp->inst.status == XR_INSTRUMENT_TRADING;
        x->age_ns = vp->updated_ns != 0 && now > vp->updated_ns ? now - vp->updated_ns : 0;
        xr_book_level lv;
        uint32_t n = 0;
        if (xr_book_top(&vp->book, XR_SIDE_BUY, now, &lv, 1, &n) == XR_OK && n == 1)
            x->bid = lv.price;
        if (xr_book_top(&vp->book, XR_SIDE_SELL, now, &lv, 1, &n) == XR_OK && n == 1)
            x->ask = lv.price;
    }
}

static xr_err plan(xr_eng_pricing *p, xr_eng_order *o, uint64_t now)
{
    const xr_engine_order_cmd *oc = &o->cmd.u.order;
    uint32_t pair, pid;
    xr_err err = find_pair(p, oc->pair, &pair, &pid);
    if (err != XR_OK)
        return err;
    xr_quote_request req = {.bank = o->cmd.bank_id,
                            .customer = o->cust_no,
                            .pair = pid,
                            .side = oc->side,
                            .tier = o->tier,
                            .fixed = fixed_of(oc->side, oc->amount_side),
                            .amount = oc->amount};
    xr_quote q;
    xr_pricing_fill fill;
    if (oc->quote_id != 0)
        err = execute_quote(p, o, pid, now, &q, &fill);
    else
        err = xr_pricing_price(&p->pricer, &req, now, &q, &fill);
    if (err != XR_OK)
        return err;
    best_ex(p, o, pair, now);
    const xr_eng_pair *ep = &p->sh->pairs[pair];
    o->pair = pair;
    o->base_asset = ep->base_asset;
    o->quote_asset = ep->quote_asset;
    o->spread_bps = q.spread_bps;
    o->n_legs = fill.n_legs;
    o->n_sent = 0;
    o->excluded = 0;
    /* The base the children fill: the amount itself for a base-side order, the walk's base
     * for a quote-side one, the quote's base for a firm quote. */
    o->base_qty = fill.base;
    o->cap_notional = fill.notional;
    o->q_quote.units = o->q_spread.units = 0;
    if (oc->quote_id != 0) {
        o->q_quote = q.quote;
        o->q_spread = q.spread;
    }
    const bool buy = oc->side == XR_ENGINE_BUY;
    for (uint32_t i = 0; i < fill.n_legs; i++) {
        const xr_pricing_leg *pl = &fill.legs[i];
        const venue_pair *vp = vp_at(p, pl->venue, pair);
        xr_eng_leg *l = &o->legs[i];
        memset(l, 0, sizeof *l);
        l->venue = pl->venue;
        l->fee_bps = p->sh->cfg.venues[pl->venue].taker_fee_bps;
        l->qty = pl->qty;
        o->scale = vp->inst.scale;
        if ((err = bound_of(&vp->inst, oc->side, pl->limit, p->sh->cfg.slippage_bps, &l->limit)) !=
            XR_OK)
            return err;
        /* The order's bound: the furthest of its children's limits. A re-routed child's
         * limit never goes beyond it (failover stays inside the original slippage bound). */
        if (i == 0 || (buy ? l->limit.ticks > o->bound.ticks : l->limit.ticks < o->bound.ticks))
            o->bound = l->limit;
    }
    /* The highest taker fee over the pair's venues: failover may move any part of the order
     * to any of them, and the reservation must still cover it. */
    o->fee_cap = 0;
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++)
        if (vp_at(p, v, pair)->added && p->sh->cfg.venues[v].taker_fee_bps > o->fee_cap)
            o->fee_cap = p->sh->cfg.venues[v].taker_fee_bps;
    if (buy && oc->quote_id != 0) {
        /* A firm quote: the customer pays the quoted amount, never more (docs/ledger.md,
         * "Firm quotes"); what the venues cost beyond it is the house's. */
        o->reserve = q.quote;
    } else if (buy) {
        /* The most the order can cost, wherever its children go: the whole base amount at
         * the bound, the highest fee, plus one minor unit per child for each of the two
         * roundings up (notional, fee) and one for the fee's fraction, then the spread. Any
         * set of children with limits inside the bound, fees up to fee_cap and quantities
         * summing to at most the amount costs no more (docs/ledger.md, "Rounding"). */
        xr_amount n, f, s, spend;
        if ((err = xr_notional(fill.base, o->bound, &o->scale, XR_ROUND_UP, &n)) != XR_OK ||
            (err = xr_amount_mul_ratio(n, o->fee_cap, 10000, XR_ROUND_UP, &f)) != XR_OK ||
            (err = xr_amount_add(n, f, &spend)) != XR_OK)
            return err;
        spend.units += 2 * XR_ENG_LEGS_MAX + 1;
        if ((err = xr_amount_mul_ratio(spend, o->spread_bps, 10000, XR_ROUND_DOWN, &s)) != XR_OK ||
            (err = xr_amount_add(spend, s, &o->reserve)) != XR_OK)
            return err;
        /* "Spend X all in": the customer is never charged more than X (the router caps the
         * charge at the amount), so X is all that needs holding. */
        if (oc->amount_side == XR_ENGINE_AMOUNT_QUOTE && oc->amount.units < o->reserve.units)
            o->reserve = oc->amount;
    } else {
        o->reserve = fill.base;
    }
    return XR_OK;
}

/* Failover: the remainder of `o` (its children are all final, some came back short) walked
 * again over the consolidated book without the venues in o->excluded, as new legs after the
 * existing ones, each limit inside the order's bound. Nothing is added when no venue is left
 * (the router then books what filled and fails the rest). */
static void add_legs(xr_eng_pricing *p, xr_eng_order *o, uint64_t now)
{
    const xr_engine_order_cmd *oc = &o->cmd.u.order;
    const bool buy = oc->side == XR_ENGINE_BUY;
    uint32_t pid = p->pricer_pair[o->pair];
    xr_amount remain = o->base_qty;
    for (uint32_t i = 0; i < o->n_legs; i++)
        remain.units -= o->legs[i].filled.units;
    if (pid == NO_PAIR || remain.units <= 0 || o->n_legs >= XR_ENG_LEGS_MAX)
        return;
    /* The pricer has no exclusion list: the failed venues are hidden for this one walk as
     * halted instruments (this stage owns them; nothing else runs meanwhile). */
    uint8_t saved[XR_ENGINE_VENUES_MAX];
    const uint32_t nv = p->sh->cfg.nvenues;
    for (uint32_t v = 0; v < nv; v++) {
        venue_pair *vp = vp_at(p, v, o->pair);
        saved[v] = vp->inst.status;
        if (o->excluded & (1u << v))
            vp->inst.status = XR_INSTRUMENT_HALTED;
    }
    xr_pricing_fill fill;
    xr_err err = xr_pricing_walk(&p->pricer, pid, buy ? XR_SIDE_BUY : XR_SIDE_SELL, XR_PRICING_BASE,
                                 remain, now, &fill);
    for (uint32_t v = 0; v < nv; v++)
        vp_at(p, v, o->pair)->inst.status = saved[v];
    if (err != XR_OK && err != XR_ERR_INSUFFICIENT_LIQUIDITY)
        return;
    for (uint32_t i = 0; i < fill.n_legs && o->n_legs < XR_ENG_LEGS_MAX; i++) {
        const xr_pricing_leg *pl = &fill.legs[i];
        const venue_pair *vp = vp_at(p, pl->venue, o->pair);
        uint16_t fee = p->sh->cfg.venues[pl->venue].taker_fee_bps;
        if ((o->excluded & (1u << pl->venue)) || fee > o->fee_cap || pl->qty.units <= 0)
            continue;
        xr_price lim;
        if (bound_of(&vp->inst, oc->side, pl->limit, p->sh->cfg.slippage_bps, &lim) != XR_OK)
            continue;
        /* Never beyond the order's bound; on this venue's tick, toward the customer. */
        xr_i128 tick = vp->inst.tick.ticks > 0 ? vp->inst.tick.ticks : 1;
        if (buy && lim.ticks > o->bound.ticks)
            lim.ticks = o->bound.ticks - o->bound.ticks % tick;
        if (!buy && lim.ticks < o->bound.ticks)
            lim.ticks = o->bound.ticks + (tick - o->bound.ticks % tick) % tick;
        if (lim.ticks <= 0 || (buy ? lim.ticks > o->bound.ticks : lim.ticks < o->bound.ticks))
            continue;
        xr_eng_leg *l = &o->legs[o->n_legs++];
        memset(l, 0, sizeof *l);
        l->venue = pl->venue;
        l->fee_bps = fee;
        l->qty = pl->qty;
        l->limit = lim;
    }
}

/* ---- Limit orders and the internal book ------------------------------------------------------
 *
 * A LIMIT order's `limit` is the CUSTOMER's price: quote per base all in (venue fee and the
 * bank's spread included), as the report's avg_price states it. On a venue with taker fee f
 * and the order's spread s, a buy may pay the venue at most limit / ((1 + s)(1 + f)) (the
 * child's IOC limit, rounded down to the venue's tick; a sell: at least limit / ((1 - s)(1 -
 * f)), rounded up), so that the customer's price before the minor-unit roundings of
 * docs/ledger.md stays within the limit.
 *
 * The internal book (core/router/ibook, one per pair) holds resting GTC/GTD orders at their
 * venue-equivalent price net of spread only: buy floor(limit / (1 + s)), sell ceil(limit /
 * (1 - s)). Two client orders cross there at the RESTING order's such price P: the buyer pays
 * P(1 + s_buy), the seller receives P(1 - s_sell), each within its own limit, no venue fee,
 * both spreads are revenue (docs/ledger.md, "Internal cross"). A resting order is checked
 * against the consolidated best bid / ask whenever a venue book of its pair changes; when the
 * market reaches it, the venues whose own child limit (fee included) still has depth get IOC
 * children, and whatever comes back unfilled rests again (at the back of its price's queue).
 * A resting order stays in the router's pool; this stage keeps its copy in `rest` (by the
 * router's pool index) and the ibook's order id is that index + 1. */

static bool limit_resting_kind(const xr_eng_order *o)
{
    const xr_engine_order_cmd *c = &o->cmd.u.order;
    return c->tif == XR_ENGINE_TIF_DEFAULT || c->tif == XR_ENGINE_TIF_GTC ||
           c->tif == XR_ENGINE_TIF_GTD;
}

static xr_i128 legs_filled(const xr_eng_order *o)
{
    xr_i128 t = 0;
    for (uint32_t i = 0; i < o->n_legs; i++)
        t += o->legs[i].filled.units;
    return t;
}

/* The child's limit on a venue: see above. */
static xr_err child_limit(const xr_instrument *inst, const xr_eng_order *o, uint16_t fee,
                          xr_price *out)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    xr_i128 s = o->spread_bps, tick = inst->tick.ticks > 0 ? inst->tick.ticks : 1, v;
    xr_i128 den = buy ? (10000 + s) * (10000 + fee) : (10000 - s) * (10000 - fee);
    if (den <= 0)
        return XR_ERR_INVALID_ARGUMENT;
    xr_err err = xr_i128_muldiv(o->cmd.u.order.limit.ticks, (xr_i128)100000000, den * tick,
                                buy ? XR_ROUND_DOWN : XR_ROUND_UP, &v);
    if (err == XR_OK)
        err = xr_i128_mul(v, tick, &out->ticks);
    return err;
}

/* The resting price in the internal book: see above. */
static xr_err ibook_price(const xr_eng_order *o, xr_price *out)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    xr_i128 s = o->spread_bps;
    xr_err err = xr_i128_muldiv(o->cmd.u.order.limit.ticks, 10000, buy ? 10000 + s : 10000 - s,
                                buy ? XR_ROUND_DOWN : XR_ROUND_UP, &out->ticks);
    if (err == XR_OK && out->ticks <= 0)
        err = XR_ERR_INVALID_ARGUMENT;
    return err;
}

/* Adds IOC legs at each usable venue's child limit for what its book offers inside it, best
 * venue (top of book net of fee) first, up to the order's remainder; venues in o->excluded
 * are skipped. Returns the base quantity added. */
static xr_i128 limit_legs(xr_eng_pricing *p, xr_eng_order *o, uint64_t now)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    const uint32_t nv = p->sh->cfg.nvenues;
    xr_i128 remain = o->cmd.u.order.amount.units - legs_filled(o);
    for (uint32_t i = 0; i < o->n_legs; i++)
        if (!o->legs[i].done) /* planned, not yet final: counts as taken */
            remain -= o->legs[i].qty.units - o->legs[i].filled.units;
    uint32_t order[XR_ENGINE_VENUES_MAX], n = 0;
    xr_i128 avail[XR_ENGINE_VENUES_MAX], net[XR_ENGINE_VENUES_MAX];
    xr_price lim[XR_ENGINE_VENUES_MAX];
    for (uint32_t v = 0; v < nv; v++) {
        venue_pair *vp = vp_at(p, v, o->pair);
        uint16_t fee = p->sh->cfg.venues[v].taker_fee_bps;
        xr_book_view view;
        if (!vp->added || (o->excluded & (1u << v)) || vp->inst.status != XR_INSTRUMENT_TRADING ||
            xr_book_read(&vp->book, buy ? XR_SIDE_SELL : XR_SIDE_BUY, now, &view) != XR_OK ||
            view.n == 0 || child_limit(&vp->inst, o, fee, &lim[v]) != XR_OK || lim[v].ticks <= 0)
            continue;
        xr_i128 a = 0;
        for (uint32_t i = 0; i < view.n; i++) {
            const xr_book_level *lv = xr_book_view_at(&view, i);
            if (buy ? lv->price.ticks > lim[v].ticks : lv->price.ticks < lim[v].ticks)
                break;
            a += lv->qty.units;
        }
        if (a <= 0)
            continue;
        avail[v] = a;
        xr_i128 top = xr_book_view_at(&view, 0)->price.ticks;
        net[v] = top * (buy ? 10000 + fee : 10000 - fee);
        /* insertion by net top price, best first (ties: lower venue index first) */
        uint32_t j = n++;
        while (j > 0 && (buy ? net[order[j - 1]] > net[v] : net[order[j - 1]] < net[v])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    xr_i128 added = 0;
    for (uint32_t k = 0; k < n && remain > 0 && o->n_legs < XR_ENG_LEGS_MAX; k++) {
        uint32_t v = order[k];
        const venue_pair *vp = vp_at(p, v, o->pair);
        xr_i128 q = avail[v] < remain ? avail[v] : remain;
        xr_i128 step = vp->inst.lot_step.units > 0 ? vp->inst.lot_step.units : 1;
        q -= q % step;
        if (q <= 0 || xr_instrument_check_order(&vp->inst, lim[v], (xr_amount){q}) != XR_OK)
            continue;
        xr_eng_leg *l = &o->legs[o->n_legs++];
        memset(l, 0, sizeof *l);
        l->venue = (uint16_t)v;
        l->fee_bps = p->sh->cfg.venues[v].taker_fee_bps;
        l->qty.units = q;
        l->limit = lim[v];
        remain -= q;
        added += q;
    }
    return added;
}

/* Pre-trade checks and plan of a LIMIT order (the MARKET path is plan()). */
static xr_err plan_limit(xr_eng_pricing *p, xr_eng_order *o, uint64_t now)
{
    const xr_engine_order_cmd *oc = &o->cmd.u.order;
    uint32_t pair, pid;
    xr_err err = find_pair(p, oc->pair, &pair, &pid);
    if (err != XR_OK)
        return err;
    if ((oc->side != XR_ENGINE_BUY && oc->side != XR_ENGINE_SELL) || oc->limit.ticks <= 0 ||
        (oc->tif == XR_ENGINE_TIF_GTD && oc->expire_ns <= xr_clock_wall_ns()) ||
        (oc->tif != XR_ENGINE_TIF_GTD && oc->expire_ns != 0))
        return XR_ERR_INVALID_ARGUMENT;
    if (oc->amount.units <= 0)
        return XR_ERR_INVALID_AMOUNT;
    if ((err = xr_pricing_get_spread(&p->pricer, o->cmd.bank_id, pid, o->tier, &o->spread_bps)) !=
        XR_OK)
        return err;
    if (o->spread_bps >= 10000)
        return XR_ERR_INVALID_ARGUMENT;
    const xr_eng_pair *ep = &p->sh->pairs[pair];
    o->pair = pair;
    o->base_asset = ep->base_asset;
    o->quote_asset = ep->quote_asset;
    o->n_legs = o->n_sent = 0;
    o->excluded = 0;
    o->fee_cap = 0;
    bool scaled = false;
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++) {
        const venue_pair *vp = vp_at(p, v, pair);
        if (!vp->added)
            continue;
        if (!scaled) {
            o->scale = vp->inst.scale;
            scaled = true;
        }
        if (p->sh->cfg.venues[v].taker_fee_bps > o->fee_cap)
            o->fee_cap = p->sh->cfg.venues[v].taker_fee_bps;
        xr_i128 step = vp->inst.lot_step.units > 0 ? vp->inst.lot_step.units : 1;
        if (oc->amount.units % step != 0)
            return XR_ERR_INVALID_AMOUNT;
    }
    if (!scaled)
        return XR_ERR_VENUE_UNAVAILABLE;
    o->base_qty = oc->amount;
    /* The daily cap counts the most the order can trade: the whole amount at its limit. */
    if ((err = xr_notional(oc->amount, oc->limit, &o->scale, XR_ROUND_UP, &o->cap_notional)) !=
        XR_OK)
        return err;
    o->bound = oc->limit;
    best_ex(p, o, pair, now);
    xr_i128 got = limit_legs(p, o, now);
    if (oc->tif == XR_ENGINE_TIF_FOK && got < oc->amount.units)
        return XR_ERR_INSUFFICIENT_LIQUIDITY; /* all or nothing: nothing is reserved */
    if (oc->tif == XR_ENGINE_TIF_IOC && got == 0)
        return XR_ERR_INSUFFICIENT_LIQUIDITY;
    if (oc->side == XR_ENGINE_BUY) {
        /* The whole amount at the customer's limit, which already includes fee and spread,
         * plus two minor units per possible leg for each of the roundings up (notional, fee)
         * and the spread's. */
        if ((err = xr_notional(oc->amount, oc->limit, &o->scale, XR_ROUND_UP, &o->reserve)) !=
            XR_OK)
            return err;
        o->reserve.units += 4 * XR_ENG_LEGS_MAX + 2;
    } else {
        o->reserve = oc->amount;
    }
    return XR_OK;
}

static void rest_take_out(xr_eng_pricing *p, xr_eng_order *o)
{
    uint32_t ref = o->route_ref;
    if (p->rest_by_entry[o->gw_entry] == ref + 1)
        p->rest_by_entry[o->gw_entry] = 0;
    p->rest_used[ref] = 0;
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *o;
    m.u.order.phase = XR_ENG_PH_REROUTE;
    xr_eng_port_send(&p->to_ledger, &m);
}

static void rest_fill_cb(void *ctx, const xr_ibook_fill *f)
{
    xr_eng_pricing *p = ctx;
    XR_ASSERT(p->nfills < p->sh->cfg.orders_max);
    p->fills[p->nfills++] = *f;
}

/* Records an internal cross of `qty` at `price` on `o`: one internal leg per taking out. */
static void add_internal(xr_eng_order *o, xr_amount qty, xr_price price)
{
    xr_eng_leg *l = NULL;
    for (uint32_t i = o->n_sent; i < o->n_legs; i++)
        if (o->legs[i].venue == XR_ENG_VENUE_INTERNAL)
            l = &o->legs[i];
    if (l == NULL) {
        XR_ASSERT(o->n_legs < XR_ENG_LEGS_MAX); /* an order rests only with a leg to spare */
        l = &o->legs[o->n_legs++];
        memset(l, 0, sizeof *l);
        l->venue = XR_ENG_VENUE_INTERNAL;
        l->done = l->done_seen = 1;
        l->limit = price;
    }
    l->qty.units += qty.units;
    l->filled.units += qty.units;
    l->done_cum = l->filled;
    l->quote_exact += qty.units * price.ticks; /* both below 2^113 (ibook, book ranges) */
    /* The state table's PARTIAL_FILL / FULL_FILL rows from OPEN or PARTIALLY_FILLED, so the
     * record written before the router sees the order shows it (the router applies the same
     * event through core/router/order_state, which then changes nothing). */
    o->status = legs_filled(o) >= o->cmd.u.order.amount.units ? XR_ENGINE_ORDER_FILLED
                                                              : XR_ENGINE_ORDER_PARTIALLY_FILLED;
}

static void gw_open(xr_eng_pricing *p, const xr_eng_order *o)
{
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *o;
    m.u.order.phase = XR_ENG_PH_OPEN;
    m.u.order.filled.units = legs_filled(o);
    xr_eng_port_send(&p->to_gw, &m);
}

/* Puts `in` (taken from the router, no new legs found) into the internal book; crosses with
 * opposite resting orders happen here. */
static void rest(xr_eng_pricing *p, xr_eng_order *in)
{
    const uint32_t ref = in->route_ref;
    xr_ibook *ib = &p->ib[in->pair];
    xr_ibook_order io = {
        .id = (uint64_t)ref + 1,
        .side = in->cmd.u.order.side == XR_ENGINE_BUY ? XR_IBOOK_BUY : XR_IBOOK_SELL,
        .tif = in->cmd.u.order.tif == XR_ENGINE_TIF_GTD ? XR_IBOOK_GTD : XR_IBOOK_GTC,
        .expire_ns =
            in->cmd.u.order.tif == XR_ENGINE_TIF_GTD ? (uint64_t)in->cmd.u.order.expire_ns : 0};
    io.qty.units = in->cmd.u.order.amount.units - legs_filled(in);
    xr_ibook_result res;
    xr_err err = ibook_price(in, &io.price);
    p->nfills = 0;
    if (err == XR_OK)
        err = xr_ibook_submit(ib, &io, (uint64_t)xr_clock_wall_ns(), &res);
    if (err != XR_OK) {
        /* Cannot rest (the book is full, a price out of range): ended as cancelled, what
         * filled is booked, with the reason. */
        in->ending = XR_ENG_END_CANCEL;
        in->err = err;
        rest_take_out(p, in);
        return;
    }
    xr_eng_order *o = &p->rest[ref];
    *o = *in;
    o->rested = 1;
    o->excluded = 0; /* resting: when the market moves, every venue may be tried again */
    p->rest_used[ref] = 1;
    p->rest_by_entry[o->gw_entry] = ref + 1;
    for (uint32_t i = 0; i < p->nfills; i++) {
        const xr_ibook_fill *f = &p->fills[i];
        xr_eng_order *mk = &p->rest[f->maker_id - 1];
        XR_ASSERT(p->rest_used[f->maker_id - 1]);
        add_internal(mk, f->qty, f->price);
        add_internal(o, f->qty, f->price);
        /* A maker with a remainder leaves the book too: its fill must be stored before it
         * is booked, and it comes back through the router (at the back of its queue). */
        if (f->maker_remaining.units > 0)
            (void)xr_ibook_cancel(ib, f->maker_id, NULL);
        rest_take_out(p, mk);
    }
    if (p->nfills > 0) {
        if (res.outcome == XR_IBOOK_RESTING)
            (void)xr_ibook_cancel(ib, io.id, NULL);
        rest_take_out(p, o);
        return;
    }
    gw_open(p, o);
}

/* A LIMIT order back from the router with every child final (the REROUTE path). */
static void limit_reroute(xr_eng_pricing *p, const xr_eng_order *in, uint64_t now)
{
    xr_eng_order o = *in;
    if (o.recovered) {
        gw_open(p, &o); /* reconciliation of this order is done: the gateway counts it */
        o.recovered = 0;
    }
    if (!limit_resting_kind(&o)) {
        /* IOC / FOK failover inside the limit; nothing found: the router books and ends it */
        if (p->pricer_pair[o.pair] != NO_PAIR)
            (void)limit_legs(p, &o, now);
        rest_take_out(p, &o);
        return;
    }
    if (p->cancel_req[o.gw_entry]) {
        o.ending = XR_ENG_END_CANCEL;
    } else if (o.cmd.u.order.tif == XR_ENGINE_TIF_GTD &&
               o.cmd.u.order.expire_ns <= xr_clock_wall_ns()) {
        o.ending = XR_ENG_END_EXPIRED;
    } else {
        /* venues that just came back short are excluded for this at-once retry only */
        if (p->pricer_pair[o.pair] != NO_PAIR && limit_legs(p, &o, now) > 0) {
            best_ex(p, &o, o.pair, now);
            rest_take_out(p, &o);
            return;
        }
        rest(p, &o);
        return;
    }
    rest_take_out(p, &o);
}

/* CANCEL: a resting order leaves the book now; any other order in flight is cancelled when
 * it comes back from its venues (IOC children cannot be stopped; see engine.h, CANCEL). */
static void limit_cancel(xr_eng_pricing *p, const xr_eng_req *r)
{
    uint32_t entry = r->gw_entry;
    XR_ASSERT(entry < p->sh->cfg.idempotency_max);
    uint32_t ref1 = p->rest_by_entry[entry];
    if (ref1 == 0) {
        p->cancel_req[entry] = 1;
        return;
    }
    xr_eng_order *o = &p->rest[ref1 - 1];
    (void)xr_ibook_cancel(&p->ib[o->pair], ref1, NULL);
    o->ending = XR_ENG_END_CANCEL;
    rest_take_out(p, o);
}

/* The consolidated market of `pair` moved: resting orders it now reaches are routed. */
static void limit_market(xr_eng_pricing *p, uint32_t pair, uint64_t now)
{
    uint32_t pid = p->pricer_pair[pair];
    xr_pricing_bbo bbo;
    if (pid == NO_PAIR || xr_pricing_bbo_get(&p->pricer, pid, now, &bbo) != XR_OK)
        return;
    uint64_t ids[16];
    size_t n = 0;
    (void)xr_ibook_marketable(&p->ib[pair], bbo.bid.ticks > 0 ? &bbo.bid : NULL,
                              bbo.ask.ticks > 0 ? &bbo.ask : NULL, ids, 16, &n);
    for (size_t i = 0; i < n; i++) {
        xr_eng_order *o = &p->rest[ids[i] - 1];
        if (limit_legs(p, o, now) > 0) {
            best_ex(p, o, pair, now);
            (void)xr_ibook_cancel(&p->ib[pair], ids[i], NULL);
            rest_take_out(p, o);
        }
    }
}

/* GTD orders past their expiry leave the book, to be booked EXPIRED. */
static void limit_expire(xr_eng_pricing *p)
{
    int64_t wall = xr_clock_wall_ns();
    for (uint32_t pair = 0; pair < p->sh->npairs; pair++) {
        uint64_t ids[16];
        size_t n = 0;
        (void)xr_ibook_expire_due(&p->ib[pair], (uint64_t)wall, ids, 16, &n);
        for (size_t i = 0; i < n; i++) {
            xr_eng_order *o = &p->rest[ids[i] - 1];
            o->ending = XR_ENG_END_EXPIRED;
            rest_take_out(p, o);
        }
    }
}

static xr_err limit_create(xr_eng_pricing *p)
{
    const xr_engine_config *c = &p->sh->cfg;
    uint32_t np = p->sh->npairs > 0 ? p->sh->npairs : 1;
    p->ib = xr_eng_alloc(sizeof *p->ib * np);
    p->ib_mem = xr_eng_alloc(sizeof *p->ib_mem * np);
    p->rest = xr_eng_alloc(sizeof *p->rest * c->orders_max);
    p->rest_used = xr_eng_alloc(c->orders_max);
    p->rest_by_entry = xr_eng_alloc(sizeof *p->rest_by_entry * c->idempotency_max);
    p->cancel_req = xr_eng_alloc(c->idempotency_max);
    p->fills = xr_eng_alloc(sizeof *p->fills * c->orders_max);
    if (p->ib == NULL || p->ib_mem == NULL || p->rest == NULL || p->rest_used == NULL ||
        p->rest_by_entry == NULL || p->cancel_req == NULL || p->fills == NULL)
        return XR_ERR_NO_MEMORY;
    xr_ibook_config bc = {.orders_max = c->orders_max, .on_fill = rest_fill_cb, .ctx = p};
    size_t len = xr_ibook_footprint(&bc);
    if (len == 0)
        return XR_ERR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < p->sh->npairs; i++) {
        if ((p->ib_mem[i] = xr_eng_alloc(len)) == NULL)
            return XR_ERR_NO_MEMORY;
        xr_err err = xr_ibook_init(&p->ib[i], p->ib_mem[i], len, &bc);
        if (err != XR_OK)
            return err;
    }
    return XR_OK;
}

static void limit_destroy(xr_eng_pricing *p)
{
    if (p->ib_mem != NULL)
        for (uint32_t i = 0; i < p->sh->npairs; i++)
            xr_eng_free(p->ib_mem[i]);
    xr_eng_free(p->ib_mem);
    xr_eng_free(p->ib);
    xr_eng_free(p->rest);
    xr_eng_free(p->rest_used);
    xr_eng_free(p->rest_by_entry);
    xr_eng_free(p->cancel_req);
    xr_eng_free(p->fills);
}

static void reroute(xr_eng_pricing *p, const xr_eng_order *in, uint64_t now)
{
    if (in->cmd.u.order.type == XR_ENGINE_LIMIT) {
        limit_reroute(p, in, now);
        return;
    }
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *in;
    add_legs(p, &m.u.order, now);
    xr_eng_port_send(&p->to_ledger, &m);
}

static void order(xr_eng_pricing *p, const xr_eng_order *in, uint64_t now)
{
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    xr_eng_order *o = &m.u.order;
    *o = *in;
    p->cancel_req[o->gw_entry] = 0; /* a new order in this gateway entry */
    xr_err err = o->cmd.u.order.type == XR_ENGINE_LIMIT ? plan_limit(p, o, now) : plan(p, o, now);
    if (err != XR_OK) {
        o->phase = XR_ENG_PH_REJECTED;
        o->err = err;
        xr_eng_port_send(&p->to_gw, &m);
        return;
    }
    o->phase = XR_ENG_PH_RESERVE;
    xr_eng_port_send(&p->to_ledger, &m);
}

/* ---- TICKER, OHLC, PAIRS (core/engine/market_data.c) --------------------------------------- */

/* The scales of `pair` from its first venue with known rules; false when there is none. */
static bool pair_scale(xr_eng_pricing *p, uint32_t pair, xr_pair_scale *out)
{
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++)
        if (vp_at(p, v, pair)->added) {
            *out = vp_at(p, v, pair)->inst.scale;
            return true;
        }
    return false;
}

static void ticker(xr_eng_pricing *p, const xr_eng_req *r, uint64_t now)
{
    const xr_engine_market_cmd *mc = &r->cmd.u.market;
    xr_eng_msg m;
    uint32_t pair, pid;
    xr_err err = find_pair(p, mc->pair, &pair, &pid);
    xr_book_level lv[2][1];
    uint32_t n[2] = {0, 0};
    if (err == XR_OK)
        err = xr_pricing_depth(&p->pricer, pid, XR_SIDE_BUY, now, lv[0], 1, &n[0]);
    if (err == XR_OK)
        err = xr_pricing_depth(&p->pricer, pid, XR_SIDE_SELL, now, lv[1], 1, &n[1]);
    xr_pair_scale sc;
    if (err == XR_OK && !pair_scale(p, pair, &sc))
        err = XR_ERR_VENUE_UNAVAILABLE;
    if (err != XR_OK) {
        xr_eng_reject(&m, &r->cmd, err);
        xr_eng_port_send(&p->to_gw, &m);
        return;
    }
    ev_header(&m, &r->cmd, XR_ENGINE_EV_TICKER);
    xr_engine_ticker_ev *t = &m.u.ev.u.ticker;
    memcpy(t->pair, p->sh->pairs[pair].name, sizeof t->pair);
    t->base_scale = sc.base;
    t->quote_scale = sc.quote;
    t->price_scale = sc.price;
    if (n[0] > 0) {
        t->bid = lv[0][0].price;
        t->bid_qty = lv[0][0].qty;
    }
    if (n[1] > 0) {
        t->ask = lv[1][0].price;
        t->ask_qty = lv[1][0].qty;
    }
    xr_eng_mdata_ticker(p->mdata, pair, xr_clock_wall_ns(), t);
    xr_eng_port_send(&p->to_gw, &m);
}

static void ohlc(xr_eng_pricing *p, const xr_eng_req *r)
{
    const xr_engine_market_cmd *mc = &r->cmd.u.market;
    xr_eng_msg m;
    uint32_t pair, pid;
    xr_err err = find_pair(p, mc->pair, &pair, &pid);
    xr_pair_scale sc;
    if (err == XR_OK && !pair_scale(p, pair, &sc))
        err = XR_ERR_VENUE_UNAVAILABLE;
    if (err == XR_OK) {
        ev_header(&m, &r->cmd, XR_ENGINE_EV_OHLC);
        xr_engine_ohlc_ev *o = &m.u.ev.u.ohlc;
        memcpy(o->pair, p->sh->pairs[pair].name, sizeof o->pair);
        o->base_scale = sc.base;
        o->price_scale = sc.price;
        err = xr_eng_mdata_ohlc(p->mdata, pair, mc->interval_s, mc->from_ns, mc->to_ns,
                                xr_clock_wall_ns(), o);
    }
    if (err != XR_OK)
        xr_eng_reject(&m, &r->cmd, err);
    xr_eng_port_send(&p->to_gw, &m);
}

static void pairs(xr_eng_pricing *p, const xr_eng_req *r)
{
    xr_eng_msg m;
    ev_header(&m, &r->cmd, XR_ENGINE_EV_PAIRS);
    xr_engine_pairs_ev *pe = &m.u.ev.u.pairs;
    uint32_t i = r->cmd.u.market.cursor;
    if (i > p->sh->npairs) {
        xr_eng_reject(&m, &r->cmd, XR_ERR_INVALID_ARGUMENT);
        xr_eng_port_send(&p->to_gw, &m);
        return;
    }
    for (; i < p->sh->npairs && pe->n < XR_ENGINE_PAIRS_MAX; i++) {
        const xr_instrument *inst[XR_ENGINE_VENUES_MAX];
        for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++)
            inst[v] = vp_at(p, v, i)->added ? &vp_at(p, v, i)->inst : NULL;
        xr_eng_mdata_pair_info(p->sh, i, inst, &pe->items[pe->n++]);
    }
    pe->next_cursor = i < p->sh->npairs ? i : 0;
    xr_eng_port_send(&p->to_gw, &m);
}

xr_err xr_eng_pricing_poll(xr_eng_pricing *p, bool *work)
{
    xr_eng_port_flush(&p->to_gw);
    xr_eng_port_flush(&p->to_ledger);
    uint64_t now = xr_clock_mono_ns();
    uint64_t moved = 0; /* pairs whose books changed: resting LIMIT orders are checked */
    /* Market data first, so a request sees every book change that arrived before it. */
    for (uint32_t v = 0; v < p->sh->cfg.nvenues; v++) {
        const xr_eng_msg *m;
        while ((m = xr_spsc_ring_peek(p->md[v])) != NULL) {
            *work = true;
            if (m->type == XR_ENG_M_MD_INST)
                md_inst(p, &m->u.inst);
            else if (m->type == XR_ENG_M_MD_BOOK || m->type == XR_ENG_M_MD_DOWN)
                md_book(p, &m->u.book, m->type == XR_ENG_M_MD_DOWN, now);
            else if (m->type == XR_ENG_M_MD_TRADE)
                (void)xr_eng_mdata_trade(p->mdata, &m->u.trade);
            else
                return XR_ERR_INTERNAL;
            if (m->type == XR_ENG_M_MD_BOOK)
                moved |= 1ull << m->u.book.pair;
            xr_spsc_ring_release(p->md[v], 1);
        }
    }
    /* Resting orders: expiry, then the market reaching them (16 per pair and pass at most). */
    if (xr_eng_port_room(&p->to_ledger, 32)) {
        limit_expire(p);
        for (uint32_t pair = 0; pair < p->sh->npairs && moved != 0; pair++)
            if ((moved & (1ull << pair)) && xr_eng_port_room(&p->to_ledger, 16))
                limit_market(p, pair, now);
    }
    for (;;) {
        if (!xr_eng_port_room(&p->to_gw, 1) || !xr_eng_port_room(&p->to_ledger, 1))
            break;
        const xr_eng_msg *m = xr_spsc_ring_peek(p->from_gw);
        if (m == NULL)
            break;
        *work = true;
        if (m->type == XR_ENG_M_ORDER && m->u.order.phase == XR_ENG_PH_REJECTED)
            /* The ledger refused an order on a firm quote (funds, daily cap): nothing was
             * booked, so its quote may be executed again. */
            (void)xr_pricing_release(&p->pricer, m->u.order.cmd.u.order.quote_id,
                                     m->u.order.cmd.bank_id, m->u.order.cust_no);
        else if (m->type == XR_ENG_M_ORDER)
            order(p, &m->u.order, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_QUOTE)
            quote(p, &m->u.req, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_BOOK)
            book(p, &m->u.req, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_CANCEL)
            limit_cancel(p, &m->u.req);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_TICKER)
            ticker(p, &m->u.req, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_OHLC)
            ohlc(p, &m->u.req);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_PAIRS)
            pairs(p, &m->u.req);
        else
            return XR_ERR_INTERNAL;
        xr_spsc_ring_release(p->from_gw, 1);
    }
    for (;;) {
        /* A resting order may cross every other resting order: room for all of them. */
        if (!xr_eng_port_room(&p->to_ledger, p->sh->cfg.orders_max + 2) ||
            !xr_eng_port_room(&p->to_gw, 2))
            break;
        const xr_eng_msg *m = xr_spsc_ring_peek(p->from_router);
        if (m == NULL)
            break;
        *work = true;
        if (m->type != XR_ENG_M_ORDER || m->u.order.phase != XR_ENG_PH_REROUTE)
            return XR_ERR_INTERNAL;
        reroute(p, &m->u.order, now);
        xr_spsc_ring_release(p->from_router, 1);
    }
    return XR_OK;
}

xr_err xr_eng_pricing_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_pricing **out)
{
    xr_eng_pricing *p = xr_eng_alloc(sizeof *p);
    if (p == NULL)
        return XR_ERR_NO_MEMORY;
    *out = p;
    p->sh = sh;
    p->from_gw = r->gw_pricing;
    p->from_router = r->router_pricing;
    for (uint32_t v = 0; v < sh->cfg.nvenues; v++)
        p->md[v] = r->venue_md[v];
    for (uint32_t i = 0; i < XR_ENG_PAIRS_MAX; i++)
        p->pricer_pair[i] = NO_PAIR;
    xr_pricing_config pc = {.pairs_max = sh->npairs > 0 ? sh->npairs : 1,
                            .spreads_max = 2 * (sh->cfg.nbanks + sh->cfg.nspreads) + 1,
                            .quotes_max = sh->cfg.quotes_max,
                            .quote_ttl_ns = sh->cfg.quote_ttl_ns,
                            .slippage_bps = sh->cfg.slippage_bps,
                            .cross_halt_bps = 0,
                            /* Quote ids never repeat across restarts (quotes live in memory
                             * only, so an id from before one must be NOT_FOUND, never a new
                             * quote): they start at the wall clock in microseconds. */
                            .first_quote_id = (uint64_t)xr_clock_wall_ns() / 1000u};
    size_t len = xr_pricing_footprint(&pc);
    if (len == 0)
        return XR_ERR_INVALID_ARGUMENT;
    if ((p->pricer_mem = xr_eng_alloc(len)) == NULL)
        return XR_ERR_NO_MEMORY;
    xr_err err = xr_pricing_init(&p->pricer, p->pricer_mem, len, &pc);
    if (err != XR_OK)
        return err;
    for (uint32_t b = 0; b < sh->cfg.nbanks; b++)
        if ((err = xr_pricing_set_spread(&p->pricer, sh->cfg.banks[b].id, XR_PRICING_ANY_PAIR,
                                         XR_PRICING_ANY_TIER, sh->cfg.banks[b].spread_bps)) !=
            XR_OK)
            return err;
    for (uint32_t s = 0; s < sh->cfg.nspreads; s++) {
        const xr_engine_spread_config *sp = &sh->cfg.spreads[s];
        if (sp->pair[0] == '\0' &&
            (err = xr_pricing_set_spread(&p->pricer, sp->bank_id, XR_PRICING_ANY_PAIR, sp->tier,
                                         sp->bps)) != XR_OK)
            return err;
    }
    size_t nvp = (size_t)sh->cfg.nvenues * sh->npairs;
    if (nvp > 0 && (p->vp = xr_eng_alloc(nvp * sizeof *p->vp)) == NULL)
        return XR_ERR_NO_MEMORY;
    xr_book_config bc = {.depth_max = XR_ENG_MD_LEVELS, .stale_after_ns = sh->cfg.book_stale_ns};
    size_t blen = xr_book_footprint(&bc);
    for (size_t i = 0; i < nvp; i++) {
        if ((p->vp[i].book_mem = xr_eng_alloc(blen)) == NULL)
            return XR_ERR_NO_MEMORY;
        if ((err = xr_book_init(&p->vp[i].book, p->vp[i].book_mem, blen, &bc)) != XR_OK)
            return err;
    }
    if ((err = xr_eng_mdata_create(sh, &p->mdata)) != XR_OK)
        return err;
    if (xr_eng_port_init(&p->to_gw, r->pricing_gw, XR_ENG_OUTBOX_SMALL) != XR_OK ||
        xr_eng_port_init(&p->to_ledger, r->pricing_ledger,
                         XR_ENG_OUTBOX_SMALL + sh->cfg.orders_max) != XR_OK)
        return XR_ERR_NO_MEMORY;
    return limit_create(p);
}

void xr_eng_pricing_destroy(xr_eng_pricing *p)
{
    if (p == NULL)
        return;
    if (p->vp != NULL)
        for (size_t i = 0; i < (size_t)p->sh->cfg.nvenues * p->sh->npairs; i++)
            xr_eng_free(p->vp[i].book_mem);
    xr_eng_free(p->vp);
    xr_eng_free(p->pricer_mem);
    limit_destroy(p);
    xr_eng_mdata_destroy(p->mdata);
    xr_eng_port_fini(&p->to_gw);
    xr_eng_port_fini(&p->to_ledger);
    xr_eng_free(p);
}
