/*
 * Exact money: decimal text, checked 128-bit arithmetic and amount x price.
 *
 * Every value is an integer; the only rounding is the one named by the caller's `xr_round`,
 * applied once to an exact quotient. Quotients are computed on magnitudes (unsigned), and the
 * sign is applied after rounding: this is what lets one routine serve floor, ceiling and
 * half-even for both signs without a second rounding step.
 *
 * Products of two 128-bit magnitudes need 254 bits, so a small unsigned 256-bit type (four
 * 64-bit limbs, least significant first) carries every intermediate, and a Knuth division
 * (TAOCP vol. 2, 4.3.1, Algorithm D, in the 64-bit-limb form of Hacker's Delight's divmnu)
 * turns it back into a 128-bit quotient and an exact remainder. When both operands fit in
 * 128 bits, which is the common case for real prices and sizes, the native division is used.
 */
#include "xroute/money.h"

#include <stdbool.h>
#include <string.h>

#include "core/base/assert.h"

/* ---- constants ------------------------------------------------------------------------ */

#define P10_19 10000000000000000000ull

/* One list of 10^0..10^38 feeds both tables below, so they cannot disagree. */
#define XR_POW10_LIST(X)                                                                           \
    X(1ull)                                                                                        \
    X(10ull)                                                                                       \
    X(100ull)                                                                                      \
    X(1000ull)                                                                                     \
    X(10000ull)                                                                                    \
    X(100000ull)                                                                                   \
    X(1000000ull)                                                                                  \
    X(10000000ull)                                                                                 \
    X(100000000ull)                                                                                \
    X(1000000000ull)                                                                               \
    X(10000000000ull)                                                                              \
    X(100000000000ull)                                                                             \
    X(1000000000000ull)                                                                            \
    X(10000000000000ull)                                                                           \
    X(100000000000000ull)                                                                          \
    X(1000000000000000ull)                                                                         \
    X(10000000000000000ull)                                                                        \
    X(100000000000000000ull)                                                                       \
    X(1000000000000000000ull)                                                                      \
    X(P10_19)                                                                                      \
    X((xr_u128)P10_19 * 10u)                                                                       \
    X((xr_u128)P10_19 * 100u)                                                                      \
    X((xr_u128)P10_19 * 1000u)                                                                     \
    X((xr_u128)P10_19 * 10000u)                                                                    \
    X((xr_u128)P10_19 * 100000u)                                                                   \
    X((xr_u128)P10_19 * 1000000u)                                                                  \
    X((xr_u128)P10_19 * 10000000u)                                                                 \
    X((xr_u128)P10_19 * 100000000u)                                                                \
    X((xr_u128)P10_19 * 1000000000u)                                                               \
    X((xr_u128)P10_19 * 10000000000u)                                                              \
    X((xr_u128)P10_19 * 100000000000u)                                                             \
    X((xr_u128)P10_19 * 1000000000000u)                                                            \
    X((xr_u128)P10_19 * 10000000000000u)                                                           \
    X((xr_u128)P10_19 * 100000000000000u)                                                          \
    X((xr_u128)P10_19 * 1000000000000000u)                                                         \
    X((xr_u128)P10_19 * 10000000000000000u)                                                        \
    X((xr_u128)P10_19 * 100000000000000000u)                                                       \
    X((xr_u128)P10_19 * 1000000000000000000u)                                                      \
    X((xr_u128)P10_19 *P10_19)

#define AS_POW10(p) (xr_u128)(p),
static const xr_u128 pow10_table[XR_SCALE_MAX + 1] = {XR_POW10_LIST(AS_POW10)};
#undef AS_POW10

/*
 * The parser keeps the digits read so far as a mantissa m whose final value is
 * m x 10^rem, rem being the fraction digits still owed to the scale. Appending digit d keeps
 * the value in range iff m x 10 + d <= floor(MAX / 10^rem), i.e. iff m < q or (m == q and
 * d <= r) with q, r the quotient and remainder of that bound by 10. Precomputing q and r
 * makes the per-digit check two comparisons and no division.
 */
typedef struct digit_limit {
    xr_u128 q;
    unsigned r;
} digit_limit;

#define AS_LIMIT(p)                                                                                \
    {(xr_u128)XR_I128_MAX / (xr_u128)(p) / 10u,                                                    \
     (unsigned)((xr_u128)XR_I128_MAX / (xr_u128)(p) % 10u)},
