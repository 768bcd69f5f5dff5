"""Reference implementations for the ``softmax_regression`` assignment.

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/softmax_regression.ipynb``, and the hidden suite compares student answers with
these functions.  Conventions follow the PyTorch edition of *Dive into Deep Learning* (d2l-zh 2.0
where the editions disagree), except where the book's code has a known flaw (its softmax overflows
for logits past ~88 in float32).

Every function is self-contained (no helper shared between functions) so that each one reads as a
complete answer to its own exercise cell.  No shortcut is used: no ``torch.softmax``,
``F.softmax``, ``Tensor.softmax``, ``log_softmax``, ``F.cross_entropy``, ``F.nll_loss``, and no
autograd inside the by-hand gradient.
"""

import torch


def softmax(X):
    """Row-wise softmax of a 2-D tensor of logits.

    Convention (d2l, PyTorch edition): ``X`` has shape ``(n, q)`` (n examples, q classes) and the
    softmax is taken over dim 1, so every row of the result is a probability distribution that
    sums to 1.  Returns a tensor of the same shape, dtype and device as ``X``.  Must be
    numerically stable (finite results for logits as large as 1e4 in float32) and differentiable
    with autograd.  Do not use ``torch.softmax``, ``F.softmax``, ``Tensor.softmax`` or
    ``log_softmax``.
    """
    # Subtracting the row max changes nothing mathematically (softmax is shift invariant) but
    # keeps every exponent <= 0, so exp never overflows.  The max is a constant shift: detached,
    # so no gradient is routed through the argmax.
    X_max = X.max(dim=1, keepdim=True).values.detach()
    X_exp = torch.exp(X - X_max)
    return X_exp / X_exp.sum(dim=1, keepdim=True)


def cross_entropy(y_hat, y):
    """Per-example cross-entropy loss from predicted probabilities.

    Convention (d2l, PyTorch edition): ``y_hat`` holds probabilities of shape ``(n, q)`` (for
    example the output of ``softmax``), ``y`` holds int64 class labels of shape ``(n,)``.
    Returns the per-example losses ``-log(y_hat[i, y[i]])`` as a tensor of shape ``(n,)`` (NOT
    the mean), with the dtype and device of ``y_hat``.  Probabilities of the classes other than
    the label may be exactly 0: that must produce no NaN or inf, neither in the loss nor in its
    gradient.  Do not use ``F.cross_entropy`` or ``F.nll_loss``.
    """
    # Pick each row's probability of its true class first, then take the log: the off-target
    # entries never go through log, so a 0 there gives neither -inf nor 0 * inf = NaN.
    rows = torch.arange(y_hat.shape[0], device=y_hat.device)
    return -torch.log(y_hat[rows, y])


def accuracy(y_hat, y):
    """Fraction of correct predictions.

    Convention: ``y_hat`` has shape ``(n, q)`` (probabilities or logits), ``y`` holds int64 class
    labels of shape ``(n,)``.  The prediction for row i is ``argmax(y_hat[i])``.  Returns the
    fraction of rows whose prediction equals the label, as a Python ``float`` in [0, 1] (not a
    tensor; and not the count of correct rows, which is what the book's ``accuracy`` returns).
    """
    preds = y_hat.argmax(dim=1)
    correct = (preds.to(y.dtype) == y).sum().item()
    return float(correct) / y.shape[0]


def sgd(params, lr, batch_size):
    """Minibatch stochastic gradient descent step, in place.

    Convention (d2l, PyTorch edition): ``params`` is an iterable of tensors (leaves with
    ``requires_grad=True``) whose ``.grad`` holds the gradient of the SUM of the minibatch
    losses.  Under ``torch.no_grad()``, for each parameter: ``p -= lr * p.grad / batch_size``,
    then zero ``p.grad``.  A parameter whose ``.grad`` is ``None`` is skipped.  Every parameter
    stays the same tensor object (a leaf with ``requires_grad``, same dtype and device): update
    it in place, never rebind it.  Returns ``None``.
    """
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def softmax_ce_grad(logits, y):
    """Gradient, written by hand, of the mean softmax cross-entropy with respect to the logits.

    Convention: ``logits`` has shape ``(n, q)``, ``y`` holds int64 class labels of shape
    ``(n,)``.  With ``L = mean_i -log(softmax(logits)[i, y[i]])``, returns ``dL/dlogits``, which
    is ``(softmax(logits) - one_hot(y)) / n``: a tensor of shape ``(n, q)`` with the dtype and
    device of ``logits``.  Must be finite for logits as large as 1e4.  Written by hand: no
    autograd (``backward``, ``torch.autograd``) and no ``torch.softmax`` / ``F.softmax``.
    """
    n = logits.shape[0]
    shifted = logits - logits.max(dim=1, keepdim=True).values
    probs = torch.exp(shifted)
    probs = probs / probs.sum(dim=1, keepdim=True)
    one_hot = torch.zeros_like(probs)
    one_hot[torch.arange(n, device=logits.device), y] = 1
    return (probs - one_hot) / n
