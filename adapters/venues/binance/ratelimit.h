/*
 * adapters/venues/binance/ratelimit.h - Binance's request-weight and order-count limits, and
 * backoff after a 429 or 418, as an I/O-free limiter: functions take the time, nothing sleeps.
 *
 * Buckets: one per limit of exchangeInfo's rateLimits (REQUEST_WEIGHT per minute, ORDERS per
 * 10 s and per day, RAW_REQUESTS per 5 min), each a bucket of `limit` tokens that is refilled
 * at the venue's window boundary. Binance counts in fixed windows aligned to the interval
 * (the weight counter restarts every minute on the minute), so a bucket that refilled
 * smoothly could legally spend twice the limit inside one venue window; refilling at the
 * boundary cannot. A request takes its weight from every REQUEST_WEIGHT bucket, one token
 * from every RAW_REQUESTS bucket and, when it places an order, one from every ORDERS bucket,
 * all or nothing. The refill waits `guard_ns` past the boundary, and what is spent inside
 * that guard counts against both windows, so a clock offset between us and the venue smaller
 * than the guard never overspends either.
 *
 * Corrections: every response carries X-MBX-USED-WEIGHT-<n><unit> and, for orders,
 * X-MBX-ORDER-COUNT-<n><unit>: the venue's own count in the current window. A bucket takes the
 * larger of its count and the venue's (other processes on the same IP spend the same
 * weight), never the smaller.
 *
 * Backoff: a 429 or 418 blocks every request until Retry-After (seconds) has passed, or, when
 * the venue gave none, for base x 2^(n-1) after the n-th consecutive violation (capped), plus
 * a random jitter of up to a quarter of that; the jitter only ever adds, so Retry-After is
 * always honoured. A 429 or 418 also marks the weight buckets full for the rest of the
 * window. Together these make a second violation impossible when the venue counts as
 * documented. A success ends the run of violations.
 *
 * Time: `now_ns` is the venue's clock in nanoseconds since the Unix epoch (our wall clock
 * corrected by xr_binance_clock), so windows line up with Binance's.
 * Threading: one thread (the venue session's). Nothing allocates.
 * Errors: XR_OK; XR_ERR_RATE_LIMITED (acquire: not now, `*retry_at_ns` says when);
 * XR_ERR_INVALID_ARGUMENT (a request heavier than a whole window, or bad limits).
 */
#ifndef XR_VENUES_BINANCE_RATELIMIT_H
#define XR_VENUES_BINANCE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/venues/binance/codec.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xr_binance_bucket {
    uint8_t kind; /* xr_binance_limit_kind */
    char header_suffix[8];
    uint32_t limit;
    uint64_t interval_ns;
    uint64_t window; /* index of the window `used` counts in */
    uint64_t used;
    uint64_t carry; /* spent inside the guard after the boundary: the next window's too */
} xr_binance_bucket;

typedef struct xr_binance_limiter_stats {
    uint64_t granted;    /* requests allowed */
    uint64_t deferred;   /* acquire calls answered "not now" */
    uint64_t violations; /* 429 and 418 responses */
    uint64_t corrected;  /* header values that raised a bucket's count */
} xr_binance_limiter_stats;

typedef struct xr_binance_limiter {
    xr_binance_bucket buckets[XR_BINANCE_LIMITS_MAX];
    uint32_t n;
    uint64_t guard_ns;
    uint64_t backoff_base_ns, backoff_max_ns;
    uint64_t blocked_until_ns;
    uint32_t consecutive; /* violations since the last success */
    uint64_t rng;
    xr_binance_limiter_stats stats;
} xr_binance_limiter;

/* Binance's documented defaults (enums.md): REQUEST_WEIGHT 6000 per minute, ORDERS 10 per
 * second, RAW_REQUESTS 61000 per 5 minutes; guard 500 ms; backoff 1 s doubling to 5 min.
 * `seed` drives the jitter (tests pass a fixed one). */
void xr_binance_limiter_init(xr_binance_limiter *l, uint64_t seed);

/* Replaces the buckets with exchangeInfo's limits. XR_OK or XR_ERR_INVALID_ARGUMENT (none, or
 * a zero limit or interval); the limiter is unchanged on error. */
xr_err xr_binance_limiter_configure(xr_binance_limiter *l, const xr_binance_rate_limit *limits,
                                    uint32_t n);

/* Takes what a request costs (`weight`, and one order when `is_order`) from every bucket at
 * `now_ns`, or nothing: XR_OK, or XR_ERR_RATE_LIMITED with the earliest time worth trying
 * again in `*retry_at_ns` (may be NULL), or XR_ERR_INVALID_ARGUMENT when a bucket could
 * never hold it. */
xr_err xr_binance_limiter_acquire(xr_binance_limiter *l, uint64_t now_ns, uint32_t weight,
                                  bool is_order, uint64_t *retry_at_ns);

/* One response header (any case). Used-weight and order-count headers correct their bucket;
 * anything else is ignored, as are values that are not decimal integers. */
void xr_binance_limiter_on_header(xr_binance_limiter *l, uint64_t now_ns, const char *name,
                                  size_t name_len, const char *value, size_t value_len);

/* A response's HTTP status, with Retry-After in seconds (-1 when absent). */
void xr_binance_limiter_on_response(xr_binance_limiter *l, uint64_t now_ns, int http_status,
                                    int64_t retry_after_s);

/* Until when everything is blocked by backoff (0 or a past time: not blocked). */
uint64_t xr_binance_limiter_blocked_until(const xr_binance_limiter *l);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_RATELIMIT_H */