static const digit_limit digit_limits[XR_SCALE_MAX + 1] = {XR_POW10_LIST(AS_LIMIT)};
#undef AS_LIMIT

/* floor(MAX / 10^rem): the largest mantissa the parser's fast path accepts with rem digits
 * still owed to the scale. */
#define AS_MANTISSA_MAX(p) ((xr_u128)XR_I128_MAX / (xr_u128)(p)),
static const xr_u128 mantissa_max[XR_SCALE_MAX + 1] = {XR_POW10_LIST(AS_MANTISSA_MAX)};
#undef AS_MANTISSA_MAX

#define U128_MAG_MAX ((xr_u128)XR_I128_MAX)

_Static_assert(sizeof(xr_i128) == 16 && sizeof(xr_u128) == 16, "128-bit integers");
_Static_assert(XR_DECIMAL_STR_MAX >= 1 + 39 + 1 + 1 + 1,
               "sign, 39 digits, point, a leading 0 and the NUL fit the buffer");

static bool round_valid(xr_round r)
{
    return (unsigned)r <= (unsigned)XR_ROUND_HALF_EVEN;
}

static xr_u128 mag(xr_i128 v)
{
    /* Unsigned negation is defined for every value, INT128_MIN included. */
    return v < 0 ? (xr_u128)0 - (xr_u128)v : (xr_u128)v;
}

/* ---- rounding ------------------------------------------------------------------------- */

/*
 * `q` is the truncated magnitude of an exact quotient. `inexact` says the remainder is not
 * zero, and `half` compares the remainder with half the divisor (-1 below, 0 equal, +1
 * above). Rounding toward negative infinity grows the magnitude of a negative quotient and
 * keeps that of a positive one; ceiling is the mirror image; half-even does not depend on
 * the sign. The result is range-checked after the increment, so a rounding can never carry
 * a value out of [-MAX, MAX] unnoticed.
 */
static xr_err round_finish(xr_u128 q, bool inexact, int half, bool neg, xr_round r, xr_i128 *out)
{
    bool grow = false;
    if (inexact) {
        switch (r) {
        case XR_ROUND_DOWN:
            grow = neg;
            break;
        case XR_ROUND_UP:
            grow = !neg;
            break;
        case XR_ROUND_HALF_EVEN:
            grow = half > 0 || (half == 0 && (q & 1u) != 0);
            break;
        }
    }
    if (q > U128_MAG_MAX)
        return XR_ERR_OVERFLOW;
    if (grow) {
        if (q == U128_MAG_MAX)
            return XR_ERR_OVERFLOW;
        q++;
    }
    *out = neg ? -(xr_i128)q : (xr_i128)q;
    return XR_OK;
}

static int cmp_u128(xr_u128 a, xr_u128 b)
{
    return (a > b) - (a < b);
}

/* Divides magnitudes that fit 128 bits; `d` is not zero. */
static xr_err div_round_u128(xr_u128 n, xr_u128 d, bool neg, xr_round r, xr_i128 *out)
{
    XR_ASSERT(d != 0);
    xr_u128 q;
    xr_u128 rem;
    if ((n >> 64) == 0 && (d >> 64) == 0) {
        /* One hardware division instead of the 128-bit library routine. */
        q = (uint64_t)n / (uint64_t)d;
        rem = (uint64_t)n % (uint64_t)d;
    } else {
        q = n / d;
        rem = n - q * d;
    }
    XR_ASSERT(rem < d);
    /* rem < d, so comparing rem with d - rem compares 2 x rem with d without overflow. */
    return round_finish(q, rem != 0, cmp_u128(rem, d - rem), neg, r, out);
}

/* ---- 256-bit magnitudes --------------------------------------------------------------- */

typedef struct u256 {
    uint64_t w[4]; /* least significant limb first */
} u256;

static u256 u256_from_u128(xr_u128 v)
{
    u256 x = {{(uint64_t)v, (uint64_t)(v >> 64), 0, 0}};
    return x;
}

static bool u256_fits_u128(const u256 *x)
{
    return (x->w[2] | x->w[3]) == 0;
}

static xr_u128 u256_low_u128(const u256 *x)
{
    return ((xr_u128)x->w[1] << 64) | x->w[0];
}

static bool u256_is_zero(const u256 *x)
{
    return (x->w[0] | x->w[1] | x->w[2] | x->w[3]) == 0;
}

