#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, runs lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'
bash scripts/servers.sh  # redis-server, rabbitmq-server (apt), secantusdb (its own venv)
.venv/bin/ruff check schemas compiler ddt_engine runtime tests bench
.venv/bin/ruff format --check schemas compiler ddt_engine runtime tests bench
.venv/bin/lint-imports
.venv/bin/mypy
# One pytest worker per core (at most 4: each worker starts its own servers on free ports),
# each test file on one worker (a file's tests may share module fixtures and their state);
# --durations lists the slowest tests, to keep the suite well under 10 min.
.venv/bin/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile --durations=15
