"""A headless Chromium for tests that must see what a browser does with a page.

:func:`chromium` finds Debian's ``chromium`` (or Chrome), installs it with apt-get when the tests
run as root and it is missing, and skips the test, saying why, when no browser can be had.
:func:`dump_dom` loads a local HTML file with scripts on, lets its timers run, and returns the
DOM as the page left it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=3000", "--dump-dom")

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


def dump_dom(html_file: Path, timeout: float = 120) -> str:
    """The DOM of ``html_file`` after Chromium has loaded it and run its scripts and timers
    (3 s of virtual time), serialized as HTML.  A fresh profile every time; no network wanted."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}",
                               Path(html_file).resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise RuntimeError(f"chromium failed on {html_file} (exit {proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout
