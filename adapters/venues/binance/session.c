/*
 * The Binance venue session (see session.h): REST over one keep-alive connection, the
 * market-data and user-data WebSockets, depth sync, rate limits, clock and outcomes.
 */
#include "adapters/venues/binance/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/http.h"
#include "adapters/net/stream.h"
#include "adapters/net/ws.h"
#include "adapters/venues/binance/auth.h"
#include "adapters/venues/binance/codec.h"
#include "core/base/assert.h"
#include "core/base/clock.h"

#define NEVER UINT64_MAX

/* Retries of internal requests that failed for a reason other than rate limiting are
 * spaced by this much, so a venue that keeps refusing is not hammered. */
#define INTERNAL_RETRY_NS (500ull * XR_NS_PER_MS)

enum { CONN_DOWN = 0, CONN_CONNECTING = 1, CONN_HANDSHAKE = 2, CONN_OPEN = 3 };
enum { KIND_REST = 0, KIND_MARKET = 1, KIND_USER = 2 };

typedef struct sess_conn {
    xr_binance_session *s;
    int kind;
    int state;
    xr_net_stream st;
    xr_tls *tls;
    xr_http_parser http;
    char *http_mem;
    xr_ws ws;
    void *ws_mem;
    size_t ws_mem_len;
    bool ws_inited;
    char key[XR_WS_KEY_LEN + 1];
    uint8_t *out; /* bytes the stream did not take yet */
    size_t out_len, out_cap;
    uint64_t reconnect_at_ns; /* monotonic; NEVER: not scheduled */
    uint64_t backoff_ns;
    bool want; /* should be connected */
} sess_conn;

typedef struct sess_req {
    uint64_t id;
    uint8_t op;
    bool in_use;
    bool clock_retried; /* resent once after -1021 */
    bool put;           /* LISTEN_KEY: keepalive (PUT) instead of POST */
    uint32_t sym;       /* DEPTH: symbol index */
    const xr_instrument *inst;
    xr_binance_order_params params;
    char cid[XR_CLIENT_ORDER_ID_MAX + 1];
    uint64_t deadline_ns;   /* monotonic: give up if not sent by then; NEVER for internal */
    uint64_t not_before_ns; /* monotonic: do not send before */
    /* Convert commands */
    char from_asset[XR_ASSET_CODE_MAX + 1], to_asset[XR_ASSET_CODE_MAX + 1];
    xr_amount amount;
    uint8_t from_scale, to_scale;
    char quote_id[XR_BINANCE_CONVERT_ID_MAX + 1];
    xr_binance_convert_quote cquote; /* the parsed answer, handed to finish() */
    xr_binance_convert_order corder;
} sess_req;

typedef struct sess_sym {
    char symbol[XR_SYMBOL_MAX + 1];
    const xr_instrument *inst;
    xr_book book;
    void *book_mem;
    xr_binance_depth_sync sync;
    void *sync_mem;
    bool snap_queued; /* a DEPTH request is queued or in flight */
} sess_sym;

struct xr_binance_session {
    xr_binance_session_config cfg;
    char ip[64], host[256], depth_stream[32];
    char api_key[XR_BINANCE_API_KEY_MAX + 1];
    bool has_key;
    xr_net_loop *loop;
    xr_binance_session_state state;
    xr_binance_session_stats stats;
    xr_binance_auth auth;
    xr_binance_limiter limiter;
    xr_binance_codec codec;
    xr_instruments inst;
    void *inst_mem;
    uint32_t nsyms;
    sess_sym syms[XR_BINANCE_SESSION_SYMBOLS_MAX];

    sess_conn rest, market, user;

    /* REST queue: slot indices in sending order. */
    sess_req *slots;
    uint32_t nslots;
    uint32_t *queue;
    uint32_t qlen;
    uint32_t cur; /* slot in flight, or UINT32_MAX */
    uint64_t cur_deadline_ns;
    int64_t cur_sent_wall_ms;
    uint64_t limiter_retry_ns; /* monotonic: the limiter said not before this */
    uint64_t next_id;

    char listen_key[128];
    uint64_t keepalive_at_ns;
    uint64_t clock_check_at_ns;
    bool destroying;
};

/* ---- time ------------------------------------------------------------------------------ */

static uint64_t mono_now(void)
{
    return xr_clock_mono_ns();
}

static int64_t wall_ms(void)
{
    return xr_clock_wall_ns() / (int64_t)XR_NS_PER_MS;
}

