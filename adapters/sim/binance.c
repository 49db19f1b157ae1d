/*
 * The simulator's Binance dialect: spot REST (/api/v3/...) and WebSocket streams, answering
 * with Binance's JSON (field names, order and formats as in the fixtures of
 * ../shared/fixtures/venues/binance), error codes and messages, weights and headers.
 *
 * Numbers: every price, quantity and amount is printed with 8 decimals, as Binance prints
 * its spot values ("60000.01000000"); ids and times are JSON integers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/sim/sim_internal.h"
#include "core/base/assert.h"
#include "core/base/clock.h"

#define E8 ((xr_i128)XR_SIM_UNIT)

static const char STP_NONE[] = "NONE";

/* ---- parameters --------------------------------------------------------------------------- */

static void err_mandatory(sim_req *r, const char *name)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", name);
    sim_reply_error(r, 400, -1102, msg);
}

static void err_illegal_int(sim_req *r, const char *name)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,20}$'.", name);
    sim_reply_error(r, 400, -1100, msg);
}

static void err_not_required(sim_req *r, const char *name)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Parameter '%s' sent when not required.", name);
    sim_reply_error(r, 400, -1106, msg);
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* An unsigned integer parameter. Returns false after answering when it is malformed;
 * *present says whether it was sent. */
