"""tokbench's one-line progress display (--progress) against tokmock.

The frames written to stderr ("\\r" + text + erase-to-end-of-line) are parsed
and replayed through a tiny terminal model: every frame must name a cell of
the matrix, in order 1..n, never be wider than the terminal, and never be left
behind in a log line or the final screen; stdout (the table) must carry no
progress bytes. --progress auto draws on a terminal (a pty) and not on a pipe.
"""
import os
import re
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, TOKBENCH, Tokmock, check, finish, run_scenario  # noqa: E402

ERASE = "\x1b[K"
SEP = r"(?: \u00b7 | \| )"
FRAME_RE = re.compile(
    r"^tokbench \[(\d+)/(\d+)\] pp(\d+) tg(\d+) d(\d+) c(\d+)"
    r"(?:" + SEP + r"(?:run|warm-up) (\d+)/(\d+))?"
    r"(?:" + SEP + r"(\d+(?:\.\d)?[kMGT]?) tok)?"
    r"(?:" + SEP + r"(\d+(?:\.\d)?[kMGT]?) tok/s)?"
    r"(?:" + SEP + r"ETA (\?|\d+s|\d+m\d\ds|\d+h\d\dm))?$")

PP, TG, DEPTH, CONC = [64, 128], [8], [0, 256], [1, 2]
MATRIX = [(pp, tg, d, c) for d in DEPTH for pp in PP for tg in TG for c in CONC]


def bench_args(mock, *extra):
    args = ["--base-url", mock.base_url + "/v1", "--pp"] + PP + ["--tg"] + TG
    args += ["--depth"] + DEPTH + ["--concurrency"] + CONC + ["--runs", "2"]
    return [str(a) for a in args] + list(extra)


