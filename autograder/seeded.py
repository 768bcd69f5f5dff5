"""Reproducible inputs for the hidden suites: every draw is named by an offset from the suite's seed.

Inputs are made in the trusted grader, on the CPU, in float64 and then cast (DESIGN.md §6), so the
same offset gives the same numbers on every machine and every device under test.
"""

from __future__ import annotations

import torch


class SeededInputs:
    """``inputs = SeededInputs(SEED)``; ``inputs.randn((4, 3), 110)`` is the same tensor every run."""

    def __init__(self, seed: int):
        self.seed = seed

    def gen(self, offset: int) -> torch.Generator:
        """A fresh CPU generator seeded with ``seed + offset``."""
        return torch.Generator().manual_seed(self.seed + offset)

    def randn(self, shape, offset: int, dtype=torch.float32, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
        """``N(shift, scale^2)`` values drawn in float64 from ``gen(offset)``, then cast to ``dtype``."""
        return (torch.randn(shape, generator=self.gen(offset), dtype=torch.float64) * scale + shift).to(dtype)
