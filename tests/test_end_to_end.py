"""The whole flow on the demo scenarios: build, release, submit, `d2l-grade grade --json`,
gradebook, feedback and CSV (issue: the kit end to end on softmax_regression)."""

import csv
import json
import sqlite3
import subprocess
import sys

import pytest

from autograder import nbgrader_driver
from autograder.demo_scenarios import by_name, scenarios_for
from autograder.course import build_course
from autograder.demo import write_submissions
from autograder.notebook import load_assignment

from conftest import describe_pids, sandbox_uids

ASSIGNMENT = "softmax_regression"


@pytest.fixture(scope="module")
def graded(kit, tmp_path_factory):
    """A course with every scenario submitted and graded through the CLI; (course, results)."""
    course = build_course(tmp_path_factory.mktemp("e2e") / "course", kit)
    nbgrader_driver.generate_assignment(course, ASSIGNMENT)
    write_submissions(course, ASSIGNMENT)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course.root), ASSIGNMENT,
                           "--json", "--feedback", "--jobs", "2"],  # the worker pool, as on a 2-core grader
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    return course, results


def total(entry: dict) -> tuple[float, float]:
    return sum(e["score"] for e in entry.values()), sum(e["max_score"] for e in entry.values())


def test_json_shape(graded, kit):
    _course, results = graded
    assert set(results) == {s.name for s in scenarios_for(ASSIGNMENT)}
    exercises = set(load_assignment(kit, ASSIGNMENT).exercises)
    assert {"softmax", "cross_entropy", "accuracy", "sgd", "softmax_ce_grad"} <= exercises
    for per_exercise in results.values():
        assert set(per_exercise) == exercises
        for entry in per_exercise.values():
            assert isinstance(entry["score"], float) and isinstance(entry["max_score"], float)
            assert 0 <= entry["score"] <= entry["max_score"]
            for test in entry["tests"]:
                assert {"name", "passed", "points", "message"} <= set(test)
                assert isinstance(test["passed"], bool) and isinstance(test["message"], str)
            assert entry["score"] == sum(t["points"] for t in entry["tests"])


def test_reference_full_marks_and_stubs_zero(graded):
    _course, results = graded
    score, max_score = total(results["reference"])
    assert score == max_score > 0
    assert total(results["stubs"])[0] == 0
    assert "NotImplementedError" in results["stubs"]["softmax"]["tests"][0]["message"]


@pytest.mark.parametrize("name, words", [
    ("bug_softmax_overflow", ["NaN", "max"]),
    ("bug_cross_entropy_index", ["y_hat[:, y]"]),
    ("bug_sgd_batch_size", ["batch_size"]),
])
def test_typical_bugs_lose_points_on_their_exercise_with_a_message(graded, name, words):
    _course, results = graded
    scenario = by_name(ASSIGNMENT, name)
    for exercise, entry in results[name].items():
        reference = results["reference"][exercise]
        if exercise in scenario.breaks:
            assert entry["score"] < entry["max_score"]
            messages = " ".join(t["message"] for t in entry["tests"] if not t["passed"])
            for word in words:
                assert word in messages, messages
        else:
            assert entry["score"] == reference["score"]


@pytest.mark.parametrize("name", [s.name for s in scenarios_for(ASSIGNMENT) if s.hostile])
def test_hostile_submissions_get_nothing_for_what_they_attacked(graded, name):
    _course, results = graded
    scenario = by_name(ASSIGNMENT, name)
    for exercise in scenario.breaks:
        assert results[name][exercise]["score"] == 0, results[name][exercise]
    for exercise, entry in results[name].items():
        assert entry["score"] <= results["reference"][exercise]["score"]


def test_gradebook_matches_and_is_intact(graded):
    course, results = graded
    db = sqlite3.connect(course.gradebook)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        for student, per_exercise in results.items():
            submission = gb.find_submission(ASSIGNMENT, student)
            assert submission.score == pytest.approx(total(per_exercise)[0]), student
    assert b"hacked" not in course.gradebook.read_bytes()


def test_no_process_left_behind(graded):
    assert sandbox_uids(orphans=True) == [], describe_pids(sandbox_uids(orphans=True))


def test_feedback_has_messages_and_no_hidden_tests(graded, kit):
    course, results = graded
    html = (course.feedback("bug_sgd_batch_size", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    failed = [t for t in results["bug_sgd_batch_size"]["sgd"]["tests"] if not t["passed"]]
    assert failed and "batch_size" in html
    hidden = kit.hidden_suite(ASSIGNMENT).read_text()
    for marker in ("def test_update_values", "_sgd_cases", "assert_scalar_close", "find_banned"):
        assert marker in hidden and marker not in html


def test_feedback_of_the_stubs_holds_no_reference_code(graded, kit):
    course, _results = graded
    html = (course.feedback("stubs", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    import ast
    source = kit.solution_module(ASSIGNMENT).read_text()
    instructions = kit.assignment_notebook(ASSIGNMENT).read_text()  # e.g. "with torch.no_grad():" in prose
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
            for stmt in body:
                line = ast.get_source_segment(source, stmt).splitlines()[0].strip()
                if len(line) > 12 and line not in instructions:
                    assert line not in html, line


def test_csv_export_totals(graded):
    course, results = graded
    path = nbgrader_driver.export_csv(course)
    rows = {r["student_id"]: r for r in csv.DictReader(path.open())}
    for student, per_exercise in results.items():
        assert float(rows[student]["raw_score"]) == pytest.approx(total(per_exercise)[0])
