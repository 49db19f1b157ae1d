/*
 * core/ledger/ledger_internal.h - what the parts of the ledger module share: the on-disk
 * byte layouts (docs/ledger.md is the reference for outside readers and must change with
 * them), their encoders and decoders, and the ledger handle itself.
 *
 * Every integer on disk is little-endian; xr_i128 is 16 bytes two's complement. LMDB keeps
 * values only 2-byte aligned inside its pages, so every read goes through memcpy.
 */
#ifndef XR_CORE_LEDGER_LEDGER_INTERNAL_H
#define XR_CORE_LEDGER_LEDGER_INTERNAL_H

/* BearSSL's header tests an undefined macro with #if; it is not ours to fix. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop
#include <lmdb.h>
#include <stdint.h>
#include <string.h>

#include "core/ledger/ledger.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ledger's on-disk format is little-endian and is written with memcpy"
#endif

/* ---- databases ------------------------------------------------------------------------ */

#define LG_DB_META     "meta"
#define LG_DB_ACCOUNTS "accounts" /* u64 (MDB_INTEGERKEY) -> account, LG_ACCOUNT_SIZE */
#define LG_DB_OPS      "ops"      /* 16-byte id -> op record, LG_OP_SIZE */
#define LG_DB_ENTRIES  "entries"  /* u64 seq (MDB_INTEGERKEY) -> entry, LG_ENTRY_SIZE */
#define LG_DB_EXPIRY   "expiry"   /* u64 BE deadline || 16-byte id -> empty */
#define LG_DB_AUX      "aux" /* caller's key (1..64 bytes) -> caller's value (docs/ledger.md) */

#define LG_FORMAT_VERSION 1u
#define LG_META_FORMAT    "format"  /* u32 */
#define LG_META_LAST_TS   "last_ts" /* i64: timestamp of the last committed batch */

/* ---- entry: 104 bytes --------------------------------------------------------------- */
/* The first 64 bytes are the block the hash chain absorbs:
 *   0 id[16] transfer   16 u64 account   24 i128 amount   40 i128 balance_after   56 i64 ts
 * then  64 u64 prev_seq (account's previous entry)   72 u8[32] chain value. */
#define LG_ENTRY_BLOCK 64
#define LG_ENTRY_SIZE  104

typedef struct lg_entry_raw {
    uint8_t b[LG_ENTRY_SIZE];
} lg_entry_raw;
_Static_assert(sizeof(lg_entry_raw) == LG_ENTRY_SIZE, "entry has no padding");

/* ---- account: 112 bytes ------------------------------------------------------------- */
/*   0 i128 debits_posted  16 i128 credits_posted  32 i128 debits_pending
 *  48 i128 credits_pending  64 u64 last_entry_seq  72 u64 bank_id  80 u64 owner_id
 *  88 i64 created_ns  96 char asset[12] (NUL padded)  108 u8 scale  109 u8 kind
 * 110 u16 flags */
#define LG_ACCOUNT_SIZE 112

/* ---- op record: 112 bytes ----------------------------------------------------------- */
/*   0 u8 kind  1 u8 flags  2 u8 result  3 u8 status  4 i32 failed_offset  8 i64 timestamp
 * then for TRANSFER, RESERVE, POST, VOID:
 *  16 u64 debit  24 u64 credit  32 i128 amount  48 i128 amount_done  64 id[16] link_id
 *  80 i64 deadline  88 u64 user_data  96 u64 first_entry_seq  104 i64 resolved_ns
 * and for CREATE_ACCOUNT:
 *  16 u64 account id  24 char asset[12]  36 u8 scale  37 u8 account kind  38 u16 flags
 *  40 u64 bank_id  48 u64 owner_id  56..112 zero */
#define LG_OP_SIZE 112

/* ---- expiry key: 24 bytes ------------------------------------------------------------- */
#define LG_EXPIRY_KEY_SIZE 24

/* The decoded op record (xr_ledger_transfer plus the scale of created accounts). */
typedef xr_ledger_transfer lg_op_rec;

/* ---- little-endian helpers -------------------------------------------------------- */

