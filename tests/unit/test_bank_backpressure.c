/*
 * unit.bank_backpressure: the gateway server pauses reading a bank's connection while the
 * engine's ingress ring is full (back-pressure, adapters/bank/server.c); the bank's frames,
 * heartbeats included, then wait unread in the socket. That silence is ours, not the bank's:
 * the session must not end as a dead peer (no frame for 3 heartbeats).
 *
 * Regression: at 10k orders/s `xroute-bank load` saw `ev=dead_peer err=TIMEOUT` on a live bank
 * whose frames sat unread behind the pause (docs/cli.md).
 *
 * A slow engine, made so: small rings (16) and 2 order slots, and the simulated venues are not
 * polled, so the children sent stay unanswered, the router's slots stay taken and the gateway
 * admits no more orders (2 live; the ingress ring queues 16 more and the rest wait unread in
 * the socket). Also run on engine threads (unit.bank_backpressure.threads), where the stages
 * used to stall each other in a cycle of full ports (unit.engine_backpressure). The bank
 * (a raw socket, heartbeat 100 ms) sends ORDERS market buys at once, then a heartbeat every
 * 50 ms. Once the engine has stopped taking requests, the venues stay silent for PAUSE_MS
 * more (9 heartbeat intervals; the engine must take nothing meanwhile), then are polled
 * again: every order is answered once, FILLED with the
 * hand-computed amounts, no dead peer, and the ledger and the simulator agree.
 *
 * Book (engine_test_util.h, venue A's 60000 level raised to 1 BTC): each buy of 0.0001 BTC
 * fills on venue A at 60000 (60000 x 1.001 = 60060 net beats B's 60010 x 1.002 = 60130.02);
 * docs/ledger.md "Rounding": N = 6.000000 USDT, F = ceil(6.000000 x 10 / 10^4) = 0.006000,
 * E = 6.006000, S = floor(6.006000 x 150 / 10^4) = 0.090090, paid 6.096090; the venue's fee
 * 10 bps of 10,000 sat = 10 sat.
 */
#include "engine_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/server.h"
#include "adapters/bank/session.h"

#define SECRET1   "bank-one-secret"
#define ORDERS    1000
#define PAUSE_MS  900
#define HB_MS     100
#define BUY_SAT   10000
#define BUY_PAID  6096090
#define BUY_NOTL  6000000
#define BUY_FEE   6000
#define BUY_SPRD  90090
#define VENUE_FEE 10

static xr_bank_server *S;
static bool sim_paused;

static void sim_hook(void *arg)
{
    (void)arg;
    if (!sim_paused)
        xr_sim_poll(E.sim, 0);
}

static void pump(void)
{
    assert_int_equal(xr_bank_server_run_once(S, 200 * XR_NS_PER_US), XR_OK);
    if (!sim_paused)
        assert_int_equal(xr_sim_poll(E.sim, 0), XR_OK);
}

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr-bankbp-XXXXXX");
    /* The simulated venues' ORDERS limit (50 per 10 s, Binance's default for a new account)
     * would spread ORDERS orders over minutes: raised before the engine reads it from
     * exchangeInfo. The configuration is the simulator's own (not const storage). */
    for (uint32_t v = 0; v < NVENUES; v++)
        ((xr_sim_venue_config *)xr_sim_venue_config_of(E.sim, v))->orders_10s = 1000000;
    E.cfg.ring_capacity = 16;
    E.cfg.orders_max = 2;
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    open_ledger_view();
    et_wait_book(4, true);
    /* Venue A's best ask: 1 BTC at 60000, room for every order at one price. */
    level(0, XR_SIM_ASK, 60000, 100000);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    for (;;) {
        xr_engine_event ev = book_query();
        if (ev.kind == XR_ENGINE_EV_BOOK && ev.u.book.n_asks > 0 &&
            ev.u.book.asks[0].qty.units == 100000000)
            break;
        assert_true(xr_clock_mono_ns() < end);
        for (int i = 0; i < 20; i++)
            pump_once();
    }
    et_register_and_fund(CUST_A, 0, USDT(7000000000), 1, true); /* 7,000 USDT */

    xr_bank_server_config sc;
    xr_bank_server_config_default(&sc);
    sc.listen_port = 0;
    sc.iteration_hook = sim_hook;
    snprintf(sc.outbox_dir, sizeof sc.outbox_dir, "%s/outbox", E.dir);
    sc.nkeys = 1;
    sc.keys[0] = (xr_bank_server_key){.bank_id = BANK, .key_id = 1, .active = 1};
    sc.keys[0].secret_len = (uint32_t)strlen(SECRET1);
    memcpy(sc.keys[0].secret, SECRET1, strlen(SECRET1));
    assert_int_equal(xr_bank_server_open(&sc, E.eng, &S), XR_OK);
    return 0;
}

