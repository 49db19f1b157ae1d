/*
 * perf/ledger/ledger_bench.c - durable trades per second of the xroute ledger, and of the
 * same trade done the original brief's way on PostgreSQL. Driven by perf/ledger/run.sh.
 *
 * A trade (both sides do the same business):
 *   phase 1  reserve the customer's funds: amount = notional + spread + fee;
 *   phase 2  post it with all its legs: customer -> omnibus (the reservation, posted whole),
 *            omnibus -> venue position (notional), omnibus -> spread revenue (spread),
 *            omnibus -> fees (venue fee); the four as one linked group.
 * As in the engine, the two phases of a trade are in different commits: batch k holds the
 * reservations of trades [kB, (k+1)B) and the post groups of trades [(k-1)B, kB), so a
 * commit of batch size B carries B reservations and B posts (5B ops).
 *
 *   ledger_bench lmdb DIR BATCH SECONDS [nosync]   -> one line of key=value results
 *     (XR_BENCH_MAX_BATCHES=N stops after N commits, XR_BENCH_MAP_MB=M sets the map size:
 *     for valgrind --tool=callgrind, see perf/ledger/run.sh)
 *   ledger_bench pg CONNINFO SECONDS               -> one line of key=value results
 *
 * Latency is the time of one xr_ledger_execute call (apply + commit + sync), or of one SQL
 * transaction including its COMMIT. Clock: CLOCK_MONOTONIC. No floating point is used for
 * money; the rates and percentiles printed are plain integer arithmetic.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/ledger/ledger.h"

#ifdef XR_BENCH_WITH_PG
#include <libpq-fe.h>
#endif

enum {
    CUSTOMERS = 10000,
    ACC_FUNDING = 1,
    ACC_OMNIBUS = 2,
    ACC_VENUE = 3,
    ACC_SPREAD = 4,
    ACC_FEES = 5,
    ACC_CUSTOMER0 = 1000,
    NOTIONAL = 10000, /* 100.00 USD */
    SPREAD = 150,
    FEE = 10,
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* User + system CPU time of the whole process (all threads), in microseconds. */
static uint64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Bytes this process has caused to be written to storage (Linux /proc/self/io), 0 if unknown. */
static uint64_t io_write_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return 0;
    char line[128];
    uint64_t v = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "write_bytes:", 12) == 0)
            v = strtoull(line + 12, NULL, 10);
    fclose(f);
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n sorted samples, nearest rank. */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    size_t rank = (n * p + 99) / 100;
    return v[rank == 0 ? 0 : rank - 1];
}

static void die(const char *what, int code)
{
    fprintf(stderr, "ledger_bench: %s failed: %d\n", what, code);
    exit(1);
}

/* ---- LMDB ledger --------------------------------------------------------------------- */

static uint64_t next_id = 1;

static xr_ledger_id fresh_id(void)
{
    return xr_ledger_id_make(1, next_id++);
}

static xr_ledger_op transfer(uint8_t kind, uint64_t d, uint64_t c, xr_i128 amount)
{
    xr_ledger_op op;
    memset(&op, 0, sizeof op);
    op.id = fresh_id();
    op.kind = kind;
    op.debit_account_id = d;
    op.credit_account_id = c;
    op.amount.units = amount;
    return op;
}

