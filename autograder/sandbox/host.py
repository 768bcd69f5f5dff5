"""The grader's side of the sandbox: the zygote in bubblewrap, and the children it forks.

:class:`Sandbox` starts the zygote inside bubblewrap once (:mod:`autograder.sandbox.bwrap`; about a
second and a half, for ``import torch``), sends a probe child to attack it and refuses to go on if
any promise does not hold (:mod:`autograder.sandbox.probe`), then asks the zygote for a child per
submission.  :class:`Worker` talks to one child with a wall-clock deadline on every request and kills
it through a pidfd (as PID 1 of its own namespace, its death takes everything it started along).
Any error while talking to a child kills it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from autograder.sandbox import bwrap, probe, seccomp, view as views, wire
from autograder.sandbox.channel import (Channel, ChannelClosed, ChannelTimeout, MessageTooLarge,
                                        recv_with_fds)
from autograder.sandbox.errors import (SandboxCrashed, SandboxError, SandboxProtocolError, SandboxTimeout,
                                       SandboxUnavailable)
from autograder.sandbox.limits import DEFAULT_LIMITS, Limits

__all__ = ["Sandbox", "Worker", "SandboxError", "SandboxTimeout", "SandboxCrashed", "SandboxProtocolError",
           "SandboxUnavailable", "cuda_available"]

READY_TIMEOUT = 180.0  # the zygote imports torch: seconds on an idle machine, much more on a busy one


def cuda_available() -> bool:
    """Whether CUDA can be used, without creating a CUDA context in this process."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import torch
    return torch.cuda.is_available()


