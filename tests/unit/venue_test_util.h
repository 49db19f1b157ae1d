/*
 * Helpers shared by the venue tests (included by test_*.c; not a test itself): fixture
 * files, the .jsonc comment stripping the tests do before handing a documentation payload to
 * a parser (the parsers accept strict JSON only), an event collector, and exact expected
 * values written as decimal text.
 */
#ifndef XR_TESTS_VENUE_TEST_UTIL_H
#define XR_TESTS_VENUE_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/market/event.h"
#include "xroute/money.h"

/* Reads XR_TEST_DATA/<rel> into a NUL-terminated heap buffer; aborts the test on failure.
 * A ".jsonc" file has its // comments removed (outside strings), as SOURCES.md asks. */
static inline char *vt_load(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", XR_TEST_DATA, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    buf[n] = '\0';
    size_t rl = strlen(rel);
    if (rl > 6 && strcmp(rel + rl - 6, ".jsonc") == 0) {
        bool in_str = false;
        for (long i = 0; i < n; i++) {
            if (in_str) {
                if (buf[i] == '\\')
                    i++;
                else if (buf[i] == '"')
                    in_str = false;
            } else if (buf[i] == '"') {
                in_str = true;
            } else if (buf[i] == '/' && i + 1 < n && buf[i + 1] == '/') {
                while (i < n && buf[i] != '\n')
                    buf[i++] = ' ';
            }
        }
    }
    *len = (size_t)n;
    return buf;
}

/* Collects every event a codec reports. */
typedef struct vt_events {
    xr_event *ev;
    size_t n, cap;
    xr_err refuse_after; /* when not XR_OK: returned for the event at index refuse_at */
    size_t refuse_at;
} vt_events;

static inline void vt_events_init(vt_events *c)
{
    memset(c, 0, sizeof *c);
}

static inline void vt_events_free(vt_events *c)
{
    free(c->ev);
    memset(c, 0, sizeof *c);
}

static inline xr_err vt_collect(void *ctx, const xr_event *ev)
{
    vt_events *c = ctx;
    if (c->refuse_after != XR_OK && c->n == c->refuse_at)
        return c->refuse_after;
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 8 : c->cap * 2;
        xr_event *nev = aligned_alloc(16, cap * sizeof *nev);
        if (nev == NULL)
            abort();
        if (c->n > 0)
            memcpy(nev, c->ev, c->n * sizeof *nev);
        free(c->ev);
        c->ev = nev;
        c->cap = cap;
    }
    c->ev[c->n++] = *ev;
    return XR_OK;
}

/* The exact value of decimal text at `scale` (the test's hand-written expectation). */
static inline xr_i128 vt_dec(const char *text, unsigned scale)
{
    xr_i128 v = 0;
    if (xr_decimal_parse(text, strlen(text), scale, XR_DEC_ALLOW_NEGATIVE, &v, NULL) != XR_OK) {
        fprintf(stderr, "bad expectation %s at scale %u\n", text, scale);
        abort();
    }
    return v;
}

#define VT_PRICE(text, scale)  ((xr_price){vt_dec((text), (scale))})
#define VT_AMOUNT(text, scale) ((xr_amount){vt_dec((text), (scale))})

/* cmocka compares 64-bit values; compare 128-bit ones exactly through their halves. */
#define assert_i128_equal(a, b)                                                                    \
    do {                                                                                           \
        xr_i128 a_ = (a), b_ = (b);                                                                \
        assert_int_equal((uint64_t)((xr_u128)a_ >> 64), (uint64_t)((xr_u128)b_ >> 64));            \
        assert_int_equal((uint64_t)a_, (uint64_t)b_);                                              \
    } while (0)

#endif /* XR_TESTS_VENUE_TEST_UTIL_H */