static void lmdb_setup(xr_ledger *lg)
{
    static xr_ledger_op ops[CUSTOMERS * 2 + 5];
    static xr_ledger_result res[CUSTOMERS * 2 + 5];
    size_t n = 0;
    const uint64_t sys[] = {ACC_FUNDING, ACC_OMNIBUS, ACC_VENUE, ACC_SPREAD, ACC_FEES};
    const uint8_t kinds[] = {XR_LEDGER_KIND_BANK_FUNDING, XR_LEDGER_KIND_BANK_OMNIBUS,
                             XR_LEDGER_KIND_VENUE_POSITION, XR_LEDGER_KIND_SPREAD_REVENUE,
                             XR_LEDGER_KIND_FEES};
    for (int i = 0; i < 5; i++) {
        xr_ledger_op *op = &ops[n++];
        memset(op, 0, sizeof *op);
        op->id = fresh_id();
        op->kind = XR_LEDGER_OP_CREATE_ACCOUNT;
        op->account.id = sys[i];
        strcpy(op->account.asset, "USD");
        op->account.kind = kinds[i];
        op->account.flags = XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE;
        op->account.bank_id = 1;
    }
    for (uint64_t c = 0; c < CUSTOMERS; c++) {
        xr_ledger_op *op = &ops[n++];
        memset(op, 0, sizeof *op);
        op->id = fresh_id();
        op->kind = XR_LEDGER_OP_CREATE_ACCOUNT;
        op->account.id = ACC_CUSTOMER0 + c;
        strcpy(op->account.asset, "USD");
        op->account.kind = XR_LEDGER_KIND_CUSTOMER;
        op->account.bank_id = 1;
        op->account.owner_id = c + 1;
    }
    for (uint64_t c = 0; c < CUSTOMERS; c++)
        ops[n++] = transfer(XR_LEDGER_OP_TRANSFER, ACC_FUNDING, ACC_CUSTOMER0 + c,
                            (xr_i128)1000000000000ll);
    for (size_t off = 0; off < n; off += 4096) {
        size_t k = n - off < 4096 ? n - off : 4096;
        xr_err err = xr_ledger_execute(lg, ops + off, k, res + off);
        if (err != XR_OK)
            die("setup batch", err);
        for (size_t i = 0; i < k; i++)
            if (res[off + i].err != XR_OK)
                die("setup op", res[off + i].err);
    }
}

typedef struct trade {
    xr_ledger_id reservation;
} trade;

