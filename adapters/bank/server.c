/* The bank gateway: sessions on the io_uring loop, the engine, the durable outbox.
 *
 * One iteration (xr_bank_server_run_once) is: serve the sockets (requests decoded and
 * submitted to the engine as they arrive), retry requests the engine had no room for, poll
 * the engine and stage its events in the outbox, commit the outbox once (one fsync for the
 * whole batch), then send every session what has become durable for its bank, in seq
 * order, straight from the outbox. Sending only from the outbox makes a new response, a
 * replay after logon and a REPLAY_REQUEST the same code: a session is a cursor (send_next)
 * over its bank's stored frames. */
#include "adapters/bank/server.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/outbox.h"
#include "adapters/bank/session.h"
#include "adapters/net/loop.h"
#include "adapters/net/stream.h"
#include "adapters/net/tls.h"
#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#define RX_CAP           (4 * XR_PROTO_FRAME_MAX)
#define TX_CAP           (6 * XR_PROTO_FRAME_MAX)
#define TX_RESERVE       512 /* kept free for session messages (heartbeat, reject, logout) */
#define EV_BATCH         64
#define STAGE_ROUNDS     4 /* engine polls per iteration at most; the outbox stages all of them */
#define PENDING_MAX      XR_BANK_RESTING_MAX
#define BUSY_NS          (50 * XR_NS_PER_MS)
#define BUSY_WAIT_NS     (200 * XR_NS_PER_US)
#define IDLE_WAIT_NS     (1 * XR_NS_PER_MS)
#define STALL_WAIT_NS    (50 * XR_NS_PER_US) /* THREADS: retry of a full ring; no busy spin */
#define INTERNAL_CORR    (UINT64_C(1) << 63) /* correlation ids of the server's own commands */
#define ACKQ             64   /* execution reports awaiting their ACK (ack-required sessions) */
#define ACKORD_MAX       1024 /* orders placed with "ack required" and not final yet */
#define COMPACT_EVERY_NS XR_NS_PER_SEC /* outbox retention: one compaction step per second */

#define INFLIGHT_BITS 13 /* requests in the engine tracked exactly: 2^13 - 1 at once */
#define INFLIGHT_CAP  (1u << INFLIGHT_BITS)

enum { S_FREE = 0, S_LOGON, S_LIVE, S_CLOSING };

/* One (bank, correlation id) with requests in the engine and no answer yet. The engine
 * answers every command once, but also sends unsolicited events (a resting order's final
 * report, the order's own report when it is cancelled) carrying an old correlation id: a
 * plain counter of events would count those as answers. Keyed on the pair, they are not. */
typedef struct inflight {
    uint32_t bank_id; /* 0 = empty slot */
    uint32_t count;   /* requests with this id in the engine (a bank may reuse an id) */
    uint64_t corr;
} inflight;

typedef struct sess {
    xr_net_stream st;
    xr_tls *tls;
    struct xr_bank_server *srv;
    int state;
    uint64_t id;
    uint32_t bank_id;
    uint32_t hb_ms;
    uint8_t flags;
    uint8_t clean;   /* ended by the bank's LOGOUT(OK) or by a drain: no cancel-on-disconnect */
    uint8_t stalled; /* a request waits for room in the engine's ring */
    uint8_t dead;    /* ended by heartbeat timeout */
    uint64_t opened_ns, last_rx_ns, last_tx_ns; /* monotonic */
    uint64_t send_next;                         /* next seq to send from the outbox */
    uint64_t rp_next, rp_end; /* a REPLAY_REQUEST's resend: [rp_next, rp_end), before new ones */
    uint64_t acked;
    uint8_t rx[RX_CAP];
    size_t rx_len;
    uint8_t tx[TX_CAP];
    size_t tx_len;
    /* ack-required sessions: the execution reports sent and not yet ACKed, oldest first */
    uint64_t ackq_seq[ACKQ], ackq_due[ACKQ]; /* monotonic deadline of each */
    uint32_t ackq_head, ackq_n;
} sess;

struct xr_bank_server {
    xr_bank_server_config cfg;
    xr_engine *engine;
    xr_net_loop *loop;
    xr_net_listener *listener;
    uint16_t port;
    int tls_on;
    xr_tls_identity identity;
    xr_tls *tls_pool;
    xr_bank_outbox *outbox;
    xr_bank_auth auth;
    xr_bank_resting resting;
    /* Orders placed with the per-order "ack required" option (docs/protocol.md §5.7) whose
     * reports are still to come: their EXEC_REPORTs are stored with the flag. */
    struct ackord {
        uint32_t bank_id; /* 0 = free */
        uint16_t deadline_ms;
        uint64_t corr; /* the NEW_ORDER's */
        xr_engine_key key;
    } ackord[ACKORD_MAX];
    uint32_t nackord;
    uint64_t acked[XR_BANK_SERVER_KEYS_MAX]; /* per bank: highest seq the bank processed */
    uint64_t next_compact_ns;
    sess *sessions;
    uint32_t nsessions;
    uint32_t bank_ids[XR_BANK_SERVER_KEYS_MAX];
    sess *live[XR_BANK_SERVER_KEYS_MAX]; /* the live session of bank_ids[i], or NULL */
    uint32_t nbanks;
    xr_engine_event *evbuf;
    xr_engine_cmd *pending; /* server commands (cancel-on-disconnect) waiting for ring room */
    uint32_t npending;
    inflight *infl; /* open-addressing set of INFLIGHT_CAP slots, linear probing */
    uint32_t infl_used;
    uint64_t infl_pending;  /* requests submitted and not answered yet */
    uint64_t infl_overflow; /* of which not in the set (it was full) */
    uint64_t next_session_id;
    uint64_t next_internal_corr;
    uint64_t busy_until_ns;
    uint64_t progress_seen; /* requests + responses at the last iteration: moved = busy */
    int threaded; /* the engine runs on its own threads (THREADS): its notifier wakes the loop */
    int draining;
    xr_bank_server_stats stats;
};

static void sess_end(sess *s, xr_err why);
static void engine_ready(void *ctx);

/* ---- helpers --------------------------------------------------------------------------- */

static int bank_index(const xr_bank_server *srv, uint32_t bank_id)
{
    for (uint32_t i = 0; i < srv->nbanks; i++)
        if (srv->bank_ids[i] == bank_id)
            return (int)i;
    return -1;
}

static void log_sess(const sess *s, xr_log_level lvl, const char *ev, xr_err err)
{
    xr_log_line l;
    xr_log_begin(&l, lvl, "bank", ev);
    xr_log_u64(&l, "session", s->id);
    xr_log_u64(&l, "bank", s->bank_id);
    xr_log_err(&l, err);
    xr_log_end(&l);
}

