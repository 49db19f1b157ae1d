/*
 * xroute/protocol.h - the bank protocol's wire types: frame header, message type numbers,
 * fixed little-endian layouts, version and maximum frame size.
 *
 * docs/protocol.md is the full specification (every field's offset, size, type and unit,
 * the session flows and hex examples). This header holds the numbers a client needs to
 * build and check frames, and the host-form structs of the session messages. Requests and
 * responses map 1:1 onto xr_engine_cmd and xr_engine_event (xroute/engine.h): the message
 * type of a request is XR_PROTO_CMD_BASE + its xr_engine_cmd_kind, that of a response is
 * XR_PROTO_EV_BASE + its xr_engine_event_kind.
 *
 * Frame. Every message is one frame: a 16-byte header and a body, all integers
 * little-endian, no padding beyond the reserved fields listed in docs/protocol.md (which
 * must be zero). The header:
 *
 *   offset size type  field
 *   0      4    u32   length     of the whole frame, header included; 16..XR_PROTO_FRAME_MAX
 *   4      1    u8    version    XR_PROTO_VERSION
 *   5      1    u8    type       xr_proto_type
 *   6      2    u16   reserved   0
 *   8      8    u64   seq        engine->bank responses (types 0x41..0x4D): >= 1; else 0
 *
 * Threading: nothing here has state. Ownership: the structs are plain values.
 * Errors: the wire's error codes are the xr_err values of xroute/err.h.
 */
#ifndef XROUTE_PROTOCOL_H
#define XROUTE_PROTOCOL_H

#include <stdint.h>

#include "xroute/engine.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_PROTO_VERSION    1
#define XR_PROTO_HEADER_LEN 16   /* bytes of the frame header */
#define XR_PROTO_FRAME_MAX  4096 /* largest frame, header included */

/* Header field offsets. */
#define XR_PROTO_OFF_LENGTH   0
#define XR_PROTO_OFF_VERSION  4
#define XR_PROTO_OFF_TYPE     5
#define XR_PROTO_OFF_RESERVED 6
#define XR_PROTO_OFF_SEQ      8

/* Request and response types are these bases plus the engine.h kind. */
#define XR_PROTO_CMD_BASE 0x20
#define XR_PROTO_EV_BASE  0x40

typedef enum xr_proto_type {
    /* session */
    XR_PROTO_LOGON = 0x01,          /* bank -> engine */
    XR_PROTO_LOGON_ACK = 0x02,      /* engine -> bank */
    XR_PROTO_HEARTBEAT = 0x03,      /* both ways */
    XR_PROTO_LOGOUT = 0x04,         /* both ways */
    XR_PROTO_ACK = 0x05,            /* bank -> engine: processed every seq up to this one */
    XR_PROTO_REPLAY_REQUEST = 0x06, /* bank -> engine: resend the messages after a seq */
    XR_PROTO_SESSION_REJECT = 0x07, /* engine -> bank: a frame refused below the engine */
    /* requests, bank -> engine: XR_PROTO_CMD_BASE + xr_engine_cmd_kind */
    XR_PROTO_CUSTOMER_UPSERT = 0x21,
    XR_PROTO_FUND = 0x22,
    XR_PROTO_DEFUND = 0x23,
    XR_PROTO_QUOTE = 0x24,
    XR_PROTO_NEW_ORDER = 0x25,
    XR_PROTO_CANCEL = 0x26,
    XR_PROTO_ORDER_STATUS = 0x27,
    XR_PROTO_LIST_ORDERS = 0x28,
    XR_PROTO_BALANCES = 0x29,
    XR_PROTO_CONVERT = 0x2A,
    XR_PROTO_BOOK = 0x2B,
    XR_PROTO_TICKER = 0x2C,
    XR_PROTO_OHLC = 0x2D,
    XR_PROTO_PAIRS = 0x2E,
    /* responses, engine -> bank, sequenced: XR_PROTO_EV_BASE + xr_engine_event_kind. */
    XR_PROTO_EV_CUSTOMER = 0x41,
    XR_PROTO_EV_FUNDING = 0x42,
    XR_PROTO_EV_QUOTE = 0x43,
    XR_PROTO_EV_EXEC_REPORT = 0x44,
    XR_PROTO_EV_CONVERSION_REPORT = 0x45,
    XR_PROTO_EV_REJECT = 0x46,
    XR_PROTO_EV_BALANCES = 0x47,
    XR_PROTO_EV_BOOK = 0x48,
    XR_PROTO_EV_ORDER_LIST = 0x4C,
    XR_PROTO_EV_ORDER = 0x4D,
    XR_PROTO_EV_TICKER = 0x49,
    XR_PROTO_EV_OHLC = 0x4A,
    XR_PROTO_EV_PAIRS = 0x4B
} xr_proto_type;

