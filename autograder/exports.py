"""``d2l-grade export``: a graded assignment out of the course's results store, for other systems.

Three formats, each read from ``<course>/.d2l_results/<assignment>/`` (what ``d2l-grade grade``
wrote; see :mod:`autograder.results`), never invented:

* ``csv`` (``exports/<assignment>_exercises.csv``): one row per student with a result, one column
  per exercise (its score), then ``total``, ``max`` and ``note``.
* ``lms`` (``exports/<assignment>_lms.csv``): ``student_id,total,max``, for an LMS gradebook import.
* ``gradescope`` (``exports/gradescope/<assignment>/<student>/results.json``): Gradescope's
  autograder results format (https://gradescope-autograders.readthedocs.io/en/latest/specs/), one
  test per hidden check, named ``exercise: check``, with the feedback message the student already
  sees as its output (never the hidden test's source or the instructor's grader-error detail).

Grades left to a person (an exercise ``withheld`` by the dependent-grading policy, or whose hidden
test broke: ``grader_error``) are never reported as zeros:

* csv: the exercise's cell holds what was graded automatically (as nbgrader's gradebook does) and
  ``note`` says ``graded by hand: EXERCISE, ...``;
* lms: ``total`` is left empty (a partial total is not a grade) and the command warns;
* gradescope: such a check carries ``max_score`` but no ``score`` and no ``status``, its output
  starts with ``Graded by hand``; the top-level ``score`` counts only what was graded automatically
  and the top-level ``output`` says how many points a person still grades.

A student who has a submission (``submitted/`` or the gradebook) but no result in the store is not
exported: the command names them on stderr (grade them first).  ``all_students`` adds a row for
every student the course knows (gradebook, ``submitted/``), with empty scores and a note, to the
two CSV formats.  The default folder is ``<course>/exports/``, next to nbgrader's ``grades.csv``,
which is never written here.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.paths import CoursePaths
from autograder.results import STORE_DIR, ResultsStore, SubmissionResult, TestResult, write_atomically

FORMATS = ("csv", "gradescope", "lms")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's values
BY_HAND = "Graded by hand"


@dataclass
class ClassResults:
    """One assignment's results for a class, as read from the store, plus what the instructor must
    know about students who could not be exported."""

    course: CoursePaths
    assignment: str
    results: dict[str, SubmissionResult]          # student -> result (only students with one)
    exercises: list[str]                          # in the assignment's order
    roster: list[str]                             # rows to write, sorted
    notes: dict[str, str] = field(default_factory=dict)   # student -> why there is no result
    warnings: list[str] = field(default_factory=list)
    in_gradebook: set[str] = field(default_factory=set)   # students with a submission there
    everyone: set[str] = field(default_factory=set)       # every student the gradebook knows


def _fmt(x: float) -> str:
    return f"{x:g}"


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _current_suite(course: CoursePaths, assignment: str) -> str | None:
    """The digest ``d2l-grade grade`` would grade ``assignment`` under now (None: cannot tell)."""
    try:
        from autograder import nbgrader_driver
        from autograder.results import suite_digest
        return suite_digest(nbgrader_driver.kit_of(course), assignment,
                            nbgrader_driver.dependent_grading(course, assignment))
    except Exception:  # noqa: BLE001 - the kit moved, or a config nbgrader cannot read: no warning
        return None


def pending(result: SubmissionResult) -> list[str]:
    """Exercises of ``result`` left (in part) to a person: withheld, or a hidden test broke."""
    return sorted(name for name, e in result.exercises.items()
                  if e.withheld or any(t.withheld or t.grader_error for t in e.tests))


def _notebook_order(course: CoursePaths, assignment: str) -> dict[str, int]:
    """Exercise -> its position in the assignment's source notebook (the order students meet them);
    empty when the notebook cannot be read."""
    from autograder.notebook import d2l_meta, read_notebook
    try:
        cells = read_notebook(course.source(assignment) / f"{assignment}.ipynb")["cells"]
    except Exception:  # noqa: BLE001 - the store's order then
        return {}
    names = [d2l_meta(c).get("function") for c in cells if d2l_meta(c).get("role") == "exercise"]
    return {name: i for i, name in enumerate(dict.fromkeys(n for n in names if n))}


def load_class(course_dir, assignment: str, all_students: bool = False) -> ClassResults:
    """Read ``assignment``'s results from the course's store.

    Raises FileNotFoundError (not a course, or no such assignment) and ValueError (the assignment
    was never graded: nothing in the store), each with a one-line message."""
    course = CoursePaths(course_dir)
    if not course.config_file.exists():
        raise FileNotFoundError(f"{course.root} is not a course built by d2l-grade (no nbgrader_config.py)")
    if not course.source(assignment).is_dir():
        raise FileNotFoundError(f"the course has no assignment named {assignment!r}")
    store = ResultsStore(course.root)
    found = {s: store.get(assignment, s) for s in store.students(assignment)}
    results = {s: r for s, r in found.items() if r is not None}
    out_warnings = [f"{s}: the stored result does not read back; grade them again" for s, r in found.items()
                    if r is None]
    if not results:
        raise ValueError(f"{assignment} has not been graded yet: no results in {course.root / STORE_DIR / assignment}; "
                         f"run `d2l-grade grade {course.root} {assignment}` first")
    exercises: list[str] = []
    for result in results.values():
        for name in result.exercises:
            if name not in exercises:
                exercises.append(name)
    order = _notebook_order(course, assignment)
    exercises.sort(key=lambda name: order.get(name, len(order)))  # stable: unknown names keep their place

    from autograder.nbgrader_driver import gradebook_students
    everyone, in_gradebook = gradebook_students(course, assignment)
    submitted = set(course.students(assignment))
    notes: dict[str, str] = {}
    for student in sorted((submitted | in_gradebook) - set(results)):
        where = " and ".join(w for w, inside in (("submitted/", student in submitted),
                                                 ("the gradebook", student in in_gradebook)) if inside)
        notes[student] = "submitted, no result in the kit's store"
        out_warnings.append(f"{student}: has a submission (in {where}) but no result in the kit's results "
                            f"store, so no grade is exported; run `d2l-grade grade` first")
    for student in sorted(everyone - submitted - in_gradebook - set(results)):
        notes[student] = "no submission"
    current = _current_suite(course, assignment)
    stale = sorted(s for s, r in results.items() if current is not None and r.suite != current)
    if stale:
        out_warnings.append(f"graded under another hidden suite, reference or dependent-grading policy than "
                            f"the kit's current one: {', '.join(stale)}; `d2l-grade grade` grades them again")
    for student, result in sorted(results.items()):
        if result.recorded is None or not result.recorded.ok:
            out_warnings.append(f"{student}: graded, but not recorded in the gradebook (nbgrader's export "
                                "will not show this grade)")
    roster = sorted(set(results) | (set(notes) if all_students else set()))
    return ClassResults(course, assignment, results, exercises, roster, notes, out_warnings, in_gradebook,
                        everyone)


def _note(result: SubmissionResult | None, fallback: str) -> str:
    if result is None:
        return fallback
    held = pending(result)
    return f"graded by hand: {', '.join(held)}" if held else ""


def exercises_csv(data: ClassResults) -> str:
    """The per-exercise CSV: ``student, <exercise>..., total, max, note``.  A withheld exercise's
    cell holds what was graded automatically; ``note`` names it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *data.exercises, "total", "max", "note"])
    for student in data.roster:
        result = data.results.get(student)
        if result is None:
            w.writerow([_cell(student), *[""] * len(data.exercises), "", "", data.notes.get(student, "")])
            continue
        cells = [_fmt(result.exercises[e].score) if e in result.exercises else "" for e in data.exercises]
        w.writerow([_cell(student), *cells, _fmt(result.score), _fmt(result.max_score), _note(result, "")])
    return buf.getvalue()


