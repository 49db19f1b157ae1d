/*
 * xrouted: the xroute daemon.
 *
 * This is the start-up shell the later stages plug into: it reads the embedded default
 * configuration and an optional --config file, sets up logging, and reports what it serves.
 * Hosting the engine (core/engine, include/xroute/engine.h), the bank gateway and the
 * in-process simulated venues is the bank-protocol work still to come; until then it prints
 * its plan and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef XR_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "core/base/config.h"
#include "core/base/log.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: xrouted [--config FILE] [--print-config] [--version] [--help]\n"
                 "\n"
                 "  --config FILE   apply FILE (INI) on top of the embedded defaults\n"
                 "  --print-config  print the effective configuration and exit\n"
                 "  --version       print the version and the allocator, and exit\n"
                 "  --help          this text\n"
                 "\n"
                 "With no arguments xrouted runs on its embedded defaults (see\n"
                 "'xrouted --print-config' and docs/operations.md).\n");
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

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int print_config = 0;
    char alloc[96];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("xrouted %s allocator=\"%s\"\n", XR_VERSION,
                   allocator_name(alloc, sizeof alloc));
            return 0;
        } else if (strcmp(argv[i], "--print-config") == 0) {
            print_config = 1;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            fprintf(stderr, "error: INVALID_ARGUMENT: unknown or incomplete option '%s'\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }

    xr_config cfg;
    xr_config_init_default(&cfg);
    if (config_path != NULL) {
        xr_config_error err;
        xr_err rc = xr_config_load_file(&cfg, config_path, &err);
        if (rc != XR_OK) {
            char msg[600];
            fprintf(stderr, "error: %s: %s\n", xr_err_name(rc),
                    xr_config_error_format(&err, msg, sizeof msg));
            return 1;
        }
    }
    if (print_config) {
        static char text[8192];
        if (xr_config_format(&cfg, text, sizeof text) == 0)
            return 1;
        fputs(text, stdout);
        return 0;
    }
    xr_log_set_level(cfg.log_level);

    printf("xrouted %s (allocator: %s)\n", XR_VERSION, allocator_name(alloc, sizeof alloc));
    printf("configuration: %s\n", config_path ? config_path : "embedded defaults");
    printf("will serve:\n");
    printf("  bank protocol   tcp %s\n", cfg.bank_listen);
    printf("  data directory  %s (LMDB ledger)\n", cfg.data_dir);
    printf("  venues          %s (in-process simulators of the Binance dialect)\n", cfg.venues);
    printf("  assets         ");
    for (uint32_t i = 0; i < cfg.assets.count; i++)
        printf(" %s/%u", cfg.assets.assets[i].code, (unsigned)cfg.assets.assets[i].scale);
    printf("\n");
    printf("status: the daemon does not host the engine and the bank gateway yet; nothing is "
           "served (embed the engine through include/xroute/engine.h meanwhile).\n");

    xr_log_line l;
    xr_log_begin(&l, XR_LOG_INFO, "xrouted", "exit");
    xr_log_str(&l, "reason", "placeholder");
    xr_log_end(&l);
    return 0;
}
