"""Hidden suite for the ``softmax_regression`` assignment (grader only; never shipped).

Exercises: ``softmax``, ``cross_entropy``, ``accuracy``, ``sgd``, ``softmax_ce_grad`` (DESIGN §5).
Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on the CPU, from fixed seeds
(``SEED`` + a per-test offset); the ``student`` proxy moves them to the device under test.  Values
are compared with the reference computed in float64 (rtol 1e-5, atol 1e-6 for float32 outputs),
after shape, dtype, device and finiteness.  Shapes avoid coincidences: (4, 3), a square (5, 5) and
a batch of one (1, 7).  Each test probes a mistake students actually make and says in its message
what was checked, on which input, and the first offending index.

Decisions documented here:

* Large logits (softmax): float32 cannot resolve logits near 1e4 finer than ~1e-3, so a correct,
  stable implementation written differently from the reference (``X - logsumexp(X)``, say) can
  differ by ~5e-4 relative.  That test therefore checks finiteness, rows summing to 1 (atol 1e-3)
  and values with rtol 1e-3, atol 1e-5; an implementation that overflows produces NaN or inf and
  fails by far.
* float64 inputs must stay float64 *and* be computed in float64: those outputs are compared with
  rtol 1e-10, atol 1e-12 (a detour through float32 is reported as such).
* ``sgd`` may leave ``p.grad`` either zeroed in place (``p.grad.zero_()``, as in the book) or set to
  ``None`` (as ``optimizer.zero_grad(set_to_none=True)`` does): both stop gradients accumulating
  across minibatches, so both pass.
* The no-shortcut tests (:func:`autograder.banned.find_banned`, AST only) award their points for a
  from-scratch implementation: the function must also run and give correct values on a basic input,
  otherwise a stub or ``return X`` would earn them.
"""

import pytest
import torch

from autograder.banned import find_banned
from autograder.compare import (assert_finite, assert_is_tensor, assert_same_shape, assert_scalar_close,
                                assert_tensor_close, describe, first_mismatch, fmt_index, fmt_number,
                                fmt_shape)
from autograder.wire import origin_device

SEED = 20_240_517

# float32 outputs vs the float64 reference (DESIGN §6); float64 outputs must be float64-accurate.
RTOL, ATOL = 1e-5, 1e-6
RTOL64, ATOL64 = 1e-10, 1e-12

SOFTMAX_BANNED = {
    "torch.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "F.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "torch.special.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "softmax": "Tensor.softmax is the built-in softmax; write it yourself from exp and sum.",
    "_softmax": "that is the built-in softmax kernel; write softmax yourself from exp and sum.",
    "log_softmax": "log_softmax is the built-in (log-)softmax; write softmax yourself from exp and sum.",
    "nn.Softmax": "nn.Softmax is the built-in softmax module; write softmax yourself from exp and sum.",
    "Softmax": "nn.Softmax is the built-in softmax module; write softmax yourself from exp and sum.",
    "torch.ops": "calling built-in kernels directly skips the exercise; write softmax from exp and sum.",
}
CROSS_ENTROPY_BANNED = {
    "F.cross_entropy": "this exercise asks you to compute -log of each row's target probability yourself.",
    "cross_entropy_loss": "this exercise asks you to compute -log of each row's target probability yourself.",
    "nll_loss": "nll_loss is the built-in negative log-likelihood; pick each row's target probability "
                "and take -log yourself.",
    "CrossEntropyLoss": "nn.CrossEntropyLoss is the built-in loss; compute it yourself.",
    "NLLLoss": "nn.NLLLoss is the built-in loss; compute it yourself.",
    "log_softmax": "cross_entropy takes probabilities (y_hat), not logits: take -log of each row's "
                   "target probability yourself.",
    "torch.ops": "calling built-in kernels directly skips the exercise.",
}
BY_HAND_BANNED = {
    "torch.autograd": "softmax_ce_grad must be derived by hand: (softmax(logits) - one_hot(y)) / n, "
                      "without autograd.",
    "backward": "softmax_ce_grad must be derived by hand: (softmax(logits) - one_hot(y)) / n, "
                "without autograd.",
    "torch.func": "softmax_ce_grad must be derived by hand, without torch.func transforms.",
    "functorch": "softmax_ce_grad must be derived by hand, without functorch transforms.",
    "jacobian": "softmax_ce_grad must be derived by hand, without automatic differentiation.",
    "vjp": "softmax_ce_grad must be derived by hand, without automatic differentiation.",
}

