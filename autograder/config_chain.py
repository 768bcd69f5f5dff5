"""The configuration nbgrader itself uses in a course: the same files, in the same order.

``nbgrader autograde`` run in a course directory reads, lowest priority first, the
``jupyter_config`` and ``nbgrader_config`` files (``.py`` and ``.json``) of Jupyter's config path
(``jupyter --paths``: ``$JUPYTER_CONFIG_DIR`` or ``~/.jupyter``, the environment's ``etc/jupyter``,
the system's ``/usr/local/etc/jupyter`` and ``/etc/jupyter``), then the course's own
``nbgrader_config.py`` (which loads ``course_config.py``), then its command line.  :func:`course_config`
runs nbgrader's own loading code (``NbGrader.initialize``) as if in the course directory with an
empty command line, so ``d2l-grade`` and ``nbgrader`` apply the same settings: one made at user
level applies unless the course sets it too.

One difference, on purpose: nbgrader logs a config file that fails to load and goes on without
it; here that is an error naming the file, before anything is graded.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys

from autograder.paths import CoursePaths


class CourseConfigError(ValueError):
    """A configuration file nbgrader reads for the course could not be loaded."""


class _Errors(logging.Handler):
    """Keeps the error records nbgrader's loader logs (it logs a broken file and goes on)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _describe(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f": {type(exc).__name__}: {exc}"
    return text


def course_config(course: CoursePaths):
    """The traitlets ``Config`` that ``nbgrader`` would use in ``course`` (see the module docstring).

    Raises :class:`CourseConfigError` when a file in the chain fails to load, or when the course's
    ``nbgrader_config.py`` reports that ``course_config.py`` did.
    """
    from nbgrader.apps.baseapp import NbGrader
    log = logging.getLogger("autograder.config_chain")
    log.propagate = False
    log.setLevel(logging.WARNING)
    errors = _Errors()
    log.addHandler(errors)
    saved_path, cwd = list(sys.path), os.getcwd()
    try:
        os.chdir(course.root)      # nbgrader also reads the working directory's nbgrader_config.py
        app = NbGrader(log=log)
        # a setting of the wrong type makes traitlets print the help and exit
        with contextlib.redirect_stdout(io.StringIO()):
            app.initialize([], root=str(course.root))
    except SystemExit:
        reasons = "; ".join(_describe(r) for r in errors.records) or "no reason given"
        raise CourseConfigError(f"nbgrader could not load its configuration for {course.root}: "
                                f"{reasons}") from None
    finally:
        os.chdir(cwd)
        sys.path[:] = saved_path   # initialize puts the working directory on sys.path
        log.removeHandler(errors)
    if errors.records:
        raise CourseConfigError(_describe(errors.records[0]))
    config = app.config
    problem = config.SandboxScorer.get("settings_error") if "SandboxScorer" in config else None
    if problem:
        raise CourseConfigError(problem)
    return config

