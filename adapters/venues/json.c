/*
 * The pull reader. One cursor moves forward through the input; containers are tracked by a
 * depth counter and one "first element" flag: a container that closes was necessarily an
 * element of its parent, so the parent's flag is false again after any close, and no stack
 * is needed. The grammar is checked as the cursor passes, so a value that was skipped has
 * been validated exactly as one that was read.
 */
#include "adapters/venues/json.h"

#include "core/base/assert.h"

void xr_json_init(xr_json *j, const char *buf, size_t len)
{
    XR_ASSERT(j != NULL && (buf != NULL || len == 0));
    j->base = buf;
    j->p = buf;
    j->end = buf + len;
    j->depth = 0;
    j->first = true;
    j->failed = false;
    j->err_offset = 0;
    j->err_reason = NULL;
}

bool xr_json_fail_at(xr_json *j, size_t offset, const char *reason)
{
    if (!j->failed) {
        j->failed = true;
        j->err_offset = offset;
        j->err_reason = reason;
    }
    return false;
}

bool xr_json_fail(xr_json *j, const char *reason)
{
    return xr_json_fail_at(j, (size_t)(j->p - j->base), reason);
}

size_t xr_json_offset(const xr_json *j)
{
    return (size_t)(j->p - j->base);
}

static inline void skip_ws(xr_json *j)
{
    const char *p = j->p;
    while (p < j->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    j->p = p;
}

/* Skips whitespace; false (and a failure) at the end of input. */
static inline bool next_char(xr_json *j)
{
    if (j->failed)
        return false;
    skip_ws(j);
    if (j->p == j->end)
        return xr_json_fail(j, "truncated");
    return true;
}

xr_json_type xr_json_peek(xr_json *j)
{
    if (j->failed)
        return XR_JSON_NONE;
    skip_ws(j);
    if (j->p == j->end)
        return XR_JSON_NONE;
    switch (*j->p) {
    case '{':
        return XR_JSON_OBJECT;
    case '[':
        return XR_JSON_ARRAY;
    case '"':
        return XR_JSON_STRING;
    case 't':
        return XR_JSON_TRUE;
    case 'f':
        return XR_JSON_FALSE;
    case 'n':
        return XR_JSON_NULL;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return XR_JSON_NUMBER;
        return XR_JSON_NONE;
    }
}

static bool open_container(xr_json *j, char c)
{
    if (!next_char(j))
        return false;
    if (*j->p != c)
        return xr_json_fail(j, c == '{' ? "expected object" : "expected array");
    if (j->depth == XR_JSON_DEPTH_MAX)
        return xr_json_fail(j, "nested too deeply");
    j->p++;
    j->depth++;
    j->first = true;
    return true;
}

bool xr_json_object_begin(xr_json *j)
{
    return open_container(j, '{');
}

bool xr_json_array_begin(xr_json *j)
{
    return open_container(j, '[');
}

/* At a closing bracket or a separator of the innermost container: true when an element
 * follows, false when the container closed or on failure. */
static bool container_next(xr_json *j, char close)
{
    if (!next_char(j))
        return false;
    if (*j->p == close) {
        XR_ASSERT(j->depth > 0);
        j->p++;
        j->depth--;
        j->first = false;
        return false;
    }
    if (!j->first) {
        if (*j->p != ',')
            return xr_json_fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        j->p++;
    }
    j->first = false;
    return true;
}

static bool utf8_continuation(xr_json *j, const unsigned char **pp, int n)
{
    const unsigned char *p = *pp;
    if ((const char *)p + n > j->end)
        return xr_json_fail_at(j, (size_t)((const char *)p - j->base), "truncated");
    for (int i = 0; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return xr_json_fail_at(j, (size_t)((const char *)p + i - j->base), "invalid UTF-8");
    }
    *pp = p + n;
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Non-zero when any of the 8 bytes of `x` is '"', '\\', a control character (< 0x20) or
 * not ASCII (>= 0x80): the classic has-zero-byte trick (x - 0x01..) & ~x & 0x80.., applied to
 * x ^ '"', x ^ '\\' and, for "less than 0x20", to x itself with 0x20 in place of 0x01. A
 * borrow can set bits above a true hit, never without one, so zero is exact. */
static inline uint64_t special_bytes(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & highs;
}

bool xr_json_string(xr_json *j, xr_json_str *out)
{
    if (!next_char(j))
        return false;
    if (*j->p != '"')
        return xr_json_fail(j, "expected string");
    const unsigned char *p = (const unsigned char *)j->p + 1;
    const unsigned char *end = (const unsigned char *)j->end;
    const unsigned char *start = p;
    bool escaped = false;
    for (;;) {
        /* The common case, plain ASCII, is skipped 8 bytes at a time, then byte by byte. */
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            uint64_t special = special_bytes(x);
            if (special != 0) {
                /* The lowest flag is a true hit (borrows only run upward), so the byte loop
                 * below starts on it: a short key ends here without a byte-by-byte walk. */
                p += (unsigned)__builtin_ctzll(special) / 8;
                break;
            }
            p += 8;
        }
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
            p++;
        if (p == end)
            return xr_json_fail_at(j, (size_t)((const char *)p - j->base), "truncated");
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return xr_json_fail_at(j, (size_t)((const char *)p - j->base),
                                   "control character in string");
        if (c == '\\') {
            escaped = true;
            if (p + 1 == end)
                return xr_json_fail_at(j, (size_t)((const char *)p - j->base), "truncated");
            unsigned char e = p[1];
            if (e == 'u') {
                if (end - p < 6)
                    return xr_json_fail_at(j, (size_t)((const char *)p - j->base), "truncated");
                for (int i = 2; i < 6; i++) {
                    if (hex_value(p[i]) < 0)
                        return xr_json_fail_at(j, (size_t)((const char *)p + i - j->base),
                                               "invalid \\u escape");
                }
                p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                return xr_json_fail_at(j, (size_t)((const char *)p + 1 - j->base),
                                       "invalid escape");
            }
            continue;
        }
        /* A multi-byte UTF-8 sequence: reject overlong forms, surrogates and > U+10FFFF. */
        const unsigned char *at = p;
        if (c >= 0xC2 && c <= 0xDF) {
            p++;
            if (!utf8_continuation(j, &p, 1))
                return false;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (p + 1 < end && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F)))
                return xr_json_fail_at(j, (size_t)((const char *)at - j->base), "invalid UTF-8");
            p++;
            if (!utf8_continuation(j, &p, 2))
                return false;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (p + 1 < end && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)))
                return xr_json_fail_at(j, (size_t)((const char *)at - j->base), "invalid UTF-8");
            p++;
            if (!utf8_continuation(j, &p, 3))
                return false;
        } else {
            return xr_json_fail_at(j, (size_t)((const char *)at - j->base), "invalid UTF-8");
        }
    }
    out->ptr = (const char *)start;
    out->len = (size_t)(p - start);
    out->escaped = escaped;
    j->p = (const char *)p + 1;
    return true;
}

