"""Demo scenarios for rnn: typical bugs (see :mod:`autograder.demo_scenarios`).

The functions build on each other as in the book (``rnn`` calls ``rnn_step``; ``train_char_rnn`` calls
``rnn``, ``char_level_loss``, ...), so a bug can cost points downstream too: ``breaks`` lists every
exercise that loses points.  The grader evaluates the trained parameters with the reference ``rnn``,
so even a consistently transposed ``W_hh`` fails the training checks.
"""

from autograder.demo_scenarios import Scenario

LOSS_Y_NOT_TRANSPOSED = '''def char_level_loss(outputs, Y):
    """Flattens the batch-major targets as they are: they no longer line up with the time-major rows."""
    return F.cross_entropy(outputs, Y.reshape(-1))
'''

STEP_W_HH_TRANSPOSED = '''def rnn_step(X_t, H, params):
    """Multiplies the state by W_hh transposed."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.tanh(X_t @ W_xh + H @ W_hh.T + b_h)
    return H_new @ W_hq + b_q, H_new
'''

CLIP_GENERATOR_TWICE = '''def grad_clipping(params, theta):
    """The book's version: a generator is used up by the norm, so the second loop clips nothing."""
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params if p.grad is not None))
    if norm > theta:
        for p in params:
            if p.grad is not None:
                p.grad[:] *= theta / norm
'''

RNN_STACKED = '''def rnn(inputs, state, params):
    """Stacks the outputs into (T, B, q) instead of concatenating them into (T * B, q)."""
    H, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    return torch.stack(outputs), (H,)
'''

EXERCISES = ("count_ngrams", "one_hot", "init_rnn_state", "rnn_step", "rnn", "char_level_loss", "perplexity",
             "grad_clipping", "train_char_rnn")

SCENARIOS = [
    Scenario("reference", "the reference solution", "reference"),
    Scenario("stubs", "the untouched stubs", "stubs", breaks=EXERCISES),
    Scenario("bug_loss_targets_not_transposed", "char_level_loss with Y.reshape(-1) instead of Y.T.reshape(-1)",
             "reference", {"char_level_loss": LOSS_Y_NOT_TRANSPOSED},
             breaks=("char_level_loss", "train_char_rnn")),
    Scenario("bug_rnn_step_W_hh_transposed", "rnn_step computing H @ W_hh.T", "reference",
             {"rnn_step": STEP_W_HH_TRANSPOSED}, breaks=("rnn_step", "rnn", "train_char_rnn")),
    Scenario("bug_grad_clipping_generator", "the book's grad_clipping, which clips nothing for a generator",
             "reference", {"grad_clipping": CLIP_GENERATOR_TWICE}, breaks=("grad_clipping",)),
    Scenario("bug_rnn_stacked", "rnn returning torch.stack(outputs) of shape (T, B, q)", "reference",
             {"rnn": RNN_STACKED}, breaks=("rnn", "train_char_rnn")),
]
