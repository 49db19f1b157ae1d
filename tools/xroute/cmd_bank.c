/*
 * xroute customer|fund|defund|quote|buy|sell|convert|cancel|order|orders|balances|book|
 * ticker|ohlc|pairs: the bank protocol from the command line, over the client library
 * (include/xroute/client.h). Each command connects, logs on, sends one request (two for a
 * LIMIT order, which first reads the pair's price scale from BOOK), prints the answer and
 * logs out.
 *
 * Connection (every command): --connect HOST:PORT [XROUTE_CONNECT, else 127.0.0.1:7400],
 * --bank ID [XROUTE_BANK], --key-id ID [XROUTE_KEY_ID], --secret HEX [XROUTE_BANK_SECRET],
 * or --credentials FILE [XROUTE_CREDENTIALS] (`key = value` lines bank_id, key_id, secret,
 * connect, or the XROUTE_* names as in xrouted's <data_dir>/demo-bank.env, which is read from
 * ./var/xroute when nothing else names a bank); flags win over the file, the file over the
 * environment. Secrets are hex digits (xrouted's bank secrets are 32 random bytes). TLS:
 * --tls-ca FILE [XROUTE_TLS_CA] and --tls-name NAME [XROUTE_TLS_NAME] (or tls_ca, tls_name in
 * the file); without a trust anchor the session is plain TCP.
 *
 * Amounts are decimal text parsed exactly at the asset's scale (core/base/money: "100.5" AZN
 * is 10050 minor units; more decimals than the scale is INVALID_AMOUNT, never rounded).
 * Output: a human table by default, one JSON object with --json (amounts as strings).
 * Exit codes: 0 ok; 1 the request was refused or failed (the error's stable name is printed,
 * "error: NAME: message" on stderr, and in JSON as "error"); 2 bad arguments.
 */
#define _GNU_SOURCE /* strptime, timegm, strcasecmp */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "tools/xroute/cmd.h"
#include "tools/xroute/credentials.h"
#include "xroute/client.h"
#include "xroute/engine.h"
#include "xroute/money.h"

/* ---- options ------------------------------------------------------------------------------- */

enum {
    O_KEY = 1u << 0,
    O_TIER = 1u << 1,
    O_DEPTH = 1u << 2,
    O_LIMIT = 1u << 3,
    O_CURSOR = 1u << 4,
    O_STATUS = 1u << 5,
    O_PAIR = 1u << 6,
    O_SIDE = 1u << 7,
    O_TYPE = 1u << 8,
    O_FROM = 1u << 9,
    O_TO = 1u << 10,
    O_INTERVAL = 1u << 11,
    O_TIF = 1u << 12,
    O_PRICE = 1u << 13,
    O_QUOTE_ID = 1u << 14,
    O_SCALE = 1u << 15,
    O_EXPIRE = 1u << 16,
};

#define MAX_POS 8

typedef struct bank_opts {
    const char *cmd;
    /* connection */
    const char *connect;
    const char *bank;
    const char *key_id;
    const char *secret;
    const char *credentials;
    const char *state;
    const char *tls_ca, *tls_name;
    uint32_t timeout_ms;
    int json;
    /* per command */
    unsigned given; /* O_* seen */
    const char *key, *tier, *depth, *limit, *cursor, *status, *pair, *side, *type, *from, *to,
        *interval, *tif, *price, *quote_id, *scale, *expire;
    const char *pos[MAX_POS];
    int npos;
} bank_opts;

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: USAGE: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'xroute %s --help')\n", cmd);
    va_end(ap);
    return XR_CLI_USAGE;
}

/* A failure: the stable name on stderr; with --json also one object on stdout, so a script
 * that parses stdout always gets JSON. */
static int fail(const bank_opts *o, xr_err err, const char *what)
{
    fprintf(stderr, "error: %s: %s%s%s\n", xr_err_name(err), xr_err_message(err), what ? ": " : "",
            what ? what : "");
    if (o != NULL && o->json)
        printf("{\"ok\":false,\"error\":\"%s\"}\n", xr_err_name(err));
    return XR_CLI_FAIL;
}

static const struct {
    const char *name;
    unsigned bit;
} option_table[] = {
    {"--key", O_KEY},     {"--tier", O_TIER},     {"--depth", O_DEPTH},
    {"--limit", O_LIMIT}, {"--cursor", O_CURSOR}, {"--status", O_STATUS},
    {"--pair", O_PAIR},   {"--side", O_SIDE},     {"--type", O_TYPE},
    {"--from", O_FROM},   {"--to", O_TO},         {"--interval", O_INTERVAL},
    {"--tif", O_TIF},     {"--price", O_PRICE},   {"--quote-id", O_QUOTE_ID},
    {"--scale", O_SCALE}, {"--expire", O_EXPIRE},
};

static const char **option_slot(bank_opts *o, unsigned bit)
{
    switch (bit) {
    case O_KEY:
        return &o->key;
    case O_TIER:
        return &o->tier;
    case O_DEPTH:
        return &o->depth;
    case O_LIMIT:
        return &o->limit;
    case O_CURSOR:
        return &o->cursor;
    case O_STATUS:
        return &o->status;
    case O_PAIR:
        return &o->pair;
    case O_SIDE:
        return &o->side;
    case O_TYPE:
        return &o->type;
    case O_FROM:
        return &o->from;
    case O_TO:
        return &o->to;
    case O_INTERVAL:
        return &o->interval;
    case O_TIF:
        return &o->tif;
    case O_PRICE:
        return &o->price;
    case O_QUOTE_ID:
        return &o->quote_id;
    case O_SCALE:
        return &o->scale;
    default:
        return &o->expire;
    }
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

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v > max)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* Parses argv into `o`, accepting the options in `allowed`. */
static int parse_args(int argc, char **argv, unsigned allowed, bank_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = argv[0];
    o->timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            /* A negative number is never a valid positional here: "-5" is refused below by
             * the amount parser with a clear message, so it is taken as a positional. */
            if (o->npos == MAX_POS)
                return usage_error(o->cmd, "too many arguments");
            o->pos[o->npos++] = a;
            continue;
        }
        if (v == NULL)
            return usage_error(o->cmd, "option '%s' needs a value", a);
        if (strcmp(a, "--connect") == 0) {
            o->connect = v;
        } else if (strcmp(a, "--bank") == 0) {
            o->bank = v;
        } else if (strcmp(a, "--key-id") == 0) {
            o->key_id = v;
        } else if (strcmp(a, "--secret") == 0) {
            o->secret = v;
        } else if (strcmp(a, "--credentials") == 0) {
            o->credentials = v;
        } else if (strcmp(a, "--state") == 0) {
            o->state = v;
        } else if (strcmp(a, "--tls-ca") == 0) {
            o->tls_ca = v;
        } else if (strcmp(a, "--tls-name") == 0) {
            o->tls_name = v;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            if (!parse_u32(v, 3600000, &o->timeout_ms) || o->timeout_ms == 0)
                return usage_error(o->cmd, "--timeout-ms wants 1..3600000");
        } else {
            unsigned bit = 0;
            for (size_t k = 0; k < sizeof option_table / sizeof option_table[0]; k++)
                if (strcmp(a, option_table[k].name) == 0)
                    bit = option_table[k].bit;
            if (bit == 0 || !(allowed & bit))
                return usage_error(o->cmd, "unknown option '%s' for %s", a, o->cmd);
            *option_slot(o, bit) = v;
            o->given |= bit;
        }
        i++;
    }
    return XR_CLI_OK;
}

/* ---- connection ---------------------------------------------------------------------------- */

#define DEMO_ENV "var/xroute/demo-bank.env"

typedef xr_cli_creds credentials;

/* Reads a credentials file (the text rules of tools/xroute/credentials.h), at most 64 KiB. */
static xr_err read_credentials(const char *path, credentials *c, char *why, size_t why_cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, why_cap, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? XR_ERR_NOT_FOUND : XR_ERR_IO;
    }
    static char text[65536];
    size_t n = fread(text, 1, sizeof text, f);
    int more = fgetc(f) != EOF, bad_read = ferror(f);
    fclose(f);
    if (bad_read) {
        snprintf(why, why_cap, "%s: read failed", path);
        return XR_ERR_IO;
    }
    if (more) {
        snprintf(why, why_cap, "%s: longer than %zu bytes", path, sizeof text);
        return XR_ERR_CONFIG;
    }
    unsigned bad = xr_cli_creds_parse(text, n, c);
    if (bad != 0) {
        snprintf(why, why_cap,
                 "%s:%u: not a 'key = value' line, a value too long, or an id that is not a "
                 "number",
                 path, bad);
        return XR_ERR_CONFIG;
    }
    return XR_OK;
}

/* Opens the session described by the options; on failure prints the error and returns the
 * exit code (non-zero). */
