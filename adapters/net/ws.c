/*
 * WebSocket codec on libwslay's frame layer. See ws.h for the contract.
 *
 * wslay_frame_recv() pulls bytes through a callback; ours serves them from the buffer the
 * caller passed to xr_ws_recv() and reports "would block" when it is used up, which makes
 * wslay return WSLAY_ERR_WANT_READ and keep its partial state (it may hold up to 4 KiB of
 * read-ahead, which is why callers loop until XR_ERR_AGAIN). wslay_frame_send() pushes
 * bytes through a callback too; we check first that the whole frame fits our output buffer,
 * so every frame is written in one call and the output only ever holds whole frames.
 */
#define _GNU_SOURCE
#include "adapters/net/ws.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

#include "core/base/assert.h"

/* ---------------------------------------------------------------------------------------- */
/* Randomness: masking keys must be unpredictable to the application's peers (RFC 6455
 * 10.3); a ChaCha20 keystream seeded from the OS gives that at a few ns per key. */

static int os_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void rng_refill(xr_ws *ws)
{
    static const uint8_t iv[12] = {0};
    memset(ws->rng_pool, 0, sizeof ws->rng_pool);
    ws->rng_counter =
        br_chacha20_ct_run(ws->rng_key, iv, ws->rng_counter, ws->rng_pool, sizeof ws->rng_pool);
    ws->rng_avail = sizeof ws->rng_pool;
    if (ws->rng_counter >= (1u << 31)) {
        /* Rekey from the stream itself long before the 32-bit block counter wraps. */
        memcpy(ws->rng_key, ws->rng_pool + 32, 32);
        ws->rng_counter = 0;
        ws->rng_avail = 32;
    }
}

static int genmask_cb(uint8_t *buf, size_t len, void *user)
{
    xr_ws *ws = user;
    if (ws->rng_avail < len)
        rng_refill(ws);
    XR_ASSERT(ws->rng_avail >= len);
    memcpy(buf, ws->rng_pool + (sizeof ws->rng_pool - ws->rng_avail), len);
    ws->rng_avail -= len;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* wslay I/O callbacks */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    xr_ws *ws = user;
    size_t avail = ws->in_len - ws->in_off;
    size_t n = len < avail ? len : avail;
    if (n == 0)
        return -1; /* no more input now: wslay answers WSLAY_ERR_WANT_READ */
    memcpy(buf, ws->in + ws->in_off, n);
    ws->in_off += n;
    return (ssize_t)n;
}

static ssize_t send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    xr_ws *ws = user;
    size_t end = ws->out_start + ws->out_len;
    XR_ASSERT(end + len <= ws->cfg.out_bytes); /* checked before wslay_frame_send */
    memcpy(ws->out + end, data, len);
    ws->out_len += len;
    return (ssize_t)len;
}

static const struct wslay_frame_callbacks frame_callbacks = {
    .send_callback = send_cb,
    .recv_callback = recv_cb,
    .genmask_callback = genmask_cb,
};

/* ---------------------------------------------------------------------------------------- */
/* Output */

static size_t header_len(size_t len, bool masked)
{
    return 2u + (len < 126 ? 0u : len < 65536 ? 2u : 8u) + (masked ? 4u : 0u);
}

static xr_err frame_write(xr_ws *ws, uint8_t op, bool fin, const uint8_t *data, size_t len)
{
    bool masked = ws->cfg.role == XR_WS_CLIENT;
    size_t cap = ws->cfg.out_bytes;
    if (len > cap || header_len(len, masked) > cap - len)
        return XR_ERR_NO_MEMORY;
    size_t need = header_len(len, masked) + len;
    if (ws->out_start + ws->out_len + need > cap && ws->out_start > 0) {
        memmove(ws->out, ws->out + ws->out_start, ws->out_len);
        ws->out_start = 0;
    }
    if (ws->out_len + need > cap)
        return XR_ERR_AGAIN;
    struct wslay_frame_iocb io;
    memset(&io, 0, sizeof io);
    io.fin = fin ? 1 : 0;
    io.opcode = op;
    io.mask = masked ? 1 : 0;
    io.payload_length = len;
    io.data = data;
    io.data_length = len;
    size_t before = ws->out_len;
    ssize_t r = wslay_frame_send(ws->frame, &io);
    XR_ASSERT(r == (ssize_t)len && ws->out_len - before == need);
    return XR_OK;
}

