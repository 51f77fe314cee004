# carsight: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CUSTOMERS ?= 50000
WAREHOUSE ?= carsight.duckdb
DASHBOARD_PORT ?= 8501
export CARSIGHT_WAREHOUSE ?= $(WAREHOUSE)

.PHONY: install system-deps demo demo-headless test test-fast bench lint fmt clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

# The Debian packages the tests need (chromium, poppler-utils, Pango, fonts, openssl, a Java runtime):
# installs what is missing when run as root, else stops with the command to run.
system-deps:
	bash scripts/system-deps.sh

demo-headless: install
	$(BIN)/carsight demo --customers $(DEMO_CUSTOMERS)
	$(BIN)/carsight pipeline run
	$(BIN)/carsight status

# The dashboard opens as soon as the demo is loaded. The pipeline runs beside it (its log in
# out/pipeline.log); each page says what is still being computed and fills in when its step is done.
demo: install
	$(BIN)/carsight demo --customers $(DEMO_CUSTOMERS)
	mkdir -p out
	$(BIN)/carsight pipeline run > out/pipeline.log 2>&1 &
	$(BIN)/carsight serve dashboard --port $(DASHBOARD_PORT)

# Two test processes: much of the suite waits (chromium, served pages, Spark's JVM, command-line
# subprocesses), so two share two cores well (885 s in one process, 654 s in two, on this machine).
# Each test file runs whole in one process, so its module fixtures (a served dashboard) are built once.
TEST_WORKERS ?= 2

test: system-deps install
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

test-fast: system-deps install
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: install
	$(BIN)/python bench/run_all.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

fmt: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
