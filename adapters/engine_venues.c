/*
 * adapters/engine_venues.c - the engine's venue driver over Binance-dialect sessions
 * (adapters/venues/binance/session.h), and xr_engine_open, which opens an engine with it.
 *
 * This is the glue that keeps core/ socket-free: the engine's router and pricing stages talk
 * to this driver only through the rings of core/engine/venue.h. All venues share one
 * io_uring loop, polled without waiting from the engine's schedule.
 *
 * Child orders: an IOC LIMIT with the router's client order id and newOrderRespType FULL,
 * so the answer carries every fill; the user-data stream reports the same fills again and
 * the router keeps each once (by cumulative quantity). An UNKNOWN outcome (timeout, dropped
 * connection, 5xx after send) is resolved by GET /api/v3/order with the same client order id;
 * "order does not exist" there means it never executed. A query that cannot be sent (the
 * session is down) is sent again once the session is READY: the child stays open meanwhile.
 * A child that cannot be sent at all (the session is not READY) fails at once with
 * XR_ERR_VENUE_UNAVAILABLE: it never left, so the router may re-route it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/loop.h"
#include "adapters/venues/binance/session.h"
#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/engine/venue.h"
#include "core/market/book.h"

#define CHILDREN_MAX 256u
#define CONV_MAX     64u /* conversions in flight per venue */

/* A conversion at its venue: the command in flight, or a status query to (re)send. */
typedef struct conv_rec {
    bool used;
    bool back_pending;   /* the answer waits for room in the events ring (record kept) */
    bool query_pending;  /* ask orderStatus (after an accept, an unknown outcome, PROCESS) */
    uint64_t req_id;     /* the session command in flight */
    uint64_t not_before; /* monotonic: the next status query */
    xr_eng_conv c;
} conv_rec;

/* A child order at its venue, and the events the router has not taken yet. Events are never
 * queued as messages: the record holds them in a bounded form (the executions taken but not
 * passed on, summed; the final state; the failure) until the events ring has room, so a
 * full ring can never lose or double one (see ev_flush). */
typedef struct child_rec {
    bool used, final_seen, result_seen;
    bool closed;        /* no more input expected: freed once its events are passed on */
    bool query;         /* reconciliation: asked for by client order id, never sent */
    bool query_pending; /* the query waits for the session to be ready */
    bool final_pending, failed_pending;
    uint8_t leg;
    uint8_t fee_scale;
    uint8_t final_quote_scale;
    uint16_t pair;
    uint32_t order_ref, order_seq;
    uint32_t pend_n;     /* executions taken, not passed on */
    xr_err fail_err;     /* failed_pending */
    xr_amount recv_cum;  /* executed: the cumulative quantity of the executions taken */
    xr_amount sent_cum;  /* executed as passed on to the router */
    xr_i128 pend_quote;  /* sum of qty x price over the pend_n executions (base + price) */
    xr_price pend_price; /* the last of them's price */
    xr_amount pend_fee;  /* their fees, at fee_scale in fee_asset */
    xr_amount final_cum_qty, final_cum_quote;
    char fee_asset[XR_ASSET_CODE_MAX + 1];
    char cid[XR_ENG_CLIENT_ID];
} child_rec;

typedef struct drv drv;

typedef struct venue {
    drv *d;
    uint16_t idx;
    xr_binance_session *s;
    xr_eng_venue_io io;
    uint32_t nsym;
    char sym[XR_ENGINE_VENUE_PAIRS_MAX][XR_SYMBOL_MAX + 1];
    uint16_t pair[XR_ENGINE_VENUE_PAIRS_MAX]; /* engine pair index of symbol i */
    bool inst_sent[XR_ENGINE_VENUE_PAIRS_MAX];
    bool up[XR_ENGINE_VENUE_PAIRS_MAX];
    uint64_t last_id[XR_ENGINE_VENUE_PAIRS_MAX];
    /* What pricing holds of book i (the top levels last sent; [0] bids, [1] asks) and the
     * deltas sent since its last snapshot. */
    xr_book_level sent[XR_ENGINE_VENUE_PAIRS_MAX][2][XR_ENG_MD_LEVELS];
    uint32_t sent_n[XR_ENGINE_VENUE_PAIRS_MAX][2];
    uint32_t deltas[XR_ENGINE_VENUE_PAIRS_MAX];
    child_rec child[CHILDREN_MAX];
    bool backlog;            /* some record holds events the ring could not take yet */
    uint64_t trades_dropped; /* public trades the md ring could not take (candles miss them) */
    bool work;
    conv_rec *conv; /* CONV_MAX */
} venue;

