/*
 * The ledger's writer: open/close, and xr_ledger_execute, which applies a batch of ops in one
 * LMDB write transaction.
 *
 * A batch runs in two phases. Apply: every op reads accounts and op records through an
 * in-memory overlay (open-addressing tables sized at open, reset per batch by a generation
 * number) and changes only the overlay, so each account touched by the batch is read once and
 * written once, however many ops touch it (the omnibus and revenue accounts are touched by
 * every trade). A linked group logs the old value of everything it changes; when a member
 * fails the log is unwound, which makes "all or nothing" cheap and keeps LMDB free of nested
 * transactions. Flush: the op and account records are written in key order (new op ids, which
 * normally increase, are appended), the entries are hashed into the chain (inline, or by the
 * optional helper thread that has been following the batch) and appended, the transaction is
 * committed, and the data file is synced before any result is returned.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/ledger/ledger_internal.h"

#define LG_DEFAULT_MAP_SIZE   (64ull << 30)
#define LG_DEFAULT_BATCH_OPS  8192u
#define LG_DEFAULT_EXPIRE_MAX 1024u
#define LG_MAX_BATCH_OPS      (1u << 20)

enum { SLOT_LOADED = 1, SLOT_NEW = 2, SLOT_UPDATED = 3, SLOT_PLACEHOLDER = 4 };
enum { UNDO_ACC_INSERT = 1, UNDO_ACC_MODIFY = 2, UNDO_OP_INSERT = 3, UNDO_OP_MODIFY = 4 };

/* The overlay keeps records in dense arrays, filled in the order they are first used, and
 * finds them through compact open-addressing indexes (16 and 24 bytes per entry). Records are
 * walked in order at flush and far fewer cache lines are probed: with the ~200-byte records
 * themselves in the hash table, a batch of 4096 trades spent a fifth of its time in cache
 * misses. */
typedef struct acc_slot {
    uint8_t exists;
    uint8_t dirty;
    xr_ledger_account acc;
} acc_slot;

typedef struct op_slot {
    uint8_t state;  /* SLOT_* */
    uint8_t listed; /* already in op_new or op_upd */
    lg_op_rec rec;
} op_slot;

typedef struct acc_index {
    uint32_t gen; /* in use when equal to the batch's generation */
    uint32_t slot;
    uint64_t id;
} acc_index;

typedef struct op_index {
    uint32_t gen;
    uint32_t slot;
    xr_ledger_id id;
} op_index;

typedef struct undo_rec {
    uint8_t kind;
    uint32_t slot; /* index position for the INSERT kinds, record slot for MODIFY */
    uint32_t old;  /* index into acc_old / op_old for the MODIFY kinds */
} undo_rec;

typedef struct expiry_action {
    uint8_t insert; /* 1 insert, 0 delete */
    uint8_t key[LG_EXPIRY_KEY_SIZE];
} expiry_action;

/* The optional chain-hashing thread. SHA-256 (BearSSL, one 64-byte compression per entry) is
 * about a third of the writer's work on large batches and is strictly sequential, so it can
 * only move, not split: the writer publishes entries as their groups complete and the helper
 * extends the chain behind it, on another core, while the writer goes on applying and then
 * writes the op and account records. Entries below `ready` are never touched by the writer
 * again (a failing group only unwinds its own, later entries). Small batches never wake it. */
typedef struct lg_hasher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* writer -> helper: more entries, or stop */
    pthread_cond_t done_cv; /* helper -> writer: caught up */
    int stop;
    lg_entry_raw *entries;
    uint32_t chunk;        /* entries per hand-over */
    br_sha256_context ctx; /* the chain being extended; the helper's while a batch is open */
    uint32_t ready;        /* entries [0, ready) are final */
    uint32_t done;         /* entries [0, done) are hashed */
} lg_hasher;

#define LG_HASH_CHUNK 512 /* default entries per hand-over; below it a batch hashes inline */

/* Where a group started, so that a failure can unwind to it. */
typedef struct batch_mark {
    uint32_t undo_n, acc_old_n, op_old_n, acc_dirty_n, op_new_n, op_upd_n, entry_n, exp_n;
    uint64_t next_seq;
} batch_mark;

struct lg_batch {
    uint32_t gen;
    acc_index *acc_ix;
    uint32_t acc_mask, acc_mask_max; /* this batch's index size - 1, and the allocated one */
    acc_slot *acc;
    uint32_t acc_n, acc_cap;
    uint32_t *acc_dirty;
    uint32_t acc_dirty_n;
    op_index *op_ix;
    uint32_t op_mask, op_mask_max;
    uint32_t acc_lim, op_lim; /* records this batch may add (its indexes stay half empty) */
    op_slot *ops;
    uint32_t op_n, op_cap;
    uint32_t *op_new, *op_upd, *sort_tmp;
    uint32_t op_new_n, op_upd_n;
    lg_entry_raw *entries;
    uint32_t entry_n, entry_cap;
    uint64_t next_seq;
    expiry_action *exp;
    uint32_t *exp_order; /* flush order of exp */
    uint32_t exp_n, exp_cap;
    int logging;
    undo_rec *undo;
    uint32_t undo_n, undo_cap;
    acc_slot *acc_old;
    uint32_t acc_old_n, acc_old_cap;
    op_slot *op_old;
    uint32_t op_old_n, op_old_cap;
    MDB_txn *txn;
    /* Cursors of this batch's transaction (NULL until first used; closed before it ends). A
     * cursor that is already on a leaf finds a key of that leaf without searching from the
     * root (mdb_cursor_set), so reads and writes in key order are cheaper through a cursor
     * than through mdb_get / mdb_put, which start from the root every time. */
    MDB_cursor *acc_cur, *op_cur;
    int64_t ts;
    uint32_t swept;
    uint32_t aux_n;     /* auxiliary records written in this batch */
    lg_hasher *hasher;  /* NULL: hash inline */
    uint32_t published; /* entries handed to the hasher in this batch (0: none yet) */
    uint32_t miss_pos;  /* index position where the last op_get miss would be inserted */
};

/* ---- small helpers --------------------------------------------------------------------- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint64_t p = 16;
    while (p < n)
        p <<= 1;
    XR_ASSERT(p <= (1ull << 31));
    return (uint32_t)p;
}

static inline uint32_t mix64(uint64_t x)
{
    /* The murmur3 finaliser: sequential account ids and time-ordered op ids spread evenly. */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static inline uint32_t hash_id(const xr_ledger_id *id)
{
    return mix64(lg_get_u64(id->bytes) ^ (lg_get_u64(id->bytes + 8) * 0x9e3779b97f4a7c15ull));
}

static inline int id_eq(const xr_ledger_id *a, const xr_ledger_id *b)
{
    return lg_get_u64(a->bytes) == lg_get_u64(b->bytes) &&
           lg_get_u64(a->bytes + 8) == lg_get_u64(b->bytes + 8);
}

static inline int add_ok(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static void fill_error(xr_ledger_result *results, size_t n, xr_err err)
{
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].err = err;
        results[i].failed_index = XR_LEDGER_NO_INDEX;
    }
}

static int64_t default_clock(void *ctx)
{
    (void)ctx;
    return xr_clock_wall_ns();
}

/* An LMDB failure while reading is a batch-level error whatever LMDB's code says. */
static xr_err read_err(int rc)
{
    xr_err err = lg_mdb_err(rc);
    return err == XR_ERR_NOT_FOUND || err == XR_ERR_ALREADY_EXISTS ? XR_ERR_IO : err;
}

/* The batch's cursor on `dbi`, opened on first use. */
static xr_err batch_cursor(lg_batch *b, MDB_dbi dbi, MDB_cursor **cur)
{
    if (*cur != NULL)
        return XR_OK;
    int rc = mdb_cursor_open(b->txn, dbi, cur);
    if (rc != MDB_SUCCESS) {
        *cur = NULL;
        return lg_mdb_err(rc);
    }
    return XR_OK;
}

/* Ends the batch's transaction: commits it (`commit`) or aborts it. Returns LMDB's code. */
static int batch_txn_end(lg_batch *b, int commit)
{
    if (b->acc_cur != NULL)
        mdb_cursor_close(b->acc_cur);
    if (b->op_cur != NULL)
        mdb_cursor_close(b->op_cur);
    b->acc_cur = b->op_cur = NULL;
    int rc = MDB_SUCCESS;
    if (commit)
        rc = mdb_txn_commit(b->txn);
    else
        mdb_txn_abort(b->txn);
    b->txn = NULL;
    return rc;
}

/* ---- overlay: accounts ---------------------------------------------------------------- */

static void undo_push(lg_batch *b, uint8_t kind, uint32_t slot, uint32_t old)
{
    XR_ASSERT(b->undo_n < b->undo_cap);
    b->undo[b->undo_n++] = (undo_rec){kind, slot, old};
}

