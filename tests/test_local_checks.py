"""The local checks (self-check cells, ``d2l-grade check``) match the grade on everything they can see.

Banned built-ins are judged by the grader's own rule and tables, helpers outside the answer cells
are reported (the grader never sees them), and so is a notebook file the grader would not pick up.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import importlib.util
import json
import subprocess
import sys

import pytest

from autograder.answer_cells import names_outside_answers
from autograder.course import reference_answer_cells
from autograder.notebook import StudentSource, d2l_meta, load_assignment, submission_from_notebook
from autograder.paths import KitPaths
from autograder.public.banned_rules import BANNED
from autograder.selfcheck import BANNED_CHECK, HELPERS_CHECK, add_local_findings
from autograder.variants import corpus_variants, load_corpus


# the suites' AST bans: autograder.banned.find_banned(source, exercise, TABLE) and the shared recipe's
# check_no_builtin(student, exercise, TABLE, ...), which hands TABLE to find_banned unchanged
BANNING_CALLS = ("find_banned", "check_no_builtin")


def _find_banned_calls(path):
    """(exercise, table name) of every ban call (:data:`BANNING_CALLS`) in a hidden suite; the
    exercise is None where the suite computes it (one helper for relu, sigmoid and tanh)."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in BANNING_CALLS:
            exercise, table = node.args[1], node.args[2]
            assert isinstance(table, ast.Name), (
                f"{path.name}: find_banned for {ast.unparse(exercise)} is given a table written in place; put it in "
                "autograder/public/banned_rules.py (BANNED) so that the local checks apply it too")
            calls.append((exercise.value if isinstance(exercise, ast.Constant) else None, table.id))
    return calls


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the suites' own marks
@pytest.mark.parametrize("assignment", sorted(BANNED))
def test_hidden_suites_ban_exactly_the_public_tables(kit, assignment):
    """Every AST ban of a hidden suite is the very table the local checks use, and no other."""
    path = kit.hidden_suite(assignment)
    spec = importlib.util.spec_from_file_location(f"_d2l_bans_{assignment}", path)  # never in sys.modules
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the suites import their shared_*.py helpers by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    calls = _find_banned_calls(path)
    assert calls, f"{path.name} bans nothing, but BANNED lists {sorted(BANNED[assignment])}"
    covered = set()
    for exercise, table in calls:
        if exercise is None:  # a helper shared by several exercises: all those the index gives this table
            shared = {e for e, t in BANNED[assignment].items() if t is getattr(module, table)}
            assert shared, f"{path.name}: {table} is not a table of BANNED[{assignment!r}]"
            covered |= shared
            continue
        assert getattr(module, table) is BANNED[assignment].get(exercise), (
            f"{path.name}: {exercise} is checked with {table}, not with BANNED[{assignment!r}][{exercise!r}]")
        covered.add(exercise)
    assert covered == set(BANNED[assignment])


def test_every_assignment_with_bans_is_indexed(kit):
    banning = {name for name in kit.assignment_names() if _find_banned_calls(kit.hidden_suite(name))}
    assert banning == set(BANNED)


# ----------------------------------------------------------------------------- no false alarms

def _local_failures(spec, answers: dict[str, str]) -> dict[str, list[str]]:
    """exercise -> the messages of the local text checks that fail, on these answer cells."""
    outside = names_outside_answers(answers, [src for _, src in spec.setup_cells])
    source = StudentSource.join([(e, answers[e]) for e in spec.exercises if e in answers])
    results = {e: {"tests": []} for e in spec.exercises}
    add_local_findings(results, spec.name, source, {e: [f"uses {', '.join(n)}"] for e, n in outside.items()},
                       set(answers))
    return {e: [t["message"] for t in r["tests"] if not t["passed"]] for e, r in results.items()
            if any(not t["passed"] for t in r["tests"])}


def test_local_findings_are_named_checks():
    results = {"relu": {"tests": [{"name": "TestRelu::test_known_values", "passed": True}]},
               "tanh": {"tests": []}}
    add_local_findings(results, "mlp", "def relu(X):\n    return torch.relu(X)\n", {"relu": ["x"]}, {"relu"})
    names = [t["name"] for t in results["relu"]["tests"]]
    assert names == [HELPERS_CHECK, "TestRelu::test_known_values", BANNED_CHECK]
    assert results["relu"]["tests"][-1]["message"].startswith("relu uses torch.relu (line 2)")
    assert [t["name"] for t in results["tanh"]["tests"]] == [BANNED_CHECK]  # its cell was not analysed


