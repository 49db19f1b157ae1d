/*
 * core/pricing/pricing.c - pairs and their venues, the consolidated book, and the walk that
 * turns a size into an executable price and a routing plan. The rules are in pricing.h and
 * docs/ARCHITECTURE.md ("Pricing"); the rounding rules in docs/ledger.md ("Rounding").
 */
#include "core/pricing/pricing_internal.h"

#include <string.h>

#include "core/base/assert.h"

#define BPS ((xr_i128)XR_PRICING_BPS_ONE)

/* Prices at or above this would overflow price x (10^4 + fee) in the merge; no real market
 * comes near (2^113 ticks), so such a book is refused as an overflow. */
#define PRICE_MERGE_MAX ((xr_i128)1 << 113)

/* ---- small exact helpers ---------------------------------------------------------------- */

static size_t align16(size_t n)
{
    return (n + 15u) & ~(size_t)15u;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t v = 1;
    while (v < n)
        v <<= 1;
    return v;
}

static bool mul_ok(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    return !__builtin_mul_overflow(a, b, out) && *out >= XR_I128_MIN;
}

/* mul_ok for the walk's per-level products: two non-negative values below 2^63 cannot
 * overflow, and that is every realistic price and quantity, so the generic 128-bit overflow
 * check (a long branchy sequence) runs only for the rest. */
static inline bool mul_fast(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    if (XR_LIKELY((xr_u128)a < ((xr_u128)1 << 63) && (xr_u128)b < ((xr_u128)1 << 63))) {
        *out = a * b;
        return true;
    }
    return mul_ok(a, b, out);
}

static bool add_ok(xr_i128 a, xr_i128 b, xr_i128 *out)
{
    return !__builtin_add_overflow(a, b, out) && *out >= XR_I128_MIN;
}

/* q rounded down to a multiple of step (q >= 0; step 0 means no step). The 64-bit path avoids
 * the 128-bit division library call for every realistic quantity. */
static xr_i128 floor_step(xr_i128 q, xr_i128 step)
{
    if (step <= 1)
        return q;
    if (q <= (xr_i128)UINT64_MAX && step <= (xr_i128)UINT64_MAX)
        return q - (xr_i128)((uint64_t)q % (uint64_t)step);
    return q - q % step;
}

/* q rounded up to a multiple of step (q >= 0). */
static xr_i128 ceil_step(xr_i128 q, xr_i128 step, bool *ok)
{
    xr_i128 f = floor_step(q, step);
    if (f == q)
        return q;
    xr_i128 r;
    if (!add_ok(f, step, &r)) {
        *ok = false;
        return q;
    }
    return r;
}

static void lot_test_make(xr_i128 lot, xr_pricing_lot_test *t);

/* ---- init and registration ---------------------------------------------------------------- */

static bool config_valid(const xr_pricing_config *cfg)
{
    return cfg != NULL && cfg->pairs_max >= 1 && cfg->pairs_max <= XR_PRICING_PAIRS_MAX &&
           cfg->spreads_max >= 1 && cfg->spreads_max <= (1u << 24) && cfg->quotes_max >= 1 &&
           cfg->quotes_max <= (1u << 26) && cfg->quote_ttl_ns > 0 &&
           cfg->slippage_bps < XR_PRICING_BPS_ONE && cfg->cross_halt_bps <= 1000000u;
}

static void layout(const xr_pricing_config *cfg, size_t *pairs_len, size_t *spreads_len,
                   size_t *quotes_len, uint32_t *spread_slots)
{
    *spread_slots = pow2_at_least(cfg->spreads_max * 2u);
    *pairs_len = align16((size_t)cfg->pairs_max * sizeof(xr_pricing_pair));
    *spreads_len = align16((size_t)*spread_slots * sizeof(xr_pricing_spread));
    *quotes_len = align16((size_t)cfg->quotes_max * sizeof(xr_quote));
}

size_t xr_pricing_footprint(const xr_pricing_config *cfg)
{
    if (!config_valid(cfg))
        return 0;
    size_t a, b, c;
    uint32_t slots;
    layout(cfg, &a, &b, &c, &slots);
    return a + b + c;
}

