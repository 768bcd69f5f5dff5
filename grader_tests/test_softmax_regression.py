"""Hidden suite for the ``softmax_regression`` assignment (grader only; never shipped).

Exercises: ``softmax``, ``cross_entropy``, ``accuracy``, ``sgd``, ``softmax_ce_grad`` (DESIGN §5), and
the concise version ``build_concise_model``, ``train_concise`` (nn.Linear, nn.CrossEntropyLoss,
torch.optim.SGD; see the comments above their tests).
Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on the CPU, from fixed seeds
(``SEED`` + a per-test offset); the ``student`` proxy moves them to the device under test.  Values
are compared with the reference computed in float64 (rtol 1e-5, atol 1e-6 for float32 outputs),
after shape, dtype, device and finiteness.  Shapes avoid coincidences: (4, 3), a square (5, 5) and
a batch of one (1, 7).  Each test probes a mistake students actually make and says in its message
what was checked, on which input, and the first offending index.

Decisions documented here:

* Large logits (softmax, softmax_ce_grad): float32 cannot resolve logits near 1e4 finer than ~1e-3,
  so a correct, stable implementation written differently from the reference (``X - logsumexp(X)``,
  say) can differ by ~5e-4 relative.  Those tests take their tolerances from the logits
  (:func:`autograder.compare.tolerance`, docs/tolerances.md): each row is fed by its own row of
  logits, with conditioning 1/2 for a probability, 1 for a row sum and 1/(2n) for the gradient.  An
  implementation that overflows produces NaN or inf and fails by far; one that clamps the logits
  is finite and off by ~10^4 times the tolerance.
* float64 inputs must stay float64 *and* be computed in float64: those outputs are compared with
  rtol 1e-10, atol 1e-12 (a detour through float32 is reported as such).
* ``sgd`` may leave ``p.grad`` either zeroed in place (``p.grad.zero_()``, as in the book) or set to
  ``None`` (as ``optimizer.zero_grad(set_to_none=True)`` does): both stop gradients accumulating
  across minibatches, so both pass.
* The no-shortcut tests award their points for a from-scratch implementation: the source must not
  name a shortcut (:func:`autograder.banned.find_banned`, AST, the first line), the function must
  run and give correct values on a basic input (otherwise a stub or ``return X`` would earn them),
  and that call, observed in the sandbox, must not dispatch a banned ATen operator
  (:mod:`autograder.observed`: ``F.softmin(-X)``, ``Categorical(logits=X).probs`` and
  ``getattr(torch, "soft" + "max")`` all run ``aten._softmax``).  The ``*_OPS`` tables are the
  ATen image of the ``*_BANNED`` ones: the kernels those names run and a from-scratch answer does
  not (``torch.logsumexp``, ``gather``, ``torch.exp`` stay allowed).
* ``softmax_ce_grad`` must be finite for logits up to 1e4 (its contract); the suite first had no such
  test, so a by-hand gradient whose softmax overflows kept full marks (found with the corpus,
  tests/corpus/softmax_regression.py).  Its expected value is ``(softmax - one_hot) / n`` in float64,
  not autograd through ``-log(softmax)``, which is NaN where a label's probability underflows to 0.
* ``build_concise_model``: the book's ``init_weights`` leaves the bias at PyTorch's default, so the
  bias may be zero or default (|b| <= 1/sqrt(num_inputs)); the weight's statistics are graded.
* ``train_concise`` is graded on what it does to a model the grader builds (a broken
  ``build_concise_model`` costs nothing there), never on how it is written: ``F.cross_entropy``,
  a ``DataLoader``, ``reduction='none'`` with ``.mean()``, ``zero_grad`` before or after the step all pass.
"""

import math
import re

import pytest
import torch

from autograder import inspections
from autograder.banned import find_banned
from autograder.public.banned_rules import BY_HAND_BANNED, CROSS_ENTROPY_BANNED, SOFTMAX_BANNED
from autograder.compare import (assert_finite, assert_is_tensor, assert_same_shape, assert_scalar_close,
                                assert_tensor_close, describe, fail_with_hint, first_mismatch, fmt_number,
                                fmt_shape, fmt_tensor, tolerance)
from autograder.observed import assert_no_banned_operators, autodiff, ban
from autograder.seeded import SeededInputs
from autograder.student import RemoteObject

from shared_minibatches import judge_shuffling, judge_training
from shared_recipe import argument_state, check_input_unchanged, float64_hint, gradient_of
import shared_sgd_checks as sgd_checks

SEED = 20_240_517
_INPUTS = SeededInputs(SEED)
_gen, _randn = _INPUTS.gen, _INPUTS.randn

# float32 outputs vs the float64 reference (DESIGN §6); float64 outputs must be float64-accurate.
RTOL, ATOL = 1e-5, 1e-6
RTOL64, ATOL64 = 1e-10, 1e-12

_WRITE_SOFTMAX = "write it yourself from exp and sum."
SOFTMAX_OPS = {
    **ban("PyTorch's built-in softmax kernel", _WRITE_SOFTMAX, "_softmax", "_log_softmax", "_masked_softmax",
          "_safe_softmax", "_sparse_softmax", "_sparse_log_softmax", "softmax", "log_softmax"),
    **ban("a fused attention kernel (it computes a softmax inside)", _WRITE_SOFTMAX,
          "_scaled_dot_product_*", "_flash_attention_*", "_efficient_attention_*"),
}
CROSS_ENTROPY_OPS = {
    **ban("PyTorch's built-in negative log-likelihood loss", "pick each row's target probability and take "
          "-log yourself.", "nll_loss*", "cross_entropy_loss"),
    **ban("PyTorch's built-in log-softmax kernel", CROSS_ENTROPY_BANNED["log_softmax"], "_log_softmax",
          "log_softmax"),
}
BY_HAND_OPS = {
    **autodiff(BY_HAND_BANNED["torch.autograd"]),
    **ban("PyTorch's own derivative kernel", BY_HAND_BANNED["torch.autograd"], "*_backward", "*_backward_data"),
}

DETACHED_HINT = ("if the values pass their own test, a wrong gradient usually means part of the computation "
                 "is cut out of the autograd graph (.detach(), .data, .item(), .numpy(), torch.tensor(...) of "
                 "intermediate results, or in-place changes of the input)")
BROADCAST_HINT = ("a sum over dim=1 without keepdim=True has shape (n,), which does not line up with an (n, q) "
                  "tensor: keep the reduced dimension with keepdim=True (shape (n, 1))")


