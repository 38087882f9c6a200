"""One high-concurrency scenario (issue #9): a burst of 256 concurrent streams.

tokbench and tokmock share two cores here, so the 256 first responses, which
all become due at the same instant at the end of prefill, are read one after
another: their timestamps may trail the truth by tens of ms on a loaded
machine. What must hold regardless of load is checked exactly: every request
succeeds and is matched to the truth by id, token and prompt counts are
equal, no timestamp precedes the moment the server was due to write that
event (tokbench never reports data before it arrived), and the last token of
every stream is stamped close to its write. The batch figures are checked
against the same formulas evaluated on the truth's times. Ceilings scale with
TOKTEST_SLOW; lower bounds never do.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SLOW, Tokmock, TruthPair, bench_json, benchmark_rows, check,  # noqa: E402
                     finish, run_scenario, truth_records)

C = 256
PP, TG = 32, 40
# A stream's last token is written 39 steps (0.78 s) after its first: by then
# the reads have caught up with the burst, so its stamp is close to the write.
LAST_TOKEN_TOL_MS = 25.0 * SLOW
# The first responses of 256 streams arrive together; reading them one by one
# on a shared machine delays the stamps of the last ones read.
FIRST_TOL_MS = 400.0 * SLOW


def scenario_256():
    with Tokmock("--truth", "--quiet") as mock:
        rc, data, err = bench_json(mock, "--pp", PP, "--tg", TG, "--concurrency", C,
                                   "--runs", "1", "--no-warmup", "--no-adapt-prompt",
                                   "--skip-coherence", "--latency-mode", "none",
                                   "--progress", "off", timeout=180)
        if not check("c256_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        origin, recs = truth_records(mock)
    run = benchmark_rows(data)[0]
    reqs = run["requests"]
    ok = [q for q in reqs if q["error"] is None]
    check("c256_all_requests_succeeded", len(reqs) == C and len(ok) == C,
          f"{len(reqs)} requests, {len(ok)} succeeded; first error: "
          f"{next((q['error'] for q in reqs if q['error']), None)}")
    pairs = [TruthPair(q, recs[q["id"]], origin) for q in ok if q["id"] in recs]
    check("c256_every_request_matched_to_truth", len(pairs) == C,
          f"{len(pairs)} of {C} ids found in the truth record")
    if not pairs:
        return

    bad = [p.req["id"] for p in pairs
           if not (p.req["tokens"] == p.rec["completion_tokens"] == TG
                   == sum(e[1] for e in p.token_events)
                   and p.req["prompt_tokens"] == p.rec["prompt_tokens"])]
    check("c256_counts_equal_truth", not bad, f"{len(bad)} requests differ, e.g. {bad[:3]}")

    early, late_first, late_last = [], [], []
    for p in pairs:
        for key, ev, tol, sink in (("first_response_ns", p.events[0], FIRST_TOL_MS, late_first),
                                   ("first_token_ns", p.token_events[0], FIRST_TOL_MS,
                                    late_first),
                                   ("last_token_ns", p.token_events[-1], LAST_TOKEN_TOL_MS,
                                    late_last)):
            t_ns, _, sched_ns = ev
            client = p.req[key]
            if client is None or (sched_ns is not None and client < sched_ns):
                early.append(f"{p.req['id']} {key}: client {client} < due {sched_ns}")
            elif (client - t_ns) / 1e6 > tol:
                sink.append((client - t_ns) / 1e6)
    check("c256_no_timestamp_before_the_server_was_due_to_write", not early, "; ".join(early[:3]))
    check("c256_first_events_within_tolerance", not late_first,
          f"{len(late_first)} beyond {FIRST_TOL_MS:.0f} ms, worst {max(late_first or [0]):.1f} ms")
    check("c256_last_tokens_within_tolerance", not late_last,
          f"{len(late_last)} beyond {LAST_TOKEN_TOL_MS:.0f} ms, "
          f"worst {max(late_last or [0]):.1f} ms")

    # Batch tg (README "Per-run (batch) values") on the truth's times: the
    # last tokens are stamped within LAST_TOKEN_TOL_MS and the first tokens
    # within FIRST_TOL_MS of a ~0.8 s decode span, hence a loose bound.
    first = min(p.token_events[0][0] for p in pairs)
    last = max(p.token_events[-1][0] for p in pairs)
    after = sum(sum(e[1] for e in p.token_events[1:]) for p in pairs)
    tg_truth = after / ((last - first) / 1e9)
    tg = (run.get("tg_throughput") or {}).get("mean")
    check("c256_total_tg_near_truth", tg is not None and abs(tg / tg_truth - 1) <= 0.25,
          f"truth-implied {tg_truth:.1f} t/s, measured {tg}")
    # Figures for the log (not assertions): how far the stamps trailed the
    # writes, and how late tokmock's writes were (issue #9 tracks the latter).
    errs_first = sorted((p.req["first_token_ns"] - p.token_events[0][0]) / 1e6 for p in pairs)
    errs_last = sorted((p.req["last_token_ns"] - p.token_events[-1][0]) / 1e6 for p in pairs)
    late = sorted((t - sch) / 1e6 for p in pairs for t, _, sch in p.events if sch is not None)
    q = lambda v, f: v[min(len(v) - 1, int(f * len(v)))]  # noqa: E731
    print(f"# c256: first token stamp - write p50 {q(errs_first, .5):.2f} ms p99 "
          f"{q(errs_first, .99):.2f} ms; last token p50 {q(errs_last, .5):.2f} ms p99 "
          f"{q(errs_last, .99):.2f} ms; tokmock lateness p50 {q(late, .5):.2f} ms p99 "
          f"{q(late, .99):.2f} ms", flush=True)


SCHED_OTHER, SCHED_FIFO, SCHED_IDLE = 0, 1, 5


def thread_policies(pid, want_idle):
    """The scheduling policy of each of pid's threads (field 41 of stat).
    A request thread sets its own policy when it starts, which may be just
    after the port file is written: read again (up to 5 s) until want_idle
    threads are SCHED_IDLE."""
    deadline = time.monotonic() + 5.0 * SLOW
    while True:
        out = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                out.append(int(f.read().rsplit(")", 1)[1].split()[38]))
        if out.count(SCHED_IDLE) >= want_idle or time.monotonic() > deadline:
            return out
        time.sleep(0.02)


def scheduling():
    """With --yield-cpu civetweb's request threads run SCHED_IDLE, so the
    client under test keeps the CPU through a burst; no other thread of
    tokmock does. By default they keep normal scheduling."""
    with Tokmock("--threads", "8", "--yield-cpu") as mock:
        pol = thread_policies(mock.proc.pid, 8)
        check("sched_yield_request_threads", pol.count(SCHED_IDLE) == 8, f"policies {pol}")
        check("sched_yield_others_normal", pol.count(SCHED_OTHER) >= 2, f"policies {pol}")
    with Tokmock("--threads", "8") as mock:
        time.sleep(0.2 * SLOW)  # the request threads have started by now
        pol = thread_policies(mock.proc.pid, 0)
        check("sched_default_normal", SCHED_IDLE not in pol and pol.count(SCHED_OTHER) >= 10,
              f"policies {pol}")


run_scenario("c256", scenario_256)
run_scenario("scheduling", scheduling)
finish()
