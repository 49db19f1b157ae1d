/* Binance signing: the documentation's HMAC-SHA256 vectors (read from the fixture file, not
 * retyped) reproduce exactly, through the one-shot function, the precomputed signer and the
 * query builder, whose percent-encoding of the non-ASCII symbol must give payload_2 byte for
 * byte. Then the server-clock estimate: offset from the round-trip midpoint, the shortest
 * round trip kept, expiry and invalidation after -1021. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/auth.h"
#include "tests/unit/venue_test_util.h"

typedef struct vectors {
    char secret[128], payload_1[512], signature_1[80], payload_2_unencoded[512], payload_2[512],
        signature_2[80];
} vectors;

static void read_vectors(vectors *v)
{
    size_t n;
    char *text = vt_load("binance/auth/hmac_sha256_rest_vectors_docs.txt", &n);
    memset(v, 0, sizeof *v);
    static const struct {
        const char *label;
        size_t off, cap;
    } fields[] = {
        {"secretKey: ", offsetof(vectors, secret), sizeof v->secret},
        {"payload_1: ", offsetof(vectors, payload_1), sizeof v->payload_1},
        {"signature_1: ", offsetof(vectors, signature_1), sizeof v->signature_1},
        {"payload_2_unencoded: ", offsetof(vectors, payload_2_unencoded),
         sizeof v->payload_2_unencoded},
        {"payload_2: ", offsetof(vectors, payload_2), sizeof v->payload_2},
        {"signature_2: ", offsetof(vectors, signature_2), sizeof v->signature_2},
    };
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            size_t ll = strlen(fields[i].label);
            if (strncmp(line, fields[i].label, ll) == 0) {
                assert_true(strlen(line + ll) < fields[i].cap);
                strcpy((char *)v + fields[i].off, line + ll);
            }
        }
    }
    free(text);
    assert_int_equal(strlen(v->signature_1), 64);
    assert_int_equal(strlen(v->signature_2), 64);
}

static void test_documented_vectors(void **state)
{
    (void)state;
    vectors v;
    read_vectors(&v);
    char sig[XR_BINANCE_SIGNATURE_HEX_LEN + 1];
    xr_binance_sign(v.secret, strlen(v.secret), v.payload_1, strlen(v.payload_1), sig);
    assert_string_equal(sig, v.signature_1);
    assert_string_equal(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    xr_binance_sign(v.secret, strlen(v.secret), v.payload_2, strlen(v.payload_2), sig);
    assert_string_equal(sig, v.signature_2);
    assert_string_equal(sig, "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3");

    xr_binance_signer s;
    assert_int_equal(xr_binance_signer_init(&s, v.secret, strlen(v.secret)), XR_OK);
    xr_binance_signer_sign(&s, v.payload_1, strlen(v.payload_1), sig);
    assert_string_equal(sig, v.signature_1);
    xr_binance_signer_sign(&s, v.payload_2, strlen(v.payload_2), sig);
    assert_string_equal(sig, v.signature_2);
    xr_binance_signer_wipe(&s);
    assert_false(s.ready);
    static const unsigned char zeros[sizeof s.state];
    assert_memory_equal(s.state, zeros, sizeof s.state);
    assert_int_equal(xr_binance_signer_init(&s, "", 0), XR_ERR_INVALID_ARGUMENT);
}

/* Splits "k=v&k=v" (values as they appear) and rebuilds it with the query builder from the
 * unencoded values: the builder's encoding must reproduce the documented payload. */
static void rebuild(const char *unencoded, xr_binance_query *q)
{
    char copy[512];
    strcpy(copy, unencoded);
    xr_binance_query_init(q);
    for (char *kv = strtok(copy, "&"); kv != NULL; kv = strtok(NULL, "&")) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        xr_binance_query_add_str(q, kv, eq + 1);
    }
    assert_int_equal(xr_binance_query_status(q), XR_OK);
}

