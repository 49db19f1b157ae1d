/*
 * core/engine/engine_internal.h - what the engine's stages share: the ring message, the
 * ports (ring + outbox) a stage writes through, the ids of ledger accounts and ops, and
 * each stage's state and poll function.
 *
 * Stages (docs/ARCHITECTURE.md, "Engine"):
 *   gateway  ingress commands -> validates, customer directory, order idempotency -> pricing
 *            or ledger; collects every answer and writes the egress ring.
 *   pricing  books (fed by the venues' market-data rings), quotes, pre-trade checks and the
 *            routing plan of an order -> ledger.
 *   ledger   group commit: customer accounts, funding, reservations, post/void groups.
 *   router   parent orders (pool), child orders to the venue rings, fills -> ledger; a
 *            parent whose children came back short -> pricing again (failover).
 *   venues   a driver (core/engine/venue.h) implemented in adapters/.
 *
 * Every ring carries xr_eng_msg slots. A stage never blocks on a full ring: it writes
 * through a port, whose outbox keeps what the ring could not take, and it takes a new input
 * message only when every port it may write to has room for that message's outputs (so
 * back-pressure travels upstream to xr_engine_submit's XR_ERR_AGAIN).
 *
 * Back-pressure: no cycle of full ports. Waiting for room is safe only when the stage that
 * drains the port never waits, directly or through others, for the waiting one; the rings
 * form cycles (gateway -> pricing -> ledger -> gateway, ledger <-> router, router ->
 * pricing -> ledger -> router), so the rule has three parts:
 *   1. Admission: the gateway takes a NEW_ORDER only while fewer than orders_max orders are
 *      live (taken and not final; resting ones included), else the order waits in ingress
 *      (or is refused XR_ERR_AGAIN when every live order rests: none ends by itself). So at
 *      most orders_max parent messages exist in the whole pipeline, and the router's pool
 *      always has a slot for a routed order.
 *   2. Reserve: a port that carries parents' messages "backwards" in a cycle keeps orders_max
 *      messages of its outbox for them (router to_ledger and to_pricing: SMALL + orders_max,
 *      a parent's message needs room 1, a conversion room orders_max + 1; gateway to_pricing:
 *      a command needs room orders_max + 1, a firm quote's release room 1). A parent's
 *      message therefore never waits, and what drains the cycle always moves.
 *   3. Answers first: the gateway takes answers (pricing_gw, ledger_gw) needing only egress
 *      room (and the release reserve), never the room new commands use.
 * unit.engine_backpressure and unit.bank_backpressure(.threads) hold the rule under bursts.
 *
 * This header must not include core/market/event.h: core/router/order_state.h (used by the
 * router) declares an xr_order_status of its own, so the two cannot meet in one file.
 */
#ifndef XR_ENGINE_ENGINE_INTERNAL_H
#define XR_ENGINE_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ledger/ledger.h"
#include "core/market/instrument.h"
#include "core/ring/pool.h"
#include "core/ring/spsc_ring.h"
#include "xroute/engine.h"
#include "xroute/err.h"
#include "xroute/money.h"

#define XR_ENG_LEGS_MAX     8u  /* = XR_PRICING_VENUES_MAX (checked in stage_pricing.c) */
#define XR_ENG_MD_LEVELS    32u /* levels per side of a market-data snapshot */
#define XR_ENG_MD_KEYFRAME  64u /* a venue book is sent whole at least every this many deltas */
#define XR_ENG_CLIENT_ID    40u /* client order id and its NUL */
#define XR_ENG_PAIRS_MAX    32u /* distinct pairs over all venues */
#define XR_ENG_OUTBOX_SMALL 64u

/* ---- messages ------------------------------------------------------------------------------ */