const char *xr_json_raw_begin(xr_json *j)
{
    if (j->failed || j->depth >= XR_JSON_DEPTH_MAX)
        return NULL;
    skip_ws(j);
    return j->p;
}

void xr_json_raw_end(xr_json *j, const char *end)
{
    XR_ASSERT(!j->failed && end > j->p && end <= j->end);
    j->p = end;
    j->first = false; /* a value was read in the enclosing container */
}

bool xr_json_object_next(xr_json *j, xr_json_str *key)
{
    if (!container_next(j, '}'))
        return false;
    if (!xr_json_string(j, key))
        return false;
    if (!next_char(j))
        return false;
    if (*j->p != ':')
        return xr_json_fail(j, "expected ':'");
    j->p++;
    return true;
}

bool xr_json_array_next(xr_json *j)
{
    return container_next(j, ']');
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Validates a number at the cursor; `*is_int` when it has no fraction or exponent. */
static bool scan_number(xr_json *j, xr_json_str *out, bool *is_int)
{
    if (!next_char(j))
        return false;
    const char *p = j->p, *end = j->end, *start = p;
    if (p < end && *p == '-')
        p++;
    if (p == end || !is_digit(*p))
        return xr_json_fail_at(j, (size_t)(p - j->base),
                               p == end ? "truncated" : "expected number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return xr_json_fail_at(j, (size_t)(p - j->base), "leading zero");
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    *is_int = true;
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return xr_json_fail_at(j, (size_t)(p - j->base), "expected digit");
        while (p < end && is_digit(*p))
            p++;
        *is_int = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return xr_json_fail_at(j, (size_t)(p - j->base), "expected digit");
        while (p < end && is_digit(*p))
            p++;
        *is_int = false;
    }
    out->ptr = start;
    out->len = (size_t)(p - start);
    out->escaped = false;
    j->p = p;
    return true;
}

bool xr_json_number_text(xr_json *j, xr_json_str *out)
{
    bool is_int;
    return scan_number(j, out, &is_int);
}

/* The value of `n` <= 19 ASCII digits (validated by scan_number, so < 10^19 fits): 8 at a
 * time as in simdjson's parse_eight_digits_unrolled, then one by one. Ids and timestamps are
 * 13-19 digits, where the per-digit overflow checks used to cost more than the scan. */
static inline uint64_t digits_u64(const char *s, size_t n)
{
    uint64_t v = 0;
    while (n >= 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        x = (x & 0x0F0F0F0F0F0F0F0Full) * 2561 >> 8;
        x = (x & 0x00FF00FF00FF00FFull) * 6553601 >> 16;
        x = (x & 0x0000FFFF0000FFFFull) * 42949672960001ull >> 32;
        v = v * 100000000u + x;
        s += 8;
        n -= 8;
    }
    while (n-- > 0)
        v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

bool xr_json_uint64(xr_json *j, uint64_t *out)
{
    xr_json_str s;
    bool is_int;
    if (!scan_number(j, &s, &is_int))
        return false;
    if (!is_int || s.ptr[0] == '-')
        return xr_json_fail_at(j, (size_t)(s.ptr - j->base), "expected unsigned integer");
    if (s.len <= 19) {
        *out = digits_u64(s.ptr, s.len);
        return true;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (__builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s.ptr[i] - '0'), &v))
            return xr_json_fail_at(j, (size_t)(s.ptr - j->base), "integer out of range");
    }
    *out = v;
    return true;
}

