"""``d2l-grade demo``: the whole flow on sample submissions, in a fresh course directory.

Builds the course, releases every assignment, writes submissions for the scenarios of
``solutions/scenarios/`` (the reference, the stubs, typical bugs, attacks; see
:mod:`autograder.demo_scenarios`), grades them in the sandbox into nbgrader's gradebook, writes
feedback, the class reports, the exports (per-exercise CSV, LMS CSV, Gradescope) and nbgrader's CSV,
and prints the tables, 80 columns wide when the output is not a terminal.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import textwrap
import time
from pathlib import Path

from autograder import nbgrader_driver
from autograder.course import build_course, reference_answer_cells
from autograder.course_grading import default_jobs, grade_course, results_table
from autograder.demo_scenarios import scenarios_for
from autograder.exports import FORMATS as EXPORT_FORMATS, export
from autograder.report import write_report
from autograder.notebook import d2l_meta, read_notebook
from autograder.paths import CoursePaths, KitPaths
from autograder.progress import GradingProgress

def fresh_directory(base: Path) -> Path:
    """``base`` if it does not exist yet, else ``base-2``, ``base-3``, ..."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def scenario_notebook(release_nb: dict, reference: dict[str, str], scenario) -> dict:
    """The release notebook with answer cells filled in as ``scenario`` says."""
    nb = copy.deepcopy(release_nb)
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if meta.get("role") != "exercise":
            continue
        function = meta["function"]
        if function in scenario.cells:
            cell["source"] = scenario.cells[function]
        elif scenario.base == "reference" and function in reference:
            cell["source"] = reference[function]
    return nb


def write_submissions(course: CoursePaths, assignment: str, chosen=None, kit: KitPaths | None = None) -> list[str]:
    """Write one submission per scenario into ``submitted/``; returns the student ids."""
    kit = kit or KitPaths()
    release_nb = read_notebook(course.release(assignment) / f"{assignment}.ipynb")
    reference = reference_answer_cells(kit, assignment)
    students = []
    for scenario in chosen or scenarios_for(assignment, kit):
        folder = course.submitted(scenario.name, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        nb = scenario_notebook(release_nb, reference, scenario)
        (folder / f"{assignment}.ipynb").write_text(json.dumps(nb, indent=1))
        (folder / "timestamp.txt").write_text("2026-11-27 09:00:00.000000 UTC")
        students.append(scenario.name)
    return students


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (short lines), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _scenario_line(name: str, description: str, width: int) -> str:
    """One scenario, its description wrapped to ``width`` under the name's column."""
    indent = " " * 3
    if len(name) > 24:
        return textwrap.fill(description, width, initial_indent=f"{indent}{name}\n{indent * 2}",
                             subsequent_indent=indent * 2)
    return textwrap.fill(description, width, initial_indent=f"{indent}{name:24s} ",
                         subsequent_indent=" " * (len(indent) + 25))


def run_demo(directory: str | None = None, width: int | None = None, assignments=None) -> int:
    """Run the demo; print the results table and where everything is.  Returns the exit status.

    ``assignments`` defaults to every assignment of the kit.  Output lines fit ``width`` columns
    (default: the terminal's width, 80 when not a terminal)."""
    began = time.monotonic()
    width = width or shutil.get_terminal_size((80, 24)).columns
    kit = KitPaths()
    root = Path(directory) if directory else fresh_directory(Path.cwd() / "d2l-demo-course")
    names = list(assignments or kit.assignment_names())
    unknown = [n for n in names if n not in kit.assignment_names()]
    if unknown:
        raise ValueError(f"no assignment {unknown[0]!r} in the kit: one of {', '.join(kit.assignment_names())}")
    course = build_course(root, kit, names)
    print(f"Course built in {course.root}")
    for assignment in names:
        nbgrader_driver.generate_assignment(course, assignment)
        students = write_submissions(course, assignment, kit=kit)
        print(f"\n== {assignment}: {len(students)} sample submissions; released to\n"
              f"   {_shown(course.release(assignment))}")
        for scenario in scenarios_for(assignment, kit):
            if scenario.name in students:
                print(_scenario_line(scenario.name, scenario.description, width))
        with GradingProgress(f"grading {assignment}", enabled=sys.stdout.isatty()) as progress:
            report = grade_course(course.root, assignment, kit, feedback=True, jobs=default_jobs(),
                                  progress=progress)
        print()
        print(results_table(report.results, width))
        for warning in report.warnings:
            print(textwrap.fill(warning, width, initial_indent="   note: ", subsequent_indent="         "))
        for fmt in EXPORT_FORMATS:
            export(course.root, assignment, fmt)
        write_report(course.root, assignment)
    csv = nbgrader_driver.export_csv(course)
    exports = csv.parent
    print(f"\nGradebook:   {_shown(course.gradebook)}")
    print(f"Reports:     {_shown(course.root / 'reports')}/ASSIGNMENT/index.html (open in a browser)")
    print(f"Feedback:    {_shown(course.root / 'feedback')}/STUDENT/ASSIGNMENT/ASSIGNMENT.html")
    print(f"Exports:     {_shown(exports)}/")
    print("             ASSIGNMENT_exercises.csv (a column per exercise),")
    print("             ASSIGNMENT_lms.csv, gradescope/ASSIGNMENT/STUDENT/results.json;")
    print(f"             {csv.name} is nbgrader's (every student x every assignment)")
    print(f"Done in {time.monotonic() - began:.1f} s.")
    return 0
