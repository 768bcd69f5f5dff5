#!/usr/bin/env python
"""Mutation score of the hidden suites: how many small bugs in the reference do they catch?

Each exercise's reference answer cell (exactly what a student who copied the reference would
submit) is parsed with ``ast`` and mutated once at a time with the classic operators of
cosmic-ray and mutmut, reimplemented over the AST (neither tool is a dependency: both mutate
files on disk and run a test command per mutant, while here every mutant is an in-memory
submission):

  cosmic-ray  ReplaceBinaryOperator, ReplaceComparisonOperator, ReplaceUnaryOperator (deletion),
              AddNot, ReplaceAndWithOr / ReplaceOrWithAnd, NumberReplacer (+1 / -1),
              ReplaceTrueWithFalse / ReplaceFalseWithTrue, ReplaceBreakWithContinue /
              ReplaceContinueWithBreak, ZeroIterationForLoop, ExceptionReplacer
  mutmut      number mutation (floats: x+1, -x, 0), string mutation ("XX" + s + "XX"; never a
              docstring), augmented assignment (a += b -> a -= b and a = b), assignment value ->
              None, return value -> None, argument removal (each positional or keyword argument
              of a call dropped), symmetric method swaps (mutmut's lower/upper idea, with torch's
              max/min, argmax/argmin, amax/amin, maximum/minimum, zeros/ones, zeros_like/ones_like)
  statement   statement deletion (a statement replaced by ``pass``), as in PIT, Mull and mutmut 3
  torch       RemoveCall: ``x.detach()`` / ``x.clone()`` / ``x.contiguous()`` -> ``x`` (kit
              specific; disable with --classic-only)

Each mutant is the exercise cell with exactly one mutation, unparsed with ``ast.unparse``
(comments dropped, docstrings kept); mutants with identical source are merged.  All mutants of an
assignment are graded in ONE sandboxed batch (``autograder.variants.grade_variants``, on the CPU
and, for the checks marked ``placement``, on the meta device that stands in for a GPU; with --cuda
on CUDA instead of meta where there is one), each mutant as its own submission (its own child),
the other answer cells being the reference's.  A mutant is *killed* when its exercise scores below
the pristine reference of the same batch (the engine's focused grading runs only that exercise's
checks), otherwise it *survived*.  Survivors known to be equivalent (no valid input can tell them
from the reference) are listed with the reason in ``scripts/equivalent_mutants.json`` and left out
of the denominator:

    score = killed / (mutants - equivalent)

A mutant that drops a ``device=`` or a ``.to(device)`` is a no-op when every tensor is on the CPU;
it is NOT equivalent, and it counts like any other mutant: the checks marked ``placement`` also run
on ``meta`` (docs/devices.md), where it dies without a GPU.  (Such mutants used to be listed in that
file as ``"needs_cuda"`` and left out of the score without CUDA; an entry still marked so is not an
equivalence: its mutant counts as a survivor when it survives.)

Usage::

    .venv/bin/python scripts/mutation_score.py                       # every assignment
    .venv/bin/python scripts/mutation_score.py softmax_regression --list-survivors
    .venv/bin/python scripts/mutation_score.py --json > mutation.json

Exit status: 0 when every assignment reaches --target (default 90%), 1 otherwise, 2 on a
kit problem (the reference or the unparsed reference not at full marks, an exercise without
hidden tests, a broken suite).
Not part of the default test run: grading hundreds of mutants takes minutes.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import hashlib
import inspect
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EQUIVALENTS_FILE = Path(__file__).resolve().parent / "equivalent_mutants.json"

# --- operator tables ---------------------------------------------------------------------------

ARITHMETIC = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult]
BITWISE = [ast.BitAnd, ast.BitOr, ast.BitXor]
SHIFTS = [ast.LShift, ast.RShift]
VALUE_COMPARISONS = [ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE]
COMPARISON_SWAPS = {ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.In: [ast.NotIn], ast.NotIn: [ast.In]}
SYMMETRIC_METHODS = {
    "max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax", "amax": "amin",
    "amin": "amax", "maximum": "minimum", "minimum": "maximum", "zeros": "ones", "ones": "zeros",
    "zeros_like": "ones_like", "ones_like": "zeros_like",
}
REMOVABLE_CALLS = {"detach", "clone", "contiguous"}
TORCH_OPERATORS = ("RemoveCall",)


def _op_groups(op_type) -> list:
    for group in (ARITHMETIC, BITWISE, SHIFTS):
        if op_type in group:
            return [o for o in group if o is not op_type]
    return []


def _comparison_replacements(op_type) -> list:
    if op_type in VALUE_COMPARISONS:
        return [o for o in VALUE_COMPARISONS if o is not op_type]
    return COMPARISON_SWAPS.get(op_type, [])


def _number_replacements(value) -> list:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    if isinstance(value, int):
        return [value + 1, value - 1]
    out = [value + 1.0]
    if value != 0.0:
        out += [-value, 0.0]
    return out


# --- walking the tree --------------------------------------------------------------------------

def _docstring_nodes(tree: ast.AST) -> set[int]:
    """ids of docstring expression nodes (never mutated, never deleted)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                ids.add(id(body[0]))
    return ids


