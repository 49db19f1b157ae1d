/*
 * core/router/order_state.h - the lifecycle of a client order as a table-driven state machine.
 *
 * An order has one status (xr_order_status) and moves between statuses only through events
 * (xr_order_event) looked up in one constant table, status x event -> next status or
 * "invalid". Nothing else in xroute changes an order's status: the router stage applies the
 * event that just happened and refuses (XR_ERR_INVALID_STATE) what the table does not allow,
 * so an impossible sequence (a fill before the reservation is durable, a second fill after
 * FILLED, a cancel of a finished order) is detected at the one place it could be applied.
 *
 *   PENDING --RESERVED--> OPEN --PARTIAL_FILL--> PARTIALLY_FILLED --FULL_FILL--> FILLED
 *                          OPEN --FULL_FILL--> FILLED
 *   PENDING --REJECTED--> FAILED;   OPEN, PARTIALLY_FILLED --NO_LIQUIDITY--> FAILED
 *   any non-final --CANCELLED--> CANCELLED;   any non-final --EXPIRED--> EXPIRED
 *
 * Statuses (the order as the bank sees it):
 *   PENDING           accepted for processing; pre-trade checks and the ledger reservation
 *                     are under way. Nothing has left xroute.
 *   OPEN              the reservation is durable; the order is working (resting in the
 *                     internal book, or child orders at venues) and nothing has filled.
 *   PARTIALLY_FILLED  some quantity filled, the remainder is still working.
 *   FILLED            final: the whole quantity filled.
 *   CANCELLED         final: cancelled by the bank or the remainder of an IOC / FOK was
 *                     cancelled; whatever filled before is booked, the rest is voided.
 *   FAILED            final: refused before anything was sent (pre-trade check, funds,
 *                     slippage, quote expiry), or no venue was left inside the price bound
 *                     (INSUFFICIENT_LIQUIDITY); fills before the failure stay booked.
 *   EXPIRED           final: a GTD order reached its expiry time (or a pending order's
 *                     quote expired before it was reserved).
 *
 * Events (what happened; each row of the table below is one event):
 *   RESERVED          the ledger reservation is durable.              PENDING -> OPEN
 *   REJECTED          a pre-trade check or the reservation refused.   PENDING -> FAILED
 *   RESTED            the order (or its remainder) entered the internal book.
 *   ROUTED            child order(s) sent to venue(s), including a re-route of a remainder.
 *   CHILD_REJECTED    a venue rejected a child order or was unavailable; the router will
 *                     re-route the remainder (or report NO_LIQUIDITY).
 *   CHILD_UNKNOWN     a child's outcome is unknown (timeout, disconnect after send); it is
 *                     resolved by querying the venue, never by guessing.
 *                     RESTED, ROUTED, CHILD_REJECTED and CHILD_UNKNOWN leave OPEN and
 *                     PARTIALLY_FILLED unchanged: they are recorded, not visible as status.
 *   PARTIAL_FILL      a fill that leaves a remainder.        OPEN, PARTIALLY_FILLED -> P_F
 *   FULL_FILL         a fill that completes the order.       OPEN, PARTIALLY_FILLED -> FILLED
 *   CANCEL_REQUESTED  the bank asked to cancel; a venue cancel may be in flight. Leaves every
 *                     non-final status unchanged; on a final order it is INVALID_STATE,
 *                     which is the answer the bank gets ("too late to cancel").
 *   CANCELLED         the cancel is confirmed (removed from the internal book, venue ack, or
 *                     an IOC / FOK remainder).                any non-final -> CANCELLED
 *   NO_LIQUIDITY      no venue left inside the bound.        OPEN, PARTIALLY_FILLED -> FAILED
 *   EXPIRED           GTD expiry (or quote expiry while pending). any non-final -> EXPIRED
 *
 * A final status accepts no event. A venue reports a child's fills before it confirms the
 * child's cancel (its streams are ordered), so a fill for a final order is an anomaly for
 * reconciliation, and the table says so by refusing it.
 *
 * Threading: every function is pure (the table is constant) and may be called from any thread.
 * Ownership: returned strings are static and live for the whole program.
 * Errors: XR_OK; XR_ERR_INVALID_STATE (the table has no transition for the pair);
 * XR_ERR_INVALID_ARGUMENT (status or event outside its enum).
 */
#ifndef XR_ROUTER_ORDER_STATE_H
#define XR_ROUTER_ORDER_STATE_H

#include <stdbool.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values are stable: they are stored with orders and may travel on the wire. */
typedef enum xr_order_status {
    XR_ORDER_PENDING = 0,
    XR_ORDER_OPEN = 1,
    XR_ORDER_PARTIALLY_FILLED = 2,
    XR_ORDER_FILLED = 3,
    XR_ORDER_CANCELLED = 4,
    XR_ORDER_FAILED = 5,
    XR_ORDER_EXPIRED = 6,
    XR_ORDER_STATUS__COUNT /* not a status: one past the last */
} xr_order_status;

/* Values are stable: they are stored in an order's history. */
typedef enum xr_order_event {
    XR_ORDER_EV_RESERVED = 0,
    XR_ORDER_EV_REJECTED = 1,
    XR_ORDER_EV_RESTED = 2,
    XR_ORDER_EV_ROUTED = 3,
    XR_ORDER_EV_CHILD_REJECTED = 4,
    XR_ORDER_EV_CHILD_UNKNOWN = 5,
    XR_ORDER_EV_PARTIAL_FILL = 6,
    XR_ORDER_EV_FULL_FILL = 7,
    XR_ORDER_EV_CANCEL_REQUESTED = 8,
    XR_ORDER_EV_CANCELLED = 9,
    XR_ORDER_EV_NO_LIQUIDITY = 10,
    XR_ORDER_EV_EXPIRED = 11,
    XR_ORDER_EVENT__COUNT /* not an event: one past the last */
} xr_order_event;

/* Looks up (from, ev) in the transition table. On XR_OK writes the next status to `*next`
 * (which may equal `from`: a recorded event that leaves the status unchanged). Returns
 * XR_ERR_INVALID_STATE when the table has no transition (every event on a final status, and
 * the pairs the comments above do not list), XR_ERR_INVALID_ARGUMENT when `from` or `ev` is
 * outside its enum; on error `*next` is untouched. `next` must not be NULL (XR_ASSERT). O(1). */
xr_err xr_order_state_next(xr_order_status from, xr_order_event ev, xr_order_status *next);

/* True for FILLED, CANCELLED, FAILED and EXPIRED; false for the others and for values
 * outside the enum. */
bool xr_order_state_is_final(xr_order_status status);

/* Stable upper-case names ("PARTIALLY_FILLED", "CANCEL_REQUESTED"); "UNKNOWN" outside the
 * enums. Never NULL. */
const char *xr_order_state_status_name(xr_order_status status);
const char *xr_order_state_event_name(xr_order_event ev);

/* Reverse lookups by stable name (exact, case-sensitive). Return XR_ORDER_STATUS__COUNT /
 * XR_ORDER_EVENT__COUNT when no value has that name (also for NULL). */
xr_order_status xr_order_state_status_from_name(const char *name);
xr_order_event xr_order_state_event_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XR_ROUTER_ORDER_STATE_H */
