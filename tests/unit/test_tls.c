/* TLS: PEM loading, handshakes between two engines through plain buffers (whole and one
 * byte at a time), RSA and EC servers, app data both ways, wrong host names and untrusted
 * CAs rejected; then the same over the io_uring loop on 127.0.0.1 through xr_net_stream.
 * Certificates: tests/data/tls (see its README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/loop.h"
#include "adapters/net/stream.h"
#include "adapters/net/tls.h"
#include "core/base/clock.h"

#define DATA(f) XR_TEST_DATA "/tls/" f
#define WAIT_NS (20ull * XR_NS_PER_SEC)

static xr_tls_trust trust_ca, trust_other;
static xr_tls_identity id_rsa, id_ec, id_ec_p8;

static int setup(void **state)
{
    (void)state;
    xr_tls_trust_init(&trust_ca);
    xr_tls_trust_init(&trust_other);
    assert_int_equal(xr_tls_trust_add_file(&trust_ca, DATA("ca.pem")), XR_OK);
    assert_int_equal(xr_tls_trust_add_file(&trust_other, DATA("other-ca.pem")), XR_OK);
    assert_int_equal(
        xr_tls_identity_load(&id_rsa, DATA("server-rsa-chain.pem"), DATA("server-rsa.key")), XR_OK);
    assert_int_equal(xr_tls_identity_load(&id_ec, DATA("server-ec.pem"), DATA("server-ec.key")),
                     XR_OK);
    assert_int_equal(
        xr_tls_identity_load(&id_ec_p8, DATA("server-ec.pem"), DATA("server-ec.p8.key")), XR_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    xr_tls_trust_free(&trust_ca);
    xr_tls_trust_free(&trust_other);
    xr_tls_identity_free(&id_rsa);
    xr_tls_identity_free(&id_ec);
    xr_tls_identity_free(&id_ec_p8);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading */

static void test_load_pem(void **state)
{
    (void)state;
    assert_int_equal(trust_ca.count, 1);
    assert_int_equal(trust_ca.anchors[0].flags & BR_X509_TA_CA, BR_X509_TA_CA);
    assert_int_equal(trust_ca.anchors[0].pkey.key_type, BR_KEYTYPE_RSA);
    assert_int_equal(trust_other.anchors[0].pkey.key_type, BR_KEYTYPE_EC);
    assert_int_equal(id_rsa.chain_len, 2);
    assert_int_equal(id_rsa.key_type, BR_KEYTYPE_RSA);
    assert_int_equal(id_ec.chain_len, 1);
    assert_int_equal(id_ec.key_type, BR_KEYTYPE_EC);
    assert_int_equal(id_ec.issuer_key_type, BR_KEYTYPE_RSA); /* signed by the RSA test CA */
    assert_int_equal(id_ec_p8.key_type, BR_KEYTYPE_EC);
    assert_int_equal(id_ec_p8.ec.xlen, id_ec.ec.xlen);
    assert_memory_equal(id_ec_p8.ec.x, id_ec.ec.x, id_ec.ec.xlen);

    /* A chain file is also a trust file: two anchors, the leaf pinned and the CA. */
    xr_tls_trust t = {0};
    assert_int_equal(xr_tls_trust_add_file(&t, DATA("server-rsa-chain.pem")), XR_OK);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.anchors[0].flags & BR_X509_TA_CA, 0);
    assert_int_equal(xr_tls_trust_add_file(&t, DATA("ca.pem")), XR_OK);
    assert_int_equal(t.count, 3);
    xr_tls_trust_free(&t);
}