/* The venue's clock in ns since the epoch, as the rate limiter wants it. */
static uint64_t venue_now_ns(const xr_binance_session *s)
{
    int64_t ns = xr_clock_wall_ns();
    if (s->auth.clock.valid)
        ns += s->auth.clock.offset_ms * (int64_t)XR_NS_PER_MS;
    return ns < 0 ? 0 : (uint64_t)ns;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- events and results ----------------------------------------------------------------- */

static void emit(xr_binance_session *s, const xr_event *ev)
{
    if (s->cfg.on_event != NULL && !s->destroying)
        s->cfg.on_event(s->cfg.ctx, ev);
}

static void finish(xr_binance_session *s, sess_req *r, xr_binance_outcome outcome, xr_err err,
                   int http_status, int32_t venue_code)
{
    xr_binance_result res;
    memset(&res, 0, sizeof res);
    res.request_id = r->id;
    res.op = r->op;
    res.outcome = (uint8_t)outcome;
    res.err = err;
    res.http_status = (uint16_t)(http_status < 0 ? 0 : http_status);
    res.venue_code = venue_code;
    res.instrument = r->inst != NULL ? r->inst->id : XR_INSTRUMENT_NONE;
    memcpy(res.client_order_id, r->cid, sizeof res.client_order_id);
    memcpy(res.quote_id, r->quote_id, sizeof res.quote_id);
    res.quote = r->cquote;
    res.order = r->corder;
    if (outcome == XR_BINANCE_UNKNOWN)
        s->stats.unknown_outcomes++;
    r->in_use = false;
    if (s->cfg.on_result != NULL && !s->destroying)
        s->cfg.on_result(s->cfg.ctx, &res);
}

static bool op_is_internal(uint8_t op)
{
    return op == XR_BINANCE_OP_TIME || op == XR_BINANCE_OP_EXCHANGE_INFO ||
           op == XR_BINANCE_OP_DEPTH || op == XR_BINANCE_OP_LISTEN_KEY;
}

/* New orders, cancels and Convert accepts change the venue's state: their outcome can be
 * unknown. */
static bool op_mutates(uint8_t op)
{
    return op == XR_BINANCE_OP_ORDER_NEW || op == XR_BINANCE_OP_ORDER_CANCEL ||
           op == XR_BINANCE_OP_CONVERT_ACCEPT;
}

/* ---- the request queue ------------------------------------------------------------------ */

static sess_req *req_alloc(xr_binance_session *s, uint8_t op)
{
    for (uint32_t i = 0; i < s->nslots; i++) {
        sess_req *r = &s->slots[i];
        if (!r->in_use) {
            memset(r, 0, sizeof *r);
            r->in_use = true;
            r->op = op;
            r->id = ++s->next_id;
            r->deadline_ns = NEVER;
            return r;
        }
    }
    return NULL;
}

static uint32_t slot_index(const xr_binance_session *s, const sess_req *r)
{
    return (uint32_t)(r - s->slots);
}

static void queue_push(xr_binance_session *s, sess_req *r, bool front)
{
    XR_ASSERT(s->qlen < s->nslots);
    uint32_t idx = slot_index(s, r);
    if (front) {
        memmove(&s->queue[1], &s->queue[0], s->qlen * sizeof s->queue[0]);
        s->queue[0] = idx;
    } else {
        s->queue[s->qlen] = idx;
    }
    s->qlen++;
}

static void queue_remove_at(xr_binance_session *s, uint32_t pos)
{
    XR_ASSERT(pos < s->qlen);
    memmove(&s->queue[pos], &s->queue[pos + 1], (s->qlen - pos - 1) * sizeof s->queue[0]);
    s->qlen--;
}

static void rest_kick(xr_binance_session *s);
static void conn_start(xr_binance_session *s, sess_conn *c);

static xr_err queue_internal(xr_binance_session *s, uint8_t op, uint32_t sym, bool put, bool front)
{
    sess_req *r = req_alloc(s, op);
    if (r == NULL)
        return XR_ERR_NO_MEMORY;
    r->sym = sym;
    r->put = put;
    if (op == XR_BINANCE_OP_DEPTH) {
        r->inst = s->syms[sym].inst;
        s->syms[sym].snap_queued = true;
    }
    queue_push(s, r, front);
    return XR_OK;
}

static bool queued_op(const xr_binance_session *s, uint8_t op)
{
    for (uint32_t i = 0; i < s->qlen; i++)
        if (s->slots[s->queue[i]].op == op)
            return true;
    return s->cur != UINT32_MAX && s->slots[s->cur].op == op;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_flush(sess_conn *c)
{
    while (c->out_len > 0) {
        size_t sent = 0;
        xr_err e = xr_net_stream_send(&c->st, c->out, c->out_len, &sent);
        memmove(c->out, c->out + sent, c->out_len - sent);
        c->out_len -= sent;
        if (e != XR_OK)
            return;
    }
}

/* Sends or keeps `len` bytes; false when they can be neither (the connection is aborted). */
static bool conn_send(sess_conn *c, const void *data, size_t len)
{
    size_t sent = 0;
    if (c->out_len == 0) {
        xr_err e = xr_net_stream_send(&c->st, data, len, &sent);
        if (e != XR_OK && e != XR_ERR_AGAIN) {
            xr_net_stream_abort(&c->st);
            return false;
        }
    }
    if (sent == len)
        return true;
    if (c->out_len + len - sent > c->out_cap) {
        xr_net_stream_abort(&c->st);
        return false;
    }
    memcpy(c->out + c->out_len, (const uint8_t *)data + sent, len - sent);
    c->out_len += len - sent;
    return true;
}

static void ws_flush(sess_conn *c)
{
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&c->ws, &n);
    if (n > 0 && conn_send(c, out, n))
        xr_ws_output_ack(&c->ws, n);
}

static void schedule_reconnect(xr_binance_session *s, sess_conn *c)
{
    uint64_t now = mono_now();
    c->reconnect_at_ns = now + c->backoff_ns;
    c->backoff_ns = min_u64(c->backoff_ns * 2, s->cfg.reconnect_max_ns);
}

/* ---- REST ------------------------------------------------------------------------------- */

static void on_depth_action(xr_binance_session *s, uint32_t sym, xr_binance_sync_action a)
{
    if (a == XR_BINANCE_SYNC_FETCH_SNAPSHOT) {
        if (!s->syms[sym].snap_queued &&
            queue_internal(s, XR_BINANCE_OP_DEPTH, sym, false, false) == XR_OK)
            rest_kick(s);
    } else if (a == XR_BINANCE_SYNC_LIVE) {
        s->stats.books_live++;
    }
}

static void fail_depth(xr_binance_session *s, uint32_t sym)
{
    s->syms[sym].snap_queued = false;
    on_depth_action(s, sym, xr_binance_depth_sync_on_snapshot_failed(&s->syms[sym].sync));
}

/* A request that got no usable answer (timeout, connection lost, 5xx): reads and internal
 * requests go back to the queue; mutating ones end UNKNOWN, since they may have executed. */
static void fail_sent(xr_binance_session *s, sess_req *r, xr_err err, int http_status, int32_t code,
                      uint64_t retry_delay_ns)
{
    if (op_mutates(r->op)) {
        finish(s, r, XR_BINANCE_UNKNOWN, err, http_status, code);
        return;
    }
    if (r->op == XR_BINANCE_OP_DEPTH) {
        r->in_use = false;
        fail_depth(s, r->sym);
        return;
    }
    r->not_before_ns = mono_now() + retry_delay_ns;
    queue_push(s, r, false);
}

static xr_err build_target(xr_binance_session *s, sess_req *r, xr_binance_request *out,
                           const char **method)
{
    int64_t now_ms = wall_ms();
    xr_err e = XR_ERR_INVALID_ARGUMENT;
    switch ((xr_binance_op)r->op) {
    case XR_BINANCE_OP_TIME:
        e = xr_binance_req_time(out);
        break;
    case XR_BINANCE_OP_EXCHANGE_INFO:
        e = xr_binance_req_exchange_info(out, NULL);
        break;
    case XR_BINANCE_OP_DEPTH:
        e = xr_binance_req_depth(out, r->inst->symbol, s->cfg.snapshot_limit);
        break;
    case XR_BINANCE_OP_LISTEN_KEY: {
        memset(out, 0, sizeof *out);
        out->api_key = true;
        out->weight = 2;
        int n = r->put ? snprintf(out->target, sizeof out->target,
                                  "/api/v3/userDataStream?listenKey=%s", s->listen_key)
                       : snprintf(out->target, sizeof out->target, "/api/v3/userDataStream");
        out->target_len = (size_t)n;
        *method = r->put ? "PUT" : "POST";
        return XR_OK;
    }
    case XR_BINANCE_OP_ORDER_NEW:
        e = xr_binance_req_order_new(out, &s->auth, now_ms, &r->params);
        break;
    case XR_BINANCE_OP_ORDER_QUERY:
        e = xr_binance_req_order_query(out, &s->auth, now_ms, r->inst, r->cid);
        break;
    case XR_BINANCE_OP_ORDER_CANCEL:
        e = xr_binance_req_order_cancel(out, &s->auth, now_ms, r->inst, r->cid);
        break;
    case XR_BINANCE_OP_OPEN_ORDERS:
        e = xr_binance_req_open_orders(out, &s->auth, now_ms, r->inst);
        break;
    case XR_BINANCE_OP_ACCOUNT:
        e = xr_binance_req_account(out, &s->auth, now_ms);
        break;
    case XR_BINANCE_OP_CONVERT_QUOTE:
        e = xr_binance_req_convert_quote(out, &s->auth, now_ms, r->from_asset, r->to_asset,
                                         r->amount, r->from_scale, NULL);
        break;
    case XR_BINANCE_OP_CONVERT_ACCEPT:
        e = xr_binance_req_convert_accept(out, &s->auth, now_ms, r->quote_id);
        break;
    case XR_BINANCE_OP_CONVERT_STATUS:
        e = xr_binance_req_convert_status(out, &s->auth, now_ms, r->quote_id);
        break;
    case XR_BINANCE_OP_NONE:
        break;
    }
    *method = xr_http_method_name((xr_http_method)out->method);
    return e;
}

/* Sends the first request that may go now, if the connection is free. */
static void rest_kick(xr_binance_session *s)
{
    if (s->destroying || s->cur != UINT32_MAX || s->qlen == 0)
        return;
    sess_conn *c = &s->rest;
    if (c->state != CONN_OPEN) {
        c->want = true;
        if (c->state == CONN_DOWN && mono_now() >= c->reconnect_at_ns)
            conn_start(s, c);
        return;
    }
    uint64_t now = mono_now();
    if (now < s->limiter_retry_ns)
        return;
    for (uint32_t pos = 0; pos < s->qlen; pos++) {
        sess_req *r = &s->slots[s->queue[pos]];
        if (r->not_before_ns > now)
            continue;
        queue_remove_at(s, pos);
        xr_binance_request req;
        const char *method = "GET";
        xr_err e = build_target(s, r, &req, &method);
        if (e != XR_OK) {
            /* Valid when queued, refused now: only the clock can have changed it. */
            finish(s, r, XR_BINANCE_REJECTED, e, 0, 0);
            pos--; /* the slot at pos is the next one now */
            continue;
        }
        uint64_t retry_at = 0, vnow = venue_now_ns(s);
        e = xr_binance_limiter_acquire(&s->limiter, vnow, req.weight, req.is_order, &retry_at);
        if (e == XR_ERR_RATE_LIMITED) {
            queue_push(s, r, true);
            s->limiter_retry_ns = now + (retry_at > vnow ? retry_at - vnow : 0);
            return;
        }
        if (e != XR_OK) {
            finish(s, r, XR_BINANCE_REJECTED, e, 0, 0);
            pos--;
            continue;
        }
        xr_http_header hdr[1];
        size_t nh = 0;
        if (req.api_key) {
            hdr[0] = (xr_http_header){"X-MBX-APIKEY", 12, s->api_key, strlen(s->api_key)};
            nh = 1;
        }
        char buf[XR_BINANCE_TARGET_MAX + 1024];
        size_t len = 0;
        bool body = strcmp(method, "GET") != 0;
        e = xr_http_build_request(buf, sizeof buf, &len, method, req.target, s->host, hdr, nh,
                                  body ? "" : NULL, 0);
        XR_ASSERT(e == XR_OK);
        s->cur = slot_index(s, r);
        s->cur_deadline_ns = now + s->cfg.request_timeout_ns;
        s->cur_sent_wall_ms = wall_ms();
        s->stats.requests_sent++;
        conn_send(c, buf, len); /* a failure closes the connection: on_close handles cur */
        return;
    }
}

static xr_err rest_event(void *ctx, const xr_event *ev)
{
    emit(ctx, ev);
    return XR_OK;
}

typedef struct snap_ctx {
    xr_binance_session *s;
    uint32_t sym;
} snap_ctx;

static xr_err snap_event(void *ctx, const xr_event *ev)
{
    snap_ctx *sc = ctx;
    sess_sym *y = &sc->s->syms[sc->sym];
    if (ev->kind == XR_EV_BOOK_SNAPSHOT)
        on_depth_action(sc->s, sc->sym,
                        xr_binance_depth_sync_on_snapshot(&y->sync, &ev->u.book, mono_now()));
    emit(sc->s, ev);
    return XR_OK;
}

static void start_market(xr_binance_session *s);

/* {"serverTime":1499827319559}: the one integer in the body. */
static bool parse_server_time(const uint8_t *b, size_t n, int64_t *out)
{
    const char *key = "\"serverTime\"";
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (memcmp(b + i, key, kl) != 0)
            continue;
        size_t j = i + kl;
        while (j < n && (b[j] == ' ' || b[j] == ':'))
            j++;
        int64_t v = 0;
        size_t d = 0;
        for (; j < n && b[j] >= '0' && b[j] <= '9' && d < 18; j++, d++)
            v = v * 10 + (b[j] - '0');
        if (d == 0)
            return false;
        *out = v;
        return true;
    }
    return false;
}

