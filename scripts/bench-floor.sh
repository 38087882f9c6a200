#!/usr/bin/env bash
# Builds build/bench_floor with make and runs it from a private copy (others
# may rebuild build/ meanwhile): the kernel's own cost per streamed token on
# this machine over loopback TCP, the floor under issue #9's targets (see the
# comment at the top of scripts/bench_floor.c). Extra arguments are passed
# on, e.g. --seconds 1 --recv-levels 1,1024; --help lists them.
# Exit status: 0 after printing (it measures, it does not gate), 2 on bad
# usage or a setup failure.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
make --no-print-directory BUILD="$build" "$build/bench_floor" >/dev/null || exit 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-floor.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$build/bench_floor" "$tmp/bench_floor"
"$tmp/bench_floor" "$@"
