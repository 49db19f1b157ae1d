/*
 * The Binance venue session against the in-process simulator, over real loopback sockets
 * (127.0.0.1), plain and TLS: both run on one adapters/net loop in this thread, and the
 * markets step only when the test says so (step_us = 0), so every book and fill is known.
 *
 *   book     the session's book equals the simulator's (top 20 levels and lastUpdateId, read
 *            back through /sim/state's JSON) after >= 10,000 depth updates with injected
 *            sequence gaps and WebSocket disconnects, each forcing a resync;
 *   orders   orders placed, partially filled, queried, listed, cancelled and IOC-expired,
 *            with fills computed by hand from a book set exactly through the market API;
 *   429      a clock jump (-1021, clock re-sync, resend), then a 429 storm: the limiter backs
 *            off and the simulator counts no violation;
 *   unknown  an order whose answer is lost (5xx after execution; a response slower than the
 *            request timeout) ends UNKNOWN and is resolved by a query by client order id.
 *
 * Deadlines are generous (a loaded 2-core machine, sanitizers) and nothing asserts speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/net/loop.h"
#include "adapters/net/tls.h"
#include "adapters/sim/sim.h"
#include "adapters/venues/binance/codec.h"
#include "adapters/venues/binance/session.h"
#include "core/base/clock.h"
#include "core/market/book.h"

#define DATA(f)     XR_TEST_DATA "/tls/" f
#define WAIT_NS     (60ull * XR_NS_PER_SEC)
#define MAX_EVENTS  4096
#define MAX_RESULTS 256
#define TOP_N       20

typedef struct env {
    xr_net_loop *loop;
    xr_sim *sim;
    xr_binance_session *s;
    xr_tls_trust trust;
    bool tls;
    xr_sim_market *btc; /* the simulator's BTCUSDT market */
    uint64_t want_ws;   /* WebSockets the simulator must have accepted to be ready */
    /* order-path events (market data is only counted) */
    xr_event *ev;
    size_t nev;
    uint64_t n_market_events;
    xr_binance_result res[MAX_RESULTS];
    size_t nres;
} env;

static void on_event(void *ctx, const xr_event *ev)
{
    env *e = ctx;
    if (ev->kind >= XR_EV_ORDER_ACK && ev->kind <= XR_EV_ERROR) {
        if (e->nev < MAX_EVENTS)
            e->ev[e->nev++] = *ev;
    } else {
        e->n_market_events++;
    }
}

static void on_result(void *ctx, const xr_binance_result *r)
{
    env *e = ctx;
    assert_true(e->nres < MAX_RESULTS);
    e->res[e->nres++] = *r;
}

typedef struct opts {
    bool tls;
    bool convert; /* the simulator offers USD <-> USDC (10 bps) and the account has 1000 USD */
    uint32_t nsymbols;
    uint64_t request_timeout_ns;
} opts;

static void env_start(env *e, opts o)
{
    memset(e, 0, sizeof *e);
    e->ev = calloc(MAX_EVENTS, sizeof *e->ev);
    assert_non_null(e->ev);
    e->tls = o.tls;
    e->want_ws = o.nsymbols > 0 ? 2 : 1;
    xr_net_loop_config lc;
    xr_net_loop_config_default(&lc);
    assert_int_equal(xr_net_loop_create(&lc, &e->loop), XR_OK);

    xr_sim_config *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    sc->nvenues = 1;
    xr_sim_venue_config_default(&sc->venues[0], "binance");
    sc->venues[0].port = 0;
    sc->venues[0].step_us = 0; /* the test steps the market */
    if (o.convert) {
        xr_sim_venue_config *v = &sc->venues[0];
        char why0[128];
        assert_int_equal(xr_sim_convert_parse("USD:USDC:fee_bps=10,decimals=6", &v->converts[0],
                                              why0, sizeof why0),
                         XR_OK);
        assert_int_equal(xr_sim_convert_parse("USDC:USD:fee_bps=10,decimals=2", &v->converts[1],
                                              why0, sizeof why0),
                         XR_OK);
        v->nconverts = 2;
        xr_sim_account_config *a = &v->accounts[0];
        snprintf(a->balances[a->nbalances].asset, sizeof a->balances[0].asset, "USD");
        a->balances[a->nbalances++].amount = 1000 * XR_SIM_UNIT;
    }
    if (o.tls) {
        snprintf(sc->venues[0].tls_cert, sizeof sc->venues[0].tls_cert, "%s",
                 DATA("server-rsa-chain.pem"));
        snprintf(sc->venues[0].tls_key, sizeof sc->venues[0].tls_key, "%s", DATA("server-rsa.key"));
        xr_tls_trust_init(&e->trust);
        assert_int_equal(xr_tls_trust_add_file(&e->trust, DATA("ca.pem")), XR_OK);
    }
    char why[256] = "";
    xr_err err = xr_sim_create(sc, e->loop, &e->sim, why, sizeof why);
    if (err != XR_OK)
        fprintf(stderr, "sim: %s\n", why);
    assert_int_equal(err, XR_OK);
    xr_sim_engine *eng = xr_sim_engine_of(e->sim, 0);
    int pair = xr_sim_engine_find_pair(eng, "BTCUSDT", 7);
    assert_true(pair >= 0);
    e->btc = xr_sim_engine_market(eng, (uint32_t)pair);

    xr_binance_session_config c;
    xr_binance_session_config_default(&c);
    c.ip = "127.0.0.1";
    c.port = xr_sim_port(e->sim, 0);
    c.host = "localhost";
    c.trust = o.tls ? &e->trust : NULL;
    c.api_key = sc->venues[0].accounts[0].api_key;
    c.secret = sc->venues[0].accounts[0].secret;
    c.nsymbols = o.nsymbols;
    c.symbols[0] = "BTCUSDT";
    c.depth_stream = "@depth@0ms"; /* one depthUpdate per simulator poll with changes */
    c.request_timeout_ns = o.request_timeout_ns ? o.request_timeout_ns : 10 * XR_NS_PER_SEC;
    c.on_event = on_event;
    c.on_result = on_result;
    c.ctx = e;
    c.seed = 7;
    assert_int_equal(xr_binance_session_create(&c, e->loop, &e->s), XR_OK);
    free(sc); /* both configurations are copied */
}

