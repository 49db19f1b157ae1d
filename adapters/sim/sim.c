/*
 * The venue simulator's server: venues, connections, the output queue with its latency
 * fault, rate limits, faults, the control endpoint and the timers. The dialects live in
 * binance.c and mock.c. See sim.h for the contract and docs/simulator.md for the behaviour.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sim/sim_internal.h"
#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"

static const xr_net_stream_handler session_handler;

__attribute__((format(printf, 3, 4))) static void why_set(char *why, size_t cap, const char *fmt,
                                                          ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

int64_t sim_now_ms(const sim_venue *v)
{
    return xr_clock_wall_ns() / (int64_t)XR_NS_PER_MS + v->f.clock_offset_ms;
}

static bool is_stale(const sim_venue *v, uint64_t now_ns)
{
    return v->f.stale_forever || now_ns < v->f.stale_until_ns;
}

/* ---- output queue --------------------------------------------------------------------- */

static void session_abort(sim_session *s)
{
    if (s->aborted || s->state == SIM_SS_FREE)
        return;
    s->aborted = true;
    s->closing = true;
    xr_net_stream_abort(&s->st);
}

static void out_flush(sim_session *s)
{
    if (s->aborted || s->state == SIM_SS_FREE)
        return;
    while (s->head < s->release) {
        size_t sent = 0;
        xr_err e = xr_net_stream_send(&s->st, s->out + (s->head - s->out_base),
                                      (size_t)(s->release - s->head), &sent);
        s->head += sent;
        if (e == XR_ERR_AGAIN)
            return; /* on_writable continues */
        if (e != XR_OK) {
            session_abort(s);
            return;
        }
    }
    if (s->closing && s->head == s->tail)
        xr_net_stream_close(&s->st);
}

/* Makes room for `len` more bytes; false when the queue cannot hold them. */
static bool out_room(sim_session *s, size_t len)
{
    if (s->tail - s->out_base + len <= SIM_OUT_BYTES)
        return true;
    size_t done = (size_t)(s->head - s->out_base);
    memmove(s->out, s->out + done, (size_t)(s->tail - s->head));
    s->out_base = s->head;
    return s->tail - s->out_base + len <= SIM_OUT_BYTES;
}

/* Accounts for `len` bytes just written at the tail: releasable now, or later under the
 * latency fault (in order: nothing overtakes a held-back chunk). */
static void out_commit(sim_session *s, size_t len)
{
    s->tail += len;
    uint32_t lat = s->v->f.latency_ms;
    if (lat == 0 && s->mk_count == 0) {
        s->release = s->tail;
    } else {
        uint64_t due = xr_clock_mono_ns() + (uint64_t)lat * XR_NS_PER_MS;
        if (s->mk_count == SIM_MARKERS_MAX) {
            sim_marker *last = &s->markers[(s->mk_first + s->mk_count - 1) % SIM_MARKERS_MAX];
            last->end = s->tail;
            if (due > last->due_ns)
                last->due_ns = due;
        } else {
            sim_marker *mk = &s->markers[(s->mk_first + s->mk_count) % SIM_MARKERS_MAX];
            mk->end = s->tail;
            mk->due_ns = due;
            s->mk_count++;
        }
    }
    out_flush(s);
}

void sim_out_push(sim_session *s, const void *data, size_t len)
{
    if (s->aborted || s->state == SIM_SS_FREE)
        return;
    if (!out_room(s, len)) {
        /* A client that does not read: cut it, as a venue does with a slow consumer. */
        s->v->c.slow_closes++;
        session_abort(s);
        return;
    }
    memcpy(s->out + (s->tail - s->out_base), data, len);
    out_commit(s, len);
}

static uint64_t out_release_due(sim_session *s, uint64_t now_ns)
{
    bool moved = false;
    while (s->mk_count > 0) {
        sim_marker *mk = &s->markers[s->mk_first];
        if (mk->due_ns > now_ns)
            break;
        s->release = mk->end;
        s->mk_first = (s->mk_first + 1) % SIM_MARKERS_MAX;
        s->mk_count--;
        moved = true;
    }
    if (moved)
        out_flush(s);
    return s->mk_count > 0 ? s->markers[s->mk_first].due_ns : UINT64_MAX;
}

void sim_session_close(sim_session *s)
{
    if (s->closing)
        return;
    s->closing = true;
    out_flush(s);
}

/* ---- WebSocket output ----------------------------------------------------------------- */

static void ws_drain(sim_session *s)
{
    size_t n = 0;
    const uint8_t *p = xr_ws_output(&s->ws, &n);
    if (p != NULL && n > 0) {
        sim_out_push(s, p, n);
        xr_ws_output_ack(&s->ws, n);
    }
}

void sim_ws_send(sim_session *s, const char *stream, const char *data, size_t len)
{
    if (s->closing || s->state != SIM_SS_WS)
        return;
    sim_venue *v = s->v;
    if (s->combined && stream != NULL) {
        sim_buf b;
        sb_init(&b, v->sim->wrap, SIM_MSG_BYTES + 256);
        sb_cat(&b, "{\"stream\":");
        sb_jstr(&b, stream, strlen(stream));
        sb_cat(&b, ",\"data\":");
        sb_raw(&b, data, len);
        sb_cat(&b, "}");
        if (b.full) {
            session_abort(s);
            return;
        }
        data = b.p;
        len = b.len;
    }
    xr_err e = xr_ws_send(&s->ws, XR_WS_TEXT, data, len);
    if (e == XR_ERR_AGAIN) {
        ws_drain(s);
        e = xr_ws_send(&s->ws, XR_WS_TEXT, data, len);
    }
    if (e != XR_OK) {
        session_abort(s);
        return;
    }
    ws_drain(s);
    s->ws_msgs++;
    v->c.ws_messages++;
    if (v->f.disconnect_after > 0 && s->ws_msgs >= v->f.disconnect_after) {
        /* A cut connection: what was sent arrives, then the TCP connection ends without a
         * close frame, as when a venue's gateway drops a client. */
        v->c.ws_disconnects++;
        sim_session_close(s);
    }
}

/* ---- requests ------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into the request's parameter buffer; '+' is a space in form
 * encoding. NULL when malformed or out of room. */
static const char *pdecode(sim_req *r, const char *s, size_t n, bool plus_space, size_t *len_out)
{
    char *out = r->pbuf + r->pbuf_len;
    size_t room = sizeof r->pbuf - r->pbuf_len, o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return NULL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return NULL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= room)
            return NULL;
        out[o++] = c;
    }
    out[o] = '\0';
    r->pbuf_len += o + 1;
    if (len_out)
        *len_out = o;
    return out;
}

