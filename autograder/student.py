"""The student proxy that hidden and public tests call.

``student.softmax(X)`` looks like a local call, but in grading the function runs in a sandboxed
child (:class:`SandboxSession`); in a notebook's self-check cell it runs in the kernel
(:class:`LocalSession`).  Either way arguments and results cross as plain data (:mod:`wire`), and
every way a student's code can go wrong becomes a :class:`StudentError` with a message for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from autograder import inspections
from autograder.flags import FlagLog
from autograder.sandbox import (Sandbox, SandboxCrashed, SandboxError, SandboxProtocolError, SandboxTimeout,
                                SandboxUnavailable)
from autograder.sandbox import child, wire
from autograder.sandbox.host import cap_text
from autograder.sandbox.limits import DEFAULT_LIMITS


DEVICE_MIXING_HINT = ("every tensor must live on the device of the inputs (or the device you are given): create "
                      "new tensors with device=X.device (torch.zeros_like(X), X.new_zeros(...)) and move modules "
                      "with net.to(device)")


class StudentError(AssertionError):
    """A check failed because of the student's code; the message is for the student."""


@dataclass
class TensorState:
    """A tensor argument as it was after the student's function returned."""

    value: torch.Tensor | None
    grad: torch.Tensor | None
    is_leaf: bool
    requires_grad: bool
    same_object: bool
    type_name: str = "Tensor"


@dataclass
class Reply:
    """The outcome of one successful call.

    ``operators``: the names of the ATen operators the call dispatched in the child (and the
    pseudo-operators of :class:`~autograder.sandbox.child.OperatorRecorder`), for a call made with
    ``observe=True``; empty otherwise.  They come from a hostile process: plain strings, bounded.
    """

    value: object
    input_grads: list | None
    args_after: list[TensorState]
    operators: frozenset = frozenset()

    MAX_OPERATORS = 500
    MAX_OPERATOR_NAME = 100

    @classmethod
    def operators_from(cls, names) -> frozenset:
        """The operator names a child reported, kept only as at most :attr:`MAX_OPERATORS` strings of
        at most :attr:`MAX_OPERATOR_NAME` characters (anything else is dropped)."""
        kept: set[str] = set()
        if isinstance(names, (list, tuple)):
            for name in names:
                if len(kept) >= cls.MAX_OPERATORS:
                    break
                if isinstance(name, str) and 0 < len(name) <= cls.MAX_OPERATOR_NAME:
                    kept.add(name)
        return frozenset(kept)


def describe_args(args, kwargs=None) -> str:
    """``X: (4, 3) float32, lr: 0.1`` — a short description of call arguments for messages."""
    def one(a):
        if isinstance(a, torch.Tensor):
            return f"tensor of shape {tuple(a.shape)} ({str(a.dtype).replace('torch.', '')})"
        if isinstance(a, (list, tuple)):
            return f"{type(a).__name__} of {len(a)}"
        if isinstance(a, RemoteObject):
            return f"your {a.type_name}"
        return repr(a) if isinstance(a, (int, float, bool, type(None))) else type(a).__name__
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in (kwargs or {}).items()]
    return ", ".join(parts)


class RemoteObject:
    """An object that lives in the child (an ``nn.Module``, a generator): call it, ask it things."""

    def __init__(self, student: "Student", handle: wire.Handle):
        self.student = student
        self.handle = handle
        self.type_name = handle.type_name

    def __call__(self, *args, **kwargs):
        return self.student.call_method(self, "__call__", *args, **kwargs).value

    def call(self, method: str, *args, **kwargs) -> Reply:
        """Call a method; same keywords as :meth:`Student.call` (``cotangent``, ``seed``, ``timeout``)."""
        return self.student.call_method(self, method, *args, **kwargs)

    def attr(self, name: str):
        """The value of an attribute (plain data or another :class:`RemoteObject`)."""
        return self.student.eval(inspections.ATTRIBUTE, obj=self, name=name)

    def __repr__(self) -> str:
        return f"<{self.type_name} object in the sandbox>"


