/* The bank client library (xroute/client.h): POSIX sockets, poll(2), BearSSL for TLS.
 *
 * Everything happens in the caller's thread inside xr_client_poll and the blocking calls:
 * service() reads what the socket has, decodes frames, queues new responses in seq order
 * (dropping duplicates, asking for a replay on a gap), sends heartbeats and ACKs, and
 * reconnects. The receive queue is the only place responses live before the caller takes
 * them; a response is processed once taken and every smaller seq has been taken too. */
#define _GNU_SOURCE
#include "xroute/client.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/session.h"
#include "adapters/net/tls.h"
#include "core/base/clock.h"
#include "xroute/protocol.h"

#define RX_CAP       (8 * XR_PROTO_FRAME_MAX)
#define CIPHER_CAP   (16 * 1024)
#define SEND_WAIT_MS 5000

typedef struct qent {
    uint64_t seq;
    uint8_t taken;
    uint8_t ack_now; /* a report marked "acknowledgement required" (docs/protocol.md §5.7) */
    xr_engine_event ev;
} qent;

struct xr_client {
    xr_client_config cfg;
    int fd;
    int logged_on;
    int tls_on;
    xr_tls_trust trust;
    xr_tls *tls;
    uint8_t cipher[CIPHER_CAP]; /* ciphertext received and not yet fed to the TLS engine */
    size_t cipher_len;
    uint8_t rx[RX_CAP]; /* plaintext received and not yet decoded */
    size_t rx_len;
    uint64_t last_rx_seq;  /* last seq received in order */
    uint64_t processed;    /* last seq taken by the caller with every smaller one */
    uint64_t acked;        /* last seq ACKed to the server */
    uint64_t saved;        /* last seq written to the state file */
    uint64_t replay_asked; /* last_rx_seq when a REPLAY_REQUEST was sent, + 1; 0 none */
    uint8_t ack_due;       /* a marked report was processed: ACK at once */
    uint64_t hb_ns;
    uint64_t last_rx_ns, last_tx_ns, last_ack_ns;
    uint64_t next_corr;
    xr_err logout_reason;
    uint64_t reconnect_at_ns;
    uint32_t backoff_ms;
    int closed;
    char errtext[192];
    qent *q;
    uint32_t qhead, qcount;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void set_err(xr_client *c, const char *what, xr_err e)
{
    snprintf(c->errtext, sizeof c->errtext, "%s: %s", what, xr_err_name(e));
}

static xr_err load_state(const char *path, uint64_t *seq)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? XR_ERR_NOT_FOUND : XR_ERR_IO;
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok)
        return XR_ERR_CORRUPT;
    *seq = v;
    return XR_OK;
}

/* Writes the processed seq: temporary file, fsync, rename (old or new value, never torn). */
static void save_state(xr_client *c)
{
    if (c->cfg.state_path[0] == '\0' || c->saved == c->processed)
        return;
    char tmp[XR_CLIENT_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->cfg.state_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)c->processed);
    int ok = write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (ok && rename(tmp, c->cfg.state_path) == 0)
        c->saved = c->processed;
}

/* ---- transport ----------------------------------------------------------------------------- */

static void drop(xr_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->logged_on = 0;
    c->rx_len = 0;
    c->cipher_len = 0;
    c->replay_asked = 0;
    c->reconnect_at_ns = xr_clock_mono_ns() + (uint64_t)c->backoff_ms * XR_NS_PER_MS;
}

/* Writes raw bytes, waiting for the socket up to SEND_WAIT_MS. */
static xr_err raw_send(xr_client *c, const uint8_t *p, size_t len)
{
    uint64_t end = xr_clock_mono_ns() + SEND_WAIT_MS * XR_NS_PER_MS;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return XR_ERR_IO;
        if (xr_clock_mono_ns() >= end)
            return XR_ERR_TIMEOUT;
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        poll(&pfd, 1, 10);
    }
    return XR_OK;
}

static xr_err tls_flush(xr_client *c)
{
    for (;;) {
        size_t n = 0;
        const uint8_t *out = xr_tls_output(c->tls, &n);
        if (out == NULL || n == 0)
            return XR_OK;
        xr_err e = raw_send(c, out, n);
        if (e != XR_OK)
            return e;
        xr_tls_output_ack(c->tls, n);
    }
}

static xr_err send_bytes(xr_client *c, const uint8_t *p, size_t len)
{
    if (c->fd < 0)
        return XR_ERR_IO;
    xr_err e;
    if (!c->tls_on) {
        e = raw_send(c, p, len);
    } else {
        e = XR_OK;
        while (len > 0 && e == XR_OK) {
            size_t w = 0;
            xr_err we = xr_tls_write(c->tls, p, len, &w);
            p += w;
            len -= w;
            e = tls_flush(c);
            if (we != XR_OK && we != XR_ERR_AGAIN)
                e = XR_ERR_IO;
        }
    }
    if (e != XR_OK) {
        set_err(c, "send", e);
        drop(c);
        return XR_ERR_IO;
    }
    c->last_tx_ns = xr_clock_mono_ns();
    return XR_OK;
}

