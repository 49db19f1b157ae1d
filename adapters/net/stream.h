/*
 * adapters/net/stream.h - a byte stream over a loop connection, plain or TLS.
 *
 * This is where the I/O-free TLS engine (tls.h) plugs into the io_uring loop (loop.h): a
 * stream owns one loop connection and, optionally, one xr_tls, and gives its user the same
 * four callbacks as a plain connection, carrying plaintext. HTTP and WebSocket sessions sit
 * on a stream and never know whether TLS is underneath.
 *
 *     plain:  socket <-> loop conn <-> stream <-> user
 *     TLS:    socket <-> loop conn <-> xr_tls (records) <-> stream <-> user (plaintext)
 *
 * With TLS, on_open fires once the handshake has completed (the certificate was accepted);
 * a failed handshake ends in on_close with XR_ERR_UNAUTHORIZED (we rejected the peer's
 * certificate, or its alert says it rejected ours) or XR_ERR_MALFORMED (protocol failure),
 * after any alert the engine produced has been sent. BearSSL sends no alert when it rejects
 * a certificate, so the other side of such a failure sees XR_ERR_IO (the peer left).
 * Handshake deadlines come from the connection's timeouts (connect_timeout_ns, and
 * recv_timeout_ns while waiting for the peer's records).
 *
 * Threading: the loop's: one thread, callbacks only inside xr_net_loop_poll().
 * Ownership: the caller owns the xr_net_stream and the xr_tls and keeps both alive, and
 *   the handler table unchanged, from a successful connect/accept until on_close returns.
 *   The xr_tls must have been initialised (xr_tls_client_init / xr_tls_server_init) and
 *   not used yet.
 * Flow control: as loop.h. on_data should consume what it can and return less than `len`
 *   only when it needs more bytes to make progress: the rest is offered again when more
 *   arrives. There is no pause: a stream is for consumers that keep up (venue feeds, REST
 *   replies); use the connection directly for anything else.
 * Errors: as loop.h, plus XR_ERR_UNAUTHORIZED and XR_ERR_MALFORMED from TLS in on_close.
 *   on_close reasons: XR_OK (closed by us), XR_ERR_IO (peer closed, including a TLS
 *   close_notify, or a transport error), XR_ERR_TIMEOUT, XR_ERR_NO_MEMORY, and the TLS ones.
 */
#ifndef XR_ADAPTERS_NET_STREAM_H
#define XR_ADAPTERS_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/net/loop.h"
#include "adapters/net/tls.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xr_net_stream xr_net_stream;

/* Same contract as xr_net_handler, with plaintext. on_data and on_close are required. */
typedef struct xr_net_stream_handler {
    void (*on_open)(xr_net_stream *s, void *user);
    size_t (*on_data)(xr_net_stream *s, const uint8_t *data, size_t len, void *user);
    void (*on_writable)(xr_net_stream *s, void *user);
    void (*on_close)(xr_net_stream *s, xr_err reason, void *user);
} xr_net_stream_handler;

/* Caller-allocated; the fields are private. */
struct xr_net_stream {
    xr_net_conn *conn;
    xr_tls *tls;
    const xr_net_stream_handler *handler;
    void *user;
    xr_err fail_reason;
    uint8_t opened, closing, want_writable, failed, closed_by_user;
};

/* Connects to `ip`:`port` (see xr_net_connect) and, if `tls` is not NULL, runs its client
 * handshake. XR_OK: on_open or on_close follows. Errors as xr_net_connect, plus
 * XR_ERR_INVALID_ARGUMENT for a NULL stream or handler callbacks. */
xr_err xr_net_stream_connect(xr_net_stream *s, xr_net_loop *loop, const char *ip, uint16_t port,
                             const xr_net_conn_opts *opts, xr_tls *tls,
                             const xr_net_stream_handler *handler, void *user);

/* Takes over `conn`, an accepted connection, from inside its on_open callback; with `tls`
 * the server handshake runs first. For a plain stream, on_open runs before this returns.
 * XR_ERR_INVALID_ARGUMENT on NULL arguments. */
xr_err xr_net_stream_accept(xr_net_stream *s, xr_net_conn *conn, xr_tls *tls,
                            const xr_net_stream_handler *handler, void *user);

/* Sends up to `len` bytes (encrypted if TLS); *sent (may be NULL) gets how many were taken.
 * XR_OK: all; XR_ERR_AGAIN: fewer, on_writable follows; XR_ERR_INVALID_STATE before on_open
 * or after close. */
xr_err xr_net_stream_send(xr_net_stream *s, const void *data, size_t len, size_t *sent);

/* Orderly close: TLS close_notify, then the connection's graceful close; no more on_data;
 * on_close(XR_OK) follows. Idempotent. */
void xr_net_stream_close(xr_net_stream *s);

/* Immediate close (TCP reset, no close_notify); on_close(XR_OK) follows. */
void xr_net_stream_abort(xr_net_stream *s);

/* The underlying connection (NULL once closed). */
xr_net_conn *xr_net_stream_conn(const xr_net_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_NET_STREAM_H */
