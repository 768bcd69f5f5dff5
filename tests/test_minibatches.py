"""grader_tests/shared_minibatches.py: which recorded minibatch sizes pass, and what the message says otherwise."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "grader_tests" / "shared_minibatches.py"
_spec = importlib.util.spec_from_file_location("shared_minibatches", _PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
expected_batches, judge_minibatches = _module.expected_batches, _module.judge_minibatches


def judge(sizes, n=50, batch_size=16, num_epochs=2):
    judge_minibatches("train(...)", sizes, n, batch_size, num_epochs, "the model")


def test_expected_batches():
    assert expected_batches(50, 16) == [16, 16, 16, 2]
    assert expected_batches(48, 16) == [16, 16, 16]
    assert expected_batches(1, 4) == [1]


@pytest.mark.parametrize("sizes", [[16, 16, 16, 2] * 2, [2, 16, 16, 16, 16, 2, 16, 16]])
def test_every_order_of_the_right_minibatches_passes(sizes):
    judge(sizes)


@pytest.mark.parametrize("sizes, words", [
    ([], "no minibatch loss"),
    ([16, 16, 16, 2, 0, 16, 16, 16, 2], "EMPTY minibatch"),
    ([50, 50], "every step used all 50"),
    ([32, 18, 32, 18], "more than batch_size=16"),
    ([16, 16, 16, 2], "1 epoch(s)"),
    ([16, 16, 16] * 2, "last, smaller minibatch of each epoch (50 = 3 x 16 + 2) was dropped"),
    ([16, 16, 16, 1] * 2, "expected [16, 16, 16, 2] (in any order)"),
])
def test_typical_mistakes_are_named(sizes, words):
    with pytest.raises(AssertionError) as failure:
        judge(sizes)
    assert words in str(failure.value)


def test_a_single_example():
    judge_minibatches("train(...)", [1, 1, 1], 1, 4, 3, "the model")
    with pytest.raises(AssertionError, match="2 epoch"):
        judge_minibatches("train(...)", [1, 1], 1, 4, 3, "the model")
