/*
 * core/ledger/ledger.h - xroute's double-entry ledger: accounts, two-phase transfers, linked
 * groups, idempotency, a hash-chained append-only log of entries, group commit, verify.
 *
 * The ledger is the single source of truth for money. It is modelled on TigerBeetle's
 * accounts and transfers and stored in LMDB (one environment in its own directory; the
 * byte layout of every database is documented in docs/ledger.md).
 *
 * Model
 *   An account holds one asset and four counters in the asset's minor units: debits and
 *   credits, posted and pending. balance = credits_posted - debits_posted; reserved =
 *   debits_pending; available = balance - reserved. A transfer moves an amount from a debit
 *   account to a credit account of the same asset, so per asset the balances sum to zero.
 *   An account without XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE (every customer account) never has a
 *   negative available balance.
 *
 * Operations (xr_ledger_op), each carrying a 16-byte id chosen by the caller:
 *   CREATE_ACCOUNT  creates an account (the account id is a separate u64).
 *   TRANSFER        posts an amount at once.
 *   RESERVE         a pending transfer: the amount is held on the debit account, optionally
 *                   until a deadline after which it voids itself (status EXPIRED).
 *   POST            posts a reservation, whole (amount 0) or in part; the rest is released.
 *   VOID            releases a reservation.
 *   An op with XR_LEDGER_OP_LINKED is linked with the next op of the batch: a linked group
 *   (the chain up to and including the first op without the flag) applies all or nothing.
 *
 * Idempotency: the op id is the idempotency key and, for transfers, the transfer id. The
 *   first execution's result is stored with the op, success or failure: executing the same
 *   id again with the same content returns that stored result (result.replayed = 1) and
 *   executes nothing, across restarts; the same id with different content is
 *   XR_ERR_IDEMPOTENCY_CONFLICT. Input errors that never reach the ledger's state
 *   (XR_ERR_INVALID_ARGUMENT, XR_ERR_INVALID_AMOUNT for an amount <= 0, XR_ERR_UNKNOWN_ASSET,
 *   XR_ERR_IDEMPOTENCY_CONFLICT) are not stored, so the id stays unused. Ids that increase
 *   over time (UUIDv7, ULID) are cheapest: a new op then needs no lookup and its record is
 *   appended at the end of the table.
 *
 * Group commit: xr_ledger_execute applies a batch in one LMDB write transaction with one
 *   durable sync and fills one result per op. It returns only after the transaction is
 *   durable (XR_LEDGER_DURABLE, the default), so no result is ever seen before its data.
 *
 * Threading: xr_ledger_execute and xr_ledger_expire_due must be called from one thread at a
 *   time (the ledger's writer). The queries and xr_ledger_verify may be called from any
 *   thread at any time, also concurrently with the writer: each reads one consistent
 *   snapshot (an LMDB read transaction) and sees only committed batches.
 *
 *   With cfg.hash_thread the ledger owns one helper thread (see xr_ledger_config).
 *
 * Memory: xr_ledger_open allocates everything the writer needs for a batch of up to
 *   cfg.max_batch_ops ops; xr_ledger_execute itself does not call malloc (LMDB reuses its own
 *   page buffers). xr_ledger_verify allocates (it is an offline check).
 *
 * Errors, besides the per-op codes listed at xr_ledger_op_kind:
 *   XR_ERR_INVALID_ARGUMENT  NULL pointer, batch larger than max_batch_ops, bad config;
 *   XR_ERR_INVALID_STATE     write on a read-only ledger;
 *   XR_ERR_STORAGE_FULL      the LMDB map is full (MDB_MAP_FULL): nothing of the batch applied;
 *   XR_ERR_NO_MEMORY         allocation failed, or the batch dirtied too many pages;
 *   XR_ERR_IO                an I/O call failed. When the commit succeeded but its sync did
 *                            not, the batch's durability is unknown: the ledger refuses every
 *                            later write with XR_ERR_IO until it is closed and reopened;
 *   XR_ERR_CORRUPT           stored data failed a check, or the format is unknown;
 *   XR_ERR_NOT_FOUND         no such account, transfer or ledger directory (read-only open).
 */
