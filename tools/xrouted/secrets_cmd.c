/*
 * `xrouted secrets`: the operator's access to the encrypted secrets store of a data
 * directory (docs/operations.md, "Secrets and the master key").
 *
 *   xrouted secrets list                         record names, never values
 *   xrouted secrets set-bank BANK_ID KEY_ID      a new random secret (printed once), or
 *                            [--stdin]           64..128 hex digits read from stdin
 *   xrouted secrets set-venue NAME               two lines on stdin: API key, then secret
 *   xrouted secrets delete RECORD                e.g. bank/7/2
 *   xrouted secrets rekey --new-key-file FILE    re-encrypt everything under a new master key
 *
 * Every form takes --config FILE and --data-dir DIR like the daemon (the master key comes
 * from the same place). A running daemon reads its secrets at start-up: restart it (or
 * start it) to use a new or rotated secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/xrouted/daemon.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xrouted secrets list                      [--config FILE] [--data-dir DIR]\n"
            "       xrouted secrets set-bank BANK_ID KEY_ID [--stdin] [...]\n"
            "       xrouted secrets set-venue NAME              (API key and secret on stdin)\n"
            "       xrouted secrets delete RECORD               (e.g. bank/7/2)\n"
            "       xrouted secrets rekey --new-key-file FILE   (64 hex digits, mode 0600)\n"
            "\n"
            "set-bank without --stdin generates a random 32-byte secret and prints it once as\n"
            "64 hex digits (give it to the bank); --stdin reads the secret as hex from stdin.\n"
            "rekey re-encrypts every record under the key in FILE at once (all or nothing);\n"
            "then configure FILE as the master key. A running xrouted uses new secrets after\n"
            "a restart. See docs/operations.md.\n");
}

static xr_err print_name(void *ctx, const char *name)
{
    (void)ctx;
    printf("%s\n", name);
    return XR_OK;
}

static int parse_id(const char *text, uint64_t max, uint32_t *out)
{
    char *end;
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || v == 0 || v > max)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

static int read_line(char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, stdin) == NULL)
        return 0;
    size_t len = strcspn(buf, "\r\n");
    if (buf[len] == '\0' && len == cap - 1)
        return 0; /* too long */
    buf[len] = '\0';
    return 1;
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > cap)
        return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
            return 0;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 1;
}

