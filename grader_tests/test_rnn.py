"""Hidden suite for the ``rnn`` assignment (grader only; never shipped).

Exercises: ``count_ngrams``, ``one_hot``, ``init_rnn_state``, ``rnn_step``, ``rnn``,
``char_level_loss``, ``perplexity``, ``grad_clipping`` (DESIGN §5) and ``train_char_rnn``.
Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on the CPU, from fixed seeds
(``SEED`` + a per-test offset); the ``student`` proxy moves them to the device under test.  The
student gets float32 inputs; the reference runs in float64 on exactly those values (cast up), so a
difference measures the student's computation, not input rounding.  RNN fixtures have B, T, V, h
(and q) all different, plus square and batch-of-one cases, and a non-symmetric ``W_hh`` (checked),
so that ``H @ W_hh.T``, a batch-major layout or a misaligned target cannot pass by coincidence.

Decisions documented here:

* Tolerances: rtol 1e-5 everywhere; atol 1e-5 for one RNN step and 1e-4 for ``rnn`` (up to 35
  steps, DESIGN §6), values and gradients alike; atol 1e-6 for the loss (for logits of 1e4, the
  tolerance follows their magnitude: :func:`autograder.compare.tolerance`).  Measured on the CPU: with
  the weight scales used below (0.5, h <= 8), the worst float32 gradient error over 35 steps is 1/20
  of the tolerance (it grows fast with larger weights and h: keep the fixtures as they are).
* ``char_level_loss`` may use ``F.cross_entropy`` / ``nn.CrossEntropyLoss`` (the book does); what is
  graded is the alignment of time-major logits with batch-major targets, the mean, a 0-d
  differentiable result, and stability for logits of magnitude 1e4 (``log(softmax(...))`` fails).
* ``perplexity`` returns a Python float, for a Python number or a 0-d tensor.
* ``grad_clipping``: the generator case goes through ``student.eval`` (a generator cannot cross
  the wire); parameters' gradients may be scaled in place or replaced; the return value is not
  graded.  The no-built-in test needs working values too, otherwise a stub would earn it, and its
  call is observed (:mod:`autograder.observed`): ``CLIP_OPS`` bans the ``_foreach_*`` kernels that
  ``clip_grad_norm_`` reached through a computed name runs.
* ``count_ngrams``: keys are tuples of ``n`` tokens (1-tuples for ``n == 1``), counts Python ints;
  a dict with tuple keys stays in the sandbox and is read back with ``student.eval``.
* ``train_char_rnn``: the corpus is sampled from a seeded SECOND-order Markov chain over 6 symbols,
  whose entropy rate is computed exactly (stationary distribution of the pair chain).  The bound
  on the perplexity is the geometric mean of the chain's true perplexity and the best perplexity
  any model that sees only the current token can reach: beating it needs the hidden state.  The
  grader recomputes the perplexity of the returned parameters with the reference ``rnn`` on a
  held-out sample of the same chain (graded against the bound), and on the training corpus (the
  reported perplexity must agree with it within 15%).  Every context has the successor
  probabilities 0.7, 0.2, 0.1, so the true perplexity is exp(H(0.7, 0.2, 0.1)) = 2.230; for this
  chain the best first-order perplexity is 4.462, the unigram one 5.848, the bound 3.154.  The
  reference reaches 2.48-2.56 on held-out text over 13 seeds (reported within 2.3% of the
  recomputed value) in about a second on one CPU thread.  The training call is made once per
  submission and device (cached), with a 30 s limit.
* ``train_char_rnn`` is also pinned exactly (``TestTrainCharRnnExactly``): on a corpus of one token
  repeated (B + 1) * T + 1 times (T < B) every partitioning -- sequential or random, with or without the
  book's random offset -- gives the same single minibatch per epoch, so a run with lr = 0 returns
  the initial parameters (their distribution is checked) and a run with the same seed and lr = 1
  must return exactly two clipped SGD steps from them (float64 here, rtol 1e-4), with the state of
  the second epoch fresh or carried over, and the last epoch's perplexity.  On (2B + 1) * T + 1
  copies of the token every partitioning gives TWO minibatches per epoch: one epoch there pins the
  reported perplexity to the epoch's (exp of the mean loss over both minibatches' tokens), which the
  seeded run cannot tell from the last minibatch's (they agree within its 15%).
* ``init_rnn_state`` is also called with ``device='meta'`` (every build of torch has it): a state
  that ignores ``device`` fails there without a GPU.
"""

import codecs
import contextlib
import functools
import io
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from autograder import inspections
from autograder.banned import find_banned
from autograder.public.banned_rules import CLIP_BANNED
from autograder.compare import (assert_device, assert_dtype, assert_is_tensor, assert_same_shape, assert_scalar_close,
                                assert_tensor_close, describe, fail_with_hint, first_mismatch, fmt_number, fmt_shape)
from autograder.observed import assert_no_banned_operators, ban
from autograder.seeded import SeededInputs

SEED = 20_240_611
_INPUTS = SeededInputs(SEED)
_gen = _INPUTS.gen

RTOL, ATOL = 1e-5, 1e-6
STEP_ATOL = 1e-5          # one RNN step: a few float32 matmuls of length <= 8, then tanh
RNN_ATOL = 1e-4           # DESIGN §6: an RNN over <= 35 steps

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

# The ATen image of CLIP_BANNED: torch.nn.utils' clipping runs the multi-tensor _foreach_* kernels (unless
# told foreach=False: then it runs the same linalg_vector_norm and mul_ as a by-hand answer, unseen here).
CLIP_OPS = ban("the multi-tensor kernels of torch.nn.utils' clipping", CLIP_BANNED["clip_grad_norm_"],
               "_foreach_*")

DETACHED_HINT = ("if the values pass their own test, a wrong or missing gradient usually means part of the "
                 "computation is cut out of the autograd graph (.detach(), .data, .item(), .numpy(), "
                 "torch.tensor(...) of intermediate results) or a tensor is changed in place")


# ----------------------------------------------------------------------------- helpers


def _randn(shape, gen, scale=1.0) -> torch.Tensor:
    """float32 values drawn in float64 (reproducible)."""
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(torch.float32)


def _close(a, b, rtol=1e-4, atol=1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape and bool(torch.isfinite(a).all())
            and first_mismatch(a, b, rtol=rtol, atol=atol) is None)


def _rnn_params(V, h, q, gen, scale=0.5):
    """[W_xh, W_hh, b_h, W_hq, b_q] in float32, with a clearly non-symmetric W_hh."""
    params = [_randn((V, h), gen, scale), _randn((h, h), gen, scale), _randn((h,), gen, 0.3),
              _randn((h, q), gen, scale), _randn((q,), gen, 0.3)]
    W_hh = params[1]
    assert h == 1 or (W_hh - W_hh.T).abs().max() > 0.1, "fixture: W_hh must not be symmetric"
    return params


def _simulate(inputs, H, params, *, act=torch.tanh, bias=True, whh_t=False, reset=False):
    """The RNN forward pass in float64 with optional deliberate mistakes (for hints only)."""
    W_xh, W_hh, b_h, W_hq, b_q = [p.double() for p in params]
    H0 = H = H.double()
    outputs = []
    for X_t in inputs.double():
        start = H0 if reset else H
        H = act(X_t @ W_xh + start @ (W_hh.T if whh_t else W_hh) + (b_h if bias else 0))
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), H


STEP_MISTAKES = [
    (dict(act=torch.relu), "the hidden state uses ReLU; the RNN of the book uses tanh: "
                           "H_new = torch.tanh(X_t @ W_xh + H @ W_hh + b_h)"),
    (dict(bias=False), "the hidden bias b_h is missing: H_new = tanh(X_t @ W_xh + H @ W_hh + b_h)"),
    (dict(whh_t=True), "it matches H @ W_hh.T: rows of H are examples, so multiply by W_hh from the "
                       "right as it is, H @ W_hh (W_hh is not symmetric)"),
]


def _step_hint(out_Y, out_H, X_t, H, params) -> str:
    for kwargs, hint in STEP_MISTAKES:
        Y_alt, H_alt = _simulate(X_t[None], H, params, **kwargs)
        if _close(out_H, H_alt) or _close(out_Y, Y_alt):
            return hint
    W_hq, b_q = params[3].double(), params[4].double()
    Y_old = H.double() @ W_hq + b_q
    if isinstance(out_Y, torch.Tensor) and _close(out_Y, Y_old):
        return "the output is computed from the old state: use the NEW state, Y = H_new @ W_hq + b_q"
    return ""


