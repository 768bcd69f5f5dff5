"""Driving nbgrader in-process: generate_assignment, autograde, generate_feedback, export.

Every call loads the configuration ``nbgrader`` itself would (:mod:`autograder.config_chain`: the
user's and the system's ``nbgrader_config.py``, then the course's) and runs
nbgrader's own converters through ``NbGraderAPI``, with nbgrader's log captured (not printed):
it comes back as the error text when something fails.

Autograding never runs student code (the course's config puts the kit's
:class:`~autograder.scorer.SandboxScorer` in place of ``Execute``), and it is done one student at a
time, so a notebook that makes nbgrader fail costs that student only.  When nbgrader refuses a
student's submission (no ``<assignment>.ipynb``, a file that is not a notebook, nbgrader metadata
it cannot validate, links), the student is graded on a *placeholder*: the release notebook (with
the student's answer cells copied in when they can be read) is autograded from a private folder
instead of ``submitted/``.  The scorer still reads the student's real file, so the grade is what
the kit makes of it (zero for an unreadable notebook) and every grade cell says why; nbgrader
records it in the gradebook, the autograded notebook and the feedback as usual.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import string
import sys
import time
import warnings
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from autograder import config_chain, scorer
from autograder.notebook import NotebookError, d2l_meta, load_assignment, read_notebook
from autograder.paths import CoursePaths, KitPaths
from autograder.results import ResultsStore, SubmissionResult, suite_digest

PLACEHOLDER_DIR = ".d2l_placeholders"   # in the course root, next to submitted/

_nbgrader_log = logging.getLogger("autograder.nbgrader.quiet")
_nbgrader_log.propagate = False        # nbgrader's chatter goes to capture_log's buffer only
_nbgrader_log.addHandler(logging.NullHandler())
_nbgrader_log.setLevel(logging.INFO)


class NbgraderError(RuntimeError):
    """An nbgrader step failed; the message holds nbgrader's log and traceback."""


# --------------------------------------------------------------------------------------------
# Configuration and the API object
# --------------------------------------------------------------------------------------------

def load_config(course: CoursePaths):
    """The configuration ``nbgrader`` uses in ``course`` as a traitlets Config: the user's and the
    system's ``nbgrader_config.py`` under the course's own (:mod:`autograder.config_chain`)."""
    if not course.config_file.is_file():
        raise NbgraderError(f"{course.config_file} does not exist: build the course first")
    return config_chain.course_config(course)


_ALEMBIC_HEAD: list[str] = []
_NBGRADER_GET_ALEMBIC_VERSION: list = []


def _alembic_head() -> str:
    """nbgrader's gradebook schema revision, read in-process once and remembered.

    A new gradebook is stamped with it, and nbgrader finds it by running ``alembic heads`` as a
    subprocess: about 3 s, and a failure when the venv's ``bin/`` is not on PATH (its python
    called by full path).  Installed in place of ``nbgrader.api.get_alembic_version``.
    """
    if not _ALEMBIC_HEAD:
        try:
            from alembic.config import Config as AlembicConfig
            from alembic.script import ScriptDirectory
            from nbgrader.dbutil import ALEMBIC_DIR
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", ALEMBIC_DIR)
            head = ScriptDirectory.from_config(cfg).get_current_head()
        except Exception:  # an alembic this code does not know: nbgrader's way, PATH fixed
            bindir = Path(sys.executable).parent
            if not shutil.which("alembic") and (bindir / "alembic").exists():
                os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
            head = _NBGRADER_GET_ALEMBIC_VERSION[0]()
        _ALEMBIC_HEAD.append(head)
    return _ALEMBIC_HEAD[0]


_ENGINES: dict = {}
_SQLALCHEMY_CREATE_ENGINE: list = []


