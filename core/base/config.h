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

#define XR_CONFIG_BANKS_MAX      8  /* = XR_ENGINE_BANKS_MAX */
#define XR_CONFIG_VENUES_MAX     8  /* = XR_ENGINE_VENUES_MAX */
#define XR_CONFIG_PAIRS_MAX      16 /* = XR_ENGINE_VENUE_PAIRS_MAX */
#define XR_CONFIG_PAIR_NAME_MAX  24 /* "BASE/QUOTE" and its NUL */
#define XR_CONFIG_NAME_MAX       32 /* a venue's name and its NUL */
#define XR_CONFIG_SIM_VENUES_MAX 4

/* Daily notional caps per bank (x 8 banks = the engine's 32), and the every-tier wildcard
 * (= XR_ENGINE_ANY_TIER). */
#define XR_CONFIG_BANK_LIMITS_MAX 4
#define XR_CONFIG_ANY_TIER        255

/* A bank's KYC-tier daily notional cap (xr_engine_limit_config): `daily_notional = ASSET
 * UNITS` (every tier) or `daily_notional.TIER = ASSET UNITS` in its [bank.ID] section. */
typedef struct xr_config_limit {
    uint8_t tier;                      /* 0..254, XR_CONFIG_ANY_TIER for the bank's default */
    char asset[XR_ASSET_CODE_MAX + 1]; /* the quote asset it is counted in */
    xr_amount daily;                   /* > 0, minor units of that asset */
} xr_config_limit;

/* [bank.ID]: one bank allowed to log on (docs/operations.md, "Banks"). Its logon secret is
 * not configuration: it lives in the encrypted secrets store as bank/ID/KEY_ID. */
typedef struct xr_config_bank {
    uint32_t id;         /* from the section name, 1..2^24-1 */
    uint32_t spread_bps; /* default spread for every pair and tier [150] */
    uint32_t key_id;     /* the API key id banks log on with [1] */
    uint8_t demo;        /* 1: generate a secret on first start and print the credentials */
    uint32_t nlimits;    /* daily notional caps [none] */
    xr_config_limit limits[XR_CONFIG_BANK_LIMITS_MAX];
} xr_config_bank;

/* [venue.NAME]: one real venue connection (used when [daemon] venues = configured). Its API
 * key and secret live in the secrets store as venue/NAME/api_key and venue/NAME/secret. */
typedef struct xr_config_venue {
    char name[XR_CONFIG_NAME_MAX];    /* from the section name */
    char dialect[16];                 /* "binance" */
    char address[XR_CONFIG_ADDR_MAX]; /* numeric host:port of REST (and WebSocket) */
    uint16_t ws_port;                 /* 0: same port */
    char host[64];                    /* Host header; "" = localhost */
    uint32_t taker_fee_bps;           /* 0..1000 */
    char depth_stream[24];            /* "" = the dialect's default */
    uint32_t npairs;
    char pairs[XR_CONFIG_PAIRS_MAX][XR_CONFIG_PAIR_NAME_MAX]; /* canonical "BTC/USDT" */
} xr_config_venue;

typedef struct xr_config {
    /* [daemon] */
    char data_dir[XR_CONFIG_PATH_MAX];    /* where the ledger and state live */
    char bank_listen[XR_CONFIG_ADDR_MAX]; /* numeric host:port of the bank protocol */
    char venues[16];                      /* "simulated" (in-process) or "configured" */
    /* [log] */
    xr_log_level log_level;
    /* [assets]: CODE = scale, added to the built-in assets */
    xr_asset_registry assets;
    /* ---- daemon keys (docs/operations.md has every one) ---- */
    /* [daemon] */
    char tls_cert[XR_CONFIG_PATH_MAX]; /* PEM chain for the bank port; "" = plain TCP */
    char tls_key[XR_CONFIG_PATH_MAX];  /* PEM private key */
    uint32_t drain_timeout_ms;         /* SIGTERM: how long to finish in-flight work [10000] */
    uint32_t ready_timeout_ms;         /* start-up: how long to wait for venue books [20000] */
    /* [secrets] */
    char master_key[16];                      /* generate | file | env */
    char master_key_file[XR_CONFIG_PATH_MAX]; /* "" = <data_dir>/master.key */
    /* [engine]: xr_engine_config's limits */
    uint32_t ring_capacity, customers_max, orders_max, idempotency_max, quotes_max;
    uint32_t quote_ttl_ms, slippage_bps, ledger_batch_max, book_stale_ms;
    char schedule[16]; /* "threads" (engine threads, xr_engine_set_notify) or "inline" */
    /* [simulated]: the in-process simulated venues (venues = simulated) */
    uint32_t sim_venues;  /* 1..XR_CONFIG_SIM_VENUES_MAX [2] */
    uint32_t sim_step_ms; /* market step [20]; 0 = books never move */
    uint64_t sim_seed;
    uint32_t sim_npairs;
    char sim_pairs[XR_CONFIG_PAIRS_MAX][XR_CONFIG_PAIR_NAME_MAX];
    /* [bank.ID] sections; the first bank section of a file replaces the banks before it */
    uint32_t nbanks;
    xr_config_bank banks[XR_CONFIG_BANKS_MAX];
    /* [venue.NAME] sections; the first venue section of a file replaces the venues before */
    uint32_t nvenues;
    xr_config_venue venue[XR_CONFIG_VENUES_MAX];
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
