#!/usr/bin/env bash
# Builds tokmock and tokbench, then runs scripts/bench_fidelity.py (see its
# docstring for what it measures and the targets). Extra arguments are passed
# on, e.g. --levels 1,32. Exit status: 0 every target met, 1 a target missed,
# 2 a run failed.
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory all >/dev/null
exec python3 scripts/bench_fidelity.py "$@"
