/*
 * Model test of core/ledger: random batches of operations over more than 1,000 accounts run
 * against the ledger and against an independent in-memory model written from the
 * specification (ledger.h), not from the implementation. After every batch the two agree on
 * every op's result and every account's counters, and xr_ledger_verify passes. The ledger is
 * reopened every few batches, so idempotency and state are checked across restarts.
 *
 * XR_LEDGER_MODEL_OPS (environment) sets the number of ops; the default is 120,000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ledger/ledger.h"

enum {
    BATCH_OPS = 1000,
    N_CUSTOMERS = 1000,
    CUST0 = 100,  /* customers are CUST0 .. CUST0 + N_CUSTOMERS - 1 */
    LATE0 = 5000, /* accounts created during the run */
    N_LATE = 64,
    MAX_ACC = 6000,    /* model account array size (ids below this) */
    REOPEN_EVERY = 20, /* batches */
    STEP_NS = 1000000, /* clock step per batch */
};

static const char *const ASSETS[2] = {"USD", "BTC"};

/* ---- the model -------------------------------------------------------------------------- */

typedef struct m_acc {
    int exists;
    int asset; /* index into ASSETS */
    int may_go_negative;
    xr_i128 dp, cp, dpend, cpend;
} m_acc;

typedef struct m_rec {
    int stored;
    xr_ledger_op op; /* content as first stored */
    xr_err result;
    int32_t failed_offset;
    xr_i128 result_amount;
    int64_t ts;
    int status; /* reservations: xr_ledger_transfer_status */
} m_rec;

typedef struct model {
    m_acc acc[MAX_ACC];
    m_rec *rec; /* indexed by op number */
    size_t rec_cap;
    int64_t ts;
} model;

/* Undo log of one group: old values of accounts and records. */
typedef struct m_undo {
    int is_acc;
    size_t index;
    m_acc acc;
    m_rec rec;
} m_undo;

static m_undo undo_log[64];
static size_t undo_n;

static uint64_t op_number(const xr_ledger_id *id)
{
    uint64_t n = 0;
    for (int i = 8; i < 16; i++)
        n = n << 8 | id->bytes[i];
    uint64_t tag = 0;
    for (int i = 0; i < 8; i++)
        tag = tag << 8 | id->bytes[i];
    return tag == 2 ? n : 0; /* 0: not an id this test makes (e.g. the zero id) */
}

static xr_ledger_id id_of(uint64_t n)
{
    return xr_ledger_id_make(2, n);
}

static m_rec *m_lookup(model *m, const xr_ledger_id *id)
{
    uint64_t n = op_number(id);
    if (n == 0 || n >= m->rec_cap || !m->rec[n].stored)
        return NULL;
    return &m->rec[n];
}

static void m_save_acc(model *m, uint64_t id)
{
    assert_true(undo_n < 64);
    undo_log[undo_n++] = (m_undo){1, id, m->acc[id], {0}};
}

static void m_save_rec(model *m, uint64_t n)
{
    assert_true(undo_n < 64);
    undo_log[undo_n] = (m_undo){0, n, {0}, m->rec[n]};
    undo_n++;
}

static void m_rewind(model *m)
{
    while (undo_n > 0) {
        m_undo *u = &undo_log[--undo_n];
        if (u->is_acc)
            m->acc[u->index] = u->acc;
        else
            m->rec[u->index] = u->rec;
    }
}

