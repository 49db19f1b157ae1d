/*
 * Ledger stage: the only writer of the ledger. It gathers what the other stages ask for
 * (customer accounts, funding, reservations, the booking of filled orders) into one batch,
 * applies it with one durable commit (group commit) and only then answers each request.
 * The legs it books are those of docs/ledger.md ("The legs of a trade"); the amounts come
 * computed from the router (stage_router.c), rounded as docs/ledger.md ("Rounding") says.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"

#define PEND_MAX     256u /* requests per batch */
#define OPS_PER_BOOK (1u + 4u * XR_ENG_LEGS_MAX + 2u)

typedef struct pending {
    xr_eng_msg msg;
    uint32_t op0, nops;
} pending;

struct xr_eng_ledger {
    const xr_eng_shared *sh;
    xr_ledger *lg;
    xr_spsc_ring *in[3]; /* gw_ledger, pricing_ledger, router_ledger: taken in this order */
    xr_eng_port to_gw, to_router;
    uint32_t ops_max;
    pending *pend;
    xr_ledger_op *ops;
    xr_ledger_result *res;
};

/* ---- accounts ----------------------------------------------------------------------------- */

static uint64_t customer_acct(uint64_t cust_no, uint16_t asset)
{
    return xr_eng_account_id(XR_LEDGER_KIND_CUSTOMER, cust_no, asset);
}

static xr_ledger_op *op_new(xr_eng_ledger *l, uint32_t *n)
{
    XR_ASSERT(*n < l->ops_max);
    xr_ledger_op *op = &l->ops[(*n)++];
    memset(op, 0, sizeof *op);
    return op;
}

static void op_create(xr_ledger_op *op, uint64_t id, const xr_asset *a, unsigned kind,
                      uint64_t bank, uint64_t owner)
{
    op->kind = XR_LEDGER_OP_CREATE_ACCOUNT;
    op->id = xr_eng_account_op_id(id);
    op->account.id = id;
    memcpy(op->account.asset, a->code, sizeof op->account.asset);
    op->account.kind = (uint8_t)kind;
    op->account.flags = kind == XR_LEDGER_KIND_CUSTOMER ? 0 : XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE;
    op->account.bank_id = bank;
    op->account.owner_id = owner;
}

/* The system accounts of every bank and venue, in every asset of the engine. Ids and op ids
 * are deterministic, so opening again replays these ops and creates nothing. */
static xr_err create_system_accounts(xr_eng_ledger *l)
{
    const xr_eng_shared *sh = l->sh;
    uint32_t n = 0;
    xr_err err = XR_OK;
    for (uint32_t pass = 0; pass < 2; pass++) {
        uint32_t owners = pass == 0 ? sh->cfg.nbanks : sh->cfg.nvenues;
        for (uint32_t o = 0; o < owners; o++) {
            static const unsigned bank_kinds[] = {XR_LEDGER_KIND_BANK_OMNIBUS,
                                                  XR_LEDGER_KIND_SPREAD_REVENUE,
                                                  XR_LEDGER_KIND_BANK_FUNDING};
            static const unsigned venue_kinds[] = {XR_LEDGER_KIND_VENUE_POSITION,
                                                   XR_LEDGER_KIND_FEES};
            const unsigned *kinds = pass == 0 ? bank_kinds : venue_kinds;
            uint32_t nk = pass == 0 ? 3 : 2;
            uint64_t owner = pass == 0 ? sh->cfg.banks[o].id : o;
            for (uint32_t k = 0; k < nk; k++)
                for (uint32_t a = 0; a < sh->nassets; a++) {
                    if (n == l->ops_max) {
                        if ((err = xr_ledger_execute(l->lg, l->ops, n, l->res)) != XR_OK)
                            return err;
                        for (uint32_t i = 0; i < n; i++)
                            if (l->res[i].err != XR_OK)
                                return l->res[i].err;
                        n = 0;
                    }
                    uint16_t asset = sh->asset_ids[a];
                    op_create(op_new(l, &n), xr_eng_account_id(kinds[k], owner, asset),
                              xr_eng_asset(sh, asset), kinds[k], pass == 0 ? owner : 0,
                              pass == 0 ? 0 : owner);
                }
        }
    }
    if (n > 0 && (err = xr_ledger_execute(l->lg, l->ops, n, l->res)) == XR_OK)
        for (uint32_t i = 0; i < n; i++)
            if (l->res[i].err != XR_OK)
                return l->res[i].err;
    return err;
}

