"""tokmock --personality llamacpp|vllm|sglang|openai|ollama on the wire: role
placement, null vs "", usage only with include_usage, timings, fingerprints,
the model echoed, reasoning fields, multi-token steps, over-context requests,
error bodies, /v1/models and /props, --startup-ms. The llama.cpp stream is
compared key by key with a real capture, and each personality's stream with
its recorded copy in fixtures/streams/tokmock-<p>-chat-stream-usage.body.sse."""
import json
import os
import re
import subprocess
import sys
import time

from harness import ROOT, SLOW, TOKMOCK, Tokmock, check, finish

PERSONALITIES = ["llamacpp", "vllm", "sglang", "openai", "ollama"]
STREAMS = os.path.join(ROOT, "fixtures", "streams")
N = 6
FINGERPRINT = {"llamacpp": "b0-unknown", "openai": "fp_tokmock0", "ollama": "fp_ollama"}
REASONING_KEY = {"llamacpp": "reasoning_content", "vllm": "reasoning_content",
                 "sglang": "reasoning_content", "ollama": "reasoning", "openai": None}
OWNED_BY = {"llamacpp": "llamacpp", "vllm": "vllm", "sglang": "sglang", "openai": "openai",
            "ollama": "library"}


def chat_body(n=N, stream=True, usage=True, user="Tell me a story.", **extra):
    body = {"model": "asked-for", "messages": [{"role": "user", "content": user}],
            "max_tokens": n, "stream": stream}
    if usage:
        body["stream_options"] = {"include_usage": True}
    body.update(extra)
    return body


def post(m, body, path="/v1/chat/completions"):
    """(status, headers, raw body bytes, parsed data events or None)."""
    st, hdrs, data = m.request("POST", path, body)
    if not hdrs.get("content-type", "").startswith("text/event-stream"):
        return st, hdrs, data, None
    events = []
    for block in data.decode("utf-8").split("\n\n"):
        if block.startswith("data: "):
            payload = block[6:]
            events.append("[DONE]" if payload == "[DONE]" else json.loads(payload))
    return st, hdrs, data, events


def delta(ev):
    ch = ev.get("choices") or []
    return ch[0].get("delta") if ch else None


def text_of(ev, key="content"):
    d = delta(ev)
    v = d.get(key) if d else None
    return v if isinstance(v, str) else ""


def token_events(events, keys=("content", "reasoning_content", "reasoning")):
    return [e for e in events if e != "[DONE]" and any(text_of(e, k) for k in keys)]


def kind(ev):
    """role / token / finish / usage, for the key-order comparison."""
    if ev.get("choices") == []:
        return "usage"
    ch = ev["choices"][0]
    if ch.get("finish_reason"):
        return "finish"
    if "role" in (ch.get("delta") or {}) and not text_of(ev):
        return "role"
    return "token"


def shape(ev):
    """Keys of the event, of its choice and delta, and of its timings."""
    out = [list(ev.keys())]
    if ev.get("choices"):
        out.append(list(ev["choices"][0].keys()))
        out.append(list((ev["choices"][0].get("delta") or {}).keys()))
    if "usage" in ev and ev["usage"]:
        out.append(list(ev["usage"].keys()))
    if "timings" in ev:
        out.append(list(ev["timings"].keys()))
    return out


def capture_events(name):
    with open(os.path.join(STREAMS, name), encoding="utf-8") as f:
        blocks = f.read().split("\n\n")
    return [json.loads(b[6:]) if b[6:] != "[DONE]" else "[DONE]"
            for b in blocks if b.startswith("data: ")]


def normalize(raw):
    """created changes with the server's age in seconds: blank it."""
    return re.sub(rb'"created":\d+', b'"created":0', raw)


