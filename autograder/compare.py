"""Comparison helpers that fail with messages a student can act on.

Every helper raises a plain :class:`AssertionError` whose message says *what* was checked
(``what``, e.g. ``"softmax(X) for X of shape (4, 3), float32"``), what was wrong (type, shape,
dtype, device, a NaN, a value) and, for values, the first offending index with the value the
student produced and the value expected.  Messages never contain the repr of a whole tensor
(a student's output may be huge, and expected values beyond one entry are not for students), and
never contain test or reference source code.

Values are always compared in float64 (complex128 for complex tensors) on the CPU, so an expected
tensor computed in float64 can be compared with a student's float32 output directly.

Tolerances: every value helper takes either explicit ``rtol``/``atol`` (default 1e-5 / 1e-6, DESIGN §6),
or the ``inputs`` that feed the value (or their ``scale``) and the function's ``conditioning``, from
which :func:`tolerance` derives them.  The rule is stated once, in :func:`tolerance`'s docstring;
``docs/tolerances.md`` says it for instructors.

The grader runs pytest with ``--assert=plain``: use these helpers (or ``assert cond, "message"``)
rather than bare ``assert`` statements in hidden tests.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from autograder.sandbox.wire import origin_device

__all__ = [
    "describe",
    "fmt_shape",
    "fmt_index",
    "fmt_number",
    "shape_hint",
    "assert_is_tensor",
    "assert_same_shape",
    "assert_dtype",
    "assert_device",
    "assert_finite",
    "assert_values_close",
    "assert_tensor_close",
    "assert_scalar_close",
    "first_mismatch",
    "EPS32",
    "UNIT_TOLERANCES",
    "SCALE_ROUNDINGS",
    "Tolerance",
    "input_scale",
    "tolerance",
]

# Above this many elements, a message says how many entries differ without counting exactly
# (counting is cheap, but keep the helpers predictable on very large outputs).
_MAX_HINT_ELEMENTS = 10_000_000


# ----------------------------------------------------------------------------- formatting


def describe(obj) -> str:
    """A short, safe description of a value's type for a message: ``"a list"``, ``"None"``,
    ``"a torch.Tensor of shape (4, 3)"``, ``"a float (0.75)"``.  Never the repr of a large object."""
    if obj is None:
        return "None"
    if isinstance(obj, torch.Tensor):
        return f"a torch.Tensor of shape {fmt_shape(obj.shape)} and dtype {obj.dtype}"
    if isinstance(obj, bool):
        return f"a bool ({obj})"
    if isinstance(obj, int):
        return f"an int ({obj})"
    if isinstance(obj, float):
        return f"a float ({fmt_number(obj)})"
    if isinstance(obj, str):
        return "a str"
    if isinstance(obj, (list, tuple)):
        kind = type(obj).__name__
        n = len(obj)
        article = "an" if kind[0] in "aeiou" else "a"
        return f"{article} {kind} of {n} item{'s' if n != 1 else ''}"
    if isinstance(obj, dict):
        return f"a dict of {len(obj)} item{'s' if len(obj) != 1 else ''}"
    if hasattr(obj, "handle") and hasattr(obj, "type_name"):  # an object that stayed in the sandbox
        return f"an object of type {obj.type_name}"
    name = type(obj).__name__
    module = type(obj).__module__
    if module not in ("builtins", None):
        name = f"{module.split('.')[0]}.{name}"
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"


def fmt_shape(shape) -> str:
    """Format a shape like Python prints a tuple: ``(4, 3)``, ``(4,)``, ``()``."""
    return str(tuple(int(s) for s in shape))


def fmt_dtype(dtype) -> str:
    """``float32`` for ``torch.float32``."""
    return str(dtype).replace("torch.", "")


def fmt_tensor(name: str, t: torch.Tensor) -> str:
    """``"X of shape (4, 3) (float32)"``: how messages name an input."""
    return f"{name} of shape {fmt_shape(t.shape)} ({fmt_dtype(t.dtype)})"


def fail_with_hint(error: AssertionError, hint: str):
    """Raise ``error``'s message again with ``hint`` appended (``"... -- hint"``), without the chain."""
    raise AssertionError(f"{error} -- {hint}" if hint else str(error)) from None


