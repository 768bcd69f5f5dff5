"""Hidden suite for the ``autograd_basics`` assignment (grader only; never shipped).

Exercises (d2l PyTorch edition §2.1-2.5 and the manual gradient checks of DESIGN §5):
``grid``, ``column_view``, ``axpy_``, ``to_numpy`` (tensors, views, in-place updates, the NumPy
bridge, devices), ``relu_grad``, ``sigmoid_grad``, ``tanh_grad``, ``grad_of_mean_square`` (gradients
by hand, compared with autograd), ``numerical_grad``, ``rel_error`` (the tools of a gradient check),
``vector_backward``, ``detached_grads`` (autograd semantics: non-scalar backward, leaves, ``detach``,
accumulation and zeroing).

Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on the CPU, from fixed seeds
(``SEED`` + a per-test offset); the ``student`` proxy moves them to the device under test.  Values
are compared with the reference computed in float64 -- for the gradients, with autograd in float64
-- with rtol 1e-5, atol 1e-6 for float32 outputs and rtol 1e-10, atol 1e-12 for float64 ones, after
shape, dtype, device and finiteness.  Shapes avoid coincidences (non-square, square, size one).

Decisions documented here:

* Views and memory sharing (``column_view``, ``axpy_``, ``to_numpy``) are checked by behaviour, not
  by pointers: a trusted expression (``student.eval``) changes one tensor in place in the sandbox and
  reads the other back.  That is what "shares memory" means to a student, and it does not depend on
  storage offsets.
* ``grid`` is also called with ``device="meta"`` (inside the sandbox, only its device, shape and
  dtype come back): a grader without a GPU still catches a function that ignores ``device``.
* ``relu_grad`` is never evaluated at exactly 0.  ``sigmoid_grad`` and ``tanh_grad`` must stay finite
  for ``|x|`` up to 1e4; ``1 / (1 + exp(-x))`` with ``s * (1 - s)`` and ``1 / cosh(x) ** 2`` are
  finite there (they round to the right value, 0) and pass; ``exp(-x) / (1 + exp(-x)) ** 2`` and a
  tanh written with ``exp`` give inf / inf = NaN and fail.
* ``numerical_grad`` is graded in float64 with trusted functions (``autograder.sandbox.wire.Code``) chosen
  here: with the default ``eps = 1e-6`` the central difference agrees with autograd to ~1e-9, a
  forward difference is off by ~1e-6 (rtol 1e-6, atol 1e-7 separates them); with an explicit
  ``eps = 1e-2`` the result must equal the exact central difference at that ``eps`` (rtol 1e-8),
  which catches an ignored ``eps``.  ``x`` must hold its original values afterwards (atol 1e-12: a
  restore by ``x[i] += eps ... x[i] -= eps`` arithmetic passes, a forgotten restore is off by eps).
* ``vector_backward`` and ``detached_grads`` are about autograd itself: besides the returned values,
  ``x.grad`` after the call must hold the documented gradient, so an answer that computes the
  values by hand (or with ``torch.autograd.grad``, which does not write ``x.grad``) loses that test.
* ``to_numpy``: a NumPy array stays in the sandbox and comes back as a handle; its type, dtype,
  shape and values are read there by a trusted expression.  On a GPU the array cannot share memory
  with ``x``; the sharing check runs for CPU tensors only.
* The no-autograd tests award their points for a by-hand implementation: the source must not name
  automatic differentiation (:func:`autograder.banned.find_banned`, AST, the first line), the
  function must give correct values on a basic input, and that call, observed in the sandbox, must
  not run an autograd backward pass, forward-mode AD or one of PyTorch's derivative kernels
  (:mod:`autograder.observed`): ``getattr(torch, "auto" + "grad")`` and ``torch.func`` reached
  through ``getattr`` show there, and so does a derivative kernel reached through a computed name
  or a ``grad_fn`` called directly (a ``grad_fn`` of plain arithmetic runs plain ``mul``: the AST
  check bans ``grad_fn`` by name).  ``torch.sigmoid`` and ``torch.tanh`` stay allowed, as in the
  source rules.
"""

import math

import pytest
import torch

from autograder.banned import find_banned
from autograder.public.banned_rules import (MEAN_SQUARE_BANNED, NUMERICAL_BANNED, RELU_BANNED, SIGMOID_BANNED,
                                           TANH_BANNED)
from autograder.compare import (assert_is_tensor, assert_same_shape, assert_scalar_close, assert_tensor_close,
                                describe, first_mismatch, fmt_dtype, fmt_number, fmt_tensor)
from autograder.observed import assert_no_banned_operators, autodiff, ban
from autograder.seeded import SeededInputs
from autograder.student import StudentError
from autograder import inspections
from autograder.sandbox.wire import Code

from shared_recipe import check_input_unchanged

SEED = 20_240_602
_INPUTS = SeededInputs(SEED)
_gen, _randn = _INPUTS.gen, _INPUTS.randn

RTOL, ATOL = 1e-5, 1e-6          # float32 outputs vs the float64 reference (DESIGN §6)
RTOL64, ATOL64 = 1e-10, 1e-12    # float64 outputs must be float64-accurate


def _by_hand_ops(fn: str, formula: str) -> dict:
    """The ATen image of the ``*_BANNED`` tables (:mod:`autograder.public.banned_rules`): automatic
    differentiation, and the derivative kernels (``sigmoid_backward``, ...) that ``torch.ops`` reaches."""
    why = f"{fn} must be written by hand ({formula}), without automatic differentiation."
    return {**autodiff(why),
            **ban("PyTorch's own derivative kernel", f"write {fn} by hand ({formula}).", "*_backward",
                  "*_backward_data")}


RELU_OPS = _by_hand_ops("relu_grad", "1 where X > 0, 0 where X < 0")
SIGMOID_OPS = _by_hand_ops("sigmoid_grad", "s * (1 - s) with s = sigmoid(X)")
TANH_OPS = _by_hand_ops("tanh_grad", "1 - tanh(X) ** 2")
MEAN_SQUARE_OPS = _by_hand_ops("grad_of_mean_square", "6 * (x + 2) / x.numel()")
NUMERICAL_OPS = autodiff(NUMERICAL_BANNED["torch.autograd"])


# ----------------------------------------------------------------------------- helpers


def _tols(dtype):
    return (RTOL64, ATOL64) if dtype == torch.float64 else (RTOL, ATOL)


def _with_hint(error: AssertionError, hint: str):
    raise AssertionError(f"{error} -- {hint}" if hint else str(error)) from None


def _close(actual, expected, rtol=1e-4, atol=1e-6) -> bool:
    """Quiet comparison used to recognise a mistake (never raises)."""
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        return False
    a, e = actual.detach().double(), expected.detach().double()
    return bool(torch.isfinite(a).all()) and bool(torch.isclose(a, e, rtol=rtol, atol=atol).all())


def _check_dtype(out, dtype, what, hint=""):
    """A dtype check with advice for the usual float32 detours (.float(), Python scalars, comparisons)."""
    assert_is_tensor(out, what=what)
    if out.dtype == dtype:
        return
    msg = f"{what} has dtype {fmt_dtype(out.dtype)}, expected {fmt_dtype(dtype)} (the dtype of the input)"
    if out.dtype == torch.bool:
        msg += ": a comparison gives booleans; convert with .to(X.dtype)"
    elif dtype == torch.float64 and out.dtype == torch.float32:
        msg += (": something converted to float32 -- .float(), torch.tensor(...) of Python numbers, or "
                "torch.where(cond, 1.0, 0.0) / (cond) * 1.0 with Python scalars all give float32; use "
                ".to(X.dtype), torch.ones_like(X) or X.new_tensor(...)")
    elif not out.dtype.is_floating_point:
        msg += ": an integer tensor came back; convert with .to(X.dtype)"
    raise AssertionError(msg + (f" -- {hint}" if hint else ""))


