/* WebSocket codec: the opening handshake (RFC 6455 known answers, good and bad requests and
 * responses), the RFC's example frames, masking rules, fragmentation with control frames in
 * between, ping/pong, the close handshake, every split point of a frame stream, oversize and
 * malformed frames, send-side ordering and back-pressure; then a client and a server talking
 * through xr_net_stream over 127.0.0.1, plain and TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/http.h"
#include "adapters/net/loop.h"
#include "adapters/net/stream.h"
#include "adapters/net/tls.h"
#include "adapters/net/ws.h"
#include "core/base/clock.h"

typedef struct codec {
    xr_ws ws;
    void *mem;
} codec;

static void codec_init(codec *c, xr_ws_role role, size_t max_msg, size_t out, bool utf8)
{
    xr_ws_config cfg;
    xr_ws_config_default(&cfg, role);
    if (max_msg)
        cfg.max_message_bytes = max_msg;
    if (out)
        cfg.out_bytes = out;
    cfg.validate_utf8 = utf8;
    c->mem = malloc(xr_ws_footprint(&cfg));
    assert_int_equal(xr_ws_init(&c->ws, &cfg, c->mem, xr_ws_footprint(&cfg)), XR_OK);
}

static void codec_free(codec *c)
{
    xr_ws_free(&c->ws);
    free(c->mem);
}

/* Collected events, with copies of their data. */
typedef struct evlog {
    int n;
    xr_ws_event_type type[32];
    uint16_t code[32];
    size_t len[32];
    uint8_t *data[32];
} evlog;

static void evlog_free(evlog *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->data[i]);
    memset(l, 0, sizeof *l);
}

/* Feeds bytes until the codec needs more; returns the last status (AGAIN or an error). */
static xr_err feed(codec *c, const uint8_t *in, size_t len, evlog *log)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        xr_ws_event ev;
        xr_err e = xr_ws_recv(&c->ws, in + off, len - off, &used, &ev);
        assert_true(used <= len - off);
        off += used;
        if (e != XR_OK) {
            if (e == XR_ERR_AGAIN)
                assert_int_equal(off, len);
            return e;
        }
        assert_true(log->n < 32);
        log->type[log->n] = ev.type;
        log->code[log->n] = ev.close_code;
        log->len[log->n] = ev.len;
        log->data[log->n] = malloc(ev.len + 1);
        if (ev.len)
            memcpy(log->data[log->n], ev.data, ev.len);
        log->n++;
        if (ev.type == XR_WS_EV_CLOSE)
            return XR_OK;
    }
}

/* Moves a's output into b. */
static xr_err transfer(codec *a, codec *b, evlog *log)
{
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&a->ws, &n);
    if (n == 0)
        return XR_ERR_AGAIN;
    uint8_t *copy = malloc(n);
    memcpy(copy, out, n);
    xr_ws_output_ack(&a->ws, n);
    xr_err e = feed(b, copy, n, log);
    free(copy);
    return e;
}

/* ---- Handshake ------------------------------------------------------------------------- */

static void test_accept_known_answer(void **state)
{
    (void)state;
    char accept[XR_WS_ACCEPT_LEN + 1];
    /* RFC 6455 section 1.3. */
    xr_ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char k1[XR_WS_KEY_LEN + 1], k2[XR_WS_KEY_LEN + 1];
    assert_int_equal(xr_ws_make_key(k1), XR_OK);
    assert_int_equal(xr_ws_make_key(k2), XR_OK);
    assert_int_equal(strlen(k1), 24);
    assert_string_not_equal(k1, k2);
    assert_memory_equal(k1 + 22, "==", 2);
}

static char httpmem[128 * 1024];

static const xr_http_message *parse_http(xr_http_parser *p, xr_http_kind kind, const char *s,
                                         size_t len, size_t *used)
{
    xr_http_limits lim;
    xr_http_limits_default(&lim);
    lim.max_body_bytes = 64 * 1024;
    assert_int_equal(xr_http_parser_init(p, kind, httpmem, sizeof httpmem, &lim), XR_OK);
    const xr_http_message *m = NULL;
    assert_int_equal(xr_http_parse(p, (const uint8_t *)s, len, used, &m), XR_OK);
    return m;
}

