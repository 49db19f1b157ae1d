/*
 * Names of the venue-neutral event enums. The names are part of the CLI's JSON output, so
 * they never change once released.
 */
#include "core/market/event.h"

#include <string.h>

#include "core/base/assert.h"

_Static_assert(sizeof(xr_book_level) == 32, "a level is two 128-bit integers");
_Static_assert(XR_EV_BOOK_LEVELS_MAX <= UINT16_MAX, "level counts fit uint16_t");
_Static_assert(sizeof(xr_event) <= 2112, "events stay small enough for ring slots");
_Static_assert(_Alignof(xr_event) == 16, "events hold 128-bit integers");

#define NAME_AT(table, i)                                                                          \
    ((size_t)(i) < sizeof(table) / sizeof((table)[0]) && (table)[(i)] != NULL ? (table)[(i)]       \
                                                                              : "unknown")

const char *xr_event_kind_name(xr_event_kind kind)
{
    static const char *const names[] = {
        [XR_EV_NONE] = "none",
        [XR_EV_BOOK_SNAPSHOT] = "book_snapshot",
        [XR_EV_BOOK_DELTA] = "book_delta",
        [XR_EV_TRADE] = "trade",
        [XR_EV_TICKER] = "ticker",
        [XR_EV_CANDLE] = "candle",
        [XR_EV_ORDER_ACK] = "order_ack",
        [XR_EV_ORDER_FILL] = "order_fill",
        [XR_EV_ORDER_CANCEL] = "order_cancel",
        [XR_EV_ORDER_REJECT] = "order_reject",
        [XR_EV_ORDER_STATUS] = "order_status",
        [XR_EV_BALANCE] = "balance",
        [XR_EV_ERROR] = "error",
    };
    return NAME_AT(names, kind);
}

const char *xr_side_name(xr_side side)
{
    static const char *const names[] = {
        [XR_SIDE_NONE] = "none", [XR_SIDE_BUY] = "buy", [XR_SIDE_SELL] = "sell"};
    return NAME_AT(names, side);
}

const char *xr_order_type_name(xr_order_type type)
{
    static const char *const names[] = {
        [XR_ORDER_TYPE_NONE] = "none",   [XR_ORDER_TYPE_MARKET] = "market",
        [XR_ORDER_TYPE_LIMIT] = "limit", [XR_ORDER_TYPE_LIMIT_MAKER] = "limit_maker",
        [XR_ORDER_TYPE_OTHER] = "other",
    };
    return NAME_AT(names, type);
}

const char *xr_tif_name(xr_tif tif)
{
    static const char *const names[] = {
        [XR_TIF_NONE] = "none", [XR_TIF_GTC] = "gtc", [XR_TIF_IOC] = "ioc",
        [XR_TIF_FOK] = "fok",   [XR_TIF_GTD] = "gtd",
    };
    return NAME_AT(names, tif);
}

const char *xr_order_status_name(xr_order_status status)
{
    static const char *const names[] = {
        [XR_ORDER_STATUS_NONE] = "none",  [XR_ORDER_PENDING] = "pending",
        [XR_ORDER_OPEN] = "open",         [XR_ORDER_PARTIALLY_FILLED] = "partially_filled",
        [XR_ORDER_FILLED] = "filled",     [XR_ORDER_CANCELLED] = "cancelled",
        [XR_ORDER_REJECTED] = "rejected", [XR_ORDER_EXPIRED] = "expired",
    };
    return NAME_AT(names, status);
}

void xr_event_init(xr_event *ev, xr_event_kind kind, uint16_t venue, uint32_t instrument)
{
    XR_ASSERT(ev != NULL);
    memset(ev, 0, sizeof *ev);
    ev->kind = (uint8_t)kind;
    ev->venue = venue;
    ev->instrument = instrument;
}