/* {"listenKey":"..."} */
static bool parse_listen_key(const uint8_t *b, size_t n, char *out, size_t cap)
{
    const char *key = "\"listenKey\"";
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (memcmp(b + i, key, kl) != 0)
            continue;
        size_t j = i + kl;
        while (j < n && (b[j] == ' ' || b[j] == ':'))
            j++;
        if (j >= n || b[j] != '"')
            return false;
        size_t start = ++j;
        while (j < n && b[j] != '"') {
            /* Listen keys are alphanumeric: anything else would need escaping in a URL. */
            char ch = (char)b[j];
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
                return false;
            j++;
        }
        if (j >= n || j - start == 0 || j - start >= cap)
            return false;
        memcpy(out, b + start, j - start);
        out[j - start] = '\0';
        return true;
    }
    return false;
}

static void became_ready(xr_binance_session *s)
{
    for (uint32_t i = 0; i < s->nsyms; i++) {
        sess_sym *y = &s->syms[i];
        y->inst = xr_instruments_by_symbol(&s->inst, y->symbol, strlen(y->symbol));
    }
    s->state = XR_BINANCE_SESSION_READY;
    if (s->nsyms > 0)
        start_market(s);
    if (s->has_key)
        queue_internal(s, XR_BINANCE_OP_LISTEN_KEY, 0, false, false);
}

