"""End-to-end verification, part 3: multi-token steps, concurrency and
queueing, failures.

Scenarios (README, "How we know the numbers are right"): 5 MTP with each token-count path,
8 concurrency 1/4/16 with unlimited slots and with one slot, 10 requests
over the context size.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TRUTH_TOL_MS, Tokmock, TruthPair, bench_json, benchmark_rows, check,  # noqa: E402
                     finish, metric_mean, near, run_scenario, run_tokbench, truth_records,
                     verify_run_against_truth)

FAST = ["--no-warmup", "--skip-coherence"]


def truth_tg(pair):
    """Decode rate the truth record implies: tokens after the first event over
    the time from the first to the last token event."""
    ev = pair.token_events
    return sum(e[1] for e in ev[1:]) / ((ev[-1][0] - ev[0][0]) / 1e9)


def scenario_mtp():
    """5: --mtp-pattern 3 gives tg = 3 × tg_rate; --mtp 3 --mtp-accept 0.6
    gives the rate the truth's own step sizes imply, whether tokens are
    counted from token_ids, per-event usage or the spread final usage."""
    with Tokmock("--truth", "--mtp-pattern", "3") as mock:
        rc, data, err = bench_json(mock, "--pp", "128", "--tg", "61", "--runs", "2", *FAST)
        if check("s5_pattern_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            run = benchmark_rows(data)[0]
            pairs = verify_run_against_truth("s5_pattern", run, mock, data["latency_ms"])
            check("s5_pattern_three_tokens_per_step",
                  pairs and all(e[1] == 3 for p in pairs for e in p.token_events[1:]),
                  str([[e[1] for e in p.token_events] for p in pairs][:1]))
            tg = metric_mean(run, "tg_throughput")
            check("s5_pattern_tg_is_150", near(tg, 150, 0.02), f"expected 150, measured {tg}")

    paths = (("token_ids", []),
             ("usage_per_event", ["--extra-body", "return_token_ids=false", "--extra-body",
                                  'stream_options={"continuous_usage_stats":true}']),
             ("usage_spread", ["--extra-body", "return_token_ids=false"]))
    with Tokmock("--truth", "--mtp", "3", "--mtp-accept", "0.6", "--seed", "7") as mock:
        for source, extra in paths:
            tag = f"s5_mtp_{source}"
            rc, data, err = bench_json(mock, "--pp", "128", "--tg", "64", "--runs", "2",
                                       *FAST, *extra)
            if not check(f"{tag}_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
                continue
            run = benchmark_rows(data)[0]
            check(f"{tag}_count_source", run["count_source"] == source,
                  f"expected {source}, measured {run['count_source']}")
            if source == "usage_spread":
                # Spread counts are estimates per event: the exact per-event
                # checks do not apply, the totals and the rate (2%) do.
                origin, recs = truth_records(mock)
                bad = []
                for q, v in zip(run["requests"], run["tg_req_throughput"]["values"]):
                    r = recs.get(q["id"])
                    if r is None or q["tokens"] != r["completion_tokens"]:
                        bad.append(f"{q['id']}: tokens {q['tokens']} vs truth "
                                   f"{r and r['completion_tokens']}")
                        continue
                    want = truth_tg(TruthPair(q, r, origin))
                    if not near(v, want, 0.02):
                        bad.append(f"tg expected {want:.2f} (truth), measured {v:.2f}")
                check(f"{tag}_tg_within_2pct_of_truth", run["requests"] and not bad,
                      "; ".join(bad[:3]))
                continue
            pairs = verify_run_against_truth(tag, run, mock, data["latency_ms"])
            multi = any(e[1] > 1 for p in pairs for e in p.token_events)
            check(f"{tag}_steps_carry_several_tokens", multi, "no multi-token event in truth")
            bad = []
            for p, v in zip(pairs, run["tg_req_throughput"]["values"]):
                if not near(v, truth_tg(p), 0.02):
                    bad.append(f"expected {truth_tg(p):.2f} (truth), measured {v:.2f}")
            check(f"{tag}_tg_within_2pct_of_truth", pairs and not bad, "; ".join(bad[:3]))
            # E[tokens per step] = 1 + 0.6 + 0.36 + 0.216 = 2.176 at K=3, p=0.6; a
            # 64-token response has ~29 steps, so allow the sampling spread.
            tg = metric_mean(run, "tg_throughput")
            check(f"{tag}_tg_near_closed_form", near(tg, 50 * 2.176, 0.25),
                  f"expected {50 * 2.176:.1f} ± 25%, measured {tg}")


def scenario_concurrency():
    """8: concurrency 1/4/16. Unlimited slots: every request is served at
    once, per-request tg = tg_rate and total tg = c × tg_rate. One slot: FIFO
    queueing, so the k-th request's TTFT grows by the service time of those
    before it."""
    tg_rate, pp_rate, tg = 50, 4000, 16
    args = ["--pp", "64", "--tg", tg, "--runs", "1", "--concurrency", "1", "4", "16", *FAST]
    for slots in ("0", "1"):
        tag0 = "s8_unlimited" if slots == "0" else "s8_parallel1"
        with Tokmock("--truth", "--parallel", slots, "--tg-rate", tg_rate,
                     "--pp-rate", pp_rate) as mock:
            rc, data, err = bench_json(mock, *args)
            if not check(f"{tag0}_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
                continue
            truth = truth_records(mock)
            for run in benchmark_rows(data):
                c = run["concurrency"]
                tag = f"{tag0}_c{c}"
                pairs = verify_run_against_truth(tag, run, mock, data["latency_ms"], truth=truth)
                check(f"{tag}_all_requests_ok", len(pairs) == c and run["n_errors"] == 0,
                      f"expected {c} successful, measured {len(pairs)} errors {run['n_errors']}")
                if not pairs:
                    continue
                if slots == "0":
                    waits = [(p.rec["admit_us"] - p.rec["arrival_us"]) / 1e3 for p in pairs]
                    check(f"{tag}_no_queueing_in_truth", max(waits) <= TRUTH_TOL_MS,
                          f"admission waits {waits} ms")
                    req = metric_mean(run, "tg_req_throughput")
                    tot = metric_mean(run, "tg_throughput")
                    check(f"{tag}_req_tg_is_rate", near(req, tg_rate, 0.05),
                          f"expected {tg_rate}, measured {req}")
                    check(f"{tag}_total_tg_is_c_times_rate", near(tot, c * tg_rate, 0.08),
                          f"expected {c * tg_rate}, measured {tot}")
                    continue
                # One slot: order by admission; each waits for the one before.
                order = sorted(pairs, key=lambda p: p.rec["admit_us"])
                bad = []
                for prev, cur in zip(order, order[1:]):
                    gap = (cur.rec["admit_us"] - prev.rec["finish_us"]) / 1e3
                    # finish_us is read just after the slot was released.
                    if not -0.5 <= gap <= TRUTH_TOL_MS:
                        bad.append(f"admitted {gap:.3f} ms after the previous finished")
                check(f"{tag}_fifo_one_at_a_time_in_truth", not bad, "; ".join(bad[:3]))
                bad = []
                for prev, cur in zip(order, order[1:]):
                    service = (prev.rec["finish_us"] - prev.rec["admit_us"]) / 1e3
                    grew = ((cur.req["first_token_ns"] - cur.req["start_ns"]) -
                            (prev.req["first_token_ns"] - prev.req["start_ns"])) / 1e6
                    own = (cur.rec["prompt_tokens"] - cur.rec["cached_tokens"] -
                           prev.rec["prompt_tokens"] + prev.rec["cached_tokens"]) * 1e3 / pp_rate
                    start_skew = (cur.req["start_ns"] - prev.req["start_ns"]) / 1e6
                    want = service + own - start_skew
                    if abs(grew - want) > 3 * TRUTH_TOL_MS:
                        bad.append(f"TTFT grew {grew:.3f} ms, expected {want:.3f} "
                                   f"(service time of the one before)")
                check(f"{tag}_ttft_grows_by_service_time", not bad, "; ".join(bad[:3]))
                step_ms = 1e3 / tg_rate
                service = 64 * 1e3 / pp_rate + (tg - 1) * step_ms
                last = max(run["e2e_ttft"]["values"])
                want = (c - 1) * service + 64 * 1e3 / pp_rate
                check(f"{tag}_last_ttft_closed_form",
                      abs(last - want) <= 0.06 * want + TRUTH_TOL_MS,
                      f"expected about {want:.1f} ms ((c-1) x {service:.0f} + prefill), "
                      f"measured {last:.1f}")


def scenario_failures():
    """10: requests over --ctx-size get 400; they are counted as failed, the
    run finishes; --exit-on-first-fail exits 1 with the finished cells saved."""
    with Tokmock("--truth", "--ctx-size", "1000", "--pp-rate", 8000, "--tg-rate", 200) as mock:
        rc, data, err = bench_json(mock, "--pp", "128", "2048", "--tg", "8", "--runs", "2",
                                   *FAST)
        if check("s10_run_finishes_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            truth = truth_records(mock)
            cells = {r["prompt_size"]: r for r in benchmark_rows(data)}
            ok_cell, bad_cell = cells.get(128), cells.get(2048)
            check("s10_both_cells_reported", ok_cell is not None and bad_cell is not None,
                  str(sorted(cells)))
            if ok_cell and bad_cell:
                verify_run_against_truth("s10_ok_cell", ok_cell, mock, data["latency_ms"],
                                         truth=truth)
                check("s10_failed_counted", bad_cell["n_errors"] == 2 and
                      bad_cell["n_requests"] == 2 and ok_cell["n_errors"] == 0,
                      f"expected 2 of 2 failed, measured {bad_cell['n_errors']} of "
                      f"{bad_cell['n_requests']}")
                check("s10_failed_excluded_from_metrics",
                      bad_cell["pp_throughput"] is None and bad_cell["e2e_ttft"] is None,
                      f"pp {bad_cell['pp_throughput']}")
                errs = [q["error"] or "" for q in bad_cell["requests"]]
                check("s10_error_names_http_400", all("400" in e for e in errs), str(errs)[:300])
                rejected = [r for r in truth[1].values() if r["status"] == 400]
                check("s10_truth_has_the_400s", len(rejected) == 2,
                      f"expected 2 status-400 records, found {len(rejected)}")

        out_dir = tempfile.mkdtemp(prefix="tokbench-verify-")
        path = os.path.join(out_dir, "partial.json")
        n400 = sum(r["status"] == 400 for r in truth_records(mock)[1].values())
        rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", "--format", "json",
                                    "--pp", "128", "2048", "--tg", "8", "--runs", "2", *FAST,
                                    "--exit-on-first-fail", "--save-result", path)
        check("s10_exit_on_first_fail_exit1", rc == 1, f"expected 1, measured {rc}")
        try:
            with open(path) as f:
                saved = json.load(f)
        except (OSError, ValueError) as e:
            saved = None
            check("s10_partial_results_saved", False, f"{path}: {e}; stderr {err[-300:]}")
        if saved is not None:
            cells = [r["prompt_size"] for r in saved["benchmarks"]]
            check("s10_partial_results_saved", cells == [128], f"cells saved {cells}")
        after = sum(r["status"] == 400 for r in truth_records(mock)[1].values())
        check("s10_stopped_at_first_failure", after - n400 == 1,
              f"expected 1 more rejected request, truth has {after - n400}")
        try:
            os.unlink(path)
            os.rmdir(out_dir)
        except OSError:
            pass


def main():
    run_scenario("mtp", scenario_mtp)
    run_scenario("concurrency", scenario_concurrency)
    run_scenario("failures", scenario_failures)
    finish()


if __name__ == "__main__":
    main()
