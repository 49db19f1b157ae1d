/*
 * Binance codec, common part: the helpers every codec file uses (event building, exact
 * decimals and their fast path, symbols, enums), the WebSocket dispatcher (raw, combined
 * and user-data messages), the entry points with the two-pass driver, and the error
 * mapping. The message parsers are in codec_market.c (books, trades, tickers, candles),
 * codec_order.c (orders, user data, error bodies) and codec_ref.c (jansson documents).
 *
 * Binance's WebSocket events use one-letter keys whose meaning depends on the event type
 * ("a" is the asks of a depthUpdate, the aggregate id of an aggTrade and the asset of a
 * balanceUpdate), so each event type has its own parser, and a set of seen letters catches
 * duplicates. Objects are read in whatever key order they come; a value that needs the
 * instrument's scales before the symbol has been seen is kept as a slice of the input (or,
 * for the level arrays of a depth message, as an offset) and parsed once the symbol is known.
 */
#include "adapters/venues/binance/codec.h"

#include <string.h>

#include "adapters/venues/binance/codec_internal.h"
#include "adapters/venues/json.h"
#include "core/base/assert.h"

/* ---- shared helpers (also used by codec_ref.c) ---------------------------------------- */

void bn_event_begin(bn_dec *d, xr_event_kind kind, uint32_t instrument)
{
    if (d->n_events > 0)
        d->clobbered = true;
    xr_event *ev = &d->ev;
    ev->kind = (uint8_t)kind;
    ev->reserved = 0;
    ev->venue = d->c->venue;
    ev->instrument = instrument;
    ev->event_time_ns = 0;
    /* A book event is mostly its level array, which is written before it is read: zero only
     * the header there, and the whole member for the other kinds. */
    d->spill_bids = 0;
    d->spill_asks = 0;
    if (kind == XR_EV_BOOK_SNAPSHOT || kind == XR_EV_BOOK_DELTA)
        memset(&ev->u.book, 0, offsetof(xr_ev_book, levels));
    else
        memset(&ev->u, 0, sizeof ev->u.order);
}

_Static_assert(sizeof(xr_ev_order) >= sizeof(xr_ev_trade) &&
                   sizeof(xr_ev_order) >= sizeof(xr_ev_ticker) &&
                   sizeof(xr_ev_order) >= sizeof(xr_ev_candle) &&
                   sizeof(xr_ev_order) >= sizeof(xr_ev_balance) &&
                   sizeof(xr_ev_order) >= sizeof(xr_ev_error),
               "bn_event_begin zeroes the largest non-book member");

bool bn_produce(bn_dec *d)
{
    d->n_events++;
    if (!d->emit)
        return true;
    xr_err err = d->fn(d->ctx, &d->ev);
    if (err != XR_OK) {
        d->err = err;
        return false;
    }
    return true;
}

int bn_decimal_places(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    if (dot == NULL)
        return 0;
    size_t end = len;
    while (end > (size_t)(dot - s) + 1 && s[end - 1] == '0')
        end--;
    size_t places = end - (size_t)(dot - s) - 1;
    return places > 64 ? -1 : (int)places;
}

const uint64_t bn_pow10_u64[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};

/* Eight ASCII digits at `p` as a number, or UINT64_MAX when any byte is not a digit: every
 * byte is checked to be 0x30..0x39 (its high nibble is 3, and still 3 after adding 6), then
 * the SWAR conversion of simdjson's parse_eight_digits_unrolled combines pairs, quads and
 * the octet by multiply-shift. Little-endian, as the target. */
static inline uint64_t eight_digits(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0ull) |
         (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) != 0x3333333333333333ull)
        return UINT64_MAX;
    v = (v & 0x0F0F0F0F0F0F0F0Full) * 2561 >> 8;
    v = (v & 0x00FF00FF00FF00FFull) * 6553601 >> 16;
    return (v & 0x0000FFFF0000FFFFull) * 42949672960001ull >> 32;
}

/* The shape of nearly every Binance number ("60650.01000000", "0.00213000"): unsigned
 * digits, at most 19 before the point and at most min(scale, 19) after it once the zeros
 * beyond the scale are dropped (as bn_decimal does for the reference). Read in one pass,
 * the fraction eight digits at a time; the value is int x 10^scale + frac x 10^(scale -
 * places). Anything else (a sign, padding beyond the scale, a stray byte) returns false and
 * the caller uses xr_decimal_parse, the reference, which also explains a refusal. A
 * differential test and a fuzz target check that both agree on every input
 * (tests/unit/test_binance_codec.c, tests/fuzz/fuzz_binance_decimal.c); bench/bench_book.cc
 * is why it exists (the money parser accumulates 128 bits per digit). */
