/*
 * xr_ledger_verify: an O(n) audit of the whole ledger in one read snapshot. It trusts
 * nothing it can recompute: the hash chain is recomputed from the entry blocks, every posted
 * counter is rebuilt by replaying the entries, every pending counter by summing the open
 * reservations, and every entry is matched against the transfer it claims to belong to.
 * It stops at the first problem and names the entry, account or op where it was found.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ledger/ledger_internal.h"

typedef struct vacc {
    uint64_t id; /* 0 = empty slot */
    xr_ledger_account stored;
    xr_i128 debits_posted, credits_posted, debits_pending, credits_pending;
    uint64_t last_seq;
} vacc;

typedef struct vstate {
    xr_ledger *lg;
    MDB_txn *txn;
    xr_ledger_verify_report *rep;
    vacc *accs;
    uint64_t mask;
    uint64_t pending_with_deadline;
} vstate;

static void i128_text(xr_i128 v, char *buf, size_t cap)
{
    char tmp[48];
    size_t n = 0;
    xr_u128 u = v < 0 ? (xr_u128)0 - (xr_u128)v : (xr_u128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    size_t o = 0;
    if (v < 0 && o + 1 < cap)
        buf[o++] = '-';
    while (n > 0 && o + 1 < cap)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
}

/* Records the first problem; returns 0 so that callers can `return problem(...)`. */
__attribute__((format(printf, 2, 3))) static int problem(vstate *v, const char *fmt, ...)
{
    v->rep->err = XR_ERR_CORRUPT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->rep->problem, sizeof v->rep->problem, fmt, ap);
    va_end(ap);
    return 0;
}

static int entry_problem(vstate *v, uint64_t seq, const char *what)
{
    v->rep->bad_entry_seq = seq;
    return problem(v, "entry %llu: %s", (unsigned long long)seq, what);
}

static int account_problem(vstate *v, uint64_t id, const char *what)
{
    v->rep->bad_account_id = id;
    return problem(v, "account %llu: %s", (unsigned long long)id, what);
}

static int op_problem(vstate *v, const xr_ledger_id *id, const char *what)
{
    char hex[XR_LEDGER_ID_HEX_MAX];
    xr_ledger_id_format(id, hex);
    v->rep->bad_op_id = *id;
    return problem(v, "op %s: %s", hex, what);
}

static vacc *vacc_find(vstate *v, uint64_t id, int insert)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull;
    uint64_t i = (x ^ (x >> 29)) & v->mask;
    while (v->accs[i].id != 0) {
        if (v->accs[i].id == id)
            return &v->accs[i];
        i = (i + 1) & v->mask;
    }
    if (!insert)
        return NULL;
    v->accs[i].id = id;
    return &v->accs[i];
}

static int read_op(vstate *v, const xr_ledger_id *id, lg_op_rec *out)
{
    MDB_val key = {16, (void *)id->bytes}, val;
    if (mdb_get(v->txn, v->lg->db_ops, &key, &val) != MDB_SUCCESS)
        return 0;
    return lg_op_decode(id, val.mv_data, val.mv_size, out) == XR_OK;
}

static int read_entry(vstate *v, uint64_t seq, xr_ledger_entry *out)
{
    MDB_val key = {sizeof seq, &seq}, val;
    if (mdb_get(v->txn, v->lg->db_entries, &key, &val) != MDB_SUCCESS)
        return 0;
    return lg_entry_decode(seq, val.mv_data, val.mv_size, out) == XR_OK;
}