static void parse_params(sim_req *r, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t kl = eq ? (size_t)(eq - (s + i)) : j - i;
            size_t vl = 0;
            const char *k = pdecode(r, s + i, kl, true, NULL);
            const char *val = eq ? pdecode(r, eq + 1, j - i - kl - 1, true, &vl) : "";
            if (k == NULL || val == NULL || r->nparams == SIM_PARAMS_MAX) {
                r->params_bad = true;
                return;
            }
            r->params[r->nparams].name = k;
            r->params[r->nparams].value = val;
            r->params[r->nparams].value_len = vl;
            r->nparams++;
        }
        i = j + 1;
    }
}

const char *sim_param_get(const sim_req *r, const char *name, size_t *len)
{
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].name, name) == 0) {
            if (len)
                *len = r->params[i].value_len;
            return r->params[i].value;
        }
    }
    return NULL;
}

static void reply_raw(sim_req *r, int status, const char *ctype, const char *body, size_t len)
{
    if (r->replied)
        return;
    r->replied = true;
    sim_session *s = r->s;
    xr_http_header h[8];
    size_t nh = 0;
    char weight[24], o10[24], o1d[24], retry[24];
    h[nh++] = (xr_http_header){"Content-Type", 12, ctype, strlen(ctype)};
    if (r->weight_counted) {
        snprintf(weight, sizeof weight, "%u", r->v->w_used);
        h[nh++] = (xr_http_header){"X-MBX-USED-WEIGHT-1M", 20, weight, strlen(weight)};
    }
    if (r->order_counted) {
        snprintf(o10, sizeof o10, "%u", r->v->o10);
        snprintf(o1d, sizeof o1d, "%u", r->v->o1d);
        h[nh++] = (xr_http_header){"X-MBX-ORDER-COUNT-10S", 21, o10, strlen(o10)};
        h[nh++] = (xr_http_header){"X-MBX-ORDER-COUNT-1D", 20, o1d, strlen(o1d)};
    }
    if (r->retry_after_s > 0) {
        snprintf(retry, sizeof retry, "%u", r->retry_after_s);
        h[nh++] = (xr_http_header){"Retry-After", 11, retry, strlen(retry)};
    }
    bool close = !r->m->keep_alive;
    if (close)
        h[nh++] = (xr_http_header){"Connection", 10, "close", 5};
    size_t need = 0;
    size_t room = 0;
    if (out_room(s, len + 1024))
        room = SIM_OUT_BYTES - (size_t)(s->tail - s->out_base);
    xr_err e = xr_http_build_response((char *)s->out + (s->tail - s->out_base), room, &need, status,
                                      NULL, h, nh, body, len);
    if (e != XR_OK) {
        s->v->c.slow_closes++;
        session_abort(s);
        return;
    }
    out_commit(s, need);
    if (close)
        sim_session_close(s);
}

void sim_reply(sim_req *r, int status, const char *body, size_t len)
{
    if (r->force_status != 0) {
        /* The 5xx fault with after_exec: the request ran, its answer is lost. */
        int st = r->force_status;
        r->v->c.http_5xx++;
        if (st == 500 || st == 503) {
            static const char b5[] = "{\"code\":-1001,\"msg\":\"Internal error; unable to "
                                     "process your request. Please try again.\"}";
            reply_raw(r, st, "application/json;charset=UTF-8", b5, sizeof b5 - 1);
        } else {
            char html[160];
            int n = snprintf(html, sizeof html,
                             "<html><head><title>%d</title></head><body><h1>%d</h1></body>"
                             "</html>\n",
                             st, st);
            reply_raw(r, st, "text/html", html, (size_t)n);
        }
        return;
    }
    reply_raw(r, status, "application/json;charset=UTF-8", body, len);
}

void sim_reply_str(sim_req *r, int status, const char *body)
{
    sim_reply(r, status, body, strlen(body));
}

void sim_reply_error(sim_req *r, int status, int code, const char *msg)
{
    char body[512];
    sim_buf b;
    sb_init(&b, body, sizeof body);
    sb_fmt(&b, "{\"code\":%d,\"msg\":", code);
    sb_jstr(&b, msg, strlen(msg));
    sb_cat(&b, "}");
    sim_reply(r, status, b.p, b.len);
}

/* ---- rate limits ---------------------------------------------------------------------- */

static uint32_t secs_until(int64_t now_ms, int64_t end_ms)
{
    int64_t d = end_ms - now_ms;
    uint32_t s = (uint32_t)((d + 999) / 1000);
    return s == 0 ? 1 : s;
}

static void roll_windows(sim_venue *v, int64_t now_ms)
{
    int64_t w = now_ms / 60000;
    if (w != v->w_window) {
        v->w_window = w;
        v->w_used = 0;
    }
    int64_t o = now_ms / 10000;
    if (o != v->o10_window) {
        v->o10_window = o;
        v->o10 = 0;
    }
    int64_t d = now_ms / 86400000;
    if (d != v->o1d_window) {
        v->o1d_window = d;
        v->o1d = 0;
    }
}

static void reply_429(sim_req *r, int code, const char *msg, uint32_t retry_s)
{
    sim_venue *v = r->v;
    v->c.http_429++;
    v->retry_until_ns = r->now_ns + (uint64_t)retry_s * XR_NS_PER_SEC;
    r->retry_after_s = retry_s;
    sim_reply_error(r, 429, code, msg);
}

static void reply_418(sim_req *r)
{
    sim_venue *v = r->v;
    v->c.http_418++;
    uint64_t left_ns = v->ban_until_ns - r->now_ns;
    r->retry_after_s = (uint32_t)((left_ns + XR_NS_PER_SEC - 1) / XR_NS_PER_SEC);
    char msg[200];
    snprintf(msg, sizeof msg,
             "Way too much request weight used; IP banned until %lld. Please use WebSocket "
             "Streams for live updates to avoid bans.",
             (long long)(r->now_ms + (int64_t)(left_ns / XR_NS_PER_MS)));
    sim_reply_error(r, 418, -1003, msg);
}

static void weight_msg(const sim_venue *v, char *msg, size_t cap)
{
    snprintf(msg, cap,
             "Too much request weight used; current limit is %u request weight per 1 MINUTE. "
             "Please use WebSocket Streams for live updates to avoid polling the API.",
             v->cfg.weight_limit);
}

