"""`propale run`: Airflow on this machine, the way `airflow standalone` runs it, against the sandbox.

Scheduler, DAG processor, triggerer and API server are separate processes (as in production), on
SQLite with the LocalExecutor and no login prompt (SimpleAuthManager, everyone admin). The API
server serves the customer page under /propale through the plugin. The DAGs are unpaused and run on
their schedules. Pointing it at real HubSpot, Stripe, SMTP and Slack is a matter of connections and
variables only (see docs/configuration.md).

Ctrl-C (or SIGTERM) stops everything it started: each component is its own process group, and the
whole group is stopped, so no worker or task process outlives it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

import httpx

from propale_dev.local import (
    CUSTOMER_PAGE_PREFIX,
    Children,
    LocalError,
    Workspace,
    airflow_environment,
    check_ports_free,
    migrate_airflow,
    program,
    public_url,
    sandbox_ports,
    wait_until,
)
from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.process import SandboxProcess

DAG_IDS = ("propale_send_proposals", "propale_sync_stripe")
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


@dataclass
class RunOptions:
    sandbox: SandboxConfig
    workspace: Workspace
    port: int  # Airflow's API server: the UI, the REST API and the customer page under /propale
    faults: Mapping[str, float] = field(default_factory=dict)
    startup_timeout: float = 240.0


class _Stop(Exception):
    """SIGTERM, handled like Ctrl-C."""


def airflow_settings(host: str, port: int) -> dict[str, str]:
    """What `airflow standalone` would force, plus the API server's address for the task workers."""
    base_url = f"http://{host}:{port}"
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # SQLite takes one writer at a time: more task processes would only wait on each other.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        # Task processes report to the API server; its default guess is localhost:8080.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
    }


def run(options: RunOptions, out: TextIO = sys.stdout) -> int:
    # httpx logs every request at INFO, and this process polls.
    logging.getLogger().setLevel(logging.WARNING)
    local = _LocalRun(options, out)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        local.start()
        local.announce()
        local.watch()
        return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    except LocalError as error:
        print(f"\npropale run: {error}", file=sys.stderr)
        return 1
    finally:
        local.stop()
        signal.signal(signal.SIGTERM, previous)


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


class _LocalRun:
    def __init__(self, options: RunOptions, out: TextIO):
        self.options = options
        self.out = out
        self.config = options.sandbox
        self.workspace = options.workspace
        self.host = self.config.host
        self.api_url = f"http://{self.host}:{options.port}"
        self.public_url = public_url(self.host, options.port)
        self.env = airflow_environment(
            self.config, self.workspace, self.public_url, **airflow_settings(self.host, options.port)
        )
        # Connections and variables already in the environment win over the sandbox's: exporting
        # AIRFLOW_CONN_HUBSPOT_DEFAULT with a real token is all it takes to use the real HubSpot.
        self.overridden = sorted(
            name
            for name, value in os.environ.items()
            if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")) and self.env[name] != value
        )
        self.env.update({name: os.environ[name] for name in self.overridden})
        self.sandbox = SandboxProcess(
            self.config, seed="demo", faults=options.faults, log_path=self.workspace.log("sandbox")
        )
        self.children = Children()

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def start(self) -> None:
        check_ports_free(self.host, {**sandbox_ports(self.config), "Airflow API server": (self.options.port, "--port")})
        self._say(f"Starting the sandbox (state in {self.config.data_dir}; the demo company is loaded once)…")
        self.sandbox.start()
        self._say("Preparing Airflow's metadata database (airflow db migrate)…")
        migrate_airflow(self.env, self.workspace)
        self._say(f"Starting Airflow: {', '.join(COMPONENTS)} (logs in {self.workspace.log_dir})…")
        for component in COMPONENTS:
            self.children.start(
                f"airflow {component}",
                [program("airflow"), component],
                self.env,
                self.workspace.log(f"airflow-{component}"),
            )
        timeout = self.options.startup_timeout
        wait_until(self._healthy, timeout, "Airflow did not report every component healthy", self.children, 1.0)
        wait_until(self._unpause_dags, timeout, f"the DAGs {', '.join(DAG_IDS)} were not listed", self.children, 1.0)
        wait_until(self._customer_page_answers, timeout, "the customer page did not answer", self.children, 1.0)

    def _get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"{self.api_url}{path}", timeout=5)
        except httpx.HTTPError:
            return None

    def _healthy(self) -> bool:
        response = self._get("/api/v2/monitor/health")
        if response is None or response.status_code != 200:
            return False
        health = response.json()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    def _unpause_dags(self) -> bool:
        """Once the DAG processor has listed both DAGs, unpause those a previous run left paused."""
        response = self._get("/api/v2/dags?dag_id_pattern=propale_&limit=100")
        if response is None or response.status_code != 200:
            return False
        dags = {dag["dag_id"]: dag for dag in response.json()["dags"]}
        if not all(dag_id in dags for dag_id in DAG_IDS):
            return False
        for dag_id in DAG_IDS:
            if dags[dag_id]["is_paused"]:
                httpx.patch(
                    f"{self.api_url}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=10
                ).raise_for_status()
        return True

    def _customer_page_answers(self) -> bool:
        response = self._get(f"{CUSTOMER_PAGE_PREFIX}/healthz")
        return response is not None and response.status_code == 200

    def announce(self) -> None:
        c = self.config
        self._say(
            "\nPropale is running\n"
            f"  Airflow UI           {self.api_url}   (no login: everyone is admin)\n"
            f"  Customer page        {self.public_url}/p/…   (propale_public_url)\n"
            f"  Mailbox              {c.mailbox_url}   SMTP {c.host}:{c.smtp_port}\n"
            f"  Slack                {c.slack_url}\n"
            f"  HubSpot API stand-in {c.hubspot_url}   token {c.hubspot_token}\n"
            f"  Stripe API stand-in  {c.stripe_url}   secret key {c.stripe_secret_key}\n"
            f"  Logs                 {self.workspace.log_dir}\n"
            f"  Airflow CLI          AIRFLOW_HOME={self.workspace.airflow_home} {program('airflow')} …\n"
            f"DAGs {' and '.join(DAG_IDS)} are unpaused: proposals go out every 5 minutes, Stripe is synced "
            "every minute. Set a deal's propale_status to to_propose to see one go.\n"
            "Ctrl-C stops everything."
        )
        if self.overridden:
            self._say("From your environment, instead of the sandbox's: " + ", ".join(self.overridden))

    def watch(self) -> None:
        while True:
            self.children.check_alive()
            if self.sandbox.poll() is not None:
                raise LocalError(f"the sandbox stopped; see {self.workspace.log('sandbox')}")
            time.sleep(1)

    def stop(self) -> None:
        # A second Ctrl-C or a SIGTERM must not cut the shutdown short and leave processes behind.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if self.children.processes:
                self._say("\nStopping Airflow and the sandbox…")
            self.children.stop()
            self.sandbox.stop()
            self._say("Stopped.")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
