"""What a from-scratch exercise ran, judged against the ATen operators it must not run.

The AST check (:mod:`autograder.banned`) reads the student's source, so it cannot see a built-in
reached through a computed name (``getattr(torch, "soft" + "max")``), through a library function
that wraps it (``F.softmin(-X)``, ``torch.distributions.Categorical(logits=X).probs``), or
automatic differentiation reached through ``getattr``.  Whatever the name, the same ATen operator
runs: a call made with ``student.call(..., observe=True)`` comes back with the names of the ATen
operators it dispatched in the child (:class:`~autograder.sandbox.child.OperatorRecorder`), and
:func:`find_banned_operators` turns the banned ones into messages for the student.  The AST check
stays the first line (its messages point at a line of code); this one catches what it missed.

A table maps an ATen operator name (its overload packet: ``_softmax``, not ``_softmax.default``)
to ``(what, advice)``; a name with ``*`` is a pattern (``linalg_*``, ``*_backward``).  Two
pseudo-operators stand for automatic differentiation, which operator names alone do not show:
:data:`AUTOGRAD_BACKWARD` and :data:`FORWARD_AD` (see :func:`autodiff`).

The record comes from a hostile process and only ever narrows what passes: a student who
switches the recorder off (``torch._C._DisableTorchDispatch``), computes in another thread, or
reaches into the child's objects is not seen.  Like the AST check, this is a deterrent with clear
messages, not a proof.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from autograder.sandbox.child import OperatorRecorder

__all__ = ["AUTOGRAD_BACKWARD", "FORWARD_AD", "TOO_MANY", "ban", "autodiff", "find_banned_operators",
           "assert_no_banned_operators"]

AUTOGRAD_BACKWARD = OperatorRecorder.AUTOGRAD_BACKWARD
FORWARD_AD = OperatorRecorder.FORWARD_AD
TOO_MANY = OperatorRecorder.TOO_MANY


def ban(what: str, advice: str, *operators: str) -> dict[str, tuple[str, str]]:
    """A table fragment: each of ``operators`` is banned as ``what`` (``"PyTorch's built-in softmax
    kernel"``), with ``advice`` for the student (``"write it yourself from exp and sum."``)."""
    return {name: (what, advice) for name in operators}


def autodiff(advice: str) -> dict[str, tuple[str, str]]:
    """The table fragment that bans automatic differentiation, backward and forward mode."""
    return {AUTOGRAD_BACKWARD: ("an autograd backward pass", advice),
            FORWARD_AD: ("forward-mode automatic differentiation", advice)}


def find_banned_operators(operators, function_name: str, banned: dict[str, tuple[str, str]]) -> list[str]:
    """Messages for the banned operators among ``operators`` (names observed during one call of
    ``function_name``), one per ``(what, advice)``, e.g. ``"softmax ran PyTorch's built-in softmax
    kernel (aten._softmax), reached through some other name: write it yourself from exp and sum."``;
    ``[]`` when none ran.  A record that overflowed cannot prove anything: it fails closed."""
    if not banned:
        return []
    names = sorted(n for n in operators if isinstance(n, str))
    if TOO_MANY in names:
        return [f"could not check {function_name} for built-in kernels: it ran more than "
                f"{OperatorRecorder.MAX_OPS} different tensor operations in this check"]
    found: dict[tuple[str, str], list[str]] = {}
    for name in names:
        for pattern, reason in banned.items():
            if name == pattern or ("*" in pattern and fnmatchcase(name, pattern)):
                found.setdefault(tuple(reason), []).append(name)
                break
    messages = []
    # Pseudo-operators first: "an autograd backward pass" explains the derivative kernels it ran.
    for (what, advice), ran in sorted(found.items(), key=lambda item: not item[1][0].startswith("<")):
        kernels = ", ".join(f"aten.{n}" for n in ran if not n.startswith("<"))
        detail = f" ({kernels})" if kernels else ""
        messages.append(f"{function_name} ran {what}{detail}, reached through some other name: {advice}")
    return messages


def assert_no_banned_operators(reply, function_name: str, banned: dict[str, tuple[str, str]]) -> None:
    """Fail the test (``AssertionError``) when the observed call behind ``reply`` (a
    :class:`~autograder.student.Reply` of a call made with ``observe=True``) ran a banned operator."""
    problems = find_banned_operators(reply.operators, function_name, banned)
    if problems:
        raise AssertionError("\n".join(problems))
