"""Hidden suite for the ``model_construction`` assignment (grader only; never shipped).

Exercises (the book's builders' guide): the modules ``MLP``, ``MySequential``, ``StackedLinear``,
``MultiHead``, ``FixedHiddenMLP``, ``CenteredLayer``, ``MyLinear`` and the functions
``count_parameters``, ``init_normal``, ``init_xavier``, ``shared_mlp``, ``save_params``,
``load_params``, ``to_device``.

How modules are graded (DESIGN §6 applied to objects that stay in the sandbox):

* The student's module is built in the child with a seed (``student.call("MLP", seed=...)``) and
  comes back as a handle; it is moved to the device under test with ``net.to(device)``.
* Its parameters are copied OUT (``student.eval``) and loaded, in the order ``parameters()`` lists
  them, into the reference module built here in float64; outputs and gradients of the student's
  float32 module are compared with the reference's (rtol 1e-5, atol 1e-5: the hidden layer of MLP
  sums 256 float32 products, whose rounding reaches ~1e-6 on outputs of order 1).  Parameters are
  therefore checked by shape and order first, with messages for the registration mistakes (a plain
  list or dict of layers, a plain tensor instead of ``nn.Parameter``).
* Gradients: a random cotangent is back-propagated through the output in the child; the
  parameters' ``.grad`` are read with ``student.eval`` and compared with the reference's.
* Modules the grader needs inside the child (the layers given to ``MySequential``, the networks
  given to ``count_parameters`` or the init functions) are built there by trusted expressions,
  with a seed, and the same expressions build their float64 twins here.

Decisions documented here:

* Attribute names are checked only where the convention needs them (``FixedHiddenMLP.rand_weight``
  and ``.linear``, ``MyLinear.weight`` and ``.bias``); elsewhere any registered layout whose
  ``parameters()`` come in the documented order passes (an ``nn.Sequential`` inside ``MLP``, say).
* ``FixedHiddenMLP.rand_weight`` must follow the module (a buffer, or a parameter with
  ``requires_grad=False``): checked with ``net.double()`` so that the book's plain-attribute version,
  which breaks on a GPU, loses that point on a CPU-only grader too.
* ``to_device`` is also checked on the ``meta`` device, which every build of torch has: forgetting
  to move the input or the module, or ignoring ``device``, fails there without a GPU.
* ``to_device``'s meta check also reads the parameters of the ``net`` passed in: moving a copy of it
  computes the right output and leaves the caller's module behind.
* ``MySequential`` is also given one module twice (``nn.Sequential`` runs it twice): a ``forward``
  over ``self.children()`` runs it once.  ``count_parameters`` is also given a module without any
  parameter (0).  ``MyLinear``'s ``torch.randn`` initialisation is graded on a seeded draw's mean,
  standard deviation and share of negative entries (``torch.rand`` has none).
* Initialisation is graded on statistics of a seeded draw (std within 3%, mean within 5 standard
  errors, the uniform bound of Xavier) and on exact zeros for the biases; a ``LayerNorm`` in the
  network must keep its weight 1 and bias 0 (``init_*`` touches ``nn.Linear`` only).
"""

import ast
import math
import re

import pytest
import torch
from torch import nn

from autograder.banned import find_banned
from autograder.public.banned_rules import LOAD_PARAMS_BANNED, MYLINEAR_BANNED, MYSEQUENTIAL_BANNED
from autograder.compare import (assert_tensor_close, describe, fmt_number)
from autograder.seeded import SeededInputs
from autograder.student import RemoteObject
from autograder import inspections
from autograder.sandbox.wire import Code, origin_device

SEED = 20_250_301
_INPUTS = SeededInputs(SEED)
_gen, _randn = _INPUTS.gen, _INPUTS.randn
RTOL, ATOL = 1e-5, 1e-5
RTOL64, ATOL64 = 1e-10, 1e-12

NOT_REGISTERED = ("nn.Module only registers sub-modules and parameters assigned directly as attributes "
                  "(or kept in nn.ModuleList / nn.ModuleDict / self._modules / add_module); a plain Python "
                  "list or dict hides them from parameters(), state_dict() and net.to(device), so an "
                  "optimizer would train nothing")
DETACHED = ("a parameter without a gradient is cut out of the autograd graph: use the parameters "
            "themselves in forward (not .data, .detach(), .item(), or a tensor rebuilt from their values)")


# ----------------------------------------------------------------------------- helpers


def _shape(t) -> tuple:
    return tuple(int(s) for s in t.shape)


def _rephrase(error: AssertionError, prefix: str, hints=()) -> AssertionError:
    """A StudentError from a trusted expression, said in the student's terms, with the first hint
    whose trigger text appears in the message."""
    text = str(error)
    if "raised " in text:
        text = text.split("raised ", 1)[1]
    extra = next((hint for trigger, hint in hints if trigger in text), "")
    if extra:  # torch's own explanation can run over many lines: keep its first sentence
        text = re.sub(r"\x1b\[[0-9;]*m", "", text).split("\n")[0].split(". ")[0]
    return AssertionError(f"{prefix}: {text}" + (f" -- {extra}" if extra else ""))


def _eval(student, expr, prefix, hints=(), **bindings):
    try:
        return student.eval(expr, **bindings)
    except AssertionError as error:
        raise _rephrase(error, prefix, hints) from None


def _expect_module(student, obj, what):
    """``obj`` must be an nn.Module that stayed in the sandbox."""
    if isinstance(obj, RemoteObject) and student.eval(inspections.IS_MODULE, net=obj):
        return obj
    got = f"an object of type {obj.type_name}" if isinstance(obj, RemoteObject) else describe(obj)
    raise AssertionError(f"{what} gave {got}, expected an nn.Module")


def _build(student, cls, *args, seed, device=None):
    """``cls(*args)`` built in the sandbox with torch seeded, moved to ``device``."""
    what = f"{cls}({', '.join(repr(a) for a in args)})"
    net = _expect_module(student, student.call(cls, *args, seed=seed).value, what)
    if device is not None:
        _move(student, net, device, what)
    return net


def _move(student, net, device, what):
    _eval(student, inspections.NET_TO_DEVICE, f"moving {what} to {device} with net.to({device!r}) failed", net=net,
          dev=device)
    return net


def _trusted_modules(student, expr, seed, **bindings):
    """Modules built in the sandbox by one of the public ``inspections.NETWORKS`` (torch seeded first)."""
    return student.eval(inspections.seeded(expr), seed=seed, **bindings)


def _named_params(student, net):
    return student.eval(inspections.NAMED_PARAMS, net=net)


def _param_grads(student, net):
    return student.eval(inspections.PARAM_GRADS, net=net)


def _check_shapes(named, expected, what, hint=None, listing=None):
    shapes = [_shape(p) for _, p in named]
    if shapes == [tuple(s) for s in expected]:
        return
    msg = (f"{listing or what + '.parameters()'} lists tensors of shapes {shapes}, expected "
           f"{[tuple(s) for s in expected]} (in this order)")
    extra = hint(shapes) if callable(hint) else hint
    if not extra and not shapes:
        extra = f"it has no parameters at all: {NOT_REGISTERED}"
    elif not extra and sorted(shapes) == sorted(tuple(s) for s in expected):
        extra = "the right parameters in another order: create the layers in the order of the convention"
    elif not extra and any(len(s) == 2 and s[::-1] in [tuple(e) for e in expected] for s in shapes):
        extra = ("a weight of shape (d_in, d_out): nn.Linear(d_in, d_out) stores its weight as (d_out, d_in); "
                 "check the order of the sizes you pass to nn.Linear")
    raise AssertionError(f"{msg}: {extra}" if extra else msg)


def _load_into(module: nn.Module, values) -> nn.Module:
    """Copy ``values`` (in parameters() order) into ``module``, in float64."""
    module = module.double()
    with torch.no_grad():
        for p, v in zip(module.parameters(), values):
            p.copy_(v.double())
    return module


def _close(a, b, rtol=1e-4, atol=1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and bool(torch.isclose(a.double(), b.double(), rtol=rtol, atol=atol).all()))