static int u256_cmp(const u256 *a, const u256 *b)
{
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != b->w[i])
            return a->w[i] > b->w[i] ? 1 : -1;
    }
    return 0;
}

/* a - b for a >= b. */
static u256 u256_sub(const u256 *a, const u256 *b)
{
    u256 d;
    unsigned borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t t;
        unsigned b1 = __builtin_sub_overflow(a->w[i], b->w[i], &t);
        unsigned b2 = __builtin_sub_overflow(t, (uint64_t)borrow, &d.w[i]);
        borrow = b1 | b2;
    }
    XR_ASSERT(borrow == 0);
    return d;
}

/* The exact 256-bit product of two 128-bit magnitudes. */
static u256 mul_128x128(xr_u128 a, xr_u128 b)
{
    uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
    uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
    xr_u128 p00 = (xr_u128)a0 * b0;
    xr_u128 p01 = (xr_u128)a0 * b1;
    xr_u128 p10 = (xr_u128)a1 * b0;
    xr_u128 p11 = (xr_u128)a1 * b1;
    /* Each column sum is at most three 64-bit values plus a carry: it fits 128 bits. */
    xr_u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    xr_u128 high = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + (uint64_t)p11;
    u256 x = {{(uint64_t)p00, (uint64_t)mid, (uint64_t)high,
               (uint64_t)(high >> 64) + (uint64_t)(p11 >> 64)}};
    return x;
}

