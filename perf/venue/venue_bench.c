/*
 * perf/venue/venue_bench.c - the in-process market-data path, one WebSocket frame at a time:
 *
 *   frame bytes (unmasked, as a server sends them) -> xr_ws_recv (libwslay framing)
 *     -> xr_binance_decode_depth_update (zero-allocation JSON, exact decimals)
 *     -> xr_book_apply_delta (the L2 book)
 *
 * Frames are Binance combined-stream depthUpdates for BTCUSDT with 10 bid and 10 ask levels
 * among the top 30 of a 1000-level book, a fifth of them removals (the shape of a real 100 ms
 * diff on a busy pair, and the same mix as bench/bench_book.cc: 8-decimal strings,
 * consecutive U/u), produced by the server side of the same WebSocket codec. They are built
 * before timing; when the prepared set is used up the book is re-seeded from a snapshot
 * outside the timed region and the set is replayed with fresh ids.
 *
 * Measured per frame with the monotonic clock, in the same run:
 *   memcpy     copying the frame (the floor: touching the bytes once)
 *   ws         the WebSocket codec alone
 *   ws+codec   framing and JSON decoding, events dropped
 *   full       framing, decoding and the book update
 * and p50 / p99 / p99.9 of each, with full/memcpy and full/ws+codec ratios. Integer
 * arithmetic only. Usage: venue_bench [FRAMES] (default 1,000,000).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/ws.h"
#include "adapters/venues/binance/codec.h"
#include "core/base/clock.h"
#include "core/market/book.h"
#include "core/market/instrument.h"

#define SET_FRAMES 16384u
#define LEVELS     10

typedef struct frame {
    uint8_t *bytes;
    size_t len;
} frame;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *ns, size_t n, uint64_t *p50_out)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    uint64_t p50 = ns[n / 2], p99 = ns[n * 99 / 100], p999 = ns[n * 999 / 1000];
    printf("%-10s frames=%zu p50_ns=%llu p99_ns=%llu p99.9_ns=%llu\n", name, n,
           (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)p999);
    *p50_out = p50;
}

/* "60000.01000000": `cents` hundredths, printed with Binance's 8 decimals. */
static int price_str(char *out, uint64_t cents)
{
    return sprintf(out, "%llu.%02llu000000", (unsigned long long)(cents / 100),
                   (unsigned long long)(cents % 100));
}

static int qty_str(char *out, uint64_t lots) /* lots of 0.00001 */
{
    return sprintf(out, "%llu.%05llu000", (unsigned long long)(lots / 100000),
                   (unsigned long long)(lots % 100000));
}

/* The JSON of frame k of pass `pass`: ids continue across passes. */
static size_t make_json(char *buf, uint64_t first_id, uint64_t last_id)
{
    size_t n =
        (size_t)sprintf(buf,
                        "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\","
                        "\"E\":1700000000123,\"s\":\"BTCUSDT\",\"U\":%llu,\"u\":%llu,\"b\":[",
                        (unsigned long long)first_id, (unsigned long long)last_id);
    for (int side = 0; side < 2; side++) {
        uint64_t used[LEVELS];
        for (int i = 0; i < LEVELS; i++) {
            uint64_t off;
            bool dup;
            do { /* distinct prices within one side of one message, as Binance sends */
                off = rnd() % 30;
                dup = false;
                for (int k = 0; k < i; k++)
                    dup |= used[k] == off;
            } while (dup);
            used[i] = off;
            uint64_t cents = side == 0 ? 5999999 - off : 6000000 + off;
            uint64_t lots = rnd() % 5 == 0 ? 0 : 1 + rnd() % 500000;
            n += (size_t)sprintf(buf + n, "%s[\"", i ? "," : "");
            n += (size_t)price_str(buf + n, cents);
            n += (size_t)sprintf(buf + n, "\",\"");
            n += (size_t)qty_str(buf + n, lots);
            n += (size_t)sprintf(buf + n, "\"]");
        }
        n += (size_t)sprintf(buf + n, side == 0 ? "],\"a\":[" : "]}}");
    }
    return n;
}

