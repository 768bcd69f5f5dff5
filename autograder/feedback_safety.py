"""No active content from a student's notebook in the HTML that nbgrader renders.

A student's notebook is hostile, and two pages render it: the feedback HTML (students open it) and
the formgrader (instructors open it, logged in to Jupyter).  nbconvert's markdown renderer passes
raw HTML through and keeps ``javascript:`` links written in markdown syntax; raw cells, cell
attachments, outputs and some metadata reach the page too.  :class:`SanitizeStudentContent`, an
nbconvert preprocessor, ends the sanitize phase of the course's autograde (so ``autograded/``,
which the formgrader renders and feedback is made from, is clean) and runs again in the feedback
and formgrader exporters (see the course's ``nbgrader_config.py``).

A markdown cell is kept as written when nbconvert's own rendering of it is already safe, that is,
a fixed point of :func:`clean_html` (an allowlist on bleach, the sanitizer nbconvert itself uses).
Otherwise the cell becomes its cleaned rendering, written as one line of HTML that nbconvert emits
unchanged (checked by rendering it again); what cannot be shown that way is shown as plain text.
Legitimate markdown (headings, emphasis, code, lists, tables, LaTeX, images with http(s),
relative or ``attachment:`` sources) renders as before.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from pygments.token import STANDARD_TYPES
from traitlets import Bool

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "input", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q",
    "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
})
# Attributes per tag ("*": every tag); URLs, classes, styles and ids are checked further.
ATTRIBUTES = {
    "*": {"class", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    **{f"h{level}": {"id"} for level in range(1, 7)},   # nbconvert's heading anchors
    "input": {"type", "checked", "disabled"},           # task lists
    "ol": {"start"},
    "td": {"style", "colspan", "rowspan", "align"},
    "th": {"style", "colspan", "rowspan", "align"},
    "details": {"open"},
}
# Only the classes nbconvert's renderer and pygments write: any other class could borrow the
# page's own styles (a fixed navbar over the score) or its scripts' hooks (the formgrader's
# ``score``, ``comment`` and ``tabbable``).
CLASSES = frozenset({"anchor-link", "highlight", "task-list-item", "task-list-item-checkbox",
                     "jp-Mermaid", "mermaid", "error", *filter(None, STANDARD_TYPES.values())})
# Ids of the feedback and formgrader pages themselves; a heading must not take them over.
PAGE_IDS = frozenset({"top", "toc", "notebook", "notebook-container", "statusmessage"})
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
NB_METADATA = ("kernelspec", "language_info", "nbgrader", "d2l")
OUTPUT_TYPES = ("text/plain", "text/latex", "image/png", "image/jpeg", "image/gif")

_LANGUAGE_CLASS = re.compile(r"language-[\w+#.-]{1,40}")
_TEXT_ALIGN = re.compile(r"text-align:\s*(left|right|center);?")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")
_LINE_BREAK = re.compile(r"\r\n?|\n")
_VOID_SLASH = re.compile(r"<((?:br|hr|img|input|col)\b[^<>]*?) ?/>")


def safe_url(tag: str, name: str, value: str) -> bool:
    """Whether the URL ``value`` of attribute ``name`` on ``tag`` can neither run script nor
    lead to active content: links go to http(s), mailto or a ``#`` anchor; images come from
    http(s), a relative path or a ``data:`` URL of a raster image type."""
    # what a browser reads: control characters and whitespace are ignored, case too
    url = re.sub(r"[\x00-\x20\x7f-\xa0\s`]+", "", value).lower()
    if tag == "img" and name == "src":
        if url.startswith("data:"):
            return url.startswith(tuple(f"data:{t};base64," for t in IMAGE_TYPES))
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            return False
        return scheme in ("http", "https") or (not scheme and not url.startswith("//"))
    return url.startswith(("#", "http://", "https://", "mailto:"))


def _allowed_attribute(reserved_ids: frozenset, tag: str, name: str, value: str) -> bool:
    if name not in ATTRIBUTES.get(tag, set()) | ATTRIBUTES["*"]:
        return False
    if name in ("href", "src"):
        return safe_url(tag, name, value)
    if name == "class":
        return all(c in CLASSES or _LANGUAGE_CLASS.fullmatch(c) for c in value.split())
    if name == "id":
        return value not in reserved_ids
    if tag == "input" and name == "type":
        return value.strip().lower() == "checkbox"
    return True


class _TextAlignOnly(CSSSanitizer):
    """The one style nbconvert writes (table column alignment), kept as written; any other
    style is dropped (a style can hide content or lay a fake score over the page)."""

    def sanitize_css(self, style):
        """``style`` if it only aligns text, else nothing."""
        return style if _TEXT_ALIGN.fullmatch(style) else ""


@functools.lru_cache(maxsize=64)
def _cleaner(reserved_ids: frozenset) -> bleach.Cleaner:
    return bleach.Cleaner(
        tags=TAGS,
        attributes=functools.partial(_allowed_attribute, reserved_ids),
        protocols={"http", "https", "mailto", "data"},   # data: only as safe_url allows
        strip=False,         # unsafe markup is shown as text: the instructor sees what was tried
        strip_comments=True,
        css_sanitizer=_TextAlignOnly(),
    )


def clean_html(html: str, reserved_ids: frozenset = PAGE_IDS) -> str:
    """``html`` with everything outside the allowlist escaped (tags) or dropped (attributes,
    comments): no script, event handler, frame, form, style sheet or unsafe URL remains, and no
    element takes one of ``reserved_ids``."""
    return _cleaner(frozenset(reserved_ids)).clean(html)


def render_markdown(source: str, attachments: dict | None = None) -> str | None:
    """HTML of a markdown cell as nbconvert's HTML exporter renders it (None: it cannot)."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    try:
        return MarkdownWithMath(renderer=renderer).render(source)
    except Exception:  # noqa: BLE001 - a missing attachment, say; the caller shows plain text
        return None


