/*
 * unit.secrets: the encrypted secrets store (core/base/secrets.h).
 *
 * The record format is checked independently of the module: the test reads a raw record
 * from LMDB and decrypts it itself with BearSSL's portable AES (ct64) and GHASH (ctmul64)
 * following the layout documented in secrets.h and docs/operations.md; a NIST AES-256-GCM
 * known answer checks that test decryptor first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <bearssl.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/secrets.h"

static char dir[64];
static char store[96];

static uint8_t key_a[32], key_b[32];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/xr_secrets_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(store, sizeof store, "%s/secrets", dir);
    for (int i = 0; i < 32; i++) {
        key_a[i] = (uint8_t)i;
        key_b[i] = (uint8_t)(i + 1);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* ---- an independent decryptor of the documented layout ----------------------------------- */

static int gcm_open_ref(const uint8_t key[32], const uint8_t *rec, size_t rec_len, const char *aad,
                        uint8_t *out, size_t *out_len)
{
    if (rec_len < 1 + 12 + 16 || rec[0] != 1)
        return 0;
    size_t n = rec_len - 29;
    br_aes_ct64_ctr_keys aes;
    br_aes_ct64_ctr_init(&aes, key, 32);
    br_gcm_context g;
    br_gcm_init(&g, &aes.vtable, br_ghash_ctmul64);
    br_gcm_reset(&g, rec + 1, 12);
    br_gcm_aad_inject(&g, aad, strlen(aad));
    br_gcm_flip(&g);
    memcpy(out, rec + 13, n);
    br_gcm_run(&g, 0, out, n);
    *out_len = n;
    return (int)br_gcm_check_tag(&g, rec + 13 + n);
}

/* NIST GCM test case 16 (AES-256, 96-bit IV, 60-byte plaintext, 20-byte AAD): the reference
 * decryptor above recovers the plaintext and accepts the tag. */
static void test_reference_decryptor_kat(void **state)
{
    (void)state;
    static const char *k_hex = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    static const uint8_t iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                   0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
    static const uint8_t ct[60] = {
        0x52, 0x2d, 0xc1, 0xf0, 0x99, 0x56, 0x7d, 0x07, 0xf4, 0x7f, 0x37, 0xa3, 0x2a, 0x84, 0x42,
        0x7d, 0x64, 0x3a, 0x8c, 0xdc, 0xbf, 0xe5, 0xc0, 0xc9, 0x75, 0x98, 0xa2, 0xbd, 0x25, 0x55,
        0xd1, 0xaa, 0x8c, 0xb0, 0x8e, 0x48, 0x59, 0x0d, 0xbb, 0x3d, 0xa7, 0xb0, 0x8b, 0x10, 0x56,
        0x82, 0x88, 0x38, 0xc5, 0xf6, 0x1e, 0x63, 0x93, 0xba, 0x7a, 0x0a, 0xbc, 0xc9, 0xf6, 0x62};
    static const uint8_t tag[16] = {0x76, 0xfc, 0x6e, 0xce, 0x0f, 0x4e, 0x17, 0x68,
                                    0xcd, 0xdf, 0x88, 0x53, 0xbb, 0x2d, 0x55, 0x1b};
    static const uint8_t pt_head[8] = {0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5};
    static const uint8_t aad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
                                    0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
    uint8_t key[32];
    assert_int_equal(xr_secrets_key_from_hex(k_hex, key), XR_OK);
    assert_int_equal(key[0], 0xfe);
    assert_int_equal(key[31], 0x08);
    uint8_t rec[1 + 12 + 60 + 16];
    rec[0] = 1;
    memcpy(rec + 1, iv, 12);
    memcpy(rec + 13, ct, 60);
    memcpy(rec + 73, tag, 16);
    char aad_text[21];
    memcpy(aad_text, aad, 20);
    aad_text[20] = '\0';
    uint8_t out[64];
    size_t n = 0;
    assert_true(gcm_open_ref(key, rec, sizeof rec, aad_text, out, &n));
    assert_int_equal(n, 60);
    assert_memory_equal(out, pt_head, 8);
    rec[20] ^= 1; /* one ciphertext bit: the tag no longer matches */
    assert_false(gcm_open_ref(key, rec, sizeof rec, aad_text, out, &n));
}

