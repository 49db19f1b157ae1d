/*
 * The instrument table: an array of instruments in the caller's memory plus two open
 * addressing hash indexes (venue symbol, canonical name) with linear probing. The indexes
 * are at most half full, so a lookup touches one or two slots; entries are never removed
 * individually, only the whole table is cleared, so no tombstones are needed.
 */
#include "core/market/instrument.h"

#include <string.h>

#include "core/base/assert.h"

_Static_assert(_Alignof(xr_instrument) == 16, "instruments hold 128-bit integers");
_Static_assert(XR_INSTRUMENTS_MAX <= (UINT32_MAX >> 2), "index slots hold id + 1");

static uint32_t hash_bytes(const char *s, size_t len)
{
    /* FNV-1a: names are short, and a good spread matters more than raw speed here. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_size_for(uint32_t capacity)
{
    uint32_t n = 16;
    while (n < 2 * capacity)
        n <<= 1;
    return n;
}

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

size_t xr_instruments_footprint(uint32_t capacity)
{
    if (capacity == 0 || capacity > XR_INSTRUMENTS_MAX)
        return 0;
    size_t items = round16((size_t)capacity * sizeof(xr_instrument));
    size_t index = (size_t)hash_size_for(capacity) * sizeof(uint32_t);
    return items + 2 * index;
}

xr_err xr_instruments_init(xr_instruments *t, void *mem, size_t len, uint32_t capacity,
                           uint16_t venue)
{
    size_t need = xr_instruments_footprint(capacity);
    if (t == NULL || mem == NULL || need == 0 || len < need || ((uintptr_t)mem & 15) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    uint32_t hsize = hash_size_for(capacity);
    unsigned char *p = mem;
    t->items = (xr_instrument *)(void *)p;
    p += round16((size_t)capacity * sizeof(xr_instrument));
    t->by_symbol = (uint32_t *)(void *)p;
    p += (size_t)hsize * sizeof(uint32_t);
    t->by_canonical = (uint32_t *)(void *)p;
    t->capacity = capacity;
    t->hash_mask = hsize - 1;
    t->venue = venue;
    xr_instruments_clear(t);
    return XR_OK;
}

void xr_instruments_clear(xr_instruments *t)
{
    XR_ASSERT(t != NULL && t->items != NULL);
    memset(t->by_symbol, 0, ((size_t)t->hash_mask + 1) * sizeof(uint32_t));
    memset(t->by_canonical, 0, ((size_t)t->hash_mask + 1) * sizeof(uint32_t));
    t->count = 0;
}

/* Finds the slot holding `name` in `index` (keyed by the field `symbol` or `canonical`), or
 * the empty slot where it would go. */
static uint32_t probe(const xr_instruments *t, const uint32_t *index, bool by_symbol,
                      const char *name, size_t len)
{
    uint32_t slot = hash_bytes(name, len) & t->hash_mask;
    for (uint32_t n = 0; n <= t->hash_mask; n++) {
        uint32_t v = index[slot];
        if (v == 0)
            return slot;
        const xr_instrument *in = &t->items[v - 1];
        const char *key = by_symbol ? in->symbol : in->canonical;
        if (strncmp(key, name, len) == 0 && key[len] == '\0')
            return slot;
        slot = (slot + 1) & t->hash_mask;
    }
    /* At most half full, so an empty slot always exists. */
    XR_ASSERT(false);
    return 0;
}

static bool valid_asset_code(const char *code)
{
    size_t n = 0;
    for (; code[n] != '\0'; n++) {
        char c = code[n];
        if (n == XR_ASSET_CODE_MAX || !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return n >= 2;
}

static bool valid_symbol(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n == XR_SYMBOL_MAX || c <= ' ' || c >= 0x7f || c == '/')
            return false;
    }
    return n >= 1;
}

xr_err xr_pair_name_split(const char *name, size_t len, char base[XR_ASSET_CODE_MAX + 1],
                          char quote[XR_ASSET_CODE_MAX + 1])
{
    XR_ASSERT(base != NULL && quote != NULL);
    if (name == NULL || len > XR_PAIR_NAME_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    const char *slash = memchr(name, '/', len);
    if (slash == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    size_t nb = (size_t)(slash - name), nq = len - nb - 1;
    if (nb > XR_ASSET_CODE_MAX || nq > XR_ASSET_CODE_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    char b[XR_ASSET_CODE_MAX + 1], q[XR_ASSET_CODE_MAX + 1];
    memcpy(b, name, nb);
    b[nb] = '\0';
    memcpy(q, slash + 1, nq);
    q[nq] = '\0';
    if (!valid_asset_code(b) || !valid_asset_code(q))
        return XR_ERR_INVALID_ARGUMENT;
    memcpy(base, b, nb + 1);
    memcpy(quote, q, nq + 1);
    return XR_OK;
}

xr_err xr_instruments_add(xr_instruments *t, const xr_instrument *in, const xr_instrument **out)
{
    XR_ASSERT(t != NULL && in != NULL && t->count <= t->capacity);
    if (!valid_symbol(in->symbol) || !valid_asset_code(in->base) || !valid_asset_code(in->quote))
        return XR_ERR_INVALID_ARGUMENT;
    if (in->scale.base > XR_SCALE_MAX || in->scale.quote > XR_SCALE_MAX ||
        in->scale.price > XR_SCALE_MAX || in->status > XR_INSTRUMENT_HALTED)
        return XR_ERR_INVALID_ARGUMENT;
    if (in->tick.ticks < 0 || in->price_min.ticks < 0 || in->price_max.ticks < 0 ||
        in->lot_step.units < 0 || in->qty_min.units < 0 || in->qty_max.units < 0 ||
        in->notional_min.units < 0 || in->notional_max.units < 0)
        return XR_ERR_INVALID_ARGUMENT;

    xr_instrument item = *in;
    size_t nb = strlen(in->base), nq = strlen(in->quote);
    memset(item.canonical, 0, sizeof item.canonical);
    memcpy(item.canonical, in->base, nb);
    item.canonical[nb] = '/';
    memcpy(item.canonical + nb + 1, in->quote, nq);

    size_t slen = strlen(item.symbol), clen = nb + 1 + nq;
    uint32_t s_slot = probe(t, t->by_symbol, true, item.symbol, slen);
    uint32_t c_slot = probe(t, t->by_canonical, false, item.canonical, clen);
    if (t->by_symbol[s_slot] != 0 || t->by_canonical[c_slot] != 0)
        return XR_ERR_ALREADY_EXISTS;
    if (t->count == t->capacity)
        return XR_ERR_NO_MEMORY;

    item.id = t->count;
    item.venue = t->venue;
    t->items[t->count] = item;
    t->count++;
    t->by_symbol[s_slot] = t->count;
    t->by_canonical[c_slot] = t->count;
    if (out != NULL)
        *out = &t->items[item.id];
    return XR_OK;
}

const xr_instrument *xr_instruments_by_symbol(const xr_instruments *t, const char *symbol,
                                              size_t len)
{
    XR_ASSERT(t != NULL);
    if (symbol == NULL || len == 0 || len > XR_SYMBOL_MAX)
        return NULL;
    uint32_t v = t->by_symbol[probe(t, t->by_symbol, true, symbol, len)];
    return v == 0 ? NULL : &t->items[v - 1];
}

const xr_instrument *xr_instruments_by_canonical(const xr_instruments *t, const char *name,
                                                 size_t len)
{
    XR_ASSERT(t != NULL);
    if (name == NULL || len == 0 || len > XR_PAIR_NAME_MAX)
        return NULL;
    uint32_t v = t->by_canonical[probe(t, t->by_canonical, false, name, len)];
    return v == 0 ? NULL : &t->items[v - 1];
}

const xr_instrument *xr_instruments_get(const xr_instruments *t, uint32_t id)
{
    XR_ASSERT(t != NULL);
    return id < t->count ? &t->items[id] : NULL;
}

/* r = a mod m == 0, for m > 0. */
static bool is_multiple(xr_i128 a, xr_i128 m)
{
    if (m <= 0)
        return true;
    if (a >= 0 && a <= INT64_MAX && m <= INT64_MAX)
        return (uint64_t)a % (uint64_t)m == 0; /* one hardware division, the same answer */
    return a % m == 0;
}

xr_err xr_instrument_check_order(const xr_instrument *inst, xr_price price, xr_amount qty)
{
    XR_ASSERT(inst != NULL);
    if (qty.units <= 0 || price.ticks < 0)
        return XR_ERR_INVALID_AMOUNT;
    if (!is_multiple(qty.units, inst->lot_step.units))
        return XR_ERR_INVALID_AMOUNT;
    if (inst->qty_min.units > 0 && qty.units < inst->qty_min.units)
        return XR_ERR_BELOW_MIN_SIZE;
    if (inst->qty_max.units > 0 && qty.units > inst->qty_max.units)
        return XR_ERR_LIMIT_EXCEEDED;
    if (price.ticks == 0)
        return XR_OK; /* market order: the venue checks the notional at its own price */

    if (!is_multiple(price.ticks, inst->tick.ticks))
        return XR_ERR_INVALID_AMOUNT;
    if ((inst->price_min.ticks > 0 && price.ticks < inst->price_min.ticks) ||
        (inst->price_max.ticks > 0 && price.ticks > inst->price_max.ticks))
        return XR_ERR_INVALID_AMOUNT;
    if (inst->notional_min.units > 0) {
        xr_amount n;
        xr_err err = xr_notional(qty, price, &inst->scale, XR_ROUND_DOWN, &n);
        if (err != XR_OK)
            return err;
        if (n.units < inst->notional_min.units)
            return XR_ERR_BELOW_MIN_SIZE;
    }
    if (inst->notional_max.units > 0) {
        xr_amount n;
        xr_err err = xr_notional(qty, price, &inst->scale, XR_ROUND_UP, &n);
        if (err != XR_OK)
            return err;
        if (n.units > inst->notional_max.units)
            return XR_ERR_LIMIT_EXCEEDED;
    }
    return XR_OK;
}