def _to_wire(obj):
    """Arguments as the wire carries them; a trusted function (``wire.Code``) must be registered in
    :mod:`autograder.inspections` (:class:`~autograder.inspections.UnregisteredCode` otherwise)."""
    if isinstance(obj, RemoteObject):
        return obj.handle
    if isinstance(obj, wire.Code):
        inspections.check_function(obj.src)
        return obj
    if isinstance(obj, list):
        return [_to_wire(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_to_wire(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _to_wire(v) for k, v in obj.items()}
    return obj


def _from_wire(obj, student):
    if isinstance(obj, wire.Handle):
        return RemoteObject(student, obj)
    if isinstance(obj, list):
        return [_from_wire(x, student) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_from_wire(x, student) for x in obj)
    if isinstance(obj, dict):
        return {k: _from_wire(v, student) for k, v in obj.items()}
    return obj


class LocalSession:
    """Runs calls in this process against a namespace (a notebook's globals).  Self-check only."""

    def __init__(self, namespace: dict, problems: list[str] | None = None):
        self.state = child.ChildState(namespace)
        self.load_errors: dict[str, str] = {}
        self.problems = problems or []
        self.call_timeout = float("inf")

    def request(self, message: dict, timeout: float | None = None) -> dict:
        """Same contract as :meth:`SandboxSession.request`, with a wire round trip for copies."""
        decoded = wire.decode(wire.encode(message))
        return wire.decode(child.encode_reply(child.handle_request(self.state, decoded)))

    def close(self) -> None:
        """Nothing to release."""


class SandboxSession:
    """One submission's code in the sandbox, restarted after a crash or timeout.

    ``call_timeout`` bounds each call; ``budget`` bounds the submission's total time (defaults:
    the sandbox's :class:`~autograder.sandbox.limits.Limits`).  ``flags`` collects what this session
    saw the child do from outside (a crash, a broken reply, a timeout, the budget used up; see
    :mod:`autograder.flags`); pass one log to every session of a submission.
    """

    def __init__(self, sandbox: Sandbox, cells: list[tuple[str, str]], problems: list[str] | None = None,
                 call_timeout: float | None = None, budget: float | None = None,
                 start_timeout: float | None = None, flags: FlagLog | None = None):
        limits = getattr(sandbox, "limits", DEFAULT_LIMITS)
        self.sandbox = sandbox
        self.cells = cells
        self.problems = problems or []
        self.call_timeout = limits.call_timeout if call_timeout is None else call_timeout
        self.start_timeout = limits.start_timeout if start_timeout is None else start_timeout
        self.budget = limits.budget if budget is None else budget
        self.max_text = limits.max_text_chars
        self.used = 0.0
        self.worker = None
        self.load_errors: dict[str, str] = {}
        self.start_failure: str | None = None
        self.timed_out: set[str] = set()  # functions that already used up a whole call timeout
        self.flags = flags if flags is not None else FlagLog()

    def _left(self) -> float:
        return self.budget - self.used

    def _flag_budget(self) -> None:
        self.flags.add("budget", f"the notebook's grading time ({self.budget:g} s) was used up")

    @staticmethod
    def _crash_kind(exc: SandboxCrashed) -> str:
        return "protocol" if isinstance(exc, SandboxProtocolError) else "crashed"

    def _ensure_worker(self):
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self._left() <= 0:
            self._flag_budget()
            raise SandboxTimeout("budget")
        began = time.monotonic()
        try:
            self.worker = self.sandbox.spawn(self.cells, timeout=min(self.start_timeout, self._left()))
        except SandboxTimeout:
            self.start_failure = ("loading your notebook's answer cells did not finish within "
                                  f"{self.start_timeout:g} s (an infinite loop or long computation at "
                                  "the top level of a cell?)")
            self.flags.add("timeout", f"loading the answer cells ran past {self.start_timeout:g} s")
            raise
        except SandboxCrashed as exc:
            self.start_failure = ("the process running your answer cells stopped while loading them "
                                  "(os._exit or sys.exit at the top level, a crash, or the memory limit)")
            self.flags.add(self._crash_kind(exc), f"while loading the answer cells: {exc}")
            raise
        finally:
            self.used += time.monotonic() - began
        self.load_errors = self.worker.load_errors
        return self.worker

    def request(self, message: dict, timeout: float | None = None) -> dict:
        """Send one request, starting a child if needed; raises SandboxError subclasses.

        ``timeout`` overrides the per-call limit (a training exercise needs longer).

        A function that timed out once is not called again for this submission: its later
        checks fail at once instead of each waiting out the timeout.
        """
        fn = message.get("fn") or f"{getattr(message.get('target'), 'type_name', '?')}.{message.get('method')}"
        if fn in self.timed_out:
            raise SandboxTimeout("again")
        if self._left() <= 0:
            # Spent, decoding replies included: the child goes, and every later check fails at once
            # (a child that answers fast but expensively must not keep the grader busy).
            self.close()
            self._flag_budget()
            raise SandboxTimeout("budget")
        worker = self._ensure_worker()
        limit = timeout or self.call_timeout
        timeout = min(limit, max(self._left(), 0.1))
        label = message.get("fn") or (fn if message.get("target") is not None else f"the {message.get('op')} request")
        began = time.monotonic()
        try:
            return worker.request(message, timeout=timeout)
        except SandboxTimeout:
            if fn:
                self.timed_out.add(fn)
            if timeout < limit:
                self._flag_budget()
            else:
                self.flags.add("timeout", f"{label} ran past the {limit:g} s limit")
            raise
        except SandboxCrashed as exc:
            self.flags.add(self._crash_kind(exc), f"while {label} was running: {exc}")
            raise
        finally:
            self.used += time.monotonic() - began

    def close(self) -> None:
        """Kill the child."""
        if self.worker is not None:
            self.worker.kill()
            self.worker = None


class Student:
    """What a test calls: ``student.softmax(X)``, ``student.call(...)``, ``student.source``."""

    def __init__(self, session, source: str = "", device: str = "cpu", meta_values: bool = False):
        self._session = session
        self.source = source
        self.device = device
        # Calls of a test that runs on "meta" (the stand-in for a GPU) give meta tensors values in the
        # child, also those of a student rebound to the CPU to pass "meta" as an argument.
        self.meta_values = bool(meta_values) or str(device).split(":")[0] == "meta"

    def on(self, device: str) -> "Student":
        """The same submission, with inputs placed on ``device`` in the child."""
        return Student(self._session, self.source, device, self.meta_values)

    @property
    def problems(self) -> list[str]:
        """Notebook-level problems noted while reading the submission."""
        return self._session.problems

    def has(self, name: str) -> bool:
        """Whether the submission defines a callable ``name`` (without calling it)."""
        try:
            reply = self._session.request({"op": "info"})
        except SandboxError:
            return False
        return name in reply.get("functions", [])

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs).value

    def call(self, fn: str, *args, cotangent=None, seed: int | None = None, timeout: float | None = None,
             observe: bool = False, **kwargs) -> Reply:
        """Call ``fn`` in the student's code; optionally back-propagate ``cotangent`` through it.

        ``seed`` seeds torch's, Python's and NumPy's global generators in the child just before the call
        (initialisation, shuffling); ``timeout`` overrides the per-call limit for long exercises such as training;
        ``observe`` records the ATen operators the call dispatched (``Reply.operators``, see
        :mod:`autograder.observed`).
        """
        message = {"op": "call", "fn": fn, "args": _to_wire(list(args)), "kwargs": _to_wire(kwargs),
                   "device": self.device, "meta_values": self.meta_values, "cotangent": cotangent, "seed": seed,
                   "observe": bool(observe)}
        return self._send(fn, message, args, kwargs, timeout)

    def call_method(self, obj: "RemoteObject", method: str, *args, cotangent=None, seed: int | None = None,
                    timeout: float | None = None, observe: bool = False, **kwargs) -> Reply:
        """Call ``obj.method(*args, **kwargs)`` where ``obj`` lives in the child (a module, say); same
        keywords as :meth:`call`."""
        message = {"op": "call", "target": obj.handle, "method": method, "args": _to_wire(list(args)),
                   "kwargs": _to_wire(kwargs), "device": self.device, "meta_values": self.meta_values,
                   "cotangent": cotangent, "seed": seed, "observe": bool(observe)}
        label = f"{obj.type_name}.{method}" if method != "__call__" else f"{obj.type_name}(...)"
        return self._send(label, message, args, kwargs, timeout)

    def eval(self, expr: str, label: str = "inspecting your code", **bindings):
        """Evaluate a registered expression next to the student's code and return its value.

        ``expr`` must be one of :data:`autograder.inspections.EXPRESSIONS` (public text: whatever
        crosses into the child, the student's code can read); anything else raises
        :class:`~autograder.inspections.UnregisteredCode` before it is sent.  The expression sees the
        student's functions, ``torch``, ``math`` and ``bindings`` (data or :class:`RemoteObject`), which
        carry every value: e.g. ``student.eval(inspections.PARAM_SHAPES, net=net)``.
        """
        inspections.check_expression(expr)
        message = {"op": "eval", "expr": expr, "bindings": _to_wire(bindings), "device": self.device,
                   "meta_values": self.meta_values}
        return self._send(label, message, (), {}, None, evaluating=True).value

    def _send(self, fn: str, message: dict, args, kwargs, timeout, evaluating: bool = False) -> Reply:
        try:
            reply = self._session.request(message, timeout=timeout)
        except SandboxUnavailable:
            raise  # the grader's problem, never the student's: grading stops
        except SandboxTimeout as exc:
            raise StudentError(self._timeout_message(fn, str(exc), timeout)) from None
        except SandboxCrashed as exc:
            raise StudentError(self._crash_message(fn, str(exc))) from None
        except SandboxError as exc:
            raise StudentError(f"{fn} could not be checked: {exc}") from None
        return self._interpret(fn, reply, args, kwargs, evaluating)

    def _timeout_message(self, fn: str, detail: str, timeout: float | None = None) -> str:
        start = getattr(self._session, "start_failure", None)
        if start:
            return f"{fn} could not be checked: {start}."
        if detail == "again":
            return (f"{fn} was not checked again: it already ran past the "
                    f"{self._session.call_timeout:g} s limit in an earlier check (an infinite loop?).")
        if detail == "budget":
            return (f"{fn} could not be checked: the time allowed for grading this notebook "
                    f"({self._session.budget:g} s) was used up by earlier checks.")
        return (f"{fn} did not return within {timeout or self._session.call_timeout:g} s "
                "(an infinite loop, or a far too slow implementation?).")

    def _crash_message(self, fn: str, detail: str) -> str:
        start = getattr(self._session, "start_failure", None)
        if start:
            return f"{fn} could not be checked: {start}."
        return (f"the process running your code stopped while {fn} was running ({detail}). "
                "Causes: exiting the interpreter (os._exit, sys.exit), a crash, or using more memory "
                "than allowed.")

    def _interpret(self, fn: str, reply: dict, args, kwargs, evaluating: bool = False) -> Reply:
        status = reply.get("status")
        # An eval is the grader's own inspection: the student sees its label, not the expression.
        call = fn if evaluating else f"{fn}({describe_args(args, kwargs)})"
        if status == "ok":
            states = []
            for s in reply.get("args_after") or []:
                if isinstance(s, dict):
                    states.append(TensorState(s.get("value"), s.get("grad"), bool(s.get("is_leaf")),
                                              bool(s.get("requires_grad")), bool(s.get("same_object")),
                                              str(s.get("type", ""))))
            grads = reply.get("input_grads")
            value = _from_wire(reply.get("result"), self)
            return Reply(value, list(grads) if isinstance(grads, list) else None, states,
                         Reply.operators_from(reply.get("operators")))
        message = cap_text(reply.get("message", ""), getattr(self._session, "max_text", 1000))
        if status == "missing":
            raise StudentError(self._missing_message(fn))
        if status == "error":
            if "two devices" in message or "on the expected device" in message:
                message += f" -- {DEVICE_MIXING_HINT}"
            raise StudentError(f"{call} raised {message}" if evaluating else f"calling {call} raised {message}")
        if status == "backward_error":
            raise StudentError(f"gradient through {fn} could not be computed: {message}")
        if status == "bad_return":
            raise StudentError(f"{call} returned something that is not a tensor, number or "
                               f"list of them ({message})")
        raise StudentError(f"{fn} could not be checked (unexpected answer from the sandbox)")

    def _missing_message(self, fn: str) -> str:
        load_error = self._session.load_errors.get(fn)
        if load_error:
            return f"{fn} is not defined because its answer cell failed to run: {load_error}"
        for problem in self._session.problems:
            if fn in problem:
                return f"{fn} is not defined: {problem}."
        others = [e for e in self._session.load_errors.values()]
        hint = f" (another cell failed: {others[0]})" if others else ""
        return f"{fn} is not defined: did you delete or rename the function?{hint}"