static int bank_open(const bank_opts *o, xr_client **out)
{
    credentials cr;
    memset(&cr, 0, sizeof cr);
    const char *env;
    if ((env = getenv("XROUTE_CONNECT")) != NULL)
        snprintf(cr.connect, sizeof cr.connect, "%s", env);
    if ((env = getenv("XROUTE_BANK")) != NULL)
        cr.have_bank = parse_u64(env, &cr.bank_id);
    if ((env = getenv("XROUTE_KEY_ID")) != NULL)
        cr.have_key_id = parse_u64(env, &cr.key_id);
    if ((env = getenv("XROUTE_BANK_SECRET")) != NULL)
        cr.have_secret = snprintf(cr.secret, sizeof cr.secret, "%s", env) < (int)sizeof cr.secret;
    if ((env = getenv("XROUTE_TLS_CA")) != NULL)
        snprintf(cr.tls_ca, sizeof cr.tls_ca, "%s", env);
    if ((env = getenv("XROUTE_TLS_NAME")) != NULL)
        snprintf(cr.tls_name, sizeof cr.tls_name, "%s", env);
    const char *file = o->credentials ? o->credentials : getenv("XROUTE_CREDENTIALS");
    /* Nothing given at all: the demo bank of an xrouted started here on its embedded
     * defaults (docs/operations.md, "Demo bank"). */
    if (file == NULL && !cr.have_bank && !o->bank && access(DEMO_ENV, R_OK) == 0)
        file = DEMO_ENV;
    if (file != NULL) {
        char why[300];
        xr_err err = read_credentials(file, &cr, why, sizeof why);
        if (err != XR_OK)
            return fail(o, err, why);
    }
    if (o->connect)
        snprintf(cr.connect, sizeof cr.connect, "%s", o->connect);
    if (o->tls_ca)
        snprintf(cr.tls_ca, sizeof cr.tls_ca, "%s", o->tls_ca);
    if (o->tls_name)
        snprintf(cr.tls_name, sizeof cr.tls_name, "%s", o->tls_name);
    if (o->bank && !(cr.have_bank = parse_u64(o->bank, &cr.bank_id)))
        return usage_error(o->cmd, "--bank wants a bank id");
    if (o->key_id && !(cr.have_key_id = parse_u64(o->key_id, &cr.key_id)))
        return usage_error(o->cmd, "--key-id wants a key id");
    if (o->secret)
        cr.have_secret =
            snprintf(cr.secret, sizeof cr.secret, "%s", o->secret) < (int)sizeof cr.secret;
    if (cr.connect[0] == '\0')
        snprintf(cr.connect, sizeof cr.connect, "127.0.0.1:7400");
    if (!cr.have_bank || cr.bank_id == 0 || cr.bank_id >= (1u << 24))
        return usage_error(o->cmd, "no bank id: --bank, XROUTE_BANK or a credentials file");
    if (!cr.have_key_id || cr.key_id > UINT32_MAX)
        return usage_error(o->cmd, "no key id: --key-id, XROUTE_KEY_ID or a credentials file");
    if (!cr.have_secret || cr.secret[0] == '\0')
        return usage_error(o->cmd, "no secret: --secret, XROUTE_BANK_SECRET or a credentials file");
    /* host:port, numeric; [v6]:port too. */
    char host[96];
    const char *colon = strrchr(cr.connect, ':');
    uint32_t port = 0;
    if (colon == NULL || colon == cr.connect || !parse_u32(colon + 1, 65535, &port) || port == 0 ||
        (size_t)(colon - cr.connect) >= sizeof host)
        return usage_error(o->cmd, "--connect wants HOST:PORT, got '%s'", cr.connect);
    memcpy(host, cr.connect, (size_t)(colon - cr.connect));
    host[colon - cr.connect] = '\0';
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']')
            return usage_error(o->cmd, "--connect wants HOST:PORT, got '%s'", cr.connect);
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }

    xr_client_config cc;
    xr_client_config_default(&cc);
    snprintf(cc.host, sizeof cc.host, "%s", host);
    cc.port = (uint16_t)port;
    cc.bank_id = (uint32_t)cr.bank_id;
    cc.key_id = (uint32_t)cr.key_id;
    size_t slen;
    if (!xr_cli_hex_decode(cr.secret, cc.secret, sizeof cc.secret, &slen))
        return usage_error(o->cmd, "the secret is 2..%zu hex digits (1..%zu bytes)",
                           2 * sizeof cc.secret, sizeof cc.secret);
    cc.secret_len = (uint32_t)slen;
    cc.connect_timeout_ms = o->timeout_ms;
    cc.call_timeout_ms = o->timeout_ms;
    cc.reconnect = 0; /* one request per run: a lost session is reported, not retried */
    /* TLS when a trust anchor is given: the server's chain must lead to it and name
     * tls_name (default: the host) */
    snprintf(cc.tls_ca_path, sizeof cc.tls_ca_path, "%s", cr.tls_ca);
    snprintf(cc.tls_server_name, sizeof cc.tls_server_name, "%s", cr.tls_name);
    if (o->state)
        snprintf(cc.state_path, sizeof cc.state_path, "%s", o->state);
    xr_err err = xr_client_connect(&cc, out);
    if (err != XR_OK) {
        char what[160];
        snprintf(what, sizeof what, "logon to %s as bank %" PRIu64, cr.connect, cr.bank_id);
        return fail(o, err, what);
    }
    return XR_CLI_OK;
}

/* Sends `cmd` and waits for its answer. XR_OK with `*ev` the answer (which may be a reject
 * event); otherwise the session failed (IO, TIMEOUT, ...).
 *
 * The CLI logs on as the bank with no memory of earlier sessions (unless --state), so the
 * server first replays the responses the bank has not acknowledged; they are read and passed
 * over here (the answer is matched by a random correlation id, which no replayed response
 * can carry by accident) rather than left to fill the client's receive queue. */
static xr_err bank_call(xr_client *c, const bank_opts *o, xr_engine_cmd *cmd, xr_engine_event *ev)
{
    uint64_t corr = 0;
    while (corr == 0) {
        if (getrandom(&corr, sizeof corr, 0) != (ssize_t)sizeof corr)
            return XR_ERR_IO;
        corr >>= 1; /* below 2^63: ids the library assigns itself count up from 1 */
    }
    cmd->correlation_id = corr;
    xr_err err = xr_client_submit(c, cmd, NULL);
    if (err != XR_OK)
        return err;
    uint64_t end = xr_clock_mono_ns() + (uint64_t)o->timeout_ms * XR_NS_PER_MS;
    static xr_engine_event evs[64];
    for (;;) {
        uint64_t now = xr_clock_mono_ns();
        if (now >= end)
            return XR_ERR_TIMEOUT;
        uint64_t left_ms = (end - now + XR_NS_PER_MS - 1) / XR_NS_PER_MS;
        size_t n = 0;
        err = xr_client_poll(c, evs, NULL, sizeof evs / sizeof evs[0], &n,
                             left_ms > 100 ? 100 : (int)left_ms);
        if (err != XR_OK)
            return err;
        for (size_t i = 0; i < n; i++) {
            if (evs[i].correlation_id == corr) {
                *ev = evs[i];
                return XR_OK;
            }
        }
    }
}

/* ---- values -------------------------------------------------------------------------------- */

static xr_asset_registry assets;

/* The scale of `code`: --scale when given, else the built-in registry (money.h). */
static int asset_scale(const bank_opts *o, const char *code, unsigned *scale)
{
    if (o->scale) {
        uint32_t s;
        if (!parse_u32(o->scale, XR_SCALE_MAX, &s))
            return usage_error(o->cmd, "--scale wants 0..%d", XR_SCALE_MAX);
        *scale = s;
        return XR_CLI_OK;
    }
    if (assets.count == 0)
        xr_assets_init_default(&assets);
    const xr_asset *a = xr_assets_find(&assets, code);
    if (a == NULL) {
        fprintf(stderr,
                "error: UNKNOWN_ASSET: '%s' is not a built-in asset; give its scale with "
                "--scale N\n",
                code);
        return XR_CLI_USAGE;
    }
    *scale = a->scale;
    return XR_CLI_OK;
}

static int check_asset_code(const bank_opts *o, const char *code)
{
    size_t n = strlen(code);
    if (n < 2 || n > XR_ASSET_CODE_MAX)
        return usage_error(o->cmd, "'%s' is not an asset code (2..%d of A-Z, 0-9)", code,
                           XR_ASSET_CODE_MAX);
    for (size_t i = 0; i < n; i++)
        if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= '0' && code[i] <= '9')))
            return usage_error(o->cmd, "'%s' is not an asset code (2..%d of A-Z, 0-9)", code,
                               XR_ASSET_CODE_MAX);
    return XR_CLI_OK;
}

/* A positive amount of `scale` digits, exactly. */
static int parse_amount(const bank_opts *o, const char *text, unsigned scale, xr_amount *out)
{
    xr_parse_error pe;
    xr_err err = xr_amount_parse(text, strlen(text), scale, 0, out, &pe);
    if (err != XR_OK) {
        fprintf(stderr,
                "error: %s: amount '%s': %s at byte %zu (the asset has %u decimals)\n(see "
                "'xroute %s --help')\n",
                xr_err_name(err), text, xr_decimal_fault_name(pe.fault), pe.offset, scale, o->cmd);
        return XR_CLI_USAGE;
    }
    if (out->units <= 0) {
        fprintf(stderr, "error: INVALID_AMOUNT: amount '%s' must be above zero\n", text);
        return XR_CLI_USAGE;
    }
    return XR_CLI_OK;
}

static int parse_customer(const bank_opts *o, const char *text, uint64_t *out)
{
    if (!parse_u64(text, out) || *out == 0)
        return usage_error(o->cmd, "'%s' is not a customer id (a number above 0)", text);
    return XR_CLI_OK;
}

/* "BASE/QUOTE" split in place into two codes. */
static int parse_pair(const bank_opts *o, const char *text, char pair[XR_ENGINE_PAIR_NAME_MAX],
                      char base[XR_ASSET_CODE_MAX + 1], char quote[XR_ASSET_CODE_MAX + 1])
{
    const char *slash = strchr(text, '/');
    size_t n = strlen(text);
    if (slash == NULL || n >= XR_ENGINE_PAIR_NAME_MAX || slash == text ||
        (size_t)(slash - text) > XR_ASSET_CODE_MAX || strlen(slash + 1) > XR_ASSET_CODE_MAX)
        return usage_error(o->cmd, "'%s' is not a pair (BASE/QUOTE, e.g. BTC/USDT)", text);
    memcpy(base, text, (size_t)(slash - text));
    base[slash - text] = '\0';
    snprintf(quote, XR_ASSET_CODE_MAX + 1, "%s", slash + 1);
    int rc;
    if ((rc = check_asset_code(o, base)) != XR_CLI_OK || (rc = check_asset_code(o, quote)) != 0)
        return rc;
    snprintf(pair, XR_ENGINE_PAIR_NAME_MAX, "%s", text);
    return XR_CLI_OK;
}

static void key_hex(const xr_engine_key *k, char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", k->bytes[i]);
}

