/* The bank protocol's frame codec. Each message's layout is written once, as a function over
 * a cursor that either encodes or decodes: the same code walks the fields in both
 * directions, so the encoder and the decoder cannot disagree about an offset, a size or a
 * field's domain (the check that refuses a value on decode refuses it on encode). */
#include "adapters/bank/codec.h"

#include <stdbool.h>
#include <string.h>

#include "core/base/assert.h"

_Static_assert(XR_PROTO_FRAME_MAX >= XR_PROTO_APP_HEADER_LEN + XR_PROTO_REPORT_LEN + 24 +
                                         XR_ENGINE_CHILDREN_MAX * XR_PROTO_CHILD_LEN + 16 +
                                         XR_ENGINE_VENUES_MAX * XR_PROTO_VENUE_PRICE_LEN,
               "ORDER must fit a frame");
_Static_assert(XR_PROTO_FRAME_MAX >=
                   XR_PROTO_APP_HEADER_LEN + 16 + XR_ENGINE_ORDER_LIST_MAX * XR_PROTO_SUMMARY_LEN,
               "ORDER_LIST must fit a frame");
_Static_assert(XR_PROTO_FRAME_MAX >= XR_PROTO_APP_HEADER_LEN + 32 +
                                         2 * XR_ENGINE_BOOK_LEVELS_MAX * XR_PROTO_LEVEL_LEN,
               "BOOK must fit a frame");
_Static_assert(XR_PROTO_FRAME_MAX >= 80 + XR_ENGINE_OHLC_MAX * XR_PROTO_CANDLE_LEN,
               "OHLC must fit a frame");
_Static_assert(XR_PROTO_FRAME_MAX >= 48 + XR_ENGINE_PAIRS_MAX * XR_PROTO_PAIR_INFO_LEN,
               "PAIRS must fit a frame");
_Static_assert(XR_ENGINE_VENUES_MAX <= 8, "venue masks are 8 bits on the wire");
_Static_assert(XR_ASSET_CODE_MAX + 1 == 12, "asset fields are 12 bytes on the wire");
_Static_assert(XR_ENGINE_PAIR_NAME_MAX == 24, "pair fields are 24 bytes on the wire");
_Static_assert(XR_ENGINE_CLIENT_ID_MAX == 40, "client order ids are 40 bytes on the wire");

/* A cursor over one frame. Decoding reads `in` and never past `len`; encoding writes `out`
 * only below `len` (the caller's capacity) but keeps counting, so an encode into a short
 * buffer still learns the length it needs. The first refused field stops the walk. */
typedef struct cur {
    const uint8_t *in;
    uint8_t *out;
    size_t off, len;
    bool dec;
    bool bad;
    size_t bad_off;
} cur;

static bool fail(cur *c, size_t at)
{
    if (!c->bad) {
        c->bad = true;
        c->bad_off = at;
    }
    return false;
}

/* An unsigned little-endian integer of n <= 8 bytes. */
static bool uint_n(cur *c, uint64_t *v, size_t n)
{
    if (c->bad)
        return false;
    if (c->dec) {
        if (n > c->len - c->off)
            return fail(c, c->off);
        uint64_t x = 0;
        for (size_t i = 0; i < n; i++)
            x |= (uint64_t)c->in[c->off + i] << (8 * i);
        *v = x;
    } else if (c->off <= c->len && n <= c->len - c->off) {
        for (size_t i = 0; i < n; i++)
            c->out[c->off + i] = (uint8_t)(*v >> (8 * i));
    }
    c->off += n;
    return true;
}

/* An unsigned field whose value must lie in [lo, hi]: refused before writing, after reading
 * (at the field's own offset). */
static bool ranged(cur *c, uint64_t *v, size_t n, uint64_t lo, uint64_t hi)
{
    size_t at = c->off;
    if (!c->dec && (*v < lo || *v > hi))
        return fail(c, at);
    if (!uint_n(c, v, n))
        return false;
    if (*v < lo || *v > hi)
        return fail(c, at);
    return true;
}

static void u8r(cur *c, uint8_t *p, uint8_t lo, uint8_t hi)
{
    uint64_t v = *p;
    if (ranged(c, &v, 1, lo, hi))
        *p = (uint8_t)v;
}

