/* Binance REST request builders: paths, parameters in Binance's order, weights, SIGNED
 * requests (recvWindow, clock-corrected timestamp, signature over exactly the query sent),
 * exact price/quantity formatting, instrument rules checked before anything is sent, and
 * refused arguments. Expected targets are written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/rest.h"
#include "tests/unit/venue_test_util.h"

static const char SECRET[] = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

static void auth_new(xr_binance_auth *a, uint32_t recv_window)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(xr_binance_signer_init(&a->signer, SECRET, strlen(SECRET)), XR_OK);
    xr_binance_clock_init(&a->clock);
    a->recv_window_ms = recv_window;
}

/* LTCBTC with Binance's 8 places and the rules of the filter fixtures. */
static xr_instrument ltcbtc(void)
{
    xr_instrument in;
    memset(&in, 0, sizeof in);
    strcpy(in.symbol, "LTCBTC");
    strcpy(in.base, "LTC");
    strcpy(in.quote, "BTC");
    strcpy(in.canonical, "LTC/BTC");
    in.scale = (xr_pair_scale){8, 8, 8};
    in.tick = VT_PRICE("0.000001", 8);
    in.price_min = VT_PRICE("0.000001", 8);
    in.price_max = VT_PRICE("100000", 8);
    in.lot_step = VT_AMOUNT("0.001", 8);
    in.qty_min = VT_AMOUNT("0.001", 8);
    in.qty_max = VT_AMOUNT("100000", 8);
    in.notional_min = VT_AMOUNT("0.0001", 8);
    return in;
}

/* The target must be `want` followed by "&signature=" and the HMAC of everything after '?'. */
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
}

static void test_public_endpoints(void **state)
{
    (void)state;
    xr_binance_request r;
    assert_int_equal(xr_binance_req_ping(&r), XR_OK);
    assert_string_equal(r.target, "/api/v3/ping");
    assert_int_equal(r.weight, 1);
    assert_int_equal(xr_binance_req_time(&r), XR_OK);
    assert_string_equal(r.target, "/api/v3/time");
    assert_int_equal(xr_binance_req_exchange_info(&r, NULL), XR_OK);
    assert_string_equal(r.target, "/api/v3/exchangeInfo");
    assert_int_equal(r.weight, 20);
    assert_int_equal(r.method, XR_HTTP_GET);
    assert_false(r.api_key);
    assert_false(r.is_order);
    assert_int_equal(xr_binance_req_exchange_info(&r, "BTCUSDT"), XR_OK);
    assert_string_equal(r.target, "/api/v3/exchangeInfo?symbol=BTCUSDT");

    static const struct {
        unsigned limit;
        uint16_t weight;
    } depth[] = {{1, 5},    {100, 5},   {101, 25},   {500, 25},
                 {501, 50}, {1000, 50}, {1001, 250}, {5000, 250}};
    for (size_t i = 0; i < sizeof depth / sizeof depth[0]; i++) {
        assert_int_equal(xr_binance_req_depth(&r, "BTCUSDT", depth[i].limit), XR_OK);
        assert_int_equal(r.weight, depth[i].weight);
    }
    assert_string_equal(r.target, "/api/v3/depth?symbol=BTCUSDT&limit=5000");
    assert_int_equal(xr_binance_req_depth(&r, "BTCUSDT", 0), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_depth(&r, "BTCUSDT", 5001), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_depth(&r, "btcusdt", 100), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_depth(&r, "BTC/USDT", 100), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_depth(&r, NULL, 100), XR_ERR_INVALID_ARGUMENT);

    assert_int_equal(xr_binance_req_ticker_24hr(&r, "BNBBTC"), XR_OK);
    assert_string_equal(r.target, "/api/v3/ticker/24hr?symbol=BNBBTC");
    assert_int_equal(r.weight, 2);
    assert_int_equal(xr_binance_req_ticker_24hr(&r, NULL), XR_OK);
    assert_string_equal(r.target, "/api/v3/ticker/24hr");
    assert_int_equal(r.weight, 80);

    assert_int_equal(xr_binance_req_klines(&r, "BNBBTC", "1m", 500), XR_OK);
    assert_string_equal(r.target, "/api/v3/klines?symbol=BNBBTC&interval=1m&limit=500");
    assert_int_equal(r.weight, 2);
    assert_int_equal(xr_binance_req_klines(&r, "BNBBTC", "2m", 500), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_klines(&r, "BNBBTC", "1M", 1001), XR_ERR_INVALID_ARGUMENT);

    assert_int_equal(xr_binance_req_trades(&r, "BNBBTC", 500), XR_OK);
    assert_string_equal(r.target, "/api/v3/trades?symbol=BNBBTC&limit=500");
    assert_int_equal(r.weight, 25);
}