/* Pass 1: every account decodes and is filed for the replay. */
static int check_accounts_load(vstate *v)
{
    MDB_cursor *cur;
    MDB_val key, val;
    if (mdb_cursor_open(v->txn, v->lg->db_accounts, &cur) != MDB_SUCCESS)
        return problem(v, "cannot open the accounts table");
    int ok = 1;
    for (int rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        uint64_t id = key.mv_size == 8 ? lg_get_u64(key.mv_data) : 0;
        if (id == 0) {
            ok = problem(v, "accounts table: a key is not a non-zero u64");
            break;
        }
        vacc *a = vacc_find(v, id, 1);
        if (lg_account_decode(id, val.mv_data, val.mv_size, &a->stored) != XR_OK) {
            ok = account_problem(v, id, "record does not decode");
            break;
        }
        if (a->stored.kind == XR_LEDGER_KIND_CUSTOMER &&
            (a->stored.flags & XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE)) {
            ok = account_problem(v, id, "customer account allowed to go negative");
            break;
        }
        v->rep->accounts++;
    }
    mdb_cursor_close(cur);
    return ok;
}

/* Pass 2: the log. Keys run 1..n, the chain recomputes, each entry links to its account's
 * previous one, carries the replayed balance, and is one of its transfer's two legs. */
static int check_entries(vstate *v, br_sha256_context *chain)
{
    MDB_cursor *cur;
    MDB_val key, val;
    if (mdb_cursor_open(v->txn, v->lg->db_entries, &cur) != MDB_SUCCESS)
        return problem(v, "cannot open the entries table");
    uint64_t expect = 1;
    int ok = 1;
    char msg[200], a_txt[48], b_txt[48];
    for (int rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); ok && rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT), expect++) {
        uint64_t seq = key.mv_size == 8 ? lg_get_u64(key.mv_data) : 0;
        if (seq != expect) {
            snprintf(msg, sizeof msg, "sequence gap: found %llu where %llu was expected",
                     (unsigned long long)seq, (unsigned long long)expect);
            ok = entry_problem(v, seq ? seq : expect, msg);
            break;
        }
        xr_ledger_entry e;
        if (lg_entry_decode(seq, val.mv_data, val.mv_size, &e) != XR_OK) {
            ok = entry_problem(v, seq, "record has the wrong size");
            break;
        }
        uint8_t state[32];
        br_sha256_update(chain, val.mv_data, LG_ENTRY_BLOCK);
        br_sha256_state(chain, state);
        if (memcmp(state, e.chain, 32) != 0) {
            ok = entry_problem(v, seq,
                               "hash chain broken: stored chain value differs from the "
                               "value recomputed from the entries up to here");
            break;
        }
        vacc *a = vacc_find(v, e.account_id, 0);
        if (a == NULL) {
            ok = entry_problem(v, seq, "its account does not exist");
            break;
        }
        if (e.prev_seq != a->last_seq) {
            snprintf(msg, sizeof msg, "links to previous entry %llu of account %llu, expected %llu",
                     (unsigned long long)e.prev_seq, (unsigned long long)e.account_id,
                     (unsigned long long)a->last_seq);
            ok = entry_problem(v, seq, msg);
            break;
        }
        if (e.amount.units == 0 || e.amount.units < XR_I128_MIN) {
            ok = entry_problem(v, seq, "amount is zero or out of range");
            break;
        }
        xr_i128 *side = e.amount.units < 0 ? &a->debits_posted : &a->credits_posted;
        xr_i128 mag = e.amount.units < 0 ? -e.amount.units : e.amount.units;
        if (__builtin_add_overflow(*side, mag, side)) {
            ok = entry_problem(v, seq, "replayed counter overflows");
            break;
        }
        xr_i128 balance = a->credits_posted - a->debits_posted;
        if (balance != e.balance_after.units) {
            i128_text(e.balance_after.units, a_txt, sizeof a_txt);
            i128_text(balance, b_txt, sizeof b_txt);
            snprintf(msg, sizeof msg, "balance_after %s but replaying the log gives %s", a_txt,
                     b_txt);
            ok = entry_problem(v, seq, msg);
            break;
        }
        a->last_seq = seq;
        lg_op_rec t;
        if (!read_op(v, &e.transfer_id, &t)) {
            ok = entry_problem(v, seq, "its transfer does not exist");
            break;
        }
        if ((t.kind != XR_LEDGER_OP_TRANSFER && t.kind != XR_LEDGER_OP_POST) || t.result != XR_OK) {
            ok = entry_problem(v, seq, "its transfer is not an applied transfer or post");
            break;
        }
        int debit_leg = seq == t.first_entry_seq, credit_leg = seq == t.first_entry_seq + 1;
        if ((!debit_leg && !credit_leg) ||
            e.account_id != (debit_leg ? t.debit_account_id : t.credit_account_id) ||
            e.amount.units != (debit_leg ? -t.amount_done.units : t.amount_done.units) ||
            e.timestamp_ns != t.timestamp_ns) {
            ok = entry_problem(v, seq,
                               "does not match its transfer's leg (account, amount, "
                               "position or time)");
            break;
        }
        v->rep->entries++;
    }
    mdb_cursor_close(cur);
    return ok;
}

