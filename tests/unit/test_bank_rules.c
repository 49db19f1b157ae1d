/* unit.bank_rules: the I/O-free session rules of adapters/bank/session.c - the logon HMAC
 * against an independent BearSSL computation, the clock window and nonce memory at their
 * exact boundaries, heartbeat clamping, sequence verdicts and the table of orders that may
 * rest (cancel-on-disconnect). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

#include "adapters/bank/codec.h"
#include "adapters/bank/session.h"

#define SEC INT64_C(1000000000)
#define T0  (INT64_C(1767225600) * SEC)

static xr_bank_server_key keys[3];

static void make_keys(void)
{
    memset(keys, 0, sizeof keys);
    keys[0] = (xr_bank_server_key){.bank_id = 7, .key_id = 1, .secret_len = 11, .active = 1};
    memcpy(keys[0].secret, "demo-secret", 11);
    keys[1] = (xr_bank_server_key){.bank_id = 7, .key_id = 2, .secret_len = 3, .active = 0};
    memcpy(keys[1].secret, "old", 3);
    keys[2] = (xr_bank_server_key){.bank_id = 9, .key_id = 1, .secret_len = 4, .active = 1};
    memcpy(keys[2].secret, "nine", 4);
}

/* An encoded, signed LOGON and its decoded form. */
static void logon(uint32_t bank, uint32_t key, const char *secret, int64_t ts, uint8_t nonce,
                  uint8_t frame[XR_PROTO_LOGON_LEN], xr_proto_logon *out)
{
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_LOGON;
    m.u.logon.bank_id = bank;
    m.u.logon.key_id = key;
    m.u.logon.timestamp_ns = ts;
    memset(m.u.logon.nonce, nonce, sizeof m.u.logon.nonce);
    m.u.logon.last_seq = 41;
    size_t len = 0;
    assert_int_equal(xr_bank_encode(&m, frame, XR_PROTO_LOGON_LEN, &len), XR_OK);
    assert_int_equal(len, XR_PROTO_LOGON_LEN);
    xr_bank_logon_sign((const uint8_t *)secret, strlen(secret), frame);
    xr_bank_msg d;
    assert_int_equal(xr_bank_decode(frame, len, &d, &len, NULL), XR_OK);
    *out = d.u.logon;
}

/* The HMAC equals BearSSL's HMAC-SHA256 computed here over the same 64 bytes, and the
 * documented example of docs/protocol.md §7 (bank 7, "demo-secret"). */
static void test_mac(void **state)
{
    (void)state;
    uint8_t frame[XR_PROTO_LOGON_LEN];
    xr_proto_logon m;
    logon(7, 1, "demo-secret", T0, 3, frame, &m);
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, "demo-secret", 11);
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, frame, 64);
    uint8_t want[32];
    br_hmac_out(&hc, want);
    assert_memory_equal(frame + 64, want, 32);

    /* The hex example: its HMAC bytes start 62 f2 80 35 and end 86 7f 43. */
    static const uint8_t ex[64] = {0x60, 0,    0,    0,    1,    1,    0,  0,  0,  0,    0, 0, 0,
                                   0,    0,    0,    7,    0,    0,    0,  1,  0,  0,    0, 0, 0,
                                   0xfa, 0xed, 0x51, 0x72, 0x86, 0x18, 0,  1,  2,  3,    4, 5, 6,
                                   7,    8,    9,    10,   11,   12,   13, 14, 15, 0x29, 0, 0, 0,
                                   0,    0,    0,    0,    0xe8, 3,    0,  0,  1,  0,    0, 0};
    uint8_t mac[32];
    xr_bank_logon_mac((const uint8_t *)"demo-secret", 11, ex, mac);
    assert_int_equal(mac[0], 0x62);
    assert_int_equal(mac[1], 0xf2);
    assert_int_equal(mac[31], 0x43);
}