bool sim_prologue(sim_req *r, uint32_t weight, bool order)
{
    sim_venue *v = r->v;
    char msg[256];
    v->c.requests++;
    roll_windows(v, r->now_ms);
    /* A client that keeps coming while banned, or before the Retry-After it was given has
     * run out, is violating; enough violations in a row earn a ban (418). */
    if (r->now_ns < v->ban_until_ns) {
        v->c.violations++;
        reply_418(r);
        return false;
    }
    if (r->now_ns < v->retry_until_ns) {
        v->c.violations++;
        if (++v->strikes >= v->cfg.ban_after) {
            v->ban_until_ns = r->now_ns + (uint64_t)v->cfg.ban_s * XR_NS_PER_SEC;
            reply_418(r);
            return false;
        }
        weight_msg(v, msg, sizeof msg);
        uint64_t left = v->retry_until_ns - r->now_ns;
        reply_429(r, -1003, msg, (uint32_t)((left + XR_NS_PER_SEC - 1) / XR_NS_PER_SEC));
        return false;
    }
    if (v->f.n429 > 0) {
        v->f.n429--;
        weight_msg(v, msg, sizeof msg);
        reply_429(r, -1003, msg, v->f.retry429_s);
        return false;
    }
    v->w_used += weight;
    r->weight_counted = true;
    if (v->w_used > v->cfg.weight_limit) {
        weight_msg(v, msg, sizeof msg);
        reply_429(r, -1003, msg, secs_until(r->now_ms, (v->w_window + 1) * 60000));
        return false;
    }
    if (order) {
        if (v->o10 >= v->cfg.orders_10s) {
            snprintf(msg, sizeof msg,
                     "Too many new orders; current limit is %u orders per 10 SECOND.",
                     v->cfg.orders_10s);
            reply_429(r, -1015, msg, secs_until(r->now_ms, (v->o10_window + 1) * 10000));
            return false;
        }
        if (v->o1d >= v->cfg.orders_1d) {
            snprintf(msg, sizeof msg, "Too many new orders; current limit is %u orders per 1 DAY.",
                     v->cfg.orders_1d);
            reply_429(r, -1015, msg, secs_until(r->now_ms, (v->o1d_window + 1) * 86400000));
            return false;
        }
    }
    v->strikes = 0;
    if (v->f.n5xx > 0) {
        v->f.n5xx--;
        r->force_status = v->f.status5xx;
        if (!v->f.after_exec) {
            sim_reply_str(r, 500, "");
            return false;
        }
    }
    return true;
}

void sim_count_order(sim_req *r)
{
    r->v->o10++;
    r->v->o1d++;
    r->order_counted = true;
}

/* ---- faults ---------------------------------------------------------------------------- */

/* Applies `f`; a DOWN fault resets every connection but `keep` (the control request that
 * asked for it, which gets its answer and is closed after it). */
static void apply_fault(sim_venue *v, const xr_sim_fault *f, uint64_t now_ns, sim_session *keep)
{
    sim_faults *F = &v->f;
    switch (f->kind) {
    case XR_SIM_FAULT_CLEAR:
        memset(F, 0, sizeof *F);
        v->retry_until_ns = v->ban_until_ns = 0;
        v->strikes = 0;
        for (uint32_t i = 0; i < v->nsessions; i++)
            for (uint32_t k = 0; k < v->sessions[i].nsubs; k++)
                v->sessions[i].subs[k].gaps_pending = 0;
        break;
    case XR_SIM_FAULT_LATENCY:
        F->latency_ms = f->ms;
        break;
    case XR_SIM_FAULT_DISCONNECT:
        F->disconnect_after = f->after;
        break;
    case XR_SIM_FAULT_GAP:
        F->gap_every = f->every;
        for (uint32_t i = 0; i < v->nsessions; i++) {
            sim_session *s = &v->sessions[i];
            if (s->state != SIM_SS_WS)
                continue;
            for (uint32_t k = 0; k < s->nsubs; k++)
                if (s->subs[k].kind == SIM_SUB_DEPTH)
                    s->subs[k].gaps_pending += f->count;
        }
        break;
    case XR_SIM_FAULT_HTTP_5XX:
        F->n5xx = f->count;
        F->status5xx = f->status;
        F->after_exec = f->after_exec;
        break;
    case XR_SIM_FAULT_HTTP_429:
        F->n429 = f->count;
        F->retry429_s = f->retry_after_s;
        break;
    case XR_SIM_FAULT_REJECT:
        F->nreject = f->count;
        F->reject_code = f->code;
        snprintf(F->reject_msg, sizeof F->reject_msg, "%s", f->msg);
        break;
    case XR_SIM_FAULT_DOWN:
        F->down_until_ns = now_ns + (uint64_t)f->ms * XR_NS_PER_MS;
        for (uint32_t i = 0; i < v->nsessions; i++)
            if (&v->sessions[i] != keep)
                session_abort(&v->sessions[i]);
        break;
    case XR_SIM_FAULT_STALE:
        F->stale_forever = f->ms == 0;
        F->stale_until_ns = f->ms == 0 ? 0 : now_ns + (uint64_t)f->ms * XR_NS_PER_MS;
        break;
    case XR_SIM_FAULT_CLOCK:
        F->clock_offset_ms = f->offset_ms;
        break;
    default:
        break;
    }
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "sim", "fault");
    xr_log_str(&l, "venue", v->cfg.name);
    xr_log_str(&l, "kind", xr_sim_fault_name(f->kind));
    xr_log_end(&l);
}

xr_err xr_sim_apply_fault(xr_sim *sim, uint32_t venue, const xr_sim_fault *f)
{
    if (venue >= sim->nvenues || f->kind > XR_SIM_FAULT_CLOCK)
        return XR_ERR_INVALID_ARGUMENT;
    apply_fault(sim->venues[venue], f, xr_clock_mono_ns(), NULL);
    return XR_OK;
}

/* ---- control endpoint ------------------------------------------------------------------ */

static void control_reply(sim_req *r, int status, const char *body, size_t len)
{
    reply_raw(r, status, "application/json;charset=UTF-8", body, len);
}

static void control_str(sim_req *r, int status, const char *body)
{
    control_reply(r, status, body, strlen(body));
}

static void step_venue(sim_venue *v, int pair, uint32_t n)
{
    uint32_t np = xr_sim_engine_pair_count(v->engine);
    int64_t now = sim_now_ms(v);
    for (uint32_t k = 0; k < n; k++) {
        for (uint32_t p = 0; p < np; p++)
            if (pair < 0 || (uint32_t)pair == p)
                xr_sim_engine_step(v->engine, p, now);
        v->c.steps++;
    }
    sim_binance_balances(v);
}

