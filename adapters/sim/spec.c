/*
 * The simulator's configuration in text form: built-in pairs, pair specs and fault specs,
 * shared by the CLI (tools/xroute-venue) and the control endpoint (POST /sim/fault).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sim/sim_internal.h"

#define U XR_SIM_UNIT

__attribute__((format(printf, 3, 4))) static void why_set(char *why, size_t cap, const char *fmt,
                                                          ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* ---- pairs ---------------------------------------------------------------------------- */

typedef struct preset {
    const char *symbol, *base, *quote;
    int64_t tick, min_price, max_price, step, min_qty, max_qty, min_notional, max_notional, mid,
        level_qty;
} preset;

/* Rules modelled on Binance's own for these pairs (tick, step and minimum notional), with a
 * plausible mid. All values in 10^-8 units. */
static const preset presets[] = {
    {"BTCUSDT", "BTC", "USDT", U / 100, U / 100, 1000000 * U, 1000, 1000, 9000 * U, 5 * U,
     9000000 * U, 60000 * U, U / 2},
    {"ETHUSDT", "ETH", "USDT", U / 100, U / 100, 1000000 * U, 10000, 10000, 9000 * U, 5 * U,
     9000000 * U, 3000 * U, 5 * U},
    {"ETHBTC", "ETH", "BTC", 1000, 1000, 1000 * U, 10000, 10000, 100000 * U, 10000, 9000 * U,
     5000000, 5 * U},
    {"AZNUSDT", "AZN", "USDT", 10000, 10000, 1000 * U, U / 10, U / 10, 10000000 * U, U, 9000000 * U,
     58820000, 5000 * U},
    {"USDCUSDT", "USDC", "USDT", 10000, 10000, 1000 * U, U, U, 10000000 * U, U, 9000000 * U, U,
     50000 * U},
};

xr_err xr_sim_pair_preset(const char *symbol, xr_sim_pair_config *out)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        const preset *p = &presets[i];
        if (strcmp(p->symbol, symbol) != 0)
            continue;
        memset(out, 0, sizeof *out);
        snprintf(out->symbol, sizeof out->symbol, "%s", p->symbol);
        snprintf(out->base, sizeof out->base, "%s", p->base);
        snprintf(out->quote, sizeof out->quote, "%s", p->quote);
        out->tick = p->tick;
        out->min_price = p->min_price;
        out->max_price = p->max_price;
        out->step = p->step;
        out->min_qty = p->min_qty;
        out->max_qty = p->max_qty;
        out->min_notional = p->min_notional;
        out->max_notional = p->max_notional;
        out->mid = p->mid;
        out->level_qty = p->level_qty;
        out->depth = 20;
        out->gap_ticks_max = 2;
        return XR_OK;
    }
    return XR_ERR_NOT_FOUND;
}

static bool parse_e8(const char *s, size_t n, int64_t *out)
{
    xr_i128 v;
    if (xr_decimal_parse(s, n, XR_SIM_SCALE, XR_DEC_ALLOW_TRAILING_ZEROS, &v, NULL) != XR_OK ||
        v > INT64_MAX / 4)
        return false;
    *out = (int64_t)v;
    return true;
}

static bool parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t v = 0;
    size_t i = neg ? 1 : 0;
    if (i == n || n - i > 18)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static bool key_is(const char *k, size_t kl, const char *name)
{
    return strlen(name) == kl && memcmp(k, name, kl) == 0;
}