def plain_server_checks(p, m):
    st, hdrs, raw, ev = post(m, chat_body())
    ok = st == 200 and ev and ev[-1] == "[DONE]"
    check(f"{p}_stream_ends_with_done", ok, raw[:300])
    if not ok:
        return
    body_ev = [e for e in ev if e != "[DONE]"]
    toks = token_events(body_ev)
    usage = [e for e in body_ev if e.get("usage")]
    fp = FINGERPRINT.get(p)
    check(f"{p}_usage_chunk_with_include_usage", len(usage) == 1 and
          usage[0]["choices"] == [] and usage[0]["usage"]["completion_tokens"] == N,
          str(usage)[:300])
    check(f"{p}_fingerprint", all(e.get("system_fingerprint") == fp for e in body_ev),
          str([e.get("system_fingerprint") for e in body_ev]))
    want_model = "tokmock-" + p if p == "llamacpp" else "asked-for"
    check(f"{p}_model_echo", all(e["model"] == want_model for e in body_ev),
          str({e["model"] for e in body_ev}))
    first = delta(body_ev[0])
    if p == "llamacpp":
        role_ok = first == {"role": "assistant", "content": None} and len(toks) == N and \
            toks[0] is body_ev[1]
    elif p == "vllm":
        # Real vLLM (--personality vllm given): its own role event, content "".
        role_ok = first == {"role": "assistant", "content": ""} and toks[0] is body_ev[1]
        last = toks[-1]["choices"][0]
        check("vllm_finish_on_last_token_event", last["finish_reason"] == "length" and
              last["stop_reason"] is None and len(toks) == N and
              not any(e.get("choices") and e["choices"][0].get("finish_reason")
                      for e in body_ev if e is not toks[-1]), str(toks[-1]))
    elif p == "sglang":
        role_ok = first == {"role": "assistant", "content": "", "reasoning_content": None,
                            "tool_calls": None}
    elif p == "openai":
        role_ok = first == {"role": "assistant", "content": "", "refusal": None}
    else:
        role_ok = all(delta(e).get("role") == "assistant" for e in body_ev if delta(e))
    check(f"{p}_role_placement", role_ok, str(body_ev[:2])[:400])
    if p in ("sglang", "openai"):
        check(f"{p}_usage_null_on_every_chunk", all("usage" in e for e in body_ev) and
              all(e["usage"] is None for e in body_ev if e.get("choices")),
              str([e.get("usage", "absent") for e in body_ev]))
    if p == "llamacpp":
        check("llamacpp_timings_on_usage_chunk_only",
              "timings" in usage[0] and not any("timings" in e for e in body_ev[:-1]) and
              usage[0]["timings"]["predicted_n"] == N and
              usage[0]["timings"]["prompt_n"] + usage[0]["timings"]["cache_n"] ==
              usage[0]["usage"]["prompt_tokens"], str(usage[0])[:400])
        # Key order, event by event, against the real llama-server capture.
        cap = [e for e in capture_events("llamacpp-chat-stream-usage.body.sse") if e != "[DONE]"]
        want = {}
        for e in cap:
            want.setdefault(kind(e), shape(e))
        got = {}
        for e in body_ev:
            got.setdefault(kind(e), shape(e))
        check("llamacpp_event_keys_match_capture", got == want,
              json.dumps({"got": got, "want": want})[:800])
        check("llamacpp_event_sequence_matches_capture",
              [kind(e) for e in body_ev] == ["role"] + ["token"] * N + ["finish", "usage"],
              str([kind(e) for e in body_ev]))
    # The truth: the role goes out with the first token, the tail in one write.
    rec = m.truth(hdrs["x-tokmock-request-id"])
    writes = rec["events"]
    if p == "vllm":  # the finish rides the last token: the tail is usage + [DONE]
        tail = raw[raw.rindex(b'data: {', 0, raw.rindex(b'"choices":[]')):]
    else:
        tail = raw[raw.rfind(b"data: ", 0, raw.rindex(b'"finish_reason":"length"')):]
    check(f"{p}_truth_tokens_and_one_tail_write",
          sum(w[1] for w in writes) == N and writes[-1][1] == 0 and
          writes[-1][2] == len(tail) and sum(w[2] for w in writes) == len(raw),
          f"writes {writes} tail {len(tail)} body {len(raw)}")
    # Recorded copy in fixtures/streams (created blanked).
    fixture = os.path.join(STREAMS, f"tokmock-{p}-chat-stream-usage.body.sse")
    if os.environ.get("TOKMOCK_RECORD_FIXTURES") == "1":
        with open(fixture, "wb") as f:
            f.write(raw)
    with open(fixture, "rb") as f:
        recorded = f.read()
    check(f"{p}_matches_recorded_fixture", normalize(recorded) == normalize(raw),
          f"{fixture}: {len(recorded)} vs {len(raw)} bytes")

    # Without include_usage: no usage totals anywhere.
    st, _, raw, ev = post(m, chat_body(usage=False))
    body_ev = [e for e in ev if e != "[DONE]"] if ev else []
    check(f"{p}_no_usage_without_include_usage", st == 200 and ev[-1] == "[DONE]" and
          not any(e.get("usage") for e in body_ev), raw[-400:])
    if p == "llamacpp":
        fin = [e for e in body_ev if kind(e) == "finish"]
        cap = [e for e in capture_events("llamacpp-chat-stream-nousage.body.sse")
               if e != "[DONE]" and kind(e) == "finish"]
        check("llamacpp_timings_on_finish_without_usage", len(fin) == 1 and
              "timings" in fin[0] and shape(fin[0]) == shape(cap[0]),
              json.dumps([shape(fin[0]) if fin else None, shape(cap[0])]))

    # Non-stream body: llama.cpp carries timings.
    st, body = m.json("POST", "/v1/chat/completions", chat_body(stream=False, usage=False))
    check(f"{p}_nonstream_body", st == 200 and body["usage"]["completion_tokens"] == N and
          (("timings" in body) == (p == "llamacpp")), str(body)[:300])

    # Errors in the personality's shape.
    st, _, data = m.request("GET", "/v1/nope")
    err = json.loads(data)
    if p == "llamacpp":
        good = err["error"]["code"] == 404 and list(err["error"].keys())[-1] == "code"
    elif p in ("vllm", "sglang"):
        good = err["object"] == "error" and err["code"] == 404
    elif p == "openai":
        good = set(err["error"]) == {"message", "type", "param", "code"}
    else:
        good = err["error"]["param"] is None and err["error"]["code"] is None
    check(f"{p}_error_body_shape", st == 404 and good, data)

    # /v1/models owned_by, /props only for llama.cpp.
    st, models = m.json("GET", "/v1/models")
    check(f"{p}_models_owned_by", st == 200 and
          models["data"][0]["owned_by"] == OWNED_BY[p] and
          models["data"][0]["id"] == "tokmock-" + p, str(models)[:300])
    st, props = m.json("GET", "/props")
    if p == "llamacpp":
        check("llamacpp_props", st == 200 and props["default_generation_settings"]["n_ctx"]
              == 400 and props["total_slots"] == 2 and props["model_alias"] == "tokmock-llamacpp",
              str(props)[:300])
    else:
        check(f"{p}_no_props", st == 404, str(st))

    # SGLang refuses stream + return_token_ids; the others stream them.
    st, _, data, ev = post(m, chat_body(return_token_ids=True))
    if p == "sglang":
        err = json.loads(data)
        check("sglang_400_on_stream_token_ids", st == 400 and err["object"] == "error" and
              "return_token_ids" in err["message"], data)
    else:
        check(f"{p}_stream_token_ids_accepted", st == 200 and ev and ev[-1] == "[DONE]", data[:200])


