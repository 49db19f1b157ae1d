/*
 * adapters/venues/binance/session.h - one Binance spot venue session: the I/O glue between
 * the io_uring loop (adapters/net) and the I/O-free Binance modules (codec, depth sync,
 * signing, REST builders, rate limiter).
 *
 * What a session runs, all on one xr_net_loop, all non-blocking:
 *   REST      one keep-alive HTTP/1.1 connection (plain or TLS through xr_net_stream),
 *             reconnected when it closes. Requests wait in a bounded queue and go out one at
 *             a time (no pipelining: a timed-out request must not leave a later answer
 *             ambiguous); each is admitted by the rate limiter when it is sent, and every
 *             response's X-MBX-* headers and status are fed back to it.
 *   market    one WebSocket in combined-stream form (/stream?streams=s@depth../s@trade/
 *             s@ticker for every subscribed symbol) and, per symbol, an L2 book kept by the
 *             documented diff-depth sync (depth_sync.h): buffer, REST snapshot, drop by
 *             lastUpdateId, U/u continuity. A gap, an undecodable message or a disconnect
 *             restarts the sync; the book is unsynced (refuses reads) until it is live again.
 *   user      with an API key: a listenKey from POST /api/v3/userDataStream, then a second
 *             WebSocket on /ws/<listenKey> whose executionReports become order events.
 *   start-up  GET /api/v3/time (clock offset), GET /api/v3/exchangeInfo (instruments and
 *             rate limits), then the streams. A -1021 answer invalidates the clock offset,
 *             re-samples it and resends the refused request once (-1021 means "not
 *             executed", so the resend is safe).
 *
 * Commands and their outcomes (DESIGN.md section 4). Every command returns a request id at
 * once (or an error: rejected locally, nothing sent) and later ends in exactly one
 * on_result with one of three outcomes:
 *   CONFIRMED  the venue answered 2xx; its events (ORDER_ACK, ORDER_FILL, ORDER_STATUS,
 *              ORDER_CANCEL, BALANCE) were reported through on_event just before.
 *   REJECTED   the venue answered with an error that says nothing executed (4xx, including
 *              429/418 for orders, -2010, -2011, ...); its XR_EV_ERROR was reported first.
 *   UNKNOWN    the request may or may not have executed: it was sent and then the request
 *              timed out, the connection dropped, or the venue answered 5xx / -1006 /
 *              -1007. Only order new and cancel can end UNKNOWN; resolve it with
 *              xr_binance_session_order_query() by the same client order id - the session
 *              never resends a mutating request on its own.
 * Reads (query, open orders, account) that are refused by a 429 or fail in transport are
 * retried by the session after the backoff (they change nothing). A command still queued
 * (never sent) at its queue deadline ends REJECTED with XR_ERR_TIMEOUT. Orders refused by 429/418
 * end REJECTED with XR_ERR_RATE_LIMITED (the router decides whether to resend).
 *
 * Time: the session reads CLOCK_MONOTONIC for deadlines and the wall clock (corrected by
 * the tracked server offset) for signatures and rate-limit windows. Nothing sleeps: the
 * caller polls the loop and then calls xr_binance_session_run_due(), or lets
 * xr_binance_session_poll() do both.
 *
 * Threading: a session belongs to the thread that polls its loop (the loop's rule);
 *   callbacks run inside xr_net_loop_poll() / xr_binance_session_run_due() on that thread
 *   and must not destroy the session. They may issue new commands.
 * Ownership: the configuration is copied except `trust`, `assets` and `ctx`, which must
 *   outlive the session. Events and results passed to callbacks are valid only during the
 *   call. Books returned by xr_binance_session_book() are owned by the session and valid
 *   until it is destroyed; read them on the session's thread only. All memory (connection
 *   buffers, TLS engines, books, queue) is allocated by xr_binance_session_create(); nothing
 *   is allocated afterwards, apart from libwslay's 4 KiB context per WebSocket (re)connect.
 * Errors: create: XR_ERR_INVALID_ARGUMENT / XR_ERR_CONFIG (bad configuration),
 *   XR_ERR_NO_MEMORY. Commands: XR_ERR_INVALID_ARGUMENT (bad client order id, symbol, side,
 *   type), the codes of xr_instrument_check_order() (price/qty off the rules),
 *   XR_ERR_UNKNOWN_PAIR, XR_ERR_NO_MEMORY (request queue full), XR_ERR_INVALID_STATE
 *   (instruments not loaded yet, or no API key). Results carry the venue's error mapped by
 *   xr_binance_map_error(), XR_ERR_TIMEOUT or XR_ERR_VENUE_UNAVAILABLE.
 */
