/*
 * adapters/venues/binance/auth.h - Binance request signing and server-clock tracking.
 *
 * SIGNED endpoints carry `timestamp` (server milliseconds, estimated from our clock plus a
 * tracked offset), `recvWindow`, and `signature`: the hex HMAC-SHA256, keyed with the API
 * secret, of the query string and body exactly as sent. Values are percent-encoded (RFC
 * 3986: everything but A-Z a-z 0-9 - _ . ~), which encodes non-ASCII as Binance requires.
 * HMAC comes from BearSSL.
 *
 * Clock: Binance refuses a request whose timestamp is outside recvWindow of its own clock
 * (-1021). The offset is estimated from GET /api/v3/time: server time minus the midpoint of
 * our send and receive times, keeping the sample with the smallest round trip, and it is
 * re-sampled periodically and whenever a -1021 arrives (xr_binance_clock_invalidate).
 *
 * Secrets: the signer keeps BearSSL's precomputed HMAC key state (derived from the secret,
 * so as sensitive as the secret); xr_binance_signer_wipe() clears it. Nothing here logs.
 *
 * Threading: a signer, clock or query is used by one thread at a time.
 * Ownership: all structs are caller-owned; nothing allocates.
 */
#ifndef XR_VENUES_BINANCE_AUTH_H
#define XR_VENUES_BINANCE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_BINANCE_SIGNATURE_HEX_LEN 64
/* Longest query string a request may carry (Binance's own URL limit is 8 KiB). */
#define XR_BINANCE_QUERY_MAX 2048

/* Writes the lower-case hex HMAC-SHA256 of `payload` keyed with `secret`, NUL-terminated, to
 * `out` (XR_BINANCE_SIGNATURE_HEX_LEN + 1 bytes). */
void xr_binance_sign(const void *secret, size_t secret_len, const char *payload, size_t len,
                     char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1]);

/* A signing key: the HMAC key state precomputed once from the secret. Opaque storage. */
typedef struct xr_binance_signer {
    uint64_t state[32]; /* 256 bytes, aligned for BearSSL's br_hmac_key_context */
    bool ready;
} xr_binance_signer;

/* XR_OK, or XR_ERR_INVALID_ARGUMENT for an empty secret. */
xr_err xr_binance_signer_init(xr_binance_signer *s, const void *secret, size_t secret_len);
void xr_binance_signer_sign(const xr_binance_signer *s, const char *payload, size_t len,
                            char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1]);
void xr_binance_signer_wipe(xr_binance_signer *s);

/* A query string under construction: "k1=v1&k2=v2". Any failure (too long, bad key) is
 * sticky and reported by xr_binance_query_status(). */
typedef struct xr_binance_query {
    char buf[XR_BINANCE_QUERY_MAX + 1];
    size_t len;
    xr_err status;
} xr_binance_query;

void xr_binance_query_init(xr_binance_query *q);
/* Appends key=value with the value percent-encoded. Keys must be [A-Za-z0-9]+. */
void xr_binance_query_add(xr_binance_query *q, const char *key, const char *value, size_t len);
void xr_binance_query_add_str(xr_binance_query *q, const char *key, const char *value);
void xr_binance_query_add_u64(xr_binance_query *q, const char *key, uint64_t value);
/* Appends &signature=<hex HMAC of everything so far>. */
void xr_binance_query_sign(xr_binance_query *q, const xr_binance_signer *s);
/* XR_OK, XR_ERR_NO_MEMORY (longer than XR_BINANCE_QUERY_MAX) or XR_ERR_INVALID_ARGUMENT. */
xr_err xr_binance_query_status(const xr_binance_query *q);

/* Server-clock estimate. */
typedef struct xr_binance_clock {
    int64_t offset_ms;     /* server time - local wall time */
    int64_t rtt_ms;        /* round trip of the kept sample */
    int64_t sampled_at_ms; /* local time of the kept sample */
    bool valid;
} xr_binance_clock;

void xr_binance_clock_init(xr_binance_clock *c);
/* One GET /api/v3/time exchange: sent at `sent_ms`, answered with `server_ms`, received at
 * `recv_ms` (local wall milliseconds). Kept when the clock has no sample, when its round
 * trip is no longer than the kept one's, or when the kept one is older than `max_age_ms`.
 * Returns false (nothing kept) for an impossible sample (recv before sent). */
bool xr_binance_clock_sample(xr_binance_clock *c, int64_t sent_ms, int64_t recv_ms,
                             int64_t server_ms, int64_t max_age_ms);
/* Marks the estimate unusable (after -1021): the next sample is taken whatever its RTT. */
void xr_binance_clock_invalidate(xr_binance_clock *c);
/* True when a new sample is due: no valid estimate, or the kept one is older than
 * `max_age_ms`. */
bool xr_binance_clock_needs_sample(const xr_binance_clock *c, int64_t now_ms, int64_t max_age_ms);
/* The server time for local wall time `local_ms` (local_ms itself without an estimate). */
int64_t xr_binance_clock_server_ms(const xr_binance_clock *c, int64_t local_ms);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_AUTH_H */
