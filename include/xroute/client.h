/*
 * xroute/client.h - the bank's C client of xrouted: connect, log on, typed requests,
 * sequenced responses with automatic reconnect and replay.
 *
 * A bank links this library to talk to an xrouted gateway over the bank protocol
 * (docs/protocol.md) on TCP, optionally TLS. Requests and responses are the structs of
 * xroute/engine.h: a request is an xr_engine_cmd, its answer an xr_engine_event, exactly as
 * for a bank that embeds the engine.
 *
 *   xr_client_config cfg;
 *   xr_client_config_default(&cfg);     then host, port, bank_id, key_id, secret
 *   xr_client *c;
 *   xr_err e = xr_client_connect(&cfg, &c);          TCP (+ TLS) + LOGON, blocking
 *   xr_engine_event ev;
 *   e = xr_client_fund(c, 900001, &key, "AZN", amount, &ev);   blocking: one answer
 *   ...
 *   xr_client_close(c);                              LOGOUT(OK), closes, frees
 *
 * Two forms of every request.
 *   Blocking: xr_client_call() and the typed wrappers (xr_client_fund, ...) send one request
 *     and wait for its answer (matched by correlation id) up to cfg.call_timeout_ms. Other
 *     responses that arrive meanwhile (e.g. a report of an earlier non-blocking order) are
 *     kept and delivered by xr_client_poll().
 *   Non-blocking: xr_client_submit() sends a request and returns at once with its
 *     correlation id; xr_client_poll() delivers every response (answers and unsolicited
 *     ones) in seq order. xr_client_fd() is the socket for the caller's own poll(2) loop:
 *     call xr_client_poll(c, ..., 0) when it is readable, and at least every heartbeat
 *     interval (heartbeats, acks and reconnects happen inside xr_client_poll and inside the
 *     blocking calls, never in the background: the library starts no thread).
 *
 * Sequencing, acknowledgement and replay (docs/protocol.md §5.3, §5.4).
 *   Every response carries a per-bank seq (1, 2, 3, ... with no gaps, across sessions and
 *   server restarts). The library delivers each seq exactly once: duplicates (seq at or
 *   below the last one received) are dropped, a gap triggers a REPLAY_REQUEST. A response
 *   counts as processed once it has been returned to the caller (by xr_client_poll or as
 *   the answer of a blocking call) and every smaller seq has been too; the library then
 *   ACKs it (cumulatively, at least every heartbeat interval and every 64 messages, and at
 *   once when it is an execution report marked "acknowledgement required") and, if
 *   cfg.state_path is set, records it in that file (write to a temporary file, fsync,
 *   rename: a crash leaves the old or the new value, never a torn one). After a lost
 *   connection the library reconnects (cfg.reconnect) and logs on with last_seq = the last
 *   seq received, so the server replays exactly what is missing. After a process restart
 *   it logs on with the seq read from cfg.state_path (or cfg.last_seq when there is no
 *   file), so what was received but not processed before the crash is replayed. If that seq
 *   is below the server's retention horizon (responses acknowledged long ago and deleted,
 *   docs/protocol.md §5.3), the replay starts at the horizon and the library continues from
 *   there (xr_client_last_error_text names the missing range).
 *
 * Refusals below the engine. A request the server refuses before it reaches the engine
 *   (SESSION_REJECT: e.g. AGAIN while the server drains) is answered by an EV_REJECT event
 *   with the request's correlation id and the refusal's code, delivered like any response
 *   but with seq 0: it is not sequenced, not stored by the server and not replayed.
 *
 * Resending requests. Requests are not sequenced: one sent just before a connection was
 *   lost may or may not have reached the server. If it did, its answer is replayed after
 *   the reconnect; if not, no answer ever comes and the blocking call ends with
 *   XR_ERR_TIMEOUT. Mutating requests (fund, defund, new order, convert) carry an
 *   idempotency key: send the same request with the same key again and the answer is the
 *   original result (replayed = 1) with nothing executed twice. The library never resends
 *   a request by itself.
 *
 * Threading. An xr_client is single-threaded: every function taking one must be called
 *   from one thread at a time. Different clients are independent. No function blocks longer
 *   than its documented timeout. SIGPIPE is never raised (sends use MSG_NOSIGNAL).
 *
 * Ownership. xr_client_connect copies the configuration (the secret included; it is wiped
 *   by xr_client_close). Commands are copied when sent; events are written into the
 *   caller's structs. All memory is allocated by xr_client_connect (about 1 MiB: the
 *   receive queue of XR_CLIENT_QUEUE_MAX events); afterwards only a reconnect allocates
 *   (name resolution, getaddrinfo), never a request or a response.
 *
 * Errors (every function returning xr_err):
 *   XR_OK
 *   XR_ERR_INVALID_ARGUMENT  NULL pointer, a configuration field outside its domain, a
 *                            command of an unknown kind
 *   XR_ERR_UNAUTHORIZED      the server refused the logon (unknown bank or key, bad HMAC,
 *                            reused nonce), or refused a request as not this bank's
 *   XR_ERR_STALE             logon refused: the clocks differ by more than 30 s
 *   XR_ERR_INVALID_STATE     logon refused: this bank already has a live session; or the
 *                            client is closed / gave up reconnecting
 *   XR_ERR_IO                connect, send or receive failed (the reason is in errno-free
 *                            form: see xr_client_last_error_text)
 *   XR_ERR_TIMEOUT           no answer (or no logon ack) within the timeout
 *   XR_ERR_MALFORMED         the server sent bytes that are not a valid frame, or refused
 *                            our frame as malformed (a library bug)
 *   XR_ERR_NO_MEMORY         allocation failed (connect), or the receive queue is full
 *                            (submit: poll first)
 *   XR_ERR_CONFIG            TLS files unreadable or invalid, or the state file does not
 *                            hold a number
 *   XR_ERR_BANK_CONNECTION   the server ended the session because an acknowledgement was
 *                            not sent in time (docs/protocol.md §5.7); reconnect follows
 *   any other xr_err         blocking calls: the engine's reject code (EV_REJECT.err; the
 *                            event is filled in too) - see engine.h "Reject codes"
 */
