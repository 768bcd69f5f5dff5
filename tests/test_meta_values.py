"""The meta device with values (autograder/sandbox/meta_values.py): the same values as the CPU, the
device errors a GPU gives, and the wire carrying meta tensors (with values, or without: shape, dtype
and device only, within the same limits)."""

import json
import random

import pytest
import torch

from autograder.sandbox import meta_values, wire
from autograder.sandbox.meta_values import STATE

values = meta_values.values


def _on(device, fn, *args, seed=0):
    """``fn`` called on ``device`` (tensor arguments moved there first), as the child does; results
    with their values on the CPU and the devices they lived on."""
    torch.manual_seed(seed)
    random.seed(seed)
    with meta_values.active(device):
        out = fn(*[a.to(device) if isinstance(a, torch.Tensor) else a for a in args])

    def plain(o):
        if isinstance(o, torch.Tensor):
            v = values(o) if o.device.type == "meta" else o
            return (o.device.type, v.detach().clone())
        if isinstance(o, (list, tuple)):
            return [plain(x) for x in o]
        return o
    return plain(out)


def _train(X, y, device_of_w=None):
    """A small training loop in the book's style: values read with .item(), data-dependent sizes."""
    q = int(y.max()) + 1
    device = X.device if device_of_w is None else device_of_w
    W = torch.normal(0, 0.1, (X.shape[1], q), device=device, requires_grad=True)
    b = torch.zeros(q, device=device, requires_grad=True)
    losses = []
    for _ in range(3):
        for idx in torch.randperm(len(X), device=X.device).split(4):
            loss = torch.nn.functional.cross_entropy(X[idx] @ W + b, y[idx])
            loss.backward()
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in (W, b)))
            if norm > 1.0:
                for p in (W, b):
                    p.grad *= 1.0 / norm
            with torch.no_grad():
                for p in (W, b):
                    p -= 0.5 * p.grad
                    p.grad.zero_()
            losses.append(loss.item())
    mask = (X @ W).argmax(1) == y
    return W, b, float(sum(losses) / len(losses)), X[mask], torch.tensor([len(losses)], device=X.device)


def test_meta_computes_what_the_cpu_computes():
    X, y = torch.randn(10, 3), torch.arange(10) % 4
    on_cpu, on_meta = _on("cpu", _train, X, y), _on("meta", _train, X, y)
    assert len(on_cpu) == len(on_meta) == 5
    for c, m in zip(on_cpu, on_meta):
        if isinstance(c, tuple):  # a tensor: (device, values)
            assert (c[0], m[0]) == ("cpu", "meta") and torch.equal(c[1], m[1])
        else:
            assert c == m


def test_tensors_left_on_the_cpu_meet_the_error_a_gpu_gives():
    X, y = torch.randn(10, 3), torch.arange(10) % 4
    with pytest.raises(RuntimeError, match="two devices, meta and cpu"):
        _on("meta", _train, X, y, torch.device("cpu"))
    with meta_values.active("meta"):
        m = torch.ones(2, 3, device="meta")
        for mixed in (lambda: m @ torch.ones(3, 2), lambda: m + torch.ones(2, 3), lambda: torch.cat([m, torch.ones(1, 3)]),
                      lambda: torch.ones(3)[torch.tensor([0], device="meta")]):
            with pytest.raises(RuntimeError, match="two devices"):
                mixed()
        # allowed, as with CUDA: CPU scalars, CPU indices, copies between devices
        assert values(m * torch.tensor(2.0)).tolist() == [[2.0] * 3] * 2
        assert values(m[torch.tensor([1])]).shape == (1, 3)
        assert torch.equal(m.cpu(), torch.ones(2, 3)) and m.sum().item() == 6.0 and m.tolist()[0] == [1.0] * 3
        target = torch.zeros(2, 3)
        target.copy_(m)
        assert target.sum() == 6 and target.device.type == "cpu"
        with pytest.raises(TypeError):
            m.numpy()  # as on CUDA: .cpu() first


