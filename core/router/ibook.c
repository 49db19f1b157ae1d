/*
 * Internal book: price-time priority matching of resting client orders. See ibook.h for the
 * rules and the contract.
 *
 * Structure (in the manner of exchange-core's order book and of most exchange engines):
 *   - orders live in a fixed pool; each resting order is linked into the FIFO of its price
 *     level (doubly linked, so a cancel or a move out of the middle of a queue is O(1));
 *   - levels live in a second pool. Each side orders its levels by a key that grows toward
 *     the best price (the price for bids, minus the price for asks), so both sides share one
 *     code path. The side's best level is always inside a window of W =
 *     XR_IBOOK_WINDOW_TICKS consecutive keys [base, base + W): slot key mod W holds the
 *     level of that key (or NULL), a bitmap marks the occupied slots and a summary word marks
 *     the non-zero bitmap words, so finding the best level, or the next one below a level,
 *     is two or three bit scans, and adding or removing a level is O(1) with no memory
 *     moved. This is where a deep, fast-moving book spends its time: the mix of
 *     exchange-core's benchmark re-queues most orders at a new price, creating and emptying
 *     levels all the time;
 *   - levels with keys below the window (far from the market) are kept, exact, in an array
 *     sorted ascending (best last); they are rarely touched, and a galloping search from the
 *     top finds one in O(log d) for d levels from the window;
 *   - the window re-centres, keeping the key that caused it at 3/4 of its width (room for
 *     better prices above, most of the book below): (a) up, when a key at or above base + W
 *     arrives (a new best price beyond the window): the levels that fall below the new base
 *     move to the top of the far array, in order, since they are all better than the levels
 *     already there; (b) down, when the window empties while far levels remain: the far
 *     levels that fit in the new window move into it from the top of the array. So the
 *     window is empty only when the whole side is, and the best level is always in it. The
 *     slots are a ring (slot = key mod W), so re-centring moves only the levels that leave
 *     or enter the window, never the slots of those that stay;
 *   - order id -> order is an open-addressing hash (linear probing, deletion by backward
 *     shift, so there are no tombstones and probe lengths never degrade under churn);
 *   - GTD orders are in a binary min-heap keyed by (expiry, arrival), each order knowing its
 *     heap position so a cancel or a fill removes it in O(log n).
 *
 * Why a window and not a slot per tick over the whole band: prices are 128-bit ticks of any
 * pair with no bound a bank can promise, so an array over every price cannot exist; a
 * window around the market is where almost every operation lands, and the far array keeps
 * every other price exact. (exchange-core uses an adaptive radix tree over the whole price
 * range instead; the window does the common case with no pointer chasing at all.)
 *
 * The level count never exceeds the order count (an empty level is removed at once), so a
 * level pool as large as the order pool can never run out, and a move (which frees its old
 * level before it may need a new one) never needs a slot.
 */
#include "core/router/ibook.h"

#include <string.h>

#include "core/base/assert.h"

#define NO_POS UINT32_MAX

/* The window: W ticks, W / 64 bitmap words, one summary word over them. */
#define WIN       ((uint32_t)XR_IBOOK_WINDOW_TICKS)
#define WIN_WORDS (WIN / 64)
_Static_assert((WIN & (WIN - 1)) == 0 && WIN >= 64, "the window is a power of two of words");
_Static_assert(WIN_WORDS <= 64, "one summary word covers the bitmap");

typedef struct xr_ibook_lvl ib_level;
typedef struct xr_ibook_ord ib_order;

struct xr_ibook_ord {
    xr_i128 price;         /* ticks */
    xr_i128 remaining;     /* base units, > 0 while resting */
    uint64_t id;           /* non-zero */
    uint64_t seq;          /* arrival number: time priority */
    uint64_t expire_ns;    /* GTD: expiry; else 0 */
    ib_order *prev, *next; /* FIFO neighbours within the level */
    ib_level *level;       /* the level the order rests in; NULL while being moved */
    uint32_t heap_pos;     /* index in the expiry heap, NO_POS when not GTD */
    uint8_t side;          /* xr_ibook_side */
    uint8_t tif;           /* XR_IBOOK_GTC or XR_IBOOK_GTD */
};

struct xr_ibook_lvl {
    xr_i128 price;
    xr_i128 total; /* sum of the remaining quantities of the orders here */
    ib_order *head, *tail;
    uint32_t count; /* orders here, > 0 while the level is in its side's array */
    uint8_t side;
};

/* Id and order side by side: a lookup touches one cache line. */
struct xr_ibook_slot {
    uint64_t id; /* 0: empty */
    ib_order *order;
};

_Static_assert(XR_IBOOK_ORDERS_MAX <= XR_POOL_CAPACITY_MAX, "orders fit a pool");
_Static_assert(((uint64_t)XR_IBOOK_ORDERS_MAX * 2) <= (1ull << 31), "hash slots fit 32 bits");

/* ---- memory layout ----------------------------------------------------------------- */

