/*
 * Ledger stage: the only writer of the ledger. It gathers what the other stages ask for
 * (customer accounts, funding, reservations, the booking of filled orders) into one batch,
 * applies it with one durable commit (group commit) and only then answers each request.
 * The legs it books are those of docs/ledger.md ("The legs of a trade"); the amounts come
 * computed from the router (stage_router.c), rounded as docs/ledger.md ("Rounding") says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"

#define PEND_MAX     256u /* requests per batch */
#define OPS_PER_BOOK (1u + 4u * XR_ENG_LEGS_MAX + 3u)
#define NS_PER_DAY   (86400ll * 1000000000ll)

typedef struct pending {
    xr_eng_msg msg;
    uint32_t op0, nops;
    uint8_t capped; /* RESERVE: its notional was counted against the daily cap */
} pending;

/* A customer's notional of one UTC day in one quote asset (docs/ledger.md, "Daily notional
 * caps"): derived from the order store at start-up, kept up to date by every reservation and
 * booking. */
typedef struct cap_ctr {
    int64_t day; /* UTC day (wall ns / NS_PER_DAY) that `used` counts */
    xr_i128 used;
} cap_ctr;

/* The order-store records one request writes with its ops (docs/ledger.md, "Order store"). */
typedef struct aux_buf {
    uint8_t okey[XR_ENG_ORDER_KEY_LEN];
    uint8_t lkey[XR_ENG_LIST_KEY_LEN];
    uint8_t ckey[XR_ENG_CUST_KEY_LEN];
    uint8_t cval[XR_ENG_CUST_VAL_LEN];
    uint8_t rec[XR_ENG_REC_MAX];
} aux_buf;

struct xr_eng_ledger {
    const xr_eng_shared *sh;
    xr_ledger *lg;
    xr_spsc_ring *in[3]; /* gw_ledger, pricing_ledger, router_ledger: taken in this order */
    xr_eng_port to_gw, to_router;
    uint32_t ops_max;
    pending *pend;
    xr_ledger_op *ops;
    xr_ledger_result *res;
    aux_buf *abuf;          /* one per pending request */
    xr_ledger_aux_put *aux; /* 2 per pending request at most */
    uint32_t naux;
    xr_err batch_err;      /* the last commit's own result (aux writes have no op result) */
    uint64_t next_seq;     /* the order store's next serial */
    xr_eng_order *backlog; /* recovered orders not yet handed to the router */
    uint32_t nbacklog, backlog_head;
    cap_ctr *caps;                            /* [(cust_no - 1) * nassets + asset index] */
    uint16_t cap_asset[XR_ENGINE_LIMITS_MAX]; /* registry id of each limit's asset */
    xr_eng_conv *conv_backlog; /* recovered conversions not yet handed to the router */
    uint32_t nconv_backlog, conv_backlog_head;
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
    /* Each bank's quote P&L account per asset (firm quotes, docs/ledger.md). */
    for (uint32_t b = 0; b < sh->cfg.nbanks; b++)
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
            op_create(op_new(l, &n),
                      xr_eng_account_id(XR_ENG_ACCT_QUOTE_PNL, sh->cfg.banks[b].id, asset),
                      xr_eng_asset(sh, asset), XR_LEDGER_KIND_SPREAD_REVENUE, sh->cfg.banks[b].id,
                      XR_ENG_QUOTE_PNL_OWNER);
        }
    if (n > 0 && (err = xr_ledger_execute(l->lg, l->ops, n, l->res)) == XR_OK)
        for (uint32_t i = 0; i < n; i++)
            if (l->res[i].err != XR_OK)
                return l->res[i].err;
    return err;
}

/* ---- daily notional caps ------------------------------------------------------------------ */

int64_t (*xr_eng_wall_clock)(void) = xr_clock_wall_ns;

/* The counter of a customer in the order's quote asset, or NULL (a bad customer number). */
static cap_ctr *cap_at(xr_eng_ledger *l, uint64_t cust_no, uint16_t asset)
{
    const xr_eng_shared *sh = l->sh;
    if (cust_no == 0 || cust_no > sh->cfg.customers_max)
        return NULL;
    for (uint32_t a = 0; a < sh->nassets; a++)
        if (sh->asset_ids[a] == asset)
            return &l->caps[(cust_no - 1) * sh->nassets + a];
    return NULL;
}

/* Adds `v` to the counter of the order's creation day (a counter of an older day starts
 * again at 0: the UTC midnight reset; an amount of an older day than the counter's is
 * dropped, it no longer counts). */
static void cap_add(xr_eng_ledger *l, const xr_eng_order *o, xr_i128 v)
{
    cap_ctr *c = cap_at(l, o->cust_no, o->quote_asset);
    int64_t day = o->created_ns / NS_PER_DAY;
    if (c == NULL || day < c->day)
        return;
    if (day > c->day) {
        c->day = day;
        c->used = 0;
    }
    c->used += v;
}

/* The cap of (bank, tier) in `asset`: the (bank, tier) entry, else (bank, any tier); NULL
 * when none is configured. */
static const xr_engine_limit_config *cap_limit(const xr_eng_ledger *l, uint32_t bank, uint8_t tier,
                                               uint16_t asset)
{
    const xr_engine_limit_config *any = NULL;
    for (uint32_t i = 0; i < l->sh->cfg.nlimits; i++) {
        const xr_engine_limit_config *c = &l->sh->cfg.limits[i];
        if (c->bank_id != bank || l->cap_asset[i] != asset)
            continue;
        if (c->tier == tier)
            return c;
        if (c->tier == XR_ENGINE_ANY_TIER)
            any = c;
    }
    return any;
}

