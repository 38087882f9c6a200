#!/usr/bin/env bash
# Micro-benchmark of the chunk decoder (client/chunk.c) against the cJSON
# reference it replaced (tests/chunk_ref.c): ns per event on the recorded
# streams, first every fixture event (real llama.cpp captures and tokmock's
# personalities), then only tokmock's streams (what bench-fidelity decodes).
# Builds the libraries with make, then the driver scripts/bench_chunk.c into
# BUILD (default build/). Usage: scripts/bench-chunk.sh [-r ROUNDS] [-n REPEATS]
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
make --no-print-directory BUILD="$build" "$build/libclient.a" "$build/libcommon.a" >/dev/null
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 \
    -Werror -O2 -g -I. -o "$build/bench_chunk" scripts/bench_chunk.c \
    "$build/libclient.a" "$build/libcommon.a" -lcjson -lm
echo "# all fixture events (fixtures/streams/*.body.sse, *.body.json)"
"$build/bench_chunk" "$@" fixtures/streams/*.body.sse fixtures/streams/*.body.json
echo "# tokmock streams only (fixtures/streams/tokmock-*.body.sse)"
"$build/bench_chunk" "$@" fixtures/streams/tokmock-*.body.sse
