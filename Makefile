# ddtflow developer commands. `make all` before a commit.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PKGS := schemas compiler ddt_engine runtime

.PHONY: install fmt lint type test golden bench all demo ci readme

$(BIN)/ddtflow: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/ddtflow

fmt: install
	$(BIN)/ruff format $(PKGS) tests bench
	$(BIN)/ruff check --fix $(PKGS) tests bench

lint: install
	$(BIN)/ruff check $(PKGS) tests bench
	$(BIN)/ruff format --check $(PKGS) tests bench
	$(BIN)/lint-imports

type: install
	$(BIN)/mypy

test: install
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

golden: install
	DDTFLOW_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/compiler

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

all: lint type test

demo: install
	$(BIN)/ddtflow chat examples/medical_booking \
		--backend-stub examples/medical_booking/tests/stubs/offline.yaml

readme:
	$(PY) scripts/readme.py

ci:
	bash scripts/ci.sh
