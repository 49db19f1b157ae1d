/*
 * The engine: open (configuration, rings, stages), the two schedules (single-thread:
 * xr_engine_poll runs the stages; pinned threads: engine threads run them and
 * xr_engine_poll only drains the egress ring), submit, wait, close; and the helpers the
 * stages share.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bearssl_hash.h>

#include "core/base/assert.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/engine/engine_internal.h"
#include "core/engine/venue.h"

/* Inputs of one sleeper: up to 3 + 2 + 3 + 2 fixed rings plus 3 per venue, and egress. */
#define ENG_SLEEPER_IN (16u + 3u * XR_ENGINE_VENUES_MAX)
/* Longest block of an engine thread without the venues stage: a safety net only (every
 * message that thread waits for rings its doorbell), and the bound on how long a producer
 * whose ring was full waits to retry (nothing rings for room). */
#define ENG_IDLE_MAX_NS (1000000ull)

/* A thread that may block (an engine thread, or the caller in xr_engine_wait) and the rings it
 * consumes. `state` is its doorbell: ENG_AWAKE, or ENG_ASLEEP while it blocks on the futex,
 * or (the caller only) ENG_NOTIFY while it blocks in its own loop (xr_engine_arm_notify). */
enum { ENG_AWAKE = 0, ENG_ASLEEP = 1, ENG_NOTIFY = 2 };
typedef struct eng_sleeper {
    _Alignas(128) _Atomic uint32_t state;
    _Alignas(128) uint32_t nin; /* read-only after open */
    bool io; /* runs the venues and blocks in the driver's poll_wait, woken by its wake */
    _Atomic(xr_engine_notify_fn) notify; /* the caller's: xr_engine_set_notify */
    void *_Atomic notify_ctx;
    _Atomic uint32_t notifying; /* engine threads inside notify (set_notify waits for 0) */
    xr_spsc_ring *in[ENG_SLEEPER_IN];
} eng_sleeper;

typedef struct eng_thread {
    struct xr_engine *e;
    uint32_t idx;
    uint32_t stages; /* bit s: stage s (xr_engine_stage) runs here */
    bool started;
    pthread_t tid;
} eng_thread;

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
    _Atomic bool failed;
    /* THREADS schedule: engine threads 0..nthreads-1 (some may have no stage and are not
     * started); sleeper[XR_ENGINE_THREADS_MAX] is the caller (egress). */
    bool threads;
    _Atomic bool stop;
    uint32_t nthreads;
    eng_thread thread[XR_ENGINE_THREADS_MAX];
    eng_sleeper sleeper[XR_ENGINE_THREADS_MAX + 1];
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
    cfg->schedule = XR_ENGINE_SCHEDULE_INLINE;
    /* Two engine threads by default, good on 2 cores: the ledger (fsync) alone, everything
     * else (venue I/O, gateway, pricing, router) on the other; neither pinned. */
    cfg->stage_thread[XR_ENGINE_STAGE_LEDGER] = 1;
    for (uint32_t i = 0; i < XR_ENGINE_THREADS_MAX; i++)
        cfg->thread_cpu[i] = -1;
    cfg->spin_ns = 50000;
    cfg->io_wait_ns = 1000000;
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
    if (c->schedule != XR_ENGINE_SCHEDULE_INLINE && c->schedule != XR_ENGINE_SCHEDULE_THREADS)
        return XR_ERR_INVALID_ARGUMENT;
    if (c->schedule == XR_ENGINE_SCHEDULE_THREADS) {
        for (uint32_t st = 0; st < XR_ENGINE_STAGES; st++)
            if (c->stage_thread[st] >= XR_ENGINE_THREADS_MAX)
                return XR_ERR_INVALID_ARGUMENT;
        for (uint32_t t = 0; t < XR_ENGINE_THREADS_MAX; t++)
            if (c->thread_cpu[t] < -1 || c->thread_cpu[t] >= CPU_SETSIZE)
                return XR_ERR_INVALID_ARGUMENT;
        if (c->io_wait_ns == 0)
            return XR_ERR_INVALID_ARGUMENT;
        /* The ledger's durable commit (fsync) must never hold up another stage. */
        for (uint32_t st = 0; st < XR_ENGINE_STAGES; st++)
            if (st != XR_ENGINE_STAGE_LEDGER &&
                c->stage_thread[st] == c->stage_thread[XR_ENGINE_STAGE_LEDGER])
                return XR_ERR_CONFIG;
    }
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