struct drv {
    xr_net_loop *loop;
    const xr_asset_registry *assets;
    uint32_t nv;
    venue v[XR_ENGINE_VENUES_MAX];
};

/* ---- child events ------------------------------------------------------------------------- */

static void child_msg(venue *v, const child_rec *c, xr_eng_child_ev_kind kind, xr_eng_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = XR_ENG_M_CHILD_EV;
    m->u.cev.order_ref = c->order_ref;
    m->u.cev.order_seq = c->order_seq;
    m->u.cev.leg = c->leg;
    m->u.cev.kind = (uint8_t)kind;
    (void)v;
}

/* Passes the child's held events to the router, in order: the executions taken (one FILL;
 * several merged into one coalesced FILL when the ring was full meanwhile), then FINAL or
 * FAILED. Stops at a full ring, keeping the rest. Frees a closed record once all are
 * passed. true when nothing is held any more. */
static bool child_flush(venue *v, child_rec *c)
{
    xr_eng_msg m;
    if (c->pend_n > 0) {
        child_msg(v, c, XR_ENG_CHILD_FILL, &m);
        m.u.cev.last_qty.units = c->recv_cum.units - c->sent_cum.units;
        m.u.cev.last_price = c->pend_price;
        m.u.cev.cum_qty = c->recv_cum;
        m.u.cev.fee = c->pend_fee;
        m.u.cev.fee_scale = c->fee_scale;
        memcpy(m.u.cev.fee_asset, c->fee_asset, sizeof m.u.cev.fee_asset);
        m.u.cev.coalesced = c->pend_n > 1;
        m.u.cev.fill_quote = c->pend_n > 1 ? c->pend_quote : 0;
        if (xr_spsc_ring_try_push(v->io.events, &m) != XR_OK)
            return false;
        v->work = true;
        c->sent_cum = c->recv_cum;
        c->pend_n = 0;
        c->pend_quote = 0;
        c->pend_fee.units = 0;
    }
    if (c->final_pending) {
        child_msg(v, c, XR_ENG_CHILD_FINAL, &m);
        m.u.cev.cum_qty = c->final_cum_qty;
        m.u.cev.cum_quote = c->final_cum_quote;
        m.u.cev.cum_quote_scale = c->final_quote_scale;
        if (xr_spsc_ring_try_push(v->io.events, &m) != XR_OK)
            return false;
        v->work = true;
        c->final_pending = false;
    }
    if (c->failed_pending) {
        child_msg(v, c, XR_ENG_CHILD_FAILED, &m);
        m.u.cev.err = c->fail_err;
        if (xr_spsc_ring_try_push(v->io.events, &m) != XR_OK)
            return false;
        v->work = true;
        c->failed_pending = false;
    }
    if (c->closed)
        c->used = false;
    return true;
}

/* Sets v->backlog when the child still holds events. */
static void child_try_flush(venue *v, child_rec *c)
{
    if (!child_flush(v, c))
        v->backlog = true;
}

/* Ends the child record: freed once its events are passed on. */
static void child_close(venue *v, child_rec *c)
{
    c->closed = true;
    child_try_flush(v, c);
}

static void conv_flush(venue *v);

/* Retries every held event (children, then conversions) once per pass. */
static void ev_flush(venue *v)
{
    if (!v->backlog)
        return;
    bool left = false;
    for (uint32_t i = 0; i < CHILDREN_MAX; i++)
        if (v->child[i].used && !child_flush(v, &v->child[i]))
            left = true;
    v->backlog = left;
    conv_flush(v);
}

static child_rec *child_find(venue *v, const char *cid)
{
    for (uint32_t i = 0; i < CHILDREN_MAX; i++)
        if (v->child[i].used && strcmp(v->child[i].cid, cid) == 0)
            return &v->child[i];
    return NULL;
}

static void child_failed(venue *v, child_rec *c, xr_err err)
{
    c->failed_pending = true;
    c->fail_err = err;
    child_close(v, c);
}

/* An execution of child c: taken once, in order, recognised by the venue's cumulative
 * quantity (the rule of the router's child_event, applied here so that held executions can
 * be summed); duplicates (the REST answer and the user stream report each) are ignored. */