typedef struct layout {
    size_t orders_off, orders_len;
    size_t levels_off, levels_len;
    size_t hash_off;
    size_t skeys_off[2], slevels_off[2], sslots_off[2], sbits_off[2];
    size_t heap_off;
    size_t total;
    uint32_t hash_slots;
} layout;

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static bool compute_layout(const xr_ibook_config *cfg, layout *l)
{
    if (cfg == NULL || cfg->orders_max == 0 || cfg->orders_max > XR_IBOOK_ORDERS_MAX)
        return false;
    size_t n = cfg->orders_max;
    /* At most half full: linear probing stays short (about 1.5 probes on a hit). */
    uint32_t slots = 16;
    while (slots < 2 * n)
        slots <<= 1;
    l->hash_slots = slots;
    l->orders_len = xr_pool_footprint(cfg->orders_max, sizeof(ib_order), _Alignof(ib_order));
    l->levels_len = xr_pool_footprint(cfg->orders_max, sizeof(ib_level), _Alignof(ib_level));
    XR_ASSERT(l->orders_len > 0 && l->levels_len > 0);
    size_t off = 0;
    l->orders_off = off;
    off = align_up(off + l->orders_len, 64);
    l->levels_off = off;
    off = align_up(off + l->levels_len, 64);
    l->hash_off = off;
    off = align_up(off + (size_t)slots * sizeof(struct xr_ibook_slot), 64);
    for (int s = 0; s < 2; s++) {
        l->skeys_off[s] = off;
        off = align_up(off + n * sizeof(xr_i128), 64);
        l->slevels_off[s] = off;
        off = align_up(off + n * sizeof(ib_level *), 64);
        l->sslots_off[s] = off;
        off = align_up(off + WIN * sizeof(ib_level *), 64);
        l->sbits_off[s] = off;
        off = align_up(off + WIN_WORDS * sizeof(uint64_t), 64);
    }
    l->heap_off = off;
    off = align_up(off + n * sizeof(ib_order *), 64);
    l->total = off;
    return true;
}

size_t xr_ibook_footprint(const xr_ibook_config *cfg)
{
    layout l;
    return compute_layout(cfg, &l) ? l.total : 0;
}

xr_err xr_ibook_init(xr_ibook *b, void *mem, size_t len, const xr_ibook_config *cfg)
{
    layout l;
    if (b == NULL || mem == NULL || !compute_layout(cfg, &l) || cfg->on_fill == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (len < l.total || ((uintptr_t)mem & 15u) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    unsigned char *base = mem;
    xr_ibook nb;
    memset(&nb, 0, sizeof nb);
    xr_err err = xr_pool_init(&nb.orders, base + l.orders_off, l.orders_len, cfg->orders_max,
                              sizeof(ib_order), _Alignof(ib_order));
    XR_ASSERT(err == XR_OK);
    err = xr_pool_init(&nb.levels, base + l.levels_off, l.levels_len, cfg->orders_max,
                       sizeof(ib_level), _Alignof(ib_level));
    XR_ASSERT(err == XR_OK);
    nb.hash = (struct xr_ibook_slot *)(void *)(base + l.hash_off);
    nb.hash_mask = l.hash_slots - 1;
    nb.hash_shift = (uint32_t)(64 - __builtin_ctz(l.hash_slots));
    for (int s = 0; s < 2; s++) {
        nb.side[s].keys = (xr_i128 *)(void *)(base + l.skeys_off[s]);
        nb.side[s].levels = (ib_level **)(void *)(base + l.slevels_off[s]);
        nb.side[s].count = 0;
        nb.side[s].slots = (ib_level **)(void *)(base + l.sslots_off[s]);
        nb.side[s].bits = (uint64_t *)(void *)(base + l.sbits_off[s]);
        nb.side[s].summary = 0;
        nb.side[s].best = NULL;
        nb.side[s].window_count = 0;
        nb.side[s].base = 0;
    }
    nb.heap = (ib_order **)(void *)(base + l.heap_off);
    nb.orders_max = cfg->orders_max;
    nb.on_fill = cfg->on_fill;
    nb.ctx = cfg->ctx;
    /* Fault every page in now rather than on the first orders. */
    memset(base + l.hash_off, 0, l.total - l.hash_off);
    *b = nb;
    return XR_OK;
}

/* ---- small helpers ------------------------------------------------------------------- */

/* Does a taker on `taker_side` with limit `limit` cross a maker level at `price`? */
static inline bool crosses(int taker_side, xr_i128 limit, xr_i128 price)
{
    return taker_side == XR_IBOOK_BUY ? price <= limit : price >= limit;
}

static inline xr_i128 min128(xr_i128 a, xr_i128 b)
{
    return a < b ? a : b;
}

/* ---- id hash ------------------------------------------------------------------------- */

static inline uint32_t hash_home(const xr_ibook *b, uint64_t id)
{
    /* Fibonacci hashing: the top bits of id x 2^64/phi spread sequential ids evenly. */
    return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> b->hash_shift);
}

/* Slot holding `id`, or the empty slot where it would go. */
static inline uint32_t hash_slot(const xr_ibook *b, uint64_t id)
{
    uint32_t i = hash_home(b, id);
    for (uint32_t probes = 0;; probes++) {
        XR_ASSERT(probes <= b->hash_mask); /* the table is never full */
        uint64_t k = b->hash[i].id;
        if (k == id || k == 0)
            return i;
        i = (i + 1) & b->hash_mask;
    }
}

static ib_order *hash_find(const xr_ibook *b, uint64_t id)
{
    uint32_t i = hash_slot(b, id);
    return b->hash[i].order; /* NULL in an empty slot */
}

static void hash_insert(xr_ibook *b, ib_order *o)
{
    uint32_t i = hash_slot(b, o->id);
    XR_ASSERT(b->hash[i].id == 0);
    b->hash[i].id = o->id;
    b->hash[i].order = o;
}

static void hash_remove(xr_ibook *b, uint64_t id)
{
    uint32_t i = hash_slot(b, id);
    XR_ASSERT(b->hash[i].id == id);
    /* Backward-shift deletion: pull later entries of the cluster into the hole when the hole
     * lies on their probe path (between their home slot and where they sit), so every key
     * stays reachable from its home without tombstones. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & b->hash_mask;
        uint64_t k = b->hash[j].id;
        if (k == 0)
            break;
        uint32_t home = hash_home(b, k);
        if (((j - home) & b->hash_mask) >= ((j - i) & b->hash_mask)) {
            b->hash[i] = b->hash[j];
            i = j;
        }
    }
    b->hash[i].id = 0;
    b->hash[i].order = NULL;
}

/* ---- expiry heap --------------------------------------------------------------------- */

static inline bool heap_less(const ib_order *a, const ib_order *c)
{
    return a->expire_ns < c->expire_ns || (a->expire_ns == c->expire_ns && a->seq < c->seq);
}

static inline void heap_set(xr_ibook *b, uint32_t pos, ib_order *o)
{
    b->heap[pos] = o;
    o->heap_pos = pos;
}

static void heap_up(xr_ibook *b, uint32_t pos)
{
    ib_order **h = b->heap;
    ib_order *o = h[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(o, h[parent]))
            break;
        heap_set(b, pos, h[parent]);
        pos = parent;
    }
    heap_set(b, pos, o);
}

static void heap_down(xr_ibook *b, uint32_t pos)
{
    ib_order **h = b->heap;
    ib_order *o = h[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= b->heap_count)
            break;
        if (child + 1 < b->heap_count && heap_less(h[child + 1], h[child]))
            child++;
        if (!heap_less(h[child], o))
            break;
        heap_set(b, pos, h[child]);
        pos = child;
    }
    heap_set(b, pos, o);
}