def _check_unchanged(state, original, fn, name, hint):
    """The argument must hold its original values after the call (compared exactly)."""
    check_input_unchanged(state, original, fn, name, hint)


def _basic_call(student, fn, args, expected, what, banned_ops):
    """The points of a ban test need a working function: correct values on a basic input, from a call
    that runs none of ``banned_ops`` (observed in the sandbox)."""
    try:
        reply = student.call(fn, *args, observe=True)
        assert_tensor_close(reply.value, expected, rtol=RTOL, atol=ATOL, what=what)
    except AssertionError as error:
        raise AssertionError(f"the points for writing {fn} by hand need a working {fn}: {error}") from None
    assert_no_banned_operators(reply, fn, banned_ops)


def _autograd_grad(fn, x: torch.Tensor) -> torch.Tensor:
    """d sum(fn(x)) / dx in float64 by autograd (trusted code, the parent only)."""
    x64 = x.detach().double().requires_grad_()
    (g,) = torch.autograd.grad(fn(x64).sum(), x64)
    return g


def _eval(student, expr, what, hint="", **bindings):
    """``student.eval`` with a student-facing message when the student's function fails inside it."""
    try:
        return student.eval(expr, **bindings)
    except StudentError as error:
        text = str(error)
        if text.startswith("calling "):
            text = text.split(" raised ", 1)[-1]
        if "NotImplementedError" in text:
            hint = ""
        raise AssertionError(f"{what} raised {text}" + (f" -- {hint}" if hint else "")) from None


# ============================================================================ grid


GRID_CASES = [(3, 4), (1, 5), (4, 1), (2, 2), (5, 3)]


def _grid_hint(out, rows, cols) -> str:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (rows, cols):
        return ""
    n = rows * cols
    base = torch.arange(n, dtype=torch.float64)
    if _close(out, base.reshape(rows, cols) + 1):
        return "the numbers start at 1: torch.arange(n) starts at 0"
    if _close(out, base.reshape(cols, rows).T):
        return ("the numbers run down the columns: row-major order fills row 0 first, "
                "torch.arange(rows * cols).reshape(rows, cols)")
    return ""


class TestGrid:
    pytestmark = [pytest.mark.exercise("grid")]

    @pytest.mark.points(2)
    @pytest.mark.placement
    def test_values(self, student, device):
        """Shape (rows, cols), float32, entries 0 .. rows*cols - 1 row by row, on the requested device
        (catches int64 from torch.arange, swapped rows/cols, column-major order, starting at 1)."""
        for rows, cols in GRID_CASES:
            out = student.grid(rows, cols, device)
            what = f"grid({rows}, {cols}, {device!r})"
            expected = torch.arange(rows * cols, dtype=torch.float64).reshape(rows, cols)
            assert_same_shape(out, expected, what=what,
                              hint=("rows and cols are swapped: the result has `rows` rows of `cols` entries"
                                    if isinstance(out, torch.Tensor) and tuple(out.shape) == (cols, rows) else None))
            if out.dtype != torch.float32:
                raise AssertionError(
                    f"{what} has dtype {fmt_dtype(out.dtype)}, expected float32"
                    + (": torch.arange of ints gives int64; pass dtype=torch.float32"
                       if not out.dtype.is_floating_point else ": ask for dtype=torch.float32"))
            assert_tensor_close(out, expected, rtol=0, atol=0, what=what, dtype=torch.float32, device=device,
                                hint=lambda o, r=rows, c=cols: _grid_hint(o, r, c))

    @pytest.mark.points(1)
    def test_created_on_the_requested_device(self, student):
        """grid(..., "meta") lives on the meta device (a device without data, available on every
        machine): catches a grid that ignores `device` even where no GPU is present."""
        what = "grid(3, 4, 'meta')"
        info = _eval(student, inspections.GRID_META_INFO, what,
                     hint="create the tensor directly with device=device (torch.arange(..., device=device)); "
                          "no .tolist(), .item() or .numpy() of it")
        if len(info) != 4:
            raise AssertionError(f"{what} returned a {info[0]}, expected a torch.Tensor")
        _, dev, dtype, shape = info
        if dev != "meta":
            raise AssertionError(f"{what} is on device {dev}, expected meta: create the tensor on the device "
                                 "named by the argument, e.g. torch.arange(..., device=device), or move it "
                                 "there with .to(device)")
        if tuple(shape) != (3, 4) or dtype != "torch.float32":
            raise AssertionError(f"{what} has shape {tuple(shape)} and dtype {dtype}, expected (3, 4) and "
                                 "torch.float32")


# ============================================================================ column_view


def _column_cases():
    return [
        (_randn((4, 3), 100), 1),
        (_randn((3, 3), 101), 0),                      # square: a row is not a column
        (_randn((1, 5), 102), -1),                     # one row, negative index
        (_randn((5, 1), 103), 0),                      # one column
        (_randn((3, 4), 104, dtype=torch.float64), -2),
        (torch.arange(6, dtype=torch.int64).reshape(2, 3) * 7 - 5, 2),
    ]


def _column_hint(out, X, j) -> str:
    if not isinstance(out, torch.Tensor):
        return ""
    if tuple(out.shape) == (X.shape[0], 1):
        return "X[:, j:j+1] keeps a dimension of size 1: index the column with a single integer, X[:, j]"
    if -X.shape[0] <= j < X.shape[0] and _close(out, X[j].double(), 0, 0):
        return "that is row j (X[j]); the column is X[:, j]"
    return ""


def _column_result(student, X, j, what):
    """column_view(X, j), fetched as a contiguous copy made in the sandbox.

    Work-around: the wire cannot yet encode a size-one view whose stride is not 1 (the column of
    a (1, m) matrix); the copy is made by trusted code after the student's function returned.
    """
    return _eval(student, inspections.COLUMN_VIEW_COPY, what, X=X, j=j)


