/*
 * xroute: the operator's command-line tool. main() only dispatches to the command table;
 * each command lives in its own cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "tools/xroute/cmd.h"

static const xr_cli_command commands[] = {
    {"version", "print the version", xr_cmd_version},
    {"venue", "decode venue messages, sign venue requests", xr_cmd_venue},
    {"ledger", "verify the ledger; show balances, entries, transfers", xr_cmd_ledger},
    {"customer", "register a customer or change its KYC tier", xr_cmd_bank},
    {"fund", "move money from the bank into a customer's account", xr_cmd_bank},
    {"defund", "move money from a customer's account back to the bank", xr_cmd_bank},
    {"quote", "a firm quote for a buy or a sell", xr_cmd_bank},
    {"buy", "buy for a customer (market or limit)", xr_cmd_bank},
    {"sell", "sell for a customer (market or limit)", xr_cmd_bank},
    {"convert", "convert between assets (USD <-> USDC, PYUSD)", xr_cmd_bank},
    {"cancel", "cancel a resting order", xr_cmd_bank},
    {"order", "one order with its best-execution record", xr_cmd_bank},
    {"orders", "a customer's orders, filtered and paged", xr_cmd_bank},
    {"balances", "a customer's balances", xr_cmd_bank},
    {"book", "the consolidated order book of a pair", xr_cmd_bank},
    {"ticker", "best bid, ask and last price of a pair", xr_cmd_bank},
    {"ohlc", "candles of a pair", xr_cmd_bank},
    {"pairs", "the tradable pairs", xr_cmd_bank},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: xroute <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'xroute <command> --help' describes a command.\n");
}

int xr_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("xroute %s\n", XR_VERSION);
    return XR_CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return XR_CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return XR_CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return xr_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "error: USAGE: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return XR_CLI_USAGE;
}