#ifndef XR_CORE_LEDGER_LEDGER_H
#define XR_CORE_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A 16-byte op / transfer id; compared as bytes (memcmp order). All-zero is not valid. */
typedef struct xr_ledger_id {
    uint8_t bytes[16];
} xr_ledger_id;

/* Builds the id whose bytes are `hi` then `lo`, both big-endian, so that numeric order of
 * (hi, lo) is the ledger's storage order. */
xr_ledger_id xr_ledger_id_make(uint64_t hi, uint64_t lo);
/* 32 lower-case hex digits and a NUL into buf (XR_LEDGER_ID_HEX_MAX bytes). */
#define XR_LEDGER_ID_HEX_MAX 33
void xr_ledger_id_format(const xr_ledger_id *id, char buf[XR_LEDGER_ID_HEX_MAX]);
/* Parses 32 hex digits, optionally with the four dashes of the UUID form. XR_OK or
 * XR_ERR_MALFORMED. */
xr_err xr_ledger_id_parse(const char *s, xr_ledger_id *out);
int xr_ledger_id_is_zero(const xr_ledger_id *id);

/* ---- accounts ------------------------------------------------------------------------ */

typedef enum xr_ledger_account_kind {
    XR_LEDGER_KIND_CUSTOMER = 1,       /* a bank's customer's funds in one asset */
    XR_LEDGER_KIND_BANK_OMNIBUS = 2,   /* a bank's settlement account at xroute */
    XR_LEDGER_KIND_VENUE_POSITION = 3, /* xroute's holdings at a venue */
    XR_LEDGER_KIND_SPREAD_REVENUE = 4, /* a bank's spread income */
    XR_LEDGER_KIND_FEES = 5,           /* venue fees */
    XR_LEDGER_KIND_BANK_FUNDING = 6,   /* where a bank's money enters and leaves the ledger */
} xr_ledger_account_kind;

/* A system account (any kind but CUSTOMER) may be created with this flag; its available
 * balance may then go below zero. Customer accounts never may. */
#define XR_LEDGER_ACCOUNT_MAY_GO_NEGATIVE 0x0001u

typedef struct xr_ledger_account {
    uint64_t id;                       /* non-zero, chosen by the creator */
    char asset[XR_ASSET_CODE_MAX + 1]; /* asset code, e.g. "USD" */
    uint8_t scale;                     /* the asset's scale when the account was created */
    uint8_t kind;                      /* xr_ledger_account_kind */
    uint16_t flags;                    /* XR_LEDGER_ACCOUNT_* */
    uint64_t bank_id;                  /* owning bank, 0 for none */
    uint64_t owner_id;                 /* customer id (customer) or venue id, 0 for none */
    xr_amount debits_posted;           /* each counter is >= 0 */
    xr_amount credits_posted;
    xr_amount debits_pending;  /* held by open reservations on the debit side */
    xr_amount credits_pending; /* incoming on open reservations */
    uint64_t last_entry_seq;   /* newest entry of this account, 0 for none */
    int64_t created_ns;        /* wall-clock time of the creating batch */
} xr_ledger_account;

/* Derived values. The ledger keeps debits_posted + debits_pending and credits_posted +
 * credits_pending within XR_I128_MAX, so none of these can overflow. */
static inline xr_amount xr_ledger_account_balance(const xr_ledger_account *a)
{
    xr_amount r = {a->credits_posted.units - a->debits_posted.units};
    return r;
}
static inline xr_amount xr_ledger_account_reserved(const xr_ledger_account *a)
{
    return a->debits_pending;
}
static inline xr_amount xr_ledger_account_available(const xr_ledger_account *a)
{
    xr_amount r = {a->credits_posted.units - a->debits_posted.units - a->debits_pending.units};
    return r;
}

/* ---- operations ---------------------------------------------------------------------- */

