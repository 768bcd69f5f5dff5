"""Reference implementations for the ``rnn`` assignment (text, language models, RNN from scratch).

This module is the single source of truth for the assignment's exercises: the course builder
takes each function's body (everything after its docstring) as the solution of the matching stub
in ``assignments/rnn.ipynb``, and the hidden suite compares student answers with these functions.
Conventions follow the PyTorch edition of *Dive into Deep Learning* (d2l-zh 2.0 where the
editions disagree; DESIGN §5), except where the book's code has a known flaw: its
``grad_clipping`` iterates its parameters twice, so a generator such as ``model.parameters()``
is exhausted by the norm and nothing is clipped.

The notebook's setup cell imports ``collections``, ``math``, ``torch`` and
``torch.nn.functional as F``; the bodies below use nothing else.  As in the book, ``rnn`` calls
``rnn_step`` and ``train_char_rnn`` calls the other exercises' functions: in the notebook they
share one namespace.

Decisions (stated in the docstrings too):

* ``char_level_loss`` may use ``F.cross_entropy`` / ``nn.CrossEntropyLoss``, as the book does:
  cross-entropy from probabilities was written by hand in ``softmax_regression``; the point here
  is lining the time-major logits up with the batch-major targets (``Y.T.reshape(-1)``), from
  logits, stably.  It returns a 0-d tensor (differentiable), never a Python float.
* ``perplexity`` returns a Python ``float`` (as the book's ``math.exp(metric[0] / metric[1])``),
  for a Python number or a one-element tensor.
* ``grad_clipping`` returns ``None``; only the gradients change, in place or replaced.
* ``count_ngrams`` returns a ``dict`` (a ``collections.Counter`` is one) whose keys are tuples of
  ``n`` tokens -- 1-tuples when ``n == 1`` -- and whose values are Python ``int`` counts.
"""

import collections
import math

import torch
from torch.nn import functional as F


def count_ngrams(tokens, n):
    """Count the n-grams of a token sequence.

    Convention (d2l, language models): ``tokens`` is a sequence of hashable tokens (characters,
    words or indices); an n-gram is ``n`` consecutive tokens.  Returns a ``dict`` (a
    ``collections.Counter`` is fine) that maps every n-gram occurring in ``tokens``, written as a
    TUPLE of ``n`` tokens (a 1-tuple such as ``('e',)`` when ``n == 1``), to the number of times
    it occurs, a Python ``int``.  Overlapping occurrences count: ``'aaa'`` has two bigrams
    ``('a', 'a')``.  A sequence of ``L`` tokens has ``L - n + 1`` n-grams (none when ``n > L``).
    """
    tokens = list(tokens)
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def one_hot(X, n_class):
    """One-hot encode a minibatch of token indices, time-major.

    Convention (d2l, PyTorch edition): ``X`` is an int64 tensor of shape ``(B, T)`` (B sequences
    of T time steps), every entry in ``0 .. n_class - 1``.  Returns a float32 tensor of shape
    ``(T, B, n_class)`` -- TIME-MAJOR, so that ``result[t]`` is the ``(B, n_class)`` input of time
    step ``t`` -- with ``result[t, b, X[b, t]] = 1`` and 0 elsewhere, on the device of ``X``.
    """
    return F.one_hot(X.T, n_class).to(torch.float32)


def init_rnn_state(batch_size, num_hiddens, device):
    """The initial hidden state of the RNN.

    Convention (d2l, PyTorch edition): returns a TUPLE holding one float32 tensor of zeros of
    shape ``(batch_size, num_hiddens)`` on ``device`` -- ``(H,)``, note the trailing comma --
    because other recurrent networks (the LSTM) carry more than one state tensor.
    """
    return (torch.zeros((batch_size, num_hiddens), device=device),)


def rnn_step(X_t, H, params):
    """One time step of the RNN.

    Convention (d2l, PyTorch edition): ``X_t`` has shape ``(B, V)`` (the inputs of one time
    step), ``H`` shape ``(B, h)`` (the hidden state), ``params = [W_xh, W_hh, b_h, W_hq, b_q]``
    with shapes ``(V, h)``, ``(h, h)``, ``(h,)``, ``(h, q)``, ``(q,)``.  Computes
    ``H_new = tanh(X_t @ W_xh + H @ W_hh + b_h)`` and returns the tuple
    ``(H_new @ W_hq + b_q, H_new)``: the ``(B, q)`` output and the ``(B, h)`` new state.
    Differentiable with respect to every input.
    """
    W_xh, W_hh, b_h, W_hq, b_q = params
    # Rows are examples: the state multiplies W_hh from the left (H @ W_hh, never W_hh @ H).
    H_new = torch.tanh(X_t @ W_xh + H @ W_hh + b_h)
    return H_new @ W_hq + b_q, H_new


def rnn(inputs, state, params):
    """Run the RNN over a whole minibatch of sequences.

    Convention (d2l, PyTorch edition): ``inputs`` has shape ``(T, B, V)`` (time-major, as
    ``one_hot`` returns it), ``state`` is the tuple ``(H,)`` with ``H`` of shape ``(B, h)``,
    ``params = [W_xh, W_hh, b_h, W_hq, b_q]``.  Applies ``rnn_step`` at every time step, each step
    starting from the state the previous one produced.  Returns the tuple
    ``(torch.cat(outputs, dim=0), (H,))``: the outputs of all steps CONCATENATED along dim 0,
    shape ``(T * B, q)`` with the B rows of step 0 first, and the final state as a tuple.
    """
    H, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    return torch.cat(outputs, dim=0), (H,)


