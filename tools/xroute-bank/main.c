/*
 * xroute-bank: a bank simulator over the client library (include/xroute/client.h): scripted
 * scenarios that check what xrouted answers, and an open-loop load generator.
 *
 *   xroute-bank brief [connection] [--customer ID] [--pair PAIR] [--json]
 *   xroute-bank load  [connection] --rate N [--duration S] [--customers N] [--pair PAIR]
 *                     [--qty Q] [--out FILE] [--json]
 *
 * Connection: --connect HOST:PORT, --bank ID, --key-id ID, --secret HEX or --credentials
 * FILE, as `xroute` (tools/xroute/cmd_bank.c, docs/cli.md) takes them, with the same
 * environment variables and xrouted's var/xroute/demo-bank.env as the last resort.
 *
 * brief: the original brief's scenario on PAIR = CRYPTO/FIAT (default USDT/AZN, xrouted's:
 * "fund 1,000 AZN, buy USDT for 100 AZN"). Registers a customer, funds it with 1,000 FIAT,
 * buys CRYPTO for 100 FIAT at the venue price plus the bank's spread, and checks the
 * report's legs (customer FIAT debit = omnibus FIAT credit = what was paid; omnibus CRYPTO
 * debit = customer CRYPTO credit = what was bought; the spread, booked as revenue, is
 * floor(E x spread_bps / 10^4) of the executable amount E = notional + fees, docs/ledger.md
 * "Rounding") and the balances; sends the same idempotency key again (the same report,
 * replayed, nothing booked); and a buy beyond the balance (INSUFFICIENT_FUNDS, nothing booked
 * or reserved). "For 100 FIAT" is a NEW_ORDER with the amount on the quote side; while the
 * engine refuses those (NOT_SUPPORTED), it asks a firm quote for 100 FIAT and buys the
 * quote's base amount instead, and says so. Exit 0 when every check passed, 1 otherwise.
 *
 * load: market orders of --qty base units (default 0.0001) alternating buy and sell over
 * --customers customers (funded first), sent open-loop at --rate orders per second for
 * --duration seconds: order i is due at t0 + i / rate whether or not earlier answers came
 * back, and its latency is measured from that intended time to its answer, so a stall
 * counts fully against every order it delayed (coordinated omission corrected). Prints
 * p50, p90, p99, p99.9 and max in microseconds, the achieved rates and the answers by kind;
 * --out writes every latency (ns, one per line, in order of sending; -1 for no answer).
 */
#define _GNU_SOURCE /* strcasecmp */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "tools/xroute/credentials.h"
#include "xroute/client.h"
#include "xroute/engine.h"
#include "xroute/money.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

typedef struct opts {
    const char *mode;
    const char *connect, *bank, *key_id, *secret, *credentials, *tls_ca, *tls_name;
    const char *pair;
    const char *qty;
    const char *out;
    uint64_t customer;
    uint64_t rate;
    uint64_t duration_s;
    uint64_t customers;
    int json;
} opts;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: USAGE: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'xroute-bank --help')\n");
    va_end(ap);
    return EXIT_USAGE;
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: xroute-bank brief [connection] [--customer ID] [--pair PAIR] [--json]\n"
            "       xroute-bank load  [connection] --rate N [--duration S] [--customers N]\n"
            "                         [--pair PAIR] [--qty Q] [--out FILE] [--json]\n\n"
            "brief  the original brief's scenario on --pair CRYPTO/FIAT [USDT/AZN]: fund 1,000\n"
            "       FIAT, buy CRYPTO for 100 FIAT plus the spread, check the legs, resend the\n"
            "       key (nothing booked), buy beyond the balance (INSUFFICIENT_FUNDS).\n"
            "       --customer [a new one]\n"
            "load   open-loop market orders at --rate per second for --duration s [5] over\n"
            "       --customers [8] funded customers, --qty base units each [0.0001] on --pair\n"
            "       [BTC/USDT], alternating buy and sell; latency from each order's intended\n"
            "       send time (coordinated omission corrected): p50/p90/p99/p99.9/max\n\n"
            "connection:\n"
            "  --connect HOST:PORT  [XROUTE_CONNECT, else 127.0.0.1:7400]\n"
            "  --bank ID            [XROUTE_BANK]\n"
            "  --key-id ID          [XROUTE_KEY_ID]\n"
            "  --secret HEX         [XROUTE_BANK_SECRET]\n"
            "  --credentials FILE   bank_id/key_id/secret/connect (or XROUTE_*) lines\n"
            "                       [XROUTE_CREDENTIALS; else var/xroute/demo-bank.env]\n"
            "  --tls-ca FILE        TLS trust anchors [XROUTE_TLS_CA; none: plain TCP]\n"
            "  --tls-name NAME      the certificate's DNS name [XROUTE_TLS_NAME; the host]\n"
            "exit: 0 every check passed; 1 a check or the session failed; 2 bad arguments\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return 0;
    *out = v;
    return 1;
}

