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
} key_kind;

typedef struct key_spec {
    const char *section;
    const char *key;
    key_kind kind;
    size_t offset;
    size_t size;
    const char *choices; /* KEY_CHOICE only */
} key_spec;

#define FIELD(f) offsetof(xr_config, f), sizeof(((xr_config *)0)->f)

static const key_spec key_specs[] = {
    {"daemon", "data_dir", KEY_PATH, FIELD(data_dir), NULL},
    {"daemon", "bank_listen", KEY_HOSTPORT, FIELD(bank_listen), NULL},
    {"daemon", "venues", KEY_CHOICE, FIELD(venues), "simulated"},
    {"log", "level", KEY_LOG_LEVEL, FIELD(log_level), NULL},
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

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    parse_state *st = user;
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

size_t xr_config_format(const xr_config *cfg, char *buf, size_t cap)
{
    size_t len = 0;
    int n =
        snprintf(buf, cap,
                 "[daemon]\ndata_dir = %s\nbank_listen = %s\nvenues = %s\n\n"
                 "[log]\nlevel = %s\n\n[assets]\n",
                 cfg->data_dir, cfg->bank_listen, cfg->venues, xr_log_level_name(cfg->log_level));
    if (n < 0 || (size_t)n >= cap)
        return 0;
    len = (size_t)n;
    for (uint32_t i = 0; i < cfg->assets.count; i++) {
        const xr_asset *a = &cfg->assets.assets[i];
        n = snprintf(buf + len, cap - len, "%s = %u\n", a->code, (unsigned)a->scale);
        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
    }
    return len;
}
