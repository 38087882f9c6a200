"""tokmock --replay: a real llama-server capture (.lines.tsv) and a tokbench
record directory are served again for any completion request, byte for byte,
with the recorded status and headers (minus the framing ones) and the
recorded inter-event timing (checked against the truth's write times, and
from the client side); tokbench recorded against the llama.cpp personality
measures the same figures (within 2%) against the replay; a bad replay file
stops tokmock with exit status 2."""
import json
import os
import subprocess
import sys
import tempfile
import time

from harness import (ROOT, SLOW, TOKMOCK, Tokmock, check, finish, run_scenario,
                     run_tokbench)

STREAMS = os.path.join(ROOT, "fixtures", "streams")
CAPTURE = os.path.join(STREAMS, "llamacpp-chat-stream-usage.lines.tsv")
# Truth write time minus the recorded due time: never before it, and for the
# median write late by at most a scheduler slice or two. A loaded 2-core
# machine (the suites of several engineers at once) parks a thread for tens
# of ms now and then, so the worst write only has a loose bound; the exact
# check is that every write is *due* at its recorded offset (scheduled_us),
# and a scenario that fails is run once more.
LATE_MS = 5.0 * SLOW
WORST_MS = 100.0 * SLOW


def capture_writes(path):
    """[(t_us, nbytes)] of a .lines.tsv: rows with the same t_ms are one write."""
    writes = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            t_ms, nbytes, _ = line.rstrip("\n").split("\t", 2)
            t_us = round(float(t_ms) * 1000)
            if writes and writes[-1][0] == t_us:
                writes[-1][1] += int(nbytes)
            else:
                writes.append([t_us, int(nbytes)])
    return writes


def timed_post(m, path="/v1/chat/completions", body=None):
    """POSTs and reads the response line by line with arrival times.
    Returns (status, headers, body bytes, [(t, line)], t_sent)."""
    c = m.conn()
    payload = json.dumps(body or {"messages": [{"role": "user", "content": "anything"}]})
    t_sent = time.monotonic()
    c.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    lines, data = [], b""
    while True:
        line = r.readline()
        if not line:
            break
        lines.append((time.monotonic(), line))
        data += line
    c.close()
    return r.status, hdrs, data, lines, t_sent