static void env_stop(env *e)
{
    xr_binance_session_destroy(e->s);
    xr_sim_destroy(e->sim);
    xr_net_loop_destroy(e->loop);
    if (e->tls)
        xr_tls_trust_free(&e->trust);
    free(e->ev);
}

/* One turn of the shared loop: sockets, then the simulator's and the session's timers. */
static void turn(env *e, uint64_t timeout_ns)
{
    assert_int_equal(xr_net_loop_poll(e->loop, timeout_ns, NULL), XR_OK);
    (void)xr_sim_run_due(e->sim);
    (void)xr_binance_session_run_due(e->s);
}

typedef bool (*cond_fn)(env *e, const void *arg);

static bool pump_for(env *e, cond_fn cond, const void *arg, uint64_t max_ns)
{
    uint64_t until = xr_clock_mono_ns() + max_ns;
    while (!cond(e, arg)) {
        if (xr_clock_mono_ns() > until)
            return false;
        turn(e, XR_NS_PER_MS);
    }
    return true;
}

static void pump(env *e, cond_fn cond, const void *arg)
{
    assert_true(pump_for(e, cond, arg, WAIT_NS));
}

/* Instruments loaded, the user-data stream live and, with symbols, the market stream
 * subscribed (the simulator has upgraded both WebSockets), so that every book change from
 * now on reaches the session. */
static bool is_ready(env *e, const void *arg)
{
    (void)arg;
    xr_sim_counters c;
    xr_sim_get_counters(e->sim, 0, &c);
    return xr_binance_session_get_state(e->s) == XR_BINANCE_SESSION_READY &&
           xr_binance_session_user_stream_live(e->s) && c.ws_connections >= e->want_ws;
}

/* The session's book is live and at the simulator's last update id. */
static bool caught_up(env *e, const void *arg)
{
    (void)arg;
    const xr_book *b = xr_binance_session_book(e->s, 0);
    return xr_book_get_state(b) == XR_BOOK_SYNCED &&
           xr_book_update_id(b) == xr_sim_market_last_id(e->btc);
}

static bool has_results(env *e, const void *arg)
{
    return e->nres >= *(const size_t *)arg;
}

static void wait_results(env *e, size_t n)
{
    pump(e, has_results, &n);
}

/* ---- comparing books ---------------------------------------------------------------- */

typedef struct snap {
    xr_book_level bids[XR_EV_BOOK_LEVELS_MAX], asks[XR_EV_BOOK_LEVELS_MAX];
    uint32_t nb, na;
    uint64_t id;
} snap;

static xr_err snap_collect(void *ctx, const xr_event *ev)
{
    snap *sn = ctx;
    assert_int_equal(ev->kind, XR_EV_BOOK_SNAPSHOT);
    sn->id = ev->u.book.last_id;
    for (unsigned i = 0; i < ev->u.book.n_bids; i++)
        sn->bids[sn->nb++] = *xr_ev_book_bid(&ev->u.book, i);
    for (unsigned i = 0; i < ev->u.book.n_asks; i++)
        sn->asks[sn->na++] = *xr_ev_book_ask(&ev->u.book, i);
    return XR_OK;
}

