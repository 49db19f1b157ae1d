/*
 * ledger_fixture DATA_DIR [tamper SEQ]
 *
 * Builds a small, known ledger in DATA_DIR/ledger for the CLI tests: a USD chart, one funded
 * customer, one trade (reserve, then post with spread and fee legs) and one open reservation.
 * With "tamper SEQ" it instead flips one byte of entry SEQ through the LMDB API, the way an
 * attacker with file access would, so that `xroute ledger verify` must name that entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sys/stat.h>

#include "core/ledger/ledger.h"

static xr_ledger_op create(uint64_t n, uint64_t id, uint8_t kind, uint16_t flags)
{
    xr_ledger_op op;
    memset(&op, 0, sizeof op);
    op.id = xr_ledger_id_make(0, n);
    op.kind = XR_LEDGER_OP_CREATE_ACCOUNT;
    op.account.id = id;
    strcpy(op.account.asset, "USD");
    op.account.kind = kind;
    op.account.flags = flags;
    op.account.bank_id = 1;
    op.account.owner_id = kind == XR_LEDGER_KIND_CUSTOMER ? 4242 : 0;
    return op;
}

static xr_ledger_op move(uint64_t n, uint8_t kind, uint64_t d, uint64_t c, xr_i128 amount)
{
    xr_ledger_op op;
    memset(&op, 0, sizeof op);
    op.id = xr_ledger_id_make(0, n);
    op.kind = kind;
    op.debit_account_id = d;
    op.credit_account_id = c;
    op.amount.units = amount;
    return op;
}

static int build(const char *dir)
{
    xr_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    xr_ledger *lg;
    if (xr_ledger_open(&cfg, &lg) != XR_OK)
        return 1;
    const uint16_t neg = XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE;
    xr_ledger_op setup[] = {
        create(1, 1, XR_LEDGER_KIND_BANK_FUNDING, neg),
        create(2, 2, XR_LEDGER_KIND_BANK_OMNIBUS, neg),
        create(3, 3, XR_LEDGER_KIND_VENUE_POSITION, neg),
        create(4, 4, XR_LEDGER_KIND_SPREAD_REVENUE, neg),
        create(5, 5, XR_LEDGER_KIND_FEES, neg),
        create(6, 10, XR_LEDGER_KIND_CUSTOMER, 0),
        move(7, XR_LEDGER_OP_TRANSFER, 1, 10, 100000), /* 1000.00 USD */
        move(8, XR_LEDGER_OP_RESERVE, 10, 2, 10160),   /* a buy: 101.60 held */
    };
    xr_ledger_result res[8];
    if (xr_ledger_execute(lg, setup, 8, res) != XR_OK)
        return 1;
    xr_ledger_op post = move(9, XR_LEDGER_OP_POST, 0, 0, 0);
    post.pending_id = xr_ledger_id_make(0, 8);
    post.flags = XR_LEDGER_OP_LINKED;
    xr_ledger_op trade[] = {
        post,
        move(10, XR_LEDGER_OP_TRANSFER, 2, 3, 10000),
        move(11, XR_LEDGER_OP_TRANSFER, 2, 4, 150),
        move(12, XR_LEDGER_OP_TRANSFER, 2, 5, 10),
        move(13, XR_LEDGER_OP_RESERVE, 10, 2, 2500), /* still open */
    };
    trade[1].flags = trade[2].flags = XR_LEDGER_OP_LINKED;
    if (xr_ledger_execute(lg, trade, 5, res) != XR_OK)
        return 1;
    for (int i = 0; i < 5; i++)
        if (res[i].err != XR_OK)
            return 1;
    xr_ledger_close(lg);
    return 0;
}

static int tamper(const char *dir, uint64_t seq)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {sizeof seq, &seq}, v;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) ||
        mdb_env_set_mapsize(env, 64ull << 30) || mdb_env_open(env, dir, 0, 0640) ||
        mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, "entries", MDB_INTEGERKEY, &dbi) ||
        mdb_get(txn, dbi, &k, &v))
        return 1;
    unsigned char buf[104];
    if (v.mv_size != sizeof buf)
        return 1;
    memcpy(buf, v.mv_data, sizeof buf);
    buf[30] ^= 0x01; /* inside the amount */
    MDB_val nv = {sizeof buf, buf};
    if (mdb_put(txn, dbi, &k, &nv, 0) || mdb_txn_commit(txn))
        return 1;
    mdb_env_close(env);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ledger_fixture DATA_DIR [tamper SEQ]\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ledger", argv[1]);
    if (argc == 4 && strcmp(argv[2], "tamper") == 0)
        return tamper(dir, strtoull(argv[3], NULL, 10));
    mkdir(argv[1], 0750);
    return build(dir);
}