typedef enum xr_eng_msg_type {
    XR_ENG_M_CMD = 1,       /* xr_eng_req: a command (ingress, gateway -> pricing/ledger) */
    XR_ENG_M_EVT = 2,       /* xr_engine_event: an answer (-> gateway -> egress) */
    XR_ENG_M_ORDER = 3,     /* xr_eng_order: a parent order on its way through the stages */
    XR_ENG_M_CUSTOMER = 4,  /* xr_eng_req: ledger -> gateway, customer accounts created */
    XR_ENG_M_CHILD_CMD = 5, /* xr_eng_child_cmd: router -> venue */
    XR_ENG_M_CHILD_EV = 6,  /* xr_eng_child_ev: venue -> router */
    XR_ENG_M_MD_INST = 7,   /* xr_eng_md_inst: venue -> pricing, a pair's rules */
    XR_ENG_M_MD_BOOK = 8,   /* xr_eng_md_book: venue -> pricing, a book's top levels */
    XR_ENG_M_MD_DOWN = 9,   /* xr_eng_md_book (no levels): the venue book is not usable */
    XR_ENG_M_MD_TRADE = 10, /* xr_eng_md_trade: venue -> pricing, a public trade */
    XR_ENG_M_CONV = 11,     /* xr_eng_conv: a conversion between ledger, router and venue */
} xr_eng_msg_type;

/* A command with what the gateway learnt about its customer. */
typedef struct xr_eng_req {
    xr_engine_cmd cmd;
    uint64_t cust_no; /* internal customer number (account ids), 0 for none */
    uint8_t tier;
    uint8_t created;   /* CUSTOMER: 1 when the accounts are new */
    uint8_t update;    /* CUSTOMER: a known customer's new tier (stored, no accounts) */
    xr_err err;        /* CUSTOMER: the ledger's result */
    uint32_t gw_entry; /* CANCEL: the gateway's idempotency entry of the order */
} xr_eng_req;

/* Where an order is in its life (the gateway builds the answer from it). */
typedef enum xr_eng_order_phase {
    XR_ENG_PH_NEW = 0,      /* gateway -> pricing */
    XR_ENG_PH_RESERVE = 1,  /* pricing -> ledger: reserve */
    XR_ENG_PH_ROUTE = 2,    /* ledger -> router: reserved durably */
    XR_ENG_PH_BOOK = 3,     /* router -> ledger: post or void */
    XR_ENG_PH_DONE = 4,     /* ledger -> gateway: booked, report */
    XR_ENG_PH_REJECTED = 5, /* -> gateway: refused, nothing booked (err); gateway -> pricing:
                               an order on a firm quote refused by the ledger (release it) */
    XR_ENG_PH_REROUTE = 6,  /* failover: router -> pricing (new legs) -> ledger (record) ->
                               router (the parent stays in the router's pool meanwhile) */
    XR_ENG_PH_OPEN = 7,     /* pricing -> gateway: a LIMIT GTC/GTD order rests in the internal
                               book (its OPEN report); the parent stays in the router's pool */
    XR_ENG_PH_PART = 8,     /* router -> ledger -> router: book a resting order's fills so far
                               and reserve its remainder again (interim booking) */
} xr_eng_order_phase;

/* A leg crossed in the internal book against another client order: no venue, no fee. */
#define XR_ENG_VENUE_INTERNAL 0xFFFFu

/* Why a resting order ends without filling (xr_eng_order.ending). */
#define XR_ENG_END_NONE    0u
#define XR_ENG_END_CANCEL  1u /* the bank cancelled it */
#define XR_ENG_END_EXPIRED 2u /* GTD expiry */