# ----------------------------------------------------------------------------- helpers


def _probs(logits64: torch.Tensor, dtype) -> torch.Tensor:
    """Row-stochastic probabilities from logits, computed in float64 then cast."""
    e = torch.exp(logits64 - logits64.max(dim=1, keepdim=True).values)
    return (e / e.sum(dim=1, keepdim=True)).to(dtype)


INPLACE_ADVICE = ("use out-of-place operations (X = X - m or X - m, not X -= m or X.sub_(m)) so the caller's "
                  "tensor is left unchanged")
FLOAT64_ADVICE = "compute in the input's dtype (no .float(), and create helper tensors with dtype=X.dtype)"


def _check_input_unchanged(reply, inputs, fn):
    """The function must not modify its inputs in place (X -= m changes the caller's tensor)."""
    for i, (name, original) in enumerate(inputs):
        check_input_unchanged(argument_state(reply, i), original, fn, name, INPLACE_ADVICE)


def _check_gradient(reply, expected, *, what, device, dtype, fn, input_name):
    assert_tensor_close(gradient_of(reply, fn, input_name), expected, rtol=RTOL, atol=ATOL, what=what, dtype=dtype,
                        device=device, hint=DETACHED_HINT)


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
    return float64_hint(actual, expected, FLOAT64_ADVICE)


def _call(student, fn, *args, **kwargs):
    """``student.call`` with a hint added to the usual broadcasting errors (a reduction without keepdim;
    in softmax_ce_grad also one-hot labels built with too few columns)."""
    try:
        return student.call(fn, *args, **kwargs)
    except AssertionError as error:
        if "must match the size of tensor" in str(error) and fn == "softmax":
            fail_with_hint(error, BROADCAST_HINT)
        if "must match the size of tensor" in str(error) and fn == "softmax_ce_grad":
            fail_with_hint(error, _ce_grad_broadcast_hint(str(error), *args))
        if "leaf Variable that requires grad is being used in an in-place operation" in str(error):
            fail_with_hint(error, "do not modify the input in place (X -= m); compute X - m into a new tensor")
        raise


def _ce_grad_broadcast_hint(message: str, logits, y) -> str:
    """Which broadcast went wrong in softmax_ce_grad: F.one_hot(y) without num_classes (max(y) + 1 columns
    instead of q), or a row sum without keepdim=True."""
    sizes = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", message)
    q = logits.shape[1]
    width = int(y.max()) + 1 if y.numel() else 0
    if sizes and {int(sizes.group(1)), int(sizes.group(2))} == {q, width} and width < q:
        return (f"the one-hot labels have {width} columns instead of {q}: F.one_hot(y) makes only max(y) + 1 "
                "columns; pass num_classes=logits.shape[1] (or build them with torch.zeros_like(logits))")
    return BROADCAST_HINT


def _call_basic(student, reference, fn, *args):
    """Run ``fn`` once, observed, on a basic CPU input and check it against the reference (no-shortcut
    tests); returns the reply, whose ``operators`` say what ran."""
    reply = _call(student, fn, *args, observe=True)
    expected = getattr(reference, fn)(*[a.double() if a.is_floating_point() else a for a in args])
    try:
        assert_tensor_close(reply.value, expected, rtol=RTOL, atol=ATOL, what=f"{fn} on a basic input")
    except AssertionError as error:
        raise AssertionError(f"the points for writing {fn} from scratch need a working {fn}: {error}") from None
    return reply


# ============================================================================ softmax


