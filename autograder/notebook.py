"""Reading notebooks as data: which cells an assignment has and what a student wrote in them.

Notebooks are parsed as JSON only; nothing in them is executed here.  Everything here runs in the
trusted grader on student-controlled text, so it is linear in the size of that text (no regular
expressions, no rescanning), and a notebook over one of the limits below is refused with a message
that says which limit and what to do.
"""

from __future__ import annotations

import ast
import hashlib
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELLS = 2_000
MAX_CELL_CHARS = 200_000
_MAX_NAME_CHARS = 200  # a defined name is read this far at most; no exercise has a longer one


class NotebookError(ValueError):
    """The file is not a readable Jupyter notebook."""


class NotebookTooLarge(NotebookError):
    """The notebook is over :data:`MAX_NOTEBOOK_BYTES` or :data:`MAX_CELLS`."""


@dataclass
class AssignmentSpec:
    """The structure of an assignment, read from the kit's own student notebook."""

    name: str
    notebook: dict
    exercises: list[str]
    setup_cells: list[tuple[str, str]]


class StudentSource(str):
    """The answer cells that parse, joined into one string, remembering where each cell starts, so
    that a message can say "line 3 of cell softmax" instead of a line number in the joined text.

    A cell with a syntax error is left out of the text (so that checks of every other exercise run
    as if it were absent) and kept in :attr:`broken`: cell id -> "a syntax error (line 2 of cell
    tanh: invalid syntax)".
    """

    starts: list[tuple[int, str]]
    broken: dict[str, str]

    @classmethod
    def join(cls, cells: list[tuple[str, str]]) -> "StudentSource":
        """Join the ``(cell_id, source)`` pairs that parse, with blank lines between them."""
        text, starts, line, broken = "", [], 1, {}
        for cell_id, src in cells:
            problem = syntax_problem(cell_id, src)
            if problem:
                broken[cell_id] = problem
                continue
            if text:
                text += "\n\n"
                line += 2
            starts.append((line, cell_id))
            text += src
            line += src.count("\n")
        joined = cls(text)
        joined.starts = starts
        joined.broken = broken
        return joined

    def cell_line(self, line: int) -> str:
        """``"line 3 of cell softmax"`` for a line number of the joined text."""
        for start, cell_id in reversed(getattr(self, "starts", [])):
            if line >= start:
                return f"line {line - start + 1} of cell {cell_id}"
        return f"line {line}"


def syntax_problem(cell_id: str, src: str) -> str:
    """``""`` when ``src`` parses as Python; else "a syntax error (line 2 of cell tanh: ...)".

    Only the parser runs (nothing is executed); its cost is linear in the cell, which
    :data:`MAX_CELL_CHARS` bounds."""
    try:
        ast.parse(src)
    except SyntaxError as exc:
        where = f"line {exc.lineno} of cell {cell_id}" if exc.lineno else f"cell {cell_id}"
        return f"a syntax error ({where}: {str(exc.msg)[:200]})"
    except (ValueError, OverflowError):
        return f"code that cannot be parsed (cell {cell_id}: does it contain null bytes?)"
    except (RecursionError, MemoryError):
        return f"code nested too deeply to parse (cell {cell_id})"
    return ""


@dataclass
class Submission:
    """What one student's notebook contributes to grading."""

    key: str
    cells: list[tuple[str, str]]
    source: str
    problems: list[str] = field(default_factory=list)
    exercise_cells: dict[str, str] = field(default_factory=dict)
    flags: list[dict] = field(default_factory=list)   # seen while reading it (autograder.flags)

    @property
    def fingerprint(self) -> str:
        """sha256 of exactly what will be graded (the cells and the problems noted)."""
        payload = json.dumps([self.cells, self.problems]).encode()
        return hashlib.sha256(payload).hexdigest()


def cell_source(cell: dict) -> str:
    """A cell's source as one string (notebooks store it as a string or a list of lines)."""
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def d2l_meta(cell: dict) -> dict:
    """The kit's own cell metadata (role, function)."""
    meta = cell.get("metadata")
    meta = meta.get("d2l") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: dict) -> str | None:
    """nbgrader's grade_id of a cell, if any."""
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def read_notebook(path: str | Path) -> dict:
    """Parse a notebook file as JSON, refusing anything that is not a plausible notebook.

    Raises :class:`NotebookError` with a message for the student when the file cannot be read,
    is over :data:`MAX_NOTEBOOK_BYTES` or :data:`MAX_CELLS`, or is not a notebook.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise NotebookError(f"{path.name} is not a regular file; submit the .ipynb file saved by Jupyter")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookTooLarge(_too_big(path.name, info.st_size))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)  # the file may have grown since stat
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc.strerror}") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookTooLarge(_too_big(path.name, len(data)))
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (it is not valid JSON); "
                            "submit the .ipynb file saved by Jupyter") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of cells)")
    if len(nb["cells"]) > MAX_CELLS:
        raise NotebookTooLarge(f"{path.name} has {len(nb['cells']):,} cells, over the limit of {MAX_CELLS:,} "
                            "cells a notebook may have; delete the cells you added (keep the "
                            "assignment's own cells), save the notebook and submit it again")
    return nb


def _too_big(name: str, size: int) -> str:
    return (f"{name} is {size / 1024**2:.1f} MiB, over the limit of {MAX_NOTEBOOK_BYTES // 1024**2} MiB "
            "a notebook may be; clear all outputs (Edit > Clear Outputs of All Cells), delete any "
            "data pasted into cells, save the notebook and submit it again")


def load_assignment(kit, name: str) -> AssignmentSpec:
    """Read the kit's student notebook for ``name``: its exercises and setup cells."""
    nb = read_notebook(kit.assignment_notebook(name))
    exercises, setup = [], []
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if cell.get("cell_type") != "code":
            continue
        if meta.get("role") == "exercise":
            exercises.append(meta["function"])
        elif meta.get("role") == "setup":
            setup.append((grade_id(cell) or "setup", cell_source(cell)))
    return AssignmentSpec(name=name, notebook=nb, exercises=exercises, setup_cells=setup)


