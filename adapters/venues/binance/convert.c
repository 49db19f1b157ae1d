/*
 * Binance Convert: request builders and answer parsers (see convert.h).
 */
#include "adapters/venues/binance/convert.h"

#include <string.h>

#include "adapters/venues/json.h"
#include "core/base/assert.h"

/* ---- requests -------------------------------------------------------------------------------- */

/* Asset codes as the registry has them: 2..11 upper-case letters and digits. */
static bool asset_valid(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n == XR_ASSET_CODE_MAX ||
            !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    return n >= 2;
}

/* Binance's ids are decimal digits; accept the client-id alphabet to stay tolerant. */
static bool id_valid(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    return n > 0 && n <= XR_BINANCE_CONVERT_ID_MAX && xr_binance_client_order_id_valid(s);
}

static xr_err build(xr_binance_request *r, const xr_binance_auth *auth, int64_t now_local_ms,
                    xr_http_method m, uint16_t weight, const char *path, xr_binance_query *q)
{
    XR_ASSERT(r != NULL && auth != NULL);
    memset(r, 0, offsetof(xr_binance_request, target));
    r->target[0] = '\0';
    r->method = (uint8_t)m;
    r->weight = weight;
    r->api_key = true;
    if (auth->recv_window_ms != 0)
        xr_binance_query_add_u64(q, "recvWindow", auth->recv_window_ms);
    int64_t ts = xr_binance_clock_server_ms(&auth->clock, now_local_ms);
    xr_binance_query_add_u64(q, "timestamp", ts > 0 ? (uint64_t)ts : 0);
    xr_binance_query_sign(q, &auth->signer);
    xr_err err = xr_binance_query_status(q);
    if (err != XR_OK)
        return err;
    size_t pl = strlen(path);
    if (pl + 1 + q->len > XR_BINANCE_TARGET_MAX)
        return XR_ERR_NO_MEMORY;
    memcpy(r->target, path, pl);
    r->target[pl] = '?';
    memcpy(r->target + pl + 1, q->buf, q->len);
    r->target_len = pl + 1 + q->len;
    r->target[r->target_len] = '\0';
    return XR_OK;
}

