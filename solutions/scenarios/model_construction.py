"""Demo scenarios for model_construction: typical bugs (see :mod:`autograder.demo_scenarios`)."""

from autograder.demo_scenarios import Scenario

MYLINEAR_DATA = '''class MyLinear(nn.Module):
    """The book's version: forward uses .data, so weight and bias never get a gradient."""

    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))

    def forward(self, X):
        linear = torch.matmul(X, self.weight.data) + self.bias.data
        return F.relu(linear)
'''

MYSEQUENTIAL_PLAIN_LIST = '''class MySequential(nn.Module):
    """Keeps the modules in a plain Python list: forward works, but nothing is registered."""

    def __init__(self, *args):
        super().__init__()
        self.layers = list(args)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
'''

SAVE_WHOLE_MODULE = '''def save_params(net, path):
    """The book's torch.save(net): pickles the module, which weights_only loading refuses."""
    torch.save(net, path)
'''

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs",
             breaks=("MLP", "MySequential", "StackedLinear", "MultiHead", "FixedHiddenMLP", "CenteredLayer",
                     "MyLinear", "count_parameters", "init_normal", "init_xavier", "shared_mlp", "save_params",
                     "load_params", "to_device")),
    Scenario("bug_mylinear_data", "MyLinear.forward uses weight.data (no gradient reaches the parameters)",
             "reference", {"MyLinear": MYLINEAR_DATA}, breaks=("MyLinear",)),
    Scenario("bug_mysequential_plain_list", "MySequential keeps its modules in a plain list (unregistered)",
             "reference", {"MySequential": MYSEQUENTIAL_PLAIN_LIST}, breaks=("MySequential",)),
    Scenario("bug_save_whole_module", "save_params pickles the whole module (fails weights_only loading)",
             "reference", {"save_params": SAVE_WHOLE_MODULE}, breaks=("save_params",)),
]
