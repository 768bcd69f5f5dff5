"""The local checks (self-check cells, ``d2l-grade check``) match the grade on everything they can see.

Banned built-ins are judged by the grader's own rule and tables, helpers outside the answer cells
are reported (the grader never sees them), and so is a notebook file the grader would not pick up.
"""

from __future__ import annotations

import ast
import importlib.util
import sys

import pytest

from autograder.public.banned_rules import BANNED


def _find_banned_calls(path):
    """(exercise, table name) of every ``find_banned(source, exercise, TABLE)`` in a hidden suite; the
    exercise is None where the suite computes it (one helper for relu, sigmoid and tanh)."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "find_banned":
            exercise, table = node.args[1], node.args[2]
            assert isinstance(table, ast.Name), (
                f"{path.name}: find_banned for {exercise.value} is given a table written in place; put it in "
                "autograder/public/banned_rules.py (BANNED) so that the local checks apply it too")
            calls.append((exercise.value if isinstance(exercise, ast.Constant) else None, table.id))
    return calls


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # the suites' own marks
@pytest.mark.parametrize("assignment", sorted(BANNED))
def test_hidden_suites_ban_exactly_the_public_tables(kit, assignment):
    """Every AST ban of a hidden suite is the very table the local checks use, and no other."""
    path = kit.hidden_suite(assignment)
    spec = importlib.util.spec_from_file_location(f"_d2l_bans_{assignment}", path)  # never in sys.modules
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the suites import their shared_*.py helpers by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    calls = _find_banned_calls(path)
    assert calls, f"{path.name} bans nothing, but BANNED lists {sorted(BANNED[assignment])}"
    covered = set()
    for exercise, table in calls:
        if exercise is None:  # a helper shared by several exercises: all those the index gives this table
            shared = {e for e, t in BANNED[assignment].items() if t is getattr(module, table)}
            assert shared, f"{path.name}: {table} is not a table of BANNED[{assignment!r}]"
            covered |= shared
            continue
        assert getattr(module, table) is BANNED[assignment].get(exercise), (
            f"{path.name}: {exercise} is checked with {table}, not with BANNED[{assignment!r}][{exercise!r}]")
        covered.add(exercise)
    assert covered == set(BANNED[assignment])


def test_every_assignment_with_bans_is_indexed(kit):
    banning = {name for name in kit.assignment_names() if _find_banned_calls(kit.hidden_suite(name))}
    assert banning == set(BANNED)
