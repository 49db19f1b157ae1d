/* L2 book: init arguments, snapshot (any order, parts, duplicates), deltas (insert, update,
 * remove, parts), the sequence rule (ignore old, gap -> unsynced), crossed and stale books
 * refusing reads, capacity with its horizon, invalid events, and a model test that applies
 * tens of thousands of random deltas to the book and to a naive reference book and compares
 * them after every step (with and without capacity truncation). Prices here are plain ticks:
 * the book does not care about scales. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/market/book.h"

#define SEC 1000000000ull

typedef struct tbook {
    xr_book book;
    void *mem;
} tbook;

static void tbook_new(tbook *t, uint32_t depth, uint64_t stale_ns)
{
    xr_book_config cfg = {depth, stale_ns};
    size_t len = xr_book_footprint(&cfg);
    assert_true(len > 0);
    t->mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_non_null(t->mem);
    assert_int_equal(xr_book_init(&t->book, t->mem, len, &cfg), XR_OK);
}

static void tbook_free(tbook *t)
{
    free(t->mem);
}

/* A book event from {price, qty} pairs (0-terminated lists). */
static xr_ev_book *ev_make(uint64_t first, uint64_t last, uint8_t part, const int64_t *bids,
                           const int64_t *asks)
{
    static xr_ev_book ev;
    memset(&ev, 0, sizeof ev);
    ev.first_id = first;
    ev.last_id = last;
    ev.part = part;
    for (; bids != NULL && bids[0] != 0; bids += 2) {
        xr_book_level *l = &ev.levels[ev.n_bids++];
        l->price.ticks = bids[0];
        l->qty.units = bids[1];
    }
    for (; asks != NULL && asks[0] != 0; asks += 2) {
        xr_book_level *l = &ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - ev.n_asks++];
        l->price.ticks = asks[0];
        l->qty.units = asks[1];
    }
    return &ev;
}

#define WHOLE  (XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST)
#define L(...) ((const int64_t[]){__VA_ARGS__, 0})

static void expect_side(const xr_book *b, xr_side side, uint64_t now, const int64_t *want)
{
    xr_book_level got[64];
    uint32_t n = 0;
    assert_int_equal(xr_book_top(b, side, now, got, 64, &n), XR_OK);
    uint32_t i = 0;
    for (; want[0] != 0; want += 2, i++) {
        assert_true(i < n);
        assert_int_equal((int64_t)got[i].price.ticks, want[0]);
        assert_int_equal((int64_t)got[i].qty.units, want[1]);
    }
    assert_int_equal(n, i);
}

static void test_init_arguments(void **state)
{
    (void)state;
    xr_book b;
    _Alignas(16) static unsigned char mem[4 * 32];
    xr_book_config cfg = {2, 0};
    assert_int_equal(xr_book_footprint(&cfg), 4 * sizeof(xr_book_level));
    assert_int_equal(xr_book_init(&b, mem, sizeof mem, &cfg), XR_OK);
    assert_int_equal(xr_book_init(&b, mem, sizeof mem - 1, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_book_init(&b, mem + 8, sizeof mem - 8, &cfg), XR_ERR_INVALID_ARGUMENT);
    xr_book_config zero = {0, 0};
    assert_int_equal(xr_book_footprint(&zero), 0);
    assert_int_equal(xr_book_init(&b, mem, sizeof mem, &zero), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_book_get_state(&b), XR_BOOK_UNSYNCED);
}

static void test_snapshot_then_deltas(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;

    /* Deltas before any snapshot are refused and change nothing. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(1, 2, WHOLE, L(100, 1), NULL), 1, &o),
                     XR_ERR_INVALID_STATE);
    assert_int_equal(o, XR_BOOK_NOT_SYNCED);
    xr_book_view v;
    assert_int_equal(xr_book_read(b, XR_SIDE_BUY, 1, &v), XR_ERR_VENUE_UNAVAILABLE);

    /* Snapshot levels in no particular order. */
    assert_int_equal(
        xr_book_apply_snapshot(
            b, ev_make(10, 10, WHOLE, L(98, 3, 100, 1, 99, 2), L(103, 6, 101, 4, 102, 5)), 1, &o),
        XR_OK);
    assert_int_equal(o, XR_BOOK_APPLIED);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_SYNCED);
    assert_int_equal(xr_book_update_id(b), 10);
    expect_side(b, XR_SIDE_BUY, 1, L(100, 1, 99, 2, 98, 3));
    expect_side(b, XR_SIDE_SELL, 1, L(101, 4, 102, 5, 103, 6));
    assert_int_equal(xr_book_verify(b), XR_OK);

    /* Update, insert at the top, insert in the middle, remove, remove of an absent level. */
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(11, 12, WHOLE, L(100, 7), L(101, 0, 104, 9, 97, 0)), 2, &o),
        XR_OK);
    assert_int_equal(o, XR_BOOK_APPLIED);
    expect_side(b, XR_SIDE_BUY, 2, L(100, 7, 99, 2, 98, 3));
    expect_side(b, XR_SIDE_SELL, 2, L(102, 5, 103, 6, 104, 9));
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(13, 13, WHOLE, L(99, 0, 100, 0, 985, 0), NULL), 3, &o),
        XR_OK);
    expect_side(b, XR_SIDE_BUY, 3, L(98, 3));
    assert_int_equal(xr_book_apply_delta(b, ev_make(14, 14, WHOLE, L(99, 4, 101, 1), NULL), 4, &o),
                     XR_OK);
    expect_side(b, XR_SIDE_BUY, 4, L(101, 1, 99, 4, 98, 3));
    assert_int_equal(xr_book_update_id(b), 14);
    assert_int_equal(xr_book_verify(b), XR_OK);

    /* A view: level 0 is the best. */
    assert_int_equal(xr_book_read(b, XR_SIDE_SELL, 4, &v), XR_OK);
    assert_int_equal(v.n, 3);
    assert_int_equal((int64_t)xr_book_view_at(&v, 0)->price.ticks, 102);
    assert_int_equal((int64_t)xr_book_view_at(&v, 2)->price.ticks, 104);
    assert_int_equal(xr_book_read(b, XR_SIDE_NONE, 4, &v), XR_ERR_INVALID_ARGUMENT);
    tbook_free(&t);
}