static void test_new_order(void **state)
{
    (void)state;
    xr_binance_auth a;
    auth_new(&a, 5000);
    xr_instrument in = ltcbtc();
    xr_binance_order_params p = {&in,        XR_SIDE_BUY,         XR_ORDER_TYPE_LIMIT,
                                 XR_TIF_GTC, VT_PRICE("0.1", 8),  VT_AMOUNT("1", 8),
                                 "myOrder1", XR_BINANCE_RESP_FULL};
    xr_binance_request r;
    /* The documentation's order (vector 1), plus the client order id xroute always sets. */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1499827319559, &p), XR_OK);
    assert_int_equal(r.method, XR_HTTP_POST);
    assert_int_equal(r.weight, 1);
    assert_true(r.is_order);
    expect_signed(&r, "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1"
                      "&price=0.1&newClientOrderId=myOrder1&newOrderRespType=FULL&recvWindow=5000"
                      "&timestamp=1499827319559");

    /* The timestamp is the server's time: our clock plus the measured offset. */
    assert_true(xr_binance_clock_sample(&a.clock, 1000, 1010, 1505, 60000));
    a.recv_window_ms = 0;
    p.side = XR_SIDE_SELL;
    p.tif = XR_TIF_IOC;
    p.qty = VT_AMOUNT("12.345", 8);
    p.price = VT_PRICE("0.012345", 8);
    p.client_order_id = "xr-0001:a/b.c_d";
    p.resp_type = XR_BINANCE_RESP_ACK;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 2000, &p), XR_OK);
    expect_signed(&r, "/api/v3/order?symbol=LTCBTC&side=SELL&type=LIMIT&timeInForce=IOC"
                      "&quantity=12.345&price=0.012345&newClientOrderId=xr-0001%3Aa%2Fb.c_d"
                      "&newOrderRespType=ACK&timestamp=2500");

    /* MARKET: no price, no time in force. */
    p.type = XR_ORDER_TYPE_MARKET;
    p.tif = XR_TIF_NONE;
    p.price.ticks = 0;
    p.resp_type = XR_BINANCE_RESP_RESULT;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 2000, &p), XR_OK);
    expect_signed(&r,
                  "/api/v3/order?symbol=LTCBTC&side=SELL&type=MARKET&quantity=12.345"
                  "&newClientOrderId=xr-0001%3Aa%2Fb.c_d&newOrderRespType=RESULT&timestamp=2500");
    /* LIMIT_MAKER: a price, no time in force. */
    p.type = XR_ORDER_TYPE_LIMIT_MAKER;
    p.price = VT_PRICE("0.5", 8);
    assert_int_equal(xr_binance_req_order_new(&r, &a, 2000, &p), XR_OK);
    expect_signed(&r, "/api/v3/order?symbol=LTCBTC&side=SELL&type=LIMIT_MAKER&quantity=12.345"
                      "&price=0.5&newClientOrderId=xr-0001%3Aa%2Fb.c_d&newOrderRespType=RESULT"
                      "&timestamp=2500");
    xr_binance_signer_wipe(&a.signer);
}

