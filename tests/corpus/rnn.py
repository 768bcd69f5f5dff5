"""Corpus for the ``rnn`` assignment: correct-but-unusual answers (full marks on their exercise)
and typical mistakes (points lost, with the listed words in the failure messages).  Each entry is
the whole answer cell; the other cells are the reference's.  See tests/test_corpus.py."""

# ----------------------------------------------------------------------------- count_ngrams

NGRAMS_DICT_GET = '''def count_ngrams(tokens, n):
    counts = {}
    for i in range(len(tokens) - n + 1):
        key = tuple(tokens[i:i + n])
        counts[key] = counts.get(key, 0) + 1
    return counts
'''

NGRAMS_ZIP = '''def count_ngrams(tokens, n):
    tokens = list(tokens)
    return collections.Counter(zip(*[tokens[i:] for i in range(n)]))
'''

NGRAMS_DEFAULTDICT = '''from collections import defaultdict

def count_ngrams(tokens, n):
    counts = defaultdict(int)
    window = []
    for token in tokens:
        window.append(token)
        if len(window) > n:
            window.pop(0)
        if len(window) == n:
            counts[tuple(window)] += 1
    return dict(counts)
'''

NGRAMS_OFF_BY_ONE = '''def count_ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n))
'''

NGRAMS_LIST_KEYS = '''def count_ngrams(tokens, n):
    counts = {}
    for i in range(len(tokens) - n + 1):
        key = tokens[i:i + n]
        counts[key] = counts.get(key, 0) + 1
    return counts
'''

NGRAMS_BARE_UNIGRAMS = '''def count_ngrams(tokens, n):
    if n == 1:
        return collections.Counter(tokens)
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
'''

NGRAMS_SET = '''def count_ngrams(tokens, n):
    return {tuple(tokens[i:i + n]): 1 for i in range(len(tokens) - n + 1)}
'''

NGRAMS_ALWAYS_BIGRAMS = '''def count_ngrams(tokens, n):
    return collections.Counter(zip(tokens[:-1], tokens[1:]))
'''

# ----------------------------------------------------------------------------- one_hot

ONE_HOT_SCATTER = '''def one_hot(X, n_class):
    B, T = X.shape
    out = torch.zeros(T, B, n_class, device=X.device)
    out.scatter_(2, X.T.unsqueeze(-1), 1.0)
    return out
'''

ONE_HOT_EYE = '''def one_hot(X, n_class):
    return torch.eye(n_class, device=X.device)[X.T]
'''

ONE_HOT_PERMUTE = '''def one_hot(X, n_class):
    return F.one_hot(X, num_classes=n_class).permute(1, 0, 2).float()
'''

ONE_HOT_BATCH_MAJOR = '''def one_hot(X, n_class):
    return F.one_hot(X, n_class).to(torch.float32)
'''

ONE_HOT_INT64 = '''def one_hot(X, n_class):
    return F.one_hot(X.T, n_class)
'''

ONE_HOT_CLASSES_FROM_DATA = '''def one_hot(X, n_class):
    return F.one_hot(X.T).float()
'''

# ----------------------------------------------------------------------------- init_rnn_state

STATE_TO_DEVICE = '''def init_rnn_state(batch_size, num_hiddens, device):
    return (torch.zeros(batch_size, num_hiddens).to(device),)
'''

STATE_TUPLE_CALL = '''def init_rnn_state(batch_size, num_hiddens, device):
    H = torch.zeros((batch_size, num_hiddens), dtype=torch.float32, device=torch.device(device))
    return tuple([H])
'''

STATE_BARE = '''def init_rnn_state(batch_size, num_hiddens, device):
    return torch.zeros((batch_size, num_hiddens), device=device)
'''

STATE_LIST = '''def init_rnn_state(batch_size, num_hiddens, device):
    return [torch.zeros((batch_size, num_hiddens), device=device)]
'''

STATE_SWAPPED = '''def init_rnn_state(batch_size, num_hiddens, device):
    return (torch.zeros((num_hiddens, batch_size), device=device),)
'''

STATE_IGNORES_DEVICE = '''def init_rnn_state(batch_size, num_hiddens, device):
    return (torch.zeros((batch_size, num_hiddens)),)   # always on the CPU
'''

STATE_FLOAT64 = '''def init_rnn_state(batch_size, num_hiddens, device):
    return (torch.zeros((batch_size, num_hiddens), dtype=torch.float64, device=device),)
'''

