#!/usr/bin/env python3
"""tokbench's fidelity against tokmock's truth, level by level (issue #9,
SPEC §2.6). For each concurrency level it starts a fresh tokmock with
--truth, runs one synchronized burst with tokbench, and prints:

- timestamp error: |tokbench's time - tokmock's write time| for the first
  response, first token and last token of every request (ms, p50 / p99);
- pp and total-tg error: tokbench's batch pp and tg t/s against the same
  formulas evaluated on the truth's write times (%);
- tokbench CPU per streamed token: its threads' CPU time (schedstat, ns)
  sampled every 5 ms, over the middle of the decode phase (setup, prompt
  building and the report excluded), divided by the tokens the truth says
  were written in that window; also whole-process CPU over all tokens; and
  peak RSS (tokbench's own VmHWM, sampled with the CPU time: wait4's
  ru_maxrss would include this Python process, see benchlib.peak_rss_kib);
- tokmock emission lateness p99 (write time minus scheduled time).

With --breakdown, a comment line after each row gives the user / system
split of that steady-window CPU and wait4's ru_maxrss for comparison.

Exits 1 when a target of SPEC §2.6 is missed, 2 when a run failed.
Usage: scripts/bench_fidelity.py [--levels 1,32,128,512,1024] [--tg 200] [--breakdown]
       [--mock-args=ARGS] [--tokbench-args=ARGS] (the = form: ARGS start with --)
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from benchlib import CpuSampler, pct, steady_cpu_per_token, steady_window  # noqa: E402

TARGETS = {
    "ts_p99_ms": {1: 1.0, 512: 2.0},
    "rate_err_pct": {512: 1.0},
    "cpu_us_per_token": 3.0,
    "rss_mib": {1: 16.0, 1024: 128.0},
}


def run_tokbench(base_url, conc, pp, tg, out_json, seed=1661, extra=()):
    """Runs one burst; returns (exit status, CPU seconds, max RSS KiB, stderr, sampler)."""
    args = [harness.TOKBENCH, "--base-url", base_url + "/v1", "--pp", str(pp), "--tg", str(tg),
            "--concurrency", str(conc), "--runs", "1", "--no-warmup", "--no-adapt-prompt",
            "--skip-coherence", "--latency-mode", "none", "--format", "json",
            "--save-result", out_json, "--timeout", "120", "--quiet", "--progress", "off", "--seed", str(seed),
            *extra]
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    sampler = CpuSampler(proc.pid)
    sampler.start()
    _, status, ru = os.wait4(proc.pid, 0)
    sampler.done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    return proc.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, err.read().decode(
        "utf-8", "replace"), sampler


def measure(level, pp, tg, mock_args=(), bench_args=()):
    row = {"c": level}
    with harness.Tokmock("--truth", "--quiet", "--seed", "7", *mock_args) as mock:
        with tempfile.TemporaryDirectory() as d:
            out_json = os.path.join(d, "run.json")
            rc, cpu1, rss_kb, err, sampler = run_tokbench(mock.base_url, level, pp, tg, out_json,
                                                          extra=bench_args)
            if rc:
                row["error"] = f"tokbench exit {rc}: {err.strip()[-300:]}"
                return row
            with open(out_json) as f:
                data = json.load(f)
            origin, recs = harness.truth_records(mock)
    run = [b for b in data["benchmarks"] if b["response_size"] == tg][0]
    reqs = [q for q in run["requests"] if q["error"] is None]
    failed = len(run["requests"]) - len(reqs)
    pairs = [harness.TruthPair(q, recs[q["id"]], origin) for q in reqs if q["id"] in recs]
    if failed or len(pairs) != level:
        row["error"] = f"{failed} failed requests, {len(pairs)} of {level} matched to truth"
        return row

    ts_err, late = [], []
    by_key = {"first_response_ns": [], "last_token_ns": []}
    for p in pairs:
        for key, ev in (("first_response_ns", p.events[0]), ("first_token_ns", p.token_events[0]),
                        ("last_token_ns", p.token_events[-1])):
            ts_err.append(abs(p.req[key] - ev[0]) / 1e6)
            if key in by_key:
                by_key[key].append(abs(p.req[key] - ev[0]) / 1e6)
        late += [(t - s) / 1e6 for t, _, s in p.events if s is not None]

    # The batch formulas (README "Per-run (batch) values") on truth times.
    start = min(p.req["start_ns"] for p in pairs)
    # The prompt sizes tokbench used for pp, one per request, in order.
    used = (run.get("prompt_tokens") or {}).get("values") or [p.req["prompt_tokens"] for p in pairs]
    pp_truth = sum(used) / (
        (max(p.token_events[0][0] for p in pairs) - start) / 1e9)
    first = min(p.token_events[0][0] for p in pairs)
    last = max(p.token_events[-1][0] for p in pairs)
    after = sum(sum(e[1] for e in p.token_events if e[0] > p.token_events[0][0]) for p in pairs)
    tg_truth = after / ((last - first) / 1e9)
    pp_meas = run["pp_throughput"]["mean"]
    tg_meas = run["tg_throughput"]["mean"]

    tokens1 = sum(q["tokens"] for q in reqs)
    steady = steady_cpu_per_token(sampler, pairs)
    user_share = sampler.user_share(*steady_window(pairs))
    row.update({
        "ts_p50_ms": pct(ts_err, 50), "ts_p99_ms": pct(ts_err, 99),
        # The same split by event: the first responses of a burst arrive
        # together at the end of prefill, the last tokens spread out.
        "fr_p99_ms": pct(by_key["first_response_ns"], 99),
        "lt_p99_ms": pct(by_key["last_token_ns"], 99),
        "pp_err_pct": 100.0 * (pp_meas / pp_truth - 1.0),
        "tg_err_pct": 100.0 * (tg_meas / tg_truth - 1.0),
        "cpu_us_per_token": steady / 1e3 if steady is not None else float("nan"),
        "cpu_us_per_token_all": 1e6 * cpu1 / max(1, tokens1),
        "rss_mib": (sampler.hwm_kib if sampler.hwm_kib else rss_kb) / 1024.0,
        "ru_maxrss_mib": rss_kb / 1024.0,
        "user_share": user_share,
        "late_p99_ms": pct(late, 99),
        "tokens": tokens1,
    })
    return row


def misses(row):
    out = []
    c = row["c"]
    if "error" in row:
        return [row["error"]]
    lim = TARGETS["ts_p99_ms"].get(c)
    if lim is not None and row["ts_p99_ms"] > lim:
        out.append(f"c={c}: timestamp p99 {row['ts_p99_ms']:.3f} ms > {lim} ms")
    lim = TARGETS["rate_err_pct"].get(c)
    if lim is not None:
        for k in ("pp_err_pct", "tg_err_pct"):
            if abs(row[k]) > lim:
                out.append(f"c={c}: {k} {row[k]:+.2f}% beyond ±{lim}%")
    if not row["cpu_us_per_token"] <= TARGETS["cpu_us_per_token"]:
        out.append(f"c={c}: CPU {row['cpu_us_per_token']:.2f} µs/token > "
                   f"{TARGETS['cpu_us_per_token']}")
    lim = TARGETS["rss_mib"].get(c)
    if lim is not None and row["rss_mib"] > lim:
        out.append(f"c={c}: RSS {row['rss_mib']:.1f} MiB > {lim} MiB")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="1,32,128,512,1024")
    ap.add_argument("--pp", type=int, default=64)
    ap.add_argument("--tg", type=int, default=200)
    ap.add_argument("--mock-args", default="",
                    help='extra tokmock arguments, e.g. "--no-realtime" or "--emitters 0"')
    ap.add_argument("--tokbench-args", default="",
                    help='extra tokbench arguments, e.g. "--realtime"')
    ap.add_argument("--breakdown", action="store_true",
                    help="after each row, the user/system split of the steady CPU")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",") if x]
    mock_args = shlex.split(a.mock_args)
    bench_args = shlex.split(a.tokbench_args)
    print(f"# tokbench fidelity vs tokmock truth: pp {a.pp}, tg {a.tg}, one burst per level; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; tokmock args: "
          f"{shlex.join(mock_args) if mock_args else '(defaults)'}; tokbench args: "
          f"{shlex.join(bench_args) if bench_args else '(defaults)'}")
    hdr = (f"{'c':>5} | {'ts p50 ms':>9} | {'ts p99 ms':>9} | {'pp err %':>8} | {'tg err %':>8} | "
           f"{'µs/tok':>7} | {'µs/tok all':>10} | {'RSS MiB':>7} | {'mock late p99 ms':>16} | "
           f"{'1st resp p99':>12} | {'last tok p99':>12}")
    print(hdr)
    print("-" * len(hdr))
    missed = []
    failed = False
    for c in levels:
        t0 = time.monotonic()
        row = measure(c, a.pp, a.tg, mock_args, bench_args)
        if "error" in row:
            print(f"{c:>5} | run failed: {row['error']}")
            failed = True
            continue
        print(f"{c:>5} | {row['ts_p50_ms']:9.3f} | {row['ts_p99_ms']:9.3f} | "
              f"{row['pp_err_pct']:+8.2f} | {row['tg_err_pct']:+8.2f} | "
              f"{row['cpu_us_per_token']:7.2f} | {row['cpu_us_per_token_all']:10.2f} | "
              f"{row['rss_mib']:7.1f} | {row['late_p99_ms']:16.3f} | "
              f"{row['fr_p99_ms']:12.3f} | {row['lt_p99_ms']:12.3f}   ({time.monotonic() - t0:.0f} s)",
              flush=True)
        if a.breakdown:
            us = row["user_share"]
            split = (f"user {100 * us:.0f}% / system {100 - 100 * us:.0f}%" if us is not None
                     else "user/system split n/a (too few CPU ticks in the window)")
            print(f"#   c={c}: steady CPU {split}; ru_maxrss {row['ru_maxrss_mib']:.1f} MiB "
                  f"(includes the Python parent)", flush=True)
        missed += misses(row)
    for m in missed:
        print("MISSED " + m)
    if failed:
        return 2
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