/* --key HEX (exactly 32 hex digits, not all zero), or a fresh random key. */
static int parse_key(const bank_opts *o, const char *text, xr_engine_key *k, int *generated)
{
    memset(k, 0, sizeof *k);
    *generated = 0;
    if (text == NULL) {
        do {
            if (getrandom(k->bytes, sizeof k->bytes, 0) != (ssize_t)sizeof k->bytes)
                return fail(o, XR_ERR_IO, "getrandom for an idempotency key");
        } while (k->bytes[0] == 0 && memcmp(k->bytes, k->bytes + 1, 15) == 0);
        *generated = 1;
        return XR_CLI_OK;
    }
    int nonzero = 0;
    if (strlen(text) != 32)
        return usage_error(o->cmd, "a key is 32 hex digits (16 bytes), got '%s'", text);
    for (int i = 0; i < 16; i++) {
        int hi = xr_cli_hexval(text[2 * i]), lo = xr_cli_hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return usage_error(o->cmd, "a key is 32 hex digits (16 bytes), got '%s'", text);
        k->bytes[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= k->bytes[i];
    }
    if (!nonzero)
        return usage_error(o->cmd, "the all-zero key is not a valid idempotency key");
    return XR_CLI_OK;
}

static int parse_side(const bank_opts *o, const char *text, int allow_both, uint8_t *side)
{
    if (strcmp(text, "buy") == 0)
        *side = XR_ENGINE_BUY;
    else if (strcmp(text, "sell") == 0)
        *side = XR_ENGINE_SELL;
    else if (allow_both && strcmp(text, "both") == 0)
        *side = 0;
    else
        return usage_error(o->cmd, "side '%s': buy or sell%s", text, allow_both ? " or both" : "");
    return XR_CLI_OK;
}

/* RFC 3339 UTC ("2026-11-21T18:00:00Z", fractions allowed) or integer nanoseconds. */
static int parse_time(const bank_opts *o, const char *text, int64_t *out)
{
    uint64_t ns;
    if (parse_u64(text, &ns) && ns <= INT64_MAX) {
        *out = (int64_t)ns;
        return XR_CLI_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    int64_t frac = 0;
    if (p != NULL && *p == '.') {
        int64_t mul = 100000000;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * mul;
            mul /= 10;
        }
    }
    if (p == NULL || strcmp(p, "Z") != 0)
        return usage_error(o->cmd, "time '%s': RFC 3339 UTC (2026-11-21T18:00:00Z) or ns", text);
    time_t t = timegm(&tm);
    *out = (int64_t)t * (int64_t)XR_NS_PER_SEC + frac;
    return XR_CLI_OK;
}

/* ---- printing ------------------------------------------------------------------------------ */

static const char *amt(xr_amount a, unsigned scale, char *buf)
{
    if (xr_amount_format(a, scale, buf, XR_DECIMAL_STR_MAX) == 0)
        snprintf(buf, XR_DECIMAL_STR_MAX, "?");
    return buf;
}

static const char *px(xr_price p, unsigned scale, char *buf)
{
    if (xr_price_format(p, scale, buf, XR_DECIMAL_STR_MAX) == 0)
        snprintf(buf, XR_DECIMAL_STR_MAX, "?");
    return buf;
}

static const char *when(int64_t ns, char *buf)
{
    if (ns == 0 || xr_clock_format_rfc3339(ns, buf, XR_CLOCK_RFC3339_MAX) == 0)
        snprintf(buf, XR_CLOCK_RFC3339_MAX, "-");
    return buf;
}

static const char *side_name(uint8_t s)
{
    return s == XR_ENGINE_BUY ? "buy" : s == XR_ENGINE_SELL ? "sell" : "?";
}

static const char *const status_names[] = {"PENDING",   "OPEN",   "PARTIALLY_FILLED", "FILLED",
                                           "CANCELLED", "FAILED", "EXPIRED"};

static const char *status_name(uint8_t s)
{
    return s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "?";
}

static const char *type_name(uint8_t t)
{
    return t == XR_ENGINE_MARKET ? "market" : t == XR_ENGINE_LIMIT ? "limit" : "?";
}

static const char *tif_name(uint8_t t)
{
    static const char *const n[] = {"default", "gtc", "ioc", "fok", "gtd"};
    return t < 5 ? n[t] : "?";
}

static void split_pair(const char *pair, char base[XR_ASSET_CODE_MAX + 1],
                       char quote[XR_ASSET_CODE_MAX + 1])
{
    base[0] = quote[0] = '\0';
    const char *slash = strchr(pair, '/');
    if (slash == NULL || (size_t)(slash - pair) > XR_ASSET_CODE_MAX)
        return;
    memcpy(base, pair, (size_t)(slash - pair));
    base[slash - pair] = '\0';
    snprintf(quote, XR_ASSET_CODE_MAX + 1, "%s", slash + 1);
}

/* A string the server sent, escaped for a JSON string: the wire's text fields may hold any
 * printable ASCII, '"' and '\\' included. Eight rotating buffers: valid for eight calls. */
static const char *J(const char *s)
{
    static char bufs[8][2 * XR_CLIENT_PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 8];
    size_t o = 0;
    for (; *s != '\0' && o + 7 < sizeof bufs[0]; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            b[o++] = '\\';
            b[o++] = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            o += (size_t)snprintf(b + o, sizeof bufs[0] - o, "\\u%04x", c);
        } else {
            b[o++] = (char)c;
        }
    }
    b[o] = '\0';
    return b;
}

/* The answer was a reject: its name, exit 1. */
static int rejected(const bank_opts *o, const xr_engine_event *ev)
{
    fprintf(stderr, "error: %s: %s\n", xr_err_name(ev->u.reject.err),
            xr_err_message(ev->u.reject.err));
    if (o->json)
        printf("{\"ok\":false,\"error\":\"%s\",\"request\":\"%s\"}\n",
               xr_err_name(ev->u.reject.err),
               xr_engine_cmd_kind_name((xr_engine_cmd_kind)ev->u.reject.cmd_kind));
    return XR_CLI_FAIL;
}

/* An answer of an unexpected kind: the server broke the protocol's pairing. */
static int unexpected(const bank_opts *o, const xr_engine_event *ev)
{
    char what[96];
    snprintf(what, sizeof what, "unexpected answer '%s'",
             xr_engine_event_kind_name((xr_engine_event_kind)ev->kind));
    return fail(o, XR_ERR_INTERNAL, what);
}

/* The report block's fields, JSON members without braces. */
static void report_json(const xr_engine_exec_report_ev *r)
{
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1], k[33];
    char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
        a4[XR_DECIMAL_STR_MAX], a5[XR_DECIMAL_STR_MAX], a6[XR_DECIMAL_STR_MAX],
        a7[XR_DECIMAL_STR_MAX], t[XR_CLOCK_RFC3339_MAX];
    split_pair(r->pair, b, q);
    key_hex(&r->key, k);
    printf("\"key\":\"%s\",\"pair\":\"%s\",\"base_asset\":\"%s\",\"quote_asset\":\"%s\","
           "\"side\":\"%s\",\"status\":\"%s\",\"err\":\"%s\",\"replayed\":%s,\"venues\":%u,"
           "\"ordered\":\"%s\",\"filled\":\"%s\",\"quote\":\"%s\",\"notional\":\"%s\","
           "\"fees\":\"%s\",\"spread\":\"%s\",\"avg_price\":\"%s\",\"booked\":\"%s\","
           "\"booked_ns\":%" PRId64,
           k, J(r->pair), J(b), J(q), side_name(r->side), status_name(r->status),
           xr_err_name(r->err), r->replayed ? "true" : "false", r->venues,
           amt(r->ordered, r->base_scale, a1), amt(r->filled, r->base_scale, a2),
           amt(r->quote, r->quote_scale, a3), amt(r->notional, r->quote_scale, a4),
           amt(r->fees, r->quote_scale, a5), amt(r->spread, r->quote_scale, a6),
           px(r->avg_price, r->price_scale, a7), when(r->booked_ns, t), r->booked_ns);
}

static void report_human(const xr_engine_exec_report_ev *r)
{
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1], k[33];
    char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
        a4[XR_DECIMAL_STR_MAX], a5[XR_DECIMAL_STR_MAX], a6[XR_DECIMAL_STR_MAX],
        a7[XR_DECIMAL_STR_MAX], t[XR_CLOCK_RFC3339_MAX];
    split_pair(r->pair, b, q);
    key_hex(&r->key, k);
    printf("order     %s%s\n", k, r->replayed ? "  (replayed: the stored result)" : "");
    printf("status    %s%s%s\n", status_name(r->status), r->err ? "  " : "",
           r->err ? xr_err_name(r->err) : "");
    printf("pair      %s %s\n", r->pair, side_name(r->side));
    printf("filled    %s of %s %s\n", amt(r->filled, r->base_scale, a1),
           amt(r->ordered, r->base_scale, a2), b);
    printf("%-9s %s %s\n", r->side == XR_ENGINE_SELL ? "received" : "paid",
           amt(r->quote, r->quote_scale, a3), q);
    printf("notional  %s %s\nfees      %s %s\nspread    %s %s\n",
           amt(r->notional, r->quote_scale, a4), q, amt(r->fees, r->quote_scale, a5), q,
           amt(r->spread, r->quote_scale, a6), q);
    printf("avg price %s %s/%s\nvenues    %u\nbooked    %s\n", px(r->avg_price, r->price_scale, a7),
           q, b, r->venues, when(r->booked_ns, t));
}

/* ---- commands ------------------------------------------------------------------------------ */

typedef struct bank_command {
    const char *name;
    const char *usage;
    const char *help;
    unsigned options;
    int min_pos, max_pos;
    int (*run)(xr_client *c, const bank_opts *o);
    /* checks the arguments before connecting; fills the command */
    int (*prepare)(const bank_opts *o, xr_engine_cmd *cmd);
} bank_command;

static xr_engine_cmd prepared;
static int key_generated;

/* Sends the prepared command and checks that its answer is of `kind`. Returns -1 when `*ev`
 * holds that answer, else the command's exit code (already reported: transport failure,
 * reject, or an answer of another kind). */
static int call_expect(xr_client *cl, const bank_opts *o, xr_engine_event_kind kind,
                       const char *what, xr_engine_event *ev)
{
    xr_err err = bank_call(cl, o, &prepared, ev);
    if (err != XR_OK)
        return fail(o, err, what);
    if (ev->kind == XR_ENGINE_EV_REJECT)
        return rejected(o, ev);
    if (ev->kind != kind)
        return unexpected(o, ev);
    return -1;
}

