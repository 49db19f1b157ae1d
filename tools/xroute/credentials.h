/*
 * The bank credentials of the command-line tools (`xroute`'s bank commands, `xroute-bank`):
 * a `key = value` text as xrouted writes it (<data_dir>/demo-bank.env: XROUTE_CONNECT,
 * XROUTE_BANK, XROUTE_KEY_ID, XROUTE_BANK_SECRET) or as an operator writes it (connect,
 * bank_id or bank, key_id, secret, tls_ca, tls_name; bank_listen for connect), and the hex
 * form of a bank secret. Header-only (static inline) so both tools and the fuzz target
 * fuzz_cli_credentials share one parser.
 *
 * Text rules: lines end at '\n' (a '\r' before it is dropped); blank lines and lines starting
 * with '#' or ';' (after spaces) and `[section]` lines are skipped; every other line must
 * hold '='; the key and the value are trimmed of spaces and tabs; unknown keys are ignored
 * (the daemon may write more); a later line wins; a value too long for its field, a bank or
 * key id that is not a decimal number, and a NUL byte are errors.
 *
 * Threading: pure functions. Ownership: the caller's buffers; nothing is kept.
 */
#ifndef XR_TOOLS_XROUTE_CREDENTIALS_H
#define XR_TOOLS_XROUTE_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct xr_cli_creds {
    char connect[128];  /* "host:port" */
    char secret[256];   /* hex digits, as given */
    char tls_ca[256];   /* PEM trust anchors; "" = plain TCP */
    char tls_name[256]; /* DNS name the certificate must carry; "" = the host */
    uint64_t bank_id, key_id;
    int have_bank, have_key_id, have_secret;
} xr_cli_creds;

/* A decimal number of up to 19 digits (no sign, no spaces). 1 on success. */
static inline int xr_cli_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

static inline int xr_cli_copy(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        return 0;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 1;
}

/* Applies the text `s` of `len` bytes to `c` (which keeps what the text does not set).
 * Returns 0, or the 1-based number of the first bad line (then `c` may be changed in part). */
static inline unsigned xr_cli_creds_parse(const char *s, size_t len, xr_cli_creds *c)
{
    unsigned line = 0;
    size_t pos = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) : len;
        size_t a = pos, b = end;
        pos = nl ? end + 1 : len;
        if (memchr(s + a, '\0', b - a) != NULL)
            return line;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
            b--;
        if (a == b || s[a] == '#' || s[a] == ';' || s[a] == '[')
            continue;
        const char *eq = memchr(s + a, '=', b - a);
        if (eq == NULL)
            return line;
        size_t ka = a, kb = (size_t)(eq - s), va = kb + 1, vb = b;
        while (kb > ka && (s[kb - 1] == ' ' || s[kb - 1] == '\t'))
            kb--;
        while (va < vb && (s[va] == ' ' || s[va] == '\t'))
            va++;
        const char *k = s + ka, *v = s + va;
        size_t kl = kb - ka, vl = vb - va;
#define XR_CLI_KEY_IS(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
        int ok = 1;
        if (XR_CLI_KEY_IS("bank_id") || XR_CLI_KEY_IS("bank") || XR_CLI_KEY_IS("XROUTE_BANK"))
            ok = c->have_bank = xr_cli_parse_u64(v, vl, &c->bank_id);
        else if (XR_CLI_KEY_IS("key_id") || XR_CLI_KEY_IS("XROUTE_KEY_ID"))
            ok = c->have_key_id = xr_cli_parse_u64(v, vl, &c->key_id);
        else if (XR_CLI_KEY_IS("secret") || XR_CLI_KEY_IS("XROUTE_BANK_SECRET"))
            ok = c->have_secret = xr_cli_copy(c->secret, sizeof c->secret, v, vl);
        else if (XR_CLI_KEY_IS("connect") || XR_CLI_KEY_IS("bank_listen") ||
                 XR_CLI_KEY_IS("XROUTE_CONNECT"))
            ok = xr_cli_copy(c->connect, sizeof c->connect, v, vl);
        else if (XR_CLI_KEY_IS("tls_ca") || XR_CLI_KEY_IS("XROUTE_TLS_CA"))
            ok = xr_cli_copy(c->tls_ca, sizeof c->tls_ca, v, vl);
        else if (XR_CLI_KEY_IS("tls_name") || XR_CLI_KEY_IS("XROUTE_TLS_NAME"))
            ok = xr_cli_copy(c->tls_name, sizeof c->tls_name, v, vl);
#undef XR_CLI_KEY_IS
        if (!ok)
            return line;
    }
    return 0;
}

static inline int xr_cli_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes the NUL-terminated hex text `hex` (an even number of digits, 1..cap bytes) into
 * out[0, *n). 1 on success; 0 for odd length, a non-hex digit, empty or too long. */
static inline int xr_cli_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(hex);
    if (len == 0 || len % 2 != 0 || len / 2 > cap)
        return 0;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = xr_cli_hexval(hex[2 * i]), lo = xr_cli_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return 1;
}

#endif /* XR_TOOLS_XROUTE_CREDENTIALS_H */
