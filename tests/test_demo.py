"""The demo as a newcomer runs it: through the CLI, its output read in an 80-column terminal, and
every file it says it wrote (exports, report) present."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course_grading import results_table

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "model_construction"  # the quickest to grade, and the widest table (14 exercises)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``d2l-grade demo course --assignment model_construction`` run in a fresh folder (paths are
    printed relative to it, as in the README's default ``./d2l-demo-course``), stdout a pipe, no COLUMNS."""
    where = tmp_path_factory.mktemp("demo")
    root = where / "course"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "demo", "course", "--assignment", ASSIGNMENT],
                          capture_output=True, text=True, env=env, cwd=where, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, proc.stdout


def test_every_line_fits_80_columns(demo):
    _root, out = demo
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)


def test_table_shows_reference_full_and_stubs_zero(demo):
    _root, out = demo
    totals = {line.split()[0]: line.split()[-1] for line in out.splitlines()
              if line.split() and line.split()[0] in ("reference", "stubs") and "/" in line.split()[-1]}
    score, max_score = totals["reference"].split("/")
    assert score == max_score and float(max_score) > 0, totals
    assert totals["stubs"].split("/")[0] == "0", totals


def test_exports_written_for_the_submitted_students_only(demo):
    root, out = demo
    exports = root / "exports"
    assert "Exports:     course/exports/" in out
    with open(exports / f"{ASSIGNMENT}_exercises.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    students = {row["student"] for row in rows}
    from autograder.notebook import d2l_meta, read_notebook
    cells = read_notebook(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")["cells"]
    in_notebook = [d2l_meta(c)["function"] for c in cells if d2l_meta(c).get("role") == "exercise"]
    assert list(rows[0])[1:-3] == in_notebook  # columns in the order students meet the exercises
    assert {"reference", "stubs"} <= students
    assert all((root / "submitted" / s / ASSIGNMENT).is_dir() for s in students)
    assert (exports / f"{ASSIGNMENT}_lms.csv").is_file()
    doc = json.loads((exports / "gradescope" / ASSIGNMENT / "reference" / "results.json").read_text())
    assert doc["score"] == sum(t["max_score"] for t in doc["tests"])


def test_class_report_written(demo):
    root, out = demo
    page = root / "reports" / ASSIGNMENT / "index.html"
    assert "Reports:     course/reports/ASSIGNMENT/index.html" in out
    html = page.read_text()
    assert "stubs" in html and "<img" in html  # the stubs are at zero; the distributions are drawn
    assert all((page.parent / name).is_file() for name in ("totals.png", "exercises.png"))


def test_unknown_assignment_is_one_line_naming_the_valid_ones(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "demo", str(tmp_path / "c"), "--assignment", "mpl"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'mpl'" in lines[0] and "mlp" in lines[0] and "Traceback" not in proc.stderr


def _results(students: int, exercises: list[str]) -> dict:
    return {f"student_{i:02d}": {e: {"score": float(i % 3), "max_score": 3.0} for e in exercises}
            for i in range(students)}


@pytest.mark.parametrize("width", [40, 80, 120])
def test_results_table_splits_columns_into_blocks_that_fit(width):
    exercises = ["synthetic_data", "data_iter", "linreg", "squared_loss", "sgd", "train",
                 "build_concise_model", "train_concise"]
    table = results_table(_results(4, exercises), width)
    assert max(len(line) for line in table.splitlines()) <= width
    blocks = table.split("\n\n")
    headers = [block.splitlines()[0].split() for block in blocks]
    assert all(h[0] == "student" for h in headers)
    assert [name for h in headers for name in h[1:]] == [*exercises, "total"]  # each once, in order
    for block in blocks:
        assert [line.split()[0] for line in block.splitlines()[2:]] == [f"student_{i:02d}" for i in range(4)]
    assert headers[-1][-1] == "total" and blocks[-1].splitlines()[2].split()[-1] == "0/24"


def test_results_table_is_one_block_when_it_fits():
    table = results_table(_results(2, ["relu", "sigmoid"]), 80)
    assert "\n\n" not in table and table.splitlines()[0].split() == ["student", "relu", "sigmoid", "total"]