/* Pre-trade: counts the order's notional, or refuses it with LIMIT_EXCEEDED when it would
 * take the customer's day beyond the cap (nothing counted then). */
static xr_err cap_take(xr_eng_ledger *l, const xr_eng_order *o)
{
    const xr_engine_limit_config *lim = cap_limit(l, o->cmd.bank_id, o->tier, o->quote_asset);
    cap_ctr *c = cap_at(l, o->cust_no, o->quote_asset);
    if (c == NULL)
        return XR_ERR_INTERNAL;
    int64_t day = o->created_ns / NS_PER_DAY;
    xr_i128 used = day > c->day ? 0 : c->used;
    if (lim != NULL && used + o->cap_notional.units > lim->daily_notional.units)
        return XR_ERR_LIMIT_EXCEEDED;
    cap_add(l, o, o->cap_notional.units);
    return XR_OK;
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

/* The booking of a filled order, or of a resting order's fills so far: one linked group
 * (docs/ledger.md, "The legs of a trade") over the legs not booked before, ending with the
 * group unless `linked_on` (an interim booking appends its new reservation). Returns the next
 * free op index. */
static uint32_t book_filled(xr_eng_ledger *l, const xr_eng_order *o, uint32_t *n, bool linked_on)
{
    const uint32_t bank = o->cmd.bank_id;
    const xr_engine_key *key = &o->cmd.u.order.key;
    const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
    const uint16_t B = o->base_asset, Q = o->quote_asset;
    uint32_t seq = o->next_op > 0 ? o->next_op : 1, first = *n;
    xr_ledger_op *post = op_new(l, n);
    post->id = xr_eng_op_id(bank, key, seq++);
    post->kind = XR_LEDGER_OP_POST;
    post->flags = XR_LEDGER_OP_LINKED;
    post->pending_id = xr_eng_res_id(o);
    post->amount = buy ? o->g_quote : o->g_filled; /* what the customer gives; the rest is
                                                      released */
    uint64_t omni_b = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, B);
    uint64_t omni_q = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, Q);
    for (uint32_t i = 0; i < o->n_legs; i++) {
        const xr_eng_leg *g = &o->legs[i];
        if (g->filled.units == 0 || g->venue == XR_ENG_VENUE_INTERNAL || ((o->booked >> i) & 1u))
            continue; /* an internal cross has no venue legs: the omnibus is the counterparty */
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
             xr_eng_account_id(XR_LEDGER_KIND_SPREAD_REVENUE, bank, Q), o->g_spread);
    /* Firm quotes and "spend X" buys: the house's price-move result (docs/ledger.md). */
    uint64_t pnl_q = xr_eng_account_id(XR_ENG_ACCT_QUOTE_PNL, bank, Q);
    if (o->pnl.units > 0)
        transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, pnl_q, o->pnl);
    else if (o->pnl.units < 0)
        transfer(l, n, xr_eng_op_id(bank, key, seq++), pnl_q, omni_q, (xr_amount){-o->pnl.units});
    if (buy)
        transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_b, customer_acct(o->cust_no, B),
                 o->g_filled);
    else
        transfer(l, n, xr_eng_op_id(bank, key, seq++), omni_q, customer_acct(o->cust_no, Q),
                 o->g_quote);
    XR_ASSERT(*n - first <= OPS_PER_BOOK);
    if (!linked_on)
        l->ops[*n - 1].flags = 0; /* the group ends here */
    return seq;
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

static void aux_add(xr_eng_ledger *l, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl,
                    uint32_t if_op)
{
    XR_ASSERT(l->naux < 2 * PEND_MAX);
    l->aux[l->naux++] = (xr_ledger_aux_put){k, kl, v, vl, if_op};
}

static void aux_order(xr_eng_ledger *l, pending *p, const xr_eng_order *o, uint32_t if_op,
                      bool list)
{
    aux_buf *b = &l->abuf[p - l->pend];
    uint32_t len = xr_eng_order_encode(o, b->rec);
    xr_eng_order_key(o->cmd.bank_id, &o->cmd.u.order.key, b->okey);
    aux_add(l, b->okey, sizeof b->okey, b->rec, len, if_op);
    if (list) {
        xr_eng_list_key(o->cmd.bank_id, o->cmd.customer_id, o->seq, b->lkey);
        aux_add(l, b->lkey, sizeof b->lkey, o->cmd.u.order.key.bytes, 16, if_op);
    }
}

static void aux_customer(xr_eng_ledger *l, pending *p, const xr_eng_req *r, uint32_t if_op)
{
    aux_buf *b = &l->abuf[p - l->pend];
    xr_eng_cust_key(r->cmd.bank_id, r->cmd.customer_id, b->ckey);
    memcpy(b->cval, &r->cust_no, 8);
    b->cval[8] = r->tier;
    aux_add(l, b->ckey, sizeof b->ckey, b->cval, sizeof b->cval, if_op);
}

/* ---- conversions (core/engine/convert.c) ----------------------------------------------------- */

#define OPS_PER_CONV 4u /* post + 3 legs (docs/ledger.md, "Conversion") */

