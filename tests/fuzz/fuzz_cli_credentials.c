/*
 * fuzz.cli_credentials: the credentials text of `xroute` and `xroute-bank`
 * (tools/xroute/credentials.h) on arbitrary bytes: never reads outside the input, every field
 * it fills stays NUL-terminated inside its array, a bad line number is inside the text, and a
 * secret it accepts decodes (or is refused) without writing past the key's 64 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/xroute/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly `size` bytes: ASan sees any read past the input. */
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    xr_cli_creds c;
    memset(&c, 0, sizeof c);
    unsigned bad = xr_cli_creds_parse(text, size, &c);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    if (bad > lines)
        abort();
    if (memchr(c.connect, 0, sizeof c.connect) == NULL ||
        memchr(c.secret, 0, sizeof c.secret) == NULL ||
        memchr(c.tls_ca, 0, sizeof c.tls_ca) == NULL ||
        memchr(c.tls_name, 0, sizeof c.tls_name) == NULL)
        abort();
    uint8_t key[64];
    size_t n = 0;
    if (xr_cli_hex_decode(c.secret, key, sizeof key, &n) && (n == 0 || n > sizeof key))
        abort();
    free(text);
    return 0;
}
