/*
 * Configuration: INI files parsed by libinih over an embedded default.
 *
 * xroute always starts from its embedded default text (xr_config_default_text(), printed by
 * `xrouted --print-config`), so a machine with no config file runs a complete system; a
 * file given by the operator is applied on top and only needs the keys it changes.
 *
 * Strictness: an unknown section or key, a key given twice in one file, a value of the wrong
 * form or out of range, and a line too long or not of the form `key = value` are errors that
 * name the file, the line and the key; loading stops at the first error and the xr_config
 * passed in is left exactly as it was (loading works on a copy).
 *
 * Threading: a config is plain data; load it before starting threads, then read it freely.
 * Errors: XR_OK, XR_ERR_CONFIG (details in *err), XR_ERR_IO (file cannot be opened).
 */
#ifndef XR_BASE_CONFIG_H
#define XR_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/log.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_CONFIG_PATH_MAX 256
#define XR_CONFIG_ADDR_MAX 64

typedef struct xr_config {
    /* [daemon] */
    char data_dir[XR_CONFIG_PATH_MAX];    /* where the ledger and state live */
    char bank_listen[XR_CONFIG_ADDR_MAX]; /* numeric host:port of the bank protocol */
    char venues[16];                      /* "simulated": in-process simulated venues */
    /* [log] */
    xr_log_level log_level;
    /* [assets]: CODE = scale, added to the built-in assets */
    xr_asset_registry assets;
} xr_config;

typedef struct xr_config_error {
    char file[XR_CONFIG_PATH_MAX]; /* file name, or "<defaults>" for the embedded text */
    unsigned line;                 /* 1-based line of the error, 0 when not about a line */
    char key[96];                  /* "section.key", or "" when not about a key */
    char message[160];             /* what is wrong, one line */
} xr_config_error;

/* The embedded default configuration as INI text (static, NUL-terminated). */
const char *xr_config_default_text(void);

/* Resets `cfg` to the embedded default. Always XR_OK (the default is tested). */
xr_err xr_config_init_default(xr_config *cfg);

/* Applies INI `text` (named `name` in errors) on top of `cfg`. */
xr_err xr_config_load_string(xr_config *cfg, const char *text, const char *name,
                             xr_config_error *err);

/* Applies the INI file at `path` on top of `cfg`. */
xr_err xr_config_load_file(xr_config *cfg, const char *path, xr_config_error *err);

/* Formats `err` as "file:line: key: message" into buf (always NUL-terminated); returns buf. */
const char *xr_config_error_format(const xr_config_error *err, char *buf, size_t cap);

/* Writes the effective configuration of `cfg` as INI text that loads back to the same
 * values; returns the length written (without NUL), or 0 when `cap` is too small. */
size_t xr_config_format(const xr_config *cfg, char *buf, size_t cap);

/* Splits a numeric "host:port" or "[v6host]:port" into its parts. XR_ERR_CONFIG when the
 * form is wrong or port is not 1..65535. host_cap must hold the host and its NUL. */
xr_err xr_config_parse_hostport(const char *text, char *host, size_t host_cap, uint16_t *port);

#ifdef __cplusplus
}
#endif

#endif /* XR_BASE_CONFIG_H */
