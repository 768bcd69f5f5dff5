"""The student's `d2l-grade check` and the CLI's handling of bad input."""

import json
import subprocess
import sys

import pytest

from autograder.course import derive_source_notebook
from autograder.course import SOLUTION_MARKERS
from autograder.notebook import d2l_meta

ASSIGNMENT = "softmax_regression"
EXERCISES = 7  # softmax, cross_entropy, accuracy, sgd, softmax_ce_grad, build_concise_model, train_concise


def d2l_grade(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def notebooks(kit, tmp_path_factory):
    """(filled, stubs) notebook paths: the reference answers, and the assignment as released."""
    folder = tmp_path_factory.mktemp("check")
    nb = derive_source_notebook(kit, ASSIGNMENT, points={})
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = "".join(ln for ln in text.splitlines(True) if ln.strip() not in SOLUTION_MARKERS)
    (folder / "filled").mkdir()
    filled = folder / "filled" / f"{ASSIGNMENT}.ipynb"  # the name the grader picks up
    filled.write_text(json.dumps(nb))
    stubs = folder / f"{ASSIGNMENT}.ipynb"
    stubs.write_text(kit.assignment_notebook(ASSIGNMENT).read_text())
    return filled, stubs


def test_check_passes_the_reference(notebooks):
    filled, _ = notebooks
    proc = d2l_grade("check", str(filled))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == EXERCISES and all(line.startswith("PASS") for line in lines)
    # on a student's own machine the check runs weaker than grading, and says so
    assert "resource limits only, not in the grader's sandbox" in proc.stderr


def test_check_fails_the_stubs_one_line_per_exercise(notebooks):
    _, stubs = notebooks
    proc = d2l_grade("check", str(stubs))
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == EXERCISES and all(line.startswith("FAIL") and "NotImplementedError" in line for line in lines)


def test_check_refuses_a_file_that_is_not_a_notebook(tmp_path):
    bad = tmp_path / "answers.ipynb"
    bad.write_text("def softmax(X): return X")
    proc = d2l_grade("check", str(bad))
    assert proc.returncode == 1
    assert "not a Jupyter notebook" in proc.stdout and "Traceback" not in proc.stderr


def test_grade_on_a_directory_that_is_not_a_course(tmp_path):
    proc = d2l_grade("grade", str(tmp_path), ASSIGNMENT)
    assert proc.returncode == 2
    assert "not a course built by d2l-grade" in proc.stderr and "Traceback" not in proc.stderr


def test_self_check_cells_run_in_the_notebook(notebooks):
    """The filled notebook runs top to bottom in a kernel, self-check cells included."""
    nbclient = pytest.importorskip("nbclient")
    import nbformat
    filled, _ = notebooks
    nb = nbformat.read(filled, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(filled.parent)}}).execute()
    checks = [c for c in nb.cells if d2l_meta(c).get("role") == "selfcheck"]
    text = "\n".join(o.get("text", "") for c in checks for o in c.outputs if o.get("output_type") == "stream")
    assert text.count("PASS") == EXERCISES and "FAIL" not in text
