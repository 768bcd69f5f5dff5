"""Student self-checks: the public tests, from a notebook cell or ``d2l-grade check NOTEBOOK``.

Public tests compare with stored values and properties only; they ship with the package, the
hidden suites never do.  Next to them the local checks apply what grading applies to the text of
the answer cells, so that they fail wherever the grade would lose points for something they can
see (docs/local-checks.md):

* banned built-ins, with the grader's own rule (:func:`autograder.banned.find_banned`) and tables
  (:mod:`autograder.public.banned_rules`);
* names an answer cell uses that only a cell the grader never runs defines (a helper in a scratch
  cell), :mod:`autograder.answer_cells`;
* for ``d2l-grade check``, a file name the grader would not pick up (only ``<assignment>.ipynb``).

A self-check cell raises :class:`SelfCheckFailed` after its report when a check fails, so that
Jupyter, nbgrader's Validate button and ``nbgrader validate`` show the exercise as failing.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import shlex
from functools import lru_cache
from pathlib import Path

from autograder.answer_cells import cell_names, names_outside_answers
from autograder.banned import find_banned
from autograder.notebook import (AssignmentSpec, NotebookError, StudentSource, d2l_meta, cell_source, grade_id,
                                 read_notebook, submission_from_notebook)
from autograder.paths import KitPaths
from autograder.plugin import GradingPlugin
from autograder.public.banned_rules import banned_table

PASS, FAIL = "PASS", "FAIL"
_MAX_NAME_CHARS = 100
CHECK_NOTE = ("note: `d2l-grade check` runs your code under resource limits only, not in the grader's "
              "sandbox; grading always runs in the sandbox.")
HELPERS_CHECK = "helpers inside the answer cells"
BANNED_CHECK = "no banned built-ins (the grader's rule)"


class SelfCheckFailed(AssertionError):
    """A self-check cell's checks failed; raised after the report so that the cell shows as failed
    (an error output, as a failing ``assert`` in a stock nbgrader test cell gives)."""

    def _render_traceback_(self):
        # IPython shows these lines in place of a traceback through the kit's code
        return [f"{type(self).__name__}: {self}"]


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


def _entry(name: str, problems: list[str]) -> dict:
    return {"name": name, "passed": not problems, "points": 0.0, "max_points": 0.0,
            "message": "\n".join(problems)}


def add_local_findings(results: dict, assignment: str, source: str, outside: dict[str, list[str]],
                       analysed: set[str]) -> dict:
    """Add to each exercise of ``results`` what grading judges from the text of the answer cells:
    helpers that live outside them (``outside``: exercise -> messages; a check only for the
    exercises in ``analysed``, those whose answer cell was found) and banned built-ins, found in
    ``source`` (the answer cells joined, as grading joins them) by the grader's own rule."""
    for exercise, entry in results.items():
        if exercise in analysed:
            entry["tests"].insert(0, _entry(HELPERS_CHECK, outside.get(exercise, [])))
        table = banned_table(assignment, exercise)
        if table:
            entry["tests"].append(_entry(BANNED_CHECK, find_banned(source, exercise, table)))
    return results


def _outside_message(exercise: str, name: str, where: str) -> str:
    return (f"{exercise} uses {name}, which is defined outside the answer cells ({where}): grading runs "
            f"only the answer cells, where {name} does not exist. Move it into the answer cell of {exercise}.")


# ----------------------------------------------------------------------------- in the kernel

def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _code_of(value, module_name):
    """The code object of a function or class defined in the notebook itself (not imported)."""
    try:
        value = inspect.unwrap(value)  # a decorated function (functools.wraps): the student's own code
    except ValueError:
        return None
    if getattr(value, "__module__", None) != module_name:
        return None
    if inspect.isfunction(value):
        return value.__code__
    if inspect.isclass(value):
        for attr in vars(value).values():
            attr = getattr(attr, "fget", None) or getattr(attr, "__func__", attr)
            if inspect.isfunction(attr):
                return attr.__code__
    return None


