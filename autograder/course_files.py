"""A course's two configuration files, and which of them a build may write.

``nbgrader_config.py`` is the kit's wiring: the sandboxed scorer in place of nbgrader's ``Execute``,
the sanitizers, feedback without hidden tests.  ``d2l-grade course build`` rewrites it.  Its header
holds a digest of the text below it, so a hand edit is noticed: the build then refuses (``force``
overwrites) instead of silently dropping the edit.

``course_config.py`` holds the instructor's own settings (late penalty, dependent grading,
zip_collect's file-name pattern, ...).  A build writes it once, with commented examples, and never
again.  ``nbgrader_config.py`` loads it last, so its settings win over the wiring.  nbgrader reads
both after the user's and the system's own ``nbgrader_config.py`` (:mod:`autograder.config_chain`),
so a setting made there applies unless the course sets it too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from autograder.paths import CoursePaths, KitPaths

SETTINGS_NAME = "course_config.py"
DIGEST_PREFIX = "# d2l-autograder digest: "


class ConfigEditedError(ValueError):
    """The course's ``nbgrader_config.py`` is not the text a build wrote (edited by hand, or written
    by an older kit): a build does not overwrite it unless forced."""


HEADER = '''\
# nbgrader configuration of a d2l-autograder course: the kit's wiring, rewritten by every
# `d2l-grade course build`.  Put your own settings in {settings} (next to this file, loaded at
# its end, never overwritten), not here: a build refuses to replace this file once it was edited.
'''

WIRING = '''\
import importlib.util as _importlib_util
import os as _os
import sys as _sys

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

_KIT_ROOT = {kit_root!r}
if _importlib_util.find_spec("autograder") is None and _KIT_ROOT not in _sys.path:
    _sys.path.insert(0, _KIT_ROOT)  # the kit is not installed: use the repository it came from

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {course_root!r}

# The kit's stub lines; the source notebooks are derived on the assumption that they are these.
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}

# Student code never runs inside nbgrader: the kit's sandboxed scorer takes the place of
# Execute and writes each grade cell's outputs; nbgrader only records them.
c.Autograde.autograde_preprocessors = [
    "autograder.scorer.SandboxScorer",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.scorer.SaveAutoGradesWithheld",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxScorer.kit_root = _KIT_ROOT

# nbgrader's own clean-up of the submitted notebook, plus the kit's: autograded/ (what the
# formgrader renders, and what feedback is made from) holds nothing active from the student's
# notebook (raw HTML, javascript: links, raw cells, attachments).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.feedback_safety.SanitizeStudentContent",
]

# A deleted self-check cell is put back (otherwise it "needs manual grading" forever).
c.OverwriteCells.add_missing_cells = True

# Feedback never shows hidden test regions, nor anything active from the student's notebook.
# (The kit's ClearHiddenTests is nbgrader's without its "display_data_priority" warning.)
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback_page.ClearHiddenTests",
    "autograder.feedback_safety.SanitizeStudentContent",
    "autograder.feedback_page.FeedbackSummary",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The kit's feedback page: a summary first (exercise, points, first failing check), wrapped
# messages, no script and no network (autograder/feedback_page.py).
c.GenerateFeedback.exporter_class = "autograder.feedback_page.FeedbackExporter"
# Every HTML page rendered with this config (the formgrader's too, when it reads this file)
# sanitizes again: notebooks autograded before the kit did so are rendered safely as well.
c.HTMLExporter.preprocessors = ["autograder.feedback_safety.SanitizeStudentContent"]

# The instructor's settings, last: they win over everything above.  A mistake in them must not
# drop the wiring above (nbgrader would then execute students' notebooks itself), so it is kept
# here instead, and the kit's scorer (and d2l-grade) refuse to grade until it is fixed.
_SETTINGS = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), {settings!r})
try:
    load_subconfig(_SETTINGS)  # noqa: F821 (provided by traitlets, like get_config)
except Exception as _exc:  # noqa: BLE001
    c.SandboxScorer.settings_error = f"{{_SETTINGS}} could not be loaded: {{type(_exc).__name__}}: {{_exc}}"
'''

SETTINGS_TEMPLATE = '''\
# Settings of this nbgrader course: yours to edit.  `d2l-grade course build` wrote this file once
# and never writes it again.  nbgrader_config.py (the kit's wiring, rewritten by every build) loads
# it at its end, so a setting here wins over the wiring and over your own
# ~/.jupyter/nbgrader_config.py (which applies to all your courses).  `nbgrader autograde`,
# `nbgrader zip_collect`, the formgrader and `d2l-grade grade` all read it.
# Due dates are kept in the gradebook: the formgrader's "Manage Assignments", or
#   nbgrader db assignment add ASSIGNMENT --duedate="2026-11-27 09:00:00 UTC"
c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# Late submissions: nbgrader's "none" (the default: no penalty) or "zero" (a late notebook scores
# 0).  Lateness is timestamp.txt in submitted/STUDENT/ASSIGNMENT/ against the due date.
# c.LateSubmissionPlugin.penalty_method = "zero"

# Per assignment: how an exercise that calls the student's own earlier functions (a training loop
# calling one_hot, say) is graded while one of those fails its own checks: "with_helpers" (the
# default: graded as it runs, the message names the failing helper) or "independent" (its failing
# checks are withheld for grading by hand).
# c.SandboxScorer.dependent_grading = {"rnn": "independent"}

# nbgrader zip_collect: the files downloaded from your LMS (notebooks, or zips of them) go in
# downloaded/ASSIGNMENT/archive/, then `nbgrader zip_collect ASSIGNMENT` copies each notebook to
# submitted/STUDENT/ASSIGNMENT/.  This pattern is matched against each extracted file's full path;
# it must name the student (student_id) and the notebook (file_id); with a (?P<timestamp>...)
# group nbgrader also writes timestamp.txt.  For files named STUDENT_ASSIGNMENT.ipynb (student
# ids without "_"):
# c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)\\.ipynb$"

# The course's id (the gradebook and the exchange use it):
# c.CourseDirectory.course_id = "my-course-2026"
'''


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def wiring_text(course_root: Path, kit: KitPaths, course_id: str, code_stub: str) -> str:
    """The text of a course's ``nbgrader_config.py``, its header carrying the digest of the rest."""
    body = WIRING.format(kit_root=str(Path(kit.root).resolve()), course_id=course_id,
                         course_root=str(Path(course_root).resolve()), code_stub=code_stub,
                         settings=SETTINGS_NAME)
    return HEADER.format(settings=SETTINGS_NAME) + f"{DIGEST_PREFIX}{_digest(body)}\n" + body


