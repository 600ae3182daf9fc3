# Every target sets itself up: a virtual environment with the project and its tools.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint pytest bench bench-sandbox sandbox crds clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup ## run the operator end to end on the embedded API emulator
	$(BIN)/remediator demo

test: lint pytest ## everything CI runs

pytest: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench-sandbox: setup ## the emulator's own throughput (GET, PATCH, watch events)
	$(BIN)/python -m remediator.sandbox.bench

bench: bench-sandbox

crds: setup ## regenerate crds/*.yaml from the pydantic models
	$(BIN)/remediator crds

sandbox: setup ## serve the emulator for kubectl until Ctrl-C
	$(BIN)/remediator sandbox --kubeconfig sandbox.kubeconfig

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache bench/results.json
