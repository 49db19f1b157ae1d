/*
 * Binance codec, order path: REST order responses (new ACK/RESULT/FULL with fills, query,
 * cancel, order lists), error bodies, and the user-data stream (executionReport,
 * outboundAccountPosition, balanceUpdate). See codec_internal.h.
 */
#include <string.h>

#include "adapters/venues/binance/codec.h"
#include "adapters/venues/binance/codec_internal.h"
#include "adapters/venues/json.h"
#include "core/base/assert.h"

/* ---- orders --------------------------------------------------------------------------- */

static xr_err reject_reason(const xr_json_str *r)
{
    if (XR_JSON_IS(*r, "NONE"))
        return XR_OK;
    if (XR_JSON_IS(*r, "INSUFFICIENT_BALANCE"))
        return XR_ERR_INSUFFICIENT_FUNDS;
    if (XR_JSON_IS(*r, "UNKNOWN_ORDER") || XR_JSON_IS(*r, "UNKNOWN_INSTRUMENT"))
        return XR_ERR_NOT_FOUND;
    if (XR_JSON_IS(*r, "PRICE_QTY_EXCEED_HARD_LIMITS"))
        return XR_ERR_LIMIT_EXCEEDED;
    if (XR_JSON_IS(*r, "MARKET_CLOSED"))
        return XR_ERR_VENUE_UNAVAILABLE;
    if (XR_JSON_IS(*r, "DUPLICATE_ORDER"))
        return XR_ERR_ALREADY_EXISTS;
    return XR_ERR_REJECTED;
}

static bool order_enums(xr_json *j, xr_ev_order *o, const xr_json_str *side,
                        const xr_json_str *type, const xr_json_str *tif, const xr_json_str *status)
{
    xr_side sd;
    if (side->escaped || !bn_parse_side(side->ptr, side->len, &sd))
        return xr_json_fail_at(j, bn_off(j, side), "unknown side");
    o->side = (uint8_t)sd;
    if (type != NULL)
        o->type = (uint8_t)bn_parse_type(type->ptr, type->len);
    if (tif != NULL)
        o->tif = (uint8_t)bn_parse_tif(tif->ptr, tif->len);
    if (status != NULL) {
        xr_order_status st;
        if (status->escaped || !bn_parse_status(status->ptr, status->len, &st))
            return xr_json_fail_at(j, bn_off(j, status), "unknown order status");
        o->status = (uint8_t)st;
    }
    return true;
}

static bool fee_fields(bn_dec *d, xr_json *j, xr_ev_order *o, const xr_json_str *asset,
                       const xr_json_str *amount)
{
    if (asset == NULL || asset->len == 0) {
        o->fee_asset_id = XR_ASSET_ID_NONE;
        o->fee_scale = XR_BINANCE_DEFAULT_SCALE;
        return amount == NULL || bn_dec_at(j, amount, XR_BINANCE_DEFAULT_SCALE, 0, &o->fee.units);
    }
    if (asset->escaped || asset->len > XR_ASSET_CODE_MAX)
        return xr_json_fail_at(j, bn_off(j, asset), "bad asset");
    memcpy(o->fee_asset, asset->ptr, asset->len);
    o->fee_asset[asset->len] = '\0';
    o->fee_scale = (uint8_t)bn_asset_scale(d->c, asset->ptr, asset->len, &o->fee_asset_id);
    return amount == NULL || bn_dec_at(j, amount, o->fee_scale, 0, &o->fee.units);
}

