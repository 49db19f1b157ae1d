/*
 * adapters/venues/binance/codec.h - Binance spot messages to venue-neutral events.
 *
 * Every function takes one whole message (a REST response body or a WebSocket text frame)
 * and reports what it holds as core/market/event.h events through a callback; nothing here
 * touches a socket, a clock or the heap on the stream and order paths. A message is
 * validated completely before the first event is reported, so a malformed message reports
 * no event at all (and never a partial book update); the call returns the error with the
 * byte offset and a reason in `*perr`.
 *
 * Which parser: WebSocket streams (depthUpdate, trade, aggTrade, 24hrTicker, bookTicker,
 * kline, the user-data events), the REST depth snapshot and the order-path REST responses
 * (orders, errors, the trades list) are read with the zero-allocation reader
 * (adapters/venues/json.h) because they arrive on stage threads; the documents fetched at
 * start-up or by an operator (exchangeInfo, account, REST ticker/24hr and klines) are read
 * with jansson. docs/venues.md explains the choice and bench/bench_book.cc measures it.
 *
 * Numbers: prices, quantities and amounts are decimal strings in Binance's JSON and are
 * parsed exactly (xr_decimal_parse, Binance's zero padding beyond the scale accepted, any
 * other digit beyond the scale refused); ids and times are JSON integers read exactly.
 * Unknown fields are ignored; a known field of the wrong type, a duplicate known field, a
 * missing required field, or an unknown symbol is an error.
 *
 * Threading: a codec may be used by one thread at a time (the GUESS flag writes to the
 * instrument table; without it the table is only read).
 * Ownership: the caller owns the codec, its registry and table, and every buffer; events
 * passed to the callback are valid only during the call.
 * Errors (returned, with `*perr` filled): XR_OK; XR_ERR_MALFORMED (syntax, types, values,
 * missing fields); XR_ERR_UNKNOWN_PAIR (a symbol not in the instrument table);
 * XR_ERR_NO_MEMORY (exchangeInfo: the table is full); or whatever the callback returned.
 */
#ifndef XR_VENUES_BINANCE_CODEC_H
#define XR_VENUES_BINANCE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/market/event.h"
#include "core/market/instrument.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Binance's own precision for assets and prices it does not otherwise declare. */
#define XR_BINANCE_DEFAULT_SCALE 8

/* Operator tools only: a symbol missing from the table is added on the fly, split at a
 * known quote asset suffix (USDT, BTC, ...) with the registry's scales or 8. */
#define XR_BINANCE_CODEC_GUESS_SYMBOLS 0x1u
/* exchangeInfo: skip pairs whose base or quote asset the registry does not know. */
#define XR_BINANCE_CODEC_KNOWN_ASSETS_ONLY 0x2u

typedef struct xr_binance_codec {
    const xr_asset_registry *assets; /* asset scales; may be NULL (Binance's precision then) */
    xr_instruments *instruments;     /* symbol lookups; exchangeInfo fills it */
    uint16_t venue;                  /* stamped on every event */
    unsigned flags;                  /* XR_BINANCE_CODEC_* */
} xr_binance_codec;

/* The message kinds of xr_binance_decode() (and of `xroute venue decode --kind`). */
typedef enum xr_binance_kind {
    XR_BINANCE_KIND_DEPTH = 0,         /* REST depth snapshot (needs `inst`) */
    XR_BINANCE_KIND_DEPTH_UPDATE = 1,  /* WS depthUpdate */
    XR_BINANCE_KIND_TRADE = 2,         /* WS trade / aggTrade, or REST trades list (`inst`) */
    XR_BINANCE_KIND_TICKER = 3,        /* WS 24hrTicker / bookTicker, or REST ticker/24hr */
    XR_BINANCE_KIND_KLINE = 4,         /* WS kline, or REST klines (`inst`) */
    XR_BINANCE_KIND_EXCHANGE_INFO = 5, /* REST exchangeInfo: fills the instrument table */
    XR_BINANCE_KIND_ORDER = 6,         /* REST order responses, one object or a list */
    XR_BINANCE_KIND_ACCOUNT = 7,       /* REST account */
    XR_BINANCE_KIND_USER_DATA = 8,     /* WS executionReport, outboundAccountPosition, ... */
    XR_BINANCE_KIND_ERROR = 9,         /* an error body {"code","msg"} */
    XR_BINANCE_KIND_STREAM = 10,       /* any WS message: dispatched on its event type */
    XR_BINANCE_KIND__COUNT
} xr_binance_kind;

/* What exchangeInfo says besides the pairs. */
typedef enum xr_binance_limit_kind {
    XR_BINANCE_LIMIT_REQUEST_WEIGHT = 0,
    XR_BINANCE_LIMIT_ORDERS = 1,
    XR_BINANCE_LIMIT_RAW_REQUESTS = 2
} xr_binance_limit_kind;

#define XR_BINANCE_LIMITS_MAX 8

typedef struct xr_binance_rate_limit {
    uint8_t kind;        /* xr_binance_limit_kind */
    uint32_t interval_s; /* the window: intervalNum x interval */
    uint32_t limit;
    char header_suffix[8]; /* "1M", "10S", "1D": names the X-MBX-* header of this window */
} xr_binance_rate_limit;

typedef struct xr_binance_exchange_info {
    int64_t server_time_ms;
    uint32_t n_limits;
    xr_binance_rate_limit limits[XR_BINANCE_LIMITS_MAX];
    uint32_t symbols_seen;    /* symbol objects in the document */
    uint32_t symbols_added;   /* instruments added to the table */
    uint32_t symbols_skipped; /* unknown assets (KNOWN_ASSETS_ONLY) or unrepresentable rules */
} xr_binance_exchange_info;

