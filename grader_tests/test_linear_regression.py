"""Hidden suite for the ``linear_regression`` assignment (grader only; never shipped).

Exercises: ``synthetic_data``, ``data_iter``, ``linreg``, ``squared_loss``, ``sgd`` (DESIGN §5),
``train`` (from scratch), ``build_concise_model`` and ``train_concise`` (nn.Linear, nn.MSELoss,
torch.optim.SGD).  Recipe (DESIGN §6): inputs are generated here, in the trusted parent, on the CPU,
from fixed seeds (``SEED`` + a per-test offset); the ``student`` proxy moves them to the device under
test.  Values are compared with the reference computed in float64 (rtol 1e-5, atol 1e-6 for float32
outputs; rtol 1e-10, atol 1e-12 for float64 ones), after shape, dtype, device and finiteness.

Decisions documented here:

* Random outputs are graded statistically, on seeded calls (``student.call(..., seed=...)`` seeds
  ``torch`` and ``random`` in the child).  ``synthetic_data``: X's column means and standard
  deviations, and the residual ``y - (X @ w + b)`` (mean about 0, standard deviation 0.01), with
  bounds at six or more standard errors of the estimates, so a correct answer never fails by
  chance while a missing bias, a missing noise, noise of the wrong scale or uniform features do.
  ``build_concise_model``: the weight's mean and standard deviation over 2000 entries, a bias of
  exactly 0.
* Seeding inside a function (the notebook forbids it) is caught by outcome: two calls with the global
  generators seeded differently must draw differently (``synthetic_data``'s X, ``train``'s initial w
  with ``num_epochs=0``, ``build_concise_model``'s weight; ``data_iter``'s order and
  ``train_concise``'s end point have their own tests).
* ``data_iter``: any iterable of ``(X, y)`` minibatches is accepted -- a generator (the book's
  way, and what the stub asks for), a ``DataLoader``, or a list of all the minibatches, because the
  training loop ``for X, y in data_iter(...)`` works the same with each.  What is checked is the
  epoch the iteration produces: every example exactly once, features and labels still paired,
  minibatches of ``batch_size`` except a smaller (never empty) last one, and a random order that is
  new at every call (so seeding inside ``data_iter`` loses that test's points).  The iteration is
  cut off after a few more minibatches than examples, so an endless generator fails quickly.
* ``squared_loss`` is only given ``y_hat`` of shape ``(n, 1)`` (what ``linreg`` returns), with ``y``
  of shape ``(n,)`` or ``(n, 1)``: ``y.reshape(y_hat.shape)``, ``y.view_as(y_hat)`` and
  ``y.reshape(-1, 1)`` are all correct.
* ``sgd`` is graded exactly as in ``softmax_regression`` (same contract, DESIGN §5); ``p.grad`` may
  be zeroed in place or set to ``None``.
* ``train`` must use the student's own ``data_iter``, ``linreg``, ``squared_loss`` and ``sgd`` (AST
  check: the names appear in ``train``'s body) and none of the library shortcuts (``torch.optim``,
  ``nn.Linear``, ``nn.MSELoss``, a closed-form solve).  So a bug in one of those functions can
  cost ``train``'s points as well; the messages say so.  ``train`` is graded on short seeded runs
  (the book's hyperparameters: lr 0.03, 3 epochs, batch size 10, 1000 examples, a fraction of a
  second on one CPU thread): the learned parameters must be within ``TRAIN_TOL`` of the truth
  (20 seeds of the reference stay below 1.3e-3; 2 epochs instead of 3 already miss it); with
  ``num_epochs=0`` the initial parameters come back (shapes, ``b = 0``, small ``w``); with one
  full-size batch each epoch is one exact gradient-descent step, which pins down how ``lr``,
  ``batch_size`` and the loss scale are used.  That run uses the book's parameters times 100
  (``FULL_W``, ``FULL_B``), so where training starts (N(0, 0.01) or, for a wrong
  ``build_concise_model``, PyTorch's default initialisation) is well within ``FULL_BATCH_TOL``.
* ``train_concise`` must build its model with the student's ``build_concise_model`` and use
  ``torch.optim``'s ``SGD`` and ``nn.MSELoss`` (or ``F.mse_loss``) (AST check on its body), and is
  graded like ``train``.  ``nn.MSELoss`` is the mean of the squared errors without the 1/2: its
  full-batch step is twice the from-scratch one.  The weight may come back as ``(1, d)`` (the
  layer's shape), ``(d, 1)`` or ``(d,)``: only its values are compared.
* ``build_concise_model`` may return ``nn.Sequential(nn.Linear(d, 1))`` (the book's) or a bare
  ``nn.Linear(d, 1)``: its structure is read in the sandbox with ``student.eval``.
* The no-shortcut tests award their points for a from-scratch implementation that also runs and
  gives correct results, otherwise a stub would earn them.  ``train``'s is also observed in the
  sandbox (:mod:`autograder.observed`): its run must dispatch no ATen kernel of ``mse_loss`` or of
  ``torch.linalg`` and run no optimizer step (``TRAIN_OPS``, the image of ``TRAIN_BANNED``:
  ``torch.inverse``, ``pinverse`` and ``torch.linalg.*`` all run ``linalg_*``/``_linalg_*``
  kernels; a ``torch.optim`` step runs plain ``add_`` on the CPU, but inside a profiler region
  named ``Optimizer.step#...``).  ``nn.Linear`` and ``F.linear`` run ``addmm``, like a legitimate
  ``torch.addmm``: for them the AST check is the only one.
"""

import ast

import pytest
import torch

from autograder import inspections
from autograder.banned import find_banned
from autograder.public.banned_rules import TRAIN_BANNED
from autograder.compare import (assert_device, assert_dtype, assert_finite, assert_is_tensor, assert_same_shape,
                                assert_tensor_close, describe, fail_with_hint, fmt_number, fmt_shape,
                                fmt_tensor)
from autograder.observed import assert_no_banned_operators, ban
from autograder.seeded import SeededInputs
from autograder.student import RemoteObject

import shared_sgd_checks as sgd_checks

SEED = 20_240_611
_INPUTS = SeededInputs(SEED)
_gen, _randn = _INPUTS.gen, _INPUTS.randn

# float32 outputs vs the float64 reference (DESIGN §6); float64 outputs must be float64-accurate.
RTOL, ATOL = 1e-5, 1e-6
RTOL64, ATOL64 = 1e-10, 1e-12

TRUE_W, TRUE_B = [2.0, -3.4], 4.2  # the book's synthetic data (DESIGN §8)
OTHER_W, OTHER_B = [0.5, -1.5, 3.0], -1.0  # three features: nothing may assume two
NOISE_STD = 0.01
TRAIN_TOL = 5e-3  # max |learned - true| after the book's 3 epochs (reference: < 1.3e-3 over 20 seeds)
FULL_W, FULL_B = [200.0, -340.0], 420.0  # the book's parameters times 100: the start hardly matters
FULL_BATCH_TOL = 2.0  # 0.5 % of the largest parameter; a wrong step size is off by tens
TRAIN_TIMEOUT = 20.0  # seconds for one training call (the reference needs 0.1-0.3 s on one CPU thread)

DETACHED_HINT = ("if the values pass their own test, a wrong gradient usually means part of the computation "
                 "is cut out of the autograd graph (.detach(), .data, .item(), .numpy(), torch.tensor(...) of "
                 "intermediate results)")
USES_OWN = ("train uses your data_iter, linreg, squared_loss and sgd: if one of them fails its own checks, "
            "fix that first")

TRAIN_OPS = {
    **ban("PyTorch's built-in MSE loss", TRAIN_BANNED["mse_loss"], "mse_loss*"),
    **ban("a linear-algebra solver", TRAIN_BANNED["torch.linalg"], "linalg_*", "_linalg_*"),
    **ban("a torch.optim optimizer", TRAIN_BANNED["torch.optim"], "<region Optimizer.*>"),
}


RESEED_HINT = ("the function seeds a random generator itself (torch.manual_seed inside it?), so every call "
               "draws the same numbers; draw from the global generators without reseeding them (the grader "
               "seeds them before each call)")


