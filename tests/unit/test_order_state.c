/* Order state machine: every (status, event) pair against an expectation table written out
 * here independently of the one in order_state.c, names (stable, unique, round trip),
 * arguments outside the enums, final statuses, and whole lifecycles as the router drives
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/router/order_state.h"

enum { S_PEND, S_OPEN, S_PF, S_FILL, S_CANC, S_FAIL, S_EXP, X };

/* The expected table, by columns of events in enum order:
 *  RESERVED REJECTED RESTED ROUTED CHILD_REJ CHILD_UNK PART_FILL FULL_FILL CANCEL_REQ CANCELLED
 *  NO_LIQ EXPIRED. X = refused with XR_ERR_INVALID_STATE. */
static const int expected[XR_ORDER_STATUS__COUNT][XR_ORDER_EVENT__COUNT] = {
    /* PENDING */ {S_OPEN, S_FAIL, X, X, X, X, X, X, S_PEND, S_CANC, X, S_EXP},
    /* OPEN    */
    {X, X, S_OPEN, S_OPEN, S_OPEN, S_OPEN, S_PF, S_FILL, S_OPEN, S_CANC, S_FAIL, S_EXP},
    /* P_FILL  */ {X, X, S_PF, S_PF, S_PF, S_PF, S_PF, S_FILL, S_PF, S_CANC, S_FAIL, S_EXP},
    /* FILLED  */ {X, X, X, X, X, X, X, X, X, X, X, X},
    /* CANCEL  */ {X, X, X, X, X, X, X, X, X, X, X, X},
    /* FAILED  */ {X, X, X, X, X, X, X, X, X, X, X, X},
    /* EXPIRED */ {X, X, X, X, X, X, X, X, X, X, X, X},
};

static void test_every_pair(void **state)
{
    (void)state;
    _Static_assert(XR_ORDER_STATUS__COUNT == 7 && XR_ORDER_EVENT__COUNT == 12,
                   "the expectation table covers every status and event");
    _Static_assert((int)XR_ORDER_PENDING == S_PEND && (int)XR_ORDER_EXPIRED == S_EXP,
                   "the test's status codes are the enum's");
    unsigned checked = 0, allowed = 0;
    for (int s = 0; s < XR_ORDER_STATUS__COUNT; s++) {
        for (int e = 0; e < XR_ORDER_EVENT__COUNT; e++) {
            xr_order_status next = (xr_order_status)99;
            xr_err err = xr_order_state_next((xr_order_status)s, (xr_order_event)e, &next);
            if (expected[s][e] == X) {
                if (err != XR_ERR_INVALID_STATE || next != (xr_order_status)99)
                    fail_msg("%s + %s: expected INVALID_STATE, got %s",
                             xr_order_state_status_name((xr_order_status)s),
                             xr_order_state_event_name((xr_order_event)e), xr_err_name(err));
            } else {
                if (err != XR_OK || (int)next != expected[s][e])
                    fail_msg("%s + %s: expected %s, got %s / %s",
                             xr_order_state_status_name((xr_order_status)s),
                             xr_order_state_event_name((xr_order_event)e),
                             xr_order_state_status_name((xr_order_status)expected[s][e]),
                             xr_err_name(err), xr_order_state_status_name(next));
                allowed++;
            }
            checked++;
        }
    }
    assert_int_equal(checked, 7 * 12);
    assert_int_equal(allowed, 5 + 10 + 10);
}

static void test_final_statuses(void **state)
{
    (void)state;
    for (int s = 0; s < XR_ORDER_STATUS__COUNT; s++) {
        bool final = s == S_FILL || s == S_CANC || s == S_FAIL || s == S_EXP;
        assert_int_equal(xr_order_state_is_final((xr_order_status)s), final);
        /* A status is final exactly when no event leaves it or is accepted in it. */
        bool any = false;
        for (int e = 0; e < XR_ORDER_EVENT__COUNT; e++) {
            xr_order_status next;
            any |= xr_order_state_next((xr_order_status)s, (xr_order_event)e, &next) == XR_OK;
        }
        assert_int_equal(any, !final);
    }
    assert_false(xr_order_state_is_final(XR_ORDER_STATUS__COUNT));
    assert_false(xr_order_state_is_final((xr_order_status)-1));
}