def fmt_index(index) -> str:
    """Format a multi-index like a tuple: ``(1, 2)``, ``(3,)``; ``()`` for a 0-d tensor."""
    return str(tuple(int(i) for i in index))


def fmt_number(x, other=None) -> str:
    """Format a number compactly (6 significant digits), with more digits when needed so that
    ``x`` and ``other`` (if given and different) do not print the same."""
    if isinstance(x, complex):
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        return str(x)  # nan, inf, -inf
    o = None
    if other is not None and not isinstance(other, complex):
        o = float(other)
    for digits in range(6, 18):
        text = f"{x:.{digits}g}"
        if o is None or not math.isfinite(o) or o == x or text != f"{o:.{digits}g}":
            break
    if not any(c in text for c in ".en"):
        text += ".0"
    return text


def _verb(what: str) -> str:
    """``"softmax(X) returned ..."`` for a call expression, ``"params[0] is ..."`` otherwise."""
    return "returned" if what.rstrip().endswith(")") else "is"


# ----------------------------------------------------------------------------- single checks


def assert_is_tensor(actual, *, what: str = "the result") -> None:
    """Fail unless ``actual`` is a ``torch.Tensor``.

    Message: ``"softmax(X) returned a list, expected a torch.Tensor"`` plus a hint for the usual
    causes (a tuple returned by mistake, a Python number from ``.item()``, ``None`` from a function
    that forgot to ``return``)."""
    if isinstance(actual, torch.Tensor):
        return
    msg = f"{what} {_verb(what)} {describe(actual)}, expected a torch.Tensor"
    if actual is None:
        msg += ": did the function forget to `return` its result?"
    elif isinstance(actual, (list, tuple)) and any(isinstance(x, torch.Tensor) for x in actual):
        msg += ": return the tensor itself, not a list or tuple containing it"
    elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
        msg += ": keep the result as a tensor (no .item(), float() or int())"
    elif isinstance(actual, (list, tuple)):
        msg += ": build the result with tensor operations (or torch.stack) instead of a Python list"
    raise AssertionError(msg)


def shape_hint(actual_shape, expected_shape) -> str:
    """A hint explaining a common cause of a shape mismatch, or ``""`` when none applies.

    Recognised: a transposed result, a missing dimension (a reduction without ``keepdim=True``, or a
    reduction where none belonged), an extra dimension (broadcasting an ``(n,)`` tensor against an
    ``(n, 1)`` one), a scalar where a vector was expected (a mean or sum too many) and the same
    number of elements arranged differently (a wrong reshape)."""
    a = tuple(int(s) for s in actual_shape)
    e = tuple(int(s) for s in expected_shape)
    if a == e:
        return ""
    if len(a) >= 2 and a == e[::-1]:
        return "it looks transposed: check which dimension indexes the examples (rows) and which the classes/features"
    if len(e) >= 1 and len(a) == 0:
        return ("a 0-d tensor (a single number) came back where one value per entry was expected: "
                "did you reduce with .sum() or .mean() over everything?")
    if len(a) == len(e) - 1:
        for d in range(len(e)):
            if e[:d] + e[d + 1:] == a:
                if e[d] == 1:
                    return (f"dimension {d} (of size 1) is missing: reduce with keepdim=True, or reshape")
                return (f"dimension {d} (of size {e[d]}) is missing: was a sum/mean/max taken over a "
                        "dimension that should have been kept?")
    if len(a) == len(e) + 1:
        for d in range(len(a)):
            if a[:d] + a[d + 1:] == e:
                if a[d] == 1:
                    return (f"it has an extra dimension {d} of size 1: squeeze it or reduce without "
                            "keepdim=True")
                return (f"it has an extra dimension {d} of size {a[d]}: this often comes from broadcasting "
                        "an (n,) tensor against an (n, 1) tensor, or from indexing with a whole tensor of "
                        "indices where one index per row was meant")
    if len(a) == len(e) and sum(x != y for x, y in zip(a, e)) == 1:
        d = next(i for i, (x, y) in enumerate(zip(a, e)) if x != y)
        return f"dimension {d} has size {a[d]} instead of {e[d]}"
    if math.prod(a) == math.prod(e):
        return "it has the right number of elements arranged differently: check reshape/view calls"
    return ""