class TestSoftmax:
    pytestmark = [pytest.mark.exercise("softmax")]

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, shape", list(enumerate([(4, 3), (5, 5), (1, 7)])))
    def test_values_float32(self, student, reference, device, k, shape):
        """Row-wise softmax of float32 logits: shape, dtype, device, values; rows (not columns) sum to 1;
        the input is not modified in place."""
        X = _randn(shape, 100 + k, scale=2.0)
        reply = _call(student, "softmax", X)
        out = reply.value
        expected = reference.softmax(X.double())
        what = f"softmax(X) for {fmt_tensor('X', X)}"
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=X.dtype,
                            device=device, hint=_rows_sum_hint)
        _check_input_unchanged(reply, [("X", X)], "softmax")

    @pytest.mark.points(1)
    @pytest.mark.parametrize("k, shape", list(enumerate([(4, 3), (5, 5)])))
    def test_keeps_float64(self, student, reference, device, k, shape):
        """float64 logits give a float64 result computed in float64."""
        X = _randn(shape, 200 + k, dtype=torch.float64, scale=3.0)
        out = _call(student, "softmax", X).value
        expected = reference.softmax(X)
        what = f"softmax(X) for {fmt_tensor('X', X)}"
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
            what = f"softmax(X) for {fmt_tensor('X', X)} with {label}"
            assert_is_tensor(out, what=what)
            assert_same_shape(out, expected, what=what)
            assert_finite(out, what=what, hint=hint)
            scale = X.abs().amax(dim=1, keepdim=True)  # row i of softmax(X) is fed by row i of X only
            rows = out.double().sum(dim=1)
            bad = (rows - 1).abs() > tolerance(X.dtype, scale=scale[:, 0], conditioning=1.0).atol
            if bad.any():
                i = int(torch.nonzero(bad)[0])
                raise AssertionError(f"{what}: row {i} sums to {fmt_number(rows[i].item())} instead of 1 -- "
                                     f"{_rows_sum_hint(out) or hint}")
            assert_tensor_close(out, expected, scale=scale, conditioning=0.5, what=what, dtype=X.dtype,
                                device=device, finite_hint=hint)

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, shape", list(enumerate([(4, 3), (5, 5)])))
    def test_gradient(self, student, reference, device, k, shape):
        """Back-propagating a random cotangent through softmax gives the reference's gradient w.r.t. X
        (catches detached or rebuilt tensors inside softmax)."""
        X = _randn(shape, 400 + k, scale=2.0)
        C = _randn(shape, 450 + k)
        out = _call(student, "softmax", X).value  # shape first: a wrong shape cannot take the cotangent
        assert_same_shape(out, shape, what=f"softmax(X) for {fmt_tensor('X', X)}")
        reply = _call(student, "softmax", X.clone().requires_grad_(), cotangent=C)
        X64 = X.double().requires_grad_()
        (expected,) = torch.autograd.grad(reference.softmax(X64), X64, C.double())
        _check_gradient(reply, expected, device=device, dtype=X.dtype, fn="softmax", input_name="X",
                        what=f"the gradient of softmax w.r.t. X ({fmt_tensor('X', X)}, random cotangent)")

    @pytest.mark.points(1)
    def test_no_builtin_softmax(self, student, reference):
        """softmax is written from exp and sum, not with a built-in softmax (AST check, then the ATen
        operators a basic call ran)."""
        problems = find_banned(student.source, "softmax", SOFTMAX_BANNED)
        assert not problems, "\n".join(problems)
        reply = _call_basic(student, reference, "softmax", _randn((3, 4), 500))
        assert_no_banned_operators(reply, "softmax", SOFTMAX_OPS)


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
    @pytest.mark.parametrize("k, case", list(enumerate(CE_CASES)))
    def test_values(self, student, reference, device, k, case):
        """Per-example losses -log(y_hat[i, y[i]]): shape (n,), dtype of y_hat, device, values
        (catches y_hat[:, y], a mean instead of per-example losses, a missing minus sign)."""
        (shape, labels, dtype) = case
        y_hat = _probs(_randn(shape, 600 + k, dtype=torch.float64, scale=1.5), dtype)
        y = torch.tensor(labels, dtype=torch.int64)
        out = student.cross_entropy(y_hat, y)
        expected = reference.cross_entropy(y_hat.double(), y)
        what = f"cross_entropy(y_hat, y) for {fmt_tensor('y_hat', y_hat)} and labels y = {labels}"
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
        what = f"cross_entropy(y_hat, y) for {fmt_tensor('y_hat', y_hat)} with exact zeros off the labels, y = {labels}"
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
                            what=f"the gradient of cross_entropy w.r.t. y_hat ({fmt_tensor('y_hat', y_hat)} with "
                                 "exact zeros off the labels)",
                            finite_hint="the masked-out entries still go through log(0) in the backward pass "
                                        "(0 * inf = NaN): select the target probabilities before taking the log")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(CE_CASES[:2])))
    def test_gradient(self, student, reference, device, k, case):
        """The gradient w.r.t. y_hat of a random combination of the losses matches the reference
        (catches losses rebuilt with torch.tensor([...]) or detached)."""
        (shape, labels, dtype) = case
        y_hat = _probs(_randn(shape, 800 + k, dtype=torch.float64, scale=1.5), dtype)
        y = torch.tensor(labels, dtype=torch.int64)
        C = _randn((shape[0],), 850 + k)
        out = student.cross_entropy(y_hat, y)  # shape first: a wrong shape cannot take the cotangent
        assert_same_shape(out, (shape[0],), hint=_ce_shape_hint(out, shape[0]),
                          what=f"cross_entropy(y_hat, y) for {fmt_tensor('y_hat', y_hat)} and labels y = {labels}")
        reply = student.call("cross_entropy", y_hat.clone().requires_grad_(), y, cotangent=C)
        y64 = y_hat.double().requires_grad_()
        (expected,) = torch.autograd.grad(reference.cross_entropy(y64, y), y64, C.double())
        _check_gradient(reply, expected, device=device, dtype=dtype, fn="cross_entropy", input_name="y_hat",
                        what=f"the gradient of cross_entropy w.r.t. y_hat ({fmt_tensor('y_hat', y_hat)}, "
                             f"y = {labels}, random cotangent)")

    @pytest.mark.points(1)
    def test_no_builtin_loss(self, student, reference):
        """cross_entropy picks the target probabilities itself, without a built-in loss (AST check, then
        the ATen operators a basic call ran)."""
        problems = find_banned(student.source, "cross_entropy", CROSS_ENTROPY_BANNED)
        assert not problems, "\n".join(problems)
        reply = _call_basic(student, reference, "cross_entropy",
                            _probs(_randn((3, 4), 900, dtype=torch.float64), torch.float32),
                            torch.tensor([3, 1, 0], dtype=torch.int64))
        assert_no_banned_operators(reply, "cross_entropy", CROSS_ENTROPY_OPS)


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
                fail_with_hint(error, _accuracy_hint(out, expected, len(y)))

    @pytest.mark.points(1)
    def test_predictions_are_per_row(self, student, reference, device):
        """On a square y_hat the prediction must be the argmax of each row (dim=1), not of each column."""
        y_hat, y = _square_case()
        out = student.accuracy(y_hat, y)
        expected = reference.accuracy(y_hat.double(), y)
        what = f"accuracy(y_hat, y) for {fmt_tensor('y_hat', y_hat)} (square), y = {y.tolist()}"
        try:
            assert_scalar_close(out, expected, what=what, rtol=1e-6, atol=1e-9, kind=float)
        except AssertionError as error:
            by_columns = float((y_hat.argmax(dim=0) == y).double().mean())
            hint = ""
            if isinstance(out, float) and abs(out - by_columns) < 1e-6:
                hint = ("that is what argmax over dim=0 (down the columns) gives: each row is one example, "
                        "so predict with y_hat.argmax(dim=1)")
            fail_with_hint(error, hint or _accuracy_hint(out, expected, len(y)))


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