/* ---- stages and the pinned-thread schedule ------------------------------------------------ */

/* One pass over the stages in `mask` (bit s: xr_engine_stage s), upstream first, so a command
 * submitted before the call travels as far as it can in one pass (a quote is answered in one
 * xr_engine_poll). The venue driver runs first and last: first to bring in fills and book
 * changes, last to put the child orders the router just produced on the wire at once. */
static xr_err run_stages(xr_engine *e, uint32_t mask, bool *work)
{
    static const uint8_t order[] = {
        XR_ENGINE_STAGE_VENUES, XR_ENGINE_STAGE_GATEWAY, XR_ENGINE_STAGE_PRICING,
        XR_ENGINE_STAGE_LEDGER, XR_ENGINE_STAGE_ROUTER,  XR_ENGINE_STAGE_VENUES,
        XR_ENGINE_STAGE_LEDGER, XR_ENGINE_STAGE_GATEWAY,
    };
    xr_err err = XR_OK;
    for (size_t i = 0; i < sizeof order && err == XR_OK; i++) {
        if ((mask & (1u << order[i])) == 0)
            continue;
        switch (order[i]) {
        case XR_ENGINE_STAGE_VENUES:
            err = e->drv->poll(e->venues, work);
            break;
        case XR_ENGINE_STAGE_GATEWAY:
            err = xr_eng_gateway_poll(e->gw, work);
            break;
        case XR_ENGINE_STAGE_PRICING:
            err = xr_eng_pricing_poll(e->pricing, work);
            break;
        case XR_ENGINE_STAGE_LEDGER:
            err = xr_eng_ledger_poll(e->ledger, work);
            break;
        default:
            err = xr_eng_router_poll(e->router, work);
            break;
        }
    }
    return err;
}

#define ENG_ALL_STAGES ((1u << XR_ENGINE_STAGES) - 1u)
#define ENG_CALLER     XR_ENGINE_THREADS_MAX /* the caller's sleeper (egress) */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Wake-ups. A thread with nothing to do spins for cfg.spin_ns, then announces that it sleeps
 * (state = ASLEEP), looks at its input rings once more and blocks: on the futex of `state`,
 * or, for the thread of the venues, in the driver's poll_wait (the io_uring wait, which a
 * network completion also ends). A producer, after a pass that wrote something (or after
 * submit), looks at the states of the other threads and wakes only one that sleeps with input
 * waiting (FUTEX_WAKE, or the driver's wake: an eventfd write; for a caller armed with
 * xr_engine_arm_notify, its notifier): while every thread is awake the doorbell costs a
 * fence and one load of a line nobody writes. The two fences pair up (C17 7.17.4): either
 * the sleeper sees the message, or the producer sees it asleep, so no wake-up is lost. */
static bool inputs_ready(const eng_sleeper *s)
{
    for (uint32_t i = 0; i < s->nin; i++)
        if (!xr_spsc_ring_empty(s->in[i]))
            return true;
    return false;
}

