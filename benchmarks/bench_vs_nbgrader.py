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
DEFAULT_ASSIGNMENTS = ["softmax_regression", "linear_regression"]
HONEST = ["reference", "stubs", "bug_softmax_overflow", "bug_cross_entropy_index", "bug_sgd_batch_size"]
HOSTILE = "hostile_patch_allclose"
HOSTILE_ID = "zz_" + HOSTILE
KIT_COURSE_ID = "d2l-pytorch"


def all_scenarios(assignment: str = ASSIGNMENT) -> list:
    """The assignment's demo scenarios (``solutions/scenarios/<assignment>.py``)."""
    return scenarios_for(assignment, KitPaths(ROOT))


def scenario(name: str, assignment: str = ASSIGNMENT):
    return next(s for s in all_scenarios(assignment) if s.name == name)


def honest(assignment: str) -> list[str]:
    """The scenarios timed: for softmax_regression the five of :data:`HONEST`; elsewhere every
    scenario that is not an attack (``hostile_*``)."""
    if assignment == ASSIGNMENT:
        return HONEST
    return [s.name for s in all_scenarios(assignment) if not s.name.startswith("hostile")]


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

def student_scenarios(n: int, assignment: str = ASSIGNMENT) -> list:
    """``n`` fake students cycling through the honest scenarios, ids ``s001_reference``, ..."""
    out = []
    names = honest(assignment)
    for i in range(n):
        base = scenario(names[i % len(names)], assignment)
        out.append(dataclasses.replace(base, name=f"s{i + 1:03d}_{base.name}"))
    return out


def answer_cells(course: CoursePaths, student: str, assignment: str = ASSIGNMENT) -> dict[str, str]:
    nb = read_notebook(course.submitted(student, assignment) / f"{assignment}.ipynb")
    out = {}
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if meta.get("role") == "exercise":
            src = cell["source"]
            out[meta["function"]] = "".join(src) if isinstance(src, list) else src
    return out


def prepare(work: Path, kit: KitPaths, chosen: dict[str, list], stock_drop=()) -> tuple[CoursePaths, CoursePaths]:
    """Build, release and fill both courses with the same submissions (``chosen``: assignment ->
    scenarios)."""
    kit_course = build_course(work / "kit-course", kit, list(chosen))
    for assignment in chosen:
        nbgrader_driver.generate_assignment(kit_course, assignment)
    for assignment in chosen:
        stock_course = build_stock_course(work / "stock-course", kit, assignment, drop_roles=stock_drop)
    for assignment in chosen:
        nbgrader_driver.generate_assignment(stock_course, assignment)
    for assignment, scenarios in chosen.items():
        for course in (kit_course, stock_course):
            write_submissions(course, assignment, scenarios)
        for s in scenarios:  # the same answer cells go to both
            a, b = answer_cells(kit_course, s.name, assignment), answer_cells(stock_course, s.name, assignment)
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


def grade_kit(course: CoursePaths, env: dict, students: list[str] | None = None, assignment: str = ASSIGNMENT,
              options: list[str] = ()):
    cmd = [*console_script("d2l-grade"), "grade", str(course.root), assignment, *options]
    for s in students or []:
        cmd += ["--student", s]
    seconds, cpu, proc = timed(cmd, course.root, env)
    check(proc, " ".join(cmd))
    return seconds, cpu, proc


def grade_stock(course: CoursePaths, env: dict, students: list[str] | None = None, assignment: str = ASSIGNMENT):
    cmd = [*console_script("nbgrader"), "autograde", assignment]
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

def gradebook_scores(course: CoursePaths, course_id: str,
                     assignment: str = ASSIGNMENT) -> dict[str, tuple[float, float] | None]:
    """student -> (score, max_score) from the course's gradebook (None: no submission recorded)."""
    from nbgrader.api import Gradebook, MissingEntry
    out = {}
    with Gradebook(f"sqlite:///{course.gradebook}", course_id=course_id) as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(assignment, student.id)
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


