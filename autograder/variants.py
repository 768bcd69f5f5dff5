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


def load_corpus(kit, assignment: str):
    """``tests/corpus/<assignment>.py`` of the kit's repository (``CORRECT`` and ``WRONG``), or None."""
    import importlib.util
    path = kit.root / "tests" / "corpus" / f"{assignment}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"corpus_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_key(kind: str, exercise: str, name: str) -> str:
    """``"correct:softmax:logsumexp"``: the submission key of one corpus entry."""
    return f"{kind}:{exercise}:{name}"


def corpus_variants(corpus) -> dict[str, tuple[str, str, str, dict[str, str]]]:
    """key -> (kind, exercise, name, {exercise: cell source}) for every entry of a corpus module."""
    out = {}
    for kind, table in (("correct", corpus.CORRECT), ("wrong", corpus.WRONG)):
        for exercise, entries in table.items():
            for name, entry in entries.items():
                source = entry if kind == "correct" else entry[0]
                out[corpus_key(kind, exercise, name)] = (kind, exercise, name, {exercise: source})
    return out
