/* The durable outbox of sequenced responses (LMDB, group commit). */
#include "adapters/bank/outbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapters/bank/codec.h"
#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "xroute/protocol.h"

/* Key: bank id and seq. Value: the frame, then TIME_LEN bytes: the wall clock (ns, i64 LE)
 * when it was staged. */
#define KEY_LEN  12
#define TIME_LEN 8
/* Resting orders (cancel-on-disconnect's table, kept across restarts): key 0xFF, bank id
 * (u32 big-endian), order key (16); value customer id, correlation id (u64 little-endian).
 * Bank ids are below 2^24, so every frame key starts with 0x00 and sorts before these. */
#define REST_PREFIX  0xFF
#define REST_KEY_LEN 21
#define REST_VAL_LEN 16

typedef struct ob_bank {
    uint32_t bank_id;
    uint64_t next;         /* seq of the next staged frame */
    uint64_t durable_next; /* one past the last committed seq */
    uint64_t first;        /* lowest stored seq (the retention horizon); = durable_next: none */
} ob_bank;

typedef struct ob_staged {
    uint32_t bank_id;
    uint64_t seq;
    uint32_t len; /* the frame's, without the time trailer */
    int64_t stored_ns;
} ob_staged;

typedef struct ob_rest {
    uint32_t bank_id;
    uint8_t present; /* 1 put, 0 delete */
    uint64_t customer_id, correlation_id;
    xr_engine_key key;
} ob_rest;

struct xr_bank_outbox {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* read snapshot, reset between uses */
    int reading;   /* rtxn is active */
    ob_bank banks[XR_ENGINE_BANKS_MAX * 4];
    uint32_t nbanks;
    ob_staged *staged;
    uint32_t nstaged, stage_cap;
    uint8_t *stage_buf; /* stage_cap frames of at most XR_PROTO_FRAME_MAX bytes */
    ob_rest *rest;      /* staged resting-order changes, stage_cap at most */
    uint32_t nrest;
};

/* A key of the resting-order space (or anything else that is not a frame). */
static int other_space(const MDB_val *k)
{
    return k->mv_size > 0 && ((const uint8_t *)k->mv_data)[0] == REST_PREFIX;
}

static void rest_key(uint8_t k[REST_KEY_LEN], uint32_t bank, const xr_engine_key *key)
{
    k[0] = REST_PREFIX;
    for (int i = 0; i < 4; i++)
        k[1 + i] = (uint8_t)(bank >> (24 - 8 * i));
    memcpy(k + 5, key->bytes, 16);
}

