"""Configuration as nbgrader has it: ``d2l-grade grade`` and stock ``nbgrader autograde`` read the same
files (the user's ``nbgrader_config.py``, then the course's, which loads ``course_config.py``), a
build never loses the instructor's settings, and the README's ``zip_collect`` setup works.

Uses the mini kit of ``test_nbgrader_flow``; ``d2l-grade`` and ``nbgrader`` run as subprocesses
with ``HOME`` and ``JUPYTER_CONFIG_DIR`` in a temporary folder (never the real ``~/.jupyter``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.course_files import SETTINGS_NAME, SETTINGS_TEMPLATE  # noqa: E402

from test_nbgrader_flow import A, answered, make_kit, submit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POINTS = {"double": 3.0, "inc": 1.0}
PARTLY_RIGHT = 3.0           # double right (3 points), inc wrong (1 point)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user's home with an empty Jupyter config dir, for this process and the subprocesses."""
    home = tmp_path / "home"
    (home / ".jupyter").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home / ".jupyter"))
    return home


def user_config(home: Path, text: str | None) -> None:
    """Write (None: remove) the user-level ``nbgrader_config.py``."""
    path = home / ".jupyter" / "nbgrader_config.py"
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text("c = get_config()\n" + text + "\n")


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``argv`` with this worktree's package first and this venv's commands on PATH."""
    env = dict(os.environ, PYTHONPATH=str(ROOT),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(argv, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=600)


def d2l_grade(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "autograder.cli", *args], cwd)


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Stock ``nbgrader`` (its console script), run in ``cwd``."""
    script = Path(sys.executable).parent / "nbgrader"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "nbgrader"]
    return run([*argv, *args], cwd)


def test_a_build_keeps_the_settings_and_refuses_to_drop_a_hand_edit(tmp_path):
    course = tmp_path / "course"
    kit_assignment = "linear_regression"
    proc = d2l_grade("course", "build", str(course), "--assignment", kit_assignment, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    settings, wiring = course / SETTINGS_NAME, course / "nbgrader_config.py"
    assert settings.read_text() == SETTINGS_TEMPLATE
    edited = SETTINGS_TEMPLATE + 'c.LateSubmissionPlugin.penalty_method = "zero"\n'
    settings.write_text(edited)
    built = wiring.read_text()

    proc = d2l_grade("course", "build", str(course), "--assignment", kit_assignment, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert settings.read_text() == edited and wiring.read_text() == built

    wiring.write_text(built + 'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    shutil.rmtree(course / "source")
    proc = d2l_grade("course", "build", str(course), "--assignment", kit_assignment, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(settings) in lines[0] and "--force" in lines[0], proc.stderr
    assert wiring.read_text().endswith('"zero"\n') and not (course / "source").exists()  # nothing written

    proc = d2l_grade("course", "build", str(course), "--assignment", kit_assignment, "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert wiring.read_text() == built and settings.read_text() == edited
    assert (course / "source" / kit_assignment / f"{kit_assignment}.ipynb").is_file()
