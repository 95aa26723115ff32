#!/bin/sh
# Create the virtual environment and install requirements.txt into it.
# Fast path: uv (https://docs.astral.sh/uv/), used if installed, else fetched from PyPI into
# .cache/uv (a few seconds). Fallback: venv and pip (slower, but always there).
set -eu
PYTHON=${1:-python3}
VENV=${2:-.venv}
# REQUIREMENTS=requirements-browser.txt adds the browser tools to an existing .venv.
REQS=${REQUIREMENTS:-requirements.txt}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "Python 3.10 or newer is needed, and '$PYTHON' was not found." >&2
    echo "Install Python, or run: make PYTHON=/path/to/python3" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "Python 3.10 or newer is needed; '$PYTHON' is $("$PYTHON" -V 2>&1)." >&2
    echo "Run: make PYTHON=python3.12 (or any Python 3.10+ you have)" >&2
    exit 1
fi

UV=$(command -v uv || true)
if [ -z "$UV" ] && [ -x .cache/uv/bin/uv ]; then
    UV=.cache/uv/bin/uv
fi
if [ -z "$UV" ] && "$PYTHON" -m pip --version >/dev/null 2>&1; then
    echo "Fetching uv, a fast installer, into .cache/uv..."
    if "$PYTHON" -m pip install --quiet --disable-pip-version-check --target .cache/uv uv 2>/dev/null \
        && [ -x .cache/uv/bin/uv ]; then
        UV=.cache/uv/bin/uv
    else
        echo "Could not fetch uv; using pip instead."
    fi
fi

if [ -n "$UV" ]; then
    echo "Installing into $VENV with uv..."
    "$UV" venv --quiet --allow-existing --python "$PYTHON" "$VENV"
    "$UV" pip install --quiet --python "$VENV/bin/python" -r "$REQS"
else
    echo "Installing into $VENV with pip (this takes a little while)..."
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
fi
# Compile every module now: later starts are then fast, even where PYTHONDONTWRITEBYTECODE
# stops Python from caching bytecode as it goes.
"$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null || true
echo "Ready: $VENV"
