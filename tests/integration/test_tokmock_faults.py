"""Fault injection (SPEC 1.10, docs/tokmock-server.md "Faults"): one scenario
per fault kind, checked on the raw bytes a client receives and on the truth
record's "fault" field; seeded draws from --fault reproduce; the header
replaces --fault; /metrics counts what was applied."""
import http.client
import json
import socket
import time

from harness import SLOW, Tokmock, check, finish, run_scenario

MSG = [{"role": "user", "content": "Tell me about faults."}]
N = 8  # tokens per request


def body(stream=True, usage=True, n=N):
    b = {"model": "tokmock", "messages": MSG, "max_tokens": n, "stream": stream}
    if stream and usage:
        b["stream_options"] = {"include_usage": True}
    return json.dumps(b).encode()


def raw_exchange(mock, fault, payload, timeout=20):
    """Sends one POST on a raw socket and reads until the server closes or
    the chunked body ends. Returns (head bytes, body bytes, closed_by_server,
    t_sent, t_head) with times from time.monotonic()."""
    s = socket.create_connection(("127.0.0.1", mock.port), timeout=timeout * SLOW)
    hdr = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(payload)}\r\n")
    if fault is not None:
        hdr += f"X-Tokmock-Fault: {fault}\r\n"
    t_sent = time.monotonic()
    s.sendall(hdr.encode() + b"\r\n" + payload)
    data = b""
    t_head = None
    closed = False
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            closed = True
            break
        data += d
        if t_head is None and b"\r\n\r\n" in data:
            t_head = time.monotonic()
        head, _, rest = data.partition(b"\r\n\r\n")
        if b"chunked" in head.lower() and rest.endswith(b"\r\n0\r\n\r\n") or rest.startswith(b"0\r\n\r\n"):
            break
        if b"content-length" in head.lower():
            length = int([ln.split(b":")[1] for ln in head.split(b"\r\n")
                          if ln.lower().startswith(b"content-length")][0])
            if len(rest) >= length:
                break
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest, closed, t_sent, t_head


def dechunk(raw):
    """Decodes a chunked body. Returns (payload, chunk sizes, complete)."""
    out, sizes, i = b"", [], 0
    while True:
        j = raw.find(b"\r\n", i)
        if j < 0:
            return out, sizes, False
        size = int(raw[i:j], 16)
        if size == 0:
            return out, sizes, True
        sizes.append(size)
        out += raw[j + 2:j + 2 + size]
        i = j + 2 + size + 2


def data_lines(payload):
    return [ln[6:] for ln in payload.decode("utf-8", "replace").split("\n")
            if ln.startswith("data: ")]


def header(head, name):
    for ln in head.decode().split("\r\n")[1:]:
        k, _, v = ln.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def status_of(head):
    return int(head.split(b" ")[1])


def token_events(lines):
    out = []
    for ln in lines:
        try:
            ev = json.loads(ln)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("choices") and \
                (ev["choices"][0].get("delta") or {}).get("content"):
            out.append(ev)
    return out