static bool decimal_fast(const char *s, size_t len, unsigned scale, xr_i128 *out)
{
    const char *p = s, *end = s + len;
    uint64_t ip = 0;
    while (p < end && (unsigned char)(*p - '0') < 10)
        ip = ip * 10 + (uint64_t)(*p++ - '0');
    size_t int_len = (size_t)(p - s);
    if (int_len == 0 || int_len > 19 || int_len + scale > 38)
        return false;
    uint64_t fp = 0;
    size_t places = 0;
    if (p < end) {
        if (*p++ != '.')
            return false;
        places = (size_t)(end - p);
        if (places == 0)
            return false;
        /* Zeros beyond the scale change nothing (bn_decimal trims them for the reference
         * parser too); any other digit there is refused by the reference, with its reason. */
        for (; places > scale; places--, end--)
            if (end[-1] != '0')
                return false;
        if (places > 19)
            return false;
        for (; end - p >= 8; p += 8) {
            uint64_t v = eight_digits(p);
            if (v == UINT64_MAX)
                return false;
            fp = fp * 100000000ull + v; /* at most 19 digits in all: no overflow */
        }
        for (; p < end; p++) {
            unsigned d = (unsigned char)(*p - '0');
            if (d >= 10)
                return false;
            fp = fp * 10 + d;
        }
    }
    /* ip < 10^int_len and fp < 10^places: the sum is below 10^(int_len + scale) <= 10^38. */
    *out =
        (xr_i128)ip * bn_pow10_i128(scale) + (xr_i128)fp * bn_pow10_i128(scale - (unsigned)places);
    return true;
}

bool bn_decimal(const char *s, size_t len, unsigned scale, unsigned flags, xr_i128 *out,
                xr_parse_error *perr)
{
    if (scale <= XR_SCALE_MAX && decimal_fast(s, len, scale, out)) {
        if (perr != NULL) {
            perr->offset = 0;
            perr->fault = XR_DEC_OK;
        }
        return true;
    }
    /* Dropping the zeros beyond the scale first keeps the money parser on its fast path
     * ("60650.00000000" at scale 2 becomes "60650.00"); the value is the same, and any text
     * the trim changes was acceptable with XR_DEC_ALLOW_TRAILING_ZEROS anyway. */
    const char *dot = memchr(s, '.', len);
    if (dot != NULL) {
        size_t frac = len - (size_t)(dot - s) - 1;
        bool trimmed = false;
        while (frac > scale && s[len - 1] == '0') {
            len--;
            frac--;
            trimmed = true;
        }
        if (trimmed && frac == 0)
            len--; /* "5.000" at scale 0 is "5" */
    }
    return xr_decimal_parse(s, len, scale, flags | XR_DEC_ALLOW_TRAILING_ZEROS, out, perr) == XR_OK;
}

bool bn_decimal_rounded(const char *s, size_t len, unsigned scale, xr_round r, xr_i128 *out)
{
    int places = bn_decimal_places(s, len);
    if (places < 0 || places > XR_SCALE_MAX)
        return false;
    if ((unsigned)places <= scale)
        return bn_decimal(s, len, scale, 0, out, NULL);
    xr_i128 v, div;
    if (!bn_decimal(s, len, (unsigned)places, 0, &v, NULL) ||
        xr_i128_pow10((unsigned)places - scale, &div) != XR_OK)
        return false;
    return xr_i128_div(v, div, r, out) == XR_OK;
}

unsigned bn_asset_scale(const xr_binance_codec *c, const char *code, size_t len, uint16_t *id)
{
    unsigned scale = XR_BINANCE_DEFAULT_SCALE;
    if (id != NULL)
        *id = XR_ASSET_ID_NONE;
    if (c->assets == NULL || len == 0 || len > XR_ASSET_CODE_MAX)
        return scale;
    char name[XR_ASSET_CODE_MAX + 1];
    memcpy(name, code, len);
    name[len] = '\0';
    const xr_asset *a = xr_assets_find(c->assets, name);
    if (a == NULL)
        return scale;
    if (id != NULL)
        *id = a->id;
    return a->scale > scale ? a->scale : scale;
}

/* Quote assets tried, longest first, when an operator tool meets a symbol it has no
 * exchangeInfo for. */
static const char *const guess_quotes[] = {
    "FDUSD", "USDT", "USDC", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "USD",
};

const xr_instrument *bn_instrument(const xr_binance_codec *c, const char *sym, size_t len)
{
    const xr_instrument *in = xr_instruments_by_symbol(c->instruments, sym, len);
    if (in != NULL || (c->flags & XR_BINANCE_CODEC_GUESS_SYMBOLS) == 0 || len > XR_SYMBOL_MAX)
        return in;
    for (size_t i = 0; i < sizeof guess_quotes / sizeof guess_quotes[0]; i++) {
        size_t nq = strlen(guess_quotes[i]);
        if (len <= nq + 1 || len - nq > XR_ASSET_CODE_MAX ||
            memcmp(sym + len - nq, guess_quotes[i], nq) != 0)
            continue;
        xr_instrument g;
        memset(&g, 0, sizeof g);
        memcpy(g.symbol, sym, len);
        memcpy(g.base, sym, len - nq);
        memcpy(g.quote, guess_quotes[i], nq);
        g.scale.base = (uint8_t)bn_asset_scale(c, g.base, len - nq, NULL);
        g.scale.quote = (uint8_t)bn_asset_scale(c, g.quote, nq, NULL);
        g.scale.price = g.scale.quote;
        const xr_instrument *out = NULL;
        if (xr_instruments_add(c->instruments, &g, &out) == XR_OK)
            return out;
        return NULL;
    }
    return NULL;
}