def _renders_safely(source: str, attachments: dict | None, reserved_ids: frozenset) -> bool:
    html = render_markdown(source, attachments)
    # mistune closes void elements (<br />, <img ... />), bleach does not: the same markup
    return html is not None and clean_html(html, reserved_ids) == _VOID_SLASH.sub(r"<\1>", html)


def _as_html_block(html: str) -> str:
    # One line that starts with <div> is a single HTML block, which mistune passes on unchanged.
    # Line breaks become spaces (the same thing outside <pre>; a &#10; between table rows would be
    # moved out of the table), and &#10; inside <pre>.
    parts = re.split(r"(<pre\b.*?</pre>)", html.strip(), flags=re.S)
    return "<div>" + "".join(_LINE_BREAK.sub("&#10;" if part.startswith("<pre") else " ", part)
                             for part in parts) + "</div>"


def _as_plain_text(source: str) -> str:
    fence = "~" * max(3, 1 + max((len(run) for run in re.findall(r"~+", source)), default=0))
    return ("*This cell held markup that cannot be shown safely; its text is shown as written.*"
            f"\n\n{fence}\n{source}\n{fence}\n")


WITHHELD = "*This cell held markup that cannot be shown safely; it is not shown.*"


def safe_markdown(source: str, attachments: dict | None = None,
                  reserved_ids: frozenset = PAGE_IDS) -> str:
    """A markdown source whose rendering holds nothing active: ``source`` itself when its
    rendering is already safe, else its cleaned rendering as one HTML block, else plain text."""
    if _renders_safely(source, attachments, reserved_ids):
        return source
    html = render_markdown(source, attachments)
    candidates = [_as_html_block(clean_html(html, reserved_ids))] if html is not None else []
    for candidate in (*candidates, _as_plain_text(source)):
        if _renders_safely(candidate, None, reserved_ids):
            return candidate
    return WITHHELD


def _keep_only(mapping, keep) -> None:
    """Delete, in place, every key of ``mapping`` for which ``keep(key, value)`` is false."""
    for key in [k for k, v in mapping.items() if not keep(k, v)]:
        del mapping[key]


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def reserved_ids(nb) -> frozenset:
    """Ids the pages give their own elements: :data:`PAGE_IDS` and, for each nbgrader grade id,
    the formgrader's score, extra-credit and comment fields (its scripts find them by id)."""
    grade_ids = {str(_nbgrader_meta(c).get("grade_id") or "") for c in nb.get("cells", [])} - {""}
    return PAGE_IDS | {f"{g}{suffix}" for g in grade_ids for suffix in ("", "_extra_credit",
                                                                         "-comment")}


def _int_or_none(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class SanitizeStudentContent(Preprocessor):
    """Makes a notebook safe to render as HTML; see the module docstring.

    Markdown cells, and nbgrader comments (rendered as markdown): kept if safe, else replaced as
    :func:`safe_markdown` says.  Raw cells (nbconvert emits them verbatim): cleaned.  Attachments:
    raster images only.  Code outputs: plain text, LaTeX and raster images, without metadata.
    Notebook metadata: only what nbgrader and the kit use.  Cell ids, grade ids and execution
    counts, which templates write into the page: made inert.
    """

    enabled = Bool(True, help="Whether to sanitize (on unless turned off).").tag(config=True)

    def preprocess(self, nb, resources):
        """Sanitize the notebook's metadata, then each cell."""
        _keep_only(nb.metadata, lambda key, _value: key in NB_METADATA)
        self._reserved = reserved_ids(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        """Sanitize one cell in place."""
        reserved = getattr(self, "_reserved", PAGE_IDS)
        # only raster images in base64, what an <img> may show
        for bundle in cell.get("attachments", {}).values():
            _keep_only(bundle, lambda mime, data: mime in IMAGE_TYPES and isinstance(data, str))
        _keep_only(cell.get("attachments", {}), lambda _name, bundle: bool(bundle))
        if cell.cell_type == "markdown":
            source = safe_markdown(cell.source, cell.get("attachments"), reserved)
            if source != cell.source:
                cell.source = source
                cell.pop("attachments", None)  # a rewritten cell embeds its images
        elif cell.cell_type == "raw":
            cell.source = clean_html(cell.source, reserved)
        elif cell.cell_type == "code":
            cell.outputs = [self._safe_output(o) for o in cell.get("outputs", [])
                            if o.get("output_type") in ("stream", "error", "execute_result",
                                                        "display_data")]
            cell.execution_count = _int_or_none(cell.get("execution_count"))
        if "id" in cell and not _SAFE_ID.fullmatch(str(cell.id)):
            cell.id = f"cell-{index}"
        meta = _nbgrader_meta(cell)
        if "grade_id" in meta and not _SAFE_ID.fullmatch(str(meta["grade_id"])):
            meta["grade_id"] = re.sub(r"[^A-Za-z0-9_-]", "_", str(meta["grade_id"]))
        if isinstance(meta.get("comment"), str):
            meta["comment"] = safe_markdown(meta["comment"], None, reserved)
        return cell, resources

    @staticmethod
    def _safe_output(output):
        if output.get("output_type") in ("execute_result", "display_data"):
            _keep_only(output.get("data", {}), lambda mime, _data: mime in OUTPUT_TYPES)
            _keep_only(output.get("metadata", {}), lambda _key, _value: False)
            if "execution_count" in output:
                output.execution_count = _int_or_none(output.execution_count)
        return output
