/*
 * The engine: open (configuration, rings, stages), the single-thread schedule
 * (xr_engine_poll), submit, close; and the helpers the stages share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bearssl_hash.h>

#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/engine/venue.h"

struct xr_engine {
    xr_eng_shared sh;
    xr_eng_rings rings;
    void *ring_mem[64];
    uint32_t nring_mem;
    xr_eng_gateway *gw;
    xr_eng_pricing *pricing;
    xr_eng_ledger *ledger;
    xr_eng_router *router;
    const xr_eng_venue_driver *drv;
    void *venues;
    bool failed;
};

/* ---- helpers ------------------------------------------------------------------------------- */

void *xr_eng_alloc(size_t size)
{
    size_t n = (size + 127u) & ~(size_t)127u;
    void *p = aligned_alloc(128, n == 0 ? 128 : n);
    if (p != NULL)
        memset(p, 0, n == 0 ? 128 : n);
    return p;
}

void xr_eng_free(void *p)
{
    free(p);
}

xr_err xr_eng_port_init(xr_eng_port *p, xr_spsc_ring *ring, uint32_t cap)
{
    memset(p, 0, sizeof *p);
    p->ring = ring;
    p->cap = cap;
    p->box = xr_eng_alloc((size_t)cap * sizeof(xr_eng_msg));
    return p->box == NULL ? XR_ERR_NO_MEMORY : XR_OK;
}

void xr_eng_port_fini(xr_eng_port *p)
{
    xr_eng_free(p->box);
    p->box = NULL;
}

void xr_eng_port_flush(xr_eng_port *p)
{
    while (p->n > 0) {
        void *slot = xr_spsc_ring_try_reserve(p->ring);
        if (slot == NULL)
            return;
        memcpy(slot, &p->box[p->head], sizeof(xr_eng_msg));
        xr_spsc_ring_commit(p->ring, 1);
        p->head = (p->head + 1) % p->cap;
        p->n--;
    }
}

void xr_eng_port_send(xr_eng_port *p, const xr_eng_msg *m)
{
    /* Keep order: only bypass the outbox when it is empty. */
    if (p->n == 0) {
        void *slot = xr_spsc_ring_try_reserve(p->ring);
        if (slot != NULL) {
            memcpy(slot, m, sizeof *m);
            xr_spsc_ring_commit(p->ring, 1);
            return;
        }
    }
    XR_ASSERT(p->n < p->cap);
    p->box[(p->head + p->n) % p->cap] = *m;
    p->n++;
}

xr_ledger_id xr_eng_op_id(uint32_t bank, const xr_engine_key *key, uint32_t n)
{
    uint8_t buf[4 + 16 + 4], out[32];
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t)(bank >> (24 - 8 * i));
        buf[20 + i] = (uint8_t)(n >> (24 - 8 * i));
    }
    memcpy(buf + 4, key->bytes, 16);
    br_sha256_context c;
    br_sha256_init(&c);
    br_sha256_update(&c, buf, sizeof buf);
    br_sha256_out(&c, out);
    xr_ledger_id id;
    memcpy(id.bytes, out, 16);
    if (xr_ledger_id_is_zero(&id))
        id.bytes[15] = 1; /* never the invalid all-zero id (probability 2^-128) */
    return id;
}

xr_ledger_id xr_eng_account_op_id(uint64_t account_id)
{
    /* Top byte 0x01 keeps account creations apart from request ids in practice; the ids of
     * requests are hashes and start with any byte, so a collision would need 2^-64 luck. */
    return xr_ledger_id_make(UINT64_C(0x0100000000000000), account_id);
}

void xr_eng_reject(xr_eng_msg *m, const xr_engine_cmd *cmd, xr_err err)
{
    memset(m, 0, sizeof *m);
    m->type = XR_ENG_M_EVT;
    xr_engine_event *ev = &m->u.ev;
    ev->kind = XR_ENGINE_EV_REJECT;
    ev->bank_id = cmd->bank_id;
    ev->correlation_id = cmd->correlation_id;
    ev->customer_id = cmd->customer_id;
    ev->u.reject.err = err;
    ev->u.reject.cmd_kind = cmd->kind;
}

int xr_eng_find_pair(const xr_eng_shared *sh, const char *name)
{
    for (uint32_t i = 0; i < sh->npairs; i++)
        if (strncmp(sh->pairs[i].name, name, XR_ENGINE_PAIR_NAME_MAX) == 0)
            return (int)i;
    return -1;
}

int xr_eng_find_bank(const xr_eng_shared *sh, uint32_t bank_id)
{
    for (uint32_t i = 0; i < sh->cfg.nbanks; i++)
        if (sh->cfg.banks[i].id == bank_id)
            return (int)i;
    return -1;
}

