"""The Stripe sync's steps without Airflow: a private sandbox for Stripe and HubSpot, a real ledger,
and Propale's own injection points (the email sender and Slack poster) recording what they get."""

from __future__ import annotations

import io
import json
import smtplib
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import httpx
import pytest
import stripe
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate
from pypdf import PdfReader

from propale.billing import CheckoutRequest, StripeBilling
from propale.crm import HubSpotGateway, make_client
from propale.ledger import DeliveryStatus
from propale.money import format_amount
from propale.proposals import build_snapshot, validity_period
from propale.receipts import Receipt, payment_method_label, render_receipt_pdf
from propale.syncing import (
    CURSOR,
    DEAL_NOTE,
    DEAL_UPDATE,
    EMAIL,
    SLACK,
    SUBSCRIPTION_TERM,
    headline,
    post_to_slack,
    send_emails,
    write_to_hubspot,
    write_to_stripe,
)
from support.checkouts import accepted_checkout, pay, read, record_session
from support.factories import DESK, OFFICE, ROOM, SETUP, eur, line, sample_deal, sample_settings

pytestmark = pytest.mark.timeout(300)
SETTINGS = sample_settings()


@pytest.fixture
def sandbox(tmp_path_factory):
    """A sandbox of its own per test: each test's ledger numbers from DEV-2026-00001 again, and
    must not meet the Stripe events of another test's proposals."""
    from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports

    config = config_on_free_ports(tmp_path_factory.mktemp("syncing") / "state")
    with SandboxProcess(config, reset=True) as process:
        yield process


@pytest.fixture
def client(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(sandbox.config.stripe_secret_key, base_addresses={"api": sandbox.config.stripe_url})


@pytest.fixture
def gateway(sandbox) -> HubSpotGateway:
    gateway = HubSpotGateway(
        make_client(sandbox.config.hubspot_token, host=sandbox.config.hubspot_url), app_url="https://hubspot.example"
    )
    gateway.ensure_deal_properties()
    return gateway


class Outbox:
    def __init__(self, failures: list[Exception] | None = None):
        self.sent: list[EmailMessage] = []
        self.failures = list(failures or [])

    def __call__(self, message: EmailMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


def message_id_of(delivery) -> str:
    return message_from_bytes(delivery.payload, policy=policy.SMTP)["Message-ID"]


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def slack_texts(posted: list[dict]) -> list[str]:
    def texts(node):
        if isinstance(node, dict):
            return [node["text"]] if isinstance(node.get("text"), str) else [t for v in node.values() for t in texts(v)]
        if isinstance(node, list):
            return [t for v in node for t in texts(v)]
        return []

    return [" ".join(texts(message["blocks"])) for message in posted]


def test_a_paid_checkout_queues_every_effect_once_then_delivers_them(ledger, client):
    proposal, session = accepted_checkout(ledger, client)
    pay(client, session.id, card_number="4242424242424242")

    first = read(client, ledger)
    assert first.processed >= 2 and not first.failed  # checkout.session.completed and invoice.paid
    assert read(client, ledger).processed == 0, "each event once"
    kinds = {kind: len(ledger.pending_deliveries(kind=kind)) for kind in (EMAIL, DEAL_UPDATE, DEAL_NOTE, SLACK)}
    assert kinds == {EMAIL: 2, DEAL_UPDATE: 2, DEAL_NOTE: 1, SLACK: 1}

    outbox = Outbox()
    assert send_emails(ledger, outbox)["sent"] == 2
    assert send_emails(ledger, outbox)["sent"] == 0
    by_subject = {m["Subject"]: m for m in outbox.sent}
    rep_subject = (
        f"Acme SARL a accepté la proposition {proposal.number} : 2 000,00 € HT / mois + 150,00 € HT de frais ponctuels"
    )
    rep = by_subject[rep_subject]
    assert rep["To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    assert "Proposition acceptée" in rep.get_body(("plain",)).get_content()

    invoice = client.v1.invoices.retrieve(client.v1.checkout.sessions.retrieve(session.id).invoice)
    customer = by_subject[f"Votre facture {invoice.number} – Les Bureaux du Canal"]
    assert customer["To"] == "Jeanne Martin <jeanne.martin@acme.fr>"
    assert customer["Reply-To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    assert customer["Message-ID"].startswith("<propale.") and customer["Message-ID"].endswith("@bureauxducanal.fr>")
    text = customer.get_body(("plain",)).get_content()
    assert (
        "Bonjour Jeanne," in text
        and format_amount(invoice.amount_paid, "eur") in text
        and "carte Visa se terminant par 4242" in text
    )
    invoice_pdf, receipt_pdf = [part.get_content() for part in customer.iter_attachments()]
    assert invoice.number in pdf_text(invoice_pdf)
    receipt = pdf_text(receipt_pdf)
    assert (
        invoice.number in receipt
        and format_amount(invoice.amount_paid, "eur") in receipt
        and proposal.number in receipt
    )
    assert "Les Bureaux du Canal" in receipt and "812345678" in receipt and "FR45812345678" in receipt

    posted: list[dict] = []
    assert post_to_slack(ledger, posted.append) == 1
    [announcement] = slack_texts(posted)
    assert (
        "Proposition acceptée" in announcement
        and "Acme – bureau privé" in announcement
        and proposal.number in announcement
    )


def test_objects_without_propale_metadata_are_recorded_and_ignored(ledger, client):
    customer = client.v1.customers.create({"email": "autre@exemple.fr"})
    price = client.v1.prices.create({"currency": "eur", "unit_amount": 1000, "product_data": {"name": "Autre chose"}})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 1}],
            "allowed_payment_method_types": ["card"],
            "success_url": "https://exemple.fr/ok",
            "invoice_creation": {"enabled": True},
        }
    )
    pay(client, session.id, card_number="4242424242424242")
    report = read(client, ledger)
    assert report.ignored >= 2 and report.bad == 0 and not report.failed
    assert ledger.pending_deliveries() == []


