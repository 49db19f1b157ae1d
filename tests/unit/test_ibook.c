/* Internal book: init arguments, price-time priority, partial fills, the crossing price (the
 * resting order's), IOC remainder, FOK all-or-nothing (both outcomes), GTD expiry, cancel,
 * the move rule (a reduction keeps priority, anything else re-queues), the marketable query,
 * pool exhaustion (XR_ERR_NO_MEMORY with nothing changed), and a randomized model test: well
 * over 100,000 operations applied to the book and to a naive reference book written here
 * (one array per side kept in priority order), comparing every fill, every result and the
 * resting depth after every operation, with xr_ibook_verify() after each one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/router/ibook.h"

/* ---- harness ----------------------------------------------------------------------- */

typedef struct fills {
    xr_ibook_fill *v;
    size_t n, cap;
} fills;

static void on_fill(void *ctx, const xr_ibook_fill *f)
{
    fills *fs = ctx;
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 64;
        fs->v = realloc(fs->v, fs->cap * sizeof *fs->v);
        assert_non_null(fs->v);
    }
    fs->v[fs->n++] = *f;
}

typedef struct tbook {
    xr_ibook b;
    void *mem;
    fills f;
} tbook;

static tbook *tb_new(uint32_t orders_max)
{
    tbook *t = calloc(1, sizeof *t);
    assert_non_null(t);
    xr_ibook_config cfg = {orders_max, on_fill, &t->f};
    size_t len = xr_ibook_footprint(&cfg);
    assert_true(len > 0);
    t->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
    assert_non_null(t->mem);
    assert_int_equal(xr_ibook_init(&t->b, t->mem, len, &cfg), XR_OK);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    return t;
}

static void tb_free(tbook *t)
{
    free(t->f.v);
    free(t->mem);
    free(t);
}

static xr_ibook_result submit_ex(tbook *t, uint64_t id, xr_ibook_side side, xr_ibook_tif tif,
                                 int64_t price, int64_t qty, uint64_t expire_ns, xr_err want)
{
    xr_ibook_order o = {id, side, tif, {price}, {qty}, expire_ns};
    xr_ibook_result r;
    memset(&r, 0xEE, sizeof r);
    t->f.n = 0;
    assert_int_equal(xr_ibook_submit(&t->b, &o, 100, &r), want);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    return r;
}

static xr_ibook_result submit(tbook *t, uint64_t id, xr_ibook_side side, xr_ibook_tif tif,
                              int64_t price, int64_t qty)
{
    return submit_ex(t, id, side, tif, price, qty, tif == XR_IBOOK_GTD ? 1000 : 0, XR_OK);
}

static void expect_fill(const tbook *t, size_t i, uint64_t taker, uint64_t maker, int64_t price,
                        int64_t qty)
{
    assert_true(i < t->f.n);
    const xr_ibook_fill *f = &t->f.v[i];
    assert_int_equal(f->taker_id, taker);
    assert_int_equal(f->maker_id, maker);
    assert_true(f->price.ticks == price);
    assert_true(f->qty.units == qty);
}

static int64_t remaining_of(const tbook *t, uint64_t id)
{
    xr_ibook_info info;
    if (xr_ibook_get(&t->b, id, &info) != XR_OK)
        return -1;
    return (int64_t)info.remaining.units;
}

/* ---- unit tests -------------------------------------------------------------------- */

static void test_init_arguments(void **state)
{
    (void)state;
    xr_ibook_config cfg = {0, on_fill, NULL};
    assert_int_equal(xr_ibook_footprint(&cfg), 0);
    assert_int_equal(xr_ibook_footprint(NULL), 0);
    cfg.orders_max = XR_IBOOK_ORDERS_MAX + 1;
    assert_int_equal(xr_ibook_footprint(&cfg), 0);
    cfg.orders_max = 10;
    size_t len = xr_ibook_footprint(&cfg);
    assert_true(len > 0);
    void *mem = aligned_alloc(64, (len + 64) & ~(size_t)63);
    xr_ibook b;
    assert_int_equal(xr_ibook_init(&b, mem, len - 1, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ibook_init(&b, (char *)mem + 8, len, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ibook_init(NULL, mem, len, &cfg), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ibook_init(&b, NULL, len, &cfg), XR_ERR_INVALID_ARGUMENT);
    cfg.on_fill = NULL;
    assert_int_equal(xr_ibook_init(&b, mem, len, &cfg), XR_ERR_INVALID_ARGUMENT);
    cfg.on_fill = on_fill;
    assert_int_equal(xr_ibook_init(&b, mem, len, &cfg), XR_OK);
    assert_int_equal(xr_ibook_count(&b), 0);
    xr_price p;
    assert_int_equal(xr_ibook_best(&b, XR_IBOOK_BUY, &p, NULL), XR_ERR_NOT_FOUND);
    free(mem);
}

static void test_order_arguments(void **state)
{
    (void)state;
    tbook *t = tb_new(8);
    submit_ex(t, 0, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, (xr_ibook_side)2, XR_IBOOK_GTC, 100, 1, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, (xr_ibook_tif)4, 100, 1, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 0, 1, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, -5, 1, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 0, 0, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, -1, 0, XR_ERR_INVALID_ARGUMENT);
    /* GTD needs an expiry after now (now is 100 in submit_ex). */
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTD, 100, 1, 100, XR_ERR_INVALID_ARGUMENT);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTD, 100, 1, 0, XR_ERR_INVALID_ARGUMENT);
    xr_ibook_order big = {1, XR_IBOOK_BUY, XR_IBOOK_GTC, {100}, {XR_IBOOK_QTY_MAX + 1}, 0};
    xr_ibook_result r;
    assert_int_equal(xr_ibook_submit(&t->b, &big, 0, &r), XR_ERR_INVALID_ARGUMENT);
    big.qty.units = XR_IBOOK_QTY_MAX;
    big.price.ticks = XR_I128_MAX;
    assert_int_equal(xr_ibook_submit(&t->b, &big, 0, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_RESTING);
    /* Ids are unique among resting orders, whatever the time in force. */
    submit_ex(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 1, 0, XR_ERR_ALREADY_EXISTS);
    submit_ex(t, 1, XR_IBOOK_SELL, XR_IBOOK_IOC, 100, 1, 0, XR_ERR_ALREADY_EXISTS);
    assert_int_equal(t->f.n, 0);
    assert_int_equal(xr_ibook_count(&t->b), 1);
    tb_free(t);
}

static void test_price_time_priority(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 101, 5);
    submit(t, 2, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 5);
    submit(t, 3, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 5);
    submit(t, 4, XR_IBOOK_SELL, XR_IBOOK_GTC, 102, 5);
    submit(t, 5, XR_IBOOK_SELL, XR_IBOOK_GTC, 101, 5);
    xr_price p;
    xr_amount q;
    assert_int_equal(xr_ibook_best(&t->b, XR_IBOOK_SELL, &p, &q), XR_OK);
    assert_true(p.ticks == 100 && q.units == 10);
    /* A buy sweeping everything takes 100 (2 then 3), 101 (1 then 5), 102 (4). */
    xr_ibook_result r = submit(t, 10, XR_IBOOK_BUY, XR_IBOOK_GTC, 102, 25);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    assert_int_equal(r.fills, 5);
    assert_true(r.filled.units == 25 && r.remaining.units == 0);
    expect_fill(t, 0, 10, 2, 100, 5);
    expect_fill(t, 1, 10, 3, 100, 5);
    expect_fill(t, 2, 10, 1, 101, 5);
    expect_fill(t, 3, 10, 5, 101, 5);
    expect_fill(t, 4, 10, 4, 102, 5);
    assert_int_equal(xr_ibook_count(&t->b), 0);
    /* Bids: higher first. */
    submit(t, 20, XR_IBOOK_BUY, XR_IBOOK_GTC, 99, 1);
    submit(t, 21, XR_IBOOK_BUY, XR_IBOOK_GTC, 98, 1);
    submit(t, 22, XR_IBOOK_BUY, XR_IBOOK_GTC, 99, 1);
    r = submit(t, 23, XR_IBOOK_SELL, XR_IBOOK_IOC, 1, 3);
    expect_fill(t, 0, 23, 20, 99, 1);
    expect_fill(t, 1, 23, 22, 99, 1);
    expect_fill(t, 2, 23, 21, 98, 1);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    tb_free(t);
}