/* Hands the pending tx bytes to the stream (which copies them). */
static void tx_flush(sess *s)
{
    if (s->tx_len == 0 || s->st.conn == NULL || !s->st.opened)
        return;
    size_t sent = 0;
    xr_err e = xr_net_stream_send(&s->st, s->tx, s->tx_len, &sent);
    if (sent > 0) {
        memmove(s->tx, s->tx + sent, s->tx_len - sent);
        s->tx_len -= sent;
    }
    (void)e; /* AGAIN: on_writable flushes the rest; INVALID_STATE: on_close follows */
}

/* Appends one encoded frame to the session's tx buffer. XR_ERR_AGAIN when it does not fit
 * (leaving `reserve` bytes free). */
static xr_err tx_put(sess *s, const uint8_t *frame, size_t len, size_t reserve)
{
    if (s->tx_len + len + reserve > TX_CAP)
        return XR_ERR_AGAIN;
    memcpy(s->tx + s->tx_len, frame, len);
    s->tx_len += len;
    s->last_tx_ns = xr_clock_mono_ns();
    return XR_OK;
}

static void send_msg(sess *s, const xr_bank_msg *m)
{
    uint8_t buf[XR_PROTO_LOGON_LEN];
    size_t len = 0;
    xr_err e = xr_bank_encode(m, buf, sizeof buf, &len);
    XR_ASSERT(e == XR_OK);
    if (tx_put(s, buf, len, 0) != XR_OK)
        log_sess(s, XR_LOG_WARN, "tx_full", XR_ERR_AGAIN);
    tx_flush(s);
}

static void send_reject(sess *s, xr_err err, uint8_t ref_type, uint64_t offset, uint64_t corr)
{
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_SESSION_REJECT;
    m.u.reject.err = err;
    m.u.reject.ref_type = ref_type;
    m.u.reject.offset = offset;
    m.u.reject.correlation_id = corr;
    send_msg(s, &m);
}

static void send_logout(sess *s, xr_err reason)
{
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_LOGOUT;
    m.u.logout.reason = reason;
    send_msg(s, &m);
}

/* Refuses and ends: SESSION_REJECT, LOGOUT with the same code, close. */
static void refuse_and_close(sess *s, xr_err err, uint8_t ref_type, uint64_t offset)
{
    send_reject(s, err, ref_type, offset, 0);
    send_logout(s, err);
    sess_end(s, err);
}

/* ---- requests in the engine ------------------------------------------------------------ */

static uint32_t infl_home(uint32_t bank, uint64_t corr)
{
    uint64_t h =
        corr * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)bank * UINT64_C(0xC2B2AE3D27D4EB4F);
    return (uint32_t)(h >> (64 - INFLIGHT_BITS));
}

static void infl_add(xr_bank_server *srv, uint32_t bank, uint64_t corr)
{
    srv->infl_pending++;
    uint32_t i = infl_home(bank, corr);
    for (;;) {
        inflight *f = &srv->infl[i];
        if (f->bank_id == bank && f->corr == corr) {
            f->count++;
            return;
        }
        if (f->bank_id == 0)
            break;
        i = (i + 1) & (INFLIGHT_CAP - 1);
    }
    if (srv->infl_used + 1 >= INFLIGHT_CAP) {
        srv->infl_overflow++; /* counted, not keyed: see infl_answer */
        return;
    }
    srv->infl[i] = (inflight){.bank_id = bank, .count = 1, .corr = corr};
    srv->infl_used++;
}

/* An event arrived for (bank, corr): if a request with that id waits, it is answered. */
static void infl_answer(xr_bank_server *srv, uint32_t bank, uint64_t corr)
{
    uint32_t i = infl_home(bank, corr);
    for (;;) {
        inflight *f = &srv->infl[i];
        if (f->bank_id == 0) {
            /* Unknown: unsolicited, or a request that overflowed the set. */
            if (srv->infl_overflow > 0) {
                srv->infl_overflow--;
                srv->infl_pending--;
            }
            return;
        }
        if (f->bank_id == bank && f->corr == corr)
            break;
        i = (i + 1) & (INFLIGHT_CAP - 1);
    }
    srv->infl_pending--;
    if (--srv->infl[i].count > 0)
        return;
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & (INFLIGHT_CAP - 1);
        const inflight *g = &srv->infl[j];
        if (g->bank_id == 0)
            break;
        uint32_t k = infl_home(g->bank_id, g->corr);
        /* g may move to i when its home k is not cyclically inside (i, j]. */
        int inside = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!inside) {
            srv->infl[i] = *g;
            i = j;
        }
    }
    srv->infl[i] = (inflight){0};
    srv->infl_used--;
}

/* ---- per-order "ack required" ------------------------------------------------------------ */

static struct ackord *ackord_find(xr_bank_server *srv, uint32_t bank, const xr_engine_key *k)
{
    if (srv->nackord == 0)
        return NULL;
    for (uint32_t i = 0; i < ACKORD_MAX; i++)
        if (srv->ackord[i].bank_id == bank && memcmp(srv->ackord[i].key.bytes, k->bytes, 16) == 0)
            return &srv->ackord[i];
    return NULL;
}

/* Notes an order placed with the option; XR_ERR_AGAIN when the table is full. */
static xr_err ackord_note(xr_bank_server *srv, uint32_t bank, const xr_engine_key *k, uint64_t corr,
                          uint16_t deadline_ms)
{
    struct ackord *a = ackord_find(srv, bank, k);
    if (a == NULL) {
        if (srv->nackord == ACKORD_MAX)
            return XR_ERR_AGAIN;
        for (uint32_t i = 0; i < ACKORD_MAX && a == NULL; i++)
            if (srv->ackord[i].bank_id == 0)
                a = &srv->ackord[i];
        srv->nackord++;
    }
    a->bank_id = bank;
    a->key = *k;
    a->deadline_ms = deadline_ms;
    a->corr = corr;
    return XR_OK;
}

/* ---- submitting commands ---------------------------------------------------------------- */

static xr_err submit(xr_bank_server *srv, const xr_engine_cmd *c)
{
    xr_err e = xr_engine_submit(srv->engine, c);
    if (e == XR_OK) {
        infl_add(srv, c->bank_id, c->correlation_id);
        srv->stats.requests++;
        if (xr_bank_resting_note_cmd(&srv->resting, c) != XR_OK) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_WARN, "bank", "resting_table_full");
            xr_log_u64(&l, "bank", c->bank_id);
            xr_log_end(&l);
        }
    }
    return e;
}

static void submit_pending(xr_bank_server *srv)
{
    uint32_t done = 0;
    while (done < srv->npending && submit(srv, &srv->pending[done]) == XR_OK)
        done++;
    if (done > 0) {
        memmove(srv->pending, srv->pending + done, (srv->npending - done) * sizeof *srv->pending);
        srv->npending -= done;
    }
}

