/*
 * Router stage: takes durably reserved orders, sends one child order per leg of the routing
 * plan to its venue (an IOC LIMIT at the slippage bound, with a client order id derived from
 * the reservation), aggregates the venues' fills into the parent, and when every child is
 * final computes the amounts to book (docs/ledger.md, "Rounding") and hands the parent to the
 * ledger stage. Parents live in a pool sized by orders_max; the parent's status moves only
 * through core/router/order_state's table.
 */
#include <stdio.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/router/order_state.h"

_Static_assert((int)XR_ENGINE_ORDER_PENDING == (int)XR_ORDER_PENDING &&
                   (int)XR_ENGINE_ORDER_OPEN == (int)XR_ORDER_OPEN &&
                   (int)XR_ENGINE_ORDER_PARTIALLY_FILLED == (int)XR_ORDER_PARTIALLY_FILLED &&
                   (int)XR_ENGINE_ORDER_FILLED == (int)XR_ORDER_FILLED &&
                   (int)XR_ENGINE_ORDER_CANCELLED == (int)XR_ORDER_CANCELLED &&
                   (int)XR_ENGINE_ORDER_FAILED == (int)XR_ORDER_FAILED &&
                   (int)XR_ENGINE_ORDER_EXPIRED == (int)XR_ORDER_EXPIRED,
               "public statuses are core/router's");

struct xr_eng_router {
    const xr_eng_shared *sh;
    xr_spsc_ring *from_ledger;
    xr_spsc_ring *from_venue[XR_ENGINE_VENUES_MAX];
    xr_eng_port to_venue[XR_ENGINE_VENUES_MAX];
    xr_eng_port to_ledger;
    xr_eng_port to_pricing; /* failover */
    xr_pool pool;
    void *pool_mem;
    uint32_t *live_seq; /* per pool slot: the serial of the parent in it, 0 when free */
    uint32_t next_seq;
};

/* Applies `ev` to the parent's status through the state table. A refused transition is a
 * bug in the router (the table is the contract), so it is reported as INTERNAL. */
static xr_err transition(xr_eng_order *o, xr_order_event ev)
{
    xr_order_status next;
    xr_err err = xr_order_state_next((xr_order_status)o->status, ev, &next);
    if (err == XR_OK)
        o->status = (uint8_t)next;
    return err;
}

/* ---- LIMIT orders ---------------------------------------------------------------------------
 * A LIMIT GTC/GTD order whose children are all final and which still has a remainder goes to
 * the pricing stage (which owns the internal book): it is routed again when the market
 * reaches its limit, crossed against opposite client orders, or rests until then. Its pool
 * slot stays here meanwhile (phase REROUTE), so a resting order costs one slot of orders_max.
 * Pricing sends it back (through the ledger, which stores new legs first) with new legs, or
 * with `ending` set (cancelled, expired) to be booked. */

static bool resting_kind(const xr_eng_order *o)
{
    const xr_engine_order_cmd *c = &o->cmd.u.order;
    return c->type == XR_ENGINE_LIMIT &&
           (c->tif == XR_ENGINE_TIF_DEFAULT || c->tif == XR_ENGINE_TIF_GTC ||
            c->tif == XR_ENGINE_TIF_GTD);
}

static bool all_done(const xr_eng_order *o)
{
    for (uint32_t i = 0; i < o->n_legs; i++)
        if (!o->legs[i].done)
            return false;
    return true;
}

static xr_i128 filled_total(const xr_eng_order *o)
{
    xr_i128 t = 0;
    for (uint32_t i = 0; i < o->n_legs; i++)
        t += o->legs[i].filled.units;
    return t;
}

/* The status after fills that did not come through child_event (internal crosses). */
static xr_err fill_status(xr_eng_order *o)
{
    xr_i128 t = filled_total(o);
    if (t == 0 || o->status == XR_ENGINE_ORDER_FILLED)
        return XR_OK;
    return transition(o, t >= o->cmd.u.order.amount.units ? XR_ORDER_EV_FULL_FILL
                                                          : XR_ORDER_EV_PARTIAL_FILL);
}

/* finish(): how a LIMIT order's unfilled remainder ends, through the state table. False when
 * it is not a LIMIT ending (the MARKET rules apply: INSUFFICIENT_LIQUIDITY). */
