"""Public self-checks for the ``model_construction`` assignment.

These tests ship to students.  They build your modules, set their parameters to simple constants,
and compare with values worked out by hand (stored below as literals), or check properties every
correct answer has; they never compute an answer with reference code.  Passing them is a good
sign, not a guarantee: the hidden suite checks more inputs, gradients and random parameters.
"""

import math

import pytest
import torch

from autograder import inspections
from autograder.compare import assert_tensor_close
from autograder.sandbox.wire import Code


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _module(student, name, *args):
    net = student.call(name, *args, seed=0).value
    assert getattr(net, "type_name", None) is not None and student.eval(
        inspections.IS_MODULE, net=net), f"{name}(...) must create an nn.Module"
    return net


def _shapes(student, net):
    return student.eval(inspections.PARAM_SHAPES, net=net)


def _fill(student, net, value):
    """Set every parameter of ``net`` to ``value`` (in the sandbox or kernel where it lives)."""
    student.eval(inspections.FILL_PARAMS, net=net, v=value)


def _to(student, net, device):
    student.eval(inspections.NET_TO_DEVICE, net=net, dev=device)
    return net


def _no_params_hint(name, shapes):
    return (f"{name}.parameters() lists shapes {shapes}"
            + (": no parameters at all -- register layers as attributes, or in nn.ModuleList / nn.ModuleDict, "
               "never in a plain list or dict" if not shapes else ""))


class TestMLP:
    pytestmark = [pytest.mark.exercise("MLP")]

    @pytest.mark.points(1)
    def test_parameter_shapes(self, student):
        shapes = _shapes(student, _module(student, "MLP"))
        assert shapes == [(256, 20), (256,), (10, 256), (10,)], (
            _no_params_hint("MLP()", shapes) + "; expected [(256, 20), (256,), (10, 256), (10,)]: "
            "hidden = nn.Linear(20, 256), then out = nn.Linear(256, 10)")

    @pytest.mark.points(1)
    def test_constant_parameters(self, student, device):
        # All parameters 0.01.  Row of ones: hidden = 20 * 0.01 + 0.01 = 0.21, out = 256 * 0.21 * 0.01 + 0.01.
        # Row of minus ones: hidden = -0.19, which the ReLU turns into 0, so out = 0.01.
        net = _to(student, _module(student, "MLP"), device)
        _fill(student, net, 0.01)
        X = torch.cat([torch.ones(1, 20), -torch.ones(1, 20)])
        expected = _f64([[0.5476] * 10, [0.01] * 10])
        assert_tensor_close(net(X), expected, what="MLP()(X) with every parameter 0.01 (no ReLU?)",
                            device=device)


class TestMySequential:
    pytestmark = [pytest.mark.exercise("MySequential")]

    def _net(self, student):
        mods = student.eval(inspections.PUBLIC_MODULES)
        student.eval(inspections.PUBLIC_SET_MODULES, m=mods)
        return student.call("MySequential", *mods).value

    @pytest.mark.points(1)
    def test_registers_parameters(self, student):
        shapes = _shapes(student, self._net(student))
        assert shapes == [(2, 2), (2,), (1, 2), (1,)], _no_params_hint("MySequential(Linear, ReLU, Linear)", shapes)

    @pytest.mark.points(1)
    def test_forward_in_order(self, student, device):
        # [1, 2] -> Linear: [1 - 2 + 0, 2 + 0 + 1] = [-1, 3] -> ReLU: [0, 3] -> Linear: 0 + 3 + 0.5 = 3.5
        net = _to(student, self._net(student), device)
        assert_tensor_close(net(torch.tensor([[1.0, 2.0]])), _f64([[3.5]]),
                            what="MySequential(Linear(2, 2), ReLU(), Linear(2, 1))(X) for X = [[1, 2]]",
                            device=device)


