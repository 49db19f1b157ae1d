/*
 * Binance codec, market data: book levels (the fused fast path and the general one), the
 * depthUpdate and depth snapshot parsers, trades, tickers and candles. See codec_internal.h
 * for the two-pass reporting scheme and the reader helpers.
 */
#include <string.h>

#include "adapters/venues/binance/codec.h"
#include "adapters/venues/binance/codec_internal.h"
#include "adapters/venues/json.h"
#include "core/base/assert.h"

/* ---- books ---------------------------------------------------------------------------- */

/* The slot the next level of a book message goes to. The value is parsed straight into it:
 * building it elsewhere and copying would read 128 bits just written as two 64-bit halves,
 * which stalls store forwarding on every level (measured: most of the decode time). When
 * the event is full, the first pass validates the rest into `scratch` and the second pass
 * reports the full part and starts the next. NULL when the callback refused a part. */
static xr_book_level *level_slot(bn_dec *d, bool bid, xr_book_level *scratch)
{
    xr_ev_book *b = &d->ev.u.book;
    if ((unsigned)b->n_bids + b->n_asks == XR_EV_BOOK_LEVELS_MAX) {
        if (!d->emit) {
            if (!d->overflow && d->spill_bids + d->spill_asks < BN_SPILL_MAX)
                return bid ? &d->spill[d->spill_bids] : &d->spill[BN_SPILL_MAX - 1 - d->spill_asks];
            d->overflow = true; /* too big to keep: the second pass reports it */
            return scratch;
        }
        b->part = d->parts == 0 ? XR_EV_BOOK_PART_FIRST : 0;
        if (!bn_produce(d))
            return NULL;
        d->parts++;
        b->n_bids = 0;
        b->n_asks = 0;
    }
    return bid ? &b->levels[b->n_bids] : &b->levels[XR_EV_BOOK_LEVELS_MAX - 1 - b->n_asks];
}

static void level_commit(bn_dec *d, bool bid, const xr_book_level *slot,
                         const xr_book_level *scratch)
{
    if (slot == scratch)
        return;
    if (slot >= d->spill && slot < d->spill + BN_SPILL_MAX) {
        if (bid)
            d->spill_bids++;
        else
            d->spill_asks++;
        return;
    }
    if (bid)
        d->ev.u.book.n_bids++;
    else
        d->ev.u.book.n_asks++;
}

/* Reports a book message whose first pass kept the levels beyond d->ev in the spill: d->ev
 * as the first part, then the spilled bids and asks in parts, the last one marked LAST. */
xr_err bn_report_spilled(bn_dec *d)
{
    xr_ev_book *b = &d->ev.u.book;
    b->part = XR_EV_BOOK_PART_FIRST;
    xr_err err = d->fn(d->ctx, &d->ev);
    uint32_t nb = 0, na = 0;
    while (err == XR_OK) {
        b->n_bids = 0;
        b->n_asks = 0;
        while (nb < d->spill_bids && b->n_bids < XR_EV_BOOK_LEVELS_MAX)
            b->levels[b->n_bids++] = d->spill[nb++];
        while (na < d->spill_asks && (unsigned)b->n_bids + b->n_asks < XR_EV_BOOK_LEVELS_MAX) {
            b->levels[XR_EV_BOOK_LEVELS_MAX - 1 - b->n_asks++] = d->spill[BN_SPILL_MAX - 1 - na];
            na++;
        }
        bool last = nb == d->spill_bids && na == d->spill_asks;
        b->part = last ? XR_EV_BOOK_PART_LAST : 0;
        err = d->fn(d->ctx, &d->ev);
        if (last)
            break;
    }
    return err;
}

static bool book_finish(bn_dec *d, xr_json *j)
{
    xr_ev_book *b = &d->ev.u.book;
    b->part = (uint8_t)(XR_EV_BOOK_PART_LAST | (d->parts == 0 ? XR_EV_BOOK_PART_FIRST : 0));
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}

/* ---- the fused fast path for book levels ---------------------------------------------- */

/* The leading ASCII digits among the 8 bytes at `p`: their count (0..8), and their value in
 * `*value`. Bytes are classified without carries between them (high bits cleared first),
 * then the digits are shifted to the top and converted as in simdjson's
 * parse_eight_digits_unrolled (the zero bytes shifted in read as leading zeros). */
