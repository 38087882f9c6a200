"""build/loadgen, the load behind scripts/bench-capacity.sh: its figures are
only as good as the streams it really plays. Checked against tokmock's truth:
every stream it reports as ok was served in full (status 200, every token of
max_tokens written), the prompts differ, the ramp spreads the arrivals, and
bad usage or an unreachable server is an error exit with a message, not a
hang. A second tokmock with the emitter off (--emitters 0) must agree.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, TOKMOCK, Tokmock, check, finish, run_scenario, truth_records  # noqa: E402

LOADGEN = os.environ.get("LOADGEN", os.path.join(os.path.dirname(TOKMOCK), "loadgen"))
N, TG, RAMP_MS = 48, 12, 400


def loadgen(*args, timeout=60):
    r = subprocess.run([LOADGEN, *map(str, args)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=timeout * SLOW)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def summary(out):
    """The summary line's fields as a dict of numbers."""
    words = out.split()
    return {k: float(v) for k, v in zip(words[1::2], words[2::2])} if out.startswith(
        "loadgen:") else {}


def served(tag, *mock_args):
    with Tokmock("--truth", "--quiet", *mock_args) as mock:
        rc, out, err = loadgen("--port", mock.port, "--streams", N, "--max-tokens", TG,
                               "--ramp-ms", RAMP_MS, "--read-interval-ms", 20)
        origin, recs = truth_records(mock)
    s = summary(out)
    check(f"{tag}_exit0_all_ok", rc == 0 and s.get("ok") == N and s.get("failed") == 0,
          f"rc={rc} out={out.strip()} err={err.strip()[-300:]}")
    recs = list(recs.values())
    full = [q for q in recs if q["status"] == 200 and q["completion_tokens"] == TG
            and sum(e[1] for e in q["events"]) == TG and not q["disconnected"]]
    check(f"{tag}_truth_has_every_stream_in_full", len(recs) == N and len(full) == N,
          f"{len(recs)} records, {len(full)} served in full (want {N})")
    # The bytes loadgen counted include every event tokmock wrote for it.
    written = sum(e[2] for q in recs for e in q["events"])
    check(f"{tag}_bytes_cover_the_truth", s.get("bytes", 0) >= written,
          f"loadgen read {s.get('bytes')} bytes, the truth's events hold {written}")
    # Arrivals follow the ramp: spread over most of it, never all at once.
    arrivals = sorted(q["arrival_us"] for q in recs)
    spread_ms = (arrivals[-1] - arrivals[0]) / 1e3 if arrivals else 0
    check(f"{tag}_ramp_spreads_arrivals", RAMP_MS * 0.6 <= spread_ms <= RAMP_MS + 300 * SLOW,
          f"arrivals span {spread_ms:.0f} ms for --ramp-ms {RAMP_MS}")
    prompts = {q["prompt_tokens"] for q in recs}
    check(f"{tag}_prompts_have_tokens", min(prompts, default=0) > 10,
          f"prompt token counts {sorted(prompts)[:5]}")


def scenario_served():
    served("emitter")
    served("emitters0", "--emitters", "0")


def scenario_errors():
    rc, out, err = loadgen("--streams", "x")
    check("bad_value_exit2", rc == 2 and "--streams" in err, f"rc={rc} err={err.strip()}")
    rc, out, err = loadgen("--streams", 3)
    check("missing_port_exit2", rc == 2 and "--port is required" in err,
          f"rc={rc} err={err.strip()}")
    rc, out, err = loadgen("--bogus", 1)
    check("unknown_option_exit2", rc == 2 and "unknown option" in err,
          f"rc={rc} err={err.strip()}")
    # Port 1 on loopback: nothing listens, every connection is refused.
    rc, out, err = loadgen("--port", 1, "--streams", 4, "--timeout", 5, timeout=20)
    s = summary(out)
    check("unreachable_exit1_all_failed", rc == 1 and s.get("failed") == 4 and s.get("ok") == 0,
          f"rc={rc} out={out.strip()}")


run_scenario("served", scenario_served)
run_scenario("errors", scenario_errors)
finish()
