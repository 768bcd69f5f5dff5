"""Reference implementations for the ``mlp`` assignment (multilayer perceptrons).

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/mlp.ipynb``, and the hidden suite compares student answers with these functions.
Conventions follow the PyTorch edition of *Dive into Deep Learning* (d2l-zh 2.0 where the
editions disagree): the MLP from scratch (``relu``, ``init_mlp_params``, ``mlp_forward``, a
training loop with ``nn.CrossEntropyLoss`` and ``torch.optim.SGD``) and its concise version
(``nn.Sequential(nn.Flatten(), nn.Linear, nn.ReLU(), nn.Linear)`` with weights drawn from
``N(0, 0.01^2)``).

The activations are written from elementary tensor operations (no ``torch.relu``,
``torch.sigmoid``, ``torch.tanh``, ``F.*`` or ``nn.ReLU``...).  ``sigmoid`` and ``tanh`` only ever
exponentiate ``-|x|`` (a number <= 0), so neither their values nor their gradients overflow for
inputs as large as 1e4 in float32, and the branch is chosen with ``torch.where`` on the input
itself (not through ``abs``), so the gradient at exactly 0 is right too.

Functions may use the assignment's earlier exercises, as the book does: ``mlp_forward`` calls
``relu``, and ``train_mlp`` calls ``init_mlp_params`` and ``mlp_forward``.  The notebook's set-up
cell provides ``torch`` and ``nn`` (``from torch import nn``).
"""

import torch
from torch import nn


def relu(X):
    """Rectified linear unit, element-wise: ``max(x, 0)``.

    Convention (d2l, PyTorch edition): ``X`` is a float tensor of any shape; returns a tensor of
    the same shape, dtype and device whose entries are ``max(X[i], 0)``, differentiable with
    autograd (gradient 1 where ``X > 0``, 0 where ``X < 0``).  Leave ``X`` unchanged (no in-place
    operations on it).  Write it from elementary tensor operations: not with ``torch.relu``,
    ``F.relu``, ``Tensor.relu`` or ``nn.ReLU``.
    """
    a = torch.zeros_like(X)
    return torch.max(X, a)


def sigmoid(X):
    """Logistic sigmoid, element-wise: ``1 / (1 + exp(-x))``.

    Convention: ``X`` is a float tensor of any shape; returns a tensor of the same shape, dtype and
    device, differentiable with autograd.  Must be numerically stable: values AND gradients finite
    and correct for inputs as large as 1e4 in magnitude in float32 (``exp`` overflows to ``inf``
    past about 88).  Write it from elementary tensor operations: not with ``torch.sigmoid``,
    ``F.sigmoid``, ``Tensor.sigmoid``, ``torch.special.expit``, ``nn.Sigmoid`` or ``torch.tanh``.
    """
    # exp of -|x| only: z is in (0, 1], so neither branch overflows.  torch.where evaluates (and
    # back-propagates through) both branches, which is why both must stay finite everywhere.
    positive = X >= 0
    z = torch.exp(torch.where(positive, -X, X))
    return torch.where(positive, 1 / (1 + z), z / (1 + z))


def tanh(X):
    """Hyperbolic tangent, element-wise: ``(1 - exp(-2x)) / (1 + exp(-2x))``.

    Convention: ``X`` is a float tensor of any shape; returns a tensor of the same shape, dtype and
    device, differentiable with autograd.  Must be numerically stable: values AND gradients finite
    and correct for inputs as large as 1e4 in magnitude in float32.  Write it from elementary
    tensor operations: not with ``torch.tanh``, ``F.tanh``, ``Tensor.tanh``, ``nn.Tanh`` or a
    built-in sigmoid (your own ``sigmoid`` is fine: ``tanh(x) = 2 * sigmoid(2x) - 1``).
    """
    # tanh is odd: compute it for |x| from exp(-2|x|) <= 1 and put the sign back.
    positive = X >= 0
    z = torch.exp(torch.where(positive, -2 * X, 2 * X))
    t = (1 - z) / (1 + z)
    return torch.where(positive, t, -t)


def mlp_forward(X, params):
    """Forward pass of a one-hidden-layer MLP; returns the logits.

    Convention (d2l, PyTorch edition): ``params = [W1, b1, W2, b2]`` with ``W1`` of shape
    ``(num_inputs, num_hiddens)``, ``b1`` ``(num_hiddens,)``, ``W2`` ``(num_hiddens, num_outputs)``
    and ``b2`` ``(num_outputs,)``.  ``X`` has shape ``(n, ...)`` (for example a batch of images
    ``(n, 1, 28, 28)``) and is flattened to ``(n, W1.shape[0])`` -- do not hard-code the number of
    inputs.  Returns ``relu(X @ W1 + b1) @ W2 + b2`` of shape ``(n, num_outputs)``: logits, with no
    softmax.  Use your ``relu`` (not ``torch.relu``); keep the dtype and device; differentiable
    with respect to ``X`` and every parameter.
    """
    W1, b1, W2, b2 = params
    X = X.reshape(-1, W1.shape[0])
    H = relu(X @ W1 + b1)
    return H @ W2 + b2


