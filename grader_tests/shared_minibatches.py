"""Judging a training loop's minibatches by what it did to the parameters, with messages that name the mistake.

Shared by the hidden suites (softmax_regression, mlp); like them it lives in ``grader_tests/`` and
never ships in the package (``autograder.grading.run_suite`` makes this folder importable while a
suite runs).  Nothing is recorded inside the sandbox: whatever the student's code runs there could
also rewrite a record.  The suites train on a few DISTINCT examples (so that leaving one out, or
using one twice, changes the outcome) and read back only the trained parameters.  Minibatch SGD on
the mean loss depends on the order of the examples only through which examples share a minibatch
and the order of the minibatches, so with ``n`` examples there are few possible runs: this module
computes every one of them here, in float64, from the same initial parameters (:func:`runs`), and
the trained parameters must match one of them (:func:`judge_training`).  When they do not, it
computes the typical wrong loops (one full-batch step per epoch, the last smaller minibatch dropped,
a summed or twice-averaged loss, gradients never zeroed, a hard-coded learning rate, another number
of epochs) and names the first one that matches.

The same runs also tell which minibatches a run took (:func:`matching_epochs`): on a few distinct
examples every possible run ends somewhere else, so several runs with differently seeded generators
show whether the loop shuffles, and shuffles at every epoch (:func:`judge_shuffling`).

Why distinct examples, and so few: identical examples would make every order give the same run, but
they would also hide an example left out (``range(1, n, batch_size)``) and cannot have every class
present, which ``train_mlp``'s contract requires.  With 3 examples and minibatches of 2 and 1 there
are 6 ways to run an epoch, 36 for two.  What the parameters cannot show is not judged: an extra,
empty minibatch has a zero gradient and changes nothing.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable

import torch

TRAIN_RTOL, TRAIN_ATOL = 1e-4, 1e-5  # float32 training against float64 steps
# The learning rates a loop that ignores its lr argument typically uses instead (the book's and the suites').
# How many runs :func:`other_epoch_count` computes at most for one depth (6^4 for 4 examples in pairs).
MAX_DIAGNOSED_RUNS = 1296
HARD_CODED_LRS = (0.5, 0.1, 1.0, 0.01, 0.03, 0.05, 0.2, 0.3, 0.001)

# (params, indices of one minibatch) -> gradient of the minibatch's MEAN loss w.r.t. each parameter
Gradient = Callable[[list, tuple], list]


def expected_batches(n: int, batch_size: int) -> list[int]:
    """The minibatch sizes of one epoch over ``n`` examples: ``batch_size`` each, the last one smaller."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def _fill(remaining: tuple, sizes: tuple):
    """Every way to fill minibatches of ``sizes`` (in this order) from ``remaining`` examples."""
    if not sizes:
        yield ()
        return
    for batch in itertools.combinations(remaining, sizes[0]):
        rest = tuple(i for i in remaining if i not in batch)
        for tail in _fill(rest, sizes[1:]):
            yield (batch, *tail)


def epoch_options(n: int, sizes: Iterable[int]) -> list[tuple]:
    """Every distinct epoch over examples ``0 .. n-1`` in minibatches of ``sizes``, in any order of the
    minibatches: tuples of minibatches, each a sorted tuple of example indices (the order inside a
    minibatch does not change its mean loss).  Examples left over are not used (a dropped minibatch)."""
    options = set()
    for order in set(itertools.permutations(tuple(sizes))):
        options.update(_fill(tuple(range(n)), order))
    return sorted(options)


def runs_with_epochs(grad: Gradient, start: list, options: list[tuple], num_epochs: int,
                     lr_of: Callable[[int], float], accumulate: bool = False) -> list[tuple[tuple, list]]:
    """``(epochs, parameters)`` for every sequence of ``num_epochs`` epochs drawn from ``options``: the
    sequence (a tuple of epochs) and the parameters after running it from ``start``; each minibatch is one
    step ``p -= lr_of(size) * gradient``; with ``accumulate`` the gradients are never zeroed (each step uses
    the sum of all gradients so far)."""
    states = [((), list(start), None)]
    for _ in range(num_epochs):
        following = []
        for done, params, total in states:
            for epoch in options:
                p, acc = params, total
                for batch in epoch:
                    g = grad(p, batch)
                    if accumulate:
                        acc = g if acc is None else [a + b for a, b in zip(acc, g)]
                        g = acc
                    p = [x - lr_of(len(batch)) * y for x, y in zip(p, g)]
                following.append(((*done, epoch), p, acc))
        states = following
    return [(done, params) for done, params, _ in states]


