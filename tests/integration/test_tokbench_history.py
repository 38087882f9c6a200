"""The history ledger, `tokbench compare`, the Prometheus textfile and the
Grafana dashboard, end to end against tokmock.

A planted regression: run 1 against tokmock at its default decode rate
(50 tok/s), run 2 against a tokmock with --tg-rate halved. Run 2's stderr
must flag the tg t/s drop as a REGRESSION while stdout keeps the shape of a
run without --history; `tokbench history DIR` lists both runs;
`tokbench compare` shows the change. The textfile must pass promtool (the
Debian `prometheus` package); every expression of scripts/grafana-dashboard.json
must name only metrics tokbench's textfile or tokmock's /metrics emit.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, SLOW, TOKBENCH, Tokmock, check, finish, run_tokbench  # noqa: E402

ARGS = ["--pp", "128", "--tg", "32", "--runs", "3"]


def shape(text):
    """The report with every number replaced and runs of spaces and dashes
    collapsed: what must not change when --history is added."""
    t = re.sub(r"\d+(\.\d+)?", "N", text)
    t = re.sub(r" +", " ", t)
    return re.sub(r"-+", "-", t)


def prom_families(text):
    """Metric names of a text exposition: family names and sample names."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("summary", "histogram"):
                names.update(m.group(1) + s for s in ("_sum", "_count", "_bucket"))
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


PROMQL_WORDS = {"sum", "rate", "irate", "by", "without", "histogram_quantile", "avg", "max",
                "min", "count", "increase", "le", "and", "or", "unless", "on", "ignoring",
                "group_left", "group_right", "offset", "bool", "topk", "bottomk"}


