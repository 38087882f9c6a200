"""tokmock --engine shared: one virtual accelerator stepping prefill chunks and
decode batches. The two regimes of the seed Ollama study (parallel 1: TTFT
grows with the queue, per-request tg unchanged; parallel 4 with a batch
penalty: TTFT flat, per-request tg falls to 1/(1+B(b-1)), total tg rises),
a long prefill stalling a decoding stream, and tokbench against the queue.
Expected values are the closed form of docs/tokmock-engine.md; measurements
are client-side arrival times, cross-checked with the truth record."""
import json
import os
import threading
import time

from harness import (ROOT, SLOW, Tokmock, bench_json, check, finish, metric_mean,
                     run_scenario, stream_chat)

REL = 0.10  # every closed-form comparison: within 10%


def corpus_text(chars, offset):
    with open(os.path.join(ROOT, "fixtures", "sherlock-holmes.txt"), encoding="utf-8") as f:
        return f.read()[offset:offset + chars]


def body(text, max_tokens):
    return {"model": "tokmock", "messages": [{"role": "user", "content": text}],
            "max_tokens": max_tokens, "stream": True, "return_token_ids": True,
            "cache_prompt": False}


def token_times(events):
    """(arrival time, tokens) of each event carrying generated tokens."""
    out = []
    for t, ev in events:
        if isinstance(ev, dict) and ev.get("choices"):
            ids = ev["choices"][0].get("token_ids") or []
            if ids:
                out.append((t, len(ids)))
    return out


def concurrent(mock, bodies, stagger_s=0.0):
    """Streams every body from its own thread; returns a list of
    (t_sent, token_times, request id) in the order of the bodies."""
    results = [None] * len(bodies)

    def one(i):
        status, hdrs, events, t_sent = stream_chat(mock, bodies[i])
        results[i] = (status, t_sent, token_times(events), hdrs.get("x-tokmock-request-id"))

    threads = []
    for i in range(len(bodies)):
        th = threading.Thread(target=one, args=(i,))
        th.start()
        threads.append(th)
        if stagger_s:
            time.sleep(stagger_s)  # orders the arrivals; not a readiness wait
    for th in threads:
        th.join(60 * SLOW)
    return results


def tg_rate_of(times, from_t=None):
    """Decode rate of one stream: tokens after the first counted event / the
    time they took; from_t (optional) skips events before it, to measure the
    steady state once every stream of a batch is decoding."""
    if from_t is not None:
        times = [e for e in times if e[0] >= from_t]
    n = sum(k for _, k in times[1:])
    return n / (times[-1][0] - times[0][0])


def near(value, target, rel=REL, floor=0.0):
    return abs(value - target) <= max(rel * abs(target), floor)


def scenario_queue():
    """--parallel 1: the k-th of 4 simultaneous requests waits for k-1 whole
    generations; each stream still decodes at tg_rate."""
    tg, pp, limit = 100.0, 1000.0, 30
    with Tokmock("--truth", "--engine", "shared", "--parallel", "1", "--tg-rate", tg,
                 "--pp-rate", pp, "--quiet") as mock:
        bodies = [body(f"Request {i}: " + corpus_text(300, 1000 * i), limit) for i in range(4)]
        # One small request first, so the first request's one-off costs (page
        # faults, lazy initialisation; tens of ms under ASan) are not in the
        # queue being measured.
        stream_chat(mock, body("warm up", 1))
        # Arrivals 20 ms apart (x SLOW: the sanitizer build parses slower),
        # so each request is queued before the next one arrives.
        res = concurrent(mock, bodies, stagger_s=0.02 * SLOW)
        check("queue_all_ok", all(r and r[0] == 200 for r in res), str([r and r[0] for r in res]))
        recs = {r["id"]: r for r in mock.truth()["requests"]}
        # FIFO: the server admits in the order the requests arrived. The
        # arrival order itself is the client threads' race (the stagger only
        # makes it likely), so it is read from the truth, not assumed.
        order = sorted(range(4), key=lambda i: recs[res[i][3]]["admit_us"])
        arrived = sorted(range(4), key=lambda i: recs[res[i][3]]["arrival_us"])
        check("queue_fifo_order", order == arrived, f"admitted {order}, arrived {arrived}")
        t0 = res[order[0]][1]
        expect_start = 0.0
        ttfts, rates = [], []
        bad = []
        for k, i in enumerate(order):
            rec = recs[res[i][3]]
            prefill = (rec["prompt_tokens"] - rec["cached_tokens"]) / pp
            service = prefill + (limit - 1) / tg
            # Closed form: starts when the k previous requests are served.
            expect_ttft = expect_start + prefill - (res[i][1] - t0)
            ttft = res[i][2][0][0] - res[i][1]
            ttfts.append(ttft)
            if not near(ttft, expect_ttft, floor=0.005 * SLOW):
                bad.append(f"#{k + 1} ttft {ttft * 1000:.1f} ms vs {expect_ttft * 1000:.1f} ms")
            rate = tg_rate_of(res[i][2])
            rates.append(rate)
            if not near(rate, tg):
                bad.append(f"#{k + 1} tg {rate:.1f} vs {tg}")
            if sum(n for _, n in res[i][2]) != limit:
                bad.append(f"#{k + 1} tokens {sum(n for _, n in res[i][2])}")
            expect_start += service
        check("queue_ttft_grows_by_service_time_and_tg_stays", not bad, "; ".join(bad))
        check("queue_fourth_waits_three_generations", ttfts[3] > 3 * (limit - 1) / tg,
              f"ttft4 {ttfts[3]:.3f}s")
        print(f"# parallel 1: ttft ms {[round(t * 1000, 1) for t in ttfts]}, "
              f"tg/req {[round(r, 1) for r in rates]}")


