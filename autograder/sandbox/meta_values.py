"""A second device for graders without a GPU: PyTorch's ``meta`` device, given values by the CPU.

Without a GPU every tensor of a check lives on the CPU, so an answer that ignores its ``device``
argument, creates a tensor without ``device=X.device`` or forgets ``net.to(device)`` is right by
accident.  ``meta`` is a device that every PyTorch build has: a meta tensor has a shape, a dtype,
strides and a storage, but no data.  ``x.device``, ``torch.zeros(..., device=x.device)``,
``net.to(device)``, ``torch.cuda.is_available()`` (False) and the rest behave as with a GPU; what meta
alone cannot do is compute (``.item()``, ``float(loss)``, ``if norm > theta``, ``int(y.max()) + 1``).

Here every meta storage gets a twin: a CPU storage of the same size that holds its values.
:class:`MetaValues` (a ``TorchDispatchMode``, active in the child for requests on ``meta`` only) sees
every ATen operator that touches a meta tensor or is asked to create one, and

1. enforces CUDA's device rule: a meta tensor may meet CPU tensors only as zero-dimensional scalars,
   except in copies between devices and as the indices of an indexing (PyTorch moves CPU indices to
   the indexed tensor's device); anything else raises the error a CUDA run raises (``Expected all
   tensors to be on the same device, but found at least two devices, meta and cpu!``);
2. runs the operator on CPU views of the twins (so values, random draws included, are exactly those
   of the same call on the CPU);
3. describes each result on meta: an operator that worked in place returns its meta argument, a view
   of an argument becomes a meta view of the argument's storage, a new result becomes a new meta
   storage whose twin is the result's CPU storage; the result of a copy to the CPU (``.cpu()``,
   ``.to("cpu")``, ``.item()``, ``.tolist()``) stays on the CPU.

Twins are keyed by storage, so views, ``.data``, ``nn.Parameter`` and in-place updates share values
as on a real device; a twin lives as long as its meta storage (a weak reference each, swept from time
to time) and across requests (a module moved to ``meta`` in one call is used in the next).  ``torch.tensor(data,
device="meta")`` and its kin dispatch no operator (PyTorch builds an empty meta tensor directly), and
PyTorch refuses ``cpu_param.data = meta_tensor`` (which it allows for CUDA, and ``net.to(device)``
relies on to keep the parameters an optimizer holds): a small ``TorchFunctionMode``
(:class:`MetaFunctions`) handles both as for CUDA.

Nothing here is secret and nothing it produces is trusted: it runs next to the student's code, and
what it computes crosses to the grader through :mod:`autograder.sandbox.wire` like any other value.
"""

from __future__ import annotations

import contextlib

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.overrides import TorchFunctionMode
from torch.utils._mode_utils import no_dispatch
from torch.utils._python_dispatch import TorchDispatchMode

META = torch.device("meta")
CPU = torch.device("cpu")
_LOCAL_SCALAR_DENSE = torch.ops.aten._local_scalar_dense.default

# Operators whose arguments may live on both devices, as with CUDA: copies between devices ...
COPIES = frozenset({"copy_", "copy", "_copy_from", "_copy_from_and_resize", "_to_copy", "to", "lift_fresh",
                    "lift_fresh_copy", "_has_compatible_shallow_copy_type", "_propagate_xla_data"})
# ... and indexing, where the indices (and the values put) may be on the CPU, but the indexed tensor
# decides the device.
INDEXING = frozenset({"index", "index_put_", "index_put", "_index_put_impl_", "_unsafe_index", "_unsafe_index_put"})


def _is_meta(x) -> bool:
    return isinstance(x, torch.Tensor) and x.device.type == "meta"


def _is_meta_device(x) -> bool:
    return isinstance(x, torch.device) and x.type == "meta"


def mixing_error(name: str) -> RuntimeError:
    """The error CUDA gives for a CPU tensor where only the device's tensors may go."""
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, meta and "
                        f"cpu! (when checking the arguments of {name})")


def _check_devices(name: str, flat: list, args) -> None:
    if name in COPIES or name.startswith("_foreach_"):
        return  # a _foreach_ operator checks each of its tensors' own devices in its own per-tensor operators
    if name in INDEXING:
        if args and isinstance(args[0], torch.Tensor) and not _is_meta(args[0]):
            raise mixing_error(name)  # CPU tensors cannot be indexed with meta indices
        return
    if any(isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dim() > 0 for x in flat):
        raise mixing_error(name)


def _leaves(args, kwargs) -> list:
    """The arguments of an ATen operator, with its tensor lists opened (one level, as ATen has)."""
    flat = []
    for x in (*args, *kwargs.values()):
        if isinstance(x, (list, tuple)):
            flat.extend(x)
        else:
            flat.append(x)
    return flat


