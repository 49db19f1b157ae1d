/*
 * Binance diff-depth synchronisation (see depth_sync.h for the procedure). The book enforces
 * the per-event rule (ignore u <= id, gap when U > id + 1); this machine adds what needs
 * memory of the stream: the buffer while a snapshot is outstanding, the snapshot's age check
 * against the first buffered U, and the replay.
 */
#include "adapters/venues/binance/depth_sync.h"

#include <string.h>

#include "core/base/assert.h"

size_t xr_binance_depth_sync_footprint(uint32_t buffer_events)
{
    if (buffer_events == 0 || buffer_events > (1u << 20))
        return 0;
    return (size_t)buffer_events * sizeof(xr_ev_book);
}

xr_err xr_binance_depth_sync_init(xr_binance_depth_sync *s, void *mem, size_t len,
                                  uint32_t buffer_events, xr_book *book)
{
    size_t need = xr_binance_depth_sync_footprint(buffer_events);
    if (s == NULL || mem == NULL || book == NULL || need == 0 || len < need ||
        ((uintptr_t)mem & 15) != 0)
        return XR_ERR_INVALID_ARGUMENT;
    memset(s, 0, sizeof *s);
    s->book = book;
    s->buf = mem;
    s->cap = buffer_events;
    xr_binance_depth_sync_reset(s);
    return XR_OK;
}

static void buffer_clear(xr_binance_depth_sync *s)
{
    s->head = 0;
    s->count = 0;
}

void xr_binance_depth_sync_reset(xr_binance_depth_sync *s)
{
    XR_ASSERT(s != NULL);
    buffer_clear(s);
    xr_book_reset(s->book);
    s->state = XR_BINANCE_SYNC_IDLE;
    s->fetch_outstanding = false;
    s->snap_skip = false;
    s->snap_loading = false;
    s->first_u = 0;
}

static xr_binance_sync_action request_snapshot(xr_binance_depth_sync *s)
{
    /* One request at a time (an answer being loaded counts): whichever answer comes next is
     * judged on its own merits. */
    if (s->fetch_outstanding || s->snap_loading)
        return XR_BINANCE_SYNC_NONE;
    s->fetch_outstanding = true;
    s->stats.snapshots_requested++;
    return XR_BINANCE_SYNC_FETCH_SNAPSHOT;
}

/* Drops the book and the buffer, and waits for a snapshot while buffering the stream. */
static xr_binance_sync_action restart(xr_binance_depth_sync *s)
{
    s->stats.resyncs++;
    xr_book_reset(s->book);
    buffer_clear(s);
    s->state = XR_BINANCE_SYNC_BUFFERING;
    s->snap_skip = false;
    s->snap_loading = false;
    return request_snapshot(s);
}

static void buffer_push(xr_binance_depth_sync *s, const xr_ev_book *ev)
{
    XR_ASSERT(s->count < s->cap);
    if (s->count == 0)
        s->first_u = ev->first_id;
    s->buf[(s->head + s->count) % s->cap] = *ev;
    s->count++;
}

xr_binance_sync_action xr_binance_depth_sync_on_delta(xr_binance_depth_sync *s,
                                                      const xr_ev_book *ev, uint64_t now_ns)
{
    XR_ASSERT(s != NULL && ev != NULL);
    bool first_part = (ev->part & XR_EV_BOOK_PART_FIRST) != 0;
    switch ((xr_binance_sync_state)s->state) {
    case XR_BINANCE_SYNC_IDLE:
        if (!first_part)
            return XR_BINANCE_SYNC_NONE; /* the rest of an update whose start was missed */
        s->state = XR_BINANCE_SYNC_BUFFERING;
        buffer_push(s, ev);
        return request_snapshot(s);

    case XR_BINANCE_SYNC_BUFFERING:
        if (s->count == 0 && !first_part)
            return XR_BINANCE_SYNC_NONE;
        if (s->count == s->cap) {
            /* The snapshot is late. The buffer cannot hold the stream until it comes, so
             * start over from this event; an old snapshot will be refused as too old. */
            s->stats.overflows++;
            buffer_clear(s);
            if (!first_part) {
                s->state = XR_BINANCE_SYNC_IDLE;
                return XR_BINANCE_SYNC_NONE;
            }
        }
        buffer_push(s, ev);
        return request_snapshot(s);

    case XR_BINANCE_SYNC_SYNCED: {
        xr_book_outcome outcome = XR_BOOK_APPLIED;
        (void)xr_book_apply_delta(s->book, ev, now_ns, &outcome);
        switch (outcome) {
        case XR_BOOK_APPLIED:
        case XR_BOOK_IGNORED_OLD:
            return XR_BINANCE_SYNC_NONE;
        case XR_BOOK_GAP: {
            /* Events were missed: this one starts the new buffer (step 1 again). */
            s->stats.gaps++;
            xr_binance_sync_action a = restart(s);
            buffer_push(s, ev);
            return a;
        }
        default: /* crossed, invalid or not synced: the book cannot be trusted */
            return restart(s);
        }
    }
    }
    XR_ASSERT(false);
    return XR_BINANCE_SYNC_NONE;
}

