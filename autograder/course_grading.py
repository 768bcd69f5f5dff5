"""``d2l-grade grade``: grade a course's submissions in the sandbox and record them in nbgrader."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograder import nbgrader_driver
from autograder.paths import CoursePaths


@dataclass
class GradeReport:
    """Per-student, per-exercise results plus anything the instructor must know.

    ``results`` is the plain ``{student: {exercise: {...}}}`` form (``--json``, the table) of
    ``submissions``, the typed results read back from the course's results store."""

    results: dict
    warnings: list[str] = field(default_factory=list)
    grader_errors: list[str] = field(default_factory=list)  # hidden tests that broke: the kit's fault
    submissions: dict = field(default_factory=dict)          # student -> SubmissionResult
    graded: list[str] = field(default_factory=list)          # graded in this run
    reused: list[str] = field(default_factory=list)          # kept from an earlier run
    timings: dict = field(default_factory=dict)
    workers: int = 0
    missing: list[str] = field(default_factory=list)         # named, but no submission: not graded
    not_recorded: list[str] = field(default_factory=list)    # nbgrader could not record these

    def incomplete(self) -> list[str]:
        """Students asked for or submitted who are not graded and recorded in the gradebook."""
        return [*self.missing, *self.not_recorded]


JOBS_VARIABLE = "D2L_GRADE_JOBS"


