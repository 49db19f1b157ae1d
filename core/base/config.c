/*
 * Configuration loading on libinih (Debian libinih-dev). inih does the INI syntax; this file
 * owns the schema: which keys exist, their types and ranges, and exact error positions.
 *
 * inih's handler callback does not receive the line number in Debian's build
 * (INI_HANDLER_LINENO is 0), so the text is fed through ini_parse_stream() with our own line
 * reader, which counts lines, refuses lines longer than inih's buffer (inih would otherwise
 * split them silently into two lines), and stops the parse after the first error.
 */
#include "core/base/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"

#define CONFIG_FILE_MAX (1u << 20) /* a config file is small; refuse anything bigger */

static const char default_text[] =
    "# xroute embedded default configuration. A config file passed with --config only needs\n"
    "# the keys it changes; every key is documented in docs/operations.md.\n"
    "\n"
    "[daemon]\n"
    "data_dir = var/xroute\n"
    "bank_listen = 127.0.0.1:7400\n"
    "venues = simulated\n"
    "drain_timeout_ms = 10000\n"
    "ready_timeout_ms = 20000\n"
    "\n"
    "[secrets]\n"
    "# generate: <data_dir>/master.key is created on first start (demo only, see\n"
    "# docs/operations.md); file: master_key_file; env: XROUTE_MASTER_KEY (64 hex digits)\n"
    "master_key = generate\n"
    "\n"
    "[engine]\n"
    "ring_capacity = 256\n"
    "customers_max = 4096\n"
    "orders_max = 1024\n"
    "idempotency_max = 65536\n"
    "quotes_max = 4096\n"
    "quote_ttl_ms = 5000\n"
    "slippage_bps = 50\n"
    "ledger_batch_max = 1024\n"
    "book_stale_ms = 0\n"
    "schedule = threads\n"
    "\n"
    "[simulated]\n"
    "venues = 2\n"
    "step_ms = 20\n"
    "seed = 1\n"
    "pairs = BTC/USDT, ETH/USDT, USDT/AZN\n"
    "\n"
    "[bank.1]\n"
    "spread_bps = 150\n"
    "key_id = 1\n"
    "demo = yes\n"
    "\n"
    "[log]\n"
    "level = info\n"
    "\n"
    "[assets]\n"
    "USD = 2\n"
    "EUR = 2\n"
    "AZN = 2\n"
    "USDT = 6\n"
    "USDC = 6\n"
    "PYUSD = 6\n"
    "BTC = 8\n"
    "ETH = 18\n";

typedef enum key_kind {
    KEY_PATH,      /* non-empty string that fits the field */
    KEY_HOSTPORT,  /* numeric host:port */
    KEY_CHOICE,    /* one of a '|'-separated list */
    KEY_LOG_LEVEL, /* debug|info|warn|error|off */
    KEY_OPTPATH,   /* a string that fits the field, may be empty */
    KEY_U32,       /* decimal integer in [min, max] */
    KEY_U64,       /* decimal integer in [min, max] */
    KEY_POW2,      /* power of two in [min, max] */
    KEY_PAIRS,     /* comma-separated BASE/QUOTE list into sim_pairs */
} key_kind;

typedef struct key_spec {
    const char *section;
    const char *key;
    key_kind kind;
    size_t offset;
    size_t size;
    const char *choices; /* KEY_CHOICE only */
    uint64_t min, max;   /* KEY_U32, KEY_U64, KEY_POW2 */
} key_spec;

#define FIELD(f) offsetof(xr_config, f), sizeof(((xr_config *)0)->f)

