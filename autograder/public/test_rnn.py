"""Public self-checks for the ``rnn`` assignment.

These tests ship to students.  They compare against small expected values worked out by hand
(stored below as literals or written as the arithmetic that gives them) and against properties
every correct answer has; they never compute an answer with reference code.  Passing them is a
good sign, not a guarantee: the hidden suite checks more inputs, shapes, gradients and the
training run on new data.
"""

import codecs
import contextlib
import io
import math

import pytest
import torch

from autograder import inspections
from autograder.compare import assert_scalar_close, assert_tensor_close

LN2, LN4 = math.log(2.0), math.log(4.0)


def _f64(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _ngrams(student, tokens, n):
    """The student's count_ngrams(tokens, n) as a plain dict (a dict with tuple keys is read back)."""
    value = student.call("count_ngrams", tokens, n).value
    if hasattr(value, "handle"):
        items = student.eval(inspections.DICT_ITEMS,
                             label="reading the items of the result of count_ngrams", r=value)
        assert items is not None, (f"count_ngrams must return a dict (or collections.Counter), got an "
                                   f"object of type {value.type_name}")
        return dict(items)
    assert isinstance(value, dict), f"count_ngrams must return a dict (or collections.Counter), got {type(value).__name__}"
    return value


class TestCountNgrams:
    pytestmark = [pytest.mark.exercise("count_ngrams")]

    @pytest.mark.points(1)
    def test_small_sequences(self, student):
        got = _ngrams(student, list("abracadabra"), 2)
        expected = {("a", "b"): 2, ("b", "r"): 2, ("r", "a"): 2, ("a", "c"): 1, ("c", "a"): 1,
                    ("a", "d"): 1, ("d", "a"): 1}
        assert got == expected, (f"count_ngrams(list('abracadabra'), 2) returned {got!r}, expected "
                                 f"{expected!r} (keys are tuples of n tokens; 11 tokens have 10 bigrams)")
        got = _ngrams(student, ["a", "a", "a"], 1)
        assert got == {("a",): 3}, (f"count_ngrams(['a', 'a', 'a'], 1) returned {got!r}, expected "
                                    "{('a',): 3} (keys are tuples, 1-tuples when n = 1)")
        got = _ngrams(student, ["a", "a", "a"], 2)
        assert got == {("a", "a"): 2}, (f"count_ngrams(['a', 'a', 'a'], 2) returned {got!r}, expected "
                                        "{('a', 'a'): 2} (occurrences overlap)")
        got = _ngrams(student, [1, 2, 3], 4)
        assert got == {}, f"count_ngrams([1, 2, 3], 4) returned {got!r}, expected an empty dict (n > length)"

    @pytest.mark.points(1)
    def test_zen_of_python(self, student):
        with contextlib.redirect_stdout(io.StringIO()):
            import this
        chars = list(codecs.decode(this.s, "rot13"))
        # Counts worked out once on the 856 characters of the Zen of Python.
        for n, key, count, distinct in ((1, ("e",), 90, 45), (2, ("t", "h"), 19, 247),
                                        (3, (" ", "t", "h"), 15, 484)):
            got = _ngrams(student, chars, n)
            assert len(got) == distinct, (f"count_ngrams(Zen characters, {n}) has {len(got)} distinct "
                                          f"{n}-grams, expected {distinct}")
            assert got.get(key) == count, (f"count_ngrams(Zen characters, {n}) counts {key!r} "
                                           f"{got.get(key)!r} times, expected {count}")


class TestOneHot:
    pytestmark = [pytest.mark.exercise("one_hot")]

    @pytest.mark.points(1)
    def test_time_major(self, student, device):
        X = torch.tensor([[0, 2, 1], [3, 3, 0]])  # B = 2 sequences, T = 3 steps
        out = student.one_hot(X, 5)
        expected = _f64([[[1, 0, 0, 0, 0], [0, 0, 0, 1, 0]],    # step 0: X[0, 0] = 0, X[1, 0] = 3
                         [[0, 0, 1, 0, 0], [0, 0, 0, 1, 0]],    # step 1
                         [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]]])   # step 2
        assert_tensor_close(out, expected, what="one_hot(X, 5) for X of shape (2, 3): expected the "
                            "time-major shape (T, B, n_class) = (3, 2, 5)",
                            dtype=torch.float32, device=device)


