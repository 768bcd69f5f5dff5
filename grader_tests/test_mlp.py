"""Hidden suite for the ``mlp`` assignment (grader only; never shipped).

Exercises: ``relu``, ``sigmoid``, ``tanh`` (element-wise, from elementary operations),
``mlp_forward`` (DESIGN §5), ``init_mlp_params``, ``train_mlp``, ``build_concise_mlp`` and
``train_concise_mlp``.  Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on
the CPU, from fixed seeds (``SEED`` + a per-test offset); the ``student`` proxy moves them to the
device under test.  Values are compared with the reference computed in float64 (rtol 1e-5,
atol 1e-6 for float32 outputs; rtol 1e-10, atol 1e-12 for float64 ones), after shape, dtype,
device and finiteness.  Gradients: the child back-propagates a random cotangent through the
student's function and the input gradients are compared with autograd through the reference.

Decisions documented here:

* Activations are never evaluated at a kink: the random inputs contain no exact 0 (``relu``'s
  gradient at 0 is never tested) and neither do the inputs of the gradient tests of ``sigmoid`` and
  ``tanh`` -- an ``exp(-|x|)`` formulation, whose autograd gradient at exactly 0 is 0 because
  ``abs'(0) = 0``, is correct everywhere else and passes.  Values at exactly 0 are tested.
* Stability of ``sigmoid`` / ``tanh`` is tested on float32 inputs up to 1e4 in magnitude, for the
  values (2 points: ``exp(x) / (1 + exp(x))`` and ``(e^x - e^-x) / (e^x + e^-x)`` give NaN) and
  separately for the gradient (1 point).  The book-style ``1 / (1 + exp(-x))`` has correct values
  in float32 (``1 / (1 + inf) = 0``) but its autograd gradient for x below about -88 is NaN
  (``-1/u^2 = -0`` times ``exp(-x) = inf``), so it loses exactly that gradient point, with a
  message saying why; the same holds for ``torch.where`` over two branches, one of which
  overflows (``torch.where`` back-propagates ``0 * inf = NaN`` through the unused branch).
* ``mlp_forward`` may (should) call the student's own ``relu``, as the book does.  A wrong ``relu``
  then also costs ``mlp_forward`` points; the messages of ``mlp_forward`` say so when the student's
  ``relu`` is itself wrong.  The ban on built-in activations (``torch.relu``, ``F.relu``,
  ``nn.ReLU``, ``Tensor.relu``, anything from ``torch.nn``) follows calls into the student's helpers,
  ``relu`` included.
* ``init_mlp_params`` is called with ``seed=`` (reproducible) and judged on properties, not on
  values (``torch.randn(...) * 0.01`` and ``torch.normal(0, 0.01, size)`` draw different numbers):
  shapes and float32; weights with mean ~0, standard deviation in [0.009, 0.011] and a normal
  (not uniform) spread; biases exactly 0; every parameter a leaf that requires grad.
* Training (``train_mlp``, ``train_concise_mlp``) is graded on a seeded synthetic data set built
  here: 8x8 "images" of 10 classes, each a random binary template plus N(0, 1) noise (and a second
  set of 4 classes with inputs of shape (2, 5, 5), so that hard-coded sizes fail).  After a short
  run (500 examples, 10 epochs of minibatches of 32; about 0.05 s on one CPU thread for the
  reference) the grader measures the accuracy on 500 held-out examples with the REFERENCE forward
  pass on the returned tensors (``train_mlp``) or with the student's trained module
  (``train_concise_mlp``), and requires at least 0.85 (the reference reaches 0.94-0.97 over seeds;
  untrained models sit at ~0.10, a forgotten ``zero_grad`` or a summed loss at <= 0.45).
  ``train_concise_mlp`` trains a model the grader builds in the sandbox (default PyTorch
  initialisation), so it does not depend on the student's ``build_concise_mlp``.
* The minibatches are judged by their outcome, never by anything recorded in the sandbox (the
  student's code could rewrite a record there): on 3 DISTINCT examples, batch_size 2 and 2 epochs,
  minibatch SGD can only end at a few points (which examples share a minibatch, in which order the
  minibatches come), and ``shared_minibatches`` computes all of them here in float64 from the initial
  parameters -- for ``train_mlp`` the list the same call returns with lr = 0 and the same seed (the
  same initial draws), for ``train_concise_mlp`` the grader's model read before the call.  The
  trained parameters must match one of them (rtol 1e-4, atol 1e-5); otherwise the message names the
  typical wrong loop they match (full batch, last minibatch dropped, another number of epochs, a
  summed loss, ...).  Any order, a forward pass written out instead of ``mlp_forward``,
  ``DataLoader`` without ``drop_last``, all pass there.  The contract of ``train_mlp`` needs every
  class present (``q = int(y.max()) + 1``), so its 3 examples have 3 classes; a data set of a single
  example (label 0) must also not fail.  Every training test above uses lr = 0.5, so the same check
  runs once more with lr = 0.2 (``test_uses_lr``: a hard-coded learning rate fails it, and for
  ``train_mlp``, whose initial parameters are read with lr = 0, two calls that agree for lr = 0 and
  lr > 0 are reported as such).
* Shuffling is read from the outcome too: 4 runs on 4 distinct examples of 4 classes (minibatches of
  2, 3 epochs), the global generator seeded differently before each; each run's parameters match
  exactly one of the 216 possible runs (they are at least ~500 tolerances apart on this data), which
  tells which minibatches it took (``shared_minibatches.judge_shuffling``).  Stored order in every
  epoch of every run (no shuffling), or one order repeated in every epoch of every run (a shuffle
  before the epoch loop), fails; a correct loop does so with probability 6^-12 or 36^-4.
* Reseeding inside a function (the notebook forbids it: the grader seeds the global generator
  before each call) is caught by outcome: ``init_mlp_params`` and ``train_mlp`` (lr = 0, so its
  initial parameters) return the same tensors for two different seeds, ``train_concise_mlp`` ends
  three differently seeded runs from the same model at the same parameters (unless they kept the
  stored order: that is the shuffling test's).
* ``build_concise_mlp`` is checked on the live module through ``student.eval``: four children
  ``Flatten, Linear(d, h), ReLU, Linear(h, q)``, weights ~ N(0, 0.01^2) (biases free: the book keeps
  PyTorch's default), and its output against the reference forward pass computed with the
  module's own parameters.
* The no-shortcut tests award their points for a from-scratch implementation: the source must not
  name a shortcut (:func:`autograder.banned.find_banned`, AST, the first line), the function must
  run and give correct values on a basic input, and that call, observed in the sandbox, must not
  dispatch a built-in activation kernel (:mod:`autograder.observed`; ``getattr(torch, "re" + "lu")``
  and a computed ``torch.special.expit`` run ``aten.relu`` and ``aten.sigmoid``).  The ``*_OPS``
  tables are the ATen image of the ``*_BANNED`` ones: the kernels of ``torch.relu/sigmoid/tanh`` and
  of every activation in ``torch.nn``; ``torch.exp``, ``torch.where``, ``torch.maximum``, ``clamp``,
  ``abs``, ``expm1``, ``logaddexp`` stay allowed.  In ``mlp_forward`` only the ReLU-like kernels are
  banned (``torch.sigmoid`` and ``torch.tanh`` are not, in its source either).
"""

import math

import pytest
import torch

from autograder import inspections
from autograder.banned import find_banned
from autograder.public.banned_rules import ACTIVATION_BANNED, MLP_FORWARD_BANNED
from autograder.compare import (assert_is_tensor, assert_same_shape, assert_tensor_close, describe, fail_with_hint,
                                first_mismatch, fmt_dtype, fmt_number, fmt_shape, fmt_tensor)
from autograder.observed import assert_no_banned_operators, ban
from autograder.seeded import SeededInputs

from autograder.student import StudentError
from autograder.sandbox.wire import origin_device

from shared_minibatches import judge_shuffling, judge_training, matching_epochs, stored_order_epoch
from shared_recipe import (DETACHED_HINT, argument_state, check_gradient, check_input_unchanged, check_no_builtin,
                           float64_hint, gradient_of)

SEED = 20_240_611
_INPUTS = SeededInputs(SEED)
_gen, _randn = _INPUTS.gen, _INPUTS.randn

RTOL, ATOL = 1e-5, 1e-6
RTOL64, ATOL64 = 1e-10, 1e-12

_ELEMENTARY = "write it from elementary tensor operations (torch.exp, torch.where, torch.maximum, clamp, ...)"
# The kernels of the activations in torch.nn (F.relu6 and F.hardtanh run hardtanh, F.selu runs elu,
# F.logsigmoid runs log_sigmoid_forward, F.prelu runs _prelu_kernel, ...); each can give max(x, 0).
_RELU_LIKE_OPS = ("relu", "relu_", "threshold", "threshold_", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_",
                  "elu", "elu_", "celu", "celu_", "gelu", "gelu_", "silu", "silu_", "mish", "mish_", "softplus",
                  "softshrink", "hardshrink", "hardsigmoid", "hardsigmoid_", "hardswish", "hardswish_",
                  "log_sigmoid_forward", "rrelu_with_noise", "rrelu_with_noise_", "_prelu_kernel", "prelu", "glu")