/* WS executionReport. */
bool bn_parse_execution_report(bn_dec *d, xr_json *j)
{
    bn_slot slots[] = {{'s', {0}}, {'c', {0}}, {'S', {0}}, {'o', {0}}, {'f', {0}}, {'q', {0}},
                       {'p', {0}}, {'C', {0}}, {'x', {0}}, {'X', {0}}, {'r', {0}}, {'l', {0}},
                       {'z', {0}}, {'L', {0}}, {'n', {0}}, {'N', {0}}, {'Z', {0}}, {'Y', {0}}};
    const size_t ns = sizeof slots / sizeof slots[0];
    uint64_t seen = 0, order_id = 0;
    int64_t etime = 0, ttime = 0, trade_id = -1;
    size_t e_off = 0, t_off = 0;
    bool maker = false, fee_null = false;
    xr_json_str k, s;

    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        char c = bit < 0 ? '\0' : k.ptr[0];
        bool handled = true, ok = true;
        if (c == 'e')
            ok = xr_json_string(j, &s) && bn_expect_type(j, &s, "executionReport");
        else if (c == 'E')
            ok = (e_off = bn_value_offset(j), xr_json_int64(j, &etime));
        else if (c == 'i')
            ok = xr_json_uint64(j, &order_id);
        else if (c == 'T')
            ok = (t_off = bn_value_offset(j), xr_json_int64(j, &ttime));
        else if (c == 't')
            ok = xr_json_int64(j, &trade_id);
        else if (c == 'm')
            ok = xr_json_bool(j, &maker);
        else if (c == 'N' && xr_json_peek(j) == XR_JSON_NULL)
            ok = fee_null = xr_json_null(j);
        else if (c != '\0')
            ok = bn_slot_store(j, slots, ns, c, &handled);
        else
            handled = false;
        if (!ok)
            return false;
        if (!handled) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        if (!bn_mark_seen(j, &seen, bit, &k))
            return false;
    }
    if (xr_json_failed(j))
        return false;
    const uint64_t need = LMASK('s') | LMASK('c') | LMASK('S') | LMASK('o') | LMASK('q') |
                          LMASK('p') | LMASK('x') | LMASK('X') | LMASK('i') | LMASK('l') |
                          LMASK('z') | LMASK('L') | LMASK('T');
    if ((seen & need) != need)
        return xr_json_fail(j, "missing field");
    const xr_instrument *in = bn_instrument_at(d, j, bn_slot_get(slots, ns, 's'));
    if (in == NULL)
        return false;

    const xr_json_str *x = bn_slot_get(slots, ns, 'x');
    xr_event_kind kind;
    if (XR_JSON_IS(*x, "NEW"))
        kind = XR_EV_ORDER_ACK;
    else if (XR_JSON_IS(*x, "TRADE"))
        kind = XR_EV_ORDER_FILL;
    else if (XR_JSON_IS(*x, "CANCELED"))
        kind = XR_EV_ORDER_CANCEL;
    else if (XR_JSON_IS(*x, "REJECTED"))
        kind = XR_EV_ORDER_REJECT;
    else
        kind = XR_EV_ORDER_STATUS; /* EXPIRED, TRADE_PREVENTION, REPLACED, AMENDMENT */

    bn_event_begin(d, kind, in->id);
    xr_ev_order *o = &d->ev.u.order;
    const xr_json_str *cid = bn_slot_get(slots, ns, 'c'), *orig = bn_slot_get(slots, ns, 'C');
    /* A cancel's report carries the cancel request's id in "c" and the order's in "C". */
    if (kind == XR_EV_ORDER_CANCEL && (seen & LMASK('C')) && orig->len > 0) {
        if (!bn_copy_str(j, orig, o->client_order_id, sizeof o->client_order_id) ||
            !bn_copy_str(j, cid, o->cancel_request_id, sizeof o->cancel_request_id))
            return false;
    } else if (!bn_copy_str(j, cid, o->client_order_id, sizeof o->client_order_id)) {
        return false;
    }
    o->venue_order_id = order_id;
    if (!order_enums(j, o, bn_slot_get(slots, ns, 'S'), bn_slot_get(slots, ns, 'o'),
                     (seen & LMASK('f')) ? bn_slot_get(slots, ns, 'f') : NULL,
                     bn_slot_get(slots, ns, 'X')))
        return false;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    if (!bn_dec_at(j, bn_slot_get(slots, ns, 'p'), ps, 0, &o->price.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'q'), bs, 0, &o->qty.units) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'z'), bs, 0, &o->cum_qty.units) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'l'), bs, 0, &o->last_qty.units) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'L'), ps, 0, &o->last_price.ticks))
        return false;
    if ((seen & LMASK('Z')) &&
        !bn_dec_at(j, bn_slot_get(slots, ns, 'Z'), qs, 0, &o->cum_quote.units))
        return false;
    if ((seen & LMASK('Y')) &&
        !bn_dec_at(j, bn_slot_get(slots, ns, 'Y'), qs, 0, &o->last_quote.units))
        return false;
    if (!fee_fields(d, j, o, (seen & LMASK('N')) && !fee_null ? bn_slot_get(slots, ns, 'N') : NULL,
                    (seen & LMASK('n')) ? bn_slot_get(slots, ns, 'n') : NULL))
        return false;
    o->trade_id = trade_id > 0 ? (uint64_t)trade_id : 0;
    o->maker = maker;
    if (kind == XR_EV_ORDER_REJECT)
        o->reject =
            (seen & LMASK('r')) ? reject_reason(bn_slot_get(slots, ns, 'r')) : XR_ERR_REJECTED;
    if (!bn_ms_at(j, t_off, ttime, &o->transact_time_ns))
        return false;
    if ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}

