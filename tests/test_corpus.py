"""Proof the hidden suites are sharp: correct-but-unusual answers get full marks on their
exercise, typical wrong ones lose points there with a message that names the mistake.

Each ``tests/corpus/<assignment>.py`` defines ``CORRECT = {exercise: {variant: cell_source}}`` and
``WRONG = {exercise: {variant: (cell_source, [words the failure messages must contain])}}``.
Every variant replaces one answer cell of the reference solution; one sandboxed batch per assignment.
"""

from pathlib import Path

import pytest

from autograder.paths import KitPaths
from autograder import variants

CORPUS_DIR = Path(__file__).parent / "corpus"


def load_corpus(assignment: str):
    """The corpus module of ``assignment``."""
    return variants.load_corpus(KitPaths(), assignment)


def corpus_cases():
    """(assignment, kind, exercise, variant) for every corpus entry."""
    cases = []
    for path in sorted(CORPUS_DIR.glob("*.py")):
        if not path.stem.startswith("_"):
            cases += [(path.stem, *entry[:3]) for entry in variants.corpus_variants(load_corpus(path.stem)).values()]
    return cases


_graded: dict = {}


def graded(assignment: str) -> dict:
    """Grade the reference and every variant of ``assignment`` once (cached for the session)."""
    if assignment not in _graded:
        entries = variants.corpus_variants(load_corpus(assignment))
        _graded[assignment] = variants.grade_variants(KitPaths(), assignment,
                                                      {key: entry[3] for key, entry in entries.items()})
    return _graded[assignment]


@pytest.mark.parametrize("assignment, kind, exercise, variant", corpus_cases())
def test_corpus_verdict(assignment, kind, exercise, variant):
    results = graded(assignment)
    reference = results["reference"]
    assert all(e["score"] == e["max_score"] for e in reference.values()), reference
    entry = results[variants.corpus_key(kind, exercise, variant)][exercise]
    failures = [f"{t['name']}: {t['message']}" for t in entry["tests"] if not t["passed"]]
    if kind == "correct":
        assert entry["score"] == entry["max_score"], "\n".join(failures)
    else:
        assert entry["score"] < entry["max_score"], f"{variant} got full marks on {exercise}"
        _source, words = load_corpus(assignment).WRONG[exercise][variant]
        messages = "\n".join(failures)
        for word in words:
            assert word.lower() in messages.lower(), f"{word!r} not in:\n{messages}"
