"""``d2l-grade report``: the class report of an assignment graded once through the real
``d2l-grade grade`` (the mini kit of ``test_nbgrader_flow``: two exercises, a real hidden suite, in
the sandbox), read as HTML and loaded in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
pytest.importorskip("matplotlib")

from autograder.course import build_course, release_assignment  # noqa: E402
from autograder.results import ResultsStore  # noqa: E402

from test_nbgrader_flow import A, answered, make_kit, release_nb, submit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
UMASK = 0o027   # not the usual 022: the files must follow the instructor's umask, not a fixed mode
INJECTED = "<img src=x onerror=alert(1)>"
HALF = "return 2 * x if isinstance(x, int) else 0.0"      # fails double's float check
CLASS = {   # student -> (double, inc) answers; None: the release notebook, unanswered
    "ref": ("return 2 * x", "return x + 1"),
    "stub": None,
    "wrong": (f"return {INJECTED!r}", "return x + 1"),
    "half1": (HALF, "return x - 1"),
    "half2": (HALF, "return x + 1"),
    "hostile": ("import os\n    os._exit(0)", "while True:\n        pass"),
}


def d2l_grade(*args, timeout=600):
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)],
                          env=dict(os.environ, PYTHONPATH=path), umask=UMASK, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    return make_kit(tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def graded(kit, tmp_path_factory):
    """The class above graded through the real command, then one more who submits late."""
    course = build_course(tmp_path_factory.mktemp("c") / "course", kit,
                          points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    release_assignment(course, A)
    for student, answers in CLASS.items():
        submit(course, student, release_nb(course) if answers is None
               else answered(course, double=answers[0], inc=answers[1]))
    proc = d2l_grade("grade", course.root, A, "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "warning: hostile: flagged for review in the gradebook: crashed:" in proc.stderr
    submit(course, "late", answered(course))
    return course


@pytest.fixture(scope="module")
def report(graded):
    proc = d2l_grade("report", graded.root, A)
    assert proc.returncode == 0, proc.stderr
    return graded, proc


class Sections(HTMLParser):
    """The page's text by ``<h2>`` section: ``{title: [row cells (text), ...]}`` for tables, plus
    every section's whole text, and the ``src`` of each image."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.text: dict[str, str] = {}
        self.images: list[str] = []
        self.section, self._in_h2, self._row, self._cell = "(top)", False, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._in_h2, self.section = True, ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.section, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_h2:
            self.section += data
            return
        self.text[self.section] = self.text.get(self.section, "") + data
        if self._cell is not None:
            self._cell += data


def parse(page: Path) -> Sections:
    parser = Sections()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


# --- the page -------------------------------------------------------------------------------------