static void test_handshake_roundtrip(void **state)
{
    (void)state;
    char key[XR_WS_KEY_LEN + 1], req[1024], resp[1024], accept[XR_WS_ACCEPT_LEN + 1];
    size_t req_len = 0, resp_len = 0, used = 0;
    assert_int_equal(xr_ws_make_key(key), XR_OK);
    xr_http_header extra = {"User-Agent", 10, "xroute", 6};
    assert_int_equal(xr_ws_build_client_handshake(req, sizeof req, &req_len, "localhost:9443",
                                                  "/ws/btcusdt@depth@100ms", key, &extra, 1),
                     XR_OK);
    xr_http_parser p;
    const xr_http_message *m = parse_http(&p, XR_HTTP_REQUEST, req, req_len, &used);
    assert_int_equal(used, req_len);
    assert_true(m->upgrade);
    assert_memory_equal(m->target, "/ws/btcusdt@depth@100ms", m->target_len);
    assert_int_equal(xr_ws_check_client_handshake(m, accept), XR_OK);
    char want[XR_WS_ACCEPT_LEN + 1];
    xr_ws_accept_for_key(key, strlen(key), want);
    assert_string_equal(accept, want);

    assert_int_equal(xr_ws_build_server_handshake(resp, sizeof resp, &resp_len, accept, NULL, 0),
                     XR_OK);
    m = parse_http(&p, XR_HTTP_RESPONSE, resp, resp_len, &used);
    assert_int_equal(m->status, 101);
    assert_int_equal(xr_ws_check_server_handshake(m, key), XR_OK);
    char other[XR_WS_KEY_LEN + 1];
    assert_int_equal(xr_ws_make_key(other), XR_OK);
    assert_int_equal(xr_ws_check_server_handshake(m, other), XR_ERR_MALFORMED);

    assert_int_equal(xr_ws_build_client_handshake(req, 10, &req_len, "h", "/", key, NULL, 0),
                     XR_ERR_NO_MEMORY);
    assert_int_equal(
        xr_ws_build_client_handshake(req, sizeof req, &req_len, "h", "/", "short", NULL, 0),
        XR_ERR_INVALID_ARGUMENT);
}

static void expect_bad_request(const char *headers, xr_err want)
{
    char req[1024], accept[XR_WS_ACCEPT_LEN + 1];
    int n = snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: h\r\n%s\r\n", headers);
    xr_http_parser p;
    size_t used;
    const xr_http_message *m = parse_http(&p, XR_HTTP_REQUEST, req, (size_t)n, &used);
    assert_int_equal(xr_ws_check_client_handshake(m, accept), want);
}

static void test_handshake_bad_requests(void **state)
{
    (void)state;
    const char *good_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    char h[512];
    snprintf(h, sizeof h,
             "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n%s"
             "Sec-WebSocket-Version:  13 \r\n",
             good_key);
    expect_bad_request(h, XR_OK); /* case and token lists are fine */
    snprintf(h, sizeof h, "Connection: Upgrade\r\n%sSec-WebSocket-Version: 13\r\n", good_key);
    expect_bad_request(h, XR_ERR_MALFORMED); /* no Upgrade */
    snprintf(h, sizeof h,
             "Upgrade: websocket\r\nConnection: close\r\n%s"
             "Sec-WebSocket-Version: 13\r\n",
             good_key);
    expect_bad_request(h, XR_ERR_MALFORMED);
    snprintf(h, sizeof h,
             "Upgrade: websocket\r\nConnection: Upgrade\r\n%s"
             "Sec-WebSocket-Version: 8\r\n",
             good_key);
    expect_bad_request(h, XR_ERR_MALFORMED);
    expect_bad_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n",
                       XR_ERR_MALFORMED); /* 15 bytes */
    expect_bad_request(
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\nSec-WebSocket-Version: 13\r\n",
        XR_ERR_MALFORMED); /* non-zero padding bits */
    expect_bad_request("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
                       XR_ERR_MALFORMED); /* no key */
}

static void test_handshake_bad_responses(void **state)
{
    (void)state;
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    xr_http_parser p;
    size_t used;
    const char *r1 = "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(
        xr_ws_check_server_handshake(parse_http(&p, XR_HTTP_RESPONSE, r1, strlen(r1), &used), key),
        XR_ERR_REJECTED);
    const char *r2 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(
        xr_ws_check_server_handshake(parse_http(&p, XR_HTTP_RESPONSE, r2, strlen(r2), &used), key),
        XR_ERR_MALFORMED); /* no Connection: Upgrade */
    const char *r3 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                     "\r\n";
    assert_int_equal(
        xr_ws_check_server_handshake(parse_http(&p, XR_HTTP_RESPONSE, r3, strlen(r3), &used), key),
        XR_OK);
}

/* ---- Frames ---------------------------------------------------------------------------- */