bool xr_json_int64(xr_json *j, int64_t *out)
{
    xr_json_str s;
    bool is_int;
    if (!scan_number(j, &s, &is_int))
        return false;
    if (!is_int)
        return xr_json_fail_at(j, (size_t)(s.ptr - j->base), "expected integer");
    bool neg = s.ptr[0] == '-';
    size_t digits = s.len - (neg ? 1 : 0);
    if (digits <= 18) { /* below 10^18: no overflow either way */
        int64_t m = (int64_t)digits_u64(s.ptr + (neg ? 1 : 0), digits);
        *out = neg ? -m : m;
        return true;
    }
    /* Accumulate negatively so INT64_MIN is representable. */
    int64_t v = 0;
    for (size_t i = neg ? 1 : 0; i < s.len; i++) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_sub_overflow(v, (int64_t)(s.ptr[i] - '0'), &v))
            return xr_json_fail_at(j, (size_t)(s.ptr - j->base), "integer out of range");
    }
    if (!neg) {
        if (v == INT64_MIN)
            return xr_json_fail_at(j, (size_t)(s.ptr - j->base), "integer out of range");
        v = -v;
    }
    *out = v;
    return true;
}

static bool literal(xr_json *j, const char *word, size_t len)
{
    if ((size_t)(j->end - j->p) < len)
        return xr_json_fail(j, "truncated");
    if (memcmp(j->p, word, len) != 0)
        return xr_json_fail(j, "invalid literal");
    j->p += len;
    return true;
}

