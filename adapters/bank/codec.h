/*
 * adapters/bank/codec.h - the bank protocol's frame codec (docs/protocol.md), I/O-free.
 *
 * Decoding takes bytes and returns one message; encoding takes one message and writes its
 * frame. Neither allocates, keeps state or touches a socket; the session layer and the
 * gateway server (not built yet) feed them. Every field that has a domain is checked on both
 * sides: the decoder refuses what the encoder would never write (bad version, enum values
 * outside their enums, non-zero reserved bytes, strings not NUL-padded, counts above their
 * maximum, lengths that do not match the type), so a frame that decodes re-encodes to the
 * same bytes.
 *
 * Threading: pure functions, any thread. Ownership: the caller owns every buffer; nothing is
 * retained after a call returns.
 */
#ifndef XR_ADAPTERS_BANK_CODEC_H
#define XR_ADAPTERS_BANK_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/engine.h"
#include "xroute/err.h"
#include "xroute/protocol.h"

/* LOGON and LOGON_ACK flags besides XR_PROTO_LOGON_CANCEL_ON_DISCONNECT (bit 0): bit 1 asks
 * the server to require an ACK of every execution report within its deadline, else the
 * session ends with LOGOUT(BANK_CONNECTION) (docs/protocol.md §5.7). */
#define XR_BANK_LOGON_ACK_REQUIRED 0x02
#define XR_BANK_LOGON_FLAGS_ALL    0x03

/* The per-order option (docs/protocol.md §4.3, §5.7): NEW_ORDER's flags bit 0 asks the server
 * to require an ACK of this order's execution reports within ack_deadline_ms (0: the server's
 * default); the server marks each such EV_EXEC_REPORT with the same flag and deadline. */
#define XR_BANK_ORDER_ACK_REQUIRED 0x01

/* One decoded message. `type` says which member of `u` is valid: the session structs for
 * 0x01..0x07, `cmd` for requests (cmd.kind = type - XR_PROTO_CMD_BASE), `ev` for responses
 * (ev.kind = type - XR_PROTO_EV_BASE). */
typedef struct xr_bank_msg {
    uint8_t type; /* xr_proto_type */
    uint64_t seq; /* responses: >= 1; every other type: 0 */
    /* NEW_ORDER and EV_EXEC_REPORT only (every other type: 0): XR_BANK_ORDER_ACK_REQUIRED or
     * 0, and the ACK deadline in ms (0: the server's ack_deadline_ms; non-zero only with the
     * flag). */
    uint8_t order_flags;
    uint16_t ack_deadline_ms;
    union {
        xr_proto_logon logon;
        xr_proto_logon_ack logon_ack;
        xr_proto_logout logout;
        xr_proto_ack ack;
        xr_proto_replay_request replay;
        xr_proto_session_reject reject;
        xr_engine_cmd cmd;
        xr_engine_event ev;
    } u;
} xr_bank_msg;

/* Decodes the frame at the start of buf[0, len). On XR_OK, `*out` holds the message (every
 * byte of it written: reserved fields and unused union bytes are zero) and `*used` the
 * frame's length; the bytes after it are the next frame's.
 * Returns:
 *   XR_OK
 *   XR_ERR_AGAIN      (a status) the frame is not complete yet: call again with more bytes;
 *                     `*used` is the number of bytes needed in all if known (the length field
 *                     was read), else 0
 *   XR_ERR_MALFORMED  the bytes are not a valid frame; `*err_offset` is the offset of the
 *                     first refused byte from buf (the frame cannot be skipped reliably:
 *                     the session is to be ended)
 *   XR_ERR_INVALID_ARGUMENT  a NULL pointer
 * Never reads outside buf[0, len). `err_offset` may be NULL. */
xr_err xr_bank_decode(const uint8_t *buf, size_t len, xr_bank_msg *out, size_t *used,
                      size_t *err_offset);

/* Encodes `msg` into buf[0, cap) and stores the frame's length in `*len`.
 * Returns:
 *   XR_OK
 *   XR_ERR_AGAIN             (a status) cap is too small: `*len` is the length needed
 *   XR_ERR_INVALID_ARGUMENT  a NULL pointer, an unknown type, a kind that does not match the
 *                            type, a seq against the rule (responses >= 1, others 0), or a
 *                            field outside its domain (enum, count, string not NUL-terminated
 *                            or not printable ASCII)
 * Writes nothing outside buf[0, cap). */
xr_err xr_bank_encode(const xr_bank_msg *msg, uint8_t *buf, size_t cap, size_t *len);

/* The stable lower-case name of a message type ("logon", "new_order", "exec_report": engine.h's
 * names), "unknown" for any other value. */
const char *xr_bank_type_name(uint8_t type);

#endif /* XR_ADAPTERS_BANK_CODEC_H */
