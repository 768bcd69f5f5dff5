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


def test_a_hard_coded_learning_rate_is_named():
    """A loop that steps with 0.5 whatever lr it is given, judged at lr = 0.2."""
    with pytest.raises(AssertionError) as failure:
        shared.judge_training("train(net, X, ...)", train(book), START, grad, N, BATCH, EPOCHS, 0.2, "the model")
    assert "learning rate 0.5, not with the lr=0.2 passed in" in str(failure.value)


# Shuffling: 4 examples of 4 classes in minibatches of 2, 3 epochs, 4 runs seeded differently (as the suites).
N4, EPOCHS4, RUNS = 4, 3, 4
X4 = torch.randn(N4, 3, generator=_g)
Y4 = torch.tensor([2, 0, 3, 1])
START4 = [0.1 * torch.randn(4, 3, generator=_g), torch.zeros(4)]


def grad4(params, batch):
    W, b = (p.detach().double().clone().requires_grad_() for p in params)
    idx = torch.tensor(batch, dtype=torch.int64)
    loss = torch.nn.functional.cross_entropy(X4.double()[idx] @ W.T + b, Y4[idx])
    return [g.detach() for g in torch.autograd.grad(loss, (W, b))]


def train4(orders):
    """A float32 loop over X4 whose epochs take ``orders(epoch)`` (a permutation of the 4 examples)."""
    W, b = (p.clone().requires_grad_() for p in START4)
    for epoch in range(EPOCHS4):
        order = orders(epoch)
        for start in range(0, N4, BATCH):
            idx = order[start:start + BATCH]
            torch.nn.functional.cross_entropy(X4[idx] @ W.T + b, Y4[idx]).backward()
            with torch.no_grad():
                for p in (W, b):
                    p -= LR * p.grad
                    p.grad.zero_()
    return [W.detach(), b.detach()]


def judge_shuffling(make_orders):
    """Four runs, the generator seeded differently before each; ``make_orders()`` is called after seeding."""
    outcomes = []
    for seed in range(RUNS):
        torch.manual_seed(100 + seed)
        orders = make_orders()
        outcomes.append((START4, train4(orders)))
    shared.judge_shuffling("train(net, X, ...)", outcomes, grad4, N4, BATCH, EPOCHS4, LR, "the model")


def test_any_two_runs_of_the_shuffling_fixture_end_apart():
    """The matching run is unique: any two of the 216 runs differ by far more than the tolerance."""
    options = shared.epoch_options(N4, shared.expected_batches(N4, BATCH))
    ends = [p for _, p in shared.runs_with_epochs(grad4, [p.double() for p in START4], options, EPOCHS4,
                                                  lambda size: LR)]
    assert len(ends) == 216
    assert not any(shared.close(a, b) for i, a in enumerate(ends) for b in ends[i + 1:])


def test_a_new_order_every_epoch_passes():
    judge_shuffling(lambda: (lambda epoch: torch.randperm(N4)))


def test_one_run_repeated_is_left_to_the_reseeding_tests():
    """Every run the same (the generator reseeded inside the loop): not an order to judge here."""
    judge_shuffling(lambda: (torch.manual_seed(0), lambda epoch: torch.randperm(N4))[1])


@pytest.mark.parametrize("make_orders, words", [
    (lambda: (lambda epoch: torch.arange(N4)), "stored order"),
    (lambda: (lambda perm: (lambda epoch: perm))(torch.randperm(N4)), "new random order at the start of EVERY epoch"),
])
def test_missing_shuffles_are_named(make_orders, words):
    with pytest.raises(AssertionError) as failure:
        judge_shuffling(make_orders)
    assert words in str(failure.value)


def test_a_run_that_is_not_minibatch_sgd_cannot_be_judged():
    with pytest.raises(AssertionError) as failure:
        shared.judge_shuffling("train(net, X, ...)", [(START4, START4)] * RUNS, grad4, N4, BATCH, EPOCHS4, LR,
                               "the model")
    assert "could not be judged" in str(failure.value) and "did not change" in str(failure.value)