static void eng_wake(xr_engine *e, eng_sleeper *s)
{
    /* Acquire: an ENG_NOTIFY was stored with release after notify was set. */
    uint32_t was = atomic_exchange_explicit(&s->state, ENG_AWAKE, memory_order_acq_rel);
    if (was == ENG_NOTIFY) {
        /* Counted before notify is read: xr_engine_set_notify, after clearing notify, waits
         * until no thread that may have read the old one is still inside it. */
        atomic_fetch_add_explicit(&s->notifying, 1, memory_order_seq_cst);
        xr_engine_notify_fn fn = atomic_load_explicit(&s->notify, memory_order_seq_cst);
        if (fn != NULL)
            fn(atomic_load_explicit(&s->notify_ctx, memory_order_acquire));
        atomic_fetch_sub_explicit(&s->notifying, 1, memory_order_release);
    }
    if (was != ENG_ASLEEP)
        return;
    if (s->io)
        e->drv->wake(e->venues);
    else
        (void)syscall(SYS_futex, (uint32_t *)&s->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Called by the producer after writing into rings: wakes every other sleeper that sleeps
 * with input ready. */
static void ring_doorbells(xr_engine *e, uint32_t self)
{
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i <= ENG_CALLER; i++) {
        eng_sleeper *s = &e->sleeper[i];
        if (i != self && s->nin > 0 &&
            atomic_load_explicit(&s->state, memory_order_relaxed) != ENG_AWAKE && inputs_ready(s))
            eng_wake(e, s);
    }
}

/* Blocks the calling thread (sleeper `s`) for at most `timeout_ns` unless input is ready or
 * the engine stops or failed. Returns false when it did not block. An io sleeper blocks in
 * the driver's poll_wait (a network completion ends it too; `*work` and `*err` are that
 * pass's), any other on the futex of its state. */
static bool eng_sleep(xr_engine *e, eng_sleeper *s, uint64_t timeout_ns, bool *work, xr_err *err)
{
    atomic_store_explicit(&s->state, ENG_ASLEEP, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (inputs_ready(s) || atomic_load_explicit(&e->stop, memory_order_relaxed) ||
        atomic_load_explicit(&e->failed, memory_order_relaxed)) {
        atomic_store_explicit(&s->state, ENG_AWAKE, memory_order_relaxed);
        return false;
    }
    if (s->io) {
        *err = e->drv->poll_wait(e->venues, timeout_ns, work);
    } else {
        struct timespec ts = {(time_t)(timeout_ns / XR_NS_PER_SEC),
                              (long)(timeout_ns % XR_NS_PER_SEC)};
        (void)syscall(SYS_futex, (uint32_t *)&s->state, FUTEX_WAIT_PRIVATE, ENG_ASLEEP, &ts, NULL,
                      0);
    }
    atomic_store_explicit(&s->state, ENG_AWAKE, memory_order_relaxed);
    return true;
}

static void thread_failed(xr_engine *e, const eng_thread *t)
{
    atomic_store_explicit(&e->failed, true, memory_order_seq_cst);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_ERROR, "engine", "engine_thread_failed");
    xr_log_u64(&l, "thread", t->idx);
    xr_log_end(&l);
    eng_wake(e, &e->sleeper[ENG_CALLER]);
}

static void *thread_main(void *arg)
{
    eng_thread *t = arg;
    xr_engine *e = t->e;
    eng_sleeper *me = &e->sleeper[t->idx];
    const uint64_t spin = e->sh.cfg.spin_ns;
    const uint64_t block =
        (t->stages & (1u << XR_ENGINE_STAGE_VENUES)) != 0 ? e->sh.cfg.io_wait_ns : ENG_IDLE_MAX_NS;
    uint64_t idle_since = 0;
    while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
        bool work = false;
        if (run_stages(e, t->stages, &work) != XR_OK) {
            thread_failed(e, t);
            break;
        }
        if (work) {
            ring_doorbells(e, t->idx);
            idle_since = 0;
            continue;
        }
        uint64_t now = xr_clock_mono_ns();
        if (idle_since == 0)
            idle_since = now;
        if (now - idle_since < spin) {
            cpu_relax();
            continue;
        }
        /* Idle for spin_ns: block until a doorbell (the venues' thread also until a network
         * completion), at most `block`. A pass that finds nothing after a wake-up blocks
         * again at once; input that is ready but cannot be taken (back-pressure) yields. */
        ring_doorbells(e, t->idx);
        xr_err err = XR_OK;
        work = false;
        if (!eng_sleep(e, me, block, &work, &err))
            sched_yield();
        if (err != XR_OK) {
            thread_failed(e, t);
            break;
        }
        if (work) {
            ring_doorbells(e, t->idx);
            idle_since = 0;
        }
    }
    return NULL;
}

static void sleeper_add(eng_sleeper *s, xr_spsc_ring *r)
{
    XR_ASSERT(s->nin < ENG_SLEEPER_IN);
    s->in[s->nin++] = r;
}

static void threads_stop(xr_engine *e)
{
    if (!e->threads)
        return;
    atomic_store_explicit(&e->stop, true, memory_order_seq_cst);
    for (uint32_t i = 0; i <= ENG_CALLER; i++)
        eng_wake(e, &e->sleeper[i]);
    for (uint32_t i = 0; i < XR_ENGINE_THREADS_MAX; i++)
        if (e->thread[i].started) {
            (void)pthread_join(e->thread[i].tid, NULL);
            e->thread[i].started = false;
        }
    e->threads = false;
}