def busy_server_checks(p, m):
    """--reasoning 2, --mtp-pattern 3,2, --ctx-size 40."""
    n = 8
    st, hdrs, raw, ev = post(m, chat_body(n=n, return_token_ids=p == "vllm"))
    ok = st == 200 and ev and ev[-1] == "[DONE]"
    check(f"{p}_reasoning_mtp_stream_completes", ok, raw[:300])
    if not ok:
        return
    body_ev = [e for e in ev if e != "[DONE]"]
    usage = [e for e in body_ev if e.get("usage")][-1]["usage"]
    key = REASONING_KEY[p]
    if key:
        reasoning = "".join(text_of(e, key) for e in body_ev)
        other = "reasoning" if key == "reasoning_content" else "reasoning_content"
        check(f"{p}_reasoning_field", len(reasoning.split()) == 2 and
              not any(text_of(e, other) for e in body_ev), reasoning)
    else:
        check("openai_reasoning_hidden_counted_in_usage",
              not any(text_of(e, "reasoning_content") or text_of(e, "reasoning")
                      for e in body_ev) and
              usage["completion_tokens_details"]["reasoning_tokens"] == 2 and
              len("".join(text_of(e) for e in body_ev).split()) == n - 2, str(usage))
    toks = token_events(body_ev)
    if p == "llamacpp":
        # One event per token; the MTP drafts reported in timings.
        last = [e for e in body_ev if "timings" in e][-1]["timings"]
        check("llamacpp_mtp_one_token_per_event", len(toks) == n and
              last.get("draft_n", 0) > 0 and last["draft_n_accepted"] <= last["draft_n"],
              f"{len(toks)} events, timings {last}")
    elif p != "openai":
        # A step's tokens ride one event: the prefill's 1, then steps of 1, 3, 2, 1.
        check(f"{p}_mtp_multi_token_events", len(toks) == 5 and
              [len(text_of(e) .split()) + len(text_of(e, key).split()) if key else 0
               for e in toks][2] == 3, f"{len(toks)} token events")
    if p == "vllm":
        ids = sum(len(e["choices"][0].get("token_ids") or []) for e in body_ev if e.get("choices"))
        check("vllm_token_ids_count_every_token", ids == n == usage["completion_tokens"],
              f"{ids} ids, usage {usage}")
    rec = m.truth(hdrs["x-tokmock-request-id"])
    check(f"{p}_reasoning_truth_counts_all_tokens",
          sum(w[1] for w in rec["events"]) == n == rec["completion_tokens"] and
          all(w[2] > 0 for w in rec["events"]), str(rec["events"]))
    if p == "llamacpp":
        st, _, raw, ev = post(m, chat_body(n=8, timings_per_token=True))
        tt = [e["timings"]["predicted_n"] for e in ev if e != "[DONE]" and text_of(e) or
              (e != "[DONE]" and text_of(e, "reasoning_content"))]
        check("llamacpp_timings_per_token", tt == list(range(1, 9)), str(tt))

    # Over the context (40): the prompt fits, prompt + max_tokens does not.
    st, _, data, ev = post(m, chat_body(n=100, user="one two three four"))
    if p == "llamacpp":
        body_ev = [e for e in ev if e != "[DONE]"] if ev else []
        usage = [e for e in body_ev if e.get("usage")]
        fin = [e for e in body_ev if e.get("choices") and e["choices"][0]["finish_reason"]]
        check("llamacpp_generation_cut_at_context", st == 200 and usage and
              usage[0]["usage"]["total_tokens"] == 40 and
              fin[0]["choices"][0]["finish_reason"] == "length", str(data)[-400:])
    else:
        err = json.loads(data)
        text = json.dumps(err)
        check(f"{p}_over_context_400", st == 400 and "40" in text and
              ("context_length_exceeded" in text if p == "openai" else True), data)
    # The prompt alone is over the context: 400 for everyone, plain JSON even for a stream.
    st, hdrs, data, ev = post(m, chat_body(n=4, user="word " * 60))
    err = json.loads(data) if ev is None else None
    if p == "llamacpp":
        good = err and err["error"]["type"] == "exceed_context_size_error" and \
            err["error"]["n_ctx"] == 40 and err["error"]["n_prompt_tokens"] > 40 and \
            err["error"]["code"] == 400
    else:
        good = err is not None
    check(f"{p}_prompt_over_context_400_json", st == 400 and good and
          hdrs["content-type"].startswith("application/json"), data)


