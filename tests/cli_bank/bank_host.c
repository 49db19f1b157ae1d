/*
 * bank_host: the bank gateway (adapters/bank/server.h) over the embedded engine and two
 * in-process simulated Binance venues with books fixed by hand, on an ephemeral loopback
 * port: what the `xroute` bank commands and `xroute-bank` are tested against, with
 * expectations computed from the books below (tests/cli_bank/bank_cli.sh).
 *
 *   bank_host --dir DIR [--port N] [--deep] [--spin] [--tls CERT KEY]
 *
 * Writes DIR/credentials (bank_id, key_id, secret, connect: the form `xroute --credentials`
 * reads), keeps the ledger in DIR/ledger and the outbox in DIR/outbox, prints
 * "ready port=N" on stdout once listening, and serves until SIGTERM or SIGINT (then drains
 * and exits 0). Exit 1 when something cannot start.
 *
 * Books (step_us 0: they change only by fills), fees as taker fees:
 *   venue-a (10 bps)  BTC/USDT asks 60000 x 0.01, 60200 x 0.05; bids 59900 x 0.01, 59700 x 0.05
 *                     USDT/AZN asks 1.7000 x 10000, 1.7050 x 10000; bids 1.6950 x 10000
 *   venue-b (20 bps)  BTC/USDT asks 60010 x 0.02, 60300 x 0.05; bids 59950 x 0.005, 59600 x 0.05
 *                     USDT/AZN asks 1.7010 x 10000; bids 1.6940 x 10000
 * USDT/AZN is xrouted's default pair for the brief's "buy USDT for 100 AZN" (tick 0.0001 AZN,
 * lot 0.01 USDT, minimum 1 USDT and 1 AZN notional).
 * With --deep every level holds 1,000 times as much (the load generator's books). With --spin
 * the serving loop never sleeps (xr_bank_server_run_once with timeout 0): the engine's venue
 * sockets are served only between the server's waits, so this shows what those waits cost.
 * With --tls the bank port speaks TLS (BearSSL) with that PEM certificate chain and key.
 * venue-a also converts USD <-> USDC at 1:1 less 10 bps (its Convert endpoint).
 * Bank 1, spread 150 bps, key 1, secret SECRET_HEX below (hex; the bytes are ASCII
 * "xroute-cli-test-secret-32-bytes.").
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "adapters/bank/server.h"
#include "adapters/sim/sim.h"
#include "core/base/clock.h"
#include "xroute/engine.h"

/* 32 bytes, given to clients as 64 hex digits (the form xrouted's bank secrets take) */
#define SECRET_HEX "78726f7574652d636c692d746573742d7365637265742d33322d62797465732e"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static volatile sig_atomic_t sim_stop;

typedef struct sim_thread_arg {
    const xr_sim_config *cfg;
    int64_t mult;
    int state;        /* 0 starting, 1 serving, -1 failed (atomic) */
    uint16_t port[2]; /* the venues' ports, once serving */
    char why[256];
    xr_err err; /* why polling stopped */
} sim_thread_arg;

static const int fee_bps[2] = {10, 20};
static const char *const symbols[] = {"BTCUSDT", "USDTAZN"};
typedef struct lvl {
    int venue;
    const char *symbol;
    int side;
    int64_t ticks, lots;
} lvl;
static const lvl books[13];

static xr_sim_market *market_of(xr_sim *sim, int v, const char *symbol);

/* The simulator's thread: polls its loop until told to stop. A venue's depth sync starts at
 * its first stream event: for the first seconds, once the engine's streams are up, it
 * touches a far level now and then and takes it away again (the book stays as set). */
