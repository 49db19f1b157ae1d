/*
 * unit.engine_alloc (and unit.engine_alloc.threads): the engine allocates nothing on the order
 * path after start. A counting shim in this binary interposes malloc, calloc, realloc, free,
 * aligned_alloc, memalign, posix_memalign and valloc (forwarding to glibc's __libc_*), and
 * counts the calls made by the engine while the counter is armed:
 *   - in this (the test's) thread only inside xr_engine_submit / xr_engine_poll: the
 *     simulated venues run in this thread too (xr_sim_poll), and they are not the engine;
 *   - in every other thread (the engine's threads in the THREADS schedule, and the ledger's
 *     hasher) always.
 * After a warm-up (customer, funding, one of each order below: first use may size things
 * lazily), it arms the counter and runs quotes, market buys and market sells across both
 * venues, a LIMIT IOC buy, and a LIMIT GTC buy that rests in the internal book and is
 * cancelled, to their reports, then asserts that nothing but LMDB allocated. LMDB's write
 * transactions malloc their cursors (mdb_cursor_open) and page lists (mdb_midl_alloc) on
 * every durable commit; it has no allocator hook, so those calls (told apart by their call
 * site inside liblmdb) are counted and printed, not asserted: see docs/ARCHITECTURE.md.
 * A free's call site cannot be attributed (LMDB tail-calls free from mdb_cursor_close), so
 * frees are only printed. A self-test first proves that the shim counts and attributes (an
 * armed malloc in this thread is seen, one outside the engine's API is not, LMDB's own is
 * told apart), so the zero cannot come from a dead shim.
 *
 * Sanitizer builds (XR_SANITIZED) skip it: ASan and TSan own malloc and this shim would
 * bypass them.
 */
#define _GNU_SOURCE /* dladdr */
#include "engine_test_util.h"

#include <dlfcn.h>
#include <link.h>
#include <lmdb.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>

#ifndef XR_SANITIZED

/* ---- the counting shim ------------------------------------------------------------------- */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

#define SITES_MAX 16

static _Atomic bool armed;
static _Atomic uint64_t n_alloc, n_lmdb, n_free;
static _Atomic uint32_t n_sites;
static void *sites[SITES_MAX];     /* return addresses of the first counted allocations */
static uintptr_t lmdb_lo, lmdb_hi; /* liblmdb's mapped segments, found by arm() */
static __thread bool t_test;       /* this is the test's thread */
static __thread bool t_engine;     /* the test's thread is inside the engine's API */

static inline bool counted(void)
{
    return atomic_load_explicit(&armed, memory_order_relaxed) && (!t_test || t_engine);
}

/* An allocation made by LMDB itself (its write transactions malloc their cursors and page
 * lists: see the report) is counted apart; every other one is the engine's. */
static void note(bool alloc, void *site)
{
    if (!alloc) {
        atomic_fetch_add(&n_free, 1);
        return;
    }
    if ((uintptr_t)site >= lmdb_lo && (uintptr_t)site < lmdb_hi) {
        atomic_fetch_add(&n_lmdb, 1);
        return;
    }
    atomic_fetch_add(&n_alloc, 1);
    uint32_t i = atomic_fetch_add(&n_sites, 1);
    if (i < SITES_MAX)
        sites[i] = site;
}

void *malloc(size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_realloc(p, size);
}

void free(void *p)
{
    if (p != NULL && counted())
        note(false, __builtin_return_address(0));
    __libc_free(p);
}

void *aligned_alloc(size_t align, size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_memalign(align, size);
}

void *valloc(size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    return __libc_memalign(4096, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (counted())
        note(true, __builtin_return_address(0));
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = __libc_memalign(align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

static int find_lmdb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "liblmdb") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lmdb_lo == 0 || lo < lmdb_lo)
            lmdb_lo = lo;
        if (hi > lmdb_hi)
            lmdb_hi = hi;
    }
    return 1;
}

static void arm(void)
{
    if (lmdb_lo == 0)
        (void)dl_iterate_phdr(find_lmdb, NULL);
    assert_true(lmdb_lo != 0 && lmdb_hi > lmdb_lo); /* the tests link LMDB dynamically */
    atomic_store(&n_alloc, 0);
    atomic_store(&n_lmdb, 0);
    atomic_store(&n_free, 0);
    atomic_store(&n_sites, 0);
    atomic_store(&armed, true);
}

