"""What grading sees of a notebook: the answer cells, after the assignment's setup cells; nothing else.

A helper function, constant or import that an answer cell uses but that lives in another cell (a
scratch cell, a training cell) works in the student's kernel and is missing when the answer cells
are graded on their own: every call that needs it fails there.  :func:`names_outside_answers` finds
such names from the cells' text alone (Python's own scoping rules, through :mod:`symtable`); it
never runs anything.  Used by the local checks (:mod:`autograder.selfcheck`), never by the grader.
"""

from __future__ import annotations

import builtins
import symtable
from dataclasses import dataclass

MAX_CELL_CHARS = 200_000  # as autograder.notebook: a longer answer cell is not graded at all


@dataclass(frozen=True)
class CellNames:
    """The module-level names a cell binds, and the global names its code reads (at the top level
    or in any function, class, lambda or comprehension)."""

    bound: frozenset[str]
    used: frozenset[str]


def python_text(source: str) -> str | None:
    """``source`` without IPython's line magics and shell escapes (``%time``, ``!pip``), which are
    not Python; None for a cell magic (``%%time``), whose body is not Python either."""
    lines = source.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def cell_names(source: str) -> CellNames | None:
    """The names ``source`` binds and reads at module level; None when it is not Python that parses
    (a syntax error, a cell magic) or is longer than :data:`MAX_CELL_CHARS`."""
    if not isinstance(source, str) or len(source) > MAX_CELL_CHARS:
        return None
    text = python_text(source)
    if text is None:
        return None
    try:
        top = symtable.symtable(text, "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    bound, used = set(), set()
    for sym in top.get_symbols():
        if sym.is_assigned() or sym.is_imported():
            bound.add(sym.get_name())
        if sym.is_referenced():
            used.add(sym.get_name())
    todo = list(top.get_children())
    while todo:
        table = todo.pop()
        for sym in table.get_symbols():
            if sym.is_global():
                if sym.is_referenced():
                    used.add(sym.get_name())
                if sym.is_declared_global() and (sym.is_assigned() or sym.is_imported()):
                    bound.add(sym.get_name())  # `global cache; cache = {}` inside a function
        todo.extend(table.get_children())
    return CellNames(frozenset(bound), frozenset(used))


BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__doc__", "__builtins__", "__file__"}


def names_outside_answers(answers: dict[str, str], setup: list[str]) -> dict[str, list[str]]:
    """exercise -> the names its answer cell uses that no answer cell, no setup cell and no built-in
    provides (sorted): what the grader, which runs only those cells, will not have.  An answer cell
    that does not parse is left out (its own checks fail anyway)."""
    available = set(BUILTIN_NAMES)
    for src in setup:
        names = cell_names(src)
        if names:
            available |= names.bound
    parsed = {exercise: cell_names(src) for exercise, src in answers.items()}
    for names in parsed.values():
        if names:
            available |= names.bound
    return {exercise: sorted(names.used - available) for exercise, names in parsed.items()
            if names and names.used - available}
