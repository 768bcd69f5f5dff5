"""What the grader may evaluate next to a student's code; public: it says what is looked at, never what is expected.

A student's objects (an ``nn.Module``, a generator, a view of a tensor) stay in the sandboxed child;
the tests reach them with ``student.eval(EXPRESSION, name=value, ...)``, which evaluates one
expression of this module there, next to the student's code, with the values passed as bindings,
and by passing a trusted function (``wire.Code``) whose source is listed here.  Everything that
crosses into the child can be read by the student's code (it can walk ``gc.get_objects()``, patch
``builtins.eval``, inspect frames) and be sent back in an error message, which becomes feedback.
So only this module's text crosses: it is public, it ships in the package, and
:func:`check_expression` / :func:`check_function` refuse any other text (``Student.eval`` and the
proxy's argument encoding call them), so a hidden suite cannot send its own code by accident.

Conventions: every module-level UPPER_CASE string is a registered expression, except those whose
name ends in ``_FN``, which are registered trusted functions (sources of ``wire.Code``).  Values
reach an expression through bindings (``student.eval(NET_TO_DEVICE, net=net, dev="cuda")``), never
by formatting them into its text.  The networks the grader builds in the child are also listed in
``NETWORKS``; :func:`seeded` gives the registered expression that builds one right after
``torch.manual_seed(seed)``.
"""

from __future__ import annotations


class UnregisteredCode(ValueError):
    """A test tried to send text that this module does not register: the grader's mistake, never the
    student's.  The message does not repeat the text (it may be hidden test code and would reach the
    feedback); ``text`` holds it, and a note on the exception shows it in the developer's traceback."""

    def __init__(self, kind: str, text: str):
        super().__init__(f"the grader tried to send the sandbox {kind} that autograder/inspections.py does not "
                         "register: add it there as a named constant, with its values passed as bindings "
                         "(only that module's public text may reach a student's process)")
        self.text = text
        self.add_note(f"unregistered: {text!r}")


# ----------------------------------------------------------------------------- modules and parameters

IS_MODULE = "isinstance(net, torch.nn.Module)"
NET_TO_DEVICE = "net.to(dev)"
NET_OUTPUT = "net(X).detach()"
NET_ON_INPUT_DEVICE = "net.to(X.device)(X)"
STATE_DICT = "net.state_dict()"
PARAM_SHAPES = "[tuple(p.shape) for p in net.parameters()]"
TRAINABLE_SHAPES = "[tuple(p.shape) for p in net.parameters() if p.requires_grad]"
PARAM_DTYPES = "[str(p.dtype) for p in net.parameters()]"
PARAM_DEVICE_TYPES = "sorted({p.device.type for p in net.parameters()})"
PARAMS_COPY = "[p.detach().clone() for p in net.parameters()]"
PARAMS_REQUIRE_GRAD = "[p.requires_grad for p in net.parameters()]"
PARAM_GRADS = "[p.grad for p in net.parameters()]"
PARAMS_HAVE_GRADS = "[p.grad is not None for p in net.parameters()]"  # the proxy's own tests
NAMED_PARAMS = "[(n, p) for n, p in net.named_parameters()]"
NAMED_TRAINABLE_PARAMS = "[(n, p) for n, p in net.named_parameters() if p.requires_grad]"
NAMED_SHAPES = "[(n, tuple(p.shape)) for n, p in net.named_parameters()]"
FILL_PARAMS = "[torch.nn.init.constant_(p, v) for p in net.parameters()]"
CHILD_TYPES = "[type(m).__name__ for m in net.children()]"
CHILD_LINEAR_SIZES = "[(m.in_features, m.out_features) for m in net.children() if isinstance(m, torch.nn.Linear)]"
LINEAR_LAYERS = ("[(m.in_features, m.out_features, m.bias is not None) for m in net.modules() "
                 "if isinstance(m, torch.nn.Linear)]")
