/*
 * Read-only queries. Each opens its own LMDB read transaction (the environment is opened
 * with MDB_NOTLS, so any thread may query, also while the writer runs a batch) and sees the
 * last committed batch.
 */
#include <stdlib.h>

#include "core/ledger/ledger_internal.h"

xr_err lg_read_begin(xr_ledger *lg, MDB_txn **txn)
{
    int rc = mdb_txn_begin(lg->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED && lg->read_only) {
        /* The writer (another process) grew the map: adopt its size and retry once. */
        rc = mdb_env_set_mapsize(lg->env, 0);
        if (rc == MDB_SUCCESS)
            rc = mdb_txn_begin(lg->env, NULL, MDB_RDONLY, txn);
    }
    return rc == MDB_SUCCESS ? XR_OK : lg_mdb_err(rc);
}

static xr_err read_begin(xr_ledger *lg, MDB_txn **txn)
{
    return lg_read_begin(lg, txn);
}

static xr_err account_read(xr_ledger *lg, MDB_txn *txn, uint64_t id, xr_ledger_account *out)
{
    MDB_val key = {sizeof id, &id}, val;
    int rc = mdb_get(txn, lg->db_accounts, &key, &val);
    if (rc != MDB_SUCCESS)
        return rc == MDB_NOTFOUND ? XR_ERR_NOT_FOUND : lg_mdb_err(rc);
    return lg_account_decode(id, val.mv_data, val.mv_size, out);
}