DETACHED_HINT = ("if the values pass their own test, a wrong gradient usually means part of the computation "
                 "is cut out of the autograd graph (.detach(), .data, .item(), .numpy(), torch.tensor(...) of "
                 "intermediate results, or in-place changes of the input)")
BROADCAST_HINT = ("a sum over dim=1 without keepdim=True has shape (n,), which does not line up with an (n, q) "
                  "tensor: keep the reduced dimension with keepdim=True (shape (n, 1))")


# ----------------------------------------------------------------------------- helpers


def _gen(offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(SEED + offset)


def _randn(shape, offset, dtype=torch.float32, scale=1.0) -> torch.Tensor:
    """Reproducible standard-normal values (drawn in float64, then cast)."""
    return (torch.randn(shape, generator=_gen(offset), dtype=torch.float64) * scale).to(dtype)


def _dt(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _desc(name: str, t: torch.Tensor) -> str:
    return f"{name} of shape {fmt_shape(t.shape)} ({_dt(t.dtype)})"


def _probs(logits64: torch.Tensor, dtype) -> torch.Tensor:
    """Row-stochastic probabilities from logits, computed in float64 then cast."""
    e = torch.exp(logits64 - logits64.max(dim=1, keepdim=True).values)
    return (e / e.sum(dim=1, keepdim=True)).to(dtype)


def _fail_with_hint(error: AssertionError, hint: str):
    raise AssertionError(f"{error} -- {hint}" if hint else str(error)) from None


def _check_input_unchanged(reply, inputs, fn):
    """The function must not modify its inputs in place (X -= m changes the caller's tensor)."""
    for i, (name, original) in enumerate(inputs):
        state = reply.args_after[i] if i < len(reply.args_after) else None
        after = None if state is None else state.value
        if after is None:
            continue
        if after.shape != original.shape or not torch.equal(after.to(original.dtype), original):
            where = ""
            if after.shape == original.shape:
                diff = torch.nonzero(after.to(original.dtype) != original)
                if len(diff):
                    idx = tuple(diff[0].tolist())
                    where = (f" ({name}{list(idx)} changed from {fmt_number(original[idx].item())} to "
                             f"{fmt_number(after[idx].item())})")
            raise AssertionError(
                f"{fn} modified its input {name} in place{where}: use out-of-place operations "
                f"(X = X - m or X - m, not X -= m or X.sub_(m)) so the caller's tensor is left unchanged")


def _check_gradient(reply, expected, *, what, device, dtype, fn, input_name):
    grads = reply.input_grads or []
    grad = grads[0] if grads else None
    if grad is None:
        raise AssertionError(
            f"no gradient reached {input_name}: the output of {fn} is not connected to {input_name} in the "
            "autograd graph (did you use .detach(), .data, .item(), .numpy() or build a new tensor "
            f"with torch.tensor(...) from intermediate results? Compute {fn} with torch operations on "
            f"{input_name} itself)")
    assert_tensor_close(grad, expected, rtol=RTOL, atol=ATOL, what=what, dtype=dtype, device=device,
                        hint=DETACHED_HINT)


def _rows_sum_hint(out: torch.Tensor) -> str:
    """Explain a softmax whose rows do not sum to 1 (summed over dim 0, or a sum that broadcast)."""
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or not torch.isfinite(out).all():
        return ""
    o = out.detach().double()
    rows, cols = o.sum(dim=1), o.sum(dim=0)
    ones_r, ones_c = torch.ones_like(rows), torch.ones_like(cols)
    rows_ok = torch.allclose(rows, ones_r, rtol=0, atol=1e-4)
    if rows_ok:
        return ""
    if torch.allclose(cols, ones_c, rtol=0, atol=1e-4):
        return ("your columns sum to 1 but your rows don't: normalise over dim=1 (each row is one "
                "example and each column a class), e.g. X_exp.sum(dim=1, keepdim=True)")
    i = int(torch.argmax((rows - 1).abs()))
    return (f"each row of softmax(X) must sum to 1, but row {i} sums to {fmt_number(rows[i].item())}: divide "
            "each row by its own sum, kept as an (n, 1) column with keepdim=True (a sum of shape (n,) "
            "broadcasts across the columns instead)")


def _float64_hint(actual, expected) -> str:
    """A float64 result that matches only to float32 precision went through float32 somewhere."""
    if isinstance(actual, torch.Tensor) and actual.shape == expected.shape:
        if torch.isfinite(actual).all() and first_mismatch(actual, expected, rtol=1e-5, atol=1e-6) is None:
            return ("the result matches only to float32 precision: compute in the input's dtype "
                    "(no .float(), and create helper tensors with dtype=X.dtype)")
    return ""


def _call(student, fn, *args, **kwargs):
    """``student.call`` with a hint added to the usual broadcasting error of a reduction without keepdim."""
    try:
        return student.call(fn, *args, **kwargs)
    except AssertionError as error:
        if "must match the size of tensor" in str(error) and fn == "softmax":
            _fail_with_hint(error, BROADCAST_HINT)
        raise


def _call_basic(student, reference, fn, *args):
    """Run ``fn`` once on a basic CPU input and check it against the reference (no-shortcut tests)."""
    out = _call(student, fn, *args).value
    expected = getattr(reference, fn)(*[a.double() if a.is_floating_point() else a for a in args])
    try:
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=f"{fn} on a basic input")
    except AssertionError as error:
        raise AssertionError(f"the points for writing {fn} from scratch need a working {fn}: {error}") from None


# ============================================================================ softmax


class TestSoftmax:
    pytestmark = [pytest.mark.exercise("softmax")]

    @pytest.mark.points(2)
    def test_values_float32(self, student, reference, device):
        """Row-wise softmax of float32 logits: shape, dtype, device, values; rows (not columns) sum to 1;
        the input is not modified in place."""
        for k, shape in enumerate([(4, 3), (5, 5), (1, 7)]):
            X = _randn(shape, 100 + k, scale=2.0)
            reply = _call(student, "softmax", X)
            out = reply.value
            expected = reference.softmax(X.double())
            what = f"softmax(X) for {_desc('X', X)}"
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=X.dtype,
                                device=device, hint=_rows_sum_hint)
            _check_input_unchanged(reply, [("X", X)], "softmax")

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 logits give a float64 result computed in float64."""
        for k, shape in enumerate([(4, 3), (5, 5)]):
            X = _randn(shape, 200 + k, dtype=torch.float64, scale=3.0)
            out = _call(student, "softmax", X).value
            expected = reference.softmax(X)
            what = f"softmax(X) for {_desc('X', X)}"
            assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, what=what, dtype=torch.float64,
                                device=device, hint=lambda o: _float64_hint(o, expected) or _rows_sum_hint(o))

    @pytest.mark.points(2)
    def test_large_logits_are_stable(self, student, reference, device):
        """Logits up to 1e4 in float32: finite, rows sum to 1, right values (catches a softmax that
        does not subtract the row maximum before exp)."""
        cases = [
            ("logits up to 1e4 in magnitude", torch.tensor([
                [1e4, 0.0, -1e4, 5e3],
                [1e4, 9999.0, 9997.5, 9990.0],
                [-1e4, -9999.5, -9998.0, -9999.25],
                [100.0, 99.0, 101.0, 50.0],
                [-1e4, 1e4, -1e4, 1e4],
            ])),
            ("large random logits", (_randn((6, 6), 300, scale=3.0)
                                     + torch.tensor([[9e3], [-9e3], [500.0], [-500.0], [89.0], [2e3]])).float()),
        ]
        hint = ("exp overflows to inf in float32 for arguments above about 88.7 (and a row of very negative "
                "logits underflows to 0 / 0): subtract each row's maximum before exp, "
                "X - X.max(dim=1, keepdim=True).values; softmax does not change under that shift")
        for label, X in cases:
            out = _call(student, "softmax", X).value
            expected = reference.softmax(X.double())
            what = f"softmax(X) for {_desc('X', X)} with {label}"
            assert_is_tensor(out, what=what)
            assert_same_shape(out, expected, what=what)
            assert_finite(out, what=what, hint=hint)
            rows = out.double().sum(dim=1)
            bad = (rows - 1).abs() > 1e-3
            if bad.any():
                i = int(torch.nonzero(bad)[0])
                raise AssertionError(f"{what}: row {i} sums to {fmt_number(rows[i].item())} instead of 1 -- "
                                     f"{_rows_sum_hint(out) or hint}")
            assert_tensor_close(out, expected, rtol=1e-3, atol=1e-5, what=what, dtype=X.dtype, device=device,
                                finite_hint=hint)

    @pytest.mark.points(2)
    def test_gradient(self, student, reference, device):
        """Back-propagating a random cotangent through softmax gives the reference's gradient w.r.t. X
        (catches detached or rebuilt tensors inside softmax)."""
        for k, shape in enumerate([(4, 3), (5, 5)]):
            X = _randn(shape, 400 + k, scale=2.0)
            C = _randn(shape, 450 + k)
            out = _call(student, "softmax", X).value  # shape first: a wrong shape cannot take the cotangent
            assert_same_shape(out, shape, what=f"softmax(X) for {_desc('X', X)}")
            reply = _call(student, "softmax", X.clone().requires_grad_(), cotangent=C)
            X64 = X.double().requires_grad_()
            (expected,) = torch.autograd.grad(reference.softmax(X64), X64, C.double())
            _check_gradient(reply, expected, device=device, dtype=X.dtype, fn="softmax", input_name="X",
                            what=f"the gradient of softmax w.r.t. X ({_desc('X', X)}, random cotangent)")

    @pytest.mark.points(1)
    def test_no_builtin_softmax(self, student, reference):
        """softmax is written from exp and sum, not with a built-in softmax (AST check)."""
        problems = find_banned(student.source, "softmax", SOFTMAX_BANNED)
        assert not problems, "\n".join(problems)
        _call_basic(student, reference, "softmax", _randn((3, 4), 500))


# ============================================================================ cross_entropy


CE_CASES = [  # (shape, labels, dtype): labels avoid coincidences (not constant, not the identity)
    ((4, 3), [2, 0, 2, 1], torch.float32),
    ((5, 5), [3, 0, 4, 1, 2], torch.float32),
    ((1, 7), [5], torch.float32),
    ((6, 4), [1, 3, 0, 0, 2, 3], torch.float64),
]


def _ce_shape_hint(out, n) -> str:
    if not isinstance(out, torch.Tensor):
        return ""
    if out.dim() == 2 and tuple(out.shape) == (n, n):
        return (f"a ({n}, {n}) result usually comes from y_hat[:, y], which takes for every row the columns "
                "of ALL labels: pick one entry per row with y_hat[range(len(y_hat)), y] (or "
                "torch.arange(n) as the row index, or gather)")
    if out.dim() == 0:
        return ("return one loss per example (shape (n,)), not their mean or sum: the training loop "
                "reduces the losses itself")
    return ""


class TestCrossEntropy:
    pytestmark = [pytest.mark.exercise("cross_entropy")]

    @pytest.mark.points(3)
    def test_values(self, student, reference, device):
        """Per-example losses -log(y_hat[i, y[i]]): shape (n,), dtype of y_hat, device, values
        (catches y_hat[:, y], a mean instead of per-example losses, a missing minus sign)."""
        for k, (shape, labels, dtype) in enumerate(CE_CASES):
            y_hat = _probs(_randn(shape, 600 + k, dtype=torch.float64, scale=1.5), dtype)
            y = torch.tensor(labels, dtype=torch.int64)
            out = student.cross_entropy(y_hat, y)
            expected = reference.cross_entropy(y_hat.double(), y)
            what = f"cross_entropy(y_hat, y) for {_desc('y_hat', y_hat)} and labels y = {labels}"
            assert_same_shape(out, expected, what=what, hint=_ce_shape_hint(out, shape[0]))
            rtol, atol = (RTOL64, ATOL64) if dtype == torch.float64 else (RTOL, ATOL)
            assert_tensor_close(out, expected, rtol=rtol, atol=atol, what=what, dtype=dtype, device=device,
                                hint=lambda o: _float64_hint(o, expected) if dtype == torch.float64 else "")

    @pytest.mark.points(2)
    def test_zero_probabilities(self, student, reference, device):
        """Off-target probabilities of exactly 0 give no NaN/inf, neither in the losses nor in their
        gradient (catches -(one_hot * log(y_hat)).sum(1) and torch.where over log(y_hat))."""
        y_hat = torch.tensor([
            [0.0, 1.0, 0.0],
            [0.25, 0.0, 0.75],
            [0.0, 0.0, 1.0],
            [0.5, 0.5, 0.0],
            [0.125, 0.0, 0.875],
        ])
        labels = [1, 2, 2, 0, 0]
        y = torch.tensor(labels, dtype=torch.int64)
        what = f"cross_entropy(y_hat, y) for {_desc('y_hat', y_hat)} with exact zeros off the labels, y = {labels}"
        hint = ("log(0) is -inf and 0 * log(0) is NaN: take each row's target probability first "
                "(y_hat[range(len(y_hat)), y]) and only then the log, instead of multiplying log(y_hat) "
                "by a one-hot matrix or masking it afterwards")
        C = _randn((5,), 700)
        y64 = y_hat.double().requires_grad_()
        expected = reference.cross_entropy(y64, y)
        (expected_grad,) = torch.autograd.grad(expected, y64, C.double())
        out = student.cross_entropy(y_hat, y)  # shape first: a wrong shape cannot take the cotangent
        assert_same_shape(out, expected, what=what, hint=_ce_shape_hint(out, 5))
        reply = student.call("cross_entropy", y_hat.clone().requires_grad_(), y, cotangent=C)
        assert_tensor_close(reply.value, expected.detach(), rtol=RTOL, atol=ATOL, what=what, dtype=y_hat.dtype,
                            device=device, finite_hint=hint)
        grads = reply.input_grads or []
        grad = grads[0] if grads else None
        if grad is None:
            raise AssertionError("no gradient reached y_hat: the losses returned by cross_entropy are not "
                                 "connected to y_hat in the autograd graph")
        assert_tensor_close(grad, expected_grad, rtol=RTOL, atol=ATOL, dtype=y_hat.dtype, device=device,
                            what=f"the gradient of cross_entropy w.r.t. y_hat ({_desc('y_hat', y_hat)} with "
                                 "exact zeros off the labels)",
                            finite_hint="the masked-out entries still go through log(0) in the backward pass "
                                        "(0 * inf = NaN): select the target probabilities before taking the log")

    @pytest.mark.points(2)
    def test_gradient(self, student, reference, device):
        """The gradient w.r.t. y_hat of a random combination of the losses matches the reference
        (catches losses rebuilt with torch.tensor([...]) or detached)."""
        for k, (shape, labels, dtype) in enumerate(CE_CASES[:2]):
            y_hat = _probs(_randn(shape, 800 + k, dtype=torch.float64, scale=1.5), dtype)
            y = torch.tensor(labels, dtype=torch.int64)
            C = _randn((shape[0],), 850 + k)
            out = student.cross_entropy(y_hat, y)  # shape first: a wrong shape cannot take the cotangent
            assert_same_shape(out, (shape[0],), hint=_ce_shape_hint(out, shape[0]),
                              what=f"cross_entropy(y_hat, y) for {_desc('y_hat', y_hat)} and labels y = {labels}")
            reply = student.call("cross_entropy", y_hat.clone().requires_grad_(), y, cotangent=C)
            y64 = y_hat.double().requires_grad_()
            (expected,) = torch.autograd.grad(reference.cross_entropy(y64, y), y64, C.double())
            _check_gradient(reply, expected, device=device, dtype=dtype, fn="cross_entropy", input_name="y_hat",
                            what=f"the gradient of cross_entropy w.r.t. y_hat ({_desc('y_hat', y_hat)}, "
                                 f"y = {labels}, random cotangent)")

    @pytest.mark.points(1)
    def test_no_builtin_loss(self, student, reference):
        """cross_entropy picks the target probabilities itself, without a built-in loss (AST check)."""
        problems = find_banned(student.source, "cross_entropy", CROSS_ENTROPY_BANNED)
        assert not problems, "\n".join(problems)
        _call_basic(student, reference, "cross_entropy",
                    _probs(_randn((3, 4), 900, dtype=torch.float64), torch.float32),
                    torch.tensor([3, 1, 0], dtype=torch.int64))


# ============================================================================ accuracy


def _accuracy_cases():
    """(label, y_hat, y) with accuracies that are not 0, 1/2 or 1 by accident (except batch of one)."""
    cases = []
    y_hat = _probs(_randn((4, 3), 1000, dtype=torch.float64, scale=2.0), torch.float32)
    pred = y_hat.argmax(dim=1)
    y = pred.clone()
    y[1] = (pred[1] + 1) % 3  # 3 of 4 right
    cases.append(("probabilities of shape (4, 3)", y_hat, y))
    logits = _randn((6, 4), 1001, dtype=torch.float64, scale=3.0) - 5.0  # negative logits, float64
    pred = logits.argmax(dim=1)
    y = pred.clone()
    y[0], y[3], y[4], y[5] = (pred[0] + 1) % 4, (pred[3] + 2) % 4, (pred[4] + 3) % 4, (pred[5] + 1) % 4
    cases.append(("float64 logits of shape (6, 4)", logits, y))  # 2 of 6 right
    one = _randn((1, 7), 1002, scale=2.0)
    cases.append(("a batch of one, predicted right", one, one.argmax(dim=1)))
    cases.append(("a batch of one, predicted wrong", one, (one.argmax(dim=1) + 3) % 7))
    return cases


def _square_case():
    """A square y_hat where argmax over dim 0 (columns) gives another accuracy than over dim 1."""
    y_hat = torch.tensor([
        [0.10, 0.60, 0.05, 0.15, 0.10],
        [0.30, 0.05, 0.10, 0.05, 0.50],
        [0.05, 0.10, 0.20, 0.55, 0.10],
        [0.20, 0.15, 0.45, 0.10, 0.10],
        [0.40, 0.20, 0.05, 0.10, 0.25],
    ])
    # Row argmax [1, 4, 3, 2, 0] -> 4 of 5 right; column argmax [4, 0, 3, 2, 1] -> 1 of 5.
    y = torch.tensor([1, 4, 3, 0, 0], dtype=torch.int64)
    return y_hat, y


def _accuracy_hint(out, expected, n) -> str:
    if not isinstance(out, float):
        return ""
    if n > 1 and expected and abs(out - expected * n) < 1e-6:
        return (f"{fmt_number(out)} is the number of correct predictions (what the book's accuracy returns): "
                "return the fraction, that count divided by the number of rows")
    if out == 0.0 and expected > 0:
        return ("check the comparison: compare the predicted class indices (y_hat.argmax(dim=1)), not the "
                "largest probabilities, with the labels, and use true division (/) for the fraction")
    return ""


class TestAccuracy:
    pytestmark = [pytest.mark.exercise("accuracy")]

    @pytest.mark.points(2)
    def test_returns_python_float_fraction(self, student, reference, device):
        """accuracy returns a Python float in [0, 1] (not a tensor, not an int, not the count of
        correct rows that the book's accuracy returns)."""
        label, y_hat, y = _accuracy_cases()[0]
        out = student.accuracy(y_hat, y)
        what = f"accuracy(y_hat, y) for {label}"
        if isinstance(out, torch.Tensor):
            raise AssertionError(f"{what} returned {describe(out)}, expected a Python float: convert the "
                                 "result with float(...) or .item()")
        if isinstance(out, bool) or not isinstance(out, float):
            raise AssertionError(f"{what} returned {describe(out)}, expected a Python float"
                                 + (": divide with / (true division), e.g. float(correct) / len(y)"
                                    if isinstance(out, int) and not isinstance(out, bool) else ""))
        if not 0.0 <= out <= 1.0:
            expected = reference.accuracy(y_hat.double(), y)
            count_hint = ""
            if abs(out - expected * len(y)) < 1e-6:
                count_hint = (f": {fmt_number(out)} is the number of correct predictions (the book's accuracy "
                              "returns that count); return the fraction, the count divided by the number of rows")
            raise AssertionError(f"{what} is {fmt_number(out)}, expected a fraction in [0, 1]{count_hint}")
        # A constant (always 0.0, always 1.0) is a float in [0, 1] too: the type's points need the value.
        expected = reference.accuracy(y_hat.double(), y)
        assert_scalar_close(out, expected, what=what, rtol=1e-6, atol=1e-9, kind=float)

    @pytest.mark.points(3)
    def test_values(self, student, reference, device):
        """The fraction of rows whose argmax equals the label, on probabilities, negative float64 logits
        and a batch of one (right and wrong)."""
        for label, y_hat, y in _accuracy_cases():
            out = student.accuracy(y_hat, y)
            expected = reference.accuracy(y_hat.double(), y)
            what = f"accuracy(y_hat, y) for {label}"
            try:
                assert_scalar_close(out, expected, what=what, rtol=1e-6, atol=1e-9, kind=float)
            except AssertionError as error:
                _fail_with_hint(error, _accuracy_hint(out, expected, len(y)))

    @pytest.mark.points(1)
    def test_predictions_are_per_row(self, student, reference, device):
        """On a square y_hat the prediction must be the argmax of each row (dim=1), not of each column."""
        y_hat, y = _square_case()
        out = student.accuracy(y_hat, y)
        expected = reference.accuracy(y_hat.double(), y)
        what = f"accuracy(y_hat, y) for {_desc('y_hat', y_hat)} (square), y = {y.tolist()}"
        try:
            assert_scalar_close(out, expected, what=what, rtol=1e-6, atol=1e-9, kind=float)
        except AssertionError as error:
            by_columns = float((y_hat.argmax(dim=0) == y).double().mean())
            hint = ""
            if isinstance(out, float) and abs(out - by_columns) < 1e-6:
                hint = ("that is what argmax over dim=0 (down the columns) gives: each row is one example, "
                        "so predict with y_hat.argmax(dim=1)")
            _fail_with_hint(error, hint or _accuracy_hint(out, expected, len(y)))


# ============================================================================ sgd


def _sgd_cases():
    """(label, params, lr, batch_size); every parameter is a leaf with requires_grad and a .grad."""
    def param(shape, offset, dtype):
        p = _randn(shape, offset, dtype=dtype).requires_grad_()
        p.grad = _randn(shape, offset + 50, dtype=dtype)
        return p
    return [
        ("params [W (4, 3), b (3,)] float32, lr 0.1, batch_size 8",
         [param((4, 3), 1100, torch.float32), param((3,), 1101, torch.float32)], 0.1, 8),
        ("params [W (5, 5)] float64, lr 0.03, batch_size 3",
         [param((5, 5), 1102, torch.float64)], 0.03, 3),
    ]


def _sgd_step_hint(before, after, grad, lr, batch_size) -> str:
    """Explain a wrong update from the step actually taken."""
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
        return "the step is batch_size times too large: divide by batch_size (p.grad holds the gradient of the SUM of the minibatch losses)"
    if abs(k + 1) < 1e-4:
        return "the step goes the wrong way: subtract lr * p.grad / batch_size (gradient DEScent)"
    if abs(k * lr - 1) < 1e-4:
        return "the learning rate is missing: multiply the gradient by lr"
    if abs(k - 1 / batch_size ** 2) < 1e-6:
        return "the step is divided by batch_size twice"
    return f"the step taken is {fmt_number(k)} times the expected one"


class TestSgd:
    pytestmark = [pytest.mark.exercise("sgd")]

    @pytest.mark.points(3)
    def test_update_values(self, student, device):
        """After sgd, each parameter equals p - lr * p.grad / batch_size (catches a forgotten
        / batch_size, a wrong sign, and `p = p - ...` that changes nothing)."""
        for label, params, lr, batch_size in _sgd_cases():
            reply = student.call("sgd", params, lr, batch_size)
            for i, p in enumerate(params):
                state = reply.args_after[i]
                what = f"params[{i}] after sgd({label})"
                expected = p.detach().double() - lr * p.grad.double() / batch_size
                if state.value is None:
                    raise AssertionError(f"{what} is no longer a tensor (it was replaced by {state.type_name}): "
                                         "update each parameter in place")
                assert_tensor_close(state.value, expected, rtol=RTOL, atol=ATOL, what=what, device=device,
                                    dtype=p.dtype,
                                    hint=lambda v, p=p: _sgd_step_hint(p.detach(), v, p.grad, lr, batch_size))

    @pytest.mark.points(2)
    def test_updates_in_place(self, student, device):
        """Each parameter stays the same tensor object, a leaf that requires grad, with its dtype and
        device; sgd returns None (catches `params[i] = p - ...` and `p = p.detach() - ...`)."""
        for label, params, lr, batch_size in _sgd_cases():
            reply = student.call("sgd", params, lr, batch_size)
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

    @pytest.mark.points(2)
    def test_zeroes_gradients(self, student, device):
        """After sgd every gradient is zero (p.grad.zero_()) or None, so the next minibatch's
        gradients do not add up with this one's."""
        for label, params, lr, batch_size in _sgd_cases():
            reply = student.call("sgd", params, lr, batch_size)
            for i, p in enumerate(params):
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

    @pytest.mark.points(1)
    def test_skips_parameters_without_grad(self, student, device):
        """A parameter whose .grad is None is skipped and left unchanged; the others are updated."""
        W = _randn((4, 3), 1200).requires_grad_()
        W.grad = _randn((4, 3), 1250)
        b = _randn((3,), 1201).requires_grad_()  # b.grad is None
        label = "[W (4, 3) with a gradient, b (3,) whose .grad is None], lr 0.1, batch_size 8"
        try:
            reply = student.call("sgd", [W, b], 0.1, 8)
        except AssertionError as error:
            raise AssertionError(f"sgd({label}) failed: a parameter whose .grad is None must be skipped "
                                 f"(`if p.grad is None: continue`): {error}") from None
        b_after = reply.args_after[1]
        if b_after.value is None or not torch.equal(b_after.value, b.detach()):
            raise AssertionError(f"params[1] (whose .grad is None) changed after sgd({label}): skip parameters "
                                 "without a gradient")
        if b_after.grad is not None and bool((b_after.grad != 0).any()):
            raise AssertionError(f"params[1] (whose .grad was None) has a non-zero .grad after sgd({label})")
        W_after = reply.args_after[0].value
        if W_after is None or torch.equal(W_after, W.detach()):
            raise AssertionError(f"params[0] (which has a gradient) did not change after sgd({label}): only "
                                 "parameters whose .grad is None are skipped")


# ============================================================================ softmax_ce_grad


def _reference_ce_grad(reference, logits, y):
    """d/dlogits of the mean cross-entropy of softmax(logits), by autograd on the reference, float64."""
    z = logits.double().requires_grad_()
    loss = reference.cross_entropy(reference.softmax(z), y).mean()
    (grad,) = torch.autograd.grad(loss, z)
    return grad


def _ce_grad_hint(out, logits, y, expected) -> str:
    if not isinstance(out, torch.Tensor) or out.shape != expected.shape or not torch.isfinite(out).all():
        return ""
    n = logits.shape[0]
    o = out.double()
    if n > 1 and torch.allclose(o, expected * n, rtol=1e-4, atol=1e-6):
        return ("it is n times too large: that is the gradient of the SUM of the losses; the loss is the "
                "mean over the n examples, so divide by n")
    probs = _probs(logits.double(), torch.float64)
    if torch.allclose(o, probs / n, rtol=1e-4, atol=1e-6) or torch.allclose(o, probs, rtol=1e-4, atol=1e-6):
        return "subtract the one-hot labels: 1 at column y[i] of row i"
    if torch.allclose(o, -expected, rtol=1e-4, atol=1e-6):
        return "the sign is flipped: softmax(logits) - one_hot(y), not the other way round"
    return ""


class TestSoftmaxCeGrad:
    pytestmark = [pytest.mark.exercise("softmax_ce_grad")]

    @pytest.mark.points(3)
    def test_values(self, student, reference, device):
        """(softmax(logits) - one_hot(y)) / n equals autograd's gradient of the reference mean
        cross-entropy (catches a missing / n, a missing one-hot, a flipped sign)."""
        for k, (shape, labels) in enumerate([((4, 3), [2, 0, 2, 1]), ((5, 5), [3, 0, 4, 1, 2]), ((1, 7), [5])]):
            logits = _randn(shape, 1300 + k, scale=2.0)
            y = torch.tensor(labels, dtype=torch.int64)
            out = student.softmax_ce_grad(logits, y)
            expected = _reference_ce_grad(reference, logits, y)
            what = f"softmax_ce_grad(logits, y) for {_desc('logits', logits)}, y = {labels}"
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=logits.dtype,
                                device=device, hint=lambda o: _ce_grad_hint(o, logits, y, expected))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 logits give a float64 gradient computed in float64."""
        logits = _randn((6, 4), 1400, dtype=torch.float64, scale=3.0)
        labels = [1, 3, 0, 0, 2, 3]
        y = torch.tensor(labels, dtype=torch.int64)
        out = student.softmax_ce_grad(logits, y)
        expected = _reference_ce_grad(reference, logits, y)
        assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                            what=f"softmax_ce_grad(logits, y) for {_desc('logits', logits)}, y = {labels}",
                            hint=lambda o: _float64_hint(o, expected) or _ce_grad_hint(o, logits, y, expected))

    @pytest.mark.points(2)
    def test_written_by_hand(self, student, reference):
        """softmax_ce_grad uses no automatic differentiation (torch.autograd, .backward, torch.func)
        (AST check) and gives correct values."""
        problems = find_banned(student.source, "softmax_ce_grad", BY_HAND_BANNED)
        assert not problems, "\n".join(problems)
        logits = _randn((3, 4), 1500)
        y = torch.tensor([3, 1, 0], dtype=torch.int64)
        out = student.call("softmax_ce_grad", logits, y).value
        expected = _reference_ce_grad(reference, logits, y)
        try:
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what="softmax_ce_grad on a basic input",
                                hint=lambda o: _ce_grad_hint(o, logits, y, expected))
        except AssertionError as error:
            raise AssertionError("the points for a by-hand softmax_ce_grad need a working softmax_ce_grad: "
                                 f"{error}") from None