/* The simulator's top TOP_N levels as /sim/state shows them, decoded by the Binance codec as
 * a REST depth snapshot (the same JSON as GET /api/v3/depth). */
static void sim_top(env *e, snap *sn)
{
    static char buf[1 << 16];
    size_t n = xr_sim_state_json(e->sim, 0, "BTCUSDT", TOP_N, buf, sizeof buf);
    assert_true(n > 0);
    const char *p = strstr(buf, "\"book\":");
    assert_non_null(p);
    p += 7;
    const char *end = strchr(p, '}'); /* the depth object holds no nested object */
    assert_non_null(end);
    memset(sn, 0, sizeof *sn);
    const xr_instrument *inst = xr_binance_session_instrument(e->s, "BTCUSDT");
    assert_non_null(inst);
    xr_binance_codec codec = {.instruments = (xr_instruments *)xr_binance_session_instruments(e->s),
                              .venue = 0};
    xr_decode_error de;
    assert_int_equal(
        xr_binance_decode_depth(&codec, inst, p, (size_t)(end - p + 1), snap_collect, sn, &de),
        XR_OK);
}

static void assert_books_equal(env *e)
{
    snap sn;
    sim_top(e, &sn);
    const xr_book *b = xr_binance_session_book(e->s, 0);
    assert_int_equal(xr_book_verify(b), XR_OK);
    assert_int_equal(xr_book_update_id(b), sn.id);
    xr_book_level lv[TOP_N];
    uint32_t n = 0;
    uint64_t now = xr_clock_mono_ns();
    assert_int_equal(xr_book_top(b, XR_SIDE_BUY, now, lv, TOP_N, &n), XR_OK);
    assert_int_equal(n, sn.nb);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(lv[i].price.ticks == sn.bids[i].price.ticks);
        assert_true(lv[i].qty.units == sn.bids[i].qty.units);
    }
    assert_int_equal(xr_book_top(b, XR_SIDE_SELL, now, lv, TOP_N, &n), XR_OK);
    assert_int_equal(n, sn.na);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(lv[i].price.ticks == sn.asks[i].price.ticks);
        assert_true(lv[i].qty.units == sn.asks[i].qty.units);
    }
}

/* Steps one at a time until the session has caught up: a checkpoint whose last update was
 * dropped by the gap fault is only noticed (and resynced) when the next one arrives. */
static void catch_up(env *e)
{
    for (int tries = 0; tries < 200; tries++) {
        if (pump_for(e, caught_up, NULL, 300 * XR_NS_PER_MS))
            return;
        assert_int_equal(xr_sim_step(e->sim, 0, -1, 1), XR_OK);
    }
    fail_msg("the session's book never caught up with the simulator's");
}

static void run_book(bool tls)
{
    env e;
    env_start(&e, (opts){.tls = tls, .nsymbols = 1});
    pump(&e, is_ready, NULL);
    catch_up(&e);
    assert_books_equal(&e);

    /* Every 997th depthUpdate of each subscriber is lost (a gap in U/u), and every market
     * WebSocket is cut after 2,500 messages. */
    xr_sim_fault gap = {.kind = XR_SIM_FAULT_GAP, .every = 997};
    xr_sim_fault cut = {.kind = XR_SIM_FAULT_DISCONNECT, .after = 2500};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &gap), XR_OK);
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &cut), XR_OK);

    const xr_binance_session_stats *st = xr_binance_session_get_stats(e.s);
    uint32_t checks = 0;
    for (uint32_t i = 0; st->depth_updates < 10000 || i < 10000; i++) {
        assert_true(i < 100000);
        /* 1..3 market steps per depthUpdate: deltas of one or several changes. */
        assert_int_equal(xr_sim_step(e.sim, 0, -1, 1 + i % 3), XR_OK);
        turn(&e, 0);
        if (i % 500 == 499) {
            catch_up(&e);
            assert_books_equal(&e);
            checks++;
        }
    }
    catch_up(&e);
    assert_books_equal(&e);

    xr_sim_counters sc;
    xr_sim_get_counters(e.sim, 0, &sc);
    const xr_binance_sync_stats *ss = xr_binance_session_sync_stats(e.s, 0);
    fprintf(stderr,
            "book(%s): %llu depth updates, %u checkpoints, %llu gaps sent, %llu ws cuts, "
            "%llu resyncs, %llu ws connects, %llu books live\n",
            tls ? "tls" : "plain", (unsigned long long)st->depth_updates, checks,
            (unsigned long long)sc.depth_gaps, (unsigned long long)sc.ws_disconnects,
            (unsigned long long)ss->resyncs, (unsigned long long)st->ws_connects,
            (unsigned long long)st->books_live);
    assert_true(st->depth_updates >= 10000);
    assert_true(sc.depth_gaps >= 5);
    assert_true(sc.ws_disconnects >= 2);
    assert_true(ss->gaps >= 1);
    assert_true(st->ws_connects >= 3);
    assert_true(st->books_live >= 1 + sc.ws_disconnects);
    assert_int_equal(st->decode_errors, 0);
    env_stop(&e);
}

