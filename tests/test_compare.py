"""The comparison helpers' messages: what a student reads when a check fails."""

import pytest
import torch

from autograder.compare import (EPS32, SCALE_ROUNDINGS, assert_dtype, assert_device, assert_finite,
                                assert_is_tensor, assert_same_shape, assert_scalar_close, assert_tensor_close,
                                assert_values_close, describe, first_mismatch, fmt_number, input_scale,
                                shape_hint, tolerance)


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.fixture
def expected():
    X = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, -2.0]],
                     dtype=torch.float64)
    return torch.softmax(X, dim=1)


def from_child(t: torch.Tensor, device: str) -> torch.Tensor:
    """A tensor as the wire hands it back: on the CPU, remembering the child's device."""
    t = t.clone()
    t._d2l_device = device
    return t


# ----------------------------------------------------------------------------- types


def test_not_a_tensor_list(expected):
    msg = message(assert_tensor_close, [0.1, 0.2], expected, what="softmax(X)")
    assert msg.startswith("softmax(X) returned a list of 2 items, expected a torch.Tensor")


def test_not_a_tensor_none_says_return(expected):
    msg = message(assert_tensor_close, None, expected, what="softmax(X)")
    assert "returned None, expected a torch.Tensor" in msg and "return" in msg.split(":", 1)[1]


def test_tuple_holding_a_tensor(expected):
    msg = message(assert_is_tensor, (expected.float(), 1), what="softmax(X)")
    assert "returned a tuple of 2 items" in msg and "not a list or tuple containing it" in msg


def test_python_number_instead_of_tensor():
    msg = message(assert_is_tensor, 0.5, what="loss(y_hat, y)")
    assert "returned a float (0.5), expected a torch.Tensor" in msg and ".item()" in msg


def test_non_call_what_uses_is():
    assert message(assert_is_tensor, None, what="params[0]").startswith("params[0] is None")


def test_describe_never_reprs_big_objects():
    big = torch.zeros(1000, 1000)
    assert describe(big) == "a torch.Tensor of shape (1000, 1000) and dtype torch.float32"
    assert describe(list(range(10_000))) == "a list of 10000 items"
    assert describe({"a": 1}) == "a dict of 1 item"
    assert describe(object()) == "an object"


# ----------------------------------------------------------------------------- shapes


def test_shape_missing_dimension(expected):
    msg = message(assert_tensor_close, torch.zeros(4), expected, what="softmax(X)")
    assert msg.startswith("softmax(X) has shape (4,), expected (4, 3)")
    assert "dimension 1 (of size 3) is missing" in msg


def test_shape_transposed(expected):
    msg = message(assert_tensor_close, torch.zeros(3, 4), expected, what="softmax(X)")
    assert "has shape (3, 4), expected (4, 3)" in msg and "transposed" in msg


def test_shape_scalar_instead_of_vector():
    msg = message(assert_same_shape, torch.tensor(1.0), (4,), what="cross_entropy(y_hat, y)")
    assert "has shape (), expected (4,)" in msg and ".mean()" in msg


def test_shape_extra_dimension_of_size_one():
    msg = message(assert_same_shape, torch.zeros(4, 1), (4,), what="cross_entropy(y_hat, y)")
    assert "extra dimension 1 of size 1" in msg


def test_shape_extra_dimension_from_broadcasting():
    msg = message(assert_same_shape, torch.zeros(4, 4), (4,), what="cross_entropy(y_hat, y)")
    assert "extra dimension" in msg and "broadcasting" in msg


def test_shape_custom_hint_replaces_generic():
    msg = message(assert_same_shape, torch.zeros(4, 4), (4,), what="f(x)", hint="use y_hat[range(n), y]")
    assert msg == "f(x) has shape (4, 4), expected (4,): use y_hat[range(n), y]"


def test_shape_hint_cases():
    assert shape_hint((4, 3), (4, 3)) == ""
    assert "reshape" in shape_hint((2, 6), (4, 3))
    assert "dimension 0 has size 5 instead of 4" in shape_hint((5, 3), (4, 3))
    assert "keepdim=True" in shape_hint((4,), (4, 1))


# ----------------------------------------------------------------------------- dtype and device


def test_dtype_float64_instead_of_float32(expected):
    msg = message(assert_tensor_close, expected, expected, what="softmax(X)", dtype=torch.float32)
    assert "softmax(X) has dtype torch.float64, expected torch.float32" in msg and "dtype" in msg


def test_dtype_integer_result():
    msg = message(assert_dtype, torch.zeros(3, dtype=torch.int64), torch.float32, what="f(x)")
    assert "has dtype torch.int64, expected torch.float32" in msg and "integer" in msg


