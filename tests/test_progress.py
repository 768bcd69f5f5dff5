"""The progress bar of ``d2l-grade grade``, seen the way a person and a script see it: the command
run on a real pseudo-terminal shows counts, rate and ETA and names a student whose notebook could
not be graded as it arrives; with stdout piped, or with ``--json`` on a terminal, nothing of the
bar reaches stdout."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from test_nbgrader_flow import A, make_kit  # noqa: E402
from test_scale import mini_course, scores_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture(scope="module")
def class_with_a_broken_notebook(tmp_path_factory):
    """The mini class (4 students) plus one whose notebook is not JSON."""
    kit = make_kit(tmp_path_factory.mktemp("kit"))
    course, expected = mini_course(kit, tmp_path_factory.mktemp("c") / "course", 4)
    folder = course.submitted("broken", A)
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text("{ this is not a notebook")
    (folder / "timestamp.txt").write_text("2024-03-01 12:00:00.000000 UTC")
    return course, expected


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run ``d2l-grade grade ARGS`` with stdout and stderr on a pseudo-terminal; (rc, what it showed)."""
    leader, follower = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.wait(timeout=600), ANSI.sub("", shown.decode(errors="replace"))


def _piped(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "autograder.cli", "grade", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_terminal_shows_counts_rate_eta_and_the_broken_notebook_at_once(class_with_a_broken_notebook):
    course, _ = class_with_a_broken_notebook
    rc, shown = _on_a_terminal(str(course.root), A, "--jobs", "1", "--force")
    assert rc == 0, shown
    assert f"grading {A}" in shown
    assert re.search(r"\b5/5\b", shown), shown          # counts, up to the whole class
    assert "ETA" in shown and re.search(r"\d+/min", shown), shown
    # the broken notebook is named on a line of its own, before the table printed at the end
    line = next((ln for ln in shown.splitlines() if "broken" in ln and ln.lstrip().startswith(("!", "✗"))), None)
    assert line is not None, shown
    table = re.search(r"^student\s+double\s+inc\s+total", shown, re.M)
    assert table and shown.index(line) < table.start(), shown


def test_piped_output_and_json_carry_no_bar(class_with_a_broken_notebook):
    course, expected = class_with_a_broken_notebook
    piped = _piped(str(course.root), A, "--jobs", "1", "--force")
    assert piped.returncode == 0, piped.stderr
    assert "ETA" not in piped.stdout + piped.stderr and "/min" not in piped.stdout + piped.stderr
    rc, shown = _on_a_terminal(str(course.root), A, "--jobs", "1", "--json")
    assert rc == 0, shown
    assert "ETA" not in shown and f"grading {A}" not in shown
    # stdout and stderr share the terminal here: the JSON document is all there is besides warnings
    document = shown[shown.index("{"):shown.rindex("}") + 1]
    results = json.loads(document)
    assert {s: v for s, v in scores_of(results).items() if s in expected} == expected
    assert scores_of(results)["broken"] == {"double": 0.0, "inc": 0.0}
