/* Configuration: the embedded default, overlays, and that every bad input is refused with the
 * file, line and key, leaving the caller's configuration untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/config.h"

static void test_defaults(void **state)
{
    (void)state;
    xr_config cfg;
    assert_int_equal(xr_config_init_default(&cfg), XR_OK);
    assert_string_equal(cfg.data_dir, "var/xroute");
    assert_string_equal(cfg.bank_listen, "127.0.0.1:7400");
    assert_string_equal(cfg.venues, "simulated");
    assert_int_equal(cfg.log_level, XR_LOG_INFO);
    assert_string_equal(cfg.schedule, "threads");
    /* The built-in assets of the issue, in order. */
    static const struct {
        const char *code;
        unsigned scale;
    } want[] = {{"USD", 2},  {"EUR", 2},   {"AZN", 2}, {"USDT", 6},
                {"USDC", 6}, {"PYUSD", 6}, {"BTC", 8}, {"ETH", 18}};
    assert_int_equal(cfg.assets.count, 8);
    for (unsigned i = 0; i < 8; i++) {
        const xr_asset *a = xr_assets_find(&cfg.assets, want[i].code);
        assert_non_null(a);
        assert_int_equal(a->scale, want[i].scale);
    }
}

static void test_overlay(void **state)
{
    (void)state;
    xr_config cfg;
    xr_config_init_default(&cfg);
    xr_config_error err;
    const char *text = "; operator overrides\n"
                       "[daemon]\n"
                       "data_dir = /srv/xroute   ; inline comment\n"
                       "bank_listen = [::1]:9000\n"
                       "\n"
                       "[log]\n"
                       "level = debug\n"
                       "[engine]\n"
                       "schedule = inline\n"
                       "[assets]\n"
                       "SOL = 9\n"
                       "USD = 2\n";
    assert_int_equal(xr_config_load_string(&cfg, text, "ops.ini", &err), XR_OK);
    assert_string_equal(cfg.data_dir, "/srv/xroute");
    assert_string_equal(cfg.bank_listen, "[::1]:9000");
    assert_string_equal(cfg.venues, "simulated"); /* untouched key keeps its default */
    assert_int_equal(cfg.log_level, XR_LOG_DEBUG);
    assert_string_equal(cfg.schedule, "inline");
    const xr_asset *sol = xr_assets_find(&cfg.assets, "SOL");
    assert_non_null(sol);
    assert_int_equal(sol->scale, 9);
    assert_int_equal(cfg.assets.count, 9);
}

typedef struct bad_case {
    const char *text;
    unsigned line;
    const char *key;
    const char *message_part;
} bad_case;

