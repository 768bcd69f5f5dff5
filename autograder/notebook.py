"""Reading notebooks as data: which cells an assignment has and what a student wrote in them.

Notebooks are parsed as JSON only; nothing in them is executed here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CELL_CHARS = 200_000


class NotebookError(ValueError):
    """The file is not a readable Jupyter notebook."""


@dataclass
class AssignmentSpec:
    """The structure of an assignment, read from the kit's own student notebook."""

    name: str
    notebook: dict
    exercises: list[str]
    setup_cells: list[tuple[str, str]]


class StudentSource(str):
    """All answer cells joined into one string, remembering where each cell starts, so that a
    message can say "line 3 of cell softmax" instead of a line number in the joined text."""

    starts: list[tuple[int, str]]

    @classmethod
    def join(cls, cells: list[tuple[str, str]]) -> "StudentSource":
        """Join ``(cell_id, source)`` pairs with blank lines between them."""
        text, starts, line = "", [], 1
        for cell_id, src in cells:
            if text:
                text += "\n\n"
                line += 2
            starts.append((line, cell_id))
            text += src
            line += src.count("\n")
        joined = cls(text)
        joined.starts = starts
        return joined

    def cell_line(self, line: int) -> str:
        """``"line 3 of cell softmax"`` for a line number of the joined text."""
        for start, cell_id in reversed(getattr(self, "starts", [])):
            if line >= start:
                return f"line {line - start + 1} of cell {cell_id}"
        return f"line {line}"


@dataclass
class Submission:
    """What one student's notebook contributes to grading."""

    key: str
    cells: list[tuple[str, str]]
    source: str
    problems: list[str] = field(default_factory=list)
    exercise_cells: dict[str, str] = field(default_factory=dict)

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
    """Parse a notebook file as JSON, refusing anything that is not a plausible notebook."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is {size // 1024**2} MiB, larger than the "
                            f"{MAX_NOTEBOOK_BYTES // 1024**2} MiB a notebook may be")
    try:
        nb = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        raise NotebookError(f"{path.name} is not a Jupyter notebook (it is not valid JSON); "
                            "submit the .ipynb file saved by Jupyter") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of cells)")
    return nb


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


def _defines(source: str, function: str) -> bool:
    return re.search(rf"^\s*(def|class)\s+{re.escape(function)}\b", source, re.MULTILINE) is not None


def submission_from_notebook(nb: dict, spec: AssignmentSpec, key: str) -> Submission:
    """Take each exercise's answer cell (by nbgrader grade_id) from a student's notebook.

    Setup cells come from the kit, not the student.  A missing or duplicated answer cell is
    noted as a problem; a cell that lost its metadata but still defines the function is used.
    """
    code_cells = [c for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    problems: list[str] = []
    answers: dict[str, str] = {}
    for function in spec.exercises:
        tagged = [c for c in code_cells if grade_id(c) == function]
        if len(tagged) > 1:
            problems.append(f"the answer cell for {function} appears {len(tagged)} times; "
                            "only the first one was graded")
        if tagged:
            answers[function] = cell_source(tagged[0])
            continue
        untagged = [c for c in code_cells if grade_id(c) is None and _defines(cell_source(c), function)]
        if untagged:
            problems.append(f"the answer cell for {function} lost its grading metadata; "
                            f"graded the cell that defines {function} instead")
            answers[function] = cell_source(untagged[0])
        else:
            problems.append(f"the answer cell for {function} is missing from the notebook "
                            "(deleted, or its function renamed)")
    for function, src in list(answers.items()):
        if len(src) > MAX_CELL_CHARS:
            problems.append(f"the answer cell for {function} is over {MAX_CELL_CHARS} characters "
                            "and was not graded")
            answers[function] = ""
    cells = list(spec.setup_cells) + [(f, answers[f]) for f in spec.exercises if f in answers]
    source = StudentSource.join([(f, answers[f]) for f in spec.exercises if f in answers])
    return Submission(key=key, cells=cells, source=source, problems=problems, exercise_cells=answers)


def submission_from_problem(spec: AssignmentSpec, key: str, message: str) -> Submission:
    """A submission with no readable notebook: nothing of the student's runs, the reason is kept."""
    return Submission(key=key, cells=list(spec.setup_cells), source="", problems=[message])
