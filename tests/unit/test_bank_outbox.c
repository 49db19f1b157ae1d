/* unit.bank_outbox: the durable outbox of sequenced responses (adapters/bank/outbox) -
 * per-bank seqs from 1 without gaps, staged frames invisible until committed, the stored
 * bytes equal to the codec's encoding, the seqs surviving a reopen, the refusals, and
 * kill -9 of a writer at random points: after each crash the store holds exactly the
 * seqs 1..n of each bank, every frame intact, and numbering continues at n + 1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sys/stat.h>

#include "adapters/bank/codec.h"
#include "adapters/bank/outbox.h"
#include "core/base/clock.h"

static char dir[64];
static const uint32_t banks[2] = {3, 11};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/xr-outbox-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static xr_engine_event customer_ev(uint32_t bank, uint64_t corr)
{
    xr_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_CUSTOMER;
    ev.bank_id = bank;
    ev.correlation_id = corr;
    ev.customer_id = 77;
    ev.u.customer.kyc_tier = 3;
    ev.u.customer.created = 1;
    return ev;
}

/* The stored frame (bank, seq) decodes to the event with that seq. */
static void expect_frame(xr_bank_outbox *ob, uint32_t bank, uint64_t seq, uint64_t corr)
{
    const uint8_t *f = NULL;
    size_t len = 0;
    assert_int_equal(xr_bank_outbox_get(ob, bank, seq, &f, &len), XR_OK);
    xr_bank_msg m;
    size_t used = 0;
    assert_int_equal(xr_bank_decode(f, len, &m, &used, NULL), XR_OK);
    assert_int_equal(used, len);
    assert_int_equal(m.seq, seq);
    assert_int_equal(m.u.ev.bank_id, bank);
    assert_int_equal(m.u.ev.correlation_id, corr);
    /* the same bytes as the codec makes of the event with that seq */
    xr_bank_msg e;
    memset(&e, 0, sizeof e);
    e.type = XR_PROTO_EV_CUSTOMER;
    e.seq = seq;
    e.u.ev = customer_ev(bank, corr);
    uint8_t want[XR_PROTO_FRAME_MAX];
    size_t wlen = 0;
    assert_int_equal(xr_bank_encode(&e, want, sizeof want, &wlen), XR_OK);
    assert_int_equal(wlen, len);
    assert_memory_equal(want, f, len);
}

static void test_basic(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/basic", dir);
    xr_bank_outbox *ob = NULL;
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 4, &ob), XR_OK);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 1);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 11), 1);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 4), 0); /* not a bank of this outbox */

    uint64_t seq = 0;
    xr_engine_event ev = customer_ev(3, 100);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_OK);
    assert_int_equal(seq, 1);
    ev = customer_ev(11, 200);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_OK);
    assert_int_equal(seq, 1); /* per bank */
    ev = customer_ev(3, 101);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 3);
    /* staged, not durable: not readable, not sendable */
    assert_int_equal(xr_bank_outbox_durable_next(ob, 3), 1);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    const uint8_t *f;
    size_t len;
    assert_int_equal(xr_bank_outbox_get(ob, 3, 1, &f, &len), XR_ERR_NOT_FOUND);
    xr_bank_outbox_read_end(ob);
    assert_int_equal(xr_bank_outbox_get(ob, 3, 1, &f, &len), XR_ERR_INVALID_STATE);

    /* an unknown bank: nothing staged; staging full: NO_MEMORY */
    ev = customer_ev(5, 1);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_ERR_NOT_FOUND);
    ev = customer_ev(11, 201);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_OK);
    ev = customer_ev(11, 202);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_ERR_NO_MEMORY);
    assert_int_equal(xr_bank_outbox_staged(ob), 4);

    assert_int_equal(xr_bank_outbox_commit(ob), XR_OK);
    assert_int_equal(xr_bank_outbox_staged(ob), 0);
    assert_int_equal(xr_bank_outbox_durable_next(ob, 3), 3);
    assert_int_equal(xr_bank_outbox_durable_next(ob, 11), 3);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    expect_frame(ob, 3, 1, 100);
    expect_frame(ob, 3, 2, 101);
    expect_frame(ob, 11, 1, 200);
    expect_frame(ob, 11, 2, 201);
    assert_int_equal(xr_bank_outbox_get(ob, 3, 3, &f, &len), XR_ERR_NOT_FOUND);
    xr_bank_outbox_read_end(ob);

    /* an event version 1 cannot carry (TICKER has no layout): an INTERNAL reject instead */
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_TICKER;
    ev.bank_id = 3;
    ev.correlation_id = 102;
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, &seq), XR_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(xr_bank_outbox_commit(ob), XR_OK);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    assert_int_equal(xr_bank_outbox_get(ob, 3, 3, &f, &len), XR_OK);
    xr_bank_msg m;
    size_t used;
    assert_int_equal(xr_bank_decode(f, len, &m, &used, NULL), XR_OK);
    xr_bank_outbox_read_end(ob);
    if (m.type == XR_PROTO_EV_REJECT) { /* a branch where TICKER has a layout stores it */
        assert_int_equal(m.u.ev.u.reject.err, XR_ERR_INTERNAL);
        assert_int_equal(m.u.ev.u.reject.cmd_kind, XR_ENGINE_CMD_TICKER);
    }
    assert_int_equal(m.u.ev.correlation_id, 102);
    xr_bank_outbox_close(ob);

    /* reopen: the numbering continues */
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 4, &ob), XR_OK);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 4);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 11), 3);
    assert_int_equal(xr_bank_outbox_durable_next(ob, 11), 3);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    expect_frame(ob, 11, 2, 201);
    xr_bank_outbox_read_end(ob);
    xr_bank_outbox_close(ob);

    /* arguments */
    assert_int_equal(xr_bank_outbox_open("", 1u << 24, banks, 2, 4, &ob), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 0, &ob), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_bank_outbox_open("/proc/no/such/dir", 1u << 24, banks, 2, 4, &ob),
                     XR_ERR_IO);
}

