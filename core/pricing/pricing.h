/*
 * core/pricing/pricing.h - consolidated books, executable prices, the bank's spread and firm
 * quotes with slippage control. I/O-free: books, instruments and time are passed in.
 *
 * Model. A pricer knows a set of canonical pairs ("BTC/USDT"); each pair has up to
 * XR_PRICING_VENUES_MAX venues, and each venue contributes its L2 book (core/market/book.h),
 * its trading rules (core/market/instrument.h) and its taker fee in basis points. Every venue
 * of a pair must use the pair's scales (xr_pair_scale), so prices and quantities compare
 * directly across venues.
 *
 * Consolidated book. At each call the usable venues of a pair are those whose book passes
 * xr_book_check(now) and whose instrument is TRADING; stale, unsynced, loading and crossed
 * books (a venue book with best bid >= best ask) are left out of that call.
 *   - No usable venue: quoting halts for the pair with XR_ERR_STALE when at least one venue
 *     was left out as stale, else XR_ERR_VENUE_UNAVAILABLE.
 *   - Crossing across venues (venue A's best bid >= venue B's best ask) is normal: the books
 *     of different venues are not one market, and such a cross is an arbitrage that the walk
 *     simply uses. It is reported in xr_pricing_bbo.cross_venue.
 *   - Crossing beyond `cross_halt_bps` (best bid > best ask x (1 + cross_halt_bps / 10^4)
 *     across the usable venues) is not a market that exists: it means bad data (a feed that
 *     lost its sequence without noticing, a mis-mapped symbol, a wrong scale). Quoting halts
 *     for the pair with XR_ERR_INVALID_STATE until the data agrees again. 0 disables it.
 *
 * Sides. Functions that price a trade take the CUSTOMER's side: XR_SIDE_BUY buys the base
 * asset and walks the venues' asks; XR_SIDE_SELL sells base and walks their bids. Functions
 * that read depth take the BOOK's side as book.h does (XR_SIDE_BUY = bids).
 *
 * Executable price (the walk). A size is either a base quantity (XR_PRICING_BASE) or a quote
 * amount (XR_PRICING_QUOTE: for a buy, the most the walk may cost including venue fees; for a
 * sell, the least it must yield net of venue fees). The walk takes levels across venues best
 * first, where "best" is the level's price net of its venue's fee (buy: price x (10^4 + fee);
 * sell: price x (10^4 - fee); ties go to the venue registered first), and at each level takes
 * what the size still needs, floored to the venue's lot step and capped by its qty_max and
 * notional_max. A venue's share (a "leg") must then pass xr_instrument_check_order at its limit
 * price (the worst level it used, rounded to the tick away from the customer): a leg that fails
 * it (below the venue's min quantity or min notional, or a limit outside its price rules) is
 * dropped, that venue is excluded and the walk starts again, so its quantity is reallocated to
 * the other venues. A sell leg whose worst level is below one tick of its venue has no limit
 * price there (it would floor to 0, which check_order reads as a market order) and is dropped
 * the same way; a leg's limit is never 0. See docs/ARCHITECTURE.md
 * ("Pricing") and the rounding rules in docs/ledger.md ("Rounding").
 *
 * Amounts, all exact integers (quote amounts in quote minor units):
 *   leg notional   buy: ceil(sum qty x price), sell: floor(...)  (against the customer)
 *   leg fee        ceil(leg notional x fee_bps / 10^4)
 *   executable     buy: sum(notional + fee), sell: sum(notional - fee)
 *   spread         floor(executable x spread_bps / 10^4)          (never above the stated rate)
 *   customer       buy: pays executable + spread; sell: receives executable - spread
 *
 * Firm quotes live in a fixed-capacity store: ids are handed out in sequence and slot
 * (id - 1) mod quotes_max holds quote id; a slot is reused only when its quote was executed or
 * has expired, else a new quote is refused with XR_ERR_NO_MEMORY (size quotes_max >= quote
 * rate x ttl). A quote is executed at most once.
 *
 * Time: every call that needs it takes now_ns (the monotonic clock of the books); the pricer
 * never reads a clock.
 * Threading: single-threaded. A pricer and the books it reads belong to one stage (the pricing
 * stage keeps its own copies of the books, fed by the market-data stage through a ring).
 * Ownership: the caller owns the pricer's memory, the books and the instruments; the pricer
 * keeps pointers to the books and instruments given to xr_pricing_add_venue, which must stay
 * valid (and in the same place) while the pricer lives. Output structs are plain values the
 * caller owns. Nothing allocates; after init no function allocates either.
 * NULL: pointer parameters must not be NULL unless marked "may be NULL" (XR_ASSERT).
 *
 * Errors (each function lists its own): XR_OK; XR_ERR_INVALID_ARGUMENT (bad config, memory,
 * side, mode or bps); XR_ERR_CONFIG (a venue whose scales differ from its pair's);
 * XR_ERR_UNKNOWN_PAIR; XR_ERR_INVALID_AMOUNT (size not positive, or not a multiple of the
 * finest lot step of the pair's venues); XR_ERR_STALE, XR_ERR_VENUE_UNAVAILABLE,
 * XR_ERR_INVALID_STATE (halts, above; also a quote already executed); XR_ERR_BELOW_MIN_SIZE
 * (the size is too small for every venue's minimums); XR_ERR_INSUFFICIENT_LIQUIDITY (the
 * usable depth cannot fill the size); XR_ERR_NOT_FOUND (no spread configured; unknown quote
 * id, or a quote of another bank or customer); XR_ERR_QUOTE_EXPIRED; XR_ERR_SLIPPAGE_EXCEEDED;
 * XR_ERR_NO_MEMORY (a table or the quote store is full); XR_ERR_ALREADY_EXISTS (a pair or a
 * venue registered twice); XR_ERR_OVERFLOW (an amount beyond 127 bits; also, in a walk, a book
 * level at or above 2^113 ticks that the walk reaches: its fee-weighted merge key price x
 * (10^4 + fee) would not fit 127 bits, and no real market comes near).
 */
