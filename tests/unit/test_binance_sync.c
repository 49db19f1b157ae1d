/* Binance diff-depth sync procedure (fixtures/.../ws/depth_sync_procedure_docs.txt): the
 * documented steps one by one (buffer, snapshot, too-old snapshot, drop by lastUpdateId,
 * straddling first event, gap -> restart), buffer overflow, stream errors, crossed books,
 * multi-part snapshots, failed snapshot requests; then a randomised venue that drops events,
 * answers snapshots late and corrupts messages, checking that whenever the book is readable
 * it equals the venue's book. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/depth_sync.h"
#include "core/market/book.h"

typedef struct tsync {
    xr_book book;
    xr_binance_depth_sync sync;
    void *book_mem, *sync_mem;
} tsync;

static void tsync_new(tsync *t, uint32_t depth, uint32_t buffer)
{
    xr_book_config cfg = {depth, 0};
    size_t bl = xr_book_footprint(&cfg), sl = xr_binance_depth_sync_footprint(buffer);
    t->book_mem = aligned_alloc(16, (bl + 15) & ~(size_t)15);
    t->sync_mem = aligned_alloc(16, (sl + 15) & ~(size_t)15);
    assert_int_equal(xr_book_init(&t->book, t->book_mem, bl, &cfg), XR_OK);
    assert_int_equal(xr_binance_depth_sync_init(&t->sync, t->sync_mem, sl, buffer, &t->book),
                     XR_OK);
}

static void tsync_free(tsync *t)
{
    free(t->book_mem);
    free(t->sync_mem);
}

#define WHOLE (XR_EV_BOOK_PART_FIRST | XR_EV_BOOK_PART_LAST)

static xr_ev_book EV;

/* A book event with one bid (price, qty) and one ask (price, qty); zero price = none. */
static const xr_ev_book *ev(uint64_t first, uint64_t last, uint8_t part, int64_t bp, int64_t bq,
                            int64_t ap, int64_t aq)
{
    memset(&EV, 0, sizeof EV);
    EV.first_id = first;
    EV.last_id = last;
    EV.part = part;
    if (bp != 0) {
        EV.levels[0].price.ticks = bp;
        EV.levels[0].qty.units = bq;
        EV.n_bids = 1;
    }
    if (ap != 0) {
        EV.levels[XR_EV_BOOK_LEVELS_MAX - 1].price.ticks = ap;
        EV.levels[XR_EV_BOOK_LEVELS_MAX - 1].qty.units = aq;
        EV.n_asks = 1;
    }
    return &EV;
}

static int64_t best_qty(const xr_book *b, xr_side side, int64_t *price)
{
    xr_book_level l[1];
    uint32_t n = 0;
    assert_int_equal(xr_book_top(b, side, 0, l, 1, &n), XR_OK);
    assert_int_equal(n, 1);
    *price = (int64_t)l[0].price.ticks;
    return (int64_t)l[0].qty.units;
}

static void test_documented_procedure(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 16);
    xr_binance_depth_sync *s = &t.sync;
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_IDLE);
    /* Step 1-2: buffer the stream, note U of the first event, ask for a snapshot once. */
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(100, 105, WHOLE, 10, 1, 0, 0), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_BUFFERING);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(106, 110, WHOLE, 11, 2, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_book_check(&t.book, 0), XR_ERR_VENUE_UNAVAILABLE);
    /* Step 4: lastUpdateId 95 < U 100: the snapshot is too old, take another. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(95, 95, WHOLE, 9, 9, 20, 9), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_stats(s)->snapshots_too_old, 1);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(111, 111, WHOLE, 12, 3, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    /* Step 5-7: lastUpdateId 107: [100,105] is dropped, [106,110] straddles it and applies,
     * then [111,111]. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(107, 107, WHOLE, 10, 5, 20, 7), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_SYNCED);
    assert_int_equal(xr_book_update_id(&t.book), 111);
    assert_int_equal(xr_binance_depth_sync_stats(s)->buffered_dropped, 1);
    int64_t p;
    assert_int_equal(best_qty(&t.book, XR_SIDE_BUY, &p), 3);
    assert_int_equal(p, 12);
    xr_book_level top[4];
    uint32_t n;
    assert_int_equal(xr_book_top(&t.book, XR_SIDE_BUY, 0, top, 4, &n), XR_OK);
    assert_int_equal(n, 3); /* 12, 11 from the stream; 10 from the snapshot, not [100,105]'s 1 */
    assert_int_equal((int64_t)top[2].price.ticks, 10);
    assert_int_equal((int64_t)top[2].qty.units, 5);
    /* Live: continuous events apply, old ones are ignored. */
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(112, 113, WHOLE, 12, 4, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(100, 113, WHOLE, 12, 99, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(best_qty(&t.book, XR_SIDE_BUY, &p), 4);
    /* A gap (114 missing): restart, the event that showed the gap starts the new buffer. */
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(115, 116, WHOLE, 13, 1, 0, 0), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_BUFFERING);
    assert_int_equal(xr_book_check(&t.book, 0), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(xr_binance_depth_sync_stats(s)->gaps, 1);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(115, 115, WHOLE, 12, 8, 20, 1), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_book_update_id(&t.book), 116);
    assert_int_equal(best_qty(&t.book, XR_SIDE_BUY, &p), 1);
    assert_int_equal(p, 13);
    tsync_free(&t);
}