def stock_cell_seconds(course: CoursePaths, students: list[str], assignment: str = ASSIGNMENT) -> dict[str, float]:
    """Seconds per notebook that stock's kernels spent in each kind of cell (d2l role: setup,
    exercise, selfcheck = hidden tests, train), averaged over ``students``, from the execution
    timestamps nbclient writes into the autograded notebooks' cell metadata."""
    totals: dict[str, float] = {}
    for student in students:
        path = course.autograded(student, assignment) / f"{assignment}.ipynb"
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


def zero_reasons(course: CoursePaths, student: str, assignment: str = ASSIGNMENT) -> dict[str, str]:
    """grade cell -> why nbgrader's determine_grade gave it 0 (an error or stderr output), read
    from the autograded notebook."""
    path = course.autograded(student, assignment) / f"{assignment}.ipynb"
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

def kit_breakdown(course: CoursePaths, assignment: str, students: list[str]) -> dict:
    """Seconds per notebook by stage, from the results store the command just wrote (summed over
    workers: child start, student cells, tests; in the recording process: recording), and the
    run's one-off cost of starting the workers' sandboxes."""
    from autograder.results import ResultsStore
    store = ResultsStore(course.root)
    stages = ("child_start", "student_cells", "tests", "recording")
    sums = dict.fromkeys(stages, 0.0)
    n = 0
    for student in students:
        result = store.get(assignment, student)
        if result is None:
            continue
        n += 1
        for stage in stages:
            sums[stage] += result.timings.get(stage, 0.0)
    run = store.get_run(assignment) or {}
    return {"notebooks": n, "stage_seconds": sums, "workers": run.get("workers"),
            "workers_start": run.get("timings", {}).get("workers_start", 0.0),
            "grade_class_seconds": run.get("seconds", 0.0)}


