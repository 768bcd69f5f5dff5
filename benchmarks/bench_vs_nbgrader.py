"""Grade the same submissions with the kit and with stock nbgrader; compare seconds per notebook.

    .venv/bin/python benchmarks/bench_vs_nbgrader.py [--students N] [--keep DIR] [--json]

(a) the kit: ``autograder.course.build_course``, ``nbgrader_driver.generate_assignment``,
    ``autograder.demo.write_submissions``; timed: ``d2l-grade grade DIR softmax_regression`` as a
    subprocess (whole command, start-up included).
(b) stock nbgrader: the same source notebook, each self-check grade cell replaced by a hidden test
    region that runs the same hidden pytest suite inside the notebook kernel (see
    ``benchmarks/stock_course.py``), nbgrader's default ``Execute`` pipeline; timed:
    ``nbgrader autograde softmax_regression`` as a subprocess in the course directory.

Both grade the same N students (default 12), cycling through the honest scenarios of
``solutions/scenarios/softmax_regression.py``: the reference, the stubs and the three bugs.  The
hostile scenarios are left out of the timed runs (``hostile_infinite_loop`` would add the kit's 5 s
call timeout on one side and nbgrader's cell timeout on the other; ``hostile_os_exit`` kills the
stock kernel;
``hostile_snoop`` walks the disk for 2 s and writes into every gradebook it can reach).
``hostile_patch_allclose`` is then graded by both, untimed, and reported on its own line.
See benchmarks/README.md for what is fair and what is not about this comparison.
"""

from __future__ import annotations

import argparse
import re
import resource
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from autograder import nbgrader_driver  # noqa: E402
from autograder.course import build_course  # noqa: E402
from autograder.demo import write_submissions  # noqa: E402
from autograder.demo_scenarios import scenarios_for  # noqa: E402
from autograder.notebook import d2l_meta, read_notebook  # noqa: E402
from autograder.paths import CoursePaths, KitPaths  # noqa: E402

from stock_course import STOCK_COURSE_ID, build_stock_course  # noqa: E402

ASSIGNMENT = "softmax_regression"
HONEST = ["reference", "stubs", "bug_softmax_overflow", "bug_cross_entropy_index", "bug_sgd_batch_size"]
HOSTILE = "hostile_patch_allclose"
HOSTILE_ID = "zz_" + HOSTILE
KIT_COURSE_ID = "d2l-pytorch"


def all_scenarios() -> list:
    """The assignment's demo scenarios (``solutions/scenarios/<assignment>.py``)."""
    return scenarios_for(ASSIGNMENT, KitPaths(ROOT))


def scenario(name: str):
    return next(s for s in all_scenarios() if s.name == name)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------

def tool_env() -> dict:
    """The environment of an activated venv: its bin/ first on PATH (nbgrader runs `alembic`),
    Jupyter preferring the venv's kernelspecs, this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    # the kit from this checkout, in the graders and in the stock kernels alike (not whatever
    # checkout the venv's editable install points to)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def console_script(name: str) -> list[str]:
    """``.venv/bin/NAME`` when it exists, else ``python -m`` of its module."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    return {"d2l-grade": [sys.executable, "-m", "autograder.cli"],
            "nbgrader": [sys.executable, "-m", "nbgrader"]}[name]


def ensure_kernel(env: dict) -> str:
    """Make the ``python3`` kernel start this interpreter (install it into the venv if not)."""
    probe = ("import json, sys\nfrom jupyter_client.kernelspec import KernelSpecManager\n"
             "try:\n    spec = KernelSpecManager().get_kernel_spec('python3')\n"
             "    print(json.dumps(spec.argv))\nexcept Exception:\n    print('null')\n")

    def kernel_python():
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
        argv = json.loads(out.stdout.strip() or "null")
        return argv[0] if argv else None

    def same(py):
        if not py:
            return False
        if py in ("python", "python3"):  # ipykernel's native spec: resolved on PATH (venv first)
            py = shutil.which(py, path=env["PATH"]) or py
        try:
            return Path(py).resolve() == Path(sys.executable).resolve() or \
                Path(py).absolute().parent == Path(sys.executable).absolute().parent
        except OSError:
            return False

    py = kernel_python()
    if not same(py):
        log(f"the python3 kernel starts {py!r}, not {sys.executable}: installing the venv's kernel")
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], env=env,
                       check=True, capture_output=True)
        # and make the venv's kernelspecs win over any user or JUPYTER_PATH ones, for our subprocesses
        share = str(Path(sys.prefix) / "share" / "jupyter")
        env["JUPYTER_PATH"] = share + (os.pathsep + env["JUPYTER_PATH"] if env.get("JUPYTER_PATH") else "")
        py = kernel_python()
        if not same(py):
            raise SystemExit(f"the python3 kernel still starts {py!r}, not {sys.executable}")
    return py