class TestInitRnnState:
    pytestmark = [pytest.mark.exercise("init_rnn_state")]

    @pytest.mark.points(1)
    def test_tuple_of_zeros(self, student, device):
        out = student.init_rnn_state(2, 3, device)
        assert isinstance(out, tuple) and len(out) == 1, (
            f"init_rnn_state must return a tuple holding one tensor, (H,); got "
            f"{type(out).__name__} (the trailing comma makes the tuple: (torch.zeros(...),))")
        assert_tensor_close(out[0], torch.zeros(2, 3, dtype=torch.float64),
                            what="H in init_rnn_state(2, 3, device)", dtype=torch.float32, device=device)


# Worked example: V = 2, h = 2, q = 3; W_hh is not symmetric.
W_XH = [[0.2, -0.1], [0.4, 0.3]]
W_HH = [[0.1, 0.2], [-0.3, 0.4]]
B_H = [0.1, 0.0]
W_HQ = [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]]
B_Q = [0.0, 0.5, -1.0]
H0 = [[0.5, -0.5]]
# Step 0 with X = [1, 0]: X @ W_xh = [0.2, -0.1], H0 @ W_hh = [0.2, -0.1], + b_h -> [0.5, -0.2].
T1, T2 = math.tanh(0.5), math.tanh(-0.2)
# Step 1 with X = [0, 1]: X @ W_xh = [0.4, 0.3], H1 @ W_hh = [0.1 T1 - 0.3 T2, 0.2 T1 + 0.4 T2].
U1, U2 = math.tanh(0.4 + 0.1 * T1 - 0.3 * T2 + 0.1), math.tanh(0.3 + 0.2 * T1 + 0.4 * T2)


def _out(h1, h2):
    return [h1, -h2 + 0.5, 2 * h1 + h2 - 1.0]  # H @ W_hq + b_q


def _params(requires_grad=False):
    return [torch.tensor(p, requires_grad=requires_grad) for p in (W_XH, W_HH, B_H, W_HQ, B_Q)]


