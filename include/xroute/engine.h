/*
 * xroute/engine.h - the embedded engine: xroute in the bank's own process, no socket.
 *
 * A bank process opens an engine with a configuration, submits commands and polls events.
 * The commands and events are the bank protocol's requests and responses (docs/protocol.md
 * maps each message 1:1 onto one struct here), so an embedder and a protocol client see the
 * same behaviour, the same fields and the same error codes.
 *
 *   xr_engine_config cfg;
 *   xr_engine_config_default(&cfg);            then set data_dir, banks, venues, spreads
 *   xr_engine *e;
 *   xr_engine_open(&cfg, &e);
 *   xr_engine_cmd c = {.kind = XR_ENGINE_CMD_QUOTE, .bank_id = 1, .correlation_id = 7, ...};
 *   xr_engine_submit(e, &c);                   copies the command into the ingress ring
 *   xr_engine_event ev[16]; size_t n;
 *   xr_engine_poll(e, ev, 16, &n);             runs every stage once, returns what is ready
 *   xr_engine_close(e);
 *
 * Model. Every command carries the bank's id and a correlation id chosen by the bank; every
 * event answering it carries the same correlation id, so a bank matches answers to requests
 * without relying on order (answers of different commands may come back in any order: a
 * balances query is answered before an order submitted earlier has filled). Each command gets
 * exactly one answer event: its result, or XR_ENGINE_EV_REJECT with an xr_err. An order's
 * answer is its final execution report, except for a LIMIT GTC/GTD order that rests (see
 * "LIMIT orders"): its answer is an OPEN report, and its final report follows later as an
 * unsolicited event carrying the order's ORIGINAL correlation id (kept in the order store, so
 * also after a restart). PENDING and PARTIALLY_FILLED are not reported as events (ORDER_STATUS
 * shows them).
 *
 * Money. Amounts are xr_amount in the asset's minor units (USDT/6: 1 USDT = 1000000); prices
 * are xr_price ticks at the pair's price scale, which every event that carries a price also
 * carries (and XR_ENGINE_CMD_PAIRS will list). No floating point anywhere.
 *
 * Mutating commands (fund, defund, new order, conversion) carry a 16-byte idempotency key,
 * unique per bank. The same key with the same content returns the original result and
 * executes nothing again (the event has `replayed` = 1); the same key with different content
 * is rejected with XR_ERR_IDEMPOTENCY_CONFLICT. Fund and defund keys are kept durably by the
 * ledger. Orders are kept durably in the order store (docs/ledger.md, "Order store"), written
 * in the same durable commit as the reservation and again with the booking: a known order key,
 * also after a restart, returns the stored execution report (`replayed` = 1) and executes
 * nothing. (An order key whose reservation exists but whose stored order is not final, or
 * differs, is refused with XR_ERR_INVALID_STATE.)
 *
 * Restart. xr_engine_open rebuilds the customer directory (and KYC tiers) and the order keys
 * from the store, and reconciles every order that was reserved but not booked: each child is
 * queried at its venue by client order id (never sent again), what filled is booked once
 * (one linked post group) and the rest voided. Until every such order is booked (or, a LIMIT
 * GTC/GTD one, rests again), NEW_ORDER is rejected with XR_ERR_AGAIN (submit it again later); every
 * other command is served. A reconciled order produces no event (no command waits for it):
 * ORDER_STATUS shows it, and resending its key returns its report. The venue's own fee of a fill
 * found by query is computed from the venue's configured taker fee (a Binance order query reports
 * no fee).
 *
 * Durability. An order's funds are reserved durably (fsync'd) before any child order leaves
 * for a venue, and its execution report is produced only after its booking is durable.
 *
 * Threading. The caller's side of an engine is single-threaded: xr_engine_submit,
 * xr_engine_poll, xr_engine_wait and xr_engine_close must be called from one thread at a time
 * (the same thread, or threads that hand the engine over with proper synchronisation). Where
 * the stages run is cfg.schedule:
 *   XR_ENGINE_SCHEDULE_INLINE (default): xr_engine_poll runs every stage's poll function once
 *     in the caller's thread ("single-thread schedule"); it never blocks on the network, but
 *     the ledger stage's durable commit (an fsync, ~0.1-1 ms) happens inside it when there is
 *     something to commit. No thread is created.
 *   XR_ENGINE_SCHEDULE_THREADS: xr_engine_open starts one engine thread per thread index
 *     used in cfg.stage_thread (at most XR_ENGINE_THREADS_MAX), pinned to cfg.thread_cpu[i]
 *     when that is >= 0 (pthread_setaffinity_np), each running its stages' polls in a loop;
 *     xr_engine_submit and xr_engine_poll then only write the ingress ring and read the
 *     egress ring. The default map has two threads, sane on 2 cores: thread 1 runs the
 *     ledger alone (its fsync never holds up market data or routing; a map that puts another
 *     stage on the ledger's thread is refused with XR_ERR_CONFIG), thread 0 runs the venue
 *     connections (one io_uring loop), the gateway, pricing and the router; neither is
 *     pinned. An idle engine thread polls for cfg.spin_ns, then blocks until a producer
 *     rings its doorbell (a stage thread after a pass that wrote into a ring the sleeper
 *     reads, or xr_engine_submit for the gateway): the doorbell costs the producer a fence
 *     and a load while the consumer is awake, and a wake-up only when it sleeps. The thread
 *     of the venues stage blocks in the io_uring wait (a network completion or the doorbell,
 *     an eventfd write, ends it) for at most cfg.io_wait_ns, so the sessions' timers run;
 *     the others block on a futex for at most 1 ms (a safety net, and the retry of a
 *     producer whose ring was full). xr_engine_wait blocks the caller until the
 *     gateway's thread rings for an event. The rings are the only mutable state the threads
 *     share; everything xr_engine_open does happens before the threads start. xr_engine_close
 *     stops and joins them. A stage that fails stops its thread and makes xr_engine_poll
 *     and xr_engine_wait return XR_ERR_INTERNAL.
 *
 * Ownership. xr_engine_open copies the configuration. Commands are copied by
 * xr_engine_submit; events are written into the caller's array. The engine allocates all of
 * its memory in xr_engine_open (rings, pools, tables; the venue connections' buffers) and
 * nothing on the order path afterwards (unit.engine_alloc counts it: zero calls by the engine's
 * code; LMDB itself mallocs its cursors and page lists in each durable commit, see
 * docs/ARCHITECTURE.md, "Memory").
 *
 * Errors returned by functions (as opposed to reject events):
 *   XR_OK
 *   XR_ERR_INVALID_ARGUMENT  NULL pointer, a field outside its domain in the configuration or
 *                            the command header (unknown kind, bank 0), cap 0; nlimits above
 *                            XR_ENGINE_LIMITS_MAX or a cap's daily_notional <= 0
 *   XR_ERR_CONFIG            the configuration is inconsistent (a pair on no venue, a spread
 *                            for an unknown bank or pair, an unknown venue dialect, a daily
 *                            notional cap for an unknown bank or an asset of no pair)
 *   XR_ERR_AGAIN             submit: the ingress ring is full; poll and submit again
 *   XR_ERR_NO_MEMORY         open: memory could not be allocated
 *   XR_ERR_IO, XR_ERR_CORRUPT, XR_ERR_STORAGE_FULL  open: the ledger could not be opened
 *   XR_ERR_CONFIG            open (THREADS): the ledger shares its thread with another stage,
 *                            or a thread could not be pinned to cfg.thread_cpu (no such CPU,
 *                            or not allowed to this process)
 *   XR_ERR_TIMEOUT           wait: no event within the timeout
 *   XR_ERR_INTERNAL          poll, wait: a stage found a broken invariant (a bug); the engine
 *                            stops
 *
 * Reject codes (XR_ENGINE_EV_REJECT.err), by command:
 *   any                 XR_ERR_NOT_SUPPORTED (see "Not yet supported" below),
 *                       XR_ERR_UNAUTHORIZED (unknown bank), XR_ERR_NOT_FOUND (unregistered
 *                       customer), XR_ERR_INVALID_ARGUMENT (a field outside its domain),
 *                       XR_ERR_NO_MEMORY (a table or pool is full), XR_ERR_INTERNAL
 *   CUSTOMER_UPSERT     (none besides the above)
 *   FUND, DEFUND        XR_ERR_UNKNOWN_ASSET, XR_ERR_INVALID_AMOUNT (amount <= 0),
 *                       XR_ERR_INSUFFICIENT_FUNDS (defund), XR_ERR_IDEMPOTENCY_CONFLICT,
 *                       XR_ERR_IO / XR_ERR_STORAGE_FULL (the ledger failed: nothing applied)
 *   QUOTE               XR_ERR_UNKNOWN_PAIR, XR_ERR_INVALID_AMOUNT (not positive, or not a
 *                       multiple of the pair's lot step), XR_ERR_BELOW_MIN_SIZE,
 *                       XR_ERR_INSUFFICIENT_LIQUIDITY, XR_ERR_STALE / XR_ERR_VENUE_UNAVAILABLE
 *                       (no usable venue book), XR_ERR_INVALID_STATE (crossed data halt),
 *                       XR_ERR_NOT_FOUND (no spread configured), XR_ERR_OVERFLOW
 *   NEW_ORDER           as QUOTE, plus XR_ERR_INSUFFICIENT_FUNDS (nothing booked),
 *                       XR_ERR_IDEMPOTENCY_CONFLICT, XR_ERR_AGAIN (the same key is still in
 *                       flight: its report follows for the original request),
 *                       XR_ERR_INVALID_STATE (key known from before a restart)
 *   NEW_ORDER           also XR_ERR_AGAIN while start-up reconciliation runs (see Restart)
 *   NEW_ORDER           also XR_ERR_AGAIN when all orders_max order slots hold resting
 *                       orders (a slot frees only by a cancel, fill or expiry); while some
 *                       live order is not resting, a new one waits in ingress for a slot
 *                       instead (back-pressure: submit's XR_ERR_AGAIN once the ring is full)
 *   NEW_ORDER           XR_ERR_LIMIT_EXCEEDED: the customer's KYC-tier daily notional cap
 *                       would be exceeded (see Daily caps; nothing booked, the key keeps
 *                       this answer)
 *   NEW_ORDER with a quote id: XR_ERR_NOT_FOUND (unknown id, expired long ago and its slot
 *                       reused, from before a restart, or another bank's or customer's),
 *                       XR_ERR_INVALID_ARGUMENT (pair, side, amount side or amount differ
 *                       from the quote request), XR_ERR_QUOTE_EXPIRED, XR_ERR_SLIPPAGE_EXCEEDED
 *                       (the current executable amount is beyond slippage_bps of the
 *                       quoted one; the quote stays usable until it expires),
 *                       XR_ERR_INVALID_STATE (the quote was used by an earlier order); in
 *                       each case nothing is booked
 *                       LIMIT: XR_ERR_INVALID_ARGUMENT (limit not positive, GTD expiry not in
 *                       the future, expire_ns on another time in force), XR_ERR_INVALID_AMOUNT
 *                       (not a multiple of a venue's lot step), XR_ERR_INSUFFICIENT_LIQUIDITY
 *                       (IOC: nothing inside the limit; FOK: not all of it)
 *   CANCEL              see "CANCEL" above
 *   ORDER_STATUS        XR_ERR_NOT_FOUND (no stored order of this customer with that key: also
 *                       an order still in its pre-trade checks), XR_ERR_INVALID_ARGUMENT
 *                       (all-zero key), XR_ERR_CORRUPT / XR_ERR_IO (the store could not be read)
 *   LIST_ORDERS         XR_ERR_CORRUPT / XR_ERR_IO
 *   BALANCES            (none besides the above)
 *   BOOK                XR_ERR_UNKNOWN_PAIR, XR_ERR_STALE, XR_ERR_VENUE_UNAVAILABLE,
 *                       XR_ERR_INVALID_STATE
 *   CONVERT             XR_ERR_UNKNOWN_ASSET (an asset code the registry does not know),
 *                       XR_ERR_NOT_SUPPORTED (no configured venue offers from -> to),
 *                       XR_ERR_INVALID_AMOUNT (<= 0), XR_ERR_INVALID_ARGUMENT (all-zero key,
 *                       from = to), XR_ERR_INSUFFICIENT_FUNDS, XR_ERR_IDEMPOTENCY_CONFLICT
 *                       (the key was used for other content, an order or a funding),
 *                       XR_ERR_AGAIN (the same key is still in flight: resend later),
 *                       XR_ERR_IO / XR_ERR_STORAGE_FULL
 *   A conversion that was reserved and then did not complete is not a reject: its report has
 *   status FAILED with the venue's reason (XR_ERR_REJECTED, XR_ERR_INSUFFICIENT_FUNDS when
 *   the venue's own balance is short, XR_ERR_VENUE_UNAVAILABLE, XR_ERR_NOT_FOUND when the
 *   venue never accepted it) and its reservation is voided.
 *   TICKER              as BOOK
 *   OHLC                XR_ERR_UNKNOWN_PAIR, XR_ERR_VENUE_UNAVAILABLE (no venue's rules yet),
 *                       XR_ERR_INVALID_ARGUMENT (interval not 60, 300, 900, 3600, 14400 or
 *                       86400; a negative time; from_ns > to_ns)
 *   PAIRS               XR_ERR_INVALID_ARGUMENT (cursor beyond the number of pairs)
 *   An order that was reserved and then could not fill (in whole or in part) is not a reject:
 *   its execution report has status FAILED and err XR_ERR_INSUFFICIENT_LIQUIDITY, and whatever
 *   did fill is booked (each child's own reason is in ORDER_STATUS's children[].err). An order
 *   reconciled at start-up is not re-routed: if nothing filled its err is a refused child's
 *   reason.
 *
 * LIMIT orders. `limit` is the CUSTOMER's price, quote per base all in (venue fee and the
 * bank's spread included, as avg_price states it): a buy never pays more per base, a sell
 * never receives less, before the minor-unit roundings of docs/ledger.md. Each venue child is
 * an IOC at limit / ((1 + spread)(1 + the venue's taker fee)) (buy: rounded down to the
 * venue's tick; sell: limit / ((1 - spread)(1 - fee)) rounded up), sized to what that venue's
 * book offers inside it (ORDER_STATUS shows the children). A buy reserves the whole amount at
 * the limit plus 34 minor units of rounding room; a sell reserves the base amount.
 *   IOC  routes what the books offer inside the limit now; the remainder is cancelled: status
 *        CANCELLED (err XR_OK) with what filled booked, or FILLED. Nothing inside the limit:
 *        rejected with XR_ERR_INSUFFICIENT_LIQUIDITY, nothing reserved.
 *   FOK  the consolidated depth inside the limit must cover the whole amount before anything
 *        is reserved, else rejected with XR_ERR_INSUFFICIENT_LIQUIDITY (nothing reserved or
 *        sent). The children are IOC: if a venue's book changed between the check and the
 *        child's arrival (a race no router can exclude without venue-side FOK across
 *        venues), the shortfall is failed over inside the limit, and what still did not fill
 *        ends the order FAILED with XR_ERR_INSUFFICIENT_LIQUIDITY and what filled booked: a
 *        FOK can then be partial. ORDER_STATUS shows it.
 *   GTC (and TIF_DEFAULT), GTD: the marketable part routes at once like IOC; the remainder
 *        RESTS in the internal book of the pair (price-time priority, at the venue-equivalent
 *        price limit / (1 + spread), sell limit / (1 - spread)) with the rest of its
 *        reservation held (fills before it rests are booked at once, and the rest of the
 *        reservation held again), and the NEW_ORDER is answered with an OPEN report (status
 *        PARTIALLY_FILLED, with `filled` so far, when part of it filled on arrival).
 *        Whenever a venue book of the pair changes, resting orders the consolidated market
 *        reaches are routed (IOC children at their limits) and whatever comes back unfilled
 *        rests again (at the back of its price's queue). Two client orders cross in the
 *        internal book at the RESTING order's internal price P: the buyer pays P(1 + its
 *        spread), the seller receives P(1 - its spread), no venue and no venue fee; both
 *        spreads are revenue (docs/ledger.md, "Internal cross"). There is no self-trade
 *        prevention. A GTD order needs expire_ns (wall clock) in the future, else
 *        XR_ERR_INVALID_ARGUMENT; once past it, a resting GTD order ends EXPIRED (what filled
 *        is booked, the rest voided). expire_ns must be 0 for every other time in force.
 *   An order has at most XR_ENGINE_CHILDREN_MAX children, internal crosses included: a
 *   resting order that used them all is booked with what filled and ends FAILED
 *   (XR_ERR_INSUFFICIENT_LIQUIDITY) instead of resting again. A resting order holds one of
 *   orders_max slots.
 *
 * CANCEL (cmd.u.ref.key = the order's key). Answered by the order's FINAL execution report
 * (with the CANCEL's correlation id), once the order is final: CANCELLED if the cancel took
 * effect (what filled is booked, the rest of the reservation voided), or whatever the order
 * became first (FILLED, ...). The order's own correlation id gets the same final report (its
 * answer, or the unsolicited report of a resting order). A resting order is removed at once.
 * An order whose children are at venues is cancelled when they come back: children are IOC
 * and are not cancelled at the venue (they are final within the venue's matching of one
 * request), so the cancel stops the order from resting or routing again. Errors:
 * XR_ERR_INVALID_ARGUMENT (all-zero key), XR_ERR_NOT_FOUND (no order of this customer with
 * that key, or the order was refused; also a final order whose key has left the table of the
 * last idempotency_max keys), XR_ERR_INVALID_STATE (the order is final already),
 * XR_ERR_AGAIN (a cancel of it is under way: its answer follows).
 *
 * Failover (NEW_ORDER): when every child of an order is final and some came back short -
 * refused by its venue, not sendable because the venue is down (XR_ERR_VENUE_UNAVAILABLE),
 * found not to exist at the venue after an unknown outcome (e.g. a 503), or an IOC that found
 * less than planned inside its limit - those venues are excluded for this order and the
 * unfilled remainder is walked again over the consolidated book of the other venues. Each new
 * child gets the next client order id of the parent (the leg index continues), is stored
 * durably in the order's record before it is sent, and has its limit inside the order's
 * original slippage bound (the furthest limit of the first children). This repeats until the
 * order is filled, no venue is left, or the order has XR_ENGINE_CHILDREN_MAX children; then
 * what filled is booked in one linked group and the rest of the reservation is voided. A buy's
 * reservation is sized for this: the whole amount at the bound with the highest taker fee of
 * the pair's venues, plus the spread. A child whose outcome is unknown is never re-routed:
 * it is resolved by querying its venue (if the venue is down, once it is back).
 *
 * Firm quotes (NEW_ORDER with quote_id, type MARKET). The order must repeat the quote
 * request's pair, side, amount side and amount. It is honoured while the current executable
 * amount of the quote's base is within slippage_bps of the quoted one: the customer pays
 * (receives) exactly the quoted amount and the bank's spread revenue is the quoted spread;
 * the market move is the house's (booked on the bank's quote P&L account, docs/ledger.md
 * "Firm quotes"). On a partial fill the quoted amounts apply pro rata. A quote is used by the
 * first order that executes it; an order refused after pricing took the quote (funds, daily
 * cap) gives it back, so it may be executed again until it expires. Quotes live in memory
 * only: a restart forgets them.
 *
 * Amount on the quote side (NEW_ORDER MARKET, amount_side XR_ENGINE_AMOUNT_QUOTE, no quote
 * id): a buy spends at most `amount` all in (notional + fees + spread), a sell receives
 * `amount` or more at the walk's prices; the base is sized by the consolidated walk on the
 * venues' lots and minimums, and the report's `ordered` is that base (docs/ledger.md).
 *
 * Daily caps (cfg.limits): the venue notional a customer trades per UTC day in a quote
 * asset, by bank and KYC tier, checked at pre-trade and counted durably from the order store
 * (it survives a restart; docs/ledger.md "Daily notional caps").
 *
 * Conversions (CONVERT, e.g. USD -> USDC): the from amount is reserved durably with a
 * stored record, then the venue that offers the conversion (xr_engine_venue_config.converts)
 * is asked for a quote; its quote id is stored durably before the quote is accepted; the
 * outcome is read from the venue's order status by that quote id (also when the accept's
 * answer is lost: never by accepting again); SUCCESS books one linked group (customer from ->
 * omnibus -> venue position, venue position to -> omnibus -> customer, docs/ledger.md),
 * anything else voids the reservation; the answer is XR_ENGINE_EV_CONVERSION_REPORT after the
 * booking is durable. The same key again returns the stored report (`replayed` = 1). At
 * start-up a conversion in flight is asked for by its stored quote id and booked once, or
 * voided when it never got as far as a stored quote id (no event; resend the key to read
 * it). xroute charges no fee of its own (`fee` 0): the venue's is inside its rate.
 *
 * Not yet supported in this version (rejected with XR_ERR_NOT_SUPPORTED, nothing changes):
 *   LIMIT orders with a quote id or with the amount fixed on the quote side; MARKET with time
 *   in force GTC/GTD/FOK. Supported: CUSTOMER_UPSERT, FUND, DEFUND, QUOTE (both amount
 *   sides), BALANCES, BOOK, TICKER, OHLC, PAIRS (trade data from the venues' @trade streams,
 *   kept in memory: after a restart candles start empty), CONVERT (see Conversions),
 *   ORDER_STATUS (with the
 *   best-execution record), LIST_ORDERS, CANCEL, NEW_ORDER MARKET (time in force IOC or the
 *   default), buy and sell, with the amount fixed in the base or the quote asset, on a firm
 *   quote or not, and LIMIT (IOC, FOK, GTC, GTD; see "LIMIT orders") with the amount fixed in
 *   the base asset; failover (above) and daily notional caps; restart with orders in flight
 *   (see Restart), resting LIMIT orders included: they are reconciled like any order and then
 *   rest again in the internal book with their reservation; both schedules (see Threading).
 */