/* RFC 6455 section 5.7 examples. */
static void test_rfc_examples(void **state)
{
    (void)state;
    codec cli, srv;
    evlog log = {0};
    codec_init(&cli, XR_WS_CLIENT, 0, 0, true);
    codec_init(&srv, XR_WS_SERVER, 0, 0, true);

    const uint8_t unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(feed(&cli, unmasked, sizeof unmasked, &log), XR_ERR_AGAIN);
    const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(feed(&srv, masked, sizeof masked, &log), XR_ERR_AGAIN);
    const uint8_t frag[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    assert_int_equal(feed(&cli, frag, sizeof frag, &log), XR_ERR_AGAIN);
    assert_int_equal(log.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(log.type[i], XR_WS_EV_TEXT);
        assert_int_equal(log.len[i], 5);
        assert_memory_equal(log.data[i], "Hello", 5);
    }
    evlog_free(&log);

    /* 256 bytes (16-bit length) and 64 KiB (64-bit length) binary frames. */
    uint8_t *big = calloc(1, 10 + 65536);
    big[0] = 0x82;
    big[1] = 0x7E;
    big[2] = 0x01;
    big[3] = 0x00;
    for (int i = 0; i < 256; i++)
        big[4 + i] = (uint8_t)i;
    assert_int_equal(feed(&cli, big, 4 + 256, &log), XR_ERR_AGAIN);
    assert_int_equal(log.type[0], XR_WS_EV_BINARY);
    assert_int_equal(log.len[0], 256);
    assert_memory_equal(log.data[0], big + 4, 256);
    memset(big, 0, 10 + 65536);
    const uint8_t h64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    memcpy(big, h64, sizeof h64);
    big[10 + 65535] = 0xAB;
    assert_int_equal(feed(&cli, big, 10 + 65536, &log), XR_ERR_AGAIN);
    assert_int_equal(log.len[1], 65536);
    assert_int_equal(log.data[1][65535], 0xAB);
    free(big);
    evlog_free(&log);
    codec_free(&cli);
    codec_free(&srv);
}

static void test_masking_both_ways(void **state)
{
    (void)state;
    codec cli, srv;
    evlog log = {0};
    codec_init(&cli, XR_WS_CLIENT, 0, 0, false);
    codec_init(&srv, XR_WS_SERVER, 0, 0, false);
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_TEXT, "Hello", 5), XR_OK);
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&cli.ws, &n);
    assert_int_equal(n, 2 + 4 + 5);
    assert_int_equal(out[0], 0x81);
    assert_int_equal(out[1], 0x85); /* masked */
    /* Two frames with the same payload get different keys. */
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_TEXT, "Hello", 5), XR_OK);
    out = xr_ws_output(&cli.ws, &n);
    assert_int_equal(n, 22);
    assert_memory_not_equal(out + 2, out + 13, 4);
    assert_int_equal(transfer(&cli, &srv, &log), XR_ERR_AGAIN);
    assert_int_equal(log.n, 2);
    assert_memory_equal(log.data[1], "Hello", 5);

    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_BINARY, "\x00\x01\x02", 3), XR_OK);
    out = xr_ws_output(&srv.ws, &n);
    const uint8_t want[] = {0x82, 0x03, 0x00, 0x01, 0x02};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want); /* unmasked */
    assert_int_equal(transfer(&srv, &cli, &log), XR_ERR_AGAIN);
    assert_int_equal(log.type[2], XR_WS_EV_BINARY);
    assert_int_equal(log.len[2], 3);

    /* Lengths on both sides of the 7-bit and 16-bit boundaries survive the round trip. */
    static uint8_t payload[70000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31);
    const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    codec c2, s2;
    codec_init(&c2, XR_WS_CLIENT, 0, 80000, false);
    codec_init(&s2, XR_WS_SERVER, 0, 80000, false);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        evlog l2 = {0};
        assert_int_equal(xr_ws_send(&c2.ws, XR_WS_BINARY, payload, sizes[i]), XR_OK);
        assert_int_equal(transfer(&c2, &s2, &l2), XR_ERR_AGAIN);
        assert_int_equal(l2.n, 1);
        assert_int_equal(l2.len[0], sizes[i]);
        if (sizes[i])
            assert_memory_equal(l2.data[0], payload, sizes[i]);
        assert_int_equal(xr_ws_send(&s2.ws, XR_WS_BINARY, payload, sizes[i]), XR_OK);
        assert_int_equal(transfer(&s2, &c2, &l2), XR_ERR_AGAIN);
        assert_int_equal(l2.len[1], sizes[i]);
        evlog_free(&l2);
    }
    codec_free(&c2);
    codec_free(&s2);
    evlog_free(&log);
    codec_free(&cli);
    codec_free(&srv);
}

static void test_fragmentation_with_control_frames(void **state)
{
    (void)state;
    codec cli, srv;
    evlog log = {0};
    codec_init(&cli, XR_WS_CLIENT, 0, 0, true);
    codec_init(&srv, XR_WS_SERVER, 0, 0, true);
    /* The server fragments; a ping and a pong arrive in the middle. */
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_TEXT, false, "frag", 4), XR_OK);
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_PING, "p1", 2), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_CONTINUATION, false, "men", 3), XR_OK);
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_PONG, NULL, 0), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_CONTINUATION, false, NULL, 0), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_CONTINUATION, true, "ted", 3), XR_OK);
    assert_int_equal(transfer(&srv, &cli, &log), XR_ERR_AGAIN);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.type[0], XR_WS_EV_PING);
    assert_memory_equal(log.data[0], "p1", 2);
    assert_int_equal(log.type[1], XR_WS_EV_PONG);
    assert_int_equal(log.len[1], 0);
    assert_int_equal(log.type[2], XR_WS_EV_TEXT);
    assert_int_equal(log.len[2], 10);
    assert_memory_equal(log.data[2], "fragmented", 10);
    /* The client answered the ping on its own. */
    evlog back = {0};
    assert_int_equal(transfer(&cli, &srv, &back), XR_ERR_AGAIN);
    assert_int_equal(back.n, 1);
    assert_int_equal(back.type[0], XR_WS_EV_PONG);
    assert_memory_equal(back.data[0], "p1", 2);
    evlog_free(&back);

    /* Send-side ordering is enforced. */
    assert_int_equal(xr_ws_send_fragment(&cli.ws, XR_WS_CONTINUATION, true, "x", 1),
                     XR_ERR_INVALID_STATE);
    assert_int_equal(xr_ws_send_fragment(&cli.ws, XR_WS_BINARY, false, "x", 1), XR_OK);
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_TEXT, "y", 1), XR_ERR_INVALID_STATE);
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_PING, "ok", 2), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&cli.ws, XR_WS_CONTINUATION, true, "z", 1), XR_OK);
    assert_int_equal(transfer(&cli, &srv, &back), XR_ERR_AGAIN);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.type[1], XR_WS_EV_BINARY);
    assert_memory_equal(back.data[1], "xz", 2);
    evlog_free(&back);
    static uint8_t too_big[126];
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_PING, too_big, 126), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ws_send(&cli.ws, XR_WS_CLOSE, NULL, 0), XR_ERR_INVALID_ARGUMENT);
    evlog_free(&log);
    codec_free(&cli);
    codec_free(&srv);
}

