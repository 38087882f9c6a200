#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_FUZZ/fuzz/ for SECONDS each, on a
# working corpus in BUILD_FUZZ/corpus/<target> seeded from
# tests/fuzz/corpus/<target> (the seeds are read, never written). Prints the
# executions run per target and stops with status 1 on the first crash, whose
# input is kept in BUILD_FUZZ/artifacts/. Usage: tests/fuzz/run.sh BUILD_FUZZ SECONDS
set -u
build=${1:-build-fuzz}
seconds=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/artifacts" "$build/logs"

dict_for() {
    case "$1" in
    fuzz_sse) echo "$here/sse.dict" ;;
    fuzz_stream | fuzz_chunk | fuzz_mock_request)
        # libFuzzer takes one dictionary: merge the ones that apply.
        local d="$build/$1.dict"
        if [ "$1" = fuzz_stream ]; then cat "$here/sse.dict" "$here/json.dict" >"$d"
        else cat "$here/json.dict" >"$d"; fi
        echo "$d" ;;
    fuzz_extra_body | fuzz_slo) echo "$here/cli.dict" ;;
    fuzz_fault) echo "$here/fault.dict" ;;
    fuzz_reload) echo "$here/json.dict" ;;
    esac
}

total=0
crashed=()
printf '%-20s %12s %8s %10s\n' target executions exec/s coverage
for bin in "$build"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    work="$build/corpus/$t"
    mkdir -p "$work"
    log="$build/logs/$t.log"
    dict=$(dict_for "$t")
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192
          -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-")
    [ -n "$dict" ] && args+=(-dict="$dict")
    seeds=()
    [ -d "$here/corpus/$t" ] && seeds=("$here/corpus/$t")
    "$bin" "${args[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    printf '%-20s %12s %8s %10s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}"
    total=$((total + ${runs:-0}))
    if [ "$rc" -ne 0 ]; then
        crashed+=("$t")
        echo "CRASH in $t (exit $rc); log: $log"
        grep -E 'ERROR: |SUMMARY: |runtime error|fuzz invariant|Test unit written' "$log" | head -20
    fi
done
echo "fuzz: $total executions in total, ${#crashed[@]} target(s) crashed${crashed:+: ${crashed[*]}}"
[ "${#crashed[@]}" -eq 0 ]
