/* Fuzzes the hot path: a depthUpdate (raw or in a combined-stream envelope) decoded and
 * applied to a synced book. Whatever the bytes, nothing crashes, a refused message reports
 * no event, every reported part is well formed, and the book stays consistent
 * (xr_book_verify) and never readable in a state it could not have reached. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Alignas(16) unsigned char book_mem[2 * 256 * sizeof(xr_book_level)];

typedef struct ctx {
    unsigned events;
    xr_book *book;
} ctx;

static xr_err apply(void *p, const xr_event *ev)
{
    ctx *c = p;
    fz_check_event(&c->events, ev);
    if (ev->kind != XR_EV_BOOK_DELTA)
        abort();
    (void)xr_book_apply_delta(c->book, &ev->u.book, 1, NULL);
    return XR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    static xr_book book;
    xr_book_config cfg = {256, 0};
    if (xr_book_init(&book, book_mem, sizeof book_mem, &cfg) != XR_OK)
        abort();
    static xr_ev_book snap;
    memset(&snap, 0, sizeof snap);
    snap.first_id = snap.last_id = 100;
    snap.part = XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST;
    snap.n_bids = snap.n_asks = 1;
    snap.levels[0].price.ticks = 100;
    snap.levels[0].qty.units = 1;
    snap.levels[XR_EV_BOOK_LEVELS_MAX - 1].price.ticks = 200;
    snap.levels[XR_EV_BOOK_LEVELS_MAX - 1].qty.units = 1;
    if (xr_book_apply_snapshot(&book, &snap, 0, NULL) != XR_OK)
        abort();

    ctx c = {0, &book};
    xr_decode_error perr;
    xr_err err =
        xr_binance_decode_depth_update(&fz_codec, (const char *)data, size, apply, &c, &perr);
    fz_check_result(err, c.events, &perr, size);
    if (xr_book_verify(&book) != XR_OK)
        abort();
    if (err != XR_OK && (xr_book_update_id(&book) != 100 || xr_book_get_stats(&book)->deltas != 0))
        abort(); /* a refused message changed the book */
    return 0;
}