static void child_fill(child_rec *c, const xr_ev_order *o)
{
    if (o->last_qty.units <= 0 || c->recv_cum.units + o->last_qty.units != o->cum_qty.units)
        return;
    xr_i128 q;
    if (xr_i128_mul(o->last_qty.units, o->last_price.ticks, &q) != XR_OK ||
        xr_i128_add(c->pend_quote, q, &q) != XR_OK) {
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_ERROR, "engine", "venue_fill_overflow");
        xr_log_str(&l, "cid", c->cid);
        xr_log_end(&l);
        return;
    }
    if (o->fee.units > 0 && c->pend_fee.units > 0 &&
        (strcmp(o->fee_asset, c->fee_asset) != 0 || o->fee_scale != c->fee_scale)) {
        /* A second fee asset within held executions: the router books the fee of one asset
         * per child only (venue_fee_not_booked), so the later one is not carried either. */
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_WARN, "engine", "venue_fee_not_booked");
        xr_log_str(&l, "asset", o->fee_asset);
        xr_log_end(&l);
    } else if (o->fee.units > 0) {
        if (c->pend_fee.units == 0) {
            memcpy(c->fee_asset, o->fee_asset, sizeof c->fee_asset);
            c->fee_scale = o->fee_scale;
        }
        c->pend_fee.units += o->fee.units;
    } else if (c->pend_n == 0) {
        memcpy(c->fee_asset, o->fee_asset, sizeof c->fee_asset);
        c->fee_scale = o->fee_scale;
    }
    c->pend_quote = q;
    c->pend_price = o->last_price;
    c->recv_cum = o->cum_qty;
    c->pend_n++;
}

static bool status_final(uint8_t st)
{
    return st == XR_ORDER_FILLED || st == XR_ORDER_CANCELLED || st == XR_ORDER_REJECTED ||
           st == XR_ORDER_EXPIRED;
}

/* A public trade (the @trade stream) -> pricing, for the ticker's last price and volume and
 * the candles (core/engine/market_data.h). A trade that finds the ring full is dropped and
 * logged: market data never holds up the stream (the candles then miss it). */
static void on_trade(venue *v, const xr_event *ev)
{
    for (uint32_t i = 0; i < v->nsym; i++) {
        const xr_instrument *in = xr_binance_session_instrument(v->s, v->sym[i]);
        if (in == NULL || in->id != ev->instrument)
            continue;
        xr_eng_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_ENG_M_MD_TRADE;
        m.u.trade.venue = v->idx;
        m.u.trade.pair = v->pair[i];
        m.u.trade.trade_id = ev->u.trade.trade_id;
        m.u.trade.time_ns = ev->u.trade.trade_time_ns;
        m.u.trade.price = ev->u.trade.price;
        m.u.trade.qty = ev->u.trade.qty;
        if (xr_spsc_ring_try_push(v->io.md, &m) != XR_OK) {
            v->trades_dropped++;
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_WARN, "engine", "venue_trade_dropped");
            xr_log_u64(&l, "dropped", v->trades_dropped);
            xr_log_end(&l);
        }
        v->work = true;
        return;
    }
}

static void on_event(void *ctx, const xr_event *ev)
{
    venue *v = ctx;
    if (ev->kind == XR_EV_TRADE) {
        on_trade(v, ev);
        return;
    }
    if (ev->kind < XR_EV_ORDER_ACK || ev->kind > XR_EV_ORDER_STATUS)
        return; /* market data is read from the session's books after each poll */
    const xr_ev_order *o = &ev->u.order;
    child_rec *c = child_find(v, o->client_order_id);
    if (c == NULL)
        return; /* not ours, or its order answer has already ended */
    /* Fills and final states may arrive twice (the REST answer and the user stream): each
     * fill is taken once by cumulative quantity (child_fill); a later FINAL replaces a held
     * one, as the router would take the later one. */
    if (c->closed || c->failed_pending)
        return; /* its answer has ended: late duplicates */
    if (ev->kind == XR_EV_ORDER_FILL)
        child_fill(c, o);
    if (status_final(o->status)) {
        c->final_cum_qty = o->cum_qty;
        c->final_cum_quote = o->cum_quote;
        for (uint32_t i = 0; i < v->nsym; i++) {
            const xr_instrument *in = xr_binance_session_instrument(v->s, v->sym[i]);
            if (v->pair[i] == c->pair && in != NULL)
                c->final_quote_scale = in->scale.quote;
        }
        c->final_pending = true;
        c->final_seen = true;
    }
    child_try_flush(v, c);
}

/* ---- conversions (core/engine/convert.c) ------------------------------------------------------
 */

