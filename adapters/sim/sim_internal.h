/*
 * adapters/sim/sim_internal.h - what the simulator's server files share: sim.c (sessions,
 * output, rate limits, faults, control endpoint), binance.c (the Binance dialect), mock.c
 * (the mock dialect), spec.c (configuration text) and json.c (the response writer).
 * Not a public interface.
 */
#ifndef XR_ADAPTERS_SIM_SIM_INTERNAL_H
#define XR_ADAPTERS_SIM_SIM_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/net/http.h"
#include "adapters/net/stream.h"
#include "adapters/net/tls.h"
#include "adapters/net/ws.h"
#include "adapters/sim/engine.h"
#include "adapters/sim/market.h"
#include "adapters/sim/sim.h"

#define SIM_SUBS_MAX    32           /* streams per WebSocket connection */
#define SIM_MARKERS_MAX 256          /* delayed output chunks per connection */
#define SIM_OUT_BYTES   (1u << 20)   /* output queue per connection */
#define SIM_BODY_BYTES  (2u << 20)   /* largest response body */
#define SIM_MSG_BYTES   (512u << 10) /* largest stream message */
#define SIM_HTTP_BODY   (64u << 10)  /* largest request body */
#define SIM_PARAMS_MAX  40
#define SIM_LISTEN_KEYS 16
#define SIM_FILLS_MAX   1024

/* ---- a growing text buffer over fixed memory ------------------------------------------ */

typedef struct sim_buf {
    char *p;
    size_t len, cap;
    bool full; /* something did not fit: the content is cut */
} sim_buf;