static int m_same(const xr_ledger_op *a, const xr_ledger_op *b)
{
    if (a->kind != b->kind || a->flags != b->flags)
        return 0;
    switch (a->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT:
        return a->account.id == b->account.id && strcmp(a->account.asset, b->account.asset) == 0 &&
               a->account.kind == b->account.kind && a->account.flags == b->account.flags &&
               a->account.bank_id == b->account.bank_id &&
               a->account.owner_id == b->account.owner_id;
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE:
        return a->debit_account_id == b->debit_account_id &&
               a->credit_account_id == b->credit_account_id && a->amount.units == b->amount.units &&
               a->user_data == b->user_data &&
               (a->kind == XR_LEDGER_OP_TRANSFER || a->deadline_ns == b->deadline_ns);
    case XR_LEDGER_OP_POST:
        return memcmp(&a->pending_id, &b->pending_id, 16) == 0 &&
               a->amount.units == b->amount.units && a->user_data == b->user_data;
    case XR_LEDGER_OP_VOID:
        return memcmp(&a->pending_id, &b->pending_id, 16) == 0 && a->user_data == b->user_data;
    default:
        return 0;
    }
}

static int asset_index(const char *code)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(code, ASSETS[i]) == 0)
            return i;
    return -1;
}

static int zero_id(const xr_ledger_id *id)
{
    static const uint8_t z[16];
    return memcmp(id->bytes, z, 16) == 0;
}

static xr_err m_validate(const model *m, const xr_ledger_op *op)
{
    if (op->flags & ~XR_LEDGER_OP_LINKED)
        return XR_ERR_INVALID_ARGUMENT;
    switch (op->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT:
        if (op->account.id == 0 || op->account.kind < 1 || op->account.kind > 6 ||
            (op->account.flags & ~1u) ||
            (op->account.kind == XR_LEDGER_KIND_CUSTOMER && (op->account.flags & 1u)))
            return XR_ERR_INVALID_ARGUMENT;
        /* The registry is the default one: only the two assets used here and others. */
        if (strcmp(op->account.asset, "XYZ") == 0)
            return XR_ERR_UNKNOWN_ASSET;
        return XR_OK;
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE:
        if (op->debit_account_id == 0 || op->credit_account_id == 0 ||
            op->debit_account_id == op->credit_account_id)
            return XR_ERR_INVALID_ARGUMENT;
        if (op->amount.units <= 0)
            return XR_ERR_INVALID_AMOUNT;
        if (op->kind == XR_LEDGER_OP_RESERVE && op->deadline_ns != 0 && op->deadline_ns <= m->ts)
            return XR_ERR_INVALID_ARGUMENT;
        return XR_OK;
    case XR_LEDGER_OP_POST:
        if (zero_id(&op->pending_id))
            return XR_ERR_INVALID_ARGUMENT;
        return op->amount.units < 0 ? XR_ERR_INVALID_AMOUNT : XR_OK;
    case XR_LEDGER_OP_VOID:
        return zero_id(&op->pending_id) ? XR_ERR_INVALID_ARGUMENT : XR_OK;
    default:
        return XR_ERR_INVALID_ARGUMENT;
    }
}

static m_acc *m_account(model *m, uint64_t id)
{
    return id < MAX_ACC && m->acc[id].exists ? &m->acc[id] : NULL;
}