/* Per-op result codes (result.err):
 *   XR_OK
 *   XR_ERR_INVALID_ARGUMENT   unknown kind or flags, zero id, zero/equal account ids, deadline
 *                             not in the future, group not terminated, bad account spec
 *   XR_ERR_INVALID_AMOUNT     transfer/reserve amount <= 0, post amount < 0 (not stored), or a
 *                             post larger than its reservation (stored)
 *   XR_ERR_UNKNOWN_ASSET      create_account with an asset missing from the registry
 *   XR_ERR_IDEMPOTENCY_CONFLICT  the id exists with different content, or a new linked group
 *                             reuses an existing id
 *   XR_ERR_NOT_FOUND          an account or the reservation does not exist
 *   XR_ERR_ASSET_MISMATCH     debit and credit accounts hold different assets
 *   XR_ERR_INSUFFICIENT_FUNDS the debit account's available balance is too low
 *   XR_ERR_INVALID_STATE      post/void of something that is not an open reservation (already
 *                             posted, voided, expired, failed, or not a reservation)
 *   XR_ERR_ALREADY_EXISTS     create_account for an account id that exists
 *   XR_ERR_OVERFLOW           a counter would exceed XR_I128_MAX
 * In a failed linked group every member reports the failing member's code and index. */
typedef enum xr_ledger_op_kind {
    XR_LEDGER_OP_CREATE_ACCOUNT = 1,
    XR_LEDGER_OP_TRANSFER = 2,
    XR_LEDGER_OP_RESERVE = 3,
    XR_LEDGER_OP_POST = 4,
    XR_LEDGER_OP_VOID = 5,
} xr_ledger_op_kind;

/* Op flag: linked with the next op of the batch (all or nothing). */
#define XR_LEDGER_OP_LINKED 0x01u

typedef struct xr_ledger_account_spec {
    uint64_t id;                       /* non-zero */
    char asset[XR_ASSET_CODE_MAX + 1]; /* must be in the ledger's asset registry */
    uint8_t kind;                      /* xr_ledger_account_kind */
    uint16_t flags;                    /* XR_LEDGER_ACCOUNT_* */
    uint64_t bank_id;
    uint64_t owner_id;
} xr_ledger_account_spec;

/* One operation. Fields a kind does not use are ignored (and not part of its content for
 * idempotency). */
typedef struct xr_ledger_op {
    xr_ledger_id id;                /* idempotency key; the transfer id for transfers */
    uint8_t kind;                   /* xr_ledger_op_kind */
    uint8_t flags;                  /* XR_LEDGER_OP_LINKED */
    uint64_t debit_account_id;      /* TRANSFER, RESERVE */
    uint64_t credit_account_id;     /* TRANSFER, RESERVE */
    xr_amount amount;               /* TRANSFER, RESERVE: > 0; POST: 0 = whole reservation */
    xr_ledger_id pending_id;        /* POST, VOID: the reservation */
    int64_t deadline_ns;            /* RESERVE: wall-clock ns after which it voids itself; 0 none */
    uint64_t user_data;             /* TRANSFER, RESERVE, POST, VOID: opaque, stored */
    xr_ledger_account_spec account; /* CREATE_ACCOUNT */
} xr_ledger_op;

#define XR_LEDGER_NO_INDEX UINT32_MAX

typedef struct xr_ledger_result {
    xr_err err;            /* XR_OK or why the op did not apply */
    uint32_t failed_index; /* batch index of the op that failed its group (its own index when
                              it failed by itself); XR_LEDGER_NO_INDEX when err is XR_OK */
    uint8_t replayed;      /* 1: the stored result of an earlier execution; nothing ran now */
    int64_t timestamp_ns;  /* time of the batch that executed the op (the original one for
                              a replay); 0 for results that were not stored */
    xr_amount amount;      /* TRANSFER/RESERVE: the amount; POST: amount posted; VOID: amount
                              released; 0 on failure */
} xr_ledger_result;

/* ---- opening ------------------------------------------------------------------------- */

typedef enum xr_ledger_durability {
    /* Default. A result is returned only after the batch is on stable storage (fdatasync);
     * survives process crashes and power loss. */
    XR_LEDGER_DURABLE = 0,
    /* FOR BENCHMARKS ONLY: never syncs. Survives a process crash, but a power loss or kernel
     * crash may lose acknowledged batches or corrupt the environment. */
    XR_LEDGER_NO_SYNC_BENCHMARK_ONLY = 1,
} xr_ledger_durability;

