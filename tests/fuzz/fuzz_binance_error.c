/* Fuzzes error bodies: the first two bytes give an HTTP status (0 = a WebSocket error).
 * With a status there is always exactly one error event, whatever the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    if (size < 2)
        return 0;
    int status = ((data[0] << 8) | data[1]) % 1000;
    unsigned events = 0;
    xr_decode_error perr;
    xr_err err = xr_binance_decode_error(&fz_codec, status, (const char *)data + 2, size - 2,
                                         fz_check_event, &events, &perr);
    if (status != 0 && (err != XR_OK || events != 1))
        abort();
    fz_check_result(err, events, &perr, size - 2);
    return 0;
}