/* A 2xx answer to `r`. */
static void on_success(xr_binance_session *s, sess_req *r, const xr_http_message *m)
{
    const char *body = (const char *)m->body;
    size_t blen = m->body_len;
    xr_decode_error de;
    switch ((xr_binance_op)r->op) {
    case XR_BINANCE_OP_TIME: {
        int64_t server_ms = 0;
        if (parse_server_time(m->body, blen, &server_ms))
            xr_binance_clock_sample(&s->auth.clock, s->cur_sent_wall_ms, wall_ms(), server_ms,
                                    (int64_t)(s->cfg.clock_max_age_ns / XR_NS_PER_MS));
        r->in_use = false;
        return;
    }
    case XR_BINANCE_OP_EXCHANGE_INFO: {
        xr_binance_exchange_info info;
        xr_err e = xr_binance_load_exchange_info(&s->codec, body, blen, &info, &de);
        if (e != XR_OK) {
            s->stats.decode_errors++;
            fail_sent(s, r, e, m->status, 0, INTERNAL_RETRY_NS);
            return;
        }
        if (info.n_limits > 0)
            (void)xr_binance_limiter_configure(&s->limiter, info.limits, info.n_limits);
        r->in_use = false;
        if (s->state == XR_BINANCE_SESSION_STARTING)
            became_ready(s);
        return;
    }
    case XR_BINANCE_OP_DEPTH: {
        uint32_t sym = r->sym;
        r->in_use = false;
        s->syms[sym].snap_queued = false;
        snap_ctx sc = {s, sym};
        if (xr_binance_decode_depth(&s->codec, s->syms[sym].inst, body, blen, snap_event, &sc,
                                    &de) != XR_OK) {
            s->stats.decode_errors++;
            fail_depth(s, sym);
        }
        return;
    }
    case XR_BINANCE_OP_LISTEN_KEY:
        if (!r->put) {
            if (!parse_listen_key(m->body, blen, s->listen_key, sizeof s->listen_key)) {
                s->stats.decode_errors++;
                fail_sent(s, r, XR_ERR_MALFORMED, m->status, 0, INTERNAL_RETRY_NS);
                return;
            }
            s->keepalive_at_ns = mono_now() + s->cfg.listen_key_keepalive_ns;
            s->user.want = true;
            if (s->user.state == CONN_DOWN && mono_now() >= s->user.reconnect_at_ns)
                conn_start(s, &s->user);
        }
        r->in_use = false;
        return;
    case XR_BINANCE_OP_ORDER_NEW:
    case XR_BINANCE_OP_ORDER_QUERY:
    case XR_BINANCE_OP_ORDER_CANCEL:
    case XR_BINANCE_OP_OPEN_ORDERS:
    case XR_BINANCE_OP_ACCOUNT: {
        xr_binance_kind kind =
            r->op == XR_BINANCE_OP_ACCOUNT ? XR_BINANCE_KIND_ACCOUNT : XR_BINANCE_KIND_ORDER;
        xr_err e =
            xr_binance_decode(&s->codec, kind, r->inst, body, blen, rest_event, s, NULL, &de);
        if (e != XR_OK) {
            /* The venue said yes but we cannot read what it said: for a mutation that is
             * as good as no answer. */
            s->stats.decode_errors++;
            if (op_mutates(r->op))
                finish(s, r, XR_BINANCE_UNKNOWN, e, m->status, 0);
            else
                finish(s, r, XR_BINANCE_REJECTED, e, m->status, 0);
            return;
        }
        finish(s, r, XR_BINANCE_CONFIRMED, XR_OK, m->status, 0);
        return;
    }
    case XR_BINANCE_OP_CONVERT_QUOTE:
    case XR_BINANCE_OP_CONVERT_ACCEPT:
    case XR_BINANCE_OP_CONVERT_STATUS: {
        xr_err e;
        if (r->op == XR_BINANCE_OP_CONVERT_QUOTE) {
            e = xr_binance_parse_convert_quote(body, blen, r->from_scale, r->to_scale, &r->cquote,
                                               &de);
            if (e == XR_OK)
                memcpy(r->quote_id, r->cquote.quote_id, sizeof r->quote_id);
        } else if (r->op == XR_BINANCE_OP_CONVERT_ACCEPT) {
            e = xr_binance_parse_convert_accept(body, blen, &r->corder, &de);
        } else {
            e = xr_binance_parse_convert_status(body, blen, r->from_scale, r->to_scale, &r->corder,
                                                &de);
        }
        if (e != XR_OK) {
            s->stats.decode_errors++;
            finish(s, r, op_mutates(r->op) ? XR_BINANCE_UNKNOWN : XR_BINANCE_REJECTED, e, m->status,
                   0);
            return;
        }
        finish(s, r, XR_BINANCE_CONFIRMED, XR_OK, m->status, 0);
        return;
    }
    case XR_BINANCE_OP_NONE:
        break;
    }
    r->in_use = false;
}

typedef struct err_ctx {
    xr_binance_session *s;
    xr_ev_error err;
    bool got;
} err_ctx;

static xr_err err_event(void *ctx, const xr_event *ev)
{
    err_ctx *ec = ctx;
    if (ev->kind == XR_EV_ERROR) {
        ec->err = ev->u.error;
        ec->got = true;
    }
    emit(ec->s, ev);
    return XR_OK;
}

/* A non-2xx answer to `r`. */
static void on_failure(xr_binance_session *s, sess_req *r, const xr_http_message *m)
{
    err_ctx ec = {.s = s};
    xr_decode_error de;
    (void)xr_binance_decode_error(&s->codec, m->status, (const char *)m->body, m->body_len,
                                  err_event, &ec, &de);
    xr_err err = ec.got ? ec.err.err : XR_ERR_VENUE_UNAVAILABLE;
    uint16_t flags = ec.got ? ec.err.flags : XR_VENUE_ERR_OUTCOME_UNKNOWN;
    int32_t code = ec.got ? ec.err.venue_code : 0;

    if ((flags & XR_VENUE_ERR_CLOCK_DRIFT) != 0) {
        s->stats.clock_resyncs++;
        xr_binance_clock_invalidate(&s->auth.clock);
        if (!r->clock_retried) {
            /* -1021: refused before execution; resend once behind a fresh clock sample. */
            r->clock_retried = true;
            queue_push(s, r, true);
            queue_internal(s, XR_BINANCE_OP_TIME, 0, false, true);
            return;
        }
        queue_internal(s, XR_BINANCE_OP_TIME, 0, false, true);
    }
    if (m->status == 429 || m->status == 418) {
        s->stats.rate_limited++;
        if (op_mutates(r->op)) {
            finish(s, r, XR_BINANCE_REJECTED, XR_ERR_RATE_LIMITED, m->status, code);
            return;
        }
        /* Not executed: a read goes back to the front, behind the limiter's backoff. */
        if (r->op == XR_BINANCE_OP_DEPTH) {
            r->in_use = false;
            fail_depth(s, r->sym);
            return;
        }
        queue_push(s, r, true);
        return;
    }
    if ((flags & XR_VENUE_ERR_OUTCOME_UNKNOWN) != 0) {
        fail_sent(s, r, err, m->status, code, INTERNAL_RETRY_NS);
        return;
    }
    if (op_is_internal(r->op)) {
        if (r->op == XR_BINANCE_OP_DEPTH) {
            r->in_use = false;
            fail_depth(s, r->sym);
            return;
        }
        r->not_before_ns = mono_now() + INTERNAL_RETRY_NS;
        queue_push(s, r, false);
        return;
    }
    finish(s, r, XR_BINANCE_REJECTED, err, m->status, code);
}

static void on_response(xr_binance_session *s, const xr_http_message *m)
{
    s->stats.responses++;
    uint64_t vnow = venue_now_ns(s);
    int64_t retry_after = -1;
    for (size_t i = 0; i < m->header_count; i++) {
        const xr_http_header *h = &m->headers[i];
        xr_binance_limiter_on_header(&s->limiter, vnow, h->name, h->name_len, h->value,
                                     h->value_len);
        if (h->name_len == 11 && strncasecmp(h->name, "Retry-After", 11) == 0) {
            int64_t v = 0;
            size_t d = 0;
            for (; d < h->value_len && d < 9 && h->value[d] >= '0' && h->value[d] <= '9'; d++)
                v = v * 10 + (h->value[d] - '0');
            if (d > 0)
                retry_after = v;
        }
    }
    xr_binance_limiter_on_response(&s->limiter, vnow, m->status, retry_after);
    if (s->cur == UINT32_MAX)
        return; /* an answer nobody waits for (cannot happen without pipelining) */
    sess_req *r = &s->slots[s->cur];
    s->cur = UINT32_MAX;
    s->rest.backoff_ns = s->cfg.reconnect_min_ns;
    if (m->status >= 200 && m->status < 300)
        on_success(s, r, m);
    else
        on_failure(s, r, m);
}

/* ---- WebSockets ------------------------------------------------------------------------- */

static int sym_of_instrument(const xr_binance_session *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->nsyms; i++)
        if (s->syms[i].inst != NULL && s->syms[i].inst->id == id)
            return (int)i;
    return -1;
}

static xr_err stream_event(void *ctx, const xr_event *ev)
{
    xr_binance_session *s = ctx;
    if (ev->kind == XR_EV_BOOK_DELTA) {
        int i = sym_of_instrument(s, ev->instrument);
        if (i >= 0) {
            if ((ev->u.book.part & XR_EV_BOOK_PART_FIRST) != 0)
                s->stats.depth_updates++;
            on_depth_action(
                s, (uint32_t)i,
                xr_binance_depth_sync_on_delta(&s->syms[i].sync, &ev->u.book, mono_now()));
        }
    }
    emit(s, ev);
    return XR_OK;
}

