/*
 * The simulator's matching engine. See engine.h for the rules it enforces.
 */
#include "adapters/sim/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"

typedef struct sim_pair {
    struct xr_sim_engine *e;
    uint32_t index;
    xr_sim_market *m;
    int base, quote;
    uint32_t *open; /* indices of resting orders, oldest first */
    size_t nopen, open_cap;
} sim_pair;

typedef struct sim_account {
    char key[XR_SIM_API_KEY_MAX + 1];
    uint8_t secret[XR_SIM_SECRET_MAX];
    size_t secret_len;
    xr_i128 free[XR_SIM_ASSETS_MAX];
    xr_i128 locked[XR_SIM_ASSETS_MAX];
    uint64_t dirty;
} sim_account;

struct xr_sim_engine {
    xr_sim_engine_config cfg;
    sim_pair pairs[XR_SIM_PAIRS_MAX];
    uint32_t npairs;
    char assets[XR_SIM_ASSETS_MAX][XR_ASSET_CODE_MAX + 1];
    uint32_t nassets;
    sim_account accounts[XR_SIM_ACCOUNTS_MAX];
    uint32_t naccounts;
    xr_sim_order *orders; /* the order with id i is orders[i - 1] */
    size_t norders, orders_cap;
    uint32_t *cid; /* open addressing: order index + 1, 0 empty */
    size_t cid_cap, cid_used;
    xr_sim_rng rng;
    uint64_t exec_id;
    xr_sim_exec_fn hook;
    void *hook_ctx;
    bool new_on_book; /* for the NEW report being sent */
    /* The taker's fills of the running new-order call. */
    xr_sim_fill *fills;
    size_t fills_cap, nfills;
};

_Static_assert(XR_SIM_ASSETS_MAX <= 64, "dirty mask is 64 bits");

#define E8 ((xr_i128)XR_SIM_UNIT)

static xr_i128 div_up(xr_i128 a, xr_i128 d)
{
    XR_ASSERT(a >= 0 && d > 0);
    return (a + d - 1) / d;
}

static void reject(xr_sim_reject *rej, int status, int code, const char *msg)
{
    rej->http_status = status;
    rej->code = code;
    snprintf(rej->msg, sizeof rej->msg, "%s", msg);
}

/* ---- names -------------------------------------------------------------------------- */

const char *xr_sim_side_name(int side)
{
    return side == XR_SIM_SIDE_BUY ? "BUY" : "SELL";
}

const char *xr_sim_type_name(int type)
{
    static const char *const n[] = {"LIMIT", "MARKET", "LIMIT_MAKER"};
    return type >= 0 && type <= 2 ? n[type] : "LIMIT";
}

const char *xr_sim_tif_name(int tif)
{
    static const char *const n[] = {"GTC", "IOC", "FOK"};
    return tif >= 0 && tif <= 2 ? n[tif] : "GTC";
}

const char *xr_sim_status_name(int status)
{
    static const char *const n[] = {"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED"};
    return status >= 0 && status <= 4 ? n[status] : "NEW";
}

const char *xr_sim_exec_type_name(int t)
{
    static const char *const n[] = {"NEW", "TRADE", "CANCELED", "EXPIRED"};
    return t >= 0 && t <= 3 ? n[t] : "NEW";
}

/* ---- set-up ------------------------------------------------------------------------- */

xr_err xr_sim_engine_create(const xr_sim_engine_config *cfg, xr_sim_engine **out)
{
    *out = NULL;
    if (cfg->maker_bps < 0 || cfg->maker_bps > 10000 || cfg->taker_bps < 0 ||
        cfg->taker_bps > 10000)
        return XR_ERR_INVALID_ARGUMENT;
    xr_sim_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return XR_ERR_NO_MEMORY;
    e->cfg = *cfg;
    if (e->cfg.max_orders == 0)
        e->cfg.max_orders = 1000000;
    /* Generated client ids come from their own stream so that they never disturb the
     * markets' streams. */
    xr_sim_rng_seed(&e->rng, cfg->seed ^ 0x636c69656e744964ull);
    *out = e;
    return XR_OK;
}

void xr_sim_engine_destroy(xr_sim_engine *e)
{
    if (e == NULL)
        return;
    for (uint32_t i = 0; i < e->npairs; i++) {
        xr_sim_market_destroy(e->pairs[i].m);
        free(e->pairs[i].open);
    }
    free(e->orders);
    free(e->cid);
    memset(e->accounts, 0, sizeof e->accounts); /* secrets */
    free(e);
}