static void test_bad_inputs_name_file_line_key(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"[daemon]\ndata_dri = x\n", 2, "daemon.data_dri", "unknown key"},
        {"[deamon]\ndata_dir = x\n", 2, "deamon.data_dir", "unknown key"},
        {"[daemon]\nbank_listen = localhost:7400\n", 2, "daemon.bank_listen", "numeric"},
        {"[daemon]\nbank_listen = 127.0.0.1:0\n", 2, "daemon.bank_listen", "numeric"},
        {"[daemon]\nbank_listen = 127.0.0.1:65536\n", 2, "daemon.bank_listen", "numeric"},
        {"[daemon]\nbank_listen = 127.0.0.1\n", 2, "daemon.bank_listen", "numeric"},
        {"[daemon]\nbank_listen = 127.0.0.1:74a0\n", 2, "daemon.bank_listen", "numeric"},
        {"[daemon]\nvenues = binance\n", 2, "daemon.venues", "simulated"},
        {"[daemon]\ndata_dir =\n", 2, "daemon.data_dir", "empty"},
        /* found by fuzz.config: would read back as an empty value and a comment */
        {"[daemon]\ndata_dir =; /srv/x\n", 2, "daemon.data_dir", "comment character"},
        {"[bank.2]\nspread_bps =#10\n", 2, "bank.2.spread_bps", "comment character"},
        {"\n\n[log]\nlevel = loud\n", 4, "log.level", "debug|info"},
        {"[log]\nlevel = info\nlevel = warn\n", 3, "log.level", "twice"},
        {"[daemon]\nthis line has no equals\n", 2, "", "expected"},
        {"[daemon\ndata_dir = x\n", 1, "", "expected"},
        {"[assets]\nUSD = 3\n", 2, "assets.USD", "another scale"},
        {"[assets]\nSOL = nine\n", 2, "assets.SOL", "scale"},
        {"[assets]\nSOL = 39\n", 2, "assets.SOL", "scale"},
        {"[assets]\nSOL = -1\n", 2, "assets.SOL", "scale"},
        {"[assets]\nsol = 9\n", 2, "assets.sol", "A-Z"},
        {"[assets]\nSOL = 9\nSOL = 9\n", 3, "assets.SOL", "twice"},
        /* daemon keys */
        {"[secrets]\nmaster_key = vault\n", 2, "secrets.master_key", "generate|file|env"},
        {"[engine]\nring_capacity = 300\n", 2, "engine.ring_capacity", "power of two"},
        {"[engine]\norders_max = 0\n", 2, "engine.orders_max", "1..1048576"},
        {"[engine]\nslippage_bps = -5\n", 2, "engine.slippage_bps", "0..5000"},
        {"[engine]\nschedule = pinned\n", 2, "engine.schedule", "threads|inline"},
        {"[engine]\nquote_ttl_ms = 5s\n", 2, "engine.quote_ttl_ms", "integer"},
        {"[daemon]\ndrain_timeout_ms = 99999999999999999999999\n", 2, "daemon.drain_timeout_ms",
         "integer"},
        {"[simulated]\nvenues = 5\n", 2, "simulated.venues", "1..4"},
        {"[simulated]\npairs = BTC/USDT, BTCUSDT\n", 2, "simulated.pairs", "BASE/QUOTE"},
        {"[simulated]\npairs = BTC/USDT,BTC/USDT\n", 2, "simulated.pairs", "twice"},
        {"[bank.0]\nspread_bps = 10\n", 2, "bank.0.spread_bps", "ID 1..16777215"},
        {"[bank.x]\nspread_bps = 10\n", 2, "bank.x.spread_bps", "ID 1..16777215"},
        {"[bank.2]\nspread_bps = 10001\n", 2, "bank.2.spread_bps", "0..10000"},
        {"[bank.2]\nkey_id = 0\n", 2, "bank.2.key_id", "1..4294967295"},
        {"[bank.2]\ndemo = maybe\n", 2, "bank.2.demo", "yes or no"},
        {"[bank.2]\nsecret = abc\n", 2, "bank.2.secret", "unknown key"},
        {"[bank.2]\nkey_id = 3\nkey_id = 4\n", 3, "bank.2.key_id", "twice"},
        {"[venue.Binance]\naddress = 127.0.0.1:9443\n", 2, "venue.Binance.address", "NAME"},
        {"[venue.b]\naddress = example.com:443\n", 2, "venue.b.address", "numeric"},
        {"[venue.b]\ndialect = kraken\n", 2, "venue.b.dialect", "binance"},
        {"[venue.b]\ntaker_fee_bps = 1001\n", 2, "venue.b.taker_fee_bps", "0..1000"},
        {"[venue.b]\napi_secret = x\n", 2, "venue.b.api_secret", "unknown key"},
        {"[venue.b]\naddress = 127.0.0.1:9443\n", 0, "venue.b.pairs", "missing"},
        {"[venue.b]\npairs = BTC/USDT\n", 0, "venue.b.address", "missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xr_config cfg, before;
        xr_config_init_default(&cfg);
        before = cfg;
        xr_config_error err;
        xr_err rc = xr_config_load_string(&cfg, cases[i].text, "bad.ini", &err);
        if (rc != XR_ERR_CONFIG || err.line != cases[i].line ||
            strcmp(err.key, cases[i].key) != 0 || strstr(err.message, cases[i].message_part) == 0)
            fail_msg("case %zu: rc=%d line=%u key='%s' message='%s'", i, rc, err.line, err.key,
                     err.message);
        assert_string_equal(err.file, "bad.ini");
        assert_memory_equal(&cfg, &before, sizeof cfg); /* nothing changed */
    }
}

