/*
 * adapters/bank/server.h - the bank gateway: the bank protocol's server side, hosting an
 * engine.
 *
 * A server listens on one TCP address (optionally TLS, BearSSL), runs one session per bank
 * connection (docs/protocol.md §5: logon with HMAC, heartbeats, seq/ack, replay, recovery
 * requests, logout, cancel-on-disconnect, BANK_CONNECTION), turns request frames into
 * engine commands (the bank id forced to the session's) and engine events into sequenced
 * response frames. Every response is stored durably in the outbox (an LMDB environment of
 * its own in cfg.outbox_dir) before it is sent: one write transaction and one fsync per
 * server iteration batch every response of that iteration (group commit). Responses for a
 * bank that is not connected are stored and replayed at its next logon. Once per second the
 * server deletes, in a bounded batch, stored responses a bank has acknowledged that are past
 * the retention period (outbox_retention_s); the cancel-on-disconnect table of resting orders
 * is kept in the outbox too (loaded by xr_bank_server_open), and "ack required" is per order
 * (NEW_ORDER's option; the LOGON flag is the session default): docs/protocol.md §5.3, §5.6,
 * §5.7.
 *
 *   xr_bank_server_config cfg;
 *   xr_bank_server_config_default(&cfg);    then outbox_dir, banks[], listen address
 *   xr_bank_server *s;
 *   xr_bank_server_open(&cfg, engine, &s);   the engine is the caller's (xr_engine_open)
 *   while (running) xr_bank_server_run_once(s, 10 * 1000 * 1000);
 *   xr_bank_server_drain(s, 5000000000);     on SIGTERM
 *   xr_bank_server_close(s);                 then xr_engine_close(engine)
 *
 * The server drives the engine: xr_bank_server_run_once calls xr_engine_poll (the engine
 * must not be polled by anyone else while a server hosts it; commands may still be
 * submitted by the host between iterations, but their events are routed to the bank
 * sessions like any other, by the event's bank_id).
 *
 * Threading: a server and its engine are single-threaded: every function here is called
 *   from the one thread that runs the loop (io_uring single issuer).
 * Ownership: xr_bank_server_open copies the configuration (secrets included; they are wiped
 *   by xr_bank_server_close and never logged). The engine is borrowed: it must outlive the
 *   server. Every buffer, session slot and the outbox environment are allocated by
 *   xr_bank_server_open; the server allocates nothing afterwards (LMDB may, for the
 *   outbox's dirty pages in a commit, which it reuses once warm).
 * Errors:
 *   XR_OK
 *   XR_ERR_INVALID_ARGUMENT  NULL pointer; a configuration field outside its domain (bank id
 *                            0 or >= 2^24, empty or too long secret, duplicate
 *                            (bank_id, key_id), no bank, empty outbox_dir, bad address)
 *   XR_ERR_CONFIG            TLS certificate or key unreadable or invalid
 *   XR_ERR_IO                listen failed (address in use), or the outbox could not be
 *                            opened / written / synced
 *   XR_ERR_CORRUPT           the outbox's stored data failed a check
 *   XR_ERR_NO_MEMORY         allocation failed
 *   XR_ERR_STORAGE_FULL      the outbox's map is full (run_once: responses stay queued
 *                            and are retried; raise outbox_map_bytes)
 *   XR_ERR_INTERNAL          the engine failed (xr_engine_poll returned it)
 */
#ifndef XR_ADAPTERS_BANK_SERVER_H
#define XR_ADAPTERS_BANK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/engine.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BANK_SERVER_KEYS_MAX 32  /* (bank, key) entries */
#define XR_BANK_SECRET_MAX      64  /* bytes of one API secret */
#define XR_BANK_SERVER_PATH_MAX 256 /* paths, NUL included */

/* One API key of one bank. A bank may have several keys (several entries with the same
 * bank_id and different key_id); a session is per bank, whichever key logged it on. */
typedef struct xr_bank_server_key {
    uint32_t bank_id; /* non-zero, < 2^24; should be a bank of the engine's configuration */
    uint32_t key_id;
    uint8_t secret[XR_BANK_SECRET_MAX]; /* plaintext in memory */
    uint32_t secret_len;                /* 1..XR_BANK_SECRET_MAX */
    uint8_t active;                     /* 0: logons with this key are UNAUTHORIZED [1] */
} xr_bank_server_key;