static int prep_customer(const bank_opts *o, xr_engine_cmd *c)
{
    int rc = parse_customer(o, o->pos[0], &c->customer_id);
    if (rc)
        return rc;
    c->kind = XR_ENGINE_CMD_CUSTOMER_UPSERT;
    uint32_t tier = 0;
    if (o->tier && !parse_u32(o->tier, 254, &tier))
        return usage_error(o->cmd, "--tier wants 0..254");
    c->u.customer.kyc_tier = (uint8_t)tier;
    return XR_CLI_OK;
}

static int run_customer(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_CUSTOMER, "customer", &ev);
    if (rc >= 0)
        return rc;
    if (o->json)
        printf("{\"ok\":true,\"customer\":%" PRIu64 ",\"kyc_tier\":%u,\"created\":%s}\n",
               ev.customer_id, ev.u.customer.kyc_tier, ev.u.customer.created ? "true" : "false");
    else
        printf("customer %" PRIu64 " %s, kyc tier %u\n", ev.customer_id,
               ev.u.customer.created ? "registered" : "updated", ev.u.customer.kyc_tier);
    return XR_CLI_OK;
}

/* fund|defund CUSTOMER AMOUNT ASSET */
static int prep_funding(const bank_opts *o, xr_engine_cmd *c)
{
    int rc;
    unsigned scale;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)) ||
        (rc = check_asset_code(o, o->pos[2])) || (rc = asset_scale(o, o->pos[2], &scale)) ||
        (rc = parse_amount(o, o->pos[1], scale, &c->u.fund.amount)) ||
        (rc = parse_key(o, o->key, &c->u.fund.key, &key_generated)))
        return rc;
    c->kind = strcmp(o->cmd, "fund") == 0 ? XR_ENGINE_CMD_FUND : XR_ENGINE_CMD_DEFUND;
    snprintf(c->u.fund.asset, sizeof c->u.fund.asset, "%s", o->pos[2]);
    return XR_CLI_OK;
}

static int run_funding(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    char k[33], a[XR_DECIMAL_STR_MAX];
    key_hex(&prepared.u.fund.key, k);
    xr_err err = bank_call(cl, o, &prepared, &ev);
    if (err != XR_OK) {
        fprintf(stderr, "key %s (send the same key again: it applies at most once)\n", k);
        return fail(o, err, o->cmd);
    }
    if (ev.kind == XR_ENGINE_EV_REJECT)
        return rejected(o, &ev);
    if (ev.kind != XR_ENGINE_EV_FUNDING)
        return unexpected(o, &ev);
    const xr_engine_funding_ev *f = &ev.u.funding;
    if (o->json)
        printf("{\"ok\":true,\"op\":\"%s\",\"customer\":%" PRIu64
               ",\"key\":\"%s\",\"asset\":\"%s\","
               "\"scale\":%u,\"amount\":\"%s\",\"replayed\":%s}\n",
               o->cmd, ev.customer_id, k, J(f->asset), f->scale, amt(f->amount, f->scale, a),
               f->replayed ? "true" : "false");
    else
        printf("%s customer %" PRIu64 ": %s %s%s\nkey %s\n",
               prepared.kind == XR_ENGINE_CMD_FUND ? "funded" : "defunded", ev.customer_id,
               amt(f->amount, f->scale, a), f->asset,
               f->replayed ? " (replayed: already applied, nothing booked)" : "", k);
    return XR_CLI_OK;
}

/* The amount's asset decides its side: the pair's base (default) or quote. */
static int amount_on_pair(const bank_opts *o, const char *amount, const char *asset,
                          const char *base, const char *quote, uint8_t *amount_side, xr_amount *out)
{
    int rc;
    unsigned scale;
    if (asset == NULL)
        asset = base;
    if (strcmp(asset, base) == 0)
        *amount_side = XR_ENGINE_AMOUNT_BASE;
    else if (strcmp(asset, quote) == 0)
        *amount_side = XR_ENGINE_AMOUNT_QUOTE;
    else
        return usage_error(o->cmd, "the amount's asset '%s' is neither %s nor %s", asset, base,
                           quote);
    if ((rc = asset_scale(o, asset, &scale)))
        return rc;
    return parse_amount(o, amount, scale, out);
}

/* quote CUSTOMER buy|sell PAIR AMOUNT [ASSET] */
static int prep_quote(const bank_opts *o, xr_engine_cmd *c)
{
    int rc;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    xr_engine_quote_cmd *qc = &c->u.quote;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)) ||
        (rc = parse_side(o, o->pos[1], 0, &qc->side)) ||
        (rc = parse_pair(o, o->pos[2], qc->pair, b, q)) ||
        (rc = amount_on_pair(o, o->pos[3], o->npos > 4 ? o->pos[4] : NULL, b, q, &qc->amount_side,
                             &qc->amount)))
        return rc;
    c->kind = XR_ENGINE_CMD_QUOTE;
    return XR_CLI_OK;
}

static int run_quote(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_QUOTE, "quote", &ev);
    if (rc >= 0)
        return rc;
    const xr_engine_quote_ev *x = &ev.u.quote;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1], a1[XR_DECIMAL_STR_MAX],
        a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX], a4[XR_DECIMAL_STR_MAX],
        a5[XR_DECIMAL_STR_MAX], a6[XR_DECIMAL_STR_MAX], t[XR_CLOCK_RFC3339_MAX];
    split_pair(x->pair, b, q);
    amt(x->base, x->base_scale, a1);
    amt(x->quote, x->quote_scale, a2);
    amt(x->notional, x->quote_scale, a3);
    amt(x->fees, x->quote_scale, a4);
    amt(x->spread, x->quote_scale, a5);
    px(x->price, x->price_scale, a6);
    when(x->expires_ns, t);
    if (o->json) {
        printf("{\"ok\":true,\"quote_id\":%" PRIu64 ",\"pair\":\"%s\",\"side\":\"%s\","
               "\"amount_side\":\"%s\",\"base\":\"%s\",\"base_asset\":\"%s\",\"quote\":\"%s\","
               "\"quote_asset\":\"%s\",\"notional\":\"%s\",\"fees\":\"%s\",\"spread\":\"%s\","
               "\"spread_bps\":%u,\"price\":\"%s\",\"price_scale\":%u,\"expires\":\"%s\","
               "\"expires_ns\":%" PRId64 "}\n",
               x->quote_id, J(x->pair), side_name(x->side),
               x->amount_side == XR_ENGINE_AMOUNT_QUOTE ? "quote" : "base", a1, J(b), a2, J(q), a3,
               a4, a5, x->spread_bps, a6, x->price_scale, t, x->expires_ns);
        return XR_CLI_OK;
    }
    printf("quote     %" PRIu64 "  (firm until %s)\n", x->quote_id, t);
    printf("%-9s %s %s %s\n", side_name(x->side), a1, b, x->pair);
    printf("%-9s %s %s\n", x->side == XR_ENGINE_BUY ? "pay" : "receive", a2, q);
    printf("price     %s %s/%s\nnotional  %s %s\nfees      %s %s\nspread    %s %s (%u bps)\n", a6,
           q, b, a3, q, a4, q, a5, q, x->spread_bps);
    return XR_CLI_OK;
}

/* buy|sell CUSTOMER PAIR AMOUNT [ASSET] [--price P [--tif T] [--expire T]] [--quote-id Q] */
static int prep_order(const bank_opts *o, xr_engine_cmd *c)
{
    int rc;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    xr_engine_order_cmd *oc = &c->u.order;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)) ||
        (rc = parse_pair(o, o->pos[1], oc->pair, b, q)) ||
        (rc = amount_on_pair(o, o->pos[2], o->npos > 3 ? o->pos[3] : NULL, b, q, &oc->amount_side,
                             &oc->amount)) ||
        (rc = parse_key(o, o->key, &oc->key, &key_generated)))
        return rc;
    c->kind = XR_ENGINE_CMD_NEW_ORDER;
    oc->side = strcmp(o->cmd, "buy") == 0 ? XR_ENGINE_BUY : XR_ENGINE_SELL;
    oc->type = o->price ? XR_ENGINE_LIMIT : XR_ENGINE_MARKET;
    if (o->tif) {
        static const char *const n[] = {"default", "gtc", "ioc", "fok", "gtd"};
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(o->tif, n[i]) == 0)
                found = i;
        if (found < 0)
            return usage_error(o->cmd, "--tif wants gtc, ioc, fok or gtd");
        oc->tif = (uint8_t)found;
    }
    if (o->expire && (rc = parse_time(o, o->expire, &oc->expire_ns)))
        return rc;
    if ((oc->tif == XR_ENGINE_TIF_GTD) != (o->expire != NULL))
        return usage_error(o->cmd, "--expire goes with --tif gtd, and gtd needs --expire");
    if (o->quote_id && (!parse_u64(o->quote_id, &oc->quote_id) || oc->quote_id == 0))
        return usage_error(o->cmd, "--quote-id wants the id a quote printed");
    return XR_CLI_OK;
}