/* Cancel-on-disconnect (docs/protocol.md §5.6): a CANCEL for each order of the bank that may
 * rest; their answers are sequenced to the bank like any other response. */
static void cancel_on_disconnect(xr_bank_server *srv, uint32_t bank_id)
{
    srv->stats.cancel_on_disconnect++;
    size_t room = PENDING_MAX - srv->npending;
    size_t n = xr_bank_resting_cancels(&srv->resting, bank_id, srv->pending + srv->npending, room,
                                       &srv->next_internal_corr);
    srv->npending += (uint32_t)n;
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "bank", "cancel_on_disconnect");
    xr_log_u64(&l, "bank", bank_id);
    xr_log_u64(&l, "orders", n);
    xr_log_end(&l);
    submit_pending(srv);
}

/* ---- frames from the bank --------------------------------------------------------------- */

static void on_logon(sess *s, const xr_bank_msg *m, const uint8_t *frame)
{
    xr_bank_server *srv = s->srv;
    const xr_proto_logon *lo = &m->u.logon;
    xr_err e = xr_bank_auth_check(&srv->auth, lo, frame, xr_clock_wall_ns());
    int bi = bank_index(srv, lo->bank_id);
    if (e == XR_OK && bi < 0)
        e = XR_ERR_UNAUTHORIZED;
    if (e == XR_OK && srv->live[bi] != NULL)
        e = XR_ERR_INVALID_STATE; /* one live session per bank: the second is refused */
    uint64_t durable_next = e == XR_OK ? xr_bank_outbox_durable_next(srv->outbox, lo->bank_id) : 0;
    if (e == XR_OK && lo->last_seq >= durable_next)
        e = XR_ERR_INVALID_ARGUMENT;
    if (e == XR_OK && srv->draining)
        e = XR_ERR_AGAIN;
    s->bank_id = lo->bank_id;
    if (e != XR_OK) {
        srv->stats.logons_refused++;
        log_sess(s, XR_LOG_WARN, "logon_refused", e);
        s->bank_id = 0;
        refuse_and_close(s, e, XR_PROTO_LOGON, 0);
        return;
    }
    s->state = S_LIVE;
    s->hb_ms = xr_bank_heartbeat_ms(lo->heartbeat_ms, srv->cfg.heartbeat_default_ms);
    s->flags = lo->flags & XR_BANK_LOGON_FLAGS_ALL;
    s->ackq_head = s->ackq_n = 0;
    s->rp_next = s->rp_end = 0;
    s->send_next = lo->last_seq + 1;
    s->acked = lo->last_seq;
    if (lo->last_seq > srv->acked[bi])
        srv->acked[bi] = lo->last_seq;
    /* Below the retention horizon nothing is left to replay (the bank had processed and
     * acknowledged it): replay_from says where the replay really starts (§5.4). */
    uint64_t horizon = xr_bank_outbox_first_seq(srv->outbox, s->bank_id);
    if (s->send_next < horizon)
        s->send_next = horizon;
    srv->live[bi] = s;
    srv->stats.logons++;
    xr_bank_msg a;
    memset(&a, 0, sizeof a);
    a.type = XR_PROTO_LOGON_ACK;
    a.u.logon_ack.session_id = s->id;
    a.u.logon_ack.next_seq = xr_bank_outbox_next_seq(srv->outbox, s->bank_id);
    a.u.logon_ack.replay_from = s->send_next;
    a.u.logon_ack.server_time_ns = xr_clock_wall_ns();
    a.u.logon_ack.heartbeat_ms = s->hb_ms;
    a.u.logon_ack.flags = s->flags;
    send_msg(s, &a);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "bank", "logon");
    xr_log_u64(&l, "session", s->id);
    xr_log_u64(&l, "bank", s->bank_id);
    xr_log_u64(&l, "key", lo->key_id);
    xr_log_u64(&l, "replay_from", s->send_next);
    xr_log_u64(&l, "next_seq", a.u.logon_ack.next_seq);
    xr_log_u64(&l, "heartbeat_ms", s->hb_ms);
    xr_log_end(&l);
}

/* Handles one decoded frame. Returns 0 when the frame could not be taken now (the engine's
 * ring is full): it stays in rx and is retried. */
static int on_frame(sess *s, const xr_bank_msg *m, const uint8_t *frame)
{
    xr_bank_server *srv = s->srv;
    srv->stats.frames_in++;
    if (s->state == S_LOGON) {
        if (m->type != XR_PROTO_LOGON) {
            refuse_and_close(s, XR_ERR_UNAUTHORIZED, m->type, 0);
            return 1;
        }
        on_logon(s, m, frame);
        return 1;
    }
    switch (m->type) {
    case XR_PROTO_LOGON:
        send_reject(s, XR_ERR_INVALID_STATE, m->type, 0, 0);
        return 1;
    case XR_PROTO_HEARTBEAT:
        return 1;
    case XR_PROTO_LOGOUT:
        s->clean = m->u.logout.reason == XR_OK;
        send_logout(s, XR_OK);
        sess_end(s, m->u.logout.reason);
        return 1;
    case XR_PROTO_ACK:
        if (m->u.ack.seq >= xr_bank_outbox_durable_next(srv->outbox, s->bank_id))
            send_reject(s, XR_ERR_INVALID_ARGUMENT, m->type, 0, 0);
        else if (m->u.ack.seq > s->acked)
            s->acked = m->u.ack.seq;
        {
            int bi = bank_index(srv, s->bank_id);
            if (bi >= 0 && s->acked > srv->acked[bi])
                srv->acked[bi] = s->acked;
        }
        while (s->ackq_n > 0 && s->ackq_seq[s->ackq_head] <= s->acked) {
            s->ackq_head = (s->ackq_head + 1) % ACKQ;
            s->ackq_n--;
        }
        return 1;
    case XR_PROTO_REPLAY_REQUEST:
        if (m->u.replay.after_seq >= xr_bank_outbox_durable_next(srv->outbox, s->bank_id)) {
            send_reject(s, XR_ERR_INVALID_ARGUMENT, m->type, 0, 0);
        } else if (m->u.replay.after_seq + 1 < xr_bank_outbox_first_seq(srv->outbox, s->bank_id)) {
            /* below the retention horizon (§5.5): those messages are gone */
            send_reject(s, XR_ERR_NOT_FOUND, m->type, 0, 0);
        } else {
            /* Resend what this session already sent from after_seq + 1 on (at most
             * max_count); what it has not sent yet follows from the live cursor anyway. A
             * new request replaces one still running. */
            uint64_t from = m->u.replay.after_seq + 1;
            uint64_t to = s->send_next;
            if (m->u.replay.max_count != 0 && to > from && to - from > m->u.replay.max_count)
                to = from + m->u.replay.max_count;
            s->rp_next = from < to ? from : 0;
            s->rp_end = from < to ? to : 0;
        }
        return 1;
    default:
        break;
    }
    if (m->type > XR_PROTO_CMD_BASE && m->type < XR_PROTO_EV_BASE) {
        if (m->u.cmd.bank_id != s->bank_id) {
            /* Isolation: never executed, whatever the request. */
            log_sess(s, XR_LOG_WARN, "cross_bank_request", XR_ERR_UNAUTHORIZED);
            send_reject(s, XR_ERR_UNAUTHORIZED, m->type, 0, m->u.cmd.correlation_id);
            return 1;
        }
        if (srv->draining) {
            send_reject(s, XR_ERR_AGAIN, m->type, 0, m->u.cmd.correlation_id);
            return 1;
        }
        int want_ack =
            m->type == XR_PROTO_NEW_ORDER && (m->order_flags & XR_BANK_ORDER_ACK_REQUIRED) != 0;
        if (want_ack && srv->nackord == ACKORD_MAX &&
            ackord_find(srv, s->bank_id, &m->u.cmd.u.order.key) == NULL) {
            /* nothing executed: the bank may send it again later */
            log_sess(s, XR_LOG_WARN, "ack_required_table_full", XR_ERR_AGAIN);
            send_reject(s, XR_ERR_AGAIN, m->type, 0, m->u.cmd.correlation_id);
            return 1;
        }
        xr_err e = submit(srv, &m->u.cmd);
        if (e == XR_OK && want_ack)
            ackord_note(srv, s->bank_id, &m->u.cmd.u.order.key, m->u.cmd.correlation_id,
                        m->ack_deadline_ms);
        if (e == XR_ERR_AGAIN) {
            /* Back-pressure: stop reading this connection (TCP pushes back on the bank)
             * until the engine's ring has room; the frame stays in rx. Without the pause the
             * loop's receive buffer would fill and the connection be closed. */
            s->stalled = 1;
            if (s->st.conn != NULL)
                xr_net_conn_pause_recv(s->st.conn);
            return 0;
        }
        if (e != XR_OK)
            send_reject(s, e, m->type, 0, m->u.cmd.correlation_id);
        return 1;
    }
    /* A well-formed frame of an engine->bank type: not valid in this direction. */
    srv->stats.malformed++;
    refuse_and_close(s, XR_ERR_MALFORMED, m->type, XR_PROTO_OFF_TYPE);
    return 1;
}

