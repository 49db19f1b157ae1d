/*
 * core/market/book.h - one venue's L2 order book for one pair.
 *
 * The book is built from a snapshot and kept current by deltas (core/market/event.h book
 * events). It checks the venue's sequence ids, and a gap, a malformed event or an invalid
 * snapshot leaves it UNSYNCED until a new snapshot arrives; a venue adapter's sync procedure
 * (e.g. adapters/venues/binance/depth_sync.h) drives the resync. Reads for pricing refuse a
 * book that is not synced, is crossed (best bid >= best ask) or has not been updated for
 * longer than the configured staleness bound: a stale or unsynced book is never priced.
 *
 * Sequence rule (range ids, as Binance's U/u; a venue with one id per message sends
 * first_id == last_id): with the book at update id X, a delta [U, u] is
 *   ignored   when u <= X (already applied),
 *   a gap     when U > X + 1 (updates were missed),
 *   applied   otherwise, and X becomes u.
 *
 * Layout: each side is a sorted array of levels in memory the caller owns, with the best
 * level at the end (bids ascending, asks descending), so the frequent changes near the top
 * move few bytes; a level is found by binary search. Nothing allocates after init.
 *
 * Capacity: a side keeps at most depth_max levels. When a new level would not fit, the worst
 * levels are dropped (a batch at a time) and the side records a horizon: prices at or beyond
 * it are unknown from then on, and levels there are refused, so every level the book holds
 * is exact and no hole ever appears inside what it shows. A new snapshot clears the horizon.
 *
 * Time: the caller passes now_ns (monotonic) to every call that needs it; the book never
 * reads a clock.
 *
 * Threading: single-threaded (the market-data stage owns its books).
 * Ownership: the caller owns the book and its memory; views returned by xr_book_read() are
 * valid until the next call that changes the book.
 * Errors: XR_OK; XR_ERR_INVALID_ARGUMENT (init); XR_ERR_INVALID_STATE (a delta before a
 * snapshot); XR_ERR_VENUE_UNAVAILABLE (a sequence gap: now unsynced; or a read of a book that
 * is unsynced, loading or crossed); XR_ERR_MALFORMED (an invalid event: now unsynced);
 * XR_ERR_NO_MEMORY (a snapshot larger than depth_max that is not ordered best first: now
 * unsynced); XR_ERR_STALE (a read of a stale book); XR_ERR_CORRUPT (xr_book_verify).
 */
#ifndef XR_MARKET_BOOK_H
#define XR_MARKET_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/market/event.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BOOK_DEPTH_MAX 1000000u /* largest depth_max accepted */

typedef enum xr_book_state {
    XR_BOOK_UNSYNCED = 0, /* no usable content: waiting for a snapshot */
    XR_BOOK_LOADING = 1,  /* snapshot parts are arriving */
    XR_BOOK_SYNCED = 2    /* snapshot applied and every delta since is continuous */
} xr_book_state;

/* What one apply call did. */
typedef enum xr_book_outcome {
    XR_BOOK_APPLIED = 0,     /* the book changed (or the event was empty) */
    XR_BOOK_IGNORED_OLD = 1, /* every update in the event was already applied */
    XR_BOOK_GAP = 2,         /* updates were missed: the book is now UNSYNCED */
    XR_BOOK_CROSSED = 3,     /* applied, and best bid >= best ask: reads refuse meanwhile */
    XR_BOOK_NOT_SYNCED = 4,  /* a delta while UNSYNCED or LOADING: dropped, book unchanged */
    XR_BOOK_INVALID = 5,     /* a malformed event or snapshot: the book is now UNSYNCED */
    XR_BOOK_LOADING_PART = 6 /* a snapshot part was taken; more parts follow */
} xr_book_outcome;

typedef struct xr_book_config {
    uint32_t depth_max;      /* levels kept per side, 1..XR_BOOK_DEPTH_MAX */
    uint64_t stale_after_ns; /* reads refuse a book not updated for longer; 0 = never */
} xr_book_config;

