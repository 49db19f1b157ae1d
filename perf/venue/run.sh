#!/bin/sh
# perf/venue/run.sh [BUILD_DIR] [FRAMES] - the in-process market-data path: a Binance
# depthUpdate WebSocket frame in memory -> WebSocket codec -> Binance codec -> L2 book, with
# p50/p99/p99.9 per frame and the floors (memcpy of the frame, the WebSocket codec alone, the
# codec without the book) measured in the same run. See venue_bench.c and docs/venues.md.
# Needs: cmake, ninja, a C compiler, liburing, libbearssl, libhttp-parser, libwslay, jansson.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-perf}
FRAMES=${2:-1000000}
WORK=$(mktemp -d /tmp/xr_venue_bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

echo "== building (Release) in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXR_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target xroute_adapters xroute_core >/dev/null
cc -std=gnu17 -O2 -g -Wall -Wextra -Werror -I"$ROOT" -I"$ROOT/include" -I/usr/include/bearssl \
    "$ROOT/perf/venue/venue_bench.c" "$BUILD/adapters/libxroute_adapters.a" \
    "$BUILD/core/libxroute_core.a" -luring -lbearssl -lhttp_parser -lwslay -ljansson -lgmp \
    -llmdb -lpthread -o "$WORK/venue_bench"

echo "== machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
"$WORK/venue_bench" "$FRAMES"
