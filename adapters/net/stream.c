/*
 * A byte stream over a loop connection, plain or TLS. See stream.h for the contract.
 *
 * For TLS the stream is the pump between the connection and the engine: ciphertext from
 * on_data goes into xr_tls_feed(), records from xr_tls_output() go into the connection's
 * send queue, plaintext from xr_tls_read() goes to the user. The pump runs after every event
 * that can change the engine's state (data, writable, a user send, a close).
 */
#include "adapters/net/stream.h"

#include <string.h>

#include "core/base/assert.h"

static void st_on_open(xr_net_conn *c, void *user);
static size_t st_on_data(xr_net_conn *c, const uint8_t *data, size_t len, void *user);
static void st_on_writable(xr_net_conn *c, void *user);
static void st_on_close(xr_net_conn *c, xr_err reason, void *user);

static const xr_net_handler stream_conn_handler = {
    .on_open = st_on_open,
    .on_data = st_on_data,
    .on_writable = st_on_writable,
    .on_close = st_on_close,
};

/* Moves the engine's records into the connection's send queue. Returns 1 when the engine
 * has nothing left to send. A short send leaves the connection armed for on_writable. */
static int flush_out(xr_net_stream *s)
{
    for (;;) {
        size_t n = 0;
        const uint8_t *buf = xr_tls_output(s->tls, &n);
        if (buf == NULL || n == 0)
            return 1;
        size_t sent = 0;
        xr_err e = xr_net_conn_send(s->conn, buf, n, &sent);
        xr_tls_output_ack(s->tls, sent);
        if (e != XR_OK)
            return 0;
    }
}

/* A TLS failure: send our alert, then close the connection gracefully so it arrives. */
static void tls_fail(xr_net_stream *s, xr_err reason)
{
    if (s->failed)
        return;
    s->failed = 1;
    s->fail_reason = reason;
    (void)flush_out(s);
    xr_net_conn_close(s->conn);
}

/* Runs the engine forward: output, handshake completion, plaintext delivery, closure. */
static void tls_pump(xr_net_stream *s)
{
    if (s->failed || s->conn == NULL)
        return;
    int drained = flush_out(s);
    if (!s->opened && xr_tls_is_ready(s->tls)) {
        s->opened = 1;
        if (s->handler->on_open)
            s->handler->on_open(s, s->user);
    }
    while (!s->closing && !s->failed && s->conn != NULL) {
        size_t n = 0;
        const uint8_t *buf = xr_tls_read(s->tls, &n);
        if (buf == NULL || n == 0)
            break;
        size_t used = s->handler->on_data(s, buf, n, s->user);
        XR_ASSERT(used <= n);
        xr_tls_read_ack(s->tls, used);
        if (used == 0)
            break;
    }
    if (s->failed || s->conn == NULL)
        return;
    drained = flush_out(s);
    if (xr_tls_is_closed(s->tls) && drained) {
        xr_err e = xr_tls_error(s->tls);
        if (e != XR_OK) {
            tls_fail(s, e);
        } else if (!s->closing) {
            /* The peer sent close_notify and the engine has answered it. */
            s->failed = 1;
            s->fail_reason = XR_ERR_IO;
            xr_net_conn_close(s->conn);
        }
    }
    if (s->closing && drained && !s->failed)
        xr_net_conn_close(s->conn);
}

static void st_on_open(xr_net_conn *c, void *user)
{
    xr_net_stream *s = user;
    XR_ASSERT(s->conn == c);
    if (s->tls == NULL) {
        s->opened = 1;
        if (s->handler->on_open)
            s->handler->on_open(s, s->user);
        return;
    }
    tls_pump(s); /* a client's ClientHello goes out */
}

static size_t st_on_data(xr_net_conn *c, const uint8_t *data, size_t len, void *user)
{
    xr_net_stream *s = user;
    (void)c;
    if (s->tls == NULL) {
        if (s->closing)
            return len;
        return s->handler->on_data(s, data, len, s->user);
    }
    size_t used = 0;
    while (!s->failed && s->conn != NULL) {
        size_t n = 0;
        xr_err e = xr_tls_feed(s->tls, data + used, len - used, &n);
        used += n;
        if (e != XR_OK && e != XR_ERR_INVALID_STATE) {
            tls_fail(s, e);
            return len;
        }
        tls_pump(s);
        if (e == XR_ERR_INVALID_STATE || xr_tls_is_closed(s->tls))
            return len; /* closed: what follows is not ours to read */
        if (used == len || n == 0)
            break;
    }
    return s->failed ? len : used;
}

