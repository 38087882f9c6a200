#!/usr/bin/env python3
"""tokbench against tokmock: the server kind is detected and logged, request
fields a kind does not take are left out, cache_verified says whether the
two-phase prefix-caching mode hit the cache (and whether --no-cache missed),
and --record writes entries that add up, hold no secret, and refuse a
directory that already holds a recording. (docs/tokbench-servers.md)"""
import json
import os
import shutil
import tempfile

from harness import SLOW, Tokmock, bench_json, benchmark_rows, check, finish, run_tokbench

KEY = "sk-servertruth-0123456789"
COMMON = ["--pp", "64", "--tg", "8", "--runs", "2", "--latency-mode", "none"]


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def test_kind_and_cache(mock):
    rc, data, err = bench_json(mock, *COMMON, "--depth", "256", "--enable-prefix-caching")
    check("cache_run_ok", rc == 0 and data is not None, f"rc {rc}: {err[-400:]}")
    if data is None:
        return
    check("kind_logged", "server kind: tokmock (/models owned_by=tokmock)" in err, err[-400:])
    ctx = benchmark_rows(data, True)
    inf = benchmark_rows(data, False)
    check("cache_cold_verified",
          len(ctx) == 1 and ctx[0].get("cache_mode") == "cold" and ctx[0].get("cache_verified") is True,
          json.dumps([r.get("cache_verified_reason") for r in ctx]))
    check("cache_hit_verified",
          len(inf) == 1 and inf[0].get("cache_mode") == "cached" and inf[0].get("cache_verified") is True,
          json.dumps([r.get("cache_verified_reason") for r in inf]))
    s = inf[0].get("server_reported", {}) if inf else {}
    check("server_reported_shape",
          s.get("requests") == 2 and s.get("cache_hits") == 2 and s.get("cached_tokens", 0) >= 128
          and set(s.get("timings", {})) == {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms",
                                              "cache_n", "draft_n", "draft_n_accepted"},
          json.dumps(s))

    rc, data, err = bench_json(mock, *COMMON, "--depth", "256", "--no-cache")
    rows = benchmark_rows(data, False) if data else []
    check("no_cache_verified",
          rc == 0 and len(rows) == 1 and rows[0].get("cache_mode") == "no_cache"
          and rows[0].get("cache_verified") is True,
          f"rc {rc}: " + json.dumps([r.get("cache_verified_reason") for r in rows]))

    rc, data, err = bench_json(mock, *COMMON, "--depth", "0", "--server-kind", "openai",
                               "--exact-tg", "--no-cache")
    check("kind_override_filters",
          rc == 0 and "server kind: openai (--server-kind openai)" in err
          and "not sending cache_prompt, min_tokens, ignore_eos: openai does not take them" in err,
          err[-600:])
    rows = benchmark_rows(data, False) if data else []
    check("plain_or_no_cache_mode_named", len(rows) == 1 and rows[0].get("cache_mode") == "no_cache",
          json.dumps([r.get("cache_mode") for r in rows]))


def test_cache_off_warns():
    with Tokmock("--cache", "off") as mock:
        rc, data, err = bench_json(mock, *COMMON, "--depth", "256", "--enable-prefix-caching")
        rows = benchmark_rows(data, False) if data else []
        check("cache_miss_detected",
              rc == 0 and len(rows) == 1 and rows[0].get("cache_verified") is False,
              f"rc {rc}: " + json.dumps([r.get("cache_verified_reason") for r in rows]))
        check("cache_miss_warned", "did not hit the server's prompt cache" in err, err[-600:])


