"""The nbgrader course derived from assignments/ + solutions/ (autograder.course)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder import course as C  # noqa: E402
from autograder.notebook import cell_source, d2l_meta, load_assignment  # noqa: E402
from autograder.paths import KitPaths  # noqa: E402

KIT = KitPaths()
NAMES = KIT.assignment_names()


def fake_points(spec, kit):
    return {e: i + 1 for i, e in enumerate(spec.exercises)}


def reference_code_lines(kit: KitPaths, name: str, function: str) -> list[str]:
    """The reference body's code lines (no comments, no blank lines), stripped; for a class, the
    bodies of its methods one after the other."""
    text = kit.solution_module(name).read_text()
    node = next(n for n in ast.parse(text).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == function)
    funcs = [m for m in node.body if isinstance(m, ast.FunctionDef)] if isinstance(node, ast.ClassDef) else [node]
    body = [line for func in funcs for line in C.reference_body(text.splitlines(), func, name)]
    return [line.strip() for line in body if line.strip() and not line.strip().startswith("#")]


def copy_kit(tmp_path: Path) -> KitPaths:
    root = tmp_path / "kit"
    for sub in ("assignments", "solutions", "grader_tests"):
        shutil.copytree(KIT.root / sub, root / sub)
    return KitPaths(root)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def exercise_cells(nb: dict) -> dict[str, str]:
    return {d2l_meta(c)["function"]: cell_source(c) for c in nb["cells"]
            if d2l_meta(c).get("role") == "exercise"}


# --- deriving the source notebook --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_source_has_each_reference_body_between_solution_markers(name):
    nb = C.derive_source_notebook(KIT, name, points=fake_points)
    spec = load_assignment(KIT, name)
    stubs = exercise_cells(json.loads(KIT.assignment_notebook(name).read_text()))
    cells = exercise_cells(nb)
    assert list(cells) == spec.exercises
    for function, src in cells.items():
        lines = src.split("\n")
        begins = [i for i, line in enumerate(lines) if line.strip() == C.BEGIN_SOLUTION]
        ends = [i for i, line in enumerate(lines) if line.strip() == C.END_SOLUTION]
        # one region for a function; one per stubbed method of a class, at the body's indentation
        assert len(begins) == len(ends) == stubs[function].count("raise NotImplementedError()") >= 1, function
        indent = " " * (4 if src.startswith("def") else 8)
        assert all(lines[i].startswith(indent) and not lines[i].startswith(indent + " ") for i in begins), function
        inside = [line for b, e in zip(begins, ends) for line in lines[b + 1:e]]
        assert [l.strip() for l in inside if l.strip() and not l.strip().startswith("#")] == \
            reference_code_lines(KIT, name, function)
        assert "NotImplementedError" not in src and "YOUR CODE HERE" not in src
        ast.parse(src)  # still a valid cell
        # the docstrings are the stub's, not repeated from the reference
        assert src.count('"""') == stubs[function].count('"""')


@pytest.mark.parametrize("name", NAMES)
def test_selfcheck_points_come_from_the_points_provider(name):
    nb = C.derive_source_notebook(KIT, name, points=fake_points)
    spec = load_assignment(KIT, name)
    want = fake_points(spec, KIT)
    got = {d2l_meta(c)["function"]: c["metadata"]["nbgrader"]["points"] for c in nb["cells"]
           if d2l_meta(c).get("role") == "selfcheck"}
    assert got == want


@pytest.mark.parametrize("name", NAMES)
def test_default_points_are_the_hidden_suites(name):
    if not KIT.hidden_suite(name).is_file():
        pytest.skip(f"no hidden suite {KIT.hidden_suite(name).name} yet")
    from autograder.grading import exercise_points
    spec = load_assignment(KIT, name)
    nb = C.derive_source_notebook(KIT, name)
    got = {d2l_meta(c)["function"]: float(c["metadata"]["nbgrader"]["points"]) for c in nb["cells"]
           if d2l_meta(c).get("role") == "selfcheck"}
    assert got == {k: float(v) for k, v in exercise_points(spec, KIT).items()}


def test_build_is_deterministic(tmp_path):
    a = C.build_course(tmp_path / "a", KIT, points=fake_points)
    first = tree_bytes(a.root)
    C.build_course(tmp_path / "a", KIT, points=fake_points)  # rebuilt in place
    assert tree_bytes(a.root) == first
    b = C.build_course(tmp_path / "b", KIT, points=fake_points)
    sources = lambda t: {k: v for k, v in t.items() if k.startswith("source/")}  # noqa: E731
    assert sources(tree_bytes(b.root)) == sources(first) and sources(first)
    assert set(first) == {"nbgrader_config.py", "course_config.py"} | {f"source/{n}/{n}.ipynb" for n in NAMES}


def test_config_loads_and_puts_the_scorer_in_place_of_execute(tmp_path):
    from autograder.nbgrader_driver import load_config
    course = C.build_course(tmp_path / "c", KIT, points=fake_points, course_id="demo")
    cfg = load_config(course)
    assert cfg.CourseDirectory.root == str(course.root)
    assert cfg.CourseDirectory.course_id == "demo"
    pre = cfg.Autograde.autograde_preprocessors
    assert pre[0] == "autograder.scorer.SandboxScorer"
    assert not any("Execute" in p for p in pre)
    # nbgrader's own SaveAutoGrades, extended to leave withheld (grader-error) exercises ungraded
    assert [p.rsplit(".", 1)[1] for p in pre[1:]] == [
        "ClearMetadataPreprocessor", "LimitOutput", "SaveAutoGradesWithheld",
        "AssignLatePenalties", "CheckCellMetadata"]
    from nbgrader.preprocessors import SaveAutoGrades
    from autograder.scorer import SaveAutoGradesWithheld
    assert issubclass(SaveAutoGradesWithheld, SaveAutoGrades)
    assert cfg.OverwriteCells.add_missing_cells is True
    # feedback clears hidden tests with nbgrader's ClearHiddenTests (the kit's subclass: no warning)
    from nbgrader.preprocessors import ClearHiddenTests
    from autograder.feedback_page import ClearHiddenTests as KitClearHiddenTests
    assert "autograder.feedback_page.ClearHiddenTests" in cfg.GenerateFeedback.preprocessors
    assert issubclass(KitClearHiddenTests, ClearHiddenTests)
    assert cfg.GenerateFeedback.exporter_class == "autograder.feedback_page.FeedbackExporter"
    assert cfg.SandboxScorer.kit_root == str(KIT.root.resolve())


# --- releasing -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    course = C.build_course(tmp_path_factory.mktemp("course"), KIT, points=fake_points)
    return course, {name: C.release_assignment(course, name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_release_equals_the_assignment_stubs(released, name):
    course, notebooks = released
    release = json.loads(notebooks[name].read_text())
    original = json.loads(KIT.assignment_notebook(name).read_text())
    view = lambda nb: [(c["cell_type"], c.get("id"), cell_source(c), d2l_meta(c),  # noqa: E731
                        c["metadata"].get("nbgrader", {}).get("grade_id")) for c in nb["cells"]]
    assert view(release) == view(original)


@pytest.mark.parametrize("name", NAMES)
def test_release_has_no_solution_and_no_hidden_tests(released, name):
    course, notebooks = released
    text = notebooks[name].read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    release = json.loads(text)
    for function, src in exercise_cells(release).items():
        lines = {line.strip() for line in src.split("\n")}
        leaked = [line for line in reference_code_lines(KIT, name, function) if line in lines]
        assert not leaked, f"{function}: reference lines in the release: {leaked}"
    assert sorted(p.name for p in course.release(name).iterdir()) == [f"{name}.ipynb"]


def test_release_assignment_fails_loudly_on_a_broken_source(tmp_path):
    from autograder.nbgrader_driver import NbgraderError
    course = C.build_course(tmp_path / "c", KIT, [NAMES[0]], points=fake_points)
    src = course.source(NAMES[0]) / f"{NAMES[0]}.ipynb"
    nb = json.loads(src.read_text())
    graded = [c for c in nb["cells"] if "nbgrader" in c["metadata"]]
    graded[-1]["metadata"]["nbgrader"] = dict(graded[0]["metadata"]["nbgrader"])  # duplicated id
    src.write_text(json.dumps(nb))
    with pytest.raises(NbgraderError, match="generate_assignment"):
        C.release_assignment(course, NAMES[0])


# --- failing loudly ------------------------------------------------------------------------------

def first_exercises() -> dict[str, tuple[str, str]]:
    """{"def": (assignment, exercise), "class": (...)}: the kit's first exercise of each kind."""
    kinds: dict = {}
    for name in NAMES:
        for function, src in exercise_cells(json.loads(KIT.assignment_notebook(name).read_text())).items():
            kinds.setdefault(src.split()[0], (name, function))
    return kinds