const xr_sim_engine_config *xr_sim_engine_get_config(const xr_sim_engine *e)
{
    return &e->cfg;
}

static int add_asset(xr_sim_engine *e, const char *code)
{
    int i = xr_sim_engine_find_asset(e, code);
    if (i >= 0)
        return i;
    if (e->nassets == XR_SIM_ASSETS_MAX || strlen(code) > XR_ASSET_CODE_MAX)
        return -1;
    snprintf(e->assets[e->nassets], sizeof e->assets[0], "%s", code);
    return (int)e->nassets++;
}

int xr_sim_engine_add_asset(xr_sim_engine *e, const char *code)
{
    return code != NULL && code[0] != '\0' ? add_asset(e, code) : -1;
}

static int64_t user_fill(void *ctx, int side, int64_t price, int64_t lots, int64_t now_ms);

xr_err xr_sim_engine_add_pair(xr_sim_engine *e, const xr_sim_pair_config *cfg, uint64_t seed,
                              int64_t now_ms, uint32_t *index_out)
{
    if (xr_sim_engine_find_pair(e, cfg->symbol, strlen(cfg->symbol)) >= 0)
        return XR_ERR_ALREADY_EXISTS;
    if (e->npairs == XR_SIM_PAIRS_MAX)
        return XR_ERR_NO_MEMORY;
    sim_pair *p = &e->pairs[e->npairs];
    memset(p, 0, sizeof *p);
    xr_err err = xr_sim_market_create(cfg, seed, now_ms, &p->m);
    if (err != XR_OK)
        return err;
    p->base = add_asset(e, cfg->base);
    p->quote = add_asset(e, cfg->quote);
    if (p->base < 0 || p->quote < 0) {
        xr_sim_market_destroy(p->m);
        p->m = NULL;
        return XR_ERR_NO_MEMORY;
    }
    p->e = e;
    p->index = e->npairs;
    xr_sim_market_set_user_fill(p->m, user_fill, p);
    if (index_out)
        *index_out = e->npairs;
    e->npairs++;
    return XR_OK;
}

uint32_t xr_sim_engine_pair_count(const xr_sim_engine *e)
{
    return e->npairs;
}

int xr_sim_engine_find_pair(const xr_sim_engine *e, const char *symbol, size_t len)
{
    for (uint32_t i = 0; i < e->npairs; i++) {
        const char *s = xr_sim_market_config(e->pairs[i].m)->symbol;
        if (strlen(s) == len && memcmp(s, symbol, len) == 0)
            return (int)i;
    }
    return -1;
}

xr_sim_market *xr_sim_engine_market(const xr_sim_engine *e, uint32_t pair)
{
    XR_ASSERT(pair < e->npairs);
    return e->pairs[pair].m;
}

int xr_sim_engine_pair_base(const xr_sim_engine *e, uint32_t pair)
{
    XR_ASSERT(pair < e->npairs);
    return e->pairs[pair].base;
}

int xr_sim_engine_pair_quote(const xr_sim_engine *e, uint32_t pair)
{
    XR_ASSERT(pair < e->npairs);
    return e->pairs[pair].quote;
}

uint32_t xr_sim_engine_asset_count(const xr_sim_engine *e)
{
    return e->nassets;
}

const char *xr_sim_engine_asset_code(const xr_sim_engine *e, int asset)
{
    XR_ASSERT(asset >= 0 && (uint32_t)asset < e->nassets);
    return e->assets[asset];
}

int xr_sim_engine_find_asset(const xr_sim_engine *e, const char *code)
{
    for (uint32_t i = 0; i < e->nassets; i++)
        if (strcmp(e->assets[i], code) == 0)
            return (int)i;
    return -1;
}

xr_err xr_sim_engine_add_account(xr_sim_engine *e, const char *api_key, const void *secret,
                                 size_t secret_len, uint32_t *index_out)
{
    size_t kl = api_key ? strlen(api_key) : 0;
    if (kl == 0 || kl > XR_SIM_API_KEY_MAX || secret_len == 0 || secret_len > XR_SIM_SECRET_MAX)
        return XR_ERR_INVALID_ARGUMENT;
    if (xr_sim_engine_find_account(e, api_key, kl) >= 0)
        return XR_ERR_ALREADY_EXISTS;
    if (e->naccounts == XR_SIM_ACCOUNTS_MAX)
        return XR_ERR_NO_MEMORY;
    sim_account *a = &e->accounts[e->naccounts];
    memset(a, 0, sizeof *a);
    memcpy(a->key, api_key, kl);
    memcpy(a->secret, secret, secret_len);
    a->secret_len = secret_len;
    if (index_out)
        *index_out = e->naccounts;
    e->naccounts++;
    return XR_OK;
}