static int run_lmdb(const char *dir, uint32_t batch, unsigned seconds, int nosync)
{
    xr_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    cfg.max_batch_ops = 5 * batch < 20000 ? 20000 : 5 * batch;
    /* XR_BENCH_MAP_MB: a smaller map for valgrind, which cannot reserve the default 64 GiB. */
    const char *map_mb = getenv("XR_BENCH_MAP_MB");
    cfg.map_size_bytes = map_mb != NULL ? strtoull(map_mb, NULL, 10) << 20 : 0;
    cfg.durability = nosync ? XR_LEDGER_NO_SYNC_BENCHMARK_ONLY : XR_LEDGER_DURABLE;
    const char *h = getenv("XR_BENCH_HASHER");
    cfg.hash_thread = h != NULL && strcmp(h, "1") == 0;
    xr_ledger *lg;
    xr_err err = xr_ledger_open(&cfg, &lg);
    if (err != XR_OK)
        die("open", err);
    lmdb_setup(lg);

    xr_ledger_op *ops = calloc((size_t)5 * batch, sizeof *ops);
    xr_ledger_result *res = calloc((size_t)5 * batch, sizeof *res);
    trade *prev = calloc(batch, sizeof *prev), *cur = calloc(batch, sizeof *cur);
    size_t lat_cap = 1 << 22;
    uint64_t *lat = calloc(lat_cap, sizeof *lat);
    if (!ops || !res || !prev || !cur || !lat)
        die("calloc", 0);
    uint64_t trades = 0, customer = 0, batches = 0, failed = 0;
    size_t nprev = 0;
    /* XR_BENCH_MAX_BATCHES stops after that many commits (for callgrind, whose instruction
     * counts are repeatable where wall-clock time is not). */
    const char *mb = getenv("XR_BENCH_MAX_BATCHES");
    uint64_t max_batches = mb != NULL ? strtoull(mb, NULL, 10) : UINT64_MAX;
    uint64_t start = now_ns(), deadline = start + (uint64_t)seconds * 1000000000ull;
    uint64_t cpu0 = cpu_us(), io0 = io_write_bytes();
    uint64_t wall_deadline_ns = (uint64_t)time(NULL) * 1000000000ull;
    for (;;) {
        uint64_t t0 = now_ns();
        int last = t0 >= deadline || batches + 1 >= max_batches;
        size_t n = 0, nres = last ? 0 : batch;
        for (size_t i = 0; i < nres; i++) {
            uint64_t c = ACC_CUSTOMER0 + customer++ % CUSTOMERS;
            ops[n] = transfer(XR_LEDGER_OP_RESERVE, c, ACC_OMNIBUS, NOTIONAL + SPREAD + FEE);
            /* A real reservation voids itself if the router never comes back. */
            ops[n].deadline_ns = (int64_t)(wall_deadline_ns + 3600ull * 1000000000ull);
            cur[i].reservation = ops[n].id;
            n++;
        }
        for (size_t i = 0; i < nprev; i++) {
            xr_ledger_op *g = &ops[n];
            memset(g, 0, sizeof *g);
            g->id = fresh_id();
            g->kind = XR_LEDGER_OP_POST;
            g->pending_id = prev[i].reservation;
            g->flags = XR_LEDGER_OP_LINKED;
            g[1] = transfer(XR_LEDGER_OP_TRANSFER, ACC_OMNIBUS, ACC_VENUE, NOTIONAL);
            g[1].flags = XR_LEDGER_OP_LINKED;
            g[2] = transfer(XR_LEDGER_OP_TRANSFER, ACC_OMNIBUS, ACC_SPREAD, SPREAD);
            g[2].flags = XR_LEDGER_OP_LINKED;
            g[3] = transfer(XR_LEDGER_OP_TRANSFER, ACC_OMNIBUS, ACC_FEES, FEE);
            n += 4;
        }
        if (n == 0)
            break;
        err = xr_ledger_execute(lg, ops, n, res);
        uint64_t t1 = now_ns();
        if (err != XR_OK)
            die("execute", err);
        for (size_t i = 0; i < n; i++)
            failed += res[i].err != XR_OK;
        if (batches < lat_cap)
            lat[batches] = t1 - t0;
        batches++;
        trades += nprev;
        trade *tmp = prev;
        prev = cur;
        cur = tmp;
        nprev = nres;
    }
    uint64_t elapsed = now_ns() - start;
    uint64_t cpu = cpu_us() - cpu0, io = io_write_bytes() - io0;
    size_t nlat = batches < lat_cap ? batches : lat_cap;
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    xr_ledger_verify_report rep;
    memset(&rep, 0, sizeof rep);
    err = getenv("XR_BENCH_NO_VERIFY") ? XR_OK : xr_ledger_verify(lg, &rep);
    xr_ledger_stats st;
    xr_ledger_stats_get(lg, &st);
    printf("side=lmdb batch=%u durable=%d hasher=%d trades=%" PRIu64 " failed_ops=%" PRIu64
           " elapsed_us=%" PRIu64 " trades_per_s=%" PRIu64 " commits=%" PRIu64 " p50_us=%" PRIu64
           " p99_us=%" PRIu64 " verify=%s entries=%" PRIu64 " db_bytes=%" PRIu64
           " cpu_ns_per_trade=%" PRIu64 " written_bytes_per_trade=%" PRIu64 "\n",
           batch, !nosync, cfg.hash_thread, trades, failed, elapsed / 1000,
           elapsed ? trades * UINT64_C(1000000000) / elapsed : 0, batches,
           percentile(lat, nlat, 50) / 1000, percentile(lat, nlat, 99) / 1000,
           err == XR_OK && rep.err == XR_OK ? "ok" : "FAILED", st.entries, st.used_bytes,
           trades ? cpu * 1000 / trades : 0, trades ? io / trades : 0);
    xr_ledger_close(lg);
    free(ops);
    free(res);
    free(prev);
    free(cur);
    free(lat);
    return failed == 0 && rep.err == XR_OK ? 0 : 1;
}

/* ---- PostgreSQL, the original brief's design ------------------------------------------ */

#ifdef XR_BENCH_WITH_PG
static PGresult *pg_exec(PGconn *c, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != want) {
        fprintf(stderr, "ledger_bench: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    return r;
}

static void pg_ok(PGconn *c, const char *sql)
{
    PQclear(pg_exec(c, sql, PGRES_COMMAND_OK));
}

static PGresult *pg_prepared(PGconn *c, const char *name, int n, const char *const *params,
                             ExecStatusType want)
{
    PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        fprintf(stderr, "ledger_bench: %s: %s", name, PQerrorMessage(c));
        exit(1);
    }
    return r;
}

