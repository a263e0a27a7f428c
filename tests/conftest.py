"""Shared fixtures: a real `propale sandbox` process on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from propale.sandbox.config import SandboxConfig
from propale.sandbox.process import SandboxProcess, config_on_free_ports


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
