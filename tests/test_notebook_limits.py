"""The trusted grader reads student text in linear time, and a notebook over a limit still gets a
grade with a message that says which limit and what to do (DESIGN.md §4, rule 9).

Every pathological input runs under a hang guard (``SIGALRM`` after a generous 20 s): these tests
assert that the parsing finishes and what it reports, never how fast it is.
"""

from __future__ import annotations

import contextlib
import json
import signal

import pytest

from autograder import nbgrader_driver, notebook, scorer
from autograder.notebook import (MAX_CELL_CHARS, MAX_CELLS, MAX_NOTEBOOK_BYTES, AssignmentSpec,
                                 NotebookError, read_notebook, submission_from_notebook)
from autograder.plugin import _safe_id
from autograder.selfcheck import spec_from_student_notebook

from test_nbgrader_flow import (A, answered, fake_grade, grade_cells, gradebook_scores, make_kit,
                                output_text, submit)

MB = 1024 * 1024
SPEC = AssignmentSpec(name="mini", notebook={"cells": []}, exercises=["softmax", "sgd"], setup_cells=[])


class Hung(Exception):
    """The guarded call did not finish within its time."""


@contextlib.contextmanager
def hang_guard(seconds: int = 20):
    """Fail (instead of stalling the run) when the body takes more than ``seconds``."""
    def on_alarm(signum, frame):
        raise Hung(f"did not finish within {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def code(source, grade_id=None, cell_id="c"):
    """A code cell, tagged with nbgrader's ``grade_id`` when one is given."""
    meta = {"nbgrader": {"grade_id": grade_id, "solution": True}} if grade_id is not None else {}
    return {"cell_type": "code", "id": cell_id, "metadata": meta, "source": source, "outputs": []}


def parse(cells):
    """``submission_from_notebook`` over ``cells``, under the hang guard."""
    with hang_guard():
        return submission_from_notebook({"cells": cells}, SPEC, "student")


def write(tmp_path, text, name="nb.ipynb"):
    path = tmp_path / name
    path.write_text(text)
    return path


def read_error(path) -> str:
    """The message ``read_notebook`` refuses ``path`` with (under the hang guard)."""
    with hang_guard(), pytest.raises(NotebookError) as excinfo:
        read_notebook(path)
    return str(excinfo.value)


# --- answer cells: finding the cell that defines a function ---------------------------------------

@pytest.mark.parametrize("filler", ["\n" * (3 * MB), " \n" * (2 * MB), "\t \r\n" * MB, "def \n" * MB,
                                    "class\n" * MB, " " * (4 * MB)])
def test_megabytes_of_whitespace_finish_and_report_missing_answers(filler):
    sub = parse([code(filler), code(filler)])
    assert sub.exercise_cells == {}
    assert sub.problems == [f"the answer cell for {f} is missing from the notebook (deleted, or its "
                            "function renamed)" for f in SPEC.exercises]


def test_def_followed_by_megabytes_of_spaces():
    sub = parse([code("def" + " " * (3 * MB) + "softmax(X):\n    return X\n")])
    assert sub.exercise_cells["softmax"] == ""  # found, but over the cell limit: not graded
    over = [p for p in sub.problems if p.startswith("the answer cell for softmax has ")]
    assert len(over) == 1 and f"over the limit of {MAX_CELL_CHARS:,} characters" in over[0]
    assert "keep only your code for softmax in that cell" in over[0]

    spaced = "def" + " " * (MAX_CELL_CHARS // 2) + "softmax(X):\n    return X\n"
    sub = parse([code("\n" * (MAX_CELL_CHARS // 2)), code(spaced)])
    assert sub.exercise_cells["softmax"] == spaced
    assert "the answer cell for softmax lost its grading metadata" in sub.problems[0]


def test_untagged_cells_are_found_as_before():
    cells = [code("x = 1\n\n  def softmax2(X): pass\nsoftmax = 3"),
             code("import torch\n\nclass  sgd(object):\n    pass\n", cell_id="b"),
             code("\x0cdef softmax(X):\n    return X.exp()\n", cell_id="c")]
    sub = parse(cells)
    assert sub.exercise_cells == {"softmax": cells[2]["source"], "sgd": cells[1]["source"]}
    assert all("lost its grading metadata" in p for p in sub.problems)


def test_huge_grade_ids_and_cell_ids_are_not_echoed():
    big = "softmax" * MB
    cells = [code("def softmax(X):\n    return X\n", grade_id=big, cell_id=big),
             code("pass", grade_id="sgd", cell_id="s" * (2 * MB)),
             code("pass", grade_id=["not", "a", "string"])]
    sub = parse(cells)
    assert sub.exercise_cells == {"sgd": "pass"}
    assert any("the answer cell for softmax is missing" in p for p in sub.problems)
    assert all(len(p) < 500 for p in sub.problems)


def test_100k_cells_finish():
    cells = [code(f"def h{i}():\n    pass\n", cell_id=f"c{i}") for i in range(100_000)]
    cells.append(code("def sgd(params):\n    pass\n", cell_id="last"))
    sub = parse(cells)
    assert list(sub.exercise_cells) == ["sgd"]


def test_many_tagged_duplicates_finish():
    sub = parse([code("pass", grade_id="softmax", cell_id=f"c{i}") for i in range(100_000)])
    assert "the answer cell for softmax appears 100000 times" in sub.problems[0]


# --- reading the notebook file: the limits -------------------------------------------------------

def test_a_notebook_over_the_size_limit_is_refused_with_what_to_do(tmp_path):
    path = write(tmp_path, '{"cells": [], "pad": "' + "\n" * (MAX_NOTEBOOK_BYTES + 10) + '"}')
    message = read_error(path)
    assert f"over the limit of {MAX_NOTEBOOK_BYTES // MB} MiB" in message
    assert "clear all outputs" in message and "submit it again" in message


def test_a_notebook_over_the_cell_limit_is_refused_with_what_to_do(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ""}] * 100_000
    message = read_error(write(tmp_path, json.dumps({"cells": cells})))
    assert f"100,000 cells, over the limit of {MAX_CELLS:,} cells" in message
    assert "delete the cells you added" in message and "submit it again" in message
    at_limit = write(tmp_path, json.dumps({"cells": cells[:MAX_CELLS]}), "ok.ipynb")
    with hang_guard():
        assert len(read_notebook(at_limit)["cells"]) == MAX_CELLS


@pytest.mark.parametrize("text", ["[" * (5 * MB), '{"cells": [' + '{"a": [' * 200_000,
                                  '{"cells": [{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}]}",
                                  '{"cells": [], "n": ' + "9" * 100_000 + "}"])
def test_deeply_nested_or_absurd_json_is_not_a_notebook(tmp_path, text):
    assert "is not a Jupyter notebook (it is not valid JSON)" in read_error(write(tmp_path, text))


def test_a_folder_in_place_of_the_notebook(tmp_path):
    (tmp_path / "nb.ipynb").mkdir()
    assert "is not a regular file" in read_error(tmp_path / "nb.ipynb")


def test_notes_from_the_student_notebook_metadata_are_bounded():
    nb = {"metadata": {"d2l": {"assignment": "x" * MB}},
          "cells": [{"cell_type": "code", "metadata": {"d2l": {"role": "exercise", "function": name}},
                     "source": ""} for name in ("softmax", "y" * MB, "bad name", "softmax")]}
    with hang_guard():
        spec = spec_from_student_notebook(nb, "fallback")
    assert spec.exercises == ["softmax"] and spec.name != "x" * MB


# --- other text the trusted grader parses --------------------------------------------------------

def test_nbgrader_cause_is_linear_and_finds_the_exception():
    log = ("[AutogradeApp | ERROR] failed\nTraceback (most recent call last):\n"
           '  File "nbgrader/x.py", line 3, in f\n    raise ValueError("bad")\n    ^^^^^^^^\n'
           "nbformat.validator.NotebookValidationError: bad cell\n[AutogradeApp | INFO] done\n")
    assert nbgrader_driver.nbgrader_cause(log) == "nbformat.validator.NotebookValidationError: bad cell"
    for text in ["Traceback (most recent call last):\n" * 200_000,
                 "Traceback (most recent call last):\n" + "Error" * MB + "\n",
                 "Traceback (most recent call last):\n" + ("a." * MB) + ": x\n",
                 "\n" * (5 * MB)]:
        with hang_guard():
            assert nbgrader_driver.nbgrader_cause(text) == "unknown error"
    with hang_guard():
        tail = nbgrader_driver.nbgrader_cause(log * 20_000 + "Traceback (most recent call last):\n"
                                              "KeyError: " + "k" * MB)
    assert tail.startswith("KeyError: kkk") and len(tail) == 300


def test_notes_are_matched_to_exercises_by_whole_word():
    assert scorer.mentions("the answer cell for softmax is missing", "softmax")
    assert not scorer.mentions("softmax_ce_grad lost its metadata", "softmax")
    assert not scorer.mentions("xsoftmax", "softmax")
    assert scorer.mentions("(softmax)", "softmax") and scorer.mentions("softmax", "softmax")
    with hang_guard():
        assert not scorer.mentions("softmax" * (MB // 4) + "_", "softmax")
        assert scorer.mentions("a" * (3 * MB) + " softmax", "softmax")


def test_safe_id_of_a_huge_student_id():
    with hang_guard():
        assert _safe_id("é/" * (5 * MB)) == "_" * 60
    assert _safe_id("ann.b-c_1") == "ann.b-c_1" and _safe_id("") == "_"


# --- a notebook over a limit still gets a grade, with the message --------------------------------

@pytest.fixture(scope="module")
def mini_kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture
def mini_course(mini_kit, tmp_path):
    from autograder.course import build_course, release_assignment
    course = build_course(tmp_path / "course", mini_kit, points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    release_assignment(course, A)
    yield course


def strict_grade(spec, subs, kit, must_not_see=(), **options):
    """Full marks for an exercise whose answer is not empty and does not raise NotImplementedError."""
    out = fake_grade(spec, subs, kit, must_not_see)
    for key, sub in subs.items():
        for function, entry in out[key].items():
            if not sub.exercise_cells.get(function):
                entry["score"], entry["tests"][0]["passed"], entry["tests"][0]["points"] = 0.0, False, 0.0
    return out


def test_notebooks_over_a_limit_are_graded_zero_with_the_message(mini_course, mini_kit, monkeypatch):
    # small limits, so that nbgrader itself is quick with the notebooks over them
    monkeypatch.setattr(notebook, "MAX_CELLS", 60)
    monkeypatch.setattr(notebook, "MAX_NOTEBOOK_BYTES", MB)
    good = answered(mini_course)
    submit(mini_course, "good", good)
    extra = [{"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": "note"} for i in range(60)]
    submit(mini_course, "many", dict(good, cells=good["cells"] + extra))
    pasted = {"cell_type": "markdown", "id": "big", "metadata": {}, "source": "x" * (MB + 100)}
    submit(mini_course, "big", dict(good, cells=good["cells"] + [pasted]))
    long_cell = json.loads(json.dumps(good))
    next(c for c in long_cell["cells"] if c["id"] == "double")["source"] += "\n#" + "x" * MAX_CELL_CHARS
    submit(mini_course, "longcell", long_cell)

    with hang_guard(300):
        _results, recorded = nbgrader_driver.grade_and_record(mini_course, A, kit=mini_kit, grade=strict_grade)
    assert all(ok for ok, _ in recorded.values()), recorded
    full, zero = {"check_double": 3.0, "check_inc": 1.0}, {"check_double": 0.0, "check_inc": 0.0}
    scores = {s: gradebook_scores(mini_course, s) for s in ("good", "many", "big", "longcell")}
    assert scores == {"good": full, "many": zero, "big": zero, "longcell": {"check_double": 0.0, "check_inc": 1.0}}

    for student, words in (("many", ["has 66 cells, over the limit of 60 cells", "delete the cells you added"]),
                           ("big", ["over the limit of 1 MiB", "clear all outputs"])):
        for cell in grade_cells(mini_course, student).values():
            text = output_text(cell)
            assert all(w in text for w in words), text
    cells = grade_cells(mini_course, "longcell")
    assert f"over the limit of {MAX_CELL_CHARS:,} characters" in output_text(cells["check_double"])
    assert "over the limit" not in output_text(cells["check_inc"])
