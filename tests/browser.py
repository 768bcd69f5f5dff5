"""A headless Chromium for tests that must see what a browser does with a page.

:func:`chromium` finds Debian's ``chromium`` (or Chrome), installs it with apt-get when the tests
run as root and it is missing, and skips the test, saying why, when no browser can be had.
:func:`dump_dom` loads a local HTML file with scripts on, lets its timers run, and returns the
DOM as the page left it.  :func:`screenshot` writes a PNG of a page at a given window size, and
:func:`layout` measures, in a copy of a page, how wide the document and chosen elements are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
BASE_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
              "--virtual-time-budget=3000")
FLAGS = (*BASE_FLAGS, "--dump-dom")

_found: list[str] = []


def find_chromium() -> str | None:
    """The path of an installed Chromium or Chrome, or None."""
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("google-chrome")


def _apt_install() -> str:
    """Try ``apt-get install -y chromium`` (then once more after ``apt-get update``); the log."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = []
    for commands in ([["apt-get", "install", "-y", "-q", "chromium"]],
                     [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]]):
        for command in commands:
            try:
                proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.append(f"{' '.join(command)}: {exc}")
                break
            log.append(f"{' '.join(command)}: exit {proc.returncode} {proc.stderr[-300:]}")
            if proc.returncode != 0:
                break
        if find_chromium():
            break
    return "\n".join(log)


def chromium() -> str:
    """A Chromium to run; installs Debian's package when root, else skips the calling test."""
    if _found:
        return _found[0]
    path = find_chromium()
    if path is None:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip("no Chromium found (apt-get install -y chromium, as root, provides one)")
        log = _apt_install()
        path = find_chromium()
        if path is None:
            pytest.skip(f"no Chromium found and apt-get could not install one:\n{log}")
    _found.append(path)
    return path


def _run(html_file: Path, flags: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Chromium with ``BASE_FLAGS`` and ``flags`` on ``html_file``, in a fresh profile."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([browser, *BASE_FLAGS, *flags, f"--user-data-dir={profile}",
                               Path(html_file).resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)


def dump_dom(html_file: Path, timeout: float = 120, width: int | None = None) -> str:
    """The DOM of ``html_file`` after Chromium has loaded it and run its scripts and timers
    (3 s of virtual time), serialized as HTML.  A fresh profile every time; no network wanted.
    ``width``: the window's width in pixels (default: Chromium's)."""
    size = [f"--window-size={width},800"] if width else []
    proc = _run(html_file, [*size, "--dump-dom"], timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise RuntimeError(f"chromium failed on {html_file} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout


def screenshot(html_file: Path, png: Path, width: int = 1024, height: int = 800,
               timeout: float = 120) -> Path:
    """A PNG of ``html_file`` as a ``width`` x ``height`` window shows it (no scroll bars)."""
    png = Path(png).resolve()
    proc = _run(html_file, [f"--window-size={width},{height}", f"--screenshot={png}"], timeout)
    if proc.returncode != 0 or not png.is_file():
        raise RuntimeError(f"chromium made no screenshot of {html_file} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return png


# Run in a copy of the page: writes what it measured as JSON into a <pre> at the end of the body.
_MEASURE = """<script>
(function () {
  var out = {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
             scrollHeight: document.documentElement.scrollHeight, elements: []};
  document.querySelectorAll(%s).forEach(function (el) {
    var box = el.getBoundingClientRect();
    out.elements.push({tag: el.tagName.toLowerCase(), cls: el.className,
                       text: el.textContent.slice(0, 80), scrollWidth: el.scrollWidth,
                       clientWidth: el.clientWidth, left: box.left, right: box.right});
  });
  var pre = document.createElement("pre");
  pre.id = "d2l-layout-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def layout(html_file: Path, selector: str, width: int = 1024, timeout: float = 120) -> dict:
    """How a ``width``-pixel window lays out ``html_file``: ``width`` (the viewport's),
    ``scrollWidth`` and ``scrollHeight`` (the document's) and, for every element that matches the
    CSS ``selector``, its ``scrollWidth``, ``clientWidth``, ``left`` and ``right`` edges.

    Measured in a copy of the page (next to it, so relative links still resolve) with a script
    added at the end of its body; the page itself is not changed."""
    html_file = Path(html_file).resolve()
    copy = html_file.with_name(f".layout-{os.getpid()}-{html_file.name}")
    page = html_file.read_text()
    at = page.lower().rfind("</body>")
    script = _MEASURE % json.dumps(selector)
    copy.write_text(page[:at] + script + page[at:] if at >= 0 else page + script)
    try:
        dom = dump_dom(copy, timeout, width=width)
    finally:
        copy.unlink(missing_ok=True)
    found = re.search(r'<pre id="d2l-layout-measure">(.*?)</pre>', dom, re.S)
    if found is None:
        raise RuntimeError(f"the layout script did not run in {html_file}")
    import html
    return json.loads(html.unescape(found.group(1)))