def iter_sites(tree: ast.AST):
    """(node, parent, field, index) for every mutable node, in a fixed order.

    Skipped: docstrings, annotations (they do not change behaviour) and f-string internals.
    """
    skip = _docstring_nodes(tree)

    def visit(node, parent, fld, idx):
        if id(node) in skip or isinstance(node, ast.JoinedStr):
            return
        yield node, parent, fld, idx
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "type_comment"):
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        yield from visit(item, node, name, i)
            elif isinstance(value, ast.AST):
                yield from visit(value, node, name, None)

    yield from visit(tree, None, None, None)


def _replace(parent, fld, idx, new):
    if idx is None:
        setattr(parent, fld, new)
    else:
        getattr(parent, fld)[idx] = new


def _op_name(op_type) -> str:
    return op_type.__name__


def mutations_of(node, parent, fld, idx, *, classic_only: bool = False):
    """Every single mutation of ``node``: (operator, transform), where transform(copy_of_node)
    returns the node to put in its place."""
    out = []

    def add(name, fn):
        out.append((name, fn))

    if isinstance(node, ast.BinOp):
        for new in _op_groups(type(node.op)):
            add(f"ReplaceBinaryOperator_{_op_name(type(node.op))}_{_op_name(new)}",
                lambda n, new=new: _with(n, op=new()))
    if isinstance(node, ast.AugAssign):
        for new in _op_groups(type(node.op)):
            add(f"ReplaceAugmentedOperator_{_op_name(type(node.op))}_{_op_name(new)}",
                lambda n, new=new: _with(n, op=new()))
        add("AugmentedToPlainAssignment",
            lambda n: ast.Assign(targets=[_store(n.target)], value=n.value, lineno=n.lineno))
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in _comparison_replacements(type(op)):
                add(f"ReplaceComparisonOperator_{_op_name(type(op))}_{_op_name(new)}",
                    lambda n, i=i, new=new: _with(n, ops=[new() if j == i else o for j, o in enumerate(n.ops)]))
    if isinstance(node, ast.UnaryOp):
        add(f"ReplaceUnaryOperator_Delete_{_op_name(type(node.op))}", lambda n: n.operand)
    if isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        add(f"Replace{_op_name(type(node.op))}With{other.__name__}", lambda n, other=other: _with(n, op=other()))
    if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)) and not (
            isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)):
        add("AddNot", lambda n: _with(n, test=ast.UnaryOp(op=ast.Not(), operand=n.test)))
    if isinstance(node, ast.Constant):
        value = node.value
        if value is True or value is False:
            add(f"Replace{value}With{not value}", lambda n, v=value: _with(n, value=not v))
        elif isinstance(value, (int, float)):
            for new in _number_replacements(value):
                add("NumberReplacer", lambda n, new=new: _with(n, value=new))
        elif isinstance(value, str):
            add("StringMutation", lambda n: _with(n, value="XX" + n.value + "XX"))
    if isinstance(node, (ast.Break, ast.Continue)):
        if isinstance(node, ast.Break):
            add("ReplaceBreakWithContinue", lambda n: ast.Continue())
        else:
            add("ReplaceContinueWithBreak", lambda n: ast.Break())
    if isinstance(node, (ast.For, ast.AsyncFor)):
        add("ZeroIterationForLoop", lambda n: _with(n, iter=ast.List(elts=[], ctx=ast.Load())))
    if isinstance(node, ast.ExceptHandler) and node.type is not None:
        add("ExceptionReplacer", lambda n: _with(n, type=ast.Name(id="CosmicRayTestingException", ctx=ast.Load())))
    if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
        add("ReturnValueToNone", lambda n: _with(n, value=ast.Constant(value=None)))
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and not _is_none(node.value):
        add("AssignmentValueToNone", lambda n: _with(n, value=ast.Constant(value=None)))
    if isinstance(node, ast.Call):
        for i in range(len(node.args)):
            if not isinstance(node.args[i], ast.Starred):
                add("ArgumentRemoval", lambda n, i=i: _with(n, args=[a for j, a in enumerate(n.args) if j != i]))
        for i, kw in enumerate(node.keywords):
            if kw.arg is not None:
                add("ArgumentRemoval",
                    lambda n, i=i: _with(n, keywords=[k for j, k in enumerate(n.keywords) if j != i]))
        func = node.func
        if (not classic_only and isinstance(func, ast.Attribute) and func.attr in REMOVABLE_CALLS
                and not node.args and not node.keywords):
            add(f"RemoveCall_{func.attr}", lambda n: n.func.value)
    if isinstance(node, ast.Attribute) and node.attr in SYMMETRIC_METHODS and isinstance(parent, ast.Call) \
            and fld == "func":
        add(f"SwapMethod_{node.attr}_{SYMMETRIC_METHODS[node.attr]}",
            lambda n: _with(n, attr=SYMMETRIC_METHODS[n.attr]))
    if isinstance(node, ast.stmt) and fld in ("body", "orelse", "finalbody") and idx is not None \
            and not isinstance(node, ast.Pass) and not (isinstance(parent, ast.Module)
                                                        and isinstance(node, (ast.FunctionDef, ast.ClassDef))):
        add("StatementDeletion", lambda n: ast.Pass())
    return out


