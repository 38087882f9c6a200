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


TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
MANY_THREADS = 64


def task_cpu_ns(pid):
    """CPU time of every thread of pid so far (ns). From each thread's
    /proc/PID/task/*/schedstat (ns resolution) while the process has few
    threads; beyond MANY_THREADS from /proc/PID/stat's user + system clock
    ticks of the whole process (10 ms resolution, but one file instead of
    thousands: tokmock at 2000 streams has over 2000 threads, and reading
    them all would cost the CPU being measured)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if int(fields[17]) > MANY_THREADS:
            return int((int(fields[11]) + int(fields[12])) * TICK_NS)
    except (OSError, ValueError, IndexError):
        return None
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


def peak_rss_kib(pid):
    """The process's own peak RSS so far (VmHWM, KiB), or None once it is gone.

    Not ru_maxrss from wait4: a child started by Python (vfork or fork, then
    exec) carries the RSS of the Python parent into its ru_maxrss (the kernel
    keeps the peak of the address space it replaced at exec), so a 10 MiB
    program reads as ~20 MiB. VmHWM belongs to the program's own address
    space."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def user_sys_ticks(pid):
    """(user, system) CPU clock ticks of the whole process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


class CpuSampler(threading.Thread):
    """Samples a process every 5 ms: CPU time [(monotonic ns, cpu ns)], its
    peak RSS (hwm_kib, the last VmHWM read: it only grows) and its user /
    system split [(monotonic ns, user ticks, system ticks)].

    A sample reads one file per thread; with thousands of threads (tokmock
    at 2000 streams) that takes milliseconds of CPU, so the pause after a
    sample is at least 9 times what the sample cost: the sampler never takes
    more than a tenth of a core from what it measures."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()
        self.hwm_kib = None
        self.ticks = []

    def run(self):
        while not self.done.is_set():
            t_start = time.monotonic()
            c = task_cpu_ns(self.pid)
            if c is None:
                break
            now = time.monotonic_ns()
            self.samples.append((now, c))
            hwm = peak_rss_kib(self.pid)
            if hwm is not None:
                self.hwm_kib = max(hwm, self.hwm_kib or 0)
            us = user_sys_ticks(self.pid)
            if us is not None:
                self.ticks.append((now, us[0], us[1]))
            self.done.wait(max(0.005, 9 * (time.monotonic() - t_start)))

    def user_share(self, lo_ns, hi_ns, min_ticks=20):
        """Fraction of the CPU time between lo_ns and hi_ns spent in user
        space, or None when the window holds fewer than min_ticks clock
        ticks of CPU (the kernel counts in ticks: a short or idle window,
        such as c=1, says nothing)."""
        inside = [t for t in self.ticks if lo_ns <= t[0] <= hi_ns]
        if len(inside) < 2:
            return None
        du = inside[-1][1] - inside[0][1]
        ds = inside[-1][2] - inside[0][2]
        return du / (du + ds) if du + ds >= min_ticks else None

    def cpu_at(self, t_ns):
        """CPU ns at time t_ns, interpolated between samples."""
        s = self.samples
        for (t0, c0), (t1, c1) in zip(s, s[1:]):
            if t0 <= t_ns <= t1:
                return c0 + (c1 - c0) * (t_ns - t0) / max(1, t1 - t0)
        return None


def steady_window(pairs, margin_ns=200_000_000):
    """The middle of the decode phase, where every request streams: from the
    last first-token + margin to the first last-token - margin (monotonic ns)."""
    lo = max(p.token_events[0][0] for p in pairs) + margin_ns
    hi = min(p.token_events[-1][0] for p in pairs) - margin_ns
    return lo, hi


def steady_cpu_per_token(sampler, pairs, margin_ns=200_000_000):
    """CPU ns per token over the middle of the decode phase (steady_window:
    setup, prompts and the report are outside)."""
    lo, hi = steady_window(pairs, margin_ns)
    if hi - lo < 500_000_000:
        return None
    c0, c1 = sampler.cpu_at(lo), sampler.cpu_at(hi)
    tokens = sum(e[1] for p in pairs for e in p.token_events if lo <= e[0] < hi)
    if c0 is None or c1 is None or tokens == 0:
        return None
    return (c1 - c0) / tokens