#ifndef XROUTE_CLIENT_H
#define XROUTE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/engine.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_CLIENT_SECRET_MAX 64  /* bytes of a bank API secret */
#define XR_CLIENT_PATH_MAX   256 /* file paths and host names, NUL included */
#define XR_CLIENT_QUEUE_MAX  512 /* responses received and not yet returned */

typedef struct xr_client xr_client;

typedef struct xr_client_config {
    char host[XR_CLIENT_PATH_MAX]; /* numeric address or a name (resolved at connect,
                                      blocking) ["127.0.0.1"] */
    uint16_t port;                 /* [7400] */
    uint32_t bank_id;              /* non-zero, < 2^24; every request is sent for it */
    uint32_t key_id;               /* which of the bank's API keys */
    uint8_t secret[XR_CLIENT_SECRET_MAX];
    uint32_t secret_len; /* 1..XR_CLIENT_SECRET_MAX */
    /* TLS: off when tls_ca_path is "". The server's chain must lead to a certificate in
     * tls_ca_path (a CA, or the server's own certificate to pin it) and carry
     * tls_server_name ("" = host) as a DNS name. */
    char tls_ca_path[XR_CLIENT_PATH_MAX];
    char tls_server_name[XR_CLIENT_PATH_MAX];
    uint32_t heartbeat_ms;        /* wished interval, 0 = the server's (clamped 100..30000) */
    uint8_t cancel_on_disconnect; /* 1: the server cancels resting orders when the session
                                     ends uncleanly (docs/protocol.md §5.6) */
    uint8_t reconnect;            /* 1: reconnect and log on again after a lost connection
                                     [1] */
    uint32_t reconnect_max_ms;    /* back-off between attempts, 50 ms doubling up to this
                                     [2000] */
    uint32_t connect_timeout_ms;  /* TCP + TLS + LOGON_ACK [5000] */
    uint32_t call_timeout_ms;     /* blocking calls [10000] */
    char state_path[XR_CLIENT_PATH_MAX]; /* "" = none: the last processed seq lives in memory
                                            only; else read at connect and written as above */
    uint64_t last_seq;    /* last processed seq when state_path is "" or the file does not
                             exist yet [0: replay everything the server still has] */
    uint8_t ack_required; /* 1: the server requires an ACK of every execution report within
                             its deadline, else ends the session with BANK_CONNECTION
                             (docs/protocol.md §5.7: the session-wide default of the
                             per-order option, xr_client_order_opts); the library then ACKs
                             every response as soon as it is processed [0] */
} xr_client_config;

