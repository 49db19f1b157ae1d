/*
 * Binance REST request builders (see rest.h).
 */
#include "adapters/venues/binance/rest.h"

#include <string.h>

#include "adapters/venues/binance/codec.h"
#include "core/base/assert.h"

const char *xr_http_method_name(xr_http_method m)
{
    switch (m) {
    case XR_HTTP_GET:
        return "GET";
    case XR_HTTP_POST:
        return "POST";
    case XR_HTTP_DELETE:
        return "DELETE";
    }
    return "?";
}

/* Symbols are upper-case letters and digits (Binance's own rule for spot pairs). */
static bool symbol_valid(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n == XR_SYMBOL_MAX || !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    }
    return n > 0;
}

bool xr_binance_client_order_id_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        char c = id[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == ':' || c == '/' || c == '_' || c == '-';
        if (!ok || n == 36)
            return false;
    }
    return n > 0;
}

static void begin(xr_binance_request *r, xr_http_method m, uint16_t weight)
{
    XR_ASSERT(r != NULL);
    memset(r, 0, offsetof(xr_binance_request, target));
    r->target[0] = '\0';
    r->method = (uint8_t)m;
    r->weight = weight;
}

/* path + '?' + query (or just the path when the query is empty). */
static xr_err finish(xr_binance_request *r, const char *path, const xr_binance_query *q)
{
    xr_err err = xr_binance_query_status(q);
    if (err != XR_OK)
        return err;
    size_t pl = strlen(path);
    size_t need = pl + (q->len > 0 ? 1 + q->len : 0);
    if (need > XR_BINANCE_TARGET_MAX)
        return XR_ERR_NO_MEMORY;
    memcpy(r->target, path, pl);
    if (q->len > 0) {
        r->target[pl] = '?';
        memcpy(r->target + pl + 1, q->buf, q->len);
    }
    r->target[need] = '\0';
    r->target_len = need;
    return XR_OK;
}

/* Appends recvWindow and timestamp, then signs. */
static void sign(xr_binance_request *r, xr_binance_query *q, const xr_binance_auth *auth,
                 int64_t now_local_ms)
{
    XR_ASSERT(auth != NULL);
    if (auth->recv_window_ms != 0)
        xr_binance_query_add_u64(q, "recvWindow", auth->recv_window_ms);
    int64_t ts = xr_binance_clock_server_ms(&auth->clock, now_local_ms);
    xr_binance_query_add_u64(q, "timestamp", ts > 0 ? (uint64_t)ts : 0);
    xr_binance_query_sign(q, &auth->signer);
    r->api_key = true;
}

xr_err xr_binance_req_ping(xr_binance_request *r)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 1);
    return finish(r, "/api/v3/ping", &q);
}

xr_err xr_binance_req_time(xr_binance_request *r)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 1);
    return finish(r, "/api/v3/time", &q);
}

xr_err xr_binance_req_exchange_info(xr_binance_request *r, const char *symbol)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 20);
    if (symbol != NULL) {
        if (!symbol_valid(symbol))
            return XR_ERR_INVALID_ARGUMENT;
        xr_binance_query_add_str(&q, "symbol", symbol);
    }
    return finish(r, "/api/v3/exchangeInfo", &q);
}

xr_err xr_binance_req_depth(xr_binance_request *r, const char *symbol, unsigned limit)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    if (!symbol_valid(symbol) || limit == 0 || limit > 5000)
        return XR_ERR_INVALID_ARGUMENT;
    uint16_t w = limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
    begin(r, XR_HTTP_GET, w);
    xr_binance_query_add_str(&q, "symbol", symbol);
    xr_binance_query_add_u64(&q, "limit", limit);
    return finish(r, "/api/v3/depth", &q);
}

xr_err xr_binance_req_ticker_24hr(xr_binance_request *r, const char *symbol)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, symbol != NULL ? 2 : 80);
    if (symbol != NULL) {
        if (!symbol_valid(symbol))
            return XR_ERR_INVALID_ARGUMENT;
        xr_binance_query_add_str(&q, "symbol", symbol);
    }
    return finish(r, "/api/v3/ticker/24hr", &q);
}

xr_err xr_binance_req_klines(xr_binance_request *r, const char *symbol, const char *interval,
                             unsigned limit)
{
    static const char *const intervals[] = {"1s", "1m", "3m", "5m",  "15m", "30m", "1h", "2h",
                                            "4h", "6h", "8h", "12h", "1d",  "3d",  "1w", "1M"};
    bool known = false;
    for (size_t i = 0; interval != NULL && i < sizeof intervals / sizeof intervals[0]; i++)
        known = known || strcmp(interval, intervals[i]) == 0;
    if (!symbol_valid(symbol) || !known || limit == 0 || limit > 1000)
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 2);
    xr_binance_query_add_str(&q, "symbol", symbol);
    xr_binance_query_add_str(&q, "interval", interval);
    xr_binance_query_add_u64(&q, "limit", limit);
    return finish(r, "/api/v3/klines", &q);
}