uint32_t xr_sim_engine_account_count(const xr_sim_engine *e)
{
    return e->naccounts;
}

int xr_sim_engine_find_account(const xr_sim_engine *e, const char *api_key, size_t len)
{
    for (uint32_t i = 0; i < e->naccounts; i++)
        if (strlen(e->accounts[i].key) == len && memcmp(e->accounts[i].key, api_key, len) == 0)
            return (int)i;
    return -1;
}

const uint8_t *xr_sim_engine_account_secret(const xr_sim_engine *e, uint32_t account, size_t *len)
{
    XR_ASSERT(account < e->naccounts);
    *len = e->accounts[account].secret_len;
    return e->accounts[account].secret;
}

const char *xr_sim_engine_account_key(const xr_sim_engine *e, uint32_t account)
{
    XR_ASSERT(account < e->naccounts);
    return e->accounts[account].key;
}

xr_err xr_sim_engine_set_balance(xr_sim_engine *e, uint32_t account, int asset, xr_i128 free)
{
    if (account >= e->naccounts || asset < 0 || (uint32_t)asset >= e->nassets || free < 0)
        return XR_ERR_INVALID_ARGUMENT;
    e->accounts[account].free[asset] = free;
    e->accounts[account].dirty |= 1ull << asset;
    return XR_OK;
}

void xr_sim_engine_balance(const xr_sim_engine *e, uint32_t account, int asset, xr_i128 *free,
                           xr_i128 *locked)
{
    XR_ASSERT(account < e->naccounts && asset >= 0 && (uint32_t)asset < e->nassets);
    *free = e->accounts[account].free[asset];
    *locked = e->accounts[account].locked[asset];
}

uint64_t xr_sim_engine_take_dirty(xr_sim_engine *e, uint32_t account)
{
    XR_ASSERT(account < e->naccounts);
    uint64_t d = e->accounts[account].dirty;
    e->accounts[account].dirty = 0;
    return d;
}

void xr_sim_engine_set_exec_hook(xr_sim_engine *e, xr_sim_exec_fn fn, void *ctx)
{
    e->hook = fn;
    e->hook_ctx = ctx;
}

/* ---- client-id index ---------------------------------------------------------------- */

