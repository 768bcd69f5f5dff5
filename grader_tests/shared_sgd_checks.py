"""Checks of the book's from-scratch ``sgd(params, lr, batch_size)``, shared by the hidden suites that grade it.

The contract (DESIGN.md §5): for every parameter ``p`` with a gradient, ``p -= lr * p.grad / batch_size``
in place under ``torch.no_grad()``, then ``p.grad.zero_()``; parameters whose ``.grad`` is ``None``
are skipped; returns ``None``.  Each suite keeps its own fixtures (shapes that fit its chapter), its
tests and points, and calls these functions; the student's function runs in the sandbox through the
``student`` proxy.  Like the suites, this module lives in ``grader_tests/`` and never ships in the
package (``autograder.grading.run_suite`` makes this folder importable while a suite runs).
"""

from __future__ import annotations

import torch

from autograder.compare import assert_tensor_close, describe, fmt_index, fmt_number
from autograder.sandbox.wire import origin_device

NO_GRAD_HINT = ("autograd refuses in-place changes of a leaf tensor that requires grad while it is recording: "
                "do the update inside `with torch.no_grad():`")


def call_sgd(student, params, lr, batch_size):
    """``student.call("sgd", ...)``, with a hint added when autograd refused the in-place update."""
    try:
        return student.call("sgd", params, lr, batch_size)
    except AssertionError as error:
        if "leaf Variable that requires grad is being used in an in-place operation" in str(error):
            raise AssertionError(f"{error} -- {NO_GRAD_HINT}") from None
        raise


def step_hint(before, after, grad, lr, batch_size) -> str:
    """Explain a wrong update from the step actually taken (``""`` when it matches no typical mistake)."""
    step = after.double() - before.double()
    want = -lr * grad.double() / batch_size
    if torch.equal(step, torch.zeros_like(step)):
        return ("the parameter did not change: `p = p - ...` only rebinds the loop variable; update it in "
                "place with `p -= lr * p.grad / batch_size` inside `with torch.no_grad():` (and zero the "
                "gradient only after using it)")
    mask = want.abs() > 1e-12
    if not mask.any():
        return ""
    ratio = step[mask] / want[mask]
    k = ratio.median().item()
    if not torch.allclose(ratio, torch.full_like(ratio, k), rtol=1e-4, atol=0):
        return ""
    if abs(k - batch_size) < 1e-3 * batch_size:
        return ("the step is batch_size times too large: divide by batch_size (p.grad holds the gradient of the "
                "SUM of the minibatch losses)")
    if abs(k + 1) < 1e-4:
        return "the step goes the wrong way: subtract lr * p.grad / batch_size (gradient DEScent)"
    if abs(k * lr - 1) < 1e-4:
        return "the learning rate is missing: multiply the gradient by lr"
    if abs(k - 1 / batch_size) < 1e-4 / batch_size:  # step / wanted step: one extra division
        return "the step is divided by batch_size twice"
    return f"the step taken is {fmt_number(k)} times the expected one"


def check_update_values(student, device, cases, *, rtol, atol) -> None:
    """Each parameter becomes ``p - lr * p.grad / batch_size``; ``cases`` are (label, params, lr, batch_size)
    with every parameter a leaf that requires grad and has a ``.grad``."""
    for label, params, lr, batch_size in cases:
        reply = call_sgd(student, params, lr, batch_size)
        for i, p in enumerate(params):
            state = reply.args_after[i]
            what = f"params[{i}] after sgd({label})"
            expected = p.detach().double() - lr * p.grad.double() / batch_size
            if state.value is None:
                raise AssertionError(f"{what} is no longer a tensor (it was replaced by {state.type_name}): "
                                     "update each parameter in place")
            assert_tensor_close(state.value, expected, rtol=rtol, atol=atol, what=what, device=device,
                                dtype=p.dtype, hint=lambda v, p=p: step_hint(p.detach(), v, p.grad, lr, batch_size))


def check_updates_in_place(student, device, cases) -> None:
    """Each parameter stays the same tensor object, a leaf that requires grad, with its dtype and
    device, and sgd returns None."""
    for label, params, lr, batch_size in cases:
        reply = call_sgd(student, params, lr, batch_size)
        if reply.value is not None:
            raise AssertionError(f"sgd({label}) returned {describe(reply.value)}, expected None: sgd updates "
                                 "the parameters in place and returns nothing")
        for i, p in enumerate(params):
            state = reply.args_after[i]
            name = f"params[{i}] after sgd({label})"
            if not state.same_object:
                raise AssertionError(
                    f"{name} is a different tensor object from the one passed in: the training loop keeps "
                    "using the original parameter objects, so replacing them loses the update; modify each "
                    "one in place (`p -= lr * p.grad / batch_size` under `with torch.no_grad():`)")
            if not state.is_leaf:
                raise AssertionError(f"{name} is no longer a leaf tensor: do the update under "
                                     "`with torch.no_grad():` so it is not recorded by autograd")
            if not state.requires_grad:
                raise AssertionError(f"{name} no longer requires grad: don't detach the parameter or set "
                                     "requires_grad=False; update it in place under torch.no_grad()")
            if state.value.dtype != p.dtype:
                raise AssertionError(f"{name} has dtype {state.value.dtype}, expected {p.dtype}: keep the "
                                     "parameter's dtype")
            if origin_device(state.value).split(":")[0] != device.split(":")[0]:
                raise AssertionError(f"{name} is on device {origin_device(state.value)}, expected {device}")


def check_zeroes_gradients(student, cases) -> None:
    """After sgd every gradient is zero or None."""
    for label, params, lr, batch_size in cases:
        reply = call_sgd(student, params, lr, batch_size)
        for i in range(len(params)):
            grad = reply.args_after[i].grad
            if grad is None:
                continue
            nonzero = torch.nonzero(grad != 0)
            if len(nonzero):
                idx = tuple(nonzero[0].tolist())
                raise AssertionError(
                    f"params[{i}].grad after sgd({label}) is not zero (entry {fmt_index(idx)} is "
                    f"{fmt_number(grad[idx].item())}): call p.grad.zero_() after the update, otherwise "
                    "PyTorch adds the next minibatch's gradient to this one")


def check_skips_parameters_without_grad(student, without_grad, with_grad, lr, batch_size, label) -> None:
    """``sgd([without_grad, with_grad], ...)``: the first (``.grad`` None) is left unchanged, the second
    is still updated (catches a crash on ``None``, and ``break`` or ``return`` instead of ``continue``)."""
    try:
        reply = call_sgd(student, [without_grad, with_grad], lr, batch_size)
    except AssertionError as error:
        raise AssertionError(f"sgd({label}) failed: a parameter whose .grad is None must be skipped "
                             f"(`if p.grad is None: continue`): {error}") from None
    first = reply.args_after[0]
    if first.value is None or not torch.equal(first.value, without_grad.detach()):
        raise AssertionError(f"params[0] (whose .grad is None) changed after sgd({label}): skip parameters "
                             "without a gradient")
    if first.grad is not None and bool((first.grad != 0).any()):
        raise AssertionError(f"params[0] (whose .grad was None) has a non-zero .grad after sgd({label})")
    second = reply.args_after[1].value
    if second is None or torch.equal(second, with_grad.detach()):
        raise AssertionError(f"params[1] (which has a gradient) did not change after sgd({label}): skip "
                             "only the parameters whose .grad is None (`continue`, not `break` or `return`)")