static unsigned conv_scale(const venue *v, uint16_t asset)
{
    return v->d->assets->assets[asset].scale;
}

/* Hands the conversion back to the router and frees its record; with the ring full, the
 * record keeps it until there is room (conv_flush). true when passed on. */
static bool conv_push(venue *v, conv_rec *cr)
{
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_CONV;
    m.u.conv = cr->c;
    if (xr_spsc_ring_try_push(v->io.events, &m) != XR_OK)
        return false;
    v->work = true;
    cr->used = cr->back_pending = false;
    return true;
}

static void conv_back(venue *v, conv_rec *cr)
{
    cr->back_pending = true;
    cr->query_pending = false;
    if (!conv_push(v, cr))
        v->backlog = true;
}

static void conv_flush(venue *v)
{
    for (uint32_t i = 0; i < CONV_MAX; i++)
        if (v->conv[i].used && v->conv[i].back_pending && !conv_push(v, &v->conv[i]))
            v->backlog = true;
}

static void conv_failed(venue *v, conv_rec *cr, xr_err err)
{
    cr->c.phase = XR_ENG_CV_RESULT;
    cr->c.status = 2;
    cr->c.err = err;
    cr->c.to_amount.units = 0;
    conv_back(v, cr);
}

static conv_rec *conv_free_rec(venue *v)
{
    for (uint32_t i = 0; i < CONV_MAX; i++)
        if (!v->conv[i].used)
            return &v->conv[i];
    return NULL;
}

/* `cr`: a free record (take_commands takes a conversion only when one is free). */
static void conv_command(venue *v, conv_rec *cr, const xr_eng_conv *c)
{
    memset(cr, 0, sizeof *cr);
    cr->used = true;
    cr->c = *c;
    xr_err err = XR_OK;
    const xr_engine_convert_cmd *cv = &c->cmd.u.convert;
    if (c->phase == XR_ENG_CV_QUOTE)
        err = xr_binance_session_convert_quote(v->s, cv->from_asset, cv->to_asset, cv->amount,
                                               conv_scale(v, c->from_asset),
                                               conv_scale(v, c->to_asset), &cr->req_id);
    else if (c->phase == XR_ENG_CV_ACCEPT)
        err = xr_binance_session_convert_accept(v->s, c->quote_id, &cr->req_id);
    else
        cr->query_pending = true; /* QUERY: sent by conv_run once the session is ready */
    if (err != XR_OK) /* not sent: nothing moved (the session is not ready: venue down) */
        conv_failed(v, cr, err == XR_ERR_INVALID_STATE ? XR_ERR_VENUE_UNAVAILABLE : err);
}

static void conv_result(venue *v, const xr_binance_result *r)
{
    conv_rec *cr = NULL;
    for (uint32_t i = 0; i < CONV_MAX && cr == NULL; i++)
        if (v->conv[i].used && !v->conv[i].query_pending && !v->conv[i].back_pending &&
            v->conv[i].req_id == r->request_id)
            cr = &v->conv[i];
    if (cr == NULL)
        return;
    xr_eng_conv *c = &cr->c;
    const uint64_t now = xr_clock_mono_ns();
    if (r->op == XR_BINANCE_OP_CONVERT_QUOTE) {
        if (r->outcome != XR_BINANCE_CONFIRMED) {
            conv_failed(v, cr, r->err != XR_OK ? r->err : XR_ERR_REJECTED);
        } else if (r->quote_id[0] == '\0') {
            conv_failed(v, cr, XR_ERR_INSUFFICIENT_FUNDS); /* the venue's balance is short */
        } else {
            c->phase = XR_ENG_CV_QUOTED; /* stored durably before the accept */
            memcpy(c->quote_id, r->quote_id, sizeof c->quote_id);
            conv_back(v, cr);
        }
        return;
    }
    if (r->op == XR_BINANCE_OP_CONVERT_ACCEPT) {
        if (r->outcome == XR_BINANCE_REJECTED) {
            conv_failed(v, cr, r->err != XR_OK ? r->err : XR_ERR_REJECTED); /* nothing moved */
        } else if (r->outcome == XR_BINANCE_CONFIRMED &&
                   r->order.status == XR_BINANCE_CONVERT_FAIL) {
            conv_failed(v, cr, XR_ERR_REJECTED);
        } else {
            /* Accepted (PROCESS, ACCEPT_SUCCESS, SUCCESS) or unknown: the amounts and the
             * outcome come from orderStatus by the same quote id, never from a second
             * accept. */
            cr->query_pending = true;
        }
        return;
    }
    /* orderStatus */
    if (r->outcome == XR_BINANCE_CONFIRMED) {
        const xr_binance_convert_order *o = &r->order;
        if (o->status == XR_BINANCE_CONVERT_SUCCESS) {
            if (o->from_amount.units != c->cmd.u.convert.amount.units) {
                xr_log_line l;
                xr_log_begin(&l, XR_LOG_ERROR, "engine", "conversion_amount_differs");
                xr_log_str(&l, "quote", c->quote_id);
                xr_log_end(&l);
            }
            c->phase = XR_ENG_CV_RESULT;
            c->status = 1;
            c->err = XR_OK;
            c->to_amount = o->to_amount;
            conv_back(v, cr);
        } else if (o->status == XR_BINANCE_CONVERT_FAIL) {
            conv_failed(v, cr, XR_ERR_REJECTED);
        } else {
            cr->query_pending = true; /* still processing: ask again shortly */
            cr->not_before = now + 20 * XR_NS_PER_MS;
        }
    } else if (r->venue_code == -2013) {
        conv_failed(v, cr, XR_ERR_NOT_FOUND); /* never accepted: nothing moved */
    } else {
        cr->query_pending = true; /* could not ask: ask again, never guess */
        cr->not_before = now + XR_NS_PER_SEC;
    }
}