def test_views_in_place_updates_and_modules_share_values():
    with meta_values.active("meta"):
        a = torch.arange(6.0, device="meta").reshape(2, 3)
        row = a[1]
        row.mul_(10)
        a.data[0, 0] = -1.0
        assert values(a).tolist() == [[-1.0, 1.0, 2.0], [30.0, 40.0, 50.0]]
        t = torch.zeros(2, 3, device="meta")
        t.t_()
        assert t.shape == (3, 2) and values(t).shape == (3, 2)
        net = torch.nn.Linear(3, 2)
        weight = net.weight.detach().clone()
        net.to("meta")
        assert net.weight.device.type == "meta" and torch.equal(values(net.weight), weight)
        p = torch.nn.Parameter(torch.tensor([1.0, 2.0], device="meta"))
        p.data -= 1
        assert values(p).tolist() == [0.0, 1.0]
        assert torch.nonzero(a > 10).device.type == "meta" and values(torch.nonzero(a > 10)).shape == (3, 2)
    out = net(torch.ones(1, 3, device="meta"))  # outside the mode: a module on meta keeps its twins,
    assert out.device.type == "meta" and values(out) is None  # but a result made without the mode has no values


def test_twins_are_dropped_with_their_tensors():
    with meta_values.active("meta"):
        for _ in range(3 * STATE.SWEEP_EVERY):
            torch.ones(4, device="meta").add(1)
        assert len(STATE._twins) < 2 * STATE.SWEEP_EVERY


def test_the_wire_carries_meta_tensors_with_their_values():
    with meta_values.active("meta"):
        m = torch.arange(4.0, device="meta").reshape(2, 2)
    got = wire.decode(wire.encode({"m": m}, values=values))["m"]
    assert wire.origin_device(got) == "meta" and got.device.type == "cpu" and got.tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_a_meta_tensor_without_values_crosses_as_shape_dtype_and_device():
    empty = torch.empty(3, 5, dtype=torch.float64, device="meta")
    got = wire.decode(wire.encode([empty]))[0]
    assert got.device.type == "meta" and got.shape == (3, 5) and got.dtype == torch.float64
    assert wire.origin_device(got) == "meta"
    with pytest.raises(RuntimeError):
        got.sum().item()  # no value check can read it


def _message(header) -> bytes:
    head = json.dumps(header).encode()
    return len(head).to_bytes(8, "little") + head


@pytest.mark.parametrize("node, error", [
    ({"__t__": "tensor", "dtype": "float32", "shape": [2], "device": "cpu", "data": False}, "only a meta tensor"),
    ({"__t__": "tensor", "dtype": "float32", "shape": [2], "device": "meta", "data": False, "blob": 0},
     "only a meta tensor"),
    ({"__t__": "tensor", "dtype": "float64", "shape": [2 ** 20] * 3, "device": "meta", "data": False}, "too large"),
    ({"__t__": "tensor", "dtype": "float32", "shape": [-1], "device": "meta", "data": False}, "bad tensor shape"),
    ({"__t__": "tensor", "dtype": "object", "shape": [1], "device": "meta", "data": False}, "unknown dtype"),
])
def test_meta_tensors_from_a_child_are_checked_like_any_other(node, error):
    with pytest.raises(wire.WireError, match=error):
        wire.decode(_message(node))


def test_moving_a_module_keeps_its_parameters_as_with_cuda():
    """net.to(device) keeps the nn.Parameter objects (an optimizer made before still holds them), and
    p.data = p.data.to(device) moves a parameter in place: PyTorch allows both for CUDA, not for meta."""
    with meta_values.active("meta"):
        net = torch.nn.Sequential(torch.nn.Linear(2, 2))
        weight = net[0].weight
        weight.note = "kept"
        trainer = torch.optim.SGD(net.parameters(), lr=0.1)
        net(torch.ones(1, 2)).sum().backward()
        net.to("meta")
        assert net[0].weight is weight and weight.device.type == "meta" and weight.note == "kept"
        assert weight.grad.device.type == "meta" and values(weight.grad).tolist() == [[1.0, 1.0]] * 2
        before = values(weight).clone()
        trainer.step()
        assert torch.allclose(values(weight), before - 0.1)
        p = torch.nn.Parameter(torch.arange(3.0))
        p.data = p.data.to("meta")
        assert type(p) is torch.nn.Parameter and p.is_leaf and p.requires_grad and values(p).tolist() == [0, 1, 2]
        net.cpu()
        assert net[0].weight is weight and weight.device.type == "cpu" and torch.equal(weight.detach(), before - 0.1)


def test_large_dead_twins_do_not_pile_up():
    with meta_values.active("meta"):
        big = torch.zeros(1024, 1024, device="meta")  # 4 MiB
        for _ in range(64):
            big = big + 1  # 256 MiB made, 4 MiB alive
        assert sum(twin.nbytes() for _, twin in STATE._twins.values()) <= 2 * STATE.SWEEP_BYTES
        assert values(big)[0, 0] == 64