def test_an_unknown_proposal_alerts_the_team_and_the_batch_goes_on(ledger, client):
    customer = client.v1.customers.create({"email": "inconnu@exemple.fr"})
    price = client.v1.prices.create({"currency": "eur", "unit_amount": 1000, "product_data": {"name": "Salle"}})
    metadata = {"hubspot_deal_id": "777", "proposal_number": "DEV-2099-00999", "proposal_version": "1"}
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            "line_items": [{"price": price.id, "quantity": 1}],
            "allowed_payment_method_types": ["card"],
            "success_url": "https://exemple.fr/ok",
            "metadata": metadata,
            "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
        }
    )
    pay(client, session.id, card_number="4242424242424242")
    proposal, good = accepted_checkout(ledger, client, line_items=(ROOM,))
    pay(client, good.id, card_number="4242424242424242")

    report = read(client, ledger)
    assert report.bad == 2 and not report.failed  # the unknown session and its invoice
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    texts = slack_texts(posted)
    unknown = [t for t in texts if "DEV-2099-00999" in t]
    assert len(unknown) == 2 and all("Transaction 777" in t and "ne connaît pas" in t for t in unknown)
    assert any(proposal.number in t and "Proposition acceptée" in t for t in texts), "the other deals go on"


def test_an_interrupted_email_is_reported_never_sent_again(ledger, client):
    _, session = accepted_checkout(ledger, client, line_items=(ROOM,))
    pay(client, session.id, card_number="4242424242424242")
    read(client, ledger)
    cut_off, other = ledger.pending_deliveries(kind=EMAIL)
    ledger.start_delivery(cut_off.key)  # a crash after the SMTP server took it, before it was recorded

    outbox = Outbox()
    report = send_emails(ledger, outbox)
    assert report == {"sent": 1, "unconfirmed": 1, "refused": 0}
    assert [m["Message-ID"] for m in outbox.sent] == [message_id_of(other)]
    assert ledger.delivery(cut_off.key).status == DeliveryStatus.CANCELLED
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    assert any("E-mail peut-être non envoyé" in t for t in slack_texts(posted))


def test_a_failed_send_is_retried_and_a_refused_recipient_reported(ledger, client):
    _, session = accepted_checkout(ledger, client, line_items=(ROOM,))
    pay(client, session.id, card_number="4242424242424242")
    read(client, ledger)
    flaky = Outbox([smtplib.SMTPServerDisconnected("bye")])
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_emails(ledger, flaky)
    refusing = Outbox([smtplib.SMTPRecipientsRefused({"jeanne.martin@acme.fr": (550, b"no such user")})])
    assert send_emails(ledger, refusing) == {"sent": 1, "unconfirmed": 0, "refused": 1}
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    assert any("E-mail refusé" in t for t in slack_texts(posted))


def test_a_cursor_older_than_stripes_retention_alerts_the_team(ledger, client):
    now = datetime.now(UTC)
    ledger.set_cursor(CURSOR, str(int((now - timedelta(days=40)).timestamp())))
    read(client, ledger, now)
    assert ledger.get_cursor(CURSOR) == str(int(now.timestamp()))
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    [text] = slack_texts(posted)
    assert "Événements Stripe peut-être perdus" in text and "30 jours" in text
    read(client, ledger, now + timedelta(minutes=1))
    assert post_to_slack(ledger, posted.append) == 0, "once"


