/*
 * xrouted's parts, shared by its source files (not a library interface).
 *
 *   main.c         arguments, the start-up sequence, the serving loop, SIGTERM drain
 *   keys.c         master key, the secrets store, bank and venue credentials
 *   simvenues.c    the in-process simulated venues on their own thread
 *   secrets_cmd.c  `xrouted secrets ...`: list, set-bank, set-venue, delete
 *
 * Exit codes (docs/operations.md): 0 clean stop; 1 a runtime failure (I/O, wrong master key,
 * corrupt store, engine or server failure); 2 bad usage, bad configuration, or the data
 * directory is locked by another instance.
 */
#ifndef XR_TOOLS_XROUTED_DAEMON_H
#define XR_TOOLS_XROUTED_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/config.h"
#include "adapters/sim/engine.h"
#include "core/base/secrets.h"
#include "xroute/engine.h"
#include "xroute/err.h"

#define XRD_EXIT_OK      0
#define XRD_EXIT_RUNTIME 1
#define XRD_EXIT_USAGE   2

#define XRD_BANK_SECRET_LEN 32 /* bytes of a generated bank secret (printed as 64 hex) */

/* Prints "error: NAME: message" to stderr (scrubbed of registered secrets) and logs it
 * without the message's arguments beyond what the format carries. */
__attribute__((format(printf, 2, 3))) void xrd_error(xr_err err, const char *fmt, ...);

/* Where the master key comes from, per [secrets] master_key; loads (or, for "generate",
 * creates on first start) the key. *generated is set when a new key file was written. */
xr_err xrd_master_key(const xr_config *cfg, uint8_t key[XR_SECRETS_KEY_LEN], int *generated);

/* Opens <data_dir>/secrets with the configured master key (creating the store if absent). */
xr_err xrd_open_secrets(const xr_config *cfg, xr_secrets **out);

/* The secret of bank `b` (record bank/ID/KEY_ID). For a demo bank a missing secret is
 * generated and stored (*created = 1). Registers it with the log scrubber. */
xr_err xrd_bank_secret(xr_secrets *s, const xr_config_bank *b, uint8_t *secret, size_t cap,
                       size_t *len, int *created);

/* API key and secret of venue `name` (records venue/NAME/api_key, venue/NAME/secret), as
 * NUL-terminated text. With `generate`, missing ones are generated (simulated venues).
 * Registers both with the log scrubber. */
xr_err xrd_venue_credentials(xr_secrets *s, const char *name, int generate, char *api_key,
                             size_t key_cap, char *secret, size_t secret_cap);

/* mkdir -p, mode 0700 for what it creates; 0 when `path` is a directory afterwards. */
int xrd_make_dirs(const char *path);

/* Lower-case hex of bytes into out (2*len+1 bytes). */
void xrd_hex(const uint8_t *bytes, size_t len, char *out);

/* ---- simulated venues ---------------------------------------------------------------------- */

typedef struct xrd_sim xrd_sim;

typedef struct xrd_sim_venue {
    char name[32];
    char api_key[XR_SIM_API_KEY_MAX + 1]; /* what the simulator accepts */
    char secret[XR_SIM_SECRET_MAX + 1];
    uint16_t taker_fee_bps;
    uint16_t port; /* set by xrd_sim_start */
} xrd_sim_venue;

/* Starts cfg->sim_venues simulated Binance-dialect venues on ephemeral loopback ports, with
 * cfg->sim_pairs seeded from cfg->sim_seed, on a thread of their own. venues[i] give names,
 * credentials and fees; their ports are filled in. XR_ERR_CONFIG for a pair the simulator
 * has no market for (why says which). */
xr_err xrd_sim_start(const xr_config *cfg, xrd_sim_venue *venues, xrd_sim **out, char *why,
                     size_t why_cap);
/* Stops the thread and destroys the simulator. NULL is a no-op. */
void xrd_sim_stop(xrd_sim *s);

/* The simulator's venue symbol of a canonical pair ("USDT/AZN" -> "USDTAZN"). */
void xrd_pair_symbol(const char *pair, char *out, size_t cap);

/* ---- subcommands ---------------------------------------------------------------------------- */

/* `xrouted secrets ...`; argv[0] is "secrets". Returns the exit code. */
int xrd_secrets_main(int argc, char **argv);

/* Loads the embedded default, then --config FILE and --data-dir DIR from argv (other
 * arguments are left for the caller: consumed ones are set to NULL). Exit code on error,
 * -1 on success. */
int xrd_load_config(int argc, char **argv, xr_config *cfg, const char **config_path);

#endif /* XR_TOOLS_XROUTED_DAEMON_H */
