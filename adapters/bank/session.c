/* The bank protocol's session rules shared by the gateway server and the client library. */
#include "adapters/bank/session.h"

#include <string.h>

/* BearSSL's headers test BR_DOXYGEN_IGNORE with #if; keep -Wundef for our own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

#include "core/base/assert.h"

void xr_bank_logon_mac(const uint8_t *secret, size_t secret_len, const uint8_t *frame,
                       uint8_t mac[XR_PROTO_MAC_LEN])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, secret, secret_len);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, frame, XR_PROTO_LOGON_MAC_OFFSET);
    br_hmac_out(&hc, mac);
    /* The key context holds the secret's pads: do not leave them on the stack. */
    memset(&kc, 0, sizeof kc);
    memset(&hc, 0, sizeof hc);
}

void xr_bank_logon_sign(const uint8_t *secret, size_t secret_len, uint8_t frame[XR_PROTO_LOGON_LEN])
{
    xr_bank_logon_mac(secret, secret_len, frame, frame + XR_PROTO_LOGON_MAC_OFFSET);
}

uint32_t xr_bank_heartbeat_ms(uint32_t wanted_ms, uint32_t default_ms)
{
    uint32_t h = wanted_ms != 0 ? wanted_ms : default_ms;
    if (h < XR_BANK_HB_MIN_MS)
        h = XR_BANK_HB_MIN_MS;
    if (h > XR_BANK_HB_MAX_MS)
        h = XR_BANK_HB_MAX_MS;
    return h;
}

void xr_bank_auth_init(xr_bank_auth *a, const xr_bank_server_key *keys, uint32_t nkeys,
                       int64_t skew_ns)
{
    XR_ASSERT(a != NULL && nkeys <= XR_BANK_SERVER_KEYS_MAX);
    memset(a, 0, sizeof *a);
    a->keys = keys;
    a->nkeys = nkeys;
    a->skew_ns = skew_ns;
    for (uint32_t i = 0; i < nkeys; i++) {
        uint32_t j = 0;
        while (j < a->nbanks && a->banks[j].bank_id != keys[i].bank_id)
            j++;
        if (j == a->nbanks)
            a->banks[a->nbanks++].bank_id = keys[i].bank_id;
    }
}

