"""End-to-end verification, part 1: tokbench's numbers proven against
tokmock's truth record (ms level) and closed-form model (percent level).

Scenarios (README, "How we know the numbers are right"): 1 defaults, 2 server overhead under each
latency mode, 6 an early role chunk, 7 reasoning tokens.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TRUTH_TOL_MS, Tokmock, bench_json, benchmark_rows, check, finish,  # noqa: E402
                     metric_mean, near, run_scenario, truth_records, verify_run_against_truth)

FAST = ["--no-warmup", "--skip-coherence"]


def role_warnings(err):
    return [ln for ln in err.splitlines() if "role" in ln.lower()]


def scenario_defaults():
    """1: tokmock's defaults (1000 tok/s prefill, 50 tok/s decode, role chunk
    with the first token): pp ≈ 1000, tg ≈ 50, ttfr = e2e_ttft."""
    with Tokmock("--truth") as mock:
        rc, data, err = bench_json(mock, "--pp", "512", "--tg", "32", "--runs", "2",
                                   "--no-warmup")
        if not check("s1_defaults_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        run = benchmark_rows(data)[0]
        pairs = verify_run_against_truth("s1", run, mock, data["latency_ms"])
        pp, tg = metric_mean(run, "pp_throughput"), metric_mean(run, "tg_throughput")
        check("s1_pp_within_5pct_of_1000", near(pp, 1000, 0.05), f"expected 1000, measured {pp}")
        check("s1_tg_within_3pct_of_50", near(tg, 50, 0.03), f"expected 50, measured {tg}")
        same = all(q["first_response_ns"] == q["first_token_ns"] for q in run["requests"])
        check("s1_ttfr_equals_e2e_ttft", same and run["ttfr"]["values"] ==
              run["e2e_ttft"]["values"], f"ttfr {run['ttfr']['values']} e2e "
              f"{run['e2e_ttft']['values']}")
        check("s1_no_early_role", run["early_role_chunks"] == 0 and not role_warnings(err),
              f"early_role_chunks={run['early_role_chunks']} {role_warnings(err)}")
        check("s1_exact_token_ids_count_source", run["count_source"] == "token_ids",
              str(run["count_source"]))
        # Closed form per request: ttft = P / 1000 s, against the truth's prefill.
        bad = [f"{p.req['id']}: prefill expected {p.rec['prompt_tokens'] - p.rec['cached_tokens']}"
               f" ms, truth {(p.rec['prefill_end_us'] - p.rec['admit_us']) / 1e3} ms"
               for p in pairs
               if abs((p.rec["prefill_end_us"] - p.rec["admit_us"]) / 1e3 -
                      (p.rec["prompt_tokens"] - p.rec["cached_tokens"])) > 0.01]
        check("s1_truth_prefill_is_closed_form", pairs and not bad, "; ".join(bad[:3]))


def scenario_overhead():
    """2: --overhead-ms 50 with each latency mode: est_ppt = ttfr - L, and L
    is what the truth implies (api: ~0; generation: overhead + probe prefill)."""
    overhead_ms, pp = 50.0, 256
    with Tokmock("--truth", "--overhead-ms", overhead_ms) as mock:
        for mode in ("none", "api", "generation"):
            tag = f"s2_{mode}"
            before = set(truth_records(mock)[1])
            rc, data, err = bench_json(mock, "--pp", pp, "--tg", "4", "--runs", "2",
                                       "--latency-mode", mode, *FAST)
            if not check(f"{tag}_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
                continue
            truth = truth_records(mock)
            run = benchmark_rows(data)[0]
            L = data["latency_ms"]
            pairs = verify_run_against_truth(tag, run, mock, L, truth=truth)
            check(f"{tag}_latency_mode_reported", data["latency_mode"] == mode,
                  str(data["latency_mode"]))
            P = pairs[0].rec["prompt_tokens"] if pairs else pp
            ttfr = metric_mean(run, "ttfr")
            check(f"{tag}_ttfr_is_overhead_plus_prefill",
                  near(ttfr, overhead_ms + P, 0.03), f"expected {overhead_ms + P} ms, "
                  f"measured {ttfr}")
            if mode == "none":
                check(f"{tag}_latency_zero", L == 0, f"expected 0, measured {L}")
                expect_est = overhead_ms + P
            elif mode == "api":
                check(f"{tag}_latency_small", 0 < L < 5 * TRUTH_TOL_MS,
                      f"expected a loopback round trip, measured {L} ms")
                expect_est = overhead_ms + P - L
            else:
                ours = {p.req["id"] for p in pairs}
                probes = [r for i, r in truth[1].items() if i not in before and i not in ours
                          and r["stream"] and r["completion_tokens"] == 1]
                ok = check(f"{tag}_three_probes_in_truth", len(probes) == 3,
                           f"expected 3 streamed 1-token probes, found {len(probes)}")
                if ok:
                    due = sum(r["scheduled_us"][0] - r["arrival_us"] for r in probes) / 3e3
                    sent = sum(r["events"][0][0] - r["arrival_us"] for r in probes) / 3e3
                    check(f"{tag}_latency_matches_truth",
                          due <= L <= sent + TRUTH_TOL_MS,
                          f"expected between {due:.3f} and {sent + TRUTH_TOL_MS:.3f} ms "
                          f"(truth first byte), measured {L}")
                    # Repeated probes hit the prefix cache: only U = P - C is prefilled.
                    probe_u = sum(r["prompt_tokens"] - r["cached_tokens"] for r in probes) / 3
                    check(f"{tag}_latency_is_overhead_plus_probe_prefill",
                          near(L, overhead_ms + probe_u, 0.05),
                          f"expected {overhead_ms + probe_u} ms, measured {L}")
                expect_est = P - (L - overhead_ms)
            est = metric_mean(run, "est_ppt")
            check(f"{tag}_est_ppt_closed_form", near(est, expect_est, 0.03),
                  f"expected {expect_est:.3f} ms, measured {est}")
            ppv = metric_mean(run, "pp_throughput")
            check(f"{tag}_pp_is_P_over_est_ppt", near(ppv, P / (expect_est / 1e3), 0.03),
                  f"expected {P / (expect_est / 1e3):.1f}, measured {ppv}")


def scenario_early_role():
    """6: --role-chunk early: the role-only event comes at admission, so ttfr
    measures nothing but the connection; est_ppt and pp use the first token."""
    with Tokmock("--truth", "--role-chunk", "early") as mock:
        rc, data, err = bench_json(mock, "--pp", "512", "--tg", "8", "--runs", "2", *FAST)
        if not check("s6_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        run = benchmark_rows(data)[0]
        pairs = verify_run_against_truth("s6", run, mock, data["latency_ms"], early_role=True)
        check("s6_role_event_carries_no_token_in_truth",
              pairs and all(p.events[0][1] == 0 for p in pairs),
              str([p.rec["events"][:2] for p in pairs]))
        check("s6_early_role_counted", run["early_role_chunks"] == 2,
              f"expected 2, measured {run['early_role_chunks']}")
        bad = []
        for p, ttfr, e2e in zip(pairs, run["ttfr"]["values"], run["e2e_ttft"]["values"]):
            prefill = (p.rec["prefill_end_us"] - p.rec["admit_us"]) / 1e3
            if abs((e2e - ttfr) - prefill) > 2 * TRUTH_TOL_MS:
                bad.append(f"e2e_ttft - ttfr expected {prefill} ms (truth prefill), "
                           f"measured {e2e - ttfr:.3f}")
        check("s6_ttfr_and_e2e_ttft_differ_by_prefill", pairs and not bad, "; ".join(bad))
        pp = metric_mean(run, "pp_throughput")
        check("s6_pp_within_5pct_of_1000", near(pp, 1000, 0.05), f"expected 1000, measured {pp}")
        warns = role_warnings(err)
        check("s6_warns_once_on_stderr", len(warns) == 1,
              f"expected one stderr warning about the early role chunk (client/runner.c "
              f"reads results_run.early_role_chunks), found {len(warns)}: {warns[:3]}")


def scenario_reasoning():
    """7: --reasoning 20: reasoning tokens are counted as generated tokens and
    the time to first non-reasoning content (ttfc) is reported."""
    n_reason, tg_rate = 20, 100
    with Tokmock("--truth", "--reasoning", n_reason, "--tg-rate", tg_rate) as mock:
        rc, data, err = bench_json(mock, "--pp", "256", "--tg", "32", "--runs", "2", *FAST)
        if not check("s7_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        run = benchmark_rows(data)[0]
        pairs = verify_run_against_truth("s7", run, mock, data["latency_ms"])
        check("s7_reasoning_tokens_counted", pairs and all(p.req["tokens"] == 32 for p in pairs),
              str([p.req["tokens"] for p in pairs]))
        ttfc = (run.get("ttfc") or {}).get("values") or []
        bad = [] if len(ttfc) == len(pairs) else [f"{len(pairs)} ttfc values expected, "
                                                  f"{len(ttfc)} measured"]
        for p, v in zip(pairs, ttfc):
            # The first content event is the one after the first n_reason tokens.
            seen, first_content = 0, None
            for ev in p.token_events:
                if seen >= n_reason:
                    first_content = ev
                    break
                seen += ev[1]
            want = p.since_start_ms(first_content[0])
            if abs(v - want) > TRUTH_TOL_MS:
                bad.append(f"ttfc expected {want:.3f} ms (truth), measured {v:.3f}")
        check("s7_ttfc_matches_truth", not bad, "; ".join(bad[:3]))
        gap = metric_mean(run, "ttfc") - metric_mean(run, "e2e_ttft")
        check("s7_ttfc_after_reasoning_closed_form", near(gap, n_reason * 1000 / tg_rate, 0.05),
              f"expected {n_reason * 1000 / tg_rate} ms, measured {gap}")
        tg = metric_mean(run, "tg_throughput")
        check("s7_tg_includes_reasoning", near(tg, tg_rate, 0.03),
              f"expected {tg_rate}, measured {tg}")


def main():
    run_scenario("defaults", scenario_defaults)
    run_scenario("overhead", scenario_overhead)
    run_scenario("early_role", scenario_early_role)
    run_scenario("reasoning", scenario_reasoning)
    finish()


if __name__ == "__main__":
    main()
