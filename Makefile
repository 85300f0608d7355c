# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-lowest lint typecheck unit check-install bench bench-quick clean stack stack-down stack-build

# uv installs from its cache (~/.cache/uv) by hard links: the model libraries
# (torch and its CUDA wheels are about 6 GB) are downloaded once per machine and
# stored once on disk, however many virtualenvs (.venv, $(LOWEST)) use them.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'uv>=0.5'
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## Run the embedded demo (about a minute): instrumented classifier + RAG app, drift, live view; no collector needed.
	$(BIN)/otel-ml demo

test: lint typecheck stack-build unit  ## Create .venv, install, run ruff, mypy and every test (end-to-end ones against the real stack).

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

unit: $(BIN)/.installed
	$(BIN)/pytest

# A newcomer's first commands in empty virtualenvs outside the repository (CI runs it):
# pip install '.[all]' then `otel-ml demo` exits 0; the base install names the extra.
check-install:
	PYTHON=$(PYTHON) bash .ci/check-install

# The declared floors, tested: a fresh $(LOWEST) where every runtime requirement
# of pyproject.toml (base and the extras in `all`) is pinned to its floor, the dev
# tools at their newest, and the unit tests run there. Wheels only (--no-build): a
# floor must install without a compiler. Warnings are not errors here: old
# libraries and today's versions of their dependencies warn about each other; the
# main run keeps them errors. uv's cache (~/.cache/uv) makes a warm run quick.
LOWEST ?= .venv-lowest
LOWEST_PYTHON ?= $(PYTHON)
# The LLM framework hooks' tests need the frameworks, which the lane leaves out
# (they require openai far above its floor); their README blocks are `newest`.
LLM_TESTS := $(foreach hook,anthropic litellm langchain llamaindex,--ignore=tests/instrumentation/$(hook)) \
	--ignore=tests/instrumentation/test_llm_frameworks_launcher.py \
	--ignore=tests/genai/test_genai_evaluation_hooks.py
LOWEST_TESTS := --ignore=tests/e2e --ignore=tests/reliability_stack --ignore=tests/browser $(LLM_TESTS)

test-lowest: $(BIN)/.installed  ## Run the unit tests with every runtime dependency at its declared floor.
	rm -rf $(LOWEST)
	UV_PYTHON_DOWNLOADS=never $(BIN)/uv venv --quiet --python $(LOWEST_PYTHON) $(LOWEST)
	$(BIN)/python tests/floors.py --python-version \
		"$$($(LOWEST)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
		> $(LOWEST)/floors.txt
	VIRTUAL_ENV=$(LOWEST) $(BIN)/uv pip install --quiet --no-build \
		--constraint $(LOWEST)/floors.txt -e '.[dev-base]'
	OTEL_ML_LOWEST_LANE=1 $(LOWEST)/bin/pytest -q -p no:cacheprovider \
		-W default --disable-warnings -m 'not newest' $(LOWEST_TESTS)

# The real pipeline on 127.0.0.1, no Docker: OpenTelemetry Collector (built with the
# Collector Builder from stack/collector-builder.yaml), Jaeger v2, Prometheus and
# Alertmanager (built from their Go modules, the versions docker-compose.yml runs).
# Binaries are built once and cached in $OTEL_ML_STACK_CACHE (default
# ~/.cache/otel-ml/stack); see stack/ and docs/stack.md.
stack:  ## Build (once) and start Collector, Jaeger, Prometheus and Alertmanager on 127.0.0.1.
	$(PYTHON) -m stack up

stack-down:  ## Stop what `make stack` started.
	$(PYTHON) -m stack down

# Part of `make test`: builds the stack where Go is installed (a no-op once cached);
# elsewhere it says why and the end-to-end tests skip. Under CI=true it must succeed.
stack-build:
	$(PYTHON) -m stack build --optional

bench: $(BIN)/.installed  ## Run the benchmarks and rewrite the tables in benchmarks/README.md.
	$(BIN)/python benchmarks/overhead.py --write-readme
	$(BIN)/python benchmarks/drift.py --write-readme
	$(BIN)/python benchmarks/feedback.py --write-readme
	$(BIN)/python benchmarks/genai.py --write-readme
	$(BIN)/python benchmarks/server.py --write-readme
	$(BIN)/python benchmarks/csv_read.py --write-readme
	$(BIN)/python benchmarks/startup.py --write-readme

# A smoke run of every benchmark, under 3 minutes; numbers not meaningful.
bench-quick: $(BIN)/.installed
	$(BIN)/python benchmarks/overhead.py --quick
	$(BIN)/python benchmarks/drift.py --quick
	$(BIN)/python benchmarks/feedback.py --quick
	$(BIN)/python benchmarks/genai.py --quick --only "otel_ml,otel_ml (per-chunk off)"
	$(BIN)/python benchmarks/server.py --quick
	$(BIN)/python benchmarks/in_process.py --quick
	$(BIN)/python benchmarks/csv_read.py --quick
	$(BIN)/python benchmarks/startup.py --quick

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .mypy_cache .ruff_cache
