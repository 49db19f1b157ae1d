/*
 * adapters/venues/binance/convert.h - Binance Convert (SAPI): the three signed requests of a
 * conversion and the parsers of their answers.
 *
 * A conversion is quote, then accept, then (when the outcome is unknown) status:
 *   POST /sapi/v1/convert/getQuote     fromAsset, toAsset, fromAmount, walletType=SPOT,
 *                                      validTime   -> {"quoteId","ratio","inverseRatio",
 *                                      "validTimestamp","toAmount","fromAmount"}; Binance
 *                                      leaves quoteId out when the balance is insufficient.
 *   POST /sapi/v1/convert/acceptQuote  quoteId     -> {"orderId" (a string here),
 *                                      "createTime","orderStatus"}
 *   GET  /sapi/v1/convert/orderStatus  quoteId     -> {"orderId" (a number here),
 *                                      "orderStatus","fromAsset","fromAmount","toAsset",
 *                                      "toAmount","ratio","inverseRatio","createTime"}
 * orderStatus is PROCESS, ACCEPT_SUCCESS, SUCCESS or FAIL; only SUCCESS means the balances
 * moved, FAIL that they never will. An accept whose answer is lost is resolved by the status
 * query by the same quoteId, never by accepting again (a quote is accepted at most once at
 * the venue, and the engine never asks for a second quote for the same conversion before it
 * knows the first one's fate). Error bodies ({"code","msg"}) are decoded by
 * xr_binance_decode_error (codec.h). Request weights are Binance's UID weights (200, 500,
 * 100); these requests are not orders for the ORDERS limits.
 *
 * Amounts are read exactly at the caller's scales (the ledger's: USD/2, USDC/6, PYUSD/6):
 * trailing zeros beyond the scale are accepted, any other extra digit is an error (the
 * venue moved an amount the ledger cannot represent). Ratios are read at
 * XR_BINANCE_CONVERT_RATIO_SCALE.
 *
 * Threading: pure functions. Nothing allocates (the zero-allocation reader of
 * adapters/venues/json.h). Ownership: outputs are the caller's.
 * Errors: builders XR_OK, XR_ERR_INVALID_ARGUMENT (bad asset code, non-positive amount, bad
 * id), XR_ERR_NO_MEMORY (target too long); parsers XR_OK or XR_ERR_MALFORMED with `*perr`
 * (may be NULL) set to the byte offset and a static reason: not JSON, not an object, a
 * missing required field, a field of the wrong type, a duplicate key, an amount not exact at
 * its scale, an unknown status, an id longer than XR_BINANCE_CONVERT_ID_MAX.
 */
#ifndef XR_VENUES_BINANCE_CONVERT_H
#define XR_VENUES_BINANCE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/venues/binance/rest.h"
#include "core/market/event.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BINANCE_CONVERT_ID_MAX      32 /* quoteId / orderId text, NUL excluded */
#define XR_BINANCE_CONVERT_RATIO_SCALE 18 /* digits kept of ratio and inverseRatio */

typedef enum xr_binance_convert_status {
    XR_BINANCE_CONVERT_PROCESS = 1,        /* accepted, being processed */
    XR_BINANCE_CONVERT_ACCEPT_SUCCESS = 2, /* accepted, not yet settled */
    XR_BINANCE_CONVERT_SUCCESS = 3,        /* settled: the balances moved */
    XR_BINANCE_CONVERT_FAIL = 4            /* failed: nothing moved */
} xr_binance_convert_status;

/* getQuote's answer. quote_id "" when the venue gave no quote (insufficient balance). */
typedef struct xr_binance_convert_quote {
    char quote_id[XR_BINANCE_CONVERT_ID_MAX + 1];
    xr_amount from_amount; /* at the caller's from_scale */
    xr_amount to_amount;   /* at the caller's to_scale */
    xr_i128 ratio;         /* to per from, at XR_BINANCE_CONVERT_RATIO_SCALE */
    xr_i128 inverse_ratio; /* from per to, likewise */
    int64_t valid_until_ms;
} xr_binance_convert_quote;

/* acceptQuote's and orderStatus's answers (the assets and amounts only from orderStatus). */
typedef struct xr_binance_convert_order {
    char order_id[XR_BINANCE_CONVERT_ID_MAX + 1];
    uint8_t status; /* xr_binance_convert_status */
    uint8_t has_amounts;
    int64_t create_time_ms;
    char from_asset[XR_ASSET_CODE_MAX + 1];
    char to_asset[XR_ASSET_CODE_MAX + 1];
    xr_amount from_amount, to_amount;
    xr_i128 ratio, inverse_ratio;
} xr_binance_convert_order;

/* POST /sapi/v1/convert/getQuote for `from_amount` (at `from_scale`) of `from_asset`.
 * `valid_time` is Binance's enum ("10s", "30s", "1m", "2m"), NULL for the default. */
xr_err xr_binance_req_convert_quote(xr_binance_request *r, const xr_binance_auth *auth,
                                    int64_t now_local_ms, const char *from_asset,
                                    const char *to_asset, xr_amount from_amount,
                                    unsigned from_scale, const char *valid_time);
/* POST /sapi/v1/convert/acceptQuote. */
xr_err xr_binance_req_convert_accept(xr_binance_request *r, const xr_binance_auth *auth,
                                     int64_t now_local_ms, const char *quote_id);
/* GET /sapi/v1/convert/orderStatus by quoteId. */
xr_err xr_binance_req_convert_status(xr_binance_request *r, const xr_binance_auth *auth,
                                     int64_t now_local_ms, const char *quote_id);

xr_err xr_binance_parse_convert_quote(const char *buf, size_t len, unsigned from_scale,
                                      unsigned to_scale, xr_binance_convert_quote *out,
                                      xr_decode_error *perr);
/* acceptQuote: order_id, status, create_time_ms (has_amounts 0). */
xr_err xr_binance_parse_convert_accept(const char *buf, size_t len, xr_binance_convert_order *out,
                                       xr_decode_error *perr);
/* orderStatus: every field; the amounts at the scales given for its from and to assets. */
xr_err xr_binance_parse_convert_status(const char *buf, size_t len, unsigned from_scale,
                                       unsigned to_scale, xr_binance_convert_order *out,
                                       xr_decode_error *perr);

/* "PROCESS", ...; "UNKNOWN" outside the enum. */
const char *xr_binance_convert_status_name(xr_binance_convert_status s);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_CONVERT_H */