static bool limit_end(xr_eng_order *o)
{
    const xr_engine_order_cmd *c = &o->cmd.u.order;
    xr_order_event ev;
    if (o->ending == XR_ENG_END_CANCEL)
        ev = XR_ORDER_EV_CANCELLED;
    else if (o->ending == XR_ENG_END_EXPIRED)
        ev = XR_ORDER_EV_EXPIRED;
    else if (c->type == XR_ENGINE_LIMIT && c->tif == XR_ENGINE_TIF_IOC)
        ev = XR_ORDER_EV_CANCELLED; /* an IOC's remainder is cancelled, not a failure */
    else
        return false;
    (void)transition(o, ev);
    return true;
}

static void finish(xr_eng_router *rt, xr_eng_order *o, uint32_t ref);
static bool failover(xr_eng_router *rt, xr_eng_order *o, uint32_t ref);
static xr_err settle(xr_eng_order *o);

static bool unbooked_fills(const xr_eng_order *o)
{
    for (uint32_t i = 0; i < o->n_legs; i++)
        if (!((o->booked >> i) & 1u) && o->legs[i].filled.units > 0)
            return true;
    return false;
}

/* Every child is final: rest / route again (LIMIT GTC/GTD with a remainder), fail over, or
 * book. */
static void next_step(xr_eng_router *rt, xr_eng_order *o, uint32_t ref)
{
    if (resting_kind(o) && o->ending == XR_ENG_END_NONE &&
        filled_total(o) < o->cmd.u.order.amount.units && o->n_legs < XR_ENG_LEGS_MAX) {
        /* Venues whose child of this round came back short are not tried again at once
         * (pricing clears this when the order rests: a market move may try them again). */
        for (uint32_t i = o->n_legs_round; i < o->n_legs; i++) {
            const xr_eng_leg *g = &o->legs[i];
            if (g->venue != XR_ENG_VENUE_INTERNAL &&
                (g->err != XR_OK || g->filled.units < g->qty.units))
                o->excluded |= 1u << g->venue;
        }
        o->n_legs_round = o->n_legs;
        xr_eng_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_ENG_M_ORDER;
        m.u.order = *o;
        if (unbooked_fills(o) && settle(&m.u.order) == XR_OK) {
            /* Fills before it rests again are booked now, and the rest of the reservation is
             * held again (stage_ledger.c): the venue positions never lag the venues. */
            m.u.order.phase = XR_ENG_PH_PART;
            m.u.order.route_ref = ref;
            m.u.order.route_seq = rt->live_seq[ref];
            xr_eng_port_send(&rt->to_ledger, &m);
            o->phase = XR_ENG_PH_PART;
            return;
        }
        m.u.order.phase = XR_ENG_PH_REROUTE;
        m.u.order.route_ref = ref;
        m.u.order.route_seq = rt->live_seq[ref];
        xr_eng_port_send(&rt->to_pricing, &m);
        o->phase = XR_ENG_PH_REROUTE;
        /* Reconciled: new children of a recovered order are sent, not queried (pricing tells
         * the gateway that this order's reconciliation is done). */
        o->recovered = 0;
        return;
    }
    if (!failover(rt, o, ref))
        finish(rt, o, ref);
}

/* Sends the children [o->n_sent, o->n_legs) of the parent in pool slot `ref`. */
static void send_children(xr_eng_router *rt, xr_eng_order *o, uint32_t ref)
{
    for (uint32_t i = o->n_sent; i < o->n_legs; i++) {
        if (o->legs[i].venue == XR_ENG_VENUE_INTERNAL || o->legs[i].done)
            continue; /* crossed in the internal book, or final (a recovered order's children
                         stored final with their fills): nothing to send or ask */
        /* A recovered order's children may or may not have reached their venues before the
         * restart: each is asked for by its client order id, never sent again. */
        o->legs[i].recover = o->recovered;
        xr_eng_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_ENG_M_CHILD_CMD;
        xr_eng_child_cmd *c = &m.u.child;
        c->order_ref = ref;
        c->order_seq = rt->live_seq[ref];
        c->leg = (uint8_t)i;
        c->side = o->cmd.u.order.side;
        c->pair = (uint16_t)o->pair;
        c->qty = o->legs[i].qty;
        c->limit = o->legs[i].limit;
        c->query = o->recovered;
        xr_eng_client_order_id(&o->reserve_id, i, c->client_order_id);
        xr_eng_port_send(&rt->to_venue[o->legs[i].venue], &m);
    }
    o->n_sent = o->n_legs;
}

