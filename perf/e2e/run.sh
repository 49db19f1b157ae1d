#!/bin/sh
# perf/e2e/run.sh [BUILD_DIR] - the bank round trip end to end, in one run:
#
#   xroute-bank load (client.h) -> TCP -> gateway -> engine (durable reservation) -> simulated
#   venue (REST over loopback) -> fill -> durable post -> outbox commit -> report -> TCP -> bank
#
# open-loop at 100 (unsaturated baseline), 1k, 10k and 50k orders/s (latency from each order's intended send time, so
# coordinated omission is corrected: see tools/xroute-bank/main.c), p50 / p99 / p99.9; in the
# same run the floor from the same primitives (perf/e2e/floor.c: loopback ping-pong of the
# protocol's 136/216-byte messages, one durable LMDB commit) and the ratio of our p50 to
# 2 x RTT + 2 x commit. Writes PNG plots and report.md to perf/e2e/out/ (gitignored).
#
# Also in the same run (issue 6):
#   - the reservation acknowledged from memory: the same bank round trip with durability off,
#     the server run under perf/e2e/nosync_preload.so (BENCHMARK ONLY: LD_PRELOAD makes fsync,
#     fdatasync and O_DSYNC no-ops for the ledger, the order store and the outbox alike; the
#     product has no such switch), at E2E_NOSYNC_RATES (default "100 1000"), with its ratio to
#     the loopback RTT (goal p50 <= 1.5 x RTT); the floor's commit is measured under it too;
#   - the embedded engine.h round trip over two in-process simulated venues
#     (perf/e2e/embedded.c): E2E_EMBEDDED_N (default 5000) sequential NEW_ORDER MARKET, submit
#     -> final execution report, schedules inline and threads, durable and no-sync.
#
# The server is bank_host (tests/cli_bank/bank_host.c: the gateway over the engine and two
# in-process simulated venues with deep fixed books), or xrouted when E2E_TARGET=xrouted
# (its embedded default on a temporary data directory; credentials read from the data
# directory, demo-bank.env; E2E_SCHEDULE=threads|inline sets its [engine] schedule, default
# the daemon's: threads). E2E_RATES (default "100 1000 10000 50000") and E2E_SECONDS
# (default 5) change
# the load. Runs in well under 5 minutes; not part of CI.
# Needs: the build dependencies (scripts/deps) and python3-matplotlib for the plots.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-perf-e2e}
OUT=$ROOT/perf/e2e/out
RATES=${E2E_RATES:-"100 1000 10000 50000"}
SECONDS_PER_RATE=${E2E_SECONDS:-5}
TARGET=${E2E_TARGET:-host}
WORK=$(mktemp -d /tmp/xr_e2e.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    cp "$WORK/server.err" "$OUT/server.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.png "$OUT"/*.json "$OUT"/*.err "$OUT"/report.md "$OUT"/server.log

echo "== building (Release) in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    # XR_WERROR=OFF: a compiler warning of -O3 alone must not stop a measurement (CI builds
    # with warnings as errors).
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXR_BUILD_BENCH=OFF -DXR_WERROR=OFF \
        -DXR_BUILD_FUZZERS=OFF >/dev/null
fi
TARGETS="xroute xroute-bank bank_host"
[ "$TARGET" = xrouted ] && TARGETS="$TARGETS xrouted"
# shellcheck disable=SC2086
cmake --build "$BUILD" --target $TARGETS >/dev/null
cc -std=gnu17 -O2 -Wall -Wextra -Werror "$ROOT/perf/e2e/floor.c" -llmdb -lpthread \
    -o "$WORK/floor"
cc -std=gnu17 -O2 -Wall -Wextra -Werror -shared -fPIC "$ROOT/perf/e2e/nosync_preload.c" -ldl \
    -o "$WORK/nosync_preload.so"
cc -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -Wmissing-prototypes \
    -Wno-missing-field-initializers -I"$ROOT" -I"$ROOT/include" -isystem /usr/include/bearssl \
    "$ROOT/perf/e2e/embedded.c" "$BUILD/adapters/libxroute_adapters.a" \
    "$BUILD/core/libxroute_core.a" -linih -luring -lbearssl -lhttp_parser -lwslay -llmdb \
    -ljansson -lpthread -lm -o "$WORK/embedded"
NOSYNC_RATES=${E2E_NOSYNC_RATES:-"100 1000"}
EMB_N=${E2E_EMBEDDED_N:-5000}
PRELOAD=

echo "== machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "== floor: loopback ping-pong 136/216 bytes, durable LMDB commit"
mkdir -p "$WORK/floor-lmdb"
"$WORK/floor" --dir "$WORK/floor-lmdb" --rtt 20000 --commits 2000 | tee "$OUT/floor.json"
echo "== floor under nosync_preload.so (the commit from memory)"
rm -rf "$WORK/floor-lmdb"
mkdir -p "$WORK/floor-lmdb"
LD_PRELOAD="$WORK/nosync_preload.so" "$WORK/floor" --dir "$WORK/floor-lmdb" --rtt 2000 \
    --commits 2000 | tee "$OUT/floor_nosync.json"

# A fresh server per rate: a saturated run must not leave its backlog to the next one.
start_server() {
    rm -rf "$WORK/srv"
    mkdir -p "$WORK/srv"
    if [ "$TARGET" = xrouted ]; then
        printf '[engine]\nschedule = %s\n' "${E2E_SCHEDULE:-threads}" >"$WORK/srv/xrouted.ini"
        env ${PRELOAD:+LD_PRELOAD=$PRELOAD} "$BUILD/tools/xrouted" --config "$WORK/srv/xrouted.ini" --data-dir "$WORK/srv/data" \
            --listen 127.0.0.1:0 >"$WORK/server.out" 2>>"$WORK/server.err" &
        SERVER_PID=$!
        READY='xrouted ready'
        CRED="$WORK/srv/data/demo-bank.env"
    else
        env ${PRELOAD:+LD_PRELOAD=$PRELOAD} "$BUILD/tests/cli_bank/bank_host" --dir "$WORK/srv/host" --deep >"$WORK/server.out" \
            2>>"$WORK/server.err" &
        SERVER_PID=$!
        READY='^ready port='
        CRED="$WORK/srv/host/credentials"
    fi
    i=0
    until grep -q "$READY" "$WORK/server.out" 2>/dev/null && [ -f "$CRED" ]; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server did not start:"; cat "$WORK/server.out" "$WORK/server.err"; exit 1
        fi
        sleep 0.1
    done
    CONN=
    if [ "$TARGET" = xrouted ]; then
        # the port actually listened on is in the readiness line
        CONN="--connect $(sed -n 's/^xrouted ready bank=\([^ ]*\) .*/\1/p' "$WORK/server.out")"
    fi
    # The venues' books reach the engine once its streams have synced.
    i=0
    # shellcheck disable=SC2086
    until "$BUILD/tools/xroute" book BTC/USDT --credentials "$CRED" $CONN >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 150 ] && { echo "no BTC/USDT book"; exit 1; }
        sleep 0.2
    done
}
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