def _shared_engine(url, **kwargs):
    """One SQLAlchemy engine per gradebook URL in this process, in place of nbgrader's
    ``create_engine`` per ``Gradebook``: nbgrader opens the gradebook about nine times to record
    one student, and each new engine starts with an empty compiled-statement cache, so every
    query was compiled again (two thirds of the recording time).  ``Gradebook.close`` disposes of
    the engine's pool, which only closes idle connections; the engine and its cache stay."""
    key = (str(url), tuple(sorted(kwargs.items())))
    engine = _ENGINES.get(key)
    if engine is None:
        engine = _ENGINES[key] = _SQLALCHEMY_CREATE_ENGINE[0](url, **kwargs)
    return engine


def _patch_nbgrader() -> None:
    import nbgrader.api
    if nbgrader.api.get_alembic_version is not _alembic_head:
        _NBGRADER_GET_ALEMBIC_VERSION[:] = [nbgrader.api.get_alembic_version]
        nbgrader.api.get_alembic_version = _alembic_head
    if nbgrader.api.create_engine is not _shared_engine:
        _SQLALCHEMY_CREATE_ENGINE[:] = [nbgrader.api.create_engine]
        nbgrader.api.create_engine = _shared_engine


@contextmanager
def nbgrader_api(course: CoursePaths):
    """An ``NbGraderAPI`` on ``course`` whose log is captured, never printed."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.log import get_logger
    _patch_nbgrader()
    config = load_config(course)
    config.NbGraderAPI.log_level = logging.INFO
    tl = get_logger()
    level = tl.level
    old_cwd = os.getcwd()
    # as in an nbgrader command run in the course: a plugin class the config names may live there
    sys.path.insert(0, str(course.root))
    try:
        with warnings.catch_warnings():
            # SQLAlchemy's "not in session" warnings on every new submission, nbformat's
            # missing-id warnings on cells nbgrader restores: nbgrader's, and harmless
            warnings.simplefilter("ignore")
            api = NbGraderAPI(config=config, log=_nbgrader_log)
            yield api
    finally:
        tl.setLevel(level)           # NbGraderAPI sets traitlets' global logger level
        os.chdir(old_cwd)
        with suppress(ValueError):
            sys.path.remove(str(course.root))


def _failure_text(result: dict) -> str:
    parts = [result.get("error") or "", result.get("log") or ""]
    return "\n".join(p for p in parts if p).strip() or "nbgrader failed without a message"


# --------------------------------------------------------------------------------------------
# generate_assignment
# --------------------------------------------------------------------------------------------

def generate_assignment(course: CoursePaths, assignment: str) -> Path:
    """``nbgrader generate_assignment`` (force, create); returns the release notebook."""
    with nbgrader_api(course) as api:
        result = api.generate_assignment(assignment, force=True, create=True)
    notebook = course.release(assignment) / f"{assignment}.ipynb"
    if not result["success"] or not notebook.is_file():
        raise NbgraderError(f"generate_assignment {assignment} failed:\n{_failure_text(result)}")
    return notebook


# --------------------------------------------------------------------------------------------
# Submissions
# --------------------------------------------------------------------------------------------

def list_submissions(course: CoursePaths, assignment: str) -> dict[str, list[Path]]:
    """``{student: [files]}`` for every ``submitted/<student>/<assignment>/`` (files sorted,
    recursive, ``timestamp.txt`` included)."""
    out: dict[str, list[Path]] = {}
    base = course.root / "submitted"
    if not base.is_dir():
        return out
    for student_dir in sorted(base.iterdir()):
        folder = student_dir / assignment
        if student_dir.is_dir() and folder.is_dir():
            if student_dir.is_symlink() or folder.is_symlink():
                out[student_dir.name] = [folder]  # a link: listed, never followed
            else:
                out[student_dir.name] = sorted(p for p in folder.rglob("*")
                                               if not p.is_dir() or p.is_symlink())
    return out


# Web content a browser would run: nbgrader copies a submission's other files into autograded/,
# and the formgrader serves them from the instructor's Jupyter origin.
ACTIVE_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml", ".mht", ".mhtml", ".svg", ".svgz", ".xml", ".xsl",
                   ".xslt", ".js", ".mjs", ".swf"}
MAX_SUBMISSION_FILES = 200


def _refusal_reason(course: CoursePaths, assignment: str, student: str) -> str | None:
    """Why nbgrader must not be given this submission folder as it is (None: it may)."""
    folder = course.submitted(student, assignment)
    link = scorer.linked_part(course, student, assignment)
    if link is not None and link != f"{assignment}.ipynb":
        return f"{link} is a link, which is not accepted"
    files = []
    for path in folder.rglob("*"):
        files.append(path)
        if len(files) > MAX_SUBMISSION_FILES:
            return f"your submission holds more than {MAX_SUBMISSION_FILES} files; submit the notebook alone"
    links = [p for p in files if p.is_symlink()]
    if links:
        # nbgrader copies a submission's other files into autograded/ and feedback/, following
        # links: a link to a file of the grader would be handed back to the student.
        names = ", ".join(str(p.relative_to(folder)) for p in links[:5])
        return f"your submission contains links ({names}), which are not accepted"
    active = [p for p in files if p.suffix.lower() in ACTIVE_SUFFIXES]
    if active:
        names = ", ".join(str(p.relative_to(folder)) for p in active[:5])
        return f"your submission contains web pages or scripts ({names}), which are not accepted"
    notebook = scorer.submitted_notebook(course, student, assignment)
    if notebook.is_file():
        try:
            read_notebook(notebook)  # over a limit: nbgrader would spend minutes opening it
        except NotebookError as exc:
            return str(exc)
    return None


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------

def placeholder_notebook(course: CoursePaths, kit: KitPaths, assignment: str, student: str,
                         reason: str) -> dict:
    """The release notebook, with the student's answer cells copied in (the very cells the kit
    grades), and a first cell that says why the student's own notebook is not shown."""
    release = course.release(assignment) / f"{assignment}.ipynb"
    nb = copy.deepcopy(read_notebook(release))
    # load_submission never reads through a link and never executes anything
    answers = scorer.load_submission(course, load_assignment(kit, assignment), student).exercise_cells
    for cell in nb["cells"]:
        function = d2l_meta(cell).get("function")
        if d2l_meta(cell).get("role") == "exercise" and function in answers:
            cell["source"] = answers[function]
    note = ("**The grader could not use your notebook as it was submitted.** "
            f"Reason: {reason}.\n\nBelow is a fresh copy of the assignment"
            + (" with your answer cells copied in" if answers else "")
            + "; the grade of each exercise is shown under its self-check cell.")
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "d2l-placeholder-note",
                           "metadata": {"d2l": {"role": "text"}}, "source": note})
    return nb


