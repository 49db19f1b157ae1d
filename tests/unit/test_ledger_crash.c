/*
 * Crash test of core/ledger. A child process runs random batches against a durable ledger and
 * writes the id and result of every acknowledged op to a pipe; the parent kills it with
 * SIGKILL at a random moment, reopens the ledger and checks that:
 *   - xr_ledger_verify passes (chain, replay, invariants);
 *   - every acknowledged op is present exactly once, with the acknowledged result, and an
 *     applied transfer or post has exactly its two entries in the log;
 *   - batches are atomic: every batch the child built is either wholly present or wholly
 *     absent, so no linked group is ever half applied (and every present group's members
 *     share one result).
 * The child's batches are a pure function of (round, batch number), so the parent can
 * rebuild exactly what the child may have sent.
 *
 * XR_LEDGER_CRASH_KILLS (environment) sets the number of kills; the default, 100, is the CI
 * mode. Long runs: XR_LEDGER_CRASH_KILLS=1000.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ledger/ledger.h"

enum {
    CUSTOMERS = 200,
    CUST0 = 100,
    ACC_FUNDING = 1,
    ACC_OMNIBUS = 2,
    ACC_REVENUE = 3,
    MAX_BATCH = 64,
    MAX_BATCHES = 4000, /* per round: far more than a child runs before it is killed */
    ACK_CHUNK = 256,    /* acks per write(2): 256 x 16 bytes = PIPE_BUF, so writes are atomic */
};

typedef struct ack {
    uint64_t op; /* op number */
    uint32_t err;
    uint32_t pad;
} ack;
_Static_assert(sizeof(ack) * ACK_CHUNK <= 4096, "an ack chunk fits PIPE_BUF");

static xr_ledger_id id_of(uint64_t n)
{
    return xr_ledger_id_make(3, n);
}

static uint64_t op_number(const xr_ledger_id *id)
{
    uint64_t n = 0;
    for (int i = 8; i < 16; i++)
        n = n << 8 | id->bytes[i];
    return n;
}

/* ---- deterministic batch generator ------------------------------------------------------ */

typedef struct gen {
    uint64_t rng;
    uint64_t next_op;
    uint64_t reserves[MAX_BATCHES * MAX_BATCH];
    size_t nreserves;
} gen;