echo "== server: $TARGET, started afresh for each rate"
for r in $RATES; do
    start_server
    echo "== load: $r orders/s for $SECONDS_PER_RATE s"
    # shellcheck disable=SC2086
    "$BUILD/tools/xroute-bank" load --credentials "$CRED" $CONN --rate "$r" \
        --duration "$SECONDS_PER_RATE" --out "$OUT/latency_$r.txt" --json \
        >"$OUT/load_$r.json" 2>"$OUT/load_$r.err" || true
    cat "$OUT/load_$r.json" "$OUT/load_$r.err"
    stop_server
done

echo "== server: $TARGET under nosync_preload.so (acknowledged from memory), afresh for each rate"
PRELOAD="$WORK/nosync_preload.so"
for r in $NOSYNC_RATES; do
    start_server
    echo "== load (no sync): $r orders/s for $SECONDS_PER_RATE s"
    # shellcheck disable=SC2086
    "$BUILD/tools/xroute-bank" load --credentials "$CRED" $CONN --rate "$r" \
        --duration "$SECONDS_PER_RATE" --out "$OUT/latency_nosync_$r.txt" --json \
        >"$OUT/load_nosync_$r.json" 2>"$OUT/load_nosync_$r.err" || true
    cat "$OUT/load_nosync_$r.json" "$OUT/load_nosync_$r.err"
    stop_server
done
PRELOAD=

echo "== embedded engine.h round trip, in-process venues, $EMB_N sequential market orders"
for sched in inline threads; do
    for dur in durable nosync; do
        rm -rf "$WORK/emb"
        mkdir -p "$WORK/emb"
        pre=
        [ "$dur" = nosync ] && pre="$WORK/nosync_preload.so"
        env ${pre:+LD_PRELOAD=$pre} "$WORK/embedded" --dir "$WORK/emb" --n "$EMB_N" \
            --schedule "$sched" --out "$OUT/latency_emb_${sched}_$dur.txt" \
            >"$OUT/emb_${sched}_$dur.json" 2>>"$WORK/server.err" || true
        printf '%s %s: ' "$sched" "$dur"
        cat "$OUT/emb_${sched}_$dur.json"
    done
