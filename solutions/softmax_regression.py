"""Reference implementations for the ``softmax_regression`` assignment.

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/softmax_regression.ipynb``, and the hidden suite compares student answers with
these functions.  Conventions follow the PyTorch edition of *Dive into Deep Learning* (d2l-zh 2.0
where the editions disagree), except where the book's code has a known flaw (its softmax overflows
for logits past ~88 in float32).

Every function is self-contained (no helper shared between functions) so that each one reads as a
complete answer to its own exercise cell.  In the from-scratch exercises no shortcut is used: no
``torch.softmax``, ``F.softmax``, ``Tensor.softmax``, ``log_softmax``, ``F.cross_entropy``,
``F.nll_loss``, and no autograd inside the by-hand gradient.  The concise exercises
(``build_concise_model``, ``train_concise``) are the opposite: they use the library's
``nn.Linear``, ``nn.CrossEntropyLoss`` and ``torch.optim.SGD``, as the book's concise section does.
"""

import torch
from torch import nn


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


def build_concise_model(num_inputs, num_outputs):
    """Softmax regression with the library: ``nn.Flatten()`` followed by ``nn.Linear``.

    Convention (d2l, PyTorch edition, concise section): returns
    ``nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))``.  ``nn.Flatten`` turns a
    batch of images of shape ``(n, 1, h, w)`` (with ``h * w == num_inputs``) into ``(n,
    num_inputs)``; a batch that is already ``(n, num_inputs)`` passes through unchanged.  The
    model returns LOGITS of shape ``(n, num_outputs)``: no softmax at the end, because
    ``nn.CrossEntropyLoss`` applies it itself.  The linear layer's weight is drawn from a normal
    distribution with mean 0 and standard deviation 0.01 (``nn.init.normal_(weight, std=0.01)``);
    its bias may be zero or keep PyTorch's default initialisation (as in the book).
    """
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
    # normal_'s second positional argument is the MEAN: name std explicitly.
    nn.init.normal_(net[1].weight, mean=0.0, std=0.01)
    nn.init.zeros_(net[1].bias)
    return net


def train_concise(net, X, y, lr, num_epochs, batch_size):
    """Train ``net`` in place with ``nn.CrossEntropyLoss`` and ``torch.optim.SGD``.

    Convention (d2l, PyTorch edition, concise section): ``net`` is a model returning logits
    (for example from ``build_concise_model``), ``X`` the training examples (first dimension:
    the ``n`` examples), ``y`` their int64 labels of shape ``(n,)``.  For each of the
    ``num_epochs`` epochs, shuffle the examples and go through them in minibatches of
    ``batch_size`` (the last one may be smaller; every example is used once per epoch); for each
    minibatch: the MEAN cross-entropy of the logits (``nn.CrossEntropyLoss()``), zero the
    gradients, backpropagate, and take one ``torch.optim.SGD(net.parameters(), lr=lr)`` step.
    Returns a list of ``num_epochs`` Python floats: for each epoch, the mean training loss per
    example over that epoch (each minibatch's loss as computed before its step, weighted by the
    minibatch's size).
    """
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    n = X.shape[0]
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(n, device=X.device).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += float(l.detach()) * len(idx)
        losses.append(total / n)
    return losses