#ifndef XR_PRICING_PRICING_H
#define XR_PRICING_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/market/book.h"
#include "core/market/event.h"
#include "core/market/instrument.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_PRICING_VENUES_MAX  8u         /* venues per pair */
#define XR_PRICING_PAIRS_MAX   4096u      /* pairs per pricer */
#define XR_PRICING_BPS_ONE     10000u     /* basis points in 1 */
#define XR_PRICING_FEE_BPS_MAX 1000u      /* a taker fee above 10% is a configuration error */
#define XR_PRICING_ANY_PAIR    UINT32_MAX /* spread table wildcard: every pair */
#define XR_PRICING_ANY_TIER    UINT8_MAX  /* spread table wildcard: every KYC tier */

/* What a walk's size is counted in. */
typedef enum xr_pricing_size_kind {
    XR_PRICING_BASE = 0, /* base quantity bought or sold */
    XR_PRICING_QUOTE = 1 /* buy: quote budget incl. fees; sell: quote to receive net of fees */
} xr_pricing_size_kind;

/* Which of a firm quote's amounts the customer fixed. */
typedef enum xr_quote_fixed {
    XR_QUOTE_FIX_SOURCE = 0, /* what the customer gives: buy quote, sell base */
    XR_QUOTE_FIX_TARGET = 1  /* what the customer gets: buy base, sell quote */
} xr_quote_fixed;

typedef struct xr_pricing_config {
    uint32_t pairs_max;      /* 1..XR_PRICING_PAIRS_MAX */
    uint32_t spreads_max;    /* spread table entries, >= 1 */
    uint32_t quotes_max;     /* quote store slots, >= 1 */
    uint64_t quote_ttl_ns;   /* a firm quote's time to live, > 0 */
    uint32_t slippage_bps;   /* allowed move of the executable amount at execution, < 10^4 */
    uint32_t cross_halt_bps; /* cross-venue crossing that halts a pair; 0 = never */
    uint64_t first_quote_id; /* the first firm quote's id; 0 = 1. A pricer that must never
                                hand out an id of an earlier pricer (a restart) starts above
                                every id that one used (e.g. the wall clock in microseconds) */
} xr_pricing_config;

/* One venue of a pair. */
typedef struct xr_pricing_venue {
    const xr_book *book;       /* borrowed: valid while the pricer lives */
    const xr_instrument *inst; /* borrowed: rules, status and scales of the venue's pair */
    uint16_t venue;            /* the venue's id, copied into legs */
    uint16_t fee_bps;          /* taker fee, 0..XR_PRICING_FEE_BPS_MAX, charged in quote */
} xr_pricing_venue;

