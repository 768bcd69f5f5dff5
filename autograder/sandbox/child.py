"""What runs inside the sandboxed child: load the student's cells, then answer call requests.

This module is trusted code, but it runs in an untrusted process: everything it sends back is
treated by the grader as plain data to be checked, never as a verdict.  The same
:func:`execute_call` also serves the in-process self-check (:class:`autograder.student.LocalStudent`).
"""

from __future__ import annotations

import builtins
import linecache
import random
import traceback

import numpy
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from autograder.sandbox import meta_values, wire

MAX_TEXT = 600
MAX_NAME = 100


def load_cells(cells: list[tuple[str, str]]) -> tuple[dict, dict[str, str]]:
    """Run each ``(cell_id, code)`` in one fresh namespace; return it and per-cell load errors.

    A cell that fails does not stop the others, so one broken exercise costs only itself.
    """
    namespace = {"__name__": "__student__", "__builtins__": builtins}
    errors: dict[str, str] = {}
    for cell_id, code in cells:
        filename = f"<cell {cell_id}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            exec(compile(code, filename, "exec"), namespace)
        except SyntaxError as exc:
            where = f"line {exc.lineno} of cell {cell_id}" if exc.lineno else f"cell {cell_id}"
            errors[cell_id] = f"SyntaxError: {_short(str(exc.msg))} ({where})"
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are student errors too
            errors[cell_id] = f"running cell {cell_id!r} raised {describe_exception(exc)}"
    return namespace, errors


def describe_exception(exc: BaseException) -> str:
    """``TypeError: message (line 4 of cell 'softmax')`` for the last student frame."""
    try:
        detail = _short(str(exc))
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise
        detail = "(its message could not be read)"
    name = _short(str(type(exc).__name__), MAX_NAME)
    text = f"{name}: {detail}" if detail else name
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<cell "):
            where = f"line {frame.lineno} of {frame.filename[1:-1]}"
    return f"{text} ({where})" if where else text


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class OperatorRecorder(TorchDispatchMode):
    """Records the names of the ATen operators dispatched while it is active (``_softmax``,
    ``threshold_backward``, ...): what a from-scratch exercise ran, whatever Python name reached it.

    Names alone do not show automatic differentiation (the backward of ``pow`` or ``mean`` dispatches
    plain ``mul`` and ``div``), so two pseudo-operators are noted as well: :attr:`AUTOGRAD_BACKWARD`
    when an operator runs inside a backward pass of the autograd engine (``backward``,
    ``torch.autograd.grad``, ``torch.func.grad``, ``jacobian``), and :attr:`FORWARD_AD` when
    forward-mode AD is in use (``forward_ad.make_dual``, ``torch.func.jvp``, ``jacfwd``).  The engine
    runs a CUDA backward on its own device thread, but it installs the calling thread's dispatch
    modes and current graph task there first, so that backward is seen too.  The label of a
    ``torch.autograd.profiler.record_function`` region is noted as ``<region LABEL>``: an optimizer's
    step leaves no operator of its own (SGD on the CPU runs ``add_``), but it runs in a region named
    ``Optimizer.step#SGD.step``.

    At most :attr:`MAX_OPS` names are kept; past that :attr:`TOO_MANY` is noted, so that a flood of
    harmless operators cannot push a banned one out of the record unnoticed.
    """

    MAX_OPS = 480  # plus the pseudo-operators: under the grader's cap of 500 names
    AUTOGRAD_BACKWARD = "<autograd backward>"
    FORWARD_AD = "<forward-mode AD>"
    TOO_MANY = "<too many operators>"
    # _make_dual itself never reaches this mode; making a dual tensor checks its layout with this one.
    FORWARD_AD_OPS = frozenset({"_make_dual", "_unpack_dual", "_fw_primal", "_has_same_storage_numel"})

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(getattr(getattr(func, "overloadpacket", func), "__name__", func))
        self._note(name)
        if name.startswith("_record_function_enter") and args and isinstance(args[0], str):
            self._note(f"<region {args[0][:80]}>")
        if self.in_backward():
            self.ops.add(self.AUTOGRAD_BACKWARD)
        if name in self.FORWARD_AD_OPS or getattr(torch.autograd.forward_ad, "_current_level", -1) >= 0:
            self.ops.add(self.FORWARD_AD)
        return func(*args, **(kwargs or {}))

    def _note(self, name: str) -> None:
        if name not in self.ops:
            self.ops.add(name if len(self.ops) < self.MAX_OPS else self.TOO_MANY)

    @staticmethod
    def in_backward() -> bool:
        """Whether this thread is running a backward pass of the autograd engine.

        torch >= 2.1 gives the engine's current graph task (-1 outside one); a build without that
        still gives the autograd node being evaluated (None outside the engine).
        """
        task_id = getattr(torch._C, "_current_graph_task_id", None)
        if task_id is not None:
            return task_id() != -1
        node = getattr(torch._C, "_current_autograd_node", None)
        return node is not None and node() is not None