static const key_spec key_specs[] = {
    {"daemon", "data_dir", KEY_PATH, FIELD(data_dir), NULL},
    {"daemon", "bank_listen", KEY_HOSTPORT, FIELD(bank_listen), NULL},
    {"daemon", "venues", KEY_CHOICE, FIELD(venues), "simulated|configured"},
    {"log", "level", KEY_LOG_LEVEL, FIELD(log_level), NULL},
    /* daemon keys */
    {"daemon", "tls_cert", KEY_OPTPATH, FIELD(tls_cert), NULL},
    {"daemon", "tls_key", KEY_OPTPATH, FIELD(tls_key), NULL},
    {"daemon", "drain_timeout_ms", KEY_U32, FIELD(drain_timeout_ms), NULL, 0, 600000},
    {"daemon", "ready_timeout_ms", KEY_U32, FIELD(ready_timeout_ms), NULL, 0, 600000},
    {"secrets", "master_key", KEY_CHOICE, FIELD(master_key), "generate|file|env"},
    {"secrets", "master_key_file", KEY_OPTPATH, FIELD(master_key_file), NULL},
    {"engine", "ring_capacity", KEY_POW2, FIELD(ring_capacity), NULL, 16, 1u << 20},
    {"engine", "customers_max", KEY_U32, FIELD(customers_max), NULL, 1, 1u << 24},
    {"engine", "orders_max", KEY_U32, FIELD(orders_max), NULL, 1, 1u << 20},
    {"engine", "idempotency_max", KEY_POW2, FIELD(idempotency_max), NULL, 64, 1u << 26},
    {"engine", "quotes_max", KEY_U32, FIELD(quotes_max), NULL, 1, 1u << 20},
    {"engine", "quote_ttl_ms", KEY_U32, FIELD(quote_ttl_ms), NULL, 1, 3600000},
    {"engine", "slippage_bps", KEY_U32, FIELD(slippage_bps), NULL, 0, 5000},
    {"engine", "ledger_batch_max", KEY_U32, FIELD(ledger_batch_max), NULL, 1, 65536},
    {"engine", "book_stale_ms", KEY_U32, FIELD(book_stale_ms), NULL, 0, 3600000},
    {"engine", "schedule", KEY_CHOICE, FIELD(schedule), "threads|inline"},
    {"simulated", "venues", KEY_U32, FIELD(sim_venues), NULL, 1, XR_CONFIG_SIM_VENUES_MAX},
    {"simulated", "step_ms", KEY_U32, FIELD(sim_step_ms), NULL, 0, 60000},
    {"simulated", "seed", KEY_U64, FIELD(sim_seed), NULL, 0, UINT64_MAX},
    {"simulated", "pairs", KEY_PAIRS, FIELD(sim_pairs), NULL},
};
#define KEY_COUNT (sizeof key_specs / sizeof key_specs[0])

typedef struct parse_state {
    xr_config cfg; /* working copy: the caller's config changes only on success */
    const char *name;
    const char *text; /* remaining input */
    unsigned line;    /* line currently being handled */
    xr_config_error *err;
    int failed;
    unsigned failed_line;
    unsigned char seen[KEY_COUNT];
    unsigned char asset_seen[XR_ASSETS_MAX];
    int banks_replaced, venues_replaced; /* this text has a [bank.*] / [venue.*] section */
    uint16_t bank_seen[XR_CONFIG_BANKS_MAX], venue_seen[XR_CONFIG_VENUES_MAX];
} parse_state;

__attribute__((format(printf, 4, 5))) static void set_error(parse_state *st, const char *section,
                                                            const char *key, const char *fmt, ...)
{
    if (st->failed)
        return;
    st->failed = 1;
    st->failed_line = st->line;
    if (st->err == NULL)
        return;
    memset(st->err, 0, sizeof *st->err);
    snprintf(st->err->file, sizeof st->err->file, "%s", st->name);
    st->err->line = st->line;
    if (section != NULL && key != NULL)
        snprintf(st->err->key, sizeof st->err->key, "%s.%s", section, key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->err->message, sizeof st->err->message, fmt, ap);
    va_end(ap);
}

/* inih calls this for every line; it returns the next line of st->text or NULL at the end.
 * A parse that failed in the handler ends here, so the first error is the one reported. */
static char *read_line(char *buf, int num, void *stream)
{
    parse_state *st = stream;
    if (st->failed || *st->text == '\0')
        return NULL;
    const char *nl = strchr(st->text, '\n');
    size_t len = nl ? (size_t)(nl - st->text) + 1 : strlen(st->text);
    st->line++;
    if (len >= (size_t)num) {
        set_error(st, NULL, NULL, "line longer than %d bytes", num - 1);
        return NULL;
    }
    memcpy(buf, st->text, len);
    buf[len] = '\0';
    st->text += len;
    return buf;
}

