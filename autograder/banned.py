"""Find uses of banned shortcuts in a student's function, from its source text alone.

From-scratch exercises ban the library call that would make them trivial (``torch.softmax`` in
``softmax``, ``torch.autograd`` in a by-hand gradient, ...).  :func:`find_banned` checks this in the
trusted grader: it only *parses* the student's source with :mod:`ast` -- it never executes, compiles
to bytecode or imports anything the student wrote.

What is examined: every module-level definition of the function (``def``, ``class`` or assignment;
all of them when it is defined more than once), everything those reference transitively among the
module-level names of the same source (helper functions, ``_sm = torch.softmax``, classes, lambdas),
and module-level statements that patch a library (``torch.exp = ...``, ``setattr(torch, ...)``),
since those change what the function calls.

A banned key is either

* a dotted name such as ``"torch.softmax"``, ``"torch.autograd"`` or ``"F.cross_entropy"``: it
  matches that object and anything under it (``torch.autograd.grad``), however the student reaches
  it: ``import torch.nn.functional as G; G.softmax``, ``from torch.nn.functional import softmax as s``,
  ``from torch import autograd``, ``nn = torch.nn``, ``getattr(torch, "softmax")``,
  ``torch.__dict__["softmax"]``, ``importlib.import_module("torch.nn.functional").softmax``,
  ``sys.modules["torch"].softmax``, or code in a constant string given to ``eval``/``exec``.
  The conventional roots ``F``, ``nn``, ``optim`` and ``np`` stand for ``torch.nn.functional``,
  ``torch.nn``, ``torch.optim`` and ``numpy`` (in keys, and in student code that uses them without
  importing them, since the assignment's setup cell may import them);
* a bare name such as ``"softmax"`` or ``"backward"``: it matches any attribute or method of that
  name (``X.softmax(1)``, ``loss.backward()``, ``getattr(X, "softmax")``) and any imported name whose
  last part it is (``from torch.nn.functional import softmax as s``).

The analysis over-approximates on purpose (a helper's local variable that shares a module-level
name is followed as if it were that name): a student can always rename a variable, while a missed
shortcut gives marks for nothing.  It cannot see through computed strings (``getattr(torch, "soft" +
"max")``); it is a deterrent with clear messages, not a proof.

Failure policy (documented decision):

* the function is not defined at module level -> ``[]`` (a missing function is reported by the
  tests that call it), unless ``source`` is a :class:`~autograder.notebook.StudentSource` that left a
  cell out for a syntax error: then a single message naming that cell (line N of cell NAME).  Cells
  that parse are analysed as if the broken one were absent, so one broken cell costs only the
  exercises it defines;
* the source cannot be analysed (not a string, over :data:`MAX_SOURCE_CHARS`, a syntax error, nesting
  too deep for the parser or for the analysis) -> a single message saying so.  This fails closed: a
  check that cannot run costs the ban test its points with an explanation, rather than waving through
  code crafted to defeat the analysis.  The function never raises for any input ``source``.
"""

from __future__ import annotations

import ast
from collections import deque

__all__ = ["find_banned", "MAX_SOURCE_CHARS", "MAX_MESSAGES", "CONVENTIONAL_ALIASES"]

MAX_SOURCE_CHARS = 1_000_000
MAX_MESSAGES = 20
MAX_EVAL_DEPTH = 3
MAX_STAR_IMPORTS = 16
_MAX_LINKS = 64

CONVENTIONAL_ALIASES = {
    "F": ("torch", "nn", "functional"),
    "nn": ("torch", "nn"),
    "optim": ("torch", "optim"),
    "np": ("numpy",),
}

_GETATTR_NAMES = {"getattr"}
_DYNAMIC_IMPORTS = {("importlib", "import_module"), ("import_module",), ("__import__",),
                    ("builtins", "__import__")}
_EVAL_NAMES = {"eval", "exec", "compile"}
_NAMESPACE_CALLS = {"globals", "locals", "vars"}


def find_banned(source: str, function_name: str, banned: dict[str, str]) -> list[str]:
    """Messages for every use of a banned name in ``function_name`` and the module-level code it
    reaches in ``source``, e.g. ``"softmax uses torch.softmax (line 4): this exercise asks you to
    write softmax yourself from exp and sum."``; ``[]`` when there is none or when the function is
    not defined at module level.  See the module docstring for the keys of ``banned`` (values are
    the reasons shown to the student) and for the failure policy.  Never executes ``source`` and
    never raises."""
    try:
        return _find_banned(source, function_name, banned)
    except (RecursionError, MemoryError):
        return [_cannot(function_name, "the code is nested too deeply to analyse; simplify it")]
    except Exception as exc:  # pragma: no cover - defensive: never crash the grader
        return [_cannot(function_name, f"the analysis failed ({type(exc).__name__})")]


