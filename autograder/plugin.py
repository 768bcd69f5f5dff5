"""The pytest plugin behind hidden and public suites.

Fixtures: ``student`` (a :class:`~autograder.student.Student` per submission, bound to ``device``
when the test asks for it), ``reference`` (the trusted solutions module), ``device`` (``cpu``, and
``cuda`` when available, else skipped; ``meta`` for tests marked ``placement``, see below).
Markers: ``exercise(name)``, ``points(n)``, ``placement``.  Results are collected per submission,
exercise and test; a test's points are earned when every device instance of it that ran passed
(a skipped instance does not count; a failure on any device, ``meta`` included, costs the points).

``placement`` marks a test that checks where an exercise puts its results (it takes a ``device``
argument, creates tensors, moves a module): such a test also runs on ``meta``, the grader's stand-in
for a second device, whenever no CUDA instance of it runs (no GPU, or CUDA not requested), so that
an answer that ignores its ``device`` or leaves a tensor on the CPU loses the points on a CPU-only
grader too.  In the child, meta tensors get their values from CPU twins
(:mod:`autograder.sandbox.meta_values`), so the test's value checks hold there as on the CPU.
See ``docs/devices.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from autograder.sandbox import SandboxUnavailable, cuda_available
from autograder.sandbox.host import cap_text
from autograder.sandbox.limits import DEFAULT_LIMITS

SUBMISSION_PARAM = "_d2l_submission"
DEVICES = ("cpu", "cuda")
META = "meta"  # the stand-in for a second device, for tests marked placement
META_NOTE = "[on meta, the device this grader uses in place of a GPU] "


@dataclass
class Outcome:
    """One test item's outcome for one submission on one device."""

    key: str
    exercise: str
    name: str
    points: float
    device: str | None
    outcome: str  # passed, failed, skipped, or grader_error (the hidden test itself broke)
    message: str
    grader_detail: str = ""  # for the instructor only: what broke in the hidden test, and where


def _safe_id(key: str) -> str:
    # cut first: the key (a student id) is untrusted and only 60 characters of it are kept
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key[:60]) or "_"


NOT_RUN_MESSAGE = "this check did not run"
GRADER_ERROR_MESSAGE = ("this check could not be run because of an error in the grader, not in your code; "
                        "your instructor has been told and grades this exercise by hand")


def is_student_failure(exc: BaseException) -> bool:
    """Whether a test's exception is the student's: an assertion (``StudentError`` included, which is
    how every failure of the student's own call arrives) or an explicit ``pytest.fail``.  Anything
    else was raised by the hidden test's own code, so it is the grader's error."""
    return isinstance(exc, (AssertionError, pytest.fail.Exception))


def failure_message(excinfo) -> str:
    """What the student sees for a failed test: the assertion's own message, never source code."""
    exc = excinfo.value
    limit = DEFAULT_LIMITS.max_text_chars
    if is_student_failure(exc):
        text = str(exc).strip()
        return cap_text(text, 2 * limit) if text else "a check failed"
    return GRADER_ERROR_MESSAGE


def grader_error_detail(excinfo, test_file: str) -> str:
    """For the instructor: ``NameError: name 'x' is not defined (test_mlp.py, line 123)``, the line
    being the last frame of the hidden test's own file."""
    exc = excinfo.value
    where = ""
    for entry in excinfo.traceback:
        if str(entry.path) == test_file:
            where = f" ({entry.path.name}, line {entry.lineno + 1})"
    return f"{cap_text(type(exc).__name__, 100)}: {cap_text(exc, 500)}{where}"