def assert_same_shape(actual, expected, *, what: str = "the result", hint: str | None = None) -> None:
    """Fail unless tensor ``actual`` has the shape of ``expected`` (a tensor or a shape tuple).

    Message: ``"softmax(X) has shape (4,), expected (4, 3)"`` followed by ``hint`` when given (and
    non-empty), else by a :func:`shape_hint`."""
    assert_is_tensor(actual, what=what)
    expected_shape = expected.shape if isinstance(expected, torch.Tensor) else tuple(expected)
    if tuple(actual.shape) == tuple(expected_shape):
        return
    msg = f"{what} has shape {fmt_shape(actual.shape)}, expected {fmt_shape(expected_shape)}"
    hint = hint or shape_hint(actual.shape, expected_shape)
    raise AssertionError(f"{msg}: {hint}" if hint else msg)


def assert_dtype(actual, dtype: torch.dtype, *, what: str = "the result") -> None:
    """Fail unless tensor ``actual`` has dtype ``dtype``, with a hint for the usual causes
    (a hard-coded ``.float()``/``.double()``, ``torch.tensor`` of Python numbers, integer maths)."""
    assert_is_tensor(actual, what=what)
    if actual.dtype == dtype:
        return
    msg = f"{what} has dtype {actual.dtype}, expected {dtype}"
    if dtype.is_floating_point and actual.dtype.is_floating_point:
        hint = ("keep the dtype of the input: avoid .float()/.double()/.to(dtype) and create new "
                "tensors with dtype=<input>.dtype (or torch.zeros_like/ones_like)")
    elif dtype.is_floating_point and actual.dtype == torch.bool:
        hint = "a comparison gives booleans: convert with .to(<input>.dtype) if you meant numbers"
    elif dtype.is_floating_point:
        hint = ("an integer tensor came back: did you build it from integer values "
                "(torch.tensor([...]) of ints, argmax, integer division)?")
    else:
        hint = ""
    raise AssertionError(f"{msg}: {hint}" if hint else msg)


def _device_matches(got: str, expected: str) -> bool:
    got, expected = str(got), str(expected)
    if got == expected:
        return True
    g_type, _, g_index = got.partition(":")
    e_type, _, e_index = expected.partition(":")
    if g_type != e_type:
        return False
    # "cuda" (no index) accepts any cuda device; "cuda:0" needs cuda:0 ("cuda" alone counts as 0).
    return not e_index or (g_index or "0") == e_index


def assert_device(actual, device, *, what: str = "the result") -> None:
    """Fail unless tensor ``actual`` came from ``device`` in the sandbox.

    The device is read with :func:`autograder.sandbox.wire.origin_device` (tensors returned by the child are
    moved to the CPU but remember where they lived). ``"cuda"`` matches ``"cuda:0"``."""
    assert_is_tensor(actual, what=what)
    got = origin_device(actual)
    if _device_matches(got, device):
        return
    raise AssertionError(
        f"{what} is on device {got}, expected {device} (the device of the input): create new tensors "
        "on the input's device (device=X.device, torch.zeros_like(X), X.new_zeros(...)) and don't "
        "move results with .cpu()/.cuda()/.numpy()")


