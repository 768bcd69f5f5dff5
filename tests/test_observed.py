"""What ran: the child's operator recorder, the grader's bounds on its report, and the rule that turns
banned ATen operators into messages (autograder/observed.py)."""

import threading

import pytest
import torch
import torch.nn.functional as F

from autograder.observed import (AUTOGRAD_BACKWARD, FORWARD_AD, TOO_MANY, assert_no_banned_operators, autodiff,
                                 ban, find_banned_operators)
from autograder.sandbox import child
from autograder.sandbox.child import OperatorRecorder
from autograder.student import LocalSession, Reply, SandboxSession, Student

X = torch.randn(3, 4)


def ran(fn, *args):
    """The operators ``fn(*args)`` dispatched, as the child records them."""
    recorder = OperatorRecorder()
    with recorder:
        fn(*args)
    return recorder.ops


# ----------------------------------------------------------------------------- the recorder


@pytest.mark.parametrize("bypass", [
    lambda X: F.softmin(-X, 1),
    lambda X: torch.distributions.Categorical(logits=X).probs,
    lambda X: getattr(torch, "soft" + "max")(X, 1),
    lambda X: X.softmax(1),
], ids=["softmin", "categorical", "computed_getattr", "method"])
def test_every_name_of_softmax_runs_the_softmax_kernel(bypass):
    assert "_softmax" in ran(bypass, X)


def test_a_softmax_from_exp_and_sum_runs_no_softmax_kernel():
    ops = ran(lambda X: (e := torch.exp(X - X.max(1, keepdim=True).values)) / e.sum(1, keepdim=True), X)
    assert {"exp", "sum", "div"} <= ops and not any("softmax" in op for op in ops)


def test_elementary_relu_is_not_the_relu_kernel():
    assert ran(lambda X: X.clamp(min=0), X) == {"clamp"}
    assert "relu" not in ran(lambda X: torch.maximum(X, torch.zeros_like(X)), X)
    assert "relu" in ran(lambda X: getattr(torch, "re" + "lu")(X), X)
    assert "sigmoid" in ran(lambda X: getattr(torch.special, "ex" + "pit")(X), X)


def _autograd_grad(X):
    z = X.clone().requires_grad_()
    return getattr(torch, "auto" + "grad").grad((3 * (z + 2) ** 2).mean(), z)


def _backward(X):
    z = X.clone().requires_grad_()
    (z ** 2).sum().backward()
    return z.grad


@pytest.mark.parametrize("autograd", [
    _autograd_grad,
    _backward,
    lambda X: torch.func.grad(lambda x: (x ** 2).sum())(X),
    lambda X: torch.vmap(torch.func.grad(torch.sigmoid))(X.reshape(-1)),
    lambda X: torch.autograd.functional.jacobian(torch.tanh, X[0]),
], ids=["autograd.grad", "backward", "func.grad", "vmap_of_func.grad", "functional.jacobian"])
def test_a_backward_pass_is_noted(autograd):
    ops = ran(autograd, X)
    assert AUTOGRAD_BACKWARD in ops and FORWARD_AD not in ops


def test_a_backward_pass_is_noted_without_graph_task_ids(monkeypatch):
    monkeypatch.delattr(torch._C, "_current_graph_task_id")
    assert AUTOGRAD_BACKWARD in ran(_backward, X)
    assert AUTOGRAD_BACKWARD not in ran(torch.exp, X)


def test_the_backward_of_pow_and_mean_runs_only_plain_arithmetic():
    """Why names are not enough: without the pseudo-operator this by-hand-looking record would pass."""
    ops = ran(_autograd_grad, X) - {AUTOGRAD_BACKWARD}
    assert not any(op.endswith("_backward") for op in ops)


def test_a_forward_pass_with_requires_grad_is_not_a_backward_pass():
    ops = ran(lambda X: torch.sigmoid(X.clone().requires_grad_()) * 2, X)
    assert AUTOGRAD_BACKWARD not in ops and FORWARD_AD not in ops


def _make_dual(X):
    import torch.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        return fwAD.unpack_dual(torch.tanh(fwAD.make_dual(X, torch.ones_like(X)))).tangent


def _raw_dual_level(X):
    level = torch._C._enter_dual_level()
    try:
        return torch._unpack_dual(torch.tanh(torch._make_dual(X, torch.ones_like(X), level=level)), level=level)
    finally:
        torch._C._exit_dual_level(level=level)