static void test_book_plain(void **state)
{
    (void)state;
    run_book(false);
}

static void test_book_tls(void **state)
{
    (void)state;
    run_book(true);
}

/* ---- orders ------------------------------------------------------------------------- */

static xr_i128 dec(const char *s, unsigned scale)
{
    xr_i128 v = 0;
    assert_int_equal(xr_decimal_parse(s, strlen(s), scale, 0, &v, NULL), XR_OK);
    return v;
}

/* The simulator's units: BTCUSDT prices in ticks of 0.01, quantities in lots of 0.00001. */
static void set_level(env *e, int side, const char *price, const char *qty)
{
    int64_t ticks = (int64_t)dec(price, 2), lots = (int64_t)dec(qty, 5);
    assert_int_equal(xr_sim_market_set_synth(e->btc, side, ticks, lots), XR_OK);
}

static const xr_event *find_ev(env *e, size_t from, int kind, const char *cid)
{
    for (size_t i = from; i < e->nev; i++)
        if (e->ev[i].kind == kind && strcmp(e->ev[i].u.order.client_order_id, cid) == 0)
            return &e->ev[i];
    return NULL;
}

/* The first event of `kind` for `cid` with `status`: the REST answer and the user-data
 * stream both report an order's life (the stream's NEW is an ORDER_ACK too), in either
 * order, so the tests pick events by content. */
static const xr_event *find_ev_status(env *e, size_t from, int kind, const char *cid, int status)
{
    for (size_t i = from; i < e->nev; i++)
        if (e->ev[i].kind == kind && e->ev[i].u.order.status == status &&
            strcmp(e->ev[i].u.order.client_order_id, cid) == 0)
            return &e->ev[i];
    return NULL;
}

static size_t count_ev(env *e, int kind, const char *cid)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nev; i++)
        n += e->ev[i].kind == kind && strcmp(e->ev[i].u.order.client_order_id, cid) == 0;
    return n;
}

typedef struct ev_want {
    int kind;
    const char *cid;
    size_t n;
} ev_want;

static bool has_events(env *e, const void *arg)
{
    const ev_want *w = arg;
    return count_ev(e, w->kind, w->cid) >= w->n;
}

static const xr_binance_result *last_result(env *e)
{
    assert_true(e->nres > 0);
    return &e->res[e->nres - 1];
}

/* The book the orders trade against, exactly. */
static void set_exact_book(env *e)
{
    xr_sim_market_clear_synth(e->btc);
    set_level(e, XR_SIM_ASK, "60000.00", "0.5");
    set_level(e, XR_SIM_ASK, "60001.00", "1.0");
    set_level(e, XR_SIM_BID, "59990.00", "2.0");
    set_level(e, XR_SIM_BID, "59980.00", "1.0");
}

