/*
 * Gateway stage: the engine's front door and its only way out. It checks each command's
 * header, keeps the customer directory (bank, customer) -> internal number and KYC tier, and
 * the idempotency table of orders; it forwards commands to the pricing or ledger stage and
 * turns every answer that comes back into one event on the egress ring.
 */
#include <string.h>

#include "core/base/assert.h"
#include "core/engine/engine_internal.h"

typedef enum cust_state {
    CUST_FREE = 0,
    CUST_PENDING = 1,
    CUST_ACTIVE = 2,
    CUST_FAILED = 3
} cust_state;

typedef struct cust_entry {
    uint32_t bank;
    uint8_t state, tier;
    uint64_t customer;
} cust_entry;

typedef enum idem_state { IDEM_FREE = 0, IDEM_IN_FLIGHT = 1, IDEM_DONE = 2 } idem_state;

typedef struct idem_entry {
    uint32_t bank;
    uint8_t state;
    uint64_t customer;
    xr_engine_order_cmd order;
    xr_err reject; /* DONE: XR_OK for a report, else the stored reject */
    xr_engine_exec_report_ev report;
    uint8_t open_sent;    /* IN_FLIGHT: the OPEN report (in `report`) answered NEW_ORDER */
    uint8_t cancel;       /* IN_FLIGHT: a CANCEL waits for the order's final report */
    uint64_t cancel_corr; /* its correlation id */
} idem_entry;