/* One venue's share of a walk: the child order the router sends. */
typedef struct xr_pricing_leg {
    uint16_t venue;
    uint16_t levels;    /* levels of the venue's book used */
    xr_amount qty;      /* base, a multiple of the venue's lot step */
    xr_price limit;     /* the worst level used, on the venue's tick (buy up, sell down) */
    xr_amount notional; /* quote: buy ceil, sell floor of the exact sum of qty x price */
    xr_amount fee;      /* quote: ceil(notional x fee_bps / 10^4) */
} xr_pricing_leg;

/* The result of a walk. */
typedef struct xr_pricing_fill {
    uint32_t pair;
    uint8_t side; /* customer side, xr_side */
    uint8_t n_legs;
    uint8_t venues_usable;  /* venues whose books passed the checks */
    uint8_t venues_dropped; /* usable venues excluded: a leg failed their order rules */
    xr_pricing_leg legs[XR_PRICING_VENUES_MAX]; /* in registration order of the venues */
    xr_amount base;                             /* total base, sum of legs[].qty */
    xr_amount notional;                         /* sum of legs[].notional */
    xr_amount fees;                             /* sum of legs[].fee */
    xr_amount executable;   /* buy: notional + fees (paid); sell: notional - fees (received) */
    xr_price avg_price;     /* exact sum(qty x price) / base: buy rounded up, sell down */
    xr_price avg_price_net; /* executable / base: buy rounded up, sell down */
    xr_price worst_price;   /* the worst level taken over all legs (not tick-rounded) */
} xr_pricing_fill;

/* Best bid and ask of a pair over its usable venues. */
typedef struct xr_pricing_bbo {
    xr_price bid, ask;             /* zero when that side is empty */
    xr_amount bid_qty, ask_qty;    /* at the best price, summed over venues quoting it */
    uint16_t bid_venue, ask_venue; /* first venue quoting the best price */
    uint8_t venues_usable, venues_stale, venues_unavailable;
    bool cross_venue; /* bid >= ask across venues: an arbitrage, not an error */
} xr_pricing_bbo;

/* A request for a customer price. */
typedef struct xr_quote_request {
    uint32_t bank;
    uint64_t customer;
    uint32_t pair;
    uint8_t side;     /* customer side, xr_side */
    uint8_t tier;     /* the customer's KYC tier */
    uint8_t fixed;    /* xr_quote_fixed */
    xr_amount amount; /* the fixed amount: base or quote, per side and `fixed` */
} xr_quote_request;

/* A customer price (firm when it has an id). */
typedef struct xr_quote {
    uint64_t id; /* 0 for an indicative price */
    uint32_t bank;
    uint64_t customer;
    uint32_t pair;
    uint8_t side, tier, fixed;
    bool executed;
    uint32_t spread_bps;
    xr_amount base;            /* base the customer receives (buy) or gives (sell) */
    xr_amount quote;           /* quote the customer pays (buy) or receives (sell), all in */
    xr_amount source_amount;   /* buy: quote, sell: base */
    xr_amount target_amount;   /* buy: base, sell: quote */
    xr_amount notional;        /* venue notional, quote (the walk's) */
    xr_amount fees;            /* venue fees, quote */
    xr_amount executable;      /* the walk's executable amount, quote */
    xr_amount spread;          /* the bank's spread, quote: floor(executable x bps / 10^4) */
    xr_price price;            /* quote / base: buy rounded up, sell down (informative) */
    xr_price executable_price; /* executable / base, rounded likewise */
    uint64_t created_ns, expires_ns;
    xr_amount amount; /* the request's fixed amount as asked (an order executing the quote must
                         ask for the same) */
} xr_quote;

/* The pricer. Fields are private to core/pricing. */
typedef struct xr_pricing_pair xr_pricing_pair;
typedef struct xr_pricing_spread xr_pricing_spread;
typedef struct xr_pricing {
    xr_pricing_config cfg;
    xr_pricing_pair *pairs;
    xr_pricing_spread *spreads; /* open addressing */
    xr_quote *quotes;
    uint32_t n_pairs;
    uint32_t n_spreads;
    uint32_t spread_mask;
    uint64_t next_quote_id;
} xr_pricing;

/* Bytes of memory a pricer with `cfg` needs; 0 when cfg is invalid. */
size_t xr_pricing_footprint(const xr_pricing_config *cfg);

/* Initialises an empty pricer over `mem` (`len` >= footprint, 16-byte aligned), which the
 * caller keeps alive and untouched while the pricer lives. XR_OK or XR_ERR_INVALID_ARGUMENT. */