def runs(grad: Gradient, start: list, options: list[tuple], num_epochs: int,
         lr_of: Callable[[int], float], accumulate: bool = False) -> list[list]:
    """The parameters after ``num_epochs`` epochs of SGD from ``start``, one list per sequence of epochs
    drawn from ``options`` (see :func:`runs_with_epochs`)."""
    return [params for _, params in runs_with_epochs(grad, start, options, num_epochs, lr_of, accumulate)]


def other_epoch_count(trained: list, grad: Gradient, start: list, options: list[tuple], num_epochs: int,
                      lr: float) -> int | None:
    """The number of epochs, other than ``num_epochs`` and at most twice it, of a run that ends at
    ``trained``; None when there is none.  The runs of each depth grow from those of the depth before
    (one computation for every count), and the search stops before a depth would hold more than
    :data:`MAX_DIAGNOSED_RUNS` runs: a diagnosis, not a verdict, so it need not be exhaustive."""
    states = [list(start)]
    for epochs in range(1, 2 * num_epochs + 1):
        if len(states) * len(options) > MAX_DIAGNOSED_RUNS:
            return None
        following = []
        for params in states:
            for epoch in options:
                p = params
                for batch in epoch:
                    p = [x - lr * y for x, y in zip(p, grad(p, batch))]
                following.append(p)
        states = following
        if epochs != num_epochs and any(close(trained, want) for want in states):
            return epochs
    return None


def close(got: list, want: list) -> bool:
    """Whether two parameter lists agree within the float32 training tolerance."""
    return len(got) == len(want) and all(
        a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=TRAIN_RTOL, atol=TRAIN_ATOL)
        for a, b in zip(got, want))


def judge_training(call: str, trained: list, start: list, grad: Gradient, n: int, batch_size: int, num_epochs: int,
                   lr: float, where: str) -> None:
    """Raise an AssertionError unless ``trained`` are the parameters after ``num_epochs`` epochs of
    minibatch SGD from ``start`` with learning rate ``lr``: each epoch uses every one of the ``n``
    examples once, in minibatches of :func:`expected_batches` (any order, any shuffling), one step on
    each minibatch's mean loss.  The message says which mistake the parameters look like.

    ``grad`` computes a minibatch's mean-loss gradient (float64, here); ``call`` describes the student's
    call (``"train(net, X, ...)"``), ``where`` whose parameters these are (``"the model passed in"``).
    """
    trained, start = [t.double() for t in trained], [t.double() for t in start]
    if len(trained) != len(start) or any(a.shape != b.shape for a, b in zip(trained, start)):
        raise AssertionError(f"after {call} the parameters of {where} changed number or shape: train those "
                             "parameters themselves, without replacing them")
    if not all(bool(torch.isfinite(t).all()) for t in trained):
        raise AssertionError(f"after {call} the parameters of {where} contain NaN or inf: a minibatch's loss was NaN "
                             "(computed from something other than its examples' logits and labels?) or the steps "
                             "diverged (the SUM of the losses with this lr?)")
    per_epoch = expected_batches(n, batch_size)
    options = epoch_options(n, per_epoch)

    def matches(opts, epochs=num_epochs, lr_of=lambda size: lr, accumulate=False):
        return any(close(trained, want) for want in runs(grad, start, opts, epochs, lr_of, accumulate))

    if matches(options):
        return
    if close(trained, start):
        raise AssertionError(f"during {call} the parameters of {where} did not change: no minibatch loss was "
                             "back-propagated, or no step taken; compute the loss of every minibatch, call "
                             "backward() on it and take one SGD step")
    every = f"every example once per epoch, in minibatches of batch_size={batch_size} (the last one smaller)"
    if n > batch_size and matches(epoch_options(n, [n])):
        raise AssertionError(f"during {call} every step used all {n} examples (one step per epoch): split each "
                             f"epoch into minibatches of batch_size={batch_size} examples")
    if len(per_epoch) > 1 and per_epoch[-1] < batch_size and matches(epoch_options(n, per_epoch[:-1])):
        raise AssertionError(f"during {call} the last, smaller minibatch of each epoch ({n} = {len(per_epoch) - 1} x "
                             f"{batch_size} + {per_epoch[-1]}) was dropped (or an example left out): every example "
                             "must be used once per epoch (no drop_last=True, and range(0, n, batch_size) for the "
                             "starts)")
    if matches(options, accumulate=True):
        raise AssertionError(f"during {call} the gradients added up across steps: zero them before each backward() "
                             "(optimizer.zero_grad(), or p.grad.zero_() after each update)")
    if matches(options, lr_of=lambda size: lr * size):
        raise AssertionError(f"during {call} each step was batch_size times too large: that is the gradient of the "
                             "SUM of the minibatch's losses; use their mean (nn.CrossEntropyLoss() averages; with "
                             "your own sgd that divides by batch_size, the loss must be the sum)")
    if matches(options, lr_of=lambda size: lr / size):
        raise AssertionError(f"during {call} each step was batch_size times too small: the minibatch's loss was "
                             "averaged twice (a mean loss and a step that divides by batch_size again)")
    for other in HARD_CODED_LRS:
        if other != lr and matches(options, lr_of=lambda size, other=other: other):
            raise AssertionError(f"during {call} every step was taken with learning rate {other}, not with the "
                                 f"lr={lr} passed in: use the argument lr (torch.optim.SGD(params, lr=lr), or "
                                 "p -= lr * p.grad), never a fixed number")
    epochs = other_epoch_count(trained, grad, start, options, num_epochs, lr)
    if epochs is not None:
        raise AssertionError(f"during {call} the model saw {epochs} epoch(s) of data, expected "
                             f"num_epochs={num_epochs}")
    raise AssertionError(f"the parameters of {where} after {call} are not those of {num_epochs} epoch(s) of minibatch "
                         f"SGD over the {n} examples, in any order: expected minibatches of {per_epoch} examples in "
                         f"each epoch, {every}, starting at range(0, n, batch_size); one step on each minibatch's "
                         "MEAN loss with learning rate lr, gradients zeroed before each backward()")