/* One venue's part of an order: the plan, then what the venue did. */
typedef struct xr_eng_leg {
    uint16_t venue;
    uint16_t fee_bps;
    uint8_t done;        /* the child order reached a final state (and all its fills are in) */
    uint8_t done_seen;   /* the venue said it is final; `done_cum` is its executed quantity */
    uint8_t fee_in;      /* asset of the venue's actual fee: 0 none yet, 1 base, 2 quote */
    uint8_t recover;     /* recovered at start-up: resolved by query, fills from its answer */
    xr_err err;          /* the child's failure, XR_OK otherwise */
    xr_amount qty;       /* planned base quantity */
    xr_price limit;      /* the child's IOC limit: the slippage bound, on the tick */
    xr_amount filled;    /* base executed */
    xr_amount done_cum;  /* executed quantity the venue reported as final */
    xr_i128 quote_exact; /* sum of fill qty x price, in 10^-(base + price scale) quote */
    xr_amount venue_fee; /* what the venue charged, in `fee_in`'s asset minor units */
    xr_amount notional;  /* booked: buy ceil, sell floor of quote_exact at quote scale */
    xr_amount fee;       /* booked: ceil(notional x fee_bps / 10^4), quote */
} xr_eng_leg;

/* A parent order. Travels by value through the rings; the router keeps it in its pool while
 * the children are out. */
typedef struct xr_eng_order {
    xr_engine_cmd cmd; /* NEW_ORDER as submitted */
    uint64_t cust_no;
    uint8_t tier;
    uint8_t phase;  /* xr_eng_order_phase */
    uint8_t status; /* xr_engine_order_status */
    uint8_t n_legs;
    uint8_t replayed;  /* the reservation was found in the ledger (a resend after restart) */
    uint8_t recovered; /* loaded from the order store at start-up, being reconciled */
    uint8_t n_sent;    /* legs [0, n_sent) are at their venues; REROUTE adds the others */
    uint8_t reserved_;
    xr_err err;
    uint32_t gw_entry;                /* the gateway's idempotency entry */
    uint32_t pair;                    /* engine pair index */
    uint16_t base_asset, quote_asset; /* registry ids */
    xr_pair_scale scale;
    uint32_t spread_bps;
    xr_amount reserve; /* held on the customer's source account */
    xr_ledger_id reserve_id;
    xr_amount filled, notional, fees, spread, quote; /* totals, set by the router */
    xr_price avg_price;
    int64_t booked_ns;
    uint64_t seq;       /* the order store's serial (list order), set with the reservation */
    int64_t created_ns; /* wall clock of the reservation */
    /* Failover (not stored: a recovered order is never re-routed). */
    xr_price bound;   /* the slippage bound: no child's limit goes beyond it */
    uint16_t fee_cap; /* the highest taker fee the reservation was sized for */
    uint16_t reserved2_;
    uint32_t excluded;  /* bit v: venue v failed this order (refused, down, came back short) */
    uint32_t route_ref; /* REROUTE: the router's pool index of the parent */
    uint32_t route_seq; /* REROUTE: the parent's serial in the router */
    xr_eng_leg legs[XR_ENG_LEGS_MAX];
    /* Firm quotes, quote-side amounts and daily caps (stored in the record's tail). */
    xr_amount base_qty;     /* base the order fills: the amount (BASE), else sized by pricing */
    xr_amount q_quote;      /* firm quote: the customer amount honoured (all in); 0 = no quote */
    xr_amount q_spread;     /* firm quote: its stated spread */
    xr_amount pnl;          /* booked: the house's price-move result, signed, quote asset */
    xr_amount cap_notional; /* counted against the daily notional cap at reservation */
    /* LIMIT orders (stage_pricing.c, "Limit orders and the internal book"). */
    uint8_t ending; /* XR_ENG_END_*: set by pricing when a resting order is taken out */
    uint8_t rested; /* the order has rested in the internal book at least once */
    uint8_t n_bx;   /* best-execution record: venues in bx (stage_pricing.c, best_ex) */
    uint8_t reserved3_;
    int64_t decided_ns; /* wall clock of the routing decision of bx */
    xr_engine_venue_price bx[XR_ENGINE_VENUES_MAX];
    /* Interim bookings (a resting order's fills are booked before it rests again). */
    uint8_t booked;       /* bit i: leg i is booked (its fills, if any, in an earlier group) */
    uint8_t n_legs_round; /* router: legs [n_legs_round, n_legs) are this routing round's */
    uint16_t res_n;       /* op index n of the current reservation: 0 the first, else re-reserved */
    uint16_t next_op;     /* next free op index n for booking ops (0: 1) */
    uint16_t reserved5_;
    xr_amount g_filled, g_quote, g_spread; /* settle(): the group being booked now */
} xr_eng_order;

