"""End-to-end verification, part 2: prompts and the prefix cache.

Scenarios (README, "How we know the numbers are right"): 3 a depth sweep without and with
--enable-prefix-caching, 4 the server's cache modes against a client that
busts the cache, 9 a server without /tokenize (calibrated prompt sizes).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TRUTH_TOL_MS, Tokmock, bench_json, benchmark_rows, check, finish,  # noqa: E402
                     metric_mean, near, run_scenario, truth_records, verify_run_against_truth)

FAST = ["--no-warmup", "--skip-coherence"]
PP_RATE = 8000  # faster prefill keeps depth 8192 near one second


def by_depth(rows):
    return {r["context_size"]: r for r in rows}


def scenario_depth_sweep():
    """3: depth 0/2048/8192. Without caching every prompt is prefilled whole
    (pp ≈ pp_rate over depth + pp tokens); with --enable-prefix-caching the
    context phase runs at pp_rate and the inference phase hits the cache, so
    its pp is the marginal rate pp_rate × pp / U (U = uncached tokens)."""
    pp = 512
    depths = ["0", "2048", "8192"]
    with Tokmock("--truth", "--pp-rate", PP_RATE, "--tg-rate", 200) as mock:
        rc, data, err = bench_json(mock, "--pp", pp, "--tg", "4", "--depth", *depths,
                                   "--runs", "2", *FAST)
        if check("s3_nocache_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            truth = truth_records(mock)
            for d, run in sorted(by_depth(benchmark_rows(data)).items()):
                tag = f"s3_nocache_d{d}"
                pairs = verify_run_against_truth(tag, run, mock, data["latency_ms"], truth=truth)
                # A fresh slice per run: only a few template tokens may be shared.
                check(f"{tag}_whole_prompt_prefilled",
                      pairs and all(p.rec["cached_tokens"] <= 8 for p in pairs),
                      f"cached {[p.rec['cached_tokens'] for p in pairs]}")
                check(f"{tag}_prompt_is_depth_plus_pp",
                      pairs and all(p.rec["prompt_tokens"] == d + pp for p in pairs),
                      f"expected {d + pp}, truth {[p.rec['prompt_tokens'] for p in pairs]}")
                v = metric_mean(run, "pp_throughput")
                check(f"{tag}_pp_within_4pct_of_rate", near(v, PP_RATE, 0.04),
                      f"expected {PP_RATE}, measured {v}")
                m = metric_mean(run, "pp_marginal_throughput")
                check(f"{tag}_marginal_pp_is_pp_share", near(m, PP_RATE * pp / (d + pp), 0.04),
                      f"expected {PP_RATE * pp / (d + pp):.1f}, measured {m}")

        rc, data, err = bench_json(mock, "--pp", pp, "--tg", "4", "--depth", *depths,
                                   "--runs", "2", "--enable-prefix-caching", *FAST)
        if not check("s3_cache_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        check("s3_cache_flag_reported", data["prefix_caching_enabled"] is True,
              str(data["prefix_caching_enabled"]))
        truth = truth_records(mock)
        ctx = by_depth(benchmark_rows(data, context_phase=True))
        inf = by_depth(benchmark_rows(data))
        check("s3_cache_phases_present", sorted(ctx) == [2048, 8192] and
              sorted(inf) == [0, 2048, 8192], f"ctx {sorted(ctx)} inference {sorted(inf)}")
        for d, run in sorted(ctx.items()):
            tag = f"s3_ctx_d{d}"
            verify_run_against_truth(tag, run, mock, data["latency_ms"], truth=truth)
            v = metric_mean(run, "pp_throughput")
            check(f"{tag}_ctx_pp_within_4pct_of_rate", near(v, PP_RATE, 0.04),
                  f"expected {PP_RATE}, measured {v}")
        for d, run in sorted(inf.items()):
            if d == 0:
                continue
            tag = f"s3_inf_d{d}"
            pairs = verify_run_against_truth(tag, run, mock, data["latency_ms"], truth=truth)
            hits = [p.req["cached_tokens"] for p in pairs]
            check(f"{tag}_cache_hit_confirmed_by_cached_tokens",
                  pairs and all(h is not None and h >= 0.99 * d for h in hits),
                  f"expected >= {0.99 * d:.0f} cached tokens per request, measured {hits}")
            # Closed form: est_ppt = U / rate (U = uncached tokens), within 4%
            # plus the ms tolerance, so pp = pp / est_ppt is the marginal rate.
            for key in ("pp_throughput", "pp_marginal_throughput"):
                bad = []
                vals = (run.get(key) or {}).get("values") or []
                for p, v in zip(pairs, vals):
                    est_ms = (p.rec["prompt_tokens"] - p.rec["cached_tokens"]) * 1e3 / PP_RATE
                    lo = pp / ((est_ms * 1.04 + TRUTH_TOL_MS) / 1e3)
                    hi = pp / (max(est_ms * 0.96 - TRUTH_TOL_MS, 1.0) / 1e3)
                    if not lo <= v <= hi:
                        bad.append(f"expected {pp / (est_ms / 1e3):.1f} (rate x pp / uncached; "
                                   f"{lo:.1f}..{hi:.1f}), measured {v:.1f}")
                check(f"{tag}_{key}_is_marginal_rate", pairs and len(vals) == len(pairs)
                      and not bad, "; ".join(bad[:3]) or f"values {vals}")


def scenario_cache_modes():
    """4: --cache off / lcp / block. The control run (same prompt context
    twice, --enable-prefix-caching) hits in lcp and block and not in off;
    with --no-cache on the client no request ever hits."""
    depth = 1024
    args = ["--pp", "256", "--tg", "4", "--depth", depth, "--runs", "2",
            "--enable-prefix-caching", *FAST]
    for mode in ("off", "lcp", "block"):
        with Tokmock("--truth", "--cache", mode, "--pp-rate", PP_RATE, "--tg-rate", 200) as mock:
            rc, data, err = bench_json(mock, *args)
            if check(f"s4_{mode}_control_exit0", rc == 0 and data is not None,
                     f"rc={rc} {err[-600:]}"):
                run = benchmark_rows(data)[0]
                pairs = verify_run_against_truth(f"s4_{mode}_control", run, mock,
                                                 data["latency_ms"])
                hits = [p.rec["cached_tokens"] for p in pairs]
                if mode == "off":
                    ok = pairs and all(h == 0 for h in hits)
                    want = "0"
                else:
                    ok = pairs and all(h >= depth - 32 for h in hits)
                    want = f">= {depth - 32}"
                check(f"s4_{mode}_control_hits", ok, f"expected {want}, truth {hits}")
            rc, data, err = bench_json(mock, "--no-cache", *args)
            if not check(f"s4_{mode}_nocache_exit0", rc == 0 and data is not None,
                         f"rc={rc} {err[-600:]}"):
                continue
            truth = truth_records(mock)
            ok_all = True
            for run in data["benchmarks"]:
                phase = "ctx" if run["is_context_prefill_phase"] else "inf"
                pairs = verify_run_against_truth(f"s4_{mode}_nocache_{phase}", run, mock,
                                                 data["latency_ms"], truth=truth)
                ok_all = ok_all and bool(pairs) and all(
                    p.rec["cached_tokens"] == 0 and p.req["cached_tokens"] == 0 for p in pairs)
            check(f"s4_{mode}_nocache_never_hits", ok_all,
                  "expected cached_tokens 0 everywhere, truth "
                  f"{[r['cached_tokens'] for r in truth[1].values()][-8:]}")


def scenario_no_tokenize():
    """9: a server without /tokenize: calibration from usage still gives the
    server prompts within 1% of the requested sizes."""
    pp = 512
    with Tokmock("--truth", "--no-tokenize", "--pp-rate", PP_RATE, "--tg-rate", 200) as mock:
        rc, data, err = bench_json(mock, "--pp", pp, "--tg", "4", "--depth", "0", "2048",
                                   "--runs", "2", *FAST)
        if not check("s9_exit0", rc == 0 and data is not None, f"rc={rc} {err[-600:]}"):
            return
        check("s9_prompt_source_calibrated", data.get("prompt_count_source") == "calibrated",
              str(data.get("prompt_count_source")))
        truth = truth_records(mock)
        for d, run in sorted(by_depth(benchmark_rows(data)).items()):
            tag = f"s9_d{d}"
            pairs = verify_run_against_truth(tag, run, mock, data["latency_ms"], truth=truth)
            sizes = [p.rec["prompt_tokens"] for p in pairs]
            check(f"{tag}_prompt_within_1pct", pairs and all(
                abs(s - (d + pp)) <= 0.01 * (d + pp) for s in sizes),
                f"expected {d + pp} ± 1%, truth {sizes}")
            v = metric_mean(run, "pp_throughput")
            check(f"{tag}_pp_within_4pct_of_rate", near(v, PP_RATE, 0.04),
                  f"expected {PP_RATE}, measured {v}")


def main():
    run_scenario("depth_sweep", scenario_depth_sweep)
    run_scenario("cache_modes", scenario_cache_modes)
    run_scenario("no_tokenize", scenario_no_tokenize)
    finish()


if __name__ == "__main__":
    main()