static void aux_conv(xr_eng_ledger *l, pending *p, const xr_eng_conv *c, uint32_t if_op)
{
    aux_buf *b = &l->abuf[p - l->pend];
    _Static_assert(XR_ENG_CONV_REC_LEN <= XR_ENG_REC_MAX, "a conversion record fits the buffer");
    xr_eng_conv_encode(c, b->rec);
    xr_eng_conv_key(c->cmd.bank_id, &c->cmd.u.convert.key, b->okey);
    aux_add(l, b->okey, sizeof b->okey, b->rec, XR_ENG_CONV_REC_LEN, if_op);
}

/* A new CONVERT: checks, then the reservation of the from amount and the record (phase
 * QUOTE), written only if the reservation is new. The pending message becomes the
 * conversion. */
static xr_err conv_build_new(xr_eng_ledger *l, pending *p, uint32_t *n)
{
    xr_eng_conv c;
    xr_err err = xr_eng_conv_check(l->sh, &p->msg.u.req, &c);
    if (err != XR_OK)
        return err;
    const uint32_t bank = c.cmd.bank_id;
    c.reserve_id = xr_eng_op_id(bank, &c.cmd.u.convert.key, 0);
    c.phase = XR_ENG_CV_QUOTE;
    c.created_ns = xr_clock_wall_ns();
    uint32_t at = *n;
    xr_ledger_op *op = op_new(l, n);
    op->id = c.reserve_id;
    op->kind = XR_LEDGER_OP_RESERVE;
    op->debit_account_id = customer_acct(c.cust_no, c.from_asset);
    op->credit_account_id = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, c.from_asset);
    op->amount = c.cmd.u.convert.amount;
    aux_conv(l, p, &c, at);
    memset(&p->msg, 0, sizeof p->msg);
    p->msg.type = XR_ENG_M_CONV;
    p->msg.u.conv = c;
    return XR_OK;
}

/* A conversion back from its venue: the quote id (durable before the accept is sent), or
 * the result, booked as one linked group (or voided) with the final record. */
static void conv_build(xr_eng_ledger *l, pending *p, uint32_t *n)
{
    xr_eng_conv *c = &p->msg.u.conv;
    const uint32_t bank = c->cmd.bank_id;
    const xr_engine_key *key = &c->cmd.u.convert.key;
    if (c->phase == XR_ENG_CV_QUOTED) {
        c->phase = XR_ENG_CV_ACCEPT;
        aux_conv(l, p, c, XR_LEDGER_NO_INDEX);
        return;
    }
    XR_ASSERT(c->phase == XR_ENG_CV_RESULT);
    uint32_t first = *n;
    if (c->status == 1) {
        const uint16_t F = c->from_asset, T = c->to_asset;
        const xr_amount from = c->cmd.u.convert.amount;
        uint64_t omni_f = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, F);
        uint64_t omni_t = xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, bank, T);
        xr_ledger_op *post = op_new(l, n);
        post->id = xr_eng_op_id(bank, key, 1);
        post->kind = XR_LEDGER_OP_POST;
        post->flags = XR_LEDGER_OP_LINKED;
        post->pending_id = c->reserve_id;
        post->amount = from;
        transfer(l, n, xr_eng_op_id(bank, key, 2), omni_f,
                 xr_eng_account_id(XR_LEDGER_KIND_VENUE_POSITION, c->venue, F), from);
        transfer(l, n, xr_eng_op_id(bank, key, 3),
                 xr_eng_account_id(XR_LEDGER_KIND_VENUE_POSITION, c->venue, T), omni_t,
                 c->to_amount);
        transfer(l, n, xr_eng_op_id(bank, key, 4), omni_t, customer_acct(c->cust_no, T),
                 c->to_amount);
        XR_ASSERT(*n - first <= OPS_PER_CONV);
        l->ops[*n - 1].flags = 0; /* the group ends here */
    } else {
        xr_ledger_op *op = op_new(l, n);
        op->id = xr_eng_op_id(bank, key, 1);
        op->kind = XR_LEDGER_OP_VOID;
        op->pending_id = c->reserve_id;
    }
    c->phase = XR_ENG_CV_DONE;
    c->booked_ns = xr_clock_wall_ns();
    aux_conv(l, p, c, first);
}

/* Reads the stored conversion of (bank, key). XR_OK, XR_ERR_NOT_FOUND or a decode error. */
static xr_err stored_conv(xr_eng_ledger *l, uint32_t bank, const xr_engine_key *key, xr_eng_conv *c)
{
    uint8_t k[XR_ENG_ORDER_KEY_LEN], rec[XR_ENG_CONV_REC_LEN];
    uint32_t len = 0;
    xr_eng_conv_key(bank, key, k);
    xr_err err = xr_ledger_aux_get(l->lg, k, sizeof k, rec, sizeof rec, &len);
    if (err != XR_OK)
        return err;
    return xr_eng_conv_decode(l->sh, rec, len, c);
}