typedef struct apply_ctx {
    xr_book *book;
    uint64_t applied, bad;
    bool apply;
} apply_ctx;

static xr_err on_delta(void *ctx, const xr_event *ev)
{
    apply_ctx *a = ctx;
    if (!a->apply)
        return XR_OK;
    xr_book_outcome oc;
    if (xr_book_apply_delta(a->book, &ev->u.book, 1, &oc) == XR_OK && oc == XR_BOOK_APPLIED)
        a->applied++;
    else
        a->bad++;
    return XR_OK;
}

/* A full book at `id`: 1000 levels a side around 60000. */
static void seed_book(xr_book *b, uint64_t id)
{
    xr_ev_book ev;
    xr_book_reset(b);
    for (int part = 0; part < 2000 / XR_EV_BOOK_LEVELS_MAX + 1; part++) {
        memset(&ev, 0, sizeof ev);
        ev.first_id = ev.last_id = id;
        int lo = part * XR_EV_BOOK_LEVELS_MAX / 2, nb = 0, na = 0;
        for (int i = lo; i < lo + XR_EV_BOOK_LEVELS_MAX / 2 && i < 1000; i++) {
            ev.levels[nb++] = (xr_book_level){{(xr_i128)(5999999 - i) * 1000000}, {100000000}};
            ev.levels[XR_EV_BOOK_LEVELS_MAX - 1 - na++] =
                (xr_book_level){{(xr_i128)(6000000 + i) * 1000000}, {100000000}};
        }
        ev.n_bids = (uint16_t)nb;
        ev.n_asks = (uint16_t)na;
        ev.part = (uint8_t)((part == 0 ? XR_EV_BOOK_PART_FIRST : 0) |
                            (part == 2000 / XR_EV_BOOK_LEVELS_MAX ? XR_EV_BOOK_PART_LAST : 0));
        xr_book_outcome oc;
        if (xr_book_apply_snapshot(b, &ev, 1, &oc) != XR_OK)
            abort();
    }
    if (xr_book_get_state(b) != XR_BOOK_SYNCED)
        abort();
}

/* One frame through the client codec; returns the TEXT payload. */
static inline void ws_one(xr_ws *ws, const frame *f, xr_ws_event *ev)
{
    size_t used = 0;
    if (xr_ws_recv(ws, f->bytes, f->len, &used, ev) != XR_OK || used != f->len)
        abort();
    size_t u2 = 0;
    xr_ws_event none;
    if (xr_ws_recv(ws, NULL, 0, &u2, &none) != XR_ERR_AGAIN)
        abort();
}

