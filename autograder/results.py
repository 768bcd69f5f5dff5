"""What grading found, as typed objects, and the course's on-disk store of them.

:class:`TestResult` (one check), :class:`ExerciseResult` (one exercise: the sum of its checks) and
:class:`SubmissionResult` (one student's submission of one assignment, with the fingerprint of
the notebook it came from and whether nbgrader has recorded it) are the one model of a result.
The grading engine produces plain dictionaries (they cross process and machine boundaries as
data: ``{exercise: {"score", "max_score", "tests": [...], "withheld"?, "blamed_on"?}}``);
:meth:`SubmissionResult.from_exercises` and :meth:`SubmissionResult.exercises_dict` convert
between the two without losing a field.

:class:`ResultsStore` keeps one JSON file per student and assignment in
``<course>/.d2l_results/<assignment>/<student>.json``, written atomically (a temporary file,
``fsync``, ``os.replace``) as soon as that student is graded, and again once nbgrader has
recorded it.  A grader killed at any moment leaves every file either as it was or complete: the
next run reuses what matches (same notebook fingerprint, same hidden suite), records what was
graded but not recorded, and grades the rest.  The kit's nbgrader scorer reads from this store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.flags import Flag, from_plain

STORE_DIR = ".d2l_results"   # in the course root, next to gradebook.db (instructors only)
FORMAT = 1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class TestResult:
    """One hidden check's outcome for one submission."""

    __test__ = False  # not a pytest test class

    name: str
    passed: bool
    points: float
    max_points: float
    message: str = ""
    grader_error: str = ""   # for the instructor only: the hidden test itself broke
    withheld: bool = False   # graded by hand (see autograder.blame)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "TestResult":
        known = {"name", "passed", "points", "max_points", "message", "grader_error", "withheld"}
        return cls(name=str(d.get("name", "?")), passed=bool(d.get("passed")),
                   points=float(d.get("points", 0.0)), max_points=float(d.get("max_points", 0.0)),
                   message=str(d.get("message", "")), grader_error=str(d.get("grader_error") or ""),
                   withheld=bool(d.get("withheld")), extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        out = {"name": self.name, "passed": self.passed, "points": self.points,
               "max_points": self.max_points, "message": self.message}
        if self.grader_error:
            out["grader_error"] = self.grader_error
        if self.withheld:
            out["withheld"] = True
        out.update(self.extra)
        return out


@dataclass
class ExerciseResult:
    """One exercise: its checks, the points they earned, and whether a person grades it."""

    score: float
    max_score: float
    tests: list[TestResult] = field(default_factory=list)
    withheld: bool = False
    blamed_on: list[str] | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "ExerciseResult":
        known = {"score", "max_score", "tests", "withheld", "blamed_on"}
        blamed = d.get("blamed_on")
        return cls(score=float(d.get("score", 0.0)), max_score=float(d.get("max_score", 0.0)),
                   tests=[TestResult.from_dict(t) for t in d.get("tests", [])],
                   withheld=bool(d.get("withheld")),
                   blamed_on=list(blamed) if blamed is not None else None,
                   extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        out = {"score": self.score, "max_score": self.max_score, "tests": [t.to_dict() for t in self.tests]}
        if self.withheld:
            out["withheld"] = True
        if self.blamed_on is not None:
            out["blamed_on"] = list(self.blamed_on)
        out.update(self.extra)
        return out


@dataclass
class Recording:
    """What nbgrader made of a graded submission: recorded (``ok``) or not, and why."""

    ok: bool
    message: str = ""
    at: str = ""


@dataclass
class SubmissionResult:
    """One student's submission of one assignment: every exercise, where it came from, whether
    it is in the gradebook, and what grading saw it do (``flags``, :mod:`autograder.flags`; a
    stored file without them, written before flags existed, reads back with none)."""

    student: str
    assignment: str
    fingerprint: str                 # of exactly what was graded (Submission.fingerprint)
    exercises: dict[str, ExerciseResult]
    suite: str = ""                  # digest of the hidden suite, reference and policy used
    graded_at: str = ""
    recorded: Recording | None = None
    timings: dict = field(default_factory=dict)   # seconds spent on this submission, by stage
    flags: list[Flag] = field(default_factory=list)

    @classmethod
    def from_exercises(cls, student: str, assignment: str, fingerprint: str, exercises: dict,
                       suite: str = "", timings: dict | None = None, flags=None) -> "SubmissionResult":
        """From the grading engine's plain ``{exercise: {...}}`` (and its plain ``flags``)."""
        return cls(student, assignment, fingerprint,
                   {name: ExerciseResult.from_dict(e) for name, e in exercises.items()},
                   suite=suite, graded_at=_now(), timings=dict(timings or {}),
                   flags=from_plain(flags or []))

    def exercises_dict(self) -> dict:
        """The engine's plain ``{exercise: {...}}`` form (``--json``, the scorer, the table)."""
        return {name: e.to_dict() for name, e in self.exercises.items()}

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises.values())

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises.values())

    def withheld(self) -> list[str]:
        """Exercises left for grading by hand, sorted."""
        return sorted(name for name, e in self.exercises.items() if e.withheld)

    def grader_errors(self) -> list[str]:
        """``"mlp_forward TestX::test_y: NameError: ..."`` per check whose hidden test broke."""
        return [f"{name} {t.name}: {t.grader_error}" for name, e in self.exercises.items()
                for t in e.tests if t.grader_error]

    def to_dict(self) -> dict:
        out = {"format": FORMAT, "student": self.student, "assignment": self.assignment,
               "fingerprint": self.fingerprint, "suite": self.suite, "graded_at": self.graded_at,
               "recorded": None if self.recorded is None else {
                   "ok": self.recorded.ok, "message": self.recorded.message, "at": self.recorded.at},
               "timings": self.timings, "exercises": self.exercises_dict()}
        if self.flags:
            out["flags"] = [f.to_dict() for f in self.flags]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        rec = d.get("recorded")
        return cls(student=d["student"], assignment=d["assignment"], fingerprint=d["fingerprint"],
                   exercises={n: ExerciseResult.from_dict(e) for n, e in d["exercises"].items()},
                   suite=d.get("suite", ""), graded_at=d.get("graded_at", ""),
                   recorded=None if rec is None else Recording(bool(rec.get("ok")), str(rec.get("message", "")),
                                                               str(rec.get("at", ""))),
                   timings=dict(d.get("timings") or {}), flags=from_plain(d.get("flags") or []))


