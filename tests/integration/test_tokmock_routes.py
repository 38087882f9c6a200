"""tokmock's routes: models, health, 404/405, /tokenize and /detokenize in the
llama.cpp and vLLM forms, --no-tokenize, metrics, truth lookups, API key,
command-line validation."""
import json
import subprocess
import time

from harness import SLOW, TOKMOCK, Tokmock, check, finish


def main():
    with Tokmock("--model", "alpha", "--model", "beta", "--truth", "--tg-rate", "1000") as m:
        st, body = m.json("GET", "/v1/models")
        ids = [d["id"] for d in body["data"]]
        check("models_lists_every_model", st == 200 and ids == ["alpha", "beta"] and
              body["object"] == "list" and all(d["object"] == "model" and
                                              d["owned_by"] == "tokmock" and "created" in d
                                              for d in body["data"]), str(body))
        st2, body2 = m.json("GET", "/models")
        check("models_without_v1", st2 == 200 and body2 == body, str(st2))
        check("health", m.json("GET", "/health") == (200, {"status": "ok"}))

        st, hdrs, data = m.request("GET", "/v1/nope")
        err = json.loads(data)
        check("unknown_route_404_json", st == 404 and err.get("object") == "error" and
              err.get("code") == 404 and hdrs["content-type"] == "application/json", data)
        st, _, _ = m.request("GET", "/v1/chat/completions")
        check("wrong_method_405", st == 405, str(st))
        st, _, _ = m.request("POST", "/v1/models", body="{}")
        check("wrong_method_405_on_get_route", st == 405, str(st))

        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        st, _, _ = m.request("POST", "/chat/completions", body=chat)
        check("chat_without_v1", st == 200, str(st))
        st, comp = m.json("POST", "/v1/completions", {"prompt": "Once upon a", "max_tokens": 3})
        check("completions_route", st == 200 and comp["object"] == "text_completion" and
              len(comp["choices"][0]["text"].split()) == 3 and
              comp["usage"]["prompt_tokens"] == 3, str(comp))

        # llama.cpp /tokenize forms (shapes as in the real captures).
        text = "Hello world, this is a test. <|im_end|>"
        st, tk = m.json("POST", "/tokenize", {"content": text})
        toks = tk["tokens"]
        check("tokenize_llamacpp_ids", st == 200 and all(isinstance(t, int) for t in toks) and
              len(toks) == 10, str(tk))
        st, tp = m.json("POST", "/tokenize", {"content": text, "with_pieces": True})
        pieces = tp["tokens"]
        check("tokenize_llamacpp_pieces", st == 200 and [p["id"] for p in pieces] == toks and
              "".join(p["piece"] for p in pieces) == text and pieces[-1]["piece"] ==
              "<|im_end|>", str(tp)[:300])
        check("tokenize_empty_object", m.json("POST", "/tokenize", {}) == (200, {"tokens": []}))
        st, dt = m.json("POST", "/detokenize", {"tokens": toks})
        check("detokenize_roundtrip", st == 200 and dt == {"content": text}, str(dt))
        st, _ = m.json("POST", "/detokenize", {"tokens": [-5]})
        check("detokenize_bad_id_400", st == 400, str(st))
        # vLLM forms.
        st, vp = m.json("POST", "/tokenize", {"model": "alpha", "prompt": text})
        check("tokenize_vllm_prompt", st == 200 and vp["count"] == 10 and
              vp["tokens"] == toks and vp["max_model_len"] == 131072, str(vp))
        st, vm = m.json("POST", "/tokenize", {"model": "alpha", "messages": chat["messages"]})
        st2, resp = m.json("POST", "/v1/chat/completions", chat)
        check("tokenize_vllm_messages_counts_like_usage",
              st == 200 and vm["count"] == resp["usage"]["prompt_tokens"],
              f"{vm.get('count')} vs {resp['usage']}")

        # /metrics: vLLM-style names with values that moved.
        # Counters are updated just after a response's last write: poll briefly.
        deadline = time.monotonic() + 5 * SLOW
        while True:
            st, _, met = m.request("GET", "/metrics")
            met = met.decode()
            if 'vllm:generation_tokens_total{model_name="alpha"} 7' in met or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.01)  # polling a counter, not a timing assumption
        names = ["vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                 "vllm:num_requests_running", "vllm:num_requests_waiting",
                 "vllm:prefix_cache_queries", "vllm:prefix_cache_hits",
                 "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds"]
        gen = [line for line in met.splitlines() if line.startswith("vllm:generation_tokens_total")]
        check("metrics_names", st == 200 and all(n in met for n in names),
              f"missing {[n for n in names if n not in met]}")
        check("metrics_generation_counted", gen and float(gen[0].split()[-1]) == 7, str(gen))

        # Truth: all records, one record, unknown id.
        allrec = m.truth()
        ids = [r["id"] for r in allrec["requests"]]
        check("truth_lists_requests", isinstance(allrec["origin_monotonic_ns"], int) and
              len(ids) >= 3 and comp["id"] in ids, str(ids))
        check("truth_by_id", m.truth(comp["id"])["completion_tokens"] == 3)
        st, _ = m.json("GET", "/tokmock/requests?id=chatcmpl-tokmock-999999")
        check("truth_unknown_id_404", st == 404, str(st))

    with Tokmock("--no-tokenize", "--api-key", "s3cret") as m:
        st, _, data = m.request("POST", "/tokenize", {"content": "x"},
                                headers={"Authorization": "Bearer s3cret"})
        check("no_tokenize_hides_tokenize", st == 404, str(st))
        st, _, _ = m.request("POST", "/detokenize", {"tokens": [1]},
                             headers={"Authorization": "Bearer s3cret"})
        check("no_tokenize_hides_detokenize", st == 404, str(st))
        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        st, _, data = m.request("POST", "/v1/chat/completions", chat)
        check("api_key_missing_401", st == 401 and b"s3cret" not in data, data)
        st, _, data = m.request("POST", "/v1/chat/completions", chat,
                                headers={"Authorization": "Bearer wrong"})
        check("api_key_wrong_401", st == 401 and b"s3cret" not in data, data)
        st, _, _ = m.request("POST", "/v1/chat/completions", chat,
                             headers={"Authorization": "Bearer s3cret"})
        check("api_key_right_200", st == 200, str(st))
        st, _, _ = m.request("GET", "/health")
        check("health_needs_no_key", st == 200, str(st))
        st, _, _ = m.request("GET", "/tokmock/requests")
        check("truth_hidden_without_flag", st == 404, str(st))

    # Command line: bad values exit 2 with a message; --help/--version exit 0.
    bad = [["--port", "x"], ["--pp-rate", "0"], ["--tg-rate", "-1"], ["--cache", "zz"],
           ["--role-chunk", "late"], ["--mtp-pattern", "3,,1"], ["--engine", "shard"],
           ["--fault", "bogus"], ["--fault", "status=200:0.1"], ["--personality", "tgi"], ["--bogus"],
           ["--parallel"], ["--mtp", "2", "--mtp-pattern", "1,2"], ["--mtp-accept", "1.5"]]
    outcomes = []
    for args in bad:
        p = subprocess.run([TOKMOCK] + args, capture_output=True, timeout=10)
        outcomes.append((args, p.returncode, p.stderr.decode().strip()))
    check("bad_options_exit_2_with_message",
          all(rc == 2 and err.startswith("tokmock: ") for _, rc, err in outcomes),
          str([o for o in outcomes if o[1] != 2 or not o[2]]))
    shard = [err for args, _, err in outcomes if args == ["--engine", "shard"]][0]
    check("engine_unknown_names_choices", "independent|shared" in shard, shard)
    h = subprocess.run([TOKMOCK, "--help"], capture_output=True, timeout=10)
    v = subprocess.run([TOKMOCK, "--version"], capture_output=True, timeout=10)
    check("help_and_version", h.returncode == 0 and b"--pp-rate" in h.stdout and
          b"--no-tokenize" in h.stdout and v.returncode == 0 and v.stdout.startswith(b"tokmock "))


if __name__ == "__main__":
    main()
    finish()
