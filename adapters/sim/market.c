/*
 * One simulated market: book, random process, update log, trades, candles. See market.h.
 */
#include "adapters/sim/market.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"

struct xr_sim_market {
    xr_sim_pair_config cfg;
    xr_sim_rng rng;
    xr_sim_level lv[2][XR_SIM_LEVELS_MAX];
    size_t n[2];
    size_t synth_n[2]; /* levels with synthetic liquidity, per side */
    int64_t mid0;      /* initial mid, ticks */
    int64_t min_ticks, max_ticks;
    int64_t level_lots;
    int64_t last_price; /* ticks of the last trade, 0 before the first */
    uint64_t last_id;
    uint64_t last_trade_id;
    xr_sim_user_fill_fn user_fill;
    void *user_ctx;
    xr_sim_change log[XR_SIM_LOG_SIZE];
    xr_sim_trade trades[XR_SIM_TRADES_LOG];
    xr_sim_candle candles[XR_SIM_CANDLES];
};

_Static_assert((XR_SIM_LOG_SIZE & (XR_SIM_LOG_SIZE - 1)) == 0, "log size: power of two");
_Static_assert((XR_SIM_TRADES_LOG & (XR_SIM_TRADES_LOG - 1)) == 0, "trades: power of two");
_Static_assert(XR_SIM_DEPTH_MAX * 2 <= XR_SIM_LEVELS_MAX, "room for resting orders");

/* ---- generator ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void xr_sim_rng_seed(xr_sim_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t xr_sim_rng_next(xr_sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t xr_sim_rng_below(xr_sim_rng *r, uint64_t n)
{
    XR_ASSERT(n > 0);
    /* Lemire's multiply-shift: unbiased enough for a simulation and, unlike a rejection
     * loop, always one draw per call, which keeps streams easy to reason about. */
    return (uint64_t)(((unsigned __int128)xr_sim_rng_next(r) * n) >> 64);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- configuration ------------------------------------------------------------------ */

xr_err xr_sim_pair_config_check(xr_sim_pair_config *c)
{
    if (c->symbol[0] == '\0' || c->base[0] == '\0' || c->quote[0] == '\0')
        return XR_ERR_INVALID_ARGUMENT;
    if (c->tick <= 0 || c->step <= 0 || c->mid <= 0)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->depth == 0)
        c->depth = 20;
    if (c->gap_ticks_max == 0)
        c->gap_ticks_max = 2;
    if (c->level_qty <= 0)
        c->level_qty = c->step * 100;
    if (c->min_price <= 0)
        c->min_price = c->tick;
    if (c->max_price <= 0) /* a thousand times the mid, on the grid */
        c->max_price = c->mid <= INT64_MAX / 4 / 1000 ? c->mid * 1000 / c->tick * c->tick
                                                      : INT64_MAX / 4 / c->tick * c->tick;
    if (c->min_qty <= 0)
        c->min_qty = c->step;
    if (c->max_qty <= 0)
        c->max_qty = c->step * 1000000000;
    if (c->depth > XR_SIM_DEPTH_MAX || c->gap_ticks_max > 1000)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->min_price % c->tick != 0 || c->max_price % c->tick != 0 || c->mid % c->tick != 0 ||
        c->min_price > c->max_price || c->mid < c->min_price || c->mid > c->max_price)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->min_qty % c->step != 0 || c->min_qty > c->max_qty || c->level_qty < c->step)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->min_notional < 0 || (c->max_notional != 0 && c->max_notional < c->min_notional))
        return XR_ERR_INVALID_ARGUMENT;
    /* Prices and quantities stay far from int64 overflow: x 10^8 at most in a product that
     * is formed in 128 bits anyway. */
    if (c->max_price > INT64_MAX / 4 || c->max_qty > INT64_MAX / 4)
        return XR_ERR_INVALID_ARGUMENT;
    return XR_OK;
}

/* ---- levels ------------------------------------------------------------------------- */

static bool better(int side, int64_t a, int64_t b)
{
    return side == XR_SIM_BID ? a > b : a < b;
}