# ----------------------------------------------------------------------------- helpers


def _fmt_list(values) -> str:
    return "[" + ", ".join(fmt_number(v) for v in values) + "]"


def _regression_data(w, b, n, offset):
    """Features (n, d) ~ N(0, 1) and labels (n, 1) = X w + b + N(0, 0.01^2), float32, made here."""
    g = _gen(offset)
    X = torch.randn(n, len(w), generator=g, dtype=torch.float64)
    y = X @ torch.tensor(w, dtype=torch.float64) + b + NOISE_STD * torch.randn(n, generator=g, dtype=torch.float64)
    return X.float(), y.reshape(-1, 1).float()


def _names_used(source: str, function: str):
    """Identifiers used in the body of the module-level ``def function`` (names and attribute names,
    with module-level import aliases resolved), or None when it is not defined / does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    aliases = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[-1]
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function]
    if not defs:
        return None
    used = set()
    for node in ast.walk(defs[-1]):
        if isinstance(node, ast.Name):
            used.update((node.id, aliases.get(node.id, node.id)))
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.update((node.name.split(".")[-1], node.asname or ""))
    return used


# ============================================================================ synthetic_data


def _synthetic(student, w, b, n, offset):
    """Call synthetic_data (seeded) and check it returns a pair of tensors; return (X, y, what)."""
    what = f"synthetic_data(w, b={fmt_number(b)}, num_examples={n}) for {fmt_tensor('w', w)}"
    value = student.call("synthetic_data", w, b, n, seed=SEED + offset).value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise AssertionError(f"{what} returned {describe(value)}, expected the pair (X, y): return X, y")
    X, y = value
    assert_is_tensor(X, what=f"X from {what}")
    assert_is_tensor(y, what=f"y from {what}")
    return X, y, what


def _y_shape_hint(y, n) -> str:
    if tuple(y.shape) == (n,):
        return ("y must be a column of shape (num_examples, 1), as the book's y.reshape((-1, 1)) makes it: "
                "X @ w with a 1-D w has shape (num_examples,)")
    if y.dim() == 2 and tuple(y.shape) == (n, n):
        return ("a y of shape (n, n) comes from broadcasting an (n,) tensor against an (n, 1) one: compute X @ w + b "
                "and the noise with the same shape, then reshape to (-1, 1)")
    return ""


def _residual_hint(res: torch.Tensor, b: float) -> str:
    mean, std = res.mean().item(), res.std().item()
    if abs(mean + b) < 0.05 and abs(b) > 0.5:
        return f"the residual's mean is about -b = {fmt_number(-b)}: the bias b is missing from y = X @ w + b + noise"
    if std < 1e-6:
        return ("y is exactly X @ w + b: the noise is missing; add noise drawn from N(0, 0.01**2), "
                "e.g. torch.normal(0, 0.01, y.shape)")
    if 0.8 < std < 1.2:
        return ("the noise has standard deviation 1: draw it with standard deviation 0.01, "
                "torch.normal(0, 0.01, y.shape)")
    if 5e-5 < std < 2e-4:
        return ("the noise has standard deviation 0.0001: 0.01 is the noise's standard deviation, "
                "not its variance")
    if std > 0.05:
        return ("y is not X @ w + b plus small noise for the X that was returned: compute y from that same X "
                "(torch.matmul(X, w) + b), not from another draw, and don't change X afterwards")
    return ""


class TestSyntheticData:
    pytestmark = [pytest.mark.exercise("synthetic_data")]

    @pytest.mark.points(2)
    @pytest.mark.placement
    @pytest.mark.parametrize("k, case", list(enumerate([(TRUE_W, TRUE_B, 1000), (OTHER_W, OTHER_B, 7), ([1.5], 0.25, 1)])))
    def test_shapes_dtype_device(self, student, device, k, case):
        """X has shape (num_examples, len(w)) and y shape (num_examples, 1), float32 like w, on w's device
        (catches a missing y.reshape((-1, 1)), a hard-coded number of features, tensors left on the CPU)."""
        (w, b, n) = case
        w_t = torch.tensor(w)
        X, y, what = _synthetic(student, w_t, b, n, 10 + k)
        assert_same_shape(X, (n, len(w)), what=f"X from {what}",
                          hint=("X must have one row per example and one column per entry of w: shape "
                                "(num_examples, len(w))"))
        assert_dtype(X, w_t.dtype, what=f"X from {what}")
        assert_device(X, device, what=f"X from {what}")
        assert_same_shape(y, (n, 1), what=f"y from {what}", hint=_y_shape_hint(y, n))
        assert_dtype(y, w_t.dtype, what=f"y from {what}")
        assert_device(y, device, what=f"y from {what}")
        assert_finite(X, what=f"X from {what}")
        assert_finite(y, what=f"y from {what}")

    @pytest.mark.points(2)
    def test_features_are_standard_normal(self, student, device):
        """Every column of X has mean about 0 and standard deviation about 1, with half the entries
        negative (catches torch.rand, a wrong scale, a constant column)."""
        w = torch.tensor(OTHER_W)
        n = 4000
        X, _y, what = _synthetic(student, w, OTHER_B, n, 20)
        assert_same_shape(X, (n, len(OTHER_W)), what=f"X from {what}")
        assert_finite(X, what=f"X from {what}")
        X64 = X.double()
        means, stds = X64.mean(dim=0), X64.std(dim=0)
        negative = (X64 < 0).double().mean().item()
        # standard errors: 1/sqrt(4000) = 0.016 for a mean, 0.011 for a standard deviation
        badness = torch.maximum(means.abs() / 0.1, (stds - 1).abs() / 0.07)
        if bool((badness > 1).any()) or abs(negative - 0.5) > 0.05:
            j = int(torch.argmax(badness))
            hint = "draw X from the standard normal distribution N(0, 1): torch.normal(0, 1, (num_examples, len(w)))"
            if 0.4 < means.mean().item() < 0.6 and 0.25 < stds.mean().item() < 0.33:
                hint = ("X looks uniform on [0, 1) (torch.rand): " + hint)
            raise AssertionError(
                f"X from {what} does not look standard normal: column {j} has mean "
                f"{fmt_number(means[j].item())} and standard deviation {fmt_number(stds[j].item())} "
                f"(expected about 0 and 1), and {fmt_number(100 * negative)}% of the entries are negative "
                f"(expected about 50%): {hint}")

    @pytest.mark.points(3)
    @pytest.mark.parametrize("k, case", list(enumerate([(TRUE_W, TRUE_B, 4000), (OTHER_W, OTHER_B, 3000)])))
    def test_labels_are_linear_plus_small_noise(self, student, device, k, case):
        """The residual y - (X @ w + b), for the X returned, has mean about 0 and standard deviation
        0.01 (catches a missing bias, a missing noise, noise of standard deviation 1 or 0.0001, and y
        computed from another X)."""
        (w, b, n) = case
        w_t = torch.tensor(w)
        X, y, what = _synthetic(student, w_t, b, n, 30 + k)
        assert_same_shape(X, (n, len(w)), what=f"X from {what}")
        assert_same_shape(y, (n, 1), what=f"y from {what}", hint=_y_shape_hint(y, n))
        assert_finite(y, what=f"y from {what}")
        res = y.double().reshape(-1) - X.double() @ w_t.double() - b
        mean, std = res.mean().item(), res.std().item()
        # standard errors: 0.01/sqrt(n) <= 1.9e-4 for the mean, <= 1.3e-4 for the standard deviation
        if abs(mean) > 2e-3 or not 0.009 <= std <= 0.011:
            raise AssertionError(
                f"y from {what} is not X @ w + b plus noise of standard deviation 0.01: the residual "
                f"y - (X @ w + b) has mean {fmt_number(mean)} and standard deviation {fmt_number(std)} "
                f"(expected about 0 and 0.01)" + (f": {h}" if (h := _residual_hint(res, b)) else ""))

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, device):
        """A float64 w gives float64 X and y (created with dtype=w.dtype), still X @ w + b + small noise."""
        w = torch.tensor(OTHER_W, dtype=torch.float64)
        n = 500
        X, y, what = _synthetic(student, w, OTHER_B, n, 40)
        assert_dtype(X, torch.float64, what=f"X from {what}")
        assert_same_shape(y, (n, 1), what=f"y from {what}", hint=_y_shape_hint(y, n))
        assert_dtype(y, torch.float64, what=f"y from {what}")
        assert_device(X, device, what=f"X from {what}")
        res = y.reshape(-1) - X @ w - OTHER_B
        std = res.std().item()
        if not 0.008 <= std <= 0.012 or abs(res.mean().item()) > 3e-3:
            raise AssertionError(f"y from {what} is not X @ w + b plus noise of standard deviation 0.01: the "
                                 f"residual has mean {fmt_number(res.mean().item())} and standard deviation "
                                 f"{fmt_number(std)}" + (f": {h}" if (h := _residual_hint(res, OTHER_B)) else ""))

    @pytest.mark.points(1)
    def test_new_draws_every_call(self, student, device):
        """Two calls with the global generators seeded differently before each return different X
        (catches torch.manual_seed inside synthetic_data, which makes every data set the same)."""
        w = torch.tensor(TRUE_W)
        (X1, _y1, what), (X2, _y2, _) = (_synthetic(student, w, TRUE_B, 50, 50 + k) for k in range(2))
        if X1.shape == X2.shape and torch.equal(X1, X2):
            raise AssertionError(f"two calls of {what}, with the random generators seeded differently before each, "
                                 f"returned the same X: {RESEED_HINT}")


# ============================================================================ data_iter


def _iter_data(n, d, offset, dtype=torch.float32, label_shape="column"):
    """Features (n, d) with distinct rows and labels (n, 1) or (n,) with distinct values."""
    features = _randn((n, d), offset, dtype=dtype)
    labels = _randn((n, 1) if label_shape == "column" else (n,), offset + 1)
    return features, labels


def _minibatches(student, batch_size, features, labels, seed=None):
    """Call data_iter and collect the minibatches one epoch yields (at most n + 3 of them)."""
    what = f"data_iter({batch_size}, features, labels) for {fmt_tensor('features', features)}, {fmt_tensor('labels', labels)}"
    value = student.call("data_iter", batch_size, features, labels, seed=seed).value
    limit = len(features) + 3
    if isinstance(value, RemoteObject):
        try:
            items = student.eval(inspections.FIRST_ITEMS, it=value, limit=limit)
        except AssertionError as error:
            text = str(error)
            if " raised " in text:
                raise AssertionError(f"iterating over the minibatches of {what} raised "
                                     f"{text.split(' raised ', 1)[1]}") from None
            raise AssertionError(f"iterating over the minibatches of {what} failed: {text}") from None
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise AssertionError(f"{what} returned {describe(value)}, expected minibatches: write data_iter as a "
                             "generator that yields (features[idx], labels[idx]) pairs")
    if not isinstance(items, list):
        raise AssertionError(f"iterating over {what} did not give minibatches (got {describe(items)})")
    if len(items) >= limit:
        raise AssertionError(f"{what} yielded more than {limit - 1} minibatches for {len(features)} examples (it "
                             "never stops?): one epoch has ceil(num_examples / batch_size) minibatches")
    for k, item in enumerate(items):
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or not all(isinstance(t, torch.Tensor) for t in item)):
            raise AssertionError(f"minibatch {k} of {what} is {describe(item)}, expected a pair (X, y) of tensors: "
                                 "yield features[batch_indices], labels[batch_indices]")
    return items, what


def _row_index(features: torch.Tensor) -> dict:
    return {tuple(row.tolist()): i for i, row in enumerate(features)}


def _order(items, features, what) -> list[list[int]]:
    """The indices (into features) of the rows of every minibatch's X."""
    index = _row_index(features)
    d = features.shape[1]
    order = []
    for k, (X, _y) in enumerate(items):
        if X.dim() != 2 or X.shape[1] != d:
            raise AssertionError(f"X of minibatch {k} of {what} has shape {fmt_shape(X.shape)}, expected (k, {d}): "
                                 "index the rows of features with a tensor (or list) of indices, "
                                 "features[batch_indices]")
        rows = []
        for r, row in enumerate(X.to(features.dtype)):
            i = index.get(tuple(row.tolist()))
            if i is None:
                raise AssertionError(f"row {r} of X in minibatch {k} of {what} is not a row of features: yield the "
                                     "rows of features unchanged, features[batch_indices]")
            rows.append(i)
        order.append(rows)
    return order