static int group_td(void **state)
{
    xr_bank_server_close(S);
    return group_teardown(state);
}

/* ---- a raw bank connection ------------------------------------------------------------------ */

static int fd = -1;
static uint8_t rbuf[1 << 16];
static size_t rlen;

static void send_all(const uint8_t *p, size_t len)
{
    size_t off = 0;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (off < len) {
        ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        assert_true(xr_clock_mono_ns() < end);
        if (off < len)
            pump();
    }
}

static void send_msg(const xr_bank_msg *m)
{
    uint8_t f[XR_PROTO_FRAME_MAX];
    size_t len = 0;
    assert_int_equal(xr_bank_encode(m, f, sizeof f, &len), XR_OK);
    send_all(f, len);
}

/* The next frame if one is complete: 1; 0 none yet; -1 the server closed the connection. */
static int try_next(xr_bank_msg *m)
{
    size_t used = 0;
    if (rlen > 0 && xr_bank_decode(rbuf, rlen, m, &used, NULL) == XR_OK) {
        memmove(rbuf, rbuf + used, rlen - used);
        rlen -= used;
        return 1;
    }
    ssize_t n = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return -1;
    if (n > 0)
        rlen += (size_t)n;
    return 0;
}

static void logon(void)
{
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(xr_bank_server_port(S))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_LOGON;
    m.u.logon.bank_id = BANK;
    m.u.logon.key_id = 1;
    m.u.logon.timestamp_ns = xr_clock_wall_ns();
    assert_int_equal(getrandom(m.u.logon.nonce, 16, 0), 16);
    m.u.logon.last_seq = xr_bank_server_next_seq(S, BANK) - 1;
    m.u.logon.heartbeat_ms = HB_MS;
    uint8_t f[XR_PROTO_LOGON_LEN];
    size_t len = 0;
    assert_int_equal(xr_bank_encode(&m, f, sizeof f, &len), XR_OK);
    xr_bank_logon_sign((const uint8_t *)SECRET1, strlen(SECRET1), f);
    send_all(f, len);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    int k;
    while ((k = try_next(&m)) == 0 || (k == 1 && m.type == XR_PROTO_HEARTBEAT)) {
        assert_true(xr_clock_mono_ns() < end);
        pump();
    }
    assert_int_equal(k, 1);
    assert_int_equal(m.type, XR_PROTO_LOGON_ACK);
    assert_int_equal(m.u.logon_ack.heartbeat_ms, HB_MS);
}

static void heartbeat(void)
{
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_HEARTBEAT;
    send_msg(&m);
}

/* ---- the case ----------------------------------------------------------------------------- */

