/*
 * Encoders and decoders of the ledger's stored records (layouts in ledger_internal.h and
 * docs/ledger.md), the expiry key, LMDB error mapping and the id helpers. Decoders check
 * sizes and enumerations so that a damaged record is reported as XR_ERR_CORRUPT instead of
 * being believed.
 */
#include <errno.h>

#include "core/ledger/ledger_internal.h"

void lg_account_encode(const xr_ledger_account *a, uint8_t out[LG_ACCOUNT_SIZE])
{
    memset(out, 0, LG_ACCOUNT_SIZE);
    lg_put_i128(out + 0, a->debits_posted.units);
    lg_put_i128(out + 16, a->credits_posted.units);
    lg_put_i128(out + 32, a->debits_pending.units);
    lg_put_i128(out + 48, a->credits_pending.units);
    lg_put_u64(out + 64, a->last_entry_seq);
    lg_put_u64(out + 72, a->bank_id);
    lg_put_u64(out + 80, a->owner_id);
    lg_put_i64(out + 88, a->created_ns);
    memcpy(out + 96, a->asset, XR_ASSET_CODE_MAX + 1);
    out[108] = a->scale;
    out[109] = a->kind;
    lg_put_u16(out + 110, a->flags);
}

xr_err lg_account_decode(uint64_t id, const void *data, size_t len, xr_ledger_account *a)
{
    if (len != LG_ACCOUNT_SIZE)
        return XR_ERR_CORRUPT;
    const uint8_t *p = data;
    memset(a, 0, sizeof *a);
    a->id = id;
    a->debits_posted.units = lg_get_i128(p + 0);
    a->credits_posted.units = lg_get_i128(p + 16);
    a->debits_pending.units = lg_get_i128(p + 32);
    a->credits_pending.units = lg_get_i128(p + 48);
    a->last_entry_seq = lg_get_u64(p + 64);
    a->bank_id = lg_get_u64(p + 72);
    a->owner_id = lg_get_u64(p + 80);
    a->created_ns = lg_get_i64(p + 88);
    memcpy(a->asset, p + 96, XR_ASSET_CODE_MAX + 1);
    a->scale = p[108];
    a->kind = p[109];
    a->flags = lg_get_u16(p + 110);
    if (a->asset[XR_ASSET_CODE_MAX] != '\0' || a->asset[0] == '\0')
        return XR_ERR_CORRUPT;
    if (a->kind < XR_LEDGER_KIND_CUSTOMER || a->kind > XR_LEDGER_KIND_BANK_FUNDING)
        return XR_ERR_CORRUPT;
    if (a->debits_posted.units < 0 || a->credits_posted.units < 0 || a->debits_pending.units < 0 ||
        a->credits_pending.units < 0)
        return XR_ERR_CORRUPT;
    return XR_OK;
}

void lg_op_encode(const lg_op_rec *r, uint8_t out[LG_OP_SIZE])
{
    memset(out, 0, LG_OP_SIZE);
    out[0] = r->kind;
    out[1] = r->flags;
    out[2] = (uint8_t)r->result;
    out[3] = r->status;
    lg_put_i32(out + 4, r->failed_offset);
    lg_put_i64(out + 8, r->timestamp_ns);
    if (r->kind == XR_LEDGER_OP_CREATE_ACCOUNT) {
        const xr_ledger_account_spec *s = &r->account;
        lg_put_u64(out + 16, s->id);
        memcpy(out + 24, s->asset, XR_ASSET_CODE_MAX + 1);
        /* The scale lives in the account; the op keeps what was submitted. */
        out[37] = s->kind;
        lg_put_u16(out + 38, s->flags);
        lg_put_u64(out + 40, s->bank_id);
        lg_put_u64(out + 48, s->owner_id);
        return;
    }
    lg_put_u64(out + 16, r->debit_account_id);
    lg_put_u64(out + 24, r->credit_account_id);
    lg_put_i128(out + 32, r->amount.units);
    lg_put_i128(out + 48, r->amount_done.units);
    memcpy(out + 64, r->link_id.bytes, 16);
    lg_put_i64(out + 80, r->deadline_ns);
    lg_put_u64(out + 88, r->user_data);
    lg_put_u64(out + 96, r->first_entry_seq);
    lg_put_i64(out + 104, r->resolved_ns);
}