@pytest.mark.parametrize("assignment", KitPaths().assignment_names())
def test_answers_with_full_marks_pass_the_local_checks(kit, assignment):
    """The reference and every correct-but-unusual corpus answer (tests/corpus, full marks in grading)
    use no banned name and nothing from outside the answer cells: the local checks never fail them."""
    spec = load_assignment(kit, assignment)
    reference = reference_answer_cells(kit, assignment)
    assert _local_failures(spec, reference) == {}
    for key, (kind, exercise, _name, replaced) in corpus_variants(load_corpus(kit, assignment)).items():
        if kind == "correct":
            assert _local_failures(spec, {**reference, **replaced}) == {}, key


def test_names_outside_answers_follows_python_scoping():
    from autograder.answer_cells import cell_names
    answers = {
        "f": "%time\nimport math\nSCALE = 2\n\ndef f(X, k=3):\n    global cache\n    cache = [g(v) for v in X]\n"
             "    class Box:\n        size = WIDTH\n    return math.pi * SCALE * k + helper(X) + len(cache) + np.sum(X)\n",
        "g": "def g(v):\n    return v + f.__name__.count('x')\n",
        "broken": "def broken(:\n",
    }
    assert names_outside_answers(answers, ["import numpy as np"]) == {"f": ["WIDTH", "helper"]}
    assert cell_names("%%timeit\nx = 1") is None and cell_names("def broken(:") is None
    assert cell_names("def f():\n    global c\n    c = 1\n").bound == {"f", "c"}


def test_check_names_the_cell_that_defines_what_an_answer_uses(kit):
    """Imports and constants count as well as functions; the cell that wins in Run All is named."""
    from autograder.selfcheck import notebook_findings, spec_from_student_notebook
    nb = filled_notebook(kit, "mlp", {"relu": "def relu(X):\n    return np.maximum(X, ZERO)\n"})
    nb["cells"][3:3] = [scratch_cell("ZERO = 0.0"), scratch_cell("import numpy as np", 7),
                        scratch_cell("ZERO = torch.tensor(0.0)\nprint(relu(ZERO))")]
    spec = spec_from_student_notebook(nb, "mlp")
    answers = submission_from_notebook(nb, spec, "you").exercise_cells
    assert notebook_findings(nb, spec, answers) == {"relu": [
        "relu uses ZERO, which is defined outside the answer cells (cell 6 of the notebook, which starts "
        "`ZERO = torch.tensor(0.0)`): grading runs only the answer cells, where ZERO does not exist. Move it "
        "into the answer cell of relu.",
        "relu uses np, which is defined outside the answer cells (cell 5 of the notebook, run as In [7], which "
        "starts `import numpy as np`): grading runs only the answer cells, where np does not exist. Move it "
        "into the answer cell of relu."]}


# ----------------------------------------------------------------------------- the same notebook, three ways

HELPER = "def _clip(X):\n    return torch.where(X > 0, X, torch.zeros_like(X))\n"
RELU_WITH_OUTSIDE_HELPER = "def relu(X):\n    return _clip(X)\n"
SIGMOID_BANNED_BUILTIN = "def sigmoid(X):\n    return torch.sigmoid(X)\n"


def filled_notebook(kit, assignment: str, replaced: dict[str, str] = None) -> dict:
    """The student notebook with every answer cell holding the reference (or ``replaced``)."""
    nb = json.loads(kit.assignment_notebook(assignment).read_text())
    answers = {**reference_answer_cells(kit, assignment), **(replaced or {})}
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            cell["source"] = answers[d2l_meta(cell)["function"]]
    return nb


def scratch_cell(source: str, execution_count=None) -> dict:
    """A code cell the student added (no metadata: grading never runs it)."""
    return {"cell_type": "code", "id": "scratch-" + hashlib.sha1(source.encode()).hexdigest()[:8], "metadata": {},
            "source": source, "outputs": [], "execution_count": execution_count}


