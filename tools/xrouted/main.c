/*
 * xrouted: the xroute daemon. It hosts the engine (include/xroute/engine.h) behind the bank
 * gateway (adapters/bank/server.h), with its secrets in an encrypted store and, on the
 * embedded default, simulated venues in-process. docs/operations.md is the operator's
 * manual; this file is the start-up sequence:
 *
 *   1. configuration (embedded default, --config FILE, --data-dir, --listen): bad -> exit 2
 *   2. the data directory and its single-instance lock (flock on <data_dir>/LOCK): exit 2
 *   3. the master key and the secrets store (wrong key: UNAUTHORIZED, exit 1)
 *   4. bank secrets (a demo bank's is generated on first start) and venue credentials
 *   5. the simulated venues (own thread) or the configured ones
 *   6. the engine (opens the ledger; reconciles orders in flight from before a crash)
 *   7. venue books: wait up to ready_timeout_ms until every pair prices
 *   8. the bank server listening; the demo credentials; the readiness line on stdout
 *   9. serve until SIGTERM/SIGINT; then drain (stop accepting, answer what was received,
 *      flush the outbox), close server, engine (ledger), venues, store; exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef XR_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "core/base/clock.h"
#include "core/base/config.h"
#include "core/base/log.h"
#include "tools/xrouted/daemon.h"

#include "adapters/bank/server.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xrouted [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
            "       xrouted --print-config | --version | --help\n"
            "       xrouted secrets <list|set-bank|set-venue|delete> ... (see --help there)\n"
            "\n"
            "  --config FILE      apply FILE (INI) on top of the embedded defaults\n"
            "  --data-dir DIR     override [daemon] data_dir\n"
            "  --listen HOST:PORT override [daemon] bank_listen (port 0: any free port, shown\n"
            "                     in the readiness line)\n"
            "  --print-config     print the effective configuration and exit\n"
            "  --version          print the version and the allocator, and exit\n"
            "  --help             this text\n"
            "\n"
            "With no arguments xrouted runs on its embedded defaults: data in ./var/xroute, the\n"
            "bank port on 127.0.0.1:7400, simulated venues in-process, a demo bank whose\n"
            "credentials are printed at start-up. Once serving it prints one line\n"
            "'xrouted ready bank=HOST:PORT ...'. SIGTERM or SIGINT drain and stop it (exit 0).\n"
            "See docs/operations.md.\n");
}

/* The allocator linked into this binary: jemalloc in normal builds, the sanitizer's own in
 * sanitized builds. */
static const char *allocator_name(char *buf, size_t cap)
{
#ifdef XR_WITH_JEMALLOC
    const char *version = NULL;
    size_t len = sizeof version;
    if (mallctl("version", &version, &len, NULL, 0) == 0 && version != NULL) {
        snprintf(buf, cap, "jemalloc %s", version);
        return buf;
    }
    return "jemalloc";
#else
    (void)buf;
    (void)cap;
    return "libc (sanitized build)";
#endif
}

int xrd_load_config(int argc, char **argv, xr_config *cfg, const char **config_path)
{
    xr_config_init_default(cfg);
    *config_path = NULL;
    const char *data_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--data-dir") == 0) &&
            (i + 1 >= argc || argv[i + 1] == NULL)) {
            fprintf(stderr, "error: INVALID_ARGUMENT: %s needs a value\n", argv[i]);
            return XRD_EXIT_USAGE;
        }
        if (strcmp(argv[i], "--config") == 0) {
            *config_path = argv[i + 1];
            argv[i] = argv[i + 1] = NULL;
            i++;
        } else if (strcmp(argv[i], "--data-dir") == 0) {
            data_dir = argv[i + 1];
            argv[i] = argv[i + 1] = NULL;
            i++;
        }
    }
    if (*config_path != NULL) {
        xr_config_error err;
        xr_err rc = xr_config_load_file(cfg, *config_path, &err);
        if (rc != XR_OK) {
            char msg[600];
            fprintf(stderr, "error: %s: %s\n", xr_err_name(rc),
                    xr_config_error_format(&err, msg, sizeof msg));
            return XRD_EXIT_USAGE;
        }
    }
    if (data_dir != NULL) {
        if (data_dir[0] == '\0' || strlen(data_dir) >= sizeof cfg->data_dir) {
            fprintf(stderr, "error: INVALID_ARGUMENT: --data-dir must be 1..%zu bytes\n",
                    sizeof cfg->data_dir - 1);
            return XRD_EXIT_USAGE;
        }
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", data_dir);
    }
    return -1;
}

