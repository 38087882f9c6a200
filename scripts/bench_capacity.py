#!/usr/bin/env python3
"""tokmock's capacity (issue #9, SPEC §2.6): how many concurrent streams it
plays on time. For each level N it starts a fresh tokmock with --truth,
drives N concurrent streams at it and prints:

- emission lateness: write time minus scheduled time of every token event,
  from the truth record (ms, p50 / p99 / max);
- tokmock CPU per token: its threads' CPU time (schedstat, sampled every
  5 ms) over the middle of the decode phase, divided by the tokens written
  in that window;
- tokmock peak RSS (VmHWM) and RSS per stream;
- readiness: time from spawn until GET /health answers 200 (best of 3).

The load (--load) is build/loadgen by default: the lightest client we have
(scripts/loadgen.c; one streaming request per connection, reads batched every
50 ms, no parsing), opening the N connections evenly over --ramp-ms as load
reaches a real server. --load tokbench drives one tokbench burst instead
(every request at once, and tokbench's own CPU beside tokmock's). Every
request must end with its tokens as the truth records them, or the level
fails.

Targets: p99 lateness <= 1 ms at 2000 streams; ready within 20 ms. Exits 1
when one is missed, 2 when a run failed.
Usage: scripts/bench_capacity.py [--levels 500,1000,2000] [--tg 250]
                                  [--load loadgen|tokbench] [--ramp-ms 1000]
                                  [--mock-args "--emitters 0"]
--mock-args: extra tokmock arguments (split like a shell would), added to
every level's tokmock, e.g. "--emitters 0" for the thread-per-stream path.
"""
import argparse
import http.client
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
from benchlib import CpuSampler, pct, steady_cpu_per_token  # noqa: E402

LOADGEN = os.environ.get("LOADGEN", os.path.join(ROOT, "build", "loadgen"))
LATE_P99_MS = 1.0
LATE_AT = 2000
READY_MS = 20.0