static void test_sequence_rule(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(100, 100, WHOLE, L(10, 1), L(20, 1)), 0, &o),
                     XR_OK);
    /* Entirely old: ignored, nothing changes. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(90, 100, WHOLE, L(10, 5), NULL), 0, &o), XR_OK);
    assert_int_equal(o, XR_BOOK_IGNORED_OLD);
    expect_side(b, XR_SIDE_BUY, 0, L(10, 1));
    /* Straddling the book's id: applied (Binance's first event after a snapshot). */
    assert_int_equal(xr_book_apply_delta(b, ev_make(95, 105, WHOLE, L(10, 2), NULL), 0, &o), XR_OK);
    assert_int_equal(o, XR_BOOK_APPLIED);
    assert_int_equal(xr_book_update_id(b), 105);
    /* Continuous. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(106, 106, WHOLE, L(11, 1), NULL), 0, &o),
                     XR_OK);
    /* A gap: 107 is missing. The book drops its content and refuses reads. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(108, 110, WHOLE, L(12, 1), NULL), 0, &o),
                     XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(o, XR_BOOK_GAP);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    assert_int_equal(xr_book_check(b, 0), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(xr_book_get_stats(b)->gaps, 1);
    assert_int_equal(xr_book_verify(b), XR_OK);
    /* Reversed ids are malformed. */
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(200, 200, WHOLE, L(10, 1), L(20, 1)), 0, &o),
                     XR_OK);
    assert_int_equal(xr_book_apply_delta(b, ev_make(202, 201, WHOLE, NULL, NULL), 0, &o),
                     XR_ERR_MALFORMED);
    assert_int_equal(o, XR_BOOK_INVALID);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    tbook_free(&t);
}

