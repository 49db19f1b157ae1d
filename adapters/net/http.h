/*
 * adapters/net/http.h - HTTP/1.1 codecs, I/O-free: bytes in, messages out; messages in,
 * bytes out.
 *
 *   client: xr_http_build_request()  ->  bytes  ... bytes -> xr_http_parse() (RESPONSE)
 *   server: bytes -> xr_http_parse() (REQUEST) ... xr_http_build_response() -> bytes
 *
 * Parsing is nodejs http_parser 2.9 (Debian's libhttp-parser): it validates the syntax,
 * chunked framing, Content-Length (including conflicting duplicates and Content-Length
 * with Transfer-Encoding) and keep-alive rules. On top of it this codec collects one whole
 * message at a time - start line, headers and de-chunked body - into memory the caller
 * provides, with limits on header count, head size and body size, and returns it. Chunk
 * extensions and trailers are accepted and dropped.
 *
 * Parsing loop (pipelined messages come out one per call):
 *
 *     size_t off = 0;
 *     for (;;) {
 *         size_t used; const xr_http_message *m;
 *         xr_err e = xr_http_parse(&p, buf + off, len - off, &used, &m);
 *         off += used;
 *         if (e == XR_ERR_AGAIN) break;          // all consumed, need more bytes
 *         if (e != XR_OK) { fail(e); break; }    // MALFORMED / LIMIT_EXCEEDED: close
 *         handle(m);                             // valid until the next parse call
 *     }
 *
 * Threading: none inside; one parser per connection, used by one thread at a time.
 * Ownership: the caller owns the parser struct and its memory (`mem`, which must outlive
 *   it); messages and every pointer in them point into that memory and are valid until the
 *   next call on the parser. Builders write into caller buffers and keep nothing.
 * Errors: XR_ERR_AGAIN (status: need more input), XR_ERR_MALFORMED (not HTTP, or broken
 *   framing; xr_http_parser_error_offset() says where), XR_ERR_LIMIT_EXCEEDED (too many
 *   headers or head too large - reported when the head ends, so that a syntax error before
 *   that point wins however the input was cut, at the offset of the first byte over the
 *   limit; body too large - from Content-Length before any of it is read, or as soon as a
 *   chunked body grows past it: answer 431/413 then close), XR_ERR_INVALID_STATE
 *   (parser already failed, or the connection was upgraded), XR_ERR_INVALID_ARGUMENT,
 *   XR_ERR_NO_MEMORY (a builder's output buffer is too small; *len_out says how much is
 *   needed).
 */
#ifndef XR_ADAPTERS_NET_HTTP_H
#define XR_ADAPTERS_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XR_HTTP_HEADERS_MAX 64 /* hard cap on xr_http_limits.max_headers */

typedef enum xr_http_kind {
    XR_HTTP_REQUEST = 0, /* server side: parse requests */
    XR_HTTP_RESPONSE = 1 /* client side: parse responses */
} xr_http_kind;

/* A header as it appeared (name case preserved, value without surrounding whitespace). Not
 * NUL-terminated. */
typedef struct xr_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} xr_http_header;

typedef struct xr_http_message {
    /* requests */
    const char *method; /* "GET", "POST", ... (static string, NUL-terminated) */
    const char *target; /* request-target as sent, e.g. "/api/v3/depth?symbol=BTCUSDT" */
    size_t target_len;
    /* responses */
    int status;         /* 100..999 */
    const char *reason; /* reason phrase, possibly empty */
    size_t reason_len;
    /* both */
    unsigned version_major, version_minor;
    const xr_http_header *headers;
    size_t header_count;
    const uint8_t *body; /* de-chunked; NULL when empty */
    size_t body_len;
    bool chunked;    /* the body came with Transfer-Encoding: chunked */
    bool keep_alive; /* the connection may carry another message after this one */
    bool upgrade;    /* the connection changes protocol after this message (101, CONNECT):
                        the bytes after it are not HTTP and the parser stops here */
} xr_http_message;

typedef struct xr_http_limits {
    size_t max_headers;    /* header fields per message [32], at most XR_HTTP_HEADERS_MAX */
    size_t max_head_bytes; /* start line + header names and values, stored [8 KiB] */
    size_t max_body_bytes; /* de-chunked body [1 MiB] */
} xr_http_limits;

