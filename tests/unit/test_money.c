/* Money: the asset registry, decimal parsing (every rejection with its byte offset and
 * fault), formatting, checked arithmetic at the edges of the range, known answers for the
 * amount x price helpers, and a randomised round trip across every scale checked against
 * values computed independently with GMP. Expectations are written by hand or computed by
 * GMP, never with floating point; the known answers of the amount x price helpers are written
 * as decimal text and read with the parser, which the tests above pin down first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gmp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xroute/money.h"

#define ROUND_TRIP_ITERS 1000000
#define DEFAULT_SEED     0x786d6f6e6579ull /* "xmoney" */

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t seed_value;

/* xoshiro256** seeded through splitmix64: small, fast and reproducible from one seed. */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static unsigned rng_below(rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

static void mpz_set_i128(mpz_t z, xr_i128 v)
{
    xr_u128 m = v < 0 ? (xr_u128)0 - (xr_u128)v : (xr_u128)v;
    mpz_set_ui(z, (unsigned long)(uint64_t)(m >> 64));
    mpz_mul_2exp(z, z, 64);
    mpz_add_ui(z, z, (unsigned long)(uint64_t)m);
    if (v < 0)
        mpz_neg(z, z);
}

/* Decimal text of v computed by GMP, for messages and as an independent reference. */
static void i128_str(xr_i128 v, char *buf, size_t cap)
{
    mpz_t z;
    mpz_init(z);
    mpz_set_i128(z, v);
    gmp_snprintf(buf, cap, "%Zd", z);
    mpz_clear(z);
}

#define assert_i128_equal(a, b)                                                                    \
    do {                                                                                           \
        xr_i128 a_ = (a), b_ = (b);                                                                \
        if (a_ != b_) {                                                                            \
            char sa_[64], sb_[64];                                                                 \
            i128_str(a_, sa_, sizeof sa_);                                                         \
            i128_str(b_, sb_, sizeof sb_);                                                         \
            fail_msg("%s != %s  (%s != %s)", sa_, sb_, #a, #b);                                    \
        }                                                                                          \
    } while (0)

static xr_i128 pow10_i128(unsigned n)
{
    xr_i128 v = 1;
    for (unsigned i = 0; i < n; i++)
        v *= 10;
    return v;
}

static const xr_i128 sentinel = 0x5a5a5a5a;

/* ---- asset registry ------------------------------------------------------------------- */

static void test_assets_default(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        unsigned scale;
    } want[] = {{"USD", 2},  {"EUR", 2},   {"AZN", 2}, {"USDT", 6},
                {"USDC", 6}, {"PYUSD", 6}, {"BTC", 8}, {"ETH", 18}};
    xr_asset_registry reg;
    memset(&reg, 0xa5, sizeof reg); /* init must not depend on the caller zeroing it */
    xr_assets_init_default(&reg);
    assert_int_equal(reg.count, 8);
    for (unsigned i = 0; i < 8; i++) {
        const xr_asset *a = xr_assets_find(&reg, want[i].code);
        assert_non_null(a);
        assert_ptr_equal(a, &reg.assets[i]);
        assert_string_equal(a->code, want[i].code);
        assert_int_equal(a->scale, want[i].scale);
        assert_int_equal(a->id, i);
    }
    assert_null(xr_assets_find(&reg, "usd")); /* exact, case-sensitive */
    assert_null(xr_assets_find(&reg, "US"));
    assert_null(xr_assets_find(&reg, "USDX"));
    assert_null(xr_assets_find(&reg, "USDTT"));
    assert_null(xr_assets_find(&reg, "SOL"));
    assert_null(xr_assets_find(&reg, ""));
    assert_null(xr_assets_find(&reg, NULL));
    assert_null(xr_assets_find(&reg, "A_CODE_FAR_LONGER_THAN_ANY_ASSET_CODE"));
}

static void test_assets_add_and_duplicate(void **state)
{
    (void)state;
    xr_asset_registry reg;
    xr_assets_init_default(&reg);
    const xr_asset *sol = NULL;
    assert_int_equal(xr_assets_add(&reg, "SOL", 9, &sol), XR_OK);
    assert_non_null(sol);
    assert_string_equal(sol->code, "SOL");
    assert_int_equal(sol->scale, 9);
    assert_int_equal(sol->id, 8);
    assert_int_equal(reg.count, 9);
    assert_ptr_equal(xr_assets_find(&reg, "SOL"), sol);

    /* Same definition again: a no-op that returns the existing entry. */
    const xr_asset *again = NULL;
    assert_int_equal(xr_assets_add(&reg, "SOL", 9, &again), XR_OK);
    assert_ptr_equal(again, sol);
    assert_int_equal(xr_assets_add(&reg, "BTC", 8, NULL), XR_OK);
    assert_int_equal(reg.count, 9);

    /* Another scale for an existing code is refused and changes nothing. */
    const xr_asset *untouched = (const xr_asset *)&reg;
    assert_int_equal(xr_assets_add(&reg, "SOL", 8, &untouched), XR_ERR_ALREADY_EXISTS);
    assert_ptr_equal(untouched, (const xr_asset *)&reg);
    assert_int_equal(xr_assets_add(&reg, "BTC", 6, NULL), XR_ERR_ALREADY_EXISTS);
    assert_int_equal(xr_assets_add(&reg, "USD", 6, NULL), XR_ERR_ALREADY_EXISTS);
    assert_int_equal(reg.count, 9);
    assert_int_equal(xr_assets_find(&reg, "BTC")->scale, 8);

    /* Longest code, both scale extremes. */
    assert_int_equal(xr_assets_add(&reg, "ABCDEFGHIJK", 38, &sol), XR_OK);
    assert_string_equal(sol->code, "ABCDEFGHIJK");
    assert_int_equal(xr_assets_add(&reg, "X1", 0, &sol), XR_OK);
    assert_int_equal(sol->scale, 0);
    assert_int_equal(xr_assets_add(&reg, "1INCH", 18, NULL), XR_OK);
    assert_int_equal(reg.count, 12);
}

static void test_assets_bad_codes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",     "A",     "btc",  "Btc",  "BT-C",      "BT C",         " BTC",
        "BTC ", "BTC\n", "BT.C", "BT_C", "B\xc3\x89", "ABCDEFGHIJKL", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    };
    xr_asset_registry reg;
    xr_assets_init_default(&reg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const xr_asset *out = NULL;
        assert_int_equal(xr_assets_add(&reg, bad[i], 2, &out), XR_ERR_INVALID_ARGUMENT);
        assert_null(out);
    }
    assert_int_equal(xr_assets_add(&reg, NULL, 2, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_assets_add(&reg, "SOL", 39, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_assets_add(&reg, "SOL", 1000, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(reg.count, 8);
}

static void test_assets_full(void **state)
{
    (void)state;
    xr_asset_registry reg;
    xr_assets_init_default(&reg);
    char code[8];
    for (unsigned i = reg.count; i < XR_ASSETS_MAX; i++) {
        snprintf(code, sizeof code, "A%02u", i);
        const xr_asset *a = NULL;
        assert_int_equal(xr_assets_add(&reg, code, i % 39, &a), XR_OK);
        assert_int_equal(a->id, i);
    }
    assert_int_equal(reg.count, XR_ASSETS_MAX);
    const xr_asset *out = NULL;
    assert_int_equal(xr_assets_add(&reg, "ONEMORE", 2, &out), XR_ERR_NO_MEMORY);
    assert_null(out);
    assert_int_equal(reg.count, XR_ASSETS_MAX);
    /* An existing asset is still found and re-adding it is still fine. */
    assert_int_equal(xr_assets_add(&reg, "ETH", 18, &out), XR_OK);
    assert_ptr_equal(out, xr_assets_find(&reg, "ETH"));
    snprintf(code, sizeof code, "A%02u", XR_ASSETS_MAX - 1);
    assert_non_null(xr_assets_find(&reg, code));
    assert_null(xr_assets_find(&reg, "ONEMORE"));
}

/* ---- decimal parsing ------------------------------------------------------------------ */

#define NEG  XR_DEC_ALLOW_NEGATIVE
#define TZ   XR_DEC_ALLOW_TRAILING_ZEROS
#define MAXS "170141183460469231731687303715884105727"
#define OVER "170141183460469231731687303715884105728"

typedef struct reject_case {
    const char *text;
    size_t len; /* 0: strlen(text) */
    unsigned scale;
    unsigned flags;
    xr_err err;
    size_t offset;
    xr_decimal_fault fault;
} reject_case;

static const reject_case rejects[] = {
    {"", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_EMPTY},
    {"", 0, 2, NEG | TZ, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_EMPTY},
    /* whitespace anywhere */
    {" 1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_WHITESPACE},
    {"1 ", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_WHITESPACE},
    {"1 000", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_WHITESPACE},
    {"1 .5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_WHITESPACE},
    {"1. 5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_WHITESPACE},
    {"1.5\n", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_WHITESPACE},
    {"\t1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_WHITESPACE},
    {"1\r", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_WHITESPACE},
    {"- 1", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_WHITESPACE},
    {" ", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_WHITESPACE},
    /* signs */
    {"+1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SIGN},
    {"+1", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SIGN},
    {"1+", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SIGN},
    {"1.5+", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_SIGN},
    {"-1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SIGN},
    {"-0", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SIGN},
    {"--1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SIGN},
    {"--1", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SIGN},
    {"-+1", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SIGN},
    {"1-", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SIGN},
    {"1.-5", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_SIGN},
    /* exponents */
    {"1e5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_EXPONENT},
    {"1E5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_EXPONENT},
    {"1.5e2", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_EXPONENT},
    {"1.5E-2", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_EXPONENT},
    {"e5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_EXPONENT},
    {"-e", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_EXPONENT},
    /* too many decimals: the first digit beyond the scale, or with TZ the first non-zero */
    {"1.234", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 4, XR_DEC_TOO_MANY_DECIMALS},
    {"1.230", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 4, XR_DEC_TOO_MANY_DECIMALS},
    {"1.2300000", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 4, XR_DEC_TOO_MANY_DECIMALS},
    {"1.2301", 0, 2, TZ, XR_ERR_INVALID_AMOUNT, 5, XR_DEC_TOO_MANY_DECIMALS},
    {"1.23000000001", 0, 2, TZ, XR_ERR_INVALID_AMOUNT, 12, XR_DEC_TOO_MANY_DECIMALS},
    {"1.0", 0, 0, 0, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_TOO_MANY_DECIMALS},
    {"1.5", 0, 0, TZ, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_TOO_MANY_DECIMALS},
    {"0.000000001", 0, 8, 0, XR_ERR_INVALID_AMOUNT, 10, XR_DEC_TOO_MANY_DECIMALS},
    {"-0.123", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 5, XR_DEC_TOO_MANY_DECIMALS},
    {"1.234x", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 4, XR_DEC_TOO_MANY_DECIMALS},
    {"1.000000000000000000000000000000000000000", 0, 38, 0, XR_ERR_INVALID_AMOUNT, 40,
     XR_DEC_TOO_MANY_DECIMALS},
    /* out of range: the offending digit */
    {OVER, 0, 0, 0, XR_ERR_OVERFLOW, 38, XR_DEC_OUT_OF_RANGE},
    {"-" OVER, 0, 0, NEG, XR_ERR_OVERFLOW, 39, XR_DEC_OUT_OF_RANGE},
    {"1000000000000000000000000000000000000000", 0, 0, 0, XR_ERR_OVERFLOW, 39, XR_DEC_OUT_OF_RANGE},
    {"99999999999999999999999999999999999999999x", 0, 0, 0, XR_ERR_OVERFLOW, 38,
     XR_DEC_OUT_OF_RANGE},
    {"1701411834604692317316873037158841057.28", 0, 2, 0, XR_ERR_OVERFLOW, 39, XR_DEC_OUT_OF_RANGE},
    {"-1701411834604692317316873037158841057.28", 0, 2, NEG, XR_ERR_OVERFLOW, 40,
     XR_DEC_OUT_OF_RANGE},
    {"1701411834604692317316873037158841058", 0, 2, 0, XR_ERR_OVERFLOW, 36, XR_DEC_OUT_OF_RANGE},
    {"1.70141183460469231731687303715884105728", 0, 38, 0, XR_ERR_OVERFLOW, 39,
     XR_DEC_OUT_OF_RANGE},
    {"2", 0, 38, 0, XR_ERR_OVERFLOW, 0, XR_DEC_OUT_OF_RANGE},
    {"-2", 0, 38, NEG, XR_ERR_OVERFLOW, 1, XR_DEC_OUT_OF_RANGE},
    {"1.8", 0, 38, 0, XR_ERR_OVERFLOW, 2, XR_DEC_OUT_OF_RANGE},
    {"10", 0, 38, 0, XR_ERR_OVERFLOW, 1, XR_DEC_OUT_OF_RANGE},
    {"0000000000000000000000000000000000000000000" OVER, 0, 0, 0, XR_ERR_OVERFLOW, 81,
     XR_DEC_OUT_OF_RANGE},
    /* syntax: no digits, stray point, other bytes; the end of text is offset len */
    {".5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"5.", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_SYNTAX},
    {"5.", 0, 2, TZ, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_SYNTAX},
    {"5.x", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_SYNTAX},
    {".", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"-", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"-.5", 0, 2, NEG, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"1..2", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 2, XR_DEC_SYNTAX},
    {"1.2.3", 0, 1, 0, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_SYNTAX},
    {"1,5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"1_000", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"abc", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"1x", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"0x10", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"inf", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"NaN", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"$5", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX},
    {"5%", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},
    {"\xd9\xa1", 0, 2, 0, XR_ERR_INVALID_AMOUNT, 0, XR_DEC_SYNTAX}, /* Arabic-Indic one */
    {"1\0", 2, 2, 0, XR_ERR_INVALID_AMOUNT, 1, XR_DEC_SYNTAX},      /* embedded NUL */
    {"1.5\0", 4, 2, 0, XR_ERR_INVALID_AMOUNT, 3, XR_DEC_SYNTAX},
};

static void test_parse_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        const reject_case *c = &rejects[i];
        size_t len = c->len != 0 ? c->len : strlen(c->text);
        xr_i128 v = sentinel;
        xr_parse_error pe = {999, XR_DEC_OK};
        xr_err err = xr_decimal_parse(c->text, len, c->scale, c->flags, &v, &pe);
        if (err != c->err || pe.offset != c->offset || pe.fault != c->fault) {
            fail_msg("case %zu \"%s\" scale %u flags %u: got %s at %zu (%s), want %s at %zu (%s)",
                     i, c->text, c->scale, c->flags, xr_err_name(err), pe.offset,
                     xr_decimal_fault_name(pe.fault), xr_err_name(c->err), c->offset,
                     xr_decimal_fault_name(c->fault));
        }
        assert_i128_equal(v, sentinel); /* untouched on failure */
        /* perr is optional and the result does not depend on it */
        assert_int_equal(xr_decimal_parse(c->text, len, c->scale, c->flags, &v, NULL), c->err);
        assert_i128_equal(v, sentinel);
        /* The typed wrappers report the same. */
        xr_amount a = {sentinel};
        xr_price p = {sentinel};
        xr_parse_error pa, pp;
        assert_int_equal(xr_amount_parse(c->text, len, c->scale, c->flags, &a, &pa), c->err);
        assert_int_equal(xr_price_parse(c->text, len, c->scale, c->flags, &p, &pp), c->err);
        assert_i128_equal(a.units, sentinel);
        assert_i128_equal(p.ticks, sentinel);
        assert_int_equal(pa.offset, c->offset);
        assert_int_equal(pp.fault, c->fault);
    }
}

static void test_parse_bad_arguments(void **state)
{
    (void)state;
    xr_i128 v = sentinel;
    xr_parse_error pe;
    assert_int_equal(xr_decimal_parse("1", 1, 39, 0, &v, &pe), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(pe.fault, XR_DEC_OK);
    assert_int_equal(xr_decimal_parse("1", 1, 1000, 0, &v, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_decimal_parse(NULL, 3, 2, 0, &v, &pe), XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(v, sentinel);
    /* NULL with no bytes is simply empty text. */
    assert_int_equal(xr_decimal_parse(NULL, 0, 2, 0, &v, &pe), XR_ERR_INVALID_AMOUNT);
    assert_int_equal(pe.fault, XR_DEC_EMPTY);
    assert_int_equal(pe.offset, 0);
    assert_i128_equal(v, sentinel);
}

typedef struct accept_case {
    const char *text;
    unsigned scale;
    unsigned flags;
    int64_t value; /* values beyond 64 bits are checked in test_parse_limits */
} accept_case;

static const accept_case accepts[] = {
    {"0", 0, 0, 0},
    {"0", 8, 0, 0},
    {"-0", 8, NEG, 0},
    {"-0.00", 2, NEG, 0},
    {"0.00000000", 8, 0, 0},
    {"1", 0, 0, 1},
    {"1", 2, 0, 100},
    {"1.5", 2, 0, 150},
    {"1.05", 2, 0, 105},
    {"1.7050", 4, 0, 17050},
    {"1.700", 2, TZ, 170},
    {"1.70000000000000000000000000000000000000000000000000", 2, TZ, 170},
    {"-1.5", 2, NEG, -150},
    {"-1.5", 2, NEG | TZ, -150},
    {"-0.01", 2, NEG, -1},
    {"007", 0, 0, 7},
    {"007.10", 2, 0, 710},
    {"67321.45000000", 8, 0, 6732145000000},
    {"0.00150000", 8, 0, 150000},
    {"0.00000001", 8, 0, 1},
    {"21000000", 8, 0, 2100000000000000},
    {"0.000000000000000001", 18, 0, 1},
    {"9223372036854775807", 0, 0, INT64_MAX},
    {"-9223372036854775807", 0, NEG, -INT64_MAX},
    {"92233720368547758.07", 2, 0, INT64_MAX},
};

static void test_parse_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepts / sizeof accepts[0]; i++) {
        const accept_case *c = &accepts[i];
        xr_i128 v = sentinel;
        xr_parse_error pe = {999, XR_DEC_SYNTAX};
        xr_err err = xr_decimal_parse(c->text, strlen(c->text), c->scale, c->flags, &v, &pe);
        if (err != XR_OK)
            fail_msg("case %zu \"%s\": %s at %zu", i, c->text, xr_decimal_fault_name(pe.fault),
                     pe.offset);
        assert_i128_equal(v, (xr_i128)c->value);
        assert_int_equal(pe.fault, XR_DEC_OK);
    }
    /* Only len bytes are read: the rest of the buffer is not part of the number. */
    xr_i128 v = 0;
    assert_int_equal(xr_decimal_parse("12.34xyz", 5, 2, 0, &v, NULL), XR_OK);
    assert_i128_equal(v, 1234);
    assert_int_equal(xr_decimal_parse("12.34xyz", 2, 2, 0, &v, NULL), XR_OK);
    assert_i128_equal(v, 1200);
}

static void test_parse_limits(void **state)
{
    (void)state;
    xr_i128 v;
    xr_parse_error pe;
    assert_int_equal(xr_decimal_parse(MAXS, strlen(MAXS), 0, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_decimal_parse("-" MAXS, strlen(MAXS) + 1, 0, NEG, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    static const char max2[] = "1701411834604692317316873037158841057.27";
    assert_int_equal(xr_decimal_parse(max2, strlen(max2), 2, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    static const char max38[] = "1.70141183460469231731687303715884105727";
    assert_int_equal(xr_decimal_parse(max38, strlen(max38), 38, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    static const char min38[] = "-1.70141183460469231731687303715884105727";
    assert_int_equal(xr_decimal_parse(min38, strlen(min38), 38, NEG, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    /* The largest value with fewer decimals than the scale. */
    static const char max38_short[] = "1.7";
    assert_int_equal(xr_decimal_parse(max38_short, 3, 38, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, 17 * pow10_i128(37));
    /* 10^38 at scale 0 and 1 at scale 38 are the same integer. */
    assert_int_equal(xr_decimal_parse("1", 1, 38, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, pow10_i128(38));
    /* Leading zeros do not count toward the range. */
    static const char zeros[] = "00000000000000000000000000000000000000000000000000" MAXS;
    assert_int_equal(xr_decimal_parse(zeros, strlen(zeros), 0, 0, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    /* Trailing zeros accepted beyond the scale do not affect the range either. */
    static const char max2tz[] = "1701411834604692317316873037158841057.2700000000000000";
    assert_int_equal(xr_decimal_parse(max2tz, strlen(max2tz), 2, TZ, &v, &pe), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
}

static void test_fault_names(void **state)
{
    (void)state;
    assert_string_equal(xr_decimal_fault_name(XR_DEC_OK), "OK");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_EMPTY), "EMPTY");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_WHITESPACE), "WHITESPACE");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_SIGN), "SIGN");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_EXPONENT), "EXPONENT");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_TOO_MANY_DECIMALS), "TOO_MANY_DECIMALS");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_OUT_OF_RANGE), "OUT_OF_RANGE");
    assert_string_equal(xr_decimal_fault_name(XR_DEC_SYNTAX), "SYNTAX");
    assert_string_equal(xr_decimal_fault_name((xr_decimal_fault)8), "UNKNOWN");
    assert_string_equal(xr_decimal_fault_name((xr_decimal_fault)-1), "UNKNOWN");
}

/* ---- formatting ----------------------------------------------------------------------- */

typedef struct format_case {
    int64_t value;
    unsigned scale;
    const char *text;
    const char *trimmed;
} format_case;

static const format_case formats[] = {
    {0, 0, "0", "0"},
    {0, 2, "0.00", "0"},
    {0, 8, "0.00000000", "0"},
    {1, 8, "0.00000001", "0.00000001"},
    {-1, 8, "-0.00000001", "-0.00000001"},
    {150000000, 8, "1.50000000", "1.5"},
    {2000, 3, "2.000", "2"},
    {-2000, 3, "-2.000", "-2"},
    {100, 0, "100", "100"},
    {1000, 2, "10.00", "10"},
    {-10, 2, "-0.10", "-0.1"},
    {17050, 4, "1.7050", "1.705"},
    {6732145000000, 8, "67321.45000000", "67321.45"},
    {150000, 8, "0.00150000", "0.0015"},
    {INT64_MAX, 0, "9223372036854775807", "9223372036854775807"},
    {-INT64_MAX, 18, "-9.223372036854775807", "-9.223372036854775807"},
    {1, 18, "0.000000000000000001", "0.000000000000000001"},
};

static void test_format(void **state)
{
    (void)state;
    char buf[XR_DECIMAL_STR_MAX];
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const format_case *c = &formats[i];
        size_t n = xr_decimal_format(c->value, c->scale, buf, sizeof buf);
        assert_string_equal(buf, c->text);
        assert_int_equal(n, strlen(c->text));
        n = xr_decimal_format_trim(c->value, c->scale, buf, sizeof buf);
        assert_string_equal(buf, c->trimmed);
        assert_int_equal(n, strlen(c->trimmed));
        xr_amount a = {c->value};
        xr_price p = {c->value};
        assert_int_equal(xr_amount_format(a, c->scale, buf, sizeof buf), strlen(c->text));
        assert_string_equal(buf, c->text);
        assert_int_equal(xr_price_format(p, c->scale, buf, sizeof buf), strlen(c->text));
        assert_string_equal(buf, c->text);
    }
}

static void test_format_limits(void **state)
{
    (void)state;
    char buf[XR_DECIMAL_STR_MAX];
    assert_int_equal(xr_decimal_format(XR_I128_MAX, 0, buf, sizeof buf), 39);
    assert_string_equal(buf, MAXS);
    assert_int_equal(xr_decimal_format(XR_I128_MIN, 0, buf, sizeof buf), 40);
    assert_string_equal(buf, "-" MAXS);
    assert_int_equal(xr_decimal_format(XR_I128_MIN, 38, buf, sizeof buf), 41);
    assert_string_equal(buf, "-1.70141183460469231731687303715884105727");
    assert_int_equal(xr_decimal_format(-1, 38, buf, sizeof buf), 41);
    assert_string_equal(buf, "-0.00000000000000000000000000000000000001");
    assert_int_equal(xr_decimal_format_trim(XR_I128_MIN, 38, buf, sizeof buf), 41);
    assert_int_equal(xr_decimal_format_trim(pow10_i128(38), 38, buf, sizeof buf), 1);
    assert_string_equal(buf, "1");
    assert_int_equal(xr_decimal_format_trim(-pow10_i128(38), 1, buf, sizeof buf), 39);
    assert_string_equal(buf, "-10000000000000000000000000000000000000");
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    char buf[16];
    /* "-1.50" needs 6 bytes with its NUL. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format(-150, 2, buf, 6), 5);
    assert_string_equal(buf, "-1.50");
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format(-150, 2, buf, 5), 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x'); /* nothing else written */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format(-150, 2, buf, 1), 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(xr_decimal_format(-150, 2, NULL, 0), 0);
    /* Trimmed "-1.5" fits 5 bytes although the untrimmed text would not. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format_trim(-150, 2, buf, 5), 4);
    assert_string_equal(buf, "-1.5");
    assert_int_equal(xr_decimal_format_trim(-150, 2, buf, 4), 0);
    assert_int_equal(buf[0], '\0');
    /* A scale above XR_SCALE_MAX is refused. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format(1, 39, buf, sizeof buf), 0);
    assert_int_equal(buf[0], '\0');
    memset(buf, 'x', sizeof buf);
    assert_int_equal(xr_decimal_format_trim(1, 39, buf, sizeof buf), 0);
    assert_int_equal(buf[0], '\0');
}

/* ---- checked arithmetic at the edges -------------------------------------------------- */

static void test_add_sub_edges(void **state)
{
    (void)state;
    xr_i128 v = sentinel;
    assert_int_equal(xr_i128_add(XR_I128_MAX, 1, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_add(XR_I128_MIN, -1, &v), XR_ERR_OVERFLOW); /* would be INT128_MIN */
    assert_int_equal(xr_i128_add(XR_I128_MIN, XR_I128_MIN, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_add(XR_I128_MAX, XR_I128_MAX, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_sub(XR_I128_MIN, 1, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_sub(-1, XR_I128_MAX, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_sub(XR_I128_MAX, -1, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_sub(XR_I128_MAX, XR_I128_MIN, &v), XR_ERR_OVERFLOW);
    assert_i128_equal(v, sentinel);

    assert_int_equal(xr_i128_add(XR_I128_MAX, XR_I128_MIN, &v), XR_OK);
    assert_i128_equal(v, 0);
    assert_int_equal(xr_i128_add(XR_I128_MAX - 1, 1, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_add(XR_I128_MIN + 1, -1, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    assert_int_equal(xr_i128_sub(0, XR_I128_MIN, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_sub(0, XR_I128_MAX, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    assert_int_equal(xr_i128_sub(-1, XR_I128_MAX - 1, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);

    xr_amount a = {sentinel};
    assert_int_equal(xr_amount_add((xr_amount){XR_I128_MAX}, (xr_amount){1}, &a), XR_ERR_OVERFLOW);
    assert_int_equal(xr_amount_sub((xr_amount){XR_I128_MIN}, (xr_amount){1}, &a), XR_ERR_OVERFLOW);
    assert_i128_equal(a.units, sentinel);
    assert_int_equal(xr_amount_add((xr_amount){150}, (xr_amount){-200}, &a), XR_OK);
    assert_i128_equal(a.units, -50);
    assert_int_equal(xr_amount_sub((xr_amount){150}, (xr_amount){-200}, &a), XR_OK);
    assert_i128_equal(a.units, 350);
}

static void test_mul_edges(void **state)
{
    (void)state;
    const xr_i128 two63 = (xr_i128)1 << 63;
    const xr_i128 two64 = (xr_i128)1 << 64;
    xr_i128 v = sentinel;
    assert_int_equal(xr_i128_mul(XR_I128_MAX, 2, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_mul(XR_I128_MIN, 2, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_mul(XR_I128_MAX, XR_I128_MAX, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_mul(two63, two64, &v), XR_ERR_OVERFLOW);  /* 2^127 */
    assert_int_equal(xr_i128_mul(-two63, two64, &v), XR_ERR_OVERFLOW); /* INT128_MIN */
    assert_int_equal(xr_i128_mul(two64, two64, &v), XR_ERR_OVERFLOW);
    assert_i128_equal(v, sentinel);
    assert_int_equal(xr_i128_mul(XR_I128_MAX, -1, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    assert_int_equal(xr_i128_mul(XR_I128_MIN, -1, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_mul(XR_I128_MAX, 0, &v), XR_OK);
    assert_i128_equal(v, 0);
    assert_int_equal(xr_i128_mul(two63 - 1, two64, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX - (two64 - 1));
}

static void test_div_edges(void **state)
{
    (void)state;
    static const struct {
        int64_t a, d;
        int64_t down, up, even;
    } cases[] = {
        {7, 2, 3, 4, 4},   {-7, 2, -4, -3, -4}, {7, -2, -4, -3, -4},   {-7, -2, 3, 4, 4},
        {5, 2, 2, 3, 2},   {-5, 2, -3, -2, -2}, {1, 3, 0, 1, 0},       {-1, 3, -1, 0, 0},
        {2, 3, 0, 1, 1},   {-2, 3, -1, 0, -1},  {6, 3, 2, 2, 2},       {-6, 3, -2, -2, -2},
        {0, 5, 0, 0, 0},   {15, 10, 1, 2, 2},   {25, 10, 2, 3, 2},     {-25, 10, -3, -2, -2},
        {26, 10, 2, 3, 3}, {24, 10, 2, 3, 2},   {-35, 10, -4, -3, -4}, {1, 2, 0, 1, 0},
        {-1, 2, -1, 0, 0}, {3, 2, 1, 2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xr_i128 v;
        assert_int_equal(xr_i128_div(cases[i].a, cases[i].d, XR_ROUND_DOWN, &v), XR_OK);
        assert_i128_equal(v, cases[i].down);
        assert_int_equal(xr_i128_div(cases[i].a, cases[i].d, XR_ROUND_UP, &v), XR_OK);
        assert_i128_equal(v, cases[i].up);
        assert_int_equal(xr_i128_div(cases[i].a, cases[i].d, XR_ROUND_HALF_EVEN, &v), XR_OK);
        assert_i128_equal(v, cases[i].even);
        /* muldiv with b = 1 is the same division */
        assert_int_equal(xr_i128_muldiv(cases[i].a, 1, cases[i].d, XR_ROUND_DOWN, &v), XR_OK);
        assert_i128_equal(v, cases[i].down);
        assert_int_equal(xr_i128_muldiv(1, cases[i].a, cases[i].d, XR_ROUND_HALF_EVEN, &v), XR_OK);
        assert_i128_equal(v, cases[i].even);
    }
    xr_i128 v = sentinel;
    for (int r = 0; r < 3; r++) {
        assert_int_equal(xr_i128_div(1, 0, (xr_round)r, &v), XR_ERR_INVALID_ARGUMENT);
        assert_int_equal(xr_i128_div(0, 0, (xr_round)r, &v), XR_ERR_INVALID_ARGUMENT);
        assert_int_equal(xr_i128_muldiv(1, 1, 0, (xr_round)r, &v), XR_ERR_INVALID_ARGUMENT);
        assert_int_equal(xr_i128_muldiv(XR_I128_MAX, XR_I128_MAX, 0, (xr_round)r, &v),
                         XR_ERR_INVALID_ARGUMENT);
    }
    assert_int_equal(xr_i128_div(7, 2, (xr_round)3, &v), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_i128_div(7, 2, (xr_round)-1, &v), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_i128_muldiv(7, 1, 2, (xr_round)3, &v), XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(v, sentinel);

    assert_int_equal(xr_i128_div(XR_I128_MIN, -1, XR_ROUND_DOWN, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_div(XR_I128_MAX, 1, XR_ROUND_UP, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_div(XR_I128_MAX, 2, XR_ROUND_HALF_EVEN, &v), XR_OK);
    assert_i128_equal(v, ((xr_i128)1 << 126)); /* (2^127-1)/2 = 2^126 - 0.5 -> even 2^126 */
    assert_int_equal(xr_i128_div(XR_I128_MIN, 2, XR_ROUND_DOWN, &v), XR_OK);
    assert_i128_equal(v, -((xr_i128)1 << 126));
}

static void test_muldiv_edges(void **state)
{
    (void)state;
    xr_i128 v = sentinel;
    /* Intermediates far beyond 128 bits are fine when the result fits. */
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, XR_I128_MAX, XR_I128_MAX, XR_ROUND_DOWN, &v),
                     XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_muldiv(XR_I128_MIN, XR_I128_MAX, XR_I128_MAX, XR_ROUND_UP, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MIN);
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, 2, 2, XR_ROUND_DOWN, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, XR_I128_MAX - 1, XR_I128_MAX, XR_ROUND_UP, &v),
                     XR_OK);
    assert_i128_equal(v, XR_I128_MAX - 1);
    /* MAX x (MAX-1) / (MAX-2) = MAX + 1 + 2/(MAX-2): out of range in every mode. */
    for (int r = 0; r < 3; r++) {
        v = sentinel;
        assert_int_equal(
            xr_i128_muldiv(XR_I128_MAX, XR_I128_MAX - 1, XR_I128_MAX - 2, (xr_round)r, &v),
            XR_ERR_OVERFLOW);
        assert_int_equal(xr_i128_muldiv(XR_I128_MAX, 2, 1, (xr_round)r, &v), XR_ERR_OVERFLOW);
        assert_int_equal(xr_i128_muldiv(XR_I128_MAX, XR_I128_MAX, 1, (xr_round)r, &v),
                         XR_ERR_OVERFLOW);
        assert_int_equal(xr_i128_muldiv(XR_I128_MIN, XR_I128_MIN, -1, (xr_round)r, &v),
                         XR_ERR_OVERFLOW);
        assert_i128_equal(v, sentinel);
    }
    /* MAX x 2^64 / 2^64: a 191-bit intermediate, an exact result at the limit */
    const xr_i128 two64 = (xr_i128)1 << 64;
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, two64, two64, XR_ROUND_DOWN, &v), XR_OK);
    assert_i128_equal(v, XR_I128_MAX);
    /* MAX x 3 / 2 overflows, MAX x 2 / 3 does not */
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, 3, 2, XR_ROUND_DOWN, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_muldiv(XR_I128_MAX, 2, 3, XR_ROUND_DOWN, &v), XR_OK);
    assert_i128_equal(v, (XR_I128_MAX / 3) * 2 + (XR_I128_MAX % 3) * 2 / 3);

    xr_amount fee = {sentinel};
    /* 10 bps of 1234.56 USD = 1.23456 -> 1.23 down, 1.24 up, 1.23 half-even */
    assert_int_equal(xr_amount_mul_ratio((xr_amount){123456}, 10, 10000, XR_ROUND_DOWN, &fee),
                     XR_OK);
    assert_i128_equal(fee.units, 123);
    assert_int_equal(xr_amount_mul_ratio((xr_amount){123456}, 10, 10000, XR_ROUND_UP, &fee), XR_OK);
    assert_i128_equal(fee.units, 124);
    assert_int_equal(xr_amount_mul_ratio((xr_amount){123456}, 10, 10000, XR_ROUND_HALF_EVEN, &fee),
                     XR_OK);
    assert_i128_equal(fee.units, 123);
    fee.units = sentinel;
    assert_int_equal(xr_amount_mul_ratio((xr_amount){1}, 1, 0, XR_ROUND_DOWN, &fee),
                     XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(fee.units, sentinel);
}

static void test_pow10(void **state)
{
    (void)state;
    xr_i128 v = sentinel;
    for (unsigned n = 0; n <= 38; n++) {
        assert_int_equal(xr_i128_pow10(n, &v), XR_OK);
        assert_i128_equal(v, pow10_i128(n));
    }
    v = sentinel;
    assert_int_equal(xr_i128_pow10(39, &v), XR_ERR_OVERFLOW);
    assert_int_equal(xr_i128_pow10(1000, &v), XR_ERR_OVERFLOW);
    assert_i128_equal(v, sentinel);
}

static void test_rescale(void **state)
{
    (void)state;
    xr_amount a = {sentinel};
    /* USD/2 -> USDC/6 is exact; back rounds as asked. */
    assert_int_equal(xr_amount_rescale((xr_amount){12345}, 2, 6, XR_ROUND_DOWN, &a), XR_OK);
    assert_i128_equal(a.units, 123450000);
    assert_int_equal(xr_amount_rescale((xr_amount){123456789}, 6, 2, XR_ROUND_DOWN, &a), XR_OK);
    assert_i128_equal(a.units, 12345);
    assert_int_equal(xr_amount_rescale((xr_amount){123456789}, 6, 2, XR_ROUND_UP, &a), XR_OK);
    assert_i128_equal(a.units, 12346);
    assert_int_equal(xr_amount_rescale((xr_amount){-123456789}, 6, 2, XR_ROUND_DOWN, &a), XR_OK);
    assert_i128_equal(a.units, -12346);
    assert_int_equal(xr_amount_rescale((xr_amount){123455000}, 6, 2, XR_ROUND_HALF_EVEN, &a),
                     XR_OK);
    assert_i128_equal(a.units, 12346);
    assert_int_equal(xr_amount_rescale((xr_amount){123465000}, 6, 2, XR_ROUND_HALF_EVEN, &a),
                     XR_OK);
    assert_i128_equal(a.units, 12346);
    assert_int_equal(xr_amount_rescale((xr_amount){XR_I128_MAX}, 38, 0, XR_ROUND_DOWN, &a), XR_OK);
    assert_i128_equal(a.units, 1);
    assert_int_equal(xr_amount_rescale((xr_amount){XR_I128_MAX}, 7, 7, XR_ROUND_UP, &a), XR_OK);
    assert_i128_equal(a.units, XR_I128_MAX);
    a.units = sentinel;
    assert_int_equal(xr_amount_rescale((xr_amount){2}, 0, 38, XR_ROUND_DOWN, &a), XR_ERR_OVERFLOW);
    assert_int_equal(xr_amount_rescale((xr_amount){1}, 0, 39, XR_ROUND_DOWN, &a),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_amount_rescale((xr_amount){1}, 39, 0, XR_ROUND_DOWN, &a),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_amount_rescale((xr_amount){1}, 2, 0, (xr_round)7, &a),
                     XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(a.units, sentinel);
    assert_int_equal(xr_amount_rescale((xr_amount){1}, 0, 38, XR_ROUND_DOWN, &a), XR_OK);
    assert_i128_equal(a.units, pow10_i128(38));

    xr_price p = {sentinel};
    assert_int_equal(xr_price_rescale((xr_price){6732145}, 2, 8, XR_ROUND_DOWN, &p), XR_OK);
    assert_i128_equal(p.ticks, 6732145000000);
    assert_int_equal(xr_price_rescale((xr_price){6732145}, 2, 1, XR_ROUND_HALF_EVEN, &p), XR_OK);
    assert_i128_equal(p.ticks, 673214); /* 673214.5 -> even */
}

/* ---- amount x price: known answers ---------------------------------------------------- */

static xr_i128 parse_or_fail(const char *s, unsigned scale)
{
    xr_i128 v = 0;
    xr_parse_error pe;
    if (xr_decimal_parse(s, strlen(s), scale, NEG, &v, &pe) != XR_OK)
        fail_msg("cannot parse \"%s\" at scale %u: %s at %zu", s, scale,
                 xr_decimal_fault_name(pe.fault), pe.offset);
    return v;
}

static void test_notional_known_answers(void **state)
{
    (void)state;
    static const struct {
        const char *qty;
        const char *price;
        xr_pair_scale ps;
        const char *down, *up, *even; /* at the quote scale */
    } cases[] = {
        /* 1.5 BTC at 67321.45 USD = 100982.175 USD */
        {"1.5", "67321.45", {8, 2, 2}, "100982.17", "100982.18", "100982.18"},
        {"-1.5", "67321.45", {8, 2, 2}, "-100982.18", "-100982.17", "-100982.18"},
        /* the same at USDT/6 with a 8-digit price: exact */
        {"1.5", "67321.45", {8, 6, 8}, "100982.175000", "100982.175000", "100982.175000"},
        /* 0.00150000 BTC at 67321.45 = 100.982175 -> USD/2 */
        {"0.0015", "67321.45", {8, 2, 2}, "100.98", "100.99", "100.98"},
        /* 0.00000001 BTC (1 sat) at 0.50 USD: 0.000000005 USD */
        {"0.00000001", "0.5", {8, 2, 2}, "0.00", "0.01", "0.00"},
        /* 2.5 ETH at 3000.125 USDT/6 */
        {"2.5", "3000.125", {18, 6, 3}, "7500.312500", "7500.312500", "7500.312500"},
        /* a tie: 0.125 x 1 at USD/2 -> 0.12 even, and 0.375 -> 0.38 even */
        {"0.125", "1", {3, 2, 0}, "0.12", "0.13", "0.12"},
        {"0.375", "1", {3, 2, 0}, "0.37", "0.38", "0.38"},
        {"-0.375", "1", {3, 2, 0}, "-0.38", "-0.37", "-0.38"},
        /* net power of ten beyond 10^38 on the denominator: 10^-60 x 10^-30 at scale 0 */
        {"0.000000000000000000000000000000000001",
         "0.0000000000000000000000000000000000001",
         {36, 0, 37},
         "0",
         "1",
         "0"},
        {"1", "1", {38, 0, 38}, "1", "1", "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xr_amount q = {parse_or_fail(cases[i].qty, cases[i].ps.base)};
        xr_price p = {parse_or_fail(cases[i].price, cases[i].ps.price)};
        const char *want[3] = {cases[i].down, cases[i].up, cases[i].even};
        for (int r = 0; r < 3; r++) {
            xr_amount out = {sentinel};
            assert_int_equal(xr_notional(q, p, &cases[i].ps, (xr_round)r, &out), XR_OK);
            assert_i128_equal(out.units, parse_or_fail(want[r], cases[i].ps.quote));
        }
    }
}

static void test_qty_and_price_known_answers(void **state)
{
    (void)state;
    const xr_pair_scale btc_usd = {8, 2, 2};
    xr_amount q = {sentinel};
    /* 100.00 USD at 67321.45 buys 0.00148541066... BTC */
    assert_int_equal(
        xr_qty_for_notional((xr_amount){10000}, (xr_price){6732145}, &btc_usd, XR_ROUND_DOWN, &q),
        XR_OK);
    assert_i128_equal(q.units, 148541);
    assert_int_equal(
        xr_qty_for_notional((xr_amount){10000}, (xr_price){6732145}, &btc_usd, XR_ROUND_UP, &q),
        XR_OK);
    assert_i128_equal(q.units, 148542);
    assert_int_equal(xr_qty_for_notional((xr_amount){10000}, (xr_price){6732145}, &btc_usd,
                                         XR_ROUND_HALF_EVEN, &q),
                     XR_OK);
    assert_i128_equal(q.units, 148541); /* 148541.066... */
    q.units = sentinel;
    assert_int_equal(
        xr_qty_for_notional((xr_amount){10000}, (xr_price){0}, &btc_usd, XR_ROUND_DOWN, &q),
        XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(q.units, sentinel);

    /* 100982.18 USD paid for 1.5 BTC: 67321.4533... */
    xr_price p = {sentinel};
    assert_int_equal(
        xr_price_of((xr_amount){150000000}, (xr_amount){10098218}, &btc_usd, XR_ROUND_DOWN, &p),
        XR_OK);
    assert_i128_equal(p.ticks, 6732145);
    assert_int_equal(
        xr_price_of((xr_amount){150000000}, (xr_amount){10098218}, &btc_usd, XR_ROUND_UP, &p),
        XR_OK);
    assert_i128_equal(p.ticks, 6732146);
    p.ticks = sentinel;
    assert_int_equal(xr_price_of((xr_amount){0}, (xr_amount){10098218}, &btc_usd, XR_ROUND_UP, &p),
                     XR_ERR_INVALID_ARGUMENT);
    const xr_pair_scale bad = {39, 2, 2};
    assert_int_equal(xr_price_of((xr_amount){1}, (xr_amount){10098218}, &bad, XR_ROUND_UP, &p),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_notional((xr_amount){1}, (xr_price){1}, &bad, XR_ROUND_UP, &q),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_notional((xr_amount){1}, (xr_price){1}, &btc_usd, (xr_round)3, &q),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_qty_for_notional((xr_amount){1}, (xr_price){1}, &bad, XR_ROUND_UP, &q),
                     XR_ERR_INVALID_ARGUMENT);
    assert_i128_equal(p.ticks, sentinel);
    assert_i128_equal(q.units, sentinel);

    /* Overflow is reported, never wrapped. */
    const xr_pair_scale wide = {0, 38, 0};
    assert_int_equal(xr_notional((xr_amount){2}, (xr_price){1}, &wide, XR_ROUND_DOWN, &q),
                     XR_ERR_OVERFLOW);
    assert_int_equal(
        xr_notional((xr_amount){XR_I128_MAX}, (xr_price){XR_I128_MAX}, &btc_usd, XR_ROUND_DOWN, &q),
        XR_ERR_OVERFLOW);
    const xr_pair_scale deep = {38, 0, 38};
    assert_int_equal(
        xr_qty_for_notional((xr_amount){XR_I128_MAX}, (xr_price){1}, &deep, XR_ROUND_DOWN, &q),
        XR_ERR_OVERFLOW);
    assert_i128_equal(q.units, sentinel);
}

/* ---- random round trip ---------------------------------------------------------------- */

/* A value of varied magnitude: small, near the limits, powers of ten and of two, or a random
 * bit length, with a random sign; never outside [-MAX, MAX]. */
static xr_i128 random_value(rng *r)
{
    xr_u128 m;
    switch (rng_below(r, 8)) {
    case 0:
        m = rng_below(r, 1000);
        break;
    case 1:
        m = (xr_u128)XR_I128_MAX - rng_below(r, 1000);
        break;
    case 2: {
        xr_u128 p = (xr_u128)pow10_i128(rng_below(r, 39));
        m = p + rng_below(r, 3) - 1; /* 10^k - 1, 10^k, 10^k + 1 */
        break;
    }
    case 3:
        m = ((xr_u128)1 << rng_below(r, 127)) + rng_below(r, 3) - 1;
        break;
    default: {
        unsigned bits = rng_below(r, 128); /* 0..127 */
        m = ((xr_u128)rng_next(r) << 64) | rng_next(r);
        m = bits == 0 ? 0 : m >> (128 - bits);
        break;
    }
    }
    if (m > (xr_u128)XR_I128_MAX)
        m = (xr_u128)XR_I128_MAX;
    return (rng_next(r) & 1) ? -(xr_i128)m : (xr_i128)m;
}

/* The expected text of v at `scale`, built from GMP's digits. */
static void expected_text(const mpz_t z, unsigned scale, char *out)
{
    char digits[64];
    mpz_t a;
    mpz_init(a);
    mpz_abs(a, z);
    mpz_get_str(digits, 10, a);
    mpz_clear(a);
    size_t nd = strlen(digits);
    char padded[96];
    size_t pad = nd < scale + 1 ? scale + 1 - nd : 0;
    memset(padded, '0', pad);
    memcpy(padded + pad, digits, nd + 1);
    nd += pad;
    char *p = out;
    if (mpz_sgn(z) < 0)
        *p++ = '-';
    memcpy(p, padded, nd - scale);
    p += nd - scale;
    if (scale > 0) {
        *p++ = '.';
        memcpy(p, padded + nd - scale, scale);
        p += scale;
    }
    *p = '\0';
}

static void test_round_trip_random(void **state)
{
    (void)state;
    rng r;
    rng_seed(&r, seed_value ^ 0x1);
    mpz_t z;
    mpz_init(z);
    char buf[XR_DECIMAL_STR_MAX];
    char want[XR_DECIMAL_STR_MAX + 8];
    unsigned per_scale[XR_SCALE_MAX + 1] = {0};
    for (long i = 0; i < ROUND_TRIP_ITERS; i++) {
        xr_i128 v = random_value(&r);
        unsigned scale = rng_below(&r, XR_SCALE_MAX + 1);
        per_scale[scale]++;
        size_t n = xr_decimal_format(v, scale, buf, sizeof buf);
        mpz_set_i128(z, v);
        expected_text(z, scale, want);
        if (n != strlen(want) || strcmp(buf, want) != 0)
            fail_msg("iteration %ld scale %u: format gave \"%s\", want \"%s\"", i, scale, buf,
                     want);
        xr_i128 back = sentinel;
        xr_parse_error pe;
        if (xr_decimal_parse(buf, n, scale, NEG, &back, &pe) != XR_OK)
            fail_msg("iteration %ld: \"%s\" at scale %u refused: %s at %zu", i, buf, scale,
                     xr_decimal_fault_name(pe.fault), pe.offset);
        assert_i128_equal(back, v);
        /* The trimmed text parses back to the same value too. */
        n = xr_decimal_format_trim(v, scale, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(xr_decimal_parse(buf, n, scale, NEG, &back, &pe), XR_OK);
        assert_i128_equal(back, v);
    }
    for (unsigned s = 0; s <= XR_SCALE_MAX; s++)
        assert_true(per_scale[s] > 0);
    mpz_clear(z);
}

/* The byte offset at which the parser must report OUT_OF_RANGE for `text`, whose own digits
 * are `digits[0..nd)` with `int_len` of them before the point, or -1 when it never leaves the
 * range. Reasoned on digit strings, independently of the parser: the offending digit is the
 * first whose prefix of the text (read as a decimal at `scale`) exceeds MAX. That prefix's
 * value, written in units, is its significant digits followed by the zeros still owed to the
 * scale; it exceeds MAX (39 digits) when it has more than 39 digits, or exactly 39 and its
 * significant digits compare above MAX's leading digits. */
static long expected_overflow_offset(const char *digits, size_t nd, bool neg, unsigned int_len,
                                     unsigned scale)
{
    static const char max_digits[] = MAXS;
    size_t first = 0;
    while (first < nd && digits[first] == '0')
        first++;
    /* k: where the significant digits first differ from MAX's */
    size_t k = 0;
    while (k < 39 && first + k < nd && digits[first + k] == max_digits[k])
        k++;
    for (size_t t = first; t < nd; t++) {
        size_t sig = t + 1 - first;
        size_t frac = t + 1 > int_len ? t + 1 - int_len : 0;
        size_t len = sig + (scale - frac);
        bool above =
            len > 39 || (len == 39 && k < sig && k < 39 && digits[first + k] > max_digits[k]);
        if (above)
            return (long)(neg + t + (t >= int_len ? 1 : 0));
    }
    return -1;
}

/* Random decimal strings (any digits, any length up to past the range, optional sign, optional
 * fraction, optional zeros past the scale) parse to the value GMP computes from the same
 * digits, or are refused with the exact fault and offset derived from the digits alone. */
static void test_parse_random_strings(void **state)
{
    (void)state;
    rng r;
    rng_seed(&r, seed_value ^ 0x2);
    mpz_t z, lim;
    mpz_inits(z, lim, NULL);
    mpz_set_i128(lim, XR_I128_MAX);
    char text[128];
    char digits[128];
    char want[64];
    char got[64];
    long ok = 0, out_of_range = 0, spilled = 0;
    for (long i = 0; i < ROUND_TRIP_ITERS; i++) {
        unsigned scale = rng_below(&r, XR_SCALE_MAX + 1);
        /* Mostly lengths that fit, often about as many integer digits as can fit (the edge),
         * sometimes far too many. */
        unsigned int_len;
        switch (rng_below(&r, 8)) {
        case 0:
            int_len = 1 + rng_below(&r, 45);
            break;
        case 1:
        case 2:
        case 3:
            int_len = 39 - scale + rng_below(&r, 3) - (scale == 38 ? 0 : 1);
            break;
        default:
            int_len = 1 + rng_below(&r, 39 - scale);
            break;
        }
        unsigned frac_len = rng_below(&r, 2) == 0 ? scale : rng_below(&r, scale + 1);
        unsigned zeros = rng_below(&r, 4) == 0 ? 1 + rng_below(&r, 5) : 0;
        bool neg = rng_below(&r, 2) != 0;
        size_t n = 0, nd = 0;
        if (neg)
            text[n++] = '-';
        for (unsigned k = 0; k < int_len; k++) {
            char c = (char)('0' + rng_below(&r, 10));
            /* a leading 1 often, so values land near 10^k and near 1.7 x 10^38 */
            if (k == 0 && rng_below(&r, 3) == 0)
                c = '1';
            text[n++] = c;
            digits[nd++] = c;
        }
        if (frac_len > 0 || zeros > 0) {
            text[n++] = '.';
            for (unsigned k = 0; k < frac_len; k++) {
                char c = (char)('0' + rng_below(&r, 10));
                text[n++] = c;
                digits[nd++] = c;
            }
            for (unsigned k = 0; k < zeros; k++)
                text[n++] = '0';
        }
        text[n] = '\0';
        /* The value in units: the digits, padded with zeros to the scale. */
        for (unsigned k = frac_len; k < scale; k++)
            digits[nd++] = '0';
        digits[nd] = '\0';

        unsigned flags = rng_below(&r, 4) == 0 ? NEG : NEG | TZ;
        bool spills = frac_len + zeros > scale; /* some zeros lie beyond the scale */
        xr_i128 v = sentinel;
        xr_parse_error pe = {12345, XR_DEC_OK};
        xr_err err = xr_decimal_parse(text, n, scale, flags, &v, &pe);

        /* digits[] holds the text's own digits; pad a copy to the scale for GMP below. */
        long over = expected_overflow_offset(digits, int_len + frac_len, neg, int_len, scale);
        mpz_set_str(z, digits, 10);
        if (neg)
            mpz_neg(z, z);
        /* The digit-string reasoning and GMP agree on whether the value fits. */
        assert_int_equal(over >= 0, mpz_cmpabs(z, lim) > 0);
        if (over >= 0) {
            if (err != XR_ERR_OVERFLOW || pe.fault != XR_DEC_OUT_OF_RANGE ||
                pe.offset != (size_t)over)
                fail_msg("iteration %ld: \"%s\" scale %u: %s %s at %zu, want OUT_OF_RANGE at %ld",
                         i, text, scale, xr_err_name(err), xr_decimal_fault_name(pe.fault),
                         pe.offset, over);
            assert_i128_equal(v, sentinel);
            out_of_range++;
            continue;
        }
        if (spills && (flags & TZ) == 0) {
            /* The first zero past the scale is the first offending byte. */
            size_t at = (size_t)neg + int_len + 1 + scale;
            if (err != XR_ERR_INVALID_AMOUNT || pe.fault != XR_DEC_TOO_MANY_DECIMALS ||
                pe.offset != at)
                fail_msg("iteration %ld: \"%s\" scale %u: %s %s at %zu, want TOO_MANY at %zu", i,
                         text, scale, xr_err_name(err), xr_decimal_fault_name(pe.fault), pe.offset,
                         at);
            assert_i128_equal(v, sentinel);
            spilled++;
            continue;
        }
        if (err != XR_OK)
            fail_msg("iteration %ld: \"%s\" scale %u refused: %s at %zu", i, text, scale,
                     xr_decimal_fault_name(pe.fault), pe.offset);
        /* GMP read the digits; the parser's result is compared as GMP's text of it. */
        gmp_snprintf(want, sizeof want, "%Zd", z);
        i128_str(v, got, sizeof got);
        if (strcmp(want, got) != 0)
            fail_msg("iteration %ld: \"%s\" scale %u: got %s want %s", i, text, scale, got, want);
        ok++;
    }
    print_message("parse random strings: %ld parsed, %ld out of range, %ld with refused zeros\n",
                  ok, out_of_range, spilled);
    assert_true(ok > ROUND_TRIP_ITERS / 4);
    assert_true(out_of_range > ROUND_TRIP_ITERS / 20);
    assert_true(spilled > ROUND_TRIP_ITERS / 200);
    mpz_clears(z, lim, NULL);
}

int main(void)
{
    seed_value = DEFAULT_SEED;
    const char *env = getenv("XR_TEST_SEED");
    if (env != NULL && *env != '\0')
        seed_value = strtoull(env, NULL, 0);
    printf("test_money: seed=0x%" PRIx64 " (set XR_TEST_SEED to override)\n", seed_value);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assets_default),
        cmocka_unit_test(test_assets_add_and_duplicate),
        cmocka_unit_test(test_assets_bad_codes),
        cmocka_unit_test(test_assets_full),
        cmocka_unit_test(test_parse_rejections),
        cmocka_unit_test(test_parse_bad_arguments),
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_fault_names),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_add_sub_edges),
        cmocka_unit_test(test_mul_edges),
        cmocka_unit_test(test_div_edges),
        cmocka_unit_test(test_muldiv_edges),
        cmocka_unit_test(test_pow10),
        cmocka_unit_test(test_rescale),
        cmocka_unit_test(test_notional_known_answers),
        cmocka_unit_test(test_qty_and_price_known_answers),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_parse_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
