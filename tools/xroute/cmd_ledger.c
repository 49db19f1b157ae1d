/*
 * xroute ledger: operator access to the ledger of a data directory, read-only (it may run
 * beside a live xrouted).
 *
 *   xroute ledger verify --data DIR [--json]
 *   xroute ledger balances [ACCOUNT_ID...] --data DIR [--json]
 *   xroute ledger entries ACCOUNT_ID [--limit N] [--cursor C] --data DIR [--json]
 *   xroute ledger transfer ID --data DIR [--json]
 *   xroute ledger totals --data DIR [--json]
 *
 * DIR is the data directory (the ledger lives in DIR/ledger) or the ledger directory itself.
 * Amounts are printed exactly, in the asset's units ("1000.00" USD), as strings in JSON.
 * Exit codes: 0 ok; 1 error, or verify found a problem (the report names the first bad
 * entry, account or op); 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/clock.h"
#include "core/ledger/ledger.h"
#include "tools/xroute/cmd.h"
#include "xroute/money.h"

#define MAX_IDS 256

typedef struct opts {
    const char *sub;
    const char *data;
    int json;
    uint64_t limit;
    uint64_t cursor;
    const char *pos[MAX_IDS];
    int npos;
} opts;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: USAGE: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'xroute ledger --help')\n");
    va_end(ap);
    return XR_CLI_USAGE;
}

static int fail(xr_err err, const char *what)
{
    fprintf(stderr, "error: %s: %s%s%s\n", xr_err_name(err), xr_err_message(err), what ? ": " : "",
            what ? what : "");
    return XR_CLI_FAIL;
}

static void help(FILE *out)
{
    fprintf(out, "usage: xroute ledger <command> [args] --data DIR [--json]\n\n"
                 "commands:\n"
                 "  verify                       check the chain, the replayed balances and every\n"
                 "                               invariant; exit 1 naming the first bad entry\n"
                 "  balances [ACCOUNT_ID...]     balances of the given accounts, or of all\n"
                 "  entries ACCOUNT_ID           entries of an account, newest first\n"
                 "      [--limit N] [--cursor C]   page size (default 20) and where to continue\n"
                 "  transfer ID                  one op by its id (32 hex digits or UUID form)\n"
                 "  totals                       sums per asset over all accounts\n\n"
                 "DIR is the data directory (the ledger is DIR/ledger) or the ledger directory.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || s[0] == '-')
        return 0;
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->limit = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--data") == 0 && i + 1 < argc) {
            o->data = argv[++i];
        } else if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &o->limit) || o->limit == 0 || o->limit > 100000)
                return usage_error("--limit wants a number from 1 to 100000");
        } else if (strcmp(a, "--cursor") == 0 && i + 1 < argc) {
            if (!parse_u64(argv[++i], &o->cursor))
                return usage_error("--cursor wants the number printed as the next cursor");
        } else if (a[0] == '-' && a[1] == '-') {
            return usage_error("unknown or incomplete option '%s'", a);
        } else if (o->sub == NULL) {
            o->sub = a;
        } else if (o->npos < MAX_IDS) {
            o->pos[o->npos++] = a;
        } else {
            return usage_error("too many arguments");
        }
    }
    if (o->sub == NULL)
        return usage_error("missing command");
    if (o->data == NULL)
        return usage_error("--data DIR is required");
    return XR_CLI_OK;
}

static xr_err open_ledger(const char *data, xr_ledger **lg)
{
    char path[4096];
    struct stat st;
    /* Accept the ledger directory itself, or the data directory that contains it. */
    snprintf(path, sizeof path, "%s/data.mdb", data);
    if (stat(path, &st) == 0) {
        snprintf(path, sizeof path, "%s", data);
    } else {
        snprintf(path, sizeof path, "%s/ledger", data);
    }
    xr_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = path;
    cfg.read_only = 1;
    return xr_ledger_open(&cfg, lg);
}

/* ---- formatting ------------------------------------------------------------------------ */

