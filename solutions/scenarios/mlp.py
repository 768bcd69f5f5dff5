"""Demo scenarios for mlp: typical bugs (see :mod:`autograder.demo_scenarios`)."""

from autograder.demo_scenarios import Scenario

SIGMOID_UNSTABLE = '''def sigmoid(X):
    """exp(x) / (1 + exp(x)): inf / inf = NaN once exp(x) overflows (x > ~88 in float32)."""
    return torch.exp(X) / (1 + torch.exp(X))
'''

MLP_FORWARD_HARD_CODED = '''def mlp_forward(X, params):
    """The book's reshape with its global num_inputs = 784 hard-coded."""
    W1, b1, W2, b2 = params
    X = X.reshape((-1, 784))
    H = relu(X @ W1 + b1)
    return H @ W2 + b2
'''

INIT_NOT_LEAVES = '''def init_mlp_params(num_inputs, num_hiddens, num_outputs):
    """Scales after requires_grad=True: the parameters are not leaves, so they never get a .grad."""
    W1 = torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01
    b1 = torch.zeros(num_hiddens, requires_grad=True)
    W2 = torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01
    b2 = torch.zeros(num_outputs, requires_grad=True)
    return [W1, b1, W2, b2]
'''

TRAIN_CONCISE_NO_ZERO_GRAD = '''def train_concise_mlp(net, X, y, lr, num_epochs, batch_size):
    """Forgets trainer.zero_grad(): every step uses the sum of all previous gradients."""
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            loss(net(X[idx]), y[idx]).backward()
            trainer.step()
'''

EXERCISES = ("relu", "sigmoid", "tanh", "mlp_forward", "init_mlp_params", "train_mlp", "build_concise_mlp",
             "train_concise_mlp")

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs", breaks=EXERCISES),
    Scenario("bug_sigmoid_unstable", "sigmoid as exp(x) / (1 + exp(x)) (NaN for large inputs)", "reference",
             {"sigmoid": SIGMOID_UNSTABLE}, breaks=("sigmoid",)),
    Scenario("bug_mlp_forward_784", "mlp_forward with the book's hard-coded X.reshape((-1, 784))", "reference",
             {"mlp_forward": MLP_FORWARD_HARD_CODED}, breaks=("mlp_forward", "train_mlp")),
    Scenario("bug_init_not_leaves", "init_mlp_params scaling after requires_grad=True (non-leaf parameters)",
             "reference", {"init_mlp_params": INIT_NOT_LEAVES}, breaks=("init_mlp_params",)),
    Scenario("bug_train_concise_no_zero_grad", "train_concise_mlp without trainer.zero_grad()", "reference",
             {"train_concise_mlp": TRAIN_CONCISE_NO_ZERO_GRAD}, breaks=("train_concise_mlp",)),
]