def lms_csv(data: ClassResults) -> str:
    """``student_id,total,max``.  ``total`` is empty while part of the grade is left to a person
    (or for a student with no result, with ``all_students``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "total", "max"])
    for student in data.roster:
        result = data.results.get(student)
        if result is None or pending(result):
            w.writerow([_cell(student), "", _fmt(result.max_score) if result else ""])
        else:
            w.writerow([_cell(student), _fmt(result.score), _fmt(result.max_score)])
    return buf.getvalue()


def check_title(exercise: str, name: str) -> str:
    """``double: values`` for ``TestDouble::test_values`` of exercise ``double``."""
    base = name.split("::")[-1]
    if base.startswith("test_"):
        base = base[len("test_"):]
    return f"{exercise}: {base.replace('_', ' ')}"


def _test_entry(exercise: str, test: TestResult) -> dict:
    entry = {"name": check_title(exercise, test.name), "max_score": float(test.max_points),
             "output_format": "text"}
    if test.withheld or test.grader_error:
        # no score and no status: Gradescope shows neither a pass nor a zero for it
        entry["output"] = f"{BY_HAND}: your instructor grades this check. {test.message}".strip()
    else:
        entry["score"] = float(test.points)
        entry["status"] = "passed" if test.passed else "failed"
        entry["output"] = "" if test.passed else test.message
    entry["extra_data"] = {"exercise": exercise, "check": test.name}
    return entry


def gradescope_results(result: SubmissionResult, visibility: str | None = None) -> dict:
    """One student's Gradescope ``results.json`` (see the module docstring for withheld checks)."""
    tests = [_test_entry(name, t) for name, e in result.exercises.items() for t in e.tests]
    by_hand = sum(t["max_score"] for t in tests if "score" not in t)
    out = {"score": float(sum(t.get("score", 0.0) for t in tests)), "tests": tests}
    if by_hand:
        out["output"] = (f"{_fmt(by_hand)} point(s) are graded by hand by your instructor and are not "
                         f"included in this score yet ({', '.join(pending(result))}).")
    if visibility:
        if visibility not in VISIBILITIES:
            raise ValueError(f"--visibility must be one of {', '.join(VISIBILITIES)}")
        out["visibility"] = visibility
    return out


def export(course_dir, assignment: str, fmt: str, out_dir=None, *, all_students: bool = False,
           visibility: str | None = None) -> tuple[list[Path], list[str]]:
    """Write ``assignment``'s export in ``fmt`` under ``out_dir`` (default ``<course>/exports``).

    Returns (the absolute paths written, warnings for the instructor)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    data = load_class(course_dir, assignment, all_students=all_students)
    out = Path(out_dir).resolve() if out_dir else data.course.exports
    written: list[Path] = []
    notes = list(data.warnings)
    if fmt == "csv":
        path = out / f"{assignment}_exercises.csv"
        write_atomically(path, exercises_csv(data), shared=True)
        written.append(path)
    elif fmt == "lms":
        path = out / f"{assignment}_lms.csv"
        write_atomically(path, lms_csv(data), shared=True)
        written.append(path)
        for student in data.roster:
            result = data.results.get(student)
            if result is not None and pending(result):
                notes.append(f"{student}: total left empty in the LMS file: {', '.join(pending(result))} "
                             "graded by hand")
    else:
        if all_students:
            notes.append("--all-students does not apply to gradescope: only students with a result get a file")
        for student in sorted(data.results):
            path = out / "gradescope" / assignment / student / "results.json"
            write_atomically(path, json.dumps(gradescope_results(data.results[student], visibility), indent=1),
                             shared=True)
            written.append(path)
    return written, notes
