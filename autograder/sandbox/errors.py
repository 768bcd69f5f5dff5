"""What can go wrong with the sandbox, from the grader's side."""


class SandboxError(Exception):
    """Base class: something went wrong with a child (never with the grader)."""


class SandboxTimeout(SandboxError):
    """The child did not answer in time; it has been killed."""


class SandboxCrashed(SandboxError):
    """The child died or broke the protocol; it has been killed."""


class SandboxProtocolError(SandboxCrashed):
    """The child answered, but not with a well-formed reply (over the size limit, undecodable, not
    a reply); it has been killed."""


class SandboxUnavailable(SandboxError):
    """The sandbox cannot start, or one of its promises does not hold: nothing may be graded.

    The message is one line that says what is missing and how to fix it."""
