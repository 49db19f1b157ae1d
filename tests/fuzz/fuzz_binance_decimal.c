/* Differential fuzzing of the codec's number fast paths against the money parser: the input
 * (first byte: the scale) is parsed by bn_decimal and by xr_decimal_parse with Binance's
 * padding allowed, and also decoded as the price of a one-level depthUpdate, which goes
 * through the fused level parser. All three must accept the same texts with the same
 * value. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "adapters/venues/binance/codec_internal.h"
#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xr_err grab(void *ctx, const xr_event *ev)
{
    if (ev->kind != XR_EV_BOOK_DELTA || ev->u.book.n_bids != 1)
        abort();
    *(xr_i128 *)ctx = xr_ev_book_bid(&ev->u.book, 0)->price.ticks;
    return XR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    if (size < 1 || size > 80)
        return 0;
    unsigned scale = data[0] % (XR_SCALE_MAX + 1);
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    xr_i128 want = 0, got = 0;
    bool ok_ref =
        xr_decimal_parse(s, len, scale, XR_DEC_ALLOW_TRAILING_ZEROS, &want, NULL) == XR_OK;
    bool ok = bn_decimal(s, len, scale, 0, &got, NULL);
    if (ok != ok_ref || (ok && got != want))
        abort();

    /* The same text as a price at scale 8 (BTCUSDT), through the fused level parser. */
    if (memchr(s, '"', len) != NULL || memchr(s, '\\', len) != NULL)
        return 0;
    char msg[256];
    int n = snprintf(
        msg, sizeof msg,
        "{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":1,\"u\":1,\"b\":[[\"%.*s\",\"1\"]],"
        "\"a\":[]}",
        (int)len, s);
    if (n <= 0 || (size_t)n >= sizeof msg)
        return 0;
    want = 0;
    ok_ref =
        xr_decimal_parse(s, len, 8, XR_DEC_ALLOW_TRAILING_ZEROS, &want, NULL) == XR_OK && want > 0;
    got = 0;
    xr_err err = xr_binance_decode_depth_update(&fz_codec, msg, (size_t)n, grab, &got, NULL);
    /* Bytes that are not valid inside a JSON string make the message itself invalid. */
    bool json_ok = true;
    for (size_t i = 0; i < len; i++)
        json_ok = json_ok && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80;
    if (json_ok && ((err == XR_OK) != ok_ref || (ok_ref && got != want)))
        abort();
    if (!json_ok && ok_ref && err == XR_OK && got != want)
        abort();
    return 0;
}