/* Per-order options of a NEW_ORDER (docs/protocol.md §4.3, §5.7). */
typedef struct xr_client_order_opts {
    uint8_t ack_required;     /* 1: the server requires an ACK of each of this order's
                                 execution reports within ack_deadline_ms, else it ends the
                                 session with LOGOUT(BANK_CONNECTION) and replays the report at
                                 the next logon; the library ACKs such a report as soon as it
                                 has been returned to the caller (by the blocking call or
                                 xr_client_poll) [0] */
    uint16_t ack_deadline_ms; /* 0: the server's default (5000 ms unless configured); must be
                                 0 when ack_required is 0 */
} xr_client_order_opts;

/* Fills `cfg` with the defaults in brackets; no credentials. */
void xr_client_config_default(xr_client_config *cfg);

/* Connects, runs the TLS handshake if configured, sends LOGON (fresh random nonce, the
 * current wall clock, last_seq as above) and waits for LOGON_ACK, up to connect_timeout_ms.
 * Replayed responses that follow the ack are received by the next calls. On XR_OK `*out` is
 * the caller's until xr_client_close. Errors: INVALID_ARGUMENT, CONFIG, NO_MEMORY, IO,
 * TIMEOUT, UNAUTHORIZED, STALE, INVALID_STATE (as above); nothing is left open on error. */
xr_err xr_client_connect(const xr_client_config *cfg, xr_client **out);

/* Sends LOGOUT(OK) (a clean end: no cancel-on-disconnect), waits briefly for the server's
 * LOGOUT, ACKs what was processed, closes the socket and frees everything. Responses not
 * yet returned by xr_client_poll are dropped (they are replayed to the next session since
 * they were never processed). NULL is a no-op. */
void xr_client_close(xr_client *c);

/* ---- non-blocking form ------------------------------------------------------------------- */

/* The socket to wait on (POLLIN) in the caller's own loop, -1 while disconnected. It
 * changes when the library reconnects: read it again after every call. */
int xr_client_fd(const xr_client *c);

/* Sends `cmd` as one request frame. The command's bank_id is ignored (the session's bank
 * is used). If cmd->correlation_id is 0 the library assigns the next one of its own
 * (increasing; the first is the wall clock in microseconds at connect, so ids do not repeat
 * across restarts of the bank's process and a replayed old answer is never taken for the
 * answer of a new request). `*correlation_id` (may be NULL)
 * receives the id used. Returns XR_OK once the frame is written to the socket (not that
 * the server has it); INVALID_ARGUMENT (unknown kind, a field the wire cannot carry);
 * IO / INVALID_STATE when not connected (nothing was sent: send again after a reconnect);
 * NO_MEMORY when the receive queue is full (poll first: the server cannot be read while
 * the caller does not consume). */
xr_err xr_client_submit(xr_client *c, const xr_engine_cmd *cmd, uint64_t *correlation_id);

/* As xr_client_submit, with per-order options (NULL: none). INVALID_ARGUMENT also when opts
 * asks ack_required for a command other than NEW_ORDER, ack_required > 1, or a deadline
 * without ack_required. */
xr_err xr_client_submit_ex(xr_client *c, const xr_engine_cmd *cmd, const xr_client_order_opts *opts,
                           uint64_t *correlation_id);

/* Services the connection for up to `timeout_ms` (0: only what is ready, never blocks;
 * -1: until at least one response is ready): reads frames, answers heartbeats, sends ACKs
 * and heartbeats, detects a dead server (nothing for 3 heartbeat intervals), reconnects.
 * Then copies up to `cap` responses, in seq order, into `events` (and their seqs into
 * `seqs`, which may be NULL) and sets `*n`. Each seq is returned exactly once over the
 * client's life, and after a restart with state_path, once more at most for those not yet
 * recorded as processed. Returns XR_OK (also with *n == 0 after a timeout); IO /
 * INVALID_STATE when disconnected and reconnect is off (or failed; it is retried at the
 * next call); UNAUTHORIZED / STALE when a reconnect's logon was refused. */