static void control(sim_req *r)
{
    sim_venue *v = r->v;
    xr_sim *sim = v->sim;
    char small[512];
    const char *method = r->m->method;
    if (strcmp(r->path, "/sim/state") == 0 && strcmp(method, "GET") == 0) {
        const char *sym = sim_param_get(r, "symbol", NULL);
        const char *d = sim_param_get(r, "depth", NULL);
        uint32_t depth = d ? (uint32_t)strtoul(d, NULL, 10) : 20;
        size_t n = xr_sim_state_json(sim, v->index, sym, depth, sim->body, SIM_BODY_BYTES);
        if (n == 0)
            control_str(r, 500, "{\"error\":\"state too large\"}");
        else
            control_reply(r, 200, sim->body, n);
        return;
    }
    if (strcmp(r->path, "/sim/fault") == 0 && strcmp(method, "POST") == 0) {
        const char *text = r->query_len > 0 ? r->query : r->body;
        size_t len = r->query_len > 0 ? r->query_len : r->body_len;
        xr_sim_fault f;
        char why[160];
        if (xr_sim_fault_parse(text ? text : "", len, &f, why, sizeof why) != XR_OK) {
            sim_buf b;
            sb_init(&b, small, sizeof small);
            sb_cat(&b, "{\"error\":");
            sb_jstr(&b, why, strlen(why));
            sb_cat(&b, "}");
            control_reply(r, 400, b.p, b.len);
            return;
        }
        apply_fault(v, &f, r->now_ns, r->s);
        control_str(r, 200, "{\"ok\":true}");
        if (f.kind == XR_SIM_FAULT_DOWN)
            sim_session_close(r->s);
        return;
    }
    if (strcmp(r->path, "/sim/step") == 0 && strcmp(method, "POST") == 0) {
        size_t sl = 0;
        const char *sym = sim_param_get(r, "symbol", &sl);
        const char *ns = sim_param_get(r, "n", NULL);
        int pair = -1;
        if (sym != NULL && (pair = xr_sim_engine_find_pair(v->engine, sym, sl)) < 0) {
            control_str(r, 400, "{\"error\":\"unknown symbol\"}");
            return;
        }
        uint32_t n = ns ? (uint32_t)strtoul(ns, NULL, 10) : 1;
        if (n > 1000000)
            n = 1000000;
        step_venue(v, pair, n);
        int len = snprintf(small, sizeof small, "{\"ok\":true,\"steps\":%u}", n);
        control_reply(r, 200, small, (size_t)len);
        return;
    }
    if (strcmp(r->path, "/sim/balance") == 0 && strcmp(method, "POST") == 0) {
        size_t kl = 0;
        const char *key = sim_param_get(r, "apiKey", &kl);
        const char *asset = sim_param_get(r, "asset", NULL);
        size_t al = 0;
        const char *amount = sim_param_get(r, "amount", &al);
        int acct = key ? xr_sim_engine_find_account(v->engine, key, kl) : 0;
        int ai = asset ? xr_sim_engine_find_asset(v->engine, asset) : -1;
        xr_i128 val;
        if (acct < 0 || ai < 0 || amount == NULL ||
            xr_decimal_parse(amount, al, XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &val, NULL) !=
                XR_OK) {
            control_str(r, 400, "{\"error\":\"need apiKey, asset and amount\"}");
            return;
        }
        (void)xr_sim_engine_set_balance(v->engine, (uint32_t)acct, ai, val);
        sim_binance_balances(v);
        control_str(r, 200, "{\"ok\":true}");
        return;
    }
    if (strcmp(r->path, "/sim/book") == 0 && strcmp(method, "POST") == 0) {
        /* symbol=S&clear=1 removes the synthetic book; side=bid|ask&price=P&qty=Q sets one
         * synthetic level (qty 0 removes it). Meant for tests with --step-ms 0. */
        size_t sl = 0, pl = 0, ql = 0;
        const char *sym = sim_param_get(r, "symbol", &sl);
        int pair = sym ? xr_sim_engine_find_pair(v->engine, sym, sl) : -1;
        if (pair < 0) {
            control_str(r, 400, "{\"error\":\"unknown symbol\"}");
            return;
        }
        xr_sim_market *m = xr_sim_engine_market(v->engine, (uint32_t)pair);
        const xr_sim_pair_config *pc = xr_sim_market_config(m);
        const char *clear = sim_param_get(r, "clear", NULL);
        if (clear != NULL && strcmp(clear, "1") == 0)
            xr_sim_market_clear_synth(m);
        const char *side = sim_param_get(r, "side", NULL);
        const char *ps = sim_param_get(r, "price", &pl), *qs = sim_param_get(r, "qty", &ql);
        if (side != NULL) {
            xr_i128 p = 0, q = 0;
            bool ok = (strcmp(side, "bid") == 0 || strcmp(side, "ask") == 0) && ps && qs &&
                      xr_decimal_parse(ps, pl, XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &p,
                                       NULL) == XR_OK &&
                      xr_decimal_parse(qs, ql, XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &q,
                                       NULL) == XR_OK &&
                      p % pc->tick == 0 && q % pc->step == 0 && p / pc->tick <= INT64_MAX / 4 &&
                      q / pc->step <= INT64_MAX / 4;
            if (ok)
                ok = xr_sim_market_set_synth(m, side[0] == 'b' ? XR_SIM_BID : XR_SIM_ASK,
                                             (int64_t)(p / pc->tick),
                                             (int64_t)(q / pc->step)) == XR_OK;
            if (!ok) {
                control_str(r, 400,
                            "{\"error\":\"need side=bid|ask, price and qty on the grids, "
                            "not crossing\"}");
                return;
            }
        }
        int len = snprintf(small, sizeof small, "{\"ok\":true,\"lastUpdateId\":%llu}",
                           (unsigned long long)xr_sim_market_last_id(m));
        control_reply(r, 200, small, (size_t)len);
        return;
    }
    control_str(r, 404, "{\"error\":\"unknown control endpoint\"}");
}