/* Status queries wait until the session is READY (after a restart the venue may be down). */
static void conv_run(venue *v)
{
    if (xr_binance_session_get_state(v->s) != XR_BINANCE_SESSION_READY)
        return;
    const uint64_t now = xr_clock_mono_ns();
    for (uint32_t i = 0; i < CONV_MAX; i++) {
        conv_rec *cr = &v->conv[i];
        if (!cr->used || !cr->query_pending || cr->back_pending || now < cr->not_before)
            continue;
        if (xr_binance_session_convert_status(v->s, cr->c.quote_id, conv_scale(v, cr->c.from_asset),
                                              conv_scale(v, cr->c.to_asset),
                                              &cr->req_id) == XR_OK) {
            cr->query_pending = false;
            v->work = true;
        }
    }
}

static void on_result(void *ctx, const xr_binance_result *r)
{
    venue *v = ctx;
    if (r->op == XR_BINANCE_OP_CONVERT_QUOTE || r->op == XR_BINANCE_OP_CONVERT_ACCEPT ||
        r->op == XR_BINANCE_OP_CONVERT_STATUS) {
        conv_result(v, r);
        return;
    }
    if (r->op != XR_BINANCE_OP_ORDER_NEW && r->op != XR_BINANCE_OP_ORDER_QUERY)
        return;
    child_rec *c = child_find(v, r->client_order_id);
    if (c == NULL || c->closed || c->failed_pending)
        return;
    switch (r->outcome) {
    case XR_BINANCE_CONFIRMED:
        /* A FULL answer of an IOC order is final and carried every fill, all reported just
         * before this. (A query's answer carries no fills: those come from the user stream,
         * which reports them before the final state - see the ARCHITECTURE note.) */
        c->result_seen = true;
        if (c->final_seen)
            child_close(v, c);
        else if (r->op == XR_BINANCE_OP_ORDER_QUERY)
            c->query_pending = true; /* not final yet at the venue: ask again */
        break;
    case XR_BINANCE_REJECTED:
        /* Refused: nothing executed (for a query: the venue never saw the order). */
        child_failed(v, c, r->err != XR_OK ? r->err : XR_ERR_REJECTED);
        break;
    default: {
        /* Unknown: ask the venue, by the same client order id. */
        const xr_instrument *inst = xr_binance_session_instrument(v->s, v->sym[0]);
        for (uint32_t i = 0; i < v->nsym; i++)
            if (v->pair[i] == c->pair)
                inst = xr_binance_session_instrument(v->s, v->sym[i]);
        /* Cannot ask now (the session is down): ask again once it is READY (run_queries).
         * Never guessed as failed: the order may have executed, and a failed child is
         * re-routed to another venue (failover). */
        if (inst == NULL || xr_binance_session_order_query(v->s, inst, c->cid, NULL) != XR_OK)
            c->query_pending = true;
        break;
    }
    }
}

/* ---- commands and market data ---------------------------------------------------------------- */

static const xr_instrument *child_inst(venue *v, uint16_t pair)
{
    for (uint32_t i = 0; i < v->nsym; i++)
        if (v->pair[i] == pair)
            return xr_binance_session_instrument(v->s, v->sym[i]);
    return NULL;
}

