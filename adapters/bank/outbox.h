/*
 * adapters/bank/outbox.h - the durable, sequenced store of every engine->bank response.
 *
 * Each response is given the bank's next seq (from 1, no gaps, across sessions and
 * restarts), encoded into its frame, and stored in an LMDB environment of its own before
 * any byte of it is sent (docs/protocol.md §5.3). Staging is in memory; one commit writes
 * every staged frame in one write transaction with one fsync (group commit: the server
 * commits once per loop iteration, so a burst costs one fsync). Replay reads the stored
 * frames back by (bank, seq): the same bytes as first sent.
 *
 * Key: bank id (u32 big-endian) then seq (u64 big-endian), so one bank's frames are
 * contiguous and in seq order. Value: the frame, then 8 bytes: the wall clock (ns, i64
 * little-endian) when it was staged (values of earlier versions have no trailer and count as
 * stored at time 0). Retention (docs/protocol.md §5.3): xr_bank_outbox_compact deletes a
 * bank's oldest frames, acknowledged and older than a time, in bounded batches; the lowest
 * seq still stored is the bank's horizon (xr_bank_outbox_first_seq). A second key space
 * (keys starting 0xFF, after every frame key) holds the resting-order table below.
 *
 * Threading: one thread. Ownership: the outbox owns its environment and staging buffer
 *   (allocated by open). Frames returned by xr_bank_outbox_get point into LMDB's map and
 *   are valid until xr_bank_outbox_read_end.
 * Errors: XR_ERR_INVALID_ARGUMENT, XR_ERR_IO (mkdir, LMDB open/commit/sync), XR_ERR_CORRUPT
 *   (a stored key or frame fails its check), XR_ERR_STORAGE_FULL (map full),
 *   XR_ERR_NO_MEMORY (allocation; staging buffer full: commit first), XR_ERR_NOT_FOUND.
 */
#ifndef XR_ADAPTERS_BANK_OUTBOX_H
#define XR_ADAPTERS_BANK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "xroute/engine.h"
#include "xroute/err.h"

typedef struct xr_bank_outbox xr_bank_outbox;

/* Opens (creating `dir`) the outbox for the banks `bank_ids` and reads each one's last
 * stored seq. Staging holds up to `stage_frames` frames between commits. */
xr_err xr_bank_outbox_open(const char *dir, uint64_t map_bytes, const uint32_t *bank_ids,
                           uint32_t nbanks, uint32_t stage_frames, xr_bank_outbox **out);

/* Discards anything staged, closes and frees. NULL is a no-op. */
void xr_bank_outbox_close(xr_bank_outbox *ob);

/* The seq the bank's next staged frame gets; 0 for a bank not opened. */
uint64_t xr_bank_outbox_next_seq(const xr_bank_outbox *ob, uint32_t bank_id);

/* One past the bank's last durable (committed) seq: frames below it may be sent. */
uint64_t xr_bank_outbox_durable_next(const xr_bank_outbox *ob, uint32_t bank_id);

/* Encodes `ev` as the response frame with the bank's next seq and stages it; `*seq` (may be
 * NULL) receives it. An event the wire cannot carry (a kind version 1 has no layout for) is
 * staged as an EV_REJECT with XR_ERR_INTERNAL instead, so the request is still answered.
 * XR_ERR_NOT_FOUND: ev->bank_id has no outbox (nothing staged); XR_ERR_NO_MEMORY: staging is
 * full (commit, then stage again). */
xr_err xr_bank_outbox_stage(xr_bank_outbox *ob, const xr_engine_event *ev, uint64_t *seq);

/* As xr_bank_outbox_stage, with the per-order option of an EV_EXEC_REPORT (codec.h,
 * docs/protocol.md §5.7): with XR_BANK_ORDER_ACK_REQUIRED in order_flags the stored frame
 * carries the flag and ack_deadline_ms (0: the server's default). Ignored for other kinds. */
xr_err xr_bank_outbox_stage_ex(xr_bank_outbox *ob, const xr_engine_event *ev, uint8_t order_flags,
                               uint16_t ack_deadline_ms, uint64_t *seq);

/* The bank's lowest stored seq: the retention horizon (= durable_next when nothing is
 * stored, 1 for a bank that never got a frame); 0 for a bank not opened. */
uint64_t xr_bank_outbox_first_seq(const xr_bank_outbox *ob, uint32_t bank_id);

/* Deletes, in one write transaction (one fsync), up to max_delete of the bank's lowest
 * stored frames that have seq <= upto_seq (capped at the last durable one) and were staged
 * before stored_before_ns (wall clock); stops at the first frame that is not both. `*deleted`
 * receives the count. XR_OK (also with nothing to delete), XR_ERR_INVALID_ARGUMENT,
 * XR_ERR_NOT_FOUND (bank not opened), XR_ERR_INVALID_STATE (a read snapshot is open),
 * XR_ERR_CORRUPT, XR_ERR_IO. Staged frames are untouched (they commit later). */
xr_err xr_bank_outbox_compact(xr_bank_outbox *ob, uint32_t bank_id, uint64_t upto_seq,
                              int64_t stored_before_ns, uint32_t max_delete, uint32_t *deleted);

/* The server's table of orders that may rest (cancel-on-disconnect, docs/protocol.md §5.6),
 * kept in the same environment so that it survives a restart: a change is staged here and
 * written by the next commit, in the same transaction as the frames staged with it. present
 * 1: (bank, key) rests, with its customer and NEW_ORDER correlation id (put; an existing
 * entry is replaced); 0: it no longer rests (deleted; absent is fine). XR_ERR_NO_MEMORY:
 * staging is full (commit first); XR_ERR_INVALID_ARGUMENT. */
xr_err xr_bank_outbox_stage_resting(xr_bank_outbox *ob, uint32_t bank_id, const xr_engine_key *key,
                                    uint64_t customer_id, uint64_t correlation_id, int present);

typedef void (*xr_bank_outbox_resting_fn)(void *ctx, uint32_t bank_id, const xr_engine_key *key,
                                          uint64_t customer_id, uint64_t correlation_id);

/* Calls fn for every stored resting order (committed state), in key order. XR_OK,
 * XR_ERR_INVALID_ARGUMENT, XR_ERR_INVALID_STATE (a read snapshot is open), XR_ERR_CORRUPT,
 * XR_ERR_IO. */
xr_err xr_bank_outbox_resting_each(xr_bank_outbox *ob, xr_bank_outbox_resting_fn fn, void *ctx);

/* Frames staged and not committed. */
uint32_t xr_bank_outbox_staged(const xr_bank_outbox *ob);

/* Writes every staged frame in one transaction and syncs it. On XR_OK they are durable; on
 * error (IO, STORAGE_FULL) nothing was written, and they stay staged for the next commit.
 * No-op (XR_OK) when nothing is staged. */
xr_err xr_bank_outbox_commit(xr_bank_outbox *ob);

/* Opens a read snapshot for xr_bank_outbox_get (not while a commit runs: call read_end
 * first). XR_OK, XR_ERR_IO. */
xr_err xr_bank_outbox_read_begin(xr_bank_outbox *ob);
void xr_bank_outbox_read_end(xr_bank_outbox *ob);

/* The stored frame (bank, seq): pointer and length, valid until read_end. XR_ERR_NOT_FOUND,
 * XR_ERR_CORRUPT, XR_ERR_INVALID_STATE (no read snapshot). */
xr_err xr_bank_outbox_get(xr_bank_outbox *ob, uint32_t bank_id, uint64_t seq, const uint8_t **frame,
                          size_t *len);

#endif /* XR_ADAPTERS_BANK_OUTBOX_H */