const xr_asset *xr_eng_asset(const xr_eng_shared *sh, uint16_t id)
{
    XR_ASSERT(id < sh->assets.count);
    return &sh->assets.assets[id];
}

/* ---- configuration ------------------------------------------------------------------------- */

void xr_engine_config_default(xr_engine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", "var/xroute");
    cfg->ring_capacity = 256;
    cfg->customers_max = 4096;
    cfg->orders_max = 1024;
    cfg->idempotency_max = 16384;
    cfg->quotes_max = 4096;
    cfg->quote_ttl_ns = 5ull * 1000000000ull;
    cfg->slippage_bps = 50;
    cfg->ledger_batch_max = 1024;
}

static bool is_pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static xr_err add_asset(xr_eng_shared *sh, const char *code, uint16_t *id)
{
    const xr_asset *a = xr_assets_find(&sh->assets, code);
    if (a == NULL)
        return XR_ERR_CONFIG;
    *id = a->id;
    for (uint32_t i = 0; i < sh->nassets; i++)
        if (sh->asset_ids[i] == a->id)
            return XR_OK;
    if (sh->nassets == XR_ENGINE_ASSETS_MAX)
        return XR_ERR_CONFIG;
    sh->asset_ids[sh->nassets++] = a->id;
    return XR_OK;
}