static void ws_message(xr_binance_session *s, sess_conn *c, const uint8_t *d, size_t n)
{
    s->stats.ws_messages++;
    xr_decode_error de;
    xr_err e = xr_binance_decode_stream(&s->codec, (const char *)d, n, stream_event, s, &de);
    if (e == XR_OK)
        return;
    s->stats.decode_errors++;
    if (c->kind == KIND_MARKET) {
        /* The message may have held a depth update of any symbol: resync them all. */
        for (uint32_t i = 0; i < s->nsyms; i++)
            on_depth_action(s, i, xr_binance_depth_sync_on_stream_error(&s->syms[i].sync));
    }
}

static size_t ws_data(xr_binance_session *s, sess_conn *c, const uint8_t *d, size_t n)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        xr_ws_event ev;
        xr_err r = xr_ws_recv(&c->ws, d + off, n - off, &used, &ev);
        off += used;
        if (r == XR_ERR_AGAIN)
            break;
        if (r != XR_OK) {
            ws_flush(c);
            xr_net_stream_close(&c->st);
            break;
        }
        if (ev.type == XR_WS_EV_TEXT || ev.type == XR_WS_EV_BINARY)
            ws_message(s, c, ev.data, ev.len);
        else if (ev.type == XR_WS_EV_CLOSE)
            ws_flush(c);
        if (c->state != CONN_OPEN)
            break; /* closed by a callback */
    }
    ws_flush(c);
    c->backoff_ns = s->cfg.reconnect_min_ns;
    return n;
}