/* x x m; false (and *x unspecified) when the product does not fit 256 bits. */
static bool mul_256x128(u256 *x, xr_u128 m)
{
    const uint64_t mw[2] = {(uint64_t)m, (uint64_t)(m >> 64)};
    uint64_t res[6] = {0};
    for (int j = 0; j < 2; j++) {
        uint64_t carry = 0;
        for (int i = 0; i < 4; i++) {
            /* (2^64-1)^2 + 2 x (2^64-1) = 2^128 - 1: the column never overflows. */
            xr_u128 t = (xr_u128)x->w[i] * mw[j] + res[i + j] + carry;
            res[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        res[j + 4] = carry;
    }
    if ((res[4] | res[5]) != 0)
        return false;
    memcpy(x->w, res, sizeof x->w);
    return true;
}

static int limb_count(const uint64_t *w, int n)
{
    while (n > 0 && w[n - 1] == 0)
        n--;
    return n;
}

/*
 * Knuth's Algorithm D on 64-bit limbs: q = u / v, r = u mod v, for u of m limbs and v of n
 * limbs, v[n-1] != 0, m >= n. q receives m - n + 1 limbs and r receives n limbs.
 */
static void divmod_limbs(uint64_t *q, uint64_t *r, const uint64_t *u, int m, const uint64_t *v,
                         int n)
{
    XR_ASSERT(n >= 1 && n <= 4 && m >= n && m <= 4 && v[n - 1] != 0);
    if (n == 1) {
        /* Short division: each step divides a value below v[0] x 2^64 by v[0]. */
        xr_u128 k = 0;
        for (int j = m - 1; j >= 0; j--) {
            xr_u128 cur = (k << 64) | u[j];
            q[j] = (uint64_t)(cur / v[0]);
            k = cur - (xr_u128)q[j] * v[0];
        }
        r[0] = (uint64_t)k;
        return;
    }

    /* Normalise so the divisor's top bit is set: then a quotient digit estimated from the top
     * two limbs is at most two too large, the test against the second divisor limb leaves it
     * at most one too large, and the (rare) add-back step removes that last error. */
    int s = __builtin_clzll(v[n - 1]);
    uint64_t vn[4];
    uint64_t un[5];
    for (int i = n - 1; i > 0; i--)
        vn[i] = (v[i] << s) | (s != 0 ? v[i - 1] >> (64 - s) : 0);
    vn[0] = v[0] << s;
    un[m] = s != 0 ? u[m - 1] >> (64 - s) : 0;
    for (int i = m - 1; i > 0; i--)
        un[i] = (u[i] << s) | (s != 0 ? u[i - 1] >> (64 - s) : 0);
    un[0] = u[0] << s;

    for (int j = m - n; j >= 0; j--) {
        xr_u128 num = ((xr_u128)un[j + n] << 64) | un[j + n - 1];
        xr_u128 qhat = num / vn[n - 1];
        xr_u128 rhat = num - qhat * vn[n - 1];
        while ((qhat >> 64) != 0 || qhat * vn[n - 2] > ((rhat << 64) | un[j + n - 2])) {
            qhat--;
            rhat += vn[n - 1];
            if ((rhat >> 64) != 0)
                break;
        }
        /* Multiply and subtract qhat x vn from un[j..j+n]; k carries the signed borrow. */
        xr_i128 k = 0;
        xr_i128 t;
        for (int i = 0; i < n; i++) {
            xr_u128 p = qhat * vn[i];
            t = (xr_i128)un[i + j] - k - (xr_i128)(uint64_t)p;
            un[i + j] = (uint64_t)t;
            k = (xr_i128)(p >> 64) - (t >> 64);
        }
        t = (xr_i128)un[j + n] - k;
        un[j + n] = (uint64_t)t;
        q[j] = (uint64_t)qhat;
        if (t < 0) {
            /* qhat was one too large: add the divisor back once. */
            q[j]--;
            xr_u128 c = 0;
            for (int i = 0; i < n; i++) {
                xr_u128 sum = (xr_u128)un[i + j] + vn[i] + c;
                un[i + j] = (uint64_t)sum;
                c = sum >> 64;
            }
            un[j + n] += (uint64_t)c;
        }
    }
    for (int i = 0; i < n - 1; i++)
        r[i] = (un[i] >> s) | (s != 0 ? un[i + 1] << (64 - s) : 0);
    r[n - 1] = un[n - 1] >> s;
}

/* n / d rounded by `r` and signed by `neg`, for 256-bit magnitudes; d is not zero. */
static xr_err div_round_u256(const u256 *n, const u256 *d, bool neg, xr_round r, xr_i128 *out)
{
    XR_ASSERT(!u256_is_zero(d));
    if (u256_fits_u128(n) && u256_fits_u128(d))
        return div_round_u128(u256_low_u128(n), u256_low_u128(d), neg, r, out);

    int m = limb_count(n->w, 4);
    int nd = limb_count(d->w, 4);
    u256 q = {{0}};
    u256 rem = {{0}};
    if (m < nd) {
        rem = *n; /* n < d: the quotient is 0 */
    } else {
        divmod_limbs(q.w, rem.w, n->w, m, d->w, nd);
    }
    XR_ASSERT(u256_cmp(&rem, d) < 0);
    if (!u256_fits_u128(&q))
        return XR_ERR_OVERFLOW;
    u256 other = u256_sub(d, &rem);
    return round_finish(u256_low_u128(&q), !u256_is_zero(&rem), u256_cmp(&rem, &other), neg, r,
                        out);
}

/* 10^k for k in 0..76 as a 256-bit magnitude. */
static u256 pow10_u256(unsigned k)
{
    XR_ASSERT(k <= 2 * XR_SCALE_MAX);
    if (k <= XR_SCALE_MAX)
        return u256_from_u128(pow10_table[k]);
    return mul_128x128(pow10_table[XR_SCALE_MAX], pow10_table[k - XR_SCALE_MAX]);
}

/* ---- checked integer arithmetic ------------------------------------------------------- */

xr_err xr_i128_add(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    xr_i128 s;
    if (__builtin_add_overflow(a, b, &s) || s < XR_I128_MIN)
        return XR_ERR_OVERFLOW;
    *out = s;
    return XR_OK;
}

xr_err xr_i128_sub(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    xr_i128 s;
    if (__builtin_sub_overflow(a, b, &s) || s < XR_I128_MIN)
        return XR_ERR_OVERFLOW;
    *out = s;
    return XR_OK;
}

xr_err xr_i128_mul(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    xr_i128 p;
    if (__builtin_mul_overflow(a, b, &p) || p < XR_I128_MIN)
        return XR_ERR_OVERFLOW;
    *out = p;
    return XR_OK;
}

xr_err xr_i128_div(xr_i128 a, xr_i128 d, xr_round r, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    if (d == 0 || !round_valid(r))
        return XR_ERR_INVALID_ARGUMENT;
    return div_round_u128(mag(a), mag(d), (a < 0) != (d < 0), r, out);
}

xr_err xr_i128_muldiv(xr_i128 a, xr_i128 b, xr_i128 d, xr_round r, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    if (d == 0 || !round_valid(r))
        return XR_ERR_INVALID_ARGUMENT;
    bool neg = ((a < 0) != (b < 0)) != (d < 0);
    xr_u128 ma = mag(a);
    xr_u128 mb = mag(b);
    if ((ma >> 64) == 0 && (mb >> 64) == 0)
        return div_round_u128(ma * mb, mag(d), neg, r, out);
    u256 n = mul_128x128(ma, mb);
    u256 dd = u256_from_u128(mag(d));
    return div_round_u256(&n, &dd, neg, r, out);
}

xr_err xr_i128_pow10(unsigned n, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    if (n > XR_SCALE_MAX)
        return XR_ERR_OVERFLOW;
    *out = (xr_i128)pow10_table[n];
    return XR_OK;
}

xr_err xr_amount_add(xr_amount a, xr_amount b, xr_amount *out)
{
    XR_ASSERT(out != NULL);
    return xr_i128_add(a.units, b.units, &out->units);
}

xr_err xr_amount_sub(xr_amount a, xr_amount b, xr_amount *out)
{
    XR_ASSERT(out != NULL);
    return xr_i128_sub(a.units, b.units, &out->units);
}

xr_err xr_amount_mul_ratio(xr_amount a, xr_i128 num, xr_i128 den, xr_round r, xr_amount *out)
{
    XR_ASSERT(out != NULL);
    return xr_i128_muldiv(a.units, num, den, r, &out->units);
}

static xr_err rescale(xr_i128 v, unsigned from_scale, unsigned to_scale, xr_round r, xr_i128 *out)
{
    XR_ASSERT(out != NULL);
    if (from_scale > XR_SCALE_MAX || to_scale > XR_SCALE_MAX || !round_valid(r))
        return XR_ERR_INVALID_ARGUMENT;
    if (to_scale >= from_scale)
        return xr_i128_mul(v, (xr_i128)pow10_table[to_scale - from_scale], out);
    return div_round_u128(mag(v), pow10_table[from_scale - to_scale], v < 0, r, out);
}

xr_err xr_amount_rescale(xr_amount a, unsigned from_scale, unsigned to_scale, xr_round r,
                         xr_amount *out)
{
    XR_ASSERT(out != NULL);
    return rescale(a.units, from_scale, to_scale, r, &out->units);
}

xr_err xr_price_rescale(xr_price p, unsigned from_scale, unsigned to_scale, xr_round r,
                        xr_price *out)
{
    XR_ASSERT(out != NULL);
    return rescale(p.ticks, from_scale, to_scale, r, &out->ticks);
}

/* ---- amount x price ------------------------------------------------------------------- */

static bool pair_scale_valid(const xr_pair_scale *ps)
{
    return ps->base <= XR_SCALE_MAX && ps->quote <= XR_SCALE_MAX && ps->price <= XR_SCALE_MAX;
}

xr_err xr_notional(xr_amount base_qty, xr_price price, const xr_pair_scale *ps, xr_round r,
                   xr_amount *quote_out)
{
    XR_ASSERT(ps != NULL && quote_out != NULL);
    if (!pair_scale_valid(ps) || !round_valid(r))
        return XR_ERR_INVALID_ARGUMENT;
    /* quote = q x p x 10^quote / 10^(base + price): only the net power of ten is applied, on
     * whichever side it falls, so no constant exceeds 10^38 before it is multiplied in. */
    int e = (int)ps->quote - (int)ps->base - (int)ps->price;
    bool neg = (base_qty.units < 0) != (price.ticks < 0);
    u256 n = mul_128x128(mag(base_qty.units), mag(price.ticks));
    if (e >= 0) {
        /* Exact: no division, only a range check. The product is at least n (when not
         * zero), so n beyond 128 bits is already out of range. */
        xr_u128 v;
        if (!u256_fits_u128(&n) || __builtin_mul_overflow(u256_low_u128(&n), pow10_table[e], &v) ||
            v > U128_MAG_MAX)
            return XR_ERR_OVERFLOW;
        quote_out->units = neg ? -(xr_i128)v : (xr_i128)v;
        return XR_OK;
    }
    xr_i128 v;
    xr_err err;
    if (-e <= XR_SCALE_MAX && u256_fits_u128(&n)) {
        /* What div_round_u256 does when both fit 128 bits, without building 10^-e in 256. */
        err = div_round_u128(u256_low_u128(&n), pow10_table[-e], neg, r, &v);
    } else {
        u256 d = pow10_u256((unsigned)-e);
        err = div_round_u256(&n, &d, neg, r, &v);
    }
    if (err == XR_OK)
        quote_out->units = v;
    return err;
}

/*
 * a x 10^e / b for e in -38..76, rounded once. A numerator beyond 256 bits means a quotient
 * of at least 2^256 / 2^127 = 2^129: overflow whatever the rounding.
 */
static xr_err scaled_ratio(xr_i128 a, xr_i128 b, int e, xr_round r, xr_i128 *out)
{
    XR_ASSERT(b != 0 && e >= -XR_SCALE_MAX && e <= 2 * XR_SCALE_MAX);
    bool neg = (a < 0) != (b < 0);
    xr_u128 n128;
    if (e >= 0 && e <= XR_SCALE_MAX && !__builtin_mul_overflow(mag(a), pow10_table[e], &n128))
        return div_round_u128(n128, mag(b), neg, r, out); /* what the 256-bit path does then */
    u256 n;
    u256 d;
    if (e >= 0) {
        if (e <= XR_SCALE_MAX) {
            n = mul_128x128(mag(a), pow10_table[e]);
        } else {
            n = mul_128x128(mag(a), pow10_table[XR_SCALE_MAX]);
            if (!mul_256x128(&n, pow10_table[e - XR_SCALE_MAX]))
                return XR_ERR_OVERFLOW;
        }
        d = u256_from_u128(mag(b));
    } else {
        n = u256_from_u128(mag(a));
        d = mul_128x128(mag(b), pow10_table[-e]);
    }
    return div_round_u256(&n, &d, neg, r, out);
}

xr_err xr_qty_for_notional(xr_amount quote_amt, xr_price price, const xr_pair_scale *ps, xr_round r,
                           xr_amount *base_out)
{
    XR_ASSERT(ps != NULL && base_out != NULL);
    if (!pair_scale_valid(ps) || !round_valid(r) || price.ticks == 0)
        return XR_ERR_INVALID_ARGUMENT;
    int e = (int)ps->base + (int)ps->price - (int)ps->quote;
    return scaled_ratio(quote_amt.units, price.ticks, e, r, &base_out->units);
}

xr_err xr_price_of(xr_amount base_qty, xr_amount quote_amt, const xr_pair_scale *ps, xr_round r,
                   xr_price *out)
{
    XR_ASSERT(ps != NULL && out != NULL);
    if (!pair_scale_valid(ps) || !round_valid(r) || base_qty.units == 0)
        return XR_ERR_INVALID_ARGUMENT;
    int e = (int)ps->base + (int)ps->price - (int)ps->quote;
    return scaled_ratio(quote_amt.units, base_qty.units, e, r, &out->ticks);
}

/* ---- decimal text --------------------------------------------------------------------- */

static xr_err parse_fail(xr_parse_error *perr, size_t offset, xr_decimal_fault fault)
{
    if (perr != NULL) {
        perr->offset = offset;
        perr->fault = fault;
    }
    return fault == XR_DEC_OUT_OF_RANGE ? XR_ERR_OVERFLOW : XR_ERR_INVALID_AMOUNT;
}

/* The fault of a byte that cannot continue the number where it stands. */
static xr_decimal_fault classify(char c)
{
    switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
        return XR_DEC_WHITESPACE;
    case '+':
    case '-':
        return XR_DEC_SIGN;
    case 'e':
    case 'E':
        return XR_DEC_EXPONENT;
    default:
        return XR_DEC_SYNTAX;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Appends digit d to m unless the final value m x 10^rem would leave the range. */
static bool push_digit(xr_u128 *m, unsigned d, unsigned rem)
{
    const digit_limit *lim = &digit_limits[rem];
    if (*m > lim->q || (*m == lim->q && d > lim->r))
        return false;
    *m = *m * 10u + d;
    return true;
}

/* Reads the digits from s[i] up to the first non-digit (or len) into *m as m x 10^k + digits,
 * 19 digits per 128-bit multiply; returns the index of the byte that stopped it. *m wraps
 * (harmlessly, unsigned) past 38 digits, so callers check the count before using it. */
static size_t read_digits(const char *s, size_t i, size_t len, xr_u128 *m)
{
    for (;;) {
        uint64_t chunk = 0;
        unsigned k = 0;
        for (; i < len && k < 19; i++, k++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9)
                break;
            chunk = chunk * 10u + d;
        }
        if (k > 0)
            *m = *m * pow10_table[k] + chunk;
        if (k < 19)
            return i;
    }
}

/*
 * The common case in one pass without per-digit range checks: at most 38 digits (so the
 * mantissa cannot wrap), no more decimals than the scale, and a value in range. Anything else
 * returns false and is left to the exact scan below, which also finds the offending byte of a
 * refused text. Reading a digit never makes the value smaller, so a final value in range
 * means no prefix left the range either: whatever the fast path accepts, the exact scan
 * accepts with the same value.
 */
static bool parse_fast(const char *s, size_t len, unsigned scale, unsigned flags, xr_i128 *out)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0)
        return false;
    if (s[0] == '-') {
        if ((flags & XR_DEC_ALLOW_NEGATIVE) == 0)
            return false;
        neg = true;
        i = 1;
    }
    xr_u128 m = 0;
    size_t start = i;
    i = read_digits(s, i, len, &m);
    size_t digits = i - start;
    if (digits == 0)
        return false;
    size_t frac = 0;
    if (i < len) {
        if (s[i] != '.')
            return false;
        start = ++i;
        i = read_digits(s, i, len, &m);
        frac = i - start;
        if (frac == 0 || i < len || frac > scale)
            return false;
        digits += frac;
    }
    if (digits > XR_SCALE_MAX)
        return false;
    unsigned rem = scale - (unsigned)frac;
    if (m > mantissa_max[rem])
        return false;
    m *= pow10_table[rem];
    *out = neg ? -(xr_i128)m : (xr_i128)m;
    return true;
}