def _write_placeholder(course: CoursePaths, kit: KitPaths, assignment: str, student: str,
                       reason: str) -> Path:
    from nbgrader.utils import parse_utc
    folder = course.root / PLACEHOLDER_DIR / student / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    nb = placeholder_notebook(course, kit, assignment, student, reason)
    (folder / f"{assignment}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    stamp = course.submitted(student, assignment) / "timestamp.txt"
    try:
        text = stamp.read_text().strip() if stamp.is_file() and not stamp.is_symlink() else ""
        if text:
            parse_utc(text)
            (folder / "timestamp.txt").write_text(text)
    except (ValueError, OSError, UnicodeDecodeError):
        pass
    return folder


def nbgrader_cause(text: str) -> str:
    """The exception line of the last traceback in nbgrader's captured log/error text.

    One pass over the lines, no regular expressions: the log can quote a student's notebook, so
    this stays linear in its length.  A traceback runs from its ``Traceback (most recent call
    last):`` line to the next traceback or the next log record (a line starting with ``[``); the
    answer is the last exception line of the last traceback that has one.
    """
    cause = None
    in_traceback = False
    for line in text.splitlines():
        if "Traceback (most recent call last):" in line:
            in_traceback = True
        elif line.startswith("[") and not line.startswith("[ "):
            in_traceback = False  # the next log record
        elif in_traceback and _is_exception_line(line.strip()):
            cause = line.strip()
    return cause[:300] if cause else "unknown error"


_EXCEPTION_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt")
_MAX_EXCEPTION_NAME = 200  # no exception's dotted name is longer


def _is_exception_line(line: str) -> bool:
    """Whether a stripped traceback line is the exception line: it starts with a dotted name that
    is followed by ``": "`` (``ValueError: bad``) or has a part ending in Error, Exception, Exit or
    Interrupt (``KeyboardInterrupt``, ``nbformat.ValidationError``); source lines shown under a
    ``File`` line and ``^~~~`` markers are not."""
    if not line or line.startswith(("File ", "^", "~")) or not line.strip("^~ "):
        return False
    if not (line[0] == "_" or line[0] in string.ascii_letters):
        return False
    end = 1
    while end < len(line) and end <= _MAX_EXCEPTION_NAME and (line[end].isalnum() or line[end] in "_."):
        end += 1
    if end > _MAX_EXCEPTION_NAME:
        return False
    if line.startswith(": ", end):
        return True
    name = line[:end]
    heads = [name[:i] for i, ch in enumerate(name) if ch == "."] + [name]
    # the suffix must follow the first letter: "OSError", "_Exit", but not a bare "Error"
    return any(len(head) > len(suffix) and head.endswith(suffix)
               for head in heads for suffix in _EXCEPTION_SUFFIXES)


def misnamed_notebook(path: Path) -> str:
    """Why ``path`` (the notebook nbgrader expects) is not there, naming the notebooks that are
    in its folder instead (``mlp (1).ipynb``, a download renamed by the browser) and the name
    expected; at most five names, each cut to 80 characters and with characters that are not
    printable (a terminal's escape sequences) shown as ``?``: the names are the student's."""
    try:
        found = sorted(p.name for p in path.parent.iterdir()
                       if p.name.lower().endswith(".ipynb") and not p.is_dir())
    except OSError:
        found = []
    if not found:
        return f"it has no {path.name} (no notebook at all in the submission)"
    names = ", ".join("".join(ch if ch.isprintable() else "?" for ch in name[:80]) for name in found[:5]) \
        + (", ..." if len(found) > 5 else "")
    return (f"it has no {path.name} but holds {names}: the notebook must be named exactly "
            f"{path.name} (rename it to {path.name})")


def _short_reason(course: CoursePaths, assignment: str, student: str, nbgrader_error: str) -> str:
    from nbgrader.utils import parse_utc
    path = scorer.submitted_notebook(course, student, assignment)
    stamp = path.parent / "timestamp.txt"
    if stamp.is_file():
        try:
            if stamp.read_text().strip():
                parse_utc(stamp.read_text().strip())
        except (ValueError, OSError, UnicodeDecodeError):
            return "its timestamp.txt does not hold a valid time"
    if not path.is_file():
        return misnamed_notebook(path)
    try:
        read_notebook(path)
    except NotebookError as exc:
        return str(exc)
    return ("its format or grading metadata is damaged (a duplicated or pasted cell, or cell metadata "
            f"edited or removed), and nbgrader could not process it: {nbgrader_cause(nbgrader_error)}")


# --------------------------------------------------------------------------------------------
# autograde / generate_feedback / export
# --------------------------------------------------------------------------------------------

def _valid_student_id(student: str) -> bool:
    """Letters, digits and ``. _ @ + -`` only: nbgrader globs with ids (``* ? [ ]``), builds paths
    from them, and the formgrader shows them unescaped in its pages."""
    return bool(student) and len(student) <= 100 and student not in (".", "..") \
        and all(ch.isalnum() or ch in "._@+-" for ch in student)


def kit_of(course: CoursePaths) -> KitPaths:
    """The kit a course was built from (``SandboxScorer.kit_root`` in its config)."""
    root = load_config(course).SandboxScorer.kit_root
    return KitPaths(root if isinstance(root, str) and root else None)


def autograde(course: CoursePaths, assignment: str, students=None, *,
              kit: KitPaths | None = None) -> dict[str, tuple[bool, str]]:
    """Record grades for ``students`` (default: all who submitted) with nbgrader's autograde
    (force, create), one student at a time: ``{student: (success, error_text)}``.

    ``success`` is True when the student has grades in the gradebook (the message then says
    when a placeholder had to be used); False when nbgrader could not record any (the text has
    nbgrader's log and traceback).  The scores themselves come from the kit's scorer, which reads
    the course's results store (:func:`grade_class` fills it first) or grades each notebook as it
    comes.
    """
    if students is None:
        students = list(list_submissions(course, assignment))
    out: dict[str, tuple[bool, str]] = {}
    if not students:
        return out
    kit = kit or kit_of(course)
    store = ResultsStore(course.root)
    with nbgrader_api(course) as api:
        for student in students:
            out[student] = _autograde_one(api, course, kit, store, assignment, student)
    return out


def _refused_id(student: str) -> str:
    return (f"student id {student[:100]!r} is not accepted: use letters, digits and . _ @ + - "
            "only (rename the folder in submitted/)")


@contextmanager
def _placeholder_reason(api, reason: str):
    """Tell the scorer (through its config trait, as nbgrader passes settings) that nbgrader is
    given a placeholder for this student, and why."""
    api.config.SandboxScorer.placeholder_reason = reason
    try:
        yield
    finally:
        api.config.SandboxScorer.placeholder_reason = ""


def _autograde_one(api, course: CoursePaths, kit: KitPaths, store: ResultsStore, assignment: str,
                   student: str) -> tuple[bool, str]:
    from nbgrader.utils import temp_attrs
    if not _valid_student_id(student):
        return False, _refused_id(student)
    if not course.submitted(student, assignment).is_dir():
        return False, f"no submission folder {course.submitted(student, assignment)}"
    store.take_failure(assignment, student)
    reason = _refusal_reason(course, assignment, student)
    first_error = ""
    if reason is None:
        result = api.autograde(assignment, student, force=True, create=True)
        if result["success"]:
            return True, ""
        first_error = _failure_text(result)
        failure = store.take_failure(assignment, student)
        if failure:
            return False, failure + "\n" + first_error
        reason = _short_reason(course, assignment, student, first_error)
    # nbgrader refused the submission: grade a placeholder instead
    folder = _write_placeholder(course, kit, assignment, student, reason)
    try:
        with temp_attrs(api.coursedir, submitted_directory=PLACEHOLDER_DIR), _placeholder_reason(api, reason):
            result = api.autograde(assignment, student, force=True, create=True)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
        try:
            (course.root / PLACEHOLDER_DIR).rmdir()
        except OSError:
            pass
    if result["success"]:
        return True, f"graded on a placeholder: {reason}" + (
            f"\n--- nbgrader's error on the submitted notebook ---\n{first_error}" if first_error else "")
    failure = store.take_failure(assignment, student)
    return False, (f"nbgrader failed on the submitted notebook and on the placeholder ({reason}):\n"
                   + (failure + "\n" if failure else "") + _failure_text(result))


@dataclass
class ClassRun:
    """What :func:`grade_class` did: every result (graded now or taken from the store), what
    nbgrader made of each student, and where the time went."""

    results: dict[str, SubmissionResult] = field(default_factory=dict)
    recorded: dict[str, tuple[bool, str]] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)     # graded in this run
    reused: list[str] = field(default_factory=list)     # graded before: not graded again
    workers: int = 0
    timings: dict[str, float] = field(default_factory=dict)   # seconds, summed over students


