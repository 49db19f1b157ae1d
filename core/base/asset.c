/*
 * The asset registry: a fixed array of (code, scale) in the caller's memory. It is filled at
 * start-up and read afterwards, so a linear scan of at most XR_ASSETS_MAX short codes is
 * cheaper than any index would be worth; nothing here allocates.
 */
#include "xroute/money.h"

#include <stdbool.h>
#include <string.h>

#include "core/base/assert.h"

_Static_assert(XR_ASSETS_MAX <= UINT16_MAX, "asset ids fit xr_asset.id");
_Static_assert(XR_SCALE_MAX <= UINT8_MAX, "scales fit xr_asset.scale");

/* The length of `code` if it is 2..XR_ASSET_CODE_MAX of [A-Z0-9], else 0. Never reads past
 * the NUL or past XR_ASSET_CODE_MAX + 1 bytes. */
static size_t code_length(const char *code)
{
    size_t n = 0;
    for (; code[n] != '\0'; n++) {
        char c = code[n];
        if (n == XR_ASSET_CODE_MAX || !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return n >= 2 ? n : 0;
}

void xr_assets_init_default(xr_asset_registry *reg)
{
    static const struct {
        const char *code;
        unsigned scale;
    } defaults[] = {
        {"USD", 2},  {"EUR", 2},   {"AZN", 2}, {"USDT", 6},
        {"USDC", 6}, {"PYUSD", 6}, {"BTC", 8}, {"ETH", 18},
    };
    XR_ASSERT(reg != NULL);
    memset(reg, 0, sizeof *reg);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        xr_err err = xr_assets_add(reg, defaults[i].code, defaults[i].scale, NULL);
        XR_ASSERT(err == XR_OK);
    }
    XR_ASSERT(reg->count == 8);
}

xr_err xr_assets_add(xr_asset_registry *reg, const char *code, unsigned scale, const xr_asset **out)
{
    XR_ASSERT(reg != NULL && reg->count <= XR_ASSETS_MAX);
    if (code == NULL || scale > XR_SCALE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    size_t len = code_length(code);
    if (len == 0)
        return XR_ERR_INVALID_ARGUMENT;

    const xr_asset *existing = xr_assets_find(reg, code);
    if (existing != NULL) {
        /* Re-adding the same definition is a no-op, so start-up code can be idempotent; a
         * different scale would silently re-value every stored amount and is refused. */
        if (existing->scale != scale)
            return XR_ERR_ALREADY_EXISTS;
        if (out != NULL)
            *out = existing;
        return XR_OK;
    }
    if (reg->count == XR_ASSETS_MAX)
        return XR_ERR_NO_MEMORY;

    xr_asset *a = &reg->assets[reg->count];
    memset(a, 0, sizeof *a);
    memcpy(a->code, code, len);
    a->scale = (uint8_t)scale;
    a->id = (uint16_t)reg->count;
    reg->count++;
    if (out != NULL)
        *out = a;
    return XR_OK;
}

const xr_asset *xr_assets_find(const xr_asset_registry *reg, const char *code)
{
    XR_ASSERT(reg != NULL && reg->count <= XR_ASSETS_MAX);
    if (code == NULL)
        return NULL;
    for (uint32_t i = 0; i < reg->count; i++) {
        /* strncmp bounded by the stored code's size: `code` may be longer than any code. */
        const xr_asset *a = &reg->assets[i];
        if (strncmp(a->code, code, sizeof a->code) == 0)
            return a;
    }
    return NULL;
}
