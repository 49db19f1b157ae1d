#include "core/base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/clock.h"

#define LOG_SECRETS_MAX   32
#define LOG_SECRET_BYTES  256
#define LOG_REDACTED      "[REDACTED]"
#define LOG_TRUNC_MARK    " truncated=1"
#define LOG_TRUNC_RESERVE (sizeof LOG_TRUNC_MARK + 1) /* mark and the newline */

static _Atomic int log_level = XR_LOG_INFO;
static _Atomic int log_fd = 2;

/* Secrets are few and registered at start-up; a mutex keeps scrubbing simple and correct
 * while one thread registers and another logs. Logging is not on the order path. */
static pthread_mutex_t secrets_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned secrets_count;
static size_t secrets_len[LOG_SECRETS_MAX];
static unsigned char secrets[LOG_SECRETS_MAX][LOG_SECRET_BYTES];

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void xr_log_set_level(xr_log_level level)
{
    XR_ASSERT(level >= XR_LOG_DEBUG && level <= XR_LOG_OFF);
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

xr_log_level xr_log_get_level(void)
{
    return (xr_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

xr_err xr_log_level_parse(const char *name, xr_log_level *out)
{
    if (name == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    for (unsigned i = 0; i <= XR_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (xr_log_level)i;
            return XR_OK;
        }
    }
    return XR_ERR_INVALID_ARGUMENT;
}

const char *xr_log_level_name(xr_log_level level)
{
    if ((unsigned)level > XR_LOG_OFF)
        return "unknown";
    return level_names[level];
}

void xr_log_set_fd(int fd)
{
    atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

static void line_put(xr_log_line *l, const char *s, size_t n)
{
    size_t room = XR_LOG_LINE_MAX - LOG_TRUNC_RESERVE - l->len;
    if (n > room) {
        n = room;
        l->truncated = 1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_putc(xr_log_line *l, char c)
{
    line_put(l, &c, 1);
}

/* A value is quoted when a plain reader would mis-split it: empty, or containing a space, a
 * quote, '=', a backslash or any control byte. */
static int needs_quotes(const char *v, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return 1;
    }
    return 0;
}

static void put_value(xr_log_line *l, const char *v, size_t n)
{
    if (!needs_quotes(v, n)) {
        line_put(l, v, n);
        return;
    }
    line_putc(l, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            line_putc(l, '\\');
            line_putc(l, (char)c);
        } else if (c == '\n') {
            line_put(l, "\\n", 2);
        } else if (c < ' ' || c == 0x7f) {
            char esc[5];
            snprintf(esc, sizeof esc, "\\x%02x", c);
            line_put(l, esc, 4);
        } else {
            line_putc(l, (char)c);
        }
    }
    line_putc(l, '"');
}

static void put_key(xr_log_line *l, const char *key)
{
    line_putc(l, ' ');
    line_put(l, key, strlen(key));
    line_putc(l, '=');
}

void xr_log_begin(xr_log_line *l, xr_log_level level, const char *module, const char *event)
{
    l->len = 0;
    l->truncated = 0;
    l->enabled =
        (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed) && level < XR_LOG_OFF;
    if (!l->enabled)
        return;
    char ts[XR_CLOCK_RFC3339_MAX];
    size_t n = xr_clock_format_rfc3339(xr_clock_wall_ns(), ts, sizeof ts);
    line_put(l, "ts=", 3);
    line_put(l, ts, n);
    xr_log_str(l, "level", xr_log_level_name(level));
    xr_log_str(l, "mod", module);
    xr_log_str(l, "ev", event);
}

void xr_log_strn(xr_log_line *l, const char *key, const char *value, size_t len)
{
    if (!l->enabled)
        return;
    put_key(l, key);
    if (value == NULL)
        line_put(l, "(null)", 6);
    else
        put_value(l, value, len);
}

void xr_log_str(xr_log_line *l, const char *key, const char *value)
{
    xr_log_strn(l, key, value, value ? strlen(value) : 0);
}

void xr_log_u64(xr_log_line *l, const char *key, uint64_t value)
{
    if (!l->enabled)
        return;
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)value);
    put_key(l, key);
    line_put(l, num, (size_t)n);
}

void xr_log_i64(xr_log_line *l, const char *key, int64_t value)
{
    if (!l->enabled)
        return;
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)value);
    put_key(l, key);
    line_put(l, num, (size_t)n);
}