static const char *kind_name(uint8_t k)
{
    static const char *const names[] = {
        "?",    "customer",    "bank_omnibus", "venue_position", "spread_revenue",
        "fees", "bank_funding"};
    return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static const char *op_name(uint8_t k)
{
    static const char *const names[] = {"?",       "create_account", "transfer",
                                        "reserve", "post",           "void"};
    return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static const char *status_name(uint8_t s)
{
    static const char *const names[] = {"?",      "done",    "pending", "posted",
                                        "voided", "expired", "failed"};
    return s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static const char *amount_text(xr_amount a, unsigned scale, char *buf, size_t cap)
{
    if (xr_amount_format(a, scale, buf, cap) == 0)
        snprintf(buf, cap, "?");
    return buf;
}

static const char *time_text(int64_t ns, char *buf, size_t cap)
{
    if (ns == 0 || xr_clock_format_rfc3339(ns, buf, cap) == 0)
        snprintf(buf, cap, "-");
    return buf;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void hex32(const uint8_t *b, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- verify ------------------------------------------------------------------------------- */

static int cmd_verify(xr_ledger *lg, const opts *o)
{
    xr_ledger_verify_report rep;
    xr_err err = xr_ledger_verify(lg, &rep);
    if (err != XR_OK)
        return fail(err, "verify could not run");
    char head[65], op[XR_LEDGER_ID_HEX_MAX];
    hex32(rep.head_sha256, head);
    xr_ledger_id_format(&rep.bad_op_id, op);
    int has_op = !xr_ledger_id_is_zero(&rep.bad_op_id);
    if (o->json) {
        printf("{\"ok\":%s,\"entries\":%" PRIu64 ",\"accounts\":%" PRIu64 ",\"ops\":%" PRIu64,
               rep.err == XR_OK ? "true" : "false", rep.entries, rep.accounts, rep.ops);
        if (rep.err == XR_OK) {
            printf(",\"head_sha256\":\"%s\"}\n", head);
        } else {
            printf(",\"error\":\"%s\",\"problem\":", xr_err_name(rep.err));
            json_str(rep.problem);
            printf(",\"bad_entry_seq\":");
            rep.bad_entry_seq ? printf("%" PRIu64, rep.bad_entry_seq) : printf("null");
            printf(",\"bad_account_id\":");
            rep.bad_account_id ? printf("%" PRIu64, rep.bad_account_id) : printf("null");
            printf(",\"bad_op_id\":");
            has_op ? printf("\"%s\"", op) : printf("null");
            printf("}\n");
        }
    } else if (rep.err == XR_OK) {
        printf("ledger ok: %" PRIu64 " entries, %" PRIu64 " accounts, %" PRIu64 " ops\n"
               "chain head sha256: %s\n",
               rep.entries, rep.accounts, rep.ops, head);
    } else {
        printf("ledger FAILED verification: %s\n", rep.problem);
        if (rep.bad_entry_seq)
            printf("first bad entry: %" PRIu64 "\n", rep.bad_entry_seq);
        if (rep.bad_account_id)
            printf("bad account: %" PRIu64 "\n", rep.bad_account_id);
        if (has_op)
            printf("bad op: %s\n", op);
        printf("checked before the problem: %" PRIu64 " entries, %" PRIu64 " accounts, %" PRIu64
               " ops\n",
               rep.entries, rep.accounts, rep.ops);
    }
    if (rep.err != XR_OK) {
        fprintf(stderr, "error: %s: %s\n", xr_err_name(rep.err), rep.problem);
        return XR_CLI_FAIL;
    }
    return XR_CLI_OK;
}

/* ---- balances ---------------------------------------------------------------------------- */

static void print_account(const xr_ledger_account *a, int json, int first)
{
    char bal[XR_DECIMAL_STR_MAX], res[XR_DECIMAL_STR_MAX], av[XR_DECIMAL_STR_MAX];
    amount_text(xr_ledger_account_balance(a), a->scale, bal, sizeof bal);
    amount_text(xr_ledger_account_reserved(a), a->scale, res, sizeof res);
    amount_text(xr_ledger_account_available(a), a->scale, av, sizeof av);
    if (!json) {
        printf("%-12" PRIu64 " %-6s %-15s %8" PRIu64 " %10" PRIu64 " %22s %20s %22s\n", a->id,
               a->asset, kind_name(a->kind), a->bank_id, a->owner_id, bal, res, av);
        return;
    }
    char dp[XR_DECIMAL_STR_MAX], cp[XR_DECIMAL_STR_MAX], dpn[XR_DECIMAL_STR_MAX],
        cpn[XR_DECIMAL_STR_MAX];
    printf("%s{\"id\":%" PRIu64 ",\"asset\":\"%s\",\"scale\":%u,\"kind\":\"%s\",\"flags\":%u,"
           "\"bank_id\":%" PRIu64 ",\"owner_id\":%" PRIu64
           ",\"balance\":\"%s\",\"reserved\":\"%s\","
           "\"available\":\"%s\",\"debits_posted\":\"%s\",\"credits_posted\":\"%s\","
           "\"debits_pending\":\"%s\",\"credits_pending\":\"%s\",\"last_entry_seq\":%" PRIu64
           ",\"created_ns\":%" PRId64 "}",
           first ? "" : ",", a->id, a->asset, a->scale, kind_name(a->kind), a->flags, a->bank_id,
           a->owner_id, bal, res, av, amount_text(a->debits_posted, a->scale, dp, sizeof dp),
           amount_text(a->credits_posted, a->scale, cp, sizeof cp),
           amount_text(a->debits_pending, a->scale, dpn, sizeof dpn),
           amount_text(a->credits_pending, a->scale, cpn, sizeof cpn), a->last_entry_seq,
           a->created_ns);
}

static int cmd_balances(xr_ledger *lg, const opts *o)
{
    uint64_t ids[MAX_IDS];
    for (int i = 0; i < o->npos; i++)
        if (!parse_u64(o->pos[i], &ids[i]) || ids[i] == 0)
            return usage_error("'%s' is not an account id", o->pos[i]);
    if (o->json)
        printf("{\"accounts\":[");
    else
        printf("%-12s %-6s %-15s %8s %10s %22s %20s %22s\n", "ACCOUNT", "ASSET", "KIND", "BANK",
               "OWNER", "BALANCE", "RESERVED", "AVAILABLE");
    int first = 1;
    if (o->npos > 0) {
        for (int i = 0; i < o->npos; i++) {
            xr_ledger_account a;
            xr_err err = xr_ledger_account_get(lg, ids[i], &a);
            if (err != XR_OK) {
                if (o->json)
                    printf("]}\n");
                return fail(err, o->pos[i]);
            }
            print_account(&a, o->json, first);
            first = 0;
        }
    } else {
        static xr_ledger_account page[256];
        uint64_t after = 0;
        for (;;) {
            size_t n;
            xr_err err = xr_ledger_accounts_list(lg, after, page, 256, &n);
            if (err != XR_OK) {
                if (o->json)
                    printf("]}\n");
                return fail(err, "listing accounts");
            }
            for (size_t i = 0; i < n; i++) {
                print_account(&page[i], o->json, first);
                first = 0;
            }
            if (n < 256)
                break;
            after = page[n - 1].id;
        }
    }
    if (o->json)
        printf("]}\n");
    return XR_CLI_OK;
}

/* ---- entries ---------------------------------------------------------------------------- */

static int cmd_entries(xr_ledger *lg, const opts *o)
{
    uint64_t id;
    if (o->npos != 1 || !parse_u64(o->pos[0], &id) || id == 0)
        return usage_error("entries wants one account id");
    xr_ledger_account a;
    xr_err err = xr_ledger_account_get(lg, id, &a);
    if (err != XR_OK)
        return fail(err, o->pos[0]);
    xr_ledger_entry *e = calloc(o->limit, sizeof *e);
    if (e == NULL)
        return fail(XR_ERR_NO_MEMORY, NULL);
    size_t n;
    uint64_t next;
    err = xr_ledger_entries(lg, id, o->cursor, e, o->limit, &n, &next);
    if (err != XR_OK) {
        free(e);
        return fail(err, o->cursor ? "the cursor is not an entry of this account" : NULL);
    }
    char amt[XR_DECIMAL_STR_MAX], bal[XR_DECIMAL_STR_MAX], tid[XR_LEDGER_ID_HEX_MAX],
        ts[XR_CLOCK_RFC3339_MAX];
    if (o->json)
        printf("{\"account\":%" PRIu64 ",\"asset\":\"%s\",\"entries\":[", id, a.asset);
    else
        printf("%-10s %-27s %-32s %22s %22s\n", "SEQ", "TIME", "TRANSFER", "AMOUNT",
               "BALANCE_AFTER");
    for (size_t i = 0; i < n; i++) {
        amount_text(e[i].amount, a.scale, amt, sizeof amt);
        amount_text(e[i].balance_after, a.scale, bal, sizeof bal);
        xr_ledger_id_format(&e[i].transfer_id, tid);
        time_text(e[i].timestamp_ns, ts, sizeof ts);
        if (o->json) {
            char chain[65];
            hex32(e[i].chain, chain);
            printf("%s{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"timestamp_ns\":%" PRId64
                   ",\"transfer\":\"%s\",\"amount\":\"%s\",\"balance_after\":\"%s\","
                   "\"prev_seq\":%" PRIu64 ",\"chain\":\"%s\"}",
                   i ? "," : "", e[i].seq, ts, e[i].timestamp_ns, tid, amt, bal, e[i].prev_seq,
                   chain);
        } else {
            printf("%-10" PRIu64 " %-27s %-32s %22s %22s\n", e[i].seq, ts, tid, amt, bal);
        }
    }
    if (o->json) {
        printf("],\"next_cursor\":");
        next ? printf("%" PRIu64 "}\n", next) : printf("null}\n");
    } else if (next) {
        printf("more: --cursor %" PRIu64 "\n", next);
    }
    free(e);
    return XR_CLI_OK;
}

/* ---- transfer ---------------------------------------------------------------------------- */

static int cmd_transfer(xr_ledger *lg, const opts *o)
{
    xr_ledger_id id;
    if (o->npos != 1 || xr_ledger_id_parse(o->pos[0], &id) != XR_OK)
        return usage_error("transfer wants one id of 32 hex digits (or the UUID form)");
    xr_ledger_transfer t;
    xr_err err = xr_ledger_transfer_get(lg, &id, &t);
    if (err != XR_OK)
        return fail(err, o->pos[0]);
    /* Amounts are shown in the debit account's asset. */
    unsigned scale = 0;
    const char *asset = "";
    xr_ledger_account a;
    uint64_t acc = t.kind == XR_LEDGER_OP_CREATE_ACCOUNT ? t.account.id : t.debit_account_id;
    if (acc != 0 && xr_ledger_account_get(lg, acc, &a) == XR_OK) {
        scale = a.scale;
        asset = a.asset;
    }
    char hex[XR_LEDGER_ID_HEX_MAX], link[XR_LEDGER_ID_HEX_MAX], amt[XR_DECIMAL_STR_MAX],
        done[XR_DECIMAL_STR_MAX], ts[XR_CLOCK_RFC3339_MAX], dl[XR_CLOCK_RFC3339_MAX],
        rs[XR_CLOCK_RFC3339_MAX];
    xr_ledger_id_format(&t.id, hex);
    xr_ledger_id_format(&t.link_id, link);
    amount_text(t.amount, scale, amt, sizeof amt);
    amount_text(t.amount_done, scale, done, sizeof done);
    time_text(t.timestamp_ns, ts, sizeof ts);
    time_text(t.deadline_ns, dl, sizeof dl);
    time_text(t.resolved_ns, rs, sizeof rs);
    int has_link = !xr_ledger_id_is_zero(&t.link_id);
    if (o->json) {
        printf("{\"id\":\"%s\",\"kind\":\"%s\",\"status\":\"%s\",\"result\":\"%s\",\"linked\":%s,"
               "\"time\":\"%s\",\"timestamp_ns\":%" PRId64,
               hex, op_name(t.kind), status_name(t.status), xr_err_name(t.result),
               (t.flags & XR_LEDGER_OP_LINKED) ? "true" : "false", ts, t.timestamp_ns);
        if (t.result != XR_OK)
            printf(",\"failed_offset\":%d", t.failed_offset);
        if (t.kind == XR_LEDGER_OP_CREATE_ACCOUNT) {
            printf(",\"account\":{\"id\":%" PRIu64 ",\"asset\":\"%s\",\"kind\":\"%s\",\"flags\":%u,"
                   "\"bank_id\":%" PRIu64 ",\"owner_id\":%" PRIu64 "}}\n",
                   t.account.id, t.account.asset, kind_name(t.account.kind), t.account.flags,
                   t.account.bank_id, t.account.owner_id);
            return XR_CLI_OK;
        }
        printf(",\"debit_account_id\":%" PRIu64 ",\"credit_account_id\":%" PRIu64
               ",\"asset\":\"%s\",\"amount\":\"%s\",\"amount_done\":\"%s\",\"user_data\":%" PRIu64
               ",\"first_entry_seq\":%" PRIu64,
               t.debit_account_id, t.credit_account_id, asset, amt, done, t.user_data,
               t.first_entry_seq);
        printf(",\"link_id\":");
        has_link ? printf("\"%s\"", link) : printf("null");
        if (t.kind == XR_LEDGER_OP_RESERVE)
            printf(",\"deadline\":\"%s\",\"resolved\":\"%s\"", dl, rs);
        printf("}\n");
        return XR_CLI_OK;
    }
    printf("id:          %s\nkind:        %s\nstatus:      %s\nresult:      %s\ntime:        %s\n",
           hex, op_name(t.kind), status_name(t.status), xr_err_name(t.result), ts);
    if (t.flags & XR_LEDGER_OP_LINKED)
        printf("linked:      yes (with the next op of its batch)\n");
    if (t.result != XR_OK)
        printf("failed:      group member at offset %d failed\n", t.failed_offset);
    if (t.kind == XR_LEDGER_OP_CREATE_ACCOUNT) {
        printf("account:     %" PRIu64 " %s %s bank %" PRIu64 " owner %" PRIu64 "\n", t.account.id,
               t.account.asset, kind_name(t.account.kind), t.account.bank_id, t.account.owner_id);
        return XR_CLI_OK;
    }
    printf("debit:       %" PRIu64 "\ncredit:      %" PRIu64 "\namount:      %s %s\n"
           "done:        %s %s\nuser_data:   %" PRIu64 "\n",
           t.debit_account_id, t.credit_account_id, amt, asset, done, asset, t.user_data);
    if (t.first_entry_seq)
        printf("entries:     %" PRIu64 ", %" PRIu64 "\n", t.first_entry_seq, t.first_entry_seq + 1);
    if (has_link)
        printf("%s %s\n", t.kind == XR_LEDGER_OP_RESERVE ? "resolved by:" : "reservation:", link);
    if (t.kind == XR_LEDGER_OP_RESERVE)
        printf("deadline:    %s\nresolved:    %s\n", dl, rs);
    return XR_CLI_OK;
}

/* ---- totals ------------------------------------------------------------------------------ */

static int cmd_totals(xr_ledger *lg, const opts *o)
{
    xr_ledger_total t[2 * XR_ASSETS_MAX];
    size_t n;
    xr_err err = xr_ledger_totals(lg, t, sizeof t / sizeof t[0], &n);
    if (err != XR_OK)
        return fail(err, NULL);
    if (n > sizeof t / sizeof t[0])
        n = sizeof t / sizeof t[0];
    char a[XR_DECIMAL_STR_MAX], b[XR_DECIMAL_STR_MAX], c[XR_DECIMAL_STR_MAX], d[XR_DECIMAL_STR_MAX],
        s[XR_DECIMAL_STR_MAX];
    if (o->json)
        printf("{\"assets\":[");
    else
        printf("%-6s %8s %22s %22s %20s %6s\n", "ASSET", "ACCOUNTS", "DEBITS_POSTED",
               "CREDITS_POSTED", "PENDING", "SUM");
    for (size_t i = 0; i < n; i++) {
        amount_text(t[i].debits_posted, t[i].scale, a, sizeof a);
        amount_text(t[i].credits_posted, t[i].scale, b, sizeof b);
        amount_text(t[i].debits_pending, t[i].scale, c, sizeof c);
        amount_text(t[i].credits_pending, t[i].scale, d, sizeof d);
        amount_text(t[i].balance_sum, t[i].scale, s, sizeof s);
        if (o->json)
            printf("%s{\"asset\":\"%s\",\"scale\":%u,\"accounts\":%" PRIu64
                   ",\"debits_posted\":\"%s\",\"credits_posted\":\"%s\",\"debits_pending\":\"%s\","
                   "\"credits_pending\":\"%s\",\"balance_sum\":\"%s\"}",
                   i ? "," : "", t[i].asset, t[i].scale, t[i].accounts, a, b, c, d, s);
        else
            printf("%-6s %8" PRIu64 " %22s %22s %20s %6s\n", t[i].asset, t[i].accounts, a, b, c, s);
    }
    if (o->json)
        printf("]}\n");
    return XR_CLI_OK;
}

int xr_cmd_ledger(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "help") == 0) {
            help(stdout);
            return XR_CLI_OK;
        }
    }
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != XR_CLI_OK)
        return rc;
    int (*run)(xr_ledger *, const opts *) = NULL;
    if (strcmp(o.sub, "verify") == 0)
        run = cmd_verify;
    else if (strcmp(o.sub, "balances") == 0)
        run = cmd_balances;
    else if (strcmp(o.sub, "entries") == 0)
        run = cmd_entries;
    else if (strcmp(o.sub, "transfer") == 0)
        run = cmd_transfer;
    else if (strcmp(o.sub, "totals") == 0)
        run = cmd_totals;
    else
        return usage_error("unknown ledger command '%s'", o.sub);
    if ((run == cmd_verify || run == cmd_totals) && o.npos != 0)
        return usage_error("%s takes no arguments", o.sub);
    xr_ledger *lg;
    xr_err err = open_ledger(o.data, &lg);
    if (err != XR_OK)
        return fail(err, err == XR_ERR_NOT_FOUND ? "no ledger in that data directory" : o.data);
    rc = run(lg, &o);
    xr_ledger_close(lg);
    return rc;
}
