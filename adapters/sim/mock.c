/*
 * The original brief's minimal mock exchange, served by every simulated venue:
 *
 *   GET  /ticker?symbol=AZNUSDT
 *        -> {"symbol":"AZNUSDT","price":"0.5882","timestamp":1700000000000}
 *   POST /order  {"symbol":"AZNUSDT","side":"BUY","quantity":"100","type":"MARKET"}
 *        -> {"orderId":1,"status":"FILLED","executedPrice":"0.5883","executedQty":"100.0"}
 *
 * Prices and quantities are decimal strings (a JSON number for a quantity is refused: it
 * would invite floating point). Prices print with at least the pair's tick decimals and
 * quantities with at least its step decimals, more only when needed. The ticker's price is
 * the last trade's (the mid before any trade); executedPrice is the average price of the
 * fills, rounded half-even to 8 decimals. Orders trade for the venue's first account
 * against the same book as the Binance dialect. Errors: HTTP 400/404 with
 * {"error":"<xroute error name>","message":"..."}.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "adapters/sim/sim_internal.h"

static void mock_error(sim_req *r, int status, xr_err code, const char *message)
{
    char buf[512];
    sim_buf b;
    sb_init(&b, buf, sizeof buf);
    sb_cat(&b, "{\"error\":");
    sb_jstr(&b, xr_err_name(code), strlen(xr_err_name(code)));
    sb_cat(&b, ",\"message\":");
    sb_jstr(&b, message, strlen(message));
    sb_cat(&b, "}");
    sim_reply(r, status, b.p, b.len);
}

/* v / 10^8 with trailing zeros dropped down to `min_dec` decimals. */
static void dec_trim(sim_buf *b, xr_i128 v, unsigned min_dec)
{
    char tmp[XR_DECIMAL_STR_MAX];
    size_t n = xr_decimal_format(v, XR_SIM_SCALE, tmp, sizeof tmp);
    unsigned dec = XR_SIM_SCALE;
    while (dec > min_dec && n > 0 && tmp[n - 1] == '0') {
        n--;
        dec--;
    }
    if (dec == 0 && n > 0 && tmp[n - 1] == '.')
        n--;
    sb_raw(b, "\"", 1);
    sb_raw(b, tmp, n);
    sb_raw(b, "\"", 1);
}

static void mock_ticker(sim_req *r)
{
    if (!sim_prologue(r, 1, false))
        return;
    size_t n = 0;
    const char *sym = sim_param_get(r, "symbol", &n);
    if (sym == NULL || n == 0) {
        mock_error(r, 400, XR_ERR_MALFORMED, "query parameter 'symbol' is required");
        return;
    }
    int pair = xr_sim_engine_find_pair(r->v->engine, sym, n);
    if (pair < 0) {
        mock_error(r, 404, XR_ERR_UNKNOWN_PAIR, "unknown symbol");
        return;
    }
    const xr_sim_market *m = xr_sim_engine_market(r->v->engine, (uint32_t)pair);
    const xr_sim_pair_config *c = xr_sim_market_config(m);
    int64_t lp = xr_sim_market_last_price(m);
    xr_i128 price = lp ? xr_sim_market_price_units(m, lp) : xr_sim_market_mid(m);
    char buf[256];
    sim_buf b;
    sb_init(&b, buf, sizeof buf);
    sb_cat(&b, "{\"symbol\":");
    sb_jstr(&b, c->symbol, strlen(c->symbol));
    sb_cat(&b, ",\"price\":");
    dec_trim(&b, price, sim_decimals_of(c->tick));
    sb_fmt(&b, ",\"timestamp\":%lld}", (long long)r->now_ms);
    sim_reply(r, 200, b.p, b.len);
}

static xr_err map_reject(const xr_sim_reject *rej)
{
    if (strstr(rej->msg, "insufficient balance") != NULL)
        return XR_ERR_INSUFFICIENT_FUNDS;
    if (strstr(rej->msg, "NOTIONAL") != NULL)
        return XR_ERR_BELOW_MIN_SIZE;
    if (strstr(rej->msg, "LOT_SIZE") != NULL || strstr(rej->msg, "PRICE_FILTER") != NULL)
        return XR_ERR_INVALID_AMOUNT;
    if (strstr(rej->msg, "MAX_NUM_ORDERS") != NULL)
        return XR_ERR_LIMIT_EXCEEDED;
    return XR_ERR_REJECTED;
}

