/*
 * The io_uring event loop. See loop.h for the contract.
 *
 * Every socket operation is one io_uring request whose user_data names its slot, the slot's
 * generation and the kind of operation. A slot keeps a count of its requests in the kernel
 * (linked timeouts and cancels included) and is only recycled once that count is zero, so
 * a completion can never reach a slot that has been reused; the generation check asserts it.
 *
 * Sockets are created blocking on purpose: io_uring drives a blocking socket by trying the
 * operation without waiting and, if it would block, arming an internal poll, so the loop
 * thread never sleeps in a socket call. A socket with O_NONBLOCK would instead make
 * io_uring return -EAGAIN to us.
 */
#define _GNU_SOURCE
#include "adapters/net/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/log.h"

enum op_kind {
    OP_CONNECT = 1,
    OP_CONNECT_TIMEOUT,
    OP_RECV,
    OP_RECV_TIMEOUT,
    OP_SEND,
    OP_SEND_TIMEOUT,
    OP_CANCEL,
    OP_ACCEPT,
    OP_ACCEPT_CANCEL,
    OP_WAKE, /* the read armed on wake_fd (xr_net_loop_wake) */
};

enum conn_state {
    CS_FREE = 0,
    CS_CONNECTING,
    CS_OPEN,
    CS_CLOSING, /* flushing the send queue before shutdown */
    CS_DEAD,    /* cancelling what is in flight; then close(2) and on_close */
};

#define NO_SLOT     UINT32_MAX
#define MAX_SLOTS   (1u << 24) /* the index has 24 bits in user_data */
#define TIMEOUT_MAX UINT64_MAX

struct xr_net_conn {
    xr_net_loop *loop;
    const xr_net_handler *handler;
    void *user;
    uint8_t *rbuf;
    uint8_t *sbuf;
    /* Receive buffer: unconsumed bytes are rbuf[rstart, rend). A receive in the kernel
     * writes at the rend it was posted with, so rend never moves back (and nothing is
     * compacted) while one is in flight. */
    uint32_t rstart, rend, rcap;
    uint32_t shead, slen, scap; /* send queue: a ring of scap bytes from shead */
    uint32_t sinflight;         /* bytes of the send request in the kernel */
    uint32_t index, gen;
    uint32_t ops; /* requests in the kernel for this slot */
    uint32_t next_free;
    int fd;
    int os_error;
    xr_err reason;
    uint8_t state;
    uint8_t connect_inflight, recv_inflight, send_inflight;
    uint8_t paused, eof, want_writable, redeliver, cancels_issued, reset_on_close, deferred;
    uint64_t connect_timeout_ns, recv_timeout_ns, send_timeout_ns;
    /* Timespecs of linked timeouts: the kernel reads them at submission, which happens
     * after the call that prepared them, so they must live in the slot. */
    struct __kernel_timespec ts_connect, ts_recv, ts_send;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct xr_net_listener {
    xr_net_loop *loop;
    const xr_net_handler *handler;
    void *user;
    xr_net_conn_opts opts;
    int fd;
    uint32_t index, gen, ops;
    uint16_t port;
    uint8_t used, closing, accept_inflight, cancel_pending;
    uint8_t multishot; /* one accept request yields every connection (Linux 5.19+) */
};

struct xr_net_loop {
    struct io_uring ring;
    xr_net_loop_config cfg;
    xr_net_conn *conns;
    xr_net_listener *listeners;
    uint8_t *bufmem;
    uint32_t *deferred; /* slots needing attention at the next poll */
    uint32_t *scratch;
    uint32_t ndeferred;
    uint32_t free_head;
    uint32_t live;
    uint32_t flags_active;
    uint8_t ring_ok, needs_enable, in_poll;
    xr_net_loop_stats stats;
    int wake_fd;         /* eventfd written by xr_net_loop_wake, from any thread */
    uint8_t wake_armed;  /* a read of wake_fd is in flight */
    uint64_t wake_count; /* its buffer */
};

/* ---------------------------------------------------------------------------------------- */

static uint64_t ud_make(uint32_t index, uint32_t gen, enum op_kind kind)
{
    return ((uint64_t)gen << 32) | ((uint64_t)index << 8) | (uint64_t)kind;
}

static void ns_to_ts(struct __kernel_timespec *ts, uint64_t ns)
{
    ts->tv_sec = (long long)(ns / 1000000000ull);
    ts->tv_nsec = (long long)(ns % 1000000000ull);
}

static uint32_t round_pow2(uint32_t v)
{
    uint32_t p = 1;
    while (p < v && p < (1u << 30))
        p <<= 1;
    return p;
}

/* Parses a numeric IPv4 or IPv6 address; never resolves names. */
static int parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return AF_INET;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return AF_INET6;
    }
    return -1;
}

/* Makes room for `need` consecutive submission entries, submitting what is queued if the
 * ring is full. Linked pairs must be contiguous, hence the reservation. */