ACTIVATION_OPS = ban("PyTorch's built-in activation kernel", f"{_ELEMENTARY}.",
                     *_RELU_LIKE_OPS, "sigmoid", "sigmoid_", "tanh", "tanh_")
MLP_FORWARD_OPS = ban("PyTorch's built-in activation kernel", "build the network from tensor operations "
                      "(X @ W1 + b1) and your own relu, as the book does.", *_RELU_LIKE_OPS)

RESEED_HINT = ("the function seeds the generator itself (torch.manual_seed inside it?), so every call draws the "
               "same numbers; draw from torch's global generator without reseeding it (the grader seeds it "
               "before each call)")

# Training runs: data, hyper-parameters, threshold (see the module docstring).
TRAIN_TIMEOUT = 10.0
MIN_ACCURACY = 0.85


# ----------------------------------------------------------------------------- helpers


INPLACE_ADVICE = ("use out-of-place operations (torch.where(...), X * mask, torch.maximum(...), not X[X < 0] = 0 "
                  "or X.clamp_(...)) so the caller's tensor is left unchanged")


# ============================================================================ activations


ACTIVATION_SHAPES = [(4, 3), (5, 5), (1, 7), (2, 3, 4), (6,)]

# Magnitudes around float32's exp overflow (~88.7) and far past it, both signs, and exactly 0.
LARGE_VALUES = [-1e4, -1000.0, -100.0, -89.0, -88.0, -50.0, -20.0, -1.5, 0.0, 0.75, 20.0, 50.0, 88.0,
                89.0, 100.0, 1000.0, 1e4]
LARGE_GRAD_VALUES = [v for v in LARGE_VALUES if v != 0.0]

STABILITY_HINTS = {
    "sigmoid": ("exp overflows to inf in float32 past about 88, and inf / inf is NaN (exp(x) / (1 + exp(x)) "
                "for large x, for example): exponentiate only -|x| (a number <= 0) and pick the formula by "
                "the sign of x -- 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0"),
    "tanh": ("exp overflows to inf in float32 past about 88, and inf / inf or inf - inf is NaN "
             "((e^x - e^-x) / (e^x + e^-x) for large |x|, for example): use that tanh is odd and write it "
             "with exp(-2|x|) <= 1 only, e.g. (1 - exp(-2x)) / (1 + exp(-2x)) for x >= 0 and -tanh(-x) "
             "for x < 0 (or 2 * sigmoid(2x) - 1 with a stable sigmoid)"),
}
GRADIENT_STABILITY_HINTS = {
    "sigmoid": ("the values may be right, but back-propagation goes through every intermediate result: "
                "in 1 / (1 + exp(-x)) for x far below 0, exp(-x) is inf and autograd computes 0 * inf = NaN; "
                "and torch.where(cond, a, b) back-propagates through BOTH a and b (multiplying by 0 does not "
                "remove a NaN), so both branches must stay finite for every input. Exponentiate only -|x| "
                "(z = exp(-|x|) is in (0, 1]): 1 / (1 + z) where x >= 0 and z / (1 + z) where x < 0"),
    "tanh": ("the values may be right, but back-propagation goes through every intermediate result: "
             "an exp that overflows to inf gives 0 * inf = NaN in the gradient, and torch.where(cond, a, b) "
             "back-propagates through BOTH a and b, so both branches must stay finite for every input. "
             "Exponentiate only -2|x| (z = exp(-2|x|) is in (0, 1]) and restore the sign of x"),
}


def _activation_what(fn, X, extra=""):
    return f"{fn}(X) for {fmt_tensor('X', X)}{extra}"


def _relu_hint(out, X) -> str:
    if not isinstance(out, torch.Tensor) or out.shape != X.shape or not torch.isfinite(out).all():
        return ""
    o, x = out.double(), X.double()
    if torch.equal(o, (x > 0).double()):
        return "it returns 1 where X > 0 and 0 elsewhere (the derivative of relu): return max(X, 0) itself"
    if torch.allclose(o, x.abs()):
        return "it returns |X|: negative entries must become 0, not change sign"
    if torch.allclose(o, torch.minimum(x, torch.zeros_like(x))):
        return "it keeps the negative entries and zeroes the positive ones: relu keeps x where x > 0"
    return ""


def _sigmoid_hint(out, X) -> str:
    if not isinstance(out, torch.Tensor) or out.shape != X.shape or not torch.isfinite(out).all():
        return ""
    x, o = X.double(), out.double()
    if torch.allclose(o, 1 / (1 + torch.exp(x)), rtol=1e-4, atol=1e-6):
        return "it equals 1 / (1 + exp(+x)), that is sigmoid(-x): the exponent is -x"
    if torch.allclose(o, torch.exp(-x) / (1 + torch.exp(-x)), rtol=1e-4, atol=1e-6):
        return "it equals exp(-x) / (1 + exp(-x)), that is sigmoid(-x): check the signs"
    return ""


def _tanh_hint(out, X) -> str:
    if not isinstance(out, torch.Tensor) or out.shape != X.shape or not torch.isfinite(out).all():
        return ""
    x, o = X.double(), out.double()
    if torch.allclose(o, torch.tanh(x / 2), rtol=1e-4, atol=1e-6):
        return "it equals tanh(x / 2): the identity is tanh(x) = 2 * sigmoid(2x) - 1 (note the 2x)"
    if torch.allclose(o, -torch.tanh(x), rtol=1e-4, atol=1e-6):
        return "it has the opposite sign of tanh(x): check the signs of the exponents"
    if torch.allclose(o, 1 / (1 + torch.exp(-x)), rtol=1e-4, atol=1e-6):
        return "it equals sigmoid(x): tanh(x) = 2 * sigmoid(2x) - 1 ranges over (-1, 1)"
    return ""


VALUE_HINTS = {"relu": _relu_hint, "sigmoid": _sigmoid_hint, "tanh": _tanh_hint}


# (k, shape): the k-th random input of a values test; each is one instance of the test
ACTIVATION_CASES = pytest.mark.parametrize("k, shape", list(enumerate(ACTIVATION_SHAPES)),
                                           ids=[str(s) for s in ACTIVATION_SHAPES])
GRADIENT_CASES = pytest.mark.parametrize("k, shape", list(enumerate([(4, 3), (2, 3, 4)])),
                                         ids=["(4, 3)", "(2, 3, 4)"])


def _check_activation_values(student, reference, device, fn, X):
    """Values on a random float32 input with no exact zero (never at relu's kink), input unchanged."""
    assert bool((X != 0).all())
    reply = student.call(fn, X)
    assert_tensor_close(reply.value, getattr(reference, fn)(X.double()), rtol=RTOL, atol=ATOL,
                        what=_activation_what(fn, X), dtype=X.dtype, device=device,
                        hint=lambda o: VALUE_HINTS[fn](o, X))
    check_input_unchanged(argument_state(reply), X, fn, "X", INPLACE_ADVICE)


def _check_activation_float64(student, reference, device, fn, offset):
    X = _randn((6, 4), offset, dtype=torch.float64, scale=3.0)
    out = student.call(fn, X).value
    expected = getattr(reference, fn)(X)
    assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                        what=_activation_what(fn, X),
                        hint=lambda o: float64_hint(o, expected) or VALUE_HINTS[fn](o, X))


def _check_activation_gradient(student, reference, device, fn, X, C, what, finite_hint=None):
    check_gradient(student, getattr(reference, fn), fn, X, C, what=what, device=device,
                   shape_what=_activation_what(fn, X), finite_hint=finite_hint, rtol=RTOL, atol=ATOL)


def _check_large_values(student, reference, device, fn):
    X = torch.tensor(LARGE_VALUES, dtype=torch.float32)
    out = student.call(fn, X).value
    expected = getattr(reference, fn)(X.double())
    assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, dtype=X.dtype, device=device,
                        what=_activation_what(fn, X, " with entries from -1e4 to 1e4"),
                        finite_hint=STABILITY_HINTS[fn], hint=lambda o: VALUE_HINTS[fn](o, X))


def _check_large_gradient(student, reference, device, fn, offset):
    X = torch.tensor(LARGE_GRAD_VALUES, dtype=torch.float32)
    C = _randn(X.shape, offset)
    _check_activation_gradient(student, reference, device, fn, X, C,
                               what=f"the gradient of {fn} w.r.t. X for {fmt_tensor('X', X)} with entries from -1e4 "
                                    "to 1e4 (random cotangent)",
                               finite_hint=GRADIENT_STABILITY_HINTS[fn])