/*
 * A left-to-right scan: the first byte that cannot continue a valid number decides the fault
 * and its offset, so " 5" is WHITESPACE at 0 and "5x " is SYNTAX at 1. Where the text ends
 * while a digit is still required ("-", "5.") the offset is `len`.
 */
xr_err xr_decimal_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_i128 *out,
                        xr_parse_error *perr)
{
    XR_ASSERT(out != NULL);
    if (scale > XR_SCALE_MAX || (s == NULL && len > 0)) {
        if (perr != NULL) {
            perr->offset = 0;
            perr->fault = XR_DEC_OK;
        }
        return XR_ERR_INVALID_ARGUMENT;
    }
    if (parse_fast(s, len, scale, flags, out)) {
        if (perr != NULL) {
            perr->offset = 0;
            perr->fault = XR_DEC_OK;
        }
        return XR_OK;
    }
    if (len == 0)
        return parse_fail(perr, 0, XR_DEC_EMPTY);

    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        if ((flags & XR_DEC_ALLOW_NEGATIVE) == 0)
            return parse_fail(perr, 0, XR_DEC_SIGN);
        neg = true;
        i = 1;
    }

    xr_u128 m = 0;
    unsigned rem = scale; /* fraction digits still owed to the scale */
    size_t start = i;
    for (; i < len && is_digit(s[i]); i++) {
        if (!push_digit(&m, (unsigned)(s[i] - '0'), rem))
            return parse_fail(perr, i, XR_DEC_OUT_OF_RANGE);
    }
    if (i == start)
        return parse_fail(perr, i, i < len ? classify(s[i]) : XR_DEC_SYNTAX);

    if (i < len) {
        if (s[i] != '.')
            return parse_fail(perr, i, classify(s[i]));
        i++;
        start = i;
        for (; i < len && is_digit(s[i]); i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (rem == 0) {
                /* Beyond the scale: a zero changes nothing and is accepted on request; any
                 * other digit would need rounding, which parsing never does. */
                if (d != 0 || (flags & XR_DEC_ALLOW_TRAILING_ZEROS) == 0)
                    return parse_fail(perr, i, XR_DEC_TOO_MANY_DECIMALS);
                continue;
            }
            rem--;
            if (!push_digit(&m, d, rem))
                return parse_fail(perr, i, XR_DEC_OUT_OF_RANGE);
        }
        if (i == start || i < len)
            return parse_fail(perr, i, i < len ? classify(s[i]) : XR_DEC_SYNTAX);
    }

    /* push_digit guaranteed m x 10^rem <= MAX. */
    m *= pow10_table[rem];
    XR_ASSERT(m <= U128_MAG_MAX);
    *out = neg ? -(xr_i128)m : (xr_i128)m;
    if (perr != NULL) {
        perr->offset = 0;
        perr->fault = XR_DEC_OK;
    }
    return XR_OK;
}

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes the digits of v backwards ending just before `end`; at least `min_digits` digits
 * (zero-padded). Returns the number of digits written. */
