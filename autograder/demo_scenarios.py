"""Sample submissions for the demo course and the kit's own tests: what a scenario is, and where
the scenarios of an assignment are found.

The scenarios themselves are instructor-only material derived from the reference (many of them are
one edit away from it), so they live with the solutions, ``solutions/scenarios/<assignment>.py``
(see :meth:`autograder.paths.KitPaths.scenario_module`), never in this package, which students
install.  Each such module defines ``SCENARIOS``.  A scenario starts from the reference solution
(``base="reference"``) or the untouched stubs (``base="stubs"``) and replaces some answer cells; it
names the exercises it breaks, so a test can check that exactly those lose points.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from autograder.paths import KitPaths


@dataclass(frozen=True)
class Scenario:
    """A fake student: which cells differ from the base, and what should happen."""

    name: str
    description: str
    base: str  # "reference" or "stubs"
    cells: dict = field(default_factory=dict)  # exercise -> replacement cell source
    breaks: tuple = ()  # exercises that must lose points
    hostile: bool = False


def scenarios_for(assignment: str, kit: KitPaths | None = None) -> list[Scenario]:
    """The demo scenarios of ``assignment``: those of ``solutions/scenarios/<assignment>.py`` in
    ``kit`` (default: this repository's), or just the reference and the stubs when it has none."""
    path = (kit or KitPaths()).scenario_module(assignment)
    if not path.is_file():
        return [Scenario("reference", "the reference solution", "reference"),
                Scenario("stubs", "the untouched stubs", "stubs", breaks=("*",))]
    # loaded by path under a private name, as the reference is (trusted, instructor-only code)
    spec = importlib.util.spec_from_file_location(f"_d2l_scenarios_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.SCENARIOS)


def by_name(assignment: str, name: str, kit: KitPaths | None = None) -> Scenario:
    """The scenario called ``name`` of ``assignment``."""
    return next(s for s in scenarios_for(assignment, kit) if s.name == name)