def _check_no_builtin(student, reference, fn, offset):
    X = _randn((3, 4), offset, scale=2.0)
    check_no_builtin(student, fn, ACTIVATION_BANNED, ACTIVATION_OPS, (X,), getattr(reference, fn)(X.double()),
                     what=_activation_what(fn, X) + " (a basic input)")


class TestRelu:
    pytestmark = [pytest.mark.exercise("relu")]

    @pytest.mark.points(2)
    @ACTIVATION_CASES
    def test_values(self, student, reference, device, k, shape):
        """max(X, 0) element-wise for 1-D, 2-D (square, batch of one) and 3-D float32 inputs: shape,
        dtype, device, values, input left unchanged."""
        _check_activation_values(student, reference, device, "relu", _randn(shape, 100 + k, scale=3.0))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs give float64 results (catches torch.zeros(X.shape) compared in float32, .float())."""
        _check_activation_float64(student, reference, device, "relu", 150)

    @pytest.mark.points(1)
    @GRADIENT_CASES
    def test_gradient(self, student, reference, device, k, shape):
        """The gradient w.r.t. X (1 where X > 0, 0 where X < 0; never at 0) matches autograd on the reference."""
        X = _randn(shape, 160 + k, scale=3.0)
        C = _randn(shape, 170 + k)
        _check_activation_gradient(student, reference, device, "relu", X, C,
                                   what=f"the gradient of relu w.r.t. X ({fmt_tensor('X', X)}, random cotangent)")

    @pytest.mark.points(1)
    def test_no_builtin_relu(self, student, reference):
        """relu uses no built-in activation (torch.relu, F.relu, Tensor.relu, nn.ReLU; AST check) and works."""
        _check_no_builtin(student, reference, "relu", 180)


class TestSigmoid:
    pytestmark = [pytest.mark.exercise("sigmoid")]

    @pytest.mark.points(2)
    @ACTIVATION_CASES
    def test_values(self, student, reference, device, k, shape):
        """1 / (1 + exp(-x)) element-wise on moderate float32 inputs of several shapes: shape, dtype,
        device, values, input left unchanged (catches a sign error in the exponent)."""
        _check_activation_values(student, reference, device, "sigmoid", _randn(shape, 200 + k, scale=3.0))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs give float64 results computed in float64."""
        _check_activation_float64(student, reference, device, "sigmoid", 250)

    @pytest.mark.points(2)
    def test_large_inputs(self, student, reference, device):
        """Finite, correct values for float32 inputs up to 1e4 in magnitude and at 0 (catches
        exp(x) / (1 + exp(x)), which gives inf / inf = NaN)."""
        _check_large_values(student, reference, device, "sigmoid")

    @pytest.mark.points(1)
    @GRADIENT_CASES
    def test_gradient(self, student, reference, device, k, shape):
        """The gradient w.r.t. X of moderate inputs matches autograd on the reference."""
        X = _randn(shape, 260 + k, scale=3.0)
        C = _randn(shape, 270 + k)
        _check_activation_gradient(student, reference, device, "sigmoid", X, C,
                                   what=f"the gradient of sigmoid w.r.t. X ({fmt_tensor('X', X)}, random cotangent)")

    @pytest.mark.points(1)
    def test_gradient_large_inputs(self, student, reference, device):
        """The gradient stays finite and correct for float32 inputs up to 1e4 in magnitude (catches
        1 / (1 + exp(-x)), whose autograd gradient is 0 * inf = NaN below about -88)."""
        _check_large_gradient(student, reference, device, "sigmoid", 275)

    @pytest.mark.points(1)
    def test_no_builtin_sigmoid(self, student, reference):
        """sigmoid uses no built-in activation (torch.sigmoid, F.sigmoid, torch.special.expit, torch.tanh,
        nn.Sigmoid; AST check) and works."""
        _check_no_builtin(student, reference, "sigmoid", 280)


