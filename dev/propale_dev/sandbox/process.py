"""Start `propale sandbox` as a child process and wait until every stand-in answers.

Used by the test suite, the demo and the benchmarks, so that all of them talk HTTP to the
stand-ins exactly as Propale talks to the real services.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from propale_dev.sandbox.admin import SandboxAdmin
from propale_dev.sandbox.config import SandboxConfig


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def config_on_free_ports(data_dir: Path) -> SandboxConfig:
    return SandboxConfig(
        hubspot_port=free_port(),
        stripe_port=free_port(),
        mailbox_port=free_port(),
        smtp_port=free_port(),
        slack_port=free_port(),
        data_dir=data_dir,
    )


class SandboxProcess:
    """A running sandbox: `with SandboxProcess(config, reset=True, seed="demo") as sandbox: ...`."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        reset: bool = False,
        seed: str | None = None,
        generated_deals: int = 0,
        faults: Mapping[str, float] | None = None,
        log_path: Path | None = None,
    ):
        self.config = config
        self._args = [sys.executable, "-m", "propale", "sandbox", *self._options(reset, seed, faults)]
        if generated_deals:
            self._args += ["--generated-deals", str(generated_deals)]
        self._log_path = log_path or Path(config.data_dir).with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    def _options(self, reset: bool, seed: str | None, faults: Mapping[str, float] | None) -> list[str]:
        c = self.config
        options = [
            "--host", c.host,
            "--hubspot-port", str(c.hubspot_port),
            "--stripe-port", str(c.stripe_port),
            "--mailbox-port", str(c.mailbox_port),
            "--smtp-port", str(c.smtp_port),
            "--slack-port", str(c.slack_port),
            "--data-dir", str(c.data_dir),
            "--hubspot-token", c.hubspot_token,
            "--stripe-secret-key", c.stripe_secret_key,
            "--stripe-api-version", c.stripe_api_version,
        ]  # fmt: skip
        for scope in c.hubspot_token_missing_scopes:
            options += ["--hubspot-token-without-scope", scope]
        if reset:
            options.append("--reset")
        if seed:
            options += ["--seed", seed]
        for name, value in (faults or {}).items():
            options += ["--fault", f"{name}={value}"]
        return options

    @property
    def urls(self) -> dict[str, str]:
        c = self.config
        return {"hubspot": c.hubspot_url, "stripe": c.stripe_url, "mailbox": c.mailbox_url, "slack": c.slack_url}

    def admin(self, service: str) -> SandboxAdmin:
        return SandboxAdmin(self.urls[service])

    def start(self, timeout: float = 30.0) -> SandboxProcess:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        # The child keeps its own copy of the file descriptor.
        with open(self._log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
        deadline = time.monotonic() + timeout
        pending = dict(self.urls)
        while pending:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited with code {self._process.returncode}; "
                    f"its log:\n{self._log_path.read_text(errors='replace')[-3000:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the sandbox did not answer within {timeout:.0f}s: {sorted(pending)}")
            for name, url in list(pending.items()):
                try:
                    if httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        return self

    def poll(self) -> int | None:
        """The exit code once the process has ended (None while it runs)."""
        return None if self._process is None else self._process.poll()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop the process; SIGKILL simulates a crash (state written so far must survive)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(sig)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def restart(self) -> SandboxProcess:
        self.stop()
        self._args = [a for a in self._args if a != "--reset"]
        for option in ("--seed", "--generated-deals"):
            if option in self._args:
                i = self._args.index(option)
                del self._args[i : i + 2]
        return self.start()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
