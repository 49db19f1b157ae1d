/* Fuzzes exchangeInfo (jansson): nothing crashes or leaks, and every instrument added obeys
 * the table's rules (valid names, scales within range, rules never negative). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    uint32_t before = fz_table.count;
    xr_binance_exchange_info info;
    xr_decode_error perr;
    xr_err err = xr_binance_load_exchange_info(&fz_codec, (const char *)data, size, &info, &perr);
    if (err != XR_OK && (perr.reason == NULL || perr.offset > size))
        abort();
    for (uint32_t i = before; i < fz_table.count; i++) {
        const xr_instrument *in = &fz_table.items[i];
        if (in->scale.base > XR_SCALE_MAX || in->scale.quote > XR_SCALE_MAX ||
            in->scale.price > XR_SCALE_MAX || in->tick.ticks < 0 || in->lot_step.units < 0 ||
            in->qty_min.units < 0 || in->notional_min.units < 0 ||
            xr_instruments_by_symbol(&fz_table, in->symbol, strlen(in->symbol)) != in ||
            xr_instruments_by_canonical(&fz_table, in->canonical, strlen(in->canonical)) != in)
            abort();
    }
    if (err == XR_OK && info.n_limits > XR_BINANCE_LIMITS_MAX)
        abort();
    return 0;
}