LINEAR_PARAMS = ("[(m.weight.detach().clone(), None if m.bias is None else m.bias.detach().clone()) "
                 "for m in net.modules() if isinstance(m, torch.nn.Linear)]")
LINEAR_WEIGHTS = "[m.weight.detach().clone() for m in net.modules() if isinstance(m, torch.nn.Linear)]"
FIRST_LINEAR_PARAMS = ("[(m.weight.detach(), m.bias.detach()) for m in net.modules() "
                       "if isinstance(m, torch.nn.Linear)][0]")
SET_LINEAR = ("len([(m.weight.data.copy_(W), m.bias.data.copy_(b)) for m in net.modules() "
              "if isinstance(m, torch.nn.Linear)])")
LINEAR_MODEL_INFO = ("(isinstance(net, torch.nn.Module), "
                     "[(m.in_features, m.out_features, m.bias is not None) for m in net.modules() "
                     "if isinstance(m, torch.nn.Linear)], "
                     "[tuple(p.shape) for p in net.parameters()])")

# ----------------------------------------------------------------------------- other objects

ATTRIBUTE = "getattr(obj, name)"
GENERATOR_ITEMS = "list(g)"  # the proxy's own tests
FIRST_ITEMS = "[b for _, b in zip(range(limit), it)]"
DICT_ITEMS = "[(k, v) for k, v in r.items()] if isinstance(r, dict) else None"
DEVICE = "torch.device(dev)"

# ----------------------------------------------------------------------------- autograd_basics

GRID_META_DEVICE = "str(grid(2, 2, 'meta').device)"
GRID_META_INFO = ("(lambda t: (type(t).__name__, str(t.device), str(t.dtype), tuple(t.shape)) "
                  "if isinstance(t, torch.Tensor) else (type(t).__name__,))(grid(3, 4, 'meta'))")
COLUMN_VIEW_FILLED = "(lambda out: (out.fill_(-1.0), X)[1])(column_view(X, 0))"
COLUMN_VIEW_COPY = ("(lambda o: o.clone(memory_format=torch.contiguous_format) "
                    "if isinstance(o, torch.Tensor) else o)(column_view(X, j))")
COLUMN_VIEW_AFTER_X_CHANGED = "(lambda out: (X.mul_(-2.0), out)[1])(column_view(X, j))"
X_AFTER_COLUMN_VIEW_CHANGED = "(lambda out: (out.add_(100.0), X)[1])(column_view(X, j))"
# the same for a non-contiguous X: the transpose of the bound matrix, made in the sandbox
COLUMN_VIEW_OF_TRANSPOSED = ("(lambda o: o.clone(memory_format=torch.contiguous_format) "
                             "if isinstance(o, torch.Tensor) else o)(column_view(X.t(), j))")
COLUMN_VIEW_OF_TRANSPOSED_AFTER_X_CHANGED = (
    "(lambda X: (lambda out: (X.mul_(-2.0), out.clone(memory_format=torch.contiguous_format) "
    "if isinstance(out, torch.Tensor) else out)[1])(column_view(X, j)))(X.t())")
TRANSPOSED_X_AFTER_COLUMN_VIEW_CHANGED = (
    "(lambda X: (lambda out: (out.add_(100.0), X.clone(memory_format=torch.contiguous_format))[1])"
    "(column_view(X, j)))(X.t())")
VIEW_AFTER_AXPY = "(lambda v: (axpy_(a, x, y), v)[1])(y.view(-1))"
ARRAY_INFO = "(type(a).__name__, str(getattr(a, 'dtype', '')), a.tolist() if hasattr(a, 'tolist') else None)"
ARRAY_MODULE_INFO = ("(type(a).__module__.split('.')[0], type(a).__name__, str(getattr(a, 'dtype', '')), "
                     "a.tolist() if hasattr(a, 'tolist') else None)")