def per_min(notebooks: int, seconds: float) -> float:
    return 60.0 * notebooks / seconds if seconds else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50,
                        help="student notebooks per assignment and way (default 50)")
    parser.add_argument("--assignments", nargs="+", default=DEFAULT_ASSIGNMENTS,
                        help=f"assignments to grade (default: {' '.join(DEFAULT_ASSIGNMENTS)})")
    parser.add_argument("--keep", metavar="DIR", help="build the two courses under DIR and keep them")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead of tables")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the --jobs 1 / --jobs 2 / LocalCluster scaling runs")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader (kit figures only)")
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
    assignments = list(args.assignments)
    cluster = None
    try:
        kernel_py = ensure_kernel(env)
        chosen = {a: student_scenarios(args.students, a) for a in assignments}
        total = sum(len(v) for v in chosen.values())
        log(f"building both courses under {work} with {total} submissions each ...")
        kit_course, stock_course = prepare(work, kit, chosen,
                                           ("train",) if args.stock_without_training else ())
        warm_up(env)

        load_before = os.getloadavg()[0]
        kit_s = kit_cpu = 0.0
        breakdown = {}
        for a in assignments:
            log(f"timing the kit: d2l-grade grade DIR {a} (--jobs default) ...")
            s, c, _ = grade_kit(kit_course, env, assignment=a)
            kit_s, kit_cpu = kit_s + s, kit_cpu + c
            breakdown[a] = kit_breakdown(kit_course, a, [x.name for x in chosen[a]])
            log(f"  {s:.1f} s")
        # the same command again: everything is graded and recorded, so nothing is (its fixed cost)
        noop_s = 0.0
        for a in assignments:
            s, _, _ = grade_kit(kit_course, env, assignment=a)
            noop_s += s
        log(f"  again, nothing to do: {noop_s:.1f} s for {len(assignments)} commands")
        stock_s = stock_cpu = 0.0
        cells = {}
        if not args.no_stock:
            for a in assignments:
                log(f"timing stock nbgrader: nbgrader autograde {a} ...")
                s, c, _ = grade_stock(stock_course, env, assignment=a)
                stock_s, stock_cpu = stock_s + s, stock_cpu + c
                cells[a] = stock_cell_seconds(stock_course, [x.name for x in chosen[a]], a)
                log(f"  {s:.1f} s")
        load_after = os.getloadavg()[0]

        scaling = {}
        if not args.no_scaling:
            ways = [("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])]
            try:
                from distributed import LocalCluster
                cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
                ways.append(("LocalCluster, 2 workers", ["--scheduler", cluster.scheduler_address]))
            except ImportError:
                log("note: dask.distributed is not installed: no LocalCluster line")
            for label, options in ways:
                seconds = 0.0
                for a in assignments:
                    s, _, _ = grade_kit(kit_course, env, assignment=a, options=[*options, "--force"])
                    seconds += s
                scaling[label] = seconds
                log(f"  {label}: {seconds:.1f} s")

        kit_scores = {a: gradebook_scores(kit_course, KIT_COURSE_ID, a) for a in assignments}
        stock_scores = {a: gradebook_scores(stock_course, STOCK_COURSE_ID, a) for a in assignments} \
            if not args.no_stock else {a: {} for a in assignments}
        stock_zeroes = {a: {s.name: r for s in chosen[a] if (r := zero_reasons(stock_course, s.name, a))}
                        for a in assignments} if not args.no_stock else {}
    finally:
        if cluster is not None:
            cluster.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    per_kit = kit_s / total
    per_stock = stock_s / total if stock_s else None
    ratio = per_stock / per_kit if per_stock else None
    agree = {a: [s.name for s in chosen[a] if kit_scores[a].get(s.name) is not None
                 and kit_scores[a].get(s.name) == stock_scores[a].get(s.name)] for a in assignments}
    stages = ("child_start", "student_cells", "tests", "recording")
    stage_per_nb = {st: sum(b["stage_seconds"][st] for b in breakdown.values()) / total for st in stages}
    workers = max((b["workers"] or 0) for b in breakdown.values()) or 1
    workers_start = sum(b["workers_start"] for b in breakdown.values())
    in_grade_class = sum(b["grade_class_seconds"] for b in breakdown.values())
    result = {
        "assignments": {a: len(chosen[a]) for a in assignments}, "notebooks": total, "cpus": os.cpu_count(),
        "kernel_python": kernel_py, "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "stock_training_cells": not args.stock_without_training, "cpu_accounting": sorted(CPU_METHODS),
        "kit": {"command": "d2l-grade grade DIR ASSIGNMENT (--jobs default)", "workers": workers,
                "seconds": round(kit_s, 3), "seconds_per_notebook": round(per_kit, 4),
                "notebooks_per_minute": round(per_min(total, kit_s), 1),
                "cpu_seconds_per_notebook": round(kit_cpu / total, 4),
                "per_notebook_seconds": {k: round(v, 4) for k, v in stage_per_nb.items()},
                "workers_start_seconds": round(workers_start, 2),
                "outside_grade_class_seconds": round(kit_s - in_grade_class, 2),
                "nothing_to_do_seconds": round(noop_s, 2)},
        "stock": None if args.no_stock else {
            "command": "nbgrader autograde ASSIGNMENT", "seconds": round(stock_s, 3),
            "seconds_per_notebook": round(per_stock, 3), "notebooks_per_minute": round(per_min(total, stock_s), 1),
            "cpu_seconds_per_notebook": round(stock_cpu / total, 3),
            "cell_seconds_per_notebook": {a: {k: round(v, 3) for k, v in c.items()} for a, c in cells.items()}},
        "ratio_stock_over_kit": round(ratio, 2) if ratio else None,
        "scaling_notebooks_per_minute": {k: round(per_min(total, v), 1) for k, v in scaling.items()},
        "scores_agree": None if args.no_stock else {a: f"{len(agree[a])}/{len(chosen[a])}" for a in assignments},
        "kept": str(work) if args.keep else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0

    counts = ", ".join(f"{a} {len(chosen[a])}" for a in assignments)
    print(f"Grading {total} notebooks ({counts}; honest scenarios cycled) on {os.cpu_count()} CPUs; "
          f"1-min load average {load_before:.1f} before, {load_after:.1f} after"
          + ("; stock notebooks without the ungraded training cells" if args.stock_without_training else ""))
    print()
    rows = [("way", "total s", "notebooks", "notebooks/min", "s / notebook", "CPU s / notebook"),
            (f"kit: d2l-grade grade (--jobs {workers})", f"{kit_s:.1f}", str(total), f"{per_min(total, kit_s):.1f}",
             f"{per_kit:.3f}", f"{kit_cpu / total:.3f}")]
    if not args.no_stock:
        rows.append(("stock: nbgrader autograde", f"{stock_s:.1f}", str(total), f"{per_min(total, stock_s):.1f}",
                     f"{per_stock:.2f}", f"{stock_cpu / total:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if ratio:
        print(f"ratio kit/stock in notebooks per minute: {ratio:.1f}x (target: at least 20x); "
              f"CPU time {stock_cpu / kit_cpu:.1f}x")
    if CPU_METHODS == {"rusage"}:
        print("note: CPU times from getrusage: the kit's sandbox children (reaped with SIGCHLD ignored) "
              "are not counted; no cgroup was available to count them")
    print()
    grading = sum(stage_per_nb[s] for s in ("child_start", "student_cells", "tests"))
    fixed = kit_s - in_grade_class
    print(f"kit, per notebook: child start {stage_per_nb['child_start']:.3f} s, student cells "
          f"{stage_per_nb['student_cells']:.3f} s, tests {stage_per_nb['tests']:.3f} s (these three in the "
          f"{workers} workers, side by side), recording {stage_per_nb['recording']:.3f} s (nbgrader, one at a "
          f"time in the main process)")
    print(f"kit, per command: {fixed / len(assignments):.1f} s start-up and imports outside grading, "
          f"{workers_start / len(assignments):.1f} s starting and probing the workers' sandboxes; a command "
          f"with nothing to do takes {noop_s / len(assignments):.1f} s")
    floor_rec = stage_per_nb["recording"]
    floor_work = grading / workers
    bound = "recording (one process, nbgrader's gradebook)" if floor_rec >= floor_work else "grading in the workers"
    print(f"what holds it back: {bound}: recording alone caps the kit at {per_min(1, floor_rec):.0f} notebooks/min, "
          f"grading on {workers} workers at {per_min(1, floor_work):.0f}; the fixed cost per command "
          f"({(fixed + workers_start) / len(assignments):.1f} s) is {(fixed + workers_start) / kit_s:.0%} of the total")
    if scaling:
        base = scaling.get("--jobs 1")
        parts = [f"{label}: {per_min(total, sec):.0f} notebooks/min"
                 + (f" ({base / sec:.2f}x --jobs 1)" if base and label != "--jobs 1" else "")
                 for label, sec in scaling.items()]
        print("scaling (same notebooks, --force, whole commands): " + "; ".join(parts))
    if not args.no_stock:
        for a in assignments:
            c = cells[a]
            parts = [f"{c[r]:.2f} s {label}" for r, label in (("setup", "setup cell"), ("exercise", "answer cells"),
                                                              ("selfcheck", "hidden-test cells"),
                                                              ("train", "training cells")) if r in c]
            print(f"stock, per {a} notebook: {'; '.join(parts)}")
        print()
        for a in assignments:
            print(f"{a}: kit and stock gradebook totals agree for {len(agree[a])}/{len(chosen[a])} students")
            for s in chosen[a]:
                k, st = kit_scores[a].get(s.name), stock_scores[a].get(s.name)
                if k != st:
                    print(f"    {s.name}: kit {fmt_score(k)}, stock {fmt_score(st)}")
                    for cell, why in stock_zeroes.get(a, {}).get(s.name, {}).items():
                        print(f"        stock {cell} zeroed by {why}")
    if max(load_before, load_after) > (os.cpu_count() or 1) + 0.5:
        print(f"note: the machine was busy (1-min load average {load_before:.1f} before, "
              f"{load_after:.1f} after): wall-clock times are inflated")
    if args.keep:
        print(f"\nCourses kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