static void test_close_handshake(void **state)
{
    (void)state;
    codec cli, srv;
    evlog log = {0};
    codec_init(&cli, XR_WS_CLIENT, 0, 0, true);
    codec_init(&srv, XR_WS_SERVER, 0, 0, true);
    assert_int_equal(xr_ws_close(&srv.ws, XR_WS_CLOSE_GOING_AWAY, "bye", 3), XR_OK);
    assert_true(xr_ws_close_sent(&srv.ws));
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_TEXT, "late", 4), XR_ERR_INVALID_STATE);
    assert_int_equal(xr_ws_close(&srv.ws, 1000, NULL, 0), XR_ERR_INVALID_STATE);
    assert_int_equal(transfer(&srv, &cli, &log), XR_OK);
    assert_int_equal(log.type[0], XR_WS_EV_CLOSE);
    assert_int_equal(log.code[0], XR_WS_CLOSE_GOING_AWAY);
    assert_int_equal(log.len[0], 3);
    assert_memory_equal(log.data[0], "bye", 3);
    assert_true(xr_ws_close_received(&cli.ws));
    assert_true(xr_ws_close_sent(&cli.ws)); /* the reply is queued */
    size_t used;
    xr_ws_event ev;
    assert_int_equal(xr_ws_recv(&cli.ws, (const uint8_t *)"\x81\x00", 2, &used, &ev),
                     XR_ERR_INVALID_STATE);
    assert_int_equal(transfer(&cli, &srv, &log), XR_OK);
    assert_int_equal(log.type[1], XR_WS_EV_CLOSE);
    assert_int_equal(log.code[1], XR_WS_CLOSE_GOING_AWAY); /* echoed */
    assert_true(xr_ws_close_received(&srv.ws));
    evlog_free(&log);

    /* A close without a code is reported as 1005 and answered without one. */
    codec c2;
    codec_init(&c2, XR_WS_CLIENT, 0, 0, true);
    assert_int_equal(feed(&c2, (const uint8_t *)"\x88\x00", 2, &log), XR_OK);
    assert_int_equal(log.code[0], XR_WS_CLOSE_NO_STATUS);
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&c2.ws, &n);
    assert_int_equal(n, 6);
    assert_int_equal(out[0], 0x88);
    assert_int_equal(out[1], 0x80);
    codec_free(&c2);

    assert_int_equal(xr_ws_close(&cli.ws, 1000, NULL, 0), XR_ERR_INVALID_STATE);
    codec c3;
    codec_init(&c3, XR_WS_CLIENT, 0, 0, true);
    assert_int_equal(xr_ws_close(&c3.ws, 1005, NULL, 0), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ws_close(&c3.ws, 0, "r", 1), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ws_close(&c3.ws, 4000, "app", 3), XR_OK);
    codec_free(&c3);
    evlog_free(&log);
    codec_free(&cli);
    codec_free(&srv);
}

/* ---- Split at every byte boundary --------------------------------------------------------- */

static size_t build_stream(uint8_t *buf, size_t cap)
{
    codec srv;
    codec_init(&srv, XR_WS_SERVER, 0, 0, false);
    static uint8_t mid[300];
    for (size_t i = 0; i < sizeof mid; i++)
        mid[i] = (uint8_t)('a' + i % 26);
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_TEXT, "{\"e\":\"depthUpdate\"}", 19), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_BINARY, false, mid, 100), XR_OK);
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_PING, "beat", 4), XR_OK);
    assert_int_equal(xr_ws_send_fragment(&srv.ws, XR_WS_CONTINUATION, true, mid + 100, 200), XR_OK);
    assert_int_equal(xr_ws_send(&srv.ws, XR_WS_TEXT, NULL, 0), XR_OK);
    assert_int_equal(xr_ws_close(&srv.ws, 1000, "done", 4), XR_OK);
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&srv.ws, &n);
    assert_true(n <= cap);
    memcpy(buf, out, n);
    codec_free(&srv);
    return n;
}

