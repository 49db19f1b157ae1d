/*
 * Unit tests of core/ledger: every operation and error path, idempotency across restarts,
 * linked groups, expiry, queries, the tamper check of verify, and storage faults (a full
 * map, a failed sync).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "core/ledger/ledger.h"
#include "core/ledger/ledger_internal.h"

/* ---- fixture ------------------------------------------------------------------------- */

typedef struct fx {
    char dir[256];
    xr_ledger *lg;
    int64_t now_ns;
    int sync_calls;
    int sync_fail_at; /* fail the n-th sync (1-based); 0 = never */
    uint64_t map_size;
    uint64_t next_id;
    int hash_thread;
} fx;

static int64_t fx_clock(void *ctx)
{
    return ((fx *)ctx)->now_ns;
}

static int fx_sync(void *ctx, int fd)
{
    fx *f = ctx;
    f->sync_calls++;
    if (f->sync_fail_at != 0 && f->sync_calls >= f->sync_fail_at)
        return EIO;
    return fdatasync(fd) == 0 ? 0 : errno;
}

static xr_err fx_open(fx *f, int read_only)
{
    xr_ledger_config cfg = {0};
    cfg.dir = f->dir;
    cfg.read_only = read_only;
    cfg.clock_ns = fx_clock;
    cfg.clock_ctx = f;
    cfg.sync_hook = fx_sync;
    cfg.sync_ctx = f;
    cfg.max_batch_ops = 4096;
    cfg.map_size_bytes = f->map_size;
    cfg.hash_thread = f->hash_thread;
    return xr_ledger_open(&cfg, &f->lg);
}

static void fx_reopen(fx *f)
{
    xr_ledger_close(f->lg);
    f->lg = NULL;
    assert_int_equal(fx_open(f, 0), XR_OK);
}

static void rm_dir(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(f->dir, sizeof f->dir, "%s/xr_ledger_XXXXXX", tmp);
    assert_non_null(mkdtemp(f->dir));
    f->now_ns = 1700000000000000000ll;
    f->next_id = 1;
    assert_int_equal(fx_open(f, 0), XR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    xr_ledger_close(f->lg);
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* ---- op builders ----------------------------------------------------------------------- */

enum { FUND_USD = 1, OMNI_USD = 2, CUST_A = 10, CUST_B = 11, FUND_BTC = 20, CUST_BTC = 21 };

static xr_ledger_id id_of(uint64_t n)
{
    return xr_ledger_id_make(0x0100000000000000ull, n);
}

static xr_ledger_op op_create(uint64_t n, uint64_t acc, const char *asset, uint8_t kind,
                              uint16_t flags)
{
    xr_ledger_op op = {0};
    op.id = id_of(n);
    op.kind = XR_LEDGER_OP_CREATE_ACCOUNT;
    op.account.id = acc;
    snprintf(op.account.asset, sizeof op.account.asset, "%s", asset);
    op.account.kind = kind;
    op.account.flags = flags;
    op.account.bank_id = 7;
    op.account.owner_id = acc * 100;
    return op;
}

static xr_ledger_op op_xfer(uint64_t n, uint8_t kind, uint64_t d, uint64_t c, xr_i128 amt)
{
    xr_ledger_op op = {0};
    op.id = id_of(n);
    op.kind = kind;
    op.debit_account_id = d;
    op.credit_account_id = c;
    op.amount.units = amt;
    op.user_data = n;
    return op;
}

static xr_ledger_op op_resolve(uint64_t n, uint8_t kind, uint64_t pending_n, xr_i128 amt)
{
    xr_ledger_op op = {0};
    op.id = id_of(n);
    op.kind = kind;
    op.pending_id = id_of(pending_n);
    op.amount.units = amt;
    return op;
}

static xr_ledger_result run1(fx *f, xr_ledger_op op)
{
    xr_ledger_result r;
    assert_int_equal(xr_ledger_execute(f->lg, &op, 1, &r), XR_OK);
    return r;
}

static void expect_ok(fx *f, xr_ledger_op op)
{
    xr_ledger_result r = run1(f, op);
    if (r.err != XR_OK)
        fail_msg("op %d failed: %s", op.kind, xr_err_name(r.err));
    assert_int_equal(r.replayed, 0);
}

static void expect_err(fx *f, xr_ledger_op op, xr_err want)
{
    xr_ledger_result r = run1(f, op);
    if (r.err != want)
        fail_msg("op %d: got %s, want %s", op.kind, xr_err_name(r.err), xr_err_name(want));
}

static xr_ledger_account account_of(fx *f, uint64_t id)
{
    xr_ledger_account a;
    assert_int_equal(xr_ledger_account_get(f->lg, id, &a), XR_OK);
    return a;
}

static void expect_balances(fx *f, uint64_t id, xr_i128 balance, xr_i128 reserved)
{
    xr_ledger_account a = account_of(f, id);
    if (xr_ledger_account_balance(&a).units != balance ||
        xr_ledger_account_reserved(&a).units != reserved)
        fail_msg("account %llu: balance %lld reserved %lld, want %lld / %lld",
                 (unsigned long long)id, (long long)xr_ledger_account_balance(&a).units,
                 (long long)xr_ledger_account_reserved(&a).units, (long long)balance,
                 (long long)reserved);
    assert_true(xr_ledger_account_available(&a).units ==
                xr_ledger_account_balance(&a).units - xr_ledger_account_reserved(&a).units);
}

static void expect_verify_ok(fx *f)
{
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(f->lg, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("verify: %s", rep.problem);
}

/* Standard chart: USD funding (may go negative), omnibus, two customers; BTC funding and a
 * BTC customer. Customer A gets 1000.00 USD. */
static void chart(fx *f)
{
    xr_ledger_op ops[] = {
        op_create(1, FUND_USD, "USD", XR_LEDGER_KIND_BANK_FUNDING,
                  XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE),
        op_create(2, OMNI_USD, "USD", XR_LEDGER_KIND_BANK_OMNIBUS,
                  XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE),
        op_create(3, CUST_A, "USD", XR_LEDGER_KIND_CUSTOMER, 0),
        op_create(4, CUST_B, "USD", XR_LEDGER_KIND_CUSTOMER, 0),
        op_create(5, FUND_BTC, "BTC", XR_LEDGER_KIND_BANK_FUNDING,
                  XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE),
        op_create(6, CUST_BTC, "BTC", XR_LEDGER_KIND_CUSTOMER, 0),
        op_xfer(7, XR_LEDGER_OP_TRANSFER, FUND_USD, CUST_A, 100000),
    };
    xr_ledger_result res[7];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 7, res), XR_OK);
    for (int i = 0; i < 7; i++)
        assert_int_equal(res[i].err, XR_OK);
    f->next_id = 100;
}

/* ---- accounts and transfers ------------------------------------------------------------ */

static void test_create_and_transfer(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_account a = account_of(f, CUST_A);
    assert_string_equal(a.asset, "USD");
    assert_int_equal(a.scale, 2);
    assert_int_equal(a.kind, XR_LEDGER_KIND_CUSTOMER);
    assert_int_equal(a.bank_id, 7);
    assert_int_equal(a.owner_id, CUST_A * 100);
    assert_int_equal(a.created_ns, f->now_ns);
    expect_balances(f, CUST_A, 100000, 0);
    expect_balances(f, FUND_USD, -100000, 0);

    expect_ok(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 2550));
    expect_balances(f, CUST_A, 97450, 0);
    expect_balances(f, CUST_B, 2550, 0);

    xr_ledger_transfer t;
    xr_ledger_id id = id_of(100);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.kind, XR_LEDGER_OP_TRANSFER);
    assert_int_equal(t.status, XR_LEDGER_STATUS_DONE);
    assert_int_equal(t.result, XR_OK);
    assert_true(t.amount.units == 2550 && t.amount_done.units == 2550);
    assert_int_equal(t.debit_account_id, CUST_A);
    assert_int_equal(t.credit_account_id, CUST_B);
    assert_int_equal(t.user_data, 100);
    assert_int_equal(t.first_entry_seq, 3); /* the funding transfer wrote entries 1 and 2 */
    expect_verify_ok(f);
}