#ifndef XR_VENUES_BINANCE_SESSION_H
#define XR_VENUES_BINANCE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/net/loop.h"
#include "adapters/net/tls.h"
#include "adapters/venues/binance/convert.h"
#include "adapters/venues/binance/depth_sync.h"
#include "adapters/venues/binance/ratelimit.h"
#include "adapters/venues/binance/rest.h"
#include "core/market/book.h"
#include "core/market/event.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BINANCE_SESSION_SYMBOLS_MAX 16
#define XR_BINANCE_API_KEY_MAX         128
#define XR_BINANCE_SECRET_MAX          128

typedef enum xr_binance_op {
    XR_BINANCE_OP_NONE = 0,
    XR_BINANCE_OP_TIME = 1,          /* internal: clock offset sample */
    XR_BINANCE_OP_EXCHANGE_INFO = 2, /* internal: instruments and limits */
    XR_BINANCE_OP_DEPTH = 3,         /* internal: depth snapshot for the sync */
    XR_BINANCE_OP_LISTEN_KEY = 4,    /* internal: POST/PUT userDataStream */
    XR_BINANCE_OP_ORDER_NEW = 5,
    XR_BINANCE_OP_ORDER_QUERY = 6,
    XR_BINANCE_OP_ORDER_CANCEL = 7,
    XR_BINANCE_OP_OPEN_ORDERS = 8,
    XR_BINANCE_OP_ACCOUNT = 9,
    XR_BINANCE_OP_CONVERT_QUOTE = 10,  /* Convert getQuote: moves nothing */
    XR_BINANCE_OP_CONVERT_ACCEPT = 11, /* Convert acceptQuote: can end UNKNOWN */
    XR_BINANCE_OP_CONVERT_STATUS = 12  /* Convert orderStatus by quoteId */
} xr_binance_op;

typedef enum xr_binance_outcome {
    XR_BINANCE_CONFIRMED = 1,
    XR_BINANCE_REJECTED = 2,
    XR_BINANCE_UNKNOWN = 3
} xr_binance_outcome;

/* The end of one command (see Commands above). */
typedef struct xr_binance_result {
    uint64_t request_id;
    uint8_t op;      /* xr_binance_op */
    uint8_t outcome; /* xr_binance_outcome */
    uint16_t http_status;
    int32_t venue_code; /* Binance's error code, 0 when none */
    xr_err err;         /* XR_OK when CONFIRMED */
    uint32_t instrument;
    char client_order_id[XR_CLIENT_ORDER_ID_MAX + 1];
    /* Convert commands: the quote id the command was about (ACCEPT, STATUS; QUOTE: the
     * venue's new one, "" when it gave none), and on CONFIRMED the parsed answer: `quote`
     * for CONVERT_QUOTE, `order` for CONVERT_ACCEPT (id, status, time) and CONVERT_STATUS
     * (everything). */
    char quote_id[XR_BINANCE_CONVERT_ID_MAX + 1];
    xr_binance_convert_quote quote;
    xr_binance_convert_order order;
} xr_binance_result;

typedef enum xr_binance_session_state {
    XR_BINANCE_SESSION_STARTING = 0, /* clock and exchangeInfo not loaded yet */
    XR_BINANCE_SESSION_READY = 1     /* instruments known: commands accepted */
} xr_binance_session_state;

/* Every normalized event: market data (book deltas and snapshots as the venue sent them,
 * trades, tickers), order events from REST answers and the user-data stream, balances,
 * errors. Returning non-XR_OK is ignored (the session cannot refuse venue data). */
