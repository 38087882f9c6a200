"""The man pages docs/man/tokbench.1 and docs/man/tokmock.1.

Each page must render with groff without a single warning (-ww), have the
usual sections, name the version the binary prints, and list in OPTIONS
every option that the binary's --help lists, and nothing it does not: so a
new option cannot land without its man page entry, and a removed one cannot
linger. tokbench's subcommands are checked the same way against their own
--help.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, SLOW, TOKBENCH, TOKMOCK, check, finish  # noqa: E402

MAN_DIR = os.path.join(ROOT, "docs", "man")
OPTION_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMON_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES",
                   "SEE ALSO"]


def groff(page, device, *extra):
    env = dict(os.environ, GROFF_NO_SGR="1", LC_ALL="C.UTF-8")
    p = subprocess.run(["groff", "-man", "-T" + device, "-ww"] + list(extra) + [page],
                       capture_output=True, env=env, timeout=60 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def sections(text):
    """Rendered page → {heading: body}; headings start in column 0."""
    out, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line == line.upper() and name != line:
            if re.match(r"^[A-Z][A-Z ]+$", line):
                name = line
                out[name] = []
                continue
        if name:
            out[name].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def help_options(binary, *args):
    """The options on the option lines of `binary args --help` (lines that start
    with blanks and then "--"), or None when there is no usage text."""
    p = subprocess.run([binary] + list(args) + ["--help"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30 * SLOW)
    text = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    if p.returncode != 0 or "usage:" not in text:
        return None
    opts = set()
    for line in text.splitlines():
        if re.match(r"^\s+--[a-z]", line):
            opts.update(OPTION_RE.findall(line))
    return opts


def entry_options(section_text):
    """Options that open an entry: a .TP tag renders at column 7 with its
    paragraph below at column 14 (a paragraph line at column 7 is text)."""
    opts = set()
    lines = section_text.splitlines()
    for line, after in zip(lines, lines[1:] + [""]):
        m = re.match(r"^ {7}(--[a-z][a-z0-9-]*)", line)
        if m and re.match(r"^ {14}\S", after):
            opts.add(m.group(1))
    return opts


def version_of(binary):
    p = subprocess.run([binary, "--version"], capture_output=True, timeout=30 * SLOW)
    m = re.search(r"\b(\d+\.\d+\.\d+)\b", p.stdout.decode("utf-8", "replace"))
    return m.group(1) if m else None


def check_page(name, binary, extra_sections):
    page = os.path.join(MAN_DIR, name + ".1")
    if not check(f"{name}_page_exists", os.path.isfile(page), page):
        return None
    rc, _, err = groff(page, "utf8")
    check(f"{name}_renders_utf8_without_warnings", rc == 0 and err.strip() == "",
          f"rc={rc} {err[:400]}")
    if shutil.which("mandoc"):  # a second, stricter parser when installed
        p = subprocess.run(["mandoc", "-Tlint", page], capture_output=True, timeout=60 * SLOW)
        msgs = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
        check(f"{name}_mandoc_lint_clean", p.returncode == 0 and not msgs, msgs[:400])
    rc, text, err = groff(page, "ascii", "-P-cbou")
    check(f"{name}_renders_ascii_without_warnings", rc == 0 and err.strip() == "",
          f"rc={rc} {err[:400]}")
    secs = sections(text)
    missing = [s for s in COMMON_SECTIONS + extra_sections if s not in secs]
    check(f"{name}_has_sections", not missing, f"missing {missing}; found {list(secs)}")
    check(f"{name}_name_line", re.search(rf"^\s+{name} - \S", secs.get("NAME", ""), re.M)
          is not None, secs.get("NAME", "")[:200])
    with open(page, encoding="utf-8") as f:
        th = next((ln for ln in f if ln.startswith(".TH ")), "")
    version = version_of(binary)
    check(f"{name}_version_matches_binary", version is not None and f"{name} {version}" in th,
          f"--version {version}, page {th.strip()}")
    # Hyphenation would cut option names in two at line ends.
    options_text = secs.get("OPTIONS", "")
    hyphenated = [ln.strip() for ln in text.splitlines() if re.search(r"[a-z]-$", ln)]
    check(f"{name}_no_hyphenated_line_ends", not hyphenated, repr(hyphenated[:3]))
    helped = help_options(binary)
    if not check(f"{name}_help_lists_options", helped, "no options parsed from --help"):
        return secs
    documented = set(OPTION_RE.findall(options_text))
    absent = sorted(helped - documented)
    check(f"{name}_every_help_option_in_man_page", not absent, f"not in OPTIONS: {absent}")
    stale = sorted(entry_options(options_text) - helped)
    check(f"{name}_no_man_option_missing_from_help", not stale, f"not in --help: {stale}")
    return secs


def main():
    if not check("groff_available", shutil.which("groff") is not None,
                 "groff not found: install the Debian package groff-base"):
        finish()
    secs = check_page("tokbench", TOKBENCH,
                      ["SUBCOMMANDS", "ENVIRONMENT", "FILES"])
    if secs:
        check("tokbench_environment_names_history_variable",
              "TOKBENCH_HISTORY" in secs.get("ENVIRONMENT", ""))
        sub = secs.get("SUBCOMMANDS", "")
        for name in ("report", "history", "compare"):
            check(f"tokbench_subcommand_{name}_documented", f"tokbench {name}" in sub)
            opts = help_options(TOKBENCH, name)
            if opts is None:  # that subcommand has no usage text (yet)
                continue
            absent = sorted(o for o in opts - {"--help"} if o not in OPTION_RE.findall(sub))
            check(f"tokbench_subcommand_{name}_options_in_man_page", not absent,
                  f"not in SUBCOMMANDS: {absent}")
    secs = check_page("tokmock", TOKMOCK, ["ROUTES", "GROUND TRUTH", "FAULTS"])
    if secs:
        faults = secs.get("FAULTS", "")
        kinds = ["status=", "disconnect-after=", "stall=", "malformed", "error-event",
                 "no-usage", "slow-headers=", "trickle"]
        absent = [k for k in kinds if k not in faults]
        check("tokmock_fault_kinds_documented", not absent, f"missing {absent}")
    finish()


if __name__ == "__main__":
    main()
