#!/usr/bin/env bash
# Grade every assignment's reference and corpus on the CPU and on CUDA; print the verdict table.
# Runs where only Python >= 3.11, torch >= 2.2, numpy and pytest are installed (no nbgrader, no Jupyter).
# Missing packages can travel as wheels in .whl/ (see README); they are installed into /tmp/site.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
exec "$PYTHON" scripts/gpu_check.py "$@"
