#!/usr/bin/env bash
# Runs every unit test binary and every integration test, counts the
# "PASS name" / "FAIL name" lines they print, and ends with the line
# "N passed, N failed". Usage: tests/run.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
failures=()

run_one() { # label, command...
    local label=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    local p f
    p=$(grep -c '^PASS ' <<<"$out")
    f=$(grep -c '^FAIL ' <<<"$out")
    # A binary that crashes or exits non-zero without reporting a failure
    # still counts as one failure: nothing is lost silently.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        out+=$'\n'"FAIL $label (exit status $rc)"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        failures+=("$label")
        printf '%s\n' "$out"
    elif [ "${VERBOSE:-0}" = 1 ]; then
        printf '%s\n' "$out"
    fi
    printf '%-40s %3d passed, %d failed\n' "$label" "$p" "$f"
}

for t in "$build"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    run_one "unit/$(basename "$t")" "$t"
done

export TOKMOCK="$root/$build/tokmock" TOKBENCH="$root/$build/tokbench"
for t in "$root"/tests/integration/test_*.py; do
    [ -e "$t" ] || continue
    run_one "integration/$(basename "$t")" python3 "$t"
done

if [ "${#failures[@]}" -ne 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
