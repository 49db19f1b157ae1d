/*
 * adapters/net/loop.h - the io_uring event loop: TCP connect, accept, send and receive.
 *
 * This is the only code in xroute that touches sockets. Everything above it (TLS, HTTP,
 * WebSocket, venue and bank sessions) is I/O-free and is driven by the callbacks below.
 *
 * Model
 *   A loop owns one io_uring (liburing) and a fixed pool of connection slots, each with a
 *   bounded receive buffer and a bounded send queue, all allocated by xr_net_loop_create();
 *   nothing is allocated afterwards. A stage drives the loop from its poll function with
 *   xr_net_loop_poll(loop, timeout_ns): it submits queued operations, waits at most
 *   timeout_ns for completions (0: never blocks) and runs the callbacks. Every socket
 *   operation is an io_uring request; the loop never makes a blocking system call (the only
 *   direct calls are socket/bind/listen/setsockopt/shutdown/close on sockets, none of which
 *   block here: sockets never linger on close except to send a reset).
 *
 * Busy polling
 *   A stage that owns a core spins by calling xr_net_loop_poll(loop, 0) in its loop; with
 *   XR_NET_LOOP_SINGLE_ISSUER each call is at most one io_uring_enter, which also runs the
 *   kernel's completion work (DEFER_TASKRUN). A stage that must not spin passes a timeout
 *   and sleeps in the kernel until a completion arrives. Both work with every ring.
 *
 * Addresses
 *   Only numeric IPv4 ("127.0.0.1") and IPv6 ("::1") addresses are accepted: name
 *   resolution (getaddrinfo) blocks, so it is the caller's job, off the loop, before connect.
 *
 * Threading
 *   A loop and its connections are single-threaded: every function taking a loop, a
 *   connection or a listener must be called from the one thread that polls the loop
 *   (except xr_net_loop_wake(), which any thread may call).
 *   Different loops are independent and may run on different threads. Callbacks run only
 *   inside xr_net_loop_poll(), never inside the call that caused them, and must not call
 *   xr_net_loop_poll() or xr_net_loop_destroy() themselves. With XR_NET_LOOP_SINGLE_ISSUER
 *   the kernel enforces this: the first thread to call xr_net_connect(), xr_net_listen() or
 *   xr_net_loop_poll() becomes the only thread that may use the loop.
 *
 * Ownership and lifetime
 *   xr_net_conn and xr_net_listener handles point into the loop's pool. A connection handle
 *   is valid from the call that returned it (xr_net_connect) or from its on_open callback
 *   (accepted connections) until its on_close callback returns; every connection gets
 *   exactly one on_close, also when connecting failed. A listener handle is valid until
 *   xr_net_listener_close(). The handler table passed in must stay valid and unchanged for
 *   as long as any connection uses it (make it `static const`). `user` pointers are opaque
 *   to the loop.
 *
 * Flow control
 *   Receive: on_data() is given every unconsumed byte and returns how many it consumed; the
 *   rest is kept and given again, in front of newer bytes. If the receive buffer is full
 *   and on_data() consumed nothing, the connection is closed with XR_ERR_NO_MEMORY (a
 *   message larger than recv_buf_bytes cannot be framed). xr_net_conn_pause_recv() stops
 *   reading: the kernel's buffers fill and TCP pushes back on the peer.
 *   Send: xr_net_conn_send() copies into the connection's send queue as much as fits and
 *   returns XR_ERR_AGAIN when not everything did; on_writable then fires once the queue
 *   has drained completely.
 *
 * Errors
 *   Functions return xr_err. OS failures are -errno inside the loop and are mapped at this
 *   edge: XR_ERR_IO (socket errors, the peer closing, resets; xr_net_conn_os_error() keeps
 *   the errno), XR_ERR_TIMEOUT (connect, receive or send deadline), XR_ERR_AGAIN (send
 *   queue full), XR_ERR_NO_MEMORY (pool, queue or ring exhausted), XR_ERR_INVALID_ARGUMENT
 *   (bad address, port or configuration), XR_ERR_INVALID_STATE (operation not allowed in
 *   the connection's state).
 */
#ifndef XR_ADAPTERS_NET_LOOP_H
#define XR_ADAPTERS_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xr_net_loop xr_net_loop;
typedef struct xr_net_conn xr_net_conn;
typedef struct xr_net_listener xr_net_listener;

/* Create the ring with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (completion
 * work runs only when the loop polls: fewer interrupts, lower latency; the loop becomes
 * bound to one thread, see Threading). Falls back to COOP_TASKRUN, then to a plain ring,
 * when the kernel refuses; xr_net_loop_flags_active() tells what was obtained. */
#define XR_NET_LOOP_SINGLE_ISSUER 0x1u