static void heap_push(xr_ibook *b, ib_order *o)
{
    XR_ASSERT(b->heap_count < b->orders_max);
    heap_set(b, b->heap_count++, o);
    heap_up(b, o->heap_pos);
}

static void heap_remove(xr_ibook *b, ib_order *o)
{
    uint32_t pos = o->heap_pos;
    XR_ASSERT(pos < b->heap_count && b->heap[pos] == o);
    o->heap_pos = NO_POS;
    uint32_t last = --b->heap_count;
    if (pos == last)
        return;
    ib_order *moved = b->heap[last];
    heap_set(b, pos, moved);
    heap_up(b, pos);
    heap_down(b, moved->heap_pos); /* no-op when it went up */
}

/* ---- levels: the far array --------------------------------------------------------- */

/* First index in side `s`'s far array whose key is >= key. The array is ascending with the
 * best price last, and the far levels nearest the window are the likeliest to change, so the
 * search gallops down from the top (1, 2, 4, ... levels below it) and then bisects only the
 * bracket it found: O(log d) for a key d levels from the top. */
static inline uint32_t far_lower_bound(const xr_ibook *b, int s, xr_i128 key)
{
    const xr_i128 *keys = b->side[s].keys;
    uint32_t n = b->side[s].count;
    if (n == 0 || keys[n - 1] < key)
        return n;
    /* Invariant: keys[hi] >= key. Find lo with keys[lo] < key (or lo = 0). */
    uint32_t hi = n - 1, step = 1, lo;
    for (;;) {
        if (hi < step) {
            lo = 0;
            if (keys[0] >= key)
                return 0;
            break;
        }
        lo = hi - step;
        if (keys[lo] < key)
            break;
        hi = lo;
        step <<= 1;
    }
    /* keys[lo] < key <= keys[hi]: bisect (lo, hi] without branches on the comparisons (a
     * conditional move per step), since their outcomes are random and a mispredicted branch
     * costs more than the whole step. */
    uint32_t len = hi - lo;
    while (len > 1) {
        uint32_t half = len / 2;
        lo = keys[lo + half] < key ? lo + half : lo;
        len -= half;
    }
    return lo + 1;
}

/* Inserts level `l` with `key` (absent from the far array) at its sorted place. */
static void far_insert(xr_ibook *b, int s, xr_i128 key, ib_level *l)
{
    xr_ibook_side_levels *sl = &b->side[s];
    XR_ASSERT(sl->count < b->orders_max);
    uint32_t pos = far_lower_bound(b, s, key);
    XR_ASSERT(pos == sl->count || sl->keys[pos] != key);
    uint32_t above = sl->count - pos;
    if (above > 0) {
        memmove(&sl->keys[pos + 1], &sl->keys[pos], above * sizeof sl->keys[0]);
        memmove(&sl->levels[pos + 1], &sl->levels[pos], above * sizeof sl->levels[0]);
    }
    sl->keys[pos] = key;
    sl->levels[pos] = l;
    sl->count++;
}

/* ---- levels: the window -------------------------------------------------------------- */

/* Sort key of a price on a side: grows toward the best price on both sides. */
static inline xr_i128 side_key(int side, xr_i128 price)
{
    return side == XR_IBOOK_BUY ? price : -price;
}

/* Ring slot of a key: its low bits (two's complement, so negative ask keys wrap too). */
static inline uint32_t win_slot(xr_i128 key)
{
    return (uint32_t)(xr_u128)key & (WIN - 1);
}

/* Is `key` inside side `sl`'s window? The difference is taken unsigned: exact whenever
 * key >= base, however far apart the two are. */
static inline bool win_contains(const xr_ibook_side_levels *sl, xr_i128 key)
{
    return key >= sl->base && (xr_u128)key - (xr_u128)sl->base < WIN;
}

/* The window base that puts `key` at 3/4 of the window, clamped so that every key of the
 * window is a valid i128. */
static xr_i128 win_base_for(xr_i128 key)
{
    const xr_i128 below = (xr_i128)(WIN - WIN / 4);
    if (key < XR_I128_MIN + below)
        return XR_I128_MIN;
    xr_i128 base = key - below;
    if (base > XR_I128_MAX - (xr_i128)(WIN - 1))
        base = XR_I128_MAX - (xr_i128)(WIN - 1);
    return base;
}

