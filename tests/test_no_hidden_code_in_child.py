"""No hidden test code reaches a student's process (finding 10 of the security review).

Whatever the grader sends into the sandboxed child, the student's code can read there
(``gc.get_objects()``, a patched ``builtins.eval``, frame inspection) and send back in an error
message, which becomes feedback.  So only the public text of :mod:`autograder.inspections` may cross:
``Student.eval`` and the proxy's encoding of ``wire.Code`` arguments refuse anything else, and a
hostile submission that captures everything it can is graded with two hidden suites that inspect
its objects a lot; none of the hidden suites' text may come back.
"""

from __future__ import annotations

import ast

import pytest
import torch

from autograder import inspections
from autograder.course import reference_answer_cells
from autograder.notebook import load_assignment
from autograder.paths import KitPaths
from autograder.sandbox.wire import Code
from autograder.student import LocalSession, Student, StudentError
from autograder.variants import grade_variants

MIN_FRAGMENT = 30
MARK = "<<CAPTURED>>"

# Prepended to the first answer cell: patch eval (the child's eval and the Code path look it up in
# builtins), and on the first sight of any text raise it, with whatever else was found in the callers'
# frames and among the objects the collector tracks, newest first, within the message size limit.
ATTACK = r'''
import builtins as _builtins, gc as _gc, sys as _sys, types as _types

_SEEN, _QUEUE = set(), []
_REAL_EVAL = _builtins.eval


def _note(text):
    if isinstance(text, str) and text and text not in _SEEN:
        _SEEN.add(text)
        _QUEUE.append(text)


def _strings(value, depth=0):
    if isinstance(value, str):
        _note(value)
    elif depth < 3 and isinstance(value, dict) and len(value) < 50:
        for key, item in list(value.items()):
            _strings(key, depth + 1)
            _strings(item, depth + 1)
    elif depth < 3 and isinstance(value, (list, tuple)) and len(value) < 50:
        for item in value:
            _strings(item, depth + 1)
    elif hasattr(value, "src"):
        _strings(getattr(value, "src", None), depth + 1)


def _harvest():
    frame = _sys._getframe(1)
    while frame is not None:
        if not frame.f_code.co_filename.startswith("<cell"):
            for name, value in list(frame.f_locals.items()):
                if name not in ("scope", "state", "namespace"):
                    _strings(value)
        frame = frame.f_back
    for obj in _gc.get_objects():
        if isinstance(obj, _types.FunctionType) and obj.__module__ is None and obj.__code__.co_filename == "<string>":
            _note(repr(obj.__code__.co_consts) + repr(obj.__code__.co_names))
        elif type(obj).__name__ == "Code":
            _strings(getattr(obj, "src", None))
        elif isinstance(obj, dict) and ("expr" in obj or "op" in obj):
            _strings(obj)


def _leak(first):
    _note(first)
    _harvest()
    shown = [first] + [t for t in reversed(_QUEUE) if t != first]
    text, used = "<<CAPTURED>>", []
    for item in shown:
        if len(text) + len(item) > 560:
            continue
        text += "\n" + item
        used.append(item)
    for item in used:
        if item in _QUEUE:
            _QUEUE.remove(item)
    raise RuntimeError(text)


def _spy_eval(source, *args, **kwargs):
    text = source if isinstance(source, str) else repr(source)
    if text not in _SEEN:
        _leak(text)
    return _REAL_EVAL(source, *args, **kwargs)


_builtins.eval = _spy_eval
'''


def attacked_cells(kit, assignment: str) -> dict[str, str]:
    """The reference's answer cells, the first one led by :data:`ATTACK`."""
    spec = load_assignment(kit, assignment)
    reference = reference_answer_cells(kit, assignment)
    first = spec.exercises[0]
    return {first: ATTACK + "\n" + reference[first]}