void xr_log_err(xr_log_line *l, xr_err err)
{
    xr_log_str(l, "err", xr_err_name(err));
}

void xr_log_secret(xr_log_line *l, const char *key, const char *value)
{
    xr_log_str(l, key, value ? LOG_REDACTED : "(null)");
}

/* Caller holds secrets_mu. */
static size_t scrub_locked(char *buf, size_t len, size_t cap)
{
    const size_t rlen = sizeof LOG_REDACTED - 1;
    for (unsigned s = 0; s < secrets_count; s++) {
        size_t slen = secrets_len[s];
        size_t i = 0;
        while (i + slen <= len) {
            if (memcmp(buf + i, secrets[s], slen) != 0) {
                i++;
                continue;
            }
            /* Replace the secret; if growing would overflow `cap`, cut the tail: losing
             * the end of a line is acceptable, leaking a secret is not. */
            size_t tail = len - i - slen;
            size_t new_len = len - slen + rlen;
            if (new_len > cap) {
                tail = cap > i + rlen ? cap - i - rlen : 0;
                new_len = i + rlen + tail;
            }
            if (i + rlen > cap) {
                /* Not even the marker fits: end the text before the secret. */
                len = i;
                break;
            }
            memmove(buf + i + rlen, buf + i + slen, tail);
            memcpy(buf + i, LOG_REDACTED, rlen);
            len = new_len;
            i += rlen;
        }
    }
    return len;
}

size_t xr_log_scrub(char *buf, size_t len, size_t cap)
{
    pthread_mutex_lock(&secrets_mu);
    len = scrub_locked(buf, len, cap);
    pthread_mutex_unlock(&secrets_mu);
    return len;
}

void xr_log_end(xr_log_line *l)
{
    if (!l->enabled)
        return;
    size_t cap = XR_LOG_LINE_MAX - LOG_TRUNC_RESERVE;
    l->len = xr_log_scrub(l->buf, l->len, cap);
    if (l->truncated) {
        memcpy(l->buf + l->len, LOG_TRUNC_MARK, sizeof LOG_TRUNC_MARK - 1);
        l->len += sizeof LOG_TRUNC_MARK - 1;
    }
    l->buf[l->len++] = '\n';
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(fd, l->buf + off, l->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* a log that cannot be written must not stop the engine */
        off += (size_t)w;
    }
    l->enabled = 0;
}

xr_err xr_log_register_secret(const void *secret, size_t len)
{
    if (secret == NULL || len < 4 || len > LOG_SECRET_BYTES)
        return XR_ERR_INVALID_ARGUMENT;
    xr_err rc = XR_OK;
    pthread_mutex_lock(&secrets_mu);
    for (unsigned s = 0; s < secrets_count; s++) {
        if (secrets_len[s] == len && memcmp(secrets[s], secret, len) == 0)
            goto out;
    }
    if (secrets_count == LOG_SECRETS_MAX) {
        rc = XR_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(secrets[secrets_count], secret, len);
    secrets_len[secrets_count] = len;
    secrets_count++;
out:
    pthread_mutex_unlock(&secrets_mu);
    return rc;
}

void xr_log_clear_secrets(void)
{
    pthread_mutex_lock(&secrets_mu);
    /* Wipe the copies so the secrets do not linger in memory after they are dropped. */
    for (unsigned s = 0; s < secrets_count; s++) {
        volatile unsigned char *p = secrets[s];
        for (size_t i = 0; i < LOG_SECRET_BYTES; i++)
            p[i] = 0;
        secrets_len[s] = 0;
    }
    secrets_count = 0;
    pthread_mutex_unlock(&secrets_mu);
}
