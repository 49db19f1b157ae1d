/*
 * HTTP/1.1 codecs on nodejs http_parser 2.9. See http.h for the contract.
 *
 * http_parser is a push parser: it calls back with pieces of the start line, header names,
 * header values and body as it meets them, a piece per input buffer. We copy the pieces
 * into the caller's memory - head strings from its start, the body from max_head_bytes on -
 * so that a message split over any number of reads comes out whole. To hand out exactly one
 * message per call, on_message_complete pauses the parser (http_parser_pause), which makes
 * http_parser_execute() return right after the message's last byte; we unpause before the
 * next call. This is http_parser's documented way to stop between pipelined messages.
 */
#include "adapters/net/http.h"

#include <stdio.h>
#include <string.h>

#include "core/base/assert.h"

enum { CB_NONE = 0, CB_FIELD, CB_VALUE };

static xr_http_parser *self(http_parser *hp)
{
    return (xr_http_parser *)hp->data;
}

/* Failures found by us rather than by http_parser, by own_error - 1. */
static const char *const own_error_names[] = {
    "XR_TOO_MANY_HEADERS",
    "XR_HEAD_TOO_LARGE",
    "XR_BODY_TOO_LARGE",
    "XR_BAD_STATUS",
};
enum { ERRN_NONE = 0, ERRN_HEADERS = 1, ERRN_HEAD = 2, ERRN_BODY = 3, ERRN_STATUS = 4 };

/* Our own failure inside a callback: remembered, then returned as nonzero (-1: for
 * on_headers_complete 1 and 2 mean "no body" and "upgrade") so that http_parser stops with
 * HPE_CB_*. */
static int cb_fail(xr_http_parser *p, int which)
{
    p->error = which == ERRN_STATUS ? XR_ERR_MALFORMED : XR_ERR_LIMIT_EXCEEDED;
    p->own_error = (uint8_t)which;
    return -1;
}

/* A head limit broken at byte `at` + `skip` of the current input. It is only reported at
 * the end of the head (on_headers_complete): http_parser hands the head over in pieces that
 * depend on how the input was cut, so failing in a data callback would let the cuts decide
 * between this error and a syntax error a few bytes later (a fuzzer found exactly that).
 * Nothing more is stored meanwhile, so memory stays bounded; http_parser's own limit on raw
 * header bytes bounds the time. The offset reported is that of the offending byte. */
static int head_over(xr_http_parser *p, int which, const char *at, size_t skip)
{
    if (p->pending_error == 0) {
        p->pending_error = (uint8_t)which;
        p->own_error_off = p->cur_off + (uint64_t)(at - p->cur) + skip;
    }
    return 0;
}

static int head_append(xr_http_parser *p, const char *at, size_t len)
{
    if (p->pending_error)
        return 0;
    if (len > p->limits.max_head_bytes - p->head_len)
        return head_over(p, ERRN_HEAD, at, p->limits.max_head_bytes - p->head_len);
    memcpy(p->mem + p->head_len, at, len);
    p->head_len += len;
    return 0;
}

static int on_message_begin(http_parser *hp)
{
    xr_http_parser *p = self(hp);
    p->head_len = 0;
    p->body_len = 0;
    p->nheaders = 0;
    p->target_off = p->reason_off = 0;
    p->msg.target_len = p->msg.reason_len = 0;
    p->last_was_value = CB_NONE;
    p->in_message = 1;
    p->headers_done = 0;
    p->pending_error = 0;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    xr_http_parser *p = self(hp);
    if (p->msg.target_len == 0)
        p->target_off = p->head_len;
    p->msg.target_len += len;
    return head_append(p, at, len);
}

