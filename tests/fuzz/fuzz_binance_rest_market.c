/* Fuzzes the REST market documents read with jansson or the trades reader: ticker/24hr
 * (one or a list), klines and the trades list, picked by the first byte. Nothing crashes,
 * refused input reports nothing, every event is well formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    if (size < 1)
        return 0;
    static const xr_binance_kind kinds[] = {XR_BINANCE_KIND_TICKER, XR_BINANCE_KIND_KLINE,
                                            XR_BINANCE_KIND_TRADE};
    xr_binance_kind kind = kinds[data[0] % 3];
    const xr_instrument *in = xr_instruments_by_symbol(&fz_table, "BNBUSDT", 7);
    unsigned events = 0;
    xr_decode_error perr;
    xr_err err = xr_binance_decode(&fz_codec, kind, in, (const char *)data + 1, size - 1,
                                   fz_check_event, &events, NULL, &perr);
    fz_check_result(err, events, &perr, size - 1);
    return 0;
}
