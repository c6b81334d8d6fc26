#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install hhmem with every optional stack.
# Idempotent: a second run only re-checks what is installed.
set -euo pipefail
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"
cd "$(dirname "$0")/.."
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch: take the CPU build that lies on this kind of machine when none is installed; a user with
# CUDA installs their own torch first and this step leaves it alone.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    "${PIP[@]}" "torch==2.13.0" || "${PIP[@]}" "torch>=2.1,<3"
fi
"${PIP[@]}" -e ".[snn,bench,service,postgres,dev]" "numpy<2" "scipy<1.17"
# lava-nc 0.10.0 says Requires-Python <3.11; it runs on 3.11 with the fix deploy_loihi applies.
if ! "$VENV/bin/python" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('lava') is None)"; then
    "${PIP[@]}" --ignore-requires-python "lava-nc==0.10.0" "numpy<2" "scipy<1.17"
fi
touch "$VENV/.hhmem-installed"