# ----------------------------------------------------------------------------- rnn_step

STEP_CONCAT = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    W = torch.cat([W_xh, W_hh], dim=0)
    H_new = torch.tanh(torch.cat([X_t, H], dim=1) @ W + b_h)
    return H_new @ W_hq + b_q, H_new
'''

STEP_ADDMM = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    a = torch.addmm(b_h, X_t, W_xh) + torch.mm(H, W_hh)
    H_new = 2 * torch.sigmoid(2 * a) - 1          # tanh, written with the sigmoid
    return torch.addmm(b_q, H_new, W_hq), H_new
'''

STEP_RELU = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.relu(X_t @ W_xh + H @ W_hh + b_h)
    return H_new @ W_hq + b_q, H_new
'''

STEP_NO_BIAS = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.tanh(X_t @ W_xh + H @ W_hh)
    return H_new @ W_hq + b_q, H_new
'''

STEP_WHH_T = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.tanh(X_t @ W_xh + H @ W_hh.T + b_h)
    return H_new @ W_hq + b_q, H_new
'''

STEP_WHH_LEFT = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.tanh(X_t @ W_xh + W_hh @ H + b_h)
    return H_new @ W_hq + b_q, H_new
'''

STEP_OLD_STATE_OUTPUT = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    Y = H @ W_hq + b_q
    H = torch.tanh(X_t @ W_xh + H @ W_hh + b_h)
    return Y, H