/* The fields of a REST order object (new order response, query, cancel, open orders). */
enum {
    OF_SYMBOL,
    OF_ORDER_ID,
    OF_CLIENT_ID,
    OF_ORIG_CLIENT_ID,
    OF_TRANSACT_TIME,
    OF_TIME,
    OF_UPDATE_TIME,
    OF_PRICE,
    OF_ORIG_QTY,
    OF_EXECUTED_QTY,
    OF_CUM_QUOTE,
    OF_STATUS,
    OF_TIF,
    OF_TYPE,
    OF_SIDE,
    OF_FILLS,
    OF_CODE,
    OF__COUNT
};

static const char *const order_keys[OF__COUNT] = {
    [OF_SYMBOL] = "symbol",
    [OF_ORDER_ID] = "orderId",
    [OF_CLIENT_ID] = "clientOrderId",
    [OF_ORIG_CLIENT_ID] = "origClientOrderId",
    [OF_TRANSACT_TIME] = "transactTime",
    [OF_TIME] = "time",
    [OF_UPDATE_TIME] = "updateTime",
    [OF_PRICE] = "price",
    [OF_ORIG_QTY] = "origQty",
    [OF_EXECUTED_QTY] = "executedQty",
    [OF_CUM_QUOTE] = "cummulativeQuoteQty", /* sic: Binance's spelling */
    [OF_STATUS] = "status",
    [OF_TIF] = "timeInForce",
    [OF_TYPE] = "type",
    [OF_SIDE] = "side",
    [OF_FILLS] = "fills",
    [OF_CODE] = "code",
};

typedef struct order_obj {
    uint32_t seen;
    xr_json_str str[OF__COUNT];
    int64_t num[OF__COUNT];
    size_t num_off[OF__COUNT];
    size_t fills_off;
} order_obj;

static bool read_order_obj(xr_json *j, order_obj *o)
{
    xr_json_str k;
    memset(o, 0, sizeof *o);
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int f = -1;
        for (int i = 0; i < OF__COUNT; i++) {
            if (xr_json_str_eq(&k, order_keys[i], strlen(order_keys[i]))) {
                f = i;
                break;
            }
        }
        if (f < 0 || f == OF_CODE) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        if (o->seen & (1u << f))
            return xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
        o->seen |= 1u << f;
        bool ok;
        switch (f) {
        case OF_ORDER_ID:
        case OF_TRANSACT_TIME:
        case OF_TIME:
        case OF_UPDATE_TIME:
            o->num_off[f] = bn_value_offset(j);
            ok = xr_json_int64(j, &o->num[f]);
            break;
        case OF_FILLS:
            o->fills_off = bn_value_offset(j);
            ok = xr_json_skip(j);
            break;
        default:
            ok = xr_json_string(j, &o->str[f]);
            break;
        }
        if (!ok)
            return false;
    }
    return !xr_json_failed(j);
}

