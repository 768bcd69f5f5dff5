"""Devices checked without a GPU: how the plugin counts a test's device instances, and that tests
marked ``placement`` run on ``meta`` (the stand-in for a GPU) when no CUDA instance runs.

A tiny suite is run through :class:`~autograder.plugin.GradingPlugin` with students whose code runs
in this process (:class:`~autograder.student.LocalSession`): no sandbox, no CUDA needed.
"""

import textwrap

import pytest

from autograder.grading import run_suite
from autograder.plugin import META_NOTE, GradingPlugin, Outcome
from autograder.student import LocalSession, Student

SUITE = '''
import pytest
import torch

from autograder.compare import assert_tensor_close


@pytest.mark.exercise("zeros_on")
class TestZerosOn:
    @pytest.mark.points(2)
    @pytest.mark.placement
    def test_zeros_on_the_device(self, student, device):
        out = student.zeros_on(3, device)
        assert_tensor_close(out, torch.zeros(3, dtype=torch.float64), dtype=torch.float32, device=device,
                            what=f"zeros_on(3, {device!r})")

    @pytest.mark.points(1)
    def test_not_marked(self, student, device):
        out = student.zeros_on(2, device)
        assert_tensor_close(out, torch.zeros(2, dtype=torch.float64), dtype=torch.float32, device=device,
                            what="zeros_on(2)")


@pytest.mark.exercise("scaled")
class TestScaled:
    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_scaled(self, student, device):
        X = torch.arange(6.0).reshape(2, 3)
        assert_tensor_close(student.scaled(X), 2 * X.double(), dtype=torch.float32, device=device, what="scaled(X)")

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_where_it_runs(self, student, device):
        assert student.device == device
'''

RIGHT = '''
import torch
def zeros_on(n, device):
    return torch.zeros(n, device=device)
def scaled(X):
    return X * torch.full(X.shape, 2.0, device=X.device)
'''

IGNORES_DEVICE = '''
import torch
def zeros_on(n, device):
    return torch.zeros(n)
def scaled(X):
    return X * torch.full(X.shape, 2.0)
'''


def _student(source: str) -> Student:
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), "<answer>", "exec"), namespace)  # the kit's own test code
    return Student(LocalSession(namespace), source)


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "test_tiny.py"
    path.write_text(SUITE)
    return path


def _grade(suite, devices=None, cuda=None):
    plugin = GradingPlugin({"right": _student(RIGHT), "ignores": _student(IGNORES_DEVICE)}, devices=devices)
    if cuda is not None:
        plugin._cuda = cuda  # what cuda_available() would say
    run_suite(suite, plugin)
    return plugin, plugin.results()


def _tests(result, exercise):
    return {t["name"].split("::")[-1]: t for t in result[exercise]["tests"]}


def _ran(plugin, key, name):
    return {o.device: o.outcome for o in plugin.outcomes if o.key == key and o.name.endswith(name)}


def test_placement_tests_run_on_meta_without_cuda(suite):
    plugin, results = _grade(suite, cuda=False)
    assert _ran(plugin, "right", "test_zeros_on_the_device") == {"cpu": "passed", "cuda": "skipped", "meta": "passed"}
    assert _ran(plugin, "right", "test_not_marked") == {"cpu": "passed", "cuda": "skipped"}
    assert results["right"]["zeros_on"]["score"] == 3.0
    assert results["right"]["scaled"]["score"] == 2.0


def test_a_meta_failure_costs_the_points_of_a_test_passed_on_the_cpu(suite):
    plugin, results = _grade(suite, cuda=False)
    ignored = _tests(results["ignores"], "zeros_on")
    assert _ran(plugin, "ignores", "test_zeros_on_the_device") == {"cpu": "passed", "cuda": "skipped", "meta": "failed"}
    assert not ignored["test_zeros_on_the_device"]["passed"] and ignored["test_zeros_on_the_device"]["points"] == 0
    message = ignored["test_zeros_on_the_device"]["message"]
    assert message.startswith(META_NOTE) and "is on device cpu, expected meta" in message
    assert ignored["test_not_marked"]["passed"]  # not marked placement: right by accident on the CPU, as before
    scaled = _tests(results["ignores"], "scaled")["test_scaled"]
    assert not scaled["passed"] and "two devices" in scaled["message"], scaled
    assert results["ignores"]["zeros_on"]["score"] == 1.0 and results["ignores"]["scaled"]["score"] == 1.0


def test_meta_is_left_to_cuda_where_cuda_runs(suite):
    plugin, results = _grade(suite, devices=["cpu", "cuda", "meta"], cuda=True)
    assert _ran(plugin, "right", "test_where_it_runs") == {"cpu": "passed", "cuda": "passed", "meta": "skipped"}


def test_meta_runs_when_cuda_is_not_requested(suite):
    plugin, _ = _grade(suite, devices=["cpu", "meta"], cuda=True)
    assert _ran(plugin, "right", "test_where_it_runs") == {"cpu": "passed", "cuda": "skipped", "meta": "passed"}


def test_meta_only_when_requested(suite):
    plugin, results = _grade(suite, devices=["cpu"], cuda=False)
    assert _ran(plugin, "ignores", "test_zeros_on_the_device") == {"cpu": "passed", "cuda": "skipped",
                                                                    "meta": "skipped"}
    assert results["ignores"]["zeros_on"]["score"] == 3.0


def _aggregate(*instances):
    plugin = GradingPlugin({"s": None})
    plugin.collected = [("ex", "test_x", 2.0)]
    plugin.outcomes = [Outcome("s", "ex", "test_x", 2.0, device, outcome, f"wrong on {device}")
                       for device, outcome in instances]
    return plugin.results()["s"]["ex"]["tests"][0]


@pytest.mark.parametrize("instances, points", [
    ([("cpu", "passed"), ("cuda", "skipped"), ("meta", "passed")], 2.0),
    ([("cpu", "passed"), ("cuda", "passed"), ("meta", "skipped")], 2.0),
    ([("cpu", "passed"), ("cuda", "skipped"), ("meta", "failed")], 0.0),
    ([("cpu", "failed"), ("cuda", "skipped"), ("meta", "passed")], 0.0),
    ([("cpu", "passed"), ("cuda", "failed"), ("meta", "skipped")], 0.0),
    ([("cpu", "skipped"), ("cuda", "skipped"), ("meta", "skipped")], 0.0),
    ([(None, "passed")], 2.0),
])
def test_points_need_every_instance_that_ran(instances, points):
    """A test's points are earned when every device instance that ran passed; skipped instances do
    not count (and a test none of whose instances ran earns nothing)."""
    test = _aggregate(*instances)
    assert test["points"] == points and test["passed"] == bool(points)
    if not points:
        assert test["message"], test


def test_messages_name_the_device():
    assert _aggregate(("cpu", "passed"), ("meta", "failed"))["message"] == META_NOTE + "wrong on meta"
    assert _aggregate(("cpu", "passed"), ("cuda", "failed"))["message"] == "[on cuda] wrong on cuda"
    assert _aggregate(("cpu", "failed"), ("meta", "failed"))["message"] == "wrong on cpu"
    assert _aggregate(("cpu", "skipped"))["message"] == "this check did not run"