static void test_snapshot_newer_than_buffer(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 16);
    xr_binance_depth_sync *s = &t.sync;
    xr_binance_depth_sync_on_delta(s, ev(100, 105, WHOLE, 10, 1, 0, 0), 0);
    xr_binance_depth_sync_on_delta(s, ev(106, 110, WHOLE, 11, 1, 0, 0), 0);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(200, 200, WHOLE, 9, 9, 30, 9), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_binance_depth_sync_stats(s)->buffered_dropped, 2);
    assert_int_equal(xr_book_update_id(&t.book), 200);
    /* The next event must straddle 200: [150,201] does, [202,203] then continues. */
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(150, 201, WHOLE, 9, 1, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(202, 203, WHOLE, 9, 2, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_book_update_id(&t.book), 203);
    tsync_free(&t);
}

static void test_gap_inside_buffer(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 16);
    xr_binance_depth_sync *s = &t.sync;
    xr_binance_depth_sync_on_delta(s, ev(100, 105, WHOLE, 10, 1, 0, 0), 0);
    xr_binance_depth_sync_on_delta(s, ev(110, 115, WHOLE, 10, 2, 0, 0), 0); /* 106..109 lost */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(103, 103, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_BUFFERING);
    assert_int_equal(xr_book_check(&t.book, 0), XR_ERR_VENUE_UNAVAILABLE);
    assert_int_equal(xr_binance_depth_sync_stats(s)->gaps, 1);
    /* With an empty buffer any snapshot is taken; the next event decides. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(120, 120, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(125, 126, WHOLE, 9, 2, 0, 0), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT); /* 121..124 never came: a gap */
    tsync_free(&t);
}

static void test_overflow_and_failures(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 4);
    xr_binance_depth_sync *s = &t.sync;
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(1, 1, WHOLE, 10, 1, 0, 0), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    for (uint64_t i = 2; i <= 4; i++)
        assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(i, i, WHOLE, 10, 1, 0, 0), 0),
                         XR_BINANCE_SYNC_NONE);
    /* The fifth does not fit: start over from it (a request is already out). */
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(5, 5, WHOLE, 10, 5, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_stats(s)->overflows, 1);
    /* The snapshot answering the old request is older than event 5: refused. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(3, 3, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    /* The request fails (HTTP error): ask again. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot_failed(s), XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(5, 5, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_book_update_id(&t.book), 5);
    /* A malformed stream message: restart at once, the book refuses reads. */
    assert_int_equal(xr_binance_depth_sync_on_stream_error(s), XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_book_check(&t.book, 0), XR_ERR_VENUE_UNAVAILABLE);
    /* A second error while the request is out does not ask twice. */
    assert_int_equal(xr_binance_depth_sync_on_stream_error(s), XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_stats(s)->resyncs, 2);
    /* An invalid snapshot (duplicate price): ask for another, keep the buffer. */
    xr_binance_depth_sync_on_delta(s, ev(6, 6, WHOLE, 10, 6, 0, 0), 0);
    memset(&EV, 0, sizeof EV);
    EV.first_id = EV.last_id = 6;
    EV.part = WHOLE;
    EV.n_bids = 2;
    EV.levels[0].price.ticks = EV.levels[1].price.ticks = 9;
    EV.levels[0].qty.units = EV.levels[1].qty.units = 1;
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, &EV, 0), XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(6, 6, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_LIVE);
    /* A reset (reconnect): IDLE; a snapshot arriving now is ignored. */
    xr_binance_depth_sync_reset(s);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_IDLE);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(9, 9, WHOLE, 9, 1, 20, 1), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_book_check(&t.book, 0), XR_ERR_VENUE_UNAVAILABLE);
    /* The tail of an update whose start was missed is not a first event. */
    assert_int_equal(
        xr_binance_depth_sync_on_delta(s, ev(9, 9, XR_EV_BOOK_PART_LAST, 9, 1, 0, 0), 0),
        XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_IDLE);
    tsync_free(&t);
}