/* Finds account `id` in the overlay, reading it from LMDB on first use. */
static xr_err acc_get(xr_ledger *lg, uint64_t id, uint32_t *slot_out)
{
    lg_batch *b = lg->batch;
    uint32_t i = mix64(id) & b->acc_mask;
    for (;;) {
        const acc_index *e = &b->acc_ix[i];
        if (e->gen != b->gen)
            break;
        if (e->id == id) {
            *slot_out = e->slot;
            return XR_OK;
        }
        i = (i + 1) & b->acc_mask;
    }
    XR_ASSERT(b->acc_n < b->acc_lim);
    acc_slot *s = &b->acc[b->acc_n];
    xr_err cerr = batch_cursor(b, lg->db_accounts, &b->acc_cur);
    if (cerr != XR_OK)
        return cerr;
    MDB_val key = {sizeof id, &id}, val;
    int rc = mdb_cursor_get(b->acc_cur, &key, &val, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND) {
        memset(&s->acc, 0, sizeof s->acc);
        s->acc.id = id;
        s->exists = 0;
    } else if (rc == MDB_SUCCESS) {
        xr_err err = lg_account_decode(id, val.mv_data, val.mv_size, &s->acc);
        if (err != XR_OK)
            return err;
        s->exists = 1;
    } else {
        return read_err(rc);
    }
    s->dirty = 0;
    b->acc_ix[i] = (acc_index){b->gen, b->acc_n, id};
    if (b->logging)
        undo_push(b, UNDO_ACC_INSERT, i, 0);
    *slot_out = b->acc_n++;
    return XR_OK;
}

/* Call before changing an account: remembers its old value for the group's undo and lists
 * it for writing. */
static xr_ledger_account *acc_touch(lg_batch *b, uint32_t slot)
{
    acc_slot *s = &b->acc[slot];
    if (b->logging) {
        XR_ASSERT(b->acc_old_n < b->acc_old_cap);
        b->acc_old[b->acc_old_n] = *s;
        undo_push(b, UNDO_ACC_MODIFY, slot, b->acc_old_n++);
    }
    if (!s->dirty) {
        s->dirty = 1;
        XR_ASSERT(b->acc_dirty_n < b->acc_cap);
        b->acc_dirty[b->acc_dirty_n++] = slot;
    }
    return &s->acc;
}

/* ---- overlay: op records -------------------------------------------------------------- */

/* The index position of `id`, or of the empty position where it would go. */
static uint32_t op_probe(const lg_batch *b, const xr_ledger_id *id, int *found)
{
    uint32_t i = hash_id(id) & b->op_mask;
    for (;;) {
        const op_index *e = &b->op_ix[i];
        if (e->gen != b->gen) {
            *found = 0;
            return i;
        }
        if (id_eq(&e->id, id)) {
            *found = 1;
            return i;
        }
        i = (i + 1) & b->op_mask;
    }
}

/* Claims a record slot for `id`, which must not be in the overlay. */
static op_slot *op_insert_at(lg_batch *b, uint32_t i, const xr_ledger_id *id, uint8_t state,
                             uint32_t *slot_out)
{
    XR_ASSERT(b->op_ix[i].gen != b->gen && b->op_n < b->op_lim);
    uint32_t slot = b->op_n++;
    op_slot *s = &b->ops[slot];
    memset(&s->rec, 0, sizeof s->rec);
    s->rec.id = *id;
    s->state = state;
    s->listed = 0;
    b->op_ix[i].gen = b->gen;
    b->op_ix[i].slot = slot;
    b->op_ix[i].id = *id;
    if (b->logging)
        undo_push(b, UNDO_OP_INSERT, i, 0);
    if (slot_out != NULL)
        *slot_out = slot;
    return s;
}

static op_slot *op_insert(lg_batch *b, const xr_ledger_id *id, uint8_t state, uint32_t *slot_out)
{
    int found;
    uint32_t i = op_probe(b, id, &found);
    XR_ASSERT(!found);
    return op_insert_at(b, i, id, state, slot_out);
}

/* Warms the index entries the next op will probe: the probes are independent cache misses
 * (the indexes are megabytes), so fetching them one op ahead hides most of their latency. */
static void prefetch_op(const lg_batch *b, const xr_ledger_op *op)
{
    __builtin_prefetch(&b->op_ix[hash_id(&op->id) & b->op_mask]);
    if (op->kind == XR_LEDGER_OP_POST || op->kind == XR_LEDGER_OP_VOID) {
        __builtin_prefetch(&b->op_ix[hash_id(&op->pending_id) & b->op_mask]);
    } else {
        __builtin_prefetch(&b->acc_ix[mix64(op->debit_account_id) & b->acc_mask]);
        __builtin_prefetch(&b->acc_ix[mix64(op->credit_account_id) & b->acc_mask]);
    }
}

/* Looks `id` up: first in the overlay, then (unless it is above every stored id) in LMDB.
 * `*found` is 0 when the id is unknown; a placeholder of the running group counts as found.
 * When found, `*slot_out` is its record slot. */
static xr_err op_get(xr_ledger *lg, const xr_ledger_id *id, uint32_t *slot_out, int *found)
{
    lg_batch *b = lg->batch;
    uint32_t i = op_probe(b, id, found);
    if (*found) {
        *slot_out = b->op_ix[i].slot;
        return XR_OK;
    }
    b->miss_pos = i;
    /* Ids larger than the largest stored one cannot be stored: with increasing ids (the
     * recommended kind) a new op costs no B-tree lookup at all. */
    if (lg_id_cmp(id, &lg->max_op_id) > 0)
        return XR_OK;
    xr_err cerr = batch_cursor(b, lg->db_ops, &b->op_cur);
    if (cerr != XR_OK)
        return cerr;
    MDB_val key = {16, (void *)id->bytes}, val;
    int rc = mdb_cursor_get(b->op_cur, &key, &val, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND)
        return XR_OK;
    if (rc != MDB_SUCCESS)
        return read_err(rc);
    op_slot *s = op_insert_at(b, i, id, SLOT_LOADED, slot_out);
    xr_err err = lg_op_decode(id, val.mv_data, val.mv_size, &s->rec);
    if (err != XR_OK)
        return err;
    *found = 1;
    return XR_OK;
}

static void op_list_new(lg_batch *b, uint32_t slot)
{
    op_slot *s = &b->ops[slot];
    s->state = SLOT_NEW;
    if (!s->listed) {
        s->listed = 1;
        XR_ASSERT(b->op_new_n < b->op_cap);
        b->op_new[b->op_new_n++] = slot;
    }
}

/* Call before changing a stored or earlier record (a reservation being resolved). */
static lg_op_rec *op_touch(lg_batch *b, uint32_t slot)
{
    op_slot *s = &b->ops[slot];
    if (b->logging) {
        XR_ASSERT(b->op_old_n < b->op_old_cap);
        b->op_old[b->op_old_n] = *s;
        undo_push(b, UNDO_OP_MODIFY, slot, b->op_old_n++);
    }
    if (s->state == SLOT_LOADED) {
        s->state = SLOT_UPDATED;
        if (!s->listed) {
            s->listed = 1;
            XR_ASSERT(b->op_upd_n < b->op_cap);
            b->op_upd[b->op_upd_n++] = slot;
        }
    }
    return &s->rec;
}

static batch_mark mark_take(const lg_batch *b)
{
    return (batch_mark){b->undo_n,   b->acc_old_n, b->op_old_n, b->acc_dirty_n, b->op_new_n,
                        b->op_upd_n, b->entry_n,   b->exp_n,    b->next_seq};
}

/* Unwinds everything done since `m`, newest first. Removing an inserted slot by clearing it
 * is safe with linear probing only because removals run in reverse insertion order: a slot
 * inserted before X never probed past X's slot, which was empty at the time. */
static void mark_rewind(lg_batch *b, const batch_mark *m)
{
    while (b->undo_n > m->undo_n) {
        const undo_rec *u = &b->undo[--b->undo_n];
        switch (u->kind) {
        case UNDO_ACC_INSERT:
            XR_ASSERT(b->acc_ix[u->slot].slot == b->acc_n - 1);
            b->acc_ix[u->slot].gen = 0;
            b->acc_n--;
            break;
        case UNDO_ACC_MODIFY:
            b->acc[u->slot] = b->acc_old[u->old];
            break;
        case UNDO_OP_INSERT:
            XR_ASSERT(b->op_ix[u->slot].slot == b->op_n - 1);
            b->op_ix[u->slot].gen = 0;
            b->op_n--;
            break;
        case UNDO_OP_MODIFY:
            b->ops[u->slot] = b->op_old[u->old];
            break;
        default:
            XR_ASSERT(0);
        }
    }
    b->acc_old_n = m->acc_old_n;
    b->op_old_n = m->op_old_n;
    b->acc_dirty_n = m->acc_dirty_n;
    b->op_new_n = m->op_new_n;
    b->op_upd_n = m->op_upd_n;
    XR_ASSERT(m->entry_n >= b->published); /* published entries belong to finished groups */
    b->entry_n = m->entry_n;
    b->exp_n = m->exp_n;
    b->next_seq = m->next_seq;
}

/* ---- entries and expiry ---------------------------------------------------------------- */

