"""Corpus for autograd_basics: answers that must get full marks, and typical mistakes that must
lose points on their exercise with a message naming the mistake (see tests/test_corpus.py)."""

CORRECT = {
    "grid": {
        "arange_then_float": '''def grid(rows, cols, device):
    return torch.arange(rows * cols, device=device).view(rows, cols).float()
''',
        "nested_lists": '''def grid(rows, cols, device):
    values = [[r * cols + c for c in range(cols)] for r in range(rows)]
    return torch.tensor(values, dtype=torch.float32, device=device)
''',
        "broadcasting": '''def grid(rows, cols, device):
    r = torch.arange(rows, dtype=torch.float32, device=device)[:, None]
    c = torch.arange(cols, dtype=torch.float32, device=device)
    return r * cols + c
''',
    },
    "column_view": {
        "transpose_then_row": '''def column_view(X, j):
    return X.T[j]
''',
        "select": '''def column_view(X, j):
    return X.select(1, j)
''',
        "narrow_squeeze": '''def column_view(X, j):
    return X.narrow(1, j % X.shape[1], 1).squeeze(1)
''',
    },
    "axpy_": {
        "slice_assignment": '''def axpy_(a, x, y):
    with torch.no_grad():
        y[:] = y + a * x
''',
        "data_add": '''def axpy_(a, x, y):
    y.data.add_(a * x)
''',
        "copy_": '''def axpy_(a, x, y):
    with torch.no_grad():
        y.copy_(y + a * x)
    return None
''',
    },
    "to_numpy": {
        "asarray": '''def to_numpy(x):
    return np.asarray(x.detach().cpu())
''',
        "to_cpu": '''def to_numpy(x):
    return x.detach().to("cpu").numpy()
''',
        "force": '''def to_numpy(x):
    return x.numpy(force=True)
''',
    },
    "grad_of_mean_square": {
        "factor_first": '''def grad_of_mean_square(x):
    n = x.numel()
    return (6.0 / n) * (x + 2)
''',
        "chain_rule_steps": '''def grad_of_mean_square(x):
    inner = x + 2                     # d(inner)/dx = 1
    outer = 3 * 2 * inner             # d(3 u^2)/du = 6 u
    return outer / torch.ones_like(x).sum()
''',
        "full_like": '''def grad_of_mean_square(x):
    return 6 * (x + 2) * torch.full_like(x, 1.0 / x.numel())
''',
    },
    "relu_grad": {
        "heaviside": '''def relu_grad(X):
    return torch.heaviside(X, torch.zeros_like(X))
''',
        "sign_clamp": '''def relu_grad(X):
    return torch.sign(X).clamp(min=0)
''',
        "where_like": '''def relu_grad(X):
    return torch.where(X > 0, torch.ones_like(X), torch.zeros_like(X))
''',
    },
    "sigmoid_grad": {
        "sigmoid_by_hand": '''def sigmoid_grad(X):
    s = 1 / (1 + torch.exp(-X))
    return s * (1 - s)
''',
        "abs_form": '''def sigmoid_grad(X):
    e = torch.exp(-X.abs())
    return e / (1 + e) ** 2
''',
        "symmetry": '''def sigmoid_grad(X):
    return torch.sigmoid(X) * torch.sigmoid(-X)
''',
        # Large inputs (docs/tolerances.md): stable in the log domain, full marks up to |x| = 1e4.
        "log_domain": '''def sigmoid_grad(X):
    """exp(log s + log(1 - s)) = exp(-|x| - 2 log(1 + exp(-|x|)))."""
    a = X.abs()
    return torch.exp(-a - 2 * torch.log1p(torch.exp(-a)))
''',
    },
    "tanh_grad": {
        "sech_squared": '''def tanh_grad(X):
    return 1 / torch.cosh(X) ** 2
''',
        "difference_of_squares": '''def tanh_grad(X):
    t = torch.tanh(X)
    return (1 - t) * (1 + t)
''',
        "via_sigmoid": '''def tanh_grad(X):
    s = torch.sigmoid(2 * X)          # tanh(x) = 2 sigmoid(2x) - 1
    return 4 * s * (1 - s)
''',
        "exp_minus_two_abs": '''def tanh_grad(X):
    z = torch.exp(-2 * X.abs())       # sech(x)^2 = 4 e^(-2|x|) / (1 + e^(-2|x|))^2, no overflow
    return 4 * z / (1 + z) ** 2
''',
    },
    "numerical_grad": {
        "new_tensors": '''def numerical_grad(f, x, eps=1e-6):
    flat = x.reshape(-1)
    grad = torch.zeros_like(flat)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = eps
        grad[i] = (f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape)
''',
        "ndindex_arithmetic_restore": '''def numerical_grad(f, x, eps=1e-6):
    grad = torch.empty_like(x)
    for idx in np.ndindex(*x.shape):
        x[idx] += eps
        f_plus = float(f(x))
        x[idx] -= 2 * eps
        f_minus = float(f(x))
        x[idx] += eps
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
''',
        "work_on_a_clone": '''def numerical_grad(f, x, eps=1e-6):
    z = x.clone()
    grad = torch.zeros_like(x)
    zf, gf = z.view(-1), grad.view(-1)
    for i in range(zf.numel()):
        old = zf[i].item()
        zf[i] = old + eps
        fp = f(z)
        zf[i] = old - eps
        fm = f(z)
        zf[i] = old
        gf[i] = (fp - fm) / (2 * eps)
    return grad
''',
    },
    "rel_error": {
        "maximum": '''def rel_error(a, b):
    den = torch.maximum(torch.abs(a) + torch.abs(b), torch.full_like(a, 1e-8))
    return torch.max(torch.abs(a - b) / den).item()
''',
        "python_loop": '''def rel_error(a, b):
    pairs = zip(a.flatten().tolist(), b.flatten().tolist())
    return max(abs(p - q) / max(1e-8, abs(p) + abs(q)) for p, q in pairs)
''',
        "where": '''def rel_error(a, b):
    den = a.abs() + b.abs()
    den = torch.where(den > 1e-8, den, torch.full_like(den, 1e-8))
    return float(((a - b).abs() / den).max())
''',
    },
    "vector_backward": {
        "weighted_sum": '''def vector_backward(x, v):
    y = x * x
    (y * v).sum().backward()
    return x.grad
''',
        "autograd_backward": '''def vector_backward(x, v):
    torch.autograd.backward(x * x, grad_tensors=v)
    return x.grad
''',
        "gradient_keyword": '''def vector_backward(x, v):
    (x ** 2).backward(gradient=v)
    return x.grad
''',
    },
    "detached_grads": {
        "set_to_none": '''def detached_grads(x):
    y = x * x
    z = y.detach() * x
    z.sum().backward()
    grad_z = x.grad
    x.grad = None              # a fresh tensor next time: grad_z keeps its values
    y.sum().backward()
    return grad_z, x.grad
''',
        "dot_data": '''def detached_grads(x):
    y = x * x
    u = y.data
    z = u * x
    z.sum().backward()
    grad_z = x.grad.detach().clone()
    x.grad.zero_()
    y.sum().backward()
    return (grad_z, x.grad)
''',
        "autograd_grad_first": '''def detached_grads(x):
    y = x * x
    z = y.detach() * x
    (grad_z,) = torch.autograd.grad(z.sum(), x)   # does not touch x.grad
    y.sum().backward()
    return grad_z, x.grad
''',
    },
}

