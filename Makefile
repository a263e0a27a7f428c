# The front door. `make test` and `make demo` work on a fresh clone: they build .venv from the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# Where `make demo` and `make run` keep the sandbox's state, Airflow's home, the ledger and logs.
PROPALE_HOME ?= $(CURDIR)/.propale
export PROPALE_HOME

.PHONY: install test demo run sandbox lock clean browser-deps

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	@test -x $(BIN)/python || uv venv --quiet --python $(PYTHON) $(VENV)
	uv pip install --quiet --python $(BIN)/python -r requirements.txt
	uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The whole loop, headless, for the demo company; a report at the end (DEMO_ARGS=--keep-running
# keeps the pages up afterwards; `propale demo --help` lists the options).
demo: install
	$(BIN)/propale demo $(DEMO_ARGS)

# Airflow (scheduler, DAG processor, triggerer, API server on :8080) against the sandbox; Ctrl-C stops it.
run: install
	$(BIN)/propale run $(RUN_ARGS)

sandbox: install
	$(BIN)/propale sandbox

# Headless Chromium for the browser tests (tests/test_browser.py): Debian's package, driven by
# Playwright through its executable_path (no browser download). Needs root or sudo.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# Re-resolve the lock from requirements.in (needs the package registry).
lock:
	uv pip compile --quiet --python-version 3.11 requirements.in -o requirements.txt

clean:
	rm -rf $(VENV) $(PROPALE_HOME)
