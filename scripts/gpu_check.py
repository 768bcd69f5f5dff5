"""Grade the references and the corpus of every assignment on the CPU and on CUDA, side by side.

    python scripts/gpu_check.py [ASSIGNMENT ...]

Needs only torch, numpy and pytest (no nbgrader, no Jupyter): it uses the engine's batch grading
directly.  Prints one row per (assignment, function, variant): the verdict expected (full marks, or
loses points), the verdict of a CPU-only grader (the CPU, and the meta device standing in for a GPU
in the checks marked ``placement``, docs/devices.md) and on CUDA ("skipped" without CUDA).  Exit
status 1 when a verdict differs from the expected one on either.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.paths import KitPaths  # noqa: E402
from autograder.sandbox import cuda_available  # noqa: E402
from autograder.variants import corpus_variants, grade_variants, load_corpus  # noqa: E402


def verdict(result: dict, exercise: str) -> str:
    """``full`` when the exercise got full marks, else ``loses``."""
    entry = result[exercise]
    return "full" if entry["score"] == entry["max_score"] else "loses"


def rows_for(kit, assignment: str, has_cuda: bool) -> list[tuple]:
    """Grade one assignment on each device; one row per (function, variant)."""
    entries = corpus_variants(load_corpus(kit, assignment))
    variants = {key: entry[3] for key, entry in entries.items()}
    expected = {key: (exercise, name, "full" if kind == "correct" else "loses")
                for key, (kind, exercise, name, _cells) in entries.items()}
    cpu = grade_variants(kit, assignment, variants, devices=["cpu", "meta"])  # what a grader without a GPU does
    cuda = grade_variants(kit, assignment, variants, devices=["cuda"]) if has_cuda else None
    rows = []
    for exercise in cpu["reference"]:
        rows.append((assignment, exercise, "reference", "full", verdict(cpu["reference"], exercise),
                     verdict(cuda["reference"], exercise) if cuda else "skipped"))
    for key, (exercise, name, want) in expected.items():
        rows.append((assignment, exercise, name, want, verdict(cpu[key], exercise),
                     verdict(cuda[key], exercise) if cuda else "skipped"))
    return rows


def main(argv=None) -> int:
    """Print the table; exit 1 on any unexpected verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    args = parser.parse_args(argv)
    kit = KitPaths(ROOT)
    has_cuda = cuda_available()
    import torch
    print(f"torch {torch.__version__}, CUDA {'available: ' + torch.cuda.get_device_name(0) if has_cuda else 'not available'}")
    began = time.monotonic()
    rows = []
    for assignment in args.assignments or kit.assignment_names():
        if load_corpus(kit, assignment) is None:
            print(f"(no corpus for {assignment}; skipped)")
            continue
        rows += rows_for(kit, assignment, has_cuda)
    header = ("assignment", "function", "variant", "expected", "cpu", "cuda")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    bad = [r for r in rows if r[4] != r[3] or (r[5] != "skipped" and r[5] != r[3])]
    print(f"\n{len(rows)} verdicts, {len(bad)} unexpected, {time.monotonic() - began:.0f} s")
    for r in bad:
        print("UNEXPECTED:", *r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