def _check_coverage(order, n, batch_size, what):
    flat = [i for batch in order for i in batch]
    seen = set(flat)
    if len(flat) != len(seen):
        dup = next(i for i in flat if flat.count(i) > 1)
        raise AssertionError(
            f"{what}: example {dup} appears {flat.count(dup)} times in one epoch; every example must appear "
            "exactly once: shuffle a list of all the indices (random.shuffle or torch.randperm) instead of "
            "drawing indices at random with replacement (torch.randint)")
    if len(seen) != n:
        missing = n - len(seen)
        hint = ("every example must appear exactly once per epoch")
        if missing == n % batch_size and missing:
            hint = (f"the last, smaller minibatch ({missing} examples, since {batch_size} does not divide {n}) "
                    "was dropped: loop over range(0, num_examples, batch_size) and take the indices up to "
                    "min(i + batch_size, num_examples)")
        raise AssertionError(f"{what}: only {len(seen)} of the {n} examples appear in one epoch "
                             f"({missing} missing): {hint}")


def _check_sizes(order, n, batch_size, what):
    sizes = [len(b) for b in order]
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([rest] if rest else [])
    if sizes != expected:
        hint = ""
        if sizes and sizes[-1] == 0:
            hint = (": the last minibatch is empty -- loop over range(0, num_examples, batch_size), which stops "
                    "before num_examples")
        elif sizes == expected[:-1]:
            hint = ": the last, smaller minibatch is missing"
        raise AssertionError(f"{what} yielded minibatches of sizes {sizes}, expected {expected} (batch_size "
                             f"examples each, the rest in the last one){hint}")


