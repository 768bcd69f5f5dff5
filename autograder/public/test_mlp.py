"""Public self-checks for the ``mlp`` assignment (multilayer perceptrons).

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals) and against properties every correct answer has; they never compute
an answer with reference code.  Passing them is a good sign, not a guarantee: the hidden suite
checks more inputs, dtypes, gradients, the banned shortcuts and longer training runs.
"""

import math
from contextlib import contextmanager

import pytest
import torch

from autograder import inspections
from autograder.compare import assert_tensor_close

LN2, LN3 = math.log(2.0), math.log(3.0)


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _grad(reply, fn):
    grads = reply.input_grads or []
    assert grads and grads[0] is not None, (
        f"no gradient reached X through {fn}(X): build the result from differentiable torch "
        "operations on X (no .detach(), .data, .numpy() or .item())")
    return grads[0]


# ----------------------------------------------------------------------------- activations


class TestRelu:
    pytestmark = [pytest.mark.exercise("relu")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        X = torch.tensor([[-2.0, -0.5, 0.5], [3.0, 0.0, -1.0]])
        expected = _f64([[0.0, 0.0, 0.5], [3.0, 0.0, 0.0]])
        out = student.relu(X)
        assert_tensor_close(out, expected, what="relu(X) = max(X, 0) for X of shape (2, 3)",
                            dtype=torch.float32, device=device)
        out64 = student.relu(X.double())
        assert_tensor_close(out64, expected, what="relu(X) for a float64 X (keep the dtype)",
                            dtype=torch.float64, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # d relu / dx is 1 where x > 0 and 0 where x < 0 (never evaluated at exactly 0).
        X = torch.tensor([[-2.0, 1.5], [0.5, -0.25]], requires_grad=True)
        reply = student.call("relu", X, cotangent=torch.ones(2, 2))
        assert_tensor_close(_grad(reply, "relu"), _f64([[0.0, 1.0], [1.0, 0.0]]),
                            what="the gradient of relu(X).sum() with respect to X", device=device)


class TestSigmoid:
    pytestmark = [pytest.mark.exercise("sigmoid")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4.
        X = torch.tensor([0.0, LN3, -LN3])
        out = student.sigmoid(X)
        assert_tensor_close(out, _f64([0.5, 0.75, 0.25]), what="sigmoid(X) for X = [0, ln 3, -ln 3]",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_large_inputs(self, student, device):
        # exp overflows float32 past ~88: the values must still be 0 and 1, not NaN.
        X = torch.tensor([-1e4, 1e4, -100.0, 100.0])
        out = student.sigmoid(X)
        assert_tensor_close(out, _f64([0.0, 1.0, 0.0, 1.0]),
                            what="sigmoid(X) for X = [-1e4, 1e4, -100, 100] (NaN? exponentiate only -|x|)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # sigmoid'(x) = s (1 - s): 3/16 at +-ln 3, and 0 (not NaN) far from 0.
        X = torch.tensor([LN3, -LN3, -1e4, 1e4], requires_grad=True)
        reply = student.call("sigmoid", X, cotangent=torch.ones(4))
        assert_tensor_close(_grad(reply, "sigmoid"), _f64([3 / 16, 3 / 16, 0.0, 0.0]),
                            what="the gradient of sigmoid(X).sum() for X = [ln 3, -ln 3, -1e4, 1e4] "
                                 "(NaN? an exp that overflows gives 0 * inf in the backward pass)",
                            device=device)


class TestTanh:
    pytestmark = [pytest.mark.exercise("tanh")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6.
        X = torch.tensor([0.0, LN2, -LN2])
        out = student.tanh(X)
        assert_tensor_close(out, _f64([0.0, 0.6, -0.6]), what="tanh(X) for X = [0, ln 2, -ln 2]",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_large_inputs(self, student, device):
        X = torch.tensor([-1e4, 1e4, -100.0, 100.0])
        out = student.tanh(X)
        assert_tensor_close(out, _f64([-1.0, 1.0, -1.0, 1.0]),
                            what="tanh(X) for X = [-1e4, 1e4, -100, 100] (NaN? exponentiate only -2|x|)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # tanh'(x) = 1 - tanh(x)^2: 0.64 at +-ln 2, and 0 (not NaN) far from 0.
        X = torch.tensor([LN2, -LN2, -1e4, 1e4], requires_grad=True)
        reply = student.call("tanh", X, cotangent=torch.ones(4))
        assert_tensor_close(_grad(reply, "tanh"), _f64([0.64, 0.64, 0.0, 0.0]),
                            what="the gradient of tanh(X).sum() for X = [ln 2, -ln 2, -1e4, 1e4]",
                            device=device)


# ----------------------------------------------------------------------------- mlp_forward


def _small_mlp():
    """X of shape (2, 1, 2) and params for 2 inputs, 3 hidden units, 2 outputs (worked by hand)."""
    X = torch.tensor([[[1.0, 2.0]], [[-1.0, 0.5]]])
    W1 = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, -1.0]])
    b1 = torch.tensor([0.5, 1.5, -1.0])
    W2 = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    b2 = torch.tensor([0.25, -0.5])
    return X, [W1, b1, W2, b2]


class TestMlpForward:
    pytestmark = [pytest.mark.exercise("mlp_forward")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        # Hidden pre-activations [5.5, 0.5, -2.5] and [0.5, 2.5, -2]; relu zeroes the third unit.
        X, params = _small_mlp()
        out = student.mlp_forward(X, params)
        assert_tensor_close(out, _f64([[5.75, 0.5], [0.75, 4.5]]),
                            what="mlp_forward(X, params) for X of shape (2, 1, 2), 3 hidden units, 2 outputs "
                                 "(logits: relu(X @ W1 + b1) @ W2 + b2, no softmax)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_rows_are_independent(self, student, device):
        # Each example's logits depend on that example only: flattening must keep the batch first.
        g = torch.Generator().manual_seed(0)
        X = torch.randn(3, 2, 2, generator=g)
        params = [torch.randn(4, 5, generator=g), torch.randn(5, generator=g),
                  torch.randn(5, 6, generator=g), torch.randn(6, generator=g)]
        out = student.mlp_forward(X, params)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 6), (
            "mlp_forward(X, params) for X of shape (3, 2, 2), W1 of shape (4, 5), W2 of shape (5, 6) must "
            f"return logits of shape (3, 6); got {tuple(out.shape) if isinstance(out, torch.Tensor) else out!r} "
            "(flatten X to (n, W1.shape[0]); do not hard-code 784)")
        for i in range(3):
            alone = student.mlp_forward(X[i:i + 1], params)
            assert isinstance(alone, torch.Tensor), f"mlp_forward(X[{i}:{i + 1}], params) must return a tensor"
            assert_tensor_close(out[i:i + 1], alone.double(),
                                what=f"row {i} of mlp_forward(X, params) compared with mlp_forward(X[{i}:{i + 1}], "
                                     "params) (a reshape that mixes examples? keep the batch dimension first)")

    @pytest.mark.points(1)
    def test_parameter_gradients(self, student, device):
        # With cotangent 1: d/db2 = column sums = [2, 2]; d/dW2 = H^T 1 with H = [[5.5, 0.5, 0], [0.5, 2.5, 0]].
        X, params = _small_mlp()
        params = [p.requires_grad_() for p in params]
        reply = student.call("mlp_forward", X, params, cotangent=torch.ones(2, 2))
        grads = reply.input_grads or []
        assert len(grads) == 4 and all(g is not None for g in grads), (
            "no gradient reached some of W1, b1, W2, b2 through mlp_forward: use the tensors in params "
            "themselves (no .detach(), .data or torch.tensor copies)")
        assert_tensor_close(grads[3], _f64([2.0, 2.0]), what="the gradient of the logits' sum w.r.t. b2",
                            device=device)
        assert_tensor_close(grads[2], _f64([[6.0, 6.0], [3.0, 3.0], [0.0, 0.0]]),
                            what="the gradient of the logits' sum w.r.t. W2", device=device)


# ----------------------------------------------------------------------------- init_mlp_params


class TestInitMlpParams:
    pytestmark = [pytest.mark.exercise("init_mlp_params")]

    @pytest.mark.points(1)
    def test_shapes_and_biases(self, student):
        params = student.call("init_mlp_params", 20, 30, 4, seed=0).value
        assert isinstance(params, (list, tuple)) and len(params) == 4, (
            "init_mlp_params must return the list [W1, b1, W2, b2]")
        shapes = [tuple(p.shape) if isinstance(p, torch.Tensor) else None for p in params]
        assert shapes == [(20, 30), (30,), (30, 4), (4,)], (
            f"init_mlp_params(20, 30, 4) returned shapes {shapes}, expected [(20, 30), (30,), (30, 4), (4,)] "
            "(W1 is (num_inputs, num_hiddens), W2 is (num_hiddens, num_outputs))")
        assert all(p.dtype == torch.float32 for p in params), "the parameters must be float32"
        assert float(params[1].abs().sum()) == 0 and float(params[3].abs().sum()) == 0, (
            "the biases b1 and b2 must start at zero (torch.zeros)")
        std = float(params[0].double().std())
        assert 0.008 < std < 0.012, (
            f"the entries of W1 have standard deviation {std:.4g}, expected about 0.01 (torch.randn(...) * 0.01)")

    @pytest.mark.points(1)
    def test_leaves_that_require_grad(self, student):
        states = student.eval(inspections.INIT_MLP_LEAVES)
        for name, (is_leaf, requires_grad) in zip(["W1", "b1", "W2", "b2"], states):
            assert requires_grad, f"{name} must have requires_grad=True"
            assert is_leaf, (f"{name} must be a leaf tensor (torch.randn(..., requires_grad=True) * 0.01 is "
                             "not one: wrap it in nn.Parameter as the book does)")


# ----------------------------------------------------------------------------- training


@contextmanager
def _one_thread():
    """Tiny models train fastest on one thread; in a notebook kernel the default pool of threads
    mostly waits on itself (and on a busy machine, much longer).  Restores the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _toy_data(q=4, shape=(4, 4), n=240, seed=0):
    """A small seeded set: a random binary template per class plus Gaussian noise."""
    g = torch.Generator().manual_seed(seed)
    templates = (torch.rand((q,) + shape, generator=g) > 0.5).float()
    y = torch.randperm(n, generator=g) % q
    X = templates[y] + 0.5 * torch.randn((n,) + shape, generator=g)
    return X, y


class TestTrainMlp:
    pytestmark = [pytest.mark.exercise("train_mlp")]

    @pytest.mark.points(1)
    def test_learns_a_toy_problem(self, student, device):
        X, y = _toy_data()
        with _one_thread():
            params = student.call("train_mlp", X, y, 16, 0.5, 10, 20, seed=0, timeout=20).value
        assert isinstance(params, (list, tuple)) and len(params) == 4, (
            "train_mlp must return the trained list [W1, b1, W2, b2]")
        shapes = [tuple(p.shape) if isinstance(p, torch.Tensor) else None for p in params]
        assert shapes == [(16, 16), (16,), (16, 4), (4,)], (
            f"train_mlp on X of shape (240, 4, 4) with 4 classes and num_hiddens=16 returned shapes {shapes}, "
            "expected [(16, 16), (16,), (16, 4), (4,)]: num_inputs = X[0].numel(), q = int(y.max()) + 1")
        logits = student.mlp_forward(X, list(params))
        acc = float((logits.argmax(dim=1) == y).double().mean())
        assert acc >= 0.9, (
            f"after train_mlp on a small, easy data set (4 classes, 10 epochs) your mlp_forward with the returned "
            f"parameters classifies {acc:.1%} of the training examples correctly, expected at least 90%: zero the "
            "gradients every step, use the MEAN loss with torch.optim.SGD, and return the trained tensors")




class TestBuildConciseMlp:
    pytestmark = [pytest.mark.exercise("build_concise_mlp")]

    @pytest.mark.points(1)
    def test_layers(self, student):
        net = student.build_concise_mlp(20, 30, 4)
        layers = student.eval(inspections.CHILD_TYPES, net=net)
        assert layers == ["Flatten", "Linear", "ReLU", "Linear"], (
            f"build_concise_mlp must return nn.Sequential(nn.Flatten(), nn.Linear, nn.ReLU(), nn.Linear); its "
            f"layers are {layers}")
        sizes = student.eval(inspections.CHILD_LINEAR_SIZES, net=net)
        assert sizes == [(20, 30), (30, 4)], f"the nn.Linear layers have sizes {sizes}, expected [(20, 30), (30, 4)]"

    @pytest.mark.points(1)
    def test_init_and_output_shape(self, student, device):
        net = student.call("build_concise_mlp", 64, 50, 10, seed=0).value
        std = student.eval(inspections.FIRST_LINEAR_WEIGHT_STD, net=net)
        assert 0.008 < std < 0.012, (
            f"the weights of the first nn.Linear have standard deviation {std:.4g}, expected about 0.01: "
            "nn.init.normal_(m.weight, std=0.01) (a positional 0.01 is the MEAN)")
        net = student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
        out = net(torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(0)))
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 10), (
            "the model must map 3 images of shape (8, 8) to logits of shape (3, 10) (nn.Flatten() first)")


class TestTrainConciseMlp:
    pytestmark = [pytest.mark.exercise("train_concise_mlp")]

    @pytest.mark.points(1)
    def test_learns_a_toy_problem(self, student, device):
        X, y = _toy_data()
        net = student.eval(inspections.SEEDED_MLP, s=0, d=16, h=16, q=4, dev=device)
        with _one_thread():
            student.call("train_concise_mlp", net, X, y, 0.5, 10, 20, seed=0, timeout=20)
        logits = student.eval(inspections.NET_OUTPUT, net=net, X=X)
        acc = float((logits.argmax(dim=1) == y).double().mean())
        assert acc >= 0.9, (
            f"after train_concise_mlp on a small, easy data set (4 classes, 10 epochs) the model classifies "
            f"{acc:.1%} of the training examples correctly, expected at least 90%: for every minibatch call "
            "trainer.zero_grad(), loss.backward(), trainer.step(), training the net you were given")
