"""Propale on a Stripe account whose default API version is older than the pinned client's.

Stripe renders events in the account's version (https://docs.stripe.com/api/events/list): on
2024-06-20, before 2025-03-31.basil, a subscription's invoice names its subscription and metadata
at the top level and has no `parent`. The sandbox's Stripe account is set to that version; Propale
must still send the invoice emails, the notes, the Slack messages, and warn once per run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import stripe

from propale.syncing import EMAIL
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.checkouts import accepted_checkout, pay, read
from support.demo_world import running_demo
from support.polling import wait_for
from support.sync_world import (
    CARD_SUBSCRIPTION,
    RENEWED,
    SEPA_OK,
    SEPA_PAID,
    World,
    assert_invoice_and_receipt,
    invoice_email,
)

pytestmark = pytest.mark.timeout(900)

OLD = "2024-06-20"
WARNING = f"Stripe events are rendered in API version {OLD}"


def _old_shape_invoice_paid(client: stripe.StripeClient, invoice_id: str) -> dict:
    """The `invoice.paid` event of an invoice, as the account renders it."""
    events = client.v1.events.list({"type": "invoice.paid", "limit": 100}).data
    [event] = [e.to_dict() for e in events if e.data.object.id == invoice_id]
    return event


# --- the sync's steps, without Airflow ------------------------------------------------------------


@pytest.fixture
def old_account(tmp_path_factory):
    config = config_on_free_ports(tmp_path_factory.mktemp("old-account") / "state")
    config.stripe_api_version = OLD
    with SandboxProcess(config, reset=True):
        yield stripe.StripeClient(config.stripe_secret_key, base_addresses={"api": config.stripe_url})


def test_a_pre_basil_subscription_invoice_event_is_propales(old_account, ledger, caplog):
    client = old_account
    proposal, session = accepted_checkout(ledger, client)  # a monthly offer: a subscription
    pay(client, session.id, card_number="4242424242424242")
    invoice_id = client.v1.checkout.sessions.retrieve(session.id).invoice
    event = _old_shape_invoice_paid(client, invoice_id)
    assert event["api_version"] == OLD and "parent" not in event["data"]["object"]
    assert event["data"]["object"]["subscription_details"]["metadata"]["proposal_number"] == proposal.number

    with caplog.at_level(logging.WARNING, logger="propale.syncing"):
        report = read(client, ledger)
    assert report.processed >= 2 and report.ignored == 0 and not report.failed
    invoice = client.v1.invoices.retrieve(invoice_id)
    subjects = [
        str(message_from_bytes(d.payload, policy=policy.SMTP)["Subject"]) for d in ledger.pending_deliveries(kind=EMAIL)
    ]
    assert any(s.startswith(f"Votre facture {invoice.number}") for s in subjects), (
        "the customer's invoice email is queued"
    )
    warnings = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert len(warnings) == 1 and stripe.api_version in warnings[0]


# --- the whole loop with Airflow ------------------------------------------------------------------


def _warnings_in(run) -> int:
    return (run.stdout + run.stderr).count(WARNING)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_for):
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, "old-account-loop", stripe_api_version=OLD):
        world = World(sandbox, airflow)
        world.flag(CARD_SUBSCRIPTION, SEPA_PAID, RENEWED)
        airflow.dags_test("propale_send_proposals")
        yield world


# The whole loop once more through Airflow, on an old account (`make test-all`); the tests below
# check the same reading of old-shaped events in-process.
@pytest.mark.long
def test_the_whole_loop_on_an_account_on_2024_06_20(world):
    # The customers pay: one by card, one by SEPA debit, one by card on a test clock.
    card = world.open_checkout(CARD_SUBSCRIPTION, "card")
    world.pay(card.id, card_number="4242424242424242")
    sepa = world.open_checkout(SEPA_PAID, "sepa_debit")
    world.pay(sepa.id, iban=SEPA_OK, name="Nadia Benali")
    customer, clock = world.customer_on_a_test_clock(RENEWED)
    renewed = world.open_checkout(RENEWED, "card", customer_id=customer.id)
    world.pay(renewed.id, card_number="4242424242424242")
    first_run = world.sync()

    card = world.stripe.v1.checkout.sessions.retrieve(card.id)
    card_invoice = world.stripe.v1.invoices.retrieve(card.invoice)
    event = _old_shape_invoice_paid(world.stripe, card_invoice.id)
    assert event["api_version"] == OLD and "parent" not in event["data"]["object"], "the account renders the old shape"
    deal = world.deal(CARD_SUBSCRIPTION)
    assert deal["propale_status"] == "accepted" and deal["stripe_subscription_id"] == card.subscription
    assert_invoice_and_receipt(world, invoice_email(world, CARD_SUBSCRIPTION, card_invoice), card_invoice)
    assert any(card_invoice.number in n and "payée" in n for n in world.note_bodies(CARD_SUBSCRIPTION))
    assert any("Proposition acceptée" in post for post in world.slack_about(CARD_SUBSCRIPTION))
    assert _warnings_in(first_run) == 1

    # The SEPA debit clears; a month later the clock's subscription renews.
    wait_for(
        lambda: (
            world.stripe.v1.invoices.retrieve(world.stripe.v1.checkout.sessions.retrieve(sepa.id).invoice).status
            == "paid"
        ),
        timeout=60,
    )
    target = int((datetime.fromtimestamp(clock.frozen_time, UTC) + timedelta(days=32)).timestamp())
    world.stripe.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": target})
    wait_for(lambda: world.stripe.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready")
    second_run = world.sync()
    assert _warnings_in(second_run) == 1

    sepa_invoice = world.stripe.v1.invoices.retrieve(world.stripe.v1.checkout.sessions.retrieve(sepa.id).invoice)
    assert world.deal(SEPA_PAID)["propale_status"] == "accepted"
    assert any("Prélèvement SEPA réussi" in n for n in world.note_bodies(SEPA_PAID))
    assert_invoice_and_receipt(world, invoice_email(world, SEPA_PAID, sepa_invoice), sepa_invoice)

    subscription = world.stripe.v1.subscriptions.retrieve(world.deal(RENEWED)["stripe_subscription_id"])
    renewal = world.stripe.v1.invoices.retrieve(subscription.latest_invoice)
    assert renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    message = invoice_email(world, RENEWED, renewal)
    assert "a été renouvelé" in world.email_detail(message)["text"]
    assert_invoice_and_receipt(world, message, renewal)
    assert any(renewal.number in n and "renouvellement" in n for n in world.note_bodies(RENEWED))
