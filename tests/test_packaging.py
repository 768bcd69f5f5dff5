"""What students can install never contains the solutions, the demo scenarios or the hidden tests:
neither a copy of one of their files nor a near-copy of one of their functions or classes.

The ``wheel`` fixture (conftest.py) builds it once per session; tests/test_student_install.py installs it."""

from __future__ import annotations

import ast
import difflib
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SECRETS = ("solutions/*.py", "solutions/scenarios/*.py", "grader_tests/*.py")
NEAR = 0.85            # SequenceMatcher ratio at or above which two definitions are near-copies
MIN_STATEMENTS = 3     # a shorter body is compared exactly, not by ratio ...
MIN_EXACT_TOKENS = 12  # ... and only when it is not trivially short (``def f(self): pass``)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class Definition:
    """A function or class, normalised: ``ast.unparse`` without docstrings, as tokens."""

    where: str
    name: str
    statements: int
    tokens: list[str]

    def __post_init__(self):
        self.counts = Counter(self.tokens)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (*_DEFS, ast.Module)) and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]


def definitions(source: str, where: str, depth: int = 0) -> list[Definition]:
    """Every function and class in ``source`` (methods and nested ones too), and in every string
    constant of it that is Python code itself (a scenario's or a test's cell source, a docstring's
    example)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found = []
    if depth < 2:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and ("def " in node.value or "class " in node.value):
                found += definitions(node.value, f"{where} (in a string)", depth + 1)
    _strip_docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, _DEFS):
            statements = sum(isinstance(s, ast.stmt) for s in ast.walk(node)) - 1
            found.append(Definition(where, node.name, statements, _TOKEN.findall(ast.unparse(node))))
    return found


def file_definitions(text: str, where: str) -> list[Definition]:
    """Definitions in a file of any kind: Python source, or JSON (a notebook) whose strings, or
    lists of strings (a cell's lines), are."""
    if not where.endswith((".json", ".ipynb")):
        return definitions(text, where)
    try:
        todo = [json.loads(text)]
    except ValueError:
        return []
    found = []
    while todo:
        item = todo.pop()
        if isinstance(item, list) and item and all(isinstance(s, str) for s in item):
            item = "".join(item)
        if isinstance(item, str):
            found += definitions(item, f"{where} (a string)")
        elif isinstance(item, list):
            todo += item
        elif isinstance(item, dict):
            todo += item.values()
    return found


def secret_definitions(root: Path) -> list[Definition]:
    """The definitions of the solutions, the demo scenarios and the hidden suites under ``root``."""
    return [d for pattern in SECRETS for path in sorted(root.glob(pattern))
            for d in definitions(path.read_text(), str(path.relative_to(root)))]


def near_copies(secrets: list[Definition], shipped: list[Definition]) -> list[str]:
    """``"where name ~ where name (ratio)"`` for every shipped definition that is a near-copy of a
    secret one: a ratio of at least :data:`NEAR` for bodies of :data:`MIN_STATEMENTS` statements or
    more, the same tokens for shorter ones."""
    found = []
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    for secret in secrets:
        matcher.set_seq2(secret.tokens)
        long_body = secret.statements >= MIN_STATEMENTS
        for candidate in shipped:
            if long_body:
                if _upper_bound(secret, candidate) < NEAR:
                    continue
                matcher.set_seq1(candidate.tokens)
                ratio = matcher.ratio()
                if ratio < NEAR:
                    continue
            elif candidate.tokens != secret.tokens or len(secret.tokens) < MIN_EXACT_TOKENS:
                continue
            else:
                ratio = 1.0
            found.append(f"{candidate.where} {candidate.name} ~ {secret.where} {secret.name} ({ratio:.2f})")
    return found


def _upper_bound(a: Definition, b: Definition) -> float:
    """An upper bound of the two definitions' ratio from their lengths and token counts alone
    (what ``SequenceMatcher.quick_ratio`` computes, without its per-pair set-up)."""
    total = len(a.tokens) + len(b.tokens)
    if not total or 2 * min(len(a.tokens), len(b.tokens)) / total < NEAR:
        return 0.0
    small, large = sorted((a.counts, b.counts), key=len)
    return 2 * sum(min(n, large[token]) for token, n in small.items()) / total


def wheel_definitions(wheel: Path) -> list[Definition]:
    """The definitions in every file of ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        return [d for name in zf.namelist()
                for d in file_definitions(zf.read(name).decode("utf-8", "replace"), name)]


def test_wheel_holds_the_autograder_package_only(wheel, kit):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n == "autograder/public/test_softmax_regression.py" for n in names)
    # the local checks apply the grader's banned-name tables and find helpers outside the answer cells
    assert {"autograder/public/banned_rules.py", "autograder/answer_cells.py"} <= set(names)
    assert all(n.startswith(("autograder/", "d2l_autograder-")) for n in names), names
    assert not any(n.startswith("autograder/scenarios/") for n in names), names
    secrets = {p.read_text() for pattern in SECRETS for p in kit.root.glob(pattern)}
    with zipfile.ZipFile(wheel) as zf:
        for name in names:
            assert zf.read(name).decode("utf-8", "replace") not in secrets, name


def test_wheel_ships_the_feedback_page_template(wheel):
    """The course config renders feedback with the installed package's template."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"autograder/templates/d2l_feedback/d2l_feedback.html.j2",
            "autograder/templates/d2l_feedback/conf.json"} <= names


def test_wheel_holds_no_near_copy_of_a_solution_scenario_or_hidden_test(wheel, kit):
    secrets = secret_definitions(kit.root)
    assert {"softmax", "train_concise", "MyLinear"} <= {d.name for d in secrets}
    assert any(d.where.startswith("solutions/scenarios/") for d in secrets)
    assert any(d.where.startswith("grader_tests/") and d.name.startswith("test_") for d in secrets)
    shipped = wheel_definitions(wheel)
    assert any(d.where.startswith("autograder/public/") for d in shipped)
    assert near_copies(secrets, shipped) == []


def test_the_check_catches_scenarios_and_edited_solutions_in_the_package(kit):
    """The check would have caught ``autograder/scenarios/`` (the demo scenarios, inside the
    package until they moved to ``solutions/scenarios/``) and a lightly edited solution."""
    secrets = [d for d in secret_definitions(kit.root) if not d.where.startswith("solutions/scenarios/")]
    scenarios = kit.scenario_module("softmax_regression").read_text()
    hits = near_copies(secrets, file_definitions(scenarios, "autograder/scenarios/softmax_regression.py"))
    assert any("~ solutions/softmax_regression.py sgd" in h for h in hits), hits

    reference = kit.solution_module("softmax_regression").read_text()
    node = next(n for n in ast.parse(reference).body if getattr(n, "name", None) == "train_concise")
    edited = ast.get_source_segment(reference, node).replace("def train_concise", "def fit", 1)
    edited = edited.replace("losses = []", "history = []\n    losses = history", 1)
    assert edited != ast.get_source_segment(reference, node)
    hits = near_copies(secrets, file_definitions(edited, "autograder/helpers.py"))
    assert hits and hits[0].startswith("autograder/helpers.py fit ~ solutions/softmax_regression.py "
                                       "train_concise"), hits
    notebook = json.dumps({"cells": [{"cell_type": "code", "source": edited.splitlines(True)}]})
    assert near_copies(secrets, file_definitions(notebook, "autograder/data/nb.ipynb"))