static void test_create_account_errors(void **state)
{
    fx *f = *state;
    chart(f);
    expect_err(f, op_create(100, CUST_A, "USD", XR_LEDGER_KIND_CUSTOMER, 0), XR_ERR_ALREADY_EXISTS);
    expect_err(f, op_create(101, 50, "XYZ", XR_LEDGER_KIND_CUSTOMER, 0), XR_ERR_UNKNOWN_ASSET);
    expect_err(
        f, op_create(102, 51, "USD", XR_LEDGER_KIND_CUSTOMER, XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE),
        XR_ERR_INVALID_ARGUMENT);
    expect_err(f, op_create(103, 0, "USD", XR_LEDGER_KIND_CUSTOMER, 0), XR_ERR_INVALID_ARGUMENT);
    expect_err(f, op_create(104, 52, "USD", 99, 0), XR_ERR_INVALID_ARGUMENT);
    expect_err(f, op_create(105, 53, "USD", XR_LEDGER_KIND_FEES, 0x8000), XR_ERR_INVALID_ARGUMENT);
    /* Input errors are not stored: the id is still free and can be used correctly. */
    expect_ok(f, op_create(101, 50, "EUR", XR_LEDGER_KIND_CUSTOMER, 0));
    /* ALREADY_EXISTS is stored: a resend answers the same. */
    xr_ledger_result r = run1(f, op_create(100, CUST_A, "USD", XR_LEDGER_KIND_CUSTOMER, 0));
    assert_int_equal(r.err, XR_ERR_ALREADY_EXISTS);
    assert_int_equal(r.replayed, 1);
    expect_verify_ok(f);
}

static void test_transfer_errors(void **state)
{
    fx *f = *state;
    chart(f);
    expect_err(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, 999, 1), XR_ERR_NOT_FOUND);
    expect_err(f, op_xfer(101, XR_LEDGER_OP_TRANSFER, 999, CUST_A, 1), XR_ERR_NOT_FOUND);
    expect_err(f, op_xfer(102, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_BTC, 1), XR_ERR_ASSET_MISMATCH);
    expect_err(f, op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 100001),
               XR_ERR_INSUFFICIENT_FUNDS);
    expect_err(f, op_xfer(104, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_A, 1), XR_ERR_INVALID_ARGUMENT);
    expect_err(f, op_xfer(105, XR_LEDGER_OP_TRANSFER, CUST_A, 0, 1), XR_ERR_INVALID_ARGUMENT);
    expect_err(f, op_xfer(106, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 0), XR_ERR_INVALID_AMOUNT);
    expect_err(f, op_xfer(107, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, -5), XR_ERR_INVALID_AMOUNT);
    xr_ledger_op bad = op_xfer(108, 77, CUST_A, CUST_B, 1);
    expect_err(f, bad, XR_ERR_INVALID_ARGUMENT);
    bad = op_xfer(109, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
    bad.flags = 0x80;
    expect_err(f, bad, XR_ERR_INVALID_ARGUMENT);
    bad = op_xfer(0, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
    memset(&bad.id, 0, sizeof bad.id);
    expect_err(f, bad, XR_ERR_INVALID_ARGUMENT);
    /* Exactly the available balance is fine; the stored failure keeps its id taken. */
    expect_ok(f, op_xfer(110, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 100000));
    xr_ledger_result r = run1(f, op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 100001));
    assert_int_equal(r.err, XR_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(r.replayed, 1);
    assert_int_equal(r.failed_index, 0);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(103);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_FAILED);
    assert_int_equal(t.result, XR_ERR_INSUFFICIENT_FUNDS);
    id = id_of(106);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_ERR_NOT_FOUND);
    expect_balances(f, CUST_A, 0, 0);
    expect_balances(f, CUST_B, 100000, 0);
    expect_verify_ok(f);
}

static void test_overflow(void **state)
{
    fx *f = *state;
    chart(f);
    /* Funding may go negative, but no counter may pass XR_I128_MAX. */
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, FUND_USD, CUST_B, XR_I128_MAX - 100000));
    expect_err(f, op_xfer(101, XR_LEDGER_OP_TRANSFER, FUND_USD, CUST_B, 1), XR_ERR_OVERFLOW);
    expect_err(f, op_xfer(102, XR_LEDGER_OP_RESERVE, FUND_USD, CUST_A, 1), XR_ERR_OVERFLOW);
    expect_verify_ok(f);
}

/* ---- two-phase ------------------------------------------------------------------------ */

