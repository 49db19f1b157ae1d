/*
 * xroute/money.h - exact money: assets, amounts, prices, decimal text, checked arithmetic.
 *
 * An amount is a signed 128-bit integer count of an asset's minor units: with USD/2 the
 * amount 12345 is "123.45" USD, with BTC/8 the amount 1 is one satoshi. A price is a signed
 * 128-bit integer count of ticks: with a pair's price scale p, ticks = quote per one base
 * unit x 10^p. Both are wrapped in single-member structs so the compiler refuses an amount
 * where a price is expected. No floating point is used anywhere in this module.
 *
 * Range: every value lies in [-XR_I128_MAX, XR_I128_MAX]; INT128_MIN is never produced, so
 * negation is always exact. A result that would leave this range is XR_ERR_OVERFLOW and the
 * out-parameter is left untouched.
 *
 * Rounding: every operation that can lose digits takes an `xr_round`. DOWN rounds toward
 * negative infinity (floor), UP toward positive infinity (ceiling), HALF_EVEN to nearest with
 * ties to the even neighbour. For the positive amounts of a trade this means DOWN never gives
 * more than the exact value and UP never gives less. A value outside the enum is
 * XR_ERR_INVALID_ARGUMENT. The exact result is rounded once, then range-checked.
 *
 * Threading: all functions are pure or touch only the registry passed in; a registry may be
 * read from many threads once no thread modifies it.
 * Ownership: the caller owns every buffer and registry; nothing here allocates.
 * NULL: out-parameters and registries must not be NULL unless a comment says "may be NULL";
 * a NULL there is a bug in the caller and aborts (XR_ASSERT), it is not an error code.
 *
 * Errors: XR_OK; XR_ERR_OVERFLOW (result out of range); XR_ERR_INVALID_AMOUNT (text is not a
 * valid decimal for the scale); XR_ERR_INVALID_ARGUMENT (scale above XR_SCALE_MAX, division
 * by zero, bad asset code); XR_ERR_ALREADY_EXISTS, XR_ERR_NO_MEMORY, XR_ERR_UNKNOWN_ASSET
 * (registry).
 */
#ifndef XROUTE_MONEY_H
#define XROUTE_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GCC and Clang provide a 128-bit integer in C and C++ alike. */
__extension__ typedef __int128 xr_i128;
__extension__ typedef unsigned __int128 xr_u128;

#define XR_I128_MAX ((xr_i128)(((xr_u128)1 << 127) - 1))
#define XR_I128_MIN (-XR_I128_MAX) /* symmetric: INT128_MIN is outside xroute's range */

/* Largest decimal scale (digits after the point) of an asset or a price. */
#define XR_SCALE_MAX 38
/* Buffer size that holds any formatted value, sign and NUL included. */
#define XR_DECIMAL_STR_MAX 48

typedef struct xr_amount {
    xr_i128 units; /* minor units of the asset, e.g. cents for USD/2 */
} xr_amount;

typedef struct xr_price {
    xr_i128 ticks; /* quote asset per one base unit, times 10^price_scale */
} xr_price;

typedef enum xr_round {
    XR_ROUND_DOWN = 0,     /* toward negative infinity */
    XR_ROUND_UP = 1,       /* toward positive infinity */
    XR_ROUND_HALF_EVEN = 2 /* to nearest, ties to even */
} xr_round;

/* ---- asset registry ---------------------------------------------------------------- */

#define XR_ASSET_CODE_MAX 11 /* longest asset code, NUL excluded */
#define XR_ASSETS_MAX     64

typedef struct xr_asset {
    char code[XR_ASSET_CODE_MAX + 1]; /* upper-case letters and digits, NUL-terminated */
    uint8_t scale;                    /* digits after the point of one minor unit */
    uint16_t id;                      /* index in its registry, stable for its lifetime */
} xr_asset;

typedef struct xr_asset_registry {
    uint32_t count;
    xr_asset assets[XR_ASSETS_MAX];
} xr_asset_registry;

/* Fills `reg` with the built-in assets: USD/2, EUR/2, AZN/2, USDT/6, USDC/6, PYUSD/6, BTC/8,
 * ETH/18 (ids 0..7 in that order). Whatever `reg` held before is discarded. */
void xr_assets_init_default(xr_asset_registry *reg);

