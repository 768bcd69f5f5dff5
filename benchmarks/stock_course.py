"""A plain nbgrader course for the same assignment, graded the way nbgrader normally grades.

The source notebook is the kit's derived source notebook (same setup cell, same exercise cells
with the reference between ``### BEGIN SOLUTION`` / ``### END SOLUTION``), except that every
self-check grade cell is replaced by a ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``
block.  That block runs the kit's hidden pytest suite, filtered to the cell's exercise, *inside
the notebook kernel* against the kernel's globals (``LocalSession``), and ends with the cell's
score as a float expression, which nbgrader's ``determine_grade`` reads as partial credit.

The configuration is stock nbgrader: the default ``Execute``-based autograde pipeline, with
``c.Execute.timeout`` set.  Nothing of the kit's scorer is involved.
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.course import STUB_LINES, derive_source_notebook
from autograder.notebook import d2l_meta
from autograder.paths import CoursePaths, KitPaths

STOCK_COURSE_ID = "d2l-pytorch-stock"

STOCK_CONFIG = '''\
# A stock nbgrader course (benchmarks/bench_vs_nbgrader.py): nbgrader's default autograde
# pipeline; the notebook kernel runs the student's code and the hidden tests together.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
c.Execute.timeout = {timeout!r}
'''

# The body of each hidden test region.  {kit!r}, {assignment!r}, {function!r}, {exercises!r},
# {points!r} are filled in.  Names start with an underscore so they do not clash with students'.
HIDDEN_TEMPLATE = '''\
### BEGIN HIDDEN TESTS
import re as _re
import sys as _sys
if {kit!r} not in _sys.path:
    _sys.path.insert(0, {kit!r})
from autograder.grading import load_reference as _load_reference, run_suite as _run_suite
from autograder.paths import KitPaths as _KitPaths
from autograder.plugin import GradingPlugin as _GradingPlugin
from autograder.student import LocalSession as _LocalSession, Student as _Student
# The student's source, for the hidden suite's no-shortcut (AST) checks: for each exercise, the
# last executed cell that defines it (the kit grades the answer cells, joined the same way).
_cells = []
for _fn in {exercises!r}:
    _hits = [_c for _c in In if _re.search(r"^\\s*def\\s+" + _fn + r"\\s*\\(", _c, _re.M)]
    if _hits:
        _cells.append(_hits[-1])
_kit = _KitPaths({kit!r})
_plugin = _GradingPlugin({{"student": _Student(_LocalSession(globals()), "\\n\\n".join(_cells))}},
                         reference=_load_reference(_kit, {assignment!r}), exercises=[{function!r}])
_run_suite(_kit.hidden_suite({assignment!r}), _plugin)
_result = _plugin.results()["student"].get({function!r}, {{"score": 0.0, "tests": []}})
for _t in _result["tests"]:
    print(("ok   " if _t["passed"] else "FAIL ") + _t["name"] + ("" if _t["passed"] else ": " + _t["message"]))
min(round(float(_result["score"]), 6), {points!r})
### END HIDDEN TESTS'''


def hidden_cell_source(kit: KitPaths, assignment: str, function: str, exercises: list[str],
                       points: float) -> str:
    """The source of a grade cell that runs the hidden suite for ``function`` in the kernel."""
    return HIDDEN_TEMPLATE.format(kit=str(Path(kit.root).resolve()), assignment=assignment,
                                  function=function, exercises=list(exercises), points=float(points))


def stock_source_notebook(kit: KitPaths, assignment: str, drop_roles=()) -> dict:
    """The kit's derived source notebook with every self-check replaced by hidden tests (and the
    cells whose d2l role is in ``drop_roles``, e.g. ``"train"``, left out)."""
    nb = derive_source_notebook(kit, assignment)
    nb["cells"] = [c for c in nb["cells"] if d2l_meta(c).get("role") not in drop_roles]
    exercises = [d2l_meta(c)["function"] for c in nb["cells"] if d2l_meta(c).get("role") == "exercise"]
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("role") == "selfcheck":
            points = cell["metadata"]["nbgrader"]["points"]
            cell["source"] = hidden_cell_source(kit, assignment, meta["function"], exercises, points)
    return nb


def build_stock_course(dest: Path, kit: KitPaths, assignment: str, timeout: int = 120,
                       drop_roles=()) -> CoursePaths:
    """Write ``nbgrader_config.py`` and ``source/<assignment>/<assignment>.ipynb`` under ``dest``."""
    course = CoursePaths(dest)
    course.root.mkdir(parents=True, exist_ok=True)
    course.config_file.write_text(STOCK_CONFIG.format(course_id=STOCK_COURSE_ID, root=str(course.root),
                                                      code_stub="\n".join(STUB_LINES), timeout=timeout))
    src = course.source(assignment)
    src.mkdir(parents=True, exist_ok=True)
    nb = stock_source_notebook(kit, assignment, drop_roles)
    (src / f"{assignment}.ipynb").write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    return course