static void u8(cur *c, uint8_t *p)
{
    u8r(c, p, 0, UINT8_MAX);
}

static void u16r(cur *c, uint16_t *p, uint16_t lo, uint16_t hi)
{
    uint64_t v = *p;
    if (ranged(c, &v, 2, lo, hi))
        *p = (uint16_t)v;
}

static void u32r(cur *c, uint32_t *p, uint32_t lo, uint32_t hi)
{
    uint64_t v = *p;
    if (ranged(c, &v, 4, lo, hi))
        *p = (uint32_t)v;
}

static void u32(cur *c, uint32_t *p)
{
    u32r(c, p, 0, UINT32_MAX);
}

static void u64(cur *c, uint64_t *p)
{
    uint64_t v = *p;
    if (uint_n(c, &v, 8))
        *p = v;
}

/* Two's complement; the conversions are modulo 2^64 on every compiler xroute supports. */
static void i64(cur *c, int64_t *p)
{
    uint64_t v = (uint64_t)*p;
    if (uint_n(c, &v, 8))
        *p = (int64_t)v;
}

/* 128-bit two's complement, low 64 bits first. */
static void i128(cur *c, xr_i128 *p)
{
    /* A field that does not fit is refused at its own offset, not at its high half. */
    if (!c->bad && c->dec && 16 > c->len - c->off) {
        fail(c, c->off);
        return;
    }
    xr_u128 u = (xr_u128)*p;
    uint64_t lo = (uint64_t)u, hi = (uint64_t)(u >> 64);
    uint_n(c, &lo, 8);
    if (uint_n(c, &hi, 8))
        *p = (xr_i128)(((xr_u128)hi << 64) | lo);
}

static void amount(cur *c, xr_amount *a)
{
    i128(c, &a->units);
}

static void price(cur *c, xr_price *p)
{
    i128(c, &p->ticks);
}

/* Error codes are appended over time without a new protocol version, so a peer built
 * against fewer codes must still accept a newer one (it shows as xr_err_name's "UNKNOWN").
 * Only values outside the 16-bit code space are malformed. */
#define BANK_ERR_CODE_MAX 0xFFFFu

static void err32(cur *c, xr_err *e)
{
    uint32_t v = (uint32_t)*e;
    u32r(c, &v, 0, BANK_ERR_CODE_MAX);
    *e = (xr_err)v;
}

/* OHLC's interval: one of the six the engine builds. */
static void interval(cur *c, uint32_t *p)
{
    size_t at = c->off;
    uint32_t v = *p;
    bool ok = v == 60 || v == 300 || v == 900 || v == 3600 || v == 14400 || v == 86400;
    if (!c->dec && !ok) {
        fail(c, at);
        return;
    }
    u32(c, &v);
    if (c->bad)
        return;
    if (!(v == 60 || v == 300 || v == 900 || v == 3600 || v == 14400 || v == 86400)) {
        fail(c, at);
        return;
    }
    *p = v;
}

static void scale(cur *c, uint8_t *p)
{
    u8r(c, p, 0, XR_SCALE_MAX);
}

static void flag(cur *c, uint8_t *p)
{
    u8r(c, p, 0, 1);
}

/* Opaque bytes (keys, nonces, MACs). */
static void raw(cur *c, uint8_t *p, size_t n)
{
    if (c->bad)
        return;
    if (c->dec) {
        if (n > c->len - c->off) {
            fail(c, c->off);
            return;
        }
        memcpy(p, c->in + c->off, n);
    } else if (c->off <= c->len && n <= c->len - c->off) {
        memcpy(c->out + c->off, p, n);
    }
    c->off += n;
}

/* Reserved bytes: written as zero, refused unless zero (at the first non-zero byte). */
static void rsv(cur *c, size_t n)
{
    for (size_t i = 0; i < n && !c->bad; i++) {
        uint8_t z = 0;
        u8r(c, &z, 0, 0);
    }
}

/* A fixed-size text field: printable ASCII without spaces (0x21..0x7E), then NUL bytes up to
 * its size (at least one). Refused at the first byte that breaks the rule. */