static void test_daemon_defaults_and_sections(void **state)
{
    (void)state;
    xr_config cfg;
    xr_config_init_default(&cfg);
    /* the embedded default: one demo bank, two simulated venues with the brief's pairs */
    assert_string_equal(cfg.master_key, "generate");
    assert_string_equal(cfg.master_key_file, "");
    assert_string_equal(cfg.tls_cert, "");
    assert_int_equal(cfg.nbanks, 1);
    assert_int_equal(cfg.banks[0].id, 1);
    assert_int_equal(cfg.banks[0].spread_bps, 150);
    assert_int_equal(cfg.banks[0].key_id, 1);
    assert_int_equal(cfg.banks[0].demo, 1);
    assert_int_equal(cfg.nvenues, 0);
    assert_int_equal(cfg.sim_venues, 2);
    assert_int_equal(cfg.sim_npairs, 3);
    assert_string_equal(cfg.sim_pairs[0], "BTC/USDT");
    assert_string_equal(cfg.sim_pairs[1], "ETH/USDT");
    assert_string_equal(cfg.sim_pairs[2], "USDT/AZN");
    assert_int_equal(cfg.ring_capacity, 256);
    assert_int_equal(cfg.orders_max, 1024);
    assert_int_equal(cfg.idempotency_max, 65536);
    assert_int_equal(cfg.quote_ttl_ms, 5000);
    assert_int_equal(cfg.drain_timeout_ms, 10000);

    /* A file's first [bank.*] replaces the default banks; its venues are its own. */
    xr_config_error err;
    const char *text = "[daemon]\nvenues = configured\n"
                       "[bank.7]\nspread_bps = 90\nkey_id = 3\n"
                       "[bank.9]\n demo = no\n"
                       "[venue.binance-a]\naddress = 10.0.0.1:443\nws_port = 9443\n"
                       "taker_fee_bps = 10\npairs = BTC/USDT ,ETH/BTC\nhost = api.example\n";
    assert_int_equal(xr_config_load_string(&cfg, text, "ops.ini", &err), XR_OK);
    assert_string_equal(cfg.venues, "configured");
    assert_int_equal(cfg.nbanks, 2);
    assert_int_equal(cfg.banks[0].id, 7);
    assert_int_equal(cfg.banks[0].spread_bps, 90);
    assert_int_equal(cfg.banks[0].key_id, 3);
    assert_int_equal(cfg.banks[0].demo, 0);
    assert_int_equal(cfg.banks[1].id, 9);
    assert_int_equal(cfg.banks[1].spread_bps, 150); /* section default */
    assert_int_equal(cfg.nvenues, 1);
    assert_string_equal(cfg.venue[0].name, "binance-a");
    assert_string_equal(cfg.venue[0].dialect, "binance");
    assert_string_equal(cfg.venue[0].address, "10.0.0.1:443");
    assert_int_equal(cfg.venue[0].ws_port, 9443);
    assert_int_equal(cfg.venue[0].taker_fee_bps, 10);
    assert_string_equal(cfg.venue[0].host, "api.example");
    assert_int_equal(cfg.venue[0].npairs, 2);
    assert_string_equal(cfg.venue[0].pairs[0], "BTC/USDT");
    assert_string_equal(cfg.venue[0].pairs[1], "ETH/BTC");
    /* and it survives the format round trip */
    char out[8192];
    assert_true(xr_config_format(&cfg, out, sizeof out) > 0);
    xr_config again;
    xr_config_init_default(&again);
    assert_int_equal(xr_config_load_string(&again, out, "formatted", &err), XR_OK);
    assert_memory_equal(&again, &cfg, sizeof cfg);
}

static void test_long_line_is_refused(void **state)
{
    (void)state;
    char text[600];
    int n = snprintf(text, sizeof text, "[daemon]\ndata_dir = /");
    memset(text + n, 'a', 400);
    strcpy(text + n + 400, "\n");
    xr_config cfg;
    xr_config_init_default(&cfg);
    xr_config_error err;
    assert_int_equal(xr_config_load_string(&cfg, text, "long.ini", &err), XR_ERR_CONFIG);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "longer than"));
    char line[512];
    xr_config_error_format(&err, line, sizeof line);
    assert_memory_equal(line, "long.ini:2: line longer than", 28);
}

static void test_file_load_and_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/xr_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[log]\nlevel = error\n[daemon]\nbogus = 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    xr_config cfg;
    xr_config_init_default(&cfg);
    xr_config_error err;
    assert_int_equal(xr_config_load_file(&cfg, path, &err), XR_ERR_CONFIG);
    char line[512];
    char want[512];
    snprintf(want, sizeof want, "%s:4: daemon.bogus: unknown key", path);
    assert_string_equal(xr_config_error_format(&err, line, sizeof line), want);
    assert_int_equal(cfg.log_level, XR_LOG_INFO); /* line 2 was valid but nothing applied */
    unlink(path);
    assert_int_equal(xr_config_load_file(&cfg, path, &err), XR_ERR_IO);
    assert_string_equal(err.file, path);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    xr_config cfg;
    xr_config_init_default(&cfg);
    xr_config_error err;
    assert_int_equal(xr_config_load_string(&cfg,
                                           "[daemon]\ndata_dir=/d\n[log]\nlevel=warn\n"
                                           "[assets]\nDOGE=8\n",
                                           "x", &err),
                     XR_OK);
    char text[4096];
    assert_true(xr_config_format(&cfg, text, sizeof text) > 0);
    xr_config again;
    xr_config_init_default(&again);
    assert_int_equal(xr_config_load_string(&again, text, "formatted", &err), XR_OK);
    assert_memory_equal(&again, &cfg, sizeof cfg);
    char tiny[16];
    assert_int_equal(xr_config_format(&cfg, tiny, sizeof tiny), 0);
}