const xr_instrument *xr_binance_lookup(const xr_binance_codec *c, const char *symbol, size_t len)
{
    XR_ASSERT(c != NULL && c->instruments != NULL);
    return symbol == NULL ? NULL : bn_instrument(c, symbol, len);
}

bool bn_ms_to_ns(int64_t ms, int64_t *ns)
{
    return ms >= 0 && !__builtin_mul_overflow(ms, (int64_t)1000000, ns);
}

uint32_t bn_interval_seconds(const char *s, size_t len)
{
    if (len < 2 || len > 4)
        return 0;
    uint32_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        n = n * 10 + (uint32_t)(s[i] - '0');
    }
    uint32_t unit;
    switch (s[len - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    case 'M':
        unit = 30 * 86400;
        break;
    default:
        return 0;
    }
    return n == 0 || n > 1000 ? 0 : n * unit;
}

#define STR_IS(s, len, lit) ((len) == sizeof(lit) - 1 && memcmp((s), (lit), (len)) == 0)

bool bn_parse_side(const char *s, size_t len, xr_side *out)
{
    if (STR_IS(s, len, "BUY"))
        *out = XR_SIDE_BUY;
    else if (STR_IS(s, len, "SELL"))
        *out = XR_SIDE_SELL;
    else
        return false;
    return true;
}

xr_order_type bn_parse_type(const char *s, size_t len)
{
    if (STR_IS(s, len, "LIMIT"))
        return XR_ORDER_TYPE_LIMIT;
    if (STR_IS(s, len, "MARKET"))
        return XR_ORDER_TYPE_MARKET;
    if (STR_IS(s, len, "LIMIT_MAKER"))
        return XR_ORDER_TYPE_LIMIT_MAKER;
    return XR_ORDER_TYPE_OTHER;
}

xr_tif bn_parse_tif(const char *s, size_t len)
{
    if (STR_IS(s, len, "GTC"))
        return XR_TIF_GTC;
    if (STR_IS(s, len, "IOC"))
        return XR_TIF_IOC;
    if (STR_IS(s, len, "FOK"))
        return XR_TIF_FOK;
    return XR_TIF_NONE;
}

bool bn_parse_status(const char *s, size_t len, xr_order_status *out)
{
    static const struct {
        const char *name;
        xr_order_status status;
    } map[] = {
        {"NEW", XR_ORDER_OPEN},
        {"PENDING_NEW", XR_ORDER_PENDING},
        {"PARTIALLY_FILLED", XR_ORDER_PARTIALLY_FILLED},
        {"FILLED", XR_ORDER_FILLED},
        {"CANCELED", XR_ORDER_CANCELLED},
        /* Documented as unused; the order is still live until CANCELED arrives. */
        {"PENDING_CANCEL", XR_ORDER_OPEN},
        {"REJECTED", XR_ORDER_REJECTED},
        {"EXPIRED", XR_ORDER_EXPIRED},
        {"EXPIRED_IN_MATCH", XR_ORDER_EXPIRED},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strlen(map[i].name) == len && memcmp(map[i].name, s, len) == 0) {
            *out = map[i].status;
            return true;
        }
    }
    return false;
}

const char *xr_binance_side_param(xr_side side)
{
    return side == XR_SIDE_BUY ? "BUY" : side == XR_SIDE_SELL ? "SELL" : NULL;
}

const char *xr_binance_type_param(xr_order_type type)
{
    switch (type) {
    case XR_ORDER_TYPE_MARKET:
        return "MARKET";
    case XR_ORDER_TYPE_LIMIT:
        return "LIMIT";
    case XR_ORDER_TYPE_LIMIT_MAKER:
        return "LIMIT_MAKER";
    default:
        return NULL;
    }
}

const char *xr_binance_tif_param(xr_tif tif)
{
    switch (tif) {
    case XR_TIF_GTC:
        return "GTC";
    case XR_TIF_IOC:
        return "IOC";
    case XR_TIF_FOK:
        return "FOK";
    default:
        return NULL;
    }
}

/* ---- stream dispatch ------------------------------------------------------------------ */