def expr_metrics(expr):
    """Metric names an expression reads: identifiers outside label matchers,
    range selectors, by (...) lists and strings, that are not functions or
    keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0) in PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


def main():
    tmp = tempfile.mkdtemp(prefix="tokbench-history-test-")
    ledger = os.path.join(tmp, "ledger")
    prom1 = os.path.join(tmp, "run1.prom")
    try:
        # Run 1 (default rates) with --history and --prom-textfile, and a
        # control run without --history against the same server.
        with Tokmock() as fast:
            url = fast.base_url + "/v1"
            rc1, out1, err1 = run_tokbench("--base-url", url, *ARGS, "--history", ledger,
                                           "--prom-textfile", prom1)
            rc0, out0, err0 = run_tokbench("--base-url", url, *ARGS)
        check("run1_ok", rc1 == 0 and rc0 == 0, f"rc {rc1} / {rc0}: {err1[-400:]}")
        check("run1_recorded", "history: run recorded as" in err1 and
              "first run with this key" in err1, err1[-400:])
        check("stdout_same_shape_with_history", shape(out1) == shape(out0) and out1.strip(),
              f"with history:\n{out1}\nwithout:\n{out0}")
        check("stdout_without_history_text", "history" not in out1 and "REGRESSION" not in out1,
              out1)

        # Run 2: decode at half the rate; the ledger comes from $TOKBENCH_HISTORY.
        with Tokmock("--tg-rate", "25") as slow:
            env = dict(os.environ, TOKBENCH_HISTORY=ledger)
            p = subprocess.run([TOKBENCH, "--base-url", slow.base_url + "/v1", *ARGS],
                               capture_output=True, timeout=120 * SLOW, env=env,
                               stdin=subprocess.DEVNULL)
            rc2, out2 = p.returncode, p.stdout.decode("utf-8", "replace")
            err2 = p.stderr.decode("utf-8", "replace")
            metrics_text = slow.request("GET", "/metrics")[2].decode()
        check("run2_ok", rc2 == 0, f"rc {rc2}: {err2[-400:]}")
        flagged = [ln for ln in err2.splitlines() if ln.startswith("REGRESSION:")]
        tg_flag = [ln for ln in flagged if "tg t/s (mean)" in ln]
        check("regression_flagged_on_stderr", len(tg_flag) == 1 and
              re.search(r"\(-(3[5-9]|[4-6]\d)\.\d%, threshold 10%\)", tg_flag[0]) is not None,
              "\n".join(flagged) or err2[-800:])
        check("regression_summary_line", re.search(r"history: \d+ REGRESSIONS? beyond 10%", err2)
              is not None, err2[-400:])
        check("regression_not_on_stdout", "REGRESSION" not in out2 and
              shape(out2) == shape(out0), out2)

        # The ledger: two run files, two index lines with the same key.
        runs = sorted(glob.glob(os.path.join(ledger, "runs", "*.json")))
        with open(os.path.join(ledger, "index.jsonl")) as f:
            index = [json.loads(line) for line in f]
        keys = {e["key"] for e in index}
        check("ledger_layout", len(runs) == 2 and len(index) == 2 and len(keys) == 1 and
              all(os.path.join(ledger, e["run_file"]) in runs for e in index),
              f"runs {runs}, index {index}")
        tg = [e["cells"][0]["tg_tps_mean"] for e in index]
        # Halving the decode rate halves tg t/s; wide bounds for a loaded machine.
        check("ledger_summary_figures", 40 < tg[0] <= 52 and 0.4 < tg[1] / tg[0] < 0.6,
              f"tg t/s in the index: {tg}")
        run_docs = []
        for path in runs:
            with open(path) as f:
                run_docs.append(json.load(f))
        check("ledger_run_files_are_full_reports",
              all(d["benchmarks"][0]["tg_throughput"]["values"] for d in run_docs), runs)

        # tokbench history DIR lists both runs (and --key filters).
        rc, out, err = run_tokbench("history", ledger)
        listed = re.findall(r"^\S+Z  key (\w+)  model ", out, re.M)
        check("history_lists_both_runs", rc == 0 and listed == [index[0]["key"]] * 2 and
              "pp128 tg32 @ d0 c1" in out, f"rc {rc}\n{out}\n{err}")
        rc, out, err = run_tokbench("history", ledger, "--key", "0000000000000000")
        check("history_key_filter", rc == 0 and out == "" and "no run with key" in err,
              f"rc {rc} {out!r} {err!r}")

        # tokbench compare on the two run files shows the tg change.
        rc, out, err = run_tokbench("compare", runs[0], runs[1])
        line = next((ln for ln in out.splitlines() if re.search(r"\btg t/s\s", ln)), "")
        m = re.search(r"([-+]\d+\.\d)%\s+(.*)$", line)
        check("compare_shows_change", rc == 0 and m is not None and
              -65 < float(m.group(1)) < -35, f"rc {rc}\n{out}\n{err}")
        check("compare_significance_note", m is not None and
              "too few runs to tell" in m.group(2), line)

        # Prometheus textfile: promtool's verdict and the figures.
        promtool = shutil.which("promtool")
        check("promtool_installed", promtool is not None,
              "promtool not found: install the Debian 'prometheus' package "
              "(scripts/deps.sh test extras)")
        with open(prom1) as f:
            prom_text = f.read()
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=prom_text.encode(),
                               capture_output=True, timeout=60 * SLOW)
            check("prom_textfile_passes_promtool", p.returncode == 0,
                  (p.stdout + p.stderr).decode()[-800:])
        m = re.search(r'^tokbench_tg_tokens_per_second\{model="tokmock",depth="0",pp="128",'
                      r'tg="32",concurrency="1",phase="inference",stat="mean"\} (\S+)$',
                      prom_text, re.M)
        check("prom_textfile_tg_gauge", m is not None and 40 < float(m.group(1)) <= 52,
              prom_text[:600])
        check("prom_textfile_ttft_summary",
              re.search(r'^tokbench_ttft_seconds\{.*quantile="0.99"\} 0\.\d+$', prom_text, re.M)
              is not None and 'tokbench_ttft_seconds_count{' in prom_text, prom_text[-800:])

        # The Grafana dashboard reads only metrics we emit.
        with open(os.path.join(ROOT, "scripts", "grafana-dashboard.json")) as f:
            dash = json.load(f)
        known = prom_families(prom_text) | prom_families(metrics_text)
        panels = [p for p in dash["panels"] if p.get("type") != "row"]
        bad = []
        for p in panels:
            if not p.get("targets"):
                bad.append(f"panel {p.get('title')!r} has no query")
            for t in p.get("targets", []):
                names = expr_metrics(t["expr"])
                if not names:
                    bad.append(f"{t['expr']!r} names no metric")
                bad.extend(f"{p['title']!r}: {n} is not emitted" for n in names - known)
        for var in dash.get("templating", {}).get("list", []):
            m = re.match(r"label_values\((\w+)", var.get("definition", ""))
            if m and m.group(1) not in known:
                bad.append(f"variable {var['name']}: {m.group(1)} is not emitted")
        check("grafana_dashboard_valid", dash.get("schemaVersion", 0) >= 36 and len(panels) >= 8
              and not bad, "; ".join(bad[:5]))
        used = set().union(*(expr_metrics(t["expr"]) for p in panels for t in p["targets"]))
        check("grafana_dashboard_reads_both_sources",
              any(n.startswith("tokbench_") for n in used) and
              any(n.startswith("vllm:") for n in used), sorted(used))
    finally:
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


main()
finish()
