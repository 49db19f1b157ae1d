/*
 * xrouted: the simulated venues of the embedded default ([daemon] venues = simulated).
 *
 * The simulator (adapters/sim) runs on a thread of its own with its own io_uring loop: it is
 * created on that thread (a single-issuer ring belongs to the thread that first submits) and
 * reports its ports back before the engine connects to them over loopback, exactly as to a
 * remote exchange. Its state (books, balances, orders) lives in memory only: after a restart
 * the venues start over (docs/operations.md, "Simulated venues").
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/sim/sim.h"
#include "core/base/log.h"
#include "tools/xrouted/daemon.h"

struct xrd_sim {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started; /* 1 ok, -1 failed */
    xr_err err;
    char why[256];
    atomic_int stop;
    xr_sim_config *cfg;
    xr_sim *sim;
    uint16_t ports[XR_SIM_VENUES_MAX];
};

/* Pairs the simulator knows: its presets, and USDT/AZN (the brief's "buy USDT for AZN")
 * made here at 1.70 AZN per USDT, the manat's peg. */
static xr_err sim_pair(const char *pair, xr_sim_pair_config *out, char *why, size_t why_cap)
{
    char symbol[32];
    xrd_pair_symbol(pair, symbol, sizeof symbol);
    if (strcmp(symbol, "USDTAZN") == 0)
        return xr_sim_pair_parse("USDTAZN:base=USDT,quote=AZN,mid=1.7,tick=0.0001,step=0.01,"
                                 "min_qty=1,min_notional=1,level_qty=20000,depth=20,gap=2",
                                 out, why, why_cap);
    xr_err rc = xr_sim_pair_preset(symbol, out);
    if (rc != XR_OK)
        snprintf(why, why_cap,
                 "[simulated] pairs: no simulated market for %s (known: BTC/USDT, ETH/USDT, "
                 "ETH/BTC, AZN/USDT, USDC/USDT, USDT/AZN)",
                 pair);
    return rc == XR_OK ? XR_OK : XR_ERR_CONFIG;
}

void xrd_pair_symbol(const char *pair, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pair; *p && n + 1 < cap; p++)
        if (*p != '/')
            out[n++] = *p;
    out[n] = '\0';
}

static void *sim_thread(void *arg)
{
    xrd_sim *s = arg;
    xr_err err = xr_sim_create(s->cfg, NULL, &s->sim, s->why, sizeof s->why);
    pthread_mutex_lock(&s->mu);
    s->err = err;
    if (err == XR_OK)
        for (uint32_t v = 0; v < s->cfg->nvenues; v++)
            s->ports[v] = xr_sim_port(s->sim, v);
    s->started = err == XR_OK ? 1 : -1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (err != XR_OK)
        return NULL;
    while (!atomic_load(&s->stop)) {
        if (xr_sim_poll(s->sim, 20u * 1000 * 1000) != XR_OK) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_ERROR, "xrouted", "sim_failed");
            xr_log_end(&l);
            break;
        }
    }
    xr_sim_destroy(s->sim);
    s->sim = NULL;
    return NULL;
}

xr_err xrd_sim_start(const xr_config *cfg, xrd_sim_venue *venues, xrd_sim **out, char *why,
                     size_t why_cap)
{
    *out = NULL;
    xrd_sim *s = calloc(1, sizeof *s);
    xr_sim_config *sc = calloc(1, sizeof *sc);
    if (s == NULL || sc == NULL) {
        free(s);
        free(sc);
        return XR_ERR_NO_MEMORY;
    }
    s->cfg = sc;
    sc->nvenues = cfg->sim_venues;
    for (uint32_t v = 0; v < sc->nvenues; v++) {
        xr_sim_venue_config *vc = &sc->venues[v];
        xr_sim_venue_config_default(vc, venues[v].name);
        vc->port = 0;
        vc->seed = cfg->sim_seed + v;
        vc->taker_bps = vc->maker_bps = venues[v].taker_fee_bps;
        vc->step_us = cfg->sim_step_ms * 1000;
        /* The engine places many orders in a burst under load; the simulated venues do not
         * throttle it (a real venue's limits are the venue adapter's business). */
        vc->orders_10s = 1000000;
        vc->orders_1d = 100000000;
        vc->weight_limit = 10000000;
        vc->max_sessions = 256;
        vc->npairs = 0;
        for (uint32_t p = 0; p < cfg->sim_npairs; p++) {
            xr_err rc = sim_pair(cfg->sim_pairs[p], &vc->pairs[vc->npairs], why, why_cap);
            if (rc != XR_OK) {
                free(sc);
                free(s);
                return rc;
            }
            vc->npairs++;
        }
        xr_sim_account_config *a = &vc->accounts[0];
        snprintf(a->api_key, sizeof a->api_key, "%s", venues[v].api_key);
        snprintf(a->secret, sizeof a->secret, "%s", venues[v].secret);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sim_thread, s) != 0) {
        free(sc);
        free(s);
        return XR_ERR_IO;
    }
    pthread_mutex_lock(&s->mu);
    while (s->started == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->started < 0) {
        xr_err err = s->err;
        snprintf(why, why_cap, "%s", s->why);
        pthread_join(s->thread, NULL);
        free(sc);
        free(s);
        return err;
    }
    for (uint32_t v = 0; v < sc->nvenues; v++)
        venues[v].port = s->ports[v];
    *out = s;
    return XR_OK;
}

void xrd_sim_stop(xrd_sim *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    /* The configuration holds the venues' credentials. */
    xr_secrets_wipe(s->cfg, sizeof *s->cfg);
    free(s->cfg);
    free(s);
}
