/*
 * unit.engine_sched: the engine's schedules (xroute/engine.h, "Threading") - the
 * configuration of the pinned-thread schedule and its refusals, the threads it starts (names
 * and CPU pinning read back from /proc), xr_engine_wait in both schedules, and an order
 * through a map with every stage on its own thread. Against the two simulated venues of
 * engine_test_util.h.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "engine_test_util.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/engine/venue.h"

static int group_setup(void **state)
{
    (void)state;
    et_sim_and_config("/tmp/xr_engine_sched_XXXXXX");
    /* The ledger exists once an engine has opened it. */
    assert_int_equal(xr_engine_open(&E.cfg, &E.eng), XR_OK);
    xr_engine_close(E.eng);
    E.eng = NULL;
    open_ledger_view();
    return 0;
}

static int group_teardown_sched(void **state)
{
    (void)state;
    xr_ledger_close(E.ro);
    xr_sim_destroy(E.sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", E.dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void open_engine(const xr_engine_config *c)
{
    assert_int_equal(xr_engine_open(c, &E.eng), XR_OK);
    et_wait_book(4, true);
}

static void close_engine(void)
{
    xr_engine_close(E.eng);
    E.eng = NULL;
}

/* Threads of this process named `name` (comm), and the CPU list each may run on. */
static int threads_named(const char *name, char cpus[][64], int max)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "", line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) == NULL)
            comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "Cpus_allowed_list:", 18) == 0 && n < max) {
                const char *v = line + 18;
                while (*v == ' ' || *v == '\t')
                    v++;
                snprintf(cpus[n], 64, "%.*s", (int)strcspn(v, "\n"), v);
            }
        fclose(f);
        n++;
    }
    closedir(d);
    return n;
}

/* ---- configuration -------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    xr_engine_config c;
    xr_engine_config_default(&c);
    assert_int_equal(c.schedule, XR_ENGINE_SCHEDULE_INLINE);
    for (int s = 0; s < XR_ENGINE_STAGES; s++)
        assert_int_equal(c.stage_thread[s], s == XR_ENGINE_STAGE_LEDGER ? 1 : 0);
    for (int t = 0; t < XR_ENGINE_THREADS_MAX; t++)
        assert_int_equal(c.thread_cpu[t], -1);
    assert_int_equal(c.spin_ns, 50000);
    assert_int_equal(c.io_wait_ns, 1000000);
}

/* Every refused configuration leaves no engine behind. */
static void expect_refused(const xr_engine_config *c, xr_err want)
{
    xr_engine *e = (xr_engine *)&E; /* must be overwritten with NULL */
    assert_int_equal(xr_engine_open(c, &e), want);
    assert_null(e);
}

static void test_refused(void **state)
{
    (void)state;
    xr_engine_config c = E.cfg;
    c.schedule = 2;
    expect_refused(&c, XR_ERR_INVALID_ARGUMENT);

    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.stage_thread[XR_ENGINE_STAGE_ROUTER] = XR_ENGINE_THREADS_MAX;
    expect_refused(&c, XR_ERR_INVALID_ARGUMENT);

    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.thread_cpu[0] = -2;
    expect_refused(&c, XR_ERR_INVALID_ARGUMENT);

    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.thread_cpu[1] = CPU_SETSIZE;
    expect_refused(&c, XR_ERR_INVALID_ARGUMENT);

    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.io_wait_ns = 0;
    expect_refused(&c, XR_ERR_INVALID_ARGUMENT);

    /* The ledger's fsync must not hold up another stage. */
    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.stage_thread[XR_ENGINE_STAGE_GATEWAY] = c.stage_thread[XR_ENGINE_STAGE_LEDGER];
    expect_refused(&c, XR_ERR_CONFIG);
    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    for (int s = 0; s < XR_ENGINE_STAGES; s++)
        c.stage_thread[s] = 0;
    expect_refused(&c, XR_ERR_CONFIG);

    /* A CPU this process may not run on (the highest one CPU_SETSIZE allows, unless the
     * machine really has it). */
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    if (!CPU_ISSET(CPU_SETSIZE - 1, &allowed)) {
        c = E.cfg;
        c.schedule = XR_ENGINE_SCHEDULE_THREADS;
        c.thread_cpu[0] = CPU_SETSIZE - 1;
        expect_refused(&c, XR_ERR_CONFIG);
    }
    /* In the INLINE schedule the thread map is not used. */
    c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_INLINE;
    for (int s = 0; s < XR_ENGINE_STAGES; s++)
        c.stage_thread[s] = 0;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    assert_int_equal(threads_named("xr-eng0", NULL, 0), 0);
    close_engine();
}