/* Reconciliation queries wait until the session knows its instruments (after a restart the
 * venue may still be starting, or down): an order of unknown outcome is never guessed. */
static void run_queries(venue *v)
{
    if (xr_binance_session_get_state(v->s) != XR_BINANCE_SESSION_READY)
        return;
    for (uint32_t i = 0; i < CHILDREN_MAX; i++) {
        child_rec *c = &v->child[i];
        if (!c->used || !c->query_pending || c->closed)
            continue;
        const xr_instrument *inst = child_inst(v, c->pair);
        if (inst != NULL && xr_binance_session_order_query(v->s, inst, c->cid, NULL) == XR_OK) {
            c->query_pending = false;
            v->work = true;
        }
    }
}

static child_rec *child_free_rec(venue *v)
{
    for (uint32_t i = 0; i < CHILDREN_MAX; i++)
        if (!v->child[i].used)
            return &v->child[i];
    return NULL;
}

/* Admission control: a command is taken from the ring only when a record is free to hold it
 * and every event it can cause (child_rec, conv_rec); otherwise it stays in the ring (the
 * router's port queues behind it) until a record is freed. Nothing is failed for want of
 * room. */
static void take_commands(venue *v)
{
    const xr_eng_msg *m;
    while ((m = xr_spsc_ring_peek(v->io.cmds)) != NULL) {
        if (m->type == XR_ENG_M_CONV) {
            conv_rec *cr = conv_free_rec(v);
            if (cr == NULL) {
                xr_spsc_ring_release(v->io.cmds, 0); /* ends the peek; taken again later */
                return;
            }
            v->work = true;
            conv_command(v, cr, &m->u.conv);
            xr_spsc_ring_release(v->io.cmds, 1);
            continue;
        }
        const xr_eng_child_cmd *cc = &m->u.child;
        child_rec *c = child_free_rec(v);
        if (c == NULL) {
            xr_spsc_ring_release(v->io.cmds, 0);
            return;
        }
        v->work = true;
        memset(c, 0, sizeof *c);
        c->used = true;
        c->leg = cc->leg;
        c->pair = cc->pair;
        c->order_ref = cc->order_ref;
        c->order_seq = cc->order_seq;
        memcpy(c->cid, cc->client_order_id, sizeof c->cid);
        if (cc->query) {
            c->query = c->query_pending = true;
            xr_spsc_ring_release(v->io.cmds, 1);
            continue;
        }
        const xr_instrument *inst = NULL;
        for (uint32_t i = 0; i < v->nsym; i++)
            if (v->pair[i] == cc->pair)
                inst = xr_binance_session_instrument(v->s, v->sym[i]);
        xr_err err = inst == NULL ? XR_ERR_VENUE_UNAVAILABLE : XR_OK;
        if (err == XR_OK) {
            xr_binance_order_params p = {.inst = inst,
                                         .side = (xr_side)cc->side,
                                         .type = XR_ORDER_TYPE_LIMIT,
                                         .tif = XR_TIF_IOC,
                                         .price = cc->limit,
                                         .qty = cc->qty,
                                         .client_order_id = c->cid,
                                         .resp_type = XR_BINANCE_RESP_FULL};
            err = xr_binance_session_order_new(v->s, &p, NULL);
            if (err == XR_ERR_INVALID_STATE)
                err = XR_ERR_VENUE_UNAVAILABLE; /* the session is not READY: venue down */
        }
        if (err != XR_OK)
            child_failed(v, c, err);
        xr_spsc_ring_release(v->io.cmds, 1);
    }
}