/* The op id of an order's current reservation (interim bookings re-reserve under a new id;
 * client order ids stay derived from the first, reserve_id). */
xr_ledger_id xr_eng_res_id(const xr_eng_order *o);

typedef struct xr_eng_child_cmd {
    uint32_t order_ref; /* the router's pool index */
    uint32_t order_seq; /* the parent's serial: events for a finished parent are dropped */
    uint8_t leg;
    uint8_t side;  /* xr_engine_side */
    uint8_t query; /* 1: do not send; query the venue by client order id (reconciliation) */
    uint8_t reserved;
    uint16_t pair;
    xr_amount qty;
    xr_price limit;
    char client_order_id[XR_ENG_CLIENT_ID];
} xr_eng_child_cmd;

typedef enum xr_eng_child_ev_kind {
    XR_ENG_CHILD_FILL = 1,   /* one execution */
    XR_ENG_CHILD_FINAL = 2,  /* the order is final at the venue with cum_qty executed */
    XR_ENG_CHILD_FAILED = 3, /* refused, nothing executed (err) */
} xr_eng_child_ev_kind;

typedef struct xr_eng_child_ev {
    uint32_t order_ref;
    uint32_t order_seq;
    uint8_t leg;
    uint8_t kind; /* xr_eng_child_ev_kind */
    uint8_t fee_scale;
    uint8_t cum_quote_scale; /* FINAL: scale of cum_quote */
    xr_err err;
    xr_amount cum_quote; /* FINAL: quote executed in all, as the venue reports it */
    xr_amount last_qty;
    xr_price last_price;
    xr_amount cum_qty; /* FILL: executed including this one; FINAL: executed in all */
    xr_amount fee;     /* FILL: at fee_scale in fee_asset */
    char fee_asset[XR_ASSET_CODE_MAX + 1];
    /* FILL, when `coalesced` is 1: the driver merged several executions of this child into
     * one (its events ring was full, adapters/engine_venues.c): last_qty is their sum and
     * fill_quote the exact sum of qty x price over them (scale base + price); last_price is
     * then only the last execution's price. 0: one execution, quote last_qty x last_price. */
    uint8_t coalesced;
    xr_i128 fill_quote;
} xr_eng_child_ev;

typedef struct xr_eng_md_inst {
    uint16_t venue;
    uint16_t pair;
    xr_instrument inst;
} xr_eng_md_inst;

typedef struct xr_eng_md_level {
    xr_price price;
    xr_amount qty;
} xr_eng_md_level;

typedef struct xr_eng_md_book {
    uint16_t venue;
    uint16_t pair;
    uint16_t n_bids, n_asks;
    uint64_t update_id;
    xr_eng_md_level bids[XR_ENG_MD_LEVELS]; /* best first */
    xr_eng_md_level asks[XR_ENG_MD_LEVELS];
    /* A delta (xr_book_levels_diff of the top XR_ENG_MD_LEVELS a side since the message
     * before): bids/asks are the changed levels (quantity 0 removes), removals first, and
     * they apply only on the pricing copy at base_id; else the levels are a snapshot. */
    bool delta;
    uint64_t base_id;
} xr_eng_md_book;

/* Whether pricing may apply the delta `mb` to its copy of the venue book: the copy is synced
 * at exactly mb->base_id and the delta moves it forward. Anything else (a lost, repeated or
 * reordered message) resets the copy until the next snapshot (stage_pricing.c md_book). */
struct xr_book;
bool xr_eng_md_delta_applies(const struct xr_book *copy, const xr_eng_md_book *mb);