static void check_stream_events(const evlog *log)
{
    assert_int_equal(log->n, 5);
    assert_int_equal(log->type[0], XR_WS_EV_TEXT);
    assert_memory_equal(log->data[0], "{\"e\":\"depthUpdate\"}", 19);
    assert_int_equal(log->type[1], XR_WS_EV_PING);
    assert_int_equal(log->type[2], XR_WS_EV_BINARY);
    assert_int_equal(log->len[2], 300);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(log->data[2][i], 'a' + i % 26);
    assert_int_equal(log->type[3], XR_WS_EV_TEXT);
    assert_int_equal(log->len[3], 0);
    assert_int_equal(log->type[4], XR_WS_EV_CLOSE);
    assert_int_equal(log->code[4], 1000);
}

static void test_split_at_every_byte(void **state)
{
    (void)state;
    uint8_t stream[1024];
    size_t len = build_stream(stream, sizeof stream);
    for (size_t cut = 0; cut <= len; cut++) {
        codec cli;
        evlog log = {0};
        codec_init(&cli, XR_WS_CLIENT, 0, 0, true);
        xr_err e = feed(&cli, stream, cut, &log);
        if (e != XR_OK)
            e = feed(&cli, stream + cut, len - cut, &log);
        assert_int_equal(e, XR_OK);
        check_stream_events(&log);
        evlog_free(&log);
        codec_free(&cli);
    }
    /* One byte per call. */
    codec cli;
    evlog log = {0};
    codec_init(&cli, XR_WS_CLIENT, 0, 0, true);
    xr_err e = XR_ERR_AGAIN;
    for (size_t i = 0; i < len && e == XR_ERR_AGAIN; i++)
        e = feed(&cli, stream + i, 1, &log);
    assert_int_equal(e, XR_OK);
    check_stream_events(&log);
    evlog_free(&log);
    codec_free(&cli);
}

/* ---- Limits and protocol violations -------------------------------------------------------- */

static void expect_failure(xr_ws_role role, const uint8_t *in, size_t len, xr_err want_err,
                           uint16_t want_code, bool utf8)
{
    codec c;
    evlog log = {0};
    codec_init(&c, role, 1000, 0, utf8);
    assert_int_equal(feed(&c, in, len, &log), want_err);
    assert_int_equal(xr_ws_failure_code(&c.ws), want_code);
    /* Our close frame with that code is queued. */
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&c.ws, &n);
    assert_true(n >= 4);
    assert_int_equal(out[0], 0x88);
    size_t off = role == XR_WS_CLIENT ? 6 : 2;
    uint8_t code[2];
    memcpy(code, out + off, 2);
    if (role == XR_WS_CLIENT) {
        code[0] ^= out[2];
        code[1] ^= out[3];
    }
    assert_int_equal((code[0] << 8) | code[1], want_code);
    size_t used;
    xr_ws_event ev;
    assert_int_equal(xr_ws_recv(&c.ws, NULL, 0, &used, &ev), XR_ERR_INVALID_STATE);
    evlog_free(&log);
    codec_free(&c);
}

static void test_oversize_refused(void **state)
{
    (void)state;
    /* A 1001-byte frame is refused from its header, before any payload is stored (wslay
     * reports a frame with its first payload byte, so that byte is here too). */
    const uint8_t hdr[] = {0x82, 0x7E, 0x03, 0xE9, 0x00};
    expect_failure(XR_WS_CLIENT, hdr, sizeof hdr, XR_ERR_LIMIT_EXCEEDED, XR_WS_CLOSE_TOO_BIG,
                   false);
    /* 1000 bytes is fine. */
    codec c;
    evlog log = {0};
    codec_init(&c, XR_WS_CLIENT, 1000, 0, false);
    uint8_t *f = calloc(1, 4 + 1000);
    f[0] = 0x82, f[1] = 0x7E, f[2] = 0x03, f[3] = 0xE8;
    assert_int_equal(feed(&c, f, 4 + 1000, &log), XR_ERR_AGAIN);
    assert_int_equal(log.len[0], 1000);
    /* A fragmented message whose fragments add up to more is refused too. */
    f[0] = 0x02, f[1] = 0x7E, f[2] = 0x01, f[3] = 0xF4; /* 500, not final */
    assert_int_equal(feed(&c, f, 4 + 500, &log), XR_ERR_AGAIN);
    f[0] = 0x80, f[1] = 0x7E, f[2] = 0x01, f[3] = 0xF5; /* 501, final */
    assert_int_equal(feed(&c, f, 5, &log), XR_ERR_LIMIT_EXCEEDED);
    free(f);
    /* A 64-bit length with the top bit set is a protocol error (wslay). */
    const uint8_t huge[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1};
    expect_failure(XR_WS_CLIENT, huge, sizeof huge, XR_ERR_MALFORMED, XR_WS_CLOSE_PROTOCOL, false);
    /* A frame that can never fit the output buffer. */
    static uint8_t big[70000];
    assert_int_equal(xr_ws_send(&c.ws, XR_WS_BINARY, big, sizeof big), XR_ERR_INVALID_STATE);
    codec c2;
    codec_init(&c2, XR_WS_SERVER, 0, 1024, false);
    assert_int_equal(xr_ws_send(&c2.ws, XR_WS_BINARY, big, 1021), XR_ERR_NO_MEMORY);
    assert_int_equal(xr_ws_send(&c2.ws, XR_WS_BINARY, big, 1020), XR_OK);
    /* Full: AGAIN until drained. */
    assert_int_equal(xr_ws_send(&c2.ws, XR_WS_BINARY, big, 10), XR_ERR_AGAIN);
    size_t n = 0;
    xr_ws_output(&c2.ws, &n);
    xr_ws_output_ack(&c2.ws, 100);
    assert_int_equal(xr_ws_send(&c2.ws, XR_WS_BINARY, big, 10), XR_OK); /* compacted */
    xr_ws_output(&c2.ws, &n);
    assert_int_equal(n, 1024 - 100 + 12);
    codec_free(&c2);
    evlog_free(&log);
    codec_free(&c);
}

