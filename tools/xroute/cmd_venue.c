/*
 * xroute venue: operator tools for venue messages.
 *
 *   xroute venue decode --venue binance --kind KIND [options] FILE
 *       prints the normalized event(s) of one raw venue message as JSON, one per line
 *   xroute venue sign --venue binance (--secret S | --secret-file F) --payload P
 *       prints the request signature (hex)
 *
 * The decoder is the adapter's own codec, run exactly as the engine runs it. Documentation
 * files with comments (.jsonc, or --jsonc) have their // comments removed by this tool
 * before decoding; the codec itself accepts strict JSON only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/venues/binance/auth.h"
#include "adapters/venues/binance/codec.h"
#include "core/market/event.h"
#include "core/market/instrument.h"
#include "tools/xroute/cmd.h"
#include "xroute/money.h"

#define FILE_MAX        (64u << 20) /* largest message file read */
#define INSTRUMENTS_CAP 8192u

static void venue_usage(FILE *out)
{
    fprintf(out,
            "usage: xroute venue decode --venue binance --kind KIND [options] FILE\n"
            "       xroute venue sign --venue binance (--secret S | --secret-file F) "
            "--payload P\n"
            "\n"
            "decode prints each normalized event of one raw message as a JSON line.\n"
            "  KIND: depth, depthUpdate, ticker, kline, trade, exchangeInfo, order, account,\n"
            "        executionReport (any user-data event), error, stream (any WebSocket "
            "message)\n"
            "  --symbol SYM         the pair of a REST depth, klines or trades response\n"
            "                       (they do not name it); default: generic 8-place scales\n"
            "  --exchange-info FILE load pairs and their scales from an exchangeInfo response;\n"
            "                       without it, symbols are split at a known quote asset\n"
            "  --http-status N      decode an error body as received with this HTTP status\n"
            "  --jsonc              remove // comments first (implied by a .jsonc file name)\n"
            "  FILE                 the message; '-' reads standard input\n"
            "sign prints the HMAC-SHA256 signature (hex) of PAYLOAD, the query string and\n"
            "body as sent, with the API secret.\n");
}

