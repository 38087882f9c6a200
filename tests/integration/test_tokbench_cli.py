"""tokbench end to end against tokmock: the issue's "Done when" list.

pp / tg against tokmock's closed-form rates (1000 tok/s prefill, 50 tok/s
decode by default), MTP and reasoning streams, a concurrency burst, the
calibrated prompt counts when the server has no /tokenize, llama-benchy's
report shapes, and bad usage.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, TOKBENCH, Tokmock, check, finish, run_tokbench  # noqa: E402

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
        (("--base-url", "http://127.0.0.1:1/v1", "--extra-body", 'a={"x":1,'), "not valid JSON"),
        (("--base-url", "http://127.0.0.1:1/v1", "--concurrency", "0"), "out of range"),
        (("--base-url", "http://127.0.0.1:1/v1", "--runs", "-1"), "--runs"),
        (("--base-url", "http://127.0.0.1:1/v1", "--tg", "-4"), "out of range"),
        (("--base-url", "http://127.0.0.1:1/v1", "--slo", "ttft_p99"), "--slo"),
        (("--base-url", "http://127.0.0.1:1/v1", "--request-timeout", "0"), "positive"),
        (("--base-url", "127.0.0.1:8080/v1"), "http://"),
        (("--base-url", "http:///v1"), "no host"),
    ]:
        rc, out, err = run_tokbench(*args)
        name = "".join(c if c.isalnum() else "_" for c in needle.strip("-:/ "))
        lines = [ln for ln in err.splitlines() if ln.strip()]
        check(f"bad_usage_exit2_{name}",
              rc == 2 and needle in err and out == "" and len(lines) <= 2
              and "Traceback" not in err, f"rc={rc} err={err!r}")

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

    # 6. Unreachable server: bad usage (exit 2) with one line saying so,
    # whether the first request is a warm-up or a benchmark request.
    for tag, extra in (("warmup", ()), ("bench", ("--no-warmup", "--no-adapt-prompt",
                                                 "--skip-coherence", "--latency-mode", "none"))):
        rc, out, err = run_tokbench("--base-url", "http://127.0.0.1:1/v1", "--model", "m",
                                    "--timeout", "5", "--pp", "8", "--tg", "2", *extra)
        check(f"unreachable_server_exit2_{tag}",
              rc == 2 and out == "" and "cannot reach the server at http://127.0.0.1:1/v1" in err,
              f"rc={rc} {err[-300:]}")

    scenario_signals()
    scenario_secrets()
    scenario_realtime()
    finish()


FAST = ("--no-warmup", "--no-adapt-prompt", "--skip-coherence", "--latency-mode", "none")


def wait_for(pred, seconds):
    """Polls pred() (a file to appear, a count to reach) up to a deadline."""
    deadline = time.monotonic() + seconds * SLOW
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def count_in(path, needle):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().count(needle)
    except OSError:
        return 0


def scenario_signals():
    """SIGINT / SIGTERM save the runs that finished and exit 130 / 143; a
    second SIGINT exits at once (130) without a report."""
    with Tokmock() as mock, tempfile.TemporaryDirectory() as tmp:
        for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            name = signal.Signals(sig).name
            saved = os.path.join(tmp, f"{name}.json")
            prog = os.path.join(tmp, f"{name}.jsonl")
            p = subprocess.Popen([TOKBENCH, "--base-url", mock.base_url + "/v1", "--pp", "32",
                                  "--tg", "16", "--runs", "200", *FAST, "--format", "json",
                                  "--save-result", saved, "--emit-progress", prog],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
            started = wait_for(lambda: count_in(prog, '"request_end"') >= 3, 30)
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=10 * SLOW)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            try:
                with open(saved, encoding="utf-8") as f:
                    report = json.load(f)
                runs = len(report["benchmarks"][0]["pp_throughput"]["values"])
            except (OSError, ValueError, IndexError, KeyError, TypeError) as e:
                runs = f"no report ({e})"
            check(f"signal_{name}_exit{want}_partial_results_saved",
                  started and p.returncode == want and isinstance(runs, int) and 3 <= runs < 200,
                  f"rc={p.returncode} runs={runs} {err.decode(errors='replace')[-300:]}")
            check(f"signal_{name}_progress_says_interrupted",
                  count_in(prog, '"interrupted"') >= 1, "no interrupted status in the progress")

        # A second SIGINT while the first one waits (here for --post-run-cmd).
        pid_file = os.path.join(tmp, "sleep.pid")
        saved = os.path.join(tmp, "twice.json")
        p = subprocess.Popen([TOKBENCH, "--base-url", mock.base_url + "/v1", "--pp", "32",
                              "--tg", "4", "--runs", "3", *FAST, "--format", "json",
                              "--save-result", saved,
                              "--post-run-cmd",
                              f"echo $$ > {pid_file}; exec sleep 60 >/dev/null 2>&1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        sleeping = wait_for(lambda: count_in(pid_file, "\n") >= 1, 30)
        p.send_signal(signal.SIGINT)
        first_held = wait_for(lambda: p.poll() is not None, 0.3) is False
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=5 * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
        took = time.monotonic() - t0
        try:
            with open(pid_file) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)  # the sleep tokbench started
        except (OSError, ValueError):
            pass
        out, err = p.communicate()
        check("second_sigint_exits_at_once_130_no_report",
              sleeping and first_held and p.returncode == 130 and took < 3 * SLOW
              and out == b"" and not os.path.exists(saved),
              f"rc={p.returncode} took={took:.2f}s held={first_held} saved={os.path.exists(saved)}")


def scenario_secrets():
    """The API key and a base URL's user:password never appear in any output:
    stdout, stderr at debug level, the saved JSON, the progress stream, even
    when requests fail."""
    key, password = "sk-PLANTED-KEY-4711", "PLANTED-PASSWORD-0815"
    with Tokmock("--api-key", key, "--fault", "status=429:0.3", "--seed", "3") as mock, \
            tempfile.TemporaryDirectory() as tmp:
        url = mock.base_url.replace("http://", f"http://bob:{password}@") + "/v1"
        texts = []
        for fmt in ("json", "md"):
            saved = os.path.join(tmp, f"r.{fmt}")
            prog = os.path.join(tmp, f"p.{fmt}.jsonl")
            # No warm-up: a 429 there would (rightly) stop the run.
            rc, out, err = run_tokbench("--base-url", url, "--api-key", key, "--pp", "32",
                                        "--tg", "4", "--runs", "3", "--concurrency", "2",
                                        "--no-warmup", "--no-adapt-prompt", "--skip-coherence",
                                        "--log-level", "debug", "--format", fmt,
                                        "--save-result", saved, "--emit-progress", prog)
            texts += [out, err]
            for path in (saved, prog):
                try:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        texts.append(f.read())
                except OSError:
                    texts.append("")
            check(f"secrets_run_{fmt}_ok_with_key", rc == 0 and "request failed" in err,
                  f"rc={rc} {err[-400:]}")
        leaks = [t[max(0, t.find(s) - 60):t.find(s) + 40] for t in texts for s in (key, password)
                 if s in t]
        check("secrets_never_printed", not leaks and len(texts) == 8, f"leaked: {leaks[:2]}")


def thread_policy(pid):
    """Scheduling policy of pid's main thread (field 41 of stat), or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[38])
    except (OSError, IndexError, ValueError):
        return None


