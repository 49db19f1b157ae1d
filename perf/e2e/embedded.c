/*
 * The embedded round trip (issue 6): xroute/engine.h over two in-process simulated
 * Binance-dialect venues (adapters/sim, REST and WebSocket over loopback, polled by the same
 * thread), the set-up of tests/unit/engine_test_util.h with deep books. N NEW_ORDER MARKET
 * BUY orders of 0.001 BTC, sequential: each is submitted, then xr_engine_poll and
 * xr_sim_poll are spun until its one answer (its final execution report) comes back; the
 * latency is submit -> final report. The first --warmup orders are not counted.
 *
 *   embedded --dir DIR [--n N] [--warmup W] [--schedule inline|threads] [--out FILE]
 *
 * Prints one JSON object (p50/p99/p99.9/max in microseconds, filled / not filled). The engine
 * is durable (the reservation and the booking are fsync'd); run.sh runs it a second time
 * under nosync_preload.so for the same path acknowledged from memory. Not part of CI; built
 * by perf/e2e/run.sh against the build's static libraries.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/sim/sim.h"
#include "core/base/clock.h"
#include "xroute/engine.h"

#define NVEN 2
#define BANK 1
#define CUST 42

static xr_sim *sim;
static xr_engine *eng;
static uint64_t corr;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double q_us(const uint64_t *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e3;
}

static void die(const char *what, xr_err e)
{
    fprintf(stderr, "embedded: %s: %s\n", what, xr_err_name(e));
    exit(1);
}

static xr_sim_market *market(int v)
{
    xr_sim_engine *se = xr_sim_engine_of(sim, (uint32_t)v);
    int p = xr_sim_engine_find_pair(se, "BTCUSDT", 7);
    if (p < 0)
        die("no BTCUSDT at the simulator", XR_ERR_NOT_FOUND);
    return xr_sim_engine_market(se, (uint32_t)p);
}

static void level(int v, int side, int64_t usdt, int64_t lots)
{
    xr_err e = xr_sim_market_set_synth(market(v), side, usdt * 100, lots);
    if (e != XR_OK)
        die("set_synth", e);
}

/* Submits `c` and spins until its one answer; returns the answer, *ns the latency. */
static xr_engine_event call(xr_engine_cmd c, uint64_t *ns)
{
    c.bank_id = BANK;
    c.correlation_id = ++corr;
    uint64_t t0 = xr_clock_mono_ns();
    xr_err e = xr_engine_submit(eng, &c);
    if (e != XR_OK)
        die("submit", e);
    uint64_t end = t0 + 30ull * XR_NS_PER_SEC;
    xr_engine_event ev[8];
    for (;;) {
        size_t n = 0;
        e = xr_engine_poll(eng, ev, 8, &n);
        if (e != XR_OK)
            die("poll", e);
        for (size_t i = 0; i < n; i++)
            if (ev[i].correlation_id == corr) {
                if (ns != NULL)
                    *ns = xr_clock_mono_ns() - t0;
                return ev[i];
            }
        e = xr_sim_poll(sim, 0);
        if (e != XR_OK)
            die("sim poll", e);
        if (xr_clock_mono_ns() > end)
            die("no answer in 30 s", XR_ERR_TIMEOUT);
    }
}

