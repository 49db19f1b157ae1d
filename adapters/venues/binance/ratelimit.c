/*
 * Binance rate limits (see ratelimit.h for the model and its reasons).
 */
#include "adapters/venues/binance/ratelimit.h"

#include <string.h>

#include "core/base/assert.h"

#define NS_PER_SEC 1000000000ull

static void set_bucket(xr_binance_bucket *b, uint8_t kind, uint32_t limit, uint64_t interval_s,
                       const char *suffix)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->limit = limit;
    b->interval_ns = interval_s * NS_PER_SEC;
    size_t n = strlen(suffix);
    XR_ASSERT(n < sizeof b->header_suffix);
    memcpy(b->header_suffix, suffix, n + 1);
}

void xr_binance_limiter_init(xr_binance_limiter *l, uint64_t seed)
{
    XR_ASSERT(l != NULL);
    memset(l, 0, sizeof *l);
    set_bucket(&l->buckets[0], XR_BINANCE_LIMIT_REQUEST_WEIGHT, 6000, 60, "1M");
    set_bucket(&l->buckets[1], XR_BINANCE_LIMIT_ORDERS, 10, 1, "1S");
    set_bucket(&l->buckets[2], XR_BINANCE_LIMIT_RAW_REQUESTS, 61000, 300, "5M");
    l->n = 3;
    l->guard_ns = 500 * 1000000ull;
    l->backoff_base_ns = NS_PER_SEC;
    l->backoff_max_ns = 300 * NS_PER_SEC;
    l->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

xr_err xr_binance_limiter_configure(xr_binance_limiter *l, const xr_binance_rate_limit *limits,
                                    uint32_t n)
{
    XR_ASSERT(l != NULL && (limits != NULL || n == 0));
    if (n == 0 || n > XR_BINANCE_LIMITS_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < n; i++) {
        if (limits[i].limit == 0 || limits[i].interval_s == 0 ||
            limits[i].kind > XR_BINANCE_LIMIT_RAW_REQUESTS ||
            memchr(limits[i].header_suffix, '\0', sizeof limits[i].header_suffix) == NULL)
            return XR_ERR_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < n; i++)
        set_bucket(&l->buckets[i], limits[i].kind, limits[i].limit, limits[i].interval_s,
                   limits[i].header_suffix);
    l->n = n;
    return XR_OK;
}

/* The window a bucket counts in at `now`: it moves on only `guard` after the boundary. */
static uint64_t window_of(const xr_binance_limiter *l, const xr_binance_bucket *b, uint64_t now)
{
    return now < l->guard_ns ? 0 : (now - l->guard_ns) / b->interval_ns;
}

static void roll(const xr_binance_limiter *l, xr_binance_bucket *b, uint64_t now)
{
    uint64_t w = window_of(l, b, now);
    if (w > b->window) {
        b->used = w == b->window + 1 ? b->carry : 0;
        b->carry = 0;
        b->window = w;
    }
}

/* Past the boundary but inside the guard: the venue may already count in the next window. */
static bool in_guard(const xr_binance_bucket *b, uint64_t now)
{
    return now >= (b->window + 1) * b->interval_ns;
}

static uint64_t cost_of(const xr_binance_bucket *b, uint32_t weight, bool is_order)
{
    switch (b->kind) {
    case XR_BINANCE_LIMIT_REQUEST_WEIGHT:
        return weight;
    case XR_BINANCE_LIMIT_ORDERS:
        return is_order ? 1 : 0;
    default:
        return 1;
    }
}

xr_err xr_binance_limiter_acquire(xr_binance_limiter *l, uint64_t now_ns, uint32_t weight,
                                  bool is_order, uint64_t *retry_at_ns)
{
    XR_ASSERT(l != NULL);
    uint64_t retry = 0;
    if (now_ns < l->blocked_until_ns)
        retry = l->blocked_until_ns;
    for (uint32_t i = 0; i < l->n; i++) {
        xr_binance_bucket *b = &l->buckets[i];
        uint64_t cost = cost_of(b, weight, is_order);
        if (cost > b->limit)
            return XR_ERR_INVALID_ARGUMENT;
        roll(l, b, now_ns);
        if (b->used + cost > b->limit || (in_guard(b, now_ns) && b->carry + cost > b->limit)) {
            /* The next window, once its guard has passed. */
            uint64_t next = (b->window + 1) * b->interval_ns + l->guard_ns;
            if (next > retry)
                retry = next;
        }
    }
    if (retry != 0) {
        l->stats.deferred++;
        if (retry_at_ns != NULL)
            *retry_at_ns = retry;
        return XR_ERR_RATE_LIMITED;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        xr_binance_bucket *b = &l->buckets[i];
        uint64_t cost = cost_of(b, weight, is_order);
        b->used += cost;
        if (in_guard(b, now_ns))
            b->carry += cost;
    }
    l->stats.granted++;
    if (retry_at_ns != NULL)
        *retry_at_ns = now_ns;
    return XR_OK;
}

static bool name_has_prefix(const char *name, size_t len, const char *prefix, size_t *rest)
{
    size_t n = strlen(prefix);
    if (len <= n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != prefix[i])
            return false;
    }
    *rest = n;
    return true;
}