class TestTanh:
    pytestmark = [pytest.mark.exercise("tanh")]

    @pytest.mark.points(2)
    @ACTIVATION_CASES
    def test_values(self, student, reference, device, k, shape):
        """tanh element-wise on moderate float32 inputs of several shapes: shape, dtype, device, values,
        input left unchanged (catches 2 * sigmoid(x) - 1, which is tanh(x / 2))."""
        _check_activation_values(student, reference, device, "tanh", _randn(shape, 300 + k, scale=3.0))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs give float64 results computed in float64."""
        _check_activation_float64(student, reference, device, "tanh", 350)

    @pytest.mark.points(2)
    def test_large_inputs(self, student, reference, device):
        """Finite, correct values for float32 inputs up to 1e4 in magnitude and at 0 (catches
        (e^x - e^-x) / (e^x + e^-x), which gives inf / inf = NaN)."""
        _check_large_values(student, reference, device, "tanh")

    @pytest.mark.points(1)
    @GRADIENT_CASES
    def test_gradient(self, student, reference, device, k, shape):
        """The gradient w.r.t. X of moderate inputs matches autograd on the reference."""
        X = _randn(shape, 360 + k, scale=2.0)
        C = _randn(shape, 370 + k)
        _check_activation_gradient(student, reference, device, "tanh", X, C,
                                   what=f"the gradient of tanh w.r.t. X ({fmt_tensor('X', X)}, random cotangent)")

    @pytest.mark.points(1)
    def test_gradient_large_inputs(self, student, reference, device):
        """The gradient stays finite and correct for float32 inputs up to 1e4 in magnitude (catches
        2 * sigmoid(2x) - 1 with the unstable 1 / (1 + exp(-x)) inside)."""
        _check_large_gradient(student, reference, device, "tanh", 375)

    @pytest.mark.points(1)
    def test_no_builtin_tanh(self, student, reference):
        """tanh uses no built-in activation (torch.tanh, F.tanh, Tensor.tanh, nn.Tanh, a built-in sigmoid;
        AST check) and works."""
        _check_no_builtin(student, reference, "tanh", 380)


# ============================================================================ mlp_forward


def _mlp_params(d, h, q, offset, dtype=torch.float32, requires_grad=False):
    """[W1, b1, W2, b2] with non-zero, non-symmetric entries."""
    params = [_randn((d, h), offset, dtype=dtype, scale=0.5), _randn((h,), offset + 1, dtype=dtype, scale=0.5),
              _randn((h, q), offset + 2, dtype=dtype, scale=0.5), _randn((q,), offset + 3, dtype=dtype, scale=0.5)]
    return [p.requires_grad_() for p in params] if requires_grad else params


# (label, X shape, num_hiddens, num_outputs): images with a channel, plain 3-D, a batch of one
# already flat, and a square case (n = num_inputs).  n, num_inputs, h and q differ within each case.
FORWARD_CASES = [
    ("images", (6, 1, 4, 4), 7, 10),
    ("3-D", (4, 2, 3), 5, 3),
    ("a batch of one", (1, 8), 3, 2),
    ("square", (7, 7), 5, 4),
]


def _forward_inputs(k, shape, h, q, offset, dtype=torch.float32):
    X = _randn(shape, offset + 10 * k, dtype=dtype)
    d = math.prod(shape[1:])
    return X, _mlp_params(d, h, q, offset + 10 * k + 1, dtype=dtype)


def _forward_what(label, X, params):
    W1, b1, W2, b2 = params
    return (f"mlp_forward(X, params) for X of shape {fmt_shape(X.shape)} ({label}, {fmt_dtype(X.dtype)}), "
            f"W1 {fmt_shape(W1.shape)}, b1 {fmt_shape(b1.shape)}, W2 {fmt_shape(W2.shape)}, "
            f"b2 {fmt_shape(b2.shape)}")


FLATTEN_HINT = ("flatten X to (n, W1.shape[0]) keeping the batch dimension first: X.reshape(-1, W1.shape[0]) or "
                "X.reshape(X.shape[0], -1); take the number of inputs from W1 (or X), never a hard-coded 784, "
                "and never reshape to (W1.shape[0], -1), which mixes examples together")


def _forward_hint(out, X, params) -> str:
    """Recognise the usual mistakes from the output itself."""
    if not isinstance(out, torch.Tensor) or not torch.isfinite(out).all():
        return ""
    X64 = X.double().reshape(X.shape[0], -1)
    W1, b1, W2, b2 = (p.double() for p in params)
    o = out.double()
    if o.shape != (X.shape[0], W2.shape[1]):
        return ""

    def close(t):
        return t.shape == o.shape and bool(torch.allclose(o, t, rtol=1e-4, atol=1e-5))

    pre = X64 @ W1 + b1
    H = pre.clamp(min=0)
    logits = H @ W2 + b2
    if close(torch.exp(logits - logits.max(1, keepdim=True).values)
             / torch.exp(logits - logits.max(1, keepdim=True).values).sum(1, keepdim=True)):
        return ("the result is the softmax of the logits: mlp_forward returns the logits "
                "relu(X @ W1 + b1) @ W2 + b2; the loss (nn.CrossEntropyLoss) applies the softmax itself")
    if close(logits.clamp(min=0)):
        return "relu was applied to the output too: only the hidden layer has an activation; return the logits"
    if close(pre @ W2 + b2):
        return "the hidden layer has no activation: H = relu(X @ W1 + b1)"
    if close(H @ W2):
        return "the output bias b2 is missing: ... @ W2 + b2"
    if close((X64 @ W1).clamp(min=0) @ W2 + b2):
        return "the hidden bias b1 is missing: relu(X @ W1 + b1)"
    if close((X64 @ W1).clamp(min=0) @ W2):
        return "both biases are missing: relu(X @ W1 + b1) @ W2 + b2"
    mixed = X.double().reshape(W1.shape[0], -1).T
    if not torch.equal(mixed, X64) and close((mixed @ W1 + b1).clamp(min=0) @ W2 + b2):
        return ("the rows fed to the network mix different examples: reshaping to (W1.shape[0], -1) and "
                "transposing is not flattening; keep the batch dimension first with X.reshape(X.shape[0], -1)")
    return ""


def _call_forward(student, reference, X, params, **kwargs):
    """``student.call("mlp_forward", ...)`` with a hint added to the usual errors of a wrong reshape."""
    try:
        return student.call("mlp_forward", X, params, **kwargs)
    except StudentError as error:
        text = str(error)
        hints = []
        if any(s in text for s in ("invalid for input of size", "cannot be multiplied", "size mismatch",
                                   "must match the size", "mat1 and mat2", "shapes cannot")):
            hints.append(FLATTEN_HINT)
        raise AssertionError(text + (" -- " + "; ".join(hints) if hints else "")) from None


def _forward_failure(error, student, reference, extra_hint=""):
    fail_with_hint(error, extra_hint)


class TestMlpForward:
    pytestmark = [pytest.mark.exercise("mlp_forward")]

    @pytest.mark.points(3)
    @pytest.mark.parametrize("k, case", list(enumerate(FORWARD_CASES)))
    def test_values(self, student, reference, device, k, case):
        """The logits relu(X @ W1 + b1) @ W2 + b2 for images (n, 1, 4, 4), 3-D inputs, a batch of one and
        a square input (catches a hard-coded 784, a reshape that mixes the batch, missing biases, a
        softmax on the output)."""
        (label, shape, h, q) = case
        X, params = _forward_inputs(k, shape, h, q, 500)
        reply = _call_forward(student, reference, X, params)
        expected = reference.mlp_forward(X.double(), [p.double() for p in params])
        what = _forward_what(label, X, params)
        out = reply.value
        try:
            if isinstance(out, torch.Tensor) and tuple(out.shape) != tuple(expected.shape):
                assert_same_shape(out, expected, what=what, hint=FLATTEN_HINT if out.dim() == 2 and
                                  out.shape[1] == q else None)
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=X.dtype, device=device,
                                hint=lambda o: _forward_hint(o, X, params))
        except AssertionError as error:
            _forward_failure(error, student, reference)

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs and parameters give float64 logits computed in float64."""
        X, params = _forward_inputs(0, (5, 2, 3), 4, 3, 600, dtype=torch.float64)
        out = _call_forward(student, reference, X, params).value
        expected = reference.mlp_forward(X, params)
        try:
            assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                                what=_forward_what("3-D", X, params),
                                hint=lambda o: float64_hint(o, expected) or _forward_hint(o, X, params))
        except AssertionError as error:
            _forward_failure(error, student, reference)

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(FORWARD_CASES[:2])))
    def test_gradient(self, student, reference, device, k, case):
        """The gradients w.r.t. X, W1, b1, W2 and b2 of a random combination of the logits match
        autograd on the reference (catches parameters cut out of the graph)."""
        (label, shape, h, q) = case
        X, params = _forward_inputs(k, shape, h, q, 700)
        what = _forward_what(label, X, params)
        out = _call_forward(student, reference, X, params).value
        try:
            assert_same_shape(out, (shape[0], q), what=what, hint=FLATTEN_HINT)
        except AssertionError as error:
            _forward_failure(error, student, reference)
        C = _randn((shape[0], q), 750 + k)
        reply = _call_forward(student, reference, X.clone().requires_grad_(),
                              [p.clone().requires_grad_() for p in params], cotangent=C)
        inputs64 = [X.double().requires_grad_()] + [p.double().requires_grad_() for p in params]
        expected = torch.autograd.grad(reference.mlp_forward(inputs64[0], inputs64[1:]), inputs64, C.double())
        grads = list(reply.input_grads or [])
        grads += [None] * (5 - len(grads))
        for name, grad, exp in zip(["X", "W1", "b1", "W2", "b2"], grads, expected):
            if grad is None:
                raise AssertionError(
                    f"no gradient reached {name} through {what}: compute the logits with torch operations "
                    f"on the tensors in params (and X) themselves, without .detach(), .data or copies "
                    "made with torch.tensor(...)")
            try:
                assert_tensor_close(grad, exp, rtol=RTOL, atol=ATOL, dtype=X.dtype, device=device,
                                    what=f"the gradient w.r.t. {name} of {what} (random cotangent)",
                                    hint=DETACHED_HINT)
            except AssertionError as error:
                _forward_failure(error, student, reference)

    @pytest.mark.points(1)
    def test_no_builtin_relu(self, student, reference):
        """mlp_forward uses your relu, not torch.relu / F.relu / nn.ReLU / Tensor.relu or anything from
        torch.nn (AST check, following your helpers, then the ATen operators a basic call ran), and works."""
        problems = find_banned(student.source, "mlp_forward", MLP_FORWARD_BANNED)
        assert not problems, "\n".join(problems)
        X, params = _forward_inputs(0, (3, 2, 2), 5, 3, 800)
        try:
            reply = _call_forward(student, reference, X, params, observe=True)
            assert_tensor_close(reply.value, reference.mlp_forward(X.double(), [p.double() for p in params]),
                                rtol=RTOL, atol=ATOL, what=_forward_what("a basic input", X, params))
        except AssertionError as error:
            raise AssertionError(f"the points for a from-scratch mlp_forward need a working mlp_forward: "
                                 f"{error}") from None
        assert_no_banned_operators(reply, "mlp_forward", MLP_FORWARD_OPS)


# ============================================================================ init_mlp_params


INIT_SIZES = (64, 48, 10)  # num_inputs, num_hiddens, num_outputs: all different
INIT_NAMES = ["W1", "b1", "W2", "b2"]


def _init_expected_shapes(d, h, q):
    return [(d, h), (h,), (h, q), (q,)]


def _call_init(student, sizes, seed):
    d, h, q = sizes
    value = student.call("init_mlp_params", d, h, q, seed=seed).value
    label = f"init_mlp_params({d}, {h}, {q})"
    if not isinstance(value, (list, tuple)):
        raise AssertionError(f"{label} returned {describe(value)}, expected the list [W1, b1, W2, b2]")
    if len(value) != 4:
        raise AssertionError(f"{label} returned a {type(value).__name__} of {len(value)} items, expected the 4 "
                             "parameters [W1, b1, W2, b2] in this order")
    for name, p, shape in zip(INIT_NAMES, value, _init_expected_shapes(d, h, q)):
        what = f"{name} (item {INIT_NAMES.index(name)}) returned by {label}"
        assert_is_tensor(p, what=what)
        transposed = len(shape) == 2 and tuple(p.shape) == shape[::-1]
        assert_same_shape(p, shape, what=what, hint=(
            f"{name} maps {'inputs to hidden units' if name == 'W1' else 'hidden units to outputs'}: its shape is "
            f"{'(num_inputs, num_hiddens)' if name == 'W1' else '(num_hiddens, num_outputs)'}, so that X @ W works "
            "on rows of examples") if transposed else None)
        if p.dtype != torch.float32:
            raise AssertionError(f"{what} has dtype {p.dtype}, expected torch.float32 (torch.randn and torch.zeros "
                                 "give float32 by default)")
        if origin_device(p) != "cpu":
            raise AssertionError(f"{what} is on device {origin_device(p)}, expected cpu")
    return label, value


