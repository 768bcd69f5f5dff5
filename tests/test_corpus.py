"""Proof the hidden suites are sharp: correct-but-unusual answers get full marks on their
exercise, typical wrong ones lose points there with a message that names the mistake.

Each ``tests/corpus/<assignment>.py`` defines ``CORRECT = {exercise: {variant: cell_source}}`` and
``WRONG = {exercise: {variant: (cell_source, [words the failure messages must contain])}}``.
Every variant replaces one answer cell of the reference solution; one sandboxed batch per assignment.
"""

import importlib.util
from pathlib import Path

import pytest

from autograder.paths import KitPaths
from autograder.variants import grade_variants

CORPUS_DIR = Path(__file__).parent / "corpus"


def load_corpus(assignment: str):
    """The corpus module of ``assignment``."""
    spec = importlib.util.spec_from_file_location(f"corpus_{assignment}", CORPUS_DIR / f"{assignment}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_cases():
    """(assignment, kind, exercise, variant) for every corpus entry."""
    cases = []
    for path in sorted(CORPUS_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        corpus = load_corpus(path.stem)
        for kind, table in (("correct", corpus.CORRECT), ("wrong", corpus.WRONG)):
            for exercise, variants in table.items():
                cases += [(path.stem, kind, exercise, v) for v in variants]
    return cases


def submission_key(kind, exercise, variant):
    return f"{kind}:{exercise}:{variant}"


_graded: dict = {}


def graded(assignment: str) -> dict:
    """Grade the reference and every variant of ``assignment`` once (cached for the session)."""
    if assignment not in _graded:
        corpus = load_corpus(assignment)
        variants = {}
        for exercise, table in corpus.CORRECT.items():
            for name, source in table.items():
                variants[submission_key("correct", exercise, name)] = {exercise: source}
        for exercise, table in corpus.WRONG.items():
            for name, (source, _words) in table.items():
                variants[submission_key("wrong", exercise, name)] = {exercise: source}
        _graded[assignment] = grade_variants(KitPaths(), assignment, variants)
    return _graded[assignment]


@pytest.mark.parametrize("assignment, kind, exercise, variant", corpus_cases())
def test_corpus_verdict(assignment, kind, exercise, variant):
    results = graded(assignment)
    reference = results["reference"]
    assert all(e["score"] == e["max_score"] for e in reference.values()), reference
    entry = results[submission_key(kind, exercise, variant)][exercise]
    failures = [f"{t['name']}: {t['message']}" for t in entry["tests"] if not t["passed"]]
    if kind == "correct":
        assert entry["score"] == entry["max_score"], "\n".join(failures)
    else:
        assert entry["score"] < entry["max_score"], f"{variant} got full marks on {exercise}"
        _source, words = load_corpus(assignment).WRONG[exercise][variant]
        messages = "\n".join(failures)
        for word in words:
            assert word.lower() in messages.lower(), f"{word!r} not in:\n{messages}"