def _rnn_hint(out, inputs, H, params) -> str:
    T, B = inputs.shape[0], inputs.shape[1]
    if T > 1:
        alt, _ = _simulate(inputs, H, params, reset=True)
        if _close(out, alt, atol=1e-4):
            return ("only step 0 is right: every step starts from the initial state; each step must start "
                    "from the state the previous step returned (H = the new state, inside the loop)")
    for kwargs, hint in STEP_MISTAKES:
        alt, _ = _simulate(inputs, H, params, **kwargs)
        if _close(out, alt, atol=1e-4):
            return hint
    if T > 1 and B > 1 and isinstance(out, torch.Tensor) and out.dim() == 2:
        ref, _ = _simulate(inputs, H, params)
        q = ref.shape[1]
        batch_major = ref.reshape(T, B, q).transpose(0, 1).reshape(T * B, q)
        if _close(out, batch_major, atol=1e-4):
            return ("the rows are in batch-major order: concatenate the steps' outputs along dim 0 so that "
                    "the B rows of step 0 come first, then those of step 1, ...")
    return ""


def _call(student, fn, *args, hint="", **kwargs):
    """``student.call`` with a hint appended to a failure (a shape error from a swapped matmul, ...)."""
    try:
        return student.call(fn, *args, **kwargs)
    except AssertionError as error:
        text = str(error)
        extra = hint
        if "cannot be multiplied" in text or "must match the size" in text or "size mismatch" in text:
            extra = extra or ("a shape error in a matrix product: rows are examples, so the products are "
                              "X_t @ W_xh, H @ W_hh and H @ W_hq (never W_hh @ H)")
        fail_with_hint(error, extra)


def _check_grads(reply, expected: dict, names, *, atol, device, fn):
    """Compare the input gradients (in ``names`` order) with the expected float64 ones."""
    grads = reply.input_grads or []
    for i, name in enumerate(names):
        grad = grads[i] if i < len(grads) else None
        if grad is None:
            raise AssertionError(
                f"no gradient reached {name} through {fn}: the outputs are not connected to {name} in "
                f"the autograd graph -- {DETACHED_HINT}")
        assert_tensor_close(grad, expected[name], rtol=RTOL, atol=atol, device=device, dtype=torch.float32,
                            what=f"the gradient of {fn}'s outputs with respect to {name}", hint=DETACHED_HINT)


def _reference_grads(fn, tensors: dict, cotangents):
    """Gradients of ``fn(**float64 leaves)`` (a tuple of outputs) w.r.t. every tensor, for the cotangents."""
    leaves = {k: v.double().requires_grad_() for k, v in tensors.items()}
    outs = fn(leaves)
    pairs = [(o, c.double()) for o, c in zip(outs, cotangents) if c is not None]
    grads = torch.autograd.grad([o for o, _ in pairs], list(leaves.values()), [c for _, c in pairs],
                                allow_unused=True)
    return {k: (torch.zeros_like(v) if g is None else g) for (k, v), g in zip(leaves.items(), grads)}


# ============================================================================ count_ngrams


@functools.lru_cache(maxsize=1)
def _zen() -> str:
    """The Zen of Python, from the standard library's ``this`` module (importing it prints)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


def _ngram_items(student, tokens, n):
    """(what, result dict) of the student's count_ngrams, read back as plain data."""
    what = f"count_ngrams(tokens, {n})"
    try:
        value = student.call("count_ngrams", tokens, n).value
    except AssertionError as error:
        hint = ""
        if "unhashable" in str(error):
            hint = ("lists cannot be dictionary keys: make each n-gram a tuple, tuple(tokens[i:i + n]) "
                    "(slicing a list of tokens gives a list)")
        fail_with_hint(error, hint)
    if hasattr(value, "handle"):  # a dict with tuple keys stays in the sandbox
        items = student.eval(inspections.DICT_ITEMS,
                             label=f"reading the items of the result of {what}", r=value)
        if items is None:
            raise AssertionError(f"{what} returned an object of type {value.type_name}, expected a dict "
                                 "(or collections.Counter) mapping each n-gram tuple to its count")
        return what, items
    if not isinstance(value, dict):
        raise AssertionError(f"{what} returned {describe(value)}, expected a dict (or collections.Counter) "
                             "mapping each n-gram tuple to its count")
    return what, list(value.items())


def _check_ngrams(student, reference, tokens, n, label):
    what, items = _ngram_items(student, tokens, n)
    what = f"{what} for {label}"
    expected = dict(reference.count_ngrams(tokens, n))
    for key, count in items:
        if not isinstance(key, tuple):
            hint = (": for n = 1 too, use 1-tuples such as ('e',) so every key has the same form"
                    if n == 1 else ": build each key with tuple(tokens[i:i + n])")
            raise AssertionError(f"{what} has a key that is {describe(key)}, expected a tuple of {n} "
                                 f"token{'s' if n > 1 else ''}{hint}")
        if len(key) != n:
            raise AssertionError(f"{what} has a key of {len(key)} tokens, expected n = {n} tokens per n-gram")
        if isinstance(count, bool) or not isinstance(count, int):
            raise AssertionError(f"{what}: the count of {key!r} is {describe(count)}, expected a Python int")
    got = dict(items)
    zeros = [k for k, v in got.items() if v == 0]
    if zeros:
        raise AssertionError(f"{what} lists {zeros[0]!r} with a count of 0: only n-grams that occur belong "
                             "in the result")
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    total, want_total = sum(got.values()), sum(expected.values())
    hint = ""
    if total == want_total - 1:
        hint = (f" -- {total} n-grams were counted, expected {want_total}: the last one is missing; a "
                f"sequence of L tokens has L - n + 1 n-grams (range(len(tokens) - n + 1))")
    elif total != want_total:
        hint = f" -- {total} n-grams were counted in all, expected {want_total} (L - n + 1 for L tokens)"
    if missing:
        raise AssertionError(f"{what} misses the n-gram {missing[0]!r}, which occurs {expected[missing[0]]} "
                             f"time(s) ({len(missing)} n-grams missing){hint}")
    if extra:
        raise AssertionError(f"{what} contains {extra[0]!r}, which does not occur in the tokens{hint}")
    for key, count in expected.items():
        if got[key] != count:
            more = ""
            if all(v == 1 for v in got.values()):
                more = " -- every count is 1: count repeated n-grams (a Counter, or dict.get(key, 0) + 1)"
            raise AssertionError(f"{what}: the count of {key!r} is {got[key]}, expected {count}{more or hint}")


class TestCountNgrams:
    pytestmark = [pytest.mark.exercise("count_ngrams")]

    @pytest.mark.points(2)
    def test_zen_characters(self, student, reference):
        """Exact unigram, bigram and trigram counts of the characters of the Zen of Python."""
        tokens = list(_zen())
        for n in (1, 2, 3):
            _check_ngrams(student, reference, tokens, n, f"the {len(tokens)} characters of the Zen of Python")

    @pytest.mark.points(1)
    def test_words_integers_and_edges(self, student, reference):
        """Word tokens, integer tokens with overlapping repeats, n equal to and above the length."""
        words = _zen().lower().split()
        _check_ngrams(student, reference, words, 2, f"the {len(words)} words of the Zen of Python")
        ints = [1, 2, 1, 2, 1, 2, 3, 1, 1, 1]
        _check_ngrams(student, reference, ints, 3, f"the integer tokens {ints}")
        _check_ngrams(student, reference, ints, len(ints), f"the integer tokens {ints} (n = their length)")
        _check_ngrams(student, reference, ints[:4], 5, f"the integer tokens {ints[:4]} (n = 5, longer than "
                      "the sequence: no n-gram at all)")


# ============================================================================ one_hot


def _one_hot_expected(X, n_class):
    return torch.eye(n_class, dtype=torch.float64)[X.T]


def _one_hot_cases():
    g = _gen(100)
    return [
        ("X of shape (3, 5) (B = 3 sequences, T = 5 steps), n_class = 7",
         torch.tensor([[0, 1, 2, 3, 4], [5, 4, 3, 2, 1], [2, 2, 0, 5, 3]]), 7),
        ("a square X of shape (4, 4), n_class = 6", torch.randint(0, 6, (4, 4), generator=g), 6),
        ("X of shape (1, 6) (a batch of one), n_class = 4", torch.tensor([[3, 0, 1, 1, 2, 3]]), 4),
    ]


def _one_hot_hint(out, X, n_class) -> str:
    B, T = X.shape
    if not isinstance(out, torch.Tensor):
        return ""
    if tuple(out.shape) == (B, T, n_class) and B != T:
        return ("it is batch-major (B, T, n_class); the RNN reads one time step at a time, so the result must be "
                "time-major (T, B, n_class): one-hot encode X.T")
    if tuple(out.shape[:2]) == (T, B) and out.shape[-1] == int(X.max()) + 1 != n_class:
        return f"the last dimension must be n_class = {n_class}, whatever the largest index in X"
    if tuple(out.shape) == (B, T, n_class) and _close(out, _one_hot_expected(X, n_class).transpose(0, 1)):
        return "it is batch-major: result[t] must be the inputs of time step t, so one-hot encode X.T"
    return ""


