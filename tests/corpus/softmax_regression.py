"""Corpus for ``softmax_regression``: answers the hidden suite must grade right (tests/test_corpus.py).

``CORRECT``: correct answers written differently from the reference; each must get full marks on
its exercise.  ``WRONG``: typical mistakes; each must lose points on its exercise, and the failure
messages must contain every listed word (case-insensitive), so the student is told what is wrong.
Each source is a whole answer cell; it replaces that one cell of the reference solution.  The
assignment's setup cell provides ``torch`` and ``nn``; anything else a cell needs it imports itself.
Several entries come from the buggy-variant set the suite was first sharpened with.
"""

# ============================================================================== correct answers

CORRECT = {
    "softmax": {
        "logsumexp_by_hand": '''
def softmax(X):
    """exp(X - logsumexp(X)), the log-sum-exp itself computed stably around the row max."""
    m = X.max(1, keepdim=True).values
    lse = m + torch.log(torch.exp(X - m).sum(1, keepdim=True))
    return torch.exp(X - lse)
''',
        "torch_logsumexp": '''
def softmax(X):
    return torch.exp(X - torch.logsumexp(X, dim=1, keepdim=True))
''',
        "max_not_detached_unsqueezed_sum": '''
def softmax(X):
    """Row max via [0] (not detached: its gradient cancels), the sum reshaped with unsqueeze."""
    X_exp = torch.exp(X - X.max(dim=1, keepdim=True)[0])
    partition = X_exp.sum(dim=1).unsqueeze(1)
    return X_exp / partition
''',
        "amax_einsum_reciprocal": '''
def softmax(X):
    shifted = X - torch.amax(X, dim=-1, keepdim=True)
    e = shifted.exp()
    total = torch.einsum("ij->i", e).reshape(-1, 1)
    return e * total.reciprocal()
''',
        "transpose_broadcast": '''
def softmax(X):
    e = torch.exp(X - X.max(dim=1, keepdim=True).values)
    return (e.T / e.sum(dim=1)).T
''',
        # Large inputs (docs/tolerances.md): these round at the logits' magnitude differently from the
        # reference and must keep full marks at logits of 1e4.
        "log_softmax_by_hand_then_exp": '''
def softmax(X):
    """exp of a log-softmax written by hand: (X - max) - log(sum(exp(X - max)))."""
    shifted = X - X.max(dim=1, keepdim=True).values
    return torch.exp(shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True)))
''',
        "row_sums_by_matmul": '''
def softmax(X):
    """Another reduction order: the row sums as a product with a column of ones."""
    e = torch.exp(X - X.amax(dim=1, keepdim=True))
    ones = torch.ones(X.shape[1], 1, dtype=X.dtype, device=X.device)
    return e / (e @ ones)
''',
        "max_from_sort": '''
def softmax(X):
    top = X.sort(dim=1, descending=True).values[:, :1]
    e = (X - top).exp()
    return e / e.sum(-1, keepdim=True)
''',
    },
    "cross_entropy": {
        "book_range_index": '''
def cross_entropy(y_hat, y):
    return - torch.log(y_hat[range(len(y_hat)), y])
''',
        "gather_squeeze": '''
def cross_entropy(y_hat, y):
    picked = y_hat.gather(1, y.unsqueeze(1)).squeeze(1)
    return -picked.log()
''',
        "clamp_that_changes_nothing": '''
def cross_entropy(y_hat, y):
    """Clamp at the smallest normal number of the dtype: no probability of a true label is that
    small, so neither the values nor the gradients change."""
    p = y_hat[torch.arange(len(y), device=y_hat.device), y]
    return -torch.log(p.clamp_min(torch.finfo(y_hat.dtype).tiny))
''',
        "take_along_dim_neg_log": '''
def cross_entropy(y_hat, y):
    return torch.neg(torch.log(torch.take_along_dim(y_hat, y.view(-1, 1), dim=1).view(-1)))
''',
    },
    "accuracy": {
        "float32_mean_item": '''
def accuracy(y_hat, y):
    return (y_hat.argmax(1) == y).float().mean().item()
''',
        "sum_over_len": '''
def accuracy(y_hat, y):
    correct = (y_hat.argmax(dim=1) == y).sum()
    return correct.item() / len(y)
''',
        "book_cmp_then_divide": '''
def accuracy(y_hat, y):
    """The book's accuracy (a count), divided by the number of rows."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum()) / y.numel()
''',
    },
    "sgd": {
        "sub_and_set_none": '''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param.sub_(lr * param.grad / batch_size)
            param.grad = None
''',
        "sub_alpha": '''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.sub_(p.grad, alpha=lr / batch_size)
                p.grad.zero_()
''',
        "add_negative_step": '''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            p.add_(p.grad * (-lr / batch_size))
            p.grad = torch.zeros_like(p)
''',
        "data_attribute": '''
def sgd(params, lr, batch_size):
    """The old .data idiom: rebinding .data keeps the same Parameter object."""
    for param in params:
        if param.grad is None:
            continue
        param.data = param.data - lr * param.grad / batch_size
        param.grad.data.zero_()
''',
    },
    "softmax_ce_grad": {
        "scatter_one_hot": '''
def softmax_ce_grad(logits, y):
    e = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    p = e / e.sum(dim=1, keepdim=True)
    one_hot = torch.zeros_like(p).scatter_(1, y.unsqueeze(1), 1.0)
    return (p - one_hot) / logits.shape[0]
''',
        "index_put_on_probabilities": '''
def softmax_ce_grad(logits, y):
    n = logits.shape[0]
    e = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    g = e / e.sum(dim=1, keepdim=True)
    rows = torch.arange(n, device=logits.device)
    g = g.index_put((rows, y), g[rows, y] - 1)
    return g / n
''',
        "F_one_hot_with_num_classes": '''
import torch.nn.functional as F

def softmax_ce_grad(logits, y):
    n, q = logits.shape
    shifted = logits - logits.max(1, keepdim=True)[0]
    p = shifted.exp() / shifted.exp().sum(1, keepdim=True)
    return (p - F.one_hot(y, num_classes=q).to(logits.dtype)) / n
''',
        "uses_own_softmax": '''
def softmax_ce_grad(logits, y):
    """Reuses the softmax exercise (same namespace when graded)."""
    p = softmax(logits)
    p = p - torch.eye(logits.shape[1], dtype=logits.dtype, device=logits.device)[y]
    return p / len(y)
''',
        # Large inputs (docs/tolerances.md): exp(logits - logsumexp) is stable, but float32 rounds the
        # log-sum-exp of logits near 1e4 to ~1e-3, so an entry near 0 is off by ~1e-4; a fixed atol of
        # 1e-6 took 2 points from these.
        "torch_logsumexp": '''
def softmax_ce_grad(logits, y):
    n = logits.shape[0]
    p = torch.exp(logits - torch.logsumexp(logits, dim=1, keepdim=True))
    p[torch.arange(n, device=logits.device), y] -= 1
    return p / n
''',
        "logsumexp_by_hand": '''
def softmax_ce_grad(logits, y):
    m = logits.max(dim=1, keepdim=True).values
    lse = m + torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    one_hot = torch.zeros_like(logits)
    one_hot[range(len(y)), y] = 1
    return (torch.exp(logits - lse) - one_hot) / len(y)
''',
        "log_softmax_by_hand_divided_first": '''
def softmax_ce_grad(logits, y):
    """A log-softmax by hand, and each term divided by n before the difference."""
    n, q = logits.shape
    z = logits - logits.amax(dim=1, keepdim=True)
    log_p = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    return torch.exp(log_p) / n - torch.eye(q, dtype=logits.dtype, device=logits.device)[y] / n
''',
    },
"build_concise_model": {
        "book_apply_init_weights": """
def build_concise_model(num_inputs, num_outputs):
    \"\"\"The book's code: the bias keeps PyTorch's default initialisation.\"\"\"
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    return net
""",
        "custom_module_class": """
class SoftmaxRegression(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.linear = nn.Linear(num_inputs, num_outputs)
        torch.nn.init.normal_(self.linear.weight, 0.0, 0.01)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, X):
        return self.linear(X.reshape(X.shape[0], -1))


def build_concise_model(num_inputs, num_outputs):
    return SoftmaxRegression(num_inputs, num_outputs)
""",
        "ordered_dict_tensor_normal": """
from collections import OrderedDict

def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(OrderedDict([("flatten", nn.Flatten()),
                                     ("output", nn.Linear(num_inputs, num_outputs))]))
    net.output.weight.data.normal_(0, 0.01)
    net.output.bias.data.fill_(0)
    return net
""",
        "copy_scaled_randn": """
def build_concise_model(num_inputs, num_outputs):
    linear = nn.Linear(num_inputs, num_outputs)
    with torch.no_grad():
        linear.weight.copy_(0.01 * torch.randn(num_outputs, num_inputs))
        linear.bias.zero_()
    return nn.Sequential(nn.Flatten(start_dim=1), linear)
""",
    },
    "train_concise": {
        "book_dataloader_reduction_none": """
from torch.utils import data

def train_concise(net, X, y, lr, num_epochs, batch_size):
    \"\"\"d2l-zh 2.0 style: a DataLoader, reduction='none' and l.mean().backward().\"\"\"
    loss = nn.CrossEntropyLoss(reduction='none')
    updater = torch.optim.SGD(net.parameters(), lr=lr)
    train_iter = data.DataLoader(data.TensorDataset(X, y), batch_size, shuffle=True)
    history = []
    for epoch in range(num_epochs):
        net.train()
        metric = [0.0, 0]
        for X_b, y_b in train_iter:
            l = loss(net(X_b), y_b)
            updater.zero_grad()
            l.mean().backward()
            updater.step()
            metric[0] += float(l.sum())
            metric[1] += y_b.numel()
        history.append(metric[0] / metric[1])
    return history
""",
        "functional_zero_grad_after_step": """
import torch.nn.functional as F

def train_concise(net, X, y, lr, num_epochs, batch_size):
    optimizer = torch.optim.SGD(net.parameters(), lr)
    n = len(y)
    losses = []
    for _ in range(num_epochs):
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size].to(X.device)
            l = F.cross_entropy(net(X[idx]), y[idx])
            l.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            total += l.item() * idx.numel()
        losses.append(total / n)
    return losses
""",
        "zip_of_splits": """
def train_concise(net, X, y, lr, num_epochs, batch_size):
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(params=net.parameters(), lr=lr)
    epoch_losses = []
    for epoch in range(num_epochs):
        perm = torch.randperm(X.shape[0], device=X.device)
        sum_loss, seen = 0.0, 0
        for X_b, y_b in zip(X[perm].split(batch_size), y[perm].split(batch_size)):
            opt.zero_grad()
            out = criterion(net(X_b), y_b)
            out.backward()
            opt.step()
            sum_loss += out.item() * len(y_b)
            seen += len(y_b)
        epoch_losses.append(sum_loss / seen)
    return epoch_losses
""",
    },
}