/* Per-connection limits; zero fields take the defaults in brackets. */
typedef struct xr_net_conn_opts {
    uint64_t connect_timeout_ns; /* connect must complete within this [10 s] */
    uint64_t recv_timeout_ns;    /* close when no byte arrives for this long while the
                                    connection waits for data [0: never] */
    uint64_t send_timeout_ns;    /* close when one send operation does not complete within
                                    this (peer not reading) [30 s]; UINT64_MAX: never */
    uint32_t sndbuf_bytes;       /* SO_SNDBUF [0: kernel default, autotuned] */
    uint32_t rcvbuf_bytes;       /* SO_RCVBUF [0: kernel default, autotuned]; a fixed size
                                    turns autotuning off, and a few KiB or less can leave TCP
                                    crawling in zero-window probes */
} xr_net_conn_opts;

typedef struct xr_net_loop_config {
    uint32_t max_conns;      /* connection slots, client and accepted together [64] */
    uint32_t max_listeners;  /* listening sockets [4] */
    uint32_t recv_buf_bytes; /* receive buffer per connection [64 KiB] */
    uint32_t send_buf_bytes; /* send queue per connection [64 KiB] */
    uint32_t sq_entries;     /* submission queue size [256]; rounded up to a power of 2 */
    uint32_t flags;          /* XR_NET_LOOP_* */
    xr_net_conn_opts conn;   /* defaults for every connection */
} xr_net_loop_config;

/* What happens on a connection. on_data and on_close are required, the others may be NULL.
 * Every callback receives the `user` pointer last set for the connection. */
typedef struct xr_net_handler {
    /* The connection is established (connect completed, or accepted). */
    void (*on_open)(xr_net_conn *conn, void *user);
    /* `len` > 0 bytes arrived (`data` is valid only during the call). Returns how many bytes
     * were consumed, 0..len; the rest is presented again with the next bytes. */
    size_t (*on_data)(xr_net_conn *conn, const uint8_t *data, size_t len, void *user);
    /* The send queue has drained after xr_net_conn_send() returned XR_ERR_AGAIN. */
    void (*on_writable)(xr_net_conn *conn, void *user);
    /* The connection is gone; the handle dies when this returns. `reason`: XR_OK after
     * xr_net_conn_close()/abort(); XR_ERR_IO when the peer closed (os error 0) or reset, or
     * connect failed (ECONNREFUSED, ...); XR_ERR_TIMEOUT; XR_ERR_NO_MEMORY when the receive
     * buffer overflowed. */
    void (*on_close)(xr_net_conn *conn, xr_err reason, void *user);
} xr_net_handler;

typedef struct xr_net_loop_stats {
    uint64_t conns_opened;    /* connects completed + accepts */
    uint64_t conns_closed;    /* on_close callbacks run */
    uint64_t accepts_dropped; /* accepted while no slot was free: closed at once */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t polls;
} xr_net_loop_stats;

/* Fills `cfg` with the defaults above. */
void xr_net_loop_config_default(xr_net_loop_config *cfg);

/* Creates a loop, allocating its ring, slots and buffers. `cfg` may be NULL for defaults and
 * is copied. Returns XR_OK and sets *out; XR_ERR_INVALID_ARGUMENT for a zero or absurd size;
 * XR_ERR_NO_MEMORY; XR_ERR_IO when io_uring_queue_init fails (errno in the log) or the wake
 * eventfd cannot be created. */
xr_err xr_net_loop_create(const xr_net_loop_config *cfg, xr_net_loop **out);

/* Closes every socket (without callbacks), tears down the ring and frees the loop. Handles
 * into the loop are dead afterwards. NULL is a no-op. */
void xr_net_loop_destroy(xr_net_loop *loop);

/* Submits queued operations, waits up to `timeout_ns` for the first completion (0: does not
 * block), then runs every callback that is due. *events_out (may be NULL) receives the
 * number of completions and callbacks handled. Returns XR_OK, also when the timeout expired
 * with nothing to do; XR_ERR_IO if the ring itself failed. */
xr_err xr_net_loop_poll(xr_net_loop *loop, uint64_t timeout_ns, uint32_t *events_out);

/* Makes the loop's current or next xr_net_loop_poll() return soon, also one blocked in its
 * wait (an eventfd read the loop keeps in flight; wakes coalesce). The one function of a
 * loop that may be called from any thread, concurrently with the thread that polls. XR_OK,
 * or XR_ERR_IO if the eventfd write failed. */
xr_err xr_net_loop_wake(xr_net_loop *loop);

/* XR_NET_LOOP_* flags actually in force (SINGLE_ISSUER only if the kernel accepted it). */
uint32_t xr_net_loop_flags_active(const xr_net_loop *loop);

/* Connections holding a slot (connecting, open or closing). */
uint32_t xr_net_loop_conn_count(const xr_net_loop *loop);

