"""The sandbox's promises, each tested by a submission that tries to break it (DESIGN.md §4)."""

import os
import time

import pytest
import torch

from autograder.sandbox import SandboxCrashed, SandboxTimeout
from autograder.student import SandboxSession, Student, StudentError

from autograder.sandbox.probe import host_status
from autograder.sandbox.uids import in_range

from conftest import describe_pids, sandbox_uids

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs a root grader")


def run(sandbox, code: str, fn: str = "f", *args, timeout=5.0, **kwargs):
    """Load ``code`` in a fresh child and call ``fn``; return the value or the StudentError."""
    session = SandboxSession(sandbox, [("attack", code)], call_timeout=timeout, budget=30)
    try:
        return Student(session).call(fn, *args, **kwargs).value
    except StudentError as exc:
        return exc
    finally:
        session.close()


def test_no_network(sandbox):
    code = ("import socket\n"
            "def f():\n"
            "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
            "    s.settimeout(2)\n"
            "    try:\n"
            "        s.connect(('1.1.1.1', 80))\n"
            "        return 'connected'\n"
            "    except OSError as e:\n"
            "        return 'blocked: ' + type(e).__name__\n")
    assert run(sandbox, code).startswith("blocked")


def test_hidden_tests_and_solutions_unreadable(sandbox, kit):
    code = ("import os\n"
            "def f(path):\n"
            "    try:\n"
            "        return sorted(os.listdir(path))\n"
            "    except OSError as e:\n"
            "        return 'denied'\n")
    for secret in (kit.grader_tests, kit.solutions):
        assert secret.is_dir() and any(secret.iterdir())
        assert run(sandbox, code, "f", str(secret)) in ("denied", [])


def test_gradebook_not_writable(sandbox):
    gradebook = sandbox.course / "gradebook.db"
    code = ("def f(path):\n"
            "    try:\n"
            "        with open(path, 'w') as fh:\n"
            "            fh.write('hacked')\n"
            "        return 'wrote'\n"
            "    except OSError as e:\n"
            "        return 'denied'\n")
    assert run(sandbox, code, "f", str(gradebook)) == "denied"
    assert gradebook.read_text() == "grades"