static void test_out_of_range(void **state)
{
    (void)state;
    xr_order_status next = XR_ORDER_OPEN;
    assert_int_equal(xr_order_state_next(XR_ORDER_STATUS__COUNT, XR_ORDER_EV_RESERVED, &next),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_order_state_next((xr_order_status)-1, XR_ORDER_EV_RESERVED, &next),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_order_state_next(XR_ORDER_PENDING, XR_ORDER_EVENT__COUNT, &next),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_order_state_next(XR_ORDER_PENDING, (xr_order_event)-7, &next),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(next, XR_ORDER_OPEN); /* untouched */
}

static void test_names(void **state)
{
    (void)state;
    static const char *const statuses[] = {"PENDING",   "OPEN",   "PARTIALLY_FILLED", "FILLED",
                                           "CANCELLED", "FAILED", "EXPIRED"};
    static const char *const events[] = {"RESERVED",     "REJECTED",       "RESTED",
                                         "ROUTED",       "CHILD_REJECTED", "CHILD_UNKNOWN",
                                         "PARTIAL_FILL", "FULL_FILL",      "CANCEL_REQUESTED",
                                         "CANCELLED",    "NO_LIQUIDITY",   "EXPIRED"};
    for (int s = 0; s < XR_ORDER_STATUS__COUNT; s++) {
        assert_string_equal(xr_order_state_status_name((xr_order_status)s), statuses[s]);
        assert_int_equal(xr_order_state_status_from_name(statuses[s]), s);
    }
    for (int e = 0; e < XR_ORDER_EVENT__COUNT; e++) {
        assert_string_equal(xr_order_state_event_name((xr_order_event)e), events[e]);
        assert_int_equal(xr_order_state_event_from_name(events[e]), e);
    }
    assert_string_equal(xr_order_state_status_name(XR_ORDER_STATUS__COUNT), "UNKNOWN");
    assert_string_equal(xr_order_state_event_name((xr_order_event)-1), "UNKNOWN");
    assert_int_equal(xr_order_state_status_from_name("open"), XR_ORDER_STATUS__COUNT);
    assert_int_equal(xr_order_state_status_from_name(NULL), XR_ORDER_STATUS__COUNT);
    assert_int_equal(xr_order_state_event_from_name("FILL"), XR_ORDER_EVENT__COUNT);
    assert_int_equal(xr_order_state_event_from_name(NULL), XR_ORDER_EVENT__COUNT);
}

/* Applies `n` events from PENDING; returns the status, or fails on the first refusal unless
 * it is the last event and `last_refused` says it must be refused. */
static xr_order_status run(const xr_order_event *evs, size_t n, bool last_refused)
{
    xr_order_status s = XR_ORDER_PENDING;
    for (size_t i = 0; i < n; i++) {
        xr_err err = xr_order_state_next(s, evs[i], &s);
        if (i + 1 == n && last_refused) {
            assert_int_equal(err, XR_ERR_INVALID_STATE);
        } else {
            assert_int_equal(err, XR_OK);
        }
    }
    return s;
}

static void test_lifecycles(void **state)
{
    (void)state;
    /* Routed, one venue rejects, re-routed, two partial fills, complete. */
    const xr_order_event filled[] = {XR_ORDER_EV_RESERVED,       XR_ORDER_EV_ROUTED,
                                     XR_ORDER_EV_CHILD_REJECTED, XR_ORDER_EV_ROUTED,
                                     XR_ORDER_EV_PARTIAL_FILL,   XR_ORDER_EV_CHILD_UNKNOWN,
                                     XR_ORDER_EV_PARTIAL_FILL,   XR_ORDER_EV_FULL_FILL};
    assert_int_equal(run(filled, 8, false), XR_ORDER_FILLED);
    /* A fill after FILLED is refused. */
    const xr_order_event twice[] = {XR_ORDER_EV_RESERVED, XR_ORDER_EV_FULL_FILL,
                                    XR_ORDER_EV_PARTIAL_FILL};
    run(twice, 3, true);
    /* Nothing may be routed before the reservation is durable. */
    const xr_order_event early[] = {XR_ORDER_EV_ROUTED};
    run(early, 1, true);
    /* Resting GTD, partly filled inside the book, then expires. */
    const xr_order_event gtd[] = {XR_ORDER_EV_RESERVED, XR_ORDER_EV_RESTED,
                                  XR_ORDER_EV_PARTIAL_FILL, XR_ORDER_EV_EXPIRED};
    assert_int_equal(run(gtd, 4, false), XR_ORDER_EXPIRED);
    /* Cancel requested, confirmed; a second cancel request is "too late". */
    const xr_order_event cancel[] = {XR_ORDER_EV_RESERVED, XR_ORDER_EV_RESTED,
                                     XR_ORDER_EV_CANCEL_REQUESTED, XR_ORDER_EV_CANCELLED,
                                     XR_ORDER_EV_CANCEL_REQUESTED};
    run(cancel, 5, true);
    /* Partial fill, then no venue left: FAILED with what filled kept. */
    const xr_order_event noliq[] = {XR_ORDER_EV_RESERVED, XR_ORDER_EV_ROUTED,
                                    XR_ORDER_EV_PARTIAL_FILL, XR_ORDER_EV_NO_LIQUIDITY};
    assert_int_equal(run(noliq, 4, false), XR_ORDER_FAILED);
    /* Refused at the pre-trade checks. */
    const xr_order_event rejected[] = {XR_ORDER_EV_REJECTED};
    assert_int_equal(run(rejected, 1, false), XR_ORDER_FAILED);
}

/* Every final status is reachable from PENDING, and every non-final status can still reach
 * every final one (no order can get stuck). */
static void test_reachability(void **state)
{
    (void)state;
    for (int start = 0; start < XR_ORDER_STATUS__COUNT; start++) {
        if (xr_order_state_is_final((xr_order_status)start))
            continue;
        bool seen[XR_ORDER_STATUS__COUNT] = {false};
        seen[start] = true;
        for (int round = 0; round < XR_ORDER_STATUS__COUNT; round++) {
            for (int s = 0; s < XR_ORDER_STATUS__COUNT; s++) {
                if (!seen[s])
                    continue;
                for (int e = 0; e < XR_ORDER_EVENT__COUNT; e++) {
                    xr_order_status n;
                    if (xr_order_state_next((xr_order_status)s, (xr_order_event)e, &n) == XR_OK)
                        seen[n] = true;
                }
            }
        }
        assert_true(seen[S_CANC] && seen[S_EXP] && seen[S_FAIL]);
        assert_true(seen[S_FILL]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),   cmocka_unit_test(test_final_statuses),
        cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_names),
        cmocka_unit_test(test_lifecycles),   cmocka_unit_test(test_reachability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