def test_device_cuda_index_matches_plain_cuda(expected):
    actual = from_child(expected.float(), "cuda:0")
    assert_tensor_close(actual, expected, what="softmax(X)", device="cuda")
    assert_tensor_close(actual, expected, what="softmax(X)", device="cuda:0")
    assert_device(from_child(expected.float(), "cuda"), "cuda:0")


def test_device_mismatch(expected):
    msg = message(assert_tensor_close, from_child(expected.float(), "cpu"), expected, what="softmax(X)",
                  device="cuda")
    assert "softmax(X) is on device cpu, expected cuda" in msg and "X.device" in msg
    msg = message(assert_device, from_child(expected.float(), "cuda:1"), "cuda:0", what="softmax(X)")
    assert "on device cuda:1, expected cuda:0" in msg


def test_device_of_a_plain_cpu_tensor():
    assert_device(torch.zeros(2), "cpu")


# ----------------------------------------------------------------------------- finiteness


def test_nan_reported_at_first_index_with_counts(expected):
    actual = expected.float().clone()
    actual[2, 1] = float("nan")
    actual[3, 0] = float("inf")
    msg = message(assert_tensor_close, actual, expected, what="softmax(X)")
    assert msg.startswith("softmax(X) contains NaN at index (2, 1) (1 NaN and 1 infinite entry out of 12)")
    assert "exp overflow" in msg


def test_inf_first(expected):
    actual = expected.float().clone()
    actual[0, 2] = -float("inf")
    msg = message(assert_tensor_close, actual, expected, what="softmax(X)")
    assert "contains -inf at index (0, 2)" in msg


def test_finite_hint_replaces_default(expected):
    actual = expected.float().clone()
    actual[1, 1] = float("nan")
    msg = message(assert_tensor_close, actual, expected, what="softmax(X)",
                  finite_hint="on large inputs this usually means exp overflowed")
    assert msg.endswith(": on large inputs this usually means exp overflowed")


def test_nan_where_expected_is_nan_is_accepted():
    e = torch.tensor([1.0, float("nan"), float("inf")], dtype=torch.float64)
    assert_tensor_close(e.float(), e, what="f(x)")


def test_check_finite_off_still_compares_values():
    e = torch.tensor([1.0, 2.0], dtype=torch.float64)
    msg = message(assert_tensor_close, torch.tensor([1.0, float("nan")]), e, what="f(x)", check_finite=False)
    assert "differs at index (1,): got nan, expected 2.0" in msg


def test_assert_finite_alone():
    assert_finite(torch.ones(3), what="x")
    assert_finite(torch.arange(3), what="integers are always finite")
    msg = message(assert_finite, torch.tensor([0.0, float("nan")]), what="loss", hint="0 * log(0) is NaN")
    assert msg == "loss contains NaN at index (1,) (1 NaN and 0 infinite entries out of 2): 0 * log(0) is NaN"


# ----------------------------------------------------------------------------- values


def test_value_message_names_index_got_expected_and_tolerances(expected):
    actual = expected.float().clone()
    actual[1, 2] += 0.05
    msg = message(assert_tensor_close, actual, expected, what="softmax(X)")
    got, exp = fmt_number(actual[1, 2].item()), fmt_number(expected[1, 2].item())
    assert msg.startswith(f"softmax(X) differs at index (1, 2): got {got}, expected {exp}")
    assert "max abs error 0.05" in msg and "1 of 12 entries differ" in msg
    assert "rtol 1e-05, atol 1e-06" in msg


def test_float32_against_float64_within_tolerance(expected):
    assert_tensor_close(expected.float(), expected, what="softmax(X)", dtype=torch.float32)


def test_tolerances_are_respected():
    e = torch.tensor([1.0, 100.0], dtype=torch.float64)
    assert_values_close(e * (1 + 5e-6), e)
    message(assert_values_close, e * (1 + 5e-5), e)
    assert_values_close(e * (1 + 5e-5), e, rtol=1e-4)
    assert_values_close(torch.tensor([5e-7]), torch.tensor([0.0]))
    message(assert_values_close, torch.tensor([5e-6]), torch.tensor([0.0]))


def test_sign_flip_hint(expected):
    msg = message(assert_tensor_close, -expected, expected, what="loss")
    assert "opposite sign" in msg


def test_constant_factor_hint(expected):
    msg = message(assert_tensor_close, 4 * expected, expected, what="grad")
    assert "about 4.0 times the expected value" in msg


def test_transpose_hint():
    e = torch.arange(25, dtype=torch.float64).reshape(5, 5)
    msg = message(assert_tensor_close, e.T.contiguous(), e, what="g")
    assert "transposed" in msg


