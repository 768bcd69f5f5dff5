"""Student self-checks: the public tests, from a notebook cell or ``d2l-grade check NOTEBOOK``.

Public tests compare with stored values and properties only; they ship with the package, the
hidden suites never do.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from autograder.notebook import (AssignmentSpec, NotebookError, d2l_meta, cell_source, grade_id,
                                 read_notebook, submission_from_notebook)
from autograder.paths import KitPaths
from autograder.plugin import GradingPlugin

PASS, FAIL = "PASS", "FAIL"
_MAX_NAME_CHARS = 100
CHECK_NOTE = ("note: `d2l-grade check` runs your code under resource limits only, not in the grader's "
              "sandbox; grading always runs in the sandbox.")


@lru_cache(maxsize=1)
def public_index() -> dict[str, list[str]]:
    """exercise name -> assignments whose public suite checks it (read with ast, not imported)."""
    index: dict[str, list[str]] = {}
    for path in sorted(KitPaths().public_tests.glob("test_*.py")):
        assignment = path.stem[len("test_"):]
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "exercise"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names = index.setdefault(node.args[0].value, [])
                if assignment not in names:
                    names.append(assignment)
    return index


def _guess_assignment(exercises: list[str]) -> str | None:
    votes: dict[str, int] = {}
    for exercise in exercises:
        for assignment in public_index().get(exercise, []):
            votes[assignment] = votes.get(assignment, 0) + 1
    return max(votes, key=votes.get) if votes else None


def run_public(assignment: str, student, exercises: list[str] | None = None) -> dict:
    """Run the public suite of ``assignment`` against one :class:`Student`; per-exercise results."""
    from autograder.grading import run_suite
    plugin = GradingPlugin({"you": student}, exercises=exercises)
    run_suite(KitPaths().public_suite(assignment), plugin)
    results = plugin.results()["you"]
    if exercises:
        results = {k: v for k, v in results.items() if k in exercises}
    return results


def summary_lines(results: dict, verbose: bool = False) -> list[str]:
    """One line per exercise (PASS/FAIL, checks passed, first message); more with ``verbose``."""
    lines = []
    for exercise, entry in results.items():
        tests = entry["tests"]
        passed = sum(t["passed"] for t in tests)
        failed = [t for t in tests if not t["passed"]]
        status = PASS if not failed and tests else FAIL
        line = f"{status} {exercise}: {passed}/{len(tests)} checks passed"
        if failed:
            line += f" - {failed[0]['message']}"
        lines.append(line)
        if verbose:
            lines += [f"    {'ok  ' if t['passed'] else 'FAIL'} {t['name']}"
                      + ("" if t["passed"] else f": {t['message']}") for t in tests]
    return lines


def self_check(function: str, namespace: dict, assignment: str | None = None) -> None:
    """Check one exercise from a notebook cell: ``self_check("softmax", globals())``.

    Runs the public tests in the kernel against the functions defined there and prints a report.
    Returns nothing, so the cell shows only the report.
    """
    from autograder.student import LocalSession, Student
    assignment = assignment or _guess_assignment([function] + [k for k in namespace if k in public_index()])
    if assignment is None:
        print(f"No public checks are known for {function}.")
        return
    results = run_public(assignment, Student(LocalSession(namespace)), exercises=[function])
    if function not in results:
        print(f"No public checks are known for {function} in {assignment}.")
        return
    for line in summary_lines(results, verbose=True):
        print(line)


def _plain_name(value) -> str | None:
    """``value`` when it is a short identifier (an exercise or assignment name), else None: names
    come from the student's metadata and end up in messages and paths."""
    if isinstance(value, str) and len(value) <= _MAX_NAME_CHARS and value.isidentifier():
        return value
    return None


def spec_from_student_notebook(nb: dict, fallback_name: str) -> AssignmentSpec:
    """The assignment structure as the student's own copy of the notebook describes it."""
    exercises, setup, seen = [], [], set()
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = d2l_meta(cell)
        function = _plain_name(meta.get("function"))
        if meta.get("role") == "exercise" and function and function not in seen:
            seen.add(function)
            exercises.append(function)
        elif meta.get("role") == "setup":
            setup.append((grade_id(cell) or "setup", cell_source(cell)))
    nb_meta = nb.get("metadata", {}).get("d2l", {}) if isinstance(nb.get("metadata"), dict) else {}
    name = _plain_name(nb_meta.get("assignment")) if isinstance(nb_meta, dict) else None
    name = name or _guess_assignment(exercises) or fallback_name
    return AssignmentSpec(name=name, notebook=nb, exercises=exercises, setup_cells=setup)


def check_notebook(path: str | Path, verbose: bool = False) -> tuple[int, list[str]]:
    """``d2l-grade check NOTEBOOK``: run the public tests on a notebook in the sandbox.

    Returns (exit status, report lines): 0 when every public check passes, 1 otherwise.
    """
    from autograder.sandbox import Sandbox
    from autograder.student import SandboxSession, Student
    path = Path(path)
    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        return 1, [f"FAIL {path.name}: {exc}"]
    spec = spec_from_student_notebook(nb, path.stem)
    if not KitPaths().public_suite(spec.name).exists():
        return 1, [f"FAIL {path.name}: no public checks for an assignment named {spec.name!r}"]
    submission = submission_from_notebook(nb, spec, "you")
    with Sandbox(fork_from_self=True) as sandbox:
        student = Student(SandboxSession(sandbox, submission.cells, submission.problems, call_timeout=10,
                                         budget=60), submission.source)
        results = run_public(spec.name, student)
    lines = summary_lines(results, verbose)
    failed = any(line.startswith(FAIL) for line in lines)
    return (1 if failed else 0), lines
