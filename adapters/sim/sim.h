/*
 * adapters/sim/sim.h - the venue simulator: simulated exchanges served on localhost, each
 * in its venue's dialect, for tests, demos and xrouted's embedded default.
 *
 * A simulator (xr_sim) runs one or several venues. Each venue has its own listening port
 * (plain or TLS), pairs, fees, seed, accounts, rate limits and faults, a matching engine
 * (engine.h) and one seeded market per pair (market.h). Dialects:
 *   binance  Binance spot REST (/api/v3/...) and WebSocket streams (/ws/<stream>,
 *            /stream?streams=..., the user-data stream on /ws/<listenKey>), with Binance's
 *            JSON, error codes, weights and rate-limit headers. See docs/simulator.md.
 *   mock     the original brief's minimal exchange, served by every venue alongside its own
 *            dialect: GET /ticker?symbol=S and POST /order with a JSON body.
 *   control  /sim/state, /sim/fault, /sim/step on every venue: counters, books and faults
 *            for tests. Never rate-limited, never faulted.
 *
 * Driving: the simulator runs on an adapters/net loop (its own, or one the caller shares
 * with other connections on the same thread). xr_sim_poll() polls the loop, waiting no
 * longer than the simulator's next deadline, then runs what is due: market steps, stream
 * messages, delayed (latency-faulted) output, the end of faults. Nothing blocks. A caller
 * that polls the loop itself calls xr_sim_run_due() after each poll instead.
 *
 * Threading: a simulator and its loop are used by one thread (the loop's rule).
 * Ownership: the caller owns the xr_sim (create/destroy); the configuration is copied.
 *   TLS certificate and key files are read by xr_sim_create(), once.
 * Errors: XR_ERR_INVALID_ARGUMENT / XR_ERR_CONFIG (configuration), XR_ERR_NO_MEMORY,
 *   XR_ERR_IO (a port could not be bound, a TLS file could not be read), XR_ERR_MALFORMED
 *   (TLS files), XR_ERR_NOT_FOUND (no such venue or pair).
 */
#ifndef XR_ADAPTERS_SIM_SIM_H
#define XR_ADAPTERS_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/net/loop.h"
#include "adapters/sim/engine.h"
#include "adapters/sim/market.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_SIM_VENUES_MAX   8
#define XR_SIM_FAULTS_MAX   8
#define XR_SIM_BALANCES_MAX 16

/* ---- faults ------------------------------------------------------------------------------ */

typedef enum xr_sim_fault_kind {
    XR_SIM_FAULT_CLEAR = 0,      /* removes every fault and any 429/418 state */
    XR_SIM_FAULT_LATENCY = 1,    /* ms: every response and stream message leaves ms later */
    XR_SIM_FAULT_DISCONNECT = 2, /* after: every WebSocket is cut (TCP reset) after that many
                                    messages; 0 turns it off */
    XR_SIM_FAULT_GAP = 3,        /* count: each depth subscriber silently loses its next count
                                    messages; every: loses every n-th message; 0 turns off */
    XR_SIM_FAULT_HTTP_5XX = 4,   /* count requests get `status` [503]; after_exec: the request
                                    is executed first and only its answer is lost */
    XR_SIM_FAULT_HTTP_429 = 5,   /* count requests get 429 -1003 with Retry-After
                                    retry_after seconds [1] (a "429 storm") */
    XR_SIM_FAULT_REJECT = 6,     /* count new orders are rejected with code [-2010] and msg */
    XR_SIM_FAULT_DOWN = 7,       /* ms: every connection is reset, and new ones too, for ms */
    XR_SIM_FAULT_STALE = 8,      /* ms: the market stops and streams send nothing for ms
                                    (0: until cleared); REST still answers, frozen */
    XR_SIM_FAULT_CLOCK = 9       /* offset_ms: the venue's clock runs this far ahead (or
                                    behind, negative) of the host's */
} xr_sim_fault_kind;

typedef struct xr_sim_fault {
    uint8_t kind;           /* xr_sim_fault_kind */
    uint32_t ms;            /* LATENCY, DOWN, STALE */
    uint32_t count;         /* GAP, HTTP_5XX, HTTP_429, REJECT */
    uint32_t every;         /* GAP */
    uint32_t after;         /* DISCONNECT */
    uint32_t retry_after_s; /* HTTP_429 */
    int status;             /* HTTP_5XX: 500..599 */
    int code;               /* REJECT */
    bool after_exec;        /* HTTP_5XX */
    int64_t offset_ms;      /* CLOCK */
    char msg[128];          /* REJECT */
} xr_sim_fault;

/* The kind's name as the specs spell it ("latency", "5xx", ...); "unknown" otherwise. */
const char *xr_sim_fault_name(int kind);