def run(mock, *extra, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([TOKBENCH] + bench_args(mock, *extra), capture_output=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=120 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def frames_of(err):
    """The texts drawn by the progress line: each "\\r" segment that starts
    with "tokbench [" (the erase segments start with ESC instead)."""
    out = []
    for seg in err.split("\r")[1:]:
        if seg.startswith("tokbench ["):
            out.append(seg)
    return out


def replay(text):
    """A minimal terminal: \\r returns to column 0, ESC[K erases to the end of
    the line, \\n ends it. Returns (finished lines, what is left on the last)."""
    lines, cur, col, i = [], [], 0, 0
    while i < len(text):
        if text.startswith(ERASE, i):
            del cur[col:]
            i += len(ERASE)
            continue
        ch = text[i]
        i += 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
    return lines, "".join(cur)


def check_frames(tag, err, max_cols):
    frames = frames_of(err)
    check(f"{tag}_frames_drawn", len(frames) >= len(MATRIX), f"{len(frames)} frames")
    bad = [f for f in frames if not f.endswith(ERASE) or not FRAME_RE.match(f[:-len(ERASE)])]
    check(f"{tag}_frames_parse", not bad, repr(bad[:3]))
    parsed = [FRAME_RE.match(f[:-len(ERASE)]) for f in frames if f not in bad]
    cells = [int(m.group(1)) for m in parsed]
    totals = {int(m.group(2)) for m in parsed}
    check(f"{tag}_total_cells", totals == {len(MATRIX)}, f"{totals}")
    steps_ok = all(b in (a, a + 1) for a, b in zip(cells, cells[1:]))
    check(f"{tag}_cells_1_to_n_in_order",
          cells[:1] == [1] and steps_ok and sorted(set(cells)) == list(range(1, len(MATRIX) + 1)),
          f"{cells}")
    shapes_ok = all(tuple(int(m.group(k)) for k in (3, 4, 5, 6)) == MATRIX[int(m.group(1)) - 1]
                    for m in parsed if 1 <= int(m.group(1)) <= len(MATRIX))
    check(f"{tag}_cell_shapes_match_matrix", shapes_ok)
    wide = [f for f in frames if len(f) - len(ERASE) > max_cols - 1]
    check(f"{tag}_never_wider_than_terminal", not wide, repr(wide[:2]))
    # Once a run has finished (from cell 2 on) the ETA is known.
    later = [m for m in parsed if int(m.group(1)) >= 2 and m.group(11) is not None]
    check(f"{tag}_eta_known_after_first_run", later and all(m.group(11) != "?" for m in later),
          f"{[m.group(0) for m in later[:3]]}")
    lines, last = replay(err)
    leftover = [ln for ln in lines if "tokbench [" in ln]
    check(f"{tag}_no_frame_left_in_log_lines", not leftover, repr(leftover[:3]))
    check(f"{tag}_erased_at_the_end", last == "", repr(last))
    return frames


def scenario_on(mock):
    rc, out, err = run(mock, "--progress", "on", env_extra={"COLUMNS": "200", "LC_ALL": "C"})
    check("on_exit_ok", rc == 0, f"rc={rc} {err[-400:]}")
    frames = check_frames("on", err, 200)
    check("on_ascii_separator_in_C_locale", frames and all(" \u00b7 " not in f for f in frames))
    check("on_stdout_has_no_progress_bytes",
          "\r" not in out and "\x1b" not in out and "tokbench [" not in out, repr(out[:200]))
    tests = [ln.split("|")[2].strip() for ln in out.splitlines()
             if ln.startswith("| ") and not ln.startswith("| model")]
    rc2, out2, err2 = run(mock, "--progress", "off")
    tests2 = [ln.split("|")[2].strip() for ln in out2.splitlines()
              if ln.startswith("| ") and not ln.startswith("| model")]
    check("off_exit_ok", rc2 == 0, f"rc={rc2}")
    check("off_no_frames", "\r" not in err2 and "\x1b" not in err2, repr(err2[:200]))
    check("stdout_table_same_with_and_without", tests and tests == tests2, f"{tests} vs {tests2}")


def scenario_narrow(mock):
    rc, _, err = run(mock, "--progress", "on",
                     env_extra={"COLUMNS": "42", "LANG": "C.UTF-8", "LC_ALL": ""})
    check("narrow_exit_ok", rc == 0, f"rc={rc}")
    check_frames("narrow", err, 42)


def scenario_auto_pipe(mock):
    rc, out, err = run(mock, "--progress", "auto")
    check("auto_pipe_exit_ok", rc == 0, f"rc={rc}")
    check("auto_pipe_no_frames", "\r" not in err and "\x1b" not in err, repr(err[:200]))


def run_on_pty(mock, columns, *extra):
    """Runs tokbench with stderr on a pseudo-terminal of the given width."""
    import fcntl
    import pty  # noqa: F401  (openpty lives in os; pty documents the platform)
    import termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, COLUMNS="300", LC_ALL="C")
    p = subprocess.Popen([TOKBENCH] + bench_args(mock, *extra), stdout=subprocess.PIPE,
                         stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []

    def pump():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    out, _ = p.communicate(timeout=120 * SLOW)
    reader.join(timeout=10 * SLOW)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace"), b"".join(chunks).decode("utf-8", "replace")


def scenario_auto_tty(mock):
    rc, out, err = run_on_pty(mock, 50, "--progress", "auto")
    check("auto_tty_exit_ok", rc == 0, f"rc={rc} {err[-300:]}")
    check_frames("auto_tty", err, 50)  # the terminal's width wins over $COLUMNS
    check("auto_tty_stdout_clean", "\r" not in out and "\x1b" not in out)
    rc, out, err = run_on_pty(mock, 80, "--progress", "auto", "--quiet")
    check("auto_tty_quiet_no_frames", rc == 0 and "tokbench [" not in err, repr(err[:200]))


def main():
    with Tokmock("--pp-rate", "20000", "--tg-rate", "400", "--quiet") as mock:
        run_scenario("progress_on", lambda: scenario_on(mock))
        run_scenario("progress_narrow", lambda: scenario_narrow(mock))
        run_scenario("progress_auto_pipe", lambda: scenario_auto_pipe(mock))
        run_scenario("progress_auto_tty", lambda: scenario_auto_tty(mock))
        rc, _, err = run(mock, "--progress", "sometimes")
        check("bad_progress_value_is_usage_error", rc == 2 and "--progress" in err,
              f"rc={rc} {err[-200:]}")
    finish()


if __name__ == "__main__":
    main()