static int on_status(http_parser *hp, const char *at, size_t len)
{
    xr_http_parser *p = self(hp);
    if (p->msg.reason_len == 0)
        p->reason_off = p->head_len;
    p->msg.reason_len += len;
    return head_append(p, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    xr_http_parser *p = self(hp);
    if (p->headers_done || p->pending_error)
        return 0; /* a trailer (dropped), or already over a limit */
    if (p->last_was_value != CB_FIELD) {
        if (p->nheaders == p->limits.max_headers)
            return head_over(p, ERRN_HEADERS, at, 0);
        size_t i = p->nheaders++;
        p->hdr[i].name_off = p->head_len;
        p->hdr[i].name_len = 0;
        p->hdr[i].value_off = p->head_len;
        p->hdr[i].value_len = 0;
        p->last_was_value = CB_FIELD;
    }
    p->hdr[p->nheaders - 1].name_len += len;
    return head_append(p, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    xr_http_parser *p = self(hp);
    if (p->headers_done || p->pending_error)
        return 0;
    XR_ASSERT(p->nheaders > 0);
    size_t i = p->nheaders - 1;
    if (p->last_was_value != CB_VALUE) {
        p->hdr[i].value_off = p->head_len;
        p->hdr[i].value_len = 0;
        p->last_was_value = CB_VALUE;
    }
    p->hdr[i].value_len += len;
    return head_append(p, at, len);
}

static int on_headers_complete(http_parser *hp)
{
    xr_http_parser *p = self(hp);
    if (p->pending_error)
        return cb_fail(p, p->pending_error);
    /* http_parser takes one to three digits; RFC 9112 says exactly three. */
    if (p->kind == XR_HTTP_RESPONSE && (hp->status_code < 100 || hp->status_code > 999))
        return cb_fail(p, ERRN_STATUS);
    p->headers_done = 1;
    p->last_was_value = CB_NONE;
    /* Refuse an announced oversize body before reading any of it. */
    if (hp->content_length != UINT64_MAX && hp->content_length > p->limits.max_body_bytes &&
        !p->skip_body)
        return cb_fail(p, ERRN_BODY); /* any value but 0, 1 or 2 is an error */
    p->msg.chunked = (hp->flags & F_CHUNKED) != 0;
    /* 1 tells http_parser that this message has no body (a response to HEAD). */
    return p->skip_body ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    xr_http_parser *p = self(hp);
    /* Body bytes are not validated by http_parser, so failing here is independent of how
     * the input was cut. */
    if (len > p->limits.max_body_bytes - p->body_len) {
        p->own_error_off =
            p->cur_off + (uint64_t)(at - p->cur) + (p->limits.max_body_bytes - p->body_len);
        return cb_fail(p, ERRN_BODY);
    }
    memcpy(p->mem + p->limits.max_head_bytes + p->body_len, at, len);
    p->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    xr_http_parser *p = self(hp);
    p->complete = 1;
    p->in_message = 0;
    p->skip_body = 0;
    p->msg.keep_alive = http_should_keep_alive(hp) != 0;
    p->msg.upgrade = hp->upgrade != 0;
    p->msg.status = (int)hp->status_code;
    p->msg.version_major = hp->http_major;
    p->msg.version_minor = hp->http_minor;
    p->msg.method =
        p->kind == XR_HTTP_REQUEST ? http_method_str((enum http_method)hp->method) : NULL;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void xr_http_limits_default(xr_http_limits *lim)
{
    lim->max_headers = 32;
    lim->max_head_bytes = 8 * 1024;
    lim->max_body_bytes = 1024 * 1024;
}

size_t xr_http_parser_footprint(const xr_http_limits *lim)
{
    xr_http_limits d;
    if (lim == NULL) {
        xr_http_limits_default(&d);
        lim = &d;
    }
    return lim->max_head_bytes + lim->max_body_bytes;
}

static void parser_start(xr_http_parser *p)
{
    http_parser_init(&p->hp, p->kind == XR_HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
    p->hp.data = p;
    p->head_len = p->body_len = 0;
    p->nheaders = 0;
    p->stream_off = p->error_off = 0;
    p->error = XR_OK;
    p->last_was_value = CB_NONE;
    p->in_message = p->headers_done = p->complete = p->failed = p->upgraded = 0;
    p->skip_body = p->own_error = p->pending_error = 0;
    p->own_error_off = UINT64_MAX;
    p->cur = NULL;
    p->cur_off = 0;
    memset(&p->msg, 0, sizeof p->msg);
}

xr_err xr_http_parser_init(xr_http_parser *p, xr_http_kind kind, void *mem, size_t mem_len,
                           const xr_http_limits *lim)
{
    if (p == NULL || mem == NULL || (kind != XR_HTTP_REQUEST && kind != XR_HTTP_RESPONSE))
        return XR_ERR_INVALID_ARGUMENT;
    xr_http_limits l;
    if (lim == NULL)
        xr_http_limits_default(&l);
    else
        l = *lim;
    if (l.max_headers == 0 || l.max_headers > XR_HTTP_HEADERS_MAX || l.max_head_bytes < 16 ||
        l.max_head_bytes > SIZE_MAX / 2 || l.max_body_bytes > SIZE_MAX / 2 ||
        mem_len < l.max_head_bytes + l.max_body_bytes)
        return XR_ERR_INVALID_ARGUMENT;
    memset(p, 0, sizeof(*p));
    p->limits = l;
    p->mem = mem;
    p->mem_len = mem_len;
    p->kind = (uint8_t)kind;
    parser_start(p);
    return XR_OK;
}

void xr_http_parser_reset(xr_http_parser *p)
{
    parser_start(p);
}

void xr_http_parser_expect_no_body(xr_http_parser *p)
{
    if (p->kind == XR_HTTP_RESPONSE)
        p->skip_body = 1;
}

static const xr_http_message *finish_message(xr_http_parser *p)
{
    xr_http_message *m = &p->msg;
    m->target = p->kind == XR_HTTP_REQUEST ? p->mem + p->target_off : NULL;
    if (p->kind != XR_HTTP_REQUEST)
        m->target_len = 0;
    m->reason = p->kind == XR_HTTP_RESPONSE ? p->mem + p->reason_off : NULL;
    if (p->kind != XR_HTTP_RESPONSE)
        m->reason_len = 0;
    for (size_t i = 0; i < p->nheaders; i++) {
        p->views[i].name = p->mem + p->hdr[i].name_off;
        p->views[i].name_len = p->hdr[i].name_len;
        p->views[i].value = p->mem + p->hdr[i].value_off;
        p->views[i].value_len = p->hdr[i].value_len;
    }
    m->headers = p->views;
    m->header_count = p->nheaders;
    m->body = p->body_len ? (const uint8_t *)p->mem + p->limits.max_head_bytes : NULL;
    m->body_len = p->body_len;
    if (m->upgrade)
        p->upgraded = 1;
    return m;
}

static xr_err fail_at(xr_http_parser *p, uint64_t off)
{
    p->failed = 1;
    p->error_off = p->own_error && p->own_error_off != UINT64_MAX ? p->own_error_off : off;
    if (p->error == XR_OK) {
        enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
        p->error = e == HPE_HEADER_OVERFLOW ? XR_ERR_LIMIT_EXCEEDED : XR_ERR_MALFORMED;
    }
    return p->error;
}

xr_err xr_http_parse(xr_http_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                     const xr_http_message **msg)
{
    *consumed = 0;
    *msg = NULL;
    if (p->failed || p->upgraded)
        return XR_ERR_INVALID_STATE;
    if (len == 0)
        return XR_ERR_AGAIN;
    if (data == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    p->complete = 0;
    p->cur = (const char *)data;
    p->cur_off = p->stream_off;
    size_t n = http_parser_execute(&p->hp, &settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    uint64_t start = p->stream_off;
    if (p->complete && (e == HPE_OK || e == HPE_PAUSED)) {
        http_parser_pause(&p->hp, 0);
        XR_ASSERT(n <= len);
        p->stream_off += n;
        *consumed = n;
        *msg = finish_message(p);
        return XR_OK;
    }
    if (e != HPE_OK) {
        *consumed = n <= len ? n : len;
        p->stream_off += *consumed;
        return fail_at(p, start + n);
    }
    XR_ASSERT(n == len);
    p->stream_off += n;
    *consumed = n;
    return XR_ERR_AGAIN;
}

xr_err xr_http_parse_eof(xr_http_parser *p, const xr_http_message **msg)
{
    *msg = NULL;
    if (p->failed || p->upgraded)
        return XR_ERR_INVALID_STATE;
    if (!p->in_message)
        return XR_ERR_AGAIN;
    p->complete = 0;
    (void)http_parser_execute(&p->hp, &settings, NULL, 0);
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (p->complete && (e == HPE_OK || e == HPE_PAUSED)) {
        http_parser_pause(&p->hp, 0);
        *msg = finish_message(p);
        return XR_OK;
    }
    p->error = XR_ERR_MALFORMED;
    return fail_at(p, p->stream_off);
}

uint64_t xr_http_parser_error_offset(const xr_http_parser *p)
{
    return p->error_off;
}

const char *xr_http_parser_error_name(const xr_http_parser *p)
{
    if (!p->failed)
        return "OK";
    if (p->own_error >= ERRN_HEADERS && p->own_error <= ERRN_STATUS)
        return own_error_names[p->own_error - 1];
    return http_errno_name(HTTP_PARSER_ERRNO(&p->hp));
}

/* ---------------------------------------------------------------------------------------- */
/* Header lookup */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

const xr_http_header *xr_http_find_header(const xr_http_message *m, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < m->header_count; i++)
        if (ieq(m->headers[i].name, m->headers[i].name_len, name, nlen))
            return &m->headers[i];
    return NULL;
}

bool xr_http_header_has_token(const xr_http_message *m, const char *name, const char *token)
{
    size_t nlen = strlen(name), tlen = strlen(token);
    for (size_t i = 0; i < m->header_count; i++) {
        const xr_http_header *h = &m->headers[i];
        if (!ieq(h->name, h->name_len, name, nlen))
            continue;
        size_t pos = 0;
        while (pos < h->value_len) {
            size_t end = pos;
            while (end < h->value_len && h->value[end] != ',')
                end++;
            size_t a = pos, b = end;
            while (a < b && (h->value[a] == ' ' || h->value[a] == '\t'))
                a++;
            while (b > a && (h->value[b - 1] == ' ' || h->value[b - 1] == '\t'))
                b--;
            if (ieq(h->value + a, b - a, token, tlen))
                return true;
            pos = end + 1;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Builders */

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

/* No CR, LF, NUL or other control byte except tab. */
static bool is_field_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* A request-target: visible ASCII, no space. */
static bool is_target(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

typedef struct wbuf {
    char *out;
    size_t cap, len;
} wbuf;

static void put(wbuf *w, const void *s, size_t n)
{
    if (w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->out + w->len, s, n);
    w->len += n; /* keeps counting past cap: the size needed */
}

static void puts_(wbuf *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_u64(wbuf *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    put(w, tmp, (size_t)n);
}

static xr_err put_headers(wbuf *w, const xr_http_header *h, size_t n)
{
    if (n > 0 && h == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name == NULL || !is_token(h[i].name, h[i].name_len) ||
            (h[i].value == NULL && h[i].value_len > 0) ||
            !is_field_text(h[i].value ? h[i].value : "", h[i].value_len))
            return XR_ERR_INVALID_ARGUMENT;
        put(w, h[i].name, h[i].name_len);
        put(w, ": ", 2);
        if (h[i].value_len)
            put(w, h[i].value, h[i].value_len);
        put(w, "\r\n", 2);
    }
    return XR_OK;
}

static xr_err finish(wbuf *w, size_t *len_out, const void *body, size_t body_len)
{
    if (body != NULL) {
        puts_(w, "Content-Length: ");
        put_u64(w, body_len);
        put(w, "\r\n", 2);
    }
    put(w, "\r\n", 2);
    if (body != NULL && body_len > 0)
        put(w, body, body_len);
    *len_out = w->len;
    return w->len <= w->cap ? XR_OK : XR_ERR_NO_MEMORY;
}

xr_err xr_http_build_request(char *out, size_t cap, size_t *len_out, const char *method,
                             const char *target, const char *host, const xr_http_header *headers,
                             size_t nheaders, const void *body, size_t body_len)
{
    if (len_out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *len_out = 0;
    if ((out == NULL && cap > 0) || method == NULL || target == NULL || host == NULL ||
        !is_token(method, strlen(method)) || !is_target(target) || host[0] == '\0' ||
        !is_field_text(host, strlen(host)) || (body == NULL && body_len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    wbuf w = {out, cap, 0};
    puts_(&w, method);
    put(&w, " ", 1);
    puts_(&w, target);
    puts_(&w, " HTTP/1.1\r\nHost: ");
    puts_(&w, host);
    put(&w, "\r\n", 2);
    xr_err e = put_headers(&w, headers, nheaders);
    if (e != XR_OK)
        return e;
    return finish(&w, len_out, body, body_len);
}

xr_err xr_http_build_response(char *out, size_t cap, size_t *len_out, int status,
                              const char *reason, const xr_http_header *headers, size_t nheaders,
                              const void *body, size_t body_len)
{
    if (len_out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *len_out = 0;
    if ((out == NULL && cap > 0) || status < 100 || status > 999 || (body == NULL && body_len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    if (reason == NULL) {
        reason = http_status_str((enum http_status)status);
        if (strcmp(reason, "<unknown>") == 0)
            reason = "";
    }
    if (!is_field_text(reason, strlen(reason)))
        return XR_ERR_INVALID_ARGUMENT;
    wbuf w = {out, cap, 0};
    puts_(&w, "HTTP/1.1 ");
    put_u64(&w, (uint64_t)status);
    put(&w, " ", 1);
    puts_(&w, reason);
    put(&w, "\r\n", 2);
    xr_err e = put_headers(&w, headers, nheaders);
    if (e != XR_OK)
        return e;
    return finish(&w, len_out, body, body_len);
}

xr_err xr_http_build_chunk(char *out, size_t cap, size_t *len_out, const void *data, size_t len)
{
    if (len_out == NULL || (out == NULL && cap > 0) || (data == NULL && len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    wbuf w = {out, cap, 0};
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%zx\r\n", len);
    put(&w, tmp, (size_t)n);
    if (len > 0) {
        put(&w, data, len);
        put(&w, "\r\n", 2);
    } else {
        put(&w, "\r\n", 2);
    }
    *len_out = w.len;
    return w.len <= w.cap ? XR_OK : XR_ERR_NO_MEMORY;
}