static void test_auth(void **state)
{
    (void)state;
    make_keys();
    xr_bank_auth a;
    xr_bank_auth_init(&a, keys, 3, 30 * SEC);
    uint8_t f[XR_PROTO_LOGON_LEN];
    xr_proto_logon m;

    logon(7, 1, "demo-secret", T0, 1, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);
    /* the same nonce again, even 60 s later: refused; 60 s + 1 ns later: forgotten */
    logon(7, 1, "demo-secret", T0 + 60 * SEC, 1, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0 + 60 * SEC), XR_ERR_UNAUTHORIZED);
    logon(7, 1, "demo-secret", T0 + 60 * SEC + 1, 1, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0 + 60 * SEC + 1), XR_OK);
    /* the nonce is per bank: bank 9 may use the same bytes */
    logon(9, 1, "nine", T0, 1, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);

    /* clock window: exactly 30 s either way is accepted, one ns more is STALE */
    logon(7, 1, "demo-secret", T0 - 30 * SEC, 2, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);
    logon(7, 1, "demo-secret", T0 + 30 * SEC, 3, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);
    logon(7, 1, "demo-secret", T0 - 30 * SEC - 1, 4, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_STALE);
    logon(7, 1, "demo-secret", T0 + 30 * SEC + 1, 5, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_STALE);
    /* timestamps at the ends of the i64 range: STALE, no overflow */
    logon(7, 1, "demo-secret", INT64_MIN, 11, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_STALE);
    logon(7, 1, "demo-secret", INT64_MAX, 12, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, -T0), XR_ERR_STALE);
    /* a stale logon did not burn its nonce */
    logon(7, 1, "demo-secret", T0, 4, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);

    /* wrong secret, unknown key, inactive key, another bank's secret */
    logon(7, 1, "demo-secreT", T0, 6, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_UNAUTHORIZED);
    logon(7, 3, "demo-secret", T0, 7, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_UNAUTHORIZED);
    logon(7, 2, "old", T0, 8, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_UNAUTHORIZED);
    logon(9, 1, "demo-secret", T0, 9, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_UNAUTHORIZED);
    /* any flipped bit of the signed bytes breaks the HMAC */
    for (int i = 0; i < 64; i++) {
        logon(7, 1, "demo-secret", T0, 10, f, &m);
        f[i] ^= 0x01;
        assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_ERR_UNAUTHORIZED);
    }
    /* nonce 10 was never accepted: it still works */
    logon(7, 1, "demo-secret", T0, 10, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0), XR_OK);
}

/* The nonce memory never forgets a live nonce: once full of nonces inside the window, a
 * new logon is RATE_LIMITED rather than evicting one. */
static void test_nonce_memory_full(void **state)
{
    (void)state;
    make_keys();
    xr_bank_auth a;
    xr_bank_auth_init(&a, keys, 3, 30 * SEC);
    uint8_t f[XR_PROTO_LOGON_LEN];
    for (int i = 0; i < XR_BANK_NONCES_MAX; i++) {
        xr_proto_logon m;
        logon(7, 1, "demo-secret", T0, 0, f, &m);
        m.nonce[0] = (uint8_t)i;
        m.nonce[1] = (uint8_t)(i >> 8);
        /* sign the modified nonce */
        memcpy(f + 32, m.nonce, 16);
        xr_bank_logon_sign((const uint8_t *)"demo-secret", 11, f);
        assert_int_equal(xr_bank_auth_check(&a, &m, f, T0 + i), XR_OK);
    }
    xr_proto_logon m;
    logon(7, 1, "demo-secret", T0, 0xEE, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0 + 1000), XR_ERR_RATE_LIMITED);
    /* 60 s after the oldest: its slot is reusable */
    logon(7, 1, "demo-secret", T0 + 60 * SEC + 1, 0xEE, f, &m);
    assert_int_equal(xr_bank_auth_check(&a, &m, f, T0 + 60 * SEC + 1), XR_OK);
}

static void test_heartbeat_and_seq(void **state)
{
    (void)state;
    assert_int_equal(xr_bank_heartbeat_ms(0, 1000), 1000);
    assert_int_equal(xr_bank_heartbeat_ms(50, 1000), 100);
    assert_int_equal(xr_bank_heartbeat_ms(250, 1000), 250);
    assert_int_equal(xr_bank_heartbeat_ms(60000, 1000), 30000);
    uint64_t last = 41;
    assert_int_equal(xr_bank_seq_check(&last, 41), XR_BANK_SEQ_DUP);
    assert_int_equal(xr_bank_seq_check(&last, 3), XR_BANK_SEQ_DUP);
    assert_int_equal(xr_bank_seq_check(&last, 43), XR_BANK_SEQ_GAP);
    assert_int_equal(last, 41);
    assert_int_equal(xr_bank_seq_check(&last, 42), XR_BANK_SEQ_NEW);
    assert_int_equal(last, 42);
    assert_int_equal(xr_bank_seq_check(&last, 42), XR_BANK_SEQ_DUP);
}

static xr_engine_cmd order(uint32_t bank, uint64_t corr, uint8_t k, uint8_t type, uint8_t tif)
{
    xr_engine_cmd c;
    memset(&c, 0, sizeof c);
    c.kind = XR_ENGINE_CMD_NEW_ORDER;
    c.bank_id = bank;
    c.correlation_id = corr;
    c.customer_id = 100 + k;
    c.u.order.key.bytes[0] = k;
    c.u.order.type = type;
    c.u.order.tif = tif;
    return c;
}

