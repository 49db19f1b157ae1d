/*
 * The xroute operator CLI: one function per top-level command. Each takes the arguments
 * after its own name (argv[0] is the command name), prints human text by default and JSON
 * with --json, prints errors as "error: NAME: message" on stderr, and returns the process
 * exit code (0 success, 1 failure or check failed, 2 usage error).
 */
#ifndef XR_TOOLS_XROUTE_CMD_H
#define XR_TOOLS_XROUTE_CMD_H

typedef struct xr_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} xr_cli_command;

/* Exit codes shared by every command. */
#define XR_CLI_OK    0
#define XR_CLI_FAIL  1
#define XR_CLI_USAGE 2

int xr_cmd_version(int argc, char **argv);
int xr_cmd_venue(int argc, char **argv);
int xr_cmd_ledger(int argc, char **argv);
/* customer, fund, defund, quote, buy, sell, convert, cancel, order, orders, balances, book,
 * ticker, ohlc, pairs: the bank protocol over the client library (cmd_bank.c). */
int xr_cmd_bank(int argc, char **argv);

#endif /* XR_TOOLS_XROUTE_CMD_H */
