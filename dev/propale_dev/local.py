"""What `propale demo` and `propale run` share: one workspace under `$PROPALE_HOME`, ports checked
before anything starts, Airflow pointed at the sandbox, and child processes stopped as groups.

Both commands use the same sandbox state, Airflow home, ledger and customer-page address
(`http://127.0.0.1:8080/propale`), so `propale run` after `propale demo` shows the demo's DAG runs
in the Airflow UI and the links in the demo's emails still open.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from propale.settings import default_db_url
from propale_dev.sandbox import airflow_env
from propale_dev.sandbox.config import SandboxConfig, default_data_dir

# Where the Airflow plugin mounts the customer page (plugins/propale_plugin.py, URL_PREFIX); the
# demo serves it under the same path so that its links stay valid under `propale run`.
CUSTOMER_PAGE_PREFIX = "/propale"
DEFAULT_PORT = 8080  # Airflow's API server default


class LocalError(Exception):
    """A step could not run; the message says what to do, without a traceback."""


@dataclass(frozen=True)
class Workspace:
    """`$PROPALE_HOME`: the sandbox's state, Airflow's home (metadata DB, logs), Propale's ledger."""

    home: Path

    @classmethod
    def default(cls) -> Workspace:
        return cls(default_data_dir().parent)

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandbox"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def ledger_url(self) -> str:
        # The ledger's default place (settings.default_db_url), written out so every process agrees.
        return default_db_url({"AIRFLOW_HOME": str(self.airflow_home)})

    def log(self, name: str) -> Path:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"


def sandbox_ports(config: SandboxConfig) -> dict[str, tuple[int, str]]:
    """What listens where, with the option that moves it: {label: (port, option)}."""
    return {
        "HubSpot API stand-in": (config.hubspot_port, "--hubspot-port"),
        "Stripe API stand-in": (config.stripe_port, "--stripe-port"),
        "mailbox page": (config.mailbox_port, "--mailbox-port"),
        "SMTP server": (config.smtp_port, "--smtp-port"),
        "Slack receiver": (config.slack_port, "--slack-port"),
    }


def check_ports_free(host: str, ports: Mapping[str, tuple[int, str]]) -> None:
    """Fail before starting anything, naming each port already taken and the option that moves it."""
    taken = []
    for label, (port, option) in ports.items():
        with socket.socket() as sock:
            # As uvicorn binds: a socket lingering in TIME_WAIT from a previous run is no conflict.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                taken.append(f"  {host}:{port} ({label}): choose another with {option}")
    if taken:
        raise LocalError(
            "these ports are already in use (another `propale demo`, `propale run` or `propale sandbox`?):\n"
            + "\n".join(taken)
        )


def public_url(host: str, port: int) -> str:
    return f"http://{host}:{port}{CUSTOMER_PAGE_PREFIX}"


def airflow_environment(
    config: SandboxConfig, workspace: Workspace, public_url: str, **settings: str
) -> dict[str, str]:
    """This process's environment plus Airflow's home and the sandbox's connections and variables
    (`airflow_env`), and `settings` as extra `AIRFLOW__…` options."""
    return {
        **os.environ,
        **airflow_env.environment(
            config, airflow_home=workspace.airflow_home, public_url=public_url, db_url=workspace.ledger_url
        ),
        **settings,
        "PYTHONUNBUFFERED": "1",
    }


def program(name: str) -> str:
    """A command installed beside this Python (airflow, propale), whatever PATH says."""
    return str(Path(sys.executable).with_name(name))


def run_logged(argv: list[str], env: Mapping[str, str], log: Path, timeout: float) -> None:
    """Run a command to completion, its output appended to `log`; failing, show its last lines."""
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LocalError(f"`{' '.join(argv[:4])}` did not finish within {timeout:.0f}s; see {log}") from None
    if result.returncode != 0:
        raise LocalError(
            f"`{' '.join(argv[:4])}` failed (exit code {result.returncode}); see {log}. Last lines:\n" + tail(log)
        )


def tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def migrate_airflow(env: Mapping[str, str], workspace: Workspace) -> None:
    """Create or upgrade Airflow's metadata database (SQLite in the Airflow home)."""
    workspace.airflow_home.mkdir(parents=True, exist_ok=True)
    run_logged([program("airflow"), "db", "migrate"], env, workspace.log("airflow-db-migrate"), timeout=300)


class Children:
    """Long-running child processes, each the leader of its own process group.

    Stopping signals the whole group, so what a child starts itself (LocalExecutor workers, task
    supervisors, uvicorn workers, DAG-file processors) stops with it and nothing is left orphaned.
    Being outside the terminal's process group, children also ignore the terminal's Ctrl-C: the
    parent decides the order in which they stop.
    """

    def __init__(self) -> None:
        self.processes: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                argv,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[name] = (process, log)
        return process

    def check_alive(self) -> None:
        for name, (process, log) in self.processes.items():
            if process.poll() is not None:
                raise LocalError(f"{name} exited with code {process.returncode}; see {log}. Last lines:\n{tail(log)}")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every group, wait, then SIGKILL what is left (in the groups too)."""
        for process, _ in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process, _ in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for process, _ in self.processes.values():
            # The leader may be gone while its workers linger: the group is killed either way.
            _signal_group(process, signal.SIGKILL)
            if process.poll() is None:
                process.wait()
        self.processes.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def wait_until(check, timeout: float, what: str, children: Children | None = None, interval: float = 0.25):
    """Poll `check()` until it returns something truthy; a child that dies ends the wait early."""
    deadline = time.monotonic() + timeout
    while True:
        if children is not None:
            children.check_alive()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise LocalError(f"{what} within {timeout:.0f}s")
        time.sleep(interval)
