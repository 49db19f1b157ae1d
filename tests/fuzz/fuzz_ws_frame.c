/* Fuzzes the WebSocket frame decoder. The first input byte picks the role (client or
 * server), UTF-8 validation and how the rest is cut into reads. The stream is decoded twice,
 * whole and cut, and both runs must produce the same events and the same failure. Every
 * text or binary message received is then sent back through the codec and decoded by a
 * codec of the other role, which must see the identical message (send/receive pairing). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSG_MAX 8192
#define OUT_MAX (MSG_MAX + 64)

static uint8_t mem_a[MSG_MAX + OUT_MAX], mem_b[MSG_MAX + OUT_MAX];

typedef struct digest {
    uint64_t h;
    unsigned events;
    xr_err last;
    uint16_t fail_code;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ull;
}

/* Sends `ev` back from `a` and checks that a peer codec decodes the same message. */
static void echo_check(xr_ws *a, xr_ws_role role, const xr_ws_event *ev)
{
    xr_ws_config cfg;
    xr_ws_config_default(&cfg, role == XR_WS_CLIENT ? XR_WS_SERVER : XR_WS_CLIENT);
    cfg.max_message_bytes = MSG_MAX;
    cfg.out_bytes = OUT_MAX;
    static xr_ws b;
    if (xr_ws_init(&b, &cfg, mem_b, sizeof mem_b) != XR_OK)
        abort();
    /* Drop what `a` has queued (pongs, closes), then send the echo alone. */
    size_t n = 0;
    xr_ws_output(a, &n);
    xr_ws_output_ack(a, n);
    xr_ws_opcode op = ev->type == XR_WS_EV_TEXT ? XR_WS_TEXT : XR_WS_BINARY;
    if (xr_ws_send(a, op, ev->data, ev->len) != XR_OK)
        abort();
    const uint8_t *out = xr_ws_output(a, &n);
    static uint8_t copy[OUT_MAX];
    memcpy(copy, out, n);
    xr_ws_output_ack(a, n);
    size_t used = 0;
    xr_ws_event got;
    if (xr_ws_recv(&b, copy, n, &used, &got) != XR_OK || used != n || got.type != ev->type ||
        got.len != ev->len || (ev->len && memcmp(got.data, ev->data, ev->len) != 0))
        abort();
    xr_ws_free(&b);
}

static void run(const uint8_t *s, size_t len, size_t step, xr_ws_role role, int utf8, int echo,
                digest *d)
{
    xr_ws_config cfg;
    xr_ws_config_default(&cfg, role);
    cfg.max_message_bytes = MSG_MAX;
    cfg.out_bytes = OUT_MAX;
    cfg.validate_utf8 = utf8 != 0;
    static xr_ws a;
    if (xr_ws_init(&a, &cfg, mem_a, sizeof mem_a) != XR_OK)
        abort();
    memset(d, 0, sizeof *d);
    d->h = 14695981039346656037ull;
    d->last = XR_ERR_AGAIN;
    size_t off = 0;
    for (;;) {
        size_t end = off + step < len ? off + step : len;
        size_t pos = off;
        xr_err e;
        for (;;) {
            size_t used = 0;
            xr_ws_event ev;
            e = xr_ws_recv(&a, s + pos, end - pos, &used, &ev);
            if (used > end - pos)
                abort();
            pos += used;
            if (e != XR_OK)
                break;
            if (ev.len > MSG_MAX || (ev.type >= XR_WS_EV_PING && ev.len > 125))
                abort();
            mix(d, &ev.type, sizeof ev.type);
            mix(d, &ev.close_code, sizeof ev.close_code);
            if (ev.len)
                mix(d, ev.data, ev.len);
            d->events++;
            if (echo && (ev.type == XR_WS_EV_TEXT || ev.type == XR_WS_EV_BINARY))
                echo_check(&a, role, &ev);
            /* Keep the output drained so that pongs never pile up. */
            size_t n = 0;
            xr_ws_output(&a, &n);
            xr_ws_output_ack(&a, n);
        }
        if (e != XR_ERR_AGAIN) {
            if (e != XR_ERR_MALFORMED && e != XR_ERR_LIMIT_EXCEEDED && e != XR_ERR_INVALID_STATE)
                abort();
            if ((e == XR_ERR_MALFORMED || e == XR_ERR_LIMIT_EXCEEDED) &&
                xr_ws_failure_code(&a) == 0)
                abort();
            d->last = e;
            d->fail_code = xr_ws_failure_code(&a);
            break;
        }
        if (pos != end)
            abort();
        if (end == len)
            break;
        off = end;
    }
    xr_ws_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 16))
        return 0;
    uint8_t ctl = data[0];
    xr_ws_role role = (ctl & 1) ? XR_WS_SERVER : XR_WS_CLIENT;
    int utf8 = (ctl & 2) != 0;
    size_t step = (size_t)(ctl >> 2) + 1;
    digest whole, cut;
    run(data + 1, size - 1, size, role, utf8, 1, &whole);
    run(data + 1, size - 1, step, role, utf8, 0, &cut);
    if (whole.h != cut.h || whole.events != cut.events || whole.last != cut.last ||
        whole.fail_code != cut.fail_code)
        abort();
    return 0;
}