/* Parses a fault in the control endpoint's query form, "kind=latency&ms=50" (kinds: clear,
 * latency, disconnect, gap, 5xx, 429, reject, down, stale, clock; parameters as in
 * xr_sim_fault, with `retry_after` and `offset_ms` spelled so). The CLI's "KIND:k=v,k=v"
 * form is accepted too. XR_ERR_INVALID_ARGUMENT with a reason in why[0..why_cap). */
xr_err xr_sim_fault_parse(const char *text, size_t len, xr_sim_fault *out, char *why,
                          size_t why_cap);

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct xr_sim_balance_config {
    char asset[XR_ASSET_CODE_MAX + 1];
    int64_t amount; /* 10^-8 units */
} xr_sim_balance_config;

typedef struct xr_sim_account_config {
    char api_key[XR_SIM_API_KEY_MAX + 1];
    char secret[XR_SIM_SECRET_MAX + 1];
    uint32_t nbalances;
    xr_sim_balance_config balances[XR_SIM_BALANCES_MAX];
} xr_sim_account_config;

/* A conversion the venue's Convert endpoint offers (Binance Convert, the /sapi/v1/convert
 * endpoints): `from` -> `to` at `rate` (to per from, 10^-8 units) less `fee_bps`, the amount
 * received rounded down to `to_decimals` places. */
typedef struct xr_sim_convert_config {
    char from[XR_ASSET_CODE_MAX + 1];
    char to[XR_ASSET_CODE_MAX + 1];
    int64_t rate;        /* 10^-8 units, > 0 [1.00000000] */
    uint32_t fee_bps;    /* < 10000 */
    uint8_t to_decimals; /* 0..8 */
} xr_sim_convert_config;

#define XR_SIM_CONVERTS_MAX 8

typedef struct xr_sim_venue_config {
    char name[32];                /* "binance" */
    char dialect[16];             /* "binance" */
    char listen_ip[64];           /* numeric [127.0.0.1] */
    uint16_t port;                /* 0: any free port (see xr_sim_port) */
    uint64_t seed;                /* market seed [1] */
    int32_t maker_bps, taker_bps; /* fees [10, 10] */
    uint32_t npairs;
    xr_sim_pair_config pairs[XR_SIM_PAIRS_MAX];
    uint32_t naccounts;
    xr_sim_account_config accounts[XR_SIM_ACCOUNTS_MAX];
    char tls_cert[256];    /* PEM chain; empty: plain TCP */
    char tls_key[256];     /* PEM key */
    uint32_t step_us;      /* time between market steps; 0: only on request [20000] */
    uint32_t weight_limit; /* REQUEST_WEIGHT per minute [6000] */
    uint32_t orders_10s;   /* ORDERS per 10 s [50] */
    uint32_t orders_1d;    /* ORDERS per day [160000] */
    uint32_t ban_after;    /* violations in a row before a 418 ban [3] */
    uint32_t ban_s;        /* ban length in seconds [120] */
    bool dup_any;          /* see engine.h [false: Binance's rule] */
    uint32_t max_sessions; /* connections at once [64] */
    uint32_t nfaults;      /* faults in force from the start */
    xr_sim_fault faults[XR_SIM_FAULTS_MAX];
    uint32_t nconverts; /* conversions offered [none]; their assets get balances too */
    xr_sim_convert_config converts[XR_SIM_CONVERTS_MAX];
} xr_sim_venue_config;

typedef struct xr_sim_config {
    uint32_t nvenues;
    xr_sim_venue_config venues[XR_SIM_VENUES_MAX];
} xr_sim_config;

/* Built-in pairs: BTCUSDT, ETHUSDT, ETHBTC, AZNUSDT, USDCUSDT. XR_ERR_NOT_FOUND otherwise. */
xr_err xr_sim_pair_preset(const char *symbol, xr_sim_pair_config *out);

/* A pair from text: a preset name, optionally followed by overrides, or a new pair:
 *   "BTCUSDT"  "BTCUSDT:mid=65000"  "SOLUSDT:base=SOL,quote=USDT,mid=150,tick=0.01,
 *   step=0.001,min_qty=0.001,min_notional=5,level_qty=20,depth=20,gap=2"
 * (max_qty, min_price, max_price, max_notional too). Decimal values are exact. */
xr_err xr_sim_pair_parse(const char *spec, xr_sim_pair_config *out, char *why, size_t why_cap);

/* A conversion from text: "USD:USDC" (1:1, no fee, 8 places) or
 * "USD:USDC:rate=1,fee_bps=10,decimals=6" (rate an exact decimal > 0, fee_bps < 10000,
 * decimals 0..8). XR_OK or XR_ERR_INVALID_ARGUMENT with `why` (may be NULL). */
