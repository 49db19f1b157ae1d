/*
 * core/market/event.h - the venue-neutral events every venue codec produces.
 *
 * A venue adapter turns the venue's bytes into these events and nothing else reaches the
 * engine: book snapshots and deltas (with the venue's own sequence ids), trades, tickers,
 * candles, order acknowledgements, fills, cancels, rejects and status reports, balances, and
 * errors. Every event is one fixed-size struct (`xr_event`, a tagged union), so it can be
 * copied into a ring slot without allocation.
 *
 * Money: prices are `xr_price` at the instrument's price scale and base quantities
 * `xr_amount` at the instrument's base scale, quote amounts at its quote scale (see
 * core/market/instrument.h); an event names its instrument by index in the venue's
 * instrument table, so a consumer looks the scales up there. Fees and balances name their
 * asset by code and carry their own scale, since a fee may be charged in an asset the
 * registry does not know (Binance charges BNB).
 *
 * Books: a book event carries at most XR_EV_BOOK_LEVELS_MAX levels. A larger snapshot or
 * delta is split into parts with the same sequence ids; the first part has
 * XR_EV_BOOK_PART_FIRST, the last XR_EV_BOOK_PART_LAST (a single part has both). Codecs emit
 * parts only after the whole message has been validated, so a malformed message never
 * produces a partial update. Bids fill `levels` from index 0 upwards and asks from the top
 * downwards; use xr_ev_book_bid() and xr_ev_book_ask(), which return them in the order the
 * venue sent them.
 *
 * Threading: plain data; the name functions are pure.
 * Ownership: an event owns all of its bytes (no pointers inside).
 */
#ifndef XR_MARKET_EVENT_H
#define XR_MARKET_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels one book event can carry (bids and asks together). */
#define XR_EV_BOOK_LEVELS_MAX 64
/* Longest client order id (Binance allows 36), NUL excluded. */
#define XR_CLIENT_ORDER_ID_MAX 39
/* Longest error message kept from a venue, NUL excluded; longer ones are truncated. */
#define XR_EV_ERROR_MSG_MAX 127
/* No instrument: the event is not about one pair (balances, most errors). */
#define XR_INSTRUMENT_NONE UINT32_MAX
/* An asset the registry does not know (xr_ev_balance.asset_id, xr_ev_order.fee_asset_id). */
#define XR_ASSET_ID_NONE UINT16_MAX

typedef enum xr_event_kind {
    XR_EV_NONE = 0,
    XR_EV_BOOK_SNAPSHOT = 1, /* u.book: a full book (all parts) replaces the local one */
    XR_EV_BOOK_DELTA = 2,    /* u.book: level changes; quantity zero removes a level */
    XR_EV_TRADE = 3,         /* u.trade: a public trade */
    XR_EV_TICKER = 4,        /* u.ticker: best bid/ask and/or 24 h statistics */
    XR_EV_CANDLE = 5,        /* u.candle: one OHLCV interval */
    XR_EV_ORDER_ACK = 6,     /* u.order: the venue accepted our order */
    XR_EV_ORDER_FILL = 7,    /* u.order: one execution (last_qty at last_price) */
    XR_EV_ORDER_CANCEL = 8,  /* u.order: the order was cancelled */
    XR_EV_ORDER_REJECT = 9,  /* u.order: the venue refused the order */
    XR_EV_ORDER_STATUS = 10, /* u.order: a status report (query, open orders, expiry) */
    XR_EV_BALANCE = 11,      /* u.balance: one asset's balance or balance change */
    XR_EV_ERROR = 12,        /* u.error: the venue answered with an error */
    XR_EV__COUNT
} xr_event_kind;

typedef enum xr_side {
    XR_SIDE_NONE = 0,
    XR_SIDE_BUY = 1, /* bids */
    XR_SIDE_SELL = 2 /* asks */
} xr_side;

typedef enum xr_order_type {
    XR_ORDER_TYPE_NONE = 0,
    XR_ORDER_TYPE_MARKET = 1,
    XR_ORDER_TYPE_LIMIT = 2,
    XR_ORDER_TYPE_LIMIT_MAKER = 3, /* post-only limit */
    XR_ORDER_TYPE_OTHER = 4        /* stop and take-profit variants: not routed by xroute */
} xr_order_type;