class TestColumnView:
    pytestmark = [pytest.mark.exercise("column_view")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """Column j (negative j counts from the end) as a 1-D tensor of X's dtype, on X's device; a
        square X tells a row from a column, single-row and single-column X are edge cases."""
        for X, j in _column_cases():
            what = f"column_view(X, {j}) for {fmt_tensor('X', X)}"
            out = _column_result(student, X, j, what)
            assert_same_shape(out, (X.shape[0],), what=what, hint=_column_hint(out, X, j) or None)
            _check_dtype(out, X.dtype, what)
            assert_tensor_close(out, X[:, j].double(), rtol=0, atol=0, what=what, dtype=X.dtype, device=device,
                                hint=lambda o, X=X, j=j: _column_hint(o, X, j))

    @pytest.mark.points(2)
    def test_is_a_view(self, student, device):
        """The result shares X's memory, in both directions: X.mul_(-2) shows in the result, and
        result.add_(100) shows in column j of X and nowhere else, also for a non-contiguous X (the
        transpose A.t() of a stored matrix, made in the sandbox) (catches clone(), contiguous(),
        torch.tensor/torch.stack copies, list indexing, and X.reshape(-1)[j::m] or X.flatten()[...],
        which are views only when X is contiguous)."""
        for X, j in [(_randn((4, 3), 110), 1), (_randn((3, 3), 111), -1)]:
            what = f"column_view(X, {j}) for {fmt_tensor('X', X)}"
            out = _column_result(student, X, j, what)
            assert_tensor_close(out, X[:, j].double(), rtol=0, atol=0, what=what)
            copy_hint = ("the result is a copy, not a view: return X[:, j] itself (basic indexing gives a view); "
                         "clone(), contiguous(), torch.tensor(...), torch.stack(...) and indexing with a list "
                         "copy the data")
            after = _eval(student, inspections.COLUMN_VIEW_AFTER_X_CHANGED, what, X=X, j=j)
            if not _close(after, -2.0 * X[:, j].double(), 0, 0):
                raise AssertionError(f"{what}: after X.mul_(-2.0) the tensor returned by column_view did not "
                                     f"change -- {copy_hint}")
            X_after = _eval(student, inspections.X_AFTER_COLUMN_VIEW_CHANGED, what, X=X, j=j)
            expected = X.double().clone()
            expected[:, j] += 100.0
            if not _close(X_after, expected, 1e-6, 1e-5):
                raise AssertionError(f"{what}: after result.add_(100.0), column {j} of X should have grown by "
                                     f"100 (and nothing else changed) -- {copy_hint}")
        for A, j in [(_randn((3, 4), 120), 1), (_randn((5, 3), 121), -1)]:  # X = A.t() is not contiguous
            X = A.t()
            what = (f"column_view(X, {j}) for a non-contiguous X of shape {tuple(X.shape)} (a transposed matrix, "
                    f"X = A.t())")
            hint = ("basic indexing works on any strides: return X[:, j] itself; reshape, flatten and contiguous() "
                    "copy a non-contiguous X, and view(-1) refuses it")
            out = _eval(student, inspections.COLUMN_VIEW_OF_TRANSPOSED, what, hint=hint, X=A, j=j)
            assert_tensor_close(out, X[:, j].double(), rtol=0, atol=0, what=what, dtype=X.dtype, device=device,
                                hint=lambda o, X=X, j=j: _column_hint(o, X, j))
            copy_hint = ("the result is a copy, not a view, when X is not contiguous: return X[:, j] itself (basic "
                         "indexing gives a view whatever the strides); X.reshape(-1), X.flatten() and "
                         "X.contiguous() copy a non-contiguous X")
            after = _eval(student, inspections.COLUMN_VIEW_OF_TRANSPOSED_AFTER_X_CHANGED, what, hint=hint, X=A, j=j)
            if not _close(after, -2.0 * X[:, j].double(), 0, 0):
                raise AssertionError(f"{what}: after X.mul_(-2.0) the tensor returned by column_view did not "
                                     f"change -- {copy_hint}")
            X_after = _eval(student, inspections.TRANSPOSED_X_AFTER_COLUMN_VIEW_CHANGED, what, hint=hint, X=A, j=j)
            expected = X.double().clone()
            expected[:, j] += 100.0
            if not _close(X_after, expected, 1e-6, 1e-5):
                raise AssertionError(f"{what}: after result.add_(100.0), column {j} of X should have grown by "
                                     f"100 (and nothing else changed) -- {copy_hint}")


# ============================================================================ axpy_


def _axpy_cases():
    """(label, a, x, y): same shape, broadcast x, float64, size one."""
    return [
        ("a = 0.5, x and y of shape (3, 4) (float32)", 0.5, _randn((3, 4), 200), _randn((3, 4), 201)),
        ("a = -2.0, x of shape (4,) broadcast to y of shape (3, 4)", -2.0, _randn((4,), 202), _randn((3, 4), 203)),
        ("a = 3.0, x and y of shape (2, 5) (float64)", 3.0, _randn((2, 5), 204, dtype=torch.float64),
         _randn((2, 5), 205, dtype=torch.float64)),
        ("a = 0.1, x and y of shape (1,)", 0.1, _randn((1,), 206), _randn((1,), 207)),
    ]


def _axpy_call(student, a, x, y):
    try:
        return student.call("axpy_", a, x, y)
    except StudentError as error:
        text = str(error)
        if "leaf Variable that requires grad" in text or "requires grad is being used in an in-place" in text:
            _with_hint(error, "y is a parameter (a leaf that requires grad): do the in-place update inside "
                              "`with torch.no_grad():` so autograd does not record it")
        if "doesn't match the broadcast shape" in text or "must match the size" in text:
            _with_hint(error, "x broadcasts to y's shape, not the other way round: y keeps its shape")
        raise


def _axpy_hint(after, y, a, x) -> str:
    if _close(after, y.double(), 0, 0):
        return ("y did not change: `y = y + a * x` only rebinds the local name y; write into y's memory with "
                "y += a * x, y.add_(x, alpha=a) or y[:] = y + a * x")
    if _close(after, y.double() + x.double()) and a != 1:
        return "the factor a is missing: y += a * x"
    if _close(after, a * x.double() + 0 * y.double()):
        return "y was overwritten with a * x: add to it (y += a * x)"
    return ""


class TestAxpy:
    pytestmark = [pytest.mark.exercise("axpy_")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """After axpy_(a, x, y), y holds y + a * x (same shape, broadcast x, float64, size one)."""
        for label, a, x, y in _axpy_cases():
            reply = _axpy_call(student, a, x, y)
            after = reply.args_after[1].value
            what = f"y after axpy_({label})"
            expected = y.double() + a * x.double()
            rtol, atol = _tols(y.dtype)
            assert_tensor_close(after, expected, rtol=rtol, atol=atol, what=what, dtype=y.dtype, device=device,
                                hint=lambda o, y=y, a=a, x=x: _axpy_hint(o, y, a, x))

    @pytest.mark.points(2)
    def test_in_place(self, student, device):
        """axpy_ returns None, leaves x unchanged and writes into y's own memory: a view of y taken
        before the call sees the update (catches `return y + a * x`, `y.data = ...`, `x *= a`)."""
        for label, a, x, y in _axpy_cases()[:3]:
            reply = _axpy_call(student, a, x, y)
            if reply.value is not None:
                raise AssertionError(
                    f"axpy_({label}) returned {describe(reply.value)}, expected None: a function with a trailing "
                    "underscore updates its argument in place and returns nothing (the caller keeps using y)")
            _check_unchanged(reply.args_after[0], x, "axpy_", "x",
                             "only y may change; compute a * x into a new tensor instead of x *= a or x.mul_(a)")
            what = f"axpy_({label})"
            seen = _eval(student, inspections.VIEW_AFTER_AXPY, what, a=a, x=x, y=y)
            expected = (y.double() + a * x.double()).reshape(-1)
            rtol, atol = _tols(y.dtype)
            if not _close(seen, expected, rtol, atol):
                raise AssertionError(
                    f"{what}: a view of y taken before the call (y.view(-1)) does not see the update, so y was "
                    "given new memory (y.data = ..., y.set_(...)) or not updated: write into y's own memory with "
                    "y += a * x, y.add_(x, alpha=a) or y[:] = y + a * x (the book's Z[:] = X + Y)")

    @pytest.mark.points(1)
    def test_parameter_stays_a_leaf(self, student, device):
        """y may be a parameter (a leaf with requires_grad and a .grad): the update is not recorded by
        autograd (torch.no_grad()), y stays a leaf that requires grad, its .grad is left alone."""
        a, x = -0.25, _randn((2, 3), 210)
        y = _randn((2, 3), 211).requires_grad_()
        y.grad = _randn((2, 3), 212)
        label = "a = -0.25, x of shape (2, 3), y a leaf of shape (2, 3) with requires_grad=True"
        reply = _axpy_call(student, a, x, y)
        state = reply.args_after[1]
        what = f"y after axpy_({label})"
        assert_tensor_close(state.value, y.detach().double() + a * x.double(), rtol=RTOL, atol=ATOL, what=what,
                            device=device, hint=lambda o: _axpy_hint(o, y.detach(), a, x))
        if not state.is_leaf:
            raise AssertionError(f"{what} is no longer a leaf tensor: do the update under `with torch.no_grad():`")
        if not state.requires_grad:
            raise AssertionError(f"{what} no longer requires grad: update it in place under torch.no_grad() "
                                 "instead of detaching it or setting requires_grad=False")
        if state.grad is None or not torch.equal(state.grad.to(y.dtype), y.grad):
            raise AssertionError(f"{what}: y.grad changed (or was removed); axpy_ updates y's values only")


# ============================================================================ to_numpy


def _numpy_info(student, out, what):
    """(module, type name, dtype, values as nested lists) of the student's returned array."""
    if isinstance(out, torch.Tensor):
        raise AssertionError(f"{what} returned a torch.Tensor, expected a NumPy array: convert with .numpy() "
                             "(after .detach() and .cpu())")
    if isinstance(out, (list, tuple, int, float)) or out is None:
        raise AssertionError(f"{what} returned {describe(out)}, expected a NumPy array (x.tolist() gives Python "
                             "lists; .numpy() gives an array)")
    module, name, dtype, values = _eval(student, inspections.ARRAY_MODULE_INFO, what, a=out)
    if module != "numpy" or name != "ndarray":
        raise AssertionError(f"{what} returned a {module}.{name}, expected a numpy.ndarray")
    return dtype, values


def _check_numpy_values(dtype, values, x, what):
    if dtype != fmt_dtype(x.dtype):
        hint = (": np.array(x.tolist()) turns float32 values into float64; x.numpy() keeps the dtype"
                if dtype == "float64" else "")
        raise AssertionError(f"{what} has dtype {dtype}, expected {fmt_dtype(x.dtype)}{hint}")
    got = torch.tensor(values, dtype=torch.float64)
    expected = x.detach().double()
    assert_same_shape(got, expected, what=what)
    assert_tensor_close(got, expected, rtol=0, atol=0, what=what)


class TestToNumpy:
    pytestmark = [pytest.mark.exercise("to_numpy")]

    @pytest.mark.points(2)
    def test_values_and_dtype(self, student, device):
        """A numpy.ndarray with x's shape, values and dtype (float32, float64, int64, a 1x1 tensor),
        from a tensor on the device under test."""
        cases = [_randn((3, 4), 300), _randn((5,), 301, dtype=torch.float64),
                 torch.tensor([[3, -1, 4], [1, -5, 9]], dtype=torch.int64), _randn((1, 1), 302)]
        for x in cases:
            what = f"to_numpy(x) for {fmt_tensor('x', x)}"
            out = student.to_numpy(x)
            dtype, values = _numpy_info(student, out, what)
            _check_numpy_values(dtype, values, x, what)

    @pytest.mark.points(1)
    def test_shares_memory(self, student, device):
        """For a CPU tensor (also one that requires grad) the array shares x's memory: x.detach().add_(1.5)
        shows in the array, and a *= 2 shows in x (catches clone()/copy()/np.array(...) copies)."""
        if device != "cpu":
            return  # a GPU tensor's values have to be copied to the host
        for x in [_randn((2, 3), 310), _randn((4,), 311).requires_grad_()]:
            what = f"to_numpy(x) for {fmt_tensor('x', x)}" + (" with requires_grad=True" if x.requires_grad else "")
            hint = ("the array is a copy: x.detach().cpu().numpy() shares x's memory (for a CPU tensor .cpu() "
                    "and .detach() do not copy); .clone(), .copy(), np.array(...) and .tolist() copy")
            _numpy_info(student, student.to_numpy(x), what)  # an ndarray first
            seen = _eval(student, inspections.ARRAY_AFTER_DETACHED_X_ADDED, what, x=x)
            if not _close(torch.tensor(seen, dtype=torch.float64), x.detach().double() + 1.5, 1e-6, 1e-6):
                raise AssertionError(f"{what}: after x.detach().add_(1.5) the array did not change -- {hint}")
            x_after = _eval(student, inspections.X_AFTER_ARRAY_DOUBLED, what, x=x)
            if not _close(x_after, x.detach().double() * 2, 1e-6, 1e-6):
                raise AssertionError(f"{what}: after a *= 2 on the array, x did not change -- {hint}")

    @pytest.mark.points(1)
    def test_tensor_that_requires_grad(self, student, device):
        """x may require grad (a parameter): x.numpy() refuses, x.detach() first."""
        x = _randn((3, 2), 320).requires_grad_()
        what = f"to_numpy(x) for {fmt_tensor('x', x)} with requires_grad=True"
        try:
            out = student.to_numpy(x)
        except StudentError as error:
            if "requires grad" in str(error):
                _with_hint(error, "detach it first: x.detach().cpu().numpy() (NumPy knows nothing about gradients)")
            raise
        dtype, values = _numpy_info(student, out, what)
        _check_numpy_values(dtype, values, x, what)


# ============================================================================ relu_grad / sigmoid_grad / tanh_grad


def _activation_cases(offset, scale):
    """Inputs with no exact zeros: float32 (4, 3), a single row, float64 (2, 3, 2) and (7,)."""
    return [
        _randn((4, 3), offset, scale=scale),
        _randn((1, 6), offset + 1, scale=scale),
        _randn((2, 3, 2), offset + 2, dtype=torch.float64, scale=scale),
        _randn((7,), offset + 3, dtype=torch.float64, scale=scale, shift=0.3),
    ]


def _reference_derivative(activation, X):
    """The derivative of ``activation`` at X, by autograd in float64."""
    return _autograd_grad(activation, X)


def _activation_values(student, fn, activation, X, device, hint, finite_hint=None):
    reply = student.call(fn, X)
    out = reply.value
    what = f"{fn}(X) for {fmt_tensor('X', X)}"
    expected = _reference_derivative(activation, X)
    assert_same_shape(out, expected, what=what)
    _check_dtype(out, X.dtype, what)
    rtol, atol = _tols(X.dtype)
    assert_tensor_close(out, expected, rtol=rtol, atol=atol, what=what, dtype=X.dtype, device=device,
                        hint=hint, finite_hint=finite_hint)
    return reply


def _relu_hint(out, X) -> str:
    if _close(out, torch.relu(X.double())):
        return "that is relu(X) itself; its derivative is 1 where X > 0 and 0 where X < 0"
    if _close(out, (X < 0).double(), 0, 0):
        return "1 and 0 are swapped: the derivative is 1 where X > 0"
    return ""


class TestReluGrad:
    pytestmark = [pytest.mark.exercise("relu_grad")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """1 where X > 0 and 0 where X < 0, as floats of X's dtype on X's device (never at exactly 0;
        catches boolean results, float32 for float64 input, relu itself)."""
        cases = _activation_cases(400, 2.0) + [torch.tensor([-1e30, -3.0, -1e-20, 1e-20, 0.5, 1e30, 2.0])]
        for X in cases:
            _activation_values(student, "relu_grad", torch.relu, X, device, lambda o, X=X: _relu_hint(o, X))

    @pytest.mark.points(1)
    def test_input_unchanged(self, student, device):
        """relu_grad builds a new tensor: X is not modified (catches X[X > 0] = 1; X[X < 0] = 0; return X)."""
        for X in [_randn((4, 3), 410), _randn((5,), 411, dtype=torch.float64)]:
            reply = student.call("relu_grad", X)
            _check_unchanged(reply.args_after[0], X, "relu_grad", "X",
                             "X[X > 0] = 1 writes into the caller's tensor (the activations a network still "
                             "needs); build a new tensor, e.g. (X > 0).to(X.dtype), or work on X.clone()")

    @pytest.mark.points(1)
    def test_written_by_hand(self, student):
        """No automatic differentiation (AST check, then what a basic call ran), and correct values on a
        basic input."""
        problems = find_banned(student.source, "relu_grad", RELU_BANNED)
        assert not problems, "\n".join(problems)
        X = torch.tensor([[-2.0, 0.5], [3.0, -0.25]])
        _basic_call(student, "relu_grad", (X,), _reference_derivative(torch.relu, X), "relu_grad on a basic input",
                    RELU_OPS)


def _sigmoid_hint(out, X) -> str:
    s = torch.sigmoid(X.double())
    if _close(out, s):
        return "that is sigmoid(X) itself; its derivative is s * (1 - s)"
    if _close(out, 1 - s ** 2):
        return "1 - s ** 2 is the derivative of tanh; for the sigmoid it is s * (1 - s)"
    if _close(out, s * (1 + s)):
        return "check the sign: s * (1 - s)"
    return ""


SIGMOID_FINITE_HINT = ("exp(-x) overflows to inf for large |x| (past about 88 in float32, 709 in float64) and "
                       "inf / inf is NaN: write the derivative as s * (1 - s) with s = torch.sigmoid(X)")


def _check_input_unchanged_reply(reply, X, fn, hint):
    _check_unchanged(reply.args_after[0], X, fn, "X", hint)


class TestSigmoidGrad:
    pytestmark = [pytest.mark.exercise("sigmoid_grad")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """s * (1 - s) with s = sigmoid(X), compared with autograd in float64, for float32 and float64
        inputs of several shapes; X is not modified."""
        for X in _activation_cases(500, 3.0):
            reply = _activation_values(student, "sigmoid_grad", torch.sigmoid, X, device,
                                       lambda o, X=X: _sigmoid_hint(o, X), SIGMOID_FINITE_HINT)
            _check_input_unchanged_reply(reply, X, "sigmoid_grad", "build a new tensor instead of writing into X")

    @pytest.mark.points(2)
    def test_large_inputs_are_stable(self, student, device):
        """Finite and right (essentially 0) for |x| up to 1e4 in float32 and float64 (catches
        exp(-x) / (1 + exp(-x)) ** 2, which gives inf / inf = NaN)."""
        cases = [torch.tensor([-1e4, -1e3, -100.0, -89.0, -30.0, 0.0, 30.0, 89.0, 100.0, 1e3, 1e4]),
                 torch.tensor([[-1e4, -1000.0, -710.0, -40.0], [40.0, 710.0, 1000.0, 1e4]], dtype=torch.float64)]
        for X in cases:
            _activation_values(student, "sigmoid_grad", torch.sigmoid, X, device,
                               lambda o, X=X: _sigmoid_hint(o, X), SIGMOID_FINITE_HINT)

    @pytest.mark.points(1)
    def test_written_by_hand(self, student):
        """No automatic differentiation (AST check, then what a basic call ran), and correct values on a
        basic input."""
        problems = find_banned(student.source, "sigmoid_grad", SIGMOID_BANNED)
        assert not problems, "\n".join(problems)
        X = torch.tensor([[-2.0, 0.5], [3.0, 0.0]])
        _basic_call(student, "sigmoid_grad", (X,), _reference_derivative(torch.sigmoid, X),
                    "sigmoid_grad on a basic input", SIGMOID_OPS)


def _tanh_hint(out, X) -> str:
    t = torch.tanh(X.double())
    if _close(out, t):
        return "that is tanh(X) itself; its derivative is 1 - tanh(X) ** 2"
    if _close(out, 1 - t):
        return "square tanh: 1 - tanh(X) ** 2"
    if _close(out, 1 - X.double() ** 2):
        return "square tanh(X), not X: 1 - tanh(X) ** 2"
    if _close(out, t * (1 - t)) or _close(out, torch.sigmoid(X.double()) * (1 - torch.sigmoid(X.double()))):
        return "s * (1 - s) is the sigmoid's derivative; tanh's is 1 - tanh(X) ** 2"
    return ""


TANH_FINITE_HINT = ("exp(x) overflows to inf for large |x| and inf / inf is NaN: use torch.tanh(X) and "
                    "1 - tanh(X) ** 2")


class TestTanhGrad:
    pytestmark = [pytest.mark.exercise("tanh_grad")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """1 - tanh(X) ** 2, compared with autograd in float64, for float32 and float64 inputs of
        several shapes; X is not modified."""
        for X in _activation_cases(600, 1.5):
            reply = _activation_values(student, "tanh_grad", torch.tanh, X, device,
                                       lambda o, X=X: _tanh_hint(o, X), TANH_FINITE_HINT)
            _check_input_unchanged_reply(reply, X, "tanh_grad", "build a new tensor instead of writing into X")

    @pytest.mark.points(1)
    def test_large_inputs_are_stable(self, student, device):
        """Finite and right for |x| up to 1e4 (catches tanh written with exp, inf / inf = NaN)."""
        cases = [torch.tensor([-1e4, -1e3, -100.0, -45.0, -9.0, 0.0, 9.0, 45.0, 100.0, 1e3, 1e4]),
                 torch.tensor([[-1e4, -800.0, -20.0], [20.0, 800.0, 1e4]], dtype=torch.float64)]
        for X in cases:
            _activation_values(student, "tanh_grad", torch.tanh, X, device, lambda o, X=X: _tanh_hint(o, X),
                               TANH_FINITE_HINT)

    @pytest.mark.points(1)
    def test_written_by_hand(self, student):
        """No automatic differentiation (AST check, then what a basic call ran), and correct values on a
        basic input."""
        problems = find_banned(student.source, "tanh_grad", TANH_BANNED)
        assert not problems, "\n".join(problems)
        X = torch.tensor([[-2.0, 0.5], [3.0, 0.0]])
        _basic_call(student, "tanh_grad", (X,), _reference_derivative(torch.tanh, X), "tanh_grad on a basic input",
                    TANH_OPS)


# ============================================================================ grad_of_mean_square


def _mean_square(x):
    return (3 * (x + 2) ** 2).mean()


def _mean_square_hint(out, x) -> str:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(x.shape):
        return ""
    x64, n = x.double(), x.numel()
    if n > 1 and _close(out, 6 * (x64 + 2)):
        return (f"it is N = {n} times too large: that is the gradient of the SUM; the mean divides by "
                "N = x.numel()")
    if x.dim() > 1 and _close(out, 6 * (x64 + 2) / x.shape[0]):
        return (f"it is divided by len(x) = x.shape[0] = {x.shape[0]}, but the mean is over all "
                f"N = x.numel() = {n} entries")
    if _close(out, 6 * x64 / n) or _close(out, (6 * x64 + 2) / n) or _close(out, 6 * (x64 + 2) ** 2 / n):
        return "check the chain rule: d/dx 3 (x + 2)^2 = 6 (x + 2)"
    if _close(out, 3 * (x64 + 2) / n):
        return "the factor 2 of the power rule is missing: d/dx (x + 2)^2 = 2 (x + 2)"
    return ""


class TestGradOfMeanSquare:
    pytestmark = [pytest.mark.exercise("grad_of_mean_square")]

    @pytest.mark.points(3)
    def test_values(self, student, device):
        """6 (x + 2) / N with N = x.numel(), compared with autograd of mean(3 (x + 2)^2) in float64, for
        a vector, a matrix (N is not len(x)), a single entry and a float64 3-D tensor; x is unchanged."""
        cases = [_randn((5,), 700), _randn((3, 4), 701), _randn((1,), 702),
                 _randn((2, 3, 2), 703, dtype=torch.float64)]
        for x in cases:
            reply = student.call("grad_of_mean_square", x)
            out = reply.value
            what = f"grad_of_mean_square(x) for {fmt_tensor('x', x)}"
            expected = _autograd_grad(_mean_square, x)
            assert_same_shape(out, expected, what=what)
            _check_dtype(out, x.dtype, what)
            rtol, atol = _tols(x.dtype)
            assert_tensor_close(out, expected, rtol=rtol, atol=atol, what=what, dtype=x.dtype, device=device,
                                hint=lambda o, x=x: _mean_square_hint(o, x))
            _check_unchanged(reply.args_after[0], x, "grad_of_mean_square", "x",
                             "build a new tensor instead of writing into x (x += 2 changes the caller's tensor)")

    @pytest.mark.points(1)
    def test_written_by_hand(self, student):
        """No automatic differentiation (AST check, then what a basic call ran), and correct values on a
        basic input."""
        problems = find_banned(student.source, "grad_of_mean_square", MEAN_SQUARE_BANNED)
        assert not problems, "\n".join(problems)
        x = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
        _basic_call(student, "grad_of_mean_square", (x,), _autograd_grad(_mean_square, x),
                    "grad_of_mean_square on a basic input", MEAN_SQUARE_OPS)


# ============================================================================ numerical_grad


# Trusted functions, as source (public, in autograder.inspections; built in the sandbox by
# autograder.sandbox.wire.Code) and as lambdas here.
F_CUBE = inspections.CUBE_SUM_FN
F_WEIGHTED_SIN = inspections.WEIGHTED_SIN_FN
F_LOGSUMEXP = inspections.LOGSUMEXP_FN
F_FLOAT = inspections.FLOAT_SQUARE_SUM_FN
F_EXP2 = inspections.EXP2_SUM_FN


def _trusted(src):
    return eval(src, {"torch": torch, "math": math})  # the grader's own source above, never a student's


AUTOGRAD_TWIN = {F_FLOAT: "lambda x: (x * x).sum()"}  # the same function, differentiable


def _as_tensor_fn(src):
    return _trusted(AUTOGRAD_TWIN.get(src, src))


def _central(src, x, eps):
    """The exact central difference of the trusted ``src`` at x (float64)."""
    f = _trusted(src)
    x = x.double().clone()
    flat, out = x.view(-1), torch.zeros(x.numel(), dtype=torch.float64)
    for i in range(x.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        fp = float(f(x))
        flat[i] = old - eps
        fm = float(f(x))
        flat[i] = old
        out[i] = (fp - fm) / (2 * eps)
    return out.reshape(x.shape)


def _forward(src, x, eps):
    f = _trusted(src)
    x = x.double().clone()
    f0 = float(f(x))
    flat, out = x.view(-1), torch.zeros(x.numel(), dtype=torch.float64)
    for i in range(x.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        out[i] = (float(f(x)) - f0) / eps
        flat[i] = old
    return out.reshape(x.shape)


def _numerical_hint(out, src, x, eps) -> str:
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(x.shape):
        return ""
    central = _central(src, x, eps)
    if _close(out, 2 * central, 1e-5, 1e-6):
        return "it is twice the central difference: divide f(x + eps) - f(x - eps) by 2 * eps"
    if _close(out, central / 2, 1e-5, 1e-6):
        return "it is half the central difference: divide by 2 * eps, not by 4 * eps"
    if _close(out, _forward(src, x, eps), 1e-7, 1e-9) or _close(out, _forward(src, x, -eps), 1e-7, 1e-9):
        return ("that is a one-sided (forward) difference, (f(x + eps) - f(x)) / eps, whose error is about eps; "
                "use the central difference (f(x + eps e_i) - f(x - eps e_i)) / (2 * eps), whose error is about eps^2")
    if eps != 1e-6 and _close(out, _central(src, x, 1e-6), 1e-7, 1e-8):
        return f"the eps argument ({eps:g}) was ignored: use the eps you are given, not 1e-6"
    return ""


def _numerical_call(student, src, x, **kwargs):
    return student.call("numerical_grad", Code(src), x, **kwargs)


class TestNumericalGrad:
    pytestmark = [pytest.mark.exercise("numerical_grad")]

    @pytest.mark.points(3)
    def test_matches_autograd(self, student, device):
        """With the default eps = 1e-6, in float64, the central differences of several functions
        (separable, position-weighted, non-separable, returning a Python float) match autograd to
        rtol 1e-6, atol 1e-7 (a forward difference is off by ~1e-6); shape and dtype of x."""
        cases = [(F_CUBE, _randn((5,), 800, dtype=torch.float64)),
                 (F_WEIGHTED_SIN, _randn((3, 4), 801, dtype=torch.float64)),
                 (F_LOGSUMEXP, _randn((2, 1, 3), 802, dtype=torch.float64)),
                 (F_FLOAT, _randn((1,), 803, dtype=torch.float64, shift=0.7)),
                 (F_CUBE, _randn((2, 3), 804, dtype=torch.float64, scale=2.0))]
        for src, x in cases:
            out = _numerical_call(student, src, x).value
            what = f"numerical_grad(f, x) for f = {src} and {fmt_tensor('x', x)}"
            expected = _autograd_grad(_as_tensor_fn(src), x)
            assert_same_shape(out, expected, what=what)
            _check_dtype(out, x.dtype, what)
            assert_tensor_close(out, expected, rtol=1e-6, atol=1e-7, what=what, dtype=x.dtype, device=device,
                                hint=lambda o, src=src, x=x: _numerical_hint(o, src, x, 1e-6))

    @pytest.mark.points(2)
    def test_uses_eps(self, student, device):
        """With eps = 1e-2 (and 1e-3) the result is exactly the central difference at that eps
        (rtol 1e-8), which differs from the true gradient: catches an ignored eps, one-sided
        differences and a wrong denominator."""
        cases = [(F_EXP2, _randn((4,), 810, dtype=torch.float64), 1e-2),
                 (F_CUBE, _randn((2, 3), 811, dtype=torch.float64), 1e-3)]
        for src, x, eps in cases:
            out = _numerical_call(student, src, x, eps=eps).value
            what = f"numerical_grad(f, x, eps={eps:g}) for f = {src} and {fmt_tensor('x', x)}"
            expected = _central(src, x, eps)
            assert_tensor_close(out, expected, rtol=1e-8, atol=1e-10, what=what, dtype=x.dtype, device=device,
                                hint=lambda o, src=src, x=x, eps=eps: _numerical_hint(o, src, x, eps))

    @pytest.mark.points(1)
    def test_restores_x(self, student, device):
        """x holds its original values when numerical_grad returns (catches a forgotten restore after
        x[i] += eps / x[i] -= 2 * eps)."""
        for src, x in [(F_LOGSUMEXP, _randn((3, 4), 820, dtype=torch.float64)),
                       (F_CUBE, _randn((5,), 821, dtype=torch.float64))]:
            reply = _numerical_call(student, src, x)
            after = reply.args_after[0].value
            what = f"x after numerical_grad(f, x) for f = {src} and {fmt_tensor('x', x)}"
            mismatch = first_mismatch(after, x, rtol=0, atol=1e-12) if after is not None else None
            if mismatch is not None:
                raise AssertionError(
                    f"{what}: x{list(mismatch['index'])} is {fmt_number(mismatch['got'])} instead of "
                    f"{fmt_number(mismatch['expected'])} -- put every entry back after evaluating f at x + eps e_i "
                    "and x - eps e_i (save old = x[i] and assign x[i] = old), or work on x.clone(); the caller's "
                    "x must not change")

    @pytest.mark.points(1)
    def test_float32(self, student, device):
        """float32 x gives a float32 result of x's shape (eps = 1e-2; loose tolerance for float32 rounding)."""
        x = _randn((2, 3), 830, scale=0.8)
        out = _numerical_call(student, F_CUBE, x, eps=1e-2).value
        what = f"numerical_grad(f, x, eps=0.01) for f = {F_CUBE} and {fmt_tensor('x', x)}"
        assert_tensor_close(out, _central(F_CUBE, x, 1e-2), rtol=1e-3, atol=1e-3, what=what, dtype=torch.float32,
                            device=device, hint=lambda o: _numerical_hint(o, F_CUBE, x, 1e-2))

    @pytest.mark.points(1)
    def test_no_autograd(self, student):
        """Only values of f are used, no automatic differentiation (AST check, then what a basic call
        ran); correct on a basic input."""
        problems = find_banned(student.source, "numerical_grad", NUMERICAL_BANNED)
        assert not problems, "\n".join(problems)
        x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        _basic_call(student, "numerical_grad", (Code(F_CUBE), x), 3 * x ** 2, "numerical_grad on a basic input",
                    NUMERICAL_OPS)


# ============================================================================ rel_error


def _rel_error(a, b) -> float:
    a, b = a.double(), b.double()
    return float(((a - b).abs() / torch.clamp(a.abs() + b.abs(), min=1e-8)).max())


def _rel_error_hint(value, a, b) -> str:
    """Name the formula the student's value matches, among the usual wrong ones."""
    if not isinstance(value, float) or math.isnan(value):
        return ""
    a, b = a.double(), b.double()
    num, den = (a - b).abs(), torch.clamp(a.abs() + b.abs(), min=1e-8)
    candidates = [
        ((num / den).mean(), "that is the MEAN of the element-wise errors: take the max"),
        (((a - b) / den).max(), "the numerator needs an absolute value: |a - b|"),
        (((b - a) / den).max(), "the numerator needs an absolute value: |a - b|"),
        ((num / (a.abs() + b.abs() + 1e-8)).max(), "1e-8 is a floor, not an addition: max(1e-8, |a| + |b|)"),
        ((num / (a.abs() + b.abs())).max(), "below 1e-8 the denominator must be 1e-8: max(1e-8, |a| + |b|)"),
        (num.max() / den.max(), "divide element by element first, then take the max of the ratios"),
        ((num / torch.clamp((a + b).abs(), min=1e-8)).max(), "the denominator is |a| + |b|, not |a + b|"),
        ((num / torch.clamp(a.abs(), min=1e-8)).max(), "the denominator is max(1e-8, |a| + |b|), not |a|"),
    ]
    for candidate, hint in candidates:
        c = float(candidate)
        if math.isfinite(c) and abs(value - c) <= 1e-6 * abs(c) + 1e-12 and abs(value - _rel_error(a, b)) > 1e-9:
            return hint
    return ""


def _check_rel_error(out, a, b, what):
    expected = _rel_error(a, b)
    if isinstance(out, float) and math.isnan(out):
        raise AssertionError(f"{what} is nan, expected {fmt_number(expected)}: where a and b are both 0 the ratio is "
                             "0 / 0; divide by max(1e-8, |a| + |b|) (torch.clamp(..., min=1e-8)) so those entries "
                             "count as error 0")
    try:
        assert_scalar_close(out, expected, what=what, rtol=1e-5, atol=1e-12, kind=float)
    except AssertionError as error:
        _with_hint(error, _rel_error_hint(out, a, b))


class TestRelError:
    pytestmark = [pytest.mark.exercise("rel_error")]

    @pytest.mark.points(1)
    def test_returns_python_float(self, student, device):
        """A Python float (not a 0-d tensor), with the right value."""
        a = _randn((4, 3), 900)
        b = a + _randn((4, 3), 901, scale=1e-3)
        _check_rel_error(student.rel_error(a, b), a, b, f"rel_error(a, b) for {fmt_tensor('a', a)} and b close to a")

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """max |a - b| / max(1e-8, |a| + |b|): random tensors, one differing entry (max, not mean), a < b
        everywhere (|a - b|), opposite signs (|a| + |b|, not |a + b|), one entry, float64."""
        a1 = _randn((6,), 910, dtype=torch.float64)
        b1 = a1.clone()
        b1[3] += 0.5
        a3 = _randn((2, 3), 912, dtype=torch.float64)
        cases = [
            ("random a, b of shape (4, 3)", _randn((4, 3), 911), _randn((4, 3), 915)),
            ("a, b of shape (6,) equal except at index 3", a1, b1),
            ("a < b everywhere", a3, a3 + torch.tensor([[0.1, 0.5, 0.2], [0.05, 0.3, 0.7]], dtype=torch.float64)),
            ("entries of opposite signs", torch.tensor([1.0, -2.0, 3.0, 0.5]), torch.tensor([-1.0, 2.5, 3.0, 0.25])),
            ("a, b of shape (1,)", torch.tensor([2.0]), torch.tensor([1.5])),
        ]
        for label, a, b in cases:
            _check_rel_error(student.rel_error(a, b), a, b, f"rel_error(a, b) for {label}")

    @pytest.mark.points(1)
    def test_entries_both_zero(self, student, device):
        """Entries where a and b are both 0 count as error 0, not 0 / 0 = NaN; all zeros gives 0.0."""
        cases = [("a = [0, 0, 1, 2], b = [0, 0, 1.5, 2]", torch.tensor([0.0, 0.0, 1.0, 2.0]),
                  torch.tensor([0.0, 0.0, 1.5, 2.0])),
                 ("a = b = zeros of shape (2, 3)", torch.zeros(2, 3), torch.zeros(2, 3))]
        for label, a, b in cases:
            _check_rel_error(student.rel_error(a, b), a, b, f"rel_error(a, b) for {label}")

    @pytest.mark.points(1)
    def test_tiny_values(self, student, device):
        """Below 1e-8 the denominator is 1e-8: a = [3e-9, 1], b = [1e-9, 1] gives 2e-9 / 1e-8 = 0.2
        (catches + 1e-8 in place of max(1e-8, ...))."""
        a = torch.tensor([3e-9, 1.0], dtype=torch.float64)
        b = torch.tensor([1e-9, 1.0], dtype=torch.float64)
        _check_rel_error(student.rel_error(a, b), a, b, "rel_error(a, b) for a = [3e-9, 1.0], b = [1e-9, 1.0]")


# ============================================================================ vector_backward


def _vector_cases():
    return [
        (_randn((4,), 1000), _randn((4,), 1001)),
        (_randn((3, 2), 1002), _randn((3, 2), 1003)),
        (_randn((1,), 1004, shift=0.5), _randn((1,), 1005, shift=-1.0)),
        (_randn((2, 3), 1006, dtype=torch.float64), _randn((2, 3), 1007, dtype=torch.float64)),
    ]


def _vector_call(student, x, v):
    try:
        return student.call("vector_backward", x.clone().requires_grad_(), v)
    except StudentError as error:
        if "implicitly created only for scalar outputs" in str(error):
            _with_hint(error, "y = x * x is a vector: y.backward() needs the vector it multiplies the Jacobian "
                              "with, y.backward(v) (or use (y * v).sum().backward())")
        raise


def _vector_hint(out, x, v) -> str:
    x64, v64 = x.double(), v.double()
    if _close(out, 2 * x64):
        return "that is the gradient of y.sum() (v = ones): pass v to backward, y.backward(v)"
    if _close(out, x64 * v64):
        return "the factor 2 is missing: d(x * x)/dx = 2 x"
    if _close(out, v64):
        return "that is v itself: back-propagate v through y = x * x"
    return ""


class TestVectorBackward:
    pytestmark = [pytest.mark.exercise("vector_backward")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """The returned gradient is 2 * x * v (the gradient of (v * y).sum()), for vectors, a matrix,
        one entry and float64, with x's dtype and device."""
        for x, v in _vector_cases():
            reply = _vector_call(student, x, v)
            what = f"vector_backward(x, v) for {fmt_tensor('x', x)} (a leaf with requires_grad=True)"
            rtol, atol = _tols(x.dtype)
            assert_tensor_close(reply.value, 2 * x.double() * v.double(), rtol=rtol, atol=atol, what=what,
                                dtype=x.dtype, device=device, hint=lambda o, x=x, v=v: _vector_hint(o, x, v))

    @pytest.mark.points(1)
    def test_x_grad_is_set(self, student, device):
        """After the call x.grad holds 2 * x * v: the gradient was computed by backward into the leaf x
        (catches torch.autograd.grad, which does not write x.grad, and answers computed by hand)."""
        for x, v in _vector_cases()[:2]:
            reply = _vector_call(student, x, v)
            grad = reply.args_after[0].grad
            what = f"x.grad after vector_backward(x, v) for {fmt_tensor('x', x)}"
            if grad is None:
                raise AssertionError(
                    f"{what} is None: compute the gradient with y.backward(v), which stores it in x.grad "
                    "(torch.autograd.grad returns it without storing it, and a formula by hand skips autograd)")
            assert_tensor_close(grad, 2 * x.double() * v.double(), rtol=RTOL, atol=ATOL, what=what,
                                device=device, hint=lambda o, x=x, v=v: _vector_hint(o, x, v))


# ============================================================================ detached_grads


def _detached_cases():
    return [_randn((4,), 1100, scale=1.5), _randn((2, 3), 1101, dtype=torch.float64, scale=1.5),
            _randn((1,), 1102, shift=-0.8)]


def _grad_z_hint(out, x) -> str:
    x64 = x.double()
    if _close(out, 3 * x64 ** 2):
        return ("3 x^2 is the gradient of (x * x) * x: u was not detached, so the gradient also flowed "
                "through u; use u = y.detach()")
    if _close(out, 2 * x64) or _close(out, x64 ** 2 + 2 * x64) or _close(out, 3 * x64 ** 2 + 2 * x64):
        return ("grad_z changed after the second backward: it is the very tensor x.grad, which is zeroed "
                "and refilled in place; keep a copy, grad_z = x.grad.clone()")
    return ""


def _grad_y_hint(out, x) -> str:
    x64 = x.double()
    if _close(out, x64 ** 2 + 2 * x64) or _close(out, 3 * x64 ** 2 + 2 * x64):
        return ("the first gradient is still in it: backward ADDS to x.grad, so zero it between the two "
                "backward calls (x.grad.zero_())")
    return ""


def _detached_call(student, x):
    try:
        return student.call("detached_grads", x.clone().requires_grad_())
    except StudentError as error:
        if "NoneType" in str(error):
            _with_hint(error, "x.grad is None until a backward call reaches x")
        if "backward through the graph a second time" in str(error):
            _with_hint(error, "u was not detached: z = u * x then contains y's graph, which z.sum().backward() "
                              "uses and frees, so y.sum().backward() fails; with u = y.detach() z's graph does "
                              "not include y's")
        raise


class TestDetachedGrads:
    pytestmark = [pytest.mark.exercise("detached_grads")]

    @pytest.mark.points(3)
    def test_values(self, student, device):
        """Returns (grad_z, grad_y) = (x * x, 2 * x): u = y.detach() stops the gradient, x.grad is zeroed
        between the two backward calls, and grad_z is a copy (catches a missing detach, a missing
        zero_() and a grad_z that aliases x.grad)."""
        for x in _detached_cases():
            reply = _detached_call(student, x)
            out = reply.value
            what = f"detached_grads(x) for {fmt_tensor('x', x)}"
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise AssertionError(f"{what} returned {describe(out)}, expected a tuple (grad_z, grad_y) of two "
                                     "tensors")
            rtol, atol = _tols(x.dtype)
            x64 = x.double()
            assert_tensor_close(out[0], x64 * x64, rtol=rtol, atol=atol, what=f"grad_z of {what}", dtype=x.dtype,
                                device=device, hint=lambda o, x=x: _grad_z_hint(o, x))
            assert_tensor_close(out[1], 2 * x64, rtol=rtol, atol=atol, what=f"grad_y of {what}", dtype=x.dtype,
                                device=device, hint=lambda o, x=x: _grad_y_hint(o, x))

    @pytest.mark.points(1)
    def test_x_grad_after(self, student, device):
        """Afterwards x.grad holds grad_y = 2 * x: both gradients came from backward into x."""
        for x in _detached_cases()[:2]:
            reply = _detached_call(student, x)
            grad = reply.args_after[0].grad
            what = f"x.grad after detached_grads(x) for {fmt_tensor('x', x)}"
            if grad is None:
                raise AssertionError(
                    f"{what} is None: compute both gradients with backward (z.sum().backward(), then "
                    "y.sum().backward()), which store them in x.grad; torch.autograd.grad and formulas by "
                    "hand leave x.grad empty")
            assert_tensor_close(grad, 2 * x.double(), rtol=RTOL, atol=ATOL, what=what, device=device,
                                hint=lambda o, x=x: _grad_y_hint(o, x))
