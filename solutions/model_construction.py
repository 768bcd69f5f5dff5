"""Reference implementations for the ``model_construction`` assignment (the book's builders' guide).

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body, and each method body of each class (everything after its docstring),
as the solution of the matching stub in ``assignments/model_construction.ipynb``; the hidden suite
compares student answers with these definitions.  Conventions follow the PyTorch edition of *Dive
into Deep Learning* (d2l-zh 2.0 where the editions disagree: ``nn.Linear`` with explicit input
sizes, not ``nn.LazyLinear``), except where the book's code has a known flaw:

* ``MyLinear.forward`` uses ``self.weight`` and ``self.bias`` themselves; the book's
  ``self.weight.data`` cuts them out of the autograd graph, so they never get a gradient;
* ``FixedHiddenMLP`` registers its constant weight as a buffer; the book's plain tensor attribute
  does not follow ``net.to(device)`` and breaks the module on a GPU;
* ``save_params`` / ``load_params`` go through ``state_dict``; the book's ``torch.save(net)`` pickles
  the whole module, which ``torch.load`` refuses by default since torch 2.6 (``weights_only``).

Every definition is self-contained (no helper shared between exercises), so that each one reads
as a complete answer to its own exercise cell.
"""

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """A multilayer perceptron with one hidden layer, written as a subclass of ``nn.Module``.

    Convention (d2l, PyTorch edition): ``MLP()`` takes no arguments.  Its layers are
    ``self.hidden = nn.Linear(20, 256)`` and ``self.out = nn.Linear(256, 10)``, created in that
    order, so ``list(net.parameters())`` has shapes ``(256, 20), (256,), (10, 256), (10,)``.
    ``net(X)`` maps a batch ``X`` of shape ``(n, 20)`` to logits of shape ``(n, 10)``:
    ``out(relu(hidden(X)))``, with the dtype and device of ``X`` and the parameters.
    """

    def __init__(self):
        # Call the parent's __init__ first: it sets up the bookkeeping that registers
        # every nn.Module assigned to an attribute afterwards.
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


class MySequential(nn.Module):
    """A hand-written version of ``nn.Sequential``.

    Convention: ``MySequential(*modules)`` keeps the modules in the order given and
    ``net(X)`` feeds ``X`` through them one after the other, returning the last output.  The
    modules must be *registered* as sub-modules (``net.parameters()`` lists all of their
    parameters, in order; ``net.to(device)`` moves them): keep them in ``self._modules`` or
    register them with ``self.add_module(name, module)``, as the book does.  A plain Python list or
    dict attribute hides them from ``nn.Module``.  Do not use ``nn.Sequential`` itself.
    """

    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            # add_module stores the module in self._modules (an ordered dict) under a string
            # key: that registration is what parameters(), to() and state_dict() walk.
            self.add_module(str(idx), module)

    def forward(self, X):
        for block in self._modules.values():
            X = block(X)
        return X


class StackedLinear(nn.Module):
    """A stack of ``nn.Linear`` layers with ReLU in between, kept in an ``nn.ModuleList``.

    Convention: ``StackedLinear(sizes)`` with a list of layer widths ``sizes = [d0, d1, ..., dk]``
    (k >= 1) holds ``self.layers``, an ``nn.ModuleList`` of the k layers
    ``nn.Linear(d0, d1), ..., nn.Linear(d(k-1), dk)`` in that order.  ``net(X)`` for ``X`` of
    shape ``(n, d0)`` applies the layers in order with a ReLU after every layer except the last,
    and returns the last layer's output, shape ``(n, dk)``.  A plain Python list of layers is not
    registered: ``net.parameters()`` would not see them.
    """

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(
            [nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])])

    def forward(self, X):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            X = layer(X)
            if i < last:
                X = F.relu(X)
        return X


class MultiHead(nn.Module):
    """One input, several named linear output heads, kept in an ``nn.ModuleDict``.

    Convention: ``MultiHead(in_features, head_sizes)`` with a dict ``head_sizes`` (head name ->
    number of outputs) holds ``self.heads``, an ``nn.ModuleDict`` with one
    ``nn.Linear(in_features, head_sizes[name])`` per name, created in the dict's order.
    ``net(X, head)`` for ``X`` of shape ``(n, in_features)`` returns the output of the head called
    ``head``, shape ``(n, head_sizes[head])``.  A plain Python dict of layers is not registered:
    ``net.parameters()`` would not see them.
    """

    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.heads = nn.ModuleDict(
            {name: nn.Linear(in_features, n_out) for name, n_out in head_sizes.items()})

    def forward(self, X, head):
        return self.heads[head](X)


class FixedHiddenMLP(nn.Module):
    """The book's ``FixedHiddenMLP``: a constant weight, a layer used twice, and control flow.

    Convention (d2l, PyTorch edition): ``self.rand_weight`` is a constant ``(20, 20)`` tensor drawn
    with ``torch.rand`` at construction and never trained (not a parameter that requires grad);
    register it as a buffer (``self.register_buffer("rand_weight", ...)``) so that it follows
    ``net.to(device)`` like the rest of the module.  ``self.linear = nn.Linear(20, 20)`` is the only
    trainable layer.  ``net(X)`` for ``X`` of shape ``(n, 20)``:

    1. ``X = linear(X)``; 2. ``X = relu(X @ rand_weight + 1)``; 3. ``X = linear(X)`` again (the same
    layer, so the same parameters); 4. while the sum of absolute values of ``X`` is larger than 1,
    halve ``X``; 5. return ``X.sum()`` (a 0-d tensor).
    """

    def __init__(self):
        super().__init__()
        # A buffer is part of the module's state (state_dict, to(device)) but not a parameter:
        # no optimizer updates it and autograd computes no gradient for it.
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(torch.mm(X, self.rand_weight) + 1)
        # Reuse the fully connected layer: the two uses share its parameters.
        X = self.linear(X)
        # Control flow in Python: the number of halvings depends on the data.
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()


