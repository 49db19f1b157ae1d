/*
 * The order store's records (docs/ledger.md, "Order store"): keys and the fixed little-endian
 * layout of an order record, written by the ledger stage in the same durable commit as the
 * order's reservation and again with its booking, and read back at start-up, by ORDER_STATUS
 * and by LIST_ORDERS. An independent tool reads them with the layout in docs/ledger.md.
 */
#include <string.h>

#include "core/base/assert.h"
#include "core/engine/engine_internal.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static void put_i128(uint8_t *p, xr_i128 v)
{
    memcpy(p, &v, 16);
}
static uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static xr_i128 get_i128(const uint8_t *p)
{
    xr_i128 v;
    memcpy(&v, p, 16);
    return v;
}
static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

void xr_eng_client_order_id(const xr_ledger_id *reserve_id, uint32_t leg,
                            char out[XR_ENG_CLIENT_ID])
{
    static const char hex[] = "0123456789abcdef";
    XR_ASSERT(leg < 10);
    out[0] = 'x';
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[reserve_id->bytes[i] >> 4];
        out[2 + 2 * i] = hex[reserve_id->bytes[i] & 15];
    }
    out[33] = '-';
    out[34] = (char)('0' + leg);
    out[35] = '\0';
}

void xr_eng_order_key(uint32_t bank, const xr_engine_key *key, uint8_t out[XR_ENG_ORDER_KEY_LEN])
{
    out[0] = XR_ENG_KEY_ORDER;
    put_be(out + 1, bank, 4);
    memcpy(out + 5, key->bytes, 16);
}

void xr_eng_list_key(uint32_t bank, uint64_t customer, uint64_t seq,
                     uint8_t out[XR_ENG_LIST_KEY_LEN])
{
    out[0] = XR_ENG_KEY_LIST;
    put_be(out + 1, bank, 4);
    put_be(out + 5, customer, 8);
    put_be(out + 13, ~seq, 8); /* complemented: ascending keys are newest first */
}

void xr_eng_cust_key(uint32_t bank, uint64_t customer, uint8_t out[XR_ENG_CUST_KEY_LEN])
{
    out[0] = XR_ENG_KEY_CUSTOMER;
    put_be(out + 1, bank, 4);
    put_be(out + 5, customer, 8);
}