static inline __attribute__((always_inline)) unsigned swar_digits(const char *p, uint64_t *value)
{
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t w = v & 0x7F7F7F7F7F7F7F7Full;
    uint64_t nondigit =
        ((w + 0x4646464646464646ull) | ~(w + 0x5050505050505050ull) | v) & 0x8080808080808080ull;
    unsigned k = nondigit == 0 ? 8 : (unsigned)__builtin_ctzll(nondigit) / 8;
    if (k == 0) {
        *value = 0;
        return 0;
    }
    v = (v & 0x0F0F0F0F0F0F0F0Full) << (8 * (8 - k));
    v = v * 2561 >> 8;
    v = (v & 0x00FF00FF00FF00FFull) * 6553601 >> 16;
    *value = (v & 0x0000FFFF0000FFFFull) * 42949672960001ull >> 32;
    return k;
}

/* Up to 16 digits at `p`, every read inside [p, end): 0 when they cannot be read this way
 * (the general path then reads them). */
static inline __attribute__((always_inline)) unsigned swar_digits16(const char *p, const char *end,
                                                                    uint64_t *value)
{
    if (end - p < 8)
        return 0;
    unsigned k = swar_digits(p, value);
    if (k < 8)
        return k;
    if (end - p < 9 || (unsigned char)(p[8] - '0') >= 10)
        return end - p < 9 ? 0 : 8;
    if (end - p < 16)
        return 0;
    uint64_t more;
    unsigned k2 = swar_digits(p + 8, &more);
    if (k2 == 8)
        return 0; /* 17 digits or more */
    *value = *value * bn_pow10_u64[k2] + more;
    return 8 + k2;
}

/* A number "digits[.digits]" ending at a '"', read straight into `*out` at `scale`: the
 * pointer to the closing quote, or NULL when the bytes are anything else (the general path
 * then reads them, or refuses them with a reason). Reads only inside [p, end). */
static inline __attribute__((always_inline)) const char *fast_number(const char *p, const char *end,
                                                                     unsigned scale, xr_i128 *out)
{
    uint64_t ip, fp = 0;
    unsigned int_len = swar_digits16(p, end, &ip), places = 0;
    if (int_len == 0 || int_len + scale > 38)
        return NULL;
    p += int_len;
    if (*p == '.') { /* p < end: swar_digits16 read past the digits */
        p++;
        places = swar_digits16(p, end, &fp);
        if (places == 0)
            return NULL;
        p += places;
        if (places > scale) {
            /* Zeros beyond the scale ("60650.01000000" at scale 6) change nothing, as in
             * bn_decimal; any other digit there needs the general path's refusal. */
            uint64_t cut = bn_pow10_u64[places - scale];
            if (fp % cut != 0)
                return NULL;
            fp /= cut;
            places = scale;
        }
    }
    if (p >= end || *p != '"')
        return NULL;
    if (int_len + scale <= 19) /* below 10^19: exact in 64 bits, the common case */
        *out = (xr_i128)(ip * bn_pow10_u64[scale] + fp * bn_pow10_u64[scale - places]);
    else if (scale <= 19) /* one 64 x 64 -> 128-bit multiply each */
        *out = (xr_i128)((xr_u128)ip * bn_pow10_u64[scale] +
                         (xr_u128)fp * bn_pow10_u64[scale - places]);
    else
        *out = (xr_i128)ip * bn_pow10_i128(scale) + (xr_i128)fp * bn_pow10_i128(scale - places);
    return p;
}

/* One level ["price","qty"] in Binance's compact form, into `l`: the end of the level, or
 * NULL to let the general path read it. */
static inline const char *fast_level(const char *p, const char *end, const xr_instrument *in,
                                     xr_book_level *l)
{
    if (end - p < 2 || p[0] != '[' || p[1] != '"')
        return NULL;
    const char *q = fast_number(p + 2, end, in->scale.price, &l->price.ticks);
    if (q == NULL || end - q < 3 || q[1] != ',' || q[2] != '"')
        return NULL;
    q = fast_number(q + 3, end, in->scale.base, &l->qty.units);
    if (q == NULL || end - q < 2 || q[1] != ']')
        return NULL;
    return q + 2;
}