static xr_err shared_init(xr_eng_shared *sh, const xr_engine_config *cfg)
{
    memset(sh, 0, sizeof *sh);
    sh->cfg = *cfg;
    xr_engine_config *c = &sh->cfg;
    if (!is_pow2(c->ring_capacity) || c->customers_max == 0 || c->orders_max == 0 ||
        !is_pow2(c->idempotency_max) || c->quotes_max == 0 || c->quote_ttl_ns == 0 ||
        c->slippage_bps >= 10000 || c->ledger_batch_max < 64 || c->nbanks > XR_ENGINE_BANKS_MAX ||
        c->nspreads > XR_ENGINE_SPREADS_MAX || c->nvenues > XR_ENGINE_VENUES_MAX ||
        c->data_dir[0] == '\0')
        return XR_ERR_INVALID_ARGUMENT;
    /* A router's children for one parent must always find room in a venue ring. */
    if (c->ring_capacity < 16)
        return XR_ERR_INVALID_ARGUMENT;
    xr_assets_init_default(&sh->assets);
    for (uint32_t b = 0; b < c->nbanks; b++) {
        if (c->banks[b].id == 0 || c->banks[b].id >= (1u << 24) || c->banks[b].spread_bps >= 10000)
            return XR_ERR_INVALID_ARGUMENT;
        for (uint32_t b2 = 0; b2 < b; b2++)
            if (c->banks[b2].id == c->banks[b].id)
                return XR_ERR_CONFIG;
    }
    for (uint32_t v = 0; v < c->nvenues; v++) {
        xr_engine_venue_config *vc = &c->venues[v];
        if (strcmp(vc->dialect, "binance") != 0 || vc->npairs > XR_ENGINE_VENUE_PAIRS_MAX)
            return XR_ERR_CONFIG;
        for (uint32_t i = 0; i < vc->npairs; i++) {
            vc->pairs[i][XR_ENGINE_PAIR_NAME_MAX - 1] = '\0';
            if (xr_eng_find_pair(sh, vc->pairs[i]) >= 0)
                continue;
            if (sh->npairs == XR_ENG_PAIRS_MAX)
                return XR_ERR_CONFIG;
            xr_eng_pair *p = &sh->pairs[sh->npairs];
            if (xr_pair_name_split(vc->pairs[i], strlen(vc->pairs[i]), p->base, p->quote) != XR_OK)
                return XR_ERR_CONFIG;
            memcpy(p->name, vc->pairs[i], sizeof p->name); /* NUL-terminated above */
            xr_err err = add_asset(sh, p->base, &p->base_asset);
            if (err == XR_OK)
                err = add_asset(sh, p->quote, &p->quote_asset);
            if (err != XR_OK)
                return err;
            sh->npairs++;
        }
    }
    /* Conversions: "FROM/TO", both registry assets; they become engine assets (accounts). */
    for (uint32_t v = 0; v < c->nvenues; v++) {
        xr_engine_venue_config *vc = &c->venues[v];
        if (vc->nconverts > XR_ENGINE_VENUE_CONVERTS_MAX)
            return XR_ERR_CONFIG;
        for (uint32_t i = 0; i < vc->nconverts; i++) {
            char from[XR_ASSET_CODE_MAX + 1], to[XR_ASSET_CODE_MAX + 1];
            uint16_t id;
            vc->converts[i][XR_ENGINE_PAIR_NAME_MAX - 1] = '\0';
            if (xr_pair_name_split(vc->converts[i], strlen(vc->converts[i]), from, to) != XR_OK ||
                strcmp(from, to) == 0 || add_asset(sh, from, &id) != XR_OK ||
                add_asset(sh, to, &id) != XR_OK)
                return XR_ERR_CONFIG;
        }
    }
    for (uint32_t s = 0; s < c->nspreads; s++) {
        const xr_engine_spread_config *sp = &c->spreads[s];
        if (xr_eng_find_bank(sh, sp->bank_id) < 0 || sp->bps >= 10000 ||
            (sp->pair[0] != '\0' && xr_eng_find_pair(sh, sp->pair) < 0))
            return XR_ERR_CONFIG;
    }
    return XR_OK;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static xr_spsc_ring *ring_new(xr_engine *e)
{
    XR_ASSERT(e->nring_mem + 2 <= sizeof e->ring_mem / sizeof e->ring_mem[0]);
    uint32_t cap = e->sh.cfg.ring_capacity;
    size_t len = xr_spsc_ring_footprint(cap, XR_ENG_SLOT);
    xr_spsc_ring *r = xr_eng_alloc(sizeof *r);
    void *mem = xr_eng_alloc(len);
    if (r == NULL || mem == NULL || xr_spsc_ring_init(r, mem, len, cap, XR_ENG_SLOT) != XR_OK) {
        xr_eng_free(r);
        xr_eng_free(mem);
        return NULL;
    }
    e->ring_mem[e->nring_mem++] = r;
    e->ring_mem[e->nring_mem++] = mem;
    return r;
}

void xr_engine_close(xr_engine *e)
{
    if (e == NULL)
        return;
    if (e->venues != NULL)
        e->drv->destroy(e->venues);
    xr_eng_router_destroy(e->router);
    xr_eng_ledger_destroy(e->ledger);
    xr_eng_pricing_destroy(e->pricing);
    xr_eng_gateway_destroy(e->gw);
    for (uint32_t i = 0; i < e->nring_mem; i++)
        xr_eng_free(e->ring_mem[i]);
    xr_eng_free(e);
}

xr_err xr_engine_open_with(const xr_engine_config *cfg, const xr_eng_venue_driver *drv,
                           xr_engine **out)
{
    if (cfg == NULL || drv == NULL || out == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *out = NULL;
    xr_engine *e = xr_eng_alloc(sizeof *e);
    if (e == NULL)
        return XR_ERR_NO_MEMORY;
    xr_err err = shared_init(&e->sh, cfg);
    if (err != XR_OK) {
        xr_eng_free(e);
        return err;
    }
    e->drv = drv;
    xr_eng_rings *r = &e->rings;
    xr_spsc_ring **fixed[] = {&r->ingress,       &r->egress,        &r->gw_pricing,
                              &r->gw_ledger,     &r->pricing_gw,    &r->pricing_ledger,
                              &r->ledger_gw,     &r->ledger_router, &r->router_ledger,
                              &r->router_pricing};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if ((*fixed[i] = ring_new(e)) == NULL)
            goto nomem;
    for (uint32_t v = 0; v < e->sh.cfg.nvenues; v++)
        if ((r->router_venue[v] = ring_new(e)) == NULL ||
            (r->venue_router[v] = ring_new(e)) == NULL || (r->venue_md[v] = ring_new(e)) == NULL)
            goto nomem;

    if ((err = xr_eng_gateway_create(&e->sh, r, &e->gw)) != XR_OK ||
        (err = xr_eng_pricing_create(&e->sh, r, &e->pricing)) != XR_OK ||
        (err = xr_eng_ledger_create(&e->sh, r, &e->ledger)) != XR_OK ||
        (err = xr_eng_router_create(&e->sh, r, &e->router)) != XR_OK ||
        (err = xr_eng_ledger_recover(e->ledger, e->gw)) != XR_OK)
        goto fail;
    xr_eng_venue_io io[XR_ENGINE_VENUES_MAX];
    for (uint32_t v = 0; v < e->sh.cfg.nvenues; v++)
        io[v] = (xr_eng_venue_io){r->router_venue[v], r->venue_router[v], r->venue_md[v]};
    if ((err = drv->create(&e->sh.cfg, &e->sh.assets, io, &e->venues)) != XR_OK)
        goto fail;
    *out = e;
    return XR_OK;
nomem:
    err = XR_ERR_NO_MEMORY;
fail:
    xr_engine_close(e);
    return err;
}

/* ---- the single-thread schedule ----------------------------------------------------------- */

xr_err xr_engine_submit(xr_engine *e, const xr_engine_cmd *cmd)
{
    if (e == NULL || cmd == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    xr_eng_msg *m = xr_spsc_ring_try_reserve(e->rings.ingress);
    if (m == NULL)
        return XR_ERR_AGAIN;
    m->type = XR_ENG_M_CMD;
    memset(&m->u.req, 0, sizeof m->u.req);
    m->u.req.cmd = *cmd;
    xr_spsc_ring_commit(e->rings.ingress, 1);
    return XR_OK;
}

xr_err xr_engine_poll(xr_engine *e, xr_engine_event *out, size_t cap, size_t *n)
{
    if (e == NULL || out == NULL || cap == 0 || n == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    if (e->failed)
        return XR_ERR_INTERNAL;
    /* One pass over every stage, upstream first, so a command submitted before the call
     * travels as far as it can in one poll (a quote is answered in one call). The venue
     * driver runs first and last: first to bring in fills and book changes, last to put the
     * child orders the router just produced on the wire at once. */
    bool work = false;
    xr_err err = e->drv->poll(e->venues, &work);
    if (err == XR_OK)
        err = xr_eng_gateway_poll(e->gw, &work);
    if (err == XR_OK)
        err = xr_eng_pricing_poll(e->pricing, &work);
    if (err == XR_OK)
        err = xr_eng_ledger_poll(e->ledger, &work);
    if (err == XR_OK)
        err = xr_eng_router_poll(e->router, &work);
    if (err == XR_OK)
        err = e->drv->poll(e->venues, &work);
    if (err == XR_OK)
        err = xr_eng_ledger_poll(e->ledger, &work);
    if (err == XR_OK)
        err = xr_eng_gateway_poll(e->gw, &work);
    if (err != XR_OK) {
        e->failed = true;
        return XR_ERR_INTERNAL;
    }
    while (*n < cap) {
        const xr_eng_msg *m = xr_spsc_ring_peek(e->rings.egress);
        if (m == NULL)
            break;
        XR_ASSERT(m->type == XR_ENG_M_EVT);
        out[(*n)++] = m->u.ev;
        xr_spsc_ring_release(e->rings.egress, 1);
    }
    return XR_OK;
}

const char *xr_engine_cmd_kind_name(xr_engine_cmd_kind kind)
{
    static const char *const names[] = {
        [XR_ENGINE_CMD_CUSTOMER_UPSERT] = "customer_upsert",
        [XR_ENGINE_CMD_FUND] = "fund",
        [XR_ENGINE_CMD_DEFUND] = "defund",
        [XR_ENGINE_CMD_QUOTE] = "quote",
        [XR_ENGINE_CMD_NEW_ORDER] = "new_order",
        [XR_ENGINE_CMD_CANCEL] = "cancel",
        [XR_ENGINE_CMD_ORDER_STATUS] = "order_status",
        [XR_ENGINE_CMD_LIST_ORDERS] = "list_orders",
        [XR_ENGINE_CMD_BALANCES] = "balances",
        [XR_ENGINE_CMD_CONVERT] = "convert",
        [XR_ENGINE_CMD_BOOK] = "book",
        [XR_ENGINE_CMD_TICKER] = "ticker",
        [XR_ENGINE_CMD_OHLC] = "ohlc",
        [XR_ENGINE_CMD_PAIRS] = "pairs",
    };
    if ((unsigned)kind >= XR_ENGINE_CMD__COUNT || names[kind] == NULL)
        return "unknown";
    return names[kind];
}

const char *xr_engine_event_kind_name(xr_engine_event_kind kind)
{
    static const char *const names[] = {
        [XR_ENGINE_EV_CUSTOMER] = "customer",
        [XR_ENGINE_EV_FUNDING] = "funding",
        [XR_ENGINE_EV_QUOTE] = "quote",
        [XR_ENGINE_EV_EXEC_REPORT] = "exec_report",
        [XR_ENGINE_EV_CONVERSION_REPORT] = "conversion_report",
        [XR_ENGINE_EV_REJECT] = "reject",
        [XR_ENGINE_EV_BALANCES] = "balances",
        [XR_ENGINE_EV_BOOK] = "book",
        [XR_ENGINE_EV_TICKER] = "ticker",
        [XR_ENGINE_EV_OHLC] = "ohlc",
        [XR_ENGINE_EV_PAIRS] = "pairs",
        [XR_ENGINE_EV_ORDER_LIST] = "order_list",
        [XR_ENGINE_EV_ORDER] = "order",
    };
    if ((unsigned)kind >= XR_ENGINE_EV__COUNT || names[kind] == NULL)
        return "unknown";
    return names[kind];
}