static xr_err route(xr_eng_router *rt, const xr_eng_order *in)
{
    xr_eng_order *o = xr_pool_get(&rt->pool);
    XR_ASSERT(o != NULL); /* the caller checked the free count */
    *o = *in;
    uint32_t ref = xr_pool_index(&rt->pool, o);
    uint32_t seq = ++rt->next_seq;
    if (seq == 0)
        seq = ++rt->next_seq;
    rt->live_seq[ref] = seq;
    XR_ASSERT(o->status == XR_ENGINE_ORDER_OPEN || o->status == XR_ENGINE_ORDER_PARTIALLY_FILLED);
    XR_ASSERT(o->n_legs > 0 || resting_kind(o));
    if (fill_status(o) != XR_OK) /* a recovered order's internal crosses */
        return XR_ERR_INTERNAL;
    (void)transition(o, o->n_legs > 0 ? XR_ORDER_EV_ROUTED : XR_ORDER_EV_RESTED);
    o->n_sent = 0;
    send_children(rt, o, ref);
    if (all_done(o))
        next_step(rt, o, ref); /* nothing out: a LIMIT order with no marketable part rests */
    return XR_OK;
}

/* 10^-(base + price) quote units -> quote minor units, rounded by `r`. */
static xr_err exact_to_quote(xr_i128 v, const xr_pair_scale *s, xr_round r, xr_amount *out)
{
    int shift = (int)s->base + (int)s->price - (int)s->quote;
    xr_i128 p;
    xr_err err = xr_i128_pow10((unsigned)(shift < 0 ? -shift : shift), &p);
    if (err != XR_OK)
        return err;
    if (shift >= 0)
        return xr_i128_div(v, p, r, &out->units);
    return xr_i128_mul(v, p, &out->units);
}

/* The customer's amounts of a firm quote or a "spend X all in" buy, from the fills with
 * executable amount `e` and `filled` base (docs/ledger.md, "Firm quotes" and "Amounts fixed on
 * the quote side"): the customer's amount `*quote` is the quoted one (pro rata to the filled
 * base: buy rounded up, sell down) or capped at X; the spread `*spread` is the stated one (pro
 * rata, down) or what is left under X; the difference to the venues' actual cost is the
 * house's price-move result `*pnl` (signed). Other orders keep `*quote` and `*spread`. Such
 * orders are MARKET orders: they never rest, so this is their one booking. */
static xr_err settle_fixed(const xr_eng_order *o, xr_amount filled, xr_amount e, xr_amount *quote,
                           xr_amount *spread, xr_amount *pnl)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    xr_err err = XR_OK;
    pnl->units = 0;
    if (o->q_quote.units > 0) {
        if (filled.units == 0 || o->base_qty.units <= 0)
            return XR_OK;
        if ((err = xr_amount_mul_ratio(o->q_quote, filled.units, o->base_qty.units,
                                       buy ? XR_ROUND_UP : XR_ROUND_DOWN, quote)) != XR_OK ||
            (err = xr_amount_mul_ratio(o->q_spread, filled.units, o->base_qty.units, XR_ROUND_DOWN,
                                       spread)) != XR_OK)
            return err;
        /* buy: the customer's C pays E + S + pnl; sell: E pays the customer's C + S + pnl. */
        pnl->units =
            buy ? quote->units - e.units - spread->units : e.units - spread->units - quote->units;
    } else if (buy && o->cmd.u.order.amount_side == XR_ENGINE_AMOUNT_QUOTE &&
               quote->units > o->cmd.u.order.amount.units) {
        /* Fills came in above the walk: the spread gives way first, then the house pays. */
        *quote = o->cmd.u.order.amount;
        xr_i128 room = quote->units - e.units;
        spread->units = room < 0 ? 0 : room < spread->units ? room : spread->units;
        pnl->units = quote->units - e.units - spread->units;
    }
    return err;
}

/* The amounts of the booking, from the fills (docs/ledger.md, "Rounding"). The group booked
 * now (g_filled, g_quote, g_spread) is the legs not booked yet (o->booked: a resting order's
 * interim bookings, stage_ledger.c); the order's totals (filled, notional, fees, spread,
 * quote, avg_price) are those of every booking, this one included. Nothing changes on
 * error. */