static void counters_json(sim_buf *b, const xr_sim_counters *c)
{
    sb_fmt(b,
           "{\"requests\":%llu,\"http429\":%llu,\"http418\":%llu,\"http5xx\":%llu,"
           "\"violations\":%llu,\"ordersNew\":%llu,\"ordersRejected\":%llu,"
           "\"ordersCanceled\":%llu,\"tradesUser\":%llu,\"authFailures\":%llu,"
           "\"timestampFailures\":%llu,\"wsConnections\":%llu,\"wsMessages\":%llu,"
           "\"wsDisconnects\":%llu,\"slowCloses\":%llu,\"depthMessages\":%llu,"
           "\"depthGaps\":%llu,\"connsRefused\":%llu,\"steps\":%llu}",
           (unsigned long long)c->requests, (unsigned long long)c->http_429,
           (unsigned long long)c->http_418, (unsigned long long)c->http_5xx,
           (unsigned long long)c->violations, (unsigned long long)c->orders_new,
           (unsigned long long)c->orders_rejected, (unsigned long long)c->orders_canceled,
           (unsigned long long)c->trades_user, (unsigned long long)c->auth_failures,
           (unsigned long long)c->timestamp_failures, (unsigned long long)c->ws_connections,
           (unsigned long long)c->ws_messages, (unsigned long long)c->ws_disconnects,
           (unsigned long long)c->slow_closes, (unsigned long long)c->depth_messages,
           (unsigned long long)c->depth_gaps, (unsigned long long)c->conns_refused,
           (unsigned long long)c->steps);
}

size_t xr_sim_state_json(xr_sim *sim, uint32_t venue, const char *symbol, uint32_t depth, char *buf,
                         size_t cap)
{
    if (venue >= sim->nvenues)
        return 0;
    sim_venue *v = sim->venues[venue];
    uint64_t now = xr_clock_mono_ns();
    const sim_faults *F = &v->f;
    sim_buf b;
    sb_init(&b, buf, cap);
    sb_cat(&b, "{\"venue\":");
    sb_jstr(&b, v->cfg.name, strlen(v->cfg.name));
    sb_fmt(&b, ",\"port\":%u,\"serverTime\":%lld,\"counters\":", v->port, (long long)sim_now_ms(v));
    counters_json(&b, &v->c);
    sb_fmt(&b,
           ",\"faults\":{\"latencyMs\":%u,\"disconnectAfter\":%u,\"gapEvery\":%u,"
           "\"pending5xx\":%u,\"pending429\":%u,\"pendingRejects\":%u,\"down\":%s,"
           "\"stale\":%s,\"clockOffsetMs\":%lld,\"retryAfterActive\":%s,\"banned\":%s}",
           F->latency_ms, F->disconnect_after, F->gap_every, F->n5xx, F->n429, F->nreject,
           now < F->down_until_ns ? "true" : "false", is_stale(v, now) ? "true" : "false",
           (long long)F->clock_offset_ms, now < v->retry_until_ns ? "true" : "false",
           now < v->ban_until_ns ? "true" : "false");
    sb_fmt(&b, ",\"usedWeight1m\":%u,\"orderCount10s\":%u,\"orderCount1d\":%u,\"books\":[",
           v->w_used, v->o10, v->o1d);
    uint32_t np = xr_sim_engine_pair_count(v->engine);
    bool first = true;
    for (uint32_t p = 0; p < np; p++) {
        const xr_sim_market *m = xr_sim_engine_market(v->engine, p);
        const char *sym = xr_sim_market_config(m)->symbol;
        if (symbol != NULL && strcmp(symbol, sym) != 0)
            continue;
        if (!first)
            sb_cat(&b, ",");
        first = false;
        sb_cat(&b, "{\"symbol\":");
        sb_jstr(&b, sym, strlen(sym));
        sb_fmt(&b, ",\"lastTradeId\":%llu,\"book\":",
               (unsigned long long)xr_sim_market_last_trade_id(m));
        sim_binance_depth_json(&b, m, depth);
        sb_cat(&b, "}");
    }
    sb_cat(&b, "]}");
    return b.full ? 0 : b.len;
}