static void conv_answer(xr_eng_ledger *l, pending *p, xr_err err)
{
    xr_eng_conv *c = &p->msg.u.conv;
    xr_eng_msg out;
    const xr_ledger_result *res = p->nops > 0 ? &l->res[p->op0] : NULL;
    if (c->phase == XR_ENG_CV_QUOTE) { /* the reservation of a new CONVERT */
        if (err == XR_OK && res->replayed) {
            /* The key was used before: the stored result when it is the same conversion and
             * final; still in flight: AGAIN. (Another content replays no reservation: the
             * ledger refuses it as IDEMPOTENCY_CONFLICT.) */
            xr_eng_conv st;
            err = stored_conv(l, c->cmd.bank_id, &c->cmd.u.convert.key, &st);
            if (err == XR_OK && (st.cmd.customer_id != c->cmd.customer_id ||
                                 st.from_asset != c->from_asset || st.to_asset != c->to_asset ||
                                 st.cmd.u.convert.amount.units != c->cmd.u.convert.amount.units))
                err = XR_ERR_IDEMPOTENCY_CONFLICT;
            else if (err == XR_OK && st.phase != XR_ENG_CV_DONE)
                err = XR_ERR_AGAIN;
            else if (err == XR_ERR_NOT_FOUND)
                err = XR_ERR_IDEMPOTENCY_CONFLICT; /* the key belongs to an order or a fund */
            if (err == XR_OK) {
                st.cmd = c->cmd;
                memset(&out, 0, sizeof out);
                out.type = XR_ENG_M_EVT;
                xr_eng_conv_report(l->sh, &st, &out.u.ev);
                out.u.ev.u.conversion.replayed = 1;
                xr_eng_port_send(&l->to_gw, &out);
                return;
            }
        }
        if (err != XR_OK) {
            xr_eng_reject(&out, &c->cmd, err);
            xr_eng_port_send(&l->to_gw, &out);
            return;
        }
        out = p->msg; /* reserved durably: get a quote */
        xr_eng_port_send(&l->to_router, &out);
        return;
    }
    if (c->phase == XR_ENG_CV_ACCEPT) {
        out = p->msg;
        if (l->batch_err != XR_OK) {
            /* The quote id is not durable: never accept it; nothing moved, void. */
            out.u.conv.phase = XR_ENG_CV_RESULT;
            out.u.conv.status = 2;
            out.u.conv.err = l->batch_err;
            out.u.conv.to_amount.units = 0;
        }
        xr_eng_port_send(&l->to_router, &out);
        return;
    }
    XR_ASSERT(c->phase == XR_ENG_CV_DONE);
    if (err != XR_OK) {
        /* The venue converted and the booking failed: the reservation stays held and the
         * record keeps its last phase, so the next start-up asks the venue again. */
        xr_log_line ll;
        xr_log_begin(&ll, XR_LOG_ERROR, "engine", "conversion_booking_failed");
        xr_log_u64(&ll, "bank", c->cmd.bank_id);
        xr_log_u64(&ll, "customer", c->cmd.customer_id);
        xr_log_err(&ll, err);
        xr_log_end(&ll);
        c->err = err;
    }
    if (c->recovered)
        return; /* reconciled after a restart: no command waits (resend the key to read it) */
    memset(&out, 0, sizeof out);
    out.type = XR_ENG_M_EVT;
    xr_eng_conv_report(l->sh, c, &out.u.ev);
    xr_eng_port_send(&l->to_gw, &out);
}