TRUSTED_GLOBALS = {"torch": torch, "math": __import__("math")}


class ChildState:
    """The student's namespace plus the objects handed to the grader as handles."""

    def __init__(self, namespace: dict, load_errors: dict | None = None):
        self.namespace = namespace
        self.load_errors = load_errors or {}
        self.handles: dict[int, object] = {}

    def handle_for(self, obj) -> wire.Handle:
        """Keep ``obj`` here and give the grader a number for it."""
        for key, value in self.handles.items():
            if value is obj:
                return wire.Handle(key, type(obj).__name__)
        key = len(self.handles) + 1
        self.handles[key] = obj
        return wire.Handle(key, type(obj).__name__)

    def resolve(self, handle: wire.Handle):
        """The object behind a handle the grader sent back."""
        if handle.id not in self.handles:
            raise KeyError(f"unknown handle {handle.id}")
        return self.handles[handle.id]


GPU_MEMORY_FRACTION = 0.25
_gpu_ready = False


def _prepare_device(device: str) -> None:
    """Before the first CUDA use: cap this child's share of GPU memory; TF32 stays off."""
    global _gpu_ready
    if device.startswith("cuda") and not _gpu_ready:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.cuda.set_per_process_memory_fraction(GPU_MEMORY_FRACTION)
        _gpu_ready = True