static uint64_t cid_hash(uint32_t account, uint32_t pair, const char *cid)
{
    uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)account << 32 | pair);
    for (; *cid; cid++) {
        h ^= (uint8_t)*cid;
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static bool cid_match(const xr_sim_order *o, uint32_t account, uint32_t pair, const char *cid)
{
    return o->account == account && o->pair == pair && strcmp(o->client_id, cid) == 0;
}

/* Index of the latest order with this client id, or -1. */
static long cid_find(const xr_sim_engine *e, uint32_t account, uint32_t pair, const char *cid)
{
    if (e->cid_cap == 0)
        return -1;
    size_t mask = e->cid_cap - 1;
    for (size_t i = cid_hash(account, pair, cid) & mask;; i = (i + 1) & mask) {
        uint32_t s = e->cid[i];
        if (s == 0)
            return -1;
        if (cid_match(&e->orders[s - 1], account, pair, cid))
            return (long)s - 1;
    }
}

static void cid_put_slot(uint32_t *tab, size_t cap, const xr_sim_order *orders, uint32_t idx)
{
    const xr_sim_order *o = &orders[idx];
    size_t mask = cap - 1;
    for (size_t i = cid_hash(o->account, o->pair, o->client_id) & mask;; i = (i + 1) & mask) {
        if (tab[i] == 0 || cid_match(&orders[tab[i] - 1], o->account, o->pair, o->client_id)) {
            tab[i] = idx + 1;
            return;
        }
    }
}

static xr_err cid_put(xr_sim_engine *e, uint32_t idx)
{
    if ((e->cid_used + 1) * 2 > e->cid_cap) {
        size_t cap = e->cid_cap ? e->cid_cap * 2 : 1024;
        uint32_t *tab = calloc(cap, sizeof *tab);
        if (tab == NULL)
            return XR_ERR_NO_MEMORY;
        for (size_t i = 0; i < e->cid_cap; i++)
            if (e->cid[i] != 0)
                cid_put_slot(tab, cap, e->orders, e->cid[i] - 1);
        free(e->cid);
        e->cid = tab;
        e->cid_cap = cap;
    }
    /* A repeated id replaces the entry (the latest order answers queries), so only new
     * keys use a slot. */
    const xr_sim_order *o = &e->orders[idx];
    if (cid_find(e, o->account, o->pair, o->client_id) < 0)
        e->cid_used++;
    cid_put_slot(e->cid, e->cid_cap, e->orders, idx);
    return XR_OK;
}

/* ---- balances and reports ----------------------------------------------------------- */

static int lock_asset(const xr_sim_engine *e, const xr_sim_order *o)
{
    const sim_pair *p = &e->pairs[o->pair];
    return o->side == XR_SIM_SIDE_BUY ? p->quote : p->base;
}

/* Pays `amount` for `o`: from its lock first, from the free balance for any remainder
 * (only possible when inexact products rounded up past the lock). */
static void pay(xr_sim_engine *e, xr_sim_order *o, xr_i128 amount)
{
    sim_account *a = &e->accounts[o->account];
    int asset = lock_asset(e, o);
    xr_i128 from_lock = amount < o->locked ? amount : o->locked;
    o->locked -= from_lock;
    a->locked[asset] -= from_lock;
    a->free[asset] -= amount - from_lock;
    a->dirty |= 1ull << asset;
}

static void release(xr_sim_engine *e, xr_sim_order *o)
{
    if (o->locked == 0)
        return;
    sim_account *a = &e->accounts[o->account];
    int asset = lock_asset(e, o);
    a->locked[asset] -= o->locked;
    a->free[asset] += o->locked;
    a->dirty |= 1ull << asset;
    o->locked = 0;
}

static void report(xr_sim_engine *e, const xr_sim_order *o, int type, int64_t qty, int64_t price,
                   xr_i128 commission, int commission_asset, uint64_t trade_id, bool maker,
                   int64_t now_ms)
{
    e->exec_id++;
    if (e->hook == NULL)
        return;
    xr_sim_exec_report r;
    memset(&r, 0, sizeof r);
    r.order = o;
    r.exec_type = (uint8_t)type;
    r.last_qty = qty;
    r.last_price = price;
    r.commission = commission;
    r.commission_asset = commission_asset;
    r.trade_id = trade_id;
    r.exec_id = e->exec_id;
    r.maker = maker;
    r.time_ms = now_ms;
    r.on_book = type == XR_SIM_EXEC_NEW ? e->new_on_book
                                        : o->working && (o->status == XR_SIM_NEW ||
                                                         o->status == XR_SIM_PARTIALLY_FILLED);
    e->hook(e->hook_ctx, &r);
}

static void open_remove(sim_pair *p, uint32_t idx)
{
    for (size_t i = 0; i < p->nopen; i++) {
        if (p->open[i] == idx) {
            memmove(&p->open[i], &p->open[i + 1], (p->nopen - i - 1) * sizeof p->open[0]);
            p->nopen--;
            return;
        }
    }
}

static xr_err open_add(sim_pair *p, uint32_t idx)
{
    if (p->nopen == p->open_cap) {
        size_t cap = p->open_cap ? p->open_cap * 2 : 64;
        uint32_t *n = realloc(p->open, cap * sizeof *n);
        if (n == NULL)
            return XR_ERR_NO_MEMORY;
        p->open = n;
        p->open_cap = cap;
    }
    p->open[p->nopen++] = idx;
    return XR_OK;
}

/* Executes `lots` of `o` at `price` (ticks): balances, fees, state, report. Returns true when
 * the order is now final. */
static bool execute(xr_sim_engine *e, xr_sim_order *o, int64_t price, int64_t lots, bool maker,
                    uint64_t trade_id, int64_t now_ms)
{
    sim_pair *p = &e->pairs[o->pair];
    sim_account *a = &e->accounts[o->account];
    xr_i128 q16 = xr_sim_market_quote_e16(p->m, lots, price);
    xr_i128 base = xr_sim_market_qty_units(p->m, lots);
    xr_i128 bps = maker ? e->cfg.maker_bps : e->cfg.taker_bps;
    xr_i128 recv, fee;
    int recv_asset;
    if (o->side == XR_SIM_SIDE_BUY) {
        pay(e, o, div_up(q16, E8));
        recv = base;
        recv_asset = p->base;
    } else {
        pay(e, o, base);
        recv = q16 / E8; /* the receiver's share rounds down */
        recv_asset = p->quote;
    }
    fee = div_up(recv * bps, 10000);
    a->free[recv_asset] += recv - fee;
    a->dirty |= 1ull << recv_asset;
    o->filled += lots;
    o->quote_e16 += q16;
    o->update_ms = now_ms;
    bool done = o->filled == o->qty;
    o->status = done ? XR_SIM_FILLED : XR_SIM_PARTIALLY_FILLED;
    if (done)
        release(e, o);
    if (!maker && e->fills != NULL && e->nfills < e->fills_cap) {
        xr_sim_fill *f = &e->fills[e->nfills++];
        f->price = price;
        f->qty = lots;
        f->commission = fee;
        f->commission_asset = recv_asset;
        f->trade_id = trade_id;
    }
    report(e, o, XR_SIM_EXEC_TRADE, lots, price, fee, recv_asset, trade_id, maker, now_ms);
    return done;
}

/* Fills resting orders of `side` at `price`, oldest first, for up to `lots`; the taker is
 * on the other side. Returns the lots filled. */
static int64_t fill_resting(xr_sim_engine *e, sim_pair *p, int side, int64_t price, int64_t lots,
                            xr_sim_order *taker, int64_t now_ms)
{
    int maker_side = side == XR_SIM_BID ? XR_SIM_SIDE_BUY : XR_SIM_SIDE_SELL;
    int64_t done = 0;
    size_t i = 0;
    while (i < p->nopen && done < lots) {
        uint32_t idx = p->open[i];
        xr_sim_order *mk = &e->orders[idx];
        if (mk->side != maker_side || mk->price != price) {
            i++;
            continue;
        }
        int64_t q = mk->qty - mk->filled;
        if (q > lots - done)
            q = lots - done;
        uint64_t tid =
            xr_sim_market_record_trade(p->m, price, q, maker_side == XR_SIM_SIDE_BUY, now_ms);
        xr_err err = xr_sim_market_add_user(p->m, side, price, -q);
        XR_ASSERT(err == XR_OK);
        bool final = execute(e, mk, price, q, true, tid, now_ms);
        if (taker != NULL)
            execute(e, taker, price, q, false, tid, now_ms);
        done += q;
        if (final)
            open_remove(p, idx); /* the next order slid into position i */
        else
            i++;
    }
    return done;
}

static int64_t user_fill(void *ctx, int side, int64_t price, int64_t lots, int64_t now_ms)
{
    sim_pair *p = ctx;
    return fill_resting(p->e, p, side, price, lots, NULL, now_ms);
}

/* Whether a taker on `taker_side` with limit `limit` (ticks; 0: none) may trade at `price`. */
static bool acceptable(int taker_side, int64_t limit, int64_t price)
{
    if (limit == 0)
        return true;
    return taker_side == XR_SIM_SIDE_BUY ? price <= limit : price >= limit;
}

/* Walks the book for a taker: the lots available within `limit` up to `want`, and their cost
 * in 10^-16 quote units. With `quote_budget_e16` > 0 the walk stops when the budget is spent
 * (and `want` is ignored). */
static int64_t walk(const sim_pair *p, int taker_side, int64_t limit, int64_t want,
                    xr_i128 quote_budget_e16, xr_i128 *cost_e16)
{
    int book = taker_side == XR_SIM_SIDE_BUY ? XR_SIM_ASK : XR_SIM_BID;
    const xr_sim_pair_config *c = xr_sim_market_config(p->m);
    int64_t got = 0;
    xr_i128 cost = 0;
    size_t n = xr_sim_market_level_count(p->m, book);
    for (size_t i = 0; i < n; i++) {
        const xr_sim_level *l = xr_sim_market_level(p->m, book, i);
        if (!acceptable(taker_side, limit, l->price))
            break;
        int64_t avail = l->synth + l->user;
        int64_t take;
        if (quote_budget_e16 > 0) {
            xr_i128 per_lot = (xr_i128)c->step * (xr_i128)(l->price * c->tick);
            xr_i128 afford = (quote_budget_e16 - cost) / per_lot;
            take = afford < avail ? (int64_t)afford : avail;
        } else {
            take = want - got < avail ? want - got : avail;
        }
        if (take <= 0)
            break;
        got += take;
        cost += xr_sim_market_quote_e16(p->m, take, l->price);
        if (quote_budget_e16 == 0 && got == want)
            break;
    }
    *cost_e16 = cost;
    return got;
}

/* Matches taker `o` against the book until filled or out of acceptable prices. */
static void match(xr_sim_engine *e, sim_pair *p, xr_sim_order *o, int64_t now_ms)
{
    int book = o->side == XR_SIM_SIDE_BUY ? XR_SIM_ASK : XR_SIM_BID;
    int64_t limit = o->type == XR_SIM_TYPE_MARKET ? 0 : o->price;
    while (o->filled < o->qty && xr_sim_market_level_count(p->m, book) > 0) {
        const xr_sim_level *l = xr_sim_market_level(p->m, book, 0);
        int64_t price = l->price;
        if (!acceptable(o->side, limit, price))
            break;
        int64_t before = o->filled;
        if (l->user > 0)
            fill_resting(e, p, book, price, o->qty - o->filled, o, now_ms);
        int64_t want = o->qty - o->filled;
        if (want > 0) {
            int64_t t = xr_sim_market_take_synth(p->m, book, price, want);
            if (t > 0) {
                uint64_t tid =
                    xr_sim_market_record_trade(p->m, price, t, o->side == XR_SIM_SIDE_SELL, now_ms);
                execute(e, o, price, t, false, tid, now_ms);
            }
        }
        if (o->filled == before)
            break; /* cannot happen with a consistent book; never spin */
    }
}

/* ---- orders ------------------------------------------------------------------------- */

static size_t open_count(const sim_pair *p, const xr_sim_engine *e, uint32_t account)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nopen; i++)
        n += e->orders[p->open[i]].account == account;
    return n;
}

