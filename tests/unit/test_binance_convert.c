/* Binance Convert (adapters/venues/binance/convert.h): the three SIGNED requests written out
 * by hand, and the parsers against Binance's documented answers (tests/data/binance/rest/
 * convert_*_docs.json) with every amount worked out by hand at the caller's scales, plus the
 * refusals: missing fields, duplicates, wrong types, unknown status, amounts finer than the
 * ledger's scale (with the byte offset of the first bad digit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/convert.h"
#include "tests/unit/venue_test_util.h"

static const char SECRET[] = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
static const xr_i128 E18 = (xr_i128)1000000000000000000LL;

static void auth_new(xr_binance_auth *a, uint32_t recv_window)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(xr_binance_signer_init(&a->signer, SECRET, strlen(SECRET)), XR_OK);
    xr_binance_clock_init(&a->clock);
    a->recv_window_ms = recv_window;
}

static void expect_signed(const xr_binance_request *r, const char *want)
{
    size_t wl = strlen(want);
    assert_true(r->target_len > wl);
    assert_memory_equal(r->target, want, wl);
    assert_memory_equal(r->target + wl, "&signature=", 11);
    const char *query = strchr(r->target, '?') + 1;
    char sig[XR_BINANCE_SIGNATURE_HEX_LEN + 1];
    xr_binance_sign(SECRET, strlen(SECRET), query, (size_t)(r->target + wl - query), sig);
    assert_string_equal(r->target + wl + 11, sig);
    assert_true(r->api_key);
    assert_false(r->is_order);
}

static void test_requests(void **state)
{
    (void)state;
    xr_binance_auth a;
    auth_new(&a, 0);
    xr_binance_request r;
    const int64_t now = 1700000000000;
    /* 12.50 USD (USD/2: 1250) -> USDC, trailing zeros dropped. */
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "USD", "USDC", (xr_amount){1250}, 2, "10s"),
        XR_OK);
    assert_int_equal(r.method, XR_HTTP_POST);
    assert_int_equal(r.weight, 200);
    expect_signed(&r, "/sapi/v1/convert/getQuote?fromAsset=USD&toAsset=USDC&fromAmount=12.5"
                      "&walletType=SPOT&validTime=10s&timestamp=1700000000000");
    /* 1 PYUSD (PYUSD/6), no validTime, a recvWindow. */
    auth_new(&a, 5000);
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "PYUSD", "USD", (xr_amount){1000000}, 6, NULL),
        XR_OK);
    expect_signed(&r, "/sapi/v1/convert/getQuote?fromAsset=PYUSD&toAsset=USD&fromAmount=1"
                      "&walletType=SPOT&recvWindow=5000&timestamp=1700000000000");
    auth_new(&a, 0);
    assert_int_equal(xr_binance_req_convert_accept(&r, &a, now, "12415572564"), XR_OK);
    assert_int_equal(r.method, XR_HTTP_POST);
    assert_int_equal(r.weight, 500);
    expect_signed(&r, "/sapi/v1/convert/acceptQuote?quoteId=12415572564&timestamp=1700000000000");
    assert_int_equal(xr_binance_req_convert_status(&r, &a, now, "12415572564"), XR_OK);
    assert_int_equal(r.method, XR_HTTP_GET);
    assert_int_equal(r.weight, 100);
    expect_signed(&r, "/sapi/v1/convert/orderStatus?quoteId=12415572564&timestamp=1700000000000");

    /* Refused: same asset, zero or negative amount, lower case, bad validTime, bad ids. */
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "USD", "USD", (xr_amount){1}, 2, NULL),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "USD", "USDC", (xr_amount){0}, 2, NULL),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "USD", "USDC", (xr_amount){-5}, 2, NULL),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "usd", "USDC", (xr_amount){1}, 2, NULL),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_req_convert_quote(&r, &a, now, "USD", "USDC", (xr_amount){1}, 2, "5s"),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_convert_accept(&r, &a, now, ""), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_convert_accept(&r, &a, now, "12 34"), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_req_convert_status(&r, &a, now, "123456789012345678901234567890123"),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_convert_status(&r, &a, now, NULL), XR_ERR_INVALID_ARGUMENT);
}