FIRST = first_exercises()


def _edit_exercise(kit: KitPaths, name: str, function: str, edit) -> str:
    path = kit.assignment_notebook(name)
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if d2l_meta(c).get("function") == function
                and d2l_meta(c).get("role") == "exercise")
    cell["source"] = edit(cell_source(cell))
    path.write_text(json.dumps(nb))
    return function


def test_missing_reference_function_fails_loudly(tmp_path):
    kit = copy_kit(tmp_path)
    name, function = FIRST["def"]
    sol = kit.solution_module(name)
    sol.write_text(sol.read_text().replace(f"def {function}(", f"def {function}_renamed("))
    with pytest.raises(C.CourseBuildError, match=f"no reference function .*{function}"):
        C.build_course(tmp_path / "c", kit, points=fake_points)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("kind", sorted(FIRST))
def test_missing_stub_lines_fail_loudly(tmp_path, kind):
    kit = copy_kit(tmp_path)
    function = _edit_exercise(kit, *FIRST[kind], lambda s: s.replace("raise NotImplementedError()", "pass"))
    with pytest.raises(C.CourseBuildError, match=f"stub lines .* {function} are missing"):
        C.build_course(tmp_path / "c", kit, points=fake_points)


def test_stub_and_reference_with_different_arguments_fail_loudly(tmp_path):
    kit = copy_kit(tmp_path)
    function = _edit_exercise(kit, *FIRST["def"], lambda s: s.replace("):", ", extra=None):", 1))
    with pytest.raises(C.CourseBuildError, match=f"{function} and the reference function take"):
        C.build_course(tmp_path / "c", kit, points=fake_points)