/* ---- connection (the rules of `xroute`) ------------------------------------------------------ */

static int connect_bank(const opts *o, uint32_t call_timeout_ms, xr_client **out)
{
    xr_cli_creds cr;
    memset(&cr, 0, sizeof cr);
    snprintf(cr.connect, sizeof cr.connect, "127.0.0.1:7400");
    const char *env;
    if ((env = getenv("XROUTE_CONNECT")) != NULL)
        snprintf(cr.connect, sizeof cr.connect, "%s", env);
    if ((env = getenv("XROUTE_BANK")) != NULL)
        cr.have_bank = xr_cli_parse_u64(env, strlen(env), &cr.bank_id);
    if ((env = getenv("XROUTE_KEY_ID")) != NULL)
        cr.have_key_id = xr_cli_parse_u64(env, strlen(env), &cr.key_id);
    if ((env = getenv("XROUTE_BANK_SECRET")) != NULL)
        snprintf(cr.secret, sizeof cr.secret, "%s", env);
    if ((env = getenv("XROUTE_TLS_CA")) != NULL)
        snprintf(cr.tls_ca, sizeof cr.tls_ca, "%s", env);
    if ((env = getenv("XROUTE_TLS_NAME")) != NULL)
        snprintf(cr.tls_name, sizeof cr.tls_name, "%s", env);
    const char *file = o->credentials ? o->credentials : getenv("XROUTE_CREDENTIALS");
    if (file == NULL && !cr.have_bank && !o->bank && access("var/xroute/demo-bank.env", R_OK) == 0)
        file = "var/xroute/demo-bank.env"; /* xrouted's demo bank, embedded defaults */
    if (file != NULL) {
        static char text[65536];
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            fprintf(stderr, "error: %s: %s: %s\n", errno == ENOENT ? "NOT_FOUND" : "IO", file,
                    strerror(errno));
            return EXIT_FAIL;
        }
        size_t n = fread(text, 1, sizeof text, f);
        int more = fgetc(f) != EOF;
        fclose(f);
        unsigned bad = more ? 1 : xr_cli_creds_parse(text, n, &cr);
        if (bad != 0) {
            fprintf(stderr, "error: CONFIG: %s:%u: not a 'key = value' line (or too long)\n", file,
                    bad);
            return EXIT_FAIL;
        }
    }
    if (o->connect)
        snprintf(cr.connect, sizeof cr.connect, "%s", o->connect);
    if (o->bank)
        cr.have_bank = xr_cli_parse_u64(o->bank, strlen(o->bank), &cr.bank_id);
    if (o->key_id)
        cr.have_key_id = xr_cli_parse_u64(o->key_id, strlen(o->key_id), &cr.key_id);
    if (o->secret)
        snprintf(cr.secret, sizeof cr.secret, "%s", o->secret);
    if (o->tls_ca)
        snprintf(cr.tls_ca, sizeof cr.tls_ca, "%s", o->tls_ca);
    if (o->tls_name)
        snprintf(cr.tls_name, sizeof cr.tls_name, "%s", o->tls_name);
    if (!cr.have_bank || cr.bank_id == 0 || cr.bank_id >= (1u << 24) || !cr.have_key_id ||
        cr.key_id > UINT32_MAX || cr.secret[0] == '\0')
        return usage_error("bank id, key id and secret are needed (flags, environment or "
                           "--credentials)");
    char *connect = cr.connect;
    uint64_t bank = cr.bank_id, key_id = cr.key_id;
    xr_client_config cc;
    xr_client_config_default(&cc);
    char *colon = strrchr(connect, ':');
    uint64_t port = 0;
    if (colon == NULL || !parse_u64(colon + 1, &port) || port == 0 || port > 65535)
        return usage_error("--connect wants HOST:PORT, got '%s'", connect);
    *colon = '\0';
    snprintf(cc.host, sizeof cc.host, "%s", connect);
    cc.port = (uint16_t)port;
    cc.bank_id = (uint32_t)bank;
    cc.key_id = (uint32_t)key_id;
    size_t slen;
    if (!xr_cli_hex_decode(cr.secret, cc.secret, sizeof cc.secret, &slen))
        return usage_error("the secret is 2..%zu hex digits", 2 * sizeof cc.secret);
    cc.secret_len = (uint32_t)slen;
    cc.call_timeout_ms = call_timeout_ms;
    snprintf(cc.tls_ca_path, sizeof cc.tls_ca_path, "%s", cr.tls_ca);
    snprintf(cc.tls_server_name, sizeof cc.tls_server_name, "%s", cr.tls_name);
    xr_err err = xr_client_connect(&cc, out);
    if (err != XR_OK) {
        fprintf(stderr, "error: %s: logon to %s:%" PRIu64 " as bank %" PRIu64 ": %s\n",
                xr_err_name(err), connect, port, bank, xr_err_message(err));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* The answer to `cmd`, passing over replayed responses of earlier sessions (matched by a
 * random correlation id, as `xroute` does). XR_OK with `*ev` the answer (maybe a reject). */
static xr_err call(xr_client *c, xr_engine_cmd *cmd, xr_engine_event *ev)
{
    uint64_t corr = 0;
    while (corr == 0) {
        if (getrandom(&corr, sizeof corr, 0) != (ssize_t)sizeof corr)
            return XR_ERR_IO;
        corr >>= 1;
    }
    cmd->correlation_id = corr;
    xr_err err = xr_client_submit(c, cmd, NULL);
    if (err != XR_OK)
        return err;
    uint64_t end = xr_clock_mono_ns() + 30 * XR_NS_PER_SEC;
    static xr_engine_event evs[64];
    while (xr_clock_mono_ns() < end) {
        size_t n = 0;
        if ((err = xr_client_poll(c, evs, NULL, 64, &n, 100)) != XR_OK)
            return err;
        for (size_t i = 0; i < n; i++)
            if (evs[i].correlation_id == corr) {
                *ev = evs[i];
                return XR_OK;
            }
    }
    return XR_ERR_TIMEOUT;
}

static void random_key(xr_engine_key *k)
{
    do {
        if (getrandom(k->bytes, sizeof k->bytes, 0) != (ssize_t)sizeof k->bytes)
            abort();
    } while (k->bytes[0] == 0);
}

static void key_hex(const xr_engine_key *k, char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", k->bytes[i]);
}

/* ---- brief ----------------------------------------------------------------------------------- */

static int checks_failed;

__attribute__((format(printf, 2, 3))) static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!ok)
        checks_failed++;
}