static int expiry_present(vstate *v, const lg_op_rec *r)
{
    uint8_t k[LG_EXPIRY_KEY_SIZE];
    lg_expiry_key(r->deadline_ns, &r->id, k);
    MDB_val key = {sizeof k, k}, val;
    return mdb_get(v->txn, v->lg->db_expiry, &key, &val) == MDB_SUCCESS;
}

static int check_legs(vstate *v, const lg_op_rec *r)
{
    xr_ledger_entry d, c;
    if (r->first_entry_seq == 0 || !read_entry(v, r->first_entry_seq, &d) ||
        !read_entry(v, r->first_entry_seq + 1, &c) || lg_id_cmp(&d.transfer_id, &r->id) != 0 ||
        lg_id_cmp(&c.transfer_id, &r->id) != 0)
        return op_problem(v, &r->id, "its two entries are missing from the log");
    return 1;
}

/* Pass 3: every op is consistent with its kind, its entries and the reservation it resolves;
 * open reservations are summed into the expected pending counters. */
static int check_op(vstate *v, const lg_op_rec *r)
{
    lg_op_rec o;
    if (r->result != XR_OK)
        return r->first_entry_seq == 0 ? 1 : op_problem(v, &r->id, "failed op has entries");
    switch (r->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT:
        if (r->status != XR_LEDGER_STATUS_DONE || vacc_find(v, r->account.id, 0) == NULL)
            return op_problem(v, &r->id, "created account is missing");
        return 1;
    case XR_LEDGER_OP_TRANSFER:
        if (r->status != XR_LEDGER_STATUS_DONE || r->amount.units <= 0 ||
            r->amount_done.units != r->amount.units)
            return op_problem(v, &r->id, "transfer status or amount is inconsistent");
        return check_legs(v, r);
    case XR_LEDGER_OP_POST:
    case XR_LEDGER_OP_VOID: {
        int post = r->kind == XR_LEDGER_OP_POST;
        if (r->status != XR_LEDGER_STATUS_DONE || !read_op(v, &r->link_id, &o) ||
            o.kind != XR_LEDGER_OP_RESERVE || lg_id_cmp(&o.link_id, &r->id) != 0 ||
            o.status != (post ? XR_LEDGER_STATUS_POSTED : XR_LEDGER_STATUS_VOIDED) ||
            o.debit_account_id != r->debit_account_id ||
            o.credit_account_id != r->credit_account_id)
            return op_problem(v, &r->id, "does not match the reservation it resolves");
        if (post) {
            if (r->amount_done.units <= 0 || r->amount_done.units > o.amount.units ||
                o.amount_done.units != r->amount_done.units)
                return op_problem(v, &r->id, "post exceeds its reservation or disagrees with it");
            return check_legs(v, r);
        }
        if (r->amount_done.units != o.amount.units || o.amount_done.units != 0)
            return op_problem(v, &r->id, "void released a different amount than was held");
        return r->first_entry_seq == 0 ? 1 : op_problem(v, &r->id, "void has entries");
    }
    case XR_LEDGER_OP_RESERVE:
        if (r->amount.units <= 0 || r->first_entry_seq != 0)
            return op_problem(v, &r->id, "reservation amount or entries are inconsistent");
        switch (r->status) {
        case XR_LEDGER_STATUS_PENDING: {
            vacc *d = vacc_find(v, r->debit_account_id, 0);
            vacc *c = vacc_find(v, r->credit_account_id, 0);
            if (d == NULL || c == NULL)
                return op_problem(v, &r->id, "reservation names a missing account");
            if (__builtin_add_overflow(d->debits_pending, r->amount.units, &d->debits_pending) ||
                __builtin_add_overflow(c->credits_pending, r->amount.units, &c->credits_pending))
                return op_problem(v, &r->id, "pending sum overflows");
            if (r->deadline_ns != 0) {
                if (!expiry_present(v, r))
                    return op_problem(v, &r->id, "open reservation missing from expiry index");
                v->pending_with_deadline++;
            }
            return 1;
        }
        case XR_LEDGER_STATUS_POSTED:
        case XR_LEDGER_STATUS_VOIDED: {
            int post = r->status == XR_LEDGER_STATUS_POSTED;
            if (!read_op(v, &r->link_id, &o) ||
                o.kind != (post ? XR_LEDGER_OP_POST : XR_LEDGER_OP_VOID) || o.result != XR_OK ||
                lg_id_cmp(&o.link_id, &r->id) != 0)
                return op_problem(v, &r->id, "resolved reservation has no matching post/void");
            if (post && (r->amount_done.units <= 0 || r->amount_done.units > r->amount.units))
                return op_problem(v, &r->id, "posted more than was reserved");
            return 1;
        }
        case XR_LEDGER_STATUS_EXPIRED:
            if (r->deadline_ns == 0 || r->resolved_ns < r->deadline_ns)
                return op_problem(v, &r->id, "expired before its deadline");
            return 1;
        default:
            return op_problem(v, &r->id, "reservation has an impossible status");
        }
    default:
        return op_problem(v, &r->id, "unknown kind");
    }
}