static xr_err settle(xr_eng_order *o)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    xr_amount e = {0}, filled = {0}, notional = {0}, fees = {0}, gf = {0}, gs, gq, sp, q;
    xr_amount ln[XR_ENG_LEGS_MAX], lf[XR_ENG_LEGS_MAX];
    xr_price avg = o->avg_price;
    xr_err err = XR_OK;
    for (uint32_t i = 0; i < o->n_legs && err == XR_OK; i++) {
        const xr_eng_leg *g = &o->legs[i];
        ln[i] = g->notional;
        lf[i] = g->fee;
        if (g->filled.units == 0)
            continue;
        const bool booked = (o->booked >> i) & 1u;
        if (!booked &&
            ((err = exact_to_quote(g->quote_exact, &o->scale, buy ? XR_ROUND_UP : XR_ROUND_DOWN,
                                   &ln[i])) != XR_OK ||
             (err = xr_amount_mul_ratio(ln[i], g->fee_bps, 10000, XR_ROUND_UP, &lf[i])) != XR_OK))
            break;
        if ((err = xr_amount_add(filled, g->filled, &filled)) != XR_OK ||
            (err = xr_amount_add(notional, ln[i], &notional)) != XR_OK ||
            (err = xr_amount_add(fees, lf[i], &fees)) != XR_OK)
            break;
        if (booked)
            continue;
        xr_amount net;
        err = buy ? xr_amount_add(ln[i], lf[i], &net) : xr_amount_sub(ln[i], lf[i], &net);
        if (err == XR_OK)
            err = xr_amount_add(e, net, &e);
        if (err == XR_OK)
            err = xr_amount_add(gf, g->filled, &gf);
    }
    if (err == XR_OK)
        err = xr_amount_mul_ratio(e, o->spread_bps, 10000, XR_ROUND_DOWN, &gs);
    if (err == XR_OK)
        err = buy ? xr_amount_add(e, gs, &gq) : xr_amount_sub(e, gs, &gq);
    xr_amount pnl = {0};
    if (err == XR_OK && o->booked == 0) {
        err = settle_fixed(o, filled, e, &gq, &gs, &pnl);
    }
    if (err == XR_OK)
        err = xr_amount_add(o->spread, gs, &sp);
    if (err == XR_OK)
        err = xr_amount_add(o->quote, gq, &q);
    if (err == XR_OK && filled.units > 0)
        err = xr_price_of(filled, q, &o->scale, buy ? XR_ROUND_UP : XR_ROUND_DOWN, &avg);
    if (err == XR_OK && ((buy && gq.units > o->reserve.units) ||
                         (!buy && gf.units > o->reserve.units) || gq.units < 0))
        err = XR_ERR_INTERNAL; /* the bound makes this impossible: a bug, never over-post */
    if (err != XR_OK)
        return err;
    for (uint32_t i = 0; i < o->n_legs; i++) {
        o->legs[i].notional = ln[i];
        o->legs[i].fee = lf[i];
    }
    o->filled = filled;
    o->notional = notional;
    o->fees = fees;
    o->spread = sp;
    o->quote = q;
    o->avg_price = avg;
    o->g_filled = gf;
    o->g_spread = gs;
    o->g_quote = gq;
    o->pnl = pnl;
    return XR_OK;
}

static void finish(xr_eng_router *rt, xr_eng_order *o, uint32_t ref)
{
    xr_err err = settle(o);
    if (err != XR_OK) {
        /* Nothing sensible can be booked: void everything and say why (reconciliation). */
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_ERROR, "engine", "settle_failed");
        xr_log_err(&l, err);
        xr_log_end(&l);
        /* The unbooked fills are dropped (earlier interim bookings stand). */
        for (uint32_t i = 0; i < o->n_legs; i++)
            if (!((o->booked >> i) & 1u))
                o->legs[i].filled.units = 0;
        o->g_filled.units = o->g_quote.units = o->g_spread.units = 0;
        o->pnl.units = 0;
        o->err = err;
    }
    if (o->filled.units == o->base_qty.units) {
        XR_ASSERT(o->status == XR_ENGINE_ORDER_FILLED);
    } else if (limit_end(o)) {
        /* A LIMIT order's remainder: cancelled (IOC, or by the bank) or expired (GTD). */
    } else {
        if (o->err == XR_OK) {
            /* A live order failed over until no venue was left: INSUFFICIENT_LIQUIDITY (each
             * child's own reason is in its record). A recovered order is not re-routed: a
             * refused child's reason when nothing filled. */
            o->err = XR_ERR_INSUFFICIENT_LIQUIDITY;
            for (uint32_t i = 0; i < o->n_legs && o->recovered; i++)
                if (o->legs[i].err != XR_OK && o->filled.units == 0) {
                    o->err = o->legs[i].err;
                    break;
                }
        }
        (void)transition(o, XR_ORDER_EV_NO_LIQUIDITY);
    }
    o->phase = XR_ENG_PH_BOOK;
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *o;
    xr_eng_port_send(&rt->to_ledger, &m);
    rt->live_seq[ref] = 0;
    xr_pool_put(&rt->pool, o);
}