static void gen_client_id(xr_sim_engine *e, char *out)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 22; i++)
        out[i] = alnum[xr_sim_rng_below(&e->rng, sizeof alnum - 1)];
    out[22] = '\0';
}

/* The filters of engine.h; returns false with *rej filled. */
static bool check_filters(const xr_sim_engine *e, const sim_pair *p, uint32_t account,
                          const xr_sim_order_req *r, xr_sim_reject *rej)
{
    const xr_sim_pair_config *c = xr_sim_market_config(p->m);
    bool limit = r->type != XR_SIM_TYPE_MARKET;
    if (limit && (r->price < c->min_price || r->price > c->max_price ||
                  (r->price - c->min_price) % c->tick != 0)) {
        reject(rej, 400, -1013, "Filter failure: PRICE_FILTER");
        return false;
    }
    if (r->quote_qty == 0 &&
        (r->qty < c->min_qty || r->qty > c->max_qty || (r->qty - c->min_qty) % c->step != 0)) {
        reject(rej, 400, -1013, "Filter failure: LOT_SIZE");
        return false;
    }
    /* price x qty >= minNotional, compared exactly in 10^-16 units. */
    xr_i128 notional_e16;
    if (r->quote_qty > 0)
        notional_e16 = (xr_i128)r->quote_qty * E8;
    else if (limit)
        notional_e16 = (xr_i128)r->price * r->qty;
    else
        notional_e16 = (xr_i128)xr_sim_market_mid(p->m) * r->qty;
    if (notional_e16 < (xr_i128)c->min_notional * E8 ||
        (limit && c->max_notional > 0 && notional_e16 > (xr_i128)c->max_notional * E8)) {
        reject(rej, 400, -1013, "Filter failure: NOTIONAL");
        return false;
    }
    if (open_count(p, e, account) >= XR_SIM_OPEN_MAX) {
        reject(rej, 400, -1013, "Filter failure: MAX_NUM_ORDERS");
        return false;
    }
    return true;
}