/* [bank.ID] daily_notional[.TIER] = ASSET UNITS: the engine's daily notional caps. */
static void test_bank_daily_notional(void **state)
{
    (void)state;
    xr_config cfg;
    xr_config_init_default(&cfg);
    xr_config_error err;
    const char *text = "[bank.7]\ndaily_notional = USDT 1560000000\n"
                       "daily_notional.2 = USDT  1500000000\ndaily_notional.0 = BTC 5000000\n";
    assert_int_equal(xr_config_load_string(&cfg, text, "caps.ini", &err), XR_OK);
    assert_int_equal(cfg.nbanks, 1);
    const xr_config_bank *b = &cfg.banks[0];
    assert_int_equal(b->nlimits, 3);
    assert_int_equal(b->limits[0].tier, XR_CONFIG_ANY_TIER);
    assert_string_equal(b->limits[0].asset, "USDT");
    assert_true(b->limits[0].daily.units == 1560000000);
    assert_int_equal(b->limits[1].tier, 2);
    assert_true(b->limits[1].daily.units == 1500000000);
    assert_int_equal(b->limits[2].tier, 0);
    assert_string_equal(b->limits[2].asset, "BTC");
    assert_true(b->limits[2].daily.units == 5000000);
    char out[8192];
    assert_true(xr_config_format(&cfg, out, sizeof out) > 0);
    assert_non_null(strstr(out, "daily_notional = USDT 1560000000\ndaily_notional.2 = USDT "
                                "1500000000\ndaily_notional.0 = BTC 5000000\n"));
    xr_config again;
    xr_config_init_default(&again);
    assert_int_equal(xr_config_load_string(&again, out, "formatted", &err), XR_OK);
    assert_memory_equal(&again, &cfg, sizeof cfg);

    static const char *const bad[] = {
        "[bank.7]\ndaily_notional.255 = USDT 1\n", /* the wildcard is spelt without .TIER */
        "[bank.7]\ndaily_notional.x = USDT 1\n",   /* not a tier */
        "[bank.7]\ndaily_notionals = USDT 1\n",    /* not the key */
        "[bank.7]\ndaily_notional = USDT 0\n",     /* no cap of zero */
        "[bank.7]\ndaily_notional = USDT -5\n",    /* nor negative */
        "[bank.7]\ndaily_notional = USDT 1.5\n",   /* minor units: an integer */
        "[bank.7]\ndaily_notional = usdt 1\n",     /* an asset code */
        "[bank.7]\ndaily_notional = 1500\n",       /* the asset is required */
        "[bank.7]\ndaily_notional.1 = USDT 1\ndaily_notional.1 = USDT 2\n", /* twice */
        "[bank.7]\ndaily_notional.1 = USDT 1\ndaily_notional.2 = USDT 1\n"
        "daily_notional.3 = USDT 1\ndaily_notional.4 = USDT 1\ndaily_notional.5 = USDT 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xr_config c2;
        xr_config_init_default(&c2);
        xr_config before = c2;
        if (xr_config_load_string(&c2, bad[i], "bad.ini", &err) != XR_ERR_CONFIG)
            fail_msg("case %zu accepted", i);
        assert_non_null(strstr(err.key, "bank.7.daily_notional"));
        assert_memory_equal(&c2, &before, sizeof c2); /* nothing applied */
    }
}

static void test_hostport(void **state)
{
    (void)state;
    char host[64];
    uint16_t port;
    assert_int_equal(xr_config_parse_hostport("127.0.0.1:7400", host, sizeof host, &port), XR_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7400);
    assert_int_equal(xr_config_parse_hostport("[::1]:1", host, sizeof host, &port), XR_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 1);
    assert_int_equal(xr_config_parse_hostport("::1:7400", host, sizeof host, &port), XR_ERR_CONFIG);
    assert_int_equal(xr_config_parse_hostport("[::1]7400", host, sizeof host, &port),
                     XR_ERR_CONFIG);
    assert_int_equal(xr_config_parse_hostport(":7400", host, sizeof host, &port), XR_ERR_CONFIG);
    assert_int_equal(xr_config_parse_hostport("1.2.3.4:", host, sizeof host, &port), XR_ERR_CONFIG);
    assert_int_equal(xr_config_parse_hostport("1.2.3.4:123456", host, sizeof host, &port),
                     XR_ERR_CONFIG);
    assert_int_equal(xr_config_parse_hostport("1.2.3.4:80", host, 4, &port), XR_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_overlay),
        cmocka_unit_test(test_bad_inputs_name_file_line_key),
        cmocka_unit_test(test_daemon_defaults_and_sections),
        cmocka_unit_test(test_long_line_is_refused),
        cmocka_unit_test(test_file_load_and_errors),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_bank_daily_notional),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