class TestRnnStep:
    pytestmark = [pytest.mark.exercise("rnn_step")]

    @pytest.mark.points(1)
    def test_worked_example(self, student, device):
        out = student.rnn_step(torch.tensor([[1.0, 0.0]]), torch.tensor(H0), _params())
        assert isinstance(out, (tuple, list)) and len(out) == 2, "rnn_step must return the tuple (O_t, H_new)"
        assert_tensor_close(out[1], _f64([[T1, T2]]), what="H_new = tanh(X_t @ W_xh + H @ W_hh + b_h) "
                            "(H @ W_hh, not W_hh.T; tanh; b_h)", dtype=torch.float32, device=device)
        assert_tensor_close(out[0], _f64([_out(T1, T2)]), what="O_t = H_new @ W_hq + b_q (from the NEW "
                            "state)", dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_gradient_of_b_h(self, student, device):
        params = _params(requires_grad=True)
        reply = student.call("rnn_step", torch.tensor([[1.0, 0.0]]), torch.tensor(H0), params,
                             cotangent=(torch.zeros(1, 3), torch.ones(1, 2)))
        grad = reply.input_grads[2] if reply.input_grads and len(reply.input_grads) > 2 else None
        assert grad is not None, "no gradient reached b_h: build H_new from differentiable torch operations"
        # d sum(tanh(a)) / d b_h = 1 - tanh(a) ** 2
        assert_tensor_close(grad, _f64([1 - T1 ** 2, 1 - T2 ** 2]),
                            what="the gradient of sum(H_new) with respect to b_h", device=device)


class TestRnn:
    pytestmark = [pytest.mark.exercise("rnn")]

    @pytest.mark.points(1)
    def test_worked_example(self, student, device):
        inputs = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # T = 2 steps, B = 1
        out = student.rnn(inputs, (torch.tensor(H0),), _params())
        assert isinstance(out, tuple) and len(out) == 2, "rnn must return the tuple (outputs, (H,))"
        outputs, state = out
        assert_tensor_close(outputs, _f64([_out(T1, T2), _out(U1, U2)]),
                            what="the outputs of rnn: torch.cat of the steps' outputs along dim 0, each step "
                            "starting from the previous step's state", dtype=torch.float32, device=device)
        assert isinstance(state, tuple) and len(state) == 1, (
            f"the state returned by rnn must be the tuple (H,), got {type(state).__name__}")
        assert_tensor_close(state[0], _f64([[U1, U2]]), what="the final state H returned by rnn",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_shapes(self, student, device):
        T, B, V, h, q = 4, 3, 5, 6, 7
        g = torch.Generator().manual_seed(0)
        params = [torch.randn(s, generator=g) * 0.3 for s in ((V, h), (h, h), (h,), (h, q), (q,))]
        out = student.rnn(torch.randn(T, B, V, generator=g), (torch.zeros(B, h),), params)
        outputs, state = out
        assert tuple(outputs.shape) == (T * B, q), (
            f"rnn outputs have shape {tuple(outputs.shape)} for T = {T}, B = {B}, q = {q}; expected "
            f"(T * B, q) = {(T * B, q)}: concatenate with torch.cat(outputs, dim=0), not torch.stack")
        assert isinstance(state, tuple) and tuple(state[0].shape) == (B, h), (
            f"rnn must return the state as the tuple (H,) with H of shape (B, h) = {(B, h)}")


class TestCharLevelLoss:
    pytestmark = [pytest.mark.exercise("char_level_loss")]

    @pytest.mark.points(1)
    def test_uniform_logits(self, student, device):
        out = student.char_level_loss(torch.zeros(6, 4), torch.tensor([[0, 1, 2], [3, 0, 1]]))
        assert_tensor_close(out, torch.tensor(LN4, dtype=torch.float64),
                            what="char_level_loss of all-zero logits over V = 4 classes (= ln 4, a 0-d tensor)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_targets_line_up_time_major(self, student, device):
        # B = 2, T = 2.  Rows of outputs: (step 0, seq 0), (step 0, seq 1), (step 1, seq 0), (step 1, seq 1).
        Y = torch.tensor([[0, 1], [2, 0]])           # seq 0 reads 0, 1; seq 1 reads 2, 0
        row_targets = [0, 2, 1, 0]                   # Y.T.reshape(-1)
        outputs = torch.zeros(4, 3)
        for row, target in enumerate(row_targets):
            outputs[row, target] = LN2               # each row's loss: -log(2 / (2 + 1 + 1)) = ln 2
        out = student.char_level_loss(outputs, Y)
        assert_tensor_close(out, torch.tensor(LN2, dtype=torch.float64),
                            what="char_level_loss(outputs, Y) with every row predicting its own target "
                            "(1.5 ln 2 means Y.reshape(-1) was used: flatten Y.T)",
                            dtype=torch.float32, device=device)

    @pytest.mark.points(1)
    def test_large_logits(self, student, device):
        outputs = torch.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
        Y = torch.tensor([[1, 1]])                   # B = 1, T = 2: losses 1e4 and 0
        out = student.char_level_loss(outputs, Y)
        assert_tensor_close(out, torch.tensor(5000.0, dtype=torch.float64),
                            what="char_level_loss for logits up to 1e4 (inf or nan? work from the logits "
                            "with log-sum-exp or F.cross_entropy)", dtype=torch.float32, device=device)


class TestPerplexity:
    pytestmark = [pytest.mark.exercise("perplexity")]

    @pytest.mark.points(1)
    def test_values(self, student, device):
        assert_scalar_close(student.perplexity(0.0), 1.0, what="perplexity(0.0)", kind=float)
        assert_scalar_close(student.perplexity(math.log(5.0)), 5.0, what="perplexity(ln 5)", kind=float)
        assert_scalar_close(student.perplexity(torch.tensor(math.log(3.0))), 3.0, rtol=1e-6,
                            what="perplexity(tensor(ln 3))", kind=float)


def _clip_params():
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    w.grad = torch.tensor([3.0, 0.0])
    b = torch.tensor([[1.0, 1.0]], requires_grad=True)
    b.grad = torch.tensor([[0.0, 4.0]])
    return w, b  # global norm sqrt(9 + 16) = 5


class TestGradClipping:
    pytestmark = [pytest.mark.exercise("grad_clipping")]

    @pytest.mark.points(1)
    def test_clips_list_and_generator(self, student, device):
        w, b = _clip_params()
        reply = student.call("grad_clipping", [w, b], 1.0)
        assert_tensor_close(reply.args_after[0].grad, _f64([0.6, 0.0]),
                            what="w.grad after clipping a global norm of 5 to theta = 1", device=device)
        assert_tensor_close(reply.args_after[1].grad, _f64([[0.0, 0.8]]),
                            what="b.grad after clipping a global norm of 5 to theta = 1", device=device)
        grads = student.eval(inspections.GRADS_AFTER_CLIPPING_A_GENERATOR,
                             label="grad_clipping((p for p in [w, b]), theta=1.0)",
                             ps=list(_clip_params()), theta=1.0)
        assert_tensor_close(grads[0], _f64([0.6, 0.0]),
                            what="w.grad after grad_clipping(a generator, theta=1) (unchanged? a generator is "
                            "used up by the first loop: read it into a list first)", device=device)

    @pytest.mark.points(1)
    def test_no_scale_up_and_missing_grads(self, student, device):
        w, b = _clip_params()
        reply = student.call("grad_clipping", [w, b], 10.0)
        assert_tensor_close(reply.args_after[0].grad, _f64([3.0, 0.0]),
                            what="w.grad after grad_clipping with theta = 10 > norm = 5 (never scale up)",
                            device=device)
        frozen = torch.tensor([2.0], requires_grad=True)  # .grad is None
        w, b = _clip_params()
        reply = student.call("grad_clipping", [frozen, w, b], 1.0)
        assert reply.args_after[0].grad is None, "a parameter whose .grad is None must be skipped"
        assert_tensor_close(reply.args_after[1].grad, _f64([0.6, 0.0]),
                            what="w.grad after clipping [frozen (no grad), w, b] to theta = 1", device=device)


# A second-order Markov chain over 6 symbols; each context has three successors with probabilities
# 0.7, 0.2, 0.1, so its true perplexity is exp(H(0.7, 0.2, 0.1)) = 2.2296.  The best perplexity from
# the current symbol alone is 3.8468 for this chain; the bound is their geometric mean, 2.929.
PUBLIC_BOUND = 2.929


def _chain_corpus(n=12000, chain_seed=2024, sample_seed=1):
    V = 6
    g = torch.Generator().manual_seed(chain_seed)
    P = torch.zeros(V, V, V, dtype=torch.float64)
    for a in range(V):
        for b in range(V):
            P[a, b, torch.randperm(V, generator=g)[:3]] = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    g = torch.Generator().manual_seed(sample_seed)
    seq = [0, 1]
    for _ in range(n - 2):
        seq.append(int(torch.multinomial(P[seq[-2], seq[-1]], 1, generator=g)))
    return torch.tensor(seq)


class TestTrainCharRnn:
    pytestmark = [pytest.mark.exercise("train_char_rnn")]

    @pytest.mark.points(1)
    def test_learns_a_markov_chain(self, student, device):
        out = student.call("train_char_rnn", _chain_corpus(), 6, 32, 16, 32, 2.0, 20, 1.0, seed=0,
                           timeout=60).value
        assert isinstance(out, (tuple, list)) and len(out) == 2, "train_char_rnn must return (params, ppl)"
        params, ppl = out
        shapes = [tuple(p.shape) if isinstance(p, torch.Tensor) else None for p in params]
        assert shapes == [(6, 32), (32, 32), (32,), (32, 6), (6,)], (
            f"the parameters returned have shapes {shapes}, expected [W_xh (6, 32), W_hh (32, 32), "
            "b_h (32,), W_hq (32, 6), b_q (6,)]")
        assert isinstance(ppl, float), f"the perplexity must be a Python float, got {type(ppl).__name__}"
        assert ppl <= PUBLIC_BOUND, (
            f"the last epoch's perplexity is {ppl:.3f}, expected at most {PUBLIC_BOUND} (the source's true "
            "perplexity is 2.230; 3.847 is the best possible without memory of the previous symbol)")