/* Highest occupied slot <= j, or -1. */
static inline int32_t win_highest_le(const xr_ibook_side_levels *sl, uint32_t j)
{
    uint32_t w = j / 64;
    uint64_t m = sl->bits[w] & (~0ull >> (63 - j % 64));
    if (m != 0)
        return (int32_t)(w * 64 + 63 - (uint32_t)__builtin_clzll(m));
    uint64_t sm = sl->summary & ((1ull << w) - 1); /* words below w */
    if (sm == 0)
        return -1;
    w = 63 - (uint32_t)__builtin_clzll(sm);
    return (int32_t)(w * 64 + 63 - (uint32_t)__builtin_clzll(sl->bits[w]));
}

/* Lowest occupied slot >= j, or -1. */
static inline int32_t win_lowest_ge(const xr_ibook_side_levels *sl, uint32_t j)
{
    uint32_t w = j / 64;
    uint64_t m = sl->bits[w] & (~0ull << (j % 64));
    if (m != 0)
        return (int32_t)(w * 64 + (uint32_t)__builtin_ctzll(m));
    uint64_t sm = w == 63 ? 0 : sl->summary & (~0ull << (w + 1)); /* words above w */
    if (sm == 0)
        return -1;
    w = (uint32_t)__builtin_ctzll(sm);
    return (int32_t)(w * 64 + (uint32_t)__builtin_ctzll(sl->bits[w]));
}

/* The window level with the highest key below `key`, or NULL. `key` is in the window or is
 * base + W (then: the best level of the window). Walks the ring down from key - 1 to base,
 * wrapping from slot 0 to slot W - 1 when base's slot lies above. */
static inline ib_level *win_below(const xr_ibook_side_levels *sl, xr_i128 key)
{
    if (key == sl->base)
        return NULL;
    uint32_t from = win_slot(key - 1), lo = win_slot(sl->base);
    int32_t j = win_highest_le(sl, from);
    if (from >= lo) /* no wrap: the keys below are slots lo..from */
        return j >= (int32_t)lo ? sl->slots[j] : NULL;
    if (j >= 0) /* wrap: slots 0..from, then lo..W-1 */
        return sl->slots[j];
    j = win_highest_le(sl, WIN - 1);
    return j >= (int32_t)lo ? sl->slots[j] : NULL;
}

/* The best level of side `sl` found in the bitmap, or NULL when the side is empty (the
 * window holds the best level whenever the side has one). */
static ib_level *win_best(const xr_ibook_side_levels *sl)
{
    if (sl->summary == 0)
        return NULL;
    /* The highest key of the window is base + W - 1: its slot is just below base's. */
    uint32_t top = win_slot(sl->base) == 0 ? WIN - 1 : win_slot(sl->base) - 1;
    int32_t j = win_highest_le(sl, top);
    if (j < 0)
        j = win_highest_le(sl, WIN - 1);
    XR_ASSERT(j >= 0);
    return sl->slots[j];
}

/* The best level of side `sl`, or NULL when the side is empty. It is cached: every taker
 * looks at it first, and most of them (re-queued orders) do not cross. */
static inline ib_level *side_best(const xr_ibook_side_levels *sl)
{
    return sl->best;
}

static inline void win_put(xr_ibook_side_levels *sl, uint32_t j, ib_level *l)
{
    XR_ASSERT(sl->slots[j] == NULL);
    if (sl->best == NULL || side_key(l->side, l->price) > side_key(l->side, sl->best->price))
        sl->best = l;
    sl->slots[j] = l;
    sl->bits[j / 64] |= 1ull << (j % 64);
    sl->summary |= 1ull << (j / 64);
    sl->window_count++;
}

static inline void win_take(xr_ibook_side_levels *sl, uint32_t j)
{
    ib_level *l = sl->slots[j];
    XR_ASSERT(l != NULL && sl->window_count > 0);
    sl->slots[j] = NULL;
    uint64_t w = sl->bits[j / 64] & ~(1ull << (j % 64));
    sl->bits[j / 64] = w;
    if (w == 0)
        sl->summary &= ~(1ull << (j / 64));
    sl->window_count--;
    if (l == sl->best)
        sl->best = win_below(sl, side_key(l->side, l->price));
}

/* Re-centres side `s`'s window up for `key` >= base + W: the levels below the new base
 * leave, lowest first, for the top of the far array (they are all above its keys). */
static void win_recentre_up(xr_ibook *b, int s, xr_i128 key)
{
    xr_ibook_side_levels *sl = &b->side[s];
    xr_i128 nb = win_base_for(key);
    XR_ASSERT(nb > sl->base && key - nb < (xr_i128)WIN);
    uint32_t lo = win_slot(sl->base);
    while (sl->summary != 0) {
        int32_t j = win_lowest_ge(sl, lo);
        if (j < 0)
            j = win_lowest_ge(sl, 0);
        ib_level *l = sl->slots[j];
        xr_i128 k = side_key(s, l->price);
        if (k >= nb)
            break;
        win_take(sl, (uint32_t)j);
        XR_ASSERT(sl->count < b->orders_max);
        XR_ASSERT(sl->count == 0 || sl->keys[sl->count - 1] < k);
        sl->keys[sl->count] = k;
        sl->levels[sl->count] = l;
        sl->count++;
    }
    sl->base = nb;
}

/* Re-centres side `s`'s empty window down onto the best far level: the far levels that fit
 * in the new window move into it, from the top of the array. */