/* Decodes and handles every complete frame in rx. */
static void process_rx(sess *s)
{
    size_t off = 0;
    s->stalled = 0;
    while (s->state == S_LOGON || s->state == S_LIVE) {
        xr_bank_msg m;
        size_t used = 0, bad = 0;
        xr_err e = xr_bank_decode(s->rx + off, s->rx_len - off, &m, &used, &bad);
        if (e == XR_ERR_AGAIN)
            break;
        if (e != XR_OK) {
            uint8_t t = s->rx_len - off > XR_PROTO_OFF_TYPE ? s->rx[off + XR_PROTO_OFF_TYPE] : 0;
            s->srv->stats.malformed++;
            log_sess(s, XR_LOG_WARN, "malformed", e);
            refuse_and_close(s, XR_ERR_MALFORMED, t, bad);
            off = s->rx_len;
            break;
        }
        if (!on_frame(s, &m, s->rx + off))
            break;
        off += used;
    }
    if (s->state == S_CLOSING || s->state == S_FREE)
        off = s->rx_len;
    memmove(s->rx, s->rx + off, s->rx_len - off);
    s->rx_len -= off;
}

/* ---- stream callbacks -------------------------------------------------------------------- */

static size_t st_data(xr_net_stream *st, const uint8_t *data, size_t len, void *user)
{
    sess *s = user;
    (void)st;
    if (s->state != S_LOGON && s->state != S_LIVE)
        return len;
    s->last_rx_ns = xr_clock_mono_ns();
    s->srv->busy_until_ns = s->last_rx_ns + BUSY_NS;
    /* Take everything unless the engine pushes back: bytes left with the connection are
     * offered again only when more arrive, and a bank waiting for its answers sends none. */
    size_t used = 0;
    while (used < len && !s->stalled && (s->state == S_LOGON || s->state == S_LIVE)) {
        size_t take = RX_CAP - s->rx_len;
        if (take > len - used)
            take = len - used;
        XR_ASSERT(take > 0); /* process_rx leaves less than one frame unless stalled */
        memcpy(s->rx + s->rx_len, data + used, take);
        s->rx_len += take;
        used += take;
        process_rx(s);
    }
    if (s->state != S_LOGON && s->state != S_LIVE)
        return len;
    return used; /* stalled: the rest stays with the paused connection */
}

static void st_open(xr_net_stream *st, void *user)
{
    sess *s = user;
    (void)st;
    tx_flush(s);
}

static void st_writable(xr_net_stream *st, void *user)
{
    (void)st;
    tx_flush(user);
}

static void st_close(xr_net_stream *st, xr_err reason, void *user)
{
    sess *s = user;
    xr_bank_server *srv = s->srv;
    (void)st;
    if (s->state == S_LIVE || s->state == S_CLOSING) {
        int bi = bank_index(srv, s->bank_id);
        if (bi >= 0 && srv->live[bi] == s) {
            srv->live[bi] = NULL;
            if (!s->clean && (s->flags & XR_PROTO_LOGON_CANCEL_ON_DISCONNECT))
                cancel_on_disconnect(srv, s->bank_id);
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_INFO, "bank", "session_end");
            xr_log_u64(&l, "session", s->id);
            xr_log_u64(&l, "bank", s->bank_id);
            xr_log_u64(&l, "clean", s->clean);
            xr_log_u64(&l, "dead_peer", s->dead);
            xr_log_u64(&l, "sent_to", s->send_next - 1);
            xr_log_u64(&l, "acked", s->acked);
            xr_log_err(&l, reason);
            xr_log_end(&l);
        }
    }
    xr_tls *tls = s->tls;
    memset(s, 0, offsetof(sess, rx));
    s->rx_len = 0;
    s->tx_len = 0;
    s->srv = srv;
    s->tls = tls;
    s->state = S_FREE;
}

static const xr_net_stream_handler stream_handler = {
    .on_open = st_open, .on_data = st_data, .on_writable = st_writable, .on_close = st_close};

/* Ends a session: the queued bytes go out, then the connection closes; st_close finishes.
 * A session whose bank was live is freed for the bank's next logon at once. */
static void sess_end(sess *s, xr_err why)
{
    (void)why;
    if (s->state == S_FREE || s->state == S_CLOSING)
        return;
    /* The bank's live slot is kept until st_close has run cancel-on-disconnect, so a new
     * logon of the same bank cannot race the old session's end. */
    s->state = S_CLOSING;
    tx_flush(s);
    xr_net_stream_close(&s->st);
}

/* ---- listener ---------------------------------------------------------------------------- */