class TestDataIter:
    pytestmark = [pytest.mark.exercise("data_iter")]

    @pytest.mark.points(3)
    @pytest.mark.parametrize("k, case", list(enumerate([(23, 3, 5), (10, 2, 4)])))
    def test_every_example_exactly_once(self, student, device, k, case):
        """One epoch yields every example exactly once, in minibatches of batch_size and a smaller last
        one (catches dropping the last partial minibatch, sampling with replacement)."""
        (n, d, batch_size) = case
        features, labels = _iter_data(n, d, 100 + 2 * k)
        items, what = _minibatches(student, batch_size, features, labels, seed=SEED + 100 + k)
        order = _order(items, features, what)
        _check_coverage(order, n, batch_size, what)
        _check_sizes(order, n, batch_size, what)

    @pytest.mark.points(2)
    @pytest.mark.placement
    def test_features_and_labels_stay_paired(self, student, device):
        """Each minibatch's y holds the labels of exactly the examples in its X, in the same order, with
        the inputs' dtype and device (catches shuffling features and labels separately)."""
        cases = [(17, 3, 4, torch.float32, "column"), (9, 2, 3, torch.float64, "vector")]
        for k, (n, d, batch_size, dtype, label_shape) in enumerate(cases):
            features, labels = _iter_data(n, d, 200 + 2 * k, dtype=dtype, label_shape=label_shape)
            items, what = _minibatches(student, batch_size, features, labels, seed=SEED + 200 + k)
            order = _order(items, features, what)
            for j, ((X, y), rows) in enumerate(zip(items, order)):
                name = f"minibatch {j} of {what}"
                assert_dtype(X, features.dtype, what=f"X of {name}")
                assert_device(X, device, what=f"X of {name}")
                assert_dtype(y, labels.dtype, what=f"y of {name}")
                assert_device(y, device, what=f"y of {name}")
                expected = labels[torch.tensor(rows, dtype=torch.int64)]
                assert_same_shape(y, expected, what=f"y of {name}",
                                  hint="index labels with the same indices as features: labels[batch_indices]")
                if not torch.equal(y, expected):
                    r = int(torch.nonzero((y != expected).reshape(len(rows), -1).any(dim=1))[0])
                    raise AssertionError(
                        f"y of {name} does not hold the labels of the examples in X: row {r} of X is example "
                        f"{rows[r]}, but row {r} of y is not its label -- features and labels must be indexed "
                        "with the same indices (yield features[batch_indices], labels[batch_indices]); "
                        "shuffling them separately breaks the pairs")

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate([(24, 2, 6), (5, 3, 8), (4, 2, 1)])))
    def test_batch_sizes(self, student, device, k, case):
        """batch_size dividing n gives no empty minibatch; batch_size > n gives one minibatch of n;
        batch_size 1 gives n minibatches of one row, still 2-D."""
        (n, d, batch_size) = case
        features, labels = _iter_data(n, d, 300 + 2 * k)
        items, what = _minibatches(student, batch_size, features, labels, seed=SEED + 300 + k)
        order = _order(items, features, what)
        _check_sizes(order, n, batch_size, what)
        _check_coverage(order, n, batch_size, what)
        for j, (_X, y) in enumerate(items):
            if y.shape[1:] != labels.shape[1:]:
                raise AssertionError(f"y of minibatch {j} of {what} has shape {fmt_shape(y.shape)}, expected "
                                     f"({len(order[j])}, 1): index labels with a tensor of indices")

    @pytest.mark.points(2)
    def test_new_random_order_every_epoch(self, student, device):
        """The examples come in a random order (not 0, 1, 2, ..., not consecutive blocks), and a second
        call (the next epoch) gives a different order."""
        n, d, batch_size = 30, 2, 7
        features, labels = _iter_data(n, d, 400)
        items, what = _minibatches(student, batch_size, features, labels, seed=SEED + 400)
        order = _order(items, features, what)
        flat = [i for b in order for i in b]
        if flat == list(range(n)):
            raise AssertionError(f"{what} yields the examples in their original order 0, 1, 2, ...: shuffle the "
                                 "indices first (random.shuffle(indices) or torch.randperm(num_examples))")
        if all(b == list(range(b[0], b[0] + len(b))) for b in order if b):
            raise AssertionError(f"{what} yields consecutive examples in every minibatch (only the order of the "
                                 "minibatches is random): shuffle the examples' indices, then cut them into "
                                 "minibatches")
        items2, _ = _minibatches(student, batch_size, features, labels)
        flat2 = [i for b in _order(items2, features, what) for i in b]
        if flat2 == flat:
            raise AssertionError(f"two calls of {what} (two epochs) yield the examples in the same order: the order "
                                 "must be new at every call; don't seed the random generator inside data_iter")


# ============================================================================ linreg


LINREG_CASES = [  # (X shape, note): a rectangular X, a square one (X * w would broadcast), a batch of one
    ((5, 3), ""),
    ((4, 4), " (square)"),
    ((1, 2), " (batch of one)"),
]


def _linreg_inputs(shape, offset, dtype=torch.float32):
    n, d = shape
    return (_randn((n, d), offset, dtype=dtype), _randn((d, 1), offset + 1, dtype=dtype, scale=1.5),
            _randn((1,), offset + 2, dtype=dtype, scale=2.0))


def _linreg_hint(out, X, w, b) -> str:
    if not isinstance(out, torch.Tensor) or not torch.isfinite(out).all():
        return ""
    X64, w64 = X.double(), w.double()
    if out.shape == (X.shape[0], 1) and torch.allclose(out.double(), X64 @ w64, rtol=1e-4, atol=1e-5):
        return "it equals X @ w: the bias b is missing (X @ w + b)"
    return ""


def _linreg_call(student, *args, **kwargs):
    try:
        return student.call("linreg", *args, **kwargs)
    except AssertionError as error:
        text = str(error)
        if "must match the size of tensor" in text:
            fail_with_hint(error, "X * w multiplies element by element (broadcasting); linreg needs the matrix "
                                   "product X @ w (torch.matmul(X, w)) of X (n, d) and w (d, 1)")
        if "cannot be multiplied" in text or "size mismatch" in text or "dimension" in text:
            fail_with_hint(error, "the matrix product is X @ w, X of shape (n, d) first and w of shape (d, 1) "
                                   "second")
        raise


def _linreg_shape_hint(out, X) -> str:
    if not isinstance(out, torch.Tensor):
        return ""
    n = X.shape[0]
    if tuple(out.shape) == tuple(X.shape) and X.shape[0] == X.shape[1]:
        return ("X * w multiplies element by element (broadcasting) and gives an (n, d) result: use the matrix "
                "product X @ w (torch.matmul(X, w))")
    if tuple(out.shape) == (n,):
        return "keep w of shape (d, 1): X @ w + b has shape (n, 1), one prediction per row"
    return ""


