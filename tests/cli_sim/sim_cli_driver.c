/*
 * End-to-end test of the xroute-venue binary: --help documents every flag; bad flags exit
 * 2; two venues start on free ports and print their readiness lines; each answers Binance
 * REST (public and signed), the mock dialect and the control endpoint over plain TCP; a
 * second process cannot take a port in use (exit 1); TLS mode starts; SIGTERM and SIGINT
 * stop it with status 0 and an exit log line.
 *
 * usage: sim_cli_driver PATH/TO/xroute-venue TLS_DATA_DIR
 *
 * The HTTP client here is deliberately plain blocking sockets (a test driver, not xroute
 * code) so that the binary is checked from the outside, with no curl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <bearssl.h>
#pragma GCC diagnostic pop

extern char **environ;

#define SECRET "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
#define KEY    "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct proc {
    pid_t pid;
    FILE *out;  /* its stdout */
    int err_fd; /* its stderr, read at the end */
} proc;

static bool spawn(proc *p, const char *const argv[])
{
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    /* posix_spawn does not modify the strings; its prototype predates const. */
    int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0)
        return false;
    p->out = fdopen(out[0], "r");
    p->err_fd = err[0];
    return true;
}

/* Waits for the process; returns its exit status, or 128 + signal. */
static int finish(proc *p, char *err, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (cap > 1 && (r = read(p->err_fd, err + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    if (cap > 0)
        err[n] = '\0';
    close(p->err_fd);
    fclose(p->out);
    int st = 0;
    waitpid(p->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs to completion and captures stdout. */
static int run(const char *const argv[], char *out, size_t cap)
{
    proc p;
    if (!spawn(&p, argv))
        return -1;
    size_t n = fread(out, 1, cap - 1, p.out);
    out[n] = '\0';
    char err[4096];
    return finish(&p, err, sizeof err);
}

/* One request on a fresh connection; returns the status and copies the body. */
static int http(int port, const char *method, const char *target, const char *extra,
                const char *body, char *resp, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%sContent-Length: "
                     "%zu\r\n\r\n%s",
                     method, target, extra ? extra : "", body ? strlen(body) : 0, body ? body : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, resp + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        return -1;
    char *b = strstr(resp, "\r\n\r\n");
    if (b != NULL)
        memmove(resp, b + 4, strlen(b + 4) + 1);
    return status;
}

static void sign(const char *msg, char out[65])
{
    br_hmac_key_context kc;
    br_hmac_context hc;
    br_hmac_key_init(&kc, &br_sha256_vtable, SECRET, strlen(SECRET));
    br_hmac_init(&hc, &kc, 0);
    br_hmac_update(&hc, msg, strlen(msg));
    unsigned char mac[32];
    br_hmac_out(&hc, mac);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* Reads readiness lines until "xroute-venue: ready"; fills the ports in order. */
static int read_ready(proc *p, int *ports, int max, char *lines, size_t cap)
{
    int n = 0;
    char line[1024];
    size_t used = 0;
    lines[0] = '\0';
    while (fgets(line, sizeof line, p->out) != NULL) {
        used += (size_t)snprintf(lines + used, cap - used, "%s", line);
        if (strncmp(line, "xroute-venue: ready", 19) == 0)
            return n;
        char *u = strstr(line, "://127.0.0.1:");
        if (u != NULL && n < max)
            ports[n++] = atoi(u + 13);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s XROUTE_VENUE TLS_DATA_DIR\n", argv[0]);
        return 2;
    }
    alarm(60); /* never hang the test suite */
    signal(SIGPIPE, SIG_IGN);
    const char *bin = argv[1];
    static char out[65536];
    char resp[65536], err[8192], q[512], target[1024], sig[65];

    /* --help names every flag. */
    const char *help[] = {bin, "--help", NULL};
    CHECK(run(help, out, sizeof out) == 0, "--help exit status");
    const char *flags[] = {"--venue",          "--listen",       "--port",       "--tls-cert",
                           "--tls-key",        "--max-conns",    "--pairs",      "--pair",
                           "--seed",           "--step-ms",      "--maker-bps",  "--taker-bps",
                           "--api-key",        "--api-secret",   "--balance",    "--account",
                           "--dup-client-ids", "--weight-limit", "--orders-10s", "--orders-1d",
                           "--ban-after",      "--ban-seconds",  "--fault",      "--log-level",
                           "--version",        "--help",         "--convert"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK(strstr(out, flags[i]) != NULL, "--help does not mention %s", flags[i]);
    const char *kinds[] = {
        "latency:ms=",   "disconnect:after=", "gap:count=", "5xx:count=",      "429:count=",
        "reject:count=", "down:ms=",          "stale:ms=",  "clock:offset_ms="};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        CHECK(strstr(out, kinds[i]) != NULL, "--help does not document fault %s", kinds[i]);
    const char *version[] = {bin, "--version", NULL};
    CHECK(run(version, out, sizeof out) == 0 && strncmp(out, "xroute-venue ", 13) == 0,
          "--version: %s", out);

    /* Bad flags: exit status 2 and a message. */
    const char *bad1[] = {bin, "--bogus", "1", NULL};
    const char *bad2[] = {bin, "--pair", "btc", NULL};
    const char *bad3[] = {bin, "--fault", "meteor", NULL};
    const char *bad4[] = {bin, "--seed", NULL};
    const char *bad5[] = {bin, "--convert", "USD:USD", NULL};
    CHECK(run(bad5, out, sizeof out) == 2, "--convert USD:USD");
    CHECK(run(bad1, out, sizeof out) == 2, "--bogus");
    CHECK(run(bad2, out, sizeof out) == 2, "--pair btc");
    CHECK(run(bad3, out, sizeof out) == 2, "--fault meteor");
    CHECK(run(bad4, out, sizeof out) == 2, "--seed without a value");

    /* Two venues on free ports. */
    /* clang-format off */
    const char *two[] = {bin, "--seed", "7", "--step-ms", "5", "--log-level", "info",
                   "--venue", "alpha:0", "--pairs", "BTCUSDT,AZNUSDT",
                   "--venue", "beta:0", "--taker-bps", "20", "--fault", "latency:ms=1",
                   "--balance", "USDT=500", "--balance", "USD=100",
                   "--convert", "USD:USDC:fee_bps=10,decimals=6", NULL};
    /* clang-format on */
    proc p;
    CHECK(spawn(&p, two), "spawn");
    int ports[2] = {0, 0};
    char lines[4096];
    int nv = read_ready(&p, ports, 2, lines, sizeof lines);
    CHECK(nv == 2 && ports[0] > 0 && ports[1] > 0 && ports[0] != ports[1], "readiness: %s", lines);
    CHECK(strstr(lines, "venue=alpha dialect=binance url=http://127.0.0.1:") != NULL &&
              strstr(lines, "pairs=BTCUSDT,AZNUSDT") != NULL &&
              strstr(lines, "venue=beta") != NULL && strstr(lines, "seed=7") != NULL,
          "readiness lines: %s", lines);
    if (nv == 2) {
        for (int v = 0; v < 2; v++) {
            CHECK(http(ports[v], "GET", "/api/v3/ping", NULL, NULL, resp, sizeof resp) == 200 &&
                      strcmp(resp, "{}") == 0,
                  "ping venue %d: %s", v, resp);
        }
        CHECK(http(ports[0], "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5", NULL, NULL, resp,
                   sizeof resp) == 200 &&
                  strstr(resp, "\"lastUpdateId\":") != NULL,
              "depth: %s", resp);
        CHECK(http(ports[0], "GET", "/api/v3/depth?symbol=ETHUSDT", NULL, NULL, resp,
                   sizeof resp) == 400,
              "alpha trades only BTCUSDT and AZNUSDT: %s", resp);
        CHECK(http(ports[0], "GET", "/ticker?symbol=AZNUSDT", NULL, NULL, resp, sizeof resp) ==
                      200 &&
                  strstr(resp, "\"symbol\":\"AZNUSDT\",\"price\":\"0.") != NULL,
              "mock ticker: %s", resp);
        CHECK(http(ports[0], "POST", "/order", "Content-Type: application/json\r\n",
                   "{\"symbol\":\"AZNUSDT\",\"side\":\"BUY\",\"quantity\":\"10\",\"type\":"
                   "\"MARKET\"}",
                   resp, sizeof resp) == 200 &&
                  strstr(resp, "\"status\":\"FILLED\"") != NULL &&
                  strstr(resp, "\"executedQty\":\"10.0\"") != NULL,
              "mock order: %s", resp);
        /* Signed: the account, with the balance given on the command line. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(q, sizeof q, "timestamp=%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        sign(q, sig);
        snprintf(target, sizeof target, "/api/v3/account?%s&signature=%s", q, sig);
        CHECK(http(ports[1], "GET", target, "X-MBX-APIKEY: " KEY "\r\n", NULL, resp, sizeof resp) ==
                      200 &&
                  strstr(resp, "\"takerCommission\":20") != NULL &&
                  strstr(resp, "{\"asset\":\"USDT\",\"free\":\"500.00000000\"") != NULL,
              "account: %s", resp);
        /* Convert on beta (--convert): 10 USD at 1:1 less 10 bps is 9.99 USDC. */
        snprintf(q, sizeof q, "fromAsset=USD&toAsset=USDC&fromAmount=10&timestamp=%lld",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        sign(q, sig);
        snprintf(target, sizeof target, "/sapi/v1/convert/getQuote?%s&signature=%s", q, sig);
        CHECK(http(ports[1], "POST", target, "X-MBX-APIKEY: " KEY "\r\n", NULL, resp,
                   sizeof resp) == 200 &&
                  strstr(resp, "\"quoteId\":\"") != NULL &&
                  strstr(resp, "\"toAmount\":\"9.99000000\"") != NULL,
              "convert quote: %s", resp);
        CHECK(http(ports[0], "POST", target, "X-MBX-APIKEY: " KEY "\r\n", NULL, resp,
                   sizeof resp) == 400 &&
                  strstr(resp, "-1121") != NULL,
              "alpha offers no conversion: %s", resp);
        CHECK(http(ports[1], "GET", "/api/v3/account?timestamp=1&signature=00",
                   "X-MBX-APIKEY: " KEY "\r\n", NULL, resp, sizeof resp) == 400 &&
                  strstr(resp, "-1022") != NULL,
              "bad signature: %s", resp);
        /* The market moves on its own (--step-ms 5). */
        CHECK(http(ports[1], "GET", "/sim/state?symbol=BTCUSDT&depth=1", NULL, NULL, resp,
                   sizeof resp) == 200,
              "state");
        char *st = strstr(resp, "\"steps\":");
        long steps1 = st ? atol(st + 8) : 0;
        usleep(200000);
        http(ports[1], "GET", "/sim/state?symbol=BTCUSDT&depth=1", NULL, NULL, resp, sizeof resp);
        st = strstr(resp, "\"steps\":");
        CHECK(st != NULL && atol(st + 8) > steps1, "the market does not step: %s", resp);
        CHECK(http(ports[1], "POST", "/sim/fault?kind=5xx&count=1", NULL, NULL, resp,
                   sizeof resp) == 200,
              "fault");
        CHECK(http(ports[1], "GET", "/api/v3/time", NULL, NULL, resp, sizeof resp) == 503,
              "5xx fault");

        /* Another process cannot take a port in use. */
        char port[16];
        snprintf(port, sizeof port, "%d", ports[0]);
        const char *clash[] = {bin, "--port", port, NULL};
        proc p2;
        CHECK(spawn(&p2, clash), "spawn");
        CHECK(finish(&p2, err, sizeof err) == 1 && strstr(err, "cannot listen") != NULL,
              "port clash: %s", err);
    }
    kill(p.pid, SIGTERM);
    int rc = finish(&p, err, sizeof err);
    CHECK(rc == 0, "SIGTERM exit status %d: %s", rc, err);
    CHECK(strstr(err, "ev=exit signal=SIGTERM") != NULL, "exit line: %s", err);
    CHECK(strstr(err, SECRET) == NULL, "the secret was logged");

    /* TLS, stopped with SIGINT. */
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s/server-rsa-chain.pem", argv[2]);
    snprintf(key, sizeof key, "%s/server-rsa.key", argv[2]);
    const char *tls[] = {bin, "--port", "0", "--tls-cert", cert, "--tls-key", key, NULL};
    CHECK(spawn(&p, tls), "spawn");
    nv = read_ready(&p, ports, 1, lines, sizeof lines);
    CHECK(nv == 1 && strstr(lines, "url=https://127.0.0.1:") != NULL &&
              strstr(lines, "ws=wss://") != NULL,
          "TLS readiness: %s", lines);
    kill(p.pid, SIGINT);
    rc = finish(&p, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "signal=SIGINT") != NULL, "SIGINT: %d %s", rc, err);
    const char *missing[] = {bin, "--port", "0", "--tls-cert", "/nonexistent.pem", NULL};
    CHECK(spawn(&p, missing), "spawn");
    rc = finish(&p, err, sizeof err);
    CHECK(rc == 1 && strstr(err, "TLS") != NULL, "missing certificate: %d %s", rc, err);

    if (failures == 0)
        printf("sim_cli_driver: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