def no_rtprio():
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))


def scenario_realtime():
    """--realtime: the reading thread runs SCHED_FIFO 2 when allowed (this
    suite runs as root in CI) and the run is otherwise the same; without
    CAP_SYS_NICE and with RLIMIT_RTPRIO 0 it is refused with a warning and
    the run still completes at normal priority."""
    args = ["--pp", "16", "--tg", "40", "--runs", "1", "--progress", "off", "--format", "json",
            *FAST]

    def report(out):
        """(realtime flag, tg of the run) from the JSON report, or None."""
        try:
            data = json.loads(out)
            return data.get("realtime"), [b["response_size"] for b in data["benchmarks"]]
        except (ValueError, KeyError, TypeError):
            return None
    with Tokmock() as mock:
        url = mock.base_url + "/v1"
        allowed = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= 2
        if allowed:
            p = subprocess.Popen([TOKBENCH, "--base-url", url, "--realtime", *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
            seen = set()
            while p.poll() is None:
                pol = thread_policy(p.pid)
                if pol is not None:
                    seen.add(pol)
                time.sleep(0.01)
            out, err = p.communicate(timeout=60 * SLOW)
            err = err.decode("utf-8", "replace")
            got = report(out.decode("utf-8", "replace"))
            check("realtime_granted_sched_fifo",
                  p.returncode == 0 and 1 in seen and "SCHED_FIFO priority 2" in err
                  and got == (True, [40]), f"rc={p.returncode} policies={seen} report={got} "
                  f"{err[-300:]}")
        # Refused: no CAP_SYS_NICE (dropped from the bounding set when root)
        # and no real-time rlimit.
        cmd = [TOKBENCH, "--base-url", url, "--realtime", *args]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"] + cmd
        p = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL,
                           preexec_fn=no_rtprio, timeout=60 * SLOW)
        err = p.stderr.decode("utf-8", "replace")
        got = report(p.stdout.decode("utf-8", "replace"))
        check("realtime_refused_warns_and_runs",
              p.returncode == 0 and "--realtime refused" in err and got == (False, [40]),
              f"rc={p.returncode} report={got} {err[-300:]}")


if __name__ == "__main__":
    main()