static const char *fmt_amt(xr_i128 v, unsigned scale, char *buf)
{
    xr_amount a = {v};
    if (xr_amount_format(a, scale, buf, XR_DECIMAL_STR_MAX) == 0)
        snprintf(buf, XR_DECIMAL_STR_MAX, "?");
    return buf;
}

/* The customer's balance of `asset` (0 when it has none). */
static int balance_of(xr_client *c, uint64_t cust, const char *asset, xr_engine_balance *out)
{
    xr_engine_cmd cmd = {.kind = XR_ENGINE_CMD_BALANCES, .customer_id = cust};
    xr_engine_event ev;
    memset(out, 0, sizeof *out);
    if (call(c, &cmd, &ev) != XR_OK || ev.kind != XR_ENGINE_EV_BALANCES)
        return 0;
    for (uint32_t i = 0; i < ev.u.balances.n && i < XR_ENGINE_ASSETS_MAX; i++)
        if (strcmp(ev.u.balances.items[i].asset, asset) == 0)
            *out = ev.u.balances.items[i];
    return 1;
}

static int run_brief(const opts *o)
{
    const char *pair = o->pair ? o->pair : "USDT/AZN";
    char crypto[XR_ASSET_CODE_MAX + 1] = "", fiat[XR_ASSET_CODE_MAX + 1] = "";
    const char *slash = strchr(pair, '/');
    if (slash == NULL || slash == pair || slash - pair > XR_ASSET_CODE_MAX ||
        strlen(slash + 1) > XR_ASSET_CODE_MAX || slash[1] == '\0')
        return usage_error("--pair wants BASE/QUOTE");
    memcpy(crypto, pair, (size_t)(slash - pair));
    snprintf(fiat, sizeof fiat, "%s", slash + 1);
    xr_asset_registry reg;
    xr_assets_init_default(&reg);
    const xr_asset *fa = xr_assets_find(&reg, fiat);
    if (fa == NULL || xr_assets_find(&reg, crypto) == NULL)
        return usage_error("--pair: both assets must be built in (money.h)");
    unsigned fs = fa->scale;
    xr_i128 one = 1; /* one whole unit of the fiat asset, in minor units */
    for (unsigned i = 0; i < fs; i++)
        one *= 10;
    xr_client *c;
    int rc = connect_bank(o, 30000, &c);
    if (rc != EXIT_OK)
        return rc;
    uint64_t cust = o->customer;
    if (cust == 0) {
        if (getrandom(&cust, sizeof cust, 0) != (ssize_t)sizeof cust)
            abort();
        cust = 1000000 + cust % 1000000000;
    }
    xr_engine_cmd cmd;
    xr_engine_event ev;
    xr_err err;
    char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
        a4[XR_DECIMAL_STR_MAX], a5[XR_DECIMAL_STR_MAX], k[33];
    printf("== brief scenario: customer %" PRIu64 ": fund 1000 %s, buy %s for 100 %s on %s\n", cust,
           fiat, crypto, fiat, pair);

    /* 1. the customer, funded with 1,000 fiat. */
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT;
    cmd.customer_id = cust;
    cmd.u.customer.kyc_tier = 1;
    err = call(c, &cmd, &ev);
    check(err == XR_OK && ev.kind == XR_ENGINE_EV_CUSTOMER, "customer %" PRIu64 " registered",
          cust);
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = XR_ENGINE_CMD_FUND;
    cmd.customer_id = cust;
    random_key(&cmd.u.fund.key);
    snprintf(cmd.u.fund.asset, sizeof cmd.u.fund.asset, "%s", fiat);
    cmd.u.fund.amount.units = 1000 * one;
    err = call(c, &cmd, &ev);
    check(err == XR_OK && ev.kind == XR_ENGINE_EV_FUNDING &&
              ev.u.funding.amount.units == 1000 * one && ev.u.funding.scale == fs &&
              !ev.u.funding.replayed,
          "funded %s %s", fmt_amt(1000 * one, fs, a1), fiat);
    if (checks_failed) {
        if (ev.kind == XR_ENGINE_EV_REJECT)
            printf("     rejected: %s\n", xr_err_name(ev.u.reject.err));
        xr_client_close(c);
        return EXIT_FAIL;
    }

    /* 2. buy crypto for 100 fiat, all in: a MARKET buy with the amount on the quote side. */
    xr_engine_order_cmd oc;
    memset(&oc, 0, sizeof oc);
    random_key(&oc.key);
    snprintf(oc.pair, sizeof oc.pair, "%s", pair);
    oc.type = XR_ENGINE_MARKET;
    oc.side = XR_ENGINE_BUY;
    oc.amount_side = XR_ENGINE_AMOUNT_QUOTE;
    oc.amount.units = 100 * one;
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = XR_ENGINE_CMD_NEW_ORDER;
    cmd.customer_id = cust;
    cmd.u.order = oc;
    err = call(c, &cmd, &ev);
    if (err == XR_OK && ev.kind == XR_ENGINE_EV_REJECT && ev.u.reject.err == XR_ERR_NOT_SUPPORTED) {
        /* Quote-side NEW_ORDER not in this engine yet: a firm quote for 100 fiat (supported
         * on both sides) tells the base amount that costs at most that, all in; buy it. */
        printf("note NEW_ORDER with the amount in %s is NOT_SUPPORTED by this engine: buying "
               "the base amount a firm quote for 100 %s gives instead\n",
               fiat, fiat);
        xr_engine_cmd q = {.kind = XR_ENGINE_CMD_QUOTE, .customer_id = cust};
        snprintf(q.u.quote.pair, sizeof q.u.quote.pair, "%s", pair);
        q.u.quote.side = XR_ENGINE_BUY;
        q.u.quote.amount_side = XR_ENGINE_AMOUNT_QUOTE;
        q.u.quote.amount.units = 100 * one;
        err = call(c, &q, &ev);
        if (err != XR_OK || ev.kind != XR_ENGINE_EV_QUOTE) {
            check(0, "quote for 100 %s: %s", fiat,
                  err != XR_OK                     ? xr_err_name(err)
                  : ev.kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev.u.reject.err)
                                                   : "unexpected answer");
            xr_client_close(c);
            return EXIT_FAIL;
        }
        printf("     quote %" PRIu64 ": %s %s for %s %s\n", ev.u.quote.quote_id,
               fmt_amt(ev.u.quote.base.units, ev.u.quote.base_scale, a1), crypto,
               fmt_amt(ev.u.quote.quote.units, ev.u.quote.quote_scale, a2), fiat);
        oc.amount_side = XR_ENGINE_AMOUNT_BASE;
        oc.amount = ev.u.quote.base;
        cmd.u.order = oc;
        err = call(c, &cmd, &ev);
    }
    if (err != XR_OK || ev.kind != XR_ENGINE_EV_EXEC_REPORT) {
        check(0, "order: %s",
              err != XR_OK                     ? xr_err_name(err)
              : ev.kind == XR_ENGINE_EV_REJECT ? xr_err_name(ev.u.reject.err)
                                               : "unexpected answer");
        xr_client_close(c);
        return EXIT_FAIL;
    }
    xr_engine_exec_report_ev r = ev.u.report;
    key_hex(&r.key, k);
    unsigned qs = r.quote_scale, bs = r.base_scale;
    xr_i128 paid = r.quote.units, got = r.filled.units;
    check(r.status == XR_ENGINE_ORDER_FILLED && r.err == XR_OK && !r.replayed && qs == fs,
          "order %s FILLED: %s %s for %s %s", k, fmt_amt(got, bs, a1), crypto,
          fmt_amt(paid, qs, a2), fiat);
    check(paid > 0 && paid <= 100 * one, "paid %s %s, at most 100", fmt_amt(paid, qs, a1), fiat);
    /* the spread: the bank's rate of the executable amount E = notional + venue fees,
     * rounded down (docs/ledger.md, "Rounding") */
    xr_i128 e = r.notional.units + r.fees.units;
    xr_engine_cmd st = {.kind = XR_ENGINE_CMD_ORDER_STATUS, .customer_id = cust};
    st.u.ref.key = r.key;
    uint32_t bps = 0;
    if (call(c, &st, &ev) == XR_OK && ev.kind == XR_ENGINE_EV_ORDER)
        bps = ev.u.order.spread_bps;
    check(bps == 150, "the bank's spread is %u bps (1.5%%)", bps);
    xr_i128 s_want = e * (xr_i128)bps / 10000; /* E > 0: truncation is floor */
    check(r.spread.units == s_want, "spread %s %s = floor(E x %u / 10^4), E = notional + fees = %s",
          fmt_amt(r.spread.units, qs, a1), fiat, bps, fmt_amt(e, qs, a2));
    check(paid == e + s_want, "the customer pays E + spread = %s %s", fmt_amt(paid, qs, a1), fiat);
    printf("legs (docs/ledger.md, \"The legs of a trade\"):\n");
    printf("     customer %-6s debit   %20s %s\n", fiat, fmt_amt(paid, qs, a1), fiat);
    printf("     omnibus %-7s credit  %20s %s\n", fiat, fmt_amt(paid, qs, a1), fiat);
    printf("     omnibus %-7s debit   %20s %s\n", crypto, fmt_amt(got, bs, a2), crypto);
    printf("     customer %-6s credit  %20s %s\n", crypto, fmt_amt(got, bs, a2), crypto);
    printf("     spread revenue  credit  %20s %s\n", fmt_amt(r.spread.units, qs, a3), fiat);
    printf("     (venue notional %s %s, venue fees %s %s)\n", fmt_amt(r.notional.units, qs, a4),
           fiat, fmt_amt(r.fees.units, qs, a1), fiat);

    xr_engine_balance fb, cb;
    balance_of(c, cust, fiat, &fb);
    balance_of(c, cust, crypto, &cb);
    check(fb.balance.units == 1000 * one - paid && fb.reserved.units == 0,
          "customer %s balance %s = 1000 - %s, nothing reserved", fiat,
          fmt_amt(fb.balance.units, fs, a1), fmt_amt(paid, qs, a2));
    check(cb.balance.units == got, "customer %s balance %s", crypto,
          fmt_amt(cb.balance.units, bs, a1));

    /* 3. the same key again: the stored report, nothing booked. */
    cmd.u.order = oc;
    err = call(c, &cmd, &ev);
    int same = err == XR_OK && ev.kind == XR_ENGINE_EV_EXEC_REPORT && ev.u.report.replayed &&
               ev.u.report.filled.units == r.filled.units &&
               ev.u.report.quote.units == r.quote.units &&
               ev.u.report.spread.units == r.spread.units && ev.u.report.status == r.status;
    check(same, "same key %s again: the same report, replayed", k);
    xr_engine_balance fb2, cb2;
    balance_of(c, cust, fiat, &fb2);
    balance_of(c, cust, crypto, &cb2);
    check(fb2.balance.units == fb.balance.units && cb2.balance.units == cb.balance.units,
          "nothing booked by the resend: %s %s, %s %s", fiat, fmt_amt(fb2.balance.units, fs, a1),
          crypto, fmt_amt(cb2.balance.units, bs, a2));

    /* 4. beyond the balance: about 1,000 fiat with about 900 left. */
    xr_engine_order_cmd big = oc;
    random_key(&big.key);
    if (oc.amount_side == XR_ENGINE_AMOUNT_BASE)
        big.amount.units = r.filled.units * 10; /* ten times what 100 bought */
    else
        big.amount.units = 1000 * one;
    cmd.u.order = big;
    err = call(c, &cmd, &ev);
    check(err == XR_OK && ev.kind == XR_ENGINE_EV_REJECT &&
              ev.u.reject.err == XR_ERR_INSUFFICIENT_FUNDS,
          "a buy for about 1000 %s with %s left: %s", fiat, fmt_amt(fb2.available.units, fs, a1),
          err != XR_OK                          ? xr_err_name(err)
          : ev.kind == XR_ENGINE_EV_REJECT      ? xr_err_name(ev.u.reject.err)
          : ev.kind == XR_ENGINE_EV_EXEC_REPORT ? "executed"
                                                : "unexpected answer");
    xr_engine_balance fb3;
    balance_of(c, cust, fiat, &fb3);
    check(fb3.balance.units == fb.balance.units && fb3.reserved.units == 0,
          "nothing booked or reserved by the refusal: %s %s", fiat,
          fmt_amt(fb3.balance.units, fs, a1));
    xr_client_close(c);
    if (o->json)
        printf("{\"ok\":%s,\"failed\":%d,\"customer\":%" PRIu64 ",\"key\":\"%s\",\"pair\":\"%s\","
               "\"paid\":\"%s\",\"bought\":\"%s\",\"spread\":\"%s\",\"notional\":\"%s\","
               "\"fees\":\"%s\"}\n",
               checks_failed ? "false" : "true", checks_failed, cust, k, pair,
               fmt_amt(paid, qs, a1), fmt_amt(got, bs, a2), fmt_amt(r.spread.units, qs, a3),
               fmt_amt(r.notional.units, qs, a4), fmt_amt(r.fees.units, qs, a5));
    printf("== brief scenario: %s (%d failed)\n", checks_failed ? "FAILED" : "passed",
           checks_failed);
    return checks_failed ? EXIT_FAIL : EXIT_OK;
}