static void pg_prepare(PGconn *c, const char *name, const char *sql, int n)
{
    PGresult *r = PQprepare(c, name, sql, n, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "ledger_bench: prepare %s: %s", name, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

/* Reads (balance, locked, version) of one account FOR UPDATE and writes it back with the
 * version check of optimistic locking; a lost race would be retried by the brief's design,
 * and with one client it never happens, which is the best case for this side. */
static void pg_update_account(PGconn *c, const char *id, long long d_balance, long long d_locked)
{
    const char *p1[] = {id};
    PGresult *r = pg_prepared(c, "get_acc", 1, p1, PGRES_TUPLES_OK);
    if (PQntuples(r) != 1) {
        fprintf(stderr, "ledger_bench: account %s missing\n", id);
        exit(1);
    }
    long long balance = atoll(PQgetvalue(r, 0, 0)), locked = atoll(PQgetvalue(r, 0, 1));
    const char *version = PQgetvalue(r, 0, 2);
    char b[32], l[32], v[32];
    snprintf(b, sizeof b, "%lld", balance + d_balance);
    snprintf(l, sizeof l, "%lld", locked + d_locked);
    snprintf(v, sizeof v, "%s", version);
    PQclear(r);
    const char *p2[] = {id, b, l, v};
    r = pg_prepared(c, "put_acc", 4, p2, PGRES_COMMAND_OK);
    if (strcmp(PQcmdTuples(r), "1") != 0) {
        fprintf(stderr, "ledger_bench: optimistic lock lost on %s\n", id);
        exit(1);
    }
    PQclear(r);
}

static int run_pg(const char *conninfo, unsigned seconds)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "ledger_bench: connect: %s", PQerrorMessage(c));
        return 1;
    }
    pg_ok(c, "SET synchronous_commit = on");
    pg_ok(c, "DROP TABLE IF EXISTS ledger_entries, transactions, accounts");
    pg_ok(c, "CREATE TABLE accounts (id bigint PRIMARY KEY, kind text NOT NULL, "
             "balance numeric(38,0) NOT NULL, locked_balance numeric(38,0) NOT NULL, "
             "version bigint NOT NULL)");
    pg_ok(c, "CREATE TABLE transactions (id bigserial PRIMARY KEY, idempotency_key uuid NOT NULL "
             "UNIQUE, customer_id bigint NOT NULL REFERENCES accounts, amount numeric(38,0) NOT "
             "NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
    pg_ok(c, "CREATE TABLE ledger_entries (id bigserial PRIMARY KEY, transaction_id bigint NOT "
             "NULL REFERENCES transactions, account_id bigint NOT NULL REFERENCES accounts, "
             "amount numeric(38,0) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
    pg_ok(c, "CREATE INDEX ON ledger_entries (account_id)");
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO accounts SELECT g, 'customer', 1000000000000, 0, 0 "
             "FROM generate_series(%d, %d) g",
             ACC_CUSTOMER0, ACC_CUSTOMER0 + CUSTOMERS - 1);
    pg_ok(c, sql);
    pg_ok(c, "INSERT INTO accounts VALUES (2, 'omnibus', 0, 0, 0), (3, 'venue', 0, 0, 0), "
             "(4, 'spread', 0, 0, 0), (5, 'fees', 0, 0, 0)");
    pg_ok(c, "VACUUM ANALYZE");
    pg_prepare(c, "get_acc",
               "SELECT balance, locked_balance, version FROM accounts WHERE id = $1 FOR UPDATE", 1);
    pg_prepare(c, "put_acc",
               "UPDATE accounts SET balance = $2, locked_balance = $3, version = version + 1 "
               "WHERE id = $1 AND version = $4",
               4);
    pg_prepare(c, "new_tx",
               "INSERT INTO transactions (idempotency_key, customer_id, amount, status) "
               "VALUES ($1, $2, $3, 'reserved') RETURNING id",
               3);
    pg_prepare(c, "entry",
               "INSERT INTO ledger_entries (transaction_id, account_id, amount) VALUES ($1, $2, "
               "$3)",
               3);
    pg_prepare(c, "done_tx", "UPDATE transactions SET status = 'completed' WHERE id = $1", 1);

    size_t lat_cap = 1 << 20;
    uint64_t *lat = calloc(lat_cap, sizeof *lat);
    uint64_t trades = 0, commits = 0;
    const long long amount = NOTIONAL + SPREAD + FEE;
    uint64_t start = now_ns(), deadline = start + (uint64_t)seconds * 1000000000ull;
    while (now_ns() < deadline) {
        char cust[32], key[40], amt[32], txid[32];
        snprintf(cust, sizeof cust, "%llu",
                 (unsigned long long)(ACC_CUSTOMER0 + trades % CUSTOMERS));
        snprintf(key, sizeof key, "00000000-0000-4000-8000-%012llx", (unsigned long long)trades);
        snprintf(amt, sizeof amt, "%lld", amount);

        /* Transaction 1: the reservation. */
        uint64_t t0 = now_ns();
        pg_ok(c, "BEGIN");
        const char *pt[] = {key, cust, amt};
        PGresult *r = pg_prepared(c, "new_tx", 3, pt, PGRES_TUPLES_OK);
        snprintf(txid, sizeof txid, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        pg_update_account(c, cust, 0, amount);
        pg_ok(c, "COMMIT");
        uint64_t t1 = now_ns();

        /* Transaction 2: four ledger rows and the balance updates. */
        pg_ok(c, "BEGIN");
        char neg[32], n_s[32], s_s[32], f_s[32];
        snprintf(neg, sizeof neg, "%lld", -amount);
        snprintf(n_s, sizeof n_s, "%d", NOTIONAL);
        snprintf(s_s, sizeof s_s, "%d", SPREAD);
        snprintf(f_s, sizeof f_s, "%d", FEE);
        const char *e1[] = {txid, cust, neg}, *e2[] = {txid, "3", n_s}, *e3[] = {txid, "4", s_s},
                   *e4[] = {txid, "5", f_s};
        PQclear(pg_prepared(c, "entry", 3, e1, PGRES_COMMAND_OK));
        PQclear(pg_prepared(c, "entry", 3, e2, PGRES_COMMAND_OK));
        PQclear(pg_prepared(c, "entry", 3, e3, PGRES_COMMAND_OK));
        PQclear(pg_prepared(c, "entry", 3, e4, PGRES_COMMAND_OK));
        pg_update_account(c, cust, -amount, -amount);
        pg_update_account(c, "3", NOTIONAL, 0);
        pg_update_account(c, "4", SPREAD, 0);
        pg_update_account(c, "5", FEE, 0);
        const char *pd[] = {txid};
        PQclear(pg_prepared(c, "done_tx", 1, pd, PGRES_COMMAND_OK));
        pg_ok(c, "COMMIT");
        uint64_t t2 = now_ns();
        if (commits + 1 < lat_cap) {
            lat[commits++] = t1 - t0;
            lat[commits++] = t2 - t1;
        }
        trades++;
    }
    uint64_t elapsed = now_ns() - start;
    qsort(lat, commits, sizeof *lat, cmp_u64);
    /* Sanity: balances sum to what the customers were given. */
    PGresult *r = pg_exec(c, "SELECT sum(balance) FROM accounts", PGRES_TUPLES_OK);
    printf("side=pg trades=%" PRIu64 " elapsed_us=%" PRIu64 " trades_per_s=%" PRIu64
           " commits=%" PRIu64 " p50_us=%" PRIu64 " p99_us=%" PRIu64 " balance_sum=%s\n",
           trades, elapsed / 1000, elapsed ? trades * UINT64_C(1000000000) / elapsed : 0, commits,
           percentile(lat, commits, 50) / 1000, percentile(lat, commits, 99) / 1000,
           PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    free(lat);
    return 0;
}
#endif

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "lmdb") == 0)
        return run_lmdb(argv[2], (uint32_t)strtoul(argv[3], NULL, 10),
                        (unsigned)strtoul(argv[4], NULL, 10),
                        argc >= 6 && strcmp(argv[5], "nosync") == 0);
#ifdef XR_BENCH_WITH_PG
    if (argc >= 4 && strcmp(argv[1], "pg") == 0)
        return run_pg(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
#endif
    fprintf(stderr, "usage: ledger_bench lmdb DIR BATCH SECONDS [nosync]\n"
                    "       ledger_bench pg CONNINFO SECONDS\n");
    return 2;
}
