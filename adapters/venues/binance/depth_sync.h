/*
 * adapters/venues/binance/depth_sync.h - Binance's "manage a local order book correctly"
 * procedure as an I/O-free state machine driving one xr_book.
 *
 * The procedure (web-socket-streams.md, fixtures/venues/binance/ws/depth_sync_procedure_docs.txt):
 *   1. open the diff-depth stream and buffer its events; note U of the first one;
 *   2. take a REST depth snapshot; if its lastUpdateId < that U, take another;
 *   3. drop buffered events with u <= lastUpdateId; the first one left must straddle it;
 *   4. set the book to the snapshot, then apply the buffered events and every later one,
 *      each continuing the previous (U == previous u + 1); a gap restarts from step 1.
 *
 * The caller feeds stream events (decoded XR_EV_BOOK_DELTA parts) and snapshot parts, and
 * acts on what each call returns: XR_BINANCE_SYNC_FETCH_SNAPSHOT means "GET /api/v3/depth
 * now and feed the answer to on_snapshot" (with the caller's own rate limits and backoff);
 * XR_BINANCE_SYNC_LIVE means the book has just become usable. The machine never does I/O
 * and never reads a clock; now_ns is passed through to the book.
 *
 * A gap, a crossed book after an update, an invalid event or snapshot, a buffer overflow or
 * a malformed stream message (on_stream_error) all restart the procedure: the book is reset
 * (and refuses reads) until a new snapshot has been applied. While the stream is known to be
 * running a restart requests the snapshot at once, with the buffer possibly still empty:
 * that is safe because the first event after the snapshot must straddle its lastUpdateId
 * (the book's gap rule), so a snapshot taken too early shows up as a gap, never as a wrong
 * book. Any snapshot that arrives while BUFFERING is judged the same way, whichever request
 * it answers.
 *
 * Memory: the event buffer holds `buffer_events` book events (about 2 KiB each) in memory the
 * caller provides (footprint/init); nothing allocates.
 * Threading: single-threaded, like the book it drives.
 * Errors: init returns XR_OK or XR_ERR_INVALID_ARGUMENT.
 */
#ifndef XR_VENUES_BINANCE_DEPTH_SYNC_H
#define XR_VENUES_BINANCE_DEPTH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/market/book.h"
#include "core/market/event.h"
#include "xroute/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xr_binance_sync_state {
    XR_BINANCE_SYNC_IDLE = 0,      /* connected, waiting for the first stream event */
    XR_BINANCE_SYNC_BUFFERING = 1, /* snapshot requested; stream events are buffered */
    XR_BINANCE_SYNC_SYNCED = 2     /* the book is live; events apply directly */
} xr_binance_sync_state;

typedef enum xr_binance_sync_action {
    XR_BINANCE_SYNC_NONE = 0,           /* nothing to do */
    XR_BINANCE_SYNC_FETCH_SNAPSHOT = 1, /* request a REST depth snapshot now */
    XR_BINANCE_SYNC_LIVE = 2            /* the book has just been synced */
} xr_binance_sync_action;

typedef struct xr_binance_sync_stats {
    uint64_t resyncs;             /* restarts after a gap, cross, invalid event or error */
    uint64_t gaps;                /* sequence gaps found */
    uint64_t snapshots_requested; /* FETCH_SNAPSHOT actions returned */
    uint64_t snapshots_too_old;   /* snapshots older than the first buffered event */
    uint64_t buffered_dropped;    /* buffered events already contained in the snapshot */
    uint64_t overflows;           /* the buffer filled before a snapshot arrived */
} xr_binance_sync_stats;

typedef struct xr_binance_depth_sync {
    xr_book *book;
    xr_ev_book *buf; /* ring of buffered delta parts */
    uint32_t cap, head, count;
    uint8_t state;          /* xr_binance_sync_state */
    bool fetch_outstanding; /* a snapshot was requested and has not arrived */
    bool snap_skip;         /* the snapshot being received is too old: ignore its parts */
    bool snap_loading;      /* snapshot parts are being passed to the book */
    uint64_t first_u;       /* U of the first buffered event */
    xr_binance_sync_stats stats;
} xr_binance_depth_sync;

/* Bytes of memory a machine buffering `buffer_events` events needs; 0 when it is 0. */
size_t xr_binance_depth_sync_footprint(uint32_t buffer_events);

/* Starts IDLE over `mem` (16-byte aligned, at least the footprint), driving `book` (which it
 * resets). XR_OK or XR_ERR_INVALID_ARGUMENT. */
xr_err xr_binance_depth_sync_init(xr_binance_depth_sync *s, void *mem, size_t len,
                                  uint32_t buffer_events, xr_book *book);

/* After a (re)connect of the stream: back to IDLE, buffer and book emptied. */
void xr_binance_depth_sync_reset(xr_binance_depth_sync *s);

/* One delta part from the stream. */
xr_binance_sync_action xr_binance_depth_sync_on_delta(xr_binance_depth_sync *s,
                                                      const xr_ev_book *ev, uint64_t now_ns);

/* One part of the REST snapshot requested last (XR_EV_BOOK_SNAPSHOT parts in order). */
xr_binance_sync_action xr_binance_depth_sync_on_snapshot(xr_binance_depth_sync *s,
                                                         const xr_ev_book *part, uint64_t now_ns);

/* The snapshot request failed (HTTP error, timeout): returns FETCH_SNAPSHOT again while
 * buffering; the caller spaces the retries by its rate limiter. */
xr_binance_sync_action xr_binance_depth_sync_on_snapshot_failed(xr_binance_depth_sync *s);

/* A stream message could not be decoded: it may have held an update, so restart (returns
 * FETCH_SNAPSHOT unless one is already outstanding). */
xr_binance_sync_action xr_binance_depth_sync_on_stream_error(xr_binance_depth_sync *s);

xr_binance_sync_state xr_binance_depth_sync_state(const xr_binance_depth_sync *s);
const xr_binance_sync_stats *xr_binance_depth_sync_stats(const xr_binance_depth_sync *s);

#ifdef __cplusplus
}
#endif

#endif /* XR_VENUES_BINANCE_DEPTH_SYNC_H */
