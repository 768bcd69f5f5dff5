"""Judging the minibatches a student's training loop back-propagated, with messages that name the mistake.

Shared by the hidden suites (softmax_regression, mlp); like them it lives in ``grader_tests/`` and
never ships in the package (``autograder.grading.run_suite`` makes this folder importable while a
suite runs).  The suites record, in the sandbox, the number of examples of every output that
reached ``backward`` (a hook on a model the grader built, or a wrapper around the student's forward
function) and read the list back as plain data; this module decides whether those sizes are one
pass over the data per epoch in minibatches of ``batch_size`` (the last one smaller, any order).
"""

from __future__ import annotations


def expected_batches(n: int, batch_size: int) -> list[int]:
    """The minibatch sizes of one epoch over ``n`` examples: ``batch_size`` each, the last one smaller."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def judge_minibatches(call: str, sizes: list[int], n: int, batch_size: int, num_epochs: int, where: str) -> None:
    """Raise an AssertionError unless ``sizes`` are, in any order, ``num_epochs`` epochs of
    :func:`expected_batches`; the message says which mistake the sizes look like.

    ``call`` describes the student's call (``"train(net, X, ...)"``), ``where`` what the losses had to go
    back through (``"the model passed in"``).
    """
    per_epoch = expected_batches(n, batch_size)
    if sorted(sizes) == sorted(per_epoch * num_epochs):
        return
    if not sizes:
        raise AssertionError(f"during {call} no minibatch loss was back-propagated through {where}: compute the "
                             "loss of every minibatch and call backward() on it")
    if 0 in sizes:
        raise AssertionError(f"during {call} an EMPTY minibatch reached backward (minibatch sizes {sizes}): the "
                             "starts are range(0, n, batch_size) and each minibatch is order[start:start + batch_size]")
    if n > batch_size and all(s == n for s in sizes):
        raise AssertionError(f"during {call} every step used all {n} examples ({len(sizes)} steps): split each "
                             f"epoch into minibatches of batch_size={batch_size} examples")
    if max(sizes) > batch_size:
        raise AssertionError(f"during {call} a minibatch had {max(sizes)} examples, more than "
                             f"batch_size={batch_size}: use the batch_size you are given")
    if sum(sizes) % n == 0 and sum(sizes) // n != num_epochs:
        raise AssertionError(f"during {call} the model saw {sum(sizes) // n} epoch(s) of data, expected "
                             f"num_epochs={num_epochs}")
    if len(per_epoch) > 1 and sorted(sizes) == sorted(per_epoch[:-1] * num_epochs):
        raise AssertionError(f"during {call} the minibatches had {sizes} examples: the last, smaller minibatch of "
                             f"each epoch ({n} = {len(per_epoch) - 1} x {batch_size} + {per_epoch[-1]}) was "
                             "dropped; every example must be used once per epoch (no drop_last=True, and "
                             "range(0, n, batch_size) for the starts)")
    raise AssertionError(f"during {call} the minibatches reaching backward had {sizes} examples, expected "
                         f"{per_epoch} (in any order) in each of the {num_epochs} epochs: every example once per "
                         f"epoch, in minibatches of batch_size={batch_size} (the last one smaller), starting at "
                         "range(0, n, batch_size)")
