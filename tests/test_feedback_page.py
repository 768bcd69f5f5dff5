"""The feedback page a student reads in one glance (issue 10): a summary at the top (exercise,
points, first failing check), exercise names instead of "Test cell", messages that wrap at 1,024 px,
no script and no network (math stays as TeX text), and no spurious nbgrader warning.

One student's ``softmax_regression`` submission breaks four exercises (two partly, two wholly; one
message is 600 characters without a space and carries markup); it is graded through the CLI, and
its feedback is generated in-process so that nbgrader's log can be read.
"""

import json
import logging
import os
import shutil
import struct
import subprocess
import sys

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter

import browser
from autograder import nbgrader_driver
from autograder.course import build_course
from autograder.demo import write_submissions
from autograder.demo_scenarios import Scenario, by_name
from autograder.feedback_page import MAX_MESSAGE, nbgrader_template_dir
from autograder.notebook import load_assignment

ASSIGNMENT = "softmax_regression"
STUDENT = "several"
MARKUP = "<b>not bold</b>"
LONG_MESSAGE = MARKUP + "x" * 600
WIDTH = 1024
# where the messages are: every output and code block, and the summary's message cells
MESSAGES = "pre, div.output_subarea, td.d2l-message"


def several_bugs(kit) -> Scenario:
    """The reference with softmax overflowing, cross_entropy indexing y_hat[:, y], sgd ignoring the
    batch size and accuracy raising a long message."""
    cells = {}
    for name in ("bug_softmax_overflow", "bug_cross_entropy_index", "bug_sgd_batch_size"):
        cells.update(by_name(ASSIGNMENT, name, kit).cells)
    cells["accuracy"] = f"def accuracy(y_hat, y):\n    raise ValueError({LONG_MESSAGE!r})\n"
    return Scenario(STUDENT, "several bugs", "reference", cells,
                    breaks=("softmax", "cross_entropy", "sgd", "accuracy"))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def feedback_with_log(course) -> tuple[dict, list[str]]:
    """``nbgrader_driver.generate_feedback`` for the student, and the warnings nbgrader logged."""
    handler = _Records()
    log = logging.getLogger("autograder.nbgrader.quiet")
    log.addHandler(handler)
    try:
        out = nbgrader_driver.generate_feedback(course, ASSIGNMENT, [STUDENT])
    finally:
        log.removeHandler(handler)
    return out, [r.getMessage() for r in handler.records if r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def graded(kit, tmp_path_factory):
    """(course, results, feedback HTML path, warnings logged while generating feedback)."""
    course = build_course(tmp_path_factory.mktemp("feedback-page") / "course", kit,
                          assignments=[ASSIGNMENT])
    nbgrader_driver.generate_assignment(course, ASSIGNMENT)
    write_submissions(course, ASSIGNMENT, [several_bugs(kit)], kit)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course.root),
                           ASSIGNMENT, "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out, warnings = feedback_with_log(course)
    assert out == {STUDENT: (True, "")}
    html = course.feedback(STUDENT, ASSIGNMENT) / f"{ASSIGNMENT}.html"
    return course, json.loads(proc.stdout)[STUDENT], html, warnings


def summary_rows(html_path) -> list[list]:
    """The summary table's rows: [exercise cell, points text, message text]."""
    soup = BeautifulSoup(html_path.read_text(), "html.parser")
    table = soup.find("table", id="d2l-summary")
    assert table is not None, "no summary table"
    return [tr.find_all("td") for tr in table.find("tbody").find_all("tr")]


def first_failing_message(entry: dict) -> str | None:
    """The message of the exercise's first failed check, as the grader reported it."""
    return next((t["message"] for t in entry["tests"] if not t["passed"] and t["message"]), None)


def test_the_scenario_fails_where_it_should(graded):
    """Four exercises lose points (two partly), the others get full marks."""
    _course, results, _html, _warnings = graded
    lost = {e for e, r in results.items() if r["score"] < r["max_score"]}
    assert lost == {"softmax", "cross_entropy", "sgd", "accuracy"}
    assert 0 < results["softmax"]["score"] and 0 < results["sgd"]["score"]
    assert results["accuracy"]["score"] == results["cross_entropy"]["score"] == 0


def test_summary_at_the_top_lists_every_exercise(graded, kit):
    """Before the notebook: one row per exercise, in order, with its points and the message of
    its first failing check (or that all passed)."""
    _course, results, html, _warnings = graded
    text = html.read_text()
    assert text.index('id="d2l-summary"') < text.index('id="notebook"')
    rows = summary_rows(html)
    assert [r[0].get_text(strip=True) for r in rows] == load_assignment(kit, ASSIGNMENT).exercises
    for exercise_cell, points, message in rows:
        entry = results[exercise_cell.get_text(strip=True)]
        assert points.get_text(strip=True) == f"{entry['score']:g} / {entry['max_score']:g}"
        expected = first_failing_message(entry)
        if expected is None:
            assert message.get_text(strip=True) == "all checks passed"
        else:
            shown = expected if len(expected) <= MAX_MESSAGE else expected[:MAX_MESSAGE - 1] + "…"
            assert message.get_text() == shown