def _nonfinite_message(a: torch.Tensor, bad: torch.Tensor, what: str, hint: str | None) -> str:
    """Message for the non-finite entries of ``a`` selected by the boolean mask ``bad``."""
    first = tuple(torch.nonzero(bad)[0].tolist()) if a.dim() else ()
    value = a[first] if a.dim() else a
    if bool(torch.isnan(value)):
        kind = "NaN"
    else:
        kind = "inf" if float(value.real if a.is_complex() else value) > 0 else "-inf"
    n_nan = int((bad & torch.isnan(a)).sum())
    n_inf = int(bad.sum()) - n_nan
    where = f" at index {fmt_index(first)}" if a.dim() else ""
    return (f"{what} contains {kind}{where} ({n_nan} NaN and {n_inf} infinite "
            f"entr{'y' if n_inf == 1 else 'ies'} out of {a.numel()}): {hint or _DEFAULT_FINITE_HINT}")


_DEFAULT_FINITE_HINT = ("non-finite values usually come from exp overflowing (subtract the maximum "
                        "first), from log(0), from 0 * inf or from 0 / 0")


def assert_finite(actual, *, what: str = "the result", hint: str | None = None) -> None:
    """Fail if tensor ``actual`` contains NaN or ±inf.

    Message: ``"softmax(X) contains NaN at index (2, 1) (3 NaN and 0 infinite entries out of 12):
    ..."`` followed by ``hint`` (default: the usual causes, exp overflow first)."""
    assert_is_tensor(actual, what=what)
    if not (actual.is_floating_point() or actual.is_complex()):
        return
    a = actual.detach().cpu()
    bad = ~torch.isfinite(a)
    if bool(bad.any()):
        raise AssertionError(_nonfinite_message(a, bad, what, hint))


# ----------------------------------------------------------------------------- tolerances


EPS32 = float(torch.finfo(torch.float32).eps)  # 2**-23, about 1.19e-7: float32's relative resolution

#: (rtol, atol) for a result computed in this dtype from inputs of magnitude at most 1 (DESIGN §6):
#: float32 about 84 eps32 relative and 8 eps32 absolute; float64 results must be float64-accurate.
#: Any other floating dtype uses float32's.
UNIT_TOLERANCES = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-10, 1e-12)}

#: How many machine epsilons at the inputs' magnitude a stable formulation may be off by.
SCALE_ROUNDINGS = 4

# The fixed defaults when a check gives neither tolerances nor inputs (whatever the dtype, as before).
_DEFAULT_RTOL, _DEFAULT_ATOL = UNIT_TOLERANCES[torch.float32]


class Tolerance(NamedTuple):
    """What :func:`tolerance` returns: ``rtol`` (a float) and ``atol`` (a float, or a float64 tensor
    broadcast against the value when the scale was a tensor)."""
    rtol: float
    atol: float | torch.Tensor


def _floating_tensors(objs):
    for obj in objs:
        if isinstance(obj, torch.Tensor):
            if obj.is_floating_point() or obj.is_complex():
                yield obj
        elif isinstance(obj, (list, tuple)):
            yield from _floating_tensors(obj)


def input_scale(*inputs) -> float:
    """The magnitude of the inputs that feed a value: the largest ``|x|`` over the finite entries of the
    floating-point tensors (in nested lists and tuples too) and Python numbers given; ``0.0`` when there
    are none.  Integer and boolean tensors (labels, indices, masks) are exact and skipped."""
    scale = 0.0
    for obj in inputs:
        if isinstance(obj, (list, tuple)):
            scale = max(scale, input_scale(*obj))
        elif isinstance(obj, torch.Tensor):
            if (obj.is_floating_point() or obj.is_complex()) and obj.numel():
                a = obj.detach().to("cpu").abs().to(torch.float64)
                a = a[torch.isfinite(a)]
                if a.numel():
                    scale = max(scale, float(a.max()))
        elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
            scale = max(scale, abs(float(obj)))
    return scale