static void test_reserve_post_whole(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_result r = run1(f, op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 30000));
    assert_int_equal(r.err, XR_OK);
    assert_true(r.amount.units == 30000);
    assert_int_equal(r.timestamp_ns, f->now_ns + 1); /* batch times strictly increase */
    expect_balances(f, CUST_A, 100000, 30000);
    xr_ledger_account o = account_of(f, OMNI_USD);
    assert_true(o.credits_pending.units == 30000);
    /* The hold counts: only 700.00 is available. */
    expect_err(f, op_xfer(101, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 70001),
               XR_ERR_INSUFFICIENT_FUNDS);
    r = run1(f, op_resolve(102, XR_LEDGER_OP_POST, 100, 0));
    assert_int_equal(r.err, XR_OK);
    assert_true(r.amount.units == 30000);
    expect_balances(f, CUST_A, 70000, 0);
    expect_balances(f, OMNI_USD, 30000, 0);
    o = account_of(f, OMNI_USD);
    assert_true(o.credits_pending.units == 0);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(100);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_POSTED);
    assert_true(t.amount_done.units == 30000);
    assert_memory_equal(t.link_id.bytes, id_of(102).bytes, 16);
    assert_int_equal(t.resolved_ns, r.timestamp_ns);
    /* Double post, void after post. */
    expect_err(f, op_resolve(103, XR_LEDGER_OP_POST, 100, 0), XR_ERR_INVALID_STATE);
    expect_err(f, op_resolve(104, XR_LEDGER_OP_VOID, 100, 0), XR_ERR_INVALID_STATE);
    expect_verify_ok(f);
}

static void test_reserve_post_partial(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 30000));
    expect_err(f, op_resolve(101, XR_LEDGER_OP_POST, 100, 30001), XR_ERR_INVALID_AMOUNT);
    expect_err(f, op_resolve(102, XR_LEDGER_OP_POST, 100, -1), XR_ERR_INVALID_AMOUNT);
    xr_ledger_result r = run1(f, op_resolve(103, XR_LEDGER_OP_POST, 100, 12345));
    assert_int_equal(r.err, XR_OK);
    assert_true(r.amount.units == 12345);
    /* The rest (17655) is released. */
    expect_balances(f, CUST_A, 100000 - 12345, 0);
    expect_balances(f, OMNI_USD, 12345, 0);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(103);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_true(t.amount_done.units == 12345);
    assert_int_equal(t.debit_account_id, CUST_A);
    assert_int_equal(t.credit_account_id, OMNI_USD);
    expect_verify_ok(f);
}

static void test_void(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 30000));
    xr_ledger_result r = run1(f, op_resolve(101, XR_LEDGER_OP_VOID, 100, 0));
    assert_int_equal(r.err, XR_OK);
    assert_true(r.amount.units == 30000);
    expect_balances(f, CUST_A, 100000, 0);
    expect_balances(f, OMNI_USD, 0, 0);
    /* Post after void, double void. */
    expect_err(f, op_resolve(102, XR_LEDGER_OP_POST, 100, 0), XR_ERR_INVALID_STATE);
    expect_err(f, op_resolve(103, XR_LEDGER_OP_VOID, 100, 0), XR_ERR_INVALID_STATE);
    /* Unknown reservation; a plain transfer is not a reservation; nor is a failed one. */
    expect_err(f, op_resolve(104, XR_LEDGER_OP_VOID, 999, 0), XR_ERR_NOT_FOUND);
    expect_err(f, op_resolve(105, XR_LEDGER_OP_POST, 7, 0), XR_ERR_INVALID_STATE);
    expect_err(f, op_xfer(106, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 999999),
               XR_ERR_INSUFFICIENT_FUNDS);
    expect_err(f, op_resolve(107, XR_LEDGER_OP_POST, 106, 0), XR_ERR_INVALID_STATE);
    xr_ledger_op zero = op_resolve(108, XR_LEDGER_OP_VOID, 1, 0);
    memset(&zero.pending_id, 0, sizeof zero.pending_id);
    expect_err(f, zero, XR_ERR_INVALID_ARGUMENT);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(100);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_VOIDED);
    expect_verify_ok(f);
}

static void test_expiry(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op res = op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 40000);
    res.deadline_ns = f->now_ns + 1000;
    expect_ok(f, res);
    xr_ledger_op late = op_xfer(101, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 1000);
    late.deadline_ns = f->now_ns - 1;
    expect_err(f, late, XR_ERR_INVALID_ARGUMENT);
    xr_ledger_op second = op_xfer(102, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 10000);
    second.deadline_ns = f->now_ns + 5000;
    expect_ok(f, second);
    expect_balances(f, CUST_A, 100000, 50000);
    xr_ledger_stats st;
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.open_reservations_with_deadline, 2);

    /* At the deadline the reservation may no longer be posted. */
    f->now_ns += 1000;
    uint32_t expired = 99;
    assert_int_equal(xr_ledger_expire_due(f->lg, &expired), XR_OK);
    assert_int_equal(expired, 1);
    expect_balances(f, CUST_A, 100000, 10000);
    expect_err(f, op_resolve(103, XR_LEDGER_OP_POST, 100, 0), XR_ERR_INVALID_STATE);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(100);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_EXPIRED);
    assert_true(t.resolved_ns >= f->now_ns);
    expect_verify_ok(f);

    /* Every batch sweeps first, so a post past the deadline finds the reservation expired
     * and the hold released. */
    f->now_ns += 10000;
    expect_err(f, op_resolve(104, XR_LEDGER_OP_POST, 102, 0), XR_ERR_INVALID_STATE);
    expect_balances(f, CUST_A, 100000, 0);
    assert_int_equal(xr_ledger_expire_due(f->lg, &expired), XR_OK);
    assert_int_equal(expired, 0);
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.open_reservations_with_deadline, 0);
    /* Posting before the deadline works and removes it from the expiry index. */
    xr_ledger_op third = op_xfer(105, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 500);
    third.deadline_ns = f->now_ns + 100;
    expect_ok(f, third);
    expect_ok(f, op_resolve(106, XR_LEDGER_OP_POST, 105, 0));
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.open_reservations_with_deadline, 0);
    expect_verify_ok(f);
}

static void test_expiry_across_restart(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op res = op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 40000);
    res.deadline_ns = f->now_ns + 1000;
    expect_ok(f, res);
    fx_reopen(f);
    f->now_ns += 2000;
    /* Any batch sweeps first: this transfer needs the released funds. */
    expect_ok(f, op_xfer(101, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 100000));
    expect_balances(f, CUST_A, 0, 0);
    expect_verify_ok(f);
}

