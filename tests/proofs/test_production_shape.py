"""The production shape of docker-compose.yaml, proven with real processes (no Docker engine here).

PostgreSQL holds Airflow's metadata and Propale's ledger (two throwaway databases), Redis is
Celery's broker (a dedicated database number). Each compose service runs as its own process with
its compose command, its own AIRFLOW_HOME and the options compose gives it (`airflow-init`, then
the API server, scheduler, dag-processor, triggerer and customer page, then the Celery worker once
the API server passes its compose health check): like containers, they share only those options
(the JWT secret among them), the databases, the broker and the task logs. Every compose health
check is run against them. Then the whole loop goes through them: deals flagged with HubSpot's
client, `propale_send_proposals` triggered through the REST API, the customer accepting and paying
over HTTP, `propale_sync_stripe` triggered, and what everyone gets read back from the sandbox.

PostgreSQL (`PROPALE_TEST_POSTGRES_URL`, trust auth, allowed to create databases) and Redis
(`PROPALE_TEST_REDIS_URL`, whose database is emptied) must be running; otherwise the test skips
and says why. `pytest -m production` runs this file alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy
import yaml
from airflow.utils.net import get_hostname
from cryptography.fernet import Fernet
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId

from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports, free_port
from support.airflow import Airflow
from support.postgres import POSTGRES_URL, postgres_unavailable
from support.site import KAIROS, LUMEN, Site
from support.stripe_sandbox import card_form

pytestmark = [pytest.mark.production, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PROPALE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
ADMIN_PASSWORD = "proof-" + secrets.token_urlsafe(12)
DEALS = (LUMEN, KAIROS)  # a monthly subscription and a one-off service
# What compose gets from its network (an address per service, so default ports) and its logs volume.
ONE_MACHINE_ONLY = {
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
}


def airflow_options(*, metadata_url: str, broker_url: str, shared: Path) -> dict[str, str]:
    """What docker-compose.yaml sets for every Airflow service (x-airflow-common), on this machine.
    `shared` stands for the logs volume and the API server's home."""
    api_port = free_port()
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(shared / "simple_auth_manager_passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(shared / "logs"),
    }


# --- the compose files, read as they are ---------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_compose_sets_the_airflow_options_this_proof_runs_with(tmp_path):
    common = _compose()["x-airflow-common"]["environment"]
    proof = airflow_options(metadata_url="postgresql://", broker_url="redis://", shared=tmp_path)
    assert {k for k in common if k.startswith("AIRFLOW__")} == set(proof) - ONE_MACHINE_ONLY


def test_every_airflow_option_in_compose_is_one_airflow_knows():
    from airflow.configuration import conf

    known = conf.configuration_description  # Airflow's and its providers' options
    names = set()
    for service in [_compose()["x-airflow-common"], *_compose()["services"].values()]:
        names |= {k for k in (service.get("environment") or {}) if k.startswith("AIRFLOW__")}
    for name in sorted(names):
        section, option = name.removeprefix("AIRFLOW__").lower().split("__")
        assert option in known.get(section, {}).get("options", {}), f"{name}: no [{section}] {option} in Airflow 3"


def test_env_example_defines_every_variable_compose_needs():
    compose = (REPO / "docker-compose.yaml").read_text()
    needed = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", compose))  # `$$` is compose's escape
    example = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert needed <= example, f"missing from .env.example: {sorted(needed - example)}"
    for line in (REPO / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_PROPALE_SELLER", "AIRFLOW_VAR_PROPALE_PAYMENT_METHODS")):
            json.loads(value)  # Airflow reads these as JSON


def test_every_long_running_service_has_a_health_check():
    for name, service in _compose()["services"].items():
        if name != "airflow-init":
            assert "healthcheck" in service, name


# --- the same shape, as processes ----------------------------------------------------------------


class Component:
    """A long-running process in a process group of its own, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Component:
        with open(self.log_path, "ab") as log:
            # From the repository, as the image's workdir: compose's commands are relative to it.
            self.process = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def exited(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM to the process alone, as `docker stop` does (Celery then shuts its pool down
        itself), then SIGKILL to its whole group: whatever it forked and left behind goes too."""
        if self.process is None:
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ProductionAirflow(Airflow):
    """`Airflow` (connections and variables pointing at the sandbox) plus the compose options."""

    def __init__(self, home: Path, sandbox: SandboxProcess, ledger_url: str, options: dict[str, str]):
        super().__init__(home, sandbox, ledger_url, public_url="")
        self.options = options

    @property
    def env(self) -> dict[str, str]:
        # Compose's commands and health checks call `airflow`, `celery`, `uvicorn`, `python`: this
        # environment's. AIRFLOW_ADMIN_PASSWORD comes from .env in compose.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            **super().env,
            **self.options,
            "AIRFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PATH": path,
            "PYTHONUNBUFFERED": "1",
        }