static void run_orders(bool tls)
{
    env e;
    env_start(&e, (opts){.tls = tls, .nsymbols = 1});
    pump(&e, is_ready, NULL);
    set_exact_book(&e);
    pump(&e, caught_up, NULL); /* no market steps here: the book must stay as set */
    assert_books_equal(&e);

    const xr_instrument *inst = xr_binance_session_instrument(e.s, "BTCUSDT");
    assert_non_null(inst);
    unsigned ps = inst->scale.price, bs = inst->scale.base;

    /* BUY 0.8 @ 60000.50 GTC: takes the 0.5 at 60000.00, the 0.3 left rests. */
    xr_binance_order_params p = {.inst = inst,
                                 .side = XR_SIDE_BUY,
                                 .type = XR_ORDER_TYPE_LIMIT,
                                 .tif = XR_TIF_GTC,
                                 .price = {dec("60000.50", ps)},
                                 .qty = {dec("0.8", bs)},
                                 .client_order_id = "sess-b-1"};
    size_t from = e.nev;
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_OK);
    wait_results(&e, 1);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    assert_string_equal(last_result(&e)->client_order_id, "sess-b-1");
    const xr_event *ack =
        find_ev_status(&e, from, XR_EV_ORDER_ACK, "sess-b-1", XR_ORDER_PARTIALLY_FILLED);
    assert_non_null(ack);
    assert_true(ack->u.order.cum_qty.units == dec("0.5", bs));
    const xr_event *fill = find_ev(&e, from, XR_EV_ORDER_FILL, "sess-b-1");
    assert_non_null(fill);
    assert_true(fill->u.order.last_qty.units == dec("0.5", bs));
    assert_true(fill->u.order.last_price.ticks == dec("60000.00", ps));
    /* The user-data stream reports the same execution. */
    ev_want w = {XR_EV_ORDER_FILL, "sess-b-1", 2};
    pump(&e, has_events, &w);

    /* The local book shows our resting 0.3 on top of the bids and the ask level gone. */
    pump(&e, caught_up, NULL);
    assert_books_equal(&e);
    xr_book_level top;
    uint32_t n = 0;
    const xr_book *b = xr_binance_session_book(e.s, 0);
    assert_int_equal(xr_book_top(b, XR_SIDE_BUY, xr_clock_mono_ns(), &top, 1, &n), XR_OK);
    assert_true(top.price.ticks == dec("60000.50", ps) && top.qty.units == dec("0.3", bs));
    assert_int_equal(xr_book_top(b, XR_SIDE_SELL, xr_clock_mono_ns(), &top, 1, &n), XR_OK);
    assert_true(top.price.ticks == dec("60001.00", ps) && top.qty.units == dec("1.0", bs));

    /* Query and list. */
    from = e.nev;
    assert_int_equal(xr_binance_session_order_query(e.s, inst, "sess-b-1", NULL), XR_OK);
    wait_results(&e, 2);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    const xr_event *q = find_ev(&e, from, XR_EV_ORDER_STATUS, "sess-b-1");
    assert_non_null(q);
    assert_int_equal(q->u.order.status, XR_ORDER_PARTIALLY_FILLED);
    assert_true(q->u.order.cum_qty.units == dec("0.5", bs));
    assert_true(q->u.order.qty.units == dec("0.8", bs));
    assert_true(q->u.order.price.ticks == dec("60000.50", ps));
    from = e.nev;
    assert_int_equal(xr_binance_session_open_orders(e.s, inst, NULL), XR_OK);
    wait_results(&e, 3);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    assert_non_null(find_ev(&e, from, XR_EV_ORDER_STATUS, "sess-b-1"));

    /* Cancel: the 0.3 left is released. */
    from = e.nev;
    assert_int_equal(xr_binance_session_order_cancel(e.s, inst, "sess-b-1", NULL), XR_OK);
    wait_results(&e, 4);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    const xr_event *cx = find_ev(&e, from, XR_EV_ORDER_CANCEL, "sess-b-1");
    assert_non_null(cx);
    assert_int_equal(cx->u.order.status, XR_ORDER_CANCELLED);
    assert_true(cx->u.order.cum_qty.units == dec("0.5", bs));
    pump(&e, caught_up, NULL);
    assert_books_equal(&e);

    /* SELL 2.5 @ 59985.00 IOC: takes the 2.0 at 59990.00; 59980.00 is beyond the limit, so
     * the 0.5 left expires. */
    p.side = XR_SIDE_SELL;
    p.tif = XR_TIF_IOC;
    p.price.ticks = dec("59985.00", ps);
    p.qty.units = dec("2.5", bs);
    p.client_order_id = "sess-b-2";
    from = e.nev;
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_OK);
    wait_results(&e, 5);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    ack = find_ev_status(&e, from, XR_EV_ORDER_ACK, "sess-b-2", XR_ORDER_EXPIRED);
    assert_non_null(ack);
    assert_true(ack->u.order.cum_qty.units == dec("2.0", bs));
    fill = find_ev(&e, from, XR_EV_ORDER_FILL, "sess-b-2");
    assert_non_null(fill);
    assert_true(fill->u.order.last_qty.units == dec("2.0", bs));
    assert_true(fill->u.order.last_price.ticks == dec("59990.00", ps));
    pump(&e, caught_up, NULL);
    assert_books_equal(&e);

    /* A venue rejection: cancelling an order that does not exist. */
    assert_int_equal(xr_binance_session_order_cancel(e.s, inst, "sess-none", NULL), XR_OK);
    wait_results(&e, 6);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_REJECTED);
    assert_int_equal(last_result(&e)->err, XR_ERR_NOT_FOUND);
    /* Local rejections send nothing. */
    p.client_order_id = "bad id with spaces";
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_ERR_INVALID_ARGUMENT);
    p.client_order_id = "sess-b-3";
    p.qty.units = dec("0.000001", bs); /* off the lot step */
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_ERR_INVALID_AMOUNT);
    assert_int_equal(e.nres, 6);

    /* Nothing left open. */
    from = e.nev;
    assert_int_equal(xr_binance_session_open_orders(e.s, inst, NULL), XR_OK);
    wait_results(&e, 7);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    for (size_t i = from; i < e.nev; i++) /* late stream reports may arrive meanwhile */
        assert_int_not_equal(e.ev[i].kind, XR_EV_ORDER_STATUS);
    env_stop(&e);
}