/* The instrument of a combined stream's name ("bnbbtc@depth20@100ms" -> BNBBTC). */
static const xr_instrument *stream_instrument(bn_dec *d, const xr_json_str *stream)
{
    char sym[XR_SYMBOL_MAX + 1];
    size_t n = 0;
    if (stream == NULL || stream->escaped)
        return NULL;
    for (; n < stream->len && stream->ptr[n] != '@'; n++) {
        if (n == XR_SYMBOL_MAX)
            return NULL;
        char c = stream->ptr[n];
        sym[n] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    return n == 0 ? NULL : bn_instrument(d->c, sym, n);
}

static bool dispatch_type(bn_dec *d, xr_json *j, const xr_json_str *type)
{
    if (XR_JSON_IS(*type, "depthUpdate"))
        return bn_parse_depth_update(d, j);
    if (XR_JSON_IS(*type, "trade"))
        return bn_parse_trade_ws(d, j, false);
    if (XR_JSON_IS(*type, "aggTrade"))
        return bn_parse_trade_ws(d, j, true);
    if (XR_JSON_IS(*type, "24hrTicker"))
        return bn_parse_ticker_ws(d, j, false);
    if (XR_JSON_IS(*type, "kline"))
        return bn_parse_kline_ws(d, j);
    if (XR_JSON_IS(*type, "executionReport"))
        return bn_parse_execution_report(d, j);
    if (XR_JSON_IS(*type, "outboundAccountPosition"))
        return bn_parse_account_position(d, j);
    if (XR_JSON_IS(*type, "balanceUpdate"))
        return bn_parse_balance_update(d, j);
    return xr_json_skip(j); /* listStatus, eventStreamTerminated, ...: nothing to report */
}

/* What an object's top-level keys say it is. */
typedef struct shape {
    xr_json_str type; /* "e" */
    bool has_type, has_stream_data, has_wrapper, has_last_update_id, has_book_ticker;
} shape;

static bool classify(xr_json *j, shape *sh)
{
    xr_json probe = *j;
    xr_json_str k;
    unsigned book_ticker = 0;
    memset(sh, 0, sizeof *sh);
    if (!xr_json_object_begin(&probe))
        return bn_adopt_failure(j, &probe);
    while (xr_json_object_next(&probe, &k)) {
        bool ok;
        if (XR_JSON_IS(k, "e") && xr_json_peek(&probe) == XR_JSON_STRING) {
            ok = xr_json_string(&probe, &sh->type);
            sh->has_type = true;
        } else {
            if (XR_JSON_IS(k, "stream") || XR_JSON_IS(k, "data"))
                sh->has_stream_data = true;
            else if (XR_JSON_IS(k, "subscriptionId") || XR_JSON_IS(k, "event"))
                sh->has_wrapper = true;
            else if (XR_JSON_IS(k, "lastUpdateId"))
                sh->has_last_update_id = true;
            else if (XR_JSON_IS(k, "u") || XR_JSON_IS(k, "b") || XR_JSON_IS(k, "a") ||
                     XR_JSON_IS(k, "B") || XR_JSON_IS(k, "A"))
                book_ticker++;
            ok = xr_json_skip(&probe);
        }
        if (!ok)
            return bn_adopt_failure(j, &probe);
        if (sh->has_type)
            break; /* an event: its own parser reads the rest */
    }
    sh->has_book_ticker = book_ticker == 5;
    return bn_adopt_failure(j, &probe);
}

static bool parse_event_value(bn_dec *d, xr_json *j, const xr_json_str *stream);

static bool parse_event_object(bn_dec *d, xr_json *j, const xr_json_str *stream)
{
    shape sh;
    if (!classify(j, &sh))
        return false;
    if (sh.has_type)
        return dispatch_type(d, j, &sh.type);
    if (sh.has_book_ticker)
        return bn_parse_ticker_ws(d, j, true);
    if (sh.has_last_update_id) {
        const xr_instrument *in = stream_instrument(d, stream);
        if (in == NULL)
            return bn_fail_code(d, j, xr_json_offset(j), "partial depth of unknown symbol",
                                XR_ERR_UNKNOWN_PAIR);
        return bn_parse_depth_snapshot(d, j, in);
    }
    return xr_json_skip(j); /* a subscription reply or something new: nothing to report */
}

/* {"stream":"..","data":{..} or [..]} */
static bool parse_envelope(bn_dec *d, xr_json *j)
{
    xr_json_str k, stream = {0};
    bool have_stream = false, have_data = false;
    size_t data_off = SIZE_MAX;
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        bool ok;
        if (XR_JSON_IS(k, "stream")) {
            ok = (!have_stream || xr_json_fail_at(j, bn_off(j, &k), "duplicate field")) &&
                 xr_json_string(j, &stream);
            have_stream = true;
        } else if (XR_JSON_IS(k, "data")) {
            ok = !have_data || xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            have_data = true;
            if (ok && have_stream) {
                ok = parse_event_value(d, j, &stream);
            } else if (ok) {
                data_off = bn_value_offset(j);
                ok = xr_json_skip(j);
            }
        } else {
            ok = xr_json_skip(j);
        }
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if (!have_data)
        return xr_json_fail(j, "missing field");
    if (data_off != SIZE_MAX) {
        xr_json sub = bn_reader_at(j, data_off);
        parse_event_value(d, &sub, have_stream ? &stream : NULL);
        return bn_adopt_failure(j, &sub);
    }
    return true;
}

/* {"subscriptionId":0,"event":{..}} */
static bool parse_wrapper(bn_dec *d, xr_json *j)
{
    xr_json_str k;
    bool have_event = false;
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        bool ok;
        if (XR_JSON_IS(k, "event")) {
            ok = (!have_event || xr_json_fail_at(j, bn_off(j, &k), "duplicate field")) &&
                 parse_event_object(d, j, NULL);
            have_event = true;
        } else {
            ok = xr_json_skip(j);
        }
        if (!ok)
            return false;
    }
    return !xr_json_failed(j);
}

