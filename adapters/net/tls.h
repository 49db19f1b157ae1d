/*
 * adapters/net/tls.h - TLS 1.2 client and server on BearSSL's I/O-free engine.
 *
 * An xr_tls wraps one BearSSL engine (br_ssl_client_context or br_ssl_server_context) and
 * its record buffer. It never reads or writes a socket: the caller moves bytes.
 *
 *     network bytes in   -> xr_tls_feed()                 (ciphertext from the peer)
 *     network bytes out  <- xr_tls_output()/_ack()        (ciphertext for the peer)
 *     application in     -> xr_tls_write()                (plaintext to protect)
 *     application out    <- xr_tls_read()/_ack()          (plaintext received)
 *
 * After any of these calls, drain xr_tls_output() before waiting for the network: the
 * engine may have produced handshake messages, alerts or records. adapters/net/stream.h
 * does this against a loop connection; tests drive two engines through plain buffers.
 *
 * Verification (client): the server's chain must lead to one of the trust anchors and its
 * certificate must carry `server_name` as a dNSName (BearSSL's X.509 "minimal" engine:
 * RSA and EC keys, SHA-2 signatures, validity dates against the system clock). BearSSL does
 * not match IP-address SANs: connect by IP, but verify a DNS name. Only TLS 1.2 is offered
 * (BearSSL 0.6 has no TLS 1.3). Servers do not ask for client certificates.
 *
 * Keys and certificates come from PEM files: "CERTIFICATE" objects; "RSA PRIVATE KEY"
 * (PKCS#1), "EC PRIVATE KEY" (SEC1) or unencrypted "PRIVATE KEY" (PKCS#8). Loading reads
 * files and allocates: do it at start-up, not on a stage thread.
 *
 * Threading: an xr_tls is used by one thread at a time. Trust stores and identities are
 *   read-only after loading and may be shared by any number of xr_tls on any threads.
 * Ownership: the caller owns every struct here (an xr_tls is about 40 KiB: allocate it in
 *   a pool, not on a small stack). An xr_tls keeps pointers to the trust store or identity
 *   it was initialised with: they must outlive it. Buffers returned by xr_tls_output() and
 *   xr_tls_read() are valid until the next call on that xr_tls.
 * Errors: XR_ERR_INVALID_ARGUMENT, XR_ERR_NO_MEMORY, XR_ERR_IO (file unreadable),
 *   XR_ERR_MALFORMED (bad PEM/DER, or a TLS protocol failure), XR_ERR_UNAUTHORIZED (the
 *   peer's certificate was rejected, by us or by the peer), XR_ERR_AGAIN (no room now; drain
 *   the engine and retry), XR_ERR_INVALID_STATE (the engine is closed).
 */
#ifndef XR_ADAPTERS_NET_TLS_H
#define XR_ADAPTERS_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BearSSL's headers test BR_DOXYGEN_IGNORE with #if; keep -Wundef for our own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Trust anchors (client side) ------------------------------------------------------- */

typedef struct xr_tls_trust {
    br_x509_trust_anchor *anchors; /* owned; freed by xr_tls_trust_free */
    size_t count;
} xr_tls_trust;

/* Zero-initialise an xr_tls_trust (or `= {0}`) before adding to it. */
void xr_tls_trust_init(xr_tls_trust *trust);

/* Adds every CERTIFICATE in the PEM file `path` (CA certificates, or a server's own
 * certificate to pin it). May be called several times. XR_ERR_IO if unreadable,
 * XR_ERR_MALFORMED if no certificate could be decoded; nothing is added on error. */
xr_err xr_tls_trust_add_file(xr_tls_trust *trust, const char *path);

/* The same from PEM text in memory (copied). */
xr_err xr_tls_trust_add_pem(xr_tls_trust *trust, const void *pem, size_t len);

void xr_tls_trust_free(xr_tls_trust *trust);

/* ---- Certificate chain and private key (server side) ----------------------------------- */

typedef struct xr_tls_identity {
    br_x509_certificate *chain; /* leaf first; owned */
    size_t chain_len;
    int key_type;             /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
    unsigned issuer_key_type; /* key type of the leaf's issuer (for ECDH suites) */
    br_rsa_private_key rsa;   /* when key_type == BR_KEYTYPE_RSA; buffers owned */
    br_ec_private_key ec;     /* when key_type == BR_KEYTYPE_EC; buffer owned */
    unsigned char *key_buf;
} xr_tls_identity;