/* ---- linked groups ---------------------------------------------------------------------- */

static void test_linked_group_all_or_nothing(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op ops[3] = {
        op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 60000),
        op_xfer(101, XR_LEDGER_OP_TRANSFER, CUST_A, OMNI_USD, 30000),
        op_xfer(102, XR_LEDGER_OP_TRANSFER, CUST_A, OMNI_USD, 20000), /* 110000 > 100000 */
    };
    ops[0].flags = ops[1].flags = XR_LEDGER_OP_LINKED;
    xr_ledger_result res[3];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 3, res), XR_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].err, XR_ERR_INSUFFICIENT_FUNDS);
        assert_int_equal(res[i].failed_index, 2);
        assert_int_equal(res[i].replayed, 0);
    }
    expect_balances(f, CUST_A, 100000, 0);
    expect_balances(f, CUST_B, 0, 0);
    xr_ledger_stats st;
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.entries, 2); /* only the funding transfer's */
    /* The resend of the group gets the same answer, including which member failed. */
    assert_int_equal(xr_ledger_execute(f->lg, ops, 3, res), XR_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].err, XR_ERR_INSUFFICIENT_FUNDS);
        assert_int_equal(res[i].failed_index, 2);
        assert_int_equal(res[i].replayed, 1);
    }
    expect_verify_ok(f);
}

static void test_linked_group_success(void **state)
{
    fx *f = *state;
    chart(f);
    /* A trade in one group: create the customer's BTC account, reserve, post part, move
     * spread and fee, credit the crypto. Later members see earlier ones. */
    xr_ledger_op ops[6] = {
        op_create(100, 30, "BTC", XR_LEDGER_KIND_CUSTOMER, 0),
        op_xfer(101, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 50000),
        op_resolve(102, XR_LEDGER_OP_POST, 101, 45000),
        op_xfer(103, XR_LEDGER_OP_TRANSFER, OMNI_USD, CUST_B, 300),
        op_xfer(104, XR_LEDGER_OP_TRANSFER, FUND_BTC, 30, 12345678),
        op_xfer(105, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1),
    };
    for (int i = 0; i < 5; i++)
        ops[i].flags = XR_LEDGER_OP_LINKED;
    xr_ledger_result res[6];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 6, res), XR_OK);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(res[i].err, XR_OK);
        assert_int_equal(res[i].failed_index, XR_LEDGER_NO_INDEX);
    }
    expect_balances(f, CUST_A, 100000 - 45000 - 1, 0);
    expect_balances(f, OMNI_USD, 45000 - 300, 0);
    expect_balances(f, 30, 12345678, 0);
    expect_verify_ok(f);
}

static void test_linked_group_failure_undoes_create_and_post(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 50000));
    xr_ledger_op ops[4] = {
        op_create(101, 31, "USD", XR_LEDGER_KIND_CUSTOMER, 0),
        op_resolve(102, XR_LEDGER_OP_POST, 100, 0),
        op_xfer(103, XR_LEDGER_OP_TRANSFER, OMNI_USD, 31, 100),
        op_xfer(104, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_BTC, 1), /* asset mismatch */
    };
    for (int i = 0; i < 3; i++)
        ops[i].flags = XR_LEDGER_OP_LINKED;
    xr_ledger_result res[4];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 4, res), XR_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(res[i].err, XR_ERR_ASSET_MISMATCH);
        assert_int_equal(res[i].failed_index, 3);
    }
    xr_ledger_account a;
    assert_int_equal(xr_ledger_account_get(f->lg, 31, &a), XR_ERR_NOT_FOUND);
    expect_balances(f, CUST_A, 100000, 50000);
    xr_ledger_transfer t;
    xr_ledger_id id = id_of(100);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_PENDING);
    id = id_of(102);
    assert_int_equal(xr_ledger_transfer_get(f->lg, &id, &t), XR_OK);
    assert_int_equal(t.status, XR_LEDGER_STATUS_FAILED);
    assert_int_equal(t.failed_offset, 2);
    /* The reservation is still open and can be posted by a new op. */
    expect_ok(f, op_resolve(105, XR_LEDGER_OP_POST, 100, 0));
    expect_verify_ok(f);
}

static void test_linked_group_input_errors(void **state)
{
    fx *f = *state;
    chart(f);
    /* Unterminated chain. */
    xr_ledger_op ops[3] = {
        op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1),
        op_xfer(101, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1),
        op_xfer(102, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1),
    };
    ops[1].flags = ops[2].flags = XR_LEDGER_OP_LINKED;
    xr_ledger_result res[3];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 3, res), XR_OK);
    assert_int_equal(res[0].err, XR_OK);
    assert_int_equal(res[1].err, XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(res[2].err, XR_ERR_INVALID_ARGUMENT);
    /* A new group reusing a stored id, and a group with the same id twice. */
    xr_ledger_op g[2] = {op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1),
                         op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1)};
    g[0].flags = XR_LEDGER_OP_LINKED;
    assert_int_equal(xr_ledger_execute(f->lg, g, 2, res), XR_OK);
    assert_int_equal(res[0].err, XR_ERR_IDEMPOTENCY_CONFLICT);
    assert_int_equal(res[1].err, XR_ERR_IDEMPOTENCY_CONFLICT);
    assert_int_equal(res[0].failed_index, 1);
    g[1] = op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
    assert_int_equal(xr_ledger_execute(f->lg, g, 2, res), XR_OK);
    assert_int_equal(res[0].err, XR_ERR_IDEMPOTENCY_CONFLICT);
    /* Nothing was stored: 103 is still free. */
    expect_ok(f, op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 2));
    /* A post naming a later member of its own group sees nothing yet. */
    xr_ledger_op h[2] = {op_resolve(104, XR_LEDGER_OP_POST, 105, 0),
                         op_xfer(105, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 5)};
    h[0].flags = XR_LEDGER_OP_LINKED;
    assert_int_equal(xr_ledger_execute(f->lg, h, 2, res), XR_OK);
    assert_int_equal(res[0].err, XR_ERR_NOT_FOUND);
    assert_int_equal(res[1].err, XR_ERR_NOT_FOUND);
    assert_int_equal(res[1].failed_index, 0);
    expect_balances(f, CUST_A, 100000 - 3, 0);
    expect_verify_ok(f);
}

/* ---- idempotency ------------------------------------------------------------------------ */