class TestLinreg:
    pytestmark = [pytest.mark.exercise("linreg")]

    @pytest.mark.points(3)
    @pytest.mark.parametrize("k, case", list(enumerate(LINREG_CASES)))
    def test_values(self, student, reference, device, k, case):
        """X @ w + b: shape (n, 1), dtype, device, values (catches X * w, a missing bias, w @ X)."""
        (shape, note) = case
        X, w, b = _linreg_inputs(shape, 500 + 3 * k)
        out = _linreg_call(student, X, w, b).value
        expected = reference.linreg(X.double(), w.double(), b.double())
        what = f"linreg(X, w, b) for {fmt_tensor('X', X)}{note}, w {fmt_shape(w.shape)}, b {fmt_shape(b.shape)}"
        assert_same_shape(out, expected, what=what, hint=_linreg_shape_hint(out, X))
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=X.dtype, device=device,
                            hint=lambda o: _linreg_hint(o, X, w, b))

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(LINREG_CASES[:2])))
    def test_gradient(self, student, reference, device, k, case):
        """Back-propagating a random cotangent through linreg gives the reference's gradients w.r.t. X, w
        and b (catches tensors cut out of the autograd graph)."""
        (shape, note) = case
        X, w, b = _linreg_inputs(shape, 600 + 3 * k)
        C = _randn((shape[0], 1), 650 + k)
        out = _linreg_call(student, X, w, b).value  # shape first: a wrong shape cannot take the cotangent
        assert_same_shape(out, (shape[0], 1), what=f"linreg(X, w, b) for {fmt_tensor('X', X)}{note}",
                          hint=_linreg_shape_hint(out, X))
        reply = _linreg_call(student, X.clone().requires_grad_(), w.clone().requires_grad_(),
                             b.clone().requires_grad_(), cotangent=C)
        leaves = [t.double().requires_grad_() for t in (X, w, b)]
        expected = torch.autograd.grad(reference.linreg(*leaves), leaves, C.double())
        grads = reply.input_grads or []
        for i, name in enumerate(("X", "w", "b")):
            grad = grads[i] if i < len(grads) else None
            if grad is None:
                raise AssertionError(
                    f"no gradient reached {name} through linreg(X, w, b): compute X @ w + b with torch "
                    f"operations on the tensors themselves (no .detach(), .data, .item(), .numpy() or "
                    "torch.tensor(...) of intermediate results)")
            assert_tensor_close(grad, expected[i], rtol=RTOL, atol=ATOL, dtype=X.dtype, device=device,
                                what=f"the gradient of linreg(X, w, b) w.r.t. {name} ({fmt_tensor('X', X)}{note}, "
                                     "random cotangent)", hint=DETACHED_HINT)

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs give a float64 result computed in float64."""
        X, w, b = _linreg_inputs((6, 3), 700, dtype=torch.float64)
        out = _linreg_call(student, X, w, b).value
        expected = reference.linreg(X, w, b)
        assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                            what=f"linreg(X, w, b) for {fmt_tensor('X', X)}",
                            hint=lambda o: _linreg_hint(o, X, w, b))


# ============================================================================ squared_loss


LOSS_CASES = [  # (n, shape of y): y as a vector (the reshape matters), as a column, a batch of one
    (5, "vector"),
    (4, "column"),
    (1, "vector"),
]


def _loss_inputs(n, y_shape, offset, dtype=torch.float32):
    y_hat = _randn((n, 1), offset, dtype=dtype, scale=2.0)
    y = _randn((n,) if y_shape == "vector" else (n, 1), offset + 1, dtype=dtype, scale=2.0)
    return y_hat, y


def _loss_shape_hint(out, n) -> str:
    if not isinstance(out, torch.Tensor):
        return ""
    if out.dim() == 2 and tuple(out.shape) == (n, n) and n > 1:
        return (f"a result of shape ({n}, {n}) comes from subtracting a y of shape ({n},) from a y_hat of shape "
                f"({n}, 1): broadcasting pairs every prediction with every label; reshape y first, "
                "y.reshape(y_hat.shape)")
    if out.dim() == 0:
        return ("return one loss per example (the shape of y_hat), not their mean or sum: the training loop "
                "sums them itself (l.sum().backward()) and sgd divides by the batch size")
    if tuple(out.shape) == (n,):
        return "keep the shape of y_hat, (n, 1): reshape y to y_hat's shape, not y_hat to y's"
    return ""


def _loss_value_hint(out, y_hat, y) -> str:
    if not isinstance(out, torch.Tensor) or not torch.isfinite(out).all():
        return ""
    diff = y_hat.double() - y.double().reshape(y_hat.shape)
    o = out.double()
    if o.shape == diff.shape and torch.allclose(o, diff ** 2, rtol=1e-4, atol=1e-6):
        return "it is twice the expected loss: the book's squared loss is (y_hat - y) ** 2 / 2 (the / 2 is missing)"
    if o.shape == diff.shape and torch.allclose(o, diff.abs() / 2, rtol=1e-4, atol=1e-6):
        return "square the difference: (y_hat - y) ** 2 / 2"
    return ""


class TestSquaredLoss:
    pytestmark = [pytest.mark.exercise("squared_loss")]

    @pytest.mark.points(3)
    @pytest.mark.parametrize("k, case", list(enumerate(LOSS_CASES)))
    def test_values_per_example(self, student, reference, device, k, case):
        """Per-example losses (y_hat - y.reshape(y_hat.shape)) ** 2 / 2 with the shape of y_hat (catches a
        missing reshape giving an (n, n) matrix, a mean, a missing / 2)."""
        (n, y_shape) = case
        y_hat, y = _loss_inputs(n, y_shape, 800 + 2 * k)
        out = student.squared_loss(y_hat, y)
        expected = reference.squared_loss(y_hat.double(), y.double())
        what = f"squared_loss(y_hat, y) for {fmt_tensor('y_hat', y_hat)} and {fmt_tensor('y', y)}"
        assert_same_shape(out, expected, what=what, hint=_loss_shape_hint(out, n))
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, what=what, dtype=y_hat.dtype, device=device,
                            hint=lambda o: _loss_value_hint(o, y_hat, y))

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, case", list(enumerate(LOSS_CASES[:2])))
    def test_gradient(self, student, reference, device, k, case):
        """The gradient w.r.t. y_hat of a random combination of the losses is the reference's
        (c * (y_hat - y))."""
        (n, y_shape) = case
        y_hat, y = _loss_inputs(n, y_shape, 900 + 2 * k)
        C = _randn((n, 1), 950 + k)
        out = student.squared_loss(y_hat, y)  # shape first: a wrong shape cannot take the cotangent
        assert_same_shape(out, (n, 1), what=f"squared_loss(y_hat, y) for {fmt_tensor('y_hat', y_hat)} and "
                                            f"{fmt_tensor('y', y)}", hint=_loss_shape_hint(out, n))
        reply = student.call("squared_loss", y_hat.clone().requires_grad_(), y, cotangent=C)
        y64 = y_hat.double().requires_grad_()
        (expected,) = torch.autograd.grad(reference.squared_loss(y64, y.double()), y64, C.double())
        grads = reply.input_grads or []
        grad = grads[0] if grads else None
        if grad is None:
            raise AssertionError("no gradient reached y_hat through squared_loss(y_hat, y): compute the loss "
                                 "with torch operations on y_hat itself")
        assert_tensor_close(grad, expected, rtol=RTOL, atol=ATOL, dtype=y_hat.dtype, device=device,
                            what=f"the gradient of squared_loss w.r.t. y_hat ({fmt_tensor('y_hat', y_hat)}, "
                                 f"{fmt_tensor('y', y)}, random cotangent)", hint=DETACHED_HINT)

    @pytest.mark.points(1)
    def test_keeps_float64(self, student, reference, device):
        """float64 inputs give float64 losses computed in float64."""
        y_hat, y = _loss_inputs(6, "vector", 1000, dtype=torch.float64)
        out = student.squared_loss(y_hat, y)
        expected = reference.squared_loss(y_hat, y)
        what = f"squared_loss(y_hat, y) for {fmt_tensor('y_hat', y_hat)} and {fmt_tensor('y', y)}"
        assert_same_shape(out, expected, what=what, hint=_loss_shape_hint(out, 6))
        assert_tensor_close(out, expected, rtol=RTOL64, atol=ATOL64, dtype=torch.float64, device=device,
                            what=what, hint=lambda o: _loss_value_hint(o, y_hat, y))


# ============================================================================ sgd (as in softmax_regression)


def _sgd_cases():
    """(label, params, lr, batch_size); every parameter is a leaf with requires_grad and a .grad."""
    def param(shape, offset, dtype):
        p = _randn(shape, offset, dtype=dtype).requires_grad_()
        p.grad = _randn(shape, offset + 50, dtype=dtype)
        return p
    return [
        ("params [w (3, 1), b (1,)] float32, lr 0.03, batch_size 10",
         [param((3, 1), 1100, torch.float32), param((1,), 1101, torch.float32)], 0.03, 10),
        ("params [W (5, 5)] float64, lr 0.1, batch_size 3",
         [param((5, 5), 1102, torch.float64)], 0.1, 3),
    ]


class TestSgd:
    pytestmark = [pytest.mark.exercise("sgd")]

    @pytest.mark.points(3)
    def test_update_values(self, student, device):
        """After sgd, each parameter equals p - lr * p.grad / batch_size (catches a forgotten
        / batch_size, a wrong sign, and `p = p - ...` that changes nothing)."""
        sgd_checks.check_update_values(student, device, _sgd_cases(), rtol=RTOL, atol=ATOL)

    @pytest.mark.points(2)
    def test_updates_in_place(self, student, device):
        """Each parameter stays the same tensor object, a leaf that requires grad, with its dtype and
        device; sgd returns None (catches `params[i] = p - ...` and `p = p.detach() - ...`)."""
        sgd_checks.check_updates_in_place(student, device, _sgd_cases())

    @pytest.mark.points(2)
    def test_zeroes_gradients(self, student, device):
        """After sgd every gradient is zero (p.grad.zero_()) or None, so the next minibatch's
        gradients do not add up with this one's."""
        sgd_checks.check_zeroes_gradients(student, _sgd_cases())

    @pytest.mark.points(1)
    def test_skips_parameters_without_grad(self, student, device):
        """A parameter whose .grad is None is skipped and left unchanged; the ones after it are still
        updated (catches `break` instead of `continue`)."""
        b = _randn((1,), 1201).requires_grad_()  # b.grad is None, and b comes first: `break` must not pass
        w = _randn((3, 1), 1200).requires_grad_()
        w.grad = _randn((3, 1), 1250)
        sgd_checks.check_skips_parameters_without_grad(
            student, b, w, 0.03, 10, "[b (1,) whose .grad is None, w (3, 1) with a gradient], lr 0.03, "
            "batch_size 10")


# ============================================================================ training (shared)


def _train_what(fn, w, b, n, lr, num_epochs, batch_size) -> str:
    return (f"{fn}(features, labels, lr={lr}, num_epochs={num_epochs}, batch_size={batch_size}) on {n} synthetic "
            f"examples with true_w = {_fmt_list(w)}, true_b = {fmt_number(b)}")