def cap_text(value, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters (anything from a child is capped)."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dead(pidfd: int, wait: float = 0.0) -> bool:
    return bool(select.select([pidfd], [], [], wait)[0])


class Worker:
    """One sandboxed child running one submission's code."""

    def __init__(self, pid: int, pidfd: int | None, channel: Channel, limits: Limits):
        self.pid = pid          # in the zygote's PID namespace
        self.pidfd = pidfd
        self.channel = channel
        self.limits = limits
        self.load_errors: dict[str, str] = {}
        self.alive = True
        self.gone = False       # its death was confirmed (through the pidfd)

    @property
    def host_pid(self) -> int | None:
        """The child's pid as the host sees it (from its pidfd), or None once it is gone."""
        if self.pidfd is None:
            return None
        try:
            with open(f"/proc/self/fdinfo/{self.pidfd}") as f:
                for line in f:
                    if line.startswith("Pid:"):
                        pid = int(line.split()[1])
                        return pid if pid > 0 else None
        except (OSError, ValueError):
            pass
        return None

    def request(self, message: dict, timeout: float) -> dict:
        """Send a request and wait at most ``timeout`` seconds for the decoded reply."""
        try:
            data = wire.encode(message)
        except wire.WireError as exc:
            raise SandboxError(f"the request could not be encoded: {exc}") from None
        try:
            self.channel.send(data, timeout=timeout)
        except (ChannelTimeout, ChannelClosed) as exc:
            self.kill()
            raise SandboxCrashed(f"the process running the code stopped listening ({exc})") from None
        return self.receive(timeout)

    def receive(self, timeout: float) -> dict:
        """The next reply, decoded; the child is killed on any problem with it."""
        try:
            data = self.channel.recv(timeout=timeout)
        except ChannelTimeout:
            self.kill()
            raise SandboxTimeout(f"no answer within {timeout:g} s") from None
        except ChannelClosed as exc:
            self.kill()
            raise SandboxCrashed(cap_text(exc, 300)) from None
        except MessageTooLarge as exc:
            self.kill()
            raise SandboxProtocolError(cap_text(exc, 300)) from None
        except BaseException:
            self.kill()
            raise
        if data is None:
            self.kill()
            raise SandboxCrashed("the process running the code exited")
        try:
            reply = wire.decode(data, max_bytes=self.limits.max_reply_bytes)
        except Exception as exc:  # noqa: BLE001 - whatever breaks while decoding, the child goes
            self.kill()
            raise SandboxProtocolError(f"unreadable answer ({cap_text(exc, 200)})") from None
        if not isinstance(reply, dict):
            self.kill()
            raise SandboxProtocolError("malformed answer")
        return reply

    def kill(self) -> None:
        """Kill the child and wait (briefly) until it is gone; its PID namespace goes with it."""
        if not self.alive:
            return
        self.alive = False
        self.channel.close()
        if self.pidfd is None:  # the zygote found it dead already (its pid is not ours to kill)
            self.gone = True
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        self.gone = _dead(self.pidfd, 2.0)
        os.close(self.pidfd)
        self.pidfd = None


class Sandbox:
    """Owns the zygote and spawns workers.

    ``must_not_see``: paths a child must not reach (the kit's repository, the course, the home
    directory); the view never holds them, and the probe checks.  ``limits``: see
    :class:`~autograder.sandbox.limits.Limits`.  ``fork_from_self``: no sandbox, children forked from
    this process with resource limits only -- for ``d2l-grade check`` on a student's own machine,
    where this process holds no secrets; :attr:`weaker` then says so.
    """

    def __init__(self, must_not_see=(), limits: Limits | None = None, fork_from_self: bool = False,
                 probe_first: bool = True):
        self.limits = limits or (DEFAULT_LIMITS.for_cuda() if cuda_available() else DEFAULT_LIMITS)
        self.must_not_see = [os.path.abspath(p) for p in must_not_see]
        self.fork_from_self = fork_from_self
        self.probe_first = probe_first
        self.weaker = ("ran without the sandbox (resource limits only): fine for your own code on your "
                       "own machine; grading always runs in the sandbox") if fork_from_self else None
        self.view: views.View | None = None
        self.lease = None
        self.verified: list[str] = []  # what the probe checked, for the record
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._stderr: list[bytes] = []
        self._workers: list[Worker] = []
        self._workdir: tempfile.TemporaryDirectory | None = None
        self._lock = threading.Lock()
        # seconds spent starting children and running the student's cells in them (for the
        # benchmark's per-notebook breakdown), and how many children were started
        self.timings = {"child_start": 0.0, "student_cells": 0.0, "children": 0}

    # ------------------------------------------------------------------ life cycle

    @property
    def running(self) -> bool:
        """Whether the zygote is up."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the zygote in bubblewrap and check the sandbox holds; raises SandboxUnavailable."""
        if self.fork_from_self:
            if self._workdir is None:
                from autograder.sandbox import zygote
                zygote.configure_torch()
                self._workdir = tempfile.TemporaryDirectory(prefix="d2l-check-")
            return
        if self.running:
            return
        if self._process is not None:
            self.close()
            raise SandboxUnavailable(f"the sandbox stopped unexpectedly: {self._stderr_text()}")
        self.view = views.python_view()
        for secret in self.must_not_see:
            source = self.view.exposes(secret)
            if source:
                raise SandboxUnavailable(f"the sandbox's read-only view would expose {secret} (through "
                                         f"{source}): keep the interpreter and its packages outside the "
                                         "kit's repository and the course")
        run_as = None
        if os.geteuid() == 0:
            from autograder.sandbox.uids import UidLease
            self.lease = UidLease()
            run_as = self.lease.uid
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        filter_fd = None
        try:
            filter_fd = seccomp.bpf_fd()
            argv = bwrap.command(self.view, theirs.fileno(), seccomp_fd=filter_fd, run_as=run_as)
            self._process = subprocess.Popen(argv, pass_fds=[theirs.fileno(), filter_fd],
                                             env=bwrap.launcher_environment(), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/",
                                             close_fds=True)
        except (OSError, SandboxUnavailable) as exc:
            ours.close()
            self._release()
            raise exc if isinstance(exc, SandboxUnavailable) else SandboxUnavailable(
                f"bubblewrap could not be started: {exc}") from None
        finally:
            theirs.close()
            if filter_fd is not None:
                os.close(filter_fd)
        threading.Thread(target=self._drain_stderr, args=(self._process.stderr,), daemon=True).start()
        self._control = ours
        try:
            hello = Channel(ours).recv(timeout=READY_TIMEOUT)
        except (ChannelTimeout, ChannelClosed, MessageTooLarge):
            hello = None
        if not hello or json.loads(hello).get("status") != "ready":
            self._stop_process(timeout=5)
            time.sleep(0.1)  # let the reader thread take bubblewrap's last words
            text = self._stderr_text()
            self.close()
            raise SandboxUnavailable(bwrap.explain(text))
        if self.probe_first:
            self.check()

    def _drain_stderr(self, stream) -> None:
        for line in iter(stream.readline, b""):
            self._stderr.append(line[:500])
            del self._stderr[:-20]

    def _stderr_text(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def check(self) -> None:
        """Send a probe child to attack the sandbox; refuse (SandboxUnavailable) if anything gives."""
        marker = f"d2l-probe-marker-{uuid.uuid4().hex}"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        unix_dir = tempfile.mkdtemp(prefix="d2l-probe-")
        unix_path = os.path.join(unix_dir, "socket")
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(unix_path)
        os.chmod(unix_dir, 0o755)
        os.chmod(unix_path, 0o777)
        unix.listen(1)
        unix.setblocking(False)
        try:
            worker = self.spawn([], timeout=60)
            try:
                if worker.host_pid is None:
                    raise SandboxCrashed("the probe child died at once")
                status = probe.host_status(worker.host_pid)
                private = ("/tmp/", "/dev/shm/")  # the child's own tmpfs: writable by design
                must_not_write = sorted(d for d in {"/", "/dev", "/proc/sys", *self.view.binds,
                                                    *(os.path.dirname(d) for d in self.view.binds)}
                                        if not d.startswith(private))
                report = worker.request({"op": "probe", "must_not_see": self.secret_paths(),
                                         "must_not_write": must_not_write, "marker": marker,
                                         "tcp": list(listener.getsockname()), "unix": unix_path,
                                         "limits": self.limits.child_part()}, timeout=60)
            finally:
                worker.kill()
            leftovers = [p for p in (f"/tmp/{marker}", f"/dev/shm/{marker}") if os.path.lexists(p)]
            problems = probe.verify(report, status, expected_uid=self.lease.uid if self.lease else None,
                                    host_leftovers=leftovers, tcp_connections=_accepted(listener),
                                    unix_connections=_accepted(unix), limits=self.limits.child_part())
            if not worker.gone:
                problems.append("a killed child is still alive")
        except SandboxError as exc:
            problems = [f"the probe child failed: {exc}"]
        finally:
            listener.close()
            unix.close()
            for p in (unix_path, unix_dir):
                try:
                    os.unlink(p) if p == unix_path else os.rmdir(p)
                except OSError:
                    pass
        if problems:
            self.close()
            raise SandboxUnavailable("the sandbox does not hold, nothing was graded: " + "; ".join(problems[:5]))
        self.verified = ["hidden paths", "read-only view", "private /tmp and /dev/shm", "network", "unix sockets",
                         "capabilities", "namespaces", "processes", "environment", "host uid"]

    def secret_paths(self) -> list[str]:
        """Paths the probe must find absent: the ones named, the rest of the kit's repository, the
        home directory, the host's /run, /var, /etc and friends.  A directory that holds a part of
        the view (``/root`` when Python lives in ``/root/.pyenv``) is replaced by its other entries."""
        package = views.package_dir()
        home = os.path.expanduser("~")
        roots = [os.path.dirname(package), *self.must_not_see, home, "/run", "/var", "/etc", "/home", "/srv",
                 "/mnt", "/opt", "/boot", "/media"]
        out: dict[str, None] = {}  # ordered: the kit and the course first, in messages too
        for root in roots:
            if root and root != "/":
                out.update(dict.fromkeys(sorted(self._hidden_parts(root, depth=0))))
        return list(out)

    def _hidden_parts(self, path: str, depth: int) -> list[str]:
        view = self.view
        if view is None or not os.path.lexists(path) or view.covers(path) or path in view.symlinks:
            return []
        if not any(dest.startswith(path.rstrip("/") + "/") for dest in [*view.binds, *view.symlinks]):
            return [path]
        if depth > 8:
            return []
        try:
            entries = os.listdir(path)
        except OSError:
            return []
        return [p for name in sorted(entries)[:200] for p in self._hidden_parts(os.path.join(path, name), depth + 1)]

    # ------------------------------------------------------------------ children

    def spawn(self, cells: list[tuple[str, str]], timeout: float | None = None) -> Worker:
        """Start a child, send it ``cells`` to run, and wait until they ran (their load errors)."""
        timeout = self.limits.start_timeout if timeout is None else timeout
        self.start()
        requested = time.monotonic()
        with self._lock:
            self._workers = [w for w in self._workers if w.alive]
            while len(self._workers) >= self.limits.max_children:
                self._workers.pop(0).kill()  # the oldest goes: children alive at once stay bounded
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        spec = {"limits": self.limits.child_part(),
                "rebind": self.view.paths_under("/tmp") if self.view else []}
        if self.fork_from_self:
            from autograder.sandbox import zygote
            spec["workdir"] = self._workdir.name
            info, pidfd = zygote.spawn_child(spec, theirs.detach(), isolated=False)
        else:
            try:
                payload = json.dumps(spec).encode()
                socket.send_fds(self._control, [len(payload).to_bytes(8, "little") + payload], [theirs.fileno()])
                answer, fds = recv_with_fds(self._control, 1 << 20, 1, timeout=60)
            except (OSError, ChannelTimeout, ChannelClosed, MessageTooLarge) as exc:
                ours.close()
                theirs.close()
                self.close()
                raise SandboxCrashed(f"the sandbox could not start a child: {exc}") from None
            theirs.close()
            info = json.loads(answer or b"{}")
            pidfd = fds[0] if fds else None
        if "pid" not in info:
            ours.close()
            if pidfd is not None:
                os.close(pidfd)
            raise SandboxCrashed(cap_text(info.get("error", "the sandbox could not start a child"), 300))
        worker = Worker(int(info["pid"]), pidfd, Channel(ours, max_bytes=self.limits.max_reply_bytes), self.limits)
        with self._lock:
            self._workers.append(worker)
        began = time.monotonic()
        hello = worker.receive(timeout)
        if hello.get("status") == "isolation_failed":
            worker.kill()
            self.close()
            raise SandboxUnavailable("a child could not be isolated, nothing was graded: "
                                     + cap_text(hello.get("message"), 300))
        started = time.monotonic()
        loaded = worker.request({"op": "load", "cells": cells}, max(0.1, timeout - (started - began)))
        self.timings["child_start"] += started - requested
        self.timings["student_cells"] += time.monotonic() - started
        self.timings["children"] += 1
        errors = loaded.get("load_errors", {})
        limit = self.limits.max_text_chars
        if isinstance(errors, dict):
            worker.load_errors = {cap_text(k, 100): cap_text(v, limit) for k, v in list(errors.items())[:len(cells) + 1]}
        return worker

    def close(self) -> None:
        """Kill every worker, then the zygote and its sandbox; give the uid back."""
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.kill()
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            self._stop_process(timeout=10)
            self._process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        self._release()

    def _stop_process(self, timeout: float) -> None:
        """Kill bubblewrap (its sandbox dies with it) and wait for it."""
        if self._process.poll() is None:
            self._process.kill()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def _release(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _accepted(listener: socket.socket) -> int:
    """How many connections ``listener`` received (it is non-blocking)."""
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, OSError):
            return count
        conn.close()
        count += 1