typedef struct xr_book_stats {
    uint64_t snapshots;      /* snapshots applied */
    uint64_t deltas;         /* deltas applied */
    uint64_t ignored;        /* deltas ignored as already applied */
    uint64_t gaps;           /* sequence gaps detected */
    uint64_t invalid;        /* malformed events or snapshots */
    uint64_t crossed;        /* deltas after which the book was crossed */
    uint64_t levels_dropped; /* levels dropped or refused for capacity (horizon) */
} xr_book_stats;

/* One side. Fields are private to book.c. */
typedef struct xr_book_side {
    xr_book_level *levels; /* sorted, best at levels[n - 1] */
    uint32_t n;
    bool truncated;      /* a horizon exists */
    bool snap_monotone;  /* loading: levels arrived best first so far */
    bool snap_overflow;  /* loading: levels beyond depth_max arrived */
    xr_i128 horizon_key; /* truncated: keys <= this are unknown (key: bids price, asks -price) */
    xr_i128 snap_prev_key;
} xr_book_side;

/* A book. Fields are private to book.c; use the functions below. */
typedef struct xr_book {
    xr_book_side bids;
    xr_book_side asks;
    uint32_t depth_max;
    uint8_t state;    /* xr_book_state */
    bool crossed;     /* best bid >= best ask after the last complete delta */
    bool part_open;   /* a multi-part event is in progress */
    bool part_ignore; /* the open delta is old and its remaining parts are ignored */
    uint64_t stale_after_ns;
    uint64_t update_id;      /* venue sequence id the book reflects (valid when SYNCED) */
    uint64_t last_update_ns; /* caller's clock at the last applied event or touch */
    uint64_t part_first_id, part_last_id;
    xr_book_stats stats;
} xr_book;

/* A read-only window on one side: level 0 is the best. Valid until the book changes. */
typedef struct xr_book_view {
    const xr_book_level *best; /* &levels[n - 1]; NULL when n == 0 */
    uint32_t n;
} xr_book_view;

/* Level `i` (0 = best) of a view; i < v->n. */
static inline const xr_book_level *xr_book_view_at(const xr_book_view *v, uint32_t i)
{
    return v->best - i;
}

/* Bytes of memory a book with `cfg` needs (both sides); 0 when cfg is invalid. */
size_t xr_book_footprint(const xr_book_config *cfg);

/* Initialises an UNSYNCED empty book over `mem` (`len` >= footprint, 16-byte aligned).
 * XR_OK or XR_ERR_INVALID_ARGUMENT. */
xr_err xr_book_init(xr_book *b, void *mem, size_t len, const xr_book_config *cfg);

/* Drops the content: the book becomes UNSYNCED and waits for a snapshot. */
void xr_book_reset(xr_book *b);

/* Applies one part of a snapshot (a XR_EV_BOOK_SNAPSHOT book event; parts in order, the
 * first with XR_EV_BOOK_PART_FIRST, which discards the old content). The last part makes the
 * book SYNCED at the snapshot's id. Levels may come in any order; a quantity must be
 * positive and a price may appear once. `*outcome` (may be NULL) says what happened.
 * Returns XR_OK (LOADING_PART, APPLIED or CROSSED), XR_ERR_MALFORMED (INVALID: bad level,
 * duplicate price, parts out of order; the book is UNSYNCED) or XR_ERR_NO_MEMORY (INVALID:
 * more than depth_max levels on a side and not ordered best first). */
xr_err xr_book_apply_snapshot(xr_book *b, const xr_ev_book *ev, uint64_t now_ns,
                              xr_book_outcome *outcome);

/* Applies one delta part (a XR_EV_BOOK_DELTA book event) under the sequence rule above: for
 * each level, quantity zero removes the price, anything else sets it. Returns XR_OK
 * (APPLIED, IGNORED_OLD or CROSSED), XR_ERR_INVALID_STATE (NOT_SYNCED), XR_ERR_VENUE_UNAVAILABLE
 * (GAP) or XR_ERR_MALFORMED (INVALID: ids reversed, price not positive, quantity negative,
 * parts out of order). */