def main():
    with Tokmock("--truth", "--tg-rate", "100", "--pp-rate", "10000") as m:

        def statuses():
            for fault, code, retry in (("status=429", 429, "1"), ("status=503@7", 503, "7"),
                                       ("status=500", 500, None)):
                head, payload, _, _, _ = raw_exchange(m, fault, body())
                err = json.loads(payload)
                rid = header(head, "x-tokmock-request-id")
                rec = m.truth(rid)
                check(f"status_{code}_answered", status_of(head) == code and
                      header(head, "retry-after") == retry and err.get("code") == code and
                      "message" in err, f"{head[:120]!r} {payload[:120]!r}")
                check(f"status_{code}_in_truth", rec["status"] == code and
                      rec["fault"] == fault + ("" if "@" in fault else "@1") and
                      rec["events"] == [], str(rec)[:300])
        run_scenario("statuses", statuses)

        def disconnect():
            head, raw, closed, _, _ = raw_exchange(m, "disconnect-after=3", body())
            payload, _, complete = dechunk(raw)
            lines = data_lines(payload)
            rec = m.truth(header(head, "x-tokmock-request-id"))
            check("disconnect_closes_after_k_tokens", status_of(head) == 200 and closed and
                  not complete and len(token_events(lines)) == 3 and "[DONE]" not in lines and
                  header(head, "connection") == "close", f"{len(lines)} lines, closed {closed}")
            check("disconnect_in_truth", rec["fault"] == "disconnect-after=3" and
                  rec["finish_reason"] is None and sum(e[1] for e in rec["events"]) == 3 and
                  rec["status"] == 200, str(rec)[:300])
            # K beyond the end: cut after the last token, before the finish chunk.
            head, raw, closed, _, _ = raw_exchange(m, "disconnect-after=50", body())
            payload, _, complete = dechunk(raw)
            lines = data_lines(payload)
            check("disconnect_beyond_end_cuts_before_finish", closed and not complete and
                  len(token_events(lines)) == N and "[DONE]" not in lines,
                  f"{len(lines)} lines")
            # Non-streaming: the connection closes without any response.
            c = m.conn()
            c.request("POST", "/v1/chat/completions", body=body(stream=False),
                      headers={"X-Tokmock-Fault": "disconnect-after=2"})
            try:
                c.getresponse()
                got = "a response"
            except (http.client.RemoteDisconnected, ConnectionError):
                got = "closed"
            c.close()
            check("disconnect_nonstream_no_response", got == "closed", got)
        run_scenario("disconnect", disconnect)

        def stall():
            head, raw, _, _, _ = raw_exchange(m, "stall=300@2", body())
            payload, _, complete = dechunk(raw)
            rec = m.truth(header(head, "x-tokmock-request-id"))
            sched = [s for s in rec["scheduled_us"] if s is not None]
            gaps = [b - a for a, b in zip(sched, sched[1:])]
            # 10 ms per step, plus 300 ms after the second token only.
            check("stall_moves_the_schedule", complete and len(gaps) == N - 1 and
                  gaps[1] == 310000 and all(g == 10000 for i, g in enumerate(gaps) if i != 1),
                  str(gaps))
            writes = [e[0] for e in rec["events"] if e[1] > 0]
            # The third token waits for its moved deadline (never before it).
            check("stall_writes_follow", writes[2] >= sched[2] and
                  writes[2] - sched[2] < 20000 * SLOW and sched[2] - writes[1] > 250000 and
                  "[DONE]" in data_lines(payload) and rec["fault"] == "stall=300@2" and
                  rec["finish_reason"] == "length", str(writes))
            # Stall after the last token: the finish chunk waits.
            head, raw, _, t0, _ = raw_exchange(m, f"stall=200@{N}", body())
            rec = m.truth(header(head, "x-tokmock-request-id"))
            last_due = [s for s in rec["scheduled_us"] if s is not None][-1]
            finish_ev = [e[0] for e in rec["events"] if e[1] == 0][0]
            check("stall_after_last_token_delays_finish", finish_ev - last_due >= 200000 and
                  finish_ev - last_due < 200000 + 20000 * SLOW, f"{finish_ev - last_due} us")
        run_scenario("stall", stall)

        def malformed():
            head, raw, _, _, _ = raw_exchange(m, "malformed@2", body())
            payload, _, complete = dechunk(raw)
            lines = data_lines(payload)
            bad = []
            for ln in lines:
                if ln == "[DONE]":
                    continue
                try:
                    json.loads(ln)
                except ValueError:
                    bad.append(ln)
            usage = [json.loads(ln) for ln in lines if ln != "[DONE]" and ln not in bad
                     and json.loads(ln).get("usage")]
            rec = m.truth(header(head, "x-tokmock-request-id"))
            check("malformed_one_broken_event", complete and len(bad) == 1 and
                  lines.index(bad[0]) == 1 and len(token_events(lines)) == N - 1 and
                  lines[-1] == "[DONE]", f"{len(bad)} broken of {len(lines)}")
            check("malformed_usage_counts_all", usage and
                  usage[0]["usage"]["completion_tokens"] == N, str(usage)[:200])
            check("malformed_in_truth", rec["fault"] == "malformed@2" and
                  [e[1] for e in rec["events"]][:3] == [1, 0, 1] and
                  rec["finish_reason"] == "length", str(rec)[:300])
            # Non-streaming: the body is cut.
            c = m.conn()
            c.request("POST", "/v1/chat/completions", body=body(stream=False),
                      headers={"X-Tokmock-Fault": "malformed"})
            r = c.getresponse()
            data = r.read()
            c.close()
            try:
                json.loads(data)
                parsed = True
            except ValueError:
                parsed = False
            check("malformed_nonstream_body_cut", r.status == 200 and not parsed and
                  data.startswith(b'{"id"'), repr(data[:100]))
        run_scenario("malformed", malformed)

        def error_event():
            head, raw, closed, _, _ = raw_exchange(m, "error-event@2", body())
            payload, _, complete = dechunk(raw)
            lines = data_lines(payload)
            last = json.loads(lines[-1]) if lines else {}
            rec = m.truth(header(head, "x-tokmock-request-id"))
            check("error_event_in_stream", status_of(head) == 200 and complete and
                  len(token_events(lines)) == 2 and "[DONE]" not in lines and
                  last.get("error", {}).get("code") == 500 and
                  last["error"].get("type") == "server_error" and
                  "message" in last["error"] and header(head, "connection") == "close",
                  repr(lines[-1:]))
            check("error_event_in_truth", rec["fault"] == "error-event@2" and
                  rec["finish_reason"] is None and rec["status"] == 200, str(rec)[:300])
            # @0: before the first token; non-streaming: a 500.
            _, raw, _, _, _ = raw_exchange(m, "error-event@0", body())
            lines = data_lines(dechunk(raw)[0])
            check("error_event_at_0", len(lines) == 1 and "error" in json.loads(lines[0]),
                  repr(lines))
            head, payload, _, _, _ = raw_exchange(m, "error-event@3", body(stream=False))
            check("error_event_nonstream_500", status_of(head) == 500 and
                  json.loads(payload).get("code") == 500, repr(payload[:200]))
        run_scenario("error_event", error_event)

        def no_usage():
            head, raw, _, _, _ = raw_exchange(m, "no-usage", body())
            lines = data_lines(dechunk(raw)[0])
            with_usage = [ln for ln in lines if ln != "[DONE]" and "usage" in json.loads(ln)]
            check("no_usage_stream", not with_usage and lines[-1] == "[DONE]" and
                  len(token_events(lines)) == N, f"{len(with_usage)} usage chunks")
            _, raw, _, _, _ = raw_exchange(m, None, body())
            lines = data_lines(dechunk(raw)[0])
            check("usage_without_fault", any("usage" in json.loads(ln) for ln in lines
                                             if ln != "[DONE]"), "no usage chunk")
            _, payload, _, _, _ = raw_exchange(m, "no-usage", body(stream=False))
            check("no_usage_nonstream", "usage" not in json.loads(payload), repr(payload[:200]))
        run_scenario("no_usage", no_usage)

        def slow_headers():
            head, raw, _, t0, t_head = raw_exchange(m, "slow-headers=300", body())
            rec = m.truth(header(head, "x-tokmock-request-id"))
            check("slow_headers_delay", t_head - t0 >= 0.3 and
                  t_head - t0 < 0.3 + 0.1 * SLOW and rec["admit_us"] - rec["arrival_us"] >= 300000
                  and rec["fault"] == "slow-headers=300", f"{(t_head - t0) * 1e3:.1f} ms")
        run_scenario("slow_headers", slow_headers)

        def trickle():
            head, raw, _, _, _ = raw_exchange(m, "trickle", body())
            payload, sizes, complete = dechunk(raw)
            _, raw_plain, _, _, _ = raw_exchange(m, None, body())
            plain, plain_sizes, _ = dechunk(raw_plain)
            rec = m.truth(header(head, "x-tokmock-request-id"))
            # Same request body, same seed: the same text (ids differ).
            strip = lambda p: [json.loads(ln).get("choices") for ln in data_lines(p)
                               if ln != "[DONE]"]
            check("trickle_one_byte_chunks", complete and set(sizes) == {1} and
                  len(sizes) == len(payload) and strip(payload) == strip(plain) and
                  len(plain_sizes) < 20, f"{len(sizes)} chunks, sizes {set(sizes)}")
            check("trickle_in_truth", rec["fault"] == "trickle" and
                  rec["finish_reason"] == "length", str(rec)[:200])
        run_scenario("trickle", trickle)

        def header_errors():
            head, payload, _, _, _ = raw_exchange(m, "stall=abc@2", body())
            msg = json.loads(payload).get("message", "")
            check("bad_fault_header_400", status_of(head) == 400 and "stall=abc@2" in msg and
                  "X-Tokmock-Fault" in msg, msg)
            head, _, _, _, _ = raw_exchange(m, "trickle,stall=100@1", body(n=3))
            rec = m.truth(header(head, "x-tokmock-request-id"))
            check("combined_faults_in_truth", rec["fault"] == "trickle,stall=100@1", rec["fault"])
        run_scenario("header_errors", header_errors)

        text = m.request("GET", "/metrics")[2].decode()
        counts = {}
        for ln in text.splitlines():
            if ln.startswith("tokmock:faults_total{"):
                counts[ln.split('kind="')[1].split('"')[0]] = int(ln.split()[-1])
        check("metrics_count_faults", counts.get("status", 0) >= 3 and
              counts.get("trickle", 0) >= 2 and counts.get("disconnect-after", 0) >= 3 and
              len(counts) == 8, str(counts))

    # --fault with probabilities: the same seed faults the same requests.
    def faulted(seed):
        with Tokmock("--truth", "--seed", seed, "--fault", "status=503:0.3,no-usage:0.2",
                     "--tg-rate", "1000") as m:
            for _ in range(40):
                m.request("POST", "/v1/chat/completions", body(stream=False, n=1))
            # A record is stored just after the response: wait (bounded) for all.
            deadline = time.monotonic() + 5 * SLOW
            while True:
                recs = m.truth()["requests"]
                if len(recs) >= 40 or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            # The header overrides the list: empty = no fault for that request.
            st_empty = raw_exchange(m, "", body(stream=False, n=1))[0]
            return {r["id"]: r["fault"] for r in recs}, status_of(st_empty)

    a, st_a = faulted(5)
    b, _ = faulted(5)
    c, _ = faulted(6)
    n503 = sum(1 for f in a.values() if f and f.startswith("status=503"))
    check("seeded_faults_reproduce", a == b and len(a) == 40, f"{len(a)} vs {len(b)}")
    check("other_seed_other_faults", a != c, "same draw for seeds 5 and 6")
    check("fault_rate_plausible", 3 <= n503 <= 22, f"{n503} of 40 got 503 at p=0.3")
    check("empty_header_means_no_fault", st_a == 200, str(st_a))


if __name__ == "__main__":
    main()
    finish()