/* Starts one thread per thread index that has a stage, pinned when cfg.thread_cpu says so.
 * XR_OK; XR_ERR_CONFIG (the CPU does not exist or is not allowed); XR_ERR_NO_MEMORY. */
static xr_err threads_start(xr_engine *e)
{
    const xr_engine_config *c = &e->sh.cfg;
    xr_eng_rings *r = &e->rings;
    eng_sleeper *sl = e->sleeper;
    const uint8_t *map = c->stage_thread;
    for (uint32_t st = 0; st < XR_ENGINE_STAGES; st++)
        e->thread[map[st]].stages |= 1u << st;
    eng_sleeper *gw = &sl[map[XR_ENGINE_STAGE_GATEWAY]];
    eng_sleeper *pr = &sl[map[XR_ENGINE_STAGE_PRICING]];
    eng_sleeper *lg = &sl[map[XR_ENGINE_STAGE_LEDGER]];
    eng_sleeper *rt = &sl[map[XR_ENGINE_STAGE_ROUTER]];
    eng_sleeper *vn = &sl[map[XR_ENGINE_STAGE_VENUES]];
    sleeper_add(gw, r->ingress);
    sleeper_add(gw, r->pricing_gw);
    sleeper_add(gw, r->ledger_gw);
    sleeper_add(pr, r->gw_pricing);
    sleeper_add(pr, r->router_pricing);
    sleeper_add(lg, r->gw_ledger);
    sleeper_add(lg, r->pricing_ledger);
    sleeper_add(lg, r->router_ledger);
    sleeper_add(rt, r->ledger_router);
    for (uint32_t v = 0; v < c->nvenues; v++) {
        sleeper_add(pr, r->venue_md[v]);
        sleeper_add(rt, r->venue_router[v]);
        sleeper_add(vn, r->router_venue[v]);
    }
    sleeper_add(&sl[ENG_CALLER], r->egress);
    vn->io = e->drv->poll_wait != NULL && e->drv->wake != NULL;
    e->threads = true;
    for (uint32_t i = 0; i < XR_ENGINE_THREADS_MAX; i++) {
        eng_thread *t = &e->thread[i];
        t->e = e;
        t->idx = i;
        if (t->stages == 0)
            continue;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0)
            return XR_ERR_NO_MEMORY;
        int rc = 0;
        if (c->thread_cpu[i] >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((size_t)c->thread_cpu[i], &set);
            rc = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        }
        if (rc == 0)
            rc = pthread_create(&t->tid, &attr, thread_main, t);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_ERROR, "engine", "engine_thread_start_failed");
            xr_log_u64(&l, "thread", i);
            xr_log_i64(&l, "cpu", c->thread_cpu[i]);
            xr_log_i64(&l, "errno", rc);
            xr_log_end(&l);
            return rc == EINVAL ? XR_ERR_CONFIG : XR_ERR_NO_MEMORY;
        }
        t->started = true;
        char name[16];
        snprintf(name, sizeof name, "xr-%s%u",
                 t->stages == (1u << XR_ENGINE_STAGE_LEDGER) ? "ledger" : "eng", i);
        (void)pthread_setname_np(t->tid, name);
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
    threads_stop(e);
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
    /* Everything above (the gateway_load_* of recovery included) happens before the threads
     * start: pthread_create orders it before their first pass. */
    if (e->sh.cfg.schedule == XR_ENGINE_SCHEDULE_THREADS && (err = threads_start(e)) != XR_OK)
        goto fail;
    *out = e;
    return XR_OK;
nomem:
    err = XR_ERR_NO_MEMORY;
fail:
    xr_engine_close(e);
    return err;
}

/* ---- submit, poll, wait ------------------------------------------------------------------- */

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
    if (e->threads) {
        /* The doorbell: a fence and a load; the futex call only if the gateway sleeps. */
        eng_sleeper *s = &e->sleeper[e->sh.cfg.stage_thread[XR_ENGINE_STAGE_GATEWAY]];
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->state, memory_order_relaxed) != ENG_AWAKE)
            eng_wake(e, s);
    }
    return XR_OK;
}

