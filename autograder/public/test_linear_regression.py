"""Public self-checks for the ``linear_regression`` assignment.

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals) and against properties every correct answer has (shapes, statistics of
random data, training that recovers known parameters); they never compute an answer with reference
code.  Passing them is a good sign, not a guarantee: the hidden suite checks more inputs, gradients,
devices and dtypes.
"""

import pytest
import torch

from autograder import inspections
from autograder.compare import assert_tensor_close
from autograder.student import RemoteObject

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _pair(value, what):
    assert isinstance(value, (tuple, list)) and len(value) == 2, (
        f"{what} must return a pair of tensors; got {type(value).__name__}")
    return value


def _data(n=1000, seed=0):
    """The book's synthetic data, generated here: y = X [2, -3.4] + 4.2 + N(0, 0.01^2)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = X @ torch.tensor(TRUE_W) + TRUE_B + 0.01 * torch.randn(n, generator=g)
    return X, y.reshape(-1, 1)


class TestSyntheticData:
    pytestmark = [pytest.mark.exercise("synthetic_data")]

    @pytest.mark.points(1)
    def test_shapes(self, student, device):
        X, y = _pair(student.call("synthetic_data", torch.tensor(TRUE_W), TRUE_B, 50, seed=0).value,
                     "synthetic_data")
        assert isinstance(X, torch.Tensor) and tuple(X.shape) == (50, 2), (
            f"X must have shape (num_examples, len(w)) = (50, 2); got "
            f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
        assert isinstance(y, torch.Tensor) and tuple(y.shape) == (50, 1), (
            f"y must be a column of shape (num_examples, 1) = (50, 1); got "
            f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__} "
            "(reshape it with y.reshape((-1, 1)))")
        assert X.dtype == torch.float32 and y.dtype == torch.float32, (
            f"X and y must have the dtype of w (float32 here); got {X.dtype} and {y.dtype}")

    @pytest.mark.points(1)
    def test_statistics(self, student, device):
        X, y = _pair(student.call("synthetic_data", torch.tensor(TRUE_W), TRUE_B, 3000, seed=1).value,
                     "synthetic_data")
        X, y = X.double(), y.double()
        assert X.mean().abs() < 0.1 and (X.std() - 1).abs() < 0.1, (
            f"X must be drawn from N(0, 1); its mean is {X.mean().item():.3f} and its standard deviation "
            f"{X.std().item():.3f}")
        res = y.reshape(-1) - X @ _f64(TRUE_W) - TRUE_B
        assert res.mean().abs() < 0.003 and 0.008 < res.std() < 0.012, (
            f"y - (X @ w + b) must be noise from N(0, 0.01**2); its mean is {res.mean().item():.4f} and its "
            f"standard deviation {res.std().item():.4f} (bias missing? noise missing or of the wrong size?)")


def _epoch(student, batch_size, features, labels, seed):
    value = student.call("data_iter", batch_size, features, labels, seed=seed).value
    if isinstance(value, RemoteObject):
        return student.eval(inspections.FIRST_ITEMS, it=value, limit=100)
    return list(value)


class TestDataIter:
    pytestmark = [pytest.mark.exercise("data_iter")]

    @pytest.mark.points(1)
    def test_one_epoch(self, student, device):
        # 20 examples: row i of features is [i, -i], label 10 * i.
        features = torch.stack([torch.arange(20.0), -torch.arange(20.0)], dim=1)
        labels = (10 * torch.arange(20.0)).reshape(-1, 1)
        batches = _epoch(student, 6, features, labels, seed=0)
        sizes = [len(b[0]) for b in batches]
        assert sizes == [6, 6, 6, 2], (
            f"20 examples in minibatches of 6 must come as sizes [6, 6, 6, 2] (the last one smaller, not "
            f"dropped); got {sizes}")
        seen = []
        for X, y in batches:
            assert tuple(X.shape[1:]) == (2,) and tuple(y.shape[1:]) == (1,), (
                f"each minibatch is (features[idx], labels[idx]) with shapes (k, 2) and (k, 1); got "
                f"{tuple(X.shape)} and {tuple(y.shape)}")
            assert torch.equal(y.reshape(-1), 10 * X[:, 0]), (
                "the labels of a minibatch must belong to its examples: index features and labels with the "
                "same indices")
            seen += X[:, 0].long().tolist()
        assert sorted(seen) == list(range(20)), (
            "every example must appear exactly once per epoch")
        assert seen != list(range(20)), (
            "the examples must come in a random order: shuffle the indices (random.shuffle or torch.randperm)")

    @pytest.mark.points(1)
    def test_new_order_each_epoch(self, student, device):
        features = torch.arange(30.0).reshape(-1, 1)
        labels = torch.arange(30.0).reshape(-1, 1)
        first = [int(v) for X, _ in _epoch(student, 7, features, labels, seed=1) for v in X.reshape(-1)]
        second = [int(v) for X, _ in _epoch(student, 7, features, labels, seed=None) for v in X.reshape(-1)]
        assert first != second, (
            "two epochs gave the same order: shuffle at every call, and don't seed inside data_iter")


class TestLinreg:
    pytestmark = [pytest.mark.exercise("linreg")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        w = torch.tensor([[2.0], [-1.0]])
        b = torch.tensor([0.5])
        out = student.linreg(X, w, b)
        assert_tensor_close(out, _f64([[0.5], [2.5], [4.5]]), what="linreg(X, w, b) = X @ w + b for X of "
                            "shape (3, 2), w (2, 1), b (1,)", dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # d/dw of sum(X @ w + b) is X summed over the rows; d/db is n.
        X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        w = torch.tensor([[2.0], [-1.0]], requires_grad=True)
        b = torch.tensor([0.5], requires_grad=True)
        reply = student.call("linreg", X, w, b, cotangent=torch.ones(3, 1))
        grads = reply.input_grads or []
        assert len(grads) == 2 and grads[0] is not None and grads[1] is not None, (
            "no gradient reached w and b through linreg: use torch operations (no .detach(), .data, .numpy())")
        assert_tensor_close(grads[0], _f64([[9.0], [12.0]]), what="the gradient of sum(linreg(X, w, b)) "
                            "w.r.t. w", device=device)
        assert_tensor_close(grads[1], _f64([3.0]), what="the gradient of sum(linreg(X, w, b)) w.r.t. b",
                            device=device)


class TestSquaredLoss:
    pytestmark = [pytest.mark.exercise("squared_loss")]

    @pytest.mark.points(1)
    def test_known_values(self, student, device):
        y_hat = torch.tensor([[1.0], [2.0], [4.0]])
        y = torch.tensor([1.5, 2.0, 1.0])  # a vector: reshape it like y_hat
        out = student.squared_loss(y_hat, y)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 1), (
            f"squared_loss must return one loss per example with y_hat's shape (3, 1); got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__} "
            "((3, 3)? reshape y to y_hat.shape before subtracting; () ? don't take the mean)")
        assert_tensor_close(out, _f64([[0.125], [0.0], [4.5]]), what="squared_loss(y_hat, y) = "
                            "(y_hat - y) ** 2 / 2", dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        y_hat = torch.tensor([[1.0], [2.0], [4.0]], requires_grad=True)
        y = torch.tensor([[1.5], [2.0], [1.0]])
        reply = student.call("squared_loss", y_hat, y, cotangent=torch.ones(3, 1))
        grad = (reply.input_grads or [None])[0]
        assert grad is not None, "no gradient reached y_hat through squared_loss"
        assert_tensor_close(grad, _f64([[-0.5], [0.0], [3.0]]), what="the gradient of sum(squared_loss) "
                            "w.r.t. y_hat (y_hat - y)", device=device)


class TestSgd:
    pytestmark = [pytest.mark.exercise("sgd")]

    @staticmethod
    def _params():
        w = torch.tensor([[1.0], [2.0]], requires_grad=True)
        w.grad = torch.tensor([[0.5], [-1.0]])
        b = torch.tensor([0.5], requires_grad=True)
        b.grad = torch.tensor([4.0])
        return w, b

    @pytest.mark.points(1)
    def test_update_and_zeroed_grads(self, student, device):
        w, b = self._params()
        reply = student.call("sgd", [w, b], 0.1, 2)
        w_after, b_after = reply.args_after[0], reply.args_after[1]
        # p - lr * grad / batch_size with lr = 0.1, batch_size = 2.
        assert_tensor_close(w_after.value, _f64([[0.975], [2.05]]),
                            what="w after sgd([w, b], lr=0.1, batch_size=2) (did you divide by batch_size?)",
                            dtype=torch.float32, device=device)
        assert_tensor_close(b_after.value, _f64([0.3]), what="b after sgd([w, b], lr=0.1, batch_size=2)",
                            dtype=torch.float32, device=device)
        for name, state in (("w", w_after), ("b", b_after)):
            assert state.same_object, (
                f"the list passed to sgd no longer holds the original {name}: update each parameter in place "
                "(param -= ...) instead of replacing it")
            assert state.grad is None or not bool((state.grad != 0).any()), (
                f"{name}.grad must be zeroed after the update (param.grad.zero_())")

    @pytest.mark.points(1)
    def test_in_place_leaf_returns_none_skips_none_grads(self, student, device):
        w, _ = self._params()
        frozen = torch.tensor([7.0, -7.0], requires_grad=True)  # .grad is None
        reply = student.call("sgd", [frozen, w], 0.1, 2)
        assert reply.value is None, f"sgd must return None; it returned {type(reply.value).__name__}"
        state = reply.args_after[1]
        assert state.is_leaf and state.requires_grad, (
            f"after sgd, w has is_leaf={state.is_leaf}, requires_grad={state.requires_grad}; both must stay "
            "True: do the update inside `with torch.no_grad():`")
        assert_tensor_close(reply.args_after[0].value, _f64([7.0, -7.0]),
                            what="a parameter whose .grad is None (sgd must skip it)", device=device)


def _check_learned(value, what):
    w, b = _pair(value, what)
    assert isinstance(w, torch.Tensor) and w.numel() == 2 and isinstance(b, torch.Tensor) and b.numel() == 1, (
        f"{what} must return (w, b) with 2 weights and 1 bias")
    err_w = (w.double().reshape(-1) - _f64(TRUE_W)).abs().max().item()
    err_b = abs(b.double().item() - TRUE_B)
    assert err_w < 0.005 and err_b < 0.005, (
        f"{what} on the book's data (1000 examples, lr 0.03, 3 epochs, batch size 10) must recover "
        f"w = [2, -3.4] and b = 4.2 within 0.005; the errors are {err_w:.4f} (w) and {err_b:.4f} (b)")


class TestTrain:
    pytestmark = [pytest.mark.exercise("train")]

    @pytest.mark.points(1)
    def test_recovers_true_parameters(self, student, device):
        features, labels = _data()
        value = student.call("train", features, labels, 0.03, 3, 10, seed=0, timeout=30).value
        _check_learned(value, "train")

    @pytest.mark.points(1)
    def test_initial_parameters(self, student, device):
        features, labels = _data(n=20)
        w, b = _pair(student.call("train", features, labels, 0.03, 0, 10, seed=0, timeout=30).value, "train")
        assert tuple(w.shape) == (2, 1) and tuple(b.shape) == (1,), (
            f"with num_epochs=0 train returns its initial w of shape (2, 1) and b of shape (1,); got "
            f"{tuple(w.shape)} and {tuple(b.shape)}")
        assert b.item() == 0 and bool((w.abs() < 0.05).all()), (
            "the initial parameters are w ~ N(0, 0.01**2) and b = 0")


class TestBuildConciseModel:
    pytestmark = [pytest.mark.exercise("build_concise_model")]

    @pytest.mark.points(1)
    def test_one_linear_layer(self, student, device):
        net = student.call("build_concise_model", 4, seed=0).value
        assert isinstance(net, RemoteObject), "build_concise_model must return an nn.Module"
        shapes = student.eval(inspections.PARAM_SHAPES, net=net)
        assert [tuple(s) for s in shapes] == [(1, 4), (1,)], (
            f"build_concise_model(4) must hold one nn.Linear(4, 1): parameters of shapes [(1, 4), (1,)]; got {shapes}")

    @pytest.mark.points(1)
    def test_initialisation(self, student, device):
        net = student.call("build_concise_model", 1000, seed=0).value
        weight, bias = student.eval(inspections.PARAMS_COPY, net=net)
        std = weight.double().std().item()
        assert 0.008 < std < 0.012, (
            f"the weight must be drawn from N(0, 0.01**2); its standard deviation is {std:.4f}")
        assert not bool((bias != 0).any()), "the bias must start at 0 (net[0].bias.data.fill_(0))"


class TestTrainConcise:
    pytestmark = [pytest.mark.exercise("train_concise")]

    @pytest.mark.points(1)
    def test_recovers_true_parameters(self, student, device):
        features, labels = _data()
        value = student.call("train_concise", features, labels, 0.03, 3, 10, seed=0, timeout=30).value
        _check_learned(value, "train_concise")
