"""Corpus for the ``mlp`` assignment: correct-but-unusual answers (full marks on their exercise) and
typical mistakes (lose points there, with a message naming the mistake).  See tests/test_corpus.py."""

CORRECT = {
    "relu": {
        "where": '''def relu(X):
    return torch.where(X > 0, X, torch.zeros_like(X))
''',
        "mask_multiply": '''def relu(X):
    return X * (X > 0).to(X.dtype)
''',
        "clamp": '''def relu(X):
    return X.clamp(min=0)
''',
        "abs_trick": '''def relu(X):
    return (X + X.abs()) / 2
''',
    },
    "sigmoid": {
        "clamped_naive": '''def sigmoid(X):
    # exp(80) is finite in float32, and sigmoid is 0 or 1 to float32 precision beyond |x| = 80
    return 1 / (1 + torch.exp(-X.clamp(-80, 80)))
''',
        "exp_minus_abs": '''def sigmoid(X):
    z = torch.exp(-X.abs())
    return torch.where(X >= 0, 1 / (1 + z), z / (1 + z))
''',
        "via_own_tanh": '''def sigmoid(X):
    return (1 + tanh(X / 2)) / 2
''',
        "logaddexp": '''def sigmoid(X):
    return torch.exp(-torch.logaddexp(torch.zeros_like(X), -X))
''',
        # Large inputs (docs/tolerances.md): another stable formulation, full marks up to |x| = 1e4.
        "softplus_by_hand": '''def sigmoid(X):
    """exp(-softplus(-x)), the softplus written stably: max(z, 0) + log1p(exp(-|z|))."""
    z = -X
    softplus = torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs()))
    return torch.exp(-softplus)
''',
    },
    "tanh": {
        "via_own_sigmoid": '''def tanh(X):
    return 2 * sigmoid(2 * X) - 1
''',
        "abs_sign": '''def tanh(X):
    e = torch.exp(-2 * X.abs())
    return torch.sign(X) * (1 - e) / (1 + e)
''',
        "expm1": '''def tanh(X):
    e = torch.expm1(-2 * X.abs())
    return -torch.sign(X) * e / (e + 2)
''',
        "difference_of_sigmoids": '''def tanh(X):
    return sigmoid(2 * X) - sigmoid(-2 * X)
''',
        "naive_on_clamped_input": '''def tanh(X):
    """tanh(10) is 1 to float32 precision (1 - 4e-9), so clamping first changes nothing there, and
    the textbook formula never sees an exp larger than e^10."""
    X = X.clamp(-10.0, 10.0)
    return (torch.exp(X) - torch.exp(-X)) / (torch.exp(X) + torch.exp(-X))
''',
    },
    "mlp_forward": {
        "flatten_addmm": '''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    H = relu(torch.addmm(b1, X.flatten(start_dim=1), W1))
    return torch.addmm(b2, H, W2)
''',
        "len_reshape_inline_relu": '''def mlp_forward(X, params):
    X = X.reshape(len(X), -1)
    H = (X @ params[0] + params[1]).clamp(min=0)
    return torch.matmul(H, params[2]) + params[3]
''',
        "explicit_shape": '''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    flat = X.reshape(X.shape[0], W1.shape[0])
    hidden = relu(flat @ W1 + b1)
    return hidden @ W2 + b2
''',
    },
    "init_mlp_params": {
        "torch_normal": '''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = torch.normal(0, 0.01, size=(num_inputs, num_hiddens), requires_grad=True)
    b1 = torch.zeros(num_hiddens, requires_grad=True)
    W2 = torch.normal(0, 0.01, size=(num_hiddens, num_outputs), requires_grad=True)
    b2 = torch.zeros(num_outputs, requires_grad=True)
    return [W1, b1, W2, b2]
''',
        "requires_grad_after_scaling": '''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    sizes = [(num_inputs, num_hiddens), (num_hiddens, num_outputs)]
    params = []
    for fan_in, fan_out in sizes:
        params.append((torch.randn(fan_in, fan_out) * 0.01).requires_grad_())
        params.append(torch.zeros(fan_out).requires_grad_())
    return tuple(params)
''',
        "init_normal_": '''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = torch.empty(num_inputs, num_hiddens)
    W2 = torch.empty(num_hiddens, num_outputs)
    nn.init.normal_(W1, mean=0.0, std=0.01)
    nn.init.normal_(W2, mean=0.0, std=0.01)
    return [nn.Parameter(W1), nn.Parameter(torch.zeros(num_hiddens)),
            nn.Parameter(W2), nn.Parameter(torch.zeros(num_outputs))]
''',
    },
    "train_mlp": {
        "inline_forward_evaluates_each_epoch": '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    # the forward pass written out (no mlp_forward call), and a full-data loss printed every epoch
    # (computed with gradients on, never back-propagated)
    W1, b1, W2, b2 = [p.detach().to(X.device).requires_grad_()
                      for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    params = [W1, b1, W2, b2]
    X = X.reshape(len(X), -1)
    for epoch in range(num_epochs):
        for idx in torch.randperm(len(X), device=X.device).split(batch_size):
            H = torch.clamp(X[idx] @ W1 + b1, min=0)
            l = nn.functional.cross_entropy(H @ W2 + b2, y[idx])
            l.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
        epoch_loss = nn.functional.cross_entropy(mlp_forward(X, params), y)
    return params
''',
        "own_sgd_sum_loss": '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    # the book's from-scratch way: per-example losses, summed, and an sgd that divides by the batch size
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss(reduction="none")
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            l = loss(mlp_forward(X[idx], params), y[idx])
            l.sum().backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad / len(idx)
                    p.grad.zero_()
    return params
''',
        "dataloader": '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    from torch.utils.data import DataLoader, TensorDataset
    W1, b1, W2, b2 = init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)
    params = [nn.Parameter(p.detach().to(X.device)) for p in (W1, b1, W2, b2)]
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    updater = torch.optim.SGD(params, lr=lr)
    loss = nn.CrossEntropyLoss(reduction="none")
    for epoch in range(num_epochs):
        for X_batch, y_batch in loader:
            l = loss(mlp_forward(X_batch, params), y_batch)
            updater.zero_grad()
            l.mean().backward()
            updater.step()
    return params
''',
        "functional_ce_set_to_none": '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    num_outputs = len(torch.unique(y))
    params = init_mlp_params(X.reshape(len(X), -1).shape[1], num_hiddens, num_outputs)
    params = [p.detach().to(X.device).requires_grad_(True) for p in params]
    n = X.shape[0]
    for epoch in range(num_epochs):
        perm = torch.randperm(n).to(X.device)
        for start in range(0, n, batch_size):
            batch = perm[start:start + batch_size]
            l = torch.nn.functional.cross_entropy(mlp_forward(X[batch], params), y[batch])
            l.backward()
            with torch.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
                    p.grad = None
    return params
''',
        "python_random_order": '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    # a new order every epoch from Python's random module (seeded by the grader too)
    import random
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    indices = list(range(len(X)))
    for epoch in range(num_epochs):
        random.shuffle(indices)
        for i in range(0, len(indices), batch_size):
            idx = torch.tensor(indices[i:i + batch_size], device=X.device)
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''',
    },
    "build_concise_mlp": {
        "ordered_dict_zero_bias": '''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    from collections import OrderedDict
    net = nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("hidden", nn.Linear(num_inputs, num_hiddens)),
        ("relu", nn.ReLU()),
        ("output", nn.Linear(num_hiddens, num_outputs)),
    ]))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            nn.init.zeros_(m.bias)
    return net
