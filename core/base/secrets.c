/*
 * The encrypted secrets store (secrets.h). AES-256-GCM from BearSSL, records in LMDB.
 *
 * Why a random nonce per write and not a counter: the store is written a handful of times in
 * its life (a secret added or rotated by an operator), so the birthday bound of 96-bit random
 * nonces (2^32 writes under one key for a 2^-32 collision chance) is never approached, and a
 * random nonce needs no persistent counter that a restored backup could roll back.
 */
#include "core/base/secrets.h"

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/assert.h"

#define REC_VERSION   1
#define NONCE_LEN     12
#define TAG_LEN       16
#define REC_OVERHEAD  (1 + NONCE_LEN + TAG_LEN)
#define CHECK_NAME    "!check"
#define CHECK_TEXT    "xroute secrets store check v1"
#define AAD_PREFIX    "xroute-secret-v1:"
#define STORE_MAP_LEN (16u << 20) /* secrets are few and small */

struct xr_secrets {
    MDB_env *env;
    MDB_dbi dbi;
    uint8_t key[XR_SECRETS_KEY_LEN];
};

void xr_secrets_wipe(void *buf, size_t len)
{
    volatile unsigned char *p = buf;
    while (len--)
        *p++ = 0;
}

xr_err xr_secrets_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return XR_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return XR_OK;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

xr_err xr_secrets_key_from_hex(const char *hex, uint8_t key[XR_SECRETS_KEY_LEN])
{
    if (hex == NULL || key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    size_t len = strlen(hex);
    if (len == 2 * XR_SECRETS_KEY_LEN + 1 && hex[len - 1] == '\n')
        len--;
    if (len != 2 * XR_SECRETS_KEY_LEN)
        return XR_ERR_MALFORMED;
    uint8_t tmp[XR_SECRETS_KEY_LEN];
    for (size_t i = 0; i < XR_SECRETS_KEY_LEN; i++) {
        int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            xr_secrets_wipe(tmp, sizeof tmp);
            return XR_ERR_MALFORMED;
        }
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(key, tmp, sizeof tmp);
    xr_secrets_wipe(tmp, sizeof tmp);
    return XR_OK;
}

void xr_secrets_key_to_hex(const uint8_t key[XR_SECRETS_KEY_LEN], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < XR_SECRETS_KEY_LEN; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 15];
    }
    out[2 * XR_SECRETS_KEY_LEN] = '\0';
}

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