/* Every child is final. When some came back short (refused, venue unavailable, or an IOC
 * that found less than planned inside its limit) and part of the order is unfilled, the
 * venues of those children are excluded and the parent goes to pricing for new legs over the
 * others (DESIGN.md section 2, step 5); it stays in its pool slot meanwhile. A recovered order
 * is only reconciled, never re-routed. Returns true when the parent went to pricing. */
static bool failover(xr_eng_router *rt, xr_eng_order *o, uint32_t ref)
{
    if (o->recovered || o->n_legs >= XR_ENG_LEGS_MAX)
        return false;
    xr_i128 filled = 0;
    bool shortfall = false;
    for (uint32_t i = 0; i < o->n_legs; i++) {
        const xr_eng_leg *g = &o->legs[i];
        filled += g->filled.units;
        if (g->venue == XR_ENG_VENUE_INTERNAL)
            continue;
        if (g->err != XR_OK || g->filled.units < g->qty.units) {
            shortfall = true;
            o->excluded |= 1u << g->venue;
        }
    }
    if (!shortfall || filled >= o->base_qty.units)
        return false;
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *o;
    m.u.order.phase = XR_ENG_PH_REROUTE;
    m.u.order.route_ref = ref;
    m.u.order.route_seq = rt->live_seq[ref];
    xr_eng_port_send(&rt->to_pricing, &m);
    o->phase = XR_ENG_PH_REROUTE;
    return true;
}

/* The parent's new legs are durable (stage_ledger.c): send them, or book what filled when
 * none were found. */
static xr_err rerouted(xr_eng_router *rt, const xr_eng_order *in)
{
    uint32_t ref = in->route_ref;
    if (ref >= xr_pool_capacity(&rt->pool) || rt->live_seq[ref] != in->route_seq)
        return XR_ERR_INTERNAL;
    xr_eng_order *o = xr_pool_at(&rt->pool, ref);
    if (o->phase != XR_ENG_PH_REROUTE || in->n_legs < o->n_legs || in->n_sent != o->n_legs)
        return XR_ERR_INTERNAL;
    o->phase = XR_ENG_PH_ROUTE;
    o->ending = in->ending;
    o->rested = in->rested;
    if (in->n_legs == o->n_legs) {
        finish(rt, o, ref);
        return XR_OK;
    }
    for (uint32_t i = o->n_legs; i < in->n_legs; i++)
        o->legs[i] = in->legs[i];
    o->n_legs = in->n_legs;
    o->n_bx = in->n_bx; /* the decision of these legs (best-execution record) */
    o->decided_ns = in->decided_ns;
    memcpy(o->bx, in->bx, sizeof o->bx);
    if (fill_status(o) != XR_OK) /* internal crosses come filled */
        return XR_ERR_INTERNAL;
    (void)transition(o, XR_ORDER_EV_ROUTED);
    send_children(rt, o, ref);
    if (all_done(o))
        next_step(rt, o, ref);
    return XR_OK;
}

static bool leg_check_done(xr_eng_leg *g)
{
    if (!g->done && g->done_seen && g->filled.units >= g->done_cum.units)
        g->done = 1;
    return g->done;
}

/* A recovered child's executions, from the venue's answer to the query: the user stream
 * that reported each fill before the restart does not report it again, so the executed
 * quantity and quote of the final state are taken as one fill. The query reports no fee:
 * the venue's own fee (charged in the asset received, as Binance does) is computed from its
 * configured taker fee, rounded up like the venue rounds it. */
