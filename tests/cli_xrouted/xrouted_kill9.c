/*
 * cli.xrouted_kill9: kill -9 of xrouted under load at random points, then restart.
 *
 *   xrouted_kill9 XROUTED XROUTE WORKDIR [XROUTE_VENUE]
 *   XR_KILL9_ROUNDS=N  (default 20; the long mode is N >= 1000)   XR_KILL9_SEED=S
 *   XR_KILL9_MAX_SECONDS=T  the last round (the final checks) starts once T seconds passed
 *
 * Without XROUTE_VENUE the daemon runs its embedded default (simulated venues in-process).
 * With it, two venues run as their own process (xroute-venue) that survives every kill, the
 * daemon is configured for them (venues = configured, credentials provisioned with
 * `xrouted secrets set-venue`), and the orders in flight at a kill really are reconciled with
 * venues that filled them: the final checks add that each venue's BTC holding moved by
 * exactly what the stored orders say its children filled there, less the venue's fee taken
 * in BTC (so no fill was lost or booked twice across the kills).
 *
 * Each round starts xrouted on the embedded default (simulated venues, demo bank) on one
 * data directory, connects a bank client (include/xroute/client.h) that logs on with the
 * last seq it processed, resends every order whose answer it has not seen (same idempotency
 * key), then sends MARKET buys of BTC/USDT at a random pace and kills the daemon with
 * SIGKILL after a random time, while orders are in flight. After each kill:
 * `xroute ledger verify` passes on the data directory. After the last round (no kill):
 *   - every order got exactly one answer: the first report of a key, and any replayed one
 *     (replayed = 1) equal to it; a report for a key never sent, or a second non-replayed
 *     report, fails the test;
 *   - responses carry every seq 1, 2, 3, ... exactly once across all sessions and restarts
 *     (the reconnecting client received every report);
 *   - ORDER_STATUS of every acknowledged order shows the reported status and fill;
 *     LIST_ORDERS lists each key at most once and none that was not sent;
 *   - the customer's balances equal, computed here from the reports alone: BTC = the sum of
 *     filled, USDT = funded - the sum of quote paid, nothing reserved (each order booked
 *     exactly once);
 *   - SIGTERM exits 0 and the ledger verifies.
 * In-process simulated venues live in the daemon's memory and restart empty: an order in
 * flight at a kill is reconciled against a venue that does not know it, so it books what the
 * ledger knows (usually nothing); the external mode covers reconciliation with real fills.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bearssl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "xroute/client.h"
#include "xroute/engine.h"

#define CUSTOMER  4242
#define FUND_USDT ((xr_i128)100000000 * 1000000) /* 100,000,000 USDT at USDT/6 */

typedef struct order {
    xr_engine_key key;
    int64_t qty;  /* BTC/8 units */
    int state;    /* 0 unsent, 1 sent (answer unknown), 2 answered */
    int rejected; /* answered with a reject (nothing stored) */
    xr_err err;   /* the reject's code */
    xr_engine_exec_report_ev report;
} order;

static order *orders;
static size_t norders, orders_cap;
static uint64_t *corr_order; /* correlation id - corr_base -> order index */
static size_t corr_cap;
static uint64_t corr_base, corr_next;
static uint64_t last_seq;
static int failures;
static const char *xrouted_path, *xroute_path, *work;
static char data_dir[4096 + 16];
static uint8_t secret[64];
static size_t secret_len;
static uint64_t rng;
/* what the run exercised, printed at the end */
static size_t inflight_at_kills, replayed_reports, filled_reports, failed_reports;

/* ---- external venues (xroute-venue) --------------------------------------------------------- */