static bool parse_event_value(bn_dec *d, xr_json *j, const xr_json_str *stream)
{
    if (xr_json_peek(j) != XR_JSON_ARRAY)
        return parse_event_object(d, j, stream);
    /* "!ticker@arr"-style streams carry an array of events. */
    if (!xr_json_array_begin(j))
        return false;
    while (xr_json_array_next(j)) {
        if (!parse_event_object(d, j, stream))
            return false;
    }
    return !xr_json_failed(j);
}

static bool parse_stream_msg(bn_dec *d, xr_json *j)
{
    xr_json_str k;
    xr_json probe;
    if (xr_json_peek(j) == XR_JSON_ARRAY)
        return parse_event_value(d, j, NULL); /* "!ticker@arr" and the like */
    if (xr_json_peek(j) != XR_JSON_OBJECT)
        return xr_json_fail(j, "expected object");
    /* Binance puts the discriminating key first; look at it before anything is scanned
     * twice. */
    if (bn_first_key(j, &k, &probe)) {
        if (XR_JSON_IS(k, "e") && xr_json_peek(&probe) == XR_JSON_STRING) {
            xr_json_str type;
            if (!xr_json_string(&probe, &type))
                return bn_adopt_failure(j, &probe);
            return dispatch_type(d, j, &type);
        }
        if (XR_JSON_IS(k, "stream") || XR_JSON_IS(k, "data"))
            return parse_envelope(d, j);
        if (XR_JSON_IS(k, "subscriptionId") || XR_JSON_IS(k, "event"))
            return parse_wrapper(d, j);
    }
    shape sh;
    if (!classify(j, &sh))
        return false;
    if (sh.has_stream_data && !sh.has_type)
        return parse_envelope(d, j);
    if (sh.has_wrapper && !sh.has_type)
        return parse_wrapper(d, j);
    return parse_event_object(d, j, NULL);
}

/* ---- entry points --------------------------------------------------------------------- */

typedef bool (*parse_fn)(bn_dec *d, xr_json *j);

static void dec_init(bn_dec *d, const xr_binance_codec *c, const xr_instrument *inst,
                     xr_event_fn fn, void *ctx)
{
    XR_ASSERT(c != NULL && c->instruments != NULL);
    d->c = c;
    d->inst = inst;
    d->fn = fn;
    d->ctx = ctx;
    d->emit = false;
    d->overflow = false;
    d->clobbered = false;
    d->n_events = 0;
    d->parts = 0;
    d->interval_s = 0;
    d->err = XR_OK;
    d->err_offset = 0;
    d->err_reason = NULL;
    d->info = NULL;
    d->spill_bids = 0;
    d->spill_asks = 0;
}

static void set_perr(xr_decode_error *perr, size_t offset, const char *reason)
{
    if (perr != NULL) {
        perr->offset = offset;
        perr->reason = reason;
    }
}

/* Reports the single event built in the first pass, or runs the second pass. */
static xr_err finish_passes(bn_dec *d, const char *buf, size_t len, parse_fn parse,
                            xr_decode_error *perr)
{
    if (d->n_events == 0)
        return XR_OK;
    if (d->n_events == 1 && !d->overflow && !d->clobbered)
        return d->spill_bids + d->spill_asks == 0 ? d->fn(d->ctx, &d->ev) : bn_report_spilled(d);
    d->emit = true;
    d->n_events = 0;
    d->parts = 0;
    d->clobbered = false;
    xr_json j;
    xr_json_init(&j, buf, len);
    if (parse(d, &j) && xr_json_finish(&j))
        return XR_OK;
    /* Only the callback can fail a pass over a message the first pass accepted. */
    set_perr(perr, j.err_offset, j.err_reason);
    return d->err != XR_OK ? d->err : XR_ERR_INTERNAL;
}

static xr_err run(bn_dec *d, const char *buf, size_t len, parse_fn parse, xr_decode_error *perr)
{
    set_perr(perr, 0, NULL);
    if (buf == NULL && len > 0)
        return XR_ERR_INVALID_ARGUMENT;
    xr_json j;
    xr_json_init(&j, buf, len);
    if (!parse(d, &j) || !xr_json_finish(&j)) {
        set_perr(perr, j.err_offset, j.err_reason);
        return d->err != XR_OK ? d->err : XR_ERR_MALFORMED;
    }
    return finish_passes(d, buf, len, parse, perr);
}