/* Adds asset `code` with `scale`. XR_OK (also when it exists with the same scale),
 * XR_ERR_ALREADY_EXISTS (exists with another scale), XR_ERR_INVALID_ARGUMENT (code not 2..11
 * of [A-Z0-9], or scale > XR_SCALE_MAX), XR_ERR_NO_MEMORY (registry full). On success `*out`
 * (may be NULL) points into `reg`, valid while `reg` lives. */
xr_err xr_assets_add(xr_asset_registry *reg, const char *code, unsigned scale,
                     const xr_asset **out);

/* The asset named `code` (exact, case-sensitive match), or NULL (also for a NULL `code`).
 * Valid while `reg` lives. */
const xr_asset *xr_assets_find(const xr_asset_registry *reg, const char *code);

/* ---- decimal text ------------------------------------------------------------------ */

/* Why a decimal was refused; the names are stable (see xr_decimal_fault_name). */
typedef enum xr_decimal_fault {
    XR_DEC_OK = 0,
    XR_DEC_EMPTY = 1,             /* no characters */
    XR_DEC_WHITESPACE = 2,        /* a space, tab or newline anywhere */
    XR_DEC_SIGN = 3,              /* '+' anywhere, or '-' where not allowed */
    XR_DEC_EXPONENT = 4,          /* 'e' or 'E' */
    XR_DEC_TOO_MANY_DECIMALS = 5, /* more digits after the point than the scale */
    XR_DEC_OUT_OF_RANGE = 6,      /* the value does not fit [XR_I128_MIN, XR_I128_MAX] */
    XR_DEC_SYNTAX = 7             /* anything else: no digits, stray point, other bytes */
} xr_decimal_fault;

typedef struct xr_parse_error {
    size_t offset;          /* byte offset of the first offending character */
    xr_decimal_fault fault; /* what was wrong there */
} xr_parse_error;

#define XR_DEC_ALLOW_NEGATIVE       0x1u /* accept one leading '-' */
#define XR_DEC_ALLOW_TRAILING_ZEROS 0x2u /* accept zeros beyond the scale (value unchanged) */

/* Parses `len` bytes of `s` (no NUL needed) as an exact decimal with `scale` digits after the
 * point, writing value x 10^scale to `*out`. Grammar: ['-'] digit+ ['.' digit+]; leading
 * zeros are accepted, and "-0" is 0. Returns XR_OK, XR_ERR_INVALID_AMOUNT (any fault but
 * range), XR_ERR_OVERFLOW (XR_DEC_OUT_OF_RANGE), or XR_ERR_INVALID_ARGUMENT (scale >
 * XR_SCALE_MAX, NULL s with len > 0). On failure `*out` is untouched and `*perr` (may be NULL)
 * says where and why; on success and on XR_ERR_INVALID_ARGUMENT `*perr` is {0, XR_DEC_OK}.
 *
 * The text is read left to right and the first byte that cannot continue a valid number
 * decides the fault and its offset: " 5" is WHITESPACE at 0, "5x " SYNTAX at 1, "--1" (with
 * XR_DEC_ALLOW_NEGATIVE) SIGN at 1. Where the text ends while a digit is still required
 * ("-", "5.") the offset is `len`. TOO_MANY_DECIMALS points at the first digit beyond the
 * scale, or with XR_DEC_ALLOW_TRAILING_ZEROS at the first non-zero one; OUT_OF_RANGE points
 * at the digit with which the text read so far exceeds XR_I128_MAX in magnitude. */
xr_err xr_decimal_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_i128 *out,
                        xr_parse_error *perr);

/* Writes `v` / 10^scale as text with exactly `scale` digits after the point (no point when
 * scale is 0), NUL-terminated, into `buf` of `cap` bytes. Returns the length without the NUL,
 * or 0 when `cap` is too small or scale > XR_SCALE_MAX (then buf[0] is NUL if cap > 0).
 * `buf` may be NULL when `cap` is 0. A negative value starts with '-'; zero has no sign. */
size_t xr_decimal_format(xr_i128 v, unsigned scale, char *buf, size_t cap);

/* Like xr_decimal_format but drops trailing zeros after the point, and the point itself when
 * nothing follows it ("1.50000000" -> "1.5", "2.000" -> "2"). */
size_t xr_decimal_format_trim(xr_i128 v, unsigned scale, char *buf, size_t cap);

