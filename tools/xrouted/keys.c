/*
 * xrouted: the master key, the secrets store and the credentials kept in it
 * (docs/operations.md, "Secrets and the master key").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/log.h"
#include "tools/xrouted/daemon.h"

void xrd_error(xr_err err, const char *fmt, ...)
{
    char msg[768];
    int n = snprintf(msg, sizeof msg, "error: %s: ", xr_err_name(err));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = xr_log_scrub(msg, strlen(msg), sizeof msg - 1);
    msg[len] = '\0';
    fprintf(stderr, "%s\n", msg);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "xrouted", "error");
    xr_log_err(&l, err);
    xr_log_str(&l, "msg", msg + n);
    xr_log_end(&l);
}

/* mkdir -p with mode 0700 for what it creates. */
int xrd_make_dirs(const char *path)
{
    char tmp[XR_CONFIG_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

void xrd_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static void register_secret(const void *p, size_t len)
{
    /* The scrubber holds a bounded number of secrets; a full table is logged, never fatal:
     * secrets are still never passed to the log on purpose. */
    if (len >= 4 && xr_log_register_secret(p, len) != XR_OK) {
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_WARN, "xrouted", "scrubber_full");
        xr_log_end(&l);
    }
}

xr_err xrd_master_key(const xr_config *cfg, uint8_t key[XR_SECRETS_KEY_LEN], int *generated)
{
    *generated = 0;
    char path[XR_CONFIG_PATH_MAX + 16];
    if (cfg->master_key_file[0] != '\0')
        snprintf(path, sizeof path, "%s", cfg->master_key_file);
    else
        snprintf(path, sizeof path, "%s/master.key", cfg->data_dir);
    char why[512] = "";
    xr_err rc;
    if (strcmp(cfg->master_key, "env") == 0) {
        const char *hex = getenv("XROUTE_MASTER_KEY");
        if (hex == NULL || hex[0] == '\0') {
            xrd_error(XR_ERR_CONFIG, "[secrets] master_key = env but XROUTE_MASTER_KEY is not set");
            return XR_ERR_CONFIG;
        }
        rc = xr_secrets_key_from_hex(hex, key);
        if (rc != XR_OK)
            xrd_error(rc, "XROUTE_MASTER_KEY must be 64 hex digits (32 bytes)");
    } else if (strcmp(cfg->master_key, "file") == 0) {
        rc = xr_secrets_key_load_file(path, key, why, sizeof why);
        if (rc != XR_OK)
            xrd_error(rc, "%s", why);
    } else {
        rc = xr_secrets_key_load_file(path, key, why, sizeof why);
        if (rc == XR_ERR_NOT_FOUND) {
            rc = xr_secrets_key_create_file(path, key);
            if (rc == XR_OK) {
                *generated = 1;
                xr_log_line l;
                xr_log_begin(&l, XR_LOG_WARN, "xrouted", "master_key_generated");
                xr_log_str(&l, "path", path);
                xr_log_str(&l, "note", "demo only: production supplies the key (file or env)");
                xr_log_end(&l);
            } else {
                xrd_error(rc, "cannot create the master key file %s", path);
            }
        } else if (rc != XR_OK) {
            xrd_error(rc, "%s", why);
        }
    }
    if (rc == XR_OK) {
        char hex[2 * XR_SECRETS_KEY_LEN + 1];
        xrd_hex(key, XR_SECRETS_KEY_LEN, hex);
        register_secret(hex, strlen(hex));
        register_secret(key, XR_SECRETS_KEY_LEN);
        xr_secrets_wipe(hex, sizeof hex);
    }
    return rc;
}

xr_err xrd_open_secrets(const xr_config *cfg, xr_secrets **out)
{
    uint8_t key[XR_SECRETS_KEY_LEN];
    int generated = 0;
    xr_err rc = xrd_master_key(cfg, key, &generated);
    if (rc != XR_OK)
        return rc;
    char dir[XR_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/secrets", cfg->data_dir);
    rc = xr_secrets_open(dir, key, 1, out);
    xr_secrets_wipe(key, sizeof key);
    if (rc == XR_ERR_UNAUTHORIZED)
        xrd_error(rc,
                  "the master key does not open %s (a different key than the one the store "
                  "was created with; see docs/operations.md, troubleshooting)",
                  dir);
    else if (rc != XR_OK)
        xrd_error(rc, "cannot open the secrets store %s", dir);
    return rc;
}

xr_err xrd_bank_secret(xr_secrets *s, const xr_config_bank *b, uint8_t *secret, size_t cap,
                       size_t *len, int *created)
{
    char name[XR_SECRETS_NAME_MAX];
    snprintf(name, sizeof name, "bank/%u/%u", b->id, b->key_id);
    *created = 0;
    xr_err rc = xr_secrets_get(s, name, secret, cap, len);
    if (rc == XR_ERR_NOT_FOUND && b->demo) {
        if ((rc = xr_secrets_random(secret, XRD_BANK_SECRET_LEN)) == XR_OK &&
            (rc = xr_secrets_put(s, name, secret, XRD_BANK_SECRET_LEN)) == XR_OK) {
            *len = XRD_BANK_SECRET_LEN;
            *created = 1;
        }
    }
    if (rc == XR_ERR_NOT_FOUND)
        xrd_error(rc,
                  "no secret for bank %u key %u in the secrets store: add one with "
                  "'xrouted secrets set-bank %u %u'",
                  b->id, b->key_id, b->id, b->key_id);
    else if (rc != XR_OK)
        xrd_error(rc, "cannot read the secret of bank %u key %u", b->id, b->key_id);
    if (rc == XR_OK) {
        char hex[2 * XR_SECRETS_VALUE_MAX + 1];
        xrd_hex(secret, *len, hex);
        register_secret(hex, strlen(hex));
        register_secret(secret, *len);
        xr_secrets_wipe(hex, sizeof hex);
    }
    return rc;
}

/* A random credential of `len` characters of [A-Za-z0-9] (what venues issue). */
static xr_err random_token(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t raw[128];
    if (len > sizeof raw || xr_secrets_random(raw, len) != XR_OK)
        return XR_ERR_IO;
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[raw[i] % 62]; /* a slight bias is harmless for a demo credential */
    out[len] = '\0';
    xr_secrets_wipe(raw, sizeof raw);
    return XR_OK;
}

static xr_err get_text(xr_secrets *s, const char *name, int generate, char *out, size_t cap)
{
    size_t len = 0;
    xr_err rc = xr_secrets_get(s, name, out, cap - 1, &len);
    if (rc == XR_OK) {
        out[len] = '\0';
        if (strlen(out) != len)
            return XR_ERR_CORRUPT;
        return XR_OK;
    }
    if (rc != XR_ERR_NOT_FOUND || !generate)
        return rc;
    if ((rc = random_token(out, 64 < cap - 1 ? 64 : cap - 1)) != XR_OK)
        return rc;
    return xr_secrets_put(s, name, out, strlen(out));
}

xr_err xrd_venue_credentials(xr_secrets *s, const char *name, int generate, char *api_key,
                             size_t key_cap, char *secret, size_t secret_cap)
{
    char rec[XR_SECRETS_NAME_MAX];
    snprintf(rec, sizeof rec, "venue/%s/api_key", name);
    xr_err rc = get_text(s, rec, generate, api_key, key_cap);
    if (rc == XR_OK) {
        snprintf(rec, sizeof rec, "venue/%s/secret", name);
        rc = get_text(s, rec, generate, secret, secret_cap);
    }
    if (rc == XR_ERR_NOT_FOUND)
        xrd_error(rc,
                  "no credentials for venue %s in the secrets store: add them with "
                  "'xrouted secrets set-venue %s'",
                  name, name);
    else if (rc != XR_OK)
        xrd_error(rc, "cannot read the credentials of venue %s", name);
    if (rc == XR_OK) {
        register_secret(api_key, strlen(api_key));
        register_secret(secret, strlen(secret));
    }
    return rc;
}
