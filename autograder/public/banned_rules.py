"""The banned shortcuts of each from-scratch exercise: public, shared by grading and local checks.

Each table maps a banned name to the reason shown to the student (the keys are those of
:func:`autograder.banned.find_banned`).  Nothing here is secret: the notebooks already tell students
what each exercise forbids.  The hidden suites (``grader_tests/``) import these tables for their AST
checks, and the self-check cells and ``d2l-grade check`` run the very same rule on the student's
answer cells (:data:`BANNED`), so a banned built-in fails locally exactly when it costs points in
grading.  The hidden suites' run-time checks (the ATen operators a call dispatched) are not here.
"""

from __future__ import annotations

__all__ = ["BANNED", "banned_table"]


# ----------------------------------------------------------------------------- autograd_basics

def _by_hand_banned(fn: str, formula: str) -> dict:
    why = f"{fn} must be written by hand ({formula}), without automatic differentiation."
    return {
        "torch.autograd": why,
        "backward": why,
        "torch.func": why,
        "functorch": why,
        "jacobian": why,
        "vjp": why,
        "jvp": why,
        "grad_fn": why,
        "torch.ops": f"calling built-in kernels directly skips the exercise: write {fn} by hand ({formula}).",
        "sigmoid_backward": f"that is PyTorch's own derivative kernel: write {fn} by hand ({formula}).",
        "tanh_backward": f"that is PyTorch's own derivative kernel: write {fn} by hand ({formula}).",
        "threshold_backward": f"that is PyTorch's own derivative kernel: write {fn} by hand ({formula}).",
    }


RELU_BANNED = _by_hand_banned("relu_grad", "1 where X > 0, 0 where X < 0")
SIGMOID_BANNED = _by_hand_banned("sigmoid_grad", "s * (1 - s) with s = sigmoid(X)")
TANH_BANNED = _by_hand_banned("tanh_grad", "1 - tanh(X) ** 2")
MEAN_SQUARE_BANNED = _by_hand_banned("grad_of_mean_square", "6 * (x + 2) / x.numel()")
NUMERICAL_BANNED = {
    k: ("numerical_grad is the independent check of autograd: compute it from values of f only "
        "(central differences), without automatic differentiation.")
    for k in ("torch.autograd", "backward", "torch.func", "functorch", "jacobian", "vjp", "jvp", "grad_fn")
}


# ----------------------------------------------------------------------------- linear_regression

TRAIN_BANNED = {
    "torch.optim": "train is the from-scratch version: update the parameters with your own sgd, not torch.optim.",
    "nn.Linear": "train is the from-scratch version: use your own linreg, not nn.Linear.",
    "F.linear": "train is the from-scratch version: use your own linreg, not F.linear.",
    "nn.MSELoss": "train is the from-scratch version: use your own squared_loss, not nn.MSELoss.",
    "mse_loss": "train is the from-scratch version: use your own squared_loss, not mse_loss.",
    "torch.linalg": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
    "lstsq": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
    "pinv": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
    "pinverse": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
    "inverse": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
    "torch.inverse": "train must learn w and b with minibatch SGD, not solve for them in closed form.",
}


# ----------------------------------------------------------------------------- softmax_regression

SOFTMAX_BANNED = {
    "torch.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "F.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "torch.special.softmax": "this exercise asks you to write softmax yourself from exp and sum.",
    "softmax": "Tensor.softmax is the built-in softmax; write it yourself from exp and sum.",
    "_softmax": "that is the built-in softmax kernel; write softmax yourself from exp and sum.",
    "log_softmax": "log_softmax is the built-in (log-)softmax; write softmax yourself from exp and sum.",
    "nn.Softmax": "nn.Softmax is the built-in softmax module; write softmax yourself from exp and sum.",
    "Softmax": "nn.Softmax is the built-in softmax module; write softmax yourself from exp and sum.",
    "torch.ops": "calling built-in kernels directly skips the exercise; write softmax from exp and sum.",
}
CROSS_ENTROPY_BANNED = {
    "F.cross_entropy": "this exercise asks you to compute -log of each row's target probability yourself.",
    "cross_entropy_loss": "this exercise asks you to compute -log of each row's target probability yourself.",
    "nll_loss": "nll_loss is the built-in negative log-likelihood; pick each row's target probability "
                "and take -log yourself.",
    "CrossEntropyLoss": "nn.CrossEntropyLoss is the built-in loss; compute it yourself.",
    "NLLLoss": "nn.NLLLoss is the built-in loss; compute it yourself.",
    "log_softmax": "cross_entropy takes probabilities (y_hat), not logits: take -log of each row's "
                   "target probability yourself.",
    "torch.ops": "calling built-in kernels directly skips the exercise.",
}
BY_HAND_BANNED = {
    "torch.autograd": "softmax_ce_grad must be derived by hand: (softmax(logits) - one_hot(y)) / n, "
                      "without autograd.",
    "backward": "softmax_ce_grad must be derived by hand: (softmax(logits) - one_hot(y)) / n, "
                "without autograd.",
    "torch.func": "softmax_ce_grad must be derived by hand, without torch.func transforms.",
    "functorch": "softmax_ce_grad must be derived by hand, without functorch transforms.",
    "jacobian": "softmax_ce_grad must be derived by hand, without automatic differentiation.",
    "vjp": "softmax_ce_grad must be derived by hand, without automatic differentiation.",
    "grad_fn": "softmax_ce_grad must be derived by hand, without automatic differentiation.",
}


# ----------------------------------------------------------------------------- mlp

