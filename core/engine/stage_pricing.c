/*
 * Pricing stage: owns the pricer (core/pricing) and its own copy of every venue book, fed by
 * the venues' market-data rings; answers quotes and depth queries; runs an order's pre-trade
 * checks and turns the walk into the routing plan and the amount to reserve.
 */
#include <string.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/engine/market_data.h"
#include "core/pricing/pricing.h"

_Static_assert(XR_ENG_LEGS_MAX == XR_PRICING_VENUES_MAX, "one leg per venue of a pair");
_Static_assert(XR_ENG_MD_LEVELS * 2 <= XR_EV_BOOK_LEVELS_MAX, "a snapshot fits one book event");
_Static_assert((int)XR_ENGINE_BUY == (int)XR_SIDE_BUY && (int)XR_ENGINE_SELL == (int)XR_SIDE_SELL,
               "public sides are core/market's");

#define NO_PAIR UINT32_MAX

typedef struct venue_pair {
    xr_book book;
    void *book_mem;
    xr_instrument inst;
    bool added; /* registered with the pricer */
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
    xr_eng_mdata *mdata;                    /* trades and candles (TICKER, OHLC) */
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
 * ledger's (else every fill would need rounding, which docs/ledger.md forbids for base). */
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

static void md_book(xr_eng_pricing *p, const xr_eng_md_book *mb, bool down, uint64_t now)
{
    venue_pair *vp = vp_at(p, mb->venue, mb->pair);
    if (down) {
        xr_book_reset(&vp->book);
        return;
    }
    xr_ev_book ev;
    memset(&ev, 0, sizeof ev);
    ev.first_id = ev.last_id = mb->update_id;
    ev.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
    ev.n_bids = mb->n_bids;
    ev.n_asks = mb->n_asks;
    for (uint32_t i = 0; i < mb->n_bids; i++)
        ev.levels[i] = (xr_book_level){mb->bids[i].price, mb->bids[i].qty};
    for (uint32_t i = 0; i < mb->n_asks; i++)
        ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - i] =
            (xr_book_level){mb->asks[i].price, mb->asks[i].qty};
    xr_book_outcome oc;
    (void)xr_book_apply_snapshot(&vp->book, &ev, now, &oc); /* a bad one leaves it unsynced */
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
    if ((err = xr_pricing_price(&p->pricer, &req, now, &q, &fill)) != XR_OK)
        return err;
    const xr_eng_pair *ep = &p->sh->pairs[pair];
    o->pair = pair;
    o->base_asset = ep->base_asset;
    o->quote_asset = ep->quote_asset;
    o->spread_bps = q.spread_bps;
    o->n_legs = fill.n_legs;
    o->n_sent = 0;
    o->excluded = 0;
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
    if (buy) {
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
    xr_amount remain = oc->amount;
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

static void reroute(xr_eng_pricing *p, const xr_eng_order *in, uint64_t now)
{
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
    xr_err err = plan(p, o, now);
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
            xr_spsc_ring_release(p->md[v], 1);
        }
    }
    for (;;) {
        if (!xr_eng_port_room(&p->to_gw, 1) || !xr_eng_port_room(&p->to_ledger, 1))
            break;
        const xr_eng_msg *m = xr_spsc_ring_peek(p->from_gw);
        if (m == NULL)
            break;
        *work = true;
        if (m->type == XR_ENG_M_ORDER)
            order(p, &m->u.order, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_QUOTE)
            quote(p, &m->u.req, now);
        else if (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_BOOK)
            book(p, &m->u.req, now);
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
        if (!xr_eng_port_room(&p->to_ledger, 1))
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
                            .cross_halt_bps = 0};
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
        xr_eng_port_init(&p->to_ledger, r->pricing_ledger, XR_ENG_OUTBOX_SMALL) != XR_OK)
        return XR_ERR_NO_MEMORY;
    return XR_OK;
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
    xr_eng_mdata_destroy(p->mdata);
    xr_eng_port_fini(&p->to_gw);
    xr_eng_port_fini(&p->to_ledger);
    xr_eng_free(p);
}