def test_no_factor_hint_for_a_single_value():
    msg = message(assert_tensor_close, torch.tensor(1.0), torch.tensor(1.5, dtype=torch.float64), what="loss")
    assert msg == "loss differs: got 1.0, expected 1.5 (max abs error 0.5; rtol 1e-05, atol 1e-06)"


def test_custom_hint_replaces_generic_only_for_values(expected):
    msg = message(assert_tensor_close, 4 * expected, expected, what="grad", hint=lambda a: "divide by n")
    assert msg.endswith(": divide by n") and "times" not in msg
    # An empty custom hint falls back to the generic one.
    msg = message(assert_tensor_close, 4 * expected, expected, what="grad", hint=lambda a: "")
    assert "about 4.0 times" in msg
    # Shape problems keep their own hint.
    msg = message(assert_tensor_close, torch.zeros(4), expected, what="grad", hint=lambda a: "divide by n")
    assert "divide by n" not in msg


def test_message_stays_short_for_huge_tensors():
    e = torch.zeros(1000, 1000, dtype=torch.float64)
    a = torch.full((1000, 1000), 0.5)
    msg = message(assert_tensor_close, a, e, what="f(X)")
    assert len(msg) < 400 and "1000000 of 1000000 entries differ" in msg


def test_zero_d_tensors_and_empty_tensors():
    assert_tensor_close(torch.tensor(2.0), torch.tensor(2.0, dtype=torch.float64), what="x")
    assert_tensor_close(torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.float64), what="x")


def test_expected_may_be_a_python_list():
    assert_tensor_close(torch.tensor([1.0, 2.0]), [1.0, 2.0], what="x")


def test_first_mismatch():
    e = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    assert first_mismatch(e.float(), e) is None
    a = e.clone()
    a[1, 0] = 3.5
    a[1, 1] = 5.0
    m = first_mismatch(a, e)
    assert m["index"] == (1, 0) and m["got"] == 3.5 and m["expected"] == 3.0
    assert m["count"] == 2 and m["max_abs_error"] == 1.0 and m["max_index"] == (1, 1)


def test_fmt_number_shows_enough_digits_to_differ():
    assert fmt_number(0.25) == "0.25"
    assert fmt_number(3) == "3.0"
    assert fmt_number(0.2500001, 0.25) != fmt_number(0.25, 0.2500001)
    assert fmt_number(float("nan")) == "nan"


# ----------------------------------------------------------------------------- Python scalars


def test_scalar_tensor_instead_of_float():
    msg = message(assert_scalar_close, torch.tensor(0.75), 0.75, what="accuracy(y_hat, y)")
    assert msg.startswith("accuracy(y_hat, y) returned a torch.Tensor of shape () and dtype torch.float32, "
                          "expected a Python float")
    assert "float(...) or .item()" in msg


def test_scalar_int_and_bool_are_not_floats():
    assert "returned an int (1), expected a Python float" in message(assert_scalar_close, 1, 1.0,
                                                                     what="accuracy(y_hat, y)")
    assert "returned a bool (True)" in message(assert_scalar_close, True, 1.0, what="accuracy(y_hat, y)")


def test_scalar_value_mismatch_and_pass():
    msg = message(assert_scalar_close, 0.5, 0.75, what="accuracy(y_hat, y)")
    assert msg == "accuracy(y_hat, y) is 0.5, expected 0.75 (rtol 1e-05, atol 1e-06)"
    assert_scalar_close(0.75, 0.75, what="accuracy(y_hat, y)")
    assert_scalar_close(3, 3.0, what="n", kind=int)
    assert_scalar_close(2.0, 2, what="x", kind=(int, float))


def test_scalar_nan():
    msg = message(assert_scalar_close, float("nan"), 0.5, what="perplexity(l)")
    assert "is nan, expected the finite value 0.5" in msg


def test_input_names_and_hints():
    from autograder.compare import fail_with_hint, fmt_tensor
    assert fmt_tensor("X", torch.zeros(4, 3, dtype=torch.float64)) == "X of shape (4, 3) (float64)"
    with pytest.raises(AssertionError, match=r"^wrong -- use keepdim=True$"):
        fail_with_hint(AssertionError("wrong"), "use keepdim=True")
    with pytest.raises(AssertionError, match=r"^wrong$"):
        fail_with_hint(AssertionError("wrong"), "")