static int run_order(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    xr_err err;
    char k[33];
    key_hex(&prepared.u.order.key, k);
    if (o->price) {
        /* A limit is in ticks at the pair's price scale, which the server knows: BOOK tells. */
        xr_engine_cmd bq = {.kind = XR_ENGINE_CMD_BOOK};
        snprintf(bq.u.market.pair, sizeof bq.u.market.pair, "%s", prepared.u.order.pair);
        bq.u.market.depth = 1;
        if ((err = bank_call(cl, o, &bq, &ev)) != XR_OK)
            return fail(o, err, "reading the pair's price scale");
        if (ev.kind == XR_ENGINE_EV_REJECT)
            return rejected(o, &ev);
        if (ev.kind != XR_ENGINE_EV_BOOK)
            return unexpected(o, &ev);
        xr_parse_error pe;
        err = xr_price_parse(o->price, strlen(o->price), ev.u.book.price_scale, 0,
                             &prepared.u.order.limit, &pe);
        if (err != XR_OK || prepared.u.order.limit.ticks <= 0) {
            fprintf(stderr,
                    "error: INVALID_AMOUNT: price '%s': %s (the pair's prices have %u "
                    "decimals)\n",
                    o->price, err != XR_OK ? xr_decimal_fault_name(pe.fault) : "not above zero",
                    ev.u.book.price_scale);
            if (o->json)
                printf("{\"ok\":false,\"error\":\"INVALID_AMOUNT\"}\n");
            return XR_CLI_USAGE;
        }
    }
    if (key_generated && !o->json)
        printf("key       %s (generated; send it again with --key to retry safely)\n", k);
    err = bank_call(cl, o, &prepared, &ev);
    if (err != XR_OK) {
        fprintf(stderr,
                "key %s: the outcome is unknown; send the same key again (it "
                "executes at most once) or ask 'xroute order'\n",
                k);
        return fail(o, err, o->cmd);
    }
    if (ev.kind == XR_ENGINE_EV_REJECT) {
        if (key_generated)
            fprintf(stderr, "key %s\n", k);
        return rejected(o, &ev);
    }
    if (ev.kind != XR_ENGINE_EV_EXEC_REPORT)
        return unexpected(o, &ev);
    const xr_engine_exec_report_ev *r = &ev.u.report;
    /* A failure: FAILED, or CANCELLED / EXPIRED with nothing filled (an IOC or GTD that
     * filled in part reports its fills and exits 0). */
    int failed =
        r->status == XR_ENGINE_ORDER_FAILED ||
        ((r->status == XR_ENGINE_ORDER_EXPIRED || r->status == XR_ENGINE_ORDER_CANCELLED) &&
         r->filled.units == 0);
    if (o->json) {
        printf("{\"ok\":%s,\"customer\":%" PRIu64 ",", failed ? "false" : "true", ev.customer_id);
        if (failed)
            printf("\"error\":\"%s\",", xr_err_name(r->err ? r->err : XR_ERR_REJECTED));
        report_json(r);
        printf("}\n");
    } else {
        report_human(r);
    }
    if (failed) {
        xr_err why = r->err ? r->err : XR_ERR_REJECTED;
        fprintf(stderr, "error: %s: order %s: %s\n", xr_err_name(why), status_name(r->status),
                xr_err_message(why));
        return XR_CLI_FAIL;
    }
    return XR_CLI_OK;
}

/* convert CUSTOMER AMOUNT FROM TO */
static int prep_convert(const bank_opts *o, xr_engine_cmd *c)
{
    int rc;
    unsigned scale;
    xr_engine_convert_cmd *cc = &c->u.convert;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)) ||
        (rc = check_asset_code(o, o->pos[2])) || (rc = check_asset_code(o, o->pos[3])) ||
        (rc = asset_scale(o, o->pos[2], &scale)) ||
        (rc = parse_amount(o, o->pos[1], scale, &cc->amount)) ||
        (rc = parse_key(o, o->key, &cc->key, &key_generated)))
        return rc;
    if (strcmp(o->pos[2], o->pos[3]) == 0)
        return usage_error(o->cmd, "converting %s into itself", o->pos[2]);
    c->kind = XR_ENGINE_CMD_CONVERT;
    snprintf(cc->from_asset, sizeof cc->from_asset, "%s", o->pos[2]);
    snprintf(cc->to_asset, sizeof cc->to_asset, "%s", o->pos[3]);
    return XR_CLI_OK;
}

static int run_convert(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    char k[33];
    key_hex(&prepared.u.convert.key, k);
    xr_err err = bank_call(cl, o, &prepared, &ev);
    if (err != XR_OK) {
        fprintf(stderr, "key %s: send the same key again (it executes at most once)\n", k);
        return fail(o, err, "convert");
    }
    if (ev.kind == XR_ENGINE_EV_REJECT)
        return rejected(o, &ev);
    if (ev.kind != XR_ENGINE_EV_CONVERSION_REPORT)
        return unexpected(o, &ev);
    const xr_engine_conversion_ev *x = &ev.u.conversion;
    unsigned fs = 0, ts = 0;
    /* The event carries no scales: the built-in registry's (or --scale for both). */
    if (asset_scale(o, x->from_asset, &fs) != XR_CLI_OK || asset_scale(o, x->to_asset, &ts) != 0)
        return XR_CLI_FAIL;
    static const char *const st[] = {"PENDING", "COMPLETED", "FAILED"};
    const char *status = x->status < 3 ? st[x->status] : "?";
    char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX];
    amt(x->from_amount, fs, a1);
    amt(x->to_amount, ts, a2);
    amt(x->fee, ts, a3);
    int failed = x->status == 2;
    if (o->json)
        printf("{\"ok\":%s,\"key\":\"%s\",\"status\":\"%s\",\"err\":\"%s\",\"from_asset\":\"%s\","
               "\"to_asset\":\"%s\",\"from_amount\":\"%s\",\"to_amount\":\"%s\",\"fee\":\"%s\"}\n",
               failed ? "false" : "true", k, status, xr_err_name(x->err), J(x->from_asset),
               J(x->to_asset), a1, a2, a3);
    else
        printf("conversion %s  %s%s%s\n%s %s -> %s %s (fee %s %s)\n", k, status, x->err ? "  " : "",
               x->err ? xr_err_name(x->err) : "", a1, x->from_asset, a2, x->to_asset, a3,
               x->to_asset);
    if (failed) {
        fprintf(stderr, "error: %s: conversion FAILED: %s\n", xr_err_name(x->err),
                xr_err_message(x->err));
        return XR_CLI_FAIL;
    }
    return XR_CLI_OK;
}

/* cancel|order CUSTOMER KEY */
static int prep_ref(const bank_opts *o, xr_engine_cmd *c)
{
    int rc, gen;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)) ||
        (rc = parse_key(o, o->pos[1], &c->u.ref.key, &gen)))
        return rc;
    c->kind = strcmp(o->cmd, "cancel") == 0 ? XR_ENGINE_CMD_CANCEL : XR_ENGINE_CMD_ORDER_STATUS;
    return XR_CLI_OK;
}

static int run_cancel(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_EXEC_REPORT, "cancel", &ev);
    if (rc >= 0)
        return rc;
    if (o->json) {
        printf("{\"ok\":true,\"customer\":%" PRIu64 ",", ev.customer_id);
        report_json(&ev.u.report);
        printf("}\n");
    } else {
        report_human(&ev.u.report);
    }
    return XR_CLI_OK;
}

static void child_print(const xr_engine_child *ch, const xr_engine_exec_report_ev *r, int json,
                        int first)
{
    char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
        a4[XR_DECIMAL_STR_MAX], a5[XR_DECIMAL_STR_MAX], a6[XR_DECIMAL_STR_MAX];
    amt(ch->qty, r->base_scale, a1);
    px(ch->limit, r->price_scale, a2);
    amt(ch->filled, r->base_scale, a3);
    amt(ch->notional, r->quote_scale, a4);
    amt(ch->fee, r->quote_scale, a5);
    /* The venue's own fee is in the asset named by fee_in. */
    amt(ch->venue_fee, ch->fee_in == 1 ? r->base_scale : r->quote_scale, a6);
    static const char *const fee_in[] = {"none", "base", "quote"};
    if (json)
        printf("%s{\"client_order_id\":\"%s\",\"venue\":%u,\"fee_bps\":%u,\"done\":%s,"
               "\"err\":\"%s\",\"qty\":\"%s\",\"limit\":\"%s\",\"filled\":\"%s\","
               "\"notional\":\"%s\",\"fee\":\"%s\",\"venue_fee\":\"%s\",\"fee_in\":\"%s\"}",
               first ? "" : ",", J(ch->client_order_id), ch->venue, ch->fee_bps,
               ch->done ? "true" : "false", xr_err_name(ch->err), a1, a2, a3, a4, a5, a6,
               ch->fee_in < 3 ? fee_in[ch->fee_in] : "?");
    else
        printf("  %-28s %5u %14s %14s %14s %14s %10s %4s %s\n", ch->client_order_id, ch->venue, a1,
               a2, a3, a4, a5, ch->done ? "yes" : "no", ch->err ? xr_err_name(ch->err) : "");
}

static void vprice_print(const xr_engine_venue_price *v, const xr_engine_exec_report_ev *r,
                         int json, int first)
{
    char b[XR_DECIMAL_STR_MAX], a[XR_DECIMAL_STR_MAX];
    px(v->bid, r->price_scale, b);
    px(v->ask, r->price_scale, a);
    if (json)
        printf("%s{\"venue\":%u,\"usable\":%s,\"bid\":\"%s\",\"ask\":\"%s\",\"age_ns\":%" PRIu64
               "}",
               first ? "" : ",", v->venue, v->usable ? "true" : "false", b, a, v->age_ns);
    else
        printf("  %5u %6s %18s %18s %12" PRIu64 "\n", v->venue, v->usable ? "yes" : "no", b, a,
               v->age_ns / 1000);
}

static int run_status(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_ORDER, "order", &ev);
    if (rc >= 0)
        return rc;
    const xr_engine_order_ev *x = &ev.u.order;
    unsigned n = x->n_children <= XR_ENGINE_CHILDREN_MAX ? x->n_children : XR_ENGINE_CHILDREN_MAX;
    char t[XR_CLOCK_RFC3339_MAX];
    if (o->json) {
        printf("{\"ok\":true,\"customer\":%" PRIu64 ",", ev.customer_id);
        report_json(&x->report);
        printf(",\"type\":\"%s\",\"tif\":\"%s\",\"amount_side\":\"%s\",\"spread_bps\":%u,"
               "\"seq\":%" PRIu64 ",\"created\":\"%s\",\"created_ns\":%" PRId64 ",\"children\":[",
               type_name(x->type), tif_name(x->tif),
               x->amount_side == XR_ENGINE_AMOUNT_QUOTE ? "quote" : "base", x->spread_bps, x->seq,
               when(x->created_ns, t), x->created_ns);
        for (unsigned i = 0; i < n; i++)
            child_print(&x->children[i], &x->report, 1, i == 0);
        printf("],\"decided\":\"%s\",\"decided_ns\":%" PRId64 ",\"venue_prices\":[",
               x->decided_ns ? when(x->decided_ns, t) : "", x->decided_ns);
        for (unsigned i = 0; i < x->n_venue_prices && i < XR_ENGINE_VENUES_MAX; i++)
            vprice_print(&x->venue_prices[i], &x->report, 1, i == 0);
        printf("]}\n");
        return XR_CLI_OK;
    }
    report_human(&x->report);
    printf("type      %s %s (amount in %s)\nspread    %u bps\ncreated   %s\nserial    %" PRIu64
           "\n",
           type_name(x->type), tif_name(x->tif),
           x->amount_side == XR_ENGINE_AMOUNT_QUOTE ? "quote" : "base", x->spread_bps,
           when(x->created_ns, t), x->seq);
    printf("children  %u\n  %-28s %5s %14s %14s %14s %14s %10s %4s %s\n", n, "CLIENT_ORDER_ID",
           "VENUE", "QTY", "LIMIT", "FILLED", "NOTIONAL", "FEE", "DONE", "ERR");
    for (unsigned i = 0; i < n; i++)
        child_print(&x->children[i], &x->report, 0, i == 0);
    /* the best-execution record's market: every venue's top of book at the decision */
    printf("decided   %s\nvenues    %u\n  %5s %6s %18s %18s %12s\n",
           x->decided_ns ? when(x->decided_ns, t) : "-", x->n_venue_prices, "VENUE", "USABLE",
           "BID", "ASK", "AGE_US");
    for (unsigned i = 0; i < x->n_venue_prices && i < XR_ENGINE_VENUES_MAX; i++)
        vprice_print(&x->venue_prices[i], &x->report, 0, i == 0);
    return XR_CLI_OK;
}