def gradebook_students(course: CoursePaths, assignment: str) -> tuple[set[str], set[str]]:
    """(every student in the course's gradebook, those with a submission of ``assignment`` there);
    empty sets where there is no gradebook, or nbgrader cannot open it."""
    if not course.gradebook.is_file():
        return set(), set()
    try:
        from nbgrader.api import Gradebook
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(f"sqlite:///{course.gradebook}") as gb:
                everyone = {s.id for s in gb.students}
                try:
                    submitted = {s.student.id for s in gb.assignment_submissions(assignment)}
                except Exception:  # noqa: BLE001 - the assignment is not in the gradebook yet
                    submitted = set()
                return everyone, submitted
    except Exception:  # noqa: BLE001 - nbgrader missing, or a gradebook it cannot open
        return set(), set()


def make_executor(kit: KitPaths, assignment: str, must_not_see: list[str], *, jobs: int = 1,
                  scheduler=None, grade=None):
    """Where chunks are graded: this process, ``jobs`` local workers, or a Dask cluster."""
    from autograder import batch
    if grade is not None or (scheduler is None and jobs <= 1):
        return batch.InProcess(kit, must_not_see, grade=grade)
    if scheduler is not None:
        return batch.DaskExecutor(scheduler, kit, assignment, must_not_see)
    return batch.LocalPool(jobs, kit, must_not_see)


