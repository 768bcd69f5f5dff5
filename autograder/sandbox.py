"""The grader's side of the sandbox: a zygote process and the children it forks.

:class:`Sandbox` starts ``python -m autograder.zygote`` once (paying for ``import torch`` once) and
asks it for a child per submission; :class:`Worker` talks to one child with a wall-clock deadline on
every request and kills it (and, through its PID namespace, everything it started) when done.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from autograder import wire
from autograder.channel import Channel, ChannelClosed, ChannelTimeout, MessageTooLarge

GIB = 1024 ** 3
DEFAULT_LIMITS = {"memory_bytes": 4 * GIB, "cpu_seconds": 120, "file_bytes": 16 * 1024 * 1024,
                  "processes": 32}
MAX_REPLY_BYTES = 64 * 1024 * 1024


class SandboxError(Exception):
    """Base class: something went wrong with the child (never with the grader)."""


class SandboxTimeout(SandboxError):
    """The child did not answer in time; it has been killed."""


class SandboxCrashed(SandboxError):
    """The child died or broke the protocol; it has been killed."""


def child_environment() -> dict:
    """Environment for the zygote: one thread per library (keeps address space small)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER"))}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    env["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _cuda_present() -> bool:
    from autograder.plugin import cuda_available
    return cuda_available()


def gpu_limits() -> dict:
    """CUDA's initialisation needs a large address space: cap the data segment instead (DESIGN §4)."""
    return {"memory_bytes": 8 * GIB, "data_limit": True}


def _exists(pid: int) -> bool:
    """Whether ``pid`` is still a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Worker:
    """One sandboxed child running one submission's code."""

    def __init__(self, pid: int, channel: Channel, uid: int | None = None):
        self.pid = pid
        self.uid = uid
        self.channel = channel
        self.protections: list[str] = []
        self.load_errors: dict[str, str] = {}
        self.alive = True

    def request(self, message: dict, timeout: float) -> dict:
        """Send a request and wait at most ``timeout`` seconds for the decoded reply."""
        try:
            self.channel.send(wire.encode(message), timeout=timeout)
            return self._receive(timeout)
        except SandboxError:
            raise
        except wire.WireError as exc:
            raise SandboxError(f"the request could not be encoded: {exc}") from None

    def _receive(self, timeout: float) -> dict:
        try:
            data = self.channel.recv(timeout=timeout)
        except ChannelTimeout:
            self.kill()
            raise SandboxTimeout(f"no answer within {timeout:g} s") from None
        except (ChannelClosed, MessageTooLarge) as exc:
            self.kill()
            raise SandboxCrashed(str(exc)) from None
        if data is None:
            self.kill()
            raise SandboxCrashed("the process running the code exited")
        try:
            reply = wire.decode(data, max_bytes=MAX_REPLY_BYTES)
        except wire.WireError as exc:
            self.kill()
            raise SandboxCrashed(f"unreadable answer ({exc})") from None
        if not isinstance(reply, dict):
            self.kill()
            raise SandboxCrashed("malformed answer")
        return reply

    def kill(self) -> None:
        """Kill the child; as PID 1 of its namespace, its death takes every descendant along."""
        if self.alive:
            self.alive = False
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.channel.close()


class Sandbox:
    """Owns the zygote and spawns workers.

    ``hide``: directories the children must not see (hidden tests, solutions, the course).
    ``fork_from_self``: fork children from this process instead of a zygote.  Only for a
    student's own self-check, where this process holds no secrets; it saves the zygote's start.
    """

    def __init__(self, hide: list[str] | tuple = (), limits: dict | None = None, uid_base: int = 20001,
                 fork_from_self: bool = False):
        self.fork_from_self = fork_from_self
        self._warmed = False
        self.hide = [str(Path(p).resolve()) for p in hide]
        self.limits = {**DEFAULT_LIMITS, **(gpu_limits() if _cuda_present() else {}), **(limits or {})}
        self._uids = itertools.cycle(range(uid_base, uid_base + 10000))
        self._zygote: subprocess.Popen | None = None
        self._control: Channel | None = None
        self._workers: list[Worker] = []

    def start(self) -> None:
        """Start the zygote (about a second and a half: it imports torch)."""
        if self.fork_from_self:
            if not self._warmed and os.geteuid() == 0:  # children drop to a uid that may not read the files
                from autograder import zygote
                zygote.warm_up()
                self._warmed = True
            return
        if self._zygote is not None and self._zygote.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=child_environment(), stdin=subprocess.DEVNULL,
            cwd="/", close_fds=True)
        theirs.close()
        self._control = Channel(ours)

    def spawn(self, cells: list[tuple[str, str]], timeout: float = 30.0) -> Worker:
        """Start a child that has run ``cells``; wait for its hello (load errors, protections)."""
        self.start()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid = next(self._uids)
        spec = {"cells": cells, "hide": self.hide, "limits": self.limits, "uid": uid}
        if self.fork_from_self:
            from autograder import zygote
            info = zygote.spawn_child({**spec, "started_as_root": os.geteuid() == 0}, theirs.detach())
            return self._greet(info, ours, timeout, uid)
        payload = json.dumps(spec).encode()
        try:
            socket.send_fds(self._control.sock, [len(payload).to_bytes(8, "little") + payload],
                            [theirs.fileno()])
            answer = self._control.recv(timeout=60)
        except (OSError, ChannelTimeout, ChannelClosed) as exc:
            self.close()
            raise SandboxCrashed(f"the sandbox could not start a child: {exc}") from None
        finally:
            theirs.close()
        return self._greet(json.loads(answer or b"{}"), ours, timeout, uid)

    def _greet(self, info: dict, ours: socket.socket, timeout: float, uid: int) -> Worker:
        if "pid" not in info:
            ours.close()
            raise SandboxCrashed(info.get("error", "the sandbox could not start a child"))
        worker = Worker(int(info["pid"]), Channel(ours, max_bytes=MAX_REPLY_BYTES), uid)
        self._workers = [w for w in self._workers if w.alive] + [worker]
        hello = worker._receive(timeout)
        worker.protections = [str(p) for p in hello.get("protections", [])]
        errors = hello.get("load_errors", {})
        worker.load_errors = {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
        return worker

    def close(self) -> None:
        """Kill every worker, wait until they are gone (the zygote reaps them), then the zygote."""
        for worker in self._workers:
            worker.kill()
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            while _exists(worker.pid) and time.monotonic() < deadline:
                time.sleep(0.005)
        self._workers = []
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._zygote is not None:
            self._zygote.kill()
            self._zygote.wait()
            self._zygote = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