static void test_new_order_refused(void **state)
{
    (void)state;
    xr_binance_auth a;
    auth_new(&a, 5000);
    xr_instrument in = ltcbtc();
    xr_binance_order_params good = {&in,        XR_SIDE_BUY,         XR_ORDER_TYPE_LIMIT,
                                    XR_TIF_GTC, VT_PRICE("0.1", 8),  VT_AMOUNT("1", 8),
                                    "ok",       XR_BINANCE_RESP_FULL};
    xr_binance_request r;
    xr_binance_order_params p = good;
    p.price = VT_PRICE("0.1000005", 8); /* off the 0.000001 tick */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_AMOUNT);
    p = good;
    p.qty = VT_AMOUNT("1.0005", 8); /* off the 0.001 lot step */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_AMOUNT);
    p = good;
    p.qty = VT_AMOUNT("0.0005", 8);
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_AMOUNT);
    p.qty = VT_AMOUNT("0", 8);
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_AMOUNT);
    p = good;
    p.price = VT_PRICE("0.000001", 8);
    p.qty = VT_AMOUNT("1", 8); /* notional 0.000001 < 0.0001 */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_BELOW_MIN_SIZE);
    p = good;
    p.qty = VT_AMOUNT("100001", 8);
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_LIMIT_EXCEEDED);
    static const char *const bad_ids[] = {"", "has space", "ünï", "a&b",
                                          "0123456789012345678901234567890123456"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        p = good;
        p.client_order_id = bad_ids[i];
        assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    }
    p = good;
    p.client_order_id = NULL;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    assert_true(xr_binance_client_order_id_valid("012345678901234567890123456789012345"));
    p = good;
    p.tif = XR_TIF_NONE; /* LIMIT needs one */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    p = good;
    p.tif = XR_TIF_GTD; /* Binance spot has no GTD */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    p = good;
    p.type = XR_ORDER_TYPE_MARKET; /* with a price and a tif */
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    p = good;
    p.type = XR_ORDER_TYPE_OTHER;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    p = good;
    p.side = XR_SIDE_NONE;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
    p = good;
    p.inst = NULL;
    assert_int_equal(xr_binance_req_order_new(&r, &a, 1, &p), XR_ERR_INVALID_ARGUMENT);
}

static void test_order_query_cancel_open_account(void **state)
{
    (void)state;
    xr_binance_auth a;
    auth_new(&a, 5000);
    xr_instrument in = ltcbtc();
    xr_binance_request r;
    assert_int_equal(xr_binance_req_order_query(&r, &a, 1499827319559, &in, "myOrder1"), XR_OK);
    assert_int_equal(r.method, XR_HTTP_GET);
    assert_int_equal(r.weight, 4);
    assert_false(r.is_order);
    expect_signed(&r, "/api/v3/order?symbol=LTCBTC&origClientOrderId=myOrder1&recvWindow=5000"
                      "&timestamp=1499827319559");
    assert_int_equal(xr_binance_req_order_cancel(&r, &a, 1499827319559, &in, "myOrder1"), XR_OK);
    assert_int_equal(r.method, XR_HTTP_DELETE);
    assert_int_equal(r.weight, 1);
    expect_signed(&r, "/api/v3/order?symbol=LTCBTC&origClientOrderId=myOrder1&recvWindow=5000"
                      "&timestamp=1499827319559");
    assert_int_equal(xr_binance_req_order_cancel(&r, &a, 1, &in, "bad id"),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_req_open_orders(&r, &a, 7, &in), XR_OK);
    assert_int_equal(r.weight, 6);
    expect_signed(&r, "/api/v3/openOrders?symbol=LTCBTC&recvWindow=5000&timestamp=7");
    assert_int_equal(xr_binance_req_open_orders(&r, &a, 7, NULL), XR_OK);
    assert_int_equal(r.weight, 80);
    expect_signed(&r, "/api/v3/openOrders?recvWindow=5000&timestamp=7");
    assert_int_equal(xr_binance_req_account(&r, &a, 7), XR_OK);
    assert_int_equal(r.weight, 20);
    expect_signed(&r, "/api/v3/account?omitZeroBalances=true&recvWindow=5000&timestamp=7");
    assert_string_equal(xr_http_method_name(XR_HTTP_DELETE), "DELETE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_endpoints),
        cmocka_unit_test(test_new_order),
        cmocka_unit_test(test_new_order_refused),
        cmocka_unit_test(test_order_query_cancel_open_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