ARRAY_AFTER_X_ADDED = "(lambda a: (x.add_(10.0), a.tolist())[1])(to_numpy(x))"
ARRAY_AFTER_DETACHED_X_ADDED = "(lambda a: (x.detach().add_(1.5), a.tolist())[1])(to_numpy(x))"
X_AFTER_ARRAY_DOUBLED = "(lambda a: (a.__imul__(2), x)[1])(to_numpy(x))"

SQUARE_SUM_FN = "lambda x: (x ** 2).sum()"
CUBE_SUM_FN = "lambda x: (x ** 3).sum()"
WEIGHTED_SIN_FN = ("lambda x: (torch.arange(1, x.numel() + 1, dtype=x.dtype, device=x.device).reshape(x.shape)"
                   " * torch.sin(x)).sum()")
LOGSUMEXP_FN = "lambda x: torch.logsumexp(x.reshape(-1), 0)"
FLOAT_SQUARE_SUM_FN = "lambda x: float((x * x).sum())"
EXP2_SUM_FN = "lambda x: torch.exp(2 * x).sum()"

# ----------------------------------------------------------------------------- softmax_regression

SOFTMAX_NET = ("(lambda net: (net[1].weight.data.copy_(W), net[1].bias.data.copy_(b), net.to(dev))[2])"
               "(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(W.shape[1], W.shape[0])))")
SOFTMAX_NET_PARAMS = "[net[1].weight.detach().clone(), net[1].bias.detach().clone()]"

# ----------------------------------------------------------------------------- mlp

INIT_MLP_LEAVES = "[(bool(p.is_leaf), bool(p.requires_grad)) for p in init_mlp_params(3, 4, 2)]"
INIT_MLP_PARAM_KINDS = ("[(isinstance(p, torch.Tensor), bool(getattr(p, 'is_leaf', False)), "
                        "bool(getattr(p, 'requires_grad', False))) for p in init_mlp_params(d, h, q)]")
FIRST_LINEAR_WEIGHT_STD = "float(net[1].weight.detach().double().std())"
CONCISE_MLP_STRUCTURE = (
    "(isinstance(net, torch.nn.Sequential), type(net).__name__, "
    "[(type(m).__name__, isinstance(m, torch.nn.Flatten), isinstance(m, torch.nn.Linear), "
    "isinstance(m, torch.nn.ReLU), getattr(m, 'in_features', None), getattr(m, 'out_features', None), "
    "getattr(m, 'bias', 0) is not None, getattr(m, 'start_dim', None), getattr(m, 'end_dim', None)) "
    "for m in net.children()] if isinstance(net, torch.nn.Module) else None)")
SEEDED_MLP = ("(torch.manual_seed(s), torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, h), "
              "torch.nn.ReLU(), torch.nn.Linear(h, q)))[1].to(dev)")

# ----------------------------------------------------------------------------- rnn

INIT_RNN_STATE_ON_DEVICE = "init_rnn_state(2, 3, torch.device(dev))"
INIT_RNN_STATE_META_INFO = ("[(type(t).__name__, str(t.device), str(t.dtype), tuple(t.shape)) "
                            "if isinstance(t, torch.Tensor) else (type(t).__name__,) "
                            "for t in (lambda s: s if isinstance(s, (tuple, list)) else (s,))"
                            "(init_rnn_state(2, 3, 'meta'))]")
GRADS_AFTER_CLIPPING_A_GENERATOR = "[grad_clipping((p for p in ps), theta), [p.grad for p in ps]][1]"

# ----------------------------------------------------------------------------- model_construction

# Networks the grader builds in the sandbox (seeded, see ``seeded``) and, as float64 twins, in its own process.
SEQ_TANH_MODULES = ("[torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6), torch.nn.ReLU(), "
                    "torch.nn.Linear(6, 6)]")
SEQ_RELU_MODULES = "[torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)]"
SEQ_ONE_MODULE = "[torch.nn.Linear(4, 2)]"
SEQ_REPEATED_MODULES = ("(lambda s: [s, torch.nn.Tanh(), s, torch.nn.ReLU(), torch.nn.Linear(5, 3)])"
                        "(torch.nn.Linear(5, 5))")