class TestOneHot:
    pytestmark = [pytest.mark.exercise("one_hot")]

    @pytest.mark.points(2)
    def test_time_major_values(self, student, device):
        """result[t, b, X[b, t]] = 1, shape (T, B, n_class), for B != T, a square X and a batch of one."""
        for label, X, n_class in _one_hot_cases():
            out = _call(student, "one_hot", X, n_class).value
            what = f"one_hot(X, n_class) for {label}"
            expected = _one_hot_expected(X, n_class)
            assert_same_shape(out, expected, what=what, hint=_one_hot_hint(out, X, n_class))
            assert_tensor_close(out, expected, rtol=0, atol=0, what=what,
                                hint=lambda o: _one_hot_hint(o, X, n_class))

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_float32_on_device(self, student, device):
        """The result is float32 (F.one_hot gives int64) and stays on the device of X; X is unchanged."""
        label, X, n_class = _one_hot_cases()[0]
        reply = _call(student, "one_hot", X, n_class)
        out = reply.value
        what = f"one_hot(X, n_class) for {label}"
        assert_is_tensor(out, what=what)
        if out.dtype != torch.float32:
            raise AssertionError(f"{what} has dtype {out.dtype}, expected torch.float32: the RNN multiplies "
                                 "the one-hot vectors by float32 weights; convert with .to(torch.float32) "
                                 "(F.one_hot returns int64)")
        assert_device(out, device, what=what)
        after = reply.args_after[0].value
        if after is not None and not torch.equal(after, X):
            raise AssertionError(f"one_hot changed its input X in place ({label}): leave X unchanged")


# ============================================================================ init_rnn_state


class TestInitRnnState:
    pytestmark = [pytest.mark.exercise("init_rnn_state")]

    @pytest.mark.points(1)
    def test_returns_a_tuple(self, student, device):
        """A tuple holding exactly one tensor, (H,), not a bare tensor."""
        out = student.init_rnn_state(3, 5, device)
        what = f"init_rnn_state(3, 5, {device!r})"
        if isinstance(out, torch.Tensor):
            raise AssertionError(f"{what} returned a bare tensor, expected a tuple holding one tensor: "
                                 "return (torch.zeros(...),) -- note the trailing comma; rnn unpacks it "
                                 "with H, = state")
        if not isinstance(out, tuple):
            raise AssertionError(f"{what} returned {describe(out)}, expected a tuple holding one tensor, (H,)")
        if len(out) != 1:
            raise AssertionError(f"{what} returned a tuple of {len(out)} items, expected exactly one: (H,)")
        assert_is_tensor(out[0], what=f"the state H in {what}")

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_zeros_shape_dtype_device(self, student, device):
        """H is a float32 tensor of zeros of shape (batch_size, num_hiddens) on the requested device,
        for a device given as a string and as a torch.device."""
        for batch_size, num_hiddens in ((3, 5), (1, 4)):
            out = student.init_rnn_state(batch_size, num_hiddens, device)
            what = f"init_rnn_state({batch_size}, {num_hiddens}, {device!r})"
            H = out[0] if isinstance(out, (tuple, list)) and out else out
            assert_tensor_close(H, torch.zeros(batch_size, num_hiddens, dtype=torch.float64), rtol=0, atol=0,
                                what=f"the state H in {what}", dtype=torch.float32, device=device,
                                hint="the initial state is all zeros")
        out = student.eval(inspections.INIT_RNN_STATE_ON_DEVICE,
                           label=f"init_rnn_state(2, 3, torch.device({device!r}))", dev=device)
        H = out[0] if isinstance(out, (tuple, list)) and out else out
        assert_tensor_close(H, torch.zeros(2, 3, dtype=torch.float64), rtol=0, atol=0, dtype=torch.float32,
                            device=device,
                            what=f"the state H in init_rnn_state(2, 3, torch.device({device!r}))")


    @pytest.mark.points(1)
    def test_created_on_the_requested_device(self, student):
        """init_rnn_state(2, 3, 'meta') lives on the meta device (a device without data, available on every
        machine): catches a state that ignores `device` even where no GPU is present."""
        what = "init_rnn_state(2, 3, 'meta')"
        try:
            info = student.eval(inspections.INIT_RNN_STATE_META_INFO, label=what)
        except AssertionError as error:
            text = str(error).split(" raised ", 1)[-1]
            raise AssertionError(f"{what} must create the zeros directly on the device it is given (torch.zeros("
                                 f"(batch_size, num_hiddens), device=device)), but it raised {text}") from None
        if not info or len(info[0]) != 4:
            raise AssertionError(f"{what} returned {'an empty tuple' if not info else 'a ' + info[0][0]}, expected "
                                 "the tuple (H,) of one tensor")
        _, dev, dtype, shape = info[0]
        if dev != "meta":
            raise AssertionError(f"the state H in {what} is on device {dev}, expected meta: create it on the device "
                                 "named by the argument, torch.zeros((batch_size, num_hiddens), device=device)")
        if tuple(shape) != (2, 3) or dtype != "torch.float32":
            raise AssertionError(f"the state H in {what} has shape {tuple(shape)} and dtype {dtype}, expected (2, 3) "
                                 "and torch.float32")


# ============================================================================ rnn_step


def _step_cases():
    g = _gen(300)
    cases = []
    for label, (B, V, h, q) in [("B = 3, V = 5, h = 4, q = 5", (3, 5, 4, 5)),
                                ("B = 1, V = 6, h = 3, q = 6 (a batch of one)", (1, 6, 3, 6)),
                                ("B = V = h = q = 4 (all square)", (4, 4, 4, 4)),
                                ("B = 2, V = 3, h = 5, q = 7", (2, 3, 5, 7))]:
        X_t, H = _randn((B, V), g), _randn((B, h), g, 0.5)
        cases.append((label, X_t, H, _rnn_params(V, h, q, g)))
    return cases


def _check_step_result(out, X_t, H, params, what, device):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError(f"{what} returned {describe(out)}, expected the tuple (Y_t, H_new) of two tensors")
    Y, H_new = out
    Y_ref, H_ref = _simulate(X_t[None], H, params)
    B, h, q = X_t.shape[0], H.shape[1], params[3].shape[1]
    if isinstance(Y, torch.Tensor) and isinstance(H_new, torch.Tensor) and h != q \
            and tuple(Y.shape) == (B, h) and tuple(H_new.shape) == (B, q):
        raise AssertionError(f"{what} returned (H_new, Y_t): return the output first, (Y_t, H_new)")
    hint = lambda _o: _step_hint(Y, H_new, X_t, H, params)  # noqa: E731
    assert_tensor_close(H_new, H_ref, rtol=RTOL, atol=STEP_ATOL, dtype=torch.float32, device=device,
                        what=f"the new state H_new (item 1) of {what}", hint=hint)
    assert_tensor_close(Y, Y_ref, rtol=RTOL, atol=STEP_ATOL, dtype=torch.float32, device=device,
                        what=f"the output Y_t (item 0) of {what}", hint=hint)


class TestRnnStep:
    pytestmark = [pytest.mark.exercise("rnn_step")]

    @pytest.mark.points(2)
    def test_values(self, student, device):
        """(H_new @ W_hq + b_q, H_new) with H_new = tanh(X_t @ W_xh + H @ W_hh + b_h) (catches relu,
        a missing b_h, H @ W_hh.T, W_hh @ H, the output from the old state, a swapped return)."""
        for label, X_t, H, params in _step_cases():
            out = _call(student, "rnn_step", X_t, H, params).value
            _check_step_result(out, X_t, H, params, f"rnn_step(X_t, H, params) for {label}", device)

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(_step_cases()[::3])))
    def test_gradients(self, student, device, k, case):
        """Back-propagating random cotangents of (Y_t, H_new) gives the right gradients with respect to
        X_t, H and every parameter."""
        (label, X_t, H, params) = case
        g = _gen(350 + k)
        B, h, q = X_t.shape[0], H.shape[1], params[3].shape[1]
        cot = (_randn((B, q), g), _randn((B, h), g))
        leaves = [X_t.clone().requires_grad_(), H.clone().requires_grad_(),
                  [p.clone().requires_grad_() for p in params]]
        reply = _call(student, "rnn_step", *leaves, cotangent=cot)
        expected = _reference_grads(
            lambda t: _simulate(t["X_t"][None], t["H"], [t[n] for n in PARAM_NAMES]),
            {"X_t": X_t, "H": H, **dict(zip(PARAM_NAMES, params))}, cot)
        _check_grads(reply, expected, ("X_t", "H", *PARAM_NAMES), atol=STEP_ATOL, device=device,
                     fn=f"rnn_step ({label})")


# ============================================================================ rnn


def _rnn_case(T, B, V, h, q, offset):
    g = _gen(offset)
    inputs, H = _randn((T, B, V), g), _randn((B, h), g, 0.5)
    return inputs, H, _rnn_params(V, h, q, g)