#ifndef XROUTE_ENGINE_H
#define XROUTE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------------------------ */

#define XR_ENGINE_PAIR_NAME_MAX      24 /* "BASE/QUOTE" and its NUL */
#define XR_ENGINE_VENUES_MAX         8
#define XR_ENGINE_BANKS_MAX          8
#define XR_ENGINE_SPREADS_MAX        64
#define XR_ENGINE_VENUE_PAIRS_MAX    16
#define XR_ENGINE_ASSETS_MAX         16 /* distinct assets over all configured pairs */
#define XR_ENGINE_BOOK_LEVELS_MAX    20 /* levels per side in a BOOK event */
#define XR_ENGINE_ANY_TIER           255
#define XR_ENGINE_PATH_MAX           256
#define XR_ENGINE_CHILDREN_MAX       8  /* child orders of one order, failover's included */
#define XR_ENGINE_ORDER_LIST_MAX     6  /* orders per ORDER_LIST event */
#define XR_ENGINE_CLIENT_ID_MAX      40 /* a child's client order id and its NUL */
#define XR_ENGINE_LIMITS_MAX         32 /* daily notional caps (bank x tier) */
#define XR_ENGINE_VENUE_CONVERTS_MAX 4  /* conversions one venue offers */

/* ---- configuration ----------------------------------------------------------------------- */