/* Loads a chain (leaf first, then intermediates) and the leaf's private key, each from a
 * PEM file (they may be the same file). XR_ERR_IO, XR_ERR_MALFORMED (no certificate, no
 * or unsupported key). On error *id is left empty. */
xr_err xr_tls_identity_load(xr_tls_identity *id, const char *chain_path, const char *key_path);

/* The same from PEM text in memory (copied). */
xr_err xr_tls_identity_from_pem(xr_tls_identity *id, const void *chain_pem, size_t chain_len,
                                const void *key_pem, size_t key_len);

void xr_tls_identity_free(xr_tls_identity *id);

/* ---- The engine -------------------------------------------------------------------------- */

typedef struct xr_tls {
    union {
        br_ssl_client_context client;
        br_ssl_server_context server;
    } u;
    br_x509_minimal_context x509;
    br_ssl_engine_context *eng;
    uint8_t is_server;
    uint8_t ready; /* handshake completed */
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
} xr_tls;

/* Starts a client handshake to `server_name` (a DNS name, at most 255 bytes, verified
 * against the certificate and sent as SNI), trusting `trust` (which must outlive `t`).
 * The ClientHello is then available from xr_tls_output(). */
xr_err xr_tls_client_init(xr_tls *t, const xr_tls_trust *trust, const char *server_name);

/* Prepares a server engine presenting `id` (which must outlive `t`); it waits for the
 * ClientHello through xr_tls_feed(). */
xr_err xr_tls_server_init(xr_tls *t, const xr_tls_identity *id);

/* Gives the engine up to `len` bytes received from the network and sets *consumed to how
 * many it took (fewer when its input buffer is full: read plaintext and drain the output,
 * then feed the rest). Returns XR_OK, or the engine's error once it has failed
 * (XR_ERR_UNAUTHORIZED, XR_ERR_MALFORMED, ...), or XR_ERR_INVALID_STATE once closed. */
xr_err xr_tls_feed(xr_tls *t, const uint8_t *data, size_t len, size_t *consumed);

/* Ciphertext waiting to be sent: returns a pointer and sets *len, or NULL and 0. */
const uint8_t *xr_tls_output(xr_tls *t, size_t *len);
void xr_tls_output_ack(xr_tls *t, size_t n);

/* Plaintext received and not yet acknowledged: pointer and *len, or NULL and 0. */
const uint8_t *xr_tls_read(xr_tls *t, size_t *len);
void xr_tls_read_ack(xr_tls *t, size_t n);

/* Encrypts up to `len` bytes of application data; sets *written (may be NULL). The record
 * is flushed at once (latency over packing). XR_OK when all were taken; XR_ERR_AGAIN when
 * fewer (the handshake is not done, or the output must be drained first);
 * XR_ERR_INVALID_STATE once closed; the engine's error once failed. */
xr_err xr_tls_write(xr_tls *t, const void *data, size_t len, size_t *written);

/* Starts an orderly close (close_notify); drain xr_tls_output() afterwards. */
void xr_tls_close(xr_tls *t);

/* The handshake has completed (sticky). */
bool xr_tls_is_ready(const xr_tls *t);

/* The engine is closed: orderly (xr_tls_error() == XR_OK) or failed. */
bool xr_tls_is_closed(const xr_tls *t);

/* XR_OK while healthy or after an orderly close; otherwise the failure mapped to xr_err:
 * certificate problems on either side -> XR_ERR_UNAUTHORIZED, transport -> XR_ERR_IO,
 * anything else -> XR_ERR_MALFORMED. */
xr_err xr_tls_error(const xr_tls *t);

/* BearSSL's own error code (BR_ERR_*, 0 if none), for logs. */
int xr_tls_br_error(const xr_tls *t);

/* A short stable name for a BearSSL error code ("X509_NOT_TRUSTED", "RECV_ALERT_48", ...),
 * written into buf (NUL-terminated, truncated to cap). Returns buf. */
const char *xr_tls_br_error_name(int br_err, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_NET_TLS_H */
