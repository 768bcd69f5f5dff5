"""A whole class: the results store, resuming after ``kill -9``, ``--jobs``, Dask, progress.

Uses the mini kit of ``test_nbgrader_flow`` (two exercises, a real hidden suite) so that the real
sandbox and nbgrader run end to end in seconds.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder import nbgrader_driver as D  # noqa: E402
from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.results import (ExerciseResult, ResultsStore, SubmissionResult,  # noqa: E402
                                TestResult, suite_digest)

from test_nbgrader_flow import A, answered, fake_grade, gradebook_scores, make_kit, release_nb, submit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (double, inc) answers cycled over the class, and the scores the hidden suite gives them
ANSWERS = [("return 2 * x", "return x + 1", {"double": 3.0, "inc": 1.0}),
           ("return 2 * x", "return x - 1", {"double": 3.0, "inc": 0.0}),
           (None, None, {"double": 0.0, "inc": 0.0}),
           ("return 2 * x if isinstance(x, int) else 0.0", "return x + 1", {"double": 2.0, "inc": 1.0})]


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


def mini_course(kit, where: Path, students: int):
    course = build_course(where, kit, points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    release_assignment(course, A)
    expected = {}
    for i in range(students):
        double, inc, scores = ANSWERS[i % len(ANSWERS)]
        student = f"s{i:02d}"
        nb = release_nb(course) if double is None else answered(course, double=double, inc=inc)
        submit(course, student, nb)
        expected[student] = scores
    return course, expected


def scores_of(results: dict) -> dict:
    return {s: {e: r["score"] for e, r in ex.items()} for s, ex in results.items()}


def gradebook_rows(course) -> list[tuple[str, str]]:
    """(student, assignment) of every submission in the gradebook (duplicates would show twice)."""
    import sqlite3
    db = sqlite3.connect(course.gradebook)
    try:
        return db.execute("select student.id, assignment.name from submitted_assignment "
                          "join student on student.id = submitted_assignment.student_id "
                          "join assignment on assignment.id = submitted_assignment.assignment_id").fetchall()
    finally:
        db.close()


# --- 1. the typed results model and its store ------------------------------------------------------

def full_entry() -> dict:
    return {"mlp": {"score": 1.0, "max_score": 3.0, "withheld": True, "blamed_on": ["relu"], "tests": [
        {"name": "T::a", "passed": True, "points": 1.0, "max_points": 1.0, "message": ""},
        {"name": "T::b", "passed": False, "points": 0.0, "max_points": 1.0, "message": "broke",
         "grader_error": "NameError: x (test_mlp.py, line 3)"},
        {"name": "T::c", "passed": False, "points": 0.0, "max_points": 1.0, "message": "relu fails; ...",
         "withheld": True}]},
        "relu": {"score": 0.0, "max_score": 2.0, "tests": []}}


def test_the_results_model_keeps_every_field_and_sums_in_one_place(tmp_path):
    result = SubmissionResult.from_exercises("ann", "mlp", "f" * 64, full_entry(), suite="s")
    assert result.exercises_dict() == full_entry()
    assert isinstance(result.exercises["mlp"], ExerciseResult)
    assert isinstance(result.exercises["mlp"].tests[1], TestResult)
    assert (result.score, result.max_score) == (1.0, 5.0)
    assert result.withheld() == ["mlp"]
    assert result.grader_errors() == ["mlp T::b: NameError: x (test_mlp.py, line 3)"]

    store = ResultsStore(tmp_path)
    store.put(result)
    path = tmp_path / ".d2l_results" / "mlp" / "ann.json"
    assert json.loads(path.read_text())["fingerprint"] == "f" * 64
    back = store.get("mlp", "ann")
    assert back.exercises_dict() == full_entry() and back.recorded is None
    assert store.find("mlp", "ann", "f" * 64, "s") is not None
    assert store.find("mlp", "ann", "0" * 64) is None          # another notebook
    assert store.find("mlp", "ann", "f" * 64, "other") is None  # another hidden suite
    store.mark_recorded(back, True, "")
    assert store.get("mlp", "ann").recorded.ok
    assert [p.name for p in path.parent.iterdir()] == ["ann.json"]  # no temporary file left
    path.write_text('{"student": "ann", "exerc')                 # a torn file reads as none
    assert store.get("mlp", "ann") is None
    with pytest.raises(ValueError):
        store.path("mlp", "../x")


def test_the_scorer_reads_the_store_and_an_unchanged_class_is_not_graded_again(kit, tmp_path):
    course, _ = mini_course(kit, tmp_path / "course", 3)
    calls = []

    def counting(spec, subs, kit, **options):
        calls.append(sorted(subs))
        return fake_grade(spec, subs, kit, **options)

    results, recorded = D.grade_and_record(course, A, kit=kit, grade=counting)
    assert sorted(s for c in calls for s in c) == ["s00", "s01", "s02"]
    assert all(ok for ok, _ in recorded.values())
    store = ResultsStore(course.root)
    assert store.students(A) == ["s00", "s01", "s02"]
    assert all(store.get(A, s).recorded.ok for s in ("s00", "s01", "s02"))
    assert gradebook_scores(course, "s02") == {"check_double": 0.0, "check_inc": 0.0}

    # the scorer reads the store: change a stored score, record again, the gradebook follows
    s00 = store.get(A, "s00")
    s00.exercises["inc"].score = 0.5
    store.put(s00)
    assert D.autograde(course, A, ["s00"]) == {"s00": (True, "")}
    assert gradebook_scores(course, "s00") == {"check_double": 3.0, "check_inc": 0.5}

    # nothing changed: nothing graded, results (and --json) come from the store
    calls.clear()
    run = D.grade_class(course, A, kit=kit, grade=counting)
    assert calls == [] and sorted(run.reused) == ["s00", "s01", "s02"] and run.graded == []
    assert run.results["s00"].exercises["inc"].score == 0.5

    # a changed notebook is graded again, alone; --force grades everyone
    nb = answered(course)
    (course.submitted("s02", A) / f"{A}.ipynb").write_text(json.dumps(nb))
    run = D.grade_class(course, A, kit=kit, grade=counting)
    assert calls == [["s02"]] and run.graded == ["s02"]
    assert gradebook_scores(course, "s02") == {"check_double": 3.0, "check_inc": 1.0}
    calls.clear()
    D.grade_class(course, A, kit=kit, grade=counting, force=True)
    assert sorted(s for c in calls for s in c) == ["s00", "s01", "s02"]
    assert sorted(gradebook_rows(course)) == [(s, A) for s in ("s00", "s01", "s02")]


def test_a_hidden_suite_change_grades_again(kit, tmp_path):
    course, _ = mini_course(kit, tmp_path / "course", 1)
    before = suite_digest(kit, A)
    D.grade_and_record(course, A, kit=kit, grade=fake_grade)
    suite = Path(kit.hidden_suite(A))
    text = suite.read_text()
    try:
        suite.write_text(text + "\n# changed\n")
        assert suite_digest(kit, A) != before
        run = D.grade_class(course, A, kit=kit, grade=fake_grade)
        assert run.graded == ["s00"]
    finally:
        suite.write_text(text)


def test_one_grading_run_per_course_at_a_time(kit, tmp_path):
    from autograder.results import CourseBusy
    course, _ = mini_course(kit, tmp_path / "course", 1)
    with ResultsStore(course.root).lock():
        with pytest.raises(CourseBusy, match="another `d2l-grade grade` is grading this course"):
            D.grade_class(course, A, kit=kit, grade=fake_grade)
    assert D.grade_class(course, A, kit=kit, grade=fake_grade).graded == ["s00"]


# --- 2. crash-safe and resumable -----------------------------------------------------------------

def test_a_crash_between_grading_and_recording_loses_nothing_and_redoes_nothing(kit, tmp_path, monkeypatch):
    """Killed after a result is stored but before nbgrader recorded it: the next run records it
    without grading it again, and grades only the students never graded."""
    course, _ = mini_course(kit, tmp_path / "course", 5)
    real = D._autograde_one
    seen = []

    def dies_on_the_third(api, course_, kit_, store, assignment, student):
        seen.append(student)
        if len(seen) == 3:
            raise KeyboardInterrupt  # stands for SIGKILL: nothing after this point runs
        return real(api, course_, kit_, store, assignment, student)

    monkeypatch.setattr(D, "_autograde_one", dies_on_the_third)
    monkeypatch.setattr("autograder.batch.chunk_size", lambda pending, workers: 1)
    calls = []

    def counting(spec, subs, kit, **options):
        calls.append(sorted(subs))
        return fake_grade(spec, subs, kit, **options)

    with pytest.raises(KeyboardInterrupt):
        D.grade_class(course, A, kit=kit, grade=counting)
    store = ResultsStore(course.root)
    assert [s for s in store.students(A)] == ["s00", "s01", "s02"]
    assert store.get(A, "s02").recorded is None      # graded, not recorded
    monkeypatch.setattr(D, "_autograde_one", real)
    calls.clear()
    run = D.grade_class(course, A, kit=kit, grade=counting)
    assert calls == [["s03"], ["s04"]]                  # s00-s02 not graded again
    assert sorted(run.reused) == ["s00", "s01", "s02"] and run.graded == ["s03", "s04"]
    assert all(ok for ok, _ in run.recorded.values())
    assert sorted(gradebook_rows(course)) == [(f"s{i:02d}", A) for i in range(5)]
    assert gradebook_scores(course, "s02") == {"check_double": 0.0, "check_inc": 0.0}


def d2l_grade(*args, **popen):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "autograder.cli", "grade", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def cli_json(course, *args) -> dict:
    proc = d2l_grade(str(course.root), A, "--json", *args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_kill_9_then_the_same_command_grades_everyone_exactly_once(kit, tmp_path):
    """``kill -9`` of a real ``d2l-grade grade --jobs 2`` as soon as the first student is
    recorded; the same command again finishes the class: every student once in the gradebook,
    with the scores the hidden suite gives, and no student graded twice.  Then ``--jobs 1``
    gives exactly the results of two workers (through the command: in-process grading under this
    test's own pytest would see its assertion rewriting in the hidden suite's messages)."""
    course, expected = mini_course(kit, tmp_path / "course", 12)
    store = ResultsStore(course.root)
    proc = d2l_grade(str(course.root), A, "--json", "--jobs", "2")
    deadline = time.monotonic() + 600
    recorded_at_kill: dict[str, str] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        done = {s: store.get(A, s) for s in store.students(A)}
        if any(r is not None and r.recorded for r in done.values()):
            proc.send_signal(signal.SIGKILL)
            recorded_at_kill = {s: r.graded_at for s, r in done.items() if r is not None}
            break
        time.sleep(0.02)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the grader finished before it could be killed"
    assert 0 < len(recorded_at_kill) < 12

    again = d2l_grade(str(course.root), A, "--json", "--jobs", "2")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    results = json.loads(out)                 # --json: nothing but the JSON on stdout
    assert scores_of(results) == expected
    assert sorted(gradebook_rows(course)) == sorted((s, A) for s in expected)
    for student in expected:
        total = sum(expected[student].values())
        assert sum(gradebook_scores(course, student).values()) == total
    # what was graded before the kill was kept, not graded again
    for student, graded_at in recorded_at_kill.items():
        assert store.get(A, student).graded_at == graded_at
    # --jobs 1 (one sandbox, this process) gives exactly what two workers gave
    assert cli_json(course, "--jobs", "1", "--force") == results
    assert sorted(gradebook_rows(course)) == sorted((s, A) for s in expected)