/* ---- threads ------------------------------------------------------------------------------- */

/* The default map starts two threads, each where cfg.thread_cpu says; close joins them. */
static void test_threads_pinned(void **state)
{
    (void)state;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    int first = -1, last = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &allowed)) {
            if (first < 0)
                first = i;
            last = i;
        }
    xr_engine_config c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.thread_cpu[0] = (int16_t)first;
    /* thread 1 (the ledger) stays unpinned */
    open_engine(&c);
    char cpus[4][64];
    char want[16];
    snprintf(want, sizeof want, "%d", first);
    assert_int_equal(threads_named("xr-eng0", cpus, 4), 1);
    assert_string_equal(cpus[0], want);
    assert_int_equal(threads_named("xr-ledger1", cpus, 4), 1);
    char all[64];
    if (first == last)
        snprintf(all, sizeof all, "%d", first);
    else
        snprintf(all, sizeof all, "%d-%d", first, last);
    if (CPU_COUNT(&allowed) == last - first + 1) /* a contiguous set prints as a range */
        assert_string_equal(cpus[0], all);
    close_engine();
    assert_int_equal(threads_named("xr-eng0", NULL, 0), 0);
    assert_int_equal(threads_named("xr-ledger1", NULL, 0), 0);
}

/* xr_engine_wait: times out when nothing comes (not before the timeout), returns as soon as
 * an answer is ready; then poll takes it. Both schedules. */
static void wait_case(uint32_t schedule)
{
    xr_engine_config c = E.cfg;
    c.schedule = schedule;
    open_engine(&c);
    assert_int_equal(xr_engine_wait(NULL, 1), XR_ERR_INVALID_ARGUMENT);
    uint64_t t0 = xr_clock_mono_ns();
    assert_int_equal(xr_engine_wait(E.eng, 3 * XR_NS_PER_MS), XR_ERR_TIMEOUT);
    assert_true(xr_clock_mono_ns() - t0 >= 3 * XR_NS_PER_MS);

    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK, .bank_id = BANK, .correlation_id = ++E.corr};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
    q.u.market.depth = 2;
    assert_int_equal(xr_engine_submit(E.eng, &q), XR_OK);
    assert_int_equal(xr_engine_wait(E.eng, 10 * XR_NS_PER_SEC), XR_OK);
    xr_engine_event ev[2];
    size_t n = 0;
    assert_int_equal(xr_engine_poll(E.eng, ev, 2, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, XR_ENGINE_EV_BOOK);
    assert_true(ev[0].correlation_id == E.corr);
    assert_true(ev[0].u.book.asks[0].price.ticks == 60000 * E.price_one);
    assert_true(ev[0].u.book.bids[0].price.ticks == 59950 * E.price_one);
    /* Nothing else is pending. */
    assert_int_equal(xr_engine_wait(E.eng, 1 * XR_NS_PER_MS), XR_ERR_TIMEOUT);
    close_engine();
}

static void test_wait_inline(void **state)
{
    (void)state;
    wait_case(XR_ENGINE_SCHEDULE_INLINE);
}

static void test_wait_threads(void **state)
{
    (void)state;
    wait_case(XR_ENGINE_SCHEDULE_THREADS);
}

/* Every stage on its own thread: a market buy crosses five threads (gateway, pricing, ledger,
 * router, venues) and back; its report and the ledger are exact. */