xr_err xr_sim_convert_parse(const char *spec, xr_sim_convert_config *out, char *why,
                            size_t why_cap);

/* The defaults in brackets above, venue `name`, the pairs BTCUSDT, ETHUSDT and AZNUSDT, and
 * one account: Binance's documented example key and secret (so its signing examples verify
 * against the simulator) with 1,000,000 USDT, 100 BTC, 1,000 ETH and 1,000,000 AZN. */
void xr_sim_venue_config_default(xr_sim_venue_config *v, const char *name);

/* ---- life cycle ------------------------------------------------------------------------- */

typedef struct xr_sim xr_sim;

/* Creates the venues and starts listening. `loop` NULL: the simulator creates and owns one.
 * On error nothing is left behind and `why` (may be NULL) says what failed. */
xr_err xr_sim_create(const xr_sim_config *cfg, xr_net_loop *loop, xr_sim **out, char *why,
                     size_t why_cap);
/* Closes every connection and listener and frees everything. NULL is a no-op. */
void xr_sim_destroy(xr_sim *sim);

/* Polls the loop for at most `timeout_ns` (less when something is due sooner), then runs
 * what is due. XR_ERR_IO if the loop failed. */
xr_err xr_sim_poll(xr_sim *sim, uint64_t timeout_ns);
/* Runs what is due now; returns the nanoseconds until the next deadline (UINT64_MAX: none). */
uint64_t xr_sim_run_due(xr_sim *sim);

xr_net_loop *xr_sim_loop(const xr_sim *sim);
uint32_t xr_sim_venue_count(const xr_sim *sim);
/* Index of the venue called `name`, or -1. */
int xr_sim_find_venue(const xr_sim *sim, const char *name);
const xr_sim_venue_config *xr_sim_venue_config_of(const xr_sim *sim, uint32_t venue);
/* The venue's bound port. */
uint16_t xr_sim_port(const xr_sim *sim, uint32_t venue);
/* The venue's engine, for tests and the embedded daemon (same thread only). */
xr_sim_engine *xr_sim_engine_of(const xr_sim *sim, uint32_t venue);

/* Applies a fault to a venue (as POST /sim/fault does). */
xr_err xr_sim_apply_fault(xr_sim *sim, uint32_t venue, const xr_sim_fault *f);

/* Runs `n` market steps of `pair` (-1: every pair) at once and publishes them. */
xr_err xr_sim_step(xr_sim *sim, uint32_t venue, int pair, uint32_t n);

typedef struct xr_sim_counters {
    uint64_t requests;        /* HTTP requests answered, control endpoint excluded */
    uint64_t http_429;        /* 429 answers (rate limits and injected storms) */
    uint64_t http_418;        /* 418 answers (bans) */
    uint64_t http_5xx;        /* injected 5xx answers */
    uint64_t violations;      /* requests that arrived while a Retry-After the venue had
                                 announced (429) or a ban (418) was still running */
    uint64_t orders_new;      /* orders accepted */
    uint64_t orders_rejected; /* orders refused (filters, balance, duplicates, faults) */
    uint64_t orders_canceled;
    uint64_t trades_user;        /* executions of simulator orders, taker or maker */
    uint64_t auth_failures;      /* bad or missing API key or signature */
    uint64_t timestamp_failures; /* -1021 */
    uint64_t ws_connections;     /* WebSocket upgrades accepted */
    uint64_t ws_messages;        /* WebSocket messages sent */
    uint64_t ws_disconnects;     /* WebSockets cut by the disconnect fault */
    uint64_t slow_closes;        /* connections closed because their output overflowed */
    uint64_t depth_messages;     /* depthUpdate messages sent */
    uint64_t depth_gaps;         /* depthUpdate messages dropped by the gap fault */
    uint64_t conns_refused;      /* connections reset while the venue was down */
    uint64_t steps;              /* market steps run */
    uint64_t convert_quotes;     /* Convert quotes given (with a quoteId) */
    uint64_t convert_accepts;    /* Convert quotes accepted (balances moved) */
} xr_sim_counters;

void xr_sim_get_counters(const xr_sim *sim, uint32_t venue, xr_sim_counters *out);

/* GET /sim/state as JSON into buf (NUL-terminated): counters, faults, and for each pair
 * (or only `symbol` when not NULL) its top `depth` levels in GET /api/v3/depth's form with
 * the matching lastUpdateId. Returns the length, or 0 if `cap` is too small. */
size_t xr_sim_state_json(xr_sim *sim, uint32_t venue, const char *symbol, uint32_t depth, char *buf,
                         size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_SIM_SIM_H */
