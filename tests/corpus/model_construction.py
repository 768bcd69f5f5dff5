"""Corpus for model_construction: correct-but-unusual answers (full marks) and typical mistakes
(must lose points on their exercise, with a message naming the mistake).  See tests/test_corpus.py."""

CORRECT = {
    "MLP": {
        "sequential_inside": '''class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, X):
        return self.layers(X)
''',
        "functional_relu_clamp": '''class MLP(nn.Module):
    def __init__(self):
        super(MLP, self).__init__()
        self.hidden = nn.Linear(in_features=20, out_features=256)
        self.out = nn.Linear(in_features=256, out_features=10)

    def forward(self, X):
        H = self.hidden(X).clamp(min=0)
        return self.out(H)
''',
    },
    "MySequential": {
        "module_list": '''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        self.blocks = nn.ModuleList(args)

    def forward(self, X):
        for block in self.blocks:
            X = block(X)
        return X
''',
        "book_modules_dict": '''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self._modules[str(idx)] = module

    def forward(self, X):
        out = X
        for name in sorted(self._modules, key=int):
            out = self._modules[name](out)
        return out
''',
    },
    "StackedLinear": {
        "append_and_slice": '''class StackedLinear(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(len(sizes) - 1):
            self.layers.append(nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, X):
        for layer in self.layers[:-1]:
            X = torch.relu(layer(X))
        return self.layers[-1](X)
''',
        "reduce": '''import functools

class StackedLinear(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, X):
        out = functools.reduce(lambda h, layer: F.relu(layer(h)), self.layers[:-1], X)
        return self.layers[-1](out)
''',
    },
    "MultiHead": {
        "update_loop": '''class MultiHead(nn.Module):
    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.heads = nn.ModuleDict()
        for name in head_sizes:
            self.heads[name] = nn.Linear(in_features, head_sizes[name])

    def forward(self, X, head):
        return self.heads[head](X)
''',
        "getattr_heads": '''class MultiHead(nn.Module):
    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.names = list(head_sizes)
        for name, n in head_sizes.items():
            self.add_module("head_" + name, nn.Linear(in_features, n))

    def forward(self, X, head):
        layer = getattr(self, "head_" + head)
        return X @ layer.weight.T + layer.bias
''',
    },
    "FixedHiddenMLP": {
        "frozen_parameter": '''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = nn.Parameter(torch.rand(20, 20), requires_grad=False)
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.norm(p=1) > 1:
            X = X / 2
        return X.sum()
''',
        "linear_first_buffer_after": '''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand((20, 20), requires_grad=False))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        hidden = torch.relu(torch.matmul(self.linear(X), self.rand_weight) + 1.0)
        out = self.linear(hidden)
        halvings = 0
        while out.abs().sum() / 2 ** halvings > 1:
            halvings += 1
        return (out / 2 ** halvings).sum()
''',
    },
    "CenteredLayer": {
        "keepdim_mean_over_all": '''class CenteredLayer(nn.Module):
    def forward(self, X):
        return X - X.mean(dim=tuple(range(X.dim())), keepdim=True)
''',
        "sum_over_numel": '''class CenteredLayer(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def forward(self, X):
        return X - X.sum() / X.numel()
''',
    },
    "MyLinear": {
        "mm_and_clamp": '''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))

    def forward(self, X):
        return torch.clamp(X @ self.weight + self.bias, min=0)
''',
        "register_parameter_addmm": '''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.register_parameter("weight", nn.Parameter(torch.randn((in_units, units))))
        self.register_parameter("bias", nn.Parameter(torch.randn(units)))

    def forward(self, X):
        return F.relu(torch.addmm(self.bias, X, self.weight))
''',
    },
    "count_parameters": {
        "named_parameters": '''def count_parameters(net):
    total = 0
    for _name, param in net.named_parameters():
        total += param.numel()
    return total
''',
        "unique_by_id": '''import math

def count_parameters(net):
    seen = {}
    for module in net.modules():
        for p in module.parameters(recurse=False):
            seen[id(p)] = p
    return int(sum(math.prod(p.shape) for p in seen.values()))
''',
    },
    "init_normal": {
        "no_grad_methods": '''def init_normal(module):
    if type(module) == nn.Linear:
        with torch.no_grad():
            module.weight.normal_(0.0, 0.01)
            module.bias.zero_()
''',
        "constant_zero": '''def init_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.01)
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)
''',
    },
    "init_xavier": {
        "by_hand": '''import math

def init_xavier(module):
    if isinstance(module, nn.Linear):
        fan_out, fan_in = module.weight.shape
        a = math.sqrt(6.0 / (fan_in + fan_out))
        with torch.no_grad():
            module.weight.uniform_(-a, a)
            module.bias.fill_(0.0)
''',
        "gain_one": '''def init_xavier(module):
    if type(module) is nn.Linear:
        nn.init.xavier_uniform_(module.weight, gain=1.0)
        nn.init.zeros_(module.bias)
''',
    },
    "shared_mlp": {
        "list_then_sequential": '''def shared_mlp():
    shared = nn.Linear(8, 8)
    layers = [nn.Linear(4, 8), nn.ReLU()]
    for _ in range(2):
        layers += [shared, nn.ReLU()]
    layers.append(nn.Linear(8, 1))
    return nn.Sequential(*layers)
''',
        "shared_parameters": '''def shared_mlp():
    first, second = nn.Linear(8, 8), nn.Linear(8, 8)
    second.weight = first.weight
    second.bias = first.bias
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), first, nn.ReLU(), second, nn.ReLU(), nn.Linear(8, 1))
''',
    },
    "save_params": {
        "file_object": '''def save_params(net, path):
    with open(path, "wb") as f:
        torch.save(net.state_dict(), f)
''',
        "cloned_dict": '''def save_params(net, path):
    state = {name: tensor.detach().clone() for name, tensor in net.state_dict().items()}
    torch.save(state, path)
''',
    },
    "load_params": {
        "two_steps_strict": '''def load_params(make_net, path):
    state = torch.load(path, map_location="cpu")
    model = make_net()
    model.load_state_dict(state, strict=True)
    return model
''',
        "explicit_weights_only": '''def load_params(make_net, path):
    net = make_net()
    with open(path, "rb") as f:
        net.load_state_dict(torch.load(f, weights_only=True))
    return net.eval()
''',
    },
    "to_device": {
        "torch_device": '''def to_device(net, X, device):
    device = torch.device(device)
    net = net.to(device=device)
    X = X.to(device=device)
    return net(X)
''',
        "parameters_loop": '''def to_device(net, X, device):
    net.to(device)
    with torch.no_grad():
        pass
    return net.forward(X.to(device))
''',
    },
}