xr_err xr_config_parse_hostport(const char *text, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    int family;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return XR_ERR_CONFIG;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        family = AF_INET6;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return XR_ERR_CONFIG;
        hlen = (size_t)(colon - text);
        family = AF_INET;
    }
    if (hlen == 0 || hlen + 1 > host_cap)
        return XR_ERR_CONFIG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    unsigned char addr[16];
    if (inet_pton(family, host, addr) != 1)
        return XR_ERR_CONFIG;
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5)
        return XR_ERR_CONFIG;
    unsigned long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return XR_ERR_CONFIG;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return XR_ERR_CONFIG;
    *port = (uint16_t)v;
    return XR_OK;
}

static int set_string(parse_state *st, const key_spec *ks, const char *value)
{
    size_t len = strlen(value);
    if (len == 0) {
        set_error(st, ks->section, ks->key, "empty value");
        return 0;
    }
    if (len >= ks->size) {
        set_error(st, ks->section, ks->key, "value longer than %zu bytes", ks->size - 1);
        return 0;
    }
    memcpy((char *)&st->cfg + ks->offset, value, len + 1);
    return 1;
}

/* A decimal integer of digits only (no sign, no spaces), at most UINT64_MAX. */
static int parse_u64(const char *value, uint64_t *out)
{
    uint64_t v = 0;
    if (*value == '\0')
        return 0;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return 0;
    }
    *out = v;
    return 1;
}

static int asset_code_ok(const char *p, size_t len)
{
    if (len < 2 || len > XR_ASSET_CODE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9')))
            return 0;
    return 1;
}

/* "BTC/USDT, ETH/USDT": each entry BASE/QUOTE of asset codes, no duplicates. */
static int parse_pairs(parse_state *st, const char *section, const char *key, const char *value,
                       char pairs[][XR_CONFIG_PAIR_NAME_MAX], uint32_t *npairs)
{
    char tmp[XR_CONFIG_PAIRS_MAX][XR_CONFIG_PAIR_NAME_MAX];
    memset(tmp, 0, sizeof tmp); /* whole configurations are compared bytewise */
    uint32_t n = 0;
    const char *p = value;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *slash = memchr(p, '/', len);
        if (slash == NULL || !asset_code_ok(p, (size_t)(slash - p)) ||
            !asset_code_ok(slash + 1, len - (size_t)(slash - p) - 1)) {
            set_error(st, section, key,
                      "'%.*s' is not a pair of the form BASE/QUOTE (e.g. BTC/USDT)", (int)len, p);
            return 0;
        }
        if (n == XR_CONFIG_PAIRS_MAX) {
            set_error(st, section, key, "more than %d pairs", XR_CONFIG_PAIRS_MAX);
            return 0;
        }
        memcpy(tmp[n], p, len);
        tmp[n][len] = '\0';
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(tmp[i], tmp[n]) == 0) {
                set_error(st, section, key, "pair %s given twice", tmp[n]);
                return 0;
            }
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    memcpy(pairs, tmp, sizeof tmp);
    *npairs = n;
    return 1;
}