def _map(obj, fn):
    """``fn`` applied to each leaf of nested tuples, lists and dicts (ATen arguments and results)."""
    if isinstance(obj, tuple):
        return tuple(_map(x, fn) for x in obj)
    if isinstance(obj, list):
        return [_map(x, fn) for x in obj]
    if isinstance(obj, dict):
        return {k: _map(v, fn) for k, v in obj.items()}
    return fn(obj)


class MetaValues(TorchDispatchMode):
    """The twin CPU storages of meta storages, and the mode that keeps them (see the module docstring)."""

    SWEEP_EVERY = 4096  # new twins, or
    SWEEP_BYTES = 64 * 1024 * 1024  # bytes of new twins: the twins of dead meta tensors go then

    def __init__(self):
        super().__init__()
        self._twins: dict[int, tuple[StorageWeakRef, torch.UntypedStorage]] = {}
        self._added = 0
        self._added_bytes = 0

    # ------------------------------------------------------------------------------------- twins
    def _adopt(self, meta_storage: torch.UntypedStorage, twin: torch.UntypedStorage) -> None:
        self._twins[meta_storage._cdata] = (StorageWeakRef(meta_storage), twin)
        self._added += 1
        self._added_bytes += twin.nbytes()
        if self._added >= self.SWEEP_EVERY or self._added_bytes >= self.SWEEP_BYTES:
            self._added = self._added_bytes = 0
            for key in [k for k, (ref, _) in self._twins.items() if ref.expired()]:
                del self._twins[key]

    def _twin(self, storage: torch.UntypedStorage, create: bool = True) -> torch.UntypedStorage | None:
        entry = self._twins.get(storage._cdata)
        if entry is not None and not entry[0].expired():
            twin = entry[1]
        elif not create:
            return None
        else:
            # a meta tensor made outside the mode has no values: zeros stand in (torch.empty's are arbitrary)
            twin = torch.UntypedStorage(storage.nbytes())
            twin.fill_(0)
            self._adopt(storage, twin)
        if twin.nbytes() < storage.nbytes():  # the meta storage grew (resize_)
            twin.resize_(storage.nbytes())
        return twin

    def view(self, t: torch.Tensor, create: bool = True) -> torch.Tensor | None:
        """The CPU tensor holding meta tensor ``t``'s values (a view of its twin: writing it writes ``t``)."""
        twin = self._twin(t.untyped_storage(), create)
        if twin is None:
            return None
        with no_dispatch():
            return torch.empty(0, dtype=t.dtype).set_(twin, t.storage_offset(), t.size(), t.stride())

    def values(self, t) -> torch.Tensor | None:
        """``t``'s values when ``t`` is a meta tensor with a twin (what the wire sends), else None."""
        if not _is_meta(t) or t.layout != torch.strided:
            return None
        return self.view(t, create=False)

    def clear(self) -> None:
        """Forget every twin (the zygote, after its warm-up)."""
        self._twins.clear()

    # ------------------------------------------------------------------------------------- dispatch
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat = _leaves(args, kwargs)
        if not any(_is_meta(x) or _is_meta_device(x) for x in flat):
            return func(*args, **kwargs)
        if func is _LOCAL_SCALAR_DENSE:
            return func(self.view(args[0]))
        name = func.overloadpacket.__name__
        if any(_is_meta(x) for x in flat):
            _check_devices(name, flat, args)
        in_place: dict[int, torch.Tensor] = {}  # id of a CPU view -> the meta argument it stands for
        storages: dict[int, torch.UntypedStorage] = {}  # twin -> meta storage, for views of arguments
        cpu_storages = set()
        for x in flat:
            if isinstance(x, torch.Tensor) and x.layout == torch.strided and not _is_meta(x):
                cpu_storages.add(x.untyped_storage()._cdata)

        def to_cpu_view(x):
            if _is_meta(x):
                v = self.view(x)
                in_place[id(v)] = x
                storages[v.untyped_storage()._cdata] = x.untyped_storage()
                return v
            return CPU if _is_meta_device(x) else x
        out = func(*_map(args, to_cpu_view), **_map(kwargs, to_cpu_view))  # a real error (a shape, say) is raised here
        device = kwargs.get("device")
        to_cpu = device is not None and torch.device(device).type != "meta"  # .to("cpu"), zeros_like(x, device="cpu")

        def place(c):
            if not isinstance(c, torch.Tensor) or to_cpu or c.layout != torch.strided:
                return c
            if id(c) in in_place:
                return self._sync(in_place[id(c)], c, storages)
            key = c.untyped_storage()._cdata
            if key in cpu_storages and key not in storages:
                return c  # a CPU argument written in place (cpu_tensor.copy_(meta_tensor))
            meta_storage = self._meta_storage(c, storages)
            with no_dispatch():
                return torch.empty(0, dtype=c.dtype, device=META).set_(meta_storage, c.storage_offset(), c.size(),
                                                                         c.stride())
        return _map(out, place)

    def _meta_storage(self, c: torch.Tensor, storages: dict) -> torch.UntypedStorage:
        """The meta storage for CPU result ``c``: an argument's (a view), or a new one with ``c``'s as twin."""
        storage = c.untyped_storage()
        key = storage._cdata
        if key not in storages:
            storages[key] = torch.UntypedStorage(storage.nbytes(), device=META)
            self._adopt(storages[key], storage)
        elif storages[key].nbytes() < storage.nbytes():
            storages[key].resize_(storage.nbytes())
        return storages[key]

    def _sync(self, m: torch.Tensor, c: torch.Tensor, storages: dict) -> torch.Tensor:
        """Meta argument ``m`` after an operator changed its CPU view ``c`` in place (its values, and for
        ``t_()``, ``unsqueeze_()``, ``resize_()``, an ``out=`` argument, its shape)."""
        if (m.size(), m.stride(), m.storage_offset()) != (c.size(), c.stride(), c.storage_offset()) \
                or c.untyped_storage().nbytes() > m.untyped_storage().nbytes():
            meta_storage = self._meta_storage(c, storages)
            with no_dispatch():
                m.set_(meta_storage, c.storage_offset(), c.size(), c.stride())
        return m