xr_binance_sync_action xr_binance_depth_sync_on_snapshot(xr_binance_depth_sync *s,
                                                         const xr_ev_book *part, uint64_t now_ns)
{
    XR_ASSERT(s != NULL && part != NULL);
    if (s->state != XR_BINANCE_SYNC_BUFFERING)
        return XR_BINANCE_SYNC_NONE; /* an answer to a request made before a reset */
    if (part->part & XR_EV_BOOK_PART_FIRST) {
        s->fetch_outstanding = false;
        s->snap_skip = false;
        s->snap_loading = false;
        if (s->count > 0 && part->last_id < s->first_u) {
            /* Older than the first buffered event: the events between are lost to us. */
            s->stats.snapshots_too_old++;
            s->snap_skip = true;
            return request_snapshot(s);
        }
        s->snap_loading = true;
    } else if (s->snap_skip || !s->snap_loading) {
        return XR_BINANCE_SYNC_NONE;
    }

    xr_book_outcome outcome = XR_BOOK_INVALID;
    xr_err err = xr_book_apply_snapshot(s->book, part, now_ns, &outcome);
    if (err != XR_OK) {
        /* An unusable snapshot: the buffered stream is still good, ask for another. */
        s->snap_loading = false;
        return request_snapshot(s);
    }
    if (outcome == XR_BOOK_LOADING_PART)
        return XR_BINANCE_SYNC_NONE;
    s->snap_loading = false;
    if (outcome == XR_BOOK_CROSSED)
        return restart(s);

    /* Replay: the book ignores what the snapshot already holds (u <= lastUpdateId) and
     * checks that the first event left straddles it. */
    while (s->count > 0) {
        const xr_ev_book *ev = &s->buf[s->head];
        xr_book_outcome o = XR_BOOK_INVALID;
        (void)xr_book_apply_delta(s->book, ev, now_ns, &o);
        s->head = (s->head + 1) % s->cap;
        s->count--;
        if (o == XR_BOOK_IGNORED_OLD) {
            if (ev->part & XR_EV_BOOK_PART_LAST)
                s->stats.buffered_dropped++;
            continue;
        }
        if (o == XR_BOOK_APPLIED)
            continue;
        if (o == XR_BOOK_GAP)
            s->stats.gaps++;
        return restart(s);
    }
    s->state = XR_BINANCE_SYNC_SYNCED;
    return XR_BINANCE_SYNC_LIVE;
}

xr_binance_sync_action xr_binance_depth_sync_on_snapshot_failed(xr_binance_depth_sync *s)
{
    XR_ASSERT(s != NULL);
    s->fetch_outstanding = false;
    s->snap_loading = false;
    if (s->state != XR_BINANCE_SYNC_BUFFERING)
        return XR_BINANCE_SYNC_NONE;
    return request_snapshot(s);
}

xr_binance_sync_action xr_binance_depth_sync_on_stream_error(xr_binance_depth_sync *s)
{
    XR_ASSERT(s != NULL);
    if (s->state == XR_BINANCE_SYNC_IDLE)
        return XR_BINANCE_SYNC_NONE; /* nothing built yet, nothing lost */
    return restart(s);
}

xr_binance_sync_state xr_binance_depth_sync_state(const xr_binance_depth_sync *s)
{
    XR_ASSERT(s != NULL);
    return (xr_binance_sync_state)s->state;
}

const xr_binance_sync_stats *xr_binance_depth_sync_stats(const xr_binance_depth_sync *s)
{
    XR_ASSERT(s != NULL);
    return &s->stats;
}
