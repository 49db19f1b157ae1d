/*
 * xroute-venue: simulated crypto venues on localhost (adapters/sim). This file only turns
 * flags into an xr_sim_config, starts the simulator, prints one readiness line per venue and
 * runs until SIGTERM or SIGINT. See docs/simulator.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sim/sim.h"
#include "core/base/clock.h"
#include "core/base/log.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fputs(
        "usage: xroute-venue [options]\n"
        "\n"
        "Simulated venues on localhost, each with its own port, pairs, fees, seed, accounts,\n"
        "rate limits and faults. Each speaks the Binance spot dialect (REST /api/v3/..., streams\n"
        "on /ws/<stream> and /stream?streams=...), the mock dialect (GET /ticker, POST /order)\n"
        "and the control endpoint (GET /sim/state, POST /sim/fault, /sim/step, /sim/balance).\n"
        "\n"
        "Options given before the first --venue apply to every venue; options after a --venue\n"
        "apply to that venue. Without --venue: one venue \"binance\" on port 9001.\n"
        "\n"
        "Venues\n"
        "  --venue NAME[:PORT]     add a venue (Binance dialect); port default 9001, 9002, ...\n"
        "  --listen IP             numeric address to listen on [127.0.0.1]\n"
        "  --port N                the venue's port; 0 picks a free one (printed when ready)\n"
        "  --tls-cert FILE         serve TLS with this PEM certificate chain (leaf first)\n"
        "  --tls-key FILE          ... and this PEM private key (RSA, EC or PKCS#8)\n"
        "  --max-conns N           connections at once [64]\n"
        "\n"
        "Markets\n"
        "  --pairs LIST            comma-separated pairs [BTCUSDT,ETHUSDT,AZNUSDT]; built-in:\n"
        "                          BTCUSDT ETHUSDT ETHBTC AZNUSDT USDCUSDT\n"
        "  --pair SPEC             add a pair: PRESET[:key=value,...] or a new one,\n"
        "                          SYM:base=B,quote=Q,mid=M,tick=T,step=S[,min_qty=,max_qty=,\n"
        "                          min_notional=,max_notional=,min_price=,max_price=,\n"
        "                          level_qty=,depth=,gap=] (decimals exact, e.g. tick=0.01)\n"
        "  --convert SPEC          offer a Convert route FROM:TO[:rate=R,fee_bps=N,decimals=D]\n"
        "                          (/sapi/v1/convert/*; e.g. USD:USDC:fee_bps=10,decimals=6)\n"
        "  --seed N                market seed: the same seed gives the same book stream [1]\n"
        "  --step-ms MS            time between market steps; 0: steps only on POST /sim/step\n"
        "                          [20]\n"
        "  --maker-bps N           maker fee in basis points [10]\n"
        "  --taker-bps N           taker fee in basis points [10]\n"
        "\n"
        "Accounts\n"
        "  --api-key KEY           the first account's API key [Binance's documented example\n"
        "                          key, so the documentation's signatures verify]\n"
        "  --api-secret SECRET     the first account's HMAC secret [the documented one]\n"
        "  --balance ASSET=AMOUNT  starting free balance of every account (repeatable)\n"
        "                          [USDT=1000000 BTC=100 ETH=1000 AZN=1000000]\n"
        "  --account KEY:SECRET    add another account with the same balances\n"
        "  --dup-client-ids MODE   open: newClientOrderId unique among open orders (Binance's\n"
        "                          rule); any: among all orders [open]\n"
        "\n"
        "Rate limits\n"
        "  --weight-limit N        REQUEST_WEIGHT per minute [6000]\n"
        "  --orders-10s N          ORDERS per 10 seconds [50]\n"
        "  --orders-1d N           ORDERS per day [160000]\n"
        "  --ban-after N           requests ignoring Retry-After before a 418 ban [3]\n"
        "  --ban-seconds N         length of a ban [120]\n"
        "\n"
        "Faults (also at run time: POST /sim/fault?kind=KIND&key=value...)\n"
        "  --fault KIND[:key=value,...]   in force from the start (repeatable):\n"
        "      latency:ms=N               every answer and stream message N ms late\n"
        "      disconnect:after=N         cut every WebSocket after N messages\n"
        "      gap:count=N | gap:every=N  drop depth messages (sequence gaps in U/u)\n"
        "      5xx:count=N,status=503,after_exec=1   N answers become 5xx (after_exec: the\n"
        "                                 request runs, its answer is lost)\n"
        "      429:count=N,retry_after=S  a 429 storm of N answers with Retry-After S\n"
        "      reject:count=N,code=-2010,msg=TEXT    reject the next N orders\n"
        "      down:ms=N                  reset every connection and refuse new ones for N ms\n"
        "      stale:ms=N                 the market stops and streams go quiet (0: until\n"
        "                                 cleared)\n"
        "      clock:offset_ms=N          the venue's clock runs N ms ahead (negative: behind)\n"
        "\n"
        "Other\n"
        "  --log-level LEVEL       debug, info, warn, error or off [info]\n"
        "  --version               print the version and exit\n"
        "  --help                  this text\n"
        "\n"
        "When every venue listens, one line per venue and then \"xroute-venue: ready\" are\n"
        "printed on stdout. SIGTERM or SIGINT stops it cleanly (exit status 0).\n",
        out);
}

typedef struct cli {
    xr_sim_config cfg;
    xr_sim_venue_config tmpl; /* what a new --venue starts from */
    xr_sim_venue_config *cur; /* the venue options apply to (NULL: the template) */
    bool pairs_default[XR_SIM_VENUES_MAX + 1];
    bool port_set[XR_SIM_VENUES_MAX + 1];
} cli;

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "error: INVALID_ARGUMENT: %s '%s' (see --help)\n", what, arg);
    return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || s[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

static int slot(const cli *c)
{
    return c->cur == NULL ? XR_SIM_VENUES_MAX : (int)(c->cur - c->cfg.venues);
}

static xr_sim_venue_config *target(cli *c)
{
    return c->cur ? c->cur : &c->tmpl;
}

/* Sets ASSET=AMOUNT on every account of `v`. */
static bool set_balance(xr_sim_venue_config *v, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec || (size_t)(eq - spec) > XR_ASSET_CODE_MAX)
        return false;
    xr_i128 amount;
    if (xr_decimal_parse(eq + 1, strlen(eq + 1), XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &amount,
                         NULL) != XR_OK ||
        amount > INT64_MAX / 4)
        return false;
    for (uint32_t a = 0; a < v->naccounts; a++) {
        xr_sim_account_config *acc = &v->accounts[a];
        uint32_t k = 0;
        while (k < acc->nbalances &&
               (strlen(acc->balances[k].asset) != (size_t)(eq - spec) ||
                memcmp(acc->balances[k].asset, spec, (size_t)(eq - spec)) != 0))
            k++;
        if (k == acc->nbalances) {
            if (k == XR_SIM_BALANCES_MAX)
                return false;
            acc->nbalances++;
            memset(acc->balances[k].asset, 0, sizeof acc->balances[k].asset);
            memcpy(acc->balances[k].asset, spec, (size_t)(eq - spec));
        }
        acc->balances[k].amount = (int64_t)amount;
    }
    return true;
}