/* ---- building ops --------------------------------------------------------------------------- */

static void transfer(xr_eng_ledger *l, uint32_t *n, xr_ledger_id id, uint64_t debit,
                     uint64_t credit, xr_amount amount)
{
    if (amount.units == 0)
        return; /* a zero leg is not booked (the ledger refuses amounts <= 0) */
    xr_ledger_op *op = op_new(l, n);
    op->id = id;
    op->kind = XR_LEDGER_OP_TRANSFER;
    op->flags = XR_LEDGER_OP_LINKED;
    op->debit_account_id = debit;
    op->credit_account_id = credit;
    op->amount = amount;
}

/* The booking of a filled order: one linked group (docs/ledger.md, "The legs of a trade"). */
static void book_filled(xr_eng_ledger *l, const xr_eng_order *o, uint32_t *n)
{
    const uint32_t bank = o->cmd.bank_id;
    const xr_engine_key *key = &o->cmd.u.order.key;
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    const uint16_t B = o->base_asset, Q = o->quote_asset;
    uint32_t seq = 1, first = *n;
    xr_ledger_op *post = op_new(l, n);
    post->id = xr_eng_op_id(bank, key, seq++);
    post->kind = XR_LEDGER_OP_POST;
    post->flags = XR_LEDGER_OP_LINKED;
    post->pending_id = o->reserve_id;
    post->amount = buy ? o->quote : o->filled; /* what the customer gives; the rest is released */
    uint64_t omni_b = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, B);
    uint64_t omni_q = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, Q);
    for (uint32_t i = 0; i < o->n_legs; i++) {
        const xr_eng_leg *g = &o->legs[i];
        if (g->filled.units == 0)
            continue;
        uint64_t pos_b = xr_eng_account_id(XR_LEDGER_KIND_VENUE_POSITION, g->venue, B);
        uint64_t pos_q = xr_eng_account_id(XR_LEDGER_KIND_VENUE_POSITION, g->venue, Q);
        uint64_t fee_q = xr_eng_account_id(XR_LEDGER_KIND_FEES, g->venue, Q);
        if (buy) {
            transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, pos_q, g->notional);
            transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, fee_q, g->fee);
            transfer(l, n, xr_eng_op_id(bank, key, seq++), pos_b, omni_b, g->filled);
        } else {
            transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_b, pos_b, g->filled);
            transfer(l, n, xr_eng_op_id(bank, key, seq++), pos_q, omni_q, g->notional);
            transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, fee_q, g->fee);
        }
        /* The venue's own fee, in the asset it charged (Binance: the asset received), is
         * settled against the position at once, so the position is what the venue holds. */
        if (g->fee_in != 0) {
            uint16_t fa = g->fee_in == 1 ? B : Q;
            transfer(l, n, xr_eng_op_id(bank, key, seq++),
                     xr_eng_account_id(XR_LEDGER_KIND_FEES, g->venue, fa),
                     xr_eng_account_id(XR_LEDGER_KIND_VENUE_POSITION, g->venue, fa), g->venue_fee);
        }
    }
    transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q,
             xr_eng_account_id(XR_LEDGER_KIND_SPREAD_REVENUE, bank, Q), o->spread);
    if (buy)
        transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_b, customer_acct(o->cust_no, B),
                 o->filled);
    else
        transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, customer_acct(o->cust_no, Q),
                 o->quote);
    XR_ASSERT(*n - first <= OPS_PER_BOOK);
    l->ops[*n - 1].flags = 0; /* the group ends here */
}

static int asset_of(const xr_eng_shared *sh, const char *code, uint16_t *id)
{
    char buf[XR_ASSET_CODE_MAX + 1];
    memcpy(buf, code, sizeof buf);
    buf[XR_ASSET_CODE_MAX] = '\0';
    const xr_asset *a = xr_assets_find(&sh->assets, buf);
    if (a == NULL)
        return -1;
    for (uint32_t i = 0; i < sh->nassets; i++)
        if (sh->asset_ids[i] == a->id) {
            *id = a->id;
            return 0;
        }
    return -1;
}