static int sq_reserve(xr_net_loop *l, unsigned need)
{
    if (io_uring_sq_space_left(&l->ring) >= need)
        return 1;
    if (l->needs_enable)
        return 0;
    (void)io_uring_submit(&l->ring);
    return io_uring_sq_space_left(&l->ring) >= need;
}

static struct io_uring_sqe *sqe_get(xr_net_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    XR_ASSERT(sqe != NULL); /* reserved by sq_reserve */
    return sqe;
}

static void defer(xr_net_conn *c)
{
    xr_net_loop *l = c->loop;
    if (c->deferred)
        return;
    XR_ASSERT(l->ndeferred < l->cfg.max_conns);
    c->deferred = 1;
    l->deferred[l->ndeferred++] = c->index;
}

static void loop_enable(xr_net_loop *l)
{
    /* With SINGLE_ISSUER the ring is created disabled so that the kernel binds it to the
     * thread that actually drives the loop, not the one that created it. */
    if (l->needs_enable) {
        /* liburing 2.3 declares io_uring_enable_rings() but does not export it (missing
         * from its symbol map), so register directly. */
        long rc =
            syscall(__NR_io_uring_register, l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        XR_ASSERT(rc == 0);
        l->needs_enable = 0;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Requests */

static int post_linked(xr_net_conn *c, struct io_uring_sqe *sqe, uint64_t timeout_ns,
                       struct __kernel_timespec *ts, enum op_kind tkind)
{
    if (timeout_ns == 0 || timeout_ns == TIMEOUT_MAX)
        return 0;
    sqe->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *t = sqe_get(c->loop);
    ns_to_ts(ts, timeout_ns);
    io_uring_prep_link_timeout(t, ts, 0);
    io_uring_sqe_set_data64(t, ud_make(c->index, c->gen, tkind));
    c->ops++;
    return 1;
}

static unsigned need_for(uint64_t timeout_ns)
{
    return (timeout_ns == 0 || timeout_ns == TIMEOUT_MAX) ? 1u : 2u;
}

static int post_connect(xr_net_conn *c)
{
    if (!sq_reserve(c->loop, need_for(c->connect_timeout_ns)))
        return 0;
    struct io_uring_sqe *sqe = sqe_get(c->loop);
    io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&c->addr, c->addrlen);
    io_uring_sqe_set_data64(sqe, ud_make(c->index, c->gen, OP_CONNECT));
    c->ops++;
    (void)post_linked(c, sqe, c->connect_timeout_ns, &c->ts_connect, OP_CONNECT_TIMEOUT);
    c->connect_inflight = 1;
    return 1;
}

static int post_recv(xr_net_conn *c)
{
    if (!sq_reserve(c->loop, need_for(c->recv_timeout_ns)))
        return 0;
    if (c->rstart > 0) {
        memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
        c->rend -= c->rstart;
        c->rstart = 0;
    }
    XR_ASSERT(c->rend < c->rcap);
    struct io_uring_sqe *sqe = sqe_get(c->loop);
    io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rend, c->rcap - c->rend, 0);
    io_uring_sqe_set_data64(sqe, ud_make(c->index, c->gen, OP_RECV));
    c->ops++;
    (void)post_linked(c, sqe, c->recv_timeout_ns, &c->ts_recv, OP_RECV_TIMEOUT);
    c->recv_inflight = 1;
    return 1;
}

static int post_send(xr_net_conn *c)
{
    XR_ASSERT(c->slen > 0 && c->shead < c->scap);
    if (!sq_reserve(c->loop, need_for(c->send_timeout_ns)))
        return 0;
    uint32_t chunk = c->scap - c->shead;
    if (chunk > c->slen)
        chunk = c->slen;
    struct io_uring_sqe *sqe = sqe_get(c->loop);
    /* MSG_NOSIGNAL: a peer that has gone away must give EPIPE, not kill the process. */
    io_uring_prep_send(sqe, c->fd, c->sbuf + c->shead, chunk, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud_make(c->index, c->gen, OP_SEND));
    c->ops++;
    (void)post_linked(c, sqe, c->send_timeout_ns, &c->ts_send, OP_SEND_TIMEOUT);
    c->send_inflight = 1;
    c->sinflight = chunk;
    return 1;
}

static int post_cancel(xr_net_conn *c, enum op_kind target)
{
    if (!sq_reserve(c->loop, 1))
        return 0;
    struct io_uring_sqe *sqe = sqe_get(c->loop);
    io_uring_prep_cancel64(sqe, ud_make(c->index, c->gen, target), 0);
    io_uring_sqe_set_data64(sqe, ud_make(c->index, c->gen, OP_CANCEL));
    c->ops++;
    return 1;
}

static int post_accept(xr_net_listener *ls)
{
    xr_net_loop *l = ls->loop;
    if (!sq_reserve(l, 1))
        return 0;
    struct io_uring_sqe *sqe = sqe_get(l);
    if (ls->multishot)
        io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_make(ls->index, ls->gen, OP_ACCEPT));
    ls->ops++;
    ls->accept_inflight = 1;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Connection state machine */

/* Fails the connection: everything in flight is cancelled, then the socket is reset and
 * closed. The first reason wins, except that a failure while flushing a graceful close
 * replaces its XR_OK (the caller should know the bytes did not all go out). */
static void conn_fail(xr_net_conn *c, xr_err reason, int os_error)
{
    if (c->state == CS_DEAD || c->state == CS_FREE)
        return;
    if (c->state != CS_CLOSING || c->reason == XR_OK) {
        c->reason = reason;
        c->os_error = os_error;
    }
    c->state = CS_DEAD;
    c->reset_on_close = 1;
}

static void conn_begin_close(xr_net_conn *c, xr_err reason, int os_error)
{
    if (c->state == CS_CONNECTING) {
        c->reason = reason;
        c->os_error = os_error;
        c->state = CS_DEAD;
        return;
    }
    if (c->state != CS_OPEN)
        return;
    c->reason = reason;
    c->os_error = os_error;
    c->state = CS_CLOSING;
}

/* Issues whatever the connection's state needs. Never runs a callback, so it is safe from
 * any public entry point. A request that finds the ring full is retried at the next poll. */
static void conn_kick(xr_net_conn *c)
{
    int ok = 1;
    switch (c->state) {
    case CS_OPEN:
        if (!c->recv_inflight && !c->paused && !c->eof && c->rend - c->rstart < c->rcap)
            ok &= post_recv(c);
        if (!c->send_inflight && c->slen > 0)
            ok &= post_send(c);
        break;
    case CS_CLOSING:
        if (c->send_inflight)
            break;
        if (c->slen > 0) {
            ok &= post_send(c);
            break;
        }
        /* Everything queued is in the kernel's hands: send FIN, then stop reading. */
        (void)shutdown(c->fd, SHUT_WR);
        c->state = CS_DEAD;
        /* fall through */
    case CS_DEAD:
        if (c->cancels_issued)
            break;
        /* Belt and braces: SHUT_RD ends a pending receive even if a cancel cannot reach it,
         * and sends nothing to the peer (an abort must still look like a reset). */
        if (c->recv_inflight && c->fd >= 0)
            (void)shutdown(c->fd, SHUT_RD);
        if (c->connect_inflight)
            ok &= post_cancel(c, OP_CONNECT);
        if (ok && c->recv_inflight)
            ok &= post_cancel(c, OP_RECV);
        if (ok && c->send_inflight)
            ok &= post_cancel(c, OP_SEND);
        /* A partial set of cancels is harmless to repeat: cancelling a finished request
         * just completes with -ENOENT. */
        c->cancels_issued = (uint8_t)ok;
        break;
    default:
        break;
    }
    if (!ok)
        defer(c);
}

static void slot_free(xr_net_conn *c)
{
    xr_net_loop *l = c->loop;
    c->state = CS_FREE;
    c->gen++;
    c->handler = NULL;
    c->user = NULL;
    c->next_free = l->free_head;
    l->free_head = c->index;
    l->live--;
}

/* Completes a dead connection once the kernel holds nothing of it. Runs on_close, so it is
 * only called from the top of the poll loop, never under another callback. */
static int conn_maybe_finish(xr_net_conn *c)
{
    if (c->state != CS_DEAD || c->ops != 0 || c->deferred)
        return 0;
    if (c->fd >= 0) {
        if (c->reset_on_close) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        (void)close(c->fd);
        c->fd = -1;
    }
    xr_net_loop *l = c->loop;
    l->stats.conns_closed++;
    c->handler->on_close(c, c->reason, c->user);
    slot_free(c);
    return 1;
}

static void conn_deliver(xr_net_conn *c)
{
    uint32_t avail = c->rend - c->rstart;
    if (c->state != CS_OPEN || c->paused || avail == 0)
        return;
    size_t n = c->handler->on_data(c, c->rbuf + c->rstart, avail, c->user);
    XR_ASSERT(n <= avail);
    c->rstart += (uint32_t)n;
    if (c->rstart == c->rend && !c->recv_inflight)
        c->rstart = c->rend = 0;
    if (c->state == CS_OPEN && !c->paused && n == 0 && avail == c->rcap)
        conn_fail(c, XR_ERR_NO_MEMORY, ENOBUFS);
}

static void conn_setup_socket(xr_net_conn *c, const xr_net_conn_opts *o)
{
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (o->sndbuf_bytes) {
        int v = (int)o->sndbuf_bytes;
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    if (o->rcvbuf_bytes) {
        int v = (int)o->rcvbuf_bytes;
        (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
}

static void opts_merge(xr_net_conn_opts *out, const xr_net_conn_opts *o,
                       const xr_net_conn_opts *def)
{
    *out = *def;
    if (o == NULL)
        return;
    if (o->connect_timeout_ns)
        out->connect_timeout_ns = o->connect_timeout_ns;
    if (o->recv_timeout_ns)
        out->recv_timeout_ns = o->recv_timeout_ns;
    if (o->send_timeout_ns)
        out->send_timeout_ns = o->send_timeout_ns;
    if (o->sndbuf_bytes)
        out->sndbuf_bytes = o->sndbuf_bytes;
    if (o->rcvbuf_bytes)
        out->rcvbuf_bytes = o->rcvbuf_bytes;
}

static xr_net_conn *slot_alloc(xr_net_loop *l, int fd, const xr_net_conn_opts *o,
                               const xr_net_handler *h, void *user)
{
    if (l->free_head == NO_SLOT)
        return NULL;
    xr_net_conn *c = &l->conns[l->free_head];
    XR_ASSERT(c->state == CS_FREE && c->ops == 0);
    l->free_head = c->next_free;
    l->live++;
    c->handler = h;
    c->user = user;
    c->fd = fd;
    c->rstart = c->rend = 0;
    c->shead = c->slen = c->sinflight = 0;
    c->os_error = 0;
    c->reason = XR_OK;
    c->connect_inflight = c->recv_inflight = c->send_inflight = 0;
    c->paused = c->eof = c->want_writable = c->redeliver = 0;
    c->cancels_issued = c->reset_on_close = c->deferred = 0;
    c->connect_timeout_ns = o->connect_timeout_ns;
    c->recv_timeout_ns = o->recv_timeout_ns;
    c->send_timeout_ns = o->send_timeout_ns;
    return c;
}

/* ---------------------------------------------------------------------------------------- */
/* Completions */

static void on_conn_cqe(xr_net_loop *l, enum op_kind kind, uint32_t index, uint32_t gen,
                        int32_t res)
{
    XR_ASSERT(index < l->cfg.max_conns);
    xr_net_conn *c = &l->conns[index];
    XR_ASSERT(c->gen == gen && c->state != CS_FREE && c->ops > 0);
    c->ops--;
    switch (kind) {
    case OP_CONNECT:
        c->connect_inflight = 0;
        if (c->state != CS_CONNECTING)
            break;
        if (res == 0) {
            c->state = CS_OPEN;
            l->stats.conns_opened++;
            if (c->handler->on_open)
                c->handler->on_open(c, c->user);
        } else if (res == -ECANCELED) {
            conn_fail(c, XR_ERR_TIMEOUT, ETIMEDOUT);
        } else {
            conn_fail(c, XR_ERR_IO, -res);
        }
        break;
    case OP_RECV:
        c->recv_inflight = 0;
        if (res == 0)
            c->eof = 1;
        if (c->state != CS_OPEN)
            break; /* closing: what arrives now is not delivered */
        if (res > 0) {
            l->stats.bytes_received += (uint64_t)res;
            c->rend += (uint32_t)res;
            XR_ASSERT(c->rend <= c->rcap);
            conn_deliver(c);
        } else if (res == 0) {
            conn_begin_close(c, XR_ERR_IO, 0);
        } else if (res == -ECANCELED) {
            /* Only our linked timeout cancels a receive of an open connection. */
            conn_fail(c, XR_ERR_TIMEOUT, ETIMEDOUT);
        } else if (res != -EINTR && res != -EAGAIN) {
            conn_fail(c, XR_ERR_IO, -res);
        }
        break;
    case OP_SEND:
        c->send_inflight = 0;
        if (c->state == CS_DEAD)
            break; /* cancelled by us, or the queue was dropped by an abort */
        if (res >= 0) {
            XR_ASSERT((uint32_t)res <= c->sinflight);
            l->stats.bytes_sent += (uint64_t)res;
            c->shead = (c->shead + (uint32_t)res) % c->scap;
            c->slen -= (uint32_t)res;
            if (c->slen == 0)
                c->shead = 0;
            if (c->slen == 0 && c->want_writable && c->state == CS_OPEN) {
                c->want_writable = 0;
                if (c->handler->on_writable)
                    c->handler->on_writable(c, c->user);
            }
        } else if (res == -ECANCELED) {
            conn_fail(c, XR_ERR_TIMEOUT, ETIMEDOUT);
        } else if (res != -EINTR && res != -EAGAIN) {
            conn_fail(c, XR_ERR_IO, -res);
        }
        break;
    case OP_CONNECT_TIMEOUT:
    case OP_RECV_TIMEOUT:
    case OP_SEND_TIMEOUT:
    case OP_CANCEL:
        /* Their effect shows on the request they belong to. */
        break;
    default:
        XR_ASSERT(0);
    }
    if (c->state != CS_FREE) {
        conn_kick(c);
        (void)conn_maybe_finish(c);
    }
}

static void on_accepted(xr_net_listener *ls, int fd)
{
    xr_net_loop *l = ls->loop;
    xr_net_conn *c = slot_alloc(l, fd, &ls->opts, ls->handler, ls->user);
    if (c == NULL) {
        /* Out of slots: refusing now is better than holding a socket nobody serves. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        (void)close(fd);
        l->stats.accepts_dropped++;
        return;
    }
    conn_setup_socket(c, &ls->opts);
    c->state = CS_OPEN;
    l->stats.conns_opened++;
    if (c->handler->on_open)
        c->handler->on_open(c, c->user);
    if (c->state != CS_FREE) {
        conn_kick(c);
        (void)conn_maybe_finish(c);
    }
}

static void on_listener_cqe(xr_net_loop *l, enum op_kind kind, uint32_t index, uint32_t gen,
                            int32_t res, uint32_t flags)
{
    XR_ASSERT(index < l->cfg.max_listeners);
    xr_net_listener *ls = &l->listeners[index];
    XR_ASSERT(ls->used && ls->gen == gen && ls->ops > 0);
    /* A multishot accept stays armed, and counted, while its completions say "more". */
    int more = kind == OP_ACCEPT && (flags & IORING_CQE_F_MORE);
    if (!more)
        ls->ops--;
    if (kind == OP_ACCEPT) {
        if (!more)
            ls->accept_inflight = 0;
        if (res == -EINVAL && ls->multishot) {
            ls->multishot = 0; /* an older kernel: fall back to one accept per request */
        } else if (res >= 0) {
            if (ls->closing)
                (void)close(res);
            else
                on_accepted(ls, res);
        } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
            xr_log_line line;
            xr_log_begin(&line, XR_LOG_WARN, "net", "accept_failed");
            xr_log_i64(&line, "errno", -res);
            xr_log_end(&line);
        }
    }
    if (ls->closing && ls->ops == 0) {
        (void)close(ls->fd);
        ls->fd = -1;
        ls->used = 0;
        ls->gen++;
    }
}

static int post_accept_cancel(xr_net_listener *ls)
{
    xr_net_loop *l = ls->loop;
    if (!sq_reserve(l, 1))
        return 0;
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_cancel64(sqe, ud_make(ls->index, ls->gen, OP_ACCEPT), 0);
    io_uring_sqe_set_data64(sqe, ud_make(ls->index, ls->gen, OP_ACCEPT_CANCEL));
    ls->ops++;
    ls->cancel_pending = 0;
    return 1;
}

static void arm_listeners(xr_net_loop *l)
{
    for (uint32_t i = 0; i < l->cfg.max_listeners; i++) {
        xr_net_listener *ls = &l->listeners[i];
        if (!ls->used)
            continue;
        if (ls->closing && ls->cancel_pending)
            (void)post_accept_cancel(ls);
        else if (!ls->closing && !ls->accept_inflight)
            (void)post_accept(ls);
    }
}

static uint32_t run_deferred(xr_net_loop *l)
{
    /* Work on a snapshot: a slot that cannot make progress now re-defers itself for the
     * next poll instead of spinning here. */
    uint32_t n = l->ndeferred;
    if (n == 0)
        return 0;
    memcpy(l->scratch, l->deferred, n * sizeof(uint32_t));
    l->ndeferred = 0;
    for (uint32_t i = 0; i < n; i++) {
        xr_net_conn *c = &l->conns[l->scratch[i]];
        c->deferred = 0;
        if (c->state == CS_FREE)
            continue;
        if (c->redeliver) {
            c->redeliver = 0;
            conn_deliver(c);
        }
        conn_kick(c);
        (void)conn_maybe_finish(c);
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Loop */

void xr_net_loop_config_default(xr_net_loop_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_conns = 64;
    cfg->max_listeners = 4;
    cfg->recv_buf_bytes = 64 * 1024;
    cfg->send_buf_bytes = 64 * 1024;
    cfg->sq_entries = 256;
    cfg->conn.connect_timeout_ns = 10ull * 1000000000ull;
    cfg->conn.recv_timeout_ns = 0;
    cfg->conn.send_timeout_ns = 30ull * 1000000000ull;
}

static int ring_init(xr_net_loop *l)
{
    uint32_t cq = round_pow2(l->cfg.max_conns * 8u + l->cfg.max_listeners * 2u + 64u);
    if (cq < 2 * l->cfg.sq_entries)
        cq = 2 * l->cfg.sq_entries; /* the kernel wants at least as many CQ as SQ entries */
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    unsigned attempts[4];
    int n = 0;
    if (l->cfg.flags & XR_NET_LOOP_SINGLE_ISSUER)
        attempts[n++] = base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                        IORING_SETUP_R_DISABLED;
    attempts[n++] = base | IORING_SETUP_COOP_TASKRUN;
    attempts[n++] = base;
    attempts[n++] = IORING_SETUP_CQSIZE;
    int rc = -EINVAL;
    for (int i = 0; i < n; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = attempts[i];
        p.cq_entries = cq;
        rc = io_uring_queue_init_params(l->cfg.sq_entries, &l->ring, &p);
        if (rc == 0) {
            if (attempts[i] & IORING_SETUP_SINGLE_ISSUER) {
                l->flags_active |= XR_NET_LOOP_SINGLE_ISSUER;
                l->needs_enable = 1;
            }
            return 0;
        }
        if (rc != -EINVAL)
            break;
    }
    return rc;
}

xr_err xr_net_loop_create(const xr_net_loop_config *cfg_in, xr_net_loop **out)
{
    if (out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    xr_net_loop_config cfg;
    xr_net_loop_config_default(&cfg);
    if (cfg_in != NULL) {
        xr_net_conn_opts def = cfg.conn;
        cfg = *cfg_in;
        opts_merge(&cfg.conn, &cfg_in->conn, &def);
    }
    if (cfg.max_conns == 0 || cfg.max_conns >= MAX_SLOTS || cfg.max_listeners == 0 ||
        cfg.max_listeners > 1024 || cfg.recv_buf_bytes < 256 || cfg.send_buf_bytes < 256 ||
        cfg.recv_buf_bytes > (1u << 30) || cfg.send_buf_bytes > (1u << 30) || cfg.sq_entries < 8 ||
        cfg.sq_entries > 32768)
        return XR_ERR_INVALID_ARGUMENT;
    cfg.sq_entries = round_pow2(cfg.sq_entries);

    size_t per = (size_t)cfg.recv_buf_bytes + cfg.send_buf_bytes;
    if (per != 0 && (size_t)cfg.max_conns > SIZE_MAX / per)
        return XR_ERR_INVALID_ARGUMENT;

    xr_net_loop *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return XR_ERR_NO_MEMORY;
    l->wake_fd = -1;
    l->cfg = cfg;
    l->conns = calloc(cfg.max_conns, sizeof(*l->conns));
    l->listeners = calloc(cfg.max_listeners, sizeof(*l->listeners));
    l->deferred = calloc(cfg.max_conns, sizeof(uint32_t));
    l->scratch = calloc(cfg.max_conns, sizeof(uint32_t));
    l->bufmem = malloc(per * cfg.max_conns);
    if (!l->conns || !l->listeners || !l->deferred || !l->scratch || !l->bufmem) {
        xr_net_loop_destroy(l);
        return XR_ERR_NO_MEMORY;
    }
    int rc = ring_init(l);
    if (rc < 0) {
        xr_log_line line;
        xr_log_begin(&line, XR_LOG_ERROR, "net", "io_uring_init_failed");
        xr_log_i64(&line, "errno", -rc);
        xr_log_str(&line, "error", strerror(-rc));
        xr_log_end(&line);
        xr_net_loop_destroy(l);
        return rc == -ENOMEM ? XR_ERR_NO_MEMORY : XR_ERR_IO;
    }
    l->ring_ok = 1;
    /* Blocking (no EFD_NONBLOCK): io_uring then waits for it to become readable instead of
     * completing the read at once with -EAGAIN. */
    l->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        xr_net_loop_destroy(l);
        return XR_ERR_IO;
    }
    l->free_head = NO_SLOT;
    for (uint32_t i = cfg.max_conns; i-- > 0;) {
        xr_net_conn *c = &l->conns[i];
        c->loop = l;
        c->index = i;
        c->fd = -1;
        c->rbuf = l->bufmem + per * i;
        c->rcap = cfg.recv_buf_bytes;
        c->sbuf = c->rbuf + cfg.recv_buf_bytes;
        c->scap = cfg.send_buf_bytes;
        c->next_free = l->free_head;
        l->free_head = i;
    }
    for (uint32_t i = 0; i < cfg.max_listeners; i++) {
        l->listeners[i].loop = l;
        l->listeners[i].index = i;
        l->listeners[i].fd = -1;
    }
    *out = l;
    return XR_OK;
}

void xr_net_loop_destroy(xr_net_loop *l)
{
    if (l == NULL)
        return;
    XR_ASSERT(!l->in_poll);
    if (l->ring_ok)
        io_uring_queue_exit(&l->ring); /* the kernel cancels what is still in flight */
    if (l->wake_fd >= 0)
        (void)close(l->wake_fd);
    if (l->conns) {
        for (uint32_t i = 0; i < l->cfg.max_conns; i++)
            if (l->conns[i].state != CS_FREE && l->conns[i].fd >= 0)
                (void)close(l->conns[i].fd);
    }
    if (l->listeners) {
        for (uint32_t i = 0; i < l->cfg.max_listeners; i++)
            if (l->listeners[i].used && l->listeners[i].fd >= 0)
                (void)close(l->listeners[i].fd);
    }
    free(l->bufmem);
    free(l->scratch);
    free(l->deferred);
    free(l->listeners);
    free(l->conns);
    free(l);
}

uint32_t xr_net_loop_flags_active(const xr_net_loop *l)
{
    return l->flags_active;
}

uint32_t xr_net_loop_conn_count(const xr_net_loop *l)
{
    return l->live;
}

void xr_net_loop_stats_get(const xr_net_loop *l, xr_net_loop_stats *out)
{
    *out = l->stats;
}

xr_err xr_net_loop_wake(xr_net_loop *l)
{
    XR_ASSERT(l != NULL);
    uint64_t one = 1;
    /* An eventfd write never blocks below a count of 2^64 - 2, never short. */
    return write(l->wake_fd, &one, sizeof one) == (ssize_t)sizeof one ? XR_OK : XR_ERR_IO;
}

/* Keeps one read of wake_fd in flight, so that a wake ends a blocking poll. */
static void arm_wake(xr_net_loop *l)
{
    if (l->wake_armed || !sq_reserve(l, 1))
        return;
    struct io_uring_sqe *sqe = sqe_get(l);
    io_uring_prep_read(sqe, l->wake_fd, &l->wake_count, sizeof l->wake_count, 0);
    io_uring_sqe_set_data64(sqe, ud_make(0, 0, OP_WAKE));
    l->wake_armed = 1;
}

#define CQE_BATCH 64

xr_err xr_net_loop_poll(xr_net_loop *l, uint64_t timeout_ns, uint32_t *events_out)
{
    XR_ASSERT(!l->in_poll);
    l->in_poll = 1;
    loop_enable(l);
    l->stats.polls++;
    uint32_t events = run_deferred(l);
    arm_listeners(l);
    arm_wake(l);
    if (events > 0 || l->ndeferred > 0)
        timeout_ns = 0;

    int rc;
    if (timeout_ns == 0) {
        /* Also runs deferred task work, without which a DEFER_TASKRUN ring posts nothing. */
        rc = io_uring_submit_and_get_events(&l->ring);
    } else if (timeout_ns == TIMEOUT_MAX) {
        rc = io_uring_submit_and_wait(&l->ring, 1);
    } else {
        struct __kernel_timespec ts;
        struct io_uring_cqe *cqe = NULL;
        ns_to_ts(&ts, timeout_ns);
        rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
        l->in_poll = 0;
        xr_log_line line;
        xr_log_begin(&line, XR_LOG_ERROR, "net", "io_uring_enter_failed");
        xr_log_i64(&line, "errno", -rc);
        xr_log_end(&line);
        return XR_ERR_IO;
    }

    /* Bounded: without DEFER_TASKRUN completions keep arriving while we work, and one
     * poll must return to its stage in bounded time. */
    uint32_t budget = l->cfg.max_conns * 8u + 64u;
    while (budget > 0) {
        struct io_uring_cqe *cqes[CQE_BATCH];
        unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, CQE_BATCH);
        if (n == 0)
            break;
        uint64_t uds[CQE_BATCH];
        int32_t res[CQE_BATCH];
        uint32_t flags[CQE_BATCH];
        for (unsigned i = 0; i < n; i++) {
            uds[i] = cqes[i]->user_data;
            res[i] = cqes[i]->res;
            flags[i] = cqes[i]->flags;
        }
        io_uring_cq_advance(&l->ring, n);
        for (unsigned i = 0; i < n; i++) {
            if (uds[i] == LIBURING_UDATA_TIMEOUT)
                continue; /* liburing's own wait timeout on kernels without EXT_ARG */
            enum op_kind kind = (enum op_kind)(uds[i] & 0xff);
            if (kind == OP_WAKE) {
                l->wake_armed = 0; /* woken (or the read failed): armed again next poll */
                events++;
                continue;
            }
            uint32_t index = (uint32_t)((uds[i] >> 8) & 0xffffff);
            uint32_t gen = (uint32_t)(uds[i] >> 32);
            if (kind == OP_ACCEPT || kind == OP_ACCEPT_CANCEL)
                on_listener_cqe(l, kind, index, gen, res[i], flags[i]);
            else
                on_conn_cqe(l, kind, index, gen, res[i]);
            events++;
        }
        budget = budget > n ? budget - n : 0;
    }
    events += run_deferred(l);
    arm_listeners(l);
    /* Replies and re-armed receives go out now rather than at the next poll. */
    if (io_uring_sq_ready(&l->ring) > 0)
        (void)io_uring_submit(&l->ring);
    l->in_poll = 0;
    if (events_out)
        *events_out = events;
    return XR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Connections */

static int handler_ok(const xr_net_handler *h)
{
    return h != NULL && h->on_data != NULL && h->on_close != NULL;
}

xr_err xr_net_connect(xr_net_loop *l, const char *ip, uint16_t port, const xr_net_conn_opts *opts,
                      const xr_net_handler *handler, void *user, xr_net_conn **out)
{
    if (l == NULL || ip == NULL || port == 0 || !handler_ok(handler) || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int family = parse_addr(ip, port, &ss, &sslen);
    if (family < 0)
        return XR_ERR_INVALID_ARGUMENT;
    loop_enable(l);
    if (l->free_head == NO_SLOT)
        return XR_ERR_NO_MEMORY;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
                   ? XR_ERR_NO_MEMORY
                   : XR_ERR_IO;
    xr_net_conn_opts o;
    opts_merge(&o, opts, &l->cfg.conn);
    xr_net_conn *c = slot_alloc(l, fd, &o, handler, user);
    XR_ASSERT(c != NULL);
    conn_setup_socket(c, &o);
    c->addr = ss;
    c->addrlen = sslen;
    c->state = CS_CONNECTING;
    if (!post_connect(c)) {
        (void)close(fd);
        c->fd = -1;
        slot_free(c);
        return XR_ERR_NO_MEMORY;
    }
    *out = c;
    return XR_OK;
}

xr_err xr_net_listen(xr_net_loop *l, const char *ip, uint16_t port, int backlog,
                     const xr_net_conn_opts *opts, const xr_net_handler *handler, void *user,
                     xr_net_listener **out)
{
    if (l == NULL || ip == NULL || !handler_ok(handler) || out == NULL || backlog < 0)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int family = parse_addr(ip, port, &ss, &sslen);
    if (family < 0)
        return XR_ERR_INVALID_ARGUMENT;
    loop_enable(l);
    xr_net_listener *ls = NULL;
    for (uint32_t i = 0; i < l->cfg.max_listeners; i++) {
        if (!l->listeners[i].used) {
            ls = &l->listeners[i];
            break;
        }
    }
    if (ls == NULL)
        return XR_ERR_NO_MEMORY;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return XR_ERR_IO;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, backlog) != 0) {
        (void)close(fd);
        return XR_ERR_IO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        (void)close(fd);
        return XR_ERR_IO;
    }
    ls->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                       : ((struct sockaddr_in6 *)&bound)->sin6_port);
    ls->fd = fd;
    ls->handler = handler;
    ls->user = user;
    opts_merge(&ls->opts, opts, &l->cfg.conn);
    ls->used = 1;
    ls->closing = 0;
    ls->accept_inflight = 0;
    ls->cancel_pending = 0;
    ls->multishot = 1;
    ls->ops = 0;
    (void)post_accept(ls); /* if the ring is full, the next poll arms it */
    *out = ls;
    return XR_OK;
}

uint16_t xr_net_listener_port(const xr_net_listener *ls)
{
    return ls->port;
}

void xr_net_listener_close(xr_net_listener *ls)
{
    if (ls == NULL || !ls->used || ls->closing)
        return;
    ls->closing = 1;
    if (ls->ops == 0) {
        (void)close(ls->fd);
        ls->fd = -1;
        ls->used = 0;
        ls->gen++;
        return;
    }
    /* The slot stays reserved until the pending accept has completed; closing the socket
     * would not end it (io_uring holds a reference), so it is cancelled. If the ring is
     * full the next poll posts the cancel. */
    ls->cancel_pending = 1;
    (void)post_accept_cancel(ls);
}

xr_err xr_net_conn_send(xr_net_conn *c, const void *data, size_t len, size_t *sent)
{
    if (sent)
        *sent = 0;
    if (c == NULL || (data == NULL && len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        return XR_ERR_INVALID_STATE;
    size_t space = c->scap - c->slen;
    size_t n = len < space ? len : space;
    if (n > 0) {
        uint32_t tail = (c->shead + c->slen) % c->scap;
        size_t first = c->scap - tail;
        if (first > n)
            first = n;
        memcpy(c->sbuf + tail, data, first);
        memcpy(c->sbuf, (const uint8_t *)data + first, n - first);
        c->slen += (uint32_t)n;
        if (c->state == CS_OPEN && !c->send_inflight)
            conn_kick(c);
    }
    if (sent)
        *sent = n;
    if (n < len) {
        c->want_writable = 1;
        return XR_ERR_AGAIN;
    }
    return XR_OK;
}

size_t xr_net_conn_send_space(const xr_net_conn *c)
{
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        return 0;
    return c->scap - c->slen;
}

size_t xr_net_conn_send_pending(const xr_net_conn *c)
{
    return c->slen;
}

void xr_net_conn_pause_recv(xr_net_conn *c)
{
    c->paused = 1;
}

void xr_net_conn_resume_recv(xr_net_conn *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    if (c->state != CS_OPEN)
        return;
    if (c->rend > c->rstart)
        c->redeliver = 1;
    defer(c);
}

void xr_net_conn_redeliver(xr_net_conn *c)
{
    if (c->state != CS_OPEN || c->paused || c->rend == c->rstart)
        return;
    c->redeliver = 1;
    defer(c);
}

void xr_net_conn_close(xr_net_conn *c)
{
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        return;
    conn_begin_close(c, XR_OK, 0);
    defer(c);
}

void xr_net_conn_abort(xr_net_conn *c)
{
    if (c->state == CS_FREE)
        return;
    if (c->state != CS_DEAD) {
        c->reason = XR_OK;
        c->os_error = 0;
        c->state = CS_DEAD;
    }
    c->reset_on_close = 1;
    c->slen = 0;
    defer(c);
}

void xr_net_conn_set_handler(xr_net_conn *c, const xr_net_handler *handler, void *user)
{
    XR_ASSERT(handler_ok(handler));
    c->handler = handler;
    c->user = user;
}

int xr_net_conn_os_error(const xr_net_conn *c)
{
    return c->os_error;
}

xr_net_loop *xr_net_conn_loop(const xr_net_conn *c)
{
    return c->loop;
}