/* [["price","qty"], ...]: extra elements in a level are ignored (Binance once sent a third). */
static bool parse_levels(bn_dec *d, xr_json *j, const xr_instrument *in, bool bid)
{
    if (!xr_json_array_begin(j))
        return false;
    for (;;) {
        /* Compact input (no whitespace) takes the inline shortcut between elements. */
        const char *at = xr_json_raw_next(j);
        if (at == NULL && !xr_json_array_next(j))
            break;
        xr_book_level scratch;
        xr_book_level *slot = level_slot(d, bid, &scratch);
        if (slot == NULL)
            return xr_json_fail(j, "event refused");
        if (at == NULL)
            at = xr_json_raw_begin(j);
        const char *next = at != NULL ? fast_level(at, j->end, in, slot) : NULL;
        if (next != NULL && slot->price.ticks != 0) {
            xr_json_raw_take(j, next);
            level_commit(d, bid, slot, &scratch);
            continue;
        }
        xr_json_str ps, qs;
        {
            /* Not the compact form (whitespace, a sign, a third element, a long number...):
             * the general reader, and xr_decimal_parse for the values. */
            if (!xr_json_array_begin(j))
                return false;
            if (!xr_json_array_next(j))
                return xr_json_fail(j, "expected price");
            if (!xr_json_string(j, &ps))
                return false;
            if (!xr_json_array_next(j))
                return xr_json_fail(j, "expected quantity");
            if (!xr_json_string(j, &qs))
                return false;
            while (xr_json_array_next(j)) {
                if (!xr_json_skip(j))
                    return false;
            }
            if (xr_json_failed(j))
                return false;
        }
        if (!bn_dec_at(j, &ps, in->scale.price, 0, &slot->price.ticks) ||
            !bn_dec_at(j, &qs, in->scale.base, 0, &slot->qty.units))
            return false;
        if (slot->price.ticks == 0)
            return xr_json_fail_at(j, bn_off(j, &ps), "price not positive");
        level_commit(d, bid, slot, &scratch);
    }
    return !xr_json_failed(j);
}

static bool parse_deferred_levels(bn_dec *d, xr_json *j, const xr_instrument *in, size_t off,
                                  bool bid)
{
    xr_json sub = bn_reader_at(j, off);
    parse_levels(d, &sub, in, bid);
    return bn_adopt_failure(j, &sub);
}

/* {"e":"depthUpdate","E":..,"s":..,"U":..,"u":..,"b":[..],"a":[..]} */
bool bn_parse_depth_update(bn_dec *d, xr_json *j)
{
    uint64_t seen = 0, first_id = 0, last_id = 0;
    int64_t etime = 0;
    size_t e_off = 0, bids_off = SIZE_MAX, asks_off = SIZE_MAX;
    const xr_instrument *in = NULL;
    xr_json_str k, s;

    bn_event_begin(d, XR_EV_BOOK_DELTA, XR_INSTRUMENT_NONE);
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        if (bit < 0) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        bool ok = true;
        switch (k.ptr[0]) {
        case 'e':
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 bn_expect_type(j, &s, "depthUpdate");
            break;
        case 'E':
            e_off = bn_value_offset(j);
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_int64(j, &etime);
            break;
        case 's':
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 (in = bn_instrument_at(d, j, &s)) != NULL;
            break;
        case 'U':
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_uint64(j, &first_id);
            break;
        case 'u':
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_uint64(j, &last_id);
            break;
        case 'b':
        case 'a': {
            bool bid = k.ptr[0] == 'b';
            if (!bn_mark_seen(j, &seen, bit, &k))
                return false;
            if (in != NULL && !d->emit) {
                ok = parse_levels(d, j, in, bid);
            } else {
                /* Come back once the object is read: before the symbol the scales are
                 * unknown, and in the reporting pass each part needs the ids first. */
                *(bid ? &bids_off : &asks_off) = bn_value_offset(j);
                ok = xr_json_skip(j);
            }
            break;
        }
        default:
            ok = xr_json_skip(j);
            break;
        }
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    const uint64_t need = LMASK('s') | LMASK('U') | LMASK('u') | LMASK('b') | LMASK('a');
    if ((seen & need) != need)
        return xr_json_fail(j, "missing field");
    if (first_id > last_id)
        return xr_json_fail(j, "first update id above last");
    if ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns))
        return false;
    d->ev.instrument = in->id;
    d->ev.u.book.first_id = first_id;
    d->ev.u.book.last_id = last_id;
    if (bids_off != SIZE_MAX && !parse_deferred_levels(d, j, in, bids_off, true))
        return false;
    if (asks_off != SIZE_MAX && !parse_deferred_levels(d, j, in, asks_off, false))
        return false;
    return book_finish(d, j);
}