WRONG = {
    "MLP": {
        "no_relu": ('''class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(self.hidden(X))
''', ["without the ReLU"]),
        "plain_list": ('''class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10)]

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
''', ["no parameters", "plain Python list"]),
        "swapped_sizes": ('''class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(256, 20)
        self.out = nn.Linear(10, 256)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))
''', ["(d_out, d_in)"]),
        "detached_hidden": ('''class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        H = F.relu(self.hidden(X)).detach()
        return self.out(H)
''', ["no gradient reached", "hidden.weight"]),
    },
    "MySequential": {
        "plain_list": ('''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        self.layers = list(args)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
''', ["has no parameters", "plain Python list"]),
        "loops_over_children": ('''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)

    def forward(self, X):
        for block in self.children():  # lists a module given twice only once
            X = block(X)
        return X
''', ["test_module_given_twice", "lin ran only once"]),
        "reversed_order": ('''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self._modules[str(idx)] = module

    def forward(self, X):
        for block in reversed(list(self._modules.values())):
            X = block(X)
        return X
''', ["reverse order"]),
        "keyed_by_class_name": ('''class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for module in args:
            self._modules[type(module).__name__] = module

    def forward(self, X):
        for block in self._modules.values():
            X = block(X)
        return X
''', ["class name"]),
        "wraps_sequential": ('''class MySequential(nn.Sequential):
    def __init__(self, *args):
        super().__init__(*args)

    def forward(self, X):
        return super().forward(X)
''', ["nn.Sequential", "yourself"]),
    },
    "StackedLinear": {
        "plain_list": ('''class StackedLinear(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, X):
        for i, layer in enumerate(self.layers):
            X = layer(X)
            if i < len(self.layers) - 1:
                X = F.relu(X)
        return X
''', ["nn.ModuleList, not a plain list"]),
        "relu_after_last": ('''class StackedLinear(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, X):
        for layer in self.layers:
            X = F.relu(layer(X))
        return X
''', ["after the last layer"]),
        "no_relu": ('''class StackedLinear(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
''', ["without any ReLU"]),
    },
    "MultiHead": {
        "plain_dict": ('''class MultiHead(nn.Module):
    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.heads = {name: nn.Linear(in_features, n) for name, n in head_sizes.items()}

    def forward(self, X, head):
        return self.heads[head](X)
''', ["nn.ModuleDict, not a plain dict"]),
        "first_head_always": ('''class MultiHead(nn.Module):
    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.heads = nn.ModuleDict({name: nn.Linear(in_features, n) for name, n in head_sizes.items()})

    def forward(self, X, head):
        return list(self.heads.values())[0](X)
''', ["shape of head 'age'", "by its name"]),
        "sorted_heads": ('''class MultiHead(nn.Module):
    def __init__(self, in_features, head_sizes):
        super().__init__()
        self.heads = nn.ModuleDict({name: nn.Linear(in_features, head_sizes[name]) for name in sorted(head_sizes)})

    def forward(self, X, head):
        return self.heads[head](X)
''', ["in another order"]),
    },
    "FixedHiddenMLP": {
        "book_plain_attribute": ('''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = torch.rand((20, 20), requires_grad=False)
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(torch.mm(X, self.rand_weight) + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()
''', ["register_buffer", "GPU"]),
        "trainable_constant": ('''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = nn.Parameter(torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()
''', ["rand_weight is trainable"]),
        "l2_norm_loop": ('''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.norm() > 1:
            X /= 2
        return X.sum()
''', ["L2 norm"]),
        "if_not_while": ('''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        if X.abs().sum() > 1:
            X /= 2
        return X.sum()
''', ["at most once"]),
        "second_linear": ('''class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)
        self.linear2 = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear2(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()
''', ["ONE nn.Linear(20, 20)"]),
    },
    "CenteredLayer": {
        "column_mean": ('''class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean(dim=0)
''', ["each column"]),
        "item_mean": ('''class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean().item()
''', ["cotangent itself", ".item()"]),
        "learned_offset": ('''class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, X):
        return X - X.mean() + self.offset
''', ["has parameters", "offset"]),
        "row_mean": ('''class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean(dim=-1, keepdim=True)
''', ["each row"]),
    },
    "MyLinear": {
        "book_data_trap": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))

    def forward(self, X):
        linear = torch.matmul(X, self.weight.data) + self.bias.data
        return F.relu(linear)