def test_an_exercise_without_points_fails_loudly(tmp_path):
    spec = load_assignment(KIT, NAMES[0])
    with pytest.raises(C.CourseBuildError, match=f"no test .* {spec.exercises[0]}"):
        C.derive_source_notebook(KIT, NAMES[0],
                                 points=lambda s, k: {e: 1 for e in s.exercises[1:]})


def test_reference_body_keeps_comments_and_reindents():
    text = (
        "def f(x):\n"
        "        '''Doc.'''\n"
        "        # why\n"
        "        s = '''a\n"
        "b'''\n"
        "        return x\n")
    func = ast.parse(text).body[0]
    assert C.reference_body(text.splitlines(), func, "t") == ["# why", "s = '''a", "b'''", "return x"]
    assert C.reference_body(text.splitlines(), func, "t", "  ") == ["  # why", "  s = '''a", "b'''",
                                                                  "  return x"]
    stub = "def f(x):\n    '''Doc.'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    out = C.solution_cell_source(stub, "f", text.splitlines(), func, "t")
    assert out == ("def f(x):\n    '''Doc.'''\n    ### BEGIN SOLUTION\n    # why\n    s = '''a\n"
                   "b'''\n    return x\n    ### END SOLUTION\n")


# --- exercises that are classes ------------------------------------------------------------------

CLASS_REFERENCE = '''\
class Net(nn.Module):
    """Doc."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, X):
        """Method doc."""
        # why
        return X * self.n

    def extra(self):
        return "reference version"
'''
CLASS_STUB = '''\
class Net(nn.Module):
    """Doc."""

    def __init__(self, n):
        # YOUR CODE HERE
        raise NotImplementedError()

    def forward(self, X):
        """Method doc."""
        # YOUR CODE HERE
        raise NotImplementedError()

    def extra(self):
        return "given to the student"
'''
INIT_STUB = '''\
    def __init__(self, n):
        # YOUR CODE HERE
        raise NotImplementedError()

'''


def _class_solution(stub: str) -> str:
    node = ast.parse(CLASS_REFERENCE).body[0]
    return C.solution_cell_source(stub, "Net", CLASS_REFERENCE.splitlines(), node, "t")


def test_class_gets_each_methods_body_by_name():
    out = _class_solution(CLASS_STUB)
    assert out == '''\
class Net(nn.Module):
    """Doc."""

    def __init__(self, n):
        ### BEGIN SOLUTION
        super().__init__()
        self.n = n
        ### END SOLUTION

    def forward(self, X):
        """Method doc."""
        ### BEGIN SOLUTION
        # why
        return X * self.n
        ### END SOLUTION

    def extra(self):
        return "given to the student"
'''  # a method without stub lines is the student's as given
    ast.parse(out)


def test_class_methods_in_another_order_match_by_name():
    stub = CLASS_STUB.replace(INIT_STUB, "").replace("    def extra(self):", INIT_STUB + "    def extra(self):")
    out = _class_solution(stub)
    assert out.index("return X * self.n") < out.index("super().__init__()")


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("def forward(self, X)", "def forwad(self, X)"), "lacks the reference method.* forward"),
    (lambda s: s + "\n    def helper(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n",
     "Net.helper of the exercise cell has no reference"),
    (lambda s: s.replace("def forward(self, X)", "def forward(self, X, Y)"),
     "Net.forward and the reference method take different arguments"),
    (lambda s: s.replace("class Net(nn.Module)", "class Net(nn.Sequential)"), "different base classes"),
    (lambda s: s.replace("raise NotImplementedError()", "pass"), "stub lines .* Net are missing"),
    (lambda s: s.replace('    """Doc."""\n', '    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'),
     "outside the methods of class Net"),
    (lambda s: s.replace('        """Method doc."""\n', '        """Method doc."""\n        # YOUR CODE HERE\n'
                         '        raise NotImplementedError()\n'), "Net.forward are present 2 times"),
])
def test_class_mismatches_fail_loudly(edit, message):
    with pytest.raises(C.CourseBuildError, match=message):
        _class_solution(edit(CLASS_STUB))


def test_a_function_stub_for_a_reference_class_fails_loudly():
    stub = 'def Net(n):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    with pytest.raises(C.CourseBuildError, match="Net is a function in the exercise cell but a class"):
        _class_solution(stub)