static void test_parts(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;
    /* A snapshot in three parts: nothing is readable until the last. */
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(50, 50, XR_EV_BOOK_PART_FIRST, L(10, 1), NULL), 0, &o),
        XR_OK);
    assert_int_equal(o, XR_BOOK_LOADING_PART);
    assert_int_equal(xr_book_check(b, 0), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(50, 50, 0, L(9, 1), L(30, 1)), 0, &o),
                     XR_OK);
    assert_int_equal(xr_book_apply_delta(b, ev_make(51, 51, WHOLE, NULL, NULL), 0, &o),
                     XR_ERR_INVALID_STATE);
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(50, 50, XR_EV_BOOK_PART_LAST, NULL, L(20, 1)), 0, &o),
        XR_OK);
    assert_int_equal(o, XR_BOOK_APPLIED);
    expect_side(b, XR_SIDE_BUY, 0, L(10, 1, 9, 1));
    expect_side(b, XR_SIDE_SELL, 0, L(20, 1, 30, 1));

    /* A delta in two parts: reads refuse between the parts; the id moves on the last. */
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(51, 52, XR_EV_BOOK_PART_FIRST, L(10, 0), NULL), 0, &o),
        XR_OK);
    assert_int_equal(xr_book_check(b, 0), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(xr_book_update_id(b), 50);
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(51, 52, XR_EV_BOOK_PART_LAST, NULL, L(20, 0)), 0, &o),
        XR_OK);
    assert_int_equal(xr_book_update_id(b), 52);
    expect_side(b, XR_SIDE_BUY, 0, L(9, 1));
    expect_side(b, XR_SIDE_SELL, 0, L(30, 1));

    /* An old delta in parts: every part is ignored. */
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(40, 45, XR_EV_BOOK_PART_FIRST, L(9, 7), NULL), 0, &o),
        XR_OK);
    assert_int_equal(o, XR_BOOK_IGNORED_OLD);
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(40, 45, XR_EV_BOOK_PART_LAST, L(8, 7), NULL), 0, &o), XR_OK);
    assert_int_equal(o, XR_BOOK_IGNORED_OLD);
    expect_side(b, XR_SIDE_BUY, 0, L(9, 1));

    /* A continuation that does not match the open delta: unsynced. */
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(53, 54, XR_EV_BOOK_PART_FIRST, L(9, 2), NULL), 0, &o),
        XR_OK);
    assert_int_equal(
        xr_book_apply_delta(b, ev_make(55, 56, XR_EV_BOOK_PART_LAST, NULL, NULL), 0, &o),
        XR_ERR_MALFORMED);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    /* A middle snapshot part without a first: malformed. */
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(60, 60, XR_EV_BOOK_PART_LAST, L(1, 1), NULL), 0, &o),
        XR_ERR_MALFORMED);
    tbook_free(&t);
}

static void test_invalid_snapshots_and_levels(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;
    /* The same price twice. */
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(10, 1, 9, 1, 10, 2), NULL), 0, &o),
        XR_ERR_MALFORMED);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    /* A zero quantity in a snapshot, a negative price. */
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(10, 0), NULL), 0, &o),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(-10, 1), NULL), 0, &o),
                     XR_ERR_MALFORMED);
    /* A delta with a negative quantity unsyncs the book. */
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(10, 1), L(11, 1)), 0, &o),
                     XR_OK);
    assert_int_equal(xr_book_apply_delta(b, ev_make(2, 2, WHOLE, L(10, -1), NULL), 0, &o),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    assert_int_equal(xr_book_verify(b), XR_OK);
    tbook_free(&t);
}

static void test_crossed(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(10, 1), L(12, 1)), 0, &o),
                     XR_OK);
    /* A bid at the ask: crossed, reads refuse, the book stays synced. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(2, 2, WHOLE, L(12, 1), NULL), 0, &o), XR_OK);
    assert_int_equal(o, XR_BOOK_CROSSED);
    assert_true(xr_book_is_crossed(b));
    assert_int_equal(xr_book_check(b, 0), XR_ERR_VENUE_UNAVAILABLE);
    xr_book_level top[4];
    uint32_t n = 9;
    assert_int_equal(xr_book_top(b, XR_SIDE_BUY, 0, top, 4, &n), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(n, 0);
    assert_int_equal(xr_book_verify(b), XR_OK);
    /* Uncrossing makes it readable again. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(3, 3, WHOLE, NULL, L(12, 0, 13, 1)), 0, &o),
                     XR_OK);
    assert_int_equal(o, XR_BOOK_APPLIED);
    assert_int_equal(xr_book_check(b, 0), XR_OK);
    assert_int_equal(xr_book_get_stats(b)->crossed, 1);
    /* A crossed snapshot is reported as such. */
    assert_int_equal(xr_book_apply_snapshot(b, ev_make(9, 9, WHOLE, L(15, 1), L(14, 1)), 0, &o),
                     XR_OK);
    assert_int_equal(o, XR_BOOK_CROSSED);
    assert_int_equal(xr_book_check(b, 0), XR_ERR_VENUE_UNAVAILABLE);
    tbook_free(&t);
}