/* Executes one validated op; on success stores its record and returns its result amount. */
static xr_err m_exec(model *m, const xr_ledger_op *op, xr_i128 *amount_out)
{
    uint64_t n = op_number(&op->id);
    switch (op->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT: {
        uint64_t id = op->account.id;
        assert_true(id < MAX_ACC);
        if (m->acc[id].exists)
            return XR_ERR_ALREADY_EXISTS;
        m_save_acc(m, id);
        memset(&m->acc[id], 0, sizeof m->acc[id]);
        m->acc[id].exists = 1;
        m->acc[id].asset = asset_index(op->account.asset);
        m->acc[id].may_go_negative = (op->account.flags & 1u) != 0;
        *amount_out = 0;
        break;
    }
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE: {
        m_acc *d = m_account(m, op->debit_account_id), *c = m_account(m, op->credit_account_id);
        if (d == NULL || c == NULL)
            return XR_ERR_NOT_FOUND;
        if (d->asset != c->asset)
            return XR_ERR_ASSET_MISMATCH;
        xr_i128 amt = op->amount.units;
        if (!d->may_go_negative && d->cp - d->dp - d->dpend < amt)
            return XR_ERR_INSUFFICIENT_FUNDS;
        m_save_acc(m, op->debit_account_id);
        m_save_acc(m, op->credit_account_id);
        if (op->kind == XR_LEDGER_OP_TRANSFER) {
            d->dp += amt;
            c->cp += amt;
        } else {
            d->dpend += amt;
            c->cpend += amt;
        }
        *amount_out = amt;
        break;
    }
    default: {
        m_rec *r = m_lookup(m, &op->pending_id);
        if (r == NULL)
            return XR_ERR_NOT_FOUND;
        if (r->op.kind != XR_LEDGER_OP_RESERVE || r->result != XR_OK ||
            r->status != XR_LEDGER_STATUS_PENDING)
            return XR_ERR_INVALID_STATE;
        if (r->op.deadline_ns != 0 && r->op.deadline_ns <= m->ts)
            return XR_ERR_INVALID_STATE;
        xr_i128 held = r->op.amount.units, posted = 0;
        if (op->kind == XR_LEDGER_OP_POST) {
            posted = op->amount.units == 0 ? held : op->amount.units;
            if (posted > held)
                return XR_ERR_INVALID_AMOUNT;
        }
        uint64_t dn = r->op.debit_account_id, cn = r->op.credit_account_id;
        m_save_acc(m, dn);
        m_save_acc(m, cn);
        m_acc *d = &m->acc[dn], *c = &m->acc[cn];
        d->dpend -= held;
        c->cpend -= held;
        d->dp += posted;
        c->cp += posted;
        uint64_t rn = (uint64_t)(r - m->rec);
        m_save_rec(m, rn);
        m->rec[rn].status =
            op->kind == XR_LEDGER_OP_POST ? XR_LEDGER_STATUS_POSTED : XR_LEDGER_STATUS_VOIDED;
        *amount_out = op->kind == XR_LEDGER_OP_POST ? posted : held;
        break;
    }
    }
    m_save_rec(m, n);
    m_rec *s = &m->rec[n];
    s->stored = 1;
    s->op = *op;
    s->result = XR_OK;
    s->failed_offset = 0;
    s->result_amount = *amount_out;
    s->ts = m->ts;
    s->status = op->kind == XR_LEDGER_OP_RESERVE ? XR_LEDGER_STATUS_PENDING : XR_LEDGER_STATUS_DONE;
    return XR_OK;
}

static void m_result(xr_ledger_result *r, xr_err err, uint32_t failed, int replayed, int64_t ts,
                     xr_i128 amount)
{
    memset(r, 0, sizeof *r);
    r->err = err;
    r->failed_index = err == XR_OK ? XR_LEDGER_NO_INDEX : failed;
    r->replayed = (uint8_t)replayed;
    r->timestamp_ns = ts;
    r->amount.units = amount;
}