/* Raw record of `name` from the store's LMDB (the store must be closed). */
static size_t raw_get(const char *name, uint8_t *buf, size_t cap)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 16u << 20), 0);
    assert_int_equal(mdb_env_open(env, store, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {strlen(name), (void *)name}, v;
    size_t n = 0;
    if (mdb_get(txn, dbi, &k, &v) == 0) {
        assert_true(v.mv_size <= cap);
        memcpy(buf, v.mv_data, v.mv_size);
        n = v.mv_size;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

static void raw_put(const char *name, const uint8_t *buf, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 16u << 20), 0);
    assert_int_equal(mdb_env_open(env, store, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {strlen(name), (void *)name}, v = {len, (void *)buf};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int file_contains(const char *path, const void *needle, size_t len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(data + i, needle, len) == 0)
            return 1;
    return 0;
}

static const char secret_text[] = "s3cr3t-bank-key-0123456789abcdef";

static void test_round_trip_and_layout(void **state)
{
    (void)state;
    xr_secrets *s;
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_secrets_open(store, key_a, 1, &s), XR_OK);
    assert_int_equal(xr_secrets_put(s, "bank/1/demo", secret_text, sizeof secret_text - 1), XR_OK);
    uint8_t bin[5] = {0, 1, 0, 255, 7}; /* binary-safe values */
    assert_int_equal(xr_secrets_put(s, "venue/sim-a/secret", bin, sizeof bin), XR_OK);
    char buf[XR_SECRETS_VALUE_MAX];
    size_t n = 0;
    assert_int_equal(xr_secrets_get(s, "bank/1/demo", buf, sizeof buf, &n), XR_OK);
    assert_int_equal(n, sizeof secret_text - 1);
    assert_memory_equal(buf, secret_text, n);
    assert_int_equal(xr_secrets_get(s, "venue/sim-a/secret", buf, sizeof buf, &n), XR_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, bin, 5);
    assert_int_equal(xr_secrets_get(s, "bank/1/demo", buf, 4, &n), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_secrets_get(s, "bank/2/demo", buf, sizeof buf, &n), XR_ERR_NOT_FOUND);
    xr_secrets_close(s);

    /* Nothing of the plaintext is on disk; the record decrypts by the documented layout. */
    char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", store);
    assert_false(file_contains(path, secret_text, 8));
    uint8_t rec[512];
    size_t rn = raw_get("bank/1/demo", rec, sizeof rec);
    assert_int_equal(rn, 1 + 12 + (sizeof secret_text - 1) + 16);
    uint8_t out[512];
    size_t on = 0;
    assert_true(gcm_open_ref(key_a, rec, rn, "xroute-secret-v1:bank/1/demo", out, &on));
    assert_int_equal(on, sizeof secret_text - 1);
    assert_memory_equal(out, secret_text, on);
    /* The name is authenticated: the same bytes under another name do not decrypt. */
    assert_false(gcm_open_ref(key_a, rec, rn, "xroute-secret-v1:bank/2/demo", out, &on));

    /* Reopen with the same key: still there; a rewrite uses a fresh nonce. */
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    assert_int_equal(xr_secrets_put(s, "bank/1/demo", secret_text, sizeof secret_text - 1), XR_OK);
    xr_secrets_close(s);
    uint8_t rec2[512];
    assert_int_equal(raw_get("bank/1/demo", rec2, sizeof rec2), rn);
    assert_memory_not_equal(rec + 1, rec2 + 1, 12);
}

static void test_wrong_key_is_unauthorized(void **state)
{
    (void)state;
    xr_secrets *s = (xr_secrets *)1;
    assert_int_equal(xr_secrets_open(store, key_b, 0, &s), XR_ERR_UNAUTHORIZED);
    assert_null(s);
    /* and the store is untouched: the right key still opens it */
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    char buf[64];
    size_t n;
    assert_int_equal(xr_secrets_get(s, "bank/1/demo", buf, sizeof buf, &n), XR_OK);
    xr_secrets_close(s);
}

static void test_tampered_record_is_corrupt(void **state)
{
    (void)state;
    uint8_t rec[512];
    size_t rn = raw_get("bank/1/demo", rec, sizeof rec);
    assert_true(rn > 0);
    /* moved under another name */
    raw_put("bank/9/moved", rec, rn);
    /* one flipped ciphertext bit */
    rec[14] ^= 0x10;
    raw_put("bank/1/flipped", rec, rn);
    /* a truncated record */
    raw_put("bank/1/short", rec, 20);
    xr_secrets *s;
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    char buf[XR_SECRETS_VALUE_MAX];
    size_t n;
    assert_int_equal(xr_secrets_get(s, "bank/9/moved", buf, sizeof buf, &n), XR_ERR_CORRUPT);
    assert_int_equal(xr_secrets_get(s, "bank/1/flipped", buf, sizeof buf, &n), XR_ERR_CORRUPT);
    assert_int_equal(xr_secrets_get(s, "bank/1/short", buf, sizeof buf, &n), XR_ERR_CORRUPT);
    assert_int_equal(xr_secrets_delete(s, "bank/9/moved"), XR_OK);
    assert_int_equal(xr_secrets_delete(s, "bank/9/moved"), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_secrets_delete(s, "bank/1/flipped"), XR_OK);
    assert_int_equal(xr_secrets_delete(s, "bank/1/short"), XR_OK);
    xr_secrets_close(s);
}

static xr_err collect(void *ctx, const char *name)
{
    char *acc = ctx;
    strcat(acc, name);
    strcat(acc, ";");
    return XR_OK;
}

static void test_bad_input_changes_nothing(void **state)
{
    (void)state;
    xr_secrets *s;
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    static const char *bad_names[] = {"", "Bank/1", "bank 1", "bank/1/demo!", "!check"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal(xr_secrets_put(s, bad_names[i], "xxxx", 4), XR_ERR_INVALID_ARGUMENT);
    char longname[XR_SECRETS_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(xr_secrets_put(s, longname, "xxxx", 4), XR_ERR_INVALID_ARGUMENT);
    static char big[XR_SECRETS_VALUE_MAX + 1];
    assert_int_equal(xr_secrets_put(s, "venue/x/secret", big, sizeof big), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_secrets_put(s, "venue/x/secret", big, 0), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_secrets_put(s, "venue/x/secret", big, XR_SECRETS_VALUE_MAX), XR_OK);
    char names[512] = "";
    assert_int_equal(xr_secrets_list(s, collect, names), XR_OK);
    assert_string_equal(names, "bank/1/demo;venue/sim-a/secret;venue/x/secret;");
    xr_secrets_close(s);
}

static void test_rekey(void **state)
{
    (void)state;
    xr_secrets *s;
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    size_t count = 0;
    /* A record that does not authenticate stops the rekey and changes nothing. */
    uint8_t rec[512];
    xr_secrets_close(s);
    size_t rn = raw_get("bank/1/demo", rec, sizeof rec);
    rec[20] ^= 1;
    raw_put("bank/1/zz-bad", rec, rn);
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    assert_int_equal(xr_secrets_rekey(s, key_b, &count), XR_ERR_CORRUPT);
    char buf[XR_SECRETS_VALUE_MAX];
    size_t n;
    assert_int_equal(xr_secrets_get(s, "bank/1/demo", buf, sizeof buf, &n), XR_OK);
    xr_secrets_close(s);
    assert_int_equal(xr_secrets_open(store, key_b, 0, &s), XR_ERR_UNAUTHORIZED);
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_OK);
    assert_int_equal(xr_secrets_delete(s, "bank/1/zz-bad"), XR_OK);
    /* Now every record moves to key_b; the old key no longer opens the store. */
    assert_int_equal(xr_secrets_rekey(s, key_b, &count), XR_OK);
    assert_int_equal(count, 3); /* bank/1/demo, venue/sim-a/secret, venue/x/secret */
    assert_int_equal(xr_secrets_get(s, "bank/1/demo", buf, sizeof buf, &n), XR_OK);
    assert_memory_equal(buf, secret_text, n);
    xr_secrets_close(s);
    assert_int_equal(xr_secrets_open(store, key_a, 0, &s), XR_ERR_UNAUTHORIZED);
    assert_int_equal(xr_secrets_open(store, key_b, 0, &s), XR_OK);
    assert_int_equal(xr_secrets_get(s, "venue/sim-a/secret", buf, sizeof buf, &n), XR_OK);
    assert_int_equal(n, 5);
    xr_secrets_close(s);
    /* and the stored record is sealed under key_b by the documented layout */
    rn = raw_get("bank/1/demo", rec, sizeof rec);
    uint8_t out[512];
    size_t on = 0;
    assert_true(gcm_open_ref(key_b, rec, rn, "xroute-secret-v1:bank/1/demo", out, &on));
    assert_memory_equal(out, secret_text, on);
    assert_false(gcm_open_ref(key_a, rec, rn, "xroute-secret-v1:bank/1/demo", out, &on));
}

static void test_master_key_files(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof path, "%s/master.key", dir);
    uint8_t k1[32], k2[32];
    char why[256];
    assert_int_equal(xr_secrets_key_load_file(path, k1, why, sizeof why), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_secrets_key_create_file(path, k1), XR_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 65);
    assert_int_equal(xr_secrets_key_create_file(path, k2), XR_ERR_ALREADY_EXISTS);
    assert_int_equal(xr_secrets_key_load_file(path, k2, why, sizeof why), XR_OK);
    assert_memory_equal(k1, k2, 32);
    /* group- or world-readable: refused, with the mode in the message */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(xr_secrets_key_load_file(path, k2, why, sizeof why), XR_ERR_CONFIG);
    assert_non_null(strstr(why, "0640"));
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(xr_secrets_key_load_file(path, k2, why, sizeof why), XR_OK);
    /* not 64 hex digits */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.key", dir);
    int fd = open(bad, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abcd\n", 5), 5);
    close(fd);
    assert_int_equal(xr_secrets_key_load_file(bad, k2, why, sizeof why), XR_ERR_MALFORMED);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t k[32];
    memset(k, 0xAA, sizeof k);
    const char *ok = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    assert_int_equal(xr_secrets_key_from_hex(ok, k), XR_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(k[i], i);
    char back[65];
    xr_secrets_key_to_hex(k, back);
    assert_string_equal(back, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    uint8_t k2[32];
    memcpy(k2, k, 32);
    assert_int_equal(xr_secrets_key_from_hex("00", k2), XR_ERR_MALFORMED);
    assert_int_equal(xr_secrets_key_from_hex(
                         "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", k2),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_secrets_key_from_hex(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", k2),
                     XR_ERR_MALFORMED);
    assert_memory_equal(k, k2, 32); /* unchanged on error */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_decryptor_kat),
        cmocka_unit_test(test_round_trip_and_layout),
        cmocka_unit_test(test_wrong_key_is_unauthorized),
        cmocka_unit_test(test_tampered_record_is_corrupt),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_master_key_files),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