int xrd_secrets_main(int argc, char **argv)
{
    xr_config cfg;
    const char *config_path;
    int code = xrd_load_config(argc, argv, &cfg, &config_path);
    if (code >= 0)
        return code;
    const char *args[4] = {0};
    int nargs = 0, from_stdin = 0;
    const char *new_key_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return XRD_EXIT_OK;
        }
        if (strcmp(argv[i], "--stdin") == 0) {
            from_stdin = 1;
            continue;
        }
        if (strcmp(argv[i], "--new-key-file") == 0 && i + 1 < argc && argv[i + 1] != NULL) {
            new_key_file = argv[++i];
            continue;
        }
        if (argv[i][0] == '-' || nargs == 4) {
            fprintf(stderr, "error: INVALID_ARGUMENT: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return XRD_EXIT_USAGE;
        }
        args[nargs++] = argv[i];
    }
    const char *sub = nargs > 0 ? args[0] : "";
    uint32_t bank = 0, key_id = 0;
    int ok = (strcmp(sub, "list") == 0 && nargs == 1) ||
             (strcmp(sub, "set-bank") == 0 && nargs == 3 &&
              parse_id(args[1], (1u << 24) - 1, &bank) && parse_id(args[2], UINT32_MAX, &key_id)) ||
             (strcmp(sub, "set-venue") == 0 && nargs == 2) ||
             (strcmp(sub, "delete") == 0 && nargs == 2) ||
             (strcmp(sub, "rekey") == 0 && nargs == 1 && new_key_file != NULL);
    if (!ok) {
        fprintf(stderr, "error: INVALID_ARGUMENT: bad or missing subcommand arguments\n");
        usage(stderr);
        return XRD_EXIT_USAGE;
    }
    /* Secrets may be provisioned before the daemon's first start. */
    if (xrd_make_dirs(cfg.data_dir) != 0) {
        xrd_error(XR_ERR_IO, "cannot create the data directory %s", cfg.data_dir);
        return XRD_EXIT_RUNTIME;
    }
    uint8_t new_key[XR_SECRETS_KEY_LEN];
    if (new_key_file != NULL) {
        char why[512] = "";
        xr_err krc = xr_secrets_key_load_file(new_key_file, new_key, why, sizeof why);
        if (krc != XR_OK) {
            xrd_error(krc, "%s", why);
            return XRD_EXIT_USAGE;
        }
    }
    xr_secrets *s;
    if (xrd_open_secrets(&cfg, &s) != XR_OK)
        return XRD_EXIT_RUNTIME;
    xr_err rc = XR_OK;
    if (strcmp(sub, "list") == 0) {
        rc = xr_secrets_list(s, print_name, NULL);
    } else if (strcmp(sub, "set-bank") == 0) {
        uint8_t secret[64];
        size_t len = XRD_BANK_SECRET_LEN;
        if (from_stdin) {
            char line[256];
            if (!read_line(line, sizeof line) || !hex_to_bytes(line, secret, sizeof secret, &len) ||
                len < 16) {
                xr_secrets_wipe(line, sizeof line);
                xr_secrets_close(s);
                fprintf(stderr, "error: INVALID_ARGUMENT: stdin must hold a secret of 32..128 "
                                "hex digits (16..64 bytes)\n");
                return XRD_EXIT_USAGE;
            }
            xr_secrets_wipe(line, sizeof line);
        } else {
            rc = xr_secrets_random(secret, len);
        }
        char name[XR_SECRETS_NAME_MAX];
        snprintf(name, sizeof name, "bank/%u/%u", bank, key_id);
        if (rc == XR_OK)
            rc = xr_secrets_put(s, name, secret, len);
        if (rc == XR_OK && !from_stdin) {
            char hex[129];
            xrd_hex(secret, len, hex);
            printf("bank=%u key_id=%u secret=%s\n", bank, key_id, hex);
            xr_secrets_wipe(hex, sizeof hex);
        } else if (rc == XR_OK) {
            printf("stored %s\n", name);
        }
        xr_secrets_wipe(secret, sizeof secret);
    } else if (strcmp(sub, "set-venue") == 0) {
        char api_key[XR_SECRETS_VALUE_MAX + 2], secret[XR_SECRETS_VALUE_MAX + 2];
        char name[XR_SECRETS_NAME_MAX];
        if (!read_line(api_key, sizeof api_key) || !read_line(secret, sizeof secret) ||
            api_key[0] == '\0' || secret[0] == '\0' || strlen(api_key) > 159 ||
            strlen(secret) > 159) {
            fprintf(stderr, "error: INVALID_ARGUMENT: stdin must hold two lines, the API key "
                            "and the secret (1..159 characters each)\n");
            rc = XR_ERR_INVALID_ARGUMENT;
        } else {
            snprintf(name, sizeof name, "venue/%s/api_key", args[1]);
            rc = xr_secrets_put(s, name, api_key, strlen(api_key));
            snprintf(name, sizeof name, "venue/%s/secret", args[1]);
            if (rc == XR_OK)
                rc = xr_secrets_put(s, name, secret, strlen(secret));
            if (rc == XR_OK)
                printf("stored venue/%s/api_key and venue/%s/secret\n", args[1], args[1]);
        }
        xr_secrets_wipe(api_key, sizeof api_key);
        xr_secrets_wipe(secret, sizeof secret);
    } else if (strcmp(sub, "rekey") == 0) {
        size_t count = 0;
        rc = xr_secrets_rekey(s, new_key, &count);
        xr_secrets_wipe(new_key, sizeof new_key);
        if (rc == XR_OK)
            printf("re-encrypted %zu secrets under the key in %s: configure it as the master "
                   "key now (master_key_file, or XROUTE_MASTER_KEY); the old key no longer "
                   "opens the store\n",
                   count, new_key_file);
    } else {
        rc = xr_secrets_delete(s, args[1]);
        if (rc == XR_OK)
            printf("deleted %s\n", args[1]);
    }
    xr_secrets_close(s);
    if (rc == XR_ERR_INVALID_ARGUMENT) {
        if (strcmp(sub, "set-venue") != 0)
            xrd_error(rc, "bad record name (a-z, 0-9, '.', '_', '/', '-')");
        return XRD_EXIT_USAGE;
    }
    if (rc != XR_OK) {
        xrd_error(rc, "secrets %s failed", sub);
        return XRD_EXIT_RUNTIME;
    }
    return XRD_EXIT_OK;
}