#define HAS(o, f) (((o)->seen >> (f)) & 1u)

/* One fill of a FULL response: {"price","qty","commission","commissionAsset","tradeId"}. */
static bool parse_fill(bn_dec *d, xr_json *j, const xr_instrument *in, xr_amount *cum)
{
    enum { F_PRICE = 1, F_QTY = 2, F_FEE = 4, F_FEE_ASSET = 8, F_TRADE = 16 };
    unsigned seen = 0;
    xr_json_str k, ps = {0}, qs = {0}, fee = {0}, fee_asset = {0};
    uint64_t trade_id = 0;
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        unsigned f = XR_JSON_IS(k, "price")             ? F_PRICE
                     : XR_JSON_IS(k, "qty")             ? F_QTY
                     : XR_JSON_IS(k, "commission")      ? F_FEE
                     : XR_JSON_IS(k, "commissionAsset") ? F_FEE_ASSET
                     : XR_JSON_IS(k, "tradeId")         ? F_TRADE
                                                        : 0;
        if (f == 0) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        if (seen & f)
            return xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
        seen |= f;
        bool ok = f == F_PRICE       ? xr_json_string(j, &ps)
                  : f == F_QTY       ? xr_json_string(j, &qs)
                  : f == F_FEE       ? xr_json_string(j, &fee)
                  : f == F_FEE_ASSET ? xr_json_string(j, &fee_asset)
                                     : xr_json_uint64(j, &trade_id);
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if ((seen & (F_PRICE | F_QTY)) != (F_PRICE | F_QTY))
        return xr_json_fail(j, "missing field");
    xr_ev_order *o = &d->ev.u.order;
    if (!bn_dec_at(j, &ps, in->scale.price, 0, &o->last_price.ticks) ||
        !bn_dec_at(j, &qs, in->scale.base, 0, &o->last_qty.units))
        return false;
    o->fee.units = 0;
    memset(o->fee_asset, 0, sizeof o->fee_asset);
    if (!fee_fields(d, j, o, (seen & F_FEE_ASSET) ? &fee_asset : NULL,
                    (seen & F_FEE) ? &fee : NULL))
        return false;
    o->trade_id = trade_id;
    if (xr_amount_add(*cum, o->last_qty, cum) != XR_OK)
        return xr_json_fail_at(j, bn_off(j, &qs), "fills overflow");
    return true;
}