static int venue_option(cli *c, const char *opt, const char *arg)
{
    xr_sim_venue_config *v = target(c);
    uint64_t n = 0;
    char why[256];
    if (strcmp(opt, "--listen") == 0) {
        if (strlen(arg) >= sizeof v->listen_ip)
            return fail("bad address", arg);
        snprintf(v->listen_ip, sizeof v->listen_ip, "%s", arg);
    } else if (strcmp(opt, "--port") == 0) {
        if (!parse_u64(arg, 65535, &n))
            return fail("bad port", arg);
        v->port = (uint16_t)n;
        c->port_set[slot(c)] = true;
    } else if (strcmp(opt, "--tls-cert") == 0 || strcmp(opt, "--tls-key") == 0) {
        char *dst = opt[6] == 'c' ? v->tls_cert : v->tls_key;
        if (strlen(arg) >= sizeof v->tls_cert)
            return fail("path too long", arg);
        snprintf(dst, sizeof v->tls_cert, "%s", arg);
    } else if (strcmp(opt, "--max-conns") == 0) {
        if (!parse_u64(arg, 4096, &n) || n == 0)
            return fail("bad connection count", arg);
        v->max_sessions = (uint32_t)n;
    } else if (strcmp(opt, "--pairs") == 0) {
        char list[1024];
        snprintf(list, sizeof list, "%s", arg);
        v->npairs = 0;
        char *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            if (v->npairs == XR_SIM_PAIRS_MAX)
                return fail("too many pairs", arg);
            if (xr_sim_pair_parse(p, &v->pairs[v->npairs], why, sizeof why) != XR_OK)
                return fail(why, p);
            v->npairs++;
        }
        if (v->npairs == 0)
            return fail("no pairs in", arg);
        c->pairs_default[slot(c)] = false;
    } else if (strcmp(opt, "--pair") == 0) {
        if (c->pairs_default[slot(c)]) {
            v->npairs = 0;
            c->pairs_default[slot(c)] = false;
        }
        if (v->npairs == XR_SIM_PAIRS_MAX)
            return fail("too many pairs at", arg);
        if (xr_sim_pair_parse(arg, &v->pairs[v->npairs], why, sizeof why) != XR_OK)
            return fail(why, arg);
        v->npairs++;
    } else if (strcmp(opt, "--convert") == 0) {
        if (v->nconverts == XR_SIM_CONVERTS_MAX)
            return fail("too many conversions at", arg);
        if (xr_sim_convert_parse(arg, &v->converts[v->nconverts], why, sizeof why) != XR_OK)
            return fail(why, arg);
        v->nconverts++;
    } else if (strcmp(opt, "--seed") == 0) {
        if (!parse_u64(arg, UINT64_MAX, &n))
            return fail("bad seed", arg);
        v->seed = n;
    } else if (strcmp(opt, "--step-ms") == 0) {
        if (!parse_u64(arg, 3600000, &n))
            return fail("bad step interval", arg);
        v->step_us = (uint32_t)(n * 1000);
    } else if (strcmp(opt, "--maker-bps") == 0 || strcmp(opt, "--taker-bps") == 0) {
        if (!parse_u64(arg, 10000, &n))
            return fail("bad fee", arg);
        if (opt[2] == 'm')
            v->maker_bps = (int32_t)n;
        else
            v->taker_bps = (int32_t)n;
    } else if (strcmp(opt, "--api-key") == 0) {
        if (strlen(arg) == 0 || strlen(arg) > XR_SIM_API_KEY_MAX)
            return fail("bad API key", arg);
        snprintf(v->accounts[0].api_key, sizeof v->accounts[0].api_key, "%s", arg);
    } else if (strcmp(opt, "--api-secret") == 0) {
        if (strlen(arg) == 0 || strlen(arg) > XR_SIM_SECRET_MAX)
            return fail("bad API secret", "(hidden)");
        snprintf(v->accounts[0].secret, sizeof v->accounts[0].secret, "%s", arg);
    } else if (strcmp(opt, "--balance") == 0) {
        if (!set_balance(v, arg))
            return fail("bad balance (ASSET=AMOUNT)", arg);
    } else if (strcmp(opt, "--account") == 0) {
        const char *colon = strchr(arg, ':');
        if (colon == NULL || colon == arg || (size_t)(colon - arg) > XR_SIM_API_KEY_MAX ||
            strlen(colon + 1) == 0 || strlen(colon + 1) > XR_SIM_SECRET_MAX ||
            v->naccounts == XR_SIM_ACCOUNTS_MAX)
            return fail("bad account (KEY:SECRET)", "(hidden)");
        xr_sim_account_config *a = &v->accounts[v->naccounts];
        *a = v->accounts[0];
        memset(a->api_key, 0, sizeof a->api_key);
        memcpy(a->api_key, arg, (size_t)(colon - arg));
        snprintf(a->secret, sizeof a->secret, "%s", colon + 1);
        v->naccounts++;
    } else if (strcmp(opt, "--dup-client-ids") == 0) {
        if (strcmp(arg, "open") != 0 && strcmp(arg, "any") != 0)
            return fail("expected open or any, got", arg);
        v->dup_any = arg[0] == 'a';
    } else if (strcmp(opt, "--weight-limit") == 0 || strcmp(opt, "--orders-10s") == 0 ||
               strcmp(opt, "--orders-1d") == 0 || strcmp(opt, "--ban-after") == 0 ||
               strcmp(opt, "--ban-seconds") == 0) {
        if (!parse_u64(arg, UINT32_MAX, &n) || n == 0)
            return fail("bad limit", arg);
        uint32_t *dst = strcmp(opt, "--weight-limit") == 0 ? &v->weight_limit
                        : strcmp(opt, "--orders-10s") == 0 ? &v->orders_10s
                        : strcmp(opt, "--orders-1d") == 0  ? &v->orders_1d
                        : strcmp(opt, "--ban-after") == 0  ? &v->ban_after
                                                           : &v->ban_s;
        *dst = (uint32_t)n;
    } else if (strcmp(opt, "--fault") == 0) {
        if (v->nfaults == XR_SIM_FAULTS_MAX)
            return fail("too many faults at", arg);
        if (xr_sim_fault_parse(arg, strlen(arg), &v->faults[v->nfaults], why, sizeof why) != XR_OK)
            return fail(why, arg);
        v->nfaults++;
    } else {
        return -1; /* not a venue option */
    }
    return 0;
}