def _cannot(function_name, why: str) -> str:
    return f"could not check {function_name} for banned functions: {why}"


def _find_banned(source, function_name, banned) -> list[str]:
    if not banned:
        return []
    if not isinstance(source, str):
        return [_cannot(function_name, "no source code was found")]
    if len(source) > MAX_SOURCE_CHARS:
        return [_cannot(function_name, f"the code is longer than {MAX_SOURCE_CHARS:,} characters")]
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return [_cannot(function_name, f"the code has a syntax error{where}; fix it first")]
    except (ValueError, OverflowError):
        return [_cannot(function_name, "the code could not be parsed (does it contain null bytes?)")]
    keys = _normalise_keys(banned)
    if not keys:
        return []
    analysis = _Analysis(tree, keys, function_name)
    broken = getattr(source, "broken", None) or {}
    if broken and not (analysis.bindings.get(function_name) or analysis.module_imports.get(function_name)):
        # its cell (or the cell that may define it) was left out for not parsing: fail closed
        own = broken.get(function_name)
        if own:
            return [_cannot(function_name, f"its answer cell has {own}; fix it first")]
        cell, problem = next(iter(broken.items()))
        return [_cannot(function_name, f"it is not defined in any cell that parses (cell {cell} has "
                                       f"{problem}); fix that first")]
    if len(analysis.star_modules) > MAX_STAR_IMPORTS:
        return [_cannot(function_name, f"the code has more than {MAX_STAR_IMPORTS} `from ... import *` lines; "
                                       "import the names you use instead")]
    # A StudentSource (answer cells joined) names lines per cell: "line 3 of cell softmax".
    analysis.line_name = getattr(source, "cell_line", lambda line: f"line {line}")
    return analysis.run()


class _Key:
    __slots__ = ("text", "parts", "dotted", "reason")

    def __init__(self, text, parts, dotted, reason):
        self.text, self.parts, self.dotted, self.reason = text, parts, dotted, reason


def _normalise_keys(banned) -> list[_Key]:
    keys = []
    for text, reason in dict(banned).items():
        if not isinstance(text, str) or not text.strip():
            continue
        parts = tuple(p for p in text.strip().split(".") if p)
        if not parts:
            continue
        reason = "" if reason is None else str(reason)
        if len(parts) == 1:
            keys.append(_Key(text, parts, False, reason))
        else:
            parts = CONVENTIONAL_ALIASES.get(parts[0], parts[:1]) + parts[1:]
            keys.append(_Key(text, parts, True, reason))
    # Dotted keys first: they name the shortcut more precisely than a bare attribute name.
    keys.sort(key=lambda k: not k.dotted)
    return keys


class _Chain:
    """A reference such as ``torch.nn.functional.softmax`` as written in the source."""

    __slots__ = ("root", "root_is_module", "segments", "inner")

    def __init__(self, root, root_is_module, segments, inner):
        self.root = root                      # a name, or a tuple of module parts
        self.root_is_module = root_is_module  # True for import_module("a.b"), sys.modules["a"]
        self.segments = segments              # attribute names after the root
        self.inner = inner                    # ids of the AST nodes that make up this chain