xr_err xr_sim_engine_new_order(xr_sim_engine *e, uint32_t account, const xr_sim_order_req *r,
                               int64_t now_ms, const xr_sim_order **order_out, xr_sim_fill *fills,
                               size_t fills_cap, size_t *nfills, xr_sim_reject *rej)
{
    *order_out = NULL;
    if (nfills)
        *nfills = 0;
    memset(rej, 0, sizeof *rej);
    XR_ASSERT(account < e->naccounts && r->pair < e->npairs);
    XR_ASSERT(r->side <= XR_SIM_SIDE_SELL && r->type <= XR_SIM_TYPE_LIMIT_MAKER);
    XR_ASSERT(r->client_id == NULL || strlen(r->client_id) <= XR_SIM_CLIENT_ID_MAX);
    sim_pair *p = &e->pairs[r->pair];
    sim_account *a = &e->accounts[account];
    const xr_sim_pair_config *c = xr_sim_market_config(p->m);

    if (!check_filters(e, p, account, r, rej))
        return XR_ERR_REJECTED;
    if (r->client_id != NULL) {
        long prev = cid_find(e, account, r->pair, r->client_id);
        if (prev >= 0) {
            const xr_sim_order *po = &e->orders[prev];
            bool open = po->status == XR_SIM_NEW || po->status == XR_SIM_PARTIALLY_FILLED;
            if (open || e->cfg.dup_any) {
                reject(rej, 400, -2010, "Duplicate order sent.");
                return XR_ERR_REJECTED;
            }
        }
    }
    int64_t price_ticks = r->type == XR_SIM_TYPE_MARKET ? 0 : r->price / c->tick;
    if (r->type == XR_SIM_TYPE_LIMIT_MAKER) {
        int book = r->side == XR_SIM_SIDE_BUY ? XR_SIM_ASK : XR_SIM_BID;
        int64_t best = xr_sim_market_best(p->m, book);
        if (best != 0 && acceptable(r->side, price_ticks, best)) {
            reject(rej, 400, -2010, "Order would immediately match and take.");
            return XR_ERR_REJECTED;
        }
    }

    /* What the order needs locked. */
    int64_t qty_lots = r->qty / c->step;
    xr_i128 need, cost_e16 = 0;
    if (r->type == XR_SIM_TYPE_MARKET && r->quote_qty > 0) {
        qty_lots = walk(p, r->side, 0, 0, (xr_i128)r->quote_qty * E8, &cost_e16);
        need = r->side == XR_SIM_SIDE_BUY ? div_up(cost_e16, E8)
                                          : (xr_i128)xr_sim_market_qty_units(p->m, qty_lots);
    } else if (r->side == XR_SIM_SIDE_SELL) {
        need = r->qty;
    } else if (r->type == XR_SIM_TYPE_MARKET) {
        walk(p, r->side, 0, qty_lots, 0, &cost_e16);
        need = div_up(cost_e16, E8);
    } else {
        need = div_up((xr_i128)r->qty * r->price, E8);
    }
    int lasset = r->side == XR_SIM_SIDE_BUY ? p->quote : p->base;
    if (a->free[lasset] < need) {
        reject(rej, 400, -2010, "Account has insufficient balance for requested action.");
        return XR_ERR_REJECTED;
    }
    if (e->norders >= e->cfg.max_orders)
        return XR_ERR_NO_MEMORY;
    if (e->norders == e->orders_cap) {
        size_t cap = e->orders_cap ? e->orders_cap * 2 : 1024;
        xr_sim_order *n = realloc(e->orders, cap * sizeof *n);
        if (n == NULL)
            return XR_ERR_NO_MEMORY;
        e->orders = n;
        e->orders_cap = cap;
    }

    uint32_t idx = (uint32_t)e->norders;
    xr_sim_order *o = &e->orders[idx];
    memset(o, 0, sizeof *o);
    o->id = idx + 1;
    o->pair = r->pair;
    o->account = account;
    o->side = r->side;
    o->type = r->type;
    o->tif = r->type == XR_SIM_TYPE_LIMIT ? r->tif : XR_SIM_TIF_GTC;
    o->status = XR_SIM_NEW;
    o->price = price_ticks;
    o->qty = qty_lots;
    o->quote_qty = r->type == XR_SIM_TYPE_MARKET ? r->quote_qty : 0;
    o->time_ms = o->update_ms = now_ms;
    if (r->client_id != NULL)
        snprintf(o->client_id, sizeof o->client_id, "%s", r->client_id);
    else
        gen_client_id(e, o->client_id);
    e->norders++;
    if (cid_put(e, idx) != XR_OK) {
        e->norders--;
        return XR_ERR_NO_MEMORY;
    }
    o->locked = need;
    a->free[lasset] -= need;
    a->locked[lasset] += need;
    a->dirty |= 1ull << lasset;
    *order_out = o;

    e->fills = fills;
    e->fills_cap = fills ? fills_cap : 0;
    e->nfills = 0;

    bool may_take = r->type != XR_SIM_TYPE_LIMIT_MAKER;
    xr_i128 unused;
    int64_t takeable = may_take ? walk(p, r->side, price_ticks, qty_lots, 0, &unused) : (int64_t)0;
    if (r->tif == XR_SIM_TIF_FOK && r->type == XR_SIM_TYPE_LIMIT)
        may_take = takeable == qty_lots;
    bool rests = (r->type == XR_SIM_TYPE_LIMIT && r->tif == XR_SIM_TIF_GTC) ||
                 r->type == XR_SIM_TYPE_LIMIT_MAKER;
    /* The NEW report already says whether the order will be on the book (Binance's "w"). */
    e->new_on_book = rests && takeable < qty_lots;
    report(e, o, XR_SIM_EXEC_NEW, 0, 0, 0, -1, 0, false, now_ms);
    e->new_on_book = false;
    if (may_take)
        match(e, p, o, now_ms);

    if (o->filled < o->qty && rests) {
        int side = r->side == XR_SIM_SIDE_BUY ? XR_SIM_BID : XR_SIM_ASK;
        if (xr_sim_market_add_user(p->m, side, price_ticks, o->qty - o->filled) == XR_OK) {
            if (open_add(p, idx) == XR_OK) {
                o->working = true;
            } else {
                xr_err err = xr_sim_market_add_user(p->m, side, price_ticks, o->filled - o->qty);
                XR_ASSERT(err == XR_OK);
            }
        }
    }
    if (o->filled < o->qty && !o->working) {
        o->status = XR_SIM_EXPIRED;
        o->update_ms = now_ms;
        release(e, o);
        report(e, o, XR_SIM_EXEC_EXPIRED, 0, 0, 0, -1, 0, false, now_ms);
    } else if (o->qty == 0) { /* a MARKET order by quote that the book could not serve */
        o->status = XR_SIM_EXPIRED;
        release(e, o);
        report(e, o, XR_SIM_EXEC_EXPIRED, 0, 0, 0, -1, 0, false, now_ms);
    }
    if (nfills)
        *nfills = e->nfills;
    e->fills = NULL;
    e->fills_cap = e->nfills = 0;
    return XR_OK;
}