static int add_venue(cli *c, const char *arg)
{
    if (c->cfg.nvenues == XR_SIM_VENUES_MAX)
        return fail("at most 8 venues; one too many", arg);
    char name[32];
    const char *colon = strchr(arg, ':');
    size_t nl = colon ? (size_t)(colon - arg) : strlen(arg);
    if (nl == 0 || nl >= sizeof name)
        return fail("bad venue name", arg);
    memcpy(name, arg, nl);
    name[nl] = '\0';
    uint32_t i = c->cfg.nvenues++;
    xr_sim_venue_config *v = &c->cfg.venues[i];
    *v = c->tmpl;
    snprintf(v->name, sizeof v->name, "%s", name);
    c->pairs_default[i] = c->pairs_default[XR_SIM_VENUES_MAX];
    c->port_set[i] = c->port_set[XR_SIM_VENUES_MAX];
    uint64_t port = 0;
    if (colon != NULL) {
        if (!parse_u64(colon + 1, 65535, &port))
            return fail("bad port in", arg);
        v->port = (uint16_t)port;
        c->port_set[i] = true;
    }
    if (!c->port_set[i])
        v->port = (uint16_t)(9001 + i);
    c->cur = v;
    return 0;
}

int main(int argc, char **argv)
{
    static cli c;
    memset(&c, 0, sizeof c);
    xr_sim_venue_config_default(&c.tmpl, "binance");
    c.pairs_default[XR_SIM_VENUES_MAX] = true;
    xr_log_level level = XR_LOG_INFO;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(opt, "--version") == 0) {
            printf("xroute-venue %s\n", XR_VERSION);
            return 0;
        }
        if (i + 1 >= argc || strncmp(opt, "--", 2) != 0) {
            fprintf(stderr, "error: INVALID_ARGUMENT: unknown or incomplete option '%s'\n", opt);
            usage(stderr);
            return 2;
        }
        const char *arg = argv[++i];
        int rc;
        if (strcmp(opt, "--venue") == 0) {
            rc = add_venue(&c, arg);
        } else if (strcmp(opt, "--log-level") == 0) {
            rc = xr_log_level_parse(arg, &level) == XR_OK ? 0 : fail("bad log level", arg);
        } else {
            rc = venue_option(&c, opt, arg);
            if (rc < 0) {
                fprintf(stderr, "error: INVALID_ARGUMENT: unknown option '%s'\n", opt);
                usage(stderr);
                return 2;
            }
        }
        if (rc != 0)
            return rc;
    }
    if (c.cfg.nvenues == 0) {
        c.cfg.venues[0] = c.tmpl;
        if (!c.port_set[XR_SIM_VENUES_MAX])
            c.cfg.venues[0].port = 9001;
        c.cfg.nvenues = 1;
    }
    xr_log_set_level(level);
    for (uint32_t i = 0; i < c.cfg.nvenues; i++)
        for (uint32_t a = 0; a < c.cfg.venues[i].naccounts; a++)
            (void)xr_log_register_secret(c.cfg.venues[i].accounts[a].secret,
                                         strlen(c.cfg.venues[i].accounts[a].secret));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    xr_sim *sim = NULL;
    char why[256];
    xr_err e = xr_sim_create(&c.cfg, NULL, &sim, why, sizeof why);
    if (e != XR_OK) {
        fprintf(stderr, "error: %s: %s\n", xr_err_name(e), why[0] ? why : xr_err_message(e));
        return 1;
    }
    for (uint32_t i = 0; i < xr_sim_venue_count(sim); i++) {
        const xr_sim_venue_config *v = xr_sim_venue_config_of(sim, i);
        bool tls = v->tls_cert[0] != '\0';
        printf("xroute-venue: venue=%s dialect=%s url=%s://%s:%u ws=%s://%s:%u/ws seed=%llu "
               "pairs=",
               v->name, v->dialect, tls ? "https" : "http", v->listen_ip, xr_sim_port(sim, i),
               tls ? "wss" : "ws", v->listen_ip, xr_sim_port(sim, i), (unsigned long long)v->seed);
        for (uint32_t p = 0; p < v->npairs; p++)
            printf("%s%s", p ? "," : "", v->pairs[p].symbol);
        printf("\n");
    }
    printf("xroute-venue: ready\n");
    fflush(stdout);

    while (stop_signal == 0) {
        e = xr_sim_poll(sim, 100 * XR_NS_PER_MS);
        if (e != XR_OK) {
            fprintf(stderr, "error: %s: the event loop failed\n", xr_err_name(e));
            xr_sim_destroy(sim);
            return 1;
        }
    }
    xr_sim_destroy(sim);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "xroute-venue", "exit");
    xr_log_str(&l, "signal", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    xr_log_end(&l);
    return 0;
}