xr_err xr_ledger_account_get(xr_ledger *lg, uint64_t id, xr_ledger_account *out)
{
    if (lg == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    err = account_read(lg, txn, id, out);
    mdb_txn_abort(txn);
    return err;
}

xr_err xr_ledger_accounts_list(xr_ledger *lg, uint64_t after_id, xr_ledger_account *out, size_t cap,
                               size_t *n)
{
    if (lg == NULL || n == NULL || (cap > 0 && out == NULL))
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    if (cap == 0 || after_id == UINT64_MAX)
        return XR_OK;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db_accounts, &cur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return lg_mdb_err(rc);
    }
    uint64_t start = after_id + 1;
    MDB_val key = {sizeof start, &start}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == MDB_SUCCESS && *n < cap) {
        if (key.mv_size != 8) {
            err = XR_ERR_CORRUPT;
            break;
        }
        err = lg_account_decode(lg_get_u64(key.mv_data), val.mv_data, val.mv_size, &out[*n]);
        if (err != XR_OK)
            break;
        (*n)++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (err == XR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        err = lg_mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

xr_err xr_ledger_transfer_get(xr_ledger *lg, const xr_ledger_id *id, xr_ledger_transfer *out)
{
    if (lg == NULL || id == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_val key = {16, (void *)id->bytes}, val;
    int rc = mdb_get(txn, lg->db_ops, &key, &val);
    if (rc == MDB_SUCCESS)
        err = lg_op_decode(id, val.mv_data, val.mv_size, out);
    else
        err = rc == MDB_NOTFOUND ? XR_ERR_NOT_FOUND : lg_mdb_err(rc);
    mdb_txn_abort(txn);
    return err;
}

static xr_err entry_read(xr_ledger *lg, MDB_txn *txn, uint64_t seq, xr_ledger_entry *out)
{
    MDB_val key = {sizeof seq, &seq}, val;
    int rc = mdb_get(txn, lg->db_entries, &key, &val);
    if (rc != MDB_SUCCESS)
        return rc == MDB_NOTFOUND ? XR_ERR_NOT_FOUND : lg_mdb_err(rc);
    return lg_entry_decode(seq, val.mv_data, val.mv_size, out);
}

xr_err xr_ledger_entries(xr_ledger *lg, uint64_t account_id, uint64_t cursor, xr_ledger_entry *out,
                         size_t cap, size_t *n, uint64_t *next_cursor)
{
    if (lg == NULL || n == NULL || next_cursor == NULL || (cap > 0 && out == NULL))
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    *next_cursor = 0;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    xr_ledger_account acc;
    err = account_read(lg, txn, account_id, &acc);
    /* Each entry names the account's previous one, so a page is a walk down that list: no
     * per-account index has to be written on the hot path. */
    uint64_t seq = cursor != 0 ? cursor : acc.last_entry_seq;
    while (err == XR_OK && seq != 0 && *n < cap) {
        xr_ledger_entry *e = &out[*n];
        err = entry_read(lg, txn, seq, e);
        if (err == XR_OK && e->account_id != account_id)
            err = *n == 0 && cursor != 0 ? XR_ERR_INVALID_ARGUMENT : XR_ERR_CORRUPT;
        if (err == XR_ERR_NOT_FOUND)
            err = *n == 0 && cursor != 0 ? XR_ERR_INVALID_ARGUMENT : XR_ERR_CORRUPT;
        if (err != XR_OK)
            break;
        if (e->prev_seq >= seq) {
            err = XR_ERR_CORRUPT; /* links only point back: this prevents a cycle */
            break;
        }
        (*n)++;
        seq = e->prev_seq;
    }
    if (err == XR_OK)
        *next_cursor = seq;
    else
        *n = 0;
    mdb_txn_abort(txn);
    return err;
}

xr_err xr_ledger_log_read(xr_ledger *lg, uint64_t from_seq, xr_ledger_entry *out, size_t cap,
                          size_t *n)
{
    if (lg == NULL || n == NULL || (cap > 0 && out == NULL) || from_seq == 0)
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db_entries, &cur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return lg_mdb_err(rc);
    }
    MDB_val key = {sizeof from_seq, &from_seq}, val;
    rc = cap > 0 ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE) : MDB_NOTFOUND;
    while (rc == MDB_SUCCESS && *n < cap) {
        if (key.mv_size != 8) {
            err = XR_ERR_CORRUPT;
            break;
        }
        err = lg_entry_decode(lg_get_u64(key.mv_data), val.mv_data, val.mv_size, &out[*n]);
        if (err != XR_OK)
            break;
        (*n)++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (err == XR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        err = lg_mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

xr_err xr_ledger_totals(xr_ledger *lg, xr_ledger_total *out, size_t cap, size_t *n)
{
    if (lg == NULL || n == NULL || (cap > 0 && out == NULL))
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    enum { MAX_ASSETS = 2 * XR_ASSETS_MAX };
    xr_ledger_total *t = calloc(MAX_ASSETS, sizeof *t);
    if (t == NULL)
        return XR_ERR_NO_MEMORY;
    size_t count = 0;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK) {
        free(t);
        return err;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db_accounts, &cur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        free(t);
        return lg_mdb_err(rc);
    }
    MDB_val key, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        xr_ledger_account a;
        if (key.mv_size != 8) {
            err = XR_ERR_CORRUPT;
            break;
        }
        err = lg_account_decode(lg_get_u64(key.mv_data), val.mv_data, val.mv_size, &a);
        if (err != XR_OK)
            break;
        size_t i = 0;
        while (i < count && strcmp(t[i].asset, a.asset) != 0)
            i++;
        if (i == count) {
            if (count == MAX_ASSETS) {
                err = XR_ERR_NO_MEMORY;
                break;
            }
            memcpy(t[i].asset, a.asset, sizeof t[i].asset);
            t[i].scale = a.scale;
            count++;
        }
        t[i].accounts++;
        if (__builtin_add_overflow(t[i].debits_posted.units, a.debits_posted.units,
                                   &t[i].debits_posted.units) ||
            __builtin_add_overflow(t[i].credits_posted.units, a.credits_posted.units,
                                   &t[i].credits_posted.units) ||
            __builtin_add_overflow(t[i].debits_pending.units, a.debits_pending.units,
                                   &t[i].debits_pending.units) ||
            __builtin_add_overflow(t[i].credits_pending.units, a.credits_pending.units,
                                   &t[i].credits_pending.units) ||
            __builtin_add_overflow(t[i].balance_sum.units,
                                   a.credits_posted.units - a.debits_posted.units,
                                   &t[i].balance_sum.units)) {
            err = XR_ERR_OVERFLOW;
            break;
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (err == XR_OK && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
        err = lg_mdb_err(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (err == XR_OK) {
        /* Insertion sort by code: there are a handful of assets. */
        for (size_t i = 1; i < count; i++) {
            xr_ledger_total x = t[i];
            size_t j = i;
            while (j > 0 && strcmp(t[j - 1].asset, x.asset) > 0) {
                t[j] = t[j - 1];
                j--;
            }
            t[j] = x;
        }
        for (size_t i = 0; i < count && i < cap; i++)
            out[i] = t[i];
        *n = count;
    }
    free(t);
    return err;
}

xr_err xr_ledger_stats_get(xr_ledger *lg, xr_ledger_stats *out)
{
    if (lg == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_stat st;
    struct {
        MDB_dbi dbi;
        uint64_t *count;
    } dbs[] = {{lg->db_accounts, &out->accounts},
               {lg->db_ops, &out->ops},
               {lg->db_entries, &out->entries},
               {lg->db_expiry, &out->open_reservations_with_deadline}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_stat(txn, dbs[i].dbi, &st);
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            return lg_mdb_err(rc);
        }
        *dbs[i].count = st.ms_entries;
    }
    mdb_txn_abort(txn);
    MDB_envinfo info;
    MDB_stat env_st;
    if (mdb_env_info(lg->env, &info) == MDB_SUCCESS && mdb_env_stat(lg->env, &env_st) == 0) {
        out->map_size_bytes = info.me_mapsize;
        out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * env_st.ms_psize;
    }
    return XR_OK;
}

/* ---- aux records ------------------------------------------------------------------------ */

xr_err xr_ledger_aux_get(xr_ledger *lg, const uint8_t *key, uint32_t key_len, uint8_t *val,
                         uint32_t cap, uint32_t *len)
{
    if (lg == NULL || key == NULL || key_len == 0 || key_len > XR_LEDGER_AUX_KEY_MAX ||
        len == NULL || (val == NULL && cap > 0))
        return XR_ERR_INVALID_ARGUMENT;
    if (!lg->has_aux)
        return XR_ERR_NOT_FOUND;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn, lg->db_aux, &k, &v);
    if (rc == MDB_SUCCESS) {
        *len = (uint32_t)v.mv_size;
        memcpy(val, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
    }
    mdb_txn_abort(txn);
    return rc == MDB_SUCCESS ? XR_OK : rc == MDB_NOTFOUND ? XR_ERR_NOT_FOUND : lg_mdb_err(rc);
}

static int aux_below(const MDB_val *k, const uint8_t *to, uint32_t to_len)
{
    if (to_len == 0)
        return 1;
    size_t m = k->mv_size < to_len ? k->mv_size : to_len;
    int c = memcmp(k->mv_data, to, m);
    return c < 0 || (c == 0 && k->mv_size < to_len);
}

xr_err xr_ledger_aux_scan(xr_ledger *lg, const uint8_t *from, uint32_t from_len, const uint8_t *to,
                          uint32_t to_len, xr_ledger_aux_fn fn, void *ctx)
{
    if (lg == NULL || fn == NULL || (from == NULL && from_len > 0) || (to == NULL && to_len > 0) ||
        from_len > XR_LEDGER_AUX_KEY_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    if (!lg->has_aux)
        return XR_OK;
    MDB_txn *txn;
    xr_err err = read_begin(lg, &txn);
    if (err != XR_OK)
        return err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db_aux, &cur);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return lg_mdb_err(rc);
    }
    MDB_val k = {from_len, (void *)from}, v;
    rc = from_len > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                      : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS && aux_below(&k, to, to_len)) {
        if (fn(ctx, k.mv_data, (uint32_t)k.mv_size, v.mv_data, (uint32_t)v.mv_size) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? XR_OK : lg_mdb_err(rc);
}