xr_err xr_secrets_key_load_file(const char *path, uint8_t key[XR_SECRETS_KEY_LEN], char *why,
                                size_t why_cap)
{
    if (path == NULL || key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    /* Symbolic links are followed (secret mounts are often links); the mode checked is the
     * file's own. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        say(why, why_cap, "master key file %s: %s", path, strerror(e));
        return e == ENOENT ? XR_ERR_NOT_FOUND : XR_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        say(why, why_cap, "master key file %s is not a regular file", path);
        return XR_ERR_IO;
    }
    /* A key that other users can read is a key that has leaked: refuse it, as ssh does. */
    if ((st.st_mode & 077) != 0) {
        close(fd);
        say(why, why_cap, "master key file %s has mode %04o; it must be 0600 (chmod 600)", path,
            (unsigned)(st.st_mode & 07777));
        return XR_ERR_CONFIG;
    }
    char text[2 * XR_SECRETS_KEY_LEN + 2];
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    if (n < 0) {
        say(why, why_cap, "master key file %s: read failed", path);
        return XR_ERR_IO;
    }
    xr_err rc = XR_ERR_MALFORMED;
    if ((size_t)n < sizeof text) {
        text[n] = '\0';
        rc = xr_secrets_key_from_hex(text, key);
    }
    xr_secrets_wipe(text, sizeof text);
    if (rc != XR_OK)
        say(why, why_cap, "master key file %s: expected 64 hex digits", path);
    return rc;
}

xr_err xr_secrets_key_create_file(const char *path, uint8_t key[XR_SECRETS_KEY_LEN])
{
    if (path == NULL || key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    uint8_t k[XR_SECRETS_KEY_LEN];
    if (xr_secrets_random(k, sizeof k) != XR_OK)
        return XR_ERR_IO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        xr_secrets_wipe(k, sizeof k);
        return errno == EEXIST ? XR_ERR_ALREADY_EXISTS : XR_ERR_IO;
    }
    char text[2 * XR_SECRETS_KEY_LEN + 2];
    xr_secrets_key_to_hex(k, text);
    text[2 * XR_SECRETS_KEY_LEN] = '\n';
    /* fchmod: the umask may have taken bits away, never added; make the mode exact. */
    int ok = fchmod(fd, 0600) == 0 &&
             write(fd, text, 2 * XR_SECRETS_KEY_LEN + 1) == (ssize_t)(2 * XR_SECRETS_KEY_LEN + 1);
    ok = ok && fsync(fd) == 0;
    close(fd);
    xr_secrets_wipe(text, sizeof text);
    if (!ok) {
        unlink(path);
        xr_secrets_wipe(k, sizeof k);
        return XR_ERR_IO;
    }
    memcpy(key, k, sizeof k);
    xr_secrets_wipe(k, sizeof k);
    return XR_OK;
}

/* ---- AES-256-GCM --------------------------------------------------------------------------- */

/* One GCM context over the fastest constant-time AES CTR this CPU has. */
typedef struct gcm {
    br_aes_gen_ctr_keys aes;
    br_gcm_context ctx;
} gcm;

static void gcm_init(gcm *g, const uint8_t key[XR_SECRETS_KEY_LEN])
{
    const br_block_ctr_class *vt = br_aes_x86ni_ctr_get_vtable();
    if (vt == NULL)
        vt = &br_aes_ct64_ctr_vtable;
    vt->init(&g->aes.vtable, key, XR_SECRETS_KEY_LEN);
    br_ghash gh = br_ghash_pclmul_get();
    if (gh == 0)
        gh = &br_ghash_ctmul64;
    br_gcm_init(&g->ctx, &g->aes.vtable, gh);
}

static void gcm_start(gcm *g, const uint8_t nonce[NONCE_LEN], const char *name)
{
    br_gcm_reset(&g->ctx, nonce, NONCE_LEN);
    br_gcm_aad_inject(&g->ctx, AAD_PREFIX, sizeof AAD_PREFIX - 1);
    br_gcm_aad_inject(&g->ctx, name, strlen(name));
    br_gcm_flip(&g->ctx);
}

static int name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= XR_SECRETS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

static xr_err map_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return XR_OK;
    case MDB_NOTFOUND:
        return XR_ERR_NOT_FOUND;
    case MDB_MAP_FULL:
        return XR_ERR_STORAGE_FULL;
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return XR_ERR_CORRUPT;
    default:
        return XR_ERR_IO;
    }
}

/* Encrypts and writes one record inside txn (names checked by the caller). */
static xr_err put_txn(xr_secrets *s, MDB_txn *txn, const char *name, const void *value, size_t len)
{
    uint8_t rec[REC_OVERHEAD + XR_SECRETS_VALUE_MAX];
    rec[0] = REC_VERSION;
    if (xr_secrets_random(rec + 1, NONCE_LEN) != XR_OK)
        return XR_ERR_IO;
    memcpy(rec + 1 + NONCE_LEN, value, len);
    gcm g;
    gcm_init(&g, s->key);
    gcm_start(&g, rec + 1, name);
    br_gcm_run(&g.ctx, 1, rec + 1 + NONCE_LEN, len);
    br_gcm_get_tag(&g.ctx, rec + 1 + NONCE_LEN + len);
    xr_secrets_wipe(&g, sizeof g);
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {REC_OVERHEAD + len, rec};
    xr_err rc = map_mdb(mdb_put(txn, s->dbi, &k, &v, 0));
    xr_secrets_wipe(rec, sizeof rec);
    return rc;
}

