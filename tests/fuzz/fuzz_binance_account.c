/* Fuzzes the REST account document (jansson): balances only, each well formed; refused
 * input reports nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xr_err balance(void *ctx, const xr_event *ev)
{
    if (ev->kind != XR_EV_BALANCE || ev->u.balance.asset[0] == '\0')
        abort();
    return fz_check_event(ctx, ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    unsigned events = 0;
    xr_decode_error perr;
    xr_err err = xr_binance_decode(&fz_codec, XR_BINANCE_KIND_ACCOUNT, NULL, (const char *)data,
                                   size, balance, &events, NULL, &perr);
    fz_check_result(err, events, &perr, size);
    return 0;
}
