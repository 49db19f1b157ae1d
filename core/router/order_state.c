/*
 * Order lifecycle state machine. See order_state.h for the statuses, events and rules.
 *
 * The table is indexed [status][event]. It is written out in full, one row per status and one
 * designated initializer per allowed transition, so that a missing cell is INVALID by
 * construction (the fill value below) rather than by someone remembering to write it.
 */
#include "core/router/order_state.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/assert.h"

/* Cells hold next status + 1 so that the zero a designated initializer leaves behind means
 * "invalid": forgetting a cell can only forbid a transition, never invent one. */
#define TO(s)      ((uint8_t)((s) + 1))
#define NO_TRANSIT 0u

_Static_assert(XR_ORDER_STATUS__COUNT < UINT8_MAX, "cells are bytes");

static const uint8_t transitions[XR_ORDER_STATUS__COUNT][XR_ORDER_EVENT__COUNT] = {
    [XR_ORDER_PENDING] =
        {
            [XR_ORDER_EV_RESERVED] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_REJECTED] = TO(XR_ORDER_FAILED),
            [XR_ORDER_EV_CANCEL_REQUESTED] = TO(XR_ORDER_PENDING),
            [XR_ORDER_EV_CANCELLED] = TO(XR_ORDER_CANCELLED),
            [XR_ORDER_EV_EXPIRED] = TO(XR_ORDER_EXPIRED),
        },
    [XR_ORDER_OPEN] =
        {
            [XR_ORDER_EV_RESTED] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_ROUTED] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_CHILD_REJECTED] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_CHILD_UNKNOWN] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_PARTIAL_FILL] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_FULL_FILL] = TO(XR_ORDER_FILLED),
            [XR_ORDER_EV_CANCEL_REQUESTED] = TO(XR_ORDER_OPEN),
            [XR_ORDER_EV_CANCELLED] = TO(XR_ORDER_CANCELLED),
            [XR_ORDER_EV_NO_LIQUIDITY] = TO(XR_ORDER_FAILED),
            [XR_ORDER_EV_EXPIRED] = TO(XR_ORDER_EXPIRED),
        },
    [XR_ORDER_PARTIALLY_FILLED] =
        {
            [XR_ORDER_EV_RESTED] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_ROUTED] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_CHILD_REJECTED] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_CHILD_UNKNOWN] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_PARTIAL_FILL] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_FULL_FILL] = TO(XR_ORDER_FILLED),
            [XR_ORDER_EV_CANCEL_REQUESTED] = TO(XR_ORDER_PARTIALLY_FILLED),
            [XR_ORDER_EV_CANCELLED] = TO(XR_ORDER_CANCELLED),
            [XR_ORDER_EV_NO_LIQUIDITY] = TO(XR_ORDER_FAILED),
            [XR_ORDER_EV_EXPIRED] = TO(XR_ORDER_EXPIRED),
        },
    /* Final statuses accept nothing. */
    [XR_ORDER_FILLED] = {0},
    [XR_ORDER_CANCELLED] = {0},
    [XR_ORDER_FAILED] = {0},
    [XR_ORDER_EXPIRED] = {0},
};

static const char *const status_names[XR_ORDER_STATUS__COUNT] = {
    [XR_ORDER_PENDING] = "PENDING",
    [XR_ORDER_OPEN] = "OPEN",
    [XR_ORDER_PARTIALLY_FILLED] = "PARTIALLY_FILLED",
    [XR_ORDER_FILLED] = "FILLED",
    [XR_ORDER_CANCELLED] = "CANCELLED",
    [XR_ORDER_FAILED] = "FAILED",
    [XR_ORDER_EXPIRED] = "EXPIRED",
};

static const char *const event_names[XR_ORDER_EVENT__COUNT] = {
    [XR_ORDER_EV_RESERVED] = "RESERVED",
    [XR_ORDER_EV_REJECTED] = "REJECTED",
    [XR_ORDER_EV_RESTED] = "RESTED",
    [XR_ORDER_EV_ROUTED] = "ROUTED",
    [XR_ORDER_EV_CHILD_REJECTED] = "CHILD_REJECTED",
    [XR_ORDER_EV_CHILD_UNKNOWN] = "CHILD_UNKNOWN",
    [XR_ORDER_EV_PARTIAL_FILL] = "PARTIAL_FILL",
    [XR_ORDER_EV_FULL_FILL] = "FULL_FILL",
    [XR_ORDER_EV_CANCEL_REQUESTED] = "CANCEL_REQUESTED",
    [XR_ORDER_EV_CANCELLED] = "CANCELLED",
    [XR_ORDER_EV_NO_LIQUIDITY] = "NO_LIQUIDITY",
    [XR_ORDER_EV_EXPIRED] = "EXPIRED",
};

xr_err xr_order_state_next(xr_order_status from, xr_order_event ev, xr_order_status *next)
{
    XR_ASSERT(next != NULL);
    /* Compare as unsigned: an enum may be signed, and a negative value must be refused too. */
    if ((unsigned)from >= XR_ORDER_STATUS__COUNT || (unsigned)ev >= XR_ORDER_EVENT__COUNT)
        return XR_ERR_INVALID_ARGUMENT;
    uint8_t cell = transitions[from][ev];
    if (cell == NO_TRANSIT)
        return XR_ERR_INVALID_STATE;
    XR_ASSERT(cell <= XR_ORDER_STATUS__COUNT);
    *next = (xr_order_status)(cell - 1);
    return XR_OK;
}

bool xr_order_state_is_final(xr_order_status status)
{
    return status == XR_ORDER_FILLED || status == XR_ORDER_CANCELLED || status == XR_ORDER_FAILED ||
           status == XR_ORDER_EXPIRED;
}

const char *xr_order_state_status_name(xr_order_status status)
{
    if ((unsigned)status >= XR_ORDER_STATUS__COUNT)
        return "UNKNOWN";
    return status_names[status];
}

const char *xr_order_state_event_name(xr_order_event ev)
{
    if ((unsigned)ev >= XR_ORDER_EVENT__COUNT)
        return "UNKNOWN";
    return event_names[ev];
}

xr_order_status xr_order_state_status_from_name(const char *name)
{
    if (name == NULL)
        return XR_ORDER_STATUS__COUNT;
    for (unsigned i = 0; i < XR_ORDER_STATUS__COUNT; i++) {
        if (strcmp(status_names[i], name) == 0)
            return (xr_order_status)i;
    }
    return XR_ORDER_STATUS__COUNT;
}

xr_order_event xr_order_state_event_from_name(const char *name)
{
    if (name == NULL)
        return XR_ORDER_EVENT__COUNT;
    for (unsigned i = 0; i < XR_ORDER_EVENT__COUNT; i++) {
        if (strcmp(event_names[i], name) == 0)
            return (xr_order_event)i;
    }
    return XR_ORDER_EVENT__COUNT;
}