def startup_checks():
    t0 = time.monotonic()
    with Tokmock("--personality", "llamacpp", "--startup-ms", "1500") as m:
        st, hdrs, data = m.request("GET", "/health")
        first = (st, data)
        st2, _, data2 = m.request("POST", "/v1/chat/completions", chat_body())
        deadline = time.monotonic() + 15 * SLOW
        while time.monotonic() < deadline:
            st, _, data = m.request("GET", "/health")
            if st == 200:
                break
            time.sleep(0.02)  # polling readiness, as a client would
        ready = time.monotonic() - t0
        check("startup_503_loading_on_every_route", first[0] == 503 and
              json.loads(first[1]) == {"error": {"message": "Loading model",
                                                 "type": "unavailable_error", "code": 503}} and
              st2 == 503 and json.loads(data2)["error"]["message"] == "Loading model",
              f"{first} {st2} {data2}")
        check("startup_then_200", st == 200 and json.loads(data) == {"status": "ok"} and
              ready >= 1.5, f"{st} after {ready:.3f}s")
        st, _, _, ev = post(m, chat_body())
        check("startup_then_streams", st == 200 and ev[-1] == "[DONE]", str(st))
    with Tokmock("--personality", "openai", "--startup-ms", "60000") as m:
        st, _, data = m.request("GET", "/v1/models")
        err = json.loads(data)
        check("startup_503_in_personality_shape", st == 503 and
              set(err["error"]) == {"message", "type", "param", "code"}, data)