static void ls_open(xr_net_conn *conn, void *user)
{
    xr_bank_server *srv = user;
    sess *s = NULL;
    for (uint32_t i = 0; i < srv->nsessions && s == NULL; i++)
        if (srv->sessions[i].state == S_FREE && srv->sessions[i].st.conn == NULL)
            s = &srv->sessions[i];
    if (s == NULL || srv->draining) {
        xr_net_conn_abort(conn);
        return;
    }
    srv->stats.connections++;
    s->state = S_LOGON;
    s->id = ++srv->next_session_id;
    s->opened_ns = s->last_rx_ns = s->last_tx_ns = xr_clock_mono_ns();
    xr_tls *tls = NULL;
    if (srv->tls_on) {
        tls = s->tls;
        if (xr_tls_server_init(tls, &srv->identity) != XR_OK) {
            s->state = S_FREE;
            xr_net_conn_abort(conn);
            return;
        }
    }
    if (xr_net_stream_accept(&s->st, conn, tls, &stream_handler, s) != XR_OK) {
        s->state = S_FREE;
        xr_net_conn_abort(conn);
    }
}

static size_t ls_data(xr_net_conn *conn, const uint8_t *data, size_t len, void *user)
{
    (void)conn, (void)data, (void)user;
    return len;
}

static void ls_close(xr_net_conn *conn, xr_err reason, void *user)
{
    (void)conn, (void)reason, (void)user;
}

static const xr_net_handler listen_handler = {
    .on_open = ls_open, .on_data = ls_data, .on_close = ls_close};

/* ---- life cycle -------------------------------------------------------------------------- */

void xr_bank_server_config_default(xr_bank_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_ip, sizeof cfg->listen_ip, "127.0.0.1");
    cfg->listen_port = 7400;
    cfg->outbox_map_bytes = UINT64_C(1) << 30;
    cfg->max_sessions = 64;
    cfg->heartbeat_default_ms = 1000;
    cfg->logon_timeout_ms = 5000;
    cfg->clock_skew_ms = 30000;
    cfg->ack_deadline_ms = 5000;
    cfg->outbox_retention_s = 7u * 24 * 3600;
    cfg->outbox_keep_last = 0;
    cfg->outbox_compact_batch = 1000;
}

static void load_resting(void *ctx, uint32_t bank_id, const xr_engine_key *key,
                         uint64_t customer_id, uint64_t correlation_id)
{
    xr_bank_server *srv = ctx;
    if (xr_bank_resting_add(&srv->resting, bank_id, customer_id, correlation_id, key) != XR_OK) {
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_WARN, "bank", "resting_table_full");
        xr_log_u64(&l, "bank", bank_id);
        xr_log_end(&l);
    }
}

static xr_err check_config(const xr_bank_server_config *cfg)
{
    if (cfg->nkeys == 0 || cfg->nkeys > XR_BANK_SERVER_KEYS_MAX || cfg->outbox_dir[0] == '\0' ||
        cfg->max_sessions == 0 || cfg->max_sessions > 4096 || cfg->clock_skew_ms == 0 ||
        memchr(cfg->outbox_dir, 0, sizeof cfg->outbox_dir) == NULL ||
        memchr(cfg->listen_ip, 0, sizeof cfg->listen_ip) == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < cfg->nkeys; i++) {
        const xr_bank_server_key *k = &cfg->keys[i];
        if (k->bank_id == 0 || k->bank_id >= (1u << 24) || k->secret_len == 0 ||
            k->secret_len > XR_BANK_SECRET_MAX)
            return XR_ERR_INVALID_ARGUMENT;
        for (uint32_t j = 0; j < i; j++)
            if (cfg->keys[j].bank_id == k->bank_id && cfg->keys[j].key_id == k->key_id)
                return XR_ERR_INVALID_ARGUMENT;
    }
    return XR_OK;
}

xr_err xr_bank_server_open(const xr_bank_server_config *cfg, xr_engine *engine,
                           xr_bank_server **out)
{
    if (cfg == NULL || engine == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    xr_err e = check_config(cfg);
    if (e != XR_OK)
        return e;
    xr_bank_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return XR_ERR_NO_MEMORY;
    srv->cfg = *cfg;
    srv->engine = engine;
    srv->next_internal_corr = INTERNAL_CORR;
    for (uint32_t i = 0; i < cfg->nkeys; i++) {
        if (bank_index(srv, cfg->keys[i].bank_id) < 0)
            srv->bank_ids[srv->nbanks++] = cfg->keys[i].bank_id;
        xr_log_register_secret(cfg->keys[i].secret, cfg->keys[i].secret_len);
    }
    xr_bank_auth_init(&srv->auth, srv->cfg.keys, srv->cfg.nkeys,
                      (int64_t)cfg->clock_skew_ms * (int64_t)XR_NS_PER_MS);
    srv->nsessions = cfg->max_sessions;
    srv->sessions = calloc(srv->nsessions, sizeof *srv->sessions);
    srv->evbuf = calloc(EV_BATCH, sizeof *srv->evbuf);
    srv->pending = calloc(PENDING_MAX, sizeof *srv->pending);
    srv->infl = calloc(INFLIGHT_CAP, sizeof *srv->infl);
    if (srv->sessions == NULL || srv->evbuf == NULL || srv->pending == NULL || srv->infl == NULL) {
        xr_bank_server_close(srv);
        return XR_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < srv->nsessions; i++)
        srv->sessions[i].srv = srv;
    if (cfg->tls_cert_path[0] != '\0') {
        const char *key = cfg->tls_key_path[0] != '\0' ? cfg->tls_key_path : cfg->tls_cert_path;
        if (xr_tls_identity_load(&srv->identity, cfg->tls_cert_path, key) != XR_OK) {
            xr_bank_server_close(srv);
            return XR_ERR_CONFIG;
        }
        srv->tls_on = 1;
        srv->tls_pool = calloc(srv->nsessions, sizeof *srv->tls_pool);
        if (srv->tls_pool == NULL) {
            xr_bank_server_close(srv);
            return XR_ERR_NO_MEMORY;
        }
        for (uint32_t i = 0; i < srv->nsessions; i++)
            srv->sessions[i].tls = &srv->tls_pool[i];
    }
    /* A burst of one iteration: every event of EV_BATCH-sized polls, bounded. */
    e = xr_bank_outbox_open(cfg->outbox_dir, cfg->outbox_map_bytes, srv->bank_ids, srv->nbanks,
                            STAGE_ROUNDS * EV_BATCH, &srv->outbox);
    /* Orders that rested before a restart: cancel-on-disconnect covers them too. */
    if (e == XR_OK)
        e = xr_bank_outbox_resting_each(srv->outbox, load_resting, srv);
    if (e != XR_OK) {
        xr_bank_server_close(srv);
        return e;
    }
    if (srv->resting.n > 0) {
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_INFO, "bank", "resting_loaded");
        xr_log_u64(&l, "orders", srv->resting.n);
        xr_log_end(&l);
    }
    xr_net_loop_config lc;
    xr_net_loop_config_default(&lc);
    lc.max_conns = cfg->max_sessions;
    lc.flags = XR_NET_LOOP_SINGLE_ISSUER;
    lc.conn.send_timeout_ns = 30 * XR_NS_PER_SEC;
    e = xr_net_loop_create(&lc, &srv->loop);
    if (e == XR_OK)
        e = xr_net_listen(srv->loop, cfg->listen_ip, cfg->listen_port, 128, NULL, &listen_handler,
                          srv, &srv->listener);
    if (e != XR_OK) {
        xr_bank_server_close(srv);
        return e == XR_ERR_NO_MEMORY ? e : (e == XR_ERR_INVALID_ARGUMENT ? e : XR_ERR_IO);
    }
    /* THREADS: the engine's notifier wakes the loop's io_uring wait when an event is ready, so
     * the loop blocks instead of polling on a timer (INLINE: refused, the loop polls). */
    srv->threaded = xr_engine_set_notify(engine, &engine_ready, srv) == XR_OK;
    srv->port = xr_net_listener_port(srv->listener);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "bank", "listen");
    xr_log_str(&l, "ip", cfg->listen_ip);
    xr_log_u64(&l, "port", srv->port);
    xr_log_u64(&l, "tls", (uint64_t)srv->tls_on);
    xr_log_u64(&l, "banks", srv->nbanks);
    xr_log_end(&l);
    *out = srv;
    return XR_OK;
}

