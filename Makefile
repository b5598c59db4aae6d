# Two entry points: `make demo` and `make test`. Everything installs into ./.venv.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-store

.PHONY: demo test lint typecheck check bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# demo needs only the package; test also needs the dev tools and the Spark extra (parity tests).
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

## demo: simulate a store, import it, print its summary, build the report, predict, recommend
demo: $(RUN_STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/regulars simulate --customers 2000 --seed 7 --out $(DEMO_DIR)/data
	$(BIN)/regulars import $(DEMO_DIR)/data --workspace $(DEMO_DIR)/store.duckdb
	$(BIN)/regulars summary --workspace $(DEMO_DIR)/store.duckdb
	$(BIN)/regulars report $(DEMO_DIR)/store.duckdb --out $(DEMO_DIR)/report.html --json $(DEMO_DIR)/report.json
	$(BIN)/regulars predict $(DEMO_DIR)/store.duckdb --horizon 12m --out $(DEMO_DIR)/predictions.csv
	$(BIN)/regulars recommend $(DEMO_DIR)/store.duckdb --k 10 --out $(DEMO_DIR)/recommendations.csv
	$(BIN)/regulars offers $(DEMO_DIR)/store.duckdb --out $(DEMO_DIR)/offers.csv

## test: lint, type-check and run the whole test suite (slow real-data tests included)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

## bench: the benchmarks (results in docs/benchmarks.md); needs Debian's time and hyperfine
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_summary.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_models.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
