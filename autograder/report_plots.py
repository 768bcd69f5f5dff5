"""The class report's figures: score distributions as PNG files, drawn with matplotlib off-screen.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly (no pyplot: no
display, no global figure state, nothing left open), and saved without the ``Software`` text
matplotlib otherwise writes into a PNG, so that a figure holds no web address.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from pathlib import Path

from autograder.results import shared_mode

DISCRETE = 25     # at most this many distinct scores: one bar per score, else a histogram
BINS = 20
COLUMNS = 3       # small multiples per row
DPI = 100


def score_panels(path: Path, panels: list[tuple[str, list[float], float]], title: str = "",
                 panel_width: float = 3.0) -> Path:
    """Draw one histogram per ``(label, scores, max points)`` panel, ``COLUMNS`` to a row (each
    ``panel_width`` inches wide), into the PNG ``path`` (replaced whole, never half written).  A
    panel without scores says so."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = max(1, min(COLUMNS, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    fig = Figure(figsize=(panel_width * columns, 2.4 * rows + (0.4 if title else 0.0)), dpi=DPI,
                 layout="constrained")
    FigureCanvasAgg(fig)
    if title:
        fig.suptitle(title)
    for i, (label, scores, top) in enumerate(panels or [("(no exercises)", [], 0.0)]):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"points (of {top:g})", fontsize=8)
        ax.set_ylabel("students", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _draw(ax, scores, top)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", metadata={"Software": None})
        os.chmod(tmp, shared_mode())  # passed on with the page, like it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _draw(ax, scores: list[float], top: float) -> None:
    if not scores:
        ax.text(0.5, 0.5, "no automatic scores", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    span = top if top > 0 else max(max(scores), 1.0)
    counts = Counter(scores)
    if len(counts) <= DISCRETE:
        ax.bar(list(counts), list(counts.values()), width=span / 30, color="#4c72b0")
    else:
        ax.hist(scores, bins=BINS, range=(0, span), color="#4c72b0")
    ax.set_xlim(-span * 0.06, span * 1.06)
