"""`make install` / `make uninstall` into a temporary DESTDIR: the two
programs land in $(PREFIX)/bin and run, the man pages (docs/man/*.1, when
present) in $(PREFIX)/share/man/man1, and uninstall removes exactly those."""
import glob
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, TOKBENCH, TOKMOCK, check, finish  # noqa: E402


def make(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT] + list(args),
                       capture_output=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    build = os.path.dirname(TOKBENCH)
    if not (os.path.isfile(TOKBENCH) and os.access(TOKBENCH, os.X_OK) and
            os.path.dirname(TOKMOCK) == build and os.path.commonpath([build, ROOT]) == ROOT):
        print(f"# install test skipped: {TOKBENCH} is not a program built in this tree")
        return
    rel = os.path.relpath(build, ROOT)
    mans = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "docs", "man", "*.1")))
    with tempfile.TemporaryDirectory(prefix="tokinstall-") as dest:
        prefix = "/opt/tok bench"  # a space in the path must survive the quoting
        # -o: the programs are taken as built (never remade by this test).
        common = [f"BUILD={rel}", f"PREFIX={prefix}", f"DESTDIR={dest}",
                  "-o", f"{rel}/tokbench", "-o", f"{rel}/tokmock"]
        rc, out = make("install", *common)
        check("install_exit0", rc == 0, out[-500:])
        bindir = dest + prefix + "/bin"
        mandir = dest + prefix + "/share/man/man1"
        for prog in ("tokbench", "tokmock"):
            path = os.path.join(bindir, prog)
            ok = os.path.isfile(path) and mode(path) == 0o755
            check(f"install_{prog}_in_bin_0755", ok, f"{path}: {oct(mode(path)) if ok else 'missing'}")
            if ok:
                p = subprocess.run([path, "--version"], capture_output=True, timeout=30)
                check(f"installed_{prog}_runs", p.returncode == 0 and
                      p.stdout.decode().startswith(prog + " "), p.stdout[:200] + p.stderr[:200])
        installed = sorted(os.listdir(mandir)) if os.path.isdir(mandir) else []
        check("install_man_pages", installed == mans and
              all(mode(os.path.join(mandir, m)) == 0o644 for m in installed),
              f"expected {mans}, installed {installed}")
        rc, out = make("uninstall", *common)
        left = [os.path.join(d, f) for d, _, files in os.walk(dest) for f in files]
        check("uninstall_removes_everything", rc == 0 and not left, f"rc={rc} left={left} {out[-300:]}")


if __name__ == "__main__":
    main()
    finish()