static xr_err send_msg(xr_client *c, const xr_bank_msg *m)
{
    uint8_t buf[XR_PROTO_FRAME_MAX];
    size_t len = 0;
    xr_err e = xr_bank_encode(m, buf, sizeof buf, &len);
    if (e != XR_OK)
        return e;
    return send_bytes(c, buf, len);
}

/* Moves what the TLS engine can give: kept ciphertext in, plaintext out into rx, records
 * out to the socket. Sets *moved when plaintext or ciphertext moved. XR_ERR_IO when the
 * engine failed or closed. */
static xr_err tls_pump_in(xr_client *c, int *moved)
{
    for (;;) {
        size_t used = 0;
        xr_err e = xr_tls_feed(c->tls, c->cipher, c->cipher_len, &used);
        memmove(c->cipher, c->cipher + used, c->cipher_len - used);
        c->cipher_len -= used;
        if (e != XR_OK) {
            set_err(c, "tls", e);
            return XR_ERR_IO;
        }
        if (tls_flush(c) != XR_OK)
            return XR_ERR_IO;
        size_t pn = 0, take = 0;
        const uint8_t *pt = xr_tls_read(c->tls, &pn);
        if (pt != NULL && pn > 0) {
            take = RX_CAP - c->rx_len < pn ? RX_CAP - c->rx_len : pn;
            memcpy(c->rx + c->rx_len, pt, take);
            c->rx_len += take;
            xr_tls_read_ack(c->tls, take);
        }
        if (used > 0 || take > 0)
            *moved = 1;
        if (xr_tls_is_closed(c->tls)) {
            set_err(c, "tls closed", xr_tls_error(c->tls));
            return XR_ERR_IO;
        }
        if ((used == 0 && take == 0) || c->rx_len == RX_CAP)
            return XR_OK;
    }
}

/* Reads what is available within wait_ms into rx (plaintext). XR_OK (maybe nothing),
 * XR_ERR_IO when the connection is gone. */
static xr_err io_read(xr_client *c, int wait_ms)
{
    if (c->fd < 0)
        return XR_ERR_IO;
    if (c->rx_len == RX_CAP)
        return XR_OK; /* decode first */
    if (c->tls_on && (c->cipher_len > 0 || xr_tls_is_ready(c->tls))) {
        /* Ciphertext kept or plaintext decrypted earlier while rx was full: the socket may
         * have nothing more to wake us, so take those first. */
        int moved = 0;
        if (tls_pump_in(c, &moved) != XR_OK)
            return XR_ERR_IO;
        if (moved)
            return XR_OK;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, wait_ms);
    if (pr <= 0)
        return XR_OK;
    uint8_t *dst = c->tls_on ? c->cipher + c->cipher_len : c->rx + c->rx_len;
    size_t room = c->tls_on ? CIPHER_CAP - c->cipher_len : RX_CAP - c->rx_len;
    if (room == 0)
        return XR_OK;
    ssize_t n = recv(c->fd, dst, room, 0);
    if (n == 0) {
        set_err(c, "server closed the connection", XR_ERR_IO);
        return XR_ERR_IO;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return XR_OK;
        set_err(c, "recv", XR_ERR_IO);
        return XR_ERR_IO;
    }
    c->last_rx_ns = xr_clock_mono_ns();
    if (!c->tls_on) {
        c->rx_len += (size_t)n;
        return XR_OK;
    }
    c->cipher_len += (size_t)n;
    int moved = 0;
    return tls_pump_in(c, &moved);
}

static xr_err tcp_connect(xr_client *c, uint64_t end_ns)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)c->cfg.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(c->cfg.host, port, &hints, &ai) != 0 || ai == NULL) {
        set_err(c, "resolve", XR_ERR_IO);
        return XR_ERR_IO;
    }
    xr_err result = XR_ERR_IO;
    for (struct addrinfo *a = ai; a != NULL && result != XR_OK; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            uint64_t now = xr_clock_mono_ns();
            int ms = now < end_ns ? (int)((end_ns - now) / XR_NS_PER_MS) + 1 : 0;
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (poll(&pfd, 1, ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr == 0)
                rc = 0;
            else
                result = soerr == 0 ? XR_ERR_TIMEOUT : XR_ERR_IO;
        }
        if (rc == 0) {
            c->fd = fd;
            result = XR_OK;
        } else {
            close(fd);
        }
    }
    freeaddrinfo(ai);
    if (result != XR_OK)
        set_err(c, "connect", result);
    return result;
}

static xr_err tls_handshake(xr_client *c, uint64_t end_ns)
{
    const char *name = c->cfg.tls_server_name[0] ? c->cfg.tls_server_name : c->cfg.host;
    xr_err e = xr_tls_client_init(c->tls, &c->trust, name);
    if (e != XR_OK)
        return e;
    while (!xr_tls_is_ready(c->tls)) {
        e = tls_flush(c);
        if (e != XR_OK)
            return e;
        uint64_t now = xr_clock_mono_ns();
        if (now >= end_ns)
            return XR_ERR_TIMEOUT;
        e = io_read(c, (int)((end_ns - now) / XR_NS_PER_MS) + 1);
        if (e != XR_OK) {
            xr_err te = xr_tls_error(c->tls);
            return te != XR_OK ? te : e;
        }
    }
    return XR_OK;
}

