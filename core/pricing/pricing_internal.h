/*
 * core/pricing/pricing_internal.h - the pricer's private types, shared by pricing.c (pairs,
 * consolidated book, walk) and quote.c (spreads, firm quotes).
 */
#ifndef XR_PRICING_PRICING_INTERNAL_H
#define XR_PRICING_PRICING_INTERNAL_H

#include "core/pricing/pricing.h"

/* A venue's lot step with what pricing.c needs to test divisibility by it without dividing
 * (lot <= 1: every q passes; lot beyond 64 bits: only 0 does). Cached per venue at registration;
 * the walk uses it only while the instrument's lot is still `lot`. */
typedef struct xr_pricing_lot_test {
    xr_i128 lot;
    uint64_t inv;   /* the inverse of lot's odd part mod 2^64 */
    uint64_t max;   /* floor((2^64 - 1) / lot) */
    unsigned shift; /* trailing zero bits of lot */
} xr_pricing_lot_test;

struct xr_pricing_pair {
    char name[XR_PAIR_NAME_MAX + 1];
    xr_pair_scale scale;
    uint32_t n_venues;
    /* An exact sum of qty x price (base units x ticks) is quote units x den / num:
     * quote = raw x num / den, with den = 10^(base + price - quote) or num the inverse. */
    xr_i128 num, den;
    xr_i128 lot_min; /* the finest lot step over the venues; 0 when some venue has none */
    xr_pricing_venue venues[XR_PRICING_VENUES_MAX];
    xr_pricing_lot_test lot_tests[XR_PRICING_VENUES_MAX];
};

struct xr_pricing_spread {
    uint32_t bank;
    uint32_t pair;
    uint32_t tier; /* UINT32_MAX marks an empty slot */
    uint32_t bps;
};

#define XR_PRICING_SPREAD_EMPTY UINT32_MAX

/* 10^4 +/- bps as an i128 factor. */
static inline xr_i128 xr_pricing_bps_up(uint32_t bps)
{
    return (xr_i128)XR_PRICING_BPS_ONE + (xr_i128)bps;
}

static inline xr_i128 xr_pricing_bps_down(uint32_t bps)
{
    return (xr_i128)XR_PRICING_BPS_ONE - (xr_i128)bps;
}

#endif /* XR_PRICING_PRICING_INTERNAL_H */