static uint64_t rnd(gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void gen_init(gen *g, int round)
{
    memset(g, 0, sizeof *g);
    g->rng = 0x1234567ull * (uint64_t)(round + 1);
    g->next_op = ((uint64_t)round + 1) << 32;
}

static xr_ledger_op gen_op(gen *g)
{
    xr_ledger_op op;
    memset(&op, 0, sizeof op);
    op.id = id_of(g->next_op++);
    uint64_t c = CUST0 + rnd(g) % CUSTOMERS;
    unsigned r = (unsigned)(rnd(g) % 100);
    if (r < 35) {
        op.kind = XR_LEDGER_OP_TRANSFER;
        op.debit_account_id = c;
        op.credit_account_id = rnd(g) % 2 ? CUST0 + rnd(g) % CUSTOMERS : ACC_REVENUE;
        if (op.credit_account_id == c)
            op.credit_account_id = ACC_REVENUE;
        /* Now and then more than any customer has: a stored failure. */
        op.amount.units = rnd(g) % 50 == 0 ? 1000000000 : (xr_i128)(1 + rnd(g) % 5000);
    } else if (r < 70 || g->nreserves == 0) {
        op.kind = XR_LEDGER_OP_RESERVE;
        op.debit_account_id = c;
        op.credit_account_id = ACC_OMNIBUS;
        op.amount.units = (xr_i128)(1 + rnd(g) % 8000);
        g->reserves[g->nreserves++] = op_number(&op.id);
    } else {
        op.kind = rnd(g) % 4 ? XR_LEDGER_OP_POST : XR_LEDGER_OP_VOID;
        size_t back = (size_t)(rnd(g) % (g->nreserves < 64 ? g->nreserves : 64));
        op.pending_id = id_of(g->reserves[g->nreserves - 1 - back]);
        if (op.kind == XR_LEDGER_OP_POST)
            op.amount.units = rnd(g) % 2 ? 0 : (xr_i128)(1 + rnd(g) % 8000);
    }
    return op;
}

/* Builds the next batch: single ops and linked groups of 2..5 (a trade: reserve, post, and
 * more legs). Returns its size. */
static size_t gen_batch(gen *g, xr_ledger_op *ops)
{
    size_t n = 0, want = 1 + (size_t)(rnd(g) % MAX_BATCH);
    while (n < want) {
        if (rnd(g) % 4 == 0 && n + 5 <= MAX_BATCH) {
            size_t len = 2 + (size_t)(rnd(g) % 4);
            for (size_t k = 0; k < len; k++) {
                ops[n] = gen_op(g);
                if (k + 1 < len)
                    ops[n].flags = XR_LEDGER_OP_LINKED;
                n++;
            }
        } else {
            ops[n++] = gen_op(g);
        }
    }
    return n;
}

/* ---- child ------------------------------------------------------------------------------ */

static xr_err open_ledger(const char *dir, xr_ledger **lg)
{
    xr_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    cfg.max_batch_ops = MAX_BATCH + 8;
    return xr_ledger_open(&cfg, lg); /* durable: the default */
}

static _Noreturn void child(const char *dir, int round, int fd)
{
    xr_ledger *lg;
    if (open_ledger(dir, &lg) != XR_OK)
        _exit(2);
    static gen g;
    gen_init(&g, round);
    xr_ledger_op ops[MAX_BATCH];
    xr_ledger_result res[MAX_BATCH];
    ack acks[MAX_BATCH];
    for (int b = 0; b < MAX_BATCHES; b++) {
        size_t n = gen_batch(&g, ops);
        if (xr_ledger_execute(lg, ops, n, res) != XR_OK)
            _exit(3);
        /* Only now, after the durable commit, is anything acknowledged. */
        for (size_t i = 0; i < n; i++)
            acks[i] = (ack){op_number(&ops[i].id), (uint32_t)res[i].err, 0};
        if (write(fd, acks, n * sizeof acks[0]) != (ssize_t)(n * sizeof acks[0]))
            _exit(4);
    }
    _exit(5); /* ran out of batches: the parent killed too late */
}

/* ---- parent ------------------------------------------------------------------------------ */

typedef struct acked {
    uint64_t op;
    xr_err err;
} acked;

static void setup_chart(const char *dir)
{
    xr_ledger *lg;
    assert_int_equal(open_ledger(dir, &lg), XR_OK);
    xr_ledger_op ops[MAX_BATCH];
    xr_ledger_result res[MAX_BATCH];
    uint64_t n_op = 1;
    size_t n = 0;
    const uint64_t sys[] = {ACC_FUNDING, ACC_OMNIBUS, ACC_REVENUE};
    for (int i = 0; i < 3; i++) {
        memset(&ops[n], 0, sizeof ops[n]);
        ops[n].id = id_of(n_op++);
        ops[n].kind = XR_LEDGER_OP_CREATE_ACCOUNT;
        ops[n].account.id = sys[i];
        strcpy(ops[n].account.asset, "USD");
        ops[n].account.kind = XR_LEDGER_KIND_BANK_OMNIBUS;
        ops[n].account.flags = XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE;
        n++;
    }
    assert_int_equal(xr_ledger_execute(lg, ops, n, res), XR_OK);
    for (uint64_t c = 0; c < CUSTOMERS; c += 32) {
        n = 0;
        for (uint64_t k = c; k < c + 32 && k < CUSTOMERS; k++) {
            memset(&ops[n], 0, sizeof ops[n]);
            ops[n].id = id_of(n_op++);
            ops[n].kind = XR_LEDGER_OP_CREATE_ACCOUNT;
            ops[n].account.id = CUST0 + k;
            strcpy(ops[n].account.asset, "USD");
            ops[n].account.kind = XR_LEDGER_KIND_CUSTOMER;
            n++;
            memset(&ops[n], 0, sizeof ops[n]);
            ops[n].id = id_of(n_op++);
            ops[n].kind = XR_LEDGER_OP_TRANSFER;
            ops[n].debit_account_id = ACC_FUNDING;
            ops[n].credit_account_id = CUST0 + k;
            ops[n].amount.units = 200000;
            n++;
        }
        assert_int_equal(xr_ledger_execute(lg, ops, n, res), XR_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(res[i].err, XR_OK);
    }
    xr_ledger_close(lg);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs one child and kills it after `kill_after_ms`; returns the acks it wrote. */
static size_t run_round(const char *dir, int round, unsigned kill_after_ms, acked *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(dir, round, fds[1]);
    }
    close(fds[1]);
    size_t n = 0;
    uint64_t kill_at = mono_ms() + kill_after_ms;
    int killed = 0;
    static ack buf[ACK_CHUNK];
    for (;;) {
        if (!killed && mono_ms() >= kill_at) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int wait_ms = killed ? -1 : (int)(kill_at > mono_ms() ? kill_at - mono_ms() : 0);
        if (poll(&p, 1, wait_ms) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        assert_true(got >= 0);
        if (got == 0)
            break;
        assert_int_equal(got % (ssize_t)sizeof(ack), 0); /* writes are atomic */
        for (ssize_t i = 0; i < got / (ssize_t)sizeof(ack); i++) {
            assert_true(n < cap);
            out[n++] = (acked){buf[i].op, (xr_err)buf[i].err};
        }
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("round %d: child ended by itself (status %d) instead of being killed", round,
                 status);
    return n;
}

/* After a kill: verify, acked ops are present with their results, batches are atomic. */
static void check_round(const char *dir, int round, const acked *acks, size_t nacks,
                        uint64_t *log_seen, int *batches_done)
{
    xr_ledger *lg;
    assert_int_equal(open_ledger(dir, &lg), XR_OK);
    xr_ledger_verify_report rep;
    assert_int_equal(xr_ledger_verify(lg, &rep), XR_OK);
    if (rep.err != XR_OK)
        fail_msg("round %d: verify: %s", round, rep.problem);

    /* Entries written by this round, counted per op. */
    static xr_ledger_entry ents[512];
    uint64_t base = ((uint64_t)round + 1) << 32;
    static uint32_t entry_count[MAX_BATCHES * MAX_BATCH];
    memset(entry_count, 0, sizeof entry_count);
    for (;;) {
        size_t n;
        assert_int_equal(xr_ledger_log_read(lg, *log_seen + 1, ents, 512, &n), XR_OK);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            uint64_t op = op_number(&ents[i].transfer_id);
            assert_true(op >= base && op - base < MAX_BATCHES * MAX_BATCH);
            entry_count[op - base]++;
        }
        *log_seen = ents[n - 1].seq;
    }

    /* Rebuild the child's batches: a prefix is wholly present, the rest wholly absent. */
    static gen g;
    gen_init(&g, round);
    xr_ledger_op ops[MAX_BATCH];
    int absent_seen = 0, present_batches = 0;
    for (int b = 0; b < MAX_BATCHES && absent_seen < 3; b++) {
        size_t n = gen_batch(&g, ops);
        size_t present = 0;
        xr_ledger_transfer t[MAX_BATCH];
        for (size_t i = 0; i < n; i++) {
            xr_err err = xr_ledger_transfer_get(lg, &ops[i].id, &t[i]);
            assert_true(err == XR_OK || err == XR_ERR_NOT_FOUND);
            present += err == XR_OK;
        }
        if (present != 0 && present != n)
            fail_msg("round %d batch %d: %zu of %zu ops present: a torn batch", round, b, present,
                     n);
        if (present == 0) {
            absent_seen++;
            continue;
        }
        if (absent_seen)
            fail_msg("round %d batch %d present after an absent batch", round, b);
        present_batches++;
        /* Members of a group share one outcome; applied transfers and posts have exactly
         * their two entries, nothing else has any. */
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && (ops[i - 1].flags & XR_LEDGER_OP_LINKED) && t[i].result != t[i - 1].result)
                fail_msg("round %d batch %d: linked group half applied", round, b);
            uint64_t op = op_number(&ops[i].id) - base;
            int posts = t[i].result == XR_OK &&
                        (t[i].kind == XR_LEDGER_OP_TRANSFER || t[i].kind == XR_LEDGER_OP_POST);
            if (entry_count[op] != (posts ? 2u : 0u))
                fail_msg("round %d batch %d op %zu: %u entries", round, b, i, entry_count[op]);
        }
    }
    /* Every acknowledged op is there with the acknowledged result. */
    for (size_t i = 0; i < nacks; i++) {
        xr_ledger_id id = id_of(acks[i].op);
        xr_ledger_transfer t;
        if (xr_ledger_transfer_get(lg, &id, &t) != XR_OK)
            fail_msg("round %d: acknowledged op %llu is missing", round,
                     (unsigned long long)acks[i].op);
        if (t.result != acks[i].err)
            fail_msg("round %d: op %llu acknowledged %s, stored %s", round,
                     (unsigned long long)acks[i].op, xr_err_name(acks[i].err),
                     xr_err_name(t.result));
    }
    *batches_done += present_batches;
    xr_ledger_close(lg);
}

static void test_crash(void **state)
{
    (void)state;
    int kills = 100;
    if (getenv("XR_LEDGER_CRASH_KILLS"))
        kills = atoi(getenv("XR_LEDGER_CRASH_KILLS"));
    char dir[256];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/xr_ledger_crash_XXXXXX", tmp);
    assert_non_null(mkdtemp(dir));
    setup_chart(dir);

    size_t cap = MAX_BATCHES * MAX_BATCH;
    acked *acks = calloc(cap, sizeof *acks);
    assert_non_null(acks);
    uint64_t log_seen = 0;
    {
        xr_ledger *lg;
        assert_int_equal(open_ledger(dir, &lg), XR_OK);
        xr_ledger_stats st;
        assert_int_equal(xr_ledger_stats_get(lg, &st), XR_OK);
        log_seen = st.entries;
        xr_ledger_close(lg);
    }
    uint64_t seed = 0xc0ffee;
    size_t total_acks = 0;
    int batches = 0;
    for (int round = 0; round < kills; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        /* Mostly early kills (during open, the first commits), some later. */
        unsigned after = (unsigned)(seed >> 33) % 100 < 20 ? (unsigned)(seed >> 40) % 5
                                                           : 5 + (unsigned)(seed >> 40) % 60;
        size_t n = run_round(dir, round, after, acks, cap);
        check_round(dir, round, acks, n, &log_seen, &batches);
        total_acks += n;
    }
    print_message("crash: %d kills, %zu acknowledged ops, %d committed batches checked\n", kills,
                  total_acks, batches);
    assert_true(total_acks > 0);
    free(acks);
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