xr_err xr_binance_req_convert_quote(xr_binance_request *r, const xr_binance_auth *auth,
                                    int64_t now_local_ms, const char *from_asset,
                                    const char *to_asset, xr_amount from_amount,
                                    unsigned from_scale, const char *valid_time)
{
    if (!asset_valid(from_asset) || !asset_valid(to_asset) || strcmp(from_asset, to_asset) == 0 ||
        from_amount.units <= 0 || from_scale > XR_SCALE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    if (valid_time != NULL && strcmp(valid_time, "10s") != 0 && strcmp(valid_time, "30s") != 0 &&
        strcmp(valid_time, "1m") != 0 && strcmp(valid_time, "2m") != 0)
        return XR_ERR_INVALID_ARGUMENT;
    char text[XR_DECIMAL_STR_MAX];
    size_t n = xr_decimal_format_trim(from_amount.units, from_scale, text, sizeof text);
    if (n == 0)
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    xr_binance_query_add_str(&q, "fromAsset", from_asset);
    xr_binance_query_add_str(&q, "toAsset", to_asset);
    xr_binance_query_add(&q, "fromAmount", text, n);
    xr_binance_query_add_str(&q, "walletType", "SPOT");
    if (valid_time != NULL)
        xr_binance_query_add_str(&q, "validTime", valid_time);
    return build(r, auth, now_local_ms, XR_HTTP_POST, 200, "/sapi/v1/convert/getQuote", &q);
}

xr_err xr_binance_req_convert_accept(xr_binance_request *r, const xr_binance_auth *auth,
                                     int64_t now_local_ms, const char *quote_id)
{
    if (!id_valid(quote_id))
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    xr_binance_query_add_str(&q, "quoteId", quote_id);
    return build(r, auth, now_local_ms, XR_HTTP_POST, 500, "/sapi/v1/convert/acceptQuote", &q);
}

xr_err xr_binance_req_convert_status(xr_binance_request *r, const xr_binance_auth *auth,
                                     int64_t now_local_ms, const char *quote_id)
{
    if (!id_valid(quote_id))
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    xr_binance_query_add_str(&q, "quoteId", quote_id);
    return build(r, auth, now_local_ms, XR_HTTP_GET, 100, "/sapi/v1/convert/orderStatus", &q);
}

/* ---- answers --------------------------------------------------------------------------------- */

const char *xr_binance_convert_status_name(xr_binance_convert_status s)
{
    switch (s) {
    case XR_BINANCE_CONVERT_PROCESS:
        return "PROCESS";
    case XR_BINANCE_CONVERT_ACCEPT_SUCCESS:
        return "ACCEPT_SUCCESS";
    case XR_BINANCE_CONVERT_SUCCESS:
        return "SUCCESS";
    case XR_BINANCE_CONVERT_FAIL:
        return "FAIL";
    }
    return "UNKNOWN";
}

/* Fields of the three answers; bit i of `seen` is field i. */
enum {
    F_QUOTE_ID,
    F_ORDER_ID,
    F_STATUS,
    F_CREATE_TIME,
    F_VALID_TS,
    F_FROM_ASSET,
    F_TO_ASSET,
    F_FROM_AMOUNT,
    F_TO_AMOUNT,
    F_RATIO,
    F_INVERSE_RATIO,
};

typedef struct pctx {
    xr_json j;
    unsigned from_scale, to_scale;
    uint32_t seen;
} pctx;

static bool fail(pctx *c, const char *reason)
{
    return xr_json_fail(&c->j, reason);
}

/* The byte offset where the next value starts (after whitespace), for error reports. */
static size_t value_at(pctx *c)
{
    const char *v = xr_json_raw_begin(&c->j);
    return v != NULL ? (size_t)(v - c->j.base) : xr_json_offset(&c->j);
}

/* An id: a string (acceptQuote's orderId, quoteId) or a non-negative integer (orderStatus's
 * orderId), kept as its decimal text. */
static bool read_id(pctx *c, char out[XR_BINANCE_CONVERT_ID_MAX + 1])
{
    xr_json_str s;
    xr_json_type t = xr_json_peek(&c->j);
    if (t == XR_JSON_STRING) {
        size_t at = value_at(c);
        if (!xr_json_string(&c->j, &s))
            return false;
        if (s.escaped || s.len == 0 || s.len > XR_BINANCE_CONVERT_ID_MAX)
            return xr_json_fail_at(&c->j, at, "bad id");
        for (size_t i = 0; i < s.len; i++) {
            char ch = s.ptr[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= 'a' && ch <= 'z') || ch == '-' || ch == '_' || ch == '.'))
                return xr_json_fail_at(&c->j, at, "bad id");
        }
        memcpy(out, s.ptr, s.len);
        out[s.len] = '\0';
        return true;
    }
    if (t == XR_JSON_NUMBER) {
        size_t at = value_at(c);
        uint64_t v;
        if (c->j.base[at] == '-')
            return xr_json_fail_at(&c->j, at, "bad id");
        if (!xr_json_uint64(&c->j, &v))
            return xr_json_fail_at(&c->j, at, "bad id");
        char tmp[24];
        size_t n = 0;
        do {
            tmp[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v > 0);
        for (size_t i = 0; i < n; i++)
            out[i] = tmp[n - 1 - i];
        out[n] = '\0';
        return true;
    }
    return fail(c, "expected id");
}

static bool read_decimal(pctx *c, unsigned scale, xr_i128 *out)
{
    xr_json_str s;
    size_t at = value_at(c);
    if (xr_json_peek(&c->j) != XR_JSON_STRING)
        return fail(c, "expected decimal string");
    if (!xr_json_string(&c->j, &s))
        return false;
    if (s.escaped)
        return xr_json_fail_at(&c->j, at, "escaped decimal");
    xr_parse_error pe;
    if (xr_decimal_parse(s.ptr, s.len, scale, XR_DEC_ALLOW_TRAILING_ZEROS, out, &pe) != XR_OK)
        return xr_json_fail_at(&c->j, at + 1 + pe.offset, xr_decimal_fault_name(pe.fault));
    if (*out < 0)
        return xr_json_fail_at(&c->j, at, "negative");
    return true;
}

