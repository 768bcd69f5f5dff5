"""The kit's scorer inside nbgrader's autograde pipeline.

``SandboxScorer`` takes the place of nbgrader's ``Execute`` (see the course's
``nbgrader_config.py``).  It runs nothing from the notebook.  For the notebook nbgrader is
autograding it

1. reads what the student submitted, ``submitted/<student>/<assignment>/<notebook>.ipynb``, as
   JSON only, and builds a :class:`~autograder.notebook.Submission` from it (the same function
   and the same file the batch grader uses, so their fingerprints agree);
2. takes the per-exercise results from the course's results store
   (:class:`~autograder.results.ResultsStore`, ``<course>/.d2l_results/``; the trait
   ``results_dir`` names another place), which ``d2l-grade grade`` fills before it asks nbgrader
   to record a student: the stored result of exactly this notebook (fingerprint) under the
   current hidden suite (digest).  On a miss (``nbgrader autograde`` run by hand) it grades this
   one submission with :func:`autograder.grading.grade_submissions` (sandboxed, hidden suite)
   and stores the result;
3. writes every grade (self-check) cell's outputs the way ``nbgrader.utils.determine_grade``
   reads them (DESIGN §7): a stdout report plus an ``execute_result`` holding the score as a
   float (partial credit, never above the cell's points), or, for a zero, a single ``error``
   output that carries the report.  No grade cell is left without output;
4. names, in ``resources["d2l_withheld"]``, the grade cells of exercises whose grade is withheld
   (a hidden test broke, or the assignment grades dependents independently): the kit's
   :class:`SaveAutoGradesWithheld` then records no automatic score for them and flags them for
   manual grading, so the formgrader shows them to a person instead of a zero;
5. sets ``resources["d2l_flagged"]`` when grading flagged the submission (:mod:`autograder.flags`):
   :class:`SaveAutoGradesWithheld` then sets nbgrader's ``flagged`` on the submitted notebook
   (the formgrader shows it).  It never clears the flag: a person may have set it.
"""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_output
from traitlets import Dict, Unicode

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades

from autograder.notebook import (AssignmentSpec, NotebookError, NotebookTooLarge, Submission, cell_source,
                                 d2l_meta, grade_id, load_assignment, read_notebook, submission_from_notebook,
                                 submission_from_problem)
from autograder.paths import CoursePaths, KitPaths
from autograder.results import ResultsStore, SubmissionResult, suite_digest

PASS_MARK, FAIL_MARK = "✓", "✗"


class ScorerError(RuntimeError):
    """The kit could not score a submission (a broken hidden suite, say): not the student's fault."""


# --------------------------------------------------------------------------------------------
# What the student submitted
# --------------------------------------------------------------------------------------------

def submitted_notebook(course: CoursePaths, student: str, assignment: str,
                       notebook: str | None = None) -> Path:
    return course.submitted(student, assignment) / f"{notebook or assignment}.ipynb"


def linked_part(course: CoursePaths, student: str, assignment: str,
                notebook: str | None = None) -> str | None:
    """The name of the first link on the way to a student's notebook (None: no link)."""
    path = submitted_notebook(course, student, assignment, notebook)
    for p in (path.parent.parent, path.parent, path):
        if p.is_symlink():
            return p.name
    return None


def load_submission(course: CoursePaths, spec: AssignmentSpec, student: str,
                    notebook: str | None = None) -> Submission:
    """The Submission of ``student`` for ``spec``, from the file they submitted (JSON only).

    An absent or unreadable notebook gives a submission with nothing to run and the reason as
    its problem; grading it gives zero everywhere with that message.
    """
    path = submitted_notebook(course, student, spec.name, notebook)
    folder = path.parent
    link = linked_part(course, student, spec.name, notebook)
    if link is not None:
        return submission_from_problem(spec, student, f"{link} in your submission is a link, not a "
                                       "file or folder; nothing was graded")
    if not path.is_file():
        try:
            others = sorted(p.name for p in folder.iterdir())
        except OSError:
            others = []
        if others:
            message = (f"your submission has no {path.name} (it holds: {', '.join(others[:10])}"
                       f"{', ...' if len(others) > 10 else ''}); nothing was graded")
        else:
            message = f"your submission has no {path.name}; nothing was graded"
        return submission_from_problem(spec, student, message)
    try:
        nb = read_notebook(path)
    except NotebookError as exc:
        refused = [{"kind": "refused", "text": str(exc)}] if isinstance(exc, NotebookTooLarge) else []
        return submission_from_problem(spec, student, f"{exc}; nothing was graded", refused)
    return submission_from_notebook(nb, spec, student)


