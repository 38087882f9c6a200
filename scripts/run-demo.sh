#!/usr/bin/env bash
# `make run`: starts tokmock on a free loopback port, benchmarks it with
# tokbench (pp 512/2048, tg 32, depth 0/4096, prefix caching on), prints the
# table, then one line per figure saying how far it is from the rate tokmock
# was configured with. Usage: scripts/run-demo.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
PP_RATE=1000
TG_RATE=50
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$build/tokmock" --port 0 --port-file "$work/port" --pid-file "$work/pid" \
    --pp-rate "$PP_RATE" --tg-rate "$TG_RATE" --quiet 2>"$work/tokmock.log" &
mock_pid=$!
for _ in $(seq 1 500); do # up to 5 s for the port file
    [ -s "$work/port" ] && break
    kill -0 "$mock_pid" 2>/dev/null || { cat "$work/tokmock.log" >&2; exit 1; }
    sleep 0.01
done
[ -s "$work/port" ] || { echo "tokmock did not start" >&2; exit 1; }
port=$(cat "$work/port")
echo "tokmock on 127.0.0.1:$port (pp-rate $PP_RATE tok/s, tg-rate $TG_RATE tok/s)" >&2

"$build/tokbench" --base-url "http://127.0.0.1:$port/v1" --pp 512 2048 --tg 32 \
    --depth 0 4096 --enable-prefix-caching --runs 2 --quiet | tee "$work/table.md"

python3 "$(dirname "$0")/demo_compare.py" "$work/table.md" "$PP_RATE" "$TG_RATE"