struct xr_eng_gateway {
    const xr_eng_shared *sh;
    xr_spsc_ring *in[3]; /* ingress, pricing_gw, ledger_gw */
    xr_eng_port egress, to_pricing, to_ledger;
    /* customers: entries[i] is internal customer number i + 1 */
    cust_entry *cust;
    uint32_t *cust_index; /* open addressing: entry + 1, 0 empty; never deletes */
    uint32_t cust_mask, ncust;
    /* order keys */
    idem_entry *idem;
    uint32_t *idem_index; /* open addressing with backward-shift deletion */
    uint32_t idem_mask;
    uint32_t *idem_free; /* stack of free entries */
    uint32_t nfree;
    uint32_t *done_fifo; /* entries in the order they completed: the eviction order */
    uint32_t done_head, done_n;
    uint32_t recovering; /* orders from before a restart not reconciled yet */
    /* Admission (engine_internal.h, "Back-pressure"): orders taken and not final yet, and
     * those of them that rest (their OPEN report sent). At most orders_max are live. */
    uint32_t orders_live, orders_open;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* ---- customers ------------------------------------------------------------------------------ */

static cust_entry *cust_find(xr_eng_gateway *g, uint32_t bank, uint64_t customer, uint64_t *no)
{
    uint32_t i = (uint32_t)mix(customer ^ ((uint64_t)bank << 40)) & g->cust_mask;
    for (;; i = (i + 1) & g->cust_mask) {
        uint32_t e = g->cust_index[i];
        if (e == 0)
            return NULL;
        cust_entry *c = &g->cust[e - 1];
        if (c->bank == bank && c->customer == customer) {
            *no = e;
            return c;
        }
    }
}

static cust_entry *cust_add(xr_eng_gateway *g, uint32_t bank, uint64_t customer, uint64_t *no)
{
    if (g->ncust == g->sh->cfg.customers_max)
        return NULL;
    uint32_t i = (uint32_t)mix(customer ^ ((uint64_t)bank << 40)) & g->cust_mask;
    while (g->cust_index[i] != 0)
        i = (i + 1) & g->cust_mask;
    cust_entry *c = &g->cust[g->ncust++];
    g->cust_index[i] = g->ncust;
    c->bank = bank;
    c->customer = customer;
    *no = g->ncust;
    return c;
}

/* ---- order keys ----------------------------------------------------------------------------- */

static uint32_t idem_hash(const xr_eng_gateway *g, uint32_t bank, const xr_engine_key *k)
{
    uint64_t a, b;
    memcpy(&a, k->bytes, 8);
    memcpy(&b, k->bytes + 8, 8);
    return (uint32_t)mix(a ^ mix(b ^ bank)) & g->idem_mask;
}

/* Index slot of (bank, key), or of the empty slot where it would go. */
static uint32_t idem_slot(const xr_eng_gateway *g, uint32_t bank, const xr_engine_key *k)
{
    uint32_t i = idem_hash(g, bank, k);
    for (;; i = (i + 1) & g->idem_mask) {
        uint32_t e = g->idem_index[i];
        if (e == 0)
            return i;
        const idem_entry *d = &g->idem[e - 1];
        if (d->bank == bank && memcmp(d->order.key.bytes, k->bytes, 16) == 0)
            return i;
    }
}

static void idem_remove(xr_eng_gateway *g, uint32_t entry)
{
    idem_entry *d = &g->idem[entry];
    uint32_t i = idem_slot(g, d->bank, &d->order.key);
    XR_ASSERT(g->idem_index[i] == entry + 1);
    g->idem_index[i] = 0;
    /* Backward-shift deletion: pull later members of the probe run into the hole. */
    for (uint32_t j = (i + 1) & g->idem_mask; g->idem_index[j] != 0; j = (j + 1) & g->idem_mask) {
        const idem_entry *o = &g->idem[g->idem_index[j] - 1];
        uint32_t home = idem_hash(g, o->bank, &o->order.key);
        /* Move j to i when home is not cyclically in (i, j]. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            g->idem_index[i] = g->idem_index[j];
            g->idem_index[j] = 0;
            i = j;
        }
    }
    d->state = IDEM_FREE;
    g->idem_free[g->nfree++] = entry;
}

/* A free entry, evicting the oldest completed one when none is free; UINT32_MAX when every
 * entry is in flight. */
static uint32_t idem_alloc(xr_eng_gateway *g)
{
    if (g->nfree == 0) {
        if (g->done_n == 0)
            return UINT32_MAX;
        uint32_t victim = g->done_fifo[g->done_head];
        g->done_head = (g->done_head + 1) & (g->sh->cfg.idempotency_max - 1);
        g->done_n--;
        idem_remove(g, victim);
    }
    return g->idem_free[--g->nfree];
}

static void idem_done(xr_eng_gateway *g, uint32_t entry)
{
    uint32_t cap = g->sh->cfg.idempotency_max;
    XR_ASSERT(g->done_n < cap);
    g->done_fifo[(g->done_head + g->done_n) & (cap - 1)] = entry;
    g->done_n++;
    g->idem[entry].state = IDEM_DONE;
}

/* ---- events --------------------------------------------------------------------------------- */

static void ev_header(xr_eng_msg *m, const xr_engine_cmd *cmd, xr_engine_event_kind kind)
{
    memset(m, 0, sizeof *m);
    m->type = XR_ENG_M_EVT;
    m->u.ev.kind = (uint8_t)kind;
    m->u.ev.bank_id = cmd->bank_id;
    m->u.ev.correlation_id = cmd->correlation_id;
    m->u.ev.customer_id = cmd->customer_id;
}

static void reject(xr_eng_gateway *g, const xr_engine_cmd *cmd, xr_err err)
{
    xr_eng_msg m;
    xr_eng_reject(&m, cmd, err);
    xr_eng_port_send(&g->egress, &m);
}

/* ---- commands ------------------------------------------------------------------------------- */

static bool order_supported(const xr_engine_order_cmd *o)
{
    return (o->type == XR_ENGINE_MARKET &&
            (o->tif == XR_ENGINE_TIF_DEFAULT || o->tif == XR_ENGINE_TIF_IOC)) ||
           (o->type == XR_ENGINE_LIMIT && o->amount_side == XR_ENGINE_AMOUNT_BASE &&
            o->quote_id == 0);
}

static bool key_zero(const xr_engine_key *k)
{
    for (int i = 0; i < 16; i++)
        if (k->bytes[i] != 0)
            return false;
    return true;
}

/* Same content, field by field (padding bytes are not content). */
static bool order_same(const xr_engine_order_cmd *a, const xr_engine_order_cmd *b)
{
    return memcmp(a->key.bytes, b->key.bytes, 16) == 0 &&
           strncmp(a->pair, b->pair, sizeof a->pair) == 0 && a->side == b->side &&
           a->type == b->type && a->tif == b->tif && a->amount_side == b->amount_side &&
           a->amount.units == b->amount.units && a->limit.ticks == b->limit.ticks &&
           a->expire_ns == b->expire_ns && a->quote_id == b->quote_id;
}

static void new_order(xr_eng_gateway *g, const xr_engine_cmd *cmd, uint64_t no, uint8_t tier)
{
    const xr_engine_order_cmd *oc = &cmd->u.order;
    if ((oc->side != XR_ENGINE_BUY && oc->side != XR_ENGINE_SELL) ||
        (oc->type != XR_ENGINE_MARKET && oc->type != XR_ENGINE_LIMIT) ||
        oc->tif > XR_ENGINE_TIF_GTD || oc->amount_side > XR_ENGINE_AMOUNT_QUOTE ||
        key_zero(&oc->key)) {
        reject(g, cmd, XR_ERR_INVALID_ARGUMENT);
        return;
    }
    uint32_t slot = idem_slot(g, cmd->bank_id, &oc->key);
    if (g->idem_index[slot] != 0) {
        uint32_t entry = g->idem_index[slot] - 1;
        idem_entry *d = &g->idem[entry];
        if (d->customer != cmd->customer_id || !order_same(&d->order, oc)) {
            reject(g, cmd, XR_ERR_IDEMPOTENCY_CONFLICT);
        } else if (d->state == IDEM_IN_FLIGHT && d->open_sent) {
            xr_eng_msg m; /* a resting order: its OPEN report again */
            ev_header(&m, cmd, XR_ENGINE_EV_EXEC_REPORT);
            m.u.ev.u.report = d->report;
            m.u.ev.u.report.replayed = 1;
            xr_eng_port_send(&g->egress, &m);
        } else if (d->state == IDEM_IN_FLIGHT) {
            reject(g, cmd, XR_ERR_AGAIN);
        } else if (d->reject != XR_OK) {
            reject(g, cmd, d->reject);
        } else {
            xr_eng_msg m;
            ev_header(&m, cmd, XR_ENGINE_EV_EXEC_REPORT);
            m.u.ev.u.report = d->report;
            m.u.ev.u.report.replayed = 1;
            xr_eng_port_send(&g->egress, &m);
        }
        return;
    }
    if (!order_supported(oc)) {
        reject(g, cmd, XR_ERR_NOT_SUPPORTED);
        return;
    }
    if (g->recovering > 0) {
        /* Start-up reconciliation is still resolving orders from before the restart: no new
         * order is accepted until every reservation is accounted for (DESIGN.md section 4). */
        reject(g, cmd, XR_ERR_AGAIN);
        return;
    }
    if (g->orders_live >= g->sh->cfg.orders_max) {
        /* Every order slot is held by a resting order (xr_eng_gateway_poll waits otherwise):
         * none frees by itself, so the bank is told to come back. */
        reject(g, cmd, XR_ERR_AGAIN);
        return;
    }
    uint32_t entry = idem_alloc(g);
    if (entry == UINT32_MAX) {
        reject(g, cmd, XR_ERR_NO_MEMORY);
        return;
    }
    slot = idem_slot(g, cmd->bank_id, &oc->key); /* eviction may have moved the run */
    idem_entry *d = &g->idem[entry];
    memset(d, 0, sizeof *d);
    d->bank = cmd->bank_id;
    d->customer = cmd->customer_id;
    d->order = *oc;
    d->state = IDEM_IN_FLIGHT;
    g->idem_index[slot] = entry + 1;

    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_ORDER;
    xr_eng_order *o = &m.u.order;
    o->cmd = *cmd;
    o->cust_no = no;
    o->tier = tier;
    o->phase = XR_ENG_PH_NEW;
    o->status = XR_ENGINE_ORDER_PENDING;
    o->gw_entry = entry;
    g->orders_live++;
    xr_eng_port_send(&g->to_pricing, &m);
}

/* CANCEL: answered by the order's final execution report (see engine.h); a known order in
 * flight gets the request through pricing (which owns the internal book). */
static void cancel_order(xr_eng_gateway *g, const xr_engine_cmd *cmd)
{
    if (key_zero(&cmd->u.ref.key)) {
        reject(g, cmd, XR_ERR_INVALID_ARGUMENT);
        return;
    }
    uint32_t slot = idem_slot(g, cmd->bank_id, &cmd->u.ref.key);
    if (g->idem_index[slot] == 0) {
        reject(g, cmd, XR_ERR_NOT_FOUND);
        return;
    }
    uint32_t entry = g->idem_index[slot] - 1;
    idem_entry *d = &g->idem[entry];
    if (d->customer != cmd->customer_id || (d->state == IDEM_DONE && d->reject != XR_OK)) {
        reject(g, cmd, XR_ERR_NOT_FOUND); /* another customer's, or refused: no order */
        return;
    }
    if (d->state == IDEM_DONE) {
        reject(g, cmd, XR_ERR_INVALID_STATE); /* final already */
        return;
    }
    if (d->cancel) {
        reject(g, cmd, XR_ERR_AGAIN); /* a cancel is under way: its answer follows */
        return;
    }
    d->cancel = 1;
    d->cancel_corr = cmd->correlation_id;
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_CMD;
    m.u.req.cmd = *cmd;
    m.u.req.gw_entry = entry;
    xr_eng_port_send(&g->to_pricing, &m);
}

static void command(xr_eng_gateway *g, const xr_engine_cmd *cmd)
{
    if (cmd->kind == 0 || cmd->kind >= XR_ENGINE_CMD__COUNT) {
        reject(g, cmd, XR_ERR_INVALID_ARGUMENT);
        return;
    }
    if (xr_eng_find_bank(g->sh, cmd->bank_id) < 0) {
        reject(g, cmd, XR_ERR_UNAUTHORIZED);
        return;
    }
    xr_eng_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_ENG_M_CMD;
    m.u.req.cmd = *cmd;
    switch (cmd->kind) {
    case XR_ENGINE_CMD_BOOK:
    case XR_ENGINE_CMD_TICKER:
    case XR_ENGINE_CMD_OHLC:
    case XR_ENGINE_CMD_PAIRS:
        xr_eng_port_send(&g->to_pricing, &m);
        return;
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
    case XR_ENGINE_CMD_ORDER_STATUS:
    case XR_ENGINE_CMD_LIST_ORDERS:
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
    case XR_ENGINE_CMD_QUOTE:
    case XR_ENGINE_CMD_NEW_ORDER:
    case XR_ENGINE_CMD_BALANCES:
    case XR_ENGINE_CMD_CANCEL:
    case XR_ENGINE_CMD_CONVERT: /* checked and kept durably by the ledger stage */
        break;
    default:
        reject(g, cmd, XR_ERR_NOT_SUPPORTED);
        return;
    }
    uint64_t no = 0;
    cust_entry *c = cust_find(g, cmd->bank_id, cmd->customer_id, &no);
    if (cmd->kind == XR_ENGINE_CMD_CUSTOMER_UPSERT) {
        if (cmd->u.customer.kyc_tier == XR_ENGINE_ANY_TIER || cmd->customer_id == 0) {
            reject(g, cmd, XR_ERR_INVALID_ARGUMENT);
            return;
        }
        if (c != NULL && c->state != CUST_FAILED) {
            /* The new tier is stored by the ledger stage (the directory survives a restart);
             * the answer comes back from there. */
            c->tier = cmd->u.customer.kyc_tier;
            m.u.req.cust_no = no;
            m.u.req.tier = c->tier;
            m.u.req.update = 1;
            xr_eng_port_send(&g->to_ledger, &m);
            return;
        }
        if (c == NULL && (c = cust_add(g, cmd->bank_id, cmd->customer_id, &no)) == NULL) {
            reject(g, cmd, XR_ERR_NO_MEMORY);
            return;
        }
        /* Commands behind this one may use the customer at once: they reach the ledger after
         * the account creation, in ring order, and fail there if it failed. */
        c->state = CUST_PENDING;
        c->tier = cmd->u.customer.kyc_tier;
        m.u.req.cust_no = no;
        m.u.req.tier = c->tier;
        xr_eng_port_send(&g->to_ledger, &m);
        return;
    }
    if (c == NULL || c->state == CUST_FAILED) {
        reject(g, cmd, XR_ERR_NOT_FOUND);
        return;
    }
    m.u.req.cust_no = no;
    m.u.req.tier = c->tier;
    if (cmd->kind == XR_ENGINE_CMD_NEW_ORDER)
        new_order(g, cmd, no, c->tier);
    else if (cmd->kind == XR_ENGINE_CMD_CANCEL)
        cancel_order(g, cmd);
    else if (cmd->kind == XR_ENGINE_CMD_ORDER_STATUS && key_zero(&cmd->u.ref.key))
        reject(g, cmd, XR_ERR_INVALID_ARGUMENT);
    else if (cmd->kind == XR_ENGINE_CMD_QUOTE)
        xr_eng_port_send(&g->to_pricing, &m);
    else
        xr_eng_port_send(&g->to_ledger, &m);
}

/* An order coming back: booked, or refused. */
static void order_back(xr_eng_gateway *g, const xr_eng_order *o, bool from_ledger)
{
    XR_ASSERT(o->gw_entry < g->sh->cfg.idempotency_max);
    idem_entry *d = &g->idem[o->gw_entry];
    XR_ASSERT(d->state == IDEM_IN_FLIGHT);
    xr_eng_msg m;
    if (o->phase != XR_ENG_PH_OPEN) { /* final: its order slot is free again */
        XR_ASSERT(g->orders_live > 0 && g->orders_open <= g->orders_live);
        g->orders_live--;
        if (d->open_sent)
            g->orders_open--;
    }
    if (o->phase == XR_ENG_PH_REJECTED) {
        reject(g, &o->cmd, o->err);
        if (d->cancel) {
            xr_engine_cmd cc = o->cmd; /* the CANCEL waiting for it: no order was made */
            cc.kind = XR_ENGINE_CMD_CANCEL;
            cc.correlation_id = d->cancel_corr;
            reject(g, &cc, XR_ERR_NOT_FOUND);
        }
        if (!from_ledger) {
            /* Refused before the ledger saw it: nothing is stored, the key stays unused (as
             * the ledger does for input errors), so a corrected request may use it. */
            idem_remove(g, o->gw_entry);
        } else {
            d->reject = o->err;
            idem_done(g, o->gw_entry);
            if (o->cmd.u.order.quote_id != 0) {
                /* Its firm quote was executed in pricing: give it back (nothing booked). */
                xr_eng_msg q;
                memset(&q, 0, sizeof q);
                q.type = XR_ENG_M_ORDER;
                q.u.order = *o;
                xr_eng_port_send(&g->to_pricing, &q);
            }
        }
        return;
    }
    if (o->phase == XR_ENG_PH_OPEN) {
        /* A LIMIT order rests (or a recovered one was reconciled): the OPEN report answers
         * NEW_ORDER once; the final report comes later, unsolicited. */
        if (o->recovered) {
            XR_ASSERT(g->recovering > 0);
            g->recovering--;
            if (!d->open_sent)
                g->orders_open++;
            d->open_sent = 1;
            xr_eng_report_from_order(o, &d->report);
            return;
        }
        if (d->open_sent)
            return;
        d->open_sent = 1;
        g->orders_open++;
        xr_eng_report_from_order(o, &d->report);
        ev_header(&m, &o->cmd, XR_ENGINE_EV_EXEC_REPORT);
        m.u.ev.u.report = d->report;
        xr_eng_port_send(&g->egress, &m);
        return;
    }
    XR_ASSERT(o->phase == XR_ENG_PH_DONE);
    const bool cancel = d->cancel;
    const uint64_t cancel_corr = d->cancel_corr;
    xr_eng_report_from_order(o, &d->report);
    d->report.replayed = o->replayed;
    d->reject = XR_OK;
    idem_done(g, o->gw_entry);
    if (o->recovered) {
        /* Reconciled after a restart: no command waits for it (the bank reads it with
         * ORDER_STATUS, or gets it replayed by resending the key). */
        XR_ASSERT(g->recovering > 0);
        g->recovering--;
        if (cancel) {
            ev_header(&m, &o->cmd, XR_ENGINE_EV_EXEC_REPORT);
            m.u.ev.correlation_id = cancel_corr;
            m.u.ev.u.report = d->report;
            xr_eng_port_send(&g->egress, &m);
        }
        return;
    }
    ev_header(&m, &o->cmd, XR_ENGINE_EV_EXEC_REPORT);
    m.u.ev.u.report = d->report;
    xr_eng_port_send(&g->egress, &m);
    if (cancel) {
        m.u.ev.correlation_id = cancel_corr; /* the CANCEL's answer: the final report */
        xr_eng_port_send(&g->egress, &m);
    }
}

static void customer_back(xr_eng_gateway *g, const xr_eng_req *r)
{
    XR_ASSERT(r->cust_no >= 1 && r->cust_no <= g->ncust);
    cust_entry *c = &g->cust[r->cust_no - 1];
    if (r->err != XR_OK) {
        c->state = CUST_FAILED;
        reject(g, &r->cmd, r->err);
        return;
    }
    c->state = CUST_ACTIVE;
    xr_eng_msg m;
    ev_header(&m, &r->cmd, XR_ENGINE_EV_CUSTOMER);
    m.u.ev.u.customer.kyc_tier = c->tier;
    m.u.ev.u.customer.created = r->created;
    xr_eng_port_send(&g->egress, &m);
}

xr_err xr_eng_gateway_poll(xr_eng_gateway *g, bool *work)
{
    xr_eng_port_flush(&g->egress);
    xr_eng_port_flush(&g->to_pricing);
    xr_eng_port_flush(&g->to_ledger);
    /* Answers first (they free idempotency entries and order slots), then new commands.
     * An answer needs only egress (and, from the ledger, one message of to_pricing's reserve
     * for a firm quote's release): never room that new commands use, so a full to_pricing or
     * to_ledger cannot stop the answers that drain the stages behind them (no cycle of full
     * ports, engine_internal.h "Back-pressure"). A command needs room beyond the reserve, and
     * a NEW_ORDER a free order slot (orders_live < orders_max). */
    const uint32_t reserve = g->sh->cfg.orders_max;
    for (int src = 2; src >= 0; src--) {
        for (;;) {
            if (!xr_eng_port_room(&g->egress, 2))
                return XR_OK;
            if (src == 2 && !xr_eng_port_room(&g->to_pricing, 1))
                break;
            if (src == 0 && (!xr_eng_port_room(&g->to_pricing, reserve + 1) ||
                             !xr_eng_port_room(&g->to_ledger, 1)))
                return XR_OK;
            const xr_eng_msg *m = xr_spsc_ring_peek(g->in[src]);
            if (m == NULL)
                break;
            if (src == 0 && m->type == XR_ENG_M_CMD &&
                m->u.req.cmd.kind == XR_ENGINE_CMD_NEW_ORDER &&
                g->orders_live >= g->sh->cfg.orders_max && g->orders_open < g->orders_live) {
                /* No order slot: it waits in ingress until a live order ends (one that is
                 * not resting will); back-pressure reaches xr_engine_submit. */
                xr_spsc_ring_release(g->in[src], 0);
                return XR_OK;
            }
            *work = true;
            switch (m->type) {
            case XR_ENG_M_CMD:
                XR_ASSERT(src == 0);
                command(g, &m->u.req.cmd);
                break;
            case XR_ENG_M_EVT:
                xr_eng_port_send(&g->egress, m);
                break;
            case XR_ENG_M_ORDER:
                order_back(g, &m->u.order, src == 2);
                break;
            case XR_ENG_M_CUSTOMER:
                customer_back(g, &m->u.req);
                break;
            default:
                return XR_ERR_INTERNAL;
            }
            xr_spsc_ring_release(g->in[src], 1);
        }
    }
    return XR_OK;
}

void xr_eng_gateway_load_customer(xr_eng_gateway *g, uint32_t bank, uint64_t customer,
                                  uint64_t cust_no, uint8_t tier)
{
    XR_ASSERT(cust_no >= 1 && cust_no <= g->sh->cfg.customers_max);
    uint64_t no;
    XR_ASSERT(cust_find(g, bank, customer, &no) == NULL);
    uint32_t i = (uint32_t)mix(customer ^ ((uint64_t)bank << 40)) & g->cust_mask;
    while (g->cust_index[i] != 0)
        i = (i + 1) & g->cust_mask;
    g->cust_index[i] = (uint32_t)cust_no;
    cust_entry *c = &g->cust[cust_no - 1];
    c->bank = bank;
    c->customer = customer;
    c->state = CUST_ACTIVE;
    c->tier = tier;
    if (cust_no > g->ncust)
        g->ncust = (uint32_t)cust_no; /* numbers of failed registrations stay unused */
}

xr_err xr_eng_gateway_load_order(xr_eng_gateway *g, xr_eng_order *o)
{
    uint32_t entry = idem_alloc(g);
    if (entry == UINT32_MAX)
        return XR_ERR_NO_MEMORY;
    const xr_engine_order_cmd *oc = &o->cmd.u.order;
    uint32_t slot = idem_slot(g, o->cmd.bank_id, &oc->key);
    XR_ASSERT(g->idem_index[slot] == 0);
    idem_entry *d = &g->idem[entry];
    memset(d, 0, sizeof *d);
    d->bank = o->cmd.bank_id;
    d->customer = o->cmd.customer_id;
    d->order = *oc;
    g->idem_index[slot] = entry + 1;
    o->gw_entry = entry;
    if (o->phase == XR_ENG_PH_DONE) {
        xr_eng_report_from_order(o, &d->report);
        idem_done(g, entry);
    } else {
        d->state = IDEM_IN_FLIGHT;
        g->recovering++;
        g->orders_live++;
    }
    return XR_OK;
}

static uint32_t pow2_at_least(uint64_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

xr_err xr_eng_gateway_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_gateway **out)
{
    xr_eng_gateway *g = xr_eng_alloc(sizeof *g);
    if (g == NULL)
        return XR_ERR_NO_MEMORY;
    *out = g;
    g->sh = sh;
    g->in[0] = r->ingress;
    g->in[1] = r->pricing_gw;
    g->in[2] = r->ledger_gw;
    uint32_t cm = pow2_at_least(2ull * sh->cfg.customers_max);
    uint32_t im = 2 * sh->cfg.idempotency_max;
    g->cust = xr_eng_alloc(sizeof *g->cust * sh->cfg.customers_max);
    g->cust_index = xr_eng_alloc(sizeof *g->cust_index * cm);
    g->cust_mask = cm - 1;
    g->idem = xr_eng_alloc(sizeof *g->idem * sh->cfg.idempotency_max);
    g->idem_index = xr_eng_alloc(sizeof *g->idem_index * im);
    g->idem_mask = im - 1;
    g->idem_free = xr_eng_alloc(sizeof *g->idem_free * sh->cfg.idempotency_max);
    g->done_fifo = xr_eng_alloc(sizeof *g->done_fifo * sh->cfg.idempotency_max);
    if (g->cust == NULL || g->cust_index == NULL || g->idem == NULL || g->idem_index == NULL ||
        g->idem_free == NULL || g->done_fifo == NULL)
        return XR_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < sh->cfg.idempotency_max; i++)
        g->idem_free[g->nfree++] = sh->cfg.idempotency_max - 1 - i;
    if (xr_eng_port_init(&g->egress, r->egress, XR_ENG_OUTBOX_SMALL) != XR_OK ||
        xr_eng_port_init(&g->to_pricing, r->gw_pricing, XR_ENG_OUTBOX_SMALL + sh->cfg.orders_max) !=
            XR_OK ||
        xr_eng_port_init(&g->to_ledger, r->gw_ledger, XR_ENG_OUTBOX_SMALL) != XR_OK)
        return XR_ERR_NO_MEMORY;
    return XR_OK;
}

void xr_eng_gateway_destroy(xr_eng_gateway *g)
{
    if (g == NULL)
        return;
    xr_eng_port_fini(&g->egress);
    xr_eng_port_fini(&g->to_pricing);
    xr_eng_port_fini(&g->to_ledger);
    xr_eng_free(g->cust);
    xr_eng_free(g->cust_index);
    xr_eng_free(g->idem);
    xr_eng_free(g->idem_index);
    xr_eng_free(g->idem_free);
    xr_eng_free(g->done_fifo);
    xr_eng_free(g);
}