def _alternatives_hint(alternatives):
    """A hint callable: the message of the first (tensor, message) that matches the output."""
    def hint(actual):
        return next((msg for alt, msg in alternatives if _close(actual, alt)), "")
    return hint


def _check_forward(out, expected, what, device, hint=None, dtype=torch.float32):
    rtol, atol = (RTOL64, ATOL64) if dtype == torch.float64 else (RTOL, ATOL)
    assert_tensor_close(out, expected, rtol=rtol, atol=atol, what=what, dtype=dtype, device=device, hint=hint)


def _check_grads(grads, expected_grads, names, what, device):
    for name, grad, expected in zip(names, grads, expected_grads):
        if grad is None:
            raise AssertionError(f"no gradient reached {name} after back-propagating through {what}: {DETACHED}")
        assert_tensor_close(grad, expected, rtol=RTOL, atol=ATOL, device=device,
                            what=f"the gradient of {name} ({what}, random cotangent)",
                            hint="the forward values may be right while the gradient is wrong when part of "
                                 "the computation is detached or a layer is used a different number of times")


def _forward_with_grads(student, net, X, C):
    """Forward ``X`` through the student's module with a cotangent; (output, parameter grads, X grad)."""
    reply = net.call("__call__", X.clone().requires_grad_(), cotangent=C)
    grads = _param_grads(student, net)
    x_grad = reply.input_grads[0] if reply.input_grads else None
    return reply.value, grads, x_grad


def _reference_grads(ref: nn.Module, X, C, *args):
    X64 = X.double().requires_grad_()
    out = ref(X64, *args)
    params = list(ref.parameters())
    grads = torch.autograd.grad(out, params + [X64], C.double(), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params + [X64], grads)]


# ============================================================================ MLP

MLP_SHAPES = [(256, 20), (256,), (10, 256), (10,)]


def _mlp_reference(reference, params):
    return _load_into(reference.MLP(), params)


class TestMLP:
    pytestmark = [pytest.mark.exercise("MLP")]

    @pytest.mark.points(1)
    def test_layers(self, student):
        """MLP() has hidden = Linear(20, 256) then out = Linear(256, 10): parameter shapes in order,
        all trainable."""
        net = _build(student, "MLP", seed=SEED)
        named = _named_params(student, net)
        _check_shapes(named, MLP_SHAPES, "MLP()")
        if not all(student.eval(inspections.PARAMS_REQUIRE_GRAD, net=net)):
            raise AssertionError("some parameters of MLP() do not require grad: leave nn.Linear's parameters "
                                 "trainable")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, n", list(enumerate([3, 1, 20])))
    def test_forward_values(self, student, reference, device, k, n):
        """net(X) = out(relu(hidden(X))) with the student's own parameters, for several batch sizes
        (catches a missing ReLU and layers applied in the wrong order)."""
        net = _build(student, "MLP", seed=SEED + k, device=device)
        named = _named_params(student, net)
        _check_shapes(named, MLP_SHAPES, "MLP()")
        params = [p for _, p in named]
        X = _randn((n, 20), 10 + k)
        out = net(X)
        ref = _mlp_reference(reference, params)
        expected = ref(X.double()).detach()
        W1, b1, W2, b2 = (p.double() for p in params)
        no_relu = (X.double() @ W1.T + b1) @ W2.T + b2
        _check_forward(out, expected, f"MLP()(X) for X of shape ({n}, 20)", device,
                       hint=_alternatives_hint([(no_relu, "that is the output without the ReLU between the two "
                                                          "layers: out(relu(hidden(X)))")]))

    @pytest.mark.points(1)
    def test_gradients(self, student, reference, device):
        """Back-propagating a random cotangent gives the reference's gradients for every parameter
        and for X."""
        net = _build(student, "MLP", seed=SEED + 5, device=device)
        named = _named_params(student, net)
        _check_shapes(named, MLP_SHAPES, "MLP()")
        X, C = _randn((4, 20), 20), _randn((4, 10), 21)
        out, grads, x_grad = _forward_with_grads(student, net, X, C)
        ref = _mlp_reference(reference, [p for _, p in named])
        expected = _reference_grads(ref, X, C)
        names = [f"MLP's parameter {n}" for n, _ in named] + ["X"]
        _check_grads(grads + [x_grad], expected, names, "MLP()(X) for X of shape (4, 20)", device)


# ============================================================================ MySequential

SEQ_CASES = [  # public expressions for the modules given to MySequential, and the input shape
    (inspections.SEQ_TANH_MODULES, (6, 6)),
    (inspections.SEQ_RELU_MODULES, (4, 5)),
    (inspections.SEQ_ONE_MODULE, (1, 4)),
]


def _seq_modules(student, k, expr=None):
    """The modules of ``SEQ_CASES[k]`` (or of ``expr``) built in the sandbox, and their float64 twins here."""
    expr = expr or SEQ_CASES[k][0]
    mods = _trusted_modules(student, expr, SEED + 100 + k)
    values = student.eval(inspections.MODULE_PARAMS, mods=mods)
    twins = eval(expr, {"torch": torch})  # the grader's own float64 copies
    for twin, vals in zip(twins, values):
        _load_into(twin, vals)
    return mods, twins


class TestMySequential:
    pytestmark = [pytest.mark.exercise("MySequential")]

    @pytest.mark.points(1)
    def test_registers_modules(self, student):
        """MySequential(*modules).parameters() lists the given modules' own parameters, in order
        (catches a plain list or dict attribute, which hides them)."""
        for k in range(2):
            mods, _ = _seq_modules(student, k)
            net = _expect_module(student, student.call("MySequential", *mods).value,
                                 f"MySequential(...) with {len(mods)} modules")
            same = student.eval(inspections.REGISTERS_MODULES, net=net, mods=mods)
            flags, extra = same[:-1], same[-1]
            n_expected = len(flags) + (-extra if extra < 0 else 0)
            if not flags:
                raise AssertionError(f"MySequential(...) with {len(mods)} modules has no parameters although its "
                                     f"modules have {n_expected} parameter tensors: {NOT_REGISTERED}")
            if extra != 0 or not all(flags):
                raise AssertionError(
                    f"MySequential(...).parameters() for {len(mods)} modules does not list exactly the modules' own "
                    "parameters in their order: register each given module itself, in order (the book: "
                    "self._modules[str(idx)] = module); do not copy or rebuild the modules, and do not key them by "
                    "something two modules can share, such as their class name")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(SEQ_CASES)))
    def test_forward_in_order(self, student, reference, device, k, case):
        """net(X) feeds X through the modules in the given order, each taking the previous output
        (catches reversed order, modules applied to the input, and layers left behind by net.to(device))."""
        (expr, shape) = case
        mods, twins = _seq_modules(student, k)
        what = f"MySequential(...) with {len(mods)} modules"
        net = _expect_module(student, student.call("MySequential", *mods).value, what)
        _move(student, net, device, what)
        X = _randn(shape, 110 + k)
        try:
            out = net(X)
        except AssertionError as error:
            raise _rephrase(error, f"{what} applied to X of shape {shape} raised", [
                ("shapes cannot be multiplied", "apply the modules in the order they were given, each to the "
                                                "output of the previous one")]) from None
        X64 = X.double()
        expected = reference.MySequential(*twins)(X64).detach()
        alternatives = [(X64, "the input came back unchanged: apply the modules and return the last output")]
        for mistake, order in [("the modules were applied in reverse order", twins[::-1]),
                               ("that is the last module applied to the input X: feed each module the output "
                                "of the previous one (X = module(X))", twins[-1:])]:
            try:
                h = X64
                for m in order:
                    h = m(h)
                alternatives.insert(0, (h.detach(), mistake))
            except RuntimeError:  # the shapes do not allow that mistake here
                pass
        _check_forward(out, expected, f"{what}, applied to X of shape {shape}", device,
                       hint=_alternatives_hint(alternatives))

    @pytest.mark.points(1)
    def test_module_given_twice(self, student, reference, device):
        """MySequential(lin, Tanh(), lin, ReLU(), Linear(5, 3)), the same nn.Linear given twice, applies it
        twice, like nn.Sequential (catches a forward that loops over self.children() or self.modules(),
        which list a module once however often it was given)."""
        mods, twins = _seq_modules(student, 5, inspections.SEQ_REPEATED_MODULES)
        what = "MySequential(lin, nn.Tanh(), lin, nn.ReLU(), nn.Linear(5, 3)), one nn.Linear(5, 5) lin given twice"
        net = _expect_module(student, student.call("MySequential", *mods).value, what)
        _move(student, net, device, what)
        X = _randn((4, 5), 130)
        try:
            out = net(X)
        except AssertionError as error:
            raise _rephrase(error, f"{what}, applied to X of shape (4, 5), raised") from None
        X64 = X.double()
        expected = reference.MySequential(*twins)(X64).detach()
        once = X64
        for m in [twins[0], twins[1], twins[3], twins[4]]:  # what a loop over self.children() runs
            once = m(once)
        _check_forward(out, expected, f"{what}, applied to X of shape (4, 5)", device, hint=_alternatives_hint([
            (once.detach(), "lin ran only once: self.children() and self.modules() list a module once however "
                            "often it was given; loop over self._modules.values() (which keeps every position), "
                            "as the book does")]))

    @pytest.mark.points(1)
    def test_written_by_hand(self, student, reference):
        """MySequential is written from nn.Module, without nn.Sequential (AST check and the module
        tree), and it works.  (A container dispatches no ATen operator of its own, so observing the
        call would show nothing: the module tree is the run-time check here.)"""
        problems = find_banned(student.source, "MySequential", MYSEQUENTIAL_BANNED)
        assert not problems, "\n".join(problems)
        mods, twins = _seq_modules(student, 0)
        net = _expect_module(student, student.call("MySequential", *mods).value, "MySequential(...)")
        if student.eval(inspections.HAS_SEQUENTIAL, net=net):
            raise AssertionError("MySequential(...) is (or contains) an nn.Sequential: write the container "
                                 "yourself from nn.Module")
        X = _randn(SEQ_CASES[0][1], 120)
        try:
            _check_forward(net(X), reference.MySequential(*twins)(X.double()).detach(),
                           "MySequential(...)(X) on a basic input", "cpu")
        except AssertionError as error:
            raise AssertionError(f"the point for writing MySequential by hand needs a working MySequential: "
                                 f"{error}") from None