/* Appends the entry of `amount` (signed) on account `a`, whose counters already include it. */
static uint64_t entry_emit(lg_batch *b, const xr_ledger_id *transfer_id, xr_ledger_account *a,
                           xr_i128 amount)
{
    XR_ASSERT(b->entry_n < b->entry_cap);
    uint64_t seq = b->next_seq++;
    uint8_t *p = b->entries[b->entry_n++].b;
    memcpy(p, transfer_id->bytes, 16);
    lg_put_u64(p + 16, a->id);
    lg_put_i128(p + 24, amount);
    lg_put_i128(p + 40, a->credits_posted.units - a->debits_posted.units);
    lg_put_i64(p + 56, b->ts);
    lg_put_u64(p + 64, a->last_entry_seq);
    memset(p + 72, 0, 32); /* the chain value is computed at flush */
    a->last_entry_seq = seq;
    return seq;
}

static void expiry_queue(lg_batch *b, int insert, int64_t deadline_ns, const xr_ledger_id *id)
{
    XR_ASSERT(b->exp_n < b->exp_cap);
    expiry_action *x = &b->exp[b->exp_n++];
    x->insert = (uint8_t)insert;
    lg_expiry_key(deadline_ns, id, x->key);
}

/* ---- per-op logic ---------------------------------------------------------------------- */

/* Checks that need no state. Errors here are not stored: the id stays unused. */
static xr_err op_validate(const xr_ledger *lg, const xr_ledger_op *op, int64_t ts)
{
    if (op->flags & ~XR_LEDGER_OP_LINKED)
        return XR_ERR_INVALID_ARGUMENT;
    switch (op->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT: {
        const xr_ledger_account_spec *s = &op->account;
        if (s->id == 0 || s->kind < XR_LEDGER_KIND_CUSTOMER ||
            s->kind > XR_LEDGER_KIND_BANK_FUNDING)
            return XR_ERR_INVALID_ARGUMENT;
        if (s->flags & ~XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE)
            return XR_ERR_INVALID_ARGUMENT;
        if (s->kind == XR_LEDGER_KIND_CUSTOMER && (s->flags & XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE))
            return XR_ERR_INVALID_ARGUMENT;
        if (memchr(s->asset, '\0', sizeof s->asset) == NULL)
            return XR_ERR_INVALID_ARGUMENT;
        if (xr_assets_find(&lg->assets, s->asset) == NULL)
            return XR_ERR_UNKNOWN_ASSET;
        return XR_OK;
    }
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE:
        if (op->debit_account_id == 0 || op->credit_account_id == 0 ||
            op->debit_account_id == op->credit_account_id)
            return XR_ERR_INVALID_ARGUMENT;
        if (op->amount.units <= 0)
            return XR_ERR_INVALID_AMOUNT;
        if (op->kind == XR_LEDGER_OP_RESERVE && op->deadline_ns != 0 && op->deadline_ns <= ts)
            return XR_ERR_INVALID_ARGUMENT;
        return XR_OK;
    case XR_LEDGER_OP_POST:
        if (xr_ledger_id_is_zero(&op->pending_id))
            return XR_ERR_INVALID_ARGUMENT;
        if (op->amount.units < 0)
            return XR_ERR_INVALID_AMOUNT;
        return XR_OK;
    case XR_LEDGER_OP_VOID:
        if (xr_ledger_id_is_zero(&op->pending_id))
            return XR_ERR_INVALID_ARGUMENT;
        return XR_OK;
    default:
        return XR_ERR_INVALID_ARGUMENT;
    }
}

/* The content of `op` as a stored record (for failures and for idempotency comparison). */
static void op_to_rec(const xr_ledger_op *op, lg_op_rec *r)
{
    r->kind = op->kind;
    r->flags = op->flags;
    if (op->kind == XR_LEDGER_OP_CREATE_ACCOUNT) {
        r->account = op->account;
        return;
    }
    if (op->kind == XR_LEDGER_OP_TRANSFER || op->kind == XR_LEDGER_OP_RESERVE) {
        r->debit_account_id = op->debit_account_id;
        r->credit_account_id = op->credit_account_id;
    }
    if (op->kind != XR_LEDGER_OP_VOID)
        r->amount = op->amount;
    if (op->kind == XR_LEDGER_OP_RESERVE)
        r->deadline_ns = op->deadline_ns;
    if (op->kind == XR_LEDGER_OP_POST || op->kind == XR_LEDGER_OP_VOID)
        r->link_id = op->pending_id;
    r->user_data = op->user_data;
}

/* Whether stored record `r` has the content of `op` (the fields its kind uses). */
static int same_content(const lg_op_rec *r, const xr_ledger_op *op)
{
    if (r->kind != op->kind || r->flags != op->flags)
        return 0;
    switch (op->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT: {
        const xr_ledger_account_spec *a = &r->account, *s = &op->account;
        return a->id == s->id && strncmp(a->asset, s->asset, sizeof a->asset) == 0 &&
               a->kind == s->kind && a->flags == s->flags && a->bank_id == s->bank_id &&
               a->owner_id == s->owner_id;
    }
    case XR_LEDGER_OP_TRANSFER:
        return r->debit_account_id == op->debit_account_id &&
               r->credit_account_id == op->credit_account_id &&
               r->amount.units == op->amount.units && r->user_data == op->user_data;
    case XR_LEDGER_OP_RESERVE:
        return r->debit_account_id == op->debit_account_id &&
               r->credit_account_id == op->credit_account_id &&
               r->amount.units == op->amount.units && r->deadline_ns == op->deadline_ns &&
               r->user_data == op->user_data;
    case XR_LEDGER_OP_POST:
        return lg_id_cmp(&r->link_id, &op->pending_id) == 0 &&
               r->amount.units == op->amount.units && r->user_data == op->user_data;
    case XR_LEDGER_OP_VOID:
        return lg_id_cmp(&r->link_id, &op->pending_id) == 0 && r->user_data == op->user_data;
    default:
        return 0;
    }
}

static xr_amount result_amount(const lg_op_rec *r)
{
    xr_amount zero = {0};
    if (r->result != XR_OK)
        return zero;
    switch (r->kind) {
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE:
        return r->amount;
    case XR_LEDGER_OP_POST:
    case XR_LEDGER_OP_VOID:
        return r->amount_done;
    default:
        return zero;
    }
}

/* Result code classes: XR_OK, a stored failure (a property of the ledger's state), or a
 * batch-level error that aborts the whole batch. */
static int is_batch_error(xr_err err)
{
    return err == XR_ERR_IO || err == XR_ERR_CORRUPT || err == XR_ERR_NO_MEMORY ||
           err == XR_ERR_STORAGE_FULL || err == XR_ERR_INTERNAL;
}

static xr_err exec_create_account(xr_ledger *lg, const xr_ledger_op *op, lg_op_rec *rec)
{
    lg_batch *b = lg->batch;
    const xr_ledger_account_spec *s = &op->account;
    uint32_t slot;
    xr_err err = acc_get(lg, s->id, &slot);
    if (err != XR_OK)
        return err;
    if (b->acc[slot].exists)
        return XR_ERR_ALREADY_EXISTS;
    const xr_asset *asset = xr_assets_find(&lg->assets, s->asset);
    XR_ASSERT(asset != NULL); /* op_validate checked it */
    xr_ledger_account *a = acc_touch(b, slot);
    b->acc[slot].exists = 1;
    memset(a, 0, sizeof *a);
    a->id = s->id;
    memcpy(a->asset, asset->code, sizeof a->asset);
    a->scale = asset->scale;
    a->kind = s->kind;
    a->flags = s->flags;
    a->bank_id = s->bank_id;
    a->owner_id = s->owner_id;
    a->created_ns = b->ts;
    rec->status = XR_LEDGER_STATUS_DONE;
    return XR_OK;
}

static xr_err load_pair(xr_ledger *lg, uint64_t debit_id, uint64_t credit_id, uint32_t *ds,
                        uint32_t *cs)
{
    xr_err err = acc_get(lg, debit_id, ds);
    if (err != XR_OK)
        return err;
    return acc_get(lg, credit_id, cs);
}

static xr_err exec_transfer(xr_ledger *lg, const xr_ledger_op *op, lg_op_rec *rec,
                            xr_ledger_result *res)
{
    lg_batch *b = lg->batch;
    uint32_t ds, cs;
    xr_err err = load_pair(lg, op->debit_account_id, op->credit_account_id, &ds, &cs);
    if (err != XR_OK)
        return err;
    if (!b->acc[ds].exists || !b->acc[cs].exists)
        return XR_ERR_NOT_FOUND;
    const xr_ledger_account *d = &b->acc[ds].acc, *c = &b->acc[cs].acc;
    if (strcmp(d->asset, c->asset) != 0 || d->scale != c->scale)
        return XR_ERR_ASSET_MISMATCH;
    xr_i128 amt = op->amount.units;
    /* debits_posted + debits_pending stays within XR_I128_MAX, so available is exact. */
    xr_i128 d_out = d->debits_posted.units + d->debits_pending.units;
    if (!(d->flags & XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE) && d->credits_posted.units - d_out < amt)
        return XR_ERR_INSUFFICIENT_FUNDS;
    xr_i128 sum;
    if (!add_ok(d_out, amt, &sum) ||
        !add_ok(c->credits_posted.units + c->credits_pending.units, amt, &sum))
        return XR_ERR_OVERFLOW;

    xr_ledger_account *dw = acc_touch(b, ds), *cw = acc_touch(b, cs);
    if (op->kind == XR_LEDGER_OP_TRANSFER) {
        dw->debits_posted.units += amt;
        cw->credits_posted.units += amt;
        rec->first_entry_seq = entry_emit(b, &op->id, dw, -amt);
        entry_emit(b, &op->id, cw, amt);
        rec->amount_done.units = amt;
        rec->status = XR_LEDGER_STATUS_DONE;
    } else {
        dw->debits_pending.units += amt;
        cw->credits_pending.units += amt;
        rec->status = XR_LEDGER_STATUS_PENDING;
        if (op->deadline_ns != 0)
            expiry_queue(b, 1, op->deadline_ns, &op->id);
    }
    res->amount.units = amt;
    return XR_OK;
}