/* A map too small for the data: STORAGE_FULL, nothing written, the frames stay staged. */
static void test_full(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/full", dir);
    xr_bank_outbox *ob = NULL;
    assert_int_equal(xr_bank_outbox_open(d, 1u << 20, banks, 1, 256, &ob), XR_OK);
    xr_err e = XR_OK;
    uint64_t corr = 0;
    for (int round = 0; round < 100 && e == XR_OK; round++) {
        for (int i = 0; i < 256; i++) {
            xr_engine_event ev = customer_ev(3, ++corr);
            assert_int_equal(xr_bank_outbox_stage(ob, &ev, NULL), XR_OK);
        }
        e = xr_bank_outbox_commit(ob);
    }
    assert_int_equal(e, XR_ERR_STORAGE_FULL);
    assert_int_equal(xr_bank_outbox_staged(ob), 256);
    uint64_t durable = xr_bank_outbox_durable_next(ob, 3);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), durable + 256);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    expect_frame(ob, 3, durable - 1, durable - 1);
    const uint8_t *f;
    size_t len;
    assert_int_equal(xr_bank_outbox_get(ob, 3, durable, &f, &len), XR_ERR_NOT_FOUND);
    xr_bank_outbox_read_end(ob);
    xr_bank_outbox_close(ob);
}

/* The writer: stages bursts for both banks and commits, forever (until killed). */
static void writer(const char *d)
{
    xr_bank_outbox *ob = NULL;
    if (xr_bank_outbox_open(d, 1u << 26, banks, 2, 64, &ob) != XR_OK)
        _exit(2);
    for (unsigned k = 0;; k++) {
        unsigned n = 1 + k % 60;
        for (unsigned i = 0; i < n; i++) {
            uint32_t b = banks[(k + i) % 2];
            xr_engine_event ev = customer_ev(b, xr_bank_outbox_next_seq(ob, b));
            if (xr_bank_outbox_stage(ob, &ev, NULL) != XR_OK)
                _exit(3);
        }
        if (xr_bank_outbox_commit(ob) != XR_OK)
            _exit(4);
    }
}