typedef struct xr_ledger_config {
    const char *dir;               /* the ledger's directory (created if missing); required */
    uint64_t map_size_bytes;       /* LMDB map size, the ledger's maximum size; 0 = 64 GiB */
    uint32_t max_batch_ops;        /* largest batch xr_ledger_execute accepts; 0 = 8192 */
    uint32_t max_expire_per_batch; /* reservations expired per batch at most; 0 = 1024 */
    xr_ledger_durability durability;
    int read_only; /* 1: queries and verify only (works beside a running writer) */
    /* 1: extend the SHA-256 chain on a helper thread while the writer applies and writes
     * records. Worth it only with a spare core; small batches (under 512 entries) never use
     * it (see hash_chunk_entries). The helper sleeps when there is nothing to hash. */
    int hash_thread;
    uint32_t hash_chunk_entries;     /* entries per hand-over to the helper; 0 = 512. A batch with
                                        fewer entries hashes inline. */
    const xr_asset_registry *assets; /* asset codes accepted by CREATE_ACCOUNT; NULL = the
                                        built-in default registry. Copied. */
    /* Wall clock in ns since the epoch; NULL = xr_clock_wall_ns. Tests inject time here. */
    int64_t (*clock_ns)(void *ctx);
    void *clock_ctx;
    /* Fault injection: when set, called instead of fdatasync(data_fd) to make each committed
     * batch durable; returns 0 or an errno value. NULL in production. */
    int (*sync_hook)(void *ctx, int data_fd);
    void *sync_ctx;
} xr_ledger_config;

typedef struct xr_ledger xr_ledger;

/* Opens (creating when missing and not read-only) the ledger in cfg->dir. `*out` is owned by
 * the caller until xr_ledger_close. XR_OK, XR_ERR_INVALID_ARGUMENT, XR_ERR_NOT_FOUND (read
 * only and no ledger there), XR_ERR_CORRUPT (unknown format), XR_ERR_IO, XR_ERR_NO_MEMORY. */
xr_err xr_ledger_open(const xr_ledger_config *cfg, xr_ledger **out);

/* Closes the ledger; NULL is a no-op. No batch may be running. */
void xr_ledger_close(xr_ledger *lg);

/* ---- writing ------------------------------------------------------------------------- */

/* Applies ops[0..n) as one batch: expires due reservations, then runs each op (or linked
 * group) in order, each seeing the effects of the ones before it, then commits once and
 * syncs once. `results` (n entries, caller-owned) receives one result per op.
 * Returns XR_OK when the batch is committed and durable (per-op outcomes are in results),
 * or a batch-level error (see the top of this file): then nothing of the batch is applied
 * (except after a failed sync, see XR_ERR_IO) and every result carries that error. */
xr_err xr_ledger_execute(xr_ledger *lg, const xr_ledger_op *ops, size_t n,
                         xr_ledger_result *results);

/* Auxiliary records: a sorted key -> value store (LMDB database "aux" of the ledger's
 * environment) for what must be durable together with ops, such as the engine's order records
 * (docs/ledger.md, "Order store"). The ledger neither interprets nor verifies them. */
#define XR_LEDGER_AUX_KEY_MAX 64
#define XR_LEDGER_AUX_VAL_MAX 4096

typedef struct xr_ledger_aux_put {
    const uint8_t *key; /* 1..XR_LEDGER_AUX_KEY_MAX bytes; sorted as bytes (memcmp) */
    uint32_t key_len;
    const uint8_t *val; /* 0..XR_LEDGER_AUX_VAL_MAX bytes; replaces any value stored */
    uint32_t val_len;
    uint32_t if_op; /* written only when results[if_op] is XR_OK and not replayed;
                       XR_LEDGER_NO_INDEX: always */
} xr_ledger_aux_put;

/* xr_ledger_execute, and in the same transaction (so in the same durable commit) the aux
 * records aux[0..naux) whose condition holds, in order. Pointers are read during the call
 * only. Errors as xr_ledger_execute; XR_ERR_INVALID_ARGUMENT for a bad record (nothing
 * applied); an LMDB failure writing a record fails the whole batch. */