static void test_orders_plain(void **state)
{
    (void)state;
    run_orders(false);
}

static void test_orders_tls(void **state)
{
    (void)state;
    run_orders(true);
}

/* ---- clock drift and the 429 storm ---------------------------------------------------- */

static void test_clock_and_429(void **state)
{
    (void)state;
    env e;
    env_start(&e, (opts){.nsymbols = 0});
    pump(&e, is_ready, NULL);

    /* The venue's clock jumps so that its minute is 54 s old (and at least 6 s away from
     * ours, beyond recvWindow): the next signed request gets -1021, the session re-samples
     * the clock and resends. The storm then starts near the end of the venue's minute, so
     * the limiter's wait for the next weight window (a 429 marks the window spent) is a
     * few seconds; a stalled machine can only make it one window longer. */
    int64_t wall = xr_clock_wall_ns() / (int64_t)XR_NS_PER_MS;
    int64_t off = ((54000 - wall % 60000) % 60000 + 60000) % 60000;
    if (off < 6000)
        off += 60000;
    xr_sim_fault clock = {.kind = XR_SIM_FAULT_CLOCK, .offset_ms = off};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &clock), XR_OK);
    assert_int_equal(xr_binance_session_account(e.s, NULL), XR_OK);
    wait_results(&e, 1);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    const xr_binance_session_stats *st = xr_binance_session_get_stats(e.s);
    assert_int_equal(st->clock_resyncs, 1);

    xr_sim_counters before;
    xr_sim_get_counters(e.sim, 0, &before);
    xr_sim_fault storm = {.kind = XR_SIM_FAULT_HTTP_429, .count = 1, .retry_after_s = 1};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &storm), XR_OK);
    uint64_t t0 = xr_clock_mono_ns();
    for (int i = 0; i < 5; i++)
        assert_int_equal(xr_binance_session_account(e.s, NULL), XR_OK);
    size_t six = 6;
    assert_true(pump_for(&e, has_results, &six, 130 * XR_NS_PER_SEC));
    uint64_t took = xr_clock_mono_ns() - t0;
    for (size_t i = 1; i < 6; i++)
        assert_int_equal(e.res[i].outcome, XR_BINANCE_CONFIRMED);
    xr_sim_counters after;
    xr_sim_get_counters(e.sim, 0, &after);
    fprintf(stderr, "429: %llu answered 429, %llu violations, waited %llu ms\n",
            (unsigned long long)(after.http_429 - before.http_429),
            (unsigned long long)after.violations, (unsigned long long)(took / XR_NS_PER_MS));
    assert_int_equal(after.http_429 - before.http_429, 1);
    assert_int_equal(after.violations, 0);
    assert_int_equal(after.http_418, 0);
    assert_int_equal(st->rate_limited, 1);
    /* Retry-After (1 s) was honoured: nothing went out before it had passed. */
    assert_true(took >= XR_NS_PER_SEC);
    env_stop(&e);
}

/* ---- unknown outcomes ----------------------------------------------------------------- */