# ============================================================================== typical mistakes

WRONG = {
    "softmax": {
        # The built-in softmax kernel reached through names the AST check cannot see (observed in the sandbox).
        "softmin_of_negated_logits": ('''
import torch.nn.functional as F

def softmax(X):
    return F.softmin(-X, dim=1)
''', ["aten._softmax", "reached through some other name", "exp and sum"]),
        "categorical_probs": ('''
def softmax(X):
    return torch.distributions.Categorical(logits=X).probs
''', ["aten._softmax", "reached through some other name"]),
        "computed_name": ('''
def softmax(X):
    return getattr(torch, "soft" + "max")(X, 1)
''', ["built-in softmax kernel (aten._softmax)"]),
        "attention_with_identity_keys": ('''
def softmax(X):
    eye = torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    return torch.nn.functional.scaled_dot_product_attention(X[None], eye[None], eye[None], scale=1.0)[0]
''', ["reached through some other name", "exp and sum"]),
        "book_overflow": ('''
def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition
''', ["NaN", "overflow", "max"]),
        "global_max": ('''
def softmax(X):
    """Subtracts the largest entry of the whole matrix: rows far below it underflow to 0 / 0."""
    X_exp = torch.exp(X - X.max())
    return X_exp / X_exp.sum(1, keepdim=True)
''', ["each row's", "max"]),
        # Finite but wrong at large logits: a tolerance that grows with the inputs must still catch them.
        "clamped_logits": ('''
def softmax(X):
    """Clamps the logits so that exp cannot overflow: right for small logits, wrong past 80."""
    X_exp = torch.exp(X.clamp(-80.0, 80.0))
    return X_exp / X_exp.sum(1, keepdim=True)
''', ["up to 1e4", "differs"]),
        "row_mean_shift": ('''
def softmax(X):
    """Subtracts the row mean, not the row max: a row spread over more than ~88 still overflows."""
    X_exp = torch.exp(X - X.mean(1, keepdim=True))
    return X_exp / X_exp.sum(1, keepdim=True)
''', ["NaN", "maximum"]),
        "sum_over_dim0": ('''
def softmax(X):
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum(0, keepdim=True)
''', ["columns", "dim=1"]),
        "sum_without_keepdim": ('''
def softmax(X):
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum(1)
''', ["keepdim=True"]),
        "total_sum": ('''
def softmax(X):
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum()
''', ["sum to 1", "row"]),
        "builtin": ('''
def softmax(X):
    return torch.softmax(X, dim=1)
''', ["torch.softmax"]),
        "builtin_through_alias": ('''
import torch.nn.functional as F
_sm = F.softmax

def softmax(X):
    return _sm(X, dim=1)
''', ["torch.nn.functional.softmax"]),
        "casts_to_float32": ('''
def softmax(X):
    X = X.float()
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum(1, keepdim=True)
''', ["float64"]),
        "in_place_on_input": ('''
def softmax(X):
    X -= X.max(1, keepdim=True).values
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)
''', ["in place"]),
        "detached_partition": ('''
def softmax(X):
    X_exp = torch.exp(X - X.max(1, keepdim=True).values)
    return X_exp / X_exp.sum(1, keepdim=True).detach()
''', ["gradient", ".detach()"]),
        "through_numpy": ('''
import numpy as np

def softmax(X):
    a = X.detach().cpu().numpy()
    e = np.exp(a - a.max(1, keepdims=True))
    return torch.tensor(e / e.sum(1, keepdims=True), dtype=X.dtype, device=X.device)
''', ["not connected"]),
    },
    "cross_entropy": {
        "nll_loss_through_getattr": ('''
import torch.nn.functional as F

def cross_entropy(y_hat, y):
    return getattr(F, "nll" + "_loss")(torch.log(y_hat), y, reduction="none")
''', ["aten.nll_loss_forward", "take -log yourself"]),
        "log_softmax_through_getattr": ('''
def cross_entropy(y_hat, y):
    log_p = getattr(torch, "log_" + "softmax")(torch.log(y_hat), 1)
    return -log_p[range(len(y)), y]
''', ["aten._log_softmax", "not logits"]),
        "columns_of_all_labels": ('''
def cross_entropy(y_hat, y):
    return -torch.log(y_hat[:, y])
''', ["y_hat[:, y]", "one entry per row"]),
        "mean_not_per_example": ('''
def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y]).mean()
''', ["one loss per example", "not their mean"]),
        "one_hot_times_log": ('''
def cross_entropy(y_hat, y):
    one_hot = torch.zeros_like(y_hat)
    one_hot[range(len(y)), y] = 1
    return -(one_hot * torch.log(y_hat)).sum(1)
''', ["NaN", "0 * log(0)"]),
        "where_over_log": ('''
def cross_entropy(y_hat, y):
    mask = torch.zeros_like(y_hat, dtype=torch.bool)
    mask[range(len(y)), y] = True
    return -torch.where(mask, torch.log(y_hat), torch.zeros_like(y_hat)).sum(1)
''', ["gradient", "NaN", "log(0)"]),
        "log_then_index": ('''
def cross_entropy(y_hat, y):
    return -torch.log(y_hat)[range(len(y_hat)), y]
''', ["gradient", "NaN"]),
        "missing_minus": ('''
def cross_entropy(y_hat, y):
    return torch.log(y_hat[range(len(y_hat)), y])
''', ["sign"]),
        "rebuilt_with_torch_tensor": ('''
def cross_entropy(y_hat, y):
    return torch.tensor([-torch.log(y_hat[i, y[i]]) for i in range(len(y))], dtype=y_hat.dtype)
''', ["not connected"]),
        "builtin_nll_loss": ('''
import torch.nn.functional as F

def cross_entropy(y_hat, y):
    return F.nll_loss(torch.log(y_hat), y, reduction="none")
''', ["nll_loss"]),
        "gather_keeps_column": ('''
def cross_entropy(y_hat, y):
    return -torch.log(y_hat.gather(1, y.reshape(-1, 1)))
''', ["extra dimension"]),
    },
    "accuracy": {
        "returns_tensor": ('''
def accuracy(y_hat, y):
    return (y_hat.argmax(1) == y).float().mean()
''', ["Python float", ".item()"]),
        "book_count": ('''
def accuracy(y_hat, y):
    cmp = y_hat.argmax(axis=1).type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())
''', ["number of correct predictions"]),
        "argmax_over_columns": ('''
def accuracy(y_hat, y):
    return float((y_hat.argmax(0) == y).sum()) / len(y)
''', ["argmax over dim=0"]),
        "integer_division": ('''
def accuracy(y_hat, y):
    return float(int((y_hat.argmax(1) == y).sum()) // len(y))
''', ["true division"]),
        "compares_max_values": ('''
def accuracy(y_hat, y):
    return float((y_hat.max(1).values == y).sum()) / len(y)
''', ["class indices", "argmax"]),
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
        "no_zero_grad": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param -= lr * param.grad / batch_size
''', ["zero_()"]),
        "rebinds_loop_variable": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param = param - lr * param.grad / batch_size
            param.grad = None
''', ["did not change", "in place"]),
        "replaces_list_entries": ('''
def sgd(params, lr, batch_size):
    for i, param in enumerate(params):
        if param.grad is None:
            continue
        params[i] = (param - lr * param.grad / batch_size).detach().requires_grad_()
''', ["different tensor object"]),
        "no_none_check": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()
''', ["skipped", "is None"]),
        "gradient_ascent": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param += lr * param.grad / batch_size
            param.grad.zero_()
''', ["wrong way"]),
        "no_torch_no_grad": ('''
def sgd(params, lr, batch_size):
    for param in params:
        if param.grad is None:
            continue
        param -= lr * param.grad / batch_size
        param.grad.zero_()
''', ["leaf Variable", "torch.no_grad()"]),
        "zeroes_before_update": ('''
def sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param.grad.zero_()
            param -= lr * param.grad / batch_size
''', ["did not change", "only after using it"]),
    },
    "softmax_ce_grad": {
        "autograd_through_getattr": ('''
def softmax_ce_grad(logits, y):
    z = logits.detach().clone().requires_grad_()
    loss = cross_entropy(softmax(z), y).mean()
    (g,) = getattr(torch, "auto" + "grad").grad(loss, z)
    return g
''', ["ran an autograd backward pass", "by hand"]),
        "gradient_of_the_sum": ('''
def softmax_ce_grad(logits, y):
    p = torch.exp(logits - logits.max(1, keepdim=True).values)
    p = p / p.sum(1, keepdim=True)
    p[range(len(y)), y] -= 1
    return p
''', ["n times too large", "divide by n"]),
        "no_one_hot": ('''
def softmax_ce_grad(logits, y):
    p = torch.exp(logits - logits.max(1, keepdim=True).values)
    return p / p.sum(1, keepdim=True) / len(y)
''', ["one-hot"]),
        "flipped_sign": ('''
def softmax_ce_grad(logits, y):
    p = torch.exp(logits - logits.max(1, keepdim=True).values)
    p = p / p.sum(1, keepdim=True)
    one_hot = torch.zeros_like(p)
    one_hot[range(len(y)), y] = 1
    return (one_hot - p) / len(y)
''', ["sign"]),
        "autograd": ('''
def softmax_ce_grad(logits, y):
    z = logits.detach().clone().requires_grad_()
    loss = cross_entropy(softmax(z), y).mean()
    loss.backward()
    return z.grad
''', ["by hand", "backward"]),
        "float32_detour": ('''
def softmax_ce_grad(logits, y):
    n = logits.shape[0]
    z = logits.float()
    p = torch.exp(z - z.max(1, keepdim=True).values)
    p = p / p.sum(1, keepdim=True)
    one_hot = torch.zeros_like(p)
    one_hot[range(n), y] = 1
    return ((p - one_hot) / n).to(logits.dtype)
''', ["float32 precision"]),
        "overflowing_softmax": ('''
def softmax_ce_grad(logits, y):
    n = logits.shape[0]
    p = torch.exp(logits)
    p = p / p.sum(1, keepdim=True)
    one_hot = torch.zeros_like(p)
    one_hot[range(n), y] = 1
    return (p - one_hot) / n
''', ["NaN", "max"]),
        "clamped_logits": ('''
def softmax_ce_grad(logits, y):
    """Finite but wrong at large logits (clamped to +-80 before exp)."""
    n = logits.shape[0]
    p = torch.exp(logits.clamp(-80.0, 80.0))
    p = p / p.sum(1, keepdim=True)
    p[range(n), y] -= 1
    return p / n
''', ["up to 1e4", "differs"]),
        "global_max": ('''
def softmax_ce_grad(logits, y):
    """Subtracts the largest logit of the whole batch: rows far below it underflow to 0 / 0."""
    n = logits.shape[0]
    p = torch.exp(logits - logits.max())
    p = p / p.sum(1, keepdim=True)
    p[range(n), y] -= 1
    return p / n
''', ["NaN", "max"]),
        "one_hot_without_num_classes": ('''
import torch.nn.functional as F

def softmax_ce_grad(logits, y):
    p = torch.exp(logits - logits.max(1, keepdim=True).values)
    p = p / p.sum(1, keepdim=True)
    return (p - F.one_hot(y)) / len(y)
''', ["num_classes"]),
    },