def _selfcheck_notes(course: CoursePaths, spec: AssignmentSpec, student: str, notebook: str) -> list[str]:
    """Notes on self-check cells the student deleted or edited (neither changes the grade)."""
    path = submitted_notebook(course, student, spec.name, notebook)
    try:
        nb = read_notebook(path)
    except NotebookError:
        return []
    raw = {grade_id(c): cell_source(c) for c in nb["cells"]
           if isinstance(c, dict) and grade_id(c)}
    notes = []
    for cell in spec.notebook["cells"]:
        if d2l_meta(cell).get("role") != "selfcheck":
            continue
        gid, function = grade_id(cell), d2l_meta(cell).get("function")
        if gid not in raw:
            notes.append(f"the self-check cell of {function} was missing from your notebook (or "
                         "lost its metadata); it was put back. This does not change the grade.")
        elif raw[gid].strip() != cell_source(cell).strip():
            notes.append(f"your changes to the self-check cell of {function} were discarded. "
                         "This does not change the grade.")
    return notes


# --------------------------------------------------------------------------------------------
# Writing grade cells
# --------------------------------------------------------------------------------------------

def mentions(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a whole word (what ``\\bword\\b`` means for an
    identifier), by plain string scanning: linear in ``len(text)``, since a note can quote what a
    student submitted (file names, say)."""
    if not word:
        return False
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        if not _is_word_char(text[start - 1:start]) and not _is_word_char(text[end:end + 1]):
            return True
        start = text.find(word, start + 1)
    return False


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, prefix: str) -> str:
    return ("\n" + prefix).join(text.splitlines() or [""])


def report_lines(function: str, entry: dict | None, score: float, points: float,
                 notes: list[str]) -> list[str]:
    """The per-test report of one exercise, as the student sees it."""
    lines = [f"{function}: {_fmt(score)} / {_fmt(points)} points"]
    tests = (entry or {}).get("tests", [])
    for t in tests:
        mark = PASS_MARK if t.get("passed") else FAIL_MARK
        line = f"  {mark} {t.get('name', '?')} ({_fmt(float(t.get('points', 0)))}/{_fmt(float(t.get('max_points', 0)))})"
        if not t.get("passed") and t.get("message"):
            line += ": " + _indent(str(t["message"]), "      ")
        lines.append(line)
    if not tests:
        lines.append(f"  {FAIL_MARK} not graded: no test result for {function}")
    if notes:
        lines.append("Notes:")
        lines += ["  - " + _indent(n, "    ") for n in notes]
    return lines


def cell_score(entry: dict | None, points: float) -> float:
    """The exercise's score scaled to the cell's points; never below 0 or above ``points``."""
    if not entry or points <= 0:
        return 0.0
    score, max_score = float(entry.get("score", 0.0)), float(entry.get("max_score", 0.0))
    if max_score <= 0:
        return 0.0
    value = score if max_score == points else points * score / max_score
    return max(0.0, min(points, round(value, 6)))


WITHHELD_NOTE = ("part of this exercise's grade is withheld: your instructor grades it by hand (the "
                 "score above counts only the checks that could be graded automatically)")


def grade_cell_outputs(function: str, entry: dict | None, points: float, notes: list[str]) -> list:
    """nbformat outputs that make nbgrader record ``cell_score(entry, points)`` with a report."""
    score = cell_score(entry, points)
    if entry and entry.get("withheld"):
        notes = [*notes, WITHHELD_NOTE]
    lines = report_lines(function, entry, score, points, notes)
    if score == 0 and points > 0:
        failed = [t for t in (entry or {}).get("tests", []) if not t.get("passed") and t.get("message")]
        first = failed[0]["message"] if failed else (notes[0] if notes else f"no test of {function} passed")
        return [new_output("error", ename="Failed", evalue=str(first).splitlines()[0] if str(first) else "",
                           traceback=lines)]
    return [new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
            new_output("execute_result", data={"text/plain": repr(float(score))}, execution_count=None)]


# --------------------------------------------------------------------------------------------
# The preprocessor
# --------------------------------------------------------------------------------------------

class SandboxScorer(NbGraderPreprocessor):
    """Scores a notebook with the kit's sandboxed hidden tests; see the module docstring."""

    kit_root = Unicode("", help="Root of the d2l-autograder repository (assignments/, "
                       "solutions/, grader_tests/); default: where the package lives.").tag(config=True)
    course_root = Unicode("", help="The nbgrader course directory; default: "
                          "CourseDirectory.root, else the working directory.").tag(config=True)
    dependent_grading = Dict({}, help="Per assignment, 'with_helpers' (default) or 'independent': "
                             "see autograder.blame.").tag(config=True)
    results_dir = Unicode("", help="The results store's directory; default: <course>/.d2l_results "
                          "(where `d2l-grade grade` writes).").tag(config=True)
    placeholder_reason = Unicode("", help="Set by `d2l-grade grade` (per student, never in a config "
                                 "file) when nbgrader is given a placeholder instead of the "
                                 "student's notebook: why.").tag(config=True)
    settings_error = Unicode("", help="Set by the course's nbgrader_config.py (never by hand) when "
                             "course_config.py could not be loaded: the scorer then refuses to "
                             "grade, rather than grade without the course's settings.").tag(config=True)

    _specs: dict = {}

    def _course(self) -> CoursePaths:
        root = self.course_root
        if not root:
            try:
                root = self.config.CourseDirectory.root
            except AttributeError:
                root = ""
        return CoursePaths(root or Path.cwd())

    def _spec(self, kit: KitPaths, assignment: str) -> AssignmentSpec:
        path = kit.assignment_notebook(assignment)
        key = (str(path), path.stat().st_mtime_ns if path.exists() else None)
        if key not in SandboxScorer._specs:
            SandboxScorer._specs[key] = load_assignment(kit, assignment)
        return SandboxScorer._specs[key]

    def _grade_now(self, spec, submission, kit, course) -> dict:
        """Grade one submission in the sandbox: its ``{exercise: {...}}``; its flags are left in
        ``self._graded_flags``."""
        from autograder.grading import grade_submissions
        flags: dict = {}
        results = grade_submissions(spec, {submission.key: submission}, kit, must_not_see=[course.root],
                                    dependents=self.dependent_grading.get(spec.name), flags=flags)
        self._graded_flags = flags.get(submission.key, [])
        return results[submission.key]

    def store(self) -> ResultsStore:
        """Where results are read from (and a result graded here is written to)."""
        if self.results_dir:
            return ResultsStore(path=self.results_dir)
        return ResultsStore(self._course().root)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        if self.settings_error:
            raise ScorerError(f"not graded: {self.settings_error}")
        kit = KitPaths(self.kit_root or None)
        course = self._course()
        store = self.store()
        try:
            spec = self._spec(kit, assignment)
            submission = load_submission(course, spec, student, notebook)
            policy = self.dependent_grading.get(spec.name)
            suite = suite_digest(kit, assignment, policy)
            stored = store.find(assignment, student, submission.fingerprint, suite)
            if stored is None:
                self._graded_flags = []
                exercises = self._grade_now(spec, submission, kit, course)
                stored = SubmissionResult.from_exercises(student, assignment, submission.fingerprint,
                                                         exercises, suite, flags=self._graded_flags)
                store.put(stored)
            result = stored.exercises_dict()
            resources["d2l_flagged"] = bool(stored.flags)
        except Exception as exc:
            message = f"the kit could not score {student}/{assignment}: {type(exc).__name__}: {exc}"
            try:
                store.note_failure(assignment, student, message)
            except (OSError, ValueError):
                pass
            raise ScorerError(message) from exc

        notes = list(submission.problems)
        placeholder = self.placeholder_reason
        if placeholder:
            # an unreadable notebook's own problem already says why; otherwise say it here
            if submission.exercise_cells or not submission.problems:
                notes.append(f"the grader could not use your notebook as submitted ({placeholder}); "
                             "a fresh copy of the assignment stands in for it")
        else:
            notes += _selfcheck_notes(course, spec, student, notebook)

        functions = {grade_id(c): d2l_meta(c).get("function") for c in spec.notebook["cells"]
                     if d2l_meta(c).get("role") == "selfcheck"}
        # a note that names exercises goes under those; one that names none goes under every cell
        named = {n: {f for f in spec.exercises if mentions(n, f)} for n in notes}
        withheld = resources.setdefault("d2l_withheld", set())
        for cell in nb.cells:
            nbg = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not nbg.get("grade"):
                continue
            points = float(nbg.get("points", 0) or 0)
            function = functions.get(nbg.get("grade_id"))
            if function is None:
                cell.outputs = [new_output("error", ename="Failed",
                                           evalue="this cell is not a graded cell of the assignment",
                                           traceback=["this cell is not a graded cell of the assignment"])]
            else:
                mine = [n for n in notes if function in named[n] or not named[n]]
                cell.outputs = grade_cell_outputs(function, result.get(function), points, mine)
                if (result.get(function) or {}).get("withheld"):
                    withheld.add(nbg.get("grade_id"))
            cell.execution_count = None
        return nb, resources


class SaveAutoGradesWithheld(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades``, except that a grade cell named in ``resources["d2l_withheld"]``
    gets no automatic score and is flagged for manual grading (the formgrader lists it as needing
    a grade; nbgrader counts it once a person has scored it), and that a submission the scorer
    found flagged (``resources["d2l_flagged"]``) is flagged in the gradebook."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        if resources.get("d2l_flagged"):
            # set, never cleared: a person may have flagged it by hand (see autograder.flags)
            with Gradebook(self.db_url) as gradebook:
                gradebook.find_submission_notebook(self.notebook_id, self.assignment_id,
                                                   self.student_id).flagged = True
                gradebook.db.commit()
        return nb, resources

    def _add_score(self, cell, resources) -> None:
        super()._add_score(cell, resources)
        if cell.metadata["nbgrader"]["grade_id"] in resources.get("d2l_withheld", ()):
            grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                              self.assignment_id, self.student_id)
            grade.auto_score = None
            grade.needs_manual_grade = True
            self.gradebook.db.commit()