static void test_crossed_restarts(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 8);
    xr_binance_depth_sync *s = &t.sync;
    xr_binance_depth_sync_on_delta(s, ev(10, 10, WHOLE, 10, 1, 0, 0), 0);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(10, 10, WHOLE, 10, 1, 12, 1), 0),
                     XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(11, 11, WHOLE, 13, 1, 0, 0), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    assert_int_equal(xr_binance_depth_sync_state(s), XR_BINANCE_SYNC_BUFFERING);
    /* A crossed snapshot is not accepted either. */
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(12, 12, WHOLE, 13, 1, 12, 1), 0),
                     XR_BINANCE_SYNC_FETCH_SNAPSHOT);
    tsync_free(&t);
}

static void test_multipart_snapshot_with_stream_between(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 100, 8);
    xr_binance_depth_sync *s = &t.sync;
    xr_binance_depth_sync_on_delta(s, ev(50, 52, WHOLE, 10, 1, 0, 0), 0);
    assert_int_equal(
        xr_binance_depth_sync_on_snapshot(s, ev(51, 51, XR_EV_BOOK_PART_FIRST, 10, 2, 0, 0), 0),
        XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_on_delta(s, ev(53, 53, WHOLE, 8, 3, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(xr_binance_depth_sync_on_snapshot(s, ev(51, 51, 0, 9, 2, 0, 0), 0),
                     XR_BINANCE_SYNC_NONE);
    assert_int_equal(
        xr_binance_depth_sync_on_snapshot(s, ev(51, 51, XR_EV_BOOK_PART_LAST, 0, 0, 20, 2), 0),
        XR_BINANCE_SYNC_LIVE);
    assert_int_equal(xr_book_update_id(&t.book), 53);
    xr_book_level top[4];
    uint32_t n;
    assert_int_equal(xr_book_top(&t.book, XR_SIDE_BUY, 0, top, 4, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal((int64_t)top[0].qty.units, 1); /* 10 from [50,52], over the snapshot's 2 */
    assert_int_equal((int64_t)top[2].price.ticks, 8);
    tsync_free(&t);
}

/* ---- a randomised venue --------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The venue's book: quantity per price; bids 900..999, asks 1001..1100. */
static int64_t venue_qty[1200];

static void send_snapshot(xr_binance_depth_sync *s, uint64_t id, uint64_t now)
{
    static xr_ev_book part;
    memset(&part, 0, sizeof part);
    part.first_id = part.last_id = id;
    part.part = XR_EV_BOOK_PART_FIRST;
    bool first_sent = false;
    /* Best first, like Binance, in parts of up to 64 levels. */
    for (int i = 0; i < 200; i++) {
        int price = i < 100 ? 999 - i : 1001 + (i - 100);
        if (venue_qty[price] == 0)
            continue;
        if (part.n_bids + part.n_asks == XR_EV_BOOK_LEVELS_MAX) {
            assert_int_equal(xr_binance_depth_sync_on_snapshot(s, &part, now),
                             XR_BINANCE_SYNC_NONE);
            first_sent = true;
            memset(&part, 0, sizeof part);
            part.first_id = part.last_id = id;
        }
        xr_book_level *l = i < 100 ? &part.levels[part.n_bids++]
                                   : &part.levels[XR_EV_BOOK_LEVELS_MAX - 1 - part.n_asks++];
        l->price.ticks = price;
        l->qty.units = venue_qty[price];
    }
    part.part = (uint8_t)(XR_EV_BOOK_PART_LAST | (first_sent ? 0 : XR_EV_BOOK_PART_FIRST));
    (void)xr_binance_depth_sync_on_snapshot(s, &part, now);
}

static void test_random_venue_never_wrong(void **state)
{
    (void)state;
    tsync t;
    tsync_new(&t, 512, 32);
    xr_binance_depth_sync *s = &t.sync;
    rng r = {0x73796e63};
    memset(venue_qty, 0, sizeof venue_qty);
    for (int p = 950; p < 1050; p++)
        venue_qty[p] = p == 1000 ? 0 : 1 + (int64_t)(rnd(&r) % 100);
    uint64_t id = 1000;
    int snapshot_due = -1; /* steps until the requested snapshot is answered */
    bool last_delivered = false;
    int compared = 0, lives = 0;
    for (int step = 0; step < 30000; step++) {
        if (snapshot_due == 0) {
            uint64_t before = s->stats.snapshots_too_old;
            send_snapshot(s, id, (uint64_t)step);
            if (xr_binance_depth_sync_state(s) == XR_BINANCE_SYNC_SYNCED)
                lives++;
            snapshot_due = s->fetch_outstanding ? 1 + (int)(rnd(&r) % 5) : -1;
            (void)before;
        } else if (snapshot_due > 0) {
            snapshot_due--;
        }
        /* The venue changes: 1..8 levels over 1..3 update ids. */
        static xr_ev_book d;
        memset(&d, 0, sizeof d);
        d.first_id = id + 1;
        id += 1 + rnd(&r) % 3;
        d.last_id = id;
        d.part = WHOLE;
        unsigned n = 1 + (unsigned)(rnd(&r) % 8);
        for (unsigned i = 0; i < n; i++) {
            bool bid = rnd(&r) % 2 == 0;
            int price = bid ? 999 - (int)(rnd(&r) % 100) : 1001 + (int)(rnd(&r) % 100);
            int64_t qty = rnd(&r) % 3 == 0 ? 0 : 1 + (int64_t)(rnd(&r) % 1000);
            venue_qty[price] = qty;
            xr_book_level *l =
                bid ? &d.levels[d.n_bids++] : &d.levels[XR_EV_BOOK_LEVELS_MAX - 1 - d.n_asks++];
            l->price.ticks = price;
            l->qty.units = qty;
        }
        /* The network: 1% lost, 0.3% garbled (a decode error), the rest delivered. */
        uint64_t fate = rnd(&r) % 1000;
        xr_binance_sync_action a = XR_BINANCE_SYNC_NONE;
        last_delivered = false;
        if (fate < 10) {
            /* lost */
        } else if (fate < 13) {
            a = xr_binance_depth_sync_on_stream_error(s);
        } else {
            a = xr_binance_depth_sync_on_delta(s, &d, (uint64_t)step);
            last_delivered = true;
        }
        if (a == XR_BINANCE_SYNC_FETCH_SNAPSHOT)
            snapshot_due = 1 + (int)(rnd(&r) % 5);
        assert_int_equal(xr_book_verify(&t.book), XR_OK);

        /* Whenever the book may be read and has seen the venue's latest update, it is the
         * venue's book. */
        if (xr_book_check(&t.book, (uint64_t)step) == XR_OK && last_delivered &&
            xr_book_update_id(&t.book) == id) {
            for (int side = 0; side < 2; side++) {
                static xr_book_level got[256];
                uint32_t gn = 0;
                assert_int_equal(xr_book_top(&t.book, side == 0 ? XR_SIDE_BUY : XR_SIDE_SELL,
                                             (uint64_t)step, got, 256, &gn),
                                 XR_OK);
                uint32_t k = 0;
                for (int i = 0; i < 100; i++) {
                    int price = side == 0 ? 999 - i : 1001 + i;
                    if (venue_qty[price] == 0)
                        continue;
                    assert_true(k < gn);
                    assert_int_equal((int64_t)got[k].price.ticks, price);
                    assert_int_equal((int64_t)got[k].qty.units, venue_qty[price]);
                    k++;
                }
                assert_int_equal(k, gn);
            }
            compared++;
        }
    }
    const xr_binance_sync_stats *st = xr_binance_depth_sync_stats(s);
    /* The run exercised every path and spent most of its time synced. */
    assert_true(st->gaps > 50);
    assert_true(st->resyncs > 50);
    assert_true(st->snapshots_too_old > 0 || st->buffered_dropped > 0);
    assert_true(lives > 50);
    assert_true(compared > 15000);
    tsync_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_procedure),
        cmocka_unit_test(test_snapshot_newer_than_buffer),
        cmocka_unit_test(test_gap_inside_buffer),
        cmocka_unit_test(test_overflow_and_failures),
        cmocka_unit_test(test_crossed_restarts),
        cmocka_unit_test(test_multipart_snapshot_with_stream_between),
        cmocka_unit_test(test_random_venue_never_wrong),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
