"""The zygote: started once inside the sandbox, imports torch once, forks one child per request.

    python -P -m autograder.sandbox.zygote CONTROL_FD

bubblewrap starts it (:mod:`autograder.sandbox.bwrap`), so it sees only the read-only view and
holds nothing of the grader: no hidden tests, no solutions, no gradebook.  It must not initialise
CUDA, so that forked children can.  It is not dumpable (a child cannot read or patch its memory),
and it never runs or even receives student code: each child gets its cells over its own socket
after the fork (otherwise a child could find its classmates' answers in the zygote's freed heap).  The grader sends ``spawn`` requests over the control
socket, each with a fresh socket for the child attached; the zygote answers with the child's pid
and a pidfd for it, through which the grader kills the child.  Each child first separates itself
(:mod:`autograder.sandbox.isolation`), then serves the student's code (:mod:`.child`).

:func:`spawn_child` also serves ``d2l-grade check`` on a student's own machine, forked from the
command's own process without the sandbox (``isolated=False``: resource limits only).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

# Imported here, once, so children need neither the time nor read access to the interpreter's files.
import collections, functools, itertools, math, random, string, typing  # noqa: E401,F401
import numpy  # noqa: F401
import torch
import torch.nn  # noqa: F401
import torch.nn.functional  # noqa: F401

from autograder.sandbox import child, isolation, meta_values, wire
from autograder.sandbox.channel import Channel, recv_with_fds, send_with_fds

MAX_SPEC_BYTES = 64 * 1024 * 1024


def configure_torch() -> None:
    """Settings every child inherits: exact float32 matmuls on the GPU (no TF32), one thread.
    None of this initialises CUDA, so children can still do so after the fork."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(1)


def warm_up() -> None:
    """Exercise the common torch paths once so their lazy imports happen here, before any fork."""
    import io
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.log_softmax(x, dim=1).exp().sum() + torch.logsumexp(x, 1).sum()
    y.backward()
    torch.autograd.grad((x ** 2).sum(), x)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    loss = torch.nn.CrossEntropyLoss()(net(x.float().detach()), torch.tensor([0, 1, 2]))
    torch.optim.SGD(net.parameters(), lr=0.1).step()
    loss.backward()
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    torch.load(buffer)
    x.detach().numpy()
    with child.OperatorRecorder():
        torch.ones(2).exp()
    with meta_values.active("meta"):  # the meta device with values: its first use imports much of torch
        w = torch.zeros(4, 1, device="meta", requires_grad=True)
        (torch.tensor([[1.0, 2.0, 3.0, 4.0]], device="meta") @ w).sum().backward()
        float(w.grad.sum())
        net.to("meta")
    meta_values.STATE.clear()
    torch.manual_seed(0)


def spawn_child(spec: dict, fd: int, isolated: bool = True) -> tuple[dict, int | None]:
    """Fork a child for ``spec`` that serves on socket ``fd``; returns ``({"pid": ...}, pidfd)``
    or ``({"error": ...}, None)``.  ``fd`` is closed here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # intermediate: new namespaces, then fork the real child into them
        try:
            os.close(read_end)
            os.setsid()
            if isolated:
                isolation.new_namespaces()
            grandchild = os.fork()
            if grandchild == 0:
                os.close(write_end)
                _child_main(spec, fd, isolated)
            os.write(write_end, json.dumps({"pid": grandchild}).encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the grader, never raised here
            os.write(write_end, json.dumps({"error": f"could not start a child: {exc}"[:300]}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.close(fd)
    data = b""
    while chunk := os.read(read_end, 4096):
        data += chunk
    os.close(read_end)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # already reaped (SIGCHLD is ignored in the zygote)
    try:
        info = json.loads(data)
    except ValueError:
        info = {}
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        error = info.get("error") if isinstance(info, dict) else None
        return {"error": str(error or "could not start a child")}, None
    try:
        return {"pid": info["pid"]}, os.pidfd_open(info["pid"])
    except ProcessLookupError:  # it died already (its last words may wait on the socket)
        return {"pid": info["pid"], "dead": True}, None


def _child_main(spec: dict, fd: int, isolated: bool) -> None:
    """Separate the process, then serve the student's code; never returns."""
    status = 0
    channel = Channel(socket.socket(fileno=fd))
    try:
        limits = spec["limits"]
        if isolated:
            isolation.private_mounts(limits["tmp_bytes"], limits["shm_bytes"], spec.get("rebind", []))
            isolation.first_to_go_when_memory_runs_out()
        os.chdir(spec.get("workdir") or "/tmp")
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.closerange(3, fd)
        os.closerange(fd + 1, 65536)
        isolation.set_limits(limits)
        if isolated:
            isolation.drop_capabilities()
        else:
            isolation.prctl(isolation.PR_SET_NO_NEW_PRIVS, 1)
    except BaseException as exc:  # noqa: BLE001 - never run student code in a half-made sandbox
        try:
            channel.send(wire.encode({"status": "isolation_failed", "message": str(exc)[:300]}))
        finally:
            os._exit(1)
    try:
        torch.set_num_threads(1)
        child.serve(channel, {"status": "ready", "isolated": isolated})
    except BaseException:  # noqa: BLE001 - the grader sees a closed channel and reports it
        status = 1
    finally:
        os._exit(status)


def _alive(pidfd: int) -> bool:
    return not select.select([pidfd], [], [], 0)[0]


def main() -> None:
    """Serve spawn requests on the control socket until the grader goes away."""
    control = socket.socket(fileno=int(sys.argv[1]))
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)
    isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    configure_torch()
    warm_up()
    # The notebooks' setup cell imports the self-check (pytest and all); in grading its
    # ImportError fallback is what should run.
    sys.modules["autograder.selfcheck"] = None
    Channel(control).send(json.dumps({"status": "ready", "torch": torch.__version__}).encode())
    live: list[int] = []
    while True:
        try:
            msg, fds = recv_with_fds(control, MAX_SPEC_BYTES)
        except Exception:  # noqa: BLE001 - the grader went away or broke the protocol
            return
        if msg is None:
            return
        spec = json.loads(msg)
        for pidfd in [p for p in live if not _alive(p)]:
            os.close(pidfd)
            live.remove(pidfd)
        if not fds:
            reply, pidfd = {"error": "no socket attached"}, None
        elif len(live) >= int(spec.get("limits", {}).get("max_children", 4)):
            os.close(fds[0])
            reply, pidfd = {"error": f"{len(live)} children are alive already"}, None
        else:
            reply, pidfd = spawn_child(spec, fds[0])
        send_with_fds(control, json.dumps(reply).encode(), [pidfd] if pidfd is not None else [])
        if pidfd is not None:
            live.append(pidfd)


if __name__ == "__main__":
    main()
