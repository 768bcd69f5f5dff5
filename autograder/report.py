"""``d2l-grade report``: one self-contained HTML page about a graded assignment, for the instructor.

Written to ``<course>/reports/<assignment>/index.html`` with its figures (PNG files) next to it and
referenced relatively; the page loads nothing else (no script, no style sheet, no font, no web
address), so it can be opened from disk, copied or mailed as the folder.  Everything on it is read
from the course's results store (:func:`autograder.exports.load_class`, the same reading as
``d2l-grade export``) and the gradebook's list of students:

* a header: students with a result, who submitted, who is in the gradebook, mean and median total;
* the distribution of the total and of each exercise's score (matplotlib, :mod:`report_plots`);
* the checks failed most often, with their most common messages and how many students got each;
* students at zero;
* grades left to a person (a withheld exercise, or a hidden test that broke): not zeros, and
  left out of the statistics above, which count only grades the kit gave;
* submissions flagged for review (:mod:`autograder.flags`), with what the grader saw;
* students who submitted but have no result yet, and the warnings ``d2l-grade export`` gives.

Messages quote what students' code printed or returned: every string from a result is
HTML-escaped and cut to a bounded length before it goes on the page.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder.exports import ClassResults, load_class, pending
from autograder.flags import one_line
from autograder.results import SubmissionResult, write_atomically

TOP_CHECKS = 15        # failed checks listed
TOP_MESSAGES = 3       # messages per failed check
MESSAGE_CHARS = 240    # a message is cut to this many characters on the page
NAME_CHARS = 120       # a student id, exercise or check name likewise
TOTALS_PNG = "totals.png"
EXERCISES_PNG = "exercises.png"


@dataclass
class FailedCheck:
    """A hidden check and how many students failed it, with its most common messages."""

    exercise: str
    name: str
    failed: int
    of: int                                               # students graded on it automatically
    messages: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ClassSummary:
    """What the page shows, computed from a :class:`~autograder.exports.ClassResults`."""

    data: ClassResults
    max_total: float
    totals: list[float]                                   # students with no grade left to a person
    exercises: dict[str, tuple[list[float], float]]       # exercise -> (scores given, max points)
    failed: list[FailedCheck]
    at_zero: list[str]
    by_hand: dict[str, list[str]]                         # student -> lines (exercise: why)
    flagged: dict[str, SubmissionResult]


def summarize(data: ClassResults) -> ClassSummary:
    """The page's numbers and lists (no HTML): see the module docstring."""
    results = data.results
    max_total = max((r.max_score for r in results.values()), default=0.0)
    final = {s: r for s, r in results.items() if not pending(r)}
    exercises: dict[str, tuple[list[float], float]] = {}
    for name in data.exercises:
        scores, top = [], 0.0
        for result in results.values():
            entry = result.exercises.get(name)
            if entry is None:
                continue
            top = max(top, entry.max_score)
            if name not in pending(result):
                scores.append(entry.score)
        exercises[name] = (scores, top)

    fails: dict[tuple[str, str], Counter] = defaultdict(Counter)
    graded_on: Counter = Counter()
    for result in results.values():
        for exercise, entry in result.exercises.items():
            for test in entry.tests:
                if test.withheld or test.grader_error:
                    continue
                graded_on[(exercise, test.name)] += 1
                if not test.passed:
                    fails[(exercise, test.name)][one_line(test.message, MESSAGE_CHARS) or "(no message)"] += 1
    failed = [FailedCheck(exercise, name, sum(c.values()), graded_on[(exercise, name)],
                          c.most_common(TOP_MESSAGES)) for (exercise, name), c in fails.items()]
    failed.sort(key=lambda f: (-f.failed, f.exercise, f.name))

    by_hand: dict[str, list[str]] = {}
    for student, result in sorted(results.items()):
        lines = []
        for exercise in pending(result):
            entry = result.exercises[exercise]
            broken = [t for t in entry.tests if t.grader_error]
            if broken:
                lines += [f"{exercise}: the hidden test broke ({t.name}: {t.grader_error})" for t in broken]
            else:
                lines.append(f"{exercise}: withheld (its helpers failed: graded by hand)"
                             if entry.blamed_on else f"{exercise}: withheld, graded by hand")
        if lines:
            by_hand[student] = lines
    return ClassSummary(
        data=data, max_total=max_total, totals=[r.score for r in final.values()], exercises=exercises,
        failed=failed[:TOP_CHECKS], at_zero=sorted(s for s, r in final.items() if r.score == 0),
        by_hand=by_hand, flagged={s: r for s, r in sorted(results.items()) if r.flags})


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1em 1.5em;
       max-width: 60em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f3f3; }
