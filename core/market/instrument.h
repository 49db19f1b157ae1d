/*
 * core/market/instrument.h - the pairs one venue trades, and their trading rules.
 *
 * An instrument maps a canonical pair name "BASE/QUOTE" (xroute's asset codes, e.g.
 * "BTC/USDT") to the venue's own symbol ("BTCUSDT") and back, and carries the venue's rules
 * for the pair, read from its tradable-pairs response (Binance exchangeInfo): price tick, lot
 * step, minimum and maximum quantity, minimum and maximum notional. Every value is exact:
 * prices are xr_price at the instrument's price scale, base quantities xr_amount at its base
 * scale, notionals xr_amount at its quote scale.
 *
 * Scales: base and quote are the asset registry's scales (BTC/8, USDT/6) when it knows the
 * asset, else the venue's declared precision. The price scale is the larger of the quote
 * scale and the number of decimals of the tick, so every price the venue accepts is a whole
 * number of units and pairs quoted in the same asset share one scale across venues.
 *
 * A table is filled at start-up (or when the venue's rules are refreshed) and read on the
 * hot path: lookups by venue symbol and by canonical name are O(1) hash probes. It follows
 * the footprint/init pattern and never allocates.
 *
 * Threading: single writer; readers on other threads only after the writer is done (a
 * refresh builds a new table and swaps it through a ring).
 * Ownership: the caller owns the table and its memory; returned pointers are valid while the
 * table lives and is not re-initialised.
 * Errors: XR_OK; XR_ERR_INVALID_ARGUMENT (bad names, scales or memory); XR_ERR_ALREADY_EXISTS
 * (symbol or canonical name already present); XR_ERR_NO_MEMORY (table full);
 * xr_instrument_check_order: XR_ERR_INVALID_AMOUNT, XR_ERR_BELOW_MIN_SIZE,
 * XR_ERR_LIMIT_EXCEEDED, XR_ERR_OVERFLOW.
 */
#ifndef XR_MARKET_INSTRUMENT_H
#define XR_MARKET_INSTRUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest venue symbol, NUL excluded ("1000SATSUSDT" is 12). */
#define XR_SYMBOL_MAX 23
/* Longest canonical pair name "BASE/QUOTE", NUL excluded. */
#define XR_PAIR_NAME_MAX (2 * XR_ASSET_CODE_MAX + 1)
/* Largest table. */
#define XR_INSTRUMENTS_MAX 65536u

typedef enum xr_instrument_status {
    XR_INSTRUMENT_TRADING = 0, /* orders accepted */
    XR_INSTRUMENT_HALTED = 1,  /* listed, but the venue accepts no orders now */
} xr_instrument_status;

typedef struct xr_instrument {
    char symbol[XR_SYMBOL_MAX + 1];       /* the venue's own name, e.g. "BTCUSDT" */
    char canonical[XR_PAIR_NAME_MAX + 1]; /* "BTC/USDT" */
    char base[XR_ASSET_CODE_MAX + 1];
    char quote[XR_ASSET_CODE_MAX + 1];
    xr_pair_scale scale;
    uint8_t status; /* xr_instrument_status */
    uint16_t venue;
    uint32_t id; /* index in its table, set by xr_instruments_add */
    /* Rules; a zero value means the venue sets no such rule. */
    xr_price tick;          /* prices are multiples of this */
    xr_price price_min;     /* lowest accepted limit price */
    xr_price price_max;     /* highest accepted limit price */
    xr_amount lot_step;     /* base quantities are multiples of this */
    xr_amount qty_min;      /* smallest base quantity */
    xr_amount qty_max;      /* largest base quantity */
    xr_amount notional_min; /* smallest price x quantity, quote units */
    xr_amount notional_max; /* largest price x quantity, quote units */
} xr_instrument;

typedef struct xr_instruments {
    xr_instrument *items;
    uint32_t *by_symbol;    /* open addressing: item index + 1, 0 = empty */
    uint32_t *by_canonical; /* likewise, keyed by canonical name */
    uint32_t count;
    uint32_t capacity;
    uint32_t hash_mask; /* hash table size - 1 (a power of two >= 2 x capacity) */
    uint16_t venue;
} xr_instruments;

/* Bytes of memory a table of `capacity` instruments needs; 0 when capacity is 0 or above
 * XR_INSTRUMENTS_MAX. */
size_t xr_instruments_footprint(uint32_t capacity);

/* Initialises an empty table over `mem` (`len` >= footprint, 16-byte aligned) for `venue`.
 * XR_OK or XR_ERR_INVALID_ARGUMENT. */
xr_err xr_instruments_init(xr_instruments *t, void *mem, size_t len, uint32_t capacity,
                           uint16_t venue);

/* Empties the table (ids restart at 0). */
void xr_instruments_clear(xr_instruments *t);

/* Copies `in` into the table; its `id` and `venue` are set by the table and `canonical` is
 * rebuilt from base and quote. Checks: symbol 1..XR_SYMBOL_MAX printable ASCII without
 * spaces or '/', base and quote valid asset codes, scales <= XR_SCALE_MAX, rules not
 * negative. XR_OK, XR_ERR_INVALID_ARGUMENT, XR_ERR_ALREADY_EXISTS or XR_ERR_NO_MEMORY.
 * `*out` (may be NULL) points at the stored instrument on success. */
xr_err xr_instruments_add(xr_instruments *t, const xr_instrument *in, const xr_instrument **out);

/* The instrument whose venue symbol is the `len` bytes at `symbol` (exact match), or NULL. */
const xr_instrument *xr_instruments_by_symbol(const xr_instruments *t, const char *symbol,
                                              size_t len);

/* The instrument named `len` bytes of `name` ("BTC/USDT", exact match), or NULL. */
const xr_instrument *xr_instruments_by_canonical(const xr_instruments *t, const char *name,
                                                 size_t len);

/* Instrument `id`, or NULL when id >= count. */
const xr_instrument *xr_instruments_get(const xr_instruments *t, uint32_t id);

/* Splits "BASE/QUOTE" into its codes (each a valid asset code). XR_OK or
 * XR_ERR_INVALID_ARGUMENT. */
xr_err xr_pair_name_split(const char *name, size_t len, char base[XR_ASSET_CODE_MAX + 1],
                          char quote[XR_ASSET_CODE_MAX + 1]);

/* Checks an order of `qty` base units at `price` against the instrument's rules before it is
 * sent. A zero price means a market order: price rules and the notional check are skipped.
 * XR_OK; XR_ERR_INVALID_AMOUNT (qty or price not positive, price off the tick or outside
 * [price_min, price_max], qty off the lot step); XR_ERR_BELOW_MIN_SIZE (qty below qty_min or
 * notional below notional_min); XR_ERR_LIMIT_EXCEEDED (qty above qty_max or notional above
 * notional_max); XR_ERR_OVERFLOW. The notional is computed exactly (xr_notional, rounded
 * DOWN for the minimum check and UP for the maximum, so a check never passes by rounding). */
xr_err xr_instrument_check_order(const xr_instrument *inst, xr_price price, xr_amount qty);

#ifdef __cplusplus
}
#endif

#endif /* XR_MARKET_INSTRUMENT_H */