'''

STEP_SWAPPED_RETURN = '''def rnn_step(X_t, H, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H_new = torch.tanh(X_t @ W_xh + H @ W_hh + b_h)
    return H_new, H_new @ W_hq + b_q
'''

# ----------------------------------------------------------------------------- rnn

RNN_INLINE = '''def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H = state[0]
    outputs = []
    for t in range(inputs.shape[0]):
        H = torch.tanh(torch.mm(inputs[t], W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(torch.mm(H, W_hq) + b_q)
    return torch.cat(outputs), (H,)
'''

RNN_STACK_RESHAPE = '''def rnn(inputs, state, params):
    (H,) = state
    outputs = []
    for X_t in inputs.unbind(0):
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    stacked = torch.stack(outputs)                     # (T, B, q)
    return stacked.reshape(-1, stacked.shape[-1]), (H,)
'''

RNN_STACKED = '''def rnn(inputs, state, params):
    H, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    return torch.stack(outputs), (H,)
'''

RNN_INITIAL_STATE_EVERY_STEP = '''def rnn(inputs, state, params):
    H0, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H0, params)
        outputs.append(Y_t)
    return torch.cat(outputs, dim=0), (H,)
'''

RNN_BARE_STATE = '''def rnn(inputs, state, params):
    H, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    return torch.cat(outputs, dim=0), H
'''

RNN_BATCH_MAJOR = '''def rnn(inputs, state, params):
    H, = state
    outputs = []
    for X_t in inputs:
        Y_t, H = rnn_step(X_t, H, params)
        outputs.append(Y_t)
    out = torch.stack(outputs, dim=1)                  # (B, T, q)
    return out.reshape(-1, out.shape[-1]), (H,)
'''

RNN_RELU = '''def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.relu(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)
'''

# ----------------------------------------------------------------------------- char_level_loss

LOSS_LOGSUMEXP = '''def char_level_loss(outputs, Y):
    y = Y.T.reshape(-1)
    rows = torch.arange(len(y), device=outputs.device)
    return (torch.logsumexp(outputs, dim=1) - outputs[rows, y]).mean()
'''

LOSS_MODULE = '''def char_level_loss(outputs, Y):
    loss = torch.nn.CrossEntropyLoss()
    y = Y.T.reshape(-1)
    return loss(outputs, y.long()).mean()
'''

LOSS_GATHER = '''def char_level_loss(outputs, Y):
    z = outputs - outputs.max(dim=1, keepdim=True).values
    log_probs = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    return -log_probs.gather(1, Y.transpose(0, 1).reshape(-1, 1)).mean()
'''

# Large inputs (docs/tolerances.md): stable formulations that round at the logits' magnitude differently from
# F.cross_entropy, or reduce in another order, keep full marks at logits of 1e4.
LOSS_LSE_BY_HAND_SUM = '''def char_level_loss(outputs, Y):
    y = Y.T.reshape(-1)
    m = outputs.max(dim=1, keepdim=True).values
    lse = (m + torch.log(torch.exp(outputs - m).sum(dim=1, keepdim=True))).squeeze(1)
    picked = outputs.gather(1, y.unsqueeze(1)).squeeze(1)
    return (lse - picked).sum() / y.numel()
'''

LOSS_LOG_SOFTMAX_NLL = '''def char_level_loss(outputs, Y):
    return F.nll_loss(F.log_softmax(outputs, dim=-1), Y.transpose(0, 1).flatten())
'''

LOSS_PER_SEQUENCE_MEANS = '''def char_level_loss(outputs, Y):
    """Per-token losses as a (T, B) table, averaged over time and then over the batch."""
    B, T = Y.shape
    per_token = torch.logsumexp(outputs, dim=1) - outputs[torch.arange(T * B), Y.T.reshape(-1)]
    return per_token.reshape(T, B).mean(dim=0).mean()
'''

LOSS_MISALIGNED = '''def char_level_loss(outputs, Y):
    return F.cross_entropy(outputs, Y.reshape(-1))
'''

LOSS_SUM = '''def char_level_loss(outputs, Y):
    return F.cross_entropy(outputs, Y.T.reshape(-1), reduction="sum")
'''

LOSS_PER_TOKEN = '''def char_level_loss(outputs, Y):
    return F.cross_entropy(outputs, Y.T.reshape(-1), reduction="none")
'''

LOSS_LOG_SOFTMAX_NAIVE = '''def char_level_loss(outputs, Y):
    probs = torch.exp(outputs) / torch.exp(outputs).sum(dim=1, keepdim=True)
    y = Y.T.reshape(-1)
    return -torch.log(probs[torch.arange(len(y)), y]).mean()
'''

LOSS_LOG_OF_STABLE_SOFTMAX = '''def char_level_loss(outputs, Y):
    """A stable softmax, then its log: a target probability that underflows to 0 gives log(0) = -inf."""
    e = torch.exp(outputs - outputs.max(dim=1, keepdim=True).values)
    probs = e / e.sum(dim=1, keepdim=True)
    y = Y.T.reshape(-1)
    return -torch.log(probs[torch.arange(len(y)), y]).mean()
'''

LOSS_CLAMPED_LOGITS = '''def char_level_loss(outputs, Y):
    """Clamps the logits so that nothing overflows: finite, right for small logits, wrong past 80."""
    return F.cross_entropy(outputs.clamp(-80.0, 80.0), Y.T.reshape(-1))
'''

# ----------------------------------------------------------------------------- perplexity

PPL_TORCH = '''def perplexity(mean_loss):
    return float(torch.exp(torch.as_tensor(mean_loss, dtype=torch.float64)))
'''

PPL_POWER = '''def perplexity(mean_loss):
    return math.e ** float(mean_loss)
'''

PPL_TENSOR = '''def perplexity(mean_loss):
    return torch.exp(torch.as_tensor(mean_loss))
'''

PPL_BITS = '''def perplexity(mean_loss):
    return 2.0 ** float(mean_loss)
'''

PPL_ITEM = '''def perplexity(mean_loss):
    return mean_loss.exp().item()
'''

# ----------------------------------------------------------------------------- grad_clipping

CLIP_LINALG_REPLACE = '''def grad_clipping(params, theta):
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return None
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in with_grad]))
    if norm > theta:
        for p in with_grad:
            p.grad = p.grad * (theta / norm)
'''

CLIP_PYTHON_NORM = '''def grad_clipping(params, theta):
    params = list(params)
    norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in params if p.grad is not None))
    if norm > theta:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(theta / norm)
    return norm
'''

CLIP_BOOK_SLICE = '''def grad_clipping(params, theta):
    params = [p for p in params if p.requires_grad and p.grad is not None]
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm
'''

CLIP_BOOK_GENERATOR = '''def grad_clipping(params, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params if p.grad is not None))
    if norm > theta:
        for p in params:
            if p.grad is not None:
                p.grad[:] *= theta / norm
'''

CLIP_ALWAYS = '''def grad_clipping(params, theta):
    params = [p for p in params if p.grad is not None]
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    for p in params:
        p.grad.mul_(theta / norm)
