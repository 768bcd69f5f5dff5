"""Hostile submissions graded through the CLI, by root and by an ordinary user (issue 7).

Every check is made from outside the sandbox: files hashed before and after (the kit with its
``.git``, the venv, the home directory, the course's configuration, sources and submissions),
the host's ``/tmp`` and ``/dev/shm``, the process table, listeners the test opened, and the text of
the JSON, the feedback and the autograded notebooks.  Honest classmates graded in the same batch
must get full marks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from autograder.course import reference_answer_cells
from autograder.notebook import d2l_meta, read_notebook
from autograder.paths import KitPaths
from autograder.sandbox.uids import in_range

from graders import (changed, descendants, load_json, processes, root_grader, shm_used, still_alive,
                     tree_fingerprint, user_grader)
from hostile import ASSIGNMENT, ATTACKS, Attack

HONEST = ("honest", "victim")
# What the attacks write in their /tmp, and what the first sandbox left in the host's (other tests
# running at the same time may create other names there)
LEFTOVERS = ("fill-", "zz_pwned", "pwned", "d2l-sandbox-", ".d2l-", "d2l-probe-marker")


def _grader(mode: str, tmp_path_factory):
    return root_grader(tmp_path_factory.mktemp("kit")) if mode == "root" else user_grader()


def _notebook(release: dict, reference: dict, attack: Attack | None) -> dict:
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        meta = d2l_meta(cell)
        if meta.get("role") != "exercise":
            continue
        fn = meta["function"]
        if attack is not None and fn in attack.cells:
            cell["source"] = attack.cells[fn]
        elif attack is None or attack.base == "reference":
            cell["source"] = reference[fn]
        if attack is not None and fn in attack.untag:
            cell["metadata"].pop("nbgrader", None)
            cell["metadata"].pop("d2l", None)
    for i, source in enumerate(attack.extra if attack is not None else ()):
        nb["cells"].append({"cell_type": "code", "id": f"extra-{i}", "metadata": {}, "source": source,
                            "outputs": [], "execution_count": None})
    return nb


class Listeners:
    """Sockets the attacks try to reach: a TCP port on loopback, unix sockets in the host's /tmp
    and the grader's home, an abstract unix socket.  They count what they accepted."""

    def __init__(self, home: Path, owner):
        tag = uuid.uuid4().hex[:12]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.paths = [f"/tmp/d2l-test-{tag}.sock", str(home / f"d2l-test-{tag}.sock")]
        self.abstract = f"d2l-test-{tag}"
        self.unix = []
        for path in self.paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            os.chmod(path, 0o777)
            self.unix.append(s)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind("\0" + self.abstract)
        self.unix.append(s)
        for s in [self.tcp, *self.unix]:
            s.listen(16)
            s.setblocking(False)

    def accepted(self) -> int:
        """Connections received so far, on any of them."""
        count = 0
        for s in [self.tcp, *self.unix]:
            while True:
                try:
                    conn, _ = s.accept()
                except OSError:
                    break
                conn.close()
                count += 1
        return count

    def close(self) -> None:
        """Close them all and remove the socket files."""
        for s in [self.tcp, *self.unix]:
            s.close()
        for path in self.paths:
            try:
                os.unlink(path)
            except OSError:
                pass


def _outputs(course: Path) -> dict[str, str]:
    texts = {}
    for folder in ("autograded", "feedback"):
        for path in (course / folder).rglob("*"):
            if path.is_file() and path.suffix in (".ipynb", ".html"):
                texts[str(path.relative_to(course))] = path.read_text(errors="replace")
    return texts


def _sandbox_orphans(user_uid: int | None) -> list[str]:
    """Processes of a sandbox (a sandbox uid, or the grading user's) whose chain of such processes
    ends at init: their grader is gone.  A sandbox of a grader still running on this machine (other
    tests) leads to that live grader instead."""
    procs = processes()
    ours = (lambda uid: uid == user_uid) if user_uid is not None else in_range
    out = []
    for pid, (uid, cmd, _start) in procs.items():
        if not ours(uid):
            continue
        cur = pid
        for _ in range(64):
            try:
                with open(f"/proc/{cur}/stat") as f:
                    cur = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                cur = 0
            if cur <= 1 or cur not in procs or not ours(procs[cur][0]):
                break
        if cur <= 1:
            out.append(f"{pid} uid {uid}: {cmd}")
    return out