td.n, th.n { text-align: right; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
ul.messages { margin: 0; padding-left: 1.1em; }
code { font-size: 0.92em; overflow-wrap: anywhere; }
.note { color: #555; }
.facts td:first-child { width: 16em; }
"""


def _e(text, limit: int = NAME_CHARS) -> str:
    return html.escape(one_line(text, limit), quote=True)


def _num(x: float) -> str:
    return f"{x:.3g}" if x != int(x) else f"{int(x)}"


def _table(head: list[str], rows: list[list[str]], numeric: tuple[int, ...] = (), widths: tuple = ()) -> str:
    """A table from cells that are already HTML; ``widths``: CSS widths of the first columns."""
    cls = lambda i: ' class="n"' if i in numeric else ""  # noqa: E731
    cols = "".join(f'<col style="width: {w}">' if w else "<col>" for w in widths)
    out = ["<table>" + (f"<colgroup>{cols}</colgroup>" if cols else ""),
           "<tr>" + "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head)) + "</tr>"]
    out += ["<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows]
    return "\n".join(out + ["</table>"])


def _header(s: ClassSummary) -> str:
    data = s.data
    submitted = set(data.results) | {st for st, note in data.notes.items() if note != "no submission"}
    rows = [["students with a result", str(len(data.results))],
            ["students who submitted", str(len(submitted))],
            ["students in the gradebook", f"{len(data.everyone)} ({len(data.in_gradebook)} with a submission "
                                          "of this assignment there)"]]
    if s.totals:
        rows.append(["total: mean / median", f"{_num(statistics.mean(s.totals))} / "
                                             f"{_num(statistics.median(s.totals))} of {_num(s.max_total)} points"])
    else:
        rows.append(["total: mean / median", "no total is final yet"])
    if s.by_hand:
        rows.append(["left out of the statistics", f"{len(s.by_hand)} student(s) with a grade left to a person"])
    body = "\n".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts">\n{body}\n</table>'


def _bullets(items: list[str]) -> str:
    """A list of items that are already HTML."""
    return '<ul class="messages">' + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _section(title: str, body: list[str], empty: str) -> list[str]:
    """An ``<h2>`` section: ``body`` (HTML parts), or the sentence ``empty`` when there is none."""
    return [f"<h2>{title}</h2>", *(body or [f"<p>{empty}</p>"])]


def _distributions(s: ClassSummary, images: dict[str, str]) -> list[str]:
    parts = []
    if TOTALS_PNG in images:
        parts.append(f'<img src="{images[TOTALS_PNG]}" alt="distribution of the total score">')
    if EXERCISES_PNG in images:
        parts.append(f'<img src="{images[EXERCISES_PNG]}" alt="distribution of each exercise\'s score">')
    rows = []
    for exercise, (scores, top) in s.exercises.items():
        full = sum(1 for x in scores if top > 0 and x >= top)
        zero = sum(1 for x in scores if x == 0)
        mean = _num(statistics.mean(scores)) if scores else "-"
        rows.append([_e(exercise), _num(top), mean, str(full), str(zero), str(len(scores))])
    parts.append(_table(["exercise", "max", "mean", "full marks", "zero", "graded"], rows, (1, 2, 3, 4, 5),
                        ("35%",)))
    return parts


def _failed_checks(s: ClassSummary) -> list[str]:
    if not s.failed:
        return []
    rows = [[_e(f.name), _e(f.exercise), f"{f.failed} of {f.of}",
             _bullets([f"{f'{n} &times; ' if n > 1 else ''}<code>{_e(m, MESSAGE_CHARS)}</code>"
                       for m, n in f.messages])] for f in s.failed]
    return [_table(["check", "exercise", "failed", "most common messages"], rows, (2,), ("24%", "14%", "7em"))]


def _at_zero(s: ClassSummary) -> list[str]:
    if not s.at_zero:
        return []
    rows = [[_e(st), _first_failure(s.data.results[st])] for st in s.at_zero]
    return [f"<p>{len(s.at_zero)} student(s) scored 0 of {_num(s.max_total)} points.</p>",
            _table(["student", "first failed check"], rows, widths=("20%",))]


def _by_hand(s: ClassSummary) -> list[str]:
    if not s.by_hand:
        return []
    rows = [[_e(st), _bullets([_e(line, MESSAGE_CHARS) for line in lines])] for st, lines in s.by_hand.items()]
    return ['<p class="note">These exercises are withheld or their hidden test broke: they are not zeros, '
            "the gradebook flags them for manual grading, and the statistics above leave these students "
            "out.</p>", _table(["student", "exercise: why"], rows, widths=("20%",))]


def _flagged(s: ClassSummary) -> list[str]:
    if not s.flagged:
        return []
    rows = [[_e(st), f"{_num(r.score)} of {_num(r.max_score)}",
             _bullets([f"<b>{_e(f.kind)}</b>: {_e(f.text, MESSAGE_CHARS)}" for f in r.flags])]
            for st, r in s.flagged.items()]
    return ['<p class="note">What the grader saw these submissions\' code do from outside the sandbox (a '
            "crash, a broken reply, a time limit, a notebook over a limit). Each is flagged in nbgrader's "
            "gradebook too, where the formgrader shows it.</p>",
            _table(["student", "score", "what the grader saw"], rows, widths=("20%", "8em"))]


def _not_shown(data: ClassResults) -> list[str]:
    waiting = sorted(st for st, note in data.notes.items() if note != "no submission")
    parts = []
    if waiting:
        parts.append("<p>Submitted, no result yet (run <code>d2l-grade grade</code>): "
                     + ", ".join(_e(st) for st in waiting) + ".</p>")
    if data.warnings:
        parts.append(_bullets([_e(w, MESSAGE_CHARS) for w in data.warnings]))
    return parts


def render(s: ClassSummary, images: dict[str, str]) -> str:
    """The page, given the summary and the figures' file names (relative to the page)."""
    data = s.data
    name = _e(data.assignment)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             f"<title>{name}: class report</title>\n<style>{STYLE}</style>\n</head>\n<body>",
             f"<h1>{name}: class report</h1>",
             f'<p class="note">Course {_e(data.course.root, 300)}. Scores as the kit graded them; '
             "grades a person changed in the formgrader are not shown here.</p>",
             _header(s),
             *_section("Score distributions", _distributions(s, images), ""),
             *_section("Checks failed most often", _failed_checks(s), "No check failed."),
             *_section("Students at zero", _at_zero(s), "Nobody scored zero."),
             *_section("Grades left to a person (not zeros)", _by_hand(s), "None."),
             *_section("Flagged for review", _flagged(s), "No submission was flagged.")]
    shown = _not_shown(data)
    if shown:
        parts += _section("Not on this page", shown, "")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def _first_failure(result: SubmissionResult) -> str:
    for exercise, entry in result.exercises.items():
        for test in entry.tests:
            if not test.passed:
                message = _e(test.message or "(no message)", MESSAGE_CHARS)
                return f"{_e(exercise)} {_e(test.name)}: <code>{message}</code>"
    return ""


def write_report(course_dir, assignment: str) -> tuple[Path, list[str]]:
    """Write ``assignment``'s class report; (the page's absolute path, warnings for the instructor).

    Raises what :func:`autograder.course_grading.check_course` and
    :func:`autograder.exports.load_class` raise (no such course or assignment, never graded)."""
    from autograder.course_grading import check_course
    from autograder.report_plots import score_panels
    check_course(course_dir, assignment)
    data = load_class(course_dir, assignment)
    summary = summarize(data)
    folder = data.course.report(assignment)
    left_out = f" ({len(summary.by_hand)} left out: graded by hand)" if summary.by_hand else ""
    score_panels(folder / TOTALS_PNG, [(f"total{left_out}", summary.totals, summary.max_total)], panel_width=6.0)
    score_panels(folder / EXERCISES_PNG, [(name, scores, top) for name, (scores, top) in summary.exercises.items()])
    page = folder / "index.html"
    write_atomically(page, render(summary, {TOTALS_PNG: TOTALS_PNG, EXERCISES_PNG: EXERCISES_PNG}), shared=True)
    return page, list(data.warnings)