/* A public trade of one venue (its @trade stream), prices at the venue instrument's price
 * scale, quantity at the pair's base scale. */
typedef struct xr_eng_md_trade {
    uint16_t venue;
    uint16_t pair;
    uint32_t reserved;
    uint64_t trade_id; /* the venue's; increasing per venue and pair */
    int64_t time_ns;   /* the venue's trade time, Unix epoch */
    xr_price price;
    xr_amount qty;
} xr_eng_md_trade;

/* Where a conversion is (core/engine/convert.c; docs/ledger.md, "The legs of a trade"). */
typedef enum xr_eng_conv_phase {
    XR_ENG_CV_QUOTE = 1,  /* reserved durably: ledger -> router -> venue, get a quote */
    XR_ENG_CV_QUOTED = 2, /* venue -> router -> ledger: store the quote id durably */
    XR_ENG_CV_ACCEPT = 3, /* ledger -> router -> venue: accept it (the id is durable) */
    XR_ENG_CV_QUERY = 4,  /* recovered: ledger -> router -> venue, ask its status by quote id */
    XR_ENG_CV_RESULT = 5, /* -> ledger: COMPLETED (amounts) or FAILED (err): post or void */
    XR_ENG_CV_DONE = 6,   /* booked (the stored record's final phase) */
} xr_eng_conv_phase;

#define XR_ENG_QUOTE_ID 33u /* the venue's quote id and its NUL */

typedef struct xr_eng_conv {
    xr_engine_cmd cmd; /* CONVERT as submitted */
    uint64_t cust_no;
    uint16_t from_asset, to_asset; /* registry ids */
    uint16_t venue;
    uint8_t phase;     /* xr_eng_conv_phase */
    uint8_t status;    /* 0 PENDING, 1 COMPLETED, 2 FAILED (xr_engine_conversion_ev) */
    uint8_t replayed;  /* answered from the stored record */
    uint8_t recovered; /* reconciled after a restart: no command waits for it */
    uint8_t reserved_[2];
    xr_err err;
    xr_ledger_id reserve_id;
    xr_amount to_amount; /* what the venue delivered, at the to asset's scale */
    xr_amount fee;       /* charged to the customer by xroute: 0 (the venue's is in its rate) */
    char quote_id[XR_ENG_QUOTE_ID];
    int64_t created_ns, booked_ns;
} xr_eng_conv;

typedef struct xr_eng_msg {
    uint32_t type; /* xr_eng_msg_type */
    uint32_t reserved;
    union {
        xr_eng_req req;
        xr_engine_event ev;
        xr_eng_order order;
        xr_eng_child_cmd child;
        xr_eng_child_ev cev;
        xr_eng_md_inst inst;
        xr_eng_md_book book;
        xr_eng_md_trade trade;
        xr_eng_conv conv;
    } u;
} xr_eng_msg;

/* Ring slot size: exactly one message (try_push copies a whole slot from the message). */
#define XR_ENG_SLOT ((uint32_t)sizeof(xr_eng_msg))
_Static_assert(sizeof(xr_eng_msg) % 8 == 0, "ring slots are multiples of 8 bytes");

/* ---- ports ------------------------------------------------------------------------------- */

/* The producer side of one ring, with an outbox for what the ring could not take. */
typedef struct xr_eng_port {
    xr_spsc_ring *ring;
    xr_eng_msg *box; /* cap messages */
    uint32_t cap, head, n;
} xr_eng_port;

/* True when the port can take `k` more messages without losing one. */
static inline bool xr_eng_port_room(const xr_eng_port *p, uint32_t k)
{
    return p->cap - p->n >= k;
}
/* Sends `m` (or keeps it in the outbox, which must have room: XR_ASSERT). */
void xr_eng_port_send(xr_eng_port *p, const xr_eng_msg *m);
/* Moves what the ring now accepts from the outbox into the ring. */
void xr_eng_port_flush(xr_eng_port *p);