typedef enum xr_tif {
    XR_TIF_NONE = 0,
    XR_TIF_GTC = 1,
    XR_TIF_IOC = 2,
    XR_TIF_FOK = 3,
    XR_TIF_GTD = 4
} xr_tif;

/* A child order's state at the venue (DESIGN.md §2). */
typedef enum xr_order_status {
    XR_ORDER_STATUS_NONE = 0,
    XR_ORDER_PENDING = 1, /* accepted by the venue's gateway, not yet by its engine */
    XR_ORDER_OPEN = 2,
    XR_ORDER_PARTIALLY_FILLED = 3,
    XR_ORDER_FILLED = 4,
    XR_ORDER_CANCELLED = 5,
    XR_ORDER_REJECTED = 6,
    XR_ORDER_EXPIRED = 7
} xr_order_status;

/* One price level: `qty` base units rest at `price`. */
typedef struct xr_book_level {
    xr_price price;
    xr_amount qty;
} xr_book_level;

#define XR_EV_BOOK_PART_FIRST 0x1u
#define XR_EV_BOOK_PART_LAST  0x2u

typedef struct xr_ev_book {
    uint64_t first_id; /* venue sequence: first update id in this event (snapshot: its id) */
    uint64_t last_id;  /* venue sequence: last update id in this event (snapshot: its id) */
    uint16_t n_bids;
    uint16_t n_asks;
    uint8_t part; /* XR_EV_BOOK_PART_* */
    uint8_t reserved[3];
    xr_book_level levels[XR_EV_BOOK_LEVELS_MAX]; /* see xr_ev_book_bid / xr_ev_book_ask */
} xr_ev_book;

typedef struct xr_ev_trade {
    uint64_t trade_id;
    xr_price price;
    xr_amount qty;
    uint8_t taker_side; /* xr_side of the aggressor; NONE when the venue does not say */
    uint8_t reserved[7];
    int64_t trade_time_ns; /* venue's trade time, Unix epoch */
} xr_ev_trade;

/* Which xr_ev_ticker fields are set. */
#define XR_TICKER_BEST  0x1u /* bid, bid_qty, ask, ask_qty */
#define XR_TICKER_LAST  0x2u /* last, last_qty */
#define XR_TICKER_STATS 0x4u /* open, high, low, volume, quote_volume, times, trade ids */

typedef struct xr_ev_ticker {
    uint32_t fields; /* XR_TICKER_* */
    uint32_t reserved;
    uint64_t update_id; /* venue's book update id for best bid/ask; 0 when absent */
    xr_price bid, ask, last, open, high, low;
    xr_amount bid_qty, ask_qty, last_qty;
    xr_amount volume;       /* base traded over the window */
    xr_amount quote_volume; /* quote traded over the window */
    int64_t open_time_ns, close_time_ns;
    uint64_t first_trade_id, last_trade_id, trade_count;
} xr_ev_ticker;

typedef struct xr_ev_candle {
    uint32_t interval_s; /* 60 for "1m"; months count as 30 days */
    uint8_t closed;      /* 1 when the interval is final */
    uint8_t reserved[3];
    int64_t open_time_ns, close_time_ns;
    xr_price open, high, low, close;
    xr_amount volume, quote_volume, taker_buy_volume, taker_buy_quote_volume;
    uint64_t trade_count;
} xr_ev_candle;

typedef struct xr_ev_order {
    char client_order_id[XR_CLIENT_ORDER_ID_MAX + 1];   /* the order's id, ours, as sent */
    char cancel_request_id[XR_CLIENT_ORDER_ID_MAX + 1]; /* CANCEL: the cancel request's id */
    uint64_t venue_order_id;
    uint8_t side;   /* xr_side */
    uint8_t type;   /* xr_order_type */
    uint8_t tif;    /* xr_tif */
    uint8_t status; /* xr_order_status after this event */
    uint8_t maker;  /* fills: 1 when we were the maker */
    uint8_t fee_scale;
    uint16_t fee_asset_id; /* XR_ASSET_ID_NONE when the registry does not know it */
    char fee_asset[XR_ASSET_CODE_MAX + 1];
    xr_err reject;        /* REJECT: why, mapped from the venue's reason; else XR_OK */
    xr_price price;       /* limit price; zero for MARKET */
    xr_amount qty;        /* ordered base quantity */
    xr_amount cum_qty;    /* executed base quantity so far */
    xr_amount cum_quote;  /* executed quote amount so far */
    xr_amount last_qty;   /* FILL: this execution's base quantity */
    xr_price last_price;  /* FILL: this execution's price */
    xr_amount last_quote; /* FILL: this execution's quote amount, when the venue says */
    xr_amount fee;        /* FILL: fee of this execution, at fee_scale */
    uint64_t trade_id;    /* FILL: venue trade id; 0 otherwise */
    int64_t transact_time_ns;
} xr_ev_order;