def _check_weight_statistics(W, name, label):
    """Mean ~0, std in a band around 0.01, a normal (not uniform) spread; deterministic given the seed."""
    w = W.double().reshape(-1)
    n = w.numel()
    mean, std = float(w.mean()), float(w.std())
    what = f"{name} returned by {label} (seeded)"
    if not torch.isfinite(w).all():
        raise AssertionError(f"{what} contains NaN or inf")
    if std == 0:
        raise AssertionError(f"all {n} entries of {what} are equal ({fmt_number(float(w[0]))}): draw them at random "
                             "from a normal distribution with mean 0 and standard deviation 0.01 (torch.randn(...) * 0.01)")
    std_band = (0.0085, 0.0115) if n < 1000 else (0.009, 0.011)
    mean_bound = 6 * 0.01 / math.sqrt(n)
    if not std_band[0] <= std <= std_band[1]:
        hint = ""
        if 0.8 < std < 1.2:
            hint = (": that is a standard normal -- scale it by 0.01 (note that nn.init.normal_(w, 0.01) sets the "
                    "MEAN to 0.01; write std=0.01)")
        elif abs(std - 0.01 / math.sqrt(12)) < 0.001:
            hint = ": that is what torch.rand(...) * 0.01 gives (uniform on [0, 0.01)); use torch.randn (normal)"
        raise AssertionError(f"the standard deviation of the entries of {what} is {fmt_number(std)}, expected about "
                             f"0.01 (N(0, 0.01^2), as in the book){hint}")
    if abs(mean) > mean_bound:
        raise AssertionError(f"the mean of the entries of {what} is {fmt_number(mean)}, expected about 0 (within "
                             f"{fmt_number(mean_bound)} for {n} entries): draw from a normal distribution with mean 0 "
                             "(torch.randn(...) * 0.01)")
    tail = float((w.abs() > 0.02).double().mean())  # N(0, 0.01^2): P(|w| > 2 sigma) = 4.55%
    tail_band = (0.008, 0.10) if n < 1000 else (0.02, 0.08)  # >= 6 standard errors either side
    if not tail_band[0] <= tail <= tail_band[1]:
        raise AssertionError(f"{fmt_number(100 * tail)}% of the entries of {what} exceed 0.02 in magnitude, where a "
                             "normal distribution with standard deviation 0.01 puts about 4.6% (a uniform "
                             "distribution puts none): draw from a normal distribution (torch.randn(...) * 0.01)")


class TestInitMlpParams:
    pytestmark = [pytest.mark.exercise("init_mlp_params")]

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, sizes", list(enumerate([INIT_SIZES, (5, 3, 7)])))
    def test_shapes(self, student, k, sizes):
        """[W1, b1, W2, b2] of shapes (d, h), (h,), (h, q), (q,), float32 on the CPU, for two sets of sizes
        (catches transposed weights and swapped arguments)."""
        _call_init(student, sizes, SEED + 900 + k)

    @pytest.mark.points(2)
    def test_statistics(self, student):
        """Weights ~ N(0, 0.01^2) (mean, standard deviation, a normal spread), biases exactly zero
        (catches torch.randn without * 0.01, torch.rand, random biases)."""
        label, params = _call_init(student, INIT_SIZES, SEED + 910)
        W1, b1, W2, b2 = params
        for name, b in (("b1", b1), ("b2", b2)):
            nonzero = torch.nonzero(b != 0)
            if len(nonzero):
                idx = tuple(nonzero[0].tolist())
                raise AssertionError(f"{name} returned by {label} is not all zeros ({name}{list(idx)} is "
                                     f"{fmt_number(b[idx].item())}): the book initialises the biases with torch.zeros")
        _check_weight_statistics(W1, "W1", label)
        _check_weight_statistics(W2, "W2", label)
        if W1.shape == W2.shape and torch.equal(W1, W2):
            raise AssertionError(f"W1 and W2 returned by {label} are equal: draw each one separately")

    @pytest.mark.points(1)
    def test_leaf_parameters(self, student):
        """Every parameter is a leaf tensor with requires_grad=True, so backward() fills its .grad (catches
        torch.randn(..., requires_grad=True) * 0.01, which is not a leaf, and a missing requires_grad)."""
        d, h, q = (5, 3, 7)
        label, _ = _call_init(student, (d, h, q), SEED + 920)
        states = student.eval(inspections.INIT_MLP_PARAM_KINDS, d=d, h=h, q=q)
        for name, (is_tensor, is_leaf, requires_grad) in zip(INIT_NAMES, states):
            if not requires_grad:
                raise AssertionError(
                    f"{name} returned by {label} does not require grad: create it with requires_grad=True (or wrap "
                    "it in nn.Parameter), otherwise training cannot compute its gradient")
            if not is_leaf:
                raise AssertionError(
                    f"{name} returned by {label} is not a leaf tensor: it is the result of an operation (such as "
                    "torch.randn(..., requires_grad=True) * 0.01), so backward() does not store its .grad and the "
                    "optimizer cannot update it; wrap it in nn.Parameter(...) as the book does, or scale first and "
                    "then call .requires_grad_()")


    @pytest.mark.points(1)
    def test_does_not_reseed(self, student):
        """Two calls with torch's global generator seeded differently before each draw different weights
        (catches torch.manual_seed inside init_mlp_params, which makes every initialisation the same)."""
        labels, firsts = [], []
        for k in range(2):
            label, params = _call_init(student, INIT_SIZES, SEED + 930 + k)
            labels.append(label)
            firsts.append(params[0])
        if not torch.equal(firsts[0], firsts[1]):
            return
        if firsts[0].numel() and bool((firsts[0] == firsts[0].reshape(-1)[0]).all()):
            value = fmt_number(float(firsts[0].reshape(-1)[0]))
            raise AssertionError(f"the reseeding could not be checked: all entries of W1 returned by {labels[0]} are "
                                 f"{value}; draw them at random from N(0, 0.01^2) (torch.randn(...) * 0.01)")
        raise AssertionError(f"two calls of {labels[0]}, with torch's global generator seeded differently before "
                             f"each, returned the same W1: {RESEED_HINT}")


# ============================================================================ training data


def _synthetic_images(offset, q, shape, n_train=500, n_test=500, noise=1.0):
    """Seeded "images": a random binary template per class plus N(0, noise^2) pixel noise.

    Balanced, shuffled labels; the training and held-out sets share the templates."""
    g = _gen(offset)
    templates = (torch.rand((q,) + tuple(shape), generator=g, dtype=torch.float64) > 0.5).double()

    def draw(n):
        y = torch.randperm(n, generator=g) % q
        X = templates[y] + noise * torch.randn((n,) + tuple(shape), generator=g, dtype=torch.float64)
        return X.float(), y.to(torch.int64)

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return X_train, y_train, X_test, y_test


def _accuracy(logits, y) -> float:
    return float((logits.argmax(dim=1) == y).double().mean())


# (offset, classes, image shape, num_hiddens, lr, num_epochs, batch_size, seed)
TRAIN_MAIN = (1000, 10, (8, 8), 32, 0.5, 10, 32, SEED + 1001)
TRAIN_OTHER = (1100, 4, (2, 5, 5), 16, 0.5, 10, 25, SEED + 1101)

TRAINING_HINT = ("check the loop: for every minibatch compute the MEAN cross-entropy of mlp_forward on that "
                 "minibatch, zero the gradients, call backward() and take one SGD step with learning rate lr "
                 "(with torch.optim.SGD(params, lr=lr) the loss must be the mean, not the sum; with your own "
                 "sgd that divides by batch_size the loss must be the sum); train for num_epochs epochs; and "
                 "return the very tensors you trained")


def _train_label(fn, X, h_or_none, lr, num_epochs, batch_size):
    h = f", num_hiddens={h_or_none}" if h_or_none is not None else ""
    return (f"{fn} on a seeded synthetic set of {X.shape[0]} examples of shape {fmt_shape(X.shape[1:])}"
            f"{h}, lr={lr}, num_epochs={num_epochs}, batch_size={batch_size}")


def _run_train_mlp(student, device, config):
    offset, q, shape, h, lr, num_epochs, batch_size, seed = config
    X, y, X_test, y_test = _synthetic_images(offset, q, shape)
    label = _train_label("train_mlp", X, h, lr, num_epochs, batch_size)
    d = math.prod(shape)
    try:
        params = student.call("train_mlp", X, y, h, lr, num_epochs, batch_size, seed=seed,
                              timeout=TRAIN_TIMEOUT).value
    except StudentError as error:
        text = str(error)
        if any(s in text for s in ("invalid for input of size", "cannot be multiplied", "out of bounds",
                                   "size mismatch", "must match the size")):
            raise AssertionError(
                f"{text} -- {label}: here each example has {d} values (X[0].numel()) and there are {q} classes "
                f"(q = int(y.max()) + 1); take the sizes from X and y, never hard-code 784, 64 or 10") from None
        raise
    if not isinstance(params, (list, tuple)):
        raise AssertionError(f"{label} returned {describe(params)}, expected the trained list [W1, b1, W2, b2]")
    if len(params) != 4:
        raise AssertionError(f"{label} returned a {type(params).__name__} of {len(params)} items, expected the 4 "
                             "trained parameters [W1, b1, W2, b2]")
    for name, p, expected_shape in zip(INIT_NAMES, params, _init_expected_shapes(d, h, q)):
        what = f"the trained {name} returned by {label}"
        hint = None
        if isinstance(p, torch.Tensor) and p.dim() == len(expected_shape) and tuple(p.shape) != expected_shape:
            hint = (f"with {q} classes (labels 0 .. {q - 1}, q = int(y.max()) + 1) and {d} values per example "
                    f"(X[0].numel()), {name} has shape {fmt_shape(expected_shape)}: take the sizes from X and y, "
                    "never hard-code 784, 64 or 10")
        assert_same_shape(p, expected_shape, what=what, hint=hint)
        if not torch.isfinite(p).all():
            raise AssertionError(f"{what} contains NaN or inf: the training diverged (a learning rate applied to "
                                 "the summed loss, or gradients never zeroed?)")
    return label, params, X_test, y_test