/* orders CUSTOMER [filters] */
static int prep_orders(const bank_opts *o, xr_engine_cmd *c)
{
    int rc;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    xr_engine_list_orders_cmd *l = &c->u.list;
    if ((rc = parse_customer(o, o->pos[0], &c->customer_id)))
        return rc;
    c->kind = XR_ENGINE_CMD_LIST_ORDERS;
    if (o->status) {
        /* a comma-separated list of status names, any case */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", o->status);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
             t = strtok_r(NULL, ",", &save)) {
            int found = -1;
            for (int i = 0; i < 7; i++)
                if (strcasecmp(t, status_names[i]) == 0)
                    found = i;
            if (found < 0)
                return usage_error(o->cmd,
                                   "--status: '%s' is not one of pending, open, "
                                   "partially_filled, filled, cancelled, failed, expired",
                                   t);
            l->status_mask |= 1u << found;
        }
    }
    if (o->pair && (rc = parse_pair(o, o->pair, l->pair, b, q)))
        return rc;
    if (o->side && (rc = parse_side(o, o->side, 1, &l->side)))
        return rc;
    if (o->type) {
        if (strcmp(o->type, "market") == 0)
            l->type = XR_ENGINE_MARKET;
        else if (strcmp(o->type, "limit") == 0)
            l->type = XR_ENGINE_LIMIT;
        else if (strcmp(o->type, "both") != 0)
            return usage_error(o->cmd, "--type wants market, limit or both");
    }
    if (o->from && (rc = parse_time(o, o->from, &l->from_ns)))
        return rc;
    if (o->to && (rc = parse_time(o, o->to, &l->to_ns)))
        return rc;
    l->limit = XR_ENGINE_ORDER_LIST_MAX;
    if (o->limit && (!parse_u32(o->limit, 1000000, &l->limit) || l->limit == 0))
        return usage_error(o->cmd, "--limit wants 1..1000000 orders");
    if (o->cursor && !parse_u64(o->cursor, &l->cursor))
        return usage_error(o->cmd, "--cursor wants the number printed as the next cursor");
    return XR_CLI_OK;
}

/* Pages through the list until --limit orders are printed (the engine sends at most
 * XR_ENGINE_ORDER_LIST_MAX per page). */
static int run_orders(xr_client *cl, const bank_opts *o)
{
    uint32_t want = prepared.u.list.limit, shown = 0;
    uint64_t next = 0;
    if (o->json)
        printf("{\"ok\":true,\"customer\":%" PRIu64 ",\"orders\":[", prepared.customer_id);
    else
        printf("%-32s %-10s %-4s %-6s %-16s %16s %16s %18s %-27s\n", "KEY", "PAIR", "SIDE", "TYPE",
               "STATUS", "FILLED", "QUOTE", "AVG_PRICE", "CREATED");
    for (;;) {
        xr_engine_event ev;
        xr_engine_cmd c = prepared;
        uint32_t left = want - shown;
        c.u.list.limit = left < XR_ENGINE_ORDER_LIST_MAX ? left : XR_ENGINE_ORDER_LIST_MAX;
        xr_err err = bank_call(cl, o, &c, &ev);
        if (err == XR_OK && ev.kind == XR_ENGINE_EV_REJECT)
            err = ev.u.reject.err;
        else if (err == XR_OK && ev.kind != XR_ENGINE_EV_ORDER_LIST)
            err = XR_ERR_INTERNAL;
        if (err != XR_OK) {
            if (o->json)
                printf("],\"error\":\"%s\"}\n", xr_err_name(err));
            fprintf(stderr, "error: %s: %s: listing orders\n", xr_err_name(err),
                    xr_err_message(err));
            return XR_CLI_FAIL;
        }
        const xr_engine_order_list_ev *l = &ev.u.order_list;
        uint32_t n = l->n <= XR_ENGINE_ORDER_LIST_MAX ? l->n : XR_ENGINE_ORDER_LIST_MAX;
        for (uint32_t i = 0; i < n && shown < want; i++, shown++) {
            const xr_engine_order_summary *s = &l->items[i];
            const xr_engine_exec_report_ev *r = &s->report;
            if (o->json) {
                char t[XR_CLOCK_RFC3339_MAX];
                printf("%s{", shown ? "," : "");
                report_json(r);
                printf(",\"type\":\"%s\",\"seq\":%" PRIu64
                       ",\"created\":\"%s\",\"created_ns\":%" PRId64 "}",
                       type_name(s->type), s->seq, when(s->created_ns, t), s->created_ns);
            } else {
                char k[33], a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
                    t[XR_CLOCK_RFC3339_MAX];
                key_hex(&r->key, k);
                printf("%-32s %-10s %-4s %-6s %-16s %16s %16s %18s %-27s\n", k, r->pair,
                       side_name(r->side), type_name(s->type), status_name(r->status),
                       amt(r->filled, r->base_scale, a1), amt(r->quote, r->quote_scale, a2),
                       px(r->avg_price, r->price_scale, a3), when(s->created_ns, t));
            }
        }
        next = l->next_cursor;
        if (next == 0 || shown >= want)
            break;
        prepared.u.list.cursor = next;
    }
    if (o->json) {
        printf("],\"next_cursor\":");
        next ? printf("%" PRIu64 "}\n", next) : printf("null}\n");
    } else if (next) {
        printf("more: --cursor %" PRIu64 "\n", next);
    }
    return XR_CLI_OK;
}

static int prep_balances(const bank_opts *o, xr_engine_cmd *c)
{
    c->kind = XR_ENGINE_CMD_BALANCES;
    return parse_customer(o, o->pos[0], &c->customer_id);
}

static int run_balances(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_BALANCES, "balances", &ev);
    if (rc >= 0)
        return rc;
    const xr_engine_balances_ev *b = &ev.u.balances;
    uint32_t n = b->n <= XR_ENGINE_ASSETS_MAX ? b->n : XR_ENGINE_ASSETS_MAX;
    if (o->json)
        printf("{\"ok\":true,\"customer\":%" PRIu64 ",\"balances\":[", ev.customer_id);
    else
        printf("%-6s %24s %24s %24s\n", "ASSET", "BALANCE", "AVAILABLE", "RESERVED");
    for (uint32_t i = 0; i < n; i++) {
        const xr_engine_balance *x = &b->items[i];
        char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX];
        amt(x->balance, x->scale, a1);
        amt(x->available, x->scale, a2);
        amt(x->reserved, x->scale, a3);
        if (o->json)
            printf("%s{\"asset\":\"%s\",\"scale\":%u,\"balance\":\"%s\",\"available\":\"%s\","
                   "\"reserved\":\"%s\"}",
                   i ? "," : "", J(x->asset), x->scale, a1, a2, a3);
        else
            printf("%-6s %24s %24s %24s\n", x->asset, a1, a2, a3);
    }
    if (o->json)
        printf("]}\n");
    return XR_CLI_OK;
}

static int prep_book(const bank_opts *o, xr_engine_cmd *c)
{
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    int rc = parse_pair(o, o->pos[0], c->u.market.pair, b, q);
    if (rc)
        return rc;
    c->kind = XR_ENGINE_CMD_BOOK;
    c->u.market.depth = 10;
    if (o->depth && (!parse_u32(o->depth, XR_ENGINE_BOOK_LEVELS_MAX, &c->u.market.depth) ||
                     c->u.market.depth == 0))
        return usage_error(o->cmd, "--depth wants 1..%d levels", XR_ENGINE_BOOK_LEVELS_MAX);
    return XR_CLI_OK;
}

static int run_book(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_BOOK, "book", &ev);
    if (rc >= 0)
        return rc;
    const xr_engine_book_ev *bk = &ev.u.book;
    unsigned nb = bk->n_bids <= XR_ENGINE_BOOK_LEVELS_MAX ? bk->n_bids : XR_ENGINE_BOOK_LEVELS_MAX;
    unsigned na = bk->n_asks <= XR_ENGINE_BOOK_LEVELS_MAX ? bk->n_asks : XR_ENGINE_BOOK_LEVELS_MAX;
    char p[XR_DECIMAL_STR_MAX], q[XR_DECIMAL_STR_MAX];
    if (o->json) {
        printf("{\"ok\":true,\"pair\":\"%s\",\"base_scale\":%u,\"price_scale\":%u,\"bids\":[",
               J(bk->pair), bk->base_scale, bk->price_scale);
        for (unsigned i = 0; i < nb; i++)
            printf("%s[\"%s\",\"%s\"]", i ? "," : "", px(bk->bids[i].price, bk->price_scale, p),
                   amt(bk->bids[i].qty, bk->base_scale, q));
        printf("],\"asks\":[");
        for (unsigned i = 0; i < na; i++)
            printf("%s[\"%s\",\"%s\"]", i ? "," : "", px(bk->asks[i].price, bk->price_scale, p),
                   amt(bk->asks[i].qty, bk->base_scale, q));
        printf("]}\n");
        return XR_CLI_OK;
    }
    printf("%s consolidated, best first\n%24s %22s | %-22s %-24s\n", bk->pair, "BID_QTY", "BID",
           "ASK", "ASK_QTY");
    for (unsigned i = 0; i < (nb > na ? nb : na); i++) {
        char bp[XR_DECIMAL_STR_MAX] = "", bq[XR_DECIMAL_STR_MAX] = "", ap[XR_DECIMAL_STR_MAX] = "",
             aq[XR_DECIMAL_STR_MAX] = "";
        if (i < nb) {
            px(bk->bids[i].price, bk->price_scale, bp);
            amt(bk->bids[i].qty, bk->base_scale, bq);
        }
        if (i < na) {
            px(bk->asks[i].price, bk->price_scale, ap);
            amt(bk->asks[i].qty, bk->base_scale, aq);
        }
        printf("%24s %22s | %-22s %-24s\n", bq, bp, ap, aq);
    }
    return XR_CLI_OK;
}