static bool suffix_equal(const char *s, size_t len, const char *suffix)
{
    if (strlen(suffix) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != suffix[i])
            return false;
    }
    return true;
}

void xr_binance_limiter_on_header(xr_binance_limiter *l, uint64_t now_ns, const char *name,
                                  size_t name_len, const char *value, size_t value_len)
{
    XR_ASSERT(l != NULL);
    if (name == NULL || value == NULL)
        return;
    size_t at;
    uint8_t kind;
    if (name_has_prefix(name, name_len, "X-MBX-USED-WEIGHT-", &at))
        kind = XR_BINANCE_LIMIT_REQUEST_WEIGHT;
    else if (name_has_prefix(name, name_len, "X-MBX-ORDER-COUNT-", &at))
        kind = XR_BINANCE_LIMIT_ORDERS;
    else
        return;
    /* Header values may carry surrounding whitespace; the number itself must be plain. */
    while (value_len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;
    if (value_len == 0 || value_len > 12)
        return;
    uint64_t used = 0;
    for (size_t i = 0; i < value_len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return;
        used = used * 10 + (uint64_t)(value[i] - '0');
    }
    for (uint32_t i = 0; i < l->n; i++) {
        xr_binance_bucket *b = &l->buckets[i];
        if (b->kind != kind || !suffix_equal(name + at, name_len - at, b->header_suffix))
            continue;
        roll(l, b, now_ns);
        if (used > b->used) {
            b->used = used;
            l->stats.corrected++;
        }
        /* Inside the guard the count may be the next window's: it binds both. */
        if (in_guard(b, now_ns) && used > b->carry)
            b->carry = used;
    }
}

static uint64_t next_random(xr_binance_limiter *l)
{
    uint64_t z = (l->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void xr_binance_limiter_on_response(xr_binance_limiter *l, uint64_t now_ns, int http_status,
                                    int64_t retry_after_s)
{
    XR_ASSERT(l != NULL);
    if (http_status != 429 && http_status != 418) {
        if (http_status > 0 && http_status < 500)
            l->consecutive = 0;
        return;
    }
    l->stats.violations++;
    l->consecutive++;
    uint64_t delay;
    if (retry_after_s >= 0) {
        delay = retry_after_s > (int64_t)(UINT64_MAX / NS_PER_SEC / 4)
                    ? UINT64_MAX / 4
                    : (uint64_t)retry_after_s * NS_PER_SEC;
    } else {
        unsigned shift = l->consecutive > 20 ? 20 : l->consecutive - 1;
        delay = l->backoff_base_ns << shift;
        if (delay > l->backoff_max_ns)
            delay = l->backoff_max_ns;
    }
    /* Jitter spreads the retries of many clients; it only adds, so Retry-After holds. */
    uint64_t jitter = delay / 4 == 0 ? 0 : next_random(l) % (delay / 4 + 1);
    uint64_t until = now_ns + delay + jitter;
    if (until > l->blocked_until_ns)
        l->blocked_until_ns = until;
    /* Whatever the headers said, the venue considers the weight spent for this window. */
    for (uint32_t i = 0; i < l->n; i++) {
        xr_binance_bucket *b = &l->buckets[i];
        if (b->kind != XR_BINANCE_LIMIT_REQUEST_WEIGHT && http_status != 418)
            continue;
        roll(l, b, now_ns);
        b->used = b->limit;
    }
}

uint64_t xr_binance_limiter_blocked_until(const xr_binance_limiter *l)
{
    XR_ASSERT(l != NULL);
    return l->blocked_until_ns;
}