def test_a_sepa_failure_and_a_deleted_deal(ledger, client, gateway, sandbox):
    created = gateway.client.crm.deals.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"dealname": "Acme – bureau privé"}}, {"properties": {"dealname": "Acme – postes"}}]
        )
    )
    kept, deleted = sorted(str(deal.id) for deal in created.results)
    _, rejected = accepted_checkout(ledger, client, method="sepa_debit", id=kept, line_items=(OFFICE, SETUP))
    httpx.patch(f"{sandbox.config.stripe_url}/_sandbox/faults", json={"sepa_delay_s": 0.2}).raise_for_status()
    pay(client, rejected.id, iban="FR8420041010050500013M02607")
    _, paid = accepted_checkout(ledger, client, id=deleted, line_items=(DESK,))
    pay(client, paid.id, card_number="4242424242424242")
    gateway.client.crm.deals.basic_api.archive(deleted)

    def settled():
        return any(
            e.data.object.id == rejected.id
            for e in client.v1.events.list({"type": "checkout.session.async_payment_failed"}).data
        )

    deadline = time.monotonic() + 20
    while not settled():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    read(client, ledger)
    assert write_to_hubspot(gateway, ledger, datetime.now(UTC)) == {"deals": 1, "notes": 2, "missing": 1}
    assert ledger.pending_deliveries(kind=DEAL_UPDATE) == [] and ledger.pending_deliveries(kind=DEAL_NOTE) == []
    deal = gateway.client.crm.deals.basic_api.get_by_id(
        kept, properties=["propale_status", "propale_error", "propale_payment_method"]
    ).properties
    assert deal["propale_status"] == "accepted" and deal["propale_payment_method"] == "sepa_debit"
    assert "rejeté" in deal["propale_error"]

    outbox = Outbox()
    send_emails(ledger, outbox)
    assert any(m["Subject"].startswith("Prélèvement rejeté : Acme SARL") for m in outbox.sent)
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    texts = slack_texts(posted)
    assert any("Prélèvement SEPA rejeté" in t for t in texts)
    assert any("Transaction introuvable dans HubSpot" in t and "Acme – bureau privé" in t for t in texts)


def test_headline_shows_amounts_before_vat_per_period():
    def of(*lines):
        return headline(build_snapshot(sample_deal(line_items=lines), SETTINGS, "DEV-2026-00001", 1, *_dates()))

    assert of(DESK) == f"{eur(90000)} HT / mois"
    assert of(ROOM) == f"{eur(36000)} HT"
    assert of(OFFICE, SETUP) == f"{eur(200000)} HT / mois + {eur(15000)} HT de frais ponctuels"


def _dates():
    now = datetime(2026, 3, 2, tzinfo=UTC)
    return now, validity_period(now, 30)[0]


def test_payment_method_labels_and_receipt():
    assert (
        payment_method_label({"type": "card", "card": {"brand": "cartes_bancaires", "last4": "1001"}})
        == "carte CB se terminant par 1001"
    )
    assert payment_method_label({"type": "sepa_debit", "sepa_debit": {"last4": "2606"}}) == (
        "prélèvement SEPA sur le compte se terminant par 2606"
    )
    receipt = Receipt(
        seller=SETTINGS.seller,
        customer_name="Acme SARL <script>",
        customer_address=("3 rue des Lilas",),
        invoice_number="ABC-0042",
        proposal_number="DEV-2026-00042",
        paid_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        method="carte Visa se terminant par 4242",
        currency="eur",
        net=200000,
        vat=40000,
        amount_paid=240000,
    )
    text = pdf_text(render_receipt_pdf(receipt))
    assert "ABC-0042" in text and eur(240000) in text and eur(200000) in text
    assert "2 mars 2026" in text, "dates in Paris time"
    assert "Acme SARL <script>" in text