# Minibatch checks (see the module docstring): (n, batch_size, num_epochs) on n distinct examples, every run
# computed here; and a data set of one example (X[0] is the only one), which must not fail.
MINIBATCH_CASE = (3, 2, 2)
SINGLE_CASE = (1, 4, 3)
MINIBATCH_LR = 0.5


def _minibatch_data(offset, n):
    """n examples of shape (2, 3); every class present (3 classes; a single example has label 0)."""
    X, y, _, _ = _synthetic_images(offset, 3, (2, 3), n_train=max(n, 3), n_test=3)
    if n == 1:
        return X[:1].contiguous(), torch.zeros(1, dtype=torch.int64)
    return X[:n].contiguous(), y[:n].contiguous()


OTHER_LR = 0.2  # the learning-rate test: every other training test uses 0.5
SHUFFLE_CASE = (4, 2, 3)  # (n, batch_size, num_epochs) of the shuffling tests, run SHUFFLE_RUNS times
SHUFFLE_RUNS = 4


def _train_mlp_call(X, lr, num_epochs, batch_size):
    return (f"train_mlp(X of shape {fmt_shape(X.shape)}, y, num_hiddens=5, lr={lr}, num_epochs={num_epochs}, "
            f"batch_size={batch_size})")


def _start_and_trained(student, X, y, lr, num_epochs, batch_size, seed):
    """The parameters train_mlp returns with lr = 0 (its initial parameters) and with ``lr``, the global
    generator seeded with ``seed`` before each call (so both draw the same initial parameters), as float64
    lists, and the call's description; fails when the two agree (the learning rate is not used)."""
    call = _train_mlp_call(X, lr, num_epochs, batch_size)
    try:
        start = student.call("train_mlp", X, y, 5, 0.0, num_epochs, batch_size, seed=seed,
                             timeout=TRAIN_TIMEOUT).value
        trained = student.call("train_mlp", X, y, 5, lr, num_epochs, batch_size, seed=seed,
                               timeout=TRAIN_TIMEOUT).value
    except StudentError as error:
        raise AssertionError(f"{call} failed: {error}") from None
    start = _trained_list(start, _train_mlp_call(X, 0.0, num_epochs, batch_size))
    trained = _trained_list(trained, call)
    if all(a.shape == b.shape for a, b in zip(start, trained)) and \
            all(torch.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(start, trained)):
        raise AssertionError(
            f"{call} and the same call with lr=0.0 (the global generator seeded the same way before each) returned "
            "the same parameters, so they do not depend on the learning rate: take every SGD step with the lr "
            "passed in (torch.optim.SGD(params, lr=lr), or p -= lr * p.grad), never a fixed number -- or, if "
            "the parameters never change, compute each minibatch's loss, call backward() and take the step")
    return start, trained, call


def _mean_ce_grad(forward, X, y):
    """The gradient of the mean cross-entropy of ``forward(X[batch], params)`` on a minibatch (float64)."""
    X64 = X.double()

    def grad(params, batch):
        p = [t.detach().clone().requires_grad_() for t in params]
        idx = torch.tensor(batch, dtype=torch.int64)
        loss = torch.nn.functional.cross_entropy(forward(X64[idx], p), y[idx])
        return [g.detach() for g in torch.autograd.grad(loss, p)]
    return grad


def _shuffle_data(offset):
    """4 examples of shape (2, 3) with 4 different labels: the examples a minibatch holds show in the steps."""
    X, y, _, _ = _synthetic_images(offset, 4, (2, 3), n_train=4, n_test=4)
    return X.contiguous(), y.contiguous()


def _trained_list(value, label):
    """The [W1, b1, W2, b2] returned by train_mlp, as float64 tensors."""
    if not isinstance(value, (list, tuple)) or len(value) != 4 or \
            not all(isinstance(p, torch.Tensor) for p in value):
        raise AssertionError(f"{label} returned {describe(value)}, expected the trained list [W1, b1, W2, b2]")
    return [p.double() for p in value]


def _check_trained_accuracy(reference, label, params, X_test, y_test):
    with torch.no_grad():
        logits = reference.mlp_forward(X_test.double(), [p.double() for p in params])
    acc = _accuracy(logits, y_test)
    if acc < MIN_ACCURACY:
        raise AssertionError(
            f"after {label}, the returned parameters classify {fmt_number(100 * acc)}% of {len(y_test)} held-out "
            f"examples correctly, expected at least {100 * MIN_ACCURACY:g}% (a correct loop reaches about 95%; "
            f"{100 / (int(y_test.max()) + 1):g}% is chance): {TRAINING_HINT}")


class TestTrainMlp:
    pytestmark = [pytest.mark.exercise("train_mlp")]

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_returns_params(self, student, device):
        """train_mlp returns [W1, b1, W2, b2] with the shapes of the data (10 classes, 8x8 inputs), finite,
        on the device of X."""
        label, params, _, _ = _run_train_mlp(student, device, TRAIN_MAIN)
        for name, p in zip(INIT_NAMES, params):
            got = origin_device(p)
            if got.split(":")[0] != device.split(":")[0]:
                raise AssertionError(f"the trained {name} returned by {label} is on device {got}, expected {device} "
                                     "(the device of X): create the parameters on X.device")

    @pytest.mark.points(3)
    def test_accuracy(self, student, reference, device):
        """A short seeded run (500 8x8 images of 10 classes, 10 epochs) reaches at least 85% held-out
        accuracy, measured with the reference forward pass on the returned parameters."""
        label, params, X_test, y_test = _run_train_mlp(student, device, TRAIN_MAIN)
        _check_trained_accuracy(reference, label, params, X_test, y_test)

    @pytest.mark.points(2)
    def test_other_sizes(self, student, reference, device):
        """The same on another data set (4 classes, inputs of shape (2, 5, 5), 16 hidden units): sizes come
        from X and y, not from constants."""
        label, params, X_test, y_test = _run_train_mlp(student, device, TRAIN_OTHER)
        _check_trained_accuracy(reference, label, params, X_test, y_test)


    @pytest.mark.points(1)
    def test_minibatches_and_epochs(self, student, reference, device):
        """On 3 distinct examples with batch_size = 2 and 2 epochs, the returned parameters are those of one
        of the possible runs, computed here from the initial parameters (the same call with lr = 0 and the
        same seed): every example once per epoch, in minibatches of 2 and 1 (any order), one SGD step on each
        minibatch's mean cross-entropy; a data set of a single example must not fail (catches full-batch
        training, a dropped last minibatch, an example left out, a wrong number of epochs, a summed
        loss, sizes read from X[1])."""
        n, batch_size, num_epochs = MINIBATCH_CASE
        X, y = _minibatch_data(1500, n)
        start, trained, call = _start_and_trained(student, X, y, MINIBATCH_LR, num_epochs, batch_size, SEED + 1501)
        judge_training(call, trained, start, _mean_ce_grad(reference.mlp_forward, X, y), n, batch_size, num_epochs,
                       MINIBATCH_LR, "the list it returned")
        n, batch_size, num_epochs = SINGLE_CASE
        X, y = _minibatch_data(1510, n)
        try:
            student.call("train_mlp", X, y, 5, 0.1, num_epochs, batch_size, seed=SEED + 1511, timeout=TRAIN_TIMEOUT)
        except StudentError as error:
            raise AssertionError(f"train_mlp(X of shape {fmt_shape(X.shape)}, y, num_hiddens=5, lr=0.1, "
                                 f"num_epochs={num_epochs}, batch_size={batch_size}) failed (a data set of a single "
                                 f"example: X[0] is the only example): {error}") from None


    @pytest.mark.points(1)
    def test_uses_lr(self, student, reference, device):
        """The same minibatch check with lr = 0.2 (every other training test uses 0.5): the parameters depend
        on lr and are those of a run with steps of lr = 0.2 (catches a hard-coded learning rate)."""
        n, batch_size, num_epochs = MINIBATCH_CASE
        X, y = _minibatch_data(1520, n)
        start, trained, call = _start_and_trained(student, X, y, OTHER_LR, num_epochs, batch_size, SEED + 1521)
        judge_training(call, trained, start, _mean_ce_grad(reference.mlp_forward, X, y), n, batch_size, num_epochs,
                       OTHER_LR, "the list it returned")

    @pytest.mark.points(1)
    def test_new_random_order_every_epoch(self, student, reference, device):
        """Four runs on 4 distinct examples of 4 classes (batch_size 2, 3 epochs), the global generator seeded
        differently before each: which minibatches each run took is read from its parameters (every possible
        run is computed here), and the examples must not come in their stored order in every epoch of every
        run, nor in one order repeated in every epoch (catches a loop without shuffling and a shuffle done
        once)."""
        n, batch_size, num_epochs = SHUFFLE_CASE
        X, y = _shuffle_data(1530)
        outcomes = []
        for k in range(SHUFFLE_RUNS):
            start, trained, call = _start_and_trained(student, X, y, MINIBATCH_LR, num_epochs, batch_size,
                                                      SEED + 1531 + k)
            outcomes.append((start, trained))
        judge_shuffling(call, outcomes, _mean_ce_grad(reference.mlp_forward, X, y), n, batch_size, num_epochs,
                        MINIBATCH_LR, "the list it returned")

    @pytest.mark.points(1)
    def test_does_not_reseed(self, student, device):
        """Two runs with lr = 0 (which return the initial parameters), the global generator seeded differently
        before each, start from different parameters (catches torch.manual_seed inside train_mlp)."""
        n, batch_size, num_epochs = MINIBATCH_CASE
        X, y = _minibatch_data(1540, n)
        starts = []
        for k in range(2):
            try:
                value = student.call("train_mlp", X, y, 5, 0.0, num_epochs, batch_size, seed=SEED + 1541 + k,
                                     timeout=TRAIN_TIMEOUT).value
            except StudentError as error:
                raise AssertionError(f"{_train_mlp_call(X, 0.0, num_epochs, batch_size)} failed: {error}") from None
            starts.append(_trained_list(value, _train_mlp_call(X, 0.0, num_epochs, batch_size)))
        if all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(*starts)):
            raise AssertionError(f"two runs of {_train_mlp_call(X, 0.0, num_epochs, batch_size)}, with torch's global "
                                 "generator seeded differently before each, returned the same parameters (with lr=0 "
                                 f"they are the initial ones): {RESEED_HINT}")


