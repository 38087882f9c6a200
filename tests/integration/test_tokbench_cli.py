"""tokbench end to end against tokmock: the issue's "Done when" list.

pp / tg against tokmock's closed-form rates (1000 tok/s prefill, 50 tok/s
decode by default), MTP and reasoning streams, a concurrency burst, the
calibrated prompt counts when the server has no /tokenize, llama-benchy's
report shapes, and bad usage.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tokmock, check, finish, run_tokbench  # noqa: E402

# llama-benchy 0.4.0's literal column headers (its markdown table) and JSON key order.
MD_HEADER_C1 = ["model", "test", "t/s", "peak t/s", "ttfr (ms)", "est_ppt (ms)", "e2e_ttft (ms)"]
MD_HEADER_CN = ["model", "test", "t/s (total)", "t/s (req)", "peak t/s", "peak t/s (req)",
                "ttfr (ms)", "est_ppt (ms)", "e2e_ttft (ms)"]
JSON_TOP = ["version", "timestamp", "latency_mode", "latency_ms", "model",
            "prefix_caching_enabled", "max_concurrency", "benchmarks"]
JSON_RUN = ["concurrency", "context_size", "prompt_size", "response_size",
            "is_context_prefill_phase", "pp_throughput", "pp_req_throughput", "tg_throughput",
            "tg_req_throughput", "peak_throughput", "peak_req_throughput", "ttfr", "est_ppt",
            "e2e_ttft", "throughput_over_time", "requests_throughput_over_time"]


def near(value, target, rel):
    return value is not None and abs(value - target) <= rel * target


def mean(run, key):
    m = run.get(key)
    return m["mean"] if m else None


def bench_json(mock, *args):
    rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", "--format", "json", *args)
    try:
        data = json.loads(out)
    except ValueError:
        data = None
    return rc, data, err


def rows(data, prefix_phase=False):
    return [b for b in data["benchmarks"] if b["is_context_prefill_phase"] == prefix_phase]


def md_header(text):
    for line in text.splitlines():
        if line.startswith("| model"):
            return [c.strip() for c in line.strip().strip("|").split("|")]
    return None


def main():
    # 1. The reference command against a default tokmock.
    with Tokmock() as mock:
        rc, data, err = bench_json(mock, "--pp", "512", "--tg", "32", "--depth", "0", "2048",
                                   "--runs", "2")
        ok = check("default_run_exit0", rc == 0 and data is not None, f"rc={rc} {err[-800:]}")
        if ok:
            check("json_top_keys_in_llama_benchy_order",
                  list(data.keys())[:len(JSON_TOP)] == JSON_TOP, str(list(data.keys())))
            runs = rows(data)
            check("json_run_keys_in_llama_benchy_order",
                  all(list(r.keys())[:len(JSON_RUN)] == JSON_RUN for r in runs),
                  str(list(runs[0].keys())))
            by_depth = {r["context_size"]: r for r in runs}
            check("two_cells", sorted(by_depth) == [0, 2048], str(sorted(by_depth)))
            for depth, r in sorted(by_depth.items()):
                pp, tg = mean(r, "pp_throughput"), mean(r, "tg_throughput")
                check(f"pp_d{depth}_within_5pct_of_1000", near(pp, 1000, 0.05), f"pp={pp}")
                check(f"tg_d{depth}_within_3pct_of_50", near(tg, 50, 0.03), f"tg={tg}")
                check(f"runs_d{depth}_two_measured", len(r["pp_throughput"]["values"]) == 2,
                      str(r["pp_throughput"]))
            check("prompt_source_server_tokenize",
                  data.get("prompt_count_source") == "server_tokenize",
                  str(data.get("prompt_count_source")))
            reqs = by_depth.get(2048, {}).get("requests", [])
            check("exact_prompt_tokens_from_tokenize",
                  reqs and all(q["prompt_tokens"] == 2560 for q in reqs),
                  str([q.get("prompt_tokens") for q in reqs]))
        check("stderr_has_logs_stdout_only_json", "running test" in err, err[-300:])

        # Markdown and CSV shapes on a short run.
        rc, out, err = run_tokbench("--base-url", mock.base_url + "/", "--pp", "64", "--tg", "4",
                                    "--runs", "1", "--no-warmup", "--skip-coherence")
        check("md_exit0", rc == 0, f"rc={rc} {err[-500:]}")
        check("md_header_c1", md_header(out) == MD_HEADER_C1, out[:400])
        cells = [c.strip() for line in out.splitlines() for c in line.split("|")]
        check("md_rows_named_like_llama_benchy", "pp64" in cells and "tg4" in cells, out[:600])
        fd, csv_path = tempfile.mkstemp(suffix=".csv")
        os.close(fd)
        rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", "--pp", "64", "--tg",
                                    "4", "--runs", "1", "--no-warmup", "--skip-coherence",
                                    "--format", "csv", "--save-result", csv_path)
        with open(csv_path, "rb") as f:
            csv_bytes = f.read()
        os.unlink(csv_path)
        check("csv_saved_with_crlf", rc == 0 and b"\r\n" in csv_bytes and out == "",
              f"rc={rc} stdout={out[:200]!r} csv={csv_bytes[:200]!r}")

        # Concurrency burst: 4 independent streams at 50 tok/s each.
        rc, data, err = bench_json(mock, "--pp", "64", "--tg", "32", "--runs", "1",
                                   "--concurrency", "4", "--no-warmup", "--skip-coherence")
        if check("concurrency_exit0", rc == 0 and data is not None, f"rc={rc} {err[-500:]}"):
            r = rows(data)[0]
            tot, req = mean(r, "tg_throughput"), mean(r, "tg_req_throughput")
            check("concurrency4_total_tg_about_200", near(tot, 200, 0.06), f"total={tot}")
            check("concurrency4_req_tg_about_50", near(req, 50, 0.03), f"req={req}")
            check("concurrency4_max_concurrency", data["max_concurrency"] == 4,
                  str(data["max_concurrency"]))

        # Progress JSONL never carries the API key; ids and ordering hold.
        fd, prog = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)
        rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", "--pp", "32", "--tg",
                                    "4", "--runs", "1", "--no-warmup", "--skip-coherence",
                                    "--emit-progress", prog, "--api-key", "SECRET-KEY-123")
        with open(prog) as f:
            text = f.read()
        os.unlink(prog)
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        types = [e["type"] for e in events]
        check("progress_schema_and_order",
              rc == 0 and types[:1] == ["header"] and types[-1:] == ["bench_complete"]
              and all(e["schema"] == "llama-benchy-progress.v1" for e in events)
              and "request_start" in types and "request_end" in types and "tokens" in types
              and types.index("latency_measured") < types.index("request_start"),
              f"rc={rc} {types}")
        check("progress_has_no_api_key", "SECRET-KEY-123" not in text, "key leaked")

    # 2. MTP: 3 tokens per decode step -> 150 tok/s. tg 64 = 1 + 21 steps of 3.
    with Tokmock("--mtp-pattern", "3") as mock:
        rc, data, err = bench_json(mock, "--pp", "64", "--tg", "64", "--runs", "1",
                                   "--no-warmup", "--skip-coherence")
        if check("mtp_exit0", rc == 0 and data is not None, f"rc={rc} {err[-500:]}"):
            tg = mean(rows(data)[0], "tg_throughput")
            check("mtp3_tg_within_5pct_of_150", near(tg, 150, 0.05), f"tg={tg}")

    # 3. Reasoning tokens count as generated tokens.
    with Tokmock("--reasoning", "20") as mock:
        rc, data, err = bench_json(mock, "--pp", "64", "--tg", "32", "--runs", "1",
                                   "--no-warmup", "--skip-coherence")
        if check("reasoning_exit0", rc == 0 and data is not None, f"rc={rc} {err[-500:]}"):
            tg = mean(rows(data)[0], "tg_throughput")
            check("reasoning20_tg_within_3pct_of_50", near(tg, 50, 0.03), f"tg={tg}")

    # 4. No /tokenize on the server: the same command works with calibrated counts.
    with Tokmock("--no-tokenize") as mock:
        rc, data, err = bench_json(mock, "--pp", "512", "--tg", "32", "--depth", "0", "2048",
                                   "--runs", "2")
        if check("no_tokenize_exit0", rc == 0 and data is not None, f"rc={rc} {err[-800:]}"):
            check("no_tokenize_source_calibrated",
                  data.get("prompt_count_source") == "calibrated",
                  str(data.get("prompt_count_source")))
            # Each slice is measured by at most 4 max_tokens 1 probes: (1 warm-up +
            # 2 runs) x (1 cut at depth 0 + 2 cuts at depth 2048) = 9 cuts.
            probes = data.get("prompt_measure_probes")
            check("no_tokenize_slices_measured_by_few_probes",
                  data.get("prompt_count_method") == "usage_probe_measured"
                  and isinstance(probes, int) and 9 <= probes <= 9 * 4,
                  f"{data.get('prompt_count_method')} probes={probes}")
            for r in rows(data):
                pp = mean(r, "pp_throughput")
                check(f"no_tokenize_pp_d{r['context_size']}_within_5pct",
                      near(pp, 1000, 0.05), f"pp={pp}")
                sizes = [q["prompt_tokens"] for q in r.get("requests", [])]
                want = r["context_size"] + r["prompt_size"]
                check(f"no_tokenize_prompt_d{r['context_size']}_within_10pct",
                      sizes and all(near(s, want, 0.10) for s in sizes), f"{sizes} vs {want}")

    # 5. Bad usage: exit 2 with one clear message, no report on stdout.
    for args, needle in [
        ((), "--base-url"),
        (("--base-url", "http://127.0.0.1:1/v1", "--pp", "abc"), "invalid int"),
        (("--base-url", "http://127.0.0.1:1/v1", "--format", "xml"), "invalid choice"),
        (("--base-url", "http://127.0.0.1:1/v1", "--no-such-flag"), "unrecognized"),
        (("--base-url", "http://127.0.0.1:1/v1", "--extra-body", "oops"), "key=value"),
    ]:
        rc, out, err = run_tokbench(*args)
        check(f"bad_usage_exit2_{needle.strip('-').replace(' ', '_')}",
              rc == 2 and needle in err and out == "", f"rc={rc} err={err!r}")

    # 5b. --exit-on-first-fail with the FIRST cell failing (an --extra-body the
    # server rejects, sent only with benchmark requests): exit 1, and the
    # --save-result file still holds a report with an empty benchmarks list,
    # unless --no-results-on-fail.
    with Tokmock() as mock, tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "r.json")
        args = ("--pp", "64", "--tg", "4", "--runs", "1", "--no-warmup", "--skip-coherence",
                "--exit-on-first-fail", "--extra-body", 'max_tokens="x"', "--save-result",
                saved)
        rc, _, err = bench_json(mock, *args)
        try:
            with open(saved, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            report = None
            err += f" ({e})"
        check("first_cell_fail_exit1_with_empty_report",
              rc == 1 and report is not None and report.get("benchmarks") == []
              and list(report)[:len(JSON_TOP)] == JSON_TOP, f"rc={rc} {err[-400:]}")
        if os.path.exists(saved):
            os.unlink(saved)
        rc, _, err = bench_json(mock, *args, "--no-results-on-fail")
        check("first_cell_fail_no_results_on_fail_writes_nothing",
              rc == 1 and not os.path.exists(saved), f"rc={rc} {err[-400:]}")

    # 6. Unreachable server: a failed warm-up exits 1.
    rc, out, err = run_tokbench("--base-url", "http://127.0.0.1:1/v1", "--model", "m",
                                "--timeout", "5")
    check("unreachable_server_exit1", rc == 1 and out == "", f"rc={rc} {err[-300:]}")
    finish()


if __name__ == "__main__":
    main()