/* {"lastUpdateId":..,"bids":[..],"asks":[..]}: the REST snapshot and the partial-depth
 * stream. */
bool bn_parse_depth_snapshot(bn_dec *d, xr_json *j, const xr_instrument *in)
{
    bool have_id = false, have_bids = false, have_asks = false;
    uint64_t id = 0;
    size_t bids_off = SIZE_MAX, asks_off = SIZE_MAX;
    xr_json_str k;
    XR_ASSERT(in != NULL);
    bn_event_begin(d, XR_EV_BOOK_SNAPSHOT, in->id);
    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        bool ok;
        if (XR_JSON_IS(k, "lastUpdateId")) {
            ok = !have_id || xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            ok = ok && xr_json_uint64(j, &id);
            have_id = true;
        } else if (XR_JSON_IS(k, "bids") || XR_JSON_IS(k, "asks")) {
            bool bid = k.ptr[0] == 'b';
            bool *have = bid ? &have_bids : &have_asks;
            ok = !*have || xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            if (ok && d->emit) {
                /* Reporting pass: parts need the id first (see the depthUpdate parser). */
                *(bid ? &bids_off : &asks_off) = bn_value_offset(j);
                ok = xr_json_skip(j);
            } else {
                ok = ok && parse_levels(d, j, in, bid);
            }
            *have = true;
        } else {
            ok = xr_json_skip(j);
        }
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    if (!have_id || !have_bids || !have_asks)
        return xr_json_fail(j, "missing field");
    d->ev.u.book.first_id = id;
    d->ev.u.book.last_id = id;
    if (bids_off != SIZE_MAX && !parse_deferred_levels(d, j, in, bids_off, true))
        return false;
    if (asks_off != SIZE_MAX && !parse_deferred_levels(d, j, in, asks_off, false))
        return false;
    return book_finish(d, j);
}

/* ---- trades --------------------------------------------------------------------------- */

/* WS "trade" (id in "t") and "aggTrade" (id in "a"). */
bool bn_parse_trade_ws(bn_dec *d, xr_json *j, bool agg)
{
    uint64_t seen = 0, id = 0;
    int64_t etime = 0, ttime = 0;
    size_t e_off = 0, t_off = 0;
    bool maker = false;
    xr_json_str k, s, sym = {0}, ps = {0}, qs = {0};
    const char id_key = agg ? 'a' : 't';

    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        bool ok = true;
        char c = bit < 0 ? '\0' : k.ptr[0];
        if (c == 'e') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 bn_expect_type(j, &s, agg ? "aggTrade" : "trade");
        } else if (c == 'E') {
            e_off = bn_value_offset(j);
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_int64(j, &etime);
        } else if (c == 's') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &sym);
        } else if (c == id_key) {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_uint64(j, &id);
        } else if (c == 'p') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &ps);
        } else if (c == 'q') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &qs);
        } else if (c == 'T') {
            t_off = bn_value_offset(j);
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_int64(j, &ttime);
        } else if (c == 'm') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_bool(j, &maker);
        } else {
            ok = xr_json_skip(j);
        }
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    const uint64_t need =
        LMASK('s') | (1ull << LBIT(id_key)) | LMASK('p') | LMASK('q') | LMASK('T') | LMASK('m');
    if ((seen & need) != need)
        return xr_json_fail(j, "missing field");
    const xr_instrument *in = bn_instrument_at(d, j, &sym);
    if (in == NULL)
        return false;
    bn_event_begin(d, XR_EV_TRADE, in->id);
    xr_ev_trade *t = &d->ev.u.trade;
    t->trade_id = id;
    /* "m": the buyer is the maker, so the seller took liquidity. */
    t->taker_side = maker ? XR_SIDE_SELL : XR_SIDE_BUY;
    if (!bn_dec_at(j, &ps, in->scale.price, 0, &t->price.ticks) ||
        !bn_dec_at(j, &qs, in->scale.base, 0, &t->qty.units) ||
        !bn_ms_at(j, t_off, ttime, &t->trade_time_ns))
        return false;
    if ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}