static void test_partial_fills_and_crossing_price(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 10);
    /* The buy limit 105 crosses the resting 100: it fills at the resting order's price. */
    xr_ibook_result r = submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, 105, 4);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    expect_fill(t, 0, 2, 1, 100, 4);
    assert_true(t->f.v[0].maker_remaining.units == 6 && t->f.v[0].taker_remaining.units == 0);
    assert_int_equal(t->f.v[0].taker_side, XR_IBOOK_BUY);
    assert_int_equal(remaining_of(t, 1), 6);
    /* A larger buy takes the rest at 100 and rests its remainder at its own limit. */
    r = submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 103, 10);
    assert_int_equal(r.outcome, XR_IBOOK_RESTING);
    assert_true(r.filled.units == 6 && r.remaining.units == 4);
    expect_fill(t, 0, 3, 1, 100, 6);
    assert_true(t->f.v[0].maker_remaining.units == 0);
    assert_int_equal(remaining_of(t, 1), -1);
    assert_int_equal(remaining_of(t, 3), 4);
    xr_price p;
    assert_int_equal(xr_ibook_best(&t->b, XR_IBOOK_BUY, &p, NULL), XR_OK);
    assert_true(p.ticks == 103);
    assert_int_equal(xr_ibook_best(&t->b, XR_IBOOK_SELL, &p, NULL), XR_ERR_NOT_FOUND);
    /* A sell at 90 crosses the resting bid at 103: fills at 103 (the maker's price). */
    r = submit(t, 4, XR_IBOOK_SELL, XR_IBOOK_GTC, 90, 1);
    expect_fill(t, 0, 4, 3, 103, 1);
    tb_free(t);
}

static void test_ioc_remainder(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 3);
    submit(t, 2, XR_IBOOK_SELL, XR_IBOOK_GTC, 102, 3);
    xr_ibook_result r = submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_IOC, 101, 10);
    assert_int_equal(r.outcome, XR_IBOOK_CANCELLED);
    assert_true(r.filled.units == 3 && r.remaining.units == 7);
    assert_int_equal(r.fills, 1);
    expect_fill(t, 0, 3, 1, 100, 3);
    assert_int_equal(remaining_of(t, 3), -1); /* never rests */
    assert_int_equal(xr_ibook_count(&t->b), 1);
    /* An IOC that crosses nothing is cancelled whole. */
    r = submit(t, 4, XR_IBOOK_BUY, XR_IBOOK_IOC, 101, 10);
    assert_int_equal(r.outcome, XR_IBOOK_CANCELLED);
    assert_true(r.filled.units == 0 && r.remaining.units == 10 && r.fills == 0);
    tb_free(t);
}

static void test_fok_all_or_nothing(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 3);
    submit(t, 2, XR_IBOOK_SELL, XR_IBOOK_GTC, 101, 3);
    submit(t, 3, XR_IBOOK_SELL, XR_IBOOK_GTC, 103, 100);
    /* 7 inside 102: only 6 cross. Killed, nothing changes. */
    xr_ibook_result r = submit(t, 4, XR_IBOOK_BUY, XR_IBOOK_FOK, 102, 7);
    assert_int_equal(r.outcome, XR_IBOOK_KILLED);
    assert_true(r.filled.units == 0 && r.remaining.units == 7 && r.fills == 0);
    assert_int_equal(t->f.n, 0);
    assert_int_equal(remaining_of(t, 1), 3);
    assert_int_equal(remaining_of(t, 2), 3);
    /* Exactly 6: executes whole, at each maker's price. */
    r = submit(t, 5, XR_IBOOK_BUY, XR_IBOOK_FOK, 102, 6);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    assert_true(r.filled.units == 6 && r.remaining.units == 0 && r.fills == 2);
    expect_fill(t, 0, 5, 1, 100, 3);
    expect_fill(t, 1, 5, 2, 101, 3);
    assert_int_equal(remaining_of(t, 5), -1);
    assert_int_equal(xr_ibook_count(&t->b), 1);
    tb_free(t);
}