class TestSgd:
    pytestmark = [pytest.mark.exercise("sgd")]

    @pytest.mark.points(3)
    def test_update_values(self, student, device):
        """After sgd, each parameter equals p - lr * p.grad / batch_size (catches a forgotten
        / batch_size, a wrong sign, and `p = p - ...` that changes nothing)."""
        sgd_checks.check_update_values(student, device, _sgd_cases(), rtol=RTOL, atol=ATOL)

    @pytest.mark.points(2)
    def test_updates_in_place(self, student, device):
        """Each parameter stays the same tensor object, a leaf that requires grad, with its dtype and
        device; sgd returns None (catches `params[i] = p - ...` and `p = p.detach() - ...`)."""
        sgd_checks.check_updates_in_place(student, device, _sgd_cases())

    @pytest.mark.points(2)
    def test_zeroes_gradients(self, student, device):
        """After sgd every gradient is zero (p.grad.zero_()) or None, so the next minibatch's
        gradients do not add up with this one's."""
        sgd_checks.check_zeroes_gradients(student, _sgd_cases())

    @pytest.mark.points(1)
    def test_skips_parameters_without_grad(self, student, device):
        """A parameter whose .grad is None is skipped and left unchanged; the ones after it are still
        updated (catches `break` instead of `continue`)."""
        b = _randn((3,), 1201).requires_grad_()  # b.grad is None, and b comes first: `break` must not pass
        w = _randn((4, 3), 1200).requires_grad_()
        w.grad = _randn((4, 3), 1250)
        sgd_checks.check_skips_parameters_without_grad(
            student, b, w, 0.1, 8, "[b (3,) whose .grad is None, W (4, 3) with a gradient], lr 0.1, "
            "batch_size 8")


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
    @pytest.mark.parametrize("k, case", list(enumerate([((4, 3), [2, 0, 2, 1]), ((5, 5), [3, 0, 4, 1, 2]), ((1, 7), [5])])))
    def test_values(self, student, reference, device, k, case):
        """(softmax(logits) - one_hot(y)) / n equals autograd's gradient of the reference mean
        cross-entropy (catches a missing / n, a missing one-hot, a flipped sign)."""
        (shape, labels) = case
        logits = _randn(shape, 1300 + k, scale=2.0)
        y = torch.tensor(labels, dtype=torch.int64)
        out = _call(student, "softmax_ce_grad", logits, y).value
        expected = _reference_ce_grad(reference, logits, y)
        what = f"softmax_ce_grad(logits, y) for {fmt_tensor('logits', logits)}, y = {labels}"
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=logits.dtype,
                            device=device, hint=lambda o: _ce_grad_hint(o, logits, y, expected))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 logits give a float64 gradient computed in float64."""
        logits = _randn((6, 4), 1400, dtype=torch.float64, scale=3.0)
        labels = [1, 3, 0, 0, 2, 3]
        y = torch.tensor(labels, dtype=torch.int64)
        out = _call(student, "softmax_ce_grad", logits, y).value
        expected = _reference_ce_grad(reference, logits, y)
        assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                            what=f"softmax_ce_grad(logits, y) for {fmt_tensor('logits', logits)}, y = {labels}",
                            hint=lambda o: _float64_hint(o, expected) or _ce_grad_hint(o, logits, y, expected))

    @pytest.mark.points(2)
    def test_large_logits_are_stable(self, student, reference, device):
        """Logits up to 1e4 in float32 give a finite gradient with the right values (catches a softmax
        inside softmax_ce_grad that does not subtract the row maximum before exp)."""
        logits = torch.tensor([
            [1e4, 0.0, -1e4, 5e3],
            [-1e4, -9999.0, -1e4, -9990.0],
            [100.0, 99.0, 101.0, 50.0],
            [9999.5, 1e4, -1e4, 1e4],
            [-9e3, 9e3, 8999.0, 0.0],
        ])
        labels = [2, 3, 0, 1, 1]
        y = torch.tensor(labels, dtype=torch.int64)
        out = _call(student, "softmax_ce_grad", logits, y).value
        # (softmax - one_hot) / n in float64: autograd through -log(softmax) is not usable here, since a
        # label's probability underflows to exactly 0 for logits 2e4 below the row max.
        expected = (_probs(logits.double(), torch.float64)
                    - torch.nn.functional.one_hot(y, logits.shape[1]).double()) / logits.shape[0]
        hint = ("exp overflows to inf in float32 for arguments above about 88.7 (and a row of very negative "
                "logits underflows to 0 / 0): compute the softmax inside softmax_ce_grad stably, subtracting "
                "each row's max first, logits - logits.max(dim=1, keepdim=True).values")
        # Row i is fed by row i of the logits; an entry of (softmax - one_hot) / n moves by at most 1/(2n).
        assert_tensor_close(out, expected, scale=logits.abs().amax(dim=1, keepdim=True),
                            conditioning=0.5 / logits.shape[0], dtype=logits.dtype, device=device,
                            what=f"softmax_ce_grad(logits, y) for {fmt_tensor('logits', logits)} with logits up to "
                                 f"1e4 in magnitude, y = {labels}",
                            finite_hint=hint, hint=lambda o: _ce_grad_hint(o, logits, y, expected))

    @pytest.mark.points(2)
    def test_written_by_hand(self, student, reference):
        """softmax_ce_grad uses no automatic differentiation (torch.autograd, .backward, torch.func)
        (AST check, then what a basic call ran) and gives correct values."""
        problems = find_banned(student.source, "softmax_ce_grad", BY_HAND_BANNED)
        assert not problems, "\n".join(problems)
        logits = _randn((3, 4), 1500)
        y = torch.tensor([3, 1, 0], dtype=torch.int64)
        reply = _call(student, "softmax_ce_grad", logits, y, observe=True)
        out = reply.value
        expected = _reference_ce_grad(reference, logits, y)
        try:
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what="softmax_ce_grad on a basic input",
                                hint=lambda o: _ce_grad_hint(o, logits, y, expected))
        except AssertionError as error:
            raise AssertionError("the points for a by-hand softmax_ce_grad need a working softmax_ce_grad: "
                                 f"{error}") from None
        assert_no_banned_operators(reply, "softmax_ce_grad", BY_HAND_OPS)


# ============================================================================ build_concise_model
#
# The model stays in the sandbox (a RemoteObject).  The grader asks it about its layers with the public
# expressions of autograder.inspections, sets its weights to values of its own to check the forward pass against
# X.flatten(1) @ W.T + b computed here in float64, and copies the initial weights out for their
# statistics.  Sizes: (48, 5) as (1, 6, 8) images (not square, so a transposed nn.Linear shows), and
# (784, 10) for the initialisation (7840 weights: the sample standard deviation is within 1% of the true one).

# A float32 product of 48 terms can differ from the float64 one by a few 1e-6 where terms cancel.
ATOL_MATMUL = 1e-5
INIT_STD = 0.01


def _build(student, num_inputs, num_outputs, seed):
    """build_concise_model(num_inputs, num_outputs), checked to be an nn.Module; the RemoteObject."""
    call = f"build_concise_model({num_inputs}, {num_outputs})"
    net = student.call("build_concise_model", num_inputs, num_outputs, seed=seed).value
    expected = f"nn.Sequential(nn.Flatten(), nn.Linear({num_inputs}, {num_outputs}))"
    if not isinstance(net, RemoteObject):
        raise AssertionError(f"{call} returned {describe(net)}, expected the model itself, {expected}")
    if not student.eval(inspections.IS_MODULE, net=net):
        raise AssertionError(f"{call} returned a {net.type_name}, expected an nn.Module: {expected}")
    return net


def _check_structure(student, net, num_inputs, num_outputs):
    """One nn.Linear(num_inputs, num_outputs) with a bias, and no other parameters."""
    call = f"the model returned by build_concise_model({num_inputs}, {num_outputs})"
    want = f"nn.Linear({num_inputs}, {num_outputs})"
    layers = student.eval(inspections.LINEAR_LAYERS, net=net)
    if not layers:
        raise AssertionError(f"{call} has no nn.Linear layer: softmax regression is one linear layer, {want}, "
                             "after nn.Flatten()")
    if len(layers) > 1:
        raise AssertionError(f"{call} has {len(layers)} nn.Linear layers, expected exactly one, {want}: softmax "
                             "regression has no hidden layer")
    fin, fout, has_bias = layers[0]
    if (fin, fout) != (num_inputs, num_outputs):
        swapped = (fin, fout) == (num_outputs, num_inputs)
        raise AssertionError(
            f"{call} has nn.Linear({fin}, {fout}), expected {want}: "
            + ("the arguments are (in_features, out_features), inputs first" if swapped else
               "build the layer from the arguments num_inputs and num_outputs, not from fixed sizes"))
    if not has_bias:
        raise AssertionError(f"{call} has a linear layer without a bias (bias=False): keep nn.Linear's bias")
    shapes = student.eval(inspections.PARAM_SHAPES, net=net)
    if sorted(shapes) != sorted([(num_outputs, num_inputs), (num_outputs,)]):
        raise AssertionError(f"{call} has parameters of shapes {shapes}, expected only the weight "
                             f"({num_outputs}, {num_inputs}) and the bias ({num_outputs},) of {want}")
    dtypes = student.eval(inspections.PARAM_DTYPES, net=net)
    if any(d != "torch.float32" for d in dtypes):
        raise AssertionError(f"{call} has parameters of dtypes {dtypes}, expected float32 (nn.Linear's default)")


def _forward_hint(out, X, W, b) -> str:
    """Explain a wrong forward pass: a softmax or ReLU at the end, a missing bias."""
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or not torch.isfinite(out).all():
        return ""
    o = out.double()
    logits = X.double().reshape(X.shape[0], -1) @ W.double().T + b.double()
    probs = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    probs = probs / probs.sum(dim=1, keepdim=True)
    if o.shape == probs.shape and torch.allclose(o, probs, rtol=1e-4, atol=1e-6):
        return ("the model returns probabilities (a softmax of the logits): return the logits, with no softmax "
                "layer; nn.CrossEntropyLoss applies the (log-)softmax itself, stably")
    if o.shape == logits.shape and torch.allclose(o, logits.clamp_min(0), rtol=1e-4, atol=1e-5):
        return "negative logits come out as 0: remove the ReLU, softmax regression is linear"
    if o.shape == logits.shape and torch.allclose(o, logits - b.double(), rtol=1e-4, atol=1e-5):
        return "the bias is not added: the linear layer computes X @ weight.T + bias"
    return ""


class TestBuildConciseModel:
    pytestmark = [pytest.mark.exercise("build_concise_model")]

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate([(48, 5), (12, 7)])))
    def test_structure(self, student, k, case):
        """An nn.Module holding exactly one nn.Linear(num_inputs, num_outputs) with a bias and no other
        parameters, built from the arguments (catches swapped arguments, bias=False, hard-coded sizes)."""
        (num_inputs, num_outputs) = case
        net = _build(student, num_inputs, num_outputs, seed=SEED + 2000 + k)
        _check_structure(student, net, num_inputs, num_outputs)

    @pytest.mark.points(2)
    def test_forward(self, student, device):
        """With its weight and bias set to the grader's values, the model maps images (n, 1, 6, 8) and flat
        rows (1, 48) to the logits X.flatten(1) @ W.T + b, and passes the gradient back to X (catches a
        missing nn.Flatten, a softmax or ReLU at the end, a forward pass that drops the bias)."""
        net = _build(student, 48, 5, seed=SEED + 2010)
        try:
            _check_structure(student, net, 48, 5)
        except AssertionError as error:
            raise AssertionError(f"the forward pass could not be checked: {error}") from None
        student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
        W, b = _randn((5, 48), 2011, scale=0.5), _randn((5,), 2012)
        student.eval(inspections.SET_LINEAR, net=net, W=W, b=b)
        for k, X in enumerate([_randn((3, 1, 6, 8), 2013), _randn((1, 48), 2014)]):
            label = "images" if X.dim() == 4 else "flat rows"
            what = f"net(X) for {label} X of shape {fmt_shape(X.shape)}, with the linear layer's weight and bias set"
            C = _randn((X.shape[0], 5), 2015 + k)
            try:
                reply = net.call("__call__", X.clone().requires_grad_(), cotangent=C)
            except AssertionError as error:
                if "cannot be multiplied" in str(error):
                    fail_with_hint(error, "nn.Linear(48, 5) needs rows of 48 features: put nn.Flatten() before "
                                           "it, so that images of shape (n, 1, 6, 8) become (n, 48)")
                raise
            expected = X.double().reshape(X.shape[0], -1) @ W.double().T + b.double()
            assert_tensor_close(reply.value, expected, rtol=RTOL, atol=ATOL_MATMUL, what=what, dtype=torch.float32,
                                device=device, hint=lambda o, X=X: _forward_hint(o, X, W, b))
            grads = reply.input_grads or []
            if not grads or grads[0] is None:
                raise AssertionError(f"no gradient reached X through {what}: the forward pass must stay in the "
                                     "autograd graph (no .detach(), .data or torch.no_grad() inside the model)")
            expected_grad = (C.double() @ W.double()).reshape(X.shape)
            assert_tensor_close(grads[0], expected_grad, rtol=RTOL, atol=ATOL_MATMUL, device=device,
                                what=f"the gradient of {what} w.r.t. X (random cotangent)", hint=DETACHED_HINT)

    @pytest.mark.points(2)
    def test_initialisation(self, student):
        """The linear weight is drawn from N(0, 0.01^2): over 7840 weights, mean within 0.0015 of 0 and
        standard deviation within 15% of 0.01; the bias is zero or PyTorch's default (|b| <= 1/sqrt(784))
        (catches the default initialisation, normal_(w, 0.01) setting the mean, std 0.1)."""
        net = _build(student, 784, 10, seed=SEED + 2100)
        try:
            _check_structure(student, net, 784, 10)
        except AssertionError as error:
            raise AssertionError(f"the initialisation could not be checked: {error}") from None
        [(weight, bias)] = student.eval(inspections.LINEAR_PARAMS, net=net)
        w = weight.double()
        assert_finite(w, what="the initial weight of nn.Linear(784, 10)")
        mean, std = w.mean().item(), w.std().item()
        what = (f"the initial weight of build_concise_model(784, 10) has mean {fmt_number(mean)} and standard "
                f"deviation {fmt_number(std)}, expected mean 0 and standard deviation 0.01")
        if abs(mean) > 0.0015 or not 0.85 * INIT_STD <= std <= 1.15 * INIT_STD:
            default_std = 1 / math.sqrt(3 * 784)
            if abs(mean - INIT_STD) < 0.002 and abs(std - 1) < 0.1:
                hint = ("nn.init.normal_(w, 0.01) sets the MEAN to 0.01 (its second argument) and keeps std=1: "
                        "write nn.init.normal_(w, std=0.01) (or mean=0.0, std=0.01)")
            elif abs(std - default_std) < 0.1 * default_std:
                hint = ("that is nn.Linear's default (uniform) initialisation: draw the weight with "
                        "nn.init.normal_(weight, std=0.01), e.g. in an init function applied with net.apply(...)")
            elif std < 1e-12:
                hint = "the weights are all equal: draw them at random from N(0, 0.01^2) with nn.init.normal_"
            else:
                hint = "draw the weight with nn.init.normal_(weight, mean=0.0, std=0.01) (std, not variance)"
            raise AssertionError(f"{what}: {hint}")
        if bias is not None:
            bound = 1 / math.sqrt(784)
            big = bias.double().abs().max().item()
            if not math.isfinite(big) or big > bound + 1e-7:
                raise AssertionError(f"the initial bias of build_concise_model(784, 10) has an entry of magnitude "
                                     f"{fmt_number(big)}: set it to zero (nn.init.zeros_) or keep nn.Linear's "
                                     f"default, which stays within 1/sqrt(num_inputs) = {fmt_number(bound)}")


# ============================================================================ train_concise
#
# The grader builds the model in the sandbox with a trusted expression (so a broken build_concise_model
# costs nothing here), sets its parameters, calls train_concise with a seed, copies the parameters
# out and judges them here:
# * full-batch runs (batch_size = n) are deterministic whatever the shuffling: the parameters after
#   3 epochs are compared with 3 SGD steps on the mean cross-entropy computed here in float64
#   (rtol 1e-4, atol 1e-5: float32 training), and the returned losses with the losses before each step;
# * on 3 distinct examples (batch_size 2, 2 epochs) SGD can only end at a few points (which examples share a
#   minibatch, the order of the minibatches): shared_minibatches computes them all here and the parameters
#   must match one (nothing is recorded in the sandbox, where the student's code could rewrite it);
# * the same on 4 distinct examples of 4 classes (batch_size 2, 3 epochs), 4 runs seeded differently: the
#   matching run tells which minibatches each epoch took, and the examples must be shuffled at every epoch
#   (shared_minibatches.judge_shuffling: stored order throughout, or one order repeated, fails);
# * a short seeded run on 10 Gaussian clusters (the notebook's synthetic data, 8x8 "images") must
#   classify held-out examples well; accuracy is computed here from the copied parameters.

TRAIN_TIMEOUT = 8.0
TRAIN_RTOL, TRAIN_ATOL = 1e-4, 1e-5


def _grader_net(student, W, b, device):
    return student.eval(inspections.SOFTMAX_NET, W=W, b=b, dev=device)


def _train(student, net, X, y, lr, num_epochs, batch_size, seed):
    args = f"net, X of shape {fmt_shape(X.shape)}, y, lr={lr}, num_epochs={num_epochs}, batch_size={batch_size}"
    reply = student.call("train_concise", net, X, y, lr, num_epochs, batch_size, seed=seed, timeout=TRAIN_TIMEOUT)
    W_after, b_after = student.eval(inspections.SOFTMAX_NET_PARAMS, net=net)
    return reply.value, W_after, b_after, f"train_concise({args})"


def _simulate(W, b, X, y, lr, num_epochs, mistake=None):
    """Full-batch SGD on the mean cross-entropy in float64 (or with a typical mistake); (W, b, losses)."""
    W, b = W.double().clone(), b.double().clone()
    Xf = X.double().reshape(X.shape[0], -1)
    acc_W, acc_b = torch.zeros_like(W), torch.zeros_like(b)
    losses = []
    for _ in range(num_epochs):
        Wt, bt = W.clone().requires_grad_(), b.clone().requires_grad_()
        out = Xf @ Wt.T + bt
        if mistake == "softmax_first":
            out = torch.softmax(out, dim=1)
        loss = torch.nn.functional.cross_entropy(out, y, reduction="sum" if mistake == "sum" else "mean")
        if mistake == "divided_again":
            loss = loss / X.shape[0]
        gW, gb = torch.autograd.grad(loss, (Wt, bt))
        if mistake == "no_zero_grad":
            acc_W, acc_b = acc_W + gW, acc_b + gb
            gW, gb = acc_W, acc_b
        if mistake == "momentum":  # torch.optim.SGD(..., momentum=0.9): buf = 0.9 * buf + g
            acc_W, acc_b = 0.9 * acc_W + gW, 0.9 * acc_b + gb
            gW, gb = acc_W, acc_b
        W, b = W - lr * gW, b - lr * gb
        losses.append(loss.item())
    return W, b, losses


TRAIN_MISTAKES = [
    ("no_zero_grad", "the gradients add up across steps: call optimizer.zero_grad() before each loss.backward() "
                     "(backward accumulates into .grad)"),
    ("sum", "the steps are n times too large: that is the gradient of the SUM of the minibatch losses; use the "
            "mean (nn.CrossEntropyLoss() averages by default; no reduction='sum', no .sum())"),
    ("divided_again", "the steps are batch_size times too small: nn.CrossEntropyLoss() already averages over "
                      "the minibatch, so do not divide by the batch size again"),
    ("softmax_first", "a softmax was applied before the loss: nn.CrossEntropyLoss takes the logits and applies "
                      "the (log-)softmax itself"),
    ("momentum", "that is SGD with momentum 0.9: minibatch SGD here is plain torch.optim.SGD(net.parameters(), "
                 "lr=lr), without momentum"),
]


def _train_hint(W_after, b_after, W0, b0, X, y, lr, num_epochs) -> str:
    if torch.equal(W_after.double(), W0.double()) and torch.equal(b_after.double(), b0.double()):
        return ("the parameters of the model passed in did not change: train `net` itself (build the optimizer "
                "from net.parameters(); do not create a new model inside train_concise)")
    for mistake, hint in TRAIN_MISTAKES:
        W_m, b_m, _ = _simulate(W0, b0, X, y, lr, num_epochs, mistake)
        if (torch.allclose(W_after.double(), W_m, rtol=1e-3, atol=1e-4)
                and torch.allclose(b_after.double(), b_m, rtol=1e-3, atol=1e-4)):
            return hint
    for other_lr in (0.1, 0.01, 0.05, 1.0):
        if other_lr == lr:
            continue
        W_m, b_m, _ = _simulate(W0, b0, X, y, other_lr, num_epochs)
        if torch.allclose(W_after.double(), W_m, rtol=1e-3, atol=1e-4):
            return f"those are steps with lr={other_lr}, not the lr={lr} passed in: use the lr you are given"
    for epochs in range(1, 2 * num_epochs + 1):
        if epochs == num_epochs:
            continue
        W_m, b_m, _ = _simulate(W0, b0, X, y, lr, epochs)
        if torch.allclose(W_after.double(), W_m, rtol=1e-3, atol=1e-4):
            return f"that is what {epochs} step(s) give instead of num_epochs={num_epochs}: run num_epochs epochs"
    return ("check the learning rate (use lr), the loss (nn.CrossEntropyLoss on the logits), that the model's "
            "parameters are not re-initialised, and the order zero_grad(), backward(), step()")


def _minibatch_grad(X, y):
    """The gradient of a minibatch's mean cross-entropy w.r.t. [W, b] of the grader's model (float64)."""
    X64 = X.double().reshape(X.shape[0], -1)

    def grad(params, batch):
        W, b = (p.detach().clone().requires_grad_() for p in params)
        idx = torch.tensor(batch, dtype=torch.int64)
        loss = torch.nn.functional.cross_entropy(X64[idx] @ W.T + b, y[idx])
        return [g.detach() for g in torch.autograd.grad(loss, (W, b))]
    return grad


def _full_batch_case():
    """24 examples as (1, 4, 5) images, 6 classes, non-symmetric initial parameters."""
    X = _randn((24, 1, 4, 5), 2200)
    y = torch.randint(0, 6, (24,), generator=_gen(2201))
    W0, b0 = _randn((6, 20), 2202, scale=0.1), _randn((6,), 2203, scale=0.1)
    return X, y, W0, b0


def _cluster_data(n_train=500, n_test=300, classes=10, noise=0.6):
    """The notebook's synthetic data: 10 Gaussian clusters in 64 dimensions, as 8x8 images."""
    g = _gen(2300)
    centers = torch.rand(classes, 64, generator=g)
    labels = torch.randint(0, classes, (n_train + n_test,), generator=g)
    features = (centers[labels] + noise * torch.randn(n_train + n_test, 64, generator=g)).reshape(-1, 1, 8, 8)
    return features[:n_train], labels[:n_train], features[n_train:], labels[n_train:]