static void publish_md(venue *v)
{
    if (xr_binance_session_get_state(v->s) != XR_BINANCE_SESSION_READY)
        return;
    uint64_t now = xr_clock_mono_ns();
    for (uint32_t i = 0; i < v->nsym; i++) {
        xr_eng_msg *m;
        if (!v->inst_sent[i]) {
            const xr_instrument *inst = xr_binance_session_instrument(v->s, v->sym[i]);
            if (inst == NULL || (m = xr_spsc_ring_try_reserve(v->io.md)) == NULL)
                continue;
            memset(m, 0, sizeof *m);
            m->type = XR_ENG_M_MD_INST;
            m->u.inst.venue = v->idx;
            m->u.inst.pair = v->pair[i];
            m->u.inst.inst = *inst;
            xr_spsc_ring_commit(v->io.md, 1);
            v->inst_sent[i] = true;
            v->work = true;
        }
        const xr_book *b = xr_binance_session_book(v->s, i);
        bool ok = b != NULL && xr_book_check(b, now) == XR_OK;
        if (ok == v->up[i] && (!ok || xr_book_update_id(b) == v->last_id[i]))
            continue;
        if ((m = xr_spsc_ring_try_reserve(v->io.md)) == NULL)
            continue; /* level-triggered: tried again after the next poll */
        memset(m, 0, sizeof *m);
        m->type = ok ? XR_ENG_M_MD_BOOK : XR_ENG_M_MD_DOWN;
        xr_eng_md_book *mb = &m->u.book;
        mb->venue = v->idx;
        mb->pair = v->pair[i];
        xr_book_level top[2][XR_ENG_MD_LEVELS];
        uint32_t n_top[2] = {0, 0};
        bool delta = false;
        uint64_t id = 0;
        if (ok) {
            mb->update_id = id = xr_book_update_id(b);
            (void)xr_book_top(b, XR_SIDE_BUY, now, top[0], XR_ENG_MD_LEVELS, &n_top[0]);
            (void)xr_book_top(b, XR_SIDE_SELL, now, top[1], XR_ENG_MD_LEVELS, &n_top[1]);
            /* Only what changed since the last message pricing has (sent[i]), unless pricing
             * holds nothing yet, the id went back (a resync), the changes do not fit or a
             * keyframe is due: then the top levels whole. */
            xr_book_level d[2][XR_ENG_MD_LEVELS];
            uint32_t nd[2] = {0, 0};
            delta = v->up[i] && id > v->last_id[i] && v->deltas[i] + 1 < XR_ENG_MD_KEYFRAME &&
                    xr_book_levels_diff(XR_SIDE_BUY, v->sent[i][0], v->sent_n[i][0], top[0],
                                        n_top[0], d[0], XR_ENG_MD_LEVELS, &nd[0]) == XR_OK &&
                    xr_book_levels_diff(XR_SIDE_SELL, v->sent[i][1], v->sent_n[i][1], top[1],
                                        n_top[1], d[1], XR_ENG_MD_LEVELS, &nd[1]) == XR_OK;
            const xr_book_level *bl = delta ? d[0] : top[0], *al = delta ? d[1] : top[1];
            mb->delta = delta;
            mb->n_bids = (uint16_t)(delta ? nd[0] : n_top[0]);
            mb->n_asks = (uint16_t)(delta ? nd[1] : n_top[1]);
            mb->base_id = delta ? v->last_id[i] : 0;
            for (uint32_t k = 0; k < mb->n_bids; k++)
                mb->bids[k] = (xr_eng_md_level){bl[k].price, bl[k].qty};
            for (uint32_t k = 0; k < mb->n_asks; k++)
                mb->asks[k] = (xr_eng_md_level){al[k].price, al[k].qty};
        }
        xr_spsc_ring_commit(v->io.md, 1);
        if (ok) {
            /* Committed (the slot is pricing's now): pricing will hold exactly these levels. */
            for (int sd = 0; sd < 2; sd++) {
                memcpy(v->sent[i][sd], top[sd], n_top[sd] * sizeof top[sd][0]);
                v->sent_n[i][sd] = n_top[sd];
            }
            v->deltas[i] = delta ? v->deltas[i] + 1 : 0;
            v->last_id[i] = id;
        }
        v->up[i] = ok;
        v->work = true;
    }
}

/* ---- the driver --------------------------------------------------------------------------- */

static void drv_destroy(void *p)
{
    drv *d = p;
    if (d == NULL)
        return;
    for (uint32_t i = 0; i < d->nv; i++) {
        xr_binance_session_destroy(d->v[i].s);
        free(d->v[i].conv);
    }
    xr_net_loop_destroy(d->loop);
    free(d);
}

static xr_err drv_pass(void *p, uint64_t timeout_ns, bool *work)
{
    drv *d = p;
    for (uint32_t i = 0; i < d->nv; i++) {
        d->v[i].work = false;
        ev_flush(&d->v[i]);
        take_commands(&d->v[i]);
        run_queries(&d->v[i]);
        conv_run(&d->v[i]);
    }
    uint32_t n = 0;
    if (xr_net_loop_poll(d->loop, timeout_ns, &n) != XR_OK)
        return XR_ERR_INTERNAL;
    for (uint32_t i = 0; i < d->nv; i++) {
        (void)xr_binance_session_run_due(d->v[i].s);
        publish_md(&d->v[i]);
        ev_flush(&d->v[i]);
        *work = *work || d->v[i].work;
    }
    *work = *work || n > 0;
    return XR_OK;
}