def as_built(text: str) -> bool:
    """Whether ``text`` is a generated ``nbgrader_config.py`` exactly as a build wrote it (its
    digest matches what follows it); False for a hand edit or a file written by an older kit."""
    _header, sep, body = text.partition("\n" + DIGEST_PREFIX)
    if not sep:
        return False
    digest, newline, body = body.partition("\n")
    return bool(newline) and digest.strip() == _digest(body)


def write_config_files(course: CoursePaths, text: str, *, force: bool = False) -> None:
    """Write ``text`` as the course's ``nbgrader_config.py`` and create ``course_config.py`` when
    there is none (an existing one is never touched).

    Raises :class:`ConfigEditedError` (and writes nothing) when the existing ``nbgrader_config.py``
    is not as a build wrote it, unless ``force``.
    """
    settings = course.root / SETTINGS_NAME
    current = course.config_file
    old = current.read_text(errors="replace") if current.exists() else None
    if old is not None and not force and old != text and not as_built(old):
        raise ConfigEditedError(
            f"{current} was changed by hand (or written by an older kit), so it was not rebuilt: move "
            f"your settings to {settings} (loaded by it, never overwritten), then run "
            f"`d2l-grade course build {course.root} --force`")
    course.root.mkdir(parents=True, exist_ok=True)
    current.write_text(text)
    if not settings.exists():
        settings.write_text(SETTINGS_TEMPLATE)
