#!/usr/bin/env python3
"""Regenerates the seed corpora in tests/fuzz/corpus/<target>/ from the
repository's fixtures (fixtures/streams/), the real llama.cpp captures when
they are available (../shared/fixtures-real/llamacpp or $TOKBENCH_REAL_FIXTURES),
and hand-written edge cases. Seeds are kept small: large captures are cut
at an event boundary. Usage: tests/fuzz/seed.py  (run from anywhere)."""
import glob
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REAL = os.environ.get("TOKBENCH_REAL_FIXTURES",
                      os.path.join(os.path.dirname(ROOT), "shared", "fixtures-real", "llamacpp"))
OUT = os.path.join(HERE, "corpus")
MAX_SEED = 4096  # bytes of body per seed

# Split patterns (bytes 1..4 of an SSE seed, 0..3 of a stream seed).
PATTERNS = [b"\x01\x01\x01\x01", b"\x07\x40\x00\x03", b"\xff\xff\xff\xff", b"\x02\x05\x0b\x11"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def cut(body, limit=MAX_SEED):
    """body, or its first events up to limit bytes (cut after a blank line)."""
    if len(body) <= limit:
        return body
    end = body.rfind(b"\n\n", 0, limit)
    return body[:end + 2] if end > 0 else body[:limit]


def sse_bodies():
    """(name, bytes) of event streams: repository fixtures, real captures, edge cases."""
    out = []
    for p in sorted(glob.glob(os.path.join(ROOT, "fixtures", "streams", "*.sse"))):
        out.append(("fixture-" + os.path.basename(p).split(".")[0], cut(read(p))))
    for name in ("chat-stream-stop", "chat-stream-return-progress", "completions-stream-usage",
                 "overctx-9k-stream", "overctx-fill-during-generation", "chat-stream-long"):
        p = os.path.join(REAL, name + ".body.sse")
        if os.path.exists(p):
            body = read(p)
            out.append(("real-" + name, cut(body)))
            if len(body) > MAX_SEED:  # the end of a long stream: usage, timings, [DONE]
                start = body.find(b"\n\n", len(body) - MAX_SEED)
                out.append(("real-" + name + "-tail", body[start + 2:]))
    usage = (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":'
             b'{"prompt_tokens":5,"completion_tokens":%d}}\n\n')
    out += [
        ("crlf", b'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r\ndata: [DONE]\r\n\r\n'),
        ("cr-only", b'data: {"choices":[{"delta":{"content":"a"}}]}\r\rdata: [DONE]\r\r'),
        ("comments-fields", b": ping\n\nevent: message\nid: 7\nretry: 100\ndata:x\n\n"),
        ("multiline-data", b'data: {"choices":\ndata: [{"delta":{"content":"b"}}]}\n\n'),
        ("no-final-blank", b'data: {"choices":[{"delta":{"content":"c"}}]}\n'),
        ("error-event", b'data: {"error":{"message":"boom","code":500}}\n\n'),
        ("vllm-error", b'data: {"object":"error","message":"bad","code":400}\n\n'),
        ("token-ids", b'data: {"choices":[{"delta":{"content":"ab"},"token_ids":[1,2]}]}\n\n'
                      b'data: {"choices":[{"delta":{"content":"c"}}],"token_ids":[3]}\n\n'),
        ("usage-per-event", usage % 1 + usage % 3 + usage % 2 + b"data: [DONE]\n\n"),
        ("reasoning-tools", b'data: {"choices":[{"delta":{"reasoning_content":"hm"}}]}\n\n'
                            b'data: {"choices":[{"delta":{"tool_calls":[{"function":'
                            b'{"name":"f","arguments":"{}"}}]}}]}\n\n'),
        ("role-then-content", b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
                              b'data: {"choices":[{"delta":{"content":"x"},"finish_reason":'
                              b'"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":9,'
                              b'"prompt_tokens_details":{"cached_tokens":1}}}\n\n'),
        ("keepalive-junk", b"data: \n\ndata: hello\n\ndata:[DONE]\n\ndata: {\"late\":1}\n\n"),
        ("empty", b""),
    ]
    return out


def json_bodies():
    """(name, bytes) of whole JSON answers (non-streaming and error bodies)."""
    out = []
    for p in sorted(glob.glob(os.path.join(ROOT, "fixtures", "streams", "*.json"))):
        out.append(("fixture-" + os.path.basename(p).split(".")[0], read(p)))
    for name in ("chat-nonstream", "chat-nonstream-n2", "completions-nonstream", "chat-bad-json",
                 "chat-no-messages", "overctx-5k-nonstream"):
        p = os.path.join(REAL, name + ".body.json")
        if os.path.exists(p) and len(read(p)) <= MAX_SEED:
            out.append(("real-" + name, read(p)))
    return out


def chunk_payloads(bodies):
    """Distinct data payloads of the streams: the first three and last three
    events of each (role chunk, content, usage / timings / error)."""
    seen, out = set(), []
    for name, body in bodies:
        events = [e for e in body.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
        for k, ev in enumerate(events[:3] + events[-3:]):
            data = b"\n".join(ln[5:].lstrip(b" ") for ln in ev.split(b"\n")
                              if ln.startswith(b"data:"))
            if data and data != b"[DONE]" and data not in seen:
                seen.add(data)
                out.append((f"{name}-{k}", data))
    return out


def requests():
    """(name, bytes): byte 0 is the route (0 chat, 1 completion, 2 tokenize,
    3 detokenize), the rest the body."""
    route = {"chat": 0, "completions": 1, "tokenize": 2, "detokenize": 3}
    out = []
    for p in sorted(glob.glob(os.path.join(REAL, "*.request.json"))):
        name = os.path.basename(p).split(".")[0]
        body = read(p)
        if len(body) > MAX_SEED:
            continue
        r = next((v for k, v in route.items() if name.startswith(k)), 0)
        out.append(("real-" + name, bytes([r]) + body))
    extra = [
        (0, {"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
            "max_completion_tokens": 4, "stop": ["x", "y"], "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            "return_token_ids": True, "cache_prompt": False}),
        (0, {"messages": [{"role": "system", "content": None}], "n_predict": -1, "stop": "z"}),
        (1, {"prompt": [1, 2, 3, 4096], "max_tokens": 1}),
        (1, {"prompt": ["one string"]}),
        (2, {"prompt": "vllm form"}),
        (2, {"messages": [{"role": "user", "content": "hi"}]}),
        (2, {}),
        (3, {"model": "m", "tokens": [0, 1, 2, 31999]}),
    ]
    for k, (r, obj) in enumerate(extra):
        out.append((f"edge-{k}", bytes([r]) + json.dumps(obj).encode()))
    out.append(("edge-deep", b"\x00" + b"[" * 70 + b"]" * 70))
    out.append(("edge-bad-utf8", b"\x00{\"messages\":\"\xc0\xaf\"}"))
    return out


EXTRA_BODY = [
    "temperature=0.5", "top_k:40", "a=1,b=true,c=null,d=\"s\"", "stop=[\"x\",\"y,z\"]",
    "chat_template_kwargs={\"enable_thinking\":false}", " key = value with spaces , k2=2",
    "x=1,x=2", "=no-key", "novalue", "nested={\"a\":[1,{\"b\":\"c,d\"}]},e=[1,2]",
    "k=\"unterminated", "k={\"a\":1", "url=http://h:1/p", "k=\\\"q\\\"", ",,,", "",
]

SLO = [
    "ttft_p95_ms<=500", "tg_req_p50>=20,e2el_max_ms<30000", "error_rate<0.01",
    "rps>=2", "goodput>0.9", "pp_mean>1000, ttfr_median_ms <= 250", "itl_p99.9_ms<=50",
    "ttft_std<5", "tg_min>=1e1", "ttft_p101<1", "ttft_p95_ms=<5", "<5", "foo<", "a_b_c_ms>0x10",
]

FAULT = [
    "status=429@2:0.5", "disconnect-after=20", "stall=2000@10,malformed@3",
    "error-event@5:0.1, no-usage", "slow-headers=100,trickle", "status=503", "malformed",
    "stall=1@0:1", "bogus=1", "status=600", "",
]


def write(target, items):
    d = os.path.join(OUT, target)
    # Hand-made entries (fuzzer findings "regress-*", decoder edge cases
    # "decoder-*") are not generated here: keep them across a re-seed.
    kept = []
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.startswith(("regress-", "decoder-")):
                with open(os.path.join(d, name), "rb") as f:
                    kept.append((name, f.read()))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    items = list(items) + kept
    seen = set()  # the repository fixtures repeat some real captures: one copy each
    items = [(n, x) for n, x in items if not (x in seen or seen.add(x))]
    for name, data in items:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return len(items), sum(len(x) for _, x in items)


def main():
    sse = sse_bodies()
    plain = json_bodies()
    report = {
        "fuzz_sse": write("fuzz_sse", [
            (n, bytes([k * 17 & 0xff]) + PATTERNS[k % len(PATTERNS)] + b)
            for k, (n, b) in enumerate(sse)]),
        "fuzz_stream": write("fuzz_stream", [
            (n, PATTERNS[k % len(PATTERNS)] + b) for k, (n, b) in enumerate(sse + plain)]),
        "fuzz_chunk": write("fuzz_chunk", chunk_payloads(sse) + plain),
        "fuzz_mock_request": write("fuzz_mock_request", requests()),
        "fuzz_extra_body": write("fuzz_extra_body", [
            (f"seed-{k}", s.encode()) for k, s in enumerate(EXTRA_BODY)]),
        "fuzz_slo": write("fuzz_slo", [(f"seed-{k}", s.encode()) for k, s in enumerate(SLO)]),
        "fuzz_fault": write("fuzz_fault", [(f"seed-{k}", s.encode()) for k, s in enumerate(FAULT)]),
    }
    for t, (n, size) in report.items():
        print(f"{t}: {n} seeds, {size} bytes")


if __name__ == "__main__":
    main()