static void test_stale(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 100, 2 * SEC);
    xr_book *b = &t.book;
    xr_book_outcome o;
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(1, 1, WHOLE, L(10, 1), L(12, 1)), 10 * SEC, &o), XR_OK);
    assert_int_equal(xr_book_check(b, 12 * SEC), XR_OK); /* exactly the bound: still fresh */
    assert_int_equal(xr_book_check(b, 12 * SEC + 1), XR_ERR_STALE);
    xr_book_view v;
    assert_int_equal(xr_book_read(b, XR_SIDE_BUY, 13 * SEC, &v), XR_ERR_STALE);
    assert_int_equal(v.n, 0);
    /* An applied delta refreshes it; so does a touch (a live but quiet feed). */
    assert_int_equal(xr_book_apply_delta(b, ev_make(2, 2, WHOLE, L(10, 2), NULL), 13 * SEC, &o),
                     XR_OK);
    assert_int_equal(xr_book_check(b, 14 * SEC), XR_OK);
    xr_book_touch(b, 15 * SEC);
    assert_int_equal(xr_book_check(b, 17 * SEC), XR_OK);
    assert_int_equal(xr_book_check(b, 17 * SEC + 1), XR_ERR_STALE);
    /* An ignored (old) delta does not refresh it. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(1, 2, WHOLE, L(10, 3), NULL), 18 * SEC, &o),
                     XR_OK);
    assert_int_equal(o, XR_BOOK_IGNORED_OLD);
    assert_int_equal(xr_book_check(b, 18 * SEC), XR_ERR_STALE);
    /* A caller clock behind the last update is fresh, not wrapped around. */
    assert_int_equal(xr_book_check(b, 1), XR_OK);
    tbook_free(&t);
}

static void test_capacity(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 4, 0);
    xr_book *b = &t.book;
    xr_book_outcome o;
    /* Six bids best first into a depth of 4: the best four are kept, 96 becomes the horizon. */
    assert_int_equal(
        xr_book_apply_snapshot(
            b, ev_make(1, 1, WHOLE, L(100, 1, 99, 1, 98, 1, 97, 1, 96, 1, 95, 1), L(200, 1)), 0,
            &o),
        XR_OK);
    expect_side(b, XR_SIDE_BUY, 0, L(100, 1, 99, 1, 98, 1, 97, 1));
    assert_int_equal(xr_book_verify(b), XR_OK);
    /* A level beyond what is known is refused, even with room. */
    assert_int_equal(xr_book_apply_delta(b, ev_make(2, 2, WHOLE, L(99, 0, 96, 5), NULL), 0, &o),
                     XR_OK);
    expect_side(b, XR_SIDE_BUY, 0, L(100, 1, 98, 1, 97, 1));
    /* A better level when full drops the worst (a batch of 1 at this depth). */
    assert_int_equal(xr_book_apply_delta(b, ev_make(3, 3, WHOLE, L(99, 2, 101, 3), NULL), 0, &o),
                     XR_OK);
    expect_side(b, XR_SIDE_BUY, 0, L(101, 3, 100, 1, 99, 2, 98, 1));
    assert_int_equal(xr_book_apply_delta(b, ev_make(4, 4, WHOLE, L(97, 9), NULL), 0, &o), XR_OK);
    expect_side(b, XR_SIDE_BUY, 0, L(101, 3, 100, 1, 99, 2, 98, 1));
    assert_true(xr_book_get_stats(b)->levels_dropped >= 4);
    assert_int_equal(xr_book_verify(b), XR_OK);

    /* Asks the same way (horizon above). */
    assert_int_equal(
        xr_book_apply_snapshot(
            b, ev_make(10, 10, WHOLE, L(1, 1), L(10, 1, 11, 1, 12, 1, 13, 1, 14, 1)), 0, &o),
        XR_OK);
    expect_side(b, XR_SIDE_SELL, 0, L(10, 1, 11, 1, 12, 1, 13, 1));
    assert_int_equal(xr_book_apply_delta(b, ev_make(11, 11, WHOLE, NULL, L(9, 1)), 0, &o), XR_OK);
    expect_side(b, XR_SIDE_SELL, 0, L(9, 1, 10, 1, 11, 1, 12, 1));
    assert_int_equal(xr_book_apply_delta(b, ev_make(12, 12, WHOLE, NULL, L(12, 0, 13, 4)), 0, &o),
                     XR_OK);
    expect_side(b, XR_SIDE_SELL, 0, L(9, 1, 10, 1, 11, 1));
    assert_int_equal(xr_book_verify(b), XR_OK);

    /* Too many levels, not best first: which ones to keep is unknowable. */
    assert_int_equal(
        xr_book_apply_snapshot(
            b, ev_make(20, 20, WHOLE, L(95, 1, 96, 1, 97, 1, 98, 1, 99, 1), L(200, 1)), 0, &o),
        XR_ERR_NO_MEMORY);
    assert_int_equal(xr_book_get_state(b), XR_BOOK_UNSYNCED);
    /* Exactly the capacity in any order is fine. */
    assert_int_equal(
        xr_book_apply_snapshot(b, ev_make(21, 21, WHOLE, L(96, 1, 98, 1, 95, 1, 97, 1), L(200, 1)),
                               0, &o),
        XR_OK);
    expect_side(b, XR_SIDE_BUY, 0, L(98, 1, 97, 1, 96, 1, 95, 1));
    tbook_free(&t);
}