def suite_digest(kit, assignment: str, policy: str | None = None) -> str:
    """sha256 of what decides a grade besides the notebook: the hidden suites and their helpers,
    the reference solution, the assignment notebook, and the dependent-grading policy.  A stored
    result graded under another digest is graded again."""
    h = hashlib.sha256()
    paths = sorted(Path(kit.grader_tests).glob("*.py")) + [Path(kit.solution_module(assignment)),
                                                            Path(kit.assignment_notebook(assignment))]
    for path in paths:
        h.update(path.name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    h.update(f"policy={policy}".encode())
    return h.hexdigest()


def _safe_name(name: str) -> bool:
    return bool(name) and len(name) <= 100 and name not in (".", "..") \
        and all(ch.isalnum() or ch in "._@+-" for ch in name)


def shared_mode() -> int:
    """The mode a new file gets here (0666 less the process's umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, text: str, shared: bool = False) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old file or the new one, whole.

    The file is readable by its owner only (a temporary file's mode), unless ``shared``: then it
    gets the mode any new file would (0666 less the umask), for exports and reports an instructor
    passes on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if shared:
            os.fchmod(fd, shared_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dirfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    except OSError:
        pass


class CourseBusy(ValueError):
    """Another grading run holds the course's lock."""


class ResultsStore:
    """One JSON file per student and assignment under ``<course>/.d2l_results/``."""

    def __init__(self, course_root=None, *, path=None):
        self.root = Path(path) if path else Path(course_root) / STORE_DIR

    def path(self, assignment: str, student: str) -> Path:
        if not (_safe_name(assignment) and _safe_name(student)):
            raise ValueError(f"not a storable name: {assignment[:100]!r}/{student[:100]!r}")
        return self.root / assignment / f"{student}.json"

    def get(self, assignment: str, student: str) -> SubmissionResult | None:
        """The stored result, or None (none stored, or a file that does not read back)."""
        try:
            path = self.path(assignment, student)
            return SubmissionResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def find(self, assignment: str, student: str, fingerprint: str, suite: str | None = None):
        """The stored result for exactly this notebook (and hidden suite, when given), or None."""
        result = self.get(assignment, student)
        if result is None or result.fingerprint != fingerprint or (suite is not None and result.suite != suite):
            return None
        return result

    def put(self, result: SubmissionResult) -> None:
        write_atomically(self.path(result.assignment, result.student),
                         json.dumps(result.to_dict(), indent=1, sort_keys=True))

    def mark_recorded(self, result: SubmissionResult, ok: bool, message: str = "") -> None:
        result.recorded = Recording(ok, message, _now())
        self.put(result)

    @contextlib.contextmanager
    def lock(self):
        """Hold the course's grading lock (one grading run per course at a time: never one student
        graded twice at once, one writer of the gradebook); raises :class:`CourseBusy` at once when
        another run holds it.  The lock dies with its process (``kill -9`` included)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CourseBusy(f"another `d2l-grade grade` is grading this course ({self.root.parent}); "
                                 "wait for it to finish") from None
            yield
        finally:
            os.close(fd)

    def put_run(self, assignment: str, summary: dict) -> None:
        """What the last grading run of ``assignment`` did (counts, workers, seconds by stage)."""
        write_atomically(self.root / f"{assignment}.run.json", json.dumps(summary, indent=1, sort_keys=True))

    def get_run(self, assignment: str) -> dict | None:
        try:
            return json.loads((self.root / f"{assignment}.run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def students(self, assignment: str) -> list[str]:
        folder = self.root / assignment
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.json"))

    # --- the scorer's failures, for the driver (never a student's fault) -----------------------
    def _failure_path(self, assignment: str, student: str) -> Path:
        return self.path(assignment, student).with_suffix(".failure")

    def note_failure(self, assignment: str, student: str, message: str) -> None:
        write_atomically(self._failure_path(assignment, student), message)

    def take_failure(self, assignment: str, student: str) -> str | None:
        """The failure noted since the last call (and forget it), or None."""
        path = self._failure_path(assignment, student)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            path.unlink()
        except OSError:
            pass
        return text
