"""Public self-checks for the ``softmax_regression`` assignment.

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals) and against properties every correct answer has; they never compute
an answer with reference code.  Passing them is a good sign, not a guarantee: the hidden suite
checks more inputs, gradients and the banned shortcuts.
"""

import math

import pytest
import torch

from autograder import inspections
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
        # exp(1e4) overflows float32: subtract each row's max before exponentiating.  float32 resolves
        # numbers near 1e4 only to about 1e-3, so a correct answer computed another way (X - logsumexp(X))
        # may be off by ~1e-4 here: the tolerance follows each row's magnitude (docs/tolerances.md).
        X = torch.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [100.0, 100.0, 0.0]])
        out = student.softmax(X)
        expected = _f64([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
        assert_tensor_close(out, expected, what="softmax(X) for logits of magnitude up to 1e4 "
                            "(overflow? subtract each row's max first)",
                            scale=X.abs().amax(dim=1, keepdim=True), conditioning=0.5,
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
            assert state.same_object, (
                f"the list passed to sgd no longer holds the original {name}: update each "
                "parameter in place (param -= ...) instead of replacing it")
            if state.grad is None:  # set to None, as optimizer.zero_grad(set_to_none=True) does: fine
                continue
            assert_tensor_close(state.grad, torch.zeros(state.grad.shape, dtype=torch.float64),
                                what=f"{name}.grad after sgd (it must be zeroed: param.grad.zero_())")

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


# The concise exercises: the model stays where the student's code runs; these checks ask it about its
# layers and set its weights with the short public expressions of autograder.inspections (student.eval).


def _model(student, num_inputs, num_outputs, seed=0):
    net = student.call("build_concise_model", num_inputs, num_outputs, seed=seed).value
    call = f"build_concise_model({num_inputs}, {num_outputs})"
    assert hasattr(net, "type_name"), (
        f"{call} must return the model (an nn.Module), got {type(net).__name__}")
    shapes = student.eval(inspections.PARAM_SHAPES, net=net)
    assert sorted(shapes) == sorted([(num_outputs, num_inputs), (num_outputs,)]), (
        f"the parameters of {call} have shapes {shapes}; nn.Linear({num_inputs}, {num_outputs}) has a weight "
        f"of shape ({num_outputs}, {num_inputs}) and a bias of shape ({num_outputs},) (nn.Linear(in, out): "
        "inputs first; no other layers with parameters)")
    return net


class TestBuildConciseModel:
    pytestmark = [pytest.mark.exercise("build_concise_model")]

    @pytest.mark.points(1)
    def test_layers_and_flatten(self, student, device):
        net = _model(student, 6, 4)
        student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
        out = net(torch.zeros(2, 1, 2, 3))
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 4), (
            "net(X) for images X of shape (2, 1, 2, 3) must give logits of shape (2, 4); got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__} "
            "(put nn.Flatten() before nn.Linear)")

    @pytest.mark.points(1)
    def test_forward_values(self, student, device):
        # weight [[1, 0, -1], [0.5, 2, 0]], bias [0.1, -0.2]: logits X.flatten(1) @ weight.T + bias by hand.
        net = _model(student, 3, 2)
        student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
        student.eval(inspections.SET_LINEAR, net=net, W=torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]]),
                     b=torch.tensor([0.1, -0.2]))
        X = torch.tensor([[[[1.0, 2.0, 3.0]]], [[[0.0, -1.0, 4.0]]]])
        out = net(X)
        assert_tensor_close(out, _f64([[-1.9, 4.3], [-3.9, -2.2]]),
                            what="net(X) with weight [[1, 0, -1], [0.5, 2, 0]] and bias [0.1, -0.2] "
                            "(the model returns logits: no softmax at the end)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_initial_weights(self, student):
        net = _model(student, 784, 10, seed=1)
        (weight,) = student.eval(inspections.LINEAR_WEIGHTS, net=net)
        mean, std = weight.double().mean().item(), weight.double().std().item()
        assert abs(mean) < 0.002 and 0.008 < std < 0.012, (
            f"the initial weight of build_concise_model(784, 10) has mean {mean:.4g} and standard deviation "
            f"{std:.4g}; expected mean 0 and standard deviation 0.01: nn.init.normal_(weight, std=0.01) "
            "(its second positional argument is the mean)")




class TestTrainConcise:
    pytestmark = [pytest.mark.exercise("train_concise")]

    @pytest.mark.points(1)
    def test_two_full_batch_steps(self, student, device):
        # Two examples x0 = [1, 0] (label 0), x1 = [0, 1] (label 1), a zero model, lr 1, batch_size 2.
        # Step 1: every softmax is [1/2, 1/2]; the gradient of the MEAN loss gives weight
        # [[1/4, -1/4], [-1/4, 1/4]]. Step 2 (with s = sigmoid(1/2)): weight += (1 - s) / 2 * [[1, -1], [-1, 1]].
        # The bias stays 0. Epoch losses: ln 2, then -ln s.
        s = 1 / (1 + math.exp(-0.5))
        d = 0.25 + (1 - s) / 2
        net = student.eval(inspections.SOFTMAX_NET, W=torch.zeros(2, 2), b=torch.zeros(2), dev=device)
        X = torch.tensor([[[[1.0, 0.0]]], [[[0.0, 1.0]]]])
        y = torch.tensor([0, 1])
        losses = student.call("train_concise", net, X, y, 1.0, 2, 2, seed=0, timeout=10).value
        weight, bias = student.eval(inspections.SOFTMAX_NET_PARAMS, net=net)
        assert_tensor_close(weight, _f64([[d, -d], [-d, d]]),
                            what="the weight after train_concise(net, X, y, lr=1.0, num_epochs=2, batch_size=2) "
                            "(zero_grad() before each backward? the MEAN loss?)", dtype=torch.float32)
        assert_tensor_close(bias, _f64([0.0, 0.0]), what="the bias after train_concise(...)")
        assert isinstance(losses, list) and len(losses) == 2 and all(isinstance(v, float) for v in losses), (
            f"train_concise must return a list of num_epochs = 2 Python floats, got {losses!r:.200}")
        assert abs(losses[0] - LN2) < 1e-5 and abs(losses[1] + math.log(s)) < 1e-5, (
            f"the epoch losses are {losses}, expected [{LN2:.6f}, {-math.log(s):.6f}]: the mean loss per example "
            "of each epoch, computed before each step")

    @pytest.mark.points(1)
    def test_learns_a_separable_problem(self, student, device):
        # Four well-separated clusters of 2-D points; a short run must fit them and the losses go down.
        centers = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [0.0, -3.0]])
        y = torch.arange(4).repeat(10)
        X = (centers[y] + 0.3 * torch.linspace(-1, 1, 40).reshape(-1, 1)).reshape(40, 1, 1, 2)
        net = student.eval(inspections.SOFTMAX_NET, W=torch.zeros(4, 2), b=torch.zeros(4), dev=device)
        losses = student.call("train_concise", net, X, y, 0.5, 4, 8, seed=0, timeout=10).value
        weight, bias = student.eval(inspections.SOFTMAX_NET_PARAMS, net=net)
        pred = (X.reshape(40, 2).double() @ weight.double().T + bias.double()).argmax(dim=1)
        acc = (pred == y).double().mean().item()
        assert acc == 1.0, (f"after train_concise(net, X, y, lr=0.5, num_epochs=4, batch_size=8) on four "
                            f"well-separated clusters the model classifies {acc:.0%} of them right, expected 100%")
        assert isinstance(losses, list) and len(losses) == 4 and losses[-1] < losses[0], (
            f"the epoch losses returned by train_concise should go down over 4 epochs; got {losses!r:.200}")