/* ticker PAIR, ohlc PAIR [--interval I] [--from T] [--to T] [--limit N], pairs [--cursor C]:
 * market data from the venues' trade streams and the consolidated book (engine.h). */
static int prep_market(const bank_opts *o, xr_engine_cmd *c)
{
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    int rc;
    if (strcmp(o->cmd, "pairs") == 0) {
        c->kind = XR_ENGINE_CMD_PAIRS;
        return XR_CLI_OK;
    }
    if ((rc = parse_pair(o, o->pos[0], c->u.market.pair, b, q)))
        return rc;
    if (strcmp(o->cmd, "ticker") == 0) {
        c->kind = XR_ENGINE_CMD_TICKER;
        return XR_CLI_OK;
    }
    c->kind = XR_ENGINE_CMD_OHLC;
    static const struct {
        const char *name;
        uint32_t s;
    } iv[] = {{"1m", 60}, {"5m", 300}, {"15m", 900}, {"1h", 3600}, {"4h", 14400}, {"1d", 86400}};
    const char *want = o->interval ? o->interval : "1m";
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        if (strcmp(want, iv[i].name) == 0)
            c->u.market.interval_s = iv[i].s;
    if (c->u.market.interval_s == 0)
        return usage_error(o->cmd, "--interval wants 1m, 5m, 15m, 1h, 4h or 1d");
    if (o->from && (rc = parse_time(o, o->from, &c->u.market.from_ns)))
        return rc;
    if (o->to && (rc = parse_time(o, o->to, &c->u.market.to_ns)))
        return rc;
    return XR_CLI_OK;
}

static int run_ticker(xr_client *cl, const bank_opts *o)
{
    xr_engine_event ev;
    int rc = call_expect(cl, o, XR_ENGINE_EV_TICKER, o->cmd, &ev);
    if (rc >= 0)
        return rc;
    const xr_engine_ticker_ev *t = &ev.u.ticker;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1], a1[XR_DECIMAL_STR_MAX],
        a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX], a4[XR_DECIMAL_STR_MAX],
        a5[XR_DECIMAL_STR_MAX], a6[XR_DECIMAL_STR_MAX], ts[XR_CLOCK_RFC3339_MAX];
    split_pair(t->pair, b, q);
    px(t->bid, t->price_scale, a1);
    amt(t->bid_qty, t->base_scale, a2);
    px(t->ask, t->price_scale, a3);
    amt(t->ask_qty, t->base_scale, a4);
    px(t->last, t->price_scale, a5);
    amt(t->volume_24h, t->base_scale, a6);
    when(t->last_ns, ts);
    if (o->json) {
        printf("{\"ok\":true,\"pair\":\"%s\",\"base_scale\":%u,\"price_scale\":%u,\"bid\":\"%s\","
               "\"bid_qty\":\"%s\",\"ask\":\"%s\",\"ask_qty\":\"%s\",\"last\":",
               J(t->pair), t->base_scale, t->price_scale, a1, a2, a3, a4);
        t->last_ns ? printf("\"%s\",\"last_time\":\"%s\",\"last_ns\":%" PRId64, a5, ts, t->last_ns)
                   : printf("null,\"last_time\":null,\"last_ns\":null");
        printf(",\"volume_24h\":\"%s\",\"trades_24h\":%u}\n", a6, t->trades_24h);
        return XR_CLI_OK;
    }
    printf("%s\nbid       %s %s/%s  (%s %s)\nask       %s %s/%s  (%s %s)\n", t->pair, a1, q, b, a2,
           b, a3, q, b, a4, b);
    if (t->last_ns)
        printf("last      %s %s/%s at %s\n", a5, q, b, ts);
    else
        printf("last      - (no trade seen)\n");
    printf("24h       %s %s in %u trades\n", a6, b, t->trades_24h);
    return XR_CLI_OK;
}

/* Pages through OHLC answers (XR_ENGINE_OHLC_MAX candles each) until --limit candles [100]. */
static int run_ohlc(xr_client *cl, const bank_opts *o)
{
    uint32_t want = 100, shown = 0;
    if (o->limit && (!parse_u32(o->limit, 100000, &want) || want == 0))
        return usage_error(o->cmd, "--limit wants 1..100000 candles");
    int64_t next = 0;
    for (int page = 0;; page++) {
        xr_engine_event ev;
        xr_err err = bank_call(cl, o, &prepared, &ev);
        if (err == XR_OK && ev.kind == XR_ENGINE_EV_REJECT) {
            if (page > 0) {
                err = ev.u.reject.err;
            } else {
                return rejected(o, &ev);
            }
        } else if (err == XR_OK && ev.kind != XR_ENGINE_EV_OHLC) {
            if (page == 0)
                return unexpected(o, &ev);
            err = XR_ERR_INTERNAL;
        }
        if (err != XR_OK) {
            if (o->json && page > 0)
                printf("],\"error\":\"%s\"}\n", xr_err_name(err));
            else if (o->json)
                printf("{\"ok\":false,\"error\":\"%s\"}\n", xr_err_name(err));
            fprintf(stderr, "error: %s: %s: ohlc\n", xr_err_name(err), xr_err_message(err));
            return XR_CLI_FAIL;
        }
        const xr_engine_ohlc_ev *h = &ev.u.ohlc;
        if (page == 0) {
            if (o->json)
                printf("{\"ok\":true,\"pair\":\"%s\",\"interval_s\":%u,\"base_scale\":%u,"
                       "\"price_scale\":%u,\"candles\":[",
                       J(h->pair), h->interval_s, h->base_scale, h->price_scale);
            else
                printf("%s every %u s\n%-27s %18s %18s %18s %18s %16s %7s\n", h->pair,
                       h->interval_s, "OPEN_TIME", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME",
                       "TRADES");
        }
        unsigned n = h->n <= XR_ENGINE_OHLC_MAX ? h->n : XR_ENGINE_OHLC_MAX;
        for (unsigned i = 0; i < n && shown < want; i++, shown++) {
            const xr_engine_candle *c = &h->items[i];
            char t[XR_CLOCK_RFC3339_MAX], a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX],
                a3[XR_DECIMAL_STR_MAX], a4[XR_DECIMAL_STR_MAX], a5[XR_DECIMAL_STR_MAX];
            when(c->open_ns, t);
            px(c->open, h->price_scale, a1);
            px(c->high, h->price_scale, a2);
            px(c->low, h->price_scale, a3);
            px(c->close, h->price_scale, a4);
            amt(c->volume, h->base_scale, a5);
            if (o->json)
                printf("%s{\"open_time\":\"%s\",\"open_ns\":%" PRId64 ",\"open\":\"%s\","
                       "\"high\":\"%s\",\"low\":\"%s\",\"close\":\"%s\",\"volume\":\"%s\","
                       "\"trades\":%u}",
                       shown ? "," : "", t, c->open_ns, a1, a2, a3, a4, a5, c->trades);
            else
                printf("%-27s %18s %18s %18s %18s %16s %7u\n", t, a1, a2, a3, a4, a5, c->trades);
        }
        next = h->next_from_ns;
        if (next == 0 || shown >= want)
            break;
        prepared.u.market.from_ns = next;
    }
    if (o->json) {
        printf("],\"next_from_ns\":");
        next ? printf("%" PRId64 "}\n", next) : printf("null}\n");
    } else if (next) {
        printf("more: --from %" PRId64 "\n", next);
    }
    return XR_CLI_OK;
}

/* Every configured pair, paging through PAIRS answers from --cursor [0]. */
static int run_pairs(xr_client *cl, const bank_opts *o)
{
    uint32_t shown = 0;
    if (o->json)
        printf("{\"ok\":true,\"pairs\":[");
    else
        printf("%-12s %-7s %-7s %16s %16s %16s %16s\n", "PAIR", "TRADING", "VENUES", "MIN_QTY",
               "LOT_STEP", "TICK", "MIN_NOTIONAL");
    for (;;) {
        xr_engine_event ev;
        xr_err err = bank_call(cl, o, &prepared, &ev);
        if (err == XR_OK && ev.kind == XR_ENGINE_EV_REJECT)
            err = ev.u.reject.err;
        else if (err == XR_OK && ev.kind != XR_ENGINE_EV_PAIRS)
            err = XR_ERR_INTERNAL;
        if (err != XR_OK) {
            if (o->json)
                printf("],\"error\":\"%s\"}\n", xr_err_name(err));
            fprintf(stderr, "error: %s: %s: pairs\n", xr_err_name(err), xr_err_message(err));
            return XR_CLI_FAIL;
        }
        const xr_engine_pairs_ev *pl = &ev.u.pairs;
        uint32_t n = pl->n <= XR_ENGINE_PAIRS_MAX ? pl->n : XR_ENGINE_PAIRS_MAX;
        for (uint32_t i = 0; i < n; i++, shown++) {
            const xr_engine_pair_info *x = &pl->items[i];
            char a1[XR_DECIMAL_STR_MAX], a2[XR_DECIMAL_STR_MAX], a3[XR_DECIMAL_STR_MAX],
                a4[XR_DECIMAL_STR_MAX], vs[16];
            amt(x->min_qty, x->base_scale, a1);
            amt(x->lot_step, x->base_scale, a2);
            px(x->tick, x->price_scale, a3);
            amt(x->min_notional, x->quote_scale, a4);
            snprintf(vs, sizeof vs, "%u/%u", (unsigned)__builtin_popcount(x->venues_ready),
                     (unsigned)__builtin_popcount(x->venues));
            if (o->json)
                printf("%s{\"pair\":\"%s\",\"trading\":%s,\"venues\":%u,\"venues_ready\":%u,"
                       "\"base_scale\":%u,\"quote_scale\":%u,\"price_scale\":%u,"
                       "\"min_qty\":\"%s\",\"lot_step\":\"%s\",\"tick\":\"%s\","
                       "\"min_notional\":\"%s\"}",
                       shown ? "," : "", J(x->pair), x->trading ? "true" : "false", x->venues,
                       x->venues_ready, x->base_scale, x->quote_scale, x->price_scale, a1, a2, a3,
                       a4);
            else
                printf("%-12s %-7s %-7s %16s %16s %16s %16s\n", x->pair, x->trading ? "yes" : "no",
                       vs, a1, a2, a3, a4);
        }
        if (pl->next_cursor == 0)
            break;
        prepared.u.market.cursor = pl->next_cursor;
    }
    if (o->json)
        printf("]}\n");
    return XR_CLI_OK;
}