typedef void (*xr_binance_event_fn)(void *ctx, const xr_event *ev);
typedef void (*xr_binance_result_fn)(void *ctx, const xr_binance_result *r);

typedef struct xr_binance_session_config {
    const char *ip;            /* numeric address of the venue (REST and WebSocket) */
    uint16_t port;             /* REST and WebSocket port (Binance splits them; the simulator
                                  does not) */
    uint16_t ws_port;          /* 0: same as `port` */
    const char *host;          /* Host header and TLS server name ["localhost"] */
    const xr_tls_trust *trust; /* NULL: plain TCP; else TLS verified against `host` */
    const char *api_key;       /* NULL: market data only (no orders, no user stream) */
    const char *secret;
    uint32_t recv_window_ms;         /* [0: Binance's default] */
    uint16_t venue;                  /* stamped on every event */
    const xr_asset_registry *assets; /* may be NULL (Binance's 8-decimal precision) */
    uint32_t nsymbols;               /* venue symbols ("BTCUSDT") to stream and book */
    const char *symbols[XR_BINANCE_SESSION_SYMBOLS_MAX];
    const char *depth_stream;         /* diff-depth suffix ["@depth@100ms"] */
    bool trades, tickers;             /* also subscribe <s>@trade / <s>@ticker */
    uint32_t snapshot_limit;          /* GET /api/v3/depth limit [1000] */
    uint32_t book_depth;              /* levels kept per side [5000] */
    uint64_t book_stale_ns;           /* staleness bound of the books [0: never stale] */
    uint32_t sync_buffer;             /* depth events buffered while a snapshot is fetched [1024] */
    uint32_t queue_max;               /* queued REST requests [256] */
    uint64_t request_timeout_ns;      /* per request, from sending [10 s] */
    uint64_t queue_deadline_ns;       /* a command not sent this long after it was issued is
                                         REJECTED with XR_ERR_TIMEOUT (never sent) [60 s] */
    uint64_t connect_timeout_ns;      /* [5 s] */
    uint64_t reconnect_min_ns;        /* first reconnect delay, doubling [50 ms] */
    uint64_t reconnect_max_ns;        /* [5 s] */
    uint64_t clock_max_age_ns;        /* re-sample the server clock this often [5 min] */
    uint64_t listen_key_keepalive_ns; /* PUT userDataStream this often [30 min] */
    size_t max_body_bytes;            /* REST response bodies [4 MiB] */
    size_t max_ws_message_bytes;      /* [1 MiB] */
    uint64_t seed;                    /* rate-limiter jitter [1] */
    xr_binance_event_fn on_event;     /* may be NULL */
    xr_binance_result_fn on_result;   /* may be NULL */
    void *ctx;
} xr_binance_session_config;

typedef struct xr_binance_session_stats {
    uint64_t rest_connects, ws_connects, user_connects; /* connections opened */
    uint64_t rest_disconnects, ws_disconnects;          /* closed while in use */
    uint64_t requests_sent, responses;
    uint64_t timeouts;         /* requests whose answer did not arrive in time */
    uint64_t unknown_outcomes; /* results with XR_BINANCE_UNKNOWN */
    uint64_t rate_limited;     /* 429/418 answers */
    uint64_t clock_resyncs;    /* -1021 answers */
    uint64_t ws_messages, depth_updates, decode_errors;
    uint64_t resyncs;    /* depth-sync restarts, all symbols */
    uint64_t books_live; /* times a book became synced */
} xr_binance_session_stats;

typedef struct xr_binance_session xr_binance_session;

/* Fills `cfg` with the defaults in brackets (ip, port and symbols still to set). */
void xr_binance_session_config_default(xr_binance_session_config *cfg);

/* Creates a session on `loop` and starts it (the first requests are queued and the REST
 * connection opened; nothing happens until the loop is polled). XR_OK and *out;
 * XR_ERR_INVALID_ARGUMENT / XR_ERR_CONFIG; XR_ERR_NO_MEMORY; connect errors of loop.h. */
xr_err xr_binance_session_create(const xr_binance_session_config *cfg, xr_net_loop *loop,
                                 xr_binance_session **out);