xr_err xr_book_apply_delta(xr_book *b, const xr_ev_book *ev, uint64_t now_ns,
                           xr_book_outcome *outcome);

/* Records that the venue's feed is alive at now_ns without a book change (e.g. a heartbeat
 * on the stream), so a quiet market is not mistaken for a dead feed. */
void xr_book_touch(xr_book *b, uint64_t now_ns);

xr_book_state xr_book_get_state(const xr_book *b);
/* The venue sequence id the book reflects; meaningful when SYNCED. */
uint64_t xr_book_update_id(const xr_book *b);
bool xr_book_is_crossed(const xr_book *b);
const xr_book_stats *xr_book_get_stats(const xr_book *b);

/* Whether the book may be used for pricing at now_ns: XR_OK; XR_ERR_VENUE_UNAVAILABLE
 * (UNSYNCED, LOADING or crossed); XR_ERR_STALE (no update for longer than stale_after_ns). */
xr_err xr_book_check(const xr_book *b, uint64_t now_ns);

/* A view of one side (XR_SIDE_BUY: bids, XR_SIDE_SELL: asks) for pricing, after the same
 * checks as xr_book_check(); on failure `*out` is empty. XR_ERR_INVALID_ARGUMENT for another
 * side value. */
xr_err xr_book_read(const xr_book *b, xr_side side, uint64_t now_ns, xr_book_view *out);

/* Both sides' views (as xr_book_read() of XR_SIDE_BUY into `bids` and XR_SIDE_SELL into
 * `asks`) after one xr_book_check(): its result; on failure both views are empty. */
xr_err xr_book_read_both(const xr_book *b, uint64_t now_ns, xr_book_view *bids, xr_book_view *asks);

/* Copies the best min(max, depth) levels of `side`, best first, into `out`, after the same
 * checks; `*n` is the number copied (0 on failure). */
xr_err xr_book_top(const xr_book *b, xr_side side, uint64_t now_ns, xr_book_level *out,
                   uint32_t max, uint32_t *n);

/* The changes that turn `old` into `cur`, two copies of the best levels of one side (best
 * first, as xr_book_top writes them; XR_SIDE_BUY: bids, prices descending, XR_SIDE_SELL:
 * asks, ascending): first every price of `old` missing from `cur`, with quantity zero, then
 * every price of `cur` that is new or whose quantity changed, with its new quantity. Applied
 * as one delta to a book holding exactly `old` (with depth_max >= n_old and >= n_cur), it
 * leaves the book holding exactly `cur`, never more than max(n_old, n_cur) levels in between
 * (removals come first), so no level is dropped for capacity. This is how a stage that keeps
 * a copy of another book's top levels is sent only what changed (adapters/engine_venues.c).
 * `*n` is the number of levels written to `out` (at most `max`). Returns XR_OK,
 * XR_ERR_NO_MEMORY (more than `max` changes: `*n` is 0 and `out` holds nothing useful) or
 * XR_ERR_INVALID_ARGUMENT (another side value). Pure: no book is read or changed. */
xr_err xr_book_levels_diff(xr_side side, const xr_book_level *old, uint32_t n_old,
                           const xr_book_level *cur, uint32_t n_cur, xr_book_level *out,
                           uint32_t max, uint32_t *n);

/* O(n) consistency check for tests, debug builds and fuzzing: each side strictly sorted with
 * the best last, prices and quantities positive, counts within capacity, every level inside
 * the horizon, and the crossed flag agreeing with the levels. XR_OK or XR_ERR_CORRUPT. */
xr_err xr_book_verify(const xr_book *b);

/* Stable names ("synced", "gap", ...); "unknown" outside the enums. */
const char *xr_book_state_name(xr_book_state state);
const char *xr_book_outcome_name(xr_book_outcome outcome);

#ifdef __cplusplus
}
#endif

#endif /* XR_MARKET_BOOK_H */