class TestStackedLinear:
    pytestmark = [pytest.mark.exercise("StackedLinear")]

    @pytest.mark.points(1)
    def test_parameter_shapes(self, student):
        shapes = _shapes(student, _module(student, "StackedLinear", [4, 3, 2]))
        assert shapes == [(3, 4), (3,), (2, 3), (2,)], _no_params_hint("StackedLinear([4, 3, 2])", shapes)

    @pytest.mark.points(1)
    def test_relu_between_layers_only(self, student, device):
        # All parameters 0.5: [1, 1, 1, 1] -> 2.5 (x3) -> ReLU -> 3 * 2.5 * 0.5 + 0.5 = 4.25.
        # All parameters -0.5: -2.5 (x3) -> ReLU -> 0 -> -0.5 (no ReLU after the last layer).
        for value, out in [(0.5, 4.25), (-0.5, -0.5)]:
            net = _to(student, _module(student, "StackedLinear", [4, 3, 2]), device)
            _fill(student, net, value)
            assert_tensor_close(net(torch.ones(1, 4)), _f64([[out, out]]),
                                what=f"StackedLinear([4, 3, 2])(ones(1, 4)) with every parameter {value}",
                                device=device)


class TestMultiHead:
    pytestmark = [pytest.mark.exercise("MultiHead")]

    @pytest.mark.points(1)
    def test_parameter_shapes(self, student):
        shapes = _shapes(student, _module(student, "MultiHead", 3, {"a": 2, "b": 1}))
        assert shapes == [(2, 3), (2,), (1, 3), (1,)], _no_params_hint("MultiHead(3, {'a': 2, 'b': 1})", shapes)

    @pytest.mark.points(1)
    def test_heads(self, student, device):
        # Every parameter 0.1: each output is 3 * 0.1 + 0.1 = 0.4; head 'a' has 2 outputs, head 'b' one.
        net = _to(student, _module(student, "MultiHead", 3, {"a": 2, "b": 1}), device)
        _fill(student, net, 0.1)
        for head, expected in [("a", [[0.4, 0.4]]), ("b", [[0.4]])]:
            assert_tensor_close(net(torch.ones(1, 3), head), _f64(expected),
                                what=f"MultiHead(3, {{'a': 2, 'b': 1}})(ones(1, 3), {head!r})", device=device)


class TestFixedHiddenMLP:
    pytestmark = [pytest.mark.exercise("FixedHiddenMLP")]

    @pytest.mark.points(1)
    def test_constant_not_trainable(self, student):
        net = _module(student, "FixedHiddenMLP")
        trainable = student.eval(inspections.TRAINABLE_SHAPES, net=net)
        assert trainable == [(20, 20), (20,)], (
            f"FixedHiddenMLP()'s trainable parameters have shapes {trainable}, expected [(20, 20), (20,)] "
            "(one nn.Linear(20, 20); rand_weight must not be trained)")
        dtype = student.eval(inspections.RAND_WEIGHT_DTYPE_AFTER_DOUBLE, net=net)
        assert dtype == "torch.float64", ("rand_weight did not follow net.double(): register it with "
                                          "self.register_buffer('rand_weight', torch.rand(20, 20))")

    @pytest.mark.points(1)
    def test_halving(self, student, device):
        # linear.weight = 0, linear.bias = 0.1: the output of the second linear step is 0.1 everywhere,
        # whatever X and rand_weight are.  For 3 rows: |X| sums to 6 -> 3 -> 1.5 -> 0.75, so the sum is 0.75.
        net = _to(student, _module(student, "FixedHiddenMLP"), device)
        student.eval(inspections.ZERO_WEIGHT_BIAS_01, net=net)
        out = net(torch.rand(3, 20))
        assert_tensor_close(out, torch.tensor(0.75, dtype=torch.float64),
                            what="FixedHiddenMLP()(X) for X of shape (3, 20) with linear.weight = 0, linear.bias = "
                                 "0.1 (halve while X.abs().sum() > 1, then return X.sum())", device=device)


class TestCenteredLayer:
    pytestmark = [pytest.mark.exercise("CenteredLayer")]

    @pytest.mark.points(1)
    def test_values(self, student, device):
        layer = _module(student, "CenteredLayer")
        assert _shapes(student, layer) == [], "CenteredLayer() must have no parameters"
        cases = [(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), _f64([-2.0, -1.0, 0.0, 1.0, 2.0])),
                 (torch.tensor([[1.0, 2.0], [3.0, 6.0]]), _f64([[-2.0, -1.0], [0.0, 3.0]]))]
        for X, expected in cases:
            assert_tensor_close(layer(X), expected, what=f"CenteredLayer()(X) for X = {X.tolist()} (the mean of ALL "
                                "entries)", device=device)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        # d/dX_j of sum_i c_i (X_i - mean(X)) = c_j - mean(c).
        layer = _module(student, "CenteredLayer")
        X = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
        reply = layer.call("__call__", X, cotangent=torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0]))
        grad = reply.input_grads[0]
        assert grad is not None, "no gradient reached X through CenteredLayer: keep the mean in the graph (no .item())"
        assert_tensor_close(grad, _f64([0.8, -0.2, -0.2, -0.2, -0.2]), device=device,
                            what="the gradient of CenteredLayer()(X) w.r.t. X (the mean depends on X too)")