def test_record(mock, tmp):
    rec = os.path.join(tmp, "rec")
    rc, data, err = bench_json(mock, *COMMON, "--depth", "0", "--record", rec, "--api-key", KEY)
    check("record_run_ok", rc == 0 and data is not None, f"rc {rc}: {err[-400:]}")
    entries = sorted(os.listdir(rec)) if os.path.isdir(rec) else []
    # one warm-up run and two measured runs of one request each
    check("record_entries", entries == ["000000", "000001", "000002"], repr(entries))
    reqs = data["benchmarks"][0].get("requests", []) if data else []
    for i, name in enumerate(entries):
        d = os.path.join(rec, name)
        body = read(os.path.join(d, "response.body"), "rb")
        rows = read(os.path.join(d, "reads.tsv")).splitlines()
        meta = json.loads(read(os.path.join(d, "meta.json")))
        sizes = [int(r.split("\t")[1]) for r in rows[1:]]
        times = [int(r.split("\t")[0]) for r in rows[1:]]
        check(f"record_{name}_adds_up",
              rows[0] == "t_us\tnbytes" and sum(sizes) == len(body) > 0 and times == sorted(times)
              and meta["bytes"] == len(body) and meta["status"] == 200 and meta["error"] is None,
              f"{rows[:3]} {len(body)} {meta}")
        check(f"record_{name}_stream",
              body.rstrip().endswith(b"data: [DONE]") and json.loads(read(os.path.join(d, "request.json")))["stream"] is True
              and read(os.path.join(d, "response.headers")).startswith("HTTP/1.1 200"),
              body[-80:])
        blob = b"".join(read(os.path.join(d, f), "rb") for f in os.listdir(d))
        check(f"record_{name}_no_key", KEY.encode() not in blob, "the API key was written")
        if i >= 1 and i - 1 < len(reqs):
            # The last read came before the transfer's end as tokbench measured it.
            r = reqs[i - 1]
            end_us = (r["end_ns"] - r["start_ns"]) / 1000
            check(f"record_{name}_times", times and 0 < times[-1] <= end_us + 1000 * SLOW
                  and meta["end_us"] >= times[-1], f"last read {times[-1:]} us, end {end_us} us")

    rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", *COMMON, "--record", rec)
    check("record_dir_taken_refused", rc == 2 and "already holds a recording" in err, f"rc {rc}: {err[-300:]}")
    afile = os.path.join(tmp, "afile")
    open(afile, "w").close()
    rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", *COMMON, "--record", afile)
    check("record_file_refused", rc == 2 and "is not a directory" in err, f"rc {rc}: {err[-300:]}")


def test_record_replay(tmp):
    """Record tokbench against the llama.cpp personality, replay the stream
    with tokmock --replay, and measure the same figures within 2%."""
    rec = os.path.join(tmp, "rec-llamacpp")
    args = ["--pp", "256", "--tg", "32", "--runs", "1", "--no-warmup", "--no-adapt-prompt",
            "--latency-mode", "none", "--skip-coherence"]
    with Tokmock("--personality", "llamacpp") as mock:
        rc, a, err = bench_json(mock, *args, "--record", rec)
    check("replay_recorded", rc == 0 and a is not None and os.path.isdir(os.path.join(rec, "000000")),
          f"rc {rc}: {err[-300:]}")
    if a is None:
        return
    check("replay_kind_llamacpp", "server kind: llamacpp (/models owned_by=llamacpp)" in err, err[-300:])
    t = a["benchmarks"][0].get("server_reported", {}).get("timings", {})
    check("replay_server_timings_read", t.get("prompt_n") and t.get("predicted_n") == 32.0, json.dumps(t))
    with Tokmock("--replay", os.path.join(rec, "000000")) as replayer:
        rc, b, err = bench_json(replayer, "--model", "x", *args)
    check("replay_ran", rc == 0 and b is not None, f"rc {rc}: {err[-300:]}")
    if b is None:
        return
    ra, rb = a["benchmarks"][0], b["benchmarks"][0]
    for key in ("ttfr", "e2e_ttft", "est_ppt", "pp_throughput", "tg_throughput"):
        va, vb = ra[key]["mean"], rb[key]["mean"]
        check(f"replay_same_{key}", va and vb and abs(vb - va) <= 0.02 * abs(va),
              f"recorded {va}, replayed {vb}")


def test_server_columns():
    """--server-columns puts the server's own rate (llama.cpp timings) beside
    the client's in the table: prefill at the configured 1000 t/s; decode at
    50 x 32/31, because llama.cpp's predicted_n counts the first token, which
    came out of the prefill, over the 31 decode steps of predicted_ms."""
    args = ["--pp", "256", "--tg", "32", "--runs", "1", "--no-warmup", "--latency-mode", "none",
            "--skip-coherence", "--server-columns"]
    with Tokmock("--personality", "llamacpp") as mock:
        rc, out, err = run_tokbench("--base-url", mock.base_url + "/v1", *args)
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    check("server_columns_header", rc == 0 and lines and lines[0].rstrip().endswith("server t/s |"),
          f"rc {rc}: {out[:400]} {err[-300:]}")
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) >= 2:
            rows[cells[1]] = cells[-1]

    def value(name):
        cell = rows.get(name, "")
        try:
            return float(cell.split()[0])
        except (ValueError, IndexError):
            return None
    pp, tg = value("pp256"), value("tg32")
    check("server_columns_pp_is_the_servers_prefill_rate", pp is not None and abs(pp - 1000) <= 20,
          f"rows {rows}")
    check("server_columns_tg_is_the_servers_decode_rate",
          tg is not None and abs(tg - 50 * 32 / 31) <= 1,
          f"rows {rows}")


def main():
    tmp = tempfile.mkdtemp(prefix="tokbench-servers-")
    try:
        with Tokmock() as mock:
            test_kind_and_cache(mock)
            test_record(mock, tmp)
        test_cache_off_warns()
        test_record_replay(tmp)
        test_server_columns()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
