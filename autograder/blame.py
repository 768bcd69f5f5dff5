"""Blame where it belongs: an exercise that calls the student's own earlier exercises.

A training loop (``train_char_rnn``) calls the student's ``one_hot``, ``rnn`` and
``grad_clipping``; when ``one_hot`` is wrong the loop fails too, and its messages point at code
that is correct.  After grading, :func:`attribute` finds, from the student's source, which other
exercises each exercise uses (directly or through module-level helpers), and for every failing
check of an exercise whose helper fails its own checks it says so first::

    train_char_rnn uses your one_hot, which fails its own checks: fix one_hot first.

Only the helpers at the root of the failure are named (``rnn`` failing because of ``rnn_step``
names ``rnn_step``).  Per assignment the instructor chooses what such a check is worth
(``SandboxScorer.dependent_grading`` in the course's ``nbgrader_config.py``):

* :data:`WITH_HELPERS` (default): graded as it ran, with the helper named in its message;
* :data:`INDEPENDENT`: its points are withheld (the exercise is flagged for grading by hand in
  nbgrader), so that one wrong helper is not charged twice.  No reference code runs in the
  sandbox for this: the decision is made on the grader's side from the results.

The call graph is read from the source (AST, never executed); a call the analysis cannot see
(``globals()["one_hot"]``) is simply not blamed.
"""

from __future__ import annotations

import ast

from autograder.plugin import NOT_RUN_MESSAGE

WITH_HELPERS = "with_helpers"
INDEPENDENT = "independent"
POLICIES = (WITH_HELPERS, INDEPENDENT)
MAX_SOURCE_CHARS = 1_000_000


def helpers_used(source: str, exercises: list[str]) -> dict[str, set[str]]:
    """``{exercise: other exercises it uses}``, following module-level functions and classes it
    names, transitively; ``{}`` when the source does not parse or is too long."""
    if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS:
        return {}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return {}
    defined: dict[str, set[str]] = {}  # module-level def/class -> the names its body loads
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            defined.setdefault(stmt.name, set()).update(names - {stmt.name})
    wanted = set(exercises)
    out: dict[str, set[str]] = {}
    for exercise in exercises:
        if exercise not in defined:
            continue
        seen, stack, used = {exercise}, [exercise], set()
        while stack:
            for name in defined.get(stack.pop(), ()):
                if name in seen or name not in defined:
                    continue
                seen.add(name)
                stack.append(name)
                if name in wanted:
                    used.add(name)
        if used:
            out[exercise] = used
    return out


def failing(result: dict) -> set[str]:
    """Exercises with at least one check that ran and failed."""
    return {exercise for exercise, entry in result.items()
            if any(not t["passed"] and t.get("message") != NOT_RUN_MESSAGE for t in entry.get("tests", []))}


def root_causes(exercise: str, uses: dict[str, set[str]], failed: set[str]) -> list[str]:
    """The failing helpers of ``exercise`` that do not themselves use another failing helper."""
    bad = uses.get(exercise, set()) & failed
    return sorted(h for h in bad if not (uses.get(h, set()) & bad))


def blame_note(exercise: str, helpers: list[str]) -> str:
    """``"train_char_rnn uses your one_hot, which fails its own checks: fix one_hot first."``"""
    names = " and ".join(helpers)
    verb = "fails its" if len(helpers) == 1 else "fail their"
    return f"{exercise} uses your {names}, which {verb} own checks: fix {names} first."


def attribute(result: dict, source: str, exercises: list[str], policy: str | None = None) -> dict:
    """Rewrite one submission's ``{exercise: {...}}`` in place (and return it): every failing check
    of an exercise whose helpers fail their own checks names them; with :data:`INDEPENDENT` those
    checks are withheld (``"withheld": True`` on the test and the exercise) instead of zeroed."""
    policy = policy or WITH_HELPERS
    if policy not in POLICIES:
        raise ValueError(f"dependent grading policy {policy!r} is not one of {', '.join(POLICIES)}")
    uses = helpers_used(source, exercises)
    failed = failing(result)
    for exercise, entry in result.items():
        causes = root_causes(exercise, uses, failed)
        if not causes:
            continue
        note = blame_note(exercise, causes)
        for test in entry.get("tests", []):
            if test["passed"] or test.get("message") == NOT_RUN_MESSAGE or test.get("grader_error"):
                continue
            if policy == INDEPENDENT:
                test["message"] = (f"{note} Not graded automatically: your instructor grades this check "
                                   f"by hand. What it saw: {test['message']}")
                test["withheld"] = True
                entry["withheld"] = True
            else:
                test["message"] = f"{note} What this check saw: {test['message']}"
        entry["blamed_on"] = causes
    return result