static void test_load_errors(void **state)
{
    (void)state;
    xr_tls_trust t = {0};
    assert_int_equal(xr_tls_trust_add_file(&t, DATA("no-such-file.pem")), XR_ERR_IO);
    /* A key file holds no certificate. */
    assert_int_equal(xr_tls_trust_add_file(&t, DATA("server-ec.key")), XR_ERR_MALFORMED);
    assert_int_equal(xr_tls_trust_add_file(&t, DATA("README")), XR_ERR_MALFORMED);
    const char broken[] = "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n";
    assert_int_equal(xr_tls_trust_add_pem(&t, broken, sizeof broken - 1), XR_ERR_MALFORMED);
    const char junk_der[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(xr_tls_trust_add_pem(&t, junk_der, sizeof junk_der - 1), XR_ERR_MALFORMED);
    const char truncated[] = "-----BEGIN CERTIFICATE-----\nAAAA\n";
    assert_int_equal(xr_tls_trust_add_pem(&t, truncated, sizeof truncated - 1), XR_ERR_MALFORMED);
    assert_int_equal(t.count, 0);
    xr_tls_trust_free(&t);

    xr_tls_identity id;
    /* Certificate where the key should be, and the other way round. */
    assert_int_equal(xr_tls_identity_load(&id, DATA("server-ec.pem"), DATA("server-ec.pem")),
                     XR_ERR_MALFORMED);
    assert_null(id.chain);
    assert_int_equal(xr_tls_identity_load(&id, DATA("server-ec.key"), DATA("server-ec.key")),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_tls_identity_load(&id, DATA("server-ec.pem"), DATA("missing.key")),
                     XR_ERR_IO);

    xr_tls *tls = malloc(sizeof *tls);
    assert_int_equal(xr_tls_client_init(tls, &t, "localhost"), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_tls_client_init(tls, &trust_ca, ""), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_tls_client_init(tls, &trust_ca, NULL), XR_ERR_INVALID_ARGUMENT);
    free(tls);
}

/* ---------------------------------------------------------------------------------------- */
/* Two engines through plain buffers */

/* Moves at most `step` bytes of a's output into b; returns bytes moved. */
static size_t pipe_bytes(xr_tls *a, xr_tls *b, size_t step)
{
    size_t n = 0;
    const uint8_t *out = xr_tls_output(a, &n);
    if (out == NULL || n == 0)
        return 0;
    if (n > step)
        n = step;
    size_t used = 0;
    xr_err e = xr_tls_feed(b, out, n, &used);
    (void)e; /* failures show in xr_tls_error() */
    xr_tls_output_ack(a, used);
    return used;
}

/* Pumps both ways until neither moves; `step` bytes per hop. */
static void pump(xr_tls *c, xr_tls *s, size_t step)
{
    for (int i = 0; i < 1000000; i++) {
        size_t moved = pipe_bytes(c, s, step) + pipe_bytes(s, c, step);
        if (moved == 0)
            return;
    }
    fail_msg("pump did not settle");
}

static size_t read_all(xr_tls *t, uint8_t *dst, size_t cap)
{
    size_t total = 0;
    for (;;) {
        size_t n = 0;
        const uint8_t *p = xr_tls_read(t, &n);
        if (p == NULL || n == 0)
            return total;
        assert_true(total + n <= cap);
        memcpy(dst + total, p, n);
        total += n;
        xr_tls_read_ack(t, n);
    }
}

/* Sends `len` bytes from a to b through the pipe, reading as it goes. */
static void transfer(xr_tls *a, xr_tls *b, const uint8_t *data, size_t len, size_t step)
{
    uint8_t *got = malloc(len ? len : 1);
    size_t sent = 0, recvd = 0;
    for (int guard = 0; recvd < len && guard < 1000000; guard++) {
        if (sent < len) {
            size_t n = 0;
            xr_err e = xr_tls_write(a, data + sent, len - sent, &n);
            assert_true(e == XR_OK || e == XR_ERR_AGAIN);
            sent += n;
        }
        pump(a, b, step);
        recvd += read_all(b, got + recvd, len - recvd);
    }
    assert_int_equal(recvd, len);
    assert_memory_equal(got, data, len);
    free(got);
}

static void handshake_and_talk(const xr_tls_identity *id, size_t step)
{
    xr_tls *c = malloc(sizeof *c), *s = malloc(sizeof *s);
    assert_int_equal(xr_tls_client_init(c, &trust_ca, "localhost"), XR_OK);
    assert_int_equal(xr_tls_server_init(s, id), XR_OK);
    assert_false(xr_tls_is_ready(c));
    /* Nothing can be written before the handshake. */
    size_t n = 1;
    assert_int_equal(xr_tls_write(c, "x", 1, &n), XR_ERR_AGAIN);
    assert_int_equal(n, 0);
    pump(c, s, step);
    assert_true(xr_tls_is_ready(c));
    assert_true(xr_tls_is_ready(s));
    assert_int_equal(xr_tls_error(c), XR_OK);
    assert_int_equal(xr_tls_error(s), XR_OK);

    transfer(c, s, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, step);
    size_t big = step == 1 ? 3000 : 200000; /* several records */
    uint8_t *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    transfer(s, c, data, big, step);
    transfer(c, s, data, big / 2, step);
    free(data);

    /* Orderly close: the server's close_notify closes the client, which answers. */
    xr_tls_close(s);
    pump(c, s, step);
    assert_true(xr_tls_is_closed(c));
    assert_int_equal(xr_tls_error(c), XR_OK);
    assert_int_equal(xr_tls_write(c, "x", 1, NULL), XR_ERR_INVALID_STATE);
    size_t used = 1;
    assert_int_equal(xr_tls_feed(c, (const uint8_t *)"x", 1, &used), XR_ERR_INVALID_STATE);
    assert_int_equal(used, 0);
    free(c);
    free(s);
}

static void test_codec_rsa(void **state)
{
    (void)state;
    handshake_and_talk(&id_rsa, SIZE_MAX);
}

static void test_codec_ec(void **state)
{
    (void)state;
    handshake_and_talk(&id_ec, SIZE_MAX);
    handshake_and_talk(&id_ec_p8, SIZE_MAX);
}

static void test_codec_one_byte_at_a_time(void **state)
{
    (void)state;
    handshake_and_talk(&id_ec, 1);
    handshake_and_talk(&id_rsa, 7);
}

static void handshake_fails(const xr_tls_trust *trust, const char *name, int want_br)
{
    xr_tls *c = malloc(sizeof *c), *s = malloc(sizeof *s);
    assert_int_equal(xr_tls_client_init(c, trust, name), XR_OK);
    assert_int_equal(xr_tls_server_init(s, &id_rsa), XR_OK);
    pump(c, s, SIZE_MAX);
    assert_false(xr_tls_is_ready(c));
    assert_true(xr_tls_is_closed(c));
    assert_int_equal(xr_tls_br_error(c), want_br);
    assert_int_equal(xr_tls_error(c), XR_ERR_UNAUTHORIZED);
    /* BearSSL stops without an alert when it rejects a certificate: the server is simply
     * left waiting (over a socket it then sees the connection end). */
    assert_false(xr_tls_is_ready(s));
    assert_int_equal(xr_tls_error(s), XR_OK);
    free(c);
    free(s);
}

static void test_codec_wrong_host_name(void **state)
{
    (void)state;
    handshake_fails(&trust_ca, "wrong.example", BR_ERR_X509_BAD_SERVER_NAME);
    /* BearSSL matches DNS names only, so the IP SAN does not help either. */
    handshake_fails(&trust_ca, "127.0.0.1", BR_ERR_X509_BAD_SERVER_NAME);
}

static void test_codec_untrusted_ca(void **state)
{
    (void)state;
    handshake_fails(&trust_other, "localhost", BR_ERR_X509_NOT_TRUSTED);
}

static void test_codec_garbage(void **state)
{
    (void)state;
    xr_tls *s = malloc(sizeof *s);
    assert_int_equal(xr_tls_server_init(s, &id_ec), XR_OK);
    const char *junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t used = 0;
    xr_err e = xr_tls_feed(s, (const uint8_t *)junk, strlen(junk), &used);
    assert_int_equal(e, XR_ERR_MALFORMED);
    assert_true(xr_tls_is_closed(s));
    assert_int_equal(xr_tls_error(s), XR_ERR_MALFORMED);
    free(s);
}

static void test_error_names(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(xr_tls_br_error_name(BR_ERR_X509_NOT_TRUSTED, b, sizeof b),
                        "X509_NOT_TRUSTED");
    assert_string_equal(xr_tls_br_error_name(BR_ERR_RECV_FATAL_ALERT + 48, b, sizeof b),
                        "RECV_ALERT_48");
    assert_string_equal(xr_tls_br_error_name(BR_ERR_SEND_FATAL_ALERT + 42, b, sizeof b),
                        "SEND_ALERT_42");
    assert_string_equal(xr_tls_br_error_name(0, b, sizeof b), "OK");
    assert_string_equal(xr_tls_br_error_name(30, b, sizeof b), "BR_ERR_30");
}

/* ---------------------------------------------------------------------------------------- */
/* Over the loop */

typedef struct side {
    xr_net_stream st;
    xr_tls *tls;
    int opened, closed, echo;
    xr_err reason;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    const uint8_t *tx;
    size_t tx_len, tx_off;
} side;

static void side_pump(side *sd)
{
    while (sd->tx_off < sd->tx_len) {
        size_t n = 0;
        xr_err e = xr_net_stream_send(&sd->st, sd->tx + sd->tx_off, sd->tx_len - sd->tx_off, &n);
        sd->tx_off += n;
        if (e == XR_ERR_AGAIN)
            return;
        assert_int_equal(e, XR_OK);
    }
}

static void side_on_open(xr_net_stream *s, void *u)
{
    (void)s;
    side *sd = u;
    sd->opened = 1;
    side_pump(sd);
}

static size_t side_on_data(xr_net_stream *s, const uint8_t *d, size_t n, void *u)
{
    side *sd = u;
    if (sd->echo) {
        size_t sent = 0;
        (void)xr_net_stream_send(s, d, n, &sent);
        n = sent;
    }
    if (sd->rx) {
        assert_true(sd->rx_len + n <= sd->rx_cap);
        memcpy(sd->rx + sd->rx_len, d, n);
    }
    sd->rx_len += n;
    return n;
}

static void side_on_writable(xr_net_stream *s, void *u)
{
    (void)s;
    side_pump(u);
}

static void side_on_close(xr_net_stream *s, xr_err reason, void *u)
{
    (void)s;
    side *sd = u;
    sd->closed = 1;
    sd->reason = reason;
}

static const xr_net_stream_handler side_handler = {
    .on_open = side_on_open,
    .on_data = side_on_data,
    .on_writable = side_on_writable,
    .on_close = side_on_close,
};

/* The listener hands each accepted connection to the server side's TLS stream. */
static void acceptor_on_open(xr_net_conn *c, void *u)
{
    side *srv = u;
    assert_int_equal(xr_net_stream_accept(&srv->st, c, srv->tls, &side_handler, srv), XR_OK);
}

static size_t acceptor_on_data(xr_net_conn *c, const uint8_t *d, size_t n, void *u)
{
    (void)c, (void)d, (void)n, (void)u;
    fail();
    return 0;
}

static void acceptor_on_close(xr_net_conn *c, xr_err r, void *u)
{
    (void)c, (void)r, (void)u;
    fail();
}

static const xr_net_handler acceptor = {
    .on_open = acceptor_on_open, .on_data = acceptor_on_data, .on_close = acceptor_on_close};

static int poll_until(xr_net_loop *l, const int *a, const int *b)
{
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (!(*a && (b == NULL || *b))) {
        if (xr_clock_mono_ns() > end)
            return 0;
        assert_int_equal(xr_net_loop_poll(l, 5 * XR_NS_PER_MS, NULL), XR_OK);
    }
    return 1;
}

typedef struct rig {
    xr_net_loop *loop;
    xr_net_listener *ls;
    side srv, cli;
} rig;

static void rig_start(rig *r, const xr_tls_trust *trust, const char *name,
                      const xr_tls_identity *id)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(xr_net_loop_create(NULL, &r->loop), XR_OK);
    r->srv.tls = malloc(sizeof(xr_tls));
    r->cli.tls = malloc(sizeof(xr_tls));
    assert_int_equal(xr_tls_server_init(r->srv.tls, id), XR_OK);
    assert_int_equal(xr_tls_client_init(r->cli.tls, trust, name), XR_OK);
    assert_int_equal(xr_net_listen(r->loop, "127.0.0.1", 0, 8, NULL, &acceptor, &r->srv, &r->ls),
                     XR_OK);
    assert_int_equal(xr_net_stream_connect(&r->cli.st, r->loop, "127.0.0.1",
                                           xr_net_listener_port(r->ls), NULL, r->cli.tls,
                                           &side_handler, &r->cli),
                     XR_OK);
}

