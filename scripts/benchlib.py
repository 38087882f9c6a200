"""Measurement helpers shared by the benchmark scripts in scripts/: CPU time
of a process sampled from /proc (ns resolution), percentiles."""
import os
import threading
import time


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def task_cpu_ns(pid):
    """CPU time of every thread of pid so far (ns, from /proc/PID/task/*/schedstat)."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total


class CpuSampler(threading.Thread):
    """Samples a process's CPU time every 5 ms: [(monotonic ns, cpu ns)]."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            c = task_cpu_ns(self.pid)
            if c is None:
                break
            self.samples.append((time.monotonic_ns(), c))
            self.done.wait(0.005)

    def cpu_at(self, t_ns):
        """CPU ns at time t_ns, interpolated between samples."""
        s = self.samples
        for (t0, c0), (t1, c1) in zip(s, s[1:]):
            if t0 <= t_ns <= t1:
                return c0 + (c1 - c0) * (t_ns - t0) / max(1, t1 - t0)
        return None


def steady_cpu_per_token(sampler, pairs, margin_ns=200_000_000):
    """CPU ns per token over the middle of the decode phase, where every
    request streams: from the last first-token + margin to the first
    last-token - margin (setup, prompts and the report are outside)."""
    lo = max(p.token_events[0][0] for p in pairs) + margin_ns
    hi = min(p.token_events[-1][0] for p in pairs) - margin_ns
    if hi - lo < 500_000_000:
        return None
    c0, c1 = sampler.cpu_at(lo), sampler.cpu_at(hi)
    tokens = sum(e[1] for p in pairs for e in p.token_events if lo <= e[0] < hi)
    if c0 is None or c1 is None or tokens == 0:
        return None
    return (c1 - c0) / tokens