/* ---- frames from the server ---------------------------------------------------------------- */

static void send_ack(xr_client *c, int force)
{
    if (!c->logged_on || c->processed <= c->acked)
        return;
    uint64_t now = xr_clock_mono_ns();
    if (!force && !c->cfg.ack_required && !c->ack_due &&
        c->processed - c->acked < XR_BANK_ACK_EVERY && now - c->last_ack_ns < c->hb_ns)
        return;
    save_state(c); /* recorded before the server may discard it */
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_ACK;
    m.u.ack.seq = c->processed;
    if (send_msg(c, &m) == XR_OK) {
        c->acked = c->processed;
        c->last_ack_ns = now;
        c->ack_due = 0;
    }
}

/* Drops taken entries from the queue's head, advancing processed. */
static void compact(xr_client *c)
{
    while (c->qcount > 0 && c->q[c->qhead].taken) {
        if (c->q[c->qhead].seq != 0) /* 0: a refusal below the engine, not sequenced */
            c->processed = c->q[c->qhead].seq;
        if (c->q[c->qhead].ack_now)
            c->ack_due = 1;
        c->qhead = (c->qhead + 1) % XR_CLIENT_QUEUE_MAX;
        c->qcount--;
    }
}

/* Handles one decoded frame. Returns 0 if it must wait (queue full). */
static int on_frame(xr_client *c, const xr_bank_msg *m)
{
    if (m->type >= XR_PROTO_EV_BASE) {
        if (c->qcount == XR_CLIENT_QUEUE_MAX)
            return 0;
        uint64_t last = c->last_rx_seq;
        xr_bank_seq_verdict v = xr_bank_seq_check(&last, m->seq);
        if (v == XR_BANK_SEQ_DUP)
            return 1;
        if (v == XR_BANK_SEQ_GAP) {
            if (c->replay_asked != c->last_rx_seq + 1) {
                xr_bank_msg r;
                memset(&r, 0, sizeof r);
                r.type = XR_PROTO_REPLAY_REQUEST;
                r.u.replay.after_seq = c->last_rx_seq;
                if (send_msg(c, &r) == XR_OK)
                    c->replay_asked = c->last_rx_seq + 1;
            }
            return 1;
        }
        c->last_rx_seq = last;
        c->replay_asked = 0;
        qent *q = &c->q[(c->qhead + c->qcount) % XR_CLIENT_QUEUE_MAX];
        q->seq = m->seq;
        q->taken = 0;
        q->ack_now = (m->order_flags & XR_BANK_ORDER_ACK_REQUIRED) != 0;
        q->ev = m->u.ev;
        c->qcount++;
        if (m->u.ev.correlation_id >= c->next_corr && m->u.ev.correlation_id < (UINT64_C(1) << 62))
            c->next_corr = m->u.ev.correlation_id + 1;
        return 1;
    }
    switch (m->type) {
    case XR_PROTO_SESSION_REJECT:
        if (m->u.reject.correlation_id != 0 && m->u.reject.ref_type > XR_PROTO_CMD_BASE &&
            m->u.reject.ref_type < XR_PROTO_EV_BASE) {
            /* A request refused below the engine: its answer, unsequenced (seq 0). */
            if (c->qcount == XR_CLIENT_QUEUE_MAX)
                return 0;
            qent *q = &c->q[(c->qhead + c->qcount) % XR_CLIENT_QUEUE_MAX];
            memset(q, 0, sizeof *q);
            q->ev.kind = XR_ENGINE_EV_REJECT;
            q->ev.bank_id = c->cfg.bank_id;
            q->ev.correlation_id = m->u.reject.correlation_id;
            q->ev.u.reject.err = m->u.reject.err;
            q->ev.u.reject.cmd_kind = (uint8_t)(m->u.reject.ref_type - XR_PROTO_CMD_BASE);
            c->qcount++;
        }
        snprintf(c->errtext, sizeof c->errtext, "server refused a frame (type 0x%02x): %s",
                 m->u.reject.ref_type, xr_err_name(m->u.reject.err));
        return 1;
    case XR_PROTO_LOGOUT:
        c->logout_reason = m->u.logout.reason;
        snprintf(c->errtext, sizeof c->errtext, "server logged out: %s",
                 xr_err_name(m->u.logout.reason));
        drop(c);
        return 1;
    default:
        return 1; /* HEARTBEAT; a stray LOGON_ACK */
    }
}

/* Decodes every complete frame in rx. XR_ERR_MALFORMED drops the connection. */
static xr_err decode_rx(xr_client *c)
{
    size_t off = 0;
    xr_err result = XR_OK;
    while (c->fd >= 0 && off < c->rx_len) {
        xr_bank_msg m;
        size_t used = 0, bad = 0;
        xr_err e = xr_bank_decode(c->rx + off, c->rx_len - off, &m, &used, &bad);
        if (e == XR_ERR_AGAIN)
            break;
        if (e != XR_OK) {
            snprintf(c->errtext, sizeof c->errtext, "malformed frame from server at offset %zu",
                     bad);
            drop(c);
            return XR_ERR_MALFORMED;
        }
        if (!on_frame(c, &m))
            break;
        off += used;
    }
    if (c->fd < 0)
        return result;
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
    return result;
}