static inline uint64_t lg_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void lg_put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline int64_t lg_get_i64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void lg_put_i64(uint8_t *p, int64_t v)
{
    memcpy(p, &v, 8);
}
static inline xr_i128 lg_get_i128(const uint8_t *p)
{
    xr_i128 v;
    memcpy(&v, p, 16);
    return v;
}
static inline void lg_put_i128(uint8_t *p, xr_i128 v)
{
    memcpy(p, &v, 16);
}
static inline uint16_t lg_get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline void lg_put_u16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static inline int32_t lg_get_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void lg_put_i32(uint8_t *p, int32_t v)
{
    memcpy(p, &v, 4);
}

static inline int lg_id_cmp(const xr_ledger_id *a, const xr_ledger_id *b)
{
    return memcmp(a->bytes, b->bytes, 16);
}

/* ---- codecs (ledger_codec.c) ------------------------------------------------------- */

void lg_account_encode(const xr_ledger_account *a, uint8_t out[LG_ACCOUNT_SIZE]);
/* XR_OK or XR_ERR_CORRUPT (wrong size, counters negative, asset not NUL-terminated). */
xr_err lg_account_decode(uint64_t id, const void *data, size_t len, xr_ledger_account *a);

void lg_op_encode(const lg_op_rec *r, uint8_t out[LG_OP_SIZE]);
/* XR_OK or XR_ERR_CORRUPT (wrong size, unknown kind or status). */
xr_err lg_op_decode(const xr_ledger_id *id, const void *data, size_t len, lg_op_rec *r);

/* XR_OK or XR_ERR_CORRUPT (wrong size). */
xr_err lg_entry_decode(uint64_t seq, const void *data, size_t len, xr_ledger_entry *e);

void lg_expiry_key(int64_t deadline_ns, const xr_ledger_id *id, uint8_t out[LG_EXPIRY_KEY_SIZE]);

/* ---- SHA-256 with the x86 SHA extensions (ledger_sha.c) ---------------------------- */

/* 1 when this CPU has the SHA extensions (and the code was built for x86-64), else 0. */
int lg_sha_ni_available(void);
/* Extends the SHA-256 intermediate value `state_be` (8 big-endian words) over the n 64-byte
 * blocks at base, base + stride, ...; after block i, writes the intermediate value (32 bytes,
 * big-endian) to base + i * stride + out_off. `state_be` comes out as the last value. Only
 * when lg_sha_ni_available(). */
void lg_sha256_chain_ni(uint8_t state_be[32], uint8_t *base, size_t stride, size_t n,
                        size_t out_off);

/* Begins a read transaction (ledger_query.c); a read-only handle adopts a map grown by the
 * writer. */
xr_err lg_read_begin(xr_ledger *lg, MDB_txn **txn);

/* Maps an LMDB return code to xr_err. */
xr_err lg_mdb_err(int rc);

/* ---- the handle --------------------------------------------------------------------- */

typedef struct lg_batch lg_batch; /* the writer's per-batch state (ledger.c) */

struct xr_ledger {
    MDB_env *env;
    MDB_dbi db_meta, db_accounts, db_ops, db_entries, db_expiry;
    MDB_dbi db_aux;
    int has_aux; /* 0: a read-only view of a ledger written before the aux database existed */
    int read_only;
    xr_ledger_durability durability;
    uint32_t max_batch_ops;
    uint32_t max_expire_per_batch;
    xr_asset_registry assets;
    int64_t (*clock_ns)(void *ctx);
    void *clock_ctx;
    int (*sync_hook)(void *ctx, int data_fd);
    void *sync_ctx;

    /* Committed state, owned by the writer; changed only after a durable commit. */
    int poisoned;            /* a commit's sync failed: durability unknown, refuse writes */
    uint64_t entry_count;    /* seq of the last entry */
    br_sha256_context chain; /* after absorbing every committed entry block */
    xr_ledger_id max_op_id;  /* largest key in the ops table (all-zero when empty) */
    int64_t last_ts;

    lg_batch *batch; /* NULL when read-only */
};

#endif /* XR_CORE_LEDGER_LEDGER_INTERNAL_H */
