"""The HTML report in a real browser: tokbench runs a 2 depths x 2
concurrencies matrix against tokmock with --html, and headless Chromium
(Debian's `chromium`) loads the file, dumps its DOM and takes a screenshot.
Checks: the DOM holds the table rows, one <svg> per chart with its title, the
SLO section and the escaped model name, and nothing that runs or loads; the
PNG has the window's size and is a picture, not one flat colour; and
`tokbench report` of the saved JSON writes the same HTML byte for byte.
Chromium missing is a FAIL that says how to install it."""
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib

from harness import SLOW, TOKBENCH, Tokmock, check, failures, finish, run_tokbench

MODEL = 'tok<mock> & "co"'
MODEL_ESCAPED = "tok&lt;mock&gt; &amp; \"co\""  # as a DOM dump serializes text
WIDTH, HEIGHT = 1280, 2000
CHART_TITLES = ("pp throughput against depth", "tg throughput against depth",
                "TTFT percentiles against concurrency", "Per-request token timeline")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(chromium, args, timeout):
    """Runs chromium in its own process group; on timeout kills that group
    only. Returns (exit status or None on timeout, stdout bytes, stderr)."""
    profile = tempfile.mkdtemp(prefix="tokbench-chromium-")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--user-data-dir=" + profile] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = None
    shutil.rmtree(profile, ignore_errors=True)
    return rc, out, err.decode("utf-8", "replace")


def png_pixels(data):
    """Decodes an 8-bit RGB or RGBA non-interlaced PNG (what Chromium
    writes): returns (width, height, rows of bytes) or raises ValueError."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not ihdr:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unexpected PNG format depth {depth} colour {colour}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    work = tempfile.mkdtemp(prefix="tokbench-html-")
    html_path = os.path.join(work, "report.html")
    json_path = os.path.join(work, "report.json")
    png_path = os.path.join(work, "report.png")
    keep = False
    with Tokmock("--pp-rate", "20000", "--tg-rate", "400", "--model", MODEL) as mock:
        rc, out, err = run_tokbench(
            "--base-url", mock.base_url + "/v1", "--pp", "32", "--tg", "8",
            "--depth", "0", "128", "--concurrency", "1", "2", "--runs", "1",
            "--slo", "e2e_ttft_p99<60000", "--format", "json", "--save-result", json_path,
            "--html", html_path)
    ok = check("tokbench_run_with_html", rc == 0 and os.path.exists(html_path),
               f"exit {rc}, stderr: {err[-600:]}")
    if not ok:
        finish()
        return
    with open(html_path, "rb") as f:
        html = f.read()

    # Re-rendering the saved JSON gives the same page.
    p = subprocess.run([TOKBENCH, "report", json_path, "--format", "html"], capture_output=True,
                       timeout=30 * SLOW)
    check("report_command_rerenders_same_html", p.returncode == 0 and p.stdout == html,
          f"exit {p.returncode}, {len(p.stdout)} vs {len(html)} bytes, "
          f"stderr {p.stderr[-300:]!r}")

    chromium = find_chromium()
    if not check("chromium_installed", chromium is not None,
                 "no chromium on PATH: install Debian's `chromium` package "
                 "(scripts/deps.sh test extras)"):
        finish()
        return

    url = "file://" + html_path
    rc, dom, cerr = run_chromium(chromium, ["--dump-dom", url], 90 * SLOW)
    dom = dom.decode("utf-8", "replace")
    check("chromium_dump_dom_ran", rc == 0 and "</html>" in dom,
          f"exit {rc} (None = timed out), {len(dom)} bytes, stderr: {cerr[-400:]}")
    pp_rows, tg_rows = dom.count('<tr class="pp">'), dom.count('<tr class="tg">')
    check("dom_has_table_rows", pp_rows == 4 and tg_rows == 4,
          f"pp rows {pp_rows}, tg rows {tg_rows} (want 4 and 4)")
    check("dom_has_one_svg_per_chart", dom.count("<svg") == 4 and all(
        f'id="chart-{c}"' in dom for c in ("pp", "tg", "ttft", "timeline")),
        f"{dom.count('<svg')} svg elements")
    missing = [t for t in CHART_TITLES if t not in dom]
    check("dom_has_chart_titles", not missing, f"missing titles: {missing}")
    check("dom_has_slo_section", '<section id="slo">' in dom and "SLO met" in dom
          and "e2e_ttft_p99&lt;60000" in dom, "no SLO section with the verdict and spec")
    check("dom_model_name_escaped", MODEL_ESCAPED in dom and "<mock>" not in dom,
          "the model name was not escaped as text")
    check("dom_has_no_script_or_external_load",
          "<script" not in dom and "src=" not in dom and "href=" not in dom,
          "found a script or an external reference")
    check("dom_timeline_draws_requests", dom.count("<title>request ") == 2,
          f"{dom.count('<title>request ')} request lines (want 2: the c2 cell's first run)")

    rc, _, cerr = run_chromium(chromium, ["--screenshot=" + png_path,
                                          f"--window-size={WIDTH},{HEIGHT}", url], 90 * SLOW)
    size = os.path.getsize(png_path) if os.path.exists(png_path) else 0
    if not check("chromium_screenshot_written", rc == 0 and size > 20000,
                 f"exit {rc} (None = timed out), {size} bytes, stderr: {cerr[-400:]}"):
        keep = True
    else:
        with open(png_path, "rb") as f:
            data = f.read()
        try:
            w, h, bpp, rows = png_pixels(data)
            colours = set()
            background = rows[0][0:3]
            inked = 0
            for y in range(0, h, 8):
                row = rows[y]
                for x in range(0, w, 4):
                    px = row[x * bpp:x * bpp + 3]
                    colours.add(px)
                    inked += px != background
            sampled = ((h + 7) // 8) * ((w + 3) // 4)
            check("screenshot_size_is_the_window", (w, h) == (WIDTH, HEIGHT),
                  f"{w}x{h}, want {WIDTH}x{HEIGHT}")
            # Text, tables and coloured chart lines: many colours, and a fair
            # share of the page drawn on (not a blank or error page).
            check("screenshot_is_not_flat", len(colours) >= 20 and inked > sampled // 20,
                  f"{len(colours)} colours, {inked} of {sampled} sampled pixels differ "
                  "from the background")
            series_blue = any(abs(px[0] - 0x1f) < 24 and abs(px[1] - 0x6f) < 24
                              and abs(px[2] - 0xb4) < 24 for px in colours)
            check("screenshot_shows_chart_lines", series_blue,
                  "no pixel of the first series colour (#1f6fb4)")
        except (ValueError, zlib.error, IndexError) as e:
            check("screenshot_is_a_png", False, str(e))
            keep = True
    if keep or failures():
        print(f"  files kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
