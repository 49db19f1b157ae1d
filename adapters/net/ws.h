/*
 * adapters/net/ws.h - WebSocket (RFC 6455) client and server, I/O-free: bytes in, events
 * out; messages in, bytes out.
 *
 * Frames are read and written by libwslay's frame layer (wslay_frame_recv/_send: header
 * parsing, extended lengths, masking). On top of it this codec keeps the message layer:
 * reassembly of fragmented messages into caller memory (control frames may arrive between
 * fragments), size limits enforced from the frame header before any of its payload is
 * stored (wslay reports a frame together with its first payload byte),
 * the masking rule (clients mask, servers do not), ping -> pong, the close handshake, and
 * optional UTF-8 validation of text.
 *
 * Opening handshake (HTTP/1.1 Upgrade, see http.h for the parser):
 *   client: xr_ws_make_key -> xr_ws_build_client_handshake -> send; parse the response with
 *           an XR_HTTP_RESPONSE parser -> xr_ws_check_server_handshake; the bytes after the
 *           101 response belong to xr_ws_recv.
 *   server: parse the request -> xr_ws_check_client_handshake (gives the accept value) ->
 *           xr_ws_build_server_handshake -> send; bytes after the request go to xr_ws_recv.
 *
 * Receiving: call xr_ws_recv with new bytes, then again with what it did not consume (and
 * with len 0 once everything is consumed: wslay may hold complete frames) until it returns
 * XR_ERR_AGAIN. Each XR_OK is one event.
 *
 * Sending: xr_ws_send / xr_ws_send_fragment / xr_ws_close append whole frames to the
 * codec's output buffer; pongs and close replies are appended by xr_ws_recv. Drain it with
 * xr_ws_output / xr_ws_output_ack into the stream after every call.
 *
 * After a protocol failure (XR_ERR_MALFORMED / XR_ERR_LIMIT_EXCEEDED from xr_ws_recv) the
 * codec has queued a close frame with the RFC's code (1002 protocol error, 1007 bad UTF-8,
 * 1009 too big): flush the output, then close the connection. A server closes the TCP
 * connection after the close handshake; a client waits for the server to do so.
 *
 * Threading: none inside; one codec per connection, one thread at a time.
 * Ownership: the caller owns the xr_ws struct and `mem` (which must outlive it). Event data
 *   points into codec memory and is valid until the next xr_ws_recv call; output pointers
 *   until the next call that changes the output. xr_ws_init allocates libwslay's frame
 *   context (about 4 KiB, malloc); xr_ws_free releases it.
 * Errors: XR_ERR_AGAIN (recv: need bytes; send: output full, drain and retry),
 *   XR_ERR_MALFORMED (protocol violation by the peer, or a bad handshake),
 *   XR_ERR_LIMIT_EXCEEDED (message larger than max_message_bytes), XR_ERR_INVALID_STATE
 *   (closed or failed; a send that breaks fragmentation order), XR_ERR_INVALID_ARGUMENT,
 *   XR_ERR_NO_MEMORY (a frame that can never fit the output buffer, or allocation failed),
 *   XR_ERR_REJECTED (the server answered the upgrade with a status other than 101),
 *   XR_ERR_IO (no randomness from the OS).
 */
#ifndef XR_ADAPTERS_NET_WS_H
#define XR_ADAPTERS_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/net/http.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xr_ws_role { XR_WS_CLIENT = 0, XR_WS_SERVER = 1 } xr_ws_role;

/* Frame opcodes (RFC 6455 5.2). */
typedef enum xr_ws_opcode {
    XR_WS_CONTINUATION = 0x0,
    XR_WS_TEXT = 0x1,
    XR_WS_BINARY = 0x2,
    XR_WS_CLOSE = 0x8,
    XR_WS_PING = 0x9,
    XR_WS_PONG = 0xA
} xr_ws_opcode;

typedef enum xr_ws_event_type {
    XR_WS_EV_TEXT = 1,   /* a complete text message */
    XR_WS_EV_BINARY = 2, /* a complete binary message */
    XR_WS_EV_PING = 3,   /* answered already unless manual_pong */
    XR_WS_EV_PONG = 4,
    XR_WS_EV_CLOSE = 5 /* the peer's close frame; our reply is queued if we had not closed */
} xr_ws_event_type;

typedef struct xr_ws_event {
    xr_ws_event_type type;
    const uint8_t *data; /* payload; for CLOSE the reason text */
    size_t len;
    uint16_t close_code; /* CLOSE only: 1005 when the frame carried no code */
} xr_ws_event;

/* Close codes used by the codec (RFC 6455 7.4.1). */
#define XR_WS_CLOSE_NORMAL       1000
#define XR_WS_CLOSE_GOING_AWAY   1001
#define XR_WS_CLOSE_PROTOCOL     1002
#define XR_WS_CLOSE_NO_STATUS    1005
#define XR_WS_CLOSE_INVALID_DATA 1007
#define XR_WS_CLOSE_TOO_BIG      1009

typedef struct xr_ws_config {
    xr_ws_role role;
    size_t max_message_bytes; /* reassembled message limit [1 MiB] */
    size_t out_bytes;         /* output buffer [64 KiB]; bounds one outgoing frame */
    bool validate_utf8;       /* check text messages and close reasons [false: venues'
                                 JSON is trusted to be UTF-8, and it costs a pass] */
    bool manual_pong;         /* do not answer pings automatically [false] */
} xr_ws_config;

struct wslay_frame_context;