static void ws_send_handshake(xr_binance_session *s, sess_conn *c)
{
    char target[1024];
    size_t tl = 0;
    if (c->kind == KIND_MARKET) {
        tl = (size_t)snprintf(target, sizeof target, "/stream?streams=");
        for (uint32_t i = 0; i < s->nsyms; i++) {
            char lower[XR_SYMBOL_MAX + 1];
            size_t k = 0;
            for (; s->syms[i].symbol[k] != '\0'; k++) {
                char ch = s->syms[i].symbol[k];
                lower[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            lower[k] = '\0';
            tl += (size_t)snprintf(target + tl, sizeof target - tl, "%s%s%s", i ? "/" : "", lower,
                                   s->depth_stream);
            if (s->cfg.trades)
                tl += (size_t)snprintf(target + tl, sizeof target - tl, "/%s@trade", lower);
            if (s->cfg.tickers)
                tl += (size_t)snprintf(target + tl, sizeof target - tl, "/%s@ticker", lower);
        }
    } else {
        snprintf(target, sizeof target, "/ws/%s", s->listen_key);
    }
    char req[1400];
    size_t len = 0;
    if (xr_ws_make_key(c->key) != XR_OK ||
        xr_ws_build_client_handshake(req, sizeof req, &len, s->host, target, c->key, NULL, 0) !=
            XR_OK) {
        xr_net_stream_abort(&c->st);
        return;
    }
    conn_send(c, req, len);
}

/* ---- stream callbacks ------------------------------------------------------------------- */

static void c_on_open(xr_net_stream *st, void *user)
{
    (void)st;
    sess_conn *c = user;
    xr_binance_session *s = c->s;
    if (c->kind == KIND_REST) {
        c->state = CONN_OPEN;
        s->stats.rest_connects++;
        rest_kick(s);
        return;
    }
    c->state = CONN_HANDSHAKE;
    if (c->kind == KIND_MARKET)
        s->stats.ws_connects++;
    else
        s->stats.user_connects++;
    ws_send_handshake(s, c);
}

static size_t c_on_data(xr_net_stream *st, const uint8_t *d, size_t n, void *user)
{
    (void)st;
    sess_conn *c = user;
    xr_binance_session *s = c->s;
    if (c->kind == KIND_REST) {
        size_t off = 0;
        while (off < n) {
            size_t used = 0;
            const xr_http_message *m = NULL;
            xr_err e = xr_http_parse(&c->http, d + off, n - off, &used, &m);
            off += used;
            if (e == XR_ERR_AGAIN)
                return n;
            if (e != XR_OK) {
                xr_net_stream_abort(&c->st);
                return n;
            }
            bool keep = m->keep_alive;
            on_response(s, m);
            if (!keep) {
                xr_net_stream_close(&c->st);
                return n;
            }
            if (c->state != CONN_OPEN)
                return n;
            rest_kick(s);
            if (off >= n)
                break;
        }
        return n;
    }
    if (c->state == CONN_OPEN)
        return ws_data(s, c, d, n);
    /* The 101 answer, possibly followed by the first frames. */
    size_t used = 0;
    const xr_http_message *m = NULL;
    xr_err e = xr_http_parse(&c->http, d, n, &used, &m);
    if (e == XR_ERR_AGAIN)
        return used;
    if (e != XR_OK || xr_ws_check_server_handshake(m, c->key) != XR_OK) {
        if (e == XR_OK && c->kind == KIND_USER && m->status >= 400)
            s->listen_key[0] = '\0'; /* unknown listenKey: get a new one */
        xr_net_stream_abort(&c->st);
        return n;
    }
    xr_ws_config wc;
    xr_ws_config_default(&wc, XR_WS_CLIENT);
    wc.max_message_bytes = s->cfg.max_ws_message_bytes;
    wc.out_bytes = 16384;
    if (xr_ws_init(&c->ws, &wc, c->ws_mem, c->ws_mem_len) != XR_OK) {
        xr_net_stream_abort(&c->st);
        return n;
    }
    c->ws_inited = true;
    c->state = CONN_OPEN;
    return used + ws_data(s, c, d + used, n - used);
}

static void c_on_writable(xr_net_stream *st, void *user)
{
    (void)st;
    conn_flush(user);
}

static void c_on_close(xr_net_stream *st, xr_err reason, void *user)
{
    (void)st;
    (void)reason;
    sess_conn *c = user;
    xr_binance_session *s = c->s;
    bool was_open = c->state == CONN_OPEN;
    c->state = CONN_DOWN;
    c->out_len = 0;
    if (c->ws_inited) {
        xr_ws_free(&c->ws);
        c->ws_inited = false;
    }
    if (s->destroying)
        return;
    schedule_reconnect(s, c);
    if (c->kind == KIND_REST) {
        if (was_open)
            s->stats.rest_disconnects++;
        if (s->cur != UINT32_MAX) {
            sess_req *r = &s->slots[s->cur];
            s->cur = UINT32_MAX;
            fail_sent(s, r, XR_ERR_VENUE_UNAVAILABLE, 0, 0, 0);
        }
        return;
    }
    if (c->kind == KIND_MARKET) {
        if (was_open)
            s->stats.ws_disconnects++;
        /* Whatever was in flight is lost: every book is unsynced until resynced. */
        for (uint32_t i = 0; i < s->nsyms; i++)
            xr_binance_depth_sync_reset(&s->syms[i].sync);
        return;
    }
    /* The user stream: a fresh listenKey first (Binance hands back the live one). */
    if (s->has_key) {
        s->user.want = false;
        if (!queued_op(s, XR_BINANCE_OP_LISTEN_KEY))
            queue_internal(s, XR_BINANCE_OP_LISTEN_KEY, 0, false, false);
    }
}

static const xr_net_stream_handler conn_handler = {.on_open = c_on_open,
                                                   .on_data = c_on_data,
                                                   .on_writable = c_on_writable,
                                                   .on_close = c_on_close};

static void conn_start(xr_binance_session *s, sess_conn *c)
{
    XR_ASSERT(c->state == CONN_DOWN);
    c->want = true;
    c->reconnect_at_ns = NEVER;
    xr_http_parser_reset(&c->http);
    c->out_len = 0;
    xr_tls *tls = NULL;
    if (s->cfg.trust != NULL) {
        if (xr_tls_client_init(c->tls, s->cfg.trust, s->host) != XR_OK) {
            schedule_reconnect(s, c);
            return;
        }
        tls = c->tls;
    }
    xr_net_conn_opts opts = {.connect_timeout_ns = s->cfg.connect_timeout_ns};
    uint16_t port = c->kind == KIND_REST ? s->cfg.port : s->cfg.ws_port;
    xr_err e = xr_net_stream_connect(&c->st, s->loop, s->ip, port, &opts, tls, &conn_handler, c);
    if (e != XR_OK) {
        schedule_reconnect(s, c);
        return;
    }
    c->state = CONN_CONNECTING;
}

static void start_market(xr_binance_session *s)
{
    for (uint32_t i = 0; i < s->nsyms; i++)
        if (s->syms[i].inst == NULL)
            return; /* a configured symbol the venue does not list: stay without data */
    s->market.want = true;
    if (s->market.state == CONN_DOWN)
        conn_start(s, &s->market);
}

/* ---- life cycle ------------------------------------------------------------------------- */

void xr_binance_session_config_default(xr_binance_session_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "localhost";
    cfg->depth_stream = "@depth@100ms";
    cfg->trades = true;
    cfg->tickers = true;
    cfg->snapshot_limit = 1000;
    cfg->book_depth = 5000;
    cfg->sync_buffer = 1024;
    cfg->queue_max = 256;
    cfg->request_timeout_ns = 10 * XR_NS_PER_SEC;
    cfg->queue_deadline_ns = 60 * XR_NS_PER_SEC;
    cfg->connect_timeout_ns = 5 * XR_NS_PER_SEC;
    cfg->reconnect_min_ns = 50 * XR_NS_PER_MS;
    cfg->reconnect_max_ns = 5 * XR_NS_PER_SEC;
    cfg->clock_max_age_ns = 300 * XR_NS_PER_SEC;
    cfg->listen_key_keepalive_ns = 1800 * XR_NS_PER_SEC;
    cfg->max_body_bytes = 4u << 20;
    cfg->max_ws_message_bytes = 1u << 20;
    cfg->seed = 1;
}

static xr_err conn_init(xr_binance_session *s, sess_conn *c, int kind)
{
    c->s = s;
    c->kind = kind;
    c->state = CONN_DOWN;
    c->reconnect_at_ns = 0;
    c->backoff_ns = s->cfg.reconnect_min_ns;
    xr_http_limits lim;
    xr_http_limits_default(&lim);
    lim.max_body_bytes = kind == KIND_REST ? s->cfg.max_body_bytes : 4096;
    size_t fp = xr_http_parser_footprint(&lim);
    c->http_mem = malloc(fp);
    c->out_cap = 32768;
    c->out = malloc(c->out_cap);
    if (s->cfg.trust != NULL)
        c->tls = malloc(sizeof *c->tls);
    if (c->http_mem == NULL || c->out == NULL || (s->cfg.trust != NULL && c->tls == NULL))
        return XR_ERR_NO_MEMORY;
    xr_err e = xr_http_parser_init(&c->http, XR_HTTP_RESPONSE, c->http_mem, fp, &lim);
    if (e != XR_OK)
        return e;
    if (kind != KIND_REST) {
        xr_ws_config wc;
        xr_ws_config_default(&wc, XR_WS_CLIENT);
        wc.max_message_bytes = s->cfg.max_ws_message_bytes;
        wc.out_bytes = 16384;
        c->ws_mem_len = xr_ws_footprint(&wc);
        c->ws_mem = malloc(c->ws_mem_len);
        if (c->ws_mem == NULL)
            return XR_ERR_NO_MEMORY;
    }
    return XR_OK;
}

static void conn_free(sess_conn *c)
{
    if (c->ws_inited)
        xr_ws_free(&c->ws);
    free(c->http_mem);
    free(c->out);
    free(c->tls);
    free(c->ws_mem);
}

static bool copy_str(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        return false;
    size_t n = strlen(src);
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static void *alloc16(size_t n)
{
    return aligned_alloc(64, (n + 63) & ~(size_t)63);
}

xr_err xr_binance_session_create(const xr_binance_session_config *cfg, xr_net_loop *loop,
                                 xr_binance_session **out)
{
    if (cfg == NULL || loop == NULL || out == NULL || cfg->port == 0 ||
        cfg->nsymbols > XR_BINANCE_SESSION_SYMBOLS_MAX || cfg->queue_max == 0 ||
        cfg->request_timeout_ns == 0 || cfg->reconnect_min_ns == 0)
        return XR_ERR_INVALID_ARGUMENT;
    xr_binance_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return XR_ERR_NO_MEMORY;
    s->cfg = *cfg;
    s->loop = loop;
    s->cur = UINT32_MAX;
    xr_err e = XR_ERR_CONFIG;
    if (!copy_str(s->ip, sizeof s->ip, cfg->ip) ||
        !copy_str(s->host, sizeof s->host, cfg->host != NULL ? cfg->host : "localhost") ||
        !copy_str(s->depth_stream, sizeof s->depth_stream,
                  cfg->depth_stream != NULL ? cfg->depth_stream : "@depth@100ms"))
        goto fail;
    if (s->cfg.ws_port == 0)
        s->cfg.ws_port = cfg->port;
    xr_binance_clock_init(&s->auth.clock);
    s->auth.recv_window_ms = cfg->recv_window_ms;
    if (cfg->api_key != NULL) {
        if (!copy_str(s->api_key, sizeof s->api_key, cfg->api_key) || cfg->secret == NULL ||
            xr_binance_signer_init(&s->auth.signer, cfg->secret, strlen(cfg->secret)) != XR_OK)
            goto fail;
        s->has_key = true;
    }
    xr_binance_limiter_init(&s->limiter, cfg->seed);

    e = XR_ERR_NO_MEMORY;
    const uint32_t inst_cap = 4096;
    size_t ifp = xr_instruments_footprint(inst_cap);
    s->inst_mem = alloc16(ifp);
    if (s->inst_mem == NULL)
        goto fail;
    if ((e = xr_instruments_init(&s->inst, s->inst_mem, ifp, inst_cap, cfg->venue)) != XR_OK)
        goto fail;
    s->codec = (xr_binance_codec){
        .assets = cfg->assets, .instruments = &s->inst, .venue = cfg->venue, .flags = 0};

    s->nsyms = cfg->nsymbols;
    for (uint32_t i = 0; i < s->nsyms; i++) {
        sess_sym *y = &s->syms[i];
        e = XR_ERR_CONFIG;
        if (!copy_str(y->symbol, sizeof y->symbol, cfg->symbols[i]))
            goto fail;
        xr_book_config bc = {.depth_max = cfg->book_depth, .stale_after_ns = cfg->book_stale_ns};
        size_t bfp = xr_book_footprint(&bc);
        size_t sfp = xr_binance_depth_sync_footprint(cfg->sync_buffer);
        if (bfp == 0 || sfp == 0)
            goto fail;
        e = XR_ERR_NO_MEMORY;
        y->book_mem = alloc16(bfp);
        y->sync_mem = alloc16(sfp);
        if (y->book_mem == NULL || y->sync_mem == NULL)
            goto fail;
        if ((e = xr_book_init(&y->book, y->book_mem, bfp, &bc)) != XR_OK ||
            (e = xr_binance_depth_sync_init(&y->sync, y->sync_mem, sfp, cfg->sync_buffer,
                                            &y->book)) != XR_OK)
            goto fail;
    }
    e = XR_ERR_NO_MEMORY;
    s->nslots = cfg->queue_max;
    s->slots = calloc(s->nslots, sizeof *s->slots);
    s->queue = calloc(s->nslots, sizeof *s->queue);
    if (s->slots == NULL || s->queue == NULL)
        goto fail;
    if ((e = conn_init(s, &s->rest, KIND_REST)) != XR_OK ||
        (e = conn_init(s, &s->market, KIND_MARKET)) != XR_OK ||
        (e = conn_init(s, &s->user, KIND_USER)) != XR_OK)
        goto fail;

    queue_internal(s, XR_BINANCE_OP_TIME, 0, false, false);
    queue_internal(s, XR_BINANCE_OP_EXCHANGE_INFO, 0, false, false);
    s->clock_check_at_ns = mono_now() + cfg->clock_max_age_ns;
    s->keepalive_at_ns = NEVER;
    rest_kick(s);
    *out = s;
    return XR_OK;
fail:
    s->destroying = true;
    xr_binance_session_destroy(s);
    return e;
}

void xr_binance_session_destroy(xr_binance_session *s)
{
    if (s == NULL)
        return;
    s->destroying = true;
    sess_conn *cs[3] = {&s->rest, &s->market, &s->user};
    bool any = false;
    for (int i = 0; i < 3; i++) {
        if (cs[i]->state != CONN_DOWN) {
            xr_net_stream_abort(&cs[i]->st);
            any = true;
        }
    }
    /* The streams are ours until their on_close has run: let the loop deliver them. */
    for (int spins = 0; any && spins < 1000; spins++) {
        any = false;
        for (int i = 0; i < 3; i++)
            any |= cs[i]->state != CONN_DOWN;
        if (any)
            (void)xr_net_loop_poll(s->loop, XR_NS_PER_MS, NULL);
    }
    for (int i = 0; i < 3; i++)
        conn_free(cs[i]);
    for (uint32_t i = 0; i < XR_BINANCE_SESSION_SYMBOLS_MAX; i++) {
        free(s->syms[i].book_mem);
        free(s->syms[i].sync_mem);
    }
    xr_binance_signer_wipe(&s->auth.signer);
    free(s->inst_mem);
    free(s->slots);
    free(s->queue);
    free(s);
}

uint64_t xr_binance_session_run_due(xr_binance_session *s)
{
    uint64_t now = mono_now();
    /* The request in flight ran out of time: its answer may still come, but it could no
     * longer be told from the next one's, so the connection goes too. */
    if (s->cur != UINT32_MAX && now >= s->cur_deadline_ns) {
        sess_req *r = &s->slots[s->cur];
        s->cur = UINT32_MAX;
        s->stats.timeouts++;
        fail_sent(s, r, XR_ERR_TIMEOUT, 0, 0, 0);
        if (s->rest.state != CONN_DOWN)
            xr_net_stream_abort(&s->rest.st);
    }
    /* Commands that could not be sent in time were never sent: safely rejected. */
    for (uint32_t pos = 0; pos < s->qlen;) {
        sess_req *r = &s->slots[s->queue[pos]];
        if (now >= r->deadline_ns) {
            queue_remove_at(s, pos);
            finish(s, r, XR_BINANCE_REJECTED, XR_ERR_TIMEOUT, 0, 0);
            continue;
        }
        pos++;
    }
    if (s->state == XR_BINANCE_SESSION_READY) {
        if (now >= s->clock_check_at_ns) {
            s->clock_check_at_ns = now + s->cfg.clock_max_age_ns / 2;
            if (xr_binance_clock_needs_sample(&s->auth.clock, wall_ms(),
                                              (int64_t)(s->cfg.clock_max_age_ns / XR_NS_PER_MS)) &&
                !queued_op(s, XR_BINANCE_OP_TIME))
                queue_internal(s, XR_BINANCE_OP_TIME, 0, false, false);
        }
        if (s->has_key && s->listen_key[0] != '\0' && now >= s->keepalive_at_ns) {
            s->keepalive_at_ns = now + s->cfg.listen_key_keepalive_ns;
            queue_internal(s, XR_BINANCE_OP_LISTEN_KEY, 0, true, false);
        }
    }
    sess_conn *ws[2] = {&s->market, &s->user};
    for (int i = 0; i < 2; i++) {
        sess_conn *c = ws[i];
        if (c->want && c->state == CONN_DOWN && now >= c->reconnect_at_ns)
            conn_start(s, c);
    }
    rest_kick(s);

    uint64_t next = NEVER;
    if (s->cur != UINT32_MAX)
        next = min_u64(next, s->cur_deadline_ns);
    for (uint32_t pos = 0; pos < s->qlen; pos++) {
        const sess_req *r = &s->slots[s->queue[pos]];
        next = min_u64(next, r->deadline_ns);
        if (s->cur == UINT32_MAX && s->rest.state == CONN_OPEN)
            next = min_u64(next, r->not_before_ns > s->limiter_retry_ns ? r->not_before_ns
                                                                        : s->limiter_retry_ns);
    }
    if (s->qlen > 0 && s->rest.state == CONN_DOWN)
        next = min_u64(next, s->rest.reconnect_at_ns);
    for (int i = 0; i < 2; i++)
        if (ws[i]->want && ws[i]->state == CONN_DOWN)
            next = min_u64(next, ws[i]->reconnect_at_ns);
    if (s->state == XR_BINANCE_SESSION_READY) {
        next = min_u64(next, s->clock_check_at_ns);
        next = min_u64(next, s->keepalive_at_ns);
    }
    now = mono_now();
    return next == NEVER ? NEVER : (next > now ? next - now : 0);
}

xr_err xr_binance_session_poll(xr_binance_session *s, uint64_t timeout_ns)
{
    uint64_t due = xr_binance_session_run_due(s);
    xr_err e = xr_net_loop_poll(s->loop, min_u64(due, timeout_ns), NULL);
    if (e != XR_OK)
        return e;
    (void)xr_binance_session_run_due(s);
    return XR_OK;
}

xr_binance_session_state xr_binance_session_get_state(const xr_binance_session *s)
{
    return s->state;
}

const xr_binance_session_stats *xr_binance_session_get_stats(const xr_binance_session *s)
{
    return &s->stats;
}

const xr_binance_limiter *xr_binance_session_limiter(const xr_binance_session *s)
{
    return &s->limiter;
}

const xr_instruments *xr_binance_session_instruments(const xr_binance_session *s)
{
    return &s->inst;
}

const xr_instrument *xr_binance_session_instrument(const xr_binance_session *s, const char *symbol)
{
    return symbol == NULL ? NULL : xr_instruments_by_symbol(&s->inst, symbol, strlen(symbol));
}

const xr_book *xr_binance_session_book(const xr_binance_session *s, uint32_t i)
{
    return i < s->nsyms ? &s->syms[i].book : NULL;
}

xr_binance_sync_state xr_binance_session_sync_state(const xr_binance_session *s, uint32_t i)
{
    return i < s->nsyms ? xr_binance_depth_sync_state(&s->syms[i].sync) : XR_BINANCE_SYNC_IDLE;
}

const xr_binance_sync_stats *xr_binance_session_sync_stats(const xr_binance_session *s, uint32_t i)
{
    return i < s->nsyms ? xr_binance_depth_sync_stats(&s->syms[i].sync) : NULL;
}

bool xr_binance_session_user_stream_live(const xr_binance_session *s)
{
    return s->user.state == CONN_OPEN;
}

/* ---- commands --------------------------------------------------------------------------- */

static xr_err command(xr_binance_session *s, uint8_t op, const xr_instrument *inst, const char *cid,
                      const xr_binance_order_params *p, uint64_t *request_id)
{
    if (s->state != XR_BINANCE_SESSION_READY || !s->has_key)
        return XR_ERR_INVALID_STATE;
    if (cid != NULL && !xr_binance_client_order_id_valid(cid))
        return XR_ERR_INVALID_ARGUMENT;
    /* Build once now, so a bad order is rejected locally with the builder's own code. */
    xr_binance_request probe;
    xr_err e = XR_OK;
    switch (op) {
    case XR_BINANCE_OP_ORDER_NEW:
        e = xr_binance_req_order_new(&probe, &s->auth, wall_ms(), p);
        break;
    case XR_BINANCE_OP_ORDER_QUERY:
        e = xr_binance_req_order_query(&probe, &s->auth, wall_ms(), inst, cid);
        break;
    case XR_BINANCE_OP_ORDER_CANCEL:
        e = xr_binance_req_order_cancel(&probe, &s->auth, wall_ms(), inst, cid);
        break;
    default:
        break;
    }
    if (e != XR_OK)
        return e;
    sess_req *r = req_alloc(s, op);
    if (r == NULL)
        return XR_ERR_NO_MEMORY;
    r->inst = inst;
    if (cid != NULL)
        memcpy(r->cid, cid, strlen(cid) + 1);
    if (p != NULL) {
        r->params = *p;
        r->params.client_order_id = r->cid;
    }
    r->deadline_ns = mono_now() + s->cfg.queue_deadline_ns;
    queue_push(s, r, false);
    if (request_id != NULL)
        *request_id = r->id;
    rest_kick(s);
    return XR_OK;
}

xr_err xr_binance_session_order_new(xr_binance_session *s, const xr_binance_order_params *p,
                                    uint64_t *request_id)
{
    if (p == NULL || p->inst == NULL || p->client_order_id == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    return command(s, XR_BINANCE_OP_ORDER_NEW, p->inst, p->client_order_id, p, request_id);
}

xr_err xr_binance_session_order_query(xr_binance_session *s, const xr_instrument *inst,
                                      const char *client_order_id, uint64_t *request_id)
{
    if (inst == NULL || client_order_id == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    return command(s, XR_BINANCE_OP_ORDER_QUERY, inst, client_order_id, NULL, request_id);
}

xr_err xr_binance_session_order_cancel(xr_binance_session *s, const xr_instrument *inst,
                                       const char *client_order_id, uint64_t *request_id)
{
    if (inst == NULL || client_order_id == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    return command(s, XR_BINANCE_OP_ORDER_CANCEL, inst, client_order_id, NULL, request_id);
}

xr_err xr_binance_session_open_orders(xr_binance_session *s, const xr_instrument *inst,
                                      uint64_t *request_id)
{
    return command(s, XR_BINANCE_OP_OPEN_ORDERS, inst, NULL, NULL, request_id);
}

xr_err xr_binance_session_account(xr_binance_session *s, uint64_t *request_id)
{
    return command(s, XR_BINANCE_OP_ACCOUNT, NULL, NULL, NULL, request_id);
}

/* Queues a Convert command after building it once (a bad one is refused here, unsent). */
static xr_err convert_command(xr_binance_session *s, sess_req *tmpl, uint64_t *request_id)
{
    if (s->state != XR_BINANCE_SESSION_READY || !s->has_key)
        return XR_ERR_INVALID_STATE;
    xr_binance_request probe;
    const char *method = NULL;
    xr_err e = build_target(s, tmpl, &probe, &method);
    if (e != XR_OK)
        return e;
    sess_req *r = req_alloc(s, tmpl->op);
    if (r == NULL)
        return XR_ERR_NO_MEMORY;
    uint64_t id = r->id;
    *r = *tmpl;
    r->id = id;
    r->in_use = true;
    r->deadline_ns = mono_now() + s->cfg.queue_deadline_ns;
    queue_push(s, r, false);
    if (request_id != NULL)
        *request_id = r->id;
    rest_kick(s);
    return XR_OK;
}

static bool convert_id_copy(char dst[XR_BINANCE_CONVERT_ID_MAX + 1], const char *src)
{
    if (src == NULL || strlen(src) == 0 || strlen(src) > XR_BINANCE_CONVERT_ID_MAX)
        return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

xr_err xr_binance_session_convert_quote(xr_binance_session *s, const char *from_asset,
                                        const char *to_asset, xr_amount from_amount,
                                        unsigned from_scale, unsigned to_scale,
                                        uint64_t *request_id)
{
    sess_req t;
    memset(&t, 0, sizeof t);
    t.op = XR_BINANCE_OP_CONVERT_QUOTE;
    if (from_asset == NULL || to_asset == NULL || strlen(from_asset) > XR_ASSET_CODE_MAX ||
        strlen(to_asset) > XR_ASSET_CODE_MAX || from_scale > XR_SCALE_MAX ||
        to_scale > XR_SCALE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    memcpy(t.from_asset, from_asset, strlen(from_asset) + 1);
    memcpy(t.to_asset, to_asset, strlen(to_asset) + 1);
    t.amount = from_amount;
    t.from_scale = (uint8_t)from_scale;
    t.to_scale = (uint8_t)to_scale;
    return convert_command(s, &t, request_id);
}

xr_err xr_binance_session_convert_accept(xr_binance_session *s, const char *quote_id,
                                         uint64_t *request_id)
{
    sess_req t;
    memset(&t, 0, sizeof t);
    t.op = XR_BINANCE_OP_CONVERT_ACCEPT;
    if (!convert_id_copy(t.quote_id, quote_id))
        return XR_ERR_INVALID_ARGUMENT;
    return convert_command(s, &t, request_id);
}

xr_err xr_binance_session_convert_status(xr_binance_session *s, const char *quote_id,
                                         unsigned from_scale, unsigned to_scale,
                                         uint64_t *request_id)
{
    sess_req t;
    memset(&t, 0, sizeof t);
    t.op = XR_BINANCE_OP_CONVERT_STATUS;
    if (!convert_id_copy(t.quote_id, quote_id) || from_scale > XR_SCALE_MAX ||
        to_scale > XR_SCALE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    t.from_scale = (uint8_t)from_scale;
    t.to_scale = (uint8_t)to_scale;
    return convert_command(s, &t, request_id);
}

const char *xr_binance_op_name(xr_binance_op op)
{
    static const char *const names[] = {
        "none",          "time",           "exchange_info", "depth",       "listen_key",
        "order_new",     "order_query",    "order_cancel",  "open_orders", "account",
        "convert_quote", "convert_accept", "convert_status"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "unknown";
}

const char *xr_binance_outcome_name(xr_binance_outcome o)
{
    switch (o) {
    case XR_BINANCE_CONFIRMED:
        return "confirmed";
    case XR_BINANCE_REJECTED:
        return "rejected";
    case XR_BINANCE_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}