static bool valid_code(const char *s, size_t n, size_t max)
{
    if (n < 2 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

xr_err xr_sim_convert_parse(const char *spec, xr_sim_convert_config *out, char *why, size_t why_cap)
{
    memset(out, 0, sizeof *out);
    out->rate = XR_SIM_UNIT;
    out->to_decimals = 8;
    const char *c1 = strchr(spec, ':');
    if (c1 == NULL || !valid_code(spec, (size_t)(c1 - spec), XR_ASSET_CODE_MAX)) {
        why_set(why, why_cap, "expected FROM:TO[:rate=R,fee_bps=N,decimals=D]");
        return XR_ERR_INVALID_ARGUMENT;
    }
    memcpy(out->from, spec, (size_t)(c1 - spec));
    const char *to = c1 + 1;
    const char *c2 = strchr(to, ':');
    size_t tl = c2 != NULL ? (size_t)(c2 - to) : strlen(to);
    bool same = (size_t)(c1 - spec) == tl && memcmp(spec, to, tl) == 0;
    if (!valid_code(to, tl, XR_ASSET_CODE_MAX) || same) {
        why_set(why, why_cap, "bad or equal assets in '%s'", spec);
        return XR_ERR_INVALID_ARGUMENT;
    }
    memcpy(out->to, to, tl);
    const char *p = c2 != NULL ? c2 + 1 : NULL;
    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        bool ok = eq != NULL;
        uint32_t u = 0;
        if (ok) {
            size_t kl = (size_t)(eq - p), vl = len - kl - 1;
            if (key_is(p, kl, "rate"))
                ok = parse_e8(eq + 1, vl, &out->rate) && out->rate > 0;
            else if (key_is(p, kl, "fee_bps"))
                ok = parse_u32(eq + 1, vl, &out->fee_bps) && out->fee_bps < 10000;
            else if (key_is(p, kl, "decimals"))
                ok = parse_u32(eq + 1, vl, &u) && u <= 8 && ((out->to_decimals = (uint8_t)u), 1);
            else
                ok = false;
        }
        if (!ok) {
            why_set(why, why_cap, "bad key or value '%.*s' (keys: rate fee_bps decimals)", (int)len,
                    p);
            return XR_ERR_INVALID_ARGUMENT;
        }
        p = comma != NULL ? comma + 1 : NULL;
    }
    return XR_OK;
}

xr_err xr_sim_pair_parse(const char *spec, xr_sim_pair_config *out, char *why, size_t why_cap)
{
    const char *colon = strchr(spec, ':');
    size_t sl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!valid_code(spec, sl, XR_SIM_SYMBOL_MAX)) {
        why_set(why, why_cap, "bad symbol in '%s' (upper-case letters and digits)", spec);
        return XR_ERR_INVALID_ARGUMENT;
    }
    char symbol[XR_SIM_SYMBOL_MAX + 1];
    memcpy(symbol, spec, sl);
    symbol[sl] = '\0';
    if (xr_sim_pair_preset(symbol, out) != XR_OK) {
        memset(out, 0, sizeof *out);
        memcpy(out->symbol, symbol, sl + 1);
    }
    const char *p = colon ? colon + 1 : spec + sl;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq == NULL) {
            why_set(why, why_cap, "expected key=value in '%s'", spec);
            return XR_ERR_INVALID_ARGUMENT;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        const char *val = eq + 1;
        bool ok = true;
        if (key_is(p, kl, "base") || key_is(p, kl, "quote")) {
            char *dst = key_is(p, kl, "base") ? out->base : out->quote;
            ok = valid_code(val, vl, XR_ASSET_CODE_MAX);
            if (ok) {
                memcpy(dst, val, vl);
                dst[vl] = '\0';
            }
        } else if (key_is(p, kl, "mid")) {
            ok = parse_e8(val, vl, &out->mid);
        } else if (key_is(p, kl, "tick")) {
            ok = parse_e8(val, vl, &out->tick);
        } else if (key_is(p, kl, "step")) {
            ok = parse_e8(val, vl, &out->step);
        } else if (key_is(p, kl, "min_qty")) {
            ok = parse_e8(val, vl, &out->min_qty);
        } else if (key_is(p, kl, "max_qty")) {
            ok = parse_e8(val, vl, &out->max_qty);
        } else if (key_is(p, kl, "min_price")) {
            ok = parse_e8(val, vl, &out->min_price);
        } else if (key_is(p, kl, "max_price")) {
            ok = parse_e8(val, vl, &out->max_price);
        } else if (key_is(p, kl, "min_notional")) {
            ok = parse_e8(val, vl, &out->min_notional);
        } else if (key_is(p, kl, "max_notional")) {
            ok = parse_e8(val, vl, &out->max_notional);
        } else if (key_is(p, kl, "level_qty")) {
            ok = parse_e8(val, vl, &out->level_qty);
        } else if (key_is(p, kl, "depth")) {
            ok = parse_u32(val, vl, &out->depth);
        } else if (key_is(p, kl, "gap")) {
            ok = parse_u32(val, vl, &out->gap_ticks_max);
        } else {
            why_set(why, why_cap, "unknown pair key in '%s'", spec);
            return XR_ERR_INVALID_ARGUMENT;
        }
        if (!ok) {
            why_set(why, why_cap, "bad value in '%s'", spec);
            return XR_ERR_INVALID_ARGUMENT;
        }
        p += n + (end ? 1 : 0);
    }
    xr_sim_pair_config check = *out;
    if (xr_sim_pair_config_check(&check) != XR_OK) {
        why_set(why, why_cap,
                "pair '%s' is incomplete or inconsistent (needs base, quote, mid, tick, step; "
                "mid and limits on the tick and step grids)",
                spec);
        return XR_ERR_INVALID_ARGUMENT;
    }
    *out = check;
    return XR_OK;
}