/* Caller-allocated; the fields are private. */
typedef struct xr_http_parser {
    http_parser hp;
    xr_http_limits limits;
    char *mem;
    size_t mem_len;
    size_t head_len; /* bytes of mem used by the head */
    size_t body_len; /* bytes of mem used by the body, after the head */
    size_t target_off, reason_off;
    size_t nheaders;
    struct {
        size_t name_off, name_len, value_off, value_len;
    } hdr[XR_HTTP_HEADERS_MAX];
    xr_http_header views[XR_HTTP_HEADERS_MAX];
    xr_http_message msg;
    uint64_t stream_off; /* bytes consumed since init */
    uint64_t error_off;
    uint64_t own_error_off; /* where a limit broke, UINT64_MAX if not ours */
    const char *cur;        /* the input of the running parse call ... */
    uint64_t cur_off;       /* ... and its stream offset */
    xr_err error;
    uint8_t kind, last_was_value, in_message, headers_done, complete, failed, upgraded;
    uint8_t skip_body, own_error, pending_error;
} xr_http_parser;

void xr_http_limits_default(xr_http_limits *lim);

/* Memory xr_http_parser_init needs for `lim`: max_head_bytes + max_body_bytes. */
size_t xr_http_parser_footprint(const xr_http_limits *lim);

/* Prepares a parser for requests or responses in `mem` (at least the footprint of `lim`;
 * `lim` NULL = defaults). XR_ERR_INVALID_ARGUMENT for a bad limit or too little memory. */
xr_err xr_http_parser_init(xr_http_parser *p, xr_http_kind kind, void *mem, size_t mem_len,
                           const xr_http_limits *lim);

/* Parses from `data`; sets *consumed to the bytes used (all of them unless a message ended
 * earlier). XR_OK: *msg is a complete message (see the loop above); XR_ERR_AGAIN: need more
 * bytes; errors as above (the parser stays failed). *msg is NULL unless XR_OK. */
xr_err xr_http_parse(xr_http_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                     const xr_http_message **msg);

/* The peer closed the connection. XR_OK with *msg when that ends a message delimited by the
 * close (a response without Content-Length or chunking); XR_ERR_AGAIN when no message was
 * in progress (a clean close); XR_ERR_MALFORMED when one was cut short. */
xr_err xr_http_parse_eof(xr_http_parser *p, const xr_http_message **msg);

/* Responses only: the next response answers a HEAD request, so it has no body whatever its
 * Content-Length says. Call before its first byte is parsed. */
void xr_http_parser_expect_no_body(xr_http_parser *p);

/* Forgets any partial message and failure; the same kind, memory and limits. */
void xr_http_parser_reset(xr_http_parser *p);

/* Byte offset since init (or reset) of the failure reported last. */
uint64_t xr_http_parser_error_offset(const xr_http_parser *p);

/* http_parser's name for the last failure ("HPE_INVALID_CONSTANT", ...) or our own
 * ("XR_TOO_MANY_HEADERS", "XR_HEAD_TOO_LARGE", "XR_BODY_TOO_LARGE", "XR_BAD_STATUS");
 * "OK" if none. */
const char *xr_http_parser_error_name(const xr_http_parser *p);

/* The first header called `name` (ASCII case-insensitive), or NULL. */
const xr_http_header *xr_http_find_header(const xr_http_message *m, const char *name);

/* Whether header `name` holds `token` in its comma-separated list, case-insensitively
 * (e.g. Connection: keep-alive, Upgrade). */
bool xr_http_header_has_token(const xr_http_message *m, const char *name, const char *token);

/* ---- Builders ----------------------------------------------------------------------------
 * Each writes a complete head (and body) into out[0..cap) and sets *len_out to its length.
 * When cap is too small they write nothing useful, set *len_out to the size needed and
 * return XR_ERR_NO_MEMORY. Names must be tokens and values must hold no CR, LF or NUL
 * (header injection): XR_ERR_INVALID_ARGUMENT otherwise. `headers` may be NULL when
 * `nheaders` is 0; their value_len/name_len are used (no NUL needed). */

/* "METHOD target HTTP/1.1", Host, the given headers, then Content-Length: body_len and the
 * body when `body` is not NULL (pass "" and 0 for an empty POST). `host` is "name[:port]". */
xr_err xr_http_build_request(char *out, size_t cap, size_t *len_out, const char *method,
                             const char *target, const char *host, const xr_http_header *headers,
                             size_t nheaders, const void *body, size_t body_len);

/* "HTTP/1.1 status reason", the given headers, then Content-Length and the body when `body`
 * is not NULL. `reason` NULL = the standard phrase. For a chunked response pass body NULL
 * and a "Transfer-Encoding: chunked" header, then xr_http_build_chunk(). */
xr_err xr_http_build_response(char *out, size_t cap, size_t *len_out, int status,
                              const char *reason, const xr_http_header *headers, size_t nheaders,
                              const void *body, size_t body_len);

/* One chunk of a chunked body; len 0 writes the last chunk ("0\r\n\r\n"). */
xr_err xr_http_build_chunk(char *out, size_t cap, size_t *len_out, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* XR_ADAPTERS_NET_HTTP_H */