WRONG = {
    "grid": {
        "int64": ('''def grid(rows, cols, device):
    return torch.arange(rows * cols, device=device).reshape(rows, cols)
''', ["int64", "dtype=torch.float32"]),
        "ignores_device": ('''def grid(rows, cols, device):
    return torch.arange(rows * cols, dtype=torch.float32).reshape(rows, cols)
''', ["meta", "device=device"]),
        "column_major": ('''def grid(rows, cols, device):
    return torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(cols, rows).T
''', ["down the columns", "row-major"]),
        "swapped_shape": ('''def grid(rows, cols, device):
    return torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(cols, rows)
''', ["swapped"]),
        "starts_at_one": ('''def grid(rows, cols, device):
    return torch.arange(1, rows * cols + 1, dtype=torch.float32, device=device).reshape(rows, cols)
''', ["starts at 0"]),
    },
    "column_view": {
        "clone": ('''def column_view(X, j):
    return X[:, j].clone()
''', ["copy, not a view"]),
        "row": ('''def column_view(X, j):
    return X[j]
''', ["row j"]),
        "keeps_dim": ('''def column_view(X, j):
    return X[:, j:j + 1]
''', ["j:j+1"]),
        "contiguous": ('''def column_view(X, j):
    return X[:, j].contiguous()
''', ["contiguous()", "copy"]),
        "stack": ('''def column_view(X, j):
    return torch.stack([row[j] for row in X])
''', ["copy"]),
        "view_only_when_contiguous": ('''def column_view(X, j):
    # every m-th entry of the flattened matrix: a view when X is contiguous, a copy otherwise
    m = X.shape[1]
    return X.reshape(-1)[j % m::m]
''', ["test_is_a_view", "non-contiguous X", "when X is not contiguous"]),
    },
    "axpy_": {
        "rebind": ('''def axpy_(a, x, y):
    y = y + a * x
''', ["rebinds", "y += a * x"]),
        "returns_new": ('''def axpy_(a, x, y):
    return y + a * x
''', ["did not change", "expected None"]),
        "no_no_grad": ('''def axpy_(a, x, y):
    y += a * x
''', ["leaf", "torch.no_grad()"]),
        "scales_x": ('''def axpy_(a, x, y):
    x *= a
    with torch.no_grad():
        y += x
''', ["modified its input x"]),
        "new_memory": ('''def axpy_(a, x, y):
    y.data = y.data + a * x
''', ["new memory"]),
    },
    "to_numpy": {
        "plain_numpy": ('''def to_numpy(x):
    return x.numpy()
''', ["requires grad", "detach"]),
        "via_list": ('''def to_numpy(x):
    return np.array(x.detach().cpu().tolist())
''', ["float64", "tolist"]),
        "copies": ('''def to_numpy(x):
    return x.detach().cpu().clone().numpy()
''', ["the array is a copy"]),
        "returns_tensor": ('''def to_numpy(x):
    return x.detach().cpu()
''', ["NumPy array"]),
        "python_lists": ('''def to_numpy(x):
    return x.tolist()
''', ["Python lists"]),
    },
    "grad_of_mean_square": {
        # Automatic differentiation reached through names the AST check cannot see (observed in the sandbox):
        # the backward of pow and mean runs plain mul and div, only the backward pass itself shows.
        "autograd_through_getattr": ('''def grad_of_mean_square(x):
    x = x.detach().clone().requires_grad_()
    (g,) = getattr(torch, "auto" + "grad").grad((3 * (x + 2) ** 2).mean(), x)
    return g
''', ["ran an autograd backward pass", "6 * (x + 2) / x.numel()"]),
        "backward_through_getattr": ('''def grad_of_mean_square(x):
    x = x.detach().clone().requires_grad_()
    getattr((3 * (x + 2) ** 2).mean(), "back" + "ward")()
    return x.grad
''', ["ran an autograd backward pass"]),
        "grad_fn_called_directly": ('''def grad_of_mean_square(x):
    z = x.detach().clone().requires_grad_()
    node, g = (3 * (z + 2) ** 2).mean().grad_fn, torch.ones((), dtype=x.dtype)
    while node is not None and node.next_functions:
        g = node(g)
        g = g[0] if isinstance(g, tuple) else g
        node = node.next_functions[0][0]
    return g
''', ["grad_fn", "by hand"]),
        "gradient_of_sum": ('''def grad_of_mean_square(x):
    return 6 * (x + 2)
''', ["gradient of the SUM", "x.numel()"]),
        "len_x": ('''def grad_of_mean_square(x):
    return 6 * (x + 2) / len(x)
''', ["len(x)"]),
        "missing_power_rule": ('''def grad_of_mean_square(x):
    return 3 * (x + 2) / x.numel()
''', ["power rule"]),
        "autograd": ('''def grad_of_mean_square(x):
    x = x.detach().clone().requires_grad_()
    (3 * (x + 2) ** 2).mean().backward()
    return x.grad
''', ["by hand", "backward"]),
        "in_place": ('''def grad_of_mean_square(x):
    x += 2
    return 6 * x / x.numel()
''', ["modified its input x"]),
    },
    "relu_grad": {
        "derivative_kernel_through_getattr": ('''def relu_grad(X):
    aten = getattr(getattr(torch, "op" + "s"), "aten")
    return getattr(aten, "threshold_" + "backward")(torch.ones_like(X), X, 0)
''', ["aten.threshold_backward", "by hand"]),
        "booleans": ('''def relu_grad(X):
    return X > 0
''', ["booleans"]),
        "float32": ('''def relu_grad(X):
    return (X > 0).float()
''', ["float32"]),
        "masks_in_place": ('''def relu_grad(X):
    X[X > 0] = 1
    X[X <= 0] = 0
    return X
''', ["modified its input X"]),
        "relu_itself": ('''def relu_grad(X):
    return X.clamp(min=0)
''', ["relu(X) itself"]),
        "autograd": ('''def relu_grad(X):
    X = X.detach().clone().requires_grad_()
    torch.relu(X).sum().backward()
    return X.grad
''', ["by hand"]),
    },
    "sigmoid_grad": {
        "func_grad_through_getattr": ('''def sigmoid_grad(X):
    grad = getattr(torch, "fu" + "nc").grad
    return torch.vmap(grad(torch.sigmoid))(X.reshape(-1)).reshape(X.shape)
''', ["ran an autograd backward pass", "s * (1 - s)"]),
        "naive_exp": ('''def sigmoid_grad(X):
    e = torch.exp(-X)
    return e / (1 + e) ** 2
''', ["NaN", "overflows"]),
        "exp_of_x": ('''def sigmoid_grad(X):
    e = torch.exp(X)                  # e^x / (1 + e^x)^2: inf / inf for x past 88 (709 in float64)
    return e / (1 + e) ** 2
''', ["NaN", "overflows"]),
        "tanh_formula": ('''def sigmoid_grad(X):
    return 1 - torch.sigmoid(X) ** 2
''', ["derivative of tanh"]),
        "float32": ('''def sigmoid_grad(X):
    s = torch.sigmoid(X.float())
    return s * (1 - s)
''', ["float32"]),
        "autograd": ('''def sigmoid_grad(X):
    X = X.detach().clone().requires_grad_()
    (g,) = torch.autograd.grad(torch.sigmoid(X).sum(), X)
    return g
''', ["by hand", "torch.autograd"]),
    },
    "tanh_grad": {
        "jvp_through_getattr": ('''def tanh_grad(X):
    jvp = getattr(getattr(torch, "fu" + "nc"), "j" + "vp")
    return jvp(torch.tanh, (X,), (torch.ones_like(X),))[1]
''', ["forward-mode automatic differentiation"]),
        "no_square": ('''def tanh_grad(X):
    return 1 - torch.tanh(X)
''', ["square tanh"]),
        "of_x": ('''def tanh_grad(X):
    return 1 - X ** 2
''', ["not X"]),
        "tanh_from_exp": ('''def tanh_grad(X):
    t = (torch.exp(X) - torch.exp(-X)) / (torch.exp(X) + torch.exp(-X))
    return 1 - t ** 2
''', ["NaN"]),
        "autograd_kernel": ('''def tanh_grad(X):
    return torch.ops.aten.tanh_backward(torch.ones_like(X), torch.tanh(X))
''', ["by hand"]),
    },
    "numerical_grad": {
        "autograd_through_getattr": ('''def numerical_grad(f, x, eps=1e-6):
    z = x.detach().clone().requires_grad_()
    return getattr(torch, "auto" + "grad").grad(f(z), z)[0]
''', ["ran an autograd backward pass", "central differences"]),
        "forward_difference": ('''def numerical_grad(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    xf, gf = x.view(-1), grad.view(-1)
    f0 = float(f(x))
    for i in range(xf.numel()):
        old = xf[i].item()
        xf[i] = old + eps
        gf[i] = (float(f(x)) - f0) / eps
        xf[i] = old
    return grad
''', ["one-sided", "central difference"]),
        "no_restore": ('''def numerical_grad(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    xf, gf = x.view(-1), grad.view(-1)
    for i in range(xf.numel()):
        xf[i] += eps
        fp = float(f(x))
        xf[i] -= 2 * eps
        fm = float(f(x))
        gf[i] = (fp - fm) / (2 * eps)
    return grad
''', ["put every entry back"]),
        "divides_by_eps": ('''def numerical_grad(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    xf, gf = x.view(-1), grad.view(-1)
    for i in range(xf.numel()):
        old = xf[i].item()
        xf[i] = old + eps
        fp = float(f(x))
        xf[i] = old - eps
        fm = float(f(x))
        xf[i] = old
        gf[i] = (fp - fm) / eps
    return grad
''', ["twice the central difference"]),
        "flat_result": ('''def numerical_grad(f, x, eps=1e-6):
    xf = x.view(-1)
    grad = torch.zeros(xf.numel(), dtype=x.dtype, device=x.device)
    for i in range(xf.numel()):
        old = xf[i].item()
        xf[i] = old + eps
        fp = float(f(x))
        xf[i] = old - eps
        fm = float(f(x))
        xf[i] = old
        grad[i] = (fp - fm) / (2 * eps)
    return grad
''', ["expected (3, 4)"]),
        "ignores_eps": ('''def numerical_grad(f, x, eps=1e-6):
    h = 1e-6
    grad = torch.zeros_like(x)
    xf, gf = x.view(-1), grad.view(-1)
    for i in range(xf.numel()):
        old = xf[i].item()
        xf[i] = old + h
        fp = float(f(x))
        xf[i] = old - h
        fm = float(f(x))
        xf[i] = old
        gf[i] = (fp - fm) / (2 * h)
    return grad
''', ["was ignored"]),
        "autograd": ('''def numerical_grad(f, x, eps=1e-6):
    x = x.detach().clone().requires_grad_()
    y = f(x)
    y.backward()
    return x.grad
''', ["without automatic differentiation"]),
    },
    "rel_error": {
        "no_floor": ('''def rel_error(a, b):
    return ((a - b).abs() / (a.abs() + b.abs())).max().item()
''', ["nan", "max(1e-8"]),
        "mean": ('''def rel_error(a, b):
    return ((a - b).abs() / torch.clamp(a.abs() + b.abs(), min=1e-8)).mean().item()
''', ["MEAN"]),
        "no_abs": ('''def rel_error(a, b):
    return ((a - b) / torch.clamp(a.abs() + b.abs(), min=1e-8)).max().item()
''', ["absolute value"]),
        "plus_eps": ('''def rel_error(a, b):
    return ((a - b).abs() / (a.abs() + b.abs() + 1e-8)).max().item()
''', ["floor"]),
        "tensor_result": ('''def rel_error(a, b):
    return ((a - b).abs() / torch.clamp(a.abs() + b.abs(), min=1e-8)).max()
''', ["Python float", ".item()"]),
    },
    "vector_backward": {
        "sum_instead_of_v": ('''def vector_backward(x, v):
    (x * x).sum().backward()
    return x.grad
''', ["y.backward(v)"]),
        "no_gradient_argument": ('''def vector_backward(x, v):
    y = x * x
    y.backward()
    return x.grad
''', ["scalar"]),
        "autograd_grad": ('''def vector_backward(x, v):
    (g,) = torch.autograd.grad(x * x, x, v)
    return g
''', ["is None", "torch.autograd.grad"]),
        "by_hand": ('''def vector_backward(x, v):
    return 2 * x.detach() * v
''', ["is None"]),
    },
    "detached_grads": {
        "no_detach": ('''def detached_grads(x):
    y = x * x
    z = y * x
    z.sum().backward()
    grad_z = x.grad.clone()
    x.grad.zero_()
    y.sum().backward()
    return grad_z, x.grad
''', ["not detached", "y.detach()"]),
        "no_zero": ('''def detached_grads(x):
    y = x * x
    z = y.detach() * x
    z.sum().backward()
    grad_z = x.grad.clone()
    y.sum().backward()
    return grad_z, x.grad
''', ["zero_()"]),
        "no_clone": ('''def detached_grads(x):
    y = x * x
    z = y.detach() * x
    z.sum().backward()
    grad_z = x.grad
    x.grad.zero_()
    y.sum().backward()
    return grad_z, x.grad
''', ["x.grad.clone()"]),
        "by_hand": ('''def detached_grads(x):
    x = x.detach()
    return x * x, 2 * x
''', ["is None"]),
    },
}