_ELEMENTARY = "write it from elementary tensor operations (torch.exp, torch.where, torch.maximum, clamp, ...)"
ACTIVATION_BANNED = {
    "torch.relu": f"torch.relu is the built-in ReLU; {_ELEMENTARY}.",
    "torch.relu_": f"torch.relu_ is the built-in ReLU; {_ELEMENTARY}.",
    "torch.sigmoid": f"torch.sigmoid is the built-in sigmoid; {_ELEMENTARY}.",
    "torch.sigmoid_": f"torch.sigmoid_ is the built-in sigmoid; {_ELEMENTARY}.",
    "torch.tanh": f"torch.tanh is the built-in tanh; {_ELEMENTARY}.",
    "torch.tanh_": f"torch.tanh_ is the built-in tanh; {_ELEMENTARY}.",
    "torch.special.expit": f"torch.special.expit is the built-in sigmoid; {_ELEMENTARY}.",
    "torch.threshold": f"torch.threshold(X, 0, 0) is the built-in ReLU; {_ELEMENTARY}.",
    "torch.nn": f"torch.nn and torch.nn.functional hold the built-in activations (F.relu, nn.ReLU, F.sigmoid, "
                f"nn.Tanh, ...); {_ELEMENTARY}.",
    "torch.ops": f"calling built-in kernels directly skips the exercise; {_ELEMENTARY}.",
    "torch._C": f"calling built-in kernels directly skips the exercise; {_ELEMENTARY}.",
    "relu": f"Tensor.relu is the built-in ReLU; {_ELEMENTARY}.",
    "relu_": f"Tensor.relu_ is the built-in ReLU; {_ELEMENTARY}.",
    "sigmoid": f"Tensor.sigmoid is the built-in sigmoid; {_ELEMENTARY}.",
    "sigmoid_": f"Tensor.sigmoid_ is the built-in sigmoid; {_ELEMENTARY}.",
    "tanh": f"Tensor.tanh is the built-in tanh; {_ELEMENTARY}.",
    "tanh_": f"Tensor.tanh_ is the built-in tanh; {_ELEMENTARY}.",
    "expit": f"expit is the built-in sigmoid; {_ELEMENTARY}.",
}
MLP_FORWARD_BANNED = {
    "torch.relu": "torch.relu is the built-in ReLU: use your own relu, as the book does.",
    "torch.relu_": "torch.relu_ is the built-in ReLU: use your own relu, as the book does.",
    "torch.nn": "mlp_forward builds the network from tensor operations (X @ W1 + b1) and your own relu, "
                "without torch.nn or torch.nn.functional (F.relu, nn.ReLU, F.linear, ...).",
    "torch.ops": "calling built-in kernels directly skips the exercise.",
    "torch._C": "calling built-in kernels directly skips the exercise.",
    "relu": "Tensor.relu is the built-in ReLU: use your own relu, as the book does.",
    "relu_": "Tensor.relu_ is the built-in ReLU: use your own relu, as the book does.",
}


# ----------------------------------------------------------------------------- model_construction

MYSEQUENTIAL_BANNED = {
    "nn.Sequential": "write the container yourself from nn.Module: keep the modules in order "
                     "(self._modules[str(idx)] = module) and loop over them in forward",
}
MYLINEAR_BANNED = {
    "nn.Linear": "MyLinear must hold its own nn.Parameter weight and bias, not an nn.Linear",
    "F.linear": "compute X @ weight + bias yourself (and F.linear expects the weight as (units, in_units))",
}
LOAD_PARAMS_BANNED = {
    "pickle": "reading files with pickle can run arbitrary code: use torch.load (weights_only=True)",
    "dill": "reading files with dill can run arbitrary code: use torch.load (weights_only=True)",
}


# ----------------------------------------------------------------------------- rnn

CLIP_BANNED = {
    "torch.nn.utils": "write the clipping yourself: one global norm over all gradients, then scale.",
    "clip_grad_norm_": "write the clipping yourself: one global norm over all gradients, then scale.",
    "clip_grad_norm": "write the clipping yourself: one global norm over all gradients, then scale.",
    "clip_grads_with_norm_": "write the clipping yourself: one global norm over all gradients, then scale.",
    "get_total_norm": "compute the global norm yourself: sqrt of the sum of (p.grad ** 2).sum().",
    "clip_grad_value_": "clip_grad_value_ clips each entry, not the global norm; write the clipping yourself.",
}


# ----------------------------------------------------------------------------- the index

BANNED: dict[str, dict[str, dict[str, str]]] = {
    "autograd_basics": {
        "grad_of_mean_square": MEAN_SQUARE_BANNED,
        "relu_grad": RELU_BANNED,
        "sigmoid_grad": SIGMOID_BANNED,
        "tanh_grad": TANH_BANNED,
        "numerical_grad": NUMERICAL_BANNED,
    },
    "linear_regression": {"train": TRAIN_BANNED},
    "softmax_regression": {
        "softmax": SOFTMAX_BANNED,
        "cross_entropy": CROSS_ENTROPY_BANNED,
        "softmax_ce_grad": BY_HAND_BANNED,
    },
    "mlp": {
        "relu": ACTIVATION_BANNED,
        "sigmoid": ACTIVATION_BANNED,
        "tanh": ACTIVATION_BANNED,
        "mlp_forward": MLP_FORWARD_BANNED,
    },
    "model_construction": {
        "MySequential": MYSEQUENTIAL_BANNED,
        "MyLinear": MYLINEAR_BANNED,
        "load_params": LOAD_PARAMS_BANNED,
    },
    "rnn": {"grad_clipping": CLIP_BANNED},
}
"""assignment -> exercise -> the table its hidden suite gives :func:`~autograder.banned.find_banned`
for that exercise (the very object, so the two cannot drift apart)."""


def banned_table(assignment: str, exercise: str) -> dict[str, str]:
    """The banned names of ``exercise`` in ``assignment`` (empty when it bans nothing)."""
    return BANNED.get(assignment, {}).get(exercise, {})