void sb_init(sim_buf *b, char *mem, size_t cap);
void sb_raw(sim_buf *b, const char *s, size_t n);
void sb_cat(sim_buf *b, const char *s);
void sb_fmt(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12.34000000": v / 10^scale, quoted. */
void sb_qdec(sim_buf *b, xr_i128 v, unsigned scale);
/* The same without quotes. */
void sb_dec(sim_buf *b, xr_i128 v, unsigned scale);
/* A JSON string literal with escapes. */
void sb_jstr(sim_buf *b, const char *s, size_t n);
void sb_i64(sim_buf *b, int64_t v);
void sb_u64(sim_buf *b, uint64_t v);

/* ---- sessions ------------------------------------------------------------------------- */

enum {
    SIM_SUB_DEPTH = 1,
    SIM_SUB_PARTIAL,
    SIM_SUB_TRADE,
    SIM_SUB_TICKER,
    SIM_SUB_BOOK_TICKER,
    SIM_SUB_USER
};

typedef struct sim_sub {
    uint8_t kind;
    uint8_t levels;       /* SIM_SUB_PARTIAL: 5, 10, 20 */
    uint32_t target;      /* pair index, or account index for SIM_SUB_USER */
    uint32_t interval_ms; /* 0: as soon as there is something new */
    uint64_t next_id;     /* DEPTH: first update id not sent yet */
    uint64_t next_trade;  /* TRADE: first trade id not sent yet */
    uint64_t due_ns;
    uint32_t gaps_pending; /* DEPTH: messages to drop (gap fault) */
    uint64_t emitted;      /* DEPTH: messages sent or dropped */
    int64_t top[4];        /* BOOK_TICKER: what was sent last */
    char name[72];         /* the stream name as subscribed */
} sim_sub;

typedef struct sim_marker {
    uint64_t end;    /* absolute output position ... */
    uint64_t due_ns; /* ... releasable from then on */
} sim_marker;

enum { SIM_SS_FREE = 0, SIM_SS_HTTP = 1, SIM_SS_WS = 2 };

typedef struct sim_session {
    struct sim_venue *v;
    uint32_t index;
    uint8_t state;
    bool closing; /* no new output; close once what is queued is sent */
    bool aborted;
    xr_net_stream st;
    xr_tls *tls;
    xr_http_parser http;
    uint8_t *http_mem;
    xr_ws ws;
    uint8_t *ws_mem;
    /* Output queue: bytes from absolute position out_base are at out[0]; [head, tail) is
     * queued, [head, release) may go to the stream now (latency holds back the rest). */
    uint8_t *out;
    uint64_t out_base, head, tail, release;
    sim_marker markers[SIM_MARKERS_MAX];
    uint32_t mk_first, mk_count;
    /* WebSocket */
    bool combined; /* /stream: messages wrapped as {"stream":...,"data":...} */
    sim_sub subs[SIM_SUBS_MAX];
    uint32_t nsubs;
    uint64_t ws_msgs;
} sim_session;

typedef struct sim_listen_key {
    char key[65];
    uint32_t account;
    bool used;
} sim_listen_key;

typedef struct sim_faults {
    uint32_t latency_ms;
    uint32_t disconnect_after;
    uint32_t gap_every;
    uint32_t n5xx;
    int status5xx;
    bool after_exec;
    uint32_t n429;
    uint32_t retry429_s;
    uint32_t nreject;
    int reject_code;
    char reject_msg[128];
    uint64_t down_until_ns;
    uint64_t stale_until_ns;
    bool stale_forever;
    int64_t clock_offset_ms;
} sim_faults;

/* One Convert quote and, once accepted, its order (ring of SIM_CONV_MAX, oldest reused). */
#define SIM_CONV_MAX 256u
typedef struct sim_conv {
    uint64_t quote_id; /* 0: free slot */
    uint64_t order_id; /* 0: not accepted */
    uint32_t account;
    uint8_t route;            /* index into cfg.converts */
    uint8_t status;           /* 0 quoted, 1 SUCCESS, 2 FAIL */
    int64_t from_amt, to_amt; /* 10^-8 units */
    int64_t ratio, inverse;   /* 10^-8 units */
    int64_t valid_until_ms, create_ms;
} sim_conv;

typedef struct sim_venue {
    struct xr_sim *sim;
    uint32_t index;
    xr_sim_venue_config cfg;
    xr_net_listener *listener;
    uint16_t port;
    bool tls;
    xr_tls_identity identity;
    xr_sim_engine *engine;
    sim_session *sessions;
    uint32_t nsessions;
    sim_listen_key keys[SIM_LISTEN_KEYS];
    xr_sim_rng key_rng;
    /* rate limits: fixed windows on the venue's clock, as Binance counts */
    int64_t w_window;
    uint32_t w_used;
    int64_t o10_window, o1d_window;
    uint32_t o10, o1d;
    uint64_t retry_until_ns, ban_until_ns;
    uint32_t strikes;
    sim_faults f;
    xr_sim_counters c;
    uint64_t next_step_ns;
    const char *cancel_client_id; /* the running cancel's new client id, for its report */
    sim_conv conv[SIM_CONV_MAX];  /* Convert quotes and orders */
    uint64_t conv_seq;
} sim_venue;

struct xr_sim {
    xr_net_loop *loop;
    bool own_loop;
    sim_venue *venues[XR_SIM_VENUES_MAX];
    uint32_t nvenues;
    char *body;           /* response bodies */
    char *msg;            /* stream messages */
    char *wrap;           /* combined-stream envelopes */
    xr_sim_change *merge; /* depth merging scratch */
    xr_sim_fill *fills;
};

/* ---- requests ------------------------------------------------------------------------- */

typedef struct sim_param {
    const char *name; /* NUL-terminated, decoded, in the request's pbuf */
    const char *value;
    size_t value_len;
} sim_param;

typedef struct sim_req {
    sim_session *s;
    sim_venue *v;
    const xr_http_message *m;
    char path[256];    /* decoded path, without the query */
    const char *query; /* raw query string (after '?'), not NUL-terminated */
    size_t query_len;
    const char *body; /* raw body */
    size_t body_len;
    sim_param params[SIM_PARAMS_MAX];
    size_t nparams;
    bool params_bad; /* malformed encoding or too many parameters */
    char pbuf[8192];
    size_t pbuf_len;
    int64_t now_ms;         /* the venue's clock */
    uint64_t now_ns;        /* monotonic */
    bool weight_counted;    /* send X-MBX-USED-WEIGHT-1M */
    bool order_counted;     /* send X-MBX-ORDER-COUNT-* */
    int force_status;       /* 5xx fault after execution: replace the answer */
    uint32_t retry_after_s; /* send Retry-After */
    bool replied;
} sim_req;

/* The venue's clock in milliseconds (host wall clock plus the clock fault). */
int64_t sim_now_ms(const sim_venue *v);
/* The request's parameter `name` (decoded, NUL-terminated), or NULL. */
const char *sim_param_get(const sim_req *r, const char *name, size_t *len);
/* Answers the request: JSON body, Binance's headers. */
void sim_reply(sim_req *r, int status, const char *body, size_t len);
void sim_reply_str(sim_req *r, int status, const char *body);
/* Answers {"code":code,"msg":"msg"}. */
void sim_reply_error(sim_req *r, int status, int code, const char *msg);
/* Rate limits and faults before a Binance or mock request runs: false when already answered
 * (429, 418, 5xx). `order` counts against the ORDERS limits. */
bool sim_prologue(sim_req *r, uint32_t weight, bool order);
/* Counts a new order in the ORDERS windows (after it was accepted). */
void sim_count_order(sim_req *r);

/* Queues one text message on a WebSocket session (wrapping it for combined streams under
 * `stream` when not NULL). */
void sim_ws_send(sim_session *s, const char *stream, const char *data, size_t len);
/* Queues raw bytes on a session, subject to the latency fault. */
void sim_out_push(sim_session *s, const void *data, size_t len);
/* Closes a session once its queued output is sent. */
void sim_session_close(sim_session *s);

/* ---- dialects ------------------------------------------------------------------------- */

/* Binance REST: answers every /api/v3/ request (404 for unknown ones). */
void sim_binance_http(sim_req *r);
/* A WebSocket upgrade on /ws/... or /stream: sets the session's subscriptions; false when
 * it answered an error instead. */
bool sim_binance_ws_open(sim_session *s, sim_req *r);
/* A text message from a Binance stream client (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS). */
void sim_binance_ws_text(sim_session *s, const uint8_t *data, size_t len);
/* Sends what is due on the session's streams. */
void sim_binance_emit(sim_session *s, uint64_t now_ns);
/* The earliest time one of the session's streams wants to send, or UINT64_MAX. */
uint64_t sim_binance_next_due(const sim_session *s);
/* The engine's report hook: executionReport to the account's user streams. */
void sim_binance_exec(void *ctx, const xr_sim_exec_report *rep);
/* outboundAccountPosition for every account whose balances changed. */
void sim_binance_balances(sim_venue *v);
/* Writes a depth snapshot {"lastUpdateId","bids","asks"} of the top `limit` levels. */
void sim_binance_depth_json(sim_buf *b, const xr_sim_market *m, uint32_t limit);

/* The mock dialect: answers GET /ticker and POST /order; false for other paths. */
bool sim_mock_http(sim_req *r);

/* Decimal digits of a 10^-8 value's significant fraction (0.0001 -> 4). */
unsigned sim_decimals_of(int64_t v);

#endif /* XR_ADAPTERS_SIM_SIM_INTERNAL_H */