/* ---- venues --------------------------------------------------------------------------- */

/* Binance's documented HMAC example key and secret (rest-api.md, "SIGNED Endpoint
 * Examples"): the documentation's signatures verify against the default account. */
#define DOC_API_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define DOC_SECRET  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

void xr_sim_venue_config_default(xr_sim_venue_config *v, const char *name)
{
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name ? name : "binance");
    snprintf(v->dialect, sizeof v->dialect, "binance");
    snprintf(v->listen_ip, sizeof v->listen_ip, "127.0.0.1");
    v->seed = 1;
    v->maker_bps = 10;
    v->taker_bps = 10;
    static const char *const pairs[] = {"BTCUSDT", "ETHUSDT", "AZNUSDT"};
    for (size_t i = 0; i < 3; i++)
        (void)xr_sim_pair_preset(pairs[i], &v->pairs[v->npairs++]);
    v->naccounts = 1;
    xr_sim_account_config *a = &v->accounts[0];
    snprintf(a->api_key, sizeof a->api_key, "%s", DOC_API_KEY);
    snprintf(a->secret, sizeof a->secret, "%s", DOC_SECRET);
    static const struct {
        const char *asset;
        int64_t amount;
    } bal[] = {{"USDT", 1000000 * (int64_t)U},
               {"BTC", 100 * (int64_t)U},
               {"ETH", 1000 * (int64_t)U},
               {"AZN", 1000000 * (int64_t)U}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(a->balances[i].asset, sizeof a->balances[i].asset, "%s", bal[i].asset);
        a->balances[i].amount = bal[i].amount;
    }
    a->nbalances = 4;
    v->step_us = 20000;
    v->weight_limit = 6000;
    v->orders_10s = 50;
    v->orders_1d = 160000;
    v->ban_after = 3;
    v->ban_s = 120;
    v->max_sessions = 64;
}

/* ---- faults --------------------------------------------------------------------------- */

static const struct {
    const char *name;
    uint8_t kind;
} fault_names[] = {
    {"clear", XR_SIM_FAULT_CLEAR},           {"latency", XR_SIM_FAULT_LATENCY},
    {"disconnect", XR_SIM_FAULT_DISCONNECT}, {"gap", XR_SIM_FAULT_GAP},
    {"5xx", XR_SIM_FAULT_HTTP_5XX},          {"429", XR_SIM_FAULT_HTTP_429},
    {"reject", XR_SIM_FAULT_REJECT},         {"down", XR_SIM_FAULT_DOWN},
    {"stale", XR_SIM_FAULT_STALE},           {"clock", XR_SIM_FAULT_CLOCK},
};

