"""Demo scenarios for softmax_regression: typical bugs and attacks (see :mod:`autograder.demo_scenarios`)."""

from autograder.demo_scenarios import Scenario

SOFTMAX_OVERFLOW = '''def softmax(X):
    """The book's first version: no max subtraction, so exp overflows past ~88."""
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition
'''

CROSS_ENTROPY_WRONG_INDEX = '''def cross_entropy(y_hat, y):
    """Indexes columns with the label vector: an (n, n) matrix instead of n losses."""
    return -torch.log(y_hat[:, y])
'''

SGD_NO_BATCH_SIZE = '''def sgd(params, lr, batch_size):
    """Forgets to divide by the batch size."""
    with torch.no_grad():
        for param in params:
            if param.grad is None:
                continue
            param -= lr * param.grad
            param.grad.zero_()
'''

TRAIN_CONCISE_NO_ZERO_GRAD = '''def train_concise(net, X, y, lr, num_epochs, batch_size):
    """Never calls optimizer.zero_grad(): the gradients of all minibatches add up."""
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        total = 0.0
        for idx in torch.randperm(len(y)).split(batch_size):
            l = loss(net(X[idx]), y[idx])
            l.backward()
            trainer.step()
            total += float(l) * len(idx)
        losses.append(total / len(y))
    return losses
'''

PATCH_ALLCLOSE = '''import torch
import torch.testing
# Make every comparison succeed, hoping the grader runs its checks in this process.
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)

def softmax(X):
    return X
'''

OS_EXIT = '''import os

def cross_entropy(y_hat, y):
    os._exit(0)  # end the process "successfully" before any check can fail
'''

INFINITE_LOOP = '''def sgd(params, lr, batch_size):
    while True:
        pass
'''

SNOOP = '''import os, time

def accuracy(y_hat, y):
    # Look for the hidden tests and reference solutions, and try to write every gradebook found.
    found, began = [], time.time()
    for top in ("/work", "/tmp", "/root", "/home", "/srv", "/opt"):
        for folder, _dirs, files in os.walk(top):
            if time.time() - began > 2:
                break
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and ("grader_tests" in folder or "solutions" in folder):
                    try:
                        found.append(open(path).read())
                    except OSError:
                        pass
                if name == "gradebook.db":
                    try:
                        with open(path, "a") as f:
                            f.write("hacked")
                    except OSError:
                        pass
    return float(len(found))
'''

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs", breaks=("softmax", "cross_entropy", "accuracy", "sgd",
                                                               "softmax_ce_grad", "build_concise_model",
                                                               "train_concise")),
    Scenario("bug_softmax_overflow", "softmax without subtracting the row max (overflows)", "reference",
             {"softmax": SOFTMAX_OVERFLOW}, breaks=("softmax",)),
    Scenario("bug_cross_entropy_index", "cross_entropy indexing y_hat[:, y]", "reference",
             {"cross_entropy": CROSS_ENTROPY_WRONG_INDEX}, breaks=("cross_entropy",)),
    Scenario("bug_sgd_batch_size", "sgd that forgets / batch_size", "reference",
             {"sgd": SGD_NO_BATCH_SIZE}, breaks=("sgd",)),
    Scenario("bug_train_concise_no_zero_grad", "train_concise that never zeroes the gradients", "reference",
             {"train_concise": TRAIN_CONCISE_NO_ZERO_GRAD}, breaks=("train_concise",)),
    Scenario("hostile_patch_allclose", "patches torch.allclose and friends, returns X", "reference",
             {"softmax": PATCH_ALLCLOSE}, breaks=("softmax",), hostile=True),
    Scenario("hostile_os_exit", "calls os._exit(0) inside cross_entropy", "reference",
             {"cross_entropy": OS_EXIT}, breaks=("cross_entropy",), hostile=True),
    Scenario("hostile_infinite_loop", "sgd loops forever", "reference",
             {"sgd": INFINITE_LOOP}, breaks=("sgd",), hostile=True),
    Scenario("hostile_snoop", "accuracy reads hidden tests and writes the gradebook", "reference",
             {"accuracy": SNOOP}, breaks=("accuracy",), hostile=True),
]