static void win_recentre_down(xr_ibook *b, int s)
{
    xr_ibook_side_levels *sl = &b->side[s];
    XR_ASSERT(sl->summary == 0 && sl->count > 0);
    xr_i128 nb = win_base_for(sl->keys[sl->count - 1]);
    sl->base = nb;
    while (sl->count > 0 && sl->keys[sl->count - 1] >= nb) {
        sl->count--;
        XR_ASSERT(win_contains(sl, sl->keys[sl->count]));
        win_put(sl, win_slot(sl->keys[sl->count]), sl->levels[sl->count]);
    }
}

/* The level of `price` on side `s`, created (empty) when missing. Never fails: there are
 * as many level slots as order slots and the caller holds an order that will rest in it. */
static ib_level *level_get_or_add(xr_ibook *b, int s, xr_i128 price)
{
    xr_ibook_side_levels *sl = &b->side[s];
    xr_i128 key = side_key(s, price);
    bool in_window = true;
    if (sl->summary == 0) {
        XR_ASSERT(sl->count == 0); /* the window is empty only when the side is */
        sl->base = win_base_for(key);
    } else if (key < sl->base) {
        in_window = false;
        uint32_t pos = far_lower_bound(b, s, key);
        if (pos < sl->count && sl->keys[pos] == key)
            return sl->levels[pos];
    } else if (!win_contains(sl, key)) {
        win_recentre_up(b, s, key);
    } else {
        ib_level *l = sl->slots[win_slot(key)];
        if (l != NULL)
            return l;
    }
    ib_level *l = xr_pool_get(&b->levels);
    XR_ASSERT(l != NULL);
    l->price = price;
    l->total = 0;
    l->head = l->tail = NULL;
    l->count = 0;
    l->side = (uint8_t)s;
    if (in_window)
        win_put(sl, win_slot(key), l);
    else
        far_insert(b, s, key, l);
    return l;
}

/* Removes the empty level `l` from its side and returns it to the pool. */
static void level_remove(xr_ibook *b, ib_level *l)
{
    XR_ASSERT(l->count == 0 && l->head == NULL && l->total == 0);
    int s = l->side;
    xr_ibook_side_levels *sl = &b->side[s];
    xr_i128 key = side_key(s, l->price);
    if (key >= sl->base) {
        uint32_t j = win_slot(key);
        XR_ASSERT(win_contains(sl, key) && sl->slots[j] == l);
        win_take(sl, j);
        if (sl->summary == 0 && sl->count > 0)
            win_recentre_down(b, s);
    } else {
        uint32_t pos = far_lower_bound(b, s, key);
        XR_ASSERT(pos < sl->count && sl->levels[pos] == l);
        uint32_t above = sl->count - pos - 1;
        memmove(&sl->keys[pos], &sl->keys[pos + 1], above * sizeof sl->keys[0]);
        memmove(&sl->levels[pos], &sl->levels[pos + 1], above * sizeof sl->levels[0]);
        sl->count--;
    }
    xr_pool_put(&b->levels, l);
}

/* Walks a side's levels best first: the window from its best level down, then the far
 * array from its top. */
typedef struct level_iter {
    const xr_ibook_side_levels *sl;
    const ib_level *l; /* the current level, NULL at the end */
    uint32_t far;      /* index of l in the far array, or NO_POS while in the window */
} level_iter;

static inline level_iter level_first(const xr_ibook *b, int s)
{
    const xr_ibook_side_levels *sl = &b->side[s];
    return (level_iter){sl, side_best(sl), NO_POS};
}

static inline void level_next(level_iter *it)
{
    const xr_ibook_side_levels *sl = it->sl;
    if (it->far == NO_POS) {
        it->l = win_below(sl, side_key(it->l->side, it->l->price));
        if (it->l != NULL || sl->count == 0)
            return;
        it->far = sl->count;
    }
    if (it->far == 0) {
        it->l = NULL;
        return;
    }
    it->far--;
    it->l = sl->levels[it->far];
}

/* Appends `o` (price, side, remaining set) at the back of its level's queue. */
static void order_link(xr_ibook *b, ib_order *o)
{
    ib_level *l = level_get_or_add(b, o->side, o->price);
    o->level = l;
    o->next = NULL;
    o->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = o;
    else
        l->head = o;
    l->tail = o;
    l->count++;
    l->total += o->remaining;
    o->seq = ++b->seq;
}

/* Takes `o` out of its level's queue, removing the level when it empties. */
static void order_unlink(xr_ibook *b, ib_order *o)
{
    ib_level *l = o->level;
    XR_ASSERT(l != NULL && l->count > 0);
    if (o->prev != NULL)
        o->prev->next = o->next;
    else
        l->head = o->next;
    if (o->next != NULL)
        o->next->prev = o->prev;
    else
        l->tail = o->prev;
    l->count--;
    l->total -= o->remaining;
    o->level = NULL;
    if (l->count == 0)
        level_remove(b, l);
}

/* Forgets an order that is not linked into a level: hash, heap, pool. */
static void order_free(xr_ibook *b, ib_order *o)
{
    XR_ASSERT(o->level == NULL);
    hash_remove(b, o->id);
    if (o->heap_pos != NO_POS)
        heap_remove(b, o);
    xr_pool_put(&b->orders, o);
}

/* ---- matching ------------------------------------------------------------------------ */

/* Quantity resting on the side opposite `taker_side` at prices `limit` crosses, counted up
 * to `need` (the sum stops as soon as it reaches it). */
