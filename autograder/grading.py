"""Grading a batch of submissions: one pytest session over the hidden suite, one sandbox."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import contextlib
from pathlib import Path

import pytest
import torch

from autograder import blame
from autograder.flags import FlagLog
from autograder.notebook import AssignmentSpec, Submission
from autograder.plugin import GradingPlugin
from autograder.sandbox import Sandbox, SandboxUnavailable
from autograder.student import SandboxSession, Student


class GraderError(RuntimeError):
    """The kit itself is broken (a hidden suite that does not load, say): never the student's fault."""


def load_reference(kit, assignment: str):
    """Import ``solutions/<assignment>.py`` (trusted code) under a private module name."""
    path = kit.solution_module(assignment)
    spec = importlib.util.spec_from_file_location(f"_d2l_reference_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _importable(folder: Path):
    """Put ``folder`` first on ``sys.path`` for the duration: the hidden suites import their shared
    helpers (``grader_tests/shared_*.py``, which never ship in the package) by name."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)


@contextlib.contextmanager
def _no_plugin_autoload():
    """Only pytest's own plugins and the kit's: the suites use no others, and loading every installed
    one (xdist, hypothesis, ...) costs each session time."""
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = before


def run_suite(test_file: Path, plugin: GradingPlugin, collect_only: bool = False) -> GradingPlugin:
    """Run one test module with ``plugin`` in this process, quietly; raise GraderError if the
    suite itself is broken."""
    args = [str(test_file), "-q", "--assert=plain", "-p", "no:cacheprovider", "--import-mode=importlib",
            "-c", os.devnull, "--rootdir", str(test_file.parent), "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--no-header", "-p", "no:randomly",
            # its clean-up runs gc.collect five times per session: ~0.7 s with torch's heap loaded
            "-p", "no:unraisableexception",
            "-p", "no:logging",  # its per-test handlers: a tenth of a real suite's time, and unused
            "--tb=native"]  # the kit reads messages from the exceptions; pytest's long tracebacks cost seconds
    if collect_only:
        args.append("--collect-only")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), _importable(test_file.parent), _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin])
    if plugin.fatal:
        raise SandboxUnavailable(plugin.fatal)
    if plugin.errors or code not in (0, 1, 5):
        raise GraderError(f"the test suite {test_file.name} is broken (pytest exit {code}):\n"
                          + "\n".join(plugin.errors) + out.getvalue()[-3000:])
    return plugin


def exercise_points(spec: AssignmentSpec, kit) -> dict[str, float]:
    """Points per exercise, from the hidden suite's markers (no student code runs)."""
    plugin = GradingPlugin({"_": None}, reference=None)
    run_suite(kit.hidden_suite(spec.name), plugin, collect_only=True)
    points: dict[str, float] = {}
    for exercise, _name, pts in plugin.collected:
        points[exercise] = points.get(exercise, 0.0) + pts
    return points


def grade_submissions(spec: AssignmentSpec, submissions: dict[str, Submission], kit, *,
                      must_not_see: list = (), call_timeout: float | None = None, budget: float | None = None,
                      sandbox: Sandbox | None = None, devices: list[str] | None = None,
                      focus: dict[str, list[str]] | None = None, dependents: str | None = None,
                      flags: dict | None = None) -> dict:
    """Grade every submission with the hidden suite; ``{key: {exercise: {...}}}``.

    Each submission's code runs in its own sandboxed child; ``must_not_see`` adds directories (the
    course) to the kit's own that the sandbox's probe checks children cannot see.  Raises
    :class:`~autograder.sandbox.SandboxUnavailable` (nothing graded) when the sandbox does not hold.  ``devices`` restricts the
    devices tried (default: the CPU, CUDA when available, and ``meta`` for the tests marked
    ``placement`` when no CUDA instance runs; see :mod:`autograder.plugin`).  ``focus`` maps a key to the only
    exercises checked for it (the others report "this check did not run"); for corpora and mutants.
    ``dependents``: how checks of an exercise whose own helpers fail are graded (see
    :mod:`autograder.blame`; default :data:`~autograder.blame.WITH_HELPERS`).
    ``flags``: a dict to fill with ``{key: [flag, ...]}`` (plain data, :mod:`autograder.flags`): what
    the grader saw each submission's child do from outside, and the limits its notebook broke.
    """
    if dependents not in (None, *blame.POLICIES):
        raise ValueError(f"dependent grading {dependents!r} is not one of {', '.join(blame.POLICIES)}")
    own = sandbox is None
    sandbox = sandbox or Sandbox(must_not_see=[*kit.secret_dirs(), *must_not_see])
    sandbox.start()  # fail closed before any test runs: SandboxUnavailable, nothing graded
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny reference computations; more threads only fight the children
    # one log per submission, shared by every session pytest opens for it
    logs = {key: FlagLog() for key in submissions}
    try:
        students = {
            key: (lambda key=key, sub=sub: Student(SandboxSession(sandbox, sub.cells, sub.problems,
                                                                  call_timeout=call_timeout, budget=budget,
                                                                  flags=logs[key]),
                                                   sub.source))
            for key, sub in submissions.items()
        }
        plugin = GradingPlugin(students, reference=load_reference(kit, spec.name), devices=devices,
                               focus=focus)
        run_suite(kit.hidden_suite(spec.name), plugin)
        results = plugin.results()
    finally:
        torch.set_num_threads(threads)
        if own:
            sandbox.close()
    for key, sub in submissions.items():
        _add_missing_exercises(results[key], spec)
        blame.attribute(results[key], sub.source, spec.exercises, dependents)
        if flags is not None:
            for flag in sub.flags:
                logs[key].add(flag["kind"], flag["text"])
            flags[key] = logs[key].as_plain()
    return results


def grader_errors(results: dict) -> list[str]:
    """One line per check whose hidden test broke: ``"alice: mlp_forward TestX::test_y: NameError: ..."``."""
    lines = []
    for key, exercises in results.items():
        for exercise, entry in exercises.items():
            for test in entry.get("tests", []):
                if test.get("grader_error"):
                    lines.append(f"{key}: {exercise} {test['name']}: {test['grader_error']}")
    return lines


def _add_missing_exercises(result: dict, spec: AssignmentSpec) -> None:
    for exercise in spec.exercises:
        result.setdefault(exercise, {"score": 0.0, "max_score": 0.0, "tests": []})
