"""tokmock's timing model seen from a stdlib client that timestamps arrivals
itself: TTFT = P / pp_rate, decode at tg_rate, exact token counts, MTP steps,
prefix-cache hits, and the truth record agreeing with measured arrivals."""
import os
import time

from harness import ROOT, SLOW, Tokmock, check, finish, stream_chat


def corpus_text(chars, offset=20000):
    with open(os.path.join(ROOT, "fixtures", "sherlock-holmes.txt"), encoding="utf-8") as f:
        return f.read()[offset:offset + chars]


def token_events(events):
    """(time, n_tokens, json) for events carrying delta content/reasoning."""
    out = []
    for t, ev in events:
        if not isinstance(ev, dict) or not ev.get("choices"):
            continue
        ch = ev["choices"][0]
        d = ch.get("delta") or {}
        if d.get("content") or d.get("reasoning_content"):
            out.append((t, len(ch.get("token_ids") or []), ev))
    return out


def usage_of(events):
    for _, ev in events:
        if isinstance(ev, dict) and ev.get("usage") and not ev.get("choices"):
            return ev["usage"]
    return None


def chat(system, user, max_tokens):
    msgs = [{"role": "user", "content": user}]
    if system:
        msgs.insert(0, {"role": "system", "content": system})
    return {"model": "tokmock", "messages": msgs, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}, "return_token_ids": True}


