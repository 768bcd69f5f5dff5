"""Flags for review: what the grader sees a submission's code do from outside the sandboxed child
(a crash, a timeout, a notebook over a limit) is kept with the result and set as nbgrader's
``flagged`` on the submitted notebook; honest and merely wrong answers are never flagged.

A small class of the mini kit of ``test_nbgrader_flow`` is graded once, for real (sandbox,
hidden suite, nbgrader)."""

from __future__ import annotations

import copy
import json

import pytest

pytest.importorskip("nbgrader")

from autograder import nbgrader_driver as D  # noqa: E402
from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.flags import MAX_FLAGS, MAX_TEXT, FlagLog, from_plain  # noqa: E402
from autograder.notebook import MAX_CELLS  # noqa: E402
from autograder.results import ResultsStore, SubmissionResult  # noqa: E402

from test_nbgrader_flow import A, answered, make_kit, release_nb, submit  # noqa: E402

EXITS = "import os\n    os._exit(0)"
LOOPS = "while True:\n        pass"


def gradebook_flagged(course) -> dict[str, bool]:
    """``{student: flagged}`` of every submitted notebook of ``A`` in the gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        return {s.student.id: gb.find_submission_notebook(A, A, s.student.id).flagged
                for s in gb.assignment_submissions(A)}


def set_flag(course, student: str, value: bool) -> None:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course.gradebook}") as gb:
        gb.find_submission_notebook(A, A, student).flagged = value
        gb.db.commit()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    kit = make_kit(tmp_path_factory.mktemp("kit"))
    course = build_course(tmp_path_factory.mktemp("c") / "course", kit,
                          points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    release_assignment(course, A)
    submit(course, "honest", answered(course))
    submit(course, "wrong", answered(course, inc="return x - 1"))
    submit(course, "exits", answered(course, double=EXITS))
    submit(course, "loops", answered(course, inc=LOOPS))
    huge = copy.deepcopy(release_nb(course))
    huge["cells"] += [{"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": "x"}
                      for i in range(MAX_CELLS)]
    submit(course, "huge", huge)
    results, recorded = D.grade_and_record(course, A, kit=kit)
    assert all(ok for ok, _ in recorded.values()), recorded
    return course, kit, results


def stored_flags(course, student) -> list[dict]:
    doc = json.loads((course.root / ".d2l_results" / A / f"{student}.json").read_text())
    return doc.get("flags", [])


def test_honest_and_wrong_submissions_are_not_flagged(graded):
    course, _, results = graded
    assert results["honest"]["inc"]["score"] == 1.0 and results["wrong"]["inc"]["score"] == 0.0
    for student in ("honest", "wrong"):
        assert stored_flags(course, student) == []
        assert "flags" not in json.loads((course.root / ".d2l_results" / A / f"{student}.json").read_text())
    flagged = gradebook_flagged(course)
    assert flagged["honest"] is False and flagged["wrong"] is False


def test_a_function_that_exits_the_interpreter_is_flagged_as_a_crash(graded):
    course, _, results = graded
    assert results["exits"]["double"]["score"] == 0.0 and results["exits"]["inc"]["score"] == 1.0
    flags = stored_flags(course, "exits")
    assert [f["kind"] for f in flags] == ["crashed"], flags     # the same crash twice: kept once
    assert "double" in flags[0]["text"] and "exited" in flags[0]["text"]
    assert gradebook_flagged(course)["exits"] is True


def test_a_function_that_never_returns_is_flagged_as_a_timeout(graded):
    course, _, results = graded
    assert results["loops"]["inc"]["score"] == 0.0 and results["loops"]["double"]["score"] == 3.0
    flags = stored_flags(course, "loops")
    assert [f["kind"] for f in flags] == ["timeout"], flags
    assert flags[0]["text"] == "inc ran past the 5 s limit"
    assert gradebook_flagged(course)["loops"] is True


def test_a_notebook_over_the_cell_limit_is_flagged_as_refused(graded):
    course, _, results = graded
    assert all(e["score"] == 0.0 for e in results["huge"].values())
    flags = stored_flags(course, "huge")
    assert [f["kind"] for f in flags] == ["refused"] and "cells" in flags[0]["text"], flags
    assert len(flags[0]["text"]) <= MAX_TEXT
    assert gradebook_flagged(course)["huge"] is True


def test_the_kit_sets_the_flag_but_never_clears_one_a_person_set(graded):
    """Regraded: a flag a person set on an honest submission stays; a flag a person cleared on a
    crashing one is set again (the crash happened again)."""
    course, kit, _ = graded
    set_flag(course, "honest", True)
    set_flag(course, "exits", False)
    _, recorded = D.grade_and_record(course, A, ["honest", "exits"], kit=kit, force=True)
    assert all(ok for ok, _ in recorded.values()), recorded
    flagged = gradebook_flagged(course)
    assert flagged["honest"] is True and flagged["exits"] is True and flagged["wrong"] is False
    assert stored_flags(course, "honest") == []


# --- the flags themselves: bounded, plain data, old results still load ----------------------------

def test_flags_are_bounded_in_number_and_length_and_kept_once():
    log = FlagLog()
    for i in range(3 * MAX_FLAGS):
        log.add("timeout", f"f{i} ran past the limit " + "x" * 1000)
        log.add("crashed", "the same crash")
    assert len(log.flags) == MAX_FLAGS
    assert sum(f.kind == "crashed" for f in log.flags) == 1
    assert all(len(f.text) <= MAX_TEXT and "\n" not in f.text for f in log.flags)
    with pytest.raises(ValueError):
        log.add("made-up", "text")


def test_flags_read_from_plain_data_drop_what_is_not_a_flag():
    plain = [{"kind": "crashed", "text": "a\nb"}, {"kind": "nope", "text": "x"}, "crashed", None,
             {"kind": "budget"}]
    flags = from_plain(plain)
    assert [(f.kind, f.text) for f in flags] == [("crashed", "a b"), ("budget", "")]
    assert from_plain("not a list") == []


def test_a_result_stored_before_flags_existed_still_loads_and_is_written_the_same(tmp_path):
    old = {"format": 1, "student": "ann", "assignment": A, "fingerprint": "f" * 64, "suite": "s",
           "graded_at": "", "recorded": None, "timings": {},
           "exercises": {"inc": {"score": 1.0, "max_score": 1.0, "tests": []}}}
    result = SubmissionResult.from_dict(old)
    assert result.flags == [] and result.to_dict() == old
    flagged = SubmissionResult.from_exercises("bob", A, "f" * 64, old["exercises"],
                                              flags=[{"kind": "timeout", "text": "inc ran past the 5 s limit"}])
    store = ResultsStore(tmp_path)
    store.put(flagged)
    back = store.get(A, "bob")
    assert [f.describe() for f in back.flags] == ["timeout: inc ran past the 5 s limit"]