static size_t u64_digits_back(uint64_t v, char *end, size_t min_digits)
{
    char *p = end;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100u) * 2u;
        v /= 100u;
        *--p = digit_pairs[k + 1];
        *--p = digit_pairs[k];
    }
    if (v >= 10) {
        unsigned k = (unsigned)v * 2u;
        *--p = digit_pairs[k + 1];
        *--p = digit_pairs[k];
    } else {
        *--p = (char)('0' + v);
    }
    while ((size_t)(end - p) < min_digits)
        *--p = '0';
    return (size_t)(end - p);
}

/* Decimal digits of v (no sign, no leading zeros, "0" for zero) ending just before `end`. */
static size_t u128_digits_back(xr_u128 v, char *end)
{
    char *p = end;
    /* Peel 19-digit groups so the digit loop runs on 64-bit words. */
    while ((v >> 64) != 0) {
        xr_u128 q = v / P10_19;
        p -= u64_digits_back((uint64_t)(v - q * P10_19), p, 19);
        v = q;
    }
    p -= u64_digits_back((uint64_t)v, p, 0);
    return (size_t)(end - p);
}

static size_t format_fail(char *buf, size_t cap)
{
    if (cap > 0)
        buf[0] = '\0';
    return 0;
}

/* The digits are produced right-aligned in a scratch array, then the text is written once,
 * straight into the caller's buffer, after its length has been checked against `cap`. */