static void text(cur *c, char *s, size_t n)
{
    bool ended = false;
    for (size_t i = 0; i < n && !c->bad; i++) {
        size_t at = c->off;
        uint8_t b = ended ? 0 : (uint8_t)s[i];
        if (!c->dec && b == 0)
            ended = true;
        u8(c, &b);
        if (c->bad)
            return;
        if (c->dec)
            s[i] = (char)b;
        if (b == 0)
            ended = true;
        else if (ended || b < 0x21 || b > 0x7E || i == n - 1)
            fail(c, at);
    }
}

static void key(cur *c, xr_engine_key *k)
{
    raw(c, k->bytes, sizeof k->bytes);
}

/* ---- shared blocks ------------------------------------------------------------------------ */

static void report(cur *c, xr_engine_exec_report_ev *r)
{
    key(c, &r->key);
    text(c, r->pair, sizeof r->pair);
    u8r(c, &r->side, XR_ENGINE_BUY, XR_ENGINE_SELL);
    u8r(c, &r->status, XR_ENGINE_ORDER_PENDING, XR_ENGINE_ORDER_EXPIRED);
    flag(c, &r->replayed);
    u8(c, &r->venues);
    scale(c, &r->base_scale);
    scale(c, &r->quote_scale);
    scale(c, &r->price_scale);
    rsv(c, 1);
    err32(c, &r->err);
    rsv(c, 4);
    amount(c, &r->ordered);
    amount(c, &r->filled);
    amount(c, &r->quote);
    amount(c, &r->notional);
    amount(c, &r->fees);
    amount(c, &r->spread);
    price(c, &r->avg_price);
    i64(c, &r->booked_ns);
}