@pytest.fixture(scope="module", params=["root", "user"])
def attacked(request, tmp_path_factory):
    """Every attack and two honest classmates, graded in one batch through the CLI; what the
    outside world looked like before and after."""
    grader = _grader(request.param, tmp_path_factory)
    if grader.user is None:
        parent = tmp_path_factory.mktemp(f"hostile-{request.param}")
    else:
        parent = grader.home / "courses" / uuid.uuid4().hex[:8]
    course = grader.new_course(parent, ASSIGNMENT)
    kit, venv = grader.kit, Path(grader.python).parent.parent
    site = next(venv.glob("lib/python3*/site-packages"))
    listeners = Listeners(grader.home, grader)
    targets = {
        "write": [str(kit / "autograder" / "plugin.py"), str(kit / "autograder" / "__init__.py"),
                  str(kit / ".git" / "config"), str(kit / ".git" / "HEAD"), str(kit / "solutions" / f"{ASSIGNMENT}.py"),
                  *[str(p) for p in site.glob("*.pth")], str(grader.home / ".bashrc"), str(grader.home / ".profile"),
                  str(course / "nbgrader_config.py"), str(course / "gradebook.db"),
                  str(course / "submitted" / "victim" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                  str(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")],
        "dirs": [str(site), str(kit / "autograder"), str(grader.home), str(course), str(course / "submitted" / "victim"),
                 str(kit / ".git" / "objects"), "/var/tmp", "/run"],
        "read": [str(kit / "solutions" / f"{ASSIGNMENT}.py"), str(kit / "grader_tests" / f"test_{ASSIGNMENT}.py"),
                 str(kit / ".git" / "packed-refs"), str(kit / ".git" / "config"),
                 str(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), str(course / "gradebook.db"),
                 str(grader.home / ".bashrc")],
        "sockets": listeners.paths, "abstract": [listeners.abstract], "tcp_port": listeners.tcp.getsockname()[1],
    }
    attacks = [make(targets) for make in ATTACKS]
    release = read_notebook(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    reference = reference_answer_cells(KitPaths(), ASSIGNMENT)
    for name, attack in [*((h, None) for h in HONEST), *((a.name, a) for a in attacks)]:
        folder = course / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(_notebook(release, reference, attack)))
        (folder / "timestamp.txt").write_text("2026-11-27 09:00:00.000000 UTC")
    grader.own(course)
    (grader.home / ".bashrc").touch()
    (grader.home / ".profile").touch()
    grader.own(grader.home / ".bashrc")
    grader.own(grader.home / ".profile")

    course_inputs = ("nbgrader_config.py", "source", "release", "submitted")
    def outside():
        return {"kit": tree_fingerprint(kit), "venv": tree_fingerprint(venv, content_limit=64 * 1024),
                "home": {k: v for k, v in tree_fingerprint(grader.home, skip=(str(kit), str(venv), str(parent)),
                                                            content_limit=64 * 1024).items()
                         if not k.startswith((".cache", "courses", "kits", "kit-base", ".d2l-test.lock", "d2l-test-"))}
                if grader.user else
                        {n: tree_fingerprint(grader.home / n) for n in (".bashrc", ".profile") if (grader.home / n).exists()},
                "course": {n: tree_fingerprint(course / n) if (course / n).is_dir() else
                           tree_fingerprint(course, content_limit=1 << 30).get(n) for n in course_inputs}}
    before = outside()
    tmp_before, shm_before = set(os.listdir("/tmp")), shm_used()
    began = time.monotonic()
    proc = grader.d2l_grade("grade", str(course), ASSIGNMENT, "--json", "--feedback", timeout=900)
    seconds = time.monotonic() - began
    time.sleep(0.5)
    result = {
        "grader": grader, "course": course, "proc": proc, "seconds": seconds, "attacks": attacks,
        "before": before, "after": outside(),
        "tmp_new": sorted(n for n in set(os.listdir("/tmp")) - tmp_before if n.startswith(LEFTOVERS)),
        "shm_growth": shm_used() - shm_before,
        "orphans": _sandbox_orphans(None if grader.user is None else __import__("pwd").getpwnam(grader.user).pw_uid),
        "accepted": listeners.accepted(), "outputs": _outputs(course),
    }
    listeners.close()
    yield result


def _recorded(course: Path) -> dict[str, float]:
    """Each student's total auto score as the gradebook holds it (read with sqlite, not nbgrader)."""
    db = sqlite3.connect(course / "gradebook.db")
    try:
        return dict(db.execute("select student.id, sum(grade.auto_score) from grade join submitted_notebook on "
                               "grade.notebook_id = submitted_notebook.id join submitted_assignment on "
                               "submitted_notebook.assignment_id = submitted_assignment.id join student on "
                               "submitted_assignment.student_id = student.id group by student.id").fetchall())
    finally:
        db.close()


def _totals(results: dict, student: str) -> tuple[float, float]:
    entry = results[student]
    return sum(e["score"] for e in entry.values()), sum(e["max_score"] for e in entry.values())


def test_grading_finishes_and_honest_classmates_get_full_marks(attacked):
    results = load_json(attacked["proc"])
    for student in HONEST:
        score, max_score = _totals(results, student)
        assert score == max_score > 0, (student, results[student])
    rows = _recorded(attacked["course"])
    for student in HONEST:
        assert rows[student] == pytest.approx(_totals(results, student)[0])
    for attack in attacked["attacks"]:
        assert attack.name in rows, f"{attack.name} was not recorded"


def test_attacks_built_on_the_stubs_earn_nothing(attacked):
    results = load_json(attacked["proc"])
    recorded = _recorded(attacked["course"])
    for attack in attacked["attacks"]:
        if attack.base == "stubs":
            assert _totals(results, attack.name)[0] == 0, (attack.name, results[attack.name])
            assert recorded[attack.name] == 0, attack.name


def test_nothing_outside_the_course_outputs_changed(attacked):
    before, after = attacked["before"], attacked["after"]
    assert changed(before["kit"], after["kit"]) == []
    assert changed(before["venv"], after["venv"]) == []
    assert before["home"] == after["home"]
    for name in before["course"]:
        left, right = before["course"][name], after["course"][name]
        if isinstance(left, dict):
            assert changed(left, right) == [], name
        else:
            assert left == right, name


def test_no_secret_reaches_the_json_feedback_or_autograded_notebooks(attacked, kit):
    """What the attackers get back (their JSON entries, feedback and autograded notebooks) holds
    no line of the hidden suite or the reference, nothing of .git or the gradebook."""
    results = load_json(attacked["proc"])
    names = [a.name for a in attacked["attacks"]]
    # nothing vacuous: every attacker got a feedback page and an autograded notebook to search
    for name in names:
        for path in (f"feedback/{name}/{ASSIGNMENT}/{ASSIGNMENT}.html", f"autograded/{name}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"):
            assert path in attacked["outputs"], (path, attacked["proc"].stderr[-2000:])
    texts = [json.dumps(results[n]) for n in names]
    texts += [text for path, text in attacked["outputs"].items() if path.split("/")[1] in names]
    visible = "\n".join(texts)
    release = (attacked["course"] / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    attack_text = "\n".join(src for a in attacked["attacks"] for src in a.cells.values())
    attack_text += "\n".join(reference_answer_cells(kit, ASSIGNMENT).values())  # several attacks start from it
    markers = []
    for path in (kit.solution_module(ASSIGNMENT), kit.hidden_suite(ASSIGNMENT)):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 40 and line not in release and line not in attack_text and json.dumps(line)[1:-1] not in release:
                markers.append(line)
    assert len(markers) > 50
    leaked = [m for m in markers if m in visible or json.dumps(m)[1:-1] in visible]
    assert leaked == [], leaked[:5]
    for secret in ("repositoryformatversion", "SQLite format 3", "PACK\x00", "BEGIN HIDDEN TESTS"):
        assert secret not in visible, secret


def test_escape_attempts_all_failed(attacked):
    results = load_json(attacked["proc"])
    messages = [t["message"] for t in results["escape_and_write"]["softmax"]["tests"]]
    assert messages and all("escape results: []" in m for m in messages), messages[:2]


def test_output_stays_bounded(attacked):
    """The kit's messages are capped: what it writes is bounded by a constant plus what the student
    sent (nbgrader writes the student's own cells back, one JSON line per source line)."""
    assert len(attacked["proc"].stdout) < 2_000_000
    for name, text in attacked["outputs"].items():
        student = name.split("/")[1]
        sent = (attacked["course"] / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").stat().st_size
        assert len(text) < 3_000_000 + 10 * sent, name
    results = load_json(attacked["proc"])
    shown = sum(len(t["message"]) for e in results["amplify_output"].values() for t in e["tests"])
    assert shown <= 70_000


def test_nothing_left_on_the_host(attacked):
    assert attacked["tmp_new"] == []
    assert attacked["shm_growth"] < 1 << 20
    assert attacked["orphans"] == []


def test_no_socket_of_the_host_was_reached(attacked):
    assert attacked["accepted"] == 0


# ------------------------------------------------------------------ the grader killed with SIGKILL

LINGER = '''import os, time
def softmax(X):
    for _ in range(3):
        if os.fork() == 0:
            os.setsid()
            time.sleep(600)
            os._exit(0)
    time.sleep(600)
'''


@pytest.mark.parametrize("mode", ["root", "user"])
def test_sandbox_dies_with_a_grader_killed_by_sigkill(mode, tmp_path_factory):
    grader = _grader(mode, tmp_path_factory)
    parent = tmp_path_factory.mktemp("sigkill") if grader.user is None else \
        grader.home / "courses" / uuid.uuid4().hex[:8]
    course = grader.new_course(parent, ASSIGNMENT)
    release = read_notebook(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    folder = course / "submitted" / "lingerer" / ASSIGNMENT
    folder.mkdir(parents=True)
    reference = reference_answer_cells(KitPaths(), ASSIGNMENT)
    attack = Attack("lingerer", "reference", {"softmax": LINGER})
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(_notebook(release, reference, attack)))
    grader.own(course)
    import subprocess
    env = grader.environment()
    proc = subprocess.Popen(grader.command([grader.python, "-m", "autograder.cli", "grade", str(course), ASSIGNMENT]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=str(grader.home))
    try:
        deadline = time.monotonic() + 120
        tree = {}
        while time.monotonic() < deadline:
            tree = descendants(proc.pid)
            sleepers = [p for p in tree if "zygote" in processes().get(p, (0, "", 0))[1]]
            if len(sleepers) >= 5:  # the zygote, the student's child and its three sleepers
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the lingering submission never ran: {tree}")
        time.sleep(0.5)
        tree = descendants(proc.pid)
        procs = processes()
        cli = [p for p in [proc.pid, *tree] if "autograder.cli" in procs.get(p, (0, "", 0))[1]]
        assert cli
        os.kill(cli[-1], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while still_alive(tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert still_alive(tree) == [], [processes().get(p) for p in still_alive(tree)]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_notebook_built_to_stall_the_parser_is_graded_like_any_other(attacked):
    """Megabytes of blank lines around an answer cell that lost its metadata: read in linear time,
    the cell that defines softmax is found and graded, the classmates were not held up."""
    results = load_json(attacked["proc"])
    score, max_score = _totals(results, "stall_the_parser")
    assert score == max_score > 0, results["stall_the_parser"]["softmax"]
