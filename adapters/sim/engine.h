/*
 * adapters/sim/engine.h - the simulator's matching engine: accounts, balances, orders, and
 * the markets (market.h) of one venue.
 *
 * Incoming orders are matched against the market's book, best price first; at each price
 * the resting simulator orders fill first, oldest first, then the synthetic liquidity. A
 * synthetic taker that reaches a resting order fills it the same way (market.h's hook), so
 * a resting LIMIT order fills, partially fills or stays, as the market moves. The engine
 * speaks in the venue's terms (Binance): its rejects carry Binance's error code, message
 * and HTTP status, because the simulator's only job is to answer like the venue.
 *
 * Rules (Binance spot):
 *   filters     PRICE_FILTER (range, tick grid), LOT_SIZE (range, step grid), NOTIONAL
 *               (price x qty in [minNotional, maxNotional]; MARKET orders use the mid and
 *               only the minimum), MAX_NUM_ORDERS (200 open orders per pair): -1013
 *               "Filter failure: <NAME>".
 *   balances    a BUY locks price x qty of the quote asset (a MARKET BUY what the book walk
 *               costs), a SELL locks the quantity; not enough free balance: -2010 "Account
 *               has insufficient balance for requested action." Fills pay from the lock;
 *               whatever is left when the order ends is released.
 *   fees        taker_bps / maker_bps of what the account receives, in the received asset
 *               (BUY: base, SELL: quote), rounded up to 10^-8.
 *   amounts     quote = qty x price; an inexact product (only with unusual tick and step
 *               sizes) is rounded up for the payer and down for the receiver.
 *   time in force  GTC rests; IOC fills what it can and expires the rest; FOK fills
 *               completely or expires without a fill; MARKET fills what the book has and
 *               expires the rest; LIMIT_MAKER rests or is rejected (-2010 "Order would
 *               immediately match and take.").
 *   client ids  newClientOrderId must not repeat among the account's open orders of the pair
 *               (Binance's rule), or among all its orders of the pair with `dup_any`:
 *               -2010 "Duplicate order sent.". Without one, a 22-character id is generated.
 *
 * Reports: every order event (NEW, TRADE, CANCELED, EXPIRED) is passed to the exec hook as
 * it happens, in order; balance changes mark assets dirty per account
 * (xr_sim_engine_take_dirty), for outboundAccountPosition.
 *
 * Threading: one thread. Ownership: the engine owns its markets and orders; pointers it
 *   returns are valid until the next call that adds an order or a pair.
 * Errors: XR_ERR_INVALID_ARGUMENT, XR_ERR_NO_MEMORY, XR_ERR_ALREADY_EXISTS, XR_ERR_NOT_FOUND,
 *   XR_ERR_REJECTED (with an xr_sim_reject).
 */
#ifndef XR_ADAPTERS_SIM_ENGINE_H
#define XR_ADAPTERS_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/sim/market.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_SIM_PAIRS_MAX     16
#define XR_SIM_ASSETS_MAX    32
#define XR_SIM_ACCOUNTS_MAX  8
#define XR_SIM_CLIENT_ID_MAX 36 /* Binance: ^[.A-Z:/a-z0-9_-]{1,36}$ */
#define XR_SIM_API_KEY_MAX   64
#define XR_SIM_SECRET_MAX    128
#define XR_SIM_OPEN_MAX      200 /* MAX_NUM_ORDERS per account and pair */

typedef enum xr_sim_order_side { XR_SIM_SIDE_BUY = 0, XR_SIM_SIDE_SELL = 1 } xr_sim_order_side;

typedef enum xr_sim_order_type {
    XR_SIM_TYPE_LIMIT = 0,
    XR_SIM_TYPE_MARKET = 1,
    XR_SIM_TYPE_LIMIT_MAKER = 2
} xr_sim_order_type;

typedef enum xr_sim_tif { XR_SIM_TIF_GTC = 0, XR_SIM_TIF_IOC = 1, XR_SIM_TIF_FOK = 2 } xr_sim_tif;

typedef enum xr_sim_status {
    XR_SIM_NEW = 0,
    XR_SIM_PARTIALLY_FILLED = 1,
    XR_SIM_FILLED = 2,
    XR_SIM_CANCELED = 3,
    XR_SIM_EXPIRED = 4
} xr_sim_status;

