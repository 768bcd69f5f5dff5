"""System calls the sandbox may not make: a seccomp filter, built with libseccomp, that bubblewrap
loads (``--seccomp FD``) for the zygote and every child.

Namespaces do not cover everything a process can reach.  These stay shared with the host or escape
every resource limit, and no exercise needs them, so they fail with ``EPERM``:

* kernel keyrings (``keyctl``, ``add_key``, ``request_key``): not namespaced; a child could read the
  grader's session keyring and fill its uid's key quota;
* memory outside ``RLIMIT_AS``: ``memfd_create`` and ``memfd_secret`` (pages in no process's RSS),
  System V shared memory (``shmget``);
* large kernel attack surface: ``io_uring_*``, ``userfaultfd``, ``perf_event_open``, ``bpf``;
* sockets of families a network namespace does not isolate (``AF_VSOCK`` reaches the hypervisor,
  ``AF_PACKET``, ...): ``socket``/``socketpair`` accept only ``AF_UNIX``, ``AF_INET``, ``AF_INET6`` and
  ``AF_NETLINK``, anything else fails with ``EAFNOSUPPORT``.

System calls of another architecture (32-bit ``int 0x80`` on x86-64) kill the process
(libseccomp's default for a foreign architecture).  PyPI's ``pyseccomp`` drives the system's
libseccomp (``libseccomp2`` on Debian and Ubuntu).
"""

from __future__ import annotations

import errno
import os

from autograder.sandbox.errors import SandboxUnavailable

DENIED = ("keyctl", "add_key", "request_key", "memfd_create", "memfd_secret", "shmget",
          "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "perf_event_open", "bpf")
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
ALLOWED_FAMILIES = (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
HIGHEST_FAMILY = 64  # above every AF_* the kernel knows (AF_MAX is 46 in Linux 6.x)


def build():
    """The filter as a libseccomp ``SyscallFilter`` (not loaded here)."""
    try:
        import pyseccomp as sc
        filt = sc.SyscallFilter(sc.ALLOW)
    except Exception as exc:  # noqa: BLE001 - no pyseccomp, or no libseccomp.so.2 under it
        raise SandboxUnavailable(f"the sandbox's system-call filter needs libseccomp ({exc}): "
                                 "pip install pyseccomp, and apt-get install libseccomp2") from None
    for name in DENIED:
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, RuntimeError, ValueError):
            pass  # a call this kernel/architecture does not have (memfd_secret on older ones)
    refuse = sc.ERRNO(errno.EAFNOSUPPORT)
    for name in ("socket", "socketpair"):
        for family in range(HIGHEST_FAMILY + 1):
            if family not in ALLOWED_FAMILIES:
                filt.add_rule(refuse, name, sc.Arg(0, sc.EQ, family))
        filt.add_rule(refuse, name, sc.Arg(0, sc.GT, HIGHEST_FAMILY))
    return filt


def bpf_fd() -> int:
    """A readable file descriptor holding the compiled filter (for ``bwrap --seccomp``), inheritable."""
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb", closefd=True) as out:
            build().export_bpf(out)
    except BaseException:
        os.close(read_end)
        raise
    os.set_inheritable(read_end, True)
    return read_end
