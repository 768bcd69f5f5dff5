"""The grader run two ways, for tests that attack it: by root, and by an ordinary user.

A root grader (as in CI) uses this checkout and its venv.  For the ordinary user, the tests create
an account (``d2l-grader-test``) and give it what an instructor on a laptop has: a clone of the
kit in its home (``.git`` included, with this working tree's files on top) and its own venv made
with Debian's system Python (root's own Python lives in root's 0700 home, which that user cannot
read) holding the same packages as this run's venv (hard-linked, root-owned: see
:func:`_build_user_venv`).  The venv is kept between runs while those packages do not change.

Each :class:`Grader` runs commands as its user and builds courses that user owns, so every check
can be done from the outside: files hashed before and after, the process table, ``/dev/shm``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_USER = "d2l-grader-test"
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class Grader:
    """Who grades (``root`` or ``user``), with which interpreter and which copy of the kit."""

    mode: str
    python: str
    kit: Path
    home: Path
    user: str | None = None  # None: this process's own user
    pythonpath: str | None = None  # the kit copy, ahead of the venv's editable install

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run as this grader's user."""
        return argv if self.user is None else ["runuser", "-u", self.user, "--", *argv]

    def run(self, argv: list[str], timeout: float = 600, env: dict | None = None,
            **kwargs) -> subprocess.CompletedProcess:
        """Run ``argv`` as this grader (text output captured); ``env`` adds variables."""
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout,
                              env={**self.environment(), **(env or {})}, cwd=str(self.home), **kwargs)

    def environment(self) -> dict[str, str]:
        """The grader's environment: its venv first on PATH, no bytecode written (so that any
        change to the kit's files is an attack's), this kit first on PYTHONPATH."""
        env = {"PATH": f"{Path(self.python).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.home),
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env

    def python_code(self, code: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``python -c code`` with this grader's interpreter and kit."""
        return self.run([self.python, "-c", code], timeout=timeout)

    def d2l_grade(self, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        """``d2l-grade ARGS`` as this grader."""
        return self.run([self.python, "-m", "autograder.cli", *args], timeout=timeout, env=env)

    def own(self, path: Path) -> None:
        """Give ``path`` (recursively) to this grader's user."""
        if self.user is not None:
            subprocess.run(["chown", "-R", f"{self.user}:{self.user}", str(path)], check=True)

    def new_course(self, parent: Path, assignment: str) -> Path:
        """A course directory, built and released by this grader."""
        parent.mkdir(parents=True, exist_ok=True)
        self.own(parent)
        course = parent / "course"
        proc = self.d2l_grade("course", "build", str(course), "--assignment", assignment)
        assert proc.returncode == 0, proc.stderr
        proc = self.python_code("from autograder import nbgrader_driver\n"
                                "from autograder.paths import CoursePaths\n"
                                f"nbgrader_driver.generate_assignment(CoursePaths({str(course)!r}), {assignment!r})")
        assert proc.returncode == 0, proc.stderr
        return course


def root_grader(workdir: Path) -> Grader:
    """This interpreter, run by this process's user (root in CI), on a copy of the kit in
    ``workdir`` (a clone with this working tree on top), so that nothing else edits it meanwhile."""
    kit = workdir / "kit"
    _copy_kit(kit)
    return Grader("root" if os.geteuid() == 0 else "self", sys.executable, kit, Path(os.path.expanduser("~")),
                  pythonpath=str(kit))


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", TEST_USER], check=True,
                       capture_output=True)
        return pwd.getpwnam(TEST_USER)


def _copy_kit(dest: Path) -> None:
    """A clone of this repository (its ``.git`` holds every answer, as an instructor's does), with
    the working tree's current files on top."""
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["git", "clone", "-q", "--no-local", str(REPO), str(dest)], check=True, capture_output=True)
    files = subprocess.run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / name.decode()
        target = dest / name.decode()
        if src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    for name in subprocess.run(["git", "ls-files", "-z", "--deleted"], cwd=REPO, check=True,
                               capture_output=True).stdout.split(b"\0"):
        if name:
            (dest / name.decode()).unlink(missing_ok=True)


def user_grader() -> Grader:
    """An ordinary user with its own clone of the kit and its own venv (needs root to create).

    Safe to call from several test workers at once: the venv is made under a lock, and every call
    gets its own clone of the kit (first on the grader's PYTHONPATH), so that no test replaces the
    kit under another one."""
    import fcntl
    import pytest
    if os.geteuid() != 0:
        pytest.skip("creating an ordinary user to grade needs root (CI runs as root)")
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip(f"no system Python at {SYSTEM_PYTHON} for an ordinary user's venv")
    account = _ensure_user()
    home = Path(account.pw_dir)
    os.chmod(home, 0o700)
    venv = home / "venv"
    with open(home / ".d2l-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _prune(home / "kits")
        _prune(home / "courses")
        stamp = venv / ".d2l-stamp"
        wanted = _venv_stamp()
        if not stamp.exists() or stamp.read_text() != wanted:
            _build_user_venv(Grader("user", str(venv / "bin" / "python"), home, home, TEST_USER), venv)
            stamp.write_text(wanted)
            subprocess.run(["chown", f"{TEST_USER}:{TEST_USER}", str(stamp)], check=True)
    kit = home / "kits" / f"{os.getpid()}-{os.urandom(4).hex()}" / "kit"
    _copy_kit(kit)
    grader = Grader("user", str(venv / "bin" / "python"), kit, home, TEST_USER, pythonpath=str(kit))
    grader.own(kit.parent.parent)
    return grader


def _site_packages() -> Path:
    """This test run's site-packages (the venv the README's test command made)."""
    import sysconfig
    return Path(sysconfig.get_paths()["purelib"])


def _venv_stamp() -> str:
    """What the ordinary user's venv is made from: the Python version and every installed
    distribution of this run's venv."""
    dists = sorted(p.name for p in _site_packages().glob("*.dist-info"))
    return hashlib.sha256(json.dumps([sys.version, str(_site_packages()), dists]).encode()).hexdigest()


# This checkout's editable install: the ordinary user's kit comes from its own clone instead.
_NOT_SHARED = ("__editable__", "d2l_autograder", "__pycache__")


def _build_user_venv(installer: Grader, venv: Path) -> None:
    """The ordinary user's venv: Debian's Python (root's own lives in root's 0700 home) with this
    run's packages hard-linked in, root-owned and read-only to the user as a system-wide install
    is, except this checkout's editable install (the user's kit is first on its PYTHONPATH).
    Linking takes seconds where installing torch and nbgrader again took minutes; when the two
    Pythons differ in minor version (compiled extensions would not load) or linking fails, pip
    installs the same pinned packages."""
    import pytest
    shutil.rmtree(venv, ignore_errors=True)
    proc = installer.run([SYSTEM_PYTHON, "-c", "import sys; print(*sys.version_info[:2])"])
    same_python = proc.returncode == 0 and proc.stdout.split() == [str(v) for v in sys.version_info[:2]]
    proc = installer.run([SYSTEM_PYTHON, "-m", "venv", *([] if not same_python else ["--without-pip"]), str(venv)],
                         timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"could not create the ordinary user's venv: {proc.stderr[-2000:]}")
    if same_python:
        target = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        entries = [p for p in _site_packages().iterdir() if not p.name.startswith(_NOT_SHARED)]
        for flags in (["-al"], ["-a"]):  # hard links; a copy across file systems
            linked = subprocess.run(["cp", *flags, *map(str, entries), str(target)], capture_output=True)
            if linked.returncode == 0:
                # nbconvert's templates (feedback pages) and other Jupyter data live in share/jupyter
                share = Path(sys.prefix) / "share"
                shared = [] if not share.is_dir() else [str(p) for p in share.iterdir()]
                (venv / "share").mkdir(exist_ok=True)
                if not shared or subprocess.run(["cp", *flags, *shared, str(venv / "share")],
                                                capture_output=True).returncode == 0:
                    _copy_console_scripts(venv)
                    return
        installer.run(["rm", "-rf", str(venv)])
        proc = installer.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"could not create the ordinary user's venv: {proc.stderr[-2000:]}")
    base = installer.home / "kit-base"
    _copy_kit(base)
    installer.own(base)
    for argv in ([str(venv / "bin" / "pip"), "install", "-q", "torch==2.13.0"],
                 [str(venv / "bin" / "pip"), "install", "-q", "-e", f"{base}[course]"]):
        proc = installer.run(argv, timeout=1200)
        if proc.returncode != 0:
            pytest.fail(f"could not set up the ordinary user's venv ({' '.join(argv)}): {proc.stderr[-2000:]}")


def _copy_console_scripts(venv: Path) -> None:
    """This run's console scripts (``nbgrader``, ``alembic``, ``d2l-grade`` ...) in the user's venv,
    each started by that venv's Python (nbgrader runs ``alembic`` from PATH, for one)."""
    ours = Path(sys.prefix) / "bin"
    for script in ours.iterdir():
        target = venv / "bin" / script.name
        if script.is_symlink() or not script.is_file() or target.exists():
            continue
        try:
            first, rest = script.read_text().split("\n", 1)
        except (UnicodeDecodeError, ValueError):
            continue
        if first.startswith("#!") and first[2:].startswith(str(ours)):
            target.write_text(f"#!{venv / 'bin' / 'python'}\n{rest}")
            target.chmod(0o755)


def _prune(folder: Path, hours: float = 2.0) -> None:
    """Remove what earlier test runs left in ``folder`` (entries older than ``hours``)."""
    import time
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        try:
            if time.time() - entry.stat().st_mtime > hours * 3600:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def tree_fingerprint(root: Path, skip: tuple[str, ...] = (), content_limit: int = 1 << 20) -> dict[str, str]:
    """``{relative path: digest}`` of every file under ``root``: content hash for files up to
    ``content_limit`` bytes, size and mtime for larger ones; links by target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                st = os.lstat(path)
                if os.path.islink(path):
                    out[rel] = "link:" + os.readlink(path)
                elif st.st_size <= content_limit:
                    with open(path, "rb") as f:
                        out[rel] = hashlib.sha256(f.read()).hexdigest()
                else:
                    out[rel] = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError as exc:
                out[rel] = f"error:{exc.errno}"
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, removed or modified between two fingerprints."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def processes() -> dict[int, tuple[int, str, int]]:
    """``{pid: (uid, command line, start time)}`` of every live process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            with open(f"/proc/{entry}/status") as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:300]
            out[int(entry)] = (uid, cmd, int(fields[19]))
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return out


def descendants(pid: int) -> dict[int, int]:
    """``{pid: start time}`` of every live descendant of ``pid``."""
    children: dict[int, list[int]] = {}
    starts = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                starts[int(entry)] = int(fields[19])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out[child] = starts[child]
                todo.append(child)
    return out


def still_alive(procs: dict[int, int]) -> list[int]:
    """Which of ``{pid: start time}`` are the same processes, still alive (not zombies)."""
    alive = []
    for pid, start in procs.items():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[19]) == start and fields[0] != "Z":
                alive.append(pid)
        except (OSError, IndexError, ValueError):
            pass
    return alive


def shm_used() -> int:
    """Bytes in use on the host's /dev/shm."""
    st = os.statvfs("/dev/shm")
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def load_json(proc: subprocess.CompletedProcess) -> dict:
    """The ``--json`` output of ``d2l-grade grade``."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)