/* Aborts every connection and frees the session; pending commands get no result. It polls
 * the loop (at most about a second) until its streams have closed, so other users of a
 * shared loop may see callbacks during the call. NULL is a no-op. Must not be called from
 * a callback. */
void xr_binance_session_destroy(xr_binance_session *s);

/* Runs what is due now (timeouts, reconnects, queued requests the limiter now admits,
 * clock and listenKey refreshes) and returns the nanoseconds until the next deadline
 * (UINT64_MAX: none). Call after every poll of a loop shared with other users. */
uint64_t xr_binance_session_run_due(xr_binance_session *s);

/* Polls the loop for at most `timeout_ns` (less when something is due sooner), then runs
 * what is due. XR_ERR_IO if the loop failed. */
xr_err xr_binance_session_poll(xr_binance_session *s, uint64_t timeout_ns);

xr_binance_session_state xr_binance_session_get_state(const xr_binance_session *s);
const xr_binance_session_stats *xr_binance_session_get_stats(const xr_binance_session *s);
const xr_binance_limiter *xr_binance_session_limiter(const xr_binance_session *s);
/* The instrument table (filled from exchangeInfo; empty while STARTING). */
const xr_instruments *xr_binance_session_instruments(const xr_binance_session *s);
/* The instrument of a venue symbol, or NULL. */
const xr_instrument *xr_binance_session_instrument(const xr_binance_session *s, const char *symbol);

/* The book of the `i`-th configured symbol (0 <= i < nsymbols), or NULL. Read it with
 * core/market/book.h's functions, which refuse it while it is unsynced or stale. */
const xr_book *xr_binance_session_book(const xr_binance_session *s, uint32_t i);
xr_binance_sync_state xr_binance_session_sync_state(const xr_binance_session *s, uint32_t i);
const xr_binance_sync_stats *xr_binance_session_sync_stats(const xr_binance_session *s, uint32_t i);

/* Whether the user-data stream is connected and subscribed. */
bool xr_binance_session_user_stream_live(const xr_binance_session *s);

/* ---- Commands (need READY and an API key) ------------------------------------------------
 * Each queues one signed request and sets *request_id (may be NULL); the result follows
 * through on_result. p->client_order_id is required and copied. */
xr_err xr_binance_session_order_new(xr_binance_session *s, const xr_binance_order_params *p,
                                    uint64_t *request_id);
xr_err xr_binance_session_order_query(xr_binance_session *s, const xr_instrument *inst,
                                      const char *client_order_id, uint64_t *request_id);
xr_err xr_binance_session_order_cancel(xr_binance_session *s, const xr_instrument *inst,
                                       const char *client_order_id, uint64_t *request_id);
/* `inst` NULL: every pair. */
xr_err xr_binance_session_open_orders(xr_binance_session *s, const xr_instrument *inst,
                                      uint64_t *request_id);
xr_err xr_binance_session_account(xr_binance_session *s, uint64_t *request_id);

/* Binance Convert (convert.h). Amounts at the caller's scales (`from_scale`, `to_scale`: the
 * ledger's), which the answers are read at. A quote and a status query are reads (retried by
 * the session after a transport failure or a 429); an accept is a mutation: it ends UNKNOWN
 * when its answer is lost, and is resolved with convert_status by the same quote id, never
 * by accepting again. XR_ERR_INVALID_ARGUMENT for bad assets, amounts or ids. */
xr_err xr_binance_session_convert_quote(xr_binance_session *s, const char *from_asset,
                                        const char *to_asset, xr_amount from_amount,
                                        unsigned from_scale, unsigned to_scale,
                                        uint64_t *request_id);
xr_err xr_binance_session_convert_accept(xr_binance_session *s, const char *quote_id,
                                         uint64_t *request_id);
xr_err xr_binance_session_convert_status(xr_binance_session *s, const char *quote_id,
                                         unsigned from_scale, unsigned to_scale,
                                         uint64_t *request_id);

const char *xr_binance_op_name(xr_binance_op op);
const char *xr_binance_outcome_name(xr_binance_outcome o);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_SESSION_H */
