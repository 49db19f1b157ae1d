/*
 * adapters/sim/market.h - one simulated market (a venue's pair): an L2 book driven by a
 * seeded random process, its update log, its trades and its one-minute candles.
 *
 * I/O-free and clock-free: the caller passes the time (server milliseconds) into every call
 * that stamps something, and drives the process with xr_sim_market_step(). The same
 * configuration and seed give the same sequence of book changes and trades, step for step,
 * whatever the timing (timestamps aside): this is what makes simulator runs repeatable.
 *
 * Units: every price is an integer number of ticks (price = ticks x tick, tick in units of
 * 10^-8 of the quote asset) and every quantity an integer number of lots (quantity = lots x
 * step, step in units of 10^-8 of the base asset). 10^-8 is Binance's precision for every
 * asset, so every value the simulator prints is exact with 8 decimals. No floating point.
 *
 * Book: each side is an array of price levels, best first. A level holds synthetic
 * liquidity (the random process's) and resting simulator orders' quantity (the matching
 * engine's, engine.h); its published quantity is the sum. Every change of a level's
 * published quantity is one entry in the update log with the next update id, as Binance
 * numbers its depth changes (an event covering ids U..u).
 *
 * The process, one step: one of (a) a level's synthetic size changes, (b) a synthetic taker
 * trade takes from the best level of one side (resting simulator orders there first, then
 * synthetic size), (c) a new best level appears inside the spread, (d) a deeper synthetic
 * level is withdrawn; then both sides are topped up or trimmed to `depth` synthetic levels.
 * Taker sides and improvements lean toward the initial mid (mean reversion), so the price
 * wanders in integer ticks but does not drift away.
 *
 * Threading: a market is used by one thread at a time.
 * Ownership: the caller owns the market (create/destroy). Pointers returned by accessors are
 *   valid until the next call that changes the market.
 * Errors: XR_ERR_INVALID_ARGUMENT (bad configuration), XR_ERR_NO_MEMORY.
 */
#ifndef XR_ADAPTERS_SIM_MARKET_H
#define XR_ADAPTERS_SIM_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_SIM_SCALE      8                  /* decimals of every price, quantity and amount */
#define XR_SIM_UNIT       INT64_C(100000000) /* 10^XR_SIM_SCALE */
#define XR_SIM_SYMBOL_MAX 20
#define XR_SIM_LEVELS_MAX 512    /* levels per side, synthetic and resting together */
#define XR_SIM_DEPTH_MAX  200    /* synthetic levels per side */
#define XR_SIM_LOG_SIZE   32768u /* update-log entries kept (power of two) */
#define XR_SIM_TRADES_LOG 4096u  /* trades kept (power of two) */
#define XR_SIM_CANDLES    1500u  /* one-minute candles kept: a little over a day */

/* Book sides. A BUY taker takes from the ASK side. */
#define XR_SIM_BID 0
#define XR_SIM_ASK 1

typedef struct xr_sim_pair_config {
    char symbol[XR_SIM_SYMBOL_MAX + 1]; /* venue symbol, "BTCUSDT" */
    char base[XR_ASSET_CODE_MAX + 1];   /* "BTC" */
    char quote[XR_ASSET_CODE_MAX + 1];  /* "USDT" */
    int64_t tick;                       /* PRICE_FILTER tickSize, 10^-8 units, > 0 */
    int64_t min_price, max_price;       /* PRICE_FILTER, 10^-8 units */
    int64_t step;                       /* LOT_SIZE stepSize, 10^-8 units, > 0 */
    int64_t min_qty, max_qty;           /* LOT_SIZE, 10^-8 units */
    int64_t min_notional, max_notional; /* NOTIONAL, 10^-8 quote units */
    int64_t mid;                        /* initial mid price, 10^-8 units */
    int64_t level_qty;                  /* typical synthetic level size, 10^-8 units */
    uint32_t depth;                     /* synthetic levels per side [20] */
    uint32_t gap_ticks_max;             /* widest gap between synthetic levels [2] */
} xr_sim_pair_config;

typedef struct xr_sim_level {
    int64_t price; /* ticks */
    int64_t synth; /* lots of synthetic liquidity */
    int64_t user;  /* lots of resting simulator orders */
} xr_sim_level;

/* One entry of the update log: after update `id`, level `price` of `side` holds `qty`
 * (0: removed). */
typedef struct xr_sim_change {
    uint64_t id;
    int64_t price; /* ticks */
    int64_t qty;   /* lots */
    uint8_t side;  /* XR_SIM_BID / XR_SIM_ASK */
} xr_sim_change;

typedef struct xr_sim_trade {
    uint64_t id;
    int64_t price; /* ticks */
    int64_t qty;   /* lots */
    int64_t time_ms;
    bool buyer_maker; /* the resting side was the buyer (a SELL taker) */
} xr_sim_trade;

typedef struct xr_sim_candle {
    int64_t open_ms;                /* start of the minute; 0: no trade in that minute */
    int64_t open, high, low, close; /* ticks */
    xr_i128 volume;                 /* lots */
    xr_i128 quote_e16;              /* quote volume, 10^-16 units (exact) */
    xr_i128 taker_buy_volume;       /* lots */
    xr_i128 taker_buy_quote_e16;
    uint64_t count, first_id, last_id;
} xr_sim_candle;

/* Asked to fill resting simulator orders on `side` at `price` for up to `lots` because a
 * synthetic taker reached them; returns the lots it filled (it records the trades and
 * removes the lots from the level itself, through the functions below). */