/* Builds and produces the events of one REST order object. */
static bool order_events(bn_dec *d, xr_json *j, const order_obj *oo)
{
    if (!HAS(oo, OF_SYMBOL) || !HAS(oo, OF_ORDER_ID) ||
        !(HAS(oo, OF_CLIENT_ID) || HAS(oo, OF_ORIG_CLIENT_ID)))
        return xr_json_fail(j, "missing field");
    bool cancel = HAS(oo, OF_ORIG_CLIENT_ID);
    bool ack = !cancel && HAS(oo, OF_TRANSACT_TIME);
    if (!ack && (!HAS(oo, OF_STATUS) || !HAS(oo, OF_SIDE)))
        return xr_json_fail(j, "missing field");
    const xr_instrument *in = bn_instrument_at(d, j, &oo->str[OF_SYMBOL]);
    if (in == NULL)
        return false;
    if (oo->num[OF_ORDER_ID] < 0)
        return xr_json_fail_at(j, oo->num_off[OF_ORDER_ID], "negative order id");

    bn_event_begin(d,
                   cancel ? XR_EV_ORDER_CANCEL
                   : ack  ? XR_EV_ORDER_ACK
                          : XR_EV_ORDER_STATUS,
                   in->id);
    xr_ev_order *o = &d->ev.u.order;
    if (cancel) {
        if (!bn_copy_str(j, &oo->str[OF_ORIG_CLIENT_ID], o->client_order_id,
                         sizeof o->client_order_id) ||
            (HAS(oo, OF_CLIENT_ID) && !bn_copy_str(j, &oo->str[OF_CLIENT_ID], o->cancel_request_id,
                                                   sizeof o->cancel_request_id)))
            return false;
    } else if (!bn_copy_str(j, &oo->str[OF_CLIENT_ID], o->client_order_id,
                            sizeof o->client_order_id)) {
        return false;
    }
    o->venue_order_id = (uint64_t)oo->num[OF_ORDER_ID];
    o->status = XR_ORDER_PENDING; /* an ACK response says only that the order was taken */
    o->fee_asset_id = XR_ASSET_ID_NONE;
    if (HAS(oo, OF_SIDE) &&
        !order_enums(j, o, &oo->str[OF_SIDE], HAS(oo, OF_TYPE) ? &oo->str[OF_TYPE] : NULL,
                     HAS(oo, OF_TIF) ? &oo->str[OF_TIF] : NULL,
                     HAS(oo, OF_STATUS) ? &oo->str[OF_STATUS] : NULL))
        return false;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    if ((HAS(oo, OF_PRICE) && !bn_dec_at(j, &oo->str[OF_PRICE], ps, 0, &o->price.ticks)) ||
        (HAS(oo, OF_ORIG_QTY) && !bn_dec_at(j, &oo->str[OF_ORIG_QTY], bs, 0, &o->qty.units)) ||
        (HAS(oo, OF_EXECUTED_QTY) &&
         !bn_dec_at(j, &oo->str[OF_EXECUTED_QTY], bs, 0, &o->cum_qty.units)) ||
        (HAS(oo, OF_CUM_QUOTE) &&
         !bn_dec_at(j, &oo->str[OF_CUM_QUOTE], qs, 0, &o->cum_quote.units)))
        return false;
    int tf = HAS(oo, OF_TRANSACT_TIME) ? OF_TRANSACT_TIME
             : HAS(oo, OF_UPDATE_TIME) ? OF_UPDATE_TIME
             : HAS(oo, OF_TIME)        ? OF_TIME
                                       : -1;
    if (tf >= 0 && !bn_ms_at(j, oo->num_off[tf], oo->num[tf], &o->transact_time_ns))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    if (!HAS(oo, OF_FILLS))
        return true;

    /* FULL: one FILL per element, each carrying the order's fields, this execution, and the
     * quantity executed up to and including it. */
    const xr_ev_order base = *o;
    xr_amount cum = {0};
    xr_json sub = bn_reader_at(j, oo->fills_off);
    bool ok = xr_json_array_begin(&sub);
    while (ok && xr_json_array_next(&sub)) {
        bn_event_begin(d, XR_EV_ORDER_FILL, in->id);
        xr_ev_order *f = &d->ev.u.order;
        *f = base;
        f->cum_quote.units = 0; /* per-fill quote amounts are not reported */
        ok = parse_fill(d, &sub, in, &cum);
        if (ok) {
            f->cum_qty = cum;
            f->status = (uint8_t)(HAS(oo, OF_EXECUTED_QTY) && cum.units == base.cum_qty.units
                                      ? base.status
                                      : XR_ORDER_PARTIALLY_FILLED);
            ok = bn_produce(d) || xr_json_fail(&sub, "event refused");
        }
    }
    if (!bn_adopt_failure(j, &sub))
        return false;
    if (HAS(oo, OF_EXECUTED_QTY) && cum.units > base.cum_qty.units)
        return xr_json_fail_at(j, oo->fills_off, "fills exceed executed quantity");
    return true;
}

