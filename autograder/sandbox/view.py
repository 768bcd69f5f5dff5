"""The sandbox's view of the machine: an allowlist of read-only paths, nothing else.

A child sees what Python, torch, numpy and the ``autograder`` package need to run, mounted
read-only at their usual paths: the system's shared libraries, the interpreter and its standard
library, the site-packages directories it imports from and the ``autograder`` package directory
itself (never the repository around it: ``.git``, ``tests/``, ``solutions/`` and ``grader_tests/``
hold the answers).  Everything else -- the course, the home directory, the host's ``/tmp``,
``/dev/shm``, ``/run``, ``/sys``, ``/etc`` -- is simply absent.  CUDA's device nodes (and ``/sys``,
which its initialisation reads) are added when the machine has them.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import autograder

# Shared libraries of the system (libc, libstdc++, libgomp, the CUDA driver's libcuda, ...).
SYSTEM_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", "/usr/local/lib")
SYSTEM_FILES = ("/etc/ld.so.cache",)
SITE_DIR_NAMES = ("site-packages", "dist-packages")


@dataclass
class View:
    """Read-only bind mounts (``source -> destination``), symlinks to recreate, device nodes."""

    binds: dict[str, str] = field(default_factory=dict)       # destination -> source
    symlinks: dict[str, str] = field(default_factory=dict)    # link path -> target
    devices: list[str] = field(default_factory=list)
    pythonpath: list[str] = field(default_factory=list)
    interpreter: str = sys.executable

    def add(self, path: str | os.PathLike, _hops: int = 0) -> None:
        """Bind ``path`` (file or directory) at its own place unless a bound directory holds it
        already; symlinks on the way (``/lib -> usr/lib``, ``bin/python -> python3.11``) are
        recreated and followed."""
        path = os.path.abspath(path)
        if _hops > 40 or not os.path.lexists(path):
            return
        parent = os.path.dirname(path)
        real_parent = os.path.realpath(parent)
        if real_parent != parent:
            self._link_chain(parent)
            self.add(os.path.join(real_parent, os.path.basename(path)), _hops + 1)
            return
        if os.path.islink(path):
            target = os.readlink(path)
            if not self.covers(path):
                self.symlinks[path] = target
            self.add(target if os.path.isabs(target) else os.path.join(parent, target), _hops + 1)
            return
        if self.covers(path):
            return
        for dest in [d for d in self.binds if d.startswith(path + "/")]:
            del self.binds[dest]  # a descendant bound earlier is covered now
        self.binds[path] = path

    def _link_chain(self, path: str) -> None:
        """Recreate the symlinks on the way to ``path``."""
        while path != "/":
            if os.path.islink(path) and path not in self.symlinks:
                self.symlinks[path] = os.readlink(path)
            path = os.path.dirname(path)

    def covers(self, path: str) -> bool:
        """Whether ``path`` is inside (or is) a bound directory."""
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in self.binds)

    def sources(self) -> list[str]:
        """Every host path the view exposes."""
        return sorted(set(self.binds.values()))

    def exposes(self, secret: str | os.PathLike) -> str | None:
        """The bound source that would let a child reach ``secret`` (``None``: it cannot)."""
        secret = os.path.realpath(secret)
        for source in self.sources():
            real = os.path.realpath(source)
            if secret == real or secret.startswith(real.rstrip("/") + "/"):
                return source
        return None

    def paths_under(self, directory: str) -> list[str]:
        """Bound destinations inside ``directory`` (a child's private tmpfs there must re-bind them)."""
        prefix = directory.rstrip("/") + "/"
        return sorted(d for d in self.binds if d.startswith(prefix))


def _site_dirs() -> list[str]:
    """The site-packages directories this interpreter imports from (venv, base, user site)."""
    dirs = []
    for entry in sys.path:
        if entry and os.path.isabs(entry) and os.path.isdir(entry) and os.path.basename(entry) in SITE_DIR_NAMES:
            dirs.append(entry)
    for key in ("purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and os.path.isdir(path):
            dirs.append(path)
    return list(dict.fromkeys(dirs))


def package_dir() -> str:
    """The directory of the ``autograder`` package (only it, never the repository around it)."""
    return str(Path(autograder.__file__).resolve().parent)


def python_view(cuda: bool | None = None) -> View:
    """The allowlist for this interpreter: see the module docstring."""
    view = View()
    for directory in SYSTEM_LIBRARY_DIRS:
        view.add(directory)
    for path in SYSTEM_FILES:
        view.add(path)
    base = sys.base_prefix
    stdlib = sysconfig.get_paths(vars={"base": base, "platbase": base, "installed_base": base,
                                       "installed_platbase": base})
    for key in ("stdlib", "platstdlib"):
        view.add(stdlib[key])
    if base not in ("/usr", "/usr/local", "/"):
        view.add(os.path.join(base, "lib"))  # libpython, lib-dynload, the base's own packages
    if sys.prefix != sys.base_prefix:
        view.add(sys.prefix)  # the venv: pyvenv.cfg, bin/python, its site-packages
    for directory in _site_dirs():
        view.add(directory)
    package = package_dir()
    if not view.covers(package):
        view.add(package)
        view.pythonpath.append(os.path.dirname(package))
    view.pythonpath += [d for d in _site_dirs() if not d.startswith(sys.prefix)]
    view.interpreter = os.path.abspath(sys.executable)
    view.add(view.interpreter)  # and every link on the way to the real binary
    if cuda is None:
        cuda = bool(glob.glob("/dev/nvidia*"))
    if cuda:
        view.devices = sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/nvidia-caps/*"))
        view.add("/sys")  # CUDA reads device topology there; read-only, nothing secret
    return view