'''

CLIP_PER_PARAMETER = '''def grad_clipping(params, theta):
    for p in params:
        if p.grad is None:
            continue
        norm = p.grad.norm()
        if norm > theta:
            p.grad.mul_(theta / norm)
'''

CLIP_BUILTIN = '''def grad_clipping(params, theta):
    torch.nn.utils.clip_grad_norm_(list(params), theta)
'''

# The built-in reached through computed names: the AST check cannot see it, the observed call can.
CLIP_BUILTIN_COMPUTED = '''def grad_clipping(params, theta):
    utils = getattr(torch.nn, "ut" + "ils")
    getattr(utils, "clip_grad_" + "norm_")([p for p in params if p.grad is not None], theta)
'''

CLIP_NONE_CRASH = '''def grad_clipping(params, theta):
    params = list(params)
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for p in params:
            p.grad.mul_(theta / norm)
'''

# ----------------------------------------------------------------------------- train_char_rnn

TRAIN_RANDOM_SAMPLING = '''import random

def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    device = corpus.device
    shapes = [(vocab_size, num_hiddens), (num_hiddens, num_hiddens), (num_hiddens,),
              (num_hiddens, vocab_size), (vocab_size,)]
    params = [(torch.randn(s, device=device) * 0.01 if len(s) == 2 else torch.zeros(s, device=device))
              for s in shapes]
    for p in params:
        p.requires_grad_(True)
    steps = torch.arange(num_steps, device=device)
    for epoch in range(num_epochs):
        offset = random.randint(0, num_steps - 1)
        starts = list(range(offset, len(corpus) - num_steps - 1, num_steps))
        random.shuffle(starts)
        total, count = 0.0, 0
        for i in range(0, len(starts) - batch_size + 1, batch_size):
            idx = torch.tensor(starts[i:i + batch_size], device=device)[:, None] + steps
            X, Y = corpus[idx], corpus[idx + 1]
            state = init_rnn_state(batch_size, num_hiddens, device)   # random sampling: a fresh state
            outputs, state = rnn(one_hot(X, vocab_size), state, params)
            loss = char_level_loss(outputs, Y)
            for p in params:
                p.grad = None
            loss.backward()
            grad_clipping(params, theta)
            with torch.no_grad():
                for p in params:
                    p.sub_(lr * p.grad)
            total += loss.item() * Y.numel()
            count += Y.numel()
    return params, perplexity(total / count)
'''

TRAIN_OPTIM = '''def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    device = corpus.device
    W_xh = torch.nn.Parameter(torch.randn(vocab_size, num_hiddens, device=device) * 0.01)
    W_hh = torch.nn.Parameter(torch.randn(num_hiddens, num_hiddens, device=device) * 0.01)
    b_h = torch.nn.Parameter(torch.zeros(num_hiddens, device=device))
    W_hq = torch.nn.Parameter(torch.randn(num_hiddens, vocab_size, device=device) * 0.01)
    b_q = torch.nn.Parameter(torch.zeros(vocab_size, device=device))
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    optimizer = torch.optim.SGD(params, lr=lr)
    L = (len(corpus) - 1) // batch_size
    Xs = corpus[:L * batch_size].reshape(batch_size, L)
    Ys = corpus[1:L * batch_size + 1].reshape(batch_size, L)
    for epoch in range(num_epochs):
        state, losses = None, []
        for s in range(0, L - num_steps + 1, num_steps):
            X, Y = Xs[:, s:s + num_steps], Ys[:, s:s + num_steps]
            if state is None:
                state = init_rnn_state(batch_size, num_hiddens, device)
            else:
                state = (state[0].detach(),)
            outputs, state = rnn(one_hot(X, vocab_size), state, params)
            loss = char_level_loss(outputs, Y)
            optimizer.zero_grad()
            loss.backward()
            grad_clipping(iter(params), theta)     # a generator-like iterable works too
            optimizer.step()
            losses.append(loss.item())
        ppl = perplexity(sum(losses) / len(losses))
    return [p.detach() for p in params], ppl
