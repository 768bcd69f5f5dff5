"""Rough paths of ``d2l-grade``: one line saying what was expected and what to do, and a non-zero
exit status whenever nothing or not everyone was graded and recorded.

Uses the mini kit of ``test_nbgrader_flow`` (two exercises, a real hidden suite) through the CLI
as a subprocess, so that each case costs a few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from autograder.course import build_course, release_assignment  # noqa: E402

from test_nbgrader_flow import A, answered, make_kit, submit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POINTS = {"double": 3.0, "inc": 1.0}


def d2l_grade(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``d2l-grade ARGS`` with this worktree's package, in ``cwd``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def course(kit, tmp_path_factory):
    """A released mini course: ann submitted mini.ipynb, bob a browser-renamed ``mini (1).ipynb``."""
    course = build_course(tmp_path_factory.mktemp("errors") / "course", kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    submit(course, "ann", answered(course))
    folder = submit(course, "bob")
    (folder / f"{A} (1).ipynb").write_text(json.dumps(answered(course)))
    return course


@pytest.fixture(scope="module")
def unreleased(kit, tmp_path_factory):
    """A course built from the kit but never released (no ``nbgrader generate_assignment``)."""
    course = build_course(tmp_path_factory.mktemp("unreleased") / "course", kit, points=lambda spec, kit: POINTS)
    return course


def gradebook_students(course) -> set[str]:
    import sqlite3
    if not course.gradebook.is_file():
        return set()
    db = sqlite3.connect(course.gradebook)
    try:
        return {row[0] for row in db.execute("select student.id from submitted_assignment "
                                             "join student on student.id = submitted_assignment.student_id")}
    finally:
        db.close()


def one_error_line(proc) -> str:
    """The CLI's message: one line on stderr starting with ``d2l-grade:``, no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("d2l-grade:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_version_comes_from_the_package():
    from autograder.cli import version
    proc = d2l_grade("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"d2l-grade {version()}"
    assert version()[0].isdigit()


def test_help_lists_the_exit_codes():
    proc = d2l_grade("grade", "--help")
    assert proc.returncode == 0
    for code in ("0 ", "2 ", "3 ", "4 ", "5 "):
        assert f"\n  {code}" in proc.stdout, proc.stdout


def test_a_student_without_a_submission_is_named_not_graded_as_zero(course):
    proc = d2l_grade("grade", str(course.root), A, "--student", "nobody")
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert "no submission of 'nobody' for 'mini'" in line
    assert f"{course.root}/submitted/STUDENT/{A}/" in line and "ann, bob" in line
    assert "nobody" not in proc.stdout and "0/4" not in proc.stdout     # no fake row
    assert "nobody" not in gradebook_students(course)


def test_the_others_are_graded_when_one_named_student_has_no_submission(course):
    proc = d2l_grade("grade", str(course.root), A, "--student", "nobody", "--student", "ann", "--json")
    assert proc.returncode == 5, proc.stderr
    assert list(json.loads(proc.stdout)) == ["ann"]
    assert "no submission of 'nobody'" in proc.stderr
    assert "1 student(s) not graded and recorded in the gradebook (nobody)" in proc.stderr
    assert "ann" in gradebook_students(course)


def test_grading_before_the_release_gives_the_command(unreleased):
    submit(unreleased, "ann", {"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}})
    proc = d2l_grade("grade", str(unreleased.root), A)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert "has not been released yet" in line and "cannot read" not in line
    assert f"cd {unreleased.root} && nbgrader generate_assignment {A}" in line
    assert not unreleased.gradebook.exists() or not gradebook_students(unreleased)


def test_an_unknown_assignment_lists_the_valid_ones(course):
    proc = d2l_grade("grade", str(course.root), "mlp")
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert "no assignment named 'mlp'" in line and line.endswith(f": {A}")


def test_an_assignment_of_the_kit_left_out_of_the_course_gives_the_build_command(tmp_path):
    kit = make_kit(tmp_path / "kit")
    (kit.assignments / "extra.ipynb").write_text(kit.assignment_notebook(A).read_text())
    course = build_course(tmp_path / "course", kit, assignments=[A], points=lambda spec, kit: POINTS)
    proc = d2l_grade("grade", str(course.root), "extra")
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert f"its assignments (in {course.root / 'source'}): {A}; the kit has it" in line
    assert f"d2l-grade course build {course.root} --assignment extra" in line


def test_nobody_submitted_says_where_submissions_go(kit, tmp_path):
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    proc = d2l_grade("grade", str(course.root), A)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert f"nobody has submitted '{A}'" in line and f"{course.root}/submitted/STUDENT/{A}/" in line


def test_the_readme_walkthrough_cd_then_dot(course):
    """``cd COURSE`` then ``d2l-grade grade COURSE`` names ``.``; ``.`` grades.  bob's notebook has
    a browser's name: the warning names the file found and the name expected."""
    name = course.root.name
    proc = d2l_grade("grade", name, A, cwd=course.root)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc)
    assert f"no course directory {course.root / name}" in line and "use `.`" in line

    proc = d2l_grade("grade", ".", A, "--student", "bob", cwd=course.root)
    assert proc.returncode == 0, proc.stderr
    warning = next(ln for ln in proc.stderr.splitlines() if ln.startswith("warning: bob:"))
    assert f"it has no {A}.ipynb but holds {A} (1).ipynb" in warning
    assert f"must be named exactly {A}.ipynb" in warning
    assert "bob" in gradebook_students(course)


def test_a_student_nbgrader_cannot_record_fails_the_command(course, tmp_path):
    """A folder whose name nbgrader must not be given (a space) is not recorded: exit 5, named."""
    folder = course.submitted("eve smith", A)
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text(json.dumps(answered(course)))
    try:
        proc = d2l_grade("grade", str(course.root), A, "--json")
    finally:
        import shutil
        shutil.rmtree(folder.parent)
    assert proc.returncode == 5, proc.stderr
    assert {"ann", "bob"} <= set(json.loads(proc.stdout))
    assert "warning: eve smith: not recorded in the gradebook: student id 'eve smith' is not accepted" in proc.stderr
    assert "not graded and recorded in the gradebook (eve smith)" in proc.stderr


def test_misnamed_notebook_names_at_most_five_printable_names(tmp_path):
    from autograder.nbgrader_driver import misnamed_notebook
    assert misnamed_notebook(tmp_path / "mlp.ipynb") == "it has no mlp.ipynb (no notebook at all in the submission)"
    (tmp_path / "notes.txt").write_text("")
    for i in range(7):
        (tmp_path / f"mlp ({i}).ipynb").write_text("{}")
    (tmp_path / "a\x1b[2J.ipynb").write_text("{}")   # a terminal escape in a student's file name
    reason = misnamed_notebook(tmp_path / "mlp.ipynb")
    assert reason.startswith("it has no mlp.ipynb but holds a?[2J.ipynb, mlp (0).ipynb, mlp (1).ipynb")
    assert ", ..." in reason and "mlp (4).ipynb" not in reason
    assert "notes.txt" not in reason and "\x1b" not in reason
    assert reason.endswith("must be named exactly mlp.ipynb (rename it to mlp.ipynb)")


def test_a_missing_torch_is_named_with_the_cpu_build():
    """A bare ``pip install torch`` would pull a CUDA build of several GB: the hint names the CPU one."""
    from autograder.cli import missing_module_message
    hint = missing_module_message(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert "'torch'" in hint and "download.pytorch.org/whl/cpu" in hint and "<2.14" in hint
    assert "pip install pytest" in missing_module_message(ModuleNotFoundError("x", name="pytest"))
    assert missing_module_message(ModuleNotFoundError("x", name="autograder.nope")) is None


def test_a_hand_copied_submission_without_timestamp_is_named(kit, tmp_path):
    """nbgrader applies no late penalty to a submission without ``timestamp.txt``: the instructor is
    told which ones, once, and they are still graded (exit 0)."""
    course = build_course(tmp_path / "course", kit, points=lambda spec, kit: POINTS)
    release_assignment(course, A)
    submit(course, "dated", answered(course))
    for student in ("copied1", "copied2"):
        (submit(course, student, answered(course)) / "timestamp.txt").unlink()
    proc = d2l_grade("grade", str(course.root), A, "--jobs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) == {"dated", "copied1", "copied2"}
    lines = [ln for ln in proc.stderr.splitlines() if "timestamp.txt" in ln]
    assert len(lines) == 1, proc.stderr
    assert "2 submission(s)" in lines[0] and "copied1, copied2" in lines[0] and "dated" not in lines[0]
    assert "no late penalty" in lines[0]


def test_a_deleted_autograded_folder_is_written_again_for_feedback(course):
    """Grading again reuses the stored result, but a submission whose autograded notebook is gone
    (deleted by hand) is recorded again, so that nbgrader's feedback has a notebook to render."""
    proc = d2l_grade("grade", str(course.root), A, "--student", "ann")
    assert proc.returncode == 0, proc.stderr
    import shutil
    shutil.rmtree(course.root / "autograded" / "ann")
    proc = d2l_grade("grade", str(course.root), A, "--student", "ann", "--feedback")
    assert proc.returncode == 0, proc.stderr
    assert "no feedback generated" not in proc.stderr
    assert (course.root / "autograded" / "ann" / A / f"{A}.ipynb").is_file()
    assert (course.root / "feedback" / "ann" / A / f"{A}.html").is_file()


def test_default_jobs_from_the_environment(monkeypatch):
    """``--jobs`` defaults to $D2L_GRADE_JOBS, else the cores; a bad value is one clear error."""
    from autograder.course_grading import default_jobs
    monkeypatch.setenv("D2L_GRADE_JOBS", "3")
    assert default_jobs() == 3
    monkeypatch.delenv("D2L_GRADE_JOBS")
    assert default_jobs() == len(os.sched_getaffinity(0))
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("D2L_GRADE_JOBS", bad)
        with pytest.raises(ValueError, match="D2L_GRADE_JOBS"):
            default_jobs()
