/*
 * Private to the Binance codec: codec.c (helpers, dispatch, entry points), codec_market.c
 * and codec_order.c (the zero-allocation reader paths) and codec_ref.c (the jansson paths).
 *
 * All report events through one two-pass scheme: the first pass builds and validates every
 * event without reporting; when the message holds exactly one event (a book message's extra
 * levels kept in the spill), what was built is reported as is, otherwise a second pass over
 * the (now known valid) message reports the events one by one. So a malformed message
 * reports nothing.
 */
#ifndef XR_VENUES_BINANCE_CODEC_INTERNAL_H
#define XR_VENUES_BINANCE_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/venues/binance/codec.h"
#include "adapters/venues/json.h"
#include "core/base/assert.h"

#define BN_SPILL_MAX 448 /* 14 KiB of levels on the decoder's stack frame */

typedef struct bn_dec {
    const xr_binance_codec *c;
    const xr_instrument *inst; /* the pair of a REST response that does not name it */
    xr_event_fn fn;
    void *ctx;
    bool emit;           /* second pass: report events as they are built */
    bool overflow;       /* a book message needs more than one part */
    bool clobbered;      /* an event was begun after one was produced */
    uint32_t n_events;   /* events produced in this pass */
    uint32_t parts;      /* book parts reported so far (second pass) */
    uint32_t interval_s; /* REST klines: the requested interval, 0 = derive */
    xr_err err;          /* code of a failure that is not a syntax error */
    size_t err_offset;   /* jansson paths: where */
    const char *err_reason;
    xr_binance_exchange_info *info;
    xr_event ev; /* the event being built */
    /* Levels of a book message beyond what d->ev holds, kept by the first pass so that a
     * medium message (up to BN_SPILL_MAX more levels) is reported without a second pass:
     * bids from the bottom, asks from the top, in the venue's order. */
    uint32_t spill_bids, spill_asks;
    xr_book_level spill[BN_SPILL_MAX];
} bn_dec;

/* Starts building an event of `kind` in d->ev (zeroing what the kind uses). */
void bn_event_begin(bn_dec *d, xr_event_kind kind, uint32_t instrument);
/* Produces d->ev: counts it, and reports it in the second pass. False when the callback
 * refused it (d->err holds its code). */
bool bn_produce(bn_dec *d);

/* Parses Binance decimal text at `scale`: zeros beyond the scale are accepted (Binance pads
 * to 8 places), any other digit there is refused. Negative only with XR_DEC_ALLOW_NEGATIVE
 * in `flags`. */
bool bn_decimal(const char *s, size_t len, unsigned scale, unsigned flags, xr_i128 *out,
                xr_parse_error *perr);
/* Parses decimal text at `scale`, rounding by `r` when it has more places than `scale`
 * (for exchange rules: a minimum rounds up, a maximum down). */
bool bn_decimal_rounded(const char *s, size_t len, unsigned scale, xr_round r, xr_i128 *out);
/* Number of decimal places of `s` after dropping trailing zeros; -1 when not a decimal. */
int bn_decimal_places(const char *s, size_t len);

/* The instrument of a venue symbol (or NULL); with XR_BINANCE_CODEC_GUESS_SYMBOLS an unknown
 * symbol is added first. */
const xr_instrument *bn_instrument(const xr_binance_codec *c, const char *sym, size_t len);
/* An asset's scale for amounts Binance reports: the registry's, but at least Binance's own 8
 * places so that no reported digit is lost; `*id` is the registry id or XR_ASSET_ID_NONE. */
unsigned bn_asset_scale(const xr_binance_codec *c, const char *code, size_t len, uint16_t *id);

/* Binance milliseconds to nanoseconds; false when negative or out of range. */
bool bn_ms_to_ns(int64_t ms, int64_t *ns);
/* "1m" -> 60 and so on; 0 when unknown. */
uint32_t bn_interval_seconds(const char *s, size_t len);

bool bn_parse_side(const char *s, size_t len, xr_side *out);
xr_order_type bn_parse_type(const char *s, size_t len);
xr_tif bn_parse_tif(const char *s, size_t len);
bool bn_parse_status(const char *s, size_t len, xr_order_status *out);

/* jansson paths (codec_ref.c). Each returns false with d->err / err_offset / err_reason. */
bool bn_ref_exchange_info(bn_dec *d, const char *buf, size_t len);
bool bn_ref_account(bn_dec *d, const char *buf, size_t len);
bool bn_ref_ticker(bn_dec *d, const char *buf, size_t len);
bool bn_ref_klines(bn_dec *d, const char *buf, size_t len);

/* 10^0 .. 10^19 (codec.c). */
extern const uint64_t bn_pow10_u64[20];

static inline xr_i128 bn_pow10_i128(unsigned k)
{
    return k <= 19 ? (xr_i128)bn_pow10_u64[k] : (xr_i128)bn_pow10_u64[19] * bn_pow10_u64[k - 19];
}

/* The parsers of one message shape each (codec_market.c, codec_order.c); each reads one
 * value at the cursor, produces its event(s) and returns false on failure (reason in the
 * reader, code in d->err when it is not MALFORMED). */