/* GET /api/v3/trades: [{"id","price","qty","quoteQty","time","isBuyerMaker","isBestMatch"}] */
bool bn_parse_trades_rest(bn_dec *d, xr_json *j)
{
    const xr_instrument *in = d->inst;
    XR_ASSERT(in != NULL);
    if (!xr_json_array_begin(j))
        return false;
    while (xr_json_array_next(j)) {
        enum { F_ID = 1, F_PRICE = 2, F_QTY = 4, F_TIME = 8, F_MAKER = 16 };
        unsigned seen = 0;
        uint64_t id = 0;
        int64_t ttime = 0;
        size_t t_off = 0;
        bool maker = false;
        xr_json_str k, ps = {0}, qs = {0};
        if (!xr_json_object_begin(j))
            return false;
        while (xr_json_object_next(j, &k)) {
            unsigned f = XR_JSON_IS(k, "id")             ? F_ID
                         : XR_JSON_IS(k, "price")        ? F_PRICE
                         : XR_JSON_IS(k, "qty")          ? F_QTY
                         : XR_JSON_IS(k, "time")         ? F_TIME
                         : XR_JSON_IS(k, "isBuyerMaker") ? F_MAKER
                                                         : 0;
            if (f == 0) {
                if (!xr_json_skip(j))
                    return false;
                continue;
            }
            if (seen & f)
                return xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
            seen |= f;
            bool ok = f == F_ID      ? xr_json_uint64(j, &id)
                      : f == F_PRICE ? xr_json_string(j, &ps)
                      : f == F_QTY   ? xr_json_string(j, &qs)
                      : f == F_TIME  ? (t_off = bn_value_offset(j), xr_json_int64(j, &ttime))
                                     : xr_json_bool(j, &maker);
            if (!ok)
                return false;
        }
        if (xr_json_failed(j))
            return false;
        if (seen != (F_ID | F_PRICE | F_QTY | F_TIME | F_MAKER))
            return xr_json_fail(j, "missing field");
        bn_event_begin(d, XR_EV_TRADE, in->id);
        xr_ev_trade *t = &d->ev.u.trade;
        t->trade_id = id;
        t->taker_side = maker ? XR_SIDE_SELL : XR_SIDE_BUY;
        if (!bn_dec_at(j, &ps, in->scale.price, 0, &t->price.ticks) ||
            !bn_dec_at(j, &qs, in->scale.base, 0, &t->qty.units) ||
            !bn_ms_at(j, t_off, ttime, &t->trade_time_ns))
            return false;
        if (!bn_produce(d))
            return xr_json_fail(j, "event refused");
    }
    return !xr_json_failed(j);
}

/* ---- tickers and candles -------------------------------------------------------------- */