static void m_group(model *m, const xr_ledger_op *ops, size_t n, size_t i0, size_t i1,
                    xr_ledger_result *out)
{
    /* Resend of a stored group: answer from the records. */
    if (m_lookup(m, &ops[i0].id) != NULL) {
        for (size_t k = i0; k <= i1; k++) {
            m_rec *r = m_lookup(m, &ops[k].id);
            if (r == NULL || !m_same(&r->op, &ops[k])) {
                m_result(&out[k], XR_ERR_IDEMPOTENCY_CONFLICT, (uint32_t)k, 0, 0, 0);
                continue;
            }
            int64_t at = (int64_t)k + r->failed_offset;
            m_result(&out[k], r->result, at >= 0 && at < (int64_t)n ? (uint32_t)at : (uint32_t)k, 1,
                     r->ts, r->result == XR_OK ? r->result_amount : 0);
        }
        return;
    }
    for (size_t k = i0; k <= i1; k++) {
        xr_err err = XR_OK;
        if (zero_id(&ops[k].id))
            err = XR_ERR_INVALID_ARGUMENT;
        else if (m_lookup(m, &ops[k].id) != NULL)
            err = XR_ERR_IDEMPOTENCY_CONFLICT;
        for (size_t j = i0; j < k && err == XR_OK; j++)
            if (memcmp(&ops[j].id, &ops[k].id, 16) == 0)
                err = XR_ERR_IDEMPOTENCY_CONFLICT;
        if (err != XR_OK) {
            for (size_t j = i0; j <= i1; j++)
                m_result(&out[j], err, (uint32_t)k, 0, 0, 0);
            return;
        }
    }
    for (size_t k = i0; k <= i1; k++) {
        xr_err err = m_validate(m, &ops[k]);
        if (err != XR_OK) {
            for (size_t j = i0; j <= i1; j++)
                m_result(&out[j], err, (uint32_t)k, 0, 0, 0);
            return;
        }
    }
    undo_n = 0;
    for (size_t k = i0; k <= i1; k++) {
        xr_i128 amount = 0;
        xr_err err = m_exec(m, &ops[k], &amount);
        if (err != XR_OK) {
            m_rewind(m);
            for (size_t j = i0; j <= i1; j++) {
                m_rec *s = &m->rec[op_number(&ops[j].id)];
                memset(s, 0, sizeof *s);
                s->stored = 1;
                s->op = ops[j];
                s->result = err;
                s->failed_offset = (int32_t)((int64_t)k - (int64_t)j);
                s->ts = m->ts;
                s->status = XR_LEDGER_STATUS_FAILED;
                m_result(&out[j], err, (uint32_t)k, 0, m->ts, 0);
            }
            return;
        }
        m_result(&out[k], XR_OK, 0, 0, m->ts, amount);
    }
    undo_n = 0;
}

static void m_batch(model *m, const xr_ledger_op *ops, size_t n, xr_ledger_result *out)
{
    /* Due reservations expire first. */
    for (size_t i = 1; i < m->rec_cap; i++) {
        m_rec *r = &m->rec[i];
        if (!r->stored || r->op.kind != XR_LEDGER_OP_RESERVE ||
            r->status != XR_LEDGER_STATUS_PENDING || r->op.deadline_ns == 0 ||
            r->op.deadline_ns > m->ts)
            continue;
        r->status = XR_LEDGER_STATUS_EXPIRED;
        m->acc[r->op.debit_account_id].dpend -= r->op.amount.units;
        m->acc[r->op.credit_account_id].cpend -= r->op.amount.units;
    }
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (ops[j].flags & XR_LEDGER_OP_LINKED))
            j++;
        if (j == n) {
            for (size_t k = i; k < n; k++)
                m_result(&out[k], XR_ERR_INVALID_ARGUMENT, (uint32_t)(n - 1), 0, 0, 0);
            return;
        }
        m_group(m, ops, n, i, j, out);
        i = j + 1;
    }
}

/* ---- the generator ---------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* splitmix64: deterministic, so a failure reproduces with the same seed. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

typedef struct gen {
    xr_ledger_op *sent; /* every op ever sent, by op number */
    size_t sent_cap;
    uint64_t next;      /* next op number */
    uint64_t *reserves; /* op numbers of reserve ops */
    size_t nreserves;
    uint64_t *groups; /* first op number of groups sent, with their length */
    uint8_t *group_len;
    size_t ngroups;
} gen;

static uint64_t pick_customer(void)
{
    return CUST0 + below(N_CUSTOMERS);
}

static int customer_asset(uint64_t id)
{
    return id % 5 == 0 ? 1 : 0;
}

