"""Demo scenarios for linear_regression: typical bugs (see :mod:`autograder.demo_scenarios`)."""

from autograder.demo_scenarios import Scenario

SQUARED_LOSS_NO_RESHAPE = '''def squared_loss(y_hat, y):
    """Forgets to reshape y: a (n,) y against a (n, 1) y_hat broadcasts to (n, n)."""
    return (y_hat - y) ** 2 / 2
'''

DATA_ITER_DROPS_LAST = '''def data_iter(batch_size, features, labels):
    """Drops the last, smaller minibatch."""
    num_examples = len(features)
    indices = list(range(num_examples))
    random.shuffle(indices)
    for i in range(0, num_examples - batch_size + 1, batch_size):
        batch_indices = torch.tensor(indices[i: i + batch_size], device=features.device)
        yield features[batch_indices], labels[batch_indices]
'''

BUILD_DEFAULT_INIT = '''def build_concise_model(num_inputs):
    """Keeps PyTorch's default initialisation (uniform weight, random bias)."""
    return nn.Sequential(nn.Linear(num_inputs, 1))
'''

EXERCISES = ("synthetic_data", "data_iter", "linreg", "squared_loss", "sgd", "train", "build_concise_model",
             "train_concise")

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs", breaks=EXERCISES),
    Scenario("bug_squared_loss_no_reshape", "squared_loss without y.reshape(y_hat.shape) (an (n, n) loss)",
             "reference", {"squared_loss": SQUARED_LOSS_NO_RESHAPE}, breaks=("squared_loss",)),
    Scenario("bug_data_iter_drops_last", "data_iter that drops the last, smaller minibatch", "reference",
             {"data_iter": DATA_ITER_DROPS_LAST}, breaks=("data_iter",)),
    Scenario("bug_build_default_init", "build_concise_model with nn.Linear's default initialisation",
             "reference", {"build_concise_model": BUILD_DEFAULT_INIT}, breaks=("build_concise_model",)),
]
