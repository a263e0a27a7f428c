# The front door. `make test` and `make demo` work on a fresh clone: they build .venv from the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# Where `make demo` keeps the sandbox's state, Airflow's home and the ledger.
PROPALE_HOME ?= $(CURDIR)/.propale
export PROPALE_HOME

.PHONY: install test demo sandbox lock clean browser-deps

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	@test -x $(BIN)/python || uv venv --quiet --python $(PYTHON) $(VENV)
	uv pip install --quiet --python $(BIN)/python -r requirements.txt
	uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/propale sandbox --reset --seed demo

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