/* ---- ids --------------------------------------------------------------------------------- */

/* Ledger account ids: kind in the top byte, owner (internal customer number, bank id or
 * venue id) in bits 16..55, the asset's registry id in the low 16 bits. */
static inline uint64_t xr_eng_account_id(unsigned kind, uint64_t owner, uint16_t asset)
{
    return ((uint64_t)kind << 56) | ((owner & 0xFFFFFFFFFFull) << 16) | asset;
}

/* The house's quote P&L account of a bank (docs/ledger.md, "Firm quotes"): ledger kind
 * SPREAD_REVENUE with owner_id XR_ENG_QUOTE_PNL_OWNER, its own id kind byte. */
#define XR_ENG_ACCT_QUOTE_PNL  0x84u
#define XR_ENG_QUOTE_PNL_OWNER 1u

/* The wall clock that stamps an order's creation (its reservation) and so decides the UTC
 * day of its daily notional cap (docs/ledger.md, "Daily notional caps"): xr_clock_wall_ns.
 * A test may point it at another clock to cross a midnight; set it only while no engine runs
 * in another thread. */
extern int64_t (*xr_eng_wall_clock)(void);

/* Op id of a bank request: SHA-256(bank, key, n)[0..16). n = 0 is the request's first op
 * (a funding transfer or an order's reservation); n >= 1 are the ops of its booking. */
xr_ledger_id xr_eng_op_id(uint32_t bank, const xr_engine_key *key, uint32_t n);
/* Op id of the creation of account `account_id` (deterministic: creating again replays). */
xr_ledger_id xr_eng_account_op_id(uint64_t account_id);

/* The client order id of leg `leg`: "x" + the reservation id in hex + "-" + the leg (35
 * characters of Binance's alphabet). The same parent and leg always give the same id. */
void xr_eng_client_order_id(const xr_ledger_id *reserve_id, uint32_t leg,
                            char out[XR_ENG_CLIENT_ID]);

/* ---- the order store (docs/ledger.md, "Order store") ------------------------------------ */

typedef struct xr_eng_shared xr_eng_shared;

#define XR_ENG_REC_VERSION 2u /* 2: + the best-execution block and the tail; 1 still decodes */
#define XR_ENG_REC_HEAD    288u
#define XR_ENG_REC_LEG     168u
#define XR_ENG_REC_BX_HEAD 16u /* v2: n_bx u8, pad[7], decided_ns i64 */
#define XR_ENG_REC_BX      48u /* v2: per venue */
#define XR_ENG_REC_TAIL    80u /* v2, last: base_qty ... cap_notional, i128 each */
#define XR_ENG_REC_MAX                                                                             \
    (XR_ENG_REC_HEAD + XR_ENG_LEGS_MAX * XR_ENG_REC_LEG + XR_ENG_REC_BX_HEAD +                     \
     XR_ENGINE_VENUES_MAX * XR_ENG_REC_BX + XR_ENG_REC_TAIL)
#define XR_ENG_KEY_ORDER     'O' /* 'O' bank(u32 BE) key[16] -> order record */
#define XR_ENG_KEY_LIST      'L' /* 'L' bank(u32 BE) customer(u64 BE) ~seq(u64 BE) -> key[16] */
#define XR_ENG_KEY_CUSTOMER  'C' /* 'C' bank(u32 BE) customer(u64 BE) -> cust_no u64, tier u8 */
#define XR_ENG_ORDER_KEY_LEN 21u
#define XR_ENG_LIST_KEY_LEN  21u
#define XR_ENG_CUST_KEY_LEN  13u
#define XR_ENG_CUST_VAL_LEN  9u

void xr_eng_order_key(uint32_t bank, const xr_engine_key *key, uint8_t out[XR_ENG_ORDER_KEY_LEN]);
void xr_eng_list_key(uint32_t bank, uint64_t customer, uint64_t seq,
                     uint8_t out[XR_ENG_LIST_KEY_LEN]);