def test_seeded_inputs_are_reproducible_and_cast_from_float64():
    from autograder.seeded import SeededInputs
    a, b = SeededInputs(7), SeededInputs(7)
    assert torch.equal(a.randn((3, 2), 10), b.randn((3, 2), 10))
    assert not torch.equal(a.randn((3, 2), 10), a.randn((3, 2), 11))
    x64 = a.randn((5,), 3, dtype=torch.float64, scale=2.0, shift=1.0)
    expected = torch.randn((5,), generator=torch.Generator().manual_seed(10), dtype=torch.float64) * 2.0 + 1.0
    assert torch.equal(x64, expected)
    assert torch.equal(a.randn((5,), 3, scale=2.0, shift=1.0), expected.float())


# ----------------------------------------------------------------------------- tolerances derived from the inputs


def _softmax64(X):
    e = torch.exp(X - X.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


LARGE_LOGITS = torch.tensor([[1e4, 0.0, -1e4, 5e3], [-1e4, -9999.0, -1e4, -9990.0], [100.0, 99.0, 101.0, 50.0],
                             [9999.5, 1e4, -1e4, 1e4], [-9e3, 9e3, 8999.0, 0.0]])
LARGE_LABELS = torch.tensor([2, 3, 0, 1, 1])


def _ce_grad64(logits, y):
    return (_softmax64(logits.double()) - torch.nn.functional.one_hot(y, logits.shape[1]).double()) / logits.shape[0]


def test_rule_at_unit_scale_is_the_fixed_default():
    assert tolerance() == (1e-5, 1e-6) == tolerance(torch.float32, scale=1.0)
    assert tolerance(torch.float64) == (1e-10, 1e-12)
    # 4 eps32 * 2 is below the floor: inputs of magnitude about 1 keep exactly DESIGN §6's tolerances.
    assert tolerance(inputs=[torch.tensor([0.5, -2.0])]) == (1e-5, 1e-6)


def test_rule_grows_with_scale_and_conditioning():
    rtol, atol = tolerance(torch.float32, scale=1e4)
    assert rtol == 1e-5 and atol == pytest.approx(SCALE_ROUNDINGS * EPS32 * 1e4)
    assert tolerance(torch.float32, scale=1e4, conditioning=0.1).atol == pytest.approx(0.1 * atol)
    assert tolerance(torch.float64, scale=1e4).atol == pytest.approx(SCALE_ROUNDINGS * 2.0 ** -52 * 1e4)
    assert EPS32 == 2.0 ** -23


def test_input_scale_skips_labels_and_non_finite_entries():
    X = torch.tensor([[3.0, -7.5], [float("inf"), float("nan")]])
    labels = torch.tensor([100, 2])
    assert input_scale(X, labels) == 7.5
    assert input_scale([X, (2.0, -9)], labels) == 9.0
    assert input_scale(labels) == 0.0 and input_scale() == 0.0
    # The dtype of the floating inputs picks the rule: float64 inputs, float64's units.
    m = first_mismatch(torch.tensor([1.0 + 1e-9], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64),
                       inputs=[torch.tensor([1.0], dtype=torch.float64)])
    assert m is not None and m["atol"] == 1e-12


def test_error_of_a_few_eps_times_scale_passes_and_100_times_that_fails():
    """An error at float32's resolution at the inputs' magnitude passes; the same error 100x larger fails."""
    e = _ce_grad64(LARGE_LOGITS, LARGE_LABELS)
    n = LARGE_LOGITS.shape[0]
    unit = EPS32 * 1e4 * 0.5 / n           # eps32 x scale x conditioning: float32's resolution here
    wiggle = torch.tensor([1.0, -1.0, 0.5, -0.25])
    ok = (e + unit * wiggle).float()
    assert_tensor_close(ok, e, inputs=LARGE_LOGITS, conditioning=0.5 / n, what="g")
    msg = message(assert_tensor_close, (e + 100 * unit * wiggle).float(), e, inputs=LARGE_LOGITS,
                  conditioning=0.5 / n, what="g")
    assert msg.startswith("g differs at index (0, 0)")
    # The message prints the tolerances actually used.
    assert f"rtol 1e-05, atol {SCALE_ROUNDINGS * EPS32 * 1e4 * 0.5 / n:g})" in msg


def test_stable_logsumexp_formulation_passes_at_large_logits_unstable_ones_fail():
    """softmax_ce_grad written with logsumexp is off by ~1e-4 at logits near 1e4 (float32 rounds m + log(sum)
    to ~1e-3): a fixed atol 1e-6 fails it, the derived tolerance does not; overflow and clamping still fail."""
    logits, y = LARGE_LOGITS, LARGE_LABELS
    n, q = logits.shape
    e = _ce_grad64(logits, y)
    one_hot = torch.nn.functional.one_hot(y, q).float()
    stable = (torch.exp(logits - torch.logsumexp(logits, dim=1, keepdim=True)) - one_hot) / n
    rows = logits.abs().amax(dim=1, keepdim=True)   # each row of the result is fed by its own row of logits
    assert first_mismatch(stable, e) is not None     # the old fixed tolerance
    assert_tensor_close(stable, e, scale=rows, conditioning=0.5 / n, what="softmax_ce_grad")
    overflow = (torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True) - one_hot) / n
    assert "contains NaN" in message(assert_tensor_close, overflow, e, scale=rows, conditioning=0.5 / n,
                                     what="softmax_ce_grad")
    clamped = torch.exp(logits.clamp(-80, 80))
    clamped = (clamped / clamped.sum(1, keepdim=True) - one_hot) / n   # finite, but wrong at large logits
    assert "differs at index (0, 0)" in message(assert_tensor_close, clamped, e, scale=rows,
                                                conditioning=0.5 / n, what="softmax_ce_grad")