/* Ops a request needs (an upper bound), or 0 for none. */
static uint32_t ops_needed(const xr_eng_ledger *l, const xr_eng_msg *m)
{
    if (m->type == XR_ENG_M_ORDER)
        return m->u.order.phase == XR_ENG_PH_BOOK ? OPS_PER_BOOK : 1;
    switch (m->u.req.cmd.kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        return l->sh->nassets;
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
        return 1;
    default:
        return 0;
    }
}

/* Adds the ops of one request; sets p->op0 / p->nops. A request refused before any op is
 * answered with nops = 0 and the error kept in res of its own (see answer()). */
static xr_err build(xr_eng_ledger *l, pending *p, uint32_t *n)
{
    p->op0 = *n;
    const xr_eng_shared *sh = l->sh;
    xr_eng_msg *m = &p->msg;
    if (m->type == XR_ENG_M_ORDER) {
        xr_eng_order *o = &m->u.order;
        const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
        if (o->phase == XR_ENG_PH_RESERVE) {
            uint16_t src = buy ? o->quote_asset : o->base_asset;
            o->reserve_id = xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key, 0);
            xr_ledger_op *op = op_new(l, n);
            op->id = o->reserve_id;
            op->kind = XR_LEDGER_OP_RESERVE;
            op->debit_account_id = customer_acct(o->cust_no, src);
            op->credit_account_id =
                xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, o->cmd.bank_id, src);
            op->amount = o->reserve;
        } else {
            XR_ASSERT(o->phase == XR_ENG_PH_BOOK);
            if (o->filled.units == 0) {
                xr_ledger_op *op = op_new(l, n);
                op->id = xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key, 1);
                op->kind = XR_LEDGER_OP_VOID;
                op->pending_id = o->reserve_id;
            } else {
                book_filled(l, o, n);
            }
        }
    } else {
        const xr_eng_req *r = &m->u.req;
        const xr_engine_cmd *c = &r->cmd;
        switch (c->kind) {
        case XR_ENGINE_CMD_CUSTOMER_UPSERT:
            for (uint32_t a = 0; a < sh->nassets; a++) {
                uint16_t asset = sh->asset_ids[a];
                xr_ledger_op *op = op_new(l, n);
                op_create(op, customer_acct(r->cust_no, asset), xr_eng_asset(sh, asset),
                          XR_LEDGER_KIND_CUSTOMER, c->bank_id, c->customer_id);
                op->flags = a + 1 < sh->nassets ? XR_LEDGER_OP_LINKED : 0;
            }
            break;
        case XR_ENGINE_CMD_FUND:
        case XR_ENGINE_CMD_DEFUND: {
            uint16_t asset;
            if (asset_of(sh, c->u.fund.asset, &asset) != 0)
                return XR_ERR_UNKNOWN_ASSET;
            bool zero = true;
            for (int i = 0; i < 16; i++)
                zero = zero && c->u.fund.key.bytes[i] == 0;
            if (zero)
                return XR_ERR_INVALID_ARGUMENT;
            uint64_t cust = customer_acct(r->cust_no, asset);
            uint64_t fund = xr_eng_account_id(XR_LEDGER_KIND_BANK_FUNDING, c->bank_id, asset);
            xr_ledger_op *op = op_new(l, n);
            op->id = xr_eng_op_id(c->bank_id, &c->u.fund.key, 0);
            op->kind = XR_LEDGER_OP_TRANSFER;
            op->debit_account_id = c->kind == XR_ENGINE_CMD_FUND ? fund : cust;
            op->credit_account_id = c->kind == XR_ENGINE_CMD_FUND ? cust : fund;
            op->amount = c->u.fund.amount;
            break;
        }
        default:
            break;
        }
    }
    p->nops = *n - p->op0;
    return XR_OK;
}

/* ---- answers -------------------------------------------------------------------------------- */