void xr_eng_cust_key(uint32_t bank, uint64_t customer, uint8_t out[XR_ENG_CUST_KEY_LEN]);
/* Encodes `o` (status, plan, children, fills, totals); returns the record's length. */
uint32_t xr_eng_order_encode(const xr_eng_order *o, uint8_t out[XR_ENG_REC_MAX]);
/* Decodes a record into `o` (the pair and asset ids found by the pair's name). XR_OK,
 * XR_ERR_CORRUPT (bad length or version), XR_ERR_UNKNOWN_PAIR (no longer configured). */
xr_err xr_eng_order_decode(const xr_eng_shared *sh, const uint8_t *b, uint32_t len,
                           xr_eng_order *o);
/* Conversion records (core/engine/convert.c): 'V' bank(u32 BE) key[16] -> record. */
#define XR_ENG_KEY_CONV     'V'
#define XR_ENG_CONV_REC_LEN 184u
void xr_eng_conv_key(uint32_t bank, const xr_engine_key *key, uint8_t out[XR_ENG_ORDER_KEY_LEN]);
void xr_eng_conv_encode(const xr_eng_conv *c, uint8_t out[XR_ENG_CONV_REC_LEN]);
/* XR_OK, XR_ERR_CORRUPT (bad length, version or asset). */
xr_err xr_eng_conv_decode(const xr_eng_shared *sh, const uint8_t *b, uint32_t len, xr_eng_conv *c);
/* Checks a CONVERT command against the configuration and fills c (assets, venue, amount).
 * XR_OK, XR_ERR_INVALID_ARGUMENT (all-zero key, same asset twice), XR_ERR_UNKNOWN_ASSET (not
 * in the asset registry), XR_ERR_INVALID_AMOUNT (<= 0), XR_ERR_NOT_SUPPORTED (no venue
 * offers the conversion). */
xr_err xr_eng_conv_check(const xr_eng_shared *sh, const xr_eng_req *r, xr_eng_conv *c);
/* Fills the conversion report of `c` answering its command. */
void xr_eng_conv_report(const xr_eng_shared *sh, const xr_eng_conv *c, xr_engine_event *ev);
/* Router: a conversion from the ledger goes to its venue (QUOTE, ACCEPT, QUERY) or back to
 * the ledger (RESULT); one from a venue goes to the ledger. */
void xr_eng_conv_route(const xr_eng_msg *m, bool from_ledger, xr_eng_port *to_venue,
                       xr_eng_port *to_ledger);

/* The public view of a stored order. */
void xr_eng_order_view(const xr_eng_order *o, xr_engine_order_ev *out);
void xr_eng_report_from_order(const xr_eng_order *o, xr_engine_exec_report_ev *r);

/* ---- the engine ---------------------------------------------------------------------------- */

typedef struct xr_eng_pair {
    char name[XR_ENGINE_PAIR_NAME_MAX];
    char base[XR_ASSET_CODE_MAX + 1], quote[XR_ASSET_CODE_MAX + 1];
    uint16_t base_asset, quote_asset; /* registry ids */
} xr_eng_pair;

/* Read-only after open: shared by every stage. */
typedef struct xr_eng_shared {
    xr_engine_config cfg;
    xr_asset_registry assets;
    uint32_t nassets;
    uint16_t asset_ids[XR_ENGINE_ASSETS_MAX]; /* registry ids of the engine's assets */
    uint32_t npairs;
    xr_eng_pair pairs[XR_ENG_PAIRS_MAX];
} xr_eng_shared;

int xr_eng_find_pair(const xr_eng_shared *sh, const char *name);
int xr_eng_find_bank(const xr_eng_shared *sh, uint32_t bank_id);
const xr_asset *xr_eng_asset(const xr_eng_shared *sh, uint16_t id);

typedef struct xr_eng_gateway xr_eng_gateway;
typedef struct xr_eng_pricing xr_eng_pricing;
typedef struct xr_eng_ledger xr_eng_ledger;
typedef struct xr_eng_router xr_eng_router;