static void test_quote_docs(void **state)
{
    (void)state;
    size_t n;
    char *b = vt_load("binance/rest/convert_get_quote_docs.json", &n);
    xr_binance_convert_quote q;
    xr_decode_error pe;
    /* BTC -> USDT at BTC/8 and USDT/6. */
    assert_int_equal(xr_binance_parse_convert_quote(b, n, 8, 6, &q, &pe), XR_OK);
    assert_string_equal(q.quote_id, "12415572564");
    assert_true(q.from_amount.units == 10000000);         /* 0.1 BTC */
    assert_true(q.to_amount.units == 3816370000);         /* 3816.37 USDT */
    assert_true(q.ratio == 381637 * E18 / 10);            /* 38163.7 */
    assert_true(q.inverse_ratio == 262 * E18 / 10000000); /* 0.0000262 */
    assert_true(q.valid_until_ms == 1623319461670);
    /* toAmount has 2 places: refused at scale 1, with the offset of the 7 in "3816.37". */
    assert_int_equal(xr_binance_parse_convert_quote(b, n, 8, 1, &q, &pe), XR_ERR_MALFORMED);
    assert_int_equal(pe.offset, (size_t)(strstr(b, "3816.37") - b) + 6);
    assert_string_equal(pe.reason, "TOO_MANY_DECIMALS");
    free(b);

    /* No quoteId (Binance's answer when the balance is short): a valid quote without an id. */
    const char *noid = "{\"ratio\":\"1\",\"inverseRatio\":\"1\",\"validTimestamp\":5,"
                       "\"toAmount\":\"9.99\",\"fromAmount\":\"10\"}";
    assert_int_equal(xr_binance_parse_convert_quote(noid, strlen(noid), 2, 6, &q, NULL), XR_OK);
    assert_string_equal(q.quote_id, "");
    assert_true(q.to_amount.units == 9990000 && q.from_amount.units == 1000);
    /* Extra zeros beyond the scale are the same amount. */
    const char *zeros =
        "{\"quoteId\":\"1\",\"ratio\":\"1\",\"inverseRatio\":\"1\",\"validTimestamp\":5,"
        "\"toAmount\":\"9.99000000\",\"fromAmount\":\"10.00000000\",\"extra\":[1,{}]}";
    assert_int_equal(xr_binance_parse_convert_quote(zeros, strlen(zeros), 2, 6, &q, NULL), XR_OK);
    assert_true(q.to_amount.units == 9990000 && q.from_amount.units == 1000);
}

static void test_accept_and_status_docs(void **state)
{
    (void)state;
    size_t n;
    char *b = vt_load("binance/rest/convert_accept_quote_docs.json", &n);
    xr_binance_convert_order o;
    xr_decode_error pe;
    assert_int_equal(xr_binance_parse_convert_accept(b, n, &o, &pe), XR_OK);
    assert_string_equal(o.order_id, "933256278426274426");
    assert_int_equal(o.status, XR_BINANCE_CONVERT_PROCESS);
    assert_true(o.create_time_ms == 1623381330472);
    assert_int_equal(o.has_amounts, 0);
    free(b);

    b = vt_load("binance/rest/convert_order_status_docs.json", &n);
    /* orderId is a JSON number here: kept as the same text. */
    assert_int_equal(xr_binance_parse_convert_status(b, n, 8, 6, &o, &pe), XR_OK);
    assert_string_equal(o.order_id, "933256278426274426");
    assert_int_equal(o.status, XR_BINANCE_CONVERT_SUCCESS);
    assert_string_equal(o.from_asset, "BTC");
    assert_string_equal(o.to_asset, "USDT");
    assert_true(o.from_amount.units == 54414);  /* 0.00054414 BTC */
    assert_true(o.to_amount.units == 20000000); /* 20 USDT */
    assert_true(o.ratio == 36755 * E18);
    assert_true(o.inverse_ratio == 2721 * E18 / 100000000); /* 0.00002721 */
    assert_true(o.create_time_ms == 1623381330472);
    assert_int_equal(o.has_amounts, 1);
    /* BTC at 4 places cannot hold 0.00054414: the offset of its fifth decimal. */
    assert_int_equal(xr_binance_parse_convert_status(b, n, 4, 6, &o, &pe), XR_ERR_MALFORMED);
    assert_int_equal(pe.offset, (size_t)(strstr(b, "\"0.00054414\"") - b) + 1 + 6);
    free(b);
    assert_string_equal(xr_binance_convert_status_name(XR_BINANCE_CONVERT_ACCEPT_SUCCESS),
                        "ACCEPT_SUCCESS");
    assert_string_equal(xr_binance_convert_status_name((xr_binance_convert_status)9), "UNKNOWN");
}