static void ev_header(xr_eng_msg *m, const xr_engine_cmd *cmd, xr_engine_event_kind kind)
{
    memset(m, 0, sizeof *m);
    m->type = XR_ENG_M_EVT;
    m->u.ev.kind = (uint8_t)kind;
    m->u.ev.bank_id = cmd->bank_id;
    m->u.ev.correlation_id = cmd->correlation_id;
    m->u.ev.customer_id = cmd->customer_id;
}

static void answer_balances(xr_eng_ledger *l, const xr_eng_req *r)
{
    xr_eng_msg m;
    ev_header(&m, &r->cmd, XR_ENGINE_EV_BALANCES);
    xr_engine_balances_ev *b = &m.u.ev.u.balances;
    for (uint32_t a = 0; a < l->sh->nassets; a++) {
        xr_ledger_account acc;
        xr_err err =
            xr_ledger_account_get(l->lg, customer_acct(r->cust_no, l->sh->asset_ids[a]), &acc);
        if (err != XR_OK) {
            xr_eng_reject(&m, &r->cmd, err);
            break;
        }
        xr_engine_balance *e = &b->items[b->n++];
        memcpy(e->asset, acc.asset, sizeof e->asset);
        e->scale = acc.scale;
        e->balance = xr_ledger_account_balance(&acc);
        e->available = xr_ledger_account_available(&acc);
        e->reserved = xr_ledger_account_reserved(&acc);
    }
    xr_eng_port_send(&l->to_gw, &m);
}

static void answer(xr_eng_ledger *l, pending *p, xr_err pre)
{
    xr_eng_msg out;
    xr_eng_msg *m = &p->msg;
    const xr_ledger_result *res = p->nops > 0 ? &l->res[p->op0] : NULL;
    xr_err err = pre != XR_OK ? pre : res != NULL ? res->err : XR_OK;
    if (m->type == XR_ENG_M_ORDER) {
        xr_eng_order *o = &m->u.order;
        out = *m;
        xr_eng_order *oo = &out.u.order;
        if (o->phase == XR_ENG_PH_RESERVE) {
            if (err == XR_OK && res->replayed)
                err = XR_ERR_INVALID_STATE; /* reserved before a restart: never route twice */
            if (err != XR_OK) {
                oo->phase = XR_ENG_PH_REJECTED;
                oo->err = err;
                oo->status = XR_ENGINE_ORDER_FAILED;
                xr_eng_port_send(&l->to_gw, &out);
            } else {
                oo->phase = XR_ENG_PH_ROUTE;
                oo->status = XR_ENGINE_ORDER_OPEN;
                xr_eng_port_send(&l->to_router, &out);
            }
            return;
        }
        if (err != XR_OK) {
            /* Fills happened and could not be booked: the reservation stays held, the order
             * is reported with the ledger's error for reconciliation. */
            xr_log_line ll;
            xr_log_begin(&ll, XR_LOG_ERROR, "engine", "booking_failed");
            xr_log_u64(&ll, "bank", o->cmd.bank_id);
            xr_log_u64(&ll, "customer", o->cmd.customer_id);
            xr_log_err(&ll, err);
            xr_log_end(&ll);
            oo->err = err;
        }
        oo->phase = XR_ENG_PH_DONE;
        oo->booked_ns = res->timestamp_ns;
        xr_eng_port_send(&l->to_gw, &out);
        return;
    }
    const xr_eng_req *r = &m->u.req;
    switch (r->cmd.kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        out = *m;
        out.type = XR_ENG_M_CUSTOMER;
        out.u.req.err = err;
        out.u.req.created = (uint8_t)(err == XR_OK && !res->replayed);
        xr_eng_port_send(&l->to_gw, &out);
        return;
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
        if (err != XR_OK) {
            xr_eng_reject(&out, &r->cmd, err);
        } else {
            ev_header(&out, &r->cmd, XR_ENGINE_EV_FUNDING);
            xr_engine_funding_ev *f = &out.u.ev.u.funding;
            uint16_t asset = 0;
            (void)asset_of(l->sh, r->cmd.u.fund.asset, &asset);
            memcpy(f->asset, xr_eng_asset(l->sh, asset)->code, sizeof f->asset);
            f->scale = xr_eng_asset(l->sh, asset)->scale;
            f->replayed = res->replayed;
            f->amount = res->amount;
        }
        xr_eng_port_send(&l->to_gw, &out);
        return;
    case XR_ENGINE_CMD_BALANCES:
        answer_balances(l, r);
        return;
    default:
        xr_eng_reject(&out, &r->cmd, XR_ERR_INTERNAL);
        xr_eng_port_send(&l->to_gw, &out);
        return;
    }
}

