/*
 * Shared by the Binance fuzz targets (included, not a target): a codec over the default
 * asset registry and a table with the pairs the fixtures use, and checks every reported
 * event must pass whatever the input was.
 */
#ifndef XR_FUZZ_BINANCE_COMMON_H
#define XR_FUZZ_BINANCE_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/codec.h"
#include "core/market/book.h"
#include "core/market/instrument.h"

static xr_asset_registry fz_assets;
static xr_instruments fz_table;
static _Alignas(16) unsigned char fz_table_mem[1 << 16];
static xr_binance_codec fz_codec;

static inline void fz_pair(const char *symbol, const char *base, const char *quote, unsigned bs,
                           unsigned ps)
{
    xr_instrument in;
    memset(&in, 0, sizeof in);
    strcpy(in.symbol, symbol);
    strcpy(in.base, base);
    strcpy(in.quote, quote);
    in.scale.base = (uint8_t)bs;
    in.scale.quote = 8;
    in.scale.price = (uint8_t)ps;
    if (xr_instruments_add(&fz_table, &in, NULL) != XR_OK)
        abort();
}

/* Sets the codec up once; later calls empty the table back to the fixed pairs (the
 * exchangeInfo target adds to it). */
static inline void fz_setup(void)
{
    static bool done;
    if (!done) {
        xr_assets_init_default(&fz_assets);
        if (xr_instruments_init(&fz_table, fz_table_mem, sizeof fz_table_mem, 256, 1) != XR_OK)
            abort();
        fz_codec.assets = &fz_assets;
        fz_codec.instruments = &fz_table;
        fz_codec.venue = 1;
        done = true;
    }
    xr_instruments_clear(&fz_table);
    fz_pair("BNBBTC", "BNB", "BTC", 8, 8);
    fz_pair("BTCUSDT", "BTC", "USDT", 8, 8);
    fz_pair("ETHUSDT", "ETH", "USDT", 18, 8);
    fz_pair("LTCBTC", "LTC", "BTC", 8, 8);
    fz_pair("ETHBTC", "ETH", "BTC", 18, 8);
    fz_pair("BNBUSDT", "BNB", "USDT", 8, 2); /* a coarse price scale: padding gets trimmed */
}

/* What every event must satisfy, whatever the input. */
static inline xr_err fz_check_event(void *ctx, const xr_event *ev)
{
    unsigned *count = ctx;
    (*count)++;
    if (ev->kind == XR_EV_NONE || ev->kind >= XR_EV__COUNT || ev->venue != 1)
        abort();
    if (ev->instrument != XR_INSTRUMENT_NONE && ev->instrument >= fz_table.count)
        abort();
    if (ev->event_time_ns < 0)
        abort();
    switch ((xr_event_kind)ev->kind) {
    case XR_EV_BOOK_SNAPSHOT:
    case XR_EV_BOOK_DELTA: {
        const xr_ev_book *b = &ev->u.book;
        if ((unsigned)b->n_bids + b->n_asks > XR_EV_BOOK_LEVELS_MAX || b->first_id > b->last_id ||
            b->part == 0 || b->part > 3)
            abort();
        for (unsigned i = 0; i < b->n_bids; i++)
            if (xr_ev_book_bid(b, i)->price.ticks <= 0 || xr_ev_book_bid(b, i)->qty.units < 0)
                abort();
        for (unsigned i = 0; i < b->n_asks; i++)
            if (xr_ev_book_ask(b, i)->price.ticks <= 0 || xr_ev_book_ask(b, i)->qty.units < 0)
                abort();
        break;
    }
    case XR_EV_TRADE:
        if (ev->u.trade.price.ticks < 0 || ev->u.trade.qty.units < 0)
            abort();
        break;
    case XR_EV_ORDER_ACK:
    case XR_EV_ORDER_FILL:
    case XR_EV_ORDER_CANCEL:
    case XR_EV_ORDER_REJECT:
    case XR_EV_ORDER_STATUS:
        if (memchr(ev->u.order.client_order_id, '\0', sizeof ev->u.order.client_order_id) == NULL ||
            ev->u.order.cum_qty.units < 0 || ev->u.order.qty.units < 0)
            abort();
        break;
    case XR_EV_ERROR:
        if (memchr(ev->u.error.msg, '\0', sizeof ev->u.error.msg) == NULL ||
            ev->u.error.err >= XR_ERR__COUNT)
            abort();
        break;
    default:
        break;
    }
    return XR_OK;
}

/* A failed decode reports nothing, and names a place inside the input and a reason. */
static inline void fz_check_result(xr_err err, unsigned events, const xr_decode_error *perr,
                                   size_t size)
{
    if (err != XR_OK && (events != 0 || perr->reason == NULL || perr->offset > size))
        abort();
}

#endif /* XR_FUZZ_BINANCE_COMMON_H */