static xr_err drv_create(const xr_engine_config *cfg, const xr_asset_registry *assets,
                         const xr_eng_venue_io *io, void **out)
{
    drv *d = calloc(1, sizeof *d);
    if (d == NULL)
        return XR_ERR_NO_MEMORY;
    d->assets = assets;
    xr_net_loop_config lc;
    xr_net_loop_config_default(&lc);
    lc.max_conns = 4 * (cfg->nvenues + 1);
    lc.recv_buf_bytes = 1u << 20; /* exchangeInfo and depth snapshots arrive whole */
    xr_err err = xr_net_loop_create(&lc, &d->loop);
    if (err != XR_OK) {
        free(d);
        return err;
    }
    /* Engine pair indexes: order of first appearance (core/engine/venue.h). */
    char names[XR_ENG_PAIRS_MAX][XR_ENGINE_PAIR_NAME_MAX];
    uint32_t npairs = 0;
    for (uint32_t vi = 0; vi < cfg->nvenues; vi++) {
        const xr_engine_venue_config *vc = &cfg->venues[vi];
        venue *v = &d->v[vi];
        v->d = d;
        v->idx = (uint16_t)vi;
        v->io = io[vi];
        v->conv = calloc(CONV_MAX, sizeof *v->conv);
        d->nv = vi + 1;
        if (v->conv == NULL) {
            drv_destroy(d);
            return XR_ERR_NO_MEMORY;
        }
        xr_binance_session_config sc;
        xr_binance_session_config_default(&sc);
        sc.ip = vc->ip;
        sc.port = vc->port;
        sc.ws_port = vc->ws_port;
        sc.host = vc->host[0] != '\0' ? vc->host : "localhost";
        sc.api_key = vc->api_key[0] != '\0' ? vc->api_key : NULL;
        sc.secret = vc->secret;
        sc.venue = (uint16_t)vi;
        sc.assets = assets;
        sc.book_stale_ns = cfg->book_stale_ns;
        sc.depth_stream = vc->depth_stream[0] != '\0' ? vc->depth_stream : "@depth@100ms";
        sc.trades = true; /* public trades feed TICKER and OHLC */
        sc.on_event = on_event;
        sc.on_result = on_result;
        sc.ctx = v;
        sc.seed = vi + 1;
        for (uint32_t i = 0; i < vc->npairs; i++) {
            char base[XR_ASSET_CODE_MAX + 1], quote[XR_ASSET_CODE_MAX + 1];
            if (xr_pair_name_split(vc->pairs[i], strlen(vc->pairs[i]), base, quote) != XR_OK) {
                drv_destroy(d);
                return XR_ERR_CONFIG;
            }
            snprintf(v->sym[i], sizeof v->sym[i], "%s%s", base, quote);
            uint32_t k = 0;
            while (k < npairs && strcmp(names[k], vc->pairs[i]) != 0)
                k++;
            if (k == npairs)
                snprintf(names[npairs++], sizeof names[0], "%s", vc->pairs[i]);
            v->pair[i] = (uint16_t)k;
            sc.symbols[i] = v->sym[i];
        }
        v->nsym = vc->npairs;
        sc.nsymbols = vc->npairs;
        if ((err = xr_binance_session_create(&sc, d->loop, &v->s)) != XR_OK) {
            drv_destroy(d);
            return err;
        }
    }
    *out = d;
    return XR_OK;
}

static xr_err drv_poll(void *p, bool *work)
{
    return drv_pass(p, 0, work);
}

/* The THREADS schedule's blocking wait: the io_uring wait, ended by a completion, the
 * timeout, or drv_wake (the loop's eventfd). */
static xr_err drv_poll_wait(void *p, uint64_t timeout_ns, bool *work)
{
    return drv_pass(p, timeout_ns, work);
}

static void drv_wake(void *p)
{
    drv *d = p;
    (void)xr_net_loop_wake(d->loop); /* fails only if the eventfd does: the wait times out */
}

static const xr_eng_venue_driver binance_driver = {
    .create = drv_create,
    .poll = drv_poll,
    .destroy = drv_destroy,
    .poll_wait = drv_poll_wait,
    .wake = drv_wake,
};

xr_err xr_engine_open(const xr_engine_config *cfg, xr_engine **out)
{
    return xr_engine_open_with(cfg, &binance_driver, out);
}