class MetaFunctions(TorchFunctionMode):
    """What the dispatch mode cannot see, at the level of torch's Python functions.

    * ``torch.tensor(data, device="meta")`` and its kin build an empty meta tensor without dispatching
      any operator (nothing to give values to): they are built on the CPU, then moved (a dispatched copy).
    * ``p.data = x`` between the CPU and meta: PyTorch lets the data of a CPU tensor move to CUDA this
      way (``net.to(device)`` does it for every parameter, keeping the ``nn.Parameter`` objects an
      optimizer holds) but refuses meta, whose tensors it does not count as "dense".  Here the two
      devices are compatible as CPU and CUDA are, and the assignment swaps the tensor's content for
      a view of ``x`` (``torch.utils.swap_tensors``): the same object, its attributes and
      ``requires_grad`` kept, its gradient moved along.
    """

    DEVICE_POSITION = {torch.tensor: None, torch.as_tensor: 2, torch.asarray: None, torch.Tensor.new_tensor: None}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.DEVICE_POSITION:
            return self._construct(func, list(args), kwargs)
        if func is torch._has_compatible_shallow_copy_type and len(args) == 2 and _across(*args):
            return True
        if func == _DATA_SETTER and len(args) == 2 and _across(*args):
            return _set_data(*args)
        return func(*args, **kwargs)

    def _construct(self, func, args: list, kwargs: dict):
        position = self.DEVICE_POSITION[func]
        if "device" in kwargs:
            device = kwargs["device"]
        elif position is not None and len(args) > position:
            device = args[position]
        elif func is torch.Tensor.new_tensor and args and _is_meta(args[0]):
            device = META
        else:
            device = None
        if device is None or torch.device(device).type != "meta":
            return func(*args, **kwargs)
        if position is not None and len(args) > position:
            args[position] = CPU
        else:
            kwargs["device"] = CPU
        requires_grad = bool(kwargs.pop("requires_grad", False))
        out = func(*args, **kwargs).to(META)
        return out.requires_grad_(True) if requires_grad else out


_DATA_SETTER = torch.Tensor.data.__set__


def _across(a, b) -> bool:
    """Whether ``a`` and ``b`` are a CPU tensor and a meta tensor (either way round)."""
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.layout == b.layout == torch.strided
            and {a.device.type, b.device.type} == {"cpu", "meta"})


def _set_data(t: torch.Tensor, new: torch.Tensor) -> None:
    """``t.data = new`` across the CPU and meta (see :class:`MetaFunctions`)."""
    grad = t.grad
    if grad is not None:
        t.grad = None  # the gradient goes with the content; holding it would block the swap
    with torch.no_grad():
        view = new.detach()
        if type(t) is torch.Tensor:
            replacement = view.requires_grad_(t.requires_grad)
        else:
            replacement = torch.Tensor._make_subclass(type(t), view, t.requires_grad)
        torch.utils.swap_tensors(t, replacement)
        t.__dict__, replacement.__dict__ = replacement.__dict__, t.__dict__  # t keeps its own attributes
        if grad is not None:
            t.grad = grad.to(t.device)


STATE = MetaValues()
"""The child's one table of twins (a child grades one submission; its meta tensors outlive requests)."""


@contextlib.contextmanager
def _meta_with_values():
    with MetaFunctions(), STATE:
        yield


def active(device, wanted: bool = False) -> contextlib.AbstractContextManager:
    """The modes for a request on ``device`` (or ``wanted`` by the grader for a request whose inputs stay on
    the CPU): the meta device with values for ``meta``, nothing otherwise."""
    if wanted or str(device).split(":")[0] == "meta":
        return _meta_with_values()
    return contextlib.nullcontext()


def values(t) -> torch.Tensor | None:
    """The values of meta tensor ``t`` (a CPU tensor), or None when it has none (made outside the mode)."""
    return STATE.values(t)