def warm_up(env: dict) -> None:
    """Import the heavy modules once, untimed, so neither way pays a cold disk cache alone."""
    subprocess.run([sys.executable, "-c", "import torch, pytest, nbgrader.apps, ipykernel.kernelapp, "
                    "nbclient, autograder.grading"], env=env, check=True, capture_output=True)


# --------------------------------------------------------------------------------------------
# Courses and submissions
# --------------------------------------------------------------------------------------------

def student_scenarios(n: int) -> list:
    """``n`` fake students cycling through the honest scenarios, ids ``s01_reference``, ..."""
    out = []
    for i in range(n):
        base = scenario(HONEST[i % len(HONEST)])
        out.append(dataclasses.replace(base, name=f"s{i + 1:02d}_{base.name}"))
    return out


def answer_cells(course: CoursePaths, student: str) -> dict[str, str]:
    nb = read_notebook(course.submitted(student, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb")
    out = {}
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if meta.get("role") == "exercise":
            src = cell["source"]
            out[meta["function"]] = "".join(src) if isinstance(src, list) else src
    return out


def prepare(work: Path, kit: KitPaths, chosen: list, stock_drop=()) -> tuple[CoursePaths, CoursePaths]:
    """Build, release and fill both courses with the same submissions."""
    kit_course = build_course(work / "kit-course", kit, [ASSIGNMENT])
    nbgrader_driver.generate_assignment(kit_course, ASSIGNMENT)
    stock_course = build_stock_course(work / "stock-course", kit, ASSIGNMENT, drop_roles=stock_drop)
    nbgrader_driver.generate_assignment(stock_course, ASSIGNMENT)
    for course in (kit_course, stock_course):
        write_submissions(course, ASSIGNMENT, chosen)
    for s in chosen:  # the same answer cells go to both
        a, b = answer_cells(kit_course, s.name), answer_cells(stock_course, s.name)
        if a != b:
            raise SystemExit(f"internal error: {s.name}'s answer cells differ between the courses")
    return kit_course, stock_course


# --------------------------------------------------------------------------------------------
# Timed runs
# --------------------------------------------------------------------------------------------

def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """CPU seconds of a command and *all* its descendants.

    ``getrusage(RUSAGE_CHILDREN)`` misses processes whose parent ignores SIGCHLD (the kit's
    zygote does, so its sandbox children would not count), so where this machine lets us, the
    command runs in a fresh cgroup (v1 ``cpuacct`` or v2) whose CPU counter covers every process
    in it; the cgroup is removed afterwards.  Elsewhere it falls back to rusage (``method`` says
    which was used).
    """

    _seq = 0

    def __init__(self):
        self.group: Path | None = None
        self.method = "rusage"
        CpuMeter._seq += 1
        name = f"d2l-bench-{os.getpid()}-{CpuMeter._seq}"
        for base, kind in ((Path("/sys/fs/cgroup/cpuacct"), "cgroup-v1"),
                           (Path("/sys/fs/cgroup/unified"), "cgroup-v2"), (Path("/sys/fs/cgroup"), "cgroup-v2")):
            counter = "cpuacct.usage" if kind == "cgroup-v1" else "cpu.stat"
            if not (base / counter).exists() and not (base / "cgroup.procs").exists():
                continue
            try:
                (base / name).mkdir()
            except OSError:
                continue
            if (base / name / counter).exists() and os.access(base / name / "cgroup.procs", os.W_OK):
                self.group, self.method, self._counter = base / name, kind, counter
                break
            self._remove(base / name)

    def _usage(self) -> float:
        text = (self.group / self._counter).read_text()
        if self._counter == "cpuacct.usage":
            return int(text) / 1e9
        return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec")) / 1e6

    def preexec(self):
        if self.group is not None:
            with open(self.group / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def run(self, cmd, **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
        """(wall seconds, CPU seconds, the completed process)."""
        cpu0, began = _children_cpu(), time.perf_counter()
        proc = subprocess.run(cmd, preexec_fn=self.preexec if self.group else None, **kwargs)
        wall = time.perf_counter() - began
        if self.group is None:
            return wall, _children_cpu() - cpu0, proc
        deadline = time.monotonic() + 10  # let the last descendants (a kernel shutting down) finish
        while (self.group / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu = self._usage()
        self._remove(self.group)
        return wall, cpu, proc

    @staticmethod
    def _remove(group: Path) -> None:
        try:
            group.rmdir()
        except OSError:
            log(f"note: could not remove the accounting cgroup {group}")


CPU_METHODS: set[str] = set()


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``cmd``; (wall seconds, CPU seconds of the command and its descendants, the process)."""
    meter = CpuMeter()
    CPU_METHODS.add(meter.method)
    return meter.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True)


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def grade_kit(course: CoursePaths, env: dict, students: list[str] | None = None):
    cmd = [*console_script("d2l-grade"), "grade", str(course.root), ASSIGNMENT]
    for s in students or []:
        cmd += ["--student", s]
    seconds, cpu, proc = timed(cmd, course.root, env)
    check(proc, " ".join(cmd))
    return seconds, cpu, proc


def grade_stock(course: CoursePaths, env: dict, students: list[str] | None = None):
    cmd = [*console_script("nbgrader"), "autograde", ASSIGNMENT]
    for s in students or []:
        cmd += ["--student", s]
    seconds, cpu, proc = timed(cmd, course.root, env)
    check(proc, " ".join(cmd))
    errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "| ERROR]" in ln]
    if errors:
        log("note: nbgrader logged errors:\n" + "\n".join(errors)[:3000])
    return seconds, cpu, proc


# --------------------------------------------------------------------------------------------
# Gradebooks
# --------------------------------------------------------------------------------------------

def gradebook_scores(course: CoursePaths, course_id: str) -> dict[str, tuple[float, float] | None]:
    """student -> (score, max_score) from the course's gradebook (None: no submission recorded)."""
    from nbgrader.api import Gradebook, MissingEntry
    out = {}
    with Gradebook(f"sqlite:///{course.gradebook}", course_id=course_id) as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(ASSIGNMENT, student.id)
            except MissingEntry:
                out[student.id] = None
                continue
            out[student.id] = (float(sub.score), float(sub.max_score))
    return out


def cell_scores(course: CoursePaths, course_id: str, student: str) -> dict[str, list[float]]:
    """grade cell -> [score, max_score] of one student's notebook ({} if not graded)."""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(f"sqlite:///{course.gradebook}", course_id=course_id) as gb:
        try:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        return {g.name: [float(g.score), float(g.max_score)] for g in nb.grades}


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def stock_cell_seconds(course: CoursePaths, students: list[str]) -> dict[str, float]:
    """Seconds per notebook that stock's kernels spent in each kind of cell (d2l role: setup,
    exercise, selfcheck = hidden tests, train), averaged over ``students``, from the execution
    timestamps nbclient writes into the autograded notebooks' cell metadata."""
    totals: dict[str, float] = {}
    for student in students:
        path = course.autograded(student, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
        if not path.is_file():
            continue
        for cell in read_notebook(path)["cells"]:
            stamps = cell.get("metadata", {}).get("execution", {})
            if cell.get("cell_type") != "code" or "iopub.status.busy" not in stamps:
                continue
            end = stamps.get("shell.execute_reply") or stamps.get("iopub.status.idle")
            if not end:
                continue
            role = d2l_meta(cell).get("role", "other")
            totals[role] = totals.get(role, 0.0) + _stamp(end) - _stamp(stamps["iopub.status.busy"])
    return {role: t / max(len(students), 1) for role, t in totals.items()}


def zero_reasons(course: CoursePaths, student: str) -> dict[str, str]:
    """grade cell -> why nbgrader's determine_grade gave it 0 (an error or stderr output), read
    from the autograded notebook."""
    path = course.autograded(student, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
    if not path.is_file():
        return {}
    out = {}
    for cell in read_notebook(path)["cells"]:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not nbg.get("grade"):
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out[nbg["grade_id"]] = f"error {o.get('ename')}: {str(o.get('evalue'))[:200]}"
                break
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = "".join(o.get("text", "")) if isinstance(o.get("text"), list) else o.get("text", "")
                out[nbg["grade_id"]] = "stderr: " + text.strip()[:200]
                break
    return out


def fmt_score(entry) -> str:
    return "not graded" if entry is None else f"{entry[0]:g}/{entry[1]:g}"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=12, help="student notebooks per way (default 12)")
    parser.add_argument("--keep", metavar="DIR", help="build the two courses under DIR and keep them")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead of tables")
    parser.add_argument("--stock-without-training", action="store_true",
                        help="leave the ungraded training cells out of the stock notebooks (the kit never "
                             "runs them; stock nbgrader runs every cell); answer cells stay the same")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")

    env = tool_env()
    kit = KitPaths(ROOT)
    if args.keep:
        work = Path(args.keep).resolve()
        if work.exists() and any(work.iterdir()):
            parser.error(f"--keep {work}: the directory exists and is not empty")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="d2l-bench-"))
    try:
        kernel_py = ensure_kernel(env)
        chosen = student_scenarios(args.students)
        log(f"building both courses under {work} with {len(chosen)} submissions each ...")
        kit_course, stock_course = prepare(work, kit, chosen,
                                           ("train",) if args.stock_without_training else ())
        warm_up(env)

        load_before = os.getloadavg()[0]
        log("timing the kit: d2l-grade grade ...")
        kit_s, kit_cpu, _ = grade_kit(kit_course, env)
        log(f"  {kit_s:.1f} s")
        log("timing stock nbgrader: nbgrader autograde ...")
        stock_s, stock_cpu, _ = grade_stock(stock_course, env)
        log(f"  {stock_s:.1f} s")
        load_after = os.getloadavg()[0]
        cells = stock_cell_seconds(stock_course, [c.name for c in chosen])

        # The hostile submission, untimed, one student on each side.
        hostile = dataclasses.replace(scenario(HOSTILE), name=HOSTILE_ID)
        for course in (kit_course, stock_course):
            write_submissions(course, ASSIGNMENT, [hostile])
        log(f"grading {HOSTILE} (untimed) ...")
        grade_kit(kit_course, env, [HOSTILE_ID])
        grade_stock(stock_course, env, [HOSTILE_ID])

        kit_scores = gradebook_scores(kit_course, KIT_COURSE_ID)
        stock_scores = gradebook_scores(stock_course, STOCK_COURSE_ID)
        hostile_cells = (cell_scores(kit_course, KIT_COURSE_ID, HOSTILE_ID),
                         cell_scores(stock_course, STOCK_COURSE_ID, HOSTILE_ID))
        stock_zeroes = {s: zero_reasons(stock_course, s) for s in [c.name for c in chosen] + [HOSTILE_ID]}
        stock_zeroes = {s: r for s, r in stock_zeroes.items() if r}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    n = len(chosen)
    per_kit, per_stock = kit_s / n, stock_s / n
    ratio = per_stock / per_kit
    ids = [s.name for s in chosen]
    agree = [s for s in ids if kit_scores.get(s) is not None and kit_scores.get(s) == stock_scores.get(s)]
    hostile_kit, hostile_stock = kit_scores.get(HOSTILE_ID), stock_scores.get(HOSTILE_ID)
    reference = kit_scores.get(ids[0])  # s01 is the reference solution
    result = {
        "assignment": ASSIGNMENT, "students": n, "cpus": os.cpu_count(), "kernel_python": kernel_py,
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "stock_training_cells": not args.stock_without_training,
        "cpu_accounting": sorted(CPU_METHODS),
        "kit": {"command": "d2l-grade grade DIR " + ASSIGNMENT, "seconds": round(kit_s, 3),
                "seconds_per_notebook": round(per_kit, 3), "cpu_seconds": round(kit_cpu, 3),
                "cpu_seconds_per_notebook": round(kit_cpu / n, 3)},
        "stock": {"command": "nbgrader autograde " + ASSIGNMENT, "seconds": round(stock_s, 3),
                  "seconds_per_notebook": round(per_stock, 3), "cpu_seconds": round(stock_cpu, 3),
                  "cpu_seconds_per_notebook": round(stock_cpu / n, 3),
                  "cell_seconds_per_notebook": {k: round(v, 3) for k, v in cells.items()}},
        "ratio_stock_over_kit": round(ratio, 2),
        "cpu_ratio_stock_over_kit": round(stock_cpu / kit_cpu, 2) if kit_cpu else None,
        "scores": {s: {"kit": kit_scores.get(s), "stock": stock_scores.get(s)} for s in ids},
        "scores_agree": len(agree) == n,
        "stock_cells_zeroed_by_error_or_stderr": stock_zeroes,
        "hostile": {"student": HOSTILE_ID, "kit": hostile_kit, "stock": hostile_stock,
                    "kit_cells": hostile_cells[0], "stock_cells": hostile_cells[1],
                    "stock_zeroed_cells": stock_zeroes.get(HOSTILE_ID, {}),
                    "reference_solution": reference},
        "kept": str(work) if args.keep else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    print(f"Grading {n} {ASSIGNMENT} notebooks ({', '.join(HONEST)}, cycled) on {os.cpu_count()} CPUs"
          + ("; stock notebooks without the ungraded training cells" if args.stock_without_training else ""))
    print()
    rows = [("way", "total s", "students", "s / notebook", "CPU s / notebook"),
            ("kit: d2l-grade grade", f"{kit_s:.1f}", str(n), f"{per_kit:.2f}", f"{kit_cpu / n:.2f}"),
            ("stock: nbgrader autograde", f"{stock_s:.1f}", str(n), f"{per_stock:.2f}", f"{stock_cpu / n:.2f}")]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"ratio stock/kit per notebook: {ratio:.1f}x wall clock (target: at least 3x), "
          f"{stock_cpu / kit_cpu:.1f}x CPU time")
    if CPU_METHODS == {"rusage"}:
        print("note: CPU times from getrusage: the kit's sandbox children (reaped with SIGCHLD ignored) "
              "are not counted; no cgroup was available to count them")
    roles = [("setup", "setup cell (import torch, the kit's self_check)"),
             ("exercise", "answer cells"), ("selfcheck", "hidden-test cells (a pytest session each)"),
             ("train", "ungraded training cells")]
    parts = [f"{cells[r]:.2f} s {label}" for r, label in roles if r in cells]
    rest = per_stock - sum(cells.values())
    print(f"stock, per notebook: {'; '.join(parts)}; {rest:.2f} s outside cells "
          "(kernel start, nbgrader)")
    if max(load_before, load_after) > (os.cpu_count() or 1) + 0.5:
        print(f"note: the machine was busy (1-min load average {load_before:.1f} before, "
              f"{load_after:.1f} after): wall-clock times are inflated; compare CPU times")
    print()
    print("Per-student totals from the two gradebooks (nbgrader.api.Gradebook):")
    w = max(len(s) for s in ids + ["student"])
    print(f"{'student'.ljust(w)}  {'kit':>10}  {'stock':>10}")
    for s in ids:
        k, st = kit_scores.get(s), stock_scores.get(s)
        print(f"{s.ljust(w)}  {fmt_score(k):>10}  {fmt_score(st):>10}" + ("" if k == st else "  <- differ"))
        if k != st:
            for cell, why in stock_zeroes.get(s, {}).items():
                print(f"    stock {cell} zeroed by {why}")
    print(f"agree: {len(agree)}/{n}")
    print()
    verdict = ""
    if hostile_kit is not None and hostile_stock is not None and hostile_stock[0] > hostile_kit[0]:
        verdict = " -> stock nbgrader gives credit the kit does not"
    print(f"{HOSTILE} (untimed; {scenario(HOSTILE).description}): "
          f"kit {fmt_score(hostile_kit)}, stock {fmt_score(hostile_stock)}, "
          f"reference solution {fmt_score(reference)}{verdict}")
    for cell in sorted(set(hostile_cells[0]) | set(hostile_cells[1])):
        why = stock_zeroes.get(HOSTILE_ID, {}).get(cell)
        print(f"    {cell}: kit {fmt_score(hostile_cells[0].get(cell))}, "
              f"stock {fmt_score(hostile_cells[1].get(cell))}" + (f" (zeroed by {why})" if why else ""))
    if args.keep:
        print(f"\nCourses kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
