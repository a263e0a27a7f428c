# The front door. `make demo` and `make test` work on a fresh clone: they build .venv from the dev lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# Where `make demo` and `make run` keep the sandbox's state, Airflow's home, the ledger and logs.
PROPALE_HOME ?= $(CURDIR)/.propale
export PROPALE_HOME

.PHONY: install test test-all lint format demo run sandbox bench lock clean test-deps

install: $(VENV)/.installed

# The dev lock: the runtime at the production image's versions, the dev tools and the test tools;
# then both packages of this repository, editable: `propale` (the product) and `propale-dev` (dev/).
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml dev/pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	@test -x $(BIN)/python || uv venv --quiet --python $(PYTHON) $(VENV)
	uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	uv pip install --quiet --python $(BIN)/python --no-deps -e . -e dev
	@touch $@

# Test files run in parallel, one pytest-xdist worker per CPU (PYTEST_WORKERS=0: in this process),
# a file's tests on one worker: they share the module's fixtures (a demo world, a served site).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile

# The loop to run while working: everything but the long proofs, in a few minutes.
test: install
	$(BIN)/pytest -m "not long" $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# Everything, the long proofs too: the chaos run, the production shape, the browser, bad input,
# security, the demo and the local Airflow, end to end (CI runs this).
test-all: install
	$(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# ruff (lint rules and format check) on the whole repository; mypy (strict) on the runtime package.
# Both are configured in pyproject.toml and keep their caches in .venv.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole loop, headless, for the demo company; a report at the end (DEMO_ARGS=--keep-running
# keeps the pages up afterwards; `propale demo --help` lists the options).
demo: install
	$(BIN)/propale demo $(DEMO_ARGS)

# Airflow (scheduler, DAG processor, triggerer, API server on :8080) against the sandbox; Ctrl-C stops it.
run: install
	$(BIN)/propale run $(RUN_ARGS)

sandbox: install
	$(BIN)/propale sandbox

# Figures on this machine, printed as one table (docs/benchmarks.md); about 12 minutes.
# A quicker look: make bench BENCH_ARGS='--deals 200 --only hubspot' (`python -m bench --help`).
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Debian packages some tests need beyond Python (root or sudo): headless Chromium for the browser
# tests (tests/proofs/test_browser.py, driven by Playwright through its executable_path, no browser
# download); the CJK and emoji fonts the Docker image has, for the PDF tests of names in any script;
# HarfBuzz's subsetter, without which WeasyPrint falls back to fontTools, four times slower per PDF.
TEST_DEBS := chromium fonts-droid-fallback fonts-noto-color-emoji libharfbuzz-subset0
test-deps:
	@dpkg -s $(TEST_DEBS) >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TEST_DEBS); }

# Re-resolve the two locks (needs the package registry): the runtime one from requirements.in, then
# the dev one from requirements-dev.in, held to the runtime's versions.
lock:
	uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt
	uv pip compile --quiet --python-version 3.11 requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf $(VENV) $(PROPALE_HOME)