static void key_of(uint8_t k[KEY_LEN], uint32_t bank, uint64_t seq)
{
    for (int i = 0; i < 4; i++)
        k[i] = (uint8_t)(bank >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        k[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static uint64_t seq_of(const uint8_t *k)
{
    uint64_t s = 0;
    for (int i = 0; i < 8; i++)
        s = (s << 8) | k[4 + i];
    return s;
}

static uint32_t bank_of(const uint8_t *k)
{
    return (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3];
}

static xr_err map_rc(int rc)
{
    if (rc == MDB_MAP_FULL)
        return XR_ERR_STORAGE_FULL;
    if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH)
        return XR_ERR_CORRUPT;
    return XR_ERR_IO;
}

static ob_bank *find_bank(const xr_bank_outbox *ob, uint32_t bank_id)
{
    for (uint32_t i = 0; i < ob->nbanks; i++)
        if (ob->banks[i].bank_id == bank_id)
            return (ob_bank *)&ob->banks[i];
    return NULL;
}

static void log_rc(const char *ev, int rc)
{
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "outbox", ev);
    xr_log_str(&l, "lmdb", mdb_strerror(rc));
    xr_log_end(&l);
}

/* The bank's last stored seq: the largest key with its prefix. */
static xr_err last_seq(MDB_txn *txn, MDB_dbi dbi, uint32_t bank, uint64_t *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return map_rc(rc);
    uint8_t k[KEY_LEN];
    key_of(k, bank, UINT64_MAX);
    MDB_val key = {KEY_LEN, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    *out = 0;
    xr_err e = XR_OK;
    if (rc == 0 && !other_space(&key)) {
        if (key.mv_size != KEY_LEN) {
            e = XR_ERR_CORRUPT;
        } else if (bank_of(key.mv_data) == bank) {
            *out = seq_of(key.mv_data);
            if (*out == 0)
                e = XR_ERR_CORRUPT;
        }
    } else if (rc != MDB_NOTFOUND) {
        e = map_rc(rc);
    }
    mdb_cursor_close(cur);
    return e;
}

/* The bank's first stored seq (0: none). */
static xr_err first_seq(MDB_txn *txn, MDB_dbi dbi, uint32_t bank, uint64_t *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return map_rc(rc);
    uint8_t k[KEY_LEN];
    key_of(k, bank, 0);
    MDB_val key = {KEY_LEN, k}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    *out = 0;
    xr_err e = XR_OK;
    if (rc == 0 && !other_space(&key)) {
        if (key.mv_size != KEY_LEN)
            e = XR_ERR_CORRUPT;
        else if (bank_of(key.mv_data) == bank)
            *out = seq_of(key.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        e = map_rc(rc);
    }
    mdb_cursor_close(cur);
    return e;
}

xr_err xr_bank_outbox_open(const char *dir, uint64_t map_bytes, const uint32_t *bank_ids,
                           uint32_t nbanks, uint32_t stage_frames, xr_bank_outbox **out)
{
    if (dir == NULL || dir[0] == '\0' || out == NULL || (nbanks > 0 && bank_ids == NULL) ||
        nbanks > XR_ENGINE_BANKS_MAX * 4 || stage_frames == 0 || map_bytes < (1u << 20))
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return XR_ERR_IO;
    xr_bank_outbox *ob = calloc(1, sizeof *ob);
    if (ob == NULL)
        return XR_ERR_NO_MEMORY;
    ob->stage_cap = stage_frames;
    ob->staged = calloc(stage_frames, sizeof *ob->staged);
    ob->stage_buf = malloc((size_t)stage_frames * (XR_PROTO_FRAME_MAX + TIME_LEN));
    ob->rest = calloc(stage_frames, sizeof *ob->rest);
    if (ob->staged == NULL || ob->stage_buf == NULL || ob->rest == NULL) {
        xr_bank_outbox_close(ob);
        return XR_ERR_NO_MEMORY;
    }
    int rc = mdb_env_create(&ob->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(ob->env, (size_t)map_bytes);
    /* MDB_NOTLS: the read snapshot is kept in the object, not tied to thread-local slots. */
    if (rc == 0)
        rc = mdb_env_open(ob->env, dir, MDB_NOTLS, 0600);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &ob->dbi);
    xr_err e = XR_OK;
    if (rc != 0) {
        log_rc("open", rc);
        e = map_rc(rc);
    }
    for (uint32_t i = 0; e == XR_OK && i < nbanks; i++) {
        if (bank_ids[i] == 0 || find_bank(ob, bank_ids[i]) != NULL)
            continue;
        uint64_t last = 0, first = 0;
        e = last_seq(txn, ob->dbi, bank_ids[i], &last);
        if (e == XR_OK)
            e = first_seq(txn, ob->dbi, bank_ids[i], &first);
        ob_bank *b = &ob->banks[ob->nbanks++];
        b->bank_id = bank_ids[i];
        b->next = b->durable_next = last + 1;
        b->first = first != 0 ? first : last + 1;
    }
    if (txn != NULL) {
        if (e == XR_OK) {
            rc = mdb_txn_commit(txn);
            if (rc != 0)
                e = map_rc(rc);
        } else {
            mdb_txn_abort(txn);
        }
    }
    if (e != XR_OK) {
        xr_bank_outbox_close(ob);
        return e;
    }
    *out = ob;
    return XR_OK;
}

void xr_bank_outbox_close(xr_bank_outbox *ob)
{
    if (ob == NULL)
        return;
    if (ob->rtxn != NULL)
        mdb_txn_abort(ob->rtxn);
    if (ob->env != NULL)
        mdb_env_close(ob->env);
    free(ob->staged);
    free(ob->stage_buf);
    free(ob->rest);
    free(ob);
}

uint64_t xr_bank_outbox_next_seq(const xr_bank_outbox *ob, uint32_t bank_id)
{
    const ob_bank *b = find_bank(ob, bank_id);
    return b != NULL ? b->next : 0;
}

uint64_t xr_bank_outbox_durable_next(const xr_bank_outbox *ob, uint32_t bank_id)
{
    const ob_bank *b = find_bank(ob, bank_id);
    return b != NULL ? b->durable_next : 0;
}

uint32_t xr_bank_outbox_staged(const xr_bank_outbox *ob)
{
    return ob->nstaged;
}

/* The request kind an event answers, for the EV_REJECT that replaces an event the wire
 * cannot carry. */
static uint8_t cmd_kind_of(const xr_engine_event *ev)
{
    switch (ev->kind) {
    case XR_ENGINE_EV_TICKER:
        return XR_ENGINE_CMD_TICKER;
    case XR_ENGINE_EV_OHLC:
        return XR_ENGINE_CMD_OHLC;
    case XR_ENGINE_EV_PAIRS:
        return XR_ENGINE_CMD_PAIRS;
    case XR_ENGINE_EV_CONVERSION_REPORT:
        return XR_ENGINE_CMD_CONVERT;
    case XR_ENGINE_EV_BOOK:
        return XR_ENGINE_CMD_BOOK;
    case XR_ENGINE_EV_ORDER:
        return XR_ENGINE_CMD_ORDER_STATUS;
    case XR_ENGINE_EV_ORDER_LIST:
        return XR_ENGINE_CMD_LIST_ORDERS;
    case XR_ENGINE_EV_BALANCES:
        return XR_ENGINE_CMD_BALANCES;
    case XR_ENGINE_EV_QUOTE:
        return XR_ENGINE_CMD_QUOTE;
    case XR_ENGINE_EV_FUNDING:
        return XR_ENGINE_CMD_FUND;
    case XR_ENGINE_EV_CUSTOMER:
        return XR_ENGINE_CMD_CUSTOMER_UPSERT;
    case XR_ENGINE_EV_REJECT:
        if (ev->u.reject.cmd_kind >= 1 && ev->u.reject.cmd_kind < XR_ENGINE_CMD__COUNT)
            return ev->u.reject.cmd_kind;
        return XR_ENGINE_CMD_NEW_ORDER;
    default:
        return XR_ENGINE_CMD_NEW_ORDER;
    }
}

xr_err xr_bank_outbox_stage(xr_bank_outbox *ob, const xr_engine_event *ev, uint64_t *seq)
{
    return xr_bank_outbox_stage_ex(ob, ev, 0, 0, seq);
}

xr_err xr_bank_outbox_stage_ex(xr_bank_outbox *ob, const xr_engine_event *ev, uint8_t order_flags,
                               uint16_t ack_deadline_ms, uint64_t *seq)
{
    if (ob == NULL || ev == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    ob_bank *b = find_bank(ob, ev->bank_id);
    if (b == NULL)
        return XR_ERR_NOT_FOUND;
    if (ob->nstaged == ob->stage_cap)
        return XR_ERR_NO_MEMORY;
    uint8_t *dst = ob->stage_buf + (size_t)ob->nstaged * (XR_PROTO_FRAME_MAX + TIME_LEN);
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)(XR_PROTO_EV_BASE + ev->kind);
    m.seq = b->next;
    m.u.ev = *ev;
    if (ev->kind == XR_ENGINE_EV_EXEC_REPORT && (order_flags & XR_BANK_ORDER_ACK_REQUIRED)) {
        m.order_flags = XR_BANK_ORDER_ACK_REQUIRED;
        m.ack_deadline_ms = ack_deadline_ms;
    }
    size_t len = 0;
    xr_err e = xr_bank_encode(&m, dst, XR_PROTO_FRAME_MAX, &len);
    if (e != XR_OK) {
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_ERROR, "bank", "unencodable_event");
        xr_log_u64(&l, "kind", ev->kind);
        xr_log_u64(&l, "bank", ev->bank_id);
        xr_log_u64(&l, "corr", ev->correlation_id);
        xr_log_err(&l, e);
        xr_log_end(&l);
        memset(&m, 0, sizeof m);
        m.type = XR_PROTO_EV_REJECT;
        m.seq = b->next;
        m.u.ev.kind = XR_ENGINE_EV_REJECT;
        m.u.ev.bank_id = ev->bank_id;
        m.u.ev.correlation_id = ev->correlation_id;
        m.u.ev.customer_id = ev->customer_id;
        m.u.ev.u.reject.err = XR_ERR_INTERNAL;
        m.u.ev.u.reject.cmd_kind = cmd_kind_of(ev);
        e = xr_bank_encode(&m, dst, XR_PROTO_FRAME_MAX, &len);
        XR_ASSERT(e == XR_OK);
    }
    ob_staged *s = &ob->staged[ob->nstaged++];
    s->bank_id = ev->bank_id;
    s->seq = b->next;
    s->len = (uint32_t)len;
    s->stored_ns = xr_clock_wall_ns();
    if (seq != NULL)
        *seq = b->next;
    b->next++;
    return XR_OK;
}

xr_err xr_bank_outbox_commit(xr_bank_outbox *ob)
{
    if (ob == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (ob->nstaged == 0 && ob->nrest == 0)
        return XR_OK;
    XR_ASSERT(!ob->reading);
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    for (uint32_t i = 0; rc == 0 && i < ob->nstaged; i++) {
        const ob_staged *s = &ob->staged[i];
        uint8_t k[KEY_LEN];
        key_of(k, s->bank_id, s->seq);
        MDB_val key = {KEY_LEN, k};
        uint8_t *f = ob->stage_buf + (size_t)i * (XR_PROTO_FRAME_MAX + TIME_LEN);
        for (int j = 0; j < TIME_LEN; j++)
            f[s->len + (size_t)j] = (uint8_t)((uint64_t)s->stored_ns >> (8 * j));
        MDB_val val = {s->len + TIME_LEN, f};
        /* NOOVERWRITE: a seq is written once; an existing one means the counters are wrong. */
        rc = mdb_put(txn, ob->dbi, &key, &val, MDB_NOOVERWRITE);
    }
    for (uint32_t i = 0; rc == 0 && i < ob->nrest; i++) {
        const ob_rest *r = &ob->rest[i];
        uint8_t k[REST_KEY_LEN], v[REST_VAL_LEN];
        rest_key(k, r->bank_id, &r->key);
        MDB_val key = {REST_KEY_LEN, k};
        if (r->present) {
            for (int j = 0; j < 8; j++) {
                v[j] = (uint8_t)(r->customer_id >> (8 * j));
                v[8 + j] = (uint8_t)(r->correlation_id >> (8 * j));
            }
            MDB_val val = {REST_VAL_LEN, v};
            rc = mdb_put(txn, ob->dbi, &key, &val, 0);
        } else {
            rc = mdb_del(txn, ob->dbi, &key, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    if (rc != 0) {
        if (txn != NULL)
            mdb_txn_abort(txn);
        log_rc("commit", rc);
        return rc == MDB_KEYEXIST ? XR_ERR_CORRUPT : map_rc(rc);
    }
    rc = mdb_txn_commit(txn); /* the environment syncs on commit: one fsync per batch */
    if (rc != 0) {
        log_rc("commit", rc);
        return map_rc(rc);
    }
    for (uint32_t i = 0; i < ob->nstaged; i++) {
        ob_bank *b = find_bank(ob, ob->staged[i].bank_id);
        b->durable_next = ob->staged[i].seq + 1;
    }
    ob->nstaged = 0;
    ob->nrest = 0;
    return XR_OK;
}

xr_err xr_bank_outbox_read_begin(xr_bank_outbox *ob)
{
    if (ob->reading)
        return XR_OK;
    int rc = ob->rtxn == NULL ? mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &ob->rtxn)
                              : mdb_txn_renew(ob->rtxn);
    if (rc != 0)
        return map_rc(rc);
    ob->reading = 1;
    return XR_OK;
}

void xr_bank_outbox_read_end(xr_bank_outbox *ob)
{
    if (ob->reading) {
        mdb_txn_reset(ob->rtxn);
        ob->reading = 0;
    }
}

/* Checks a stored value for (bank, seq): the frame's length field and seq, then the time
 * trailer. Values written before the trailer existed (exactly one frame) read as stored at
 * time 0, i.e. old. */
static xr_err check_value(const MDB_val *val, uint64_t seq, size_t *flen_out, int64_t *stored_ns)
{
    const uint8_t *p = val->mv_data;
    if (val->mv_size < XR_PROTO_HEADER_LEN || val->mv_size > XR_PROTO_FRAME_MAX + TIME_LEN)
        return XR_ERR_CORRUPT;
    uint32_t flen =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint64_t fseq = 0;
    for (int i = 7; i >= 0; i--)
        fseq = (fseq << 8) | p[XR_PROTO_OFF_SEQ + i];
    if ((flen != val->mv_size && (size_t)flen + TIME_LEN != val->mv_size) || fseq != seq ||
        flen < XR_PROTO_HEADER_LEN || flen > XR_PROTO_FRAME_MAX)
        return XR_ERR_CORRUPT;
    uint64_t t = 0;
    if ((size_t)flen + TIME_LEN == val->mv_size)
        for (int i = TIME_LEN - 1; i >= 0; i--)
            t = (t << 8) | p[flen + (size_t)i];
    *flen_out = flen;
    if (stored_ns != NULL)
        *stored_ns = (int64_t)t;
    return XR_OK;
}

xr_err xr_bank_outbox_get(xr_bank_outbox *ob, uint32_t bank_id, uint64_t seq, const uint8_t **frame,
                          size_t *len)
{
    if (!ob->reading)
        return XR_ERR_INVALID_STATE;
    uint8_t k[KEY_LEN];
    key_of(k, bank_id, seq);
    MDB_val key = {KEY_LEN, k}, val;
    int rc = mdb_get(ob->rtxn, ob->dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return XR_ERR_NOT_FOUND;
    if (rc != 0)
        return map_rc(rc);
    size_t flen = 0;
    xr_err e = check_value(&val, seq, &flen, NULL);
    if (e != XR_OK)
        return e;
    *frame = val.mv_data;
    *len = flen;
    return XR_OK;
}

xr_err xr_bank_outbox_stage_resting(xr_bank_outbox *ob, uint32_t bank_id, const xr_engine_key *key,
                                    uint64_t customer_id, uint64_t correlation_id, int present)
{
    if (ob == NULL || key == NULL || bank_id == 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (ob->nrest == ob->stage_cap)
        return XR_ERR_NO_MEMORY;
    ob_rest *r = &ob->rest[ob->nrest++];
    r->bank_id = bank_id;
    r->present = present != 0;
    r->customer_id = customer_id;
    r->correlation_id = correlation_id;
    r->key = *key;
    return XR_OK;
}

xr_err xr_bank_outbox_resting_each(xr_bank_outbox *ob, xr_bank_outbox_resting_fn fn, void *ctx)
{
    if (ob == NULL || fn == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (ob->reading)
        return XR_ERR_INVALID_STATE;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return map_rc(rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, ob->dbi, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc);
    }
    uint8_t k0 = REST_PREFIX;
    MDB_val key = {1, &k0}, val;
    xr_err e = XR_OK;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        const uint8_t *k = key.mv_data, *v = val.mv_data;
        if (key.mv_size != REST_KEY_LEN || k[0] != REST_PREFIX || val.mv_size != REST_VAL_LEN) {
            e = XR_ERR_CORRUPT;
            break;
        }
        uint32_t bank = (uint32_t)k[1] << 24 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 8 | k[4];
        xr_engine_key ok;
        memcpy(ok.bytes, k + 5, 16);
        uint64_t cust = 0, corr = 0;
        for (int j = 7; j >= 0; j--) {
            cust = (cust << 8) | v[j];
            corr = (corr << 8) | v[8 + j];
        }
        fn(ctx, bank, &ok, cust, corr);
    }
    if (e == XR_OK && rc != 0 && rc != MDB_NOTFOUND)
        e = map_rc(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return e;
}

uint64_t xr_bank_outbox_first_seq(const xr_bank_outbox *ob, uint32_t bank_id)
{
    const ob_bank *b = find_bank(ob, bank_id);
    return b != NULL ? b->first : 0;
}

xr_err xr_bank_outbox_compact(xr_bank_outbox *ob, uint32_t bank_id, uint64_t upto_seq,
                              int64_t stored_before_ns, uint32_t max_delete, uint32_t *deleted)
{
    if (ob == NULL || deleted == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *deleted = 0;
    ob_bank *b = find_bank(ob, bank_id);
    if (b == NULL)
        return XR_ERR_NOT_FOUND;
    if (ob->reading)
        return XR_ERR_INVALID_STATE;
    if (upto_seq >= b->durable_next)
        upto_seq = b->durable_next - 1;
    if (max_delete == 0 || b->first > upto_seq)
        return XR_OK;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
    if (rc != 0)
        return map_rc(rc);
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, ob->dbi, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc);
    }
    uint8_t k[KEY_LEN];
    key_of(k, bank_id, b->first);
    MDB_val key = {KEY_LEN, k}, val;
    uint32_t n = 0;
    uint64_t next_first = b->first;
    xr_err e = XR_OK;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && n < max_delete && !other_space(&key)) {
        if (key.mv_size != KEY_LEN) {
            e = XR_ERR_CORRUPT;
            break;
        }
        uint64_t sq = seq_of(key.mv_data);
        if (bank_of(key.mv_data) != bank_id || sq > upto_seq)
            break;
        int64_t t = 0;
        size_t flen = 0;
        e = check_value(&val, sq, &flen, &t);
        if (e != XR_OK)
            break;
        if (t >= stored_before_ns)
            break; /* seqs are stored in time order: the rest are younger */
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0)
            break;
        n++;
        next_first = sq + 1;
        key_of(k, bank_id, sq + 1); /* seek again: no reliance on the cursor after a delete */
        key.mv_size = KEY_LEN;
        key.mv_data = k;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    if (e == XR_OK && rc != 0 && rc != MDB_NOTFOUND)
        e = map_rc(rc);
    if (e != XR_OK || n == 0) {
        mdb_txn_abort(txn);
        if (e != XR_OK) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_ERROR, "outbox", "compact");
            xr_log_u64(&l, "bank", bank_id);
            if (rc != 0)
                xr_log_str(&l, "lmdb", mdb_strerror(rc));
            xr_log_err(&l, e);
            xr_log_end(&l);
        }
        return e;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        log_rc("compact", rc);
        return map_rc(rc);
    }
    b->first = next_first;
    *deleted = n;
    return XR_OK;
}