static xr_i128 crossing_qty(const xr_ibook *b, int taker_side, xr_i128 limit, xr_i128 need)
{
    xr_i128 sum = 0;
    for (level_iter it = level_first(b, 1 - taker_side); it.l != NULL && sum < need;
         level_next(&it)) {
        if (!crosses(taker_side, limit, it.l->price))
            break;
        sum += it.l->total;
    }
    return sum;
}

/* Sweeps the opposite side for a taker; returns the quantity left. */
static xr_i128 match(xr_ibook *b, uint64_t taker_id, int taker_side, xr_i128 limit, xr_i128 qty,
                     uint32_t *nfills)
{
    const xr_ibook_side_levels *sl = &b->side[1 - taker_side];
    while (qty > 0) {
        ib_level *l = side_best(sl);
        if (l == NULL || !crosses(taker_side, limit, l->price))
            break;
        while (qty > 0 && l->head != NULL) {
            ib_order *m = l->head;
            xr_i128 t = min128(qty, m->remaining);
            XR_ASSERT(t > 0);
            qty -= t;
            m->remaining -= t;
            l->total -= t;
            xr_ibook_fill f = {
                .taker_id = taker_id,
                .maker_id = m->id,
                .taker_side = (xr_ibook_side)taker_side,
                .price = {l->price},
                .qty = {t},
                .taker_remaining = {qty},
                .maker_remaining = {m->remaining},
            };
            (*nfills)++;
            b->in_call = true;
            b->on_fill(b->ctx, &f);
            b->in_call = false;
            if (m->remaining == 0) {
                /* Unlinking the last order removes the level (and may re-centre the
                 * window), so the loop looks the best level up again rather than keeping
                 * `l`. */
                bool last = m->next == NULL;
                order_unlink(b, m);
                order_free(b, m);
                if (last)
                    break;
            }
        }
    }
    return qty;
}

static bool valid_price(xr_i128 p)
{
    return p >= 1; /* every positive i128 is in range */
}

static bool valid_qty(xr_i128 q)
{
    return q >= 1 && q <= XR_IBOOK_QTY_MAX;
}

xr_err xr_ibook_submit(xr_ibook *b, const xr_ibook_order *o, uint64_t now_ns, xr_ibook_result *res)
{
    XR_ASSERT(b != NULL && o != NULL && res != NULL);
    XR_ASSERT(!b->in_call);
    if (o->id == 0 || (unsigned)o->side > XR_IBOOK_SELL || (unsigned)o->tif > XR_IBOOK_FOK)
        return XR_ERR_INVALID_ARGUMENT;
    if (!valid_price(o->price.ticks) || !valid_qty(o->qty.units))
        return XR_ERR_INVALID_ARGUMENT;
    if (o->tif == XR_IBOOK_GTD && o->expire_ns <= now_ns)
        return XR_ERR_INVALID_ARGUMENT;
    if (hash_find(b, o->id) != NULL)
        return XR_ERR_ALREADY_EXISTS;

    int side = o->side;
    xr_i128 limit = o->price.ticks, qty = o->qty.units;
    bool rests = o->tif == XR_IBOOK_GTC || o->tif == XR_IBOOK_GTD;
    if (o->tif == XR_IBOOK_FOK && crossing_qty(b, side, limit, qty) < qty) {
        *res = (xr_ibook_result){XR_IBOOK_KILLED, {0}, {qty}, 0};
        return XR_OK;
    }
    /* The slot check comes before any fill so that a refusal changes nothing (see ibook.h). */
    if (rests && xr_pool_free_count(&b->orders) == 0 && crossing_qty(b, side, limit, qty) < qty)
        return XR_ERR_NO_MEMORY;

    uint32_t nfills = 0;
    xr_i128 left = match(b, o->id, side, limit, qty, &nfills);
    xr_ibook_result r = {XR_IBOOK_FILLED, {qty - left}, {left}, nfills};
    if (left == 0) {
        r.outcome = XR_IBOOK_FILLED;
    } else if (!rests) {
        XR_ASSERT(o->tif == XR_IBOOK_IOC); /* a FOK that got here filled completely */
        r.outcome = XR_IBOOK_CANCELLED;
    } else {
        ib_order *n = xr_pool_get(&b->orders);
        XR_ASSERT(n != NULL); /* checked above, and matching only frees slots */
        n->id = o->id;
        n->price = limit;
        n->remaining = left;
        n->side = (uint8_t)side;
        n->tif = (uint8_t)o->tif;
        n->expire_ns = o->tif == XR_IBOOK_GTD ? o->expire_ns : 0;
        n->heap_pos = NO_POS;
        order_link(b, n);
        hash_insert(b, n);
        if (o->tif == XR_IBOOK_GTD)
            heap_push(b, n);
        r.outcome = XR_IBOOK_RESTING;
    }
    *res = r;
    return XR_OK;
}

xr_err xr_ibook_cancel(xr_ibook *b, uint64_t id, xr_amount *cancelled)
{
    XR_ASSERT(b != NULL && !b->in_call);
    ib_order *o = id != 0 ? hash_find(b, id) : NULL;
    if (o == NULL)
        return XR_ERR_NOT_FOUND;
    xr_i128 rem = o->remaining;
    order_unlink(b, o);
    order_free(b, o);
    if (cancelled != NULL)
        cancelled->units = rem;
    return XR_OK;
}

