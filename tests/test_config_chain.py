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

from autograder.config_chain import CourseConfigError  # noqa: E402
from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.course_files import SETTINGS_NAME, SETTINGS_TEMPLATE  # noqa: E402
from autograder.nbgrader_driver import dependent_grading, load_config  # noqa: E402

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


def late_course(kit, where: Path):
    """A released mini course whose assignment was due before ann's (partly right) submission."""
    from nbgrader.api import Gradebook
    course = build_course(where, kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        gb.update_or_create_assignment(A, duedate=datetime(2024, 2, 1, 12, 0))
    submit(course, "ann", answered(course, inc="return x - 1"))   # timestamp.txt: 2024-03-01
    return course


def score(course, student="ann") -> tuple[float, float]:
    """(score after the late penalty, as nbgrader's export computes it; the penalty)."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        sub = gb.find_submission(A, student)
        return max(0.0, sub.score - sub.late_submission_penalty), sub.late_submission_penalty


def both_ways(course) -> tuple[tuple[float, float], tuple[float, float]]:
    """ann's score after ``d2l-grade grade --force``, then after stock ``nbgrader autograde --force``."""
    proc = d2l_grade("grade", ".", A, "--force", "--jobs", "1", cwd=course.root)
    assert proc.returncode == 0, proc.stderr
    by_kit = score(course)
    proc = nbgrader("autograde", A, "--force", cwd=course.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return by_kit, score(course)


def test_a_user_level_late_penalty_gives_the_same_score_both_ways(kit, home, tmp_path):
    course = late_course(kit, tmp_path / "course")
    user_config(home, 'c.LateSubmissionPlugin.penalty_method = "zero"')
    assert both_ways(course) == ((0.0, PARTLY_RIGHT), (0.0, PARTLY_RIGHT))

    # the course's own setting wins over the user's, both ways
    settings = course.root / SETTINGS_NAME
    mine = settings.read_text()
    settings.write_text(mine + 'c.LateSubmissionPlugin.penalty_method = "none"\n')
    assert both_ways(course) == ((PARTLY_RIGHT, 0.0), (PARTLY_RIGHT, 0.0))

    # nobody asks for a penalty: the score as graded, both ways
    settings.write_text(mine)
    user_config(home, None)
    assert both_ways(course) == ((PARTLY_RIGHT, 0.0), (PARTLY_RIGHT, 0.0))


def test_settings_come_from_the_user_then_the_course(kit, home, tmp_path):
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: POINTS)
    assert dependent_grading(course, A) is None
    user_config(home, f'c.SandboxScorer.dependent_grading = {{"{A}": "independent"}}\n'
                      'c.LateSubmissionPlugin.penalty_method = "zero"')
    assert dependent_grading(course, A) == "independent"
    with (course.root / SETTINGS_NAME).open("a") as f:
        f.write(f'c.SandboxScorer.dependent_grading = {{"{A}": "with_helpers"}}\n')
    assert dependent_grading(course, A) == "with_helpers"
    config = load_config(course)
    assert config.LateSubmissionPlugin.penalty_method == "zero"
    assert config.Autograde.autograde_preprocessors[0] == "autograder.scorer.SandboxScorer"


def test_a_broken_setting_stops_grading_both_ways(kit, home, tmp_path):
    """A mistake in course_config.py never unloads the kit's wiring (nbgrader would then execute the
    notebook itself): d2l-grade refuses before grading, nbgrader's scorer refuses each student."""
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    submit(course, "ann", answered(course))
    with (course.root / SETTINGS_NAME).open("a") as f:
        f.write("c.LateSubmissionPlugin.penalty_method = zero\n")      # an undefined name
    with pytest.raises(CourseConfigError, match=f"{SETTINGS_NAME} could not be loaded: NameError"):
        load_config(course)
    proc = d2l_grade("grade", ".", A, "--jobs", "1", cwd=course.root)
    assert proc.returncode == 2
    assert f"{course.root / SETTINGS_NAME} could not be loaded: NameError" in proc.stderr
    proc = nbgrader("autograde", A, cwd=course.root)
    assert proc.returncode != 0
    assert f"not graded: {course.root / SETTINGS_NAME} could not be loaded" in proc.stdout + proc.stderr
    assert not (course.autograded("ann", A) / f"{A}.ipynb").exists()

    user_config(home, "c = get_config(")
    (course.root / SETTINGS_NAME).write_text(SETTINGS_TEMPLATE)
    with pytest.raises(CourseConfigError, match=r"\.jupyter/nbgrader_config\.py: SyntaxError"):
        load_config(course)


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


def readme_zip_collect_setting() -> str:
    """The ``named_regexp`` line the README tells instructors to put in course_config.py."""
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"^c\.FileNameCollectorPlugin\.named_regexp = .*$", readme, re.M)
    assert len(found) == 1, found
    return found[0]


def test_zip_collect_as_the_readme_says_then_grade(kit, home, tmp_path):
    setting = readme_zip_collect_setting()
    assert f"# {setting}" in SETTINGS_TEMPLATE          # the same example in a new course's settings
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    with (course.root / SETTINGS_NAME).open("a") as f:
        f.write(setting + "\n")
    archive = course.root / "downloaded" / A / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:
        zf.writestr(f"ann_{A}.ipynb", json.dumps(answered(course)))
        zf.writestr(f"ben_{A}.ipynb", json.dumps(answered(course, inc="return x - 1")))
    proc = nbgrader("zip_collect", A, cwd=course.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for student in ("ann", "ben"):
        assert (course.submitted(student, A) / f"{A}.ipynb").is_file(), proc.stderr

    proc = d2l_grade("grade", ".", A, "--jobs", "1", "--json", cwd=course.root)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert {s: sum(e["score"] for e in r.values()) for s, r in results.items()} == {"ann": 4.0, "ben": 3.0}
    assert "timestamp.txt" in proc.stderr      # no time in these names: named as undated