static xr_ledger_op make_new(gen *g, model *m)
{
    xr_ledger_op op;
    memset(&op, 0, sizeof op);
    uint64_t n = g->next++;
    op.id = id_of(n);
    op.user_data = below(4);
    unsigned r = (unsigned)below(100);
    if (r < 32) {
        op.kind = XR_LEDGER_OP_TRANSFER;
        uint64_t d = pick_customer();
        int a = customer_asset(d);
        unsigned w = (unsigned)below(100);
        if (w < 15)
            d = 1 + (uint64_t)a; /* funding */
        uint64_t c = below(100) < 70 ? pick_customer() : 3 + (uint64_t)a;
        if (w >= 15 && w < 17)
            c = LATE0 + below(N_LATE); /* may not exist yet */
        if (w == 17)
            c = d; /* invalid */
        op.debit_account_id = d;
        op.credit_account_id = c;
        op.amount.units = below(100) < 3 ? (xr_i128)1000000000 : (xr_i128)(1 + below(20000));
        if (below(200) == 0)
            op.amount.units = -(xr_i128)below(3);
        /* The edges of the funds check: exactly the available balance, and one more. */
        const m_acc *da = d < MAX_ACC ? &m->acc[d] : NULL;
        xr_i128 avail = da && da->exists ? da->cp - da->dp - da->dpend : 0;
        if (avail > 0 && below(100) < 6)
            op.amount.units = avail + (below(2) == 0 ? 0 : 1);
    } else if (r < 57) {
        op.kind = XR_LEDGER_OP_RESERVE;
        uint64_t d = pick_customer();
        op.debit_account_id = d;
        op.credit_account_id = below(100) < 85 ? 3 + (uint64_t)customer_asset(d) : pick_customer();
        op.amount.units = (xr_i128)(1 + below(30000));
        const m_acc *da = &m->acc[d];
        xr_i128 avail = da->exists ? da->cp - da->dp - da->dpend : 0;
        if (avail > 0 && below(100) < 6)
            op.amount.units = avail + (below(2) == 0 ? 0 : 1);
        unsigned dl = (unsigned)below(100);
        if (dl < 30)
            op.deadline_ns = m->ts + (int64_t)(1 + below(3 * STEP_NS));
        else if (dl == 30)
            op.deadline_ns = m->ts; /* already due: invalid */
        g->reserves[g->nreserves++] = n;
    } else if (r < 77 || r < 90) {
        op.kind = r < 77 ? XR_LEDGER_OP_POST : XR_LEDGER_OP_VOID;
        uint64_t target =
            g->nreserves > 0 && below(100) < 85
                ? g->reserves[g->nreserves - 1 - below(g->nreserves < 3000 ? g->nreserves : 3000)]
                : 1 + below(n);
        op.pending_id = id_of(target);
        if (op.kind == XR_LEDGER_OP_POST) {
            unsigned a = (unsigned)below(100);
            xr_i128 held =
                g->sent[target].kind == XR_LEDGER_OP_RESERVE ? g->sent[target].amount.units : 1000;
            if (a < 45)
                op.amount.units = 0;
            else if (a < 85)
                op.amount.units = held > 1 ? 1 + (xr_i128)below((uint64_t)held - 1) : 1;
            else if (a < 95)
                op.amount.units = held + 1;
            else
                op.amount.units = -1;
        }
    } else {
        op.kind = XR_LEDGER_OP_CREATE_ACCOUNT;
        op.account.id = below(10) == 0 ? pick_customer() : LATE0 + below(N_LATE);
        int a = (int)below(2);
        snprintf(op.account.asset, sizeof op.account.asset, "%s",
                 below(20) == 0 ? "XYZ" : ASSETS[a]);
        op.account.kind = below(3) == 0 ? XR_LEDGER_KIND_FEES : XR_LEDGER_KIND_CUSTOMER;
        op.account.flags = op.account.kind == XR_LEDGER_KIND_FEES && below(2) ? 1 : 0;
        op.account.bank_id = 1;
        op.account.owner_id = op.account.id;
    }
    g->sent[n] = op;
    return op;
}