def scenario_batch():
    """--parallel 4 --batch-penalty 0.67: the four prefills run back to back
    (TTFT flat, far below one generation), then one batch of 4 decodes at
    tg/(1 + 0.67*3) per stream; the total beats a single stream."""
    tg, pp, limit, penalty = 100.0, 1000.0, 40, 0.67
    with Tokmock("--truth", "--engine", "shared", "--parallel", "4", "--tg-rate", tg,
                 "--pp-rate", pp, "--batch-penalty", penalty, "--quiet") as mock:
        bodies = [body(f"Request {i}: " + corpus_text(300, 1000 * i), limit) for i in range(4)]
        res = concurrent(mock, bodies)
        check("batch_all_ok", all(r and r[0] == 200 for r in res), str([r and r[0] for r in res]))
        recs = {r["id"]: r for r in mock.truth()["requests"]}
        per_req = tg / (1 + penalty * 3)
        prefills = [(recs[r[3]]["prompt_tokens"] - recs[r[3]]["cached_tokens"]) / pp for r in res]
        bad = []
        rates, ttfts = [], []
        batch_start = max(r[2][0][0] for r in res)  # the last prefill's token
        for k, r in enumerate(res):
            ttft = r[2][0][0] - r[1]
            ttfts.append(ttft)
            # Flat: at most all four prefills, never a generation.
            if ttft > (sum(prefills) + 0.01) * (1 + REL) * SLOW:
                bad.append(f"#{k + 1} ttft {ttft * 1000:.1f} ms > four prefills")
            rate = tg_rate_of(r[2], batch_start)
            rates.append(rate)
            if not near(rate, per_req):
                bad.append(f"#{k + 1} tg {rate:.2f} vs {per_req:.2f}")
        check("batch_ttft_flat_and_tg_per_request_one_third", not bad, "; ".join(bad))
        total = sum(rates)
        check("batch_total_tg_rises", near(total, 4 * per_req) and total > 1.2 * tg,
              f"total {total:.1f} vs {4 * per_req:.1f} (single stream {tg})")
        # The truth agrees: the batch steps are 1/tg * (1 + 0.67*3) apart.
        sched = [s for s in recs[res[0][3]]["scheduled_us"] if s is not None]
        steps = [b - a for a, b in zip(sched[1:], sched[2:])]
        want_us = 1e6 / tg * (1 + penalty * 3)
        check("batch_truth_step_is_closed_form", steps and
              all(abs(s - want_us) <= 2 for s in steps), f"{steps[:5]} vs {want_us}")
        print(f"# parallel 4 B=0.67: ttft ms {[round(t * 1000, 1) for t in ttfts]}, "
              f"tg/req {[round(r, 1) for r in rates]}, total {total:.1f}")


