"""Demo scenarios for autograd_basics: typical bugs (see :mod:`autograder.demo_scenarios`)."""

from autograder.demo_scenarios import Scenario

AXPY_REBINDS = '''def axpy_(a, x, y):
    """Rebinds the local name y: the caller's tensor never changes."""
    y = y + a * x
'''

SIGMOID_GRAD_OVERFLOWS = '''def sigmoid_grad(X):
    """exp(-x) / (1 + exp(-x))^2: inf / inf = NaN once exp overflows."""
    e = torch.exp(-X)
    return e / (1 + e) ** 2
'''

NUMERICAL_GRAD_FORWARD = '''def numerical_grad(f, x, eps=1e-6):
    """A one-sided (forward) difference: error of order eps instead of eps^2."""
    grad = torch.zeros_like(x)
    xf, gf = x.view(-1), grad.view(-1)
    f0 = float(f(x))
    for i in range(xf.numel()):
        old = xf[i].item()
        xf[i] = old + eps
        gf[i] = (float(f(x)) - f0) / eps
        xf[i] = old
    return grad
'''

DETACHED_GRADS_NO_ZERO = '''def detached_grads(x):
    """Forgets to zero x.grad between the two backward calls: the gradients add up."""
    y = x * x
    z = y.detach() * x
    z.sum().backward()
    grad_z = x.grad.clone()
    y.sum().backward()
    return grad_z, x.grad
'''

EXERCISES = ("grid", "column_view", "axpy_", "to_numpy", "grad_of_mean_square", "relu_grad", "sigmoid_grad",
             "tanh_grad", "numerical_grad", "rel_error", "vector_backward", "detached_grads")

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs", breaks=EXERCISES),
    Scenario("bug_axpy_rebinds", "axpy_ that writes y = y + a * x (no in-place update)", "reference",
             {"axpy_": AXPY_REBINDS}, breaks=("axpy_",)),
    Scenario("bug_sigmoid_grad_overflow", "sigmoid_grad as exp(-x) / (1 + exp(-x))^2 (NaN for large |x|)",
             "reference", {"sigmoid_grad": SIGMOID_GRAD_OVERFLOWS}, breaks=("sigmoid_grad",)),
    Scenario("bug_numerical_grad_forward", "numerical_grad with a forward difference", "reference",
             {"numerical_grad": NUMERICAL_GRAD_FORWARD}, breaks=("numerical_grad",)),
    Scenario("bug_detached_grads_no_zero", "detached_grads without zeroing x.grad between backward calls",
             "reference", {"detached_grads": DETACHED_GRADS_NO_ZERO}, breaks=("detached_grads",)),
]