class GradingPlugin:
    """Registered with ``pytest.main(plugins=[...])``; owns the submissions and the outcomes.

    ``students``: key -> :class:`Student` (or a zero-argument factory returning one).
    ``reference``: the module given to the ``reference`` fixture (hidden suites only).
    """

    def __init__(self, students: dict, reference=None, devices: list[str] | None = None,
                 exercises: list[str] | None = None, focus: dict | None = None):
        self.students = students
        self.only_exercises = exercises
        self.focus = focus or {}  # key -> the only exercises checked for that submission
        self.reference_module = reference
        self.devices = devices or [*DEVICES, META]
        self.outcomes: list[Outcome] = []
        self.collected: list[tuple[str, str, float]] = []  # (exercise, name, points), unique
        self.errors: list[str] = []
        self.fatal: str | None = None  # the sandbox stopped holding: nothing may be graded
        self._cuda = None

    # --- collection ---------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "exercise(name): the contract function a test checks")
        config.addinivalue_line("markers", "points(n): points a test is worth")
        config.addinivalue_line("markers", "placement: also run on the meta device when CUDA does not run "
                                           "(device handling checked without a GPU)")

    def pytest_generate_tests(self, metafunc):
        if "device" in metafunc.fixturenames:
            names = [*DEVICES, META] if metafunc.definition.get_closest_marker("placement") else list(DEVICES)
            metafunc.parametrize("device", names, indirect=True, ids=names)
        if SUBMISSION_PARAM in metafunc.fixturenames:
            keys = list(self.students)
            metafunc.parametrize(SUBMISSION_PARAM, keys, indirect=True, scope="session",
                                 ids=[_safe_id(k) for k in keys])

    def pytest_collection_modifyitems(self, config, items):
        if self.only_exercises:
            keep = [i for i in items if self._labels(i)[0] in self.only_exercises]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        if self.focus:
            keep = [i for i in items if self._in_focus(i)]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        seen = set()
        for item in items:
            exercise, points = self._labels(item)
            name = self._test_name(item)
            if (exercise, name) not in seen:
                seen.add((exercise, name))
                self.collected.append((exercise, name, points))

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append(f"could not collect {report.nodeid}: {report.longreprtext[-2000:]}")

    def _in_focus(self, item) -> bool:
        callspec = getattr(item, "callspec", None)
        key = callspec.params.get(SUBMISSION_PARAM) if callspec else None
        wanted = self.focus.get(key)
        return wanted is None or self._labels(item)[0] in wanted

    @staticmethod
    def _labels(item) -> tuple[str, float]:
        ex = item.get_closest_marker("exercise")
        pts = item.get_closest_marker("points")
        return (ex.args[0] if ex and ex.args else "(unassigned)",
                float(pts.args[0]) if pts and pts.args else 1.0)

    @staticmethod
    def _test_name(item) -> str:
        cls = item.cls.__name__ + "::" if item.cls else ""
        return cls + item.originalname

    # --- fixtures -----------------------------------------------------------------------------
    @pytest.fixture(scope="session")
    def _d2l_submission(self, request):
        entry = self.students[request.param]
        student = entry() if callable(entry) and not hasattr(entry, "call") else entry
        yield student
        student._session.close()

    @pytest.fixture
    def student(self, request, _d2l_submission):
        """The submission under test, bound to ``device`` when the test uses it."""
        if "device" in request.fixturenames:
            return _d2l_submission.on(request.getfixturevalue("device"))
        return _d2l_submission

    def _cuda_runs(self) -> bool:
        if "cuda" not in self.devices:
            return False
        if self._cuda is None:
            self._cuda = cuda_available()
        return self._cuda

    @pytest.fixture
    def device(self, request):
        """The device under test; ``cuda`` is skipped (not failed) without CUDA, ``meta`` (placement
        tests only) when the test runs on CUDA instead."""
        if request.param not in self.devices:
            pytest.skip(f"{request.param} not requested")
        if request.param == "cuda" and not self._cuda_runs():
            pytest.skip("CUDA is not available")
        if request.param == META and self._cuda_runs():
            pytest.skip("device handling is checked on CUDA")
        return request.param

    @pytest.fixture
    def reference(self):
        """The trusted reference solutions module."""
        if self.reference_module is None:
            pytest.fail("no reference module is available to this suite")
        return self.reference_module

    # --- results ------------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        result = yield
        report = result.get_result()
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            callspec = getattr(item, "callspec", None)
            params = callspec.params if callspec else {}
            key = params.get(SUBMISSION_PARAM)
            if key is None:
                return
            if call.excinfo is not None and isinstance(call.excinfo.value, SandboxUnavailable):
                self.fatal = str(call.excinfo.value)
                item.session.shouldstop = self.fatal
                return
            exercise, points = self._labels(item)
            message, outcome, detail = "", report.outcome, ""
            if report.failed and call.excinfo is not None:
                message = failure_message(call.excinfo)
                if not is_student_failure(call.excinfo.value):
                    outcome = "grader_error"
                    detail = grader_error_detail(call.excinfo, str(item.path))
            self.outcomes.append(Outcome(key, exercise, self._test_name(item), points,
                                         params.get("device"), outcome, message, detail))

    def results(self) -> dict:
        """``{key: {exercise: {"score", "max_score", "tests": [...]}}}`` from the outcomes.

        A test whose own code broke (``grader_error`` outcome) earns nothing, carries
        ``"grader_error"`` (the instructor's detail) and marks its exercise ``"withheld": True``:
        its grade is left to a person instead of standing as a zero.
        """
        by_test: dict = {}
        for o in self.outcomes:
            by_test.setdefault((o.key, o.exercise, o.name), []).append(o)
        out: dict = {}
        budget = DEFAULT_LIMITS.max_student_text
        for key in self.students:
            exercises: dict = {}
            shown = 0
            for exercise, name, points in self.collected:
                entry = exercises.setdefault(exercise, {"score": 0.0, "max_score": 0.0, "tests": []})
                entry["max_score"] += points
                runs = [o for o in by_test.get((key, exercise, name), []) if o.outcome != "skipped"]
                failed = [o for o in runs if o.outcome in ("failed", "grader_error")]
                broken = [o for o in runs if o.outcome == "grader_error"]
                passed = bool(runs) and not failed
                message = ""
                if broken:
                    message = GRADER_ERROR_MESSAGE
                elif failed:
                    first = failed[0]
                    prefix = "" if first.device in (None, "cpu") else f"[on {first.device}] "
                    message = (META_NOTE if first.device == META else prefix) + first.message
                elif not runs:
                    message = NOT_RUN_MESSAGE
                if shown + len(message) > budget:
                    message = "(message left out: this submission's messages reached their size limit)"
                shown += len(message)
                test = {"name": name, "passed": passed, "points": points if passed else 0.0,
                        "max_points": points, "message": message}
                if broken:
                    test["grader_error"] = broken[0].grader_detail
                    entry["withheld"] = True
                entry["tests"].append(test)
                if passed:
                    entry["score"] += points
            out[key] = exercises
        return out