/* One venue connection. Only the "binance" dialect exists in this version. */
typedef struct xr_engine_venue_config {
    char name[32];    /* operator's name, e.g. "binance-a" */
    char dialect[16]; /* "binance" */
    char ip[64];      /* numeric address */
    uint16_t port;    /* REST (and WebSocket) port */
    uint16_t ws_port; /* 0: same as port */
    char host[64];    /* Host header; "" = "localhost" */
    char api_key[160];
    char secret[160];
    uint16_t taker_fee_bps; /* the venue's taker fee for xroute's account; priced in quote */
    char depth_stream[24];  /* binance: diff-depth stream suffix; "" = "@depth@100ms" */
    uint32_t npairs;
    char pairs[XR_ENGINE_VENUE_PAIRS_MAX][XR_ENGINE_PAIR_NAME_MAX]; /* canonical "BTC/USDT" */
    uint32_t nconverts; /* conversions this venue's Convert endpoint offers, one direction each:
                           "USD/USDC" converts USD into USDC (both assets in the registry) */
    char converts[XR_ENGINE_VENUE_CONVERTS_MAX][XR_ENGINE_PAIR_NAME_MAX];
} xr_engine_venue_config;

typedef struct xr_engine_bank_config {
    uint32_t id;         /* non-zero, < 2^24 */
    uint32_t spread_bps; /* default spread for every pair and tier */
} xr_engine_bank_config;