RNN_SHAPES = [("T = 7, B = 3, V = 5, h = 4, q = 5", (7, 3, 5, 4, 5)),
              ("T = 1, B = 1, V = 3, h = 2, q = 3 (one step, a batch of one)", (1, 1, 3, 2, 3)),
              ("T = B = V = h = q = 4 (all square)", (4, 4, 4, 4, 4)),
              ("T = 5, B = 2, V = 6, h = 3, q = 7", (5, 2, 6, 3, 7))]


def _check_rnn_result(out, inputs, H, params, what, device, atol=RNN_ATOL):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError(f"{what} returned {describe(out)}, expected the tuple (outputs, (H,))")
    outputs, state = out
    T, B = inputs.shape[:2]
    ref, H_ref = _simulate(inputs, H, params)
    q = ref.shape[1]
    if isinstance(outputs, torch.Tensor) and tuple(outputs.shape) == (T, B, q):
        raise AssertionError(f"the outputs (item 0) of {what} have shape {fmt_shape(outputs.shape)}, expected "
                             f"{fmt_shape(ref.shape)}: concatenate the steps' outputs along dim 0 with "
                             "torch.cat(outputs, dim=0), not torch.stack")
    hint = lambda o: _rnn_hint(o, inputs, H, params)  # noqa: E731
    assert_tensor_close(outputs, ref, rtol=RTOL, atol=atol, dtype=torch.float32, device=device,
                        what=f"the outputs (item 0) of {what}", hint=hint)
    H_out = state[0] if isinstance(state, (tuple, list)) and len(state) == 1 else state
    assert_tensor_close(H_out, H_ref, rtol=RTOL, atol=atol, dtype=torch.float32, device=device,
                        what=f"the final state H (item 1) of {what}",
                        hint="the final state is the one the last time step returned")


class TestRnn:
    pytestmark = [pytest.mark.exercise("rnn")]

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(RNN_SHAPES)))
    def test_values(self, student, device, k, case):
        """torch.cat of the steps' outputs along dim 0, shape (T * B, q), and the final state, for
        several shapes (catches stacking, the initial state reused at every step, relu, H @ W_hh.T)."""
        (label, shape) = case
        inputs, H, params = _rnn_case(*shape, 400 + k)
        out = _call(student, "rnn", inputs, (H,), params).value
        _check_rnn_result(out, inputs, H, params, f"rnn(inputs, (H,), params) for {label}", device)

    @pytest.mark.points(1)
    def test_returns_state_tuple(self, student, device):
        """rnn returns (outputs, (H,)): the state as a tuple holding one tensor, like init_rnn_state."""
        label, shape = RNN_SHAPES[0]
        inputs, H, params = _rnn_case(*shape, 400)
        out = _call(student, "rnn", inputs, (H,), params).value
        what = f"rnn(inputs, (H,), params) for {label}"
        if not isinstance(out, tuple) or len(out) != 2:
            raise AssertionError(f"{what} returned {describe(out)}, expected the tuple (outputs, (H,))")
        state = out[1]
        if isinstance(state, torch.Tensor):
            raise AssertionError(f"the state (item 1) of {what} is a bare tensor, expected the tuple (H,): "
                                 "return torch.cat(outputs, dim=0), (H,) -- the caller unpacks it like the "
                                 "state from init_rnn_state")
        if not isinstance(state, tuple) or len(state) != 1:
            raise AssertionError(f"the state (item 1) of {what} is {describe(state)}, expected a tuple "
                                 "holding one tensor, (H,)")
        _ref, H_ref = _simulate(inputs, H, params)
        assert_tensor_close(state[0], H_ref, rtol=RTOL, atol=RNN_ATOL, dtype=torch.float32, device=device,
                            what=f"the final state H of {what}")

    @pytest.mark.points(2)
    def test_gradients(self, student, device):
        """Back-propagating a random cotangent of the outputs gives the right gradients with respect to
        the inputs, the initial state and every parameter."""
        for k in (0, 3):
            label, shape = RNN_SHAPES[k]
            inputs, H, params = _rnn_case(*shape, 400 + k)
            self._check_gradients(student, device, inputs, H, params, label, 450 + k)

    @pytest.mark.points(1)
    def test_long_sequence(self, student, device):
        """35 time steps (T = 35, B = 2, V = 6, h = 8): values and gradients within atol 1e-4."""
        label = "T = 35, B = 2, V = 6, h = 8, q = 6"
        inputs, H, params = _rnn_case(35, 2, 6, 8, 6, 480)
        out = _call(student, "rnn", inputs, (H,), params).value
        _check_rnn_result(out, inputs, H, params, f"rnn(inputs, (H,), params) for {label}", device)
        self._check_gradients(student, device, inputs, H, params, label, 481)

    @staticmethod
    def _check_gradients(student, device, inputs, H, params, label, offset):
        T, B = inputs.shape[:2]
        q = params[3].shape[1]
        cot = _randn((T * B, q), _gen(offset))
        leaves = [inputs.clone().requires_grad_(), (H.clone().requires_grad_(),),
                  [p.clone().requires_grad_() for p in params]]
        reply = _call(student, "rnn", *leaves, cotangent=(cot, None))
        expected = _reference_grads(
            lambda t: _simulate(t["inputs"], t["H"], [t[n] for n in PARAM_NAMES])[:1],
            {"inputs": inputs, "H": H, **dict(zip(PARAM_NAMES, params))}, (cot,))
        _check_grads(reply, expected, ("inputs", "H", *PARAM_NAMES), atol=RNN_ATOL, device=device,
                     fn=f"rnn ({label})")


# ============================================================================ char_level_loss


def _loss_cases():
    g = _gen(500)
    cases = []
    for label, (T, B, V) in [("T = 5 steps, B = 3 sequences, V = 7", (5, 3, 7)),
                             ("T = B = 4, V = 5 (square)", (4, 4, 5)),
                             ("T = 6, B = 1 (a batch of one), V = 4", (6, 1, 4))]:
        outputs = _randn((T * B, V), g, 2.0)
        Y = torch.randint(0, V, (B, T), generator=g)
        cases.append((f"outputs of shape {fmt_shape(outputs.shape)} and Y of shape {fmt_shape(Y.shape)} "
                      f"({label})", outputs, Y))
    return cases


def _ce64(outputs, targets):
    return F.cross_entropy(outputs.double(), targets)


def _loss_hint(out, outputs, Y) -> str:
    if not isinstance(out, torch.Tensor) or out.numel() == 0 or not bool(torch.isfinite(out).all()):
        return ""
    B, T = Y.shape
    if out.numel() == T * B:
        return ("one loss per token came back: return their mean over all B * T tokens (a 0-d tensor)")
    if out.numel() != 1:
        return ""
    value = float(out.reshape(()))
    ref = float(_ce64(outputs, Y.T.reshape(-1)))
    if B > 1 and abs(value - float(_ce64(outputs, Y.reshape(-1)))) <= 1e-4 * max(1.0, abs(value)):
        return ("the targets are lined up with the wrong rows: the rows of outputs are time-major (row t * B + b "
                "is step t of sequence b) while Y is (B, T); flatten Y.T (Y.T.reshape(-1)), not Y")
    if abs(value - ref * T * B) <= 1e-4 * abs(value):
        return "it is the sum over the tokens: return the mean (divide by B * T)"
    return ""


def _check_loss_shape(out, Y, what):
    if not isinstance(out, torch.Tensor) or out.dim() == 0:
        return
    B, T = Y.shape
    if out.numel() == B * T:
        raise AssertionError(f"{what} has shape {fmt_shape(out.shape)}: one loss per token came back; return "
                             "their mean over all B * T tokens, a 0-d tensor (.mean(), or the default "
                             "reduction of F.cross_entropy)")
    raise AssertionError(f"{what} has shape {fmt_shape(out.shape)}, expected a 0-d tensor (the mean loss)")