static void run_unknown(bool tls)
{
    env e;
    env_start(&e, (opts){.tls = tls, .nsymbols = 0, .request_timeout_ns = 2 * XR_NS_PER_SEC});
    pump(&e, is_ready, NULL);
    set_exact_book(&e);
    const xr_instrument *inst = xr_binance_session_instrument(e.s, "BTCUSDT");
    assert_non_null(inst);
    unsigned ps = inst->scale.price, bs = inst->scale.base;

    /* The order executes and its answer is lost (503 after execution). */
    xr_sim_fault f5 = {
        .kind = XR_SIM_FAULT_HTTP_5XX, .count = 1, .status = 503, .after_exec = true};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f5), XR_OK);
    xr_binance_order_params p = {.inst = inst,
                                 .side = XR_SIDE_BUY,
                                 .type = XR_ORDER_TYPE_LIMIT,
                                 .tif = XR_TIF_IOC,
                                 .price = {dec("60000.00", ps)},
                                 .qty = {dec("0.2", bs)},
                                 .client_order_id = "sess-d-1"};
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_OK);
    wait_results(&e, 1);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_UNKNOWN);
    assert_int_equal(last_result(&e)->http_status, 503);
    /* Resolved by a query by client order id: it did fill. */
    size_t from = e.nev;
    assert_int_equal(xr_binance_session_order_query(e.s, inst, "sess-d-1", NULL), XR_OK);
    wait_results(&e, 2);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    const xr_event *q = find_ev(&e, from, XR_EV_ORDER_STATUS, "sess-d-1");
    assert_non_null(q);
    assert_int_equal(q->u.order.status, XR_ORDER_FILLED);
    assert_true(q->u.order.cum_qty.units == dec("0.2", bs));

    /* The answer comes later than the request timeout: UNKNOWN, the connection is dropped,
     * and the query on a new connection finds the order filled. */
    xr_sim_fault slow = {.kind = XR_SIM_FAULT_LATENCY, .ms = 4000};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &slow), XR_OK);
    p.client_order_id = "sess-d-2";
    p.qty.units = dec("0.1", bs);
    assert_int_equal(xr_binance_session_order_new(e.s, &p, NULL), XR_OK);
    wait_results(&e, 3);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_UNKNOWN);
    assert_int_equal(last_result(&e)->err, XR_ERR_TIMEOUT);
    xr_sim_fault clear = {.kind = XR_SIM_FAULT_CLEAR};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &clear), XR_OK);
    from = e.nev;
    assert_int_equal(xr_binance_session_order_query(e.s, inst, "sess-d-2", NULL), XR_OK);
    wait_results(&e, 4);
    assert_int_equal(last_result(&e)->outcome, XR_BINANCE_CONFIRMED);
    q = find_ev(&e, from, XR_EV_ORDER_STATUS, "sess-d-2");
    assert_non_null(q);
    assert_int_equal(q->u.order.status, XR_ORDER_FILLED);
    assert_true(q->u.order.cum_qty.units == dec("0.1", bs));
    const xr_binance_session_stats *st = xr_binance_session_get_stats(e.s);
    assert_int_equal(st->unknown_outcomes, 2);
    assert_int_equal(st->timeouts, 1);
    env_stop(&e);
}

static void test_unknown_plain(void **state)
{
    (void)state;
    run_unknown(false);
}

static void test_unknown_tls(void **state)
{
    (void)state;
    run_unknown(true);
}

/* ---- Convert ------------------------------------------------------------------------------ */

static void sim_free_balance(env *e, const char *asset, xr_i128 *out)
{
    xr_sim_engine *eng = xr_sim_engine_of(e->sim, 0);
    xr_i128 locked;
    xr_sim_engine_balance(eng, 0, xr_sim_engine_find_asset(eng, asset), out, &locked);
}

/* Quote, accept, status through the session at the ledger's scales (USD/2, USDC/6): 100 USD
 * at 1:1 less 10 bps is 99.9 USDC; 12.345678 USDC is 12.333332322 USD, 12.33 at USD's 2
 * places. An accept whose answer is lost (503 after execution) ends UNKNOWN and the status
 * query by the same quote id finds it settled; a refused accept leaves the quote usable; a
 * used quote is refused; bad arguments are refused before anything is sent. */