typedef struct xr_ev_balance {
    char asset[XR_ASSET_CODE_MAX + 1];
    uint16_t asset_id; /* XR_ASSET_ID_NONE when the registry does not know it */
    uint8_t scale;     /* of the amounts below: the registry's, else the venue's precision */
    uint8_t is_delta;  /* 1: `delta` is a change; 0: free/locked are the balance */
    uint32_t reserved;
    xr_amount free, locked, delta;
    int64_t update_time_ns;
} xr_ev_balance;

/* xr_ev_error.flags */
#define XR_VENUE_ERR_CLOCK_DRIFT     0x1u /* our timestamp was refused: resync the clock */
#define XR_VENUE_ERR_OUTCOME_UNKNOWN 0x2u /* the request may or may not have executed */
#define XR_VENUE_ERR_RETRYABLE       0x4u /* nothing executed; resending later is safe */
#define XR_VENUE_ERR_BANNED          0x8u /* the venue banned us for a while (HTTP 418) */

typedef struct xr_ev_error {
    xr_err err;           /* the venue's error mapped to xroute's code space */
    int32_t venue_code;   /* the venue's own code, 0 when it gave none */
    uint16_t http_status; /* 0 when not from HTTP */
    uint16_t flags;       /* XR_VENUE_ERR_* */
    uint32_t reserved;
    char msg[XR_EV_ERROR_MSG_MAX + 1]; /* the venue's message, truncated, NUL-terminated */
} xr_ev_error;

typedef struct xr_event {
    uint8_t kind; /* xr_event_kind */
    uint8_t reserved;
    uint16_t venue;
    uint32_t instrument;   /* index in the venue's instrument table, or XR_INSTRUMENT_NONE */
    int64_t event_time_ns; /* the venue's event time (Unix epoch), 0 when absent */
    union {
        xr_ev_book book;
        xr_ev_trade trade;
        xr_ev_ticker ticker;
        xr_ev_candle candle;
        xr_ev_order order;
        xr_ev_balance balance;
        xr_ev_error error;
    } u;
} xr_event;

/* Receives one event from a codec. The event is valid only during the call. Returning
 * anything but XR_OK stops the codec, which then returns that code. */
typedef xr_err (*xr_event_fn)(void *ctx, const xr_event *ev);

/* Where and why a venue message could not be decoded: the byte offset into the message and
 * a static reason ("expected string", "TOO_MANY_DECIMALS", "unknown symbol"). */
typedef struct xr_decode_error {
    size_t offset;
    const char *reason;
} xr_decode_error;

/* Bid `i` (0-based, in the venue's order) of a book event; i < n_bids. */
static inline const xr_book_level *xr_ev_book_bid(const xr_ev_book *b, unsigned i)
{
    return &b->levels[i];
}

/* Ask `i` (0-based, in the venue's order) of a book event; i < n_asks. */
static inline const xr_book_level *xr_ev_book_ask(const xr_ev_book *b, unsigned i)
{
    return &b->levels[XR_EV_BOOK_LEVELS_MAX - 1 - i];
}

/* Stable lower-case names for logs and the CLI's JSON ("book_delta", "buy", "filled");
 * "unknown" outside the enum. Never NULL. */
const char *xr_event_kind_name(xr_event_kind kind);
const char *xr_side_name(xr_side side);
const char *xr_order_type_name(xr_order_type type);
const char *xr_tif_name(xr_tif tif);
const char *xr_order_status_name(xr_order_status status);

/* Zeroes `ev` and sets its kind, venue and instrument. */
void xr_event_init(xr_event *ev, xr_event_kind kind, uint16_t venue, uint32_t instrument);

#ifdef __cplusplus
}
#endif

#endif /* XR_MARKET_EVENT_H */