/* A spread for (bank, pair, tier), more specific than the bank's default. */
typedef struct xr_engine_spread_config {
    uint32_t bank_id;
    char pair[XR_ENGINE_PAIR_NAME_MAX]; /* "" = every pair */
    uint8_t tier;                       /* XR_ENGINE_ANY_TIER = every tier */
    uint32_t bps;
} xr_engine_spread_config;

/* A KYC-tier daily notional cap: a customer of `bank_id` with KYC tier `tier` may trade at
 * most `daily_notional` of venue notional per UTC day on the pairs quoted in `asset` (buys and
 * sells alike, counted at pre-trade; pairs quoted in another asset are not capped by it). The
 * most specific entry applies: (bank, tier), else (bank, XR_ENGINE_ANY_TIER); none: no cap.
 * See docs/ledger.md ("Daily notional caps"). */
typedef struct xr_engine_limit_config {
    uint32_t bank_id;                  /* a configured bank */
    uint8_t tier;                      /* 0..254, or XR_ENGINE_ANY_TIER for the bank's default */
    char asset[XR_ASSET_CODE_MAX + 1]; /* the quote asset the cap is counted in, e.g. "USDT" */
    xr_amount daily_notional;          /* > 0, in that asset's minor units */
} xr_engine_limit_config;

/* Where the stages run (see Threading at the top). */
typedef enum xr_engine_schedule {
    XR_ENGINE_SCHEDULE_INLINE = 0, /* every stage in the thread calling xr_engine_poll */
    XR_ENGINE_SCHEDULE_THREADS = 1 /* stages on engine threads started by xr_engine_open */
} xr_engine_schedule;

/* The stages, as indexes of xr_engine_config.stage_thread. */
typedef enum xr_engine_stage {
    XR_ENGINE_STAGE_GATEWAY = 0,
    XR_ENGINE_STAGE_PRICING = 1,
    XR_ENGINE_STAGE_LEDGER = 2,
    XR_ENGINE_STAGE_ROUTER = 3,
    XR_ENGINE_STAGE_VENUES = 4, /* the venue connections' io_uring loop */
    XR_ENGINE_STAGES = 5
} xr_engine_stage;

