/* Binance rate limiter: buckets from the captured exchangeInfo limits, window refills with
 * the guard, all-or-nothing acquisition across buckets, X-MBX-* header corrections, backoff
 * after 429/418 (Retry-After honoured, exponential with jitter without it), and a simulated
 * venue that counts like Binance (fixed windows) while another process on the same IP spends
 * weight: after the first 429 the client never causes another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/ratelimit.h"
#include "tests/unit/venue_test_util.h"

#define SEC 1000000000ull
#define MS  1000000ull

/* The limits of rest/exchange_info_captured_nautilus.json, loaded through the codec. */
static void captured_limits(xr_binance_limiter *l)
{
    xr_asset_registry assets;
    xr_assets_init_default(&assets);
    _Alignas(16) static unsigned char mem[1 << 14];
    xr_instruments t;
    assert_int_equal(xr_instruments_init(&t, mem, sizeof mem, 8, 1), XR_OK);
    xr_binance_codec c = {&assets, &t, 1, 0};
    size_t n;
    char *buf = vt_load("binance/rest/exchange_info_captured_nautilus.json", &n);
    xr_binance_exchange_info info;
    assert_int_equal(xr_binance_load_exchange_info(&c, buf, n, &info, NULL), XR_OK);
    free(buf);
    xr_binance_limiter_init(l, 42);
    assert_int_equal(xr_binance_limiter_configure(l, info.limits, info.n_limits), XR_OK);
    assert_int_equal(l->n, 4);
}

/* The start of a minute on the venue's clock. */
static const uint64_t MINUTE = 60 * SEC * 28333334ull;

static void test_weight_window(void **state)
{
    (void)state;
    xr_binance_limiter l;
    captured_limits(&l);
    uint64_t t = MINUTE + 1 * SEC, retry = 0;
    /* 1200 weight a minute: sixty requests of 20, then nothing until the next minute (plus
     * the 500 ms guard). */
    for (int i = 0; i < 60; i++)
        assert_int_equal(xr_binance_limiter_acquire(&l, t, 20, false, &retry), XR_OK);
    assert_int_equal(xr_binance_limiter_acquire(&l, t, 1, false, &retry), XR_ERR_RATE_LIMITED);
    assert_int_equal(retry, MINUTE + 60 * SEC + 500 * MS);
    assert_int_equal(xr_binance_limiter_acquire(&l, MINUTE + 59 * SEC, 1, false, &retry),
                     XR_ERR_RATE_LIMITED);
    /* Past the boundary but inside the guard: still the old window. */
    assert_int_equal(xr_binance_limiter_acquire(&l, MINUTE + 60 * SEC + 100 * MS, 1, false, &retry),
                     XR_ERR_RATE_LIMITED);
    assert_int_equal(xr_binance_limiter_acquire(&l, retry, 1200, false, &retry), XR_OK);
    assert_int_equal(l.stats.granted, 61);
    /* Heavier than a whole window: never. */
    assert_int_equal(xr_binance_limiter_acquire(&l, retry, 1201, false, NULL),
                     XR_ERR_INVALID_ARGUMENT);
}

static void test_orders_and_all_or_nothing(void **state)
{
    (void)state;
    xr_binance_limiter l;
    captured_limits(&l);
    uint64_t t = MINUTE + 2 * SEC, retry = 0;
    /* 50 orders per 10 s. */
    for (int i = 0; i < 50; i++)
        assert_int_equal(xr_binance_limiter_acquire(&l, t, 1, true, &retry), XR_OK);
    assert_int_equal(xr_binance_limiter_acquire(&l, t, 1, true, &retry), XR_ERR_RATE_LIMITED);
    assert_int_equal(retry, MINUTE + 10 * SEC + 500 * MS);
    /* A refused order takes nothing: the weight of the failed attempt is still there. */
    assert_int_equal(l.buckets[0].used, 50);
    /* A query (not an order) still passes. */
    assert_int_equal(xr_binance_limiter_acquire(&l, t, 4, false, &retry), XR_OK);
    assert_int_equal(xr_binance_limiter_acquire(&l, MINUTE + 10 * SEC + 500 * MS, 1, true, &retry),
                     XR_OK);
}

static void test_header_corrections(void **state)
{
    (void)state;
    xr_binance_limiter l;
    captured_limits(&l);
    uint64_t t = MINUTE + 3 * SEC, retry;
    /* Someone else on our IP already spent 1150 of 1200. */
    const char *h = "X-MBX-USED-WEIGHT-1M";
    xr_binance_limiter_on_header(&l, t, h, strlen(h), " 1150 ", 6);
    assert_int_equal(l.stats.corrected, 1);
    assert_int_equal(xr_binance_limiter_acquire(&l, t, 50, false, &retry), XR_OK);
    assert_int_equal(xr_binance_limiter_acquire(&l, t, 1, false, &retry), XR_ERR_RATE_LIMITED);
    /* A lower count never loosens the bucket; case does not matter; other headers, other
     * windows and bad values are ignored. */
    const char *lower = "x-mbx-used-weight-1m";
    xr_binance_limiter_on_header(&l, t, lower, strlen(lower), "3", 1);
    assert_int_equal(l.buckets[0].used, 1200);
    const char *orders = "X-MBX-ORDER-COUNT-10s";
    xr_binance_limiter_on_header(&l, t, orders, strlen(orders), "49", 2);
    assert_int_equal(l.buckets[1].used, 49);
    const char *day = "X-MBX-ORDER-COUNT-1D";
    xr_binance_limiter_on_header(&l, t, day, strlen(day), "x9", 2);
    xr_binance_limiter_on_header(&l, t, day, strlen(day), "", 0);
    assert_int_equal(l.buckets[2].used, 0);
    const char *other = "Content-Length";
    xr_binance_limiter_on_header(&l, t, other, strlen(other), "99999", 5);
    const char *unknown = "X-MBX-USED-WEIGHT-1H";
    xr_binance_limiter_on_header(&l, t, unknown, strlen(unknown), "99999", 5);
    assert_int_equal(l.stats.corrected, 2);
}

