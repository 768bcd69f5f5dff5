"""The zygote: a clean process that imports torch once and forks one sandboxed child per request.

It is started with exec (so it holds nothing of the grader: no hidden tests, no solutions, no
gradebook handles) and must not initialise CUDA, so that forked children can.  The grader sends
``spawn`` requests over a control socket, each with a fresh socket for the child attached
(SCM_RIGHTS); the zygote answers with the child's PID.

    python -m autograder.zygote CONTROL_FD
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile

# Imported here, once, so children need neither the time nor read access to the interpreter's files.
import collections, functools, itertools, math, random, string, typing  # noqa: E401,F401
import numpy  # noqa: F401
import torch
import torch.nn  # noqa: F401
import torch.nn.functional  # noqa: F401

from autograder import child, isolation
import autograder.selfcheck  # noqa: F401,E402 - the notebooks' setup cell imports it
from autograder.channel import Channel

GIB = 1024 ** 3


def configure_torch() -> None:
    """Settings every child inherits: exact float32 matmuls on the GPU (no TF32), one thread.
    None of this initialises CUDA, so children can still do so after the fork."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(1)


def warm_up() -> None:
    """Exercise the common torch paths once so their lazy imports happen here, while the
    interpreter's files are readable (children run as a uid that may not read them)."""
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
    torch.manual_seed(0)


def spawn_child(spec: dict, fd: int) -> dict:
    """Fork a child for ``spec``; the child serves on ``fd``.  Returns ``{"pid": ...}``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # intermediate: new namespaces, then fork the real child into them
        try:
            os.close(read_end)
            os.setsid()
            applied = isolation.enter_namespaces()
            grandchild = os.fork()
            if grandchild == 0:
                os.close(write_end)
                _child_main(spec, fd, applied)
            os.write(write_end, json.dumps({"pid": grandchild}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 4096):
        data += chunk
    os.close(read_end)
    os.close(fd)
    try:
        os.waitpid(pid, 0)  # the intermediate has exited (the zygote reaps automatically instead)
    except ChildProcessError:
        pass
    try:
        return json.loads(data)
    except ValueError:
        return {"error": "could not start a sandboxed child"}


def _child_main(spec: dict, fd: int, applied: list[str]) -> None:
    """Lock the process down, then serve the student's code; never returns."""
    status = 0
    try:
        sock = socket.socket(fileno=fd)
        if "private-mounts" in applied:
            try:
                needed = [sys.prefix, sys.base_prefix, os.path.dirname(torch.__file__),
                          os.path.dirname(numpy.__file__), os.path.dirname(child.__file__)]
                applied += isolation.hide_paths(spec.get("hide", []), needed)
            except OSError:
                pass
        workdir = tempfile.mkdtemp(prefix="d2l-sandbox-")
        uid = int(spec.get("uid", 0))
        if spec.get("started_as_root") and uid:
            os.chown(workdir, uid, uid)
        os.chdir(workdir)
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.closerange(3, fd)
        os.closerange(fd + 1, 4096)
        limits = spec.get("limits", {})
        isolation.set_limits(int(limits.get("memory_bytes", 4 * GIB)), int(limits.get("cpu_seconds", 60)),
                             int(limits.get("file_bytes", 16 * 1024 * 1024)), int(limits.get("processes", 32)),
                             use_data_limit=bool(limits.get("data_limit")))
        applied.append("resource-limits")
        if spec.get("started_as_root") and isolation.drop_privileges(uid):
            applied.append(f"uid-{uid}")
        torch.set_num_threads(1)
        cells = [(str(c), str(s)) for c, s in spec.get("cells", [])]
        child.serve(Channel(sock), cells, {"status": "ready", "protections": applied,
                                          "pid_in_namespace": os.getpid()})
    except BaseException:  # noqa: BLE001 - the grader sees a closed channel and reports it
        status = 1
    finally:
        os._exit(status)


def main() -> None:
    """Serve spawn requests on the control socket until the grader goes away."""
    control = socket.socket(fileno=int(sys.argv[1]))
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    started_as_root = os.geteuid() == 0
    configure_torch()
    warm_up()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 1)
        except OSError:
            return
        if not msg:
            return
        while len(msg) < 8 or len(msg) < 8 + int.from_bytes(msg[:8], "little"):
            more = control.recv(1 << 20)
            if not more:
                return
            msg += more
        size = int.from_bytes(msg[:8], "little")
        spec = json.loads(msg[8:8 + size])
        spec["started_as_root"] = started_as_root
        reply = spawn_child(spec, fds[0]) if fds else {"error": "no socket attached"}
        Channel(control).send(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