uint16_t xr_bank_server_port(const xr_bank_server *s)
{
    return s != NULL ? s->port : 0;
}

void xr_bank_server_stats_get(const xr_bank_server *s, xr_bank_server_stats *out)
{
    *out = s->stats;
    out->in_engine = s->infl_pending;
}

uint64_t xr_bank_server_next_seq(const xr_bank_server *s, uint32_t bank_id)
{
    return xr_bank_outbox_next_seq(s->outbox, bank_id);
}

/* ---- one iteration ----------------------------------------------------------------------- */

/* Keeps the cancel-on-disconnect table durable (docs/protocol.md §5.6): an execution report
 * saying the order rests (OPEN, PARTIALLY_FILLED) puts it in the table and in the outbox's
 * copy; a final one for an order in the table deletes the copy (xr_bank_resting_note_event
 * then forgets it in memory). Staged with the iteration's responses: the same commit. The
 * staging has room for one change per event of the iteration. */
static void note_resting(xr_bank_server *srv, const xr_engine_event *ev)
{
    if (ev->kind != XR_ENGINE_EV_EXEC_REPORT || bank_index(srv, ev->bank_id) < 0)
        return;
    const xr_engine_exec_report_ev *r = &ev->u.report;
    if (r->status == XR_ENGINE_ORDER_OPEN || r->status == XR_ENGINE_ORDER_PARTIALLY_FILLED) {
        const xr_bank_resting_entry *e = xr_bank_resting_find(&srv->resting, ev->bank_id, &r->key);
        uint64_t corr = e != NULL ? e->correlation_id : ev->correlation_id;
        if (xr_bank_resting_add(&srv->resting, ev->bank_id, ev->customer_id, corr, &r->key) ==
            XR_OK) {
            xr_err x = xr_bank_outbox_stage_resting(srv->outbox, ev->bank_id, &r->key,
                                                    ev->customer_id, corr, 1);
            XR_ASSERT(x == XR_OK);
        }
    } else if (r->status >= XR_ENGINE_ORDER_FILLED &&
               xr_bank_resting_find(&srv->resting, ev->bank_id, &r->key) != NULL) {
        xr_err x = xr_bank_outbox_stage_resting(srv->outbox, ev->bank_id, &r->key, 0, 0, 0);
        XR_ASSERT(x == XR_OK);
    }
}

/* Called on an engine thread (THREADS) when an event is ready while run_once blocks. */
static void engine_ready(void *ctx)
{
    xr_bank_server *srv = ctx;
    (void)xr_net_loop_wake(srv->loop);
}

static xr_err poll_engine(xr_bank_server *srv)
{
    for (int round = 0; round < STAGE_ROUNDS; round++) {
        /* Take from the engine only what the outbox can stage: an event taken is never
         * dropped, and what stays in the engine's queue waits for the next iteration (also
         * while a failing outbox commit is being retried). */
        if (xr_bank_outbox_staged(srv->outbox) + EV_BATCH > STAGE_ROUNDS * EV_BATCH)
            break;
        size_t n = 0;
        xr_err e = xr_engine_poll(srv->engine, srv->evbuf, EV_BATCH, &n);
        if (e != XR_OK)
            return e;
        for (size_t i = 0; i < n; i++) {
            const xr_engine_event *ev = &srv->evbuf[i];
            infl_answer(srv, ev->bank_id, ev->correlation_id);
            note_resting(srv, ev);
            xr_bank_resting_note_event(&srv->resting, ev);
            uint8_t oflags = 0;
            uint16_t odl = 0;
            if (ev->kind == XR_ENGINE_EV_EXEC_REPORT) {
                struct ackord *a = ackord_find(srv, ev->bank_id, &ev->u.report.key);
                if (a != NULL) {
                    oflags = XR_BANK_ORDER_ACK_REQUIRED;
                    odl = a->deadline_ms;
                    if (ev->u.report.status >= XR_ENGINE_ORDER_FILLED) { /* final: no more */
                        memset(a, 0, sizeof *a);
                        srv->nackord--;
                    }
                }
            } else if (ev->kind == XR_ENGINE_EV_REJECT &&
                       ev->u.reject.cmd_kind == XR_ENGINE_CMD_NEW_ORDER && srv->nackord > 0) {
                /* a refused order reports nothing more */
                for (uint32_t a = 0; a < ACKORD_MAX; a++)
                    if (srv->ackord[a].bank_id == ev->bank_id &&
                        srv->ackord[a].corr == ev->correlation_id) {
                        memset(&srv->ackord[a], 0, sizeof srv->ackord[a]);
                        srv->nackord--;
                    }
            }
            e = xr_bank_outbox_stage_ex(srv->outbox, ev, oflags, odl, NULL);
            XR_ASSERT(e != XR_ERR_NO_MEMORY); /* room was checked above */
            if (e == XR_ERR_NOT_FOUND) {
                xr_log_line l;
                xr_log_begin(&l, XR_LOG_WARN, "bank", "event_for_unknown_bank");
                xr_log_u64(&l, "bank", ev->bank_id);
                xr_log_end(&l);
                continue;
            }
            if (e != XR_OK)
                return e;
            srv->stats.responses++;
        }
        if (n > 0)
            srv->busy_until_ns = xr_clock_mono_ns() + BUSY_NS;
        if (n < EV_BATCH)
            break;
    }
    return XR_OK;
}