/* Every ring of the engine. Name: producer_consumer. */
typedef struct xr_eng_rings {
    xr_spsc_ring *ingress;                            /* submit -> gateway */
    xr_spsc_ring *egress;                             /* gateway -> poll */
    xr_spsc_ring *gw_pricing;                         /* gateway -> pricing */
    xr_spsc_ring *gw_ledger;                          /* gateway -> ledger */
    xr_spsc_ring *pricing_gw;                         /* pricing -> gateway */
    xr_spsc_ring *pricing_ledger;                     /* pricing -> ledger (reserve) */
    xr_spsc_ring *ledger_gw;                          /* ledger -> gateway */
    xr_spsc_ring *ledger_router;                      /* ledger -> router (reserved) */
    xr_spsc_ring *router_ledger;                      /* router -> ledger (post / void) */
    xr_spsc_ring *router_pricing;                     /* router -> pricing (failover) */
    xr_spsc_ring *router_venue[XR_ENGINE_VENUES_MAX]; /* child orders */
    xr_spsc_ring *venue_router[XR_ENGINE_VENUES_MAX]; /* child events */
    xr_spsc_ring *venue_md[XR_ENGINE_VENUES_MAX];     /* market data -> pricing */
} xr_eng_rings;

/* Each stage: create (allocates everything), poll (one pass; returns XR_OK or
 * XR_ERR_INTERNAL), destroy. `*work` is set when the pass did something. */
xr_err xr_eng_gateway_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_gateway **out);
xr_err xr_eng_gateway_poll(xr_eng_gateway *g, bool *work);
void xr_eng_gateway_destroy(xr_eng_gateway *g);

xr_err xr_eng_pricing_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_pricing **out);
xr_err xr_eng_pricing_poll(xr_eng_pricing *p, bool *work);
void xr_eng_pricing_destroy(xr_eng_pricing *p);

xr_err xr_eng_ledger_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_ledger **out);
xr_err xr_eng_ledger_poll(xr_eng_ledger *l, bool *work);
void xr_eng_ledger_destroy(xr_eng_ledger *l);

/* Start-up recovery, called once by open after every stage exists: the ledger stage reads
 * the order store, loads the customer directory and every order key into the gateway and
 * queues the non-final orders for the router, which reconciles them with their venues. */
xr_err xr_eng_ledger_recover(xr_eng_ledger *l, xr_eng_gateway *g);
void xr_eng_gateway_load_customer(xr_eng_gateway *g, uint32_t bank, uint64_t customer,
                                  uint64_t cust_no, uint8_t tier);
/* Loads an order key (final: its report replays; else in flight until reconciled). Sets
 * o->gw_entry. XR_OK or XR_ERR_NO_MEMORY (more orders in flight than idempotency_max). */
xr_err xr_eng_gateway_load_order(xr_eng_gateway *g, xr_eng_order *o);

xr_err xr_eng_router_create(const xr_eng_shared *sh, const xr_eng_rings *r, xr_eng_router **out);
xr_err xr_eng_router_poll(xr_eng_router *rt, bool *work);
void xr_eng_router_destroy(xr_eng_router *rt);

/* Memory at open: zeroed, aligned to 128 bytes (rings) or the type; NULL on failure. */
void *xr_eng_alloc(size_t size);
void xr_eng_free(void *p);
/* A port over `ring` with an outbox of `cap` messages. */
xr_err xr_eng_port_init(xr_eng_port *p, xr_spsc_ring *ring, uint32_t cap);
void xr_eng_port_fini(xr_eng_port *p);

/* Fills an XR_ENGINE_EV_REJECT answering `cmd`. */
void xr_eng_reject(xr_eng_msg *m, const xr_engine_cmd *cmd, xr_err err);

#endif /* XR_ENGINE_ENGINE_INTERNAL_H */