#define XR_ENGINE_THREADS_MAX XR_ENGINE_STAGES /* engine threads (THREADS schedule) */

typedef struct xr_engine_config {
    char data_dir[XR_ENGINE_PATH_MAX]; /* the ledger lives in data_dir/ledger */
    uint32_t ring_capacity;            /* slots per stage ring, a power of two [256] */
    uint32_t customers_max;            /* registered customers [4096] */
    uint32_t orders_max;               /* orders in flight at once [1024] */
    uint32_t idempotency_max;          /* order keys remembered, a power of two [65536] */
    uint32_t quotes_max;               /* live firm quotes [4096] */
    uint64_t quote_ttl_ns;             /* firm quote lifetime [5 s] */
    uint32_t slippage_bps;             /* MARKET child limit bound and quote tolerance [50] */
    uint32_t ledger_batch_max;         /* ops per durable commit at most [1024] */
    uint64_t book_stale_ns;            /* a venue book not updated for longer is not priced
                                          [0: never stale] */
    uint32_t nbanks;
    xr_engine_bank_config banks[XR_ENGINE_BANKS_MAX];
    uint32_t nspreads;
    xr_engine_spread_config spreads[XR_ENGINE_SPREADS_MAX];
    uint32_t nvenues;
    xr_engine_venue_config venues[XR_ENGINE_VENUES_MAX];
    uint32_t nlimits; /* daily notional caps [0: none] */
    xr_engine_limit_config limits[XR_ENGINE_LIMITS_MAX];
    /* Schedule (see Threading at the top). The thread map and the waits are used only by
     * XR_ENGINE_SCHEDULE_THREADS. */
    uint32_t schedule;                         /* xr_engine_schedule [INLINE] */
    uint8_t stage_thread[XR_ENGINE_STAGES];    /* engine thread (0..THREADS_MAX-1) of each
                                                  stage [ledger 1, every other stage 0] */
    int16_t thread_cpu[XR_ENGINE_THREADS_MAX]; /* CPU engine thread i is pinned to; -1:
                                                  not pinned [-1] */
    uint32_t spin_ns;    /* an idle engine thread polls this long before it blocks [50 us] */
    uint32_t io_wait_ns; /* the thread of the venues stage blocks at most this long at a
                            time (timers: session timeouts, book staleness) [1 ms] */
} xr_engine_config;

/* Fills `cfg` with the defaults in brackets; no bank, no venue, data_dir "var/xroute". */
void xr_engine_config_default(xr_engine_config *cfg);

/* ---- commands ---------------------------------------------------------------------------- */

typedef enum xr_engine_cmd_kind {
    XR_ENGINE_CMD_CUSTOMER_UPSERT = 1, /* register a customer, or change its KYC tier */
    XR_ENGINE_CMD_FUND = 2,            /* bank funding -> customer account */
    XR_ENGINE_CMD_DEFUND = 3,          /* customer account -> bank funding */
    XR_ENGINE_CMD_QUOTE = 4,           /* firm quote */
    XR_ENGINE_CMD_NEW_ORDER = 5,
    XR_ENGINE_CMD_CANCEL = 6,       /* -> the order's final XR_ENGINE_EV_EXEC_REPORT */
    XR_ENGINE_CMD_ORDER_STATUS = 7, /* -> XR_ENGINE_EV_ORDER */
    XR_ENGINE_CMD_LIST_ORDERS = 8,  /* -> XR_ENGINE_EV_ORDER_LIST */
    XR_ENGINE_CMD_BALANCES = 9,
    XR_ENGINE_CMD_CONVERT = 10, /* -> XR_ENGINE_EV_CONVERSION_REPORT */
    XR_ENGINE_CMD_BOOK = 11,    /* consolidated depth */
    XR_ENGINE_CMD_TICKER = 12,  /* -> XR_ENGINE_EV_TICKER */
    XR_ENGINE_CMD_OHLC = 13,    /* -> XR_ENGINE_EV_OHLC */
    XR_ENGINE_CMD_PAIRS = 14,   /* -> XR_ENGINE_EV_PAIRS */
    XR_ENGINE_CMD__COUNT
} xr_engine_cmd_kind;

/* Values equal core/market's xr_side, xr_order_type and xr_tif. */
typedef enum xr_engine_side { XR_ENGINE_BUY = 1, XR_ENGINE_SELL = 2 } xr_engine_side;
typedef enum xr_engine_order_type {
    XR_ENGINE_MARKET = 1,
    XR_ENGINE_LIMIT = 2 /* `limit` is the customer's price all in (see "LIMIT orders") */
} xr_engine_order_type;
typedef enum xr_engine_tif {
    XR_ENGINE_TIF_DEFAULT = 0, /* GTC for LIMIT; MARKET orders are always immediate */
    XR_ENGINE_TIF_GTC = 1,
    XR_ENGINE_TIF_IOC = 2,
    XR_ENGINE_TIF_FOK = 3,
    XR_ENGINE_TIF_GTD = 4
} xr_engine_tif;

/* Which asset an order's or quote's amount is counted in. */
typedef enum xr_engine_amount_side {
    XR_ENGINE_AMOUNT_BASE = 0, /* base quantity bought or sold */
    XR_ENGINE_AMOUNT_QUOTE = 1 /* quote spent (buy) or received (sell), all in */
} xr_engine_amount_side;

typedef struct xr_engine_key {
    uint8_t bytes[16]; /* idempotency key; all-zero is invalid */
} xr_engine_key;

typedef struct xr_engine_customer_cmd {
    uint8_t kyc_tier; /* 0..254 */
} xr_engine_customer_cmd;

typedef struct xr_engine_fund_cmd {
    xr_engine_key key;
    char asset[XR_ASSET_CODE_MAX + 1];
    xr_amount amount; /* > 0, minor units */
} xr_engine_fund_cmd;

typedef struct xr_engine_quote_cmd {
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t side;        /* xr_engine_side: the customer's */
    uint8_t amount_side; /* xr_engine_amount_side */
    xr_amount amount;
} xr_engine_quote_cmd;

typedef struct xr_engine_order_cmd {
    xr_engine_key key;
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t side;        /* xr_engine_side */
    uint8_t type;        /* xr_engine_order_type */
    uint8_t tif;         /* xr_engine_tif */
    uint8_t amount_side; /* xr_engine_amount_side */
    xr_amount amount;    /* > 0 */
    xr_price limit;      /* LIMIT: at the pair's price scale; MARKET: 0 */
    int64_t expire_ns;   /* GTD: wall clock; else 0 */
    uint64_t quote_id;   /* execute this firm quote (MARKET; same pair, side, amount side and
                            amount as the quote request); 0 none */
} xr_engine_order_cmd;