static size_t format_into(xr_i128 v, unsigned scale, bool trim, char *buf, size_t cap)
{
    XR_ASSERT(buf != NULL || cap == 0);
    if (scale > XR_SCALE_MAX)
        return format_fail(buf, cap);
    char digits[48];
    char *end = digits + sizeof digits;
    size_t nd = u128_digits_back(mag(v), end);
    /* At least one digit before the point. */
    while (nd < scale + 1u) {
        end[-(ptrdiff_t)nd - 1] = '0';
        nd++;
    }
    const char *d = end - nd;
    size_t int_digits = nd - scale;
    size_t frac = scale;
    if (trim) {
        while (frac > 0 && d[int_digits + frac - 1] == '0')
            frac--;
    }
    size_t n = (v < 0 ? 1u : 0u) + int_digits + (frac > 0 ? 1 + frac : 0);
    XR_ASSERT(n < XR_DECIMAL_STR_MAX);
    if (n + 1 > cap)
        return format_fail(buf, cap);
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    memcpy(p, d, int_digits);
    p += int_digits;
    if (frac > 0) {
        *p++ = '.';
        memcpy(p, d + int_digits, frac);
        p += frac;
    }
    *p = '\0';
    XR_ASSERT((size_t)(p - buf) == n);
    return n;
}

