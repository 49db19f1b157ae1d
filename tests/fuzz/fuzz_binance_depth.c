/* Fuzzes the REST depth snapshot: decoded (in parts when large) and loaded into a small book
 * (so capacity and the horizon are exercised); nothing crashes, refused input reports no
 * event, and the book is consistent afterwards. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_binance_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Alignas(16) unsigned char book_mem[2 * 16 * sizeof(xr_book_level)];

typedef struct ctx {
    unsigned events;
    xr_book *book;
} ctx;

static xr_err load(void *p, const xr_event *ev)
{
    ctx *c = p;
    fz_check_event(&c->events, ev);
    if (ev->kind != XR_EV_BOOK_SNAPSHOT)
        abort();
    (void)xr_book_apply_snapshot(c->book, &ev->u.book, 1, NULL);
    return XR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_setup();
    static xr_book book;
    xr_book_config cfg = {16, 0};
    if (xr_book_init(&book, book_mem, sizeof book_mem, &cfg) != XR_OK)
        abort();
    ctx c = {0, &book};
    xr_decode_error perr;
    const xr_instrument *in = xr_instruments_by_symbol(&fz_table, "BTCUSDT", 7);
    xr_err err = xr_binance_decode_depth(&fz_codec, in, (const char *)data, size, load, &c, &perr);
    fz_check_result(err, c.events, &perr, size);
    if (xr_book_verify(&book) != XR_OK)
        abort();
    if (err != XR_OK && xr_book_get_state(&book) != XR_BOOK_UNSYNCED)
        abort();
    return 0;
}
