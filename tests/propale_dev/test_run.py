"""`propale run`: Airflow's components, the sandbox and the customer page come up on free ports,
the DAGs run on their schedules, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from propale_dev.local import check_ports_free, sandbox_ports
from propale_dev.sandbox.process import config_on_free_ports, free_port

# Each test starts the whole local Airflow: `make test-all` runs them.
pytestmark = [pytest.mark.long, pytest.mark.timeout(600)]


class LocalRun:
    def __init__(self, home: Path):
        config = config_on_free_ports(home / "sandbox")
        self.port = free_port()
        self.ports = {**sandbox_ports(config), "Airflow API server": (self.port, "--port")}
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = home / "run.out"
        argv = [sys.executable, "-m", "propale", "run"]
        for port, option in self.ports.values():
            argv += [option, str(port)]
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                argv, env={**os.environ, "PROPALE_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT
            )

    def text(self) -> str:
        return self.output.read_text()

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "Propale is running" not in self.text():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.5)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):
    local = LocalRun(tmp_path_factory.mktemp("run"))
    try:
        local.wait_ready()
        yield local
    finally:
        if local.process.poll() is None:
            local.process.send_signal(signal.SIGINT)
            local.process.wait(60)


def test_it_prints_where_everything_is(running):
    text = running.text()
    assert f"Airflow UI           {running.url}" in text
    assert f"Customer page        {running.url}/propale/p/" in text
    for label in ("Mailbox", "Slack", "HubSpot API stand-in", "Stripe API stand-in"):
        assert label in text


def test_the_api_server_answers_without_a_login(running):
    health = httpx.get(f"{running.url}/api/v2/monitor/health").json()
    assert {
        part: health[part]["status"] for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    } == dict.fromkeys(("metadatabase", "scheduler", "triggerer", "dag_processor"), "healthy")
    assert httpx.get(f"{running.url}/api/v2/dags").status_code == 200, "SimpleAuthManager, everyone admin"


def test_the_dags_are_listed_unpaused(running):
    dags = {d["dag_id"]: d for d in httpx.get(f"{running.url}/api/v2/dags").json()["dags"]}
    assert {dag_id: dags[dag_id]["is_paused"] for dag_id in ("propale_send_proposals", "propale_sync_stripe")} == {
        "propale_send_proposals": False,
        "propale_sync_stripe": False,
    }


def test_the_customer_page_is_served_under_propale(running):
    page = httpx.get(f"{running.url}/propale/p/an-unknown-link")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert page.headers["x-frame-options"] == "DENY", "Propale's page, with its security headers"


def test_the_stripe_sync_runs_on_its_schedule_through_the_local_executor(running):
    url = f"{running.url}/api/v2/dags/propale_sync_stripe/dagRuns"
    deadline = time.monotonic() + 150
    while True:
        runs = httpx.get(url, params={"state": "success"}).json()["dag_runs"]
        if any(run["run_type"] == "scheduled" for run in runs):
            break
        assert time.monotonic() < deadline, httpx.get(url).json()
        time.sleep(2)


def test_ctrl_c_stops_every_process_it_started(running):
    started = running.descendants()
    assert len(started) >= 5, "the sandbox and Airflow's four components, with their own children"
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(90) == 0
    assert "Stopped." in running.text()
    _gone, alive = psutil.wait_procs(started, timeout=10)
    assert alive == [], alive
    check_ports_free("127.0.0.1", running.ports)
