"""Stream shape and scheduling knobs of tokmock: non-streaming timing,
--parallel queueing, --role-chunk early/none, --reasoning, continuous usage
and token_ids agreeing, --eos-at, stop strings, keep-alive pings."""
import json
import subprocess
import sys
import threading
import time

from harness import SLOW, Tokmock, check, finish, stream_chat


def chat(user="Tell me a story.", max_tokens=10, **extra):
    body = {"model": "tokmock", "messages": [{"role": "user", "content": user}],
            "max_tokens": max_tokens, "stream": True}
    body.update(extra)
    return body


def choices_events(events):
    return [(t, ev) for t, ev in events if isinstance(ev, dict) and ev.get("choices")]


def content_events(events):
    out = []
    for t, ev in choices_events(events):
        d = ev["choices"][0].get("delta") or {}
        if d.get("content") or d.get("reasoning_content"):
            out.append((t, ev))
    return out


def main():
    with Tokmock("--truth", "--tg-rate", "100", "--pp-rate", "2000") as m:
        # Non-stream: the body is sent when the last token is due.
        body = chat(max_tokens=21)
        body["stream"] = False
        t0 = time.monotonic()
        st, hdrs, data = m.request("POST", "/v1/chat/completions", body)
        e2e = time.monotonic() - t0
        resp = json.loads(data)
        p = resp["usage"]["prompt_tokens"]
        expect = p / 2000 + 20 / 100
        msg = resp["choices"][0]["message"]
        check("nonstream_body", st == 200 and resp["object"] == "chat.completion" and
              msg["role"] == "assistant" and len(msg["content"].split()) == 21 and
              resp["usage"]["completion_tokens"] == 21 and
              resp["choices"][0]["finish_reason"] == "length", str(resp)[:300])
        check("nonstream_sent_when_last_token_due",
              expect - 0.002 <= e2e <= expect + 0.05 * SLOW, f"{e2e:.4f}s vs {expect:.4f}s")
        rec = m.truth(hdrs["x-tokmock-request-id"])
        check("nonstream_truth_one_event", len(rec["events"]) == 1 and
              rec["events"][0][1] == 21 and rec["stream"] is False, str(rec)[:300])

        # Continuous usage, token_ids and text agree event by event.
        st, _, events, _ = stream_chat(m, chat(max_tokens=12, return_token_ids=True,
                                               stream_options={"include_usage": True,
                                                               "continuous_usage_stats": True}))
        prev, ok, detail = 0, True, []
        for _, ev in content_events(events):
            ch = ev["choices"][0]
            n_ids = len(ch["token_ids"])
            delta = ev["usage"]["completion_tokens"] - prev
            prev = ev["usage"]["completion_tokens"]
            words = len(ch["delta"]["content"].split())
            ok &= n_ids == delta == words == 1
            detail.append((n_ids, delta, words))
        final = [ev for _, ev in events if isinstance(ev, dict) and not ev.get("choices")]
        check("continuous_usage_and_token_ids_agree", ok and prev == 12 and
              final and final[-1]["usage"]["completion_tokens"] == 12, str(detail))
        check("stream_ends_with_done", events[-1][1] == "[DONE]")
        fin = [ev for _, ev in choices_events(events) if ev["choices"][0].get("finish_reason")]
        check("finish_reason_length", len(fin) == 1 and
              fin[0]["choices"][0]["finish_reason"] == "length", str(fin))
        first = content_events(events)[0][1]["choices"][0]["delta"]
        check("role_with_first_token", first.get("role") == "assistant" and first["content"],
              str(first))

        # No usage chunk unless include_usage.
        st, _, events, _ = stream_chat(m, chat(max_tokens=3))
        check("no_usage_without_include_usage",
              not any(isinstance(ev, dict) and "usage" in ev for _, ev in events))

        # Stop strings: the body seeds the text, so use a stop string that some
        # early word is bound to contain: "e". The text stops before that word.
        st, _, events, _ = stream_chat(m, chat(max_tokens=40, stop=["e"],
                                               stream_options={"include_usage": True}))
        text = "".join(ev["choices"][0]["delta"]["content"] for _, ev in content_events(events))
        fin = [ev["choices"][0]["finish_reason"] for _, ev in choices_events(events)
               if ev["choices"][0].get("finish_reason")]
        usage = [ev["usage"] for _, ev in events if isinstance(ev, dict) and ev.get("usage")]
        n = usage[-1]["completion_tokens"]
        check("stop_string_finishes_with_stop", fin == ["stop"] and "e" not in text and
              n == len(text.split()) and n < 40, f"{fin} {text!r} n {n}")

        # Coherence question answers Paris.
        st, _, events, _ = stream_chat(m, chat("What is the capital of France? Answer in one word.",
                                               max_tokens=3))
        first = content_events(events)[0][1]["choices"][0]["delta"]["content"]
        check("coherence_answer_paris", first.strip().startswith("Paris"), first)

        # Same body, same text (seeded); a different body, different text.
        a = stream_chat(m, chat(max_tokens=8))[2]
        b = stream_chat(m, chat(max_tokens=8))[2]
        c = stream_chat(m, chat("Another one.", max_tokens=8))[2]
        txt = lambda evs: "".join(e["choices"][0]["delta"]["content"]
                                  for _, e in content_events(evs))
        check("text_deterministic_per_body", txt(a) == txt(b) and txt(a) != txt(c),
              f"{txt(a)!r} {txt(c)!r}")

    with Tokmock("--role-chunk", "early", "--reasoning", "4", "--eos-at", "6", "--truth",
                 "--tg-rate", "200", "--overhead-ms", "100") as m:
        st, hdrs, events, t0 = stream_chat(m, chat(max_tokens=50,
                                                   stream_options={"include_usage": True}))
        ch = choices_events(events)
        role = ch[0][1]["choices"][0]["delta"]
        toks = content_events(events)
        check("role_chunk_early_before_prefill", role == {"role": "assistant", "content": ""}
              and toks[0][0] - ch[0][0] >= 0.09, f"{role} gap {toks[0][0] - ch[0][0]:.3f}s")
        kinds = ["r" if "reasoning_content" in ev["choices"][0]["delta"] else "c"
                 for _, ev in toks]
        check("reasoning_first_n_tokens", kinds == ["r"] * 4 + ["c"] * 2 and
              "role" not in toks[0][1]["choices"][0]["delta"], str(kinds))
        fin = [ev["choices"][0]["finish_reason"] for _, ev in ch
               if ev["choices"][0].get("finish_reason")]
        usage = [ev["usage"] for _, ev in events if isinstance(ev, dict) and ev.get("usage")]
        check("eos_at_finishes_with_stop", fin == ["stop"] and
              usage[0]["completion_tokens"] == 6, f"{fin} {usage}")
        rec = m.truth(hdrs["x-tokmock-request-id"])
        check("truth_role_event_has_no_tokens", rec["events"][0][1] == 0 and
              rec["scheduled_us"][0] is None and sum(e[1] for e in rec["events"]) == 6,
              str(rec["events"]))

    with Tokmock("--role-chunk", "none", "--tg-rate", "500") as m:
        st, _, events, _ = stream_chat(m, chat(max_tokens=4))
        check("role_chunk_none", not any("role" in (ev["choices"][0].get("delta") or {})
                                         for _, ev in choices_events(events)))

    # --parallel 1: the second request waits for the first to end (FIFO).
    with Tokmock("--parallel", "1", "--truth", "--tg-rate", "100", "--ping-ms", "20") as m:
        results = {}

        def run(name, delay_event=None):
            if delay_event:
                delay_event.wait()
            results[name] = stream_chat(m, chat(f"Request {name}.", max_tokens=20))

        started = threading.Event()
        t1 = threading.Thread(target=run, args=("a",))
        t1.start()
        # Start b once a is admitted: poll the metrics gauge, not a sleep.
        deadline = time.monotonic() + 5 * SLOW
        while time.monotonic() < deadline:
            met = m.request("GET", "/metrics")[2].decode()
            if 'vllm:num_requests_running{model_name="tokmock"} 1' in met:
                break
        t2 = threading.Thread(target=run, args=("b", started))
        t2.start()
        started.set()
        t1.join(30)
        t2.join(30)
        ra = m.truth(results["a"][1]["x-tokmock-request-id"])
        rb = m.truth(results["b"][1]["x-tokmock-request-id"])
        check("parallel1_second_admitted_after_first_ends",
              rb["admit_us"] >= ra["finish_us"] - 1000 and
              rb["admit_us"] - ra["finish_us"] <= 20000 * SLOW and
              rb["arrival_us"] < ra["finish_us"],
              f"a finish {ra['finish_us']} b arrival {rb['arrival_us']} admit {rb['admit_us']}")
        tb = content_events(results["b"][2])[0][0] - results["b"][3]
        check("parallel1_queued_ttft_includes_wait", tb >= 0.15, f"b ttft {tb:.3f}s")

        # Keep-alive pings while waiting: read the raw stream of a queued request.
        c1 = m.conn()
        c1.request("POST", "/v1/chat/completions", body=json.dumps(chat(max_tokens=15)),
                   headers={"Content-Type": "application/json"})
        r1 = c1.getresponse()
        c2 = m.conn()
        c2.request("POST", "/v1/chat/completions", body=json.dumps(chat("x", max_tokens=2)),
                   headers={"Content-Type": "application/json"})
        r2 = c2.getresponse()
        pings = 0
        while True:
            line = r2.readline()
            if not line or line.startswith(b"data: [DONE]"):
                break
            if line.startswith(b": ping"):
                pings += 1
        r1.read()
        c1.close()
        c2.close()
        check("pings_while_waiting", pings >= 3, f"{pings} pings")


def truth_after_done():
    """A client that read [DONE] finds the request's record in the listing at
    once, even when tokmock's handler threads are slow to store it: here
    --yield-cpu puts them at SCHED_IDLE while two busy processes hold both
    cores, which (before the listing waited for streams that had written
    their last byte) lost up to 5 of 8 records per round."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        with Tokmock("--truth", "--tg-rate", "200", "--yield-cpu") as m:
            missing = []
            for rnd in range(4):
                ids = []

                def one():
                    st, hdrs, _, _ = stream_chat(m, chat(max_tokens=10))
                    ids.append(hdrs.get("x-tokmock-request-id") if st == 200 else None)

                ths = [threading.Thread(target=one) for _ in range(8)]
                for t in ths:
                    t.start()
                for t in ths:
                    t.join()
                have = {r["id"] for r in m.truth()["requests"]}
                missing += [f"round {rnd}: {i}" for i in ids if i not in have]
            check("truth_listing_has_every_finished_stream", not missing, "; ".join(missing[:5]))
    finally:
        for h in hogs:
            h.kill()
            h.wait()


if __name__ == "__main__":
    main()
    truth_after_done()
    finish()
