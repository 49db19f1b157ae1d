/* Fuzzes the HTTP/1.1 response parser. The first input byte picks how the rest is cut into
 * reads (and whether the first response answers a HEAD); the rest is the byte stream. The
 * stream is parsed twice, whole and cut, and both runs must agree on every message and on
 * the failure, wherever the cuts fall. Every message must respect the configured limits and
 * point inside the parser's memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD_MAX 2048
#define BODY_MAX 16384

static char mem_a[HEAD_MAX + BODY_MAX];

typedef struct digest {
    uint64_t h;
    unsigned messages;
    xr_err last;
    uint64_t error_off;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static void check_and_mix(digest *d, const xr_http_message *m, const char *mem)
{
    const char *lo = mem, *hi = mem + sizeof mem_a;
    if (m->header_count > 16 || m->body_len > BODY_MAX || m->status < 100 || m->status > 999)
        abort();
    if (m->body_len && ((const char *)m->body < lo || (const char *)m->body + m->body_len > hi))
        abort();
    mix(d, &m->status, sizeof m->status);
    mix(d, &m->keep_alive, sizeof m->keep_alive);
    mix(d, &m->upgrade, sizeof m->upgrade);
    mix(d, m->reason, m->reason_len);
    for (size_t i = 0; i < m->header_count; i++) {
        const xr_http_header *h = &m->headers[i];
        if (h->name < lo || h->name + h->name_len > hi || h->value < lo ||
            h->value + h->value_len > hi)
            abort();
        mix(d, h->name, h->name_len);
        mix(d, ":", 1);
        mix(d, h->value, h->value_len);
    }
    if (m->body_len)
        mix(d, m->body, m->body_len);
    d->messages++;
}

static void run(const uint8_t *s, size_t len, size_t step, int head, digest *d)
{
    xr_http_limits lim = {
        .max_headers = 16, .max_head_bytes = HEAD_MAX, .max_body_bytes = BODY_MAX};
    static xr_http_parser p;
    if (xr_http_parser_init(&p, XR_HTTP_RESPONSE, mem_a, sizeof mem_a, &lim) != XR_OK)
        abort();
    if (head)
        xr_http_parser_expect_no_body(&p);
    memset(d, 0, sizeof *d);
    d->h = 14695981039346656037ull;
    d->last = XR_ERR_AGAIN;
    size_t off = 0;
    while (off < len) {
        size_t end = off + step < len ? off + step : len;
        size_t pos = off;
        for (;;) {
            size_t used = 0;
            const xr_http_message *m = NULL;
            xr_err e = xr_http_parse(&p, s + pos, end - pos, &used, &m);
            if (used > end - pos)
                abort();
            pos += used;
            if (e == XR_OK) {
                check_and_mix(d, m, mem_a);
                if (m->upgrade) {
                    d->last = XR_ERR_INVALID_STATE;
                    return;
                }
                if (pos == end)
                    break;
                continue;
            }
            if (e == XR_ERR_AGAIN) {
                if (pos != end)
                    abort();
                break;
            }
            if (e != XR_ERR_MALFORMED && e != XR_ERR_LIMIT_EXCEEDED)
                abort();
            d->last = e;
            d->error_off = xr_http_parser_error_offset(&p);
            if (d->error_off > len)
                abort();
            /* A failed parser stays failed. */
            if (xr_http_parse(&p, s, 1, &used, &m) != XR_ERR_INVALID_STATE)
                abort();
            return;
        }
        off = end;
    }
    const xr_http_message *m = NULL;
    xr_err e = xr_http_parse_eof(&p, &m);
    if (e == XR_OK)
        check_and_mix(d, m, mem_a);
    else if (e != XR_ERR_AGAIN && e != XR_ERR_MALFORMED)
        abort();
    d->last = e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 16))
        return 0;
    uint8_t ctl = data[0];
    size_t step = (size_t)(ctl & 0x3f) + 1;
    int head = (ctl & 0x40) != 0;
    digest whole, cut;
    run(data + 1, size - 1, size, head, &whole);
    run(data + 1, size - 1, step, head, &cut);
    if (whole.h != cut.h || whole.messages != cut.messages || whole.last != cut.last ||
        whole.error_off != cut.error_off)
        abort();
    return 0;
}