static void rig_stop(rig *r)
{
    xr_net_listener_close(r->ls);
    assert_int_equal(xr_net_loop_poll(r->loop, 0, NULL), XR_OK);
    assert_int_equal(xr_net_loop_conn_count(r->loop), 0);
    xr_net_loop_destroy(r->loop);
    free(r->srv.tls);
    free(r->cli.tls);
    free(r->srv.rx);
    free(r->cli.rx);
}

static void test_loop_handshake_and_echo(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, &trust_ca, "localhost", &id_rsa);
    const size_t total = 300000;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    r.srv.echo = 1;
    r.cli.tx = data;
    r.cli.tx_len = total;
    r.cli.rx = malloc(total);
    r.cli.rx_cap = total;
    assert_true(poll_until(r.loop, &r.cli.opened, &r.srv.opened));
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (r.cli.rx_len < total && xr_clock_mono_ns() < end)
        assert_int_equal(xr_net_loop_poll(r.loop, 5 * XR_NS_PER_MS, NULL), XR_OK);
    assert_int_equal(r.cli.rx_len, total);
    assert_memory_equal(r.cli.rx, data, total);
    assert_int_equal(r.srv.rx_len, total);

    /* The client closes: close_notify, then FIN. The server sees the peer go. */
    xr_net_stream_close(&r.cli.st);
    assert_true(poll_until(r.loop, &r.cli.closed, &r.srv.closed));
    assert_int_equal(r.cli.reason, XR_OK);
    assert_int_equal(r.srv.reason, XR_ERR_IO);
    free(data);
    rig_stop(&r);
}