/* Decodes one message of `kind`. `inst` names the pair for the kinds whose REST response
 * does not (depth, REST trades and klines); it is ignored otherwise and may be NULL. For
 * EXCHANGE_INFO the instruments go into the codec's table and `info` (may be NULL) gets the
 * rest; no events are reported. For ERROR see xr_binance_decode_error (HTTP status 0). */
xr_err xr_binance_decode(const xr_binance_codec *c, xr_binance_kind kind, const xr_instrument *inst,
                         const char *buf, size_t len, xr_event_fn fn, void *ctx,
                         xr_binance_exchange_info *info, xr_decode_error *perr);

/* A WebSocket message from any stream: raw or combined ({"stream","data"}) market streams,
 * and user-data events (raw or in the {"subscriptionId","event"} wrapper). Subscription
 * replies and unknown event types report nothing and return XR_OK. */
xr_err xr_binance_decode_stream(const xr_binance_codec *c, const char *buf, size_t len,
                                xr_event_fn fn, void *ctx, xr_decode_error *perr);

/* The hot path: one depthUpdate message (raw or combined) to XR_EV_BOOK_DELTA part(s). */
xr_err xr_binance_decode_depth_update(const xr_binance_codec *c, const char *buf, size_t len,
                                      xr_event_fn fn, void *ctx, xr_decode_error *perr);

/* GET /api/v3/depth of `inst` to XR_EV_BOOK_SNAPSHOT part(s) with first_id = last_id =
 * lastUpdateId. */
xr_err xr_binance_decode_depth(const xr_binance_codec *c, const xr_instrument *inst,
                               const char *buf, size_t len, xr_event_fn fn, void *ctx,
                               xr_decode_error *perr);

/* A REST order response: new order (ACK, RESULT or FULL: an ORDER_ACK, then one ORDER_FILL
 * per fill), query (ORDER_STATUS), cancel (ORDER_CANCEL), or a list of orders (openOrders,
 * allOrders: ORDER_STATUS each). An error body reports XR_EV_ERROR. */
xr_err xr_binance_decode_order(const xr_binance_codec *c, const char *buf, size_t len,
                               xr_event_fn fn, void *ctx, xr_decode_error *perr);

/* An error response. Reports exactly one XR_EV_ERROR when `http_status` is not 0, even for a
 * body that is not a Binance error object (an HTML 502 page): then venue_code is 0 and the
 * error comes from the status alone. With `http_status` 0 the body must be {"code","msg"}. */
xr_err xr_binance_decode_error(const xr_binance_codec *c, int http_status, const char *buf,
                               size_t len, xr_event_fn fn, void *ctx, xr_decode_error *perr);

/* GET /api/v3/exchangeInfo: adds every pair to the codec's instrument table (pairs already
 * present are kept and not counted as added) and fills `*info` (may be NULL). */
xr_err xr_binance_load_exchange_info(const xr_binance_codec *c, const char *buf, size_t len,
                                     xr_binance_exchange_info *info, xr_decode_error *perr);

/* Maps a Binance error to xroute's code space: HTTP 429 / 418 and codes -1003, -1015 to
 * RATE_LIMITED; -2010 by its message (insufficient balance: INSUFFICIENT_FUNDS; duplicate
 * order: ALREADY_EXISTS; unknown order: NOT_FOUND; market closed: VENUE_UNAVAILABLE; else
 * REJECTED); -2011 / -2013 to NOT_FOUND (cancel restrictions: INVALID_STATE); -1021 to STALE
 * with XR_VENUE_ERR_CLOCK_DRIFT; -1121 to UNKNOWN_PAIR; -1022, -2014, -2015, -1002 and HTTP
 * 401/403 to UNAUTHORIZED; -1013 filter failures to BELOW_MIN_SIZE (notional), INVALID_AMOUNT
 * (price, lot) or LIMIT_EXCEEDED (order counts); -1111 to INVALID_AMOUNT; other -11xx to
 * INVALID_ARGUMENT; -1006, -1007 and HTTP 5xx to VENUE_UNAVAILABLE or TIMEOUT with
 * XR_VENUE_ERR_OUTCOME_UNKNOWN; -1001, -1008, -1016 to VENUE_UNAVAILABLE. `msg` may be NULL.
 * `*flags` (may be NULL) gets XR_VENUE_ERR_* bits. */
xr_err xr_binance_map_error(int http_status, int32_t code, const char *msg, size_t msg_len,
                            uint16_t *flags);

/* The instrument of a venue symbol, or NULL; with XR_BINANCE_CODEC_GUESS_SYMBOLS an unknown
 * symbol is first added (split at a known quote asset). */
const xr_instrument *xr_binance_lookup(const xr_binance_codec *c, const char *symbol, size_t len);

/* The kind named `name` as the CLI spells it ("depth", "depthUpdate", "ticker", "kline",
 * "trade", "exchangeInfo", "order", "account", "executionReport" (USER_DATA), "error",
 * "stream"), or XR_BINANCE_KIND__COUNT. */
xr_binance_kind xr_binance_kind_from_name(const char *name);

/* Binance's names for our enums, as its REST parameters spell them ("BUY", "LIMIT", "GTC");
 * NULL for a value Binance has no name for. */
const char *xr_binance_side_param(xr_side side);
const char *xr_binance_type_param(xr_order_type type);
const char *xr_binance_tif_param(xr_tif tif);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_CODEC_H */
