"""Grades land on the right exercise and the right party (issue 8, items 1-3).

* one answer cell that does not parse costs only the exercises it defines, and every message
  names "line N of cell NAME";
* an exercise that fails because one of the student's own helpers fails says so
  (:mod:`autograder.blame`), and an instructor can withhold such checks instead;
* a hidden test that breaks is the grader's error: withheld, not zeroed; flagged in nbgrader;
  reported on stderr; ``d2l-grade grade`` exits non-zero.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from autograder import blame, variants
from autograder.notebook import StudentSource
from autograder.banned import find_banned
from autograder.paths import KitPaths

from test_nbgrader_flow import A, answered, make_kit, submit

BROKEN_TANH = "def tanh(X):\n    return (1 - torch.exp(-2 * X) / (1 + torch.exp(-2 * X))\n"
BROKEN_RNN_STEP = "def rnn_step(X_t, H, W_xh, W_hh, b_h):\n    return torch.tanh(X_t @ W_xh + H @ W_hh + b_h\n"
BATCH_MAJOR_ONE_HOT = ("def one_hot(X, num_classes):\n"
                       "    return torch.nn.functional.one_hot(X, num_classes).float()\n")


def _line_numbers_are_per_cell(message: str) -> bool:
    """Every "line N" in a message is followed by "of cell NAME"."""
    return all(re.match(r" of cell \w+", message[m.end():]) for m in re.finditer(r"line \d+", message))


@pytest.fixture(scope="module")
def graded():
    """mlp with tanh broken, rnn with rnn_step broken, rnn with a batch-major one_hot (both policies)."""
    kit = KitPaths()
    out = {}
    out.update(variants.grade_variants(kit, "mlp", {"broken_tanh": {"tanh": BROKEN_TANH}},
                                       focused=False, include_reference=False))
    out.update(variants.grade_variants(kit, "rnn", {"broken_rnn_step": {"rnn_step": BROKEN_RNN_STEP},
                                                    "batch_major": {"one_hot": BATCH_MAJOR_ONE_HOT}},
                                       focused=False, include_reference=False))
    independent = variants.grade_variants(kit, "rnn", {"batch_major": {"one_hot": BATCH_MAJOR_ONE_HOT}},
                                          focused=False, include_reference=False, dependents="independent")
    out["batch_major_independent"] = independent["batch_major"]
    return out


@pytest.mark.parametrize("variant, broken", [("broken_tanh", "tanh"), ("broken_rnn_step", "rnn_step")])
def test_a_cell_that_does_not_parse_costs_only_its_own_exercise(graded, variant, broken):
    result = graded[variant]
    for exercise, entry in result.items():
        if exercise == broken:
            assert entry["score"] == 0
            for test in entry["tests"]:
                assert f"of cell {broken}" in test["message"], test
                assert _line_numbers_are_per_cell(test["message"]), test["message"]
        elif broken not in blame.helpers_used(_reference_source(variant), [exercise, broken]).get(exercise, ()):
            failures = [f"{t['name']}: {t['message']}" for t in entry["tests"] if not t["passed"]]
            assert entry["score"] == entry["max_score"], f"{exercise} lost points:\n" + "\n".join(failures)


def _reference_source(variant: str) -> str:
    from autograder.course import reference_answer_cells
    assignment = "mlp" if variant == "broken_tanh" else "rnn"
    return StudentSource.join(list(reference_answer_cells(KitPaths(), assignment).items()))


def test_relu_sigmoid_and_mlp_forward_keep_their_no_builtin_points(graded):
    for exercise in ("relu", "sigmoid", "mlp_forward"):
        bans = [t for t in graded["broken_tanh"][exercise]["tests"] if "builtin" in t["name"]]
        assert bans and all(t["passed"] for t in bans), bans


def test_a_dependent_exercise_names_the_failing_helper(graded):
    result = graded["batch_major"]
    assert result["one_hot"]["score"] < result["one_hot"]["max_score"]
    assert not result["one_hot"].get("blamed_on")
    train = result["train_char_rnn"]
    failed = [t for t in train["tests"] if not t["passed"]]
    assert failed
    for test in failed:
        assert test["message"].startswith("train_char_rnn uses your one_hot, which fails its own checks: "
                                          "fix one_hot first."), test["message"]
    assert train["blamed_on"] == ["one_hot"]
    assert not train.get("withheld")
    for exercise in ("rnn_step", "rnn", "grad_clipping", "char_level_loss"):
        assert result[exercise]["score"] == result[exercise]["max_score"], exercise


def test_independent_grading_withholds_the_dependent_checks(graded):
    train = graded["batch_major_independent"]["train_char_rnn"]
    failed = [t for t in train["tests"] if not t["passed"]]
    assert train["withheld"] is True
    assert failed and all(t.get("withheld") for t in failed)
    assert all("grades this check by hand" in t["message"] for t in failed)
    assert not graded["batch_major_independent"]["one_hot"].get("withheld")


def test_helpers_are_followed_through_module_level_functions_only():
    source = StudentSource.join([
        ("one_hot", "def one_hot(X, n):\n    return X\n"),
        ("rnn", "def _step(X):\n    return one_hot(X, 3)\n\ndef rnn(X):\n    return _step(X)\n"),
        ("train", "def train(X):\n    one_hot = lambda X, n: X\n    return rnn(X)\n"),
        ("inline", "def inline(X):\n    return X.T\n"),
    ])
    uses = blame.helpers_used(source, ["one_hot", "rnn", "train", "inline"])
    assert uses == {"rnn": {"one_hot"}, "train": {"rnn", "one_hot"}}
    # rnn fails because of one_hot: train is blamed on one_hot, the root, not on rnn
    assert blame.root_causes("train", uses, {"one_hot", "rnn"}) == ["one_hot"]


def test_unparsable_source_blames_nothing():
    assert blame.helpers_used("def f(:\n", ["f"]) == {}


def test_banned_check_of_a_broken_cell_names_it_and_others_are_checked():
    source = StudentSource.join([("relu", "def relu(X):\n    return torch.relu(X)\n"),
                                 ("tanh", "def tanh(X):\n    return (X\n")])
    assert source.broken and "line 2 of cell tanh" in source.broken["tanh"]
    relu = find_banned(source, "relu", {"torch.relu": "write relu yourself"})
    assert relu and "line 2 of cell relu" in relu[0], relu
    tanh = find_banned(source, "tanh", {"torch.tanh": "write tanh yourself"})
    assert tanh and "syntax error (line 2 of cell tanh" in tanh[0], tanh


# --- a hidden test that breaks is the grader's error --------------------------------------------

BROKEN_TEST = '''

class TestBrokenByTheInstructor:
    pytestmark = [pytest.mark.exercise("inc")]

    @pytest.mark.points(1)
    def test_typo(self, student):
        got = student.inc(1)
        assert got == expected_value_misspelt  # a NameError in the suite, not in the student's code
'''


@pytest.fixture(scope="module")
def broken_kit(tmp_path_factory):
    kit = make_kit(tmp_path_factory.mktemp("broken_kit"))
    suite = kit.hidden_suite(A)
    suite.write_text(suite.read_text() + textwrap.dedent(BROKEN_TEST))
    return kit


def test_a_broken_hidden_test_is_withheld_flagged_and_reported(broken_kit, tmp_path):
    from nbgrader.api import Gradebook
    from autograder.course import build_course, release_assignment
    course = build_course(tmp_path / "course", broken_kit, points=lambda spec, kit: {"double": 3.0, "inc": 2.0})
    release_assignment(course, A)
    submit(course, "alice", answered(course))
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course.root), A, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4, proc.stderr
    assert re.search(r"grader error: alice: inc TestBrokenByTheInstructor::test_typo: NameError: "
                     r"name 'expected_value_misspelt' is not defined \(test_mini\.py, line \d+\)", proc.stderr), proc.stderr
    results = json.loads(proc.stdout)["alice"]
    assert results["double"]["score"] == 3.0 and not results["double"].get("withheld")
    inc = results["inc"]
    assert inc["withheld"] is True
    broken = next(t for t in inc["tests"] if t["name"] == "TestBrokenByTheInstructor::test_typo")
    assert not broken["passed"] and "error in the grader, not in your code" in broken["message"]
    assert "expected_value_misspelt" not in broken["message"]  # the suite's text stays hidden
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        grades = {g.name: g for g in gb.find_submission_notebook(A, A, "alice").grades}
        assert grades["check_inc"].needs_manual_grade and grades["check_inc"].auto_score is None
        assert not grades["check_double"].needs_manual_grade and grades["check_double"].auto_score == 3.0
    autograded = (course.autograded("alice", A) / f"{A}.ipynb").read_text()
    assert "grades it by hand" in autograded


@pytest.fixture(scope="module")
def mini_kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("mini_kit"))


@pytest.mark.parametrize("policy", ["with_helpers", "independent"])
def test_the_course_chooses_how_dependents_are_graded(mini_kit, tmp_path, policy):
    from nbgrader.api import Gradebook
    from autograder.course import build_course, release_assignment
    course = build_course(tmp_path / "course", mini_kit, points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    with course.config_file.open("a") as f:
        f.write(f"\nc.SandboxScorer.dependent_grading = {{{A!r}: {policy!r}}}\n")
    release_assignment(course, A)
    # double is wrong; inc is right given a right double, so it fails only because of double
    submit(course, "bob", answered(course, double="return 3 * x", inc="return double(x) - x + 1"))
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course.root), A, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    inc = json.loads(proc.stdout)["bob"]["inc"]
    assert inc["blamed_on"] == ["double"]
    assert inc["tests"][0]["message"].startswith("inc uses your double, which fails its own checks")
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        grade = {g.name: g for g in gb.find_submission_notebook(A, A, "bob").grades}["check_inc"]
        if policy == "independent":
            assert inc["withheld"] and grade.needs_manual_grade and grade.auto_score is None
            assert "bob: inc left for grading by hand" in proc.stderr
        else:
            assert not inc.get("withheld") and not grade.needs_manual_grade and grade.auto_score == 0