/* Constant-time comparison: the time taken does not tell how many bytes matched. */
static int mac_equal(const uint8_t *x, const uint8_t *y)
{
    uint8_t d = 0;
    for (size_t i = 0; i < XR_PROTO_MAC_LEN; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

xr_err xr_bank_auth_check(xr_bank_auth *a, const xr_proto_logon *m, const uint8_t *frame,
                          int64_t now_ns)
{
    if (a == NULL || m == NULL || frame == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    const xr_bank_server_key *k = NULL;
    for (uint32_t i = 0; i < a->nkeys; i++)
        if (a->keys[i].bank_id == m->bank_id && a->keys[i].key_id == m->key_id)
            k = &a->keys[i];
    /* An unknown key still costs one HMAC, so timing does not reveal which keys exist. */
    static const uint8_t nokey[1] = {0};
    uint8_t mac[XR_PROTO_MAC_LEN];
    if (k != NULL)
        xr_bank_logon_mac(k->secret, k->secret_len, frame, mac);
    else
        xr_bank_logon_mac(nokey, sizeof nokey, frame, mac);
    int ok = mac_equal(mac, frame + XR_PROTO_LOGON_MAC_OFFSET);
    if (k == NULL || !k->active || !ok)
        return XR_ERR_UNAUTHORIZED;
    /* The timestamp comes off the wire: any i64. An overflowing difference is far off. */
    int64_t d;
    if (__builtin_sub_overflow(m->timestamp_ns, now_ns, &d) || d > a->skew_ns || d < -a->skew_ns)
        return XR_ERR_STALE;
    xr_bank_nonces *b = NULL;
    for (uint32_t j = 0; j < a->nbanks; j++)
        if (a->banks[j].bank_id == m->bank_id)
            b = &a->banks[j];
    XR_ASSERT(b != NULL);
    int64_t horizon = now_ns - 2 * a->skew_ns;
    for (uint32_t i = 0; i < XR_BANK_NONCES_MAX; i++) {
        const xr_bank_nonce *s = &b->slot[i];
        if (s->seen_ns != 0 && s->seen_ns >= horizon &&
            memcmp(s->nonce, m->nonce, XR_PROTO_NONCE_LEN) == 0)
            return XR_ERR_UNAUTHORIZED;
    }
    xr_bank_nonce *slot = &b->slot[b->next];
    /* Overwriting a nonce that is still inside its window would let it be replayed. */
    if (slot->seen_ns != 0 && slot->seen_ns >= horizon)
        return XR_ERR_RATE_LIMITED;
    memcpy(slot->nonce, m->nonce, XR_PROTO_NONCE_LEN);
    slot->seen_ns = now_ns != 0 ? now_ns : 1;
    b->next = (b->next + 1) % XR_BANK_NONCES_MAX;
    return XR_OK;
}

xr_bank_seq_verdict xr_bank_seq_check(uint64_t *last, uint64_t seq)
{
    XR_ASSERT(last != NULL);
    if (seq <= *last)
        return XR_BANK_SEQ_DUP;
    if (seq != *last + 1)
        return XR_BANK_SEQ_GAP;
    *last = seq;
    return XR_BANK_SEQ_NEW;
}

const xr_bank_resting_entry *xr_bank_resting_find(const xr_bank_resting *r, uint32_t bank_id,
                                                  const xr_engine_key *key)
{
    XR_ASSERT(r != NULL && key != NULL);
    if (r->n == 0 || bank_id == 0)
        return NULL;
    for (uint32_t i = 0; i < XR_BANK_RESTING_MAX; i++) {
        const xr_bank_resting_entry *e = &r->e[i];
        if (e->bank_id == bank_id && memcmp(e->key.bytes, key->bytes, sizeof e->key.bytes) == 0)
            return e;
    }
    return NULL;
}

xr_err xr_bank_resting_add(xr_bank_resting *r, uint32_t bank_id, uint64_t customer_id,
                           uint64_t correlation_id, const xr_engine_key *key)
{
    XR_ASSERT(r != NULL && key != NULL);
    /* bank 0 marks a free entry: no such command reaches the engine (the server forces the
     * session's bank, which is never 0) */
    if (bank_id == 0)
        return XR_ERR_INVALID_ARGUMENT;
    xr_bank_resting_entry *e = (xr_bank_resting_entry *)xr_bank_resting_find(r, bank_id, key);
    for (uint32_t i = 0; e == NULL && i < XR_BANK_RESTING_MAX; i++)
        if (r->e[i].bank_id == 0) {
            e = &r->e[i];
            r->n++;
        }
    if (e == NULL)
        return XR_ERR_NO_MEMORY;
    e->bank_id = bank_id;
    e->customer_id = customer_id;
    e->correlation_id = correlation_id;
    e->key = *key;
    return XR_OK;
}

xr_err xr_bank_resting_note_cmd(xr_bank_resting *r, const xr_engine_cmd *cmd)
{
    XR_ASSERT(r != NULL && cmd != NULL);
    if (cmd->bank_id == 0 || cmd->kind != XR_ENGINE_CMD_NEW_ORDER ||
        cmd->u.order.type != XR_ENGINE_LIMIT || cmd->u.order.tif == XR_ENGINE_TIF_IOC ||
        cmd->u.order.tif == XR_ENGINE_TIF_FOK)
        return XR_OK;
    return xr_bank_resting_add(r, cmd->bank_id, cmd->customer_id, cmd->correlation_id,
                               &cmd->u.order.key);
}

void xr_bank_resting_note_event(xr_bank_resting *r, const xr_engine_event *ev)
{
    XR_ASSERT(r != NULL && ev != NULL);
    if (r->n == 0)
        return;
    int reject =
        ev->kind == XR_ENGINE_EV_REJECT && ev->u.reject.cmd_kind == XR_ENGINE_CMD_NEW_ORDER;
    int final =
        ev->kind == XR_ENGINE_EV_EXEC_REPORT && ev->u.report.status >= XR_ENGINE_ORDER_FILLED;
    if (!reject && !final)
        return;
    for (uint32_t i = 0; i < XR_BANK_RESTING_MAX; i++) {
        xr_bank_resting_entry *e = &r->e[i];
        if (e->bank_id == 0 || e->bank_id != ev->bank_id)
            continue;
        if ((reject && e->correlation_id == ev->correlation_id) ||
            (final && memcmp(e->key.bytes, ev->u.report.key.bytes, sizeof e->key.bytes) == 0)) {
            memset(e, 0, sizeof *e);
            r->n--;
        }
    }
}

size_t xr_bank_resting_cancels(const xr_bank_resting *r, uint32_t bank_id, xr_engine_cmd *out,
                               size_t cap, uint64_t *next_corr)
{
    XR_ASSERT(r != NULL && next_corr != NULL);
    size_t n = 0;
    for (uint32_t i = 0; i < XR_BANK_RESTING_MAX && n < cap; i++) {
        const xr_bank_resting_entry *e = &r->e[i];
        if (e->bank_id == 0 || e->bank_id != bank_id)
            continue;
        xr_engine_cmd *c = &out[n++];
        memset(c, 0, sizeof *c);
        c->kind = XR_ENGINE_CMD_CANCEL;
        c->bank_id = bank_id;
        c->customer_id = e->customer_id;
        c->correlation_id = (*next_corr)++;
        c->u.ref.key = e->key;
    }
    return n;
}