uint32_t xr_eng_order_encode(const xr_eng_order *o, uint8_t out[XR_ENG_REC_MAX])
{
    const xr_engine_order_cmd *c = &o->cmd.u.order;
    XR_ASSERT(o->n_legs <= XR_ENG_LEGS_MAX);
    XR_ASSERT(o->n_bx <= XR_ENGINE_VENUES_MAX);
    uint32_t legs_end = XR_ENG_REC_HEAD + (uint32_t)o->n_legs * XR_ENG_REC_LEG;
    uint32_t bx_end = legs_end + XR_ENG_REC_BX_HEAD + (uint32_t)o->n_bx * XR_ENG_REC_BX;
    uint32_t len = bx_end + XR_ENG_REC_TAIL;
    memset(out, 0, len);
    out[0] = XR_ENG_REC_VERSION;
    out[1] = o->status;
    out[2] = c->side;
    out[3] = c->type;
    out[4] = c->tif;
    out[5] = c->amount_side;
    out[6] = o->n_legs;
    out[7] = o->phase == XR_ENG_PH_BOOK || o->phase == XR_ENG_PH_DONE;
    put_u32(out + 8, o->cmd.bank_id);
    put_u32(out + 12, (uint32_t)o->err);
    put_u64(out + 16, o->cmd.customer_id);
    put_u64(out + 24, o->cust_no);
    put_u64(out + 32, o->seq);
    put_u64(out + 40, (uint64_t)o->created_ns);
    put_u64(out + 48, (uint64_t)o->booked_ns);
    memcpy(out + 56, c->key.bytes, 16);
    memcpy(out + 72, o->reserve_id.bytes, 16);
    memcpy(out + 88, c->pair, XR_ENGINE_PAIR_NAME_MAX);
    out[88 + XR_ENGINE_PAIR_NAME_MAX - 1] = 0;
    put_u32(out + 112, o->spread_bps);
    out[116] = o->scale.base;
    out[117] = o->scale.quote;
    out[118] = o->scale.price;
    out[119] = o->tier;
    put_u64(out + 120, o->cmd.correlation_id); /* v1: was zero padding */
    put_i128(out + 128, c->amount.units);
    put_i128(out + 144, o->reserve.units);
    put_i128(out + 160, o->filled.units);
    put_i128(out + 176, o->notional.units);
    put_i128(out + 192, o->fees.units);
    put_i128(out + 208, o->spread.units);
    put_i128(out + 224, o->quote.units);
    put_i128(out + 240, o->avg_price.ticks);
    put_i128(out + 256, c->limit.ticks);
    put_u64(out + 272, (uint64_t)c->expire_ns);
    put_u64(out + 280, c->quote_id);
    for (uint32_t i = 0; i < o->n_legs; i++) {
        const xr_eng_leg *g = &o->legs[i];
        uint8_t *b = out + XR_ENG_REC_HEAD + i * XR_ENG_REC_LEG;
        put_u16(b, g->venue);
        put_u16(b + 2, g->fee_bps);
        b[4] = g->done;
        b[5] = g->fee_in;
        b[6] = g->done_seen;
        put_u32(b + 8, (uint32_t)g->err);
        put_i128(b + 16, g->qty.units);
        put_i128(b + 32, g->limit.ticks);
        put_i128(b + 48, g->filled.units);
        put_i128(b + 64, g->quote_exact);
        put_i128(b + 80, g->venue_fee.units);
        put_i128(b + 96, g->notional.units);
        put_i128(b + 112, g->fee.units);
        xr_eng_client_order_id(&o->reserve_id, i, (char *)(b + 128));
    }
    /* v2: the best-execution block */
    out[legs_end] = o->n_bx;
    out[legs_end + 1] = o->booked;
    put_u16(out + legs_end + 2, o->res_n);
    put_u16(out + legs_end + 4, o->next_op);
    put_u64(out + legs_end + 8, (uint64_t)o->decided_ns);
    for (uint32_t i = 0; i < o->n_bx; i++) {
        const xr_engine_venue_price *x = &o->bx[i];
        uint8_t *b = out + legs_end + XR_ENG_REC_BX_HEAD + i * XR_ENG_REC_BX;
        put_u16(b, x->venue);
        b[2] = x->usable;
        put_u64(b + 8, x->age_ns);
        put_i128(b + 16, x->bid.ticks);
        put_i128(b + 32, x->ask.ticks);
    }
    /* v2: the tail (firm quotes, quote-side amounts, daily caps) */
    uint8_t *t = out + bx_end;
    put_i128(t, o->base_qty.units);
    put_i128(t + 16, o->q_quote.units);
    put_i128(t + 32, o->q_spread.units);
    put_i128(t + 48, o->pnl.units);
    put_i128(t + 64, o->cap_notional.units);
    return len;
}