class CenteredLayer(nn.Module):
    """A layer without parameters that subtracts the mean.

    Convention (d2l, PyTorch edition): ``CenteredLayer()`` has no parameters; ``layer(X)`` returns
    ``X - X.mean()``, the mean over ALL entries of ``X`` (not per row or per column), with the shape,
    dtype and device of ``X``.  It must be differentiable: gradients flow through the mean too.
    """

    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean()


class MyLinear(nn.Module):
    """The book's custom fully connected layer with its own parameters, followed by ReLU.

    Convention (d2l, PyTorch edition): ``MyLinear(in_units, units)`` has two parameters,
    ``self.weight`` of shape ``(in_units, units)`` and ``self.bias`` of shape ``(units,)``, both
    ``nn.Parameter`` drawn with ``torch.randn`` (so ``parameters()`` lists them, weight first, and
    optimizers and ``net.to(device)`` see them).  ``layer(X)`` for ``X`` of shape ``(n, in_units)``
    returns ``relu(X @ weight + bias)``, shape ``(n, units)``.  Use the parameters themselves in
    ``forward`` (not ``self.weight.data``): gradients must reach ``weight`` and ``bias``.  Do not use
    ``nn.Linear`` or ``F.linear``.
    """

    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units))

    def forward(self, X):
        linear = torch.matmul(X, self.weight) + self.bias
        return F.relu(linear)


def count_parameters(net):
    """The number of scalar parameters of a module.

    Convention: ``net`` is any ``nn.Module``.  Returns, as a Python ``int``, the total number of
    entries of the parameters that ``net.parameters()`` lists: nested sub-modules included, a
    parameter shared by several layers counted once, buffers (such as BatchNorm's running
    statistics) not counted, whether or not the parameter requires grad.
    """
    # parameters() walks every sub-module and yields each Parameter object once, even when
    # several layers share it.
    return sum(p.numel() for p in net.parameters())


def init_normal(module):
    """Initialise one ``nn.Linear`` layer from N(0, 0.01^2) with a zero bias; for ``net.apply``.

    Convention (d2l, PyTorch edition): ``net.apply(init_normal)`` calls ``init_normal`` on every
    sub-module of ``net``.  When ``module`` is an ``nn.Linear``, fill its weight, in place, with
    draws from a normal distribution of mean 0 and standard deviation 0.01, and set its bias to
    exactly 0; leave every other kind of module (ReLU, LayerNorm, ...) unchanged.  The parameters
    stay the same ``nn.Parameter`` objects.  Returns ``None``.
    """
    if isinstance(module, nn.Linear):  # the book writes type(module) == nn.Linear
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)


def init_xavier(module):
    """Xavier (Glorot) uniform initialisation of one ``nn.Linear`` layer; for ``net.apply``.

    Convention: when ``module`` is an ``nn.Linear`` with ``fan_in`` inputs and ``fan_out``
    outputs, fill its weight, in place, with draws from the uniform distribution on ``[-a, a]``,
    ``a = sqrt(6 / (fan_in + fan_out))``, and set its bias to exactly 0; leave every other kind of
    module unchanged.  The parameters stay the same ``nn.Parameter`` objects.  Returns ``None``.
    """
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def shared_mlp():
    """The book's network with a shared layer.

    Convention (d2l, PyTorch edition): returns an ``nn.Sequential`` of 7 modules:
    ``Linear(4, 8), ReLU(), shared, ReLU(), shared, ReLU(), Linear(8, 1)`` where ``shared`` is ONE
    ``nn.Linear(8, 8)`` object used at positions 2 and 4, so ``net[2] is net[4]``, the two positions
    have the very same weight and bias, and back-propagation adds the gradients of both uses into
    them.
    """
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
                         shared, nn.ReLU(),
                         shared, nn.ReLU(),
                         nn.Linear(8, 1))


def save_params(net, path):
    """Save a module's parameters (and buffers) to the file ``path``.

    Convention: writes ``net.state_dict()`` with ``torch.save``, so that the file can be read back
    with ``torch.load(path, weights_only=True)`` (the default since torch 2.6) into a dict of
    tensors, and loaded into a fresh copy of the same architecture.  Do not save the module object
    itself (``torch.save(net, path)`` pickles its class, which ``weights_only`` loading refuses).
    Returns ``None``.
    """
    torch.save(net.state_dict(), path)


def load_params(make_net, path):
    """Build a fresh module and load the parameters saved by ``save_params`` into it.

    Convention: ``make_net()`` (no arguments) returns a new module of the right architecture;
    ``path`` names a file written by ``save_params`` (a ``state_dict``).  Read the file with
    ``torch.load`` and its safe default ``weights_only=True`` (never ``weights_only=False``, which
    can run code hidden in the file), load it with ``load_state_dict``, and return the module.
    """
    net = make_net()
    net.load_state_dict(torch.load(path, weights_only=True))
    return net


def to_device(net, X, device):
    """Move a module and its input to a device, and run the module there.

    Convention: ``device`` is a ``torch.device`` or a string such as ``"cpu"``, ``"cuda"``,
    ``"cuda:0"`` (or ``"meta"``).  Moves ``net``'s parameters and buffers to ``device`` (``net.to``
    moves a module in place) and ``X`` to ``device``, and returns ``net(X)``, which then lives on
    ``device``.  Do not hard-code a device.
    """
    net.to(device)
    return net(X.to(device))