def tolerance(dtype: torch.dtype = torch.float32, *, inputs=(), scale=None,
              conditioning: float = 1.0) -> Tolerance:
    """The tolerances for a value computed in ``dtype`` and compared with its float64 reference:
    THE rule every suite uses for results whose inputs are not of magnitude about 1.

    ::

        rtol = R                                          R = 1e-5 (float32), 1e-10 (float64)
        atol = max(A, 4 * eps * conditioning * scale)     A = 1e-6 (float32), 1e-12 (float64)

    * ``eps`` is the machine epsilon of ``dtype`` (float32: 2**-23, about 1.19e-7).  float32 cannot
      hold a number near ``S`` more finely than about ``eps * S`` (logits near 1e4: ~1e-3), so a
      formulation that forms an intermediate of that size -- ``X - logsumexp(X)``, ``m + log(sum)``,
      a different order of a long sum -- is off by that much in absolute terms, however stable it is;
      the float64 reference is not.  ``4`` (``SCALE_ROUNDINGS``) allows a handful of such roundings
      (each costs at most ``eps / 2`` of the magnitude).
    * ``scale`` is the magnitude of the inputs that feed the value: a number, or a tensor broadcast
      against the value when different entries are fed by different inputs (``X.abs()`` for an
      element-wise function, ``X.abs().amax(dim=1, keepdim=True)`` for a row-wise one such as
      softmax).  Without it, ``input_scale(*inputs)``: the largest ``|x|`` over the floating inputs.
    * ``conditioning`` is how far the value can move when every input moves by at most 1: a bound on
      ``sum_j |d value / d x_j|``, stated by the suite from the function's derivative, 1 when unsure
      (a softmax probability: 1/2; an entry of ``(softmax(logits) - one_hot(y)) / n``: ``1 / (2n)``;
      a mean cross-entropy computed from logits: 2).
    * ``R`` and ``A`` are the fixed tolerances of DESIGN §6 (float32: about 84 and 8 eps32): the floor,
      so inputs of magnitude about 1 get exactly the old tolerances, and a derived tolerance is never
      tighter than they are.  ``rtol`` does not grow with the inputs.

    What this does not excuse: NaN and inf (checked before values, whatever the tolerance), an
    underflow to 0 that a log turns into -inf, and any error more than a few roundings at the inputs'
    magnitude -- a formulation that loses 100 eps * scale is an algorithmic error, not float32's.
    """
    dtype = {torch.complex64: torch.float32, torch.complex128: torch.float64}.get(dtype, dtype)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        dtype = torch.float32
    rtol, floor = UNIT_TOLERANCES.get(dtype, UNIT_TOLERANCES[torch.float32])
    eps = float(torch.finfo(dtype).eps)
    if conditioning < 0 or not math.isfinite(conditioning):
        raise ValueError(f"conditioning must be a finite number >= 0, not {conditioning!r}")
    if scale is None:
        scale = input_scale(*inputs)
    if isinstance(scale, torch.Tensor):
        s = scale.detach().to("cpu").abs().to(torch.float64)
        s = torch.where(torch.isfinite(s), s, torch.zeros((), dtype=torch.float64))
        return Tolerance(rtol, torch.clamp(SCALE_ROUNDINGS * eps * conditioning * s, min=floor))
    scale = abs(float(scale))
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, not {scale!r}")
    return Tolerance(rtol, max(floor, SCALE_ROUNDINGS * eps * conditioning * scale))


def _resolve_tolerance(rtol, atol, inputs, scale, conditioning, actual) -> Tolerance:
    """The tolerances a value helper uses: explicit ones (the fixed defaults for any left out), or the
    ones :func:`tolerance` derives from ``inputs``/``scale`` -- never a mix of both."""
    if inputs is None and scale is None:
        if conditioning is not None:
            raise TypeError("conditioning needs the inputs (or their scale) it applies to")
        return Tolerance(_DEFAULT_RTOL if rtol is None else rtol, _DEFAULT_ATOL if atol is None else atol)
    if rtol is not None or atol is not None:
        raise TypeError("give either rtol/atol or inputs/scale (the derived tolerance), not both")
    if inputs is not None and not isinstance(inputs, (list, tuple)):
        inputs = (inputs,)
    inputs = inputs or ()
    # The dtype the value was computed in: that of its floating inputs, else of the result itself.
    dtype = next((t.dtype for t in _floating_tensors(inputs)), None)
    if dtype is None and isinstance(actual, torch.Tensor):
        dtype = actual.dtype
    return tolerance(dtype or torch.float32, inputs=inputs, scale=scale,
                     conditioning=1.0 if conditioning is None else conditioning)


