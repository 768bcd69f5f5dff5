"""Building an nbgrader course from the kit.

nbgrader wants a *source* notebook whose answer cells hold the solution between
``### BEGIN SOLUTION`` / ``### END SOLUTION``.  The kit never keeps such a notebook: it is derived
here from the student notebook (``assignments/<name>.ipynb``, stubs) and the reference module
(``solutions/<name>.py``, the single source of truth).  For every exercise cell, the stub lines

    # YOUR CODE HERE
    raise NotImplementedError()

are replaced by ``### BEGIN SOLUTION``, the reference function's body (without its docstring,
at the stub's indentation) and ``### END SOLUTION``.  An exercise may also be a class (an
``nn.Module``, say): then each of its methods that holds the stub lines gets the body of the
reference class's method of the same name.  nbgrader's ``ClearSolutions`` writes the very same
two stub lines back, so ``generate_assignment`` releases exactly the kit's student notebook.
Each self-check cell gets its points from the hidden suite.

The course's ``nbgrader_config.py`` replaces nbgrader's ``Execute`` by the kit's sandboxed scorer
(DESIGN §7): nbgrader never runs student code, it only records what the scorer decided.  The
instructor's own settings live in ``course_config.py`` next to it, which a build never overwrites
(:mod:`autograder.course_files`).
"""

from __future__ import annotations

import ast
import copy
import json
import shutil
from pathlib import Path
from typing import Callable

from autograder import course_files
from autograder.notebook import cell_source, d2l_meta, load_assignment
from autograder.paths import CoursePaths, KitPaths

STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
DEFAULT_COURSE_ID = "d2l-pytorch"


class CourseBuildError(RuntimeError):
    """The kit's assignment, reference solutions or hidden suite do not fit together."""


# --------------------------------------------------------------------------------------------
# nbgrader_config.py
# --------------------------------------------------------------------------------------------

def config_text(course_root: Path, kit: KitPaths, course_id: str = DEFAULT_COURSE_ID) -> str:
    """The text of a course's ``nbgrader_config.py`` (:mod:`autograder.course_files`)."""
    return course_files.wiring_text(course_root, kit, course_id, "\n".join(STUB_LINES))


# --------------------------------------------------------------------------------------------
# Deriving the source notebook
# --------------------------------------------------------------------------------------------

_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)


