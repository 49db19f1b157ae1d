/*
 * core/router/ibook.h - the internal book: xroute's own price-time priority book of resting
 * client LIMIT orders for one trading pair.
 *
 * A client LIMIT order with time in force GTC or GTD rests here until it is filled by an
 * opposite client order, cancelled, expired, or taken out by the router because the
 * consolidated venue market now reaches its price (xr_ibook_marketable()). IOC and FOK orders
 * never rest: they match what they can (FOK: all or nothing) and the rest is cancelled.
 *
 * Matching rules:
 *   - Priority: better price first; at one price, earlier first (FIFO by arrival).
 *   - Crossing price: every fill executes at the RESTING (maker) order's price. An incoming
 *     buy at 105 against a resting sell at 100 fills at 100: the price improvement goes to the
 *     incoming order, and the resting order gets exactly the price it asked for.
 *   - An incoming order sweeps levels best first while its limit crosses (buy: ask <= limit;
 *     sell: bid >= limit), each level in FIFO order, one fill per resting order touched.
 *   - IOC: the remainder after the sweep is cancelled (reported in the result, never rests).
 *   - FOK: the crossing quantity is summed first (per level totals, best first); if it is
 *     below the order's quantity nothing executes and the order is killed; otherwise it
 *     executes in full exactly like an IOC.
 *   - GTC / GTD: the remainder rests at the back of its price level's queue. A GTD order
 *     carries an absolute expiry on the caller's monotonic clock and is removed by
 *     xr_ibook_expire_due(now_ns) once now_ns >= expire_ns. The book never reads a clock and
 *     does not look at expiry while matching: the owning stage calls xr_ibook_expire_due()
 *     with its current time before it applies commands, so an expired order never trades.
 *   - No self-trade prevention: the book does not know customers; the caller decides.
 *
 * Move rule (xr_ibook_move(): new limit price and new remaining quantity of a resting order):
 *   - same price, quantity decreased: reduced in place, KEEPS its time priority;
 *   - same price, same quantity: nothing changes (keeps priority);
 *   - anything else (price changed, or quantity increased): the order loses its priority: it
 *     is taken out and re-entered at the back of the queue at the new price, as a new arrival
 *     with its original id, side, time in force and expiry. If the new price crosses the
 *     opposite side it trades first, as the incoming order, at the resting orders' prices.
 *   This is the rule of most exchanges (CME, Eurex, Binance's order amend): only a size
 *   reduction is harmless to the orders queued behind.
 *
 * Capacity: `orders_max` resting orders (order id -> order through an open-addressing hash
 * in the book's memory). A GTC / GTD order that would not be completely filled on arrival is
 * refused with XR_ERR_NO_MEMORY when no order slot is free at submission, and then nothing
 * at all has happened (no fill). The check does not count slots the order's own fills would
 * free: the outcome depends only on the book before the call, which keeps it simple to state.
 * IOC and FOK orders and moves never need a slot.
 *
 * Numbers: quantities are xr_amount in base minor units, 1..XR_IBOOK_QTY_MAX, so the sum of
 * every resting quantity fits in 128 bits without a check per addition; prices are xr_price
 * ticks, 1..XR_I128_MAX. Integer arithmetic only; nothing is rounded.
 *
 * Layout (see ibook.c): orders come from a fixed pool (core/ring/pool.h) and sit in a doubly
 * linked FIFO per price level. Each side has a window of XR_IBOOK_WINDOW_TICKS consecutive
 * prices that always contains its best price, with one slot per tick and a two-level bitmap
 * of the occupied ones: near the market a level is found, added or removed in O(1) and the
 * next best price is a couple of bit scans away. Levels worse than the window (far from the
 * market) are kept exact in an array sorted by price. When a better price arrives above the
 * window, or the window empties, the window re-centres (the levels that leave or enter it
 * move between the two; nothing else moves). GTD orders are also in a binary min-heap by
 * expiry. Nothing allocates after init.

 * Fills are reported through the callback given at init, in execution order, while the call
 * that causes them runs. The callback must not call into the same book (XR_ASSERT).
 *
 * Threading: single-threaded; the router stage owns its books.
 * Ownership: the caller owns the xr_ibook object and its memory (which must outlive it), and
 * the callback context. Pointers passed in are read during the call only. The fill passed to
 * the callback is valid only during the callback.
 *
 * Errors: XR_OK; XR_ERR_INVALID_ARGUMENT (init arguments; an order with id 0, side or time in
 * force outside its enum, price or quantity out of range, GTD without an expiry after now);
 * XR_ERR_ALREADY_EXISTS (an order with this id rests in the book); XR_ERR_NO_MEMORY (no free
 * order slot for an order that would rest); XR_ERR_NOT_FOUND (no resting order with that id;
 * an empty side); XR_ERR_AGAIN (a query's output array was full: more results remain);
 * XR_ERR_CORRUPT (xr_ibook_verify found a broken invariant). Every error leaves the book
 * unchanged.
 */