def ready_ms(mock_args=()):
    """Spawn-to-first-200 of GET /health, polled without sleeping."""
    d = tempfile.mkdtemp(prefix="tokmock-ready-")
    port_file = os.path.join(d, "port")
    t0 = time.monotonic()
    proc = subprocess.Popen([harness.TOKMOCK, "--port", "0", "--port-file", port_file, "--quiet",
                             *mock_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = t0 + 5.0
        while time.monotonic() < deadline:
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return (time.monotonic() - t0) * 1e3
            except (OSError, ValueError):
                pass
        return float("inf")
    finally:
        proc.terminate()
        proc.wait()


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure_loadgen(n, pp, tg, ramp_ms, mock_args=()):
    """One level driven by build/loadgen; the times all come from the truth."""
    threads = str(n + 64)
    with harness.Tokmock("--truth", "--quiet", "--threads", threads, *mock_args) as mock:
        sampler = CpuSampler(mock.proc.pid)
        sampler.start()
        args = [LOADGEN, "--port", str(mock.port), "--streams", str(n), "--max-tokens", str(tg),
                "--prompt-words", str(max(1, pp * 3 // 4)), "--ramp-ms", str(ramp_ms),
                "--timeout", "300"]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=600)
        sampler.done.set()
        sampler.join()
        if r.returncode:
            return {"error": f"loadgen exit {r.returncode}: "
                             f"{(r.stdout + r.stderr).decode(errors='replace').strip()[-300:]}"}
        hwm = vm_hwm_kib(mock.proc.pid)
        origin, recs = harness.truth_records(mock)
    good = [q for q in recs.values()
            if q.get("status") == 200 and q.get("completion_tokens") == tg
            and sum(e[1] for e in q["events"]) == tg]
    if len(recs) != n or len(good) != n:
        return {"error": f"{len(good)} of {n} streams complete in the truth ({len(recs)} records)"}
    pairs = [harness.TruthPair({}, q, origin) for q in good]
    return summarize(pairs, sampler, hwm, n)


def summarize(pairs, sampler, hwm, n):
    late = [(t - s) / 1e6 for p in pairs for t, _, s in p.events if s is not None]
    cpu = steady_cpu_per_token(sampler, pairs)
    return {"late_p50": pct(late, 50), "late_p99": pct(late, 99), "late_max": max(late),
            "cpu_us": cpu / 1e3 if cpu is not None else float("nan"),
            "rss_mib": hwm / 1024.0, "kib_per_stream": hwm / n}


def measure(n, pp, tg, mock_args=()):
    threads = str(n + 64)
    with harness.Tokmock("--truth", "--quiet", "--threads", threads, *mock_args) as mock:
        sampler = CpuSampler(mock.proc.pid)
        sampler.start()
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "run.json")
            args = [harness.TOKBENCH, "--base-url", mock.base_url + "/v1", "--pp", str(pp),
                    "--tg", str(tg), "--concurrency", str(n), "--runs", "1", "--no-warmup",
                    "--no-adapt-prompt", "--skip-coherence", "--latency-mode", "none",
                    "--format", "json", "--save-result", out, "--timeout", "120", "--quiet",
                    "--progress", "off"]
            r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=600)
            sampler.done.set()
            sampler.join()
            if r.returncode:
                return {"error": f"tokbench exit {r.returncode}: "
                                 f"{r.stderr.decode(errors='replace').strip()[-300:]}"}
            with open(out) as f:
                data = json.load(f)
        hwm = vm_hwm_kib(mock.proc.pid)
        origin, recs = harness.truth_records(mock)
    run = data["benchmarks"][0]
    ok = [q for q in run["requests"] if q["error"] is None]
    pairs = [harness.TruthPair(q, recs[q["id"]], origin) for q in ok if q["id"] in recs]
    if len(pairs) != n:
        return {"error": f"{len(run['requests']) - len(ok)} failed, {len(pairs)} of {n} in truth"}
    return summarize(pairs, sampler, hwm, n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="500,1000,2000")
    ap.add_argument("--pp", type=int, default=32)
    ap.add_argument("--tg", type=int, default=250)
    ap.add_argument("--load", choices=("loadgen", "tokbench"), default="loadgen")
    ap.add_argument("--ramp-ms", type=int, default=1000,
                    help="loadgen opens the N connections evenly over this long")
    ap.add_argument("--mock-args", default="",
                    help='extra tokmock arguments, e.g. "--emitters 0"')
    a = ap.parse_args()
    mock_args = shlex.split(a.mock_args)
    levels = [int(x) for x in a.levels.split(",") if x]
    rdy = min(ready_ms(mock_args) for _ in range(3))
    driver = (f"loadgen (connections opened over {a.ramp_ms} ms)" if a.load == "loadgen"
              else "one tokbench burst")
    print(f"# tokmock capacity: pp {a.pp}, tg {a.tg} at 50 tok/s per stream, driven by {driver} "
          f"on the same machine; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"tokmock args: {shlex.join(mock_args) if mock_args else '(defaults)'}")
    print(f"# ready (spawn to first GET /health 200, best of 3): {rdy:.1f} ms")
    hdr = (f"{'streams':>7} | {'late p50 ms':>11} | {'late p99 ms':>11} | {'late max ms':>11} | "
           f"{'µs/tok':>7} | {'RSS MiB':>7} | {'KiB/stream':>10}")
    print(hdr)
    print("-" * len(hdr))
    missed, failed = [], False
    if rdy > READY_MS:
        missed.append(f"ready in {rdy:.1f} ms > {READY_MS} ms")
    for n in levels:
        t0 = time.monotonic()
        if a.load == "loadgen":
            row = measure_loadgen(n, a.pp, a.tg, a.ramp_ms, mock_args)
        else:
            row = measure(n, a.pp, a.tg, mock_args)
        if "error" in row:
            print(f"{n:>7} | run failed: {row['error']}")
            failed = True
            continue
        print(f"{n:>7} | {row['late_p50']:11.3f} | {row['late_p99']:11.3f} | "
              f"{row['late_max']:11.3f} | {row['cpu_us']:7.2f} | {row['rss_mib']:7.1f} | "
              f"{row['kib_per_stream']:10.1f}   ({time.monotonic() - t0:.0f} s)", flush=True)
        if n >= LATE_AT and not row["late_p99"] <= LATE_P99_MS:
            missed.append(f"{n} streams: lateness p99 {row['late_p99']:.3f} ms > {LATE_P99_MS} ms")
    for m in missed:
        print("MISSED " + m)
    return 2 if failed else (1 if missed else 0)


if __name__ == "__main__":
    sys.exit(main())
