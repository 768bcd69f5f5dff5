"""Reference implementations for the ``linear_regression`` assignment.

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/linear_regression.ipynb``, and the hidden suite compares student answers with
these functions.  Conventions follow the PyTorch edition of *Dive into Deep Learning* (sections
"Linear Regression Implementation from Scratch" and "Concise Implementation of Linear
Regression"; d2l-zh 2.0 where the editions disagree), with three deliberate departures, each
stated in the stub's docstring:

* everything is created on the device (and, for ``synthetic_data``, with the dtype) of the
  inputs, so the same code runs on a GPU (the book creates its tensors on the CPU);
* ``train`` and ``build_concise_model`` take the number of features from the data instead of
  hard-coding 2;
* ``train_concise`` returns the learned ``(weight, bias)`` instead of printing the errors.

The names ``random``, ``torch``, ``nn`` and ``data`` (``torch.utils.data``) are imported by the
notebook's setup cell; the exercise cells use them without importing them again.
"""

import random

import torch
from torch import nn
from torch.utils import data


def synthetic_data(w, b, num_examples):
    """Generate a synthetic linear-regression data set: y = Xw + b + noise.

    Convention (d2l, PyTorch edition): ``w`` is a 1-D tensor of shape ``(d,)``, ``b`` a number.
    Returns ``(X, y)``: the features ``X`` of shape ``(num_examples, d)`` drawn from the standard
    normal distribution N(0, 1), and the labels ``y = X @ w + b + noise`` of shape
    ``(num_examples, 1)`` (a column, note the reshape), where the noise is drawn from N(0, 0.01**2)
    (standard deviation 0.01).  ``X`` and ``y`` have the dtype and device of ``w``.
    """
    X = torch.normal(0.0, 1.0, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    y = y + torch.normal(0.0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    """Iterate over a data set in random minibatches (one epoch).

    Convention (d2l, PyTorch edition): ``features`` has shape ``(n, d)``, ``labels`` shape
    ``(n, 1)`` (or ``(n,)``).  Yields ``(X, y)`` pairs of minibatches: ``X = features[idx]`` and
    ``y = labels[idx]`` for the same indices ``idx``, so every example keeps its own label.  Every
    example appears in exactly one minibatch per epoch, in a new random order at every call (do
    not seed inside); every minibatch holds ``batch_size`` examples except the last, which holds
    the rest (it is smaller when ``batch_size`` does not divide ``n``; it is never dropped and
    never empty).  The minibatches keep the dtype and device of the inputs.  Write it as a
    generator (``yield``), as the book does; returning a list of all the ``(X, y)`` pairs is
    accepted too.
    """
    num_examples = len(features)
    indices = list(range(num_examples))
    # The examples are read in a random order, new at every call (every epoch).
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)],
                                     device=features.device)
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):
    """The linear regression model.

    Convention (d2l, PyTorch edition): ``X`` has shape ``(n, d)``, the weights ``w`` shape
    ``(d, 1)`` and the bias ``b`` shape ``(1,)``.  Returns ``X @ w + b``, the predictions of shape
    ``(n, 1)``, with the dtype and device of ``X``.  Must be differentiable with respect to
    ``X``, ``w`` and ``b``.
    """
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):
    """Squared loss, one value per example.

    Convention (d2l, PyTorch edition): ``y_hat`` holds the predictions of shape ``(n, 1)`` (as
    returned by ``linreg``), ``y`` the labels of shape ``(n, 1)`` or ``(n,)``.  Returns the
    per-example losses ``(y_hat - y.reshape(y_hat.shape)) ** 2 / 2``, a tensor of the shape of
    ``y_hat`` (NOT their mean or sum), with the dtype and device of ``y_hat``.  Must be
    differentiable with respect to ``y_hat``.
    """
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


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


def train(features, labels, lr, num_epochs, batch_size):
    """Train linear regression from scratch with minibatch SGD; return the learned ``(w, b)``.

    Convention (d2l, PyTorch edition): ``features`` has shape ``(n, d)``, ``labels`` shape
    ``(n, 1)``.  Initialise ``w`` of shape ``(d, 1)`` from N(0, 0.01**2) and ``b = zeros(1)``, both
    leaves with ``requires_grad=True``, with the dtype and device of ``features`` (take ``d``
    from ``features.shape[1]``; do not hard-code 2).  Then for each of ``num_epochs`` epochs, for
    each minibatch ``(X, y)`` of your ``data_iter(batch_size, features, labels)``: compute the
    per-example losses ``squared_loss(linreg(X, w, b), y)``, back-propagate their SUM
    (``l.sum().backward()``) and take a step ``sgd([w, b], lr, batch_size)``.  Use your own
    ``data_iter``, ``linreg``, ``squared_loss`` and ``sgd``, not ``torch.optim``, ``nn.Linear``,
    ``nn.MSELoss`` or a closed-form solution.  Returns ``(w, b)``.
    """
    w = torch.normal(0.0, 0.01, size=(features.shape[1], 1), dtype=features.dtype,
                     device=features.device, requires_grad=True)
    b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)  # per-example losses of the minibatch
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b


def build_concise_model(num_inputs):
    """The linear regression model with PyTorch's layers, initialised as in the book.

    Convention (d2l, PyTorch edition): returns ``nn.Sequential(nn.Linear(num_inputs, 1))``
    whose layer's weight (shape ``(1, num_inputs)``) is drawn from N(0, 0.01**2) and whose bias
    (shape ``(1,)``) is zero.  (A bare ``nn.Linear(num_inputs, 1)`` initialised the same way is
    accepted too.)
    """
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    nn.init.normal_(net[0].weight, mean=0.0, std=0.01)
    nn.init.zeros_(net[0].bias)
    return net


def train_concise(features, labels, lr, num_epochs, batch_size):
    """Train linear regression with PyTorch's high-level API; return the learned ``(weight, bias)``.

    Convention (d2l, PyTorch edition): ``features`` has shape ``(n, d)``, ``labels`` shape
    ``(n, 1)``.  Build the model with your ``build_concise_model(d)`` (``d = features.shape[1]``)
    and move it to the device of ``features``; use ``nn.MSELoss()`` (the mean of the squared
    errors, without the 1/2) and ``torch.optim.SGD(net.parameters(), lr=lr)``; read random
    minibatches of ``batch_size`` examples, a new order every epoch (a
    ``data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)`` as in the
    book, or your ``data_iter``).  For each minibatch: loss, ``trainer.zero_grad()``,
    ``backward()``, ``trainer.step()``.  After ``num_epochs`` epochs return the layer's
    ``(weight, bias)``: shapes ``(1, d)`` and ``(1,)``.
    """
    net = build_concise_model(features.shape[1]).to(features.device)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    layer = net[0]
    return layer.weight.detach(), layer.bias.detach()