/* Queues our close frame; if the output is full it is retried from xr_ws_output_ack. */
static void queue_close(xr_ws *ws, uint16_t code, const uint8_t *reason, size_t reason_len)
{
    if (ws->close_sent)
        return;
    uint8_t payload[125];
    size_t n = 0;
    if (code != 0 && code != XR_WS_CLOSE_NO_STATUS) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        n = 2;
        if (reason_len > sizeof payload - 2)
            reason_len = sizeof payload - 2;
        if (reason_len)
            memcpy(payload + 2, reason, reason_len);
        n += reason_len;
    }
    if (frame_write(ws, XR_WS_CLOSE, true, payload, n) == XR_OK) {
        ws->close_sent = 1;
        ws->pong_pending = 0; /* nothing may follow a close frame */
    } else {
        /* Remember it in the pong slot's place: a close supersedes any pending pong. */
        memcpy(ws->pong, payload, n);
        ws->pong_len = n;
        ws->pong_pending = 2;
    }
}

static void flush_pending(xr_ws *ws)
{
    if (ws->pong_pending == 1 && !ws->close_sent) {
        if (frame_write(ws, XR_WS_PONG, true, ws->pong, ws->pong_len) == XR_OK)
            ws->pong_pending = 0;
    } else if (ws->pong_pending == 2 && !ws->close_sent) {
        if (frame_write(ws, XR_WS_CLOSE, true, ws->pong, ws->pong_len) == XR_OK) {
            ws->close_sent = 1;
            ws->pong_pending = 0;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) */

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, 8 bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            uint8_t b = s[i + k];
            if ((b & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle */

void xr_ws_config_default(xr_ws_config *cfg, xr_ws_role role)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = role;
    cfg->max_message_bytes = 1024 * 1024;
    cfg->out_bytes = 64 * 1024;
}

size_t xr_ws_footprint(const xr_ws_config *cfg)
{
    return cfg->max_message_bytes + cfg->out_bytes;
}

xr_err xr_ws_init(xr_ws *ws, const xr_ws_config *cfg, void *mem, size_t mem_len)
{
    if (ws == NULL || cfg == NULL || mem == NULL ||
        (cfg->role != XR_WS_CLIENT && cfg->role != XR_WS_SERVER) || cfg->out_bytes < 256 ||
        cfg->max_message_bytes > SIZE_MAX / 2 || cfg->out_bytes > SIZE_MAX / 2 ||
        mem_len < xr_ws_footprint(cfg))
        return XR_ERR_INVALID_ARGUMENT;
    memset(ws, 0, sizeof(*ws));
    ws->cfg = *cfg;
    ws->msg = mem;
    ws->out = (uint8_t *)mem + cfg->max_message_bytes;
    if (os_random(ws->rng_key, sizeof ws->rng_key) != 0)
        return XR_ERR_IO;
    if (wslay_frame_context_init(&ws->frame, &frame_callbacks, ws) != 0) {
        ws->frame = NULL;
        return XR_ERR_NO_MEMORY;
    }
    return XR_OK;
}

void xr_ws_free(xr_ws *ws)
{
    if (ws == NULL || ws->frame == NULL)
        return;
    wslay_frame_context_free(ws->frame);
    ws->frame = NULL;
    memset(ws->rng_key, 0, sizeof ws->rng_key);
}

/* ---------------------------------------------------------------------------------------- */
/* Receiving */

static xr_err fail(xr_ws *ws, uint16_t code, xr_err err)
{
    ws->failed = 1;
    ws->fail_code = code;
    queue_close(ws, code, NULL, 0);
    return err;
}

static bool close_code_valid(uint16_t c)
{
    if (c >= 3000 && c <= 4999)
        return true;
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014);
}

/* A complete control frame is in ctrl[0..ctrl_len). */
static xr_err control_event(xr_ws *ws, xr_ws_event *ev)
{
    ev->data = ws->ctrl_len ? ws->ctrl : NULL;
    ev->len = ws->ctrl_len;
    switch (ws->frame_opcode) {
    case XR_WS_PING:
        ev->type = XR_WS_EV_PING;
        if (!ws->cfg.manual_pong && !ws->close_sent && ws->pong_pending != 2) {
            memcpy(ws->pong, ws->ctrl, ws->ctrl_len);
            ws->pong_len = ws->ctrl_len;
            ws->pong_pending = 1; /* only the latest ping needs an answer */
            flush_pending(ws);
        }
        return XR_OK;
    case XR_WS_PONG:
        ev->type = XR_WS_EV_PONG;
        return XR_OK;
    case XR_WS_CLOSE:
        ev->type = XR_WS_EV_CLOSE;
        ev->close_code = XR_WS_CLOSE_NO_STATUS;
        if (ws->ctrl_len == 1)
            return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
        if (ws->ctrl_len >= 2) {
            uint16_t code = (uint16_t)((ws->ctrl[0] << 8) | ws->ctrl[1]);
            if (!close_code_valid(code))
                return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
            if (ws->cfg.validate_utf8 && !utf8_valid(ws->ctrl + 2, ws->ctrl_len - 2))
                return fail(ws, XR_WS_CLOSE_INVALID_DATA, XR_ERR_MALFORMED);
            ev->close_code = code;
            ev->data = ws->ctrl_len > 2 ? ws->ctrl + 2 : NULL;
            ev->len = ws->ctrl_len - 2;
        }
        ws->close_received = 1;
        queue_close(ws, ev->close_code, NULL, 0); /* echo the code, as RFC 6455 5.5.1 asks */
        return XR_OK;
    default:
        XR_ASSERT(0);
        return XR_ERR_INTERNAL;
    }
}

/* Checks a frame's header when its first chunk arrives. */
static xr_err frame_start(xr_ws *ws, const struct wslay_frame_iocb *io)
{
    if (io->rsv != 0) /* no extension is ever negotiated */
        return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
    /* Clients must mask, servers must not (RFC 6455 5.1). */
    if ((ws->cfg.role == XR_WS_SERVER) != (io->mask != 0))
        return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
    uint8_t op = io->opcode;
    switch (op) {
    case XR_WS_PING:
    case XR_WS_PONG:
    case XR_WS_CLOSE:
        /* wslay has checked fin and the 125-byte limit. */
        ws->ctrl_len = 0;
        break;
    case XR_WS_TEXT:
    case XR_WS_BINARY:
        if (ws->in_message)
            return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
        ws->in_message = 1;
        ws->msg_opcode = op;
        ws->msg_len = 0;
        /* fall through */
    case XR_WS_CONTINUATION:
        if (!ws->in_message)
            return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
        /* Refuse from the header, before storing any of the payload. */
        if (io->payload_length > ws->cfg.max_message_bytes - ws->msg_len)
            return fail(ws, XR_WS_CLOSE_TOO_BIG, XR_ERR_LIMIT_EXCEEDED);
        break;
    default:
        return fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
    }
    ws->in_frame = 1;
    ws->frame_opcode = op;
    ws->frame_fin = io->fin;
    ws->frame_remaining = io->payload_length;
    return XR_OK;
}

xr_err xr_ws_recv(xr_ws *ws, const uint8_t *in, size_t len, size_t *consumed, xr_ws_event *ev)
{
    *consumed = 0;
    memset(ev, 0, sizeof(*ev));
    if (ws->failed || ws->close_received)
        return XR_ERR_INVALID_STATE;
    if (in == NULL && len > 0)
        return XR_ERR_INVALID_ARGUMENT;
    ws->in = in;
    ws->in_len = len;
    ws->in_off = 0;
    xr_err result = XR_ERR_AGAIN;
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof io);
        ssize_t r = wslay_frame_recv(ws->frame, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0) {
            result = fail(ws, XR_WS_CLOSE_PROTOCOL, XR_ERR_MALFORMED);
            break;
        }
        if (!ws->in_frame) {
            result = frame_start(ws, &io);
            if (result != XR_OK)
                break;
            result = XR_ERR_AGAIN;
        }
        XR_ASSERT(io.data_length <= ws->frame_remaining);
        bool control = ws->frame_opcode >= XR_WS_CLOSE;
        if (io.data_length > 0) {
            if (control) {
                memcpy(ws->ctrl + ws->ctrl_len, io.data, io.data_length);
                ws->ctrl_len += io.data_length;
            } else {
                memcpy(ws->msg + ws->msg_len, io.data, io.data_length);
                ws->msg_len += io.data_length;
            }
        }
        ws->frame_remaining -= io.data_length;
        if (ws->frame_remaining > 0)
            continue;
        ws->in_frame = 0;
        if (control) {
            result = control_event(ws, ev);
            break;
        }
        if (!ws->frame_fin)
            continue;
        ws->in_message = 0;
        if (ws->msg_opcode == XR_WS_TEXT && ws->cfg.validate_utf8 &&
            !utf8_valid(ws->msg, ws->msg_len)) {
            result = fail(ws, XR_WS_CLOSE_INVALID_DATA, XR_ERR_MALFORMED);
            break;
        }
        ev->type = ws->msg_opcode == XR_WS_TEXT ? XR_WS_EV_TEXT : XR_WS_EV_BINARY;
        ev->data = ws->msg_len ? ws->msg : NULL;
        ev->len = ws->msg_len;
        result = XR_OK;
        break;
    }
    *consumed = ws->in_off;
    ws->in = NULL;
    ws->in_len = ws->in_off = 0;
    return result;
}