done

echo "== report"
# The plots need Debian's python3-matplotlib: prefer the system interpreter that has it.
PY=python3
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then PY=/usr/bin/python3; fi
"$PY" - "$OUT" "$RATES" "$TARGET" "$NOSYNC_RATES" <<'EOF'
import json, os, sys
out, rates, target, nrates = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4].split()
floor = json.load(open(f"{out}/floor.json"))
def load_json(p, fallback):
    try:
        return json.load(open(p))
    except Exception as e:
        return dict(fallback, error=str(e))
rows = [load_json(f"{out}/load_{r}.json", {"rate": int(r)}) for r in rates]
nrows = [load_json(f"{out}/load_nosync_{r}.json", {"rate": int(r)}) for r in nrates]
fnos = load_json(f"{out}/floor_nosync.json", {})
emb = {(s, d): load_json(f"{out}/emb_{s}_{d}.json", {"schedule": s})
       for s in ("inline", "threads") for d in ("durable", "nosync")}
rtt = floor["rtt_p50_us"]
fl = floor["floor_us"]
lines = ["# xroute end-to-end round trip", "",
         f"Server: {target}. One run of perf/e2e/run.sh on {os.cpu_count()} CPUs. Latency from each order's",
         "intended send time to its execution report (open loop, coordinated omission corrected).", "",
         "## Floor (same run)", "",
         "| primitive | p50 us | p99 us | p99.9 us |", "|---|---|---|---|",
         f"| loopback ping-pong 136/216 B | {floor['rtt_p50_us']:.1f} | {floor['rtt_p99_us']:.1f} | {floor['rtt_p999_us']:.1f} |",
         f"| durable LMDB commit | {floor['commit_p50_us']:.1f} | {floor['commit_p99_us']:.1f} | {floor['commit_p999_us']:.1f} |",
         "", f"Floor of one order: 2 x RTT + 2 x commit = **{fl:.1f} us** (p50s).", "",
         "## Load", "",
         "| rate /s | sent | answered | filled | rejected | answers/s | p50 us | p99 us | p99.9 us | max us | p50 / floor |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
for d in rows:
    if "p50_us" not in d:
        err = open(f"{out}/load_{d.get('rate')}.err").read().strip().replace("\n", " ") if os.path.exists(f"{out}/load_{d.get('rate')}.err") else ""
        lines.append(f"| {d.get('rate')} | - | - | - | - | - | - | - | - | - | no result: {err or d.get('error','failed')} |")
        continue
    aps = d["answered"] / d["seconds"] if d["seconds"] else 0
    lines.append(f"| {d['rate']} | {d['sent']} | {d['answered']} | {d['filled']} | {d['rejects']} | {aps:.0f} | "
                 f"{d['p50_us']:.0f} | {d['p99_us']:.0f} | {d['p999_us']:.0f} | {d['max_us']:.0f} | "
                 f"{d['p50_us']/fl:.2f} |")
    why = dict(d.get("reject_names", {}))
    for k, v in d.get("not_filled_names", {}).items():
        why["not filled " + k] = v
    if why:
        lines.append(f"|  | {', '.join(f'{k}: {v}' for k, v in why.items())} |||||||||| ")
lines += ["", "Goal (issue 6): p50 <= 1.25 x floor; >= 50k orders/s with p99 <= 2 ms.", "",
          "## Reservation acknowledged from memory (same run)", "",
          "The same server and load with durability off: the server runs under",
          "perf/e2e/nosync_preload.so (BENCHMARK ONLY: fsync/fdatasync/O_DSYNC are no-ops, every",
          "LMDB write still happens). Under it the floor's LMDB commit takes "
          f"{fnos.get('commit_p50_us', float('nan')):.1f} us p50 "
          f"(durable {floor['commit_p50_us']:.1f} us).", "",
          "| rate /s | sent | answered | filled | p50 us | p99 us | p99.9 us | max us | p50 / RTT |",
          "|---|---|---|---|---|---|---|---|---|"]
for d in nrows:
    if "p50_us" not in d:
        lines.append(f"| {d.get('rate')} | - | - | - | - | - | - | - | no result: {d.get('error', 'failed')} |")
        continue
    lines.append(f"| {d['rate']} | {d['sent']} | {d['answered']} | {d['filled']} | {d['p50_us']:.0f} | "
                 f"{d['p99_us']:.0f} | {d['p999_us']:.0f} | {d['max_us']:.0f} | {d['p50_us']/rtt:.2f} |")
lines += ["", f"Loopback RTT p50 of the same run: {rtt:.1f} us. Goal (issue 6): p50 <= 1.5 x RTT.", "",
          "## Embedded engine.h round trip (same run)", "",
          "perf/e2e/embedded.c: the engine over two in-process simulated venues (REST + WebSocket on",
          "loopback, polled by the caller's thread), sequential NEW_ORDER MARKET BUY 0.001 BTC,",
          "submit -> final execution report (closed loop, 200 warm-up orders not counted).", "",
          "| schedule | durability | n | filled | p50 us | p99 us | p99.9 us | max us |",
          "|---|---|---|---|---|---|---|---|"]
for (s, dur), d in emb.items():
    if "p50_us" not in d:
        lines.append(f"| {s} | {dur} | - | - | - | - | - | no result: {d.get('error', 'failed')} |")
        continue
    lines.append(f"| {s} | {dur} | {d['n']} | {d['filled']} | {d['p50_us']:.1f} | {d['p99_us']:.1f} | "
                 f"{d['p999_us']:.1f} | {d['max_us']:.1f} |")
lines += ["", "![latency CDF](latency_cdf.png)", "", "![percentiles](percentiles.png)", "",
          "![embedded CDF](embedded_cdf.png)", ""]
open(f"{out}/report.md", "w").write("\n".join(lines))
print("\n".join(lines))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("python3-matplotlib is missing (scripts/deps installs it): no plots")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(8, 5))
for r in rates:
    p = f"{out}/latency_{r}.txt"
    if not os.path.exists(p):
        continue
    v = sorted(int(x) / 1e3 for x in open(p) if int(x) >= 0)
    if not v:
        continue
    n = len(v)
    ax.plot(v, [(i + 1) / n for i in range(n)], label=f"{r}/s (n={n})")
