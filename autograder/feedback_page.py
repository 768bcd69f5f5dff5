"""The feedback page a student reads in one glance.

nbgrader's own ``feedback`` template indexes the page by "Test cell" links, leaves every output on
one unwrapped line (the cause of a failure sits off-screen) and loads MathJax from a CDN.  The
course's ``nbgrader_config.py`` (see :mod:`autograder.course`) has nbgrader's ``GenerateFeedback``
render with :class:`FeedbackExporter` instead, whose template, ``templates/d2l_feedback``, extends
nbgrader's and changes only this:

* a summary table at the top: each exercise by name (a link to its check cell), the points earned
  out of the points possible, and the message of its first failing check (from
  :class:`FeedbackSummary`); grade cells that are not the kit's keep nbgrader's entries below it;
* outputs, code and messages wrap (``white-space: pre-wrap; overflow-wrap: anywhere``) instead of
  scrolling sideways;
* no script at all: markdown math stays as its TeX source, readable text, so the page needs no
  network.  (Rendering it to MathML would bring back the ``<math>`` elements that
  :mod:`autograder.feedback_safety` keeps out of student content.)

Everything the student's code could influence (the messages) is escaped by the template.
"""

from __future__ import annotations

import os

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests as _NbgraderClearHiddenTests
from traitlets import Bool, List

from autograder.scorer import FAIL_MARK

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE_NAME = "d2l_feedback"
TEMPLATE_FILE = "d2l_feedback.html.j2"
MAX_MESSAGE = 1000  # characters of a first failing message shown in the summary

_FAILED_LINE = f"  {FAIL_MARK} "    # a failed check in the scorer's report (scorer.report_lines)
_CONTINUATION = " " * 6             # the further lines of its message


def nbgrader_template_dir() -> str:
    """The folder of nbgrader's own page templates (its ``feedback`` template among them)."""
    import nbgrader
    return os.path.join(os.path.dirname(os.path.abspath(nbgrader.__file__)),
                        "server_extensions", "formgrader", "templates")


class ClearHiddenTests(_NbgraderClearHiddenTests):
    """nbgrader's ``ClearHiddenTests``, quiet in an HTML exporter.

    The HTML exporter configures ``NbConvertBase.display_data_priority`` for every preprocessor;
    nbgrader's preprocessors declare that trait without ``config=True``, so nbgrader's own class
    logs "Config option `display_data_priority` not recognized" on every feedback page (stock
    nbgrader never puts it in a feedback pipeline).  Here the trait takes the setting (unused), as
    nbgrader's ``GetGrades`` declares it.
    """

    display_data_priority = List(['text/html', 'application/pdf', 'text/latex', 'image/svg+xml',
                                  'image/png', 'image/jpeg', 'text/plain']).tag(config=True)


def _report_lines(output) -> list[str]:
    """The lines of the scorer's report in one output of a grade cell."""
    if output.get("output_type") == "error":
        return "\n".join(str(line) for line in output.get("traceback") or []).splitlines()
    if output.get("output_type") == "stream":
        text = output.get("text", "")
        return ("".join(text) if isinstance(text, list) else str(text)).splitlines()
    return []


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


def first_failure(outputs) -> str:
    """The message of the first failed check in a grade cell's ``outputs`` (the scorer's report),
    or an error output's message when the report names no failed check; "" when nothing failed."""
    for output in outputs:
        lines = _report_lines(output)
        for i, line in enumerate(lines):
            if not line.startswith(_FAILED_LINE):
                continue
            head = line[len(_FAILED_LINE):]
            cut = head.find("): ")       # "name (points/max): message"
            message = [head[cut + 3:] if cut >= 0 else head]
            for more in lines[i + 1:]:
                if not more.startswith(_CONTINUATION):
                    break
                message.append(more[len(_CONTINUATION):])
            return _shorten("\n".join(message))
    for output in outputs:
        if output.get("output_type") == "error" and output.get("evalue"):
            return _shorten(str(output["evalue"]))
    return ""


def _points(value) -> str | None:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return None


def exercise_summary(nb) -> list[dict]:
    """One row per kit grade cell of ``nb`` (after nbgrader's ``GetGrades``): ``grade_id``,
    ``exercise`` (the d2l function name), ``score`` (None: not graded yet), ``points`` and
    ``failure`` (the first failing check's message, "" if none)."""
    rows = []
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        nbg, d2l = meta.get("nbgrader") or {}, meta.get("d2l") or {}
        if cell.get("cell_type") != "code" or not nbg.get("grade") or not isinstance(d2l, dict):
            continue
        if not isinstance(d2l.get("function"), str):
            continue
        rows.append({"grade_id": str(nbg.get("grade_id", "")), "exercise": d2l["function"],
                     "score": _points(nbg.get("score")), "points": _points(nbg.get("points")) or "0",
                     "failure": first_failure(cell.get("outputs", []))})
    return rows


class FeedbackSummary(Preprocessor):
    """Puts :func:`exercise_summary` in ``resources["d2l_summary"]`` for the feedback template;
    runs after nbgrader's ``GetGrades`` (which writes each cell's score)."""

    enabled = Bool(True, help="Whether to summarise (on unless turned off).").tag(config=True)

    def preprocess(self, nb, resources):
        """Summarise the notebook; the notebook itself is not changed."""
        resources["d2l_summary"] = exercise_summary(nb)
        return nb, resources


class FeedbackExporter(HTMLExporter):
    """The HTML exporter of the kit's feedback pages: the ``d2l_feedback`` template.

    The template is given as constructor arguments, which take precedence over the configuration:
    nbgrader's API forces ``HTMLExporter.template_name = "feedback"`` on every feedback run.  The
    formgrader's pages, which use plain ``HTMLExporter``, are not affected.
    """

    def __init__(self, **kwargs):
        # the kit's file is not called index.html.j2, so that its "extends 'index.html.j2'" finds
        # the next template of the chain, nbgrader's feedback/index.html.j2
        kwargs.update(template_name=TEMPLATE_NAME, template_file=TEMPLATE_FILE,
                      extra_template_basedirs=[TEMPLATE_DIR, nbgrader_template_dir()])
        super().__init__(**kwargs)