/* ---- model test ----------------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The reference: unsorted arrays, linear search, no capacity. */
#define REF_MAX 4096
typedef struct ref_side {
    int64_t price[REF_MAX], qty[REF_MAX];
    int n;
} ref_side;

static void ref_set(ref_side *s, int64_t price, int64_t qty)
{
    for (int i = 0; i < s->n; i++) {
        if (s->price[i] == price) {
            if (qty == 0) {
                s->price[i] = s->price[s->n - 1];
                s->qty[i] = s->qty[s->n - 1];
                s->n--;
            } else {
                s->qty[i] = qty;
            }
            return;
        }
    }
    if (qty != 0) {
        assert_true(s->n < REF_MAX);
        s->price[s->n] = price;
        s->qty[s->n] = qty;
        s->n++;
    }
}

typedef struct lvl {
    int64_t price, qty;
} lvl;

static int cmp_bid(const void *a, const void *b)
{
    int64_t pa = ((const lvl *)a)->price, pb = ((const lvl *)b)->price;
    return pa < pb ? 1 : pa > pb ? -1 : 0;
}

static int cmp_ask(const void *a, const void *b)
{
    int64_t pa = ((const lvl *)a)->price, pb = ((const lvl *)b)->price;
    return pa > pb ? 1 : pa < pb ? -1 : 0;
}

/* The book must hold exactly the reference's levels, or with a horizon exactly those
 * strictly better than it. */
static void compare(const xr_book *b, const ref_side *bids, const ref_side *asks)
{
    static lvl want[REF_MAX];
    static xr_book_level got[REF_MAX];
    assert_int_equal(xr_book_verify(b), XR_OK);
    for (int side = 0; side < 2; side++) {
        const xr_book_side *bs = side == 0 ? &b->bids : &b->asks;
        const ref_side *rs = side == 0 ? bids : asks;
        int n = 0;
        for (int i = 0; i < rs->n; i++) {
            xr_i128 key = side == 0 ? rs->price[i] : -rs->price[i];
            if (bs->truncated && key <= bs->horizon_key)
                continue;
            want[n].price = rs->price[i];
            want[n].qty = rs->qty[i];
            n++;
        }
        qsort(want, (size_t)n, sizeof want[0], side == 0 ? cmp_bid : cmp_ask);
        uint32_t gn = 0;
        assert_int_equal(
            xr_book_top(b, side == 0 ? XR_SIDE_BUY : XR_SIDE_SELL, 0, got, REF_MAX, &gn), XR_OK);
        assert_int_equal(gn, (uint32_t)n);
        for (int i = 0; i < n; i++) {
            assert_int_equal((int64_t)got[i].price.ticks, want[i].price);
            assert_int_equal((int64_t)got[i].qty.units, want[i].qty);
        }
    }
}

static xr_book_level *ev_add(xr_ev_book *ev, bool bid)
{
    return bid ? &ev->levels[ev->n_bids++] : &ev->levels[XR_EV_BOOK_LEVELS_MAX - 1 - ev->n_asks++];
}

