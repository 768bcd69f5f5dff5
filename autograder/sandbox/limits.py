"""Every limit the sandbox enforces, in one object.

The grader builds one :class:`Limits` and hands it to :class:`~autograder.sandbox.host.Sandbox`;
the zygote receives it as plain data and applies the per-child parts (resource limits, the size of
the private ``/tmp`` and ``/dev/shm``); the grader applies the rest (how much text and how many
bytes it accepts from a child, how many children may be alive at once, the clocks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

KIB, MIB, GIB = 1024, 1024 ** 2, 1024 ** 3


@dataclass(frozen=True)
class Limits:
    """What one sandboxed child may use, and what the grader accepts from it."""

    # resource limits of the child (setrlimit)
    memory_bytes: int = 4 * GIB      # RLIMIT_AS (RLIMIT_DATA when data_limit: CUDA needs a large AS)
    data_limit: bool = False
    cpu_seconds: int = 120           # RLIMIT_CPU; the grader's wall clock also applies
    file_bytes: int = 16 * MIB       # RLIMIT_FSIZE: the largest file it may write
    processes: int = 32              # RLIMIT_NPROC, counted in the sandbox's own user namespace
    open_files: int = 64             # RLIMIT_NOFILE (also bounds memfd memory: open_files x file_bytes)
    # the child's only writable places: private tmpfs mounts, wiped when it dies
    tmp_bytes: int = 64 * MIB        # /tmp
    shm_bytes: int = 16 * MIB        # /dev/shm
    # what the grader accepts
    max_children: int = 4            # children of one sandbox alive at once
    max_reply_bytes: int = 64 * MIB  # one answer from the child
    max_text_chars: int = 1000       # any one string shown to a person (message, class name, error)
    max_student_text: int = 64 * KIB  # all messages of one submission together
    # clocks (seconds, the grader's wall clock)
    start_timeout: float = 20.0      # loading the answer cells
    call_timeout: float = 5.0        # one call of a student function
    budget: float = 120.0            # one submission, all calls together

    def for_cuda(self) -> "Limits":
        """The same limits for a machine with CUDA: its initialisation needs a large address
        space, so the data segment is capped instead (DESIGN §4)."""
        return dataclasses.replace(self, memory_bytes=max(self.memory_bytes, 8 * GIB), data_limit=True)

    def replace(self, **changes) -> "Limits":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def child_part(self) -> dict:
        """What the zygote needs to lock a child down, as plain data."""
        keys = ("memory_bytes", "data_limit", "cpu_seconds", "file_bytes", "processes", "open_files",
                "tmp_bytes", "shm_bytes", "max_children")
        return {k: getattr(self, k) for k in keys}


DEFAULT_LIMITS = Limits()