static int apply_key(parse_state *st, const key_spec *ks, const char *value)
{
    switch (ks->kind) {
    case KEY_PATH:
        return set_string(st, ks, value);
    case KEY_HOSTPORT: {
        char host[XR_CONFIG_ADDR_MAX];
        uint16_t port;
        if (xr_config_parse_hostport(value, host, sizeof host, &port) != XR_OK) {
            set_error(st, ks->section, ks->key,
                      "'%s' is not a numeric host:port (e.g. 127.0.0.1:7400, [::1]:7400)", value);
            return 0;
        }
        return set_string(st, ks, value);
    }
    case KEY_CHOICE: {
        size_t vlen = strlen(value);
        for (const char *c = ks->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t clen = bar ? (size_t)(bar - c) : strlen(c);
            if (clen == vlen && memcmp(c, value, vlen) == 0)
                return set_string(st, ks, value);
            c += clen + (bar ? 1 : 0);
        }
        set_error(st, ks->section, ks->key, "must be one of: %s", ks->choices);
        return 0;
    }
    case KEY_OPTPATH: {
        size_t len = strlen(value);
        if (len >= ks->size) {
            set_error(st, ks->section, ks->key, "value longer than %zu bytes", ks->size - 1);
            return 0;
        }
        memcpy((char *)&st->cfg + ks->offset, value, len + 1);
        return 1;
    }
    case KEY_U32:
    case KEY_U64:
    case KEY_POW2: {
        uint64_t v;
        if (!parse_u64(value, &v) || v < ks->min || v > ks->max ||
            (ks->kind == KEY_POW2 && (v & (v - 1)) != 0)) {
            set_error(st, ks->section, ks->key, "must be %san integer %llu..%llu, not '%s'",
                      ks->kind == KEY_POW2 ? "a power of two, " : "", (unsigned long long)ks->min,
                      (unsigned long long)ks->max, value);
            return 0;
        }
        if (ks->kind == KEY_U64) {
            memcpy((char *)&st->cfg + ks->offset, &v, sizeof v);
        } else {
            uint32_t v32 = (uint32_t)v;
            memcpy((char *)&st->cfg + ks->offset, &v32, sizeof v32);
        }
        return 1;
    }
    case KEY_PAIRS:
        return parse_pairs(st, ks->section, ks->key, value, st->cfg.sim_pairs, &st->cfg.sim_npairs);
    case KEY_LOG_LEVEL: {
        xr_log_level level;
        if (xr_log_level_parse(value, &level) != XR_OK) {
            set_error(st, ks->section, ks->key, "must be one of: %s", "debug|info|warn|error|off");
            return 0;
        }
        st->cfg.log_level = level;
        return 1;
    }
    }
    XR_ASSERT(0 && "unhandled key kind");
    return 0;
}

static int apply_asset(parse_state *st, const char *code, const char *value)
{
    xr_i128 scale;
    xr_parse_error perr;
    if (xr_decimal_parse(value, strlen(value), 0, 0, &scale, &perr) != XR_OK ||
        scale > XR_SCALE_MAX) {
        set_error(st, "assets", code, "scale must be an integer 0..38, not '%s'", value);
        return 0;
    }
    const xr_asset *asset;
    xr_err rc = xr_assets_add(&st->cfg.assets, code, (unsigned)scale, &asset);
    if (rc == XR_ERR_ALREADY_EXISTS) {
        set_error(st, "assets", code, "asset is already registered with another scale");
        return 0;
    }
    if (rc == XR_ERR_INVALID_ARGUMENT) {
        set_error(st, "assets", code, "asset code must be 2..11 of A-Z and 0-9");
        return 0;
    }
    if (rc != XR_OK) {
        set_error(st, "assets", code, "too many assets (at most %d)", XR_ASSETS_MAX);
        return 0;
    }
    if (st->asset_seen[asset->id]) {
        set_error(st, "assets", code, "asset given twice");
        return 0;
    }
    st->asset_seen[asset->id] = 1;
    return 1;
}

/* ---- [bank.ID] and [venue.NAME] ------------------------------------------------------------ */

static int yes_no(const char *value, uint8_t *out)
{
    if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
        *out = 1;
    else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
        *out = 0;
    else
        return 0;
    return 1;
}

/* Marks key number `bit` of a dynamic section seen; refuses a repeat. */
static int seen_once(parse_state *st, uint16_t *mask, unsigned bit, const char *section,
                     const char *name)
{
    if (*mask & (1u << bit)) {
        set_error(st, section, name, "key given twice (or continued on an indented line)");
        return 0;
    }
    *mask = (uint16_t)(*mask | (1u << bit));
    return 1;
}

/* `daily_notional[.TIER] = ASSET UNITS`: a KYC-tier daily notional cap of the bank (every
 * tier without .TIER), in minor units of ASSET (docs/operations.md, docs/ledger.md). */