@pytest.fixture(scope="module")
def mlp_mistakes(kit):
    """The mlp reference with two mistakes the public tests cannot see: relu calls a helper defined
    in a scratch cell (works in the kernel, missing in grading), sigmoid calls torch.sigmoid."""
    nb = filled_notebook(kit, "mlp", {"relu": RELU_WITH_OUTSIDE_HELPER, "sigmoid": SIGMOID_BANNED_BUILTIN})
    setup = next(i for i, c in enumerate(nb["cells"]) if d2l_meta(c).get("role") == "setup")
    nb["cells"].insert(setup + 1, scratch_cell(HELPER, execution_count=2))
    return nb


def d2l_grade(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def graded_mistakes(kit, mlp_mistakes, sandbox):
    """What grading gives that notebook for relu and sigmoid (the hidden suite, in the sandbox)."""
    from autograder.grading import grade_submissions
    spec = load_assignment(kit, "mlp")
    submission = submission_from_notebook(mlp_mistakes, spec, "s")
    results = grade_submissions(spec, {"s": submission}, kit, sandbox=sandbox,
                                focus={"s": ["relu", "sigmoid", "tanh"]})["s"]
    for entry in results.values():
        for test in entry["tests"]:
            # this test session's pytest rewrites the suite's asserts, adding "\nassert not [...]" to the
            # message; `d2l-grade grade` runs them plain (--assert=plain), without that line
            test["message"] = test["message"].split("\nassert ")[0]
    return results


def test_grading_penalises_what_the_public_tests_cannot_see(graded_mistakes):
    """The premise: a helper outside the answer cells scores 0, a banned built-in loses points."""
    assert graded_mistakes["relu"]["score"] == 0
    assert any("_clip" in t["message"] for t in graded_mistakes["relu"]["tests"])
    sigmoid = graded_mistakes["sigmoid"]
    assert 0 < sigmoid["score"] < sigmoid["max_score"]
    assert graded_mistakes["tanh"]["score"] == graded_mistakes["tanh"]["max_score"]


def test_check_fails_what_grading_penalises(tmp_path, mlp_mistakes, graded_mistakes):
    path = tmp_path / "mlp.ipynb"
    path.write_text(json.dumps(mlp_mistakes))
    proc = d2l_grade("check", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = {line.split(":")[0]: line for line in proc.stdout.splitlines()}
    assert lines["FAIL relu"].endswith(
        "relu uses _clip, which is defined outside the answer cells (cell 4 of the notebook, run as In [2], "
        "which starts `def _clip(X):`): grading runs only the answer cells, where _clip does not exist. "
        "Move it into the answer cell of relu.")
    # the banned built-in: word for word the message the grader's failing test gave
    (graded,) = [t["message"] for t in graded_mistakes["sigmoid"]["tests"]
                 if not t["passed"] and "torch.sigmoid" in t["message"]]
    assert graded.startswith("sigmoid uses torch.sigmoid (line 2 of cell sigmoid): torch.sigmoid is the built-in")
    assert lines["FAIL sigmoid"].endswith(f" - {graded}")
    # public checks alone pass sigmoid: the local check fails it only for the ban, as grading does
    assert lines["FAIL sigmoid"].startswith("FAIL sigmoid: 4/5 checks passed")
    assert lines["PASS tanh"] == "PASS tanh: 5/5 checks passed"
    assert "name '_clip' is not defined" in lines["FAIL mlp_forward"]  # it calls relu, in grading too


def test_check_with_the_helper_moved_into_the_answer_cell_passes(tmp_path, kit):
    nb = filled_notebook(kit, "mlp", {"relu": HELPER + "\n\n" + RELU_WITH_OUTSIDE_HELPER})
    nb["cells"].insert(3, scratch_cell(HELPER))  # an old copy left in a scratch cell does no harm
    (tmp_path / "mlp.ipynb").write_text(json.dumps(nb))
    proc = d2l_grade("check", "mlp.ipynb", "-v", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f"ok   {HELPERS_CHECK}" in proc.stdout and f"ok   {BANNED_CHECK}" in proc.stdout


def test_self_check_cells_fail_what_grading_penalises(mlp_mistakes, graded_mistakes, tmp_path):
    """The same notebook run in a kernel: the self-check cells of relu and sigmoid print the reason
    and end in an error (tanh's passes)."""
    nbclient = pytest.importorskip("nbclient")
    import nbformat
    keep = {"setup", "relu", "sigmoid", "tanh"}
    nb = copy.deepcopy(mlp_mistakes)
    nb["cells"] = [c for c in nb["cells"] if c["cell_type"] == "code"
                   and (d2l_meta(c).get("role") == "setup" or d2l_meta(c).get("function") in keep
                        or not d2l_meta(c))]
    node = nbformat.reads(json.dumps(nb), as_version=4)
    nbclient.NotebookClient(node, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    checks = {d2l_meta(c)["function"]: c for c in node.cells if d2l_meta(c).get("role") == "selfcheck"}

    def report(fn):
        return "".join(o.get("text", "") for o in checks[fn].outputs if o["output_type"] == "stream")

    def errors(fn):
        return [o for o in checks[fn].outputs if o["output_type"] == "error"]

    (relu_error,) = errors("relu")
    assert relu_error["ename"] == "SelfCheckFailed" and relu_error["evalue"] == "relu: 1 of 4 checks failed (see its report)"
    assert relu_error["traceback"] == ["SelfCheckFailed: relu: 1 of 4 checks failed (see its report)"]
    assert ("relu uses _clip, which is defined outside the answer cells (in the cell you ran as In [2]): grading "
            "runs only the answer cells, where _clip does not exist. Move it into the answer cell of relu.") in report("relu")
    (sigmoid_error,) = errors("sigmoid")
    (graded,) = [t["message"] for t in graded_mistakes["sigmoid"]["tests"]
                 if not t["passed"] and "torch.sigmoid" in t["message"]]
    assert f"FAIL {BANNED_CHECK}: {graded}" in report("sigmoid")
    assert errors("tanh") == [] and report("tanh").startswith("PASS tanh")


# ----------------------------------------------------------------------------- the file's name

def test_check_fails_a_notebook_the_grader_would_not_pick_up(tmp_path, kit):
    from autograder import scorer
    from autograder.paths import CoursePaths
    name = "softmax_regression (1).ipynb"
    folder = tmp_path / "submitted" / "s" / "softmax_regression"
    folder.mkdir(parents=True)
    (folder / name).write_text(json.dumps(filled_notebook(kit, "softmax_regression")))
    # grading: nothing of that file is graded
    graded = scorer.load_submission(CoursePaths(tmp_path), load_assignment(kit, "softmax_regression"), "s")
    assert graded.exercise_cells == {}
    assert graded.problems == [f"your submission has no softmax_regression.ipynb (it holds: {name}); "
                               "nothing was graded"]
    # the local check says so, how to fix it, and exits non-zero although every exercise passes
    proc = d2l_grade("check", name, cwd=folder)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first, *rest = proc.stdout.strip().splitlines()
    assert first == (f"FAIL {name}: the grader only picks up a notebook named softmax_regression.ipynb; "
                     f"submitted as {name!r} it is not graded (0 points). Rename it to softmax_regression.ipynb "
                     "before you submit (in Jupyter: File > Rename; in a terminal: "
                     "mv 'softmax_regression (1).ipynb' softmax_regression.ipynb)")
    assert len(rest) == 7 and all(line.startswith("PASS") for line in rest)


KERNEL_SCRIPT = '''
import sys
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
for cell in sys.argv[1:]:
    ip.run_cell(cell, store_history=True)
'''


def test_self_check_finds_a_decorated_answer_and_a_constant_outside(tmp_path):
    """In IPython: a decorated answer (functools.wraps) is analysed, and a constant it reads from
    another cell is reported with the In [n] that set it."""
    cells = ["import torch\nfrom autograder.selfcheck import self_check",
             "LR_SCALE = 1.0",
             "@torch.no_grad()\ndef sgd(params, lr, batch_size):\n    for p in params:\n"
             "        if p.grad is not None:\n            p -= LR_SCALE * lr * p.grad / batch_size\n"
             "            p.grad.zero_()",
             "self_check('sgd', globals(), 'softmax_regression')"]
    proc = subprocess.run([sys.executable, "-c", KERNEL_SCRIPT, *cells], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert ("FAIL sgd: 3/4 checks passed - sgd uses LR_SCALE, which is defined outside the answer cells (in the "
            "cell you ran as In [2])") in proc.stdout, proc.stdout + proc.stderr
    assert "SelfCheckFailed: sgd: 1 of 4 checks failed (see its report)" in proc.stdout + proc.stderr
