"""Corpus for linear_regression: correct-but-unusual answers (full marks) and typical mistakes (lose
points, with a message naming the mistake).  See tests/test_corpus.py."""

CORRECT = {
    "synthetic_data": {
        "randn_and_randn_like": '''
def synthetic_data(w, b, num_examples):
    X = torch.randn(num_examples, w.shape[0], dtype=w.dtype, device=w.device)
    y = (X @ w + b).reshape(-1, 1)
    return X, y + 0.01 * torch.randn_like(y)
''',
        "column_weights": '''
def synthetic_data(w, b, num_examples):
    """Multiply by w as a column, so y is (n, 1) from the start."""
    X = torch.normal(0, 1, size=(num_examples, len(w))).to(w)
    y = torch.mm(X, w.reshape(-1, 1)) + b
    noise = torch.zeros_like(y).normal_(0, 0.01)
    return X, y + noise
''',
        "returns_list": '''
def synthetic_data(w, b, num_examples):
    X = torch.empty((num_examples, len(w)), dtype=w.dtype, device=w.device).normal_()
    y = torch.matmul(X, w) + b + torch.normal(0.0, 0.01, (num_examples,), dtype=w.dtype, device=w.device)
    return [X, y.unsqueeze(1)]
''',
    },
    "data_iter": {
        "randperm_slices": '''
def data_iter(batch_size, features, labels):
    n = features.shape[0]
    perm = torch.randperm(n, device=features.device)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        yield features[idx], labels[idx]
''',
        "dataloader": '''
def data_iter(batch_size, features, labels):
    dataset = data.TensorDataset(features, labels)
    return data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
''',
        "returns_list": '''
def data_iter(batch_size, features, labels):
    """Accepted: a list of all the minibatches of one epoch."""
    indices = list(range(len(features)))
    random.shuffle(indices)
    batches = []
    while indices:
        chunk, indices = indices[:batch_size], indices[batch_size:]
        idx = torch.tensor(chunk, device=features.device)
        batches.append((features[idx], labels[idx]))
    return batches
''',
        "split_permuted_copies": '''
def data_iter(batch_size, features, labels):
    perm = torch.randperm(len(features))
    X_all, y_all = features[perm.to(features.device)], labels[perm.to(labels.device)]
    yield from zip(X_all.split(batch_size), y_all.split(batch_size))
''',
    },
    "linreg": {
        "mm_method": '''
def linreg(X, w, b):
    return X.mm(w) + b
''',
        "addmm": '''
def linreg(X, w, b):
    return torch.addmm(b, X, w)
''',
        "einsum": '''
def linreg(X, w, b):
    return torch.einsum("nd,dk->nk", X, w).add(b)
''',
    },
    "squared_loss": {
        "view_as_half_pow": '''
def squared_loss(y_hat, y):
    return 0.5 * (y_hat - y.view_as(y_hat)).pow(2)
''',
        "reshape_column_product": '''
def squared_loss(y_hat, y):
    diff = y_hat - y.reshape(-1, 1)
    return diff * diff / 2
''',
    },
    "sgd": {
        "sub_and_none": '''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.sub_(p.grad, alpha=lr / batch_size)
                p.grad = None
''',
        "decorator_data": '''
@torch.no_grad()
def sgd(params, lr, batch_size):
    for param in params:
        if param.grad is None:
            continue
        param.data.add_(-lr * param.grad / batch_size)
        param.grad.zero_()
''',
    },
    "train": {
        "zero_init_actual_batch_len": '''
def train(features, labels, lr, num_epochs, batch_size):
    d = features.shape[1]
    w = torch.zeros((d, 1), dtype=features.dtype, device=features.device, requires_grad=True)
    b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    for _ in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            loss = squared_loss(linreg(X, w, b), y).sum()
            loss.backward()
            sgd((w, b), lr, len(X))
    return w.detach(), b.detach()
''',
        "aliases_with_eval": '''
def train(features, labels, lr, num_epochs, batch_size):
    """Aliases for the model and loss, as the book does; prints the loss after every epoch."""
    n, d = features.shape
    w = (0.01 * torch.randn(d, 1, dtype=features.dtype, device=features.device)).requires_grad_()
    b = features.new_zeros(1).requires_grad_()
    net, loss = linreg, squared_loss
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")
    return w, b
''',
    },
    "build_concise_model": {
        "book_data_fill": '''
def build_concise_model(num_inputs):
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    return net
''',
        "bare_linear_no_grad": '''
def build_concise_model(num_inputs):
    """A bare nn.Linear is accepted as well."""
    layer = nn.Linear(num_inputs, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(1, num_inputs) * 0.01)
        layer.bias.zero_()
    return layer
''',
        "apply_init": '''
def build_concise_model(num_inputs):
    def init(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)
            nn.init.constant_(m.bias, 0.0)
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    net.apply(init)
    return net
''',
    },
    "train_concise": {
        "own_data_iter_functional_loss": '''
def train_concise(features, labels, lr, num_epochs, batch_size):
    import torch.nn.functional as F
    net = build_concise_model(features.shape[1]).to(features.device)
    trainer = torch.optim.SGD(net.parameters(), lr)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            trainer.zero_grad()
            F.mse_loss(net(X), y).backward()
            trainer.step()
    return net[0].weight.data.clone(), net[0].bias.data.clone()
''',
        "load_array_helper_set_to_none": '''
def load_array(data_arrays, batch_size, is_train=True):
    """The book's load_array."""
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


def train_concise(features, labels, lr, num_epochs, batch_size):
    from torch.optim import SGD
    net = build_concise_model(features.shape[1])
    net.to(features.device)
    loss = nn.MSELoss(reduction="mean")
    trainer = SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        for X, y in load_array((features, labels), batch_size):
            l = loss(net(X), y)
            l.backward()
            trainer.step()
            trainer.zero_grad(set_to_none=True)
    w, b = net[0].weight, net[0].bias
    return w.detach().reshape(-1), b.detach()
''',
    },
}