/* Stable name of a fault, e.g. "TOO_MANY_DECIMALS"; "UNKNOWN" outside the enum. */
const char *xr_decimal_fault_name(xr_decimal_fault fault);

/* Typed wrappers over the functions above. */
xr_err xr_amount_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_amount *out,
                       xr_parse_error *perr);
xr_err xr_price_parse(const char *s, size_t len, unsigned scale, unsigned flags, xr_price *out,
                      xr_parse_error *perr);
size_t xr_amount_format(xr_amount a, unsigned scale, char *buf, size_t cap);
size_t xr_price_format(xr_price p, unsigned scale, char *buf, size_t cap);

/* ---- checked integer arithmetic ---------------------------------------------------- */

xr_err xr_i128_add(xr_i128 a, xr_i128 b, xr_i128 *out);
xr_err xr_i128_sub(xr_i128 a, xr_i128 b, xr_i128 *out);
xr_err xr_i128_mul(xr_i128 a, xr_i128 b, xr_i128 *out);
/* a / d rounded by `r`. XR_ERR_INVALID_ARGUMENT when d == 0; in-range operands never
 * overflow. */
xr_err xr_i128_div(xr_i128 a, xr_i128 d, xr_round r, xr_i128 *out);
/* a x b / d with an exact 256-bit intermediate, rounded once by `r`: only the final result
 * must fit. XR_ERR_INVALID_ARGUMENT when d == 0. */
xr_err xr_i128_muldiv(xr_i128 a, xr_i128 b, xr_i128 d, xr_round r, xr_i128 *out);
/* 10^n for n in 0..38 (10^38 < XR_I128_MAX); XR_ERR_OVERFLOW above. */
xr_err xr_i128_pow10(unsigned n, xr_i128 *out);

xr_err xr_amount_add(xr_amount a, xr_amount b, xr_amount *out);
xr_err xr_amount_sub(xr_amount a, xr_amount b, xr_amount *out);
/* a x num / den, rounded by `r` (e.g. a fee of 10 bps is num 10, den 10000). */
xr_err xr_amount_mul_ratio(xr_amount a, xr_i128 num, xr_i128 den, xr_round r, xr_amount *out);
/* The same value at another scale (USD/2 -> USDC/6 is exact; the reverse rounds by `r`). */
xr_err xr_amount_rescale(xr_amount a, unsigned from_scale, unsigned to_scale, xr_round r,
                         xr_amount *out);
xr_err xr_price_rescale(xr_price p, unsigned from_scale, unsigned to_scale, xr_round r,
                        xr_price *out);

/* ---- amount x price ---------------------------------------------------------------- */

/* The scales of one trading pair BASE/QUOTE. Each is at most XR_SCALE_MAX, else the
 * functions below return XR_ERR_INVALID_ARGUMENT. Powers of ten are cancelled between the
 * numerator and the denominator of each formula before anything is multiplied, and the one
 * rounding is applied to the exact quotient (256-bit intermediate). */
typedef struct xr_pair_scale {
    uint8_t base;  /* scale of the base asset's amounts (BTC/8 -> 8) */
    uint8_t quote; /* scale of the quote asset's amounts (USDT/6 -> 6) */
    uint8_t price; /* scale of the pair's prices */
} xr_pair_scale;

/* Quote amount of `base_qty` at `price`:
 *   quote = base_qty x price x 10^quote / 10^(base + price), rounded once by `r`. */
xr_err xr_notional(xr_amount base_qty, xr_price price, const xr_pair_scale *ps, xr_round r,
                   xr_amount *quote_out);

/* Base quantity that `quote_amt` buys at `price`:
 *   base = quote_amt x 10^(base + price) / (price x 10^quote), rounded once by `r`.
 * XR_ERR_INVALID_ARGUMENT when price is zero. */
xr_err xr_qty_for_notional(xr_amount quote_amt, xr_price price, const xr_pair_scale *ps, xr_round r,
                           xr_amount *base_out);

/* Average price of `quote_amt` paid for `base_qty`:
 *   price = quote_amt x 10^(base + price) / (base_qty x 10^quote), rounded once by `r`.
 * XR_ERR_INVALID_ARGUMENT when base_qty is zero. */
xr_err xr_price_of(xr_amount base_qty, xr_amount quote_amt, const xr_pair_scale *ps, xr_round r,
                   xr_price *out);

#ifdef __cplusplus
}
#endif

#endif /* XROUTE_MONEY_H */
