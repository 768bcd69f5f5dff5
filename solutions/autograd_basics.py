"""Reference implementations for the ``autograd_basics`` assignment.

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/autograd_basics.ipynb``, and the hidden suite compares student answers with
these functions.  The chapter is *Preliminaries* of *Dive into Deep Learning* (PyTorch edition,
sections 2.1-2.5: data manipulation, linear algebra, calculus, automatic differentiation), plus
the manual gradient checks of DESIGN §5 (``numerical_grad``, ``rel_error``, ``relu_grad``,
``sigmoid_grad``, ``tanh_grad``).

Every function is self-contained (no helper shared between functions) so that each one reads as a
complete answer to its own exercise cell.  The gradients "by hand" use no automatic
differentiation (no ``backward``, ``torch.autograd`` or ``torch.func``).
"""

import torch


def grid(rows, cols, device):
    """A float32 matrix holding 0, 1, 2, ... row by row, created on ``device``.

    Convention: returns a tensor of shape ``(rows, cols)`` and dtype ``torch.float32`` whose entry
    ``[r, c]`` is ``r * cols + c`` (the numbers ``0 .. rows*cols - 1`` in row-major order, as
    ``torch.arange(12).reshape(3, 4)`` in the book), on the device named by the string ``device``
    (``"cpu"``, ``"cuda"``, ...).  Create it on that device (``device=device``) rather than on the
    CPU; ``rows`` and ``cols`` are positive ints.
    """
    return torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(rows, cols)


def column_view(X, j):
    """Column ``j`` of a matrix, as a view that shares ``X``'s memory.

    Convention: ``X`` has shape ``(n, m)``; ``j`` is a column index, negative values counting from
    the end as in Python (``-1`` is the last column).  Returns a 1-D tensor of shape ``(n,)``
    holding ``X[0, j], X[1, j], ...`` that is a VIEW of ``X``: no data is copied, so writing into
    the result changes ``X`` and writing into ``X`` changes the result.  Same dtype and device as
    ``X``.  (Basic indexing and slicing return views; ``clone()``, ``contiguous()`` on a
    non-contiguous tensor, ``torch.tensor(...)`` and advanced indexing with lists copy.)
    """
    return X[:, j]


def axpy_(a, x, y):
    """``y += a * x``, in place; returns ``None``.

    Convention (PyTorch's trailing underscore: the function modifies an argument): ``a`` is a
    Python number, ``x`` a tensor of ``y``'s shape or one that broadcasts to it, ``y`` a tensor of
    the same dtype and device.  Afterwards ``y`` holds ``y + a * x`` in its OWN memory (the same
    tensor object and the same storage, so every view of ``y`` sees the change, as with the
    book's ``Z[:] = X + Y``); ``x`` is left unchanged.  ``y`` may be a parameter, a leaf tensor
    with ``requires_grad=True``: the update must then not be recorded by autograd (do it under
    ``torch.no_grad()``), and ``y`` stays a leaf that requires grad, with its ``.grad``
    untouched.  Returns ``None``.
    """
    with torch.no_grad():
        y.add_(x, alpha=a)


def to_numpy(x):
    """The values of tensor ``x`` as a NumPy array, sharing memory with ``x`` when it can.

    Convention: returns a ``numpy.ndarray`` with ``x``'s shape, values and matching dtype
    (float32 -> float32, float64 -> float64, int64 -> int64).  ``x`` may require grad (a
    parameter) and may live on a GPU: the array is always in host (CPU) memory.  When ``x`` is a
    CPU tensor, the array must share its memory (no copy), so that an in-place change of ``x``
    shows in the array and vice versa, as ``x.numpy()`` does.
    """
    return x.detach().cpu().numpy()


def grad_of_mean_square(x):
    """Gradient, written by hand, of ``L(x) = mean(3 * (x + 2) ** 2)`` with respect to ``x``.

    Convention: ``x`` is a float tensor of any shape with ``N = x.numel()`` entries, and the mean
    is over all ``N`` of them, so ``dL/dx_i = 6 * (x_i + 2) / N``.  Returns a tensor of ``x``'s
    shape, dtype and device; ``x`` is not modified.  No autograd (``backward``,
    ``torch.autograd``, ``torch.func``): the grader compares your formula with autograd.
    """
    return 6 * (x + 2) / x.numel()


def relu_grad(X):
    """Derivative of ReLU, element-wise, written by hand.

    Convention: ``relu(x) = max(x, 0)``, so ``relu'(x)`` is 1 where ``x > 0`` and 0 where
    ``x < 0`` (at exactly 0 the derivative does not exist; either value is accepted there).
    Returns a tensor of ``X``'s shape, dtype and device (floats, not booleans).  Must not modify
    ``X``: build a new tensor.  No autograd (``backward``, ``torch.autograd``, ``torch.func``).
    """
    return (X > 0).to(X.dtype)


