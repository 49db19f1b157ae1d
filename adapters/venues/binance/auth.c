/*
 * Binance signing (BearSSL HMAC-SHA256), query building and the server-clock estimate.
 */
#include "adapters/venues/binance/auth.h"

#include <string.h>

/* BearSSL's headers test macros that may be undefined, which -Wundef reports. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

#include "core/base/assert.h"

_Static_assert(sizeof(br_hmac_key_context) <= sizeof(((xr_binance_signer *)0)->state),
               "the signer's storage holds BearSSL's key context");
_Static_assert(_Alignof(br_hmac_key_context) <= _Alignof(uint64_t), "and is aligned for it");

static void to_hex(const unsigned char *mac, char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[XR_BINANCE_SIGNATURE_HEX_LEN] = '\0';
}

static void mac_hex(const br_hmac_key_context *kc, const char *payload, size_t len,
                    char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1])
{
    br_hmac_context ctx;
    unsigned char mac[32];
    br_hmac_init(&ctx, kc, 0);
    br_hmac_update(&ctx, payload, len);
    size_t n = br_hmac_out(&ctx, mac);
    XR_ASSERT(n == sizeof mac);
    to_hex(mac, out);
}

void xr_binance_sign(const void *secret, size_t secret_len, const char *payload, size_t len,
                     char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1])
{
    XR_ASSERT(out != NULL && (secret != NULL || secret_len == 0) && (payload != NULL || len == 0));
    br_hmac_key_context kc;
    br_hmac_key_init(&kc, &br_sha256_vtable, secret, secret_len);
    mac_hex(&kc, payload, len, out);
    memset(&kc, 0, sizeof kc);
}

xr_err xr_binance_signer_init(xr_binance_signer *s, const void *secret, size_t secret_len)
{
    XR_ASSERT(s != NULL);
    memset(s, 0, sizeof *s);
    if (secret == NULL || secret_len == 0)
        return XR_ERR_INVALID_ARGUMENT;
    br_hmac_key_init((br_hmac_key_context *)(void *)s->state, &br_sha256_vtable, secret,
                     secret_len);
    s->ready = true;
    return XR_OK;
}

void xr_binance_signer_sign(const xr_binance_signer *s, const char *payload, size_t len,
                            char out[XR_BINANCE_SIGNATURE_HEX_LEN + 1])
{
    XR_ASSERT(s != NULL && s->ready && out != NULL);
    mac_hex((const br_hmac_key_context *)(const void *)s->state, payload, len, out);
}

void xr_binance_signer_wipe(xr_binance_signer *s)
{
    XR_ASSERT(s != NULL);
    /* volatile so the compiler cannot drop a store to memory it sees as dead. */
    volatile unsigned char *p = (volatile unsigned char *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        p[i] = 0;
}

/* ---- queries -------------------------------------------------------------------------- */

void xr_binance_query_init(xr_binance_query *q)
{
    XR_ASSERT(q != NULL);
    q->len = 0;
    q->buf[0] = '\0';
    q->status = XR_OK;
}

static void put(xr_binance_query *q, char c)
{
    if (q->status != XR_OK)
        return;
    if (q->len == XR_BINANCE_QUERY_MAX) {
        q->status = XR_ERR_NO_MEMORY;
        return;
    }
    q->buf[q->len++] = c;
    q->buf[q->len] = '\0';
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

void xr_binance_query_add(xr_binance_query *q, const char *key, const char *value, size_t len)
{
    XR_ASSERT(q != NULL && key != NULL && (value != NULL || len == 0));
    if (q->status != XR_OK)
        return;
    if (key[0] == '\0') {
        q->status = XR_ERR_INVALID_ARGUMENT;
        return;
    }
    for (const char *k = key; *k != '\0'; k++) {
        unsigned char c = (unsigned char)*k;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            q->status = XR_ERR_INVALID_ARGUMENT;
            return;
        }
    }
    if (q->len > 0)
        put(q, '&');
    for (const char *k = key; *k != '\0'; k++)
        put(q, *k);
    put(q, '=');
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (unreserved(c)) {
            put(q, (char)c);
        } else {
            put(q, '%');
            put(q, hex[c >> 4]);
            put(q, hex[c & 15]);
        }
    }
}

void xr_binance_query_add_str(xr_binance_query *q, const char *key, const char *value)
{
    XR_ASSERT(value != NULL);
    xr_binance_query_add(q, key, value, strlen(value));
}

void xr_binance_query_add_u64(xr_binance_query *q, const char *key, uint64_t value)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    char text[24];
    for (size_t i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    xr_binance_query_add(q, key, text, n);
}

void xr_binance_query_sign(xr_binance_query *q, const xr_binance_signer *s)
{
    XR_ASSERT(q != NULL && s != NULL);
    if (q->status != XR_OK)
        return;
    char sig[XR_BINANCE_SIGNATURE_HEX_LEN + 1];
    xr_binance_signer_sign(s, q->buf, q->len, sig);
    xr_binance_query_add(q, "signature", sig, XR_BINANCE_SIGNATURE_HEX_LEN);
}

xr_err xr_binance_query_status(const xr_binance_query *q)
{
    XR_ASSERT(q != NULL);
    return q->status;
}

/* ---- clock ---------------------------------------------------------------------------- */

void xr_binance_clock_init(xr_binance_clock *c)
{
    XR_ASSERT(c != NULL);
    memset(c, 0, sizeof *c);
}

bool xr_binance_clock_sample(xr_binance_clock *c, int64_t sent_ms, int64_t recv_ms,
                             int64_t server_ms, int64_t max_age_ms)
{
    XR_ASSERT(c != NULL);
    if (recv_ms < sent_ms)
        return false;
    int64_t rtt = recv_ms - sent_ms;
    /* The server read its clock somewhere in the round trip; the midpoint halves the error
     * bound, and a shorter round trip bounds it tighter, so that sample is kept. */
    bool take = !c->valid || rtt <= c->rtt_ms || recv_ms - c->sampled_at_ms > max_age_ms;
    if (!take)
        return false;
    c->offset_ms = server_ms - (sent_ms + rtt / 2);
    c->rtt_ms = rtt;
    c->sampled_at_ms = recv_ms;
    c->valid = true;
    return true;
}

void xr_binance_clock_invalidate(xr_binance_clock *c)
{
    XR_ASSERT(c != NULL);
    c->valid = false;
}

bool xr_binance_clock_needs_sample(const xr_binance_clock *c, int64_t now_ms, int64_t max_age_ms)
{
    XR_ASSERT(c != NULL);
    return !c->valid || now_ms - c->sampled_at_ms > max_age_ms;
}

int64_t xr_binance_clock_server_ms(const xr_binance_clock *c, int64_t local_ms)
{
    XR_ASSERT(c != NULL);
    return c->valid ? local_ms + c->offset_ms : local_ms;
}