static void expect_bad(const char *body, const char *reason)
{
    xr_binance_convert_order o;
    memset(&o, 0x5A, sizeof o);
    xr_binance_convert_order before = o;
    xr_decode_error pe;
    assert_int_equal(xr_binance_parse_convert_accept(body, strlen(body), &o, &pe),
                     XR_ERR_MALFORMED);
    if (reason != NULL)
        assert_string_equal(pe.reason, reason);
    assert_memory_equal(&o, &before, sizeof o); /* nothing written on failure */
}

static void test_refusals(void **state)
{
    (void)state;
    expect_bad("", NULL);
    expect_bad("[]", "expected object");
    expect_bad("{\"orderId\":\"1\",\"createTime\":1}", "missing field");
    expect_bad("{\"orderId\":\"1\",\"createTime\":1,\"orderStatus\":\"EXPIRED\"}",
               "unknown orderStatus");
    expect_bad("{\"orderId\":\"1\",\"orderId\":\"2\",\"createTime\":1,\"orderStatus\":\"FAIL\"}",
               "duplicate key");
    expect_bad("{\"orderId\":\"1\",\"createTime\":\"1\",\"orderStatus\":\"FAIL\"}",
               "expected milliseconds");
    expect_bad("{\"orderId\":\"1\",\"createTime\":-1,\"orderStatus\":\"FAIL\"}", "negative time");
    expect_bad("{\"orderId\":true,\"createTime\":1,\"orderStatus\":\"FAIL\"}", "expected id");
    expect_bad("{\"orderId\":\"1 2\",\"createTime\":1,\"orderStatus\":\"FAIL\"}", "bad id");
    expect_bad("{\"orderId\":-1,\"createTime\":1,\"orderStatus\":\"FAIL\"}", "bad id");
    expect_bad("{\"orderId\":\"123456789012345678901234567890123\",\"createTime\":1,"
               "\"orderStatus\":\"FAIL\"}",
               "bad id");
    expect_bad("{\"orderId\":\"1\",\"createTime\":1,\"orderStatus\":\"FAIL\"} x", NULL);
    xr_binance_convert_order o;
    const char *neg = "{\"orderId\":1,\"orderStatus\":\"FAIL\",\"fromAsset\":\"USD\","
                      "\"toAsset\":\"USDC\",\"fromAmount\":\"-1\",\"toAmount\":\"1\"}";
    assert_int_equal(xr_binance_parse_convert_status(neg, strlen(neg), 2, 6, &o, NULL),
                     XR_ERR_MALFORMED);
    const char *lower = "{\"orderId\":1,\"orderStatus\":\"FAIL\",\"fromAsset\":\"usd\","
                        "\"toAsset\":\"USDC\",\"fromAmount\":\"1\",\"toAmount\":\"1\"}";
    assert_int_equal(xr_binance_parse_convert_status(lower, strlen(lower), 2, 6, &o, NULL),
                     XR_ERR_MALFORMED);
    const char *num = "{\"orderId\":1,\"orderStatus\":\"FAIL\",\"fromAsset\":\"USD\","
                      "\"toAsset\":\"USDC\",\"fromAmount\":1,\"toAmount\":\"1\"}";
    assert_int_equal(xr_binance_parse_convert_status(num, strlen(num), 2, 6, &o, NULL),
                     XR_ERR_MALFORMED);
    const char *ok = "{\"orderId\":7,\"orderStatus\":\"FAIL\",\"fromAsset\":\"USD\","
                     "\"toAsset\":\"USDC\",\"fromAmount\":\"1\",\"toAmount\":\"0\"}";
    assert_int_equal(xr_binance_parse_convert_status(ok, strlen(ok), 2, 6, &o, NULL), XR_OK);
    assert_string_equal(o.order_id, "7");
    assert_int_equal(o.status, XR_BINANCE_CONVERT_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_quote_docs),
        cmocka_unit_test(test_accept_and_status_docs),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
