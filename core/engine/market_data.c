/*
 * Trade-derived market data of the engine (core/engine/market_data.h): last trade, rings of
 * candles per pair and interval, and the TICKER, OHLC and PAIRS answers.
 */
#include <string.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/engine/market_data.h"

#define NINTERVALS 6u

static const uint32_t interval_s[NINTERVALS] = {60, 300, 900, 3600, 14400, 86400};

typedef struct candle {
    int64_t open_ns;
    int64_t first_ns, last_ns; /* venue times of the trades that set open and close */
    uint32_t trades;           /* 0: the slot is empty */
    uint32_t reserved;
    xr_i128 open, high, low, close; /* price ticks */
    xr_i128 volume;                 /* base minor units */
} candle;

typedef struct pair_md {
    xr_i128 last;                 /* price of the latest trade by venue time */
    int64_t last_ns;              /* 0: no trade yet */
    int64_t newest_b[NINTERVALS]; /* newest bucket (open / interval) seen per interval */
    candle *ring[NINTERVALS];     /* into the engine's one block */
} pair_md;

struct xr_eng_mdata {
    const xr_eng_shared *sh;
    pair_md pairs[XR_ENG_PAIRS_MAX];
    uint64_t last_id[XR_ENGINE_VENUES_MAX][XR_ENG_PAIRS_MAX]; /* duplicate filter */
    candle *mem;
};

static uint32_t kept_of(uint32_t k)
{
    return k == 0 ? XR_ENG_MDATA_MINUTES : XR_ENG_MDATA_KEPT;
}

#define CANDLES_PER_PAIR (XR_ENG_MDATA_MINUTES + (NINTERVALS - 1) * XR_ENG_MDATA_KEPT)

xr_err xr_eng_mdata_create(const xr_eng_shared *sh, xr_eng_mdata **out)
{
    xr_eng_mdata *md = xr_eng_alloc(sizeof *md);
    if (md == NULL)
        return XR_ERR_NO_MEMORY;
    md->sh = sh;
    uint32_t np = sh->npairs > 0 ? sh->npairs : 1;
    md->mem = xr_eng_alloc((size_t)np * CANDLES_PER_PAIR * sizeof(candle));
    if (md->mem == NULL) {
        xr_eng_free(md);
        return XR_ERR_NO_MEMORY;
    }
    for (uint32_t p = 0; p < np; p++) {
        candle *c = md->mem + (size_t)p * CANDLES_PER_PAIR;
        for (uint32_t k = 0; k < NINTERVALS; k++) {
            md->pairs[p].ring[k] = c;
            md->pairs[p].newest_b[k] = INT64_MIN;
            c += kept_of(k);
        }
    }
    *out = md;
    return XR_OK;
}

void xr_eng_mdata_destroy(xr_eng_mdata *md)
{
    if (md == NULL)
        return;
    xr_eng_free(md->mem);
    xr_eng_free(md);
}

static void candle_add(candle *c, int64_t open_ns, const xr_eng_md_trade *t)
{
    xr_i128 px = t->price.ticks;
    if (c->trades == 0) {
        memset(c, 0, sizeof *c);
        c->open_ns = open_ns;
        c->first_ns = c->last_ns = t->time_ns;
        c->open = c->high = c->low = c->close = px;
    }
    c->trades++;
    c->volume += t->qty.units;
    if (px > c->high)
        c->high = px;
    if (px < c->low)
        c->low = px;
    if (t->time_ns < c->first_ns) {
        c->first_ns = t->time_ns;
        c->open = px;
    }
    if (t->time_ns >= c->last_ns) {
        c->last_ns = t->time_ns;
        c->close = px;
    }
}

bool xr_eng_mdata_trade(xr_eng_mdata *md, const xr_eng_md_trade *t)
{
    if (t->pair >= md->sh->npairs || t->venue >= md->sh->cfg.nvenues || t->price.ticks <= 0 ||
        t->qty.units <= 0 || t->time_ns <= 0)
        return false;
    uint64_t *seen = &md->last_id[t->venue][t->pair];
    if (t->trade_id != 0 && t->trade_id <= *seen)
        return false; /* already counted (a stream replayed after a reconnect) */
    if (t->trade_id != 0)
        *seen = t->trade_id;
    pair_md *pm = &md->pairs[t->pair];
    if (pm->last_ns == 0 || t->time_ns >= pm->last_ns) {
        pm->last_ns = t->time_ns;
        pm->last = t->price.ticks;
    }
    for (uint32_t k = 0; k < NINTERVALS; k++) {
        int64_t iv = (int64_t)interval_s[k] * (int64_t)XR_NS_PER_SEC;
        int64_t b = t->time_ns / iv; /* time_ns > 0: division is floor */
        uint32_t kept = kept_of(k);
        candle *c = &pm->ring[k][(uint64_t)b % kept];
        if (pm->newest_b[k] != INT64_MIN && b <= pm->newest_b[k] - (int64_t)kept)
            continue; /* older than this ring keeps */
        if (c->trades != 0 && c->open_ns != b * iv) {
            if (c->open_ns > b * iv)
                continue;  /* the slot holds a newer candle (cannot happen after the check) */
            c->trades = 0; /* the slot's candle fell out of the window: reuse it */
        }
        candle_add(c, b * iv, t);
        if (b > pm->newest_b[k])
            pm->newest_b[k] = b;
    }
    return true;
}