static void test_query_builder_reproduces_payloads(void **state)
{
    (void)state;
    vectors v;
    read_vectors(&v);
    xr_binance_signer s;
    assert_int_equal(xr_binance_signer_init(&s, v.secret, strlen(v.secret)), XR_OK);
    xr_binance_query q;
    rebuild(v.payload_1, &q);
    assert_string_equal(q.buf, v.payload_1);
    xr_binance_query_sign(&q, &s);
    char want[700];
    snprintf(want, sizeof want, "%s&signature=%s", v.payload_1, v.signature_1);
    assert_string_equal(q.buf, want);

    /* Vector 2: "１２３４５６" (full-width digits) percent-encoded as UTF-8, upper-case hex. */
    rebuild(v.payload_2_unencoded, &q);
    assert_string_equal(q.buf, v.payload_2);
    xr_binance_query_sign(&q, &s);
    snprintf(want, sizeof want, "%s&signature=%s", v.payload_2, v.signature_2);
    assert_string_equal(q.buf, want);
}

static void test_query_encoding_and_limits(void **state)
{
    (void)state;
    xr_binance_query q;
    xr_binance_query_init(&q);
    xr_binance_query_add_str(&q, "a", "x y&z=1/2:3~_.-");
    xr_binance_query_add_u64(&q, "n", 0);
    xr_binance_query_add_u64(&q, "m", UINT64_MAX);
    assert_string_equal(q.buf, "a=x%20y%26z%3D1%2F2%3A3~_.-&n=0&m=18446744073709551615");
    /* Keys are plain words. */
    xr_binance_query_add_str(&q, "bad key", "v");
    assert_int_equal(xr_binance_query_status(&q), XR_ERR_INVALID_ARGUMENT);
    xr_binance_query_init(&q);
    xr_binance_query_add_str(&q, "", "v");
    assert_int_equal(xr_binance_query_status(&q), XR_ERR_INVALID_ARGUMENT);
    /* Too long: refused, never cut. */
    xr_binance_query_init(&q);
    char big[XR_BINANCE_QUERY_MAX];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xr_binance_query_add_str(&q, "k", big);
    assert_int_equal(xr_binance_query_status(&q), XR_ERR_NO_MEMORY);
    assert_true(q.len <= XR_BINANCE_QUERY_MAX);
}

static void test_clock_offset(void **state)
{
    (void)state;
    xr_binance_clock c;
    xr_binance_clock_init(&c);
    const int64_t age = 60000;
    assert_true(xr_binance_clock_needs_sample(&c, 0, age));
    assert_int_equal(xr_binance_clock_server_ms(&c, 1000), 1000); /* no estimate: our clock */
    /* Sent at 1000, answered 1540 by a server 500 ms ahead, received at 1080 (RTT 80): the
     * server read its clock at our 1040 -> offset 500. */
    assert_true(xr_binance_clock_sample(&c, 1000, 1080, 1540, age));
    assert_int_equal(c.offset_ms, 500);
    assert_int_equal(xr_binance_clock_server_ms(&c, 2000), 2500);
    assert_false(xr_binance_clock_needs_sample(&c, 2000, age));
    /* A slower exchange is less precise and is not kept... */
    assert_false(xr_binance_clock_sample(&c, 3000, 3400, 3900, age));
    assert_int_equal(c.offset_ms, 500);
    /* ...a faster one is. */
    assert_true(xr_binance_clock_sample(&c, 4000, 4020, 4520, age));
    assert_int_equal(c.offset_ms, 510);
    /* Behind the server too. */
    assert_true(xr_binance_clock_sample(&c, 5000, 5010, 4005, age));
    assert_int_equal(c.offset_ms, -1000);
    /* An old sample is replaced whatever its round trip. */
    assert_true(xr_binance_clock_needs_sample(&c, 5010 + age + 1, age));
    assert_true(xr_binance_clock_sample(&c, 70000, 70300, 70150, age));
    assert_int_equal(c.offset_ms, 0);
    /* -1021: the estimate is dropped and the next sample taken. */
    xr_binance_clock_invalidate(&c);
    assert_true(xr_binance_clock_needs_sample(&c, 70301, age));
    assert_true(xr_binance_clock_sample(&c, 80000, 80900, 90450, age));
    assert_int_equal(c.offset_ms, 10000);
    /* Impossible samples are refused. */
    assert_false(xr_binance_clock_sample(&c, 100, 99, 100, age));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_vectors),
        cmocka_unit_test(test_query_builder_reproduces_payloads),
        cmocka_unit_test(test_query_encoding_and_limits),
        cmocka_unit_test(test_clock_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