def check_timing(tag, rec, writes):
    """Truth write times against the recorded offsets (µs since arrival)."""
    ev = rec["events"]
    sched = rec["scheduled_us"]
    arrival = rec["arrival_us"]
    due_ok = len(ev) == len(writes) and all(
        abs((s - arrival) - w[0]) <= 1 for s, w in zip(sched, writes))
    check(f"{tag}_schedule_is_recorded_offsets", due_ok,
          f"{len(ev)} writes vs {len(writes)} recorded; "
          f"{[(s - arrival, w[0]) for s, w in zip(sched, writes)][:4]}")
    late = sorted((e[0] - s) / 1e3 for e, s in zip(ev, sched))
    check(f"{tag}_writes_on_time", late and late[0] >= 0 and late[len(late) // 2] <= LATE_MS
          and late[-1] <= WORST_MS,
          f"late ms: median {late[len(late) // 2]:.3f}, worst {late[-5:]}")
    gaps_truth = [(b[0] - a[0]) / 1e3 for a, b in zip(ev, ev[1:])]
    gaps_rec = [(b[0] - a[0]) / 1e3 for a, b in zip(writes, writes[1:])]
    diffs = sorted(abs(a - b) for a, b in zip(gaps_truth, gaps_rec))
    check(f"{tag}_gaps_match_recording", diffs and diffs[len(diffs) // 2] <= LATE_MS and
          diffs[-1] <= WORST_MS,
          f"gap differences (ms): median {diffs[len(diffs) // 2]:.3f}, worst {diffs[-5:]}")
    check(f"{tag}_write_sizes_match", [e[2] for e in ev] == [w[1] for w in writes],
          f"{[e[2] for e in ev][:5]} vs {[w[1] for w in writes][:5]}")


def capture_replay():
    writes = capture_writes(CAPTURE)
    with open(os.path.join(STREAMS, "llamacpp-chat-stream-usage.body.sse"), "rb") as f:
        want = f.read()
    with Tokmock("--truth", "--replay", CAPTURE) as m:
        def one(path, tag):
            st, hdrs, data, lines, t_sent = timed_post(m, path)
            check(f"{tag}_body_is_recorded_bytes", st == 200 and data == want,
                  f"{st}: {len(data)} vs {len(want)} bytes")
            check(f"{tag}_headers", hdrs.get("server") == "llama.cpp" and
                  hdrs.get("content-type") == "text/event-stream" and
                  hdrs.get("transfer-encoding") == "chunked" and
                  "content-length" not in hdrs and "x-tokmock-request-id" in hdrs, str(hdrs))
            rec = m.truth(hdrs["x-tokmock-request-id"])
            check(f"{tag}_truth_record", rec["status"] == 200 and rec["stream"] and
                  rec["completion_tokens"] == 48 and
                  sum(e[1] for e in rec["events"]) == 48 and not rec["disconnected"],
                  str({k: v for k, v in rec.items() if k not in ("events", "scheduled_us")}))
            check_timing(tag, rec, writes)
            # Client side: the first and the last line arrive at their recorded
            # offsets from the request (a loaded machine may add, never subtract).
            first = (lines[0][0] - t_sent) * 1e3
            last = (lines[-1][0] - t_sent) * 1e3
            check(f"{tag}_client_sees_recorded_timing",
                  writes[0][0] / 1e3 - 1 <= first <= writes[0][0] / 1e3 + WORST_MS and
                  writes[-1][0] / 1e3 - 1 <= last <= writes[-1][0] / 1e3 + WORST_MS,
                  f"first {first:.1f} ms (recorded {writes[0][0] / 1e3}), last {last:.1f} ms "
                  f"(recorded {writes[-1][0] / 1e3})")
        run_scenario("capture", lambda: one("/v1/chat/completions", "capture"))
        run_scenario("capture_any_request", lambda: one("/v1/completions", "capture_any_request"))
        # Other routes still answer normally.
        st, _, _ = m.request("GET", "/health")
        check("capture_other_routes_normal", st == 200, str(st))


def write_record(dirpath, status_line, headers, body, reads):
    os.makedirs(dirpath)
    with open(os.path.join(dirpath, "request.json"), "w") as f:
        f.write('{"messages":[{"role":"user","content":"hi"}],"stream":true}')
    with open(os.path.join(dirpath, "response.headers"), "w") as f:
        f.write(status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n")
    with open(os.path.join(dirpath, "response.body"), "wb") as f:
        f.write(body)
    with open(os.path.join(dirpath, "reads.tsv"), "w") as f:
        f.write("t_us\tnbytes\n" + "".join(f"{t}\t{n}\n" for t, n in reads))


def record_replay(tmp):
    # An SSE stream whose reads split events in the middle, and two reads that
    # share a microsecond (kept as two writes).
    events = [b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n']
    for i, w in enumerate(["Once", " upon", " a", " time"]):
        events.append(b'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % w.encode())
    events.append(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n'
                  b"data: [DONE]\n\n")
    body = b"".join(events)
    cuts = [len(events[0]) + 10, len(events[0]) + len(events[1]), len(body) - 40,
            len(body) - 20, len(body)]
    times = [30000, 55000, 80000, 80000, 120000]
    reads, prev = [], 0
    for t, c in zip(times, cuts):
        reads.append((t, c - prev))
        prev = c
    d = os.path.join(tmp, "rec", "000001")
    write_record(d, "HTTP/1.1 200 OK",
                 [("Content-Type", "text/event-stream"), ("X-Recorded", "yes"),
                  ("Transfer-Encoding", "chunked"), ("Connection", "keep-alive"),
                  ("Date", "Mon, 01 Jan 2026 00:00:00 GMT")], body, reads)
    writes = [[t, n] for t, n in reads]
    with Tokmock("--truth", "--replay", d) as m:
        def sse():
            st, hdrs, data, lines, t_sent = timed_post(m)
            check("record_body_is_recorded_bytes", st == 200 and data == body,
                  f"{st} {data[:200]!r}")
            check("record_headers_minus_framing", hdrs.get("x-recorded") == "yes" and
                  hdrs.get("date") != "Mon, 01 Jan 2026 00:00:00 GMT" and
                  hdrs.get("content-type") == "text/event-stream", str(hdrs))
            rec = m.truth(hdrs["x-tokmock-request-id"])
            # Tokens: each data line with text counts one, in the write completing it.
            check("record_truth_tokens", [e[1] for e in rec["events"]] == [0, 1, 3, 0, 0] and
                  rec["completion_tokens"] == 4, str(rec["events"]))
            check_timing("record", rec, writes)
        run_scenario("record", sse)
    # reads.tsv given directly also works.
    with Tokmock("--replay", os.path.join(d, "reads.tsv")) as m:
        st, _, data, _, _ = timed_post(m)
        check("record_reads_tsv_path", st == 200 and data == body, str(st))

    # A recorded error: the status and JSON body, sent whole at the last read's time.
    err = b'{"error":{"code":400,"message":"bad","type":"invalid_request_error"}}'
    d2 = os.path.join(tmp, "rec", "000002")
    write_record(d2, "HTTP/1.1 400 Bad Request",
                 [("Content-Type", "application/json; charset=utf-8"),
                  ("Content-Length", str(len(err)))], err, [(40000, 30), (90000, len(err) - 30)])
    with Tokmock("--truth", "--replay", d2) as m:
        st, hdrs, data, lines, t_sent = timed_post(m)
        took = (lines[-1][0] - t_sent) * 1e3
        check("record_error_status_and_body", st == 400 and data == err and
              hdrs.get("content-length") == str(len(err)), f"{st} {data!r} {hdrs}")
        check("record_error_sent_at_last_read", 90 <= took <= 90 + WORST_MS, f"{took:.1f} ms")
        rec = m.truth(hdrs["x-tokmock-request-id"])
        check("record_error_truth", rec["status"] == 400 and len(rec["events"]) == 1 and
              rec["stream"] is False, str(rec))


def tokbench_figures(base_url, *extra):
    rc, out, err = run_tokbench("--base-url", base_url + "/v1", "--pp", "64", "--tg", "16",
                                "--runs", "1", "--no-warmup", "--no-adapt-prompt",
                                "--skip-coherence", "--latency-mode", "none", "--format", "json",
                                *extra)
    try:
        row = json.loads(out)["benchmarks"][0]
    except (ValueError, KeyError, IndexError):
        return rc, None, err
    return rc, {k: v["mean"] for k, v in row.items() if isinstance(v, dict) and "mean" in v}, err


def record_then_replay(tmp):
    """The issue's proof: record tokbench against the llama.cpp personality,
    replay the recording, and get the same figures within 2%."""
    rec_dir = os.path.join(tempfile.mkdtemp(dir=tmp), "tb-record")  # fresh per attempt
    with Tokmock("--personality", "llamacpp", "--tg-rate", "100") as m:
        rc, live, err = tokbench_figures(m.base_url, "--record", rec_dir)
    ok = rc == 0 and live is not None
    check("tokbench_record_llamacpp", ok and os.path.isdir(rec_dir), err[-400:])
    if not ok:
        return
    reqs = sorted(os.listdir(rec_dir))
    check("tokbench_record_one_request", len(reqs) == 1, str(reqs))
    with Tokmock("--replay", os.path.join(rec_dir, reqs[0])) as m:
        rc, again, err = tokbench_figures(m.base_url)
    ok = rc == 0 and again is not None
    check("tokbench_against_replay_runs", ok, err[-400:])
    if not ok:
        return
    keys = ["pp_throughput", "tg_throughput", "ttft", "e2e_ttft", "itl", "e2el"]
    off = {k: (again[k] - live[k]) / live[k] for k in keys if live.get(k)}
    check("replay_figures_within_2pct", len(off) == len(keys) and
          all(abs(v) <= 0.02 for v in off.values()),
          ", ".join(f"{k} {live.get(k)} vs {again.get(k)}" for k in keys))


def bad_files(tmp):
    def run(path):
        p = subprocess.run([TOKMOCK, "--port", "0", "--replay", path], capture_output=True,
                           text=True, timeout=10 * SLOW)
        return p.returncode, p.stderr
    rc, err = run(os.path.join(tmp, "missing.lines.tsv"))
    check("replay_missing_file_exit_2", rc == 2 and "missing.lines.tsv" in err, f"{rc} {err}")
    bad = os.path.join(tmp, "bad.lines.tsv")
    with open(bad, "w") as f:
        f.write('t_ms\tnbytes\tline_json\n1.0\t3\t"ab"\nnot-a-number\t1\t""\n')
    rc, err = run(bad)
    check("replay_malformed_row_exit_2", rc == 2 and "bad.lines.tsv" in err and "3" in err,
          f"{rc} {err}")


def main():
    with tempfile.TemporaryDirectory(prefix="tokmock-replay-") as tmp:
        capture_replay()
        record_replay(tmp)
        run_scenario("record_then_replay", lambda: record_then_replay(tmp))
        bad_files(tmp)
    finish()


if __name__ == "__main__":
    sys.exit(main())