static void test_idempotent_replay_and_conflict(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op t = op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 500);
    xr_ledger_result r1 = run1(f, t);
    assert_int_equal(r1.err, XR_OK);
    int64_t t0 = r1.timestamp_ns;
    f->now_ns += 777;
    xr_ledger_result r2 = run1(f, t);
    assert_int_equal(r2.err, XR_OK);
    assert_int_equal(r2.replayed, 1);
    assert_int_equal(r2.timestamp_ns, t0);
    assert_true(r2.amount.units == 500);
    expect_balances(f, CUST_B, 500, 0);
    xr_ledger_op changed = t;
    changed.amount.units = 501;
    expect_err(f, changed, XR_ERR_IDEMPOTENCY_CONFLICT);
    changed = t;
    changed.user_data = 1;
    expect_err(f, changed, XR_ERR_IDEMPOTENCY_CONFLICT);
    changed = t;
    changed.kind = XR_LEDGER_OP_RESERVE;
    expect_err(f, changed, XR_ERR_IDEMPOTENCY_CONFLICT);
    changed = t;
    changed.credit_account_id = OMNI_USD;
    expect_err(f, changed, XR_ERR_IDEMPOTENCY_CONFLICT);

    /* Reservation, post and void ids all replay; across a restart too. */
    xr_ledger_op res = op_xfer(101, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 1000);
    res.deadline_ns = f->now_ns + 1000000;
    expect_ok(f, res);
    xr_ledger_op post = op_resolve(102, XR_LEDGER_OP_POST, 101, 600);
    expect_ok(f, post);
    fx_reopen(f);
    xr_ledger_result r = run1(f, t);
    assert_int_equal(r.err, XR_OK);
    assert_int_equal(r.replayed, 1);
    r = run1(f, res);
    assert_int_equal(r.err, XR_OK);
    assert_int_equal(r.replayed, 1);
    assert_true(r.amount.units == 1000);
    r = run1(f, post);
    assert_int_equal(r.err, XR_OK);
    assert_int_equal(r.replayed, 1);
    assert_true(r.amount.units == 600);
    xr_ledger_op post2 = post;
    post2.amount.units = 0;
    expect_err(f, post2, XR_ERR_IDEMPOTENCY_CONFLICT);
    expect_err(f, op_xfer(99999, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1), XR_OK);
    /* Replays changed nothing. */
    expect_balances(f, CUST_B, 501, 0);
    expect_balances(f, CUST_A, 100000 - 500 - 600 - 1, 0);
    expect_verify_ok(f);
}

static void test_duplicate_in_one_batch(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op ops[3] = {
        op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 500),
        op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 500),
        op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 501),
    };
    xr_ledger_result res[3];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 3, res), XR_OK);
    assert_int_equal(res[0].err, XR_OK);
    assert_int_equal(res[0].replayed, 0);
    assert_int_equal(res[1].err, XR_OK);
    assert_int_equal(res[1].replayed, 1);
    assert_int_equal(res[2].err, XR_ERR_IDEMPOTENCY_CONFLICT);
    expect_balances(f, CUST_B, 500, 0);
    expect_verify_ok(f);
}

/* Ids that are not increasing take the lookup path and the ordinary B-tree insert. */
static void test_unordered_ids(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op ops[64];
    for (int i = 0; i < 64; i++) {
        ops[i] = op_xfer(0, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
        ops[i].id = xr_ledger_id_make(((uint64_t)(i * 7919) % 64) << 40, (uint64_t)i + 1);
    }
    xr_ledger_result res[64];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 64, res), XR_OK);
    for (int i = 0; i < 64; i++)
        assert_int_equal(res[i].err, XR_OK);
    assert_int_equal(xr_ledger_execute(f->lg, ops, 64, res), XR_OK);
    for (int i = 0; i < 64; i++)
        assert_int_equal(res[i].replayed, 1);
    expect_balances(f, CUST_B, 64, 0);
    fx_reopen(f);
    assert_int_equal(xr_ledger_execute(f->lg, ops, 64, res), XR_OK);
    for (int i = 0; i < 64; i++)
        assert_int_equal(res[i].replayed, 1);
    expect_verify_ok(f);
}

/* ---- queries ---------------------------------------------------------------------------- */