static void test_protocol_violations(void **state)
{
    (void)state;
    const uint8_t unmasked_to_server[] = {0x81, 0x01, 'x'};
    expect_failure(XR_WS_SERVER, unmasked_to_server, 3, XR_ERR_MALFORMED, 1002, false);
    const uint8_t masked_to_client[] = {0x81, 0x81, 1, 2, 3, 4, 'x'};
    expect_failure(XR_WS_CLIENT, masked_to_client, 7, XR_ERR_MALFORMED, 1002, false);
    const uint8_t rsv[] = {0xC1, 0x01, 'x'};
    expect_failure(XR_WS_CLIENT, rsv, 3, XR_ERR_MALFORMED, 1002, false);
    const uint8_t reserved_op[] = {0x83, 0x00};
    expect_failure(XR_WS_CLIENT, reserved_op, 2, XR_ERR_MALFORMED, 1002, false);
    const uint8_t reserved_ctrl[] = {0x8B, 0x00};
    expect_failure(XR_WS_CLIENT, reserved_ctrl, 2, XR_ERR_MALFORMED, 1002, false);
    const uint8_t orphan_cont[] = {0x80, 0x01, 'x'};
    expect_failure(XR_WS_CLIENT, orphan_cont, 3, XR_ERR_MALFORMED, 1002, false);
    const uint8_t text_in_text[] = {0x01, 0x01, 'a', 0x81, 0x01, 'b'};
    expect_failure(XR_WS_CLIENT, text_in_text, 6, XR_ERR_MALFORMED, 1002, false);
    const uint8_t long_ping[] = {0x89, 0x7E, 0x00, 0x7E};
    expect_failure(XR_WS_CLIENT, long_ping, 4, XR_ERR_MALFORMED, 1002, false);
    const uint8_t fragmented_ping[] = {0x09, 0x00};
    expect_failure(XR_WS_CLIENT, fragmented_ping, 2, XR_ERR_MALFORMED, 1002, false);
    const uint8_t short_close[] = {0x88, 0x01, 0x03};
    expect_failure(XR_WS_CLIENT, short_close, 3, XR_ERR_MALFORMED, 1002, false);
    const uint8_t reserved_code[] = {0x88, 0x02, 0x03, 0xED}; /* 1005 may not be sent */
    expect_failure(XR_WS_CLIENT, reserved_code, 4, XR_ERR_MALFORMED, 1002, false);
    const uint8_t non_minimal_len[] = {0x82, 0x7E, 0x00, 0x05, 1, 2, 3, 4, 5};
    expect_failure(XR_WS_CLIENT, non_minimal_len, 9, XR_ERR_MALFORMED, 1002, false);
    /* Invalid UTF-8: refused when validating, passed through when not. */
    const uint8_t bad_utf8[] = {0x81, 0x04, 'a', 0xED, 0xA0, 0x80}; /* a surrogate */
    expect_failure(XR_WS_CLIENT, bad_utf8, 6, XR_ERR_MALFORMED, 1007, true);
    codec c;
    evlog log = {0};
    codec_init(&c, XR_WS_CLIENT, 0, 0, false);
    assert_int_equal(feed(&c, bad_utf8, 6, &log), XR_ERR_AGAIN);
    assert_int_equal(log.n, 1);
    evlog_free(&log);
    codec_free(&c);
    /* Valid multi-byte text passes validation. */
    codec_init(&c, XR_WS_CLIENT, 0, 0, true);
    const char *good = "\x81\x0e"
                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_int_equal(feed(&c, (const uint8_t *)good, 16, &log), XR_ERR_AGAIN);
    assert_int_equal(log.n, 1);
    evlog_free(&log);
    codec_free(&c);
    const char *overlong = "\x81\x02\xc0\xaf";
    expect_failure(XR_WS_CLIENT, (const uint8_t *)overlong, 4, XR_ERR_MALFORMED, 1007, true);
}

