"""Public self-checks for the ``autograd_basics`` assignment.

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals) and against properties every correct answer has; they never compute
an answer with reference code.  Passing them is a good sign, not a guarantee: the hidden suite
checks more inputs, dtypes, gradients and the banned shortcuts.
"""

import math

import pytest
import torch

from autograder import inspections
from autograder.compare import assert_tensor_close
from autograder.sandbox.wire import Code


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _is_float(value):
    return isinstance(value, float) and not isinstance(value, bool)


class TestGrid:
    pytestmark = [pytest.mark.exercise("grid")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        out = student.grid(2, 3, device)
        assert_tensor_close(out, _f64([[0, 1, 2], [3, 4, 5]]), rtol=0, atol=0,
                            what=f"grid(2, 3, {device!r}) (float32, numbers 0..5 row by row)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_uses_the_device_argument(self, student):
        # "meta" is a device without data that exists on every machine: a grid that ignores its
        # device argument ends up on the CPU instead.
        dev = student.eval(inspections.GRID_META_DEVICE)
        assert dev == "meta", (f"grid(2, 2, 'meta') is on device {dev}, expected meta: create the tensor "
                               "with device=device")


class TestColumnView:
    pytestmark = [pytest.mark.exercise("column_view")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        X = torch.arange(12, dtype=torch.float32).reshape(3, 4)
        assert_tensor_close(student.column_view(X, 1), _f64([1, 5, 9]), what="column_view(X, 1) for "
                            "X = arange(12).reshape(3, 4)", dtype=torch.float32, device=device)
        assert_tensor_close(student.column_view(X, -1), _f64([3, 7, 11]), what="column_view(X, -1) (the "
                            "last column)", dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_shares_memory(self, student, device):
        X = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        # Write into the result; a view writes into X too.
        X_after = student.eval(inspections.COLUMN_VIEW_FILLED, X=X)
        assert_tensor_close(X_after, _f64([[-1, 1, 2], [-1, 4, 5]]),
                            what="X after column_view(X, 0).fill_(-1.0) (the result must be a view of X, "
                            "not a copy: no clone(), contiguous() or torch.tensor(...))")


class TestAxpy:
    pytestmark = [pytest.mark.exercise("axpy_")]

    @pytest.mark.points(1)
    def test_updates_y_in_place(self, student, device):
        x = torch.tensor([10.0, 20.0, 30.0])
        y = torch.tensor([1.0, 2.0, 3.0])
        reply = student.call("axpy_", 0.5, x, y)
        assert reply.value is None, "axpy_ updates y in place and returns None"
        assert_tensor_close(reply.args_after[1].value, _f64([6, 12, 18]),
                            what="y after axpy_(0.5, x, y) (y = y + a * x only rebinds a local name: "
                            "write into y, e.g. y += a * x)", dtype=torch.float32, device=device)
        assert_tensor_close(reply.args_after[0].value, _f64([10, 20, 30]), what="x after axpy_ (x must not change)")

    @pytest.mark.points(1)
    def test_parameter(self, student, device):
        y = torch.tensor([1.0, -1.0], requires_grad=True)
        reply = student.call("axpy_", -2.0, torch.tensor([0.25, 0.5]), y)
        state = reply.args_after[1]
        assert_tensor_close(state.value, _f64([0.5, -2.0]), what="y after axpy_(-2.0, x, y) for a y that "
                            "requires grad (use `with torch.no_grad():`)", device=device)
        assert state.is_leaf and state.requires_grad, (
            "y must stay a leaf that requires grad: update it in place inside `with torch.no_grad():`")


class TestToNumpy:
    pytestmark = [pytest.mark.exercise("to_numpy")]

    @pytest.mark.points(1)
    def test_array_values_and_dtype(self, student, device):
        x = torch.tensor([[1.5, -2.0], [0.25, 4.0]], requires_grad=True)
        out = student.to_numpy(x)
        info = student.eval(inspections.ARRAY_INFO, a=out)
        assert info[0] == "ndarray", (f"to_numpy(x) returned a {info[0]}, expected a NumPy array "
                                      "(x.detach().cpu().numpy())")
        assert info[1] == "float32", f"to_numpy(x) for a float32 x has dtype {info[1]}, expected float32"
        assert info[2] == [[1.5, -2.0], [0.25, 4.0]], "to_numpy(x) does not hold x's values"

    @pytest.mark.points(1)
    def test_shares_memory_on_cpu(self, student, device):
        if device != "cpu":
            return
        x = torch.tensor([1.0, 2.0, 3.0])
        seen = student.eval(inspections.ARRAY_AFTER_X_ADDED, x=x)
        assert seen == [11.0, 12.0, 13.0], ("after x.add_(10.0) the array from to_numpy(x) did not change: "
                                            "for a CPU tensor it must share x's memory (no copy)")


class TestReluGrad:
    pytestmark = [pytest.mark.exercise("relu_grad")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        for dtype in (torch.float32, torch.float64):
            X = torch.tensor([[-2.0, -0.5], [0.5, 3.0]], dtype=dtype)
            assert_tensor_close(student.relu_grad(X), _f64([[0, 0], [1, 1]]),
                                what=f"relu_grad(X) for a {dtype} X", dtype=dtype, device=device)

    @pytest.mark.points(1)
    def test_input_unchanged(self, student, device):
        X = torch.tensor([-1.0, 2.0, -3.0, 4.0])
        reply = student.call("relu_grad", X)
        assert_tensor_close(reply.args_after[0].value, _f64([-1, 2, -3, 4]),
                            what="X after relu_grad(X) (relu_grad must not modify X: build a new tensor)")


class TestSigmoidGrad:
    pytestmark = [pytest.mark.exercise("sigmoid_grad")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # sigmoid(0) = 1/2 and sigmoid(ln 3) = 3/4, so the derivative is 1/4 and 3/16 there.
        X = torch.tensor([0.0, math.log(3.0), -math.log(3.0)])
        assert_tensor_close(student.sigmoid_grad(X), _f64([0.25, 3 / 16, 3 / 16]),
                            what="sigmoid_grad(X) for X = [0, ln 3, -ln 3]", dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_large_inputs_stay_finite(self, student, device):
        X = torch.tensor([-1e4, -200.0, 200.0, 1e4])
        assert_tensor_close(student.sigmoid_grad(X), _f64([0, 0, 0, 0]),
                            what="sigmoid_grad(X) for |X| up to 1e4 (NaN? exp(-x) overflows: use "
                            "s * (1 - s) with s = torch.sigmoid(X))", dtype=torch.float32, device=device)


class TestTanhGrad:
    pytestmark = [pytest.mark.exercise("tanh_grad")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # tanh(0) = 0 and tanh(atanh(1/2)) = 1/2, so the derivative is 1 and 3/4 there.
        X = torch.tensor([0.0, math.atanh(0.5), -math.atanh(0.5)], dtype=torch.float64)
        assert_tensor_close(student.tanh_grad(X), _f64([1.0, 0.75, 0.75]),
                            what="tanh_grad(X) for X = [0, atanh(1/2), -atanh(1/2)] (float64)",
                            dtype=torch.float64, device=device)

    @pytest.mark.points(1)
    def test_large_inputs_stay_finite(self, student, device):
        X = torch.tensor([-1e4, 1e4])
        assert_tensor_close(student.tanh_grad(X), _f64([0, 0]), what="tanh_grad(X) for X = [-1e4, 1e4]",
                            dtype=torch.float32, device=device)


class TestGradOfMeanSquare:
    pytestmark = [pytest.mark.exercise("grad_of_mean_square")]

    @pytest.mark.points(1)
    def test_vector(self, student, device):
        # L = mean(3 (x + 2)^2) over N = 4 entries: dL/dx = 6 (x + 2) / 4.
        x = torch.tensor([0.0, 1.0, -2.0, 2.0])
        assert_tensor_close(student.grad_of_mean_square(x), _f64([3.0, 4.5, 0.0, 6.0]),
                            what="grad_of_mean_square(x) for x = [0, 1, -2, 2]", dtype=torch.float32,
                            device=device)

    @pytest.mark.points(1)
    def test_matrix(self, student, device):
        # N is the number of entries (4), not the number of rows (2).
        x = torch.tensor([[0.0, 1.0], [-1.0, 2.0]], dtype=torch.float64)
        assert_tensor_close(student.grad_of_mean_square(x), _f64([[3.0, 4.5], [1.5, 6.0]]),
                            what="grad_of_mean_square(x) for x = [[0, 1], [-1, 2]] (N = x.numel() = 4)",
                            dtype=torch.float64, device=device)


class TestNumericalGrad:
    pytestmark = [pytest.mark.exercise("numerical_grad")]

    @pytest.mark.points(1)
    def test_square(self, student, device):
        x = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64)
        reply = student.call("numerical_grad", Code(inspections.SQUARE_SUM_FN), x)
        assert_tensor_close(reply.value, _f64([2.0, 4.0, -6.0]), rtol=1e-6, atol=1e-6,
                            what="numerical_grad(f, x) for f(x) = sum(x ** 2) at x = [1, 2, -3]",
                            dtype=torch.float64, device=device)
        assert_tensor_close(reply.args_after[0].value, _f64([1.0, 2.0, -3.0]), rtol=0, atol=1e-12,
                            what="x after numerical_grad (put every entry back)")

    @pytest.mark.points(1)
    def test_central_difference_with_eps(self, student, device):
        # ((1.1)^3 - (0.9)^3) / 0.2 = 3.01 exactly: the central difference of x^3 at 1 with eps = 0.1.
        x = torch.tensor([[1.0]], dtype=torch.float64)
        out = student.numerical_grad(Code(inspections.CUBE_SUM_FN), x, eps=0.1)
        assert_tensor_close(out, _f64([[3.01]]), rtol=1e-9, atol=1e-9,
                            what="numerical_grad(f, x, eps=0.1) for f(x) = sum(x ** 3) at x = [[1.0]] "
                            "(central difference (f(x + eps) - f(x - eps)) / (2 eps), with the given eps)",
                            dtype=torch.float64, device=device)


class TestRelError:
    pytestmark = [pytest.mark.exercise("rel_error")]

    @pytest.mark.points(1)
    def test_known_value(self, student, device):
        value = student.rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]))
        assert _is_float(value), f"rel_error must return a Python float, got {type(value).__name__}"
        assert abs(value - 0.2) < 1e-7, f"rel_error([1, 2], [1, 3]) is {value!r}, expected 0.2 = |2 - 3| / (2 + 3)"

    @pytest.mark.points(1)
    def test_zeros_and_tiny_values(self, student, device):
        value = student.rel_error(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]))
        assert _is_float(value) and value == 0.0, (
            f"rel_error([0, 1], [0, 1]) is {value!r}, expected 0.0 (both 0: divide by max(1e-8, |a| + |b|))")
        value = student.rel_error(torch.tensor([3e-9], dtype=torch.float64), torch.tensor([1e-9], dtype=torch.float64))
        assert _is_float(value) and abs(value - 0.2) < 1e-7, (
            f"rel_error([3e-9], [1e-9]) is {value!r}, expected 0.2 = 2e-9 / max(1e-8, 4e-9)")


class TestVectorBackward:
    pytestmark = [pytest.mark.exercise("vector_backward")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v = torch.tensor([1.0, 0.5, -1.0])
        reply = student.call("vector_backward", x, v)
        assert_tensor_close(reply.value, _f64([2.0, 2.0, -6.0]),
                            what="vector_backward(x, v) for x = [1, 2, 3], v = [1, 0.5, -1] (2 * x * v)",
                            dtype=torch.float32, device=device)
        assert reply.args_after[0].grad is not None, "x.grad is None after vector_backward: use y.backward(v)"


class TestDetachedGrads:
    pytestmark = [pytest.mark.exercise("detached_grads")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
        reply = student.call("detached_grads", x)
        out = reply.value
        assert isinstance(out, (tuple, list)) and len(out) == 2, "detached_grads returns (grad_z, grad_y)"
        assert_tensor_close(out[0], _f64([1.0, 4.0, 9.0]), what="grad_z = u = x * x (u is detached; keep a "
                            "copy of x.grad with .clone())", dtype=torch.float32, device=device)
        assert_tensor_close(out[1], _f64([2.0, -4.0, 6.0]), what="grad_y = 2 * x (zero x.grad before the "
                            "second backward)", dtype=torch.float32, device=device)