xr_err xr_ibook_move(xr_ibook *b, uint64_t id, xr_price new_price, xr_amount new_qty,
                     xr_ibook_result *res)
{
    XR_ASSERT(b != NULL && res != NULL && !b->in_call);
    ib_order *o = id != 0 ? hash_find(b, id) : NULL;
    if (o == NULL)
        return XR_ERR_NOT_FOUND;
    if (!valid_price(new_price.ticks) || !valid_qty(new_qty.units))
        return XR_ERR_INVALID_ARGUMENT;
    xr_i128 price = new_price.ticks, qty = new_qty.units;
    if (price == o->price && qty <= o->remaining) {
        /* A reduction (or nothing): the orders behind lose nothing, so priority is kept. */
        xr_i128 cut = o->remaining - qty;
        o->remaining = qty;
        o->level->total -= cut;
        *res = (xr_ibook_result){cut > 0 ? XR_IBOOK_REDUCED : XR_IBOOK_UNCHANGED, {0}, {qty}, 0};
        return XR_OK;
    }
    /* Re-queue: out of the old level (its slot, hash entry and heap entry stay), trade as an
     * incoming order at the new price, then rest the remainder at the back. */
    order_unlink(b, o);
    uint32_t nfills = 0;
    xr_i128 left = match(b, o->id, o->side, price, qty, &nfills);
    xr_ibook_result r = {XR_IBOOK_FILLED, {qty - left}, {left}, nfills};
    if (left == 0) {
        order_free(b, o);
    } else {
        o->price = price;
        o->remaining = left;
        order_link(b, o);
        /* The arrival number is part of the heap key (ties of equal expiry). */
        if (o->heap_pos != NO_POS)
            heap_down(b, o->heap_pos);
        r.outcome = XR_IBOOK_RESTING;
    }
    *res = r;
    return XR_OK;
}

xr_err xr_ibook_expire_due(xr_ibook *b, uint64_t now_ns, uint64_t *ids, size_t cap, size_t *n)
{
    XR_ASSERT(b != NULL && n != NULL && !b->in_call);
    XR_ASSERT(ids != NULL || cap == 0);
    size_t w = 0;
    while (b->heap_count > 0) {
        ib_order *o = b->heap[0];
        if (o->expire_ns > now_ns)
            break;
        if (w == cap) {
            *n = w;
            return XR_ERR_AGAIN;
        }
        ids[w++] = o->id;
        order_unlink(b, o);
        order_free(b, o);
    }
    *n = w;
    return XR_OK;
}

xr_err xr_ibook_marketable(const xr_ibook *b, const xr_price *best_bid, const xr_price *best_ask,
                           uint64_t *ids, size_t cap, size_t *n)
{
    XR_ASSERT(b != NULL && n != NULL);
    XR_ASSERT(ids != NULL || cap == 0);
    size_t w = 0;
    for (int s = 0; s < 2; s++) {
        /* Our buys are reached by the market's asks, our sells by its bids. */
        const xr_price *mkt = s == XR_IBOOK_BUY ? best_ask : best_bid;
        if (mkt == NULL)
            continue;
        for (level_iter it = level_first(b, s); it.l != NULL; level_next(&it)) {
            const ib_level *l = it.l;
            /* A resting buy is reached when the ask is at or below it: the same test as an
             * incoming sell at the ask crossing it. */
            if (!crosses(1 - s, mkt->ticks, l->price))
                break;
            for (const ib_order *o = l->head; o != NULL; o = o->next) {
                if (w == cap) {
                    *n = w;
                    return XR_ERR_AGAIN;
                }
                ids[w++] = o->id;
            }
        }
    }
    *n = w;
    return XR_OK;
}

xr_err xr_ibook_get(const xr_ibook *b, uint64_t id, xr_ibook_info *out)
{
    XR_ASSERT(b != NULL && out != NULL);
    const ib_order *o = id != 0 ? hash_find(b, id) : NULL;
    if (o == NULL)
        return XR_ERR_NOT_FOUND;
    *out = (xr_ibook_info){o->id,      (xr_ibook_side)o->side, (xr_ibook_tif)o->tif,
                           {o->price}, {o->remaining},         o->expire_ns};
    return XR_OK;
}

xr_err xr_ibook_best(const xr_ibook *b, xr_ibook_side side, xr_price *price, xr_amount *qty)
{
    XR_ASSERT(b != NULL && price != NULL && (unsigned)side <= XR_IBOOK_SELL);
    const ib_level *l = side_best(&b->side[side]);
    if (l == NULL)
        return XR_ERR_NOT_FOUND;
    price->ticks = l->price;
    if (qty != NULL)
        qty->units = l->total;
    return XR_OK;
}

xr_err xr_ibook_depth(const xr_ibook *b, xr_ibook_side side, xr_ibook_level_info *out, size_t cap,
                      size_t *n)
{
    XR_ASSERT(b != NULL && n != NULL && (unsigned)side <= XR_IBOOK_SELL);
    XR_ASSERT(out != NULL || cap == 0);
    size_t w = 0;
    for (level_iter it = level_first(b, side); it.l != NULL; level_next(&it)) {
        if (w == cap) {
            *n = w;
            return XR_ERR_AGAIN;
        }
        const ib_level *l = it.l;
        out[w++] = (xr_ibook_level_info){{l->price}, {l->total}, l->count};
    }
    *n = w;
    return XR_OK;
}

uint32_t xr_ibook_count(const xr_ibook *b)
{
    XR_ASSERT(b != NULL);
    return b->orders_max - xr_pool_free_count(&b->orders);
}

/* ---- verify -------------------------------------------------------------------------- */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return XR_ERR_CORRUPT;                                                                 \
    } while (0)

