/*
 * Conversions (USD <-> USDC, USD <-> PYUSD, as configured per venue): the command's checks,
 * the stored record, the report and the router's forwarding. The ledger stage drives them
 * (stage_ledger.c, "Conversions"); the venue driver talks to the venue's Convert endpoint
 * (adapters/engine_venues.c).
 *
 * Life of a conversion: reserve the from amount durably with its record (phase QUOTE) ->
 * venue getQuote -> the quote id stored durably (phase ACCEPT) -> venue acceptQuote, then
 * orderStatus by the quote id until SUCCESS or FAIL -> post (the legs of docs/ledger.md) or
 * void, with the final record. A quote id is durable before its accept is sent, so an accept
 * of unknown outcome, or one in flight at a crash, is resolved by asking the venue by that id
 * (never by accepting again); a conversion that crashed before its quote id was stored was
 * never accepted and is voided.
 */
#include <stdio.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/engine/engine_internal.h"

#define CONV_REC_VERSION 1u

void xr_eng_conv_key(uint32_t bank, const xr_engine_key *key, uint8_t out[XR_ENG_ORDER_KEY_LEN])
{
    out[0] = XR_ENG_KEY_CONV;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(bank >> (24 - 8 * i));
    memcpy(out + 5, key->bytes, 16);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_i128(uint8_t *p, xr_i128 v)
{
    xr_u128 u = (xr_u128)v;
    put_be(p, (uint64_t)(u >> 64), 8);
    put_be(p + 8, (uint64_t)u, 8);
}

static xr_i128 get_i128(const uint8_t *p)
{
    return (xr_i128)(((xr_u128)get_be(p, 8) << 64) | get_be(p + 8, 8));
}

/* Layout (big-endian integers): 0 version, 1 phase, 2 status, 3 rsv, 4 venue u16, 6 rsv[2],
 * 8 err u32, 12 bank u32, 16 customer u64, 24 cust_no u64, 32 key[16], 48 from code[12],
 * 60 to code[12], 72 amount i128, 88 to_amount i128, 104 fee i128, 120 reserve id[16],
 * 136 quote id[32] (NUL-padded), 168 created_ns i64, 176 booked_ns i64. */
void xr_eng_conv_encode(const xr_eng_conv *c, uint8_t out[XR_ENG_CONV_REC_LEN])
{
    memset(out, 0, XR_ENG_CONV_REC_LEN);
    out[0] = CONV_REC_VERSION;
    out[1] = c->phase;
    out[2] = c->status;
    put_be(out + 4, c->venue, 2);
    put_be(out + 8, (uint32_t)c->err, 4);
    put_be(out + 12, c->cmd.bank_id, 4);
    put_be(out + 16, c->cmd.customer_id, 8);
    put_be(out + 24, c->cust_no, 8);
    memcpy(out + 32, c->cmd.u.convert.key.bytes, 16);
    memcpy(out + 48, c->cmd.u.convert.from_asset, XR_ASSET_CODE_MAX + 1);
    memcpy(out + 60, c->cmd.u.convert.to_asset, XR_ASSET_CODE_MAX + 1);
    put_i128(out + 72, c->cmd.u.convert.amount.units);
    put_i128(out + 88, c->to_amount.units);
    put_i128(out + 104, c->fee.units);
    memcpy(out + 120, c->reserve_id.bytes, 16);
    size_t ql = strnlen(c->quote_id, XR_ENG_QUOTE_ID - 1);
    memcpy(out + 136, c->quote_id, ql);
    put_be(out + 168, (uint64_t)c->created_ns, 8);
    put_be(out + 176, (uint64_t)c->booked_ns, 8);
}

static int engine_asset(const xr_eng_shared *sh, const char *code, uint16_t *id)
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

xr_err xr_eng_conv_decode(const xr_eng_shared *sh, const uint8_t *b, uint32_t len, xr_eng_conv *c)
{
    if (len != XR_ENG_CONV_REC_LEN || b[0] != CONV_REC_VERSION || b[1] < XR_ENG_CV_QUOTE ||
        b[1] > XR_ENG_CV_DONE || b[2] > 2 || b[59] != 0 || b[71] != 0)
        return XR_ERR_CORRUPT;
    memset(c, 0, sizeof *c);
    c->cmd.kind = XR_ENGINE_CMD_CONVERT;
    c->phase = b[1];
    c->status = b[2];
    c->venue = (uint16_t)get_be(b + 4, 2);
    c->err = (xr_err)get_be(b + 8, 4);
    c->cmd.bank_id = (uint32_t)get_be(b + 12, 4);
    c->cmd.customer_id = get_be(b + 16, 8);
    c->cust_no = get_be(b + 24, 8);
    memcpy(c->cmd.u.convert.key.bytes, b + 32, 16);
    memcpy(c->cmd.u.convert.from_asset, b + 48, XR_ASSET_CODE_MAX + 1);
    memcpy(c->cmd.u.convert.to_asset, b + 60, XR_ASSET_CODE_MAX + 1);
    c->cmd.u.convert.amount.units = get_i128(b + 72);
    c->to_amount.units = get_i128(b + 88);
    c->fee.units = get_i128(b + 104);
    memcpy(c->reserve_id.bytes, b + 120, 16);
    memcpy(c->quote_id, b + 136, 32);
    c->quote_id[32] = '\0';
    c->created_ns = (int64_t)get_be(b + 168, 8);
    c->booked_ns = (int64_t)get_be(b + 176, 8);
    if (c->venue >= sh->cfg.nvenues ||
        engine_asset(sh, c->cmd.u.convert.from_asset, &c->from_asset) != 0 ||
        engine_asset(sh, c->cmd.u.convert.to_asset, &c->to_asset) != 0)
        return XR_ERR_CORRUPT;
    return XR_OK;
}

xr_err xr_eng_conv_check(const xr_eng_shared *sh, const xr_eng_req *r, xr_eng_conv *c)
{
    const xr_engine_convert_cmd *cv = &r->cmd.u.convert;
    memset(c, 0, sizeof *c);
    c->cmd = r->cmd;
    c->cust_no = r->cust_no;
    bool zero = true;
    for (int i = 0; i < 16; i++)
        zero = zero && cv->key.bytes[i] == 0;
    if (zero)
        return XR_ERR_INVALID_ARGUMENT;
    /* Codes are NUL-terminated in the copy the record and the report carry. */
    c->cmd.u.convert.from_asset[XR_ASSET_CODE_MAX] = '\0';
    c->cmd.u.convert.to_asset[XR_ASSET_CODE_MAX] = '\0';
    /* Not in the registry: UNKNOWN_ASSET. Registered but not converted by any venue (so not
     * necessarily an asset of this engine): NOT_SUPPORTED, below. */
    const xr_asset *fa = xr_assets_find(&sh->assets, c->cmd.u.convert.from_asset);
    const xr_asset *ta = xr_assets_find(&sh->assets, c->cmd.u.convert.to_asset);
    if (fa == NULL || ta == NULL)
        return XR_ERR_UNKNOWN_ASSET;
    if (fa->id == ta->id)
        return XR_ERR_INVALID_ARGUMENT;
    if (cv->amount.units <= 0)
        return XR_ERR_INVALID_AMOUNT;
    if (engine_asset(sh, fa->code, &c->from_asset) != 0 ||
        engine_asset(sh, ta->code, &c->to_asset) != 0)
        return XR_ERR_NOT_SUPPORTED; /* a configured route makes both engine assets */
    char route[XR_ENGINE_PAIR_NAME_MAX];
    snprintf(route, sizeof route, "%s/%s", xr_eng_asset(sh, c->from_asset)->code,
             xr_eng_asset(sh, c->to_asset)->code);
    for (uint32_t v = 0; v < sh->cfg.nvenues; v++) {
        const xr_engine_venue_config *vc = &sh->cfg.venues[v];
        for (uint32_t i = 0; i < vc->nconverts && i < XR_ENGINE_VENUE_CONVERTS_MAX; i++)
            if (strncmp(vc->converts[i], route, sizeof route) == 0) {
                c->venue = (uint16_t)v;
                return XR_OK;
            }
    }
    return XR_ERR_NOT_SUPPORTED;
}

void xr_eng_conv_report(const xr_eng_shared *sh, const xr_eng_conv *c, xr_engine_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = XR_ENGINE_EV_CONVERSION_REPORT;
    ev->bank_id = c->cmd.bank_id;
    ev->correlation_id = c->cmd.correlation_id;
    ev->customer_id = c->cmd.customer_id;
    xr_engine_conversion_ev *r = &ev->u.conversion;
    r->key = c->cmd.u.convert.key;
    r->status = c->status;
    r->err = c->err;
    memcpy(r->from_asset, xr_eng_asset(sh, c->from_asset)->code, sizeof r->from_asset);
    memcpy(r->to_asset, xr_eng_asset(sh, c->to_asset)->code, sizeof r->to_asset);
    r->from_amount = c->cmd.u.convert.amount;
    r->to_amount = c->to_amount;
    r->fee = c->fee;
}

void xr_eng_conv_route(const xr_eng_msg *m, bool from_ledger, xr_eng_port *to_venue,
                       xr_eng_port *to_ledger)
{
    XR_ASSERT(m->type == XR_ENG_M_CONV);
    if (from_ledger && m->u.conv.phase != XR_ENG_CV_RESULT)
        xr_eng_port_send(&to_venue[m->u.conv.venue], m);
    else
        xr_eng_port_send(to_ledger, m);
}