"build_concise_model": {
        "no_flatten": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Linear(num_inputs, num_outputs))
    nn.init.normal_(net[0].weight, std=0.01)
    return net
""", ["nn.Flatten()"]),
        "swapped_linear_arguments": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_outputs, num_inputs))
    nn.init.normal_(net[1].weight, std=0.01)
    return net
""", ["(in_features, out_features)"]),
        "softmax_layer_at_the_end": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs), nn.Softmax(dim=1))
    nn.init.normal_(net[1].weight, std=0.01)
    return net
""", ["probabilities", "logits"]),
        "relu_at_the_end": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs), nn.ReLU())
    nn.init.normal_(net[1].weight, std=0.01)
    return net
""", ["ReLU"]),
        "default_initialisation": ("""
def build_concise_model(num_inputs, num_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
""", ["default", "std=0.01"]),
        "normal_sets_the_mean": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
    nn.init.normal_(net[1].weight, 0.01)
    return net
""", ["MEAN", "std=0.01"]),
        "std_ten_times_too_large": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
    nn.init.normal_(net[1].weight, std=0.1)
    return net
""", ["standard deviation", "std=0.01"]),
        "hard_coded_fashion_mnist_sizes": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    return net
""", ["from the arguments"]),
        "no_bias": ("""
def build_concise_model(num_inputs, num_outputs):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs, bias=False))
    nn.init.normal_(net[1].weight, std=0.01)
    return net
