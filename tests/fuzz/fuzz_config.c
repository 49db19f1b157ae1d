/* Fuzzes configuration loading: any text either loads, and then formats to text that loads
 * to the identical configuration, or is refused with a position and leaves the
 * configuration untouched. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static xr_config cfg, before, again;
    static char formatted[16384];
    xr_config_init_default(&cfg);
    before = cfg;
    xr_config_error err;
    xr_err rc = xr_config_load_string(&cfg, text, "fuzz", &err);
    if (rc != XR_OK) {
        if (rc != XR_ERR_CONFIG || memcmp(&cfg, &before, sizeof cfg) != 0)
            abort();
    } else {
        size_t n = xr_config_format(&cfg, formatted, sizeof formatted);
        if (n == 0)
            abort();
        xr_config_init_default(&again);
        if (xr_config_load_string(&again, formatted, "formatted", &err) != XR_OK ||
            memcmp(&again, &cfg, sizeof cfg) != 0)
            abort();
    }
    free(text);
    return 0;
}
