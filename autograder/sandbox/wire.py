"""The wire format between the grader and the sandboxed child.

Only plain data crosses the trust boundary: ``None``, booleans, integers, floats, strings, lists,
tuples, dicts and tensors (dtype + shape + raw bytes).  Objects that must stay in the child (an
``nn.Module``, say) cross as opaque :class:`Handle` numbers.  Nothing is ever pickled: the grader
decodes what the child sends with ``json`` and ``torch.frombuffer`` after checking every size, so
a hostile child can make decoding fail (a clear :class:`WireError`) but never run code.

A message is ``[8-byte header length][JSON header][blob 0][blob 1]...``; tensors in the header
refer to blobs by index.

Tensors on the ``meta`` device (the grader's stand-in for a second device, see
:mod:`autograder.sandbox.meta_values`) cross with their values when the sender has them (``values``
of :func:`encode`: the child's twins), and are then received like a CUDA tensor: a CPU tensor that
remembers where it lived.  A meta tensor without values crosses as dtype, shape and device only
(``"data": false``, no blob) and is received as a meta tensor, which no value check can read; its
shape is held to the same limits as one with data.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import torch

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_NDIM = 8
MAX_DEPTH = 32
MAX_SAME_HASH = 32

# dtype name -> torch dtype.  Anything else is refused on decode.
DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "int8": torch.int8, "uint8": torch.uint8, "int16": torch.int16,
    "int32": torch.int32, "int64": torch.int64, "bool": torch.bool,
    "complex64": torch.complex64, "complex128": torch.complex128,
}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
_LEN = struct.Struct("<Q")


class WireError(ValueError):
    """Raised when a message cannot be encoded or is malformed, too large or too deep."""


@dataclass(frozen=True)
class Handle:
    """An opaque reference to an object that lives in the child (for example an ``nn.Module``)."""

    id: int
    type_name: str = ""


@dataclass(frozen=True)
class Code:
    """Source of a small trusted function the grader sends (``lambda x: (x ** 3).sum()``).

    Only the child turns it into a callable (for exercises such as ``numerical_grad(f, x)``);
    the grader never evaluates a ``Code`` it receives.
    """

    src: str


def origin_device(t: torch.Tensor) -> str:
    """The device a tensor received from the child lived on there (``"cpu"`` if unknown)."""
    return getattr(t, "_d2l_device", str(t.device))


def encode(obj, values=None) -> bytes:
    """Serialise plain data (see module docstring) into one message.

    ``values(t)``, when given, returns the values of a ``meta`` tensor ``t`` as a CPU tensor (or None
    when it has none): they are sent with it."""
    blobs: list[bytes] = []
    header = _to_json(obj, blobs, 0, values)
    head = json.dumps(header, allow_nan=False).encode()
    return b"".join([_LEN.pack(len(head)), head, *blobs])


def decode(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES):
    """Parse one message produced by :func:`encode`, validating every size before allocating."""
    if len(data) > max_bytes:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    if len(data) < _LEN.size:
        raise WireError("truncated message")
    (head_len,) = _LEN.unpack_from(data)
    if head_len > min(MAX_HEADER_BYTES, len(data) - _LEN.size):
        raise WireError("header length out of range")
    try:
        header = json.loads(data[_LEN.size:_LEN.size + head_len])
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable header: {type(exc).__name__}") from None
    blobs = _split_blobs(header, memoryview(data)[_LEN.size + head_len:])
    return _from_json(header, blobs, 0)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    # clone: contiguous() keeps odd strides on size-1 dimensions, which view(uint8) refuses
    t = t.detach().to("cpu").clone(memory_format=torch.contiguous_format).reshape(-1)
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.view(torch.uint8).numpy().tobytes()


def _to_json(obj, blobs, depth, values=None):
    if depth > MAX_DEPTH:
        raise WireError("data nested too deeply")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj if abs(obj) < 2**63 else {"__t__": "bigint", "v": str(obj)}
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__t__": "float", "v": repr(obj)}
    if isinstance(obj, torch.Tensor):
        if obj.dtype not in _DTYPE_NAMES:
            raise WireError(f"tensors of dtype {obj.dtype} cannot be sent")
        if obj.is_sparse or obj.layout != torch.strided:
            obj = obj.to_dense()
        node = {"__t__": "tensor", "dtype": _DTYPE_NAMES[obj.dtype], "shape": list(obj.shape),
                "device": str(obj.device)}
        data = obj
        if obj.device.type == "meta":
            data = values(obj) if values is not None else None
        if data is None:
            node["data"] = False  # a meta tensor without values: dtype, shape and device only
        else:
            blobs.append(_tensor_bytes(data))
            node["blob"] = len(blobs) - 1
        if obj.requires_grad:
            node["requires_grad"] = True
            if obj.is_leaf and obj.grad is not None:
                node["grad"] = _to_json(obj.grad, blobs, depth + 1, values)
        return node
    if isinstance(obj, Handle):
        return {"__t__": "handle", "id": int(obj.id), "type": str(obj.type_name)}
    if isinstance(obj, Code):
        return {"__t__": "code", "src": str(obj.src)}
    if isinstance(obj, (list, tuple)):
        items = [_to_json(x, blobs, depth + 1, values) for x in obj]
        return items if isinstance(obj, list) else {"__t__": "tuple", "items": items}
    if isinstance(obj, dict):
        return {"__t__": "dict", "items": [[_to_json(k, blobs, depth + 1, values),
                                            _to_json(v, blobs, depth + 1, values)] for k, v in obj.items()]}
    raise WireError(f"an object of type {type(obj).__name__} cannot be sent")


def _split_blobs(header, rest: memoryview) -> list[memoryview]:
    """Cut the blob area into per-tensor pieces using the sizes the header implies."""
    sizes: dict[int, int] = {}
    _collect_tensor_sizes(header, sizes, 0)
    blobs, offset = [], 0
    for index in range(len(sizes)):
        if index not in sizes:
            raise WireError("tensor blobs are not numbered 0..n-1")
        size = sizes[index]
        if offset + size > len(rest):
            raise WireError("tensor data shorter than its shape and dtype say")
        blobs.append(rest[offset:offset + size])
        offset += size
    if offset != len(rest):
        raise WireError("extra bytes after the last tensor")
    return blobs


def _collect_tensor_sizes(node, sizes, depth):
    if depth > MAX_DEPTH + 2:
        raise WireError("data nested too deeply")
    if isinstance(node, list):
        for x in node:
            _collect_tensor_sizes(x, sizes, depth + 1)
    elif isinstance(node, dict):
        if node.get("__t__") == "tensor":
            dtype = DTYPES.get(node.get("dtype"))
            shape, blob = node.get("shape"), node.get("blob")
            if dtype is None:
                raise WireError(f"unknown dtype {node.get('dtype')!r}")
            if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                    or not all(type(s) is int and 0 <= s < 2**40 for s in shape)):
                raise WireError("bad tensor shape")
            itemsize = 1 if dtype == torch.bool else torch.empty((), dtype=dtype).element_size()
            if node.get("data", True) is False:
                # no values: only a meta tensor, never larger than one that carries its data could be
                if node.get("device") != "meta" or "blob" in node:
                    raise WireError("only a meta tensor may come without data")
                if math.prod(shape) * itemsize > MAX_MESSAGE_BYTES:
                    raise WireError("meta tensor too large")
            else:
                if type(blob) is not int or blob in sizes:
                    raise WireError("bad tensor blob index")
                sizes[blob] = math.prod(shape) * itemsize
            if node.get("grad") is not None:
                if not (isinstance(node["grad"], dict) and node["grad"].get("__t__") == "tensor"):
                    raise WireError("a tensor's grad must be a tensor")
                _collect_tensor_sizes(node["grad"], sizes, depth + 1)
        else:
            for v in node.values():
                _collect_tensor_sizes(v, sizes, depth + 1)


def _clean_text(text: str) -> str:
    """``text`` with lone surrogates (which JSON allows and UTF-8 cannot hold) replaced by U+FFFD:
    one of them in a message made writing the student's notebook fail."""
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _from_json(node, blobs, depth):
    if depth > MAX_DEPTH + 2:
        raise WireError("data nested too deeply")
    if isinstance(node, str):
        return _clean_text(node)
    if node is None or isinstance(node, (bool, int, float)):
        return node
    if isinstance(node, list):
        return [_from_json(x, blobs, depth + 1) for x in node]
    if not isinstance(node, dict):
        raise WireError("malformed message")
    kind = node.get("__t__")
    if kind == "tensor":
        return _tensor_from(node, blobs)
    if kind == "tuple":
        return tuple(_from_json(x, blobs, depth + 1) for x in _expect_list(node.get("items")))
    if kind == "dict":
        out = {}
        hashes: dict[int, int] = {}  # keys by hash value: distinct ints, so no collisions here
        for pair in _expect_list(node.get("items")):
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed dict entry")
            key = _from_json(pair[0], blobs, depth + 1)
            try:
                h = hash(key)
            except TypeError:
                raise WireError("unhashable dict key") from None
            # Keys chosen to share one hash (i * (2**61 - 1) all hash to 0) make every insertion
            # probe all the others: quadratic time in the grader.
            hashes[h] = hashes.get(h, 0) + 1
            if hashes[h] > MAX_SAME_HASH:
                raise WireError("too many dict keys share one hash value")
            out[key] = _from_json(pair[1], blobs, depth + 1)
        return out
    if kind == "float":
        if node.get("v") not in ("nan", "inf", "-inf"):
            raise WireError("malformed float")
        return float(node["v"])
    if kind == "bigint":
        value = node.get("v")
        if not isinstance(value, str) or len(value) > 400:
            raise WireError("malformed integer")
        return int(value)
    if kind == "code":
        if not isinstance(node.get("src"), str) or len(node["src"]) > 10_000:
            raise WireError("malformed code")
        return Code(node["src"])
    if kind == "handle":
        if type(node.get("id")) is not int or not isinstance(node.get("type", ""), str):
            raise WireError("malformed handle")
        return Handle(node["id"], node.get("type", "")[:200])
    raise WireError(f"unknown value kind {kind!r}")


def _expect_list(value):
    if not isinstance(value, list):
        raise WireError("malformed message")
    return value


def _tensor_from(node, blobs) -> torch.Tensor:
    dtype = DTYPES[node["dtype"]]
    shape = node["shape"]
    raw = None if node.get("data", True) is False else blobs[node["blob"]]
    if raw is None:  # checked in _collect_tensor_sizes: a meta tensor, capped
        t = torch.empty(shape, dtype=dtype, device="meta")
    elif len(raw) == 0:
        t = torch.empty(shape, dtype=dtype)
    elif dtype == torch.bool:
        t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.bool).reshape(shape)
    else:
        t = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
    device = node.get("device", "cpu")
    t._d2l_device = device if isinstance(device, str) and len(device) < 40 else "?"
    # Requests from the grader may ask for a leaf that requires grad, with a gradient already set
    # (sgd); the child applies these after moving the tensor to its device.
    if node.get("requires_grad") is True:
        t._d2l_requires_grad = True
        if node.get("grad") is not None:
            t._d2l_grad = _tensor_from(node["grad"], blobs)
    return t
