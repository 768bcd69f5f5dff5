"""Grading many submissions: chunks of plain data in, plain results out, on one core, all cores
or a Dask cluster.

One function does the grading wherever it runs: :func:`grade_chunk` takes a :class:`Chunk` (the
assignment's structure, some students' submissions, where the kit is, what the sandbox must
hide) and returns a :class:`ChunkResult` (``{student: {exercise: {...}}}`` plus timings).  It
runs in a *trusted* worker process that owns one warm :class:`~autograder.sandbox.Sandbox`
(started and probed once, then a child per submission), so the sandbox's promises hold per worker.

Three executors hand chunks to it:

* :class:`InProcess` (``--jobs 1``): this process, one sandbox;
* :class:`LocalPool` (``--jobs N``): N worker processes (``spawn``), each with its own sandbox;
  every worker's sandbox is probed before the first result is handed back;
* :class:`DaskExecutor` (``--scheduler tcp://HOST:PORT``): Dask distributed workers.  The hidden
  suites, their helpers, the reference solution and the assignment notebook travel as a
  :class:`KitBundle` (file contents) to the worker *process*, which writes them to a private
  directory (mode 0700, on the worker's host ``/tmp``, which no sandboxed child can see) and names
  that directory to its sandbox's probe as one that must stay hidden.  Only the student's cells go
  into the sandboxed child, as they do locally.

Results come back as plain data; recording them (nbgrader, one process) is the caller's job.
This module knows nothing of nbgrader.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import math
import os
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from autograder.notebook import AssignmentSpec, Submission
from autograder.paths import KitPaths
from autograder.sandbox import SandboxUnavailable

WORKER_NICENESS = 10
READY_TIMEOUT = 600.0   # a worker imports torch twice (itself, its zygote): slow on a busy machine


# --------------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------------

@dataclass
class KitBundle:
    """What a remote worker needs of the kit to grade one assignment: file contents, by path
    relative to the kit root (``grader_tests/*.py``, ``solutions/<a>.py``, ``assignments/<a>.ipynb``)."""

    assignment: str
    files: dict[str, str]
    digest: str = ""

    @classmethod
    def of(cls, kit: KitPaths, assignment: str) -> "KitBundle":
        files = {f"grader_tests/{p.name}": p.read_text(encoding="utf-8")
                 for p in sorted(Path(kit.grader_tests).glob("*.py"))}
        files[f"solutions/{assignment}.py"] = Path(kit.solution_module(assignment)).read_text(encoding="utf-8")
        files[f"assignments/{assignment}.ipynb"] = Path(kit.assignment_notebook(assignment)).read_text(encoding="utf-8")
        h = hashlib.sha256()
        for name in sorted(files):
            h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
        return cls(assignment, files, h.hexdigest())

    def materialize(self) -> KitPaths:
        """Write the files to a private directory of this process (once per digest)."""
        with _LOCK:
            root = _BUNDLES.get(self.digest)
            if root is None:
                root = tempfile.mkdtemp(prefix=f"d2l-kit-{self.digest[:12]}-")  # mode 0700
                for name, text in self.files.items():
                    path = Path(root) / name
                    if ".." in Path(name).parts or Path(name).is_absolute():
                        raise ValueError(f"a kit bundle file outside the kit: {name!r}")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
                _BUNDLES[self.digest] = root
            return KitPaths(root)


@dataclass
class Chunk:
    """Some students' submissions of one assignment, to grade together (one pytest session)."""

    spec: AssignmentSpec
    submissions: dict[str, Submission]
    kit: str | KitBundle | None          # a kit root on the worker's machine, or the files
    must_not_see: list[str] = field(default_factory=list)
    dependents: str | None = None
    devices: list[str] | None = None


@dataclass
class ChunkResult:
    """``{student: {exercise: {...}}}``, seconds spent (the whole chunk, by stage), and each
    student's flags (``{student: [flag, ...]}``, plain data: :mod:`autograder.flags`)."""

    results: dict[str, dict]
    timings: dict[str, float]
    worker: str = ""
    flags: dict[str, list] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# The one grading function (runs in a trusted worker process)
# --------------------------------------------------------------------------------------------

_LOCK = threading.RLock()          # one chunk at a time per process (pytest is not thread-safe)
_SANDBOXES: dict[tuple, object] = {}
_BUNDLES: dict[str, str] = {}


def _kit_of(kit) -> KitPaths:
    if isinstance(kit, KitBundle):
        return kit.materialize()
    return KitPaths(kit) if kit else KitPaths()


def worker_sandbox(kit: KitPaths, must_not_see: Iterable[str]):
    """This process's sandbox for ``kit`` and ``must_not_see``: started (and probed) once, kept warm."""
    from autograder.sandbox import Sandbox
    hidden = tuple(sorted({*map(str, kit.secret_dirs()), *map(str, must_not_see)}))
    with _LOCK:
        sandbox = _SANDBOXES.get(hidden)
        if sandbox is None:
            for old in _SANDBOXES.values():
                old.close()
            _SANDBOXES.clear()
            sandbox = Sandbox(must_not_see=list(hidden))
            _SANDBOXES[hidden] = sandbox
        try:
            sandbox.start()          # fail closed: SandboxUnavailable, nothing graded
        except BaseException:
            _SANDBOXES.pop(hidden, None)
            sandbox.close()
            raise
        return sandbox


@atexit.register
def _close_sandboxes() -> None:
    for sandbox in list(_SANDBOXES.values()):
        try:
            sandbox.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
    _SANDBOXES.clear()


def warm_up(kit, must_not_see: list[str]) -> str:
    """Start and probe this process's sandbox; ``"ok"`` or why it does not hold."""
    try:
        worker_sandbox(_kit_of(kit), must_not_see)
        import autograder.grading  # noqa: F401 - pytest, torch and the plugin, before the freeze
        # what is loaded now lives as long as the worker: keep it out of every later collection
        gc.freeze()
        return "ok"
    except SandboxUnavailable as exc:
        return f"unavailable: {exc}"


def grade_chunk(chunk: Chunk, kit=None) -> ChunkResult:
    """Grade one chunk in this process's sandbox; plain results.  ``kit`` (a bundle or a root)
    overrides ``chunk.kit`` (Dask passes the bundle once per worker this way)."""
    from autograder.grading import grade_submissions
    with _LOCK:
        paths = _kit_of(kit if kit is not None else chunk.kit)
        sandbox = worker_sandbox(paths, chunk.must_not_see)
        before = dict(sandbox.timings)
        began = time.monotonic()
        flags: dict[str, list] = {}
        try:
            results = grade_submissions(chunk.spec, chunk.submissions, paths, sandbox=sandbox,
                                        devices=chunk.devices, dependents=chunk.dependents, flags=flags)
        except SandboxUnavailable:
            _close_sandboxes()
            raise
        wall = time.monotonic() - began
        child = sandbox.timings["child_start"] - before["child_start"]
        cells = sandbox.timings["student_cells"] - before["student_cells"]
        timings = {"child_start": child, "student_cells": cells, "tests": max(0.0, wall - child - cells),
                   "grading": wall}
    return ChunkResult(results, timings, worker=f"{os.uname().nodename}:{os.getpid()}", flags=flags)


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------

Outcome = tuple[Chunk, "ChunkResult | BaseException"]


def chunk_size(pending: int, workers: int) -> int:
    """Students per chunk: big enough to spread one pytest session's set-up over several students,
    small enough that every worker gets several chunks (progress moves, a crash loses little)."""
    if pending <= 0:
        return 1
    return max(1, min(8, math.ceil(pending / (max(1, workers) * 3))))


def chunked(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class InProcess:
    """``--jobs 1``: grade in this process (its own warm sandbox), one chunk after the other.

    ``grade``: a replacement for the sandboxed grading, ``grade(spec, subs, kit, must_not_see=...,
    dependents=...)`` (tests use it to skip the sandbox)."""

    workers = 1

    def __init__(self, kit: KitPaths, must_not_see: list[str], grade: Callable | None = None):
        self.kit = kit
        self.must_not_see = must_not_see
        self.grade = grade

    def start(self) -> None:
        if self.grade is None:
            worker_sandbox(self.kit, self.must_not_see)

    def map(self, chunks: list[Chunk]) -> Iterator[Outcome]:
        for chunk in chunks:
            try:
                if self.grade is not None:
                    began = time.monotonic()
                    results = self.grade(chunk.spec, chunk.submissions, self.kit, must_not_see=chunk.must_not_see,
                                         dependents=chunk.dependents)
                    yield chunk, ChunkResult(results, {"grading": time.monotonic() - began})
                else:
                    yield chunk, grade_chunk(chunk)
            except SandboxUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - that chunk's students are not graded
                yield chunk, exc

    def close(self) -> None:
        _close_sandboxes()


def _set_parent_death_signal() -> None:
    """Die with the parent (a grader killed with SIGKILL leaves no worker behind)."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - then the closed pipe ends it
        pass


def _pool_worker(conn, kit_root: str, must_not_see: list[str]) -> None:
    """A local pool's worker: start and probe a sandbox, say so, then grade chunks until told to stop."""
    _set_parent_death_signal()
    try:
        # the recording process (one at a time, nbgrader) is the class's critical path: it gets the
        # CPU when it needs it, the workers (and their sandboxes, which inherit this) the rest
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    import torch
    torch.set_num_threads(1)
    try:
        status = warm_up(kit_root, must_not_see)
    except Exception as exc:  # noqa: BLE001
        status = f"error: {type(exc).__name__}: {exc}"
    try:
        conn.send(status)
        if status != "ok":
            return
        while True:
            try:
                chunk = conn.recv()
            except (EOFError, OSError):
                return
            if chunk is None:
                return
            try:
                conn.send(grade_chunk(chunk))
            except SandboxUnavailable as exc:
                conn.send(SandboxUnavailable(str(exc)))
                return
            except Exception as exc:  # noqa: BLE001 - the main process decides
                from autograder.grading import GraderError
                if isinstance(exc, GraderError):
                    conn.send(GraderError(str(exc)))
                    continue
                conn.send(RuntimeError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"))
    except (BrokenPipeError, EOFError, OSError):
        return
    finally:
        _close_sandboxes()


def _stderr_fd():
    import subprocess
    import sys
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return subprocess.DEVNULL


def _pool_main() -> None:
    """Entry point of a local pool's worker: ``python -c ... FD KIT_ROOT MUST_NOT_SEE_JSON``."""
    import json
    import sys
    from multiprocessing.connection import Connection
    fd, kit_root, hidden = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    _pool_worker(Connection(fd), kit_root, hidden)


class WorkerDied(RuntimeError):
    """A grading worker process ended in the middle of a chunk (its students are not graded)."""


class LocalPool:
    """``--jobs N``: N worker processes on this machine, each with its own warm sandbox."""

    def __init__(self, jobs: int, kit: KitPaths, must_not_see: list[str]):
        self.workers = jobs
        self.kit = kit
        self.must_not_see = must_not_see
        self._procs: list = []
        self._conns: list = []

    def start(self) -> None:
        """Start every worker and wait until each has probed its sandbox (fail closed).

        Workers are fresh interpreters (``python -c``, not ``multiprocessing``'s spawn, which would
        run the caller's ``__main__`` again) talking over a socket pair."""
        import json
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection, wait
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        for _ in range(self.workers):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", "from autograder.batch import _pool_main; _pool_main()",
                     str(theirs.fileno()), str(self.kit.root), json.dumps(self.must_not_see)],
                    pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, cwd="/",
                    # whatever a worker prints goes to stderr: stdout may be --json
                    stdout=_stderr_fd())
            except OSError:
                ours.close()
                raise
            finally:
                theirs.close()
            self._procs.append(proc)
            self._conns.append(Connection(ours.detach()))
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = set(self._conns)
        problems = []
        while waiting and time.monotonic() < deadline:
            for conn in wait(list(waiting), timeout=max(0.1, deadline - time.monotonic())):
                try:
                    status = conn.recv()
                except (EOFError, OSError):
                    status = "error: the worker process ended while starting"
                waiting.discard(conn)
                if status != "ok":
                    problems.append(status)
        if waiting:
            problems.append("a worker did not start in time")
        if problems:
            self.close()
            raise SandboxUnavailable(problems[0].removeprefix("unavailable: "))

    def map(self, chunks: list[Chunk]) -> Iterator[Outcome]:
        from multiprocessing.connection import wait
        todo = list(chunks)
        busy: dict = {}   # conn -> chunk
        idle = list(self._conns)
        dead_procs = {conn: proc for conn, proc in zip(self._conns, self._procs)}
        while todo or busy:
            while todo and idle:
                conn = idle.pop()
                try:
                    conn.send(todo[0])
                except (BrokenPipeError, OSError):
                    continue  # that worker is gone; the chunk goes to another
                busy[conn] = todo.pop(0)
            if not busy:
                for chunk in todo:
                    yield chunk, WorkerDied("no grading worker is left")
                return
            for conn in wait(list(busy)):
                chunk = busy.pop(conn)
                try:
                    answer = conn.recv()
                except (EOFError, OSError):
                    proc = dead_procs[conn]
                    try:
                        proc.wait(timeout=5)
                    except Exception:  # noqa: BLE001
                        pass
                    yield chunk, WorkerDied(f"a grading worker ended (exit code {proc.returncode}) while "
                                            f"grading {', '.join(chunk.submissions)}")
                    continue
                if isinstance(answer, SandboxUnavailable):
                    raise answer
                idle.append(conn)
                yield chunk, answer

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=15)
            except Exception:  # noqa: BLE001 - it did not stop: it is killed
                proc.kill()
                proc.wait(timeout=5)
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


def _dask_warm_up(bundle: KitBundle, must_not_see: list[str]) -> str:
    return warm_up(bundle, must_not_see)


def _dask_grade(chunk: Chunk, bundle: KitBundle) -> ChunkResult:
    return grade_chunk(chunk, kit=bundle)


class DaskExecutor:
    """``--scheduler tcp://HOST:PORT``: chunks graded as tasks on a Dask distributed cluster.

    Every worker process starts and probes its own sandbox before any result is used; one that
    refuses stops the run (fail closed).  Give workers one thread each (``--nthreads 1``): a
    worker grades one chunk at a time anyway."""

    def __init__(self, address, kit: KitPaths, assignment: str, must_not_see: list[str]):
        self.address = address
        self.bundle = KitBundle.of(kit, assignment)
        self.must_not_see = must_not_see
        self.client = None
        self.workers = 1
        self._own_client = False

    def start(self) -> None:
        from distributed import Client
        if hasattr(self.address, "submit"):      # a Client already
            self.client = self.address
        else:
            self.client = Client(self.address, timeout=60)
            self._own_client = True
        workers = list(self.client.scheduler_info()["workers"])
        if not workers:
            raise SandboxUnavailable(f"the Dask scheduler {self.address} has no workers")
        self.workers = len(workers)
        self._bundle = self.client.scatter(self.bundle, broadcast=True)
        checks = [self.client.submit(_dask_warm_up, self._bundle, self.must_not_see, workers=[w],
                                     allow_other_workers=False, pure=False) for w in workers]
        problems = [s for s in self.client.gather(checks) if s != "ok"]
        if problems:
            raise SandboxUnavailable(f"on a Dask worker: {problems[0].removeprefix('unavailable: ')}")

    def map(self, chunks: list[Chunk]) -> Iterator[Outcome]:
        from distributed import as_completed
        futures = {self.client.submit(_dask_grade, chunk, self._bundle, pure=False): chunk for chunk in chunks}
        for future in as_completed(futures):
            chunk = futures[future]
            try:
                yield chunk, future.result()
            except SandboxUnavailable:
                for f in futures:
                    f.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - those students are not graded
                yield chunk, exc

    def close(self) -> None:
        if self.client is not None and self._own_client:
            self.client.close()
        self.client = None