void xr_sim_get_counters(const xr_sim *sim, uint32_t venue, xr_sim_counters *out)
{
    XR_ASSERT(venue < sim->nvenues);
    *out = sim->venues[venue]->c;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void session_free(sim_session *s)
{
    if (s->ws_mem != NULL) {
        xr_ws_free(&s->ws);
        free(s->ws_mem);
    }
    free(s->http_mem);
    free(s->out);
    free(s->tls);
    sim_venue *v = s->v;
    uint32_t idx = s->index;
    memset(s, 0, sizeof *s);
    s->v = v;
    s->index = idx;
}

static sim_session *session_alloc(sim_venue *v)
{
    for (uint32_t i = 0; i < v->nsessions; i++) {
        sim_session *s = &v->sessions[i];
        if (s->state != SIM_SS_FREE)
            continue;
        xr_http_limits lim;
        xr_http_limits_default(&lim);
        lim.max_head_bytes = 16384;
        lim.max_body_bytes = SIM_HTTP_BODY;
        size_t fp = xr_http_parser_footprint(&lim);
        s->http_mem = malloc(fp);
        s->out = malloc(SIM_OUT_BYTES);
        s->tls = v->tls ? malloc(sizeof *s->tls) : NULL;
        if (s->http_mem == NULL || s->out == NULL || (v->tls && s->tls == NULL) ||
            xr_http_parser_init(&s->http, XR_HTTP_REQUEST, s->http_mem, fp, &lim) != XR_OK ||
            (v->tls && xr_tls_server_init(s->tls, &v->identity) != XR_OK)) {
            session_free(s);
            return NULL;
        }
        s->state = SIM_SS_HTTP;
        return s;
    }
    return NULL;
}

static void ws_upgrade(sim_session *s, sim_req *r)
{
    char accept[XR_WS_ACCEPT_LEN + 1];
    if (strcmp(r->m->method, "GET") != 0 || xr_ws_check_client_handshake(r->m, accept) != XR_OK) {
        reply_raw(r, 400, "text/plain", "bad websocket handshake\n", 24);
        sim_session_close(s);
        return;
    }
    if (!sim_binance_ws_open(s, r)) {
        sim_session_close(s);
        return;
    }
    xr_ws_config wc;
    xr_ws_config_default(&wc, XR_WS_SERVER);
    wc.max_message_bytes = 64 << 10;
    wc.out_bytes = SIM_MSG_BYTES + 1024;
    size_t fp = xr_ws_footprint(&wc);
    s->ws_mem = malloc(fp);
    if (s->ws_mem == NULL || xr_ws_init(&s->ws, &wc, s->ws_mem, fp) != XR_OK) {
        free(s->ws_mem);
        s->ws_mem = NULL;
        session_abort(s);
        return;
    }
    char resp[512];
    size_t len = 0;
    if (xr_ws_build_server_handshake(resp, sizeof resp, &len, accept, NULL, 0) != XR_OK) {
        session_abort(s);
        return;
    }
    r->replied = true;
    sim_out_push(s, resp, len);
    s->state = SIM_SS_WS;
    s->v->c.ws_connections++;
}

static bool has_text(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

static void handle_request(sim_session *s, const xr_http_message *m)
{
    sim_venue *v = s->v;
    sim_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        session_abort(s);
        return;
    }
    r->s = s;
    r->v = v;
    r->m = m;
    r->now_ns = xr_clock_mono_ns();
    r->now_ms = sim_now_ms(v);
    const char *t = m->target;
    size_t tl = m->target_len;
    const char *q = memchr(t, '?', tl);
    size_t pl = q ? (size_t)(q - t) : tl;
    if (q != NULL) {
        r->query = q + 1;
        r->query_len = tl - pl - 1;
    }
    r->body = (const char *)m->body;
    r->body_len = m->body_len;
    size_t dl = 0;
    const char *path = pdecode(r, t, pl, false, &dl);
    if (path == NULL || dl >= sizeof r->path) {
        sim_reply_error(r, 400, -1100, "Illegal characters found in a parameter.");
        free(r);
        return;
    }
    memcpy(r->path, path, dl + 1);
    r->pbuf_len = 0; /* the path was copied out */
    parse_params(r, r->query, r->query_len);
    const xr_http_header *ct = xr_http_find_header(m, "Content-Type");
    bool form = ct != NULL ? has_text(ct->value, ct->value_len, "x-www-form-urlencoded")
                           : (r->body_len > 0 && r->body[0] != '{');
    if (form && r->body_len > 0)
        parse_params(r, r->body, r->body_len);

    if (strncmp(r->path, "/sim/", 5) == 0)
        control(r);
    else if (m->upgrade)
        ws_upgrade(s, r);
    else if (strncmp(r->path, "/api/", 5) == 0 || strncmp(r->path, "/sapi/", 6) == 0)
        sim_binance_http(r);
    else if (!sim_mock_http(r))
        sim_reply_str(r, 404, "{\"code\":-1,\"msg\":\"Not found.\"}");
    if (!r->replied)
        sim_reply_error(r, 500, -1000, "An unknown error occurred while processing the request.");
    sim_binance_balances(v);
    free(r);
}

static size_t ws_data(sim_session *s, const uint8_t *d, size_t n)
{
    size_t off = 0;
    while (!s->aborted) {
        size_t used = 0;
        xr_ws_event ev;
        xr_err e = xr_ws_recv(&s->ws, d + off, n - off, &used, &ev);
        off += used;
        if (e == XR_ERR_AGAIN || e == XR_ERR_INVALID_STATE)
            break;
        if (e != XR_OK) { /* a protocol error: the codec queued its close frame */
            ws_drain(s);
            sim_session_close(s);
            break;
        }
        if (ev.type == XR_WS_EV_TEXT)
            sim_binance_ws_text(s, ev.data, ev.len);
        else if (ev.type == XR_WS_EV_CLOSE) {
            ws_drain(s);
            sim_session_close(s);
            break;
        }
    }
    if (!s->aborted)
        ws_drain(s);
    return n;
}

static size_t sess_on_data(xr_net_stream *st, const uint8_t *d, size_t n, void *user)
{
    (void)st;
    sim_session *s = user;
    size_t off = 0;
    while (off < n && !s->closing) {
        if (s->state == SIM_SS_WS) {
            ws_data(s, d + off, n - off);
            break;
        }
        size_t used = 0;
        const xr_http_message *m = NULL;
        xr_err e = xr_http_parse(&s->http, d + off, n - off, &used, &m);
        off += used;
        if (e == XR_ERR_AGAIN)
            break;
        if (e != XR_OK) {
            int status = e == XR_ERR_LIMIT_EXCEEDED ? 413 : 400;
            char resp[160];
            size_t len = 0;
            const xr_http_header h = {"Connection", 10, "close", 5};
            if (xr_http_build_response(resp, sizeof resp, &len, status, NULL, &h, 1, "", 0) ==
                XR_OK)
                sim_out_push(s, resp, len);
            sim_session_close(s);
            break;
        }
        handle_request(s, m);
    }
    return n;
}

static void sess_on_writable(xr_net_stream *st, void *user)
{
    (void)st;
    out_flush(user);
}

static void sess_on_close(xr_net_stream *st, xr_err reason, void *user)
{
    (void)st;
    (void)reason;
    session_free(user);
}

static const xr_net_stream_handler session_handler = {
    .on_data = sess_on_data, .on_writable = sess_on_writable, .on_close = sess_on_close};

/* The listener's handler: each accepted connection becomes a session's stream at once. */
static void lst_on_open(xr_net_conn *c, void *user)
{
    sim_venue *v = user;
    uint64_t now = xr_clock_mono_ns();
    if (now < v->f.down_until_ns) {
        v->c.conns_refused++;
        xr_net_conn_abort(c);
        return;
    }
    sim_session *s = session_alloc(v);
    if (s == NULL) {
        xr_net_conn_abort(c);
        return;
    }
    s->out_base = s->head = s->tail = s->release = 0;
    if (xr_net_stream_accept(&s->st, c, s->tls, &session_handler, s) != XR_OK) {
        session_free(s);
        xr_net_conn_abort(c);
    }
}

static size_t lst_on_data(xr_net_conn *c, const uint8_t *d, size_t n, void *user)
{
    (void)c;
    (void)d;
    (void)user;
    return n;
}

static void lst_on_close(xr_net_conn *c, xr_err reason, void *user)
{
    (void)c;
    (void)reason;
    (void)user;
}

static const xr_net_handler listener_handler = {
    .on_open = lst_on_open, .on_data = lst_on_data, .on_close = lst_on_close};

/* ---- venues ------------------------------------------------------------------------------ */

static void venue_free(sim_venue *v)
{
    if (v == NULL)
        return;
    if (v->listener != NULL)
        xr_net_listener_close(v->listener);
    if (v->sessions != NULL) {
        for (uint32_t i = 0; i < v->nsessions; i++)
            if (v->sessions[i].state != SIM_SS_FREE)
                session_free(&v->sessions[i]);
        free(v->sessions);
    }
    xr_sim_engine_destroy(v->engine);
    if (v->tls)
        xr_tls_identity_free(&v->identity);
    free(v);
}

static xr_err venue_create(xr_sim *sim, uint32_t index, const xr_sim_venue_config *cfg,
                           sim_venue **out, char *why, size_t why_cap)
{
    *out = NULL;
    if (cfg->name[0] == '\0' || strcmp(cfg->dialect, "binance") != 0 || cfg->npairs == 0 ||
        cfg->npairs > XR_SIM_PAIRS_MAX || cfg->naccounts > XR_SIM_ACCOUNTS_MAX ||
        cfg->weight_limit == 0 || cfg->orders_10s == 0 || cfg->orders_1d == 0 ||
        cfg->ban_after == 0 || cfg->nconverts > XR_SIM_CONVERTS_MAX) {
        why_set(why, why_cap, "venue '%s': bad configuration (dialect '%s'?)", cfg->name,
                cfg->dialect);
        return XR_ERR_CONFIG;
    }
    sim_venue *v = calloc(1, sizeof *v);
    if (v == NULL)
        return XR_ERR_NO_MEMORY;
    v->sim = sim;
    v->index = index;
    v->cfg = *cfg;
    if (v->cfg.max_sessions == 0)
        v->cfg.max_sessions = 64;
    v->nsessions = v->cfg.max_sessions;
    v->sessions = calloc(v->nsessions, sizeof *v->sessions);
    if (v->sessions == NULL) {
        venue_free(v);
        return XR_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < v->nsessions; i++) {
        v->sessions[i].v = v;
        v->sessions[i].index = i;
    }
    xr_sim_rng_seed(&v->key_rng, cfg->seed ^ 0x6c697374656e4b65ull);
    xr_sim_engine_config ec = {.maker_bps = cfg->maker_bps,
                               .taker_bps = cfg->taker_bps,
                               .dup_any = cfg->dup_any,
                               .seed = cfg->seed};
    xr_err e = xr_sim_engine_create(&ec, &v->engine);
    if (e != XR_OK) {
        why_set(why, why_cap, "venue '%s': bad fees", cfg->name);
        venue_free(v);
        return e;
    }
    xr_sim_engine_set_exec_hook(v->engine, sim_binance_exec, v);
    int64_t now = sim_now_ms(v);
    for (uint32_t i = 0; i < cfg->npairs; i++) {
        e = xr_sim_engine_add_pair(v->engine, &cfg->pairs[i], cfg->seed, now, NULL);
        if (e != XR_OK) {
            why_set(why, why_cap, "venue '%s': pair '%s' is invalid or repeated", cfg->name,
                    cfg->pairs[i].symbol);
            venue_free(v);
            return XR_ERR_CONFIG;
        }
    }
    for (uint32_t i = 0; i < cfg->nconverts && i < XR_SIM_CONVERTS_MAX; i++) {
        const xr_sim_convert_config *cv = &cfg->converts[i];
        if (cv->rate <= 0 || cv->fee_bps >= 10000 || cv->to_decimals > 8 ||
            strcmp(cv->from, cv->to) == 0 || xr_sim_engine_add_asset(v->engine, cv->from) < 0 ||
            xr_sim_engine_add_asset(v->engine, cv->to) < 0) {
            why_set(why, why_cap, "venue '%s': conversion %s->%s is invalid", cfg->name, cv->from,
                    cv->to);
            venue_free(v);
            return XR_ERR_CONFIG;
        }
    }
    for (uint32_t i = 0; i < cfg->naccounts; i++) {
        const xr_sim_account_config *a = &cfg->accounts[i];
        uint32_t ai = 0;
        e = xr_sim_engine_add_account(v->engine, a->api_key, a->secret, strlen(a->secret), &ai);
        if (e != XR_OK) {
            why_set(why, why_cap, "venue '%s': account '%s' is invalid or repeated", cfg->name,
                    a->api_key);
            venue_free(v);
            return XR_ERR_CONFIG;
        }
        for (uint32_t k = 0; k < a->nbalances; k++) {
            int asset = xr_sim_engine_find_asset(v->engine, a->balances[k].asset);
            if (asset < 0)
                continue; /* an asset none of the venue's pairs trades */
            (void)xr_sim_engine_set_balance(v->engine, ai, asset, a->balances[k].amount);
        }
        (void)xr_sim_engine_take_dirty(v->engine, ai);
    }
    if (cfg->tls_cert[0] != '\0') {
        e = xr_tls_identity_load(&v->identity, cfg->tls_cert,
                                 cfg->tls_key[0] ? cfg->tls_key : cfg->tls_cert);
        if (e != XR_OK) {
            why_set(why, why_cap, "venue '%s': cannot load TLS certificate/key '%s'", cfg->name,
                    cfg->tls_cert);
            venue_free(v);
            return e;
        }
        v->tls = true;
    }
    uint64_t mono = xr_clock_mono_ns();
    for (uint32_t i = 0; i < cfg->nfaults; i++)
        apply_fault(v, &cfg->faults[i], mono, NULL);
    e = xr_net_listen(sim->loop, cfg->listen_ip, cfg->port, 128, NULL, &listener_handler, v,
                      &v->listener);
    if (e != XR_OK) {
        why_set(why, why_cap, "cannot listen on %s port %u", cfg->listen_ip, cfg->port);
        venue_free(v);
        return e;
    }
    v->port = xr_net_listener_port(v->listener);
    *out = v;
    return XR_OK;
}

/* ---- life cycle -------------------------------------------------------------------------- */

xr_err xr_sim_create(const xr_sim_config *cfg, xr_net_loop *loop, xr_sim **out, char *why,
                     size_t why_cap)
{
    *out = NULL;
    if (why != NULL && why_cap > 0)
        why[0] = '\0';
    if (cfg->nvenues == 0 || cfg->nvenues > XR_SIM_VENUES_MAX) {
        why_set(why, why_cap, "need 1 to 8 venues");
        return XR_ERR_CONFIG;
    }
    for (uint32_t i = 0; i < cfg->nvenues; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cfg->venues[i].name, cfg->venues[j].name) == 0) {
                why_set(why, why_cap, "venue name '%s' used twice", cfg->venues[i].name);
                return XR_ERR_CONFIG;
            }
    xr_sim *sim = calloc(1, sizeof *sim);
    if (sim == NULL)
        return XR_ERR_NO_MEMORY;
    sim->body = malloc(SIM_BODY_BYTES);
    sim->msg = malloc(SIM_MSG_BYTES);
    sim->wrap = malloc(SIM_MSG_BYTES + 256);
    sim->merge = malloc(XR_SIM_LOG_SIZE * sizeof *sim->merge);
    sim->fills = malloc(SIM_FILLS_MAX * sizeof *sim->fills);
    if (sim->body == NULL || sim->msg == NULL || sim->wrap == NULL || sim->merge == NULL ||
        sim->fills == NULL) {
        xr_sim_destroy(sim);
        return XR_ERR_NO_MEMORY;
    }
    xr_err e;
    if (loop == NULL) {
        xr_net_loop_config lc;
        xr_net_loop_config_default(&lc);
        uint32_t conns = 8;
        for (uint32_t i = 0; i < cfg->nvenues; i++)
            conns += cfg->venues[i].max_sessions ? cfg->venues[i].max_sessions : 64;
        lc.max_conns = conns;
        lc.max_listeners = cfg->nvenues + 1;
        lc.flags = XR_NET_LOOP_SINGLE_ISSUER;
        e = xr_net_loop_create(&lc, &sim->loop);
        if (e != XR_OK) {
            why_set(why, why_cap, "cannot create the io_uring loop");
            xr_sim_destroy(sim);
            return e;
        }
        sim->own_loop = true;
    } else {
        sim->loop = loop;
    }
    for (uint32_t i = 0; i < cfg->nvenues; i++) {
        e = venue_create(sim, i, &cfg->venues[i], &sim->venues[i], why, why_cap);
        if (e != XR_OK) {
            xr_sim_destroy(sim);
            return e;
        }
        sim->nvenues++;
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_INFO, "sim", "listen");
        xr_log_str(&l, "venue", cfg->venues[i].name);
        xr_log_str(&l, "ip", cfg->venues[i].listen_ip);
        xr_log_u64(&l, "port", sim->venues[i]->port);
        xr_log_str(&l, "tls", sim->venues[i]->tls ? "on" : "off");
        xr_log_end(&l);
    }
    *out = sim;
    return XR_OK;
}

