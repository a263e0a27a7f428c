"""The benchmarks' world: a sandbox seeded with the demo company and N generated customers, an
Airflow home pointed at it, and one measured `propale_send_proposals` run over N flagged deals.

Everything is prepared with the product's own helpers (`propale_dev.local`: workspace, Airflow
environment, `airflow db migrate`, `propale setup`), the way `propale demo` prepares its own, and
each piece only when a benchmark asks for it: the DAG-parse benchmark needs only the Airflow
environment, the customer-page benchmark needs the send run's proposals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import hubspot
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
)

from bench.report import progress
from propale.crm import BATCH_READ_LIMIT, Status, chunks, make_client
from propale_dev.local import (
    Workspace,
    airflow_environment,
    migrate_airflow,
    program,
    public_url,
    run_logged,
)
from propale_dev.sandbox.admin import SandboxAdmin
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports, free_port

GENERATED_DEAL_PREFIX = "Client "  # propale_dev.sandbox.hubspot.demo_data.generated_deal names them so


@dataclass(frozen=True)
class HubSpotLimit:
    """A HubSpot private app's documented rate limits, enforced by the sandbox during the measured run."""

    requests: int  # per `window_s`, every endpoint
    window_s: float
    search_per_second: int

    @property
    def per_second(self) -> float:
        return self.requests / self.window_s

    def describe(self) -> str:
        return f"{self.requests} per {self.window_s:g} s, search {self.search_per_second}/s"


@dataclass
class SendRun:
    """What one `airflow dags test propale_send_proposals` over the flagged deals did."""

    deals: int
    wall_s: float
    hubspot_stats: dict[str, Any]
    emails: list[dict[str, Any]]  # the mailbox's summaries (`received_at` to the second)
    deal_ids: list[str] = field(default_factory=list)


class BenchWorld:
    def __init__(self, root: Path, deals: int, limit: HubSpotLimit):
        self.root = root
        self.deals = deals
        self.limit = limit
        self.workspace = Workspace(root)
        self.config = config_on_free_ports(self.workspace.sandbox_dir)
        self.page_port = free_port()
        self.public_url = public_url(self.config.host, self.page_port)
        self.env = airflow_environment(self.config, self.workspace, self.public_url)
        self._sandbox: SandboxProcess | None = None
        self._airflow_ready = False
        self._send_run: SendRun | Exception | None = None

    # --- pieces, prepared on demand -----------------------------------------------------------

    def airflow_ready(self) -> dict[str, str]:
        """The environment of `airflow` commands, once Airflow's metadata database exists."""
        if not self._airflow_ready:
            progress(f"Preparing Airflow's home in {self.workspace.airflow_home} (airflow db migrate)")
            migrate_airflow(self.env, self.workspace)
            self._airflow_ready = True
        return self.env

    def sandbox(self) -> SandboxProcess:
        if self._sandbox is None:
            progress(f"Starting the sandbox: the demo company and {self.deals} generated customers")
            started = time.monotonic()
            self._sandbox = SandboxProcess(
                self.config,
                reset=True,
                seed="demo",
                generated_deals=self.deals,
                log_path=self.workspace.log("sandbox"),
            ).start(timeout=300)
            progress(f"Sandbox seeded and answering in {time.monotonic() - started:.1f} s")
            run_logged([program("propale"), "setup"], self.airflow_ready(), self.workspace.log("propale-setup"), 120)
        return self._sandbox

    @cached_property
    def hubspot(self) -> hubspot.Client:
        return make_client(self.config.hubspot_token, host=self.config.hubspot_url)

    def admin(self, service: str) -> SandboxAdmin:
        return self.sandbox().admin(service)

    # --- the measured send run ------------------------------------------------------------------

    def send_run(self) -> SendRun:
        """Flag every generated deal « À proposer », then run `propale_send_proposals` once, with
        HubSpot's rate limits enforced and the HubSpot stand-in's request counts reset just before."""
        if self._send_run is None:
            try:
                self._send_run = self._measure_send_run()
            except Exception as error:  # the benchmarks that need it fail alike, without a second try
                self._send_run = error
        if isinstance(self._send_run, Exception):
            raise self._send_run
        return self._send_run

    def _measure_send_run(self) -> SendRun:
        self.sandbox()
        deal_ids = self._flag_generated_deals()
        with self.admin("hubspot") as admin:
            admin.set_faults(
                rate_limit=self.limit.requests,
                rate_window_s=self.limit.window_s,
                search_rate_limit=self.limit.search_per_second,
            )
            admin.reset_stats()
        progress(
            f"airflow dags test propale_send_proposals: {len(deal_ids)} flagged deals (log: {self.workspace.log('propale_send_proposals')})"
        )
        started = time.monotonic()
        run_logged(
            [program("airflow"), "dags", "test", "propale_send_proposals"],
            self.env,
            self.workspace.log("propale_send_proposals"),
            timeout=3 * 3600,
        )
        wall_s = time.monotonic() - started
        with self.admin("hubspot") as admin:
            stats = admin.stats()
            admin.reset_faults()
        emails = httpx.get(f"{self.config.mailbox_url}/api/messages", timeout=60).json()
        progress(f"Send run done in {wall_s:.0f} s: {len(emails)} emails in the mailbox")
        return SendRun(len(deal_ids), wall_s, stats, emails, deal_ids)

    def _flag_generated_deals(self) -> list[str]:
        ids = [
            deal.id
            for deal in self.hubspot.crm.deals.get_all(properties=["dealname"])
            if (deal.properties.get("dealname") or "").startswith(GENERATED_DEAL_PREFIX)
        ]
        for batch in chunks(ids, BATCH_READ_LIMIT):
            self.hubspot.crm.deals.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[{"id": deal_id, "properties": {"propale_status": Status.TO_PROPOSE}} for deal_id in batch]
                )
            )
        return ids

    def proposal_urls(self, limit: int) -> list[str]:
        """The customer links the send run wrote on its deals (at most `limit`)."""
        urls: list[str] = []
        for batch in chunks(self.send_run().deal_ids[:limit], BATCH_READ_LIMIT):
            response = self.hubspot.crm.deals.batch_api.read(
                BatchReadInputSimplePublicObjectId(
                    inputs=[{"id": i} for i in batch], properties=["propale_proposal_url"]
                )
            )
            urls += [
                deal.properties["propale_proposal_url"]
                for deal in response.results
                if deal.properties.get("propale_proposal_url")
            ]
        return urls

    def stop(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