for r in nrates:
    p = f"{out}/latency_nosync_{r}.txt"
    if not os.path.exists(p):
        continue
    v = sorted(int(x) / 1e3 for x in open(p) if int(x) >= 0)
    if not v:
        continue
    n = len(v)
    ax.plot(v, [(i + 1) / n for i in range(n)], linestyle=":", label=f"{r}/s no sync (n={n})")
ax.axvline(rtt * 1.5, color="grey", linestyle=":", label=f"1.5 x RTT {rtt * 1.5:.0f} us")
ax.axvline(fl, color="k", linestyle="--", label=f"floor {fl:.0f} us")
ax.set_xscale("log"); ax.set_xlabel("latency from intended send (us)"); ax.set_ylabel("CDF")
ax.set_title("xroute bank round trip"); ax.legend(); ax.grid(True, which="both", alpha=0.3)
fig.savefig(f"{out}/latency_cdf.png", dpi=100)
fig, ax = plt.subplots(figsize=(8, 5))
ok = [d for d in rows if "p50_us" in d]
for key, name in (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")):
    ax.plot([d["rate"] for d in ok], [d[key] for d in ok], marker="o", label=name)
ax.axhline(fl, color="k", linestyle="--", label="floor")
ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("intended rate (orders/s)")
ax.set_ylabel("latency (us)"); ax.legend(); ax.grid(True, which="both", alpha=0.3)
fig.savefig(f"{out}/percentiles.png", dpi=100)
fig, ax = plt.subplots(figsize=(8, 5))
for (s, dur) in emb:
    p = f"{out}/latency_emb_{s}_{dur}.txt"
    if not os.path.exists(p):
        continue
    v = sorted(int(x) / 1e3 for x in open(p) if x.strip())
    if not v:
        continue
    n = len(v)
    ax.plot(v, [(i + 1) / n for i in range(n)], label=f"{s}, {dur} (n={n})")
ax.set_xscale("log"); ax.set_xlabel("submit -> final report (us)"); ax.set_ylabel("CDF")
ax.set_title("embedded engine.h round trip, in-process venues"); ax.legend()
ax.grid(True, which="both", alpha=0.3)
fig.savefig(f"{out}/embedded_cdf.png", dpi=100)
print(f"plots: {out}/latency_cdf.png {out}/percentiles.png {out}/embedded_cdf.png")
EOF
echo "== written: $OUT/report.md"