@pytest.mark.parametrize("forward_ad", [
    _make_dual,
    _raw_dual_level,
    lambda X: getattr(torch.func, "j" + "vp")(torch.tanh, (X,), (torch.ones_like(X),)),
    lambda X: torch.func.jacfwd(lambda x: (x ** 2).sum())(X),
], ids=["make_dual", "raw_dual_level", "func.jvp", "func.jacfwd"])
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own, on torch 2.13
def test_forward_mode_ad_is_noted(forward_ad):
    assert FORWARD_AD in ran(forward_ad, X)


class _SoftmaxInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return torch.softmax(g, 1)


def test_operators_run_inside_a_backward_pass_are_recorded_too():
    """A built-in hidden in a backward pass (a hook, a custom Function) is still seen by name."""
    def hide(X):
        z = X.clone().requires_grad_()
        return torch.autograd.grad(_SoftmaxInBackward.apply(z).sum(), z)
    assert {"_softmax", AUTOGRAD_BACKWARD} <= ran(hide, X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_backward_on_the_engine_device_thread_is_seen():
    """The engine runs a CUDA backward on its own thread, with the caller's dispatch modes and graph task."""
    ops = ran(lambda X: _backward(X.cuda()), X)
    assert {AUTOGRAD_BACKWARD, "mul"} <= ops


def test_known_gap_a_python_thread_started_in_the_call_is_not_seen():
    """Dispatch modes are per thread: a thread the student starts runs unobserved (a deterrent, not a proof)."""
    def in_a_thread(X):
        out = []
        worker = threading.Thread(target=lambda: out.append(torch.softmax(X, 1)))
        worker.start()
        worker.join()
        return out[0]
    assert "_softmax" not in ran(in_a_thread, X)


def test_an_optimizer_step_is_noted_by_its_profiler_region():
    """SGD on the CPU runs a plain add_, but inside a record_function region named after the optimizer."""
    w = torch.zeros(3, requires_grad=True)
    w.grad = torch.ones(3)
    optimizer = getattr(torch, "op" + "tim").SGD([w], lr=0.1)
    ops = ran(optimizer.step)
    assert "<region Optimizer.step#SGD.step>" in ops and "add_" in ops


def test_the_record_is_capped_and_says_so(monkeypatch):
    monkeypatch.setattr(OperatorRecorder, "MAX_OPS", 3)
    ops = ran(lambda X: torch.exp(X).sin().cos().tan().abs().neg(), X)
    assert TOO_MANY in ops and len(ops) == 4


def test_the_child_answers_with_the_operators_only_when_asked():
    state = child.ChildState({"softmax": lambda X: getattr(torch, "soft" + "max")(X, 1)})
    observed = child.execute_call(state, {"fn": "softmax", "args": [X], "kwargs": {}, "observe": True})
    assert "_softmax" in observed["operators"] and observed["operators"] == sorted(observed["operators"])
    plain = child.execute_call(state, {"fn": "softmax", "args": [X], "kwargs": {}})
    assert "operators" not in plain


# ----------------------------------------------------------------------------- the grader's side

CODE = '''import torch

def softmax(X):
    return getattr(torch, "soft" + "max")(X, 1)

def grad_of_mean_square(x):
    x = x.detach().clone().requires_grad_()
    (3 * (x + 2) ** 2).mean().backward()
    return x.grad

class Scale(torch.nn.Module):
    def forward(self, X):
        return torch.relu(X) * 2

def make():
    return Scale()
'''


def _students(sandbox):
    namespace = {}
    exec(CODE, namespace)
    yield Student(LocalSession(namespace))
    session = SandboxSession(sandbox, [("cell", CODE)])
    yield Student(session)
    session.close()


def test_observed_calls_carry_the_operators_locally_and_in_the_sandbox(sandbox):
    for student in _students(sandbox):
        assert "_softmax" in student.call("softmax", X, observe=True).operators
        assert student.call("softmax", X).operators == frozenset()
        assert AUTOGRAD_BACKWARD in student.call("grad_of_mean_square", X, observe=True).operators
        net = student.make()
        assert "relu" in student.call_method(net, "__call__", X, observe=True).operators
        assert "relu" in net.call("forward", X, observe=True).operators


class _HostileSession:
    """A child that answers an ok call with whatever operators it likes."""

    problems, load_errors = [], {}

    def __init__(self, operators):
        self.operators = operators

    def request(self, message, timeout=None):
        return {"status": "ok", "result": None, "args_after": [], "input_grads": None, "operators": self.operators}


def test_a_hostile_operator_list_is_bounded():
    names = [f"op{i}" for i in range(10_000)] + [5, None, b"_softmax", "x" * 101, ""]
    operators = Student(_HostileSession(names)).call("softmax", X, observe=True).operators
    assert len(operators) == Reply.MAX_OPERATORS
    assert all(isinstance(n, str) and 0 < len(n) <= Reply.MAX_OPERATOR_NAME for n in operators)
    for junk in ("_softmax", {"_softmax": 1}, 3, None):
        assert Student(_HostileSession(junk)).call("softmax", X, observe=True).operators == frozenset()


def test_operators_from_keeps_only_short_strings():
    assert Reply.operators_from(["_softmax", "x" * 100, "y" * 101, 7, ""]) == {"_softmax", "x" * 100}
    assert Reply.operators_from(("a", "b")) == {"a", "b"}


# ----------------------------------------------------------------------------- the rule

SOFTMAX = ban("PyTorch's built-in softmax kernel", "write it yourself from exp and sum.", "_softmax", "_log_softmax")
BY_HAND = {**autodiff("by hand, please."),
           **ban("PyTorch's own derivative kernel", "by hand, please.", "*_backward")}


def test_message_names_the_kernel_and_the_advice():
    assert find_banned_operators({"exp", "_softmax", "sum"}, "softmax", SOFTMAX) == [
        "softmax ran PyTorch's built-in softmax kernel (aten._softmax), reached through some other name: write it "
        "yourself from exp and sum."]


def test_kernels_with_the_same_reason_share_one_message():
    assert find_banned_operators({"_log_softmax", "_softmax"}, "softmax", SOFTMAX) == [
        "softmax ran PyTorch's built-in softmax kernel (aten._log_softmax, aten._softmax), reached through some other "
        "name: write it yourself from exp and sum."]


def test_patterns_and_pseudo_operators():
    messages = find_banned_operators({"sigmoid_backward", AUTOGRAD_BACKWARD, "mul"}, "sigmoid_grad", BY_HAND)
    assert messages == [
        "sigmoid_grad ran an autograd backward pass, reached through some other name: by hand, please.",
        "sigmoid_grad ran PyTorch's own derivative kernel (aten.sigmoid_backward), reached through some other name: "
        "by hand, please."]
    assert find_banned_operators({FORWARD_AD}, "tanh_grad", BY_HAND) == [
        "tanh_grad ran forward-mode automatic differentiation, reached through some other name: by hand, please."]
    train = {**ban("a solver", "use SGD.", "linalg_*", "_linalg_*"),
             **ban("an optimizer", "use your sgd.", "<region Optimizer.*>")}
    assert find_banned_operators({"linalg_lstsq", "_linalg_svd", "<region Optimizer.step#SGD.step>"}, "train",
                                 train) == [
        "train ran an optimizer, reached through some other name: use your sgd.",
        "train ran a solver (aten._linalg_svd, aten.linalg_lstsq), reached through some other name: use SGD."]
    assert find_banned_operators({"mul", "clamp", "maximum"}, "relu_grad", BY_HAND) == []


def test_an_overflowing_record_fails_closed_and_an_empty_table_bans_nothing():
    assert find_banned_operators({"exp", TOO_MANY}, "softmax", SOFTMAX) == [
        f"could not check softmax for built-in kernels: it ran more than {OperatorRecorder.MAX_OPS} different "
        "tensor operations in this check"]
    assert find_banned_operators({"_softmax", TOO_MANY}, "softmax", {}) == []
    assert find_banned_operators({"_softmax", 3, None}, "softmax", {}) == []


def test_assert_no_banned_operators():
    assert_no_banned_operators(Reply(None, None, [], frozenset({"exp", "sum"})), "softmax", SOFTMAX)
    with pytest.raises(AssertionError, match=r"aten\._softmax"):
        assert_no_banned_operators(Reply(None, None, [], frozenset({"_softmax"})), "softmax", SOFTMAX)