static void disarm_and_report(const char *what)
{
    atomic_store(&armed, false);
    print_message("%s: %llu allocations by the engine, %llu inside LMDB, %llu frees\n", what,
                  (unsigned long long)atomic_load(&n_alloc),
                  (unsigned long long)atomic_load(&n_lmdb),
                  (unsigned long long)atomic_load(&n_free));
    uint32_t ns = atomic_load(&n_sites);
    for (uint32_t i = 0; i < ns && i < SITES_MAX; i++) {
        Dl_info di;
        memset(&di, 0, sizeof di);
        (void)dladdr(sites[i], &di);
        /* addr2line -f -e <file> <offset> names the caller */
        print_message("  site %u: %s offset %#lx (%s)\n", i,
                      di.dli_sname != NULL ? di.dli_sname : "?",
                      (unsigned long)((const char *)sites[i] - (const char *)di.dli_fbase),
                      di.dli_fname != NULL ? di.dli_fname : "?");
    }
}

/* ---- driving, with the engine's calls marked --------------------------------------------- */

/* Submits `c` and collects `want` events into `out` (the test's thread marked as inside the
 * engine for both calls, not while it runs the simulator). Returns c's correlation id. */
static uint64_t counted_collect(xr_engine_cmd c, xr_engine_event *out, size_t want)
{
    c.bank_id = BANK;
    c.correlation_id = ++E.corr;
    t_engine = true;
    xr_err err = xr_engine_submit(E.eng, &c);
    t_engine = false;
    assert_int_equal(err, XR_OK);
    uint64_t end = xr_clock_mono_ns() + WAIT_NS;
    size_t got = 0;
    while (got < want) {
        size_t n = 0;
        t_engine = true;
        err = xr_engine_poll(E.eng, out + got, want - got, &n);
        t_engine = false;
        assert_int_equal(err, XR_OK);
        got += n;
        if (got == want)
            break;
        assert_true(xr_clock_mono_ns() < end);
        pump_once(); /* the simulator: not counted */
    }
    return c.correlation_id;
}

static xr_engine_event counted_call(xr_engine_cmd c)
{
    xr_engine_event ev;
    uint64_t corr = counted_collect(c, &ev, 1);
    assert_true(ev.correlation_id == corr);
    return ev;
}

static xr_engine_cmd quote_cmd(uint8_t side, int64_t sat)
{
    xr_engine_cmd q = {.kind = XR_ENGINE_CMD_QUOTE, .customer_id = CUST_A};
    snprintf(q.u.quote.pair, sizeof q.u.quote.pair, "BTC/USDT");
    q.u.quote.side = side;
    q.u.quote.amount_side = XR_ENGINE_AMOUNT_BASE;
    q.u.quote.amount.units = sat;
    return q;
}