def _with(node, **changes):
    for k, v in changes.items():
        setattr(node, k, v)
    return node


def _store(target):
    target = copy.deepcopy(target)
    target.ctx = ast.Store()
    return target


def _is_none(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


# --- mutants -----------------------------------------------------------------------------------

@dataclass
class Mutant:
    """One mutated answer cell."""

    exercise: str
    operator: str
    line: int                # line of the mutated node in the reference answer cell
    original_line: str       # the unparsed line(s) before ...
    mutated_line: str        # ... and after the mutation
    source: str = field(repr=False)
    mutant_id: str = ""

    def describe(self) -> str:
        return f"{self.exercise}:{self.line} {self.operator}: {self.original_line}  ->  {self.mutated_line}"


def _changed_lines(before: str, after: str) -> tuple[str, str]:
    a, b = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            return (" / ".join(s.strip() for s in a[i1:i2] if s.strip()) or "(nothing)",
                    " / ".join(s.strip() for s in b[j1:j2] if s.strip()) or "(nothing)")
    return "", ""


def generate_mutants(exercise: str, cell: str, *, classic_only: bool = False) -> tuple[str, list[Mutant]]:
    """The unparsed pristine cell and its mutants (one mutation each, deduplicated by source)."""
    tree = ast.parse(cell)
    pristine = ast.unparse(tree)
    sites = list(iter_sites(tree))
    mutants: list[Mutant] = []
    seen = {pristine}
    for ordinal, (node, parent, fld, idx) in enumerate(sites):
        for operator, transform in mutations_of(node, parent, fld, idx, classic_only=classic_only):
            clone = copy.deepcopy(tree)
            c_node, c_parent, c_fld, c_idx = list(iter_sites(clone))[ordinal]
            new = transform(c_node)
            if c_parent is None:
                clone = new
            else:
                _replace(c_parent, c_fld, c_idx, new)
            try:
                source = ast.unparse(ast.fix_missing_locations(clone))
                compile(source, f"<mutant of {exercise}>", "exec")
            except (SyntaxError, ValueError, TypeError):
                continue  # e.g. `continue` moved where it is not allowed: not a valid mutant
            if source in seen:
                continue
            seen.add(source)
            before, after = _changed_lines(pristine, source)
            mutants.append(Mutant(exercise, operator, getattr(node, "lineno", 0), before, after, source))
    counts: dict[str, int] = {}
    for m in mutants:
        base = f"{m.exercise}|{m.operator}|{m.original_line}|{m.mutated_line}"
        counts[base] = counts.get(base, 0) + 1
        suffix = f"#{counts[base]}" if counts[base] > 1 else ""
        m.mutant_id = hashlib.sha1((base + suffix).encode()).hexdigest()[:10]
    return pristine, mutants


# --- equivalents -------------------------------------------------------------------------------

def load_equivalents(path: Path = EQUIVALENTS_FILE) -> dict[str, list[dict]]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())


