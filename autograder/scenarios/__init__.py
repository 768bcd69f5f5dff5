"""Sample submissions for the demo course and the kit's own tests: typical bugs and attacks.

One module per assignment defines ``SCENARIOS``.  A scenario starts from the reference solution
(``base="reference"``) or the untouched stubs (``base="stubs"``) and replaces some answer cells;
it names the exercises it breaks, so a test can check that exactly those lose points.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    """A fake student: which cells differ from the base, and what should happen."""

    name: str
    description: str
    base: str  # "reference" or "stubs"
    cells: dict = field(default_factory=dict)  # exercise -> replacement cell source
    breaks: tuple = ()  # exercises that must lose points
    hostile: bool = False


def scenarios_for(assignment: str) -> list[Scenario]:
    """The demo scenarios of ``assignment``: its own module's, or just the reference and the stubs."""
    try:
        module = importlib.import_module(f"autograder.scenarios.{assignment}")
    except ModuleNotFoundError:
        return [Scenario("reference", "the reference solution", "reference"),
                Scenario("stubs", "the untouched stubs", "stubs", breaks=("*",))]
    return list(module.SCENARIOS)


def by_name(assignment: str, name: str) -> Scenario:
    """The scenario called ``name`` of ``assignment``."""
    return next(s for s in scenarios_for(assignment) if s.name == name)