static bool parse_depth_update_msg(bn_dec *d, xr_json *j)
{
    xr_json_str k;
    xr_json probe;
    if (bn_first_key(j, &k, &probe) && (XR_JSON_IS(k, "stream") || XR_JSON_IS(k, "data")))
        return parse_envelope(d, j);
    return bn_parse_depth_update(d, j);
}

static bool parse_depth_rest(bn_dec *d, xr_json *j)
{
    return bn_parse_depth_snapshot(d, j, d->inst);
}

static bool parse_trade_msg(bn_dec *d, xr_json *j)
{
    if (xr_json_peek(j) == XR_JSON_ARRAY) {
        if (d->inst == NULL)
            return bn_fail_code(d, j, 0, "trades list needs its symbol", XR_ERR_INVALID_ARGUMENT);
        return bn_parse_trades_rest(d, j);
    }
    return parse_stream_msg(d, j);
}

static bool parse_user_msg(bn_dec *d, xr_json *j)
{
    return parse_stream_msg(d, j);
}

static bool parse_error_msg(bn_dec *d, xr_json *j)
{
    return bn_parse_error_obj(d, j, 0);
}

static xr_err run_ref(bn_dec *d, const char *buf, size_t len,
                      bool (*ref)(bn_dec *, const char *, size_t), xr_decode_error *perr)
{
    set_perr(perr, 0, NULL);
    if (buf == NULL && len > 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (!ref(d, buf, len)) {
        set_perr(perr, d->err_offset, d->err_reason);
        return d->err != XR_OK ? d->err : XR_ERR_MALFORMED;
    }
    if (d->n_events == 0)
        return XR_OK;
    if (d->n_events == 1 && !d->clobbered)
        return d->fn(d->ctx, &d->ev);
    d->emit = true;
    d->n_events = 0;
    d->clobbered = false;
    if (ref(d, buf, len))
        return XR_OK;
    set_perr(perr, d->err_offset, d->err_reason);
    return d->err != XR_OK ? d->err : XR_ERR_INTERNAL;
}

xr_err xr_binance_decode_depth_update(const xr_binance_codec *c, const char *buf, size_t len,
                                      xr_event_fn fn, void *ctx, xr_decode_error *perr)
{
    bn_dec d;
    dec_init(&d, c, NULL, fn, ctx);
    return run(&d, buf, len, parse_depth_update_msg, perr);
}

xr_err xr_binance_decode_stream(const xr_binance_codec *c, const char *buf, size_t len,
                                xr_event_fn fn, void *ctx, xr_decode_error *perr)
{
    bn_dec d;
    dec_init(&d, c, NULL, fn, ctx);
    return run(&d, buf, len, parse_stream_msg, perr);
}

xr_err xr_binance_decode_depth(const xr_binance_codec *c, const xr_instrument *inst,
                               const char *buf, size_t len, xr_event_fn fn, void *ctx,
                               xr_decode_error *perr)
{
    if (inst == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    bn_dec d;
    dec_init(&d, c, inst, fn, ctx);
    return run(&d, buf, len, parse_depth_rest, perr);
}

xr_err xr_binance_decode_order(const xr_binance_codec *c, const char *buf, size_t len,
                               xr_event_fn fn, void *ctx, xr_decode_error *perr)
{
    bn_dec d;
    dec_init(&d, c, NULL, fn, ctx);
    return run(&d, buf, len, bn_parse_order_body, perr);
}

xr_err xr_binance_decode_error(const xr_binance_codec *c, int http_status, const char *buf,
                               size_t len, xr_event_fn fn, void *ctx, xr_decode_error *perr)
{
    bn_dec d;
    dec_init(&d, c, NULL, fn, ctx);
    if (http_status == 0)
        return run(&d, buf, len, parse_error_msg, perr);
    set_perr(perr, 0, NULL);
    xr_json j;
    xr_json_init(&j, buf != NULL ? buf : "", buf != NULL ? len : 0);
    if (bn_parse_error_obj(&d, &j, http_status) && xr_json_finish(&j))
        return d.fn(d.ctx, &d.ev);
    /* Not a Binance error object (a proxy's HTML page, an empty body): the status alone. */
    bn_event_begin(&d, XR_EV_ERROR, XR_INSTRUMENT_NONE);
    xr_ev_error *e = &d.ev.u.error;
    e->http_status = (uint16_t)(http_status > 0 && http_status < 1000 ? http_status : 0);
    uint16_t flags = 0;
    e->err = xr_binance_map_error(http_status, 0, NULL, 0, &flags);
    e->flags = flags;
    return d.fn(d.ctx, &d.ev);
}

xr_err xr_binance_load_exchange_info(const xr_binance_codec *c, const char *buf, size_t len,
                                     xr_binance_exchange_info *info, xr_decode_error *perr)
{
    bn_dec d;
    xr_binance_exchange_info scratch;
    dec_init(&d, c, NULL, NULL, NULL);
    d.info = info != NULL ? info : &scratch;
    return run_ref(&d, buf, len, bn_ref_exchange_info, perr);
}

xr_err xr_binance_decode(const xr_binance_codec *c, xr_binance_kind kind, const xr_instrument *inst,
                         const char *buf, size_t len, xr_event_fn fn, void *ctx,
                         xr_binance_exchange_info *info, xr_decode_error *perr)
{
    bn_dec d;
    dec_init(&d, c, inst, fn, ctx);
    switch (kind) {
    case XR_BINANCE_KIND_DEPTH:
        return xr_binance_decode_depth(c, inst, buf, len, fn, ctx, perr);
    case XR_BINANCE_KIND_DEPTH_UPDATE:
        return run(&d, buf, len, parse_depth_update_msg, perr);
    case XR_BINANCE_KIND_TRADE:
        return run(&d, buf, len, parse_trade_msg, perr);
    case XR_BINANCE_KIND_TICKER: {
        /* REST ticker/24hr (long names) or a WS ticker event. */
        xr_json j, probe;
        xr_json_str k;
        xr_json_init(&j, buf != NULL ? buf : "", buf != NULL ? len : 0);
        /* An array is REST's list of tickers or the "!ticker@arr" stream: its first element
         * tells, like a single object's first key does. */
        if (xr_json_peek(&j) == XR_JSON_ARRAY && xr_json_array_begin(&j))
            (void)xr_json_array_next(&j);
        bool rest = bn_first_key(&j, &k, &probe) && k.len > 1 && !XR_JSON_IS(k, "stream") &&
                    !XR_JSON_IS(k, "data") && !XR_JSON_IS(k, "subscriptionId");
        if (rest)
            return run_ref(&d, buf, len, bn_ref_ticker, perr);
        return run(&d, buf, len, parse_stream_msg, perr);
    }
    case XR_BINANCE_KIND_KLINE: {
        xr_json j;
        xr_json_init(&j, buf != NULL ? buf : "", buf != NULL ? len : 0);
        if (xr_json_peek(&j) == XR_JSON_ARRAY) {
            if (inst == NULL)
                return XR_ERR_INVALID_ARGUMENT;
            return run_ref(&d, buf, len, bn_ref_klines, perr);
        }
        return run(&d, buf, len, parse_stream_msg, perr);
    }
    case XR_BINANCE_KIND_EXCHANGE_INFO:
        return xr_binance_load_exchange_info(c, buf, len, info, perr);
    case XR_BINANCE_KIND_ORDER:
        return run(&d, buf, len, bn_parse_order_body, perr);
    case XR_BINANCE_KIND_ACCOUNT:
        return run_ref(&d, buf, len, bn_ref_account, perr);
    case XR_BINANCE_KIND_USER_DATA:
        return run(&d, buf, len, parse_user_msg, perr);
    case XR_BINANCE_KIND_ERROR:
        return run(&d, buf, len, parse_error_msg, perr);
    case XR_BINANCE_KIND_STREAM:
        return run(&d, buf, len, parse_stream_msg, perr);
    case XR_BINANCE_KIND__COUNT:
        break;
    }
    return XR_ERR_INVALID_ARGUMENT;
}

xr_binance_kind xr_binance_kind_from_name(const char *name)
{
    static const struct {
        const char *name;
        xr_binance_kind kind;
    } names[] = {
        {"depth", XR_BINANCE_KIND_DEPTH},
        {"depthUpdate", XR_BINANCE_KIND_DEPTH_UPDATE},
        {"trade", XR_BINANCE_KIND_TRADE},
        {"ticker", XR_BINANCE_KIND_TICKER},
        {"kline", XR_BINANCE_KIND_KLINE},
        {"exchangeInfo", XR_BINANCE_KIND_EXCHANGE_INFO},
        {"order", XR_BINANCE_KIND_ORDER},
        {"account", XR_BINANCE_KIND_ACCOUNT},
        {"executionReport", XR_BINANCE_KIND_USER_DATA},
        {"userData", XR_BINANCE_KIND_USER_DATA},
        {"error", XR_BINANCE_KIND_ERROR},
        {"stream", XR_BINANCE_KIND_STREAM},
    };
    for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0)
            return names[i].kind;
    }
    return XR_BINANCE_KIND__COUNT;
}