/* Reads and decrypts one record. XR_ERR_CORRUPT when it does not authenticate. */
static xr_err get_txn(xr_secrets *s, MDB_txn *txn, const char *name, void *buf, size_t cap,
                      size_t *len)
{
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v;
    xr_err rc = map_mdb(mdb_get(txn, s->dbi, &k, &v));
    if (rc != XR_OK)
        return rc;
    if (v.mv_size <= REC_OVERHEAD || v.mv_size > REC_OVERHEAD + XR_SECRETS_VALUE_MAX ||
        ((const uint8_t *)v.mv_data)[0] != REC_VERSION)
        return XR_ERR_CORRUPT;
    size_t n = v.mv_size - REC_OVERHEAD;
    if (n > cap)
        return XR_ERR_INVALID_ARGUMENT;
    const uint8_t *rec = v.mv_data;
    uint8_t plain[XR_SECRETS_VALUE_MAX];
    memcpy(plain, rec + 1 + NONCE_LEN, n);
    gcm g;
    gcm_init(&g, s->key);
    gcm_start(&g, rec + 1, name);
    br_gcm_run(&g.ctx, 0, plain, n);
    uint32_t ok = br_gcm_check_tag(&g.ctx, rec + 1 + NONCE_LEN + n);
    xr_secrets_wipe(&g, sizeof g);
    if (!ok) {
        xr_secrets_wipe(plain, sizeof plain);
        return XR_ERR_CORRUPT;
    }
    memcpy(buf, plain, n);
    xr_secrets_wipe(plain, sizeof plain);
    *len = n;
    return XR_OK;
}

/* ---- the store ---------------------------------------------------------------------------- */

void xr_secrets_close(xr_secrets *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    xr_secrets_wipe(s->key, sizeof s->key);
    free(s);
}

/* Checks the store's check record, or writes it into an empty store. */
static xr_err check_store(xr_secrets *s)
{
    MDB_txn *txn;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
    if (rc != XR_OK)
        return rc;
    char text[XR_SECRETS_VALUE_MAX];
    size_t n = 0;
    rc = get_txn(s, txn, CHECK_NAME, text, sizeof text, &n);
    if (rc == XR_OK) {
        mdb_txn_abort(txn);
        if (n != sizeof CHECK_TEXT - 1 || memcmp(text, CHECK_TEXT, n) != 0)
            return XR_ERR_CORRUPT;
        return XR_OK;
    }
    if (rc == XR_ERR_CORRUPT) {
        /* The check text is known, so a failed tag means another key (or a tampered
         * check record, which an operator cannot tell apart and handles the same way). */
        mdb_txn_abort(txn);
        return XR_ERR_UNAUTHORIZED;
    }
    if (rc != XR_ERR_NOT_FOUND) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_stat st;
    if ((rc = map_mdb(mdb_stat(txn, s->dbi, &st))) != XR_OK || st.ms_entries != 0) {
        mdb_txn_abort(txn);
        return rc != XR_OK ? rc : XR_ERR_CORRUPT;
    }
    rc = put_txn(s, txn, CHECK_NAME, CHECK_TEXT, sizeof CHECK_TEXT - 1);
    if (rc != XR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return map_mdb(mdb_txn_commit(txn));
}

xr_err xr_secrets_open(const char *dir, const uint8_t key[XR_SECRETS_KEY_LEN], int create,
                       xr_secrets **out)
{
    if (dir == NULL || key == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    char path[512];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path)
        return XR_ERR_INVALID_ARGUMENT;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!create)
            return XR_ERR_NOT_FOUND;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return XR_ERR_IO;
    }
    xr_secrets *s = calloc(1, sizeof *s);
    if (s == NULL)
        return XR_ERR_NO_MEMORY;
    memcpy(s->key, key, sizeof s->key);
    xr_err rc = map_mdb(mdb_env_create(&s->env));
    if (rc == XR_OK)
        rc = map_mdb(mdb_env_set_mapsize(s->env, STORE_MAP_LEN));
    if (rc == XR_OK)
        rc = map_mdb(mdb_env_open(s->env, dir, MDB_NOTLS, 0600));
    if (rc == XR_OK) {
        MDB_txn *txn;
        rc = map_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
        if (rc == XR_OK) {
            rc = map_mdb(mdb_dbi_open(txn, NULL, 0, &s->dbi));
            rc = rc == XR_OK ? map_mdb(mdb_txn_commit(txn)) : (mdb_txn_abort(txn), rc);
        }
    }
    if (rc == XR_OK)
        rc = check_store(s);
    if (rc != XR_OK) {
        xr_secrets_close(s);
        return rc;
    }
    *out = s;
    return XR_OK;
}