/* ---- logon ----------------------------------------------------------------------------------- */

static xr_err logon(xr_client *c)
{
    uint64_t end = xr_clock_mono_ns() + (uint64_t)c->cfg.connect_timeout_ms * XR_NS_PER_MS;
    c->rx_len = 0;
    c->cipher_len = 0;
    c->logout_reason = XR_OK;
    xr_err e = tcp_connect(c, end);
    if (e == XR_OK && c->tls_on) {
        e = tls_handshake(c, end);
        if (e != XR_OK)
            set_err(c, "tls handshake", e);
    }
    if (e != XR_OK) {
        drop(c);
        return e;
    }
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_LOGON;
    m.u.logon.bank_id = c->cfg.bank_id;
    m.u.logon.key_id = c->cfg.key_id;
    m.u.logon.timestamp_ns = xr_clock_wall_ns();
    if (getrandom(m.u.logon.nonce, sizeof m.u.logon.nonce, 0) != (ssize_t)sizeof m.u.logon.nonce) {
        drop(c);
        return XR_ERR_IO;
    }
    m.u.logon.last_seq = c->last_rx_seq;
    m.u.logon.heartbeat_ms = c->cfg.heartbeat_ms;
    m.u.logon.flags =
        (uint8_t)((c->cfg.cancel_on_disconnect ? XR_PROTO_LOGON_CANCEL_ON_DISCONNECT : 0) |
                  (c->cfg.ack_required ? XR_BANK_LOGON_ACK_REQUIRED : 0));
    uint8_t frame[XR_PROTO_LOGON_LEN];
    size_t len = 0;
    e = xr_bank_encode(&m, frame, sizeof frame, &len);
    if (e != XR_OK) {
        drop(c);
        return e;
    }
    xr_bank_logon_sign(c->cfg.secret, c->cfg.secret_len, frame);
    e = send_bytes(c, frame, len);
    if (e != XR_OK)
        return e;
    /* Wait for LOGON_ACK (or the refusal). */
    for (;;) {
        xr_bank_msg a;
        size_t used = 0, bad = 0;
        e = c->rx_len > 0 ? xr_bank_decode(c->rx, c->rx_len, &a, &used, &bad) : XR_ERR_AGAIN;
        if (e == XR_OK) {
            memmove(c->rx, c->rx + used, c->rx_len - used);
            c->rx_len -= used;
            if (a.type == XR_PROTO_LOGON_ACK) {
                c->logged_on = 1;
                c->hb_ns = (uint64_t)a.u.logon_ack.heartbeat_ms * XR_NS_PER_MS;
                c->last_rx_ns = c->last_tx_ns = c->last_ack_ns = xr_clock_mono_ns();
                c->acked = c->last_rx_seq < c->processed ? c->last_rx_seq : c->processed;
                c->backoff_ms = 0;
                c->errtext[0] = '\0';
                if (a.u.logon_ack.replay_from > c->last_rx_seq + 1) {
                    /* Below the server's retention horizon (docs/protocol.md §5.4): those
                     * responses were acknowledged in an earlier life and are gone; the
                     * replay starts at the horizon, so that is where the seqs go on. */
                    snprintf(c->errtext, sizeof c->errtext,
                             "responses %" PRIu64 "..%" PRIu64 " are past the server's retention",
                             c->last_rx_seq + 1, a.u.logon_ack.replay_from - 1);
                    c->last_rx_seq = c->processed = c->acked = a.u.logon_ack.replay_from - 1;
                }
                return XR_OK;
            }
            if (a.type == XR_PROTO_SESSION_REJECT) {
                xr_err why = a.u.reject.err;
                set_err(c, "logon refused", why);
                drop(c);
                return why == XR_ERR_MALFORMED ? XR_ERR_MALFORMED : why;
            }
            if (a.type == XR_PROTO_LOGOUT) {
                set_err(c, "logon refused", a.u.logout.reason);
                drop(c);
                return a.u.logout.reason != XR_OK ? a.u.logout.reason : XR_ERR_IO;
            }
            continue; /* nothing else may come first; ignore */
        }
        if (e != XR_ERR_AGAIN) {
            set_err(c, "logon answer", XR_ERR_MALFORMED);
            drop(c);
            return XR_ERR_MALFORMED;
        }
        uint64_t now = xr_clock_mono_ns();
        if (now >= end) {
            set_err(c, "logon", XR_ERR_TIMEOUT);
            drop(c);
            return XR_ERR_TIMEOUT;
        }
        if (io_read(c, (int)((end - now) / XR_NS_PER_MS) + 1) != XR_OK) {
            drop(c);
            return XR_ERR_IO;
        }
    }
}