static int on_bank_limit(parse_state *st, const char *section, const char *name, const char *value,
                         xr_config_bank *b)
{
    uint64_t tier = XR_CONFIG_ANY_TIER;
    if (name[14] != '\0' && (name[14] != '.' || !parse_u64(name + 15, &tier) || tier > 254)) {
        set_error(st, section, name, "must be daily_notional or daily_notional.TIER, TIER 0..254");
        return 0;
    }
    const char *sp = strchr(value, ' ');
    uint64_t units;
    if (sp == NULL || !asset_code_ok(value, (size_t)(sp - value))) {
        set_error(st, section, name, "must be 'ASSET UNITS' (e.g. USDT 1500000000), not '%s'",
                  value);
        return 0;
    }
    while (*sp == ' ')
        sp++;
    if (!parse_u64(sp, &units) || units == 0 || units > (uint64_t)INT64_MAX) {
        set_error(st, section, name, "UNITS must be an integer 1..%lld of minor units, not '%s'",
                  (long long)INT64_MAX, sp);
        return 0;
    }
    for (uint32_t k = 0; k < b->nlimits; k++)
        if (b->limits[k].tier == tier) {
            set_error(st, section, name, "key given twice (or continued on an indented line)");
            return 0;
        }
    if (b->nlimits == XR_CONFIG_BANK_LIMITS_MAX) {
        set_error(st, section, name, "more than %d daily_notional keys", XR_CONFIG_BANK_LIMITS_MAX);
        return 0;
    }
    xr_config_limit *l = &b->limits[b->nlimits++];
    memset(l, 0, sizeof *l);
    l->tier = (uint8_t)tier;
    memcpy(l->asset, value, (size_t)(strchr(value, ' ') - value));
    l->daily.units = (xr_i128)units;
    return 1;
}

static int on_bank(parse_state *st, const char *section, const char *name, const char *value)
{
    uint64_t id;
    if (!parse_u64(section + 5, &id) || id == 0 || id >= (1u << 24)) {
        set_error(st, section, name, "bank section must be [bank.ID] with ID 1..16777215");
        return 0;
    }
    if (!st->banks_replaced) {
        st->banks_replaced = 1;
        st->cfg.nbanks = 0;
        memset(st->cfg.banks, 0, sizeof st->cfg.banks);
    }
    uint32_t i;
    for (i = 0; i < st->cfg.nbanks && st->cfg.banks[i].id != id; i++)
        ;
    if (i == st->cfg.nbanks) {
        if (i == XR_CONFIG_BANKS_MAX) {
            set_error(st, section, name, "more than %d banks", XR_CONFIG_BANKS_MAX);
            return 0;
        }
        st->cfg.nbanks++;
        /* memset, not a compound literal: the struct's padding takes part in comparisons
         * of whole configurations (the format round trip). */
        memset(&st->cfg.banks[i], 0, sizeof st->cfg.banks[i]);
        st->cfg.banks[i].id = (uint32_t)id;
        st->cfg.banks[i].spread_bps = 150;
        st->cfg.banks[i].key_id = 1;
        st->bank_seen[i] = 0;
    }
    xr_config_bank *b = &st->cfg.banks[i];
    uint64_t v;
    if (strcmp(name, "spread_bps") == 0) {
        if (!seen_once(st, &st->bank_seen[i], 0, section, name))
            return 0;
        if (!parse_u64(value, &v) || v > 10000) {
            set_error(st, section, name, "must be an integer 0..10000, not '%s'", value);
            return 0;
        }
        b->spread_bps = (uint32_t)v;
    } else if (strcmp(name, "key_id") == 0) {
        if (!seen_once(st, &st->bank_seen[i], 1, section, name))
            return 0;
        if (!parse_u64(value, &v) || v == 0 || v > UINT32_MAX) {
            set_error(st, section, name, "must be an integer 1..4294967295, not '%s'", value);
            return 0;
        }
        b->key_id = (uint32_t)v;
    } else if (strcmp(name, "demo") == 0) {
        if (!seen_once(st, &st->bank_seen[i], 2, section, name))
            return 0;
        if (!yes_no(value, &b->demo)) {
            set_error(st, section, name, "must be yes or no, not '%s'", value);
            return 0;
        }
    } else if (strncmp(name, "daily_notional", 14) == 0) {
        return on_bank_limit(st, section, name, value, b);
    } else {
        set_error(st, section, name, "unknown key");
        return 0;
    }
    return 1;
}

static int venue_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= XR_CONFIG_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
            return 0;
    return 1;
}