xr_err xr_pricing_init(xr_pricing *p, void *mem, size_t len, const xr_pricing_config *cfg)
{
    XR_ASSERT(p != NULL);
    size_t need = xr_pricing_footprint(cfg);
    if (need == 0 || mem == NULL || len < need || ((uintptr_t)mem & 15u) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    size_t a, b, c;
    uint32_t slots;
    layout(cfg, &a, &b, &c, &slots);
    memset(p, 0, sizeof *p);
    memset(mem, 0, need);
    p->cfg = *cfg;
    p->pairs = (xr_pricing_pair *)mem;
    /* layout() keeps every part 16-byte aligned, and mem is checked above. */
    p->spreads = (xr_pricing_spread *)(void *)((char *)mem + a);
    p->quotes = (xr_quote *)(void *)((char *)mem + a + b);
    p->spread_mask = slots - 1u;
    for (uint32_t i = 0; i < slots; i++)
        p->spreads[i].tier = XR_PRICING_SPREAD_EMPTY;
    p->next_quote_id = cfg->first_quote_id != 0 ? cfg->first_quote_id : 1;
    return XR_OK;
}

xr_err xr_pricing_add_pair(xr_pricing *p, const char *name, size_t len, const xr_pair_scale *scale,
                           uint32_t *pair_id)
{
    XR_ASSERT(p != NULL && scale != NULL && pair_id != NULL);
    char base[XR_ASSET_CODE_MAX + 1], quote[XR_ASSET_CODE_MAX + 1];
    if (name == NULL || len > XR_PAIR_NAME_MAX ||
        xr_pair_name_split(name, len, base, quote) != XR_OK)
        return XR_ERR_INVALID_ARGUMENT;
    if (scale->base > XR_SCALE_MAX || scale->quote > XR_SCALE_MAX || scale->price > XR_SCALE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    int e = (int)scale->base + (int)scale->price - (int)scale->quote;
    xr_i128 pw;
    if (xr_i128_pow10((unsigned)(e < 0 ? -e : e), &pw) != XR_OK)
        return XR_ERR_INVALID_ARGUMENT;
    uint32_t found;
    if (xr_pricing_find_pair(p, name, len, &found) == XR_OK)
        return XR_ERR_ALREADY_EXISTS;
    if (p->n_pairs == p->cfg.pairs_max)
        return XR_ERR_NO_MEMORY;
    xr_pricing_pair *pr = &p->pairs[p->n_pairs];
    memset(pr, 0, sizeof *pr);
    memcpy(pr->name, name, len);
    pr->name[len] = '\0';
    pr->scale = *scale;
    pr->num = e < 0 ? pw : 1;
    pr->den = e < 0 ? 1 : pw;
    *pair_id = p->n_pairs++;
    return XR_OK;
}

xr_err xr_pricing_find_pair(const xr_pricing *p, const char *name, size_t len, uint32_t *pair_id)
{
    XR_ASSERT(p != NULL && pair_id != NULL);
    if (name == NULL || len > XR_PAIR_NAME_MAX)
        return XR_ERR_UNKNOWN_PAIR;
    for (uint32_t i = 0; i < p->n_pairs; i++) {
        if (strlen(p->pairs[i].name) == len && memcmp(p->pairs[i].name, name, len) == 0) {
            *pair_id = i;
            return XR_OK;
        }
    }
    return XR_ERR_UNKNOWN_PAIR;
}

xr_err xr_pricing_add_venue(xr_pricing *p, uint32_t pair_id, const xr_pricing_venue *venue)
{
    XR_ASSERT(p != NULL && venue != NULL);
    if (pair_id >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    xr_pricing_pair *pr = &p->pairs[pair_id];
    if (venue->book == NULL || venue->inst == NULL || venue->fee_bps > XR_PRICING_FEE_BPS_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    const xr_instrument *in = venue->inst;
    if (strcmp(in->canonical, pr->name) != 0 || in->scale.base != pr->scale.base ||
        in->scale.quote != pr->scale.quote || in->scale.price != pr->scale.price)
        return XR_ERR_CONFIG;
    for (uint32_t i = 0; i < pr->n_venues; i++)
        if (pr->venues[i].venue == venue->venue)
            return XR_ERR_ALREADY_EXISTS;
    if (pr->n_venues == XR_PRICING_VENUES_MAX)
        return XR_ERR_NO_MEMORY;
    xr_i128 lot = in->lot_step.units;
    if (pr->n_venues == 0)
        pr->lot_min = lot;
    else if (lot == 0 || pr->lot_min == 0)
        pr->lot_min = 0;
    else if (lot < pr->lot_min)
        pr->lot_min = lot;
    lot_test_make(lot, &pr->lot_tests[pr->n_venues]);
    pr->venues[pr->n_venues++] = *venue;
    return XR_OK;
}

xr_err xr_pricing_set_fee(xr_pricing *p, uint32_t pair_id, uint16_t venue, uint16_t fee_bps)
{
    XR_ASSERT(p != NULL);
    if (pair_id >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    if (fee_bps > XR_PRICING_FEE_BPS_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    xr_pricing_pair *pr = &p->pairs[pair_id];
    for (uint32_t i = 0; i < pr->n_venues; i++) {
        if (pr->venues[i].venue == venue) {
            pr->venues[i].fee_bps = fee_bps;
            return XR_OK;
        }
    }
    return XR_ERR_NOT_FOUND;
}

/* ---- the consolidated book ---------------------------------------------------------------- */

/* Which venues of a pair may be priced now, their views, and the pair's verdict. */
typedef struct gate {
    uint32_t usable; /* bit i: venue i */
    xr_book_view bids[XR_PRICING_VENUES_MAX];
    xr_book_view asks[XR_PRICING_VENUES_MAX];
} gate;

static xr_err gate_open(const xr_pricing *p, const xr_pricing_pair *pr, uint64_t now_ns, gate *g,
                        xr_pricing_bbo *bbo)
{
    memset(bbo, 0, sizeof *bbo);
    g->usable = 0;
    for (uint32_t i = 0; i < pr->n_venues; i++) {
        const xr_pricing_venue *v = &pr->venues[i];
        if (v->inst->status != XR_INSTRUMENT_TRADING) {
            bbo->venues_unavailable++;
            continue;
        }
        xr_err err = xr_book_read_both(v->book, now_ns, &g->bids[i], &g->asks[i]);
        if (err == XR_ERR_STALE) {
            bbo->venues_stale++;
            continue;
        }
        if (err != XR_OK) {
            bbo->venues_unavailable++;
            continue;
        }
        g->usable |= 1u << i;
        bbo->venues_usable++;
        /* Best prices and the quantity quoted at them, summed over venues at that price. */
        if (g->bids[i].n > 0) {
            const xr_book_level *l = g->bids[i].best;
            if (bbo->bid.ticks == 0 || l->price.ticks > bbo->bid.ticks) {
                bbo->bid = l->price;
                bbo->bid_qty = l->qty;
                bbo->bid_venue = v->venue;
            } else if (l->price.ticks == bbo->bid.ticks &&
                       !add_ok(bbo->bid_qty.units, l->qty.units, &bbo->bid_qty.units)) {
                return XR_ERR_OVERFLOW;
            }
        }
        if (g->asks[i].n > 0) {
            const xr_book_level *l = g->asks[i].best;
            if (bbo->ask.ticks == 0 || l->price.ticks < bbo->ask.ticks) {
                bbo->ask = l->price;
                bbo->ask_qty = l->qty;
                bbo->ask_venue = v->venue;
            } else if (l->price.ticks == bbo->ask.ticks &&
                       !add_ok(bbo->ask_qty.units, l->qty.units, &bbo->ask_qty.units)) {
                return XR_ERR_OVERFLOW;
            }
        }
    }
    if (g->usable == 0)
        return bbo->venues_stale > 0 ? XR_ERR_STALE : XR_ERR_VENUE_UNAVAILABLE;
    if (bbo->bid.ticks > 0 && bbo->ask.ticks > 0 && bbo->bid.ticks >= bbo->ask.ticks) {
        bbo->cross_venue = true;
        /* A cross wider than any arbitrage that survives in practice is bad data (see the
         * header): halt rather than quote from it. */
        xr_i128 lhs, rhs;
        if (p->cfg.cross_halt_bps > 0) {
            if (!mul_ok(bbo->bid.ticks, BPS, &lhs) ||
                !mul_ok(bbo->ask.ticks, xr_pricing_bps_up(p->cfg.cross_halt_bps), &rhs))
                return XR_ERR_OVERFLOW;
            if (lhs > rhs)
                return XR_ERR_INVALID_STATE;
        }
    }
    return XR_OK;
}

xr_err xr_pricing_bbo_get(const xr_pricing *p, uint32_t pair_id, uint64_t now_ns,
                          xr_pricing_bbo *out)
{
    XR_ASSERT(p != NULL && out != NULL);
    if (pair_id >= p->n_pairs) {
        memset(out, 0, sizeof *out);
        return XR_ERR_UNKNOWN_PAIR;
    }
    gate g;
    return gate_open(p, &p->pairs[pair_id], now_ns, &g, out);
}

xr_err xr_pricing_depth(const xr_pricing *p, uint32_t pair_id, xr_side book_side, uint64_t now_ns,
                        xr_book_level *out, uint32_t max, uint32_t *n)
{
    XR_ASSERT(p != NULL && n != NULL && (out != NULL || max == 0));
    *n = 0;
    if (pair_id >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    if (book_side != XR_SIDE_BUY && book_side != XR_SIDE_SELL)
        return XR_ERR_INVALID_ARGUMENT;
    const xr_pricing_pair *pr = &p->pairs[pair_id];
    gate g;
    xr_pricing_bbo bbo;
    xr_err err = gate_open(p, pr, now_ns, &g, &bbo);
    if (err != XR_OK)
        return err;
    const xr_book_view *views = book_side == XR_SIDE_BUY ? g.bids : g.asks;
    uint32_t cur[XR_PRICING_VENUES_MAX] = {0};
    uint32_t count = 0;
    while (count < max) {
        /* The best head over the usable venues; equal prices merge into one level. */
        int best = -1;
        xr_i128 bp = 0;
        for (uint32_t i = 0; i < pr->n_venues; i++) {
            if (!(g.usable & (1u << i)) || cur[i] >= views[i].n)
                continue;
            xr_i128 px = xr_book_view_at(&views[i], cur[i])->price.ticks;
            if (best < 0 || (book_side == XR_SIDE_BUY ? px > bp : px < bp)) {
                best = (int)i;
                bp = px;
            }
        }
        if (best < 0)
            break;
        xr_book_level lvl = {{bp}, {0}};
        for (uint32_t i = 0; i < pr->n_venues; i++) {
            if (!(g.usable & (1u << i)) || cur[i] >= views[i].n)
                continue;
            const xr_book_level *l = xr_book_view_at(&views[i], cur[i]);
            if (l->price.ticks == bp) {
                if (!add_ok(lvl.qty.units, l->qty.units, &lvl.qty.units))
                    return XR_ERR_OVERFLOW;
                cur[i]++;
            }
        }
        out[count++] = lvl;
    }
    *n = count;
    return XR_OK;
}

/* ---- the walk ----------------------------------------------------------------------------- */

/* A venue's merge key when it has no level left to offer: above every real key (a buy key is
 * below 2^113 x 2^14, a sell key is the complement of a positive product). */
#define KEY_NONE (~(xr_u128)0)

/* Below this price every key price x (10^4 + fee) fits 64 bits, so a BASE walk compares 64-bit
 * keys (about 2^50 ticks: 10^15, far above any real price on any scale). A walk that meets a
 * higher price starts again with 128-bit keys; both merge the same levels in the same order. */
#define KEY64_NONE      UINT64_MAX
#define PRICE_KEY64_MAX ((xr_i128)(UINT64_MAX / (XR_PRICING_BPS_ONE + XR_PRICING_FEE_BPS_MAX)))

/* Divisibility by a venue's lot step without a division (Granlund and Montgomery, "Division by
 * invariant integers using multiplication", 1994, section 9; Hacker's Delight 10-17): with
 * lot = odd x 2^shift and inv the inverse of odd mod 2^64, a 64-bit q is a multiple of lot iff
 * rotr(q x inv, shift) <= floor((2^64 - 1) / lot). Book quantities are almost always whole
 * lots, so the walk's per-level floor to the lot costs a multiply instead of a 64-bit division
 * (tens of cycles), and divides only for a level that is not a multiple. */
static void lot_test_make(xr_i128 lot, xr_pricing_lot_test *t)
{
    memset(t, 0, sizeof *t);
    t->lot = lot;
    t->inv = 1;
    /* No step: every q passes. A step beyond 64 bits: only 0 passes, the rest divide. */
    t->max = lot <= 1 ? UINT64_MAX : 0;
    if (lot <= 1 || lot > (xr_i128)UINT64_MAX)
        return;
    uint64_t d = (uint64_t)lot;
    unsigned shift = (unsigned)__builtin_ctzll(d);
    uint64_t odd = d >> shift;
    uint64_t inv = odd; /* odd x odd = 1 mod 8: right to 3 bits; each Newton step doubles */
    for (int i = 0; i < 5; i++)
        inv *= 2u - odd * inv;
    XR_ASSERT(odd * inv == 1u);
    t->inv = inv;
    t->max = UINT64_MAX / d;
    t->shift = shift;
}

/* One venue during a walk. The merge keys live apart, in walk_ctx.key, so the per-level scan
 * over the venues reads one small array. */
typedef struct vwalk {
    const xr_book_level *head; /* the level the venue offers next */
    uint32_t left;             /* levels of the view after head */
    uint64_t factor;           /* 10^4 + fee (buy) or 10^4 - fee (sell) */
    bool caps;                 /* the venue has a qty_max or a notional_max */
    xr_pricing_lot_test lot;
    xr_i128 qty_cap, notional_cap;
    uint32_t fee_bps;
    /* The leg so far. */
    xr_i128 qty, raw, limit;
    uint32_t levels;
    xr_i128 amt; /* quote modes: the leg's executable amount (cost or proceeds) */
} vwalk;

typedef struct walk_ctx {
    const xr_pricing_pair *pr;
    bool buy;
    xr_pricing_size_kind kind;
    xr_i128 amount;
    uint32_t nv;
    bool widen; /* a narrow pass met a price beyond 64-bit keys: walk again with 128 */
    /* Each venue's head level net of fee, as a key where lower is better: price x factor for
     * a buy, its complement for a sell; KEY_NONE when the venue offers no more. key64 holds
     * the same in 64 bits in a narrow pass (every price met below PRICE_KEY64_MAX). */
    xr_u128 key[XR_PRICING_VENUES_MAX];
    uint64_t key64[XR_PRICING_VENUES_MAX];
    vwalk v[XR_PRICING_VENUES_MAX];
    xr_i128 remaining; /* BASE: base still to fill */
    xr_i128 total;     /* QUOTE: executable amount so far */
    bool bound;        /* QUOTE buy: stopped by the budget */
} walk_ctx;

/* q floored to the venue's lot, as floor_step(q, lot) (a negative q, which books never hold,
 * goes to floor_step). */
static inline xr_i128 lot_floor(const xr_pricing_lot_test *t, xr_i128 q)
{
    if ((xr_u128)q <= UINT64_MAX) {
        uint64_t x = (uint64_t)q * t->inv;
        x = t->shift == 0 ? x : (x >> t->shift | x << (64u - t->shift));
        if (x <= t->max)
            return q;
    }
    return floor_step(q, t->lot);
}

static xr_round notional_round(bool buy)
{
    return buy ? XR_ROUND_UP : XR_ROUND_DOWN;
}

/* The leg's quote notional for an exact raw sum, rounded against the customer. */
static xr_err leg_notional(const xr_pricing_pair *pr, bool buy, xr_i128 raw, xr_i128 *out)
{
    if (pr->num == 1)
        return xr_i128_div(raw, pr->den, notional_round(buy), out);
    return xr_i128_muldiv(raw, pr->num, pr->den, notional_round(buy), out);
}

/* ceil(notional x fee_bps / 10^4). A notional that keeps the product in 64 bits (below about
 * 1.8 x 10^16 quote units) divides by the constant 10^4, which the compiler turns into a
 * multiply; the general muldiv runs beyond (the QUOTE walk calls this at every level). */
static xr_err leg_fee(xr_i128 notional, uint32_t fee_bps, xr_i128 *out)
{
    XR_ASSERT(fee_bps <= XR_PRICING_FEE_BPS_MAX);
    if (XR_LIKELY(notional >= 0 && notional <= (xr_i128)((UINT64_MAX - (XR_PRICING_BPS_ONE - 1u)) /
                                                         XR_PRICING_FEE_BPS_MAX))) {
        uint64_t f = (uint64_t)notional * fee_bps + (XR_PRICING_BPS_ONE - 1u);
        *out = (xr_i128)(f / XR_PRICING_BPS_ONE);
        return XR_OK;
    }
    return xr_i128_muldiv(notional, (xr_i128)fee_bps, BPS, XR_ROUND_UP, out);
}

/* The leg's executable amount: notional + fee (buy) or notional - fee (sell). */
static xr_err leg_amount(const walk_ctx *w, const vwalk *v, xr_i128 *out)
{
    xr_i128 n, f;
    xr_err err = leg_notional(w->pr, w->buy, v->raw, &n);
    if (err == XR_OK)
        err = leg_fee(n, v->fee_bps, &f);
    if (err != XR_OK)
        return err;
    *out = w->buy ? n + f : n - f;
    return XR_OK;
}

/* Marks venue i as offering no more. */
static inline void head_none(walk_ctx *w, uint32_t i, bool narrow)
{
    if (narrow)
        w->key64[i] = KEY64_NONE;
    else
        w->key[i] = KEY_NONE;
}

/* Loads venue i's merge key from its head level. */
static inline xr_err head_load(walk_ctx *w, uint32_t i, bool narrow)
{
    const vwalk *v = &w->v[i];
    xr_i128 px = v->head->price.ticks;
    if (narrow && XR_LIKELY((xr_u128)px - 1u < (xr_u128)PRICE_KEY64_MAX - 1u)) {
        uint64_t eff = (uint64_t)px * v->factor;
        w->key64[i] = w->buy ? eff : ~eff;
        return XR_OK;
    }
    /* The book refuses non-positive prices; huge ones are refused here (one unsigned compare
     * covers both ends). */
    if ((xr_u128)px - 1u >= (xr_u128)PRICE_MERGE_MAX - 1u)
        return XR_ERR_OVERFLOW;
    if (narrow) {
        w->widen = true;
        return XR_ERR_OVERFLOW;
    }
    xr_u128 eff = (xr_u128)px * v->factor;
    w->key[i] = w->buy ? eff : ~eff;
    return XR_OK;
}

/* Moves venue i to its next level. */
static inline xr_err head_next(walk_ctx *w, uint32_t i, bool narrow)
{
    vwalk *v = &w->v[i];
    if (v->left == 0) {
        head_none(w, i, narrow);
        return XR_OK;
    }
    v->left--;
    v->head--; /* levels are stored worst first: the next one is below */
    return head_load(w, i, narrow);
}

/* The venue with the best head (lowest key); ties keep the venue registered first, which
 * makes the walk deterministic. -1 when no venue has a level left. */
static inline int best_venue(const walk_ctx *w, bool narrow)
{
    int best = -1;
    if (narrow) {
        uint64_t bk = KEY64_NONE;
        for (uint32_t i = 0; i < w->nv; i++) {
            if (w->key64[i] < bk) {
                bk = w->key64[i];
                best = (int)i;
            }
        }
        return best;
    }
    xr_u128 bk = KEY_NONE;
    for (uint32_t i = 0; i < w->nv; i++) {
        if (w->key[i] < bk) {
            bk = w->key[i];
            best = (int)i;
        }
    }
    return best;
}

/* v->raw += q x px, checked (q >= 0, px > 0). Both are below 2^126 in every realistic walk,
 * where the sum cannot overflow; the generic checks run only beyond. `narrow`: px is known to
 * be below PRICE_KEY64_MAX, so only q's range decides the 64 x 64-bit product. */
static inline bool raw_add(vwalk *v, xr_i128 q, xr_i128 px, bool narrow)
{
    xr_i128 qp;
    if (narrow && XR_LIKELY((xr_u128)q >> 63 == 0))
        qp = (xr_i128)((xr_u128)(uint64_t)q * (uint64_t)px);
    else if (!mul_fast(q, px, &qp))
        return false;
    if (XR_LIKELY(((xr_u128)v->raw | (xr_u128)qp) >> 126 == 0)) {
        v->raw += qp;
        return true;
    }
    return add_ok(v->raw, qp, &v->raw);
}

/* Caps `*q`, the base wanted at price px (the leg's new limit), by the venue's qty_max and
 * notional_max; `*capped` says whether a cap bit, after which the venue can give no more. The
 * notional cap is checked with plain products first, since it rarely binds. */
static xr_err venue_cap(const walk_ctx *w, const vwalk *v, xr_i128 px, xr_i128 *q, bool *capped)
{
    *capped = false;
    if (v->qty_cap > 0 && *q > v->qty_cap - v->qty) {
        *q = v->qty_cap - v->qty;
        *capped = true;
    }
    if (v->notional_cap > 0) {
        /* (qty + q) x px x num / den <= cap: the notional the venue checks at the limit. */
        xr_i128 a, b;
        if (mul_fast(v->qty + *q, px, &a) && mul_ok(a, w->pr->num, &a) &&
            mul_ok(v->notional_cap, w->pr->den, &b) && a <= b)
            return XR_OK;
        xr_i128 d, qmax;
        if (!mul_ok(px, w->pr->num, &d))
            return XR_ERR_OVERFLOW;
        xr_err err = xr_i128_muldiv(v->notional_cap, w->pr->den, d, XR_ROUND_DOWN, &qmax);
        if (err != XR_OK)
            return err;
        if (qmax - v->qty < *q) {
            *q = qmax - v->qty;
            *capped = true;
        }
    }
    if (*q < 0)
        *q = 0;
    return XR_OK;
}

/* QUOTE buy: the most base this level may add while the total cost stays within the budget. */
static xr_err budget_qty(const walk_ctx *w, const vwalk *v, xr_i128 px, xr_i128 *q)
{
    xr_i128 allowed = w->amount - (w->total - v->amt); /* what this leg may cost in all */
    xr_i128 nmax, a, b, room, d;
    /* n + ceil(n x fee / 10^4) <= allowed  <=>  n <= allowed x 10^4 / (10^4 + fee). */
    xr_err err = xr_i128_muldiv(allowed, BPS, (xr_i128)v->factor, XR_ROUND_DOWN, &nmax);
    if (err != XR_OK)
        return err;
    /* ceil(raw' x num / den) <= nmax  <=>  raw' x num <= nmax x den. */
    if (!mul_ok(nmax, w->pr->den, &a) || !mul_ok(v->raw, w->pr->num, &b) ||
        !mul_ok(px, w->pr->num, &d))
        return XR_ERR_OVERFLOW;
    room = a - b;
    if (room <= 0) {
        *q = 0;
        return XR_OK;
    }
    return xr_i128_div(room, d, XR_ROUND_DOWN, q);
}

/* QUOTE sell: the least base this level must add for the total proceeds to reach the target
 * (unrounded to the lot). */
static xr_err target_qty(const walk_ctx *w, const vwalk *v, xr_i128 px, xr_i128 *q)
{
    xr_i128 need = w->amount - (w->total - v->amt); /* what this leg must yield in all */
    xr_i128 nmin, a, b, d;
    /* floor(n x (10^4 - fee) / 10^4) >= need  <=>  n >= need x 10^4 / (10^4 - fee). */
    xr_err err = xr_i128_muldiv(need, BPS, (xr_i128)v->factor, XR_ROUND_UP, &nmin);
    if (err != XR_OK)
        return err;
    /* floor(raw' x num / den) >= nmin  <=>  raw' x num >= nmin x den. */
    if (!mul_ok(nmin, w->pr->den, &a) || !mul_ok(v->raw, w->pr->num, &b) ||
        !mul_ok(px, w->pr->num, &d))
        return XR_ERR_OVERFLOW;
    if (a - b <= 0) {
        *q = 0;
        return XR_OK;
    }
    return xr_i128_div(a - b, d, XR_ROUND_UP, q);
}

/* A BASE walk: the hot path (a size in base is what the bank asks for most). Each level taken
 * whole costs the scan for the best head, a divisibility test for the lot, one product and one
 * key load; nothing divides unless a level is not a whole number of lots or a cap binds.
 * `narrow` is a constant at each call, so each gets its own copy of the loop. */
static inline __attribute__((always_inline)) xr_err walk_base(walk_ctx *w, bool narrow)
{
    for (;;) {
        int b = best_venue(w, narrow);
        if (b < 0)
            return XR_OK;
        vwalk *v = &w->v[b];
        const xr_book_level *lvl = v->head;
        xr_i128 px = lvl->price.ticks;
        xr_i128 q = lvl->qty.units;
        bool last = false; /* this venue can give no more after this level */
        if (v->caps) {
            xr_err err = venue_cap(w, v, px, &q, &last);
            if (err != XR_OK)
                return err;
        }
        if (q >= w->remaining) {
            q = w->remaining;
            last = true; /* what is left after flooring is below this venue's lot */
        }
        q = lot_floor(&v->lot, q);
        if (q > 0) {
            if (!raw_add(v, q, px, narrow))
                return XR_ERR_OVERFLOW;
            v->qty += q;
            v->limit = px;
            v->levels++;
            w->remaining -= q;
        }
        /* The size is filled only by a take that reached `remaining`, which set `last`. */
        if (last) {
            head_none(w, (uint32_t)b, narrow);
            if (w->remaining == 0)
                return XR_OK;
        } else {
            xr_err err = head_next(w, (uint32_t)b, narrow);
            if (err != XR_OK)
                return err;
        }
    }
}

/* A QUOTE walk: each level's quantity comes from the budget or target left. Its cost is in
 * the exact budget arithmetic (divisions) at every level, so it keeps 128-bit keys: 64-bit
 * ones measured no gain there. */
static xr_err walk_quote(walk_ctx *w)
{
    const bool narrow = false;
    while (w->buy || w->total < w->amount) {
        int b = best_venue(w, narrow);
        if (b < 0)
            break;
        vwalk *v = &w->v[b];
        const xr_book_level *lvl = v->head;
        xr_i128 px = lvl->price.ticks;
        xr_i128 q = lvl->qty.units;
        bool last = false;
        xr_err err = v->caps ? venue_cap(w, v, px, &q, &last) : XR_OK;
        if (err != XR_OK)
            return err;
        if (w->buy) {
            xr_i128 qb;
            err = budget_qty(w, v, px, &qb);
            if (err != XR_OK)
                return err;
            if (qb < q) {
                q = qb;
                last = true;
                w->bound = true;
            }
            q = lot_floor(&v->lot, q);
        } else {
            xr_i128 qn;
            err = target_qty(w, v, px, &qn);
            if (err != XR_OK)
                return err;
            bool ok = true;
            qn = ceil_step(qn, v->lot.lot, &ok);
            if (!ok)
                return XR_ERR_OVERFLOW;
            xr_i128 qf = lot_floor(&v->lot, q);
            q = qn <= qf ? qn : qf;
        }
        if (q > 0) {
            if (!raw_add(v, q, px, narrow))
                return XR_ERR_OVERFLOW;
            v->qty += q;
            v->limit = px;
            v->levels++;
            xr_i128 amt;
            err = leg_amount(w, v, &amt);
            if (err != XR_OK)
                return err;
            w->total += amt - v->amt;
            v->amt = amt;
            XR_ASSERT(!w->buy || w->total <= w->amount);
        }
        if (last) {
            head_none(w, (uint32_t)b, narrow);
        } else {
            err = head_next(w, (uint32_t)b, narrow);
            if (err != XR_OK)
                return err;
        }
    }
    return XR_OK;
}

/* One pass over the venues not in `excluded`, with 64-bit keys when `narrow`. */
static xr_err walk_pass_keys(walk_ctx *w, const gate *g, uint32_t excluded, bool narrow)
{
    const xr_pricing_pair *pr = w->pr;
    w->nv = pr->n_venues;
    w->remaining = w->kind == XR_PRICING_BASE ? w->amount : 0;
    w->total = 0;
    w->bound = false;
    for (uint32_t i = 0; i < w->nv; i++) {
        vwalk *v = &w->v[i];
        const xr_pricing_venue *pv = &pr->venues[i];
        const xr_book_view *view = w->buy ? &g->asks[i] : &g->bids[i];
        memset(v, 0, sizeof *v);
        head_none(w, i, narrow);
        if ((g->usable & ~excluded & (1u << i)) == 0 || view->n == 0)
            continue;
        v->head = view->best;
        v->left = view->n - 1u;
        v->fee_bps = pv->fee_bps;
        v->factor = w->buy ? XR_PRICING_BPS_ONE + pv->fee_bps : XR_PRICING_BPS_ONE - pv->fee_bps;
        /* PRICE_KEY64_MAX relies on it (add_venue and set_fee refuse higher fees). */
        XR_ASSERT(pv->fee_bps <= XR_PRICING_FEE_BPS_MAX);
        /* The instrument may have changed its lot since the venue was added (a rules
         * refresh): the cached test is used only while it still describes the lot. */
        xr_i128 lot = pv->inst->lot_step.units;
        if (pr->lot_tests[i].lot == lot)
            v->lot = pr->lot_tests[i];
        else
            lot_test_make(lot, &v->lot);
        v->qty_cap = pv->inst->qty_max.units;
        v->notional_cap = pv->inst->notional_max.units;
        v->caps = v->qty_cap > 0 || v->notional_cap > 0;
        xr_err err = head_load(w, i, narrow);
        if (err != XR_OK)
            return err;
    }
    if (w->kind != XR_PRICING_BASE)
        return walk_quote(w);
    return narrow ? walk_base(w, true) : walk_base(w, false);
}

/* One pass over the venues not in `excluded`. A BASE walk tries 64-bit keys first and runs
 * again with 128-bit ones if a price needs them (a pass starts from nothing, so the retry is
 * the same walk). */
static xr_err walk_pass(walk_ctx *w, const gate *g, uint32_t excluded)
{
    w->widen = false;
    if (w->kind == XR_PRICING_BASE) {
        xr_err err = walk_pass_keys(w, g, excluded, true);
        if (!w->widen)
            return err;
    }
    return walk_pass_keys(w, g, excluded, false);
}

/* The limit price sent for a leg: its worst level, on the venue's tick away from the
 * customer (a buy limit rounds up, a sell limit down), so the order still reaches that level.
 * A sell level below one tick has no limit price on the venue: flooring gives 0, which
 * xr_instrument_check_order would take for a market order (price and notional rules skipped),
 * so it is refused with XR_ERR_INVALID_AMOUNT, the code of a limit below price_min, and the
 * walk drops the leg like one that breaks price_min. */
static xr_err leg_limit(const xr_instrument *in, bool buy, xr_i128 px, xr_i128 *out)
{
    xr_i128 t = in->tick.ticks;
    if (t <= 1) {
        *out = px;
        return XR_OK;
    }
    xr_i128 f = floor_step(px, t);
    if (!buy && f <= 0)
        return XR_ERR_INVALID_AMOUNT;
    if (f == px || !buy) {
        *out = f;
        return XR_OK;
    }
    return add_ok(f, t, out) ? XR_OK : XR_ERR_OVERFLOW;
}

xr_err xr_pricing_walk(const xr_pricing *p, uint32_t pair_id, xr_side side,
                       xr_pricing_size_kind kind, xr_amount amount, uint64_t now_ns,
                       xr_pricing_fill *out)
{
    XR_ASSERT(p != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    out->pair = pair_id;
    out->side = (uint8_t)side;
    if (pair_id >= p->n_pairs)
        return XR_ERR_UNKNOWN_PAIR;
    if ((side != XR_SIDE_BUY && side != XR_SIDE_SELL) ||
        (kind != XR_PRICING_BASE && kind != XR_PRICING_QUOTE))
        return XR_ERR_INVALID_ARGUMENT;
    const xr_pricing_pair *pr = &p->pairs[pair_id];
    if (amount.units <= 0 ||
        (kind == XR_PRICING_BASE && floor_step(amount.units, pr->lot_min) != amount.units))
        return XR_ERR_INVALID_AMOUNT;

    gate g;
    xr_pricing_bbo bbo;
    xr_err err = gate_open(p, pr, now_ns, &g, &bbo);
    if (err != XR_OK)
        return err;
    out->venues_usable = bbo.venues_usable;

    walk_ctx w;
    w.pr = pr;
    w.buy = side == XR_SIDE_BUY;
    w.kind = kind;
    w.amount = amount.units;

    /* Walk; drop the venues whose leg breaks their minimums and walk again without them. The
     * excluded set only grows, so this ends after at most n_venues + 1 passes. */
    uint32_t excluded = 0;
    xr_i128 limits[XR_PRICING_VENUES_MAX];
    for (;;) {
        err = walk_pass(&w, &g, excluded);
        if (err != XR_OK) {
            memset(out, 0, sizeof *out);
            return err;
        }
        uint32_t drop = 0;
        for (uint32_t i = 0; i < w.nv; i++) {
            const vwalk *v = &w.v[i];
            if (v->qty == 0)
                continue;
            const xr_instrument *in = pr->venues[i].inst;
            err = leg_limit(in, w.buy, v->limit, &limits[i]);
            if (err == XR_OK)
                err = xr_instrument_check_order(in, (xr_price){limits[i]}, (xr_amount){v->qty});
            if (err == XR_ERR_OVERFLOW) {
                memset(out, 0, sizeof *out);
                return err;
            }
            if (err != XR_OK)
                drop |= 1u << i;
        }
        if (drop == 0)
            break;
        excluded |= drop;
    }
    out->venues_dropped = (uint8_t)__builtin_popcount(excluded);

    /* The plan and its amounts, rounded per docs/ledger.md. */
    xr_i128 raw_total = 0;
    for (uint32_t i = 0; i < w.nv; i++) {
        const vwalk *v = &w.v[i];
        if (v->qty == 0)
            continue;
        xr_pricing_leg *leg = &out->legs[out->n_legs++];
        leg->venue = pr->venues[i].venue;
        leg->levels = (uint16_t)(v->levels > UINT16_MAX ? UINT16_MAX : v->levels);
        leg->qty.units = v->qty;
        leg->limit.ticks = limits[i];
        err = leg_notional(pr, w.buy, v->raw, &leg->notional.units);
        if (err == XR_OK)
            err = leg_fee(leg->notional.units, v->fee_bps, &leg->fee.units);
        if (err != XR_OK || !add_ok(out->base.units, v->qty, &out->base.units) ||
            !add_ok(out->notional.units, leg->notional.units, &out->notional.units) ||
            !add_ok(out->fees.units, leg->fee.units, &out->fees.units) ||
            !add_ok(raw_total, v->raw, &raw_total)) {
            memset(out, 0, sizeof *out);
            return err != XR_OK ? err : XR_ERR_OVERFLOW;
        }
        if (out->worst_price.ticks == 0 ||
            (w.buy ? v->limit > out->worst_price.ticks : v->limit < out->worst_price.ticks))
            out->worst_price.ticks = v->limit;
    }
    out->executable.units =
        w.buy ? out->notional.units + out->fees.units : out->notional.units - out->fees.units;
    if (out->base.units > 0) {
        err = xr_i128_div(raw_total, out->base.units, notional_round(w.buy), &out->avg_price.ticks);
        if (err == XR_OK)
            err = xr_price_of(out->base, out->executable, &pr->scale, notional_round(w.buy),
                              &out->avg_price_net);
        if (err != XR_OK) {
            memset(out, 0, sizeof *out);
            return err;
        }
    }

    bool complete;
    if (kind == XR_PRICING_BASE)
        complete = out->base.units == amount.units;
    else if (w.buy)
        complete = w.bound;
    else
        complete = out->executable.units >= amount.units;
    if (out->base.units == 0)
        return excluded != 0 || w.bound ? XR_ERR_BELOW_MIN_SIZE : XR_ERR_INSUFFICIENT_LIQUIDITY;
    return complete ? XR_OK : XR_ERR_INSUFFICIENT_LIQUIDITY;
}