class TestMyLinear:
    pytestmark = [pytest.mark.exercise("MyLinear")]

    def _layer(self, student, device):
        layer = _to(student, _module(student, "MyLinear", 3, 2), device)
        student.eval(inspections.PUBLIC_SET_MYLINEAR, layer=layer)
        return layer

    @pytest.mark.points(1)
    def test_parameters(self, student):
        layer = _module(student, "MyLinear", 3, 2)
        named = student.eval(inspections.NAMED_SHAPES, net=layer)
        assert named == [("weight", (3, 2)), ("bias", (2,))], (
            f"MyLinear(3, 2).named_parameters() gives {named}, expected [('weight', (3, 2)), ('bias', (2,))]: "
            "self.weight = nn.Parameter(torch.randn(in_units, units)), self.bias = nn.Parameter(torch.randn(units))")

    @pytest.mark.points(1)
    def test_values_and_gradients(self, student, device):
        # X = [1, 1, 1]: X @ W + b = [1 + 2 + 0 + 0.5, -1 + 0 + 1 - 0.5] = [3.5, -0.5] -> ReLU -> [3.5, 0].
        # With cotangent [1, 1], only the first unit passes the ReLU: dW = [[1, 0]] * 3, db = [1, 0].
        layer = self._layer(student, device)
        reply = layer.call("__call__", torch.ones(1, 3, requires_grad=True), cotangent=torch.ones(1, 2))
        assert_tensor_close(reply.value, _f64([[3.5, 0.0]]), what="MyLinear(3, 2)(X) for X = [[1, 1, 1]]",
                            device=device)
        grads = student.eval(inspections.PUBLIC_MYLINEAR_GRADS, layer=layer)
        assert grads[0] is not None and grads[1] is not None, (
            "no gradient reached MyLinear's weight or bias: use self.weight and self.bias in forward, not .data")
        assert_tensor_close(grads[0], _f64([[1.0, 0.0]] * 3), what="MyLinear.weight.grad", device=device)
        assert_tensor_close(grads[1], _f64([1.0, 0.0]), what="MyLinear.bias.grad", device=device)


class TestCountParameters:
    pytestmark = [pytest.mark.exercise("count_parameters")]

    @pytest.mark.points(1)
    def test_small_networks(self, student):
        # Linear(4, 3): 12 + 3; Linear(3, 1): 3 + 1 -> 19.  Shared Linear(2, 2) twice counts once: 6 + 6 = 12.
        cases = [(inspections.PUBLIC_COUNT_PLAIN_NET, 19), (inspections.PUBLIC_COUNT_SHARED_NET, 12),
                 (inspections.PUBLIC_COUNT_BATCHNORM_NET, 10)]
        for expr, expected in cases:
            got = student.count_parameters(student.eval(expr))
            assert isinstance(got, int) and not isinstance(got, bool) and got == expected, (
                f"count_parameters(net) for net = {expr.replace('torch.nn.', '')} returned {got!r}, expected {expected} "
                "(a Python int; shared parameters count once; BatchNorm's running statistics are buffers, not "
                "parameters)")


def _init_net(student, fn, device):
    net = student.eval(inspections.PUBLIC_INIT_NET)
    _to(student, net, device)
    net.call("apply", student.eval(fn), seed=0)
    return student.eval(inspections.PUBLIC_INIT_VALUES, net=net)


class TestInitNormal:
    pytestmark = [pytest.mark.exercise("init_normal")]

    @pytest.mark.points(1)
    def test_statistics(self, student, device):
        weight, bias, bias2 = _init_net(student, "init_normal", device)
        std = float(weight.double().std())
        assert abs(std - 0.01) < 0.0005, f"after net.apply(init_normal) a weight has std {std:.5f}, expected 0.01"
        assert bool((bias == 0).all()) and bool((bias2 == 0).all()), "after net.apply(init_normal) biases must be 0"