xr_err xr_client_poll(xr_client *c, xr_engine_event *events, uint64_t *seqs, size_t cap, size_t *n,
                      int timeout_ms);

/* Asks the server to resend the responses with seq > after_seq (REPLAY_REQUEST); the ones
 * already received are dropped as duplicates. For recovery tools; the library requests
 * gaps by itself. IO when not connected. */
xr_err xr_client_replay(xr_client *c, uint64_t after_seq);

/* ---- blocking form ----------------------------------------------------------------------- */

/* Sends `cmd` (as xr_client_submit) and waits for its answer up to call_timeout_ms,
 * reconnecting if needed (the answer is then awaited among the replayed responses). On
 * return `*ev` holds the answer if one came. Returns XR_OK when the answer is the expected
 * kind for the command; the reject code when it is EV_REJECT (`*ev` holds it); TIMEOUT when
 * none came (see "Resending requests"); the transport errors above. */
xr_err xr_client_call(xr_client *c, const xr_engine_cmd *cmd, xr_engine_event *ev);

/* Typed wrappers over xr_client_call. customer_id is the bank's own id of its customer.
 * Strings are copied; `asset` "AZN", `pair` "BTC/USDT". An argument that does not fit
 * the wire (string too long, enum out of range) is INVALID_ARGUMENT and nothing is sent. */
xr_err xr_client_customer_upsert(xr_client *c, uint64_t customer_id, uint8_t kyc_tier,
                                 xr_engine_event *ev);
xr_err xr_client_fund(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                      const char *asset, xr_amount amount, xr_engine_event *ev);
xr_err xr_client_defund(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                        const char *asset, xr_amount amount, xr_engine_event *ev);
xr_err xr_client_quote(xr_client *c, uint64_t customer_id, const xr_engine_quote_cmd *q,
                       xr_engine_event *ev);
xr_err xr_client_new_order(xr_client *c, uint64_t customer_id, const xr_engine_order_cmd *o,
                           xr_engine_event *ev);
/* xr_client_new_order with per-order options (xr_client_order_opts; NULL: none). The answer
 * (an EV_EXEC_REPORT marked "ack required") is ACKed before this returns. */
xr_err xr_client_new_order_ex(xr_client *c, uint64_t customer_id, const xr_engine_order_cmd *o,
                              const xr_client_order_opts *opts, xr_engine_event *ev);
xr_err xr_client_cancel(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                        xr_engine_event *ev);
xr_err xr_client_order_status(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                              xr_engine_event *ev);
xr_err xr_client_list_orders(xr_client *c, uint64_t customer_id,
                             const xr_engine_list_orders_cmd *filter, xr_engine_event *ev);
xr_err xr_client_balances(xr_client *c, uint64_t customer_id, xr_engine_event *ev);
xr_err xr_client_convert(xr_client *c, uint64_t customer_id, const xr_engine_convert_cmd *cv,
                         xr_engine_event *ev);
xr_err xr_client_book(xr_client *c, const char *pair, uint32_t depth, xr_engine_event *ev);
xr_err xr_client_ticker(xr_client *c, const char *pair, xr_engine_event *ev);
xr_err xr_client_ohlc(xr_client *c, const char *pair, uint32_t interval_s, int64_t from_ns,
                      int64_t to_ns, xr_engine_event *ev);
xr_err xr_client_pairs(xr_client *c, xr_engine_event *ev);

/* ---- state ------------------------------------------------------------------------------- */

/* The last processed seq (see above). */
uint64_t xr_client_last_seq(const xr_client *c);

/* Connection state: 1 logged on, 0 not. */
int xr_client_is_connected(const xr_client *c);

/* A short human text for the last failure (connect error, SESSION_REJECT, LOGOUT reason),
 * "" if none. Valid until the next call on `c`. */
const char *xr_client_last_error_text(const xr_client *c);

/* For tests and fault drills: drops the connection without LOGOUT, as a network failure
 * would (the server then applies cancel-on-disconnect). The next xr_client_poll or call
 * reconnects if cfg.reconnect is 1. */
void xr_client_drop_connection(xr_client *c);

#ifdef __cplusplus
}
#endif

#endif /* XROUTE_CLIENT_H */