WRONG = {
    "synthetic_data": {
        "no_reshape": ('''
def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y
''', ["shape (num_examples, 1)", "reshape"]),
        "no_noise": ('''
def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    return X, y.reshape((-1, 1))
''', ["noise is missing"]),
        "noise_std_one": ('''
def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 1, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))
''', ["standard deviation 1", "0.01"]),
        "no_bias": ('''
def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w)
    y += torch.normal(0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))
''', ["bias b is missing"]),
        "uniform_features": ('''
def synthetic_data(w, b, num_examples):
    X = torch.rand((num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))
''', ["uniform", "standard normal"]),
        "reseeds": ('''
def synthetic_data(w, b, num_examples):
    torch.manual_seed(0)  # every call now returns the same data set
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype, device=w.device)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))
''', ["test_new_draws_every_call", "torch.manual_seed inside"]),
        "book_float32_cpu": ('''
def synthetic_data(w, b, num_examples):
    """The book's version: X always float32 (and on the CPU)."""
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w.float()) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))
''', ["dtype"]),
    },
    "data_iter": {
        "drops_last_batch": ('''
def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    random.shuffle(indices)
    for i in range(0, num_examples - batch_size + 1, batch_size):
        batch_indices = torch.tensor(indices[i: i + batch_size], device=features.device)
        yield features[batch_indices], labels[batch_indices]
''', ["last, smaller minibatch", "dropped"]),
        "not_shuffled": ('''
def data_iter(batch_size, features, labels):
    num_examples = len(features)
    for i in range(0, num_examples, batch_size):
        yield features[i:i + batch_size], labels[i:i + batch_size]
''', ["original order", "shuffle"]),
        "shuffles_separately": ('''
def data_iter(batch_size, features, labels):
    n = len(features)
    f_idx = torch.randperm(n, device=features.device)
    l_idx = torch.randperm(n, device=features.device)
    for i in range(0, n, batch_size):
        yield features[f_idx[i:i + batch_size]], labels[l_idx[i:i + batch_size]]
''', ["same indices", "pairs"]),
        "with_replacement": ('''
def data_iter(batch_size, features, labels):
    n = len(features)
    for i in range(0, n, batch_size):
        idx = torch.randint(0, n, (min(batch_size, n - i),), device=features.device)
        yield features[idx], labels[idx]
''', ["exactly once", "randint"]),
        "seeds_inside": ('''
def data_iter(batch_size, features, labels):
    random.seed(0)
    indices = list(range(len(features)))
    random.shuffle(indices)
    for i in range(0, len(indices), batch_size):
        idx = torch.tensor(indices[i:i + batch_size], device=features.device)
        yield features[idx], labels[idx]
''', ["same order", "seed"]),
        "empty_last_batch": ('''
def data_iter(batch_size, features, labels):
    n = len(features)
    perm = torch.randperm(n, device=features.device)
    for i in range(0, n + 1, batch_size):
        idx = perm[i:i + batch_size]
        yield features[idx], labels[idx]
''', ["empty"]),
        "shuffles_batch_order_only": ('''
def data_iter(batch_size, features, labels):
    starts = list(range(0, len(features), batch_size))
    random.shuffle(starts)
    for i in starts:
        yield features[i:i + batch_size], labels[i:i + batch_size]
''', ["consecutive"]),
    },
    "linreg": {
        "no_bias": ('''
def linreg(X, w, b):
    return torch.matmul(X, w)
''', ["bias b is missing"]),
        "elementwise": ('''
def linreg(X, w, b):
    return X * w + b
''', ["element by element", "X @ w"]),
        "detached": ('''
def linreg(X, w, b):
    return torch.matmul(X, w.detach()) + b
''', ["no gradient reached w"]),
        "flattened_w": ('''
def linreg(X, w, b):
    return X @ w.reshape(-1) + b
''', ["shape (n, 1)"]),
    },
    "squared_loss": {
        "no_reshape": ('''
def squared_loss(y_hat, y):
    return (y_hat - y) ** 2 / 2
''', ["reshape y", "broadcasting"]),
        "mean": ('''
def squared_loss(y_hat, y):
    return ((y_hat - y.reshape(y_hat.shape)) ** 2 / 2).mean()
''', ["one loss per example"]),
        "no_half": ('''
def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2
''', ["/ 2"]),
        "absolute": ('''
def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)).abs() / 2
''', ["square the difference"]),
    },
    "sgd": {
        "no_batch_size": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param -= lr * param.grad
            param.grad.zero_()
''', ["batch_size times too large"]),
        "rebinds": ('''
def sgd(params, lr, batch_size):
    for param in params:
        if param.grad is None:
            continue
        param = param - lr * param.grad / batch_size
''', ["in place"]),
        "keeps_gradients": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param -= lr * param.grad / batch_size
''', ["zero"]),
        "break_instead_of_continue": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                break
            param -= lr * param.grad / batch_size
            param.grad.zero_()
''', ["break"]),
        "none_grad_crashes": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()
''', ["None"]),
    },
    "train": {
        "optimizer_through_getattr": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), dtype=features.dtype, device=features.device,
                     requires_grad=True)
    b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    opt = getattr(torch, "op" + "tim").SGD([w, b], lr=lr)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            opt.zero_grad()
            (l.sum() / batch_size).backward()
            opt.step()
    assert sgd  # names sgd, for the check that train uses it
    return w, b