def test_prints_the_absolute_path_of_a_page_with_its_figures_next_to_it(report):
    course, proc = report
    page = Path(proc.stdout.strip())
    assert proc.stdout.count("\n") == 1 and page.is_absolute()
    assert page == course.root / "reports" / A / "index.html" and page.is_file()
    sections = parse(page)
    assert sections.images == ["totals.png", "exercises.png"]
    for name in sections.images:
        data = (page.parent / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
        assert b"http" not in data                      # no "Software: matplotlib.org" text chunk
    for path in (page, *(page.parent / name for name in sections.images)):  # passed on: the umask's mode
        assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK, (path, oct(path.stat().st_mode))
    text = page.read_text()
    assert not re.search(r"(?i)https?:|//[a-z0-9]|<script|<link|@import|url\(", text)
    assert "s04" not in text and "late" in sections.text["Not on this page"]


def test_header_counts_and_statistics(report):
    course, proc = report
    facts = dict(parse(Path(proc.stdout.strip())).rows["(top)"])
    assert facts["students with a result"] == "6"
    assert facts["students who submitted"] == "7"                 # late has no result yet
    assert facts["students in the gradebook"] == "6 (6 with a submission of this assignment there)"
    # totals: ref 4, stub 0, wrong 1, half1 2, half2 3, hostile 0
    assert facts["total: mean / median"] == "1.67 / 1.5 of 4 points"


def test_exercise_table_and_the_checks_failed_most_often(report):
    _, proc = report
    sections = parse(Path(proc.stdout.strip()))
    exercises = {r[0]: r[1:] for r in sections.rows["Score distributions"][1:]}
    # double: ref 3, half1 2, half2 2, the rest 0; inc: ref, wrong, half2 1, the rest 0
    assert exercises == {"double": ["3", "1.17", "1", "3", "6"], "inc": ["1", "0.5", "3", "3", "6"]}
    failed = sections.rows["Checks failed most often"]
    assert failed[0] == ["check", "exercise", "failed", "most common messages"]
    first = failed[1]
    assert first[:3] == ["TestDouble::test_float", "double", "5 of 6"]
    assert first[3].startswith("2 × double(1.5) returned 0.0, expected 3.0")
    counts = {(r[0], r[1]): r[2] for r in failed[1:]}
    assert counts == {("TestDouble::test_float", "double"): "5 of 6",
                      ("TestDouble::test_values", "double"): "3 of 6",
                      ("TestInc::test_values", "inc"): "3 of 6"}


def test_students_at_zero_and_flagged_submissions(report):
    _, proc = report
    sections = parse(Path(proc.stdout.strip()))
    zero = sections.rows["Students at zero"]
    assert [r[0] for r in zero[1:]] == ["hostile", "stub"]
    assert "NotImplementedError" in dict(r[:2] for r in zero[1:])["stub"]
    flagged = sections.rows["Flagged for review"]
    assert [r[:2] for r in flagged[1:]] == [["hostile", "0 of 4"]]
    seen = flagged[1][2]
    assert "crashed: while double was running" in seen and "timeout: inc ran past the 5 s limit" in seen
    assert sections.text["Grades left to a person (not zeros)"].strip() == "None."


def test_student_text_is_escaped(report):
    _, proc = report
    text = Path(proc.stdout.strip()).read_text()
    assert INJECTED not in text and "onerror=alert(1)" in text
    assert html.escape(INJECTED, quote=True) in text


def test_hand_graded_exercises_are_listed_and_not_counted_as_zeros(graded, tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(graded.root, copy)
    store = ResultsStore(copy)
    result = store.get(A, "stub")                    # 0 of 4
    inc = result.exercises["inc"].tests[0]
    inc.grader_error = "NameError: name 'y' is not defined (test_mini.py, line 3)"
    result.exercises["inc"].withheld = True
    store.put(result)
    proc = d2l_grade("report", copy, A)
    assert proc.returncode == 0, proc.stderr
    sections = parse(Path(proc.stdout.strip()))
    assert [r[0] for r in sections.rows["Students at zero"][1:]] == ["hostile"]
    by_hand = sections.rows["Grades left to a person (not zeros)"]
    assert by_hand[1][0] == "stub" and "inc: the hidden test broke (TestInc::test_values: NameError" in by_hand[1][1]
    facts = dict(sections.rows["(top)"])
    assert facts["left out of the statistics"] == "1 student(s) with a grade left to a person"
    assert facts["total: mean / median"] == "2 / 2 of 4 points"      # ref, wrong, half1, half2, hostile
    exercises = {r[0]: r[1:] for r in sections.rows["Score distributions"][1:]}
    assert exercises["inc"][-1] == "5" and exercises["double"][-1] == "6"


# --- in a browser ---------------------------------------------------------------------------------

# Runs on the load event (browser.layout measures as the body is parsed, before images load):
# writes each image's natural width and the document's widths into a <pre>.
PROBE = """<script>
window.addEventListener("load", function () {
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: Array.prototype.map.call(document.images, function (i) {
      return {src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth}; }),
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth});
  document.body.appendChild(out);
});
</script>
"""


def test_in_chromium_every_figure_loads_and_nothing_overflows_at_1024_px(report):
    from browser import dump_dom
    _, proc = report
    page = Path(proc.stdout.strip())
    probe = page.with_name("probe.html")         # next to the page: its figures resolve the same way
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        dom = dump_dom(probe, width=1024)
    finally:
        probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    assert [i["src"] for i in seen["images"]] == ["totals.png", "exercises.png"]
    assert all(i["complete"] and i["width"] > 0 for i in seen["images"]), seen
    assert seen["clientWidth"] == 1024 and seen["scrollWidth"] <= seen["clientWidth"], seen


# --- errors: one line, exit 2 ---------------------------------------------------------------------

def test_an_unknown_assignment_names_the_valid_ones(graded):
    proc = d2l_grade("report", graded.root, "nope")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("d2l-grade: error: the course has no assignment named 'nope'")
    assert lines[0].endswith(f"its assignments (in {graded.root / 'source'}): {A}")


def test_an_assignment_nobody_was_graded_for_is_one_line(kit, tmp_path):
    course = build_course(tmp_path / "fresh", kit, points=lambda spec, kit: {"double": 3.0, "inc": 1.0})
    release_assignment(course, A)
    proc = d2l_grade("report", course.root, A)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"d2l-grade: error: {A} has not been graded yet")
    assert not (course.root / "reports").exists()