/* A logon refusal that retrying cannot fix. */
static int is_fatal(xr_err e)
{
    return e == XR_ERR_UNAUTHORIZED || e == XR_ERR_STALE || e == XR_ERR_MALFORMED ||
           e == XR_ERR_CONFIG || e == XR_ERR_INVALID_ARGUMENT;
}

/* ---- the service step ------------------------------------------------------------------------ */

/* Services the connection until end_ns (or until something arrived, with `until_any`). */
static xr_err service(xr_client *c, uint64_t end_ns, int until_any)
{
    for (;;) {
        uint64_t now = xr_clock_mono_ns();
        if (c->fd < 0) {
            if (!c->cfg.reconnect)
                return XR_ERR_IO;
            if (now >= c->reconnect_at_ns) {
                xr_err e = logon(c);
                if (e != XR_OK) {
                    uint32_t b = c->backoff_ms ? c->backoff_ms * 2 : 50;
                    c->backoff_ms = b > c->cfg.reconnect_max_ms ? c->cfg.reconnect_max_ms : b;
                    c->reconnect_at_ns =
                        xr_clock_mono_ns() + (uint64_t)c->backoff_ms * XR_NS_PER_MS;
                    if (is_fatal(e))
                        return e;
                }
            }
            if (c->fd < 0) {
                now = xr_clock_mono_ns();
                if (now >= end_ns)
                    return XR_ERR_IO;
                uint64_t until = c->reconnect_at_ns < end_ns ? c->reconnect_at_ns : end_ns;
                struct timespec ts = {0, (long)(until > now ? until - now : 0)};
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec = ts.tv_nsec / 1000000000L;
                    ts.tv_nsec %= 1000000000L;
                }
                nanosleep(&ts, NULL);
                continue;
            }
        }
        uint32_t before = c->qcount;
        decode_rx(c); /* bytes kept from an earlier read or the logon */
        now = xr_clock_mono_ns();
        int wait_ms = 0;
        if (now < end_ns && !(until_any && c->qcount > before)) {
            uint64_t w = end_ns - now;
            if (w > c->hb_ns / 2)
                w = c->hb_ns / 2;
            wait_ms = (int)(w / XR_NS_PER_MS) + (w % XR_NS_PER_MS ? 1 : 0);
        }
        if (c->fd >= 0 && io_read(c, wait_ms) != XR_OK)
            drop(c);
        if (c->fd >= 0)
            decode_rx(c);
        now = xr_clock_mono_ns();
        if (c->fd >= 0 && c->logged_on) {
            if (now - c->last_rx_ns > 3 * c->hb_ns) {
                set_err(c, "server silent for 3 heartbeat intervals", XR_ERR_TIMEOUT);
                drop(c);
            } else if (now - c->last_tx_ns >= c->hb_ns) {
                xr_bank_msg h;
                memset(&h, 0, sizeof h);
                h.type = XR_PROTO_HEARTBEAT;
                send_msg(c, &h);
            }
        }
        if (c->fd >= 0)
            send_ack(c, 0);
        if (now >= end_ns || (until_any && c->qcount > before))
            return XR_OK;
    }
}

/* ---- public API ------------------------------------------------------------------------------ */

void xr_client_config_default(xr_client_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
    cfg->port = 7400;
    cfg->reconnect = 1;
    cfg->reconnect_max_ms = 2000;
    cfg->connect_timeout_ms = 5000;
    cfg->call_timeout_ms = 10000;
}