# ============================================================================ StackedLinear

STACK_CASES = [([5, 8, 6, 3], 4), ([4, 4], 3), ([3, 7, 2], 1)]


def _stack_shapes(sizes):
    shapes = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        shapes += [(n_out, n_in), (n_out,)]
    return shapes


def _stack_alternatives(params, X64):
    """Outputs of the usual mistakes: ReLU after the last layer too, no ReLU at all."""
    def run(relu_last, relu_any):
        h = X64
        layers = list(zip(params[0::2], params[1::2]))
        for i, (W, b) in enumerate(layers):
            h = h @ W.double().T + b.double()
            if relu_any and (i < len(layers) - 1 or relu_last):
                h = torch.relu(h)
        return h
    return [(run(True, True), "that has a ReLU after the last layer too: apply ReLU between layers only"),
            (run(False, False), "that is the output without any ReLU: apply ReLU after every layer but the last")]


class TestStackedLinear:
    pytestmark = [pytest.mark.exercise("StackedLinear")]

    @pytest.mark.points(1)
    @pytest.mark.parametrize("k, case", list(enumerate(STACK_CASES[:2])))
    def test_layers_registered(self, student, k, case):
        """StackedLinear(sizes) registers Linear(sizes[i], sizes[i+1]) for each consecutive pair, in
        order (catches a plain Python list of layers)."""
        (sizes, _) = case
        net = _build(student, "StackedLinear", sizes, seed=SEED + 200 + k)
        named = _named_params(student, net)
        _check_shapes(named, _stack_shapes(sizes), f"StackedLinear({sizes})",
                      hint=lambda shapes: "" if shapes else
                      f"it has no parameters: keep the layers in an nn.ModuleList, not a plain list -- "
                      f"{NOT_REGISTERED}")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(STACK_CASES)))
    def test_forward_values(self, student, reference, device, k, case):
        """net(X) applies the layers in order with ReLU between them and none after the last."""
        (sizes, n) = case
        net = _build(student, "StackedLinear", sizes, seed=SEED + 210 + k, device=device)
        named = _named_params(student, net)
        _check_shapes(named, _stack_shapes(sizes), f"StackedLinear({sizes})")
        params = [p for _, p in named]
        X = _randn((n, sizes[0]), 220 + k)
        expected = _load_into(reference.StackedLinear(sizes), params)(X.double()).detach()
        alternatives = _stack_alternatives(params, X.double()) if len(sizes) > 2 else []
        _check_forward(net(X), expected, f"StackedLinear({sizes})(X) for X of shape ({n}, {sizes[0]})", device,
                       hint=_alternatives_hint(alternatives))


# ============================================================================ MultiHead

HEADS = {"age": 1, "label": 4, "box": 3}


def _head_shapes(in_features, heads):
    shapes = []
    for n_out in heads.values():
        shapes += [(n_out, in_features), (n_out,)]
    return shapes


class TestMultiHead:
    pytestmark = [pytest.mark.exercise("MultiHead")]

    @pytest.mark.points(1)
    def test_heads_registered(self, student):
        """MultiHead(in_features, head_sizes) registers one Linear(in_features, n) per head, in the
        dict's order (catches a plain Python dict of layers)."""
        net = _build(student, "MultiHead", 6, HEADS, seed=SEED + 300)
        _check_shapes(_named_params(student, net), _head_shapes(6, HEADS), f"MultiHead(6, {HEADS})",
                      hint=lambda shapes: "" if shapes else
                      f"it has no parameters: keep the heads in an nn.ModuleDict, not a plain dict -- {NOT_REGISTERED}")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate([(6, HEADS, 5), (3, {"b": 2, "a": 5}, 1)])))
    def test_each_head(self, student, reference, device, k, case):
        """net(X, head) is the named head's output, for every head."""
        (in_features, heads, n) = case
        net = _build(student, "MultiHead", in_features, heads, seed=SEED + 310 + k, device=device)
        named = _named_params(student, net)
        _check_shapes(named, _head_shapes(in_features, heads), f"MultiHead({in_features}, {heads})")
        ref = _load_into(reference.MultiHead(in_features, heads), [p for _, p in named])
        X = _randn((n, in_features), 320 + k)
        outputs = {name: ref(X.double(), name).detach() for name in heads}
        for name in heads:
            others = [(outputs[o], f"that is the output of head {o!r}: select the head by its name, "
                                   "self.heads[head](X)") for o in heads if o != name]
            out = net(X, name)
            if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] != heads[name]:
                other = next((o for o in heads if o != name and heads[o] == out.shape[1]), None)
                if other is not None:
                    raise AssertionError(
                        f"MultiHead({in_features}, {heads})(X, {name!r}) has shape {_shape(out)}, expected "
                        f"({n}, {heads[name]}): that is the shape of head {other!r}'s output -- select the head "
                        "by its name, self.heads[head](X)")
            _check_forward(out, outputs[name],
                           f"MultiHead({in_features}, {heads})(X, {name!r}) for X of shape ({n}, {in_features})",
                           device, hint=_alternatives_hint(others))


# ============================================================================ FixedHiddenMLP


def _fixed_forward(X, rand_weight, W, b, mode="while"):
    """FixedHiddenMLP's computation in float64; ``mode`` gives the usual loop mistakes."""
    X = X @ W.T + b
    X = torch.relu(X @ rand_weight + 1)
    X = X @ W.T + b
    if mode == "while":
        while X.abs().sum() > 1:
            X = X / 2
    elif mode == "l2":
        while X.norm() > 1:
            X = X / 2
    elif mode == "if":
        if X.abs().sum() > 1:
            X = X / 2
    return X.sum()


def _fixed_state(student, net):
    """(rand_weight, linear.weight, linear.bias) of the student's FixedHiddenMLP."""
    state = _eval(student, inspections.FIXED_HIDDEN_PARAMS,
                  "FixedHiddenMLP must keep its constant in self.rand_weight and its layer in self.linear "
                  "(the grader reads them)", net=net)
    for name, value, shape in zip(["rand_weight", "linear.weight", "linear.bias"], state, [(20, 20), (20, 20), (20,)]):
        if not isinstance(value, torch.Tensor) or _shape(value) != shape:
            raise AssertionError(f"FixedHiddenMLP().{name} is {describe(value)}, expected a tensor of shape {shape}")
    return state