static void test_thread_per_stage_buy(void **state)
{
    (void)state;
    xr_engine_config c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    for (int s = 0; s < XR_ENGINE_STAGES; s++)
        c.stage_thread[s] = (uint8_t)s;
    c.spin_ns = 0; /* block at once when idle: every hand-over goes through a doorbell */
    open_engine(&c);
    char cpus[1][64];
    for (int s = 0; s < XR_ENGINE_STAGES; s++) {
        char name[16];
        snprintf(name, sizeof name, s == XR_ENGINE_STAGE_LEDGER ? "xr-ledger%d" : "xr-eng%d", s);
        assert_int_equal(threads_named(name, cpus, 1), 1);
    }
    et_register_and_fund(CUST_A, 0, USDT(1000) * 1000000, 1, true);
    /* 0.001 BTC: all on A's 60000 ask (net 60060 beats B's 60130.02). */
    const int64_t sat = 100000;
    xr_i128 n_a = ceil_div(notional_exact_e8(sat, 60000), U8);
    xr_i128 f_a = ceil_div(n_a * fee_bps[0], 10000);
    xr_i128 s = floor_div((n_a + f_a) * SPREAD, 10000);
    assert_true(n_a == USDT(60000000) && f_a == USDT(60000)); /* 60.00, 0.06 */
    xr_engine_event ev = call(order_cmd(CUST_A, 30, XR_ENGINE_BUY, sat));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("buy rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_int_equal(ev.u.report.venues, 1);
    assert_true(ev.u.report.filled.units == sat);
    assert_true(ev.u.report.notional.units == n_a);
    assert_true(ev.u.report.fees.units == f_a);
    assert_true(ev.u.report.spread.units == s);
    assert_true(ev.u.report.quote.units == n_a + f_a + s);
    E.cust_usdt[0] -= n_a + f_a + s;
    E.cust_btc[0] += sat;
    E.revenue += s;
    close_engine();
    xr_i128 got = balance_of(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "USDT", NULL);
    assert_true(got == E.cust_usdt[0]);
    got = balance_of(XR_LEDGER_KIND_CUSTOMER, BANK, CUST_A, "BTC", NULL);
    assert_true(got == E.cust_btc[0]);
    got = balance_of(XR_LEDGER_KIND_SPREAD_REVENUE, BANK, 0, "USDT", NULL);
    assert_true(got == E.revenue);
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
}

/* Every hand-over is a wake-up, not a timeout: with no spinning and the venues' thread
 * allowed to sleep 4 s, a book query and a market buy (REST answer and user stream: network
 * completions that must wake the io_uring wait; the ledger's thread woken by its doorbell)
 * take far less than one such sleep. */
static void test_wakeups_not_timeouts(void **state)
{
    (void)state;
    xr_engine_config c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    c.spin_ns = 0;
    c.io_wait_ns = 4000000000u;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    et_wait_book(4, false);               /* A's top ask is 0.001 BTC short of the set book now */
    struct timespec idle = {0, 50000000}; /* every engine thread is asleep after this */
    nanosleep(&idle, NULL);
    uint64_t t0 = xr_clock_mono_ns();
    xr_engine_event ev = book_query();
    assert_int_equal(ev.kind, XR_ENGINE_EV_BOOK);
    assert_true(xr_clock_mono_ns() - t0 < 1500 * XR_NS_PER_MS);
    nanosleep(&idle, NULL);
    t0 = xr_clock_mono_ns();
    ev = call(order_cmd(CUST_A, 31, XR_ENGINE_BUY, 100000));
    uint64_t took = xr_clock_mono_ns() - t0;
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("buy rejected: %s", xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_true(ev.u.report.filled.units == 100000);
    if (took >= 2 * XR_NS_PER_SEC)
        fail_msg("the buy took %llu ms: a wake-up was missed",
                 (unsigned long long)(took / 1000000));
    close_engine();
}

/* CPU time (user + system, in clock ticks) used so far by this process's threads named
 * `name`. */
static uint64_t thread_cpu_ticks(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "", line[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) == NULL)
            comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, name) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        /* Fields after the parenthesised name: state is field 3, utime 14, stime 15. */
        const char *p = strrchr(line, ')');
        assert_non_null(p);
        unsigned long long ut = 0, st = 0;
        assert_int_equal(
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
        sum += ut + st;
    }
    closedir(d);
    return sum;
}

/* The default THREADS engine, idle (venues connected, books synced, no command), backs off:
 * over one second its two threads use a small fraction of a core, not the whole core a
 * spinning thread would (2 cores must be shared with the bank's own threads). */
static void test_idle_backs_off(void **state)
{
    (void)state;
    xr_engine_config c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    et_wait_book(4, false);
    long hz = sysconf(_SC_CLK_TCK);
    assert_true(hz > 0);
    struct timespec settle = {0, 100000000};
    nanosleep(&settle, NULL);
    uint64_t e0 = thread_cpu_ticks("xr-eng0"), l0 = thread_cpu_ticks("xr-ledger1");
    uint64_t t0 = xr_clock_mono_ns();
    struct timespec idle = {1, 0};
    nanosleep(&idle, NULL);
    uint64_t wall = xr_clock_mono_ns() - t0;
    uint64_t e1 = thread_cpu_ticks("xr-eng0"), l1 = thread_cpu_ticks("xr-ledger1");
    double eng = (double)(e1 - e0) / (double)hz, led = (double)(l1 - l0) / (double)hz;
    double secs = (double)wall / 1e9;
    print_message("idle for %.2f s: xr-eng0 used %.3f s of CPU, xr-ledger1 %.3f s\n", secs, eng,
                  led);
    assert_true(eng < 0.15 * secs);
    assert_true(led < 0.15 * secs);
    close_engine();
}

/* A host that blocks in its own loop: xr_engine_arm_notify, then the notifier (here: an
 * eventfd the test blocks on, as a host's loop would) runs once when an answer is ready;
 * not armed, or disarmed by a poll, it does not run. */