/* Fills one batch; returns its size. */
static size_t make_batch(gen *g, model *m, xr_ledger_op *ops)
{
    size_t n = 0;
    while (n < BATCH_OPS - 8) {
        unsigned r = (unsigned)below(100);
        if (r < 8 && g->next > 1) {
            /* A resend of one earlier op, as sent or changed. */
            uint64_t k = 1 + below(g->next - 1);
            xr_ledger_op op = g->sent[k];
            op.flags = 0;
            if (below(100) < 25)
                op.user_data += 1;
            ops[n++] = op;
        } else if (r < 11 && g->ngroups > 0) {
            /* A resend of a whole earlier group, sometimes with one member changed. */
            size_t gi = (size_t)below(g->ngroups);
            for (uint8_t k = 0; k < g->group_len[gi]; k++)
                ops[n++] = g->sent[g->groups[gi] + k];
            if (below(4) == 0)
                ops[n - 1].amount.units += 1;
        } else if (r < 30) {
            /* A new linked group of 2..5 ops. */
            size_t len = 2 + (size_t)below(4);
            g->groups[g->ngroups] = g->next;
            g->group_len[g->ngroups++] = (uint8_t)len;
            for (size_t k = 0; k < len; k++) {
                xr_ledger_op op = make_new(g, m);
                op.flags = k + 1 < len ? XR_LEDGER_OP_LINKED : 0;
                g->sent[op_number(&op.id)] = op;
                ops[n++] = op;
            }
        } else {
            ops[n++] = make_new(g, m);
        }
    }
    if (below(50) == 0) {
        /* An unterminated chain at the end. */
        ops[n] = make_new(g, m);
        ops[n].flags = XR_LEDGER_OP_LINKED;
        g->sent[op_number(&ops[n].id)] = ops[n];
        n++;
    }
    return n;
}

/* ---- the test ------------------------------------------------------------------------ */

typedef struct fx {
    char dir[256];
    xr_ledger *lg;
    int64_t now;
    int opens;
} fx;

static int64_t fx_clock(void *ctx)
{
    return ((fx *)ctx)->now;
}

static void fx_open(fx *f)
{
    xr_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = f->dir;
    cfg.clock_ns = fx_clock;
    cfg.clock_ctx = f;
    cfg.max_batch_ops = BATCH_OPS + 64;
    /* Durability is exercised by the crash test; here the syncs would only cost time. */
    cfg.durability = XR_LEDGER_NO_SYNC_BENCHMARK_ONLY;
    /* Every other reopen hashes the chain on the helper thread: the results must not differ. */
    cfg.hash_thread = f->opens++ % 2;
    /* Small hand-overs, so the helper works mid-batch while later groups fail and unwind. */
    cfg.hash_chunk_entries = 16;
    assert_int_equal(xr_ledger_open(&cfg, &f->lg), XR_OK);
}

static void check_results(const xr_ledger_op *ops, size_t n, const xr_ledger_result *got,
                          const xr_ledger_result *want, int batch)
{
    for (size_t i = 0; i < n; i++) {
        const xr_ledger_result *g = &got[i], *w = &want[i];
        if (g->err != w->err || g->failed_index != w->failed_index || g->replayed != w->replayed ||
            g->amount.units != w->amount.units || g->timestamp_ns != w->timestamp_ns)
            fail_msg("batch %d op %zu (kind %d, op %llu): ledger %s idx %u replay %u amount %lld "
                     "ts %lld; model %s idx %u replay %u amount %lld ts %lld",
                     batch, i, ops[i].kind, (unsigned long long)op_number(&ops[i].id),
                     xr_err_name(g->err), g->failed_index, g->replayed, (long long)g->amount.units,
                     (long long)g->timestamp_ns, xr_err_name(w->err), w->failed_index, w->replayed,
                     (long long)w->amount.units, (long long)w->timestamp_ns);
    }
}