#define NVENUES 2
/* xroute-venue's default account: Binance's documented example key and secret. */
#define VENUE_KEY    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define VENUE_SECRET "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
static const char *venue_tool;
static pid_t venue_pid;
static uint16_t venue_port[NVENUES];
static int64_t venue_btc0[NVENUES];       /* BTC at each venue before the first round, 10^-8 */
static int64_t venue_btc_booked[NVENUES]; /* what the stored orders say moved there */
static char config_path[600];

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        failures++;                                                                                \
    } while (0)

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int start_venues(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        /* Options before the first --venue apply to both: no throttling of the load. */
        execl(venue_tool, venue_tool, "--pairs", "BTCUSDT,ETHUSDT", "--orders-10s", "1000000",
              "--orders-1d", "100000000", "--weight-limit", "100000000", "--max-conns", "256",
              "--venue", "ext-a:0", "--seed", "11", "--taker-bps", "10", "--venue", "ext-b:0",
              "--seed", "12", "--taker-bps", "20", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    venue_pid = pid;
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    int n = 0, ready = 0;
    while (!ready && fgets(line, sizeof line, f) != NULL) {
        const char *u = strstr(line, "url=http://127.0.0.1:");
        unsigned port;
        if (u != NULL && n < NVENUES && sscanf(u + 21, "%u", &port) == 1)
            venue_port[n++] = (uint16_t)port;
        ready = strncmp(line, "xroute-venue: ready", 19) == 0;
    }
    fclose(f); /* nothing more is printed; a write to the closed pipe is ignored */
    return ready && n == NVENUES ? 0 : -1;
}

/* The venue account's free + locked BTC in 10^-8 units, from GET /api/v3/account (signed).
 * -1 on failure. */
static int64_t venue_btc(int v)
{
    char query[128], sig_hex[65];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(query, sizeof query, "recvWindow=60000&timestamp=%lld",
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, VENUE_SECRET, strlen(VENUE_SECRET));
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, query, strlen(query));
    unsigned char mac[32];
    br_hmac_out(&hc, mac);
    for (int i = 0; i < 32; i++)
        snprintf(sig_hex + 2 * i, 3, "%02x", mac[i]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(venue_port[v])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /api/v3/account?%s&signature=%s HTTP/1.1\r\nHost: localhost\r\n"
                       "X-MBX-APIKEY: %s\r\nConnection: close\r\n\r\n",
                       query, sig_hex, VENUE_KEY);
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    static char resp[1 << 16];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    const char *p = strstr(resp, "{\"asset\":\"BTC\",\"free\":\"");
    if (p == NULL)
        return -1;
    int64_t total = 0;
    p += strlen("{\"asset\":\"BTC\",\"free\":\"");
    for (int part = 0; part < 2; part++) {
        long long whole = 0, frac = 0;
        int fl = 0;
        while (*p >= '0' && *p <= '9')
            whole = whole * 10 + (*p++ - '0');
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++, fl++)
                frac = frac * 10 + (*p - '0');
        while (fl++ < 8)
            frac *= 10;
        total += whole * 100000000LL + frac;
        if (part == 0) {
            p = strstr(p, "\"locked\":\"");
            if (p == NULL)
                return -1;
            p += 10;
        }
    }
    return total;
}

/* venues = configured for the external venues; their credentials into the secrets store. */
static int configure_external(void)
{
    snprintf(config_path, sizeof config_path, "%s/xrouted.ini", work);
    FILE *f = fopen(config_path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "[daemon]\nvenues = configured\n");
    for (int v = 0; v < NVENUES; v++)
        fprintf(f,
                "[venue.ext-%c]\naddress = 127.0.0.1:%u\ntaker_fee_bps = %d\n"
                "pairs = BTC/USDT, ETH/USDT\n",
                'a' + v, venue_port[v], v == 0 ? 10 : 20);
    fclose(f);
    for (int v = 0; v < NVENUES; v++) {
        char cmd[4 * 4096 + 256];
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && '%s' secrets set-venue ext-%c --config '%s' --data-dir '%s' "
                 ">/dev/null 2>>xrouted.log",
                 work, xrouted_path, 'a' + v, config_path, data_dir);
        FILE *p = popen(cmd, "w");
        if (p == NULL)
            return -1;
        fprintf(p, "%s\n%s\n", VENUE_KEY, VENUE_SECRET);
        if (pclose(p) != 0)
            return -1;
        if ((venue_btc0[v] = venue_btc(v)) < 0)
            return -1;
    }
    return 0;
}