/* Both sides send 2 MiB at once through TLS: send queues fill, the engines' output stalls
 * behind them, and everything still arrives intact. */
static void test_loop_bidirectional_bulk(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, &trust_ca, "localhost", &id_ec);
    const size_t total = 2 * 1024 * 1024;
    uint8_t *a = malloc(total), *b = malloc(total);
    for (size_t i = 0; i < total; i++) {
        a[i] = (uint8_t)(i * 13 + 1);
        b[i] = (uint8_t)(i * 7 + 5);
    }
    r.cli.tx = a;
    r.cli.tx_len = total;
    r.srv.tx = b;
    r.srv.tx_len = total;
    r.cli.rx = malloc(total);
    r.cli.rx_cap = total;
    r.srv.rx = malloc(total);
    r.srv.rx_cap = total;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while ((r.cli.rx_len < total || r.srv.rx_len < total) && xr_clock_mono_ns() < end)
        assert_int_equal(xr_net_loop_poll(r.loop, 5 * XR_NS_PER_MS, NULL), XR_OK);
    assert_int_equal(r.cli.rx_len, total);
    assert_int_equal(r.srv.rx_len, total);
    assert_memory_equal(r.cli.rx, b, total);
    assert_memory_equal(r.srv.rx, a, total);
    xr_net_stream_close(&r.srv.st);
    assert_true(poll_until(r.loop, &r.cli.closed, &r.srv.closed));
    assert_int_equal(r.srv.reason, XR_OK);
    assert_int_equal(r.cli.reason, XR_ERR_IO); /* close_notify from the server */
    free(a);
    free(b);
    rig_stop(&r);
}