def _literals(source: str) -> list[str]:
    """Every string constant of a module (implicit concatenations joined; f-strings' literal parts)."""
    return [node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def public_text(kit) -> str:
    """What students may see anyway: the registry (its source and values) and the public suites."""
    parts = [(kit.root / "autograder" / "inspections.py").read_text(), *inspections.EXPRESSIONS,
             *inspections.FUNCTIONS]
    for path in sorted((kit.root / "autograder" / "public").glob("*.py")):
        parts.append(path.read_text())
        parts += _literals(path.read_text())
    return "\n".join(parts)


def hidden_fragments(kit, also_public: str) -> tuple[list[str], list[str]]:
    """(lines, literals) of ``grader_tests/*.py`` of at least :data:`MIN_FRAGMENT` characters that are
    not in ``also_public``: stripped source lines, and string constants (an expression sent into the
    child is a string constant, its source lines carry quotes)."""
    lines, literals = set(), set()
    for path in sorted((kit.root / "grader_tests").glob("*.py")):
        source = path.read_text()
        lines.update(line.strip() for line in source.splitlines())
        literals.update(text.strip() for text in _literals(source))
    keep = lambda texts: sorted(t for t in texts if len(t) >= MIN_FRAGMENT and t not in also_public)  # noqa: E731
    return keep(lines), keep(literals)


def messages(results: dict) -> list[str]:
    """Every test message of every submission in ``results``."""
    return [t["message"] for entry in results.values() for e in entry.values() for t in e["tests"]]


def captured(texts: list[str]) -> str:
    """What the attack carried out: the part of each message from its marker on."""
    return "\n".join(text[text.index(MARK):] for text in texts if MARK in text)


@pytest.fixture(scope="module", params=["model_construction", "mlp"])
def attacked(request, kit, sandbox):
    """The hidden suite of an assignment that inspects the student's objects a lot, run on the attack."""
    assignment = request.param
    results = grade_variants(kit, assignment, {"attacker": attacked_cells(kit, assignment)},
                             include_reference=False, focused=False, devices=["cpu"], sandbox=sandbox)
    spec = load_assignment(kit, assignment)
    own = "\n".join([ATTACK, *reference_answer_cells(kit, assignment).values(),
                     *(src for _, src in spec.setup_cells)])
    return assignment, messages(results), own


def test_the_attack_captures_what_crosses(attacked):
    """The capture works: registered expressions come back in the messages, so their absence of
    anything else means something."""
    _assignment, texts, _own = attacked
    out = captured(texts)
    assert out.count(MARK) >= 5
    seen = [expr for expr in inspections.EXPRESSIONS if "\n" + expr + "\n" in out + "\n"]
    assert len(seen) >= 5, out[:3000]


def test_no_hidden_test_code_comes_back(attacked, kit):
    """No line of the hidden suites (of 30+ characters) that is not public appears in the messages, and
    none of their string constants appears in what the attack carried out."""
    _assignment, texts, own = attacked
    allowed = public_text(kit) + "\n" + own
    lines, literals = hidden_fragments(kit, allowed)
    assert len(lines) > 500 and len(literals) > 500
    everything, out = "\n".join(texts), captured(texts)
    assert [line for line in lines if line in everything] == []
    assert [text for text in literals if text in out] == []


# ------------------------------------------------------------------ the refusal, at the API level

NAMESPACE = "import torch\ndef make():\n    return torch.nn.Linear(2, 3)\ndef apply(f, x):\n    return f(x)\n"


@pytest.fixture
def local_student():
    """A student whose code runs in this process (as in a notebook's self-check)."""
    namespace = {}
    exec(NAMESPACE, namespace)
    return Student(LocalSession(namespace))


def test_unregistered_expressions_are_refused_as_the_graders_mistake(local_student):
    """Refused before anything is sent, with an error that is not the student's and does not repeat the text."""
    net = local_student.make()
    assert local_student.eval(inspections.PARAM_SHAPES, net=net) == [(3, 2), (3,)]
    secret = "[p.sum() for p in net.parameters()]  # hidden"
    with pytest.raises(inspections.UnregisteredCode) as refused:
        local_student.eval(secret, net=net)
    assert isinstance(refused.value, ValueError) and not isinstance(refused.value, StudentError)
    assert "autograder/inspections.py" in str(refused.value)
    assert secret not in str(refused.value)  # a refused text never reaches feedback through the message
    assert refused.value.text == secret and secret in "".join(refused.value.__notes__)
    with pytest.raises(inspections.UnregisteredCode):
        local_student.eval(f"net.to({'cpu'!r})", net=net)  # values go in bindings, never in the text


def test_unregistered_functions_are_refused(local_student):
    """A ``wire.Code`` argument must carry a registered source, even nested in a list."""
    x = torch.tensor([1.0, 2.0])
    assert local_student.apply(Code(inspections.CUBE_SUM_FN), x).item() == pytest.approx(9.0)
    with pytest.raises(inspections.UnregisteredCode):
        local_student.apply(Code("lambda x: x.sum() * 2"), x)
    with pytest.raises(inspections.UnregisteredCode):
        local_student.call("apply", [Code("lambda x: x")], x)  # nested in a list, too


def test_registry_conventions():
    """``_FN`` names are functions, not expressions; every network has its seeded build, nothing else."""
    assert inspections.CUBE_SUM_FN in inspections.FUNCTIONS and inspections.CUBE_SUM_FN not in inspections.EXPRESSIONS
    assert all(inspections.seeded(net) in inspections.EXPRESSIONS for net in inspections.NETWORKS)
    assert inspections.seeded("torch.nn.Linear(9, 9)") not in inspections.EXPRESSIONS


def test_suites_send_only_named_registry_text(kit):
    """In the hidden and public suites, what reaches ``eval``, ``_eval`` or ``Code`` is never a literal
    or a formatted string (those would bypass the registry's names)."""
    offenders = []
    for path in [*sorted((kit.root / "grader_tests").glob("test_*.py")),
                 *sorted((kit.root / "autograder" / "public").glob("test_*.py"))]:
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            position = {"eval": 0, "Code": 0, "_eval": 1}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                offenders.append(f"{path.name}:{node.lineno}: {ast.get_source_segment(source, arg)[:60]}")
    assert offenders == []