/* ---- the daemon ------------------------------------------------------------------------------ */

static pid_t daemon_pid;
static FILE *daemon_out;

/* Starts xrouted and waits for its readiness line; returns the bank port (0 on failure). */
static uint16_t start_daemon(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    char log_path[600];
    snprintf(log_path, sizeof log_path, "%s/xrouted.log", work);
    pid_t pid = fork();
    if (pid == 0) {
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fds[1], 1);
        if (logfd >= 0)
            dup2(logfd, 2);
        close(fds[0]);
        close(fds[1]);
        if (chdir(work) != 0)
            _exit(127);
        if (venue_tool != NULL)
            execl(xrouted_path, xrouted_path, "--config", config_path, "--data-dir", data_dir,
                  "--listen", "127.0.0.1:0", (char *)NULL);
        else
            execl(xrouted_path, xrouted_path, "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                  (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    daemon_pid = pid;
    daemon_out = fdopen(fds[0], "r");
    char line[512];
    uint16_t port = 0;
    while (port == 0 && fgets(line, sizeof line, daemon_out) != NULL) {
        const char *p = strstr(line, "secret=");
        if (strncmp(line, "demo bank: ", 11) == 0 && p != NULL) {
            p += 7;
            secret_len = 0;
            while (secret_len < sizeof secret &&
                   sscanf(p + 2 * secret_len, "%2hhx", &secret[secret_len]) == 1 &&
                   p[2 * secret_len] != ' ')
                secret_len++;
        }
        unsigned v;
        if (strncmp(line, "xrouted ready bank=127.0.0.1:", 29) == 0 &&
            sscanf(line + 29, "%u", &v) == 1)
            port = (uint16_t)v;
    }
    return port;
}

static void reap(int *status)
{
    while (waitpid(daemon_pid, status, 0) < 0 && errno == EINTR)
        ;
    fclose(daemon_out);
    daemon_out = NULL;
    daemon_pid = 0;
}

static void verify_ledger(const char *when)
{
    char cmd[3 * 4096 + 256];
    snprintf(cmd, sizeof cmd, "'%s' ledger verify --data '%s' >'%s/verify.out' 2>&1", xroute_path,
             data_dir, work);
    int rc = system(cmd);
    if (rc != 0) {
        char path[600];
        snprintf(path, sizeof path, "%s/verify.out", work);
        FILE *f = fopen(path, "r");
        char text[512] = "";
        if (f != NULL) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        FAIL("ledger verify %s: %s", when, text);
    }
}

/* ---- orders ---------------------------------------------------------------------------------- */

static size_t new_order(void)
{
    if (norders == orders_cap) {
        orders_cap = orders_cap ? 2 * orders_cap : 1024;
        orders = realloc(orders, orders_cap * sizeof *orders);
        if (orders == NULL)
            abort();
    }
    order *o = &orders[norders];
    memset(o, 0, sizeof *o);
    uint64_t k = norders + 1;
    o->key.bytes[0] = 0x9D;
    memcpy(o->key.bytes + 8, &k, sizeof k);
    memcpy(o->key.bytes + 1, &corr_base, 7);   /* unique per run */
    o->qty = 10000 * (int64_t)(1 + rnd() % 5); /* 0.0001 .. 0.0005 BTC */
    return norders++;
}

static xr_err submit(xr_client *c, size_t idx)
{
    if (corr_next - corr_base == corr_cap) {
        corr_cap = corr_cap ? 2 * corr_cap : 4096;
        corr_order = realloc(corr_order, corr_cap * sizeof *corr_order);
        if (corr_order == NULL)
            abort();
    }
    order *o = &orders[idx];
    xr_engine_cmd cmd = {.kind = XR_ENGINE_CMD_NEW_ORDER, .customer_id = CUSTOMER};
    cmd.correlation_id = corr_next;
    cmd.u.order.key = o->key;
    snprintf(cmd.u.order.pair, sizeof cmd.u.order.pair, "BTC/USDT");
    cmd.u.order.side = XR_ENGINE_BUY;
    cmd.u.order.type = XR_ENGINE_MARKET;
    cmd.u.order.amount_side = XR_ENGINE_AMOUNT_BASE;
    cmd.u.order.amount.units = o->qty;
    xr_err rc = xr_client_submit(c, &cmd, NULL);
    if (rc == XR_OK) {
        corr_order[corr_next - corr_base] = idx;
        corr_next++;
        if (o->state == 0)
            o->state = 1;
    }
    return rc;
}

static int same_report(const xr_engine_exec_report_ev *a, const xr_engine_exec_report_ev *b)
{
    return a->status == b->status && a->filled.units == b->filled.units &&
           a->quote.units == b->quote.units && a->ordered.units == b->ordered.units &&
           memcmp(&a->key, &b->key, sizeof a->key) == 0;
}

/* Handles one response. AGAIN answers put the order back to be resent. */
static void on_event(const xr_engine_event *ev, uint64_t seq)
{
    if (seq != last_seq + 1)
        FAIL("seq %llu after %llu: a response lost or repeated", (unsigned long long)seq,
             (unsigned long long)last_seq);
    if (seq > last_seq)
        last_seq = seq;
    if (ev->correlation_id < corr_base || ev->correlation_id >= corr_next)
        return; /* setup calls (customer, fund) */
    order *o = &orders[corr_order[ev->correlation_id - corr_base]];
    if (ev->kind == XR_ENGINE_EV_EXEC_REPORT) {
        if (memcmp(&ev->u.report.key, &o->key, sizeof o->key) != 0) {
            FAIL("report for another key than its request's");
            return;
        }
        if (o->state == 2 && !o->rejected) {
            if (!ev->u.report.replayed)
                FAIL("order %zu reported twice without replayed=1", (size_t)(o - orders));
            else if (!same_report(&o->report, &ev->u.report))
                FAIL("order %zu: replayed report differs from the first", (size_t)(o - orders));
            return;
        }
        if (o->state == 2 && o->rejected)
            FAIL("order %zu: a report after a final reject", (size_t)(o - orders));
        o->report = ev->u.report;
        o->state = 2;
        o->rejected = 0;
        replayed_reports += ev->u.report.replayed;
        filled_reports += ev->u.report.status == XR_ENGINE_ORDER_FILLED;
        failed_reports += ev->u.report.status == XR_ENGINE_ORDER_FAILED;
    } else if (ev->kind == XR_ENGINE_EV_REJECT) {
        xr_err e = ev->u.reject.err;
        if (e == XR_ERR_AGAIN || e == XR_ERR_INVALID_STATE) {
            /* reconciliation still running, or the key still in flight: resend later */
            if (o->state != 2)
                o->state = 1;
            return;
        }
        if (o->state == 2)
            return; /* an earlier resend's answer already came */
        o->state = 2;
        o->rejected = 1;
        o->err = e;
    } else {
        FAIL("unexpected event kind %d for an order", ev->kind);
    }
}

static void pump(xr_client *c, int timeout_ms)
{
    xr_engine_event ev[32];
    uint64_t seqs[32];
    size_t n = 0;
    if (xr_client_poll(c, ev, seqs, 32, &n, timeout_ms) != XR_OK)
        return;
    for (size_t i = 0; i < n; i++)
        on_event(&ev[i], seqs[i]);
}

static xr_client *connect_client(uint16_t port)
{
    xr_client_config cfg;
    xr_client_config_default(&cfg);
    snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
    cfg.port = port;
    cfg.bank_id = 1;
    cfg.key_id = 1;
    memcpy(cfg.secret, secret, secret_len);
    cfg.secret_len = (uint32_t)secret_len;
    cfg.last_seq = last_seq;
    cfg.reconnect = 0; /* a killed daemon comes back on another port: a new client */
    cfg.call_timeout_ms = 30000;
    xr_client *c = NULL;
    for (int i = 0; i < 50; i++) {
        xr_err rc = xr_client_connect(&cfg, &c);
        if (rc == XR_OK)
            return c;
        if (i == 49)
            FAIL("connect: %s", xr_err_name(rc));
        sleep_ms(100);
    }
    return NULL;
}

/* Resends every order without an answer until each has one (60 s at most). */
static void settle(xr_client *c)
{
    uint64_t end = now_ms() + 60000;
    uint64_t next_resend = 0;
    for (;;) {
        pump(c, 5);
        size_t open = 0;
        int resend = now_ms() >= next_resend;
        for (size_t i = 0; i < norders; i++) {
            if (orders[i].state == 2)
                continue;
            open++;
            if (resend && submit(c, i) != XR_OK)
                pump(c, 5);
        }
        if (resend)
            next_resend = now_ms() + 500; /* answers take a few ms; AGAIN means wait */
        if (open == 0)
            return;
        if (now_ms() > end) {
            FAIL("%zu orders without an answer after 60 s", open);
            return;
        }
    }
}

static void final_checks(xr_client *c)
{
    /* ORDER_STATUS of every acknowledged order; the expected balances from the reports. */
    xr_i128 btc = 0, usdt = FUND_USDT;
    size_t answered = 0, booked = 0;
    for (size_t i = 0; i < norders; i++) {
        order *o = &orders[i];
        if (o->state != 2) {
            FAIL("order %zu never answered", i);
            continue;
        }
        answered++;
        if (o->rejected)
            continue;
        booked++;
        btc += o->report.filled.units;
        usdt -= o->report.quote.units;
        xr_engine_event ev;
        xr_err rc = xr_client_order_status(c, CUSTOMER, &o->key, &ev);
        if (rc != XR_OK) {
            FAIL("order %zu: ORDER_STATUS %s", i, xr_err_name(rc));
            continue;
        }
        for (uint32_t k = 0; k < ev.u.order.n_children && k < XR_ENGINE_CHILDREN_MAX; k++) {
            const xr_engine_child *ch = &ev.u.order.children[k];
            if (ch->venue < NVENUES)
                venue_btc_booked[ch->venue] +=
                    (int64_t)(ch->filled.units - (ch->fee_in == 1 ? ch->venue_fee.units : 0));
        }
        const xr_engine_exec_report_ev *r = &ev.u.order.report;
        if (r->status != o->report.status || r->filled.units != o->report.filled.units ||
            r->quote.units != o->report.quote.units)
            FAIL("order %zu: stored order differs from its report", i);
    }
    /* LIST_ORDERS: every listed key was sent, none twice; every booked order is listed. */
    uint8_t *seen = calloc(norders + 1, 1);
    xr_engine_list_orders_cmd f;
    memset(&f, 0, sizeof f);
    f.limit = XR_ENGINE_ORDER_LIST_MAX;
    size_t listed = 0;
    for (int page = 0; page < 1000000; page++) {
        xr_engine_event ev;
        xr_err rc = xr_client_list_orders(c, CUSTOMER, &f, &ev);
        if (rc != XR_OK) {
            FAIL("LIST_ORDERS %s", xr_err_name(rc));
            break;
        }
        for (uint32_t k = 0; k < ev.u.order_list.n; k++) {
            const xr_engine_key *key = &ev.u.order_list.items[k].report.key;
            uint64_t idx;
            memcpy(&idx, key->bytes + 8, sizeof idx);
            if (key->bytes[0] != 0x9D || idx == 0 || idx > norders ||
                memcmp(key, &orders[idx - 1].key, sizeof *key) != 0) {
                FAIL("LIST_ORDERS shows a key never sent");
                continue;
            }
            if (seen[idx]++)
                FAIL("order %llu listed twice", (unsigned long long)(idx - 1));
            listed++;
        }
        if (ev.u.order_list.next_cursor == 0)
            break;
        f.cursor = ev.u.order_list.next_cursor;
    }
    for (size_t i = 0; i < norders; i++)
        if (orders[i].state == 2 && !orders[i].rejected && !seen[i + 1])
            FAIL("booked order %zu is not listed", i);
    free(seen);
    xr_engine_event ev;
    xr_err rc = xr_client_balances(c, CUSTOMER, &ev);
    if (rc != XR_OK) {
        FAIL("BALANCES %s", xr_err_name(rc));
    } else {
        int got_btc = 0, got_usdt = 0;
        for (uint32_t k = 0; k < ev.u.balances.n; k++) {
            const xr_engine_balance *b = &ev.u.balances.items[k];
            if (b->reserved.units != 0)
                FAIL("%s still reserved: %lld", b->asset, (long long)b->reserved.units);
            if (strcmp(b->asset, "BTC") == 0) {
                got_btc = 1;
                if (b->balance.units != btc)
                    FAIL("BTC balance %lld, the reports add up to %lld",
                         (long long)b->balance.units, (long long)btc);
            } else if (strcmp(b->asset, "USDT") == 0) {
                got_usdt = 1;
                if (b->balance.units != usdt)
                    FAIL("USDT balance %lld, the reports add up to %lld",
                         (long long)b->balance.units, (long long)usdt);
            }
        }
        if (!got_btc && btc != 0)
            FAIL("no BTC balance");
        if (!got_usdt)
            FAIL("no USDT balance");
    }
    for (int v = 0; venue_tool != NULL && v < NVENUES; v++) {
        int64_t now = venue_btc(v);
        if (now < 0)
            FAIL("venue %d: account not readable", v);
        else if (now - venue_btc0[v] != venue_btc_booked[v])
            FAIL("venue %d: BTC moved by %lld, the stored orders' children say %lld", v,
                 (long long)(now - venue_btc0[v]), (long long)venue_btc_booked[v]);
        else
            printf("venue %d: BTC moved by %lld (10^-8), as booked\n", v,
                   (long long)venue_btc_booked[v]);
    }
    printf("orders sent %zu, answered %zu, booked %zu, listed %zu, last seq %llu\n", norders,
           answered, booked, listed, (unsigned long long)last_seq);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: xrouted_kill9 XROUTED XROUTE WORKDIR [XROUTE_VENUE]\n");
        return 2;
    }
    /* The daemon runs in WORKDIR: every path absolute. */
    static char paths[4][4096];
    for (int i = 0; i < argc - 1; i++) {
        if (i == 2) {
            char mk[4200];
            snprintf(mk, sizeof mk, "mkdir -p '%s'", argv[3]);
            if (system(mk) != 0)
                return 1;
        }
        if (realpath(argv[i + 1], paths[i]) == NULL) {
            fprintf(stderr, "%s: %s\n", argv[i + 1], strerror(errno));
            return 2;
        }
    }
    xrouted_path = paths[0];
    xroute_path = paths[1];
    work = paths[2];
    venue_tool = argc == 5 ? paths[3] : NULL;
    char cmd[2 * 4096 + 64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", work, work);
    if (system(cmd) != 0)
        return 1;
    snprintf(data_dir, sizeof data_dir, "%s/data", work);
    unsigned rounds = getenv("XR_KILL9_ROUNDS") ? (unsigned)atoi(getenv("XR_KILL9_ROUNDS")) : 20;
    rng = getenv("XR_KILL9_SEED") ? strtoull(getenv("XR_KILL9_SEED"), NULL, 10)
                                  : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (rng == 0)
        rng = 1;
    printf("rounds %u seed %llu\n", rounds, (unsigned long long)rng);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    corr_base = (uint64_t)ts.tv_sec << 20; /* above any id the library assigns itself */
    corr_next = corr_base;

    if (venue_tool != NULL && (start_venues() != 0 || configure_external() != 0)) {
        FAIL("external venues did not start or could not be configured");
        if (venue_pid > 0)
            kill(venue_pid, SIGKILL);
        return 1;
    }
    uint64_t deadline_ms =
        getenv("XR_KILL9_MAX_SECONDS")
            ? now_ms() + 1000u * strtoull(getenv("XR_KILL9_MAX_SECONDS"), NULL, 10)
            : 0;
    unsigned kills = 0;
    for (unsigned round = 0; round <= rounds && failures == 0; round++) {
        uint16_t port = start_daemon();
        if (port == 0 || secret_len == 0) {
            FAIL("round %u: xrouted did not become ready (see %s/xrouted.log)", round, work);
            break;
        }
        xr_client *c = connect_client(port);
        if (c == NULL)
            break;
        if (round == 0) {
            /* Nothing reaches a bank that has asked nothing (the daemon's own start-up BOOK
             * requests must all be answered before the gateway takes the engine over). */
            xr_engine_event stray[4];
            size_t nstray = 0;
            if (xr_client_poll(c, stray, NULL, 4, &nstray, 300) != XR_OK || nstray != 0)
                FAIL("a fresh bank session received %zu responses it never asked for", nstray);
            xr_engine_event ev;
            xr_engine_key fk = {{0x9E, 1}};
            if (xr_client_customer_upsert(c, CUSTOMER, 1, &ev) != XR_OK ||
                xr_client_fund(c, CUSTOMER, &fk, "USDT", (xr_amount){FUND_USDT}, &ev) != XR_OK)
                FAIL("setup: customer and funding");
            /* The setup answers were seqs 1 and 2; the blocking calls returned them. */
            last_seq = xr_client_last_seq(c);
        }
        pump(c, 200); /* what the last session did not process is replayed first */
        settle(c);    /* every order from before the kill gets its answer */
        if (round == rounds || (deadline_ms != 0 && now_ms() >= deadline_ms)) {
            final_checks(c);
            xr_client_close(c);
            kill(daemon_pid, SIGTERM);
            int status;
            reap(&status);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                FAIL("SIGTERM: xrouted did not exit 0 (status %d)", status);
            verify_ledger("after SIGTERM");
            break;
        }
        /* Load, then kill -9 at a random point. */
        uint64_t kill_at = now_ms() + 30 + rnd() % 400;
        while (now_ms() < kill_at) {
            size_t idx = new_order();
            if (submit(c, idx) != XR_OK)
                orders[idx].state = 1; /* unknown: settle resends it */
            pump(c, 0);
            struct timespec gap = {0, (long)(200000 + rnd() % 1800000)};
            nanosleep(&gap, NULL);
        }
        kill(daemon_pid, SIGKILL);
        int status;
        reap(&status);
        kills++;
        /* What the client took in before the kill counts; the rest is replayed. */
        pump(c, 0);
        for (size_t i = 0; i < norders; i++)
            inflight_at_kills += orders[i].state == 1;
        xr_client_close(c);
        verify_ledger("after kill -9");
    }
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        int status;
        reap(&status);
    }
    /* The run must have exercised what it claims to: kills with orders in flight, and (with
     * external venues) fills that moved a venue's holdings. */
    if (failures == 0 && kills >= 5 && inflight_at_kills == 0)
        FAIL("no order was in flight at any of %u kills", kills);
    if (failures == 0 && venue_tool != NULL && venue_btc_booked[0] + venue_btc_booked[1] == 0)
        FAIL("no fill at the external venues");
    if (venue_pid > 0) {
        kill(venue_pid, SIGTERM);
        waitpid(venue_pid, NULL, 0);
    }
    printf("kills %u, orders without an answer at the kills %zu, first reports replayed %zu, "
           "filled %zu, failed %zu; failures %d\n",
           kills, inflight_at_kills, replayed_reports, filled_reports, failed_reports, failures);
    free(orders);
    free(corr_order);
    return failures == 0 ? 0 : 1;
}
