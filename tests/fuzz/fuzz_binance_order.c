/* Fuzzes the order-path REST responses (new order ACK/RESULT/FULL with fills, query,
 * cancel, order lists, error bodies). Nothing crashes, refused input reports no event, and
 * every reported event is well formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    unsigned events = 0;
    xr_decode_error perr;
    xr_err err = xr_binance_decode_order(&fz_codec, (const char *)data, size, fz_check_event,
                                         &events, &perr);
    fz_check_result(err, events, &perr, size);
    return 0;
}