MATCH_FIELDS = ("id", "operator", "original_line", "mutated_line")


def matching_entry(mutant: Mutant, entries: list[dict]) -> int | None:
    """Index of the entry of ``entries`` that declares ``mutant`` equivalent, if any.

    An entry names its ``exercise`` and at least one of ``id`` / ``mutated_line``; every one of
    ``id``, ``operator``, ``original_line``, ``mutated_line`` it gives must match."""
    for i, entry in enumerate(entries):
        if entry.get("exercise") != mutant.exercise or not ("id" in entry or "mutated_line" in entry):
            continue
        actual = {"id": mutant.mutant_id, "operator": mutant.operator, "original_line": mutant.original_line,
                  "mutated_line": mutant.mutated_line}
        if all(entry[k] == actual[k] for k in MATCH_FIELDS if k in entry):
            return i
    return None


def classify(killed: bool, entry: dict | None) -> str:
    """A mutant's status: killed, equivalent (a survivor with an entry) or survived.  An entry marked
    ``needs_cuda`` excuses nothing: device mistakes die on meta on every grader."""
    if killed:
        return "killed"
    if entry is None or entry.get("needs_cuda"):
        return "survived"
    return "equivalent"


def scores(rows: list[dict]) -> float:
    """Killed over the non-equivalent mutants."""
    killed = sum(r["status"] == "killed" for r in rows)
    denominator = len(rows) - sum(r["status"] == "equivalent" for r in rows)
    return killed / denominator if denominator else 1.0


# --- grading -----------------------------------------------------------------------------------

def _full(result: dict) -> bool:
    return all(e["score"] == e["max_score"] for e in result.values())


def _shortfall(result: dict) -> str:
    """Which exercises lose points, and the first failing check of each."""
    parts = []
    for exercise, r in result.items():
        if r["score"] < r["max_score"]:
            first = next((f"{t['name']}: {t['message'][:200]}" for t in r["tests"] if not t["passed"]), "")
            parts.append(f"{exercise} {r['score']:g}/{r['max_score']:g} ({first})")
    return "; ".join(parts)


