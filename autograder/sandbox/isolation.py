"""What separates one child from the zygote and from other students, inside bubblewrap's sandbox.

bubblewrap (:mod:`autograder.sandbox.bwrap`) builds the boundary with the host: the allowlisted
read-only view, no network, no other user namespaces, a PID namespace that dies with the grader.
The zygote runs inside it with ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP`` in the sandbox's own user
namespace, which is just what each child needs to add, before any student code runs:

* its own PID namespace (it is PID 1 there: killing it kills everything it started), its own
  mount namespace, with a fresh ``/proc`` that shows only itself, and its own IPC namespace;
* a private, size-capped ``/tmp`` and ``/dev/shm`` (tmpfs, also capped in inodes), gone with it;
* the first place in line for the kernel's out-of-memory killer (the grader is never chosen first);
* resource limits, then no capabilities at all (bounding, ambient, permitted, effective), locked
  securebits and ``no_new_privs``, so that nothing it executes can gain any back.

Every step raises :class:`IsolationError` when it does not take: a child that is not isolated never
runs student code.
"""

from __future__ import annotations

import ctypes
import os
import resource

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
PR_CAPBSET_DROP, PR_SET_SECUREBITS = 24, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PR_SET_CHILD_SUBREAPER = 36
# SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (off), NO_CAP_AMBIENT_RAISE, each with its lock bit
SECUREBITS_LOCKED = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
CAP_LAST = 63
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class IsolationError(OSError):
    """A step that separates the child did not take; the child must not run student code."""


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """``unshare(2)`` (``os.unshare`` only exists from Python 3.12)."""
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``."""
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def prctl(option: int, arg: int, arg2: int = 0) -> None:
    """``prctl(2)`` with up to two arguments."""
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg2), 0, 0), f"prctl {option}")


def new_namespaces() -> None:
    """New mount, PID and IPC namespaces (System V shared memory a child leaves behind dies with
    it); the next fork becomes PID 1 of the new PID namespace."""
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC)


def private_mounts(tmp_bytes: int, shm_bytes: int, rebind: list[str] = ()) -> None:
    """A fresh size-capped ``/tmp`` and ``/dev/shm`` and a ``/proc`` of this PID namespace only.

    ``rebind``: read-only paths of the view that live under ``/tmp`` (an interpreter or a kit kept
    there); the new ``/tmp`` would hide them, so they are bound again on top of it.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing here propagates back to the zygote
    held = []
    for path in rebind:
        held.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
    flags = MS_NOSUID | MS_NODEV
    mount("tmpfs", "/tmp", "tmpfs", flags, f"size={int(tmp_bytes)},nr_inodes=16384,mode=1777")
    for path, fd in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)  # read-only like its source
        os.close(fd)
    mount("tmpfs", "/dev/shm", "tmpfs", flags | MS_NOEXEC, f"size={int(shm_bytes)},nr_inodes=1024,mode=1777")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def first_to_go_when_memory_runs_out() -> None:
    """The largest ``oom_score_adj``: when the machine runs out of memory the kernel kills a
    sandboxed child (and what it forked, which inherits this) before the grader or anything else.
    Raising it needs no privilege; lowering it again would.  (A child is made dumpable again
    first, which the zygote is not: otherwise its own /proc files would not be its own.)"""
    prctl(PR_SET_DUMPABLE, 1)
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def set_limits(limits: dict) -> None:
    """Resource limits: memory (address space, or data segment for CUDA), CPU, file size,
    processes (counted in the sandbox's user namespace), open files, no core files."""
    def cap(which, value):
        resource.setrlimit(which, (int(value), int(value)))
    cap(resource.RLIMIT_DATA if limits.get("data_limit") else resource.RLIMIT_AS, limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_CPU, (int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 1))
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, limits["processes"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_MSGQUEUE, 0)


def drop_capabilities() -> None:
    """No capabilities in any set, none to be regained by exec or by changing uid."""
    for cap in range(CAP_LAST + 1):
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"dropping capability {cap} from the bounding set")  # EINVAL: no such cap
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED)
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def capabilities() -> dict[str, int]:
    """This process's capability sets, from ``/proc/self/status`` (for the probe)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")):
                key, value = line.split(":", 1)
                out[key] = int(value.strip(), 16)
    return out