typedef struct xr_engine_order_ref_cmd {
    xr_engine_key key; /* CANCEL, ORDER_STATUS: the order's idempotency key */
} xr_engine_order_ref_cmd;

typedef struct xr_engine_list_orders_cmd {
    uint32_t status_mask;               /* bit (1 << xr_engine_order_status); 0 = all */
    char pair[XR_ENGINE_PAIR_NAME_MAX]; /* "" = all */
    uint8_t side;                       /* 0 = both */
    uint8_t type;                       /* 0 = both */
    int64_t from_ns, to_ns;             /* creation time range; 0 = open */
    uint64_t cursor;                    /* from an earlier ORDER_LIST event; 0 = first */
    uint32_t limit;
} xr_engine_list_orders_cmd;

typedef struct xr_engine_convert_cmd {
    xr_engine_key key;
    char from_asset[XR_ASSET_CODE_MAX + 1];
    char to_asset[XR_ASSET_CODE_MAX + 1];
    xr_amount amount; /* of from_asset */
} xr_engine_convert_cmd;

typedef struct xr_engine_market_cmd {
    char pair[XR_ENGINE_PAIR_NAME_MAX]; /* BOOK, TICKER, OHLC */
    uint32_t depth;                     /* BOOK: levels per side, 1..XR_ENGINE_BOOK_LEVELS_MAX */
    uint32_t interval_s;                /* OHLC: 60, 300, 900, 3600, 14400, 86400 */
    int64_t from_ns, to_ns;             /* OHLC */
    uint32_t cursor; /* PAIRS: an earlier PAIRS event's next_cursor; 0 = the first page */
} xr_engine_market_cmd;

/* One command: a header and the payload of its kind. */
typedef struct xr_engine_cmd {
    uint8_t kind; /* xr_engine_cmd_kind */
    uint8_t reserved[3];
    uint32_t bank_id;        /* a configured bank */
    uint64_t correlation_id; /* echoed in the answer */
    uint64_t customer_id;    /* the bank's own id of its customer (customer commands) */
    union {
        xr_engine_customer_cmd customer; /* CUSTOMER_UPSERT */
        xr_engine_fund_cmd fund;         /* FUND, DEFUND */
        xr_engine_quote_cmd quote;       /* QUOTE */
        xr_engine_order_cmd order;       /* NEW_ORDER */
        xr_engine_order_ref_cmd ref;     /* CANCEL, ORDER_STATUS */
        xr_engine_list_orders_cmd list;  /* LIST_ORDERS */
        xr_engine_convert_cmd convert;   /* CONVERT */
        xr_engine_market_cmd market;     /* BOOK, TICKER, OHLC; PAIRS and BALANCES: none */
    } u;
} xr_engine_cmd;

/* ---- events ------------------------------------------------------------------------------ */

typedef enum xr_engine_event_kind {
    XR_ENGINE_EV_CUSTOMER = 1, /* CUSTOMER_UPSERT done */
    XR_ENGINE_EV_FUNDING = 2,  /* FUND / DEFUND done */
    XR_ENGINE_EV_QUOTE = 3,    /* a firm quote */
    XR_ENGINE_EV_EXEC_REPORT = 4,
    XR_ENGINE_EV_CONVERSION_REPORT = 5,
    XR_ENGINE_EV_REJECT = 6,
    XR_ENGINE_EV_BALANCES = 7,
    XR_ENGINE_EV_BOOK = 8,
    XR_ENGINE_EV_TICKER = 9,
    XR_ENGINE_EV_OHLC = 10,
    XR_ENGINE_EV_PAIRS = 11,
    XR_ENGINE_EV_ORDER_LIST = 12,
    XR_ENGINE_EV_ORDER = 13, /* ORDER_STATUS: the stored order with its children */
    XR_ENGINE_EV__COUNT
} xr_engine_event_kind;

/* Values equal core/router's xr_order_status (stable, stored and on the wire). */
typedef enum xr_engine_order_status {
    XR_ENGINE_ORDER_PENDING = 0,
    XR_ENGINE_ORDER_OPEN = 1,
    XR_ENGINE_ORDER_PARTIALLY_FILLED = 2,
    XR_ENGINE_ORDER_FILLED = 3,
    XR_ENGINE_ORDER_CANCELLED = 4,
    XR_ENGINE_ORDER_FAILED = 5,
    XR_ENGINE_ORDER_EXPIRED = 6
} xr_engine_order_status;

typedef struct xr_engine_reject_ev {
    xr_err err;       /* why */
    uint8_t cmd_kind; /* the refused command's kind */
} xr_engine_reject_ev;

typedef struct xr_engine_customer_ev {
    uint8_t kyc_tier;
    uint8_t created; /* 1: registered now (accounts created), 0: tier updated */
} xr_engine_customer_ev;

typedef struct xr_engine_funding_ev {
    char asset[XR_ASSET_CODE_MAX + 1];
    uint8_t scale;
    uint8_t replayed; /* 1: the key was used before; this is the original result */
    xr_amount amount;
} xr_engine_funding_ev;

typedef struct xr_engine_quote_ev {
    uint64_t quote_id;
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t side, amount_side;
    uint8_t base_scale, quote_scale, price_scale;
    uint32_t spread_bps;
    xr_amount base;     /* the customer receives (buy) or gives (sell) */
    xr_amount quote;    /* the customer pays (buy) or receives (sell), all in */
    xr_amount notional; /* venue notional */
    xr_amount fees;     /* venue fees */
    xr_amount spread;   /* the bank's spread */
    xr_price price;     /* quote / base: buy rounded up, sell down */
    int64_t expires_ns; /* wall clock */
} xr_engine_quote_ev;

typedef struct xr_engine_exec_report_ev {
    xr_engine_key key;
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t side;
    uint8_t status; /* xr_engine_order_status: final, or OPEN for a resting LIMIT order */
    uint8_t replayed;
    uint8_t venues; /* venues that filled something */
    uint8_t base_scale, quote_scale, price_scale;
    xr_err err;         /* FAILED: why; else XR_OK */
    xr_amount ordered;  /* base quantity ordered (amount side QUOTE: the base it was sized to) */
    xr_amount filled;   /* base quantity filled */
    xr_amount quote;    /* the customer paid (buy) or received (sell) */
    xr_amount notional; /* venue notional */
    xr_amount fees;     /* venue fees charged to the customer */
    xr_amount spread;   /* the bank's spread */
    xr_price avg_price; /* quote / filled: buy rounded up, sell down; 0 when none filled */
    int64_t booked_ns;  /* wall clock of the durable booking */
} xr_engine_exec_report_ev;