'''

# The reference with one line changed (or a few): built from its source by a replacement.
_TRAIN_REF = '''def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    device = corpus.device
    params = [torch.randn((vocab_size, num_hiddens), device=device) * 0.01,
              torch.randn((num_hiddens, num_hiddens), device=device) * 0.01,
              torch.zeros(num_hiddens, device=device),
              torch.randn((num_hiddens, vocab_size), device=device) * 0.01,
              torch.zeros(vocab_size, device=device)]
    for param in params:
        param.requires_grad_(True)
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
            state = tuple(s.detach() for s in state)
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
'''


def _train_variant(old: str, new: str) -> str:
    assert old in _TRAIN_REF, old
    return _TRAIN_REF.replace(old, new)


_REF_PARAMS = '''    params = [torch.randn((vocab_size, num_hiddens), device=device) * 0.01,
              torch.randn((num_hiddens, num_hiddens), device=device) * 0.01,
              torch.zeros(num_hiddens, device=device),
              torch.randn((num_hiddens, vocab_size), device=device) * 0.01,
              torch.zeros(vocab_size, device=device)]'''
_CPU_PARAMS = '''    params = [torch.randn((vocab_size, num_hiddens)) * 0.01,
              torch.randn((num_hiddens, num_hiddens)) * 0.01,
              torch.zeros(num_hiddens),
              torch.randn((num_hiddens, vocab_size)) * 0.01,
              torch.zeros(vocab_size)]'''
# Device handling: right by accident on the CPU; without a GPU the meta device tells them apart.
TRAIN_PARAMS_ON_CPU = _train_variant(_REF_PARAMS, _CPU_PARAMS)
TRAIN_OWN_DEVICE = _train_variant("    device = corpus.device\n",
                                  "    device = 'cuda' if torch.cuda.is_available() else 'cpu'\n")
TRAIN_CREATED_THEN_MOVED = _train_variant(_REF_PARAMS, _CPU_PARAMS + "\n    params = [p.to(device) for p in params]")

TRAIN_NO_DETACH = _train_variant("            state = tuple(s.detach() for s in state)\n", "")

TRAIN_NO_UPDATE = _train_variant('''            with torch.no_grad():
                for param in params:
                    param -= lr * param.grad
''', '''            for param in params:
                param = param - lr * param.grad      # rebinds the loop variable: nothing changes
''')

TRAIN_REPORTS_LOSS = _train_variant("        ppl = perplexity(total_loss / total_tokens)",
                                    "        ppl = total_loss / total_tokens")

TRAIN_MISALIGNED_TARGETS = _train_variant(
    "            loss = char_level_loss(outputs, Y)",
    "            loss = F.cross_entropy(outputs, Y.reshape(-1))")

TRAIN_NO_CLIPPING = _train_variant("            grad_clipping(params, theta)\n", "")

TRAIN_STANDARD_NORMAL_INIT = _train_variant("), device=device) * 0.01,", "), device=device),")

TRAIN_GRAD_NOT_CLEARED = _train_variant('''            for param in params:
                param.grad = None
''', "")

TRAIN_LAST_MINIBATCH_PPL = _train_variant("        ppl = perplexity(total_loss / total_tokens)",
                                          "        ppl = perplexity(loss.item())   # the last minibatch's only")

# The book's sequential partitioning with a random offset per epoch (Python's random), the state
# created once and carried (detached) across minibatches AND epochs, and a per-epoch loss average.
TRAIN_OFFSET_CARRIED = '''import random