static void loop_rejects(const xr_tls_trust *trust, const char *name)
{
    rig r;
    rig_start(&r, trust, name, &id_ec);
    assert_true(poll_until(r.loop, &r.cli.closed, &r.srv.closed));
    assert_int_equal(r.cli.opened, 0);
    assert_int_equal(r.cli.reason, XR_ERR_UNAUTHORIZED);
    assert_int_equal(r.srv.opened, 0);
    assert_int_equal(r.srv.reason, XR_ERR_IO); /* no alert from BearSSL: the peer just left */
    rig_stop(&r);
}

static void test_loop_wrong_host_name(void **state)
{
    (void)state;
    loop_rejects(&trust_ca, "not-localhost.example");
}

static void test_loop_untrusted_ca(void **state)
{
    (void)state;
    loop_rejects(&trust_other, "localhost");
}

/* A TLS client against a plain echo server: the bytes that come back are not TLS. */
static void test_loop_plain_peer(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, &trust_ca, "localhost", &id_ec);
    /* Turn the server side into a plain echo: */
    xr_tls *saved = r.srv.tls;
    r.srv.tls = NULL;
    r.srv.echo = 1;
    assert_true(poll_until(r.loop, &r.cli.closed, NULL));
    assert_int_equal(r.cli.opened, 0);
    assert_int_not_equal(r.cli.reason, XR_OK);
    assert_true(poll_until(r.loop, &r.srv.closed, NULL));
    r.srv.tls = saved;
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_pem),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_codec_rsa),
        cmocka_unit_test(test_codec_ec),
        cmocka_unit_test(test_codec_one_byte_at_a_time),
        cmocka_unit_test(test_codec_wrong_host_name),
        cmocka_unit_test(test_codec_untrusted_ca),
        cmocka_unit_test(test_codec_garbage),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_loop_handshake_and_echo),
        cmocka_unit_test(test_loop_bidirectional_bulk),
        cmocka_unit_test(test_loop_wrong_host_name),
        cmocka_unit_test(test_loop_untrusted_ca),
        cmocka_unit_test(test_loop_plain_peer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
