"""Shared fixtures: a real `propale sandbox` process on free loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stripe

from propale.ledger import Ledger
from propale_dev.sandbox.admin import SandboxAdmin
from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.airflow import Airflow
from support.stripe_sandbox import make_client

# The long proofs: `make test` (-m "not long") leaves them out, `make test-all` runs them. Tests of these
# kinds are long wherever they are; the other end-to-end proofs (bad input, security, the demo, `propale
# run`) carry `long` in their modules.
LONG_PROOFS = ("chaos", "production", "browser")


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection, which reads the marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in LONG_PROOFS):
            item.add_marker(pytest.mark.long)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox for the session, empty at start; tests create the objects they need."""
    config = config_on_free_ports(tmp_path_factory.mktemp("sandbox") / "state")
    with SandboxProcess(config, reset=True) as process:
        yield process


@pytest.fixture
def sandbox_config(sandbox: SandboxProcess) -> Iterator[SandboxConfig]:
    """The shared sandbox's addresses; faults set during the test are cleared after it."""
    yield sandbox.config
    for service in sandbox.urls:
        with sandbox.admin(service) as admin:
            admin.reset_faults()


@pytest.fixture
def hubspot_admin(sandbox_config: SandboxConfig) -> Iterator[SandboxAdmin]:
    """The shared sandbox's HubSpot stand-in admin API (faults, stats); `sandbox_config` clears faults after the test."""
    with SandboxAdmin(sandbox_config.hubspot_url) as admin:
        yield admin


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger in an SQLite file of the test's own."""
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        yield ledger


@pytest.fixture
def client(sandbox_config: SandboxConfig) -> stripe.StripeClient:
    """The official Stripe client on the shared sandbox's Stripe stand-in."""
    return make_client(sandbox_config)


@pytest.fixture
def start_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SandboxProcess]]:
    """A private sandbox for tests that seed, restart or fault the whole process."""
    started: list[SandboxProcess] = []

    def start(**options: object) -> SandboxProcess:
        config = config_on_free_ports(tmp_path_factory.mktemp("sandbox") / "state")
        process = SandboxProcess(config, **options).start()  # type: ignore[arg-type]
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database, migrated once for the whole session."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], env=env, check=True, capture_output=True
    )
    return home


@pytest.fixture(scope="session")
def airflow_for(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[SandboxProcess], Airflow]:
    """Airflow pointed at a given sandbox, with a fresh Propale ledger each time."""

    def make(sandbox: SandboxProcess) -> Airflow:
        ledger = tmp_path_factory.mktemp("ledger") / "ledger.db"
        return Airflow(airflow_home, sandbox, f"sqlite:///{ledger}", "http://127.0.0.1:8799/propale")

    return make
