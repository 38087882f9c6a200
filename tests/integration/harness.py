"""Shared helpers for the integration tests (Python standard library only).

Each test file calls check(name, cond, detail) for each assertion group and
prints one "PASS name" / "FAIL name" line per check, which tests/run.sh counts.
Servers start on port 0 with --port-file, are waited for with a timeout (never a
fixed sleep), are killed by pid, and keep their log when a check failed.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKMOCK = os.environ.get("TOKMOCK", os.path.join(ROOT, "build", "tokmock"))
TOKBENCH = os.environ.get("TOKBENCH", os.path.join(ROOT, "build", "tokbench"))
# Sanitizer builds run slower; scale generous ceilings (never lower bounds).
SLOW = float(os.environ.get("TOKTEST_SLOW", "1"))

_failures = 0


def check(name, cond, detail=""):
    """Reports one named check; detail says expected vs measured."""
    global _failures
    if cond:
        print(f"PASS {name}", flush=True)
    else:
        _failures += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return cond


def failures():
    return _failures


class Tokmock:
    """A tokmock process on a free loopback port."""

    def __init__(self, *args, timeout=10.0):
        self.dir = tempfile.mkdtemp(prefix="tokmock-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.pid_file = os.path.join(self.dir, "pid")
        self.log_path = os.path.join(self.dir, "tokmock.log")
        self.args = [TOKMOCK, "--port", "0", "--port-file", self.port_file,
                     "--pid-file", self.pid_file] + [str(a) for a in args]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout * SLOW
        self.port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.005)  # polling the port file, not a readiness guess
        if self.port is None:
            self.stop()
            raise RuntimeError("tokmock did not start: " + self.read_log())
        self.base_url = f"http://127.0.0.1:{self.port}"

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if _failures:
            sys.stdout.write(f"  tokmock log kept at {self.log_path}\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict, body bytes)."""
        c = self.conn(timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def truth(self, request_id=None):
        path = "/tokmock/requests" + (f"?id={request_id}" if request_id else "")
        status, data = self.json("GET", path)
        assert status == 200, f"truth status {status}"
        return data


def stream_chat(mock, body, headers=None, timeout=60):
    """POSTs a streaming chat request and records, for every SSE data line,
    its arrival time (time.monotonic, seconds) and parsed JSON (or the raw
    string for [DONE]). Returns (status, response headers, events, t_sent)."""
    c = mock.conn(timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    payload = json.dumps(body)
    t_sent = time.monotonic()
    c.request("POST", "/v1/chat/completions", body=payload, headers=h)
    r = c.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    events = []
    if r.status != 200:
        data = r.read()
        c.close()
        return r.status, hdrs, [(time.monotonic(), data)], t_sent
    while True:
        line = r.readline()
        if not line:
            break
        t = time.monotonic()
        line = line.rstrip(b"\r\n")
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            events.append((t, "[DONE]"))
            break
        events.append((t, json.loads(data)))
    c.close()
    return 200, hdrs, events, t_sent


def run_tokbench(*args, timeout=120):
    """Runs tokbench; returns (exit status, stdout, stderr)."""
    p = subprocess.run([TOKBENCH] + [str(a) for a in args], capture_output=True,
                       timeout=timeout * SLOW, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def finish():
    sys.exit(1 if _failures else 0)