xr_err xr_eng_order_decode(const xr_eng_shared *sh, const uint8_t *b, uint32_t len, xr_eng_order *o)
{
    memset(o, 0, sizeof *o);
    if (len < XR_ENG_REC_HEAD || (b[0] != 1 && b[0] != XR_ENG_REC_VERSION) ||
        b[6] > XR_ENG_LEGS_MAX)
        return XR_ERR_CORRUPT;
    const uint32_t legs_end = XR_ENG_REC_HEAD + (uint32_t)b[6] * XR_ENG_REC_LEG;
    /* v1 records (no best-execution block, no tail: a base-side order) still decode */
    if (b[0] == 1 ? len != legs_end
                  : (len < legs_end + XR_ENG_REC_BX_HEAD || b[legs_end] > XR_ENGINE_VENUES_MAX ||
                     len != legs_end + XR_ENG_REC_BX_HEAD + b[legs_end] * XR_ENG_REC_BX +
                                XR_ENG_REC_TAIL))
        return XR_ERR_CORRUPT;
    xr_engine_order_cmd *c = &o->cmd.u.order;
    o->cmd.kind = XR_ENGINE_CMD_NEW_ORDER;
    o->status = b[1];
    c->side = b[2];
    c->type = b[3];
    c->tif = b[4];
    c->amount_side = b[5];
    o->n_legs = b[6];
    o->phase = b[7] ? XR_ENG_PH_DONE : XR_ENG_PH_ROUTE;
    o->cmd.bank_id = get_u32(b + 8);
    o->err = (xr_err)get_u32(b + 12);
    o->cmd.customer_id = get_u64(b + 16);
    o->cust_no = get_u64(b + 24);
    o->seq = get_u64(b + 32);
    o->created_ns = (int64_t)get_u64(b + 40);
    o->booked_ns = (int64_t)get_u64(b + 48);
    memcpy(c->key.bytes, b + 56, 16);
    memcpy(o->reserve_id.bytes, b + 72, 16);
    memcpy(c->pair, b + 88, XR_ENGINE_PAIR_NAME_MAX);
    c->pair[XR_ENGINE_PAIR_NAME_MAX - 1] = '\0';
    o->spread_bps = get_u32(b + 112);
    o->scale.base = b[116];
    o->scale.quote = b[117];
    o->scale.price = b[118];
    o->tier = b[119];
    o->cmd.correlation_id = get_u64(b + 120);
    c->amount.units = get_i128(b + 128);
    o->reserve.units = get_i128(b + 144);
    o->filled.units = get_i128(b + 160);
    o->notional.units = get_i128(b + 176);
    o->fees.units = get_i128(b + 192);
    o->spread.units = get_i128(b + 208);
    o->quote.units = get_i128(b + 224);
    o->avg_price.ticks = get_i128(b + 240);
    c->limit.ticks = get_i128(b + 256);
    c->expire_ns = (int64_t)get_u64(b + 272);
    c->quote_id = get_u64(b + 280);
    for (uint32_t i = 0; i < o->n_legs; i++) {
        xr_eng_leg *g = &o->legs[i];
        const uint8_t *p = b + XR_ENG_REC_HEAD + i * XR_ENG_REC_LEG;
        g->venue = get_u16(p);
        g->fee_bps = get_u16(p + 2);
        g->done = p[4];
        g->fee_in = p[5];
        g->done_seen = p[6];
        g->err = (xr_err)get_u32(p + 8);
        g->qty.units = get_i128(p + 16);
        g->limit.ticks = get_i128(p + 32);
        g->filled.units = get_i128(p + 48);
        g->quote_exact = get_i128(p + 64);
        g->venue_fee.units = get_i128(p + 80);
        g->notional.units = get_i128(p + 96);
        g->fee.units = get_i128(p + 112);
        if (g->venue >= sh->cfg.nvenues && g->venue != XR_ENG_VENUE_INTERNAL)
            return XR_ERR_CORRUPT;
    }
    if (b[0] == 1) {
        o->base_qty = c->amount;
    } else {
        o->n_bx = b[legs_end];
        o->booked = b[legs_end + 1];
        o->res_n = get_u16(b + legs_end + 2);
        o->next_op = get_u16(b + legs_end + 4);
        o->decided_ns = (int64_t)get_u64(b + legs_end + 8);
        for (uint32_t i = 0; i < o->n_bx; i++) {
            xr_engine_venue_price *x = &o->bx[i];
            const uint8_t *p = b + legs_end + XR_ENG_REC_BX_HEAD + i * XR_ENG_REC_BX;
            x->venue = get_u16(p);
            x->usable = p[2];
            x->age_ns = get_u64(p + 8);
            x->bid.ticks = get_i128(p + 16);
            x->ask.ticks = get_i128(p + 32);
        }
        const uint8_t *t = b + legs_end + XR_ENG_REC_BX_HEAD + o->n_bx * XR_ENG_REC_BX;
        o->base_qty.units = get_i128(t);
        o->q_quote.units = get_i128(t + 16);
        o->q_spread.units = get_i128(t + 32);
        o->pnl.units = get_i128(t + 48);
        o->cap_notional.units = get_i128(t + 64);
    }
    int pair = xr_eng_find_pair(sh, c->pair);
    if (pair < 0)
        return XR_ERR_UNKNOWN_PAIR;
    o->pair = (uint32_t)pair;
    o->base_asset = sh->pairs[pair].base_asset;
    o->quote_asset = sh->pairs[pair].quote_asset;
    return XR_OK;
}