static void *run_sim(void *p)
{
    sim_thread_arg *a = p;
    xr_sim *sim;
    if (xr_sim_create(a->cfg, NULL, &sim, a->why, sizeof a->why) != XR_OK) {
        __atomic_store_n(&a->state, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    for (int v = 0; v < 2; v++)
        for (int p2 = 0; p2 < 2; p2++)
            xr_sim_market_clear_synth(market_of(sim, v, symbols[p2]));
    for (size_t i = 0; i < sizeof books / sizeof books[0]; i++) {
        const lvl *l = &books[i];
        xr_err e = xr_sim_market_set_synth(market_of(sim, l->venue, l->symbol), l->side, l->ticks,
                                           l->lots * a->mult);
        if (e != XR_OK) {
            snprintf(a->why, sizeof a->why, "level %zu: %s", i, xr_err_name(e));
            xr_sim_destroy(sim);
            __atomic_store_n(&a->state, -1, __ATOMIC_RELEASE);
            return NULL;
        }
    }
    for (int v = 0; v < 2; v++)
        a->port[v] = xr_sim_port(sim, (uint32_t)v);
    a->err = XR_OK;
    __atomic_store_n(&a->state, 1, __ATOMIC_RELEASE);
    uint64_t nudge_until = xr_clock_mono_ns() + 10 * XR_NS_PER_SEC, next_nudge = 0;
    while (sim_stop == 0 && stop_signal == 0) {
        if ((a->err = xr_sim_poll(sim, XR_NS_PER_MS)) != XR_OK)
            break;
        uint64_t now = xr_clock_mono_ns();
        if (now >= nudge_until || now < next_nudge)
            continue;
        next_nudge = now + 100 * XR_NS_PER_MS;
        for (int v = 0; v < 2; v++) {
            xr_sim_counters cnt;
            xr_sim_get_counters(sim, (uint32_t)v, &cnt);
            if (cnt.ws_connections == 0)
                continue;
            xr_sim_market *m = market_of(sim, v, "BTCUSDT");
            xr_sim_market_set_synth(m, XR_SIM_BID, 5000000, 1);
            xr_sim_market_set_synth(m, XR_SIM_BID, 5000000, 0);
            m = market_of(sim, v, "USDTAZN");
            xr_sim_market_set_synth(m, XR_SIM_BID, 15000, 1);
            xr_sim_market_set_synth(m, XR_SIM_BID, 15000, 0);
        }
    }
    xr_sim_destroy(sim);
    return NULL;
}

static xr_sim_market *market_of(xr_sim *sim, int v, const char *symbol)
{
    xr_sim_engine *se = xr_sim_engine_of(sim, (uint32_t)v);
    int p = xr_sim_engine_find_pair(se, symbol, strlen(symbol));
    return p < 0 ? NULL : xr_sim_engine_market(se, (uint32_t)p);
}

/* BTCUSDT: tick 0.01, lot 0.00001 BTC; USDTAZN: tick 0.0001, lot 0.01 USDT. */
static const lvl books[13] = {
    {0, "BTCUSDT", XR_SIM_ASK, 6000000, 1000},  {0, "BTCUSDT", XR_SIM_ASK, 6020000, 5000},
    {0, "BTCUSDT", XR_SIM_BID, 5990000, 1000},  {0, "BTCUSDT", XR_SIM_BID, 5970000, 5000},
    {1, "BTCUSDT", XR_SIM_ASK, 6001000, 2000},  {1, "BTCUSDT", XR_SIM_ASK, 6030000, 5000},
    {1, "BTCUSDT", XR_SIM_BID, 5995000, 500},   {1, "BTCUSDT", XR_SIM_BID, 5960000, 5000},
    {0, "USDTAZN", XR_SIM_ASK, 17000, 1000000}, {0, "USDTAZN", XR_SIM_ASK, 17050, 1000000},
    {0, "USDTAZN", XR_SIM_BID, 16950, 1000000}, {1, "USDTAZN", XR_SIM_ASK, 17010, 1000000},
    {1, "USDTAZN", XR_SIM_BID, 16940, 1000000},
};

static const char *const specs[] = {
    "BTCUSDT", "USDTAZN:base=USDT,quote=AZN,mid=1.7,tick=0.0001,step=0.01,min_qty=1,"
               "min_notional=1,level_qty=1000,depth=20,gap=2"};
static const char *const pairs[] = {"BTC/USDT", "USDT/AZN"};

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned port = 0;
    int64_t mult = 1;
    uint64_t wait_ns = XR_NS_PER_MS;
    const char *tls_cert = NULL, *tls_key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--deep") == 0)
            mult = 1000;
        else if (strcmp(argv[i], "--spin") == 0)
            wait_ns = 0;
        else if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            tls_cert = argv[++i];
            tls_key = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: bank_host --dir DIR [--port N] [--deep] [--spin] [--tls CERT KEY]\n");
            return 2;
        }
    }
    if (dir == NULL || port > 65535) {
        fprintf(stderr,
                "usage: bank_host --dir DIR [--port N] [--deep] [--spin] [--tls CERT KEY]\n");
        return 2;
    }
    mkdir(dir, 0700);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* Venues. */
    char why[256] = "";
    static xr_sim_config sc;
    sc.nvenues = 2;
    for (int v = 0; v < 2; v++) {
        xr_sim_venue_config *vc = &sc.venues[v];
        xr_sim_venue_config_default(vc, v == 0 ? "venue-a" : "venue-b");
        vc->npairs = 0;
        for (int p = 0; p < 2; p++)
            if (xr_sim_pair_parse(specs[p], &vc->pairs[vc->npairs++], why, sizeof why) != XR_OK) {
                fprintf(stderr, "bank_host: pair %s: %s\n", specs[p], why);
                return 1;
            }
        vc->port = 0;
        vc->step_us = 0;
        vc->taker_bps = vc->maker_bps = fee_bps[v];
        vc->seed = (uint64_t)v + 11;
        /* the load generator sends thousands of orders a second */
        vc->orders_10s = 10000000;
        vc->orders_1d = 100000000;
        vc->weight_limit = 100000000;
        for (uint32_t k = 0; k < vc->accounts[0].nbalances; k++)
            vc->accounts[0].balances[k].amount *= 100; /* 100,000,000 USDT, 10,000 BTC */
        /* what the conversions deliver: 1,000,000 USD and USDC */
        xr_sim_account_config *acc = &vc->accounts[0];
        static const char *const fiat[] = {"USD", "USDC"};
        for (int k = 0; k < 2; k++) {
            snprintf(acc->balances[acc->nbalances].asset, sizeof acc->balances[0].asset, "%s",
                     fiat[k]);
            acc->balances[acc->nbalances++].amount = 1000000 * (int64_t)XR_SIM_UNIT;
        }
    }
    /* venue-a's Convert endpoint: USD <-> USDC at 1:1 less 10 bps, delivered at the target's
     * ledger decimals. */
    static const char *const conv[] = {"USD:USDC:fee_bps=10,decimals=6",
                                       "USDC:USD:fee_bps=10,decimals=2"};
    for (int k = 0; k < 2; k++) {
        if (xr_sim_convert_parse(conv[k], &sc.venues[0].converts[k], why, sizeof why) != XR_OK) {
            fprintf(stderr, "bank_host: convert %s: %s\n", conv[k], why);
            return 1;
        }
    }
    sc.venues[0].nconverts = 2;
    /* The venues run on a thread of their own, as in xrouted: the simulator's io_uring loop
     * belongs to the thread that creates it, so that thread creates it, shapes the books and
     * then only polls; this thread hosts the engine and the server. */
    sim_thread_arg sa_arg = {.cfg = &sc, .mult = mult};
    pthread_t sim_thread;
    if (pthread_create(&sim_thread, NULL, run_sim, &sa_arg) != 0) {
        fprintf(stderr, "bank_host: cannot start the simulator thread\n");
        return 1;
    }
    while (__atomic_load_n(&sa_arg.state, __ATOMIC_ACQUIRE) == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (sa_arg.state < 0) {
        pthread_join(sim_thread, NULL);
        fprintf(stderr, "bank_host: simulator: %s\n", sa_arg.why);
        return 1;
    }

    /* Engine. */
    static xr_engine_config ec;
    xr_engine_config_default(&ec);
    snprintf(ec.data_dir, sizeof ec.data_dir, "%s", dir);
    ec.nbanks = 1;
    ec.banks[0] = (xr_engine_bank_config){.id = 1, .spread_bps = 150};
    ec.nvenues = 2;
    for (int v = 0; v < 2; v++) {
        xr_engine_venue_config *vc = &ec.venues[v];
        snprintf(vc->name, sizeof vc->name, "%s", sc.venues[v].name);
        snprintf(vc->dialect, sizeof vc->dialect, "binance");
        snprintf(vc->ip, sizeof vc->ip, "127.0.0.1");
        vc->port = sa_arg.port[v];
        snprintf(vc->api_key, sizeof vc->api_key, "%s", sc.venues[v].accounts[0].api_key);
        snprintf(vc->secret, sizeof vc->secret, "%s", sc.venues[v].accounts[0].secret);
        vc->taker_fee_bps = (uint16_t)fee_bps[v];
        snprintf(vc->depth_stream, sizeof vc->depth_stream, "@depth@0ms");
        vc->npairs = 2;
        for (int p = 0; p < 2; p++)
            snprintf(vc->pairs[p], sizeof vc->pairs[p], "%s", pairs[p]);
    }
    ec.venues[0].nconverts = 2;
    snprintf(ec.venues[0].converts[0], sizeof ec.venues[0].converts[0], "USD/USDC");
    snprintf(ec.venues[0].converts[1], sizeof ec.venues[0].converts[1], "USDC/USD");
    xr_engine *eng;
    xr_err err = xr_engine_open(&ec, &eng);
    if (err != XR_OK) {
        fprintf(stderr, "bank_host: engine: %s\n", xr_err_name(err));
        return 1;
    }

    /* Gateway. */
    static xr_bank_server_config bc;
    xr_bank_server_config_default(&bc);
    bc.listen_port = (uint16_t)port;
    snprintf(bc.outbox_dir, sizeof bc.outbox_dir, "%s/outbox", dir);
    if (tls_cert != NULL) {
        snprintf(bc.tls_cert_path, sizeof bc.tls_cert_path, "%s", tls_cert);
        snprintf(bc.tls_key_path, sizeof bc.tls_key_path, "%s", tls_key);
    }
    bc.nkeys = 1;
    bc.keys[0].bank_id = 1;
    bc.keys[0].key_id = 1;
    bc.keys[0].secret_len = (uint32_t)(strlen(SECRET_HEX) / 2);
    for (uint32_t i = 0; i < bc.keys[0].secret_len; i++) {
        unsigned byte;
        sscanf(&SECRET_HEX[2 * i], "%2x", &byte);
        bc.keys[0].secret[i] = (uint8_t)byte;
    }
    bc.keys[0].active = 1;
    xr_bank_server *srv;
    if ((err = xr_bank_server_open(&bc, eng, &srv)) != XR_OK) {
        fprintf(stderr, "bank_host: server: %s\n", xr_err_name(err));
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/credentials", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    fprintf(f,
            "# bank_host test credentials\nbank_id = 1\nkey_id = 1\nsecret = %s\n"
            "connect = 127.0.0.1:%u\n",
            SECRET_HEX, xr_bank_server_port(srv));
    fclose(f);
    printf("ready port=%u\n", xr_bank_server_port(srv));
    fflush(stdout);

    while (stop_signal == 0) {
        if ((err = xr_bank_server_run_once(srv, wait_ns)) != XR_OK && err != XR_ERR_IO &&
            err != XR_ERR_STORAGE_FULL)
            break;
        err = XR_OK;
    }
    sim_stop = 1;
    pthread_join(sim_thread, NULL);
    if (sa_arg.err != XR_OK)
        err = sa_arg.err;
    int rc = err == XR_OK ? 0 : 1;
    if (err != XR_OK)
        fprintf(stderr, "bank_host: stopped: %s\n", xr_err_name(err));
    xr_bank_server_drain(srv, 5 * XR_NS_PER_SEC);
    xr_bank_server_close(srv);
    xr_engine_close(eng);
    return rc;
}
