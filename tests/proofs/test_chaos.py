"""The chaos run (issue 8): the whole loop for 312 deals while the sandbox misbehaves.

300 generated customers and the demo's 12 deals (two of them defective on purpose) are flagged
« À proposer » while HubSpot and Stripe answer a tenth of their calls with a 5xx, rate-limit in
bursts and answer 100 ms late, and HubSpot's search lags its writes by 5 s. Each DAG is killed with
SIGKILL once in the middle of a run (in `airflow dags test` the process is the worker running the
tasks), then run again, as the scheduler would, until a run changes nothing. A rep revises a few
proposals (a version 2) and answers the errors Propale reports; the customers pay, by card or SEPA
debit, through the doors they use: the proposal email, the customer page, the Stripe stand-in's
Checkout page (trying again when a page asks them to); three of them never pay.

Then everything is read back as its users see it (HubSpot and Stripe through their official
clients, the mailbox, Slack) and checked: each deal's final status and Stripe ids, one proposal
email per version, one Checkout Session per version and method, one subscription or invoice per
accepted deal, one invoice email per invoice (an email cut off by a kill may be missing only if
Propale told the team so), and a trace of every kind of fault the sandbox injected in the logs an
operator reads: the output of each `airflow dags test` (where task logs go in that mode: nothing is
written under AIRFLOW_HOME/logs) and the customer page's log.

Each phase's duration and the sandbox's call and fault counts are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId

from propale.crm import HubSpotGateway, Status
from propale.stripe_client import make_stripe_client
from propale_dev.sandbox.customer import Customer, JourneyError
from propale_dev.sandbox.hubspot.demo_data import DEFECTIVE_DEALS, generated_deal
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports, free_port
from support.demo_world import DEAL_PROPERTIES, DemoWorld
from support.polling import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(2400)]

GENERATED_DEALS = 300
FAULTS = {
    "hubspot.error_rate": 0.1,
    "hubspot.latency_ms": 100,
    # HubSpot's ten-second window at half a Starter account's allowance: uploading 300 proposal
    # PDFs to the deals' timelines runs into it.
    "hubspot.rate_limit": 50,
    "hubspot.rate_window_s": 10,
    "hubspot.search_lag_s": 5,
    "stripe.error_rate": 0.1,
    "stripe.latency_ms": 100,
    # Stripe's test-mode limit; customers paying at the same time run into it.
    "stripe.rate_limit": 25,
    "stripe.rate_window_s": 1,
}
CUSTOMERS_AT_ONCE = 6
# A page asking to try again in a few minutes (Stripe still failing after the retries) is obeyed,
# sooner than a person would: after 5 s, three times at most.
TRIES_AFTER_ERROR = 3
MAX_RUNS = 6  # per phase, after the killed one: more means a run keeps finding work


def _generated_name(i: int) -> str:
    return generated_deal(i)[2]["name"]


# Flagged again once their first proposal went out, as a rep revising an offer: a version 2.
REVISED = [_generated_name(i) for i in (11, 12, 13)]
# Customers who never pay: their deals stay « Proposition envoyée ».
NEVER_PAY = [_generated_name(i) for i in (7, 150, 298)]

PROPOSAL_SUBJECT = re.compile(r"^Votre proposition commerciale (\S+) :")
INVOICE_SUBJECT = re.compile(r"^Votre facture (\S+) –")
ACCEPTED_SUBJECT = re.compile(r" a accepté la proposition (\S+) :")
UNCONFIRMED_PROPOSAL = re.compile(r"L'envoi de la proposition (\S+) n'a pas pu être confirmé")
UNCONFIRMED_EMAIL = re.compile(r"L'envoi de l'e-mail « (.+?) » a été interrompu")


@dataclass
class Evidence:
    """Everything read back once the runs are quiet."""

    deals: dict[str, dict]  # deal id -> HubSpot properties
    emails: list[dict]
    slack: list[dict]
    sessions: list[dict]
    subscriptions: list[dict]
    invoices: list[dict]
    injected: dict[str, dict[str, int]]  # service -> fault kind -> count
    logs: str


@dataclass
class Payment:
    deal_id: str
    method: str
    session_id: str = ""
    problem: str = ""
    error_pages: int = 0  # "try again later" pages met on the way


class ChaosWorld(DemoWorld):
    def __init__(self, sandbox: SandboxProcess, airflow, log_dir: Path):
        super().__init__(sandbox, airflow)
        self.log_dir = log_dir
        self.run_logs: list[Path] = []
        self.names = {deal_id: name for name, deal_id in self.deal_ids.items()}
        self.gateway = HubSpotGateway(self.hubspot)
        config = sandbox.config
        # Propale's own configuration of the official client: it waits out the rate limit too.
        self.stripe = make_stripe_client(config.stripe_secret_key, config.stripe_url)
        self.revised_numbers: dict[str, list[str]] = defaultdict(list)  # deal id -> numbers replaced
        self.in_doubt: set[str] = set()  # proposal numbers whose email Propale could not confirm
        self.payments: dict[str, Payment] = {}
        self.killed: dict[str, int] = {}  # dag id -> emails that arrived before the kill

    # --- HubSpot as the rep sees it ---------------------------------------------------------

    def all_deals(self) -> dict[str, dict]:
        ids = list(self.names)
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 100):
            response = self.hubspot.crm.deals.batch_api.read(
                BatchReadInputSimplePublicObjectId(
                    inputs=[{"id": deal_id} for deal_id in ids[start : start + 100]], properties=DEAL_PROPERTIES
                )
            )
            found.update({result.id: result.properties for result in response.results})
        return found

    def answer_unconfirmed(self, deals: dict[str, dict]) -> None:
        """What the error tells the rep to do: check with the customer, then flag the deal again."""
        again = []
        for deal_id, properties in deals.items():
            found = UNCONFIRMED_PROPOSAL.search(properties.get("propale_error") or "")
            if properties["propale_status"] == Status.ERROR and found:
                self.in_doubt.add(found.group(1))
                self.revised_numbers[deal_id].append(found.group(1))
                again.append(self.names[deal_id])
        if again:
            self.flag(*again)

    def revise(self, names: list[str]) -> None:
        """Flag sent deals again, as a rep revising an offer (one already flagged again is left be)."""
        everyone = self.all_deals()
        deals = {name: everyone[self.deal_ids[name]] for name in names}
        sent = [name for name, deal in deals.items() if deal["propale_status"] == Status.SENT]
        for name in sent:
            self.revised_numbers[self.deal_ids[name]].append(deals[name]["propale_proposal_number"])
        self.flag(*sent)

    # --- Airflow, as the scheduler would run it ---------------------------------------------

    def _log_path(self, dag_id: str) -> Path:
        path = self.log_dir / f"{len(self.run_logs):02d}-{dag_id}.log"
        self.run_logs.append(path)
        return path

    def run(self, dag_id: str) -> None:
        result = self.airflow.run("dags", "test", dag_id, check=False, timeout=900)
        self._log_path(dag_id).write_text(result.stdout + result.stderr)

    def run_killed(self, dag_id: str, after_emails: int) -> None:
        with self._log_path(dag_id).open("wb") as output:
            arrived = self.run_killed_after_emails(dag_id, after_emails, output=output, timeout=900)
        self.killed[dag_id] = len(arrived)
        assert len(arrived) >= after_emails, f"{dag_id} ended after {len(arrived)} emails, before it could be killed"

    def run_until_quiet(self, dag_id: str, settled=lambda: True) -> int:
        """Runs until one changes nothing anywhere; how many it took."""
        for attempt in range(1, MAX_RUNS + 1):
            # Checked before the run: a debit clearing during it may come after its reading of events.
            ready = settled()
            emails, posts, deals = len(self.emails()), len(self.slack_posts()), self.all_deals()
            self.run(dag_id)
            after = self.all_deals()
            self.answer_unconfirmed(after)
            changes = [f"{len(self.emails()) - emails} emails", f"{len(self.slack_posts()) - posts} Slack posts"]
            changes += [f"{self.names[i]} changed" for i in after if after[i] != deals.get(i)]
            changes += [
                f"{self.names[i]} flagged" for i, p in after.items() if p["propale_status"] == Status.TO_PROPOSE
            ]
            if changes == ["0 emails", "0 Slack posts"] and ready:
                return attempt
        raise AssertionError(f"{dag_id} still had work after {MAX_RUNS} runs ({self.run_logs[-1]}): {changes[:12]}")

    # --- the customers ----------------------------------------------------------------------

    def customers_pay(self) -> None:
        deals = self.all_deals()
        payers = sorted(
            (i for i, p in deals.items() if p["propale_status"] == Status.SENT and self.names[i] not in NEVER_PAY),
            key=int,
        )
        records = self.gateway.read_deals(payers)
        jobs = []
        for index, deal_id in enumerate(payers):
            contact = records[deal_id].contacts[0]
            payment = Payment(deal_id, "card" if index % 2 == 0 else "sepa_debit")
            self.payments[deal_id] = payment
            name = f"{contact['firstname']} {contact['lastname']}"
            jobs.append((payment, contact["email"], deals[deal_id]["propale_proposal_number"], name))
        with ThreadPoolExecutor(CUSTOMERS_AT_ONCE) as pool:
            list(pool.map(lambda job: self._pay(*job), jobs))

    def _pay(self, payment: Payment, address: str, number: str, name: str) -> None:
        with Customer(
            self.sandbox.config.mailbox_url,
            self.airflow.public_url,
            "propale-chaos",
            tries_after_error=TRIES_AFTER_ERROR,
        ) as customer:
            try:
                payment.session_id = customer.accept_and_pay(address, number, payment.method, name)
            except JourneyError as error:
                payment.problem = str(error)
            payment.error_pages = customer.error_pages

    def sepa_settled(self) -> bool:
        """Whether every SEPA debit cleared (one listing rather than a call per session)."""
        sessions = self.stripe.v1.checkout.sessions.list({"status": "complete", "limit": 100}).auto_paging_iter()
        unpaid = {s.id for s in sessions if s.payment_status != "paid"}
        return not any(p.session_id in unpaid for p in self.payments.values() if p.method == "sepa_debit")

    # --- reading back -----------------------------------------------------------------------

    def evidence(self, extra_logs: list[Path]) -> Evidence:
        injected = {}
        for service in ("hubspot", "stripe"):
            with self.sandbox.admin(service) as admin:
                stats = admin.stats()
                injected[service] = stats["injected_faults"]
                admin.reset_faults()  # the chaos is over: reading back must not be disturbed
            print(f"chaos: {service}: {stats['total']} calls, injected {stats['injected_faults']}", file=sys.stderr)
        listing = {"limit": 100}
        logs = "\n".join(path.read_text(errors="replace") for path in [*self.run_logs, *extra_logs] if path.exists())
        return Evidence(
            deals=self.all_deals(),
            emails=self.emails(),
            slack=self.slack_posts(),
            sessions=[s.to_dict() for s in self.stripe.v1.checkout.sessions.list(listing).auto_paging_iter()],
            subscriptions=[
                s.to_dict() for s in self.stripe.v1.subscriptions.list({**listing, "status": "all"}).auto_paging_iter()
            ],
            invoices=[i.to_dict() for i in self.stripe.v1.invoices.list(listing).auto_paging_iter()],
            injected=injected,
            logs=logs,
        )


class Stopwatch:
    """How long each phase took, printed as it ends (pytest shows it with -s or on failure)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def lap(self, name: str, detail: str = "") -> None:
        now = time.monotonic()
        print(f"chaos: {name} took {now - self.start:.0f} s{detail}", file=sys.stderr, flush=True)
        self.start = now