static xr_err recovered_fill(xr_eng_router *rt, xr_eng_order *o, xr_eng_leg *g,
                             const xr_eng_child_ev *ev)
{
    if (g->filled.units != 0)
        return XR_OK; /* fills already taken from the stream: keep them */
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    int shift = (int)o->scale.base + (int)o->scale.price - (int)ev->cum_quote_scale;
    xr_i128 p;
    xr_err err = xr_i128_pow10((unsigned)(shift < 0 ? -shift : shift), &p);
    if (err != XR_OK)
        return err;
    if (shift >= 0)
        err = xr_i128_mul(ev->cum_quote.units, p, &g->quote_exact);
    else
        err = xr_i128_div(ev->cum_quote.units, p, XR_ROUND_UP, &g->quote_exact);
    if (err != XR_OK)
        return err;
    g->filled = ev->cum_qty;
    if (buy) {
        g->fee_in = 1;
        err = xr_amount_mul_ratio(g->filled, g->fee_bps, 10000, XR_ROUND_UP, &g->venue_fee);
    } else {
        xr_amount q;
        g->fee_in = 2;
        err = xr_amount_rescale(ev->cum_quote, ev->cum_quote_scale,
                                xr_eng_asset(rt->sh, o->quote_asset)->scale, XR_ROUND_DOWN, &q);
        if (err == XR_OK)
            err = xr_amount_mul_ratio(q, g->fee_bps, 10000, XR_ROUND_UP, &g->venue_fee);
    }
    if (err != XR_OK)
        return err;
    xr_amount total = {0};
    for (uint32_t i = 0; i < o->n_legs; i++)
        total.units += o->legs[i].filled.units;
    return transition(o, total.units >= o->base_qty.units ? XR_ORDER_EV_FULL_FILL
                                                          : XR_ORDER_EV_PARTIAL_FILL) == XR_OK
               ? XR_OK
               : XR_ERR_INTERNAL;
}

static xr_err child_event(xr_eng_router *rt, const xr_eng_child_ev *ev)
{
    if (ev->order_ref >= xr_pool_capacity(&rt->pool) ||
        rt->live_seq[ev->order_ref] != ev->order_seq)
        return XR_OK; /* a late duplicate for a parent that is already finished */
    xr_eng_order *o = xr_pool_at(&rt->pool, ev->order_ref);
    if (ev->leg >= o->n_legs)
        return XR_ERR_INTERNAL;
    xr_eng_leg *g = &o->legs[ev->leg];
    if (g->done)
        return XR_OK;
    xr_err err = XR_OK;
    switch (ev->kind) {
    case XR_ENG_CHILD_FILL: {
        xr_amount want;
        /* Fills come from the REST answer and from the user stream: each is taken once, in
         * order, recognised by the venue's cumulative quantity. */
        if (xr_amount_add(g->filled, ev->last_qty, &want) != XR_OK ||
            want.units != ev->cum_qty.units || ev->last_qty.units <= 0)
            return XR_OK;
        xr_i128 q = ev->fill_quote; /* coalesced executions: their exact sum */
        if ((!ev->coalesced &&
             (err = xr_i128_mul(ev->last_qty.units, ev->last_price.ticks, &q)) != XR_OK) ||
            (err = xr_i128_add(g->quote_exact, q, &g->quote_exact)) != XR_OK)
            return err;
        g->filled = want;
        if (ev->fee.units > 0) {
            const xr_eng_pair *p = &rt->sh->pairs[o->pair];
            uint8_t in = strncmp(ev->fee_asset, p->base, sizeof p->base) == 0     ? 1
                         : strncmp(ev->fee_asset, p->quote, sizeof p->quote) == 0 ? 2
                                                                                  : 0;
            xr_amount fee;
            uint16_t asset = in == 1 ? o->base_asset : o->quote_asset;
            if (in == 0 || (g->fee_in != 0 && g->fee_in != in) ||
                xr_amount_rescale(ev->fee, ev->fee_scale, xr_eng_asset(rt->sh, asset)->scale,
                                  XR_ROUND_UP, &fee) != XR_OK) {
                xr_log_line l;
                xr_log_begin(&l, XR_LOG_WARN, "engine", "venue_fee_not_booked");
                xr_log_str(&l, "asset", ev->fee_asset);
                xr_log_end(&l);
            } else {
                g->fee_in = in;
                if ((err = xr_amount_add(g->venue_fee, fee, &g->venue_fee)) != XR_OK)
                    return err;
            }
        }
        xr_amount total = {0};
        for (uint32_t i = 0; i < o->n_legs; i++)
            total.units += o->legs[i].filled.units;
        err = transition(o, total.units >= o->base_qty.units ? XR_ORDER_EV_FULL_FILL
                                                             : XR_ORDER_EV_PARTIAL_FILL);
        if (err != XR_OK)
            return XR_ERR_INTERNAL;
        break;
    }
    case XR_ENG_CHILD_FINAL:
        g->done_seen = 1;
        g->done_cum = ev->cum_qty;
        if (g->recover && ev->cum_qty.units > g->filled.units) {
            err = recovered_fill(rt, o, g, ev);
            if (err != XR_OK)
                return err;
        }
        break;
    case XR_ENG_CHILD_FAILED:
        g->done = 1;
        g->err = ev->err != XR_OK ? ev->err : XR_ERR_REJECTED;
        (void)transition(o, XR_ORDER_EV_CHILD_REJECTED);
        break;
    default:
        return XR_ERR_INTERNAL;
    }
    for (uint32_t i = 0; i < o->n_legs; i++)
        if (!leg_check_done(&o->legs[i]))
            return XR_OK;
    next_step(rt, o, ev->order_ref);
    return XR_OK;
}