#ifndef XR_ROUTER_IBOOK_H
#define XR_ROUTER_IBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ring/pool.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_IBOOK_ORDERS_MAX (1u << 24) /* largest orders_max accepted */
/* Largest order quantity: 2^94 - 1 base units (2 x 10^10 ETH at 18 decimals). With at most
 * 2^24 orders the sum of all resting quantities stays below 2^118. */
#define XR_IBOOK_QTY_MAX ((xr_i128)((((xr_u128)1) << 94) - 1))

typedef enum xr_ibook_side {
    XR_IBOOK_BUY = 0,
    XR_IBOOK_SELL = 1,
} xr_ibook_side;

typedef enum xr_ibook_tif {
    XR_IBOOK_GTC = 0, /* good till cancelled: rests */
    XR_IBOOK_GTD = 1, /* good till date: rests until expire_ns */
    XR_IBOOK_IOC = 2, /* immediate or cancel: never rests */
    XR_IBOOK_FOK = 3, /* fill or kill: all now or nothing; never rests */
} xr_ibook_tif;

/* What became of an incoming (or moved) order. */
typedef enum xr_ibook_outcome {
    XR_IBOOK_FILLED = 0,    /* completely filled; nothing rests */
    XR_IBOOK_RESTING = 1,   /* the remainder rests (it may have filled in part first) */
    XR_IBOOK_CANCELLED = 2, /* IOC: the remainder (maybe all of it) was cancelled */
    XR_IBOOK_KILLED = 3,    /* FOK: not enough crossing quantity; nothing executed */
    XR_IBOOK_UNCHANGED = 4, /* move: same price and quantity; nothing to do */
    XR_IBOOK_REDUCED = 5,   /* move: quantity reduced in place; time priority kept */
} xr_ibook_outcome;

/* An incoming order. */
typedef struct xr_ibook_order {
    uint64_t id;        /* caller's order id, non-zero, unique among resting orders */
    xr_ibook_side side; /* BUY or SELL */
    xr_ibook_tif tif;   /* GTC, GTD, IOC or FOK */
    xr_price price;     /* limit price in ticks, 1..XR_I128_MAX */
    xr_amount qty;      /* base minor units, 1..XR_IBOOK_QTY_MAX */
    uint64_t expire_ns; /* GTD only: absolute, same clock as now_ns, > now_ns; else ignored */
} xr_ibook_order;

/* One execution between an incoming (taker) and a resting (maker) order. */
typedef struct xr_ibook_fill {
    uint64_t taker_id;         /* the incoming or moved order */
    uint64_t maker_id;         /* the resting order */
    xr_ibook_side taker_side;  /* the maker is on the other side */
    xr_price price;            /* the maker's price (the crossing rule) */
    xr_amount qty;             /* executed base quantity, > 0 */
    xr_amount taker_remaining; /* taker's quantity left after this fill */
    xr_amount maker_remaining; /* maker's quantity left; 0: it left the book */
} xr_ibook_fill;

/* Called once per fill, in execution order. `fill` is valid during the call only. */
typedef void (*xr_ibook_fill_fn)(void *ctx, const xr_ibook_fill *fill);

typedef struct xr_ibook_config {
    uint32_t orders_max;      /* resting orders, 1..XR_IBOOK_ORDERS_MAX */
    xr_ibook_fill_fn on_fill; /* must not be NULL */
    void *ctx;                /* passed to on_fill; may be NULL */
} xr_ibook_config;