def default_jobs() -> int:
    """``--jobs`` when it is not given: ``$D2L_GRADE_JOBS`` when set (a whole number, at least 1),
    else the number of cores this process may use."""
    value = os.environ.get(JOBS_VARIABLE, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{JOBS_VARIABLE}={value[:20]!r}: give a whole number of workers, at least 1")
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class CourseInputError(ValueError):
    """The command names something the course does not have (no such directory, assignment,
    release or submission); the message says what was expected and what to do."""


def _names(names, limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none"


def check_course(course_dir, assignment: str) -> CoursePaths:
    """The course at ``course_dir``, after checking that ``assignment`` can be graded there.

    Raises :class:`CourseInputError` naming what is missing and the command that makes it: no
    such directory (and, when the current directory is that course, ``.``), no course config,
    no assignment of that name (the valid ones are listed), or an assignment that has not been
    released with ``nbgrader generate_assignment`` yet.
    """
    given = Path(course_dir)
    course = CoursePaths(course_dir)
    if not course.root.is_dir():
        here = Path.cwd()
        hint = ""
        if (here / "nbgrader_config.py").is_file() and not given.is_absolute() and given.parts \
                and given.parts[-1] == here.name:
            hint = f"; you are already in the course {here.name}: use `.` (d2l-grade grade . {assignment})"
        raise CourseInputError(f"no course directory {course.root}{hint}")
    if not course.config_file.exists():
        raise CourseInputError(f"{course.root} is not a course built by d2l-grade (no nbgrader_config.py); "
                               "run `d2l-grade course build DIR` first")
    source = course.root / "source"
    known = sorted(p.name for p in source.iterdir() if p.is_dir()) if source.is_dir() else []
    if assignment not in known:
        hint = ""
        try:
            if assignment in nbgrader_driver.kit_of(course).assignment_names():
                hint = (f"; the kit has it: add it with d2l-grade course build {course.root} "
                        f"--assignment {assignment}")
        except Exception:  # noqa: BLE001 - a config the kit cannot read: no hint, the error stands
            pass
        raise CourseInputError(f"the course has no assignment named {assignment!r}; its assignments "
                               f"(in {source}): {_names(known)}{hint}")
    release = course.release(assignment) / f"{assignment}.ipynb"
    if not release.is_file():
        raise CourseInputError(f"assignment {assignment!r} has not been released yet (no {release}); "
                               f"release it first: cd {course.root} && nbgrader generate_assignment {assignment}")
    return course


def undated_submissions(course, assignment: str, students: list[str]) -> list[str]:
    """Those of ``students`` whose submission of ``assignment`` has no ``timestamp.txt`` (copied by
    hand rather than collected by nbgrader): nbgrader never applies a late penalty to them."""
    return [s for s in students if not (course.submitted(s, assignment) / "timestamp.txt").is_file()]


def grade_course(course_dir, assignment: str, kit, students=None, feedback: bool = False, *,
                 jobs: int | None = 1, scheduler=None, force: bool = False, progress=None) -> GradeReport:
    """Grade ``submitted/*/<assignment>`` (or only ``students``) into the gradebook.

    Submissions are graded in sandboxed chunks (``jobs`` local workers, or the Dask cluster at
    ``scheduler``); each result goes to the course's results store, then nbgrader records it with
    the kit's scorer in place of executing the notebook.  What was graded and recorded before (same
    notebook, same hidden suite) is kept, unless ``force``.  ``kit`` None: the kit the course was
    built from.  ``progress``: a :class:`~autograder.progress.GradingProgress` (or None).

    Raises :class:`CourseInputError` before grading anything when the course or the assignment
    cannot be graded (:func:`check_course`), when nobody submitted the assignment, or when none of
    ``students`` did.  Named students without a submission are left out and listed in
    ``report.missing``; students graded but not recorded in ``report.not_recorded``.
    """
    course = check_course(course_dir, assignment)
    submitted = course.students(assignment)
    where = course.root / "submitted"
    if not submitted:
        raise CourseInputError(f"nobody has submitted {assignment!r}: no {where}/STUDENT/{assignment}/ folder; "
                               "collect the submissions there first (copy them, or nbgrader zip_collect)")
    missing = []
    if students:
        missing = [s for s in dict.fromkeys(students) if s not in submitted]
        students = [s for s in dict.fromkeys(students) if s in submitted]
        if not students:
            raise CourseInputError(_no_submission(missing, assignment, where, submitted))
    if jobs is None:
        jobs = default_jobs()
    run = nbgrader_driver.grade_class(course, assignment, students, kit=kit, jobs=jobs, scheduler=scheduler,
                                      force=force, on_begin=progress.on_begin if progress else None,
                                      on_result=progress.on_result if progress else None)
    results = {s: r.exercises_dict() for s, r in run.results.items()}
    broken = [f"{s}: {line}" for s, r in sorted(run.results.items()) for line in r.grader_errors()]
    report = GradeReport(results=results, grader_errors=broken, submissions=run.results,
                         graded=run.graded, reused=run.reused, timings=run.timings, workers=run.workers)
    if missing:
        report.missing = missing
        report.warnings.append(_no_submission(missing, assignment, where, submitted))
    for student, result in sorted(run.results.items()):
        held = result.withheld()
        if held:
            report.warnings.append(f"{student}: {', '.join(held)} left for grading by hand "
                                   "(flagged in the gradebook)")
    undated = undated_submissions(course, assignment, sorted(run.results))
    if undated:
        report.warnings.append(
            f"{len(undated)} submission(s) of {assignment} have no timestamp.txt ({_names(undated)}): "
            "nbgrader counts them as on time, so no late penalty "
            "applies to them; `nbgrader collect` and `nbgrader zip_collect` write one, or put the time it was "
            f"handed in (e.g. 2026-11-27 09:00:00 UTC) in submitted/STUDENT/{assignment}/timestamp.txt")
    for student, (ok, text) in sorted(run.recorded.items()):
        if not ok:
            report.not_recorded.append(student)
            report.warnings.append(f"{student}: not recorded in the gradebook: {text}")
        elif text:
            report.warnings.append(f"{student}: {text.splitlines()[0]}")
    for student, result in sorted(run.results.items()):
        if result.flags and student in run.graded:
            report.warnings.append(f"{student}: flagged for review in the gradebook: "
                                   + "; ".join(f.describe() for f in result.flags[:3])
                                   + ("; ..." if len(result.flags) > 3 else ""))
    if feedback:
        for student, (ok, text) in sorted(nbgrader_driver.generate_feedback(course, assignment,
                                                                           list(results)).items()):
            if not ok:
                report.warnings.append(f"{student}: no feedback generated: {text}")
    return report


def _no_submission(missing: list[str], assignment: str, where, submitted: list[str]) -> str:
    who = ", ".join(repr(s[:100]) for s in missing[:10]) + (", ..." if len(missing) > 10 else "")
    return (f"no submission of {who} for {assignment!r} (looked for {where}/STUDENT/{assignment}/); "
            f"students who submitted it: {_names(submitted)}")


def _fmt(x: float) -> str:
    return f"{x:g}"


def results_table(results: dict, width: int | None = None) -> str:
    """A plain-text table: one row per student, one column per exercise, then the total.

    No line is longer than ``width`` characters (default: the terminal's width, 80 when the output
    is not a terminal) unless a single column is: the exercise columns are split into blocks, one
    under the other, each starting with the student column; the total is in the last block.
    """
    if not results:
        return "(no submissions)"
    if width is None:
        width = shutil.get_terminal_size((80, 24)).columns
    exercises: list[str] = []
    for per_student in results.values():
        for exercise in per_student:
            if exercise not in exercises:
                exercises.append(exercise)
    header = ["student", *exercises, "total"]
    rows = []
    for student in sorted(results):
        entry = results[student]
        cells = [student]
        score = max_score = 0.0
        for exercise in exercises:
            e = entry.get(exercise, {"score": 0.0, "max_score": 0.0})
            cells.append(f"{_fmt(e['score'])}/{_fmt(e['max_score'])}")
            score += e["score"]
            max_score += e["max_score"]
        cells.append(f"{_fmt(score)}/{_fmt(max_score)}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    blocks = []
    for columns in _column_blocks(widths, width):
        picked = [0, *columns]
        line = lambda r: "  ".join(r[i].ljust(widths[i]) for i in picked).rstrip()  # noqa: E731
        blocks.append("\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)]))
    return "\n\n".join(blocks)


def _column_blocks(widths: list[int], width: int) -> list[list[int]]:
    """Split columns ``1 ..`` (column 0 starts every block) into blocks whose lines fit ``width``."""
    blocks: list[list[int]] = [[]]
    used = widths[0]
    for i in range(1, len(widths)):
        if blocks[-1] and used + 2 + widths[i] > width:
            blocks.append([])
            used = widths[0]
        blocks[-1].append(i)
        used += 2 + widths[i]
    return blocks