static void test_entries_pagination(void **state)
{
    fx *f = *state;
    chart(f);
    for (int i = 0; i < 25; i++)
        expect_ok(f, op_xfer(100 + (uint64_t)i, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, i + 1));
    xr_ledger_entry e[10];
    size_t n;
    uint64_t cursor = 0, seen = 0;
    xr_i128 expect_amount = 25;
    xr_i128 balance = 0;
    for (int i = 0; i < 25; i++)
        balance += i + 1;
    do {
        assert_int_equal(xr_ledger_entries(f->lg, CUST_B, cursor, e, 10, &n, &cursor), XR_OK);
        for (size_t i = 0; i < n; i++, seen++) {
            assert_int_equal(e[i].account_id, CUST_B);
            assert_true(e[i].amount.units == expect_amount);
            assert_true(e[i].balance_after.units == balance);
            balance -= expect_amount;
            expect_amount--;
        }
    } while (cursor != 0);
    assert_int_equal(seen, 25);
    /* Customer A: 25 debits plus the funding credit. */
    assert_int_equal(xr_ledger_entries(f->lg, CUST_A, 0, e, 10, &n, &cursor), XR_OK);
    assert_int_equal(n, 10);
    assert_true(e[0].amount.units == -25);
    assert_true(e[0].seq > e[1].seq);
    /* A cursor from another account is refused; unknown account is NOT_FOUND. */
    uint64_t other = e[0].seq + 1; /* B's entry of the same transfer */
    assert_int_equal(xr_ledger_entries(f->lg, CUST_A, other, e, 10, &n, &cursor),
                     XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ledger_entries(f->lg, 999, 0, e, 10, &n, &cursor), XR_ERR_NOT_FOUND);
    /* The global log. */
    xr_ledger_entry log[4];
    assert_int_equal(xr_ledger_log_read(f->lg, 1, log, 4, &n), XR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(log[0].seq, 1);
    assert_int_equal(log[0].account_id, FUND_USD);
    assert_int_equal(log[1].account_id, CUST_A);
    assert_int_equal(log[1].prev_seq, 0);
    assert_int_equal(log[3].prev_seq, 0); /* B's first entry */
    assert_int_equal(xr_ledger_log_read(f->lg, 51, log, 4, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(xr_ledger_log_read(f->lg, 53, log, 4, &n), XR_OK);
    assert_int_equal(n, 0);
}

static void test_totals_and_list(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, FUND_BTC, CUST_BTC, 5000000000ll));
    expect_ok(f, op_xfer(101, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 100));
    xr_ledger_total t[4];
    size_t n;
    assert_int_equal(xr_ledger_totals(f->lg, t, 4, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].asset, "BTC");
    assert_string_equal(t[1].asset, "USD");
    assert_int_equal(t[1].accounts, 4);
    assert_true(t[0].balance_sum.units == 0 && t[1].balance_sum.units == 0);
    assert_true(t[0].debits_posted.units == 5000000000ll);
    assert_true(t[1].debits_pending.units == 100 && t[1].credits_pending.units == 100);
    xr_ledger_account list[3];
    assert_int_equal(xr_ledger_accounts_list(f->lg, 0, list, 3, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, FUND_USD);
    assert_int_equal(list[2].id, CUST_A);
    assert_int_equal(xr_ledger_accounts_list(f->lg, CUST_A, list, 3, &n), XR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, CUST_B);
    assert_int_equal(list[2].id, CUST_BTC);
    assert_int_equal(xr_ledger_accounts_list(f->lg, CUST_BTC, list, 3, &n), XR_OK);
    assert_int_equal(n, 0);
}

static void test_ids(void **state)
{
    (void)state;
    xr_ledger_id id = xr_ledger_id_make(0x0123456789abcdefull, 0xfedcba9876543210ull);
    char hex[XR_LEDGER_ID_HEX_MAX];
    xr_ledger_id_format(&id, hex);
    assert_string_equal(hex, "0123456789abcdeffedcba9876543210");
    xr_ledger_id back;
    assert_int_equal(xr_ledger_id_parse(hex, &back), XR_OK);
    assert_memory_equal(back.bytes, id.bytes, 16);
    assert_int_equal(xr_ledger_id_parse("01234567-89ab-cdef-FEDC-ba9876543210", &back), XR_OK);
    assert_memory_equal(back.bytes, id.bytes, 16);
    assert_int_equal(xr_ledger_id_parse("0123456789abcdeffedcba987654321", &back),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_ledger_id_parse("0123456789abcdeffedcba987654321g", &back),
                     XR_ERR_MALFORMED);
    assert_int_equal(xr_ledger_id_parse("01234567-89ab-cdef-fedc-ba98765432-0", &back),
                     XR_ERR_MALFORMED);
    assert_true(xr_ledger_id_is_zero(&(xr_ledger_id){{0}}));
    assert_false(xr_ledger_id_is_zero(&id));
}

static void test_bad_calls(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_result r;
    xr_ledger_op op = op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
    assert_int_equal(xr_ledger_execute(NULL, &op, 1, &r), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ledger_execute(f->lg, NULL, 1, &r), XR_ERR_INVALID_ARGUMENT);
    static xr_ledger_op many[4097];
    static xr_ledger_result many_res[4097];
    assert_int_equal(xr_ledger_execute(f->lg, many, 4097, many_res), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(many_res[4096].err, XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_ledger_execute(f->lg, NULL, 0, NULL), XR_OK);
    xr_ledger_config cfg = {0};
    xr_ledger *lg;
    assert_int_equal(xr_ledger_open(&cfg, &lg), XR_ERR_INVALID_ARGUMENT);
    cfg.dir = "/nonexistent/xr_ledger_test";
    cfg.read_only = 1;
    assert_int_not_equal(xr_ledger_open(&cfg, &lg), XR_OK);
    /* A read-only handle: queries work, writes are refused. (LMDB allows one handle per
     * environment per process, so the writer is closed first; another process could keep
     * it open.) */
    xr_ledger_close(f->lg);
    f->lg = NULL;
    cfg.dir = f->dir;
    assert_int_equal(xr_ledger_open(&cfg, &lg), XR_OK);
    xr_ledger_account a;
    assert_int_equal(xr_ledger_account_get(lg, CUST_A, &a), XR_OK);
    assert_int_equal(xr_ledger_execute(lg, &op, 1, &r), XR_ERR_INVALID_STATE);
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(lg, &rep), XR_OK);
    assert_int_equal(rep.err, XR_OK);
    assert_int_equal(rep.accounts, 6);
    assert_int_equal(rep.entries, 2);
    assert_int_equal(rep.ops, 7);
    xr_ledger_close(lg);
    assert_int_equal(fx_open(f, 0), XR_OK);
}

/* ---- restart -------------------------------------------------------------------------- */

static void test_restart_keeps_everything(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 10));
    expect_ok(f, op_xfer(101, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 20));
    xr_ledger_verify_report before;
    assert_int_equal(xr_ledger_verify(f->lg, &before), XR_OK);
    fx_reopen(f);
    expect_balances(f, CUST_A, 100000 - 10, 20);
    expect_balances(f, CUST_B, 10, 0);
    /* The chain and the sequence continue where they stopped. */
    expect_ok(f, op_resolve(102, XR_LEDGER_OP_POST, 101, 0));
    xr_ledger_verify_report after;
    assert_int_equal(xr_ledger_verify(f->lg, &after), XR_OK);
    assert_int_equal(after.err, XR_OK);
    assert_int_equal(after.entries, before.entries + 2);
    /* Batch times never go back, even when the clock does. */
    f->now_ns -= 1000000;
    xr_ledger_result r = run1(f, op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1));
    assert_true(r.timestamp_ns > f->now_ns);
}

/* Regression: a batch with aux records and no op (the engine's aux-only writes: an order's
 * re-routed children, a conversion's quote id) was rolled back as "nothing to make durable",
 * so the record was lost although the call said XR_OK. */
