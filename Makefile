# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench bench-quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## Run the embedded demo: instrumented FastAPI + scikit-learn app, no collector needed.
	$(BIN)/otel-ml demo

test: lint typecheck unit  ## Create .venv, install, run ruff, mypy and every test.

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest

bench: $(BIN)/.installed  ## Run the benchmarks and rewrite the tables in benchmarks/README.md.
	$(BIN)/python benchmarks/overhead.py --write-readme

bench-quick: $(BIN)/.installed
	$(BIN)/python benchmarks/overhead.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
