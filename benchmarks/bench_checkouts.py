"""Grade the same notebooks with two checkouts of the kit, side by side in one run.

    .venv/bin/python benchmarks/bench_checkouts.py [--baseline REF] [--students N] [--rounds R]

Answers "how much does this change cost per notebook?": ``d2l-grade grade`` (whole command:
interpreter start-up, sandbox start and probe, grading, recording in the gradebook) on the same N
``softmax_regression`` submissions (the reference and the untouched stubs, alternating), once with
this checkout and once with ``REF`` (a git worktree made for the run; default: the commit before
``autograder/sandbox/`` appeared, i.e. the kit's own namespace sandbox), rounds interleaved so that
both see the same machine.  Prints seconds per notebook (median over rounds) and the ratio.  Both use
this venv's interpreter, each checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "softmax_regression"

_PREPARE = r'''
import json, sys
from pathlib import Path
from autograder import nbgrader_driver
from autograder.course import build_course, reference_answer_cells
from autograder.notebook import d2l_meta, read_notebook
from autograder.paths import KitPaths
course = build_course(sys.argv[1], KitPaths())
nbgrader_driver.generate_assignment(course, sys.argv[2])
release = read_notebook(course.release(sys.argv[2]) / f"{sys.argv[2]}.ipynb")
reference = reference_answer_cells(KitPaths(), sys.argv[2])
for i in range(int(sys.argv[3])):
    nb = json.loads(json.dumps(release))
    if i % 2 == 0:
        for cell in nb["cells"]:
            if d2l_meta(cell).get("role") == "exercise":
                cell["source"] = reference[d2l_meta(cell)["function"]]
    folder = course.submitted(f"s{i:03d}", sys.argv[2])
    folder.mkdir(parents=True)
    (folder / f"{sys.argv[2]}.ipynb").write_text(json.dumps(nb))
'''


def default_baseline() -> str:
    """The parent of the commit that added ``autograder/sandbox/``."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", "autograder/sandbox/__init__.py"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def environment(checkout: Path) -> dict[str, str]:
    """This venv first on PATH, ``checkout`` first on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(checkout)
    return env


def main(argv=None) -> int:
    """Run the comparison and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="git ref to compare with (default: before the sandbox)")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    ref = args.baseline or default_baseline()
    with tempfile.TemporaryDirectory(prefix="d2l-bench-") as tmp:
        tmp = Path(tmp)
        baseline = tmp / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(baseline), ref], cwd=ROOT, check=True)
        try:
            checkouts = {"this checkout": ROOT, f"baseline ({ref})": baseline}
            courses = {}
            for name, checkout in checkouts.items():
                course = tmp / f"course-{len(courses)}"
                subprocess.run([sys.executable, "-c", _PREPARE, str(course), ASSIGNMENT, str(args.students)],
                               env=environment(checkout), check=True, cwd=tmp)
                courses[name] = course
            times: dict[str, list[float]] = {name: [] for name in checkouts}
            for _ in range(args.rounds):
                for name, checkout in checkouts.items():
                    began = time.monotonic()
                    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(courses[name]),
                                           ASSIGNMENT], env=environment(checkout), capture_output=True, text=True,
                                          cwd=tmp)
                    if proc.returncode != 0:
                        print(proc.stderr, file=sys.stderr)
                        return 1
                    times[name].append((time.monotonic() - began) / args.students)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)
    medians = {name: statistics.median(t) for name, t in times.items()}
    names = list(checkouts)
    ratio = medians[names[0]] / medians[names[1]]
    if args.json:
        print(json.dumps({"seconds_per_notebook": medians, "all": times, "ratio": ratio}, indent=2))
        return 0
    print(f"{args.students} {ASSIGNMENT} notebooks, {args.rounds} interleaved rounds, `d2l-grade grade` whole command")
    for name in names:
        print(f"  {name:40s} {medians[name]:.3f} s/notebook  (rounds: {', '.join(f'{t:.3f}' for t in times[name])})")
    print(f"  ratio this / baseline: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
