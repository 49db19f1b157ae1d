/* Fuzzes the decimal parser: the first byte picks the scale and flags, the rest is the text.
 * Whatever parses must format back to text that parses to the same value, and the trimmed
 * form too; nothing may crash or trip a sanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xroute/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned scale = data[0] % (XR_SCALE_MAX + 1);
    unsigned flags = (data[0] >> 6) & 3u;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    xr_i128 v = 0;
    xr_parse_error perr;
    xr_err rc = xr_decimal_parse(text, len, scale, flags, &v, &perr);
    if (rc != XR_OK) {
        if (perr.offset > len || perr.fault == XR_DEC_OK)
            abort();
        return 0;
    }
    char buf[XR_DECIMAL_STR_MAX];
    size_t n = xr_decimal_format(v, scale, buf, sizeof buf);
    if (n == 0)
        abort();
    xr_i128 back = 0;
    if (xr_decimal_parse(buf, n, scale, XR_DEC_ALLOW_NEGATIVE, &back, NULL) != XR_OK || back != v)
        abort();
    n = xr_decimal_format_trim(v, scale, buf, sizeof buf);
    back = 0;
    if (n == 0 || xr_decimal_parse(buf, n, scale, XR_DEC_ALLOW_NEGATIVE, &back, NULL) != XR_OK ||
        back != v)
        abort();
    return 0;
}