/* {"code":..,"msg":..} into an XR_EV_ERROR. */
bool bn_parse_error_obj(bn_dec *d, xr_json *j, int http_status)
{
    bool have_code = false, have_msg = false;
    int64_t code = 0;
    xr_json_str k, msg = {0};
    size_t code_off = 0;
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        bool ok;
        if (XR_JSON_IS(k, "code")) {
            ok = !have_code || xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            code_off = bn_value_offset(j);
            ok = ok && xr_json_int64(j, &code);
            have_code = true;
        } else if (XR_JSON_IS(k, "msg")) {
            ok = !have_msg || xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            ok = ok && xr_json_string(j, &msg);
            have_msg = true;
        } else {
            ok = xr_json_skip(j);
        }
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if (!have_code)
        return xr_json_fail(j, "missing field");
    if (code < INT32_MIN || code > INT32_MAX)
        return xr_json_fail_at(j, code_off, "integer out of range");
    bn_event_begin(d, XR_EV_ERROR, XR_INSTRUMENT_NONE);
    xr_ev_error *e = &d->ev.u.error;
    e->venue_code = (int32_t)code;
    e->http_status = (uint16_t)(http_status > 0 && http_status < 1000 ? http_status : 0);
    if (have_msg) {
        /* Keep what fits: a long message is cut (at a character boundary), never refused. */
        char tmp[1024];
        size_t n = 0;
        if (!msg.escaped) {
            n = msg.len < sizeof tmp ? msg.len : sizeof tmp - 1;
            memcpy(tmp, msg.ptr, n);
        } else if (msg.len < sizeof tmp) {
            n = xr_json_unescape(&msg, tmp, sizeof tmp);
            if (n == SIZE_MAX)
                n = 0;
        }
        if (n > XR_EV_ERROR_MSG_MAX) {
            n = XR_EV_ERROR_MSG_MAX;
            while (n > 0 && ((unsigned char)tmp[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(e->msg, tmp, n);
        e->msg[n] = '\0';
    }
    uint16_t flags = 0;
    e->err = xr_binance_map_error(e->http_status, e->venue_code, e->msg, strlen(e->msg), &flags);
    e->flags = flags;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}

bool bn_parse_order_body(bn_dec *d, xr_json *j)
{
    order_obj oo;
    xr_json_str k;
    xr_json probe;
    if (xr_json_peek(j) == XR_JSON_ARRAY) {
        if (!xr_json_array_begin(j))
            return false;
        while (xr_json_array_next(j)) {
            if (!read_order_obj(j, &oo) || !order_events(d, j, &oo))
                return false;
        }
        return !xr_json_failed(j);
    }
    if (bn_first_key(j, &k, &probe) && XR_JSON_IS(k, "code"))
        return bn_parse_error_obj(d, j, 0);
    return read_order_obj(j, &oo) && order_events(d, j, &oo);
}

/* ---- user data ------------------------------------------------------------------------ */

/* outboundAccountPosition: {"e","E","u","B":[{"a","f","l"}]} */
bool bn_parse_account_position(bn_dec *d, xr_json *j)
{
    uint64_t seen = 0;
    int64_t etime = 0, utime = 0;
    size_t e_off = 0, u_off = 0, b_off = 0;
    xr_json_str k, s;
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        char c = bit < 0 ? '\0' : k.ptr[0];
        bool ok;
        if (c == 'e')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 bn_expect_type(j, &s, "outboundAccountPosition");
        else if (c == 'E')
            ok = bn_mark_seen(j, &seen, bit, &k) &&
                 (e_off = bn_value_offset(j), xr_json_int64(j, &etime));
        else if (c == 'u')
            ok = bn_mark_seen(j, &seen, bit, &k) &&
                 (u_off = bn_value_offset(j), xr_json_int64(j, &utime));
        else if (c == 'B')
            ok = bn_mark_seen(j, &seen, bit, &k) && (b_off = bn_value_offset(j), xr_json_skip(j));
        else
            ok = xr_json_skip(j);
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if (!(seen & LMASK('B')))
        return xr_json_fail(j, "missing field");
    int64_t ens = 0, uns = 0;
    if (((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &ens)) ||
        ((seen & LMASK('u')) && !bn_ms_at(j, u_off, utime, &uns)))
        return false;

    xr_json sub = bn_reader_at(j, b_off);
    bool ok = xr_json_array_begin(&sub);
    while (ok && xr_json_array_next(&sub)) {
        uint64_t bseen = 0;
        xr_json_str a = {0}, f = {0}, l = {0};
        ok = xr_json_object_begin(&sub);
        while (ok && xr_json_object_next(&sub, &k)) {
            int bit = bn_letter_bit(&k);
            char c = bit < 0 ? '\0' : k.ptr[0];
            xr_json_str *dst = c == 'a' ? &a : c == 'f' ? &f : c == 'l' ? &l : NULL;
            if (dst == NULL)
                ok = xr_json_skip(&sub);
            else
                ok = bn_mark_seen(&sub, &bseen, bit, &k) && xr_json_string(&sub, dst);
        }
        ok = ok && !xr_json_failed(&sub);
        if (ok && bseen != (LMASK('a') | LMASK('f') | LMASK('l')))
            ok = xr_json_fail(&sub, "missing field");
        if (ok && (a.escaped || a.len == 0 || a.len > XR_ASSET_CODE_MAX))
            ok = xr_json_fail_at(&sub, bn_off(&sub, &a), "bad asset");
        if (!ok)
            break;
        bn_event_begin(d, XR_EV_BALANCE, XR_INSTRUMENT_NONE);
        xr_ev_balance *bal = &d->ev.u.balance;
        memcpy(bal->asset, a.ptr, a.len);
        bal->scale = (uint8_t)bn_asset_scale(d->c, a.ptr, a.len, &bal->asset_id);
        bal->update_time_ns = uns;
        d->ev.event_time_ns = ens;
        ok = bn_dec_at(&sub, &f, bal->scale, 0, &bal->free.units) &&
             bn_dec_at(&sub, &l, bal->scale, 0, &bal->locked.units) &&
             (bn_produce(d) || xr_json_fail(&sub, "event refused"));
    }
    return bn_adopt_failure(j, &sub);
}

/* balanceUpdate: {"e","E","a","d","T"} */
bool bn_parse_balance_update(bn_dec *d, xr_json *j)
{
    uint64_t seen = 0;
    int64_t etime = 0, ttime = 0;
    size_t e_off = 0, t_off = 0;
    xr_json_str k, s, a = {0}, delta = {0};
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        char c = bit < 0 ? '\0' : k.ptr[0];
        bool ok;
        if (c == 'e')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 bn_expect_type(j, &s, "balanceUpdate");
        else if (c == 'E')
            ok = bn_mark_seen(j, &seen, bit, &k) &&
                 (e_off = bn_value_offset(j), xr_json_int64(j, &etime));
        else if (c == 'T')
            ok = bn_mark_seen(j, &seen, bit, &k) &&
                 (t_off = bn_value_offset(j), xr_json_int64(j, &ttime));
        else if (c == 'a')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &a);
        else if (c == 'd')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &delta);
        else
            ok = xr_json_skip(j);
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if ((seen & (LMASK('a') | LMASK('d'))) != (LMASK('a') | LMASK('d')))
        return xr_json_fail(j, "missing field");
    if (a.escaped || a.len == 0 || a.len > XR_ASSET_CODE_MAX)
        return xr_json_fail_at(j, bn_off(j, &a), "bad asset");
    bn_event_begin(d, XR_EV_BALANCE, XR_INSTRUMENT_NONE);
    xr_ev_balance *bal = &d->ev.u.balance;
    memcpy(bal->asset, a.ptr, a.len);
    bal->scale = (uint8_t)bn_asset_scale(d->c, a.ptr, a.len, &bal->asset_id);
    bal->is_delta = 1;
    if (!bn_dec_at(j, &delta, bal->scale, XR_DEC_ALLOW_NEGATIVE, &bal->delta.units))
        return false;
    if (((seen & LMASK('T')) && !bn_ms_at(j, t_off, ttime, &bal->update_time_ns)) ||
        ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns)))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}