''', ["a torch.optim optimizer", "your own sgd"]),
        "own_minibatches_no_data_iter": ('''
def train(features, labels, lr, num_epochs, batch_size):
    """Own minibatching instead of data_iter (here with a fresh order every epoch); prints the loss after
    every epoch, as the book does."""
    n, d = features.shape
    w = (0.01 * torch.randn(d, 1, dtype=features.dtype, device=features.device)).requires_grad_()
    b = features.new_zeros(1).requires_grad_()
    net, loss = linreg, squared_loss
    for epoch in range(num_epochs):
        order = torch.randperm(n, device=features.device)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            l = loss(net(features[idx], w, b), labels[idx])
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")
    return w, b
''', ["test_from_scratch", "does not use your own data_iter"]),
        "reseeds": ('''
def train(features, labels, lr, num_epochs, batch_size):
    torch.manual_seed(0)  # "reproducible": every run now starts from the same w
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), dtype=features.dtype, device=features.device,
                     requires_grad=True)
    b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["test_does_not_reseed", "torch.manual_seed inside"]),
        "closed_form_through_getattr": ('''
def train(features, labels, lr, num_epochs, batch_size):
    """Least squares solved in closed form through computed names; data_iter, linreg, squared_loss and
    sgd only make an appearance."""
    assert data_iter  # named, for the check that train uses it
    ones = torch.ones(len(features), 1, dtype=features.dtype, device=features.device)
    solve = getattr(getattr(torch, "lin" + "alg"), "lst" + "sq")
    solution = solve(torch.cat([features, ones], 1), labels).solution
    w = solution[:-1].clone().requires_grad_()
    b = solution[-1:].reshape(1).clone().requires_grad_()
    squared_loss(linreg(features, w, b), labels).sum().backward()
    sgd([w, b], 0.0, batch_size)
    return w, b
''', ["aten.linalg_lstsq", "closed form"]),
        "mean_loss_twice_averaged": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), device=features.device, requires_grad=True)
    b = torch.zeros(1, device=features.device, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.mean().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["did not recover", "too slowly"]),
        "book_hard_coded_two_features": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["features.shape[1]"]),
        "ignores_num_epochs": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), device=features.device, requires_grad=True)
    b = torch.zeros(1, device=features.device, requires_grad=True)
    for epoch in range(3):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["range(num_epochs)"]),
        "book_float32_parameters": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), device=features.device, requires_grad=True)
    b = torch.zeros(1, device=features.device, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["dtype"]),
        "uses_torch_optim": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), device=features.device, requires_grad=True)
    b = torch.zeros(1, device=features.device, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            opt.zero_grad()
            ((X @ w + b - y) ** 2 / 2).mean().backward()
            opt.step()
    return w, b
''', ["torch.optim"]),
        "no_requires_grad": ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), device=features.device)
    b = torch.zeros(1, device=features.device)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["does not require grad"]),
    },
    "build_concise_model": {
        "default_init": ('''
def build_concise_model(num_inputs):
    return nn.Sequential(nn.Linear(num_inputs, 1))
''', ["default", "0.01"]),
        "bias_not_zeroed": ('''
def build_concise_model(num_inputs):
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    net[0].weight.data.normal_(0, 0.01)
    return net
''', ["bias", "expected 0"]),
        "hard_coded_two_inputs": ('''
def build_concise_model(num_inputs):
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    return net
''', ["num_inputs"]),
        "reseeds": ('''
def build_concise_model(num_inputs):
    torch.manual_seed(0)  # every model now starts from the same weight
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    return net
''', ["test_new_draws_every_call", "torch.manual_seed inside"]),
        "extra_relu": ('''
def build_concise_model(num_inputs):
    net = nn.Sequential(nn.Linear(num_inputs, 1), nn.ReLU())
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    return net
''', ["no activation"]),
    },
    "train_concise": {
        "sum_reduction": ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = build_concise_model(features.shape[1]).to(features.device)
    loss = nn.MSELoss(reduction="sum")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return net[0].weight.data, net[0].bias.data
''', ["gradient descent", "mean reduction"]),
        "no_zero_grad": ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = build_concise_model(features.shape[1]).to(features.device)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            l.backward()
            trainer.step()
    return net[0].weight.data, net[0].bias.data