size_t xr_decimal_format(xr_i128 v, unsigned scale, char *buf, size_t cap)
{
    return format_into(v, scale, false, buf, cap);
}

size_t xr_decimal_format_trim(xr_i128 v, unsigned scale, char *buf, size_t cap)
{
    return format_into(v, scale, true, buf, cap);
}

const char *xr_decimal_fault_name(xr_decimal_fault fault)
{
    switch (fault) {
    case XR_DEC_OK:
        return "OK";
    case XR_DEC_EMPTY:
        return "EMPTY";
    case XR_DEC_WHITESPACE:
        return "WHITESPACE";
    case XR_DEC_SIGN:
        return "SIGN";
    case XR_DEC_EXPONENT:
        return "EXPONENT";
    case XR_DEC_TOO_MANY_DECIMALS:
        return "TOO_MANY_DECIMALS";
    case XR_DEC_OUT_OF_RANGE:
        return "OUT_OF_RANGE";
    case XR_DEC_SYNTAX:
        return "SYNTAX";
    }
    return "UNKNOWN";
}

xr_err xr_amount_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_amount *out,
                       xr_parse_error *perr)
{
    XR_ASSERT(out != NULL);
    return xr_decimal_parse(s, len, scale, flags, &out->units, perr);
}

xr_err xr_price_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_price *out,
                      xr_parse_error *perr)
{
    XR_ASSERT(out != NULL);
    return xr_decimal_parse(s, len, scale, flags, &out->ticks, perr);
}

size_t xr_amount_format(xr_amount a, unsigned scale, char *buf, size_t cap)
{
    return xr_decimal_format(a.units, scale, buf, cap);
}

size_t xr_price_format(xr_price p, unsigned scale, char *buf, size_t cap)
{
    return xr_decimal_format(p.ticks, scale, buf, cap);
}