static int check_ops(vstate *v)
{
    MDB_cursor *cur;
    MDB_val key, val;
    if (mdb_cursor_open(v->txn, v->lg->db_ops, &cur) != MDB_SUCCESS)
        return problem(v, "cannot open the ops table");
    int ok = 1;
    for (int rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); ok && rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        xr_ledger_id id;
        lg_op_rec r;
        if (key.mv_size != 16) {
            ok = problem(v, "ops table: a key is not 16 bytes");
            break;
        }
        memcpy(id.bytes, key.mv_data, 16);
        if (lg_op_decode(&id, val.mv_data, val.mv_size, &r) != XR_OK) {
            ok = op_problem(v, &id, "record does not decode");
            break;
        }
        ok = check_op(v, &r);
        v->rep->ops++;
    }
    mdb_cursor_close(cur);
    return ok;
}

typedef struct asset_sum {
    char asset[XR_ASSET_CODE_MAX + 1];
    xr_i128 balance, debits_pending, credits_pending;
} asset_sum;

/* Pass 4: stored counters equal the replay; invariants; per-asset sums. Accounts are walked
 * in id order so the account named is the lowest bad one. */
static int check_balances(vstate *v)
{
    enum { MAX_ASSETS = 2 * XR_ASSETS_MAX };
    asset_sum sums[MAX_ASSETS];
    size_t nsums = 0;
    MDB_cursor *cur;
    MDB_val key, val;
    if (mdb_cursor_open(v->txn, v->lg->db_accounts, &cur) != MDB_SUCCESS)
        return problem(v, "cannot open the accounts table");
    int ok = 1;
    for (int rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); ok && rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const vacc *a = vacc_find(v, lg_get_u64(key.mv_data), 0);
        const xr_ledger_account *s = &a->stored;
        if (s->debits_posted.units != a->debits_posted ||
            s->credits_posted.units != a->credits_posted) {
            ok = account_problem(v, s->id, "posted counters differ from replaying the log");
            break;
        }
        if (s->last_entry_seq != a->last_seq) {
            ok = account_problem(v, s->id, "newest-entry link differs from the log");
            break;
        }
        if (s->debits_pending.units != a->debits_pending ||
            s->credits_pending.units != a->credits_pending) {
            ok = account_problem(v, s->id, "pending counters differ from the open reservations");
            break;
        }
        xr_i128 out, in;
        if (__builtin_add_overflow(s->debits_posted.units, s->debits_pending.units, &out) ||
            __builtin_add_overflow(s->credits_posted.units, s->credits_pending.units, &in)) {
            ok = account_problem(v, s->id, "counters exceed the 128-bit range");
            break;
        }
        if (!(s->flags & XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE) && s->credits_posted.units < out) {
            ok = account_problem(v, s->id, "available balance is negative");
            break;
        }
        size_t i = 0;
        while (i < nsums && strcmp(sums[i].asset, s->asset) != 0)
            i++;
        if (i == nsums) {
            if (nsums == MAX_ASSETS) {
                ok = problem(v, "more than %d assets", MAX_ASSETS);
                break;
            }
            memset(&sums[i], 0, sizeof sums[i]);
            memcpy(sums[i].asset, s->asset, sizeof sums[i].asset);
            nsums++;
        }
        if (__builtin_add_overflow(sums[i].balance,
                                   s->credits_posted.units - s->debits_posted.units,
                                   &sums[i].balance) ||
            __builtin_add_overflow(sums[i].debits_pending, s->debits_pending.units,
                                   &sums[i].debits_pending) ||
            __builtin_add_overflow(sums[i].credits_pending, s->credits_pending.units,
                                   &sums[i].credits_pending)) {
            ok = problem(v, "asset %s: sums overflow", s->asset);
            break;
        }
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; ok && i < nsums; i++) {
        char txt[48];
        if (sums[i].balance != 0) {
            i128_text(sums[i].balance, txt, sizeof txt);
            ok = problem(v, "asset %s: balances sum to %s, not zero", sums[i].asset, txt);
        } else if (sums[i].debits_pending != sums[i].credits_pending) {
            ok = problem(v, "asset %s: pending debits and credits differ", sums[i].asset);
        }
    }
    return ok;
}