/* A child order: one venue leg of the routing plan and what the venue did with it. */
typedef struct xr_engine_child {
    char client_order_id[XR_ENGINE_CLIENT_ID_MAX];
    uint16_t venue;      /* index into the configuration's venues */
    uint16_t fee_bps;    /* the venue's taker fee used in pricing */
    uint8_t done;        /* 1: final at the venue (all its fills are in) */
    uint8_t fee_in;      /* the venue's own fee was charged in: 0 none, 1 base, 2 quote */
    xr_err err;          /* the child's failure (refused, venue unavailable), else XR_OK */
    xr_amount qty;       /* planned base quantity */
    xr_price limit;      /* its IOC limit (the slippage bound) */
    xr_amount filled;    /* base executed */
    xr_amount notional;  /* booked notional, quote */
    xr_amount fee;       /* fee charged to the customer for this child, quote */
    xr_amount venue_fee; /* what the venue charged, in the fee_in asset */
} xr_engine_child;

/* Best-execution record: one venue's market when the order's routing was decided. */
typedef struct xr_engine_venue_price {
    uint16_t venue;    /* index into the configuration's venues */
    uint8_t usable;    /* 1: its book was synced, fresh and not crossed (it was priced) */
    xr_price bid, ask; /* its best bid / ask at the pair's price scale; 0: side empty or the
                          book not usable */
    uint64_t age_ns;   /* decision time - the book's last update (0: never updated) */
} xr_engine_venue_price;

/* ORDER_STATUS: the order as stored (its best-execution record: spread, plan, children,
 * fills and fees, and every venue's best bid / ask and book age at the decision). */
typedef struct xr_engine_order_ev {
    xr_engine_exec_report_ev report; /* status may be non-final (OPEN while reconciling) */
    uint8_t type, tif, amount_side;
    uint8_t n_children;
    uint32_t spread_bps;
    uint64_t seq;       /* the order's serial in the store (ORDER_LIST's cursor unit) */
    int64_t created_ns; /* wall clock of the durable reservation */
    xr_engine_child children[XR_ENGINE_CHILDREN_MAX];
    /* Appended in this version (records of older versions show n_venue_prices 0): the venues
     * of the pair at the last routing decision (the order's pricing, or for a resting LIMIT
     * order the moment the market reached it). Failover keeps the first decision's. */
    uint8_t n_venue_prices;
    int64_t decided_ns; /* wall clock of that decision; 0 when not recorded */
    xr_engine_venue_price venue_prices[XR_ENGINE_VENUES_MAX];
} xr_engine_order_ev;

/* One order of an ORDER_LIST page. */
typedef struct xr_engine_order_summary {
    xr_engine_exec_report_ev report;
    uint8_t type;
    uint64_t seq;
    int64_t created_ns;
} xr_engine_order_summary;

/* LIST_ORDERS: one page, newest first. next_cursor 0: no more pages; else pass it as the
 * next command's cursor (the next page may then be empty). */
typedef struct xr_engine_order_list_ev {
    uint32_t n;
    uint64_t next_cursor;
    xr_engine_order_summary items[XR_ENGINE_ORDER_LIST_MAX];
} xr_engine_order_list_ev;

typedef struct xr_engine_conversion_ev {
    xr_engine_key key;
    uint8_t status; /* 0 PENDING, 1 COMPLETED, 2 FAILED (final in this version) */
    xr_err err;     /* FAILED: why; else XR_OK */
    char from_asset[XR_ASSET_CODE_MAX + 1];
    char to_asset[XR_ASSET_CODE_MAX + 1];
    xr_amount from_amount; /* asked, minor units of from_asset (taken when COMPLETED) */
    xr_amount to_amount;   /* delivered, minor units of to_asset; 0 unless COMPLETED */
    xr_amount fee;         /* charged by xroute: 0 (the venue's fee is inside its rate) */
    uint8_t replayed;      /* 1: the key was used before; this is the stored result */
} xr_engine_conversion_ev;

typedef struct xr_engine_balance {
    char asset[XR_ASSET_CODE_MAX + 1];
    uint8_t scale;
    xr_amount balance;   /* available + reserved */
    xr_amount available; /* may be traded or withdrawn */
    xr_amount reserved;  /* held by orders in flight */
} xr_engine_balance;

typedef struct xr_engine_balances_ev {
    uint32_t n;
    xr_engine_balance items[XR_ENGINE_ASSETS_MAX];
} xr_engine_balances_ev;

typedef struct xr_engine_level {
    xr_price price;
    xr_amount qty;
} xr_engine_level;

typedef struct xr_engine_book_ev {
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t base_scale, price_scale;
    uint16_t n_bids, n_asks;
    xr_engine_level bids[XR_ENGINE_BOOK_LEVELS_MAX]; /* best first, summed over venues */
    xr_engine_level asks[XR_ENGINE_BOOK_LEVELS_MAX];
} xr_engine_book_ev;

#define XR_ENGINE_OHLC_MAX  16 /* candles per OHLC event */
#define XR_ENGINE_PAIRS_MAX 12 /* pairs per PAIRS event */

/* TICKER: the consolidated top of book and the pair's trades over every venue that reports
 * them (docs/ARCHITECTURE.md, "Market data"). Prices at price_scale, quantities at base_scale. */
typedef struct xr_engine_ticker_ev {
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t base_scale, quote_scale, price_scale;
    uint8_t reserved;
    uint32_t trades_24h;  /* trades counted in volume_24h */
    xr_price bid, ask;    /* best over the usable venue books; 0 when that side is empty */
    xr_amount bid_qty;    /* summed over venues at `bid` */
    xr_amount ask_qty;    /* summed over venues at `ask` */
    xr_price last;        /* the latest trade by venue trade time; 0 when none seen */
    int64_t last_ns;      /* its venue trade time (Unix epoch ns); 0 when none */
    xr_amount volume_24h; /* base traded in the 1440 one-minute candles up to now's */
} xr_engine_ticker_ev;

/* One candle: the trades whose venue time is in [open_ns, open_ns + interval). */
typedef struct xr_engine_candle {
    int64_t open_ns; /* Unix epoch ns, a multiple of the interval */
    uint32_t trades;
    xr_price open, high, low, close;
    xr_amount volume; /* base */
} xr_engine_candle;

/* OHLC: the candles with at least one trade whose open_ns is in [from_ns, to_ns), oldest
 * first. next_from_ns 0: that was all; else the next page's from_ns. */
typedef struct xr_engine_ohlc_ev {
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t base_scale, price_scale;
    uint16_t n;
    uint32_t interval_s;
    int64_t next_from_ns;
    xr_engine_candle items[XR_ENGINE_OHLC_MAX];
} xr_engine_ohlc_ev;