def stream_chat_watch(mock, req, n_events, flag):
    """Like harness.stream_chat, but sets flag once n_events token events
    have arrived, so another request can be timed against this stream."""
    c = mock.conn(60)
    t_sent = time.monotonic()
    c.request("POST", "/v1/chat/completions", body=json.dumps(req),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    events = []
    seen = 0
    while r.status == 200:
        line = r.readline()
        if not line:
            break
        t = time.monotonic()
        line = line.rstrip(b"\r\n")
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        ev = json.loads(data)
        events.append((t, ev))
        if ev.get("choices") and ev["choices"][0].get("token_ids"):
            seen += 1
            if seen == n_events:
                flag.set()
    flag.set()  # never leave the main thread waiting
    c.close()
    return r.status, hdrs, events, t_sent


def scenario_stall():
    """A long prompt arriving while another stream decodes stalls it for the
    prefill chunks: the gap in its events is U/pp_rate + one decode step."""
    tg, pp = 50.0, 1000.0
    with Tokmock("--truth", "--engine", "shared", "--parallel", "2", "--prefill-chunk", "256",
                 "--quiet") as mock:
        out = {}
        decoding = threading.Event()

        def runner():
            out["a"] = stream_chat_watch(mock, body("Say something short.", 60), 10, decoding)

        th = threading.Thread(target=runner)
        th.start()
        check("stall_first_stream_decoding", decoding.wait(10 * SLOW), "no 10th token")
        status_b, hdrs_b, events_b, _ = stream_chat(mock, body(corpus_text(4000, 50000), 2))
        th.join(30 * SLOW)
        status_a, hdrs_a, events_a, _ = out["a"]
        check("stall_both_ok", status_a == 200 and status_b == 200, f"{status_a} {status_b}")
        rec_b = mock.truth(hdrs_b["x-tokmock-request-id"])
        u_b = rec_b["prompt_tokens"] - rec_b["cached_tokens"]
        expect_gap = u_b / pp + 1 / tg
        times = [t for t, _ in token_times(events_a)]
        gap = max(b - a for a, b in zip(times, times[1:]))
        check("stall_gap_is_prefill_chunks", near(gap, expect_gap),
              f"gap {gap * 1000:.1f} ms vs {expect_gap * 1000:.1f} ms (U={u_b})")
        rec_a = mock.truth(hdrs_a["x-tokmock-request-id"])
        sched = [s for s in rec_a["scheduled_us"] if s is not None]
        truth_gap = max(b - a for a, b in zip(sched, sched[1:]))
        check("stall_truth_gap_exact", abs(truth_gap - expect_gap * 1e6) <= 5,
              f"{truth_gap} us vs {expect_gap * 1e6:.0f} us")
        print(f"# stall: U={u_b}, gap {gap * 1000:.1f} ms (closed form {expect_gap * 1000:.1f})")


def scenario_tokbench():
    """tokbench's concurrency 4 against one slot: no failures, each request
    decodes at tg_rate, and TTFT spreads over the queue."""
    with Tokmock("--engine", "shared", "--parallel", "1", "--quiet") as mock:
        rc, data, err = bench_json(mock, "--pp", "128", "--tg", "16", "--runs", "1",
                                   "--concurrency", "4")
        check("tokbench_exit_0", rc == 0 and data is not None, err[-500:])
        if data is None:
            return
        rows = [b for b in data["benchmarks"] if not b["is_context_prefill_phase"]]
        row = rows[0]
        check("tokbench_no_failures", row.get("n_errors") == 0 and row.get("n_requests") == 4,
              f"errors {row.get('n_errors')} requests {row.get('n_requests')}")
        tg_values = row["tg_req_throughput"]["values"]
        check("tokbench_tg_per_request_is_tg_rate",
              len(tg_values) == 4 and all(near(v, 50.0) for v in tg_values), str(tg_values))
        ttft = sorted(row["ttft"]["values"])
        check("tokbench_ttft_spreads_over_queue", ttft[3] > 3 * 15 / 50.0,
              f"ttft ms {ttft}")
        print(f"# tokbench: tg/req {metric_mean(row, 'tg_req_throughput'):.2f}, ttft ms "
              f"{[round(t, 1) for t in ttft]}")


def main():
    run_scenario("queue", scenario_queue)
    run_scenario("batch", scenario_batch)
    run_scenario("stall", scenario_stall)
    run_scenario("tokbench", scenario_tokbench)


if __name__ == "__main__":
    main()
    finish()
