/*
 * The physical floor of the bank round trip, measured with the primitives the round trip
 * itself uses (perf/e2e/run.sh prints our latency next to it):
 *
 *   rtt     loopback TCP ping-pong (TCP_NODELAY, blocking sockets, a second thread echoing)
 *           with the bank protocol's sizes: a 136-byte NEW_ORDER out, a 216-byte
 *           EXEC_REPORT back
 *   commit  one durable LMDB write transaction (default flags: fsync on commit) putting one
 *           176-byte record, the ledger's and the outbox's unit of durability
 *
 *   floor [--rtt N] [--commits N] [--dir DIR]
 *
 * Prints one JSON object: p50/p99/p99.9 in microseconds for each, and the floor of one
 * order, 2 x rtt p50 + 2 x commit p50 (the bank's request and the report cross loopback
 * twice - bank to xrouted, xrouted to the venue and back - and two commits are durable on
 * the way: the reservation and the booking).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_LEN 136
#define REP_LEN 216

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double q_us(const uint64_t *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e3;
}

static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t r = write(fd, (const char *)buf + put, len - put);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        put += (size_t)r;
    }
    return 0;
}

static int listen_fd;

static void *echo_thread(void *arg)
{
    (void)arg;
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[REQ_LEN], rep[REP_LEN];
    memset(rep, 0x44, sizeof rep);
    while (read_full(fd, req, sizeof req) == 0)
        if (write_full(fd, rep, sizeof rep) != 0)
            break;
    close(fd);
    return NULL;
}

static int measure_rtt(size_t n, uint64_t *out)
{
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(listen_fd, 1) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    pthread_t t;
    pthread_create(&t, NULL, echo_thread, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[REQ_LEN], rep[REP_LEN];
    memset(req, 0x25, sizeof req);
    for (size_t i = 0; i < n + n / 10; i++) {
        uint64_t t0 = now_ns();
        if (write_full(fd, req, sizeof req) != 0 || read_full(fd, rep, sizeof rep) != 0)
            return -1;
        if (i >= n / 10) /* the first tenth warms up */
            out[i - n / 10] = now_ns() - t0;
    }
    close(fd);
    pthread_join(t, NULL);
    close(listen_fd);
    return 0;
}

static int measure_commits(const char *dir, size_t n, uint64_t *out)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, 64u << 20) != 0 ||
        mdb_env_open(env, dir, 0, 0600) != 0)
        return -1;
    if (mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_dbi_open(txn, NULL, 0, &dbi) != 0 ||
        mdb_txn_commit(txn) != 0)
        return -1;
    char val[176];
    memset(val, 0x5a, sizeof val);
    for (size_t i = 0; i < n + n / 10; i++) {
        uint64_t key = __builtin_bswap64((uint64_t)i + 1); /* increasing: appended */
        MDB_val k = {sizeof key, &key}, v = {sizeof val, val};
        uint64_t t0 = now_ns();
        if (mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_put(txn, dbi, &k, &v, 0) != 0 ||
            mdb_txn_commit(txn) != 0)
            return -1;
        if (i >= n / 10)
            out[i - n / 10] = now_ns() - t0;
    }
    mdb_env_close(env);
    return 0;
}

int main(int argc, char **argv)
{
    size_t nrtt = 20000, ncommit = 2000;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rtt") == 0 && i + 1 < argc)
            nrtt = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc)
            ncommit = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: floor [--rtt N] [--commits N] [--dir DIR]\n");
            return 2;
        }
    }
    if (nrtt < 10 || ncommit < 10 || dir == NULL) {
        fprintf(stderr, "usage: floor [--rtt N>=10] [--commits N>=10] --dir DIR\n");
        return 2;
    }
    uint64_t *rtt = calloc(nrtt, sizeof *rtt), *com = calloc(ncommit, sizeof *com);
    if (rtt == NULL || com == NULL)
        return 1;
    if (measure_rtt(nrtt, rtt) != 0) {
        perror("floor: loopback ping-pong");
        return 1;
    }
    if (measure_commits(dir, ncommit, com) != 0) {
        fprintf(stderr, "floor: LMDB commit in %s failed\n", dir);
        return 1;
    }
    qsort(rtt, nrtt, sizeof *rtt, cmp_u64);
    qsort(com, ncommit, sizeof *com, cmp_u64);
    double r50 = q_us(rtt, nrtt, 0.5), c50 = q_us(com, ncommit, 0.5);
    printf("{\"rtt_n\":%zu,\"rtt_p50_us\":%.2f,\"rtt_p99_us\":%.2f,\"rtt_p999_us\":%.2f,"
           "\"commit_n\":%zu,\"commit_p50_us\":%.2f,\"commit_p99_us\":%.2f,"
           "\"commit_p999_us\":%.2f,\"floor_us\":%.2f}\n",
           nrtt, r50, q_us(rtt, nrtt, 0.99), q_us(rtt, nrtt, 0.999), ncommit, c50,
           q_us(com, ncommit, 0.99), q_us(com, ncommit, 0.999), 2 * r50 + 2 * c50);
    free(rtt);
    free(com);
    return 0;
}