void xr_eng_mdata_ticker(const xr_eng_mdata *md, uint32_t pair, int64_t now_wall_ns,
                         xr_engine_ticker_ev *out)
{
    XR_ASSERT(pair < md->sh->npairs);
    const pair_md *pm = &md->pairs[pair];
    out->last.ticks = pm->last_ns != 0 ? pm->last : 0;
    out->last_ns = pm->last_ns;
    out->volume_24h.units = 0;
    out->trades_24h = 0;
    const int64_t iv = 60 * (int64_t)XR_NS_PER_SEC;
    const int64_t nowb = now_wall_ns / iv;
    for (uint32_t i = 0; i < XR_ENG_MDATA_MINUTES; i++) {
        const candle *c = &pm->ring[0][i];
        if (c->trades == 0)
            continue;
        int64_t b = c->open_ns / iv;
        if (b > nowb - (int64_t)XR_ENG_MDATA_MINUTES && b <= nowb) {
            out->volume_24h.units += c->volume;
            out->trades_24h += c->trades;
        }
    }
}

xr_err xr_eng_mdata_ohlc(const xr_eng_mdata *md, uint32_t pair, uint32_t ivs, int64_t from_ns,
                         int64_t to_ns, int64_t now_wall_ns, xr_engine_ohlc_ev *out)
{
    XR_ASSERT(pair < md->sh->npairs);
    uint32_t k = 0;
    while (k < NINTERVALS && interval_s[k] != ivs)
        k++;
    if (k == NINTERVALS || from_ns < 0 || to_ns < 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (to_ns == 0)
        to_ns = now_wall_ns + 1; /* the current candle included */
    if (from_ns > to_ns)
        return XR_ERR_INVALID_ARGUMENT;
    out->interval_s = ivs;
    out->n = 0;
    out->next_from_ns = 0;
    const pair_md *pm = &md->pairs[pair];
    if (pm->newest_b[k] == INT64_MIN || from_ns == to_ns)
        return XR_OK;
    const int64_t iv = (int64_t)ivs * (int64_t)XR_NS_PER_SEC;
    const uint32_t kept = kept_of(k);
    int64_t b0 = from_ns / iv + (from_ns % iv != 0); /* first open >= from_ns */
    int64_t b1 = (to_ns - 1) / iv;                   /* last open < to_ns */
    if (b0 < pm->newest_b[k] - (int64_t)kept + 1)
        b0 = pm->newest_b[k] - (int64_t)kept + 1;
    if (b1 > pm->newest_b[k])
        b1 = pm->newest_b[k];
    for (int64_t b = b0; b <= b1; b++) {
        const candle *c = &pm->ring[k][(uint64_t)b % kept];
        if (c->trades == 0 || c->open_ns != b * iv)
            continue;
        if (out->n == XR_ENGINE_OHLC_MAX) {
            out->next_from_ns = c->open_ns;
            break;
        }
        xr_engine_candle *o = &out->items[out->n++];
        o->open_ns = c->open_ns;
        o->trades = c->trades;
        o->open.ticks = c->open;
        o->high.ticks = c->high;
        o->low.ticks = c->low;
        o->close.ticks = c->close;
        o->volume.units = c->volume;
    }
    return XR_OK;
}

/* The most permissive of two rules: the smaller, where 0 (no rule) is the smallest. */
static xr_i128 loosest(xr_i128 acc, xr_i128 v, bool first)
{
    return first || v < acc ? v : acc;
}

void xr_eng_mdata_pair_info(const xr_eng_shared *sh, uint32_t pair,
                            const xr_instrument *const *inst, xr_engine_pair_info *out)
{
    XR_ASSERT(pair < sh->npairs);
    memset(out, 0, sizeof *out);
    memcpy(out->pair, sh->pairs[pair].name, sizeof out->pair);
    bool first = true;
    for (uint32_t v = 0; v < sh->cfg.nvenues; v++) {
        const xr_engine_venue_config *vc = &sh->cfg.venues[v];
        for (uint32_t i = 0; i < vc->npairs; i++)
            if (strncmp(vc->pairs[i], out->pair, XR_ENGINE_PAIR_NAME_MAX) == 0)
                out->venues |= 1u << v;
        const xr_instrument *in = inst[v];
        if (in == NULL)
            continue;
        out->venues_ready |= 1u << v;
        if (first) {
            out->base_scale = in->scale.base;
            out->quote_scale = in->scale.quote;
            out->price_scale = in->scale.price;
        }
        if (in->status == XR_INSTRUMENT_TRADING)
            out->trading = 1;
        out->min_qty.units = loosest(out->min_qty.units, in->qty_min.units, first);
        out->lot_step.units = loosest(out->lot_step.units, in->lot_step.units, first);
        out->tick.ticks = loosest(out->tick.ticks, in->tick.ticks, first);
        out->min_notional.units = loosest(out->min_notional.units, in->notional_min.units, first);
        first = false;
    }
}
