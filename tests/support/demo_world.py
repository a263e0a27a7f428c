"""The demo company in a running sandbox, seen as its users see it: deals and notes in HubSpot,
emails and their PDFs in the mailbox, Slack posts. Shared by the end-to-end tests."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

import httpx
from hubspot.crm.associations.v4 import BatchInputPublicAssociationMultiPost
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
)
from pypdf import PdfReader

from propale.crm import make_client
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports

DEAL_PROPERTIES = [
    "dealname",
    "propale_status",
    "propale_proposal_number",
    "propale_proposal_url",
    "propale_sent_at",
    "propale_accepted_at",
    "propale_payment_method",
    "propale_error",
    "stripe_customer_id",
    "stripe_subscription_id",
    "stripe_invoice_id",
    "hubspot_owner_id",
]


# HubSpot's default association types from a deal (HUBSPOT_DEFINED category).
DEAL_TO_CONTACT, DEAL_TO_PRIMARY_COMPANY, DEAL_TO_LINE_ITEM = 3, 5, 19


@dataclass
class NewDeal:
    """A deal as a rep enters it in HubSpot: HubSpot properties of the deal, its primary contact and
    company (None: no such association) and its line items."""

    name: str
    contact: dict[str, str] | None = None
    company: dict[str, str] | None = None
    line_items: list[dict[str, str]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


class DemoWorld:
    def __init__(self, sandbox: SandboxProcess, airflow):
        self.sandbox = sandbox
        self.airflow = airflow
        self.hubspot = make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url)
        self.deal_ids: dict[str, str] = {}
        after = None
        while True:
            page = self.hubspot.crm.deals.basic_api.get_page(limit=100, after=after, properties=["dealname"])
            self.deal_ids.update({deal.properties["dealname"]: deal.id for deal in page.results})
            if not page.paging:
                break
            after = page.paging.next.after

    # --- the rep's side -------------------------------------------------------------------------

    def create_deals(self, deals: Sequence[NewDeal]) -> None:
        """Create deals with their contacts, companies and line items, associated, in batch calls
        (as an import or a rep's tooling does); their ids join `deal_ids` under their names."""
        objects = self.hubspot.crm.objects.batch_api

        def create(object_type: str, properties: list[dict[str, str]]) -> list[str]:
            if not properties:
                return []
            inputs = [{"properties": p} for p in properties]
            response = objects.create(object_type, BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
            # Batch create answers in no guaranteed order: match results to inputs by their properties.
            unmatched = list(response.results)
            ids = []
            for wanted in properties:
                found = next(r for r in unmatched if all(r.properties.get(k) == v for k, v in wanted.items()))
                unmatched.remove(found)
                ids.append(found.id)
            return ids

        deal_ids = create("deals", [{"dealname": d.name, **d.properties} for d in deals])
        self.deal_ids.update({d.name: deal_id for d, deal_id in zip(deals, deal_ids, strict=True)})
        links: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for kind, type_id, of in (
            ("contacts", DEAL_TO_CONTACT, lambda d: [d.contact] if d.contact else []),
            ("companies", DEAL_TO_PRIMARY_COMPANY, lambda d: [d.company] if d.company else []),
            ("line_items", DEAL_TO_LINE_ITEM, lambda d: d.line_items),
        ):
            owners = [deal_id for d, deal_id in zip(deals, deal_ids, strict=True) for _ in of(d)]
            created = create(kind, [p for d in deals for p in of(d)])
            links[(kind, type_id)] = list(zip(owners, created, strict=True))
        for (kind, type_id), pairs in links.items():
            if pairs:
                self.hubspot.crm.associations.v4.batch_api.create(
                    "deals",
                    kind,
                    BatchInputPublicAssociationMultiPost(
                        inputs=[
                            {
                                "from": {"id": deal_id},
                                "to": {"id": target},
                                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
                            }
                            for deal_id, target in pairs
                        ]
                    ),
                )

    def flag(self, *names: str) -> None:
        """Set « À proposer » on deals, as a rep does in HubSpot (100 deals per batch, HubSpot's limit)."""
        ids = [self.deal_ids[name] for name in names]
        for start in range(0, len(ids), 100):
            self.hubspot.crm.deals.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[
                        {"id": deal_id, "properties": {"propale_status": "to_propose"}}
                        for deal_id in ids[start : start + 100]
                    ]
                )
            )

    # --- what users see -------------------------------------------------------------------------

    def deal(self, name: str) -> dict:
        response = self.hubspot.crm.deals.batch_api.read(
            BatchReadInputSimplePublicObjectId(inputs=[{"id": self.deal_ids[name]}], properties=DEAL_PROPERTIES)
        )
        return response.results[0].properties

    def notes_on(self, name: str) -> list[dict]:
        """The properties of the notes on a deal's timeline (`hs_note_body`, `hs_attachment_ids`)."""
        associations = self.hubspot.crm.associations.v4.basic_api.get_page("deals", self.deal_ids[name], "notes")
        note_ids = [str(a.to_object_id) for a in associations.results]
        if not note_ids:
            return []
        notes = self.hubspot.crm.objects.notes.batch_api.read(
            BatchReadInputSimplePublicObjectId(
                inputs=[{"id": i} for i in note_ids], properties=["hs_note_body", "hs_attachment_ids"]
            )
        )
        return [n.properties for n in notes.results]

    def emails(self, to: str | None = None) -> list[dict]:
        params = {"to": to} if to else {}
        return httpx.get(f"{self.sandbox.config.mailbox_url}/api/messages", params=params).json()

    def email_detail(self, message: dict) -> dict:
        return httpx.get(f"{self.sandbox.config.mailbox_url}/api/messages/{message['id']}").json()

    def attachment(self, message: dict, index: int = 0) -> bytes:
        return httpx.get(f"{self.sandbox.config.mailbox_url}/messages/{message['id']}/attachments/{index}").content

    def pdf_text(self, message: dict, index: int = 0) -> str:
        return "".join(page.extract_text() for page in PdfReader(io.BytesIO(self.attachment(message, index))).pages)

    def slack_posts(self) -> list[dict]:
        return httpx.get(f"{self.sandbox.config.slack_url}/api/messages").json()

    # --- crashes --------------------------------------------------------------------------------

    def run_killed_after_first_email(self, dag_id: str) -> list[dict]:
        """Run a DAG with `airflow dags test` and SIGKILL it, whole, as soon as an email lands.

        Returns the emails that arrived before the kill.
        """
        return self.run_killed_after_emails(dag_id, 1)

    def run_killed_after_emails(
        self, dag_id: str, count: int, output: IO[bytes] | None = None, timeout: float = 180
    ) -> list[dict]:
        """Run a DAG with `airflow dags test` and SIGKILL it, whole, once `count` emails landed.

        Returns the emails that arrived before the kill; the run's output goes to `output`.
        """
        before = {m["id"] for m in self.emails()}
        process = subprocess.Popen(
            self.airflow.argv("airflow", "dags", "test", dag_id),
            env=self.airflow.env,
            stdout=output or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
            start_new_session=True,
        )
        arrived: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            arrived = [m for m in self.emails() if m["id"] not in before]
            if len(arrived) >= count:
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02 if count == 1 else 0.5)
        process.wait()
        return arrived


def running_demo(
    tmp_path_factory, airflow_for, name: str, stripe_api_version: str | None = None
) -> Iterator[tuple[SandboxProcess, object]]:
    """A sandbox seeded with the demo, Propale's properties set up in it, and Airflow pointed at it;
    its Stripe account renders events in `stripe_api_version` (default: the pinned client's)."""
    config = config_on_free_ports(tmp_path_factory.mktemp(name) / "state")
    if stripe_api_version:
        config.stripe_api_version = stripe_api_version
    with SandboxProcess(config, reset=True, seed="demo") as sandbox:
        airflow = airflow_for(sandbox)
        subprocess.run(airflow.argv("propale", "setup"), env=airflow.env, check=True, capture_output=True)
        yield sandbox, airflow