const xr_sim_order *xr_sim_engine_find_order(const xr_sim_engine *e, uint32_t account,
                                             uint32_t pair, uint64_t order_id,
                                             const char *client_id)
{
    if (order_id != 0) {
        if (order_id > e->norders)
            return NULL;
        const xr_sim_order *o = &e->orders[order_id - 1];
        return o->account == account && o->pair == pair ? o : NULL;
    }
    if (client_id == NULL)
        return NULL;
    long i = cid_find(e, account, pair, client_id);
    return i >= 0 ? &e->orders[i] : NULL;
}

xr_err xr_sim_engine_cancel(xr_sim_engine *e, uint32_t account, uint32_t pair, uint64_t order_id,
                            const char *client_id, int64_t now_ms, const xr_sim_order **out,
                            xr_sim_reject *rej)
{
    *out = NULL;
    memset(rej, 0, sizeof *rej);
    const xr_sim_order *f = xr_sim_engine_find_order(e, account, pair, order_id, client_id);
    if (f == NULL || !(f->status == XR_SIM_NEW || f->status == XR_SIM_PARTIALLY_FILLED)) {
        reject(rej, 400, -2011, "Unknown order sent.");
        return XR_ERR_REJECTED;
    }
    xr_sim_order *o = &e->orders[f->id - 1];
    sim_pair *p = &e->pairs[pair];
    if (o->working) {
        int side = o->side == XR_SIM_SIDE_BUY ? XR_SIM_BID : XR_SIM_ASK;
        xr_err err = xr_sim_market_add_user(p->m, side, o->price, o->filled - o->qty);
        XR_ASSERT(err == XR_OK);
        open_remove(p, (uint32_t)(o->id - 1));
    }
    o->status = XR_SIM_CANCELED;
    o->update_ms = now_ms;
    release(e, o);
    report(e, o, XR_SIM_EXEC_CANCELED, 0, 0, 0, -1, 0, false, now_ms);
    *out = o;
    return XR_OK;
}

