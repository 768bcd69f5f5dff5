"""Public self-checks for the ``softmax_regression`` assignment.

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals) and against properties every correct answer has; they never compute
an answer with reference code.  Passing them is a good sign, not a guarantee: the hidden suite
checks more inputs, gradients and the banned shortcuts.
"""

import math

import pytest
import torch

from autograder.compare import assert_tensor_close

LN2, LN3 = math.log(2.0), math.log(3.0)


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


class TestSoftmax:
    pytestmark = [pytest.mark.exercise("softmax")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6; a constant row gives the uniform distribution.
        expected = _f64([[1 / 6, 2 / 6, 3 / 6], [1 / 3, 1 / 3, 1 / 3]])
        for dtype in (torch.float32, torch.float64):
            X = torch.tensor([[0.0, LN2, LN3], [5.0, 5.0, 5.0]], dtype=dtype)
            out = student.softmax(X)
            assert_tensor_close(out, expected, what=f"softmax(X) for a {dtype} X of shape (2, 3)",
                                dtype=dtype, device=device)

    @pytest.mark.points(1)
    def test_large_logits_stay_finite(self, student, device):
        # exp(1e4) overflows float32: subtract each row's max before exponentiating.
        X = torch.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [100.0, 100.0, 0.0]])
        out = student.softmax(X)
        expected = _f64([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
        assert_tensor_close(out, expected, what="softmax(X) for logits of magnitude up to 1e4 "
                            "(overflow? subtract each row's max first)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # d softmax / dX backpropagating c: s * (c - sum(c * s)) row by row, worked out by hand.
        X = torch.tensor([[0.0, LN2, LN3], [1.0, 1.0, 1.0]], requires_grad=True)
        cot = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
        reply = student.call("softmax", X, cotangent=cot)
        grad = reply.input_grads[0]
        assert grad is not None, ("no gradient reached X through softmax(X): build the result "
                                  "from differentiable torch operations (no .detach(), .data, "
                                  ".numpy() or .item() on X)")
        expected = _f64([[5 / 36, -2 / 36, -3 / 36], [2 / 9, -1 / 9, -1 / 9]])
        assert_tensor_close(grad, expected, what="the gradient of softmax(X) with respect to X",
                            device=device)


class TestCrossEntropy:
    pytestmark = [pytest.mark.exercise("cross_entropy")]

    @pytest.mark.points(1)
    def test_known_values_per_example(self, student, device):
        y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        y = torch.tensor([0, 2])
        out = student.cross_entropy(y_hat, y)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2,), (
            f"cross_entropy(y_hat, y) must return one loss per example, shape (2,) here; got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__} "
            "(return the per-example losses, not their mean or sum)")
        expected = _f64([-math.log(0.1), -math.log(0.5)])
        assert_tensor_close(out, expected, what="cross_entropy(y_hat, y) = -log(y_hat[i, y[i]])",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_zero_off_target_probabilities(self, student, device):
        # Off-target probabilities of exactly 0 must not produce NaN: pick y_hat[i, y[i]] first,
        # then take the log (log of the whole matrix gives -inf, and 0 * -inf is NaN).
        y_hat = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
        y = torch.tensor([1, 0, 2])
        out = student.cross_entropy(y_hat, y)
        expected = _f64([0.0, 0.0, LN2])
        assert_tensor_close(out, expected, what="cross_entropy(y_hat, y) when the probabilities "
                            "of the other classes are 0", device=device)

    @pytest.mark.points(1)
    def test_gradient_finite_with_zero_probabilities(self, student, device):
        # d(-log p)/dp = -1/p at the label, 0 everywhere else (also where y_hat is 0).
        y_hat = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], requires_grad=True)
        y = torch.tensor([1, 0])
        reply = student.call("cross_entropy", y_hat, y, cotangent=torch.ones(2))
        grad = reply.input_grads[0]
        assert grad is not None, ("no gradient reached y_hat through cross_entropy(y_hat, y): "
                                  "use differentiable torch operations")
        expected = _f64([[0.0, -1.0, 0.0], [-2.0, 0.0, 0.0]])
        assert_tensor_close(grad, expected, what="the gradient of cross_entropy(y_hat, y) with "
                            "respect to y_hat (NaN? take the log after picking y_hat[i, y[i]])",
                            device=device)


def _check_fraction(value, expected, case):
    assert isinstance(value, float) and not isinstance(value, bool), (
        f"accuracy must return a Python float, got {type(value).__name__} for {case} "
        "(convert with float(...) or .item())")
    assert abs(value - expected) <= 1e-6, (
        f"accuracy for {case}: got {value!r}, expected {expected!r} (the FRACTION of rows whose "
        "argmax equals the label, not the number of correct rows)")


class TestAccuracy:
    pytestmark = [pytest.mark.exercise("accuracy")]

    @pytest.mark.points(1)
    def test_half_correct(self, student, device):
        y_hat = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
        y = torch.tensor([1, 1, 0, 0])
        _check_fraction(student.accuracy(y_hat, y), 0.5, "4 rows with 2 correct")

    @pytest.mark.points(1)
    def test_fractions(self, student, device):
        # Logits work as well as probabilities: only the argmax of each row matters.
        y_hat = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0], [-2.0, -1.0, -3.0],
                              [0.1, 0.2, 0.3]])
        cases = [
            (torch.tensor([0, 1, 1, 2]), 1.0, "4 rows, all correct"),
            (torch.tensor([0, 1, 1, 0]), 0.75, "4 rows with 3 correct"),
            (torch.tensor([1, 2, 0, 0]), 0.0, "4 rows, none correct"),
        ]
        for y, expected, case in cases:
            _check_fraction(student.accuracy(y_hat, y), expected, case)