# ============================================================================ build_concise_mlp


def _build(student, sizes, seed=None):
    d, h, q = sizes
    label = f"build_concise_mlp({d}, {h}, {q})"
    net = student.call("build_concise_mlp", d, h, q, seed=seed).value
    if not (hasattr(net, "handle") and hasattr(net, "type_name")) or \
            not student.eval(inspections.IS_MODULE, net=net):
        raise AssertionError(f"{label} returned {describe(net)}, expected an nn.Sequential model: "
                             "nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(), "
                             "nn.Linear(num_hiddens, num_outputs))")
    return label, net


def _check_structure(student, label, net, sizes):
    d, h, q = sizes
    is_seq, type_name, children = student.eval(inspections.CONCISE_MLP_STRUCTURE, net=net)
    expected = "nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(), nn.Linear(num_hiddens, num_outputs))"
    if children is None:
        raise AssertionError(f"{label} returned an object of type {type_name}, expected {expected}")
    if not is_seq:
        raise AssertionError(f"{label} returned a {type_name}, expected an nn.Sequential: {expected}")
    names = [c[0] for c in children]
    if len(children) != 4:
        raise AssertionError(f"{label} has {len(children)} layers ({', '.join(names) or 'none'}), expected 4: "
                             f"{expected} (no softmax layer: the model outputs logits)")
    kinds = [("Flatten", 1), ("Linear", 2), ("ReLU", 3), ("Linear", 2)]
    for i, ((kind, flag), child) in enumerate(zip(kinds, children)):
        if not child[flag]:
            raise AssertionError(f"layer {i} of the model returned by {label} is {child[0]}, expected nn.{kind} "
                                 f"(layers: {', '.join(names)}; expected {expected})")
    flatten = children[0]
    if (flatten[7], flatten[8]) != (1, -1):
        raise AssertionError(f"the nn.Flatten of the model returned by {label} flattens dims {flatten[7]} to "
                             f"{flatten[8]}; use nn.Flatten() (dims 1 to -1), which keeps the batch dimension")
    for i, want_in, want_out in ((1, d, h), (3, h, q)):
        got = (children[i][4], children[i][5])
        if got != (want_in, want_out):
            raise AssertionError(f"layer {i} of the model returned by {label} is nn.Linear{got}, expected "
                                 f"nn.Linear{(want_in, want_out)} (num_inputs={d}, num_hiddens={h}, num_outputs={q})")
        if not children[i][6]:
            raise AssertionError(f"layer {i} of the model returned by {label} has no bias (bias=False); the book's "
                                 "nn.Linear layers have one")


def _linear_params(student, label, net):
    layers = student.eval(inspections.LINEAR_PARAMS, net=net)
    if len(layers) != 2:
        raise AssertionError(f"the model returned by {label} has {len(layers)} nn.Linear layers, expected 2")
    return layers


class TestBuildConciseMlp:
    pytestmark = [pytest.mark.exercise("build_concise_mlp")]

    @pytest.mark.points(2)
    def test_structure(self, student):
        """nn.Sequential of exactly Flatten, Linear(num_inputs, num_hiddens), ReLU, Linear(num_hiddens,
        num_outputs), for two sets of sizes (catches a missing Flatten or ReLU, an extra Softmax, swapped sizes)."""
        for sizes in [(64, 48, 10), (12, 5, 3)]:
            label, net = _build(student, sizes)
            _check_structure(student, label, net, sizes)

    @pytest.mark.points(1)
    def test_init(self, student):
        """Both nn.Linear weights are drawn from N(0, 0.01^2) (catches nn.init.normal_(w, 0.01), which sets
        the mean, and a forgotten net.apply(init_weights)); the biases are not checked."""
        sizes = (64, 48, 10)
        label, net = _build(student, sizes, seed=SEED + 1200)
        (W1, _), (W2, _) = _linear_params(student, label, net)
        _check_weight_statistics(W1, "the weight of the first nn.Linear", label)
        _check_weight_statistics(W2, "the weight of the second nn.Linear", label)

    @pytest.mark.points(2)
    def test_forward_values(self, student, reference, device):
        """net(X) on images (n, 2, 3, 4) and on a batch of one equals relu(flatten(X) @ W1.T + b1) @ W2.T + b2
        computed with the model's own parameters, on the device under test."""
        sizes = (24, 7, 3)
        label, net = _build(student, sizes, seed=SEED + 1300)
        net = student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
        (W1, b1), (W2, b2) = _linear_params(student, label, net)
        if b1 is None or b2 is None:
            raise AssertionError(f"the nn.Linear layers of the model returned by {label} have no bias; the book's "
                                 "nn.Linear layers have one")
        params64 = [W1.double().T, b1.double(), W2.double().T, b2.double()]
        for k, shape in enumerate([(5, 2, 3, 4), (1, 24)]):
            X = _randn(shape, 1310 + k, scale=2.0)
            what = f"the output of the model returned by {label} for X of shape {fmt_shape(shape)}"
            try:
                out = net(X)
            except StudentError as error:
                raise AssertionError(f"calling the model returned by {label} on X of shape {fmt_shape(shape)} "
                                     f"failed: {error}") from None
            expected = reference.mlp_forward(X.double(), params64)
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=X.dtype, device=device,
                                hint=lambda o: ("it does not match Flatten -> Linear -> ReLU -> Linear computed with "
                                                "the model's own parameters: check the layers and their order"))


# ============================================================================ train_concise_mlp


CONCISE_TRAIN = (1400, 10, (8, 8), 32, 0.5, 10, 32, SEED + 1401)

CONCISE_TRAINING_HINT = ("for every minibatch: loss = nn.CrossEntropyLoss() of net(X_batch) and y_batch, "
                         "trainer.zero_grad(), loss.backward(), trainer.step(), with trainer = "
                         "torch.optim.SGD(net.parameters(), lr=lr) created for the net you were given; "
                         "train for num_epochs epochs over minibatches of batch_size")


def _run_train_concise(student, device):
    offset, q, shape, h, lr, num_epochs, batch_size, seed = CONCISE_TRAIN
    X, y, X_test, y_test = _synthetic_images(offset, q, shape)
    d = math.prod(shape)
    net = student.eval(inspections.SEEDED_MLP, s=seed, d=d, h=h, q=q, dev=device)
    before = student.eval(inspections.PARAMS_COPY, net=net)
    label = (f"train_concise_mlp(net, X, y, lr={lr}, num_epochs={num_epochs}, batch_size={batch_size}) with net = "
             f"nn.Sequential(nn.Flatten(), nn.Linear({d}, {h}), nn.ReLU(), nn.Linear({h}, {q})) on a seeded "
             f"synthetic set of {X.shape[0]} examples of shape {fmt_shape(shape)}")
    student.call("train_concise_mlp", net, X, y, lr, num_epochs, batch_size, seed=seed, timeout=TRAIN_TIMEOUT)
    after = student.eval(inspections.PARAMS_COPY, net=net)
    return label, net, before, after, X_test, y_test