xr_err xr_secrets_put(xr_secrets *s, const char *name, const void *value, size_t len)
{
    if (s == NULL || !name_ok(name) || value == NULL || len == 0 || len > XR_SECRETS_VALUE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
    if (rc != XR_OK)
        return rc;
    rc = put_txn(s, txn, name, value, len);
    if (rc != XR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return map_mdb(mdb_txn_commit(txn));
}

xr_err xr_secrets_get(xr_secrets *s, const char *name, void *buf, size_t cap, size_t *len)
{
    if (s == NULL || !name_ok(name) || buf == NULL || len == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
    if (rc != XR_OK)
        return rc;
    rc = get_txn(s, txn, name, buf, cap, len);
    mdb_txn_abort(txn);
    return rc;
}

xr_err xr_secrets_delete(xr_secrets *s, const char *name)
{
    if (s == NULL || !name_ok(name))
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
    if (rc != XR_OK)
        return rc;
    MDB_val k = {strlen(name), (void *)name};
    rc = map_mdb(mdb_del(txn, s->dbi, &k, NULL));
    if (rc != XR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return map_mdb(mdb_txn_commit(txn));
}

xr_err xr_secrets_list(xr_secrets *s, xr_err (*fn)(void *ctx, const char *name), void *ctx)
{
    if (s == NULL || fn == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    MDB_cursor *cur;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
    if (rc != XR_OK)
        return rc;
    if ((rc = map_mdb(mdb_cursor_open(txn, s->dbi, &cur))) != XR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val k, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS && rc == XR_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[XR_SECRETS_NAME_MAX];
        if (k.mv_size >= sizeof name) {
            rc = XR_ERR_CORRUPT;
            break;
        }
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (strcmp(name, CHECK_NAME) == 0)
            continue;
        rc = fn(ctx, name);
    }
    if (rc == XR_OK && mrc != MDB_NOTFOUND)
        rc = map_mdb(mrc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

xr_err xr_secrets_rekey(xr_secrets *s, const uint8_t new_key[XR_SECRETS_KEY_LEN], size_t *count)
{
    if (s == NULL || new_key == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    MDB_txn *txn;
    MDB_cursor *cur;
    xr_err rc = map_mdb(mdb_txn_begin(s->env, NULL, 0, &txn));
    if (rc != XR_OK)
        return rc;
    if ((rc = map_mdb(mdb_cursor_open(txn, s->dbi, &cur))) != XR_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Collect the names first: writing while iterating would move the cursor. */
    size_t n = 0, cap = 16;
    char(*names)[XR_SECRETS_NAME_MAX] = malloc(cap * sizeof *names);
    MDB_val k, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == MDB_SUCCESS && rc == XR_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (names == NULL || k.mv_size >= XR_SECRETS_NAME_MAX) {
            rc = names == NULL ? XR_ERR_NO_MEMORY : XR_ERR_CORRUPT;
            break;
        }
        if (n == cap) {
            void *grown = realloc(names, 2 * cap * sizeof *names);
            if (grown == NULL) {
                rc = XR_ERR_NO_MEMORY;
                break;
            }
            names = grown;
            cap *= 2;
        }
        memcpy(names[n], k.mv_data, k.mv_size);
        names[n][k.mv_size] = '\0';
        n++;
    }
    if (rc == XR_OK && mrc != MDB_NOTFOUND)
        rc = map_mdb(mrc);
    mdb_cursor_close(cur);
    /* Decrypt each with the current key, encrypt with the new one (the handle's key is
     * switched per record and back, so a failure leaves the handle as it was). */
    uint8_t old_key[XR_SECRETS_KEY_LEN];
    memcpy(old_key, s->key, sizeof old_key);
    uint8_t plain[XR_SECRETS_VALUE_MAX];
    size_t secrets = 0;
    for (size_t i = 0; rc == XR_OK && i < n; i++) {
        size_t len = 0;
        memcpy(s->key, old_key, sizeof old_key);
        rc = get_txn(s, txn, names[i], plain, sizeof plain, &len);
        if (rc == XR_OK) {
            memcpy(s->key, new_key, XR_SECRETS_KEY_LEN);
            rc = put_txn(s, txn, names[i], plain, len);
        }
        secrets += strcmp(names[i], CHECK_NAME) != 0;
    }
    xr_secrets_wipe(plain, sizeof plain);
    free(names);
    if (rc == XR_OK)
        rc = map_mdb(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    memcpy(s->key, rc == XR_OK ? new_key : old_key, XR_SECRETS_KEY_LEN);
    xr_secrets_wipe(old_key, sizeof old_key);
    if (rc == XR_OK && count != NULL)
        *count = secrets;
    return rc;
}