static void st_on_writable(xr_net_conn *c, void *user)
{
    xr_net_stream *s = user;
    if (s->tls != NULL) {
        tls_pump(s);
        if (s->failed || s->closing || s->conn == NULL)
            return;
        /* The engine may have refused ciphertext while its own output was stuck behind a
         * full send queue; now that it has drained, offer the kept bytes again. */
        xr_net_conn_redeliver(c);
    }
    if (s->want_writable && s->opened) {
        s->want_writable = 0;
        if (s->handler->on_writable)
            s->handler->on_writable(s, s->user);
    }
}

static void st_on_close(xr_net_conn *c, xr_err reason, void *user)
{
    xr_net_stream *s = user;
    (void)c;
    s->conn = NULL;
    if (s->closed_by_user && reason == XR_ERR_IO && xr_net_conn_os_error(c) == 0)
        reason = XR_OK; /* our close crossed the peer's */
    else if (s->failed && (reason == XR_OK || reason == XR_ERR_IO))
        reason = s->fail_reason;
    s->handler->on_close(s, reason, s->user);
}

static int handler_ok(const xr_net_stream_handler *h)
{
    return h != NULL && h->on_data != NULL && h->on_close != NULL;
}

static void stream_init(xr_net_stream *s, xr_tls *tls, const xr_net_stream_handler *h, void *user)
{
    memset(s, 0, sizeof(*s));
    s->tls = tls;
    s->handler = h;
    s->user = user;
}

xr_err xr_net_stream_connect(xr_net_stream *s, xr_net_loop *loop, const char *ip, uint16_t port,
                             const xr_net_conn_opts *opts, xr_tls *tls,
                             const xr_net_stream_handler *handler, void *user)
{
    if (s == NULL || !handler_ok(handler))
        return XR_ERR_INVALID_ARGUMENT;
    stream_init(s, tls, handler, user);
    xr_net_conn *c = NULL;
    xr_err e = xr_net_connect(loop, ip, port, opts, &stream_conn_handler, s, &c);
    if (e != XR_OK)
        return e;
    s->conn = c;
    return XR_OK;
}

xr_err xr_net_stream_accept(xr_net_stream *s, xr_net_conn *conn, xr_tls *tls,
                            const xr_net_stream_handler *handler, void *user)
{
    if (s == NULL || conn == NULL || !handler_ok(handler))
        return XR_ERR_INVALID_ARGUMENT;
    stream_init(s, tls, handler, user);
    s->conn = conn;
    xr_net_conn_set_handler(conn, &stream_conn_handler, s);
    if (tls == NULL) {
        s->opened = 1;
        if (handler->on_open)
            handler->on_open(s, user);
    }
    return XR_OK;
}

xr_err xr_net_stream_send(xr_net_stream *s, const void *data, size_t len, size_t *sent)
{
    if (sent)
        *sent = 0;
    if (s->conn == NULL || !s->opened || s->closing || s->failed)
        return XR_ERR_INVALID_STATE;
    if (s->tls == NULL) {
        xr_err e = xr_net_conn_send(s->conn, data, len, sent);
        if (e == XR_ERR_AGAIN)
            s->want_writable = 1;
        return e;
    }
    size_t total = 0;
    while (total < len) {
        size_t n = 0;
        xr_err e = xr_tls_write(s->tls, (const uint8_t *)data + total, len - total, &n);
        total += n;
        int drained = flush_out(s);
        if (e != XR_OK && e != XR_ERR_AGAIN) {
            tls_fail(s, e);
            break;
        }
        if (n == 0 || !drained)
            break;
    }
    if (sent)
        *sent = total;
    if (s->failed)
        return XR_ERR_INVALID_STATE;
    if (total < len) {
        s->want_writable = 1;
        return XR_ERR_AGAIN;
    }
    return XR_OK;
}

void xr_net_stream_close(xr_net_stream *s)
{
    if (s->conn == NULL || s->closing)
        return;
    s->closing = 1;
    s->closed_by_user = 1;
    if (s->tls == NULL || s->failed || !s->opened) {
        xr_net_conn_close(s->conn);
        return;
    }
    xr_tls_close(s->tls);
    if (flush_out(s))
        xr_net_conn_close(s->conn);
    /* else st_on_writable finishes the flush and closes */
}

void xr_net_stream_abort(xr_net_stream *s)
{
    if (s->conn == NULL)
        return;
    s->closing = 1;
    s->closed_by_user = 1;
    xr_net_conn_abort(s->conn);
}

xr_net_conn *xr_net_stream_conn(const xr_net_stream *s)
{
    return s->conn;
}
