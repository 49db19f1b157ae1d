/*
 * core/engine/market_data.h - the engine's trade-derived market data: the last trade and
 * the candles of every configured pair, built from the venues' public trades (their @trade
 * streams, XR_ENG_M_MD_TRADE), and the TICKER, OHLC and PAIRS answers built from them and
 * from the pricing stage's books and instruments.
 *
 * Candles. One ring of candles per pair and interval (60, 300, 900, 3600, 14400, 86400 s),
 * indexed by open time / interval: 1440 one-minute candles (24 h, the ticker's volume
 * window) and XR_ENG_MDATA_KEPT of every longer interval. A trade lands in the candle of its
 * venue trade time in every interval; a trade older than what a ring keeps is not counted
 * there. Open and close are the prices of the earliest and the latest trade by venue time
 * (on equal times the open keeps the first received, the close takes the last received), so
 * two venues' streams interleaving late still give the same candle. Trades of all the pair's venues
 * are merged (consolidated candles); a venue's trade id at or below the last one seen from that
 * venue and pair is a duplicate (reconnect) and is dropped. Only intervals with trades have candles
 * (no filler candles).
 *
 * Threading: owned by the pricing stage's thread. Ownership: memory is allocated by create
 * and freed by destroy; nothing is allocated afterwards.
 * Errors: create XR_ERR_NO_MEMORY; ohlc XR_ERR_INVALID_ARGUMENT (interval not one of the six,
 * from_ns > to_ns, negative times).
 */
#ifndef XR_ENGINE_MARKET_DATA_H
#define XR_ENGINE_MARKET_DATA_H

#include "core/engine/engine_internal.h"

#define XR_ENG_MDATA_MINUTES 1440u /* one-minute candles kept: the 24 h ticker window */
#define XR_ENG_MDATA_KEPT    512u  /* candles kept of every longer interval */

typedef struct xr_eng_mdata xr_eng_mdata;

xr_err xr_eng_mdata_create(const xr_eng_shared *sh, xr_eng_mdata **out);
void xr_eng_mdata_destroy(xr_eng_mdata *md);

/* Counts one trade (dropped when its pair or venue is out of range, its quantity or price
 * is not positive, or it is a duplicate). Returns true when it was counted. */
bool xr_eng_mdata_trade(xr_eng_mdata *md, const xr_eng_md_trade *t);

/* Fills last, last_ns, volume_24h and trades_24h of `out` for `pair` as of `now_wall_ns`. */
void xr_eng_mdata_ticker(const xr_eng_mdata *md, uint32_t pair, int64_t now_wall_ns,
                         xr_engine_ticker_ev *out);

/* Fills n, items, interval_s and next_from_ns of `out`: the candles of `pair` at
 * `interval_s` whose open time is in [from_ns, to_ns) (to_ns 0: up to now). XR_OK or
 * XR_ERR_INVALID_ARGUMENT. */
xr_err xr_eng_mdata_ohlc(const xr_eng_mdata *md, uint32_t pair, uint32_t interval_s,
                         int64_t from_ns, int64_t to_ns, int64_t now_wall_ns,
                         xr_engine_ohlc_ev *out);

/* Fills one PAIRS entry for `pair` from the venues' instruments: inst[v] is venue v's rules
 * for the pair, or NULL when unknown (inst has cfg.nvenues entries). */
void xr_eng_mdata_pair_info(const xr_eng_shared *sh, uint32_t pair,
                            const xr_instrument *const *inst, xr_engine_pair_info *out);

#endif /* XR_ENGINE_MARKET_DATA_H */