class TestFixedHiddenMLP:
    pytestmark = [pytest.mark.exercise("FixedHiddenMLP")]

    @pytest.mark.points(1)
    def test_constant_is_not_trained(self, student):
        """rand_weight is a (20, 20) tensor from torch.rand, not trainable; linear = Linear(20, 20) is
        the only trainable layer (catches rand_weight as a trainable nn.Parameter, a second Linear)."""
        net = _build(student, "FixedHiddenMLP", seed=SEED + 400)
        rand_weight, _, _ = _fixed_state(student, net)
        if not (bool((rand_weight >= 0).all()) and bool((rand_weight < 1).all())):
            raise AssertionError("FixedHiddenMLP().rand_weight has values outside [0, 1): draw it with "
                                 "torch.rand(20, 20), as the book does")
        trainable = student.eval(inspections.NAMED_TRAINABLE_PARAMS, net=net)
        _check_shapes(trainable, [(20, 20), (20,)], "FixedHiddenMLP()",
                      listing="the trainable parameters of FixedHiddenMLP()",
                      hint=lambda shapes: (
                          "rand_weight is trainable: it must stay constant -- register it as a buffer "
                          "(self.register_buffer('rand_weight', torch.rand(20, 20))), which no optimizer updates"
                          if any(n.endswith("rand_weight") for n, _ in trainable) else
                          "use ONE nn.Linear(20, 20) (self.linear) for both linear steps: the book's point is "
                          "that both uses share its parameters" if len(shapes) > 2 else ""))

    @pytest.mark.points(1)
    def test_constant_follows_the_module(self, student):
        """rand_weight follows the module when it is converted or moved (net.double() here): a buffer
        or a frozen parameter does, a plain tensor attribute does not (and then fails on a GPU)."""
        net = _build(student, "FixedHiddenMLP", seed=SEED + 410)
        dtype = _eval(student, inspections.RAND_WEIGHT_DTYPE_AFTER_DOUBLE, "FixedHiddenMLP().double() failed", net=net)
        if dtype != "torch.float64":
            raise AssertionError(
                "FixedHiddenMLP().rand_weight did not follow net.double() (it stayed " + dtype.replace("torch.", "")
                + "): a plain tensor attribute is invisible to nn.Module, so net.to(device) leaves it behind "
                "and the module fails on a GPU; register it with self.register_buffer('rand_weight', "
                "torch.rand(20, 20))")

    @pytest.mark.points(1)
    def test_halving_stops_at_exactly_one(self, student, device):
        """The loop halves while the sum of |X| is LARGER than 1: with the layer set to weight 0 and
        bias (2, 0, ..., 0), X is halved once to a sum of exactly 1 and then kept (catches `>= 1`)."""
        net = _build(student, "FixedHiddenMLP", seed=SEED + 430, device=device)
        _eval(student, inspections.SET_FIXED_HIDDEN_PARAMS, "setting FixedHiddenMLP's parameters failed", net=net,
              label="setting the parameters")
        out = student.call_method(net, "__call__", torch.randn(1, 20, generator=torch.Generator().manual_seed(7))).value
        assert isinstance(out, torch.Tensor) and out.numel() == 1, (
            f"FixedHiddenMLP()(X) returned {describe(out)}, expected a 0-d tensor (X.sum())")
        value = float(out)
        assert value == 1.0, (
            f"with linear.weight = 0 and linear.bias = (2, 0, ..., 0) the output after the loop should sum to "
            f"exactly 1 (2 halved once), but FixedHiddenMLP()(X) returned {value:g}: halve only while the sum "
            "of |X| is larger than 1 (`while X.abs().sum() > 1`), not while it is at least 1")

    @pytest.mark.points(1)
    @pytest.mark.parametrize("k, n", list(enumerate([2, 1, 5])))
    def test_forward_values(self, student, reference, device, k, n):
        """net(X): linear, relu(X @ rand_weight + 1), the same linear, halve while the sum of |X| > 1,
        sum (catches an L2 norm in the loop, `if` instead of `while`, a second layer)."""
        net = _build(student, "FixedHiddenMLP", seed=SEED + 420 + k, device=device)
        rand_weight, W, b = (t.double() for t in _fixed_state(student, net))
        X = _randn((n, 20), 430 + k)
        ref = reference.FixedHiddenMLP().double()
        with torch.no_grad():
            ref.rand_weight.copy_(rand_weight)
            ref.linear.weight.copy_(W)
            ref.linear.bias.copy_(b)
        expected = ref(X.double()).detach()
        X64 = X.double()
        alternatives = [(_fixed_forward(X64, rand_weight, W, b, "l2"),
                         "that halves while the L2 norm is above 1: the book's loop tests the sum of absolute "
                         "values, X.abs().sum() > 1"),
                        (_fixed_forward(X64, rand_weight, W, b, "if"),
                         "that halves at most once: keep halving in a while loop until X.abs().sum() <= 1"),
                        (_fixed_forward(X64, rand_weight, W, b, "none"),
                         "that is the sum without the halving loop")]
        _check_forward(net(X), expected, f"FixedHiddenMLP()(X) for X of shape ({n}, 20)", device,
                       hint=_alternatives_hint(alternatives))

    @pytest.mark.points(1)
    def test_gradients(self, student, reference, device):
        """The gradient of the output reaches linear.weight and linear.bias (through both uses of the
        layer) and X; rand_weight gets none."""
        net = _build(student, "FixedHiddenMLP", seed=SEED + 440, device=device)
        rand_weight, W, b = (t.double() for t in _fixed_state(student, net))
        X, C = _randn((3, 20), 441), torch.tensor(0.75)
        reply = net.call("__call__", X.clone().requires_grad_(), cotangent=C)
        grads = _eval(student, inspections.FIXED_HIDDEN_GRADS,
                      "reading FixedHiddenMLP's gradients failed", net=net)
        ref = reference.FixedHiddenMLP().double()
        with torch.no_grad():
            ref.rand_weight.copy_(rand_weight)
            ref.linear.weight.copy_(W)
            ref.linear.bias.copy_(b)
        X64 = X.double().requires_grad_()
        expected = torch.autograd.grad(ref(X64), [ref.linear.weight, ref.linear.bias, X64], C.double())
        if grads[2] is not None and bool((grads[2] != 0).any()):
            raise AssertionError("rand_weight received a gradient: it is a constant, create it without "
                                 "requires_grad (a buffer)")
        x_grad = reply.input_grads[0] if reply.input_grads else None
        _check_grads([grads[0], grads[1], x_grad], expected, ["linear.weight", "linear.bias", "X"],
                     "FixedHiddenMLP()(X) for X of shape (3, 20)", device)


# ============================================================================ CenteredLayer

CENTER_CASES = [((4, 3), torch.float32), ((5, 5), torch.float32), ((2, 3, 4), torch.float32),
                ((1, 6), torch.float32), ((3, 4), torch.float64)]


def _center_alternatives(X64):
    alts = [(X64 - X64.mean(dim=0, keepdim=True), "each column was centred on its own mean: subtract the mean "
                                                   "of ALL entries, X - X.mean()"),
            (X64 - X64.mean(dim=-1, keepdim=True), "each row was centred on its own mean: subtract the mean of "
                                                    "ALL entries, X - X.mean()"),
            (X64 - X64.sum(), "that subtracts the sum: subtract the mean, X - X.mean()")]
    return alts