def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    """Parameters of a one-hidden-layer MLP, initialised as in the book.

    Returns the list ``[W1, b1, W2, b2]``: ``W1`` of shape ``(num_inputs, num_hiddens)`` and ``W2``
    of shape ``(num_hiddens, num_outputs)`` with entries drawn from a normal distribution with mean
    0 and standard deviation 0.01 (``torch.randn(...) * 0.01``), ``b1`` of shape
    ``(num_hiddens,)`` and ``b2`` of shape ``(num_outputs,)`` filled with zeros; all float32, on
    the CPU.  Every parameter must be a LEAF tensor with ``requires_grad=True``, so that
    ``backward()`` fills its ``.grad`` (``torch.randn(..., requires_grad=True) * 0.01`` is not a
    leaf: wrap it in ``nn.Parameter`` as the book does, or scale first and then call
    ``.requires_grad_()``).  Draw from torch's global random generator (do not reseed it).
    """
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))
    return [W1, b1, W2, b2]


def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    """Train the from-scratch MLP with minibatch SGD; returns the trained parameters.

    Convention: ``X`` is a float32 tensor of shape ``(n, ...)`` (``n`` examples, e.g. images of
    shape ``(n, 8, 8)``) and ``y`` holds int64 labels of shape ``(n,)`` in ``0 .. q-1`` (every
    class present, so ``q = int(y.max()) + 1``); both on the same device.  Initialise
    ``[W1, b1, W2, b2]`` with ``init_mlp_params(num_inputs, num_hiddens, q)`` where
    ``num_inputs`` is the number of values in one example, on the device of ``X``.  Then, for
    ``num_epochs`` epochs, visit the examples in a new random order (``torch.randperm``) in
    minibatches of ``batch_size`` (the last one may be smaller); for each minibatch compute the
    MEAN cross-entropy of ``mlp_forward`` (``nn.CrossEntropyLoss()`` is allowed here) and take
    one SGD step with learning rate ``lr`` (``torch.optim.SGD(params, lr=lr)`` or your own update
    under ``torch.no_grad()``), zeroing the gradients every step.  Returns the trained list
    ``[W1, b1, W2, b2]``.  Draw all randomness from torch's global generator (no reseeding).
    """
    num_inputs = X[0].numel()
    num_outputs = int(y.max()) + 1
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(num_inputs, num_hiddens, num_outputs)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    n = X.shape[0]
    for _ in range(num_epochs):
        order = torch.randperm(n, device=X.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            l = loss(mlp_forward(X[idx], params), y[idx])
            updater.zero_grad()
            l.backward()
            updater.step()
    return params


def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    """The concise MLP: an ``nn.Sequential`` initialised as in the book.

    Convention (d2l, PyTorch edition): returns
    ``nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
    nn.Linear(num_hiddens, num_outputs))`` -- exactly these four layers, in this order -- whose
    ``nn.Linear`` weights are redrawn from a normal distribution with mean 0 and standard deviation
    0.01 (``nn.init.normal_(m.weight, std=0.01)``, e.g. with ``net.apply(init_weights)``).  The
    biases may keep PyTorch's default initialisation (as in the book) or be set to zero.  Its
    output is the logits (no softmax layer).
    """
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
                        nn.Linear(num_hiddens, num_outputs))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    return net


def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    """Train an ``nn.Module`` classifier in place, the concise way.

    Convention (d2l, PyTorch edition): ``net`` maps a batch ``X`` of shape ``(n, ...)`` to logits
    ``(n, q)`` and already sits on the device of ``X``; ``y`` holds int64 labels of shape
    ``(n,)``.  For ``num_epochs`` epochs, visit the examples in a new random order (``torch.randperm``,
    or a ``DataLoader`` with ``shuffle=True``) in minibatches of ``batch_size``; for each minibatch
    compute the mean cross-entropy with ``nn.CrossEntropyLoss`` and take one step of
    ``torch.optim.SGD(net.parameters(), lr=lr)`` (zero the gradients, backward, step).  Trains
    ``net`` itself, in place (do not build a new model); returns nothing.  Draw all randomness from
    torch's global generator (no reseeding).
    """
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    n = X.shape[0]
    for _ in range(num_epochs):
        order = torch.randperm(n, device=X.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