xr_err xr_pricing_init(xr_pricing *p, void *mem, size_t len, const xr_pricing_config *cfg);

/* Adds the canonical pair `name` ("BASE/QUOTE", `len` bytes) with `scale`; `*pair_id`
 * receives its id (0, 1, ... in order of addition). XR_OK, XR_ERR_INVALID_ARGUMENT (bad name
 * or scales), XR_ERR_ALREADY_EXISTS, XR_ERR_NO_MEMORY (pairs_max reached). */
xr_err xr_pricing_add_pair(xr_pricing *p, const char *name, size_t len, const xr_pair_scale *scale,
                           uint32_t *pair_id);

/* The id of pair `name`. XR_OK or XR_ERR_UNKNOWN_PAIR. Cold path (linear). */
xr_err xr_pricing_find_pair(const xr_pricing *p, const char *name, size_t len, uint32_t *pair_id);

/* Adds a venue to `pair_id` (copied; its book and instrument pointers are borrowed). The
 * instrument's canonical name and scales must be the pair's. XR_OK, XR_ERR_UNKNOWN_PAIR,
 * XR_ERR_INVALID_ARGUMENT (fee above XR_PRICING_FEE_BPS_MAX, NULL book or instrument),
 * XR_ERR_CONFIG (name or scales differ), XR_ERR_ALREADY_EXISTS (venue id already there),
 * XR_ERR_NO_MEMORY (XR_PRICING_VENUES_MAX reached). */
xr_err xr_pricing_add_venue(xr_pricing *p, uint32_t pair_id, const xr_pricing_venue *venue);

/* Changes a venue's taker fee (a fee tier change). XR_OK, XR_ERR_UNKNOWN_PAIR,
 * XR_ERR_NOT_FOUND (venue), XR_ERR_INVALID_ARGUMENT (fee). */
xr_err xr_pricing_set_fee(xr_pricing *p, uint32_t pair_id, uint16_t venue, uint16_t fee_bps);

/* Best bid and ask of the consolidated book at now_ns. Returns XR_OK, or the pair's halt
 * (XR_ERR_STALE, XR_ERR_VENUE_UNAVAILABLE, XR_ERR_INVALID_STATE) with `*out` still filled
 * with what was seen; XR_ERR_UNKNOWN_PAIR. */
xr_err xr_pricing_bbo_get(const xr_pricing *p, uint32_t pair_id, uint64_t now_ns,
                          xr_pricing_bbo *out);

/* The consolidated depth of one BOOK side (XR_SIDE_BUY = bids) over the usable venues, best
 * first, quantities at equal prices summed, at most `max` levels into `out`; `*n` is the count
 * (0 on failure). Prices are not net of fees. The halts above apply. XR_ERR_INVALID_ARGUMENT
 * for another side; XR_ERR_OVERFLOW. */
xr_err xr_pricing_depth(const xr_pricing *p, uint32_t pair_id, xr_side book_side, uint64_t now_ns,
                        xr_book_level *out, uint32_t max, uint32_t *n);

/* Walks the consolidated book of `pair_id` for a customer `side` and a size of `amount` in
 * `kind` (see the top of this file), writing the result to `*out`.
 * Returns XR_OK (the size is filled: BASE exactly; a QUOTE buy costs at most `amount`, a QUOTE
 * sell yields at least `amount`); XR_ERR_INSUFFICIENT_LIQUIDITY (the usable depth ran out:
 * `*out` describes the part that can be filled, legs included); XR_ERR_BELOW_MIN_SIZE (every
 * leg fell below its venue's minimums; `*out` is empty); XR_ERR_INVALID_AMOUNT (amount not
 * positive, or a BASE amount not a multiple of the finest lot step of the pair's venues);
 * XR_ERR_INVALID_ARGUMENT (side or kind); XR_ERR_UNKNOWN_PAIR; the halts XR_ERR_STALE,
 * XR_ERR_VENUE_UNAVAILABLE, XR_ERR_INVALID_STATE; XR_ERR_OVERFLOW (an amount beyond 127 bits,
 * or a level the walk reaches priced at or above 2^113 ticks). On these last errors `*out` is
 * empty (no legs, zero amounts). */
xr_err xr_pricing_walk(const xr_pricing *p, uint32_t pair_id, xr_side side,
                       xr_pricing_size_kind kind, xr_amount amount, uint64_t now_ns,
                       xr_pricing_fill *out);

