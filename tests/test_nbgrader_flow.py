"""End to end through nbgrader: build, release, submit, autograde (kit scorer), feedback, export.

A tiny kit (two exercises, a real hidden suite) is written under tmp_path so that the flow is
fast and independent of the real assignments.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder import nbgrader_driver as D  # noqa: E402
from autograder import scorer  # noqa: E402
from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.notebook import cell_source  # noqa: E402
from autograder.paths import KitPaths  # noqa: E402

A = "mini"
HIDDEN_MARKER = "hidden-suite-source-marker"
REFERENCE_MARKER = "Reference solutions of the mini assignment"


# --- a tiny kit ----------------------------------------------------------------------------------

def _code(cid, source, role, function=None, nbgrader=None):
    meta = {"d2l": {"role": role}}
    if function:
        meta["d2l"]["function"] = function
    if nbgrader:
        meta["nbgrader"] = dict(nbgrader, schema_version=3)
    return {"cell_type": "code", "id": cid, "metadata": meta, "source": source,
            "outputs": [], "execution_count": None}


def make_kit(root: Path) -> KitPaths:
    for d in ("assignments", "solutions", "grader_tests"):
        (root / d).mkdir(parents=True, exist_ok=True)
    cells = [{"cell_type": "markdown", "id": "intro", "metadata": {"d2l": {"role": "text"}},
              "source": "# Mini assignment"},
             _code("setup", "def self_check(*a, **k):\n    pass", "setup", None,
                   {"grade": False, "solution": False, "locked": True, "grade_id": "setup"})]
    for fn, doc in (("double", "Return 2 * x."), ("inc", "Return x + 1.")):
        cells.append(_code(fn, f'def {fn}(x):\n    """{doc}"""\n    # YOUR CODE HERE\n'
                               "    raise NotImplementedError()", "exercise", fn,
                           {"grade": False, "solution": True, "locked": False, "grade_id": fn}))
        cells.append(_code(f"check-{fn}", f'self_check("{fn}", globals())', "selfcheck", fn,
                           {"grade": True, "solution": False, "locked": True,
                            "grade_id": f"check_{fn}", "points": 0}))
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}}
    (root / "assignments" / f"{A}.ipynb").write_text(json.dumps(nb, indent=1))
    (root / "solutions" / f"{A}.py").write_text(textwrap.dedent(f'''\
        """{REFERENCE_MARKER}."""


        def double(x):
            """Return 2 * x."""
            # twice
            return x + x


        def inc(x):
            """Return x + 1."""
            return x + 1
        '''))
    (root / "grader_tests" / f"test_{A}.py").write_text(textwrap.dedent(f'''\
        import pytest

        MARKER = "{HIDDEN_MARKER}"


        class TestDouble:
            pytestmark = [pytest.mark.exercise("double")]

            @pytest.mark.points(2)
            def test_values(self, student, reference):
                for x in (0, 3, -5):
                    got = student.double(x)
                    assert got == reference.double(x), f"double({{x}}) returned {{got!r}}, expected {{2 * x}}"

            @pytest.mark.points(1)
            def test_float(self, student):
                got = student.double(1.5)
                assert got == 3.0, f"double(1.5) returned {{got!r}}, expected 3.0"


        class TestInc:
            pytestmark = [pytest.mark.exercise("inc")]

            @pytest.mark.points(1)
            def test_values(self, student, reference):
                for x in (0, 7):
                    got = student.inc(x)
                    assert got == reference.inc(x), f"inc({{x}}) returned {{got!r}}, expected {{x + 1}}"
        '''))
    return KitPaths(root)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def points(kit):
    from autograder.grading import exercise_points
    from autograder.notebook import load_assignment
    pts = exercise_points(load_assignment(kit, A), kit)
    assert pts == {"double": 3.0, "inc": 1.0}
    return pts


@pytest.fixture
def course(kit, points, tmp_path):
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: points)
    release_assignment(course, A)
    return course


def release_nb(course) -> dict:
    return json.loads((course.release(A) / f"{A}.ipynb").read_text())


def answered(course, double="return 2 * x", inc="return x + 1") -> dict:
    nb = copy.deepcopy(release_nb(course))
    for cell in nb["cells"]:
        fn = cell["metadata"].get("d2l", {}).get("function")
        if cell["metadata"]["d2l"]["role"] == "exercise":
            body = {"double": double, "inc": inc}[fn]
            if body is not None:
                cell["source"] = cell_source(cell).replace(
                    "# YOUR CODE HERE\n    raise NotImplementedError()", body)
    return nb


def submit(course, student, nb=None, text=None, files=()):
    folder = course.submitted(student, A)
    folder.mkdir(parents=True)
    if nb is not None:
        (folder / f"{A}.ipynb").write_text(json.dumps(nb))
    if text is not None:
        (folder / f"{A}.ipynb").write_text(text)
    (folder / "timestamp.txt").write_text("2024-03-01 12:00:00.000000 UTC")
    for name, content in files:
        (folder / name).write_text(content)
    return folder


def gradebook_scores(course, student) -> dict[str, float]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        sub = gb.find_submission_notebook(A, A, student)
        assert not any(g.needs_manual_grade for g in sub.grades)
        return {g.name: g.auto_score for g in sub.grades}


def grade_cells(course, student) -> dict[str, dict]:
    nb = json.loads((course.autograded(student, A) / f"{A}.ipynb").read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade")}


def output_text(cell) -> str:
    parts = []
    for out in cell["outputs"]:
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif out["output_type"] == "error":
            parts.append("\n".join(out["traceback"]))
    return "\n".join(parts)


def fake_grade(spec, subs, kit, must_not_see=(), **options):
    """Full marks for an exercise whose answer does not raise NotImplementedError."""
    out = {}
    for key, sub in subs.items():
        out[key] = {}
        for fn, pts in (("double", 3.0), ("inc", 1.0)):
            src = sub.exercise_cells.get(fn)
            ok = src is not None and "NotImplementedError" not in src
            out[key][fn] = {"score": pts if ok else 0.0, "max_score": pts, "tests": [
                {"name": f"test_{fn}", "passed": ok, "points": pts if ok else 0.0, "max_points": pts,
                 "message": "" if ok else f"{fn} is not answered"}]}
    return out


# --- the flow ------------------------------------------------------------------------------------

def test_end_to_end_with_the_sandboxed_hidden_suite(course, kit, monkeypatch):
    submit(course, "ann", answered(course, inc="return x - 1"))
    submit(course, "ben", release_nb(course))
    submit(course, "cat", answered(course, double="return 2 * x if isinstance(x, int) else 0.0"))
    results, recorded = D.grade_and_record(course, A, kit=kit)
    assert recorded == {"ann": (True, ""), "ben": (True, ""), "cat": (True, "")}

    # gradebook: per-cell scores, partial credit included
    assert gradebook_scores(course, "ann") == {"check_double": 3.0, "check_inc": 0.0}
    assert gradebook_scores(course, "ben") == {"check_double": 0.0, "check_inc": 0.0}
    assert gradebook_scores(course, "cat") == {"check_double": 2.0, "check_inc": 1.0}

    # grade cells: a report plus the score, or an error carrying the message for a zero
    cells = grade_cells(course, "cat")
    kinds = [o["output_type"] for o in cells["check_double"]["outputs"]]
    assert kinds == ["stream", "execute_result"]
    assert cells["check_double"]["outputs"][1]["data"]["text/plain"] in ("2.0", ["2.0"])
    assert "✗ TestDouble::test_float" in output_text(cells["check_double"])
    assert "✓ TestDouble::test_values" in output_text(cells["check_double"])
    ann = grade_cells(course, "ann")["check_inc"]
    assert [o["output_type"] for o in ann["outputs"]] == ["error"]
    assert ann["outputs"][0]["evalue"] == "inc(0) returned -1, expected 1"

    # recording again reuses the cached results: no student code runs inside nbgrader
    monkeypatch.setattr(scorer.SandboxScorer, "_grade_now",
                        lambda *a: pytest.fail("graded again instead of using the batch results"))
    assert D.autograde(course, A) == {s: (True, "") for s in ("ann", "ben", "cat")}
    assert gradebook_scores(course, "cat") == {"check_double": 2.0, "check_inc": 1.0}

    # feedback: messages in, hidden test source and reference code out
    feedback = D.generate_feedback(course, A)
    assert feedback == {s: (True, "") for s in ("ann", "ben", "cat")}
    html = (course.feedback("ann", A) / f"{A}.html").read_text()
    assert "inc(0) returned -1, expected 1" in html
    assert "✓ TestDouble::test_values" in html
    for secret in (HIDDEN_MARKER, "reference.double", "assert got ==", REFERENCE_MARKER, "x + x"):
        assert secret not in html
    ben = (course.feedback("ben", A) / f"{A}.html").read_text()
    assert "calling double(0) raised NotImplementedError" in ben

    # CSV export: the right totals
    path = D.export_csv(course)
    rows = {r["student_id"]: r for r in csv.DictReader(path.open())}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"ann": 3.0, "ben": 0.0, "cat": 3.0}
    assert {float(r["max_score"]) for r in rows.values()} == {4.0}


def test_broken_submissions_are_recorded_with_clear_messages(course, kit):
    good = answered(course)
    submit(course, "good", good)
    submit(course, "txt", files=[("answers.txt", "double is 2x")])
    submit(course, "badjson", text='{"cells": [')
    nb = copy.deepcopy(good)
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "check-double"]
    submit(course, "delcheck", nb)
    nb = copy.deepcopy(good)
    next(c for c in nb["cells"] if c["id"] == "check-double")["source"] = "print(3.0)"
    submit(course, "editcheck", nb)
    nb = copy.deepcopy(good)
    for c in nb["cells"]:
        c["metadata"].pop("nbgrader", None)
    submit(course, "nometa", nb)
    nb = copy.deepcopy(good)
    i = next(i for i, c in enumerate(nb["cells"]) if c["id"] == "double")
    nb["cells"].insert(i + 1, dict(copy.deepcopy(nb["cells"][i]), id="double-copy"))
    submit(course, "dup", nb)
    nb = copy.deepcopy(good)
    nb["cells"].append(_code("fake", "1", "text", None, {"grade": True, "solution": False,
                                                        "locked": True, "grade_id": "check_fake",
                                                        "points": 100}))
    submit(course, "fakecell", nb)
    folder = submit(course, "link", good)
    os.symlink(kit.solution_module(A), folder / "notes.py")

    results, recorded = D.grade_and_record(course, A, kit=kit, grade=fake_grade)
    assert all(ok for ok, _ in recorded.values()), recorded
    assert recorded["good"] == (True, "") and recorded["delcheck"] == (True, "")
    for student in ("txt", "badjson", "nometa", "dup", "fakecell", "link"):
        assert recorded[student][1].startswith("graded on a placeholder: "), student

    full, zero = {"check_double": 3.0, "check_inc": 1.0}, {"check_double": 0.0, "check_inc": 0.0}
    expected = {"good": full, "txt": zero, "badjson": zero, "delcheck": full, "editcheck": full,
                "nometa": full, "dup": full, "fakecell": full, "link": full}
    assert {s: gradebook_scores(course, s) for s in expected} == expected

    def says(student, grade_id="check_double"):
        return output_text(grade_cells(course, student)[grade_id])

    assert "your submission has no mini.ipynb (it holds: answers.txt" in says("txt")
    assert "not valid JSON" in says("badjson") and "not valid JSON" in says("badjson", "check_inc")
    assert "self-check cell of double was missing" in says("delcheck")
    assert "self-check cell of double" not in says("delcheck", "check_inc")
    assert "changes to the self-check cell of double were discarded" in says("editcheck")
    assert "lost its grading metadata" in says("nometa")
    placeholder = json.loads((course.autograded("nometa", A) / f"{A}.ipynb").read_text())
    assert "could not use your notebook" in cell_source(placeholder["cells"][0])
    assert "return 2 * x" in next(cell_source(c) for c in placeholder["cells"] if c["id"] == "double")
    assert "appears 2 times" in says("dup")
    assert "links (notes.py)" in says("link")
    for student in expected:  # never a grade cell without output
        assert all(c["outputs"] for c in grade_cells(course, student).values()), student

    # the linked file never reaches autograded/ or feedback/
    assert D.generate_feedback(course, A, ["link", "badjson"]) == {"link": (True, ""), "badjson": (True, "")}
    for base in (course.autograded("link", A), course.feedback("link", A)):
        for p in base.rglob("*"):
            assert p.is_dir() or REFERENCE_MARKER not in p.read_text(errors="replace"), p
    html = (course.feedback("badjson", A) / f"{A}.html").read_text()
    assert "not valid JSON" in html
    assert not (course.root / D.PLACEHOLDER_DIR).exists()
    # the submitted folders are left as they were
    assert (course.submitted("badjson", A) / f"{A}.ipynb").read_text() == '{"cells": ['


def test_a_kit_failure_fails_that_student_only(course, kit, monkeypatch):
    submit(course, "ok", answered(course))
    submit(course, "boom", answered(course))

    def grade_now(self, spec, sub, kit, course):
        if sub.key == "boom":
            raise RuntimeError("hidden suite exploded")
        return fake_grade(spec, {sub.key: sub}, kit)[sub.key]

    monkeypatch.setattr(scorer.SandboxScorer, "_grade_now", grade_now)
    out = D.autograde(course, A)
    assert out["ok"] == (True, "")
    ok, error = out["boom"]
    assert not ok and "the kit could not score boom/mini: RuntimeError: hidden suite exploded" in error
    assert gradebook_scores(course, "ok") == {"check_double": 3.0, "check_inc": 1.0}
    assert not (course.autograded("boom", A) / f"{A}.ipynb").exists()


def test_list_submissions(course):
    submit(course, "b", release_nb(course), files=[("extra.txt", "x")])
    submit(course, "a", files=[("notes.txt", "y")])
    (course.root / "submitted" / "c" / "other").mkdir(parents=True)
    listing = D.list_submissions(course, A)
    assert list(listing) == ["a", "b"]
    assert [p.name for p in listing["b"]] == ["extra.txt", f"{A}.ipynb", "timestamp.txt"]
    assert [p.name for p in listing["a"]] == ["notes.txt", "timestamp.txt"]


# --- grade cell outputs --------------------------------------------------------------------------

def _entry(score, max_score, failing_message="wrong at [0]"):
    return {"score": score, "max_score": max_score, "tests": [
        {"name": "t1", "passed": score > 0, "points": score, "max_points": max_score,
         "message": "" if score > 0 else failing_message}]}


def test_grade_cell_outputs_partial_zero_and_capped():
    from nbgrader.utils import determine_grade
    from nbformat.v4 import new_code_cell

    def recorded(entry, points):
        cell = new_code_cell("x", metadata={"nbgrader": {"grade": True, "solution": False,
                                                           "grade_id": "g", "points": points}})
        cell.outputs = scorer.grade_cell_outputs("f", entry, points, ["a note"])
        return determine_grade(cell)[0], cell

    assert recorded(_entry(2.0, 3.0), 3)[0] == 2.0
    assert recorded(_entry(3.0, 3.0), 3)[0] == 3.0
    assert recorded(_entry(5.0, 5.0), 3)[0] == 3.0            # rescaled, never above the cell
    assert recorded(_entry(1.0, 4.0), 2)[0] == 0.5
    score, cell = recorded(_entry(0.0, 3.0), 3)
    assert score == 0 and [o.output_type for o in cell.outputs] == ["error"]
    assert cell.outputs[0].evalue == "wrong at [0]" and "a note" in "\n".join(cell.outputs[0].traceback)
    score, cell = recorded(None, 3)                            # no result at all
    assert score == 0 and "not graded" in "\n".join(cell.outputs[0].traceback)
    assert recorded(_entry(0.0, 0.0), 0)[0] == 0.0             # a 0-point cell is still explicit


def test_web_pages_in_a_submission_never_reach_autograded(course, kit):
    """nbgrader copies a submission's other files into autograded/, which the formgrader serves
    from the instructor's Jupyter origin: an .html or .svg there is a stored XSS."""
    payload = "<script>document.title='pwned'</script>"
    submit(course, "pages", answered(course), files=[("evil.html", payload), ("logo.svg", f"<svg>{payload}</svg>"),
                                                      ("notes.txt", "fine")])
    _results, recorded = D.grade_and_record(course, A, kit=kit, grade=fake_grade)
    ok, text = recorded["pages"]
    assert ok and "web pages or scripts (evil.html, logo.svg)" in text
    assert gradebook_scores(course, "pages") == {"check_double": 3.0, "check_inc": 1.0}
    for p in course.autograded("pages", A).rglob("*"):
        assert p.suffix not in (".html", ".svg") and (p.is_dir() or payload not in p.read_text(errors="replace")), p


@pytest.mark.parametrize("student", ["mallory<img src=x onerror=alert(1)>", "a b", "x*", "quote\"d"])
def test_student_ids_with_markup_or_glob_characters_are_refused(course, kit, student):
    submit(course, student, answered(course))
    _results, recorded = D.grade_and_record(course, A, kit=kit, grade=fake_grade)
    ok, text = recorded[student]
    assert not ok and "use letters, digits and . _ @ + - only" in text
    assert not course.autograded(student, A).exists()