def _serve_customer_page(airflow, log: Path) -> subprocess.Popen:
    """The customer page as `propale demo` serves it, with Airflow's configuration. Every simulated
    customer comes from 127.0.0.1, so the per-address limit on POSTs is lifted for this process."""
    port = free_port()
    airflow.public_url = f"http://127.0.0.1:{port}/propale"
    env = {**airflow.env, "PROPALE_WEB_RATE_LIMIT": "100000/60"}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "propale_dev.demo:customer_page",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            return httpx.get(f"{airflow.public_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60)
    return process


@pytest.fixture(scope="module")
def chaos(tmp_path_factory, airflow_for) -> Iterator[tuple[ChaosWorld, Evidence]]:
    base = tmp_path_factory.mktemp("chaos")
    log_dir = base / "logs"
    log_dir.mkdir()
    config = config_on_free_ports(base / "state")
    with SandboxProcess(config, reset=True, seed="demo", generated_deals=GENERATED_DEALS, faults=FAULTS) as sandbox:
        airflow = airflow_for(sandbox)
        page_log = log_dir / "customer-page.log"
        page = _serve_customer_page(airflow, page_log)
        try:
            clock = Stopwatch()
            subprocess.run(airflow.argv("propale", "setup"), env=airflow.env, check=True, capture_output=True)
            world = ChaosWorld(sandbox, airflow, log_dir)
            clock.lap("setup")

            good = len(world.deal_ids) - len(DEFECTIVE_DEALS)
            world.flag(*world.deal_ids)
            world.run_killed("propale_send_proposals", after_emails=good // 2)
            clock.lap("send: killed run")
            world.run("propale_send_proposals")
            world.answer_unconfirmed(world.all_deals())
            world.revise(REVISED)
            clock.lap("send: run after the kill")
            runs = world.run_until_quiet("propale_send_proposals")
            clock.lap("send: until quiet", f" ({runs} runs)")

            world.customers_pay()
            error_pages = sum(p.error_pages for p in world.payments.values())
            clock.lap("customers pay", f" ({error_pages} pages asked them to try again)")

            payers = sum(1 for p in world.payments.values() if p.session_id)
            # Two emails per payment (the customer's invoice, the rep's news): kill in the middle.
            world.run_killed("propale_sync_stripe", after_emails=payers)
            clock.lap("sync: killed run")
            runs = world.run_until_quiet("propale_sync_stripe", world.sepa_settled)
            clock.lap("sync: until quiet", f" ({runs} runs)")

            evidence = world.evidence([page_log])
            clock.lap("reading back")
            yield world, evidence
        finally:
            page.terminate()
            page.wait(15)


# --- the checks -----------------------------------------------------------------------------


def _by_subject(emails: list[dict], pattern: re.Pattern[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for message in emails:
        match = pattern.search(message["subject"])
        if match:
            found[match.group(1)].append(message)
    return found


def _files(message: dict) -> list[str]:
    return [attachment["filename"] for attachment in message["attachments"]]


def test_the_crashes_happened_mid_run(chaos):
    world, _ = chaos
    assert world.killed["propale_send_proposals"] < len(world.deal_ids) - len(DEFECTIVE_DEALS)
    assert world.killed["propale_sync_stripe"] > 0


def test_every_customer_could_pay(chaos):
    """Trying again when a page asks to; each such page has its cause in the customer page's log."""
    world, evidence = chaos
    problems = {world.names[p.deal_id]: p.problem for p in world.payments.values() if p.problem}
    assert not problems
    for payment in world.payments.values():
        number = evidence.deals[payment.deal_id]["propale_proposal_number"]
        causes = re.findall(
            rf"(?:Stripe refused the checkout|Could not check the Checkout Session) of {number}:", evidence.logs
        )
        assert len(causes) >= payment.error_pages, f"{number}: {payment.error_pages} error pages, {len(causes)} logged"
    methods = Counter(p.method for p in world.payments.values())
    assert methods["card"] > 100 and methods["sepa_debit"] > 100


def test_every_deal_ends_in_its_status_with_its_stripe_ids(chaos):
    world, evidence = chaos
    sessions = {s["id"]: s for s in evidence.sessions}
    wrong = []
    for deal_id, deal in evidence.deals.items():
        name = world.names[deal_id]
        payment = world.payments.get(deal_id)
        if name in DEFECTIVE_DEALS:
            expected = {"propale_status": Status.ERROR}
            if not deal["propale_error"]:
                wrong.append(f"{name}: in error without its reason")
        elif payment is None:
            expected = {"propale_status": Status.SENT, "propale_error": ""}
        else:
            session = sessions.get(payment.session_id, {})
            expected = {
                "propale_status": Status.ACCEPTED,
                "propale_payment_method": payment.method,
                "stripe_customer_id": session.get("customer"),
                "stripe_subscription_id": session.get("subscription") or "",
                "stripe_invoice_id": session.get("invoice") or "",
                "propale_error": "",
            }
            if not deal["propale_accepted_at"]:
                wrong.append(f"{name}: accepted without a date")
        actual = {key: deal.get(key) or "" for key in expected}
        expected = {key: value or "" for key, value in expected.items()}
        if actual != expected:
            wrong.append(f"{name}: {actual} instead of {expected}")
    assert not wrong, f"{len(wrong)} deal(s) not in their final state:\n" + "\n".join(wrong[:40])


def test_one_proposal_email_per_version(chaos):
    world, evidence = chaos
    emails = _by_subject(evidence.emails, PROPOSAL_SUBJECT)
    problems = []
    for number, messages in emails.items():
        if len(messages) > 1:
            problems.append(f"{number}: {len(messages)} emails")
        problems += [f"{number}: attached {_files(m)}" for m in messages if _files(m) != [f"{number}.pdf"]]
    for deal_id, deal in evidence.deals.items():
        if world.names[deal_id] in DEFECTIVE_DEALS:
            continue
        current = deal["propale_proposal_number"]
        if len(emails.get(current, [])) != 1:
            problems.append(f"{world.names[deal_id]}: {len(emails.get(current, []))} emails for {current}")
        for replaced in world.revised_numbers.get(deal_id, []):
            if replaced not in world.in_doubt and len(emails.get(replaced, [])) != 1:
                problems.append(f"{world.names[deal_id]}: {len(emails.get(replaced, []))} emails for {replaced}")
    known = {d["propale_proposal_number"] for d in evidence.deals.values()} | {
        n for numbers in world.revised_numbers.values() for n in numbers
    }
    problems += [f"{number}: an email for a proposal no deal knows" for number in set(emails) - known]
    assert not problems, "\n".join(problems)
    assert world.revised_numbers, "no proposal was revised"
    for deal_id in world.revised_numbers:
        [message] = emails[evidence.deals[deal_id]["propale_proposal_number"]]
        assert "nouvelle version" in message["subject"], world.names[deal_id]


def test_one_checkout_session_per_version_and_method(chaos):
    world, evidence = chaos
    per_key = Counter(
        (s["metadata"]["proposal_number"], s["metadata"]["proposal_version"], s["payment_method_types"][0])
        for s in evidence.sessions
    )
    assert not {key: n for key, n in per_key.items() if n > 1}
    paid = Counter(s["metadata"]["proposal_number"] for s in evidence.sessions if s["status"] == "complete")
    assert not {number: n for number, n in paid.items() if n > 1}, "a proposal paid twice"
    numbers = {evidence.deals[p.deal_id]["propale_proposal_number"] for p in world.payments.values()}
    assert set(paid) == numbers


def test_one_subscription_or_invoice_per_accepted_deal(chaos):
    world, evidence = chaos
    subscriptions = Counter(s["metadata"].get("proposal_number") for s in evidence.subscriptions)
    # A subscription's invoices carry its metadata; a one-off payment's invoice its own.
    invoices = defaultdict(list)
    for invoice in evidence.invoices:
        details = (invoice.get("parent") or {}).get("subscription_details") or {}
        invoices[(details.get("metadata") or invoice.get("metadata") or {}).get("proposal_number")].append(invoice)
    recurring = {s["id"] for s in evidence.sessions if s["mode"] == "subscription"}
    wrong = []
    for payment in world.payments.values():
        number = evidence.deals[payment.deal_id]["propale_proposal_number"]
        expected = 1 if payment.session_id in recurring else 0
        if subscriptions[number] != expected:
            wrong.append(f"{world.names[payment.deal_id]}: {subscriptions[number]} subscriptions for {number}")
        found = invoices.get(number, [])
        if len(found) != 1 or found[0]["status"] != "paid":
            wrong.append(f"{world.names[payment.deal_id]}: invoices {[(i['id'], i['status']) for i in found]}")
    unpaid_numbers = {d["propale_proposal_number"] for i, d in evidence.deals.items() if i not in world.payments}
    wrong += [f"{number}: billed though never paid" for number in unpaid_numbers & (set(subscriptions) | set(invoices))]
    assert not wrong, f"{len(wrong)} problem(s):\n" + "\n".join(wrong[:40])


def test_one_invoice_email_per_invoice_and_the_rep_and_team_told_of_each_acceptance(chaos):
    world, evidence = chaos
    unconfirmed = {
        match.group(1)
        for post in evidence.slack
        for text in [post["text"], *post["block_texts"]]
        for match in [UNCONFIRMED_EMAIL.search(text)]
        if match
    }
    slack_texts = [" ".join([post["text"], *post["block_texts"]]) for post in evidence.slack]
    invoice_emails = _by_subject(evidence.emails, INVOICE_SUBJECT)
    accepted_emails = _by_subject(evidence.emails, ACCEPTED_SUBJECT)
    wrong = []
    for invoice in evidence.invoices:
        number = invoice["number"]
        messages = invoice_emails.get(number, [])
        in_doubt = any(number in subject for subject in unconfirmed)
        if len(messages) > 1 or (not messages and not in_doubt):
            wrong.append(f"invoice {number}: {len(messages)} emails")
        attached = [f"Facture-{number}.pdf", f"Recu-{number}.pdf"]
        wrong += [f"invoice {number}: attached {_files(m)}" for m in messages if _files(m) != attached]
    for payment in world.payments.values():
        number = evidence.deals[payment.deal_id]["propale_proposal_number"]
        messages = accepted_emails.get(number, [])
        in_doubt = any(f"proposition {number} :" in subject for subject in unconfirmed)
        if len(messages) > 1 or (not messages and not in_doubt):
            wrong.append(f"{world.names[payment.deal_id]}: {len(messages)} acceptance emails to the rep")
        if not any(world.names[payment.deal_id] in text and "Proposition acceptée" in text for text in slack_texts):
            wrong.append(f"{world.names[payment.deal_id]}: the team was not told on Slack")
    assert not wrong, f"{len(wrong)} problem(s):\n" + "\n".join(wrong[:40])


# What each kind of injected fault leaves in the runs' logs once Propale retried it or gave up.
FAULT_TRACES = {
    ("hubspot", "server_error"): re.compile(r"HubSpot answered 50\d"),
    ("hubspot", "rate_limited"): re.compile(r"HubSpot answered 429"),
    ("stripe", "server_error"): re.compile(r"Stripe answered 500"),
    ("stripe", "rate_limited"): re.compile(r"Stripe answered 429"),
}


def test_every_injected_fault_shows_in_the_logs(chaos):
    _, evidence = chaos
    injected = {(service, kind): n for service, kinds in evidence.injected.items() for kind, n in kinds.items() if n}
    assert ("hubspot", "rate_limited") in injected and ("stripe", "rate_limited") in injected, (
        f"the load never reached the rate limits: {injected}"
    )
    unknown = set(injected) - set(FAULT_TRACES)
    assert not unknown, f"no known trace for {unknown}"
    invisible = {key: n for key, n in injected.items() if not FAULT_TRACES[key].search(evidence.logs)}
    assert not invisible, f"injected but visible nowhere: {invisible}"