/* ---- Over the loop --------------------------------------------------------------------- */

#define WAIT_NS (20ull * XR_NS_PER_SEC)

/* One endpoint: a stream, an HTTP parser for the handshake, then a WS codec. */
typedef struct endpoint {
    xr_net_stream st;
    xr_tls *tls;
    int server;
    xr_http_parser http;
    char *httpmem;
    codec ws;
    int upgraded, opened, closed, got_close;
    xr_err reason;
    char key[XR_WS_KEY_LEN + 1];
    char last[64];
    size_t last_len;
    int messages;
} endpoint;

static void ep_flush(endpoint *e)
{
    size_t n = 0;
    const uint8_t *out = xr_ws_output(&e->ws.ws, &n);
    if (n == 0)
        return;
    size_t sent = 0;
    (void)xr_net_stream_send(&e->st, out, n, &sent);
    xr_ws_output_ack(&e->ws.ws, sent);
}

static void ep_on_open(xr_net_stream *s, void *u)
{
    endpoint *e = u;
    e->opened = 1;
    if (e->server)
        return;
    char req[512];
    size_t len = 0;
    assert_int_equal(xr_ws_make_key(e->key), XR_OK);
    assert_int_equal(
        xr_ws_build_client_handshake(req, sizeof req, &len, "localhost", "/ws", e->key, NULL, 0),
        XR_OK);
    assert_int_equal(xr_net_stream_send(s, req, len, NULL), XR_OK);
}

static size_t ep_ws_data(endpoint *e, const uint8_t *d, size_t n)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        xr_ws_event ev;
        xr_err r = xr_ws_recv(&e->ws.ws, d + off, n - off, &used, &ev);
        off += used;
        if (r == XR_ERR_AGAIN || r == XR_ERR_INVALID_STATE)
            break;
        assert_int_equal(r, XR_OK);
        if (ev.type == XR_WS_EV_TEXT) {
            e->messages++;
            assert_true(ev.len <= sizeof e->last);
            memcpy(e->last, ev.data, ev.len);
            e->last_len = ev.len;
            if (e->server) /* echo, upper-cased */
            {
                char up[64];
                for (size_t i = 0; i < ev.len; i++)
                    up[i] = (char)(ev.data[i] >= 'a' && ev.data[i] <= 'z' ? ev.data[i] - 32
                                                                          : ev.data[i]);
                assert_int_equal(xr_ws_send(&e->ws.ws, XR_WS_TEXT, up, ev.len), XR_OK);
            }
        } else if (ev.type == XR_WS_EV_CLOSE) {
            e->got_close = 1;
        }
    }
    ep_flush(e);
    /* The server ends the TCP connection once the close handshake is complete. */
    if (e->server && xr_ws_close_received(&e->ws.ws) && xr_ws_close_sent(&e->ws.ws))
        xr_net_stream_close(&e->st);
    return n;
}

static size_t ep_on_data(xr_net_stream *s, const uint8_t *d, size_t n, void *u)
{
    endpoint *e = u;
    if (e->upgraded)
        return ep_ws_data(e, d, n);
    size_t used = 0;
    const xr_http_message *m = NULL;
    xr_err r = xr_http_parse(&e->http, d, n, &used, &m);
    if (r == XR_ERR_AGAIN)
        return used;
    assert_int_equal(r, XR_OK);
    assert_true(m->upgrade);
    if (e->server) {
        char accept[XR_WS_ACCEPT_LEN + 1], resp[512];
        size_t len = 0;
        assert_int_equal(xr_ws_check_client_handshake(m, accept), XR_OK);
        assert_int_equal(xr_ws_build_server_handshake(resp, sizeof resp, &len, accept, NULL, 0),
                         XR_OK);
        assert_int_equal(xr_net_stream_send(s, resp, len, NULL), XR_OK);
    } else {
        assert_int_equal(xr_ws_check_server_handshake(m, e->key), XR_OK);
    }
    e->upgraded = 1;
    /* Frames that came in the same read as the handshake. */
    return used + ep_ws_data(e, d + used, n - used);
}

static void ep_on_close(xr_net_stream *s, xr_err reason, void *u)
{
    (void)s;
    endpoint *e = u;
    e->closed = 1;
    e->reason = reason;
}

static const xr_net_stream_handler ep_handler = {
    .on_open = ep_on_open, .on_data = ep_on_data, .on_close = ep_on_close};

static void ep_init(endpoint *e, int server)
{
    memset(e, 0, sizeof *e);
    e->server = server;
    xr_http_limits lim;
    xr_http_limits_default(&lim);
    lim.max_body_bytes = 0;
    e->httpmem = malloc(xr_http_parser_footprint(&lim));
    assert_int_equal(xr_http_parser_init(&e->http, server ? XR_HTTP_REQUEST : XR_HTTP_RESPONSE,
                                         e->httpmem, xr_http_parser_footprint(&lim), &lim),
                     XR_OK);
    codec_init(&e->ws, server ? XR_WS_SERVER : XR_WS_CLIENT, 0, 0, true);
}

