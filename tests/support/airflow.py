"""`airflow` commands run as subprocesses against a sandbox (the `airflow_for` fixture makes them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from propale_dev.sandbox import airflow_env
from propale_dev.sandbox.process import SandboxProcess


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
            raise AssertionError(
                f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def dags_test(
        self, dag_id: str, conf: dict[str, object] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        args = ["dags", "test", dag_id]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        return self.run(*args, check=check)