''',
        "add_module_no_grad": '''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    net = nn.Sequential()
    net.add_module("flatten", nn.Flatten())
    net.add_module("linear1", nn.Linear(num_inputs, num_hiddens))
    net.add_module("act", nn.ReLU())
    net.add_module("linear2", nn.Linear(num_hiddens, num_outputs))
    with torch.no_grad():
        net[1].weight.normal_(0, 0.01)
        net[3].weight.normal_(0, 0.01)
    return net
''',
    },
    "train_concise_mlp": {
        "dataloader_book_style": '''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    from torch.utils.data import DataLoader, TensorDataset
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    data_iter = DataLoader(TensorDataset(X, y), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        net.train()
        for X_batch, y_batch in data_iter:
            l = loss(net(X_batch), y_batch)
            trainer.zero_grad()
            l.mean().backward()
            trainer.step()
''',
        "manual_update": '''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(num_epochs):
        perm = torch.randperm(X.shape[0], device=X.device)
        for chunk in torch.split(perm, batch_size):
            net.zero_grad()
            loss_fn(net(X[chunk]), y[chunk]).backward()
            with torch.no_grad():
                for p in net.parameters():
                    p -= lr * p.grad
    return net
''',
    },
}

WRONG = {
    "relu": {
        # Built-in activation kernels reached through names the AST check cannot see (observed in the sandbox).
        "computed_name": ('''def relu(X):
    return getattr(torch, "re" + "lu")(X)
''', ["aten.relu", "elementary tensor operations"]),
        "hardtanh_through_computed_nn": ('''def relu(X):
    return getattr(torch, "n" + "n").functional.hardtanh(X, 0.0, float("inf"))
''', ["aten.hardtanh"]),
        "in_place": ('''def relu(X):
    X[X < 0] = 0
    return X
''', ["in place"]),
        "derivative": ('''def relu(X):
    return (X > 0).to(X.dtype)
''', ["derivative"]),
        "abs": ('''def relu(X):
    return X.abs()
''', ["negative entries"]),
        "builtin": ('''def relu(X):
    return torch.relu(X)
''', ["torch.relu"]),
        "data_mask": ('''def relu(X):
    out = X.clone()
    out.data[out.data < 0] = 0
    return out
''', ["gradient"]),
    },
    "sigmoid": {
        "expit_computed_name": ('''def sigmoid(X):
    return getattr(torch.special, "ex" + "pit")(X)
''', ["aten.sigmoid", "reached through some other name"]),
        "exp_ratio": ('''def sigmoid(X):
    return torch.exp(X) / (1 + torch.exp(X))
''', ["NaN", "overflow"]),
        "naive_book": ('''def sigmoid(X):
    return 1 / (1 + torch.exp(-X))
''', ["gradient", "NaN", "0 * inf"]),
        "where_unclamped": ('''def sigmoid(X):
    return torch.where(X >= 0, 1 / (1 + torch.exp(-X)), torch.exp(X) / (1 + torch.exp(X)))
''', ["gradient", "both"]),
        "sign_error": ('''def sigmoid(X):
    return 1 / (1 + torch.exp(X))
''', ["sigmoid(-x)"]),
        "builtin": ('''def sigmoid(X):
    return torch.sigmoid(X)
''', ["torch.sigmoid"]),
    },
    "tanh": {
        "computed_method": ('''def tanh(X):
    return getattr(X, "ta" + "nh")()
''', ["aten.tanh"]),
        "naive": ('''def tanh(X):
    return (torch.exp(X) - torch.exp(-X)) / (torch.exp(X) + torch.exp(-X))
''', ["NaN", "overflow"]),
        "half_angle": ('''def tanh(X):
    return 2 * sigmoid(X) - 1
''', ["tanh(x / 2)"]),
        "naive_sigmoid_inside": ('''def tanh(X):
    return 2 / (1 + torch.exp(-2 * X)) - 1
''', ["gradient", "NaN"]),
        "builtin": ('''def tanh(X):
    return X.tanh()
''', ["Tensor.tanh"]),
        "float32_inside": ('''def tanh(X):
    e = torch.exp(-2 * X.abs().float())
    return torch.sign(X) * (1 - e) / (1 + e)
''', ["float32 precision"]),
    },
    "mlp_forward": {
        "computed_relu": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    H = getattr(torch, "re" + "lu")(X.reshape(X.shape[0], -1) @ W1 + b1)
    return H @ W2 + b2
''', ["aten.relu", "your own relu"]),
        "hard_coded_784": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    X = X.reshape((-1, 784))
    H = relu(X @ W1 + b1)
    return H @ W2 + b2
