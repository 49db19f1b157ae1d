/*
 * adapters/venues/json.h - a strict, zero-allocation JSON pull reader for venue messages.
 *
 * Venue codecs read a message front to back with a cursor: open an object, walk its keys,
 * read each value as the type they expect or skip it. Nothing is allocated and nothing is
 * built: strings are returned as slices of the input (with a flag when they hold escapes),
 * integers are read exactly into 64 bits, and decimal numbers that carry money stay text for
 * the exact money parser. It is used on the stage threads (market data, order path), where
 * DESIGN.md forbids allocation and where it is several times faster than a DOM library (see
 * bench/bench_book.cc and docs/venues.md); cold documents use jansson instead.
 *
 * Strictness (RFC 8259): no comments, no trailing commas, no single quotes, no leading zeros,
 * no NaN; strings must be valid UTF-8 without raw control characters; escapes are checked.
 * Nesting is limited to XR_JSON_DEPTH_MAX. Duplicate keys are the caller's to refuse.
 *
 * Errors are sticky: after the first failure every call returns false and nothing moves;
 * xr_json_failed() tells, and `err_offset` / `err_reason` say where and why (a static
 * string). Truncated input is an error ("truncated"), since venue messages arrive whole.
 *
 * Threading: a reader is used by one thread. Ownership: the input must outlive the reader and
 * every slice taken from it.
 */
#ifndef XR_VENUES_JSON_H
#define XR_VENUES_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XR_JSON_DEPTH_MAX 32

typedef enum xr_json_type {
    XR_JSON_NONE = 0, /* end of input or failure */
    XR_JSON_OBJECT = 1,
    XR_JSON_ARRAY = 2,
    XR_JSON_STRING = 3,
    XR_JSON_NUMBER = 4,
    XR_JSON_TRUE = 5,
    XR_JSON_FALSE = 6,
    XR_JSON_NULL = 7
} xr_json_type;

/* A string value: the bytes between the quotes, still escaped when `escaped`. */
typedef struct xr_json_str {
    const char *ptr;
    size_t len;
    bool escaped;
} xr_json_str;

typedef struct xr_json {
    const char *base;
    const char *p;
    const char *end;
    uint32_t depth;
    bool first; /* no element read yet in the innermost open container */
    bool failed;
    size_t err_offset;
    const char *err_reason;
} xr_json;

void xr_json_init(xr_json *j, const char *buf, size_t len);

static inline bool xr_json_failed(const xr_json *j)
{
    return j->failed;
}

/* Records a failure at byte `offset` (first failure wins) and returns false. */
bool xr_json_fail_at(xr_json *j, size_t offset, const char *reason);
/* Records a failure at the cursor. */
bool xr_json_fail(xr_json *j, const char *reason);
/* The cursor's byte offset. */
size_t xr_json_offset(const xr_json *j);

/* The type of the next value, without consuming it (NONE at the end or after a failure). */
xr_json_type xr_json_peek(xr_json *j);

/* Consumes '{'. */
bool xr_json_object_begin(xr_json *j);
/* Reads the next key and its ':' into `*key`: true when a member follows (read or skip its
 * value next), false at the closing '}' (consumed) or on failure. */
bool xr_json_object_next(xr_json *j, xr_json_str *key);
/* Consumes '['. */
bool xr_json_array_begin(xr_json *j);
/* True when another element follows (read or skip it next), false at ']' (consumed) or on
 * failure. */
bool xr_json_array_next(xr_json *j);

bool xr_json_string(xr_json *j, xr_json_str *out);
/* A JSON integer (no fraction or exponent) that fits int64_t / uint64_t. */
bool xr_json_int64(xr_json *j, int64_t *out);
bool xr_json_uint64(xr_json *j, uint64_t *out);
/* The text of any JSON number, validated. */
bool xr_json_number_text(xr_json *j, xr_json_str *out);
bool xr_json_bool(xr_json *j, bool *out);
/* Consumes `null` and returns true when the next value is null; false (nothing consumed)
 * otherwise. */
bool xr_json_null(xr_json *j);
/* For hot-path parsers that recognise a value's bytes themselves (adapters/venues/binance/
 * codec.c reads book levels this way): the start of the next value, after whitespace, or
 * NULL when no value may start here (after a failure, or when a nested value would exceed
 * XR_JSON_DEPTH_MAX). Nothing is consumed. */
const char *xr_json_raw_begin(xr_json *j);
/* Consumes the value the caller read itself, from xr_json_raw_begin() up to `end`. Those
 * bytes must be exactly one complete, valid JSON value: the reader trusts the caller. */
void xr_json_raw_end(xr_json *j, const char *end);
/* The hot-path shortcut for xr_json_array_next() followed by xr_json_raw_begin(), inline so
 * that a loop over many small elements (book levels) pays no calls: when the next element of
 * the innermost array follows directly (its ',' separator, if any, with no whitespace around
 * it), consumes the separator and returns the element's start, leaving the reader exactly as
 * xr_json_array_next() would. Otherwise (whitespace, the closing ']', nesting at the limit,
 * end of input or a failure) consumes nothing and returns NULL: call xr_json_array_next(). */
static inline const char *xr_json_raw_next(xr_json *j)
{
    const char *p = j->p;
    if (j->failed || j->depth >= XR_JSON_DEPTH_MAX)
        return NULL;
    if (!j->first) {
        if (p == j->end || *p != ',')
            return NULL;
        p++;
    }
    if (p == j->end || *p == ']' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        return NULL;
    j->p = p;
    j->first = false;
    return p;
}
/* xr_json_raw_end() inline, for the hot path: the same contract (exactly one complete, valid
 * value from the element's start up to `end`), without the assertion. */
static inline void xr_json_raw_take(xr_json *j, const char *end)
{
    j->p = end;
    j->first = false;
}
/* Skips one value of any type, validating it. */
bool xr_json_skip(xr_json *j);
/* True when only whitespace remains. */
bool xr_json_finish(xr_json *j);

/* Decodes the escapes of `s` into `buf` (`cap` bytes, NUL-terminated). Returns the length,
 * or SIZE_MAX when it does not fit or an escape is invalid (an unpaired surrogate). */
size_t xr_json_unescape(const xr_json_str *s, char *buf, size_t cap);

/* Exact comparison of an unescaped string with a literal. */
static inline bool xr_json_str_eq(const xr_json_str *s, const char *lit, size_t len)
{
    return !s->escaped && s->len == len && memcmp(s->ptr, lit, len) == 0;
}
#define XR_JSON_IS(s, lit) xr_json_str_eq(&(s), lit, sizeof(lit) - 1)

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_JSON_H */