def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    device = corpus.device
    def normal(*shape):
        return torch.randn(size=shape, device=device) * 0.01
    W_xh, W_hh, b_h = normal(vocab_size, num_hiddens), normal(num_hiddens, num_hiddens), torch.zeros(num_hiddens, device=device)
    W_hq, b_q = normal(num_hiddens, vocab_size), torch.zeros(vocab_size, device=device)
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    for p in params:
        p.requires_grad_(True)
    state = None
    for epoch in range(num_epochs):
        offset = random.randint(0, num_steps)
        n = ((len(corpus) - offset - 1) // batch_size) * batch_size
        Xs = corpus[offset:offset + n].reshape(batch_size, -1)
        Ys = corpus[offset + 1:offset + 1 + n].reshape(batch_size, -1)
        losses, counts = [], []
        for i in range(0, (Xs.shape[1] // num_steps) * num_steps, num_steps):
            X, Y = Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]
            if state is None:
                state = init_rnn_state(batch_size, num_hiddens, device)
            else:
                state = tuple(s.detach_() for s in state)
            y_hat, state = rnn(one_hot(X, vocab_size), state, params)
            l = char_level_loss(y_hat, Y)
            l.backward()
            grad_clipping(params, theta)
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad.zero_()
            losses.append(l.item())
            counts.append(Y.numel())
        ppl = perplexity(sum(a * b for a, b in zip(losses, counts)) / sum(counts))
    return params, ppl
'''

# Sequential partitioning whose last window of each epoch may be shorter than num_steps (it reads
# every token), random init with torch.normal and an optimizer.
TRAIN_SHORT_LAST_WINDOW = '''def train_char_rnn(corpus, vocab_size, num_hiddens, num_steps, batch_size, lr, num_epochs, theta=1.0):
    dev = corpus.device
    shapes = [(vocab_size, num_hiddens), (num_hiddens, num_hiddens), (num_hiddens,), (num_hiddens, vocab_size),
              (vocab_size,)]
    params = [torch.nn.Parameter(torch.normal(0.0, 0.01, s, device=dev) if len(s) == 2 else torch.zeros(s, device=dev))
              for s in shapes]
    opt = torch.optim.SGD(params, lr=lr)
    width = (len(corpus) - 1) // batch_size
    Xs = corpus[:width * batch_size].reshape(batch_size, width)
    Ys = corpus[1:width * batch_size + 1].reshape(batch_size, width)
    for epoch in range(num_epochs):
        (H,) = init_rnn_state(batch_size, num_hiddens, dev)
        total, count = 0.0, 0
        for s in range(0, width, num_steps):
            X, Y = Xs[:, s:s + num_steps], Ys[:, s:s + num_steps]
            outputs, (H,) = rnn(one_hot(X, vocab_size), (H.detach(),), params)
            loss = char_level_loss(outputs, Y)
            opt.zero_grad()
            loss.backward()
            grad_clipping(params, theta)
            opt.step()
            total += float(loss) * Y.numel()
            count += Y.numel()
        ppl = perplexity(total / count)
    return params, ppl
'''

CORRECT = {
    "count_ngrams": {"dict_get": NGRAMS_DICT_GET, "zip_shifted": NGRAMS_ZIP, "sliding_window": NGRAMS_DEFAULTDICT},
    "one_hot": {"scatter": ONE_HOT_SCATTER, "eye_indexing": ONE_HOT_EYE, "permute": ONE_HOT_PERMUTE},
    "init_rnn_state": {"to_device": STATE_TO_DEVICE, "tuple_call": STATE_TUPLE_CALL},
    "rnn_step": {"concatenated_weights": STEP_CONCAT, "addmm_sigmoid_tanh": STEP_ADDMM},
    "rnn": {"inline_mm": RNN_INLINE, "stack_then_reshape": RNN_STACK_RESHAPE},
    "char_level_loss": {"logsumexp": LOSS_LOGSUMEXP, "module_book_style": LOSS_MODULE, "gather": LOSS_GATHER,
                        "logsumexp_by_hand_sum_over_count": LOSS_LSE_BY_HAND_SUM,
                        "log_softmax_nll": LOSS_LOG_SOFTMAX_NLL, "per_sequence_means": LOSS_PER_SEQUENCE_MEANS},
    "perplexity": {"torch_float64": PPL_TORCH, "power": PPL_POWER},
    "grad_clipping": {"linalg_replace_grads": CLIP_LINALG_REPLACE, "python_norm": CLIP_PYTHON_NORM},
    "train_char_rnn": {"random_sampling": TRAIN_RANDOM_SAMPLING, "optim_sgd": TRAIN_OPTIM,
                       "offset_state_carried_across_epochs": TRAIN_OFFSET_CARRIED,
                       "short_last_window": TRAIN_SHORT_LAST_WINDOW,
                       "created_on_the_cpu_then_moved": TRAIN_CREATED_THEN_MOVED},
}

WRONG = {
    "count_ngrams": {
        "off_by_one": (NGRAMS_OFF_BY_ONE, ["the last one is missing"]),
        "list_keys": (NGRAMS_LIST_KEYS, ["tuple"]),
        "bare_unigrams": (NGRAMS_BARE_UNIGRAMS, ["1-tuples"]),
        "set_counts": (NGRAMS_SET, ["every count is 1"]),
        "always_bigrams": (NGRAMS_ALWAYS_BIGRAMS, ["a key of 2 tokens"]),
    },
    "one_hot": {
        "batch_major": (ONE_HOT_BATCH_MAJOR, ["batch-major", "X.T"]),
        "int64": (ONE_HOT_INT64, ["float32"]),
        "classes_from_data": (ONE_HOT_CLASSES_FROM_DATA, ["n_class = 7"]),
    },
    "init_rnn_state": {
        "bare_tensor": (STATE_BARE, ["trailing comma"]),
        "list": (STATE_LIST, ["expected a tuple"]),
        "swapped_shape": (STATE_SWAPPED, ["shape"]),
        "float64": (STATE_FLOAT64, ["float32"]),
        "ignores_device": (STATE_IGNORES_DEVICE, ["is on device cpu"]),
    },
    "rnn_step": {
        "relu": (STEP_RELU, ["tanh"]),
        "no_hidden_bias": (STEP_NO_BIAS, ["b_h"]),
        "W_hh_transposed": (STEP_WHH_T, ["H @ W_hh.T"]),
        "W_hh_on_the_left": (STEP_WHH_LEFT, ["never W_hh @ H"]),
        "output_from_old_state": (STEP_OLD_STATE_OUTPUT, ["new state"]),
        "swapped_return": (STEP_SWAPPED_RETURN, ["(Y_t, H_new)"]),
    },
    "rnn": {
        "stacked": (RNN_STACKED, ["torch.stack"]),
        "initial_state_every_step": (RNN_INITIAL_STATE_EVERY_STEP, ["initial state"]),
        "bare_state": (RNN_BARE_STATE, ["bare tensor"]),
        "batch_major": (RNN_BATCH_MAJOR, ["batch-major"]),
        "relu": (RNN_RELU, ["tanh"]),
    },
    "char_level_loss": {
        "misaligned_targets": (LOSS_MISALIGNED, ["Y.T.reshape(-1)"]),
        "sum": (LOSS_SUM, ["mean"]),
        "per_token": (LOSS_PER_TOKEN, ["mean over all"]),
        "naive_log_softmax": (LOSS_LOG_SOFTMAX_NAIVE, ["log-sum-exp"]),
        "log_of_stable_softmax": (LOSS_LOG_OF_STABLE_SOFTMAX, ["inf", "log(0)"]),
        "clamped_logits": (LOSS_CLAMPED_LOGITS, ["magnitudes up to 1e4", "differs"]),
    },
    "perplexity": {
        "returns_tensor": (PPL_TENSOR, ["Python float"]),
        "bits": (PPL_BITS, ["perplexity(0.75)", "nats"]),
        "tensor_only": (PPL_ITEM, ["AttributeError"]),
    },
    "grad_clipping": {
        # Correct once some gradient exists, but sum() over no gradients is the int 0: it crashes
        # when called before the first backward pass, where it should do nothing.
        "book_slice_no_gradients": (CLIP_BOOK_SLICE, ["nothing to clip"]),
        "book_generator": (CLIP_BOOK_GENERATOR, ["generator"]),
        "always_scales": (CLIP_ALWAYS, ["never scale up"]),
        "per_parameter": (CLIP_PER_PARAMETER, ["global norm"]),
        "builtin": (CLIP_BUILTIN, ["clip_grad_norm_"]),
        "builtin_through_getattr": (CLIP_BUILTIN_COMPUTED, ["aten._foreach_norm", "write the clipping yourself"]),
        "no_none_check": (CLIP_NONE_CRASH, ["None"]),
    },
    "train_char_rnn": {
        "no_detach": (TRAIN_NO_DETACH, ["backward"]),
        "no_update": (TRAIN_NO_UPDATE, ["token frequencies"]),
        "reports_loss": (TRAIN_REPORTS_LOSS, [">= 1"]),
        "misaligned_targets": (TRAIN_MISALIGNED_TARGETS, ["expected at most"]),
        "no_clipping": (TRAIN_NO_CLIPPING, ["not clipped"]),
        "standard_normal_init": (TRAIN_STANDARD_NORMAL_INIT, ["torch.randn(shape) * 0.01"]),
        "gradients_not_cleared": (TRAIN_GRAD_NOT_CLEARED, ["clear them"]),
        "params_on_the_cpu": (TRAIN_PARAMS_ON_CPU, ["every tensor must live on the device"]),
        "own_choice_of_device": (TRAIN_OWN_DEVICE, ["every tensor must live on the device"]),
        "last_minibatch_perplexity": (TRAIN_LAST_MINIBATCH_PPL, ["test_epoch_perplexity", "LAST minibatch"]),
    },
}