xr_err xr_ledger_execute_aux(xr_ledger *lg, const xr_ledger_op *ops, size_t n,
                             xr_ledger_result *results, const xr_ledger_aux_put *aux, size_t naux);

/* Expires due reservations without other ops (one durable commit if any was due); the
 * engine calls it periodically so held funds come back even when no batch runs. `*expired`
 * (may be NULL) receives how many expired. Same batch-level errors as xr_ledger_execute. */
xr_err xr_ledger_expire_due(xr_ledger *lg, uint32_t *expired);

/* ---- queries (any thread) ------------------------------------------------------------ */

/* The account `id`. XR_OK or XR_ERR_NOT_FOUND. */
xr_err xr_ledger_account_get(xr_ledger *lg, uint64_t id, xr_ledger_account *out);

/* Accounts in id order starting after `after_id` (0 = from the first), up to `cap`; `*n`
 * receives how many were written. XR_OK. */
xr_err xr_ledger_accounts_list(xr_ledger *lg, uint64_t after_id, xr_ledger_account *out, size_t cap,
                               size_t *n);

typedef enum xr_ledger_transfer_status {
    XR_LEDGER_STATUS_DONE = 1,    /* create_account, transfer, post or void applied */
    XR_LEDGER_STATUS_PENDING = 2, /* reservation open */
    XR_LEDGER_STATUS_POSTED = 3,  /* reservation posted (amount_done says how much) */
    XR_LEDGER_STATUS_VOIDED = 4,  /* reservation voided */
    XR_LEDGER_STATUS_EXPIRED = 5, /* reservation passed its deadline and released its hold */
    XR_LEDGER_STATUS_FAILED = 6,  /* the op failed; result says why */
} xr_ledger_transfer_status;

/* A stored op (every op whose result the ledger stored, see Idempotency above). */
typedef struct xr_ledger_transfer {
    xr_ledger_id id;
    uint8_t kind;          /* xr_ledger_op_kind */
    uint8_t flags;         /* as submitted */
    uint8_t status;        /* xr_ledger_transfer_status */
    xr_err result;         /* stored result of the execution */
    int32_t failed_offset; /* failed group: failing member's index minus this op's index */
    int64_t timestamp_ns;  /* time of the executing batch */
    uint64_t debit_account_id;
    uint64_t credit_account_id; /* POST/VOID: copied from the reservation */
    xr_amount amount;           /* as submitted */
    xr_amount amount_done;      /* TRANSFER: amount; RESERVE: posted so far (0 until posted);
                                   POST: posted; VOID: released */
    xr_ledger_id link_id;       /* POST/VOID: the reservation; RESERVE: the post or void that
                                   resolved it (zero while open or when expired) */
    int64_t deadline_ns;
    uint64_t user_data;
    uint64_t first_entry_seq;       /* TRANSFER/POST: its debit entry (the credit entry follows);
                                       0 for none */
    int64_t resolved_ns;            /* RESERVE: when it was posted, voided or expired; else 0 */
    xr_ledger_account_spec account; /* CREATE_ACCOUNT */
} xr_ledger_transfer;

/* The op `id`. XR_OK or XR_ERR_NOT_FOUND. */
xr_err xr_ledger_transfer_get(xr_ledger *lg, const xr_ledger_id *id, xr_ledger_transfer *out);

/* One entry of the append-only log: one per account a posted amount touches. */
typedef struct xr_ledger_entry {
    uint64_t seq;             /* 1, 2, 3, ... with no gaps */
    xr_ledger_id transfer_id; /* the TRANSFER or POST op */
    uint64_t account_id;
    xr_amount amount;        /* signed: negative debits the account, positive credits it */
    xr_amount balance_after; /* the account's balance after this entry */
    int64_t timestamp_ns;
    uint64_t prev_seq; /* the account's previous entry, 0 for its first */
    uint8_t chain[32]; /* SHA-256 chain value after this entry (docs/ledger.md) */
} xr_ledger_entry;

/* Entries of `account_id`, newest first. `cursor` 0 starts at the newest; otherwise it is a
 * `*next_cursor` from an earlier call. Up to `cap` entries go to `out`, `*n` says how many,
 * `*next_cursor` is where the next page starts (0 when there are no more). XR_OK,
 * XR_ERR_NOT_FOUND (no such account), XR_ERR_INVALID_ARGUMENT (cursor not an entry of the
 * account). */