""", ["bias"]),
    },
    "train_concise": {
        "never_shuffles": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for start in range(0, len(y), batch_size):  # the stored order, every epoch
            Xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            l = loss(net(Xb), yb)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(yb)
        losses.append(total / len(y))
    return losses
""", ["test_new_random_order_every_epoch", "stored order"]),
        "shuffles_once": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    batches = torch.randperm(len(y)).split(batch_size)  # drawn once: every epoch repeats it
    for _ in range(num_epochs):
        total = 0.0
        for idx in batches:
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["test_new_random_order_every_epoch", "EVERY epoch"]),
        "no_zero_grad": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["zero_grad()"]),
        "summed_loss": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss(reduction="sum")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item()
        losses.append(total / len(y))
    return losses
""", ["SUM", "mean"]),
        "divided_by_batch_size_again": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            (l / len(idx)).backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["too small"]),
        "softmax_before_the_loss": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(torch.softmax(net(X[idx]), dim=1), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["softmax", "logits"]),
        "sgd_with_momentum": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["momentum"]),
        "hard_coded_learning_rate": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["lr=0.1", "use the lr you are given"]),
        "ignores_batch_size": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
        losses.append(l.item())
    return losses
""", ["all 3 examples", "batch_size=2"]),
        "drops_the_last_minibatch": ("""
from torch.utils.data import DataLoader, TensorDataset

def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, drop_last=True)
    losses = []
    for _ in range(num_epochs):
        total, count = 0.0, 0
        for X_b, y_b in loader:
            l = loss(net(X_b), y_b)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(y_b)
            count += len(y_b)
        losses.append(total / max(count, 1))
    return losses
""", ["dropped"]),
        "trains_a_new_model": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    net = nn.Sequential(nn.Flatten(), nn.Linear(X[0].numel(), int(y.max()) + 1))
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item() * len(idx)
        losses.append(total / len(y))
    return losses
""", ["did not change", "net.parameters()"]),
        "sums_minibatch_means": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total += l.item()
        losses.append(total)
    return losses
""", ["minibatch means were added up", "len(batch)"]),
        "losses_as_tensors": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = torch.zeros(())
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total = total + l.detach().cpu() * len(idx)
        losses.append(total / len(y))
    return losses
""", [".item()"]),
        "forgets_to_return": ("""
def train_concise(net, X, y, lr, num_epochs, batch_size):
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(num_epochs):
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            trainer.zero_grad()
            l.backward()
            trainer.step()
""", ["expected a list"]),
    },
}
