"""Shared fixtures: a real `propale sandbox` process on free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from propale.ledger import Ledger
from propale_dev.sandbox import airflow_env
from propale_dev.sandbox.admin import SandboxAdmin
from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports


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


class Airflow:
    """Runs `airflow` commands against a sandbox, configured only by connections and variables."""

    def __init__(self, home: Path, sandbox: SandboxProcess, ledger_url: str, public_url: str):
        self.home = home
        self.sandbox = sandbox
        self.ledger_url = ledger_url
        self.public_url = public_url
        # Connections or variables a test sets on top of the sandbox's (e.g. an SMTP login).
        self.extra_env: dict[str, str] = {}

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **airflow_env.environment(
                self.sandbox.config, airflow_home=self.home, public_url=self.public_url, db_url=self.ledger_url
            ),
            **self.extra_env,
        }

    @staticmethod
    def argv(program: str, *args: str) -> list[str]:
        """A command installed beside this Python (airflow, propale), whatever PATH says."""
        return [str(Path(sys.executable).with_name(program)), *args]

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.argv("airflow", *args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}")
        return result

    def dags_test(self, dag_id: str, conf: dict[str, object] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        args = ["dags", "test", dag_id]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        return self.run(*args, check=check)


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