/* Releases reservation `r`'s hold on both accounts (post, void and expiry). */
static xr_err release_hold(xr_ledger *lg, const lg_op_rec *r, xr_ledger_account **dw,
                           xr_ledger_account **cw)
{
    lg_batch *b = lg->batch;
    uint32_t ds, cs;
    xr_err err = load_pair(lg, r->debit_account_id, r->credit_account_id, &ds, &cs);
    if (err != XR_OK)
        return err;
    /* A reservation's accounts existed when it was made and accounts are never deleted; the
     * counters hold at least the reservation. Anything else is damage. */
    if (!b->acc[ds].exists || !b->acc[cs].exists ||
        b->acc[ds].acc.debits_pending.units < r->amount.units ||
        b->acc[cs].acc.credits_pending.units < r->amount.units)
        return XR_ERR_CORRUPT;
    *dw = acc_touch(b, ds);
    *cw = acc_touch(b, cs);
    (*dw)->debits_pending.units -= r->amount.units;
    (*cw)->credits_pending.units -= r->amount.units;
    return XR_OK;
}

static xr_err exec_resolve(xr_ledger *lg, const xr_ledger_op *op, lg_op_rec *rec,
                           xr_ledger_result *res)
{
    lg_batch *b = lg->batch;
    uint32_t rs;
    int found;
    xr_err err = op_get(lg, &op->pending_id, &rs, &found);
    if (err != XR_OK)
        return err;
    /* A placeholder is a member of the running group that has not executed yet. */
    if (!found || b->ops[rs].state == SLOT_PLACEHOLDER)
        return XR_ERR_NOT_FOUND;
    const lg_op_rec *r = &b->ops[rs].rec;
    if (r->kind != XR_LEDGER_OP_RESERVE || r->status != XR_LEDGER_STATUS_PENDING)
        return XR_ERR_INVALID_STATE;
    /* Past its deadline a reservation is expired even if the sweep has not reached it. */
    if (r->deadline_ns != 0 && r->deadline_ns <= b->ts)
        return XR_ERR_INVALID_STATE;
    xr_i128 posted = 0;
    if (op->kind == XR_LEDGER_OP_POST) {
        posted = op->amount.units == 0 ? r->amount.units : op->amount.units;
        if (posted > r->amount.units)
            return XR_ERR_INVALID_AMOUNT;
    }
    xr_ledger_account *dw, *cw;
    err = release_hold(lg, r, &dw, &cw);
    if (err != XR_OK)
        return err;
    rec->debit_account_id = r->debit_account_id;
    rec->credit_account_id = r->credit_account_id;
    if (op->kind == XR_LEDGER_OP_POST) {
        /* The hold just released covered `posted`, so the posted sums cannot overflow and
         * the debit account's available balance cannot drop. */
        dw->debits_posted.units += posted;
        cw->credits_posted.units += posted;
        rec->first_entry_seq = entry_emit(b, &op->id, dw, -posted);
        entry_emit(b, &op->id, cw, posted);
        rec->amount_done.units = posted;
    } else {
        rec->amount_done = r->amount;
    }
    xr_ledger_id reservation_id = r->id;
    int64_t deadline = r->deadline_ns;
    lg_op_rec *rw = op_touch(b, rs);
    rw->status = op->kind == XR_LEDGER_OP_POST ? XR_LEDGER_STATUS_POSTED : XR_LEDGER_STATUS_VOIDED;
    rw->amount_done.units = posted;
    rw->link_id = op->id;
    rw->resolved_ns = b->ts;
    if (deadline != 0)
        expiry_queue(b, 0, deadline, &reservation_id);
    rec->status = XR_LEDGER_STATUS_DONE;
    res->amount = rec->amount_done;
    return XR_OK;
}

static xr_err exec_op(xr_ledger *lg, const xr_ledger_op *op, lg_op_rec *rec, xr_ledger_result *res)
{
    switch (op->kind) {
    case XR_LEDGER_OP_CREATE_ACCOUNT:
        return exec_create_account(lg, op, rec);
    case XR_LEDGER_OP_TRANSFER:
    case XR_LEDGER_OP_RESERVE:
        return exec_transfer(lg, op, rec, res);
    case XR_LEDGER_OP_POST:
    case XR_LEDGER_OP_VOID:
        return exec_resolve(lg, op, rec, res);
    default:
        return XR_ERR_INTERNAL;
    }
}

/* ---- groups ---------------------------------------------------------------------------- */

static void group_fail(xr_ledger_result *results, size_t i0, size_t i1, xr_err err, size_t at)
{
    for (size_t k = i0; k <= i1; k++) {
        memset(&results[k], 0, sizeof results[k]);
        results[k].err = err;
        results[k].failed_index = (uint32_t)at;
    }
}

static xr_err group_replay(xr_ledger *lg, const xr_ledger_op *ops, size_t n, size_t i0, size_t i1,
                           xr_ledger_result *results)
{
    lg_batch *b = lg->batch;
    for (size_t k = i0; k <= i1; k++) {
        xr_ledger_result *res = &results[k];
        memset(res, 0, sizeof *res);
        res->failed_index = XR_LEDGER_NO_INDEX;
        uint32_t slot;
        int found = 0;
        if (!xr_ledger_id_is_zero(&ops[k].id)) {
            xr_err err = op_get(lg, &ops[k].id, &slot, &found);
            if (err != XR_OK)
                return err;
        }
        if (!found || !same_content(&b->ops[slot].rec, &ops[k])) {
            res->err = XR_ERR_IDEMPOTENCY_CONFLICT;
            res->failed_index = (uint32_t)k;
            continue;
        }
        const lg_op_rec *r = &b->ops[slot].rec;
        res->err = r->result;
        res->replayed = 1;
        res->timestamp_ns = r->timestamp_ns;
        res->amount = result_amount(r);
        if (r->result != XR_OK) {
            int64_t at = (int64_t)k + r->failed_offset;
            res->failed_index = at >= 0 && at < (int64_t)n ? (uint32_t)at : (uint32_t)k;
        }
    }
    return XR_OK;
}

/* Runs ops[i0..i1] (inclusive) as one all-or-nothing group. Returns a batch-level error or
 * XR_OK; the group's own outcome goes to results. */
