"""A student's install, as the README's "Student workflow" says: the kit's wheel, without extras,
in a fresh venv, runs `d2l-grade check` and the notebooks' self-check cells; and when a module the
kit needs is missing, the message names it and the command that installs it.

The venv is made under the test's tmp folder and pip runs without a cache (nothing is kept outside
tmp); torch 2.13.0 (the CPU wheel) is pinned as the README tells a student to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.course import reference_answer_cells
from autograder.notebook import d2l_meta

ASSIGNMENT = "softmax_regression"
EXERCISES = 7  # softmax, cross_entropy, accuracy, sgd, softmax_ce_grad, build_concise_model, train_concise
TORCH = "torch==2.13.0"


def _clean_env() -> dict[str, str]:
    """This environment without what would let the venv see the repository or this test session."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("PYTEST_")}


def _run(args, cwd: Path, timeout=300, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=env or _clean_env())


def filled_notebook(kit, assignment: str) -> dict:
    """The notebook as released, with every answer cell holding the reference answer."""
    nb = json.loads(kit.assignment_notebook(assignment).read_text())
    answers = reference_answer_cells(kit, assignment)
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            cell["source"] = answers[d2l_meta(cell)["function"]]
    return nb


@pytest.fixture(scope="module")
def notebooks(kit, tmp_path_factory) -> tuple[Path, Path]:
    """(filled, untouched) notebooks, each named as the grader picks it up (``<assignment>.ipynb``)."""
    folder = tmp_path_factory.mktemp("student")
    (folder / "filled").mkdir()
    (folder / "untouched").mkdir()
    filled = folder / "filled" / f"{ASSIGNMENT}.ipynb"
    filled.write_text(json.dumps(filled_notebook(kit, ASSIGNMENT)))
    untouched = folder / "untouched" / f"{ASSIGNMENT}.ipynb"
    untouched.write_text(kit.assignment_notebook(ASSIGNMENT).read_text())
    return filled, untouched


@pytest.fixture(scope="module")
def student_venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding torch and the kit's wheel, no extras: its ``bin`` folder."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=root)
    assert made.returncode == 0, made.stdout + made.stderr
    installed = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-cache-dir", "--no-compile",
                      TORCH, wheel], cwd=root, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = _run([venv / "bin" / "python", "-c", "import autograder; print(autograder.__file__)"], cwd=root)
    # the installed package, not the repository this test runs from
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr
    return venv / "bin"


def test_the_base_dependencies_hold_what_the_public_checks_import(wheel):
    """pytest (the public suites are pytest modules) comes with the plain install, not an extra."""
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    for name in ("torch", "numpy", "pytest"):
        assert any(r.startswith(name) for r in base), (name, base)
    assert any(r.replace(" ", "") == "torch<2.14,>=2.2" or r.replace(" ", "") == "torch>=2.2,<2.14" for r in base), base


def test_check_passes_the_filled_notebook_in_a_fresh_install(student_venv, notebooks):
    filled, _ = notebooks
    proc = _run([student_venv / "d2l-grade", "check", filled.name], cwd=filled.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == EXERCISES and all(line.startswith("PASS") for line in lines), proc.stdout
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_check_fails_the_untouched_notebook_in_a_fresh_install(student_venv, notebooks):
    _, untouched = notebooks
    proc = _run([student_venv / "d2l-grade", "check", untouched.name], cwd=untouched.parent)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == EXERCISES, proc.stdout
    assert all(line.startswith("FAIL") and "NotImplementedError" in line for line in lines), proc.stdout


# Runs each notebook's setup cell, then an exercise's answer cell and its self-check cell, as a kernel
# would (one namespace per notebook, as __main__); prints what the self-check printed and raised.
SELF_CHECK_SCRIPT = r'''
import json, sys
function = sys.argv[1]
source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
meta = lambda c: c.get("metadata", {}).get("d2l", {})
for path in sys.argv[2:]:
    print(f"NOTEBOOK {path}")
    namespace = {"__name__": "__main__"}
    for cell in json.load(open(path))["cells"]:
        m = meta(cell)
        if cell["cell_type"] == "code" and (m.get("role") == "setup" or (
                m.get("function") == function and m.get("role") in ("exercise", "selfcheck"))):
            try:
                exec(compile(source(cell), "<cell>", "exec"), namespace)
            except Exception as exc:
                print(f"RAISED {type(exc).__name__}: {exc}")
'''


def test_self_check_cells_run_in_a_fresh_install(student_venv, notebooks, tmp_path):
    filled, untouched = notebooks
    script = tmp_path / "cells.py"
    script.write_text(SELF_CHECK_SCRIPT)
    proc = _run([student_venv / "python", script, "softmax", filled, untouched], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed, failed = proc.stdout.split(f"NOTEBOOK {untouched}")
    assert "PASS softmax" in passed and "RAISED" not in passed, proc.stdout + proc.stderr
    assert "unavailable" not in proc.stdout, proc.stdout
    assert "FAIL softmax" in failed and "RAISED SelfCheckFailed" in failed, proc.stdout + proc.stderr


# ----------------------------------------------------------------------- a module the kit needs is missing

def _setup_cell(kit) -> str:
    nb = json.loads(kit.assignment_notebook(ASSIGNMENT).read_text())
    (cell,) = [c for c in nb["cells"] if d2l_meta(c).get("role") == "setup"]
    return "".join(cell["source"])


@pytest.mark.parametrize("hidden, expected", [
    ("pytest", ["No module named 'pytest'", "the kit needs the Python module 'pytest'", "%pip install pytest"]),
    ("autograder", ["No module named 'autograder'", "install the kit", "%pip install d2l_autograder-"]),
])
def test_self_check_cell_names_what_is_missing(kit, tmp_path, hidden, expected):
    """The setup cell's fallback says which module is missing and how to install it, instead of
    "install the kit" when the kit is there and only a dependency is not."""
    script = ("import sys\n"
              "class Hide:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              f"        if name.split('.')[0] == {hidden!r}:\n"
              "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
              "sys.meta_path.insert(0, Hide())\n"
              "namespace = {'__name__': '__main__'}\n"
              f"exec({_setup_cell(kit)!r}, namespace)\n"
              "namespace['self_check']('softmax', namespace)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Self-check unavailable"), proc.stdout
    for text in expected:
        assert text in proc.stdout, proc.stdout


def test_check_names_a_missing_module_and_how_to_install_it(notebooks, tmp_path):
    _, untouched = notebooks
    script = ("import sys\n"
              "sys.modules['pytest'] = None  # as if it were not installed\n"
              "from autograder.cli import main\n"
              f"sys.exit(main(['check', {str(untouched)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    assert "the kit needs the Python module 'pytest'" in proc.stderr, proc.stderr
    assert f"{sys.executable} -m pip install pytest" in proc.stderr, proc.stderr