def llamacpp_extras():
    with Tokmock("--personality", "llamacpp", "--pp-rate", "100", "--ping-ms", "20",
                 "--tg-rate", "1000") as m:
        # llama-server's keep-alive is a bare ':' comment line.
        st, _, raw, ev = post(m, chat_body(n=2, user="word " * 30))
        pings = raw.count(b":\n\n") - raw.count(b"data: ")  # data lines hold no ":\n\n"
        check("llamacpp_colon_pings_while_prefilling", st == 200 and raw.startswith(b":\n\n")
              and b": ping" not in raw and pings >= 3 and ev[-1] == "[DONE]",
              f"{pings} pings: {raw[:80]!r}")
        # /v1/completions: no role event, ids still chatcmpl-, usage on the finish chunk.
        st, _, raw, ev = post(m, {"prompt": "Once upon a", "max_tokens": 3, "stream": True,
                                  "stream_options": {"include_usage": True}},
                              path="/v1/completions")
        body_ev = [e for e in ev if e != "[DONE]"] if ev else []
        check("llamacpp_completions_stream", st == 200 and len(body_ev) == 4 and
              all(e["object"] == "text_completion" and e["id"].startswith("chatcmpl-")
                  for e in body_ev) and body_ev[0]["choices"][0]["text"] and
              body_ev[-1]["choices"][0]["finish_reason"] == "length" and
              body_ev[-1]["usage"]["completion_tokens"] == 3 and "timings" in body_ev[-1],
              raw[:600])


def main():
    llamacpp_extras()
    for p in PERSONALITIES:
        with Tokmock("--personality", p, "--truth", "--tg-rate", "1000", "--model",
                     "tokmock-" + p, "--ctx-size", "400", "--parallel", "2") as m:
            plain_server_checks(p, m)
        with Tokmock("--personality", p, "--truth", "--tg-rate", "1000", "--reasoning", "2",
                     "--mtp-pattern", "1,3,2", "--ctx-size", "40") as m:
            busy_server_checks(p, m)
    startup_checks()
    # --reasoning-field reasoning: newer vLLM's key for reasoning tokens.
    with Tokmock("--personality", "vllm", "--tg-rate", "1000", "--reasoning", "2",
                 "--reasoning-field", "reasoning") as m:
        st, _, raw, ev = post(m, chat_body(n=6))
        body_ev = [e for e in ev if e != "[DONE]"]
        got = "".join(text_of(e, "reasoning") for e in body_ev)
        check("vllm_reasoning_field_option", st == 200 and len(got.split()) == 2 and
              not any(text_of(e, "reasoning_content") for e in body_ev), raw[:300])
    # --help lists every personality.
    out = subprocess.run([TOKMOCK, "--help"], capture_output=True, text=True).stdout
    check("help_lists_every_personality", all(p in out for p in PERSONALITIES) and
          "only so far" not in out, out[-600:])
    finish()


if __name__ == "__main__":
    sys.exit(main())