def _atol_at(atol, index) -> float:
    """The absolute tolerance used at ``index`` (``atol`` may be a tensor broadcast against the value)."""
    if isinstance(atol, torch.Tensor):
        return float(atol[index]) if atol.dim() else float(atol)
    return float(atol)


# ----------------------------------------------------------------------------- values


def _as_f64(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu")
    if t.is_complex():
        return t.to(torch.complex128)
    return t.to(torch.float64)


def first_mismatch(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float | None = None,
                   atol: float | None = None, inputs=None, scale=None, conditioning: float | None = None):
    """Compare two tensors of the same shape in float64 with ``|a - e| <= atol + rtol * |e|``.

    The tolerances are ``rtol``/``atol`` (default 1e-5 / 1e-6), or derived by :func:`tolerance` from
    ``inputs`` (or ``scale``) and ``conditioning``.  Returns ``None`` when every entry is close (NaN
    matches NaN, inf matches the same inf), otherwise a dict with ``index`` (first offending
    multi-index, row-major), ``got``, ``expected``, ``count`` (entries that differ),
    ``max_abs_error`` (over finite pairs), ``max_index`` (where that maximum is), and the ``rtol`` and
    ``atol`` used at ``index``.  Useful to build a custom message."""
    rtol, atol = _resolve_tolerance(rtol, atol, inputs, scale, conditioning, actual)
    a, e = _as_f64(actual), _as_f64(expected)
    if a.shape != e.shape:
        raise ValueError(f"shapes differ: {fmt_shape(a.shape)} vs {fmt_shape(e.shape)}")
    if a.numel() == 0:
        return None
    if isinstance(atol, torch.Tensor):
        atol = torch.broadcast_to(atol, a.shape)
        close = ((a == e) | (torch.isnan(a) & torch.isnan(e))
                 | ((a - e).abs() <= atol + rtol * e.abs()))
    else:
        close = torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    bad = ~close
    first = tuple(torch.nonzero(bad)[0].tolist()) if a.dim() else ()
    both_finite = torch.isfinite(a) & torch.isfinite(e)
    err = torch.where(both_finite, (a - e).abs(), torch.zeros((), dtype=torch.float64))
    if a.is_complex():
        err = err.real
    flat = int(torch.argmax(err.reshape(-1)))
    max_index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape)) if a.dim() else ()
    return {
        "index": first,
        "got": a[first].item() if a.dim() else a.item(),
        "expected": e[first].item() if a.dim() else e.item(),
        "count": int(bad.sum()),
        "max_abs_error": float(err.reshape(-1)[flat]),
        "max_index": max_index,
        "rtol": float(rtol),
        "atol": _atol_at(atol, first),
    }


def _value_hint(a: torch.Tensor, e: torch.Tensor, rtol: float, atol: float) -> str:
    """Recognise an output that is a constant multiple of the expected one (a sign flip, a missing
    or extra factor such as the batch size) or a transpose of it (square inputs)."""
    if a.numel() > _MAX_HINT_ELEMENTS or a.is_complex():
        return ""
    if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(e).all())):
        return ""
    big = e.abs() > max(atol * 10, 1e-12)
    if int(big.sum()) >= 3 and bool((a[~big].abs() <= max(atol * 10, 1e-12) * 10).all()):
        ratios = a[big] / e[big]
        k = float(ratios.median())
        if k != 0 and abs(k - 1) > 1e-3 and bool(torch.isclose(ratios, torch.full_like(ratios, k), rtol=1e-4, atol=0).all()):
            if abs(k + 1) < 1e-4:
                return "every entry has the opposite sign of the expected value: check the sign"
            return (f"every entry is about {fmt_number(k)} times the expected value: a constant factor "
                    "is missing or extra (for example a division by the batch size or by n)")
    if a.dim() == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1:
        if bool(torch.isclose(a, e.T, rtol=rtol, atol=atol).all()):
            return "it equals the expected result transposed: were rows and columns swapped?"
    if bool((a == 0).all()) and not bool((e == 0).all()):
        return "every entry is 0"
    return ""