xr_err xr_ibook_verify(const xr_ibook *b)
{
    XR_ASSERT(b != NULL);
    uint32_t orders_seen = 0, levels_seen = 0, gtd_seen = 0;
    for (int s = 0; s < 2; s++) {
        const xr_ibook_side_levels *sl = &b->side[s];
        CHECK(sl->count <= b->orders_max && sl->window_count <= WIN);
        /* The window: slots <-> bitmap <-> summary, each level at its key's slot. */
        uint32_t in_window = 0;
        for (uint32_t w = 0; w < WIN_WORDS; w++) {
            uint64_t bits = 0;
            for (uint32_t j = w * 64; j < w * 64 + 64; j++) {
                const ib_level *l = sl->slots[j];
                if (l == NULL)
                    continue;
                bits |= 1ull << (j % 64);
                in_window++;
                CHECK(l->side == s && l->price >= 1);
                CHECK(win_contains(sl, side_key(s, l->price)));
                CHECK(win_slot(side_key(s, l->price)) == j);
            }
            CHECK(sl->bits[w] == bits);
            CHECK(((sl->summary >> w) & 1) == (bits != 0));
        }
        CHECK(in_window == sl->window_count);
        CHECK(sl->best == win_best(sl));
        CHECK(sl->window_count > 0 || sl->count == 0); /* the window holds the best level */
        /* The far array: ascending, all below the window. */
        for (uint32_t i = 0; i < sl->count; i++) {
            CHECK(sl->levels[i] != NULL && sl->levels[i]->side == s);
            CHECK(sl->keys[i] == side_key(s, sl->levels[i]->price));
            CHECK(sl->keys[i] < sl->base);
            if (i > 0)
                CHECK(sl->keys[i - 1] < sl->keys[i]);
        }
        /* Every level, best first: strictly descending keys, FIFO and totals. */
        uint32_t levels_here = 0;
        xr_i128 last_key = 0;
        for (level_iter it = level_first(b, s); it.l != NULL; level_next(&it)) {
            const ib_level *l = it.l;
            CHECK(levels_here < sl->window_count + sl->count);
            CHECK(levels_here == 0 || side_key(s, l->price) < last_key);
            last_key = side_key(s, l->price);
            levels_here++;
            CHECK(l->count > 0 && l->head != NULL && l->tail != NULL);
            CHECK(l->head->prev == NULL && l->tail->next == NULL);
            xr_i128 total = 0;
            uint32_t count = 0;
            uint64_t last_seq = 0;
            for (const ib_order *o = l->head; o != NULL; o = o->next) {
                CHECK(count < b->orders_max);
                CHECK(o->level == l && o->side == s && o->price == l->price);
                CHECK(o->remaining >= 1 && o->remaining <= XR_IBOOK_QTY_MAX);
                CHECK(o->next == NULL || o->next->prev == o);
                CHECK(o->seq > last_seq && o->seq <= b->seq);
                last_seq = o->seq;
                CHECK(o->tif == XR_IBOOK_GTC || o->tif == XR_IBOOK_GTD);
                if (o->tif == XR_IBOOK_GTD) {
                    CHECK(o->heap_pos < b->heap_count && b->heap[o->heap_pos] == o);
                    gtd_seen++;
                } else {
                    CHECK(o->heap_pos == NO_POS && o->expire_ns == 0);
                }
                CHECK(hash_find(b, o->id) == o);
                total += o->remaining;
                count++;
                if (o->next == NULL)
                    CHECK(l->tail == o);
            }
            CHECK(count == l->count && total == l->total);
            orders_seen += count;
            levels_seen++;
        }
        CHECK(levels_here == sl->window_count + sl->count);
    }
    CHECK(orders_seen == xr_ibook_count(b));
    CHECK(levels_seen == b->levels.capacity - xr_pool_free_count(&b->levels));
    CHECK(gtd_seen == b->heap_count);
    for (uint32_t i = 1; i < b->heap_count; i++)
        CHECK(!heap_less(b->heap[i], b->heap[(i - 1) / 2]));
    uint32_t keys = 0;
    for (uint32_t i = 0; i <= b->hash_mask; i++) {
        if (b->hash[i].id == 0) {
            CHECK(b->hash[i].order == NULL);
            continue;
        }
        keys++;
        CHECK(b->hash[i].order != NULL && b->hash[i].order->id == b->hash[i].id);
        /* Every key is reachable from its home slot: no empty slot on its probe path. */
        for (uint32_t j = hash_home(b, b->hash[i].id); j != i; j = (j + 1) & b->hash_mask)
            CHECK(b->hash[j].id != 0);
    }
    CHECK(keys == orders_seen);
    return XR_OK;
}

/* ---- names --------------------------------------------------------------------------- */

const char *xr_ibook_side_name(xr_ibook_side side)
{
    switch (side) {
    case XR_IBOOK_BUY:
        return "BUY";
    case XR_IBOOK_SELL:
        return "SELL";
    }
    return "UNKNOWN";
}

const char *xr_ibook_tif_name(xr_ibook_tif tif)
{
    switch (tif) {
    case XR_IBOOK_GTC:
        return "GTC";
    case XR_IBOOK_GTD:
        return "GTD";
    case XR_IBOOK_IOC:
        return "IOC";
    case XR_IBOOK_FOK:
        return "FOK";
    }
    return "UNKNOWN";
}

const char *xr_ibook_outcome_name(xr_ibook_outcome outcome)
{
    switch (outcome) {
    case XR_IBOOK_FILLED:
        return "FILLED";
    case XR_IBOOK_RESTING:
        return "RESTING";
    case XR_IBOOK_CANCELLED:
        return "CANCELLED";
    case XR_IBOOK_KILLED:
        return "KILLED";
    case XR_IBOOK_UNCHANGED:
        return "UNCHANGED";
    case XR_IBOOK_REDUCED:
        return "REDUCED";
    }
    return "UNKNOWN";
}
