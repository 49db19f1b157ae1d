/* Fuzzes the order store's record decoder (core/engine/order_store.c, docs/ledger.md "Order
 * store"): any bytes either are refused (XR_ERR_CORRUPT, XR_ERR_UNKNOWN_PAIR) or decode to an
 * order whose encoding decodes again to the same encoding (version 1 and 2 records; the
 * encoder writes version 2). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/engine_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static xr_eng_shared sh;
    static xr_eng_order o, again;
    static uint8_t rec[XR_ENG_REC_MAX], rec2[XR_ENG_REC_MAX];
    if (sh.npairs == 0) {
        sh.cfg.nvenues = 2;
        sh.npairs = 1;
        memcpy(sh.pairs[0].name, "BTC/USDT", 9);
        memcpy(sh.pairs[0].base, "BTC", 4);
        memcpy(sh.pairs[0].quote, "USDT", 5);
    }
    if (size > 2 * XR_ENG_REC_MAX)
        return 0;
    xr_err err = xr_eng_order_decode(&sh, data, (uint32_t)size, &o);
    if (err != XR_OK) {
        if (err != XR_ERR_CORRUPT && err != XR_ERR_UNKNOWN_PAIR)
            abort();
        return 0;
    }
    uint32_t n = xr_eng_order_encode(&o, rec);
    if (n < XR_ENG_REC_HEAD || n > XR_ENG_REC_MAX || rec[0] != XR_ENG_REC_VERSION)
        abort();
    if (xr_eng_order_decode(&sh, rec, n, &again) != XR_OK)
        abort();
    uint32_t n2 = xr_eng_order_encode(&again, rec2);
    if (n2 != n || memcmp(rec, rec2, n) != 0)
        abort();
    xr_engine_order_ev view;
    xr_eng_order_view(&again, &view); /* the public view of any stored order is safe */
    if (view.n_children != again.n_legs || view.n_venue_prices != again.n_bx)
        abort();
    return 0;
}
