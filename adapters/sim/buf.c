/*
 * The simulator's text buffer: JSON responses are written with these into fixed memory.
 * A write that does not fit marks the buffer full (the caller answers 500) instead of
 * truncating silently.
 */
#include <stdio.h>
#include <string.h>

#include "adapters/sim/sim_internal.h"

void sb_init(sim_buf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->full = false;
    if (cap > 0)
        mem[0] = '\0';
}

void sb_raw(sim_buf *b, const char *s, size_t n)
{
    if (b->full || b->len + n + 1 > b->cap) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_cat(sim_buf *b, const char *s)
{
    sb_raw(b, s, strlen(s));
}

void sb_fmt(sim_buf *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->full = true;
        b->p[b->len] = '\0';
        return;
    }
    b->len += (size_t)n;
}

void sb_dec(sim_buf *b, xr_i128 v, unsigned scale)
{
    char tmp[XR_DECIMAL_STR_MAX];
    size_t n = xr_decimal_format(v, scale, tmp, sizeof tmp);
    sb_raw(b, tmp, n);
}

void sb_qdec(sim_buf *b, xr_i128 v, unsigned scale)
{
    sb_raw(b, "\"", 1);
    sb_dec(b, v, scale);
    sb_raw(b, "\"", 1);
}

void sb_jstr(sim_buf *b, const char *s, size_t n)
{
    sb_raw(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_raw(b, s + run, i - run);
        run = i + 1;
        if (c == '"')
            sb_raw(b, "\\\"", 2);
        else if (c == '\\')
            sb_raw(b, "\\\\", 2);
        else
            sb_fmt(b, "\\u%04x", c);
    }
    sb_raw(b, s + run, n - run);
    sb_raw(b, "\"", 1);
}

void sb_i64(sim_buf *b, int64_t v)
{
    sb_fmt(b, "%lld", (long long)v);
}

void sb_u64(sim_buf *b, uint64_t v)
{
    sb_fmt(b, "%llu", (unsigned long long)v);
}

unsigned sim_decimals_of(int64_t v)
{
    unsigned d = XR_SIM_SCALE;
    while (d > 0 && v % 10 == 0) {
        v /= 10;
        d--;
    }
    return d;
}
