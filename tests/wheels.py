"""Building the kit's wheel as a fresh clone would: shared by the packaging and install tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# build outputs and local state a fresh clone does not have (a stale build/lib ships its files)
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                        ".pytest_cache", "*-course")


def build_wheel(source: Path, tmp_path: Path) -> Path:
    """Build the wheel from a clean copy of ``source`` (what a fresh clone would ship)."""
    clean = tmp_path / "clean"
    shutil.copytree(source, clean, ignore=NOT_IN_A_CLONE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(clean), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("d2l_autograder-*.whl")
    return wheel