xr_err xr_eng_ledger_poll(xr_eng_ledger *l, bool *work)
{
    xr_eng_port_flush(&l->to_gw);
    xr_eng_port_flush(&l->to_router);
    /* A batch starts only when every answer of the last one has left (each request has at
     * most one answer, so an empty outbox of PEND_MAX always has room). */
    if (!xr_eng_port_room(&l->to_gw, PEND_MAX) || !xr_eng_port_room(&l->to_router, PEND_MAX))
        return XR_OK;
    uint32_t np = 0, n = 0;
    xr_err pre[PEND_MAX];
    for (int src = 0; src < 3; src++) {
        while (np < PEND_MAX) {
            const xr_eng_msg *m = xr_spsc_ring_peek(l->in[src]);
            if (m == NULL)
                break;
            if (n + ops_needed(l, m) > l->ops_max)
                goto full;
            pending *p = &l->pend[np];
            p->msg = *m;
            xr_spsc_ring_release(l->in[src], 1);
            pre[np] = build(l, p, &n);
            np++;
        }
    }
full:
    if (np == 0)
        return XR_OK;
    *work = true;
    if (n > 0) {
        xr_err err = xr_ledger_execute(l->lg, l->ops, n, l->res);
        if (err != XR_OK) {
            xr_log_line ll;
            xr_log_begin(&ll, XR_LOG_ERROR, "engine", "ledger_batch_failed");
            xr_log_u64(&ll, "ops", n);
            xr_log_err(&ll, err);
            xr_log_end(&ll);
        }
    }
    for (uint32_t i = 0; i < np; i++)
        answer(l, &l->pend[i], pre[i]);
    return XR_OK;
}

xr_err xr_eng_ledger_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_ledger **out)
{
    xr_eng_ledger *l = xr_eng_alloc(sizeof *l);
    if (l == NULL)
        return XR_ERR_NO_MEMORY;
    *out = l;
    l->sh = sh;
    l->in[0] = r->gw_ledger;
    l->in[1] = r->pricing_ledger;
    l->in[2] = r->router_ledger;
    l->ops_max = sh->cfg.ledger_batch_max;
    if (l->ops_max < OPS_PER_BOOK || l->ops_max < sh->nassets)
        return XR_ERR_INVALID_ARGUMENT;
    l->pend = xr_eng_alloc(sizeof *l->pend * PEND_MAX);
    l->ops = xr_eng_alloc(sizeof *l->ops * l->ops_max);
    l->res = xr_eng_alloc(sizeof *l->res * l->ops_max);
    if (l->pend == NULL || l->ops == NULL || l->res == NULL)
        return XR_ERR_NO_MEMORY;
    if (xr_eng_port_init(&l->to_gw, r->ledger_gw, PEND_MAX) != XR_OK ||
        xr_eng_port_init(&l->to_router, r->ledger_router, PEND_MAX) != XR_OK)
        return XR_ERR_NO_MEMORY;
    if (mkdir(sh->cfg.data_dir, 0750) != 0 && errno != EEXIST)
        return XR_ERR_IO;
    char dir[XR_ENGINE_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/ledger", sh->cfg.data_dir);
    xr_ledger_config lc = {.dir = dir, .max_batch_ops = l->ops_max, .assets = &sh->assets};
    xr_err err = xr_ledger_open(&lc, &l->lg);
    if (err != XR_OK)
        return err;
    return create_system_accounts(l);
}

void xr_eng_ledger_destroy(xr_eng_ledger *l)
{
    if (l == NULL)
        return;
    xr_ledger_close(l->lg);
    xr_eng_port_fini(&l->to_gw);
    xr_eng_port_fini(&l->to_router);
    xr_eng_free(l->pend);
    xr_eng_free(l->ops);
    xr_eng_free(l->res);
    xr_eng_free(l);
}