static xr_err group_apply(xr_ledger *lg, const xr_ledger_op *ops, size_t n, size_t i0, size_t i1,
                          xr_ledger_result *results)
{
    lg_batch *b = lg->batch;
    b->logging = 1;
    b->undo_n = b->acc_old_n = b->op_old_n = 0;
    batch_mark m = mark_take(b);
    xr_err err;

    /* 1. A group whose first id is known is a resend: answer from storage, run nothing. */
    uint32_t slot;
    int found = 0;
    if (!xr_ledger_id_is_zero(&ops[i0].id)) {
        err = op_get(lg, &ops[i0].id, &slot, &found);
        if (err != XR_OK)
            return err;
    }
    if (found) {
        XR_ASSERT(b->ops[slot].state != SLOT_PLACEHOLDER);
        b->logging = 0;
        return group_replay(lg, ops, n, i0, i1, results);
    }

    /* 2. Every member of a new group must be new, and distinct: each claims a placeholder.
     * The placeholders take consecutive record slots from `base` on (a lookup that misses
     * claims no slot). */
    uint32_t base = b->op_n;
    for (size_t k = i0; k <= i1; k++) {
        if (xr_ledger_id_is_zero(&ops[k].id)) {
            mark_rewind(b, &m);
            group_fail(results, i0, i1, XR_ERR_INVALID_ARGUMENT, k);
            b->logging = 0;
            return XR_OK;
        }
        if (k > i0) {
            err = op_get(lg, &ops[k].id, &slot, &found);
            if (err != XR_OK)
                return err;
        }
        if (found) {
            mark_rewind(b, &m);
            group_fail(results, i0, i1, XR_ERR_IDEMPOTENCY_CONFLICT, k);
            b->logging = 0;
            return XR_OK;
        }
        if (k + 1 < n)
            prefetch_op(b, &ops[k + 1]);
        /* The miss just reported (for k == i0, in step 1) left the position to use. */
        op_insert_at(b, b->miss_pos, &ops[k].id, SLOT_PLACEHOLDER, NULL);
    }

    /* 3. Input checks. */
    for (size_t k = i0; k <= i1; k++) {
        err = op_validate(lg, &ops[k], b->ts);
        if (err != XR_OK) {
            mark_rewind(b, &m);
            group_fail(results, i0, i1, err, k);
            b->logging = 0;
            return XR_OK;
        }
    }

    /* 4. Execute against the overlay; a failure unwinds the whole group. */
    for (size_t k = i0; k <= i1; k++) {
        xr_ledger_result *res = &results[k];
        memset(res, 0, sizeof *res);
        res->failed_index = XR_LEDGER_NO_INDEX;
        res->timestamp_ns = b->ts;
        uint32_t own = base + (uint32_t)(k - i0);
        XR_ASSERT(b->ops[own].state == SLOT_PLACEHOLDER && id_eq(&b->ops[own].rec.id, &ops[k].id));
        lg_op_rec rec;
        memset(&rec, 0, sizeof rec);
        rec.id = ops[k].id;
        op_to_rec(&ops[k], &rec);
        rec.timestamp_ns = b->ts;
        err = exec_op(lg, &ops[k], &rec, res);
        if (is_batch_error(err))
            return err;
        if (err != XR_OK) {
            mark_rewind(b, &m);
            b->logging = 0;
            /* Store the failure for every member, so a resend gets the same answer. */
            for (size_t j = i0; j <= i1; j++) {
                uint32_t fs;
                op_slot *f = op_insert(b, &ops[j].id, SLOT_NEW, &fs);
                op_to_rec(&ops[j], &f->rec);
                f->rec.result = err;
                f->rec.status = XR_LEDGER_STATUS_FAILED;
                f->rec.failed_offset = (int32_t)((int64_t)k - (int64_t)j);
                f->rec.timestamp_ns = b->ts;
                op_list_new(b, fs);
                xr_ledger_result *r = &results[j];
                memset(r, 0, sizeof *r);
                r->err = err;
                r->failed_index = (uint32_t)k;
                r->timestamp_ns = b->ts;
            }
            return XR_OK;
        }
        rec.result = XR_OK;
        b->ops[own].rec = rec;
        op_list_new(b, own);
    }
    b->logging = 0;
    return XR_OK;
}

/* ---- expiry sweep ---------------------------------------------------------------------- */

static xr_err sweep_expired(xr_ledger *lg)
{
    lg_batch *b = lg->batch;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(b->txn, lg->db_expiry, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    xr_err err = XR_OK;
    while (b->swept < lg->max_expire_per_batch) {
        MDB_val key, val;
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != MDB_SUCCESS) {
            err = lg_mdb_err(rc);
            break;
        }
        if (key.mv_size != LG_EXPIRY_KEY_SIZE) {
            err = XR_ERR_CORRUPT;
            break;
        }
        const uint8_t *k = key.mv_data;
        uint64_t deadline = 0;
        for (int i = 0; i < 8; i++)
            deadline = deadline << 8 | k[i];
        if ((int64_t)deadline > b->ts)
            break;
        xr_ledger_id id;
        memcpy(id.bytes, k + 8, 16);
        uint32_t rs;
        int found;
        err = op_get(lg, &id, &rs, &found);
        if (err != XR_OK)
            break;
        if (!found || b->ops[rs].rec.kind != XR_LEDGER_OP_RESERVE ||
            b->ops[rs].rec.status != XR_LEDGER_STATUS_PENDING ||
            b->ops[rs].rec.deadline_ns != (int64_t)deadline) {
            err = XR_ERR_CORRUPT;
            break;
        }
        lg_op_rec r = b->ops[rs].rec;
        xr_ledger_account *dw, *cw;
        err = release_hold(lg, &r, &dw, &cw);
        if (err != XR_OK)
            break;
        lg_op_rec *rw = op_touch(b, rs);
        rw->status = XR_LEDGER_STATUS_EXPIRED;
        rw->resolved_ns = b->ts;
        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            err = lg_mdb_err(rc);
            break;
        }
        b->swept++;
    }
    mdb_cursor_close(cur);
    return err;
}

/* ---- chain hashing ---------------------------------------------------------------------- */

/* The chain value of entry k is SHA-256's intermediate hash after absorbing the 64-byte blocks
 * of entries 1..k: one compression per entry, and the finalised digest of the whole log is the
 * plain SHA-256 of the concatenated blocks. */
static void chain_extend(br_sha256_context *chain, lg_entry_raw *e, uint32_t from, uint32_t to)
{
    if (from < to && lg_sha_ni_available()) {
        /* The same compressions with the SHA extensions (ledger_sha.c), ~10x faster. */
        uint8_t state[32];
        uint64_t count = br_sha256_state(chain, state);
        XR_ASSERT(count % LG_ENTRY_BLOCK == 0); /* the chain absorbs whole blocks only */
        lg_sha256_chain_ni(state, e[from].b, sizeof e[0], to - from, 72);
        br_sha256_set_state(chain, state, count + (uint64_t)(to - from) * LG_ENTRY_BLOCK);
        return;
    }
    for (uint32_t i = from; i < to; i++) {
        br_sha256_update(chain, e[i].b, LG_ENTRY_BLOCK);
        br_sha256_state(chain, e[i].b + 72);
    }
}