def test_a_failed_renewal_alerts_the_rep_and_the_team(ledger, client):
    proposal, _ = accepted_checkout(ledger, client, line_items=(DESK,))
    now = int(time.time())
    clock, subscription = clocked_checkout(ledger, client, proposal, now)
    customer = client.v1.subscriptions.retrieve(subscription).customer
    failing = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer})
    client.v1.subscriptions.update(subscription, {"default_payment_method": failing.id})
    read(client, ledger)
    send_emails(ledger, Outbox())
    post_to_slack(ledger, lambda message: None)

    advance(client, clock.id, now + 32 * 86400)
    read(client, ledger)
    outbox, posted = Outbox(), []
    send_emails(ledger, outbox)
    post_to_slack(ledger, posted.append)
    [email] = outbox.sent
    assert email["Subject"].startswith("Paiement échoué : facture") and email["To"].endswith(
        "<paul.durand@bureauxducanal.fr>"
    )
    text = email.get_body(("plain",)).get_content()
    assert "Motif indiqué par Stripe" in text and "nouvelle tentative le" in text and "/invoice/" in text
    [alert_text] = slack_texts(posted)
    assert "Paiement échoué" in alert_text and "Acme – bureau privé" in alert_text
    errors = [
        json.loads(d.payload)["properties"].get("propale_error", "")
        for d in ledger.pending_deliveries(kind=DEAL_UPDATE)
    ]
    assert any("a échoué" in error for error in errors)


def clocked_checkout(ledger, client, proposal, now: int):
    """The proposal's customer on a test clock, paying a session the customer page opened (and recorded)."""
    snapshot = proposal.snapshot
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": now})
    customer = client.v1.customers.create(
        {"email": snapshot.customer.email, "test_clock": clock.id, "metadata": {"hubspot_deal_id": snapshot.deal_id}}
    )
    session = StripeBilling(client, ledger.installation_id()).create_checkout_session(
        CheckoutRequest(
            snapshot, "card", customer.id, "https://propale.example/merci", "https://propale.example/p/x", attempt=1
        )
    )
    record_session(ledger, proposal.id, session)
    return clock, pay(client, session.id, card_number="4242424242424242").subscription


