/* Instrument table: footprint and init arguments, canonical <-> venue symbol both ways,
 * duplicates and capacity, name validation, many pairs through the hash indexes, and the
 * order checks against tick, lot step, minimum/maximum quantity and notional (exact, never
 * passed by rounding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/market/instrument.h"
#include "tests/unit/venue_test_util.h"

typedef struct ttable {
    xr_instruments t;
    void *mem;
} ttable;

static void ttable_new(ttable *tt, uint32_t cap)
{
    size_t len = xr_instruments_footprint(cap);
    assert_true(len > 0);
    tt->mem = aligned_alloc(16, (len + 15) & ~(size_t)15);
    assert_int_equal(xr_instruments_init(&tt->t, tt->mem, len, cap, 3), XR_OK);
}

static xr_instrument pair(const char *symbol, const char *base, const char *quote)
{
    xr_instrument in;
    memset(&in, 0, sizeof in);
    strcpy(in.symbol, symbol);
    strcpy(in.base, base);
    strcpy(in.quote, quote);
    in.scale = (xr_pair_scale){8, 8, 8};
    return in;
}

static void test_init_arguments(void **state)
{
    (void)state;
    xr_instruments t;
    _Alignas(16) static unsigned char mem[1 << 14];
    assert_int_equal(xr_instruments_footprint(0), 0);
    assert_int_equal(xr_instruments_footprint(XR_INSTRUMENTS_MAX + 1), 0);
    size_t need = xr_instruments_footprint(8);
    assert_true(need > 0 && need <= sizeof mem);
    assert_int_equal(xr_instruments_init(&t, mem, need - 1, 8, 1), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_instruments_init(&t, mem + 4, need, 8, 1), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_instruments_init(&t, mem, need, 8, 1), XR_OK);
    assert_int_equal(t.count, 0);
}

static void test_both_ways(void **state)
{
    (void)state;
    ttable tt;
    ttable_new(&tt, 4);
    xr_instrument in = pair("BTCUSDT", "BTC", "USDT");
    strcpy(in.canonical, "XXX/YYY"); /* ignored: rebuilt from base and quote */
    in.id = 99;
    const xr_instrument *out = NULL;
    assert_int_equal(xr_instruments_add(&tt.t, &in, &out), XR_OK);
    assert_string_equal(out->canonical, "BTC/USDT");
    assert_int_equal(out->id, 0);
    assert_int_equal(out->venue, 3);
    assert_ptr_equal(xr_instruments_by_symbol(&tt.t, "BTCUSDT", 7), out);
    assert_ptr_equal(xr_instruments_by_canonical(&tt.t, "BTC/USDT", 8), out);
    assert_ptr_equal(xr_instruments_get(&tt.t, 0), out);
    assert_null(xr_instruments_get(&tt.t, 1));
    /* Exact matches only: prefixes, case, other pairs. */
    assert_null(xr_instruments_by_symbol(&tt.t, "BTCUSD", 6));
    assert_null(xr_instruments_by_symbol(&tt.t, "btcusdt", 7));
    assert_null(xr_instruments_by_symbol(&tt.t, "BTCUSDTX", 8));
    assert_null(xr_instruments_by_canonical(&tt.t, "BTC/USD", 7));
    assert_null(xr_instruments_by_symbol(&tt.t, NULL, 0));

    /* Duplicates of either name are refused. */
    xr_instrument again = pair("BTCUSDT", "BTC", "USDC");
    assert_int_equal(xr_instruments_add(&tt.t, &again, NULL), XR_ERR_ALREADY_EXISTS);
    again = pair("XBTUSDT", "BTC", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &again, NULL), XR_ERR_ALREADY_EXISTS);
    /* Invalid names and values. */
    xr_instrument bad = pair("BTC/USDT", "BTC", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("BTC USDT", "BTC", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("", "BTC", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("XY", "btc", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("XY", "B", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("XY", "BTC", "USDT");
    bad.scale.price = XR_SCALE_MAX + 1;
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    bad = pair("XY", "BTC", "USDT");
    bad.lot_step.units = -1;
    assert_int_equal(xr_instruments_add(&tt.t, &bad, NULL), XR_ERR_INVALID_ARGUMENT);
    /* Full. */
    for (int i = 1; i < 4; i++) {
        char sym[16], base[8];
        snprintf(sym, sizeof sym, "A%dUSDT", i);
        snprintf(base, sizeof base, "A%d", i);
        xr_instrument p = pair(sym, base, "USDT");
        assert_int_equal(xr_instruments_add(&tt.t, &p, NULL), XR_OK);
    }
    xr_instrument more = pair("ETHUSDT", "ETH", "USDT");
    assert_int_equal(xr_instruments_add(&tt.t, &more, NULL), XR_ERR_NO_MEMORY);
    /* Cleared: empty again. */
    xr_instruments_clear(&tt.t);
    assert_null(xr_instruments_by_symbol(&tt.t, "BTCUSDT", 7));
    assert_int_equal(xr_instruments_add(&tt.t, &more, &out), XR_OK);
    assert_int_equal(out->id, 0);
    free(tt.mem);
}

static void test_many_pairs(void **state)
{
    (void)state;
    ttable tt;
    ttable_new(&tt, 3000);
    char sym[32], base[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(sym, sizeof sym, "C%dBTC", i);
        snprintf(base, sizeof base, "C%d", i);
        xr_instrument p = pair(sym, base, "BTC");
        assert_int_equal(xr_instruments_add(&tt.t, &p, NULL), XR_OK);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(sym, sizeof sym, "C%dBTC", i);
        const xr_instrument *in = xr_instruments_by_symbol(&tt.t, sym, strlen(sym));
        assert_non_null(in);
        assert_int_equal(in->id, (uint32_t)i);
        char canon[32];
        snprintf(canon, sizeof canon, "C%d/BTC", i);
        assert_ptr_equal(xr_instruments_by_canonical(&tt.t, canon, strlen(canon)), in);
    }
    free(tt.mem);
}

static void test_pair_name_split(void **state)
{
    (void)state;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    assert_int_equal(xr_pair_name_split("BTC/USDT", 8, b, q), XR_OK);
    assert_string_equal(b, "BTC");
    assert_string_equal(q, "USDT");
    assert_int_equal(xr_pair_name_split("BTCUSDT", 7, b, q), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pair_name_split("/USDT", 5, b, q), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pair_name_split("BTC/", 4, b, q), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pair_name_split("BTC/US/DT", 9, b, q), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_pair_name_split("btc/usdt", 8, b, q), XR_ERR_INVALID_ARGUMENT);
}

static void test_check_order(void **state)
{
    (void)state;
    /* BTCUSDT's captured rules: tick 0.01, step 0.00001, qty 0.00001..9000, notional >= 10;
     * scales 8/8/8. */
    xr_instrument in = pair("BTCUSDT", "BTC", "USDT");
    in.tick = VT_PRICE("0.01", 8);
    in.price_min = VT_PRICE("0.01", 8);
    in.price_max = VT_PRICE("1000000", 8);
    in.lot_step = VT_AMOUNT("0.00001", 8);
    in.qty_min = VT_AMOUNT("0.00001", 8);
    in.qty_max = VT_AMOUNT("9000", 8);
    in.notional_min = VT_AMOUNT("10", 8);
    in.notional_max = VT_AMOUNT("5000000", 8);
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("60650.01", 8), VT_AMOUNT("0.001", 8)),
                     XR_OK);
    /* Off the tick, off the step. */
    assert_int_equal(
        xr_instrument_check_order(&in, VT_PRICE("60650.015", 8), VT_AMOUNT("0.001", 8)),
        XR_ERR_INVALID_AMOUNT);
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("60650", 8), VT_AMOUNT("0.000015", 8)),
                     XR_ERR_INVALID_AMOUNT);
    /* Notional exactly at the minimum passes; one unit of quantity less does not. 10 / 50000
     * = 0.0002 BTC. */
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("50000", 8), VT_AMOUNT("0.0002", 8)),
                     XR_OK);
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("50000", 8), VT_AMOUNT("0.00019", 8)),
                     XR_ERR_BELOW_MIN_SIZE);
    /* A notional that needs more places than the quote scale: 0.00001 x 0.01 = 1e-7 is
     * representable, 0.00001 x 0.03 = 3e-7 too; with quote scale 6 it would round, and the
     * minimum check rounds down, so it never passes by rounding. */
    xr_instrument coarse = in;
    coarse.scale.quote = 6;
    coarse.notional_min = VT_AMOUNT("0.000001", 6);
    assert_int_equal(
        xr_instrument_check_order(&coarse, VT_PRICE("0.09", 8), VT_AMOUNT("0.00001", 8)),
        XR_ERR_BELOW_MIN_SIZE); /* exactly 9e-7 < 1e-6 */
    assert_int_equal(
        xr_instrument_check_order(&coarse, VT_PRICE("0.1", 8), VT_AMOUNT("0.00001", 8)),
        XR_OK); /* exactly 1e-6 */
    /* Quantity bounds, price bounds, maximum notional. */
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("60000", 8), VT_AMOUNT("0", 8)),
                     XR_ERR_INVALID_AMOUNT);
    assert_int_equal(
        xr_instrument_check_order(&in, VT_PRICE("60000", 8), VT_AMOUNT("9000.00001", 8)),
        XR_ERR_LIMIT_EXCEEDED);
    assert_int_equal(
        xr_instrument_check_order(&in, VT_PRICE("1000000.01", 8), VT_AMOUNT("0.001", 8)),
        XR_ERR_INVALID_AMOUNT);
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("1000000", 8), VT_AMOUNT("6", 8)),
                     XR_ERR_LIMIT_EXCEEDED);
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("-1", 8), VT_AMOUNT("1", 8)),
                     XR_ERR_INVALID_AMOUNT);
    /* A market order (price 0): quantity rules only. */
    assert_int_equal(xr_instrument_check_order(&in, VT_PRICE("0", 8), VT_AMOUNT("0.00001", 8)),
                     XR_OK);
    /* No rules at all: anything positive. */
    xr_instrument free_pair = pair("XYZBTC", "XYZ", "BTC");
    assert_int_equal(xr_instrument_check_order(&free_pair, VT_PRICE("0.00000001", 8),
                                               VT_AMOUNT("0.00000001", 8)),
                     XR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_arguments), cmocka_unit_test(test_both_ways),
        cmocka_unit_test(test_many_pairs),     cmocka_unit_test(test_pair_name_split),
        cmocka_unit_test(test_check_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