typedef int64_t (*xr_sim_user_fill_fn)(void *ctx, int side, int64_t price, int64_t lots,
                                       int64_t now_ms);

typedef struct xr_sim_market xr_sim_market;

/* Checks a configuration: positive tick and step, min/max on their grids and ordered, a mid
 * inside the price range, depth 1..XR_SIM_DEPTH_MAX. Fills zero depth / gap / level_qty /
 * min_price / max_price with defaults first. */
xr_err xr_sim_pair_config_check(xr_sim_pair_config *cfg);

/* Creates a market with its initial book around cfg->mid (the initial book is itself part
 * of the seeded stream: update ids 1..n). `seed` is combined with the symbol, so each pair
 * of a venue has its own stream. */
xr_err xr_sim_market_create(const xr_sim_pair_config *cfg, uint64_t seed, int64_t now_ms,
                            xr_sim_market **out);
void xr_sim_market_destroy(xr_sim_market *m);

const xr_sim_pair_config *xr_sim_market_config(const xr_sim_market *m);

/* One step of the random process (see above); at least one change is logged. */
void xr_sim_market_step(xr_sim_market *m, int64_t now_ms);

/* Installs the engine's hook for resting orders reached by synthetic takers. */
void xr_sim_market_set_user_fill(xr_sim_market *m, xr_sim_user_fill_fn fn, void *ctx);

/* ---- the book -------------------------------------------------------------------------- */

/* Number of levels on `side`, and level i (0 = best). */
size_t xr_sim_market_level_count(const xr_sim_market *m, int side);
const xr_sim_level *xr_sim_market_level(const xr_sim_market *m, int side, size_t i);
/* Best price in ticks, or 0 when the side is empty. */
int64_t xr_sim_market_best(const xr_sim_market *m, int side);
/* (best bid + best ask) / 2 in 10^-8 units rounded down to the tick grid; the last trade
 * or the initial mid when a side is empty. */
int64_t xr_sim_market_mid(const xr_sim_market *m);

/* Adds (lots > 0) or removes (lots < 0) resting-order quantity at `price` on `side`, creating
 * or deleting the level, and logs the change. The caller guarantees that the book stays
 * uncrossed and never removes more than it added. XR_ERR_NO_MEMORY when a new level is
 * needed and the side already has XR_SIM_LEVELS_MAX (nothing changes then). */
xr_err xr_sim_market_add_user(xr_sim_market *m, int side, int64_t price, int64_t lots);
/* Removes up to `lots` synthetic lots from the level at `price` (a taker filled them) and
 * logs the change; returns the lots removed. */
int64_t xr_sim_market_take_synth(xr_sim_market *m, int side, int64_t price, int64_t lots);

/* Sets the synthetic lots of the level at `price` on `side` (0 removes them), logging the
 * change: for tests and the control endpoint, which shape a known book with the automatic
 * steps off. XR_ERR_INVALID_ARGUMENT when the level would cross the other side or leave the
 * price range, XR_ERR_NO_MEMORY when the side is full. */
xr_err xr_sim_market_set_synth(xr_sim_market *m, int side, int64_t price, int64_t lots);
/* Removes every synthetic level (resting orders stay), logging each change. */
void xr_sim_market_clear_synth(xr_sim_market *m);

/* ---- update log ------------------------------------------------------------------------ */

uint64_t xr_sim_market_last_id(const xr_sim_market *m);
/* The oldest update id still in the log. */
uint64_t xr_sim_market_oldest_id(const xr_sim_market *m);
/* The change with update id `id`, or NULL when it is not (or no longer) in the log. */
const xr_sim_change *xr_sim_market_change(const xr_sim_market *m, uint64_t id);

/* ---- trades and candles ---------------------------------------------------------------- */

/* Records a trade at `price` for `lots` and returns its id. */
uint64_t xr_sim_market_record_trade(xr_sim_market *m, int64_t price, int64_t lots, bool buyer_maker,
                                    int64_t now_ms);
uint64_t xr_sim_market_last_trade_id(const xr_sim_market *m);
/* The trade `id`, or NULL when it is not (or no longer) kept. */
const xr_sim_trade *xr_sim_market_trade(const xr_sim_market *m, uint64_t id);
/* The candle of the minute starting at `open_ms` (a multiple of 60000), or NULL when that
 * minute had no trade or is no longer kept. */
const xr_sim_candle *xr_sim_market_candle(const xr_sim_market *m, int64_t open_ms);
/* Price of the last trade in ticks; 0 before the first. */
int64_t xr_sim_market_last_price(const xr_sim_market *m);

/* ---- helpers --------------------------------------------------------------------------- */

/* lots x step and ticks x tick in 10^-8 units. */
int64_t xr_sim_market_qty_units(const xr_sim_market *m, int64_t lots);
int64_t xr_sim_market_price_units(const xr_sim_market *m, int64_t ticks);
/* lots x price in 10^-16 quote units: exact. */
xr_i128 xr_sim_market_quote_e16(const xr_sim_market *m, int64_t lots, int64_t ticks);

/* Verifies the book's invariants (sorted, uncrossed, no empty level, counts): O(n), for
 * tests. Returns true when they hold. */
bool xr_sim_market_verify(const xr_sim_market *m);

/* Seeded generator used by the process (xoshiro256**, seeded through splitmix64). */
typedef struct xr_sim_rng {
    uint64_t s[4];
} xr_sim_rng;
void xr_sim_rng_seed(xr_sim_rng *r, uint64_t seed);
uint64_t xr_sim_rng_next(xr_sim_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t xr_sim_rng_below(xr_sim_rng *r, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_SIM_MARKET_H */