def score_assignment(kit, assignment: str, *, max_mutants: int | None = None, classic_only: bool = False,
                     equivalents: dict | None = None, call_timeout: float = 5.0,
                     devices: tuple[str, ...] = ("cpu", "meta")) -> dict:
    from autograder.course import reference_answer_cells
    from autograder.grading import exercise_points
    from autograder.notebook import load_assignment
    from autograder.variants import grade_variants

    started = time.monotonic()
    cells = reference_answer_cells(kit, assignment)
    mutants: list[Mutant] = []
    pristine_cells = {}
    for exercise, cell in cells.items():
        pristine, ms = generate_mutants(exercise, cell, classic_only=classic_only)
        pristine_cells[exercise] = pristine
        mutants += ms
    if max_mutants is not None and len(mutants) > max_mutants:
        # an even spread over the whole assignment, not the first exercise only
        step = len(mutants) / max_mutants
        mutants = [mutants[int(i * step)] for i in range(max_mutants)]
    # where each cell starts in solutions/<assignment>.py, to report mutants by file line
    solution_text = kit.solution_module(assignment).read_text()
    first_line = {}
    for exercise, cell in cells.items():
        at = solution_text.find(cell.strip())
        first_line[exercise] = solution_text[:at].count("\n") if at >= 0 else None
    # an exercise without hidden tests cannot kill anything: its mutants are not graded
    points = exercise_points(load_assignment(kit, assignment), kit)
    untested = sorted(e for e in cells if not points.get(e))
    variants = {"__unparsed_reference__": pristine_cells}
    for i, m in enumerate(mutants):
        if m.exercise not in untested:
            variants[f"m{i:04d}:{m.exercise}"] = {m.exercise: m.source}
    # The engine's focused mode checks only the replaced exercise of each variant (much faster);
    # then only the mutated exercise can kill its mutant, since the others are reported as not run.
    focused = "focused" in inspect.signature(grade_variants).parameters
    options = {"focused": True} if focused else {}
    results = grade_variants(kit, assignment, variants, devices=list(devices), call_timeout=call_timeout,
                             **options)
    reference = results["reference"]
    problems = [f"exercise {e} has no hidden tests: its mutants all survive" for e in untested]
    if not _full(reference):
        problems.append(f"the reference does not get full marks: {_shortfall(reference)}")
    elif not _full(results["__unparsed_reference__"]):
        problems.append("the reference cells unparsed with ast.unparse do not get full marks: "
                        f"{_shortfall(results['__unparsed_reference__'])}")
    entries = (equivalents or {}).get(assignment, [])
    cuda_ran = "cuda" in devices and _cuda_available()
    meta_ran = "meta" in devices and not cuda_ran
    rows, used = [], set()
    for i, m in enumerate(mutants):
        res = results.get(f"m{i:04d}:{m.exercise}", {})
        dropped = {e: (r["score"], r["max_score"]) for e, r in res.items()
                   if r["score"] < reference.get(e, r)["score"] and (e == m.exercise or not focused)}
        killed = bool(dropped)
        failing = [f"{t['name']}: {t['message'][:160]}" for e in dropped for t in res[e]["tests"] if not t["passed"]]
        match = None if killed else matching_entry(m, entries)
        entry = None if match is None else entries[match]
        if match is not None:
            used.add(match)
        offset = first_line.get(m.exercise)
        where = (f"solutions/{assignment}.py:{offset + m.line}" if offset is not None
                 else f"{m.exercise} cell line {m.line}")
        rows.append({**{k: v for k, v in asdict(m).items() if k != "source"}, "where": where,
                     "status": classify(killed, entry),
                     "reason": None if entry is None else entry["reason"], "killed_by": failing[:3]})
    count = {s: sum(r["status"] == s for r in rows) for s in ("killed", "survived", "equivalent")}
    score = scores(rows)
    unused = [e for i, e in enumerate(entries) if i not in used] if max_mutants is None else []
    return {
        "assignment": assignment, "mutants": len(rows), **count, "score": score,
        "cuda_ran": cuda_ran, "meta_ran": meta_ran,
        "seconds": round(time.monotonic() - started, 1), "problems": problems,
        "per_exercise": {e: {"mutants": sum(r["exercise"] == e for r in rows),
                             "killed": sum(r["exercise"] == e and r["status"] == "killed" for r in rows)}
                         for e in cells},
        "untested_exercises": untested, "stale_equivalents": unused, "mutants_detail": rows,
    }