def _check_losses(losses, expected, call, n, minibatches, fallback_hint=""):
    """``losses`` (returned by train_concise) against the expected per-epoch means."""
    num_epochs = len(expected)
    if not isinstance(losses, list):
        raise AssertionError(f"{call} returned {describe(losses)}, expected a list of {num_epochs} Python floats "
                             "(the mean training loss per example of each epoch)")
    if len(losses) != num_epochs:
        raise AssertionError(f"{call} returned a list of {len(losses)} values, expected one per epoch ({num_epochs})")

    def close(a, b):
        return isinstance(a, float) and abs(a - b) <= TRAIN_RTOL * abs(b) + 1e-6

    for i, (got, want) in enumerate(zip(losses, expected)):
        what = f"the loss of epoch {i + 1} returned by {call}"
        try:
            assert_scalar_close(got, want, what=what, rtol=TRAIN_RTOL, atol=1e-6, kind=float)
        except AssertionError as error:
            hint = ""
            if isinstance(got, float) and math.isfinite(got):
                ratio = got / want
                weigh = ("weight each minibatch's mean loss by its number of examples and divide the total by n "
                         "(total += float(l) * len(batch); then total / n)")
                if abs(ratio - n) <= 1e-3 * n:
                    hint = "that is the SUM of the epoch's per-example losses: divide the total by n"
                elif minibatches > 1 and 0.6 * minibatches <= ratio <= 1.4 * minibatches:
                    hint = (f"that is about {minibatches} times the mean, as if the {minibatches} minibatch means "
                            f"were added up: {weigh}")
                elif i + 1 < num_epochs and close(got, expected[i + 1]):
                    hint = ("that is the loss AFTER the epoch's step: record each minibatch's loss as computed "
                            "before its step (the loss you call backward on)")
                elif i > 0 and close(losses[0], expected[0]):
                    hint = ("the first epoch's loss is right but this one is not, so the training steps differ from "
                            "SGD on the mean cross-entropy of the logits (see the check of the parameters after "
                            "full-batch training)")
                else:
                    hint = fallback_hint or ("each epoch's value is the mean, over the epoch's examples, of "
                                             f"nn.CrossEntropyLoss on the logits net(X_batch): {weigh}")
            fail_with_hint(error, hint)


