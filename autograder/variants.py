"""Grading variants of the reference: the reference with some answer cells replaced.

Used by the corpus tests (correct-but-unusual and wrong answers), the mutation score and the GPU
check.  The reference cells come from ``solutions/`` at run time (instructors' repository only).
"""

from __future__ import annotations

from autograder.course import reference_answer_cells
from autograder.grading import grade_submissions
from autograder.notebook import StudentSource, Submission, load_assignment


def variant_submission(spec, reference: dict[str, str], key: str, replaced: dict[str, str]) -> Submission:
    """The reference submission of ``spec`` with the answer cells in ``replaced`` swapped in."""
    cells = {**reference, **replaced}
    ordered = [(f, cells[f]) for f in spec.exercises if f in cells]
    return Submission(key, list(spec.setup_cells) + ordered, StudentSource.join(ordered),
                      exercise_cells=cells)


def grade_variants(kit, assignment: str, variants: dict[str, dict[str, str]], *,
                   include_reference: bool = True, devices: list[str] | None = None, focused: bool = True,
                   **options) -> dict:
    """Grade each ``{key: {exercise: cell_source}}`` variant (plus ``"reference"``) in one batch.

    ``focused``: check only the replaced exercises of a variant (the reference gets every check);
    the other exercises of that variant are reported as not run.
    """
    spec = load_assignment(kit, assignment)
    reference = reference_answer_cells(kit, assignment)
    submissions = {key: variant_submission(spec, reference, key, replaced) for key, replaced in variants.items()}
    if include_reference:
        submissions["reference"] = variant_submission(spec, reference, "reference", {})
    focus = {key: list(replaced) for key, replaced in variants.items()} if focused else None
    return grade_submissions(spec, submissions, kit, devices=devices, focus=focus, **options)