def test_runs_as_an_unprivileged_host_uid_without_groups_or_capabilities(sandbox):
    """Read from the host's /proc, not from what the child says about itself."""
    session = SandboxSession(sandbox, [("attack", "def f():\n    return 1\n")], budget=30)
    try:
        assert Student(session).f() == 1
        status = host_status(session.worker.host_pid)
    finally:
        session.close()
    uids = {int(x) for x in status["Uid"].split()}
    if os.geteuid() == 0:
        assert uids == {sandbox.lease.uid} and in_range(sandbox.lease.uid)
        assert status["Groups"] == ""
    else:
        assert uids == {os.geteuid()}
    assert all(int(status[k], 16) == 0 for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb"))
    assert status["NoNewPrivs"] == "1"


def test_memory_limit(sandbox):
    code = "def f():\n    x = bytearray(16 * 1024**3)\n    return len(x)\n"
    result = run(sandbox, code)
    assert isinstance(result, StudentError)
    assert "MemoryError" in str(result) or "stopped" in str(result)


def test_infinite_loop_is_timed_out_and_killed(sandbox):
    began = time.monotonic()
    result = run(sandbox, "def f():\n    while True:\n        pass\n", timeout=1.5)
    assert isinstance(result, StudentError) and "did not return within 1.5 s" in str(result)
    assert time.monotonic() - began < 10


def test_sleep_is_caught_by_the_wall_clock(sandbox):
    result = run(sandbox, "import time\ndef f():\n    time.sleep(60)\n", timeout=1)
    assert isinstance(result, StudentError) and "did not return" in str(result)


def test_os_exit_costs_the_call_not_the_grader(sandbox):
    result = run(sandbox, "import os\ndef f():\n    os._exit(0)\n")
    assert isinstance(result, StudentError) and "stopped" in str(result)
    assert run(sandbox, "def f():\n    return 41 + 1\n") == 42


def test_top_level_infinite_loop_while_loading(sandbox):
    session = SandboxSession(sandbox, [("attack", "while True:\n    pass\n")], start_timeout=1.5, budget=10)
    result = pytest.raises(StudentError, Student(session).call, "f")
    assert "loading your notebook's answer cells did not finish" in str(result.value)
    session.close()


@root_only
def test_fork_bomb_and_background_processes_leave_nothing_behind(sandbox):
    code = ("import os, time\n"
            "def f():\n"
            "    for _ in range(200):\n"
            "        try:\n"
            "            if os.fork() == 0:\n"
            "                os.setsid()\n"
            "                time.sleep(600)\n"
            "                os._exit(0)\n"
            "        except OSError:\n"
            "            return 'limited'\n"
            "    return 'forked 200'\n")
    sandbox.start()
    uid = sandbox.lease.uid
    own = set(sandbox_uids(only=uid))  # bubblewrap and the zygote
    session = SandboxSession(sandbox, [("attack", code)], budget=30)
    assert Student(session).f() == "limited"
    assert len(set(sandbox_uids(only=uid)) - own) > 10, "the forked processes should be alive before the kill"
    session.close()
    deadline = time.monotonic() + 5
    while set(sandbox_uids(only=uid)) - own and time.monotonic() < deadline:
        time.sleep(0.1)
    left = sorted(set(sandbox_uids(only=uid)) - own)
    assert left == [], describe_pids(left)


def test_patching_torch_in_the_child_does_not_reach_the_grader(sandbox):
    code = ("import torch\n"
            "torch.allclose = lambda *a, **k: True\n"
            "torch.Tensor.__eq__ = lambda *a, **k: True\n"
            "def f(x):\n"
            "    return x * 0\n")
    value = run(sandbox, code, "f", torch.ones(3))
    assert torch.equal(value, torch.zeros(3))
    assert not torch.allclose(torch.zeros(1), torch.ones(1))


def test_odd_objects_stay_in_the_child_and_huge_returns_are_refused(sandbox):
    from autograder.student import RemoteObject
    result = run(sandbox, "import numpy\ndef f():\n    return numpy.zeros(3)\n")
    assert isinstance(result, RemoteObject) and result.type_name == "ndarray"
    result = run(sandbox, "import torch\ndef f():\n    return torch.zeros(40 * 1024 * 1024)\n")
    assert isinstance(result, StudentError)


def test_hostile_reply_bytes_never_run_code(sandbox, tmp_path):
    marker = tmp_path / "pwned"
    # The child writes a pickle-looking reply directly on its socket; the grader must not unpickle it.
    code = ("import os, pickle, socket, gc\n"
            "class P:\n"
            f"    def __reduce__(self):\n        return (open, ({str(marker)!r}, 'w'))\n"
            "def f():\n"
            "    s = [o for o in gc.get_objects() if isinstance(o, socket.socket)][0]\n"
            "    data = pickle.dumps(P())\n"
            "    s.sendall(len(data).to_bytes(8, 'little') + data)\n"
            "    return 1\n")
    result = run(sandbox, code)
    assert isinstance(result, StudentError)
    assert not marker.exists()


def test_system_v_ipc_is_refused_or_dies_with_the_child(sandbox):
    """System V shared memory is in no rlimit and outlives its creator: refused outright.  A message
    queue (small) is allowed, but each child has its own IPC namespace, so the next student never
    sees it and it is freed with the child."""
    code = ("import ctypes\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "def shm():\n"
            "    return [libc.shmget(0xD21, 1 << 20, 0o1666), ctypes.get_errno()]\n"
            "def make():\n"
            "    return libc.msgget(0xD21, 0o1666)\n"
            "def find():\n"
            "    return libc.msgget(0xD21, 0o666)\n")
    assert run(sandbox, code, "shm") == [-1, 1]  # EPERM
    assert run(sandbox, code, "make") >= 0
    assert run(sandbox, code, "find") == -1


@root_only
def test_concurrent_sandboxes_get_their_own_unprivileged_uids(kit):
    from autograder.sandbox import Sandbox
    from autograder.sandbox.uids import LOCK_DIR
    boxes = [Sandbox(must_not_see=kit.secret_dirs(), probe_first=False) for _ in range(2)]
    try:
        for box in boxes:
            box.start()
        uids = [box.lease.uid for box in boxes]
        assert uids[0] != uids[1] and all(in_range(u) and u != 0 for u in uids)
        for box in boxes:
            session = SandboxSession(box, [("c", "def f():\n    return 1\n")])
            assert Student(session).f() == 1
            assert {int(x) for x in host_status(session.worker.host_pid)["Uid"].split()} == {box.lease.uid}
            session.close()
    finally:
        for box in boxes:
            box.close()
    assert not any(os.path.exists(os.path.join(LOCK_DIR, f"uid-{u}.lock")) for u in uids)


def test_the_sandbox_core_imports_neither_pytest_nor_nbgrader():
    import subprocess
    import sys
    code = ("import sys, autograder.sandbox, autograder.sandbox.zygote, autograder.sandbox.probe\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest', 'nbgrader')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_children_do_not_load_the_self_check_or_pytest(sandbox):
    code = ("import sys\n"
            "try:\n"
            "    from autograder.selfcheck import self_check\n"
            "    LOADED = 'imported'\n"
            "except ImportError:\n"
            "    LOADED = 'refused'\n"
            "def f():\n"
            "    return [LOADED, 'pytest' in sys.modules]\n")
    assert run(sandbox, code) == ["refused", False]


def test_a_child_that_cannot_be_isolated_stops_the_grading(kit):
    """A step that does not take is never swallowed: the sandbox refuses, it does not grade."""
    from autograder.sandbox import Limits, Sandbox, SandboxUnavailable
    box = Sandbox(must_not_see=kit.secret_dirs(), limits=Limits(open_files=2 ** 64 + 5), probe_first=False)
    try:
        with pytest.raises(SandboxUnavailable, match="could not be isolated"):
            box.spawn([("c", "def f():\n    return 1\n")])
    finally:
        box.close()


# ------------------------------------------------------------------ what namespaces do not isolate

_KEY_SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}  # add_key, keyctl


def _keyring_calls():
    import ctypes
    import platform
    if platform.machine() not in _KEY_SYSCALLS:
        pytest.skip(f"no keyring system-call numbers known for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc, _KEY_SYSCALLS[platform.machine()]


def test_the_graders_keyrings_are_out_of_reach(kit):
    """Kernel keyrings are not namespaced: a grader started from a login has a session keyring
    (tokens, credentials).  The test gives this process one, with a secret, then starts a sandbox."""
    import ctypes
    from autograder.sandbox import Sandbox
    libc, (add_key, keyctl) = _keyring_calls()
    KEY_SPEC_SESSION_KEYRING, KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_READ = -3, 1, 11
    assert libc.syscall(keyctl, KEYCTL_JOIN_SESSION_KEYRING, None) > 0
    secret = b"d2l-test-secret-token"
    key = libc.syscall(add_key, b"user", b"d2l-test", secret, len(secret), KEY_SPEC_SESSION_KEYRING)
    assert key > 0
    arch = {"x86_64": (248, 250), "aarch64": (217, 219)}
    code = ("import ctypes, platform, os\n"
            f"ADD, CTL = {arch!r}[platform.machine()]\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.syscall.restype = ctypes.c_long\n"
            "def f(key):\n"
            "    buf = ctypes.create_string_buffer(256)\n"
            "    got = [libc.syscall(CTL, 11, key, buf, 256), buf.raw[:64]]\n"
            "    got.append(libc.syscall(ADD, b'user', b'planted', b'x', 1, -3))\n"
            "    got.append(libc.syscall(CTL, 0, -3, 0))\n"  # KEYCTL_GET_KEYRING_ID of the session keyring
            "    got.append(ctypes.get_errno())\n"
            "    return [g if isinstance(g, int) else g.hex() for g in got]\n")
    box = Sandbox(must_not_see=kit.secret_dirs())
    try:
        result = run(box, code, "f", key)
    finally:
        box.close()
    assert secret.hex() not in str(result) and result[0] == -1 and result[2] == -1 and result[3] == -1
    buf = ctypes.create_string_buffer(4096)
    listed = libc.syscall(keyctl, KEYCTL_READ, KEY_SPEC_SESSION_KEYRING, buf, 4096)
    assert listed == 4  # still only the test's own key: nothing was planted


def test_vsock_and_other_unisolated_socket_families_are_refused(sandbox):
    """The network namespace does not isolate AF_VSOCK (the hypervisor's) or AF_PACKET."""
    import socket as host_socket
    listener, port = None, None
    try:
        listener = host_socket.socket(40, host_socket.SOCK_STREAM)  # AF_VSOCK on the host, if any
        listener.bind((0xFFFFFFFF, 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
    except OSError:
        listener = None
    code = ("import socket, errno\n"
            "def f(port):\n"
            "    out = {}\n"
            "    for name, family in (('vsock', 40), ('packet', 17), ('bluetooth', 31), ('alg', 38)):\n"
            "        try:\n"
            "            s = socket.socket(family, socket.SOCK_STREAM if family != 17 else socket.SOCK_RAW)\n"
            "            out[name] = 'created'\n"
            "            if family == 40 and port is not None:\n"
            "                s.settimeout(1)\n"
            "                s.connect((1, port))\n"
            "                out[name] = 'connected'\n"
            "        except OSError as e:\n"
            "            out[name] = errno.errorcode.get(e.errno, str(e.errno))\n"
            "    return out\n")
    result = run(sandbox, code, "f", port)
    assert result == {"vsock": "EAFNOSUPPORT", "packet": "EAFNOSUPPORT", "bluetooth": "EAFNOSUPPORT",
                      "alg": "EAFNOSUPPORT"}
    if listener is not None:
        with pytest.raises(BlockingIOError):
            listener.accept()
        listener.close()


def _host_shmem() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Shmem:"))


def test_memory_outside_the_address_space_limit_is_refused(sandbox):
    """memfd pages count in no process's RSS or RLIMIT_AS: a child held gigabytes of them."""
    code = ("import os\n"
            "def f():\n"
            "    try:\n"
            "        fd = os.memfd_create('hog')\n"
            "    except OSError as e:\n"
            "        return 'refused'\n"
            "    for _ in range(256):\n"
            "        os.write(fd, b'x' * (1 << 20))\n"
            "    return 'held'\n")
    session = SandboxSession(sandbox, [("hog", code)], budget=30)
    try:
        before = _host_shmem()
        assert Student(session).f() == "refused"
        assert _host_shmem() - before < 64 << 20
        status = host_status(session.worker.host_pid)
        assert status["Seccomp"] == "2"  # a filter, read from the host's /proc
        with open(f"/proc/{session.worker.host_pid}/oom_score_adj") as f:
            assert f.read().strip() == "1000"  # the kernel's first choice when memory runs out
    finally:
        session.close()


def test_a_child_cannot_find_an_earlier_students_code(sandbox):
    """Every child is forked from the zygote: if the zygote had held a student's cells, the next
    student could read them in its own memory."""
    marker = "D2L-PRIVATE-" + "alice" * 3
    alice = "SECRETS = [" + ", ".join([repr(marker)] * 500) + "]\ndef f():\n    return len(SECRETS)\n"
    assert run(sandbox, alice) == 500
    scan = ("def f(reversed_marker):\n"
            "    needle, hits = reversed_marker[::-1].encode(), 0\n"
            "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:\n"
            "        for line in maps:\n"
            "            span, perms = line.split()[:2]\n"
            "            if 'r' not in perms:\n"
            "                continue\n"
            "            start, end = (int(x, 16) for x in span.split('-'))\n"
            "            try:\n"
            "                mem.seek(start)\n"
            "                hits += mem.read(end - start).count(needle)\n"
            "            except (OSError, ValueError, OverflowError):\n"
            "                pass\n"
            "    return hits\n")
    # its own needle is in its memory once or twice; alice's cell held the marker 500 times
    assert run(sandbox, scan, "f", marker[::-1], timeout=30) < 20


def test_a_spent_budget_stops_a_child_that_answers_fast_but_expensively(sandbox):
    """Decoding happens after the child answered; the budget counts it, and once it is spent no
    further request goes out: the child is killed and every later check fails at once."""
    code = "def f():\n    return 1\n"
    session = SandboxSession(sandbox, [("c", code)], budget=30)
    student = Student(session)
    try:
        assert student.f() == 1
        session.used = session.budget  # as if the replies so far had cost the whole budget
        worker = session.worker
        with pytest.raises(StudentError, match="time allowed for grading this notebook"):
            student.f()
        assert not worker.alive and session.worker is None
    finally:
        session.close()