''', ["zero_grad"]),
        "own_model_default_init": ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = nn.Linear(features.shape[1], 1).to(features.device)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return net.weight.data, net.bias.data
''', ["build_concise_model"]),
        "no_shuffle": ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = build_concise_model(features.shape[1]).to(features.device)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return net[0].weight.data, net[0].bias.data
''', ["random order", "shuffle=True"]),
        "ignores_lr": ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = build_concise_model(features.shape[1]).to(features.device)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return net[0].weight.data, net[0].bias.data
''', ["gradient descent", "lr=lr"]),
    },
}

# ----------------------------------------------------------------------------- device handling
# Right by accident when every tensor is on the CPU; without a GPU the meta device (the grader's
# stand-in for one, docs/devices.md) tells them apart.

CORRECT["train"]["created_then_moved"] = '''
def train(features, labels, lr, num_epochs, batch_size):
    """Parameters made on the CPU, then moved to the data (dtype and device) before they become leaves."""
    w = torch.normal(0, 0.01, size=(features.shape[1], 1)).to(features).requires_grad_()
    b = torch.zeros(1).to(features).requires_grad_()
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            squared_loss(linreg(X, w, b), y).sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
'''

CORRECT["train_concise"]["optimizer_before_moving"] = '''
def train_concise(features, labels, lr, num_epochs, batch_size):
    """net.to(device) moves the parameters in place: an optimizer made before still holds them."""
    net = build_concise_model(features.shape[1])
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    net.to(features.device)
    loss = nn.MSELoss()
    for epoch in range(num_epochs):
        for X, y in data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True):
            trainer.zero_grad()
            loss(net(X), y).backward()
            trainer.step()
    return net[0].weight.detach(), net[0].bias.detach()
'''

WRONG["synthetic_data"]["features_on_the_cpu"] = ('''
def synthetic_data(w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)), dtype=w.dtype)
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape, dtype=w.dtype, device=w.device)
    return X, y.reshape((-1, 1))
''', ["every tensor must live on the device"])

WRONG["train"]["parameters_on_the_cpu"] = ('''
def train(features, labels, lr, num_epochs, batch_size):
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), dtype=features.dtype, requires_grad=True)
    b = torch.zeros(1, dtype=features.dtype, requires_grad=True)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
    return w, b
''', ["is on device cpu"])

WRONG["train_concise"]["model_not_moved"] = ('''
def train_concise(features, labels, lr, num_epochs, batch_size):
    net = build_concise_model(features.shape[1])
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = data.DataLoader(data.TensorDataset(features, labels), batch_size, shuffle=True)
    for epoch in range(num_epochs):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    return net[0].weight.data, net[0].bias.data
''', ["every tensor must live on the device"])