typedef enum xr_sim_exec_type {
    XR_SIM_EXEC_NEW = 0,
    XR_SIM_EXEC_TRADE = 1,
    XR_SIM_EXEC_CANCELED = 2,
    XR_SIM_EXEC_EXPIRED = 3
} xr_sim_exec_type;

typedef struct xr_sim_order {
    uint64_t id;      /* orderId, from 1, per venue */
    uint32_t pair;    /* index in the engine */
    uint32_t account; /* index in the engine */
    uint8_t side, type, tif, status;
    int64_t price;     /* ticks; 0 for MARKET */
    int64_t qty;       /* lots ordered (MARKET by quote: what the quote could buy) */
    int64_t filled;    /* lots executed */
    int64_t quote_qty; /* quoteOrderQty in 10^-8 units, 0 if not used */
    xr_i128 quote_e16; /* cumulative quote, 10^-16 units */
    xr_i128 locked;    /* still locked for this order, 10^-8 units of its lock asset */
    int64_t time_ms;   /* creation */
    int64_t update_ms; /* last change */
    bool working;      /* has been on the book */
    char client_id[XR_SIM_CLIENT_ID_MAX + 1];
} xr_sim_order;

typedef struct xr_sim_order_req {
    uint32_t pair;
    uint8_t side, type, tif;
    int64_t price;         /* 10^-8 units; LIMIT and LIMIT_MAKER */
    int64_t qty;           /* 10^-8 units; 0 when quote_qty is used (MARKET only) */
    int64_t quote_qty;     /* 10^-8 units of the quote asset; MARKET only, else 0 */
    const char *client_id; /* NUL-terminated, 1..36 valid characters; NULL: generated */
} xr_sim_order_req;

typedef struct xr_sim_fill {
    int64_t price; /* ticks */
    int64_t qty;   /* lots */
    xr_i128 commission;
    int commission_asset;
    uint64_t trade_id;
} xr_sim_fill;

typedef struct xr_sim_reject {
    int http_status; /* 400, 401, ... */
    int code;        /* Binance error code, e.g. -2010 */
    char msg[192];
} xr_sim_reject;

typedef struct xr_sim_exec_report {
    const xr_sim_order *order; /* after the event */
    uint8_t exec_type;         /* xr_sim_exec_type */
    int64_t last_qty;          /* lots (TRADE) */
    int64_t last_price;        /* ticks (TRADE) */
    xr_i128 commission;        /* 10^-8 units (TRADE) */
    int commission_asset;      /* -1: none */
    uint64_t trade_id;         /* 0: none */
    uint64_t exec_id;          /* increases with every report of the engine */
    bool maker;
    bool on_book; /* the order is (NEW: will be) resting on the book */
    int64_t time_ms;
} xr_sim_exec_report;

typedef void (*xr_sim_exec_fn)(void *ctx, const xr_sim_exec_report *r);

typedef struct xr_sim_engine_config {
    int32_t maker_bps, taker_bps; /* fees, 0..10000 */
    bool dup_any;                 /* client ids unique among all orders, not only open ones */
    uint64_t seed;                /* for generated client ids */
    uint32_t max_orders;          /* orders kept, all states [1,000,000] */
} xr_sim_engine_config;

typedef struct xr_sim_engine xr_sim_engine;

xr_err xr_sim_engine_create(const xr_sim_engine_config *cfg, xr_sim_engine **out);
void xr_sim_engine_destroy(xr_sim_engine *e);
const xr_sim_engine_config *xr_sim_engine_get_config(const xr_sim_engine *e);

/* Adds a pair and its market (seeded with `seed`, see market.h); registers its assets.
 * XR_ERR_ALREADY_EXISTS for a second pair of the same symbol, XR_ERR_NO_MEMORY when the
 * pair or asset table is full. */
xr_err xr_sim_engine_add_pair(xr_sim_engine *e, const xr_sim_pair_config *cfg, uint64_t seed,
                              int64_t now_ms, uint32_t *index_out);
uint32_t xr_sim_engine_pair_count(const xr_sim_engine *e);
/* Index of `symbol` (exact match), or -1. */
int xr_sim_engine_find_pair(const xr_sim_engine *e, const char *symbol, size_t len);
xr_sim_market *xr_sim_engine_market(const xr_sim_engine *e, uint32_t pair);
/* Asset indices of a pair. */
int xr_sim_engine_pair_base(const xr_sim_engine *e, uint32_t pair);
int xr_sim_engine_pair_quote(const xr_sim_engine *e, uint32_t pair);