def _run_training(student, fn, w, b, n, lr, num_epochs, batch_size, offset, hint="", banned_ops=None):
    """Run a seeded training call; return (w_learned, b_learned, what) as float64 vectors.  With
    ``banned_ops`` the call is observed and must run none of them."""
    features, labels = _regression_data(w, b, n, offset)
    what = _train_what(fn, w, b, n, lr, num_epochs, batch_size)
    try:
        reply = student.call(fn, features, labels, lr, num_epochs, batch_size, seed=SEED + offset,
                             timeout=TRAIN_TIMEOUT, observe=banned_ops is not None)
    except AssertionError as error:
        fail_with_hint(error, hint(str(error)) if callable(hint) else hint)
    if banned_ops is not None:
        assert_no_banned_operators(reply, fn, banned_ops)
    value = reply.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise AssertionError(f"{what} returned {describe(value)}, expected the pair (w, b): end with return w, b")
    w_out, b_out = value
    for name, t, k in (("w", w_out, len(w)), ("b", b_out, 1)):
        assert_is_tensor(t, what=f"{name} returned by {what}")
        if t.numel() != k:
            raise AssertionError(f"{name} returned by {what} has shape {fmt_shape(t.shape)} ({t.numel()} entries), "
                                 f"expected {k} entr{'y' if k == 1 else 'ies'}" + (f": {hint}" if hint else ""))
        assert_device(t, student.device, what=f"{name} returned by {what} (train on the device of features)")
    return w_out, b_out, what


def _check_recovered(w_out, b_out, w, b, what, tol, advice):
    w_vec, b_val = w_out.double().reshape(-1), b_out.double().reshape(-1)
    got = torch.cat([w_vec, b_val])
    truth = torch.tensor([*w, b], dtype=torch.float64)
    summary = f"it returned w = {_fmt_list(w_vec.tolist())}, b = {fmt_number(b_val.item())}"
    if not torch.isfinite(got).all():
        raise AssertionError(f"{what} diverged ({summary}): the steps are far too large -- {advice}")
    err = (got - truth).abs()
    if err.max().item() > tol:
        progress = (got.abs() < truth.abs()) & (got * truth > 0)
        why = ""
        if bool(progress.all()):
            why = ("the parameters moved towards the truth but too slowly (are the losses averaged twice, "
                   "e.g. a mean loss and a step divided by batch_size again? is every epoch run?); ")
        raise AssertionError(
            f"{what} did not recover the true parameters: {summary}, an error of up to "
            f"{fmt_number(err.max().item())} (allowed: {fmt_number(tol)}): {why}{advice}")


def _full_batch_expected(w, b, n, lr, num_epochs, offset, loss_scale):
    """Full-batch gradient descent from zero on the same data, in float64 (loss_scale 1: the sum of
    squared_loss divided by batch_size; 2: nn.MSELoss)."""
    features, labels = _regression_data(w, b, n, offset)
    X, y = features.double(), labels.double()
    w_t = torch.zeros(len(w), 1, dtype=torch.float64)
    b_t = torch.zeros(1, dtype=torch.float64)
    for _ in range(num_epochs):
        r = X @ w_t + b_t - y
        w_t = w_t - lr * loss_scale * X.T @ r / n
        b_t = b_t - lr * loss_scale * r.sum(0) / n
    return torch.cat([w_t.reshape(-1), b_t])


def _check_full_batch(w_out, b_out, expected, what, advice):
    got = torch.cat([w_out.double().reshape(-1), b_out.double().reshape(-1)])
    summary = f"it returned w = {_fmt_list(got[:-1].tolist())}, b = {fmt_number(got[-1].item())}"
    if not torch.isfinite(got).all() or (got - expected).abs().max().item() > FULL_BATCH_TOL:
        raise AssertionError(
            f"{what}: with a single minibatch holding every example, each epoch is one step of gradient descent, "
            f"so starting near w = 0, b = 0 the parameters after these steps are about "
            f"w = {_fmt_list(expected[:-1].tolist())}, b = {fmt_number(expected[-1].item())}; {summary}: {advice}")


# ============================================================================ train


TRAIN_ADVICE = ("initialise w ~ N(0, 0.01**2) of shape (d, 1) and b = 0, then for every epoch and every minibatch "
                "(X, y) of data_iter(batch_size, features, labels): l = squared_loss(linreg(X, w, b), y); "
                "l.sum().backward(); sgd([w, b], lr, batch_size) -- " + USES_OWN)
SHAPE_ADVICE = ("train must work for any number of features: create w with shape (features.shape[1], 1), "
                "not (2, 1)")


def _train_without_epochs(student, features, labels, seed: int, what: str):
    """``train(features, labels, 0.03, 0, 10)`` with the generators seeded with ``seed``: with no epoch
    to run, its initial ``(w, b)``.  A failing call or anything but a pair fails the test (``what``
    names the call in the message)."""
    try:
        value = student.call("train", features, labels, 0.03, 0, 10, seed=seed, timeout=TRAIN_TIMEOUT).value
    except AssertionError as error:
        fail_with_hint(error, _shape_or_own_hint(str(error)))
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise AssertionError(f"{what} returned {describe(value)}, expected the pair (w, b)")
    return value


def _shape_or_own_hint(error_text: str) -> str:
    shape_words = ("shape", "size", "mat1", "must match", "dimension")
    return SHAPE_ADVICE if any(word in error_text for word in shape_words) else USES_OWN