/* ---- load ------------------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value at quantile q of sorted v[0..n): nearest rank, ceil(q x n). */
static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static int run_load(const opts *o)
{
    if (o->rate == 0 || o->rate > 1000000)
        return usage_error("--rate wants 1..1000000 orders per second");
    const char *pair = o->pair ? o->pair : "BTC/USDT";
    const char *slash = strchr(pair, '/');
    char base[16] = "", quote[16] = "";
    if (slash == NULL || slash - pair >= 16 || strlen(slash + 1) >= 16)
        return usage_error("--pair wants BASE/QUOTE");
    memcpy(base, pair, (size_t)(slash - pair));
    snprintf(quote, sizeof quote, "%s", slash + 1);
    xr_asset_registry reg;
    xr_assets_init_default(&reg);
    const xr_asset *ba = xr_assets_find(&reg, base), *qa = xr_assets_find(&reg, quote);
    if (ba == NULL || qa == NULL)
        return usage_error("--pair: assets must be built in");
    xr_amount qty;
    const char *qty_text = o->qty ? o->qty : "0.0001";
    if (xr_amount_parse(qty_text, strlen(qty_text), ba->scale, 0, &qty, NULL) != XR_OK ||
        qty.units <= 0)
        return usage_error("--qty '%s' is not a positive amount of %s", qty_text, base);
    size_t total = (size_t)(o->rate * o->duration_s);
    if (total == 0)
        return usage_error("--rate x --duration is zero orders");
    uint64_t ncust = o->customers ? o->customers : 8;

    xr_client *c;
    int rc = connect_bank(o, 30000, &c);
    if (rc != EXIT_OK)
        return rc;
    /* Customers, each funded for every order it might send. */
    uint64_t cust0;
    if (getrandom(&cust0, sizeof cust0, 0) != (ssize_t)sizeof cust0)
        abort();
    cust0 = 2000000000 + (cust0 % 1000000) * 1000;
    for (uint64_t i = 0; i < ncust; i++) {
        xr_engine_cmd cmd = {.kind = XR_ENGINE_CMD_CUSTOMER_UPSERT, .customer_id = cust0 + i};
        xr_engine_event ev;
        xr_err err = call(c, &cmd, &ev);
        if (err != XR_OK || ev.kind != XR_ENGINE_EV_CUSTOMER) {
            fprintf(stderr, "error: %s: registering customer\n",
                    xr_err_name(err != XR_OK ? err : ev.u.reject.err));
            xr_client_close(c);
            return EXIT_FAIL;
        }
        const char *assets2[2] = {base, quote};
        for (int a = 0; a < 2; a++) {
            memset(&cmd, 0, sizeof cmd);
            cmd.kind = XR_ENGINE_CMD_FUND;
            cmd.customer_id = cust0 + i;
            random_key(&cmd.u.fund.key);
            snprintf(cmd.u.fund.asset, sizeof cmd.u.fund.asset, "%s", assets2[a]);
            /* base: every order's quantity; quote: 10^7 whole units */
            xr_i128 p10 = 1;
            for (unsigned s = 0; s < qa->scale; s++)
                p10 *= 10;
            cmd.u.fund.amount.units =
                a == 0 ? qty.units * (xr_i128)(total / ncust + 1) : p10 * 10000000;
            err = call(c, &cmd, &ev);
            if (err != XR_OK || ev.kind != XR_ENGINE_EV_FUNDING) {
                fprintf(stderr, "error: %s: funding customer\n",
                        xr_err_name(err != XR_OK ? err : ev.u.reject.err));
                xr_client_close(c);
                return EXIT_FAIL;
            }
        }
    }

    uint64_t *intended = calloc(total, sizeof *intended);
    uint64_t *lat = calloc(total, sizeof *lat);
    uint8_t *answered = calloc(total, 1);
    uint64_t *sorted = calloc(total, sizeof *sorted);
    if (!intended || !lat || !answered || !sorted) {
        fprintf(stderr, "error: NO_MEMORY: %zu orders\n", total);
        xr_client_close(c);
        return EXIT_FAIL;
    }
    uint64_t run_id;
    if (getrandom(&run_id, sizeof run_id, 0) != (ssize_t)sizeof run_id)
        abort();
    /* correlation ids: corr_base + i, far above what the library assigns by itself */
    uint64_t corr_base = (uint64_t)1 << 62;
    uint64_t counts[XR_ENGINE_EV__COUNT] = {0}, rejects[XR_ERR__COUNT + 1] = {0};
    uint64_t not_filled[XR_ERR__COUNT + 1] = {0}; /* reports not FILLED, by their err */
    uint64_t failed_reports = 0;
    size_t sent = 0, got = 0;
    uint64_t period_ns = XR_NS_PER_SEC / o->rate;
    uint64_t rem_ns = XR_NS_PER_SEC % o->rate;
    static xr_engine_event evs[256];
    xr_err err = XR_OK;
    uint64_t t0 = xr_clock_mono_ns() + 10 * XR_NS_PER_MS;
    uint64_t end_wait = 0;
    for (;;) {
        uint64_t now = xr_clock_mono_ns();
        /* send everything that is due (open loop: never waits for answers) */
        while (sent < total) {
            uint64_t due = t0 + sent * period_ns + (sent * rem_ns) / o->rate;
            if (due > now)
                break;
            xr_engine_cmd cmd = {.kind = XR_ENGINE_CMD_NEW_ORDER};
            cmd.customer_id = cust0 + sent % ncust;
            cmd.correlation_id = corr_base + sent;
            xr_engine_order_cmd *oc = &cmd.u.order;
            memcpy(oc->key.bytes, &run_id, 8);
            uint64_t i64 = sent + 1;
            memcpy(oc->key.bytes + 8, &i64, 8);
            snprintf(oc->pair, sizeof oc->pair, "%s", pair);
            oc->side = (sent / ncust) % 2 == 0 ? XR_ENGINE_BUY : XR_ENGINE_SELL;
            oc->type = XR_ENGINE_MARKET;
            oc->amount_side = XR_ENGINE_AMOUNT_BASE;
            oc->amount = qty;
            err = xr_client_submit(c, &cmd, NULL);
            if (err == XR_ERR_NO_MEMORY)
                break; /* the receive queue is full: poll first */
            if (err != XR_OK)
                goto out;
            intended[sent++] = due;
        }
        size_t n = 0;
        /* wait for answers until the next send is due (at most 1 ms; whole ms only, so the
         * last < 1 ms before a send is polled): a spinning loader would take a core from the
         * server it measures */
        int wait_ms = 1;
        if (sent < total) {
            uint64_t due = t0 + sent * period_ns + (sent * rem_ns) / o->rate;
            uint64_t t = xr_clock_mono_ns();
            if (due < t + XR_NS_PER_MS)
                wait_ms = 0;
        }
        err = xr_client_poll(c, evs, NULL, sizeof evs / sizeof evs[0], &n, wait_ms);
        if (err != XR_OK)
            goto out;
        uint64_t at = xr_clock_mono_ns();
        for (size_t i = 0; i < n; i++) {
            uint64_t corr = evs[i].correlation_id;
            if (corr < corr_base || corr - corr_base >= sent || answered[corr - corr_base])
                continue; /* a replayed answer of an earlier session */
            size_t idx = (size_t)(corr - corr_base);
            answered[idx] = 1;
            lat[idx] = at - intended[idx];
            got++;
            if (evs[i].kind < XR_ENGINE_EV__COUNT)
                counts[evs[i].kind]++;
            if (evs[i].kind == XR_ENGINE_EV_REJECT)
                rejects[evs[i].u.reject.err < XR_ERR__COUNT ? evs[i].u.reject.err
                                                            : XR_ERR__COUNT]++;
            else if (evs[i].kind == XR_ENGINE_EV_EXEC_REPORT &&
                     evs[i].u.report.status != XR_ENGINE_ORDER_FILLED) {
                failed_reports++;
                not_filled[evs[i].u.report.err < XR_ERR__COUNT ? evs[i].u.report.err
                                                               : XR_ERR__COUNT]++;
            }
        }
        if (sent == total) {
            if (end_wait == 0)
                end_wait = at + 10 * XR_NS_PER_SEC;
            if (got == total || at > end_wait)
                break;
        }
    }
out:;
    uint64_t t_end = xr_clock_mono_ns();
    xr_client_close(c);
    if (err != XR_OK)
        fprintf(stderr, "error: %s: the session failed after %zu orders sent\n", xr_err_name(err),
                sent);
    size_t m = 0;
    for (size_t i = 0; i < sent; i++)
        if (answered[i])
            sorted[m++] = lat[i];
    qsort(sorted, m, sizeof *sorted, cmp_u64);
    double secs = (double)(t_end - t0) / 1e9;
    uint64_t p50 = quantile(sorted, m, 0.50), p90 = quantile(sorted, m, 0.90),
             p99 = quantile(sorted, m, 0.99), p999 = quantile(sorted, m, 0.999),
             mx = m ? sorted[m - 1] : 0;
    uint64_t filled = counts[XR_ENGINE_EV_EXEC_REPORT] - failed_reports;
    if (o->json) {
        printf("{\"ok\":%s,\"rate\":%" PRIu64 ",\"duration_s\":%" PRIu64 ",\"sent\":%zu,"
               "\"answered\":%zu,\"filled\":%" PRIu64 ",\"failed_reports\":%" PRIu64
               ",\"rejects\":%" PRIu64 ",\"seconds\":%.3f,"
               "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
               "\"reject_names\":{",
               err == XR_OK && got == total ? "true" : "false", o->rate, o->duration_s, sent, got,
               filled, failed_reports, counts[XR_ENGINE_EV_REJECT], secs, p50 / 1e3, p90 / 1e3,
               p99 / 1e3, p999 / 1e3, mx / 1e3);
        int first = 1;
        for (int e = 0; e <= XR_ERR__COUNT; e++)
            if (rejects[e]) {
                printf("%s\"%s\":%" PRIu64, first ? "" : ",", xr_err_name((xr_err)e), rejects[e]);
                first = 0;
            }
        printf("},\"not_filled_names\":{");
        first = 1;
        for (int e = 0; e <= XR_ERR__COUNT; e++)
            if (not_filled[e]) {
                printf("%s\"%s\":%" PRIu64, first ? "" : ",", xr_err_name((xr_err)e),
                       not_filled[e]);
                first = 0;
            }
        printf("}}\n");
    } else {
        printf("load %s: %" PRIu64 " orders/s intended for %" PRIu64 " s: %zu sent, %zu answered "
               "(%" PRIu64 " filled, %" PRIu64 " not filled, %" PRIu64 " rejected) in %.2f s = "
               "%.0f answers/s\n",
               pair, o->rate, o->duration_s, sent, got, filled, failed_reports,
               counts[XR_ENGINE_EV_REJECT], secs, (double)got / secs);
        for (int e = 0; e <= XR_ERR__COUNT; e++)
            if (rejects[e])
                printf("  rejected %-24s %" PRIu64 "\n", xr_err_name((xr_err)e), rejects[e]);
        for (int e = 0; e <= XR_ERR__COUNT; e++)
            if (not_filled[e])
                printf("  not filled %-22s %" PRIu64 "\n", xr_err_name((xr_err)e), not_filled[e]);
        printf("latency from intended send (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max "
               "%.1f\n",
               p50 / 1e3, p90 / 1e3, p99 / 1e3, p999 / 1e3, mx / 1e3);
    }
    if (o->out) {
        FILE *f = fopen(o->out, "w");
        if (f == NULL) {
            fprintf(stderr, "error: IO: %s: %s\n", o->out, strerror(errno));
        } else {
            for (size_t i = 0; i < sent; i++)
                answered[i] ? fprintf(f, "%" PRIu64 "\n", lat[i]) : fprintf(f, "-1\n");
            fclose(f);
        }
    }
    free(intended);
    free(lat);
    free(answered);
    free(sorted);
    return err == XR_OK && got == total ? EXIT_OK : EXIT_FAIL;
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.duration_s = 5;
    if (argc < 2) {
        help(stderr);
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return EXIT_OK;
        }
    o.mode = argv[1];
    if (strcmp(o.mode, "brief") != 0 && strcmp(o.mode, "load") != 0)
        return usage_error("unknown scenario '%s' (brief or load)", o.mode);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o.json = 1;
            continue;
        }
        if (v == NULL)
            return usage_error("'%s' needs a value", a);
        if (strcmp(a, "--connect") == 0)
            o.connect = v;
        else if (strcmp(a, "--bank") == 0)
            o.bank = v;
        else if (strcmp(a, "--key-id") == 0)
            o.key_id = v;
        else if (strcmp(a, "--secret") == 0)
            o.secret = v;
        else if (strcmp(a, "--credentials") == 0)
            o.credentials = v;
        else if (strcmp(a, "--tls-ca") == 0)
            o.tls_ca = v;
        else if (strcmp(a, "--tls-name") == 0)
            o.tls_name = v;
        else if (strcmp(a, "--pair") == 0)
            o.pair = v;
        else if (strcmp(a, "--qty") == 0 && strcmp(o.mode, "load") == 0)
            o.qty = v;
        else if (strcmp(a, "--out") == 0 && strcmp(o.mode, "load") == 0)
            o.out = v;
        else if (strcmp(a, "--customer") == 0 && strcmp(o.mode, "brief") == 0) {
            if (!parse_u64(v, &o.customer) || o.customer == 0)
                return usage_error("--customer wants a number above 0");
        } else if (strcmp(a, "--rate") == 0 && strcmp(o.mode, "load") == 0) {
            if (!parse_u64(v, &o.rate))
                return usage_error("--rate wants orders per second");
        } else if (strcmp(a, "--duration") == 0 && strcmp(o.mode, "load") == 0) {
            if (!parse_u64(v, &o.duration_s) || o.duration_s == 0 || o.duration_s > 3600)
                return usage_error("--duration wants 1..3600 seconds");
        } else if (strcmp(a, "--customers") == 0 && strcmp(o.mode, "load") == 0) {
            if (!parse_u64(v, &o.customers) || o.customers == 0 || o.customers > 4096)
                return usage_error("--customers wants 1..4096");
        } else
            return usage_error("unknown option '%s' for %s", a, o.mode);
        i++;
    }
    return strcmp(o.mode, "brief") == 0 ? run_brief(&o) : run_load(&o);
}