/* A quote, then a market order of `sat` on `side`, both answered, the order FILLED whole. */
static void round_trip(uint8_t side, int64_t sat, uint8_t key)
{
    xr_engine_event ev = counted_call(quote_cmd(side, sat));
    assert_int_equal(ev.kind, XR_ENGINE_EV_QUOTE);
    assert_true(ev.u.quote.base.units == sat);
    ev = counted_call(order_cmd(CUST_A, key, side, sat));
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("order %u rejected: %s", key, xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_true(ev.u.report.filled.units == sat);
    assert_int_equal(ev.u.report.replayed, 0);
}

/* A LIMIT IOC buy of 0.001 BTC at 61500 USDT all in: marketable (the asks are at 60010 and
 * up: 60010 x 1.002 x 1.015 = 61032), routed and FILLED whole. */
static void limit_ioc(uint8_t key)
{
    xr_engine_cmd c = order_cmd(CUST_A, key, XR_ENGINE_BUY, 100000);
    c.u.order.type = XR_ENGINE_LIMIT;
    c.u.order.tif = XR_ENGINE_TIF_IOC;
    c.u.order.limit.ticks = 61500 * E.price_one;
    xr_engine_event ev = counted_call(c);
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("limit %u rejected: %s", key, xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_FILLED);
    assert_true(ev.u.report.filled.units == 100000);
}

/* A LIMIT GTC buy of 0.001 BTC at 50000 USDT all in rests in the internal book (OPEN), then
 * CANCEL: its final report CANCELLED, to the cancel and to the order's own correlation id. */
static void limit_rest_and_cancel(uint8_t key)
{
    xr_engine_cmd c = order_cmd(CUST_A, key, XR_ENGINE_BUY, 100000);
    c.u.order.type = XR_ENGINE_LIMIT;
    c.u.order.tif = XR_ENGINE_TIF_GTC;
    c.u.order.limit.ticks = 50000 * E.price_one;
    xr_engine_event ev = counted_call(c);
    if (ev.kind == XR_ENGINE_EV_REJECT)
        fail_msg("limit %u rejected: %s", key, xr_err_name(ev.u.reject.err));
    assert_int_equal(ev.kind, XR_ENGINE_EV_EXEC_REPORT);
    assert_int_equal(ev.u.report.status, XR_ENGINE_ORDER_OPEN);
    uint64_t order_corr = ev.correlation_id;
    xr_engine_cmd x = {.kind = XR_ENGINE_CMD_CANCEL, .customer_id = CUST_A};
    x.u.ref.key = key_of(key);
    xr_engine_event two[2];
    uint64_t cancel_corr = counted_collect(x, two, 2);
    bool seen_cancel = false, seen_order = false;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(two[i].kind, XR_ENGINE_EV_EXEC_REPORT);
        assert_int_equal(two[i].u.report.status, XR_ENGINE_ORDER_CANCELLED);
        assert_true(two[i].u.report.filled.units == 0);
        seen_cancel = seen_cancel || two[i].correlation_id == cancel_corr;
        seen_order = seen_order || two[i].correlation_id == order_corr;
    }
    assert_true(seen_cancel && seen_order);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    t_test = true;
    return et_group_setup("/tmp/xr_engine_alloc_XXXXXX");
}

/* The shim sees an allocation of this thread made inside the engine's API, and ignores one
 * made outside it (the simulator's side). */
static void test_shim_counts(void **state)
{
    (void)state;
    void *(*volatile m)(size_t) = malloc;
    void (*volatile fr)(void *) = free;
    arm();
    t_engine = true;
    void *p = m(24);
    fr(p);
    t_engine = false;
    p = m(24);
    fr(p);
    /* LMDB's own allocations are told apart by their call site. */
    MDB_env *menv = NULL;
    t_engine = true;
    assert_int_equal(mdb_env_create(&menv), MDB_SUCCESS);
    mdb_env_close(menv);
    t_engine = false;
    atomic_store(&armed, false);
    assert_true(atomic_load(&n_alloc) == 1);
    assert_true(atomic_load(&n_free) >= 2);
    assert_true(atomic_load(&n_lmdb) >= 1);
}

/* Quotes, market buys and sells across both venues, a LIMIT IOC and a resting LIMIT GTC
 * cancelled, after the warm-up: zero calls by the engine. */
static void test_order_path_allocates_nothing(void **state)
{
    (void)state;
    et_register_and_fund(CUST_A, 0, USDT(10000) * 1000000, 1, true);
    /* Warm-up: the first quote, buy and sell (0.001 BTC: one venue each). */
    round_trip(XR_ENGINE_BUY, 100000, 10);
    round_trip(XR_ENGINE_SELL, 100000, 11);
    limit_ioc(12);
    limit_rest_and_cancel(13);

    arm();
    /* 0.001 BTC on one venue, 0.015 BTC across both (A's 0.01 at the top, then B). */
    round_trip(XR_ENGINE_BUY, 100000, 20);
    round_trip(XR_ENGINE_SELL, 100000, 21);
    round_trip(XR_ENGINE_BUY, 1500000, 22);
    round_trip(XR_ENGINE_SELL, 1000000, 23);
    round_trip(XR_ENGINE_BUY, 200000, 24);
    round_trip(XR_ENGINE_SELL, 300000, 25);
    limit_ioc(26);
    limit_rest_and_cancel(27);
    disarm_and_report("order path after warm-up");
    if (atomic_load(&n_alloc) != 0)
        fail_msg("the order path allocated %llu times (sites above)",
                 (unsigned long long)atomic_load(&n_alloc));

    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(E.ro, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shim_counts),
        cmocka_unit_test(test_order_path_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else /* XR_SANITIZED */

static void test_skipped_under_sanitizers(void **state)
{
    (void)state;
    (void)E;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped_under_sanitizers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
