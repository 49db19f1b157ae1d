// Money micro-benchmarks: decimal parse and format of typical venue values, the notional of
// a fill at the scales real pairs use, and the 256-bit-intermediate muldiv. The code measured
// is xroute's C (money.h is extern "C"); inputs rotate through small arrays so the branch
// predictor cannot memorise one value.
#include <benchmark/benchmark.h>

#include <cstring>

#include "xroute/money.h"

namespace
{

struct text {
    const char *s;
    size_t len;
    unsigned scale;
};

text make(const char *s, unsigned scale)
{
    return text{s, std::strlen(s), scale};
}

// A BTC price with Binance's 8 decimals, a small BTC size, and an ETH amount at 18.
const text kBtcPrice = make("67321.45000000", 8);
const text kBtcQty = make("0.00150000", 8);

void BM_parse(benchmark::State &state, text t)
{
    xr_i128 v = 0;
    for (auto _ : state) {
        xr_err err = xr_decimal_parse(t.s, t.len, t.scale, 0, &v, nullptr);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK_CAPTURE(BM_parse, btc_price_67321_45000000, kBtcPrice);
BENCHMARK_CAPTURE(BM_parse, btc_qty_0_00150000, kBtcQty);
BENCHMARK_CAPTURE(BM_parse, eth_18dp, make("1234.567890123456789012", 18));
BENCHMARK_CAPTURE(BM_parse, max_39_digits, make("170141183460469231731687303715884105727", 0));

void BM_format(benchmark::State &state, xr_i128 v, unsigned scale)
{
    char buf[XR_DECIMAL_STR_MAX];
    for (auto _ : state) {
        benchmark::DoNotOptimize(v);
        size_t n = xr_decimal_format(v, scale, buf, sizeof buf);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
}
BENCHMARK_CAPTURE(BM_format, btc_price_67321_45000000, (xr_i128)6732145000000, 8);
BENCHMARK_CAPTURE(BM_format, btc_qty_0_00150000, (xr_i128)150000, 8);
BENCHMARK_CAPTURE(BM_format, eth_18dp, (xr_i128)1234567890123 * 1000000000 + 456789012, 18);
BENCHMARK_CAPTURE(BM_format, max_39_digits, XR_I128_MAX, 0);

void BM_format_trim(benchmark::State &state)
{
    char buf[XR_DECIMAL_STR_MAX];
    xr_i128 v = 6732145000000;
    for (auto _ : state) {
        benchmark::DoNotOptimize(v);
        size_t n = xr_decimal_format_trim(v, 8, buf, sizeof buf);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_format_trim);

// Parse then format: what a venue fill costs on its way from JSON text to a bank report.
void BM_round_trip(benchmark::State &state)
{
    char buf[XR_DECIMAL_STR_MAX];
    xr_i128 v = 0;
    for (auto _ : state) {
        xr_decimal_parse(kBtcPrice.s, kBtcPrice.len, 8, 0, &v, nullptr);
        size_t n = xr_decimal_format(v, 8, buf, sizeof buf);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_round_trip);

// xr_notional for a few real pairs. Sizes rotate through 8 values so that the division's
// cost is an average rather than one lucky operand.
struct pair_case {
    xr_pair_scale ps;
    xr_i128 qty[8];
    xr_i128 price;
};

void BM_notional(benchmark::State &state, pair_case pc)
{
    xr_amount out = {0};
    xr_price price = {pc.price};
    size_t i = 0;
    for (auto _ : state) {
        xr_amount qty = {pc.qty[i++ & 7]};
        xr_err err = xr_notional(qty, price, &pc.ps, XR_ROUND_HALF_EVEN, &out);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(out);
    }
}
// BTC/8 x price/2 -> USD/2: 1.5 BTC ... 0.00000001 BTC at 67321.45
BENCHMARK_CAPTURE(BM_notional, btc8_usd2_price2,
                  pair_case{
                      {8, 2, 2},
                      {150000000, 150000, 1, 2100000000000000, 33333333, 98765432, 5000, 123456789},
                      6732145});
// BTC/8 x price/8 -> USDT/6: Binance's 8-decimal prices, the product exceeds 64 bits
BENCHMARK_CAPTURE(BM_notional, btc8_usdt6_price8,
                  pair_case{
                      {8, 6, 8},
                      {150000000, 150000, 1, 2100000000000000, 33333333, 98765432, 5000, 123456789},
                      6732145000000});
// ETH/18 x price/6 -> USDC/6: 18-decimal sizes make a product beyond 128 bits for large fills
BENCHMARK_CAPTURE(BM_notional, eth18_usdc6_price6,
                  pair_case{{18, 6, 6},
                            {(xr_i128)1500000000000000000, (xr_i128)25 * 1000000000000000000,
                             1000000000000000, 1, (xr_i128)123456789012345678,
                             (xr_i128)1000000 * 1000000000000000000, 42, 999999999999999999},
                            3000125000});

void BM_qty_for_notional(benchmark::State &state)
{
    xr_pair_scale ps = {8, 2, 2};
    xr_amount out = {0};
    xr_price price = {6732145};
    const xr_i128 quote[8] = {10000, 1000000, 123456, 99, 50000000, 7, 31415926, 100000000};
    size_t i = 0;
    for (auto _ : state) {
        xr_amount q = {quote[i++ & 7]};
        xr_err err = xr_qty_for_notional(q, price, &ps, XR_ROUND_DOWN, &out);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_qty_for_notional);

// muldiv: a 10 bps fee on a USD amount (64-bit operands), and a 256-bit intermediate.
void BM_muldiv_fee_bps(benchmark::State &state)
{
    const xr_i128 amount[8] = {12345678, 100, 99999999, 5000000000, 1, 42424242, 777, 31415926};
    xr_i128 out = 0;
    size_t i = 0;
    for (auto _ : state) {
        xr_err err = xr_i128_muldiv(amount[i++ & 7], 10, 10000, XR_ROUND_UP, &out);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_muldiv_fee_bps);

void BM_muldiv_256(benchmark::State &state)
{
    // (10^30 + k) x (10^25 + k) / (10^18 + 3): a 185-bit product, a 60-bit divisor
    const xr_i128 e30 = (xr_i128)1000000000000000 * 1000000000000000;
    const xr_i128 e25 = (xr_i128)10000000000000 * 1000000000000;
    xr_i128 out = 0;
    size_t i = 0;
    for (auto _ : state) {
        xr_i128 k = (xr_i128)(i++ & 7);
        xr_err err =
            xr_i128_muldiv(e30 + k, e25 + k, 1000000000000000003, XR_ROUND_HALF_EVEN, &out);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_muldiv_256);

void BM_muldiv_256_wide_divisor(benchmark::State &state)
{
    // MAX x (MAX - k) / (MAX - 2k - 1): a 254-bit product and a 127-bit divisor
    xr_i128 out = 0;
    size_t i = 0;
    for (auto _ : state) {
        xr_i128 k = (xr_i128)(i++ & 7);
        xr_err err = xr_i128_muldiv(XR_I128_MAX - 2 * k - 1, XR_I128_MAX - k - 8, XR_I128_MAX - k,
                                    XR_ROUND_DOWN, &out);
        benchmark::DoNotOptimize(err);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_muldiv_256_wide_divisor);

} // namespace

BENCHMARK_MAIN();