/* The single-instance lock: an flock held for the life of the process (the kernel drops it
 * when the process dies, also on kill -9, so a crash never leaves a stale lock). */
static int take_lock(const char *data_dir)
{
    char path[XR_CONFIG_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/LOCK", data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        xrd_error(XR_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        xrd_error(XR_ERR_INVALID_STATE,
                  "data directory %s is in use by another xrouted (pid %s); one instance per "
                  "data directory",
                  data_dir, pid[0] ? pid : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        xrd_error(XR_ERR_IO, "cannot write %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* A demo bank's credentials, for the CLI: <data_dir>/demo-bank.env (mode 0600). */
static void write_demo_env(const char *data_dir, const char *listen, const xr_config_bank *b,
                           const char *secret_hex)
{
    char path[XR_CONFIG_PATH_MAX + 32], tmp[XR_CONFIG_PATH_MAX + 40];
    snprintf(path, sizeof path, "%s/demo-bank.env", data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return;
    }
    fprintf(f,
            "# xrouted demo bank credentials (demo only; docs/operations.md, \"Demo bank\")\n"
            "XROUTE_CONNECT=%s\nXROUTE_BANK=%u\nXROUTE_KEY_ID=%u\nXROUTE_BANK_SECRET=%s\n",
            listen, b->id, b->key_id, secret_hex);
    int ok = fflush(f) == 0 && fsync(fd) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
}

typedef struct daemon_state {
    xr_config cfg;
    const char *config_path;
    char listen[XR_CONFIG_ADDR_MAX]; /* host:port as given; the port may be 0 */
    char listen_ip[64];
    uint16_t listen_port;
    int lock_fd;
    xr_secrets *secrets;
    xrd_sim *sim;
    xrd_sim_venue sim_venues[XR_CONFIG_SIM_VENUES_MAX];
    xr_engine_config ecfg;
    xr_engine *engine;
    uint32_t npairs; /* distinct pairs over all venues */
    uint8_t bank_secret[XR_CONFIG_BANKS_MAX][XR_SECRETS_VALUE_MAX];
    size_t bank_secret_len[XR_CONFIG_BANKS_MAX];
    xr_bank_server_config scfg;
    xr_bank_server *server;
} daemon_state;

static void log_start(const daemon_state *d)
{
    char alloc[96];
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "start");
    xr_log_str(&l, "version", XR_VERSION);
    xr_log_str(&l, "allocator", allocator_name(alloc, sizeof alloc));
    xr_log_str(&l, "config", d->config_path ? d->config_path : "<defaults>");
    xr_log_str(&l, "data_dir", d->cfg.data_dir);
    xr_log_str(&l, "venues", d->cfg.venues);
    xr_log_u64(&l, "pid", (uint64_t)getpid());
    xr_log_end(&l);
}

/* Copies NUL-terminated `src` into `dst` of `cap` bytes, truncating. (Not snprintf: the
 * daemon's configuration and the engine's live in one struct, and gcc's -Wrestrict then
 * cannot tell the fields apart.) */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

/* Engine configuration from the daemon's: limits, banks, venues with their credentials. */
static int build_engine_config(daemon_state *d)
{
    const xr_config *c = &d->cfg;
    xr_engine_config *e = &d->ecfg;
    xr_engine_config_default(e);
    if (strlen(c->data_dir) >= sizeof e->data_dir) {
        xrd_error(XR_ERR_CONFIG, "data_dir longer than %zu bytes", sizeof e->data_dir - 1);
        return -1;
    }
    copy_str(e->data_dir, sizeof e->data_dir, c->data_dir);
    e->ring_capacity = c->ring_capacity;
    e->customers_max = c->customers_max;
    e->orders_max = c->orders_max;
    e->idempotency_max = c->idempotency_max;
    e->quotes_max = c->quotes_max;
    e->quote_ttl_ns = (uint64_t)c->quote_ttl_ms * 1000000u;
    e->slippage_bps = c->slippage_bps;
    e->ledger_batch_max = c->ledger_batch_max;
    e->book_stale_ns = (uint64_t)c->book_stale_ms * 1000000u;
    e->schedule =
        strcmp(c->schedule, "inline") == 0 ? XR_ENGINE_SCHEDULE_INLINE : XR_ENGINE_SCHEDULE_THREADS;
    e->nbanks = c->nbanks;
    for (uint32_t i = 0; i < c->nbanks; i++) {
        e->banks[i].id = c->banks[i].id;
        e->banks[i].spread_bps = c->banks[i].spread_bps;
    }
    /* Daily notional caps: [bank.ID] daily_notional[.TIER] = ASSET UNITS. */
    _Static_assert(XR_CONFIG_BANKS_MAX * XR_CONFIG_BANK_LIMITS_MAX <= XR_ENGINE_LIMITS_MAX,
                   "every configured cap fits the engine's table");
    _Static_assert(XR_CONFIG_ANY_TIER == XR_ENGINE_ANY_TIER, "one wildcard tier");
    e->nlimits = 0;
    for (uint32_t i = 0; i < c->nbanks; i++)
        for (uint32_t k = 0; k < c->banks[i].nlimits; k++) {
            const xr_config_limit *cl = &c->banks[i].limits[k];
            xr_engine_limit_config *el = &e->limits[e->nlimits++];
            el->bank_id = c->banks[i].id;
            el->tier = cl->tier;
            memcpy(el->asset, cl->asset, sizeof el->asset);
            el->daily_notional = cl->daily;
        }
    if (strcmp(c->venues, "simulated") == 0) {
        e->nvenues = c->sim_venues;
        for (uint32_t v = 0; v < c->sim_venues; v++) {
            const xrd_sim_venue *sv = &d->sim_venues[v];
            xr_engine_venue_config *vc = &e->venues[v];
            copy_str(vc->name, sizeof vc->name, sv->name);
            snprintf(vc->dialect, sizeof vc->dialect, "binance");
            snprintf(vc->ip, sizeof vc->ip, "127.0.0.1");
            vc->port = sv->port;
            copy_str(vc->api_key, sizeof vc->api_key, sv->api_key);
            copy_str(vc->secret, sizeof vc->secret, sv->secret);
            vc->taker_fee_bps = sv->taker_fee_bps;
            vc->npairs = c->sim_npairs;
            for (uint32_t p = 0; p < c->sim_npairs; p++)
                copy_str(vc->pairs[p], sizeof vc->pairs[p], c->sim_pairs[p]);
        }
        return 0;
    }
    if (c->nvenues == 0) {
        xrd_error(XR_ERR_CONFIG, "[daemon] venues = configured but no [venue.NAME] section");
        return -1;
    }
    e->nvenues = c->nvenues;
    for (uint32_t v = 0; v < c->nvenues; v++) {
        const xr_config_venue *cv = &c->venue[v];
        xr_engine_venue_config *vc = &e->venues[v];
        copy_str(vc->name, sizeof vc->name, cv->name);
        copy_str(vc->dialect, sizeof vc->dialect, cv->dialect);
        if (xr_config_parse_hostport(cv->address, vc->ip, sizeof vc->ip, &vc->port) != XR_OK) {
            xrd_error(XR_ERR_CONFIG, "venue.%s.address: not a numeric host:port", cv->name);
            return -1;
        }
        vc->ws_port = cv->ws_port;
        copy_str(vc->host, sizeof vc->host, cv->host);
        vc->taker_fee_bps = (uint16_t)cv->taker_fee_bps;
        copy_str(vc->depth_stream, sizeof vc->depth_stream, cv->depth_stream);
        if (xrd_venue_credentials(d->secrets, cv->name, 0, vc->api_key, sizeof vc->api_key,
                                  vc->secret, sizeof vc->secret) != XR_OK)
            return -1;
        vc->npairs = cv->npairs;
        for (uint32_t p = 0; p < cv->npairs; p++)
            copy_str(vc->pairs[p], sizeof vc->pairs[p], cv->pairs[p]);
    }
    return 0;
}

/* Start-up step 7: every configured pair answers BOOK (the venues are connected and their
 * depth is synced), or ready_timeout_ms passed. Returns the number of pairs still without a
 * book. Only called before the server hosts the engine (the engine is ours to poll). */
static uint32_t wait_for_books(daemon_state *d)
{
    const xr_engine_config *e = &d->ecfg;
    char pairs[XR_ENGINE_VENUES_MAX * XR_ENGINE_VENUE_PAIRS_MAX][XR_ENGINE_PAIR_NAME_MAX];
    uint8_t ok[XR_ENGINE_VENUES_MAX * XR_ENGINE_VENUE_PAIRS_MAX] = {0};
    uint32_t np = 0;
    for (uint32_t v = 0; v < e->nvenues; v++)
        for (uint32_t p = 0; p < e->venues[v].npairs; p++) {
            uint32_t i;
            for (i = 0; i < np && strcmp(pairs[i], e->venues[v].pairs[p]) != 0; i++)
                ;
            if (i == np)
                snprintf(pairs[np++], sizeof pairs[0], "%s", e->venues[v].pairs[p]);
        }
    d->npairs = np;
    uint32_t missing = np;
    uint64_t end = xr_clock_mono_ns() + (uint64_t)d->cfg.ready_timeout_ms * 1000000u;
    uint64_t corr = 0;
    /* Venues connect in parallel, so once one pair prices the others follow within moments;
     * a pair still without a book 2 s later is refused (its venue's rules do not fit the
     * ledger, logged by the engine as venue_pair_refused) or its venues are down: start
     * serving, the pair becomes usable when its book arrives. */
    int any_ready = 0;
    /* Every BOOK submitted here is answered before the gateway takes the engine over: a
     * late answer would otherwise reach the bank's outbox as a response nobody asked for. */
    uint32_t outstanding = 0;
    while (missing > 0 && !stop_signal && xr_clock_mono_ns() < end) {
        for (uint32_t i = 0; i < np; i++) {
            if (ok[i])
                continue;
            xr_engine_cmd c = {.kind = XR_ENGINE_CMD_BOOK, .bank_id = e->banks[0].id};
            c.correlation_id = ((uint64_t)i << 32) | ++corr;
            snprintf(c.u.market.pair, sizeof c.u.market.pair, "%s", pairs[i]);
            c.u.market.depth = 1;
            if (xr_engine_submit(d->engine, &c) != XR_OK)
                break;
            outstanding++;
        }
        /* Each answer arrives within a few polls; collect them for up to 100 ms. */
        uint64_t round_end = xr_clock_mono_ns() + 100u * 1000000u;
        while (xr_clock_mono_ns() < round_end) {
            xr_engine_event ev[16];
            size_t n = 0;
            if (xr_engine_poll(d->engine, ev, 16, &n) != XR_OK)
                return missing;
            outstanding -= (uint32_t)n; /* only our BOOK commands are in the engine */
            for (size_t k = 0; k < n; k++) {
                uint32_t i = (uint32_t)(ev[k].correlation_id >> 32);
                if (i < np && ev[k].kind == XR_ENGINE_EV_BOOK && ev[k].u.book.n_bids > 0 &&
                    ev[k].u.book.n_asks > 0 && !ok[i]) {
                    ok[i] = 1;
                    missing--;
                    xr_log_line l;
                    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "book_ready");
                    xr_log_str(&l, "pair", pairs[i]);
                    xr_log_end(&l);
                    if (!any_ready) {
                        any_ready = 1;
                        uint64_t soon = xr_clock_mono_ns() + 2000u * 1000000u;
                        end = soon < end ? soon : end;
                    }
                } else if (i < np && ev[k].kind == XR_ENGINE_EV_REJECT) {
                    xr_log_line l;
                    xr_log_begin(&l, XR_LOG_DEBUG, "xrouted", "book_wait");
                    xr_log_str(&l, "pair", pairs[i]);
                    xr_log_err(&l, ev[k].u.reject.err);
                    xr_log_end(&l);
                }
            }
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t drain_end = xr_clock_mono_ns() + 5000u * 1000000u;
    while (outstanding > 0 && xr_clock_mono_ns() < drain_end) {
        xr_engine_event ev[16];
        size_t n = 0;
        if (xr_engine_poll(d->engine, ev, 16, &n) != XR_OK)
            break;
        outstanding -= (uint32_t)n;
        if (n == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    for (uint32_t i = 0; i < np; i++) {
        if (ok[i])
            continue;
        xr_log_line l;
        xr_log_begin(&l, XR_LOG_WARN, "xrouted", "book_not_ready");
        xr_log_str(&l, "pair", pairs[i]);
        xr_log_end(&l);
    }
    return missing;
}

static void shutdown_all(daemon_state *d)
{
    xr_bank_server_close(d->server);
    d->server = NULL;
    xr_secrets_wipe(&d->scfg, sizeof d->scfg);
    xr_engine_close(d->engine);
    d->engine = NULL;
    xrd_sim_stop(d->sim);
    d->sim = NULL;
    xr_secrets_close(d->secrets);
    d->secrets = NULL;
    xr_secrets_wipe(d->bank_secret, sizeof d->bank_secret);
    xr_secrets_wipe(&d->ecfg, sizeof d->ecfg);
    xr_secrets_wipe(d->sim_venues, sizeof d->sim_venues);
    if (d->lock_fd >= 0)
        close(d->lock_fd); /* releases the flock */
    d->lock_fd = -1;
}

static int run(daemon_state *d)
{
    xr_config *c = &d->cfg;
    xr_log_set_level(c->log_level);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (c->nbanks == 0) {
        xrd_error(XR_ERR_CONFIG, "no bank configured: add a [bank.ID] section");
        return XRD_EXIT_USAGE;
    }
    /* Files named by the configuration are checked before anything is created, so a bad
     * configuration changes nothing (their content is checked by the gateway at step 8). */
    const char *files[2][2] = {{"daemon.tls_cert", c->tls_cert}, {"daemon.tls_key", c->tls_key}};
    for (int i = 0; i < 2; i++) {
        if (files[i][1][0] == '\0')
            continue;
        FILE *f = fopen(files[i][1], "r");
        if (f == NULL) {
            xrd_error(XR_ERR_CONFIG, "%s: cannot read %s: %s", files[i][0], files[i][1],
                      strerror(errno));
            return XRD_EXIT_USAGE;
        }
        fclose(f);
    }
    if (c->tls_key[0] != '\0' && c->tls_cert[0] == '\0') {
        xrd_error(XR_ERR_CONFIG, "daemon.tls_key is set but daemon.tls_cert is not");
        return XRD_EXIT_USAGE;
    }
    if (xrd_make_dirs(c->data_dir) != 0) {
        xrd_error(XR_ERR_IO, "cannot create the data directory %s: %s", c->data_dir,
                  strerror(errno));
        return XRD_EXIT_RUNTIME;
    }
    if ((d->lock_fd = take_lock(c->data_dir)) < 0)
        return XRD_EXIT_USAGE;
    log_start(d);

    int code = XRD_EXIT_RUNTIME;
    if (xrd_open_secrets(c, &d->secrets) != XR_OK) {
        shutdown_all(d);
        return code;
    }
    /* Bank secrets first: they are what a bank logs on with. */
    char demo_hex[XR_CONFIG_BANKS_MAX][2 * XR_SECRETS_VALUE_MAX + 1];
    memset(demo_hex, 0, sizeof demo_hex);
    for (uint32_t i = 0; i < c->nbanks; i++) {
        int created = 0;
        if (xrd_bank_secret(d->secrets, &c->banks[i], d->bank_secret[i], sizeof d->bank_secret[i],
                            &d->bank_secret_len[i], &created) != XR_OK) {
            shutdown_all(d);
            return code;
        }
        if (c->banks[i].demo)
            xrd_hex(d->bank_secret[i], d->bank_secret_len[i], demo_hex[i]);
        if (created) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_WARN, "xrouted", "demo_bank_created");
            xr_log_u64(&l, "bank", c->banks[i].id);
            xr_log_u64(&l, "key_id", c->banks[i].key_id);
            xr_log_secret(&l, "secret", demo_hex[i]);
            xr_log_end(&l);
        }
    }

    /* Venues. */
    if (strcmp(c->venues, "simulated") == 0) {
        static const uint16_t fees[XR_CONFIG_SIM_VENUES_MAX] = {10, 20, 15, 25};
        for (uint32_t v = 0; v < c->sim_venues; v++) {
            xrd_sim_venue *sv = &d->sim_venues[v];
            snprintf(sv->name, sizeof sv->name, "sim-%c", 'a' + (int)v);
            sv->taker_fee_bps = fees[v];
            if (xrd_venue_credentials(d->secrets, sv->name, 1, sv->api_key, sizeof sv->api_key,
                                      sv->secret, sizeof sv->secret) != XR_OK) {
                shutdown_all(d);
                return code;
            }
        }
        char why[256] = "";
        xr_err rc = xrd_sim_start(c, d->sim_venues, &d->sim, why, sizeof why);
        if (rc != XR_OK) {
            xrd_error(rc, "simulated venues: %s", why);
            shutdown_all(d);
            return rc == XR_ERR_CONFIG ? XRD_EXIT_USAGE : code;
        }
        for (uint32_t v = 0; v < c->sim_venues; v++) {
            xr_log_line l;
            xr_log_begin(&l, XR_LOG_INFO, "xrouted", "sim_venue");
            xr_log_str(&l, "name", d->sim_venues[v].name);
            xr_log_u64(&l, "port", d->sim_venues[v].port);
            xr_log_end(&l);
        }
    }
    if (build_engine_config(d) != 0) {
        shutdown_all(d);
        return XRD_EXIT_USAGE;
    }

    /* The engine: opens the ledger and reconciles what a crash left in flight. */
    xr_err rc = xr_engine_open(&d->ecfg, &d->engine);
    if (rc != XR_OK) {
        xrd_error(rc, "the engine could not open (ledger in %s/ledger)", c->data_dir);
        shutdown_all(d);
        return rc == XR_ERR_CONFIG || rc == XR_ERR_INVALID_ARGUMENT ? XRD_EXIT_USAGE : code;
    }
    uint32_t missing = wait_for_books(d);
    if (stop_signal) {
        shutdown_all(d);
        return XRD_EXIT_OK;
    }

    uint16_t port = d->listen_port;
    xr_bank_server_config *s = &d->scfg;
    xr_bank_server_config_default(s);
    snprintf(s->listen_ip, sizeof s->listen_ip, "%s", d->listen_ip);
    s->listen_port = d->listen_port;
    snprintf(s->tls_cert_path, sizeof s->tls_cert_path, "%s", c->tls_cert);
    snprintf(s->tls_key_path, sizeof s->tls_key_path, "%s",
             c->tls_key[0] ? c->tls_key : c->tls_cert);
    if (snprintf(s->outbox_dir, sizeof s->outbox_dir, "%s/outbox", c->data_dir) >=
        (int)sizeof s->outbox_dir) {
        xrd_error(XR_ERR_CONFIG, "data_dir too long for %s/outbox", c->data_dir);
        shutdown_all(d);
        return XRD_EXIT_USAGE;
    }
    s->nkeys = c->nbanks;
    for (uint32_t i = 0; i < c->nbanks; i++) {
        if (d->bank_secret_len[i] > XR_BANK_SECRET_MAX) {
            xrd_error(XR_ERR_CONFIG, "bank %u: secret longer than %d bytes", c->banks[i].id,
                      XR_BANK_SECRET_MAX);
            shutdown_all(d);
            return XRD_EXIT_USAGE;
        }
        s->keys[i].bank_id = c->banks[i].id;
        s->keys[i].key_id = c->banks[i].key_id;
        memcpy(s->keys[i].secret, d->bank_secret[i], d->bank_secret_len[i]);
        s->keys[i].secret_len = (uint32_t)d->bank_secret_len[i];
        s->keys[i].active = 1;
    }
    rc = xr_bank_server_open(s, d->engine, &d->server);
    if (rc != XR_OK) {
        xrd_error(rc, "the bank server could not start on %s (address in use? TLS files?)",
                  d->listen);
        shutdown_all(d);
        return rc == XR_ERR_CONFIG || rc == XR_ERR_INVALID_ARGUMENT ? XRD_EXIT_USAGE : code;
    }
    port = xr_bank_server_port(d->server);
    char listen_shown[XR_CONFIG_ADDR_MAX + 8];
    if (strchr(d->listen_ip, ':') != NULL)
        snprintf(listen_shown, sizeof listen_shown, "[%s]:%u", d->listen_ip, (unsigned)port);
    else
        snprintf(listen_shown, sizeof listen_shown, "%s:%u", d->listen_ip, (unsigned)port);

    /* Demo credentials: stdout only, never the log (the log scrubs them anyway). */
    for (uint32_t i = 0; i < c->nbanks; i++) {
        if (!c->banks[i].demo)
            continue;
        printf("demo bank: bank=%u key_id=%u secret=%s (demo only; also in %s/demo-bank.env)\n",
               c->banks[i].id, c->banks[i].key_id, demo_hex[i], c->data_dir);
        write_demo_env(c->data_dir, listen_shown, &c->banks[i], demo_hex[i]);
    }
    xr_secrets_wipe(demo_hex, sizeof demo_hex);
    printf("xrouted ready bank=%s tls=%s data=%s venues=", listen_shown,
           c->tls_cert[0] ? "on" : "off", c->data_dir);
    for (uint32_t v = 0; v < d->ecfg.nvenues; v++)
        printf("%s%s", v ? "," : "", d->ecfg.venues[v].name);
    printf(" books=%u/%u pid=%ld\n", d->npairs - missing, d->npairs, (long)getpid());
    fflush(stdout);
    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "ready");
    xr_log_str(&l, "bank", listen_shown);
    xr_log_u64(&l, "books_pending", missing);
    xr_log_end(&l);

    /* Serve. */
    code = XRD_EXIT_OK;
    while (!stop_signal) {
        rc = xr_bank_server_run_once(d->server, 10u * 1000 * 1000);
        if (rc == XR_ERR_INTERNAL) {
            xrd_error(rc, "the engine failed; stopping");
            code = XRD_EXIT_RUNTIME;
            break;
        }
        if (rc != XR_OK) {
            /* The outbox could not commit: the batch stays queued and is retried. */
            xr_log_begin(&l, XR_LOG_ERROR, "xrouted", "server_iteration");
            xr_log_err(&l, rc);
            xr_log_end(&l);
        }
    }

    /* Stop: no new connections, answer what was received, flush, close in order. */
    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "draining");
    xr_log_str(&l, "signal", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    xr_log_end(&l);
    rc = xr_bank_server_drain(d->server, (uint64_t)c->drain_timeout_ms * 1000000u);
    if (rc != XR_OK) {
        xr_log_begin(&l, XR_LOG_WARN, "xrouted", "drain_incomplete");
        xr_log_err(&l, rc);
        xr_log_end(&l);
    }
    shutdown_all(d);
    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "stopped");
    xr_log_u64(&l, "exit", (uint64_t)code);
    xr_log_end(&l);
    return code;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "secrets") == 0)
        return xrd_secrets_main(argc - 1, argv + 1);
    static daemon_state d;
    d.lock_fd = -1;
    int code = xrd_load_config(argc, argv, &d.cfg, &d.config_path);
    if (code >= 0)
        return code;
    int print_config = 0;
    const char *listen = NULL;
    char alloc[96];
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return XRD_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("xrouted %s allocator=\"%s\"\n", XR_VERSION,
                   allocator_name(alloc, sizeof alloc));
            return XRD_EXIT_OK;
        } else if (strcmp(argv[i], "--print-config") == 0) {
            print_config = 1;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc && argv[i + 1] != NULL) {
            listen = argv[++i];
        } else {
            fprintf(stderr, "error: INVALID_ARGUMENT: unknown or incomplete option '%s'\n",
                    argv[i]);
            usage(stderr);
            return XRD_EXIT_USAGE;
        }
    }
    if (listen != NULL) {
        /* --listen also takes port 0 (ephemeral), which the config file does not. */
        char probe[XR_CONFIG_ADDR_MAX + 8];
        size_t len = strlen(listen);
        int zero = len > 2 && strcmp(listen + len - 2, ":0") == 0;
        snprintf(probe, sizeof probe, "%.*s%s", (int)(zero ? len - 1 : len), listen,
                 zero ? "1" : "");
        uint16_t p;
        if (len >= sizeof d.cfg.bank_listen ||
            xr_config_parse_hostport(probe, d.listen_ip, sizeof d.listen_ip, &p) != XR_OK) {
            fprintf(stderr,
                    "error: INVALID_ARGUMENT: --listen '%s' is not a numeric host:port (e.g. "
                    "127.0.0.1:7400, 127.0.0.1:0)\n",
                    listen);
            return XRD_EXIT_USAGE;
        }
        snprintf(d.cfg.bank_listen, sizeof d.cfg.bank_listen, "%s", listen);
        d.listen_port = zero ? 0 : p;
    } else {
        if (xr_config_parse_hostport(d.cfg.bank_listen, d.listen_ip, sizeof d.listen_ip,
                                     &d.listen_port) != XR_OK) {
            fprintf(stderr, "error: CONFIG: daemon.bank_listen: not a numeric host:port\n");
            return XRD_EXIT_USAGE;
        }
    }
    snprintf(d.listen, sizeof d.listen, "%s", d.cfg.bank_listen);
    if (print_config) {
        static char text[16384];
        if (xr_config_format(&d.cfg, text, sizeof text) == 0)
            return XRD_EXIT_RUNTIME;
        fputs(text, stdout);
        return XRD_EXIT_OK;
    }
    return run(&d);
}
