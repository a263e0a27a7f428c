"""Payment → Slack latency with the default schedules, under the real scheduler.

`propale run` (scheduler, DAG processor, triggerer, API server, LocalExecutor) runs against its own
sandbox on free ports. A few demo deals are flagged and their proposals sent (a triggered run of
`propale_send_proposals`, rather than waiting up to 5 minutes for its schedule); then each customer
opens the email, accepts and pays on the hosted Checkout with a test card
(`propale_dev.sandbox.customer.Customer`), the payments spread over a minute so that they fall at
different moments of `propale_sync_stripe`'s every-minute schedule. The latency of a sample is from
the Checkout page's answer to the Slack post « Proposition acceptée » about that deal appearing in
the Slack receiver.
"""

from __future__ import annotations

import html
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
)

from bench.report import Figure, progress, seconds
from propale.crm import HubSpotGateway, Status, make_client
from propale_dev.local import sandbox_ports, tail
from propale_dev.sandbox.customer import Customer
from propale_dev.sandbox.hubspot.demo_data import DEFECTIVE_DEALS
from propale_dev.sandbox.process import config_on_free_ports, free_port

SYNC_DAG = "propale_sync_stripe"
SEND_DAG = "propale_send_proposals"
SYNC_INTERVAL_S = 60.0  # dags/propale_sync_stripe.py: schedule="* * * * *"
ACCEPTED = "Proposition acceptée"  # the title of the Slack announcement (propale.syncing)


@dataclass
class Sample:
    deal_id: str
    deal_name: str
    email: str
    name: str
    number: str = ""
    paid_at: float | None = None  # time.time() when Checkout answered
    posted_at: float | None = None  # time.time() when the Slack post was first seen

    @property
    def latency_s(self) -> float | None:
        return None if self.paid_at is None or self.posted_at is None else self.posted_at - self.paid_at


class LocalRun:
    """`propale run` as a user starts it, in its own $PROPALE_HOME, on free ports."""

    def __init__(self, home: Path):
        self.home = home
        self.config = config_on_free_ports(home / "sandbox")
        self.port = free_port()
        self.api_url = f"http://{self.config.host}:{self.port}"
        self.public_url = f"{self.api_url}/propale"
        self.output = home / "propale-run.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 420) -> None:
        argv = [sys.executable, "-m", "propale", "run", "--port", str(self.port)]
        for port, option in sandbox_ports(self.config).values():
            argv += [option, str(port)]
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                argv, env={**os.environ, "PROPALE_HOME": str(self.home)}, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while "Propale is running" not in self.output.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`propale run` did not come up; its output:\n{tail(self.output, 30)}")
            time.sleep(1)

    def stop(self) -> None:
        """As Ctrl-C does: `propale run` stops every process it started."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def api(self, method: str, path: str, **kwargs) -> dict:
        response = httpx.request(method, f"{self.api_url}/api/v2{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()


def payment_latency(root: Path, samples: int = 3) -> list[Figure]:
    run = LocalRun(root)
    progress(f"Starting `propale run` (scheduler, DAG processor, triggerer, API server) in {root}")
    try:
        run.start()
        chosen = _send_proposals(run, samples)
        _pay_and_watch_slack(run, chosen)
        durations = _sync_run_durations(run)
    finally:
        progress("Stopping `propale run`")
        run.stop()
    return _figures(chosen, durations)


def _send_proposals(run: LocalRun, count: int) -> list[Sample]:
    hubspot = make_client(run.config.hubspot_token, host=run.config.hubspot_url)
    gateway = HubSpotGateway(hubspot)
    # What `propale setup` does once, as a HubSpot admin would before any rep flags a deal.
    gateway.ensure_deal_properties()
    ids = [deal.id for deal in hubspot.crm.deals.get_all(properties=["dealname"])]
    records = gateway.read_deals(ids)
    chosen = []
    for record in sorted(records.values(), key=lambda r: int(r.id)):
        if record.name in DEFECTIVE_DEALS or not record.contacts or len(chosen) == count:
            continue
        contact = record.contacts[0]
        chosen.append(Sample(record.id, record.name, contact["email"], f"{contact['firstname']} {contact['lastname']}"))
    hubspot.crm.deals.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": s.deal_id, "properties": {"propale_status": Status.TO_PROPOSE}} for s in chosen]
        )
    )
    run.api(
        "POST",
        f"/dags/{SEND_DAG}/dagRuns",
        json={"logical_date": None, "conf": {"deal_ids": [s.deal_id for s in chosen]}},
    )
    progress(f"Triggered {SEND_DAG} for {len(chosen)} demo deals; waiting for their proposals")
    deadline = time.monotonic() + 600
    while True:
        response = hubspot.crm.deals.batch_api.read(
            BatchReadInputSimplePublicObjectId(
                inputs=[{"id": s.deal_id} for s in chosen], properties=["propale_status", "propale_proposal_number"]
            )
        )
        numbers = {
            d.id: d.properties["propale_proposal_number"]
            for d in response.results
            if d.properties["propale_status"] == Status.SENT
        }
        if len(numbers) == len(chosen):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{SEND_DAG} did not send the proposals within 10 minutes; see {run.home / 'logs'}")
        time.sleep(2)
    for sample in chosen:
        sample.number = numbers[sample.deal_id]
    return chosen


def _pay_and_watch_slack(run: LocalRun, chosen: list[Sample]) -> None:
    """Pay one sample every SYNC_INTERVAL_S / n seconds (plus a little, so that the phases drift),
    while watching the Slack receiver for each deal's announcement."""
    spacing = SYNC_INTERVAL_S / len(chosen) + 3
    start = time.monotonic()
    due = {sample.deal_id: start + i * spacing for i, sample in enumerate(chosen)}
    deadline = start + len(chosen) * spacing + 6 * SYNC_INTERVAL_S
    with Customer(run.config.mailbox_url, run.public_url, user_agent="propale-bench") as customer:
        while any(s.posted_at is None for s in chosen):
            now = time.monotonic()
            if now > deadline:
                missing = ", ".join(s.deal_name for s in chosen if s.posted_at is None)
                raise RuntimeError(f"no Slack post « {ACCEPTED} » for {missing}; see {run.home / 'logs'}")
            for sample in chosen:
                if sample.paid_at is None and now >= due[sample.deal_id]:
                    customer.accept_and_pay(sample.email, sample.number, "card", sample.name)
                    sample.paid_at = time.time()
                    progress(f"Paid {sample.number} ({sample.deal_name}) by card; waiting for Slack")
            _see_slack_posts(run, chosen)
            time.sleep(0.5)


