"""``d2l-grade demo``: the whole flow on sample submissions, in a fresh course directory.

Builds the course, releases every assignment, writes submissions for the scenarios of
``solutions/scenarios/`` (the reference, the stubs, typical bugs, attacks; see
:mod:`autograder.demo_scenarios`), grades them in the sandbox into nbgrader's gradebook, writes
feedback and the CSV export, and prints the table.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

from autograder import nbgrader_driver
from autograder.course import build_course, reference_answer_cells
from autograder.course_grading import default_jobs, grade_course, results_table
from autograder.demo_scenarios import scenarios_for
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


def run_demo(directory: str | None = None) -> int:
    """Run the demo; print the results table and where everything is.  Returns the exit status."""
    began = time.monotonic()
    kit = KitPaths()
    root = Path(directory) if directory else fresh_directory(Path.cwd() / "d2l-demo-course")
    course = build_course(root, kit)
    print(f"Course built in {course.root}")
    for assignment in kit.assignment_names():
        nbgrader_driver.generate_assignment(course, assignment)
        students = write_submissions(course, assignment, kit=kit)
        print(f"\n== {assignment}: released to {course.release(assignment)}; "
              f"{len(students)} sample submissions")
        for scenario in scenarios_for(assignment, kit):
            if scenario.name in students:
                print(f"   {scenario.name:28s} {scenario.description}")
        with GradingProgress(f"grading {assignment}", enabled=sys.stdout.isatty()) as progress:
            report = grade_course(course.root, assignment, kit, feedback=True, jobs=default_jobs(),
                                  progress=progress)
        print()
        print(results_table(report.results))
        for warning in report.warnings:
            print(f"   note: {warning}")
    csv = nbgrader_driver.export_csv(course)
    print(f"\nGradebook:  {course.gradebook}")
    print(f"Feedback:   {course.root / 'feedback'}/<student>/<assignment>/*.html")
    print(f"Grades CSV: {csv}")
    print(f"Done in {time.monotonic() - began:.1f} s.")
    return 0