static xr_engine_key key_of(uint32_t k)
{
    xr_engine_key key;
    memset(&key, 0, sizeof key);
    key.bytes[0] = 0xE2;
    memcpy(&key.bytes[12], &k, sizeof k);
    return key;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *sched = "inline";
    unsigned n = 2000, warmup = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
            warmup = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--schedule") == 0 && i + 1 < argc)
            sched = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else {
            fprintf(stderr, "usage: embedded --dir DIR [--n N] [--warmup W] "
                            "[--schedule inline|threads] [--out FILE]\n");
            return 2;
        }
    }
    if (dir == NULL || n == 0 || (strcmp(sched, "inline") != 0 && strcmp(sched, "threads") != 0)) {
        fprintf(stderr, "embedded: --dir, --n >= 1 and --schedule inline|threads\n");
        return 2;
    }

    /* the simulator: two venues, fees 10 and 20 bps, books deep enough for every order */
    static xr_sim_config sc;
    sc.nvenues = NVEN;
    for (int v = 0; v < NVEN; v++) {
        xr_sim_venue_config *vc = &sc.venues[v];
        xr_sim_venue_config_default(vc, v == 0 ? "venue-a" : "venue-b");
        vc->port = 0;
        vc->step_us = 0;
        vc->taker_bps = vc->maker_bps = v == 0 ? 10 : 20;
        vc->seed = (uint64_t)v + 11;
        /* sequential orders as fast as they come back: no rate limit (as bank_host) */
        vc->orders_10s = 10000000;
        vc->orders_1d = 100000000;
        vc->weight_limit = 100000000;
        for (uint32_t k = 0; k < vc->accounts[0].nbalances; k++)
            vc->accounts[0].balances[k].amount *= 100;
    }
    char why[256] = "";
    xr_err e = xr_sim_create(&sc, NULL, &sim, why, sizeof why);
    if (e != XR_OK) {
        fprintf(stderr, "embedded: sim: %s\n", why);
        return 1;
    }
    for (int v = 0; v < NVEN; v++) {
        xr_sim_market_clear_synth(market(v));
        level(v, XR_SIM_ASK, 60000 + 10 * v, 100000000);
        level(v, XR_SIM_BID, 59900 - 10 * v, 100000000);
    }

    static xr_engine_config c;
    xr_engine_config_default(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
    c.slippage_bps = 50;
    c.nbanks = 1;
    c.banks[0] = (xr_engine_bank_config){.id = BANK, .spread_bps = 150};
    c.nvenues = NVEN;
    for (int v = 0; v < NVEN; v++) {
        xr_engine_venue_config *vc = &c.venues[v];
        snprintf(vc->name, sizeof vc->name, "%s", v == 0 ? "venue-a" : "venue-b");
        snprintf(vc->dialect, sizeof vc->dialect, "binance");
        snprintf(vc->ip, sizeof vc->ip, "127.0.0.1");
        vc->port = xr_sim_port(sim, (uint32_t)v);
        snprintf(vc->api_key, sizeof vc->api_key, "%s", sc.venues[v].accounts[0].api_key);
        snprintf(vc->secret, sizeof vc->secret, "%s", sc.venues[v].accounts[0].secret);
        vc->taker_fee_bps = (uint16_t)(v == 0 ? 10 : 20);
        snprintf(vc->depth_stream, sizeof vc->depth_stream, "@depth@0ms");
        vc->npairs = 1;
        snprintf(vc->pairs[0], sizeof vc->pairs[0], "BTC/USDT");
    }
    c.schedule =
        strcmp(sched, "threads") == 0 ? XR_ENGINE_SCHEDULE_THREADS : XR_ENGINE_SCHEDULE_INLINE;
    e = xr_engine_open(&c, &eng);
    if (e != XR_OK)
        die("engine open", e);

    /* the customer, funded with 1,000,000 USDT (6 decimals) */
    xr_engine_cmd cu = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = CUST};
    cu.u.customer.kyc_tier = 1;
    xr_engine_event ev = call(cu, NULL);
    if (ev.kind != XR_ENGINE_EV_CUSTOMER)
        die("customer", ev.kind == XR_ENGINE_EV_REJECT ? ev.u.reject.err : XR_ERR_INTERNAL);
    xr_engine_cmd f = {.kind = XR_ENGINE_CMD_FUND, .customer_id = CUST};
    f.u.fund.key = key_of(0xFFFFFFFFu);
    snprintf(f.u.fund.asset, sizeof f.u.fund.asset, "USDT");
    f.u.fund.amount.units = (xr_i128)1000000 * 1000000;
    ev = call(f, NULL);
    if (ev.kind != XR_ENGINE_EV_FUNDING)
        die("fund", ev.kind == XR_ENGINE_EV_REJECT ? ev.u.reject.err : XR_ERR_INTERNAL);

    /* wait for both venues' books (a depth sync starts at the first stream event) */
    uint64_t end = xr_clock_mono_ns() + 30ull * XR_NS_PER_SEC;
    for (;;) {
        xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK};
        snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
        q.u.market.depth = 10;
        ev = call(q, NULL);
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks == NVEN && ev.u.book.n_bids == NVEN)
            break;
        if (xr_clock_mono_ns() > end)
            die("no consolidated book in 30 s", XR_ERR_TIMEOUT);
        for (int v = 0; v < NVEN; v++) {
            xr_sim_counters cnt;
            xr_sim_get_counters(sim, (uint32_t)v, &cnt);
            if (cnt.ws_connections >= 2) {
                level(v, XR_SIM_BID, 50000, 1);
                level(v, XR_SIM_BID, 50000, 0);
            }
        }
        for (int i = 0; i < 20; i++) {
            (void)xr_sim_poll(sim, 0);
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }

    uint64_t *lat = calloc(n, sizeof *lat);
    if (lat == NULL)
        die("calloc", XR_ERR_NO_MEMORY);
    unsigned filled = 0, other = 0;
    xr_err last_err = XR_OK;
    for (unsigned i = 0; i < warmup + n; i++) {
        xr_engine_cmd o = {.kind = XR_ENGINE_CMD_NEW_ORDER, .customer_id = CUST};
        o.u.order.key = key_of(i);
        snprintf(o.u.order.pair, sizeof o.u.order.pair, "BTC/USDT");
        o.u.order.side = XR_ENGINE_BUY;
        o.u.order.type = XR_ENGINE_MARKET;
        o.u.order.amount_side = XR_ENGINE_AMOUNT_BASE;
        o.u.order.amount.units = 100000; /* 0.001 BTC (10^8 units per BTC), ~60 USDT */
        uint64_t ns = 0;
        ev = call(o, &ns);
        if (i < warmup)
            continue;
        lat[i - warmup] = ns;
        if (ev.kind == XR_ENGINE_EV_EXEC_REPORT && ev.u.report.status == XR_ENGINE_ORDER_FILLED)
            filled++;
        else {
            other++;
            last_err = ev.kind == XR_ENGINE_EV_REJECT        ? ev.u.reject.err
                       : ev.kind == XR_ENGINE_EV_EXEC_REPORT ? ev.u.report.err
                                                             : XR_ERR_INTERNAL;
        }
    }
    if (out != NULL) {
        FILE *fo = fopen(out, "w");
        if (fo != NULL) {
            for (unsigned i = 0; i < n; i++)
                fprintf(fo, "%llu\n", (unsigned long long)lat[i]);
            fclose(fo);
        }
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("{\"schedule\": \"%s\", \"n\": %u, \"filled\": %u, \"not_filled\": %u, "
           "\"last_error\": \"%s\", \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
           "\"max_us\": %.1f}\n",
           sched, n, filled, other, other ? xr_err_name(last_err) : "", q_us(lat, n, 0.50),
           q_us(lat, n, 0.99), q_us(lat, n, 0.999), (double)lat[n - 1] / 1e3);
    free(lat);
    xr_engine_close(eng);
    xr_sim_destroy(sim);
    return other == 0 ? 0 : 1;
}