def _reference_functions(path: Path) -> tuple[list[str], dict[str, ast.FunctionDef | ast.ClassDef]]:
    """The reference module's lines and its top-level functions and classes, by name."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CourseBuildError(f"cannot read the reference solutions {path}: {exc.strerror}") from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise CourseBuildError(f"the reference solutions {path} do not parse: {exc}") from None
    functions = {node.name: node for node in tree.body
                 if isinstance(node, (*_FUNCTION_NODES, ast.ClassDef))}
    return text.splitlines(), functions


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _stmt_start(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def reference_body(lines: list[str], func: ast.FunctionDef, where: str, indent: str = "") -> list[str]:
    """The lines of ``func``'s body after its docstring (comments included), at ``indent``.

    Lines inside a multi-line string that sit left of the body's indentation are kept as they
    are, so string contents never change.
    """
    body = list(func.body)
    if body and _is_docstring(body[0]):
        start = body[0].end_lineno + 1          # 1-based line after the docstring
        body = body[1:]
    else:
        start = _stmt_start(body[0])
        # keep comment lines that sit right above the first statement, inside the def
        while start - 1 > func.lineno and lines[start - 2].strip().startswith("#"):
            start -= 1
    if not body:
        raise CourseBuildError(f"{where}: the reference function {func.name} has no body "
                               "besides its docstring")
    segment = lines[start - 1:func.end_lineno]
    while segment and not segment[0].strip():
        segment.pop(0)
    while segment and not segment[-1].strip():
        segment.pop()
    old = lines[body[0].lineno - 1][:body[0].col_offset]
    if old.strip():
        raise CourseBuildError(f"{where}: cannot read the body of {func.name} (a statement shares "
                               "the line of the def)")
    out = []
    for line in segment:
        if not line.strip():
            out.append("")
        elif line.startswith(old):
            out.append(indent + line[len(old):])
        else:
            out.append(line)  # the contents of a multi-line string
    return out


def _stub_function(source: str, function: str, where: str) -> ast.FunctionDef | ast.ClassDef:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise CourseBuildError(f"{where}: the exercise cell for {function} does not parse: {exc}") from None
    for node in tree.body:
        if isinstance(node, (*_FUNCTION_NODES, ast.ClassDef)) and node.name == function:
            return node
    raise CourseBuildError(f"{where}: the exercise cell for {function} does not define {function}()")


def _stub_hits(lines: list[str]) -> list[int]:
    """0-based indices of the first of the two stub lines (both at the same indentation)."""
    return [i for i in range(len(lines) - 1)
            if lines[i].strip() == STUB_LINES[0] and lines[i + 1].strip() == STUB_LINES[1]
            and lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            == lines[i + 1][:len(lines[i + 1]) - len(lines[i + 1].lstrip())]]


def _stub_count_error(where: str, function: str, hits: list[int], expected: str) -> CourseBuildError:
    found = "missing" if not hits else f"present {len(hits)} times"
    return CourseBuildError(f"{where}: the stub lines {STUB_LINES[0]!r} / {STUB_LINES[1]!r} of the "
                            f"exercise cell for {function} are {found} ({expected})")


def _method_regions(stub_cls: ast.ClassDef, ref_cls: ast.ClassDef, hits: list[int],
                    where: str) -> list[tuple[int, ast.FunctionDef]]:
    """(stub line index, reference method) for each method of the stub class that holds the stub
    lines.  Methods are matched by name; any mismatch between the two classes is an error."""
    name = stub_cls.name
    if [ast.dump(n) for n in stub_cls.bases + stub_cls.keywords] != \
            [ast.dump(n) for n in ref_cls.bases + ref_cls.keywords]:
        raise CourseBuildError(f"{where}: the stub of class {name} and the reference class have "
                               "different base classes")
    ref_methods = {n.name: n for n in ref_cls.body if isinstance(n, _FUNCTION_NODES)}
    stub_methods = [n for n in stub_cls.body if isinstance(n, _FUNCTION_NODES)]
    lacking = [m for m in ref_methods if m not in {n.name for n in stub_methods}]
    if lacking:
        raise CourseBuildError(f"{where}: the exercise cell's class {name} lacks the reference "
                               f"method(s) {', '.join(lacking)}")
    regions = []
    for method in stub_methods:
        inside = [i for i in hits if method.lineno <= i + 1 <= method.end_lineno]
        if not inside:
            continue  # a method given to the student: kept as it is
        if len(inside) > 1:
            raise _stub_count_error(where, f"{name}.{method.name}", inside, "exactly once expected")
        ref = ref_methods.get(method.name)
        if ref is None:
            raise CourseBuildError(f"{where}: method {name}.{method.name} of the exercise cell has no "
                                   f"reference method of that name in class {name}")
        if ast.dump(method.args) != ast.dump(ref.args):
            raise CourseBuildError(f"{where}: the stub of {name}.{method.name} and the reference "
                                   "method take different arguments")
        regions.append((inside[0], ref))
    if not regions:
        raise _stub_count_error(where, name, [], "expected once in each method to write")
    stray = sorted(set(hits) - {i for i, _ in regions})
    if stray:
        raise CourseBuildError(f"{where}: the stub lines at line {stray[0] + 1} of the exercise cell "
                               f"for {name} are outside the methods of class {name}")
    return regions


def solution_cell_source(stub_source: str, function: str, ref_lines: list[str],
                         ref_func: ast.FunctionDef | ast.ClassDef | None, where: str) -> str:
    """The source of an exercise cell with the stub replaced by the reference body (for a class:
    each stubbed method's stub replaced by the body of the reference method of the same name)."""
    if ref_func is None:
        raise CourseBuildError(f"{where}: exercise {function} has no reference function "
                               f"{function}() in the solutions module")
    stub_def = _stub_function(stub_source, function, where)
    if isinstance(stub_def, ast.ClassDef) != isinstance(ref_func, ast.ClassDef):
        kinds = ("a class", "a function") if isinstance(stub_def, ast.ClassDef) else ("a function", "a class")
        raise CourseBuildError(f"{where}: {function} is {kinds[0]} in the exercise cell but "
                               f"{kinds[1]} in the solutions module")
    lines = stub_source.split("\n")
    hits = _stub_hits(lines)
    if isinstance(ref_func, ast.ClassDef):
        regions = _method_regions(stub_def, ref_func, hits, where)
    else:
        if ast.dump(stub_def.args) != ast.dump(ref_func.args):
            raise CourseBuildError(f"{where}: the stub of {function} and the reference function take "
                                   "different arguments")
        if len(hits) != 1:
            raise _stub_count_error(where, function, hits, "exactly once expected")
        regions = [(hits[0], ref_func)]
    for i, ref in sorted(regions, key=lambda region: region[0], reverse=True):  # bottom up
        indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        lines[i:i + 2] = [indent + BEGIN_SOLUTION, *reference_body(ref_lines, ref, where, indent),
                          indent + END_SOLUTION]
    return "\n".join(lines)


def _as_source_list(text: str) -> list[str]:
    # nbformat's on-disk convention: a list of lines, each but the last ending in "\n"
    return text.splitlines(keepends=True)


def _default_points(spec, kit) -> dict[str, float]:
    from autograder.grading import exercise_points
    return exercise_points(spec, kit)


def derive_source_notebook(kit: KitPaths, name: str,
                           points: Callable | None = None) -> dict:
    """The nbgrader source notebook of assignment ``name`` (a plain dict, nbformat 4)."""
    spec = load_assignment(kit, name)
    where = f"assignment {name}"
    ref_lines, ref_funcs = _reference_functions(kit.solution_module(name))
    missing = [f for f in spec.exercises if f not in ref_funcs]
    if missing:
        raise CourseBuildError(f"{where}: no reference function in {kit.solution_module(name)} "
                               f"for exercise(s) {', '.join(missing)}")
    exercise_points = (points or _default_points)(spec, kit)
    nb = copy.deepcopy(spec.notebook)
    seen_exercises, seen_checks = [], []
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        role = meta.get("role")
        if cell.get("cell_type") != "code" or role not in ("exercise", "selfcheck"):
            continue
        function = meta.get("function")
        if role == "exercise":
            seen_exercises.append(function)
            new = solution_cell_source(cell_source(cell), function, ref_lines,
                                       ref_funcs.get(function), where)
            cell["source"] = _as_source_list(new)
        else:
            seen_checks.append(function)
            if function not in exercise_points:
                raise CourseBuildError(f"{where}: the hidden suite has no test (no points) for "
                                       f"exercise {function}")
            pts = float(exercise_points[function])
            if pts <= 0:
                raise CourseBuildError(f"{where}: exercise {function} is worth {pts} points in the "
                                       "hidden suite (must be > 0)")
            nbg = cell.setdefault("metadata", {}).get("nbgrader")
            if not isinstance(nbg, dict) or not nbg.get("grade"):
                raise CourseBuildError(f"{where}: the self-check cell of {function} is not an "
                                       "nbgrader grade cell")
            nbg["points"] = int(pts) if pts == int(pts) else pts
    without_check = sorted(set(seen_exercises) - set(seen_checks))
    if without_check:
        raise CourseBuildError(f"{where}: exercise(s) {', '.join(without_check)} have no self-check "
                               "(grade) cell")
    return nb


def _dumps(nb: dict) -> str:
    # the same layout as nbformat.write, without nbformat's id repair (builds stay deterministic)
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# The course
# --------------------------------------------------------------------------------------------

def build_course(dest, kit: KitPaths | None = None, assignments=None, *,
                 course_id: str = DEFAULT_COURSE_ID, points: Callable | None = None,
                 force: bool = False) -> CoursePaths:
    """Create (or refresh) the nbgrader course at ``dest``: config and derived source notebooks.

    ``assignments`` defaults to every assignment of the kit.  ``points(spec, kit)`` gives the
    points per exercise (default: the hidden suite's markers).  Everything written is derived:
    ``nbgrader_config.py`` is rewritten and ``source/<assignment>/`` replaced; ``course_config.py``
    (the instructor's settings) is written only when missing; the gradebook and students' folders
    are left alone.  Raises ``CourseBuildError`` when an exercise has no reference function, stub
    lines or points, and :class:`~autograder.course_files.ConfigEditedError` (nothing written) when
    ``nbgrader_config.py`` was edited by hand, unless ``force``.
    """
    kit = kit or KitPaths()
    course = CoursePaths(dest)
    names = list(assignments) if assignments is not None else kit.assignment_names()
    if not names:
        raise CourseBuildError(f"no assignments in {kit.assignments}")
    derived = {name: _dumps(derive_source_notebook(kit, name, points)) for name in names}
    course_files.write_config_files(course, config_text(course.root, kit, course_id), force=force)
    for name, text in derived.items():
        src = course.source(name)
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        (src / f"{name}.ipynb").write_text(text)
    return course


# --------------------------------------------------------------------------------------------
# generate_assignment
# --------------------------------------------------------------------------------------------

def release_assignment(course: CoursePaths, name: str) -> Path:
    """Run nbgrader's ``generate_assignment`` in-process; return the release notebook's path.

    Raises ``RuntimeError`` with nbgrader's log when it fails.
    """
    from autograder.nbgrader_driver import generate_assignment
    return generate_assignment(course, name)


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def reference_answer_cells(kit: KitPaths, name: str) -> dict[str, str]:
    """Exercise -> its answer cell filled with the reference (as a student would write it):
    the derived source cell without nbgrader's solution markers."""
    nb = derive_source_notebook(kit, name, points=lambda spec, _kit: {e: 1.0 for e in spec.exercises})
    cells = {}
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if meta.get("role") == "exercise":
            lines = cell_source(cell).splitlines(True)
            cells[meta["function"]] = "".join(ln for ln in lines if ln.strip() not in SOLUTION_MARKERS)
    return cells