class TestTrain:
    pytestmark = [pytest.mark.exercise("train")]

    @pytest.mark.points(3)
    def test_recovers_true_parameters(self, student, device):
        """The book's run (1000 examples, true_w = [2, -3.4], true_b = 4.2, lr 0.03, 3 epochs, batch size
        10) learns w and b within TRAIN_TOL of the truth."""
        w_out, b_out, what = _run_training(student, "train", TRUE_W, TRUE_B, 1000, 0.03, 3, 10, 1300,
                                           hint=USES_OWN)
        _check_recovered(w_out, b_out, TRUE_W, TRUE_B, what, TRAIN_TOL, TRAIN_ADVICE)

    @pytest.mark.points(2)
    def test_any_number_of_features(self, student, device):
        """Three features, other true parameters, another learning rate and batch size (catches w
        hard-coded to shape (2, 1))."""
        w_out, b_out, what = _run_training(student, "train", OTHER_W, OTHER_B, 1000, 0.05, 3, 16, 1400,
                                           hint=_shape_or_own_hint)
        _check_recovered(w_out, b_out, OTHER_W, OTHER_B, what, TRAIN_TOL, TRAIN_ADVICE)

    @pytest.mark.points(1)
    @pytest.mark.placement
    @pytest.mark.parametrize("k, dtype", list(enumerate((torch.float32, torch.float64))))
    def test_initial_parameters(self, student, device, k, dtype):
        """With num_epochs=0 train returns its initial parameters: w of shape (d, 1) with small values,
        b = zeros(1), with the dtype (float32, float64) and device of features (catches ignoring
        num_epochs, a wrong start, parameters created in float32 whatever the data)."""
        features, labels = _regression_data(OTHER_W, OTHER_B, 100, 1500 + k)
        features, labels = features.to(dtype), labels.to(dtype)
        what = (f"train(features, labels, lr=0.03, num_epochs=0, batch_size=10) for {fmt_tensor('features', features)}")
        w_out, b_out = _train_without_epochs(student, features, labels, SEED + 1500 + k, what)
        assert_same_shape(w_out, (3, 1), what=f"w returned by {what}", hint=SHAPE_ADVICE)
        assert_same_shape(b_out, (1,), what=f"b returned by {what}", hint="b starts as torch.zeros(1)")
        for name, t in (("w", w_out), ("b", b_out)):
            assert_dtype(t, dtype, what=f"{name} returned by {what}")
            assert_device(t, device, what=f"{name} returned by {what}")
        if bool((b_out != 0).any()) or not bool((w_out.abs() <= 0.05).all()):
            raise AssertionError(
                f"{what} returned w = {_fmt_list(w_out.reshape(-1).tolist())}, b = {fmt_number(b_out.item())}: "
                "with no epoch to run, train must return its initial parameters, w drawn from N(0, 0.01**2) "
                "(torch.normal(0, 0.01, size=(features.shape[1], 1))) and b = torch.zeros(1); loop over "
                "range(num_epochs)")

    @pytest.mark.points(1)
    def test_does_not_reseed(self, student, device):
        """With num_epochs=0 (train returns its initial parameters), two calls with the global generators
        seeded differently before each do not return the same random w (catches torch.manual_seed inside
        train, which makes every run start from the same w; a constant start such as zeros passes)."""
        features, labels = _regression_data(OTHER_W, OTHER_B, 100, 1550)
        what = "train(features, labels, lr=0.03, num_epochs=0, batch_size=10) for 100 examples with 3 features"
        ws = []
        for k in range(2):
            value = _train_without_epochs(student, features, labels, SEED + 1550 + k, what)
            assert_is_tensor(value[0], what=f"w returned by {what}")
            ws.append(value[0])
        if ws[0].shape != ws[1].shape or not torch.equal(ws[0], ws[1]):
            return
        w = ws[0].double().reshape(-1)
        if not bool((w.abs() <= 0.05).all()):
            raise AssertionError(f"the reseeding could not be checked: {what} returned w = {_fmt_list(w.tolist())}, "
                                 "not initial parameters (w drawn from N(0, 0.01**2)); with no epoch to run, return "
                                 "the initial w and b")
        if bool((w != w[0]).any()):  # a random draw, the same twice (a constant start such as zeros is allowed)
            raise AssertionError(f"two calls of {what}, with the random generators seeded differently before each, "
                                 f"returned the same initial w = {_fmt_list(w.tolist())}: {RESEED_HINT}")

    @pytest.mark.points(1)
    def test_full_batch_steps(self, student, device):
        """With batch_size = n each epoch is one exact gradient-descent step on the mean of the squared
        losses: the result after 3 epochs is predictable (catches ignoring lr or batch_size, a loss
        scaled by the batch size twice)."""
        n, lr, epochs = 200, 0.1, 3
        w_out, b_out, what = _run_training(student, "train", FULL_W, FULL_B, n, lr, epochs, n, 1600,
                                           hint=USES_OWN)
        expected = _full_batch_expected(FULL_W, FULL_B, n, lr, epochs, 1600, loss_scale=1.0)
        _check_full_batch(w_out, b_out, expected, what,
                          "use lr and batch_size as given: back-propagate l.sum() of the per-example squared losses "
                          "and step with sgd([w, b], lr, batch_size) -- " + USES_OWN)

    @pytest.mark.points(1)
    def test_from_scratch(self, student):
        """train uses the student's own data_iter, linreg, squared_loss and sgd, and no library shortcut (torch.optim,
        nn.Linear, nn.MSELoss, a closed-form solve) (AST check, then the ATen operators its run dispatched),
        and takes correct full-batch steps."""
        problems = find_banned(student.source, "train", TRAIN_BANNED)
        assert not problems, "\n".join(problems)
        used = _names_used(student.source, "train")
        if used is None:
            raise AssertionError("could not find a module-level `def train` in your answers (or the code does not "
                                 "parse) to check that it uses your own functions")
        missing = [name for name in ("data_iter", "linreg", "squared_loss", "sgd") if name not in used]
        if missing:
            raise AssertionError(f"train does not use your own {', '.join(missing)}: train is the from-scratch "
                                 "training loop built from your data_iter, linreg, squared_loss and sgd")
        n, lr, epochs = 100, 0.1, 2
        w_out, b_out, what = _run_training(student, "train", FULL_W, FULL_B, n, lr, epochs, n, 1700,
                                           banned_ops=TRAIN_OPS)
        expected = _full_batch_expected(FULL_W, FULL_B, n, lr, epochs, 1700, loss_scale=1.0)
        try:
            _check_full_batch(w_out, b_out, expected, what, TRAIN_ADVICE)
        except AssertionError as error:
            raise AssertionError(f"the points for a from-scratch train need a working train: {error}") from None


# ============================================================================ build_concise_model


def _build(student, num_inputs, offset):
    """Build the student's model (seeded) and describe its structure from inside the sandbox."""
    what = f"build_concise_model({num_inputs})"
    net = student.call("build_concise_model", num_inputs, seed=SEED + offset).value
    if not isinstance(net, RemoteObject):
        raise AssertionError(f"{what} returned {describe(net)}, expected an nn.Module: "
                             "return nn.Sequential(nn.Linear(num_inputs, 1))")
    info = student.eval(inspections.LINEAR_MODEL_INFO, net=net)
    is_module, linears, shapes = info
    if not is_module:
        raise AssertionError(f"{what} returned an object of type {net.type_name}, expected an nn.Module: "
                             "return nn.Sequential(nn.Linear(num_inputs, 1))")
    return net, linears, [tuple(s) for s in shapes], what


def _layer_params(student, net):
    """(weight, bias) of the model's nn.Linear, detached, as plain tensors."""
    return student.eval(inspections.FIRST_LINEAR_PARAMS, net=net)


class TestBuildConciseModel:
    pytestmark = [pytest.mark.exercise("build_concise_model")]

    @pytest.mark.points(2)
    @pytest.mark.parametrize("k, num_inputs", list(enumerate([2, 5])))
    def test_structure(self, student, k, num_inputs):
        """The model holds exactly one nn.Linear(num_inputs, 1) with a bias, and no other parameter
        (catches a hard-coded nn.Linear(2, 1), a missing bias, extra layers)."""
        _net, linears, shapes, what = _build(student, num_inputs, 1800 + k)
        if len(linears) != 1:
            raise AssertionError(f"{what} contains {len(linears)} nn.Linear layers, expected exactly one: "
                                 "linear regression is a single fully connected layer with one output, "
                                 "nn.Sequential(nn.Linear(num_inputs, 1))")
        in_f, out_f, has_bias = linears[0]
        if (in_f, out_f) != (num_inputs, 1):
            raise AssertionError(f"{what}'s nn.Linear maps {in_f} inputs to {out_f} outputs, expected "
                                 f"{num_inputs} to 1: nn.Linear(num_inputs, 1) (use the argument num_inputs, "
                                 "don't hard-code it)")
        if not has_bias:
            raise AssertionError(f"{what}'s nn.Linear has no bias: keep the default bias=True")
        if shapes != [(1, num_inputs), (1,)]:
            raise AssertionError(f"{what} has parameters of shapes {shapes}, expected [(1, {num_inputs}), (1,)]: "
                                 "the model must be just the linear layer")

    @pytest.mark.points(2)
    def test_initialisation(self, student):
        """The weight is drawn from N(0, 0.01**2) (mean about 0, standard deviation about 0.01 over
        2000 entries) and the bias is exactly 0 (catches PyTorch's default uniform initialisation)."""
        num_inputs = 2000
        net, linears, _shapes, what = _build(student, num_inputs, 1900)
        if len(linears) != 1 or linears[0][:2] != (num_inputs, 1) or not linears[0][2]:
            raise AssertionError(f"{what} is not one nn.Linear({num_inputs}, 1) with a bias, so its initialisation "
                                 "cannot be checked: return nn.Sequential(nn.Linear(num_inputs, 1))")
        weight, bias = _layer_params(student, net)
        W = weight.double().reshape(-1)
        mean, std = W.mean().item(), W.std().item()
        # standard errors: 0.01/sqrt(2000) = 2.2e-4 for the mean, 1.6e-4 for the standard deviation
        if abs(mean) > 1.5e-3 or not 0.009 <= std <= 0.011:
            hint = "initialise it with net[0].weight.data.normal_(0, 0.01) (or nn.init.normal_(..., std=0.01))"
            if abs(std - 1 / (3 * num_inputs) ** 0.5) < 1e-3:
                hint = ("that is PyTorch's default (uniform) initialisation of nn.Linear; the book draws the weight "
                        "from N(0, 0.01**2): " + hint)
            raise AssertionError(f"the weight of {what} has mean {fmt_number(mean)} and standard deviation "
                                 f"{fmt_number(std)}, expected about 0 and 0.01: {hint}")
        if not torch.equal(bias.double().reshape(-1), torch.zeros(1, dtype=torch.float64)):
            raise AssertionError(f"the bias of {what} is {fmt_number(bias.reshape(-1)[0].item())}, expected 0: "
                                 "set it with net[0].bias.data.fill_(0) (nn.Linear's default bias is random)")

    @pytest.mark.points(1)
    def test_forward(self, student, device):
        """net(X) on the device under test is X @ weight.T + bias, of shape (n, 1) (catches an extra
        activation or layer)."""
        num_inputs = 3
        net, _linears, _shapes, what = _build(student, num_inputs, 2000)
        X = _randn((7, num_inputs), 2001)
        out = student.eval(inspections.NET_ON_INPUT_DEVICE, net=net, X=X)
        weight, bias = _layer_params(student, net)
        expected = X.double() @ weight.double().T + bias.double()
        assert_tensor_close(out, expected, rtol=RTOL, atol=ATOL, dtype=torch.float32, device=device,
                            what=f"net(X) for the model of {what} and {fmt_tensor('X', X)}",
                            hint=lambda o: ("the model's output must be just the linear layer's, "
                                            "X @ weight.T + bias: no activation or other layer"))

    @pytest.mark.points(1)
    def test_new_draws_every_call(self, student):
        """Two models built with the global generators seeded differently before each have different weights
        (catches torch.manual_seed inside build_concise_model, which makes every model start the same)."""
        weights = []
        for k in range(2):
            net, _linears, _shapes, what = _build(student, 5, 2050 + k)
            weights.append(_layer_params(student, net)[0])
        if weights[0].shape != weights[1].shape or not torch.equal(weights[0], weights[1]):
            return
        w = weights[0].reshape(-1)
        if w.numel() and bool((w == w[0]).all()):
            raise AssertionError(f"the reseeding could not be checked: every entry of the weight of {what} is "
                                 f"{fmt_number(float(w[0]))}; draw it from N(0, 0.01**2) "
                                 "(net[0].weight.data.normal_(0, 0.01))")
        raise AssertionError(f"two models from {what}, with the random generators seeded differently before "
                             f"each, have the same weight: {RESEED_HINT}")