bool bn_parse_depth_update(bn_dec *d, xr_json *j);
bool bn_parse_depth_snapshot(bn_dec *d, xr_json *j, const xr_instrument *in);
bool bn_parse_trade_ws(bn_dec *d, xr_json *j, bool agg);
bool bn_parse_trades_rest(bn_dec *d, xr_json *j);
bool bn_parse_ticker_ws(bn_dec *d, xr_json *j, bool book_ticker);
bool bn_parse_kline_ws(bn_dec *d, xr_json *j);
bool bn_parse_execution_report(bn_dec *d, xr_json *j);
bool bn_parse_order_body(bn_dec *d, xr_json *j);
bool bn_parse_error_obj(bn_dec *d, xr_json *j, int http_status);
bool bn_parse_account_position(bn_dec *d, xr_json *j);
bool bn_parse_balance_update(bn_dec *d, xr_json *j);
/* Reports a book message whose first pass kept its extra levels in the spill. */
xr_err bn_report_spilled(bn_dec *d);

/* ---- reader helpers shared by the codec files ------------------------------------------ */

static inline size_t bn_off(const xr_json *j, const xr_json_str *s)
{
    return (size_t)(s->ptr - j->base);
}

/* The bit of a one-letter key in a set of seen letters, or -1. */
static inline int bn_letter_bit(const xr_json_str *k)
{
    if (k->len != 1 || k->escaped)
        return -1;
    char c = k->ptr[0];
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return 26 + (c - 'a');
    return -1;
}

#define LBIT(c)  ((c) >= 'a' ? 26 + ((c) - 'a') : ((c) - 'A'))
#define LMASK(c) (1ull << LBIT(c))

static inline bool bn_mark_seen(xr_json *j, uint64_t *seen, int bit, const xr_json_str *key)
{
    uint64_t m = 1ull << bit;
    if (*seen & m)
        return xr_json_fail_at(j, bn_off(j, key), "duplicate field");
    *seen |= m;
    return true;
}

static inline bool bn_fail_code(bn_dec *d, xr_json *j, size_t off, const char *reason, xr_err code)
{
    if (!xr_json_failed(j))
        d->err = code;
    return xr_json_fail_at(j, off, reason);
}

static inline bool bn_dec_at(xr_json *j, const xr_json_str *s, unsigned scale, unsigned flags,
                             xr_i128 *out)
{
    if (s->escaped)
        return xr_json_fail_at(j, bn_off(j, s), "escaped number");
    xr_parse_error pe;
    if (!bn_decimal(s->ptr, s->len, scale, flags, out, &pe))
        return xr_json_fail_at(j, bn_off(j, s) + pe.offset, xr_decimal_fault_name(pe.fault));
    return true;
}

static inline bool bn_ms_at(xr_json *j, size_t off, int64_t ms, int64_t *ns)
{
    if (!bn_ms_to_ns(ms, ns))
        return xr_json_fail_at(j, off, "time out of range");
    return true;
}

static inline const xr_instrument *bn_instrument_at(bn_dec *d, xr_json *j, const xr_json_str *sym)
{
    const xr_instrument *in = NULL;
    if (!sym->escaped)
        in = bn_instrument(d->c, sym->ptr, sym->len);
    if (in == NULL)
        bn_fail_code(d, j, bn_off(j, sym), "unknown symbol", XR_ERR_UNKNOWN_PAIR);
    return in;
}

/* Copies a string value into a fixed buffer (escapes decoded); fails when it does not fit. */
static inline bool bn_copy_str(xr_json *j, const xr_json_str *s, char *buf, size_t cap)
{
    if (!s->escaped) {
        if (s->len >= cap)
            return xr_json_fail_at(j, bn_off(j, s), "string too long");
        memcpy(buf, s->ptr, s->len);
        buf[s->len] = '\0';
        return true;
    }
    if (xr_json_unescape(s, buf, cap) == SIZE_MAX)
        return xr_json_fail_at(j, bn_off(j, s), "string too long");
    return true;
}

static inline bool bn_expect_type(xr_json *j, const xr_json_str *e, const char *want)
{
    if (!xr_json_str_eq(e, want, strlen(want)))
        return xr_json_fail_at(j, bn_off(j, e), "unexpected event type");
    return true;
}

/* A reader over the same input positioned at `off`, for a value parsed after its object. */
static inline xr_json bn_reader_at(const xr_json *j, size_t off)
{
    xr_json sub;
    xr_json_init(&sub, j->base, (size_t)(j->end - j->base));
    sub.p = j->base + off;
    return sub;
}

static inline bool bn_adopt_failure(xr_json *j, const xr_json *sub)
{
    if (xr_json_failed(sub))
        return xr_json_fail_at(j, sub->err_offset, sub->err_reason);
    return true;
}

/* The offset of the next value (after whitespace). */
static inline size_t bn_value_offset(xr_json *j)
{
    (void)xr_json_peek(j);
    return xr_json_offset(j);
}

/* The first key of the object at the cursor, without moving it. False when it is not an
 * object or is empty. */
static inline bool bn_first_key(const xr_json *j, xr_json_str *key, xr_json *after)
{
    *after = *j;
    return xr_json_object_begin(after) && xr_json_object_next(after, key);
}

/* A one-letter field kept as a string slice until the instrument is known. */
typedef struct bn_slot {
    char key;
    xr_json_str v;
} bn_slot;

static inline bool bn_slot_store(xr_json *j, bn_slot *slots, size_t n, char c, bool *handled)
{
    for (size_t i = 0; i < n; i++) {
        if (slots[i].key == c) {
            *handled = true;
            return xr_json_string(j, &slots[i].v);
        }
    }
    *handled = false;
    return true;
}

static inline const xr_json_str *bn_slot_get(const bn_slot *slots, size_t n, char c)
{
    for (size_t i = 0; i < n; i++) {
        if (slots[i].key == c)
            return &slots[i].v;
    }
    XR_ASSERT(false);
    return NULL;
}

#endif /* XR_VENUES_BINANCE_CODEC_INTERNAL_H */