/* Applies `steps` random deltas to the book and to the reference, comparing after each. */
static void run_model(uint32_t depth, int steps, uint64_t seed)
{
    tbook t;
    tbook_new(&t, depth, 0);
    xr_book *b = &t.book;
    static ref_side bids, asks;
    static xr_ev_book ev;
    memset(&bids, 0, sizeof bids);
    memset(&asks, 0, sizeof asks);
    rng r = {seed};
    xr_book_outcome o;

    /* A snapshot of 60 levels a side in 60 parts, best first as Binance sends it. Bids stay
     * below 10000 and asks above, so the random walk never crosses. */
    for (int i = 0; i < 60; i++) {
        memset(&ev, 0, sizeof ev);
        ev.first_id = ev.last_id = 1000;
        ev.part =
            (uint8_t)((i == 0 ? XR_EV_BOOK_PART_FIRST : 0) | (i == 59 ? XR_EV_BOOK_PART_LAST : 0));
        xr_book_level *l = ev_add(&ev, true);
        l->price.ticks = 9999 - 2 * i;
        l->qty.units = 1 + (int64_t)(rng_next(&r) % 1000);
        ref_set(&bids, (int64_t)l->price.ticks, (int64_t)l->qty.units);
        l = ev_add(&ev, false);
        l->price.ticks = 10001 + 2 * i;
        l->qty.units = 1 + (int64_t)(rng_next(&r) % 1000);
        ref_set(&asks, (int64_t)l->price.ticks, (int64_t)l->qty.units);
        assert_int_equal(xr_book_apply_snapshot(b, &ev, 0, &o), XR_OK);
    }
    assert_int_equal(o, XR_BOOK_APPLIED);
    compare(b, &bids, &asks);

    uint64_t id = 1000;
    for (int step = 0; step < steps; step++) {
        if (rng_next(&r) % 100 < 3) {
            /* A re-sent old update: ignored, nothing changes. */
            memset(&ev, 0, sizeof ev);
            ev.first_id = id - 5;
            ev.last_id = id;
            ev.part = WHOLE;
            xr_book_level *l = ev_add(&ev, true);
            l->price.ticks = 9999;
            l->qty.units = 123456;
            assert_int_equal(xr_book_apply_delta(b, &ev, 0, &o), XR_OK);
            assert_int_equal(o, XR_BOOK_IGNORED_OLD);
            compare(b, &bids, &asks);
            continue;
        }
        /* 1..40 level changes, concentrated near the top as real updates are, sometimes the
         * same price twice, in one part or split in two. */
        unsigned n = 1 + (unsigned)(rng_next(&r) % 40);
        unsigned cut = n > 1 && rng_next(&r) % 4 == 0 ? 1 + (unsigned)(rng_next(&r) % (n - 1)) : n;
        uint64_t first = id + 1, last = id + 1 + rng_next(&r) % 3;
        memset(&ev, 0, sizeof ev);
        ev.first_id = first;
        ev.last_id = last;
        ev.part = cut < n ? XR_EV_BOOK_PART_FIRST : WHOLE;
        for (unsigned i = 0; i < n; i++) {
            if (i == cut) {
                assert_int_equal(xr_book_apply_delta(b, &ev, 0, &o), XR_OK);
                memset(&ev, 0, sizeof ev);
                ev.first_id = first;
                ev.last_id = last;
                ev.part = XR_EV_BOOK_PART_LAST;
            }
            bool bid = rng_next(&r) % 2 == 0;
            uint64_t dist = rng_next(&r) % 8 == 0 ? rng_next(&r) % 400 : rng_next(&r) % 30;
            int64_t price = bid ? 9999 - (int64_t)dist : 10001 + (int64_t)dist;
            int64_t qty = rng_next(&r) % 3 == 0 ? 0 : 1 + (int64_t)(rng_next(&r) % 100000);
            xr_book_level *l = ev_add(&ev, bid);
            l->price.ticks = price;
            l->qty.units = qty;
            /* Within one side the book applies changes in order, as the reference does;
             * the two sides are independent. */
            ref_set(bid ? &bids : &asks, price, qty);
        }
        assert_int_equal(xr_book_apply_delta(b, &ev, 0, &o), XR_OK);
        assert_int_equal(o, XR_BOOK_APPLIED);
        assert_int_equal(xr_book_update_id(b), last);
        id = last;
        compare(b, &bids, &asks);
    }
    assert_int_equal(xr_book_get_stats(b)->gaps, 0);
    tbook_free(&t);
}

static void test_model_unbounded(void **state)
{
    (void)state;
    run_model(4096, 20000, 0x626f6f6b); /* room for every price: exact equality */
}

static void test_model_truncated(void **state)
{
    (void)state;
    run_model(16, 20000, 0x7472756e); /* depth 16: the horizon is exercised all the time */
}

/* xr_book_read_both: the two views of xr_book_read after one check, or its error. */
static void test_read_both(void **state)
{
    (void)state;
    tbook t;
    tbook_new(&t, 8, 10 * SEC);
    xr_book_view b, a;
    assert_int_equal(xr_book_read_both(&t.book, 1, &b, &a), XR_ERR_VENUE_UNAVAILABLE);
    assert_null(b.best);
    assert_int_equal(b.n + a.n, 0);
    assert_int_equal(xr_book_apply_snapshot(
                         &t.book, ev_make(5, 5, WHOLE, L(100, 1, 99, 2), L(101, 3)), SEC, NULL),
                     XR_OK);
    assert_int_equal(xr_book_read_both(&t.book, 2 * SEC, &b, &a), XR_OK);
    assert_int_equal(b.n, 2);
    assert_int_equal(a.n, 1);
    assert_int_equal((int64_t)xr_book_view_at(&b, 0)->price.ticks, 100);
    assert_int_equal((int64_t)xr_book_view_at(&b, 1)->price.ticks, 99);
    assert_int_equal((int64_t)xr_book_view_at(&a, 0)->qty.units, 3);
    /* 10 s after the last update is still fresh; a moment later it is stale. */
    assert_int_equal(xr_book_read_both(&t.book, 11 * SEC, &b, &a), XR_OK);
    assert_int_equal(xr_book_read_both(&t.book, 11 * SEC + 1, &b, &a), XR_ERR_STALE);
    assert_int_equal(b.n + a.n, 0);
    assert_null(a.best);
    tbook_free(&t);
}