# ============================================================================ train_concise


CONCISE_ADVICE = ("net = build_concise_model(features.shape[1]) moved to the device of features; loss = nn.MSELoss(); "
                  "trainer = torch.optim.SGD(net.parameters(), lr=lr); for every epoch and minibatch (X, y): "
                  "l = loss(net(X), y); trainer.zero_grad(); l.backward(); trainer.step() -- train_concise uses "
                  "your build_concise_model: if it fails its own checks, fix that first")


class TestTrainConcise:
    pytestmark = [pytest.mark.exercise("train_concise")]

    @pytest.mark.points(3)
    def test_recovers_true_parameters(self, student, device):
        """The book's run (1000 examples, true_w = [2, -3.4], true_b = 4.2, lr 0.03, 3 epochs, batch size
        10) learns the weight and bias within TRAIN_TOL of the truth."""
        w_out, b_out, what = _run_training(student, "train_concise", TRUE_W, TRUE_B, 1000, 0.03, 3, 10, 2100)
        _check_recovered(w_out, b_out, TRUE_W, TRUE_B, what, TRAIN_TOL, CONCISE_ADVICE)

    @pytest.mark.points(1)
    def test_any_number_of_features(self, student, device):
        """Three features, other true parameters, another learning rate and batch size."""
        w_out, b_out, what = _run_training(student, "train_concise", OTHER_W, OTHER_B, 1000, 0.05, 3, 16, 2200,
                                           hint="build the model with build_concise_model(features.shape[1])")
        _check_recovered(w_out, b_out, OTHER_W, OTHER_B, what, TRAIN_TOL, CONCISE_ADVICE)

    @pytest.mark.points(1)
    @pytest.mark.placement
    def test_full_batch_steps(self, student, device):
        """With batch_size = n each epoch is one exact gradient-descent step on nn.MSELoss (the mean squared
        error, without the 1/2): the result after 3 epochs is predictable (catches reduction='sum',
        a forgotten zero_grad, ignoring lr or batch_size)."""
        n, lr, epochs = 200, 0.1, 3
        w_out, b_out, what = _run_training(student, "train_concise", FULL_W, FULL_B, n, lr, epochs, n, 2300)
        expected = _full_batch_expected(FULL_W, FULL_B, n, lr, epochs, 2300, loss_scale=2.0)
        _check_full_batch(w_out, b_out, expected, what,
                          "use nn.MSELoss() with its default mean reduction, torch.optim.SGD(net.parameters(), "
                          "lr=lr), minibatches of batch_size, and call trainer.zero_grad() before every backward()")

    @pytest.mark.points(1)
    def test_new_random_order_every_run(self, student, device):
        """Two seeded runs on the same data end at slightly different parameters, because the minibatches
        come in a new random order (DataLoader(..., shuffle=True)).  With lr 0.2 the start is forgotten
        after 60 steps (0.6 ** 60 ~ 5e-14), so without shuffling both runs end at the same values."""
        features, labels = _regression_data(TRUE_W, TRUE_B, 200, 2500)
        what = "train_concise(features, labels, lr=0.2, num_epochs=3, batch_size=10) on 200 synthetic examples"
        ends = []
        for k in range(2):
            value = student.call("train_concise", features, labels, 0.2, 3, 10, seed=SEED + 2500 + k,
                                 timeout=TRAIN_TIMEOUT).value
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise AssertionError(f"{what} returned {describe(value)}, expected the pair (weight, bias)")
            for name, t in zip(("weight", "bias"), value):
                assert_is_tensor(t, what=f"the {name} returned by {what}")
            ends.append(torch.cat([value[0].double().reshape(-1), value[1].double().reshape(-1)]))
        if ends[0].shape != ends[1].shape:
            raise AssertionError(f"two runs of {what} returned parameters of different sizes")
        if not torch.isfinite(ends[0]).all() or (ends[0] - ends[1]).abs().max().item() < 1e-5:
            raise AssertionError(
                f"two runs of {what} with different random seeds ended at the same parameters "
                f"({_fmt_list(ends[0].tolist())}): the minibatches must come in a random order, new at every "
                "epoch and every run -- data.DataLoader(data.TensorDataset(features, labels), batch_size, "
                "shuffle=True), without a fixed seed")

    @pytest.mark.points(1)
    def test_uses_concise_api(self, student):
        """train_concise builds its model with build_concise_model and trains it with torch.optim's SGD and
        nn.MSELoss (or F.mse_loss) (AST check), and takes correct full-batch steps."""
        used = _names_used(student.source, "train_concise")
        if used is None:
            raise AssertionError("could not find a module-level `def train_concise` in your answers (or the code "
                                 "does not parse) to check that it uses the concise API")
        missing = []
        if "build_concise_model" not in used:
            missing.append("your build_concise_model")
        if "SGD" not in used:
            missing.append("torch.optim.SGD")
        if not used & {"MSELoss", "mse_loss"}:
            missing.append("nn.MSELoss")
        if missing:
            raise AssertionError(f"train_concise does not use {', '.join(missing)}: the concise version builds "
                                 "the model with build_concise_model and trains it with nn.MSELoss and "
                                 "torch.optim.SGD")
        n, lr, epochs = 100, 0.1, 2
        w_out, b_out, what = _run_training(student, "train_concise", FULL_W, FULL_B, n, lr, epochs, n, 2400)
        expected = _full_batch_expected(FULL_W, FULL_B, n, lr, epochs, 2400, loss_scale=2.0)
        try:
            _check_full_batch(w_out, b_out, expected, what, CONCISE_ADVICE)
        except AssertionError as error:
            raise AssertionError(f"the points for using the concise API need a working train_concise: "
                                 f"{error}") from None