class _KernelCells:
    """The cells the kernel ran, as far as it remembers them: each function's cell (its code's file
    name, whose text IPython keeps in :mod:`linecache`) and the input history (``In``)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.module = namespace.get("__name__", "__main__")
        ip = _ipython()
        self.numbers = dict(getattr(getattr(ip, "compile", None), "_filename_map", None) or {})
        history = namespace.get("In")
        self.history = [h if isinstance(h, str) else "" for h in history] if isinstance(history, list) else []
        self.hidden = set(getattr(ip, "user_ns_hidden", None) or ())

    def _defining_input(self, name: str) -> int | None:
        """The number of the last input that binds ``name`` at the top level."""
        for number in range(len(self.history) - 1, 0, -1):
            names = cell_names(self.history[number]) if name in self.history[number] else None
            if names and name in names.bound:
                return number
        return None

    def cell_of(self, name: str) -> tuple[str, int | None] | None:
        """(text, input number) of the cell that defined ``name`` as the kernel has it now."""
        code = _code_of(self.namespace.get(name), self.module)
        if code is not None:
            text = "".join(linecache.getlines(code.co_filename))
            if text and (code.co_filename in self.numbers or not self.numbers):
                return text, self.numbers.get(code.co_filename)
        number = self._defining_input(name)
        return (self.history[number], number) if number is not None else None

    def where(self, name: str) -> str | None:
        """Where a name the answer cells lack was defined, or None when it is no helper of the
        student's: an import (a module, or a function or class of another module), IPython's own."""
        if name not in self.namespace or name in self.hidden:
            return None
        value = self.namespace[name]
        if inspect.ismodule(value):
            return None
        if (inspect.isclass(value) or inspect.isroutine(value)) and getattr(value, "__module__", None) != self.module:
            return None
        code = _code_of(value, self.module)
        number = self.numbers.get(code.co_filename) if code is not None else None
        number = number if number is not None else self._defining_input(name)
        return f"in the cell you ran as In [{number}]" if number is not None else "in a cell that is not an answer cell"


def kernel_findings(assignment: str, namespace: dict) -> tuple[str, dict[str, list[str]], set[str]]:
    """(the answer cells joined as grading joins them, exercise -> helpers it uses from outside
    them, the exercises whose cell was found), from the kernel's own memory of its cells."""
    cells = _KernelCells(namespace)
    exercises = [e for e, names in public_index().items() if assignment in names]
    answers, joined, seen = {}, [], set()
    for exercise in exercises:
        found = cells.cell_of(exercise)
        if found is None:
            continue
        answers[exercise] = found[0]
        if found[0] not in seen:
            seen.add(found[0])
            joined.append((exercise, found[0]))
    outside = {}
    for exercise, names in names_outside_answers(answers, []).items():
        messages = [_outside_message(exercise, n, w) for n in names if (w := cells.where(n)) is not None]
        if messages:
            outside[exercise] = messages
    return StudentSource.join(joined), outside, set(answers)


def self_check(function: str, namespace: dict, assignment: str | None = None) -> None:
    """Check one exercise from a notebook cell: ``self_check("softmax", globals())``.

    Runs the public tests in the kernel against the functions defined there, and the grader's checks
    of the answer cells' text (banned built-ins, helpers outside the answer cells), and prints a
    report; then raises :class:`SelfCheckFailed` if a check failed, so that the cell shows as failed.
    Returns nothing otherwise, so the cell shows only the report.
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
    add_local_findings(results, assignment, *kernel_findings(assignment, namespace))
    lines = summary_lines(results, verbose=True)
    for line in lines:
        print(line)
    tests = results[function]["tests"]
    failed = sum(not t["passed"] for t in tests)
    if failed or not tests:
        # one short line: `nbgrader validate` shows it (cut at 83 characters) without the report
        raise SelfCheckFailed(f"{function}: {failed} of {len(tests)} checks failed (see its report)")


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


def _first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def notebook_findings(nb: dict, spec: AssignmentSpec, answers: dict[str, str]) -> dict[str, list[str]]:
    """exercise -> a message for each name its answer cell uses that only a cell grading never runs
    defines (the last such cell in the notebook is named: the one that wins in Run All)."""
    outside = names_outside_answers(answers, [src for _, src in spec.setup_cells])
    if not outside:
        return {}
    graded = set(answers.values()) | {src for _, src in spec.setup_cells}
    definers: dict[str, tuple[int, dict]] = {}
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or cell_source(cell) in graded:
            continue
        names = cell_names(cell_source(cell))
        for name in names.bound if names else ():
            definers[name] = (number, cell)
    found = {}
    for exercise, names in outside.items():
        messages = []
        for name in names:
            if name in definers:
                number, cell = definers[name]
                run = cell.get("execution_count")
                where = (f"cell {number} of the notebook{f', run as In [{run}]' if isinstance(run, int) else ''}, "
                         f"which starts `{_first_line(cell_source(cell))}`")
                messages.append(_outside_message(exercise, name, where))
        if messages:
            found[exercise] = messages
    return found


def name_problem(path: Path, assignment: str) -> str | None:
    """Why grading would not pick up the notebook at ``path`` for ``assignment`` (only a file named
    ``<assignment>.ipynb`` is), or None."""
    expected = f"{assignment}.ipynb"
    if path.name == expected:
        return None
    return (f"{FAIL} {path.name}: the grader only picks up a notebook named {expected}; submitted as "
            f"{path.name!r} it is not graded (0 points). Rename it to {expected} before you submit "
            f"(in Jupyter: File > Rename; in a terminal: mv {shlex.quote(path.name)} {expected})")


def check_notebook(path: str | Path, verbose: bool = False) -> tuple[int, list[str]]:
    """``d2l-grade check NOTEBOOK``: run the public tests on a notebook in the sandbox, and the
    grader's checks of the answer cells' text and of the file's name.

    Returns (exit status, report lines): 0 when every check passes, 1 otherwise.
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
    add_local_findings(results, spec.name, submission.source,
                       notebook_findings(nb, spec, submission.exercise_cells), set(submission.exercise_cells))
    lines = summary_lines(results, verbose)
    misnamed = name_problem(path, spec.name)
    if misnamed:
        lines.insert(0, misnamed)
    failed = any(line.startswith(FAIL) for line in lines)
    return (1 if failed else 0), lines