/* Sends the session what is durable for its bank, from its cursor on. */
static void pump(xr_bank_server *srv, sess *s)
{
    /* Retention may have removed what lies below the horizon (acknowledged frames only). */
    uint64_t horizon = xr_bank_outbox_first_seq(srv->outbox, s->bank_id);
    if (s->rp_next < horizon && s->rp_next < s->rp_end)
        s->rp_next = horizon < s->rp_end ? horizon : s->rp_end;
    if (s->send_next < horizon)
        s->send_next = horizon;
    /* A recovery request first: stored frames again, same bytes (their ACK deadlines, if
     * any, run from their first send). */
    while (s->rp_next < s->rp_end) {
        const uint8_t *f = NULL;
        size_t len = 0;
        xr_err e = xr_bank_outbox_get(srv->outbox, s->bank_id, s->rp_next, &f, &len);
        if (e != XR_OK) {
            log_sess(s, XR_LOG_ERROR, "outbox_read", e);
            refuse_and_close(s, XR_ERR_INTERNAL, 0, 0);
            return;
        }
        if (tx_put(s, f, len, TX_RESERVE) != XR_OK) {
            tx_flush(s);
            return; /* the rest when the connection has taken this */
        }
        s->rp_next++;
        srv->stats.replayed++;
    }
    uint64_t end = xr_bank_outbox_durable_next(srv->outbox, s->bank_id);
    while (s->send_next < end) {
        const uint8_t *f = NULL;
        size_t len = 0;
        xr_err e = xr_bank_outbox_get(srv->outbox, s->bank_id, s->send_next, &f, &len);
        if (e != XR_OK) {
            log_sess(s, XR_LOG_ERROR, "outbox_read", e);
            refuse_and_close(s, XR_ERR_INTERNAL, 0, 0);
            return;
        }
        if (tx_put(s, f, len, TX_RESERVE) != XR_OK)
            break;
        /* Ack required by the session (LOGON flag) or by the order (the stored report's
         * flag, response header byte 36; deadline u16 at 38, 0 = the server's). */
        int order_ack = len >= XR_PROTO_APP_HEADER_LEN && (f[36] & XR_BANK_ORDER_ACK_REQUIRED) != 0;
        if (((s->flags & XR_BANK_LOGON_ACK_REQUIRED) || order_ack) &&
            f[XR_PROTO_OFF_TYPE] == XR_PROTO_EV_EXEC_REPORT && s->send_next > s->acked) {
            uint32_t dl_ms = srv->cfg.ack_deadline_ms;
            if (order_ack && (f[38] | f[39]) != 0)
                dl_ms = (uint32_t)f[38] | (uint32_t)f[39] << 8;
            uint64_t due = xr_clock_mono_ns() + (uint64_t)dl_ms * XR_NS_PER_MS;
            if (s->ackq_n < ACKQ) {
                uint32_t at = (s->ackq_head + s->ackq_n++) % ACKQ;
                s->ackq_seq[at] = s->send_next;
                s->ackq_due[at] = due;
            } else {
                /* Full: the newest entry now stands for this report too, with the earlier
                 * of the two deadlines - never later than this report's own. */
                uint32_t at = (s->ackq_head + ACKQ - 1) % ACKQ;
                s->ackq_seq[at] = s->send_next;
                if (due < s->ackq_due[at])
                    s->ackq_due[at] = due;
            }
        }
        s->send_next++;
    }
    tx_flush(s);
}

static void timers(xr_bank_server *srv)
{
    uint64_t now = xr_clock_mono_ns();
    for (uint32_t i = 0; i < srv->nsessions; i++) {
        sess *s = &srv->sessions[i];
        if (s->state == S_LOGON &&
            now - s->opened_ns > (uint64_t)srv->cfg.logon_timeout_ms * XR_NS_PER_MS) {
            log_sess(s, XR_LOG_WARN, "logon_timeout", XR_ERR_TIMEOUT);
            s->state = S_CLOSING;
            xr_net_stream_abort(&s->st);
            continue;
        }
        if (s->state != S_LIVE)
            continue;
        uint64_t h = (uint64_t)s->hb_ms * XR_NS_PER_MS;
        if (s->stalled)
            s->last_rx_ns = now; /* we paused reading (engine back-pressure): the bank's frames,
                                    heartbeats included, wait unread; its silence counts again
                                    only from the resume */
        if (now - s->last_rx_ns > 3 * h) {
            srv->stats.dead_peers++;
            s->dead = 1;
            log_sess(s, XR_LOG_WARN, "dead_peer", XR_ERR_TIMEOUT);
            s->state = S_CLOSING;
            xr_net_stream_abort(&s->st);
            continue;
        }
        uint32_t late = ACKQ;
        for (uint32_t q = 0; q < s->ackq_n && late == ACKQ; q++)
            if (now > s->ackq_due[(s->ackq_head + q) % ACKQ])
                late = (s->ackq_head + q) % ACKQ;
        if (late != ACKQ) {
            /* BANK_CONNECTION (docs/protocol.md §5.7): the report stays stored and is replayed
             * at the next logon; the booking stands. */
            srv->stats.bank_connection++;
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_ERROR, "bank", "bank_connection");
            xr_log_u64(&l, "session", s->id);
            xr_log_u64(&l, "bank", s->bank_id);
            xr_log_u64(&l, "unacked_seq", s->ackq_seq[late]);
            xr_log_u64(&l, "acked", s->acked);
            xr_log_err(&l, XR_ERR_BANK_CONNECTION);
            xr_log_end(&l);
            send_logout(s, XR_ERR_BANK_CONNECTION);
            sess_end(s, XR_ERR_BANK_CONNECTION);
            continue;
        }
        if (now - s->last_tx_ns >= h) {
            xr_bank_msg m;
            memset(&m, 0, sizeof m);
            m.type = XR_PROTO_HEARTBEAT;
            send_msg(s, &m);
        }
    }
}

/* Outbox retention (docs/protocol.md §5.3): at most once per second, per bank, delete up to
 * outbox_compact_batch stored frames that the bank has processed (acked), that are older than
 * outbox_retention_s and not among its last outbox_keep_last. Off the hot path: a bounded
 * batch in its own commit. */