/* Levels from {price, qty} pairs (0-terminated), best first as given; returns the count. */
static uint32_t lv_make(xr_book_level *out, const int64_t *pq)
{
    uint32_t n = 0;
    for (; pq[0] != 0; pq += 2, n++)
        out[n] = (xr_book_level){{pq[0]}, {pq[1]}};
    return n;
}

/* xr_book_levels_diff by hand: removals first (qty 0), then new or changed levels. */
static void test_levels_diff(void **state)
{
    (void)state;
    xr_book_level old[8], cur[8], out[8];
    uint32_t n_old, n_cur, n = 99;

    /* Bids (descending): 100 removed, 98 changed 5 -> 7, 97 kept, 95 added, 99 kept. */
    n_old = lv_make(old, L(100, 1, 99, 2, 98, 5, 97, 3));
    n_cur = lv_make(cur, L(99, 2, 98, 7, 97, 3, 95, 4));
    assert_int_equal(xr_book_levels_diff(XR_SIDE_BUY, old, n_old, cur, n_cur, out, 8, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal((int64_t)out[0].price.ticks, 100);
    assert_int_equal((int64_t)out[0].qty.units, 0);
    /* The two sets, in either order. */
    bool s98 = false, s95 = false;
    for (uint32_t k = 1; k < 3; k++) {
        s98 |= out[k].price.ticks == 98 && out[k].qty.units == 7;
        s95 |= out[k].price.ticks == 95 && out[k].qty.units == 4;
    }
    assert_true(s98 && s95);

    /* Asks (ascending): a new best 10 and the old worst 13 gone. */
    n_old = lv_make(old, L(11, 1, 12, 1, 13, 1));
    n_cur = lv_make(cur, L(10, 9, 11, 1, 12, 1));
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, old, n_old, cur, n_cur, out, 8, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_int_equal((int64_t)out[0].price.ticks, 13);
    assert_int_equal((int64_t)out[0].qty.units, 0);
    assert_int_equal((int64_t)out[1].price.ticks, 10);
    assert_int_equal((int64_t)out[1].qty.units, 9);

    /* Nothing changed; from nothing; to nothing. */
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, old, n_old, old, n_old, out, 8, &n), XR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, NULL, 0, cur, n_cur, out, 8, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, old, n_old, NULL, 0, out, 8, &n), XR_OK);
    assert_int_equal(n, 3);
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal((int64_t)out[k].qty.units, 0);

    /* Every level replaced (3 removals + 3 sets) fills exactly 6; 5 is too few. */
    n_cur = lv_make(cur, L(20, 1, 21, 1, 22, 1));
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, old, n_old, cur, n_cur, out, 6, &n), XR_OK);
    assert_int_equal(n, 6);
    for (uint32_t k = 0; k < 3; k++)
        assert_int_equal((int64_t)out[k].qty.units, 0);
    for (uint32_t k = 3; k < 6; k++)
        assert_true(out[k].price.ticks >= 20 && out[k].qty.units == 1);
    n = 99;
    assert_int_equal(xr_book_levels_diff(XR_SIDE_SELL, old, n_old, cur, n_cur, out, 5, &n),
                     XR_ERR_NO_MEMORY);
    assert_int_equal(n, 0);
    assert_int_equal(xr_book_levels_diff((xr_side)7, old, n_old, cur, n_cur, out, 8, &n),
                     XR_ERR_INVALID_ARGUMENT);
}

/* A copy kept by diffs equals the source's top levels: a source book takes random deltas, a
 * copy (depth_max = the copied depth, as the engine's pricing stage) takes only the diffs of
 * the top levels between two steps, and after each step the copy's levels are exactly the
 * source's top (read independently with xr_book_top). */