class TestCharLevelLoss:
    pytestmark = [pytest.mark.exercise("char_level_loss")]

    @pytest.mark.points(2)
    def test_values(self, student, reference, device):
        """Mean cross-entropy with the targets Y.T.reshape(-1) lined up with the time-major rows; a 0-d
        tensor with the dtype of the outputs (catches Y.reshape(-1), a sum, per-token losses)."""
        for label, outputs, Y in _loss_cases():
            out = _call(student, "char_level_loss", outputs, Y).value
            expected = reference.char_level_loss(outputs.double(), Y)
            _check_loss_shape(out, Y, f"char_level_loss(outputs, Y) for {label}")
            assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, dtype=torch.float32, device=device,
                                what=f"char_level_loss(outputs, Y) for {label}",
                                hint=lambda o: _loss_hint(o, outputs, Y))

    @pytest.mark.points(1)
    def test_gradient(self, student, reference, device):
        """The loss is differentiable: its gradient with respect to the logits is right."""
        label, outputs, Y = _loss_cases()[0]
        reply = _call(student, "char_level_loss", outputs.clone().requires_grad_(), Y,
                      cotangent=torch.tensor(1.0))
        z = outputs.double().requires_grad_()
        (expected,) = torch.autograd.grad(reference.char_level_loss(z, Y), z)
        grad = (reply.input_grads or [None])[0]
        if grad is None:
            raise AssertionError(f"no gradient reached the outputs through char_level_loss ({label}) -- "
                                 f"{DETACHED_HINT}")
        assert_tensor_close(grad, expected, rtol=RTOL, atol=ATOL, dtype=torch.float32, device=device,
                            what=f"the gradient of char_level_loss(outputs, Y) with respect to outputs for {label}",
                            hint=DETACHED_HINT)

    @pytest.mark.points(1)
    def test_large_logits(self, student, reference, device):
        """Logits of magnitude up to 1e4 (float32), targets often not the largest logit: finite and right."""
        g = _gen(560)
        T, B, V = 3, 2, 5
        outputs = _randn((T * B, V), g, 4000.0)
        outputs[0, 1] = 1e4
        outputs[1, 2] = -1e4
        Y = torch.tensor([[2, 0, 4], [1, 3, 2]])
        label = f"logits of shape {fmt_shape(outputs.shape)} with magnitudes up to 1e4, Y of shape (2, 3)"
        out = _call(student, "char_level_loss", outputs, Y).value
        expected = reference.char_level_loss(outputs.double(), Y)
        _check_loss_shape(out, Y, f"char_level_loss(outputs, Y) for {label}")
        # Tolerance from the logits' magnitude (docs/tolerances.md): a mean cross-entropy moves by at most 2
        # when every logit moves by 1.
        assert_tensor_close(out, expected, inputs=outputs, conditioning=2.0, dtype=torch.float32, device=device,
                            what=f"char_level_loss(outputs, Y) for {label}",
                            finite_hint="compute the loss from the logits with a stable log-sum-exp (subtract "
                                        "each row's max, or use torch.logsumexp or F.cross_entropy), not "
                                        "log(softmax(...)), which underflows to log(0)",
                            hint=lambda o: _loss_hint(o, outputs, Y))


# ============================================================================ perplexity


class TestPerplexity:
    pytestmark = [pytest.mark.exercise("perplexity")]

    @pytest.mark.points(1)
    def test_values(self, student, device):
        """exp(mean_loss) as a Python float, for Python floats and a 0-d float32 tensor."""
        for loss in (0.0, 0.75, math.log(28.0)):
            out = student.perplexity(loss)
            try:
                assert_scalar_close(out, math.exp(loss), rtol=1e-9, atol=0, kind=float,
                                    what=f"perplexity({fmt_number(loss)})")
            except AssertionError as error:
                hint = ""
                if isinstance(out, float) and loss and abs(out - 2.0 ** loss) < 1e-9 * 2.0 ** loss:
                    hint = "that is 2 ** mean_loss: the cross-entropy is in nats (natural log), so use exp"
                elif isinstance(out, float) and loss and abs(out - math.exp(-loss)) < 1e-9:
                    hint = "that is exp(-mean_loss): perplexity is exp(+mean_loss), at least 1"
                fail_with_hint(error, hint)
        loss = torch.tensor(1.3, requires_grad=True)
        out = student.call("perplexity", loss).value
        assert_scalar_close(out, math.exp(float(loss.detach())), rtol=1e-6, atol=0, kind=float,
                            what="perplexity(mean_loss) for mean_loss a 0-d float32 tensor holding 1.3")


# ============================================================================ grad_clipping


def _clip_params(offset, dtype=torch.float32, scale=1.0):
    """Three parameters with gradients whose global norm is about 5 * scale."""
    g = _gen(offset)
    params = []
    for shape in ((4, 3), (3,), (3, 5)):
        p = (_randn(shape, g)).to(dtype).requires_grad_()
        p.grad = (_randn(shape, g, scale)).to(dtype)
        params.append(p)
    return params


def _expected_clip(params, theta):
    grads = [None if p.grad is None else p.grad.double() for p in params]
    norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads if g is not None))
    factor = theta / norm if norm > theta else 1.0
    return [None if g is None else g * factor for g in grads], norm


def _check_clipped(grads_after, params, theta, what, device, *, generator=False):
    expected, norm = _expected_clip(params, theta)
    unchanged = all(g is not None and p.grad is not None and torch.equal(g.to(p.grad.dtype), p.grad)
                    for g, p in zip(grads_after, params) if p.grad is not None)
    if norm > theta and unchanged:
        if generator:
            raise AssertionError(
                f"{what}: the gradients were not clipped (global norm {fmt_number(norm)} > theta = "
                f"{fmt_number(theta)}). With a generator, such as model.parameters(), the first loop (the norm) "
                "uses it up and the scaling loop sees no parameters: read it once into a list, "
                "params = [p for p in params], before computing the norm")
        raise AssertionError(f"{what}: the gradients were not changed although their global norm "
                             f"{fmt_number(norm)} exceeds theta = {fmt_number(theta)}")
    for i, (got, want, p) in enumerate(zip(grads_after, expected, params)):
        name = f"params[{i}].grad after {what}"
        if want is None:
            if got is not None and bool((got != 0).any()):
                raise AssertionError(f"{name} was None and must stay None (skip parameters without a gradient)")
            continue
        if got is None:
            raise AssertionError(f"{name} is None: scale the gradients, don't delete them")

        def hint(o, i=i):
            if norm <= theta:
                return (f"the global norm {fmt_number(norm)} does not exceed theta = {fmt_number(theta)}: "
                        "leave the gradients unchanged (clip only when norm > theta; never scale up)")
            own = float(params[i].grad.double().norm())
            if own > 0 and _close(o, params[i].grad.double() * min(1.0, theta / own), rtol=1e-4, atol=1e-7):
                return ("each gradient was scaled by its own norm: compute ONE global norm over all "
                        "gradients, sqrt(sum of (p.grad ** 2).sum() over the parameters), and scale every "
                        "gradient by theta / norm")
            return f"with a global norm of {fmt_number(norm)}, every gradient is multiplied by theta / norm"
        assert_tensor_close(got, want, rtol=RTOL, atol=ATOL, dtype=p.grad.dtype, device=device, what=name,
                            hint=hint)


class TestGradClipping:
    pytestmark = [pytest.mark.exercise("grad_clipping")]

    @pytest.mark.points(1)
    def test_clips_a_list(self, student, device):
        """A list of parameters whose global gradient norm exceeds theta: every gradient is scaled by
        theta / norm (float32 and float64); the parameters themselves are unchanged."""
        for label, params, theta in (("3 float32 parameters", _clip_params(600), 1.0),
                                     ("3 float64 parameters", _clip_params(601, torch.float64), 2.5)):
            reply = _call(student, "grad_clipping", params, theta)
            what = f"grad_clipping(a list of {label}, theta={fmt_number(theta)})"
            _check_clipped([s.grad for s in reply.args_after], params, theta, what, device)
            for i, (state, p) in enumerate(zip(reply.args_after, params)):
                if state.value is None or not torch.equal(state.value, p.detach()):
                    raise AssertionError(f"params[{i}] changed after {what}: only the gradients are clipped; "
                                         "the parameters themselves must stay as they are")

    @pytest.mark.points(2)
    def test_clips_a_generator(self, student, device):
        """The parameters given as a generator (like model.parameters()), which can be read only once:
        the gradients are still clipped (the book's version clips nothing then)."""
        params, theta = _clip_params(610), 1.0
        what = f"grad_clipping((p for p in params), theta={fmt_number(theta)}) (a generator of 3 parameters)"
        grads = student.eval(inspections.GRADS_AFTER_CLIPPING_A_GENERATOR,
                             label=f"grad_clipping((p for p in params), theta={fmt_number(theta)})",
                             ps=params, theta=theta)
        _check_clipped(grads, params, theta, what, device, generator=True)

    @pytest.mark.points(1)
    def test_never_scales_up(self, student, device):
        """A global norm below theta leaves every gradient unchanged (including just below theta)."""
        params = _clip_params(620)
        _, norm = _expected_clip(params, 1.0)
        for theta in (100.0, norm * 1.01):
            reply = _call(student, "grad_clipping", params, theta)
            what = f"grad_clipping(params, theta={fmt_number(theta)}) with a global norm of {fmt_number(norm)}"
            _check_clipped([s.grad for s in reply.args_after], params, theta, what, device)

    @pytest.mark.points(1)
    def test_skips_missing_gradients(self, student, device):
        """A parameter whose .grad is None is skipped (and stays None); the norm is over the others."""
        params = _clip_params(630)
        frozen = _randn((2, 2), _gen(631)).requires_grad_()  # .grad is None
        mixed = [params[0], frozen, params[1], params[2]]
        theta = 1.0
        what = f"grad_clipping([W, frozen, b, W2], theta={fmt_number(theta)}) where frozen.grad is None"
        reply = _call(student, "grad_clipping", mixed, theta,
                      hint="a parameter whose .grad is None must be skipped (if p.grad is not None)")
        _check_clipped([s.grad for s in reply.args_after], mixed, theta, what, device)

    @pytest.mark.points(1)
    def test_no_gradients_at_all(self, student, device):
        """Before the first backward pass every .grad is None: grad_clipping must do nothing and not fail
        (a norm over an empty set of gradients is not a tensor)."""
        frozen = [_randn((3, 2), _gen(650)).requires_grad_(), _randn((2,), _gen(651)).requires_grad_()]
        reply = _call(student, "grad_clipping", frozen, 1.0,
                      hint="when no parameter has a gradient there is nothing to clip: return early")
        for i, state in enumerate(reply.args_after):
            assert state.grad is None, (f"params[{i}].grad was None before grad_clipping(params whose .grad are "
                                        "all None, theta=1) and must stay None")

    @pytest.mark.points(1)
    def test_written_by_hand(self, student, device):
        """No torch.nn.utils.clip_grad_norm_ (AST check, then the ATen operators the call ran), and correct
        clipping of a basic case."""
        problems = find_banned(student.source, "grad_clipping", CLIP_BANNED)
        assert not problems, "\n".join(problems)
        params, theta = _clip_params(640, scale=2.0), 3.0
        reply = _call(student, "grad_clipping", params, theta, observe=True)
        try:
            _check_clipped([s.grad for s in reply.args_after], params, theta,
                           f"grad_clipping(params, theta={fmt_number(theta)})", device)
        except AssertionError as error:
            raise AssertionError(f"the point for clipping written by hand needs a working grad_clipping: "
                                 f"{error}") from None
        assert_no_banned_operators(reply, "grad_clipping", CLIP_OPS)