static void check_accounts(fx *f, const model *m, int batch)
{
    for (uint64_t id = 1; id < MAX_ACC; id++) {
        const m_acc *a = &m->acc[id];
        if (!a->exists && id > 4 && (id < CUST0 || id >= CUST0 + N_CUSTOMERS) &&
            (id < LATE0 || id >= LATE0 + N_LATE))
            continue; /* never touched: skip the lookup */
        xr_ledger_account got;
        xr_err err = xr_ledger_account_get(f->lg, id, &got);
        if (!a->exists) {
            if (err != XR_ERR_NOT_FOUND)
                fail_msg("batch %d: account %llu exists in the ledger only", batch,
                         (unsigned long long)id);
            continue;
        }
        if (err != XR_OK || got.debits_posted.units != a->dp || got.credits_posted.units != a->cp ||
            got.debits_pending.units != a->dpend || got.credits_pending.units != a->cpend ||
            strcmp(got.asset, ASSETS[a->asset]) != 0)
            fail_msg("batch %d: account %llu differs: ledger %s dp %lld cp %lld dpend %lld "
                     "cpend %lld; model dp %lld cp %lld dpend %lld cpend %lld",
                     batch, (unsigned long long)id, xr_err_name(err),
                     (long long)got.debits_posted.units, (long long)got.credits_posted.units,
                     (long long)got.debits_pending.units, (long long)got.credits_pending.units,
                     (long long)a->dp, (long long)a->cp, (long long)a->dpend, (long long)a->cpend);
    }
}