''', ["no gradient reached MyLinear.weight", ".data"]),
        "plain_tensors": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = torch.randn(in_units, units, requires_grad=True)
        self.bias = torch.randn(units, requires_grad=True)

    def forward(self, X):
        return F.relu(X @ self.weight + self.bias)
''', ["has no parameters", "nn.Parameter"]),
        "nn_linear_inside": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.linear = nn.Linear(in_units, units)

    def forward(self, X):
        return F.relu(self.linear(X))
''', ["nn.Linear"]),
        "transposed_weight": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(units, in_units))
        self.bias = nn.Parameter(torch.randn(units))

    def forward(self, X):
        return F.relu(X @ self.weight.T + self.bias)
''', ["(in_units, units)"]),
        "uniform_rand": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(in_units, units))
        self.bias = nn.Parameter(torch.rand(units))

    def forward(self, X):
        return F.relu(X @ self.weight + self.bias)
''', ["test_drawn_from_randn", "torch.rand"]),
        "no_relu": ('''class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units))

    def forward(self, X):
        return X @ self.weight + self.bias
''', ["without the ReLU"]),
    },
    "count_parameters": {
        "tensor_count": ('''def count_parameters(net):
    return len(list(net.parameters()))
''', ["parameter TENSORS"]),
        "state_dict": ('''def count_parameters(net):
    return sum(v.numel() for v in net.state_dict().values())
''', ["buffers"]),
        "modules_double_count": ('''def count_parameters(net):
    return sum(p.numel() for m in net.modules() for p in m.parameters())
''', ["once per enclosing module"]),
        "trainable_only": ('''def count_parameters(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
''', ["frozen"]),
        "crashes_without_parameters": ('''from functools import reduce

def count_parameters(net):
    return reduce(lambda a, b: a + b, [p.numel() for p in net.parameters()])
''', ["test_no_parameters", "return 0"]),
        "tensor_result": ('''def count_parameters(net):
    return sum(torch.tensor(p.numel()) for p in net.parameters())
''', ["Python int"]),
    },
    "init_normal": {
        "no_type_check": ('''def init_normal(module):
    nn.init.normal_(module.weight, mean=0, std=0.01)
    nn.init.zeros_(module.bias)
''', ["'ReLU' object has no attribute 'weight'"]),
        "hasattr_weight": ('''def init_normal(module):
    if hasattr(module, "weight"):
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)
''', ["LayerNorm", "isinstance"]),
        "std_one": ('''def init_normal(module):
    if type(module) == nn.Linear:
        nn.init.normal_(module.weight)
        nn.init.zeros_(module.bias)
''', ["standard normal"]),
        "bias_untouched": ('''def init_normal(module):
    if type(module) == nn.Linear:
        nn.init.normal_(module.weight, mean=0, std=0.01)