''', ["784", "hard-coded"]),
        "batch_mixed": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    X = X.reshape(W1.shape[0], -1)
    return relu(X.T @ W1 + b1) @ W2 + b2
''', ["mix different examples"]),
        "reshape_to_inputs_first": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    X = X.reshape(W1.shape[0], -1)
    return relu(X @ W1 + b1) @ W2 + b2
''', ["batch dimension"]),
        "no_output_bias": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    H = relu(X.reshape(-1, W1.shape[0]) @ W1 + b1)
    return H @ W2
''', ["b2"]),
        "softmax_output": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    O = relu(X.reshape(-1, W1.shape[0]) @ W1 + b1) @ W2 + b2
    O_exp = torch.exp(O - O.max(dim=1, keepdim=True).values)
    return O_exp / O_exp.sum(dim=1, keepdim=True)
''', ["softmax", "logits"]),
        "torch_relu": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = params
    H = torch.relu(X.reshape(-1, W1.shape[0]) @ W1 + b1)
    return H @ W2 + b2
''', ["torch.relu"]),
        "detached_params": ('''def mlp_forward(X, params):
    W1, b1, W2, b2 = [p.detach() for p in params]
    H = relu(X.reshape(-1, W1.shape[0]) @ W1 + b1)
    return H @ W2 + b2
''', ["no gradient reached"]),
    },
    "init_mlp_params": {
        "non_leaf": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01
    b1 = torch.zeros(num_hiddens, requires_grad=True)
    W2 = torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01
    b2 = torch.zeros(num_outputs, requires_grad=True)
    return [W1, b1, W2, b2]
''', ["leaf"]),
        "std_one": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens))
    b1 = nn.Parameter(torch.zeros(num_hiddens))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs))
    b2 = nn.Parameter(torch.zeros(num_outputs))
    return [W1, b1, W2, b2]
''', ["standard deviation", "scale it by 0.01"]),
        "uniform": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = nn.Parameter(torch.rand(num_inputs, num_hiddens) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens))
    W2 = nn.Parameter(torch.rand(num_hiddens, num_outputs) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs))
    return [W1, b1, W2, b2]
