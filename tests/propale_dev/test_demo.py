"""`propale demo` as a newcomer runs it: a subprocess with its own PROPALE_HOME, on free ports."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from propale_dev.local import check_ports_free, sandbox_ports
from propale_dev.sandbox.hubspot.demo_data import DEALS, DEFECTIVE_DEALS
from propale_dev.sandbox.process import config_on_free_ports, free_port

# Each test plays the whole demo with Airflow: `make test-all` runs them.
pytestmark = [pytest.mark.long, pytest.mark.timeout(600)]


def demo_argv(home: Path, *options: str) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """`propale demo` on free ports; also returns the ports, by label."""
    config = config_on_free_ports(home / "sandbox")
    ports = {**sandbox_ports(config), "customer page": (free_port(), "--port")}
    argv = [sys.executable, "-m", "propale", "demo", *options]
    for port, option in ports.values():
        argv += [option, str(port)]
    return argv, ports


def demo(home: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], dict[str, tuple[int, str]]]:
    """Run the demo to its end."""
    argv, ports = demo_argv(home, *options)
    env = {**os.environ, "PROPALE_HOME": str(home)}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=540), ports


def report_of(stdout: str, name: str) -> str:
    """The report's lines about one deal: ` 7. <name>` and the indented lines under it."""
    [block] = re.findall(rf"^ ?\d+\. {re.escape(name)}\n(?:    .*\n)*", stdout, re.M)
    return block


@dataclass
class Finished:
    stdout: str
    stderr: str
    returncode: int
    ports: dict[str, tuple[int, str]]
    while_running: dict[str, int]  # HTTP statuses seen before Ctrl-C, by what was asked


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """The demo with --keep-running: its pages looked at once the report is out, then Ctrl-C."""
    home = tmp_path_factory.mktemp("demo")
    argv, ports = demo_argv(home, "--keep-running")
    out, err = home / "stdout", home / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(argv, env={**os.environ, "PROPALE_HOME": str(home)}, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 540
        while "Ctrl-C stops it." not in out.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        while_running = {}
        if process.poll() is None:
            mailbox = f"http://127.0.0.1:{ports['mailbox page'][0]}"
            while_running["mailbox page"] = httpx.get(mailbox).status_code
            [email] = [
                m
                for m in httpx.get(f"{mailbox}/api/messages").json()
                if "proposition commerciale DEV-2026-00001" in m["subject"]
            ]
            text = httpx.get(f"{mailbox}/api/messages/{email['id']}").json()["text"]
            link = re.search(r"http://127\.0\.0\.1:\d+/propale/p/\S+", text).group(0)
            while_running["link in the email"] = httpx.get(link).status_code
            process.send_signal(signal.SIGINT)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    return Finished(out.read_text(), err.read_text(), process.returncode, ports, while_running)


def test_the_demo_runs_the_whole_loop_and_reports_every_deal(finished):
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    out = finished.stdout
    for step in ("[ 1/11]", "[ 5/11] airflow dags test propale_send_proposals", "[11/11]"):
        assert step in out
    assert "FAILED" not in out
    assert "10 proposals sent; 2 deals in « Erreur », as expected" in out

    paid = [deal["name"] for deal in DEALS if deal["name"] not in DEFECTIVE_DEALS]
    for name in paid:
        block = report_of(out, name)
        assert "« Proposition acceptée » · DEV-" in block
        assert "carte" in block or "prélèvement SEPA" in block
        assert "Stripe   cus_" in block and "(paid" in block
        assert "Email    « Votre proposition commerciale DEV-" in block
        assert "a accepté la proposition DEV-" in block and "Email    « Votre facture " in block
        assert "Slack    « Proposition acceptée" in block
    assert "prélèvement SEPA" in report_of(out, paid[1]), "payment methods alternate"

    # A month later on the test clock, the first customer's subscriptions renewed and were emailed.
    renewed = report_of(out, paid[0])
    assert "sub_" in renewed and "(paid, renewal)" in renewed
    assert renewed.count("Email    « Votre facture ") == 2

    for name in DEFECTIVE_DEALS:
        block = report_of(out, name)
        assert "« Erreur » · no proposal" in block
        assert "(expected: defective on purpose)" in block
    assert "Propositions Propale : 10 envoyées, 2 à corriger" in out


def test_with_keep_running_the_pages_stay_up_until_ctrl_c(finished):
    assert finished.while_running == {"mailbox page": 200, "link in the email": 200}
    assert finished.returncode == 0, finished.stderr[-3000:]
    check_ports_free("127.0.0.1", finished.ports)


def test_the_report_says_where_to_look(finished):
    out = finished.stdout
    for label in ("Mailbox", "Slack messages", "HubSpot API stand-in", "Stripe API stand-in", "Customer page"):
        assert label in out
    assert "/propale/p/" in out
    assert "Everything keeps running; Ctrl-C stops it." in out


def test_a_taken_port_fails_at_once_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = config_on_free_ports(tmp_path / "sandbox")
        result = subprocess.run(
            [
                sys.executable, "-m", "propale", "demo",
                "--hubspot-port", str(port), "--stripe-port", str(config.stripe_port),
                "--mailbox-port", str(config.mailbox_port), "--smtp-port", str(config.smtp_port),
                "--slack-port", str(config.slack_port), "--port", str(free_port()),
            ],
            env={**os.environ, "PROPALE_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert "[ 1/11] Checking that the ports are free… FAILED" in result.stdout
    assert f"127.0.0.1:{port} (HubSpot API stand-in): choose another with --hubspot-port" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_step_failing_midway_exits_non_zero_and_stops_what_it_started(tmp_path):
    # Stripe answering 500 to everything: the sending works, the first Stripe call of the demo fails.
    result, ports = demo(tmp_path, "--fault", "stripe.error_rate=1")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "[ 5/11] airflow dags test propale_send_proposals… ok" in result.stdout
    assert "FAILED" in result.stdout
    assert "propale demo: a step failed: APIError" in result.stderr
    assert str(tmp_path / "logs" / "demo.log") in result.stderr
    # Nothing keeps running: every port the demo used can be bound again.
    check_ports_free("127.0.0.1", ports)
