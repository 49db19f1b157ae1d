/*
 * adapters/bank/session.h - the bank protocol's session rules, I/O-free (docs/protocol.md §5).
 *
 * What the gateway server (server.c) and the client library (client.c) share: the logon
 * HMAC, the server's logon verification (keys, clock window, nonce memory), the heartbeat
 * clamp, the client's sequence tracking (duplicates, gaps), and the server's table of
 * orders that may rest (for cancel-on-disconnect). Nothing here touches a socket or a
 * clock: times are passed in.
 *
 * Threading: every object is used by one thread at a time; the functions are otherwise
 *   pure. Ownership: the caller owns every struct and buffer; nothing allocates.
 * Errors: each function lists its own.
 */
#ifndef XR_ADAPTERS_BANK_SESSION_H
#define XR_ADAPTERS_BANK_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/server.h"
#include "xroute/err.h"
#include "xroute/protocol.h"

#define XR_BANK_HB_MIN_MS   100
#define XR_BANK_HB_MAX_MS   30000
#define XR_BANK_NONCES_MAX  256 /* nonces remembered per bank */
#define XR_BANK_ACK_EVERY   64  /* a client ACKs at least every this many messages */
#define XR_BANK_RESTING_MAX 1024

/* HMAC-SHA256 of frame[0, XR_PROTO_LOGON_MAC_OFFSET) with `secret`, into mac. */
void xr_bank_logon_mac(const uint8_t *secret, size_t secret_len, const uint8_t *frame,
                       uint8_t mac[XR_PROTO_MAC_LEN]);

/* Signs an encoded LOGON frame in place: writes the HMAC at XR_PROTO_LOGON_MAC_OFFSET. */
void xr_bank_logon_sign(const uint8_t *secret, size_t secret_len,
                        uint8_t frame[XR_PROTO_LOGON_LEN]);

/* The heartbeat both sides use for a LOGON that asks `wanted_ms` (0: `default_ms`), clamped
 * to [XR_BANK_HB_MIN_MS, XR_BANK_HB_MAX_MS]. */
uint32_t xr_bank_heartbeat_ms(uint32_t wanted_ms, uint32_t default_ms);

/* ---- server: logon verification ---------------------------------------------------------- */

typedef struct xr_bank_nonce {
    uint8_t nonce[XR_PROTO_NONCE_LEN];
    int64_t seen_ns; /* server wall clock when seen; 0 = empty slot */
} xr_bank_nonce;

/* One bank's nonce memory: a ring of the last XR_BANK_NONCES_MAX nonces. */
typedef struct xr_bank_nonces {
    uint32_t bank_id;
    uint32_t next;
    xr_bank_nonce slot[XR_BANK_NONCES_MAX];
} xr_bank_nonces;

typedef struct xr_bank_auth {
    const xr_bank_server_key *keys;
    uint32_t nkeys;
    int64_t skew_ns; /* allowed |timestamp - now|; nonces are remembered 2 x this */
    xr_bank_nonces banks[XR_BANK_SERVER_KEYS_MAX];
    uint32_t nbanks;
} xr_bank_auth;

/* Prepares `a` over `keys` (borrowed: must outlive `a`). */
void xr_bank_auth_init(xr_bank_auth *a, const xr_bank_server_key *keys, uint32_t nkeys,
                       int64_t skew_ns);

/* Verifies a decoded LOGON `m` whose raw frame is `frame` (XR_PROTO_LOGON_LEN bytes) at
 * server wall clock `now_ns`, in the order of docs/protocol.md §5.1: key known and active
 * and the HMAC right (else XR_ERR_UNAUTHORIZED), timestamp within the window (XR_ERR_STALE),
 * nonce not seen within 2 x the window (XR_ERR_UNAUTHORIZED; a nonce memory full of live
 * nonces: XR_ERR_RATE_LIMITED). On XR_OK the nonce is remembered. The HMAC is compared in
 * constant time. The live-session and last_seq checks are the caller's. */
xr_err xr_bank_auth_check(xr_bank_auth *a, const xr_proto_logon *m, const uint8_t *frame,
                          int64_t now_ns);

/* ---- client: sequence tracking ----------------------------------------------------------- */

typedef enum xr_bank_seq_verdict {
    XR_BANK_SEQ_NEW = 0, /* seq == last + 1: deliver it */
    XR_BANK_SEQ_DUP = 1, /* seq <= last: drop it */
    XR_BANK_SEQ_GAP = 2  /* seq > last + 1: drop it and ask for a replay after `last` */
} xr_bank_seq_verdict;

/* `*last` is the last seq received in order; advances it on NEW. */
xr_bank_seq_verdict xr_bank_seq_check(uint64_t *last, uint64_t seq);

/* ---- server: orders that may rest (cancel-on-disconnect) ---------------------------------- */

typedef struct xr_bank_resting_entry {
    uint32_t bank_id; /* 0 = free */
    uint64_t customer_id;
    uint64_t correlation_id; /* the NEW_ORDER's */
    xr_engine_key key;
} xr_bank_resting_entry;

typedef struct xr_bank_resting {
    xr_bank_resting_entry e[XR_BANK_RESTING_MAX];
    uint32_t n;
} xr_bank_resting;

/* The entry of (bank, key), or NULL. */
const xr_bank_resting_entry *xr_bank_resting_find(const xr_bank_resting *r, uint32_t bank_id,
                                                  const xr_engine_key *key);

/* Adds (bank, key) with its customer and NEW_ORDER correlation id, or updates its entry.
 * XR_OK; XR_ERR_NO_MEMORY when the table is full; XR_ERR_INVALID_ARGUMENT for bank 0. */
xr_err xr_bank_resting_add(xr_bank_resting *r, uint32_t bank_id, uint64_t customer_id,
                           uint64_t correlation_id, const xr_engine_key *key);

/* Notes a NEW_ORDER the engine accepted for routing if it can rest (LIMIT, not IOC or FOK).
 * XR_OK; XR_ERR_NO_MEMORY when the table is full (the order is then not cancelled on
 * disconnect; the server logs it). Other commands are ignored (XR_OK). */
xr_err xr_bank_resting_note_cmd(xr_bank_resting *r, const xr_engine_cmd *cmd);

/* Forgets an order once an event says it cannot rest any more: an EV_REJECT answering its
 * NEW_ORDER (by bank and correlation id), or an EXEC_REPORT with a final status
 * (FILLED, CANCELLED, FAILED, EXPIRED) for its key. */
void xr_bank_resting_note_event(xr_bank_resting *r, const xr_engine_event *ev);

/* Writes a CANCEL command for each order of `bank_id` that may rest, up to `cap`, with
 * correlation ids from `*next_corr` (incremented); returns the number written. */
size_t xr_bank_resting_cancels(const xr_bank_resting *r, uint32_t bank_id, xr_engine_cmd *out,
                               size_t cap, uint64_t *next_corr);

#endif /* XR_ADAPTERS_BANK_SESSION_H */