COUNT_PLAIN_NET = "torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))"
COUNT_NESTED_NET = ("torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()), "
                    "torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.Linear(4, 2))))")
COUNT_SHARED_NET = ("(lambda s: torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), s, "
                    "torch.nn.ReLU(), s, torch.nn.Linear(6, 2)))(torch.nn.Linear(6, 6))")
COUNT_FROZEN_NET = ("torch.nn.Sequential(torch.nn.Linear(3, 5).requires_grad_(False), torch.nn.ReLU(), "
                    "torch.nn.Linear(5, 2))")
COUNT_EMPTY_NET = "torch.nn.Sequential(torch.nn.Flatten(), torch.nn.ReLU())"
INIT_TEST_NET = ("torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.LayerNorm(b), "
                 "torch.nn.Linear(b, c))")
IO_NET = ("torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), "
          "torch.nn.Linear(4, 2))")
DEVICE_NET = "torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))"
NETWORKS = (SEQ_TANH_MODULES, SEQ_RELU_MODULES, SEQ_ONE_MODULE, SEQ_REPEATED_MODULES, COUNT_PLAIN_NET,
            COUNT_NESTED_NET, COUNT_SHARED_NET, COUNT_FROZEN_NET, COUNT_EMPTY_NET, INIT_TEST_NET, IO_NET, DEVICE_NET)
IO_NET_FN = f"lambda: {IO_NET}"

INIT_NORMAL = "init_normal"  # the student's own function, as a handle
INIT_XAVIER = "init_xavier"
MODULE_PARAMS = "[list(m.parameters()) for m in mods]"
REGISTERS_MODULES = ("[p is q for p, q in zip(net.parameters(), [q for m in mods for q in m.parameters()])]"
                     " + [len(list(net.parameters())) - sum(len(list(m.parameters())) for m in mods)]")
HAS_SEQUENTIAL = "any(isinstance(m, torch.nn.Sequential) for m in net.modules())"
FIXED_HIDDEN_PARAMS = "(net.rand_weight, net.linear.weight, net.linear.bias)"
FIXED_HIDDEN_GRADS = "(net.linear.weight.grad, net.linear.bias.grad, net.rand_weight.grad)"
RAND_WEIGHT_DTYPE_AFTER_DOUBLE = "str(net.double().rand_weight.dtype)"
SET_FIXED_HIDDEN_PARAMS = ("[[p.data.zero_() for p in net.parameters()], "
                           "[p.data[0].fill_(2.0) for p in net.parameters() if p.dim() == 1]] and None")
ZERO_WEIGHT_BIAS_01 = "[torch.nn.init.zeros_(net.linear.weight), torch.nn.init.constant_(net.linear.bias, 0.1)]"
KEEP_PARAMS = "__import__('types').SimpleNamespace(ps=list(net.parameters()))"
LAYERS_WITH_WEIGHTS = "[(type(m).__name__, m.weight, m.bias) for m in net if hasattr(m, 'weight')]"
PARAMS_KEPT = "[(p is q, p.requires_grad, str(p.device)) for p, q in zip(net.parameters(), keep.ps)]"
SEQUENTIAL_LAYOUT = "[type(m).__name__ for m in net] if isinstance(net, torch.nn.Sequential) else None"
SHARES_DATA = "net[2].weight.data_ptr() == net[4].weight.data_ptr()"
SHARES_LAYER = "(net[2].weight is net[4].weight, net[2].bias is net[4].bias)"
RUN_BATCHNORM = "[torch.manual_seed(seed), net(torch.randn(8, 5)), net(torch.randn(8, 5)), net.eval()][-1]"
LOAD_FILE = "torch.load(path, weights_only=True)"
LOADED_KEYS = "sorted(torch.load(path, weights_only=True))"
SAVE_STATE = "torch.save(net.state_dict(), path)"
MAKE_CHECKPOINTS_FOLDER = "__import__('os').makedirs('checkpoints', exist_ok=True)"
MAKE_TEMP_FOLDER = "__import__('tempfile').mkdtemp()"
REMOVE_FOLDER = "__import__('shutil').rmtree(folder, ignore_errors=True)"
TO_META = ("(lambda out: (out.device.type, tuple(out.shape)) if isinstance(out, torch.Tensor) else "
           "type(out).__name__)(to_device(net, X, 'meta'))")
