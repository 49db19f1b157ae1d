/* Fuzzes the bank session rules (adapters/bank/session) the way the gateway server and the
 * client apply them to untrusted frames. The input's first byte selects options (bit 0:
 * re-sign every LOGON with the known secret, so the fuzzer gets past the HMAC; bits 1-7: the
 * clock offset); the rest is a stream of frames decoded one after another:
 *   LOGON     -> xr_bank_auth_check: a signed logon with a fresh nonce inside the window
 *                must pass, the same one again must not; an unsigned one must not pass
 *   requests  -> the resting-order table (its count always equals its used entries; CANCELs
 *                only for the asked bank)
 *   responses -> the resting table and the client's seq verdicts (last never moves back,
 *                NEW only for last + 1) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC INT64_C(1000000000)

static xr_bank_server_key keys[2];
static xr_bank_auth auth;
static xr_bank_resting resting;
static xr_engine_cmd cancels[XR_BANK_RESTING_MAX];
static uint8_t frame[XR_PROTO_FRAME_MAX];

static void check_resting(void)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < XR_BANK_RESTING_MAX; i++)
        used += resting.e[i].bank_id != 0;
    if (used != resting.n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sign = data[0] & 1;
    int64_t now = INT64_C(1767225600) * SEC + (int64_t)(data[0] >> 1) * SEC;
    data++, size--;
    memset(keys, 0, sizeof keys);
    keys[0] = (xr_bank_server_key){.bank_id = 7, .key_id = 1, .secret_len = 11, .active = 1};
    memcpy(keys[0].secret, "demo-secret", 11);
    keys[1] = (xr_bank_server_key){.bank_id = 9, .key_id = 2, .secret_len = 4, .active = 1};
    memcpy(keys[1].secret, "nine", 4);
    xr_bank_auth_init(&auth, keys, 2, 30 * SEC);
    memset(&resting, 0, sizeof resting);
    uint64_t last = 0;
    size_t pos = 0;
    while (pos < size) {
        xr_bank_msg m;
        size_t used = 0;
        if (xr_bank_decode(data + pos, size - pos, &m, &used, NULL) != XR_OK)
            break;
        memcpy(frame, data + pos, used);
        pos += used;
        if (m.type == XR_PROTO_LOGON) {
            const xr_bank_server_key *k = NULL;
            for (int i = 0; i < 2; i++)
                if (keys[i].bank_id == m.u.logon.bank_id && keys[i].key_id == m.u.logon.key_id)
                    k = &keys[i];
            if (sign && k != NULL)
                xr_bank_logon_sign(k->secret, k->secret_len, frame);
            uint8_t mac[XR_PROTO_MAC_LEN];
            int signed_ok = 0;
            if (k != NULL) {
                xr_bank_logon_mac(k->secret, k->secret_len, frame, mac);
                signed_ok = memcmp(mac, frame + XR_PROTO_LOGON_MAC_OFFSET, sizeof mac) == 0;
            }
            int64_t d;
            int in_window = !__builtin_sub_overflow(m.u.logon.timestamp_ns, now, &d) &&
                            d <= 30 * SEC && d >= -30 * SEC;
            xr_err e = xr_bank_auth_check(&auth, &m.u.logon, frame, now);
            if (!signed_ok && e == XR_OK)
                abort(); /* never without the secret */
            if (signed_ok && !in_window && e != XR_ERR_STALE)
                abort();
            if (e == XR_OK && xr_bank_auth_check(&auth, &m.u.logon, frame, now) == XR_OK)
                abort(); /* a nonce is accepted once */
        } else if (m.type > XR_PROTO_CMD_BASE && m.type < XR_PROTO_EV_BASE) {
            xr_err e = xr_bank_resting_note_cmd(&resting, &m.u.cmd);
            if (e != XR_OK && e != XR_ERR_NO_MEMORY)
                abort();
            check_resting();
            uint64_t corr = 1;
            size_t n = xr_bank_resting_cancels(&resting, m.u.cmd.bank_id, cancels,
                                               XR_BANK_RESTING_MAX, &corr);
            for (size_t i = 0; i < n; i++)
                if (cancels[i].bank_id != m.u.cmd.bank_id ||
                    cancels[i].kind != XR_ENGINE_CMD_CANCEL)
                    abort();
            if (corr != 1 + n || n > resting.n)
                abort();
        } else if (m.type > XR_PROTO_EV_BASE) {
            xr_bank_resting_note_event(&resting, &m.u.ev);
            check_resting();
            uint64_t before = last;
            xr_bank_seq_verdict v = xr_bank_seq_check(&last, m.seq);
            if (last < before || (v == XR_BANK_SEQ_NEW) != (m.seq == before + 1) ||
                (v != XR_BANK_SEQ_NEW && last != before))
                abort();
        }
    }
    return 0;
}