static _Atomic int notified;
static int notify_fd = -1;

static void on_ready(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&notified, 1);
    uint64_t one = 1;
    assert_true(write(notify_fd, &one, sizeof one) == (ssize_t)sizeof one);
}

static void submit_book(void)
{
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BOOK, .bank_id = BANK, .correlation_id = ++E.corr};
    snprintf(q.u.market.pair, sizeof q.u.market.pair, "BTC/USDT");
    q.u.market.depth = 1;
    assert_int_equal(xr_engine_submit(E.eng, &q), XR_OK);
}

static void poll_one_book(void)
{
    xr_engine_event ev[2];
    size_t n = 0;
    assert_int_equal(xr_engine_poll(E.eng, ev, 2, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, XR_ENGINE_EV_BOOK);
    assert_true(ev[0].correlation_id == E.corr);
}

static void test_notify(void **state)
{
    (void)state;
    xr_engine_config c = E.cfg;
    c.schedule = XR_ENGINE_SCHEDULE_INLINE;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    assert_int_equal(xr_engine_set_notify(E.eng, on_ready, NULL), XR_ERR_INVALID_STATE);
    assert_int_equal(xr_engine_arm_notify(E.eng), XR_ERR_INVALID_STATE);
    close_engine();

    c.schedule = XR_ENGINE_SCHEDULE_THREADS;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    et_wait_book(4, false);
    assert_int_equal(xr_engine_set_notify(NULL, on_ready, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_engine_arm_notify(NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_engine_arm_notify(E.eng), XR_ERR_INVALID_STATE); /* no notifier */
    notify_fd = eventfd(0, EFD_CLOEXEC);
    assert_true(notify_fd >= 0);
    atomic_store(&notified, 0);
    assert_int_equal(xr_engine_set_notify(E.eng, on_ready, NULL), XR_OK);

    /* Armed, nothing happens: no call. Then an answer: one call, and the host wakes. */
    assert_int_equal(xr_engine_arm_notify(E.eng), XR_OK);
    struct timespec ms20 = {0, 20000000};
    nanosleep(&ms20, NULL);
    assert_int_equal(atomic_load(&notified), 0);
    submit_book();
    struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    uint64_t cnt = 0;
    assert_true(read(notify_fd, &cnt, sizeof cnt) == (ssize_t)sizeof cnt);
    assert_true(cnt == 1);
    assert_int_equal(atomic_load(&notified), 1);
    poll_one_book();

    /* An answer already waiting: arming says AGAIN (poll instead of blocking). */
    submit_book();
    assert_int_equal(xr_engine_wait(E.eng, 10 * XR_NS_PER_SEC), XR_OK);
    assert_int_equal(xr_engine_arm_notify(E.eng), XR_ERR_AGAIN);
    poll_one_book();

    /* Disarmed by a poll: the next answer calls nobody. */
    assert_int_equal(xr_engine_arm_notify(E.eng), XR_OK);
    xr_engine_event ev[1];
    size_t n = 9;
    assert_int_equal(xr_engine_poll(E.eng, ev, 1, &n), XR_OK);
    assert_int_equal(n, 0);
    submit_book();
    assert_int_equal(xr_engine_wait(E.eng, 10 * XR_NS_PER_SEC), XR_OK);
    poll_one_book();
    assert_int_equal(atomic_load(&notified), 1);
    close_engine();
    close(notify_fd);
    notify_fd = -1;
}

/* ---- back-pressure and failure ------------------------------------------------------------ */

/* A burst far larger than the rings (256 slots): submit meets XR_ERR_AGAIN, the caller drains,
 * and every command gets its one answer (a reject by the gateway: unknown bank), none lost or
 * doubled, in both schedules. */
static void burst_case(uint32_t schedule)
{
    xr_engine_config c = E.cfg;
    c.schedule = schedule;
    assert_int_equal(xr_engine_open(&c, &E.eng), XR_OK);
    enum { N = 3000 };
    static uint8_t seen[N + 1];
    memset(seen, 0, sizeof seen);
    uint32_t sent = 0, got = 0, again = 0;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    while (got < N) {
        while (sent < N) {
            xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BALANCES, .bank_id = 77, .customer_id = 1};
            q.correlation_id = sent + 1;
            xr_err err = xr_engine_submit(E.eng, &q);
            if (err == XR_ERR_AGAIN) {
                again++;
                break;
            }
            assert_int_equal(err, XR_OK);
            sent++;
        }
        xr_engine_event ev[64];
        size_t n = 0;
        if (schedule == XR_ENGINE_SCHEDULE_THREADS) {
            xr_err w = xr_engine_wait(E.eng, 100 * XR_NS_PER_MS);
            assert_true(w == XR_OK || w == XR_ERR_TIMEOUT);
        }
        assert_int_equal(xr_engine_poll(E.eng, ev, 64, &n), XR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ev[i].kind, XR_ENGINE_EV_REJECT);
            assert_int_equal(ev[i].u.reject.err, XR_ERR_UNAUTHORIZED);
            assert_true(ev[i].correlation_id >= 1 && ev[i].correlation_id <= N);
            assert_int_equal(seen[ev[i].correlation_id], 0);
            seen[ev[i].correlation_id] = 1;
            got++;
        }
        assert_true(xr_clock_mono_ns() < end);
    }
    assert_true(again > 0); /* the rings really filled */
    size_t n = 0;
    xr_engine_event extra;
    assert_int_equal(xr_engine_wait(E.eng, 2 * XR_NS_PER_MS), XR_ERR_TIMEOUT);
    assert_int_equal(xr_engine_poll(E.eng, &extra, 1, &n), XR_OK);
    assert_int_equal(n, 0);
    close_engine();
}

static void test_burst_inline(void **state)
{
    (void)state;
    burst_case(XR_ENGINE_SCHEDULE_INLINE);
}

static void test_burst_threads(void **state)
{
    (void)state;
    burst_case(XR_ENGINE_SCHEDULE_THREADS);
}

/* A venue driver whose poll fails on its 50th call. */
typedef struct failing_drv {
    uint32_t calls;
} failing_drv;

static xr_err fd_create(const xr_engine_config *cfg, const xr_asset_registry *assets,
                        const xr_eng_venue_io *io, void **out)
{
    (void)cfg;
    (void)assets;
    (void)io;
    failing_drv *d = calloc(1, sizeof *d);
    if (d == NULL)
        return XR_ERR_NO_MEMORY;
    *out = d;
    return XR_OK;
}

static xr_err fd_poll(void *p, bool *work)
{
    failing_drv *d = p;
    (void)work;
    return ++d->calls >= 50 ? XR_ERR_INTERNAL : XR_OK;
}

static void fd_destroy(void *p)
{
    free(p);
}

static const xr_eng_venue_driver failing_driver = {fd_create, fd_poll, fd_destroy};

/* A stage that fails stops the engine: poll and wait say XR_ERR_INTERNAL from then on, and
 * close still stops and frees everything (promptly: no thread is left spinning or asleep). */
static void failure_case(uint32_t schedule)
{
    xr_engine_config c = E.cfg;
    c.schedule = schedule;
    assert_int_equal(xr_engine_open_with(&c, &failing_driver, &E.eng), XR_OK);
    xr_engine_event ev[4];
    size_t n = 0;
    xr_err err = XR_OK;
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    if (schedule == XR_ENGINE_SCHEDULE_THREADS) {
        err = xr_engine_wait(E.eng, WAIT_NS);
    } else {
        while ((err = xr_engine_poll(E.eng, ev, 4, &n)) == XR_OK)
            assert_true(xr_clock_mono_ns() < end);
    }
    assert_int_equal(err, XR_ERR_INTERNAL);
    assert_int_equal(xr_engine_poll(E.eng, ev, 4, &n), XR_ERR_INTERNAL);
    assert_int_equal(n, 0);
    assert_int_equal(xr_engine_wait(E.eng, XR_NS_PER_MS), XR_ERR_INTERNAL);
    /* A command is still accepted into the ring (it will not be answered). */
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_BALANCES, .bank_id = BANK, .customer_id = 1};
    assert_int_equal(xr_engine_submit(E.eng, &q), XR_OK);
    uint64_t t0 = xr_clock_mono_ns();
    close_engine();
    assert_true(xr_clock_mono_ns() - t0 < 500 * XR_NS_PER_MS);
}

static void test_failure_inline(void **state)
{
    (void)state;
    failure_case(XR_ENGINE_SCHEDULE_INLINE);
}

static void test_failure_threads(void **state)
{
    (void)state;
    failure_case(XR_ENGINE_SCHEDULE_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_threads_pinned),
        cmocka_unit_test(test_wait_inline),
        cmocka_unit_test(test_wait_threads),
        cmocka_unit_test(test_thread_per_stage_buy),
        cmocka_unit_test(test_wakeups_not_timeouts),
        cmocka_unit_test(test_idle_backs_off),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_burst_inline),
        cmocka_unit_test(test_burst_threads),
        cmocka_unit_test(test_failure_inline),
        cmocka_unit_test(test_failure_threads),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown_sched);
}
