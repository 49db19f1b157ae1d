/*
 * Binance codec, reference-data paths: exchangeInfo, account, REST ticker/24hr and REST
 * klines, read with jansson. These documents are fetched at start-up, on a refresh timer
 * off the hot stages, or by an operator; they can be large (exchangeInfo lists every pair)
 * and are read once, so a well-kept DOM library is the better tool than the hot path's pull
 * reader (docs/venues.md). jansson allocates; nothing here runs on a stage thread.
 *
 * Duplicate keys are refused (JSON_REJECT_DUPLICATES). jansson reads JSON reals as doubles,
 * so every money field is required to be a string and is parsed exactly; a real where a
 * string is expected is a type error, never a rounded value.
 *
 * Syntax errors report jansson's byte position; errors found while interpreting the
 * document report offset 0 and a reason naming the field.
 */
#include <jansson.h>
#include <string.h>

#include "adapters/venues/binance/codec_internal.h"
#include "core/base/assert.h"

static bool ref_fail(bn_dec *d, size_t offset, const char *reason, xr_err err)
{
    d->err = err;
    d->err_offset = offset;
    d->err_reason = reason;
    return false;
}

static json_t *load(bn_dec *d, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *root =
        json_loadb(buf != NULL ? buf : "", buf != NULL ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        ref_fail(d, (size_t)jerr.position, "invalid JSON", XR_ERR_MALFORMED);
    return root;
}

/* The string member `key`, or NULL (absent or not a string). */
static const char *get_str(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static bool get_int(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A decimal member at `scale`; false when absent, not a string or not exact. */
static bool get_dec(const json_t *obj, const char *key, unsigned scale, xr_i128 *out)
{
    size_t len = 0;
    const char *s = get_str(obj, key, &len);
    return s != NULL && bn_decimal(s, len, scale, 0, out, NULL);
}

/* ---- exchangeInfo --------------------------------------------------------------------- */

static bool valid_code(const char *s, size_t len)
{
    if (len < 2 || len > XR_ASSET_CODE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    }
    return true;
}

static void read_rate_limits(const json_t *root, xr_binance_exchange_info *info)
{
    const json_t *arr = json_object_get(root, "rateLimits");
    size_t i;
    const json_t *rl;
    json_array_foreach(arr, i, rl)
    {
        size_t tl = 0, il = 0;
        const char *type = get_str(rl, "rateLimitType", &tl);
        const char *interval = get_str(rl, "interval", &il);
        int64_t num = 0, limit = 0;
        if (type == NULL || interval == NULL || !get_int(rl, "intervalNum", &num) ||
            !get_int(rl, "limit", &limit) || num <= 0 || num > 1000 || limit <= 0 ||
            limit > UINT32_MAX || info->n_limits == XR_BINANCE_LIMITS_MAX)
            continue;
        xr_binance_rate_limit out;
        memset(&out, 0, sizeof out);
        if (strcmp(type, "REQUEST_WEIGHT") == 0)
            out.kind = XR_BINANCE_LIMIT_REQUEST_WEIGHT;
        else if (strcmp(type, "ORDERS") == 0)
            out.kind = XR_BINANCE_LIMIT_ORDERS;
        else if (strcmp(type, "RAW_REQUESTS") == 0)
            out.kind = XR_BINANCE_LIMIT_RAW_REQUESTS;
        else
            continue;
        uint32_t unit;
        char letter;
        if (strcmp(interval, "SECOND") == 0)
            unit = 1, letter = 'S';
        else if (strcmp(interval, "MINUTE") == 0)
            unit = 60, letter = 'M';
        else if (strcmp(interval, "HOUR") == 0)
            unit = 3600, letter = 'H';
        else if (strcmp(interval, "DAY") == 0)
            unit = 86400, letter = 'D';
        else
            continue;
        out.interval_s = (uint32_t)num * unit;
        out.limit = (uint32_t)limit;
        /* The header suffix of this window: X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S. */
        char digits[8];
        int n = 0;
        for (int64_t v = num; v > 0 && n < 4; v /= 10)
            digits[n++] = (char)('0' + v % 10);
        int k = 0;
        while (n > 0)
            out.header_suffix[k++] = digits[--n];
        out.header_suffix[k] = letter;
        info->limits[info->n_limits++] = out;
    }
}

/* The instrument of one symbol object; false when it must be skipped. */
static bool read_symbol(bn_dec *d, const json_t *sym, xr_instrument *in)
{
    size_t sl = 0, bl = 0, ql = 0, stl = 0;
    const char *symbol = get_str(sym, "symbol", &sl);
    const char *base = get_str(sym, "baseAsset", &bl);
    const char *quote = get_str(sym, "quoteAsset", &ql);
    const char *status = get_str(sym, "status", &stl);
    if (symbol == NULL || base == NULL || quote == NULL || sl == 0 || sl > XR_SYMBOL_MAX ||
        !valid_code(base, bl) || !valid_code(quote, ql))
        return false;
    const xr_asset *ab = NULL, *aq = NULL;
    if (d->c->assets != NULL) {
        ab = xr_assets_find(d->c->assets, base);
        aq = xr_assets_find(d->c->assets, quote);
    }
    if ((d->c->flags & XR_BINANCE_CODEC_KNOWN_ASSETS_ONLY) && (ab == NULL || aq == NULL))
        return false;

    memset(in, 0, sizeof *in);
    memcpy(in->symbol, symbol, sl);
    memcpy(in->base, base, bl);
    memcpy(in->quote, quote, ql);
    in->status = status != NULL && strcmp(status, "TRADING") == 0 ? XR_INSTRUMENT_TRADING
                                                                  : XR_INSTRUMENT_HALTED;
    /* Scales: the registry's, but never coarser than what Binance reports, so that every
     * amount it sends is exact; the ledger rescales to its own units with a named rounding. */
    int64_t bp = XR_BINANCE_DEFAULT_SCALE, qp = XR_BINANCE_DEFAULT_SCALE;
    if (!get_int(sym, "baseAssetPrecision", &bp))
        bp = XR_BINANCE_DEFAULT_SCALE;
    if (!get_int(sym, "quoteAssetPrecision", &qp) && !get_int(sym, "quotePrecision", &qp))
        qp = XR_BINANCE_DEFAULT_SCALE;
    if (bp < 0 || bp > XR_SCALE_MAX || qp < 0 || qp > XR_SCALE_MAX)
        return false;
    unsigned bscale = (unsigned)bp, qscale = (unsigned)qp;
    if (ab != NULL && ab->scale > bscale)
        bscale = ab->scale;
    if (aq != NULL && aq->scale > qscale)
        qscale = aq->scale;
    in->scale.base = (uint8_t)bscale;
    in->scale.quote = (uint8_t)qscale;

    const json_t *filters = json_object_get(sym, "filters");
    const json_t *pf = NULL, *lot = NULL, *mn = NULL, *nt = NULL;
    size_t i;
    const json_t *f;
    json_array_foreach(filters, i, f)
    {
        size_t tl = 0;
        const char *type = get_str(f, "filterType", &tl);
        if (type == NULL)
            continue;
        if (strcmp(type, "PRICE_FILTER") == 0)
            pf = f;
        else if (strcmp(type, "LOT_SIZE") == 0)
            lot = f;
        else if (strcmp(type, "MIN_NOTIONAL") == 0)
            mn = f;
        else if (strcmp(type, "NOTIONAL") == 0)
            nt = f;
    }

    unsigned pscale = qscale;
    size_t len = 0;
    const char *tick = pf != NULL ? get_str(pf, "tickSize", &len) : NULL;
    if (tick != NULL) {
        int places = bn_decimal_places(tick, len);
        if (places < 0 || places > XR_SCALE_MAX)
            return false;
        if ((unsigned)places > pscale)
            pscale = (unsigned)places;
    }
    in->scale.price = (uint8_t)pscale;
    if (tick != NULL && !bn_decimal(tick, len, pscale, 0, &in->tick.ticks, NULL))
        return false;
    const char *s;
    /* A minimum rounds up and a maximum down, so a rule is never loosened by the scale. */
    if (pf != NULL && (s = get_str(pf, "minPrice", &len)) != NULL &&
        !bn_decimal_rounded(s, len, pscale, XR_ROUND_UP, &in->price_min.ticks))
        return false;
    if (pf != NULL && (s = get_str(pf, "maxPrice", &len)) != NULL &&
        !bn_decimal_rounded(s, len, pscale, XR_ROUND_DOWN, &in->price_max.ticks))
        return false;
    if (lot != NULL && (s = get_str(lot, "stepSize", &len)) != NULL &&
        !bn_decimal(s, len, bscale, 0, &in->lot_step.units, NULL))
        return false; /* a step finer than the base scale cannot be traded exactly */
    if (lot != NULL && (s = get_str(lot, "minQty", &len)) != NULL &&
        !bn_decimal_rounded(s, len, bscale, XR_ROUND_UP, &in->qty_min.units))
        return false;
    if (lot != NULL && (s = get_str(lot, "maxQty", &len)) != NULL &&
        !bn_decimal_rounded(s, len, bscale, XR_ROUND_DOWN, &in->qty_max.units))
        return false;
    /* MIN_NOTIONAL is the older filter, NOTIONAL the current one; the stricter minimum wins. */
    xr_i128 v;
    if (mn != NULL && (s = get_str(mn, "minNotional", &len)) != NULL) {
        if (!bn_decimal_rounded(s, len, qscale, XR_ROUND_UP, &v))
            return false;
        if (v > in->notional_min.units)
            in->notional_min.units = v;
    }
    if (nt != NULL && (s = get_str(nt, "minNotional", &len)) != NULL) {
        if (!bn_decimal_rounded(s, len, qscale, XR_ROUND_UP, &v))
            return false;
        if (v > in->notional_min.units)
            in->notional_min.units = v;
    }
    if (nt != NULL && (s = get_str(nt, "maxNotional", &len)) != NULL &&
        !bn_decimal_rounded(s, len, qscale, XR_ROUND_DOWN, &in->notional_max.units))
        return false;
    return true;
}

bool bn_ref_exchange_info(bn_dec *d, const char *buf, size_t len)
{
    xr_binance_exchange_info *info = d->info;
    XR_ASSERT(info != NULL);
    memset(info, 0, sizeof *info);
    json_t *root = load(d, buf, len);
    if (root == NULL)
        return false;
    bool ok = true;
    const json_t *symbols = json_object_get(root, "symbols");
    if (!json_is_object(root) || !json_is_array(symbols)) {
        ok = ref_fail(d, 0, "expected {\"symbols\":[...]}", XR_ERR_MALFORMED);
        goto out;
    }
    int64_t st = 0;
    if (get_int(root, "serverTime", &st))
        info->server_time_ms = st;
    read_rate_limits(root, info);

    size_t i;
    const json_t *sym;
    json_array_foreach(symbols, i, sym)
    {
        xr_instrument in;
        info->symbols_seen++;
        if (!json_is_object(sym) || !read_symbol(d, sym, &in)) {
            info->symbols_skipped++;
            continue;
        }
        xr_err err = xr_instruments_add(d->c->instruments, &in, NULL);
        if (err == XR_OK) {
            info->symbols_added++;
        } else if (err == XR_ERR_NO_MEMORY) {
            ok = ref_fail(d, 0, "instrument table full", XR_ERR_NO_MEMORY);
            goto out;
        } else if (err != XR_ERR_ALREADY_EXISTS) {
            info->symbols_skipped++;
        }
    }
out:
    json_decref(root);
    return ok;
}

/* ---- account -------------------------------------------------------------------------- */

bool bn_ref_account(bn_dec *d, const char *buf, size_t len)
{
    json_t *root = load(d, buf, len);
    if (root == NULL)
        return false;
    bool ok = true;
    const json_t *balances = json_object_get(root, "balances");
    if (!json_is_object(root) || !json_is_array(balances)) {
        ok = ref_fail(d, 0, "expected {\"balances\":[...]}", XR_ERR_MALFORMED);
        goto out;
    }
    int64_t ut = 0, uns = 0;
    if (get_int(root, "updateTime", &ut) && !bn_ms_to_ns(ut, &uns)) {
        ok = ref_fail(d, 0, "updateTime out of range", XR_ERR_MALFORMED);
        goto out;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(balances, i, b)
    {
        size_t al = 0;
        const char *asset = get_str(b, "asset", &al);
        if (asset == NULL || al == 0) {
            ok = ref_fail(d, 0, "balances: asset", XR_ERR_MALFORMED);
            goto out;
        }
        if (al > XR_ASSET_CODE_MAX)
            continue; /* an asset xroute cannot name cannot be traded by it either */
        bn_event_begin(d, XR_EV_BALANCE, XR_INSTRUMENT_NONE);
        xr_ev_balance *bal = &d->ev.u.balance;
        memcpy(bal->asset, asset, al);
        bal->scale = (uint8_t)bn_asset_scale(d->c, asset, al, &bal->asset_id);
        bal->update_time_ns = uns;
        if (!get_dec(b, "free", bal->scale, &bal->free.units) ||
            !get_dec(b, "locked", bal->scale, &bal->locked.units)) {
            ok = ref_fail(d, 0, "balances: free/locked", XR_ERR_MALFORMED);
            goto out;
        }
        if (!bn_produce(d)) {
            ok = false;
            goto out;
        }
    }
out:
    json_decref(root);
    return ok;
}

/* ---- ticker/24hr ---------------------------------------------------------------------- */

static bool ticker_one(bn_dec *d, const json_t *t)
{
    size_t sl = 0;
    const char *symbol = get_str(t, "symbol", &sl);
    if (symbol == NULL)
        return ref_fail(d, 0, "ticker: symbol", XR_ERR_MALFORMED);
    const xr_instrument *in = bn_instrument(d->c, symbol, sl);
    if (in == NULL)
        return ref_fail(d, 0, "unknown symbol", XR_ERR_UNKNOWN_PAIR);
    bn_event_begin(d, XR_EV_TICKER, in->id);
    xr_ev_ticker *tk = &d->ev.u.ticker;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    if (json_object_get(t, "bidPrice") != NULL) {
        if (!get_dec(t, "bidPrice", ps, &tk->bid.ticks) ||
            !get_dec(t, "bidQty", bs, &tk->bid_qty.units) ||
            !get_dec(t, "askPrice", ps, &tk->ask.ticks) ||
            !get_dec(t, "askQty", bs, &tk->ask_qty.units))
            return ref_fail(d, 0, "ticker: bid/ask", XR_ERR_MALFORMED);
        tk->fields |= XR_TICKER_BEST;
    }
    if (json_object_get(t, "lastPrice") != NULL) {
        if (!get_dec(t, "lastPrice", ps, &tk->last.ticks) ||
            (json_object_get(t, "lastQty") != NULL &&
             !get_dec(t, "lastQty", bs, &tk->last_qty.units)))
            return ref_fail(d, 0, "ticker: lastPrice/lastQty", XR_ERR_MALFORMED);
        tk->fields |= XR_TICKER_LAST;
    }
    if (json_object_get(t, "openPrice") != NULL) {
        int64_t ot = 0, ct = 0, first = 0, last = 0, count = 0;
        if (!get_dec(t, "openPrice", ps, &tk->open.ticks) ||
            !get_dec(t, "highPrice", ps, &tk->high.ticks) ||
            !get_dec(t, "lowPrice", ps, &tk->low.ticks) ||
            !get_dec(t, "volume", bs, &tk->volume.units) ||
            !get_dec(t, "quoteVolume", qs, &tk->quote_volume.units) ||
            !get_int(t, "openTime", &ot) || !get_int(t, "closeTime", &ct) ||
            !bn_ms_to_ns(ot, &tk->open_time_ns) || !bn_ms_to_ns(ct, &tk->close_time_ns))
            return ref_fail(d, 0, "ticker: statistics", XR_ERR_MALFORMED);
        /* firstId / lastId are -1 when the window had no trade. */
        if (get_int(t, "firstId", &first) && first > 0)
            tk->first_trade_id = (uint64_t)first;
        if (get_int(t, "lastId", &last) && last > 0)
            tk->last_trade_id = (uint64_t)last;
        if (get_int(t, "count", &count) && count > 0)
            tk->trade_count = (uint64_t)count;
        tk->fields |= XR_TICKER_STATS;
    }
    if (tk->fields == 0)
        return ref_fail(d, 0, "ticker: no prices", XR_ERR_MALFORMED);
    return bn_produce(d);
}

bool bn_ref_ticker(bn_dec *d, const char *buf, size_t len)
{
    json_t *root = load(d, buf, len);
    if (root == NULL)
        return false;
    bool ok = true;
    if (json_is_array(root)) {
        size_t i;
        const json_t *t;
        json_array_foreach(root, i, t)
        {
            if (!(ok = ticker_one(d, t)))
                break;
        }
    } else {
        ok = ticker_one(d, root);
    }
    json_decref(root);
    return ok;
}

/* ---- klines --------------------------------------------------------------------------- */

static bool kline_dec(const json_t *row, size_t i, unsigned scale, xr_i128 *out)
{
    const json_t *v = json_array_get(row, i);
    return json_is_string(v) &&
           bn_decimal(json_string_value(v), json_string_length(v), scale, 0, out, NULL);
}

static bool kline_int(const json_t *row, size_t i, int64_t *out)
{
    const json_t *v = json_array_get(row, i);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

bool bn_ref_klines(bn_dec *d, const char *buf, size_t len)
{
    const xr_instrument *in = d->inst;
    XR_ASSERT(in != NULL);
    json_t *root = load(d, buf, len);
    if (root == NULL)
        return false;
    bool ok = true;
    if (!json_is_array(root)) {
        ok = ref_fail(d, 0, "expected an array of klines", XR_ERR_MALFORMED);
        goto out;
    }
    size_t i;
    const json_t *row;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    json_array_foreach(root, i, row)
    {
        /* [open time, open, high, low, close, volume, close time, quote volume, trades,
         *  taker buy base, taker buy quote, ignore] */
        int64_t t0 = 0, t1 = 0, trades = 0;
        bn_event_begin(d, XR_EV_CANDLE, in->id);
        xr_ev_candle *c = &d->ev.u.candle;
        if (!json_is_array(row) || json_array_size(row) < 11 || !kline_int(row, 0, &t0) ||
            !kline_int(row, 6, &t1) || !kline_int(row, 8, &trades) || trades < 0 || t1 < t0 ||
            !kline_dec(row, 1, ps, &c->open.ticks) || !kline_dec(row, 2, ps, &c->high.ticks) ||
            !kline_dec(row, 3, ps, &c->low.ticks) || !kline_dec(row, 4, ps, &c->close.ticks) ||
            !kline_dec(row, 5, bs, &c->volume.units) ||
            !kline_dec(row, 7, qs, &c->quote_volume.units) ||
            !kline_dec(row, 9, bs, &c->taker_buy_volume.units) ||
            !kline_dec(row, 10, qs, &c->taker_buy_quote_volume.units) ||
            !bn_ms_to_ns(t0, &c->open_time_ns) || !bn_ms_to_ns(t1, &c->close_time_ns)) {
            ok = ref_fail(d, 0, "bad kline row", XR_ERR_MALFORMED);
            goto out;
        }
        /* The response does not repeat the interval: the request's, or the row's span
         * (close time is the last millisecond of the interval). */
        int64_t span_s = (t1 - t0 + 1) / 1000;
        c->interval_s = d->interval_s != 0    ? d->interval_s
                        : span_s > UINT32_MAX ? 0
                                              : (uint32_t)span_s;
        c->trade_count = (uint64_t)trades;
        /* Whether the last row's interval is over is not in the response: closed stays 0. */
        if (!bn_produce(d)) {
            ok = false;
            goto out;
        }
    }
out:
    json_decref(root);
    return ok;
}