const char *xr_sim_fault_name(int kind)
{
    for (size_t i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++)
        if (fault_names[i].kind == kind)
            return fault_names[i].name;
    return "unknown";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out (NUL-terminated, at most cap - 1 bytes). */
static bool url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return false;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

xr_err xr_sim_fault_parse(const char *text, size_t len, xr_sim_fault *f, char *why, size_t why_cap)
{
    memset(f, 0, sizeof *f);
    char buf[512];
    if (len >= sizeof buf) {
        why_set(why, why_cap, "%s", "fault spec too long");
        return XR_ERR_INVALID_ARGUMENT;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* The CLI form "KIND:k=v,k=v" becomes "kind=KIND&k=v&k=v". */
    char norm[600];
    if (strncmp(buf, "kind=", 5) != 0) {
        char *colon = strchr(buf, ':');
        if (colon != NULL)
            *colon = '\0';
        snprintf(norm, sizeof norm, "kind=%s%s%s", buf, colon ? "&" : "", colon ? colon + 1 : "");
        for (char *c = norm; *c; c++)
            if (*c == ',')
                *c = '&';
    } else {
        snprintf(norm, sizeof norm, "%s", buf);
    }

    bool have_kind = false, have_count = false;
    f->status = 503;
    f->code = -2010;
    f->retry_after_s = 1;
    snprintf(f->msg, sizeof f->msg, "This action is disabled on this account.");
    char *save = NULL;
    for (char *tok = strtok_r(norm, "&", &save); tok != NULL; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            why_set(why, why_cap, "expected key=value, got '%s'", tok);
            return XR_ERR_INVALID_ARGUMENT;
        }
        *eq = '\0';
        const char *k = tok;
        char val[256];
        if (!url_decode(eq + 1, strlen(eq + 1), val, sizeof val)) {
            why_set(why, why_cap, "bad value for '%s'", k);
            return XR_ERR_INVALID_ARGUMENT;
        }
        size_t vl = strlen(val);
        bool ok = true;
        int64_t i64 = 0;
        if (strcmp(k, "kind") == 0) {
            ok = false;
            for (size_t i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++) {
                if (strcmp(val, fault_names[i].name) == 0) {
                    f->kind = fault_names[i].kind;
                    ok = have_kind = true;
                }
            }
        } else if (strcmp(k, "ms") == 0) {
            ok = parse_u32(val, vl, &f->ms);
        } else if (strcmp(k, "count") == 0) {
            ok = parse_u32(val, vl, &f->count);
            have_count = true;
        } else if (strcmp(k, "every") == 0) {
            ok = parse_u32(val, vl, &f->every);
        } else if (strcmp(k, "after") == 0) {
            ok = parse_u32(val, vl, &f->after);
        } else if (strcmp(k, "retry_after") == 0) {
            ok = parse_u32(val, vl, &f->retry_after_s) && f->retry_after_s > 0;
        } else if (strcmp(k, "status") == 0) {
            ok = parse_i64(val, vl, &i64) && i64 >= 500 && i64 <= 599;
            f->status = (int)i64;
        } else if (strcmp(k, "code") == 0) {
            ok = parse_i64(val, vl, &i64) && i64 < 0 && i64 > -100000;
            f->code = (int)i64;
        } else if (strcmp(k, "msg") == 0) {
            snprintf(f->msg, sizeof f->msg, "%.127s", val);
        } else if (strcmp(k, "after_exec") == 0) {
            ok = strcmp(val, "1") == 0 || strcmp(val, "0") == 0 || strcmp(val, "true") == 0 ||
                 strcmp(val, "false") == 0;
            f->after_exec = val[0] == '1' || val[0] == 't';
        } else if (strcmp(k, "offset_ms") == 0) {
            ok = parse_i64(val, vl, &f->offset_ms);
        } else {
            why_set(why, why_cap, "unknown fault parameter '%s'", k);
            return XR_ERR_INVALID_ARGUMENT;
        }
        if (!ok) {
            why_set(why, why_cap, "bad value for '%s'", k);
            return XR_ERR_INVALID_ARGUMENT;
        }
    }
    if (!have_kind) {
        why_set(why, why_cap, "%s",
                "missing or unknown kind (clear, latency, disconnect, gap, 5xx, 429, reject, "
                "down, stale, clock)");
        return XR_ERR_INVALID_ARGUMENT;
    }
    bool counted = f->kind == XR_SIM_FAULT_HTTP_5XX || f->kind == XR_SIM_FAULT_HTTP_429 ||
                   f->kind == XR_SIM_FAULT_REJECT || (f->kind == XR_SIM_FAULT_GAP && f->every == 0);
    if (counted && !have_count)
        f->count = 1;
    return XR_OK;
}
