"""Shared fixtures for the kit's own tests."""

import os
import tempfile

import pytest

from autograder.paths import KitPaths
from autograder.sandbox import Sandbox
from autograder.sandbox.uids import in_range


def pytest_configure(config):
    """Tests read no developer's own Jupyter settings: nbgrader (and so the kit) loads
    ``~/.jupyter/nbgrader_config.py``, which could change late penalties or preprocessors under a
    test.  Every test process, and every command it starts, sees an empty user config directory
    instead (a test of the config chain sets its own).  And grading commands default to one sandbox
    (``D2L_GRADE_JOBS=1``), see below."""
    if "D2L_TESTS_JUPYTER_CONFIG_DIR" not in os.environ:  # once, in the controller; workers inherit it
        empty = tempfile.mkdtemp(prefix="d2l-tests-jupyter-")
        os.environ["D2L_TESTS_JUPYTER_CONFIG_DIR"] = empty
    os.environ["JUPYTER_CONFIG_DIR"] = os.environ["D2L_TESTS_JUPYTER_CONFIG_DIR"]
    # One sandbox per grading command unless a test asks for workers (--jobs N): tests already run
    # one per core, and each worker process and its sandbox import torch again.  The worker pool is
    # tested where it is named (test_scale, test_end_to_end, test_dask) and by every Grader-run
    # test (test_hostile, test_fail_closed), whose environment is built without this variable.
    os.environ.setdefault("D2L_GRADE_JOBS", "1")


@pytest.fixture(scope="session")
def kit():
    """The repository's kit paths."""
    return KitPaths()


@pytest.fixture(scope="session")
def sandbox(kit, tmp_path_factory):
    """One warm sandbox for the whole test session; a fake course dir is hidden from children."""
    course = tmp_path_factory.mktemp("course")
    (course / "gradebook.db").write_text("grades")
    box = Sandbox(must_not_see=[*kit.secret_dirs(), course])
    box.course = course
    yield box
    box.close()


def _owned_by_a_live_grader(pid: str) -> bool:
    """Whether the first ancestor of ``pid`` outside the sandbox uids is a live process other than
    init: a sandbox (bubblewrap, zygote, children) of a grader still running on this machine.  The
    sandbox of a dead grader dies with it; anything of it reparented to init would be a leftover."""
    for _ in range(32):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = f.read().rsplit(")", 1)[1].split()[1]
            if pid in ("0", "1"):
                return False
            with open(f"/proc/{pid}/status") as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            if not in_range(uid):
                return True
        except (OSError, IndexError, StopIteration, ValueError):
            return False
    return False


def sandbox_uids(only: int | None = None, orphans: bool = False) -> list[int]:
    """PIDs of live processes owned by the sandbox's uid range, or by the uid ``only``.

    ``orphans``: only those no running zygote owns any more (another grader running at the same
    time on this machine keeps its own children alive; those are not leftovers of ours)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("State:") and line.split()[1] == "Z":
                            break  # already dead, waiting to be reaped
                        if line.startswith("Uid:"):
                            uid = int(line.split()[1])
                            if (uid == only) if only is not None else in_range(uid):
                                if not (orphans and _owned_by_a_live_grader(entry)):
                                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def describe_pids(pids: list[int]) -> str:
    """Command lines of leftover processes, for a failure message."""
    out = []
    for pid in pids:
        try:
            out.append(f"{pid}: " + open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()[:200])
        except OSError:
            pass
    return "; ".join(out)


@pytest.fixture(scope="session")
def wheel(kit, tmp_path_factory):
    """The kit's wheel, built once per session from a clean copy of the repository (tests/wheels.py)."""
    from wheels import build_wheel
    return build_wheel(kit.root, tmp_path_factory.mktemp("wheel"))