def grade_class(course: CoursePaths, assignment: str, students=None, **options) -> ClassRun:
    """Grade ``students`` (default: every submission) and record each in the gradebook, holding
    the course's grading lock (:meth:`ResultsStore.lock`); see :func:`_grade_class`."""
    with ResultsStore(course.root).lock():
        return _grade_class(course, assignment, students, **options)


def _grade_class(course: CoursePaths, assignment: str, students=None, *, kit: KitPaths | None = None,
                 grade=None, jobs: int = 1, scheduler=None, force: bool = False,
                 on_begin=None, on_result=None) -> ClassRun:
    """Grade ``students`` (default: every submission) and record each in the gradebook.

    A student whose stored result matches their notebook (fingerprint) and the hidden suite
    (digest) and who is in the gradebook is not graded again (``force``: everyone is); one graded
    but not yet recorded (a run killed in between) is only recorded.  The rest are graded in
    chunks by ``jobs`` sandboxed workers (or on the Dask cluster at ``scheduler``); as each result
    arrives it is written to the results store, then recorded by nbgrader in this process, then
    marked recorded.  A run killed at any moment loses at most the students being graded.

    Fail closed: the workers' sandboxes are started and probed before anything is recorded.
    ``on_begin(total, done)`` and ``on_result(student, result_or_None, ok, text)`` follow progress.
    """
    from autograder import batch
    started = time.monotonic()
    kit = kit or kit_of(course)
    store = ResultsStore(course.root)
    if students is None:
        students = list(list_submissions(course, assignment))
    spec = load_assignment(kit, assignment)
    policy = dependent_grading(course, assignment)
    suite = suite_digest(kit, assignment, policy)
    run = ClassRun()
    subs = {s: scorer.load_submission(course, spec, s) for s in students if _valid_student_id(s)}
    _everyone, in_gradebook = gradebook_students(course, assignment)
    to_grade, to_record = [], []
    for student, sub in subs.items():
        stored = None if force else store.find(assignment, student, sub.fingerprint, suite)
        if stored is None:
            to_grade.append(student)
        elif (stored.recorded is None or not stored.recorded.ok or student not in in_gradebook
              or not (course.autograded(student, assignment) / f"{assignment}.ipynb").is_file()):
            to_record.append(stored)  # (autograded/ deleted: nbgrader writes it again, feedback needs it)
        else:
            run.results[student] = stored
            run.recorded[student] = (True, stored.recorded.message)
            run.reused.append(student)
    totals = {"child_start": 0.0, "student_cells": 0.0, "tests": 0.0, "grading": 0.0, "recording": 0.0,
              "workers_start": 0.0}
    executor = None
    if to_grade:
        # no more workers than students to grade (one student: this process, no worker to start)
        executor = make_executor(kit, assignment, [str(course.root)], jobs=min(jobs, len(to_grade)),
                                 scheduler=scheduler, grade=grade)
        began = time.monotonic()
        try:
            executor.start()       # SandboxUnavailable here: nothing recorded
        except BaseException:
            executor.close()
            raise
        totals["workers_start"] = time.monotonic() - began
        run.workers = executor.workers
    if on_begin:
        on_begin(len(students), len(run.reused))

    def done(student, result, ok, text):
        run.recorded[student] = (ok, text)
        if on_result:
            on_result(student, result, ok, text)

    def record(api, result: SubmissionResult) -> None:
        began = time.monotonic()
        ok, text = _autograde_one(api, course, kit, store, assignment, result.student)
        result.timings["recording"] = time.monotonic() - began
        store.mark_recorded(result, ok, text)
        run.results[result.student] = result
        done(result.student, result, ok, text)

    try:
        with nbgrader_api(course) as api:
            for student in students:
                if not _valid_student_id(student):
                    done(student, None, False, _refused_id(student))
            for stored in to_record:
                run.reused.append(stored.student)
                record(api, stored)
            if to_grade:
                size = batch.chunk_size(len(to_grade), executor.workers)
                chunks = [batch.Chunk(spec, {s: subs[s] for s in part}, str(kit.root),
                                      must_not_see=[str(course.root)], dependents=policy)
                          for part in batch.chunked(to_grade, size)]
                for chunk, outcome in executor.map(chunks):
                    if isinstance(outcome, BaseException):
                        from autograder.grading import GraderError
                        if isinstance(outcome, GraderError):
                            raise outcome
                        for student in chunk.submissions:
                            done(student, None, False, f"not graded: {type(outcome).__name__}: {outcome}")
                        continue
                    share = {k: v / len(chunk.submissions) for k, v in outcome.timings.items()}
                    for student, sub in chunk.submissions.items():
                        result = SubmissionResult.from_exercises(student, assignment, sub.fingerprint,
                                                                 outcome.results[student], suite, share,
                                                                 flags=outcome.flags.get(student))
                        store.put(result)           # graded: safe on disk before nbgrader sees it
                        run.graded.append(student)
                        record(api, result)
    finally:
        if executor is not None:
            executor.close()
    for student in run.graded:
        for key, value in run.results[student].timings.items():
            totals[key] = totals.get(key, 0.0) + value
    run.timings = totals
    store.put_run(assignment, {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": time.monotonic() - started,
                               "workers": run.workers, "graded": len(run.graded), "reused": len(run.reused),
                               "students": len(students), "timings": totals})
    return run