/* The outcome of xr_ibook_submit() / xr_ibook_move(). */
typedef struct xr_ibook_result {
    xr_ibook_outcome outcome;
    xr_amount filled;    /* quantity executed by this call */
    xr_amount remaining; /* RESTING/REDUCED/UNCHANGED: resting quantity; CANCELLED/KILLED:
                            quantity cancelled; FILLED: 0 */
    uint32_t fills;      /* number of fills reported */
} xr_ibook_result;

/* A resting order as xr_ibook_get() reports it. */
typedef struct xr_ibook_info {
    uint64_t id;
    xr_ibook_side side;
    xr_ibook_tif tif; /* GTC or GTD */
    xr_price price;
    xr_amount remaining;
    uint64_t expire_ns; /* GTD: expiry; GTC: 0 */
} xr_ibook_info;

/* One price level as xr_ibook_depth() reports it. */
typedef struct xr_ibook_level_info {
    xr_price price;
    xr_amount qty;   /* sum of the resting quantities at this price */
    uint32_t orders; /* number of resting orders at this price */
} xr_ibook_level_info;

/* The book. The fields are private to ibook.c. */
struct xr_ibook_lvl;  /* a price level (ibook.c) */
struct xr_ibook_ord;  /* a resting order (ibook.c) */
struct xr_ibook_slot; /* an id hash slot (ibook.c) */

/* Ticks covered by each side's price window (see Layout above and ibook.c). */
#define XR_IBOOK_WINDOW_TICKS 4096u

typedef struct xr_ibook_side_levels {
    /* The window: one slot per tick for keys base .. base + XR_IBOOK_WINDOW_TICKS - 1, slot
     * key mod XR_IBOOK_WINDOW_TICKS (a ring: re-centring moves no slot), and a bitmap of the
     * occupied slots with a summary word of the non-zero bitmap words. */
    struct xr_ibook_lvl **slots;
    uint64_t *bits;            /* XR_IBOOK_WINDOW_TICKS / 64 words */
    uint64_t summary;          /* bit w: bits[w] != 0 */
    struct xr_ibook_lvl *best; /* the side's best level (always in the window); NULL: empty */
    xr_i128 base;              /* key of the window's lowest tick */
    uint32_t window_count;     /* levels in the window */
    /* Levels with keys below base (far from the market), sorted ascending, best last. */
    xr_i128 *keys;                /* price (bids) or -price (asks) */
    struct xr_ibook_lvl **levels; /* the level of each key */
    uint32_t count;               /* levels below the window */
} xr_ibook_side_levels;

typedef struct xr_ibook {
    xr_pool orders;               /* struct ib_order objects */
    xr_pool levels;               /* struct ib_level objects */
    xr_ibook_side_levels side[2]; /* [XR_IBOOK_BUY], [XR_IBOOK_SELL] */
    struct xr_ibook_slot *hash;   /* order id -> order; id 0 = empty slot */
    uint32_t hash_mask;           /* slots - 1 (power of two) */
    uint32_t hash_shift;          /* 64 - log2(slots) */
    struct xr_ibook_ord **heap;   /* GTD orders, min-heap by (expiry, arrival) */
    uint32_t heap_count;
    uint32_t orders_max;
    uint64_t seq; /* arrival counter (time priority, checked by verify) */
    xr_ibook_fill_fn on_fill;
    void *ctx;
    bool in_call; /* a fill callback is running (re-entry guard) */
} xr_ibook;

/* Bytes of memory a book with `cfg` needs, or 0 when cfg is NULL or orders_max is out of
 * range. */
size_t xr_ibook_footprint(const xr_ibook_config *cfg);

/* Initialises an empty book over `mem` (`len` >= footprint, 16-byte aligned); writes all of
 * it once (faulting the pages in). XR_OK, or XR_ERR_INVALID_ARGUMENT (NULL b, mem, cfg or
 * on_fill, orders_max out of range, len too small, mem misaligned; `b` untouched). */
xr_err xr_ibook_init(xr_ibook *b, void *mem, size_t len, const xr_ibook_config *cfg);