# ============================================================================ train_char_rnn

CHAIN_SYMBOLS = 6
CHAIN_SEED, TRAIN_SEED, HELD_OUT_SEED, INIT_SEED = 11, 12, 13, 14
TRAIN_TOKENS, HELD_OUT_TOKENS = 12000, 4000
HYPER = dict(vocab_size=CHAIN_SYMBOLS, num_hiddens=32, num_steps=16, batch_size=32, lr=2.0, num_epochs=20,
             theta=1.0)
TRAIN_TIMEOUT = 30.0
EVAL_STREAMS = 40
CONSISTENCY = 0.15  # |log(reported) - log(recomputed on the training corpus)|: last epoch's average vs its end


def _entropy(p: torch.Tensor) -> float:
    p = p[p > 0]
    return float(-(p * p.log()).sum())


@functools.lru_cache(maxsize=1)
def _chain():
    """A second-order Markov chain: P[a, b, c] = p(next = c | previous two = a, b); three successors
    per context with probabilities 0.7, 0.2, 0.1.  Returns (P, true ppl, best first-order ppl,
    unigram ppl) computed from the stationary distribution of the chain of pairs."""
    V = CHAIN_SYMBOLS
    g = torch.Generator().manual_seed(CHAIN_SEED)
    P = torch.zeros(V, V, V, dtype=torch.float64)
    for a in range(V):
        for b in range(V):
            successors = torch.randperm(V, generator=g)[:3]
            P[a, b, successors] = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    pairs = torch.zeros(V * V, V * V, dtype=torch.float64)  # (a, b) -> (b, c)
    for a in range(V):
        for b in range(V):
            pairs[a * V + b, b * V:(b + 1) * V] = P[a, b]
    pi = torch.full((V * V,), 1.0 / (V * V), dtype=torch.float64)
    for _ in range(2000):
        pi = pi @ pairs
    pi = pi.reshape(V, V)  # pi[a, b]: stationary probability of the pair (a, b)
    h2 = sum(float(pi[a, b]) * _entropy(P[a, b]) for a in range(V) for b in range(V))
    p_b = pi.sum(dim=0)
    first_order = torch.einsum("ab,abc->bc", pi, P) / p_b[:, None]
    h1 = sum(float(p_b[b]) * _entropy(first_order[b]) for b in range(V))
    return P, math.exp(h2), math.exp(h1), math.exp(_entropy(p_b))


@functools.lru_cache(maxsize=4)
def _sample(n: int, seed: int) -> torch.Tensor:
    P = _chain()[0]
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g, dtype=torch.float64)
    cum = P.cumsum(dim=2)
    seq = [0, 1]
    for i in range(n - 2):
        c = int(torch.searchsorted(cum[seq[-2], seq[-1]], u[i]))
        seq.append(min(c, CHAIN_SYMBOLS - 1))
    return torch.tensor(seq, dtype=torch.int64)


def _bound() -> float:
    _P, true_ppl, first_order_ppl, _unigram = _chain()
    return math.sqrt(true_ppl * first_order_ppl)