static void test_kill9(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/kill9", dir);
    uint64_t before[2] = {1, 1};
    srand(12345);
    int rounds = getenv("XR_OUTBOX_KILL_ROUNDS") ? atoi(getenv("XR_OUTBOX_KILL_ROUNDS")) : 20;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            writer(d);
        struct timespec ts = {0, (long)(1 + rand() % 30) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st)); /* it was writing, not failing */
        xr_bank_outbox *ob = NULL;
        assert_int_equal(xr_bank_outbox_open(d, 1u << 26, banks, 2, 4, &ob), XR_OK);
        assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
        for (int b = 0; b < 2; b++) {
            uint64_t next = xr_bank_outbox_next_seq(ob, banks[b]);
            assert_true(next >= before[b]); /* committed seqs are never lost */
            /* every seq below next is there and intact (the writer stores corr = seq) */
            for (uint64_t s = 1; s < next; s++)
                expect_frame(ob, banks[b], s, s);
            const uint8_t *f;
            size_t len;
            assert_int_equal(xr_bank_outbox_get(ob, banks[b], next, &f, &len), XR_ERR_NOT_FOUND);
            before[b] = next;
        }
        xr_bank_outbox_read_end(ob);
        xr_bank_outbox_close(ob);
    }
    print_message("kill -9: %d rounds, bank 3 at seq %llu, bank 11 at seq %llu\n", rounds,
                  (unsigned long long)before[0] - 1, (unsigned long long)before[1] - 1);
    assert_true(before[0] > 1 && before[1] > 1);
}

/* Retention: compaction deletes a bank's lowest frames that are at or below upto_seq and were
 * stored before the given time, at most max_delete per call, one bank only; the horizon
 * (first seq) moves with it and survives a reopen; frames below it are NOT_FOUND. */
static void test_retention(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/retention", dir);
    xr_bank_outbox *ob = NULL;
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 16, &ob), XR_OK);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 1); /* nothing stored: = durable next */
    assert_int_equal(xr_bank_outbox_first_seq(ob, 4), 0); /* not a bank of this outbox */
    for (uint64_t i = 1; i <= 5; i++) {
        xr_engine_event ev = customer_ev(3, 100 + i);
        assert_int_equal(xr_bank_outbox_stage(ob, &ev, NULL), XR_OK);
    }
    xr_engine_event ev11 = customer_ev(11, 200);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev11, NULL), XR_OK);
    assert_int_equal(xr_bank_outbox_commit(ob), XR_OK);
    int64_t after = xr_clock_wall_ns() + 1; /* every frame so far was stored before this */
    uint32_t n = 99;
    /* stored before a time in the past: nothing is old enough */
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 5, after - 3600 * XR_NS_PER_SEC, 10, &n), XR_OK);
    assert_int_equal(n, 0);
    /* bounded: 2 per call, up to seq 4 */
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 4, after, 2, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 3);
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 4, after, 2, &n), XR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 5);
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 4, after, 2, &n), XR_OK);
    assert_int_equal(n, 0); /* seq 5 is above upto */
    /* upto beyond the last durable seq is capped: 5 goes, nothing else exists */
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 99, after, 10, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 6);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 6);   /* seqs go on */
    assert_int_equal(xr_bank_outbox_first_seq(ob, 11), 1); /* the other bank untouched */
    assert_int_equal(xr_bank_outbox_compact(ob, 4, 1, after, 1, &n), XR_ERR_NOT_FOUND);
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 1, after, 1, NULL), XR_ERR_INVALID_ARGUMENT);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    assert_int_equal(xr_bank_outbox_compact(ob, 11, 1, after, 1, &n), XR_ERR_INVALID_STATE);
    const uint8_t *f = NULL;
    size_t len = 0;
    assert_int_equal(xr_bank_outbox_get(ob, 3, 4, &f, &len), XR_ERR_NOT_FOUND);
    expect_frame(ob, 11, 1, 200);
    xr_bank_outbox_read_end(ob);
    xr_engine_event ev = customer_ev(3, 106);
    assert_int_equal(xr_bank_outbox_stage(ob, &ev, NULL), XR_OK);
    assert_int_equal(xr_bank_outbox_commit(ob), XR_OK);
    xr_bank_outbox_close(ob);
    /* reopen: the horizon and the next seq are read back */
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 16, &ob), XR_OK);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 6);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 7);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    expect_frame(ob, 3, 6, 106);
    xr_bank_outbox_read_end(ob);
    xr_bank_outbox_close(ob);
}

/* An execution report staged with the per-order option carries it at 36..39; other kinds
 * ignore it. */
