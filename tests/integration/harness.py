"""Shared helpers for the integration tests (Python standard library only).

Each test file calls check(name, cond, detail) for each assertion group and
prints one "PASS name" / "FAIL name" line per check, which tests/run.sh counts.
Servers start on port 0 with --port-file, are waited for with a timeout (never a
fixed sleep), are killed by pid, and keep their log when a check failed.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKMOCK = os.environ.get("TOKMOCK", os.path.join(ROOT, "build", "tokmock"))
TOKBENCH = os.environ.get("TOKBENCH", os.path.join(ROOT, "build", "tokbench"))
# Sanitizer builds run slower; scale generous ceilings (never lower bounds).
SLOW = float(os.environ.get("TOKTEST_SLOW", "1"))

_failures = 0


# While a scenario runs under run_scenario(), its check lines are held here
# (lines, failures) instead of being printed at once.
_held = None


def check(name, cond, detail=""):
    """Reports one named check; detail says expected vs measured."""
    global _failures
    line = f"PASS {name}" if cond else f"FAIL {name}: {detail}"
    if _held is not None:
        _held[0].append(line)
        _held[1] += 0 if cond else 1
        return cond
    if not cond:
        _failures += 1
    print(line, flush=True)
    return cond


def run_scenario(name, fn, attempts=2):
    """Runs fn() (a scenario made of check() calls). Timing against the truth
    is exact to a few ms unless the scheduler parks tokbench or tokmock for
    longer, which a loaded 2-core machine does now and then; so a scenario
    that fails is run once more, and only the last attempt's checks count.
    The failures of an earlier attempt are still printed (as '# retry' notes),
    so a flaky bug stays visible; a real bug fails every attempt."""
    global _held, _failures
    for attempt in range(1, attempts + 1):
        _held = [[], 0]
        try:
            fn()
        except Exception as e:  # a crash in a scenario is a failure, not an abort
            _held[0].append(f"FAIL {name}_raised: {type(e).__name__}: {e}")
            _held[1] += 1
        lines, failed = _held
        _held = None
        if failed and attempt < attempts:
            print(f"# retry {name} (attempt {attempt} failed):", flush=True)
            for ln in lines:
                if ln.startswith("FAIL"):
                    print("#   " + ln, flush=True)
            continue
        _failures += failed
        for ln in lines:
            print(ln, flush=True)
        return failed == 0


def failures():
    return _failures


class Tokmock:
    """A tokmock process on a free loopback port."""

    def __init__(self, *args, timeout=10.0):
        self.dir = tempfile.mkdtemp(prefix="tokmock-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.pid_file = os.path.join(self.dir, "pid")
        self.log_path = os.path.join(self.dir, "tokmock.log")
        self.args = [TOKMOCK, "--port", "0", "--port-file", self.port_file,
                     "--pid-file", self.pid_file] + [str(a) for a in args]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout * SLOW
        self.port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.005)  # polling the port file, not a readiness guess
        if self.port is None:
            self.stop()
            raise RuntimeError("tokmock did not start: " + self.read_log())
        self.base_url = f"http://127.0.0.1:{self.port}"

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if _failures or (_held is not None and _held[1]):
            sys.stdout.write(f"  tokmock log kept at {self.log_path}\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict, body bytes)."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def truth(self, request_id=None):
        """The truth record(s). A request's record is stored when its handler
        finishes, which can be just after the client read [DONE]; so a 404
        for one id is asked again for a bounded time (2 s, scaled by SLOW)."""
        path = "/tokmock/requests" + (f"?id={request_id}" if request_id else "")
        deadline = time.monotonic() + 2.0 * SLOW
        while True:
            status, data = self.json("GET", path)
            if status != 404 or request_id is None or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        assert status == 200, f"truth status {status}"
        return data


def stream_chat(mock, body, headers=None, timeout=60):
    """POSTs a streaming chat request and records, for every SSE data line,
    its arrival time (time.monotonic, seconds) and parsed JSON (or the raw
    string for [DONE]). Returns (status, response headers, events, t_sent)."""
    c = mock.conn(timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    payload = json.dumps(body)
    t_sent = time.monotonic()
    c.request("POST", "/v1/chat/completions", body=payload, headers=h)
    r = c.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    events = []
    if r.status != 200:
        data = r.read()
        c.close()
        return r.status, hdrs, [(time.monotonic(), data)], t_sent
    while True:
        line = r.readline()
        if not line:
            break
        t = time.monotonic()
        line = line.rstrip(b"\r\n")
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            events.append((t, "[DONE]"))
            break
        events.append((t, json.loads(data)))
    c.close()
    return 200, hdrs, events, t_sent


def run_tokbench(*args, timeout=120):
    """Runs tokbench; returns (exit status, stdout, stderr)."""
    p = subprocess.run([TOKBENCH] + [str(a) for a in args], capture_output=True,
                       timeout=timeout * SLOW, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def finish():
    sys.exit(1 if _failures else 0)


# ---------------------------------------------------------------------------
# End-to-end verification helpers (tests/integration/test_verify_*.py):
# tokbench's JSON against tokmock's truth record.

# How far a client timestamp may trail the truth time of the same event. The
# truth time is read right after the server's write returned, so the client
# may even see the bytes slightly before it; the causal lower bound is the
# event's scheduled deadline (the write cannot start before it). 5 ms covers a
# scheduler time slice or two on a 2-core machine running the suite in parallel.
TRUTH_TOL_MS = 5.0 * SLOW


def bench_json(mock, *args, timeout=120):
    """Runs tokbench --format json against mock; returns (rc, data or None, stderr)."""
    rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", "--format", "json",
                                *args, timeout=timeout)
    try:
        data = json.loads(out)
    except ValueError:
        data = None
    return rc, data, err


def truth_records(mock):
    """Returns (origin_monotonic_ns, {id: record}) for every recorded request."""
    t = mock.truth()
    return t["origin_monotonic_ns"], {r["id"]: r for r in t["requests"]}


def benchmark_rows(data, context_phase=False):
    return [b for b in data["benchmarks"] if b["is_context_prefill_phase"] == context_phase]


def metric_mean(run, key):
    m = run.get(key)
    return m["mean"] if m else None


def near(value, target, rel):
    """value within rel (a fraction) of target."""
    return value is not None and target is not None and abs(value - target) <= rel * abs(target)


class TruthPair:
    """One tokbench request matched with tokmock's record of it. Absolute
    times are CLOCK_MONOTONIC ns (both programs run on this machine)."""

    def __init__(self, req, rec, origin_ns):
        self.req = req
        self.rec = rec
        self.origin_ns = origin_ns
        ev = rec["events"]
        sched = rec.get("scheduled_us") or [None] * len(ev)
        self.events = [(self.abs_ns(e[0]), e[1],
                        self.abs_ns(s) if s is not None else None) for e, s in zip(ev, sched)]
        self.token_events = [e for e in self.events if e[1] > 0]

    def abs_ns(self, t_us):
        return None if t_us is None else self.origin_ns + int(t_us) * 1000

    def since_start_ms(self, abs_ns):
        return (abs_ns - self.req["start_ns"]) / 1e6


def _event_bad(label, client_ns, event, floor_ns, tol_ms):
    """None when client_ns is a faithful timestamp of the truth event
    (t_ns, n, scheduled_ns), else an expected-vs-measured message."""
    t_ns, _, sched_ns = event
    lower = sched_ns if sched_ns is not None else floor_ns
    if client_ns is None:
        return f"{label}: client time missing, truth {t_ns}"
    diff_ms = (client_ns - t_ns) / 1e6
    if lower is not None and client_ns < lower:
        return f"{label}: client {client_ns} before the event was due ({lower})"
    if abs(diff_ms) > tol_ms:
        return f"{label}: client - truth = {diff_ms:.3f} ms (tolerance {tol_ms:.1f} ms)"
    return None


def _rate_bounds(count, duration_ms, err_ms):
    """(centre, half-width) of count / duration when the duration is known
    within ± err_ms."""
    lo = count / ((duration_ms + err_ms) / 1e3)
    hi = count / ((duration_ms - err_ms) / 1e3)
    return (lo + hi) / 2, (hi - lo) / 2


def verify_run_against_truth(tag, run, mock, latency_ms, truth=None, tol_ms=None,
                             early_role=False):
    """Matches each successful request of one benchmark row to tokmock's truth
    record by chunk id and checks, at millisecond level: start before arrival;
    first response, first token and last token timestamps against the write
    times; exact token, prompt and cached counts; and llama-benchy's
    per-request ttfr / e2e_ttft / est_ppt / pp / tg values against the times
    the truth implies. Returns the list of TruthPair for scenario checks."""
    tol = TRUTH_TOL_MS if tol_ms is None else tol_ms
    origin, recs = truth if truth is not None else truth_records(mock)
    ok_reqs = [q for q in run["requests"] if q["error"] is None]
    missing = [q["id"] for q in ok_reqs if q["id"] not in recs]
    check(f"{tag}_requests_matched_to_truth", ok_reqs and not missing,
          f"{len(ok_reqs)} successful requests, ids not in truth: {missing[:3]}")
    pairs = [TruthPair(q, recs[q["id"]], origin) for q in ok_reqs if q["id"] in recs]
    if not pairs:
        return pairs

    bad = []
    for p in pairs:
        q, r = p.req, p.rec
        if r["status"] != 200 or r.get("disconnected"):
            bad.append(f"{q['id']}: truth status {r['status']} disconnected {r.get('disconnected')}")
        if not (q["tokens"] == r["completion_tokens"] == q["completion_tokens"]
                == sum(e[1] for e in p.events)):
            bad.append(f"{q['id']}: tokens expected {r['completion_tokens']}, measured "
                       f"tokens={q['tokens']} usage={q['completion_tokens']}")
        if q["prompt_tokens"] != r["prompt_tokens"] or q["cached_tokens"] != r["cached_tokens"]:
            bad.append(f"{q['id']}: prompt/cached expected {r['prompt_tokens']}/"
                       f"{r['cached_tokens']}, measured {q['prompt_tokens']}/{q['cached_tokens']}")
        n_client_events = len(p.token_events) + (1 if early_role else 0)
        if q["events"] != n_client_events:
            bad.append(f"{q['id']}: events expected {n_client_events}, measured {q['events']}")
    check(f"{tag}_counts_equal_truth", not bad, "; ".join(bad[:3]))

    bad = []
    for p in pairs:
        arrival = p.abs_ns(p.rec["arrival_us"])
        # µs truncation: the arrival lies within [arrival, arrival + 1 µs).
        if p.req["start_ns"] > arrival + 1000:
            bad.append(f"{p.req['id']}: client start {p.req['start_ns']} after server "
                       f"arrival {arrival}")
    check(f"{tag}_start_precedes_server_arrival", not bad, "; ".join(bad[:3]))

    for name, key, pick in (("first_response", "first_response_ns", lambda p: p.events[0]),
                            ("first_token", "first_token_ns", lambda p: p.token_events[0]),
                            ("last_token", "last_token_ns", lambda p: p.token_events[-1])):
        bad = []
        worst = 0.0
        for p in pairs:
            ev = pick(p)
            floor = p.abs_ns(p.rec["arrival_us"])
            msg = _event_bad(f"{p.req['id']} {name}", p.req[key], ev, floor, tol)
            if msg:
                bad.append(msg)
            elif p.req[key] is not None:
                worst = max(worst, abs(p.req[key] - ev[0]) / 1e6)
        check(f"{tag}_{name}_time_equals_truth", not bad,
              "; ".join(bad[:3]) + f" (worst ok {worst:.3f} ms)")

    # llama-benchy's per-request values (ms and t/s) against truth-implied ones.
    # Each value is a difference of two client times, so its error is at most
    # that of the truth-matched endpoint: tol ms.
    L = latency_ms
    used_prompt = (run.get("prompt_tokens") or {}).get("values") or []
    exp = {"ttfr": [], "e2e_ttft": [], "est_ppt": [], "pp": [], "tg": []}
    for i, p in enumerate(pairs):
        ttfr = p.since_start_ms(p.events[0][0])
        e2e = p.since_start_ms(p.token_events[0][0])
        est = max(0.0, (e2e if early_role else ttfr) - L)
        exp["ttfr"].append((ttfr, tol))
        exp["e2e_ttft"].append((e2e, tol))
        exp["est_ppt"].append((est, tol))
        P = used_prompt[i] if i < len(used_prompt) else p.req["prompt_tokens"]
        if est > 0:  # None: present but too short to bound
            exp["pp"].append(None if est <= 2 * tol else _rate_bounds(P, est, tol))
        first, last = p.token_events[0], p.token_events[-1]
        after = sum(e[1] for e in p.token_events if e[0] > first[0])
        dur_ms = (last[0] - first[0]) / 1e6
        if after and dur_ms > 0:
            exp["tg"].append(None if dur_ms <= 4 * tol else _rate_bounds(after, dur_ms, 2 * tol))
    for name, key in (("ttfr", "ttfr"), ("e2e_ttft", "e2e_ttft"), ("est_ppt", "est_ppt"),
                      ("pp", "pp_req_throughput"), ("tg", "tg_req_throughput")):
        want = exp[name]
        got = (run.get(key) or {}).get("values") or []
        if not want:
            continue
        bad = []
        if len(got) != len(want):
            bad.append(f"{len(want)} values expected, {len(got)} measured")
        for w, g in zip(want, got):
            if w is not None and abs(g - w[0]) > w[1] + 1e-6 * abs(w[0]):
                bad.append(f"expected {w[0]:.3f} ± {w[1]:.3f}, measured {g:.3f}")
        check(f"{tag}_{name}_values_match_truth", not bad, "; ".join(bad[:3]))
    return pairs