xr_err xr_client_connect(const xr_client_config *cfg, xr_client **out)
{
    if (cfg == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (cfg->bank_id == 0 || cfg->bank_id >= (1u << 24) || cfg->secret_len == 0 ||
        cfg->secret_len > XR_CLIENT_SECRET_MAX || cfg->port == 0 ||
        memchr(cfg->host, 0, sizeof cfg->host) == NULL || cfg->host[0] == '\0' ||
        memchr(cfg->state_path, 0, sizeof cfg->state_path) == NULL ||
        memchr(cfg->tls_ca_path, 0, sizeof cfg->tls_ca_path) == NULL ||
        memchr(cfg->tls_server_name, 0, sizeof cfg->tls_server_name) == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return XR_ERR_NO_MEMORY;
    c->cfg = *cfg;
    if (c->cfg.connect_timeout_ms == 0)
        c->cfg.connect_timeout_ms = 5000;
    if (c->cfg.call_timeout_ms == 0)
        c->cfg.call_timeout_ms = 10000;
    if (c->cfg.reconnect_max_ms == 0)
        c->cfg.reconnect_max_ms = 2000;
    c->fd = -1;
    c->hb_ns = XR_NS_PER_SEC;
    c->next_corr = (uint64_t)xr_clock_wall_ns() / XR_NS_PER_US;
    c->q = calloc(XR_CLIENT_QUEUE_MAX, sizeof *c->q);
    if (c->q == NULL) {
        free(c);
        return XR_ERR_NO_MEMORY;
    }
    uint64_t seq = cfg->last_seq;
    if (cfg->state_path[0] != '\0') {
        xr_err e = load_state(cfg->state_path, &seq);
        if (e == XR_ERR_NOT_FOUND) {
            seq = cfg->last_seq;
        } else if (e != XR_OK) {
            xr_client_close(c);
            return e == XR_ERR_CORRUPT ? XR_ERR_CONFIG : e;
        }
    }
    c->last_rx_seq = c->processed = c->acked = c->saved = seq;
    if (cfg->tls_ca_path[0] != '\0') {
        c->tls_on = 1;
        xr_tls_trust_init(&c->trust);
        c->tls = calloc(1, sizeof *c->tls);
        if (c->tls == NULL) {
            xr_client_close(c);
            return XR_ERR_NO_MEMORY;
        }
        if (xr_tls_trust_add_file(&c->trust, cfg->tls_ca_path) != XR_OK) {
            xr_client_close(c);
            return XR_ERR_CONFIG;
        }
    }
    xr_err e = logon(c);
    if (e != XR_OK) {
        xr_client_close(c);
        return e;
    }
    *out = c;
    return XR_OK;
}

void xr_client_close(xr_client *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0 && c->logged_on) {
        send_ack(c, 1);
        xr_bank_msg m;
        memset(&m, 0, sizeof m);
        m.type = XR_PROTO_LOGOUT;
        m.u.logout.reason = XR_OK;
        if (send_msg(c, &m) == XR_OK) {
            /* Wait briefly for the server's LOGOUT so ours is read before the close. */
            uint64_t end = xr_clock_mono_ns() + 500 * XR_NS_PER_MS;
            while (c->fd >= 0 && xr_clock_mono_ns() < end) {
                if (io_read(c, 20) != XR_OK)
                    break;
                decode_rx(c);
            }
        }
    }
    save_state(c);
    if (c->fd >= 0)
        close(c->fd);
    if (c->tls_on)
        xr_tls_trust_free(&c->trust);
    free(c->tls);
    free(c->q);
    volatile uint8_t *p = (volatile uint8_t *)&c->cfg;
    for (size_t i = 0; i < sizeof c->cfg; i++)
        p[i] = 0;
    free(c);
}

int xr_client_fd(const xr_client *c)
{
    return c != NULL ? c->fd : -1;
}

uint64_t xr_client_last_seq(const xr_client *c)
{
    return c != NULL ? c->processed : 0;
}

int xr_client_is_connected(const xr_client *c)
{
    return c != NULL && c->fd >= 0 && c->logged_on;
}

const char *xr_client_last_error_text(const xr_client *c)
{
    return c != NULL ? c->errtext : "";
}

void xr_client_drop_connection(xr_client *c)
{
    if (c != NULL && c->fd >= 0) {
        /* A reset, as a network failure would look to the server. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        drop(c);
        c->reconnect_at_ns = 0;
    }
}

xr_err xr_client_submit(xr_client *c, const xr_engine_cmd *cmd, uint64_t *correlation_id)
{
    return xr_client_submit_ex(c, cmd, NULL, correlation_id);
}

xr_err xr_client_submit_ex(xr_client *c, const xr_engine_cmd *cmd, const xr_client_order_opts *opts,
                           uint64_t *correlation_id)
{
    if (c == NULL || cmd == NULL || cmd->kind == 0 || cmd->kind >= XR_ENGINE_CMD__COUNT)
        return XR_ERR_INVALID_ARGUMENT;
    if (opts != NULL && (opts->ack_required > 1 || (!opts->ack_required && opts->ack_deadline_ms) ||
                         (opts->ack_required && cmd->kind != XR_ENGINE_CMD_NEW_ORDER)))
        return XR_ERR_INVALID_ARGUMENT;
    if (c->qcount == XR_CLIENT_QUEUE_MAX)
        return XR_ERR_NO_MEMORY;
    if (c->fd < 0 || !c->logged_on) {
        if (!c->cfg.reconnect)
            return XR_ERR_IO;
        /* Try to reconnect now rather than refuse. */
        xr_err e = service(c, xr_clock_mono_ns(), 0);
        if (e != XR_OK)
            return e;
        if (c->fd < 0)
            return XR_ERR_IO;
    }
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = (uint8_t)(XR_PROTO_CMD_BASE + cmd->kind);
    m.u.cmd = *cmd;
    m.u.cmd.bank_id = c->cfg.bank_id;
    if (m.u.cmd.correlation_id == 0)
        m.u.cmd.correlation_id = c->next_corr++;
    if (opts != NULL && opts->ack_required) {
        m.order_flags = XR_BANK_ORDER_ACK_REQUIRED;
        m.ack_deadline_ms = opts->ack_deadline_ms;
    }
    uint8_t buf[XR_PROTO_FRAME_MAX];
    size_t len = 0;
    xr_err e = xr_bank_encode(&m, buf, sizeof buf, &len);
    if (e != XR_OK)
        return XR_ERR_INVALID_ARGUMENT;
    e = send_bytes(c, buf, len);
    if (e != XR_OK)
        return e;
    if (correlation_id != NULL)
        *correlation_id = m.u.cmd.correlation_id;
    return XR_OK;
}

xr_err xr_client_poll(xr_client *c, xr_engine_event *events, uint64_t *seqs, size_t cap, size_t *n,
                      int timeout_ms)
{
    if (c == NULL || n == NULL || (cap > 0 && events == NULL))
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    int pending = 0;
    for (uint32_t i = 0; i < c->qcount && !pending; i++)
        pending = !c->q[(c->qhead + i) % XR_CLIENT_QUEUE_MAX].taken;
    uint64_t now = xr_clock_mono_ns();
    uint64_t end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * XR_NS_PER_MS;
    xr_err e = service(c, pending ? now : end, timeout_ms < 0);
    size_t k = 0;
    for (uint32_t i = 0; i < c->qcount && k < cap; i++) {
        qent *q = &c->q[(c->qhead + i) % XR_CLIENT_QUEUE_MAX];
        if (q->taken)
            continue;
        events[k] = q->ev;
        if (seqs != NULL)
            seqs[k] = q->seq;
        q->taken = 1;
        k++;
    }
    compact(c);
    *n = k;
    if (c->fd >= 0)
        send_ack(c, 0); /* at once for a marked report (ack_due) */
    if (k > 0)
        return XR_OK;
    return e;
}

xr_err xr_client_replay(xr_client *c, uint64_t after_seq)
{
    if (c == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->fd < 0 || !c->logged_on)
        return XR_ERR_IO;
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_REPLAY_REQUEST;
    m.u.replay.after_seq = after_seq;
    return send_msg(c, &m);
}

static xr_err call_ex(xr_client *c, const xr_engine_cmd *cmd, const xr_client_order_opts *opts,
                      xr_engine_event *ev);

static uint8_t expected_kind(uint8_t cmd_kind)
{
    switch (cmd_kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        return XR_ENGINE_EV_CUSTOMER;
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
        return XR_ENGINE_EV_FUNDING;
    case XR_ENGINE_CMD_QUOTE:
        return XR_ENGINE_EV_QUOTE;
    case XR_ENGINE_CMD_NEW_ORDER:
    case XR_ENGINE_CMD_CANCEL:
        return XR_ENGINE_EV_EXEC_REPORT;
    case XR_ENGINE_CMD_ORDER_STATUS:
        return XR_ENGINE_EV_ORDER;
    case XR_ENGINE_CMD_LIST_ORDERS:
        return XR_ENGINE_EV_ORDER_LIST;
    case XR_ENGINE_CMD_BALANCES:
        return XR_ENGINE_EV_BALANCES;
    case XR_ENGINE_CMD_CONVERT:
        return XR_ENGINE_EV_CONVERSION_REPORT;
    case XR_ENGINE_CMD_BOOK:
        return XR_ENGINE_EV_BOOK;
    case XR_ENGINE_CMD_TICKER:
        return XR_ENGINE_EV_TICKER;
    case XR_ENGINE_CMD_OHLC:
        return XR_ENGINE_EV_OHLC;
    case XR_ENGINE_CMD_PAIRS:
        return XR_ENGINE_EV_PAIRS;
    default:
        return 0;
    }
}

xr_err xr_client_call(xr_client *c, const xr_engine_cmd *cmd, xr_engine_event *ev)
{
    return call_ex(c, cmd, NULL, ev);
}

static xr_err call_ex(xr_client *c, const xr_engine_cmd *cmd, const xr_client_order_opts *opts,
                      xr_engine_event *ev)
{
    if (c == NULL || cmd == NULL || ev == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(ev, 0, sizeof *ev);
    uint64_t corr = 0;
    xr_err e = xr_client_submit_ex(c, cmd, opts, &corr);
    if (e != XR_OK)
        return e;
    uint64_t end = xr_clock_mono_ns() + (uint64_t)c->cfg.call_timeout_ms * XR_NS_PER_MS;
    for (;;) {
        for (uint32_t i = 0; i < c->qcount; i++) {
            qent *q = &c->q[(c->qhead + i) % XR_CLIENT_QUEUE_MAX];
            if (q->taken || q->ev.correlation_id != corr)
                continue;
            *ev = q->ev;
            q->taken = 1;
            compact(c);
            if (c->ack_due && c->fd >= 0)
                send_ack(c, 0); /* a marked report: ACK it now, not at the next service */
            if (ev->kind == XR_ENGINE_EV_REJECT)
                return ev->u.reject.err != XR_OK ? ev->u.reject.err : XR_ERR_INTERNAL;
            return ev->kind == expected_kind(cmd->kind) ? XR_OK : XR_ERR_MALFORMED;
        }
        uint64_t now = xr_clock_mono_ns();
        if (now >= end) {
            set_err(c, "no answer", XR_ERR_TIMEOUT);
            return XR_ERR_TIMEOUT;
        }
        e = service(c, end, 1);
        if (e != XR_OK && is_fatal(e))
            return e;
    }
}

/* ---- typed wrappers ---------------------------------------------------------------------- */

static int copy_str(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        return 0;
    size_t n = strlen(src);
    if (n >= cap)
        return 0;
    memcpy(dst, src, n + 1);
    return 1;
}

static xr_engine_cmd cmd_of(uint8_t kind, uint64_t customer_id)
{
    xr_engine_cmd c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.customer_id = customer_id;
    return c;
}

xr_err xr_client_customer_upsert(xr_client *c, uint64_t customer_id, uint8_t kyc_tier,
                                 xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_CUSTOMER_UPSERT, customer_id);
    k.u.customer.kyc_tier = kyc_tier;
    return xr_client_call(c, &k, ev);
}

static xr_err funding(xr_client *c, uint8_t kind, uint64_t customer_id, const xr_engine_key *key,
                      const char *asset, xr_amount amount, xr_engine_event *ev)
{
    if (key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_engine_cmd k = cmd_of(kind, customer_id);
    k.u.fund.key = *key;
    if (!copy_str(k.u.fund.asset, sizeof k.u.fund.asset, asset))
        return XR_ERR_INVALID_ARGUMENT;
    k.u.fund.amount = amount;
    return xr_client_call(c, &k, ev);
}

xr_err xr_client_fund(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                      const char *asset, xr_amount amount, xr_engine_event *ev)
{
    return funding(c, XR_ENGINE_CMD_FUND, customer_id, key, asset, amount, ev);
}

xr_err xr_client_defund(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                        const char *asset, xr_amount amount, xr_engine_event *ev)
{
    return funding(c, XR_ENGINE_CMD_DEFUND, customer_id, key, asset, amount, ev);
}

xr_err xr_client_quote(xr_client *c, uint64_t customer_id, const xr_engine_quote_cmd *q,
                       xr_engine_event *ev)
{
    if (q == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_QUOTE, customer_id);
    k.u.quote = *q;
    return xr_client_call(c, &k, ev);
}

xr_err xr_client_new_order(xr_client *c, uint64_t customer_id, const xr_engine_order_cmd *o,
                           xr_engine_event *ev)
{
    return xr_client_new_order_ex(c, customer_id, o, NULL, ev);
}

xr_err xr_client_new_order_ex(xr_client *c, uint64_t customer_id, const xr_engine_order_cmd *o,
                              const xr_client_order_opts *opts, xr_engine_event *ev)
{
    if (o == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_NEW_ORDER, customer_id);
    k.u.order = *o;
    return call_ex(c, &k, opts, ev);
}

static xr_err order_ref(xr_client *c, uint8_t kind, uint64_t customer_id, const xr_engine_key *key,
                        xr_engine_event *ev)
{
    if (key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_engine_cmd k = cmd_of(kind, customer_id);
    k.u.ref.key = *key;
    return xr_client_call(c, &k, ev);
}

xr_err xr_client_cancel(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                        xr_engine_event *ev)
{
    return order_ref(c, XR_ENGINE_CMD_CANCEL, customer_id, key, ev);
}

xr_err xr_client_order_status(xr_client *c, uint64_t customer_id, const xr_engine_key *key,
                              xr_engine_event *ev)
{
    return order_ref(c, XR_ENGINE_CMD_ORDER_STATUS, customer_id, key, ev);
}

xr_err xr_client_list_orders(xr_client *c, uint64_t customer_id,
                             const xr_engine_list_orders_cmd *filter, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_LIST_ORDERS, customer_id);
    if (filter != NULL)
        k.u.list = *filter;
    return xr_client_call(c, &k, ev);
}

xr_err xr_client_balances(xr_client *c, uint64_t customer_id, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_BALANCES, customer_id);
    return xr_client_call(c, &k, ev);
}

xr_err xr_client_convert(xr_client *c, uint64_t customer_id, const xr_engine_convert_cmd *cv,
                         xr_engine_event *ev)
{
    if (cv == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_CONVERT, customer_id);
    k.u.convert = *cv;
    return xr_client_call(c, &k, ev);
}

static xr_err market(xr_client *c, uint8_t kind, const char *pair, xr_engine_cmd *k,
                     xr_engine_event *ev)
{
    k->kind = kind;
    if (!copy_str(k->u.market.pair, sizeof k->u.market.pair, pair))
        return XR_ERR_INVALID_ARGUMENT;
    return xr_client_call(c, k, ev);
}

xr_err xr_client_book(xr_client *c, const char *pair, uint32_t depth, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_BOOK, 0);
    k.u.market.depth = depth;
    return market(c, XR_ENGINE_CMD_BOOK, pair, &k, ev);
}

xr_err xr_client_ticker(xr_client *c, const char *pair, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_TICKER, 0);
    return market(c, XR_ENGINE_CMD_TICKER, pair, &k, ev);
}

xr_err xr_client_ohlc(xr_client *c, const char *pair, uint32_t interval_s, int64_t from_ns,
                      int64_t to_ns, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_OHLC, 0);
    k.u.market.interval_s = interval_s;
    k.u.market.from_ns = from_ns;
    k.u.market.to_ns = to_ns;
    return market(c, XR_ENGINE_CMD_OHLC, pair, &k, ev);
}

xr_err xr_client_pairs(xr_client *c, xr_engine_event *ev)
{
    xr_engine_cmd k = cmd_of(XR_ENGINE_CMD_PAIRS, 0);
    return xr_client_call(c, &k, ev);
}