static void test_aux_only_batch_is_durable(void **state)
{
    fx *f = *state;
    const uint8_t k[3] = {'V', 1, 2}, v[4] = {9, 8, 7, 6}, v2[2] = {7, 3};
    xr_ledger_aux_put a = {k, sizeof k, v, sizeof v, XR_LEDGER_NO_INDEX};
    int syncs = f->sync_calls;
    assert_int_equal(xr_ledger_execute_aux(f->lg, NULL, 0, NULL, &a, 1), XR_OK);
    assert_true(f->sync_calls > syncs); /* committed durably */
    uint8_t got[8];
    uint32_t len = 0;
    assert_int_equal(xr_ledger_aux_get(f->lg, k, sizeof k, got, sizeof got, &len), XR_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(got, v, 4);
    fx_reopen(f);
    len = 0;
    assert_int_equal(xr_ledger_aux_get(f->lg, k, sizeof k, got, sizeof got, &len), XR_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(got, v, 4);
    /* A second aux-only batch overwrites the record, durably too. */
    a.val = v2;
    a.val_len = sizeof v2;
    assert_int_equal(xr_ledger_execute_aux(f->lg, NULL, 0, NULL, &a, 1), XR_OK);
    fx_reopen(f);
    assert_int_equal(xr_ledger_aux_get(f->lg, k, sizeof k, got, sizeof got, &len), XR_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(got, v2, 2);
    expect_verify_ok(f);
}

/* ---- tamper ------------------------------------------------------------------------------ */

static void lmdb_flip(const char *dir, const char *db, const void *key, size_t klen, unsigned flags,
                      size_t offset)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)key}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    /* The ledger's own map size, so this write does not shrink the recorded one. */
    assert_int_equal(mdb_env_set_mapsize(env, 64ull << 30), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, flags, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t buf[256];
    assert_true(v.mv_size <= sizeof buf && offset < v.mv_size);
    memcpy(buf, v.mv_data, v.mv_size);
    buf[offset] ^= 0x01;
    MDB_val nv = {v.mv_size, buf};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_tamper_every_entry_byte(void **state)
{
    fx *f = *state;
    chart(f);
    for (int i = 0; i < 5; i++)
        expect_ok(f, op_xfer(100 + (uint64_t)i, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 100 + i));
    xr_ledger_close(f->lg);
    f->lg = NULL;
    const uint64_t seq = 7; /* in the middle of the log */
    for (size_t off = 0; off < 104; off++) {
        lmdb_flip(f->dir, "entries", &seq, sizeof seq, MDB_INTEGERKEY, off);
        assert_int_equal(fx_open(f, 1), XR_OK);
        xr_ledger_verify_report rep;
        assert_int_equal(xr_ledger_verify(f->lg, &rep), XR_OK);
        if (rep.err != XR_ERR_CORRUPT || rep.bad_entry_seq != seq)
            fail_msg("byte %zu: verify said '%s' (entry %llu)", off, rep.problem,
                     (unsigned long long)rep.bad_entry_seq);
        assert_non_null(strstr(rep.problem, "entry 7"));
        xr_ledger_close(f->lg);
        f->lg = NULL;
        lmdb_flip(f->dir, "entries", &seq, sizeof seq, MDB_INTEGERKEY, off); /* restore */
    }
    assert_int_equal(fx_open(f, 0), XR_OK);
    expect_verify_ok(f);
}

static void test_tamper_account_and_op(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 100));
    xr_ledger_close(f->lg);
    f->lg = NULL;
    uint64_t acc = CUST_B;
    lmdb_flip(f->dir, "accounts", &acc, sizeof acc, MDB_INTEGERKEY, 16); /* credits_posted */
    assert_int_equal(fx_open(f, 1), XR_OK);
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(f->lg, &rep), XR_OK);
    assert_int_equal(rep.err, XR_ERR_CORRUPT);
    assert_int_equal(rep.bad_account_id, CUST_B);
    xr_ledger_close(f->lg);
    f->lg = NULL;
    lmdb_flip(f->dir, "accounts", &acc, sizeof acc, MDB_INTEGERKEY, 16);
    xr_ledger_id id = id_of(100);
    lmdb_flip(f->dir, "ops", id.bytes, 16, 0, 32); /* the reservation's amount */
    assert_int_equal(fx_open(f, 1), XR_OK);
    assert_int_equal(xr_ledger_verify(f->lg, &rep), XR_OK);
    assert_int_equal(rep.err, XR_ERR_CORRUPT);
    xr_ledger_close(f->lg);
    f->lg = NULL;
    lmdb_flip(f->dir, "ops", id.bytes, 16, 0, 32);
    assert_int_equal(fx_open(f, 0), XR_OK);
    expect_verify_ok(f);
}

/* ---- faults ------------------------------------------------------------------------------ */

static void test_map_full(void **state)
{
    fx *f = *state;
    xr_ledger_close(f->lg);
    rm_dir(f->dir);
    f->map_size = 1 << 20; /* 1 MiB: a few thousand entries */
    f->hash_thread = 1;    /* the failing batch has handed entries to the helper: it must drain */
    assert_int_equal(fx_open(f, 0), XR_OK);
    chart(f);
    xr_ledger_op ops[1000];
    xr_ledger_result res[1000];
    uint64_t n = 1000;
    xr_err err = XR_OK;
    xr_ledger_stats before = {0};
    xr_ledger_account a_before = {0};
    for (int round = 0; round < 100 && err == XR_OK; round++) {
        assert_int_equal(xr_ledger_stats_get(f->lg, &before), XR_OK);
        a_before = account_of(f, CUST_B);
        for (int i = 0; i < 1000; i++)
            ops[i] = op_xfer(n++, XR_LEDGER_OP_TRANSFER, FUND_USD, CUST_B, 1);
        err = xr_ledger_execute(f->lg, ops, 1000, res);
    }
    assert_int_equal(err, XR_ERR_STORAGE_FULL);
    assert_int_equal(res[0].err, XR_ERR_STORAGE_FULL);
    assert_int_equal(res[999].err, XR_ERR_STORAGE_FULL);
    /* Nothing of the failed batch is visible. */
    xr_ledger_stats after;
    assert_int_equal(xr_ledger_stats_get(f->lg, &after), XR_OK);
    assert_int_equal(after.entries, before.entries);
    assert_int_equal(after.ops, before.ops);
    xr_ledger_account a_after = account_of(f, CUST_B);
    assert_true(a_after.credits_posted.units == a_before.credits_posted.units);
    xr_ledger_transfer t;
    assert_int_equal(xr_ledger_transfer_get(f->lg, &ops[0].id, &t), XR_ERR_NOT_FOUND);
    expect_verify_ok(f);
    /* The ledger is not poisoned: a small batch still fits, or fails the same clean way. */
    xr_ledger_result r;
    err = xr_ledger_execute(f->lg, ops, 1, &r);
    assert_true(err == XR_OK || err == XR_ERR_STORAGE_FULL);
    fx_reopen(f);
    expect_verify_ok(f);
}