/* Ops a request needs (an upper bound), or 0 for none. */
static uint32_t ops_needed(const xr_eng_ledger *l, const xr_eng_msg *m)
{
    if (m->type == XR_ENG_M_CONV)
        return m->u.conv.phase == XR_ENG_CV_RESULT ? OPS_PER_CONV : 0;
    if (m->type == XR_ENG_M_ORDER)
        return m->u.order.phase == XR_ENG_PH_BOOK      ? OPS_PER_BOOK
               : m->u.order.phase == XR_ENG_PH_PART    ? OPS_PER_BOOK + 1
               : m->u.order.phase == XR_ENG_PH_REROUTE ? 0
                                                       : 1;
    switch (m->u.req.cmd.kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        return l->sh->nassets;
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
    case XR_ENGINE_CMD_CONVERT:
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
    p->capped = 0;
    const xr_eng_shared *sh = l->sh;
    xr_eng_msg *m = &p->msg;
    if (m->type == XR_ENG_M_CONV ||
        (m->type == XR_ENG_M_CMD && m->u.req.cmd.kind == XR_ENGINE_CMD_CONVERT)) {
        xr_err err = XR_OK;
        if (m->type == XR_ENG_M_CMD)
            err = conv_build_new(l, p, n);
        else
            conv_build(l, p, n);
        p->nops = *n - p->op0;
        return err;
    }
    if (m->type == XR_ENG_M_ORDER) {
        xr_eng_order *o = &m->u.order;
        const bool buy = o->cmd.u.order.side == XR_ENGINE_BUY;
        if (o->phase == XR_ENG_PH_RESERVE) {
            uint16_t src = buy ? o->quote_asset : o->base_asset;
            /* Pre-trade: the KYC tier's daily notional cap, counted in this batch (a later
             * order of the same customer in the batch sees it). */
            o->created_ns = xr_eng_wall_clock();
            xr_err cerr = cap_take(l, o);
            if (cerr != XR_OK) {
                p->nops = 0;
                return cerr;
            }
            p->capped = 1;
            o->reserve_id = xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key, 0);
            xr_ledger_op *op = op_new(l, n);
            op->id = o->reserve_id;
            op->kind = XR_LEDGER_OP_RESERVE;
            op->debit_account_id = customer_acct(o->cust_no, src);
            op->credit_account_id =
                xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, o->cmd.bank_id, src);
            op->amount = o->reserve;
            /* The order record is written in the same commit, only if the reservation is
             * new: a reservation never exists without its order, nor an order without it. */
            o->seq = l->next_seq++;
            o->status = XR_ENGINE_ORDER_OPEN; /* as stored: RESERVED (PENDING -> OPEN) */
            aux_order(l, p, o, p->op0, true);
            o->status = XR_ENGINE_ORDER_PENDING;
        } else if (o->phase == XR_ENG_PH_REROUTE) {
            /* Failover: the record with its new children, written in this commit before any
             * of them is sent, like the first ones. No ledger op goes with it (the
             * reservation already covers them): an unconditional aux write. */
            if (o->n_legs > o->n_sent)
                aux_order(l, p, o, XR_LEDGER_NO_INDEX, false);
        } else if (o->phase == XR_ENG_PH_PART) {
            /* Interim booking of a resting order (stage_router.c): its fills so far in one
             * linked group whose post releases the rest of the reservation and whose last op
             * reserves that rest again under the next op index; the record, with every leg
             * now booked, in the same commit (only if the group applied). */
            uint32_t next = book_filled(l, o, n, true);
            xr_amount rest = o->reserve;
            rest.units -= buy ? o->g_quote.units : o->g_filled.units;
            XR_ASSERT(rest.units > 0 && next < UINT16_MAX);
            uint16_t src = buy ? o->quote_asset : o->base_asset;
            xr_ledger_op *op = op_new(l, n);
            op->id = xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key, next);
            op->kind = XR_LEDGER_OP_RESERVE;
            op->debit_account_id = customer_acct(o->cust_no, src);
            op->credit_account_id =
                xr_eng_account_id(XR_LEDGER_KIND_BANK_OMNIBUS, o->cmd.bank_id, src);
            op->amount = rest;
            o->res_n = (uint16_t)next;
            o->next_op = (uint16_t)(next + 1);
            o->reserve = rest;
            o->booked = (uint8_t)((1u << o->n_legs) - 1u);
            o->booked_ns = xr_clock_wall_ns();
            aux_order(l, p, o, p->op0, false);
        } else {
            XR_ASSERT(o->phase == XR_ENG_PH_BOOK);
            if (o->g_filled.units == 0) {
                xr_ledger_op *op = op_new(l, n);
                op->id = xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key,
                                      o->next_op > 0 ? o->next_op : 1);
                op->kind = XR_LEDGER_OP_VOID;
                op->pending_id = xr_eng_res_id(o);
            } else {
                (void)book_filled(l, o, n, false);
            }
            /* The final order, written with its post group or void (only if they apply). */
            o->booked_ns = xr_clock_wall_ns();
            aux_order(l, p, o, p->op0, false);
        }
    } else {
        const xr_eng_req *r = &m->u.req;
        const xr_engine_cmd *c = &r->cmd;
        switch (c->kind) {
        case XR_ENGINE_CMD_CUSTOMER_UPSERT:
            aux_customer(l, p, r, r->update ? XR_LEDGER_NO_INDEX : *n);
            if (r->update)
                break;
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

/* Reads the stored order of (bank, key). XR_OK, XR_ERR_NOT_FOUND, or a decode error. */
static xr_err stored_order(xr_eng_ledger *l, uint32_t bank, const xr_engine_key *key,
                           xr_eng_order *o)
{
    uint8_t k[XR_ENG_ORDER_KEY_LEN], rec[XR_ENG_REC_MAX];
    uint32_t len = 0;
    xr_eng_order_key(bank, key, k);
    xr_err err = xr_ledger_aux_get(l->lg, k, sizeof k, rec, sizeof rec, &len);
    if (err != XR_OK)
        return err;
    if (len > sizeof rec)
        return XR_ERR_CORRUPT;
    return xr_eng_order_decode(l->sh, rec, len, o);
}

/* A resend whose reservation the ledger already has: answers with the stored report when
 * the stored order is final and has the same content. */
static bool stored_replay(xr_eng_ledger *l, xr_eng_order *o)
{
    xr_eng_order st;
    const xr_engine_order_cmd *a = &o->cmd.u.order, *b = &st.cmd.u.order;
    if (stored_order(l, o->cmd.bank_id, &a->key, &st) != XR_OK || st.phase != XR_ENG_PH_DONE ||
        st.cmd.customer_id != o->cmd.customer_id || strncmp(a->pair, b->pair, sizeof a->pair) ||
        a->side != b->side || a->type != b->type || a->tif != b->tif ||
        a->amount_side != b->amount_side || a->amount.units != b->amount.units ||
        a->limit.ticks != b->limit.ticks || a->expire_ns != b->expire_ns ||
        a->quote_id != b->quote_id)
        return false;
    xr_eng_msg out;
    memset(&out, 0, sizeof out);
    out.type = XR_ENG_M_ORDER;
    xr_eng_order *r = &out.u.order;
    *r = st;
    r->cmd = o->cmd;
    r->gw_entry = o->gw_entry;
    r->replayed = 1;
    r->phase = XR_ENG_PH_DONE;
    xr_eng_port_send(&l->to_gw, &out);
    return true;
}

static void answer_status(xr_eng_ledger *l, const xr_eng_req *r)
{
    xr_eng_msg m;
    xr_eng_order o;
    xr_err err = stored_order(l, r->cmd.bank_id, &r->cmd.u.ref.key, &o);
    if (err == XR_OK && o.cmd.customer_id != r->cmd.customer_id)
        err = XR_ERR_NOT_FOUND; /* another customer's order is not shown */
    if (err != XR_OK) {
        xr_eng_reject(&m, &r->cmd, err);
    } else {
        ev_header(&m, &r->cmd, XR_ENGINE_EV_ORDER);
        xr_eng_order_view(&o, &m.u.ev.u.order);
    }
    xr_eng_port_send(&l->to_gw, &m);
}

typedef struct list_ctx {
    xr_eng_ledger *l;
    const xr_engine_list_orders_cmd *f;
    uint32_t bank, limit;
    xr_engine_order_list_ev *out;
    xr_err err;
} list_ctx;

static int list_one(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                    uint32_t val_len)
{
    list_ctx *c = ctx;
    const xr_engine_list_orders_cmd *f = c->f;
    xr_engine_key k;
    xr_eng_order o;
    (void)key;
    (void)key_len;
    if (val_len != 16) {
        c->err = XR_ERR_CORRUPT;
        return 1;
    }
    memcpy(k.bytes, val, 16);
    if ((c->err = stored_order(c->l, c->bank, &k, &o)) != XR_OK)
        return 1;
    if ((f->status_mask != 0 && (f->status_mask & (1u << o.status)) == 0) ||
        (f->pair[0] != '\0' && strncmp(f->pair, o.cmd.u.order.pair, sizeof f->pair) != 0) ||
        (f->side != 0 && f->side != o.cmd.u.order.side) ||
        (f->type != 0 && f->type != o.cmd.u.order.type) ||
        (f->from_ns != 0 && o.created_ns < f->from_ns) ||
        (f->to_ns != 0 && o.created_ns >= f->to_ns))
        return 0;
    xr_engine_order_summary *s = &c->out->items[c->out->n++];
    xr_eng_report_from_order(&o, &s->report);
    s->type = o.cmd.u.order.type;
    s->seq = o.seq;
    s->created_ns = o.created_ns;
    if (c->out->n == c->limit) {
        c->out->next_cursor = o.seq;
        return 1;
    }
    return 0;
}

static void answer_list(xr_eng_ledger *l, const xr_eng_req *r)
{
    xr_eng_msg m;
    const xr_engine_list_orders_cmd *f = &r->cmd.u.list;
    ev_header(&m, &r->cmd, XR_ENGINE_EV_ORDER_LIST);
    list_ctx c = {l, f, r->cmd.bank_id, f->limit, &m.u.ev.u.order_list, XR_OK};
    if (c.limit == 0 || c.limit > XR_ENGINE_ORDER_LIST_MAX)
        c.limit = XR_ENGINE_ORDER_LIST_MAX;
    /* Newest first: the list keys hold the complemented serial; a cursor is the serial of
     * the last order of the previous page, so the next page starts just below it. */
    uint8_t from[XR_ENG_LIST_KEY_LEN], to[XR_ENG_LIST_KEY_LEN + 1];
    xr_eng_list_key(r->cmd.bank_id, r->cmd.customer_id, f->cursor == 0 ? UINT64_MAX : f->cursor - 1,
                    from);
    memcpy(to, from, 13);
    memset(to + 13, 0xFF, sizeof to - 13);
    xr_err err = f->cursor == 1
                     ? XR_OK
                     : xr_ledger_aux_scan(l->lg, from, sizeof from, to, sizeof to, list_one, &c);
    if (err == XR_OK)
        err = c.err;
    if (err != XR_OK)
        xr_eng_reject(&m, &r->cmd, err);
    xr_eng_port_send(&l->to_gw, &m);
}

static void answer(xr_eng_ledger *l, pending *p, xr_err pre)
{
    xr_eng_msg out;
    xr_eng_msg *m = &p->msg;
    const xr_ledger_result *res = p->nops > 0 ? &l->res[p->op0] : NULL;
    xr_err err = pre != XR_OK ? pre : res != NULL ? res->err : XR_OK;
    if (m->type == XR_ENG_M_CONV) {
        conv_answer(l, p, err);
        return;
    }
    if (m->type == XR_ENG_M_ORDER) {
        xr_eng_order *o = &m->u.order;
        out = *m;
        xr_eng_order *oo = &out.u.order;
        if (o->phase == XR_ENG_PH_PART) {
            /* The router takes the booked state only when the group applied. */
            if (err == XR_OK && res != NULL && res->replayed)
                err = XR_ERR_INVALID_STATE; /* never: op ids are new for each booking */
            oo->err = err;
            if (err != XR_OK) {
                xr_log_line ll;
                xr_log_begin(&ll, XR_LOG_ERROR, "engine", "interim_booking_failed");
                xr_log_u64(&ll, "bank", o->cmd.bank_id);
                xr_log_err(&ll, err);
                xr_log_end(&ll);
            }
            xr_eng_port_send(&l->to_router, &out);
            return;
        }
        if (o->phase == XR_ENG_PH_REROUTE) {
            /* New children only once their record is durable; if the commit failed they are
             * dropped (never sent) and the parent is booked with what it has. */
            if (l->batch_err != XR_OK)
                oo->n_legs = oo->n_sent;
            xr_eng_port_send(&l->to_router, &out);
            return;
        }
        if (o->phase == XR_ENG_PH_RESERVE) {
            /* Counted at pre-trade; given back when the reservation did not happen now. */
            if (p->capped && (err != XR_OK || res->replayed))
                cap_add(l, o, -o->cap_notional.units);
            if (err == XR_OK && res->replayed) {
                /* Reserved before a restart and no longer in the gateway's table: never route
                 * twice; the stored order's report when it is final and the same. */
                if (stored_replay(l, oo))
                    return;
                err = XR_ERR_INVALID_STATE;
            }
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
        } else if (o->phase == XR_ENG_PH_BOOK) {
            /* Booked, finally: the day counts what filled instead of what was planned (once
             * per order: an interim booking of a resting order does not adjust it). */
            cap_add(l, o, o->notional.units - o->cap_notional.units);
        }
        oo->phase = XR_ENG_PH_DONE;
        xr_eng_port_send(&l->to_gw, &out);
        return;
    }
    const xr_eng_req *r = &m->u.req;
    switch (r->cmd.kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        out = *m;
        out.type = XR_ENG_M_CUSTOMER;
        out.u.req.err = err;
        out.u.req.created = (uint8_t)(err == XR_OK && res != NULL && !res->replayed);
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
    case XR_ENGINE_CMD_ORDER_STATUS:
        answer_status(l, r);
        return;
    case XR_ENGINE_CMD_LIST_ORDERS:
        answer_list(l, r);
        return;
    case XR_ENGINE_CMD_CONVERT: /* refused by its checks (else it became XR_ENG_M_CONV) */
        xr_eng_reject(&out, &r->cmd, err != XR_OK ? err : XR_ERR_INTERNAL);
        xr_eng_port_send(&l->to_gw, &out);
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
    /* Recovered orders go to the router first: they were reserved before anything new. */
    while (l->nbacklog > 0 && l->to_router.n == 0) {
        xr_eng_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_ENG_M_ORDER;
        m.u.order = l->backlog[l->backlog_head++];
        l->nbacklog--;
        xr_eng_port_send(&l->to_router, &m);
        *work = true;
    }
    while (l->nconv_backlog > 0 && l->to_router.n == 0) {
        xr_eng_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_ENG_M_CONV;
        m.u.conv = l->conv_backlog[l->conv_backlog_head++];
        l->nconv_backlog--;
        xr_eng_port_send(&l->to_router, &m);
        *work = true;
    }
    uint32_t np = 0, n = 0;
    xr_err pre[PEND_MAX];
    l->naux = 0;
    for (int src = 0; src < 3; src++) {
        while (np < PEND_MAX) {
            const xr_eng_msg *m = xr_spsc_ring_peek(l->in[src]);
            if (m == NULL)
                break;
            if (n + ops_needed(l, m) > l->ops_max) {
                xr_spsc_ring_release(l->in[src], 0); /* not taken: it opens the next batch */
                goto full;
            }
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
    l->batch_err = XR_OK;
    if (n > 0 || l->naux > 0) {
        xr_err err = xr_ledger_execute_aux(l->lg, l->ops, n, l->res, l->aux, l->naux);
        l->batch_err = err;
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
    if (l->ops_max < OPS_PER_BOOK || l->ops_max < OPS_PER_CONV || l->ops_max < sh->nassets)
        return XR_ERR_INVALID_ARGUMENT;
    l->pend = xr_eng_alloc(sizeof *l->pend * PEND_MAX);
    l->ops = xr_eng_alloc(sizeof *l->ops * l->ops_max);
    l->res = xr_eng_alloc(sizeof *l->res * l->ops_max);
    l->abuf = xr_eng_alloc(sizeof *l->abuf * PEND_MAX);
    l->aux = xr_eng_alloc(sizeof *l->aux * 2 * PEND_MAX);
    l->next_seq = 1;
    l->caps =
        xr_eng_alloc(sizeof *l->caps * sh->cfg.customers_max * (sh->nassets ? sh->nassets : 1));
    if (l->pend == NULL || l->ops == NULL || l->res == NULL || l->abuf == NULL || l->aux == NULL ||
        l->caps == NULL)
        return XR_ERR_NO_MEMORY;
    if (sh->cfg.nlimits > XR_ENGINE_LIMITS_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < sh->cfg.nlimits; i++) {
        const xr_engine_limit_config *c = &sh->cfg.limits[i];
        if (xr_eng_find_bank(sh, c->bank_id) < 0 || asset_of(sh, c->asset, &l->cap_asset[i]) != 0)
            return XR_ERR_CONFIG;
        if (c->daily_notional.units <= 0)
            return XR_ERR_INVALID_ARGUMENT;
    }
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
    xr_eng_free(l->abuf);
    xr_eng_free(l->aux);
    xr_eng_free(l->backlog);
    xr_eng_free(l->caps);
    xr_eng_free(l->conv_backlog);
    xr_eng_free(l);
}

/* ---- start-up recovery ------------------------------------------------------------------- */

typedef struct recover_ctx {
    xr_eng_ledger *l;
    xr_eng_gateway *g;
    xr_eng_order *orders; /* grows by doubling: start-up only, before any stage runs */
    uint32_t n, cap;
    xr_err err;
} recover_ctx;

static int recover_customer(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                            uint32_t val_len)
{
    recover_ctx *c = ctx;
    uint64_t customer = 0, cust_no;
    uint32_t bank = 0;
    if (key_len != XR_ENG_CUST_KEY_LEN || val_len != XR_ENG_CUST_VAL_LEN) {
        c->err = XR_ERR_CORRUPT;
        return 1;
    }
    for (int i = 0; i < 4; i++)
        bank = bank << 8 | key[1 + i];
    for (int i = 0; i < 8; i++)
        customer = customer << 8 | key[5 + i];
    memcpy(&cust_no, val, 8);
    if (cust_no == 0 || cust_no > c->l->sh->cfg.customers_max) {
        c->err = XR_ERR_CORRUPT;
        return 1;
    }
    xr_eng_gateway_load_customer(c->g, bank, customer, cust_no, val[8]);
    return 0;
}

static int recover_order(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                         uint32_t val_len)
{
    recover_ctx *c = ctx;
    (void)key;
    (void)key_len;
    if (c->n == c->cap) {
        uint32_t cap = c->cap == 0 ? 64 : 2 * c->cap;
        xr_eng_order *o = xr_eng_alloc(sizeof *o * cap);
        if (o == NULL) {
            c->err = XR_ERR_NO_MEMORY;
            return 1;
        }
        if (c->n > 0)
            memcpy(o, c->orders, sizeof *o * c->n);
        xr_eng_free(c->orders);
        c->orders = o;
        c->cap = cap;
    }
    xr_err err = xr_eng_order_decode(c->l->sh, val, val_len, &c->orders[c->n]);
    if (err != XR_OK) {
        c->err = err;
        return 1;
    }
    c->n++;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const xr_eng_order *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct conv_recover_ctx {
    xr_eng_ledger *l;
    uint32_t n, cap;
    xr_err err;
} conv_recover_ctx;

/* A conversion not booked before the restart: with a stored quote id its venue is asked by
 * that id (it may have been accepted); without one it was never accepted and is voided. */
static int recover_conv(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                        uint32_t val_len)
{
    conv_recover_ctx *c = ctx;
    xr_eng_conv cv;
    (void)key;
    (void)key_len;
    if ((c->err = xr_eng_conv_decode(c->l->sh, val, val_len, &cv)) != XR_OK)
        return 1;
    if (cv.phase == XR_ENG_CV_DONE)
        return 0;
    if (c->n == c->cap) {
        uint32_t cap = c->cap == 0 ? 16 : 2 * c->cap;
        xr_eng_conv *a = xr_eng_alloc(sizeof *a * cap);
        if (a == NULL) {
            c->err = XR_ERR_NO_MEMORY;
            return 1;
        }
        if (c->n > 0)
            memcpy(a, c->l->conv_backlog, sizeof *a * c->n);
        xr_eng_free(c->l->conv_backlog);
        c->l->conv_backlog = a;
        c->cap = cap;
    }
    cv.recovered = 1;
    if (cv.quote_id[0] != '\0') {
        cv.phase = XR_ENG_CV_QUERY;
    } else {
        cv.phase = XR_ENG_CV_RESULT;
        cv.status = 2;
        cv.err = XR_ERR_VENUE_UNAVAILABLE; /* interrupted before its quote was accepted */
    }
    c->l->conv_backlog[c->n++] = cv;
    return 0;
}

xr_err xr_eng_ledger_recover(xr_eng_ledger *l, xr_eng_gateway *g)
{
    {
        conv_recover_ctx cc = {.l = l};
        const uint8_t vfrom[1] = {XR_ENG_KEY_CONV}, vto[1] = {XR_ENG_KEY_CONV + 1};
        xr_err e = xr_ledger_aux_scan(l->lg, vfrom, 1, vto, 1, recover_conv, &cc);
        if (e == XR_OK)
            e = cc.err;
        if (e != XR_OK)
            return e;
        l->nconv_backlog = cc.n;
        l->conv_backlog_head = 0;
    }
    recover_ctx c = {.l = l, .g = g};
    const uint8_t cfrom[1] = {XR_ENG_KEY_CUSTOMER}, cto[1] = {XR_ENG_KEY_CUSTOMER + 1};
    const uint8_t ofrom[1] = {XR_ENG_KEY_ORDER}, oto[1] = {XR_ENG_KEY_ORDER + 1};
    xr_err err = xr_ledger_aux_scan(l->lg, cfrom, 1, cto, 1, recover_customer, &c);
    if (err == XR_OK && c.err == XR_OK)
        err = xr_ledger_aux_scan(l->lg, ofrom, 1, oto, 1, recover_order, &c);
    if (err == XR_OK)
        err = c.err;
    if (err != XR_OK) {
        xr_eng_free(c.orders);
        return err;
    }
    /* Oldest first, so that the gateway's table keeps the newest keys when it is full. */
    if (c.n > 1)
        qsort(c.orders, c.n, sizeof *c.orders, by_seq);
    uint32_t open = 0;
    const int64_t today = xr_eng_wall_clock() / NS_PER_DAY;
    for (uint32_t i = 0; i < c.n && err == XR_OK; i++) {
        xr_eng_order *o = &c.orders[i];
        if (o->seq >= l->next_seq)
            l->next_seq = o->seq + 1;
        /* The daily counters from the store: today's orders, booked ones with what filled,
         * open ones with what their reservation counted. */
        if (o->created_ns / NS_PER_DAY == today)
            cap_add(l, o, o->phase == XR_ENG_PH_DONE ? o->notional.units : o->cap_notional.units);
        if (o->phase != XR_ENG_PH_DONE) {
            o->recovered = 1;
            o->status = XR_ENGINE_ORDER_OPEN;
        }
        err = xr_eng_gateway_load_order(g, o);
        if (err == XR_OK && o->phase != XR_ENG_PH_DONE)
            c.orders[open++] = *o; /* compacted in place: open <= i */
    }
    if (err != XR_OK) {
        xr_eng_free(c.orders);
        return err;
    }
    l->backlog = c.orders;
    l->nbacklog = open;
    l->backlog_head = 0;
    if (open > 0) {
        xr_log_line ll;
        xr_log_begin(&ll, XR_LOG_INFO, "engine", "reconciling_orders");
        xr_log_u64(&ll, "orders", open);
        xr_log_end(&ll);
    }
    return XR_OK;
}