/* An interim booking is back from the ledger: on success the order takes its booked state
 * (totals, booked legs, the new reservation); either way it goes on to rest (the fills of a
 * failed interim booking are booked with the final one). */
static xr_err parted(xr_eng_router *rt, const xr_eng_order *in)
{
    uint32_t ref = in->route_ref;
    if (ref >= xr_pool_capacity(&rt->pool) || rt->live_seq[ref] != in->route_seq)
        return XR_ERR_INTERNAL;
    xr_eng_order *o = xr_pool_at(&rt->pool, ref);
    if (o->phase != XR_ENG_PH_PART)
        return XR_ERR_INTERNAL;
    o->phase = XR_ENG_PH_ROUTE;
    if (in->err == XR_OK) {
        for (uint32_t i = 0; i < o->n_legs; i++) {
            o->legs[i].notional = in->legs[i].notional;
            o->legs[i].fee = in->legs[i].fee;
        }
        o->filled = in->filled;
        o->notional = in->notional;
        o->fees = in->fees;
        o->spread = in->spread;
        o->quote = in->quote;
        o->avg_price = in->avg_price;
        o->booked = in->booked;
        o->res_n = in->res_n;
        o->next_op = in->next_op;
        o->reserve = in->reserve;
        o->booked_ns = in->booked_ns;
        next_step(rt, o, ref);
        return XR_OK;
    }
    /* Not booked: rest without booking (next_step would try again). */
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    m.u.order = *o;
    m.u.order.phase = XR_ENG_PH_REROUTE;
    m.u.order.route_ref = ref;
    m.u.order.route_seq = rt->live_seq[ref];
    xr_eng_port_send(&rt->to_pricing, &m);
    o->phase = XR_ENG_PH_REROUTE;
    o->recovered = 0;
    return XR_OK;
}