def grade_and_record(course: CoursePaths, assignment: str, students=None, *,
                     kit: KitPaths | None = None, grade=None, **options) -> tuple[dict, dict]:
    """:func:`grade_class`, as plain data: ``(results, recorded)`` with ``results`` as
    ``{student: {exercise: {...}}}`` and ``recorded`` as ``{student: (success, error)}``.

    ``grade(spec, {student: Submission}, kit, must_not_see=[...], dependents=...)`` replaces the
    sandboxed grading (tests); ``options``: ``jobs``, ``scheduler``, ``force``.
    """
    run = grade_class(course, assignment, students, kit=kit, grade=grade, **options)
    return {s: r.exercises_dict() for s, r in run.results.items()}, run.recorded


def dependent_grading(course: CoursePaths, assignment: str) -> str | None:
    """The course's ``SandboxScorer.dependent_grading`` for ``assignment`` (None: the default)."""
    table = load_config(course).SandboxScorer.get("dependent_grading", {})
    value = table.get(assignment) if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def generate_feedback(course: CoursePaths, assignment: str, students=None) -> dict[str, tuple[bool, str]]:
    """``nbgrader generate_feedback`` (force) per student (default: every autograded one):
    ``{student: (success, error_text)}``; the HTML lands in ``feedback/<student>/<assignment>/``."""
    if students is None:
        base = course.root / "autograded"
        students = sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) \
            if base.is_dir() else []
    out = {}
    with nbgrader_api(course) as api:
        for student in students:
            if not _valid_student_id(student):
                out[student] = (False, f"student id {student[:100]!r} is not accepted: use letters, digits "
                                       "and . _ @ + - only")
                continue
            result = api.generate_feedback(assignment, student, force=True)
            html = course.feedback(student, assignment) / f"{assignment}.html"
            ok = result["success"] and html.is_file()
            out[student] = (ok, "" if ok else _failure_text(result))
    return out


def export_csv(course: CoursePaths, path=None) -> Path:
    """nbgrader's CSV export of the whole gradebook (default: ``exports/grades.csv``)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin
    path = Path(path) if path else course.exports / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = load_config(course)
    with nbgrader_api(course) as api:
        plugin = CsvExportPlugin(config=config, log=_nbgrader_log)
        plugin.to = str(path.resolve())
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            plugin.export(gb)
    return path
