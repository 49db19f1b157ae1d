#!/bin/sh
# perf/ledger/run.sh [BUILD_DIR] - the ledger benchmark, one script, one run, side by side:
#
#   1. durable trades/s of the xroute ledger (LMDB, group commit) at batch sizes
#      1, 16, 256 and 4096, with p50/p99 commit latency;
#   2. the same trade done the original brief's way on PostgreSQL 15 (Debian's package),
#      started here on a temporary data directory bound to 127.0.0.1 and stopped afterwards;
#   3. both rates and their ratio.
#
# A trade is described in ledger_bench.c and docs/ledger.md. Environment:
#   XR_BENCH_SECONDS  seconds per measurement (default 5)
#   XR_BENCH_DIR      where the databases go (default: a fresh directory under /tmp; use the
#                     disk you want to measure)
#   XR_BENCH_BATCHES  batch sizes (default "1 16 256 4096")
#   XR_BENCH_HASHER   also measure with the chain-hashing thread (default 1)
#   PGBIN             PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
# Instruction counts (repeatable on a busy machine, unlike wall time): build ledger_bench as
# below without -DXR_BENCH_WITH_PG, then run it twice under
#   XR_BENCH_MAP_MB=2048 XR_BENCH_NO_VERIFY=1 XR_BENCH_MAX_BATCHES=N valgrind --tool=callgrind \
#       --toggle-collect=xr_ledger_execute ledger_bench lmdb DIR 256 1000 nosync
# with N = 2 and N = 22 and divide the difference by the difference in trades (5,120).
# Valgrind does not offer the SHA extensions, so under it the chain uses BearSSL's code.
# Needs: cmake, a C compiler, liblmdb-dev, libbearssl-dev, libpq-dev, postgresql-15.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-perf}
SECS=${XR_BENCH_SECONDS:-5}
BATCHES=${XR_BENCH_BATCHES:-"1 16 256 4096"}
HASHER=${XR_BENCH_HASHER:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BASE=${XR_BENCH_DIR:-/tmp}
WORK=$(mktemp -d "$BASE/xr_ledger_bench.XXXXXX")
PGDATA=$WORK/pg
PGPORT=$((20000 + $$ % 20000))
PG_STARTED=0

as_pg() {
    # initdb and postgres refuse to run as root: use the postgres account then.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    if [ "$PG_STARTED" = 1 ]; then
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building (Release) in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DXR_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target xroute_core -j 2 >/dev/null
PGINC=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
cc -std=gnu17 -O2 -g -Wall -Wextra -I"$ROOT" -I"$ROOT/include" -I/usr/include/bearssl \
    -I"$PGINC" -DXR_BENCH_WITH_PG "$ROOT/perf/ledger/ledger_bench.c" \
    "$BUILD/core/libxroute_core.a" -llmdb -lbearssl -lpq -lpthread -o "$WORK/ledger_bench"

echo "== machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "== databases on: $(df -P "$WORK" | awk 'NR == 2 { print $1 " mounted on " $6 }')"

RESULTS=$WORK/results
: >"$RESULTS"
run_lmdb() { # run_lmdb BATCH MODE(single|hasher)
    rm -rf "$WORK/lmdb"
    if [ "$2" = hasher ]; then
        XR_BENCH_HASHER=1 "$WORK/ledger_bench" lmdb "$WORK/lmdb" "$1" "$SECS" | tee -a "$RESULTS"
    else
        XR_BENCH_HASHER=0 "$WORK/ledger_bench" lmdb "$WORK/lmdb" "$1" "$SECS" | tee -a "$RESULTS"
    fi
}
echo "== xroute ledger, durable (fdatasync per commit), ${SECS}s per batch size"
for b in $BATCHES; do run_lmdb "$b" single; done
if [ "$HASHER" = 1 ]; then
    echo "== xroute ledger, durable, with the chain-hashing thread"
    for b in $BATCHES; do run_lmdb "$b" hasher; done
fi

echo "== PostgreSQL 15, the brief's design, durable (fsync=on, synchronous_commit=on)"
mkdir -p "$PGDATA"
chmod 755 "$WORK"
[ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$PGDATA/log" \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories='' -c fsync=on -c synchronous_commit=on" \
    start >/dev/null
PG_STARTED=1
"$WORK/ledger_bench" pg "host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres" "$SECS" |
    tee -a "$RESULTS"
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
PG_STARTED=0

echo
echo "== summary (trades per second; ratio = ledger / PostgreSQL)"
# Integer arithmetic only: the ratio is printed with one decimal from a x10 quotient.
awk '
function val(line, key,    i, n, kv) {
    n = split(line, kv, " ")
    for (i = 1; i <= n; i++) if (index(kv[i], key "=") == 1) return substr(kv[i], length(key) + 2)
    return ""
}
/side=pg/ { pg = val($0, "trades_per_s"); pgp50 = val($0, "p50_us"); pgp99 = val($0, "p99_us") }
/side=lmdb/ { n++; b[n] = val($0, "batch"); h[n] = val($0, "hasher"); r[n] = val($0, "trades_per_s")
              p50[n] = val($0, "p50_us"); p99[n] = val($0, "p99_us") }
END {
    printf "%-28s %12s %12s %12s %10s\n", "side", "trades/s", "p50 commit", "p99 commit", "ratio"
    for (i = 1; i <= n; i++) {
        q = pg > 0 ? int(r[i] * 10 / pg) : 0
        printf "%-28s %12d %10dus %10dus %8d.%dx\n", \
            "ledger batch " b[i] (h[i] == 1 ? " +hasher" : ""), r[i], p50[i], p99[i], q / 10, q % 10
    }
    printf "%-28s %12d %10dus %10dus %10s\n", "postgresql (2 txns/trade)", pg, pgp50, pgp99, "1.0x"
}' "$RESULTS"