''', ["torch.rand"]),
        "transposed": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = nn.Parameter(torch.randn(num_hiddens, num_inputs) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens))
    W2 = nn.Parameter(torch.randn(num_outputs, num_hiddens) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs))
    return [W1, b1, W2, b2]
''', ["shape", "(num_inputs, num_hiddens)"]),
        "random_biases": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)
    b1 = nn.Parameter(torch.randn(num_hiddens) * 0.01)
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * 0.01)
    b2 = nn.Parameter(torch.randn(num_outputs) * 0.01)
    return [W1, b1, W2, b2]
''', ["zeros"]),
        "reseeds": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    torch.manual_seed(0)  # "for reproducibility": every call now draws the same weights
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs))
    return [W1, b1, W2, b2]
''', ["test_does_not_reseed", "torch.manual_seed inside"]),
        "no_requires_grad": ('''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    W1 = torch.randn(num_inputs, num_hiddens) * 0.01
    b1 = torch.zeros(num_hiddens)
    W2 = torch.randn(num_hiddens, num_outputs) * 0.01
    b2 = torch.zeros(num_outputs)
    return [W1, b1, W2, b2]
''', ["require grad"]),
    },
    "train_mlp": {
        "full_batch": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    # batch_size ignored: one gradient step per epoch on all the examples
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        updater.zero_grad()
        loss(mlp_forward(X, params), y).backward()
        updater.step()
    return params
''', ["every step used all"]),
        "no_zero_grad": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["zero the gradients"]),
        "sum_loss_with_optimizer": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss(reduction="sum")
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["sum"]),
        "hard_coded_sizes": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    num_inputs, num_outputs = 64, 10
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(num_inputs, num_hiddens, num_outputs)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["hard-code"]),
        "returns_fresh_params": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    num_inputs, num_outputs = X[0].numel(), int(y.max()) + 1
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(num_inputs, num_hiddens, num_outputs)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return [p.to(X.device) for p in init_mlp_params(num_inputs, num_hiddens, num_outputs)]
''', ["return the very tensors you trained"]),
        "divides_twice": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad / batch_size
                    p.grad.zero_()
    return params
''', ["divides by batch_size"]),
        "hard_coded_lr": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=0.5)  # the lr argument is never used
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["test_uses_lr", "do not depend on the learning rate"]),
        "never_shuffles": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        for i in range(0, len(X), batch_size):
            updater.zero_grad()
            loss(mlp_forward(X[i:i + batch_size], params), y[i:i + batch_size]).backward()
            updater.step()
    return params
''', ["test_new_random_order_every_epoch", "stored order"]),
        "shuffles_once": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    order = torch.randperm(len(X), device=X.device)  # drawn once: every epoch repeats it
    for epoch in range(num_epochs):
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["test_new_random_order_every_epoch", "EVERY epoch"]),
        "reseeds": ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    torch.manual_seed(42)  # "reproducible": every call now starts from the same parameters
    params = [p.detach().to(X.device).requires_grad_()
              for p in init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)]
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            updater.zero_grad()
            loss(mlp_forward(X[idx], params), y[idx]).backward()
            updater.step()
    return params