def _cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def _compact(before: str, after: str, width: int = 110, context: int = 35) -> str:
    """``before  ->  after``, long lines cut down to the changed part with some context."""
    if len(before) <= width and len(after) <= width:
        return f"{before}  ->  {after}"
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while (tail < min(len(before), len(after)) - head
           and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]):
        tail += 1
    start = max(0, head - context)

    def cut(text):
        end = min(len(text), len(text) - tail + context)
        return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
    return f"{cut(before)}  ->  {cut(after)}"


def print_report(report: dict, *, list_survivors: bool) -> None:
    r = report
    second = "cuda" if r["cuda_ran"] else "meta" if r["meta_ran"] else "none"
    print(f"{r['assignment']}: {r['mutants']} mutants, {r['killed']} killed, {r['survived']} survived, "
          f"{r['equivalent']} equivalent -> score {100 * r['score']:.1f}%  (second device: {second}; "
          f"{r['seconds']} s)")
    for e, c in r["per_exercise"].items():
        print(f"    {e:<24} {c['killed']:>4}/{c['mutants']:<4} killed")
    for p in r["problems"]:
        print(f"  KIT PROBLEM: {p}")
    if list_survivors:
        for row in r["mutants_detail"]:
            if row["status"] == "survived":
                print(f"  SURVIVED   [{row['mutant_id']}] {row['where']} ({row['exercise']}) {row['operator']}:\n"
                      f"      {_compact(row['original_line'], row['mutated_line'])}"
                      + (f"\n      expected to die on a second device: {row['reason']}" if row["reason"] else ""))
        for row in r["mutants_detail"]:
            if row["status"] == "equivalent":
                print(f"  EQUIVALENT [{row['mutant_id']}] {row['where']} ({row['exercise']}) {row['operator']}:\n"
                      f"      {_compact(row['original_line'], row['mutated_line'])}\n"
                      f"      reason: {row['reason']}")
        for e in r["stale_equivalents"]:
            print(f"  STALE EQUIVALENT ENTRY (matched no surviving mutant): {e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignment names (default: all in assignments/)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--max-mutants", type=int, default=None, help="grade at most N mutants per assignment")
    parser.add_argument("--list-survivors", action="store_true", help="list surviving and equivalent mutants")
    parser.add_argument("--classic-only", action="store_true",
                        help="only the mutmut / cosmic-ray operators (no torch-specific RemoveCall)")
    parser.add_argument("--cuda", action="store_true",
                        help="grade on CUDA too (when available), instead of the meta device that stands in for it")
    parser.add_argument("--target", type=float, default=90.0, help="percent every assignment must reach")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS_FILE)
    args = parser.parse_args(argv)

    from autograder.paths import KitPaths
    kit = KitPaths()
    names = args.assignments or kit.assignment_names()
    equivalents = load_equivalents(args.equivalents)
    reports, status = [], 0
    for name in names:
        try:
            report = score_assignment(kit, name, max_mutants=args.max_mutants, classic_only=args.classic_only,
                                      equivalents=equivalents,
                                      devices=("cpu", "cuda", "meta") if args.cuda else ("cpu", "meta"))
        except Exception as exc:  # one broken assignment must not hide the others' scores
            report = {"assignment": name, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
            status = 2
        reports.append(report)
        if not args.json:
            if "error" in report:
                print(f"{name}: ERROR {report['error']}")
            else:
                print_report(report, list_survivors=args.list_survivors)
            sys.stdout.flush()
        if "error" not in report:
            if report["problems"]:
                status = 2
            elif 100 * report["score"] < args.target and status == 0:
                status = 1
    if args.json:
        json.dump(reports, sys.stdout, indent=2)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