class Cluster:
    """Compose's services as processes, the sandbox and the customer page; the REST API as the admin."""

    def __init__(self, airflow: ProductionAirflow, site: Site, tmp: Path):
        self.airflow = airflow
        self.site = site
        self.tmp = tmp
        options = airflow.options
        self.api = f"http://127.0.0.1:{options['AIRFLOW__API__PORT']}"
        # The ports compose's commands and health checks use, and this machine's instead.
        self.ports = {
            "8080": options["AIRFLOW__API__PORT"],
            "8974": options["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"],
            "8000": str(site.port),
        }
        self.components: dict[str, Component] = {}
        self.rest: httpx.Client | None = None

    def _here(self, arg: str) -> str:
        """A word of a compose command or health check, with this machine's address and ports."""
        arg = re.sub(r"\blocalhost:(\d+)", lambda m: f"127.0.0.1:{self.ports[m.group(1)]}", arg)
        return {"0.0.0.0": "127.0.0.1", "8000": self.ports["8000"]}.get(arg, arg)

    def command(self, service: str) -> list[str]:
        """The service's command in docker-compose.yaml, run from the repository (the image's workdir)."""
        return [self._here(arg) for arg in _compose()["services"][service]["command"]]

    def env(self, service: str) -> dict[str, str]:
        """The service's environment: a home of its own, as each container has. Airflow writes an
        airflow.cfg there with secrets of its own making: shared, it would hide a missing option."""
        home = self.tmp / "homes" / service
        home.mkdir(parents=True, exist_ok=True)
        return {**self.airflow.env, "AIRFLOW_HOME": str(home)}

    def start(self, service: str) -> Component:
        component = Component(service, self.command(service), self.env(service), self.tmp / f"{service}.log")
        self.components[service] = component.start()
        return component

    def health_check(self, service: str) -> subprocess.CompletedProcess[bytes]:
        """The service's health check in docker-compose.yaml, run here."""
        kind, *test = _compose()["services"][service]["healthcheck"]["test"]
        if kind == "CMD-SHELL":
            # `$$` is compose's escape for the `$` the shell then sees.
            argv = ["sh", "-c", self._here(test[0].replace("$$", "$"))]
        else:
            argv = [self._here(arg) for arg in test]
        # In a container, HOSTNAME is both the host name Celery names its worker after and the
        # name Airflow records jobs under; on this machine the two may differ.
        hostname = socket.gethostname() if service == "airflow-worker" else get_hostname()
        env = {**self.env(service), "HOSTNAME": hostname}
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, timeout=120, check=False)

    def wait_healthy(self, service: str, timeout: float = 150) -> None:
        last: subprocess.CompletedProcess[bytes] | None = None

        def passes() -> bool:
            nonlocal last
            try:
                last = self.health_check(service)
            except subprocess.TimeoutExpired:
                return False
            return last.returncode == 0

        try:
            self.wait(f"{service} to pass its health check", passes, timeout, interval=2)
        except AssertionError as error:
            said = (last.stdout + last.stderr).decode(errors="replace")[-2000:] if last else "(nothing: it timed out)"
            raise AssertionError(f"{service}'s health check said:\n{said}\n{error}") from None

    def report(self, lines: int = 25) -> str:
        """The tail of every log, for a failure message."""
        logs = {name: (c.log(), c.exited()) for name, c in self.components.items()}
        page = self.site.log_path.read_text(errors="replace") if self.site.log_path.exists() else ""
        logs["customer-page"] = (page, self.site.process.poll() if self.site.process else None)
        parts = []
        for name, (text, exited) in logs.items():
            status = f" (exited with {exited})" if exited is not None else ""
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"----- {name}{status}: last {lines} lines -----\n{tail}")
        return "\n".join(parts)

    def wait(self, what: str, check: Callable[[], object], timeout: float, interval: float = 1.0) -> object:
        deadline = time.monotonic() + timeout
        while True:
            dead = [name for name, c in self.components.items() if c.exited() is not None]
            dead += ["customer-page"] if self.site.process and self.site.process.poll() is not None else []
            dead += ["sandbox"] if self.site.sandbox.poll() is not None else []
            if dead:
                raise AssertionError(f"{', '.join(dead)} exited while waiting for {what}\n{self.report()}")
            try:
                result = check()
            except httpx.HTTPError:
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f}s\n{self.report()}")
            time.sleep(interval)

    # --- the REST API ----------------------------------------------------------------------------

    def log_in(self) -> None:
        """A JWT from SimpleAuthManager's /auth/token, as any API client gets one."""

        def token() -> str | None:
            response = httpx.post(
                f"{self.api}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
            )
            return response.json()["access_token"] if response.status_code == 201 else None

        jwt = self.wait("a token from the API server's /auth/token", token, timeout=60)
        self.rest = httpx.Client(base_url=f"{self.api}/api/v2", headers={"Authorization": f"Bearer {jwt}"}, timeout=30)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        self.wait(
            f"{dag_id} parsed by the dag-processor",
            lambda: self.rest.get(f"/dags/{dag_id}").status_code == 200,
            timeout=120,
        )
        response = self.rest.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        assert response.status_code == 200, response.text
        return response.json()["dag_run_id"]

    def wait_for_success(self, dag_id: str, run_id: str, timeout: float) -> None:
        def finished() -> str | None:
            state = self.rest.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        def tasks() -> str:
            response = self.rest.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
            return "\n".join(
                f"  {t['task_id']}[{t['map_index']}]: {t['state']} (try {t['try_number']})"
                for t in response.json()["task_instances"]
            )

        try:
            state = self.wait(f"{dag_id} run {run_id} to finish", finished, timeout=timeout, interval=2)
        except AssertionError as error:
            raise AssertionError(f"{dag_id} run {run_id}, its tasks:\n{tasks()}\n{error}") from None
        if state != "success":
            raise AssertionError(f"{dag_id} run {run_id} failed, its tasks:\n{tasks()}\n{self.report()}")

    def tasks_run(self) -> list[dict]:
        """Every task instance that succeeded, in any run: the DAGs also run on their schedules,
        and a scheduled run may be the one that did the work."""
        response = self.rest.get("/dags/~/dagRuns/~/taskInstances", params={"state": "success", "limit": 100})
        response.raise_for_status()
        return response.json()["task_instances"]