def _materialize(obj, state: ChildState, device: str, leaves: list, slots: list):
    """Rebuild decoded arguments on ``device``; remember each tensor and where it sits."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().to(device)
        if getattr(obj, "_d2l_requires_grad", False) or obj.requires_grad:
            t.requires_grad_(True)
        grad = getattr(obj, "_d2l_grad", None)
        if grad is not None:
            t.grad = grad.detach().to(device=device, dtype=t.dtype)
        leaves.append(t)
        return t
    if isinstance(obj, wire.Handle):
        return state.resolve(obj)
    if isinstance(obj, wire.Code):
        return eval(obj.src, dict(TRUSTED_GLOBALS))  # the grader's code, not the student's
    if isinstance(obj, list):
        out = []
        for i, x in enumerate(obj):
            start = len(leaves)
            out.append(_materialize(x, state, device, leaves, slots))
            if isinstance(x, torch.Tensor):
                slots.append((out, i, start))
        return out
    if isinstance(obj, tuple):
        return tuple(_materialize(x, state, device, leaves, slots) for x in obj)
    if isinstance(obj, dict):
        return {k: _materialize(v, state, device, leaves, slots) for k, v in obj.items()}
    return obj


def _tensor_state(t, original) -> dict:
    if not isinstance(t, torch.Tensor):
        return {"value": None, "grad": None, "is_leaf": False, "requires_grad": False,
                "same_object": False, "type": type(t).__name__}
    return {"value": t.detach(), "grad": None if t.grad is None else t.grad.detach(),
            "is_leaf": bool(t.is_leaf), "requires_grad": bool(t.requires_grad),
            "same_object": t is original, "type": type(t).__name__}


def _plain(obj, state: ChildState, depth: int = 0):
    """Plain data for the grader; anything else stays here and crosses as a handle."""
    if depth > 20:
        return state.handle_for(obj)
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [_plain(x, state, depth + 1) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(x, state, depth + 1) for x in obj)
    if isinstance(obj, dict) and all(_plain_key(k) for k in obj):
        return {k: _plain(v, state, depth + 1) for k, v in obj.items()}
    return state.handle_for(obj)


def _plain_key(key) -> bool:
    """Dict keys that cross as data: scalars, strings and tuples of them (n-gram counts)."""
    if isinstance(key, tuple):
        return len(key) < 64 and all(_plain_key(k) for k in key)
    return key is None or type(key) in (str, int, float, bool)


def _target(state: ChildState, request: dict):
    """The callable a request names: a student function, or a method of a handed-out object."""
    if isinstance(request.get("target"), wire.Handle):
        obj = state.resolve(request["target"])
        method = request.get("method", "__call__")
        return obj if method == "__call__" else getattr(obj, str(method), None)
    name = request.get("fn")
    return state.namespace.get(name) if isinstance(name, str) else None


def execute_call(state: ChildState, request: dict) -> dict:
    """Call a student function (or a method of a handle) and describe the outcome as plain data.

    ``request``: ``fn`` (or ``target`` + ``method``), ``args``, ``kwargs``, ``device``, optional
    ``cotangent``, ``seed`` and ``observe``.  The reply has ``status`` (``ok``, ``missing``, ``error``,
    ``backward_error``) and, when ok, ``result``, ``args_after`` (state of every tensor argument
    afterwards) and ``input_grads``; with ``observe``, also ``operators``: the sorted names an
    :class:`OperatorRecorder` noted during the call itself (not during the cotangent's backward).
    """
    try:
        fn = _target(state, request)
    except (KeyError, AttributeError) as exc:
        return {"status": "missing", "message": str(exc)}
    name = request.get("fn") or request.get("method")
    if not callable(fn):
        return {"status": "missing", "message": f"{name} is not defined"}
    device = str(request.get("device", "cpu"))
    # the meta device with values (the stand-in for a GPU), for calls of a test on "meta" only
    with meta_values.active(device, request.get("meta_values") is True):
        return _call_on(state, request, fn, device)


def _call_on(state: ChildState, request: dict, fn, device: str) -> dict:
    leaves: list = []
    slots: list = []
    try:
        _prepare_device(device)
        args = _materialize(list(request.get("args", [])), state, device, leaves, slots)
        kwargs = _materialize(dict(request.get("kwargs", {})), state, device, leaves, [])
    except Exception as exc:  # noqa: BLE001 - e.g. CUDA unavailable, a stale handle
        return {"status": "error", "message": f"the inputs could not be prepared: {describe_exception(exc)}"}
    originals = list(leaves)
    if isinstance(request.get("seed"), int):
        _seed_everything(request["seed"])
    recorder = OperatorRecorder() if request.get("observe") else None
    try:
        if recorder is None:
            result = fn(*args, **kwargs)
        else:
            with recorder:
                result = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - report every student failure as data
        return {"status": "error", "message": describe_exception(exc)}

    input_grads = None
    cotangent = request.get("cotangent")
    if cotangent is not None:
        outputs, cotangents = [], []
        out_list = list(result) if isinstance(result, (tuple, list)) else [result]
        cot_list = list(cotangent) if isinstance(cotangent, (tuple, list)) else [cotangent]
        for out, cot in zip(out_list, cot_list):
            if cot is None:
                continue
            if not isinstance(out, torch.Tensor):
                return {"status": "backward_error",
                        "message": f"returned a {type(out).__name__}, so no gradient can flow back"}
            if not out.requires_grad:
                return {"status": "backward_error",
                        "message": "the output is not connected to the input in the autograd graph "
                                   "(did you use .detach(), .data, .item(), .numpy() or build a new tensor?)"}
            outputs.append(out)
            cotangents.append(cot.detach().to(device=out.device, dtype=out.dtype).reshape(out.shape)
                              if cot.numel() == out.numel() else cot.to(out.device))
        try:
            torch.autograd.backward(outputs, cotangents)
        except BaseException as exc:  # noqa: BLE001
            return {"status": "backward_error",
                    "message": f"back-propagating through the output failed: {describe_exception(exc)}"}
        input_grads = [None if t.grad is None else t.grad.detach()
                       for t in originals if t.requires_grad]

    # The state of each tensor argument afterwards, found where it sat in its list
    # (so an implementation that replaces a parameter instead of updating it shows up).
    current = list(originals)
    for container, index, leaf_index in slots:
        try:
            current[leaf_index] = container[index]
        except Exception:  # noqa: BLE001 - the student emptied the list
            current[leaf_index] = None
    reply = {"status": "ok", "result": _plain(result, state),
             "args_after": [_tensor_state(c, o) for c, o in zip(current, originals)],
             "input_grads": input_grads}
    if recorder is not None:
        reply["operators"] = sorted(recorder.ops)
    return reply


def _seed_everything(seed: int) -> None:
    """Seed torch's, Python's and NumPy's global generators, so that a call is reproducible whichever
    one the student draws from."""
    torch.manual_seed(seed)
    random.seed(seed)
    numpy.random.seed(seed % 2 ** 32)


def execute_eval(state: ChildState, request: dict) -> dict:
    """Evaluate one trusted expression from the grader next to the student's code.

    The expression sees the student's namespace, ``torch``, ``math`` and ``bindings`` (handles
    and data the grader passes); its value comes back as plain data or handles.
    """
    device = str(request.get("device", "cpu"))
    with meta_values.active(device, request.get("meta_values") is True):
        return _eval_on(state, request, device)


def _eval_on(state: ChildState, request: dict, device: str) -> dict:
    try:
        _prepare_device(device)
        bindings = _materialize(dict(request.get("bindings", {})), state, device, [], [])
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "message": f"the inputs could not be prepared: {describe_exception(exc)}"}
    scope = {**state.namespace, **TRUSTED_GLOBALS, **bindings}
    try:
        value = eval(str(request.get("expr", "None")), scope)
    except BaseException as exc:  # noqa: BLE001
        return {"status": "error", "message": describe_exception(exc)}
    return {"status": "ok", "result": _plain(value, state), "args_after": [], "input_grads": None}


def encode_reply(reply: dict) -> bytes:
    """Encode a reply; a result that is not plain data becomes a ``bad_return`` reply."""
    try:
        return wire.encode(reply, values=meta_values.values)  # meta tensors carry their twins' values
    except Exception as exc:  # noqa: BLE001 - whatever the student returned, answer with data
        return wire.encode({"status": "bad_return", "message": _short(str(exc))})


def info(state: ChildState) -> dict:
    """What the child knows about itself: defined callables, load errors, CUDA."""
    names = sorted(k for k, v in state.namespace.items()
                   if isinstance(k, str) and len(k) <= MAX_NAME and callable(v) and not k.startswith("__"))
    return {"status": "ok", "functions": names[:500], "load_errors": state.load_errors,
            "cuda": bool(torch.cuda.is_available()), "torch": torch.__version__}


def serve(channel, hello: dict) -> None:
    """The child's main loop: say hello, then answer requests until EOF.  The first request loads
    the student's cells (``load``): they come straight from the grader over this child's own
    socket, so the zygote, which every child is forked from, never holds a student's text."""
    state = ChildState({"__name__": "__student__"}, {})
    channel.send(wire.encode(hello))
    while True:
        data = channel.recv()
        if data is None:
            return
        try:
            request = wire.decode(data)
        except wire.WireError as exc:
            channel.send(wire.encode({"status": "bad_request", "message": str(exc)}))
            continue
        channel.send(encode_reply(handle_request(state, request)))


def load(state: ChildState, request: dict) -> dict:
    """Run the student's cells (``request["cells"]``: ``[(cell_id, code), ...]``), once."""
    if getattr(state, "loaded", False):
        return {"status": "bad_request", "message": "the cells are loaded already"}
    state.loaded = True
    cells = [(str(c), str(s)) for c, s in request.get("cells", [])]
    state.namespace, state.load_errors = load_cells(cells)
    return {"status": "ok", "load_errors": state.load_errors}


def handle_request(state: ChildState, request) -> dict:
    """Dispatch one request (``load``, ``call``, ``eval``, ``info``, ``probe``) to its handler."""
    op = request.get("op") if isinstance(request, dict) else None
    if op == "load":
        return load(state, request)
    if op == "call":
        return execute_call(state, request)
    if op == "eval":
        return execute_eval(state, request)
    if op == "info":
        return info(state)
    if op == "probe":
        from autograder.sandbox import probe
        return probe.attempt(request)
    return {"status": "bad_request", "message": f"unknown op {op!r}"}