uint32_t xr_sim_engine_asset_count(const xr_sim_engine *e);
const char *xr_sim_engine_asset_code(const xr_sim_engine *e, int asset);
/* Index of `code`, or -1. */
int xr_sim_engine_find_asset(const xr_sim_engine *e, const char *code);
/* Index of `code`, added (no pair trades it: a Convert asset) when new; -1 when the table is
 * full or the code too long. */
int xr_sim_engine_add_asset(xr_sim_engine *e, const char *code);

/* Adds an account. XR_ERR_ALREADY_EXISTS for a known key, XR_ERR_INVALID_ARGUMENT for an
 * empty or too long key or secret, XR_ERR_NO_MEMORY when the table is full. */
xr_err xr_sim_engine_add_account(xr_sim_engine *e, const char *api_key, const void *secret,
                                 size_t secret_len, uint32_t *index_out);
uint32_t xr_sim_engine_account_count(const xr_sim_engine *e);
/* Index of the account with `api_key`, or -1. */
int xr_sim_engine_find_account(const xr_sim_engine *e, const char *api_key, size_t len);
const uint8_t *xr_sim_engine_account_secret(const xr_sim_engine *e, uint32_t account, size_t *len);
const char *xr_sim_engine_account_key(const xr_sim_engine *e, uint32_t account);
/* Sets the free balance (10^-8 units, >= 0) and marks the asset dirty. */
xr_err xr_sim_engine_set_balance(xr_sim_engine *e, uint32_t account, int asset, xr_i128 free);
void xr_sim_engine_balance(const xr_sim_engine *e, uint32_t account, int asset, xr_i128 *free,
                           xr_i128 *locked);
/* Assets whose balance changed since the last call, as a bit mask (bit = asset index). */
uint64_t xr_sim_engine_take_dirty(xr_sim_engine *e, uint32_t account);

void xr_sim_engine_set_exec_hook(xr_sim_engine *e, xr_sim_exec_fn fn, void *ctx);

/* Places an order for `account`. XR_OK: accepted (its final state may be FILLED, EXPIRED,
 * ...): *order_out points to it and fills[0..*nfills) are its fills of this call (at most
 * fills_cap are listed; all are executed). XR_ERR_REJECTED: *rej says why, nothing changed.
 * XR_ERR_NO_MEMORY when the order table is full. */
xr_err xr_sim_engine_new_order(xr_sim_engine *e, uint32_t account, const xr_sim_order_req *req,
                               int64_t now_ms, const xr_sim_order **order_out, xr_sim_fill *fills,
                               size_t fills_cap, size_t *nfills, xr_sim_reject *rej);

/* The account's order of `pair` by id (when order_id != 0) or by client id. NULL if none. */
const xr_sim_order *xr_sim_engine_find_order(const xr_sim_engine *e, uint32_t account,
                                             uint32_t pair, uint64_t order_id,
                                             const char *client_id);

/* Cancels an open order found as by xr_sim_engine_find_order. XR_OK with *out;
 * XR_ERR_REJECTED with -2011 "Unknown order sent." when there is no such open order. */
xr_err xr_sim_engine_cancel(xr_sim_engine *e, uint32_t account, uint32_t pair, uint64_t order_id,
                            const char *client_id, int64_t now_ms, const xr_sim_order **out,
                            xr_sim_reject *rej);

/* Open orders of the account (of `pair`, or of every pair when pair < 0), oldest first.
 * Returns how many there are; at most `cap` are written. */
size_t xr_sim_engine_open_orders(const xr_sim_engine *e, uint32_t account, int pair,
                                 const xr_sim_order **out, size_t cap);

/* Orders placed so far (the order with id i is xr_sim_engine_order(e, i)). */
uint64_t xr_sim_engine_order_count(const xr_sim_engine *e);
const xr_sim_order *xr_sim_engine_order(const xr_sim_engine *e, uint64_t id);

/* One step of the pair's market (resting orders may fill). */
void xr_sim_engine_step(xr_sim_engine *e, uint32_t pair, int64_t now_ms);

/* Names as Binance spells them. */
const char *xr_sim_side_name(int side);
const char *xr_sim_type_name(int type);
const char *xr_sim_tif_name(int tif);
const char *xr_sim_status_name(int status);
const char *xr_sim_exec_type_name(int exec_type);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_SIM_ENGINE_H */