bool xr_json_bool(xr_json *j, bool *out)
{
    if (!next_char(j))
        return false;
    if (*j->p == 't') {
        if (!literal(j, "true", 4))
            return false;
        *out = true;
        return true;
    }
    if (*j->p == 'f') {
        if (!literal(j, "false", 5))
            return false;
        *out = false;
        return true;
    }
    return xr_json_fail(j, "expected boolean");
}

bool xr_json_null(xr_json *j)
{
    if (!next_char(j) || *j->p != 'n')
        return false;
    return literal(j, "null", 4);
}

bool xr_json_skip(xr_json *j)
{
    xr_json_str s;
    switch (xr_json_peek(j)) {
    case XR_JSON_OBJECT:
        if (!xr_json_object_begin(j))
            return false;
        while (xr_json_object_next(j, &s)) {
            if (!xr_json_skip(j))
                return false;
        }
        return !j->failed;
    case XR_JSON_ARRAY:
        if (!xr_json_array_begin(j))
            return false;
        while (xr_json_array_next(j)) {
            if (!xr_json_skip(j))
                return false;
        }
        return !j->failed;
    case XR_JSON_STRING:
        return xr_json_string(j, &s);
    case XR_JSON_NUMBER:
        return xr_json_number_text(j, &s);
    case XR_JSON_TRUE:
        return literal(j, "true", 4);
    case XR_JSON_FALSE:
        return literal(j, "false", 5);
    case XR_JSON_NULL:
        return literal(j, "null", 4);
    case XR_JSON_NONE:
        break;
    }
    if (j->failed)
        return false;
    return xr_json_fail(j, j->p == j->end ? "truncated" : "expected value");
}

bool xr_json_finish(xr_json *j)
{
    if (j->failed)
        return false;
    skip_ws(j);
    if (j->p != j->end)
        return xr_json_fail(j, "trailing bytes");
    return true;
}

static size_t put_utf8(char *buf, size_t n, size_t cap, uint32_t cp)
{
    unsigned char tmp[4];
    size_t k;
    if (cp < 0x80) {
        tmp[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        tmp[0] = (unsigned char)(0xC0 | (cp >> 6));
        tmp[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (unsigned char)(0xE0 | (cp >> 12));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        tmp[0] = (unsigned char)(0xF0 | (cp >> 18));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    if (n + k >= cap)
        return SIZE_MAX;
    memcpy(buf + n, tmp, k);
    return n + k;
}

static uint32_t hex4(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (uint32_t)hex_value((unsigned char)p[i]);
    return v;
}

size_t xr_json_unescape(const xr_json_str *s, char *buf, size_t cap)
{
    XR_ASSERT(s != NULL && buf != NULL && cap > 0);
    size_t n = 0;
    /* The reader validated the escapes, so only surrogate pairing is left to check. */
    for (size_t i = 0; i < s->len;) {
        char c = s->ptr[i];
        if (c != '\\') {
            if (n + 1 >= cap)
                return SIZE_MAX;
            buf[n++] = c;
            i++;
            continue;
        }
        char e = s->ptr[i + 1];
        i += 2;
        if (e != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, e);
            XR_ASSERT(at != NULL && e != '\0');
            if (n + 1 >= cap)
                return SIZE_MAX;
            buf[n++] = to[at - from];
            continue;
        }
        uint32_t cp = hex4(s->ptr + i);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 6 > s->len || s->ptr[i] != '\\' || s->ptr[i + 1] != 'u')
                return SIZE_MAX;
            uint32_t lo = hex4(s->ptr + i + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return SIZE_MAX;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return SIZE_MAX;
        }
        n = put_utf8(buf, n, cap, cp);
        if (n == SIZE_MAX)
            return SIZE_MAX;
    }
    buf[n] = '\0';
    return n;
}