static void child(cur *c, xr_engine_child *ch)
{
    text(c, ch->client_order_id, sizeof ch->client_order_id);
    u16r(c, &ch->venue, 0, XR_ENGINE_VENUES_MAX - 1);
    u16r(c, &ch->fee_bps, 0, UINT16_MAX);
    flag(c, &ch->done);
    u8r(c, &ch->fee_in, 0, 2);
    rsv(c, 2);
    err32(c, &ch->err);
    rsv(c, 4);
    amount(c, &ch->qty);
    price(c, &ch->limit);
    amount(c, &ch->filled);
    amount(c, &ch->notional);
    amount(c, &ch->fee);
    amount(c, &ch->venue_fee);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* The per-order "acknowledgement required" option (docs/protocol.md §5.7): 4 bytes in
 * NEW_ORDER at 84 and in the EV_EXEC_REPORT response header at 36: flags u8 (bit 0 only),
 * rsv u8, ack_deadline_ms u16 (0 = the server's default; non-zero only with the flag). */
static void order_opts(cur *c, xr_bank_msg *bm)
{
    u8r(c, &bm->order_flags, 0, XR_BANK_ORDER_ACK_REQUIRED);
    rsv(c, 1);
    size_t at = c->off;
    u16r(c, &bm->ack_deadline_ms, 0, UINT16_MAX);
    if (!c->bad && bm->ack_deadline_ms != 0 && bm->order_flags == 0)
        fail(c, at);
}

static void cmd_body(cur *c, xr_engine_cmd *m, xr_bank_msg *bm)
{
    u64(c, &m->correlation_id);
    u64(c, &m->customer_id);
    u32(c, &m->bank_id);
    rsv(c, 4);
    switch ((xr_engine_cmd_kind)m->kind) {
    case XR_ENGINE_CMD_CUSTOMER_UPSERT:
        u8r(c, &m->u.customer.kyc_tier, 0, XR_ENGINE_ANY_TIER - 1);
        rsv(c, 7);
        break;
    case XR_ENGINE_CMD_FUND:
    case XR_ENGINE_CMD_DEFUND:
        key(c, &m->u.fund.key);
        text(c, m->u.fund.asset, sizeof m->u.fund.asset);
        rsv(c, 4);
        amount(c, &m->u.fund.amount);
        break;
    case XR_ENGINE_CMD_QUOTE:
        text(c, m->u.quote.pair, sizeof m->u.quote.pair);
        u8r(c, &m->u.quote.side, XR_ENGINE_BUY, XR_ENGINE_SELL);
        u8r(c, &m->u.quote.amount_side, XR_ENGINE_AMOUNT_BASE, XR_ENGINE_AMOUNT_QUOTE);
        rsv(c, 6);
        amount(c, &m->u.quote.amount);
        break;
    case XR_ENGINE_CMD_NEW_ORDER: {
        xr_engine_order_cmd *o = &m->u.order;
        key(c, &o->key);
        text(c, o->pair, sizeof o->pair);
        u8r(c, &o->side, XR_ENGINE_BUY, XR_ENGINE_SELL);
        u8r(c, &o->type, XR_ENGINE_MARKET, XR_ENGINE_LIMIT);
        u8r(c, &o->tif, XR_ENGINE_TIF_DEFAULT, XR_ENGINE_TIF_GTD);
        u8r(c, &o->amount_side, XR_ENGINE_AMOUNT_BASE, XR_ENGINE_AMOUNT_QUOTE);
        order_opts(c, bm);
        amount(c, &o->amount);
        price(c, &o->limit);
        i64(c, &o->expire_ns);
        u64(c, &o->quote_id);
        break;
    }
    case XR_ENGINE_CMD_CANCEL:
    case XR_ENGINE_CMD_ORDER_STATUS:
        key(c, &m->u.ref.key);
        break;
    case XR_ENGINE_CMD_LIST_ORDERS: {
        xr_engine_list_orders_cmd *l = &m->u.list;
        u32r(c, &l->status_mask, 0, (1u << (XR_ENGINE_ORDER_EXPIRED + 1)) - 1);
        u32(c, &l->limit);
        text(c, l->pair, sizeof l->pair);
        u8r(c, &l->side, 0, XR_ENGINE_SELL);
        u8r(c, &l->type, 0, XR_ENGINE_LIMIT);
        rsv(c, 6);
        i64(c, &l->from_ns);
        i64(c, &l->to_ns);
        u64(c, &l->cursor);
        break;
    }
    case XR_ENGINE_CMD_CONVERT:
        key(c, &m->u.convert.key);
        text(c, m->u.convert.from_asset, sizeof m->u.convert.from_asset);
        text(c, m->u.convert.to_asset, sizeof m->u.convert.to_asset);
        amount(c, &m->u.convert.amount);
        break;
    case XR_ENGINE_CMD_BOOK:
        text(c, m->u.market.pair, sizeof m->u.market.pair);
        u32(c, &m->u.market.depth);
        rsv(c, 4);
        break;
    case XR_ENGINE_CMD_TICKER:
        text(c, m->u.market.pair, sizeof m->u.market.pair);
        break;
    case XR_ENGINE_CMD_OHLC:
        text(c, m->u.market.pair, sizeof m->u.market.pair);
        u32(c, &m->u.market.interval_s);
        rsv(c, 4);
        i64(c, &m->u.market.from_ns);
        i64(c, &m->u.market.to_ns);
        break;
    case XR_ENGINE_CMD_PAIRS:
        u32(c, &m->u.market.cursor);
        rsv(c, 4);
        break;
    case XR_ENGINE_CMD_BALANCES:
        break;
    case XR_ENGINE_CMD__COUNT:
        XR_ASSERT(0);
    }
}

/* ---- responses ---------------------------------------------------------------------------- */

static void ev_body(cur *c, xr_engine_event *m, xr_bank_msg *bm)
{
    u64(c, &m->correlation_id);
    u64(c, &m->customer_id);
    u32(c, &m->bank_id);
    if (m->kind == XR_ENGINE_EV_EXEC_REPORT)
        order_opts(c, bm);
    else
        rsv(c, 4);
    switch ((xr_engine_event_kind)m->kind) {
    case XR_ENGINE_EV_CUSTOMER:
        u8r(c, &m->u.customer.kyc_tier, 0, XR_ENGINE_ANY_TIER - 1);
        flag(c, &m->u.customer.created);
        rsv(c, 6);
        break;
    case XR_ENGINE_EV_FUNDING:
        text(c, m->u.funding.asset, sizeof m->u.funding.asset);
        scale(c, &m->u.funding.scale);
        flag(c, &m->u.funding.replayed);
        rsv(c, 2);
        amount(c, &m->u.funding.amount);
        break;
    case XR_ENGINE_EV_QUOTE: {
        xr_engine_quote_ev *q = &m->u.quote;
        u64(c, &q->quote_id);
        text(c, q->pair, sizeof q->pair);
        u8r(c, &q->side, XR_ENGINE_BUY, XR_ENGINE_SELL);
        u8r(c, &q->amount_side, XR_ENGINE_AMOUNT_BASE, XR_ENGINE_AMOUNT_QUOTE);
        scale(c, &q->base_scale);
        scale(c, &q->quote_scale);
        scale(c, &q->price_scale);
        rsv(c, 3);
        u32(c, &q->spread_bps);
        rsv(c, 4);
        amount(c, &q->base);
        amount(c, &q->quote);
        amount(c, &q->notional);
        amount(c, &q->fees);
        amount(c, &q->spread);
        price(c, &q->price);
        i64(c, &q->expires_ns);
        break;
    }
    case XR_ENGINE_EV_EXEC_REPORT:
        report(c, &m->u.report);
        break;
    case XR_ENGINE_EV_CONVERSION_REPORT: {
        xr_engine_conversion_ev *v = &m->u.conversion;
        key(c, &v->key);
        u8r(c, &v->status, 0, 2);
        flag(c, &v->replayed);
        rsv(c, 2);
        err32(c, &v->err);
        text(c, v->from_asset, sizeof v->from_asset);
        text(c, v->to_asset, sizeof v->to_asset);
        amount(c, &v->from_amount);
        amount(c, &v->to_amount);
        amount(c, &v->fee);
        break;
    }
    case XR_ENGINE_EV_REJECT: {
        err32(c, &m->u.reject.err);
        u8r(c, &m->u.reject.cmd_kind, XR_ENGINE_CMD_CUSTOMER_UPSERT, XR_ENGINE_CMD__COUNT - 1);
        rsv(c, 3);
        break;
    }
    case XR_ENGINE_EV_BALANCES: {
        xr_engine_balances_ev *b = &m->u.balances;
        u32r(c, &b->n, 0, XR_ENGINE_ASSETS_MAX);
        rsv(c, 4);
        for (uint32_t i = 0; i < b->n && !c->bad; i++) {
            xr_engine_balance *it = &b->items[i];
            text(c, it->asset, sizeof it->asset);
            scale(c, &it->scale);
            rsv(c, 3);
            amount(c, &it->balance);
            amount(c, &it->available);
            amount(c, &it->reserved);
        }
        break;
    }
    case XR_ENGINE_EV_BOOK: {
        xr_engine_book_ev *b = &m->u.book;
        text(c, b->pair, sizeof b->pair);
        scale(c, &b->base_scale);
        scale(c, &b->price_scale);
        u16r(c, &b->n_bids, 0, XR_ENGINE_BOOK_LEVELS_MAX);
        u16r(c, &b->n_asks, 0, XR_ENGINE_BOOK_LEVELS_MAX);
        rsv(c, 2);
        for (uint16_t i = 0; i < b->n_bids && !c->bad; i++) {
            price(c, &b->bids[i].price);
            amount(c, &b->bids[i].qty);
        }
        for (uint16_t i = 0; i < b->n_asks && !c->bad; i++) {
            price(c, &b->asks[i].price);
            amount(c, &b->asks[i].qty);
        }
        break;
    }
    case XR_ENGINE_EV_ORDER_LIST: {
        xr_engine_order_list_ev *l = &m->u.order_list;
        u32r(c, &l->n, 0, XR_ENGINE_ORDER_LIST_MAX);
        rsv(c, 4);
        u64(c, &l->next_cursor);
        for (uint32_t i = 0; i < l->n && !c->bad; i++) {
            xr_engine_order_summary *s = &l->items[i];
            report(c, &s->report);
            u8r(c, &s->type, XR_ENGINE_MARKET, XR_ENGINE_LIMIT);
            rsv(c, 7);
            u64(c, &s->seq);
            i64(c, &s->created_ns);
        }
        break;
    }
    case XR_ENGINE_EV_ORDER: {
        xr_engine_order_ev *o = &m->u.order;
        report(c, &o->report);
        u8r(c, &o->type, XR_ENGINE_MARKET, XR_ENGINE_LIMIT);
        u8r(c, &o->tif, XR_ENGINE_TIF_DEFAULT, XR_ENGINE_TIF_GTD);
        u8r(c, &o->amount_side, XR_ENGINE_AMOUNT_BASE, XR_ENGINE_AMOUNT_QUOTE);
        u8r(c, &o->n_children, 0, XR_ENGINE_CHILDREN_MAX);
        u32(c, &o->spread_bps);
        u64(c, &o->seq);
        i64(c, &o->created_ns);
        for (uint8_t i = 0; i < o->n_children && !c->bad; i++)
            child(c, &o->children[i]);
        /* the best-execution record's market at the decision (appended) */
        u8r(c, &o->n_venue_prices, 0, XR_ENGINE_VENUES_MAX);
        rsv(c, 7);
        i64(c, &o->decided_ns);
        for (uint8_t i = 0; i < o->n_venue_prices && !c->bad; i++) {
            xr_engine_venue_price *vp = &o->venue_prices[i];
            u16r(c, &vp->venue, 0, XR_ENGINE_VENUES_MAX - 1);
            flag(c, &vp->usable);
            rsv(c, 5);
            u64(c, &vp->age_ns);
            price(c, &vp->bid);
            price(c, &vp->ask);
        }
        break;
    }
    case XR_ENGINE_EV_TICKER: {
        xr_engine_ticker_ev *t = &m->u.ticker;
        text(c, t->pair, sizeof t->pair);
        scale(c, &t->base_scale);
        scale(c, &t->quote_scale);
        scale(c, &t->price_scale);
        rsv(c, 1);
        u32(c, &t->trades_24h);
        price(c, &t->bid);
        price(c, &t->ask);
        amount(c, &t->bid_qty);
        amount(c, &t->ask_qty);
        price(c, &t->last);
        i64(c, &t->last_ns);
        amount(c, &t->volume_24h);
        break;
    }
    case XR_ENGINE_EV_OHLC: {
        xr_engine_ohlc_ev *o = &m->u.ohlc;
        text(c, o->pair, sizeof o->pair);
        scale(c, &o->base_scale);
        scale(c, &o->price_scale);
        u16r(c, &o->n, 0, XR_ENGINE_OHLC_MAX);
        interval(c, &o->interval_s);
        i64(c, &o->next_from_ns);
        for (uint16_t i = 0; i < o->n && !c->bad; i++) {
            xr_engine_candle *k = &o->items[i];
            i64(c, &k->open_ns);
            u32(c, &k->trades);
            rsv(c, 4);
            price(c, &k->open);
            price(c, &k->high);
            price(c, &k->low);
            price(c, &k->close);
            amount(c, &k->volume);
        }
        break;
    }
    case XR_ENGINE_EV_PAIRS: {
        xr_engine_pairs_ev *p = &m->u.pairs;
        u32r(c, &p->n, 0, XR_ENGINE_PAIRS_MAX);
        u32(c, &p->next_cursor);
        for (uint32_t i = 0; i < p->n && !c->bad; i++) {
            xr_engine_pair_info *it = &p->items[i];
            text(c, it->pair, sizeof it->pair);
            scale(c, &it->base_scale);
            scale(c, &it->quote_scale);
            scale(c, &it->price_scale);
            flag(c, &it->trading);
            u32r(c, &it->venues, 0, (1u << XR_ENGINE_VENUES_MAX) - 1);
            /* Only a listed venue's rules can be known: ready is a subset of venues. */
            size_t at = c->off;
            u32r(c, &it->venues_ready, 0, (1u << XR_ENGINE_VENUES_MAX) - 1);
            if (!c->bad && (it->venues_ready & ~it->venues) != 0)
                fail(c, at);
            rsv(c, 4);
            amount(c, &it->min_qty);
            amount(c, &it->lot_step);
            price(c, &it->tick);
            amount(c, &it->min_notional);
        }
        break;
    }
    case XR_ENGINE_EV__COUNT:
        XR_ASSERT(0); /* refused by type_known() before any body is walked */
    }
}

/* ---- session ------------------------------------------------------------------------------ */

static void session_body(cur *c, xr_bank_msg *m)
{
    switch ((xr_proto_type)m->type) {
    case XR_PROTO_LOGON: {
        xr_proto_logon *l = &m->u.logon;
        u32(c, &l->bank_id);
        u32(c, &l->key_id);
        i64(c, &l->timestamp_ns);
        raw(c, l->nonce, sizeof l->nonce);
        u64(c, &l->last_seq);
        u32(c, &l->heartbeat_ms);
        u8r(c, &l->flags, 0, XR_BANK_LOGON_FLAGS_ALL);
        rsv(c, 3);
        raw(c, l->hmac, sizeof l->hmac);
        break;
    }
    case XR_PROTO_LOGON_ACK: {
        xr_proto_logon_ack *a = &m->u.logon_ack;
        u64(c, &a->session_id);
        u64(c, &a->next_seq);
        u64(c, &a->replay_from);
        i64(c, &a->server_time_ns);
        u32(c, &a->heartbeat_ms);
        u8r(c, &a->flags, 0, XR_BANK_LOGON_FLAGS_ALL);
        rsv(c, 3);
        break;
    }
    case XR_PROTO_HEARTBEAT:
        break;
    case XR_PROTO_LOGOUT:
        err32(c, &m->u.logout.reason);
        rsv(c, 4);
        break;
    case XR_PROTO_ACK:
        u64(c, &m->u.ack.seq);
        break;
    case XR_PROTO_REPLAY_REQUEST:
        u64(c, &m->u.replay.after_seq);
        u32(c, &m->u.replay.max_count);
        rsv(c, 4);
        break;
    case XR_PROTO_SESSION_REJECT:
        err32(c, &m->u.reject.err);
        u8(c, &m->u.reject.ref_type);
        rsv(c, 3);
        u64(c, &m->u.reject.offset);
        u64(c, &m->u.reject.correlation_id);
        break;
    default:
        XR_ASSERT(0);
    }
}

/* ---- frames ------------------------------------------------------------------------------- */

static bool type_is_cmd(uint8_t t)
{
    return t > XR_PROTO_CMD_BASE && t < XR_PROTO_CMD_BASE + XR_ENGINE_CMD__COUNT;
}

static bool type_is_ev(uint8_t t)
{
    return t > XR_PROTO_EV_BASE && t < XR_PROTO_EV_BASE + XR_ENGINE_EV__COUNT;
}

static bool type_known(uint8_t t)
{
    return (t >= XR_PROTO_LOGON && t <= XR_PROTO_SESSION_REJECT) || type_is_cmd(t) || type_is_ev(t);
}

static void body(cur *c, xr_bank_msg *m)
{
    if (type_is_cmd(m->type))
        cmd_body(c, &m->u.cmd, m);
    else if (type_is_ev(m->type))
        ev_body(c, &m->u.ev, m);
    else
        session_body(c, m);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static xr_err malformed(size_t *err_offset, size_t at)
{
    if (err_offset)
        *err_offset = at;
    return XR_ERR_MALFORMED;
}

xr_err xr_bank_decode(const uint8_t *buf, size_t len, xr_bank_msg *out, size_t *used,
                      size_t *err_offset)
{
    if ((!buf && len) || !out || !used)
        return XR_ERR_INVALID_ARGUMENT;
    *used = 0;
    if (len < 4)
        return XR_ERR_AGAIN;
    uint32_t flen = le32(buf);
    if (flen < XR_PROTO_HEADER_LEN || flen > XR_PROTO_FRAME_MAX)
        return malformed(err_offset, XR_PROTO_OFF_LENGTH);
    /* The header is checked as far as it has arrived, so garbage is refused at once rather
     * than after up to XR_PROTO_FRAME_MAX bytes. */
    if (len > XR_PROTO_OFF_VERSION && buf[XR_PROTO_OFF_VERSION] != XR_PROTO_VERSION)
        return malformed(err_offset, XR_PROTO_OFF_VERSION);
    if (len > XR_PROTO_OFF_TYPE && !type_known(buf[XR_PROTO_OFF_TYPE]))
        return malformed(err_offset, XR_PROTO_OFF_TYPE);
    for (size_t i = XR_PROTO_OFF_RESERVED; i < XR_PROTO_OFF_SEQ && i < len; i++)
        if (buf[i] != 0)
            return malformed(err_offset, i);
    if (len < flen) {
        *used = flen;
        return XR_ERR_AGAIN;
    }
    memset(out, 0, sizeof *out);
    uint8_t type = buf[XR_PROTO_OFF_TYPE];
    out->type = type;
    cur c = {.in = buf, .off = XR_PROTO_OFF_SEQ, .len = flen, .dec = true};
    u64(&c, &out->seq);
    if (type_is_ev(type) ? out->seq == 0 : out->seq != 0)
        return malformed(err_offset, XR_PROTO_OFF_SEQ);
    if (type_is_cmd(type))
        out->u.cmd.kind = (uint8_t)(type - XR_PROTO_CMD_BASE);
    else if (type_is_ev(type))
        out->u.ev.kind = (uint8_t)(type - XR_PROTO_EV_BASE);
    body(&c, out);
    if (!c.bad && c.off != flen)
        fail(&c, c.off); /* bytes beyond the message's layout */
    if (c.bad)
        return malformed(err_offset, c.bad_off);
    *used = flen;
    return XR_OK;
}

xr_err xr_bank_encode(const xr_bank_msg *msg, uint8_t *buf, size_t cap, size_t *len)
{
    if (!msg || (!buf && cap) || !len)
        return XR_ERR_INVALID_ARGUMENT;
    uint8_t type = msg->type;
    if (!type_known(type))
        return XR_ERR_INVALID_ARGUMENT;
    if (type_is_cmd(type) && msg->u.cmd.kind != type - XR_PROTO_CMD_BASE)
        return XR_ERR_INVALID_ARGUMENT;
    if (type_is_ev(type) && msg->u.ev.kind != type - XR_PROTO_EV_BASE)
        return XR_ERR_INVALID_ARGUMENT;
    if (type_is_ev(type) ? msg->seq == 0 : msg->seq != 0)
        return XR_ERR_INVALID_ARGUMENT;
    if ((msg->order_flags != 0 || msg->ack_deadline_ms != 0) && type != XR_PROTO_NEW_ORDER &&
        type != XR_PROTO_EV_EXEC_REPORT)
        return XR_ERR_INVALID_ARGUMENT; /* only these two carry the per-order option */
    /* The walk takes mutable fields (it decodes through the same functions); it reads only. */
    xr_bank_msg m;
    memcpy(&m, msg, sizeof m);
    cur c = {.out = buf, .off = XR_PROTO_HEADER_LEN, .len = cap};
    body(&c, &m);
    if (c.bad)
        return XR_ERR_INVALID_ARGUMENT;
    XR_ASSERT(c.off <= XR_PROTO_FRAME_MAX);
    *len = c.off;
    if (c.off > cap)
        return XR_ERR_AGAIN;
    uint64_t flen = c.off, version = XR_PROTO_VERSION, t = type, zero = 0, seq = msg->seq;
    cur h = {.out = buf, .off = 0, .len = cap};
    uint_n(&h, &flen, 4);
    uint_n(&h, &version, 1);
    uint_n(&h, &t, 1);
    uint_n(&h, &zero, 2);
    uint_n(&h, &seq, 8);
    XR_ASSERT(!h.bad && h.off == XR_PROTO_HEADER_LEN);
    return XR_OK;
}

const char *xr_bank_type_name(uint8_t type)
{
    switch (type) {
    case XR_PROTO_LOGON:
        return "logon";
    case XR_PROTO_LOGON_ACK:
        return "logon_ack";
    case XR_PROTO_HEARTBEAT:
        return "heartbeat";
    case XR_PROTO_LOGOUT:
        return "logout";
    case XR_PROTO_ACK:
        return "ack";
    case XR_PROTO_REPLAY_REQUEST:
        return "replay_request";
    case XR_PROTO_SESSION_REJECT:
        return "session_reject";
    default:
        break;
    }
    if (type_is_cmd(type))
        return xr_engine_cmd_kind_name((xr_engine_cmd_kind)(type - XR_PROTO_CMD_BASE));
    if (type_is_ev(type))
        return xr_engine_event_kind_name((xr_engine_event_kind)(type - XR_PROTO_EV_BASE));
    return "unknown";
}
