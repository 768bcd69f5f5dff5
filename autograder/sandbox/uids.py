"""Host uids for sandboxes started by a root grader: one per sandbox, never shared.

A root grader runs each sandbox as an unprivileged uid of its own (bubblewrap run as root would
leave the child root's powers over root's files).  The uid is drawn at random from a range of
16 million that no account uses, checked to own no process, and held with a lock file for the
sandbox's lifetime, so concurrent graders and later runs do not share one.
"""

from __future__ import annotations

import fcntl
import os
import random

UID_BASE = 1_700_000_000
UID_SPAN = 1 << 24
LOCK_DIR = "/run/d2l-autograder"


def in_range(uid: int) -> bool:
    """Whether ``uid`` is one this module hands out."""
    return UID_BASE <= uid < UID_BASE + UID_SPAN


def _uids_in_use() -> set[int]:
    used = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            used.update(int(x) for x in line.split()[1:])
                            break
            except OSError:
                pass
    return used


def _remove_stale_locks() -> None:
    """Lock files whose holder died without releasing them (a grader killed with SIGKILL)."""
    for name in os.listdir(LOCK_DIR):
        path = os.path.join(LOCK_DIR, name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)
        except OSError:
            pass  # held: a live sandbox
        finally:
            os.close(fd)


class UidLease:
    """An unprivileged uid held for as long as this object is open (root only)."""

    def __init__(self, rng: random.Random | None = None):
        rng = rng or random.SystemRandom()
        os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
        _remove_stale_locks()
        in_use = _uids_in_use()
        for _ in range(100):
            uid = UID_BASE + rng.randrange(UID_SPAN)
            if uid in in_use:
                continue
            path = os.path.join(LOCK_DIR, f"uid-{uid}.lock")
            fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd, self._path = uid, fd, path
            return
        raise RuntimeError("no free sandbox uid found")

    def release(self) -> None:
        """Give the uid back (the lock file goes too)."""
        if self._fd is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