xr_ledger_id xr_eng_res_id(const xr_eng_order *o)
{
    return o->res_n == 0 ? o->reserve_id
                         : xr_eng_op_id(o->cmd.bank_id, &o->cmd.u.order.key, o->res_n);
}

void xr_eng_report_from_order(const xr_eng_order *o, xr_engine_exec_report_ev *r)
{
    memset(r, 0, sizeof *r);
    r->key = o->cmd.u.order.key;
    memcpy(r->pair, o->cmd.u.order.pair, sizeof r->pair);
    r->side = o->cmd.u.order.side;
    r->status = o->status;
    r->err = o->err;
    r->base_scale = o->scale.base;
    r->quote_scale = o->scale.quote;
    r->price_scale = o->scale.price;
    r->ordered = o->base_qty;
    r->filled = o->filled;
    r->quote = o->quote;
    r->notional = o->notional;
    r->fees = o->fees;
    r->spread = o->spread;
    r->avg_price = o->avg_price;
    r->booked_ns = o->booked_ns;
    uint32_t seen = 0; /* failover may send two children of an order to one venue */
    for (uint32_t i = 0; i < o->n_legs; i++)
        if (o->legs[i].filled.units > 0 && o->legs[i].venue != XR_ENG_VENUE_INTERNAL &&
            !(seen & (1u << o->legs[i].venue))) {
            seen |= 1u << o->legs[i].venue;
            r->venues++;
        }
}

void xr_eng_order_view(const xr_eng_order *o, xr_engine_order_ev *out)
{
    memset(out, 0, sizeof *out);
    xr_eng_report_from_order(o, &out->report);
    out->type = o->cmd.u.order.type;
    out->tif = o->cmd.u.order.tif;
    out->amount_side = o->cmd.u.order.amount_side;
    out->n_children = o->n_legs;
    out->spread_bps = o->spread_bps;
    out->seq = o->seq;
    out->created_ns = o->created_ns;
    for (uint32_t i = 0; i < o->n_legs && i < XR_ENGINE_CHILDREN_MAX; i++) {
        const xr_eng_leg *g = &o->legs[i];
        xr_engine_child *ch = &out->children[i];
        xr_eng_client_order_id(&o->reserve_id, i, ch->client_order_id);
        ch->venue = g->venue;
        ch->fee_bps = g->fee_bps;
        ch->done = g->done;
        ch->fee_in = g->fee_in;
        ch->err = g->err;
        ch->qty = g->qty;
        ch->limit = g->limit;
        ch->filled = g->filled;
        ch->notional = g->notional;
        ch->fee = g->fee;
        ch->venue_fee = g->venue_fee;
    }
    out->n_venue_prices = o->n_bx;
    out->decided_ns = o->decided_ns;
    for (uint32_t i = 0; i < o->n_bx; i++)
        out->venue_prices[i] = o->bx[i];
}