def assert_values_close(actual: torch.Tensor, expected: torch.Tensor, *, rtol: float | None = None,
                        atol: float | None = None, inputs=None, scale=None, conditioning: float | None = None,
                        what: str = "the result", hint=None) -> None:
    """Fail unless the values of two same-shaped tensors are close (compared in float64).

    Tolerances as in :func:`first_mismatch`: ``rtol``/``atol`` (default 1e-5 / 1e-6), or derived by
    :func:`tolerance` from ``inputs`` (or ``scale``) and ``conditioning``.  Message: ``"softmax(X)
    differs at index (1, 2): got 0.3, expected 0.25 (max abs error 0.05 at index (1, 2); 3 of 12
    entries differ; rtol 1e-05, atol 1e-06)"`` -- the tolerances used at the first offending index --
    plus a hint: ``hint`` (a string, or a callable ``hint(actual) -> str`` called only on a mismatch)
    when it gives one, otherwise a generic one when the output is a constant multiple or the
    transpose of the expected one."""
    mismatch = first_mismatch(actual, expected, rtol=rtol, atol=atol, inputs=inputs, scale=scale,
                              conditioning=conditioning)
    if mismatch is None:
        return
    got, exp = mismatch["got"], mismatch["expected"]
    rtol, atol = mismatch["rtol"], mismatch["atol"]
    where = f" at index {fmt_index(mismatch['index'])}" if actual.dim() else ""
    msg = (f"{what} differs{where}: got {fmt_number(got, exp)}, expected {fmt_number(exp, got)} "
           f"(max abs error {fmt_number(mismatch['max_abs_error'])}")
    if actual.dim():
        msg += f" at index {fmt_index(mismatch['max_index'])}; {mismatch['count']} of {actual.numel()} entries differ"
    msg += f"; rtol {rtol:g}, atol {atol:g})"
    specific = hint(actual) if callable(hint) else hint
    extra = specific or _value_hint(_as_f64(actual), _as_f64(expected), rtol, atol)
    raise AssertionError(f"{msg}: {extra}" if extra else msg)


def assert_tensor_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                        inputs=None, scale=None, conditioning: float | None = None,
                        what: str = "the result", dtype: torch.dtype | None = None,
                        device: str | None = None, check_finite: bool = True,
                        finite_hint: str | None = None, hint=None) -> None:
    """Check a student's tensor against an expected one, in this order, failing at the first problem:

    1. ``actual`` is a tensor (:func:`assert_is_tensor`);
    2. same shape as ``expected`` (:func:`assert_same_shape`, with a hint for transposed/missing dims);
    3. dtype is ``dtype`` when given (:func:`assert_dtype`);
    4. it came from ``device`` in the sandbox when given (:func:`assert_device`; ``"cuda"`` matches
       ``"cuda:0"``);
    5. when ``check_finite``: no NaN/inf where ``expected`` is finite (:func:`assert_finite`-style
       message with ``finite_hint``);
    6. values close in float64: ``|actual - expected| <= atol + rtol * |expected|``
       (:func:`assert_values_close`; ``hint``, a string or a callable ``hint(actual) -> str``, replaces
       the generic advice on a value mismatch when it gives some), with ``rtol``/``atol`` (default
       1e-5 / 1e-6) or the tolerances :func:`tolerance` derives from ``inputs`` (or ``scale``) and
       ``conditioning``: pass those for inputs far from magnitude 1 (logits of 1e4, ...).

    ``expected`` may have another dtype (typically float64) than ``actual``; ``what`` names the
    checked quantity and the input it came from, e.g. ``"softmax(X) for X of shape (4, 3)"``."""
    assert_is_tensor(actual, what=what)
    if not isinstance(expected, torch.Tensor):
        expected = torch.as_tensor(expected)
    assert_same_shape(actual, expected, what=what)
    if dtype is not None:
        assert_dtype(actual, dtype, what=what)
    if device is not None:
        assert_device(actual, device, what=what)
    if check_finite and (actual.is_floating_point() or actual.is_complex()):
        a = actual.detach().cpu()
        e = _as_f64(expected)
        bad = ~torch.isfinite(a) & torch.isfinite(e)
        if bool(bad.any()):
            raise AssertionError(_nonfinite_message(a, bad, what, finite_hint))
    assert_values_close(actual, expected, rtol=rtol, atol=atol, inputs=inputs, scale=scale,
                        conditioning=conditioning, what=what, hint=hint)


