"""nbgrader's own ``nbgrader validate`` (what the notebook's Validate button runs) on a released
notebook: it executes the notebook, so the self-check cells decide what it says.  An untouched
notebook fails on every exercise, a correct one succeeds, and mistakes only grading would otherwise
see (a banned built-in, a helper outside the answer cells) fail their exercise, as they lose points
in grading.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("nbgrader")

from autograder.course import build_course, reference_answer_cells, release_assignment  # noqa: E402
from autograder.notebook import d2l_meta  # noqa: E402

A = "softmax_regression"
EXERCISES = ["softmax", "cross_entropy", "accuracy", "sgd", "softmax_ce_grad", "build_concise_model",
             "train_concise"]
HELPER = ("def _pick(y_hat, y):\n"
          "    return y_hat[torch.arange(len(y_hat), device=y_hat.device), y]\n")


def _answered(release: dict, answers: dict[str, str], extra_cells=()) -> dict:
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            cell["source"] = answers[d2l_meta(cell)["function"]]
    setup = next(i for i, c in enumerate(nb["cells"]) if d2l_meta(c).get("role") == "setup")
    nb["cells"][setup + 1:setup + 1] = list(extra_cells)
    return nb


@pytest.fixture(scope="module")
def validated(kit, tmp_path_factory):
    """``nbgrader validate`` on three copies of the release, each in its own student folder (no
    nbgrader_config.py there, as on a student's machine), run side by side: {name: stdout}."""
    root = tmp_path_factory.mktemp("validate")
    course = build_course(root / "course", kit, assignments=[A])
    release = json.loads(release_assignment(course, A).read_text())
    reference = reference_answer_cells(kit, A)
    mistakes = {
        **reference,
        "softmax": "def softmax(X):\n    return torch.softmax(X, dim=1)\n",
        "cross_entropy": "def cross_entropy(y_hat, y):\n    return -torch.log(_pick(y_hat, y))\n",
    }
    scratch = {"cell_type": "code", "id": "scratch-pick", "metadata": {}, "source": HELPER, "outputs": [],
               "execution_count": None}
    notebooks = {"untouched": release, "filled": _answered(release, reference),
                 "mistakes": _answered(release, mistakes, [scratch])}
    procs = {}
    for name, nb in notebooks.items():
        folder = root / name
        folder.mkdir()
        (folder / f"{A}.ipynb").write_text(json.dumps(nb))
        procs[name] = subprocess.Popen([sys.executable, "-m", "nbgrader", "validate", f"{A}.ipynb"], cwd=folder,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr  # validate always exits 0: its output is the verdict
        out[name] = stdout
    return out


def _failed_cells(stdout: str) -> list[str]:
    """The source of each cell nbgrader validate lists as failed."""
    blocks = stdout.split("The following cell failed:")[1:]
    return [block.split("The error was:")[0].strip() for block in blocks]


def test_validate_fails_an_untouched_notebook_on_every_exercise(validated):
    out = validated["untouched"]
    assert out.startswith(f"VALIDATION FAILED ON {len(EXERCISES)} CELL(S)!"), out
    assert _failed_cells(out) == [f'self_check("{fn}", globals())' for fn in EXERCISES]
    assert "SelfCheckFailed: softmax: 3 of 5 checks failed (see its report)" in out


def test_validate_passes_a_correct_notebook(validated):
    assert validated["filled"].strip() == "Success! Your notebook passes all the tests.", validated["filled"]


def test_validate_fails_what_only_grading_used_to_see(validated):
    """torch.softmax in softmax and a helper in a scratch cell pass every public test in the kernel,
    and lose points in grading: validate now fails those two exercises, and only those."""
    out = validated["mistakes"]
    assert out.startswith("VALIDATION FAILED ON 2 CELL(S)!"), out
    assert _failed_cells(out) == ['self_check("softmax", globals())', 'self_check("cross_entropy", globals())']
    assert "SelfCheckFailed: softmax: 1 of 5 checks failed (see its report)" in out
    assert "SelfCheckFailed: cross_entropy: 1 of 5 checks failed (see its report)" in out