typedef struct xr_bank_server_config {
    char listen_ip[64];   /* numeric IPv4 or IPv6 ["127.0.0.1"] */
    uint16_t listen_port; /* 0 = ephemeral: see xr_bank_server_port [7400] */
    /* TLS: off when tls_cert_path is "". PEM chain (leaf first) and private key (the same
     * file is fine). */
    char tls_cert_path[XR_BANK_SERVER_PATH_MAX];
    char tls_key_path[XR_BANK_SERVER_PATH_MAX];
    char outbox_dir[XR_BANK_SERVER_PATH_MAX]; /* the outbox's LMDB environment (created) */
    uint64_t outbox_map_bytes;                /* LMDB map size [1 GiB] */
    uint32_t max_sessions;                    /* concurrent connections, logged on or not [64] */
    uint32_t heartbeat_default_ms;            /* when a LOGON asks 0 [1000] */
    uint32_t logon_timeout_ms;                /* a connection must log on within this [5000] */
    uint32_t clock_skew_ms;   /* |LOGON timestamp - server clock| allowed [30000]; the
                                 nonce memory is twice this */
    uint32_t ack_deadline_ms; /* BANK_CONNECTION: a response marked "ack required"
                                 (docs/protocol.md §5.7) not ACKed within this ends the
                                 session [5000]; a NEW_ORDER may set its own */
    /* Outbox retention (docs/protocol.md §5.3, docs/operations.md): once per second the
     * server deletes, per bank, up to outbox_compact_batch stored responses that the bank has
     * processed (ACKed, or covered by a LOGON's last_seq, in this server's life), that were
     * stored more than outbox_retention_s ago and are not among the bank's last
     * outbox_keep_last. 0 batch: nothing is ever deleted. */
    uint32_t outbox_retention_s;   /* [604800: 7 days] */
    uint32_t outbox_keep_last;     /* [0] */
    uint32_t outbox_compact_batch; /* deletions per bank per step [1000] */
    uint32_t nkeys;
    xr_bank_server_key keys[XR_BANK_SERVER_KEYS_MAX];
    /* Optional: called once per iteration of xr_bank_server_run_once (and so of the drain),
     * in its thread, after the sockets and before the engine is polled; for a host that has
     * other work on this thread (in-process simulated venues: xr_sim_poll). NULL: none. */
    void (*iteration_hook)(void *arg);
    void *iteration_hook_arg;
} xr_bank_server_config;

typedef struct xr_bank_server_stats {
    uint64_t connections;          /* accepted */
    uint64_t logons;               /* LOGON_ACK sent */
    uint64_t logons_refused;       /* SESSION_REJECT on a LOGON */
    uint64_t frames_in;            /* well-formed frames received */
    uint64_t malformed;            /* SESSION_REJECT MALFORMED sent */
    uint64_t requests;             /* submitted to the engine */
    uint64_t responses;            /* sequenced and stored in the outbox */
    uint64_t replayed;             /* responses resent for REPLAY_REQUESTs */
    uint64_t commits;              /* outbox write transactions (each one fsync) */
    uint64_t dead_peers;           /* sessions ended by heartbeat timeout */
    uint64_t cancel_on_disconnect; /* sessions ended uncleanly with the flag */
    uint64_t bank_connection;      /* sessions ended with LOGOUT(BANK_CONNECTION) */
    uint64_t in_engine;            /* requests submitted and not answered yet (now) */
    uint64_t compacted;            /* stored responses deleted by retention */
} xr_bank_server_stats;

typedef struct xr_bank_server xr_bank_server;

/* Fills `cfg` with the defaults in brackets; no key, outbox_dir "". */
void xr_bank_server_config_default(xr_bank_server_config *cfg);

/* Opens (creating) the outbox in cfg->outbox_dir, reads every bank's last seq from it,
 * loads the TLS identity if configured, creates the io_uring loop and listens. `engine` is
 * borrowed (see the top). On XR_OK `*out` is the caller's until xr_bank_server_close.
 * Errors: INVALID_ARGUMENT, CONFIG, IO, CORRUPT, NO_MEMORY; nothing is left open on error. */
xr_err xr_bank_server_open(const xr_bank_server_config *cfg, xr_engine *engine,
                           xr_bank_server **out);

/* The port actually listened on (after listen_port 0). */
uint16_t xr_bank_server_port(const xr_bank_server *s);

/* One iteration: serves the sockets (waiting at most timeout_ns when there is nothing to
 * do, and never more than 1 ms, since the engine's venue I/O is polled only between waits;
 * not at all right after an iteration that moved work; 0 never blocks), feeds received requests to
 * the engine (XR_ERR_AGAIN from xr_engine_submit keeps the request and pauses that connection:
 * back-pressure), polls the engine, sequences its events into the outbox in one durable commit,
 * then sends them to the sessions; runs heartbeats, dead-peer and ack-deadline checks. Returns
 * XR_OK; XR_ERR_IO / XR_ERR_STORAGE_FULL (the outbox commit failed: nothing of the batch was sent,
 * the events stay queued and the next iteration retries); XR_ERR_INTERNAL (engine). */
xr_err xr_bank_server_run_once(xr_bank_server *s, uint64_t timeout_ns);

/* Graceful stop: closes the listener (no new connections), then iterates for up to
 * timeout_ns until every request already received has been answered by the engine and
 * every stored response has been written to its connected session; then sends
 * LOGOUT(OK) to every session and closes them (a drain is not a disconnect: no
 * cancel-on-disconnect). Returns XR_OK, or XR_ERR_TIMEOUT if work remained (it is not
 * lost: orders in flight are the engine's, stored responses are replayed at the next
 * logon). */
xr_err xr_bank_server_drain(xr_bank_server *s, uint64_t timeout_ns);

/* Closes every connection without a word, the loop and the outbox, wipes the secrets and
 * frees the server. The engine is left open. NULL is a no-op. */
void xr_bank_server_close(xr_bank_server *s);

/* Counters since open. */
void xr_bank_server_stats_get(const xr_bank_server *s, xr_bank_server_stats *out);

/* The next seq the bank's next new response will carry (1 for a bank that never got one);
 * 0 for a bank with no key in the configuration. */
uint64_t xr_bank_server_next_seq(const xr_bank_server *s, uint32_t bank_id);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_BANK_SERVER_H */