/* Fixed sizes (whole frames, header included). Variable responses are a fixed part plus
 * n items of a fixed size. */
#define XR_PROTO_LOGON_LEN          96
#define XR_PROTO_LOGON_MAC_OFFSET   64 /* HMAC-SHA256 over frame bytes [0, 64) */
#define XR_PROTO_LOGON_ACK_LEN      56
#define XR_PROTO_HEARTBEAT_LEN      16
#define XR_PROTO_LOGOUT_LEN         24
#define XR_PROTO_ACK_LEN            24
#define XR_PROTO_REPLAY_REQUEST_LEN 32
#define XR_PROTO_SESSION_REJECT_LEN 40
#define XR_PROTO_APP_HEADER_LEN     40  /* header + correlation, customer, bank id, reserved */
#define XR_PROTO_REPORT_LEN         176 /* an execution report block */
#define XR_PROTO_BALANCE_LEN        64  /* one BALANCES item */
#define XR_PROTO_LEVEL_LEN          32  /* one BOOK level */
#define XR_PROTO_SUMMARY_LEN        200 /* one ORDER_LIST item */
#define XR_PROTO_CHILD_LEN          152 /* one ORDER child */
#define XR_PROTO_VENUE_PRICE_LEN    48  /* one ORDER venue price (after the children) */
#define XR_PROTO_PAIRS_REQ_LEN      48  /* PAIRS request: header + cursor */
#define XR_PROTO_TICKER_LEN         176 /* EV_TICKER */
#define XR_PROTO_CANDLE_LEN         96  /* one EV_OHLC candle */
#define XR_PROTO_PAIR_INFO_LEN      104 /* one EV_PAIRS item */

#define XR_PROTO_NONCE_LEN                  16
#define XR_PROTO_MAC_LEN                    32
#define XR_PROTO_LOGON_CANCEL_ON_DISCONNECT 0x01 /* logon flags bit 0 */

/* LOGON: opens a session. The HMAC is computed with the bank's secret for key_id over the
 * frame's first XR_PROTO_LOGON_MAC_OFFSET bytes (header included). */
typedef struct xr_proto_logon {
    uint32_t bank_id;
    uint32_t key_id;
    int64_t timestamp_ns;              /* wall clock, ns since the Unix epoch */
    uint8_t nonce[XR_PROTO_NONCE_LEN]; /* never used twice by one bank */
    uint64_t last_seq;                 /* last engine->bank seq the bank processed; 0 none */
    uint32_t heartbeat_ms;             /* the bank's heartbeat interval; 0 = server's */
    uint8_t flags;                     /* XR_PROTO_LOGON_CANCEL_ON_DISCONNECT */
    uint8_t hmac[XR_PROTO_MAC_LEN];
} xr_proto_logon;

/* LOGON_ACK: the session is open. */
typedef struct xr_proto_logon_ack {
    uint64_t session_id;
    uint64_t next_seq;    /* seq the next new engine->bank message will carry */
    uint64_t replay_from; /* first seq replayed now (last_seq + 1); = next_seq: nothing */
    int64_t server_time_ns;
    uint32_t heartbeat_ms; /* the interval both sides use */
    uint8_t flags;         /* the logon flags the server accepted */
} xr_proto_logon_ack;

typedef struct xr_proto_logout {
    xr_err reason; /* XR_OK: normal end */
} xr_proto_logout;

typedef struct xr_proto_ack {
    uint64_t seq; /* every engine->bank message up to and including seq is processed */
} xr_proto_ack;

typedef struct xr_proto_replay_request {
    uint64_t after_seq; /* resend the messages with seq > after_seq */
    uint32_t max_count; /* at most this many; 0 = all up to the current one */
} xr_proto_replay_request;

/* SESSION_REJECT: a frame refused before it became an engine command (malformed, not
 * logged on, wrong bank); engine-level refusals are XR_PROTO_EV_REJECT responses. */
typedef struct xr_proto_session_reject {
    xr_err err;
    uint8_t ref_type;        /* the refused frame's type byte, 0 if unknown */
    uint64_t offset;         /* MALFORMED: byte offset in the refused frame; else 0 */
    uint64_t correlation_id; /* the refused request's, if it could be read; else 0 */
} xr_proto_session_reject;

#ifdef __cplusplus
}
#endif

#endif /* XROUTE_PROTOCOL_H */
