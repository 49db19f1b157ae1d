/*
 * Structured logging: one line per event, `key=value` pairs, written with a single write(2)
 * so lines from several threads never interleave.
 *
 *   ts=2026-11-21T15:25:34.123456Z level=info mod=ledger ev=commit batch=256 dur_ns=183204
 *
 * A line is built in a caller-owned xr_log_line (on the stack; no allocation) with typed
 * field helpers; strings that contain spaces, quotes, '=' or control bytes are quoted and
 * escaped so every line parses back unambiguously.
 *
 * Secrets never reach a log: pass them through xr_log_secret(), which writes only
 * "[REDACTED]", and register every long-lived secret (API secrets, master keys) with
 * xr_log_register_secret(); xr_log_end() scrubs any registered secret that still slipped into
 * a line (for example inside a venue's echoed request) before the line is written.
 *
 * Threading: xr_log_begin/field/end are thread-safe (the line is the caller's). The level
 * and the sink are atomics and may be changed at any time. xr_log_register_secret is
 * thread-safe against itself and against concurrent logging; registered secrets are copied
 * and cleared by xr_log_clear_secrets().
 */
#ifndef XR_BASE_LOG_H
#define XR_BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xr_log_level {
    XR_LOG_DEBUG = 0,
    XR_LOG_INFO = 1,
    XR_LOG_WARN = 2,
    XR_LOG_ERROR = 3,
    XR_LOG_OFF = 4 /* as a threshold: log nothing */
} xr_log_level;

#define XR_LOG_LINE_MAX 1024 /* longer lines are cut and end with "truncated=1" */

typedef struct xr_log_line {
    char buf[XR_LOG_LINE_MAX];
    size_t len;
    int enabled;   /* 0 when the level is below the threshold: every call is a no-op */
    int truncated; /* a field did not fit */
} xr_log_line;

/* Threshold: lines below it are dropped cheaply (default XR_LOG_INFO). */
void xr_log_set_level(xr_log_level level);
xr_log_level xr_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off". XR_ERR_INVALID_ARGUMENT otherwise. */
xr_err xr_log_level_parse(const char *name, xr_log_level *out);
const char *xr_log_level_name(xr_log_level level);

/* File descriptor the lines go to (default 2, stderr). The caller keeps it open. */
void xr_log_set_fd(int fd);

/* Starts a line with ts, level, mod (module) and ev (event name). */
void xr_log_begin(xr_log_line *l, xr_log_level level, const char *module, const char *event);
void xr_log_str(xr_log_line *l, const char *key, const char *value);
void xr_log_strn(xr_log_line *l, const char *key, const char *value, size_t len);
void xr_log_u64(xr_log_line *l, const char *key, uint64_t value);
void xr_log_i64(xr_log_line *l, const char *key, int64_t value);
/* err=NAME for the code (stable name, never the number alone). */
void xr_log_err(xr_log_line *l, xr_err err);
/* key=[REDACTED]; the value is not read beyond checking it is non-NULL. */
void xr_log_secret(xr_log_line *l, const char *key, const char *value);
/* Scrubs registered secrets, appends '\n' and writes the line in one write(2). */
void xr_log_end(xr_log_line *l);

/* Remembers a secret (at least 4 bytes; copied, up to 32 secrets of up to 256 bytes) so that
 * it is replaced by [REDACTED] in any line that contains it. XR_ERR_NO_MEMORY when full,
 * XR_ERR_INVALID_ARGUMENT when too short or too long. */
xr_err xr_log_register_secret(const void *secret, size_t len);
void xr_log_clear_secrets(void);

/* Replaces every occurrence of every registered secret in buf[0..len) by "[REDACTED]" in
 * place (the text may shrink or grow up to `cap`); returns the new length. Exposed for
 * other writers of operator-visible text (CLI output, error reports). */
size_t xr_log_scrub(char *buf, size_t len, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XR_BASE_LOG_H */