def char_level_loss(outputs, Y):
    """Mean cross-entropy of a character-level language model's outputs.

    Convention (d2l, PyTorch edition): ``outputs`` are the ``(T * B, V)`` logits returned by
    ``rnn`` (time-major: row ``t * B + b`` is time step ``t`` of sequence ``b``); ``Y`` holds the
    int64 targets, shape ``(B, T)`` (batch-major, like the inputs).  Returns the mean over all
    ``B * T`` tokens of the cross-entropy of the softmax of the logits, as a 0-d tensor (with the
    dtype and device of ``outputs``, differentiable).  Line the targets up with the rows of
    ``outputs``: flatten ``Y.T``, not ``Y``.  Compute it from the logits, stably (finite for logits
    of magnitude 1e4).  ``F.cross_entropy`` / ``nn.CrossEntropyLoss`` may be used, as in the book.
    """
    # Y.T is (T, B): flattening it row by row gives step 0 of every sequence, then step 1, ...,
    # the order of the rows of `outputs`.  F.cross_entropy works from logits (log-sum-exp).
    return F.cross_entropy(outputs, Y.T.reshape(-1))


def perplexity(mean_loss):
    """Perplexity from a mean per-token cross-entropy (in nats).

    Convention (d2l, PyTorch edition): ``mean_loss`` is a Python number or a one-element tensor.
    Returns ``exp(mean_loss)`` as a Python ``float``.
    """
    return math.exp(float(mean_loss))


def grad_clipping(params, theta):
    """Clip the gradients of a model's parameters to a global L2 norm of at most ``theta``.

    Convention (d2l, PyTorch edition): ``params`` is an iterable of tensors -- a list, or a
    generator such as ``model.parameters()``, which can be iterated only ONCE.  The norm is the
    global one, ``sqrt(sum over all parameters of (p.grad ** 2).sum())``; parameters whose
    ``.grad`` is ``None`` are skipped.  If the norm exceeds ``theta``, every gradient is multiplied
    by ``theta / norm``; otherwise nothing changes (gradients are never scaled up).  The parameters
    themselves are not modified.  Returns ``None``.  Do not use ``torch.nn.utils.clip_grad_norm_``.
    """
    # A list, read once from the iterable: a generator would be empty on a second pass.
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norm = torch.sqrt(sum(torch.sum(g ** 2) for g in grads))
    if norm > theta:
        with torch.no_grad():
            for g in grads:
                g.mul_(theta / norm)


def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    """Train a character-level RNN language model with your own functions.

    Convention: ``corpus`` is a 1-D int64 tensor of token indices in ``0 .. vocab_size - 1``;
    train on its device.  Initialise ``params = [W_xh, W_hh, b_h, W_hq, b_q]`` as in the book
    (weights ``torch.randn(shape) * 0.01``, biases zeros; ``V = q = vocab_size``,
    ``h = num_hiddens``; all leaves with ``requires_grad``).  Then, for ``num_epochs`` epochs,
    go over the corpus in minibatches of ``batch_size`` sequences of ``num_steps`` tokens,
    the targets ``Y`` being the inputs ``X`` shifted by one token, and for each minibatch: run
    ``rnn`` on ``one_hot(X, vocab_size)``, compute ``char_level_loss``, back-propagate, clip with
    ``grad_clipping(params, theta)`` and take an SGD step ``p -= lr * p.grad`` (then clear the
    gradients).  Sequential partitioning (the state carried from one minibatch to the next and
    detached) and random sampling (a fresh ``init_rnn_state`` for every minibatch) both work.
    Returns ``(params, ppl)``: the trained parameters (a list of the five tensors) and the
    perplexity of the last epoch, ``perplexity(sum of token losses / number of tokens)``, a
    Python ``float``.  Short: the grader's run takes about a second and must finish in 30 s.
    """
    device = corpus.device
    params = [torch.randn((vocab_size, num_hiddens), device=device) * 0.01,
              torch.randn((num_hiddens, num_hiddens), device=device) * 0.01,
              torch.zeros(num_hiddens, device=device),
              torch.randn((num_hiddens, vocab_size), device=device) * 0.01,
              torch.zeros(vocab_size, device=device)]
    for param in params:
        param.requires_grad_(True)
    # Sequential partitioning: batch_size parallel streams, each read num_steps tokens at a time.
    num_tokens = ((len(corpus) - 1) // batch_size) * batch_size
    Xs = corpus[:num_tokens].reshape(batch_size, -1)
    Ys = corpus[1:num_tokens + 1].reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    ppl = float("nan")
    for _ in range(num_epochs):
        state = init_rnn_state(batch_size, num_hiddens, device)
        total_loss, total_tokens = 0.0, 0
        for start in range(0, num_batches * num_steps, num_steps):
            X = Xs[:, start:start + num_steps]
            Y = Ys[:, start:start + num_steps]
            state = tuple(s.detach() for s in state)  # keep the values, cut the graph
            outputs, state = rnn(one_hot(X, vocab_size), state, params)
            loss = char_level_loss(outputs, Y)
            for param in params:
                param.grad = None
            loss.backward()
            grad_clipping(params, theta)
            with torch.no_grad():
                for param in params:
                    param -= lr * param.grad
            total_loss += loss.item() * Y.numel()
            total_tokens += Y.numel()
        ppl = perplexity(total_loss / total_tokens)
    return params, ppl