static void compact(xr_bank_server *srv)
{
    uint64_t now = xr_clock_mono_ns();
    if (now < srv->next_compact_ns)
        return;
    srv->next_compact_ns = now + COMPACT_EVERY_NS;
    int64_t before =
        xr_clock_wall_ns() - (int64_t)srv->cfg.outbox_retention_s * (int64_t)XR_NS_PER_SEC;
    for (uint32_t i = 0; i < srv->nbanks; i++) {
        uint64_t durable = xr_bank_outbox_durable_next(srv->outbox, srv->bank_ids[i]);
        uint64_t upto = srv->acked[i];
        if (durable - 1 < (uint64_t)srv->cfg.outbox_keep_last)
            continue;
        if (upto > durable - 1 - srv->cfg.outbox_keep_last)
            upto = durable - 1 - srv->cfg.outbox_keep_last;
        uint32_t n = 0;
        xr_err e = xr_bank_outbox_compact(srv->outbox, srv->bank_ids[i], upto, before,
                                          srv->cfg.outbox_compact_batch, &n);
        srv->stats.compacted += n;
        if (e != XR_OK) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_WARN, "bank", "outbox_compact");
            xr_log_u64(&l, "bank", srv->bank_ids[i]);
            xr_log_err(&l, e);
            xr_log_end(&l);
        }
    }
}

xr_err xr_bank_server_run_once(xr_bank_server *srv, uint64_t timeout_ns)
{
    if (srv == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    uint64_t now = xr_clock_mono_ns();
    uint64_t wait = now < srv->busy_until_ns ? BUSY_WAIT_NS : IDLE_WAIT_NS;
    /* INLINE: the last iteration moved something: the engine likely has the next step of it
     * ready (a request is answered over a few of its polls), so do not sleep before polling
     * it. THREADS: the engine's own threads take the steps and its notifier ends the wait, so
     * block until a socket, the notifier or a timer (heartbeats: IDLE_WAIT_NS) wakes us. */
    if (srv->threaded)
        wait = IDLE_WAIT_NS;
    uint64_t progress = srv->stats.requests + srv->stats.responses;
    if (progress != srv->progress_seen) {
        srv->progress_seen = progress;
        if (!srv->threaded)
            wait = 0;
    }
    if (srv->npending > 0)
        wait = 0;
    for (uint32_t i = 0; i < srv->nsessions; i++)
        if (srv->sessions[i].stalled)
            wait = srv->threaded && wait > STALL_WAIT_NS ? STALL_WAIT_NS : 0;
    if (wait > timeout_ns)
        wait = timeout_ns;
    if (srv->threaded && wait > 0) {
        xr_err a = xr_engine_arm_notify(srv->engine);
        if (a == XR_ERR_AGAIN)
            wait = 0; /* events ready already */
        else if (a != XR_OK)
            return a; /* XR_ERR_INTERNAL: the engine failed */
    }
    xr_err e = xr_net_loop_poll(srv->loop, wait, NULL);
    if (e != XR_OK)
        return e;
    if (srv->cfg.iteration_hook != NULL)
        srv->cfg.iteration_hook(srv->cfg.iteration_hook_arg);
    e = poll_engine(srv);
    /* Room may have been made in the engine's ring: retry what waited for it. */
    submit_pending(srv);
    for (uint32_t i = 0; i < srv->nsessions; i++) {
        sess *s = &srv->sessions[i];
        if (s->stalled && s->st.conn != NULL) {
            process_rx(s);
            if (!s->stalled && s->st.conn != NULL) {
                xr_net_conn_resume_recv(s->st.conn);
                xr_net_conn_redeliver(s->st.conn);
            }
        }
    }
    if (e != XR_OK)
        return e;
    uint32_t staged = xr_bank_outbox_staged(srv->outbox);
    e = xr_bank_outbox_commit(srv->outbox);
    if (e != XR_OK)
        return e;
    if (staged > 0)
        srv->stats.commits++;
    e = xr_bank_outbox_read_begin(srv->outbox);
    if (e != XR_OK)
        return e;
    for (uint32_t i = 0; i < srv->nsessions; i++)
        if (srv->sessions[i].state == S_LIVE)
            pump(srv, &srv->sessions[i]);
    xr_bank_outbox_read_end(srv->outbox);
    timers(srv);
    compact(srv);
    return XR_OK;
}

static int drained(const xr_bank_server *srv)
{
    if (srv->infl_pending > 0 || srv->npending > 0)
        return 0;
    for (uint32_t i = 0; i < srv->nsessions; i++) {
        const sess *s = &srv->sessions[i];
        if (s->stalled)
            return 0;
        if (s->state == S_LIVE &&
            (s->send_next < xr_bank_outbox_durable_next(srv->outbox, s->bank_id) || s->tx_len > 0 ||
             (s->st.conn != NULL && xr_net_conn_send_pending(s->st.conn) > 0)))
            return 0;
    }
    return 1;
}

xr_err xr_bank_server_drain(xr_bank_server *srv, uint64_t timeout_ns)
{
    if (srv == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    srv->draining = 1;
    if (srv->listener != NULL) {
        xr_net_listener_close(srv->listener);
        srv->listener = NULL;
    }
    uint64_t end = xr_clock_mono_ns() + timeout_ns;
    xr_err result = XR_OK;
    for (;;) {
        xr_err e = xr_bank_server_run_once(srv, 0);
        if (e != XR_OK)
            result = e;
        if (drained(srv))
            break;
        if (xr_clock_mono_ns() >= end) {
            result = XR_ERR_TIMEOUT;
            break;
        }
    }
    for (uint32_t i = 0; i < srv->nsessions; i++) {
        sess *s = &srv->sessions[i];
        if (s->state == S_LIVE || s->state == S_LOGON) {
            s->clean = 1;
            send_logout(s, XR_OK);
            sess_end(s, XR_OK);
        }
    }
    /* Let the closes complete (the logouts are written). */
    uint64_t close_end = xr_clock_mono_ns() + XR_NS_PER_SEC;
    while (xr_net_loop_conn_count(srv->loop) > 0 && xr_clock_mono_ns() < close_end)
        xr_net_loop_poll(srv->loop, XR_NS_PER_MS, NULL);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "bank", "drained");
    xr_log_err(&l, result);
    xr_log_end(&l);
    return result;
}

void xr_bank_server_close(xr_bank_server *srv)
{
    if (srv == NULL)
        return;
    /* No more wake-ups into the loop about to be destroyed (run_once's poll disarmed it). */
    if (srv->threaded)
        (void)xr_engine_set_notify(srv->engine, NULL, NULL);
    /* Destroying the loop closes every socket without callbacks. */
    xr_net_loop_destroy(srv->loop);
    xr_bank_outbox_close(srv->outbox);
    if (srv->tls_on)
        xr_tls_identity_free(&srv->identity);
    free(srv->tls_pool);
    free(srv->sessions);
    free(srv->evbuf);
    free(srv->pending);
    free(srv->infl);
    /* Secrets: wipe our copy (volatile so the stores are not elided). */
    volatile uint8_t *p = (volatile uint8_t *)&srv->cfg;
    for (size_t i = 0; i < sizeof srv->cfg; i++)
        p[i] = 0;
    free(srv);
}
