#!/bin/sh
# Installs the build into a scratch prefix and builds three consumers against only what was
# installed: a C program through pkg-config, the same API from C++, and a CMake project
# through find_package(xroute). Each consumer checks real results and exits non-zero if wrong.
set -eu
BUILD=$1
PREFIX=$2
SRC=$3
WORK=$PREFIX.work
rm -rf "$PREFIX" "$WORK"
mkdir -p "$WORK"
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null

PC=$(dirname "$(find "$PREFIX" -name xroute.pc | head -n 1)")
[ -n "$PC" ] || { echo "xroute.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$PC"
CFLAGS=$(pkg-config --cflags xroute)
LIBS=$(pkg-config --libs --static xroute)

# The installed headers must be the only xroute headers visible.
cc -std=c17 -Wall -Wextra -Werror $CFLAGS "$SRC/consumer.c" $LIBS -o "$WORK/consumer_c"
"$WORK/consumer_c"
c++ -std=c++17 -Wall -Wextra -Werror -x c++ $CFLAGS "$SRC/consumer.c" -x none $LIBS \
    -o "$WORK/consumer_cxx"
"$WORK/consumer_cxx"

cmake -S "$SRC/cmake_consumer" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$WORK/cmake" >/dev/null
"$WORK/cmake/consumer"
echo "install: pkg-config C, pkg-config C++ and find_package consumers passed"