xr_err xr_engine_poll(xr_engine *e, xr_engine_event *out, size_t cap, size_t *n)
{
    if (e == NULL || out == NULL || cap == 0 || n == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    *n = 0;
    if (atomic_load_explicit(&e->failed, memory_order_relaxed))
        return XR_ERR_INTERNAL;
    if (!e->threads) {
        bool work = false;
        if (run_stages(e, ENG_ALL_STAGES, &work) != XR_OK) {
            atomic_store_explicit(&e->failed, true, memory_order_relaxed);
            return XR_ERR_INTERNAL;
        }
    } else {
        /* Polling: the caller is not blocked in its loop (an armed notify is dropped). */
        atomic_store_explicit(&e->sleeper[ENG_CALLER].state, ENG_AWAKE, memory_order_relaxed);
    }
    while (*n < cap) {
        const xr_eng_msg *m = xr_spsc_ring_peek(e->rings.egress);
        if (m == NULL)
            break;
        XR_ASSERT(m->type == XR_ENG_M_EVT);
        out[(*n)++] = m->u.ev;
        xr_spsc_ring_release(e->rings.egress, 1);
    }
    if (e->threads && *n > 0) {
        /* Room in egress: a gateway that blocked on a full egress ring resumes. */
        eng_sleeper *s = &e->sleeper[e->sh.cfg.stage_thread[XR_ENGINE_STAGE_GATEWAY]];
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&s->state, memory_order_relaxed) != ENG_AWAKE)
            eng_wake(e, s);
    }
    return XR_OK;
}

xr_err xr_engine_wait(xr_engine *e, uint64_t timeout_ns)
{
    if (e == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    const uint64_t start = xr_clock_mono_ns();
    eng_sleeper *me = &e->sleeper[ENG_CALLER];
    for (;;) {
        if (atomic_load_explicit(&e->failed, memory_order_relaxed))
            return XR_ERR_INTERNAL;
        if (!xr_spsc_ring_empty(e->rings.egress))
            return XR_OK;
        uint64_t now = xr_clock_mono_ns(), spent = now - start;
        if (spent >= timeout_ns)
            return XR_ERR_TIMEOUT;
        if (!e->threads) {
            bool work = false;
            if (run_stages(e, ENG_ALL_STAGES, &work) != XR_OK) {
                atomic_store_explicit(&e->failed, true, memory_order_relaxed);
                return XR_ERR_INTERNAL;
            }
            if (!work && spent >= e->sh.cfg.spin_ns) {
                struct timespec ts = {0, 20000}; /* idle: 20 us between passes */
                nanosleep(&ts, NULL);
            }
        } else if (spent < e->sh.cfg.spin_ns) {
            cpu_relax();
        } else {
            bool none = false;
            xr_err ignored = XR_OK;
            (void)eng_sleep(e, me, timeout_ns - spent, &none, &ignored);
        }
    }
}

xr_err xr_engine_set_notify(xr_engine *e, xr_engine_notify_fn fn, void *ctx)
{
    if (e == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (!e->threads)
        return XR_ERR_INVALID_STATE;
    eng_sleeper *me = &e->sleeper[ENG_CALLER];
    /* Not while armed (documented): an engine thread reads these only after taking an
     * ENG_NOTIFY that xr_engine_arm_notify stored with release, after this. */
    /* The old notifier first goes away and every call of it in flight returns (a host may
     * free what ctx points to once this returns), then ctx, then the new one (release: a
     * thread that reads the new fn reads its ctx). */
    atomic_store_explicit(&me->notify, NULL, memory_order_seq_cst);
    while (atomic_load_explicit(&me->notifying, memory_order_acquire) != 0)
        sched_yield();
    atomic_store_explicit(&me->notify_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&me->notify, fn, memory_order_release);
    return XR_OK;
}

xr_err xr_engine_arm_notify(xr_engine *e)
{
    if (e == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    if (!e->threads)
        return XR_ERR_INVALID_STATE;
    eng_sleeper *me = &e->sleeper[ENG_CALLER];
    if (atomic_load_explicit(&me->notify, memory_order_relaxed) == NULL)
        return XR_ERR_INVALID_STATE;
    if (atomic_load_explicit(&e->failed, memory_order_relaxed))
        return XR_ERR_INTERNAL;
    /* The same pairing as a sleeping thread's: announce, fence, look once more. */
    atomic_store_explicit(&me->state, ENG_NOTIFY, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (!xr_spsc_ring_empty(e->rings.egress) ||
        atomic_load_explicit(&e->failed, memory_order_relaxed)) {
        atomic_store_explicit(&me->state, ENG_AWAKE, memory_order_relaxed);
        return XR_ERR_AGAIN;
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
