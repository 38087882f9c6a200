"""tokbench load modes, SLO gates and llama-benchy's finishing touches
against tokmock's independent engine (docs/tokbench-load.md).

The shared-engine regimes of issue 5 (queueing at --parallel 1, batch
penalty) come with tokmock's --engine shared; these tests use what the
independent engine already guarantees: every request decodes at --tg-rate.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOKBENCH, Tokmock, check, finish, run_tokbench  # noqa: E402

# llama-benchy 0.4.0's CSV header (results.py save_report, csv.DictWriter).
CSV_HEADER = ("model,test_name,t_s_mean,t_s_std,t_s_req_mean,t_s_req_std,peak_ts_mean,"
              "peak_ts_std,peak_ts_req_mean,peak_ts_req_std,ttfr_mean,ttfr_std,est_ppt_mean,"
              "est_ppt_std,e2e_ttft_mean,e2e_ttft_std\r\n")
BASE = ["--pp", "64", "--tg", "16", "--skip-coherence", "--latency-mode", "none", "--quiet"]


def bench(mock, *args):
    rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", *BASE, *args)
    return rc, out, err


def as_json(out):
    try:
        return json.loads(out)
    except ValueError:
        return None


def main():
    with Tokmock("--tg-rate", "100", "--pp-rate", "20000") as mock:
        # Footer after the markdown table, as llama-benchy prints it.
        rc, out, err = bench(mock, "--runs", "1")
        lines = out.rstrip("\n").split("\n")
        check("md_footer_version_line", rc == 0 and "llama-benchy (0.4.0+tokbench." in out,
              out[-300:])
        footer_ok = any(l.startswith("date: ") and l.endswith(" | latency mode: none")
                        for l in lines)
        check("md_footer_date_line", footer_ok, out[-300:])

        # The exact CSV header of llama-benchy 0.4.0.
        rc, out, err = bench(mock, "--runs", "1", "--format", "csv")
        check("csv_exact_header", rc == 0 and out.startswith(CSV_HEADER), out[:300])
        check("csv_no_footer", "llama-benchy (" not in out, out[-200:])

        # --save-result JSON without a trailing newline (llama-benchy's json.dump).
        fd, path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        rc, out, err = bench(mock, "--runs", "1", "--format", "json", "--save-result", path)
        with open(path, "rb") as f:
            saved = f.read()
        os.unlink(path)
        check("json_file_no_trailing_newline", rc == 0 and saved.endswith(b"}")
              and json.loads(saved)["prompt_wrapped"] is False, saved[-80:])

        # Percentile columns and per-cell rps / error rate.
        rc, out, err = bench(mock, "--runs", "2", "--percentiles", "50,99")
        check("percentile_columns", rc == 0 and "e2e_ttft p50 (ms)" in out
              and "itl p99 (ms)" in out, out[:600])
        rc, out, err = bench(mock, "--runs", "2", "--concurrency", "2", "--format", "json")
        d = as_json(out)
        run = d and d["benchmarks"][0]
        check("rps_and_error_rate", run is not None and run["error_rate"] == 0.0
              and run["requests_per_second"] > 0 and run["e2el"]["p95"] > 0, out[:300])
        # tg 16 at 100 t/s: about 160 ms per request, 2 at once -> about 12 rps.
        check("rps_plausible", run is not None and 5 < run["requests_per_second"] < 14,
              run and run["requests_per_second"])

        # SLO gates: met -> 0, breached under --ci -> 3 with the value listed.
        rc, out, err = bench(mock, "--runs", "1", "--slo",
                             "tg_req_p50>=80,error_rate<=0.01,e2el_p95_ms<=5000", "--ci")
        check("slo_met_exit_0", rc == 0 and "SLO met" in out, f"rc={rc} {out[-300:]} {err}")
        rc, out, err = bench(mock, "--runs", "1", "--slo", "tg_req_p50>=500", "--ci",
                             "--format", "json")
        d = as_json(out)
        check("slo_breach_exit_3", rc == 3 and "tg_req_p50>=500" in err
              and "measured" in err, f"rc={rc} {err[-300:]}")
        check("slo_breach_in_json", d is not None and d["slo"]["met"] is False
              and d["slo"]["breaches"][0]["value"] < 500, out[-400:])
        rc, out, err = bench(mock, "--runs", "1", "--slo", "tg_req_p50>=500")
        check("slo_breach_without_ci_exit_0", rc == 0 and "SLO breached" in out, f"rc={rc}")
        for bad in ["ttft_p95_ms", "ttft_p95_ms<=x", "ttft_bogus_ms<=1", "nosuch<=1"]:
            rc, out, err = bench(mock, "--slo", bad)
            check(f"slo_parse_error_exit_2[{bad}]", rc == 2 and "--slo" in err, err[-200:])
        rc, out, err = bench(mock, "--ci")
        check("ci_without_slo_exit_2", rc == 2, err[-200:])

        # Open loop: 20 requests at 40/s (Poisson, seeded).
        rc, out, err = bench(mock, "--runs", "1", "--request-rate", "40", "--num-requests", "20",
                             "--max-concurrency", "8", "--format", "json")
        d = as_json(out)
        run = d and d["benchmarks"][0]
        check("request_rate_runs_all", run is not None and run["n_requests"] == 20
              and run["load_mode"] == "request_rate" and run["concurrency"] == 8, out[:300])
        check("request_rate_intended_latency", run is not None
              and run["dispatch_lag"]["p50"] >= 0
              and run["e2el_from_intended"]["p50"] >= run["e2el"]["p50"] - 1, out[-600:])
        # Closed loop for a duration: 2 users busy for 1 s (~160 ms per request).
        t0 = time.monotonic()
        rc, out, err = bench(mock, "--runs", "1", "--duration", "1", "--concurrency", "2",
                             "--format", "json", "--no-warmup")
        took = time.monotonic() - t0
        d = as_json(out)
        run = d and d["benchmarks"][0]
        check("duration_closed_loop", run is not None and 8 <= run["n_requests"] <= 20
              and took < 20, f"n={run and run['n_requests']} took={took:.1f}")
        rc, out, err = bench(mock, "--runs", "1", "--num-requests", "5", "--concurrency", "2",
                             "--format", "json", "--no-warmup")
        d = as_json(out)
        check("num_requests_closed_loop", d is not None and d["benchmarks"][0]["n_requests"] == 5,
              out[:200])
        for bad in [["--request-rate", "10"], ["--request-rate", "0", "--num-requests", "3"],
                    ["--request-rate", "inf", "--duration", "1"],
                    ["--max-concurrency", "3"], ["--burstiness", "-1"],
                    ["--percentiles", "101"]]:
            rc, out, err = bench(mock, *bad)
            check(f"load_usage_error_exit_2[{' '.join(bad)}]", rc == 2, err[-200:])

        # Depth sweep answer and monitor of the mock process.
        rc, out, err = bench(mock, "--runs", "1", "--depth", "0", "256",
                             "--monitor-pid", mock.proc.pid)
        check("depth_recommendation_line", rc == 0 and "Recommended max context" in out,
              out[-400:])
        rc, out, err = bench(mock, "--runs", "1", "--format", "json", "--monitor-pid",
                             mock.proc.pid)
        d = as_json(out)
        mon = d and d["benchmarks"][0]["monitor"]
        check("monitor_rss", mon is not None and mon["peak_rss_kb"] and mon["peak_rss_kb"] > 0
              and mon["pswpout_pages"] is not None and mon["pswpout_pages"] >= 0, str(mon))

        # SIGINT: partial results saved, exit 130.
        # stdout goes to a file: a pipe nobody reads would block the report.
        outf = tempfile.TemporaryFile()
        loud = [a for a in BASE if a != "--quiet"]
        p = subprocess.Popen([TOKBENCH, "--base-url", mock.base_url + "/v1", *loud,
                              "--runs", "50", "--tg", "64", "--format", "json"],
                             stdout=outf, stderr=subprocess.PIPE)
        seen = b""  # wait for the third run to start (not a fixed sleep)
        deadline = time.monotonic() + 30
        while b"run 3/50" not in seen and time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            seen += line
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        outf.seek(0)
        d = as_json(outf.read().decode())
        check("sigint_exit_130_partial", p.returncode == 130 and d is not None
              and d["benchmarks"] and d["benchmarks"][0]["n_requests"] >= 2,
              f"rc={p.returncode} {err[-300:]!r}")
    finish()


if __name__ == "__main__":
    main()