def _concise_call(X, lr, num_epochs, batch_size):
    return (f"train_concise_mlp(net, X of shape {fmt_shape(X.shape)}, y, lr={lr}, num_epochs={num_epochs}, "
            f"batch_size={batch_size})")


def _concise_small_run(student, device, X, y, lr, num_epochs, batch_size, net_seed, seed):
    """Train the grader's seeded nn.Sequential (6 -> 5 -> q classes) on ``X``; its parameters before and after."""
    net = student.eval(inspections.SEEDED_MLP, s=net_seed, d=6, h=5, q=int(y.max()) + 1, dev=device)
    start = [p.double() for p in student.eval(inspections.PARAMS_COPY, net=net)]
    student.call("train_concise_mlp", net, X, y, lr, num_epochs, batch_size, seed=seed, timeout=TRAIN_TIMEOUT)
    return start, student.eval(inspections.PARAMS_COPY, net=net)


def _concise_grad(reference, X, y):
    """The minibatch gradient for the grader's nn.Sequential, whose Linear weights are (out, in)."""
    def forward(X_batch, p):
        return reference.mlp_forward(X_batch, [p[0].T, p[1], p[2].T, p[3]])
    return _mean_ce_grad(forward, X, y)


class TestTrainConciseMlp:
    pytestmark = [pytest.mark.exercise("train_concise_mlp")]

    @pytest.mark.points(1)
    def test_trains_given_net(self, student, device):
        """The parameters of the model passed in change, stay finite and keep their shapes (catches training a
        new model, or an optimizer over other parameters)."""
        label, _, before, after, _, _ = _run_train_concise(student, device)
        if len(after) != len(before) or any(a.shape != b.shape for a, b in zip(after, before)):
            raise AssertionError(f"after {label}, the model's parameters changed number or shape: train the model "
                                 "you were given, without replacing its layers")
        for a in after:
            if not torch.isfinite(a).all():
                raise AssertionError(f"after {label}, the model's parameters contain NaN or inf: the training "
                                     "diverged (gradients never zeroed, or the summed loss with this lr?)")
        if all(torch.equal(a, b) for a, b in zip(after, before)):
            raise AssertionError(f"after {label}, the parameters of the model passed in did not change: train that "
                                 "model itself, in place (trainer = torch.optim.SGD(net.parameters(), lr=lr); call "
                                 "trainer.step() after loss.backward()), without building a new one")

    @pytest.mark.points(1)
    def test_minibatches_and_epochs(self, student, reference, device):
        """On 3 distinct examples with batch_size = 2 and 2 epochs, the parameters of the model passed in end
        as in one of the possible runs, computed here from their values before the call: every example once
        per epoch, in minibatches of 2 and 1 (any order), one SGD step on each minibatch's mean cross-entropy
        (catches full-batch training, a dropped last minibatch, an example left out, a wrong number
        of epochs, a summed loss)."""
        n, batch_size, num_epochs = MINIBATCH_CASE
        X, y = _minibatch_data(1600, n)
        net = student.eval(inspections.SEEDED_MLP, s=SEED + 1601, d=6, h=5, q=3, dev=device)
        start = [p.double() for p in student.eval(inspections.PARAMS_COPY, net=net)]
        call = (f"train_concise_mlp(net, X of shape {fmt_shape(X.shape)}, y, lr={MINIBATCH_LR}, "
                f"num_epochs={num_epochs}, batch_size={batch_size})")
        student.call("train_concise_mlp", net, X, y, MINIBATCH_LR, num_epochs, batch_size, seed=SEED + 1602,
                     timeout=TRAIN_TIMEOUT)
        trained = student.eval(inspections.PARAMS_COPY, net=net)

        def forward(X_batch, p):  # the grader's nn.Sequential: Linear weights are (out, in)
            return reference.mlp_forward(X_batch, [p[0].T, p[1], p[2].T, p[3]])
        judge_training(call, trained, start, _mean_ce_grad(forward, X, y), n, batch_size, num_epochs, MINIBATCH_LR,
                       "the model passed in")

    @pytest.mark.points(1)
    def test_uses_lr(self, student, reference, device):
        """The same minibatch check with lr = 0.2 (every other training test uses 0.5): the parameters are
        those of a run with steps of lr = 0.2 (catches a hard-coded learning rate)."""
        n, batch_size, num_epochs = MINIBATCH_CASE
        X, y = _minibatch_data(1620, n)
        start, trained = _concise_small_run(student, device, X, y, OTHER_LR, num_epochs, batch_size, SEED + 1621,
                                            SEED + 1622)
        judge_training(_concise_call(X, OTHER_LR, num_epochs, batch_size), trained, start,
                       _concise_grad(reference, X, y), n, batch_size, num_epochs, OTHER_LR, "the model passed in")

    @pytest.mark.points(1)
    def test_new_random_order_every_epoch(self, student, reference, device):
        """Four runs on 4 distinct examples of 4 classes (batch_size 2, 3 epochs) from the same initial model,
        the global generator seeded differently before each: which minibatches each run took is read from the
        trained parameters (every possible run is computed here), and the examples must not come in their
        stored order in every epoch of every run, nor in one order repeated in every epoch (catches a loop
        without shuffling and a shuffle done once)."""
        n, batch_size, num_epochs = SHUFFLE_CASE
        X, y = _shuffle_data(1630)
        outcomes = [_concise_small_run(student, device, X, y, MINIBATCH_LR, num_epochs, batch_size, SEED + 1631,
                                       SEED + 1632 + k) for k in range(SHUFFLE_RUNS)]
        judge_shuffling(_concise_call(X, MINIBATCH_LR, num_epochs, batch_size), outcomes,
                        _concise_grad(reference, X, y), n, batch_size, num_epochs, MINIBATCH_LR, "the model passed in")

    @pytest.mark.points(1)
    def test_does_not_reseed(self, student, reference, device):
        """Three runs on 4 distinct examples (batch_size 2, 3 epochs) from the same initial model, the global
        generator seeded differently before each, do not all end at the same parameters -- unless they all kept
        the stored order, which the shuffling test reports (catches torch.manual_seed inside
        train_concise_mlp, which makes every run take the same minibatches)."""
        n, batch_size, num_epochs = SHUFFLE_CASE
        X, y = _shuffle_data(1640)
        ends = [_concise_small_run(student, device, X, y, MINIBATCH_LR, num_epochs, batch_size, SEED + 1641,
                                   SEED + 1642 + k) for k in range(3)]
        start, first = ends[0]
        if not all(len(t) == len(first) and all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(t, first))
                   for _, t in ends[1:]):
            return
        call, grad = _concise_call(X, MINIBATCH_LR, num_epochs, batch_size), _concise_grad(reference, X, y)
        sequences = matching_epochs(first, start, grad, n, batch_size, num_epochs, MINIBATCH_LR)
        if not sequences:  # the same end three times, but not minibatch SGD: say what is wrong with it
            try:
                judge_training(call, first, start, grad, n, batch_size, num_epochs, MINIBATCH_LR, "the model passed in")
            except AssertionError as error:
                raise AssertionError(f"the reseeding could not be checked: {error}") from None
        if tuple([stored_order_epoch(n, batch_size)] * num_epochs) in sequences:
            return  # never shuffled: the shuffling test's
        raise AssertionError(f"three runs of {call} from the same model, with torch's global generator seeded "
                             "differently before each, took the same minibatches in the same order and ended at the "
                             f"same parameters: {RESEED_HINT}")

    @pytest.mark.points(3)
    def test_accuracy(self, student, device):
        """After a short seeded run (500 8x8 images of 10 classes, 10 epochs, lr 0.5) the model passed in
        classifies at least 85% of 500 held-out examples correctly (a forgotten zero_grad or a summed loss
        stays below 50%)."""
        label, net, _, _, X_test, y_test = _run_train_concise(student, device)
        logits = student.eval(inspections.NET_OUTPUT, net=net, X=X_test)
        acc = _accuracy(logits, y_test)
        if acc < MIN_ACCURACY:
            raise AssertionError(
                f"after {label}, the model classifies {fmt_number(100 * acc)}% of {len(y_test)} held-out examples "
                f"correctly, expected at least {100 * MIN_ACCURACY:g}% (a correct loop reaches about 95%; 10% is "
                f"chance): {CONCISE_TRAINING_HINT}")