/* Index of `price` on `side`, or where it would be inserted. */
static size_t level_pos(const xr_sim_market *m, int side, int64_t price)
{
    size_t lo = 0, hi = m->n[side];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (better(side, m->lv[side][mid].price, price))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void log_change(xr_sim_market *m, int side, int64_t price, int64_t qty)
{
    uint64_t id = ++m->last_id;
    xr_sim_change *c = &m->log[id & (XR_SIM_LOG_SIZE - 1)];
    c->id = id;
    c->price = price;
    c->qty = qty;
    c->side = (uint8_t)side;
}

/* Changes the synthetic and resting lots of the level at `price` by the deltas, inserting or
 * removing it, and logs the new published quantity. Returns false (nothing changed) when a
 * new level does not fit. */
static bool level_change(xr_sim_market *m, int side, int64_t price, int64_t dsynth, int64_t duser)
{
    size_t i = level_pos(m, side, price);
    xr_sim_level *lv = m->lv[side];
    bool exists = i < m->n[side] && lv[i].price == price;
    if (!exists) {
        XR_ASSERT(dsynth >= 0 && duser >= 0);
        if (dsynth == 0 && duser == 0)
            return true;
        if (m->n[side] == XR_SIM_LEVELS_MAX)
            return false;
        memmove(&lv[i + 1], &lv[i], (m->n[side] - i) * sizeof lv[0]);
        m->n[side]++;
        lv[i].price = price;
        lv[i].synth = 0;
        lv[i].user = 0;
    }
    int64_t old_synth = lv[i].synth;
    lv[i].synth += dsynth;
    lv[i].user += duser;
    XR_ASSERT(lv[i].synth >= 0 && lv[i].user >= 0);
    if (old_synth == 0 && lv[i].synth > 0)
        m->synth_n[side]++;
    else if (old_synth > 0 && lv[i].synth == 0)
        m->synth_n[side]--;
    int64_t total = lv[i].synth + lv[i].user;
    if (total == 0) {
        memmove(&lv[i], &lv[i + 1], (m->n[side] - i - 1) * sizeof lv[0]);
        m->n[side]--;
    }
    if (dsynth != 0 || duser != 0)
        log_change(m, side, price, total);
    return true;
}

static int64_t rand_lots(xr_sim_market *m)
{
    return 1 + (int64_t)xr_sim_rng_below(&m->rng, (uint64_t)(2 * m->level_lots));
}

/* Percent chance, 10..90, that the next move is upward: lower the further the mid is above
 * its start (mean reversion). */
static uint64_t lean_up(const xr_sim_market *m)
{
    if (m->n[XR_SIM_BID] == 0 || m->n[XR_SIM_ASK] == 0)
        return 50;
    int64_t mid = (m->lv[XR_SIM_BID][0].price + m->lv[XR_SIM_ASK][0].price) / 2;
    int64_t span = (int64_t)m->cfg.depth * 4 > 50 ? (int64_t)m->cfg.depth * 4 : 50;
    int64_t dev = (mid - m->mid0) * 40 / span;
    if (dev > 40)
        dev = 40;
    if (dev < -40)
        dev = -40;
    return (uint64_t)(50 - dev);
}

/* Index of the i-th level with synthetic liquidity at or after `from`, wrapping; the side
 * must have one. */
static size_t synth_index_from(const xr_sim_market *m, int side, size_t from)
{
    size_t n = m->n[side];
    for (size_t k = 0; k < n; k++) {
        size_t i = (from + k) % n;
        if (m->lv[side][i].synth > 0)
            return i;
    }
    XR_ASSERT(0);
    return 0;
}

static void act_resize(xr_sim_market *m)
{
    int side = (int)xr_sim_rng_below(&m->rng, 2);
    if (m->synth_n[side] == 0)
        side = !side;
    if (m->synth_n[side] == 0)
        return;
    size_t n = m->n[side];
    /* Levels near the top change more often than deep ones. */
    size_t a = (size_t)xr_sim_rng_below(&m->rng, n), b = (size_t)xr_sim_rng_below(&m->rng, n);
    size_t i = synth_index_from(m, side, a < b ? a : b);
    xr_sim_level *lv = &m->lv[side][i];
    int64_t want = rand_lots(m);
    if (want == lv->synth)
        want++;
    level_change(m, side, lv->price, want - lv->synth, 0);
}

static void act_take(xr_sim_market *m, int64_t now_ms)
{
    /* A taker BUY takes asks and moves the price up. */
    int side = xr_sim_rng_below(&m->rng, 100) < lean_up(m) ? XR_SIM_ASK : XR_SIM_BID;
    int64_t size = 1 + (int64_t)xr_sim_rng_below(&m->rng, (uint64_t)m->level_lots);
    if (m->n[side] == 0)
        return;
    int64_t price = m->lv[side][0].price;
    if (m->lv[side][0].user > 0 && m->user_fill != NULL) {
        int64_t want = size < m->lv[side][0].user ? size : m->lv[side][0].user;
        int64_t got = m->user_fill(m->user_ctx, side, price, want, now_ms);
        XR_ASSERT(got >= 0 && got <= want);
        size -= got;
    }
    if (m->n[side] == 0 || m->lv[side][0].price != price || size == 0)
        return;
    int64_t t = xr_sim_market_take_synth(m, side, price, size);
    if (t > 0)
        xr_sim_market_record_trade(m, price, t, side == XR_SIM_BID, now_ms);
}

static void act_improve(xr_sim_market *m)
{
    if (m->n[XR_SIM_BID] == 0 || m->n[XR_SIM_ASK] == 0) {
        act_resize(m);
        return;
    }
    int64_t bb = m->lv[XR_SIM_BID][0].price, ba = m->lv[XR_SIM_ASK][0].price;
    if (ba - bb <= 1) {
        act_resize(m);
        return;
    }
    bool up = xr_sim_rng_below(&m->rng, 100) < lean_up(m);
    if (up)
        level_change(m, XR_SIM_BID, bb + 1, rand_lots(m), 0);
    else
        level_change(m, XR_SIM_ASK, ba - 1, rand_lots(m), 0);
}

static void act_withdraw(xr_sim_market *m)
{
    int side = (int)xr_sim_rng_below(&m->rng, 2);
    size_t n = m->n[side];
    if (m->synth_n[side] < 2 || n < 2) {
        act_resize(m);
        return;
    }
    size_t i = synth_index_from(m, side, 1 + (size_t)xr_sim_rng_below(&m->rng, n - 1));
    if (i == 0) /* wrapped to the best level: resize instead of withdrawing it */
        i = synth_index_from(m, side, 1);
    if (i == 0) {
        act_resize(m);
        return;
    }
    level_change(m, side, m->lv[side][i].price, -m->lv[side][i].synth, 0);
}

/* Reference price (ticks) of an empty side: the other side's best, else the last trade,
 * else the initial mid. */
static int64_t anchor(const xr_sim_market *m, int side)
{
    int other = !side;
    if (m->n[other] > 0)
        return m->lv[other][0].price;
    return m->last_price > 0 ? m->last_price : m->mid0;
}

/* Tops up or trims `side` to `depth` synthetic levels. */
static void maintain(xr_sim_market *m, int side)
{
    int dir = side == XR_SIM_BID ? -1 : 1; /* deeper = lower bids, higher asks */
    int guard = 0;
    while (m->synth_n[side] < m->cfg.depth && guard++ < (int)XR_SIM_DEPTH_MAX * 2) {
        int64_t gap = 1 + (int64_t)xr_sim_rng_below(&m->rng, m->cfg.gap_ticks_max);
        int64_t price;
        if (m->synth_n[side] > 0) {
            size_t w = m->n[side];
            while (w > 0 && m->lv[side][w - 1].synth == 0)
                w--;
            price = m->lv[side][w - 1].price + dir * gap;
        } else {
            /* Just beyond the other side's best (never crossing it), or around the last
             * trade or the initial mid when the whole book is empty. */
            price = anchor(m, side) + dir * gap;
        }
        if (price < m->min_ticks || price > m->max_ticks)
            break;
        if (!level_change(m, side, price, rand_lots(m), 0))
            break;
    }
    while (m->synth_n[side] > m->cfg.depth) {
        size_t w = m->n[side];
        while (w > 0 && m->lv[side][w - 1].synth == 0)
            w--;
        XR_ASSERT(w > 0);
        level_change(m, side, m->lv[side][w - 1].price, -m->lv[side][w - 1].synth, 0);
    }
}

/* ---- life cycle --------------------------------------------------------------------- */

xr_err xr_sim_market_create(const xr_sim_pair_config *cfg, uint64_t seed, int64_t now_ms,
                            xr_sim_market **out)
{
    *out = NULL;
    xr_sim_pair_config c = *cfg;
    xr_err e = xr_sim_pair_config_check(&c);
    if (e != XR_OK)
        return e;
    xr_sim_market *m = calloc(1, sizeof *m);
    if (m == NULL)
        return XR_ERR_NO_MEMORY;
    m->cfg = c;
    xr_sim_rng_seed(&m->rng, seed ^ fnv1a(c.symbol));
    m->mid0 = c.mid / c.tick;
    m->min_ticks = (c.min_price + c.tick - 1) / c.tick;
    if (m->min_ticks < 1)
        m->min_ticks = 1;
    m->max_ticks = c.max_price / c.tick;
    m->level_lots = c.level_qty / c.step;
    if (m->level_lots < 1)
        m->level_lots = 1;
    maintain(m, XR_SIM_BID);
    maintain(m, XR_SIM_ASK);
    (void)now_ms;
    *out = m;
    return XR_OK;
}

void xr_sim_market_destroy(xr_sim_market *m)
{
    free(m);
}

const xr_sim_pair_config *xr_sim_market_config(const xr_sim_market *m)
{
    return &m->cfg;
}

void xr_sim_market_set_user_fill(xr_sim_market *m, xr_sim_user_fill_fn fn, void *ctx)
{
    m->user_fill = fn;
    m->user_ctx = ctx;
}

void xr_sim_market_step(xr_sim_market *m, int64_t now_ms)
{
    uint64_t before = m->last_id;
    uint64_t r = xr_sim_rng_below(&m->rng, 100);
    if (r < 40)
        act_resize(m);
    else if (r < 65)
        act_take(m, now_ms);
    else if (r < 85)
        act_improve(m);
    else
        act_withdraw(m);
    /* A spread that has grown wide closes again quickly, as market makers would. */
    if (m->n[XR_SIM_BID] > 0 && m->n[XR_SIM_ASK] > 0 &&
        m->lv[XR_SIM_ASK][0].price - m->lv[XR_SIM_BID][0].price > 4 * m->cfg.gap_ticks_max)
        act_improve(m);
    maintain(m, XR_SIM_BID);
    maintain(m, XR_SIM_ASK);
    if (m->last_id == before)
        act_resize(m);
}

/* ---- book accessors ----------------------------------------------------------------- */

size_t xr_sim_market_level_count(const xr_sim_market *m, int side)
{
    return m->n[side];
}

const xr_sim_level *xr_sim_market_level(const xr_sim_market *m, int side, size_t i)
{
    XR_ASSERT(i < m->n[side]);
    return &m->lv[side][i];
}

int64_t xr_sim_market_best(const xr_sim_market *m, int side)
{
    return m->n[side] > 0 ? m->lv[side][0].price : 0;
}

int64_t xr_sim_market_mid(const xr_sim_market *m)
{
    int64_t t;
    if (m->n[XR_SIM_BID] > 0 && m->n[XR_SIM_ASK] > 0)
        t = (m->lv[XR_SIM_BID][0].price + m->lv[XR_SIM_ASK][0].price) / 2;
    else
        t = m->last_price > 0 ? m->last_price : m->mid0;
    return t * m->cfg.tick;
}

xr_err xr_sim_market_add_user(xr_sim_market *m, int side, int64_t price, int64_t lots)
{
    XR_ASSERT(side == XR_SIM_BID || side == XR_SIM_ASK);
    XR_ASSERT(price > 0);
    if (lots == 0)
        return XR_OK;
    return level_change(m, side, price, 0, lots) ? XR_OK : XR_ERR_NO_MEMORY;
}

int64_t xr_sim_market_take_synth(xr_sim_market *m, int side, int64_t price, int64_t lots)
{
    size_t i = level_pos(m, side, price);
    if (i >= m->n[side] || m->lv[side][i].price != price || lots <= 0)
        return 0;
    int64_t t = lots < m->lv[side][i].synth ? lots : m->lv[side][i].synth;
    if (t > 0)
        level_change(m, side, price, -t, 0);
    return t;
}

xr_err xr_sim_market_set_synth(xr_sim_market *m, int side, int64_t price, int64_t lots)
{
    if ((side != XR_SIM_BID && side != XR_SIM_ASK) || lots < 0 || price < m->min_ticks ||
        price > m->max_ticks)
        return XR_ERR_INVALID_ARGUMENT;
    int other = !side;
    if (lots > 0 && m->n[other] > 0) {
        int64_t ob = m->lv[other][0].price;
        if (side == XR_SIM_BID ? price >= ob : price <= ob)
            return XR_ERR_INVALID_ARGUMENT; /* would cross */
    }
    size_t i = level_pos(m, side, price);
    int64_t have = i < m->n[side] && m->lv[side][i].price == price ? m->lv[side][i].synth : 0;
    return level_change(m, side, price, lots - have, 0) ? XR_OK : XR_ERR_NO_MEMORY;
}

void xr_sim_market_clear_synth(xr_sim_market *m)
{
    for (int side = 0; side < 2; side++) {
        size_t i = m->n[side];
        while (i-- > 0)
            if (m->lv[side][i].synth > 0)
                level_change(m, side, m->lv[side][i].price, -m->lv[side][i].synth, 0);
    }
}

/* ---- log ---------------------------------------------------------------------------- */

uint64_t xr_sim_market_last_id(const xr_sim_market *m)
{
    return m->last_id;
}

uint64_t xr_sim_market_oldest_id(const xr_sim_market *m)
{
    return m->last_id >= XR_SIM_LOG_SIZE ? m->last_id - XR_SIM_LOG_SIZE + 1 : 1;
}

const xr_sim_change *xr_sim_market_change(const xr_sim_market *m, uint64_t id)
{
    if (id == 0 || id > m->last_id || id < xr_sim_market_oldest_id(m))
        return NULL;
    const xr_sim_change *c = &m->log[id & (XR_SIM_LOG_SIZE - 1)];
    XR_ASSERT(c->id == id);
    return c;
}

/* ---- trades and candles ------------------------------------------------------------- */

int64_t xr_sim_market_qty_units(const xr_sim_market *m, int64_t lots)
{
    return lots * m->cfg.step;
}

int64_t xr_sim_market_price_units(const xr_sim_market *m, int64_t ticks)
{
    return ticks * m->cfg.tick;
}

xr_i128 xr_sim_market_quote_e16(const xr_sim_market *m, int64_t lots, int64_t ticks)
{
    return (xr_i128)(lots * m->cfg.step) * (xr_i128)(ticks * m->cfg.tick);
}

uint64_t xr_sim_market_record_trade(xr_sim_market *m, int64_t price, int64_t lots, bool buyer_maker,
                                    int64_t now_ms)
{
    XR_ASSERT(lots > 0 && price > 0);
    uint64_t id = ++m->last_trade_id;
    xr_sim_trade *t = &m->trades[id & (XR_SIM_TRADES_LOG - 1)];
    t->id = id;
    t->price = price;
    t->qty = lots;
    t->time_ms = now_ms;
    t->buyer_maker = buyer_maker;
    m->last_price = price;

    int64_t open = now_ms - now_ms % 60000;
    xr_sim_candle *c = &m->candles[(uint64_t)(open / 60000) % XR_SIM_CANDLES];
    xr_i128 q = xr_sim_market_quote_e16(m, lots, price);
    if (c->open_ms != open) {
        memset(c, 0, sizeof *c);
        c->open_ms = open;
        c->open = c->high = c->low = price;
        c->first_id = id;
    }
    if (price > c->high)
        c->high = price;
    if (price < c->low)
        c->low = price;
    c->close = price;
    c->volume += lots;
    c->quote_e16 += q;
    if (!buyer_maker) { /* the taker bought */
        c->taker_buy_volume += lots;
        c->taker_buy_quote_e16 += q;
    }
    c->count++;
    c->last_id = id;
    return id;
}

uint64_t xr_sim_market_last_trade_id(const xr_sim_market *m)
{
    return m->last_trade_id;
}

const xr_sim_trade *xr_sim_market_trade(const xr_sim_market *m, uint64_t id)
{
    if (id == 0 || id > m->last_trade_id || m->last_trade_id - id >= XR_SIM_TRADES_LOG)
        return NULL;
    return &m->trades[id & (XR_SIM_TRADES_LOG - 1)];
}

const xr_sim_candle *xr_sim_market_candle(const xr_sim_market *m, int64_t open_ms)
{
    if (open_ms < 0 || open_ms % 60000 != 0)
        return NULL;
    const xr_sim_candle *c = &m->candles[(uint64_t)(open_ms / 60000) % XR_SIM_CANDLES];
    return c->open_ms == open_ms && c->count > 0 ? c : NULL;
}

int64_t xr_sim_market_last_price(const xr_sim_market *m)
{
    return m->last_price;
}

bool xr_sim_market_verify(const xr_sim_market *m)
{
    for (int side = 0; side < 2; side++) {
        size_t synth = 0;
        for (size_t i = 0; i < m->n[side]; i++) {
            const xr_sim_level *l = &m->lv[side][i];
            if (l->synth < 0 || l->user < 0 || l->synth + l->user == 0 || l->price <= 0)
                return false;
            if (i > 0 && !better(side, m->lv[side][i - 1].price, l->price))
                return false;
            synth += l->synth > 0;
        }
        if (synth != m->synth_n[side])
            return false;
    }
    if (m->n[0] > 0 && m->n[1] > 0 && m->lv[0][0].price >= m->lv[1][0].price)
        return false;
    return true;
}