static void *hasher_main(void *arg)
{
    lg_hasher *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->done == h->ready)
            pthread_cond_wait(&h->work_cv, &h->mu);
        if (h->stop)
            break;
        uint32_t from = h->done, to = h->ready;
        pthread_mutex_unlock(&h->mu);
        chain_extend(&h->ctx, h->entries, from, to);
        pthread_mutex_lock(&h->mu);
        h->done = to;
        pthread_cond_signal(&h->done_cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Hands entries [0, entry_n) to the helper once enough have accumulated (or `force`). */
static void hasher_publish(xr_ledger *lg, int force)
{
    lg_batch *b = lg->batch;
    lg_hasher *h = b->hasher;
    if (h == NULL || b->entry_n == b->published || (!force && b->entry_n - b->published < h->chunk))
        return;
    pthread_mutex_lock(&h->mu);
    if (b->published == 0) {
        h->ctx = lg->chain;
        h->done = 0;
    }
    h->ready = b->entry_n;
    pthread_cond_signal(&h->work_cv);
    pthread_mutex_unlock(&h->mu);
    b->published = b->entry_n;
}

/* Waits until the helper has hashed everything published; returns its chain in `chain`. */
static void hasher_wait(lg_batch *b, br_sha256_context *chain)
{
    lg_hasher *h = b->hasher;
    pthread_mutex_lock(&h->mu);
    while (h->done != h->ready)
        pthread_cond_wait(&h->done_cv, &h->mu);
    if (chain != NULL)
        *chain = h->ctx;
    h->ready = h->done = 0;
    pthread_mutex_unlock(&h->mu);
    b->published = 0;
}

/* Makes every entry of the batch carry its chain value; `chain` goes in as the committed
 * chain and comes out extended over the batch. */
static void chain_finish(xr_ledger *lg, br_sha256_context *chain)
{
    lg_batch *b = lg->batch;
    if (b->published == 0) {
        chain_extend(chain, b->entries, 0, b->entry_n);
        return;
    }
    hasher_publish(lg, 1);
    hasher_wait(b, chain);
}

static void hasher_stop(lg_hasher *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_signal(&h->work_cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->work_cv);
    pthread_cond_destroy(&h->done_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static lg_hasher *hasher_start(lg_entry_raw *entries, uint32_t chunk)
{
    lg_hasher *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->entries = entries;
    h->chunk = chunk != 0 ? chunk : LG_HASH_CHUNK;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return NULL;
    }
    pthread_cond_init(&h->work_cv, NULL);
    pthread_cond_init(&h->done_cv, NULL);
    if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
        pthread_cond_destroy(&h->work_cv);
        pthread_cond_destroy(&h->done_cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    return h;
}

/* ---- flush ------------------------------------------------------------------------------- */

/* Orders of the records flushed: op slots by id, account slots by id, expiry actions by key. */
typedef int (*slot_cmp)(const lg_batch *b, uint32_t x, uint32_t y);

static int op_slot_cmp(const lg_batch *b, uint32_t x, uint32_t y)
{
    return lg_id_cmp(&b->ops[x].rec.id, &b->ops[y].rec.id);
}

static int acc_slot_cmp(const lg_batch *b, uint32_t x, uint32_t y)
{
    uint64_t a = b->acc[x].acc.id, c = b->acc[y].acc.id;
    return a < c ? -1 : a > c;
}

static int exp_cmp(const lg_batch *b, uint32_t x, uint32_t y)
{
    return memcmp(b->exp[x].key, b->exp[y].key, LG_EXPIRY_KEY_SIZE);
}

/* Bottom-up merge sort of slot indices (stable, no recursion, no allocation). */
static void sort_slots(const lg_batch *b, uint32_t *a, uint32_t *tmp, uint32_t n, slot_cmp cmp)
{
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n;
            uint32_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            uint32_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = cmp(b, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid)
                tmp[o++] = a[i++];
            while (j < hi)
                tmp[o++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

static void sort_if_needed(const lg_batch *b, uint32_t *a, uint32_t *tmp, uint32_t n, slot_cmp cmp)
{
    for (uint32_t i = 1; i < n; i++) {
        if (cmp(b, a[i - 1], a[i]) > 0) {
            sort_slots(b, a, tmp, n, cmp);
            return;
        }
    }
}

static xr_err flush_ops(xr_ledger *lg, xr_ledger_id *max_id)
{
    lg_batch *b = lg->batch;
    uint8_t buf[LG_OP_SIZE];
    /* Resolved reservations, in key order through one cursor: they were created together, so
     * consecutive ones mostly share a leaf and need no search from the root. */
    sort_if_needed(b, b->op_upd, b->sort_tmp, b->op_upd_n, op_slot_cmp);
    xr_err err = batch_cursor(b, lg->db_ops, &b->op_cur);
    if (err != XR_OK)
        return err;
    for (uint32_t i = 0; i < b->op_upd_n; i++) {
        const lg_op_rec *r = &b->ops[b->op_upd[i]].rec;
        lg_op_encode(r, buf);
        MDB_val key = {16, (void *)r->id.bytes}, val = {LG_OP_SIZE, buf};
        int rc = mdb_cursor_put(b->op_cur, &key, &val, 0);
        if (rc != MDB_SUCCESS)
            return lg_mdb_err(rc);
    }
    sort_if_needed(b, b->op_new, b->sort_tmp, b->op_new_n, op_slot_cmp);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(b->txn, lg->db_ops, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    for (uint32_t i = 0; i < b->op_new_n; i++) {
        const lg_op_rec *r = &b->ops[b->op_new[i]].rec;
        lg_op_encode(r, buf);
        MDB_val key = {16, (void *)r->id.bytes}, val = {LG_OP_SIZE, buf};
        /* Appending fills pages completely and skips the search; it refuses a key that is
         * not above the last one, and then an ordinary insert places it. */
        rc = mdb_cursor_put(cur, &key, &val, MDB_APPEND);
        if (rc == MDB_KEYEXIST)
            rc = mdb_cursor_put(cur, &key, &val, MDB_NOOVERWRITE);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            return rc == MDB_KEYEXIST ? XR_ERR_INTERNAL : lg_mdb_err(rc);
        }
        if (lg_id_cmp(&r->id, max_id) > 0)
            *max_id = r->id;
    }
    mdb_cursor_close(cur);
    return XR_OK;
}

static xr_err flush_accounts(xr_ledger *lg)
{
    lg_batch *b = lg->batch;
    uint8_t buf[LG_ACCOUNT_SIZE];
    /* In key order through one cursor, so neighbours on one leaf are found without a search. */
    sort_if_needed(b, b->acc_dirty, b->sort_tmp, b->acc_dirty_n, acc_slot_cmp);
    xr_err err = batch_cursor(b, lg->db_accounts, &b->acc_cur);
    if (err != XR_OK)
        return err;
    for (uint32_t i = 0; i < b->acc_dirty_n; i++) {
        const acc_slot *s = &b->acc[b->acc_dirty[i]];
        XR_ASSERT(s->exists);
        lg_account_encode(&s->acc, buf);
        uint64_t id = s->acc.id;
        MDB_val key = {sizeof id, &id}, val = {LG_ACCOUNT_SIZE, buf};
        int rc = mdb_cursor_put(b->acc_cur, &key, &val, 0);
        if (rc != MDB_SUCCESS)
            return lg_mdb_err(rc);
    }
    return XR_OK;
}

/* Appends the batch's entries, whose chain values chain_finish has filled in. */
static xr_err flush_entries(xr_ledger *lg)
{
    lg_batch *b = lg->batch;
    if (b->entry_n == 0)
        return XR_OK;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(b->txn, lg->db_entries, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    uint64_t seq = lg->entry_count + 1;
    for (uint32_t i = 0; i < b->entry_n; i++, seq++) {
        MDB_val key = {sizeof seq, &seq}, val = {LG_ENTRY_SIZE, b->entries[i].b};
        rc = mdb_cursor_put(cur, &key, &val, MDB_APPEND);
        if (rc != MDB_SUCCESS)
            break;
    }
    mdb_cursor_close(cur);
    /* A refused append means a key above the chain's head exists: the log is damaged. */
    if (rc == MDB_KEYEXIST)
        return XR_ERR_CORRUPT;
    return rc == MDB_SUCCESS ? XR_OK : lg_mdb_err(rc);
}

static xr_err flush_expiry(xr_ledger *lg)
{
    lg_batch *b = lg->batch;
    if (b->exp_n == 0)
        return XR_OK;
    /* In key order (deadline, then id) through one cursor: the reservations a batch resolves
     * were mostly made together and sit side by side, as do the ones it makes. The sort is
     * stable, so a reservation made and resolved in this batch is inserted before it is
     * deleted. */
    for (uint32_t i = 0; i < b->exp_n; i++)
        b->exp_order[i] = i;
    sort_if_needed(b, b->exp_order, b->sort_tmp, b->exp_n, exp_cmp);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(b->txn, lg->db_expiry, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    for (uint32_t i = 0; i < b->exp_n && rc == MDB_SUCCESS; i++) {
        const expiry_action *x = &b->exp[b->exp_order[i]];
        MDB_val key = {LG_EXPIRY_KEY_SIZE, (void *)x->key}, val = {0, NULL};
        if (x->insert) {
            rc = mdb_cursor_put(cur, &key, &val, MDB_NOOVERWRITE);
        } else {
            rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
            if (rc == MDB_SUCCESS)
                rc = mdb_cursor_del(cur, 0);
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_SUCCESS)
        return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? XR_ERR_CORRUPT : lg_mdb_err(rc);
    return XR_OK;
}

static xr_err durable_sync(xr_ledger *lg)
{
    if (lg->durability != XR_LEDGER_DURABLE)
        return XR_OK;
    int rc;
    if (lg->sync_hook != NULL) {
        mdb_filehandle_t fd;
        rc = mdb_env_get_fd(lg->env, &fd);
        if (rc == MDB_SUCCESS)
            rc = lg->sync_hook(lg->sync_ctx, fd);
    } else {
        rc = mdb_env_sync(lg->env, 1);
    }
    if (rc == 0)
        return XR_OK;
    lg->poisoned = 1;
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "ledger", "sync_failed");
    xr_log_i64(&l, "errno", rc);
    xr_log_str(&l, "action", "refusing writes until the ledger is reopened");
    xr_log_end(&l);
    return XR_ERR_IO;
}

/* Writes the batch and commits it durably. On any error the transaction is gone and the
 * committed in-memory state is untouched, except after a failed sync (see durable_sync). */
static xr_err batch_commit(xr_ledger *lg)
{
    lg_batch *b = lg->batch;
    if (b->op_new_n == 0 && b->op_upd_n == 0 && b->acc_dirty_n == 0 && b->entry_n == 0 &&
        b->exp_n == 0 && b->swept == 0 && b->aux_n == 0) {
        /* Only replays and unstored failures: nothing to make durable (auxiliary records
         * written without any op, e.g. an order record's new children, are: aux_n). */
        batch_txn_end(b, 0);
        return XR_OK;
    }
    br_sha256_context chain = lg->chain;
    xr_ledger_id max_id = lg->max_op_id;
    /* When the helper is already at work on this batch, it gets the last entries now and
     * hashes them while the op and account records are written. A batch that never reached
     * chunk of entries hashes inline: a thread wake-up costs more than the hashing. */
    if (b->published != 0)
        hasher_publish(lg, 1);
    xr_err err = flush_ops(lg, &max_id);
    if (err == XR_OK)
        err = flush_accounts(lg);
    if (err == XR_OK)
        err = flush_expiry(lg);
    if (err == XR_OK) {
        MDB_val key = {sizeof LG_META_LAST_TS - 1, (void *)LG_META_LAST_TS};
        MDB_val val = {sizeof b->ts, &b->ts};
        err = lg_mdb_err(mdb_put(b->txn, lg->db_meta, &key, &val, 0));
    }
    chain_finish(lg, &chain);
    if (err == XR_OK)
        err = flush_entries(lg);
    if (err != XR_OK) {
        batch_txn_end(b, 0);
        return err;
    }
    int rc = batch_txn_end(b, 1);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    lg->entry_count += b->entry_n;
    lg->chain = chain;
    lg->max_op_id = max_id;
    lg->last_ts = b->ts;
    return durable_sync(lg);
}

static void log_batch_error(xr_err err, size_t n)
{
    xr_log_line l;
    xr_log_begin(&l, err == XR_ERR_STORAGE_FULL ? XR_LOG_ERROR : XR_LOG_WARN, "ledger",
                 "batch_failed");
    xr_log_err(&l, err);
    xr_log_u64(&l, "ops", n);
    xr_log_end(&l);
}

/* Writes the auxiliary records whose condition holds, in the batch's transaction. */
static xr_err aux_write(xr_ledger *lg, const xr_ledger_result *results, size_t n,
                        const xr_ledger_aux_put *aux, size_t naux)
{
    for (size_t i = 0; i < naux; i++) {
        const xr_ledger_aux_put *a = &aux[i];
        if (a->if_op != XR_LEDGER_NO_INDEX) {
            if (a->if_op >= n)
                return XR_ERR_INVALID_ARGUMENT;
            if (results[a->if_op].err != XR_OK || results[a->if_op].replayed)
                continue;
        }
        MDB_val k = {a->key_len, (void *)a->key}, v = {a->val_len, (void *)a->val};
        int rc = mdb_put(lg->batch->txn, lg->db_aux, &k, &v, 0);
        if (rc != MDB_SUCCESS)
            return lg_mdb_err(rc);
        lg->batch->aux_n++;
    }
    return XR_OK;
}

static xr_err execute(xr_ledger *lg, const xr_ledger_op *ops, size_t n, xr_ledger_result *results,
                      uint32_t *expired, const xr_ledger_aux_put *aux, size_t naux)
{
    if (lg->read_only)
        return XR_ERR_INVALID_STATE;
    if (lg->poisoned)
        return XR_ERR_IO;
    if (n > lg->max_batch_ops)
        return XR_ERR_INVALID_ARGUMENT;
    lg_batch *b = lg->batch;
    XR_ASSERT(b->txn == NULL);
    int rc = mdb_txn_begin(lg->env, NULL, 0, &b->txn);
    if (rc != MDB_SUCCESS) {
        b->txn = NULL;
        return lg_mdb_err(rc);
    }
    if (++b->gen == 0) {
        /* After 2^32 batches the generation wraps: clear the tables once. */
        for (uint32_t i = 0; i <= b->acc_mask_max; i++)
            b->acc_ix[i].gen = 0;
        for (uint32_t i = 0; i <= b->op_mask_max; i++)
            b->op_ix[i].gen = 0;
        b->gen = 1;
    }
    /* Size the indexes for this batch (as batch_alloc does for the largest one): a batch of
     * 256 trades then probes ~200 KiB that stay in the cache instead of megabytes spread for
     * the largest batch. Entries outside the range used are simply of an older generation. */
    uint64_t acc_lim = 2 * (uint64_t)n + 2 * (uint64_t)lg->max_expire_per_batch;
    uint64_t op_lim = 2 * (uint64_t)n + lg->max_expire_per_batch;
    b->acc_lim = (uint32_t)acc_lim;
    b->op_lim = (uint32_t)op_lim;
    b->acc_mask = pow2_at_least(2 * acc_lim) - 1;
    b->op_mask = pow2_at_least(2 * op_lim) - 1;
    XR_ASSERT(b->acc_lim <= b->acc_cap && b->acc_mask <= b->acc_mask_max);
    XR_ASSERT(b->op_lim <= b->op_cap && b->op_mask <= b->op_mask_max);
    int64_t now = lg->clock_ns(lg->clock_ctx);
    /* Batch times strictly increase, even if the wall clock steps back. */
    b->ts = now > lg->last_ts ? now : lg->last_ts + 1;
    b->acc_n = b->op_n = 0;
    b->acc_dirty_n = b->op_new_n = b->op_upd_n = b->entry_n = b->exp_n = 0;
    b->undo_n = b->acc_old_n = b->op_old_n = 0;
    b->next_seq = lg->entry_count + 1;
    b->logging = 0;
    b->swept = 0;
    b->aux_n = 0;
    b->published = 0;

    xr_err err = sweep_expired(lg);
    size_t i = 0;
    while (err == XR_OK && i < n) {
        size_t j = i;
        while (j < n && (ops[j].flags & XR_LEDGER_OP_LINKED))
            j++;
        if (j == n) {
            /* The last op says "linked with the next" but there is none. */
            group_fail(results, i, n - 1, XR_ERR_INVALID_ARGUMENT, n - 1);
            break;
        }
        err = group_apply(lg, ops, n, i, j, results);
        if (err == XR_OK)
            hasher_publish(lg, 0);
        i = j + 1;
    }
    if (err != XR_OK) {
        if (b->published != 0)
            hasher_wait(b, NULL); /* the entries array is about to be reused */
        batch_txn_end(b, 0);
        return err;
    }
    if (naux > 0)
        err = aux_write(lg, results, n, aux, naux);
    if (err != XR_OK) {
        if (b->published != 0)
            hasher_wait(b, NULL);
        batch_txn_end(b, 0);
        return err;
    }
    uint32_t swept = b->swept;
    err = batch_commit(lg);
    if (err == XR_OK && expired != NULL)
        *expired = swept;
    return err;
}

xr_err xr_ledger_execute(xr_ledger *lg, const xr_ledger_op *ops, size_t n,
                         xr_ledger_result *results)
{
    if (lg == NULL || (n > 0 && (ops == NULL || results == NULL)))
        return XR_ERR_INVALID_ARGUMENT;
    xr_err err = execute(lg, ops, n, results, NULL, NULL, 0);
    if (err != XR_OK) {
        fill_error(results, n, err);
        log_batch_error(err, n);
    }
    return err;
}

xr_err xr_ledger_execute_aux(xr_ledger *lg, const xr_ledger_op *ops, size_t n,
                             xr_ledger_result *results, const xr_ledger_aux_put *aux, size_t naux)
{
    if (lg == NULL || (n > 0 && (ops == NULL || results == NULL)) || (naux > 0 && aux == NULL))
        return XR_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < naux; i++)
        if (aux[i].key == NULL || aux[i].key_len == 0 || aux[i].key_len > XR_LEDGER_AUX_KEY_MAX ||
            (aux[i].val == NULL && aux[i].val_len > 0) || aux[i].val_len > XR_LEDGER_AUX_VAL_MAX)
            return XR_ERR_INVALID_ARGUMENT;
    xr_err err = execute(lg, ops, n, results, NULL, aux, naux);
    if (err != XR_OK) {
        fill_error(results, n, err);
        log_batch_error(err, n);
    }
    return err;
}

xr_err xr_ledger_expire_due(xr_ledger *lg, uint32_t *expired)
{
    if (lg == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (expired != NULL)
        *expired = 0;
    xr_err err = execute(lg, NULL, 0, NULL, expired, NULL, 0);
    if (err != XR_OK)
        log_batch_error(err, 0);
    return err;
}

/* ---- open / close ------------------------------------------------------------------------ */

static void batch_free(lg_batch *b)
{
    if (b == NULL)
        return;
    hasher_stop(b->hasher);
    free(b->acc_ix);
    free(b->acc);
    free(b->acc_dirty);
    free(b->op_ix);
    free(b->ops);
    free(b->op_new);
    free(b->op_upd);
    free(b->sort_tmp);
    free(b->entries);
    free(b->exp);
    free(b->exp_order);
    free(b->undo);
    free(b->acc_old);
    free(b->op_old);
    free(b);
}

static lg_batch *batch_alloc(uint32_t max_ops, uint32_t max_expire)
{
    lg_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    uint64_t m = max_ops, e = max_expire;
    /* An op touches at most two accounts and two records (itself and a reservation); an
     * expiry touches two accounts and one record. Tables stay at most half full. */
    uint64_t acc_max = 2 * m + 2 * e, op_max = 2 * m + e;
    b->acc_mask = b->acc_mask_max = pow2_at_least(2 * acc_max) - 1;
    b->op_mask = b->op_mask_max = pow2_at_least(2 * op_max) - 1;
    b->acc_cap = (uint32_t)acc_max;
    b->op_cap = (uint32_t)op_max;
    b->entry_cap = (uint32_t)(2 * m);
    b->exp_cap = (uint32_t)(m + 1);
    b->undo_cap = (uint32_t)(8 * m + 8);
    b->acc_old_cap = (uint32_t)(2 * m + 2);
    b->op_old_cap = (uint32_t)(m + 1);
    b->acc_ix = calloc((size_t)b->acc_mask + 1, sizeof *b->acc_ix);
    b->acc = calloc(b->acc_cap, sizeof *b->acc);
    b->acc_dirty = calloc(b->acc_cap, sizeof *b->acc_dirty);
    b->op_ix = calloc((size_t)b->op_mask + 1, sizeof *b->op_ix);
    b->ops = calloc(b->op_cap, sizeof *b->ops);
    b->op_new = calloc(b->op_cap, sizeof *b->op_new);
    b->op_upd = calloc(b->op_cap, sizeof *b->op_upd);
    /* sort_tmp serves op, account and expiry orders. */
    b->sort_tmp = calloc(b->acc_cap > b->op_cap ? b->acc_cap : b->op_cap, sizeof *b->sort_tmp);
    b->entries = calloc(b->entry_cap ? b->entry_cap : 1, sizeof *b->entries);
    b->exp = calloc(b->exp_cap, sizeof *b->exp);
    b->exp_order = calloc(b->exp_cap, sizeof *b->exp_order);
    b->undo = calloc(b->undo_cap, sizeof *b->undo);
    b->acc_old = calloc(b->acc_old_cap, sizeof *b->acc_old);
    b->op_old = calloc(b->op_old_cap, sizeof *b->op_old);
    if (!b->acc_ix || !b->acc || !b->acc_dirty || !b->op_ix || !b->ops || !b->op_new ||
        !b->op_upd || !b->sort_tmp || !b->entries || !b->exp || !b->exp_order || !b->undo ||
        !b->acc_old || !b->op_old) {
        batch_free(b);
        return NULL;
    }
    return b;
}

/* Reads what the writer keeps in memory: the entry count and chain, the largest op id and the
 * last batch time. */
static xr_err load_committed_state(xr_ledger *lg, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val key, val;
    br_sha256_init(&lg->chain);
    lg->entry_count = 0;
    int rc = mdb_cursor_open(txn, lg->db_entries, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_SUCCESS) {
        xr_ledger_entry e;
        if (key.mv_size != 8 ||
            lg_entry_decode(lg_get_u64(key.mv_data), val.mv_data, val.mv_size, &e) != XR_OK)
            return XR_ERR_CORRUPT;
        lg->entry_count = e.seq;
        br_sha256_set_state(&lg->chain, e.chain, e.seq * LG_ENTRY_BLOCK);
    } else if (rc != MDB_NOTFOUND) {
        return lg_mdb_err(rc);
    }
    memset(&lg->max_op_id, 0, sizeof lg->max_op_id);
    rc = mdb_cursor_open(txn, lg->db_ops, &cur);
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_SUCCESS) {
        if (key.mv_size != 16)
            return XR_ERR_CORRUPT;
        memcpy(lg->max_op_id.bytes, key.mv_data, 16);
    } else if (rc != MDB_NOTFOUND) {
        return lg_mdb_err(rc);
    }
    lg->last_ts = 0;
    key = (MDB_val){sizeof LG_META_LAST_TS - 1, (void *)LG_META_LAST_TS};
    rc = mdb_get(txn, lg->db_meta, &key, &val);
    if (rc == MDB_SUCCESS) {
        if (val.mv_size != 8)
            return XR_ERR_CORRUPT;
        lg->last_ts = lg_get_i64(val.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return lg_mdb_err(rc);
    }
    return XR_OK;
}

static xr_err open_databases(xr_ledger *lg, MDB_txn *txn)
{
    unsigned create = lg->read_only ? 0 : MDB_CREATE;
    struct {
        const char *name;
        unsigned flags;
        MDB_dbi *dbi;
    } dbs[] = {
        {LG_DB_META, 0, &lg->db_meta},     {LG_DB_ACCOUNTS, MDB_INTEGERKEY, &lg->db_accounts},
        {LG_DB_OPS, 0, &lg->db_ops},       {LG_DB_ENTRIES, MDB_INTEGERKEY, &lg->db_entries},
        {LG_DB_EXPIRY, 0, &lg->db_expiry},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | create, dbs[i].dbi);
        if (rc != MDB_SUCCESS)
            return rc == MDB_NOTFOUND ? XR_ERR_NOT_FOUND : lg_mdb_err(rc);
    }
    /* The aux database came after format 1 was released: a writer adds it, a read-only view
     * of an older ledger simply has none. */
    int arc = mdb_dbi_open(txn, LG_DB_AUX, create, &lg->db_aux);
    if (arc == MDB_SUCCESS)
        lg->has_aux = 1;
    else if (arc != MDB_NOTFOUND)
        return lg_mdb_err(arc);
    MDB_val key = {sizeof LG_META_FORMAT - 1, (void *)LG_META_FORMAT}, val;
    int rc = mdb_get(txn, lg->db_meta, &key, &val);
    if (rc == MDB_NOTFOUND && !lg->read_only) {
        uint32_t v = LG_FORMAT_VERSION;
        val = (MDB_val){sizeof v, &v};
        rc = mdb_put(txn, lg->db_meta, &key, &val, 0);
        return lg_mdb_err(rc);
    }
    if (rc == MDB_NOTFOUND)
        return XR_ERR_NOT_FOUND;
    if (rc != MDB_SUCCESS)
        return lg_mdb_err(rc);
    uint32_t v;
    if (val.mv_size != sizeof v)
        return XR_ERR_CORRUPT;
    memcpy(&v, val.mv_data, sizeof v);
    return v == LG_FORMAT_VERSION ? XR_OK : XR_ERR_CORRUPT;
}

xr_err xr_ledger_open(const xr_ledger_config *cfg, xr_ledger **out)
{
    if (cfg == NULL || out == NULL || cfg->dir == NULL || cfg->dir[0] == '\0')
        return XR_ERR_INVALID_ARGUMENT;
    if (cfg->max_batch_ops > LG_MAX_BATCH_OPS || cfg->max_expire_per_batch > LG_MAX_BATCH_OPS ||
        (cfg->durability != XR_LEDGER_DURABLE &&
         cfg->durability != XR_LEDGER_NO_SYNC_BENCHMARK_ONLY))
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    xr_ledger *lg = calloc(1, sizeof *lg);
    if (lg == NULL)
        return XR_ERR_NO_MEMORY;
    lg->read_only = cfg->read_only != 0;
    lg->durability = cfg->durability;
    lg->max_batch_ops = cfg->max_batch_ops ? cfg->max_batch_ops : LG_DEFAULT_BATCH_OPS;
    lg->max_expire_per_batch =
        cfg->max_expire_per_batch ? cfg->max_expire_per_batch : LG_DEFAULT_EXPIRE_MAX;
    if (cfg->assets != NULL)
        lg->assets = *cfg->assets;
    else
        xr_assets_init_default(&lg->assets);
    lg->clock_ns = cfg->clock_ns ? cfg->clock_ns : default_clock;
    lg->clock_ctx = cfg->clock_ctx;
    lg->sync_hook = cfg->sync_hook;
    lg->sync_ctx = cfg->sync_ctx;

    xr_err err = XR_OK;
    if (!lg->read_only) {
        if (mkdir(cfg->dir, 0750) != 0 && errno != EEXIST) {
            err = XR_ERR_IO;
            goto fail;
        }
    }
    int rc = mdb_env_create(&lg->env);
    if (rc != MDB_SUCCESS) {
        lg->env = NULL;
        err = lg_mdb_err(rc);
        goto fail;
    }
    mdb_env_set_maxdbs(lg->env, 8);
    if (!lg->read_only)
        mdb_env_set_mapsize(lg->env,
                            cfg->map_size_bytes ? cfg->map_size_bytes : LG_DEFAULT_MAP_SIZE);
    /* Durable mode lets LMDB sync the data pages before it writes the meta page (integrity)
     * and makes the meta page durable with our own sync after the commit (durability): the
     * same two syncs as LMDB's default, with the second one ours to check and to inject. */
    unsigned flags = MDB_NOTLS;
    if (lg->read_only)
        flags |= MDB_RDONLY;
    else if (lg->durability == XR_LEDGER_DURABLE)
        flags |= MDB_NOMETASYNC;
    else
        flags |= MDB_NOSYNC;
    rc = mdb_env_open(lg->env, cfg->dir, flags, 0640);
    if (rc != MDB_SUCCESS) {
        err = lg_mdb_err(rc);
        goto fail;
    }
    if (!lg->read_only) {
        /* A killed process leaves its reader slot behind; clear it so freed pages are reused. */
        int dead = 0;
        mdb_reader_check(lg->env, &dead);
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(lg->env, NULL, lg->read_only ? MDB_RDONLY : 0, &txn);
    if (rc != MDB_SUCCESS) {
        err = lg_mdb_err(rc);
        goto fail;
    }
    err = open_databases(lg, txn);
    if (err == XR_OK)
        err = load_committed_state(lg, txn);
    if (err != XR_OK) {
        mdb_txn_abort(txn);
        goto fail;
    }
    /* Committing (also a read-only transaction) keeps the database handles it opened. */
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS) {
        err = lg_mdb_err(rc);
        goto fail;
    }
    if (!lg->read_only) {
        if (lg->durability == XR_LEDGER_DURABLE && mdb_env_sync(lg->env, 1) != MDB_SUCCESS) {
            err = XR_ERR_IO;
            goto fail;
        }
        lg->batch = batch_alloc(lg->max_batch_ops, lg->max_expire_per_batch);
        if (lg->batch == NULL) {
            err = XR_ERR_NO_MEMORY;
            goto fail;
        }
        if (cfg->hash_thread) {
            lg->batch->hasher = hasher_start(lg->batch->entries, cfg->hash_chunk_entries);
            if (lg->batch->hasher == NULL) {
                err = XR_ERR_NO_MEMORY;
                goto fail;
            }
        }
    }
    *out = lg;
    return XR_OK;
fail:
    if (lg->env != NULL)
        mdb_env_close(lg->env);
    batch_free(lg->batch);
    free(lg);
    return err;
}

void xr_ledger_close(xr_ledger *lg)
{
    if (lg == NULL)
        return;
    XR_ASSERT(lg->batch == NULL || lg->batch->txn == NULL);
    mdb_env_close(lg->env);
    batch_free(lg->batch);
    free(lg);
}