class TestSgd:
    pytestmark = [pytest.mark.exercise("sgd")]

    @staticmethod
    def _params():
        w = torch.tensor([1.0, 2.0, -3.0], requires_grad=True)
        w.grad = torch.tensor([0.5, -1.0, 2.0])
        b = torch.tensor([0.5], requires_grad=True)
        b.grad = torch.tensor([4.0])
        return w, b

    @pytest.mark.points(1)
    def test_update_and_zeroed_grads(self, student, device):
        w, b = self._params()
        reply = student.call("sgd", [w, b], 0.1, 2)
        w_after, b_after = reply.args_after[0], reply.args_after[1]
        # p - lr * grad / batch_size with lr = 0.1, batch_size = 2.
        assert_tensor_close(w_after.value, _f64([0.975, 2.05, -3.1]),
                            what="w after sgd([w, b], lr=0.1, batch_size=2) (did you divide by "
                            "batch_size?)", dtype=torch.float32, device=device)
        assert_tensor_close(b_after.value, _f64([0.3]),
                            what="b after sgd([w, b], lr=0.1, batch_size=2)",
                            dtype=torch.float32, device=device)
        for name, state in (("w", w_after), ("b", b_after)):
            assert state.grad is not None, (
                f"{name}.grad is None after sgd: zero the gradient in place "
                "(param.grad.zero_()) instead of deleting it" if state.same_object else
                f"the list passed to sgd no longer holds the original {name}: update each "
                "parameter in place (param -= ...) instead of replacing it")
            assert_tensor_close(state.grad, torch.zeros(state.grad.shape, dtype=torch.float64),
                                what=f"{name}.grad after sgd (it must be zeroed)")

    @pytest.mark.points(1)
    def test_in_place_leaf_returns_none(self, student, device):
        w, b = self._params()
        reply = student.call("sgd", [w, b], 0.1, 2)
        assert reply.value is None, (
            f"sgd must update the parameters in place and return None; it returned "
            f"{type(reply.value).__name__}")
        for name, state in (("w", reply.args_after[0]), ("b", reply.args_after[1])):
            assert state.same_object, (
                f"after sgd, the list no longer holds the original {name}: update each parameter "
                "in place (param -= ...) instead of rebinding it (param = param - ...)")
            assert state.is_leaf and state.requires_grad, (
                f"after sgd, {name} is_leaf={state.is_leaf}, requires_grad={state.requires_grad}; "
                "both must stay True: do the update inside `with torch.no_grad():`")

    @pytest.mark.points(1)
    def test_skips_params_without_grad(self, student, device):
        w, _ = self._params()
        frozen = torch.tensor([7.0, -7.0], requires_grad=True)  # .grad is None
        reply = student.call("sgd", [frozen, w], 0.1, 2)
        assert_tensor_close(reply.args_after[0].value, _f64([7.0, -7.0]),
                            what="a parameter whose .grad is None (sgd must skip it)",
                            device=device)
        assert_tensor_close(reply.args_after[1].value, _f64([0.975, 2.05, -3.1]),
                            what="w after sgd([frozen, w], 0.1, 2), where frozen.grad is None",
                            device=device)


class TestSoftmaxCeGrad:
    pytestmark = [pytest.mark.exercise("softmax_ce_grad")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # (softmax(logits) - one_hot(y)) / n with n = 2, worked out by hand.
        logits = torch.tensor([[0.0, LN2, LN3], [0.0, 0.0, 0.0]])
        y = torch.tensor([2, 0])
        out = student.softmax_ce_grad(logits, y)
        expected = _f64([[1 / 12, 1 / 6, -1 / 4], [-1 / 3, 1 / 6, 1 / 6]])
        assert_tensor_close(out, expected, what="softmax_ce_grad(logits, y) for n = 2 "
                            "(the loss is the MEAN over the batch: divide by n)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_large_logits_and_single_row(self, student, device):
        logits = torch.tensor([[1e4, 0.0, -1e4, 0.0]])
        y = torch.tensor([1])
        out = student.softmax_ce_grad(logits, y)
        expected = _f64([[1.0, -1.0, 0.0, 0.0]])
        assert_tensor_close(out, expected, what="softmax_ce_grad(logits, y) for one row of "
                            "logits up to 1e4 (overflow? subtract each row's max first)",
                            dtype=torch.float32, device=device)