int main(int argc, char **argv)
{
    size_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (total < SET_FRAMES)
        total = SET_FRAMES;

    /* Instruments: BTCUSDT at Binance's precision (8 decimals everywhere). */
    size_t ifp = xr_instruments_footprint(16);
    void *imem = aligned_alloc(64, (ifp + 63) & ~(size_t)63);
    xr_instruments inst;
    if (xr_instruments_init(&inst, imem, ifp, 16, 0) != XR_OK)
        abort();
    xr_instrument in = {.symbol = "BTCUSDT",
                        .base = "BTC",
                        .quote = "USDT",
                        .scale = {.base = 8, .quote = 8, .price = 8}};
    if (xr_instruments_add(&inst, &in, NULL) != XR_OK)
        abort();
    xr_binance_codec codec = {.instruments = &inst};

    xr_book_config bc = {.depth_max = 5000};
    size_t bfp = xr_book_footprint(&bc);
    void *bmem = aligned_alloc(64, (bfp + 63) & ~(size_t)63);
    xr_book book;
    if (xr_book_init(&book, bmem, bfp, &bc) != XR_OK)
        abort();

    /* Frames: JSON through the server side of the WebSocket codec (unmasked). */
    xr_ws_config sc, cc;
    xr_ws_config_default(&sc, XR_WS_SERVER);
    xr_ws_config_default(&cc, XR_WS_CLIENT);
    void *smem = malloc(xr_ws_footprint(&sc)), *cmem = malloc(xr_ws_footprint(&cc));
    xr_ws server, client;
    if (xr_ws_init(&server, &sc, smem, xr_ws_footprint(&sc)) != XR_OK ||
        xr_ws_init(&client, &cc, cmem, xr_ws_footprint(&cc)) != XR_OK)
        abort();
    frame *frames = calloc(SET_FRAMES, sizeof *frames);
    char json[4096];
    size_t bytes = 0;
    for (uint32_t k = 0; k < SET_FRAMES; k++) {
        size_t jl = make_json(json, 1000 + 3 * (uint64_t)k + 1, 1000 + 3 * (uint64_t)k + 3);
        if (xr_ws_send(&server, XR_WS_TEXT, json, jl) != XR_OK)
            abort();
        size_t n = 0;
        const uint8_t *out = xr_ws_output(&server, &n);
        frames[k].bytes = malloc(n);
        memcpy(frames[k].bytes, out, n);
        frames[k].len = n;
        xr_ws_output_ack(&server, n);
        bytes += n;
    }
    printf("frames: %u prepared, mean %zu bytes, %d+%d levels, replayed to %zu\n", SET_FRAMES,
           bytes / SET_FRAMES, LEVELS, LEVELS, total);

    uint64_t *t_copy = malloc(total * sizeof *t_copy), *t_ws = malloc(total * sizeof *t_ws),
             *t_dec = malloc(total * sizeof *t_dec), *t_full = malloc(total * sizeof *t_full);
    static uint8_t sink[8192];
    apply_ctx ac = {.book = &book};
    xr_decode_error de;
    xr_ws_event ev;

    /* Same frames, same order, four passes; the book passes re-seed between sets. */
    for (int mode = 0; mode < 4; mode++) {
        uint64_t *t = mode == 0 ? t_copy : mode == 1 ? t_ws : mode == 2 ? t_dec : t_full;
        ac.apply = mode == 3;
        for (size_t i = 0; i < total; i++) {
            uint32_t k = (uint32_t)(i % SET_FRAMES);
            if (k == 0 && mode == 3)
                seed_book(&book, 1000);
            const frame *f = &frames[k];
            uint64_t t0 = xr_clock_mono_ns();
            if (mode == 0) {
                memcpy(sink, f->bytes, f->len);
                __asm__ volatile("" : : "r"(sink) : "memory");
            } else {
                ws_one(&client, f, &ev);
                if (mode >= 2 &&
                    xr_binance_decode_depth_update(&codec, (const char *)ev.data, ev.len, on_delta,
                                                   &ac, &de) != XR_OK)
                    abort();
            }
            t[i] = xr_clock_mono_ns() - t0;
        }
    }
    if (ac.bad != 0 || ac.applied != total) {
        fprintf(stderr, "book: %llu applied, %llu refused\n", (unsigned long long)ac.applied,
                (unsigned long long)ac.bad);
        return 1;
    }
    if (xr_book_verify(&book) != XR_OK)
        return 1;

    /* The timer's own cost, for reading the small figures. */
    uint64_t *t_clock = malloc(total * sizeof *t_clock);
    for (size_t i = 0; i < total; i++) {
        uint64_t t0 = xr_clock_mono_ns();
        t_clock[i] = xr_clock_mono_ns() - t0;
    }
    uint64_t p_clock, p_copy, p_ws, p_dec, p_full;
    report("clock", t_clock, total, &p_clock);
    report("memcpy", t_copy, total, &p_copy);
    report("ws", t_ws, total, &p_ws);
    report("ws+codec", t_dec, total, &p_dec);
    report("full", t_full, total, &p_full);
    printf("ratio p50 full/memcpy=%llu.%02llu full/ws+codec=%llu.%02llu\n",
           (unsigned long long)(p_full / (p_copy ? p_copy : 1)),
           (unsigned long long)(p_full * 100 / (p_copy ? p_copy : 1) % 100),
           (unsigned long long)(p_full / (p_dec ? p_dec : 1)),
           (unsigned long long)(p_full * 100 / (p_dec ? p_dec : 1) % 100));
    printf("goal p50 <= 1000 ns: %s\n", p_full <= 1000 ? "met" : "NOT met");
    xr_ws_free(&server);
    xr_ws_free(&client);
    return 0;
}