static void test_convert(void **state)
{
    (void)state;
    env e;
    env_start(&e, (opts){.convert = true});
    pump(&e, is_ready, NULL);
    const xr_amount usd100 = {10000};
    assert_int_equal(xr_binance_session_convert_quote(e.s, "USD", "USDC", usd100, 2, 6, NULL),
                     XR_OK);
    wait_results(&e, 1);
    xr_binance_result r = *last_result(&e);
    assert_int_equal(r.op, XR_BINANCE_OP_CONVERT_QUOTE);
    assert_int_equal(r.outcome, XR_BINANCE_CONFIRMED);
    assert_true(r.quote_id[0] != '\0');
    assert_string_equal(r.quote_id, r.quote.quote_id);
    assert_true(r.quote.from_amount.units == 10000);
    assert_true(r.quote.to_amount.units == 99900000);
    assert_true(r.quote.ratio == (xr_i128)999 * 1000000000000000LL); /* 0.999 at 18 places */
    char qid[XR_BINANCE_CONVERT_ID_MAX + 1];
    memcpy(qid, r.quote_id, sizeof qid);

    assert_int_equal(xr_binance_session_convert_accept(e.s, qid, NULL), XR_OK);
    wait_results(&e, 2);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_CONFIRMED);
    assert_int_equal(r.order.status, XR_BINANCE_CONVERT_PROCESS);
    assert_string_equal(r.quote_id, qid);
    assert_true(r.order.order_id[0] != '\0');
    char oid[XR_BINANCE_CONVERT_ID_MAX + 1];
    memcpy(oid, r.order.order_id, sizeof oid);

    assert_int_equal(xr_binance_session_convert_status(e.s, qid, 2, 6, NULL), XR_OK);
    wait_results(&e, 3);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_CONFIRMED);
    assert_int_equal(r.order.status, XR_BINANCE_CONVERT_SUCCESS);
    assert_string_equal(r.order.order_id, oid);
    assert_string_equal(r.order.from_asset, "USD");
    assert_string_equal(r.order.to_asset, "USDC");
    assert_true(r.order.from_amount.units == 10000 && r.order.to_amount.units == 99900000);

    /* A used quote is refused by the venue: nothing moves twice. */
    assert_int_equal(xr_binance_session_convert_accept(e.s, qid, NULL), XR_OK);
    wait_results(&e, 4);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_REJECTED);
    assert_int_equal(r.venue_code, -2013);

    /* The other way; the accept's answer is lost after it executed. */
    assert_int_equal(
        xr_binance_session_convert_quote(e.s, "USDC", "USD", (xr_amount){12345678}, 6, 2, NULL),
        XR_OK);
    wait_results(&e, 5);
    r = *last_result(&e);
    assert_true(r.quote.to_amount.units == 1233);
    memcpy(qid, r.quote_id, sizeof qid);
    /* First refused (the quote stays usable), then executed with its answer lost. */
    xr_sim_fault rej = {.kind = XR_SIM_FAULT_REJECT, .count = 1, .code = -2010};
    snprintf(rej.msg, sizeof rej.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &rej), XR_OK);
    assert_int_equal(xr_binance_session_convert_accept(e.s, qid, NULL), XR_OK);
    wait_results(&e, 6);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_REJECTED);
    assert_int_equal(r.venue_code, -2010);
    xr_sim_fault f5 = {
        .kind = XR_SIM_FAULT_HTTP_5XX, .count = 1, .status = 503, .after_exec = true};
    assert_int_equal(xr_sim_apply_fault(e.sim, 0, &f5), XR_OK);
    assert_int_equal(xr_binance_session_convert_accept(e.s, qid, NULL), XR_OK);
    wait_results(&e, 7);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_UNKNOWN);
    assert_int_equal(r.http_status, 503);
    assert_int_equal(xr_binance_session_convert_status(e.s, qid, 6, 2, NULL), XR_OK);
    wait_results(&e, 8);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_CONFIRMED);
    assert_int_equal(r.order.status, XR_BINANCE_CONVERT_SUCCESS);
    assert_true(r.order.from_amount.units == 12345678 && r.order.to_amount.units == 1233);
    /* The simulator's balances (10^-8): USD 1000 - 100 + 12.33, USDC 99.9 - 12.345678. */
    xr_i128 usd, usdc;
    sim_free_balance(&e, "USD", &usd);
    sim_free_balance(&e, "USDC", &usdc);
    assert_true(usd == (xr_i128)91233000000);
    assert_true(usdc == (xr_i128)8755432200);

    /* More than the balance: a quote without an id. */
    assert_int_equal(
        xr_binance_session_convert_quote(e.s, "USD", "USDC", (xr_amount){500000}, 2, 6, NULL),
        XR_OK);
    wait_results(&e, 9);
    r = *last_result(&e);
    assert_int_equal(r.outcome, XR_BINANCE_CONFIRMED);
    assert_string_equal(r.quote_id, "");
    /* Refused locally, nothing sent. */
    assert_int_equal(xr_binance_session_convert_quote(e.s, "USD", "USD", usd100, 2, 2, NULL),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        xr_binance_session_convert_quote(e.s, "USD", "USDC", (xr_amount){0}, 2, 6, NULL),
        XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_session_convert_accept(e.s, NULL, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_binance_session_convert_status(e.s, "", 2, 6, NULL),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(e.nres, 9);
    assert_string_equal(xr_binance_op_name(XR_BINANCE_OP_CONVERT_STATUS), "convert_status");
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_book_plain),    cmocka_unit_test(test_orders_plain),
        cmocka_unit_test(test_clock_and_429), cmocka_unit_test(test_unknown_plain),
        cmocka_unit_test(test_book_tls),      cmocka_unit_test(test_orders_tls),
        cmocka_unit_test(test_unknown_tls),   cmocka_unit_test(test_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