/* ---- the table ----------------------------------------------------------------------------- */

#define CONN_HELP                                                                                  \
    "connection (every command):\n"                                                                \
    "  --connect HOST:PORT   xrouted's bank port [XROUTE_CONNECT, else 127.0.0.1:7400]\n"          \
    "  --bank ID             the bank's id [XROUTE_BANK]\n"                                        \
    "  --key-id ID           its API key id [XROUTE_KEY_ID]\n"                                     \
    "  --secret HEX          the key's secret, hex digits [XROUTE_BANK_SECRET]\n"                  \
    "  --credentials FILE    bank_id/key_id/secret/connect (or XROUTE_*) lines "                   \
    "[XROUTE_CREDENTIALS;\n"                                                                       \
    "                        with nothing given: var/xroute/demo-bank.env, xrouted's demo bank]\n" \
    "                        flags win over the file, the file over the environment\n"             \
    "  --state FILE          the bank's last processed response seq, kept across runs (the\n"      \
    "                        server replays what came after it; default: none)\n"                  \
    "  --tls-ca FILE         TLS: PEM trust anchors (a CA, or the server's certificate)\n"         \
    "                        [XROUTE_TLS_CA; none: plain TCP]\n"                                   \
    "  --tls-name NAME       TLS: the DNS name the certificate must carry [XROUTE_TLS_NAME;\n"     \
    "                        the host]\n"                                                          \
    "  --timeout-ms N        give up on an answer after N ms [10000]\n"                            \
    "  --json                one JSON object on stdout (amounts as exact strings)\n"               \
    "exit: 0 ok; 1 refused or failed (\"error: NAME: ...\" on stderr); 2 bad arguments\n"

static const bank_command bank_commands[] = {
    {"customer", "customer CUSTOMER_ID [--tier N]",
     "Registers the bank's customer CUSTOMER_ID (the bank's own number), or changes its KYC\n"
     "tier (0..254, default 0).\n",
     O_TIER, 1, 1, run_customer, prep_customer},
    {"fund", "fund CUSTOMER_ID AMOUNT ASSET [--key HEX] [--scale N]",
     "Moves AMOUNT of ASSET from the bank into the customer's account (\"1000\", \"1000.50\":\n"
     "exact, at most the asset's decimals). --key: the 32-hex-digit idempotency key (default:\n"
     "a random one, printed); the same key again applies nothing and says 'replayed'.\n"
     "--scale gives the decimals of an asset that is not built in.\n",
     O_KEY | O_SCALE, 3, 3, run_funding, prep_funding},
    {"defund", "defund CUSTOMER_ID AMOUNT ASSET [--key HEX] [--scale N]",
     "Moves AMOUNT of ASSET out of the customer's account back to the bank (INSUFFICIENT_FUNDS\n"
     "beyond the available balance). --key as for fund.\n",
     O_KEY | O_SCALE, 3, 3, run_funding, prep_funding},
    {"quote", "quote CUSTOMER_ID buy|sell PAIR AMOUNT [ASSET]",
     "A firm quote: what the customer would pay (buy) or receive (sell) all in, the price,\n"
     "the venue fees and the bank's spread. AMOUNT is in ASSET, the pair's base (default) or\n"
     "its quote asset (\"buy BTC for 1000 USDT\": quote 42 buy BTC/USDT 1000 USDT).\n",
     O_SCALE, 4, 5, run_quote, prep_quote},
    {"buy", "buy CUSTOMER_ID PAIR AMOUNT [ASSET] [--key HEX] [--price P [--tif T]]",
     "A buy for the customer: MARKET by default, LIMIT at --price P (in the pair's quote asset\n"
     "per base unit; --tif gtc|ioc|fok|gtd, gtd with --expire TIME). AMOUNT is in ASSET, the\n"
     "pair's base (default) or quote asset (spend exactly that much, all in). --key: the\n"
     "idempotency key (default random, printed); the same key again returns the same report\n"
     "and executes nothing. --quote-id Q executes a firm quote. Prints the execution report;\n"
     "exit 1 when the order FAILED, or was CANCELLED or EXPIRED with nothing filled (the\n"
     "report's error name on stderr).\n",
     O_KEY | O_PRICE | O_TIF | O_EXPIRE | O_QUOTE_ID | O_SCALE, 3, 4, run_order, prep_order},
    {"sell", "sell CUSTOMER_ID PAIR AMOUNT [ASSET] [--key HEX] [--price P [--tif T]]",
     "A sell for the customer; options as for buy (AMOUNT in the quote asset: receive exactly\n"
     "that much, all in).\n",
     O_KEY | O_PRICE | O_TIF | O_EXPIRE | O_QUOTE_ID | O_SCALE, 3, 4, run_order, prep_order},
    {"convert", "convert CUSTOMER_ID AMOUNT FROM TO [--key HEX]",
     "Converts AMOUNT of asset FROM into TO (USD <-> USDC, USD <-> PYUSD as configured).\n",
     O_KEY | O_SCALE, 4, 4, run_convert, prep_convert},
    {"cancel", "cancel CUSTOMER_ID KEY",
     "Cancels the resting order with idempotency key KEY (32 hex digits); prints its report.\n", 0,
     2, 2, run_cancel, prep_ref},
    {"order", "order CUSTOMER_ID KEY",
     "The stored order with key KEY and its best-execution record: every child order, its\n"
     "venue, limit, fill, notional and fees.\n",
     0, 2, 2, run_status, prep_ref},
    {"orders", "orders CUSTOMER_ID [--status S,S] [--pair P] [--side buy|sell] [--type T]",
     "The customer's orders, newest first. Filters: --status (pending, open,\n"
     "partially_filled, filled, cancelled, failed, expired; comma-separated), --pair,\n"
     "--side, --type market|limit, --from TIME, --to TIME (RFC 3339 UTC or ns). --limit N\n"
     "orders at most [6]; --cursor C continues where a listing said 'more'.\n",
     O_STATUS | O_PAIR | O_SIDE | O_TYPE | O_FROM | O_TO | O_LIMIT | O_CURSOR, 1, 1, run_orders,
     prep_orders},
    {"balances", "balances CUSTOMER_ID",
     "The customer's balance, available and reserved amount per asset.\n", 0, 1, 1, run_balances,
     prep_balances},
    {"book", "book PAIR [--depth N]",
     "The consolidated order book over every venue of PAIR, N levels per side [10, max 20].\n",
     O_DEPTH, 1, 1, run_book, prep_book},
    {"ticker", "ticker PAIR",
     "Best bid and ask over the venues (with their summed quantities), the last trade and the\n"
     "base volume and trade count of the last 24 h, from the venues' trade streams.\n",
     0, 1, 1, run_ticker, prep_market},
    {"ohlc", "ohlc PAIR [--interval 1m|5m|15m|1h|4h|1d] [--from TIME] [--to TIME] [--limit N]",
     "Candles of PAIR, oldest first [--interval 1m], those with a trade whose open time is in\n"
     "[--from, --to) (RFC 3339 UTC or ns; default: all kept, up to now), --limit N at most\n"
     "[100]. Built from the venues' trades since xrouted started (memory only).\n",
     O_INTERVAL | O_FROM | O_TO | O_LIMIT, 1, 1, run_ohlc, prep_market},
    {"pairs", "pairs",
     "The configured pairs: trading or not, venues with known rules / listing it, minimum\n"
     "quantity, lot step, price tick and minimum notional (the most permissive venue's).\n",
     0, 0, 0, run_pairs, prep_market},
};

static int bank_main(int argc, char **argv)
{
    const bank_command *bc = NULL;
    for (size_t i = 0; i < sizeof bank_commands / sizeof bank_commands[0]; i++)
        if (strcmp(argv[0], bank_commands[i].name) == 0)
            bc = &bank_commands[i];
    if (bc == NULL)
        return usage_error(argv[0], "unknown command");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: xroute %s [connection] [--json]\n\n%s\n%s", bc->usage, bc->help,
                   CONN_HELP);
            return XR_CLI_OK;
        }
    }
    bank_opts o;
    int rc = parse_args(argc, argv, bc->options, &o);
    if (rc != XR_CLI_OK)
        return rc;
    if (o.npos < bc->min_pos || o.npos > bc->max_pos)
        return usage_error(o.cmd, "usage: xroute %s", bc->usage);
    memset(&prepared, 0, sizeof prepared);
    key_generated = 0;
    if ((rc = bc->prepare(&o, &prepared)) != XR_CLI_OK)
        return rc;
    xr_client *cl;
    if ((rc = bank_open(&o, &cl)) != XR_CLI_OK)
        return rc;
    rc = bc->run(cl, &o);
    xr_client_close(cl);
    return rc;
}

/* Every bank command: argv[0] names it. */
int xr_cmd_bank(int argc, char **argv)
{
    return bank_main(argc, argv);
}