static int set_field(parse_state *st, const char *section, const char *name, char *dst, size_t cap,
                     const char *value, int allow_empty)
{
    size_t len = strlen(value);
    if (len == 0 && !allow_empty) {
        set_error(st, section, name, "empty value");
        return 0;
    }
    if (len >= cap) {
        set_error(st, section, name, "value longer than %zu bytes", cap - 1);
        return 0;
    }
    memcpy(dst, value, len + 1);
    return 1;
}

static int on_venue(parse_state *st, const char *section, const char *name, const char *value)
{
    const char *vname = section + 6;
    if (!venue_name_ok(vname)) {
        set_error(st, section, name,
                  "venue section must be [venue.NAME] with NAME 1..31 of a-z, 0-9, -");
        return 0;
    }
    if (!st->venues_replaced) {
        st->venues_replaced = 1;
        st->cfg.nvenues = 0;
        memset(st->cfg.venue, 0, sizeof st->cfg.venue);
    }
    uint32_t i;
    for (i = 0; i < st->cfg.nvenues && strcmp(st->cfg.venue[i].name, vname) != 0; i++)
        ;
    if (i == st->cfg.nvenues) {
        if (i == XR_CONFIG_VENUES_MAX) {
            set_error(st, section, name, "more than %d venues", XR_CONFIG_VENUES_MAX);
            return 0;
        }
        st->cfg.nvenues++;
        memset(&st->cfg.venue[i], 0, sizeof st->cfg.venue[i]);
        snprintf(st->cfg.venue[i].name, sizeof st->cfg.venue[i].name, "%s", vname);
        snprintf(st->cfg.venue[i].dialect, sizeof st->cfg.venue[i].dialect, "binance");
        st->venue_seen[i] = 0;
    }
    xr_config_venue *v = &st->cfg.venue[i];
    static const char *const keys[] = {"dialect",       "address",      "ws_port", "host",
                                       "taker_fee_bps", "depth_stream", "pairs"};
    unsigned k;
    for (k = 0; k < sizeof keys / sizeof keys[0] && strcmp(keys[k], name) != 0; k++)
        ;
    if (k == sizeof keys / sizeof keys[0]) {
        set_error(st, section, name, "unknown key");
        return 0;
    }
    if (!seen_once(st, &st->venue_seen[i], k, section, name))
        return 0;
    uint64_t n;
    switch (k) {
    case 0:
        if (strcmp(value, "binance") != 0) {
            set_error(st, section, name, "must be one of: binance");
            return 0;
        }
        return set_field(st, section, name, v->dialect, sizeof v->dialect, value, 0);
    case 1: {
        char host[XR_CONFIG_ADDR_MAX];
        uint16_t port;
        if (xr_config_parse_hostport(value, host, sizeof host, &port) != XR_OK) {
            set_error(st, section, name, "'%s' is not a numeric host:port (e.g. 127.0.0.1:9443)",
                      value);
            return 0;
        }
        return set_field(st, section, name, v->address, sizeof v->address, value, 0);
    }
    case 2:
        if (!parse_u64(value, &n) || n > 65535) {
            set_error(st, section, name, "must be an integer 0..65535, not '%s'", value);
            return 0;
        }
        v->ws_port = (uint16_t)n;
        return 1;
    case 3:
        return set_field(st, section, name, v->host, sizeof v->host, value, 1);
    case 4:
        if (!parse_u64(value, &n) || n > 1000) {
            set_error(st, section, name, "must be an integer 0..1000, not '%s'", value);
            return 0;
        }
        v->taker_fee_bps = (uint32_t)n;
        return 1;
    case 5:
        return set_field(st, section, name, v->depth_stream, sizeof v->depth_stream, value, 1);
    default:
        return parse_pairs(st, section, name, value, v->pairs, &v->npairs);
    }
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    parse_state *st = user;
    /* "key =; x" reads as the value "; x" here but as an empty value with a comment once
     * written back by xr_config_format: no value may start with a comment character. */
    if (value[0] == ';' || value[0] == '#') {
        set_error(st, section, name, "value starts with a comment character ('%c')", value[0]);
        return 0;
    }
    if (strncmp(section, "bank.", 5) == 0)
        return on_bank(st, section, name, value);
    if (strncmp(section, "venue.", 6) == 0)
        return on_venue(st, section, name, value);
    if (strcmp(section, "assets") == 0)
        return apply_asset(st, name, value);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const key_spec *ks = &key_specs[i];
        if (strcmp(ks->section, section) != 0 || strcmp(ks->key, name) != 0)
            continue;
        if (st->seen[i]) {
            set_error(st, section, name, "key given twice (or continued on an indented line)");
            return 0;
        }
        st->seen[i] = 1;
        return apply_key(st, ks, value);
    }
    set_error(st, section, name, "unknown key");
    return 0;
}