static void test_backoff(void **state)
{
    (void)state;
    xr_binance_limiter l;
    captured_limits(&l);
    uint64_t t = MINUTE + 5 * SEC, retry;
    /* 429 with Retry-After 7: blocked for 7 s plus at most a quarter of it. */
    xr_binance_limiter_on_response(&l, t, 429, 7);
    uint64_t until = xr_binance_limiter_blocked_until(&l);
    assert_true(until >= t + 7 * SEC && until <= t + 7 * SEC + 7 * SEC / 4);
    assert_int_equal(xr_binance_limiter_acquire(&l, until - 1, 1, false, &retry),
                     XR_ERR_RATE_LIMITED);
    assert_true(retry >= until);
    /* The weight of this window is considered spent, so the retry is the next window. */
    assert_int_equal(retry, MINUTE + 60 * SEC + 500 * MS);
    assert_int_equal(xr_binance_limiter_acquire(&l, retry, 1, false, NULL), XR_OK);

    /* Without Retry-After: 1 s, 2 s, 4 s... (each plus jitter), capped at 5 min. */
    xr_binance_limiter_init(&l, 7);
    uint64_t base = MINUTE + 70 * SEC;
    for (unsigned n = 1; n <= 12; n++) {
        xr_binance_limiter_on_response(&l, base, 429, -1);
        uint64_t d = xr_binance_limiter_blocked_until(&l) - base;
        uint64_t want = (1ull << (n - 1)) * SEC;
        if (want > 300 * SEC)
            want = 300 * SEC;
        assert_true(d >= want && d <= want + want / 4);
        l.blocked_until_ns = 0; /* look at each delay alone */
    }
    /* A success ends the run; the next violation starts at 1 s again. */
    xr_binance_limiter_on_response(&l, base, 200, -1);
    xr_binance_limiter_on_response(&l, base, 429, -1);
    assert_true(xr_binance_limiter_blocked_until(&l) - base <= SEC + SEC / 4);
    /* 418 (banned) with Retry-After 120. */
    xr_binance_limiter_on_response(&l, base, 418, 120);
    assert_true(xr_binance_limiter_blocked_until(&l) >= base + 120 * SEC);
    assert_int_equal(l.stats.violations, 14);
}

/* A venue that counts weight the documented way: per calendar minute, everyone on the IP
 * together; over the limit it answers 429 with Retry-After to the end of the minute. */
typedef struct venue {
    uint64_t minute, used, violations_after_first, violations;
} venue;

static int venue_request(venue *v, uint64_t now, uint32_t weight, uint64_t *used_header,
                         int64_t *retry_after)
{
    uint64_t m = now / (60 * SEC);
    if (m != v->minute) {
        v->minute = m;
        v->used = 0;
    }
    if (v->used + weight > 1200) {
        v->violations++;
        *retry_after = (int64_t)(((m + 1) * 60 * SEC - now + SEC - 1) / SEC);
        *used_header = v->used;
        return 429;
    }
    v->used += weight;
    *used_header = v->used;
    *retry_after = -1;
    return 200;
}

static void test_storm_never_a_second_violation(void **state)
{
    (void)state;
    xr_binance_limiter l;
    captured_limits(&l);
    venue v = {0, 0, 0, 0};
    uint64_t now = MINUTE + 30 * SEC;
    uint64_t sent = 0;
    /* Ten minutes of a client sending weight-5 requests as fast as the limiter allows,
     * while another process on the IP spends weight the client does not see: 1198 right
     * away, then 700 at the start of every minute. */
    uint64_t other_minute = UINT64_MAX;
    while (now < MINUTE + 630 * SEC) {
        uint64_t m = now / (60 * SEC);
        if (m != other_minute) {
            uint64_t hdr;
            int64_t ra;
            venue_request(&v, now, other_minute == UINT64_MAX ? 1198 : 700, &hdr, &ra);
            other_minute = m;
        }
        uint64_t retry = 0;
        if (xr_binance_limiter_acquire(&l, now, 5, false, &retry) != XR_OK) {
            now = retry;
            continue;
        }
        uint64_t used;
        int64_t retry_after;
        int status = venue_request(&v, now, 5, &used, &retry_after);
        char value[24];
        int n = snprintf(value, sizeof value, "%llu", (unsigned long long)used);
        const char *h = "X-MBX-USED-WEIGHT-1M";
        xr_binance_limiter_on_header(&l, now, h, strlen(h), value, (size_t)n);
        xr_binance_limiter_on_response(&l, now, status, retry_after);
        sent += status == 200;
        now += 2 * MS; /* a round trip */
    }
    /* The first request met a nearly spent window it could not know about: one 429. After
     * that, never another, and the client still used most of what was left to it (100
     * requests a minute for nine minutes). */
    assert_int_equal(v.violations, 1);
    assert_int_equal(l.stats.violations, 1);
    assert_true(sent > 800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_window),
        cmocka_unit_test(test_orders_and_all_or_nothing),
        cmocka_unit_test(test_header_corrections),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_storm_never_a_second_violation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
