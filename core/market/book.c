/*
 * The L2 book. Both sides use one code path by comparing keys instead of prices: a bid's key
 * is its price and an ask's key is its negated price (prices are positive, so negation is
 * exact), which makes "better" mean "larger key" on both sides and lets each side be an
 * ascending array with the best level last. Updates cluster near the top of the book, where
 * an insert or removal moves only the few levels above it.
 */
#include "core/market/book.h"

#include <string.h>

#include "core/base/assert.h"

typedef enum side_id { SIDE_BID = 0, SIDE_ASK = 1 } side_id;

static inline xr_i128 key_of(side_id s, xr_price p)
{
    return s == SIDE_BID ? p.ticks : -p.ticks;
}

static inline xr_book_side *side_of(xr_book *b, side_id s)
{
    return s == SIDE_BID ? &b->bids : &b->asks;
}

/* Levels dropped at once when a full side needs room, so a book that stays full pays one
 * memmove per batch rather than one per insert. */
static uint32_t drop_batch(uint32_t depth_max)
{
    uint32_t k = depth_max / 16;
    return k == 0 ? 1 : k;
}

size_t xr_book_footprint(const xr_book_config *cfg)
{
    if (cfg == NULL || cfg->depth_max == 0 || cfg->depth_max > XR_BOOK_DEPTH_MAX)
        return 0;
    return 2 * (size_t)cfg->depth_max * sizeof(xr_book_level);
}