/* WS 24hrTicker (has "e") and bookTicker (no "e": u, s, b, B, a, A). */
bool bn_parse_ticker_ws(bn_dec *d, xr_json *j, bool book_ticker)
{
    bn_slot slots[] = {{'s', {0}}, {'c', {0}}, {'Q', {0}}, {'b', {0}}, {'B', {0}}, {'a', {0}},
                       {'A', {0}}, {'o', {0}}, {'h', {0}}, {'l', {0}}, {'v', {0}}, {'q', {0}}};
    const size_t ns = sizeof slots / sizeof slots[0];
    uint64_t seen = 0, update_id = 0, count = 0;
    int64_t etime = 0, otime = 0, ctime = 0, first = 0, last = 0;
    size_t e_off = 0, o_off = 0, c_off = 0;
    xr_json_str k, s;

    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        if (bit < 0) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        char c = k.ptr[0];
        bool handled = true, ok = true;
        if (book_ticker && c != 'u' && c != 's' && c != 'b' && c != 'B' && c != 'a' && c != 'A')
            handled = false;
        else if (c == 'e')
            ok = xr_json_string(j, &s) && bn_expect_type(j, &s, "24hrTicker");
        else if (c == 'E')
            ok = (e_off = bn_value_offset(j), xr_json_int64(j, &etime));
        else if (c == 'u')
            ok = xr_json_uint64(j, &update_id);
        else if (c == 'O')
            ok = (o_off = bn_value_offset(j), xr_json_int64(j, &otime));
        else if (c == 'C')
            ok = (c_off = bn_value_offset(j), xr_json_int64(j, &ctime));
        else if (c == 'F') /* -1 when the window had no trade */
            ok = xr_json_int64(j, &first);
        else if (c == 'L')
            ok = xr_json_int64(j, &last);
        else if (c == 'n')
            ok = xr_json_uint64(j, &count);
        else
            ok = bn_slot_store(j, slots, ns, c, &handled);
        if (!ok)
            return false;
        if (!handled) {
            if (!xr_json_skip(j))
                return false;
            continue;
        }
        if (seen & (1ull << bit))
            return xr_json_fail_at(j, bn_off(j, &k), "duplicate field");
        seen |= 1ull << bit;
    }
    if (xr_json_failed(j))
        return false;
    const uint64_t need_best = LMASK('s') | LMASK('b') | LMASK('B') | LMASK('a') | LMASK('A');
    const uint64_t need_full = need_best | LMASK('c') | LMASK('Q') | LMASK('o') | LMASK('h') |
                               LMASK('l') | LMASK('v') | LMASK('q') | LMASK('O') | LMASK('C') |
                               LMASK('n');
    if ((seen & (book_ticker ? need_best : need_full)) != (book_ticker ? need_best : need_full))
        return xr_json_fail(j, "missing field");
    const xr_instrument *in = bn_instrument_at(d, j, bn_slot_get(slots, ns, 's'));
    if (in == NULL)
        return false;
    bn_event_begin(d, XR_EV_TICKER, in->id);
    xr_ev_ticker *t = &d->ev.u.ticker;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    t->fields = XR_TICKER_BEST;
    t->update_id = update_id;
    if (!bn_dec_at(j, bn_slot_get(slots, ns, 'b'), ps, 0, &t->bid.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'B'), bs, 0, &t->bid_qty.units) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'a'), ps, 0, &t->ask.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'A'), bs, 0, &t->ask_qty.units))
        return false;
    if (!book_ticker) {
        t->fields |= XR_TICKER_LAST | XR_TICKER_STATS;
        if (!bn_dec_at(j, bn_slot_get(slots, ns, 'c'), ps, 0, &t->last.ticks) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'Q'), bs, 0, &t->last_qty.units) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'o'), ps, 0, &t->open.ticks) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'h'), ps, 0, &t->high.ticks) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'l'), ps, 0, &t->low.ticks) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'v'), bs, 0, &t->volume.units) ||
            !bn_dec_at(j, bn_slot_get(slots, ns, 'q'), qs, 0, &t->quote_volume.units) ||
            !bn_ms_at(j, o_off, otime, &t->open_time_ns) ||
            !bn_ms_at(j, c_off, ctime, &t->close_time_ns))
            return false;
        t->first_trade_id = first > 0 ? (uint64_t)first : 0;
        t->last_trade_id = last > 0 ? (uint64_t)last : 0;
        t->trade_count = count;
    }
    if ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}