def test_summary_messages_are_text_not_markup(graded):
    """A message holds what the student's code raised: it is escaped, never active HTML."""
    _course, _results, html, _warnings = graded
    rows = {r[0].get_text(strip=True): r for r in summary_rows(html)}
    message = rows["accuracy"][2]
    assert MARKUP in message.get_text() and message.find("b") is None
    assert "&lt;b&gt;not bold&lt;/b&gt;" in str(message)


def test_index_names_exercises_not_test_cells(graded, kit):
    """Each exercise's name links to its check cell; no bare "Test cell" is left."""
    _course, _results, html, _warnings = graded
    text = html.read_text()
    assert "Test cell" not in text
    soup = BeautifulSoup(text, "html.parser")
    links = {a.get_text(strip=True): a["href"] for a in soup.select("#d2l-summary a")}
    assert links == {e: f"#check_{e}" for e in load_assignment(kit, ASSIGNMENT).exercises}
    for target in links.values():
        assert soup.find("a", attrs={"name": target[1:]}) is not None, target


def test_page_is_self_contained(graded):
    """No script, no external style sheet, no CDN: the page shows the same offline; markdown
    math stays as its TeX source, readable as text."""
    _course, _results, html, _warnings = graded
    text = html.read_text()
    soup = BeautifulSoup(text, "html.parser")
    assert soup.find_all("script") == []
    assert [link for link in soup.find_all("link") if link.get("href")] == []
    assert "mathjax" not in text.lower()
    for style in soup.find_all("style"):
        assert "@import" not in style.get_text() and "url(http" not in style.get_text()
    assert "\\frac{\\exp(X_{ij})}" in soup.get_text()


def test_generate_feedback_logs_no_display_data_priority_warning(graded):
    """nbgrader's ClearHiddenTests in an HTML exporter logged "Config option
    `display_data_priority` not recognized" on every page; the kit's does not."""
    _course, _results, _html, warnings = graded
    assert not [w for w in warnings if "display_data_priority" in w or "not recognized" in w], warnings


def test_the_log_check_sees_the_warning_with_nbgraders_class(graded, tmp_path):
    """The control: with nbgrader's own ClearHiddenTests in the course config, the same
    generate_feedback logs the warning, so the check above would see it."""
    course, _results, _html, _warnings = graded
    copy = type(course)(tmp_path / "course")
    shutil.copytree(course.root, copy.root)
    config = copy.config_file.read_text().replace(str(course.root), str(copy.root))
    assert "autograder.feedback_page.ClearHiddenTests" in config
    copy.config_file.write_text(config.replace("autograder.feedback_page.ClearHiddenTests",
                                               "nbgrader.preprocessors.ClearHiddenTests"))
    out, warnings = feedback_with_log(copy)
    assert out == {STUDENT: (True, "")}
    assert any("display_data_priority" in w for w in warnings), warnings


def png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG, from its header."""
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def overflowing(measured: dict) -> list[dict]:
    """The measured elements wider than their box or reaching past the window's right edge."""
    return [e for e in measured["elements"]
            if e["scrollWidth"] > e["clientWidth"] + 1 or e["right"] > measured["width"] + 1]


def test_every_message_is_visible_at_1024_px(graded, tmp_path_factory):
    """In Chromium, 1,024 px wide, the page needs no horizontal scrolling and no message is
    cut off; the screenshot is kept in pytest's tmp dir."""
    _course, _results, html, _warnings = graded
    measured = browser.layout(html, MESSAGES, width=WIDTH)
    assert measured["width"] == WIDTH
    assert measured["scrollWidth"] <= WIDTH, measured["scrollWidth"]
    assert len([e for e in measured["elements"] if e["cls"] == "d2l-message"]) == 7
    assert overflowing(measured) == []
    png = browser.screenshot(html, tmp_path_factory.mktemp("screenshots") / "feedback.png",
                             width=WIDTH, height=min(measured["scrollHeight"], 16000))
    assert png_size(png)[0] == WIDTH


def test_the_layout_check_sees_overflow_in_nbgraders_own_template(graded, tmp_path):
    """The control: nbgrader's stock feedback template, on the same autograded notebook, leaves
    messages on unwrapped lines that overflow at 1,024 px, so the check above would see them."""
    course, _results, _html, _warnings = graded
    css = os.path.join(nbgrader_template_dir(), os.pardir, "static", "node_modules", "bootstrap",
                       "dist", "css")
    exporter = HTMLExporter(template_name="feedback", extra_template_basedirs=[nbgrader_template_dir()],
                            extra_template_paths=[css])
    nb = nbformat.read(str(course.root / "autograded" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                       as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader.score = 0   # what nbgrader's GetGrades would add
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "score": 0, "max_score": 0, "late_penalty": 0}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    (tmp_path / "stock.html").write_text(page)
    assert overflowing(browser.layout(tmp_path / "stock.html", MESSAGES, width=WIDTH)) != []