static bool read_asset(pctx *c, char out[XR_ASSET_CODE_MAX + 1])
{
    xr_json_str s;
    size_t at = value_at(c);
    if (xr_json_peek(&c->j) != XR_JSON_STRING)
        return fail(c, "expected asset");
    if (!xr_json_string(&c->j, &s))
        return false;
    if (s.escaped || s.len < 2 || s.len > XR_ASSET_CODE_MAX)
        return xr_json_fail_at(&c->j, at, "bad asset");
    for (size_t i = 0; i < s.len; i++)
        if (!((s.ptr[i] >= 'A' && s.ptr[i] <= 'Z') || (s.ptr[i] >= '0' && s.ptr[i] <= '9')))
            return xr_json_fail_at(&c->j, at, "bad asset");
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

static bool read_status(pctx *c, uint8_t *out)
{
    xr_json_str s;
    size_t at = value_at(c);
    if (xr_json_peek(&c->j) != XR_JSON_STRING)
        return fail(c, "expected status");
    if (!xr_json_string(&c->j, &s))
        return false;
    for (unsigned st = XR_BINANCE_CONVERT_PROCESS; st <= XR_BINANCE_CONVERT_FAIL; st++) {
        const char *name = xr_binance_convert_status_name((xr_binance_convert_status)st);
        if (xr_json_str_eq(&s, name, strlen(name))) {
            *out = (uint8_t)st;
            return true;
        }
    }
    return xr_json_fail_at(&c->j, at, "unknown orderStatus");
}

static bool read_ms(pctx *c, int64_t *out)
{
    size_t at = value_at(c);
    if (xr_json_peek(&c->j) != XR_JSON_NUMBER || !xr_json_int64(&c->j, out))
        return fail(c, "expected milliseconds");
    if (*out < 0)
        return xr_json_fail_at(&c->j, at, "negative time");
    return true;
}

static int field_of(const xr_json_str *k)
{
    static const char *const names[] = {
        [F_QUOTE_ID] = "quoteId",           [F_ORDER_ID] = "orderId",
        [F_STATUS] = "orderStatus",         [F_CREATE_TIME] = "createTime",
        [F_VALID_TS] = "validTimestamp",    [F_FROM_ASSET] = "fromAsset",
        [F_TO_ASSET] = "toAsset",           [F_FROM_AMOUNT] = "fromAmount",
        [F_TO_AMOUNT] = "toAmount",         [F_RATIO] = "ratio",
        [F_INVERSE_RATIO] = "inverseRatio",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (xr_json_str_eq(k, names[i], strlen(names[i])))
            return (int)i;
    return -1;
}

/* Walks the answer object; `want` is the set of fields this answer may have (others are
 * skipped), `need` those it must have. Fills both outputs' fields it meets. */
static xr_err walk(pctx *c, const char *buf, size_t len, uint32_t want, uint32_t need,
                   xr_binance_convert_quote *q, xr_binance_convert_order *o, xr_decode_error *perr)
{
    xr_json_init(&c->j, buf, len);
    c->seen = 0;
    xr_json_str k;
    if (xr_json_peek(&c->j) != XR_JSON_OBJECT)
        fail(c, "expected object");
    else if (xr_json_object_begin(&c->j)) {
        while (xr_json_object_next(&c->j, &k)) {
            int f = field_of(&k);
            if (f < 0 || !(want & (1u << f))) {
                xr_json_skip(&c->j);
                continue;
            }
            if (c->seen & (1u << f)) {
                fail(c, "duplicate key");
                break;
            }
            c->seen |= 1u << f;
            bool ok = true;
            switch (f) {
            case F_QUOTE_ID:
                ok = read_id(c, q->quote_id);
                break;
            case F_ORDER_ID:
                ok = read_id(c, o->order_id);
                break;
            case F_STATUS:
                ok = read_status(c, &o->status);
                break;
            case F_CREATE_TIME:
                ok = read_ms(c, &o->create_time_ms);
                break;
            case F_VALID_TS:
                ok = read_ms(c, &q->valid_until_ms);
                break;
            case F_FROM_ASSET:
                ok = read_asset(c, o->from_asset);
                break;
            case F_TO_ASSET:
                ok = read_asset(c, o->to_asset);
                break;
            case F_FROM_AMOUNT:
                ok = read_decimal(c, c->from_scale,
                                  q != NULL ? &q->from_amount.units : &o->from_amount.units);
                break;
            case F_TO_AMOUNT:
                ok = read_decimal(c, c->to_scale,
                                  q != NULL ? &q->to_amount.units : &o->to_amount.units);
                break;
            case F_RATIO:
                ok = read_decimal(c, XR_BINANCE_CONVERT_RATIO_SCALE,
                                  q != NULL ? &q->ratio : &o->ratio);
                break;
            case F_INVERSE_RATIO:
                ok = read_decimal(c, XR_BINANCE_CONVERT_RATIO_SCALE,
                                  q != NULL ? &q->inverse_ratio : &o->inverse_ratio);
                break;
            }
            if (!ok)
                break;
        }
    }
    if (!xr_json_failed(&c->j) && !xr_json_finish(&c->j))
        fail(c, "trailing data");
    if (!xr_json_failed(&c->j) && (c->seen & need) != need)
        xr_json_fail_at(&c->j, len, "missing field");
    if (xr_json_failed(&c->j)) {
        if (perr != NULL) {
            perr->offset = c->j.err_offset;
            perr->reason = c->j.err_reason;
        }
        return XR_ERR_MALFORMED;
    }
    if (perr != NULL) {
        perr->offset = 0;
        perr->reason = NULL;
    }
    return XR_OK;
}

#define BIT(f) (1u << (f))

xr_err xr_binance_parse_convert_quote(const char *buf, size_t len, unsigned from_scale,
                                      unsigned to_scale, xr_binance_convert_quote *out,
                                      xr_decode_error *perr)
{
    XR_ASSERT(buf != NULL || len == 0);
    XR_ASSERT(out != NULL);
    pctx c;
    c.from_scale = from_scale;
    c.to_scale = to_scale;
    xr_binance_convert_quote q;
    memset(&q, 0, sizeof q);
    const uint32_t want = BIT(F_QUOTE_ID) | BIT(F_VALID_TS) | BIT(F_FROM_AMOUNT) |
                          BIT(F_TO_AMOUNT) | BIT(F_RATIO) | BIT(F_INVERSE_RATIO);
    /* quoteId is absent when the balance does not cover the amount: still a valid answer. */
    const uint32_t need = want & ~BIT(F_QUOTE_ID);
    xr_err err = walk(&c, buf, len, want, need, &q, NULL, perr);
    if (err == XR_OK)
        *out = q;
    return err;
}

xr_err xr_binance_parse_convert_accept(const char *buf, size_t len, xr_binance_convert_order *out,
                                       xr_decode_error *perr)
{
    XR_ASSERT(buf != NULL || len == 0);
    XR_ASSERT(out != NULL);
    pctx c;
    c.from_scale = c.to_scale = 0;
    xr_binance_convert_order o;
    memset(&o, 0, sizeof o);
    const uint32_t want = BIT(F_ORDER_ID) | BIT(F_STATUS) | BIT(F_CREATE_TIME);
    xr_err err = walk(&c, buf, len, want, want, NULL, &o, perr);
    if (err == XR_OK)
        *out = o;
    return err;
}

xr_err xr_binance_parse_convert_status(const char *buf, size_t len, unsigned from_scale,
                                       unsigned to_scale, xr_binance_convert_order *out,
                                       xr_decode_error *perr)
{
    XR_ASSERT(buf != NULL || len == 0);
    XR_ASSERT(out != NULL);
    pctx c;
    c.from_scale = from_scale;
    c.to_scale = to_scale;
    xr_binance_convert_order o;
    memset(&o, 0, sizeof o);
    const uint32_t want = BIT(F_ORDER_ID) | BIT(F_STATUS) | BIT(F_CREATE_TIME) | BIT(F_FROM_ASSET) |
                          BIT(F_TO_ASSET) | BIT(F_FROM_AMOUNT) | BIT(F_TO_AMOUNT) | BIT(F_RATIO) |
                          BIT(F_INVERSE_RATIO);
    const uint32_t need = BIT(F_ORDER_ID) | BIT(F_STATUS) | BIT(F_FROM_ASSET) | BIT(F_TO_ASSET) |
                          BIT(F_FROM_AMOUNT) | BIT(F_TO_AMOUNT);
    xr_err err = walk(&c, buf, len, want, need, NULL, &o, perr);
    if (err == XR_OK) {
        o.has_amounts = 1;
        *out = o;
    }
    return err;
}