def test_log_of_an_underflowed_softmax_still_fails():
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    targets = torch.tensor([1, 1])
    expected = torch.nn.functional.cross_entropy(logits.double(), targets)
    stable = (torch.logsumexp(logits, dim=1) - logits[torch.arange(2), targets]).mean()
    assert_tensor_close(stable, expected, inputs=logits, conditioning=2, what="loss")
    p = torch.exp(logits - logits.max(1, keepdim=True).values)
    naive = -torch.log((p / p.sum(1, keepdim=True))[torch.arange(2), targets]).mean()
    assert "contains inf" in message(assert_tensor_close, naive, expected, inputs=logits, conditioning=2,
                                     what="loss")


def test_tensor_scale_is_per_entry_and_the_message_names_the_atol_used_there():
    e = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    scale = torch.tensor([1.0, 1e4, 1e4])              # an element-wise function of X = [1, 1e4, -1e4]
    big = SCALE_ROUNDINGS * EPS32 * 1e4
    def f32(*errors):  # a float32 result off by these errors
        return (e + torch.tensor(errors, dtype=torch.float64)).float()

    assert_values_close(f32(0.0, 0.5 * big, -0.5 * big), e, scale=scale)
    msg = message(assert_values_close, f32(0.5 * big, 0.0, 0.0), e, scale=scale, what="f(X)")
    assert msg.startswith("f(X) differs at index (0,)") and msg.endswith("rtol 1e-05, atol 1e-06)")
    msg = message(assert_values_close, f32(0.0, 0.0, 2 * big), e, scale=scale, what="f(X)")
    assert "differs at index (2,)" in msg and f"atol {big:g})" in msg
    m = first_mismatch(f32(0.0, 0.0, 2 * big), e, scale=scale)
    assert m["index"] == (2,) and m["atol"] == pytest.approx(big) and m["rtol"] == 1e-5
    # A float64 result is held to float64's rule.
    assert first_mismatch(f32(0.0, 0.5 * big, 0.0).double(), e, scale=scale) is not None


def test_derived_tolerance_keeps_nan_and_inf_semantics():
    e = torch.tensor([1.0, float("nan"), float("inf")], dtype=torch.float64)
    assert_values_close(e.float(), e, scale=torch.tensor([1e4, 1e4, 1e4]))
    assert first_mismatch(torch.tensor([1.0, 0.0, float("inf")]), e, scale=torch.tensor([1e4, 1e4, 1e4])) is not None
    assert first_mismatch(torch.tensor([1.0, float("nan"), -float("inf")]), e, scale=1e4) is not None


def test_scalar_with_derived_tolerance():
    assert_scalar_close(6243.0 + 5e-3, 6243.0, inputs=[torch.tensor([1e4])], conditioning=2, what="loss")
    assert_scalar_close(0.474 + 5e-3, 0.474, scale=1e4, conditioning=2, what="loss")
    msg = message(assert_scalar_close, 0.474 + 0.5, 0.474, scale=1e4, conditioning=2, what="loss")
    assert msg.endswith(f"(rtol 1e-05, atol {SCALE_ROUNDINGS * EPS32 * 2e4:g})")


def test_tolerances_are_either_explicit_or_derived():
    e = torch.ones(3, dtype=torch.float64)
    with pytest.raises(TypeError, match="not both"):
        assert_tensor_close(e.float(), e, atol=1e-3, inputs=e)
    with pytest.raises(TypeError, match="needs the inputs"):
        assert_values_close(e.float(), e, conditioning=0.5)
    with pytest.raises(ValueError):
        tolerance(scale=1.0, conditioning=-1)