void xr_sim_destroy(xr_sim *sim)
{
    if (sim == NULL)
        return;
    if (!sim->own_loop && sim->loop != NULL) {
        /* A shared loop outlives us: close our connections and wait for their on_close
         * callbacks, which point into our sessions, before freeing them. */
        uint32_t open = 0;
        for (uint32_t i = 0; i < sim->nvenues; i++) {
            sim_venue *v = sim->venues[i];
            if (v->listener != NULL) {
                xr_net_listener_close(v->listener);
                v->listener = NULL;
            }
            for (uint32_t k = 0; k < v->nsessions; k++) {
                if (v->sessions[k].state != SIM_SS_FREE) {
                    session_abort(&v->sessions[k]);
                    open++;
                }
            }
        }
        uint64_t deadline = xr_clock_mono_ns() + 5 * XR_NS_PER_SEC;
        while (open > 0 && xr_clock_mono_ns() < deadline) {
            (void)xr_net_loop_poll(sim->loop, 10 * XR_NS_PER_MS, NULL);
            open = 0;
            for (uint32_t i = 0; i < sim->nvenues; i++)
                for (uint32_t k = 0; k < sim->venues[i]->nsessions; k++)
                    open += sim->venues[i]->sessions[k].state != SIM_SS_FREE;
        }
    }
    if (sim->own_loop) {
        /* Closes every socket without callbacks; the sessions are freed below. */
        for (uint32_t i = 0; i < sim->nvenues; i++)
            sim->venues[i]->listener = NULL;
        xr_net_loop_destroy(sim->loop);
    }
    for (uint32_t i = 0; i < sim->nvenues; i++)
        venue_free(sim->venues[i]);
    free(sim->body);
    free(sim->msg);
    free(sim->wrap);
    free(sim->merge);
    free(sim->fills);
    free(sim);
}