def stored_order_epoch(n: int, batch_size: int) -> tuple:
    """The epoch that visits examples ``0 .. n-1`` in their stored order (no shuffling)."""
    return tuple(tuple(range(start, min(start + batch_size, n))) for start in range(0, n, batch_size))


def matching_epochs(trained: list, start: list, grad: Gradient, n: int, batch_size: int, num_epochs: int,
                    lr: float) -> list[tuple]:
    """The sequences of epochs (each a tuple of minibatches) whose run from ``start`` ends at ``trained``."""
    trained, start = [t.double() for t in trained], [t.double() for t in start]
    options = epoch_options(n, expected_batches(n, batch_size))
    return [epochs for epochs, want in runs_with_epochs(grad, start, options, num_epochs, lambda size: lr)
            if close(trained, want)]


def judge_shuffling(call: str, outcomes: list[tuple[list, list]], grad: Gradient, n: int, batch_size: int,
                    num_epochs: int, lr: float, where: str) -> None:
    """Raise an AssertionError unless the runs show a new random order of the examples in every epoch.

    ``outcomes`` are ``(start, trained)`` pairs of runs of the same call with the global generators seeded
    differently (``grad``, ``n`` ... as in :func:`judge_training`).  Each run must be one of the possible
    runs (otherwise :func:`judge_training` says what is wrong with it); the order is judged over all of them:
    it fails when every run visited the examples in their stored order in every epoch (never shuffled), or
    when every run repeated one order in all its epochs (shuffled once, before the epoch loop) -- unless all
    the runs took the same minibatches, which is one run repeated (the generator reseeded inside the function:
    not an order to judge, and reported by the suites' reseeding tests).  With 4 examples in minibatches of 2
    a shuffled epoch (``torch.randperm``, a ``DataLoader``) is one of 6 equally likely ones, so a correct loop
    fails this over 4 runs of 3 epochs with probability 6^-12 (stored order) or 36^-4 (one order).
    """
    stored = tuple([stored_order_epoch(n, batch_size)] * num_epochs)
    found = []
    for start, trained in outcomes:
        if len(trained) != len(start) or any(a.shape != b.shape for a, b in zip(trained, start)):
            judge_training(call, trained, start, grad, n, batch_size, num_epochs, lr, where)
        sequences = matching_epochs(trained, start, grad, n, batch_size, num_epochs, lr)
        if not sequences:
            try:
                judge_training(call, trained, start, grad, n, batch_size, num_epochs, lr, where)
            except AssertionError as error:
                raise AssertionError(f"the order of the examples could not be judged: {error}") from None
            raise AssertionError(f"the order of the examples could not be judged: the parameters of {where} after "
                                 f"{call} are not those of a run of minibatch SGD")
        found.append(sequences)
    runs_said = f"{len(outcomes)} runs of {call}, with the random generators seeded differently before each,"
    if all(stored in sequences for sequences in found):
        raise AssertionError(f"in {runs_said} every epoch visited the examples in their stored order (0, 1, 2, ...): "
                             "shuffle them at the start of every epoch (idx = torch.randperm(n), then minibatches "
                             "of idx; or a DataLoader with shuffle=True)")
    if all(sequences == found[0] for sequences in found):
        return  # one run repeated: the function reseeds the generator itself, which a test of its own reports
    if all(any(len(set(epochs)) == 1 for epochs in sequences) for sequences in found):
        raise AssertionError(f"in {runs_said} all the epochs of a run visited the examples in the same order: draw "
                             "a new random order at the start of EVERY epoch (torch.randperm(n) inside the epoch "
                             "loop, or a DataLoader with shuffle=True), not once before the loop")