''', ["bias", "not zero"]),
        "variance_not_std": ('''def init_normal(module):
    if type(module) == nn.Linear:
        nn.init.normal_(module.weight, mean=0, std=0.01 ** 0.5)
        nn.init.zeros_(module.bias)
''', ["square root"]),
        "new_parameters": ('''def init_normal(module):
    if type(module) == nn.Linear:
        module.weight = nn.Parameter(torch.randn_like(module.weight) * 0.01)
        module.bias = nn.Parameter(torch.zeros_like(module.bias))
''', ["new object", "in place"]),
    },
    "init_xavier": {
        "xavier_normal": ('''def init_xavier(module):
    if type(module) == nn.Linear:
        nn.init.xavier_normal_(module.weight)
        nn.init.zeros_(module.bias)
''', ["xavier_normal_"]),
        "fan_in_only": ('''import math

def init_xavier(module):
    if type(module) == nn.Linear:
        a = math.sqrt(6.0 / module.in_features)
        nn.init.uniform_(module.weight, -a, a)
        nn.init.zeros_(module.bias)
''', ["one fan only"]),
        "book_bias_untouched": ('''def init_xavier(module):
    if type(module) == nn.Linear:
        nn.init.xavier_uniform_(module.weight)
''', ["bias", "not zero"]),
        "hasattr_weight": ('''def init_xavier(module):
    if hasattr(module, "weight") and module.weight.dim() == 2:
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)
    elif hasattr(module, "weight"):
        nn.init.uniform_(module.weight)
        nn.init.zeros_(module.bias)
''', ["LayerNorm"]),
    },
    "shared_mlp": {
        "two_layers": ('''def shared_mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
''', ["two different layers"]),
        "deepcopy": ('''import copy

def shared_mlp():
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), copy.deepcopy(shared), nn.ReLU(),
                         nn.Linear(8, 1))
''', ["a copy"]),
        "shared_data_only": ('''def shared_mlp():
    shared = nn.Linear(8, 8)
    twin = nn.Linear(8, 8)
    twin.weight.data = shared.weight.data
    twin.bias.data = shared.bias.data
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), twin, nn.ReLU(), nn.Linear(8, 1))
''', [".data", "own gradient"]),
        "missing_relu": ('''def shared_mlp():
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))
''', ["nn.Sequential of"]),
    },
    "save_params": {
        "whole_module": ('''def save_params(net, path):
    torch.save(net, path)
''', ["weights_only", "state_dict"]),
        "parameters_only": ('''def save_params(net, path):
    torch.save(dict(net.named_parameters()), path)
''', ["BatchNorm buffers are missing"]),
        "hard_coded_path": ('''def save_params(net, path):
    torch.save(net.state_dict(), "model.params")
''', ["must write the file at the path"]),
        "parameter_list": ('''def save_params(net, path):
    torch.save([p.detach() for p in net.parameters()], path)
''', ["expected a dict like net.state_dict()"]),
    },
    "load_params": {
        "unsafe_weights_only": ('''def load_params(make_net, path):
    net = make_net()
    net.load_state_dict(torch.load(path, weights_only=False))
    return net
''', ["weights_only=False", "arbitrary code"]),
        "no_return": ('''def load_params(make_net, path):
    net = make_net()
    net.load_state_dict(torch.load(path))
''', ["returned None"]),
        "returns_load_result": ('''def load_params(make_net, path):
    return make_net().load_state_dict(torch.load(path))
''', ["what load_state_dict returns"]),
        "not_loaded": ('''def load_params(make_net, path):
    state = torch.load(path)
    return make_net()
''', ["must hold the saved values"]),
        "returns_state_dict": ('''def load_params(make_net, path):
    return torch.load(path)
''', ["the state_dict itself"]),
    },
    "to_device": {
        "input_not_assigned": ('''def to_device(net, X, device):
    net.to(device)
    X.to(device)
    return net(X)
''', ["returns a NEW tensor"]),
        "hard_coded_cuda": ('''def to_device(net, X, device):
    net = net.to("cuda")
    return net(X.to("cuda"))
''', ["hard-code"]),
        "net_not_moved": ('''def to_device(net, X, device):
    return net(X.to(device))
''', ["is not on the expected device"]),
        "ignores_device": ('''def to_device(net, X, device):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net.to(device)
    return net(X.to(device))
''', ["expected net(X) on the meta device"]),
        "moves_a_copy": ('''import copy

def to_device(net, X, device):
    moved = copy.deepcopy(net).to(device)
    return moved(X.to(device))
''', ["test_meta_device", "leaves the caller's net behind"]),
        "returns_module": ('''def to_device(net, X, device):
    net.to(device)
    X = X.to(device)
    net(X)
    return net
''', ["expected a torch.Tensor"]),
    },
}