static void test_sync_failure(void **state)
{
    fx *f = *state;
    chart(f);
    expect_ok(f, op_xfer(100, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 10));
    f->sync_fail_at = f->sync_calls + 1;
    xr_ledger_op ops[2] = {op_xfer(101, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 20),
                           op_xfer(102, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 30)};
    ops[0].flags = XR_LEDGER_OP_LINKED;
    xr_ledger_result res[2];
    assert_int_equal(xr_ledger_execute(f->lg, ops, 2, res), XR_ERR_IO);
    assert_int_equal(res[0].err, XR_ERR_IO);
    assert_int_equal(res[1].err, XR_ERR_IO);
    /* The ledger refuses everything until it is reopened: the outcome is unknown. */
    f->sync_fail_at = 0;
    xr_ledger_result r;
    xr_ledger_op more = op_xfer(103, XR_LEDGER_OP_TRANSFER, CUST_A, CUST_B, 1);
    assert_int_equal(xr_ledger_execute(f->lg, &more, 1, &r), XR_ERR_IO);
    assert_int_equal(r.err, XR_ERR_IO);
    fx_reopen(f);
    expect_verify_ok(f);
    /* The client resends with the same ids and learns the outcome: the whole group or
     * nothing of it, never a half. */
    assert_int_equal(xr_ledger_execute(f->lg, ops, 2, res), XR_OK);
    assert_int_equal(res[0].err, XR_OK);
    assert_int_equal(res[1].err, XR_OK);
    assert_int_equal(res[0].replayed, res[1].replayed);
    expect_balances(f, CUST_B, 60, 0);
    expect_verify_ok(f);
}

/* The flush writes the expiry index in key order through one cursor (ledger.c,
 * flush_expiry). A reservation made and posted in the same batch queues an insert and a delete
 * of the same key: the stable sort must keep the insert first. Mixed deadlines in one batch
 * and posts of reservations made earlier exercise the reordering. */
static void test_expiry_index_same_batch_and_out_of_order(void **state)
{
    fx *f = *state;
    chart(f);
    xr_ledger_op ops[8];
    xr_ledger_result res[8];
    /* Batch 1: three reservations whose deadlines run against their id order. */
    for (int i = 0; i < 3; i++) {
        ops[i] = op_xfer(200 + (uint64_t)i, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 100);
        ops[i].deadline_ns = f->now_ns + 3000 - 1000 * i;
    }
    assert_int_equal(xr_ledger_execute(f->lg, ops, 3, res), XR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(res[i].err, XR_OK);
    /* Batch 2: post the middle one, reserve-and-post a new one (insert and delete of one
     * key), reserve one more with the earliest deadline, and void the first. */
    ops[0] = op_resolve(210, XR_LEDGER_OP_POST, 201, 0);
    ops[1] = op_xfer(211, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 50);
    ops[1].deadline_ns = f->now_ns + 500;
    ops[2] = op_resolve(212, XR_LEDGER_OP_POST, 211, 0);
    ops[3] = op_xfer(213, XR_LEDGER_OP_RESERVE, CUST_A, OMNI_USD, 70);
    ops[3].deadline_ns = f->now_ns + 200;
    ops[4] = op_resolve(214, XR_LEDGER_OP_VOID, 200, 0);
    assert_int_equal(xr_ledger_execute(f->lg, ops, 5, res), XR_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(res[i].err, XR_OK);
    xr_ledger_stats st;
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.open_reservations_with_deadline, 2); /* 202 and 213 */
    expect_balances(f, CUST_A, 100000 - 150, 170);
    expect_verify_ok(f);
    /* Both expire in deadline order; nothing is left in the index. */
    f->now_ns += 5000;
    uint32_t expired = 0;
    assert_int_equal(xr_ledger_expire_due(f->lg, &expired), XR_OK);
    assert_int_equal(expired, 2);
    assert_int_equal(xr_ledger_stats_get(f->lg, &st), XR_OK);
    assert_int_equal(st.open_reservations_with_deadline, 0);
    expect_balances(f, CUST_A, 100000 - 150, 0);
    expect_verify_ok(f);
}

/* The SHA-NI chain compression (ledger_sha.c) against BearSSL's portable SHA-256, block by
 * block, from the initial value and from a mid-chain state, with the stride and output offset
 * the writer uses. Skipped on a CPU without the SHA extensions. */
static void test_sha_ni_matches_bearssl(void **state)
{
    (void)state;
    if (!lg_sha_ni_available()) {
        skip();
        return;
    }
    enum { N = 300 };
    static lg_entry_raw e[N];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < LG_ENTRY_SIZE; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            e[i].b[j] = (uint8_t)x;
        }
    br_sha256_context ref;
    br_sha256_init(&ref);
    uint8_t want[N][32];
    for (size_t i = 0; i < N; i++) {
        br_sha256_update(&ref, e[i].b, LG_ENTRY_BLOCK);
        br_sha256_state(&ref, want[i]);
    }
    /* In two runs: the first 7 blocks from the standard initial value, then the rest. */
    br_sha256_context ctx;
    br_sha256_init(&ctx);
    uint8_t st[32];
    br_sha256_state(&ctx, st);
    lg_sha256_chain_ni(st, e[0].b, sizeof e[0], 7, 72);
    assert_memory_equal(st, want[6], 32);
    lg_sha256_chain_ni(st, e[7].b, sizeof e[0], N - 7, 72);
    assert_memory_equal(st, want[N - 1], 32);
    for (size_t i = 0; i < N; i++)
        assert_memory_equal(e[i].b + 72, want[i], 32);
    /* The final digest over all blocks is the ordinary SHA-256 (the chain head). */
    br_sha256_context fin;
    br_sha256_init(&fin);
    br_sha256_set_state(&fin, st, (uint64_t)N * LG_ENTRY_BLOCK);
    uint8_t d1[32], d2[32];
    br_sha256_out(&fin, d1);
    br_sha256_out(&ref, d2);
    assert_memory_equal(d1, d2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_account_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_post_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserve_post_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_void, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_index_same_batch_and_out_of_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_linked_group_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_group_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_group_failure_undoes_create_and_post, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_linked_group_input_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_replay_and_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_in_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unordered_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals_and_list, setup, teardown),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_sha_ni_matches_bearssl),
        cmocka_unit_test_setup_teardown(test_bad_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aux_only_batch_is_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_every_entry_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_account_and_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