@pytest.fixture(scope="module")
def services_available() -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")


@pytest.fixture(scope="module")
def databases(services_available) -> Iterator[tuple[str, str]]:
    """Throwaway PostgreSQL databases for Airflow's metadata and Propale's ledger."""
    server = sqlalchemy.make_url(POSTGRES_URL)
    names = [f"propale_proof_{uuid.uuid4().hex[:10]}_{what}" for what in ("airflow", "ledger")]
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield tuple(
            server.set(drivername="postgresql+psycopg2", database=n).render_as_string(hide_password=False)
            for n in names
        )
    finally:
        with admin.connect() as connection:
            for name in names:
                # FORCE: a component killed mid-query may leave a session behind.
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def broker(services_available) -> Iterator[str]:
    """Celery's broker: a Redis database of its own, empty before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, databases, broker) -> Iterator[Cluster]:
    """Compose's services started in compose's order (`depends_on`), stopped whatever happens."""
    metadata_url, ledger_url = databases
    tmp = tmp_path_factory.mktemp("production")
    (tmp / "homes" / "customer-page").mkdir(parents=True)
    options = airflow_options(metadata_url=metadata_url, broker_url=broker, shared=tmp)
    with ExitStack() as stack:
        sandbox = stack.enter_context(SandboxProcess(config_on_free_ports(tmp / "sandbox"), reset=True, seed="demo"))
        airflow = ProductionAirflow(tmp / "homes" / "customer-page", sandbox, ledger_url, options)
        site = Site(sandbox, airflow, tmp)  # the public URL becomes its address
        stack.callback(site.stop)
        cluster = Cluster(airflow, site, tmp)
        # Stopped in reverse order: the worker before the API server its tasks report to.
        for service in AIRFLOW_SERVICES:
            stack.callback(lambda s=service: cluster.components[s].stop() if s in cluster.components else None)

        init = subprocess.run(
            cluster.command("airflow-init"),
            cwd=REPO,
            env=cluster.env("airflow-init"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert init.returncode == 0, f"airflow-init failed:\n{init.stdout[-3000:]}\n{init.stderr[-3000:]}"
        for service in AIRFLOW_SERVICES[:-1]:
            cluster.start(service)
        site.start(cluster.command("customer-page"), timeout=60)
        cluster.wait_healthy("airflow-apiserver")  # the worker's `depends_on`
        cluster.start("airflow-worker")
        cluster.log_in()
        yield cluster


@pytest.mark.parametrize("service", [*AIRFLOW_SERVICES, "customer-page"])
def test_each_service_passes_its_compose_health_check(cluster, service):
    cluster.wait_healthy(service)


def test_the_api_server_sees_every_component_healthy(cluster):
    def healthy() -> bool:
        health = httpx.get(f"{cluster.api}/api/v2/monitor/health", timeout=10).json()
        return all(
            health[part]["status"] == "healthy" for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    cluster.wait("/api/v2/monitor/health to report every component healthy", healthy, timeout=60)


def test_the_whole_loop_runs_through_the_separate_components(cluster):
    site = cluster.site
    hubspot_ids = [site.deal_ids[name] for name in DEALS]

    # Propale's deal properties, as an operator creates them once (`docker compose exec
    # airflow-worker propale setup`); the reps can then flag deals, and the proposals go out
    # through the API server, the scheduler and the worker.
    setup = subprocess.run(
        ["propale", "setup"], env=cluster.env("airflow-worker"), capture_output=True, text=True, check=False
    )
    assert setup.returncode == 0, f"propale setup failed:\n{setup.stderr[-3000:]}"
    site.flag(*DEALS)
    send_run = cluster.trigger("propale_send_proposals", {"deal_ids": hubspot_ids})
    cluster.wait_for_success("propale_send_proposals", send_run, timeout=180)
    deals = _deals(site, hubspot_ids)
    assert [d["propale_status"] for d in deals] == ["sent", "sent"], deals

    # Each customer opens the link from the email, accepts, and pays on the Checkout page.
    for deal in deals:
        link = deal["propale_proposal_url"]
        assert link.startswith(f"{site.url}/p/")
        [email] = [m for m in _messages(site) if deal["propale_proposal_number"] in m["subject"]]
        assert link in httpx.get(f"{site.sandbox.config.mailbox_url}/api/messages/{email['id']}").json()["text"]
        with site.client() as customer:
            checkout = site.click(link, "card", customer)
            assert checkout.status_code == 303, checkout.text
            paid = httpx.post(checkout.headers["location"], data=card_form("4242 4242 4242 4242"))
            assert paid.status_code == 303, paid.text
            thanks = customer.get(paid.headers["location"])
            assert thanks.status_code == 200 and "Merci" in thanks.text

    # Stripe's events reach HubSpot, the mailbox and Slack.
    sync_run = cluster.trigger("propale_sync_stripe")
    cluster.wait_for_success("propale_sync_stripe", sync_run, timeout=180)
    deals = _deals(site, hubspot_ids)
    assert [d["propale_status"] for d in deals] == ["accepted", "accepted"], deals
    assert all(d["propale_payment_method"] == "card" for d in deals)
    subjects = [m["subject"] for m in _messages(site)]
    for deal in deals:
        number = deal["propale_proposal_number"]
        assert any(f"a accepté la proposition {number}" in s for s in subjects), subjects  # the rep
        invoice = site.stripe.v1.invoices.retrieve(deal["stripe_invoice_id"] or _first_invoice(site, deal))
        [message] = [m for m in _messages(site) if invoice.number in m["subject"]]  # the customer
        assert [a["content_type"] for a in message["attachments"]] == ["application/pdf", "application/pdf"]
    posts = " ".join(
        " ".join(p["block_texts"]) for p in httpx.get(f"{site.sandbox.config.slack_url}/api/messages").json()
    )
    assert "Proposition acceptée" in posts
    for name in DEALS:
        assert name in posts

    # Every task ran on the Celery worker, from the `default` queue (CeleryExecutor: the scheduler
    # only queues them).
    worker_log = cluster.components["airflow-worker"].log()
    ran = cluster.tasks_run()
    assert {t["task_id"] for t in ran} >= {
        "send_proposals",
        "write_back_to_hubspot",
        "read_stripe_events",
        "post_to_slack",
    }
    for task in ran:
        assert task["queue"] == "default", task
        pattern = (
            rf"Executing workload in Celery: .*task_id='{task['task_id']}'.*run_id='{re.escape(task['dag_run_id'])}'"
        )
        assert re.search(pattern, worker_log), f"{task['task_id']} of {task['dag_run_id']} is not in the worker's log"


def _deals(site: Site, ids: list[str]) -> list[dict]:
    properties = [
        "propale_status",
        "propale_proposal_number",
        "propale_proposal_url",
        "propale_payment_method",
        "stripe_subscription_id",
        "stripe_invoice_id",
    ]
    response = site.hubspot.crm.deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": i} for i in ids], properties=properties)
    )
    by_id = {deal.id: deal.properties for deal in response.results}
    return [by_id[i] for i in ids]


def _messages(site: Site) -> list[dict]:
    return httpx.get(f"{site.sandbox.config.mailbox_url}/api/messages").json()


def _first_invoice(site: Site, deal: dict) -> str:
    return site.stripe.v1.subscriptions.retrieve(deal["stripe_subscription_id"]).latest_invoice