static void test_gtd_expiry(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit_ex(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTD, 100, 1, 500, XR_OK);
    submit_ex(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTD, 99, 1, 300, XR_OK);
    submit_ex(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 98, 1, 0, XR_OK);
    submit_ex(t, 4, XR_IBOOK_SELL, XR_IBOOK_GTD, 110, 1, 300, XR_OK);
    submit_ex(t, 5, XR_IBOOK_SELL, XR_IBOOK_GTD, 111, 1, 900, XR_OK);
    uint64_t ids[8];
    size_t n = 99;
    assert_int_equal(xr_ibook_expire_due(&t->b, 299, ids, 8, &n), XR_OK);
    assert_int_equal(n, 0);
    /* Due at 300: 2 and 4 (equal expiry: earlier arrival first); with room for one, AGAIN. */
    assert_int_equal(xr_ibook_expire_due(&t->b, 300, ids, 1, &n), XR_ERR_AGAIN);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 2);
    assert_int_equal(xr_ibook_expire_due(&t->b, 300, ids, 8, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 4);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    /* A GTD partly filled keeps its expiry; cancel takes it out of the heap. */
    submit(t, 6, XR_IBOOK_SELL, XR_IBOOK_IOC, 100, 0 + 1);
    assert_int_equal(remaining_of(t, 1), -1); /* the IOC took all of 1 */
    assert_int_equal(xr_ibook_cancel(&t->b, 5, NULL), XR_OK);
    assert_int_equal(xr_ibook_expire_due(&t->b, UINT64_MAX, ids, 8, &n), XR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(remaining_of(t, 3), 1); /* GTC never expires */
    xr_ibook_info info;
    assert_int_equal(xr_ibook_get(&t->b, 3, &info), XR_OK);
    assert_int_equal(info.tif, XR_IBOOK_GTC);
    assert_int_equal(info.expire_ns, 0);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    tb_free(t);
}

static void test_cancel(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 7);
    submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 8);
    submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 9);
    xr_amount c;
    assert_int_equal(xr_ibook_cancel(&t->b, 2, &c), XR_OK); /* middle of the queue */
    assert_true(c.units == 8);
    assert_int_equal(xr_ibook_cancel(&t->b, 2, &c), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_ibook_cancel(&t->b, 0, &c), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_ibook_cancel(&t->b, 77, NULL), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    xr_ibook_level_info lv[4];
    size_t n;
    assert_int_equal(xr_ibook_depth(&t->b, XR_IBOOK_BUY, lv, 4, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_true(lv[0].qty.units == 16 && lv[0].orders == 2);
    xr_ibook_result r = submit(t, 4, XR_IBOOK_SELL, XR_IBOOK_IOC, 100, 100);
    assert_int_equal(r.fills, 2);
    expect_fill(t, 0, 4, 1, 100, 7);
    expect_fill(t, 1, 4, 3, 100, 9);
    /* A cancelled id may be reused. */
    submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1);
    assert_int_equal(remaining_of(t, 2), 1);
    tb_free(t);
}

static void test_move_rules(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 10);
    submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 10);
    submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 10);
    xr_ibook_result r;
    /* Reduce 1: keeps its place at the head. */
    assert_int_equal(xr_ibook_move(&t->b, 1, (xr_price){100}, (xr_amount){4}, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_REDUCED);
    assert_true(r.remaining.units == 4);
    /* Same price and quantity: nothing. */
    assert_int_equal(xr_ibook_move(&t->b, 2, (xr_price){100}, (xr_amount){10}, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_UNCHANGED);
    /* Increase 2: loses priority (goes behind 3). */
    assert_int_equal(xr_ibook_move(&t->b, 2, (xr_price){100}, (xr_amount){11}, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_RESTING);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    t->f.n = 0;
    submit(t, 9, XR_IBOOK_SELL, XR_IBOOK_IOC, 100, 100);
    assert_int_equal(t->f.n, 3);
    expect_fill(t, 0, 9, 1, 100, 4);
    expect_fill(t, 1, 9, 3, 100, 10);
    expect_fill(t, 2, 9, 2, 100, 11);
    /* Price change re-queues even back to the old price: 5 goes 100 -> 101 -> 100. */
    submit(t, 5, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1);
    submit(t, 6, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1);
    assert_int_equal(xr_ibook_move(&t->b, 5, (xr_price){101}, (xr_amount){1}, &r), XR_OK);
    assert_int_equal(xr_ibook_move(&t->b, 5, (xr_price){100}, (xr_amount){1}, &r), XR_OK);
    t->f.n = 0;
    submit(t, 10, XR_IBOOK_SELL, XR_IBOOK_IOC, 100, 100);
    expect_fill(t, 0, 10, 6, 100, 1);
    expect_fill(t, 1, 10, 5, 100, 1);
    /* A move that crosses trades first at the resting price, then rests the remainder. */
    submit(t, 11, XR_IBOOK_SELL, XR_IBOOK_GTC, 105, 3);
    submit(t, 12, XR_IBOOK_BUY, XR_IBOOK_GTC, 104, 5);
    assert_int_equal(xr_ibook_move(&t->b, 12, (xr_price){106}, (xr_amount){5}, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_RESTING);
    assert_true(r.filled.units == 3 && r.remaining.units == 2 && r.fills == 1);
    expect_fill(t, 0, 12, 11, 105, 3);
    assert_int_equal(remaining_of(t, 12), 2);
    /* A move that fills completely leaves the book. */
    submit(t, 13, XR_IBOOK_SELL, XR_IBOOK_GTD, 110, 2);
    assert_int_equal(xr_ibook_move(&t->b, 13, (xr_price){106}, (xr_amount){2}, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    assert_int_equal(remaining_of(t, 13), -1);
    assert_int_equal(remaining_of(t, 12), -1);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    /* Errors change nothing. */
    assert_int_equal(xr_ibook_move(&t->b, 99, (xr_price){100}, (xr_amount){1}, &r),
                     XR_ERR_NOT_FOUND);
    submit(t, 14, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 3);
    assert_int_equal(xr_ibook_move(&t->b, 14, (xr_price){0}, (xr_amount){1}, &r),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ibook_move(&t->b, 14, (xr_price){100}, (xr_amount){0}, &r),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(remaining_of(t, 14), 3);
    tb_free(t);
}

static void test_marketable(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    submit(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1);
    submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, 102, 1);
    submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 1);
    submit(t, 4, XR_IBOOK_SELL, XR_IBOOK_GTC, 110, 1);
    submit(t, 5, XR_IBOOK_SELL, XR_IBOOK_GTC, 108, 1);
    uint64_t ids[8];
    size_t n;
    xr_price bid = {105}, ask = {100};
    /* Market ask 100 reaches our buys at 102, 100, 100; market bid 105 reaches no sell. */
    assert_int_equal(xr_ibook_marketable(&t->b, &bid, &ask, ids, 8, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 3);
    bid.ticks = 109;
    assert_int_equal(xr_ibook_marketable(&t->b, &bid, NULL, ids, 8, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 5);
    ask.ticks = 101;
    assert_int_equal(xr_ibook_marketable(&t->b, &bid, &ask, ids, 1, &n), XR_ERR_AGAIN);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 2);
    assert_int_equal(xr_ibook_marketable(&t->b, NULL, NULL, ids, 0, &n), XR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(xr_ibook_count(&t->b), 5); /* the query changes nothing */
    tb_free(t);
}

static void test_pool_exhaustion(void **state)
{
    (void)state;
    tbook *t = tb_new(3);
    submit(t, 1, XR_IBOOK_SELL, XR_IBOOK_GTC, 100, 2);
    submit(t, 2, XR_IBOOK_SELL, XR_IBOOK_GTC, 101, 2);
    submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, 90, 2);
    assert_int_equal(xr_ibook_count(&t->b), 3);
    xr_ibook_level_info before[2][4], after[2][4];
    size_t nb[2], na[2];
    for (int s = 0; s < 2; s++)
        xr_ibook_depth(&t->b, (xr_ibook_side)s, before[s], 4, &nb[s]);
    /* Would rest (crosses 2 of 5 at 100): refused before any fill. */
    submit_ex(t, 4, XR_IBOOK_BUY, XR_IBOOK_GTC, 100, 5, 0, XR_ERR_NO_MEMORY);
    submit_ex(t, 4, XR_IBOOK_SELL, XR_IBOOK_GTD, 120, 5, 1000, XR_ERR_NO_MEMORY);
    assert_int_equal(t->f.n, 0);
    for (int s = 0; s < 2; s++) {
        xr_ibook_depth(&t->b, (xr_ibook_side)s, after[s], 4, &na[s]);
        assert_int_equal(na[s], nb[s]);
        for (size_t i = 0; i < na[s]; i++) {
            assert_true(before[s][i].price.ticks == after[s][i].price.ticks);
            assert_true(before[s][i].qty.units == after[s][i].qty.units);
            assert_int_equal(before[s][i].orders, after[s][i].orders);
        }
    }
    assert_int_equal(remaining_of(t, 4), -1);
    /* IOC and FOK need no slot; a GTC that fills completely needs none either. */
    xr_ibook_result r = submit(t, 5, XR_IBOOK_BUY, XR_IBOOK_IOC, 100, 1);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    r = submit(t, 6, XR_IBOOK_BUY, XR_IBOOK_GTC, 101, 3);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    assert_int_equal(xr_ibook_count(&t->b), 1);
    /* Slots are back: a new order rests. */
    r = submit(t, 7, XR_IBOOK_BUY, XR_IBOOK_GTC, 95, 3);
    assert_int_equal(r.outcome, XR_IBOOK_RESTING);
    tb_free(t);
}

static void test_large_quantities(void **state)
{
    (void)state;
    /* Quantities beyond 64 bits (ETH/18 sized) and prices beyond 64 bits. */
    tbook *t = tb_new(16);
    xr_i128 big = (xr_i128)1 << 90, p = (xr_i128)1 << 100;
    xr_ibook_order o = {1, XR_IBOOK_SELL, XR_IBOOK_GTC, {p}, {big}, 0};
    xr_ibook_result r;
    assert_int_equal(xr_ibook_submit(&t->b, &o, 0, &r), XR_OK);
    o = (xr_ibook_order){2, XR_IBOOK_SELL, XR_IBOOK_GTC, {p}, {big}, 0};
    assert_int_equal(xr_ibook_submit(&t->b, &o, 0, &r), XR_OK);
    xr_amount q;
    xr_price bp;
    assert_int_equal(xr_ibook_best(&t->b, XR_IBOOK_SELL, &bp, &q), XR_OK);
    assert_true(q.units == 2 * big && bp.ticks == p);
    o = (xr_ibook_order){3, XR_IBOOK_BUY, XR_IBOOK_FOK, {p + 1}, {big + 5}, 0};
    t->f.n = 0;
    assert_int_equal(xr_ibook_submit(&t->b, &o, 0, &r), XR_OK);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    assert_true(t->f.v[1].qty.units == 5 && t->f.v[1].maker_remaining.units == big - 5);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    tb_free(t);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(xr_ibook_side_name(XR_IBOOK_SELL), "SELL");
    assert_string_equal(xr_ibook_tif_name(XR_IBOOK_GTD), "GTD");
    assert_string_equal(xr_ibook_outcome_name(XR_IBOOK_KILLED), "KILLED");
    assert_string_equal(xr_ibook_outcome_name(XR_IBOOK_REDUCED), "REDUCED");
    assert_string_equal(xr_ibook_side_name((xr_ibook_side)5), "UNKNOWN");
    assert_string_equal(xr_ibook_tif_name((xr_ibook_tif)5), "UNKNOWN");
    assert_string_equal(xr_ibook_outcome_name((xr_ibook_outcome)9), "UNKNOWN");
}

/* ---- model test -------------------------------------------------------------------- */

/* The reference: one array per side in priority order (best price first, then arrival),
 * matched by always taking element 0. Deliberately naive: every operation is a scan. */
typedef struct ref_order {
    uint64_t id;
    int side, tif;
    xr_i128 price, rem;
    uint64_t expire_ns, seq;
} ref_order;

typedef struct ref_book {
    ref_order *side[2];
    size_t n[2];
    size_t cap; /* orders_max */
    uint64_t seq;
} ref_book;

static bool ref_before(int side, const ref_order *a, const ref_order *b)
{
    if (a->price != b->price)
        return side == XR_IBOOK_BUY ? a->price > b->price : a->price < b->price;
    return a->seq < b->seq;
}

static void ref_insert(ref_book *r, ref_order o)
{
    o.seq = ++r->seq;
    ref_order *v = r->side[o.side];
    size_t i = r->n[o.side];
    while (i > 0 && ref_before(o.side, &o, &v[i - 1])) {
        v[i] = v[i - 1];
        i--;
    }
    v[i] = o;
    r->n[o.side]++;
}

static void ref_erase(ref_book *r, int side, size_t i)
{
    memmove(&r->side[side][i], &r->side[side][i + 1], (r->n[side] - i - 1) * sizeof(ref_order));
    r->n[side]--;
}

static bool ref_find(const ref_book *r, uint64_t id, int *side, size_t *idx)
{
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < r->n[s]; i++)
            if (r->side[s][i].id == id) {
                *side = s;
                *idx = i;
                return true;
            }
    return false;
}

static size_t ref_count(const ref_book *r)
{
    return r->n[0] + r->n[1];
}

static bool ref_cross(int taker_side, xr_i128 limit, xr_i128 maker_price)
{
    return taker_side == XR_IBOOK_BUY ? maker_price <= limit : maker_price >= limit;
}

static xr_i128 ref_available(const ref_book *r, int side, xr_i128 limit)
{
    int o = 1 - side;
    xr_i128 sum = 0;
    for (size_t i = 0; i < r->n[o] && ref_cross(side, limit, r->side[o][i].price); i++)
        sum += r->side[o][i].rem;
    return sum;
}

/* Matches a taker; appends expected fills. Returns what is left. */
static xr_i128 ref_match(ref_book *r, uint64_t id, int side, xr_i128 limit, xr_i128 qty, fills *out)
{
    int o = 1 - side;
    while (qty > 0 && r->n[o] > 0 && ref_cross(side, limit, r->side[o][0].price)) {
        ref_order *m = &r->side[o][0];
        xr_i128 t = qty < m->rem ? qty : m->rem;
        qty -= t;
        m->rem -= t;
        xr_ibook_fill f = {id, m->id, (xr_ibook_side)side, {m->price}, {t}, {qty}, {m->rem}};
        on_fill(out, &f);
        if (m->rem == 0)
            ref_erase(r, o, 0);
    }
    return qty;
}

static xr_err ref_submit(ref_book *r, const xr_ibook_order *o, xr_ibook_result *res, fills *out)
{
    int side;
    size_t idx;
    if (ref_find(r, o->id, &side, &idx))
        return XR_ERR_ALREADY_EXISTS;
    xr_i128 qty = o->qty.units;
    bool rests = o->tif == XR_IBOOK_GTC || o->tif == XR_IBOOK_GTD;
    xr_i128 avail = ref_available(r, o->side, o->price.ticks);
    if (o->tif == XR_IBOOK_FOK && avail < qty) {
        *res = (xr_ibook_result){XR_IBOOK_KILLED, {0}, {qty}, 0};
        return XR_OK;
    }
    if (rests && ref_count(r) == r->cap && avail < qty)
        return XR_ERR_NO_MEMORY;
    size_t before = out->n;
    xr_i128 left = ref_match(r, o->id, o->side, o->price.ticks, qty, out);
    res->filled.units = qty - left;
    res->remaining.units = left;
    res->fills = (uint32_t)(out->n - before);
    if (left == 0) {
        res->outcome = XR_IBOOK_FILLED;
    } else if (!rests) {
        res->outcome = XR_IBOOK_CANCELLED;
    } else {
        ref_insert(r, (ref_order){o->id, o->side, o->tif, o->price.ticks, left,
                                  o->tif == XR_IBOOK_GTD ? o->expire_ns : 0, 0});
        res->outcome = XR_IBOOK_RESTING;
    }
    return XR_OK;
}

static xr_err ref_move(ref_book *r, uint64_t id, xr_i128 price, xr_i128 qty, xr_ibook_result *res,
                       fills *out)
{
    int side;
    size_t idx;
    if (!ref_find(r, id, &side, &idx))
        return XR_ERR_NOT_FOUND;
    ref_order *o = &r->side[side][idx];
    if (price == o->price && qty <= o->rem) {
        *res =
            (xr_ibook_result){qty < o->rem ? XR_IBOOK_REDUCED : XR_IBOOK_UNCHANGED, {0}, {qty}, 0};
        o->rem = qty;
        return XR_OK;
    }
    ref_order copy = *o;
    ref_erase(r, side, idx);
    size_t before = out->n;
    xr_i128 left = ref_match(r, id, side, price, qty, out);
    *res = (xr_ibook_result){XR_IBOOK_FILLED, {qty - left}, {left}, (uint32_t)(out->n - before)};
    if (left > 0) {
        copy.price = price;
        copy.rem = left;
        ref_insert(r, copy);
        res->outcome = XR_IBOOK_RESTING;
    }
    return XR_OK;
}

/* Expires due orders in (expiry, arrival) order. */
static size_t ref_expire(ref_book *r, uint64_t now, uint64_t *ids)
{
    size_t n = 0;
    for (;;) {
        int bs = -1;
        size_t bi = 0;
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < r->n[s]; i++) {
                const ref_order *o = &r->side[s][i];
                if (o->tif != XR_IBOOK_GTD || o->expire_ns > now)
                    continue;
                if (bs < 0) {
                    bs = s;
                    bi = i;
                    continue;
                }
                const ref_order *b = &r->side[bs][bi];
                if (o->expire_ns < b->expire_ns ||
                    (o->expire_ns == b->expire_ns && o->seq < b->seq)) {
                    bs = s;
                    bi = i;
                }
            }
        if (bs < 0)
            return n;
        ids[n++] = r->side[bs][bi].id;
        ref_erase(r, bs, bi);
    }
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(rng *g, uint64_t n)
{
    return rnd(g) % n;
}

static void compare_fills(const fills *got, const fills *want, uint64_t op)
{
    if (got->n != want->n)
        fail_msg("op %llu: %zu fills, expected %zu", (unsigned long long)op, got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        const xr_ibook_fill *a = &got->v[i], *b = &want->v[i];
        if (a->taker_id != b->taker_id || a->maker_id != b->maker_id ||
            a->taker_side != b->taker_side || a->price.ticks != b->price.ticks ||
            a->qty.units != b->qty.units || a->taker_remaining.units != b->taker_remaining.units ||
            a->maker_remaining.units != b->maker_remaining.units)
            fail_msg("op %llu: fill %zu differs (maker %llu vs %llu)", (unsigned long long)op, i,
                     (unsigned long long)a->maker_id, (unsigned long long)b->maker_id);
    }
}

static void compare_result(const xr_ibook_result *a, const xr_ibook_result *b, uint64_t op)
{
    if (a->outcome != b->outcome || a->filled.units != b->filled.units ||
        a->remaining.units != b->remaining.units || a->fills != b->fills)
        fail_msg("op %llu: result %s differs from %s", (unsigned long long)op,
                 xr_ibook_outcome_name(a->outcome), xr_ibook_outcome_name(b->outcome));
}

/* Depth of the book and of the reference, level by level. */
static void compare_depth(const tbook *t, const ref_book *r, xr_ibook_level_info *buf,
                          size_t bufcap, uint64_t op)
{
    for (int s = 0; s < 2; s++) {
        size_t n;
        assert_int_equal(xr_ibook_depth(&t->b, (xr_ibook_side)s, buf, bufcap, &n), XR_OK);
        size_t li = 0, i = 0;
        while (i < r->n[s]) {
            xr_i128 p = r->side[s][i].price, q = 0;
            uint32_t c = 0;
            while (i < r->n[s] && r->side[s][i].price == p) {
                q += r->side[s][i].rem;
                c++;
                i++;
            }
            if (li >= n || buf[li].price.ticks != p || buf[li].qty.units != q ||
                buf[li].orders != c)
                fail_msg("op %llu: side %d level %zu differs", (unsigned long long)op, s, li);
            li++;
        }
        if (li != n)
            fail_msg("op %llu: side %d has %zu levels, expected %zu", (unsigned long long)op, s, n,
                     li);
    }
    assert_int_equal(xr_ibook_count(&t->b), ref_count(r));
}

/* Where the model's prices lie. The model draws prices around 1000 in steps of one; this
 * maps a drawn price p to centre + (p - 1000) x stride, and moves the centre by `drift`
 * ticks every 1000 operations, so the same mix can run with levels spread far beyond the
 * book's price window, with a market that trends through it, or next to the largest tick. */
typedef struct model_prices {
    xr_i128 centre, stride, drift;
} model_prices;

/* p + d, clamped to the valid prices 1..XR_I128_MAX without overflowing. */
static xr_i128 price_add(xr_i128 p, xr_i128 d)
{
    if (d > 0 && p > XR_I128_MAX - d)
        return XR_I128_MAX;
    return p + d < 1 ? 1 : p + d;
}

static void run_model_at(uint64_t seed, uint32_t orders_max, uint64_t ops, xr_i128 unit,
                         model_prices mp)
{
    tbook *t = tb_new(orders_max);
    ref_book r = {
        {calloc(orders_max + 1, sizeof(ref_order)), calloc(orders_max + 1, sizeof(ref_order))},
        {0, 0},
        orders_max,
        0};
    fills want = {0};
    size_t bufcap = orders_max + 1;
    xr_ibook_level_info *buf = calloc(bufcap, sizeof *buf);
    uint64_t *ids_a = calloc(orders_max + 1, sizeof *ids_a);
    uint64_t *ids_b = calloc(orders_max + 1, sizeof *ids_b);
    assert_non_null(r.side[0]);
    assert_non_null(r.side[1]);
    assert_non_null(buf);
    rng g = {seed};
    uint64_t now = 1000, next_id = 1;
    uint64_t stats[8] = {0};
    for (uint64_t op = 0; op < ops; op++) {
        t->f.n = 0;
        want.n = 0;
        unsigned kind = (unsigned)below(&g, 100);
        xr_ibook_result ra, rb;
        /* Zeroed so that gcc -O3 does not warn (-Wmaybe-uninitialized) where it cannot see
         * that an error return is compared before the results are. */
        memset(&ra, 0, sizeof ra);
        memset(&rb, 0, sizeof rb);
        if (kind < 35) {
            /* Submit: buys 975..1015, sells 985..1025, so they cross often. */
            xr_ibook_order o;
            o.side = below(&g, 2) ? XR_IBOOK_SELL : XR_IBOOK_BUY;
            unsigned tk = (unsigned)below(&g, 10);
            o.tif = tk < 5   ? XR_IBOOK_GTC
                    : tk < 7 ? XR_IBOOK_GTD
                    : tk < 9 ? XR_IBOOK_IOC
                             : XR_IBOOK_FOK;
            o.price.ticks = (o.side == XR_IBOOK_BUY ? 975 : 985) + (xr_i128)below(&g, 41);
            o.price.ticks = price_add(mp.centre, (o.price.ticks - 1000) * mp.stride);
            o.qty.units = (xr_i128)(1 + below(&g, 50)) * unit;
            o.expire_ns = now + 1 + below(&g, 5000);
            /* Now and then an id that is resting: ALREADY_EXISTS on both. */
            o.id = below(&g, 50) == 0 ? 1 + below(&g, next_id) : next_id++;
            xr_err ea = xr_ibook_submit(&t->b, &o, now, &ra);
            xr_err eb = ref_submit(&r, &o, &rb, &want);
            assert_int_equal(ea, eb);
            if (ea == XR_OK)
                compare_result(&ra, &rb, op);
            stats[ea == XR_ERR_NO_MEMORY ? 1 : ea == XR_OK ? 0 : 2]++;
        } else if (kind < 60) {
            /* Cancel: mostly a resting order, sometimes any id (most of them gone). */
            uint64_t id = 1 + below(&g, next_id + 5);
            if (ref_count(&r) > 0 && below(&g, 5) != 0) {
                size_t k = below(&g, ref_count(&r));
                id = k < r.n[0] ? r.side[0][k].id : r.side[1][k - r.n[0]].id;
            }
            int s;
            size_t idx;
            bool exists = ref_find(&r, id, &s, &idx);
            xr_amount c = {-1};
            xr_err ea = xr_ibook_cancel(&t->b, id, &c);
            assert_int_equal(ea, exists ? XR_OK : XR_ERR_NOT_FOUND);
            if (exists) {
                assert_true(c.units == r.side[s][idx].rem);
                ref_erase(&r, s, idx);
                stats[3]++;
            }
        } else if (kind < 95) {
            /* Move a resting order (picked from the reference): reduce, same, up, reprice. */
            if (ref_count(&r) == 0)
                continue;
            size_t k = below(&g, ref_count(&r));
            int s = k < r.n[0] ? 0 : 1;
            const ref_order *o = &r.side[s][s == 0 ? k : k - r.n[0]];
            uint64_t id = o->id;
            xr_i128 price = o->price, qty = o->rem;
            unsigned how = (unsigned)below(&g, 4);
            if (how == 0 && qty > 1)
                qty -= 1 + (xr_i128)below(&g, (uint64_t)(qty - 1 > 1000 ? 1000 : qty - 1));
            else if (how == 1)
                qty += (xr_i128)(1 + below(&g, 20)) * unit;
            else if (how == 2)
                price = price_add(price, ((xr_i128)below(&g, 21) - 10) * mp.stride);
            if (price < 1)
                price = 1;
            xr_err ea = xr_ibook_move(&t->b, id, (xr_price){price}, (xr_amount){qty}, &ra);
            xr_err eb = ref_move(&r, id, price, qty, &rb, &want);
            assert_int_equal(ea, eb);
            compare_result(&ra, &rb, op);
            stats[4]++;
        } else if (kind < 98) {
            /* Time passes; expire what is due (in small batches to exercise AGAIN). */
            now += below(&g, 400);
            size_t nb = ref_expire(&r, now, ids_b), na = 0;
            for (;;) {
                size_t n;
                xr_err e = xr_ibook_expire_due(&t->b, now, ids_a + na, 3, &n);
                na += n;
                if (e == XR_OK)
                    break;
                assert_int_equal(e, XR_ERR_AGAIN);
            }
            assert_int_equal(na, nb);
            assert_memory_equal(ids_a, ids_b, na * sizeof ids_a[0]);
            stats[5] += na;
        } else {
            /* The marketable query against a random consolidated market. */
            xr_price bid = {980 + (xr_i128)below(&g, 40)}, ask = {0};
            bid.ticks = price_add(mp.centre, (bid.ticks - 1000) * mp.stride);
            ask.ticks = price_add(bid.ticks, 1);
            size_t na;
            xr_err e = xr_ibook_marketable(&t->b, &bid, &ask, ids_a, orders_max + 1, &na);
            assert_int_equal(e, XR_OK);
            size_t nb = 0;
            for (int s = 0; s < 2; s++)
                for (size_t i = 0; i < r.n[s]; i++) {
                    const ref_order *o = &r.side[s][i];
                    if (s == XR_IBOOK_BUY ? o->price >= ask.ticks : o->price <= bid.ticks)
                        ids_b[nb++] = o->id;
                }
            assert_int_equal(na, nb);
            assert_memory_equal(ids_a, ids_b, na * sizeof ids_a[0]);
            stats[6]++;
        }
        compare_fills(&t->f, &want, op);
        stats[7] += want.n;
        if (op % 1000 == 999)
            mp.centre = price_add(mp.centre, mp.drift);
        compare_depth(t, &r, buf, bufcap, op);
        if (xr_ibook_verify(&t->b) != XR_OK)
            fail_msg("op %llu: verify failed", (unsigned long long)op);
    }
    print_message(
        "model seed %llu cap %u: %llu ops, %llu fills, %llu rested-or-done, %llu "
        "NO_MEMORY, %llu cancels, %llu moves, %llu expired, %llu queries\n",
        (unsigned long long)seed, orders_max, (unsigned long long)ops, (unsigned long long)stats[7],
        (unsigned long long)stats[0], (unsigned long long)stats[1], (unsigned long long)stats[3],
        (unsigned long long)stats[4], (unsigned long long)stats[5], (unsigned long long)stats[6]);
    assert_true(stats[7] > ops / 20); /* the mix really trades */
    if (orders_max < 100)
        assert_true(stats[1] > 0); /* and the small book really runs full */
    free(buf);
    free(ids_a);
    free(ids_b);
    free(want.v);
    free(r.side[0]);
    free(r.side[1]);
    tb_free(t);
}

/* The levels of `side`, best first, are exactly `prices` (n of them). */
static void expect_depth(const tbook *t, xr_ibook_side side, const xr_i128 *prices, size_t n)
{
    xr_ibook_level_info lv[16];
    size_t got;
    assert_int_equal(xr_ibook_depth(&t->b, side, lv, 16, &got), XR_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_true(lv[i].price.ticks == prices[i]);
    xr_price best;
    if (n == 0) {
        assert_int_equal(xr_ibook_best(&t->b, side, &best, NULL), XR_ERR_NOT_FOUND);
    } else {
        assert_int_equal(xr_ibook_best(&t->b, side, &best, NULL), XR_OK);
        assert_true(best.ticks == prices[0]);
    }
}

/* Prices beyond the price window (XR_IBOOK_WINDOW_TICKS ticks around the best price): a new
 * best far above re-centres the window and sends the old levels below it; emptying the
 * window brings the best far level back into it; a sweep and the queries walk the window
 * and then the far levels, best first, on both sides. */
static void test_window_recentre_and_far_levels(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    const xr_i128 m = 1000000000;
    const xr_i128 far = 10 * (xr_i128)XR_IBOOK_WINDOW_TICKS;
    /* Bids. */
    submit(t, 1, XR_IBOOK_BUY, XR_IBOOK_GTC, (int64_t)m, 1);
    submit(t, 2, XR_IBOOK_BUY, XR_IBOOK_GTC, (int64_t)(m + far), 1); /* re-centres up */
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){m + far, m}, 2);
    submit(t, 3, XR_IBOOK_BUY, XR_IBOOK_GTC, (int64_t)(m - far), 1); /* far below */
    submit(t, 4, XR_IBOOK_BUY, XR_IBOOK_GTC, (int64_t)(m + 1), 1);   /* far, between */
    submit(t, 5, XR_IBOOK_BUY, XR_IBOOK_GTC, (int64_t)(m + far - 1), 1);
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){m + far, m + far - 1, m + 1, m, m - far}, 5);
    assert_int_equal(xr_ibook_cancel(&t->b, 2, NULL), XR_OK);
    assert_int_equal(xr_ibook_cancel(&t->b, 5, NULL), XR_OK); /* the window empties */
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){m + 1, m, m - far}, 3);
    /* A move far up and back down again re-centres twice and re-queues each time. */
    xr_ibook_result r;
    assert_int_equal(xr_ibook_move(&t->b, 1, (xr_price){m + 3 * far}, (xr_amount){1}, &r), XR_OK);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){m + 3 * far, m + 1, m - far}, 3);
    assert_int_equal(xr_ibook_move(&t->b, 1, (xr_price){m - far}, (xr_amount){1}, &r), XR_OK);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){m + 1, m - far}, 2);
    /* Asks, mirrored: the best is the lowest price. */
    submit(t, 11, XR_IBOOK_SELL, XR_IBOOK_GTC, (int64_t)(m + 5 * far), 1);
    submit(t, 12, XR_IBOOK_SELL, XR_IBOOK_GTC, (int64_t)(m + 2 * far), 1); /* re-centres */
    submit(t, 13, XR_IBOOK_SELL, XR_IBOOK_GTC, (int64_t)(m + 9 * far), 1);
    submit(t, 14, XR_IBOOK_SELL, XR_IBOOK_GTC, (int64_t)(m + 2 * far + 7), 1);
    expect_depth(t, XR_IBOOK_SELL,
                 (xr_i128[]){m + 2 * far, m + 2 * far + 7, m + 5 * far, m + 9 * far}, 4);
    /* FOK counts across the window and the far levels; the sweep takes them in order. */
    r = submit(t, 20, XR_IBOOK_BUY, XR_IBOOK_FOK, (int64_t)(m + 9 * far), 5);
    assert_int_equal(r.outcome, XR_IBOOK_KILLED);
    r = submit(t, 21, XR_IBOOK_BUY, XR_IBOOK_FOK, (int64_t)(m + 9 * far), 4);
    assert_int_equal(r.outcome, XR_IBOOK_FILLED);
    expect_fill(t, 0, 21, 12, (int64_t)(m + 2 * far), 1);
    expect_fill(t, 1, 21, 14, (int64_t)(m + 2 * far + 7), 1);
    expect_fill(t, 2, 21, 11, (int64_t)(m + 5 * far), 1);
    expect_fill(t, 3, 21, 13, (int64_t)(m + 9 * far), 1);
    expect_depth(t, XR_IBOOK_SELL, NULL, 0);
    /* A sell sweeping the bids: window level, then the far one. */
    submit(t, 30, XR_IBOOK_BUY, XR_IBOOK_GTD, (int64_t)(m - 2 * far), 1); /* far, GTD */
    uint64_t ids[8];
    size_t n;
    xr_price bid = {m - 2 * far}, ask = {m - 2 * far + 1};
    assert_int_equal(xr_ibook_marketable(&t->b, &bid, &ask, ids, 8, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_true(ids[0] == 4 && ids[1] == 3 && ids[2] == 1); /* 1 re-queued behind 3 */
    r = submit(t, 31, XR_IBOOK_SELL, XR_IBOOK_IOC, 1, 10);
    assert_int_equal(r.outcome, XR_IBOOK_CANCELLED);
    assert_int_equal(r.fills, 4);
    expect_fill(t, 0, 31, 4, (int64_t)(m + 1), 1);
    expect_fill(t, 1, 31, 3, (int64_t)(m - far), 1);
    expect_fill(t, 2, 31, 1, (int64_t)(m - far), 1);
    expect_fill(t, 3, 31, 30, (int64_t)(m - 2 * far), 1);
    expect_depth(t, XR_IBOOK_BUY, NULL, 0);
    assert_int_equal(xr_ibook_count(&t->b), 0);
    tb_free(t);
}

/* The smallest and largest ticks on both sides: the window clamps at the ends of the i128
 * range rather than overflowing. */
static void test_extreme_ticks(void **state)
{
    (void)state;
    tbook *t = tb_new(64);
    const xr_i128 max = XR_I128_MAX;
    xr_ibook_order o = {1, XR_IBOOK_SELL, XR_IBOOK_GTC, {max}, {1}, 0};
    xr_ibook_result r;
    xr_i128 sells[] = {max, max - 1, max - 1000000, max - (xr_i128)XR_IBOOK_WINDOW_TICKS};
    for (uint64_t i = 0; i < 4; i++) {
        o.id = 1 + i;
        o.price.ticks = sells[i];
        assert_int_equal(xr_ibook_submit(&t->b, &o, 0, &r), XR_OK);
        assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    }
    expect_depth(t, XR_IBOOK_SELL,
                 (xr_i128[]){max - 1000000, max - (xr_i128)XR_IBOOK_WINDOW_TICKS, max - 1, max}, 4);
    xr_i128 buys[] = {1, 2, 5000, max - 2000000};
    o.side = XR_IBOOK_BUY;
    for (uint64_t i = 0; i < 4; i++) {
        o.id = 10 + i;
        o.price.ticks = buys[i];
        assert_int_equal(xr_ibook_submit(&t->b, &o, 0, &r), XR_OK);
        assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    }
    expect_depth(t, XR_IBOOK_BUY, (xr_i128[]){max - 2000000, 5000, 2, 1}, 4);
    /* A bid at the largest tick takes every ask, at the asks' prices. */
    xr_ibook_order take = {20, XR_IBOOK_BUY, XR_IBOOK_IOC, {max}, {10}, 0};
    t->f.n = 0;
    assert_int_equal(xr_ibook_submit(&t->b, &take, 0, &r), XR_OK);
    assert_int_equal(r.fills, 4);
    const uint64_t makers[] = {3, 4, 2, 1};
    for (size_t i = 0; i < 4; i++)
        assert_true(t->f.v[i].maker_id == makers[i] &&
                    t->f.v[i].price.ticks == sells[makers[i] - 1]);
    expect_depth(t, XR_IBOOK_SELL, NULL, 0);
    /* A sell at the smallest tick takes every bid. */
    take = (xr_ibook_order){21, XR_IBOOK_SELL, XR_IBOOK_IOC, {1}, {10}, 0};
    t->f.n = 0;
    assert_int_equal(xr_ibook_submit(&t->b, &take, 0, &r), XR_OK);
    assert_int_equal(r.fills, 4);
    for (size_t i = 0; i < 4; i++)
        assert_true(t->f.v[i].maker_id == 13 - i && t->f.v[i].price.ticks == buys[3 - i]);
    assert_int_equal(xr_ibook_count(&t->b), 0);
    assert_int_equal(xr_ibook_verify(&t->b), XR_OK);
    tb_free(t);
}

static void test_model_far_levels(void **state)
{
    (void)state;
    /* 1,500 ticks between the model's prices: most levels lie outside the window. */
    run_model_at(4, 1024, 30000, 1, (model_prices){1000000000, 1500, 0});
}

static void test_model_trending(void **state)
{
    (void)state;
    /* The market climbs about 12,000 ticks, then another book falls 21,000: the window
     * re-centres again and again and orders left behind become far levels. */
    run_model_at(5, 1024, 30000, 1, (model_prices){1000000, 3, 400});
    run_model_at(6, 1024, 30000, 1, (model_prices){10000000, 1, -700});
}

static void test_model_extreme_ticks(void **state)
{
    (void)state;
    /* Next to the largest tick (many prices clamp to it) and next to the smallest. */
    run_model_at(7, 512, 20000, 1, (model_prices){XR_I128_MAX - 20, 1, 0});
    run_model_at(8, 512, 20000, 1, (model_prices){20, 1, 0});
}

static void run_model(uint64_t seed, uint32_t orders_max, uint64_t ops, xr_i128 unit)
{
    run_model_at(seed, orders_max, ops, unit, (model_prices){1000, 1, 0});
}

static void test_model_large(void **state)
{
    (void)state;
    run_model(1, 4096, 120000, 1);
}

static void test_model_small_full(void **state)
{
    (void)state;
    run_model(2, 12, 40000, 1);
}

static void test_model_wide_numbers(void **state)
{
    (void)state;
    /* Quantities of 10^22 units and more: nothing may truncate to 64 bits. */
    xr_i128 unit = 1;
    for (int i = 0; i < 22; i++)
        unit *= 10;
    run_model(3, 512, 30000, unit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_arguments),
        cmocka_unit_test(test_order_arguments),
        cmocka_unit_test(test_price_time_priority),
        cmocka_unit_test(test_partial_fills_and_crossing_price),
        cmocka_unit_test(test_ioc_remainder),
        cmocka_unit_test(test_fok_all_or_nothing),
        cmocka_unit_test(test_gtd_expiry),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_move_rules),
        cmocka_unit_test(test_marketable),
        cmocka_unit_test(test_pool_exhaustion),
        cmocka_unit_test(test_large_quantities),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_model_large),
        cmocka_unit_test(test_model_small_full),
        cmocka_unit_test(test_model_wide_numbers),
        cmocka_unit_test(test_window_recentre_and_far_levels),
        cmocka_unit_test(test_extreme_ticks),
        cmocka_unit_test(test_model_far_levels),
        cmocka_unit_test(test_model_trending),
        cmocka_unit_test(test_model_extreme_ticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