/* Cancel-on-disconnect's table: which orders may rest, when they stop, which CANCELs. */
static void test_resting(void **state)
{
    (void)state;
    static xr_bank_resting r;
    memset(&r, 0, sizeof r);
    xr_engine_cmd c;
    c = order(1, 10, 1, XR_ENGINE_MARKET, XR_ENGINE_TIF_IOC);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    c = order(1, 11, 2, XR_ENGINE_LIMIT, XR_ENGINE_TIF_IOC);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    c = order(1, 12, 3, XR_ENGINE_LIMIT, XR_ENGINE_TIF_FOK);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    assert_int_equal(r.n, 0); /* none of these can rest */
    c = order(1, 13, 4, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    c = order(1, 14, 5, XR_ENGINE_LIMIT, XR_ENGINE_TIF_DEFAULT);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    c = order(2, 15, 6, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTD);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    assert_int_equal(r.n, 3);

    xr_engine_cmd out[8];
    uint64_t corr = 1000;
    size_t n = xr_bank_resting_cancels(&r, 1, out, 8, &corr);
    assert_int_equal(n, 2);
    assert_int_equal(corr, 1002);
    assert_int_equal(out[0].kind, XR_ENGINE_CMD_CANCEL);
    assert_int_equal(out[0].bank_id, 1);
    assert_int_equal(out[0].customer_id, 104);
    assert_int_equal(out[0].u.ref.key.bytes[0], 4);
    assert_int_equal(out[0].correlation_id, 1000);
    assert_int_equal(out[1].u.ref.key.bytes[0], 5);

    /* a reject of order 13 (today's NOT_SUPPORTED) forgets it; a reject for bank 2 with the
     * same correlation id does not touch bank 1 */
    xr_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_REJECT;
    ev.bank_id = 2;
    ev.correlation_id = 13;
    ev.u.reject.cmd_kind = XR_ENGINE_CMD_NEW_ORDER;
    xr_bank_resting_note_event(&r, &ev);
    assert_int_equal(r.n, 3);
    ev.bank_id = 1;
    xr_bank_resting_note_event(&r, &ev);
    assert_int_equal(r.n, 2);
    /* an OPEN report keeps it, a final one (CANCELLED) forgets it */
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_EXEC_REPORT;
    ev.bank_id = 1;
    ev.u.report.key.bytes[0] = 5;
    ev.u.report.status = XR_ENGINE_ORDER_OPEN;
    xr_bank_resting_note_event(&r, &ev);
    assert_int_equal(r.n, 2);
    ev.u.report.status = XR_ENGINE_ORDER_CANCELLED;
    xr_bank_resting_note_event(&r, &ev);
    assert_int_equal(r.n, 1);
    assert_int_equal(xr_bank_resting_cancels(&r, 1, out, 8, &corr), 0);
    assert_int_equal(xr_bank_resting_cancels(&r, 2, out, 8, &corr), 1);

    /* bank 0 (never a session's) is not noted, and an event for bank 0 touches no free slot */
    memset(&r, 0, sizeof r);
    c = order(0, 1, 1, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    assert_int_equal(r.n, 0);
    c = order(1, 0, 1, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC);
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_REJECT;
    ev.u.reject.cmd_kind = XR_ENGINE_CMD_NEW_ORDER;
    xr_bank_resting_note_event(&r, &ev);
    assert_int_equal(r.n, 1);

    /* full table: NO_MEMORY for a new key, nothing overwritten; a known key (an idempotent
     * resend, or the OPEN report after a restart) updates its own entry even then */
    memset(&r, 0, sizeof r);
    for (int i = 0; i < XR_BANK_RESTING_MAX; i++) {
        c = order(1, (uint64_t)i, (uint8_t)i, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC);
        c.u.order.key.bytes[1] = (uint8_t)(i >> 8);
        assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    }
    assert_int_equal(r.n, XR_BANK_RESTING_MAX);
    c = order(1, 99999, 1, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC);
    c.u.order.key.bytes[1] = 0xEE;
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_ERR_NO_MEMORY);
    c = order(1, 99999, 1, XR_ENGINE_LIMIT, XR_ENGINE_TIF_GTC); /* key (1, 0): entry 1 */
    assert_int_equal(xr_bank_resting_note_cmd(&r, &c), XR_OK);
    assert_int_equal(r.n, XR_BANK_RESTING_MAX);
    const xr_bank_resting_entry *e = xr_bank_resting_find(&r, 1, &c.u.order.key);
    assert_non_null(e);
    assert_int_equal(e->correlation_id, 99999);
    assert_null(xr_bank_resting_find(&r, 2, &c.u.order.key)); /* per bank */
    assert_int_equal(xr_bank_resting_add(&r, 0, 1, 1, &c.u.order.key), XR_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_nonce_memory_full),
        cmocka_unit_test(test_heartbeat_and_seq),
        cmocka_unit_test(test_resting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
