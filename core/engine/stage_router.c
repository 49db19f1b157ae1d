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

/* Sends the children [o->n_sent, o->n_legs) of the parent in pool slot `ref`. */
static void send_children(xr_eng_router *rt, xr_eng_order *o, uint32_t ref)
{
    for (uint32_t i = o->n_sent; i < o->n_legs; i++) {
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

static void route(xr_eng_router *rt, const xr_eng_order *in)
{
    xr_eng_order *o = xr_pool_get(&rt->pool);
    XR_ASSERT(o != NULL); /* the caller checked the free count */
    *o = *in;
    uint32_t ref = xr_pool_index(&rt->pool, o);
    uint32_t seq = ++rt->next_seq;
    if (seq == 0)
        seq = ++rt->next_seq;
    rt->live_seq[ref] = seq;
    XR_ASSERT(o->status == XR_ENGINE_ORDER_OPEN && o->n_legs > 0);
    (void)transition(o, XR_ORDER_EV_ROUTED);
    o->n_sent = 0;
    send_children(rt, o, ref);
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

/* The amounts of the booking, from the fills (docs/ledger.md, "Rounding"). */
static xr_err settle(xr_eng_order *o)
{
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    xr_amount e = {0};
    xr_err err = XR_OK;
    o->filled.units = o->notional.units = o->fees.units = 0;
    for (uint32_t i = 0; i < o->n_legs && err == XR_OK; i++) {
        xr_eng_leg *g = &o->legs[i];
        if (g->filled.units == 0)
            continue;
        if ((err = exact_to_quote(g->quote_exact, &o->scale, buy ? XR_ROUND_UP : XR_ROUND_DOWN,
                                  &g->notional)) != XR_OK ||
            (err = xr_amount_mul_ratio(g->notional, g->fee_bps, 10000, XR_ROUND_UP, &g->fee)) !=
                XR_OK ||
            (err = xr_amount_add(o->filled, g->filled, &o->filled)) != XR_OK ||
            (err = xr_amount_add(o->notional, g->notional, &o->notional)) != XR_OK ||
            (err = xr_amount_add(o->fees, g->fee, &o->fees)) != XR_OK)
            break;
        xr_amount net;
        err = buy ? xr_amount_add(g->notional, g->fee, &net)
                  : xr_amount_sub(g->notional, g->fee, &net);
        if (err == XR_OK)
            err = xr_amount_add(e, net, &e);
    }
    if (err == XR_OK)
        err = xr_amount_mul_ratio(e, o->spread_bps, 10000, XR_ROUND_DOWN, &o->spread);
    if (err == XR_OK)
        err = buy ? xr_amount_add(e, o->spread, &o->quote) : xr_amount_sub(e, o->spread, &o->quote);
    if (err == XR_OK && o->filled.units > 0)
        err = xr_price_of(o->filled, o->quote, &o->scale, buy ? XR_ROUND_UP : XR_ROUND_DOWN,
                          &o->avg_price);
    if (err == XR_OK && ((buy && o->quote.units > o->reserve.units) ||
                         (!buy && o->filled.units > o->reserve.units) || o->quote.units < 0))
        err = XR_ERR_INTERNAL; /* the bound makes this impossible: a bug, never over-post */
    return err;
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
        for (uint32_t i = 0; i < o->n_legs; i++)
            o->legs[i].filled.units = 0;
        o->filled.units = o->quote.units = o->notional.units = o->fees.units = 0;
        o->spread.units = 0;
        o->err = err;
    }
    if (o->filled.units == o->cmd.u.order.amount.units) {
        XR_ASSERT(o->status == XR_ENGINE_ORDER_FILLED);
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
        if (g->err != XR_OK || g->filled.units < g->qty.units) {
            shortfall = true;
            o->excluded |= 1u << g->venue;
        }
    }
    if (!shortfall || filled >= o->cmd.u.order.amount.units)
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
    if (in->n_legs == o->n_legs) {
        finish(rt, o, ref);
        return XR_OK;
    }
    for (uint32_t i = o->n_legs; i < in->n_legs; i++)
        o->legs[i] = in->legs[i];
    o->n_legs = in->n_legs;
    send_children(rt, o, ref);
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
    return transition(o, total.units >= o->cmd.u.order.amount.units
                             ? XR_ORDER_EV_FULL_FILL
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
        xr_i128 q;
        if ((err = xr_i128_mul(ev->last_qty.units, ev->last_price.ticks, &q)) != XR_OK ||
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
        err = transition(o, total.units >= o->cmd.u.order.amount.units ? XR_ORDER_EV_FULL_FILL
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
    if (!failover(rt, o, ev->order_ref))
        finish(rt, o, ev->order_ref);
    return XR_OK;
}

xr_err xr_eng_router_poll(xr_eng_router *rt, bool *work)
{
    const uint32_t nv = rt->sh->cfg.nvenues;
    for (uint32_t v = 0; v < nv; v++)
        xr_eng_port_flush(&rt->to_venue[v]);
    xr_eng_port_flush(&rt->to_ledger);
    xr_eng_port_flush(&rt->to_pricing);
    /* Fills first: they finish parents and free pool slots. */
    for (uint32_t v = 0; v < nv; v++) {
        for (;;) {
            if (!xr_eng_port_room(&rt->to_ledger, 1) || !xr_eng_port_room(&rt->to_pricing, 1))
                break;
            const xr_eng_msg *m = xr_spsc_ring_peek(rt->from_venue[v]);
            if (m == NULL)
                break;
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
        bool room = xr_eng_port_room(&rt->to_ledger, 1);
        for (uint32_t v = 0; v < nv; v++)
            room = room && xr_eng_port_room(&rt->to_venue[v], 1);
        if (!room)
            break;
        const xr_eng_msg *m = xr_spsc_ring_peek(rt->from_ledger);
        if (m == NULL)
            break;
        if (m->type == XR_ENG_M_CONV) { /* conversions: forwarded (core/engine/convert.c) */
            *work = true;
            xr_eng_conv_route(m, true, rt->to_venue, &rt->to_ledger);
            xr_spsc_ring_release(rt->from_ledger, 1);
            continue;
        }
        if (m->type != XR_ENG_M_ORDER)
            return XR_ERR_INTERNAL;
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
        if (xr_pool_free_count(&rt->pool) == 0)
            break;
        *work = true;
        route(rt, &m->u.order);
        xr_spsc_ring_release(rt->from_ledger, 1);
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
    if (xr_eng_port_init(&rt->to_ledger, r->router_ledger, XR_ENG_OUTBOX_SMALL) != XR_OK ||
        xr_eng_port_init(&rt->to_pricing, r->router_pricing, XR_ENG_OUTBOX_SMALL) != XR_OK)
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
