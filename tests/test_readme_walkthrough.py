"""The README's instructor walkthrough, copied as it stands: its ``bash`` block run line by line in an
empty folder (``COURSE`` taken literally, as a newcomer pasting it would), then every file it
promises checked from outside."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
A = "softmax_regression"


def walkthrough() -> str:
    """The first ``bash`` block under "## Instructor workflow" in the README."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Instructor workflow", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    where = tmp_path_factory.mktemp("walkthrough")
    env = dict(os.environ, PYTHONPATH=str(REPO),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    env.pop("COLUMNS", None)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=where, env=env,
                          capture_output=True, text=True, timeout=900)
    return where / "COURSE", proc


def test_every_line_runs(ran):
    _course, proc = ran
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_the_submission_is_graded_recorded_and_given_feedback(ran):
    course, proc = ran
    start = proc.stdout.index("{")
    results, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])
    assert set(results) == {"ann"}
    assert all(e["score"] == 0 and e["max_score"] > 0 for e in results["ann"].values())  # the stubs
    assert (course / "gradebook.db").is_file()
    assert (course / "feedback" / "ann" / A / f"{A}.html").is_file()


def test_exports_and_report_where_the_commands_say(ran):
    course, proc = ran
    with open(course / "grades.csv", newline="") as f:  # nbgrader export writes it where it runs
        rows = [r for r in csv.DictReader(f) if r["assignment"] == A]
    assert [r["student_id"] for r in rows] == ["ann"]
    gradescope = course / "exports" / "gradescope" / A / "ann" / "results.json"
    page = course / "reports" / A / "index.html"
    printed = proc.stdout.splitlines()
    assert str(gradescope.resolve()) in printed and str(page.resolve()) in printed
    assert json.loads(gradescope.read_text())["score"] == 0
    assert "ann" in page.read_text()
