"""The recipe every hidden suite follows (DESIGN §6), once, as checks a test calls in a line or two.

A hidden test states *what* it checks (a function, its inputs, the reference value, a hint for the
student's usual mistake); these helpers say *how*, the same way in every suite:

* :func:`check_values` -- the student's output against the reference computed in float64: shape,
  dtype, device, finiteness, then values with the tolerances of :func:`autograder.compare.tolerance`
  (fixed ones for inputs of magnitude about 1, derived from the inputs otherwise);
* :func:`check_keeps_float64` -- float64 inputs give a float64 result computed in float64 (a
  result right only to float32 precision is reported as a detour through float32);
* :func:`check_gradient` -- a random cotangent is back-propagated through the student's function in
  the sandbox and the input's gradient compared with autograd through the reference;
* :func:`check_input_unchanged` -- the call left its tensor arguments as they were;
* :func:`check_no_builtin` -- the source names no banned shortcut (AST, :mod:`autograder.banned`),
  the function works on a basic input, and that call, observed in the sandbox, ran no banned ATen
  operator (:mod:`autograder.observed`).

Cases are tables: a test takes its inputs from ``pytest.mark.parametrize`` over them, and the
grading plugin merges the instances of one test (the test earns its points when every instance
passed; the student reads the first failing instance's message).  Nothing here is sent to the
sandbox: checks run in the grader on the plain data the child returned.
"""

from __future__ import annotations

import torch

from autograder.banned import find_banned
from autograder.compare import assert_same_shape, assert_tensor_close, first_mismatch, fmt_number
from autograder.observed import assert_no_banned_operators

DETACHED_HINT = ("if the values pass their own test, a wrong gradient usually means part of the computation "
                 "is cut out of the autograd graph (.detach(), .data, .item(), .numpy(), torch.tensor(...) of "
                 "intermediate results, or in-place changes of a tensor autograd still needs)")

FLOAT64_ADVICE = ("compute in the input's dtype (no .float(), and create helper tensors with dtype=X.dtype "
                  "or torch.zeros_like(X))")


def float64_hint(actual, expected, advice: str = FLOAT64_ADVICE) -> str:
    """For a float64 result that matches only to float32 precision: it went through float32 somewhere."""
    if isinstance(actual, torch.Tensor) and actual.shape == expected.shape:
        if torch.isfinite(actual).all() and first_mismatch(actual, expected, rtol=1e-5, atol=1e-6) is None:
            return f"the result matches only to float32 precision: {advice}"
    return ""


def check_input_unchanged(state, original: torch.Tensor, fn: str, name: str, advice: str) -> None:
    """``state`` (a :class:`~autograder.student.TensorState` of the argument after the call, or None
    when it did not come back) must hold ``original``'s values exactly; otherwise the message names
    the first changed entry and gives ``advice`` (how to compute out of place)."""
    after = None if state is None else state.value
    if after is None:
        return
    if tuple(after.shape) == tuple(original.shape) and torch.equal(after.to(original.dtype), original):
        return
    where = ""
    if tuple(after.shape) == tuple(original.shape):
        diff = torch.nonzero(after.to(original.dtype) != original)
        if len(diff):
            idx = tuple(diff[0].tolist())
            where = (f" ({name}{list(idx)} changed from {fmt_number(original[idx].item())} to "
                     f"{fmt_number(after[idx].item())})")
    raise AssertionError(f"{fn} modified its input {name} in place{where}: {advice}")


def argument_state(reply, index: int = 0):
    """The state of the ``index``-th argument after a call (None when the child did not report it)."""
    return reply.args_after[index] if index < len(reply.args_after) else None


def gradient_of(reply, fn: str, input_name: str, index: int = 0) -> torch.Tensor:
    """The gradient that reached the ``index``-th argument, or a failure saying it is not connected."""
    grads = reply.input_grads or []
    grad = grads[index] if index < len(grads) else None
    if grad is None:
        raise AssertionError(
            f"no gradient reached {input_name}: the output of {fn} is not connected to {input_name} in the "
            "autograd graph (did you use .detach(), .data, .item(), .numpy() or build a new tensor "
            f"with torch.tensor(...) from intermediate results? Compute {fn} with torch operations on "
            f"{input_name} itself)")
    return grad


def check_values(reply_or_value, expected: torch.Tensor, *, what: str, device=None, dtype=None, hint=None,
                 finite_hint=None, **tolerances) -> None:
    """The value (or a reply's value) against the float64 reference: shape, dtype (``dtype``, default
    the reference's unless it is float64, then the caller must say), device, finiteness, values.
    ``tolerances``: ``rtol``/``atol``, or ``inputs``/``scale``/``conditioning`` (derived)."""
    value = getattr(reply_or_value, "value", reply_or_value)
    assert_tensor_close(value, expected, what=what, dtype=dtype, device=device, hint=hint,
                        finite_hint=finite_hint, **tolerances)


def check_keeps_float64(student, fn: str, args: tuple, expected: torch.Tensor, *, what: str, device,
                        hint=None) -> None:
    """``fn(*args)`` with float64 inputs is float64 and float64-accurate (rtol 1e-10, atol 1e-12)."""
    out = student.call(fn, *args).value
    assert_tensor_close(out, expected, rtol=1e-10, atol=1e-12, what=what, dtype=torch.float64, device=device,
                        hint=lambda o: float64_hint(o, expected) or (hint(o) if callable(hint) else hint or ""))


def check_gradient(student, reference_fn, fn: str, X: torch.Tensor, cotangent: torch.Tensor, *, what: str,
                   device, input_name: str = "X", shape_what: str | None = None, finite_hint=None,
                   hint=DETACHED_HINT, **tolerances) -> None:
    """Back-propagate ``cotangent`` through ``fn(X)`` in the sandbox; the gradient w.r.t. ``X`` must match
    autograd through ``reference_fn`` in float64.  The output's shape is checked first (a wrong shape
    cannot take the cotangent; ``shape_what`` names the call in that message)."""
    out = student.call(fn, X).value
    assert_same_shape(out, cotangent, what=shape_what or f"{fn}({input_name}) for {input_name} of shape {tuple(X.shape)}")
    reply = student.call(fn, X.clone().requires_grad_(), cotangent=cotangent)
    X64 = X.double().requires_grad_()
    (expected,) = torch.autograd.grad(reference_fn(X64), X64, cotangent.double())
    grad = gradient_of(reply, fn, input_name)
    assert_tensor_close(grad, expected, what=what, dtype=X.dtype, device=device, finite_hint=finite_hint,
                        hint=hint, **tolerances)


def check_no_builtin(student, fn: str, banned: dict, banned_ops: dict, args: tuple, expected: torch.Tensor, *,
                     what: str, verb: str = "writing {fn} yourself") -> None:
    """The points for a from-scratch ``fn``: no banned name in its source (and the module-level code it
    reaches), correct values on a basic input, and no banned operator dispatched by that call."""
    problems = find_banned(student.source, fn, banned)
    assert not problems, "\n".join(problems)
    try:
        reply = student.call(fn, *args, observe=True)
        assert_tensor_close(reply.value, expected, rtol=1e-5, atol=1e-6, what=what)
    except AssertionError as error:
        raise AssertionError(f"the points for {verb.format(fn=fn)} need a working {fn}: {error}") from None
    assert_no_banned_operators(reply, fn, banned_ops)