class TestCenteredLayer:
    pytestmark = [pytest.mark.exercise("CenteredLayer")]

    @pytest.mark.points(1)
    def test_no_parameters(self, student):
        """CenteredLayer() has no parameters (and works)."""
        layer = _build(student, "CenteredLayer", seed=SEED + 500)
        named = _named_params(student, layer)
        if named:
            raise AssertionError(f"CenteredLayer() has parameters {[n for n, _ in named]}: the layer only subtracts "
                                 "the mean of its input and needs none")
        X = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
        try:
            _check_forward(layer(X), X.double() - 3.0, "CenteredLayer()(X) on a basic input", "cpu")
        except AssertionError as error:
            raise AssertionError(f"the point for a parameter-free layer needs a working CenteredLayer: {error}") from None

    @pytest.mark.points(1)
    def test_values(self, student, device):
        """layer(X) = X - X.mean() over all entries, shape, dtype and device kept (2-D, square, 3-D,
        a single row, float64)."""
        layer = _build(student, "CenteredLayer", seed=SEED + 510, device=device)
        for k, (shape, dtype) in enumerate(CENTER_CASES):
            X = _randn(shape, 520 + k, dtype=dtype, scale=3.0) + 2.0
            X64 = X.double()
            _check_forward(layer(X), X64 - X64.mean(),
                           f"CenteredLayer()(X) for X of shape {shape} ({str(dtype).replace('torch.', '')})",
                           device, hint=_alternatives_hint(_center_alternatives(X64)), dtype=dtype)

    @pytest.mark.points(1)
    def test_gradient(self, student, device):
        """The gradient w.r.t. X flows through the mean too: C - C.mean() (catches X.mean().item()
        and a detached mean)."""
        layer = _build(student, "CenteredLayer", seed=SEED + 530, device=device)
        for k, shape in enumerate([(4, 3), (2, 3, 4)]):
            X, C = _randn(shape, 540 + k), _randn(shape, 545 + k)
            reply = layer.call("__call__", X.clone().requires_grad_(), cotangent=C)
            grad = reply.input_grads[0] if reply.input_grads else None
            expected = C.double() - C.double().mean()
            if grad is None:
                raise AssertionError(f"no gradient reached X through CenteredLayer()(X): {DETACHED}")
            assert_tensor_close(grad, expected, rtol=RTOL, atol=ATOL, device=device,
                                what=f"the gradient of CenteredLayer()(X) w.r.t. X (shape {shape}, random cotangent)",
                                hint=_alternatives_hint([(C.double(), "that is the cotangent itself, as if the mean "
                                                          "were a constant: keep X.mean() a tensor in the graph (no "
                                                          ".item(), float() or .detach())")]))


# ============================================================================ MyLinear

def _mylinear_params(student, layer, in_units, units):
    named = _named_params(student, layer)
    names = [n for n, _ in named]
    what = f"MyLinear({in_units}, {units})"
    if not named:
        raise AssertionError(f"{what} has no parameters: wrap weight and bias in nn.Parameter "
                             "(self.weight = nn.Parameter(torch.randn(in_units, units))); a plain tensor "
                             "attribute, even with requires_grad=True, is not registered, so optimizers, "
                             "state_dict() and net.to(device) never see it")
    if names != ["weight", "bias"]:
        raise AssertionError(f"{what} has parameters {names}, expected exactly ['weight', 'bias'] "
                             "(self.weight, then self.bias)")
    _check_shapes(named, [(in_units, units), (units,)], what,
                  hint=lambda shapes: ("the book's MyLinear stores the weight as (in_units, units) and computes "
                                       "X @ weight (unlike nn.Linear)" if shapes and shapes[0] == (units, in_units)
                                       else ""))
    return [p for _, p in named]


class TestMyLinear:
    pytestmark = [pytest.mark.exercise("MyLinear")]

    @pytest.mark.points(1)
    def test_parameters(self, student):
        """MyLinear(in_units, units) has nn.Parameters weight (in_units, units) and bias (units,) that
        require grad, and no nn.Linear (catches plain tensors, transposed weights)."""
        problems = find_banned(student.source, "MyLinear", MYLINEAR_BANNED)
        assert not problems, "\n".join(problems)
        for k, (in_units, units) in enumerate([(5, 3), (4, 4)]):
            layer = _build(student, "MyLinear", in_units, units, seed=SEED + 600 + k)
            _mylinear_params(student, layer, in_units, units)
            if not all(student.eval(inspections.PARAMS_REQUIRE_GRAD, net=layer)):
                raise AssertionError(f"MyLinear({in_units}, {units})'s parameters must require grad (nn.Parameter "
                                     "does by default)")

    @pytest.mark.points(1)
    def test_drawn_from_randn(self, student):
        """MyLinear(64, 48), seeded: weight and bias are draws from the standard normal distribution
        (torch.randn), judged by their mean, standard deviation and share of negative entries (catches
        torch.rand, which is uniform on [0, 1), a scaled randn, and zeros)."""
        in_units, units = 64, 48
        layer = _build(student, "MyLinear", in_units, units, seed=SEED + 650)
        weight, bias = _mylinear_params(student, layer, in_units, units)
        # standard errors: 1/sqrt(3072) = 0.018 (mean), 0.013 (std), 0.009 (share); 48 entries for the bias
        for name, t, mean_bound, std_band, share_band in (
                ("weight", weight, 0.11, (0.9, 1.1), (0.45, 0.55)), ("bias", bias, 0.9, (0.5, 1.6), (0.2, 0.8))):
            v = t.double().reshape(-1)
            mean, std, share = float(v.mean()), float(v.std()), float((v < 0).double().mean())
            if (abs(mean) <= mean_bound and std_band[0] <= std <= std_band[1]
                    and share_band[0] <= share <= share_band[1]):
                continue
            hint = "draw it with torch.randn (mean 0, standard deviation 1), as the book does"
            if share == 0 and 0.2 < std < 0.35:
                hint = "that looks like torch.rand (uniform on [0, 1), never negative): use torch.randn (normal)"
            elif std == 0:
                hint = "all its entries are equal: " + hint
            raise AssertionError(f"the {name} of MyLinear({in_units}, {units}) (seeded) has mean {fmt_number(mean)}, "
                                 f"standard deviation {fmt_number(std)} and {fmt_number(100 * share)}% negative "
                                 f"entries, expected about 0, 1 and 50%: {hint}")

    @pytest.mark.points(1)
    @pytest.mark.parametrize("k, case", list(enumerate([(5, 3, 4), (4, 4, 4), (6, 2, 1)])))
    def test_forward_values(self, student, reference, device, k, case):
        """layer(X) = relu(X @ weight + bias) with the layer's own parameters."""
        (in_units, units, n) = case
        layer = _build(student, "MyLinear", in_units, units, seed=SEED + 610 + k, device=device)
        params = _mylinear_params(student, layer, in_units, units)
        X = _randn((n, in_units), 620 + k)
        expected = _load_into(reference.MyLinear(in_units, units), params)(X.double()).detach()
        W, b = (p.double() for p in params)
        no_relu = X.double() @ W + b
        _check_forward(layer(X), expected, f"MyLinear({in_units}, {units})(X) for X of shape ({n}, {in_units})",
                       device, hint=_alternatives_hint([(no_relu, "that is X @ weight + bias without the ReLU "
                                                                  "of the book's MyLinear")]))

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate([(5, 3, 4), (3, 6, 2)])))
    def test_gradients_reach_parameters(self, student, reference, device, k, case):
        """Back-propagation reaches weight and bias with the reference's gradients, and X (catches the
        book's self.weight.data in forward, which leaves the parameters without gradients)."""
        (in_units, units, n) = case
        layer = _build(student, "MyLinear", in_units, units, seed=SEED + 630 + k, device=device)
        params = _mylinear_params(student, layer, in_units, units)
        X, C = _randn((n, in_units), 640 + k), _randn((n, units), 645 + k)
        _, grads, x_grad = _forward_with_grads(student, layer, X, C)
        ref = _load_into(reference.MyLinear(in_units, units), params)
        expected = _reference_grads(ref, X, C)
        what = f"MyLinear({in_units}, {units})(X) for X of shape ({n}, {in_units})"
        for name, grad in zip(["weight", "bias"], grads):
            if grad is None:
                raise AssertionError(
                    f"no gradient reached MyLinear.{name} after back-propagating through {what}: forward must "
                    "use self.weight and self.bias themselves -- .data (as in the book) gives the same numbers "
                    "without the autograd history, so the layer would never learn")
        _check_grads(grads + [x_grad], expected, ["MyLinear.weight", "MyLinear.bias", "X"], what, device)


