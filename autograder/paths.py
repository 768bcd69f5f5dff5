"""The two objects that own every path: the kit (this repository) and an nbgrader course."""

from __future__ import annotations

from pathlib import Path


class KitPaths:
    """Where the kit keeps assignments, reference solutions, demo scenarios and hidden and public
    tests."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else Path(__file__).resolve().parent.parent
        self.assignments = self.root / "assignments"
        self.solutions = self.root / "solutions"
        self.scenarios = self.solutions / "scenarios"
        self.grader_tests = self.root / "grader_tests"
        self.public_tests = Path(__file__).resolve().parent / "public"

    def assignment_notebook(self, name: str) -> Path:
        """The student notebook with stubs."""
        return self.assignments / f"{name}.ipynb"

    def solution_module(self, name: str) -> Path:
        """The reference implementation."""
        return self.solutions / f"{name}.py"

    def scenario_module(self, name: str) -> Path:
        """The demo scenarios (typical bugs and attacks; derived from the reference, never shipped)."""
        return self.scenarios / f"{name}.py"

    def hidden_suite(self, name: str) -> Path:
        """The hidden pytest suite (grader only)."""
        return self.grader_tests / f"test_{name}.py"

    def public_suite(self, name: str) -> Path:
        """The public self-check tests (ship with the package)."""
        return self.public_tests / f"test_{name}.py"

    def assignment_names(self) -> list[str]:
        """Names of all assignments, sorted."""
        return sorted(p.stem for p in self.assignments.glob("*.ipynb"))

    def secret_dirs(self) -> list[Path]:
        """What a sandboxed child must never see: the whole repository (``.git`` holds every
        answer too) except the ``autograder`` package, and the hidden suites and solutions."""
        return [self.root, self.grader_tests, self.solutions]


class CoursePaths:
    """An nbgrader course directory (nbgrader's own layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.config_file = self.root / "nbgrader_config.py"
        self.gradebook = self.root / "gradebook.db"
        self.exports = self.root / "exports"

    def source(self, assignment: str) -> Path:
        """source/<assignment>/ (notebooks with solutions, instructors only)."""
        return self.root / "source" / assignment

    def release(self, assignment: str) -> Path:
        """release/<assignment>/ (what students get)."""
        return self.root / "release" / assignment

    def submitted(self, student: str, assignment: str) -> Path:
        """submitted/<student>/<assignment>/."""
        return self.root / "submitted" / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        """autograded/<student>/<assignment>/."""
        return self.root / "autograded" / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        """feedback/<student>/<assignment>/."""
        return self.root / "feedback" / student / assignment

    def report(self, assignment: str) -> Path:
        """reports/<assignment>/ (``d2l-grade report``'s page and figures, instructors only)."""
        return self.root / "reports" / assignment

    def students(self, assignment: str) -> list[str]:
        """Students with a submitted/<student>/<assignment>/ folder, sorted."""
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())
