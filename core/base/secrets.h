/*
 * Secrets store: venue API keys and secrets and bank logon secrets, kept in an LMDB
 * environment of their own (xrouted uses data_dir/secrets), each value encrypted with
 * AES-256-GCM (BearSSL: br_gcm over br_aes_x86ni_ctr when the CPU has AES-NI, else the
 * constant-time br_aes_ct64_ctr) under a 32-byte master key that is never stored with them.
 *
 * Record layout (the LMDB value of key `name`; docs/operations.md, "Secrets"):
 *   byte 0        format version, 1
 *   bytes 1..12   a fresh random 96-bit GCM nonce per write
 *   bytes 13..    the ciphertext (as long as the value), then the 16-byte GCM tag
 * The additional authenticated data is "xroute-secret-v1:" followed by the name, so a record
 * moved under another name fails to decrypt. One record, "!check", holds a known text
 * encrypted when the store is created; opening with another master key fails on it with
 * XR_ERR_UNAUTHORIZED before any secret is read.
 *
 * Names are 1..XR_SECRETS_NAME_MAX-1 bytes of [a-z0-9._/-] (xrouted uses "bank/<id>/<key_id>"
 * and "venue/<name>/api_key", "venue/<name>/secret"). Values are 1..XR_SECRETS_VALUE_MAX
 * bytes, binary-safe.
 *
 * Master keys: 64 hex digits (32 bytes), from a file whose mode must be 0600 or 0400 (no
 * group or other bits) or from the XROUTE_MASTER_KEY environment variable (the daemon's
 * choice; this module only parses and checks).
 *
 * Threading: a store handle is used by one thread at a time. Ownership: xr_secrets_open
 * copies the master key; xr_secrets_close wipes it. Plaintext returned by xr_secrets_get is
 * written into the caller's buffer; the caller wipes it when done (xr_secrets_wipe).
 *
 * Errors:
 *   XR_OK
 *   XR_ERR_INVALID_ARGUMENT  NULL, a bad name, an empty or too long value, a buffer too small
 *   XR_ERR_NOT_FOUND         get/delete: no such record; key_load_file: no such file;
 *                            open without create: no store in dir
 *   XR_ERR_ALREADY_EXISTS    key_create_file: the file exists (it is never overwritten)
 *   XR_ERR_MALFORMED         a master key that is not exactly 64 hex digits
 *   XR_ERR_CONFIG            key_load_file: the file is readable by group or others
 *   XR_ERR_UNAUTHORIZED      open: the master key is not the one the store was created with
 *   XR_ERR_CORRUPT           a record fails authentication or has a bad layout (tampered
 *                            or damaged); a store with records but no check record; rekey:
 *                            a record that does not authenticate (nothing changed)
 *   XR_ERR_IO                the file system or LMDB failed
 *   XR_ERR_STORAGE_FULL      the store's LMDB map is full
 */
#ifndef XR_BASE_SECRETS_H
#define XR_BASE_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_SECRETS_KEY_LEN   32  /* AES-256 */
#define XR_SECRETS_NAME_MAX  96  /* with the NUL */
#define XR_SECRETS_VALUE_MAX 256 /* plaintext bytes */

typedef struct xr_secrets xr_secrets;

/* Fills buf with len bytes from the kernel's CSPRNG (getrandom). XR_ERR_IO on failure. */
xr_err xr_secrets_random(void *buf, size_t len);

/* Parses exactly 64 hex digits (either case; one trailing '\n' allowed) into key.
 * XR_ERR_MALFORMED otherwise (key unchanged). */
xr_err xr_secrets_key_from_hex(const char *hex, uint8_t key[XR_SECRETS_KEY_LEN]);

/* Writes key as 64 lower-case hex digits and a NUL into out[65]. */
void xr_secrets_key_to_hex(const uint8_t key[XR_SECRETS_KEY_LEN], char out[65]);

/* Reads a master key file: XR_ERR_NOT_FOUND (missing), XR_ERR_CONFIG (mode has group or
 * other bits: the message names the mode), XR_ERR_MALFORMED (not 64 hex digits), XR_ERR_IO.
 * `why` (may be NULL) receives a one-line explanation on error. */
xr_err xr_secrets_key_load_file(const char *path, uint8_t key[XR_SECRETS_KEY_LEN], char *why,
                                size_t why_cap);

/* Creates a new master key file (O_EXCL, mode 0600, fsync'd) holding a fresh random key and
 * returns the key. XR_ERR_ALREADY_EXISTS if the path exists, XR_ERR_IO otherwise. */
xr_err xr_secrets_key_create_file(const char *path, uint8_t key[XR_SECRETS_KEY_LEN]);

/* Opens the store in directory `dir` (created, mode 0700, when `create` is non-zero and it
 * does not exist). A new store gets its check record; an existing one is checked against
 * `key` (XR_ERR_UNAUTHORIZED on a wrong key). */
xr_err xr_secrets_open(const char *dir, const uint8_t key[XR_SECRETS_KEY_LEN], int create,
                       xr_secrets **out);

/* Closes the store and wipes the key copy. NULL is a no-op. */
void xr_secrets_close(xr_secrets *s);

/* Encrypts and stores value[0..len) under name, replacing any earlier value (durable when
 * it returns XR_OK). */
xr_err xr_secrets_put(xr_secrets *s, const char *name, const void *value, size_t len);

/* Decrypts the value of name into buf[0..cap); *len receives its length. XR_ERR_NOT_FOUND,
 * XR_ERR_CORRUPT (authentication failed), XR_ERR_INVALID_ARGUMENT (cap too small). */
xr_err xr_secrets_get(xr_secrets *s, const char *name, void *buf, size_t cap, size_t *len);

/* Removes name. XR_ERR_NOT_FOUND when absent. */
xr_err xr_secrets_delete(xr_secrets *s, const char *name);

/* Calls fn for every record name (not the check record), in byte order; never decrypts.
 * Stops early and returns fn's first non-XR_OK result. */
xr_err xr_secrets_list(xr_secrets *s, xr_err (*fn)(void *ctx, const char *name), void *ctx);

/* Re-encrypts every record, the check record included, under `new_key` in one write
 * transaction, and switches the handle to it: afterwards only `new_key` opens the store. All
 * or nothing: XR_ERR_CORRUPT if a record does not authenticate under the current key (no
 * record is changed), XR_ERR_IO / XR_ERR_STORAGE_FULL from LMDB. *count (may be NULL)
 * receives the number of secrets re-encrypted (the check record not counted). */
xr_err xr_secrets_rekey(xr_secrets *s, const uint8_t new_key[XR_SECRETS_KEY_LEN], size_t *count);

/* Zeroes buf[0..len) in a way the compiler does not remove. */
void xr_secrets_wipe(void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* XR_BASE_SECRETS_H */
