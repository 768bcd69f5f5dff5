"""The mutation operators of scripts/mutation_score.py (no grading here: that is the slow command
itself, documented in the README).  Pure AST work, well under a second."""

import ast
import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutation_score.py"
_spec = importlib.util.spec_from_file_location("mutation_score", SCRIPT)
mutation_score = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("mutation_score", mutation_score)  # dataclasses look their module up
_spec.loader.exec_module(mutation_score)

CELL = '''\
def f(X, params, eps=1e-6):
    """Docstring: keepdim=True, 1 + 2, "quoted", must never be mutated."""
    # a comment (dropped by ast.unparse)
    total = 0
    for p in params:
        if p.grad is None:
            continue
        if p in X and total >= 2 and not X.flag:
            break
        total += -p.grad.sum(dim=1, keepdim=True) * eps
    name = "mean"
    out = X.max(dim=1).values.detach() @ X
    return total / X.shape[0]
'''


def _mutants(cell=CELL, **kw):
    return mutation_score.generate_mutants("f", cell, **kw)


def test_every_operator_family_is_applied():
    _pristine, mutants = _mutants()
    operators = {m.operator for m in mutants}
    expected = {
        "ReplaceBinaryOperator_Div_Mult", "ReplaceBinaryOperator_MatMult_Mult",
        "ReplaceAugmentedOperator_Add_Sub", "AugmentedToPlainAssignment",
        "ReplaceComparisonOperator_Is_IsNot", "ReplaceComparisonOperator_In_NotIn",
        "ReplaceComparisonOperator_GtE_Lt", "ReplaceUnaryOperator_Delete_USub",
        "ReplaceUnaryOperator_Delete_Not", "AddNot", "ReplaceAndWithOr", "NumberReplacer",
        "ReplaceTrueWithFalse", "ReplaceBreakWithContinue", "ReplaceContinueWithBreak",
        "ZeroIterationForLoop", "ReturnValueToNone", "AssignmentValueToNone", "StatementDeletion",
        "StringMutation", "ArgumentRemoval", "SwapMethod_max_min", "RemoveCall_detach",
    }
    assert expected <= operators, expected - operators


def test_docstring_is_kept_and_never_mutated():
    pristine, mutants = _mutants()
    doc = ast.get_docstring(ast.parse(CELL).body[0])
    assert ast.get_docstring(ast.parse(pristine).body[0]) == doc
    for m in mutants:
        assert ast.get_docstring(ast.parse(m.source).body[0]) == doc, m.describe()


def test_mutants_are_unique_valid_and_differ_from_the_reference():
    pristine, mutants = _mutants()
    sources = [m.source for m in mutants]
    assert len(sources) == len(set(sources))
    assert pristine not in sources
    for m in mutants:
        compile(m.source, "<mutant>", "exec")
        assert m.original_line and m.mutated_line and m.original_line != m.mutated_line, m.describe()
    assert len({m.mutant_id for m in mutants}) == len(mutants)


def test_specific_mutations():
    _pristine, mutants = _mutants()
    changes = {(m.operator, m.mutated_line) for m in mutants}
    assert ("NumberReplacer", "def f(X, params, eps=-1e-06):") in changes
    assert ("NumberReplacer", "def f(X, params, eps=0.0):") in changes
    assert ("ReplaceTrueWithFalse", "total += -p.grad.sum(dim=1, keepdim=False) * eps") in changes
    assert ("NumberReplacer", "total += -p.grad.sum(dim=0, keepdim=True) * eps") in changes
    assert ("StringMutation", "name = 'XXmeanXX'") in changes
    assert ("StatementDeletion", "pass") in changes
    assert ("RemoveCall_detach", "out = X.max(dim=1).values @ X") in changes
    assert ("AugmentedToPlainAssignment", "total = -p.grad.sum(dim=1, keepdim=True) * eps") in changes


def test_classic_only_drops_the_torch_operator():
    _pristine, mutants = _mutants(classic_only=True)
    assert not any(m.operator.startswith("RemoveCall") for m in mutants)


def test_equivalence_entries_match_on_the_fields_they_give():
    _pristine, mutants = _mutants()
    m = next(x for x in mutants if x.operator == "RemoveCall_detach")
    entries = [{"exercise": "g", "mutated_line": m.mutated_line, "reason": "other exercise"},
               {"exercise": "f", "mutated_line": m.mutated_line, "operator": "NumberReplacer", "reason": "no"},
               {"exercise": "f", "mutated_line": m.mutated_line, "reason": "yes"}]
    assert mutation_score.matching_entry(m, entries) == 2
    assert mutation_score.matching_entry(m, [{"exercise": "f", "id": m.mutant_id, "reason": "id"}]) == 0
    assert mutation_score.matching_entry(m, [{"exercise": "f", "reason": "names nothing"}]) is None


def test_device_mutants_count_like_any_other():
    """A mutant that drops device= dies on meta without a GPU: an old needs_cuda entry excuses nothing."""
    needs_cuda = {"exercise": "f", "id": "x", "reason": "drops device=", "needs_cuda": True}
    equivalent = {"exercise": "f", "id": "y", "reason": "same values"}
    classify = mutation_score.classify
    assert classify(True, needs_cuda) == "killed"
    assert classify(False, None) == "survived"
    assert classify(False, equivalent) == "equivalent"
    assert classify(False, needs_cuda) == "survived"
    rows = [{"status": s} for s in ["killed"] * 8 + ["equivalent", "survived"]]
    assert mutation_score.scores(rows) == 8 / 9
    assert mutation_score.scores([]) == 1.0


def test_no_equivalence_entry_is_a_device_mistake():
    """Every entry of equivalent_mutants.json is an equivalence, never a device mutant waiting for a GPU."""
    entries = [e for es in mutation_score.load_equivalents().values() for e in es]
    assert entries and not [e for e in entries if e.get("needs_cuda")]