static int by_id(const void *a, const void *b)
{
    const xr_sim_order *x = *(const xr_sim_order *const *)a, *y = *(const xr_sim_order *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

size_t xr_sim_engine_open_orders(const xr_sim_engine *e, uint32_t account, int pair,
                                 const xr_sim_order **out, size_t cap)
{
    size_t n = 0;
    for (uint32_t pi = 0; pi < e->npairs; pi++) {
        if (pair >= 0 && (uint32_t)pair != pi)
            continue;
        const sim_pair *p = &e->pairs[pi];
        for (size_t i = 0; i < p->nopen; i++) {
            const xr_sim_order *o = &e->orders[p->open[i]];
            if (o->account != account)
                continue;
            if (n < cap)
                out[n] = o;
            n++;
        }
    }
    if (pair < 0)
        qsort(out, n < cap ? n : cap, sizeof out[0], by_id);
    return n;
}

uint64_t xr_sim_engine_order_count(const xr_sim_engine *e)
{
    return e->norders;
}

const xr_sim_order *xr_sim_engine_order(const xr_sim_engine *e, uint64_t id)
{
    return id >= 1 && id <= e->norders ? &e->orders[id - 1] : NULL;
}

void xr_sim_engine_step(xr_sim_engine *e, uint32_t pair, int64_t now_ms)
{
    XR_ASSERT(pair < e->npairs);
    xr_sim_market_step(e->pairs[pair].m, now_ms);
}