/* One configured pair and the trading rules of the venues that listed it. A rule is the
 * most permissive over those venues (what at least one venue accepts); 0: no venue sets it. */
typedef struct xr_engine_pair_info {
    char pair[XR_ENGINE_PAIR_NAME_MAX];
    uint8_t base_scale, quote_scale, price_scale; /* 0 until a venue's rules are known */
    uint8_t trading;                              /* 1: some venue with known rules is trading it */
    uint32_t venues;                              /* bit v: configuration venue v lists the pair */
    uint32_t venues_ready;                        /* bit v: venue v's rules are known */
    xr_amount min_qty;      /* smallest base quantity (the lowest venue minimum) */
    xr_amount lot_step;     /* amounts are multiples of this (the finest step) */
    xr_price tick;          /* the finest price tick */
    xr_amount min_notional; /* the lowest venue minimum notional, quote */
} xr_engine_pair_info;

/* PAIRS: one page of the configured pairs in engine order. next_cursor 0: no more. */
typedef struct xr_engine_pairs_ev {
    uint32_t n;
    uint32_t next_cursor;
    xr_engine_pair_info items[XR_ENGINE_PAIRS_MAX];
} xr_engine_pairs_ev;

/* One event: a header and the payload of its kind. */
typedef struct xr_engine_event {
    uint8_t kind; /* xr_engine_event_kind */
    uint8_t reserved[3];
    uint32_t bank_id;
    uint64_t correlation_id; /* the answered command's */
    uint64_t customer_id;
    union {
        xr_engine_reject_ev reject;
        xr_engine_customer_ev customer;
        xr_engine_funding_ev funding;
        xr_engine_quote_ev quote;
        xr_engine_exec_report_ev report;
        xr_engine_conversion_ev conversion;
        xr_engine_balances_ev balances;
        xr_engine_book_ev book;
        xr_engine_order_ev order;           /* ORDER */
        xr_engine_order_list_ev order_list; /* ORDER_LIST */
        xr_engine_ticker_ev ticker;         /* TICKER */
        xr_engine_ohlc_ev ohlc;             /* OHLC */
        xr_engine_pairs_ev pairs;           /* PAIRS */
    } u;
} xr_engine_event;

/* ---- life cycle -------------------------------------------------------------------------- */

typedef struct xr_engine xr_engine;

/* Opens the ledger in cfg->data_dir/ledger (creating it), creates the system accounts of
 * every bank and venue (idempotently), allocates every ring, pool and table, rebuilds the
 * customer directory and order keys and queues the reconciliation of orders in flight before
 * the last close (see Restart at the top), starts the
 * venue connections (they connect while xr_engine_poll runs, or on the engine threads) and,
 * in the THREADS schedule, the engine threads. Quotes and orders for a pair are
 * refused with XR_ERR_VENUE_UNAVAILABLE until one of its venue books is synced. `*out` is
 * the caller's until xr_engine_close. Errors: see the top of this file. */
xr_err xr_engine_open(const xr_engine_config *cfg, xr_engine **out);

/* Stops and joins the engine threads (THREADS), closes the venue connections and the ledger
 * and frees everything. Commands still in the
 * rings are dropped unanswered; orders in flight keep their durable reservation and stored
 * order, and are reconciled by the next xr_engine_open on the same data_dir. NULL is a no-op. */
void xr_engine_close(xr_engine *e);

/* Copies `cmd` into the ingress ring. XR_OK; XR_ERR_AGAIN when the ring is full (nothing is
 * queued; poll, then submit again); XR_ERR_INVALID_ARGUMENT for a NULL pointer. The command's
 * fields are checked by the engine, which answers a bad command with a reject event. */
xr_err xr_engine_submit(xr_engine *e, const xr_engine_cmd *cmd);

/* INLINE: runs every stage's poll once in the caller's thread (gateway, pricing, ledger,
 * router, venue I/O without waiting); THREADS: runs nothing (the engine threads do). Then
 * copies up to `cap` ready events into `out` and stores their number in `*n`; never blocks. Events
 * that did not fit stay queued for the next call. XR_OK; XR_ERR_INVALID_ARGUMENT (NULL, cap 0);
 * XR_ERR_INTERNAL (a stage failed: see the log). */
xr_err xr_engine_poll(xr_engine *e, xr_engine_event *out, size_t cap, size_t *n);

/* Blocks until an event is ready for xr_engine_poll, the engine failed, or `timeout_ns`
 * passed. THREADS: spins for cfg.spin_ns, then sleeps until the gateway's thread rings the
 * caller's doorbell (no polling). INLINE: runs the stages itself, as xr_engine_poll does but
 * without taking events, pausing 20 us between passes that did nothing once cfg.spin_ns has
 * passed. Call it from the thread that polls. XR_OK (poll now); XR_ERR_TIMEOUT (nothing
 * yet); XR_ERR_INTERNAL (a stage failed); XR_ERR_INVALID_ARGUMENT (NULL). */
xr_err xr_engine_wait(xr_engine *e, uint64_t timeout_ns);

/* THREADS: for a host that blocks in its own event loop (a bank server on io_uring) instead of
 * in xr_engine_wait. `fn(ctx)` is called from an engine thread when an event becomes ready
 * (or the engine fails) while the host is armed, at most once per xr_engine_arm_notify; it
 * must be quick, must not call into the engine, and must wake the host's loop (e.g.
 * xr_net_loop_wake, or an eventfd write). Set it (or clear it with NULL) while not armed:
 * right after open, or after a poll. When it returns, no engine thread is still inside the
 * previous notifier or will call it again, so a host may free the previous ctx (a bank server
 * clears it before destroying its loop). XR_OK; XR_ERR_INVALID_ARGUMENT (NULL engine);
 * XR_ERR_INVALID_STATE (INLINE: no engine thread would call it). */
typedef void (*xr_engine_notify_fn)(void *ctx);
xr_err xr_engine_set_notify(xr_engine *e, xr_engine_notify_fn fn, void *ctx);

/* THREADS: call right before blocking in the host's loop. XR_OK: block; the notifier runs
 * when an event is ready. XR_ERR_AGAIN: events are ready already: poll instead of blocking.
 * xr_engine_poll disarms (a notifier not yet called is then not called). Also
 * XR_ERR_INVALID_ARGUMENT (NULL); XR_ERR_INVALID_STATE (INLINE, or no notifier set);
 * XR_ERR_INTERNAL (the engine failed). */
xr_err xr_engine_arm_notify(xr_engine *e);

/* Stable lower-case names ("new_order", "exec_report"); "unknown" outside the enums. */
const char *xr_engine_cmd_kind_name(xr_engine_cmd_kind kind);
const char *xr_engine_event_kind_name(xr_engine_event_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* XROUTE_ENGINE_H */
