"""Fail closed: before grading, a probe child attacks the sandbox and the grader checks the result.

The probe is an ordinary child (same isolation, same limits, same view) that runs
:func:`attempt` instead of student code: it tries to see the paths that must stay hidden, to write
outside its private tmpfs, to overfill that tmpfs, to reach the network and a host unix socket, to
keep or regain capabilities, to create a user namespace, to unmount what it was given, and lists
the processes and environment it sees.  It also tries what the seccomp filter must refuse
(keyrings, memfd, vsock and packet sockets).  The grader (:func:`verify`) does not take the probe's
word for the rest: it reads the probe's uid, groups, capabilities, seccomp mode and
``oom_score_adj`` from the host's ``/proc``, checks
that its own TCP listener and unix socket received nothing, that nothing the probe wrote shows up
in the host's ``/tmp`` or ``/dev/shm``, and that the probe is gone once killed.  Any problem makes
the sandbox refuse to grade.
"""

from __future__ import annotations

import errno
import os
import socket

from autograder.sandbox import isolation

MIB = 1024 * 1024
ALLOWED_ENV = {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE",
               "PYTORCH_NVML_BASED_CUDA_CHECK", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "LC_CTYPE", "PWD", "TORCHINDUCTOR_CACHE_DIR"}


# ------------------------------------------------------------------ inside the probe child