def advance(client, clock_id: str, frozen_time: int) -> None:
    client.v1.test_helpers.test_clocks.advance(clock_id, {"frozen_time": frozen_time})
    deadline = time.monotonic() + 60
    while client.v1.test_helpers.test_clocks.retrieve(clock_id).status != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def months_between(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def test_a_term_ends_the_subscription_at_stripe_and_its_end_is_told_once(ledger, client):
    committed = line("Bureau fixe", "1", "600", recurring_billing_frequency="quarterly", term="P6M")
    proposal, _ = accepted_checkout(ledger, client, line_items=(committed,))
    now = int(time.time())
    clock, subscription_id = clocked_checkout(ledger, client, proposal, now)

    read(client, ledger)
    assert len(ledger.pending_deliveries(kind=SUBSCRIPTION_TERM)) == 1
    assert write_to_stripe(client, ledger) == 1
    assert write_to_stripe(client, ledger) == 0, "set once"
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    start = datetime.fromtimestamp(subscription.billing_cycle_anchor, UTC)
    end = datetime.fromtimestamp(subscription.cancel_at, UTC)
    assert months_between(start, end) == 6 and (end.day, end.hour, end.minute) == (start.day, start.hour, start.minute)
    send_emails(ledger, Outbox())
    post_to_slack(ledger, lambda message: None)
    assert not any(
        "Fin d’engagement" in json.loads(d.payload)["body_html"] for d in ledger.pending_deliveries(kind=DEAL_NOTE)
    )

    advance(client, clock.id, subscription.cancel_at + 86400)
    assert client.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    read(client, ledger)
    notes = [json.loads(d.payload)["body_html"] for d in ledger.pending_deliveries(kind=DEAL_NOTE)]
    assert any(
        "Fin d’engagement" in note and "est arrivé au terme de son engagement de 6 mois" in note for note in notes
    )
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    [told] = [t for t in slack_texts(posted) if "terme de son engagement" in t]
    assert "Abonnement arrivé au terme de son engagement" in told and "Acme SARL" in told and proposal.number in told
    read(client, ledger, datetime.now(UTC) + timedelta(minutes=1))
    assert post_to_slack(ledger, posted.append) == 0, "once"


def test_a_session_charging_another_amount_is_reported_and_still_recorded(ledger, client):
    proposal, _ = accepted_checkout(ledger, client, line_items=(ROOM,))
    snapshot = proposal.snapshot
    metadata = {"hubspot_deal_id": snapshot.deal_id, "proposal_number": proposal.number, "proposal_version": "1"}
    price = client.v1.prices.create({"currency": "eur", "unit_amount": 1000, "product_data": {"name": "Salle"}})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": StripeBilling(client, ledger.installation_id()).customer_for(snapshot),
            "line_items": [{"price": price.id, "quantity": 1}],
            "allowed_payment_method_types": ["card"],
            "success_url": "https://propale.example/merci",
            "metadata": metadata,
            "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
        }
    )
    record_session(ledger, proposal.id, session)
    pay(client, session.id, card_number="4242424242424242")

    report = read(client, ledger)
    assert report.bad == 0 and not report.failed
    updates = [json.loads(d.payload)["properties"] for d in ledger.pending_deliveries(kind=DEAL_UPDATE)]
    assert any(update.get("propale_status") == "accepted" for update in updates), "the payment is recorded"
    outbox = Outbox()
    send_emails(ledger, outbox)
    expected, charged = eur(snapshot.first_payment), eur(1000)
    [warning] = [m for m in outbox.sent if m["Subject"].startswith("Montant payé différent")]
    assert warning["To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    text = warning.get_body(("plain",)).get_content().replace("\n", " ")
    assert f"est de {charged} TTC" in text and f"premier paiement de {expected} TTC" in text
    assert any(m["Subject"].startswith("Votre facture") for m in outbox.sent), "the customer still gets the invoice"
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    [alert_text] = [t for t in slack_texts(posted) if "Montant payé différent" in t]
    assert charged in alert_text and expected in alert_text


def test_a_session_propale_did_not_open_is_reported_and_not_taken_as_a_payment(ledger, client):
    proposal, _ = accepted_checkout(ledger, client, line_items=(ROOM,))
    snapshot = proposal.snapshot
    billing = StripeBilling(client, ledger.installation_id())
    # A session for the same proposal and amount, but never recorded by the customer page.
    stray = billing.create_checkout_session(
        CheckoutRequest(
            snapshot,
            "card",
            billing.customer_for(snapshot),
            "https://propale.example/merci",
            "https://propale.example/p/x",
            attempt=7,
        )
    )
    pay(client, stray.id, card_number="4242424242424242")

    report = read(client, ledger)
    assert report.bad == 2 and not report.failed  # the session and its invoice
    assert ledger.pending_deliveries(kind=EMAIL) == [], "no invoice sent, nobody told it is paid"
    assert ledger.pending_deliveries(kind=DEAL_UPDATE) == [] and ledger.pending_deliveries(kind=DEAL_NOTE) == []
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    texts = slack_texts(posted)
    reported = [t for t in texts if "Paiement Stripe hors de Propale" in t]
    assert len(reported) == 2 and all(stray.id in t and "n’a pas été ouverte par Propale" in t for t in reported)


def test_a_second_payment_of_a_proposal_is_reported_and_never_overwrites_the_first(ledger, client):
    """A session opened before a crash, say, paid after the first: the deal keeps the first payment's
    ids, and the rep and the team are told of both payments and how to refund one."""
    proposal, first = accepted_checkout(ledger, client)
    billing = StripeBilling(client, ledger.installation_id())
    snapshot = proposal.snapshot
    second = billing.create_checkout_session(
        CheckoutRequest(snapshot, "sepa_debit", first.customer, "https://propale.example/merci", "https://x/p")
    )
    record_session(ledger, proposal.id, second, "sepa_debit")
    pay(client, first.id, card_number="4242424242424242")
    pay(client, second.id, iban="FR1420041010050500013M02606")
    first_paid = client.v1.checkout.sessions.retrieve(first.id)
    second_paid = client.v1.checkout.sessions.retrieve(second.id)

    assert not read(client, ledger).failed
    assert ledger.payment_of_record(proposal.id) == first.id
    written = [json.loads(d.payload)["properties"] for d in ledger.pending_deliveries(kind=DEAL_UPDATE)]
    subscriptions = {p["stripe_subscription_id"] for p in written if "stripe_subscription_id" in p}
    assert subscriptions == {first_paid.subscription}, "the second payment's ids never reach the deal"

    outbox = Outbox()
    send_emails(ledger, outbox)
    [twice] = [m for m in outbox.sent if "payée deux fois" in m["Subject"]]
    assert twice["To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    text = twice.get_body(("plain",)).get_content()
    amount = format_amount(first_paid.amount_total, "eur")
    assert f"Premier paiement : {amount} TTC par carte bancaire, session Stripe {first.id}." in text
    assert f"Second paiement : {amount} TTC par prélèvement SEPA, session Stripe {second.id}." in text
    assert f"https://dashboard.stripe.com/test/subscriptions/{second_paid.subscription}" in text
    assert "Remboursez le second paiement" in text and "annulez aussi cet abonnement en double" in text
    posted: list[dict] = []
    post_to_slack(ledger, posted.append)
    [alert] = [t for t in slack_texts(posted) if "Proposition payée deux fois" in t]
    assert first.id in alert and second.id in alert and "Remboursez le second paiement" in alert