class TestInitXavier:
    pytestmark = [pytest.mark.exercise("init_xavier")]

    @pytest.mark.points(1)
    def test_statistics(self, student, device):
        weight, bias, bias2 = _init_net(student, "init_xavier", device)
        bound = math.sqrt(6 / (100 + 200))
        top = float(weight.abs().max())
        assert 0.98 * bound <= top <= bound * (1 + 1e-6), (
            f"after net.apply(init_xavier) the largest |weight| of Linear(100, 200) is {top:.4f}, expected just "
            f"under sqrt(6 / (100 + 200)) = {bound:.4f} (uniform on [-a, a])")
        assert bool((bias == 0).all()) and bool((bias2 == 0).all()), "after net.apply(init_xavier) biases must be 0"


class TestSharedMlp:
    pytestmark = [pytest.mark.exercise("shared_mlp")]

    @pytest.mark.points(1)
    def test_shared_layer(self, student):
        net = _module(student, "shared_mlp")
        same = all(student.eval(inspections.SHARES_LAYER, net=net))
        assert same, "shared_mlp(): net[2] and net[4] must be the same nn.Linear(8, 8) (the same weight object)"
        assert len(_shapes(student, net)) == 6, "shared_mlp().parameters() must list 6 tensors (shared ones once)"


class TestSaveParams:
    pytestmark = [pytest.mark.exercise("save_params")]

    @pytest.mark.points(1)
    def test_state_dict_file(self, student):
        folder = student.eval(inspections.MAKE_TEMP_FOLDER)
        path = folder + "/net.params"
        try:
            net = student.eval(inspections.PUBLIC_SAVE_NET)
            student.call("save_params", net, path)
            try:
                keys = student.eval(inspections.LOADED_KEYS, path=path)
            except AssertionError as error:
                first = str(error).split("raised ", 1)[-1].split("\n")[0].split(". ")[0]
                raise AssertionError(f"the file written by save_params cannot be read with torch.load(path, "
                                     f"weights_only=True) ({first}): save net.state_dict(), not the module "
                                     "itself") from None
            assert keys == ["0.bias", "0.weight", "2.bias", "2.weight"], (
                f"the file holds {keys}, expected the keys of net.state_dict()")
        finally:
            student.eval(inspections.REMOVE_FOLDER, folder=folder)


class TestLoadParams:
    pytestmark = [pytest.mark.exercise("load_params")]

    @pytest.mark.points(1)
    def test_round_trip(self, student):
        folder = student.eval(inspections.MAKE_TEMP_FOLDER)
        path = folder + "/net.params"
        try:
            student.eval(inspections.PUBLIC_SAVE_FILE, path=path)
            net = student.call("load_params", Code(inspections.PUBLIC_LINEAR_FN), path).value
            assert getattr(net, "type_name", None) == "Linear", (
                "load_params(make_net, path) must return the module built by make_net(), with the saved values")
            values = student.eval(inspections.PUBLIC_LINEAR_VALUES, net=net)
            assert values == [[[1.0, 2.0]], [3.0]], f"the loaded module holds {values}, expected the saved values"
        finally:
            student.eval(inspections.REMOVE_FOLDER, folder=folder)


class TestToDevice:
    pytestmark = [pytest.mark.exercise("to_device")]

    @pytest.mark.points(1)
    def test_output_on_device(self, student, device):
        cpu = student.on("cpu")
        net = cpu.eval(inspections.PUBLIC_LINEAR)
        cpu.eval(inspections.PUBLIC_SET_LINEAR, net=net)
        out = cpu.call("to_device", net, torch.tensor([[1.0, 2.0, 3.0]]), device).value
        assert_tensor_close(out, _f64([[6.0, 6.0]]), what=f"to_device(net, X, {device!r})", device=device)

    @pytest.mark.points(1)
    def test_meta_device(self, student):
        # The meta device has shapes but no data; it exists on every machine.
        cpu = student.on("cpu")
        got = cpu.eval(inspections.PUBLIC_TO_META)
        assert got == ("meta", (4, 2)), f"to_device(net, X, 'meta') gave {got}, expected an output on meta of shape (4, 2)"