xr_err xr_book_init(xr_book *b, void *mem, size_t len, const xr_book_config *cfg)
{
    size_t need = xr_book_footprint(cfg);
    if (b == NULL || mem == NULL || need == 0 || len < need || ((uintptr_t)mem & 15) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    memset(b, 0, sizeof *b);
    b->bids.levels = mem;
    b->asks.levels = (xr_book_level *)mem + cfg->depth_max;
    b->depth_max = cfg->depth_max;
    b->stale_after_ns = cfg->stale_after_ns;
    xr_book_reset(b);
    return XR_OK;
}

static void side_clear(xr_book_side *sd)
{
    sd->n = 0;
    sd->truncated = false;
    sd->snap_monotone = true;
    sd->snap_overflow = false;
    sd->horizon_key = 0;
    sd->snap_prev_key = 0;
}

void xr_book_reset(xr_book *b)
{
    XR_ASSERT(b != NULL);
    side_clear(&b->bids);
    side_clear(&b->asks);
    b->state = XR_BOOK_UNSYNCED;
    b->crossed = false;
    b->part_open = false;
    b->part_ignore = false;
    b->update_id = 0;
    b->part_first_id = 0;
    b->part_last_id = 0;
}

static void set_outcome(xr_book_outcome *out, xr_book_outcome v)
{
    if (out != NULL)
        *out = v;
}

/* The book can no longer be trusted: drop it and wait for a snapshot. */
static xr_err fail_unsync(xr_book *b, xr_book_outcome *outcome, xr_book_outcome why, xr_err err)
{
    xr_book_reset(b);
    set_outcome(outcome, why);
    return err;
}

static bool compute_crossed(const xr_book *b)
{
    if (b->bids.n == 0 || b->asks.n == 0)
        return false;
    return b->bids.levels[b->bids.n - 1].price.ticks >= b->asks.levels[b->asks.n - 1].price.ticks;
}

/* Levels from the top searched without branches (see lower_bound). */
#define TOP_WINDOW 32u

/* Index of the first level whose key is >= `key` (n when none). Updates cluster near the top
 * of the book, which is the end of the array: the top TOP_WINDOW levels are bisected without
 * branches, and a change below them gallops down from there (1, 2, 4, ... levels) before
 * bisecting, so a change k levels from the top costs about 2 log2(k) probes, all in the few
 * cache lines that every update touches, instead of a cold walk through the whole array. */
static inline uint32_t lower_bound(const xr_book_side *sd, side_id s, xr_i128 key)
{
    /* Most changes land within TOP_WINDOW levels of the top. There, a bisection by
     * conditional moves takes a fixed number of steps: on a live feed, where no two messages
     * are alike, each step of a branching search is a coin toss that the predictor loses
     * half the time (perf/venue, 16,384 distinct frames: full path p50 2.5-2.8 -> 1.8-2.1
     * µs). Only a benchmark that replays a few messages lets the predictor learn the
     * branches, and there the branching search was faster (docs/venues.md). */
    uint32_t n = sd->n;
    uint32_t base = n > TOP_WINDOW ? n - TOP_WINDOW : 0;
    if (n > 0 && key_of(s, sd->levels[base].price) < key) {
        uint32_t len = n - base;
        while (len > 1) {
            uint32_t half = len / 2;
            bool below = key_of(s, sd->levels[base + half].price) < key;
            base += below ? half : 0;
            len -= half;
        }
        return base + (key_of(s, sd->levels[base].price) < key);
    }
    uint32_t lo = 0, hi = base, step = 1;
    while (hi > 0) {
        uint32_t probe = hi > step ? hi - step : 0;
        if (key_of(s, sd->levels[probe].price) < key) {
            lo = probe + 1;
            break;
        }
        hi = probe; /* levels[probe..] are all >= key */
        step <<= 1;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_of(s, sd->levels[mid].price) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sets the quantity at `price` on one side; zero removes the level. Capacity is enforced
 * through the horizon (see book.h). */
static void side_set(xr_book *b, side_id s, xr_price price, xr_amount qty)
{
    xr_book_side *sd = side_of(b, s);
    xr_i128 key = key_of(s, price);
    uint32_t i = lower_bound(sd, s, key);
    if (i < sd->n && key_of(s, sd->levels[i].price) == key) {
        if (qty.units == 0) {
            memmove(&sd->levels[i], &sd->levels[i + 1],
                    (size_t)(sd->n - i - 1) * sizeof *sd->levels);
            sd->n--;
        } else {
            sd->levels[i].qty = qty;
        }
        return;
    }
    if (qty.units == 0)
        return; /* removing a level the book does not hold is normal (outside its depth) */
    if (sd->truncated && key <= sd->horizon_key) {
        b->stats.levels_dropped++;
        return;
    }
    if (sd->n == b->depth_max) {
        if (i == 0) {
            /* Worse than everything held: the price becomes the horizon. */
            sd->truncated = true;
            sd->horizon_key = key;
            b->stats.levels_dropped++;
            return;
        }
        uint32_t k = drop_batch(b->depth_max);
        if (k > i)
            k = i; /* never drop levels better than the new one */
        sd->truncated = true;
        sd->horizon_key = key_of(s, sd->levels[k - 1].price);
        memmove(&sd->levels[0], &sd->levels[k], (size_t)(sd->n - k) * sizeof *sd->levels);
        sd->n -= k;
        i -= k;
        b->stats.levels_dropped += k;
    }
    memmove(&sd->levels[i + 1], &sd->levels[i], (size_t)(sd->n - i) * sizeof *sd->levels);
    sd->levels[i].price = price;
    sd->levels[i].qty = qty;
    sd->n++;
}

static bool event_levels_valid(const xr_ev_book *ev, bool snapshot)
{
    if ((unsigned)ev->n_bids + ev->n_asks > XR_EV_BOOK_LEVELS_MAX)
        return false;
    for (unsigned i = 0; i < ev->n_bids; i++) {
        const xr_book_level *l = xr_ev_book_bid(ev, i);
        if (l->price.ticks <= 0 || l->qty.units < 0 || (snapshot && l->qty.units == 0))
            return false;
    }
    for (unsigned i = 0; i < ev->n_asks; i++) {
        const xr_book_level *l = xr_ev_book_ask(ev, i);
        if (l->price.ticks <= 0 || l->qty.units < 0 || (snapshot && l->qty.units == 0))
            return false;
    }
    return true;
}

xr_err xr_book_apply_delta(xr_book *b, const xr_ev_book *ev, uint64_t now_ns,
                           xr_book_outcome *outcome)
{
    XR_ASSERT(b != NULL && ev != NULL);
    if (b->state != XR_BOOK_SYNCED) {
        set_outcome(outcome, XR_BOOK_NOT_SYNCED);
        return XR_ERR_INVALID_STATE;
    }
    if (ev->first_id > ev->last_id || !event_levels_valid(ev, false)) {
        b->stats.invalid++;
        return fail_unsync(b, outcome, XR_BOOK_INVALID, XR_ERR_MALFORMED);
    }

    bool first = (ev->part & XR_EV_BOOK_PART_FIRST) != 0;
    bool last = (ev->part & XR_EV_BOOK_PART_LAST) != 0;
    if (first == b->part_open ||
        (!first && (ev->first_id != b->part_first_id || ev->last_id != b->part_last_id))) {
        /* A new delta while one is open, or a continuation of nothing or of another delta:
         * parts were lost or reordered, so the book's content is unknown. */
        b->stats.invalid++;
        return fail_unsync(b, outcome, XR_BOOK_INVALID, XR_ERR_MALFORMED);
    }
    if (first) {
        if (ev->last_id <= b->update_id) {
            b->part_ignore = true;
        } else if (ev->first_id > b->update_id + 1) {
            b->stats.gaps++;
            return fail_unsync(b, outcome, XR_BOOK_GAP, XR_ERR_VENUE_UNAVAILABLE);
        } else {
            b->part_ignore = false;
        }
        b->part_open = !last;
        b->part_first_id = ev->first_id;
        b->part_last_id = ev->last_id;
    } else if (last) {
        b->part_open = false;
    }

    if (b->part_ignore) {
        if (last)
            b->stats.ignored++;
        set_outcome(outcome, XR_BOOK_IGNORED_OLD);
        return XR_OK;
    }

    for (unsigned i = 0; i < ev->n_bids; i++) {
        const xr_book_level *l = xr_ev_book_bid(ev, i);
        side_set(b, SIDE_BID, l->price, l->qty);
    }
    for (unsigned i = 0; i < ev->n_asks; i++) {
        const xr_book_level *l = xr_ev_book_ask(ev, i);
        side_set(b, SIDE_ASK, l->price, l->qty);
    }
    b->last_update_ns = now_ns;
    if (!last) {
        set_outcome(outcome, XR_BOOK_APPLIED);
        return XR_OK;
    }
    b->update_id = ev->last_id;
    b->stats.deltas++;
    b->crossed = compute_crossed(b);
    if (b->crossed) {
        b->stats.crossed++;
        set_outcome(outcome, XR_BOOK_CROSSED);
        return XR_OK;
    }
    set_outcome(outcome, XR_BOOK_APPLIED);
    return XR_OK;
}

/* Appends a snapshot level to a loading side, keeping at most depth_max. */
static void snap_append(xr_book *b, side_id s, const xr_book_level *l)
{
    xr_book_side *sd = side_of(b, s);
    xr_i128 key = key_of(s, l->price);
    bool have_prev = sd->n > 0 || sd->snap_overflow;
    if (have_prev && key >= sd->snap_prev_key)
        sd->snap_monotone = false;
    sd->snap_prev_key = key;
    if (sd->n < b->depth_max) {
        sd->levels[sd->n++] = *l;
        return;
    }
    if (!sd->snap_overflow) {
        /* Best first so far, so this is the best of the levels that do not fit. */
        sd->snap_overflow = true;
        sd->horizon_key = key;
    }
    b->stats.levels_dropped++;
}

static void level_swap(xr_book_level *a, xr_book_level *c)
{
    xr_book_level t = *a;
    *a = *c;
    *c = t;
}

static void sift_down(xr_book_level *v, side_id s, uint32_t root, uint32_t n)
{
    for (;;) {
        uint32_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && key_of(s, v[child].price) < key_of(s, v[child + 1].price))
            child++;
        if (key_of(s, v[root].price) >= key_of(s, v[child].price))
            return;
        level_swap(&v[root], &v[child]);
        root = child;
    }
}

/* In-place heap sort by ascending key: no allocation (glibc's qsort may allocate). */
static void heap_sort(xr_book_level *v, side_id s, uint32_t n)
{
    if (n < 2)
        return;
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(v, s, i, n);
    for (uint32_t end = n - 1; end > 0; end--) {
        level_swap(&v[0], &v[end]);
        sift_down(v, s, 0, end);
    }
}

/* Puts a loaded side in book order. False when the snapshot cannot be used. */
static bool snap_finish_side(xr_book *b, side_id s, xr_err *err)
{
    xr_book_side *sd = side_of(b, s);
    if (sd->snap_overflow && !sd->snap_monotone) {
        /* Which levels are the best depth_max is unknowable once some were dropped. */
        *err = XR_ERR_NO_MEMORY;
        return false;
    }
    if (sd->snap_monotone) {
        for (uint32_t i = 0, j = sd->n; i + 1 < j; i++, j--)
            level_swap(&sd->levels[i], &sd->levels[j - 1]);
    } else {
        heap_sort(sd->levels, s, sd->n);
    }
    for (uint32_t i = 1; i < sd->n; i++) {
        if (key_of(s, sd->levels[i - 1].price) >= key_of(s, sd->levels[i].price)) {
            *err = XR_ERR_MALFORMED; /* the same price twice */
            return false;
        }
    }
    sd->truncated = sd->snap_overflow;
    sd->snap_overflow = false;
    sd->snap_monotone = true;
    return true;
}

xr_err xr_book_apply_snapshot(xr_book *b, const xr_ev_book *ev, uint64_t now_ns,
                              xr_book_outcome *outcome)
{
    XR_ASSERT(b != NULL && ev != NULL);
    bool first = (ev->part & XR_EV_BOOK_PART_FIRST) != 0;
    bool last = (ev->part & XR_EV_BOOK_PART_LAST) != 0;
    if (first) {
        xr_book_reset(b);
        b->state = XR_BOOK_LOADING;
        b->part_first_id = ev->first_id;
        b->part_last_id = ev->last_id;
    } else if (b->state != XR_BOOK_LOADING || ev->first_id != b->part_first_id ||
               ev->last_id != b->part_last_id) {
        b->stats.invalid++;
        return fail_unsync(b, outcome, XR_BOOK_INVALID, XR_ERR_MALFORMED);
    }
    if (ev->first_id > ev->last_id || !event_levels_valid(ev, true)) {
        b->stats.invalid++;
        return fail_unsync(b, outcome, XR_BOOK_INVALID, XR_ERR_MALFORMED);
    }
    for (unsigned i = 0; i < ev->n_bids; i++)
        snap_append(b, SIDE_BID, xr_ev_book_bid(ev, i));
    for (unsigned i = 0; i < ev->n_asks; i++)
        snap_append(b, SIDE_ASK, xr_ev_book_ask(ev, i));
    if (!last) {
        set_outcome(outcome, XR_BOOK_LOADING_PART);
        return XR_OK;
    }

    xr_err err = XR_OK;
    if (!snap_finish_side(b, SIDE_BID, &err) || !snap_finish_side(b, SIDE_ASK, &err)) {
        b->stats.invalid++;
        return fail_unsync(b, outcome, XR_BOOK_INVALID, err);
    }
    b->state = XR_BOOK_SYNCED;
    b->update_id = ev->last_id;
    b->last_update_ns = now_ns;
    b->part_open = false;
    b->part_ignore = false;
    b->stats.snapshots++;
    b->crossed = compute_crossed(b);
    set_outcome(outcome, b->crossed ? XR_BOOK_CROSSED : XR_BOOK_APPLIED);
    return XR_OK;
}

void xr_book_touch(xr_book *b, uint64_t now_ns)
{
    XR_ASSERT(b != NULL);
    if (now_ns > b->last_update_ns)
        b->last_update_ns = now_ns;
}

xr_book_state xr_book_get_state(const xr_book *b)
{
    XR_ASSERT(b != NULL);
    return (xr_book_state)b->state;
}

uint64_t xr_book_update_id(const xr_book *b)
{
    XR_ASSERT(b != NULL);
    return b->update_id;
}

bool xr_book_is_crossed(const xr_book *b)
{
    XR_ASSERT(b != NULL);
    return b->crossed;
}

const xr_book_stats *xr_book_get_stats(const xr_book *b)
{
    XR_ASSERT(b != NULL);
    return &b->stats;
}

xr_err xr_book_check(const xr_book *b, uint64_t now_ns)
{
    XR_ASSERT(b != NULL);
    if (b->state != XR_BOOK_SYNCED || b->crossed || b->part_open)
        return XR_ERR_VENUE_UNAVAILABLE;
    /* A caller clock behind the last update counts as fresh, never as wrapped-around old. */
    if (b->stale_after_ns != 0 && now_ns > b->last_update_ns &&
        now_ns - b->last_update_ns > b->stale_after_ns)
        return XR_ERR_STALE;
    return XR_OK;
}

xr_err xr_book_read(const xr_book *b, xr_side side, uint64_t now_ns, xr_book_view *out)
{
    XR_ASSERT(b != NULL && out != NULL);
    out->best = NULL;
    out->n = 0;
    if (side != XR_SIDE_BUY && side != XR_SIDE_SELL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_err err = xr_book_check(b, now_ns);
    if (err != XR_OK)
        return err;
    const xr_book_side *sd = side == XR_SIDE_BUY ? &b->bids : &b->asks;
    out->n = sd->n;
    out->best = sd->n > 0 ? &sd->levels[sd->n - 1] : NULL;
    return XR_OK;
}

xr_err xr_book_read_both(const xr_book *b, uint64_t now_ns, xr_book_view *bids, xr_book_view *asks)
{
    XR_ASSERT(b != NULL && bids != NULL && asks != NULL);
    xr_err err = xr_book_check(b, now_ns);
    if (err != XR_OK) {
        *bids = *asks = (xr_book_view){NULL, 0};
        return err;
    }
    bids->n = b->bids.n;
    bids->best = b->bids.n > 0 ? &b->bids.levels[b->bids.n - 1] : NULL;
    asks->n = b->asks.n;
    asks->best = b->asks.n > 0 ? &b->asks.levels[b->asks.n - 1] : NULL;
    return XR_OK;
}

xr_err xr_book_top(const xr_book *b, xr_side side, uint64_t now_ns, xr_book_level *out,
                   uint32_t max, uint32_t *n)
{
    XR_ASSERT(n != NULL && (out != NULL || max == 0));
    *n = 0;
    xr_book_view v;
    xr_err err = xr_book_read(b, side, now_ns, &v);
    if (err != XR_OK)
        return err;
    uint32_t count = v.n < max ? v.n : max;
    for (uint32_t i = 0; i < count; i++)
        out[i] = *xr_book_view_at(&v, i);
    *n = count;
    return XR_OK;
}

_Static_assert(sizeof(xr_book_level) == 2 * sizeof(xr_i128), "levels compare bytewise");

xr_err xr_book_levels_diff(xr_side side, const xr_book_level *old, uint32_t n_old,
                           const xr_book_level *cur, uint32_t n_cur, xr_book_level *out,
                           uint32_t max, uint32_t *n)
{
    XR_ASSERT(n != NULL && (old != NULL || n_old == 0) && (cur != NULL || n_cur == 0) &&
              (out != NULL || max == 0));
    *n = 0;
    if (side != XR_SIDE_BUY && side != XR_SIDE_SELL)
        return XR_ERR_INVALID_ARGUMENT;
    bool bids = side == XR_SIDE_BUY;
    /* One merge of the two best-first lists: removals fill `out` from the front, sets from
     * the back (in reverse order: their order does not matter, prices are distinct); the
     * sets are then moved behind the removals. */
    const xr_book_level *o = old, *oe = old + n_old, *c = cur, *ce = cur + n_cur;
    uint32_t rm = 0, set = 0;
    for (;;) {
        /* Unchanged runs (most of the window) first, without the general case's branches. */
        while (o < oe && c < ce && memcmp(o, c, sizeof *o) == 0) {
            o++;
            c++;
        }
        if (o == oe && c == ce)
            break;
        int cmp; /* < 0: *o comes first (absent from cur), > 0: *c first, 0: same price */
        if (o == oe)
            cmp = 1;
        else if (c == ce)
            cmp = -1;
        else if (o->price.ticks == c->price.ticks)
            cmp = 0;
        else
            cmp = (o->price.ticks > c->price.ticks) == bids ? -1 : 1;
        if (rm + set == max)
            return XR_ERR_NO_MEMORY;
        if (cmp < 0) {
            out[rm++] = (xr_book_level){o->price, {0}};
            o++;
        } else {
            out[max - 1 - set++] = *c++;
            if (cmp == 0)
                o++;
        }
    }
    if (set > 0)
        memmove(&out[rm], &out[max - set], (size_t)set * sizeof *out);
    *n = rm + set;
    return XR_OK;
}

static bool side_verify(const xr_book *b, side_id s)
{
    const xr_book_side *sd = s == SIDE_BID ? &b->bids : &b->asks;
    if (sd->n > b->depth_max)
        return false;
    for (uint32_t i = 0; i < sd->n; i++) {
        const xr_book_level *l = &sd->levels[i];
        if (l->price.ticks <= 0 || l->qty.units <= 0)
            return false;
        if (i > 0 && key_of(s, sd->levels[i - 1].price) >= key_of(s, l->price))
            return false;
        if (sd->truncated && key_of(s, l->price) <= sd->horizon_key)
            return false;
    }
    return true;
}

xr_err xr_book_verify(const xr_book *b)
{
    XR_ASSERT(b != NULL);
    if (b->state > XR_BOOK_SYNCED)
        return XR_ERR_CORRUPT;
    if (b->state == XR_BOOK_UNSYNCED && (b->bids.n != 0 || b->asks.n != 0))
        return XR_ERR_CORRUPT;
    if (b->state == XR_BOOK_LOADING)
        return XR_OK; /* sides are unsorted while parts arrive */
    if (!side_verify(b, SIDE_BID) || !side_verify(b, SIDE_ASK))
        return XR_ERR_CORRUPT;
    if (!b->part_open && b->crossed != compute_crossed(b))
        return XR_ERR_CORRUPT;
    return XR_OK;
}

const char *xr_book_state_name(xr_book_state state)
{
    switch (state) {
    case XR_BOOK_UNSYNCED:
        return "unsynced";
    case XR_BOOK_LOADING:
        return "loading";
    case XR_BOOK_SYNCED:
        return "synced";
    }
    return "unknown";
}

const char *xr_book_outcome_name(xr_book_outcome outcome)
{
    switch (outcome) {
    case XR_BOOK_APPLIED:
        return "applied";
    case XR_BOOK_IGNORED_OLD:
        return "ignored_old";
    case XR_BOOK_GAP:
        return "gap";
    case XR_BOOK_CROSSED:
        return "crossed";
    case XR_BOOK_NOT_SYNCED:
        return "not_synced";
    case XR_BOOK_INVALID:
        return "invalid";
    case XR_BOOK_LOADING_PART:
        return "loading_part";
    }
    return "unknown";
}