xr_err xr_binance_req_trades(xr_binance_request *r, const char *symbol, unsigned limit)
{
    if (!symbol_valid(symbol) || limit == 0 || limit > 1000)
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 25);
    xr_binance_query_add_str(&q, "symbol", symbol);
    xr_binance_query_add_u64(&q, "limit", limit);
    return finish(r, "/api/v3/trades", &q);
}

xr_err xr_binance_req_account(xr_binance_request *r, const xr_binance_auth *auth,
                              int64_t now_local_ms)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, 20);
    /* Zero balances are noise for reconciliation and can be thousands of entries. */
    xr_binance_query_add_str(&q, "omitZeroBalances", "true");
    sign(r, &q, auth, now_local_ms);
    return finish(r, "/api/v3/account", &q);
}

static void add_decimal(xr_binance_query *q, const char *key, xr_i128 v, unsigned scale)
{
    char text[XR_DECIMAL_STR_MAX];
    size_t n = xr_decimal_format_trim(v, scale, text, sizeof text);
    XR_ASSERT(n > 0);
    xr_binance_query_add(q, key, text, n);
}

xr_err xr_binance_req_order_new(xr_binance_request *r, const xr_binance_auth *auth,
                                int64_t now_local_ms, const xr_binance_order_params *p)
{
    XR_ASSERT(p != NULL);
    if (p->inst == NULL || !symbol_valid(p->inst->symbol) ||
        !xr_binance_client_order_id_valid(p->client_order_id) ||
        xr_binance_side_param(p->side) == NULL || xr_binance_type_param(p->type) == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    bool limit = p->type == XR_ORDER_TYPE_LIMIT;
    bool priced = limit || p->type == XR_ORDER_TYPE_LIMIT_MAKER;
    if ((limit && xr_binance_tif_param(p->tif) == NULL) || (!limit && p->tif != XR_TIF_NONE) ||
        (priced && p->price.ticks <= 0) || (!priced && p->price.ticks != 0))
        return XR_ERR_INVALID_ARGUMENT;
    /* Refused here, a bad size costs no request weight and no order count. */
    xr_err err = xr_instrument_check_order(p->inst, p->price, p->qty);
    if (err != XR_OK)
        return err;

    static const char *const resp[] = {"FULL", "RESULT", "ACK"};
    if ((unsigned)p->resp_type > XR_BINANCE_RESP_ACK)
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_POST, 1);
    r->is_order = true;
    xr_binance_query_add_str(&q, "symbol", p->inst->symbol);
    xr_binance_query_add_str(&q, "side", xr_binance_side_param(p->side));
    xr_binance_query_add_str(&q, "type", xr_binance_type_param(p->type));
    if (limit)
        xr_binance_query_add_str(&q, "timeInForce", xr_binance_tif_param(p->tif));
    add_decimal(&q, "quantity", p->qty.units, p->inst->scale.base);
    if (priced)
        add_decimal(&q, "price", p->price.ticks, p->inst->scale.price);
    xr_binance_query_add_str(&q, "newClientOrderId", p->client_order_id);
    xr_binance_query_add_str(&q, "newOrderRespType", resp[p->resp_type]);
    sign(r, &q, auth, now_local_ms);
    return finish(r, "/api/v3/order", &q);
}

static xr_err order_by_client_id(xr_binance_request *r, const xr_binance_auth *auth,
                                 int64_t now_local_ms, const xr_instrument *inst,
                                 const char *client_order_id, xr_http_method m, uint16_t weight)
{
    if (inst == NULL || !symbol_valid(inst->symbol) ||
        !xr_binance_client_order_id_valid(client_order_id))
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, m, weight);
    xr_binance_query_add_str(&q, "symbol", inst->symbol);
    xr_binance_query_add_str(&q, "origClientOrderId", client_order_id);
    sign(r, &q, auth, now_local_ms);
    return finish(r, "/api/v3/order", &q);
}

xr_err xr_binance_req_order_query(xr_binance_request *r, const xr_binance_auth *auth,
                                  int64_t now_local_ms, const xr_instrument *inst,
                                  const char *client_order_id)
{
    return order_by_client_id(r, auth, now_local_ms, inst, client_order_id, XR_HTTP_GET, 4);
}

xr_err xr_binance_req_order_cancel(xr_binance_request *r, const xr_binance_auth *auth,
                                   int64_t now_local_ms, const xr_instrument *inst,
                                   const char *client_order_id)
{
    return order_by_client_id(r, auth, now_local_ms, inst, client_order_id, XR_HTTP_DELETE, 1);
}

xr_err xr_binance_req_open_orders(xr_binance_request *r, const xr_binance_auth *auth,
                                  int64_t now_local_ms, const xr_instrument *inst)
{
    xr_binance_query q;
    xr_binance_query_init(&q);
    begin(r, XR_HTTP_GET, inst != NULL ? 6 : 80);
    if (inst != NULL) {
        if (!symbol_valid(inst->symbol))
            return XR_ERR_INVALID_ARGUMENT;
        xr_binance_query_add_str(&q, "symbol", inst->symbol);
    }
    sign(r, &q, auth, now_local_ms);
    return finish(r, "/api/v3/openOrders", &q);
}