uint64_t xr_sim_run_due(xr_sim *sim)
{
    uint64_t now = xr_clock_mono_ns();
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < sim->nvenues; i++) {
        sim_venue *v = sim->venues[i];
        bool stale = is_stale(v, now);
        if (v->f.stale_until_ns > now && v->f.stale_until_ns < next)
            next = v->f.stale_until_ns;
        if (v->cfg.step_us > 0 && !stale) {
            uint64_t step = (uint64_t)v->cfg.step_us * XR_NS_PER_US;
            if (v->next_step_ns == 0)
                v->next_step_ns = now + step;
            uint32_t n = 0;
            while (now >= v->next_step_ns && n < 1000) {
                v->next_step_ns += step;
                n++;
            }
            if (now >= v->next_step_ns) /* far behind (a stopped debugger): skip ahead */
                v->next_step_ns = now + step;
            if (n > 0)
                step_venue(v, -1, n);
            if (v->next_step_ns < next)
                next = v->next_step_ns;
        } else if (stale) {
            v->next_step_ns = 0;
        }
        for (uint32_t k = 0; k < v->nsessions; k++) {
            sim_session *s = &v->sessions[k];
            if (s->state == SIM_SS_FREE)
                continue;
            if (s->state == SIM_SS_WS && !s->closing && !stale) {
                sim_binance_emit(s, now);
                uint64_t d = sim_binance_next_due(s);
                if (d < next)
                    next = d;
            }
            uint64_t d = out_release_due(s, now);
            if (d < next)
                next = d;
        }
    }
    if (next == UINT64_MAX)
        return UINT64_MAX;
    return next > now ? next - now : 0;
}

xr_err xr_sim_poll(xr_sim *sim, uint64_t timeout_ns)
{
    uint64_t wait = xr_sim_run_due(sim);
    if (wait > timeout_ns)
        wait = timeout_ns;
    xr_err e = xr_net_loop_poll(sim->loop, wait, NULL);
    (void)xr_sim_run_due(sim);
    return e;
}

xr_net_loop *xr_sim_loop(const xr_sim *sim)
{
    return sim->loop;
}

uint32_t xr_sim_venue_count(const xr_sim *sim)
{
    return sim->nvenues;
}

int xr_sim_find_venue(const xr_sim *sim, const char *name)
{
    for (uint32_t i = 0; i < sim->nvenues; i++)
        if (strcmp(sim->venues[i]->cfg.name, name) == 0)
            return (int)i;
    return -1;
}

const xr_sim_venue_config *xr_sim_venue_config_of(const xr_sim *sim, uint32_t venue)
{
    XR_ASSERT(venue < sim->nvenues);
    return &sim->venues[venue]->cfg;
}

uint16_t xr_sim_port(const xr_sim *sim, uint32_t venue)
{
    XR_ASSERT(venue < sim->nvenues);
    return sim->venues[venue]->port;
}

xr_sim_engine *xr_sim_engine_of(const xr_sim *sim, uint32_t venue)
{
    XR_ASSERT(venue < sim->nvenues);
    return sim->venues[venue]->engine;
}

xr_err xr_sim_step(xr_sim *sim, uint32_t venue, int pair, uint32_t n)
{
    if (venue >= sim->nvenues)
        return XR_ERR_NOT_FOUND;
    sim_venue *v = sim->venues[venue];
    if (pair >= 0 && (uint32_t)pair >= xr_sim_engine_pair_count(v->engine))
        return XR_ERR_NOT_FOUND;
    step_venue(v, pair, n);
    return XR_OK;
}