# ============================================================================ count_parameters

COUNT_NETS = [
    ("a Sequential of Linear(5, 7), ReLU, Linear(7, 3)", inspections.COUNT_PLAIN_NET),
    ("nested Sequential blocks", inspections.COUNT_NESTED_NET),
    ("a network with a shared Linear(6, 6) used twice and a BatchNorm1d (with buffers)", inspections.COUNT_SHARED_NET),
    ("a network whose first layer is frozen (requires_grad=False)", inspections.COUNT_FROZEN_NET),
]


def _count_hint(out, net: nn.Module) -> str:
    if not isinstance(out, int) or isinstance(out, bool):
        return ""
    params = list(net.parameters())
    if out == len(params):
        return "that is the number of parameter TENSORS: add up p.numel() over net.parameters()"
    if out == sum(v.numel() for v in net.state_dict().values()):
        return ("that counts state_dict(), which also holds buffers (BatchNorm's running statistics) and lists a "
                "shared parameter once per place it is used: count net.parameters()")
    if out == sum(p.numel() for m in net.modules() for p in m.parameters()):
        return ("each nested module's parameters were counted once per enclosing module: net.parameters() "
                "already walks the sub-modules, so count it once")
    if out == sum(p.numel() for p in params if p.requires_grad):
        return "only trainable parameters were counted: count every parameter, frozen ones too"
    if out == sum(p.numel() for m in net.modules() if isinstance(m, nn.Linear) for p in m.parameters()):
        return "only nn.Linear layers were counted: count every parameter of the network (BatchNorm has some too)"
    return ""


class TestCountParameters:
    pytestmark = [pytest.mark.exercise("count_parameters")]

    def _check(self, student, reference, cases):
        for k, (label, expr) in enumerate(cases):
            net = _trusted_modules(student, expr, SEED + 700 + k)
            out = student.count_parameters(net)
            twin = eval(expr, {"torch": torch})
            expected = reference.count_parameters(twin)
            what = f"count_parameters(net) for {label}"
            if isinstance(out, torch.Tensor):
                raise AssertionError(f"{what} returned a tensor, expected a Python int: convert with int(...) or "
                                     ".item(), or add up Python ints (p.numel())")
            if not isinstance(out, int) or isinstance(out, bool):
                raise AssertionError(f"{what} returned {describe(out)}, expected a Python int")
            if out != expected:
                hint = _count_hint(out, twin)
                raise AssertionError(f"{what} is {out}, expected {expected}" + (f": {hint}" if hint else ""))

    @pytest.mark.points(1)
    def test_plain_and_nested(self, student, reference):
        """The number of scalar parameters of a plain and of a nested network, as a Python int."""
        self._check(student, reference, COUNT_NETS[:2])

    @pytest.mark.points(1)
    def test_shared_buffers_and_frozen(self, student, reference):
        """A shared layer counts once, buffers do not count, frozen parameters do."""
        self._check(student, reference, COUNT_NETS[2:])

    @pytest.mark.points(1)
    def test_no_parameters(self, student, reference):
        """A module without any parameter (Flatten, ReLU) has 0 (catches sums that start from the first
        parameter, torch.stack or reduce over an empty list, max() of nothing)."""
        label = "a Sequential of Flatten and ReLU, which has no parameters"
        try:
            self._check(student, reference, [(label, inspections.COUNT_EMPTY_NET)])
        except AssertionError as error:  # the advice first: what follows may quote the student's own text
            raise AssertionError("a module may have no parameters at all, and count_parameters must then return 0 "
                                 "(sum(p.numel() for p in net.parameters()) does; torch.stack, functools.reduce or "
                                 f"max over an empty list fail): {error}") from None


# ============================================================================ init_normal / init_xavier

def _apply_init(student, fn, sizes, seed, device):
    """Build the test network in the sandbox, apply the student's init function with net.apply."""
    a, b, c = sizes
    net = _trusted_modules(student, inspections.INIT_TEST_NET, seed, a=a, b=b, c=c)
    _move(student, net, device, "the test network")
    keep = student.eval(inspections.KEEP_PARAMS, net=net)
    func = _eval(student, fn, f"{fn} is not defined")
    net.call("apply", func, seed=seed + 1)
    layers = student.eval(inspections.LAYERS_WITH_WEIGHTS, net=net)
    state = student.eval(inspections.PARAMS_KEPT,
                         net=net, keep=keep)
    return layers, state


def _check_zero_bias(layers, fn, device, what):
    for i, (kind, _, bias) in enumerate(layers):
        if kind != "Linear":
            continue
        if bias is None:
            raise AssertionError(f"a Linear layer of {what} has no bias after net.apply({fn})")
        nonzero = torch.nonzero(bias != 0)
        if len(nonzero):
            j = int(nonzero[0][0])
            raise AssertionError(f"after net.apply({fn}) on {what}, the bias of a Linear layer is not zero: bias[{j}] "
                                 f"= {fmt_number(bias[j].item())} -- set it to exactly 0 (nn.init.zeros_(m.bias))")
        if origin_device(bias).split(":")[0] != device.split(":")[0]:
            raise AssertionError(f"after net.apply({fn}) the bias is on {origin_device(bias)}, expected {device}: "
                                 "change the parameters in place instead of creating new tensors")


def _check_untouched(layers, state, fn, device, what):
    for kind, weight, bias in layers:
        if kind == "LayerNorm" and not (bool((weight == 1).all()) and bool((bias == 0).all())):
            raise AssertionError(f"net.apply({fn}) changed the LayerNorm of {what}: initialise nn.Linear modules only "
                                 "(test isinstance(m, nn.Linear), not hasattr(m, 'weight'))")
    for i, (same, requires_grad, dev) in enumerate(state):
        if not same:
            raise AssertionError(f"net.apply({fn}) replaced parameter {i} of {what} by a new object: change the "
                                 "existing parameters in place (nn.init.normal_, .zero_()), so optimizers and other "
                                 "references keep working")
        if not requires_grad:
            raise AssertionError(f"after net.apply({fn}) parameter {i} of {what} no longer requires grad")
        if dev.split(":")[0] != device.split(":")[0]:
            raise AssertionError(f"after net.apply({fn}) parameter {i} of {what} is on {dev}, expected {device}")


class TestInitNormal:
    pytestmark = [pytest.mark.exercise("init_normal")]
    SIZES = (64, 256, 128)
    WHAT = "Sequential(Linear(64, 256), ReLU(), LayerNorm(256), Linear(256, 128))"

    @pytest.mark.points(1)
    def test_weights_normal(self, student, device):
        """After net.apply(init_normal) every Linear weight has mean ~0 and standard deviation 0.01
        (within 3%) and normal tails."""
        layers, _ = _apply_init(student, "init_normal", self.SIZES, SEED + 800, device)
        for kind, weight, _ in layers:
            if kind != "Linear":
                continue
            w = weight.double()
            n, mean, std = w.numel(), float(w.mean()), float(w.std())
            what = f"a Linear weight of shape {_shape(w)} after net.apply(init_normal)"
            if abs(std - 0.01) > 0.0003:
                hint = ""
                if abs(std - 1.0) < 0.05:
                    hint = ": that is the standard normal: pass std=0.01 (nn.init.normal_(m.weight, mean=0, std=0.01))"
                elif abs(std - 0.1) < 0.005:
                    hint = ": std 0.1 is the square root of 0.01: the standard deviation itself is 0.01"
                elif abs(std - 0.01 / math.sqrt(3)) < 0.0005:
                    hint = ": that is a uniform distribution on [-0.01, 0.01]: draw from a normal distribution"
                raise AssertionError(f"{what} has standard deviation {fmt_number(std)}, expected 0.01{hint}")
            if abs(mean) > 5 * 0.01 / math.sqrt(n):
                raise AssertionError(f"{what} has mean {fmt_number(mean)}, expected about 0")
            if float(w.abs().max()) < 3.2 * std:
                raise AssertionError(f"{what} has no values beyond 3.2 standard deviations among {n} draws: that is "
                                     "not a normal distribution")

    @pytest.mark.points(1)
    def test_bias_zero(self, student, device):
        """After net.apply(init_normal) every Linear bias is exactly 0."""
        layers, _ = _apply_init(student, "init_normal", self.SIZES, SEED + 810, device)
        _check_zero_bias(layers, "init_normal", device, self.WHAT)

    @pytest.mark.points(1)
    def test_linear_only_in_place(self, student, device):
        """init_normal leaves other modules (LayerNorm) alone and changes the parameters in place
        (same objects, still requiring grad, on the same device)."""
        layers, state = _apply_init(student, "init_normal", self.SIZES, SEED + 820, device)
        _check_untouched(layers, state, "init_normal", device, self.WHAT)


