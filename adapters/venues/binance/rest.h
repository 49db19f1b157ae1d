/*
 * adapters/venues/binance/rest.h - Binance spot REST requests: method, path and query, with
 * their rate-limit cost, ready for the HTTP client in adapters/net.
 *
 * Each builder fills an xr_binance_request: the method, the request target ("/api/v3/depth?
 * symbol=BTCUSDT&limit=100"), whether the X-MBX-APIKEY header must be sent, the request's
 * REQUEST_WEIGHT and whether it counts against the ORDERS limits (the caller passes these to
 * its rate limiter before sending). SIGNED requests carry timestamp (server time from the
 * tracked clock offset), recvWindow when configured, and the signature as the last
 * parameter; the body stays empty (Binance accepts every parameter in the query string).
 *
 * Orders: prices and quantities are formatted exactly from the instrument's scales
 * (trailing zeros dropped) after xr_instrument_check_order(); newClientOrderId is always the
 * caller's (it is how a resend is recognised, DESIGN.md section 4) and must match Binance's
 * ^[.A-Z:/a-z0-9_-]{1,36}$.
 *
 * Weights are Binance's documented IP weights (rest-api.md, 2024+): ping/time 1,
 * exchangeInfo 20, depth 5/25/50/250 by limit, ticker/24hr 2 (one) or 80 (all), klines 2,
 * trades 25, account 20, order 1 (+1 order), query 4, cancel 1, openOrders 6 (one) or 80.
 *
 * Threading: builders are pure apart from reading `auth`. Nothing allocates.
 * Errors: XR_OK; XR_ERR_INVALID_ARGUMENT (bad symbol, interval, limit, client order id,
 * side/type/tif combination); the codes of xr_instrument_check_order(); XR_ERR_NO_MEMORY
 * (the target would exceed XR_BINANCE_TARGET_MAX).
 */
#ifndef XR_VENUES_BINANCE_REST_H
#define XR_VENUES_BINANCE_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/venues/binance/auth.h"
#include "core/market/event.h"
#include "core/market/instrument.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BINANCE_TARGET_MAX (XR_BINANCE_QUERY_MAX + 64)

typedef enum xr_http_method {
    XR_HTTP_GET = 0,
    XR_HTTP_POST = 1,
    XR_HTTP_DELETE = 2
} xr_http_method;

typedef struct xr_binance_request {
    uint8_t method;  /* xr_http_method */
    bool api_key;    /* send the X-MBX-APIKEY header */
    bool is_order;   /* counts against the ORDERS limits */
    uint16_t weight; /* REQUEST_WEIGHT cost */
    size_t target_len;
    char target[XR_BINANCE_TARGET_MAX + 1]; /* path and query, NUL-terminated */
} xr_binance_request;

/* What SIGNED requests need. The caller owns it; the builders only read it. */
typedef struct xr_binance_auth {
    xr_binance_signer signer;
    xr_binance_clock clock;
    uint32_t recv_window_ms; /* 0: not sent (Binance's default, 5000 ms, applies) */
} xr_binance_auth;

typedef enum xr_binance_resp_type {
    XR_BINANCE_RESP_FULL = 0, /* status and fills: the default for xroute */
    XR_BINANCE_RESP_RESULT = 1,
    XR_BINANCE_RESP_ACK = 2
} xr_binance_resp_type;

typedef struct xr_binance_order_params {
    const xr_instrument *inst;
    xr_side side;
    xr_order_type type; /* MARKET, LIMIT or LIMIT_MAKER */
    xr_tif tif;         /* LIMIT: GTC, IOC or FOK; must be NONE otherwise */
    xr_price price;     /* LIMIT and LIMIT_MAKER; zero for MARKET */
    xr_amount qty;      /* base quantity */
    const char *client_order_id;
    xr_binance_resp_type resp_type;
} xr_binance_order_params;

const char *xr_http_method_name(xr_http_method m);

xr_err xr_binance_req_ping(xr_binance_request *r);
xr_err xr_binance_req_time(xr_binance_request *r);
/* `symbol` may be NULL: every pair. */
xr_err xr_binance_req_exchange_info(xr_binance_request *r, const char *symbol);
/* `limit` 1..5000 levels a side. */
xr_err xr_binance_req_depth(xr_binance_request *r, const char *symbol, unsigned limit);
/* `symbol` may be NULL: every pair (weight 80). */
xr_err xr_binance_req_ticker_24hr(xr_binance_request *r, const char *symbol);
/* `interval` as Binance names it ("1m", "1h", "1d", ...); `limit` 1..1000. */
xr_err xr_binance_req_klines(xr_binance_request *r, const char *symbol, const char *interval,
                             unsigned limit);
/* `limit` 1..1000 recent trades. */
xr_err xr_binance_req_trades(xr_binance_request *r, const char *symbol, unsigned limit);

/* SIGNED; `now_local_ms` is our wall clock, corrected by auth->clock. */
xr_err xr_binance_req_account(xr_binance_request *r, const xr_binance_auth *auth,
                              int64_t now_local_ms);
xr_err xr_binance_req_order_new(xr_binance_request *r, const xr_binance_auth *auth,
                                int64_t now_local_ms, const xr_binance_order_params *p);
xr_err xr_binance_req_order_query(xr_binance_request *r, const xr_binance_auth *auth,
                                  int64_t now_local_ms, const xr_instrument *inst,
                                  const char *client_order_id);
xr_err xr_binance_req_order_cancel(xr_binance_request *r, const xr_binance_auth *auth,
                                   int64_t now_local_ms, const xr_instrument *inst,
                                   const char *client_order_id);
/* `inst` may be NULL: every pair (weight 80). */
xr_err xr_binance_req_open_orders(xr_binance_request *r, const xr_binance_auth *auth,
                                  int64_t now_local_ms, const xr_instrument *inst);

/* True when `id` is a valid newClientOrderId (^[.A-Z:/a-z0-9_-]{1,36}$). */
bool xr_binance_client_order_id_valid(const char *id);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_REST_H */