''', ["test_does_not_reseed", "torch.manual_seed inside"]),
    },
    "build_concise_mlp": {
        "no_flatten": ('''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    net = nn.Sequential(nn.Linear(num_inputs, num_hiddens), nn.ReLU(), nn.Linear(num_hiddens, num_outputs))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    return net
''', ["Flatten"]),
        "normal_mean_001": ('''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
                        nn.Linear(num_hiddens, num_outputs))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, 0.01)

    net.apply(init_weights)
    return net
''', ["MEAN", "std=0.01"]),
        "no_init": ('''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
                         nn.Linear(num_hiddens, num_outputs))
''', ["standard deviation"]),
        "softmax_layer": ('''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
                        nn.Linear(num_hiddens, num_outputs), nn.Softmax(dim=1))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    return net
''', ["no softmax layer"]),
        "no_relu": ('''def build_concise_mlp(num_inputs, num_hiddens, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_hiddens), nn.Sigmoid(),
                        nn.Linear(num_hiddens, num_outputs))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    return net
''', ["expected nn.ReLU"]),
    },
    "train_concise_mlp": {
        "drop_last": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    from torch.utils.data import DataLoader, TensorDataset
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        for Xb, yb in DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, drop_last=True):
            trainer.zero_grad()
            loss(net(Xb), yb).backward()
            trainer.step()
''', ["last, smaller minibatch"]),
        "no_zero_grad": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
''', ["zero_grad"]),
        "trains_a_new_net": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    net = build_concise_mlp(X[0].numel(), 32, int(y.max()) + 1).to(X.device)
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            trainer.zero_grad()
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
    return net
''', ["did not change"]),
        "no_step": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            trainer.zero_grad()
            loss(net(X[idx]), y[idx]).backward()
''', ["did not change", "trainer.step()"]),
        "hard_coded_lr": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)  # the lr argument is never used
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            trainer.zero_grad()
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
''', ["test_uses_lr", "learning rate 0.5, not with the lr=0.2"]),
        "never_shuffles": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    from torch.utils.data import DataLoader, TensorDataset
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X, y), batch_size)  # shuffle=False by default
    for epoch in range(num_epochs):
        for X_batch, y_batch in loader:
            trainer.zero_grad()
            loss(net(X_batch), y_batch).backward()
            trainer.step()
''', ["test_new_random_order_every_epoch", "stored order"]),
        "reseeds": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    torch.manual_seed(0)  # every run now takes the same minibatches
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            trainer.zero_grad()
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
''', ["test_does_not_reseed", "torch.manual_seed inside"]),
        "sum_loss": ('''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss(reduction="sum")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            trainer.zero_grad()
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
''', ["held-out"]),
    },
}

# ----------------------------------------------------------------------------- device handling
# Right by accident when every tensor is on the CPU; without a GPU the meta device (the grader's
# stand-in for one, docs/devices.md) tells them apart.

CORRECT["train_mlp"]["parameters_moved_in_place"] = '''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    # init_mlp_params' nn.Parameter objects themselves, their data moved to X's device
    params = init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)
    for p in params:
        p.data = p.data.to(X.device)
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        for idx in torch.randperm(len(X)).split(batch_size):
            l = nn.functional.cross_entropy(mlp_forward(X[idx], params), y[idx])
            updater.zero_grad()
            l.backward()
            updater.step()
    return params
'''

WRONG["train_mlp"]["parameters_left_on_the_cpu"] = ('''def train_mlp(X, y, num_hiddens, lr, num_epochs, batch_size):
    params = init_mlp_params(X[0].numel(), num_hiddens, int(y.max()) + 1)
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(params, lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            l = loss(mlp_forward(X[idx], params), y[idx])
            updater.zero_grad()
            l.backward()
            updater.step()
    return params
''', ["every tensor must live on the device"])