def sigmoid_grad(X):
    """Derivative of the sigmoid, element-wise, written by hand.

    Convention: ``sigmoid(x) = 1 / (1 + exp(-x))`` and ``sigmoid'(x) = sigmoid(x) *
    (1 - sigmoid(x))``.  Returns a tensor of ``X``'s shape, dtype and device; ``X`` is not
    modified.  Must be finite (no NaN or inf) for inputs as large as ``|x| = 1e4`` in float32 and
    float64, where ``exp(-x)`` overflows.  ``torch.sigmoid`` may be used; no autograd
    (``backward``, ``torch.autograd``, ``torch.func``).
    """
    s = torch.sigmoid(X)
    return s * (1 - s)


def tanh_grad(X):
    """Derivative of tanh, element-wise, written by hand.

    Convention: ``tanh'(x) = 1 - tanh(x) ** 2``.  Returns a tensor of ``X``'s shape, dtype and
    device; ``X`` is not modified.  Must be finite for inputs as large as ``|x| = 1e4``.
    ``torch.tanh`` may be used; no autograd (``backward``, ``torch.autograd``, ``torch.func``).
    """
    return 1 - torch.tanh(X) ** 2


def numerical_grad(f, x, eps=1e-6):
    """Gradient of a scalar function by central differences, element by element.

    Convention: ``f`` takes a tensor shaped like ``x`` and returns a scalar (a 0-d tensor or a
    Python number); ``x`` is a float tensor with at least one dimension that does not require
    grad.  For each entry ``i`` of ``x``, ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) /
    (2 * eps)``, where ``e_i`` is 1 at entry ``i`` and 0 elsewhere.  Returns a tensor of ``x``'s
    shape, dtype and device.  You may change entries of ``x`` while you evaluate ``f``, but ``x``
    must hold its original values again when the function returns.  No autograd (``backward``,
    ``torch.autograd``, ``torch.func``): this is the check that autograd's answers are tested
    against.
    """
    grad = torch.zeros_like(x)
    flat_x = x.view(-1)        # views: writing into them writes into x and grad
    flat_grad = grad.view(-1)
    for i in range(flat_x.numel()):
        old = flat_x[i].item()
        flat_x[i] = old + eps
        f_plus = float(f(x))
        flat_x[i] = old - eps
        f_minus = float(f(x))
        flat_x[i] = old        # restore x exactly
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(a, b):
    """Largest element-wise relative error between two tensors, as a Python float.

    Convention (DESIGN §5): ``rel_error(a, b) = max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)`` for
    two tensors of the same shape.  The ``max(1e-8, ...)`` keeps entries where both are 0 from
    giving 0 / 0 (their error is 0) and stops tiny values from looking hugely different.  Returns
    a Python ``float`` (not a tensor).
    """
    num = (a - b).abs()
    den = torch.clamp(a.abs() + b.abs(), min=1e-8)
    return float((num / den).max())


def vector_backward(x, v):
    """``x.grad`` after ``y = x * x`` and ``y.backward(v)`` (the backward of a non-scalar ``y``).

    Convention (book §2.5.2): ``x`` is a leaf tensor with ``requires_grad=True`` and
    ``x.grad is None``; ``v`` has ``x``'s shape.  ``y = x * x`` is not a scalar, so
    ``y.backward()`` needs the vector ``v`` it multiplies the Jacobian with: ``y.backward(v)``
    computes the gradient of ``(v * y).sum()``, that is ``2 * x * v``.  Compute it with autograd
    (``backward``), so that afterwards ``x.grad`` holds it, and return ``x.grad``.
    """
    y = x * x
    y.backward(v)
    return x.grad


def detached_grads(x):
    """The two gradients of the book's ``detach`` example, zeroing ``x.grad`` in between.

    Convention (book §2.5.3): ``x`` is a leaf tensor with ``requires_grad=True`` and
    ``x.grad is None``.  With ``y = x * x`` and ``u = y.detach()`` (``y``'s values, treated by
    autograd as a constant), ``z = u * x``:

    1. ``z.sum().backward()``: ``x.grad`` is now ``u`` (not ``3 * x ** 2``), keep a copy of it;
    2. zero ``x.grad`` (gradients accumulate: a second ``backward`` ADDS to ``x.grad``), then
       ``y.sum().backward()``: ``x.grad`` is now ``2 * x``.

    Returns the tuple ``(grad_z, grad_y)`` of these two gradients as separate tensors (``x``'s
    shape, dtype and device); afterwards ``x.grad`` holds ``grad_y``.  Use autograd
    (``backward``) for both.
    """
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    grad_z = x.grad.clone()    # x.grad is zeroed in place below: keep a copy, not the same tensor
    x.grad.zero_()
    y.sum().backward()
    return grad_z, x.grad