class TestTrainConcise:
    pytestmark = [pytest.mark.exercise("train_concise")]

    @pytest.mark.points(3)
    def test_full_batch_steps(self, student, device):
        """With batch_size = n, 3 epochs are 3 deterministic SGD steps on the mean cross-entropy: the
        parameters after training match those computed here (catches a missing zero_grad, a summed or
        re-divided loss, a softmax before the loss, a wrong number of steps, an untouched model)."""
        X, y, W0, b0 = _full_batch_case()
        lr, num_epochs = 0.5, 3
        net = _grader_net(student, W0, b0, device)
        _losses, W_after, b_after, call = _train(student, net, X, y, lr, num_epochs, len(y), SEED + 2210)
        W_exp, b_exp, _ = _simulate(W0, b0, X, y, lr, num_epochs)
        hint = lambda _o: _train_hint(W_after, b_after, W0, b0, X, y, lr, num_epochs)  # noqa: E731
        assert_tensor_close(W_after, W_exp, rtol=TRAIN_RTOL, atol=TRAIN_ATOL, dtype=torch.float32,
                            what=f"the weight of net after {call} (batch_size = n: full-batch gradient descent)",
                            hint=hint)
        assert_tensor_close(b_after, b_exp, rtol=TRAIN_RTOL, atol=TRAIN_ATOL, dtype=torch.float32,
                            what=f"the bias of net after {call} (batch_size = n: full-batch gradient descent)",
                            hint=hint)

    @pytest.mark.points(1)
    def test_returns_epoch_losses(self, student, device):
        """The return value is a list of num_epochs Python floats, each epoch's mean loss per example:
        with lr = 0 and minibatches of 16, 16, 16 and 2 (the model does not change, so every epoch's mean is
        the loss of the whole set, whatever the order), and with batch_size = n (the loss before each step)
        (catches summed or unweighted minibatch means, tensors, losses after the step)."""
        X = _randn((50, 1, 4, 5), 2250)
        y = torch.randint(0, 6, (50,), generator=_gen(2251))
        W0, b0 = _randn((6, 20), 2252), _randn((6,), 2253)
        net = _grader_net(student, W0, b0, device)
        losses, W_after, b_after, call = _train(student, net, X, y, 0.0, 2, 16, SEED + 2260)
        _W, _b, (mean_loss,) = _simulate(W0, b0, X, y, 0.0, 1)
        moved = ""
        if not (torch.equal(W_after, W0) and torch.equal(b_after, b0)):
            moved = ("with lr=0.0 the parameters must not change, but they did: use the lr you are given "
                     "(torch.optim.SGD(net.parameters(), lr=lr))")
        _check_losses(losses, [mean_loss] * 2, call, n=50, minibatches=4, fallback_hint=moved)
        X, y, W0, b0 = _full_batch_case()
        net = _grader_net(student, W0, b0, device)
        losses, _W, _b, call = _train(student, net, X, y, 0.5, 3, len(y), SEED + 2220)
        _W, _b, expected = _simulate(W0, b0, X, y, 0.5, 3)
        _check_losses(losses, expected, call, n=len(y), minibatches=1)

    @pytest.mark.points(2)
    def test_minibatches_and_epochs(self, student, device):
        """On 3 distinct examples with batch_size = 2 and 2 epochs, the parameters after training are those of
        one of the possible runs, computed here: every example once per epoch, in minibatches of 2 and 1 (any
        order), one SGD step on each minibatch's mean cross-entropy (catches full-batch training, a dropped last
        minibatch, an example left out, a wrong number of epochs, batch_size ignored)."""
        n, batch_size, num_epochs, lr = 3, 2, 2, 0.5
        X = _randn((n, 1, 4, 5), 2400)
        y = torch.randint(0, 6, (n,), generator=_gen(2401))
        W0, b0 = _randn((6, 20), 2402, scale=0.1), torch.zeros(6)
        net = _grader_net(student, W0, b0, device)
        _losses, W_after, b_after, call = _train(student, net, X, y, lr, num_epochs, batch_size, SEED + 2410)
        judge_training(call, [W_after, b_after], [W0, b0], _minibatch_grad(X, y), n, batch_size, num_epochs, lr,
                       "the model passed in")

    @pytest.mark.points(1)
    def test_new_random_order_every_epoch(self, student, device):
        """Four runs on 4 distinct examples of 4 classes (batch_size 2, 3 epochs) from the same parameters,
        the global generators seeded differently before each: which minibatches each run took is read from
        the trained parameters (every possible run is computed here), and the examples must not come in their
        stored order in every epoch of every run, nor in one order repeated in every epoch (catches a loop
        without shuffling and a shuffle done once, before the epochs)."""
        n, batch_size, num_epochs, lr = 4, 2, 3, 0.5
        X = _randn((n, 1, 2, 3), 2500)  # few features: here any two runs end >= 400 tolerances apart
        y = torch.tensor([2, 0, 3, 1])
        W0, b0 = _randn((4, 6), 2501, scale=0.1), torch.zeros(4)
        outcomes = []
        for k in range(4):
            net = _grader_net(student, W0, b0, device)
            _losses, W_after, b_after, call = _train(student, net, X, y, lr, num_epochs, batch_size, SEED + 2510 + k)
            outcomes.append(([W0, b0], [W_after, b_after]))
        judge_shuffling(call, outcomes, _minibatch_grad(X, y), n, batch_size, num_epochs, lr, "the model passed in")

    @pytest.mark.points(3)
    def test_learns_held_out_accuracy(self, student, device):
        """A seeded run (500 examples of 10 Gaussian clusters as 8x8 images, lr 0.1, 5 epochs, batch_size
        32) must give a model that classifies at least 85% of 300 held-out examples correctly (a correct
        loop reaches about 95%); the accuracy is computed by the grader from the trained parameters."""
        X_train, y_train, X_test, y_test = _cluster_data()
        W0, b0 = _randn((10, 64), 2310, scale=INIT_STD), torch.zeros(10)
        net = _grader_net(student, W0, b0, device)
        losses, W_after, b_after, call = _train(student, net, X_train, y_train, 0.1, 5, 32, SEED + 2320)
        what = f"the model after {call}"
        assert_finite(W_after, what=f"the weight of {what}",
                      hint="the training diverged: check the learning rate and that the loss is a mean")
        assert_finite(b_after, what=f"the bias of {what}",
                      hint="the training diverged: check the learning rate and that the loss is a mean")
        if torch.equal(W_after, W0) and torch.equal(b_after, b0):
            raise AssertionError(f"the parameters of the model passed in did not change during {call}: train `net` "
                                 "itself (build the optimizer from net.parameters(); do not create a new model)")
        logits = X_test.double().reshape(len(X_test), -1) @ W_after.double().T + b_after.double()
        acc = (logits.argmax(dim=1) == y_test).double().mean().item()
        if acc < 0.85:
            raise AssertionError(f"{what} classifies {acc:.1%} of the held-out examples correctly, expected at "
                                 "least 85% (a correct training loop reaches about 95% here): check the loss "
                                 "(nn.CrossEntropyLoss on the logits, no softmax before it), optimizer.zero_grad() "
                                 "before backward(), the learning rate and the number of epochs")