static void test_model(void **state)
{
    (void)state;
    long total_ops = 120000;
    if (getenv("XR_LEDGER_MODEL_OPS"))
        total_ops = atol(getenv("XR_LEDGER_MODEL_OPS"));
    fx f;
    memset(&f, 0, sizeof f);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(f.dir, sizeof f.dir, "%s/xr_ledger_model_XXXXXX", tmp);
    assert_non_null(mkdtemp(f.dir));
    f.now = 1700000000000000000ll;
    fx_open(&f);

    model *m = calloc(1, sizeof *m);
    gen g;
    memset(&g, 0, sizeof g);
    size_t cap = (size_t)total_ops + 4 * BATCH_OPS + 4096;
    m->rec_cap = cap;
    m->rec = calloc(cap, sizeof *m->rec);
    g.sent_cap = cap;
    g.sent = calloc(cap, sizeof *g.sent);
    g.reserves = calloc(cap, sizeof *g.reserves);
    g.groups = calloc(cap, sizeof *g.groups);
    g.group_len = calloc(cap, 1);
    g.next = 1;
    xr_ledger_op *ops = calloc(BATCH_OPS + 64, sizeof *ops);
    xr_ledger_result *got = calloc(BATCH_OPS + 64, sizeof *got);
    xr_ledger_result *want = calloc(BATCH_OPS + 64, sizeof *want);
    assert_true(m && m->rec && g.sent && g.reserves && g.groups && g.group_len && ops && got &&
                want);

    /* The chart: funding and omnibus per asset (system accounts), 1,000 funded customers. */
    size_t n = 0;
    for (int a = 0; a < 2; a++) {
        for (int k = 0; k < 2; k++) {
            xr_ledger_op *op = &ops[n++];
            memset(op, 0, sizeof *op);
            op->id = id_of(g.next);
            op->kind = XR_LEDGER_OP_CREATE_ACCOUNT;
            op->account.id = 1 + (uint64_t)a + 2 * (uint64_t)k;
            snprintf(op->account.asset, sizeof op->account.asset, "%s", ASSETS[a]);
            op->account.kind = k == 0 ? XR_LEDGER_KIND_BANK_FUNDING : XR_LEDGER_KIND_BANK_OMNIBUS;
            op->account.flags = XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE;
            g.sent[g.next++] = *op;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t c = 0; c < N_CUSTOMERS / 2; c++) {
            uint64_t id = CUST0 + c + (uint64_t)pass * (N_CUSTOMERS / 2);
            xr_ledger_op *op = &ops[n++];
            memset(op, 0, sizeof *op);
            op->id = id_of(g.next);
            op->kind = XR_LEDGER_OP_CREATE_ACCOUNT;
            op->account.id = id;
            snprintf(op->account.asset, sizeof op->account.asset, "%s", ASSETS[customer_asset(id)]);
            op->account.kind = XR_LEDGER_KIND_CUSTOMER;
            g.sent[g.next++] = *op;
            op = &ops[n++];
            memset(op, 0, sizeof *op);
            op->id = id_of(g.next);
            op->kind = XR_LEDGER_OP_TRANSFER;
            op->debit_account_id = 1 + (uint64_t)customer_asset(id);
            op->credit_account_id = id;
            op->amount.units = 200000;
            g.sent[g.next++] = *op;
        }
        m->ts = f.now;
        m_batch(m, ops, n, want);
        assert_int_equal(xr_ledger_execute(f.lg, ops, n, got), XR_OK);
        check_results(ops, n, got, want, -1);
        n = 0;
        f.now += STEP_NS;
    }

    int batch = 0;
    long done = N_CUSTOMERS * 2 + 4;
    long histogram[XR_ERR__COUNT] = {0}, replays = 0;
    while (done < total_ops) {
        m->ts = f.now;
        n = make_batch(&g, m, ops);
        m_batch(m, ops, n, want);
        xr_err err = xr_ledger_execute(f.lg, ops, n, got);
        if (err != XR_OK)
            fail_msg("batch %d: %s", batch, xr_err_name(err));
        check_results(ops, n, got, want, batch);
        for (size_t i = 0; i < n; i++) {
            histogram[got[i].err < XR_ERR__COUNT ? got[i].err : 0]++;
            replays += got[i].replayed;
        }
        check_accounts(&f, m, batch);
        xr_ledger_verify_report rep;
        assert_int_equal(xr_ledger_verify(f.lg, &rep), XR_OK);
        if (rep.err != XR_OK)
            fail_msg("batch %d: verify: %s", batch, rep.problem);
        done += (long)n;
        batch++;
        f.now += (int64_t)(1 + below(STEP_NS));
        if (batch % REOPEN_EVERY == 0) {
            xr_ledger_close(f.lg);
            fx_open(&f);
        }
        if (batch % 7 == 0) {
            /* Time passes without a batch: expiry runs on its own. */
            f.now += STEP_NS;
            m->ts = f.now;
            m_batch(m, NULL, 0, NULL);
            assert_int_equal(xr_ledger_expire_due(f.lg, NULL), XR_OK);
            check_accounts(&f, m, batch);
            f.now += 1;
        }
    }
    print_message("model: %ld ops in %d batches over %d+ accounts, %ld replayed\n", done, batch,
                  N_CUSTOMERS, replays);
    for (int e = 0; e < XR_ERR__COUNT; e++)
        if (histogram[e] != 0)
            print_message("model:   %-22s %ld\n", xr_err_name((xr_err)e), histogram[e]);
    /* Every path the model is meant to cover was taken. */
    const xr_err must[] = {XR_OK,
                           XR_ERR_INSUFFICIENT_FUNDS,
                           XR_ERR_INVALID_AMOUNT,
                           XR_ERR_IDEMPOTENCY_CONFLICT,
                           XR_ERR_NOT_FOUND,
                           XR_ERR_INVALID_STATE,
                           XR_ERR_ASSET_MISMATCH,
                           XR_ERR_ALREADY_EXISTS,
                           XR_ERR_INVALID_ARGUMENT,
                           XR_ERR_UNKNOWN_ASSET};
    for (size_t e = 0; e < sizeof must / sizeof must[0]; e++)
        assert_true(histogram[must[e]] > 0);
    assert_true(replays > 0);
    xr_ledger_stats st;
    assert_int_equal(xr_ledger_stats_get(f.lg, &st), XR_OK);
    assert_true(st.accounts >= N_CUSTOMERS);
    xr_ledger_close(f.lg);
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", f.dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", f.dir);
    unlink(path);
    rmdir(f.dir);
    free(m->rec);
    free(m);
    free(g.sent);
    free(g.reserves);
    free(g.groups);
    free(g.group_len);
    free(ops);
    free(got);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