class TestInitXavier:
    pytestmark = [pytest.mark.exercise("init_xavier")]
    SIZES = (300, 100, 40)
    WHAT = "Sequential(Linear(300, 100), ReLU(), LayerNorm(100), Linear(100, 40))"

    @pytest.mark.points(1)
    def test_weights_uniform(self, student, device):
        """After net.apply(init_xavier) every Linear weight lies in [-a, a], a = sqrt(6 / (fan_in +
        fan_out)), fills that range, and has standard deviation a / sqrt(3) (within 3%)."""
        layers, _ = _apply_init(student, "init_xavier", self.SIZES, SEED + 850, device)
        for kind, weight, _ in layers:
            if kind != "Linear":
                continue
            w = weight.double()
            fan_out, fan_in = _shape(w)
            a = math.sqrt(6.0 / (fan_in + fan_out))
            top, std = float(w.abs().max()), float(w.std())
            what = (f"a Linear({fan_in}, {fan_out}) weight after net.apply(init_xavier) (expected uniform on "
                    f"[-a, a], a = sqrt(6 / ({fan_in} + {fan_out})) = {fmt_number(a)})")
            if top > a * (1 + 1e-6):
                hint = ("values beyond a: nn.init.xavier_normal_ draws from a normal distribution; use "
                        "xavier_uniform_" if abs(std - a / math.sqrt(3)) < 0.05 * a else
                        "the bound is too large")
                if abs(top / math.sqrt(6.0 / fan_in) - 1) < 0.02 or abs(top / math.sqrt(6.0 / fan_out) - 1) < 0.02:
                    hint = "the bound uses one fan only: Xavier's is sqrt(6 / (fan_in + fan_out))"
                raise AssertionError(f"{what} has |w| up to {fmt_number(top)}: {hint}")
            if top < 0.99 * a:
                raise AssertionError(f"{what} has |w| only up to {fmt_number(top)} over {w.numel()} draws: the range "
                                     "is too narrow (check the bound sqrt(6 / (fan_in + fan_out)) and any gain)")
            if abs(std / (a / math.sqrt(3)) - 1) > 0.03:
                raise AssertionError(f"{what} has standard deviation {fmt_number(std)}, expected "
                                     f"{fmt_number(a / math.sqrt(3))} for a uniform distribution on [-a, a]")

    @pytest.mark.points(1)
    def test_bias_zero(self, student, device):
        """After net.apply(init_xavier) every Linear bias is exactly 0."""
        layers, _ = _apply_init(student, "init_xavier", self.SIZES, SEED + 860, device)
        _check_zero_bias(layers, "init_xavier", device, self.WHAT)

    @pytest.mark.points(1)
    def test_linear_only_in_place(self, student, device):
        """init_xavier leaves other modules (LayerNorm) alone and changes the parameters in place."""
        layers, state = _apply_init(student, "init_xavier", self.SIZES, SEED + 870, device)
        _check_untouched(layers, state, "init_xavier", device, self.WHAT)


# ============================================================================ shared_mlp

SHARED_SHAPES = [(8, 4), (8,), (8, 8), (8,), (1, 8), (1,)]


def _shared_net(student, seed):
    net = _expect_module(student, student.call("shared_mlp", seed=seed).value, "shared_mlp()")
    layout = _eval(student, inspections.SEQUENTIAL_LAYOUT,
                   "shared_mlp() returned a module that cannot be listed", net=net)
    expected = ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    if layout != expected:
        raise AssertionError(f"shared_mlp() returned {'an nn.Sequential of ' + str(layout) if layout else 'a module'}"
                             f", expected an nn.Sequential of {expected}")
    return net


def _shared_hint(student, net):
    def hint(shapes):
        if len(shapes) == 8:
            if student.eval(inspections.SHARES_DATA, net=net):
                return ("positions 2 and 4 share the numbers (.data) but not the Parameter objects: each gets its "
                        "own gradient and its own optimizer step; use one nn.Linear(8, 8) at both positions")
            return ("positions 2 and 4 hold two different layers (two nn.Linear(8, 8), or a copy): create ONE "
                    "shared = nn.Linear(8, 8) and put that same object at both positions")
        return ""
    return hint


class TestSharedMlp:
    pytestmark = [pytest.mark.exercise("shared_mlp")]

    @pytest.mark.points(2)
    def test_one_shared_layer(self, student):
        """net[2] and net[4] hold the very same weight and bias (one nn.Linear(8, 8) used twice), so
        parameters() lists 6 tensors (catches two layers, a deepcopy, shared .data)."""
        net = _shared_net(student, SEED + 900)
        _check_shapes(_named_params(student, net), SHARED_SHAPES, "shared_mlp()", hint=_shared_hint(student, net))
        same = student.eval(inspections.SHARES_LAYER, net=net)
        if not all(same):
            raise AssertionError("shared_mlp(): net[2] and net[4] must hold the very same weight and bias "
                                 "(net[2].weight is net[4].weight): use one nn.Linear(8, 8) at both positions")

    @pytest.mark.points(1)
    def test_forward_values(self, student, reference, device):
        """net(X) with the network's own parameters matches the reference."""
        net = _shared_net(student, SEED + 910)
        _move(student, net, device, "shared_mlp()")
        named = _named_params(student, net)
        _check_shapes(named, SHARED_SHAPES, "shared_mlp()", hint=_shared_hint(student, net))
        X = _randn((5, 4), 911)
        expected = _load_into(reference.shared_mlp(), [p for _, p in named])(X.double()).detach()
        _check_forward(net(X), expected, "shared_mlp()(X) for X of shape (5, 4)", device)

    @pytest.mark.points(1)
    def test_gradients_accumulate(self, student, reference, device):
        """The shared layer's gradient is the SUM of the gradients of its two uses."""
        net = _shared_net(student, SEED + 920)
        _move(student, net, device, "shared_mlp()")
        named = _named_params(student, net)
        _check_shapes(named, SHARED_SHAPES, "shared_mlp()", hint=_shared_hint(student, net))
        X, C = _randn((6, 4), 921), _randn((6, 1), 922)
        _, grads, x_grad = _forward_with_grads(student, net, X, C)
        ref = _load_into(reference.shared_mlp(), [p for _, p in named])
        expected = _reference_grads(ref, X, C)
        names = [f"shared_mlp's parameter {n}" for n, _ in named] + ["X"]
        _check_grads(grads + [x_grad], expected, names, "shared_mlp()(X) for X of shape (6, 4)", device)


# ============================================================================ save_params / load_params

IO_MAKE = Code(inspections.IO_NET_FN)
WEIGHTS_ONLY_HINTS = [
    ("Weights only load failed",
     "the file holds more than tensors (torch.save(net, path) pickles the whole module and its class): save "
     "net.state_dict(), which torch.load(path, weights_only=True) -- the default since torch 2.6 -- can read"),
    ("No such file", "save_params must write the file at the path it is given"),
]


def _trained_net(student, seed):
    """A network in the sandbox whose BatchNorm buffers have left their initial values."""
    net = _trusted_modules(student, inspections.IO_NET, seed)
    student.eval(inspections.RUN_BATCHNORM, net=net, seed=seed)
    return net