void xr_net_loop_stats_get(const xr_net_loop *loop, xr_net_loop_stats *out);

/* Starts a TCP connection to `ip`:`port` (numeric address, see Addresses). `opts` may be
 * NULL for the loop's defaults. On XR_OK *out is the new connection, in the connecting
 * state: bytes may already be queued with xr_net_conn_send(), and on_open or on_close
 * follows from a later poll. Returns XR_ERR_INVALID_ARGUMENT (not a numeric address, port 0,
 * NULL handler callbacks), XR_ERR_NO_MEMORY (no free slot or submission entry), XR_ERR_IO
 * (socket creation failed). Nothing is left behind on error. */
xr_err xr_net_connect(xr_net_loop *loop, const char *ip, uint16_t port,
                      const xr_net_conn_opts *opts, const xr_net_handler *handler, void *user,
                      xr_net_conn **out);

/* Listens on `ip`:`port` (numeric; port 0 picks a free port, see xr_net_listener_port).
 * Accepted connections use `handler` and `user` and get on_open first; they may switch with
 * xr_net_conn_set_handler(). `opts` (may be NULL) applies to accepted connections. When no
 * slot is free an accepted connection is closed at once and counted in accepts_dropped.
 * Returns XR_ERR_INVALID_ARGUMENT, XR_ERR_NO_MEMORY (no listener slot) or XR_ERR_IO (bind or
 * listen failed: address in use, ...). */
xr_err xr_net_listen(xr_net_loop *loop, const char *ip, uint16_t port, int backlog,
                     const xr_net_conn_opts *opts, const xr_net_handler *handler, void *user,
                     xr_net_listener **out);

/* The bound port (useful after listening on port 0). */
uint16_t xr_net_listener_port(const xr_net_listener *listener);

/* Stops accepting and releases the listener; the handle is dead on return. Connections
 * already accepted are not affected. */
void xr_net_listener_close(xr_net_listener *listener);

/* Queues up to `len` bytes for sending, in order after everything queued before. Sets *sent
 * (may be NULL) to the number of bytes queued. Returns XR_OK when all were queued;
 * XR_ERR_AGAIN when the queue was too full for all of them (then on_writable follows once
 * the queue has drained); XR_ERR_INVALID_STATE after close/abort or once the connection
 * failed. A connection still connecting accepts bytes and sends them once open. */
xr_err xr_net_conn_send(xr_net_conn *conn, const void *data, size_t len, size_t *sent);

/* Free space in the send queue in bytes: a send of at most this many bytes cannot fail
 * with XR_ERR_AGAIN. */
size_t xr_net_conn_send_space(const xr_net_conn *conn);

/* Bytes queued and not yet written to the socket. */
size_t xr_net_conn_send_pending(const xr_net_conn *conn);

/* Stops reading from the socket and calling on_data until resumed; the kernel's buffers
 * then fill and TCP pushes back on the peer. A receive already in the kernel still
 * completes (its bytes are kept, and its receive deadline still applies); no new one is
 * started, so no receive timeout runs while paused. Resuming delivers the kept bytes at the
 * next poll. Idempotent. */
void xr_net_conn_pause_recv(xr_net_conn *conn);
void xr_net_conn_resume_recv(xr_net_conn *conn);

/* Offers the bytes kept from an earlier on_data (the ones it did not consume) again at the
 * next poll, without waiting for new bytes: for a consumer that stopped because something
 * downstream was full and now has room. A no-op when nothing is kept or reading is
 * paused. */
void xr_net_conn_redeliver(xr_net_conn *conn);

/* Graceful close: no more on_data; bytes already queued are sent (under the send timeout),
 * then the write side is shut down and the socket closed; on_close(XR_OK) follows.
 * Idempotent; a no-op once the connection is failing. As with any TCP close, bytes the peer
 * sent that were never read make the kernel answer with a reset. */
void xr_net_conn_close(xr_net_conn *conn);

/* Immediate close: queued bytes are dropped and the peer gets a TCP reset; on_close(XR_OK)
 * follows at the next poll. Idempotent. */
void xr_net_conn_abort(xr_net_conn *conn);

/* Replaces the handler and user pointer (typically in on_open of an accepted connection,
 * or when a protocol layer takes the connection over). `handler` must not be NULL. */
void xr_net_conn_set_handler(xr_net_conn *conn, const xr_net_handler *handler, void *user);

/* The errno behind the failure that is closing the connection (ECONNREFUSED, ECONNRESET,
 * ETIMEDOUT, ...), or 0: no failure yet, an orderly close, or a close by the peer. */
int xr_net_conn_os_error(const xr_net_conn *conn);

/* The loop the connection belongs to. */
xr_net_loop *xr_net_conn_loop(const xr_net_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_NET_LOOP_H */