static int check_expiry_index(vstate *v)
{
    MDB_stat st;
    if (mdb_stat(v->txn, v->lg->db_expiry, &st) != MDB_SUCCESS)
        return problem(v, "cannot read the expiry index");
    if (st.ms_entries != v->pending_with_deadline)
        return problem(v, "expiry index has %llu keys for %llu open reservations with a deadline",
                       (unsigned long long)st.ms_entries,
                       (unsigned long long)v->pending_with_deadline);
    return 1;
}

xr_err xr_ledger_verify(xr_ledger *lg, xr_ledger_verify_report *rep)
{
    if (lg == NULL || rep == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(rep, 0, sizeof *rep);
    vstate v = {.lg = lg, .rep = rep};
    xr_err err = lg_read_begin(lg, &v.txn);
    if (err != XR_OK)
        return err;
    MDB_stat st;
    int rc = mdb_stat(v.txn, lg->db_accounts, &st);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(v.txn);
        return lg_mdb_err(rc);
    }
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)st.ms_entries + 16)
        cap <<= 1;
    v.mask = cap - 1;
    v.accs = calloc(cap, sizeof *v.accs);
    if (v.accs == NULL) {
        mdb_txn_abort(v.txn);
        return XR_ERR_NO_MEMORY;
    }
    br_sha256_context chain;
    br_sha256_init(&chain);
    if (check_accounts_load(&v) && check_entries(&v, &chain) && check_ops(&v) &&
        check_balances(&v) && check_expiry_index(&v))
        rep->err = XR_OK;
    br_sha256_out(&chain, rep->head_sha256);
    free(v.accs);
    mdb_txn_abort(v.txn);
    return XR_OK;
}
