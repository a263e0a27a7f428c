"""`propale demo`: the whole loop, headless, for the demo company's deals, then a report.

Every actor goes through the same door as in real life: the rep flags deals with HubSpot's official
client, Airflow runs the DAGs (`airflow dags test`), customers read their email in the sandbox
mailbox and use the customer page (served by uvicorn) and the Checkout page over HTTP, and a
Stripe test clock makes a month pass. Only the report reads from everywhere at once.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import stripe
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput
from starlette.applications import Starlette
from starlette.routing import Mount

from propale.crm import DealRecord, HubSpotGateway, Status, make_client
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
    run_logged,
    sandbox_ports,
    wait_until,
)
from propale_dev.sandbox.config import SandboxConfig
from propale_dev.sandbox.customer import Customer, JourneyError
from propale_dev.sandbox.hubspot.demo_data import DEFECTIVE_DEALS
from propale_dev.sandbox.process import SandboxProcess

METHOD_LABELS = {"card": "carte", "sepa_debit": "prélèvement SEPA"}
# Far enough for a monthly subscription's next invoice to be drafted, finalized (an hour after the
# period ends) and charged, whatever the month's length; short of a second renewal.
RENEWAL_ADVANCE = timedelta(days=32)
STEPS = 11  # the `progress.step` blocks of `_Demo.play`


@dataclass
class DemoOptions:
    sandbox: SandboxConfig
    workspace: Workspace
    port: int  # the customer page, at http://{host}:{port}/propale as under `propale run`
    faults: Mapping[str, float] = field(default_factory=dict)
    keep_running: bool = False


def customer_page() -> Starlette:
    """`propale.web.app` under /propale, as the Airflow plugin mounts it (uvicorn's factory).

    The demo's links then have the address `propale run` serves them at, so they keep working there.
    """
    from propale.web import app

    return Starlette(routes=[Mount(CUSTOMER_PAGE_PREFIX, app)])


@dataclass
class Purchase:
    """One customer's way through the customer page and Checkout."""

    deal: DealRecord
    method: str
    session_id: str = ""


class Progress:
    """One line per step: its title when it starts, `ok` and its duration (or FAILED) when it ends."""

    def __init__(self, out: TextIO, total: int):
        self.out = out
        self.total = total
        self.done = 0

    @contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        self.done += 1
        print(f"[{self.done:>2}/{self.total}] {title}…", end="", file=self.out, flush=True)
        started = time.monotonic()
        notes: list[str] = []
        try:
            yield notes
        except BaseException:
            print(" FAILED", file=self.out, flush=True)
            raise
        summary = f" ok ({time.monotonic() - started:.1f} s)"
        if notes and len(notes[0]) < 70 and len(notes) == 1:
            summary += f": {notes[0]}"
            notes = []
        print(summary, file=self.out, flush=True)
        for note in notes:
            print(f"        {note}", file=self.out, flush=True)


def run(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; 0 when every step worked (the defective deals' errors are expected)."""
    started = time.monotonic()
    # httpx and stripe log every request at INFO: the progress lines are the demo's output.
    logging.getLogger().setLevel(logging.WARNING)
    demo = _Demo(options, out)
    try:
        demo.play()
        demo.report(time.monotonic() - started)
        if options.keep_running:
            demo.serve_until_interrupted()
        return 0
    except LocalError as error:
        print(f"\npropale demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\npropale demo: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        log = options.workspace.log("demo")
        with open(log, "a") as file:
            traceback.print_exc(file=file)
        print(f"\npropale demo: a step failed: {type(error).__name__}: {error} (traceback in {log})", file=sys.stderr)
        return 1
    finally:
        demo.stop()


class _Demo:
    def __init__(self, options: DemoOptions, out: TextIO):
        self.options = options
        self.out = out
        self.progress = Progress(out, STEPS)
        self.config = options.sandbox
        self.workspace = options.workspace
        self.public_url = public_url(self.config.host, options.port)
        self.env = airflow_environment(self.config, self.workspace, self.public_url)
        self.sandbox = SandboxProcess(
            self.config, reset=True, seed="demo", faults=options.faults, log_path=self.workspace.log("sandbox")
        )
        self.children = Children()
        self.hubspot = make_client(self.config.hubspot_token, host=self.config.hubspot_url)
        self.gateway = HubSpotGateway(self.hubspot, app_url=self.config.hubspot_url, portal_id="sandbox")
        self.stripe = stripe.StripeClient(self.config.stripe_secret_key, base_addresses={"api": self.config.stripe_url})
        self.deals: dict[str, DealRecord] = {}
        self.purchases: list[Purchase] = []
        self.clock_id = ""
        self.renewing_contact = ""

    # --- the loop --------------------------------------------------------------------------------

    def play(self) -> None:
        with self.progress.step("Checking that the ports are free"):
            ports = {**sandbox_ports(self.config), "customer page": (self.options.port, "--port")}
            check_ports_free(self.config.host, ports)
            # Fresh state, fresh logs: what is in them is this demo's story only.
            shutil.rmtree(self.workspace.log_dir, ignore_errors=True)
        with self.progress.step("Starting the sandbox with « La Fabrique Commune » (fresh state)") as notes:
            self.sandbox.start()
            notes.append(f"state in {self.config.data_dir}")
        with self.progress.step(
            "Preparing Airflow (SQLite metadata DB, airflow db migrate) and the customer page"
        ) as notes:
            self._prepare_airflow()
            notes.append(f"customer page on {self.public_url}")
        with self.progress.step("A sales rep flags every deal « À proposer » in HubSpot") as notes:
            self._flag_deals()
            notes.append(f"{len(self.deals)} deals")
        with self.progress.step("airflow dags test propale_send_proposals") as notes:
            self._airflow_dags_test("propale_send_proposals")
            notes += self._check_sent()
        with self.progress.step("Stripe: a test clock for one customer, to renew a month later") as notes:
            notes.append(self._prepare_renewal())
        with self.progress.step("Customers open their email, accept and pay on Checkout") as notes:
            notes += self._customers_pay()
        with self.progress.step("airflow dags test propale_sync_stripe"):
            self._airflow_dags_test("propale_sync_stripe")
        with self.progress.step("Waiting for the SEPA debits to clear, then syncing again") as notes:
            notes.append(self._settle_sepa())
            self._airflow_dags_test("propale_sync_stripe")
        with self.progress.step("A month later (Stripe test clock advanced), syncing again") as notes:
            notes.append(self._advance_clock())
            self._airflow_dags_test("propale_sync_stripe")
        with self.progress.step("Checking what everyone got") as notes:
            problems = self._check_outcome()
            if problems:
                raise LocalError("the loop did not end as expected:\n" + "\n".join(f"  - {p}" for p in problems))
            notes.append("every deal as expected")

    def _prepare_airflow(self) -> None:
        # A fresh sandbox means fresh deal ids: the ledger of a previous demo would not match them.
        ledger = Path(urlsplit(self.workspace.ledger_url).path)
        ledger.unlink(missing_ok=True)
        self.children.start(
            "the customer page (uvicorn)",
            [
                sys.executable, "-m", "uvicorn", "propale_dev.demo:customer_page", "--factory",
                "--host", self.config.host, "--port", str(self.options.port),
            ],
            self.env,
            self.workspace.log("customer-page"),
        )  # fmt: skip
        migrate_airflow(self.env, self.workspace)
        # What a HubSpot admin runs once: the deal properties the rep will use.
        run_logged([program("propale"), "setup"], self.env, self.workspace.log("propale-setup"), timeout=120)
        wait_until(self._page_answers, 60, "the customer page did not answer", self.children)

    def _page_answers(self) -> bool:
        try:
            return httpx.get(f"{self.public_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _flag_deals(self) -> None:
        ids = [deal.id for deal in self.hubspot.crm.deals.get_all(properties=["dealname"])]
        self.hubspot.crm.deals.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[{"id": deal_id, "properties": {"propale_status": Status.TO_PROPOSE}} for deal_id in ids]
            )
        )
        self.deals = self._read_deals(ids)

    def _read_deals(self, ids: list[str] | None = None) -> dict[str, DealRecord]:
        records = self.gateway.read_deals(ids or list(self.deals))
        return {deal_id: records[deal_id] for deal_id in sorted(records, key=int)}

    def _airflow_dags_test(self, dag_id: str) -> None:
        run_logged([program("airflow"), "dags", "test", dag_id], self.env, self.workspace.log(dag_id), timeout=600)

    def _check_sent(self) -> list[str]:
        self.deals = self._read_deals()
        sent = [d for d in self.deals.values() if d.status == Status.SENT]
        errors = [d for d in self.deals.values() if d.status == Status.ERROR]
        unexpected = [
            d for d in self.deals.values() if d.status != (Status.ERROR if d.name in DEFECTIVE_DEALS else Status.SENT)
        ]
        if unexpected:
            raise LocalError(
                "unexpected outcome of propale_send_proposals (see the log in "
                f"{self.workspace.log('propale_send_proposals')}):\n"
                + "\n".join(
                    f"  {d.name}: {Status.label_of(d.status)} {d.properties.get('propale_error') or ''}"
                    for d in unexpected
                )
            )
        return [
            f"{len(sent)} proposals sent; {len(errors)} deals in « Erreur », as expected (defective on purpose):"
        ] + [f"  {d.name}: {d.properties.get('propale_error')}" for d in errors]

    def _prepare_renewal(self) -> str:
        """Put the first card-paying subscriber on a test clock, before the customer page looks them up.

        The customer page reuses the Stripe customer of the deal's HubSpot contact (found by email
        and `hubspot_contact_id`), so a customer created here on a clock is the one that subscribes.
        """
        sent = [d for d in self.deals.values() if d.status == Status.SENT]
        self.purchases = [Purchase(deal, "card" if i % 2 == 0 else "sepa_debit") for i, deal in enumerate(sent)]
        subscriber = next((
            p.deal for p in self.purchases
            if p.method == "card" and any(item.get("recurringbillingfrequency") == "monthly" for item in p.deal.line_items)
        ), None)  # fmt: skip
        if subscriber is None:
            raise LocalError("no monthly subscription paid by card among the deals sent: nothing to renew")
        contact = subscriber.contacts[0]
        company = subscriber.companies[0] if subscriber.companies else {}
        now = int(time.time())
        clock = self.stripe.v1.test_helpers.test_clocks.create({"frozen_time": now, "name": "Propale demo"})
        self.stripe.v1.customers.create(
            {
                "email": contact["email"],
                "name": company.get("name") or f"{contact['firstname']} {contact['lastname']}",
                "preferred_locales": ["fr"],
                "test_clock": clock.id,
                "metadata": {
                    "hubspot_contact_id": contact["id"],
                    "hubspot_company_id": company.get("id", ""),
                    "hubspot_deal_id": subscriber.id,
                },
            }
        )
        self.clock_id, self.renewing_contact = clock.id, contact["id"]
        return f"{clock.id} for {contact['email']}"

    def _customers_pay(self) -> list[str]:
        lines = []
        with Customer(self.config.mailbox_url, self.public_url, user_agent="propale-demo") as customer:
            for purchase in self.purchases:
                contact = purchase.deal.contacts[0]
                number = purchase.deal.properties["propale_proposal_number"] or ""
                name = f"{contact['firstname']} {contact['lastname']}"
                try:
                    purchase.session_id = customer.accept_and_pay(contact["email"], number, purchase.method, name)
                except JourneyError as error:
                    raise LocalError(str(error)) from None
                lines.append(f"{purchase.deal.name}: {METHOD_LABELS[purchase.method]}")
        return lines

    def _settle_sepa(self) -> str:
        sepa = [p for p in self.purchases if p.method == "sepa_debit"]
        with self.sandbox.admin("stripe") as admin:
            delay = admin.faults().get("sepa_delay_s", 3.0)

        def cleared() -> bool:
            return all(self.stripe.v1.checkout.sessions.retrieve(p.session_id).payment_status == "paid" for p in sepa)

        wait_until(cleared, delay + 60, "the SEPA debits did not clear", interval=0.5)
        return f"{len(sepa)} debits cleared (sepa_delay_s = {delay:g} s)"

    def _advance_clock(self) -> str:
        clock = self.stripe.v1.test_helpers.test_clocks.retrieve(self.clock_id)
        target = datetime.fromtimestamp(clock.frozen_time, UTC) + RENEWAL_ADVANCE
        self.stripe.v1.test_helpers.test_clocks.advance(self.clock_id, {"frozen_time": int(target.timestamp())})
        wait_until(
            lambda: self.stripe.v1.test_helpers.test_clocks.retrieve(self.clock_id).status == "ready",
            60,
            "the test clock did not finish advancing",
        )
        return f"clock at {target:%Y-%m-%d}"

    # --- the outcome -------------------------------------------------------------------------------

    def _check_outcome(self) -> list[str]:
        self.deals = self._read_deals()
        self.view = _View.read(self)
        problems = []
        for purchase in self.purchases:
            deal = self.deals[purchase.deal.id]
            props = deal.properties
            if deal.status != Status.ACCEPTED or props.get("propale_error"):
                problems.append(f"{deal.name}: {deal.status} {props.get('propale_error') or ''}".strip())
            invoices = self.view.invoices.get(deal.id, [])
            if not invoices or any(i.status != "paid" for i in invoices):
                problems.append(f"{deal.name}: invoices {[(i.number, i.status) for i in invoices]}")
            for invoice in invoices:
                if not any(invoice.number in m["subject"] for m in self.view.emails_of(deal)):
                    problems.append(f"{deal.name}: no email with invoice {invoice.number}")
            renewing = deal.contacts[0]["id"] == self.renewing_contact
            renewals = [i for i in invoices if i.billing_reason == "subscription_cycle"]
            if renewing and props.get("stripe_subscription_id") and not renewals:
                problems.append(f"{deal.name}: no renewal invoice after the test clock moved a month")
        for deal in self.deals.values():
            if deal.name in DEFECTIVE_DEALS and (
                deal.status != Status.ERROR or not deal.properties.get("propale_error")
            ):
                problems.append(f"{deal.name}: expected « Erreur » with its reason, got {deal.status}")
        if not self.view.slack:
            problems.append("nothing was posted to Slack")
        return problems

    def report(self, elapsed: float) -> None:
        print(f"\nPropale demo: the loop ran for {len(self.deals)} deals in {elapsed:.0f} s.\n", file=self.out)
        names = [deal.name for deal in self.deals.values()]
        for index, deal in enumerate(self.deals.values(), 1):
            first, *details = self.view.describe(deal, names)
            print(f"{index:>2}. {first}", file=self.out)
            for line in details:
                print(f"    {line}", file=self.out)
        print("\nSlack, about several deals at once:", file=self.out)
        for post in self.view.team_posts(names):
            print(f"    « {_shorten(_slack_text(post), 110)} »", file=self.out)
        print(file=self.out)
        c = self.config
        print(
            "Where to look:\n"
            f"  Mailbox (every email, PDFs attached)   {c.mailbox_url}\n"
            f"  Slack messages                         {c.slack_url}\n"
            f"  HubSpot API stand-in                   {c.hubspot_url}/crm/v3/objects/deals?properties=dealname,propale_status"
            f"   (Authorization: Bearer {c.hubspot_token})\n"
            f"  Stripe API stand-in                    {c.stripe_url}/v1/invoices   (secret key {c.stripe_secret_key})\n"
            f"  Customer page                          {self.public_url}/p/…  (the links in the emails)\n"
            f"  Logs (Airflow runs, sandbox, page)     {self.workspace.log_dir}",
            file=self.out,
        )
        if self.options.keep_running:
            print("\nEverything keeps running; Ctrl-C stops it.", file=self.out, flush=True)
        else:
            print(
                "\nStopped. `propale demo --keep-running` keeps these pages up; `propale sandbox` serves the "
                "mailbox and Slack pages again (state is kept), `propale run` the whole thing with Airflow's UI.",
                file=self.out,
                flush=True,
            )

    def serve_until_interrupted(self) -> None:
        """Until Ctrl-C, which ends a successful demo (exit code 0)."""
        try:
            while True:
                self.children.check_alive()
                if self.sandbox.poll() is not None:
                    raise LocalError(f"the sandbox stopped; see {self.workspace.log('sandbox')}")
                time.sleep(1)
        except KeyboardInterrupt:
            print(file=self.out)

    def stop(self) -> None:
        # Ctrl-C during the shutdown must not leave half of it running.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.children.stop()
            self.sandbox.stop()
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass
class _Invoice:
    id: str
    number: str
    status: str
    billing_reason: str


@dataclass
class _View:
    """Everything the report shows, read once from HubSpot (already read), Stripe, the mailbox and Slack."""

    invoices: dict[str, list[_Invoice]]
    emails: list[dict[str, Any]]
    slack: list[dict[str, Any]]
    numbers: dict[str, str]

    @classmethod
    def read(cls, demo: _Demo) -> _View:
        invoices: dict[str, list[_Invoice]] = {}
        for deal in demo.deals.values():
            props = deal.properties
            if props.get("stripe_subscription_id"):
                listing = demo.stripe.v1.invoices.list({"subscription": props["stripe_subscription_id"], "limit": 100})
                found = sorted(listing.data, key=lambda i: i.created)
            elif props.get("stripe_invoice_id"):
                found = [demo.stripe.v1.invoices.retrieve(props["stripe_invoice_id"])]
            else:
                found = []
            invoices[deal.id] = [_Invoice(i.id, i.number or "", i.status or "", i.billing_reason or "") for i in found]
        emails = list(reversed(httpx.get(f"{demo.config.mailbox_url}/api/messages").json()))
        slack = list(reversed(httpx.get(f"{demo.config.slack_url}/api/messages").json()))
        numbers = {d.id: d.properties.get("propale_proposal_number") or "" for d in demo.deals.values()}
        return cls(invoices, emails, slack, numbers)

    def emails_of(self, deal: DealRecord) -> list[dict[str, Any]]:
        """Emails about the deal: its proposal number or one of its invoice numbers in the subject."""
        keys = [self.numbers[deal.id], *(i.number for i in self.invoices.get(deal.id, []))]
        return [m for m in self.emails if any(k and k in m["subject"] for k in keys)]

    def slack_of(self, deal: DealRecord, names: list[str]) -> list[dict[str, Any]]:
        """Posts about this deal alone (a run's summary, about several, is shown once)."""
        return [p for p in self.slack if _deals_named(p, names) == [deal.name]]

    def team_posts(self, names: list[str]) -> list[dict[str, Any]]:
        return [p for p in self.slack if len(_deals_named(p, names)) != 1]

    def describe(self, deal: DealRecord, names: list[str]) -> list[str]:
        props = deal.properties
        status = Status.label_of(deal.status)
        lines = [deal.name]
        hubspot = [f"« {status} »", props.get("propale_proposal_number") or "no proposal"]
        if props.get("propale_payment_method"):
            hubspot.append(METHOD_LABELS.get(props["propale_payment_method"], props["propale_payment_method"]))
        lines.append("HubSpot  " + " · ".join(hubspot))
        if props.get("propale_error"):
            expected = " (expected: defective on purpose)" if deal.name in DEFECTIVE_DEALS else ""
            lines.append(f"Error    {props['propale_error']}{expected}")
        stripe_ids = [props.get(k) for k in ("stripe_customer_id", "stripe_subscription_id") if props.get(k)]
        invoices = self.invoices.get(deal.id, [])
        if invoices:
            stripe_ids.append(
                "invoices "
                + ", ".join(
                    f"{i.number} ({i.status}{', renewal' if i.billing_reason == 'subscription_cycle' else ''})"
                    for i in invoices
                )
            )
        if stripe_ids:
            lines.append("Stripe   " + " · ".join(stripe_ids))
        for message in self.emails_of(deal):
            lines.append(f"Email    « {_shorten(message['subject'], 72)} » → {', '.join(message['envelope_to'])}")
        for post in self.slack_of(deal, names):
            lines.append(f"Slack    « {_shorten(_slack_text(post), 96)} »")
        return lines


def _slack_text(post: dict[str, Any]) -> str:
    return post["text"] or " ".join(post["block_texts"])


def _deals_named(post: dict[str, Any], names: list[str]) -> list[str]:
    text = " ".join([post["text"], *post["block_texts"]])
    return [name for name in names if name in text]


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