/* Sets the spread of (bank, pair, tier) to `bps` (< 10^4); pair may be XR_PRICING_ANY_PAIR
 * and tier XR_PRICING_ANY_TIER. A later call for the same key replaces the value. XR_OK,
 * XR_ERR_INVALID_ARGUMENT (bps), XR_ERR_UNKNOWN_PAIR, XR_ERR_NO_MEMORY (spreads_max). */
xr_err xr_pricing_set_spread(xr_pricing *p, uint32_t bank, uint32_t pair_id, uint8_t tier,
                             uint32_t bps);

/* The spread for (bank, pair, tier): the most specific of (bank, pair, tier), (bank, pair,
 * any tier), (bank, any pair, tier), (bank, any pair, any tier). XR_OK or XR_ERR_NOT_FOUND. */
xr_err xr_pricing_get_spread(const xr_pricing *p, uint32_t bank, uint32_t pair_id, uint8_t tier,
                             uint32_t *bps);

/* Prices `req` for the customer without storing it (an indicative price, id 0); `*fill`
 * (may be NULL) receives the walk. Amount mapping: buy fixing the target and sell fixing the
 * source are BASE walks of `amount`; a buy fixing the source spends at most `amount` quote in
 * all (walk budget floor(amount x 10^4 / (10^4 + spread_bps))); a sell fixing the target
 * receives at least `amount` in all (walk target ceil(amount x 10^4 / (10^4 - spread_bps))).
 * Returns the codes of xr_pricing_walk (an INSUFFICIENT_LIQUIDITY walk gives no price) and
 * XR_ERR_NOT_FOUND (no spread for the bank), XR_ERR_INVALID_ARGUMENT (`fixed`). */
xr_err xr_pricing_price(const xr_pricing *p, const xr_quote_request *req, uint64_t now_ns,
                        xr_quote *out, xr_pricing_fill *fill);

/* Like xr_pricing_price, then stores the price as a firm quote with a new id, expiring at
 * now_ns + quote_ttl_ns; `*out` is the stored copy. Also XR_ERR_NO_MEMORY (the slot the next
 * id needs holds a live quote). Nothing is stored on failure. */
xr_err xr_pricing_quote(xr_pricing *p, const xr_quote_request *req, uint64_t now_ns, xr_quote *out,
                        xr_pricing_fill *fill);

/* Looks quote `id` up for bank and customer (a quote of another bank or customer is not
 * found). `*out` receives a copy. XR_OK or XR_ERR_NOT_FOUND (never issued, overwritten, or
 * not theirs). */
xr_err xr_pricing_quote_get(const xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer,
                            xr_quote *out);

/* Executes quote `id` for bank and customer at now_ns: walks the quote's base quantity again
 * and accepts while the current executable amount is within slippage_bps of the quoted one
 * (buy: now x 10^4 <= quoted x (10^4 + slippage_bps); sell: now x 10^4 >= quoted x (10^4 -
 * slippage_bps)). On XR_OK the quote is marked executed, `*out` is the quote as honoured (its
 * amounts and price are the quoted ones) and `*fill` is the fresh walk: the routing plan.
 * Errors change nothing (a quote refused for slippage may be retried until it expires; on
 * SLIPPAGE_EXCEEDED `*fill` holds the fresh walk that was refused):
 * XR_ERR_NOT_FOUND (unknown id, or not this bank's and customer's), XR_ERR_INVALID_STATE
 * (already executed), XR_ERR_QUOTE_EXPIRED (now_ns >= expires_ns), XR_ERR_SLIPPAGE_EXCEEDED,
 * and the walk's errors (halts, INSUFFICIENT_LIQUIDITY, BELOW_MIN_SIZE, OVERFLOW). */
xr_err xr_pricing_execute(xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer,
                          uint64_t now_ns, xr_quote *out, xr_pricing_fill *fill);

/* Makes quote `id` of bank and customer usable again after xr_pricing_execute accepted it but
 * its order was refused before anything was booked (funds, a daily cap): it can be executed
 * again until it expires. XR_OK, XR_ERR_NOT_FOUND (as xr_pricing_quote_get),
 * XR_ERR_INVALID_STATE (not executed). */
xr_err xr_pricing_release(xr_pricing *p, uint64_t id, uint32_t bank, uint64_t customer);

#ifdef __cplusplus
}
#endif

#endif /* XR_PRICING_PRICING_H */