def _defined_names(source: str) -> set[str]:
    """Names that follow ``def`` or ``class`` at the start of a line of ``source`` (any indentation).

    Plain string scanning, one pass over the text: linear in its length whatever it holds (the
    regular expression this replaces took quadratic time on a cell of blank lines).
    """
    names = set()
    candidates = [line for line in source.split("\n") if "def" in line or "class" in line]
    for line in candidates:
        words = line.lstrip()
        if words.startswith("def"):
            rest = words[3:]
        elif words.startswith("class"):
            rest = words[5:]
        else:
            continue
        if rest[:1].isspace():
            names.add(_leading_name(rest.lstrip()))
    names.discard("")
    return names


def _leading_name(text: str) -> str:
    """The identifier ``text`` starts with (word characters, as ``\\w`` means), read at most
    :data:`_MAX_NAME_CHARS` characters far."""
    end = 0
    for ch in text[:_MAX_NAME_CHARS]:
        if not (ch.isalnum() or ch == "_"):
            break
        end += 1
    return text[:end]


def submission_from_notebook(nb: dict, spec: AssignmentSpec, key: str) -> Submission:
    """Take each exercise's answer cell (by nbgrader grade_id) from a student's notebook.

    Setup cells come from the kit, not the student.  A missing or duplicated answer cell is
    noted as a problem; a cell that lost its metadata but still defines the function is used.
    """
    tagged: dict[str, list[dict]] = {}   # grade_id -> its code cells, in notebook order
    untagged: list[dict] = []
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            gid = grade_id(cell)
            if gid is None:
                untagged.append(cell)
            else:
                tagged.setdefault(gid, []).append(cell)
    definers: dict[str, dict] | None = None  # name -> first untagged cell defining it, when needed
    problems: list[str] = []
    flags: list[dict] = []
    answers: dict[str, str] = {}
    for function in spec.exercises:
        mine = tagged.get(function, [])
        if len(mine) > 1:
            problems.append(f"the answer cell for {function} appears {len(mine)} times; "
                            "only the first one was graded")
        if mine:
            answers[function] = cell_source(mine[0])
            continue
        if definers is None:
            definers = {}
            for cell in untagged:
                for name in _defined_names(cell_source(cell)):
                    definers.setdefault(name, cell)
        if function in definers:
            problems.append(f"the answer cell for {function} lost its grading metadata; "
                            f"graded the cell that defines {function} instead")
            answers[function] = cell_source(definers[function])
        else:
            problems.append(f"the answer cell for {function} is missing from the notebook "
                            "(deleted, or its function renamed)")
    for function, src in list(answers.items()):
        if len(src) > MAX_CELL_CHARS:
            problems.append(f"the answer cell for {function} has {len(src):,} characters, over the "
                            f"limit of {MAX_CELL_CHARS:,} characters an answer cell may have, and was "
                            f"not graded; keep only your code for {function} in that cell (no pasted "
                            "data or outputs) and submit again")
            flags.append({"kind": "refused", "text": f"the answer cell for {function} has {len(src):,} "
                          f"characters (limit {MAX_CELL_CHARS:,})"})
            answers[function] = ""
    cells = list(spec.setup_cells) + [(f, answers[f]) for f in spec.exercises if f in answers]
    source = StudentSource.join([(f, answers[f]) for f in spec.exercises if f in answers])
    return Submission(key=key, cells=cells, source=source, problems=problems, exercise_cells=answers,
                      flags=flags)


def submission_from_problem(spec: AssignmentSpec, key: str, message: str,
                            flags: list[dict] | None = None) -> Submission:
    """A submission with no readable notebook: nothing of the student's runs, the reason is kept
    (and ``flags``, when the notebook was refused by a limit: see :mod:`autograder.flags`)."""
    return Submission(key=key, cells=list(spec.setup_cells), source="", problems=[message],
                      flags=list(flags or []))
