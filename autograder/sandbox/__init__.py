"""The trust boundary: everything that runs student code, and nothing that grades it.

Imports neither pytest nor nbgrader.  Modules: :mod:`.limits` (every limit, one object),
:mod:`.view` (the read-only allowlist), :mod:`.bwrap` (bubblewrap's command line), :mod:`.uids`
(a host uid per sandbox for a root grader), :mod:`.zygote` (inside: imports torch once, forks
children), :mod:`.isolation` (what each child adds), :mod:`.child` (runs the student's code and
answers calls), :mod:`.probe` (fail closed), :mod:`.wire` and :mod:`.channel` (plain data only),
:mod:`.host` (the grader's side).
"""

from autograder.sandbox.errors import (SandboxCrashed, SandboxError, SandboxProtocolError, SandboxTimeout,
                                       SandboxUnavailable)
from autograder.sandbox.host import Sandbox, Worker, cuda_available
from autograder.sandbox.limits import DEFAULT_LIMITS, Limits

__all__ = ["Sandbox", "Worker", "Limits", "DEFAULT_LIMITS", "SandboxError", "SandboxTimeout", "SandboxCrashed",
           "SandboxProtocolError", "SandboxUnavailable", "cuda_available"]