/* Matches `o` against the book and rests its remainder (GTC/GTD), cancels it (IOC) or kills
 * it (FOK) as the rules above say; fills go to the callback before this returns. `now_ns`
 * is only checked against a GTD expiry. On XR_OK `*res` says what happened. Errors (nothing
 * changed, no fill, `*res` untouched): XR_ERR_INVALID_ARGUMENT, XR_ERR_ALREADY_EXISTS,
 * XR_ERR_NO_MEMORY. O(1 + fills) for a price within the window; a price below it costs a
 * binary search and moves the far levels above it; a price above it re-centres the window
 * (O(levels that leave it)). */
xr_err xr_ibook_submit(xr_ibook *b, const xr_ibook_order *o, uint64_t now_ns, xr_ibook_result *res);

/* Cancels the resting order `id`. On XR_OK writes its remaining quantity to `*cancelled`
 * (may be NULL). XR_ERR_NOT_FOUND when no order with that id rests. O(1) + level removal. */
xr_err xr_ibook_cancel(xr_ibook *b, uint64_t id, xr_amount *cancelled);

/* Moves the resting order `id` to `new_price` with `new_qty` remaining (see the move rule).
 * Trades first when the new price crosses. Errors (nothing changed): XR_ERR_NOT_FOUND,
 * XR_ERR_INVALID_ARGUMENT (price or quantity out of range). Never XR_ERR_NO_MEMORY: the
 * order keeps its own slot. */
xr_err xr_ibook_move(xr_ibook *b, uint64_t id, xr_price new_price, xr_amount new_qty,
                     xr_ibook_result *res);

/* Removes GTD orders with expire_ns <= now_ns, earliest expiry first (ties: earliest
 * arrival not guaranteed), writing their ids to `ids` (cap entries) and the count to `*n`.
 * XR_OK when no due order is left; XR_ERR_AGAIN when `ids` filled up and more are due (call
 * again). `ids` may be NULL when cap is 0. O(k log n). */
xr_err xr_ibook_expire_due(xr_ibook *b, uint64_t now_ns, uint64_t *ids, size_t cap, size_t *n);

/* Resting orders whose limit the consolidated market now reaches: buys with price >=
 * *best_ask and sells with price <= *best_bid (NULL: that side of the market is empty). The
 * ids are written best price first, FIFO within a price, buys before sells, up to `cap`;
 * `*n` is the count. The book is not changed: the router takes the orders out (xr_ibook_cancel)
 * as it routes them. XR_OK when all were written; XR_ERR_AGAIN when `ids` filled up first. */
xr_err xr_ibook_marketable(const xr_ibook *b, const xr_price *best_bid, const xr_price *best_ask,
                           uint64_t *ids, size_t cap, size_t *n);

/* The resting order `id`. XR_OK or XR_ERR_NOT_FOUND (`*out` untouched). O(1). */
xr_err xr_ibook_get(const xr_ibook *b, uint64_t id, xr_ibook_info *out);

/* Best price and its total quantity on `side`. XR_OK or XR_ERR_NOT_FOUND (side empty). O(1).
 * `qty` may be NULL. */
xr_err xr_ibook_best(const xr_ibook *b, xr_ibook_side side, xr_price *price, xr_amount *qty);

/* The levels of `side` best first, up to `cap`; `*n` is the number written. XR_OK, or
 * XR_ERR_AGAIN when the side has more levels than `cap`. */
xr_err xr_ibook_depth(const xr_ibook *b, xr_ibook_side side, xr_ibook_level_info *out, size_t cap,
                      size_t *n);

/* Number of resting orders. */
uint32_t xr_ibook_count(const xr_ibook *b);

/* O(n) check of every invariant (level order, FIFO links and arrival order, level totals
 * and counts, hash <-> orders, heap order and membership, pool counts). XR_OK or
 * XR_ERR_CORRUPT. For tests and debug builds. */
xr_err xr_ibook_verify(const xr_ibook *b);

/* Stable names ("BUY", "GTD", "KILLED"); "UNKNOWN" outside the enums. */
const char *xr_ibook_side_name(xr_ibook_side side);
const char *xr_ibook_tif_name(xr_ibook_tif tif);
const char *xr_ibook_outcome_name(xr_ibook_outcome outcome);

#ifdef __cplusplus
}
#endif

#endif /* XR_ROUTER_IBOOK_H */