/* ---- error mapping -------------------------------------------------------------------- */

static bool msg_has(const char *msg, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (msg == NULL || n > len)
        return false;
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(msg + i, needle, n) == 0)
            return true;
    }
    return false;
}

xr_err xr_binance_map_error(int http_status, int32_t code, const char *msg, size_t msg_len,
                            uint16_t *flags)
{
    uint16_t f = 0;
    xr_err err;
    switch (code) {
    case -1003: /* TOO_MANY_REQUESTS */
    case -1015: /* TOO_MANY_ORDERS */
        err = XR_ERR_RATE_LIMITED;
        f |= XR_VENUE_ERR_RETRYABLE;
        break;
    case -1021: /* INVALID_TIMESTAMP: our clock is off; nothing executed */
        err = XR_ERR_STALE;
        f |= XR_VENUE_ERR_CLOCK_DRIFT | XR_VENUE_ERR_RETRYABLE;
        break;
    case -1002: /* UNAUTHORIZED */
    case -1022: /* INVALID_SIGNATURE */
    case -2014: /* BAD_API_KEY_FMT */
    case -2015: /* REJECTED_MBX_KEY */
        err = XR_ERR_UNAUTHORIZED;
        break;
    case -1121: /* BAD_SYMBOL */
        err = XR_ERR_UNKNOWN_PAIR;
        break;
    case -1111: /* BAD_PRECISION */
        err = XR_ERR_INVALID_AMOUNT;
        break;
    case -1006: /* UNEXPECTED_RESP: status unknown */
        err = XR_ERR_VENUE_UNAVAILABLE;
        f |= XR_VENUE_ERR_OUTCOME_UNKNOWN;
        break;
    case -1007: /* TIMEOUT: "Send status unknown; execution status unknown." */
        err = XR_ERR_TIMEOUT;
        f |= XR_VENUE_ERR_OUTCOME_UNKNOWN;
        break;
    case -1001: /* DISCONNECTED */
    case -1008: /* SERVER_BUSY */
    case -1016: /* SERVICE_SHUTTING_DOWN */
        err = XR_ERR_VENUE_UNAVAILABLE;
        f |= XR_VENUE_ERR_RETRYABLE;
        break;
    case -1125: /* INVALID_LISTEN_KEY */
    case -2013: /* NO_SUCH_ORDER */
        err = XR_ERR_NOT_FOUND;
        break;
    case -2010: /* NEW_ORDER_REJECTED: the matching engine's message says why */
        if (msg_has(msg, msg_len, "insufficient balance"))
            err = XR_ERR_INSUFFICIENT_FUNDS;
        else if (msg_has(msg, msg_len, "Duplicate order"))
            err = XR_ERR_ALREADY_EXISTS;
        else if (msg_has(msg, msg_len, "Unknown order"))
            err = XR_ERR_NOT_FOUND;
        else if (msg_has(msg, msg_len, "Market is closed"))
            err = XR_ERR_VENUE_UNAVAILABLE;
        else
            err = XR_ERR_REJECTED;
        break;
    case -2011: /* CANCEL_REJECTED */
        if (msg_has(msg, msg_len, "cancel restrictions"))
            err = XR_ERR_INVALID_STATE;
        else
            err = XR_ERR_NOT_FOUND; /* "Unknown order sent." and the old "UNKNOWN_ORDER" */
        break;
    case -1013: /* INVALID_MESSAGE: filter failures */
        if (msg_has(msg, msg_len, "NOTIONAL"))
            err = XR_ERR_BELOW_MIN_SIZE;
        else if (msg_has(msg, msg_len, "MAX_NUM_") || msg_has(msg, msg_len, "MAX_POSITION"))
            err = XR_ERR_LIMIT_EXCEEDED;
        else if (msg_has(msg, msg_len, "PRICE") || msg_has(msg, msg_len, "LOT_SIZE"))
            err = XR_ERR_INVALID_AMOUNT;
        else
            err = XR_ERR_REJECTED;
        break;
    default:
        if (code <= -1100 && code > -1200)
            err = XR_ERR_INVALID_ARGUMENT; /* 11xx: the request's parameters */
        else if (code <= -2000 && code > -3000)
            err = XR_ERR_REJECTED;
        else
            err = XR_OK; /* decided by the HTTP status below */
        break;
    }
    /* The HTTP status overrides for rate limits and bans, and decides when the code did
     * not. Binance: 429 rate limit, 418 IP ban, 403 WAF, 5xx "execution status UNKNOWN". */
    if (http_status == 429 || http_status == 418) {
        err = XR_ERR_RATE_LIMITED;
        f |= XR_VENUE_ERR_RETRYABLE;
        if (http_status == 418)
            f |= XR_VENUE_ERR_BANNED;
    } else if (err == XR_OK) {
        if (http_status >= 500) {
            err = XR_ERR_VENUE_UNAVAILABLE;
            f |= XR_VENUE_ERR_OUTCOME_UNKNOWN;
        } else if (http_status == 401 || http_status == 403) {
            err = XR_ERR_UNAUTHORIZED;
        } else if (http_status == 404) {
            err = XR_ERR_NOT_FOUND;
        } else if (http_status == 409) {
            err = XR_ERR_INVALID_STATE;
        } else if (http_status >= 400 || code != 0) {
            err = XR_ERR_REJECTED;
        } else {
            err = XR_ERR_VENUE_UNAVAILABLE;
        }
    } else if (http_status >= 500) {
        f |= XR_VENUE_ERR_OUTCOME_UNKNOWN;
        f &= (uint16_t)~XR_VENUE_ERR_RETRYABLE;
    }
    if (flags != NULL)
        *flags = f;
    return err;
}