/* Caller-allocated; the fields are private. */
typedef struct xr_ws {
    struct wslay_frame_context *frame;
    xr_ws_config cfg;
    uint8_t *msg;
    size_t msg_len;
    uint8_t *out;
    size_t out_start, out_len;
    uint8_t ctrl[125];
    size_t ctrl_len;
    uint8_t pong[125];
    size_t pong_len;
    uint64_t frame_remaining;
    uint8_t frame_opcode, frame_fin, in_frame, msg_opcode, in_message, send_in_message;
    uint8_t pong_pending, close_sent, close_received, failed;
    uint16_t fail_code;
    const uint8_t *in;
    size_t in_len, in_off;
    uint32_t rng_counter;
    size_t rng_avail;
    uint8_t rng_key[32];
    uint8_t rng_pool[64];
} xr_ws;

void xr_ws_config_default(xr_ws_config *cfg, xr_ws_role role);

/* Memory xr_ws_init needs: max_message_bytes + out_bytes. */
size_t xr_ws_footprint(const xr_ws_config *cfg);

/* Prepares a codec in `mem` (at least the footprint). Seeds the masking key generator from
 * the OS (getrandom). XR_ERR_INVALID_ARGUMENT, XR_ERR_NO_MEMORY, XR_ERR_IO. */
xr_err xr_ws_init(xr_ws *ws, const xr_ws_config *cfg, void *mem, size_t mem_len);

/* Releases libwslay's context. NULL or a zeroed struct is a no-op. */
void xr_ws_free(xr_ws *ws);

/* Reads frames from in[0..len); sets *consumed. XR_OK: *ev holds one event. XR_ERR_AGAIN:
 * everything consumed, need more. XR_ERR_MALFORMED / XR_ERR_LIMIT_EXCEEDED: the peer broke
 * the protocol; a close frame is queued and the codec is failed. XR_ERR_INVALID_STATE once
 * failed or after the peer's close frame. */
xr_err xr_ws_recv(xr_ws *ws, const uint8_t *in, size_t len, size_t *consumed, xr_ws_event *ev);

/* Queues one complete message (TEXT or BINARY) or control frame (PING or PONG, at most 125
 * bytes) as a single frame. */
xr_err xr_ws_send(xr_ws *ws, xr_ws_opcode op, const void *data, size_t len);

/* Queues one frame of a fragmented message: TEXT or BINARY with fin false first, then
 * CONTINUATION frames, the last with fin true. Control frames may be sent in between with
 * xr_ws_send. XR_ERR_INVALID_STATE when the order is broken. */
xr_err xr_ws_send_fragment(xr_ws *ws, xr_ws_opcode op, bool fin, const void *data, size_t len);

/* Queues our close frame with `code` (1000..4999 except the reserved ones; 0 sends no code)
 * and a reason of at most 123 bytes. Nothing can be sent afterwards. */
xr_err xr_ws_close(xr_ws *ws, uint16_t code, const char *reason, size_t reason_len);

/* Bytes to send: pointer and *len, or NULL and 0. */
const uint8_t *xr_ws_output(xr_ws *ws, size_t *len);
void xr_ws_output_ack(xr_ws *ws, size_t n);

bool xr_ws_close_sent(const xr_ws *ws);
bool xr_ws_close_received(const xr_ws *ws);

/* The close code queued after a protocol failure (1002, 1007, 1009), or 0. */
uint16_t xr_ws_failure_code(const xr_ws *ws);

/* ---- Opening handshake ------------------------------------------------------------------ */

#define XR_WS_KEY_LEN    24 /* base64 of 16 random bytes */
#define XR_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/* A fresh Sec-WebSocket-Key (NUL-terminated). XR_ERR_IO when the OS gives no randomness. */
xr_err xr_ws_make_key(char key[XR_WS_KEY_LEN + 1]);

/* Sec-WebSocket-Accept for `key`: base64(SHA-1(key || 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)),
 * NUL-terminated. */
void xr_ws_accept_for_key(const char *key, size_t key_len, char accept[XR_WS_ACCEPT_LEN + 1]);

/* "GET target HTTP/1.1" with Host, Upgrade, Connection, Sec-WebSocket-Key and -Version 13,
 * plus `extra` headers. Builder conventions of http.h (XR_ERR_NO_MEMORY and *len_out). */
xr_err xr_ws_build_client_handshake(char *out, size_t cap, size_t *len_out, const char *host,
                                    const char *target, const char *key,
                                    const xr_http_header *extra, size_t nextra);

/* Checks the server's answer to our handshake: XR_OK for a valid 101 whose accept value
 * matches `key`; XR_ERR_REJECTED for any other status (look at resp->status);
 * XR_ERR_MALFORMED for a 101 with missing or wrong Upgrade, Connection or Accept. */
xr_err xr_ws_check_server_handshake(const xr_http_message *resp, const char *key);

/* Checks a client's upgrade request (GET, HTTP/1.1 or later, Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Version: 13, a key of 16 bytes) and writes the accept
 * value. XR_ERR_MALFORMED otherwise (answer 400, or 426 for another version). */
xr_err xr_ws_check_client_handshake(const xr_http_message *req, char accept[XR_WS_ACCEPT_LEN + 1]);

/* "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection and Sec-WebSocket-Accept,
 * plus `extra` headers. */
xr_err xr_ws_build_server_handshake(char *out, size_t cap, size_t *len_out, const char *accept,
                                    const xr_http_header *extra, size_t nextra);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_NET_WS_H */