xr_err lg_op_decode(const xr_ledger_id *id, const void *data, size_t len, lg_op_rec *r)
{
    if (len != LG_OP_SIZE)
        return XR_ERR_CORRUPT;
    const uint8_t *p = data;
    memset(r, 0, sizeof *r);
    r->id = *id;
    r->kind = p[0];
    r->flags = p[1];
    r->result = (xr_err)p[2];
    r->status = p[3];
    r->failed_offset = lg_get_i32(p + 4);
    r->timestamp_ns = lg_get_i64(p + 8);
    if (r->kind < XR_LEDGER_OP_CREATE_ACCOUNT || r->kind > XR_LEDGER_OP_VOID)
        return XR_ERR_CORRUPT;
    if (r->status < XR_LEDGER_STATUS_DONE || r->status > XR_LEDGER_STATUS_FAILED)
        return XR_ERR_CORRUPT;
    if ((unsigned)r->result >= (unsigned)XR_ERR__COUNT)
        return XR_ERR_CORRUPT;
    if ((r->result == XR_OK) != (r->status != XR_LEDGER_STATUS_FAILED))
        return XR_ERR_CORRUPT;
    if (r->kind == XR_LEDGER_OP_CREATE_ACCOUNT) {
        xr_ledger_account_spec *s = &r->account;
        s->id = lg_get_u64(p + 16);
        memcpy(s->asset, p + 24, XR_ASSET_CODE_MAX + 1);
        s->kind = p[37];
        s->flags = lg_get_u16(p + 38);
        s->bank_id = lg_get_u64(p + 40);
        s->owner_id = lg_get_u64(p + 48);
        if (s->asset[XR_ASSET_CODE_MAX] != '\0')
            return XR_ERR_CORRUPT;
        return XR_OK;
    }
    r->debit_account_id = lg_get_u64(p + 16);
    r->credit_account_id = lg_get_u64(p + 24);
    r->amount.units = lg_get_i128(p + 32);
    r->amount_done.units = lg_get_i128(p + 48);
    memcpy(r->link_id.bytes, p + 64, 16);
    r->deadline_ns = lg_get_i64(p + 80);
    r->user_data = lg_get_u64(p + 88);
    r->first_entry_seq = lg_get_u64(p + 96);
    r->resolved_ns = lg_get_i64(p + 104);
    return XR_OK;
}

xr_err lg_entry_decode(uint64_t seq, const void *data, size_t len, xr_ledger_entry *e)
{
    if (len != LG_ENTRY_SIZE)
        return XR_ERR_CORRUPT;
    const uint8_t *p = data;
    e->seq = seq;
    memcpy(e->transfer_id.bytes, p + 0, 16);
    e->account_id = lg_get_u64(p + 16);
    e->amount.units = lg_get_i128(p + 24);
    e->balance_after.units = lg_get_i128(p + 40);
    e->timestamp_ns = lg_get_i64(p + 56);
    e->prev_seq = lg_get_u64(p + 64);
    memcpy(e->chain, p + 72, 32);
    return XR_OK;
}

void lg_expiry_key(int64_t deadline_ns, const xr_ledger_id *id, uint8_t out[LG_EXPIRY_KEY_SIZE])
{
    /* Big-endian so that LMDB's byte order is time order; deadlines are positive. */
    uint64_t d = (uint64_t)deadline_ns;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(d >> (56 - 8 * i));
    memcpy(out + 8, id->bytes, 16);
}

xr_err lg_mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return XR_OK;
    case MDB_NOTFOUND:
    case ENOENT:
        return XR_ERR_NOT_FOUND;
    case MDB_KEYEXIST:
        return XR_ERR_ALREADY_EXISTS;
    case MDB_MAP_FULL:
        return XR_ERR_STORAGE_FULL;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
    case ENOMEM:
        return XR_ERR_NO_MEMORY;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
        return XR_ERR_CORRUPT;
    default:
        return XR_ERR_IO;
    }
}

/* ---- ids ------------------------------------------------------------------------------ */

xr_ledger_id xr_ledger_id_make(uint64_t hi, uint64_t lo)
{
    xr_ledger_id id;
    for (int i = 0; i < 8; i++) {
        id.bytes[i] = (uint8_t)(hi >> (56 - 8 * i));
        id.bytes[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    return id;
}

void xr_ledger_id_format(const xr_ledger_id *id, char buf[XR_LEDGER_ID_HEX_MAX])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        buf[2 * i] = hex[id->bytes[i] >> 4];
        buf[2 * i + 1] = hex[id->bytes[i] & 0xf];
    }
    buf[32] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

xr_err xr_ledger_id_parse(const char *s, xr_ledger_id *out)
{
    if (s == NULL || out == NULL)
        return XR_ERR_MALFORMED;
    size_t len = strlen(s);
    /* Either 32 digits, or the UUID form 8-4-4-4-12 with dashes at 8, 13, 18 and 23. */
    int uuid_form = len == 36;
    if (len != 32 && !uuid_form)
        return XR_ERR_MALFORMED;
    xr_ledger_id id;
    size_t digit = 0;
    for (size_t i = 0; i < len; i++) {
        if (uuid_form && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return XR_ERR_MALFORMED;
            continue;
        }
        int v = hex_value(s[i]);
        if (v < 0)
            return XR_ERR_MALFORMED;
        if (digit % 2 == 0)
            id.bytes[digit / 2] = (uint8_t)(v << 4);
        else
            id.bytes[digit / 2] |= (uint8_t)v;
        digit++;
    }
    if (digit != 32)
        return XR_ERR_MALFORMED;
    *out = id;
    return XR_OK;
}

int xr_ledger_id_is_zero(const xr_ledger_id *id)
{
    static const uint8_t zero[16];
    return memcmp(id->bytes, zero, 16) == 0;
}