const char *xr_config_default_text(void)
{
    return default_text;
}

xr_err xr_config_load_string(xr_config *cfg, const char *text, const char *name,
                             xr_config_error *err)
{
    parse_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return XR_ERR_NO_MEMORY;
    st->cfg = *cfg;
    st->name = name ? name : "<config>";
    st->text = text;
    st->err = err;
    /* Keys of another file may repeat a key of this one, but not within one file. */
    int rc = ini_parse_stream(read_line, st, on_pair, st);
    if (rc > 0 && (!st->failed || (unsigned)rc < st->failed_line)) {
        /* inih found a line that is neither a section, a key = value nor a comment. It
         * goes on parsing after such a line, so a handler error may come from a later line;
         * the earliest error is the one to report. */
        st->failed = 0;
        st->line = (unsigned)rc;
        set_error(st, NULL, NULL, "expected '[section]' or 'key = value'");
    }
    /* A venue section must say where the venue is and what it trades. */
    for (uint32_t i = 0; !st->failed && i < st->cfg.nvenues; i++) {
        const xr_config_venue *v = &st->cfg.venue[i];
        if (v->address[0] != '\0' && v->npairs > 0)
            continue;
        char section[48];
        snprintf(section, sizeof section, "venue.%s", v->name);
        st->line = 0;
        set_error(st, section, v->address[0] == '\0' ? "address" : "pairs",
                  "missing: every [venue.NAME] needs address and pairs");
    }
    xr_err out = st->failed ? XR_ERR_CONFIG : XR_OK;
    if (out == XR_OK)
        *cfg = st->cfg;
    free(st);
    return out;
}

xr_err xr_config_init_default(xr_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    xr_assets_init_default(&cfg->assets);
    xr_config_error err;
    xr_err rc = xr_config_load_string(cfg, default_text, "<defaults>", &err);
    /* The embedded text is part of the program and is tested; failing here is a bug. */
    XR_ASSERT(rc == XR_OK);
    return rc;
}

xr_err xr_config_load_file(xr_config *cfg, const char *path, xr_config_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (err != NULL) {
            memset(err, 0, sizeof *err);
            snprintf(err->file, sizeof err->file, "%s", path);
            snprintf(err->message, sizeof err->message, "cannot open: %s", strerror(errno));
        }
        return XR_ERR_IO;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    int read_failed = text == NULL || ferror(f);
    fclose(f);
    if (read_failed || n > CONFIG_FILE_MAX || memchr(text, '\0', n) != NULL) {
        if (err != NULL) {
            memset(err, 0, sizeof *err);
            snprintf(err->file, sizeof err->file, "%s", path);
            snprintf(err->message, sizeof err->message, "%s",
                     read_failed ? "cannot read the file"
                                 : "not a config file (larger than 1 MiB or contains NUL bytes)");
        }
        free(text);
        return read_failed ? XR_ERR_IO : XR_ERR_CONFIG;
    }
    text[n] = '\0';
    xr_err rc = xr_config_load_string(cfg, text, path, err);
    free(text);
    return rc;
}

const char *xr_config_error_format(const xr_config_error *err, char *buf, size_t cap)
{
    if (err->line > 0 && err->key[0] != '\0')
        snprintf(buf, cap, "%s:%u: %s: %s", err->file, err->line, err->key, err->message);
    else if (err->line > 0)
        snprintf(buf, cap, "%s:%u: %s", err->file, err->line, err->message);
    else
        snprintf(buf, cap, "%s: %s", err->file, err->message);
    return buf;
}