static bool p_u64(sim_req *r, const char *name, uint64_t *out, bool *present)
{
    size_t n = 0;
    const char *s = sim_param_get(r, name, &n);
    *present = s != NULL && n > 0;
    if (!*present)
        return true;
    if (!all_digits(s, n)) {
        err_illegal_int(r, name);
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (v > (UINT64_MAX - 9) / 10) {
            err_illegal_int(r, name);
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* A decimal parameter in 10^-8 units. */
static bool p_dec(sim_req *r, const char *name, int64_t *out, bool *present)
{
    size_t n = 0;
    const char *s = sim_param_get(r, name, &n);
    *present = s != NULL && n > 0;
    if (!*present)
        return true;
    xr_i128 v;
    xr_parse_error pe;
    xr_err e = xr_decimal_parse(s, n, XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &v, &pe);
    char msg[200];
    if (e != XR_OK && pe.fault == XR_DEC_TOO_MANY_DECIMALS) {
        snprintf(msg, sizeof msg, "Parameter '%s' has too much precision.", name);
        sim_reply_error(r, 400, -1111, msg);
        return false;
    }
    if (e != XR_OK || v > INT64_MAX / 4) {
        snprintf(msg, sizeof msg,
                 "Illegal characters found in parameter '%s'; legal range is "
                 "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
                 name);
        sim_reply_error(r, 400, -1100, msg);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* The pair named by `symbol`; answers -1102 / -1121 and returns -1 otherwise. */
static int p_symbol(sim_req *r)
{
    size_t n = 0;
    const char *s = sim_param_get(r, "symbol", &n);
    if (s == NULL || n == 0) {
        err_mandatory(r, "symbol");
        return -1;
    }
    int p = xr_sim_engine_find_pair(r->v->engine, s, n);
    if (p < 0)
        sim_reply_error(r, 400, -1121, "Invalid symbol.");
    return p;
}

/* ---- authentication ----------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends s[0..n) without its signature=... parameter(s). */
static void strip_signature(sim_buf *b, const char *s, size_t n)
{
    bool first = true;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        bool sig = j - i >= 10 && memcmp(s + i, "signature=", 10) == 0;
        if (!sig && j > i) {
            if (!first)
                sb_raw(b, "&", 1);
            sb_raw(b, s + i, j - i);
            first = false;
        }
        i = j + 1;
    }
}

/* Binance's rule: hex HMAC-SHA256, keyed with the secret, of the query string concatenated
 * without a separator to the body, both as sent (still percent-encoded), without the
 * signature itself. Compared without regard to case and in constant time. */
static bool signature_ok(sim_req *r, uint32_t account, const char *sig, size_t sig_len)
{
    if (sig_len != 64)
        return false;
    char payload[SIM_HTTP_BODY + 8192];
    sim_buf b;
    sb_init(&b, payload, sizeof payload);
    strip_signature(&b, r->query ? r->query : "", r->query_len);
    bool form_body = r->body_len > 0 && r->body[0] != '{';
    if (form_body)
        strip_signature(&b, r->body, r->body_len);
    if (b.full)
        return false;
    size_t klen = 0;
    const uint8_t *key = xr_sim_engine_account_secret(r->v->engine, account, &klen);
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, b.p, b.len);
    uint8_t mac[32];
    br_hmac_out(&hc, mac);
    unsigned diff = 0;
    for (size_t i = 0; i < 32; i++) {
        int h = hexval(sig[2 * i]), l = hexval(sig[2 * i + 1]);
        if (h < 0 || l < 0)
            return false;
        diff |= (unsigned)(mac[i] ^ (uint8_t)(h * 16 + l));
    }
    return diff == 0;
}

/* The account of the request's X-MBX-APIKEY; with `sign`, checks timestamp, recvWindow and
 * signature too. Answers and returns false on failure. */
static bool authenticate(sim_req *r, bool sign, uint32_t *account)
{
    sim_venue *v = r->v;
    const xr_http_header *h = xr_http_find_header(r->m, "X-MBX-APIKEY");
    if (h == NULL || h->value_len == 0 || h->value_len > XR_SIM_API_KEY_MAX) {
        v->c.auth_failures++;
        sim_reply_error(r, 401, -2014, "API-key format invalid.");
        return false;
    }
    int a = xr_sim_engine_find_account(v->engine, h->value, h->value_len);
    if (a < 0) {
        v->c.auth_failures++;
        sim_reply_error(r, 401, -2015, "Invalid API-key, IP, or permissions for action.");
        return false;
    }
    *account = (uint32_t)a;
    if (!sign)
        return true;
    uint64_t ts = 0, window = 5000;
    bool has_ts = false, has_window = false;
    size_t sl = 0;
    const char *sig = sim_param_get(r, "signature", &sl);
    size_t tl = 0;
    const char *tss = sim_param_get(r, "timestamp", &tl);
    if (tss == NULL || tl == 0 || !all_digits(tss, tl)) {
        err_mandatory(r, "timestamp");
        return false;
    }
    if (!p_u64(r, "timestamp", &ts, &has_ts))
        return false;
    if (sig == NULL || sl == 0) {
        v->c.auth_failures++;
        err_mandatory(r, "signature");
        return false;
    }
    if (!signature_ok(r, *account, sig, sl)) {
        v->c.auth_failures++;
        sim_reply_error(r, 400, -1022, "Signature for this request is not valid.");
        return false;
    }
    if (!p_u64(r, "recvWindow", &window, &has_window))
        return false;
    if (window > 60000) {
        sim_reply_error(r, 400, -1131, "recvWindow must be less than 60000");
        return false;
    }
    int64_t now = r->now_ms;
    if ((int64_t)ts >= now + 1000) {
        v->c.timestamp_failures++;
        sim_reply_error(r, 400, -1021,
                        "Timestamp for this request was 1000ms ahead of the server's time.");
        return false;
    }
    if (now - (int64_t)ts > (int64_t)window) {
        v->c.timestamp_failures++;
        sim_reply_error(r, 400, -1021, "Timestamp for this request is outside of the recvWindow.");
        return false;
    }
    return true;
}

/* ---- formatting --------------------------------------------------------------------------- */

static void price_q(sim_buf *b, const xr_sim_market *m, int64_t ticks)
{
    sb_qdec(b, xr_sim_market_price_units(m, ticks), XR_SIM_SCALE);
}

static void qty_q(sim_buf *b, const xr_sim_market *m, int64_t lots)
{
    sb_qdec(b, xr_sim_market_qty_units(m, lots), XR_SIM_SCALE);
}

/* A 10^-16 quote amount as Binance prints it: 8 decimals, rounded down. */
static void quote_q(sim_buf *b, xr_i128 e16)
{
    sb_qdec(b, e16 / E8, XR_SIM_SCALE);
}

static void levels_json(sim_buf *b, const xr_sim_market *m, int side, uint32_t limit)
{
    size_t n = xr_sim_market_level_count(m, side);
    if (n > limit)
        n = limit;
    sb_cat(b, "[");
    for (size_t i = 0; i < n; i++) {
        const xr_sim_level *l = xr_sim_market_level(m, side, i);
        sb_cat(b, i ? ",[" : "[");
        price_q(b, m, l->price);
        sb_cat(b, ",");
        qty_q(b, m, l->synth + l->user);
        sb_cat(b, "]");
    }
    sb_cat(b, "]");
}

void sim_binance_depth_json(sim_buf *b, const xr_sim_market *m, uint32_t limit)
{
    sb_fmt(b, "{\"lastUpdateId\":%llu,\"bids\":", (unsigned long long)xr_sim_market_last_id(m));
    levels_json(b, m, XR_SIM_BID, limit);
    sb_cat(b, ",\"asks\":");
    levels_json(b, m, XR_SIM_ASK, limit);
    sb_cat(b, "}");
}

static const char *symbol_of(const sim_venue *v, uint32_t pair)
{
    return xr_sim_market_config(xr_sim_engine_market(v->engine, pair))->symbol;
}

enum { RESP_ACK, RESP_RESULT, RESP_FULL, RESP_QUERY, RESP_CANCEL };

static void order_json(sim_buf *b, const sim_venue *v, const xr_sim_order *o, int kind,
                       const xr_sim_fill *fills, size_t nfills, const char *cancel_cid,
                       int64_t now_ms)
{
    const xr_sim_market *m = xr_sim_engine_market(v->engine, o->pair);
    sb_cat(b, "{\"symbol\":");
    sb_jstr(b, symbol_of(v, o->pair), strlen(symbol_of(v, o->pair)));
    if (kind == RESP_CANCEL) {
        sb_cat(b, ",\"origClientOrderId\":");
        sb_jstr(b, o->client_id, strlen(o->client_id));
    }
    sb_fmt(b, ",\"orderId\":%llu,\"orderListId\":-1,\"clientOrderId\":", (unsigned long long)o->id);
    const char *cid = kind == RESP_CANCEL ? cancel_cid : o->client_id;
    sb_jstr(b, cid, strlen(cid));
    if (kind != RESP_QUERY)
        sb_fmt(b, ",\"transactTime\":%lld", (long long)(kind == RESP_CANCEL ? now_ms : o->time_ms));
    if (kind == RESP_ACK) {
        sb_cat(b, "}");
        return;
    }
    sb_cat(b, ",\"price\":");
    price_q(b, m, o->price);
    sb_cat(b, ",\"origQty\":");
    qty_q(b, m, o->qty);
    sb_cat(b, ",\"executedQty\":");
    qty_q(b, m, o->filled);
    if (kind != RESP_QUERY) {
        sb_cat(b, ",\"origQuoteOrderQty\":");
        sb_qdec(b, o->quote_qty, XR_SIM_SCALE);
    }
    sb_cat(b, ",\"cummulativeQuoteQty\":");
    quote_q(b, o->quote_e16);
    sb_fmt(b, ",\"status\":\"%s\",\"timeInForce\":\"%s\",\"type\":\"%s\",\"side\":\"%s\"",
           xr_sim_status_name(o->status), xr_sim_tif_name(o->tif), xr_sim_type_name(o->type),
           xr_sim_side_name(o->side));
    if (kind == RESP_QUERY) {
        sb_fmt(b,
               ",\"stopPrice\":\"0.00000000\",\"icebergQty\":\"0.00000000\",\"time\":%lld,"
               "\"updateTime\":%lld,\"isWorking\":%s,\"workingTime\":%lld,"
               "\"origQuoteOrderQty\":",
               (long long)o->time_ms, (long long)o->update_ms, o->working ? "true" : "false",
               (long long)(o->working ? o->time_ms : -1));
        sb_qdec(b, o->quote_qty, XR_SIM_SCALE);
    } else if (kind == RESP_RESULT || kind == RESP_FULL) {
        sb_fmt(b, ",\"workingTime\":%lld", (long long)o->time_ms);
    }
    sb_fmt(b, ",\"selfTradePreventionMode\":\"%s\"", STP_NONE);
    if (kind == RESP_FULL) {
        sb_cat(b, ",\"fills\":[");
        for (size_t i = 0; i < nfills; i++) {
            const xr_sim_fill *f = &fills[i];
            sb_cat(b, i ? ",{\"price\":" : "{\"price\":");
            price_q(b, m, f->price);
            sb_cat(b, ",\"qty\":");
            qty_q(b, m, f->qty);
            sb_cat(b, ",\"commission\":");
            sb_qdec(b, f->commission, XR_SIM_SCALE);
            sb_cat(b, ",\"commissionAsset\":");
            const char *ca = xr_sim_engine_asset_code(v->engine, f->commission_asset);
            sb_jstr(b, ca, strlen(ca));
            sb_fmt(b, ",\"tradeId\":%llu}", (unsigned long long)f->trade_id);
        }
        sb_cat(b, "]");
    }
    sb_cat(b, "}");
}

/* ---- reference data ------------------------------------------------------------------------ */

static void symbol_info_json(sim_buf *b, const sim_venue *v, uint32_t pair)
{
    const xr_sim_pair_config *c = xr_sim_market_config(xr_sim_engine_market(v->engine, pair));
    sb_cat(b, "{\"symbol\":");
    sb_jstr(b, c->symbol, strlen(c->symbol));
    sb_cat(b, ",\"status\":\"TRADING\",\"baseAsset\":");
    sb_jstr(b, c->base, strlen(c->base));
    sb_cat(b, ",\"baseAssetPrecision\":8,\"quoteAsset\":");
    sb_jstr(b, c->quote, strlen(c->quote));
    sb_cat(b, ",\"quotePrecision\":8,\"quoteAssetPrecision\":8,\"baseCommissionPrecision\":8,"
              "\"quoteCommissionPrecision\":8,\"orderTypes\":[\"LIMIT\",\"LIMIT_MAKER\","
              "\"MARKET\"],\"icebergAllowed\":false,\"ocoAllowed\":false,\"otoAllowed\":false,"
              "\"quoteOrderQtyMarketAllowed\":true,\"allowTrailingStop\":false,"
              "\"cancelReplaceAllowed\":false,\"amendAllowed\":false,"
              "\"isSpotTradingAllowed\":true,\"isMarginTradingAllowed\":false,\"filters\":[");
    sb_cat(b, "{\"filterType\":\"PRICE_FILTER\",\"minPrice\":");
    sb_qdec(b, c->min_price, 8);
    sb_cat(b, ",\"maxPrice\":");
    sb_qdec(b, c->max_price, 8);
    sb_cat(b, ",\"tickSize\":");
    sb_qdec(b, c->tick, 8);
    for (int k = 0; k < 2; k++) {
        sb_cat(b, k == 0 ? "},{\"filterType\":\"LOT_SIZE\",\"minQty\":"
                         : "},{\"filterType\":\"MARKET_LOT_SIZE\",\"minQty\":");
        sb_qdec(b, c->min_qty, 8);
        sb_cat(b, ",\"maxQty\":");
        sb_qdec(b, c->max_qty, 8);
        sb_cat(b, ",\"stepSize\":");
        sb_qdec(b, c->step, 8);
    }
    sb_cat(b, "},{\"filterType\":\"NOTIONAL\",\"minNotional\":");
    sb_qdec(b, c->min_notional, 8);
    sb_cat(b, ",\"applyMinToMarket\":true,\"maxNotional\":");
    sb_qdec(b, c->max_notional > 0 ? c->max_notional : (int64_t)9000000000 * XR_SIM_UNIT, 8);
    sb_fmt(b,
           ",\"applyMaxToMarket\":false,\"avgPriceMins\":5},{\"filterType\":"
           "\"MAX_NUM_ORDERS\",\"maxNumOrders\":%d}],",
           XR_SIM_OPEN_MAX);
    sb_cat(b, "\"permissions\":[],\"permissionSets\":[[\"SPOT\"]],"
              "\"defaultSelfTradePreventionMode\":\"NONE\","
              "\"allowedSelfTradePreventionModes\":[\"NONE\"]}");
}

/* Pairs named by symbol= or symbols=["A","B"]; all when neither. Answers and returns -1 on
 * a bad or unknown symbol; else the count (indices in out). */
static int symbol_list(sim_req *r, uint32_t *out, uint32_t cap)
{
    size_t n = 0;
    const char *one = sim_param_get(r, "symbol", &n);
    uint32_t np = xr_sim_engine_pair_count(r->v->engine);
    if (one != NULL) {
        int p = p_symbol(r);
        if (p < 0)
            return -1;
        out[0] = (uint32_t)p;
        return 1;
    }
    const char *many = sim_param_get(r, "symbols", &n);
    if (many == NULL) {
        for (uint32_t i = 0; i < np && i < cap; i++)
            out[i] = i;
        return (int)(np < cap ? np : cap);
    }
    json_error_t je;
    json_t *arr = json_loadb(many, n, 0, &je);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(arr);
        err_mandatory(r, "symbols");
        return -1;
    }
    uint32_t k = 0;
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *s = json_string_value(it);
        int p = s ? xr_sim_engine_find_pair(r->v->engine, s, strlen(s)) : -1;
        if (p < 0 || k == cap) {
            json_decref(arr);
            sim_reply_error(r, 400, -1121, "Invalid symbol.");
            return -1;
        }
        out[k++] = (uint32_t)p;
    }
    json_decref(arr);
    return (int)k;
}

static void h_exchange_info(sim_req *r)
{
    if (!sim_prologue(r, 20, false))
        return;
    uint32_t pairs[XR_SIM_PAIRS_MAX];
    int n = symbol_list(r, pairs, XR_SIM_PAIRS_MAX);
    if (n < 0)
        return;
    sim_venue *v = r->v;
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    sb_fmt(&b,
           "{\"timezone\":\"UTC\",\"serverTime\":%lld,\"rateLimits\":["
           "{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,"
           "\"limit\":%u},{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\","
           "\"intervalNum\":10,\"limit\":%u},{\"rateLimitType\":\"ORDERS\",\"interval\":\"DAY\","
           "\"intervalNum\":1,\"limit\":%u},{\"rateLimitType\":\"RAW_REQUESTS\",\"interval\":"
           "\"MINUTE\",\"intervalNum\":5,\"limit\":61000}],\"exchangeFilters\":[],\"symbols\":[",
           (long long)r->now_ms, v->cfg.weight_limit, v->cfg.orders_10s, v->cfg.orders_1d);
    for (int i = 0; i < n; i++) {
        if (i)
            sb_cat(&b, ",");
        symbol_info_json(&b, v, pairs[i]);
    }
    sb_cat(&b, "]}");
    sim_reply(r, 200, b.p, b.len);
}

static void h_depth(sim_req *r)
{
    uint64_t limit = 100;
    bool has = false;
    size_t n = 0;
    const char *ls = sim_param_get(r, "limit", &n);
    if (ls != NULL && all_digits(ls, n))
        limit = strtoull(ls, NULL, 10);
    if (limit == 0 || limit > 5000)
        limit = limit == 0 ? 100 : 5000;
    uint32_t w = limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
    if (!sim_prologue(r, w, false))
        return;
    if (!p_u64(r, "limit", &limit, &has))
        return;
    int p = p_symbol(r);
    if (p < 0)
        return;
    if (limit == 0 || limit > 5000)
        limit = limit == 0 ? 100 : 5000;
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    sim_binance_depth_json(&b, xr_sim_engine_market(r->v->engine, (uint32_t)p), (uint32_t)limit);
    sim_reply(r, 200, b.p, b.len);
}

static void trade_json(sim_buf *b, const xr_sim_market *m, const xr_sim_trade *t)
{
    sb_fmt(b, "{\"id\":%llu,\"price\":", (unsigned long long)t->id);
    price_q(b, m, t->price);
    sb_cat(b, ",\"qty\":");
    qty_q(b, m, t->qty);
    sb_cat(b, ",\"quoteQty\":");
    quote_q(b, xr_sim_market_quote_e16(m, t->qty, t->price));
    sb_fmt(b, ",\"time\":%lld,\"isBuyerMaker\":%s,\"isBestMatch\":true}", (long long)t->time_ms,
           t->buyer_maker ? "true" : "false");
}

static void h_trades(sim_req *r)
{
    if (!sim_prologue(r, 25, false))
        return;
    uint64_t limit = 500;
    bool has = false;
    if (!p_u64(r, "limit", &limit, &has))
        return;
    int p = p_symbol(r);
    if (p < 0)
        return;
    if (limit == 0 || limit > 1000)
        limit = limit == 0 ? 500 : 1000;
    const xr_sim_market *m = xr_sim_engine_market(r->v->engine, (uint32_t)p);
    uint64_t last = xr_sim_market_last_trade_id(m);
    uint64_t first = last >= limit ? last - limit + 1 : 1;
    while (first <= last && xr_sim_market_trade(m, first) == NULL)
        first++;
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    sb_cat(&b, "[");
    for (uint64_t id = first; id <= last && id > 0; id++) {
        if (id != first)
            sb_cat(&b, ",");
        trade_json(&b, m, xr_sim_market_trade(m, id));
    }
    sb_cat(&b, "]");
    sim_reply(r, 200, b.p, b.len);
}

/* ---- statistics: klines and 24h tickers ------------------------------------------------- */

typedef struct agg {
    int64_t open, high, low, close; /* ticks */
    xr_i128 vol, qvol_e16, tb_vol, tb_q_e16;
    uint64_t count, first_id, last_id;
} agg;

static void agg_add(agg *a, const xr_sim_candle *c)
{
    if (a->count == 0) {
        a->open = c->open;
        a->high = c->high;
        a->low = c->low;
        a->first_id = c->first_id;
    }
    if (c->high > a->high)
        a->high = c->high;
    if (c->low < a->low)
        a->low = c->low;
    a->close = c->close;
    a->vol += c->volume;
    a->qvol_e16 += c->quote_e16;
    a->tb_vol += c->taker_buy_volume;
    a->tb_q_e16 += c->taker_buy_quote_e16;
    a->count += c->count;
    a->last_id = c->last_id;
}

/* Aggregates the one-minute candles of [from_ms, to_ms). */
static void aggregate(const xr_sim_market *m, int64_t from_ms, int64_t to_ms, agg *a)
{
    memset(a, 0, sizeof *a);
    for (int64_t t = from_ms - from_ms % 60000; t < to_ms; t += 60000) {
        const xr_sim_candle *c = xr_sim_market_candle(m, t);
        if (c != NULL && t >= from_ms - 59999)
            agg_add(a, c);
    }
}

/* The close of the last candle before `t_ms`, searching back as far as candles are kept;
 * the configured mid when there is none. */
static int64_t close_before(const xr_sim_market *m, int64_t t_ms)
{
    int64_t t = t_ms - t_ms % 60000 - 60000;
    for (uint32_t k = 0; k < XR_SIM_CANDLES && t >= 0; k++, t -= 60000) {
        const xr_sim_candle *c = xr_sim_market_candle(m, t);
        if (c != NULL)
            return c->close;
    }
    const xr_sim_pair_config *cfg = xr_sim_market_config(m);
    return cfg->mid / cfg->tick;
}

static int64_t interval_ms(const char *s)
{
    static const struct {
        const char *name;
        int64_t ms;
    } iv[] = {{"1m", 60000},    {"3m", 180000},   {"5m", 300000},    {"15m", 900000},
              {"30m", 1800000}, {"1h", 3600000},  {"2h", 7200000},   {"4h", 14400000},
              {"6h", 21600000}, {"8h", 28800000}, {"12h", 43200000}, {"1d", 86400000}};
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        if (strcmp(s, iv[i].name) == 0)
            return iv[i].ms;
    return 0;
}

static void h_klines(sim_req *r)
{
    if (!sim_prologue(r, 2, false))
        return;
    int p = p_symbol(r);
    if (p < 0)
        return;
    const char *ivs = sim_param_get(r, "interval", NULL);
    if (ivs == NULL || ivs[0] == '\0') {
        err_mandatory(r, "interval");
        return;
    }
    int64_t iv = interval_ms(ivs);
    if (iv == 0) {
        sim_reply_error(r, 400, -1120, "Invalid interval.");
        return;
    }
    uint64_t limit = 500, start = 0, end = 0;
    bool has_limit = false, has_start = false, has_end = false;
    if (!p_u64(r, "limit", &limit, &has_limit) || !p_u64(r, "startTime", &start, &has_start) ||
        !p_u64(r, "endTime", &end, &has_end))
        return;
    if (limit == 0 || limit > 1000)
        limit = limit == 0 ? 500 : 1000;
    const xr_sim_market *m = xr_sim_engine_market(r->v->engine, (uint32_t)p);
    int64_t now = r->now_ms;
    int64_t last_open = (has_end ? (int64_t)end : now) / iv * iv;
    if (last_open > now / iv * iv)
        last_open = now / iv * iv;
    int64_t earliest = now - (int64_t)(XR_SIM_CANDLES - 60) * 60000;
    int64_t first_open;
    if (has_start)
        first_open = ((int64_t)start + iv - 1) / iv * iv;
    else
        first_open = last_open - (int64_t)(limit - 1) * iv;
    if (first_open < earliest)
        first_open = (earliest + iv - 1) / iv * iv;
    if (first_open + (int64_t)(limit - 1) * iv < last_open)
        last_open = first_open + (int64_t)(limit - 1) * iv;
    int64_t prev_close = close_before(m, first_open);
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    sb_cat(&b, "[");
    bool first = true;
    for (int64_t t = first_open; t <= last_open; t += iv) {
        agg a;
        aggregate(m, t, t + iv, &a);
        if (a.count == 0)
            a.open = a.high = a.low = a.close = prev_close;
        prev_close = a.close;
        sb_fmt(&b, "%s[%lld,", first ? "" : ",", (long long)t);
        first = false;
        price_q(&b, m, a.open);
        sb_cat(&b, ",");
        price_q(&b, m, a.high);
        sb_cat(&b, ",");
        price_q(&b, m, a.low);
        sb_cat(&b, ",");
        price_q(&b, m, a.close);
        sb_cat(&b, ",");
        qty_q(&b, m, (int64_t)a.vol);
        sb_fmt(&b, ",%lld,", (long long)(t + iv - 1));
        quote_q(&b, a.qvol_e16);
        sb_fmt(&b, ",%llu,", (unsigned long long)a.count);
        qty_q(&b, m, (int64_t)a.tb_vol);
        sb_cat(&b, ",");
        quote_q(&b, a.tb_q_e16);
        sb_cat(&b, ",\"0\"]");
    }
    sb_cat(&b, "]");
    sim_reply(r, 200, b.p, b.len);
}

typedef struct ticker {
    agg a;
    int64_t open_ms, close_ms;
    int64_t prev_close, last, last_qty; /* ticks, lots */
} ticker;

static void ticker_compute(const xr_sim_market *m, int64_t now_ms, ticker *t)
{
    memset(t, 0, sizeof *t);
    t->open_ms = now_ms - 86400000;
    t->close_ms = now_ms;
    aggregate(m, t->open_ms + 60000 - t->open_ms % 60000, now_ms + 1, &t->a);
    t->prev_close = t->a.count > 0 ? close_before(m, t->open_ms + 60000) : 0;
    const xr_sim_trade *lt = xr_sim_market_trade(m, xr_sim_market_last_trade_id(m));
    t->last = lt ? lt->price : 0;
    t->last_qty = lt ? lt->qty : 0;
    if (t->a.count == 0)
        t->last = t->last_qty = 0;
}

/* Writes the 24h statistics in REST (`ws` false) or stream ("24hrTicker") form. */
static void ticker_json(sim_buf *b, const xr_sim_market *m, const ticker *t, bool ws,
                        int64_t now_ms)
{
    const char *sym = xr_sim_market_config(m)->symbol;
    xr_i128 open = xr_sim_market_price_units(m, t->a.open);
    xr_i128 last = xr_sim_market_price_units(m, t->last);
    xr_i128 change = t->a.count ? last - open : 0;
    xr_i128 pct = 0, wavg = 0;
    if (t->a.count > 0 && open > 0)
        (void)xr_i128_muldiv(change, 100000, open, XR_ROUND_HALF_EVEN, &pct);
    xr_i128 vol_units = t->a.vol * xr_sim_market_config(m)->step;
    if (vol_units > 0)
        (void)xr_i128_div(t->a.qvol_e16, vol_units, XR_ROUND_HALF_EVEN, &wavg);
    int64_t bb = xr_sim_market_best(m, XR_SIM_BID), ba = xr_sim_market_best(m, XR_SIM_ASK);
    int64_t bq = 0, aq = 0;
    if (xr_sim_market_level_count(m, XR_SIM_BID) > 0) {
        const xr_sim_level *l = xr_sim_market_level(m, XR_SIM_BID, 0);
        bq = l->synth + l->user;
    }
    if (xr_sim_market_level_count(m, XR_SIM_ASK) > 0) {
        const xr_sim_level *l = xr_sim_market_level(m, XR_SIM_ASK, 0);
        aq = l->synth + l->user;
    }
    long long first = t->a.count ? (long long)t->a.first_id : -1;
    long long lastid = t->a.count ? (long long)t->a.last_id : -1;
    /* Both forms carry the same fields in the same order; only the keys differ. */
    static const char *const keys[][2] = {
        {"priceChange", "p"},      {"priceChangePercent", "P"},
        {"weightedAvgPrice", "w"}, {"prevClosePrice", "x"},
        {"lastPrice", "c"},        {"lastQty", "Q"},
        {"bidPrice", "b"},         {"bidQty", "B"},
        {"askPrice", "a"},         {"askQty", "A"},
        {"openPrice", "o"},        {"highPrice", "h"},
        {"lowPrice", "l"},         {"volume", "v"},
        {"quoteVolume", "q"},
    };
    unsigned k = 0;
#define TICKER_KEY() (sb_cat(b, ",\""), sb_cat(b, keys[k++][ws ? 1 : 0]), sb_cat(b, "\":"))
    if (ws)
        sb_fmt(b, "{\"e\":\"24hrTicker\",\"E\":%lld,\"s\":", (long long)now_ms);
    else
        sb_cat(b, "{\"symbol\":");
    sb_jstr(b, sym, strlen(sym));
    TICKER_KEY();
    sb_qdec(b, change, 8);
    TICKER_KEY();
    sb_qdec(b, pct, 3);
    TICKER_KEY();
    sb_qdec(b, wavg, 8);
    TICKER_KEY();
    price_q(b, m, t->prev_close);
    TICKER_KEY();
    sb_qdec(b, last, 8);
    TICKER_KEY();
    qty_q(b, m, t->last_qty);
    TICKER_KEY();
    price_q(b, m, bb);
    TICKER_KEY();
    qty_q(b, m, bq);
    TICKER_KEY();
    price_q(b, m, ba);
    TICKER_KEY();
    qty_q(b, m, aq);
    TICKER_KEY();
    sb_qdec(b, t->a.count ? open : 0, 8);
    TICKER_KEY();
    price_q(b, m, t->a.count ? t->a.high : 0);
    TICKER_KEY();
    price_q(b, m, t->a.count ? t->a.low : 0);
    TICKER_KEY();
    qty_q(b, m, (int64_t)t->a.vol);
    TICKER_KEY();
    quote_q(b, t->a.qvol_e16);
#undef TICKER_KEY
    XR_ASSERT(k == sizeof keys / sizeof keys[0]);
    sb_fmt(b,
           ws ? ",\"O\":%lld,\"C\":%lld,\"F\":%lld,\"L\":%lld,\"n\":%llu}"
              : ",\"openTime\":%lld,\"closeTime\":%lld,\"firstId\":%lld,\"lastId\":%lld,"
                "\"count\":%llu}",
           (long long)t->open_ms, (long long)t->close_ms, first, lastid,
           (unsigned long long)t->a.count);
}

/* The REST ticker endpoints share one shape: with ?symbol= one object, without it an array
 * of one object per pair (at a higher request weight); `write` writes one pair's object. */
typedef void ticker_writer(sim_buf *b, const xr_sim_market *m, int64_t now_ms);

static void reply_per_symbol(sim_req *r, int weight_one, int weight_all, ticker_writer *write)
{
    bool one = sim_param_get(r, "symbol", NULL) != NULL;
    if (!sim_prologue(r, one ? weight_one : weight_all, false))
        return;
    uint32_t pairs[XR_SIM_PAIRS_MAX];
    int n = symbol_list(r, pairs, XR_SIM_PAIRS_MAX);
    if (n < 0)
        return;
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    if (!one)
        sb_cat(&b, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            sb_cat(&b, ",");
        write(&b, xr_sim_engine_market(r->v->engine, pairs[i]), r->now_ms);
    }
    if (!one)
        sb_cat(&b, "]");
    sim_reply(r, 200, b.p, b.len);
}

static void write_ticker_24hr(sim_buf *b, const xr_sim_market *m, int64_t now_ms)
{
    ticker t;
    ticker_compute(m, now_ms, &t);
    ticker_json(b, m, &t, false, now_ms);
}

static void h_ticker_24hr(sim_req *r)
{
    reply_per_symbol(r, 2, 80, write_ticker_24hr);
}

static void write_ticker_price(sim_buf *b, const xr_sim_market *m, int64_t now_ms)
{
    (void)now_ms;
    int64_t lp = xr_sim_market_last_price(m);
    xr_i128 price = lp ? xr_sim_market_price_units(m, lp) : xr_sim_market_mid(m);
    const char *sym = xr_sim_market_config(m)->symbol;
    sb_cat(b, "{\"symbol\":");
    sb_jstr(b, sym, strlen(sym));
    sb_cat(b, ",\"price\":");
    sb_qdec(b, price, 8);
    sb_cat(b, "}");
}

static void h_ticker_price(sim_req *r)
{
    reply_per_symbol(r, 2, 4, write_ticker_price);
}

static void book_ticker_fields(sim_buf *b, const xr_sim_market *m)
{
    int64_t top[4] = {0, 0, 0, 0};
    for (int side = 0; side < 2; side++) {
        if (xr_sim_market_level_count(m, side) == 0)
            continue;
        const xr_sim_level *l = xr_sim_market_level(m, side, 0);
        top[side * 2] = l->price;
        top[side * 2 + 1] = l->synth + l->user;
    }
    sb_cat(b, "\"bidPrice\":");
    price_q(b, m, top[0]);
    sb_cat(b, ",\"bidQty\":");
    qty_q(b, m, top[1]);
    sb_cat(b, ",\"askPrice\":");
    price_q(b, m, top[2]);
    sb_cat(b, ",\"askQty\":");
    qty_q(b, m, top[3]);
}

static void write_book_ticker(sim_buf *b, const xr_sim_market *m, int64_t now_ms)
{
    (void)now_ms;
    const char *sym = xr_sim_market_config(m)->symbol;
    sb_cat(b, "{\"symbol\":");
    sb_jstr(b, sym, strlen(sym));
    sb_cat(b, ",");
    book_ticker_fields(b, m);
    sb_cat(b, "}");
}

static void h_book_ticker(sim_req *r)
{
    reply_per_symbol(r, 2, 4, write_book_ticker);
}

/* ---- account and orders ------------------------------------------------------------------- */

static void h_account(sim_req *r)
{
    if (!sim_prologue(r, 20, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    const xr_sim_engine_config *ec = xr_sim_engine_get_config(v->engine);
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    sb_fmt(&b,
           "{\"makerCommission\":%d,\"takerCommission\":%d,\"buyerCommission\":0,"
           "\"sellerCommission\":0,\"commissionRates\":{\"maker\":",
           ec->maker_bps, ec->taker_bps);
    sb_qdec(&b, (xr_i128)ec->maker_bps * 10000, 8);
    sb_cat(&b, ",\"taker\":");
    sb_qdec(&b, (xr_i128)ec->taker_bps * 10000, 8);
    sb_fmt(&b,
           ",\"buyer\":\"0.00000000\",\"seller\":\"0.00000000\"},\"canTrade\":true,"
           "\"canWithdraw\":true,\"canDeposit\":true,\"brokered\":false,"
           "\"requireSelfTradePrevention\":false,\"preventSor\":false,\"updateTime\":%lld,"
           "\"accountType\":\"SPOT\",\"balances\":[",
           (long long)r->now_ms);
    uint32_t na = xr_sim_engine_asset_count(v->engine);
    for (uint32_t i = 0; i < na; i++) {
        xr_i128 fr, lk;
        xr_sim_engine_balance(v->engine, acct, (int)i, &fr, &lk);
        const char *code = xr_sim_engine_asset_code(v->engine, (int)i);
        sb_cat(&b, i ? ",{\"asset\":" : "{\"asset\":");
        sb_jstr(&b, code, strlen(code));
        sb_cat(&b, ",\"free\":");
        sb_qdec(&b, fr, 8);
        sb_cat(&b, ",\"locked\":");
        sb_qdec(&b, lk, 8);
        sb_cat(&b, "}");
    }
    sb_fmt(&b, "],\"permissions\":[\"SPOT\"],\"uid\":%u}", 354937868u + acct);
    sim_reply(r, 200, b.p, b.len);
}

static bool valid_client_id(const char *s, size_t n)
{
    if (n == 0 || n > XR_SIM_CLIENT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '/' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool p_client_id(sim_req *r, const char *name, const char **out)
{
    size_t n = 0;
    const char *s = sim_param_get(r, name, &n);
    *out = NULL;
    if (s == NULL || n == 0)
        return true;
    if (!valid_client_id(s, n)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Illegal characters found in parameter '%s'; legal range is "
                 "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
                 name);
        sim_reply_error(r, 400, -1100, msg);
        return false;
    }
    *out = s;
    return true;
}

static int enum_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; s != NULL && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static void h_order_new(sim_req *r)
{
    if (!sim_prologue(r, 1, true))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    int pair = p_symbol(r);
    if (pair < 0)
        return;
    static const char *const sides[] = {"BUY", "SELL"};
    static const char *const types[] = {"LIMIT", "MARKET", "LIMIT_MAKER"};
    static const char *const tifs[] = {"GTC", "IOC", "FOK"};
    static const char *const resps[] = {"ACK", "RESULT", "FULL"};
    const char *side_s = sim_param_get(r, "side", NULL);
    const char *type_s = sim_param_get(r, "type", NULL);
    const char *tif_s = sim_param_get(r, "timeInForce", NULL);
    const char *resp_s = sim_param_get(r, "newOrderRespType", NULL);
    if (side_s == NULL || side_s[0] == '\0') {
        err_mandatory(r, "side");
        return;
    }
    if (type_s == NULL || type_s[0] == '\0') {
        err_mandatory(r, "type");
        return;
    }
    int side = enum_index(side_s, sides, 2), type = enum_index(type_s, types, 3);
    if (side < 0) {
        sim_reply_error(r, 400, -1117, "Invalid side.");
        return;
    }
    if (type < 0) {
        sim_reply_error(r, 400, -1116, "Invalid orderType.");
        return;
    }
    int resp = RESP_FULL;
    if (resp_s != NULL && (resp = enum_index(resp_s, resps, 3)) < 0) {
        sim_reply_error(r, 400, -1130, "Data sent for parameter 'newOrderRespType' is not valid.");
        return;
    }
    xr_sim_order_req req;
    memset(&req, 0, sizeof req);
    req.pair = (uint32_t)pair;
    req.side = (uint8_t)side;
    req.type = (uint8_t)type;
    bool has_qty = false, has_price = false, has_qq = false;
    if (!p_dec(r, "quantity", &req.qty, &has_qty) || !p_dec(r, "price", &req.price, &has_price) ||
        !p_dec(r, "quoteOrderQty", &req.quote_qty, &has_qq))
        return;
    if (type == XR_SIM_TYPE_LIMIT) {
        if (tif_s == NULL || tif_s[0] == '\0') {
            err_mandatory(r, "timeInForce");
            return;
        }
        int tif = enum_index(tif_s, tifs, 3);
        if (tif < 0) {
            sim_reply_error(r, 400, -1115, "Invalid timeInForce.");
            return;
        }
        req.tif = (uint8_t)tif;
    } else if (tif_s != NULL) {
        err_not_required(r, "timeInForce");
        return;
    }
    if (type == XR_SIM_TYPE_MARKET) {
        if (has_price) {
            err_not_required(r, "price");
            return;
        }
        if (has_qty && has_qq) {
            err_not_required(r, "quoteOrderQty");
            return;
        }
        if (!has_qty && !has_qq) {
            sim_reply_error(r, 400, -1102,
                            "Param 'quantity' or 'quoteOrderQty' must be sent, but both were "
                            "empty/null!");
            return;
        }
    } else {
        if (!has_price) {
            err_mandatory(r, "price");
            return;
        }
        if (!has_qty) {
            err_mandatory(r, "quantity");
            return;
        }
        if (has_qq) {
            err_not_required(r, "quoteOrderQty");
            return;
        }
    }
    if (!p_client_id(r, "newClientOrderId", &req.client_id))
        return;
    if ((has_qty && req.qty == 0) || (has_price && req.price == 0)) {
        sim_reply_error(r, 400, -1013,
                        has_qty && req.qty == 0 ? "Invalid quantity." : "Invalid price.");
        v->c.orders_rejected++;
        return;
    }
    if (v->f.nreject > 0) {
        v->f.nreject--;
        v->c.orders_rejected++;
        sim_reply_error(r, 400, v->f.reject_code, v->f.reject_msg);
        return;
    }
    const xr_sim_order *o = NULL;
    size_t nfills = 0;
    xr_sim_reject rej;
    xr_err e = xr_sim_engine_new_order(v->engine, acct, &req, r->now_ms, &o, v->sim->fills,
                                       SIM_FILLS_MAX, &nfills, &rej);
    if (e == XR_ERR_REJECTED) {
        v->c.orders_rejected++;
        sim_reply_error(r, rej.http_status, rej.code, rej.msg);
        return;
    }
    if (e != XR_OK) {
        v->c.orders_rejected++;
        sim_reply_error(r, 400, -2010, "Too many orders in the simulator.");
        return;
    }
    v->c.orders_new++;
    sim_count_order(r);
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    order_json(&b, v, o, resp, v->sim->fills, nfills, NULL, r->now_ms);
    sim_reply(r, 200, b.p, b.len);
}

/* orderId or origClientOrderId; answers and returns false when neither or a bad one. */
static bool p_order_ref(sim_req *r, uint64_t *id, const char **cid)
{
    bool has_id = false;
    *id = 0;
    if (!p_u64(r, "orderId", id, &has_id) || !p_client_id(r, "origClientOrderId", cid))
        return false;
    if (!has_id && *cid == NULL) {
        sim_reply_error(r, 400, -1102,
                        "Param 'origClientOrderId' or 'orderId' must be sent, but both were "
                        "empty/null!");
        return false;
    }
    return true;
}

static void h_order_query(sim_req *r)
{
    if (!sim_prologue(r, 4, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    int pair = p_symbol(r);
    uint64_t id;
    const char *cid;
    if (pair < 0 || !p_order_ref(r, &id, &cid))
        return;
    const xr_sim_order *o = xr_sim_engine_find_order(r->v->engine, acct, (uint32_t)pair, id, cid);
    if (o == NULL) {
        sim_reply_error(r, 400, -2013, "Order does not exist.");
        return;
    }
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    order_json(&b, r->v, o, RESP_QUERY, NULL, 0, NULL, r->now_ms);
    sim_reply(r, 200, b.p, b.len);
}

static void h_order_cancel(sim_req *r)
{
    if (!sim_prologue(r, 1, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    int pair = p_symbol(r);
    uint64_t id;
    const char *cid, *new_cid;
    if (pair < 0 || !p_order_ref(r, &id, &cid) || !p_client_id(r, "newClientOrderId", &new_cid))
        return;
    char gen[24];
    if (new_cid == NULL) {
        static const char alnum[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for (int i = 0; i < 22; i++)
            gen[i] = alnum[xr_sim_rng_below(&v->key_rng, sizeof alnum - 1)];
        gen[22] = '\0';
        new_cid = gen;
    }
    const xr_sim_order *o = NULL;
    xr_sim_reject rej;
    v->cancel_client_id = new_cid;
    xr_err e = xr_sim_engine_cancel(v->engine, acct, (uint32_t)pair, id, cid, r->now_ms, &o, &rej);
    v->cancel_client_id = NULL;
    if (e != XR_OK) {
        sim_reply_error(r, rej.http_status, rej.code, rej.msg);
        return;
    }
    v->c.orders_canceled++;
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    order_json(&b, v, o, RESP_CANCEL, NULL, 0, new_cid, r->now_ms);
    sim_reply(r, 200, b.p, b.len);
}

static void h_open_orders(sim_req *r)
{
    bool one = sim_param_get(r, "symbol", NULL) != NULL;
    if (!sim_prologue(r, one ? 6 : 80, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    int pair = -1;
    if (one && (pair = p_symbol(r)) < 0)
        return;
    size_t cap = (size_t)XR_SIM_OPEN_MAX * XR_SIM_PAIRS_MAX;
    const xr_sim_order **list = malloc(cap * sizeof *list);
    if (list == NULL) {
        sim_reply_error(r, 500, -1000, "An unknown error occurred while processing the request.");
        return;
    }
    size_t n = xr_sim_engine_open_orders(r->v->engine, acct, pair, list, cap);
    if (n > cap)
        n = cap;
    sim_buf b;
    sb_init(&b, r->v->sim->body, SIM_BODY_BYTES);
    sb_cat(&b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_cat(&b, ",");
        order_json(&b, r->v, list[i], RESP_QUERY, NULL, 0, NULL, r->now_ms);
    }
    sb_cat(&b, "]");
    free(list);
    sim_reply(r, 200, b.p, b.len);
}

static sim_listen_key *find_key(sim_venue *v, const char *key, size_t len)
{
    for (size_t i = 0; i < SIM_LISTEN_KEYS; i++)
        if (v->keys[i].used && strlen(v->keys[i].key) == len &&
            memcmp(v->keys[i].key, key, len) == 0)
            return &v->keys[i];
    return NULL;
}

static void h_user_stream(sim_req *r)
{
    if (!sim_prologue(r, 2, false))
        return;
    uint32_t acct;
    if (!authenticate(r, false, &acct))
        return;
    sim_venue *v = r->v;
    const char *method = r->m->method;
    char out[128];
    if (strcmp(method, "POST") == 0) {
        /* Binance hands out the account's existing key while it is alive. */
        sim_listen_key *k = NULL;
        for (size_t i = 0; i < SIM_LISTEN_KEYS && k == NULL; i++)
            if (v->keys[i].used && v->keys[i].account == acct)
                k = &v->keys[i];
        for (size_t i = 0; i < SIM_LISTEN_KEYS && k == NULL; i++)
            if (!v->keys[i].used)
                k = &v->keys[i];
        if (k == NULL) {
            sim_reply_error(r, 400, -1125, "This listenKey does not exist.");
            return;
        }
        if (!k->used) {
            static const char alnum[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            for (int i = 0; i < 60; i++)
                k->key[i] = alnum[xr_sim_rng_below(&v->key_rng, sizeof alnum - 1)];
            k->key[60] = '\0';
            k->account = acct;
            k->used = true;
        }
        int n = snprintf(out, sizeof out, "{\"listenKey\":\"%s\"}", k->key);
        sim_reply(r, 200, out, (size_t)n);
        return;
    }
    size_t kl = 0;
    const char *key = sim_param_get(r, "listenKey", &kl);
    if (key == NULL || kl == 0) {
        err_mandatory(r, "listenKey");
        return;
    }
    sim_listen_key *k = find_key(v, key, kl);
    if (k == NULL || k->account != acct) {
        sim_reply_error(r, 400, -1125, "This listenKey does not exist.");
        return;
    }
    if (strcmp(method, "DELETE") == 0)
        k->used = false;
    sim_reply_str(r, 200, "{}");
}

/* ---- Convert (the /sapi/v1/convert endpoints) ------------------------------------------- */

/* Binance Convert, as far as a conversion needs it: getQuote -> acceptQuote -> orderStatus.
 * A quote's ratio is the configured rate less the fee (10^-8, rounded down); the amount
 * received is fromAmount x ratio rounded down to the route's decimals. The quote carries a
 * quoteId only when the free balance covers fromAmount (Binance's rule). Accepting settles
 * at once and answers PROCESS, as Binance's documented example does; orderStatus then says
 * SUCCESS. A quote is accepted at most once; an unknown, expired or used quote is refused
 * with -2013, a short balance at accept time with -2010; the REJECT fault refuses accepts
 * like new orders, 5xx (also after_exec) and DOWN apply as to every request. */

static const char *const conv_status[] = {"PROCESS", "SUCCESS", "FAIL"};

static int conv_route(const sim_venue *v, const char *from, const char *to)
{
    for (uint32_t i = 0; i < v->cfg.nconverts; i++)
        if (from != NULL && to != NULL && strcmp(v->cfg.converts[i].from, from) == 0 &&
            strcmp(v->cfg.converts[i].to, to) == 0)
            return (int)i;
    return -1;
}

static sim_conv *conv_find(sim_venue *v, uint32_t acct, uint64_t quote_id, uint64_t order_id)
{
    for (uint32_t i = 0; i < SIM_CONV_MAX; i++) {
        sim_conv *c = &v->conv[i];
        if (c->quote_id != 0 && c->account == acct &&
            (quote_id != 0 ? c->quote_id == quote_id : c->order_id == order_id && order_id != 0))
            return c;
    }
    return NULL;
}

static void h_convert_quote(sim_req *r)
{
    if (!sim_prologue(r, 200, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    const char *from = sim_param_get(r, "fromAsset", NULL);
    const char *to = sim_param_get(r, "toAsset", NULL);
    const char *valid = sim_param_get(r, "validTime", NULL);
    int64_t amt = 0;
    bool has_amt = false;
    if (from == NULL || from[0] == '\0') {
        err_mandatory(r, "fromAsset");
        return;
    }
    if (to == NULL || to[0] == '\0') {
        err_mandatory(r, "toAsset");
        return;
    }
    if (sim_param_get(r, "toAmount", NULL) != NULL) {
        err_not_required(r, "toAmount"); /* the simulator quotes by fromAmount only */
        return;
    }
    if (!p_dec(r, "fromAmount", &amt, &has_amt))
        return;
    if (!has_amt || amt <= 0) {
        err_mandatory(r, "fromAmount");
        return;
    }
    int64_t valid_ms = 10000;
    if (valid != NULL) {
        static const char *const vt[] = {"10s", "30s", "1m", "2m"};
        static const int64_t vms[] = {10000, 30000, 60000, 120000};
        int k = enum_index(valid, vt, 4);
        if (k < 0) {
            sim_reply_error(r, 400, -1100,
                            "Illegal characters found in parameter 'validTime'; legal range is "
                            "'10s, 30s, 1m, 2m'.");
            return;
        }
        valid_ms = vms[k];
    }
    int route = conv_route(v, from, to);
    if (route < 0) {
        sim_reply_error(r, 400, -1121, "Invalid symbol.");
        return;
    }
    const xr_sim_convert_config *cv = &v->cfg.converts[route];
    xr_i128 ratio = (xr_i128)cv->rate * (10000 - cv->fee_bps) / 10000;
    xr_i128 got = (xr_i128)amt * ratio / E8;
    xr_i128 unit = 1;
    for (unsigned i = cv->to_decimals; i < 8; i++)
        unit *= 10;
    got -= got % unit;
    if (ratio <= 0 || got <= 0 || got > INT64_MAX / 4) {
        sim_reply_error(r, 400, -1013, "Filter failure: NOTIONAL");
        return;
    }
    xr_i128 free_bal, locked;
    xr_sim_engine_balance(v->engine, acct, xr_sim_engine_find_asset(v->engine, from), &free_bal,
                          &locked);
    sim_conv *c = NULL;
    if (free_bal >= amt) {
        v->conv_seq++;
        c = &v->conv[v->conv_seq % SIM_CONV_MAX];
        memset(c, 0, sizeof *c);
        c->quote_id =
            UINT64_C(12415572564) + (uint64_t)v->index * UINT64_C(100000000) + v->conv_seq;
        c->account = acct;
        c->route = (uint8_t)route;
        c->from_amt = amt;
        c->to_amt = (int64_t)got;
        c->ratio = (int64_t)ratio;
        c->inverse = (int64_t)(E8 * E8 / ratio);
        c->valid_until_ms = r->now_ms + valid_ms;
        v->c.convert_quotes++;
    }
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    sb_cat(&b, "{");
    if (c != NULL)
        sb_fmt(&b, "\"quoteId\":\"%llu\",", (unsigned long long)c->quote_id);
    sb_cat(&b, "\"ratio\":");
    sb_qdec(&b, ratio, 8);
    sb_cat(&b, ",\"inverseRatio\":");
    sb_qdec(&b, E8 * E8 / ratio, 8);
    sb_fmt(&b, ",\"validTimestamp\":%lld,\"toAmount\":", (long long)(r->now_ms + valid_ms));
    sb_qdec(&b, got, 8);
    sb_cat(&b, ",\"fromAmount\":");
    sb_qdec(&b, amt, 8);
    sb_cat(&b, "}");
    sim_reply(r, 200, b.p, b.len);
}

static void h_convert_accept(sim_req *r)
{
    if (!sim_prologue(r, 500, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    uint64_t qid = 0;
    bool has = false;
    if (!p_u64(r, "quoteId", &qid, &has))
        return;
    if (!has) {
        err_mandatory(r, "quoteId");
        return;
    }
    sim_conv *c = conv_find(v, acct, qid, 0);
    if (c == NULL || c->order_id != 0 || r->now_ms > c->valid_until_ms) {
        sim_reply_error(r, 400, -2013, "Quote does not exist or has expired.");
        return;
    }
    if (v->f.nreject > 0) {
        v->f.nreject--;
        v->c.orders_rejected++;
        sim_reply_error(r, 400, v->f.reject_code, v->f.reject_msg);
        return;
    }
    const xr_sim_convert_config *cv = &v->cfg.converts[c->route];
    int fa = xr_sim_engine_find_asset(v->engine, cv->from);
    int ta = xr_sim_engine_find_asset(v->engine, cv->to);
    xr_i128 ffree, tfree, locked;
    xr_sim_engine_balance(v->engine, acct, fa, &ffree, &locked);
    xr_sim_engine_balance(v->engine, acct, ta, &tfree, &locked);
    if (ffree < c->from_amt) {
        sim_reply_error(r, 400, -2010, "Account has insufficient balance for requested action.");
        return;
    }
    (void)xr_sim_engine_set_balance(v->engine, acct, fa, ffree - c->from_amt);
    (void)xr_sim_engine_set_balance(v->engine, acct, ta, tfree + c->to_amt);
    c->order_id = UINT64_C(933256278426274426) + (uint64_t)v->index * UINT64_C(1000000000) +
                  (c->quote_id % UINT64_C(1000000000));
    c->status = 1;
    c->create_ms = r->now_ms;
    v->c.convert_accepts++;
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    sb_fmt(&b, "{\"orderId\":\"%llu\",\"createTime\":%lld,\"orderStatus\":\"%s\"}",
           (unsigned long long)c->order_id, (long long)c->create_ms, conv_status[0]);
    sim_reply(r, 200, b.p, b.len);
}

static void h_convert_status(sim_req *r)
{
    if (!sim_prologue(r, 100, false))
        return;
    uint32_t acct;
    if (!authenticate(r, true, &acct))
        return;
    sim_venue *v = r->v;
    uint64_t qid = 0, oid = 0;
    bool has_q = false, has_o = false;
    if (!p_u64(r, "quoteId", &qid, &has_q) || !p_u64(r, "orderId", &oid, &has_o))
        return;
    if (has_q == has_o) {
        sim_reply_error(r, 400, -1102, "Param 'orderId' or 'quoteId' must be sent, but not both.");
        return;
    }
    sim_conv *c = conv_find(v, acct, has_q ? qid : 0, has_o ? oid : 0);
    if (c == NULL || c->order_id == 0) {
        sim_reply_error(r, 400, -2013, "Order does not exist.");
        return;
    }
    const xr_sim_convert_config *cv = &v->cfg.converts[c->route];
    sim_buf b;
    sb_init(&b, v->sim->body, SIM_BODY_BYTES);
    sb_fmt(&b, "{\"orderId\":%llu,\"orderStatus\":\"%s\",\"fromAsset\":",
           (unsigned long long)c->order_id, conv_status[c->status]);
    sb_jstr(&b, cv->from, strlen(cv->from));
    sb_cat(&b, ",\"fromAmount\":");
    sb_qdec(&b, c->from_amt, 8);
    sb_cat(&b, ",\"toAsset\":");
    sb_jstr(&b, cv->to, strlen(cv->to));
    sb_cat(&b, ",\"toAmount\":");
    sb_qdec(&b, c->to_amt, 8);
    sb_cat(&b, ",\"ratio\":");
    sb_qdec(&b, c->ratio, 8);
    sb_cat(&b, ",\"inverseRatio\":");
    sb_qdec(&b, c->inverse, 8);
    sb_fmt(&b, ",\"createTime\":%lld}", (long long)c->create_ms);
    sim_reply(r, 200, b.p, b.len);
}

static void h_ping(sim_req *r)
{
    if (sim_prologue(r, 1, false))
        sim_reply_str(r, 200, "{}");
}

static void h_time(sim_req *r)
{
    if (!sim_prologue(r, 1, false))
        return;
    char out[64];
    int n = snprintf(out, sizeof out, "{\"serverTime\":%lld}", (long long)r->now_ms);
    sim_reply(r, 200, out, (size_t)n);
}

typedef struct route {
    const char *method;
    const char *path;
    void (*fn)(sim_req *r);
} route;

static const route routes[] = {
    {"GET", "/api/v3/ping", h_ping},
    {"GET", "/api/v3/time", h_time},
    {"GET", "/api/v3/exchangeInfo", h_exchange_info},
    {"GET", "/api/v3/depth", h_depth},
    {"GET", "/api/v3/trades", h_trades},
    {"GET", "/api/v3/klines", h_klines},
    {"GET", "/api/v3/ticker/24hr", h_ticker_24hr},
    {"GET", "/api/v3/ticker/price", h_ticker_price},
    {"GET", "/api/v3/ticker/bookTicker", h_book_ticker},
    {"GET", "/api/v3/account", h_account},
    {"POST", "/api/v3/order", h_order_new},
    {"GET", "/api/v3/order", h_order_query},
    {"DELETE", "/api/v3/order", h_order_cancel},
    {"GET", "/api/v3/openOrders", h_open_orders},
    {"POST", "/api/v3/userDataStream", h_user_stream},
    {"PUT", "/api/v3/userDataStream", h_user_stream},
    {"DELETE", "/api/v3/userDataStream", h_user_stream},
    {"POST", "/sapi/v1/convert/getQuote", h_convert_quote},
    {"POST", "/sapi/v1/convert/acceptQuote", h_convert_accept},
    {"GET", "/sapi/v1/convert/orderStatus", h_convert_status},
};

void sim_binance_http(sim_req *r)
{
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(r->path, routes[i].path) != 0)
            continue;
        path_known = true;
        if (strcmp(r->m->method, routes[i].method) == 0) {
            if (r->params_bad) {
                sim_reply_error(r, 400, -1100, "Illegal characters found in a parameter.");
                return;
            }
            routes[i].fn(r);
            return;
        }
    }
    if (path_known)
        sim_reply_str(r, 405, "{\"code\":-1,\"msg\":\"Method not allowed.\"}");
    else
        sim_reply_str(r, 404, "{\"code\":-1,\"msg\":\"Not found.\"}");
}

/* ---- user-data stream ----------------------------------------------------------------------- */

static void send_user(sim_venue *v, uint32_t account, const char *json, size_t len)
{
    for (uint32_t i = 0; i < v->nsessions; i++) {
        sim_session *s = &v->sessions[i];
        if (s->state != SIM_SS_WS || s->closing)
            continue;
        for (uint32_t k = 0; k < s->nsubs; k++) {
            if (s->subs[k].kind == SIM_SUB_USER && s->subs[k].target == account) {
                sim_ws_send(s, s->subs[k].name, json, len);
                break;
            }
        }
    }
}

void sim_binance_exec(void *ctx, const xr_sim_exec_report *rep)
{
    sim_venue *v = ctx;
    const xr_sim_order *o = rep->order;
    const xr_sim_market *m = xr_sim_engine_market(v->engine, o->pair);
    if (rep->exec_type == XR_SIM_EXEC_TRADE)
        v->c.trades_user++;
    sim_buf b;
    sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
    const char *sym = symbol_of(v, o->pair);
    bool cancel = rep->exec_type == XR_SIM_EXEC_CANCELED && v->cancel_client_id != NULL;
    sb_fmt(&b, "{\"e\":\"executionReport\",\"E\":%lld,\"s\":", (long long)rep->time_ms);
    sb_jstr(&b, sym, strlen(sym));
    sb_cat(&b, ",\"c\":");
    const char *c = cancel ? v->cancel_client_id : o->client_id;
    sb_jstr(&b, c, strlen(c));
    sb_fmt(&b, ",\"S\":\"%s\",\"o\":\"%s\",\"f\":\"%s\",\"q\":", xr_sim_side_name(o->side),
           xr_sim_type_name(o->type), xr_sim_tif_name(o->tif));
    qty_q(&b, m, o->qty);
    sb_cat(&b, ",\"p\":");
    price_q(&b, m, o->price);
    sb_cat(&b, ",\"P\":\"0.00000000\",\"F\":\"0.00000000\",\"g\":-1,\"C\":");
    if (cancel)
        sb_jstr(&b, o->client_id, strlen(o->client_id));
    else
        sb_cat(&b, "\"\"");
    sb_fmt(&b, ",\"x\":\"%s\",\"X\":\"%s\",\"r\":\"NONE\",\"i\":%llu,\"l\":",
           xr_sim_exec_type_name(rep->exec_type), xr_sim_status_name(o->status),
           (unsigned long long)o->id);
    qty_q(&b, m, rep->last_qty);
    sb_cat(&b, ",\"z\":");
    qty_q(&b, m, o->filled);
    sb_cat(&b, ",\"L\":");
    price_q(&b, m, rep->last_price);
    sb_cat(&b, ",\"n\":");
    if (rep->commission_asset >= 0) {
        sb_qdec(&b, rep->commission, 8);
        const char *ca = xr_sim_engine_asset_code(v->engine, rep->commission_asset);
        sb_cat(&b, ",\"N\":");
        sb_jstr(&b, ca, strlen(ca));
    } else {
        sb_cat(&b, "\"0\",\"N\":null");
    }
    bool on_book = rep->on_book;
    sb_fmt(&b, ",\"T\":%lld,\"t\":%lld,\"I\":%llu,\"w\":%s,\"m\":%s,\"M\":false,\"O\":%lld,\"Z\":",
           (long long)rep->time_ms, rep->trade_id ? (long long)rep->trade_id : -1LL,
           (unsigned long long)rep->exec_id, on_book ? "true" : "false",
           rep->maker ? "true" : "false", (long long)o->time_ms);
    quote_q(&b, o->quote_e16);
    sb_cat(&b, ",\"Y\":");
    quote_q(&b, rep->exec_type == XR_SIM_EXEC_TRADE
                    ? xr_sim_market_quote_e16(m, rep->last_qty, rep->last_price)
                    : 0);
    sb_cat(&b, ",\"Q\":");
    sb_qdec(&b, o->quote_qty, 8);
    sb_fmt(&b, ",\"W\":%lld,\"V\":\"NONE\"}", (long long)o->time_ms);
    if (!b.full)
        send_user(v, o->account, b.p, b.len);
}

void sim_binance_balances(sim_venue *v)
{
    uint32_t na = xr_sim_engine_account_count(v->engine);
    for (uint32_t a = 0; a < na; a++) {
        uint64_t dirty = xr_sim_engine_take_dirty(v->engine, a);
        if (dirty == 0)
            continue;
        int64_t now = sim_now_ms(v);
        sim_buf b;
        sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
        sb_fmt(&b, "{\"e\":\"outboundAccountPosition\",\"E\":%lld,\"u\":%lld,\"B\":[",
               (long long)now, (long long)now);
        bool first = true;
        for (int i = 0; i < 64; i++) {
            if (!(dirty & (1ull << i)))
                continue;
            xr_i128 fr, lk;
            xr_sim_engine_balance(v->engine, a, i, &fr, &lk);
            const char *code = xr_sim_engine_asset_code(v->engine, i);
            sb_cat(&b, first ? "{\"a\":" : ",{\"a\":");
            first = false;
            sb_jstr(&b, code, strlen(code));
            sb_cat(&b, ",\"f\":");
            sb_qdec(&b, fr, 8);
            sb_cat(&b, ",\"l\":");
            sb_qdec(&b, lk, 8);
            sb_cat(&b, "}");
        }
        sb_cat(&b, "]}");
        if (!b.full)
            send_user(v, a, b.p, b.len);
    }
}

/* ---- market streams ---------------------------------------------------------------------- */

/* Parses one stream name into `sub`: "<symbol>@depth[@100ms|@1000ms|@0ms]",
 * "<symbol>@depth<5|10|20>[@100ms|@1000ms]", "<symbol>@trade", "<symbol>@ticker",
 * "<symbol>@bookTicker", or a listen key. Returns 0, or the Binance error code. */
static int parse_stream(sim_venue *v, const char *name, size_t len, sim_sub *sub, uint64_t now_ns)
{
    memset(sub, 0, sizeof *sub);
    if (len == 0 || len >= sizeof sub->name)
        return -1121;
    memcpy(sub->name, name, len);
    sub->name[len] = '\0';
    const char *at = memchr(name, '@', len);
    if (at == NULL) {
        sim_listen_key *k = find_key(v, name, len);
        if (k == NULL)
            return -1125;
        sub->kind = SIM_SUB_USER;
        sub->target = k->account;
        return 0;
    }
    char sym[XR_SIM_SYMBOL_MAX + 1];
    size_t sl = (size_t)(at - name);
    if (sl == 0 || sl > XR_SIM_SYMBOL_MAX)
        return -1121;
    for (size_t i = 0; i < sl; i++)
        sym[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    sym[sl] = '\0';
    int pair = xr_sim_engine_find_pair(v->engine, sym, sl);
    if (pair < 0)
        return -1121;
    sub->target = (uint32_t)pair;
    const char *rest = at + 1;
    size_t rl = len - sl - 1;
    const xr_sim_market *m = xr_sim_engine_market(v->engine, (uint32_t)pair);
    sub->due_ns = now_ns;
#define IS(s) (rl == sizeof(s) - 1 && memcmp(rest, s, rl) == 0)
    if (IS("trade")) {
        sub->kind = SIM_SUB_TRADE;
        sub->next_trade = xr_sim_market_last_trade_id(m) + 1;
    } else if (IS("ticker")) {
        sub->kind = SIM_SUB_TICKER;
        sub->interval_ms = 1000;
    } else if (IS("bookTicker")) {
        sub->kind = SIM_SUB_BOOK_TICKER;
    } else if (IS("depth") || IS("depth@1000ms") || IS("depth@100ms") || IS("depth@0ms")) {
        sub->kind = SIM_SUB_DEPTH;
        sub->interval_ms = IS("depth@100ms") ? 100 : IS("depth@0ms") ? 0 : 1000;
        sub->next_id = xr_sim_market_last_id(m) + 1;
        sub->due_ns = now_ns + (uint64_t)sub->interval_ms * XR_NS_PER_MS;
    } else if (rl >= 6 && memcmp(rest, "depth", 5) == 0) {
        unsigned lv = 0;
        char speed[16] = "";
        if (sscanf(rest, "depth%u%15s", &lv, speed) < 1 || (lv != 5 && lv != 10 && lv != 20))
            return -1121;
        if (speed[0] != '\0' && strcmp(speed, "@100ms") != 0 && strcmp(speed, "@1000ms") != 0)
            return -1121;
        sub->kind = SIM_SUB_PARTIAL;
        sub->levels = (uint8_t)lv;
        sub->interval_ms = strcmp(speed, "@100ms") == 0 ? 100 : 1000;
    } else {
        return -1121;
    }
#undef IS
    return 0;
}

static const char *code_msg(int code)
{
    return code == -1125 ? "This listenKey does not exist." : "Invalid symbol.";
}

bool sim_binance_ws_open(sim_session *s, sim_req *r)
{
    sim_venue *v = s->v;
    s->nsubs = 0;
    if (strcmp(r->path, "/stream") == 0) {
        s->combined = true;
        size_t n = 0;
        const char *streams = sim_param_get(r, "streams", &n);
        size_t i = 0;
        while (streams != NULL && i < n) {
            size_t j = i;
            while (j < n && streams[j] != '/')
                j++;
            if (j > i) {
                if (s->nsubs == SIM_SUBS_MAX) {
                    sim_reply_error(r, 400, -1101, "Too many streams.");
                    return false;
                }
                int code = parse_stream(v, streams + i, j - i, &s->subs[s->nsubs], r->now_ns);
                if (code != 0) {
                    sim_reply_error(r, 400, code, code_msg(code));
                    return false;
                }
                s->nsubs++;
            }
            i = j + 1;
        }
        return true;
    }
    if (strcmp(r->path, "/ws") == 0 || strcmp(r->path, "/ws/") == 0)
        return true;
    if (strncmp(r->path, "/ws/", 4) == 0) {
        const char *name = r->path + 4;
        int code = parse_stream(v, name, strlen(name), &s->subs[0], r->now_ns);
        if (code != 0) {
            sim_reply_error(r, 400, code, code_msg(code));
            return false;
        }
        s->nsubs = 1;
        return true;
    }
    sim_reply_str(r, 404, "{\"code\":-1,\"msg\":\"Not found.\"}");
    return false;
}

static void ws_reply(sim_session *s, json_t *id, const char *result_json, int err_code,
                     const char *err_msg)
{
    char buf[4096];
    sim_buf b;
    sb_init(&b, buf, sizeof buf);
    char *ids = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
    if (err_code != 0) {
        sb_fmt(&b, "{\"error\":{\"code\":%d,\"msg\":", err_code);
        sb_jstr(&b, err_msg, strlen(err_msg));
        sb_fmt(&b, "},\"id\":%s}", ids ? ids : "null");
    } else {
        sb_fmt(&b, "{\"result\":%s,\"id\":%s}", result_json, ids ? ids : "null");
    }
    free(ids);
    if (!b.full)
        sim_ws_send(s, NULL, b.p, b.len);
}

void sim_binance_ws_text(sim_session *s, const uint8_t *data, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)data, len, 0, &je);
    json_t *id = json_object_get(root, "id");
    const char *method = json_string_value(json_object_get(root, "method"));
    if (!json_is_object(root) || method == NULL ||
        (id != NULL && !json_is_integer(id) && !json_is_string(id) && !json_is_null(id))) {
        ws_reply(s, id, NULL, 2, "Invalid request: request ID must be an unsigned integer");
        json_decref(root);
        return;
    }
    json_t *params = json_object_get(root, "params");
    if (strcmp(method, "LIST_SUBSCRIPTIONS") == 0) {
        char list[3000];
        sim_buf b;
        sb_init(&b, list, sizeof list);
        sb_cat(&b, "[");
        for (uint32_t i = 0; i < s->nsubs; i++) {
            if (i)
                sb_cat(&b, ",");
            sb_jstr(&b, s->subs[i].name, strlen(s->subs[i].name));
        }
        sb_cat(&b, "]");
        ws_reply(s, id, b.p, 0, NULL);
    } else if (strcmp(method, "SUBSCRIBE") == 0 || strcmp(method, "UNSUBSCRIBE") == 0) {
        bool sub = method[0] == 'S';
        if (!json_is_array(params)) {
            ws_reply(s, id, NULL, 2, "Invalid request: missing field `params`");
            json_decref(root);
            return;
        }
        size_t i;
        json_t *p;
        uint64_t now = xr_clock_mono_ns();
        json_array_foreach(params, i, p)
        {
            const char *name = json_string_value(p);
            if (name == NULL)
                continue;
            uint32_t k = 0;
            while (k < s->nsubs && strcmp(s->subs[k].name, name) != 0)
                k++;
            if (!sub) {
                if (k < s->nsubs) {
                    memmove(&s->subs[k], &s->subs[k + 1], (s->nsubs - k - 1) * sizeof s->subs[0]);
                    s->nsubs--;
                }
                continue;
            }
            if (k < s->nsubs)
                continue; /* already subscribed */
            sim_sub ns;
            if (s->nsubs == SIM_SUBS_MAX || parse_stream(s->v, name, strlen(name), &ns, now) != 0) {
                ws_reply(s, id, NULL, 2, "Invalid request: unknown or too many streams");
                json_decref(root);
                return;
            }
            s->subs[s->nsubs++] = ns;
        }
        ws_reply(s, id, "null", 0, NULL);
    } else {
        ws_reply(s, id, NULL, 2, "Invalid request: unknown variant");
    }
    json_decref(root);
}

static int cmp_change(const void *a, const void *b)
{
    const xr_sim_change *x = a, *y = b;
    if (x->side != y->side)
        return x->side < y->side ? -1 : 1;
    if (x->price != y->price) {
        bool bid = x->side == XR_SIM_BID;
        return (x->price > y->price) == bid ? -1 : 1;
    }
    return x->id < y->id ? -1 : x->id > y->id;
}

/* A depthUpdate covering update ids [from, to], one entry per level with its last value. */
static size_t depth_update_json(sim_venue *v, const xr_sim_market *m, uint64_t from, uint64_t to,
                                int64_t now_ms)
{
    xr_sim_change *ch = v->sim->merge;
    size_t n = 0;
    for (uint64_t id = from; id <= to; id++) {
        const xr_sim_change *c = xr_sim_market_change(m, id);
        if (c != NULL && n < XR_SIM_LOG_SIZE)
            ch[n++] = *c;
    }
    qsort(ch, n, sizeof ch[0], cmp_change);
    sim_buf b;
    sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
    const char *sym = xr_sim_market_config(m)->symbol;
    sb_fmt(&b, "{\"e\":\"depthUpdate\",\"E\":%lld,\"s\":", (long long)now_ms);
    sb_jstr(&b, sym, strlen(sym));
    sb_fmt(&b, ",\"U\":%llu,\"u\":%llu,\"b\":[", (unsigned long long)from, (unsigned long long)to);
    bool first = true, asks = false;
    for (size_t i = 0; i < n; i++) {
        /* Of the changes to one level, only the last counts. */
        if (i + 1 < n && ch[i + 1].side == ch[i].side && ch[i + 1].price == ch[i].price)
            continue;
        if (ch[i].side == XR_SIM_ASK && !asks) {
            sb_cat(&b, "],\"a\":[");
            asks = true;
            first = true;
        }
        sb_cat(&b, first ? "[" : ",[");
        first = false;
        price_q(&b, m, ch[i].price);
        sb_cat(&b, ",");
        qty_q(&b, m, ch[i].qty);
        sb_cat(&b, "]");
    }
    sb_cat(&b, asks ? "]}" : "],\"a\":[]}");
    return b.full ? 0 : b.len;
}

static void emit_depth(sim_session *s, sim_sub *sub, uint64_t now_ns)
{
    sim_venue *v = s->v;
    const xr_sim_market *m = xr_sim_engine_market(v->engine, sub->target);
    uint64_t last = xr_sim_market_last_id(m);
    if (sub->interval_ms > 0) {
        if (now_ns < sub->due_ns)
            return;
        sub->due_ns += (uint64_t)sub->interval_ms * XR_NS_PER_MS;
        if (sub->due_ns <= now_ns)
            sub->due_ns = now_ns + (uint64_t)sub->interval_ms * XR_NS_PER_MS;
    }
    if (sub->next_id > last)
        return;
    uint64_t from = sub->next_id, oldest = xr_sim_market_oldest_id(m);
    if (from < oldest)
        from = oldest; /* fell behind the log: the client sees a gap, as it would */
    sub->next_id = last + 1;
    sub->emitted++;
    if (sub->gaps_pending > 0 || (v->f.gap_every > 0 && sub->emitted % v->f.gap_every == 0)) {
        if (sub->gaps_pending > 0)
            sub->gaps_pending--;
        v->c.depth_gaps++;
        return;
    }
    size_t len = depth_update_json(v, m, from, last, sim_now_ms(v));
    if (len == 0)
        return;
    v->c.depth_messages++;
    sim_ws_send(s, sub->name, v->sim->msg, len);
}

void sim_binance_emit(sim_session *s, uint64_t now_ns)
{
    sim_venue *v = s->v;
    for (uint32_t k = 0; k < s->nsubs && !s->closing; k++) {
        sim_sub *sub = &s->subs[k];
        if (sub->kind == SIM_SUB_USER)
            continue;
        const xr_sim_market *m = xr_sim_engine_market(v->engine, sub->target);
        sim_buf b;
        switch (sub->kind) {
        case SIM_SUB_DEPTH:
            emit_depth(s, sub, now_ns);
            break;
        case SIM_SUB_TRADE: {
            uint64_t last = xr_sim_market_last_trade_id(m);
            for (; sub->next_trade <= last && !s->closing; sub->next_trade++) {
                const xr_sim_trade *t = xr_sim_market_trade(m, sub->next_trade);
                if (t == NULL)
                    continue;
                sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
                const char *sym = xr_sim_market_config(m)->symbol;
                sb_fmt(&b, "{\"e\":\"trade\",\"E\":%lld,\"s\":", (long long)sim_now_ms(v));
                sb_jstr(&b, sym, strlen(sym));
                sb_fmt(&b, ",\"t\":%llu,\"p\":", (unsigned long long)t->id);
                price_q(&b, m, t->price);
                sb_cat(&b, ",\"q\":");
                qty_q(&b, m, t->qty);
                sb_fmt(&b, ",\"T\":%lld,\"m\":%s,\"M\":true}", (long long)t->time_ms,
                       t->buyer_maker ? "true" : "false");
                sim_ws_send(s, sub->name, b.p, b.len);
            }
            break;
        }
        case SIM_SUB_TICKER:
        case SIM_SUB_PARTIAL: {
            if (now_ns < sub->due_ns)
                break;
            sub->due_ns = now_ns + (uint64_t)sub->interval_ms * XR_NS_PER_MS;
            sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
            if (sub->kind == SIM_SUB_TICKER) {
                ticker t;
                int64_t now = sim_now_ms(v);
                ticker_compute(m, now, &t);
                ticker_json(&b, m, &t, true, now);
            } else {
                sim_binance_depth_json(&b, m, sub->levels);
            }
            if (!b.full)
                sim_ws_send(s, sub->name, b.p, b.len);
            break;
        }
        case SIM_SUB_BOOK_TICKER: {
            int64_t top[4] = {0, 0, 0, 0};
            for (int side = 0; side < 2; side++) {
                if (xr_sim_market_level_count(m, side) == 0)
                    continue;
                const xr_sim_level *l = xr_sim_market_level(m, side, 0);
                top[side * 2] = l->price;
                top[side * 2 + 1] = l->synth + l->user;
            }
            if (memcmp(top, sub->top, sizeof top) == 0)
                break;
            memcpy(sub->top, top, sizeof top);
            sb_init(&b, v->sim->msg, SIM_MSG_BYTES);
            const char *sym = xr_sim_market_config(m)->symbol;
            sb_fmt(&b, "{\"u\":%llu,\"s\":", (unsigned long long)xr_sim_market_last_id(m));
            sb_jstr(&b, sym, strlen(sym));
            sb_cat(&b, ",\"b\":");
            price_q(&b, m, top[0]);
            sb_cat(&b, ",\"B\":");
            qty_q(&b, m, top[1]);
            sb_cat(&b, ",\"a\":");
            price_q(&b, m, top[2]);
            sb_cat(&b, ",\"A\":");
            qty_q(&b, m, top[3]);
            sb_cat(&b, "}");
            sim_ws_send(s, sub->name, b.p, b.len);
            break;
        }
        default:
            break;
        }
    }
}

uint64_t sim_binance_next_due(const sim_session *s)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t k = 0; k < s->nsubs; k++) {
        const sim_sub *sub = &s->subs[k];
        if (sub->interval_ms > 0 && sub->due_ns < next)
            next = sub->due_ns;
    }
    return next;
}
