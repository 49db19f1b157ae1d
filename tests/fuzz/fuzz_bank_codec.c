/* Fuzzes the bank protocol decoder (adapters/bank/codec). The input is a byte stream of
 * frames decoded one after another. Every frame that decodes must re-encode to exactly its
 * own bytes and decode again to the same message (decode/encode pairing); every shorter
 * prefix of it must answer AGAIN; a refusal must name an offset inside the frame (its end
 * included: a field that does not fit a too-short declared length is refused there). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/bank/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xr_bank_msg msg, again;
static uint8_t out[XR_PROTO_FRAME_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        size_t used = 0, off = SIZE_MAX;
        xr_err e = xr_bank_decode(data + pos, size - pos, &msg, &used, &off);
        if (e == XR_ERR_AGAIN) {
            if (used != 0 && (used <= size - pos || used > XR_PROTO_FRAME_MAX))
                abort();
            break;
        }
        if (e == XR_ERR_MALFORMED) {
            if (off > size - pos || off > XR_PROTO_FRAME_MAX)
                abort();
            break;
        }
        if (e != XR_OK || used < XR_PROTO_HEADER_LEN || used > size - pos)
            abort();
        size_t len = 0;
        if (xr_bank_encode(&msg, out, sizeof out, &len) != XR_OK || len != used ||
            memcmp(out, data + pos, len) != 0)
            abort();
        size_t used2 = 0;
        if (xr_bank_decode(out, len, &again, &used2, NULL) != XR_OK || used2 != len ||
            memcmp(&msg, &again, sizeof msg) != 0)
            abort();
        /* One prefix, picked by the frame's own last byte, is incomplete. */
        size_t cut = data[pos + used - 1] % used;
        if (xr_bank_decode(data + pos, cut, &again, &used2, NULL) != XR_ERR_AGAIN)
            abort();
        pos += used;
    }
    return 0;
}