static int fail_usage(const char *msg)
{
    fprintf(stderr, "error: USAGE: %s\n", msg);
    venue_usage(stderr);
    return XR_CLI_USAGE;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "error: IO: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n == cap) {
            if (cap >= FILE_MAX) {
                fprintf(stderr, "error: IO: %s: larger than %u bytes\n", path, FILE_MAX);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (buf != NULL && ferror(f)) {
        fprintf(stderr, "error: IO: %s: read failed\n", path);
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

/* Blanks // comments outside strings, in place (same length, so offsets stay valid). */
static void strip_comments(char *s, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
            while (i < len && s[i] != '\n')
                s[i++] = ' ';
        }
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- JSON output ---------------------------------------------------------------------- */

typedef struct printer {
    const xr_instruments *instruments;
    FILE *out;
    unsigned events;
} printer;

static void put_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void put_dec(FILE *out, const char *key, xr_i128 v, unsigned scale)
{
    char buf[XR_DECIMAL_STR_MAX];
    xr_decimal_format_trim(v, scale, buf, sizeof buf);
    fprintf(out, ",\"%s\":\"%s\"", key, buf);
}

static void put_levels(FILE *out, const char *key, const xr_ev_book *b, bool bids,
                       const xr_pair_scale *ps)
{
    unsigned n = bids ? b->n_bids : b->n_asks;
    fprintf(out, ",\"%s\":[", key);
    for (unsigned i = 0; i < n; i++) {
        const xr_book_level *l = bids ? xr_ev_book_bid(b, i) : xr_ev_book_ask(b, i);
        char p[XR_DECIMAL_STR_MAX], q[XR_DECIMAL_STR_MAX];
        xr_decimal_format_trim(l->price.ticks, ps->price, p, sizeof p);
        xr_decimal_format_trim(l->qty.units, ps->base, q, sizeof q);
        fprintf(out, "%s[\"%s\",\"%s\"]", i == 0 ? "" : ",", p, q);
    }
    fputc(']', out);
}

static void put_order(FILE *out, const xr_ev_order *o, const xr_pair_scale *ps)
{
    fputs(",\"client_order_id\":", out);
    put_str(out, o->client_order_id);
    if (o->cancel_request_id[0] != '\0') {
        fputs(",\"cancel_request_id\":", out);
        put_str(out, o->cancel_request_id);
    }
    fprintf(out,
            ",\"venue_order_id\":%" PRIu64 ",\"side\":\"%s\",\"type\":\"%s\",\"tif\":\"%s\""
            ",\"status\":\"%s\"",
            o->venue_order_id, xr_side_name((xr_side)o->side),
            xr_order_type_name((xr_order_type)o->type), xr_tif_name((xr_tif)o->tif),
            xr_order_status_name((xr_order_status)o->status));
    put_dec(out, "price", o->price.ticks, ps->price);
    put_dec(out, "qty", o->qty.units, ps->base);
    put_dec(out, "cum_qty", o->cum_qty.units, ps->base);
    put_dec(out, "cum_quote", o->cum_quote.units, ps->quote);
    put_dec(out, "last_qty", o->last_qty.units, ps->base);
    put_dec(out, "last_price", o->last_price.ticks, ps->price);
    put_dec(out, "last_quote", o->last_quote.units, ps->quote);
    put_dec(out, "fee", o->fee.units, o->fee_scale);
    fputs(",\"fee_asset\":", out);
    if (o->fee_asset[0] != '\0')
        put_str(out, o->fee_asset);
    else
        fputs("null", out);
    fprintf(out, ",\"trade_id\":%" PRIu64 ",\"maker\":%s", o->trade_id,
            o->maker ? "true" : "false");
    if (o->reject != XR_OK)
        fprintf(out, ",\"reject\":\"%s\"", xr_err_name(o->reject));
    fprintf(out, ",\"transact_time_ns\":%" PRId64, o->transact_time_ns);
}

static xr_err print_event(void *ctx, const xr_event *ev)
{
    printer *p = ctx;
    FILE *out = p->out;
    static const xr_pair_scale generic = {8, 8, 8};
    const xr_instrument *in = xr_instruments_get(p->instruments, ev->instrument);
    const xr_pair_scale *ps = in != NULL ? &in->scale : &generic;
    p->events++;
    fprintf(out, "{\"event\":\"%s\"", xr_event_kind_name((xr_event_kind)ev->kind));
    if (in != NULL) {
        fputs(",\"symbol\":", out);
        put_str(out, in->symbol);
        fputs(",\"pair\":", out);
        put_str(out, in->canonical);
    } else if (ev->instrument != XR_INSTRUMENT_NONE) {
        fputs(",\"symbol\":null", out);
    }
    if (ev->event_time_ns != 0)
        fprintf(out, ",\"event_time_ns\":%" PRId64, ev->event_time_ns);
    switch ((xr_event_kind)ev->kind) {
    case XR_EV_BOOK_SNAPSHOT:
    case XR_EV_BOOK_DELTA: {
        const xr_ev_book *b = &ev->u.book;
        fprintf(out, ",\"first_id\":%" PRIu64 ",\"last_id\":%" PRIu64 ",\"part\":\"%s%s\"",
                b->first_id, b->last_id, (b->part & XR_EV_BOOK_PART_FIRST) ? "first" : "",
                (b->part & XR_EV_BOOK_PART_LAST)
                    ? ((b->part & XR_EV_BOOK_PART_FIRST) ? "+last" : "last")
                    : ((b->part & XR_EV_BOOK_PART_FIRST) ? "" : "middle"));
        put_levels(out, "bids", b, true, ps);
        put_levels(out, "asks", b, false, ps);
        break;
    }
    case XR_EV_TRADE: {
        const xr_ev_trade *t = &ev->u.trade;
        fprintf(out, ",\"trade_id\":%" PRIu64, t->trade_id);
        put_dec(out, "price", t->price.ticks, ps->price);
        put_dec(out, "qty", t->qty.units, ps->base);
        fprintf(out, ",\"taker_side\":\"%s\",\"trade_time_ns\":%" PRId64,
                xr_side_name((xr_side)t->taker_side), t->trade_time_ns);
        break;
    }
    case XR_EV_TICKER: {
        const xr_ev_ticker *t = &ev->u.ticker;
        if (t->fields & XR_TICKER_BEST) {
            if (t->update_id != 0)
                fprintf(out, ",\"update_id\":%" PRIu64, t->update_id);
            put_dec(out, "bid", t->bid.ticks, ps->price);
            put_dec(out, "bid_qty", t->bid_qty.units, ps->base);
            put_dec(out, "ask", t->ask.ticks, ps->price);
            put_dec(out, "ask_qty", t->ask_qty.units, ps->base);
        }
        if (t->fields & XR_TICKER_LAST) {
            put_dec(out, "last", t->last.ticks, ps->price);
            put_dec(out, "last_qty", t->last_qty.units, ps->base);
        }
        if (t->fields & XR_TICKER_STATS) {
            put_dec(out, "open", t->open.ticks, ps->price);
            put_dec(out, "high", t->high.ticks, ps->price);
            put_dec(out, "low", t->low.ticks, ps->price);
            put_dec(out, "volume", t->volume.units, ps->base);
            put_dec(out, "quote_volume", t->quote_volume.units, ps->quote);
            fprintf(out,
                    ",\"open_time_ns\":%" PRId64 ",\"close_time_ns\":%" PRId64
                    ",\"first_trade_id\":%" PRIu64 ",\"last_trade_id\":%" PRIu64
                    ",\"trade_count\":%" PRIu64,
                    t->open_time_ns, t->close_time_ns, t->first_trade_id, t->last_trade_id,
                    t->trade_count);
        }
        break;
    }
    case XR_EV_CANDLE: {
        const xr_ev_candle *c = &ev->u.candle;
        fprintf(out,
                ",\"interval_s\":%" PRIu32 ",\"open_time_ns\":%" PRId64
                ",\"close_time_ns\":%" PRId64,
                c->interval_s, c->open_time_ns, c->close_time_ns);
        put_dec(out, "open", c->open.ticks, ps->price);
        put_dec(out, "high", c->high.ticks, ps->price);
        put_dec(out, "low", c->low.ticks, ps->price);
        put_dec(out, "close", c->close.ticks, ps->price);
        put_dec(out, "volume", c->volume.units, ps->base);
        put_dec(out, "quote_volume", c->quote_volume.units, ps->quote);
        put_dec(out, "taker_buy_volume", c->taker_buy_volume.units, ps->base);
        put_dec(out, "taker_buy_quote_volume", c->taker_buy_quote_volume.units, ps->quote);
        fprintf(out, ",\"trade_count\":%" PRIu64 ",\"closed\":%s", c->trade_count,
                c->closed ? "true" : "false");
        break;
    }
    case XR_EV_ORDER_ACK:
    case XR_EV_ORDER_FILL:
    case XR_EV_ORDER_CANCEL:
    case XR_EV_ORDER_REJECT:
    case XR_EV_ORDER_STATUS:
        put_order(out, &ev->u.order, ps);
        break;
    case XR_EV_BALANCE: {
        const xr_ev_balance *b = &ev->u.balance;
        fputs(",\"asset\":", out);
        put_str(out, b->asset);
        if (b->is_delta) {
            put_dec(out, "delta", b->delta.units, b->scale);
        } else {
            put_dec(out, "free", b->free.units, b->scale);
            put_dec(out, "locked", b->locked.units, b->scale);
        }
        fprintf(out, ",\"update_time_ns\":%" PRId64, b->update_time_ns);
        break;
    }
    case XR_EV_ERROR: {
        const xr_ev_error *e = &ev->u.error;
        fprintf(out, ",\"err\":\"%s\",\"venue_code\":%" PRId32 ",\"http_status\":%u,\"msg\":",
                xr_err_name(e->err), e->venue_code, (unsigned)e->http_status);
        put_str(out, e->msg);
        fputs(",\"flags\":[", out);
        static const struct {
            unsigned bit;
            const char *name;
        } flags[] = {{XR_VENUE_ERR_CLOCK_DRIFT, "clock_drift"},
                     {XR_VENUE_ERR_OUTCOME_UNKNOWN, "outcome_unknown"},
                     {XR_VENUE_ERR_RETRYABLE, "retryable"},
                     {XR_VENUE_ERR_BANNED, "banned"}};
        bool first = true;
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
            if (e->flags & flags[i].bit) {
                fprintf(out, "%s\"%s\"", first ? "" : ",", flags[i].name);
                first = false;
            }
        }
        fputc(']', out);
        break;
    }
    default:
        break;
    }
    fputs("}\n", out);
    return XR_OK;
}

static void print_instrument(FILE *out, const xr_instrument *in)
{
    fputs("{\"event\":\"instrument\",\"symbol\":", out);
    put_str(out, in->symbol);
    fputs(",\"pair\":", out);
    put_str(out, in->canonical);
    fprintf(out, ",\"status\":\"%s\",\"scale\":{\"base\":%u,\"quote\":%u,\"price\":%u}",
            in->status == XR_INSTRUMENT_TRADING ? "trading" : "halted", in->scale.base,
            in->scale.quote, in->scale.price);
    put_dec(out, "tick", in->tick.ticks, in->scale.price);
    put_dec(out, "price_min", in->price_min.ticks, in->scale.price);
    put_dec(out, "price_max", in->price_max.ticks, in->scale.price);
    put_dec(out, "lot_step", in->lot_step.units, in->scale.base);
    put_dec(out, "qty_min", in->qty_min.units, in->scale.base);
    put_dec(out, "qty_max", in->qty_max.units, in->scale.base);
    put_dec(out, "notional_min", in->notional_min.units, in->scale.quote);
    put_dec(out, "notional_max", in->notional_max.units, in->scale.quote);
    fputs("}\n", out);
}

static const char *limit_kind_name(uint8_t kind)
{
    switch (kind) {
    case XR_BINANCE_LIMIT_REQUEST_WEIGHT:
        return "request_weight";
    case XR_BINANCE_LIMIT_ORDERS:
        return "orders";
    case XR_BINANCE_LIMIT_RAW_REQUESTS:
        return "raw_requests";
    default:
        return "unknown";
    }
}

/* ---- decode --------------------------------------------------------------------------- */

typedef struct decode_opts {
    const char *venue, *kind, *symbol, *exchange_info, *file;
    int http_status;
    bool jsonc;
} decode_opts;

static char *load_message(const char *path, bool jsonc, size_t *len)
{
    char *buf = read_file(path, len);
    if (buf != NULL && (jsonc || ends_with(path, ".jsonc")))
        strip_comments(buf, *len);
    return buf;
}

static int report_decode_error(const char *path, xr_err err, const xr_decode_error *perr)
{
    fprintf(stderr, "error: %s: %s: byte %zu: %s\n", xr_err_name(err), path, perr->offset,
            perr->reason != NULL ? perr->reason : xr_err_message(err));
    return XR_CLI_FAIL;
}

static int run_decode(const decode_opts *o)
{
    if (o->venue == NULL || strcmp(o->venue, "binance") != 0)
        return fail_usage("--venue binance is the only venue so far");
    if (o->kind == NULL || o->file == NULL)
        return fail_usage("decode needs --kind and a FILE");
    xr_binance_kind kind = xr_binance_kind_from_name(o->kind);
    if (kind == XR_BINANCE_KIND__COUNT)
        return fail_usage("unknown --kind");

    static xr_asset_registry assets;
    xr_assets_init_default(&assets);
    size_t tlen = xr_instruments_footprint(INSTRUMENTS_CAP);
    void *tmem = aligned_alloc(16, (tlen + 15) & ~(size_t)15);
    xr_instruments table;
    if (tmem == NULL || xr_instruments_init(&table, tmem, tlen, INSTRUMENTS_CAP, 1) != XR_OK) {
        free(tmem);
        fprintf(stderr, "error: NO_MEMORY: instrument table\n");
        return XR_CLI_FAIL;
    }
    xr_binance_codec codec = {&assets, &table, 1, 0};
    int rc = XR_CLI_OK;
    char *buf = NULL;
    size_t len = 0;
    xr_decode_error perr = {0, NULL};
    xr_err err;

    if (o->exchange_info != NULL) {
        char *info_buf = load_message(o->exchange_info, false, &len);
        if (info_buf == NULL) {
            rc = XR_CLI_FAIL;
            goto out;
        }
        err = xr_binance_load_exchange_info(&codec, info_buf, len, NULL, &perr);
        free(info_buf);
        if (err != XR_OK) {
            rc = report_decode_error(o->exchange_info, err, &perr);
            goto out;
        }
    }
    /* Without exchangeInfo the tool guesses pairs; the engine never does. */
    codec.flags |= XR_BINANCE_CODEC_GUESS_SYMBOLS;

    buf = load_message(o->file, o->jsonc, &len);
    if (buf == NULL) {
        rc = XR_CLI_FAIL;
        goto out;
    }
    const xr_instrument *inst = NULL;
    if (o->symbol != NULL) {
        inst = xr_binance_lookup(&codec, o->symbol, strlen(o->symbol));
        if (inst == NULL) {
            rc = fail_usage("--symbol: not in the exchangeInfo, nor BASE+QUOTE with a known "
                            "quote asset");
            goto out;
        }
    } else if (kind == XR_BINANCE_KIND_DEPTH || kind == XR_BINANCE_KIND_KLINE ||
               kind == XR_BINANCE_KIND_TRADE) {
        /* REST responses that do not name their pair: Binance's 8 places under a
         * placeholder (a WS message in these kinds names its own pair). */
        xr_instrument g;
        memset(&g, 0, sizeof g);
        memcpy(g.symbol, "UNKNOWN", 7);
        memcpy(g.base, "BASE", 4);
        memcpy(g.quote, "QUOTE", 5);
        g.scale.base = g.scale.quote = g.scale.price = 8;
        if (xr_instruments_add(&table, &g, &inst) != XR_OK)
            inst = xr_instruments_by_symbol(&table, "UNKNOWN", 7);
    }

    printer pr = {&table, stdout, 0};
    if (kind == XR_BINANCE_KIND_EXCHANGE_INFO) {
        xr_binance_exchange_info info;
        uint32_t before = table.count;
        err = xr_binance_load_exchange_info(&codec, buf, len, &info, &perr);
        if (err != XR_OK) {
            rc = report_decode_error(o->file, err, &perr);
            goto out;
        }
        printf("{\"event\":\"exchange_info\",\"server_time_ms\":%" PRId64
               ",\"symbols\":%u,\"added\":%u,\"skipped\":%u}\n",
               info.server_time_ms, info.symbols_seen, info.symbols_added, info.symbols_skipped);
        for (uint32_t i = 0; i < info.n_limits; i++)
            printf("{\"event\":\"rate_limit\",\"kind\":\"%s\",\"interval_s\":%u,\"limit\":%u,"
                   "\"header_suffix\":\"%s\"}\n",
                   limit_kind_name(info.limits[i].kind), info.limits[i].interval_s,
                   info.limits[i].limit, info.limits[i].header_suffix);
        for (uint32_t i = before; i < table.count; i++)
            print_instrument(stdout, &table.items[i]);
        goto out;
    }
    if (kind == XR_BINANCE_KIND_ERROR && o->http_status != 0)
        err = xr_binance_decode_error(&codec, o->http_status, buf, len, print_event, &pr, &perr);
    else
        err = xr_binance_decode(&codec, kind, inst, buf, len, print_event, &pr, NULL, &perr);
    if (err != XR_OK)
        rc = report_decode_error(o->file, err, &perr);
out:
    free(buf);
    free(tmem);
    return rc;
}

/* ---- sign ----------------------------------------------------------------------------- */

static int run_sign(const char *venue, const char *secret, const char *secret_file,
                    const char *payload)
{
    if (venue == NULL || strcmp(venue, "binance") != 0)
        return fail_usage("--venue binance is the only venue so far");
    if (payload == NULL || (secret == NULL) == (secret_file == NULL))
        return fail_usage("sign needs --payload and one of --secret, --secret-file");
    char *file_secret = NULL;
    size_t slen = 0;
    if (secret_file != NULL) {
        file_secret = read_file(secret_file, &slen);
        if (file_secret == NULL)
            return XR_CLI_FAIL;
        while (slen > 0 && (file_secret[slen - 1] == '\n' || file_secret[slen - 1] == '\r'))
            slen--;
        secret = file_secret;
    } else {
        slen = strlen(secret);
    }
    char sig[XR_BINANCE_SIGNATURE_HEX_LEN + 1];
    xr_binance_sign(secret, slen, payload, strlen(payload), sig);
    if (file_secret != NULL) {
        memset(file_secret, 0, slen);
        free(file_secret);
    }
    printf("%s\n", sig);
    return XR_CLI_OK;
}

/* ---- entry ---------------------------------------------------------------------------- */

int xr_cmd_venue(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        venue_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? XR_CLI_USAGE : XR_CLI_OK;
    }
    const char *sub = argv[1];
    decode_opts d;
    memset(&d, 0, sizeof d);
    const char *secret = NULL, *secret_file = NULL, *payload = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            venue_usage(stdout);
            return XR_CLI_OK;
        } else if (strcmp(a, "--jsonc") == 0) {
            d.jsonc = true;
            continue;
        } else if (strcmp(a, "--venue") == 0) {
            target = &d.venue;
        } else if (strcmp(a, "--kind") == 0) {
            target = &d.kind;
        } else if (strcmp(a, "--symbol") == 0) {
            target = &d.symbol;
        } else if (strcmp(a, "--exchange-info") == 0) {
            target = &d.exchange_info;
        } else if (strcmp(a, "--secret") == 0) {
            target = &secret;
        } else if (strcmp(a, "--secret-file") == 0) {
            target = &secret_file;
        } else if (strcmp(a, "--payload") == 0) {
            target = &payload;
        } else if (strcmp(a, "--http-status") == 0) {
            if (i + 1 == argc)
                return fail_usage("--http-status needs a value");
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || v < 100 || v > 999)
                return fail_usage("--http-status must be 100..999");
            d.http_status = (int)v;
            continue;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "error: USAGE: unknown option '%s'\n", a);
            return XR_CLI_USAGE;
        } else {
            if (d.file != NULL)
                return fail_usage("one FILE only");
            d.file = a;
            continue;
        }
        if (i + 1 == argc) {
            fprintf(stderr, "error: USAGE: %s needs a value\n", a);
            return XR_CLI_USAGE;
        }
        *target = argv[++i];
    }
    if (strcmp(sub, "decode") == 0)
        return run_decode(&d);
    if (strcmp(sub, "sign") == 0)
        return run_sign(d.venue, secret, secret_file, payload);
    return fail_usage("unknown subcommand (decode, sign)");
}