def _compare_state(got, expected: dict, what):
    if isinstance(got, RemoteObject) or not isinstance(got, dict):
        kind = f"an object of type {got.type_name}" if isinstance(got, RemoteObject) else describe(got)
        raise AssertionError(f"{what} is {kind}, expected a dict like net.state_dict() (parameter and buffer names "
                             "to tensors): save net.state_dict()")
    if not all(isinstance(k, str) for k in got):
        raise AssertionError(f"{what} has keys that are not names: save net.state_dict()")
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        hint = ""
        if missing and all("running" in k or "num_batches" in k for k in missing):
            hint = (": the BatchNorm buffers are missing -- save net.state_dict(), which holds parameters AND "
                    "buffers, not just the parameters")
        raise AssertionError(f"{what} has keys {sorted(got)}, expected {sorted(expected)}"
                             + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else "")
                             + hint)
    for key, value in expected.items():
        assert_tensor_close(got[key], value, rtol=0, atol=0, what=f"entry {key!r} of {what}", dtype=value.dtype)


class TestSaveParams:
    pytestmark = [pytest.mark.exercise("save_params")]

    @pytest.mark.points(2)
    def test_file_is_a_state_dict(self, student):
        """The file holds net.state_dict() (parameters and BatchNorm buffers, exact values) and loads
        with torch.load(path, weights_only=True) (catches torch.save(net, path), saved parameters only)."""
        net = _trained_net(student, SEED + 1000)
        student.call("save_params", net, "net.params")
        loaded = _eval(student, inspections.LOAD_FILE,
                       "the file written by save_params(net, 'net.params') could not be read with "
                       "torch.load(path, weights_only=True)", WEIGHTS_ONLY_HINTS, path="net.params")
        _compare_state(loaded, student.eval(inspections.STATE_DICT, net=net), "the file written by save_params")

    @pytest.mark.points(1)
    def test_each_path_gets_its_net(self, student):
        """Two networks saved to two paths (one in a sub-folder): each file holds its own network
        (catches a hard-coded file name)."""
        student.eval(inspections.MAKE_CHECKPOINTS_FOLDER)
        nets = [_trained_net(student, SEED + 1010), _trained_net(student, SEED + 1011)]
        paths = ["first.params", "checkpoints/second.pt"]
        for net, path in zip(nets, paths):
            student.call("save_params", net, path)
        for net, path in zip(nets, paths):
            loaded = _eval(student, inspections.LOAD_FILE,
                           f"the file save_params(net, {path!r}) should have written could not be read",
                           WEIGHTS_ONLY_HINTS, path=path)
            _compare_state(loaded, student.eval(inspections.STATE_DICT, net=net), f"the file {path!r}")


def _load_params_source_problems(source: str) -> list[str]:
    """weights_only=False, or pickle, anywhere in the module-level definition of load_params."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    problems = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "load_params":
            for sub in ast.walk(node):
                if isinstance(sub, ast.keyword) and sub.arg == "weights_only" and \
                        isinstance(sub.value, ast.Constant) and not sub.value.value:
                    problems.append(f"load_params passes weights_only={sub.value.value!r}: "
                                    "that lets a file run arbitrary code when it is loaded; a state_dict loads with "
                                    "the safe default weights_only=True")
    problems += find_banned(source, "load_params", LOAD_PARAMS_BANNED)
    return problems


class TestLoadParams:
    pytestmark = [pytest.mark.exercise("load_params")]

    def _saved(self, student, seed, path):
        src = _trained_net(student, seed)
        student.eval(inspections.SAVE_STATE, net=src, path=path)
        return student.eval(inspections.STATE_DICT, net=src)

    def _load(self, student, path):
        out = student.call("load_params", IO_MAKE, path).value
        what = f"load_params(make_net, {path!r})"
        if out is None:
            raise AssertionError(f"{what} returned None: return the module after loading the parameters into it")
        if isinstance(out, tuple) and len(out) == 2 and all(isinstance(x, list) for x in out):
            raise AssertionError(f"{what} returned what load_state_dict returns (the missing and unexpected keys): "
                                 "return the module itself")
        if isinstance(out, dict):
            raise AssertionError(f"{what} returned a dict (the state_dict itself): build the module with make_net() "
                                 "and load the dict into it with load_state_dict")
        return _expect_module(student, out, what)

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, path", list(enumerate(["saved.params", "other.pt"])))
    def test_returns_loaded_module(self, student, k, path):
        """load_params(make_net, path) returns a fresh module from make_net whose parameters and
        buffers are exactly those saved (catches a module returned without loading, no return)."""
        expected = self._saved(student, SEED + 1100 + k, path)
        net = self._load(student, path)
        got = student.eval(inspections.STATE_DICT, net=net)
        try:
            _compare_state(got, expected, f"load_params(make_net, {path!r}).state_dict()")
        except AssertionError as error:
            raise AssertionError(f"{error} -- the module returned must hold the saved values: "
                                 "net.load_state_dict(torch.load(path))") from None

    @pytest.mark.points(1)
    def test_safe_loading(self, student):
        """load_params does not turn off weights_only and does not use pickle (AST check), and works."""
        problems = _load_params_source_problems(student.source)
        assert not problems, "\n".join(problems)
        expected = self._saved(student, SEED + 1120, "safe.params")
        try:
            _compare_state(student.eval(inspections.STATE_DICT, net=self._load(student, "safe.params")), expected,
                           "load_params(make_net, 'safe.params').state_dict()")
        except AssertionError as error:
            raise AssertionError(f"the point for safe loading needs a working load_params: {error}") from None


# ============================================================================ to_device

META_HINTS = [
    ("is not on the expected device",
     "the module and its input must both be on the device: net.to(device) moves the module in place, but "
     "X.to(device) returns a NEW tensor -- use the returned one"),
    ("Torch not compiled with CUDA", "do not hard-code 'cuda': move to the device you are given"),
    ("Cannot copy out of meta", "return the output where it was computed (no .cpu() or .numpy())"),
]


class TestToDevice:
    pytestmark = [pytest.mark.exercise("to_device")]

    @pytest.mark.points(2)
    def test_output_on_device(self, student, device):
        """to_device(net, X, device) with X and net on the CPU returns net(X) computed on device (given
        as a string and as a torch.device), and leaves net's parameters on device."""
        cpu = student.on("cpu")
        for k, target in enumerate([device, cpu.eval(inspections.DEVICE, dev=device)]):
            net = _trusted_modules(cpu, inspections.DEVICE_NET, SEED + 1200 + k)
            named = _named_params(cpu, net)
            X = _randn((4, 6), 1210 + k)
            label = repr(device) if k == 0 else f"torch.device({device!r})"
            out = cpu.call("to_device", net, X, target).value
            twin = _load_into(eval(inspections.DEVICE_NET, {"torch": torch}), [p for _, p in named])
            what = f"to_device(net, X, {label}) for X of shape (4, 6) on the CPU"
            _check_forward(out, twin(X.double()).detach(), what, device)
            devices = cpu.eval(inspections.PARAM_DEVICE_TYPES, net=net)
            if devices != [device.split(":")[0]]:
                raise AssertionError(f"after {what}, net's parameters are on {devices}, expected {device}: move the "
                                     "module with net.to(device)")

    @pytest.mark.points(1)
    def test_meta_device(self, student, device):
        """to_device works for any device, here 'meta' (shapes only, no data), which catches an input
        or a module left on the CPU and a hard-coded device without a GPU; afterwards net itself is on
        meta (catches moving a copy of net and leaving the caller's net behind)."""
        cpu = student.on("cpu")
        net = _trusted_modules(cpu, inspections.DEVICE_NET, SEED + 1220)
        X = _randn((3, 6), 1221)
        got = _eval(cpu, inspections.TO_META, "to_device(net, X, 'meta') for X of shape (3, 6) on the CPU raised",
                    META_HINTS, net=net, X=X)
        if got != ("meta", (3, 3)):
            where = f"a tensor on {got[0]} of shape {got[1]}" if isinstance(got, tuple) else f"a {got}"
            raise AssertionError(f"to_device(net, X, 'meta') returned {where}, expected net(X) on the meta device, "
                                 "shape (3, 3): move both to the device you are given and return net(X)")
        devices = cpu.eval(inspections.PARAM_DEVICE_TYPES, net=net)
        if devices != ["meta"]:
            raise AssertionError(f"after to_device(net, X, 'meta') net's own parameters are on {devices}, expected "
                                 "meta: move the module you were given, net.to(device) (it moves net in place), not a "
                                 "copy of it (copy.deepcopy(net).to(device) leaves the caller's net behind)")
