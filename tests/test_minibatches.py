"""grader_tests/shared_minibatches.py: which trained parameters pass, and what the message says otherwise.

The "student" here is a float32 training loop of softmax regression written in this file, run the
right way and the typical wrong ways; the judge only ever sees the parameters it ends with.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

_PATH = Path(__file__).resolve().parent.parent / "grader_tests" / "shared_minibatches.py"
_spec = importlib.util.spec_from_file_location("shared_minibatches", _PATH)
shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared)

N, BATCH, EPOCHS, LR = 3, 2, 2, 0.5
_g = torch.Generator().manual_seed(5)
X = torch.randn(N, 4, generator=_g)
Y = torch.tensor([2, 0, 1])
START = [0.1 * torch.randn(3, 4, generator=_g), torch.zeros(3)]


def grad(params, batch):
    """The gradient of the mean cross-entropy of a minibatch, in float64."""
    W, b = (p.detach().double().clone().requires_grad_() for p in params)
    idx = torch.tensor(batch, dtype=torch.int64)
    loss = torch.nn.functional.cross_entropy(X.double()[idx] @ W.T + b, Y[idx])
    return [g.detach() for g in torch.autograd.grad(loss, (W, b))]


def train(batches_of_epoch, epochs=EPOCHS, reduction="mean", zero_grad=True, divide=False, seed=0):
    """A float32 loop: ``batches_of_epoch(order)`` gives the epoch's minibatches of a random order."""
    torch.manual_seed(seed)
    W, b = (p.clone().requires_grad_() for p in START)
    for _ in range(epochs):
        for idx in batches_of_epoch(torch.randperm(N)):
            loss = torch.nn.functional.cross_entropy(X[idx] @ W.T + b, Y[idx], reduction=reduction)
            (loss / len(idx) if divide else loss).backward()
            with torch.no_grad():
                for p in (W, b):
                    p -= LR * p.grad
                    if zero_grad:
                        p.grad.zero_()
    return [W.detach(), b.detach()]


def book(order):
    """The book's minibatches: ``order[start:start + batch_size]`` for ``start`` in ``range(0, n, batch_size)``."""
    return [order[start:start + BATCH] for start in range(0, N, BATCH)]


def judge(params):
    """The judge on the 3-example, 2-epoch case above."""
    shared.judge_training("train(net, X, ...)", params, START, grad, N, BATCH, EPOCHS, LR, "the model")


def test_expected_batches():
    assert shared.expected_batches(50, 16) == [16, 16, 16, 2]
    assert shared.expected_batches(48, 16) == [16, 16, 16]
    assert shared.expected_batches(1, 4) == [1]


def test_epoch_options_cover_every_split_and_order():
    assert shared.epoch_options(3, [2, 1]) == [((0,), (1, 2)), ((0, 1), (2,)), ((0, 2), (1,)), ((1,), (0, 2)),
                                               ((1, 2), (0,)), ((2,), (0, 1))]
    assert shared.epoch_options(3, [2]) == [((0, 1),), ((0, 2),), ((1, 2),)]  # one example left out
    assert shared.epoch_options(4, [2, 2]) == [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)),
                                               ((1, 2), (0, 3)), ((1, 3), (0, 2)), ((2, 3), (0, 1))]


@pytest.mark.parametrize("loop", [
    book,                                                  # the book: shuffled, the last minibatch smaller
    lambda order: book(order)[::-1],                       # the smaller minibatch first
    lambda order: list(order.split(BATCH)),                # torch.split, as DataLoader does
    lambda order: book(torch.arange(N)),                   # no shuffling
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_correct_loop_passes(loop, seed):
    judge(train(loop, seed=seed))


def test_a_summed_loss_with_a_step_divided_by_the_batch_size_passes():
    """The book's from-scratch way: l.sum().backward() and sgd dividing by the batch size."""
    judge(train(book, reduction="sum", divide=True))


def test_an_empty_minibatch_changes_nothing_and_passes():
    """The mean loss of no examples is NaN, but its gradient is zero: the parameters cannot show it."""
    judge(train(lambda order: book(order) + [order[:0]]))


@pytest.mark.parametrize("params, words", [
    (lambda: train(lambda order: [order]), "every step used all 3 examples"),
    (lambda: train(lambda order: book(order)[:-1]), "last, smaller minibatch of each epoch (3 = 1 x 2 + 1)"),
    (lambda: train(lambda order: [order[start:start + BATCH] for start in range(1, N, BATCH)]), "was dropped"),
    (lambda: train(book, epochs=3), "3 epoch(s) of data, expected num_epochs=2"),
    (lambda: train(book, epochs=1), "1 epoch(s)"),
    (lambda: train(book, reduction="sum"), "batch_size times too large"),
    (lambda: train(book, divide=True), "batch_size times too small"),
    (lambda: train(book, zero_grad=False), "gradients added up"),
    (lambda: train(lambda order: []), "did not change"),
    (lambda: [START[0] * float("nan"), START[1]], "NaN or inf"),
    (lambda: train(lambda order: [order[:2], order[1:]]), "not those of 2 epoch(s) of minibatch SGD"),
    (lambda: [START[0], START[1][:2]], "changed number or shape"),
])
def test_typical_mistakes_are_named(params, words):
    with pytest.raises(AssertionError) as failure:
        judge(params())
    assert words in str(failure.value)