static void mock_order(sim_req *r)
{
    if (!sim_prologue(r, 1, true))
        return;
    sim_venue *v = r->v;
    json_error_t je;
    json_t *root = json_loadb(r->body ? r->body : "", r->body_len, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        mock_error(r, 400, XR_ERR_MALFORMED, "the body must be a JSON object");
        return;
    }
    const char *sym = json_string_value(json_object_get(root, "symbol"));
    const char *side = json_string_value(json_object_get(root, "side"));
    const char *qty = json_string_value(json_object_get(root, "quantity"));
    const char *type = json_string_value(json_object_get(root, "type"));
    char msg[160];
    xr_err code = XR_OK;
    int pair = -1;
    xr_i128 q = 0;
    if (sym == NULL || side == NULL || qty == NULL || type == NULL) {
        code = XR_ERR_MALFORMED;
        snprintf(msg, sizeof msg,
                 "symbol, side, quantity and type are required strings (quantity as a "
                 "decimal string)");
    } else if ((pair = xr_sim_engine_find_pair(v->engine, sym, strlen(sym))) < 0) {
        code = XR_ERR_UNKNOWN_PAIR;
        snprintf(msg, sizeof msg, "unknown symbol");
    } else if (strcmp(type, "MARKET") != 0) {
        code = XR_ERR_INVALID_ARGUMENT;
        snprintf(msg, sizeof msg, "only type MARKET is supported");
    } else if (strcmp(side, "BUY") != 0 && strcmp(side, "SELL") != 0) {
        code = XR_ERR_INVALID_ARGUMENT;
        snprintf(msg, sizeof msg, "side must be BUY or SELL");
    } else if (xr_decimal_parse(qty, strlen(qty), XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &q,
                                NULL) != XR_OK ||
               q <= 0 || q > INT64_MAX / 4) {
        code = XR_ERR_INVALID_AMOUNT;
        snprintf(msg, sizeof msg, "quantity must be a positive decimal with at most 8 decimals");
    } else if (xr_sim_engine_account_count(v->engine) == 0) {
        code = XR_ERR_INTERNAL;
        snprintf(msg, sizeof msg, "the venue has no account");
    }
    if (code != XR_OK) {
        json_decref(root);
        v->c.orders_rejected++;
        mock_error(r, code == XR_ERR_UNKNOWN_PAIR ? 404 : 400, code, msg);
        return;
    }
    xr_sim_order_req req;
    memset(&req, 0, sizeof req);
    req.pair = (uint32_t)pair;
    req.side = strcmp(side, "BUY") == 0 ? XR_SIM_SIDE_BUY : XR_SIM_SIDE_SELL;
    req.type = XR_SIM_TYPE_MARKET;
    req.qty = (int64_t)q;
    json_decref(root);
    const xr_sim_order *o = NULL;
    xr_sim_reject rej;
    size_t nf = 0;
    xr_err e = xr_sim_engine_new_order(v->engine, 0, &req, r->now_ms, &o, NULL, 0, &nf, &rej);
    if (e != XR_OK) {
        v->c.orders_rejected++;
        mock_error(r, 400, e == XR_ERR_REJECTED ? map_reject(&rej) : XR_ERR_NO_MEMORY,
                   e == XR_ERR_REJECTED ? rej.msg : "too many orders");
        return;
    }
    v->c.orders_new++;
    sim_count_order(r);
    const xr_sim_market *m = xr_sim_engine_market(v->engine, o->pair);
    const xr_sim_pair_config *c = xr_sim_market_config(m);
    xr_i128 filled = xr_sim_market_qty_units(m, o->filled), avg = 0;
    if (filled > 0)
        (void)xr_i128_div(o->quote_e16, filled, XR_ROUND_HALF_EVEN, &avg);
    const char *status = o->filled == o->qty ? "FILLED"
                         : o->filled > 0     ? "PARTIALLY_FILLED"
                                             : "EXPIRED";
    char buf[256];
    sim_buf b;
    sb_init(&b, buf, sizeof buf);
    sb_fmt(&b, "{\"orderId\":%llu,\"status\":\"%s\",\"executedPrice\":", (unsigned long long)o->id,
           status);
    dec_trim(&b, avg, sim_decimals_of(c->tick));
    sb_cat(&b, ",\"executedQty\":");
    dec_trim(&b, filled, sim_decimals_of(c->step));
    sb_cat(&b, "}");
    sim_reply(r, 200, b.p, b.len);
}

bool sim_mock_http(sim_req *r)
{
    if (strcmp(r->path, "/ticker") == 0 && strcmp(r->m->method, "GET") == 0)
        mock_ticker(r);
    else if (strcmp(r->path, "/order") == 0 && strcmp(r->m->method, "POST") == 0)
        mock_order(r);
    else
        return false;
    return true;
}