/* Appends printf output at *len; 0 when it did not fit. */
__attribute__((format(printf, 4, 5))) static int put(char *buf, size_t cap, size_t *len,
                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return 0;
    *len += (size_t)n;
    return 1;
}

static int put_pairs(char *buf, size_t cap, size_t *len, const char *key,
                     const char pairs[][XR_CONFIG_PAIR_NAME_MAX], uint32_t n)
{
    if (!put(buf, cap, len, "%s =", key))
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (!put(buf, cap, len, "%s %s", i ? "," : "", pairs[i]))
            return 0;
    return put(buf, cap, len, "\n");
}

size_t xr_config_format(const xr_config *cfg, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    int ok =
        put(buf, cap, &len,
            "[daemon]\ndata_dir = %s\nbank_listen = %s\nvenues = %s\ntls_cert = %s\n"
            "tls_key = %s\ndrain_timeout_ms = %u\nready_timeout_ms = %u\n\n"
            "[secrets]\nmaster_key = %s\nmaster_key_file = %s\n\n",
            cfg->data_dir, cfg->bank_listen, cfg->venues, cfg->tls_cert, cfg->tls_key,
            cfg->drain_timeout_ms, cfg->ready_timeout_ms, cfg->master_key, cfg->master_key_file);
    ok = ok && put(buf, cap, &len,
                   "[engine]\nring_capacity = %u\ncustomers_max = %u\norders_max = %u\n"
                   "idempotency_max = %u\nquotes_max = %u\nquote_ttl_ms = %u\n"
                   "slippage_bps = %u\nledger_batch_max = %u\nbook_stale_ms = %u\n"
                   "schedule = %s\n\n",
                   cfg->ring_capacity, cfg->customers_max, cfg->orders_max, cfg->idempotency_max,
                   cfg->quotes_max, cfg->quote_ttl_ms, cfg->slippage_bps, cfg->ledger_batch_max,
                   cfg->book_stale_ms, cfg->schedule);
    ok = ok && put(buf, cap, &len, "[simulated]\nvenues = %u\nstep_ms = %u\nseed = %llu\n",
                   cfg->sim_venues, cfg->sim_step_ms, (unsigned long long)cfg->sim_seed);
    ok = ok && put_pairs(buf, cap, &len, "pairs", cfg->sim_pairs, cfg->sim_npairs);
    for (uint32_t i = 0; ok && i < cfg->nbanks; i++) {
        const xr_config_bank *b = &cfg->banks[i];
        ok = put(buf, cap, &len, "\n[bank.%u]\nspread_bps = %u\nkey_id = %u\ndemo = %s\n", b->id,
                 b->spread_bps, b->key_id, b->demo ? "yes" : "no");
        for (uint32_t k = 0; ok && k < b->nlimits; k++) {
            const xr_config_limit *l = &b->limits[k];
            char tier[8] = "";
            if (l->tier != XR_CONFIG_ANY_TIER)
                snprintf(tier, sizeof tier, ".%u", (unsigned)l->tier);
            ok = put(buf, cap, &len, "daily_notional%s = %s %lld\n", tier, l->asset,
                     (long long)l->daily.units);
        }
    }
    for (uint32_t i = 0; ok && i < cfg->nvenues; i++) {
        const xr_config_venue *v = &cfg->venue[i];
        ok = put(buf, cap, &len,
                 "\n[venue.%s]\ndialect = %s\naddress = %s\nws_port = %u\nhost = %s\n"
                 "taker_fee_bps = %u\ndepth_stream = %s\n",
                 v->name, v->dialect, v->address, (unsigned)v->ws_port, v->host, v->taker_fee_bps,
                 v->depth_stream);
        ok = ok && put_pairs(buf, cap, &len, "pairs", v->pairs, v->npairs);
    }
    ok = ok && put(buf, cap, &len, "\n[log]\nlevel = %s\n\n[assets]\n",
                   xr_log_level_name(cfg->log_level));
    for (uint32_t i = 0; ok && i < cfg->assets.count; i++) {
        const xr_asset *a = &cfg->assets.assets[i];
        ok = put(buf, cap, &len, "%s = %u\n", a->code, (unsigned)a->scale);
    }
    return ok ? len : 0;
}