static void ep_free(endpoint *e)
{
    codec_free(&e->ws);
    free(e->httpmem);
    free(e->tls);
}

static void acc_open(xr_net_conn *c, void *u)
{
    endpoint *srv = u;
    assert_int_equal(xr_net_stream_accept(&srv->st, c, srv->tls, &ep_handler, srv), XR_OK);
}

static size_t acc_data(xr_net_conn *c, const uint8_t *d, size_t n, void *u)
{
    (void)c, (void)d, (void)n, (void)u;
    fail();
    return 0;
}

static void acc_close(xr_net_conn *c, xr_err r, void *u)
{
    (void)c, (void)r, (void)u;
    fail();
}

static const xr_net_handler acceptor = {
    .on_open = acc_open, .on_data = acc_data, .on_close = acc_close};

static int poll_until(xr_net_loop *l, const int *flag)
{
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (!*flag) {
        if (xr_clock_mono_ns() > end)
            return 0;
        assert_int_equal(xr_net_loop_poll(l, 5 * XR_NS_PER_MS, NULL), XR_OK);
    }
    return 1;
}

static void ws_over_loop(int use_tls)
{
    xr_tls_trust trust = {0};
    xr_tls_identity id = {0};
    endpoint *srv = malloc(sizeof *srv), *cli = malloc(sizeof *cli);
    ep_init(srv, 1);
    ep_init(cli, 0);
    if (use_tls) {
        assert_int_equal(xr_tls_trust_add_file(&trust, XR_TEST_DATA "/tls/ca.pem"), XR_OK);
        assert_int_equal(xr_tls_identity_load(&id, XR_TEST_DATA "/tls/server-ec.pem",
                                              XR_TEST_DATA "/tls/server-ec.key"),
                         XR_OK);
        srv->tls = malloc(sizeof(xr_tls));
        cli->tls = malloc(sizeof(xr_tls));
        assert_int_equal(xr_tls_server_init(srv->tls, &id), XR_OK);
        assert_int_equal(xr_tls_client_init(cli->tls, &trust, "localhost"), XR_OK);
    }
    xr_net_loop *l = NULL;
    assert_int_equal(xr_net_loop_create(NULL, &l), XR_OK);
    xr_net_listener *ls = NULL;
    assert_int_equal(xr_net_listen(l, "127.0.0.1", 0, 8, NULL, &acceptor, srv, &ls), XR_OK);
    assert_int_equal(xr_net_stream_connect(&cli->st, l, "127.0.0.1", xr_net_listener_port(ls), NULL,
                                           cli->tls, &ep_handler, cli),
                     XR_OK);
    assert_true(poll_until(l, &cli->upgraded));
    for (int i = 0; i < 20; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        assert_int_equal(xr_ws_send(&cli->ws.ws, XR_WS_TEXT, msg, (size_t)n), XR_OK);
        ep_flush(cli);
        int want = i + 1;
        uint64_t end = xr_clock_mono_ns() + WAIT_NS;
        while (cli->messages < want && xr_clock_mono_ns() < end)
            assert_int_equal(xr_net_loop_poll(l, 5 * XR_NS_PER_MS, NULL), XR_OK);
        assert_int_equal(cli->messages, want);
        snprintf(msg, sizeof msg, "HELLO %d", i);
        assert_int_equal(cli->last_len, strlen(msg));
        assert_memory_equal(cli->last, msg, cli->last_len);
    }
    /* The client starts the close handshake; the server answers and ends TCP. */
    assert_int_equal(xr_ws_close(&cli->ws.ws, XR_WS_CLOSE_NORMAL, NULL, 0), XR_OK);
    ep_flush(cli);
    assert_true(poll_until(l, &cli->closed));
    assert_true(poll_until(l, &srv->closed));
    assert_true(cli->got_close);
    assert_true(srv->got_close);
    assert_int_equal(srv->reason, XR_OK);
    assert_int_equal(cli->reason, XR_ERR_IO); /* the server closed */
    xr_net_listener_close(ls);
    assert_int_equal(xr_net_loop_poll(l, 0, NULL), XR_OK);
    xr_net_loop_destroy(l);
    ep_free(srv);
    ep_free(cli);
    free(srv);
    free(cli);
    xr_tls_trust_free(&trust);
    xr_tls_identity_free(&id);
}

static void test_over_loop_plain(void **state)
{
    (void)state;
    ws_over_loop(0);
}

static void test_over_loop_tls(void **state)
{
    (void)state;
    ws_over_loop(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_known_answer),
        cmocka_unit_test(test_handshake_roundtrip),
        cmocka_unit_test(test_handshake_bad_requests),
        cmocka_unit_test(test_handshake_bad_responses),
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_masking_both_ways),
        cmocka_unit_test(test_fragmentation_with_control_frames),
        cmocka_unit_test(test_close_handshake),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_oversize_refused),
        cmocka_unit_test(test_protocol_violations),
        cmocka_unit_test(test_over_loop_plain),
        cmocka_unit_test(test_over_loop_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