xr_err xr_ledger_entries(xr_ledger *lg, uint64_t account_id, uint64_t cursor, xr_ledger_entry *out,
                         size_t cap, size_t *n, uint64_t *next_cursor);

/* The whole log in sequence order from `from_seq` (>= 1), up to `cap` entries. XR_OK. */
xr_err xr_ledger_log_read(xr_ledger *lg, uint64_t from_seq, xr_ledger_entry *out, size_t cap,
                          size_t *n);

/* The aux record `key`: copies up to `cap` bytes of its value to `val` and its length to
 * `*len`. XR_OK, XR_ERR_NOT_FOUND, XR_ERR_INVALID_ARGUMENT. */
xr_err xr_ledger_aux_get(xr_ledger *lg, const uint8_t *key, uint32_t key_len, uint8_t *val,
                         uint32_t cap, uint32_t *len);

/* Calls fn for every aux record with from <= key < to (byte order; to_len 0: no upper bound),
 * ascending, in one snapshot, until fn returns non-zero. The pointers given to fn are valid
 * during that call only. XR_OK (also when fn stopped the scan), XR_ERR_INVALID_ARGUMENT. */
typedef int (*xr_ledger_aux_fn)(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                                uint32_t val_len);
xr_err xr_ledger_aux_scan(xr_ledger *lg, const uint8_t *from, uint32_t from_len, const uint8_t *to,
                          uint32_t to_len, xr_ledger_aux_fn fn, void *ctx);

/* Totals of one asset over all accounts. */
typedef struct xr_ledger_total {
    char asset[XR_ASSET_CODE_MAX + 1];
    uint8_t scale;
    uint64_t accounts;
    xr_amount debits_posted, credits_posted; /* equal when the ledger is sound */
    xr_amount debits_pending, credits_pending;
    xr_amount balance_sum; /* zero when the ledger is sound */
} xr_ledger_total;

/* Totals per asset, sorted by asset code, up to `cap`; `*n` receives the number of assets
 * (which may exceed cap). XR_OK or XR_ERR_OVERFLOW (a sum does not fit). */
xr_err xr_ledger_totals(xr_ledger *lg, xr_ledger_total *out, size_t cap, size_t *n);

/* Counts of what is stored. */
typedef struct xr_ledger_stats {
    uint64_t accounts, ops, entries, open_reservations_with_deadline;
    uint64_t map_size_bytes, used_bytes;
} xr_ledger_stats;
xr_err xr_ledger_stats_get(xr_ledger *lg, xr_ledger_stats *out);

/* ---- verify -------------------------------------------------------------------------- */

typedef struct xr_ledger_verify_report {
    xr_err err; /* XR_OK when every check passed, XR_ERR_CORRUPT otherwise */
    uint64_t entries, accounts, ops;
    uint64_t bad_entry_seq;  /* the first entry found bad, 0 when the problem is elsewhere */
    uint64_t bad_account_id; /* the account found bad, 0 when none */
    xr_ledger_id bad_op_id;  /* the op found bad, all-zero when none */
    char problem[256];       /* one line saying what is wrong; empty when sound */
    uint8_t head_sha256[32]; /* SHA-256 over every entry's 64-byte block, in order */
} xr_ledger_verify_report;

/* Checks the whole ledger in one snapshot: the entry keys run 1..n; the hash chain; each
 * entry against its transfer and its account's previous entry; replaying the entries
 * reproduces every posted counter and balance; pending counters equal the open
 * reservations; every reservation's post/void is consistent and no post exceeds its
 * reservation; non-negative accounts have available >= 0; per asset the balances sum to
 * zero; the expiry index matches the open reservations. Stops at the first problem.
 * Returns XR_OK when it ran (the verdict is in rep->err), or XR_ERR_NO_MEMORY / XR_ERR_IO. */
xr_err xr_ledger_verify(xr_ledger *lg, xr_ledger_verify_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* XR_CORE_LEDGER_LEDGER_H */
