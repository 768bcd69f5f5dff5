"""``d2l-grade export``: per-exercise CSV, LMS CSV and Gradescope ``results.json``, read from the
results store of a class graded once through the real ``d2l-grade grade`` (the mini kit of
``test_nbgrader_flow``: two exercises, a real hidden suite, in the sandbox)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder.course import build_course  # noqa: E402
from autograder.results import ResultsStore  # noqa: E402

from test_nbgrader_flow import A, HIDDEN_MARKER, REFERENCE_MARKER, answered, make_kit, submit  # noqa: E402
from test_scale import mini_course  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRADED = 4   # s00..s03 graded; s04 submits after grading


def d2l_grade(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], env=env,
                          umask=0o027, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def graded(kit, tmp_path_factory):
    """A class of four graded through the real command, then a fifth who submits late (never
    graded), and nbgrader's own grades.csv already in exports/ (which no export may touch)."""
    course, expected = mini_course(kit, tmp_path_factory.mktemp("c") / "course", GRADED)
    proc = d2l_grade("grade", course.root, A, "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    submit(course, "s04", answered(course))
    course.exports.mkdir(parents=True, exist_ok=True)
    (course.exports / "grades.csv").write_text("nbgrader's export\n")
    return course, expected


def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def printed_paths(proc) -> list[Path]:
    lines = proc.stdout.splitlines()
    assert lines and all(Path(line).is_absolute() for line in lines), proc.stdout
    return [Path(line) for line in lines]


# --- the per-exercise CSV and the LMS CSV --------------------------------------------------------

def test_csv_has_one_row_per_graded_student_and_one_column_per_exercise(graded):
    course, expected = graded
    proc = d2l_grade("export", course.root, A, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert printed_paths(proc) == [course.exports / f"{A}_exercises.csv"]
    table = rows(course.exports / f"{A}_exercises.csv")
    assert (course.exports / f"{A}_exercises.csv").stat().st_mode & 0o777 == 0o640  # the umask's (027) mode
    assert list(table[0]) == ["student", "double", "inc", "total", "max", "note"]
    assert [r["student"] for r in table] == sorted(expected)          # not s04: never graded
    for r in table:
        want = expected[r["student"]]
        assert (float(r["double"]), float(r["inc"])) == (want["double"], want["inc"])
        assert float(r["total"]) == sum(want.values()) and float(r["max"]) == 4.0 and r["note"] == ""
    # the late submitter is named, not given a number
    assert "s04: has a submission (in submitted/) but no result" in proc.stderr
    assert "another hidden suite" not in proc.stderr and "not recorded" not in proc.stderr
    assert (course.exports / "grades.csv").read_text() == "nbgrader's export\n"


def test_all_students_adds_a_row_without_numbers_for_who_has_no_result(graded):
    course, expected = graded
    proc = d2l_grade("export", course.root, A, "--format", "csv", "--all-students")
    assert proc.returncode == 0, proc.stderr
    table = {r["student"]: r for r in rows(printed_paths(proc)[0])}
    assert sorted(table) == [*sorted(expected), "s04"]
    late = table["s04"]
    assert (late["double"], late["inc"], late["total"], late["max"]) == ("", "", "", "")
    assert late["note"] == "submitted, no result in the kit's store"


def test_lms_csv_is_student_total_max_into_a_chosen_folder(graded, tmp_path):
    course, expected = graded
    proc = d2l_grade("export", course.root, A, "--format", "lms", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert printed_paths(proc) == [tmp_path / "out" / f"{A}_lms.csv"]
    table = rows(tmp_path / "out" / f"{A}_lms.csv")
    assert list(table[0]) == ["student_id", "total", "max"]
    assert {r["student_id"]: (float(r["total"]), float(r["max"])) for r in table} == \
        {s: (sum(v.values()), 4.0) for s, v in expected.items()}
    assert not (course.exports / f"{A}_lms.csv").exists()


# --- Gradescope ----------------------------------------------------------------------------------

# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format"): the fields of
# results.json and of each entry of "tests", with their types and allowed values.
GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
GS_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
GS_TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
          "test_output_format": str, "test_name_format": str, "visibility": str,
          "stdout_visibility": str, "extra_data": dict, "tests": list, "leaderboard": list}
GS_TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
           "name_format": str, "number": str, "output": str, "output_format": str, "tags": list,
           "visibility": str, "extra_data": dict}


def check_gradescope_schema(doc: dict) -> None:
    """Fails unless ``doc`` is a results.json as the published spec describes it."""
    assert isinstance(doc, dict)
    for key, value in doc.items():
        assert key in GS_TOP, f"unknown top-level field {key!r}"
        assert isinstance(value, GS_TOP[key]) and not isinstance(value, bool), (key, value)
    for key in ("visibility", "stdout_visibility"):
        assert doc.get(key, "visible") in GS_VISIBILITY
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert doc.get(key, "text") in GS_FORMATS
    tests = doc.get("tests", [])
    # "score": optional at the top, but required if not on each test case
    assert "score" in doc or (tests and all("score" in t for t in tests))
    for test in tests:
        for key, value in test.items():
            assert key in GS_TEST, f"unknown test field {key!r}"
            assert isinstance(value, GS_TEST[key]) and not isinstance(value, bool), (key, value)
        assert test.get("status", "passed") in {"passed", "failed"}
        assert test.get("visibility", "visible") in GS_VISIBILITY
        assert test.get("output_format", "text") in GS_FORMATS and test.get("name_format", "text") in GS_FORMATS
        assert all(isinstance(tag, str) for tag in test.get("tags", []))


def test_gradescope_results_per_student_follow_the_published_schema(graded, tmp_path):
    course, expected = graded
    proc = d2l_grade("export", course.root, A, "--format", "gradescope", "--out", tmp_path,
                     "--visibility", "after_published")
    assert proc.returncode == 0, proc.stderr
    paths = printed_paths(proc)
    assert paths == [tmp_path / "gradescope" / A / s / "results.json" for s in sorted(expected)]
    store = ResultsStore(course.root)
    for path in paths:
        student = path.parent.name
        text = path.read_text()
        assert HIDDEN_MARKER not in text and REFERENCE_MARKER not in text and "def test_" not in text
        doc = json.loads(text)
        check_gradescope_schema(doc)
        assert doc["visibility"] == "after_published"
        assert doc["score"] == sum(expected[student].values())
        names = [t["name"] for t in doc["tests"]]
        assert names == ["double: values", "double: float", "inc: values"]
        assert sum(t["max_score"] for t in doc["tests"]) == 4.0
        messages = [t.message for e in store.get(A, student).exercises.values() for t in e.tests]
        for test, message in zip(doc["tests"], messages):
            assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
            assert test["output"] == ("" if test["status"] == "passed" else message)
    s01 = json.loads(paths[1].read_text())["tests"][2]   # inc returns x - 1
    assert s01["status"] == "failed" and "inc(0) returned -1, expected 1" in s01["output"]


def test_hand_graded_checks_are_never_exported_as_zeros(graded, tmp_path):
    """A withheld check and a check whose hidden test broke: no score on Gradescope (nor a fail),
    an empty LMS total, and the per-exercise CSV says which exercises a person grades."""
    course, _ = graded
    copy = tmp_path / "course"
    shutil.copytree(course.root, copy)
    store = ResultsStore(copy)
    result = store.get(A, "s01")       # double 3/3, inc 0/1
    inc = result.exercises["inc"].tests[0]
    inc.grader_error = "NameError: name 'x' is not defined (test_mini.py, line 3)"
    inc.message = "this check could not be run because of an error in the grader, not in your code"
    result.exercises["inc"].withheld = True
    store.put(result)

    proc = d2l_grade("export", copy, A, "--format", "gradescope")
    assert proc.returncode == 0, proc.stderr
    path = copy / "exports" / "gradescope" / A / "s01" / "results.json"
    assert path in printed_paths(proc)
    doc = json.loads(path.read_text())
    check_gradescope_schema(doc)
    withheld = doc["tests"][2]
    assert "score" not in withheld and "status" not in withheld and withheld["max_score"] == 1.0
    assert withheld["output"].startswith("Graded by hand")
    assert "NameError" not in path.read_text()            # the instructor's detail stays home
    assert doc["score"] == 3.0 and "graded by hand" in doc["output"] and "inc" in doc["output"]

    proc = d2l_grade("export", copy, A, "--format", "lms")
    assert proc.returncode == 0, proc.stderr
    lms = {r["student_id"]: r for r in rows(copy / "exports" / f"{A}_lms.csv")}
    assert (lms["s01"]["total"], lms["s01"]["max"]) == ("", "4")
    assert "s01: total left empty" in proc.stderr

    proc = d2l_grade("export", copy, A)
    exercises = {r["student"]: r for r in rows(copy / "exports" / f"{A}_exercises.csv")}
    assert exercises["s01"]["note"] == "graded by hand: inc" and exercises["s00"]["note"] == ""


# --- errors: one line, exit 2 --------------------------------------------------------------------

def test_an_unknown_assignment_is_one_clear_line(graded):
    course, _ = graded
    proc = d2l_grade("export", course.root, "nope", "--format", "csv")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "d2l-grade: error: the course has no assignment named 'nope'"


def test_an_assignment_never_graded_is_one_clear_line(kit, tmp_path):
    course = build_course(tmp_path / "fresh", kit, points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    for fmt in ("csv", "lms", "gradescope"):
        proc = d2l_grade("export", course.root, A, "--format", fmt)
        assert proc.returncode == 2 and proc.stdout == "", proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"d2l-grade: error: {A} has not been graded yet")
    assert not (course.root / "exports").exists()


def test_a_directory_that_is_not_a_course(tmp_path):
    proc = d2l_grade("export", tmp_path, A)
    assert proc.returncode == 2 and "not a course built by d2l-grade" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_student_in_the_gradebook_without_a_stored_result_is_named_not_numbered(graded, tmp_path):
    """nbgrader recorded s03, but the kit's store has no result for them (removed here): the
    export says so on stderr and writes no number for them; the gradebook is not read for one."""
    course, expected = graded
    copy = tmp_path / "course"
    shutil.copytree(course.root, copy)
    (copy / ".d2l_results" / A / "s03.json").unlink()
    store = ResultsStore(copy)
    old = store.get(A, "s02")
    old.suite = "0" * 64                      # graded under an older hidden suite
    store.put(old)
    proc = d2l_grade("export", copy, A, "--format", "lms", "--all-students")
    assert proc.returncode == 0, proc.stderr
    assert "s03: has a submission (in submitted/ and the gradebook) but no result" in proc.stderr
    lms = {r["student_id"]: r for r in rows(copy / "exports" / f"{A}_lms.csv")}
    assert (lms["s03"]["total"], lms["s03"]["max"]) == ("", "")
    assert float(lms["s00"]["total"]) == sum(expected["s00"].values())
    stale = [line for line in proc.stderr.splitlines() if "another hidden suite" in line]
    assert len(stale) == 1 and stale[0].endswith("policy than the kit's current one: s02; "
                                                 "`d2l-grade grade` grades them again")