static void test_ack_mark(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/mark", dir);
    xr_bank_outbox *ob = NULL;
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 4, &ob), XR_OK);
    xr_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = XR_ENGINE_EV_EXEC_REPORT;
    ev.bank_id = 3;
    ev.correlation_id = 9;
    ev.u.report.key.bytes[0] = 1;
    snprintf(ev.u.report.pair, sizeof ev.u.report.pair, "BTC/USDT");
    ev.u.report.side = XR_ENGINE_BUY;
    ev.u.report.status = XR_ENGINE_ORDER_FILLED;
    assert_int_equal(xr_bank_outbox_stage_ex(ob, &ev, XR_BANK_ORDER_ACK_REQUIRED, 250, NULL),
                     XR_OK);
    assert_int_equal(xr_bank_outbox_stage_ex(ob, &ev, 0, 0, NULL), XR_OK);
    xr_engine_event c = customer_ev(3, 10);
    assert_int_equal(xr_bank_outbox_stage_ex(ob, &c, XR_BANK_ORDER_ACK_REQUIRED, 250, NULL), XR_OK);
    assert_int_equal(xr_bank_outbox_commit(ob), XR_OK);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    const uint8_t *f = NULL;
    size_t len = 0;
    assert_int_equal(xr_bank_outbox_get(ob, 3, 1, &f, &len), XR_OK);
    assert_int_equal(f[36], 1);
    assert_int_equal(f[37], 0);
    assert_int_equal(f[38] | f[39] << 8, 250);
    assert_int_equal(xr_bank_outbox_get(ob, 3, 2, &f, &len), XR_OK);
    assert_int_equal(f[36] | f[37] | f[38] | f[39], 0);
    expect_frame(ob, 3, 3, 10); /* the customer event: byte for byte the plain encoding */
    xr_bank_outbox_read_end(ob);
    xr_bank_outbox_close(ob);
}

/* A value written before the time trailer existed (exactly one frame) still reads, counts
 * as stored at time 0 (old) for retention, and a value of any other length is CORRUPT. */
static void test_legacy_value(void **state)
{
    (void)state;
    char d[96];
    snprintf(d, sizeof d, "%s/legacy", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    xr_bank_msg m;
    memset(&m, 0, sizeof m);
    m.type = XR_PROTO_EV_CUSTOMER;
    m.seq = 1;
    m.u.ev = customer_ev(3, 41);
    uint8_t f[XR_PROTO_FRAME_MAX + 16];
    size_t len = 0;
    assert_int_equal(xr_bank_encode(&m, f, XR_PROTO_FRAME_MAX, &len), XR_OK);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, d, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    uint8_t k[12] = {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1}; /* bank 3, seq 1, big-endian */
    MDB_val key = {12, k}, val = {len, f};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    k[11] = 2; /* seq 2: the frame plus 3 stray bytes */
    m.seq = 2;
    assert_int_equal(xr_bank_encode(&m, f, XR_PROTO_FRAME_MAX, &len), XR_OK);
    memset(f + len, 0, 3);
    val.mv_size = len + 3;
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    xr_bank_outbox *ob = NULL;
    assert_int_equal(xr_bank_outbox_open(d, 1u << 24, banks, 2, 4, &ob), XR_OK);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 1);
    assert_int_equal(xr_bank_outbox_next_seq(ob, 3), 3);
    assert_int_equal(xr_bank_outbox_read_begin(ob), XR_OK);
    expect_frame(ob, 3, 1, 41);
    const uint8_t *g = NULL;
    assert_int_equal(xr_bank_outbox_get(ob, 3, 2, &g, &len), XR_ERR_CORRUPT);
    xr_bank_outbox_read_end(ob);
    uint32_t n = 0;
    /* stored at "time 0": older than any positive time; seq 2's bad value stops the step */
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 1, 1, 10, &n), XR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(xr_bank_outbox_first_seq(ob, 3), 2);
    assert_int_equal(xr_bank_outbox_compact(ob, 3, 2, 1, 10, &n), XR_ERR_CORRUPT);
    assert_int_equal(n, 0);
    xr_bank_outbox_close(ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),    cmocka_unit_test(test_retention),
        cmocka_unit_test(test_ack_mark), cmocka_unit_test(test_legacy_value),
        cmocka_unit_test(test_full),     cmocka_unit_test(test_kill9),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
