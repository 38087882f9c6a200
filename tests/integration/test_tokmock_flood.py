"""Flood (issue 7): 10 000 malformed requests from 64 connections while
well-formed streams run. Every bad request gets its 4xx, the streams keep
their schedule (checked against the truth record and the closed form), and
tokmock's resident memory stays bounded: a second flood of the same size
must not grow it further (no leak), and the first one grows it by at most a
fixed allowance (thread stacks and malloc arenas of the workers used)."""
import json
import os
import socket
import threading
import time

from harness import SLOW, TOKMOCK, Tokmock, check, finish, stream_chat

N_REQUESTS = 10000
N_CONNS = 64
TG_RATE = 50
GOOD = {"model": "tokmock", "messages": [{"role": "user", "content": "steady please"}],
        "max_tokens": 40, "stream": True}


def post(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
            extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


# (request bytes, expected status, whether tokmock/civetweb closes the connection)
BAD = [
    (post(b"/v1/chat/completions", b'{"messages": ['), 400, False),
    (post(b"/v1/chat/completions", b'{"messages":[{"role":"user","content":"\xc3\x28"}]}'), 400, False),
    (post(b"/v1/chat/completions", b'{"a":' + b"[" * 300 + b"]" * 300 + b"}"), 400, False),
    (post(b"/v1/chat/completions", b'{"model":"tokmock"}'), 400, False),
    (post(b"/v1/chat/completions", b'{"messages":[]}'), 400, False),
    (post(b"/v1/chat/completions", b'{"messages":"x","max_tokens":"9"}'), 400, False),
    (post(b"/v1/chat/completions", b'{"messages":[{"role":"user","content":"x"}]}',
          b"X-Tokmock-Fault: bogus=1\r\n"), 400, False),
    (post(b"/v1/chat/completions", b"x" * 5000), 413, False),
    (post(b"/no/such/route", b"{}"), 404, False),
    (b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n", 405, False),
    (b"GARBAGE \x00\xff\r\n\r\n", 400, True),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400, True),
]


def read_response(sock, buf):
    """Reads one response with a Content-Length (or to EOF). Returns
    (status, leftover bytes) or (None, b"") when the connection died."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = None
    for ln in head.split(b"\r\n")[1:]:
        if ln.lower().startswith(b"content-length:"):
            length = int(ln.split(b":", 1)[1])
    if length is None:
        while sock.recv(65536):
            pass
        return status, b""
    while len(rest) < length:
        d = sock.recv(65536)
        if not d:
            break
        rest += d
    return status, rest[length:]


def flood_worker(port, index, count, tally, lock):
    got = {}
    sock, buf = None, b""
    for i in range(count):
        req, want, closes = BAD[(index + i) % len(BAD)]
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30 * SLOW)
                buf = b""
            sock.sendall(req)
            status, buf = read_response(sock, buf)
        except OSError as e:
            status = f"error {type(e).__name__}"
            closes = True
        key = "ok" if status == want else f"{want}->{status}"
        got[key] = got.get(key, 0) + 1
        if closes or status is None or not isinstance(status, int):
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    with lock:
        for k, v in got.items():
            tally[k] = tally.get(k, 0) + v


def flood(port):
    tally, lock = {}, threading.Lock()
    per = [N_REQUESTS // N_CONNS + (1 if i < N_REQUESTS % N_CONNS else 0)
           for i in range(N_CONNS)]
    threads = [threading.Thread(target=flood_worker, args=(port, i, per[i], tally, lock))
               for i in range(N_CONNS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * SLOW)
    return tally, time.monotonic() - t0


def sanitized():
    """True when tokmock is an AddressSanitizer build."""
    with open(TOKMOCK, "rb") as f:
        return b"__asan_init" in f.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return -1


def main():
    # 128 worker threads: the first flood touches them all (stacks, malloc
    # arenas), so later floods show any growth that is not a one-time cost.
    with Tokmock("--truth", "--quiet", "--tg-rate", TG_RATE, "--max-body-bytes", "4096",
                 "--max-header-bytes", "8192", "--threads", "128") as m:
        pid = m.proc.pid
        # Warm up the paths the flood takes, then measure.
        for req, _, _ in BAD[:3]:
            s = socket.create_connection(("127.0.0.1", m.port))
            s.sendall(req)
            read_response(s, b"")
            s.close()
        stream_chat(m, dict(GOOD, max_tokens=2))
        rss0 = rss_kib(pid)

        # Well-formed streams, one after another, for as long as the floods run.
        streams, stop = [], threading.Event()

        def streamer():
            while not stop.is_set():
                streams.append(stream_chat(m, GOOD))

        st = threading.Thread(target=streamer)
        st.start()
        tally1, secs1 = flood(m.port)
        rss1 = rss_kib(pid)
        tally2, secs2 = flood(m.port)
        tally3, secs3 = flood(m.port)
        rss2 = rss_kib(pid)
        stop.set()
        st.join(60 * SLOW)

        print(f"# flood: {N_REQUESTS} requests in {secs1:.1f} s, RSS before {rss0} KiB "
              f"after {rss1} KiB; two more floods in {secs2:.1f} + {secs3:.1f} s, RSS after {rss2} KiB",
              flush=True)
        check("flood_every_bad_request_answered", tally1 == {"ok": N_REQUESTS} and
              tally2 == {"ok": N_REQUESTS} and tally3 == {"ok": N_REQUESTS},
              f"{tally1} {tally2} {tally3}")
        check("flood_time_bounded", max(secs1, secs2, secs3) < 60 * SLOW,
              f"{secs1:.1f} s, {secs2:.1f} s, {secs3:.1f} s")
        # The truth ring keeps ~0.2 KiB per recorded request (bounded by its
        # capacity): two floods record ~13 000, ~3 MiB. A leak of even 1 KiB
        # per request would add 20 MiB.
        if sanitized():
            # ASan's quarantine holds freed blocks (up to 256 MiB) on purpose,
            # so RSS says nothing there; LeakSanitizer checks leaks at exit.
            print("# flood: ASan build, RSS bound not asserted", flush=True)
        else:
            check("flood_rss_bounded", rss1 - rss0 < 64 * 1024 and rss2 - rss1 < 8 * 1024,
                  f"before {rss0} KiB, after one flood {rss1} KiB, after two more {rss2} KiB")

        # Every stream that ran during the floods: exact counts, on schedule.
        bad, lateness, rates = [], [], []
        for status, hdrs, events, _ in streams:
            toks = [ev for _, ev in events if isinstance(ev, dict) and ev.get("choices")
                    and (ev["choices"][0].get("delta") or {}).get("content")]
            if status != 200 or len(toks) != GOOD["max_tokens"] or events[-1][1] != "[DONE]":
                bad.append(f"status {status}, {len(toks)} tokens")
                continue
            rec = m.truth(hdrs["x-tokmock-request-id"])
            writes = [(e[0], s) for e, s in zip(rec["events"], rec["scheduled_us"])
                      if s is not None]
            lateness += [t - s for t, s in writes]
            # Closed form: step k due at prefill_end + k / tg_rate.
            due = [rec["prefill_end_us"] + round(k * 1e6 / TG_RATE) for k in range(len(writes))]
            if any(abs(s - d) > 1 for (_, s), d in zip(writes, due)):
                bad.append(f"{rec['id']}: schedule differs from the closed form")
            rates.append((len(writes) - 1) / ((writes[-1][0] - writes[0][0]) / 1e6))
        lateness.sort()
        check("flood_streams_complete", len(streams) >= 2 and not bad,
              f"{len(streams)} streams; {bad[:3]}")
        if lateness:
            p50 = lateness[len(lateness) // 2]
            p90 = lateness[len(lateness) * 9 // 10]
            p99 = lateness[min(len(lateness) - 1, len(lateness) * 99 // 100)]
            print(f"# stream lateness during the flood: p50 {p50} us, p90 {p90} us, p99 {p99} us, "
                  f"max {lateness[-1]} us over {len(lateness)} events", flush=True)
            # p50 and p90: the suite shares 2 cores with the flood's 64 Python
            # threads and other tests, which park a thread for tens of ms now
            # and then; that tail is the machine's, not tokmock's.
            check("flood_streams_on_schedule", p50 <= 2000 * SLOW and p90 <= 20000 * SLOW,
                  f"p50 {p50} us p90 {p90} us p99 {p99} us")
            check("flood_streams_rate", all(abs(r - TG_RATE) <= 0.05 * TG_RATE for r in rates),
                  str([round(r, 2) for r in rates]))
        # Still serving, and the truth ring kept every error.
        check("flood_still_serving", stream_chat(m, dict(GOOD, max_tokens=3))[0] == 200)


if __name__ == "__main__":
    main()
    finish()