def _perplexity_of(reference, params, corpus) -> float:
    """Perplexity of ``params`` on ``corpus`` with the reference rnn in float64: EVAL_STREAMS parallel
    streams (sequential partitioning), from a zero state, every next token predicted."""
    n = ((len(corpus) - 1) // EVAL_STREAMS) * EVAL_STREAMS
    X = corpus[:n].reshape(EVAL_STREAMS, -1)
    Y = corpus[1:n + 1].reshape(EVAL_STREAMS, -1)
    p64 = [p.detach().double() for p in params]
    H0 = torch.zeros(EVAL_STREAMS, p64[1].shape[0], dtype=torch.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # hundreds of tiny matmuls: extra threads only add overhead (40x on a busy machine)
    try:
        with torch.no_grad():
            outputs, _ = reference.rnn(reference.one_hot(X, CHAIN_SYMBOLS).double(), (H0,), p64)
            loss = reference.char_level_loss(outputs, Y)
    finally:
        torch.set_num_threads(threads)
    return math.exp(float(loss))


def _held_out_perplexity(reference, params) -> float:
    return _perplexity_of(reference, params, _sample(HELD_OUT_TOKENS, HELD_OUT_SEED))


_TRAINED: dict = {"session": None, "by_device": {}}


def _train(student, device):
    """The student's training run for this submission and device: (params, ppl), or the failure again.

    Trained once per submission and device (the tests of one submission run together, devices
    alternating); a strong reference to the session keeps its identity from being reused.
    """
    if _TRAINED["session"] is not student._session:
        _TRAINED["session"], _TRAINED["by_device"] = student._session, {}
    if device not in _TRAINED["by_device"]:
        corpus = _sample(TRAIN_TOKENS, TRAIN_SEED)
        h = HYPER
        try:
            result = student.call("train_char_rnn", corpus, h["vocab_size"], h["num_hiddens"], h["num_steps"],
                                  h["batch_size"], h["lr"], h["num_epochs"], h["theta"], seed=SEED + INIT_SEED,
                                  timeout=TRAIN_TIMEOUT).value
        except AssertionError as error:
            result = error
        _TRAINED["by_device"][device] = result
    result = _TRAINED["by_device"][device]
    if isinstance(result, AssertionError):
        raise AssertionError(str(result))
    return result


def _train_label() -> str:
    h = HYPER
    return (f"train_char_rnn(corpus of {TRAIN_TOKENS} tokens, vocab_size={h['vocab_size']}, "
            f"num_hiddens={h['num_hiddens']}, num_steps={h['num_steps']}, batch_size={h['batch_size']}, "
            f"lr={h['lr']}, num_epochs={h['num_epochs']}, theta={h['theta']})")


def _unpack_training(out, what, V, h, device):
    """(params, ppl) from what train_char_rnn returned: five finite float32 parameters of the right
    shapes on ``device``, and the perplexity (not checked here)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError(f"{what} returned {describe(out)}, expected the tuple (params, perplexity)")
    params, ppl = out
    if not isinstance(params, (list, tuple)) or len(params) != 5:
        raise AssertionError(f"the params (item 0) returned by {what} are {describe(params)}, expected a list "
                             "of the five tensors [W_xh, W_hh, b_h, W_hq, b_q]")
    for name, p, shape in zip(PARAM_NAMES, params, [(V, h), (h, h), (h,), (h, V), (V,)]):
        assert_same_shape(p, shape, what=f"{name} returned by {what}")
        assert_dtype(p, torch.float32, what=f"{name} returned by {what}")
        assert_device(p, device, what=f"{name} returned by {what} (train on the corpus's device)")
        if not bool(torch.isfinite(p).all()):
            raise AssertionError(f"{name} returned by {what} contains NaN or inf: the training diverged "
                                 "(is the gradient clipped before each step, and the learning rate used as given?)")
    return params, ppl


def _trained_params(student, device):
    what = _train_label()
    params, ppl = _unpack_training(_train(student, device), what, HYPER["vocab_size"], HYPER["num_hiddens"], device)
    return params, ppl, what


class TestTrainCharRnn:
    pytestmark = [pytest.mark.exercise("train_char_rnn")]

    @pytest.mark.points(1)
    def test_returns_params_and_perplexity(self, student, device):
        """(params, ppl): the five trained float32 parameters with the right shapes, finite, on the
        corpus's device, and the last epoch's perplexity as a Python float >= 1."""
        _params, ppl, what = _trained_params(student, device)
        if isinstance(ppl, torch.Tensor) or isinstance(ppl, bool) or not isinstance(ppl, float):
            raise AssertionError(f"the perplexity (item 1) returned by {what} is {describe(ppl)}, expected a "
                                 "Python float (perplexity returns one)")
        if not math.isfinite(ppl) or ppl < 1.0:
            raise AssertionError(f"the perplexity returned by {what} is {fmt_number(ppl)}, but a perplexity is a "
                                 "finite number >= 1 (the exp of a mean cross-entropy)")

    @pytest.mark.points(1)
    def test_reported_perplexity(self, student, reference, device):
        """The reported perplexity is below the bound and agrees (within 15%) with the perplexity the
        grader recomputes for the returned parameters on the training corpus."""
        params, ppl, what = _trained_params(student, device)
        bound = _bound()
        if not isinstance(ppl, (int, float)) or isinstance(ppl, bool) or not math.isfinite(ppl):
            raise AssertionError(f"the perplexity returned by {what} is {describe(ppl)}, expected a finite "
                                 "Python float")
        if ppl > bound:
            raise AssertionError(f"the perplexity reported by {what} is {fmt_number(ppl)}, expected at most "
                                 f"{bound:.3f}: the model did not learn enough (see the held-out check)")
        actual = _perplexity_of(reference, params, _sample(TRAIN_TOKENS, TRAIN_SEED))
        if ppl < 1.0 or abs(math.log(ppl) - math.log(actual)) > CONSISTENCY:
            raise AssertionError(f"the perplexity reported by {what} is {fmt_number(ppl)}, but the returned "
                                 f"parameters reach {actual:.3f} on the training corpus: report "
                                 "perplexity(total loss of the last epoch's tokens / their number) of the "
                                 "model you return")

    @pytest.mark.points(3)
    def test_learned_the_chain(self, student, reference, device):
        """The grader recomputes the perplexity of the returned parameters on held-out text from the same
        second-order Markov chain: it must be below the geometric mean of the chain's true perplexity and
        the best perplexity reachable from the current token alone."""
        params, _ppl, what = _trained_params(student, device)
        _P, true_ppl, first_order_ppl, unigram_ppl = _chain()
        bound = _bound()
        actual = _held_out_perplexity(reference, params)
        if actual <= bound:
            return
        if actual >= unigram_ppl * 0.98:
            more = ("it predicts no better than the token frequencies: did the parameters change at all (an "
                    "SGD step p -= lr * p.grad on the same tensors, under torch.no_grad()), and are the targets "
                    "the inputs shifted by one token, lined up with the outputs (char_level_loss)?")
        elif actual >= first_order_ppl * 0.97:
            more = ("it predicts no better than a model that sees only the current token: the hidden state "
                    "must carry the previous tokens through the sequence")
        else:
            more = "it is learning, but not enough: check the loss, the clipping and the update"
        raise AssertionError(
            f"the parameters returned by {what} reach a perplexity of {actual:.3f} on held-out text from the "
            f"same source, expected at most {bound:.3f} (the source's true perplexity is {true_ppl:.3f}; the "
            f"best possible from the current token alone is {first_order_ppl:.3f}; from the token frequencies "
            f"alone {unigram_ppl:.3f}): {more}")


# ============================================================================ train_char_rnn, exactly
#
# The seeded run above can only bound what the loop learns.  These two tests pin the loop itself on a
# corpus where every way of cutting minibatches gives the same one: ONE token repeated, and
# (B + 1) * T + 1 tokens with T < B, so that each epoch holds exactly one minibatch of B sequences of
# T tokens under sequential partitioning and random sampling alike, with or without the book's random
# offset of 0..T tokens, and no shorter window is left over (each of the B streams of sequential
# partitioning holds (B + 1) * T // B = T tokens, whatever the offset).
# The first call (lr = 0) returns the initial parameters; the second (same seed, so the same initial
# draws) must return exactly two clipped SGD steps from them, computed here in float64 with the
# reference functions -- with a fresh state for the second epoch or the first epoch's state carried
# over (both are allowed) -- and report the perplexity of the last epoch's minibatch.  A third run, one
# epoch on (2B + 1) * T + 1 copies of the token (two minibatches, whatever the partitioning), must report
# the perplexity of the whole epoch, not of its last minibatch.  A theta of 0.4
# is below the gradient norm at the initial parameters (about 0.94 for 9 symbols), so the clipping
# is active.

EXACT = dict(vocab_size=9, num_hiddens=16, num_steps=4, batch_size=6, token=4, lr=1.0, num_epochs=2, theta=0.4,
             seed=SEED + 900)
EXACT_RTOL, EXACT_ATOL = 1e-4, 1e-6
INIT_STD_BAND = (0.0085, 0.0115)     # all weights together (544 entries): +-5 standard errors
INIT_STD_BAND_ONE = (0.007, 0.013)   # each weight matrix (>= 144 entries): +-5 standard errors


def _exact_corpus() -> torch.Tensor:
    e = EXACT
    return torch.full(((e["batch_size"] + 1) * e["num_steps"] + 1,), e["token"], dtype=torch.int64)


def _two_minibatch_corpus() -> torch.Tensor:
    """(2B + 1) * T + 1 copies of the token: TWO minibatches per epoch under every partitioning (each stream
    of sequential partitioning holds 2T tokens whatever the offset of 0..T; random sampling has 2B or 2B + 1
    windows of T tokens)."""
    e = EXACT
    return torch.full(((2 * e["batch_size"] + 1) * e["num_steps"] + 1,), e["token"], dtype=torch.int64)


def _exact_label(lr, num_epochs, theta, corpus=None) -> str:
    e = EXACT
    corpus = _exact_corpus() if corpus is None else corpus
    return (f"train_char_rnn(corpus of {len(corpus)} copies of token {e['token']}, "
            f"vocab_size={e['vocab_size']}, num_hiddens={e['num_hiddens']}, num_steps={e['num_steps']}, "
            f"batch_size={e['batch_size']}, lr={lr}, num_epochs={num_epochs}, theta={theta})")


def _exact_call(student, device, lr, corpus=None, num_epochs=None):
    """(params in float64, ppl, label) of one run on the repeated-token corpus (see _unpack_training)."""
    e = EXACT
    corpus = _exact_corpus() if corpus is None else corpus
    num_epochs = e["num_epochs"] if num_epochs is None else num_epochs
    label = _exact_label(lr, num_epochs, e["theta"], corpus)
    out = student.call("train_char_rnn", corpus, e["vocab_size"], e["num_hiddens"], e["num_steps"],
                       e["batch_size"], lr, num_epochs, e["theta"], seed=e["seed"],
                       timeout=TRAIN_TIMEOUT).value
    params, ppl = _unpack_training(out, label, e["vocab_size"], e["num_hiddens"], device)
    if isinstance(ppl, torch.Tensor) and ppl.numel() == 1:
        ppl = float(ppl)
    if isinstance(ppl, bool) or not isinstance(ppl, (int, float)):
        raise AssertionError(f"the perplexity (item 1) returned by {label} is {describe(ppl)}, expected a Python "
                             "float")
    return [p.detach().double() for p in params], float(ppl), label


def _epoch(reference, params, H0, lr, theta, *, accumulated=None):
    """One epoch (one minibatch) from ``params`` in float64: (new params, loss, final state, grads)."""
    e = EXACT
    corpus = _exact_corpus()
    B, T = e["batch_size"], e["num_steps"]
    X, Y = corpus[:B * T].reshape(B, T), corpus[1:B * T + 1].reshape(B, T)
    p = [t.clone().requires_grad_() for t in params]
    outputs, (H,) = reference.rnn(reference.one_hot(X, e["vocab_size"]).double(), (H0,), p)
    loss = reference.char_level_loss(outputs, Y)
    loss.backward()
    if accumulated is not None:  # gradients never cleared: this step's add to the last (clipped) ones
        for t, g in zip(p, accumulated):
            t.grad += g
    if theta is not None:
        reference.grad_clipping(p, theta)
    with torch.no_grad():
        return [t - lr * t.grad for t in p], float(loss), H.detach(), [t.grad.clone() for t in p]


def _expected_runs(reference, params0):
    """Every allowed way of running the two epochs: {name: (params after, reported perplexity)}, plus
    the typical wrong ones, for the messages."""
    e = EXACT
    lr, theta = e["lr"], e["theta"]
    H0 = torch.zeros(e["batch_size"], e["num_hiddens"], dtype=torch.float64)
    p1, _l1, H1, g1 = _epoch(reference, params0, H0, lr, theta)
    runs = {}
    for state_name, H in (("fresh", H0), ("carried", H1)):
        p2, l2, _, _ = _epoch(reference, p1, H, lr, theta)
        runs[state_name] = (p2, math.exp(l2))
    q1, _, _, _ = _epoch(reference, params0, H0, lr, None)
    q2, m2, _, _ = _epoch(reference, q1, H0, lr, None)
    runs["not clipped"] = (q2, math.exp(m2))
    r2, n2, _, _ = _epoch(reference, p1, H0, lr, theta, accumulated=g1)
    runs["not cleared"] = (r2, math.exp(n2))
    runs["one epoch"] = (p1, None)
    return runs


def _all_close(a, b) -> bool:
    return all(torch.allclose(x, y, rtol=EXACT_RTOL, atol=EXACT_ATOL) for x, y in zip(a, b))


def _weight_std_problem(name, w, band) -> str | None:
    std, mean = float(w.std()), float(w.mean())
    if std == 0:
        return f"all entries of {name} are {fmt_number(float(w.reshape(-1)[0]))}"
    if not band[0] <= std <= band[1] or abs(mean) > 6 * 0.01 / math.sqrt(w.numel()):
        return f"the entries of {name} have mean {fmt_number(mean)} and standard deviation {fmt_number(std)}"
    return None


class TestTrainCharRnnExactly:
    pytestmark = [pytest.mark.exercise("train_char_rnn")]

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_initialisation(self, student, device):
        """With lr = 0 the returned parameters are the initial ones: weights drawn from N(0, 0.01^2) (the
        standard deviation of all 544 weights within 15% of 0.01, each matrix's within 30%, means ~0) and
        biases exactly zero, as in the book."""
        params, _ppl, label = _exact_call(student, device, 0.0)
        problems = []
        weights = [params[i] for i in (0, 1, 3)]
        for i, w in zip((0, 1, 3), weights):
            problem = _weight_std_problem(PARAM_NAMES[i], w, INIT_STD_BAND_ONE)
            if problem:
                problems.append(problem)
        pooled = _weight_std_problem("the three weight matrices together", torch.cat([w.reshape(-1) for w in weights]),
                                     INIT_STD_BAND)
        if pooled and not problems:
            problems.append(pooled)
        for i in (2, 4):
            if not bool((params[i] == 0).all()):
                problems.append(f"{PARAM_NAMES[i]} is not all zeros (largest entry {fmt_number(float(params[i].abs().max()))})")
        if problems:
            raise AssertionError(f"with lr=0 nothing is learned, so {label} returns the initial parameters, and "
                                 f"{'; '.join(problems)}: initialise the weights W_xh, W_hh and W_hq with "
                                 "torch.randn(shape) * 0.01 (mean 0, standard deviation 0.01) and the biases b_h, "
                                 "b_q with zeros, as in the book")

    @pytest.mark.points(2)
    def test_two_exact_steps(self, student, reference, device):
        """Two epochs of one minibatch each on a repeated token (every partitioning gives the same
        minibatch): the parameters must be exactly two SGD steps p -= lr * clipped grad from the initial
        parameters (read with lr = 0 and the same seed), computed here in float64, and the reported
        perplexity that of the last epoch's minibatch (catches a missing or misplaced grad_clipping,
        gradients not cleared, a wrong number of epochs or steps, a wrong loss bookkeeping)."""
        params0, _ppl0, _ = _exact_call(student, device, 0.0)
        H0 = torch.zeros(EXACT["batch_size"], EXACT["num_hiddens"], dtype=torch.float64)
        _, _, _, g0 = _epoch(reference, params0, H0, 0.0, None)
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in g0))
        assert norm > 1.5 * EXACT["theta"], f"grader fixture: the clipping must be active (norm {norm})"
        params, ppl, label = _exact_call(student, device, EXACT["lr"])
        runs = _expected_runs(reference, params0)
        for allowed in ("fresh", "carried"):
            want_params, want_ppl = runs[allowed]
            if _all_close(params, want_params):
                if math.isfinite(ppl) and abs(ppl - want_ppl) <= EXACT_RTOL * want_ppl:
                    return
                raise AssertionError(
                    f"{label} trained the parameters exactly right, but reported a perplexity of {fmt_number(ppl)}, "
                    f"expected {want_ppl:.6f}: the perplexity of the last epoch is perplexity(sum over its "
                    "minibatches of loss * number of tokens / number of tokens), here exp of the last "
                    "minibatch's loss (start the sums at 0 every epoch, and add loss.item() * Y.numel())")
        diagnoses = {
            "not clipped": "the gradients were not clipped: call grad_clipping(params, theta) after backward() "
                           "and before the update, in every step",
            "not cleared": "the gradients of the first step were still in .grad during the second: clear them "
                           "(p.grad = None or p.grad.zero_()) after every update",
            "one epoch": "only ONE step was taken: train for num_epochs epochs, each going over the corpus",
        }
        for name, hint in diagnoses.items():
            if _all_close(params, runs[name][0]):
                raise AssertionError(f"the parameters returned by {label} are not two clipped SGD steps from the "
                                     f"initial ones (returned with lr=0 and the same seed): {hint}")
        if _all_close(params, params0):
            raise AssertionError(f"the parameters returned by {label} are the initial ones (returned with lr=0 and "
                                 "the same seed): the SGD step p -= lr * p.grad must change the very tensors "
                                 "returned, under torch.no_grad()")
        want = runs["fresh"][0]
        worst = max(range(5), key=lambda i: float((params[i] - want[i]).abs().max()))
        raise AssertionError(
            f"the parameters returned by {label} are not two clipped SGD steps from the initial ones (returned "
            f"with lr=0 and the same seed): {PARAM_NAMES[worst]} differs by up to "
            f"{fmt_number(float((params[worst] - want[worst]).abs().max()))}.  Each epoch here has exactly one "
            f"minibatch ({EXACT['batch_size']} sequences of {EXACT['num_steps']} tokens; the targets are the inputs "
            "shifted by one), and each step is: "
            "loss = char_level_loss(rnn(one_hot(X), state, params)), backward, grad_clipping(params, theta), "
            "p -= lr * p.grad, clear the gradients -- with the initial state zero (the state of the first epoch "
            "may be carried into the second, detached)")

    @pytest.mark.points(1)
    def test_epoch_perplexity(self, student, reference, device):
        """One epoch of TWO minibatches (the repeated token, (2B + 1) * T + 1 copies): the parameters are two
        clipped SGD steps from the initial ones (read with lr = 0), and the reported perplexity is the epoch's,
        exp of the mean loss over the tokens of both minibatches (catches the perplexity of the last minibatch
        only, and the mean of the minibatches' perplexities)."""
        e = EXACT
        corpus = _two_minibatch_corpus()
        params0, _ppl0, _ = _exact_call(student, device, 0.0, corpus, 1)
        params, ppl, label = _exact_call(student, device, e["lr"], corpus, 1)
        H0 = torch.zeros(e["batch_size"], e["num_hiddens"], dtype=torch.float64)
        # the second minibatch from a fresh state or from the first one's (carried); and, so that a mistake in
        # the steps (test_two_exact_steps' business) does not hide the perplexity, without clipping or clearing
        for theta, carried, accumulate in itertools.product((e["theta"], None), (False, True), (False, True)):
            p1, l1, H1, g1 = _epoch(reference, params0, H0, e["lr"], theta)
            p2, l2, _, _ = _epoch(reference, p1, H1 if carried else H0, e["lr"], theta,
                                  accumulated=g1 if accumulate else None)
            if not _all_close(params, p2):
                continue
            want = math.exp((l1 + l2) / 2)
            if math.isfinite(ppl) and abs(ppl - want) <= EXACT_RTOL * want:
                return
            hint = ("the perplexity of an epoch is perplexity(sum over ALL its minibatches of loss * number of "
                    "tokens / number of tokens): start the sums at 0 at every epoch and add loss.item() * Y.numel() "
                    "for every minibatch")
            if abs(ppl - math.exp(l2)) <= EXACT_RTOL * math.exp(l2):
                hint = "that is the perplexity of the LAST minibatch only: " + hint
            elif abs(ppl - (math.exp(l1) + math.exp(l2)) / 2) <= EXACT_RTOL * want:
                hint = ("that is the mean of the minibatches' perplexities: average the LOSSES over the epoch's "
                        "tokens, then take exp once -- " + hint)
            raise AssertionError(f"{label} (two minibatches of {e['batch_size']} x {e['num_steps']} tokens per epoch) "
                                 f"reported a perplexity of {fmt_number(ppl)}, expected {want:.6f}, exp of the mean "
                                 f"of the two minibatches' losses {l1:.6f} and {l2:.6f}: {hint}")
        raise AssertionError(f"the perplexity of {label} could not be checked: the parameters it returned are not two "
                             "SGD steps, one per minibatch, from the initial ones (returned with lr=0 and the same "
                             "seed); see the check of two exact steps")