static void test_paused_is_not_dead(void **state)
{
    (void)state;
    xr_bank_server_stats st0, st1;
    xr_bank_server_stats_get(S, &st0);
    logon();
    sim_paused = true;
    /* All the orders in one write: far more than the rings and the router's slots hold. */
    static uint8_t burst[ORDERS * XR_PROTO_FRAME_MAX];
    size_t off = 0;
    for (int i = 0; i < ORDERS; i++) {
        xr_bank_msg q;
        memset(&q, 0, sizeof q);
        q.type = (uint8_t)(XR_PROTO_CMD_BASE + XR_ENGINE_CMD_NEW_ORDER);
        q.u.cmd = order_cmd(CUST_A, 0, XR_ENGINE_BUY, BUY_SAT);
        q.u.cmd.u.order.key.bytes[13] = 0x77; /* apart from the funding key */
        q.u.cmd.u.order.key.bytes[14] = (uint8_t)(i >> 8);
        q.u.cmd.u.order.key.bytes[15] = (uint8_t)i;
        q.u.cmd.bank_id = BANK;
        q.u.cmd.correlation_id = 5000 + (uint64_t)i;
        size_t len = 0;
        assert_int_equal(xr_bank_encode(&q, burst + off, sizeof burst - off, &len), XR_OK);
        off += len;
    }
    send_all(burst, off);
    /* The venues answer nothing; the bank keeps heartbeating. Once the engine has taken all
     * it can (no request taken for 200 ms), the server stays paused for PAUSE_MS more: 9
     * heartbeat intervals of unread frames, 3 of which used to end the session. */
    uint64_t t0 = xr_clock_mono_ns(), next_hb = t0, stable_since = t0, taken = st0.requests;
    uint64_t end = t0 + WAIT_NS;
    bool stable = false;
    xr_bank_msg m;
    for (;;) {
        uint64_t now = xr_clock_mono_ns();
        if (now >= next_hb) {
            heartbeat();
            next_hb += 50 * XR_NS_PER_MS;
        }
        int k = try_next(&m);
        assert_true(k >= 0); /* still connected */
        if (k == 1)
            assert_int_equal(m.type, XR_PROTO_HEARTBEAT); /* no order can finish */
        xr_bank_server_stats_get(S, &st1);
        if (st1.requests != taken) {
            assert_false(stable); /* back-pressure held: nothing taken once stable */
            taken = st1.requests;
            stable_since = now;
        } else if (!stable && now - stable_since >= 200 * XR_NS_PER_MS) {
            stable = true;
            stable_since = now;
        } else if (stable && now - stable_since >= PAUSE_MS * XR_NS_PER_MS) {
            break;
        }
        assert_true(now < end);
        pump();
    }
    print_message("taken by the engine during the pause: %llu of %d\n",
                  (unsigned long long)(taken - st0.requests), ORDERS);
    assert_true(taken - st0.requests < ORDERS);
    assert_int_equal(st1.dead_peers, st0.dead_peers);

    sim_paused = false;
    static bool seen[ORDERS];
    memset(seen, 0, sizeof seen);
    int got = 0;
    end = xr_clock_mono_ns() + WAIT_NS;
    while (got < ORDERS) {
        if (xr_clock_mono_ns() >= next_hb) {
            heartbeat();
            next_hb = xr_clock_mono_ns() + 50 * XR_NS_PER_MS;
        }
        int k = try_next(&m);
        assert_true(k >= 0);
        if (k == 0 || m.type == XR_PROTO_HEARTBEAT) {
            assert_true(xr_clock_mono_ns() < end);
            pump();
            continue;
        }
        assert_int_equal(m.type, XR_PROTO_EV_EXEC_REPORT);
        uint64_t i = m.u.ev.correlation_id - 5000;
        assert_true(i < ORDERS);
        assert_false(seen[i]);
        seen[i] = true;
        const xr_engine_exec_report_ev *r = &m.u.ev.u.report;
        assert_int_equal(r->status, XR_ENGINE_ORDER_FILLED);
        assert_true(r->filled.units == BUY_SAT);
        assert_true(r->notional.units == BUY_NOTL);
        assert_true(r->fees.units == BUY_FEE);
        assert_true(r->spread.units == BUY_SPRD);
        assert_true(r->quote.units == BUY_PAID);
        got++;
    }
    xr_bank_server_stats_get(S, &st1);
    assert_int_equal(st1.dead_peers, st0.dead_peers);
    assert_int_equal(st1.requests - st0.requests, ORDERS);

    /* The bank logs out cleanly: the session lived through the pause. */
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_LOGOUT;
    send_msg(&m);
    end = xr_clock_mono_ns() + WAIT_NS;
    int k;
    while ((k = try_next(&m)) == 0 || (k == 1 && m.type == XR_PROTO_HEARTBEAT)) {
        assert_true(xr_clock_mono_ns() < end);
        pump();
    }
    assert_int_equal(k, 1);
    assert_int_equal(m.type, XR_PROTO_LOGOUT);
    assert_int_equal(m.u.logout.reason, XR_OK);
    close(fd);

    for (int i = 0; i < ORDERS; i++) {
        E.pos_usdt[0] += BUY_NOTL;
        E.fee_usdt[0] += ceil_div((xr_i128)BUY_NOTL * fee_bps[0], 10000);
        E.pos_btc[0] -= BUY_SAT - VENUE_FEE;
        E.fee_btc[0] -= VENUE_FEE;
        E.revenue += BUY_SPRD;
        E.cust_usdt[0] -= BUY_PAID;
        E.cust_btc[0] += BUY_SAT;
    }
    check_books();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_is_not_dead),
    };
    return cmocka_run_group_tests(tests, group_setup, group_td);
}
