/* Fuzzes the Binance Convert answers (getQuote, acceptQuote, orderStatus) at the ledger's
 * scales of a USD <-> USDC conversion and at Binance's 8 places. Nothing crashes; a refusal
 * names a reason and an offset inside the input; an accepted answer has NUL-terminated ids
 * and assets, a known status and no negative amount. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(xr_err err, const xr_decode_error *pe, size_t size)
{
    if (err == XR_OK)
        return;
    if (err != XR_ERR_MALFORMED || pe->reason == NULL || pe->offset > size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    static const unsigned scales[][2] = {{2, 6}, {6, 2}, {8, 8}};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        xr_decode_error pe;
        xr_binance_convert_quote q;
        xr_err err = xr_binance_parse_convert_quote(b, size, scales[i][0], scales[i][1], &q, &pe);
        check_err(err, &pe, size);
        if (err == XR_OK &&
            (strlen(q.quote_id) > XR_BINANCE_CONVERT_ID_MAX || q.from_amount.units < 0 ||
             q.to_amount.units < 0 || q.ratio < 0 || q.inverse_ratio < 0 || q.valid_until_ms < 0))
            abort();
        xr_binance_convert_order o;
        err = xr_binance_parse_convert_status(b, size, scales[i][0], scales[i][1], &o, &pe);
        check_err(err, &pe, size);
        if (err == XR_OK &&
            (o.order_id[0] == '\0' || strlen(o.order_id) > XR_BINANCE_CONVERT_ID_MAX ||
             strlen(o.from_asset) < 2 || strlen(o.to_asset) < 2 || o.from_amount.units < 0 ||
             o.to_amount.units < 0 || o.status < XR_BINANCE_CONVERT_PROCESS ||
             o.status > XR_BINANCE_CONVERT_FAIL || !o.has_amounts))
            abort();
    }
    xr_decode_error pe;
    xr_binance_convert_order o;
    xr_err err = xr_binance_parse_convert_accept(b, size, &o, &pe);
    check_err(err, &pe, size);
    if (err == XR_OK && (o.order_id[0] == '\0' || o.status < XR_BINANCE_CONVERT_PROCESS ||
                         o.status > XR_BINANCE_CONVERT_FAIL || o.has_amounts))
        abort();
    return 0;
}