class _Analysis:
    def __init__(self, tree: ast.Module, keys: list[_Key], function_name: str):
        self.tree = tree
        self.keys = keys
        self.fn = function_name
        self.bindings: dict[str, list[ast.AST]] = {}
        self.module_imports: dict[str, list[ast.AST]] = {}
        self.patches: list[ast.AST] = []
        self.aliases: dict[str, set[tuple]] = {}
        self.star_modules: list[tuple] = []
        self.found: dict[str, list] = {}
        # Each node's chain is computed once and each node scanned once, so that the analysis
        # stays linear in the source however deeply references or bindings nest.
        self._chains: dict[int, tuple[ast.AST, object]] = {}
        self._walked: set[int] = set()
        self._alive: list[ast.AST] = []  # keeps walked nodes (of eval'd strings too) alive: ids stay unique
        self._collect_module_level()
        self._collect_aliases()

    # ------------------------------------------------------------------ module-level names

    def _collect_module_level(self):
        todo = deque(self.tree.body)
        while todo:
            stmt = todo.popleft()
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    if alias.name != "*":
                        bound = alias.asname or alias.name.split(".")[0]
                        self.module_imports.setdefault(bound, []).append(stmt)
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                for name in _stored_names(stmt.target):
                    self.bindings.setdefault(name, []).append(stmt.iter)
                self._add_named_exprs(stmt.iter)
                todo.extend(stmt.body + stmt.orelse)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        for name in _stored_names(item.optional_vars):
                            self.bindings.setdefault(name, []).append(item.context_expr)
                    self._add_named_exprs(item.context_expr)
                todo.extend(stmt.body)
            elif isinstance(stmt, (ast.If, ast.While)):
                self._add_named_exprs(stmt.test)
                todo.extend(stmt.body + stmt.orelse)
            elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
                todo.extend(stmt.body + stmt.orelse + stmt.finalbody)
                for handler in stmt.handlers:
                    todo.extend(handler.body)
            elif type(stmt).__name__ == "Match":
                for case in stmt.cases:
                    todo.extend(case.body)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for name in _stored_names(target):
                        self.bindings.setdefault(name, []).append(stmt)
                    if any(isinstance(n, (ast.Attribute, ast.Subscript)) for n in ast.walk(target)):
                        self.patches.append(stmt)
                self._add_named_exprs(stmt)
            else:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                    func = stmt.value.func
                    if isinstance(func, ast.Name) and func.id in ("setattr", "exec", "eval"):
                        self.patches.append(stmt)
                self._add_named_exprs(stmt)

    def _add_named_exprs(self, node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.bindings.setdefault(sub.target.id, []).append(sub)

    def _collect_aliases(self):
        """Names that stand for a module or library object: imports anywhere in the source, and
        assignments of a plain reference (``nn = torch.nn``), iterated to a fixed point."""
        assigns = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = tuple(alias.name.split("."))
                    if alias.asname:
                        self._alias(alias.asname, parts)
                    else:
                        self._alias(parts[0], parts[:1])
            elif isinstance(node, ast.ImportFrom):
                if node.level or not node.module:
                    continue  # relative import: nothing of the library's
                base = tuple(node.module.split("."))
                for alias in node.names:
                    if alias.name == "*":
                        if base not in self.star_modules:
                            self.star_modules.append(base)
                    else:
                        self._alias(alias.asname or alias.name, base + (alias.name,))
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    assigns.append((target, node.value))
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                assigns.append((node.target, node.value))
        if len(self.star_modules) > MAX_STAR_IMPORTS:
            return  # _find_banned refuses this source; resolving against them all is quadratic
        for _ in range(10):
            changed = False
            for target, value in assigns:
                pairs = [(target, value)]
                if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
                        and len(target.elts) == len(value.elts):
                    pairs = list(zip(target.elts, value.elts))
                for t, v in pairs:
                    if not isinstance(t, ast.Name):
                        continue
                    chain = self._chain(v)
                    if chain is None:
                        continue
                    for qualified, _ in self._resolve(chain):
                        if qualified is not None and self._alias(t.id, qualified):
                            changed = True
            if not changed:
                break

    def _alias(self, name, parts) -> bool:
        entry = self.aliases.setdefault(name, set())
        if parts in entry or len(entry) > 50:
            return False
        entry.add(parts)
        return True

    # ------------------------------------------------------------------ references

    def _chain(self, node):
        """The reference ``node`` spells (``torch.nn.functional.softmax``, ``getattr(torch, "x")``,
        ``torch.__dict__["x"]``, ...), or None when it is not a plain reference.  Walks down the
        links iteratively, at most :data:`_MAX_LINKS` of them; remembered per node."""
        cached = self._chains.get(id(node))
        if cached is not None and cached[0] is node:
            return cached[1]
        result = self._compute_chain(node)
        self._chains[id(node)] = (node, result)
        return result

    def _compute_chain(self, node):
        segments: list[str] = []  # innermost last
        inner: list[int] = []     # the direct children that belong to this chain
        current = node
        for _ in range(_MAX_LINKS):
            step = self._link(current)
            if step is None:
                return None
            if isinstance(step, _Chain):
                if current is not node:
                    step.inner = []  # only the outermost node's direct children count
                return _Chain(step.root, step.root_is_module, step.segments + tuple(reversed(segments)),
                              inner + step.inner)
            next_node, names, extra = step
            segments.extend(reversed(names))
            if current is node:
                inner.append(id(next_node))
                inner.extend(extra)
            current = next_node
        return None

    def _link(self, node):
        """One link of a chain: a root :class:`_Chain`, ``(next node, names, extra inner ids)`` or None."""
        if isinstance(node, ast.Name):
            return _Chain(node.id, False, (), [])
        if isinstance(node, ast.Attribute):
            return node.value, (node.attr,), []
        if isinstance(node, ast.Call):
            func = node.func
            # getattr(obj, "name"[, default])
            if isinstance(func, ast.Name) and func.id in _GETATTR_NAMES and len(node.args) >= 2:
                name = _const_str(node.args[1])
                return (node.args[0], tuple(name.split(".")), []) if name else None
            # obj.__getattribute__("name") / obj.__getattr__("name")
            if isinstance(func, ast.Attribute) and func.attr in ("__getattribute__", "__getattr__") \
                    and node.args and _const_str(node.args[0]):
                return func.value, (_const_str(node.args[0]),), [id(func)]
            # importlib.import_module("a.b") / __import__("a.b")
            if node.args and _const_str(node.args[0]):
                fchain = self._chain(func)
                if fchain is None:
                    return None
                kinds = {q for q, _ in self._resolve(fchain)} & _DYNAMIC_IMPORTS
                if not kinds:
                    return None
                parts = tuple(p for p in _const_str(node.args[0]).split(".") if p)
                if not parts:
                    return None
                has_fromlist = len(node.args) >= 4 or any(k.arg == "fromlist" for k in node.keywords)
                if kinds <= {("__import__",), ("builtins", "__import__")} and not has_fromlist:
                    parts = parts[:1]  # __import__("a.b") returns the top-level package a
                return _Chain(parts, True, (), [id(func)])
            return None
        if isinstance(node, ast.Subscript):
            key = _const_str(node.slice)
            if not key:
                return None
            value = node.value
            # obj.__dict__["name"]
            if isinstance(value, ast.Attribute) and value.attr == "__dict__":
                return value.value, (key,), [id(value)]
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                    and value.func.id in _NAMESPACE_CALLS:
                if not value.args:  # globals()["name"]: a module-level name
                    return _Chain(key, False, (), [id(value), id(value.func)])
                return value.args[0], (key,), [id(value), id(value.func)]  # vars(obj)["name"]
            # sys.modules["a.b"]
            vchain = self._chain(value)
            if vchain is not None and any(q == ("sys", "modules") for q, _ in self._resolve(vchain)):
                parts = tuple(p for p in key.split(".") if p)
                return _Chain(parts, True, (), [id(value)]) if parts else None
        return None

    def _resolve(self, chain: _Chain):
        """Fully qualified names the chain may stand for, each with whether the student's own
        aliasing was involved; a chain rooted at a locally defined name gives ``(None, False)``."""
        if chain.root_is_module:
            return [(chain.root + chain.segments, True)]
        root = chain.root
        out = []
        if root in self.aliases:
            out.extend((q + chain.segments, True) for q in self.aliases[root])
        if root in self.bindings or root in self.module_imports:
            if not out:
                out.append((None, False))
            return out
        if out:
            return out
        for module in self.star_modules:
            out.append((module + (root,) + chain.segments, True))
        out.append((CONVENTIONAL_ALIASES.get(root, (root,)) + chain.segments, False))
        return out

    # ------------------------------------------------------------------ scanning

    def run(self) -> list[str]:
        roots = list(self.bindings.get(self.fn, []))
        import_roots = list(self.module_imports.get(self.fn, []))
        if not roots and not import_roots:
            return []
        for stmt in import_roots:
            self._check_import_root(stmt)
        queue = deque((node, None) for node in roots)
        queue.extend((node, "module-level code") for node in self.patches)
        seen_nodes = set()
        followed = {self.fn}
        while queue:
            node, via = queue.popleft()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            for name in self._scan(node, via, line_offset=0, depth=0):
                if name not in followed and name in self.bindings:
                    followed.add(name)
                    queue.extend((b, name) for b in self.bindings[name])
        return self._messages()

    def _check_import_root(self, stmt):
        """``from torch import softmax`` at module level defines the function as the shortcut."""
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound != self.fn:
                continue
            if isinstance(stmt, ast.ImportFrom):
                if stmt.level or not stmt.module:
                    continue
                qualified = tuple(stmt.module.split(".")) + (alias.name,)
            else:
                qualified = tuple(alias.name.split(".")) if alias.asname else tuple(alias.name.split("."))[:1]
            key = self._match([(qualified, True)], ())
            if key is not None:
                self._record(key, lambda q=qualified: ".".join(q), stmt.lineno, None)

    def _walk_new(self, node) -> list:
        """The nodes under ``node`` (breadth first, like ``ast.walk``) not scanned before."""
        out, todo = [], deque([node])
        while todo:
            current = todo.popleft()
            if id(current) in self._walked:
                continue
            self._walked.add(id(current))
            self._alive.append(current)
            out.append(current)
            todo.extend(ast.iter_child_nodes(current))
        return out

    def _scan(self, node, via, line_offset, depth):
        """Record banned references under ``node``; return the names it references.  A subtree
        scanned before (a binding nested in another one) is not scanned again: what it references
        was followed then."""
        nodes = self._walk_new(node)
        chains = {}
        inner = set()
        for sub in nodes:
            if isinstance(sub, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                    continue
                chain = self._chain(sub)
                if chain is not None:
                    chains[id(sub)] = (sub, chain)
                    inner.update(chain.inner)
        referenced: dict[str, None] = {}  # ordered set
        for sub in nodes:
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                referenced[sub.id] = None
            if isinstance(sub, ast.Call) and depth < MAX_EVAL_DEPTH:
                referenced.update(dict.fromkeys(self._scan_eval(sub, via, line_offset, depth)))
        for sub_id, (sub, chain) in chains.items():
            if sub_id in inner:
                continue
            if not chain.root_is_module:
                referenced[chain.root] = None  # globals()["helper"]
            resolved = self._resolve(chain)
            key = self._match(resolved, chain.segments)
            if key is not None:
                self._record(key, lambda sub=sub, chain=chain, resolved=resolved: self._display(sub, chain, resolved),
                             line_offset + getattr(sub, "lineno", 1), via)
        # Attributes of computed values (X.exp().softmax(1)) are not chains but still attributes.
        for sub in nodes:
            if isinstance(sub, ast.Attribute) and id(sub) not in chains:
                key = self._match([], (sub.attr,))
                if key is not None:
                    self._record(key, lambda sub=sub: _short(sub) or f".{sub.attr}",
                                 line_offset + sub.lineno, via)
        return list(referenced)

    def _scan_eval(self, call: ast.Call, via, line_offset, depth):
        """Scan the code in a constant string given to eval/exec/compile."""
        func = call.func
        if not (isinstance(func, ast.Name) and func.id in _EVAL_NAMES and call.args):
            return []
        text = call.args[0].value if isinstance(call.args[0], ast.Constant) else None
        if not isinstance(text, str) or not text or len(text) > MAX_SOURCE_CHARS:
            return []
        try:
            sub_tree = ast.parse(text, mode="exec")
        except (SyntaxError, ValueError, OverflowError):
            return []
        return self._scan(sub_tree, via, line_offset + call.lineno - 1, depth + 1)

    def _match(self, resolved, segments):
        qualified = [q for q, _ in resolved if q is not None]
        for key in self.keys:
            if key.dotted:
                n = len(key.parts)
                if any(q[:n] == key.parts for q in qualified):
                    return key
            else:
                name = key.parts[0]
                if name in segments or any(name in q[1:] for q in qualified):
                    return key
        return None

    def _display(self, node, chain, resolved) -> str:
        written = _short(node) or (chain.root if isinstance(chain.root, str) else ".".join(chain.root))
        via_alias = [q for q, aliased in resolved if q is not None and aliased]
        if via_alias:
            full = ".".join(via_alias[0])
            if full != written:
                return f"{written} (that is, {full})"
        return written

    def _record(self, key: _Key, display, line: int, via):
        """Keep the first use of each banned key (its display is computed once) and the lines of
        the others."""
        entry = self.found.get(key.text)
        if entry is None:
            self.found[key.text] = [key, display(), line, via, []]
        elif line != entry[2] and line not in entry[4] and len(entry[4]) < 10:
            entry[4].append(line)

    def _messages(self) -> list[str]:
        out = []
        for key, display, line, via, others in sorted(self.found.values(), key=lambda e: e[2]):
            where = self.line_name(line)
            if via == "module-level code":
                where += ", in module-level code"
            elif via:
                where += f", in {via}, which {self.fn} uses"
            if others:
                names = [self.line_name(o) for o in sorted(others)]
                if all(n.startswith("line ") and " of " not in n for n in names):
                    names = [f"line{'s' if len(others) > 1 else ''} " + ", ".join(n[5:] for n in names)]
                where += "; also " + ", ".join(names)
            msg = f"{self.fn} uses {display} ({where})"
            out.append(f"{msg}: {key.reason}" if key.reason else msg)
        if len(out) > MAX_MESSAGES:
            extra = len(out) - MAX_MESSAGES
            out = out[:MAX_MESSAGES] + [f"... and {extra} more banned name{'s' if extra != 1 else ''}"]
        return out


def _stored_names(target):
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _const_str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) <= 200:
        return node.value
    return None


def _short(node, limit=60) -> str:
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, AttributeError):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else ""