/* WS kline: {"e":"kline","E":..,"s":..,"k":{t,T,s,i,f,L,o,c,h,l,v,n,x,q,V,Q,B}} */
bool bn_parse_kline_ws(bn_dec *d, xr_json *j)
{
    bn_slot slots[] = {{'i', {0}}, {'o', {0}}, {'c', {0}}, {'h', {0}}, {'l', {0}},
                       {'v', {0}}, {'q', {0}}, {'V', {0}}, {'Q', {0}}};
    const size_t ns = sizeof slots / sizeof slots[0];
    uint64_t seen = 0, kseen = 0, count = 0;
    int64_t etime = 0, t0 = 0, t1 = 0;
    size_t e_off = 0, t0_off = 0, t1_off = 0;
    bool closed = false;
    xr_json_str k, s, sym = {0};

    if (!xr_json_object_begin(j))
        return false;
    while (xr_json_object_next(j, &k)) {
        int bit = bn_letter_bit(&k);
        char c = bit < 0 ? '\0' : k.ptr[0];
        bool ok;
        if (c == 'e')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &s) &&
                 bn_expect_type(j, &s, "kline");
        else if (c == 'E')
            ok = bn_mark_seen(j, &seen, bit, &k) &&
                 (e_off = bn_value_offset(j), xr_json_int64(j, &etime));
        else if (c == 's')
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_string(j, &sym);
        else if (c == 'k') {
            ok = bn_mark_seen(j, &seen, bit, &k) && xr_json_object_begin(j);
            while (ok && xr_json_object_next(j, &k)) {
                int kb = bn_letter_bit(&k);
                char kc = kb < 0 ? '\0' : k.ptr[0];
                bool handled = true;
                if (kc == 't')
                    ok = (t0_off = bn_value_offset(j), xr_json_int64(j, &t0));
                else if (kc == 'T')
                    ok = (t1_off = bn_value_offset(j), xr_json_int64(j, &t1));
                else if (kc == 'n')
                    ok = xr_json_uint64(j, &count);
                else if (kc == 'x')
                    ok = xr_json_bool(j, &closed);
                else if (kc != '\0')
                    ok = bn_slot_store(j, slots, ns, kc, &handled);
                else
                    handled = false;
                if (ok && !handled) {
                    ok = xr_json_skip(j);
                    continue;
                }
                ok = ok && bn_mark_seen(j, &kseen, kb, &k);
            }
            ok = ok && !xr_json_failed(j);
        } else
            ok = xr_json_skip(j);
        if (!ok)
            return false;
    }
    if (xr_json_failed(j))
        return false;
    const uint64_t kneed = LMASK('t') | LMASK('T') | LMASK('i') | LMASK('o') | LMASK('c') |
                           LMASK('h') | LMASK('l') | LMASK('v') | LMASK('n') | LMASK('x') |
                           LMASK('q');
    if ((seen & (LMASK('s') | LMASK('k'))) != (LMASK('s') | LMASK('k')) || (kseen & kneed) != kneed)
        return xr_json_fail(j, "missing field");
    const xr_instrument *in = bn_instrument_at(d, j, &sym);
    if (in == NULL)
        return false;
    bn_event_begin(d, XR_EV_CANDLE, in->id);
    xr_ev_candle *cd = &d->ev.u.candle;
    const xr_json_str *iv = bn_slot_get(slots, ns, 'i');
    cd->interval_s = iv->escaped ? 0 : bn_interval_seconds(iv->ptr, iv->len);
    if (cd->interval_s == 0)
        return xr_json_fail_at(j, bn_off(j, iv), "unknown interval");
    cd->closed = closed;
    cd->trade_count = count;
    unsigned ps = in->scale.price, bs = in->scale.base, qs = in->scale.quote;
    if (!bn_dec_at(j, bn_slot_get(slots, ns, 'o'), ps, 0, &cd->open.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'h'), ps, 0, &cd->high.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'l'), ps, 0, &cd->low.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'c'), ps, 0, &cd->close.ticks) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'v'), bs, 0, &cd->volume.units) ||
        !bn_dec_at(j, bn_slot_get(slots, ns, 'q'), qs, 0, &cd->quote_volume.units) ||
        !bn_ms_at(j, t0_off, t0, &cd->open_time_ns) || !bn_ms_at(j, t1_off, t1, &cd->close_time_ns))
        return false;
    if ((kseen & LMASK('V')) &&
        !bn_dec_at(j, bn_slot_get(slots, ns, 'V'), bs, 0, &cd->taker_buy_volume.units))
        return false;
    if ((kseen & LMASK('Q')) &&
        !bn_dec_at(j, bn_slot_get(slots, ns, 'Q'), qs, 0, &cd->taker_buy_quote_volume.units))
        return false;
    if ((seen & LMASK('E')) && !bn_ms_at(j, e_off, etime, &d->ev.event_time_ns))
        return false;
    if (!bn_produce(d))
        return xr_json_fail(j, "event refused");
    return true;
}