static void test_levels_diff_copy(void **state)
{
    (void)state;
    enum { TOP = 8 };
    tbook src, copy;
    tbook_new(&src, 64, 0);
    tbook_new(&copy, TOP, 0);
    uint64_t id = 10;
    assert_int_equal(
        xr_book_apply_snapshot(&src.book, ev_make(id, id, WHOLE, L(100, 1), L(200, 1)), 1, NULL),
        XR_OK);
    assert_int_equal(
        xr_book_apply_snapshot(&copy.book, ev_make(id, id, WHOLE, L(100, 1), L(200, 1)), 1, NULL),
        XR_OK);
    xr_book_level prev[2][TOP], top[2][TOP], d[2 * TOP];
    uint32_t n_prev[2] = {0, 0}, n_top[2];
    for (int s = 0; s < 2; s++)
        assert_int_equal(xr_book_top(&src.book, s == 0 ? XR_SIDE_BUY : XR_SIDE_SELL, 1, prev[s],
                                     TOP, &n_prev[s]),
                         XR_OK);
    uint64_t x = 7;
    int deltas = 0, too_big = 0;
    for (int step = 0; step < 3000; step++) {
        /* 1-4 random changes per side near the top: bids 80..100, asks 200..220. */
        static xr_ev_book ev;
        memset(&ev, 0, sizeof ev);
        ev.first_id = ev.last_id = ++id;
        ev.part = WHOLE;
        for (int s = 0; s < 2; s++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int k = 1 + (int)((x >> 40) % 4);
            for (int c = 0; c < k; c++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                int64_t px = (s == 0 ? 80 : 200) + (int64_t)((x >> 33) % 21);
                int64_t q = (x >> 20) % 3 == 0 ? 0 : 1 + (int64_t)((x >> 10) % 50);
                xr_book_level *l = s == 0 ? &ev.levels[ev.n_bids++]
                                          : &ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - ev.n_asks++];
                *l = (xr_book_level){{px}, {q}};
            }
        }
        assert_int_equal(xr_book_apply_delta(&src.book, &ev, 1, NULL), XR_OK);
        if (xr_book_check(&src.book, 1) != XR_OK)
            continue; /* crossed: the engine sends no delta then */
        static xr_ev_book dev;
        memset(&dev, 0, sizeof dev);
        dev.first_id = dev.last_id = id;
        dev.part = WHOLE;
        bool fits = true;
        for (int s = 0; s < 2 && fits; s++) {
            xr_side side = s == 0 ? XR_SIDE_BUY : XR_SIDE_SELL;
            assert_int_equal(xr_book_top(&src.book, side, 1, top[s], TOP, &n_top[s]), XR_OK);
            uint32_t nd = 0;
            xr_err e = xr_book_levels_diff(side, prev[s], n_prev[s], top[s], n_top[s], d, TOP, &nd);
            if (e == XR_ERR_NO_MEMORY) {
                fits = false;
                break;
            }
            assert_int_equal(e, XR_OK);
            for (uint32_t k = 0; k < nd; k++) {
                if (s == 0)
                    dev.levels[dev.n_bids++] = d[k];
                else
                    dev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - dev.n_asks++] = d[k];
            }
        }
        if (fits) {
            deltas++;
            assert_int_equal(xr_book_apply_delta(&copy.book, &dev, 1, NULL), XR_OK);
        } else {
            too_big++;
            /* The engine sends a snapshot then. */
            memset(&dev, 0, sizeof dev);
            dev.first_id = dev.last_id = id;
            dev.part = WHOLE;
            for (int s = 0; s < 2; s++) {
                xr_side side = s == 0 ? XR_SIDE_BUY : XR_SIDE_SELL;
                assert_int_equal(xr_book_top(&src.book, side, 1, top[s], TOP, &n_top[s]), XR_OK);
                for (uint32_t k = 0; k < n_top[s]; k++) {
                    if (s == 0)
                        dev.levels[dev.n_bids++] = top[s][k];
                    else
                        dev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - dev.n_asks++] = top[s][k];
                }
            }
            assert_int_equal(xr_book_apply_snapshot(&copy.book, &dev, 1, NULL), XR_OK);
        }
        assert_int_equal(xr_book_verify(&copy.book), XR_OK);
        assert_int_equal(xr_book_get_stats(&copy.book)->levels_dropped, 0);
        for (int s = 0; s < 2; s++) {
            xr_book_level got[TOP + 1];
            uint32_t n = 0;
            assert_int_equal(
                xr_book_top(&copy.book, s == 0 ? XR_SIDE_BUY : XR_SIDE_SELL, 1, got, TOP + 1, &n),
                XR_OK);
            assert_int_equal(n, n_top[s]);
            for (uint32_t k = 0; k < n; k++) {
                assert_true(got[k].price.ticks == top[s][k].price.ticks);
                assert_true(got[k].qty.units == top[s][k].qty.units);
            }
            memcpy(prev[s], top[s], sizeof prev[s]);
            n_prev[s] = n_top[s];
        }
    }
    assert_true(deltas > 1000); /* the test exercised the delta path, */
    tbook_free(&src);
    tbook_free(&copy);
    (void)too_big;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_arguments),
        cmocka_unit_test(test_snapshot_then_deltas),
        cmocka_unit_test(test_sequence_rule),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_invalid_snapshots_and_levels),
        cmocka_unit_test(test_crossed),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_model_unbounded),
        cmocka_unit_test(test_model_truncated),
        cmocka_unit_test(test_read_both),
        cmocka_unit_test(test_levels_diff),
        cmocka_unit_test(test_levels_diff_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