xr_err xr_eng_router_poll(xr_eng_router *rt, bool *work)
{
    const uint32_t nv = rt->sh->cfg.nvenues;
    for (uint32_t v = 0; v < nv; v++)
        xr_eng_port_flush(&rt->to_venue[v]);
    xr_eng_port_flush(&rt->to_ledger);
    xr_eng_port_flush(&rt->to_pricing);
    /* Fills first: they finish parents and free pool slots. A message of a parent (one of at
     * most orders_max: the gateway's admission) always finds room in to_ledger and
     * to_pricing, whose outboxes keep orders_max messages in reserve for them; a conversion
     * uses only the rest (engine_internal.h, "Back-pressure"). So the router never waits for
     * the ledger to take the bookings that would let the ledger's answers in. */
    const uint32_t reserve = rt->sh->cfg.orders_max;
    for (uint32_t v = 0; v < nv; v++) {
        for (;;) {
            if (!xr_eng_port_room(&rt->to_ledger, 1) || !xr_eng_port_room(&rt->to_pricing, 1))
                break;
            const xr_eng_msg *m = xr_spsc_ring_peek(rt->from_venue[v]);
            if (m == NULL)
                break;
            if (m->type == XR_ENG_M_CONV && !xr_eng_port_room(&rt->to_ledger, reserve + 1)) {
                xr_spsc_ring_release(rt->from_venue[v], 0); /* ends the peek; taken later */
                break;
            }
            *work = true;
            xr_err err = XR_OK;
            if (m->type == XR_ENG_M_CONV)
                xr_eng_conv_route(m, false, rt->to_venue, &rt->to_ledger);
            else
                err = m->type == XR_ENG_M_CHILD_EV ? child_event(rt, &m->u.cev) : XR_ERR_INTERNAL;
            xr_spsc_ring_release(rt->from_venue[v], 1);
            if (err != XR_OK)
                return XR_ERR_INTERNAL;
        }
    }
    for (;;) {
        bool room = xr_eng_port_room(&rt->to_ledger, 1) && xr_eng_port_room(&rt->to_pricing, 1);
        for (uint32_t v = 0; v < nv; v++)
            room = room && xr_eng_port_room(&rt->to_venue[v], 1);
        if (!room)
            break;
        const xr_eng_msg *m = xr_spsc_ring_peek(rt->from_ledger);
        if (m == NULL)
            break;
        if (m->type == XR_ENG_M_CONV) { /* conversions: forwarded (core/engine/convert.c) */
            if (!xr_eng_port_room(&rt->to_ledger, reserve + 1)) {
                xr_spsc_ring_release(rt->from_ledger, 0);
                break;
            }
            *work = true;
            xr_eng_conv_route(m, true, rt->to_venue, &rt->to_ledger);
            xr_spsc_ring_release(rt->from_ledger, 1);
            continue;
        }
        if (m->type != XR_ENG_M_ORDER)
            return XR_ERR_INTERNAL;
        if (m->u.order.phase == XR_ENG_PH_PART) {
            *work = true;
            xr_err err = parted(rt, &m->u.order);
            xr_spsc_ring_release(rt->from_ledger, 1);
            if (err != XR_OK)
                return err;
            continue;
        }
        if (m->u.order.phase == XR_ENG_PH_REROUTE) {
            /* A parent coming back from failover holds its pool slot already. */
            *work = true;
            xr_err err = rerouted(rt, &m->u.order);
            xr_spsc_ring_release(rt->from_ledger, 1);
            if (err != XR_OK)
                return err;
            continue;
        }
        if (m->u.order.phase != XR_ENG_PH_ROUTE)
            return XR_ERR_INTERNAL;
        if (xr_pool_free_count(&rt->pool) == 0) {
            /* No order slot: leave the order in the ring (release nothing, but end the peek:
             * the ring allows one open peek, and the next poll peeks it again). */
            xr_spsc_ring_release(rt->from_ledger, 0);
            break;
        }
        *work = true;
        xr_err err = route(rt, &m->u.order);
        xr_spsc_ring_release(rt->from_ledger, 1);
        if (err != XR_OK)
            return err;
    }
    return XR_OK;
}

xr_err xr_eng_router_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_router **out)
{
    xr_eng_router *rt = xr_eng_alloc(sizeof *rt);
    if (rt == NULL)
        return XR_ERR_NO_MEMORY;
    *out = rt;
    rt->sh = sh;
    rt->from_ledger = r->ledger_router;
    uint32_t cap = sh->cfg.orders_max;
    size_t len = xr_pool_footprint(cap, sizeof(xr_eng_order), _Alignof(xr_eng_order));
    if (len == 0)
        return XR_ERR_INVALID_ARGUMENT;
    rt->pool_mem = xr_eng_alloc(len);
    rt->live_seq = xr_eng_alloc(sizeof *rt->live_seq * cap);
    if (rt->pool_mem == NULL || rt->live_seq == NULL)
        return XR_ERR_NO_MEMORY;
    xr_err err = xr_pool_init(&rt->pool, rt->pool_mem, len, cap, sizeof(xr_eng_order),
                              _Alignof(xr_eng_order));
    if (err != XR_OK)
        return err;
    for (uint32_t v = 0; v < sh->cfg.nvenues; v++) {
        rt->from_venue[v] = r->venue_router[v];
        if (xr_eng_port_init(&rt->to_venue[v], r->router_venue[v], XR_ENG_OUTBOX_SMALL) != XR_OK)
            return XR_ERR_NO_MEMORY;
    }
    /* Sized by the pool they serve: orders_max messages of parents in reserve (see poll). */
    if (xr_eng_port_init(&rt->to_ledger, r->router_ledger, XR_ENG_OUTBOX_SMALL + cap) != XR_OK ||
        xr_eng_port_init(&rt->to_pricing, r->router_pricing, XR_ENG_OUTBOX_SMALL + cap) != XR_OK)
        return XR_ERR_NO_MEMORY;
    return XR_OK;
}

void xr_eng_router_destroy(xr_eng_router *rt)
{
    if (rt == NULL)
        return;
    for (uint32_t v = 0; v < XR_ENGINE_VENUES_MAX; v++)
        xr_eng_port_fini(&rt->to_venue[v]);
    xr_eng_port_fini(&rt->to_ledger);
    xr_eng_port_fini(&rt->to_pricing);
    xr_eng_free(rt->pool_mem);
    xr_eng_free(rt->live_seq);
    xr_eng_free(rt);
}