# public self-checks: networks built from constants, and values set by hand
PUBLIC_MODULES = "[torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)]"
PUBLIC_SET_MODULES = ("[m[0].weight.data.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0]])), "
                      "m[0].bias.data.copy_(torch.tensor([0.0, 1.0])), m[2].weight.data.fill_(1.0), "
                      "m[2].bias.data.fill_(0.5)]")
PUBLIC_SET_MYLINEAR = ("[layer.weight.data.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]])), "
                       "layer.bias.data.copy_(torch.tensor([0.5, -0.5]))]")
PUBLIC_MYLINEAR_GRADS = "[layer.weight.grad, layer.bias.grad]"
PUBLIC_COUNT_PLAIN_NET = "torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))"
PUBLIC_COUNT_SHARED_NET = "(lambda s: torch.nn.Sequential(torch.nn.Linear(2, 2), s, s))(torch.nn.Linear(2, 2))"
PUBLIC_COUNT_BATCHNORM_NET = ("torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2)), "
                              "torch.nn.BatchNorm1d(2))")
PUBLIC_INIT_NET = "torch.nn.Sequential(torch.nn.Linear(100, 200), torch.nn.ReLU(), torch.nn.Linear(200, 10))"
PUBLIC_INIT_VALUES = "[net[0].weight, net[0].bias, net[2].bias]"
PUBLIC_SAVE_NET = "torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))"
PUBLIC_SAVE_FILE = "torch.save({'weight': torch.tensor([[1.0, 2.0]]), 'bias': torch.tensor([3.0])}, path)"
PUBLIC_LINEAR_VALUES = "[net.weight.tolist(), net.bias.tolist()]"
PUBLIC_LINEAR = "torch.nn.Linear(3, 2)"
PUBLIC_SET_LINEAR = "[torch.nn.init.constant_(net.weight, 1.0), torch.nn.init.zeros_(net.bias)]"
PUBLIC_TO_META = ("(lambda out: (out.device.type, tuple(out.shape)))(to_device(torch.nn.Linear(3, 2), "
                  "torch.ones(4, 3), 'meta'))")
PUBLIC_LINEAR_FN = "lambda: torch.nn.Linear(2, 1)"


def seeded(net: str) -> str:
    """The registered expression that builds ``net`` (one of ``NETWORKS``) right after
    ``torch.manual_seed(seed)``; the seed is a binding."""
    return f"[torch.manual_seed(seed), {net}][1]"


def _registered() -> tuple[frozenset, frozenset]:
    constants = {name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)}
    functions = frozenset(v for name, v in constants.items() if name.endswith("_FN"))
    expressions = frozenset(v for name, v in constants.items() if not name.endswith("_FN"))
    return expressions | {seeded(net) for net in NETWORKS}, functions


EXPRESSIONS, FUNCTIONS = _registered()


def check_expression(expr) -> None:
    """Raise :class:`UnregisteredCode` unless ``expr`` is one of :data:`EXPRESSIONS`."""
    if not isinstance(expr, str) or expr not in EXPRESSIONS:
        raise UnregisteredCode("an expression", str(expr))


def check_function(src) -> None:
    """Raise :class:`UnregisteredCode` unless ``src`` is one of :data:`FUNCTIONS` (a ``wire.Code`` source)."""
    if not isinstance(src, str) or src not in FUNCTIONS:
        raise UnregisteredCode("a trusted function", str(src))
