/*
 * core/engine/venue.h - the engine's venue interface: what a venue driver (implemented in
 * adapters/, which owns sockets) must do for the engine, and the entry point that opens an
 * engine over a driver.
 *
 * core/ never touches a socket and never depends on adapters/: the engine talks to its
 * venues only through three rings per venue, and calls the driver's poll from its schedule.
 *   cmds    router -> venue: XR_ENG_M_CHILD_CMD, one IOC LIMIT child order each. The driver
 *           sends it with the client order id given (derived from the parent's reservation,
 *           so a resend can never fill twice).
 *   events  venue -> router: XR_ENG_M_CHILD_EV. Every execution once (FILL, with the venue's
 *           cumulative quantity so duplicates from two channels are recognised), then FINAL
 *           with the executed quantity once the child is final at the venue, or FAILED when
 *           the venue refused it (nothing executed). An unknown outcome (timeout, disconnect
 *           after send) is resolved by the driver by querying the venue by client order id,
 *           never by guessing; only then does FINAL follow.
 *   md      venue -> pricing: XR_ENG_M_MD_INST once per pair when the venue's rules are
 *           known, then XR_ENG_M_MD_BOOK (top levels) whenever a synced book changes and
 *           XR_ENG_M_MD_DOWN when it stops being usable (unsynced, stale, crossed).
 * Pairs are named by their engine index: the position of the pair's first appearance when
 * cfg->venues[v].pairs[i] is read in order of v, then i.
 * The driver is the producer of `events` and `md` and the consumer of `cmds`; it never
 * blocks (a full ring is retried on the next poll from its own fixed-size records) and never
 * drops a child event: when `events` stays full it may pass several executions of one child
 * as one coalesced FILL (xr_eng_child_ev.coalesced, exact summed quote).
 *
 * Threading: create and destroy are called from the threads calling xr_engine_open and
 * xr_engine_close; poll from the thread that runs the venues stage (the caller of
 * xr_engine_poll in the INLINE schedule, one engine thread in THREADS), never two at once.
 * Ownership: the driver owns its connections; the rings belong to the engine and outlive
 * the driver.
 */
#ifndef XR_ENGINE_VENUE_H
#define XR_ENGINE_VENUE_H

#include <stdbool.h>

#include "core/ring/spsc_ring.h"
#include "xroute/engine.h"
#include "xroute/err.h"
#include "xroute/money.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xr_eng_venue_io {
    xr_spsc_ring *cmds;
    xr_spsc_ring *events;
    xr_spsc_ring *md;
} xr_eng_venue_io;

typedef struct xr_eng_venue_driver {
    /* Creates the connections of cfg->venues[0..nvenues), venue i on io[i]. `assets` is
     * the engine's registry (scales of amounts). XR_OK, XR_ERR_CONFIG, XR_ERR_NO_MEMORY,
     * XR_ERR_IO. */
    xr_err (*create)(const xr_engine_config *cfg, const xr_asset_registry *assets,
                     const xr_eng_venue_io *io, void **out);
    /* One non-blocking pass: takes child orders, runs the network, writes events. XR_OK or
     * XR_ERR_INTERNAL. */
    xr_err (*poll)(void *drv, bool *work);
    void (*destroy)(void *drv);
    /* Optional, both or neither (NULL: the THREADS schedule then sleeps the venues' thread on
     * a futex for at most cfg.io_wait_ns at a time). poll_wait: one pass like poll, except
     * that when nothing is ready it blocks in the network wait for up to `timeout_ns`, until
     * a completion arrives or `wake` is called. wake: makes a poll_wait running in another
     * thread return soon (or the next one, if none runs); any thread may call it. */
    xr_err (*poll_wait)(void *drv, uint64_t timeout_ns, bool *work);
    void (*wake)(void *drv);
} xr_eng_venue_driver;

/* Opens an engine whose venues are run by `drv` (see xr_engine_open in xroute/engine.h,
 * which is this with the Binance-dialect driver of adapters/engine_venues.c). */
xr_err xr_engine_open_with(const xr_engine_config *cfg, const xr_eng_venue_driver *drv,
                           xr_engine **out);

#ifdef __cplusplus
}
#endif

#endif /* XR_ENGINE_VENUE_H */