def main():
    system = corpus_text(7600)
    with Tokmock("--truth") as mock:
        # Cold: ~2000 prompt tokens at 1000 tok/s, then 101 tokens at 50 tok/s.
        status, hdrs, events, t_sent = stream_chat(mock, chat(system, "Summarize it.", 101))
        check("cold_stream_ok", status == 200, f"status {status}")
        toks = token_events(events)
        usage = usage_of(events)
        p = usage["prompt_tokens"]
        check("prompt_is_about_2000_tokens", 1800 <= p <= 2300, f"P={p}")
        ttft = toks[0][0] - t_sent
        expect = p / 1000.0
        check("ttft_within_5pct_of_P_over_pp_rate", abs(ttft - expect) <= 0.05 * expect,
              f"ttft {ttft:.4f}s vs {expect:.4f}s")
        n = sum(k for _, k, _ in toks)
        check("exactly_max_tokens", n == 101 and usage["completion_tokens"] == 101,
              f"token_ids sum {n}, usage {usage['completion_tokens']}")
        rate = (n - toks[0][1]) / (toks[-1][0] - toks[0][0])
        check("decode_rate_within_3pct_of_50", abs(rate - 50) <= 1.5, f"{rate:.3f} tok/s")
        check("cold_has_no_cached_tokens",
              usage["prompt_tokens_details"]["cached_tokens"] == 0, str(usage))

        # Truth record vs what this client measured.
        rid = hdrs.get("x-tokmock-request-id")
        check("request_id_header_is_chunk_id", rid and all(
            ev["id"] == rid for _, ev in events if isinstance(ev, dict)), f"{rid}")
        rec = mock.truth(rid)
        origin = mock.truth()["origin_monotonic_ns"]
        fields = ["id", "arrival_us", "admit_us", "prefill_end_us", "prompt_tokens",
                  "cached_tokens", "events", "completion_tokens", "finish_us", "status",
                  "scheduled_us", "disconnected"]
        check("truth_record_fields", all(k in rec for k in fields),
              f"missing {[k for k in fields if k not in rec]}")
        check("truth_counts", rec["prompt_tokens"] == p and rec["completion_tokens"] == 101
              and rec["status"] == 200 and not rec["disconnected"], str(rec)[:300])
        tok_ev = [e for e in rec["events"] if e[1] > 0]
        check("truth_token_events_match_client",
              [e[1] for e in tok_ev] == [k for _, k, _ in toks],
              f"{len(tok_ev)} vs {len(toks)}")
        # Client arrival minus the server's "after write" time, in ms: close at
        # the median and bounded for all (either side: the server thread may be
        # preempted between the write and its clock read). Never before the
        # event was due (same clock).
        lags = sorted((t * 1e3 - (origin / 1e6 + e[0] / 1e3)) for (t, _, _), e in zip(toks, tok_ev))
        med = lags[len(lags) // 2]
        due = [s for s in rec["scheduled_us"] if s is not None]
        early = min(t * 1e6 - origin / 1e3 - s for (t, _, _), s in zip(toks, due))
        check("truth_write_times_vs_client_arrival_ms",
              abs(med) <= 2.0 * SLOW and abs(lags[0]) <= 25 * SLOW and lags[-1] <= 25 * SLOW
              and early >= -100,
              f"min {lags[0]:.3f} median {med:.3f} max {lags[-1]:.3f} ms, "
              f"earliest vs due {early:.0f} us")
        sent_us = (t_sent * 1e9 - origin) / 1e3
        check("truth_arrival_after_client_send",
              sent_us - 500 <= rec["arrival_us"] <= sent_us + 50000 * SLOW,
              f"arrival {rec['arrival_us']} sent {sent_us:.0f}")
        sched = [s for s in rec["scheduled_us"] if s is not None]
        late = sorted(e[0] - s for e, s in zip(tok_ev, sched))
        check("truth_prefill_end_is_first_schedule",
              sched[0] == rec["prefill_end_us"] and
              abs(rec["prefill_end_us"] - rec["admit_us"] - p * 1000) <= 2, str(sched[:2]))
        check("emission_lateness_p50_under_1ms", late[len(late) // 2] <= 1000 * SLOW,
              f"p50 {late[len(late) // 2]} us, max {late[-1]} us")

        # Warm: same system prompt, new question: served from the prefix cache.
        status, _, events2, t2 = stream_chat(mock, chat(system, "Now a different question.", 5))
        toks2 = token_events(events2)
        usage2 = usage_of(events2)
        cached = usage2["prompt_tokens_details"]["cached_tokens"]
        sys_tokens = p - 20  # the question and template are a few tokens
        check("repeated_system_prompt_cached_90pct", cached >= 0.9 * sys_tokens,
              f"cached {cached} of ~{sys_tokens}")
        ttft2 = toks2[0][0] - t2
        check("cached_ttft_under_a_fifth_of_cold", ttft2 < ttft / 5,
              f"warm {ttft2 * 1e3:.1f} ms vs cold {ttft * 1e3:.1f} ms")

        # cache_prompt: false disables the hit (llama.cpp field).
        body = chat(system, "Now a different question.", 2)
        body["cache_prompt"] = False
        _, _, events3, _ = stream_chat(mock, dict(body, max_tokens=2))
        check("cache_prompt_false_no_hit",
              usage_of(events3)["prompt_tokens_details"]["cached_tokens"] == 0,
              str(usage_of(events3)))

    # MTP: fixed steps of 3 tokens at 50 steps/s = 150 tok/s.
    with Tokmock("--mtp-pattern", "3", "--truth") as mock:
        status, _, events, _ = stream_chat(mock, chat(None, "Count.", 91))
        toks = token_events(events)
        sizes = [k for _, k, _ in toks]
        check("mtp_first_event_one_token_then_3", sizes[0] == 1 and set(sizes[1:]) == {3}
              and sum(sizes) == 91, str(sizes))
        rate = (sum(sizes) - sizes[0]) / (toks[-1][0] - toks[0][0])
        check("mtp_token_rate_150", abs(rate - 150) <= 0.03 * 150, f"{rate:.2f} tok/s")
        words = [len(ev["choices"][0]["delta"]["content"].split()) for _, _, ev in toks]
        check("mtp_text_words_match_token_ids", words == sizes, f"{words[:5]} vs {sizes[:5]}")


if __name__ == "__main__":
    main()
    finish()