def _fill(directory: str, total: int, piece: int) -> str:
    """Write ``total`` bytes in files of ``piece`` bytes; the errno name that stopped it, or 'filled'."""
    chunk = b"\0" * MIB
    written, index = 0, 0
    try:
        while written < total:
            with open(os.path.join(directory, f".d2l-fill-{index}"), "wb") as f:
                for _ in range(piece // MIB):
                    f.write(chunk)
                    written += MIB
            index += 1
        return "filled"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    finally:
        for i in range(index + 1):
            try:
                os.unlink(os.path.join(directory, f".d2l-fill-{i}"))
            except OSError:
                pass


def _writable(directory: str) -> bool:
    path = os.path.join(directory, ".d2l-probe-write")
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.unlink(path)
    return True


def attempt(request: dict) -> dict:
    """Everything the probe tries, as plain data (run in the child, never in the grader)."""
    out: dict = {"status": "ok"}
    out["seen"] = [p for p in request.get("must_not_see", []) if os.path.lexists(p)]
    out["writable"] = [d for d in request.get("must_not_write", []) if os.path.isdir(d) and _writable(d)]
    marker = str(request.get("marker", "d2l-probe"))
    for directory in ("/tmp", "/dev/shm"):
        try:
            with open(os.path.join(directory, marker), "w") as f:
                f.write("probe")
        except OSError:
            pass
    limits = request.get("limits", {})
    piece = max(MIB, min(int(limits.get("file_bytes", 16 * MIB)), 8 * MIB))
    out["fill_tmp"] = _fill("/tmp", int(limits.get("tmp_bytes", 64 * MIB)) + 2 * piece, piece)
    out["fill_shm"] = _fill("/dev/shm", int(limits.get("shm_bytes", 16 * MIB)) + 2 * piece, piece)
    host, port = request.get("tcp", ["127.0.0.1", 9])
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            out["tcp"] = "connected"
    except OSError as exc:
        out["tcp"] = type(exc).__name__
    out["interfaces"] = [name for _, name in socket.if_nameindex()]
    unix_path = request.get("unix")
    if unix_path:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(unix_path)
                out["unix"] = "connected"
        except OSError as exc:
            out["unix"] = type(exc).__name__
    out["caps"] = isolation.capabilities()
    for name, flags in (("userns", isolation.CLONE_NEWUSER), ("mountns", isolation.CLONE_NEWNS)):
        try:
            isolation.unshare(flags)
            out[name] = "created"
        except OSError:
            out[name] = "refused"
    try:
        isolation.mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m")
        out["mount"] = "mounted"
    except OSError:
        out["mount"] = "refused"
    out["refused_calls"] = _refused_calls()
    out["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    out["environment"] = sorted(os.environ)
    out["uid"], out["groups"] = os.getuid(), os.getgroups()
    return out


def _refused_calls() -> dict[str, str]:
    """What the seccomp filter must refuse: keyrings (not namespaced), memfd (memory outside every
    rlimit), sockets of families a network namespace does not isolate."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    out = {}
    try:
        os.close(os.memfd_create("probe"))
        out["memfd_create"] = "allowed"
    except OSError as exc:
        out["memfd_create"] = errno.errorcode.get(exc.errno, str(exc.errno))
    keyctl = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
    if keyctl is not None:
        ret = libc.syscall(keyctl, 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
        out["keyctl"] = "allowed" if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
    for name, family in (("AF_VSOCK", 40), ("AF_PACKET", 17)):
        try:
            socket.socket(family, socket.SOCK_DGRAM).close()
            out[name] = "allowed"
        except OSError as exc:
            out[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    return out


# ------------------------------------------------------------------ in the grader

def host_status(pid: int) -> dict[str, str]:
    """Fields of ``/proc/PID/status`` on the host (``Uid``, ``Groups``, ``CapEff``, ``Seccomp``, ...),
    plus its ``oom_score_adj``."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    with open(f"/proc/{pid}/oom_score_adj") as f:
        out["oom_score_adj"] = f.read().strip()
    return out


def verify(report: dict, status: dict, *, expected_uid: int | None, host_leftovers: list[str],
           tcp_connections: int, unix_connections: int, limits: dict) -> list[str]:
    """Problems found (empty: every promise holds).  ``status`` is the probe's host ``/proc`` status,
    read by the grader; ``host_leftovers`` are probe files found in the host's ``/tmp``/``/dev/shm``."""
    problems = []
    if report.get("status") != "ok":
        return [f"the probe did not run ({report.get('message', report.get('status'))})"]
    for verb, key in (("see", "seen"), ("write in", "writable")):
        paths = [str(p) for p in report.get(key, [])]
        if paths:
            more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
            problems.append(f"a child can {verb} " + ", ".join(paths[:3]) + more)
    for key in ("fill_tmp", "fill_shm"):
        if report.get(key) != "ENOSPC":
            problems.append(f"a child's private {'/tmp' if key == 'fill_tmp' else '/dev/shm'} is not size-capped "
                            f"({report.get(key)})")
    if report.get("tcp") == "connected" or tcp_connections:
        problems.append("a child can reach the network")
    if [i for i in report.get("interfaces", []) if i != "lo"]:
        problems.append(f"a child sees network interfaces {report.get('interfaces')}")
    if report.get("unix") == "connected" or unix_connections:
        problems.append("a child can reach a unix socket of the host")
    caps = report.get("caps", {})
    if any(caps.get(k, 1) for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh")):
        problems.append(f"a child holds capabilities ({caps})")
    for key in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status.get(key, "1"), 16):
            problems.append(f"the host sees capabilities in a child ({key} {status.get(key)})")
    if status.get("NoNewPrivs") != "1":
        problems.append("a child could gain privileges by exec (no_new_privs is off)")
    if status.get("Seccomp") != "2":
        problems.append("a child runs without the sandbox's system-call filter")
    if status.get("oom_score_adj") != "1000":
        problems.append("a child is not the first to go when memory runs out (oom_score_adj)")
    for call, result in report.get("refused_calls", {"(none)": "allowed"}).items():
        if result == "allowed":
            problems.append(f"a child can use {call}")
    for name in ("userns", "mountns", "mount"):
        if report.get(name) != "refused":
            problems.append(f"a child can create namespaces or mounts ({name})")
    if report.get("processes") != [1]:
        problems.append(f"a child sees other processes ({report.get('processes')})")
    if set(report.get("environment", [])) - ALLOWED_ENV:
        problems.append(f"a child inherits environment variables {sorted(set(report['environment']) - ALLOWED_ENV)}")
    uids = [int(x) for x in status.get("Uid", "0").split()]
    if expected_uid is not None and set(uids) != {expected_uid}:
        problems.append(f"a child runs as host uid {uids}, not the sandbox's own uid {expected_uid}")
    if 0 in uids:
        problems.append("a child runs as root on the host")
    if expected_uid is not None and status.get("Groups", ""):
        problems.append(f"a child keeps supplementary groups ({status.get('Groups')})")
    for path in host_leftovers:
        problems.append(f"a child's private files appeared on the host ({path})")
    return problems
