"""Submissions flagged for review: what the grader saw a submission's code do, from outside.

A flag is recorded only for something the trusted grader observes itself, never for anything the
child says about itself (DESIGN §4: nothing the child writes decides anything):

* ``crashed``: the child running the student's code died, exited or was killed while loading the
  answer cells or running a graded function (``os._exit``, ``sys.exit``, a segfault, the memory
  limit), seen as a closed channel or a dead process;
* ``protocol``: the child answered with something that is not a well-formed reply (over the size
  limit, undecodable, not a reply at all);
* ``timeout``: a call, or loading the answer cells, ran past its wall-clock limit;
* ``budget``: the submission used up its total grading time;
* ``refused``: the notebook was refused by a size or cell limit before anything ran.

An honest but far too slow answer can be flagged too (``timeout``): a flag asks a person to look,
it changes no score.  Flags are bounded: at most :data:`MAX_FLAGS` per submission, each text at
most :data:`MAX_TEXT` characters, duplicates kept once.  ``d2l-grade grade`` records them with the
result (:class:`~autograder.results.SubmissionResult`) and sets nbgrader's ``flagged`` on the
submitted notebook, which the formgrader shows; the kit only ever sets that flag, never clears it
(a person may have set it, or cleared it after looking: a regrade that finds a flag again sets it
again).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = {
    "crashed": "the process running the code died or exited",
    "protocol": "the process running the code broke the grader's protocol",
    "timeout": "ran past a time limit",
    "budget": "used up the notebook's grading time",
    "refused": "notebook refused by a size or cell limit",
}
MAX_FLAGS = 8
MAX_TEXT = 200


def one_line(text, limit: int = MAX_TEXT) -> str:
    """``text`` on one line (runs of whitespace made one space), at most ``limit`` characters: for
    tables, the gradebook's view and the class report."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Flag:
    """One thing the grader saw: its kind (a key of :data:`KINDS`) and a short text."""

    kind: str
    text: str

    def to_dict(self) -> dict:
        """Plain data (JSON, process boundaries)."""
        return {"kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, d) -> "Flag | None":
        """The flag ``d`` describes, capped; None when it is not one (an unknown kind, not a dict)."""
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            return None
        return cls(d["kind"], one_line(d.get("text", "")))

    def describe(self) -> str:
        """``timeout: double ran past the 5 s limit``."""
        return f"{self.kind}: {self.text}" if self.text else self.kind


def from_plain(items) -> list[Flag]:
    """Flags from plain data (a stored result, a worker's answer): unknown entries dropped,
    duplicates kept once, at most :data:`MAX_FLAGS`."""
    log = FlagLog()
    for item in items if isinstance(items, (list, tuple)) else ():
        flag = item if isinstance(item, Flag) else Flag.from_dict(item)
        if flag is not None:
            log.add(flag.kind, flag.text)
    return log.flags


class FlagLog:
    """The flags of one submission as grading goes (duplicates dropped, at most :data:`MAX_FLAGS`)."""

    def __init__(self):
        self.flags: list[Flag] = []

    def add(self, kind: str, text: str) -> None:
        """Record ``kind`` (a key of :data:`KINDS`) with ``text`` (capped to one short line)."""
        if kind not in KINDS:
            raise ValueError(f"unknown flag kind {kind!r}")
        flag = Flag(kind, one_line(text))
        if flag not in self.flags and len(self.flags) < MAX_FLAGS:
            self.flags.append(flag)

    def as_plain(self) -> list[dict]:
        """The flags as plain data."""
        return [f.to_dict() for f in self.flags]