def _see_slack_posts(run: LocalRun, chosen: list[Sample]) -> None:
    posts = httpx.get(f"{run.config.slack_url}/api/messages", timeout=10).json()
    texts = [html.unescape(post["text"]) for post in posts]
    for sample in chosen:
        waiting = sample.paid_at is not None and sample.posted_at is None
        if waiting and any(text.startswith(ACCEPTED) and sample.deal_name in text for text in texts):
            sample.posted_at = time.time()
            progress(f"Slack announced {sample.deal_name} {sample.latency_s:.1f} s after the payment")


def _sync_run_durations(run: LocalRun) -> list[float]:
    """Durations of the completed scheduled runs of the sync DAG, from Airflow's REST API."""
    runs = run.api("GET", f"/dags/{SYNC_DAG}/dagRuns", params={"limit": 100, "order_by": "-start_date"})["dag_runs"]
    return [
        (datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])).total_seconds()
        for r in runs
        if r["run_type"] == "scheduled" and r.get("start_date") and r.get("end_date")
    ]


def _figures(chosen: list[Sample], durations: list[float]) -> list[Figure]:
    latencies = sorted(s.latency_s for s in chosen if s.latency_s is not None)
    longest_run = max(durations) if durations else 0.0
    bound = SYNC_INTERVAL_S + longest_run
    median = statistics.median(latencies)
    run_note = (
        f"{SYNC_DAG} every {SYNC_INTERVAL_S:.0f} s; its runs took median {seconds(statistics.median(durations))}, "
        f"max {seconds(longest_run)} ({len(durations)} run{'s' if len(durations) > 1 else ''})"
        if durations
        else "no completed sync run was listed"
    )
    return [
        Figure(
            f"Payment → Slack latency, min / median / max ({len(latencies)} payments)",
            f"{seconds(latencies[0])} / {seconds(median)} / {seconds(latencies[-1])}",
            f"≤ {seconds(bound)} (interval + run)",
            run_note,
            missed=latencies[-1] > bound,
        )
    ]