# ----------------------------------------------------------------------------- Python scalars


def _type_name(kind) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_type_name(k) for k in kind)
    return {float: "a Python float", int: "a Python int", bool: "a Python bool",
            complex: "a Python complex"}.get(kind, f"a {kind.__name__}")


def _is_kind(value, kind) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k is bool:
            if isinstance(value, bool):
                return True
        elif isinstance(value, k) and not isinstance(value, bool):
            return True
    return False


def assert_scalar_close(actual, expected, *, what: str = "the result", rtol: float | None = None,
                        atol: float | None = None, inputs=None, scale=None, conditioning: float | None = None,
                        kind=float) -> None:
    """Check a Python number: its type is ``kind`` (a type or tuple of types; ``bool`` is never
    accepted as ``int``/``float``), it is finite, and ``|actual - expected| <= atol + rtol * |expected|``
    (``rtol``/``atol`` default to 1e-5 / 1e-6, or :func:`tolerance` derives them from ``inputs``, or a
    number ``scale``, and ``conditioning``; a number has no dtype: float32's rule unless a floating
    input says otherwise).

    Message for a wrong type: ``"accuracy(y_hat, y) returned a torch.Tensor of shape () and dtype
    torch.float32, expected a Python float: convert with float(...) or .item()"``; for a value:
    ``"accuracy(y_hat, y) is 0.5, expected 0.75 (rtol 1e-05, atol 1e-06)"``."""
    if not _is_kind(actual, kind):
        msg = f"{what} {_verb(what)} {describe(actual)}, expected {_type_name(kind)}"
        if isinstance(actual, torch.Tensor) and actual.numel() == 1 and kind in (float, int, (int, float)):
            msg += ": convert the 0-d tensor with float(...) or .item()" if kind is not int else \
                ": convert the tensor with int(...) or .item()"
        elif kind is float and isinstance(actual, int) and not isinstance(actual, bool):
            msg += ": convert with float(...) (true division / gives a float)"
        raise AssertionError(msg)
    value = complex(actual) if isinstance(actual, complex) else float(actual)
    if isinstance(value, float) and not math.isfinite(value):
        raise AssertionError(f"{what} is {value}, expected the finite value {fmt_number(expected)}")
    if isinstance(scale, torch.Tensor) and scale.numel() == 1:
        scale = float(scale)
    if isinstance(scale, torch.Tensor):
        raise TypeError("a Python number's scale is a number (or a one-element tensor)")
    rtol, atol = _resolve_tolerance(rtol, atol, inputs, scale, conditioning, None)
    exp = float(expected) if not isinstance(expected, complex) else expected
    if abs(value - exp) <= atol + rtol * abs(exp):
        return
    raise AssertionError(
        f"{what} is {fmt_number(value, exp)}, expected {fmt_number(exp, value)} "
        f"(rtol {rtol:g}, atol {atol:g})")