/* ---------------------------------------------------------------------------------------- */
/* Sending */

xr_err xr_ws_send_fragment(xr_ws *ws, xr_ws_opcode op, bool fin, const void *data, size_t len)
{
    if (data == NULL && len > 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (ws->failed || ws->close_sent)
        return XR_ERR_INVALID_STATE;
    switch (op) {
    case XR_WS_PING:
    case XR_WS_PONG:
        if (!fin || len > 125)
            return XR_ERR_INVALID_ARGUMENT;
        return frame_write(ws, (uint8_t)op, true, data, len);
    case XR_WS_TEXT:
    case XR_WS_BINARY:
        if (ws->send_in_message)
            return XR_ERR_INVALID_STATE;
        break;
    case XR_WS_CONTINUATION:
        if (!ws->send_in_message)
            return XR_ERR_INVALID_STATE;
        break;
    default:
        return XR_ERR_INVALID_ARGUMENT; /* close goes through xr_ws_close */
    }
    xr_err e = frame_write(ws, (uint8_t)op, fin, data, len);
    if (e == XR_OK)
        ws->send_in_message = !fin;
    return e;
}

xr_err xr_ws_send(xr_ws *ws, xr_ws_opcode op, const void *data, size_t len)
{
    return xr_ws_send_fragment(ws, op, true, data, len);
}

xr_err xr_ws_close(xr_ws *ws, uint16_t code, const char *reason, size_t reason_len)
{
    if (ws->close_sent || ws->pong_pending == 2)
        return XR_ERR_INVALID_STATE;
    if (reason_len > 123 || (reason == NULL && reason_len > 0) ||
        (code != 0 && !close_code_valid(code)) || (code == 0 && reason_len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    queue_close(ws, code, (const uint8_t *)reason, reason_len);
    return XR_OK;
}

const uint8_t *xr_ws_output(xr_ws *ws, size_t *len)
{
    *len = ws->out_len;
    return ws->out_len ? ws->out + ws->out_start : NULL;
}

void xr_ws_output_ack(xr_ws *ws, size_t n)
{
    XR_ASSERT(n <= ws->out_len);
    ws->out_start += n;
    ws->out_len -= n;
    if (ws->out_len == 0)
        ws->out_start = 0;
    if (ws->pong_pending)
        flush_pending(ws);
}

bool xr_ws_close_sent(const xr_ws *ws)
{
    return ws->close_sent;
}

bool xr_ws_close_received(const xr_ws *ws)
{
    return ws->close_received;
}

uint16_t xr_ws_failure_code(const xr_ws *ws)
{
    return ws->failed ? ws->fail_code : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Handshake */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Strict decoding of exactly 24 characters into 16 bytes (a Sec-WebSocket-Key). */
static bool key_is_16_bytes(const char *s, size_t len)
{
    if (len != XR_WS_KEY_LEN || s[22] != '=' || s[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (b64_value(s[i]) < 0)
            return false;
    /* The last character before the padding carries 4 unused bits that must be zero. */
    return (b64_value(s[21]) & 0x0f) == 0;
}

xr_err xr_ws_make_key(char key[XR_WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    if (os_random(raw, sizeof raw) != 0)
        return XR_ERR_IO;
    b64_encode(raw, sizeof raw, key);
    return XR_OK;
}

void xr_ws_accept_for_key(const char *key, size_t key_len, char accept[XR_WS_ACCEPT_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    br_sha1_context sha;
    uint8_t digest[br_sha1_SIZE];
    br_sha1_init(&sha);
    br_sha1_update(&sha, key, key_len);
    br_sha1_update(&sha, guid, sizeof guid - 1);
    br_sha1_out(&sha, digest);
    b64_encode(digest, sizeof digest, accept);
}

#define EXTRA_MAX 16

xr_err xr_ws_build_client_handshake(char *out, size_t cap, size_t *len_out, const char *host,
                                    const char *target, const char *key,
                                    const xr_http_header *extra, size_t nextra)
{
    if (key == NULL || strlen(key) != XR_WS_KEY_LEN || nextra > EXTRA_MAX ||
        (extra == NULL && nextra > 0))
        return XR_ERR_INVALID_ARGUMENT;
    xr_http_header h[4 + EXTRA_MAX] = {
        {"Upgrade", 7, "websocket", 9},
        {"Connection", 10, "Upgrade", 7},
        {"Sec-WebSocket-Key", 17, key, XR_WS_KEY_LEN},
        {"Sec-WebSocket-Version", 21, "13", 2},
    };
    for (size_t i = 0; i < nextra; i++)
        h[4 + i] = extra[i];
    return xr_http_build_request(out, cap, len_out, "GET", target, host, h, 4 + nextra, NULL, 0);
}

xr_err xr_ws_build_server_handshake(char *out, size_t cap, size_t *len_out, const char *accept,
                                    const xr_http_header *extra, size_t nextra)
{
    if (accept == NULL || strlen(accept) != XR_WS_ACCEPT_LEN || nextra > EXTRA_MAX ||
        (extra == NULL && nextra > 0))
        return XR_ERR_INVALID_ARGUMENT;
    xr_http_header h[3 + EXTRA_MAX] = {
        {"Upgrade", 7, "websocket", 9},
        {"Connection", 10, "Upgrade", 7},
        {"Sec-WebSocket-Accept", 20, accept, XR_WS_ACCEPT_LEN},
    };
    for (size_t i = 0; i < nextra; i++)
        h[3 + i] = extra[i];
    return xr_http_build_response(out, cap, len_out, 101, "Switching Protocols", h, 3 + nextra,
                                  NULL, 0);
}

/* A header's value without surrounding blanks. */
static bool header_value(const xr_http_message *m, const char *name, const char **v, size_t *n)
{
    const xr_http_header *h = xr_http_find_header(m, name);
    if (h == NULL)
        return false;
    const char *s = h->value;
    size_t len = h->value_len;
    while (len > 0 && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    *v = s;
    *n = len;
    return true;
}

xr_err xr_ws_check_server_handshake(const xr_http_message *resp, const char *key)
{
    if (resp == NULL || key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (resp->status != 101)
        return XR_ERR_REJECTED;
    if (!xr_http_header_has_token(resp, "Upgrade", "websocket") ||
        !xr_http_header_has_token(resp, "Connection", "upgrade"))
        return XR_ERR_MALFORMED;
    char want[XR_WS_ACCEPT_LEN + 1];
    xr_ws_accept_for_key(key, strlen(key), want);
    const char *v;
    size_t n;
    if (!header_value(resp, "Sec-WebSocket-Accept", &v, &n) || n != XR_WS_ACCEPT_LEN ||
        memcmp(v, want, n) != 0)
        return XR_ERR_MALFORMED;
    return XR_OK;
}

xr_err xr_ws_check_client_handshake(const xr_http_message *req, char accept[XR_WS_ACCEPT_LEN + 1])
{
    if (req == NULL || accept == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (req->method == NULL || strcmp(req->method, "GET") != 0 || req->version_major < 1 ||
        (req->version_major == 1 && req->version_minor < 1))
        return XR_ERR_MALFORMED;
    if (!xr_http_header_has_token(req, "Upgrade", "websocket") ||
        !xr_http_header_has_token(req, "Connection", "upgrade"))
        return XR_ERR_MALFORMED;
    const char *v;
    size_t n;
    if (!header_value(req, "Sec-WebSocket-Version", &v, &n) || n != 2 || memcmp(v, "13", 2) != 0)
        return XR_ERR_MALFORMED;
    if (!header_value(req, "Sec-WebSocket-Key", &v, &n) || !key_is_16_bytes(v, n))
        return XR_ERR_MALFORMED;
    xr_ws_accept_for_key(v, n, accept);
    return XR_OK;
}
