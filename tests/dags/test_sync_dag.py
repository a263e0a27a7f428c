"""`propale_sync_stripe` end to end: `airflow dags test` against a sandbox seeded with the demo.

Proposals are sent by `propale_send_proposals`; the customer's click is played as the customer
page records it (acceptance in the ledger, Checkout Session from `StripeBilling`); payments go
through the Stripe stand-in's Checkout test helper. What users notice is read back: deals and notes
in HubSpot, emails and their PDFs in the mailbox, Slack posts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from support.demo_world import running_demo
from support.polling import wait_for
from support.sync_world import (
    ALL,
    CARD_ONE_OFF,
    CARD_SUBSCRIPTION,
    CRASH,
    DECLINED_THEN_PAID,
    EXPIRED,
    MIXED,
    RENEWED,
    SEPA_KO,
    SEPA_OK,
    SEPA_PAID,
    SEPA_REJECTED,
    World,
    assert_invoice_and_receipt,
    invoice_email,
)

# Long proofs (`make test-all`): each scenario plays payments through Airflow runs, minutes in all.
# The handling of each event is checked in-process, in seconds, by tests/propale/test_syncing.py.
pytestmark = [pytest.mark.long, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_for):
    for sandbox, airflow in running_demo(tmp_path_factory, airflow_for, "sync"):
        world = World(sandbox, airflow)
        world.flag(*ALL)
        airflow.dags_test("propale_send_proposals")
        assert all(world.deal(name)["propale_status"] == "sent" for name in ALL)
        yield world


def test_a_run_with_nothing_new_does_nothing(world):
    emails, posts = len(world.emails()), len(world.slack_posts())
    world.sync()
    assert (len(world.emails()), len(world.slack_posts())) == (emails, posts)
    assert world.deal(CARD_SUBSCRIPTION)["propale_status"] == "sent"


@pytest.fixture(scope="module")
def paid_by_card(world):
    sessions = {
        CARD_SUBSCRIPTION: world.open_checkout(CARD_SUBSCRIPTION, "card"),
        CARD_ONE_OFF: world.open_checkout(CARD_ONE_OFF, "card"),
        MIXED: world.open_checkout(MIXED, "card"),
        DECLINED_THEN_PAID: world.open_checkout(DECLINED_THEN_PAID, "card"),
    }
    for name in (CARD_SUBSCRIPTION, CARD_ONE_OFF, MIXED):
        world.pay(sessions[name].id, card_number="4242424242424242")
    with pytest.raises(stripe.CardError):
        world.pay(sessions[DECLINED_THEN_PAID].id, card_number="4000000000000002")
    world.pay(sessions[DECLINED_THEN_PAID].id, card_number="5555555555554444")
    world.sync()
    return {name: world.stripe.v1.checkout.sessions.retrieve(session.id) for name, session in sessions.items()}


def test_a_card_subscription_accepts_the_deal_and_tells_everyone(world, paid_by_card):
    session = paid_by_card[CARD_SUBSCRIPTION]
    deal = world.deal(CARD_SUBSCRIPTION)
    assert deal["propale_status"] == "accepted"
    assert deal["propale_accepted_at"] and deal["propale_payment_method"] == "card"
    assert deal["stripe_customer_id"] == session.customer
    assert deal["stripe_subscription_id"] == session.subscription
    number = deal["propale_proposal_number"]

    # The rep: "<client> a accepté la proposition DEV-… : 2 400,00 € HT / mois"
    [rep_email] = [m for m in world.emails_about(f"a accepté la proposition {number}")]
    assert rep_email["envelope_to"] == [world.rep_email(CARD_SUBSCRIPTION)]
    assert rep_email["subject"].startswith("Atelier Lumen a accepté la proposition")
    assert "HT / mois" in rep_email["subject"]
    assert "a été reçu par carte bancaire" in world.email_detail(rep_email)["text"]

    # The customer: the first invoice, with Stripe's PDF and Propale's receipt.
    invoice = world.stripe.v1.invoices.retrieve(session.invoice)
    message = invoice_email(world, CARD_SUBSCRIPTION, invoice)
    assert (
        message["subject"]
        == f"Votre facture {invoice.number} – {world.proposal(CARD_SUBSCRIPTION).snapshot.seller.name}"
    )
    assert world.rep_email(CARD_SUBSCRIPTION) in message["reply_to"]
    text = world.email_detail(message)["text"]
    assert "Bonjour Léa," in text and "chaque mois" in text
    assert_invoice_and_receipt(world, message, invoice)

    # The team, and the deal's timeline.
    [post] = world.slack_about(CARD_SUBSCRIPTION)
    assert "Proposition acceptée" in post and number in post and "HT / mois" in post
    [note] = [n for n in world.note_bodies(CARD_SUBSCRIPTION) if invoice.number in n]
    assert "payée" in note


def test_a_card_one_off_payment_records_its_invoice(world, paid_by_card):
    session = paid_by_card[CARD_ONE_OFF]
    deal = world.deal(CARD_ONE_OFF)
    assert deal["propale_status"] == "accepted"
    assert deal["stripe_invoice_id"] == session.invoice and not deal["stripe_subscription_id"]
    invoice = world.stripe.v1.invoices.retrieve(session.invoice)
    assert_invoice_and_receipt(world, invoice_email(world, CARD_ONE_OFF, invoice), invoice)
    [rep_email] = world.emails_about(f"a accepté la proposition {deal['propale_proposal_number']}")
    assert rep_email["subject"].endswith(" € HT")


def test_a_mixed_offer_bills_one_offs_on_the_first_invoice(world, paid_by_card):
    session = paid_by_card[MIXED]
    deal = world.deal(MIXED)
    assert deal["propale_status"] == "accepted" and deal["stripe_subscription_id"] == session.subscription
    [rep_email] = world.emails_about(f"a accepté la proposition {deal['propale_proposal_number']}")
    assert "HT / mois + " in rep_email["subject"] and "frais ponctuels" in rep_email["subject"]
    invoice = world.stripe.v1.invoices.retrieve(session.invoice)
    assert invoice.amount_paid == world.proposal(MIXED).snapshot.first_payment
    assert_invoice_and_receipt(world, invoice_email(world, MIXED, invoice), invoice)


def test_a_declined_card_then_a_good_one_is_one_acceptance(world, paid_by_card):
    deal = world.deal(DECLINED_THEN_PAID)
    assert deal["propale_status"] == "accepted"
    assert len(world.emails_about(f"a accepté la proposition {deal['propale_proposal_number']}")) == 1
    invoice = world.stripe.v1.invoices.retrieve(paid_by_card[DECLINED_THEN_PAID].invoice)
    message = invoice_email(world, DECLINED_THEN_PAID, invoice)
    assert "Mastercard se terminant par 4444" in world.pdf_text(message, 1)
    assert len(world.slack_about(DECLINED_THEN_PAID)) == 1


@pytest.fixture(scope="module")
def sepa_and_expiry(world):
    """SEPA debits that take a while to clear, and a payment page left to expire after a click."""
    # Long enough for the first sync to run while the debits are still pending, even on a busy machine.
    world.stripe_faults(sepa_delay_s=45)
    sessions = {
        SEPA_PAID: world.open_checkout(SEPA_PAID, "sepa_debit"),
        SEPA_REJECTED: world.open_checkout(SEPA_REJECTED, "sepa_debit"),
    }
    world.pay(sessions[SEPA_PAID].id, iban=SEPA_OK, name="Nadia Benali")
    world.pay(sessions[SEPA_REJECTED].id, iban=SEPA_KO, name="Manon Lambert")
    expired = world.open_checkout(EXPIRED, "card")
    world.stripe.v1.checkout.sessions.expire(expired.id)
    world.sync()
    pending = {name: world.deal(name) for name in sessions}
    pending_notes = {name: world.note_bodies(name) for name in sessions}

    def settled():
        return all(
            any(e.type.startswith("checkout.session.async_payment") and e.data.object.id == s.id
                for e in world.stripe.v1.events.list({"type": "checkout.session.async_payment_*", "limit": 100}).data)
            for s in sessions.values()
        )  # fmt: skip

    wait_for(settled, timeout=90)
    world.stripe_faults(sepa_delay_s=3)
    world.sync()
    return sessions, pending, pending_notes


def test_a_sepa_debit_accepts_at_once_and_notes_the_debit_until_it_clears(world, sepa_and_expiry):
    sessions, pending, pending_notes = sepa_and_expiry
    before = pending[SEPA_PAID]
    assert before["propale_status"] == "accepted" and before["propale_payment_method"] == "sepa_debit"
    assert any("prélèvement SEPA" in n and "en cours" in n for n in pending_notes[SEPA_PAID])
    [rep_email] = world.emails_about(f"a accepté la proposition {before['propale_proposal_number']}")
    assert "est en cours" in world.email_detail(rep_email)["text"]

    notes = world.note_bodies(SEPA_PAID)
    assert any("Prélèvement SEPA réussi" in n for n in notes)
    invoice = world.stripe.v1.invoices.retrieve(
        world.stripe.v1.checkout.sessions.retrieve(sessions[SEPA_PAID].id).invoice
    )
    assert invoice.status == "paid"
    message = invoice_email(world, SEPA_PAID, invoice)
    assert_invoice_and_receipt(world, message, invoice)
    assert "prélèvement SEPA sur le compte se terminant par 2606" in world.pdf_text(message, 1)
    assert world.deal(SEPA_PAID)["propale_status"] == "accepted" and not world.deal(SEPA_PAID)["propale_error"]


def test_a_rejected_sepa_debit_alerts_the_rep_and_the_team(world, sepa_and_expiry):
    deal = world.deal(SEPA_REJECTED)
    number = deal["propale_proposal_number"]
    assert deal["propale_status"] == "accepted"
    assert "rejeté" in deal["propale_error"]
    assert any("Prélèvement SEPA rejeté" in n for n in world.note_bodies(SEPA_REJECTED))
    [rep_email] = world.emails_about(f"Prélèvement rejeté : Collectif Paprika, proposition {number}")
    assert rep_email["envelope_to"] == [world.rep_email(SEPA_REJECTED)]
    assert "/invoice/" in world.email_detail(rep_email)["text"], "the open invoice's payment page, to forward"
    assert any("Prélèvement SEPA rejeté" in post for post in world.slack_about(SEPA_REJECTED))
    assert not [
        m
        for m in world.emails()
        if world.customer_email(SEPA_REJECTED) in m["envelope_to"] and "facture" in m["subject"].lower()
    ]


def test_an_expired_payment_page_after_a_click_tells_the_rep_to_send_the_link_again(world, sepa_and_expiry):
    deal = world.deal(EXPIRED)
    assert deal["propale_status"] == "sent", "accepted only once paid"
    [rep_email] = world.emails_about(f"a accepté la proposition {deal['propale_proposal_number']} sans la payer")
    assert deal["propale_proposal_url"] in world.email_detail(rep_email)["text"]
    [post] = [p for p in world.slack_about(EXPIRED) if "pas payée" in p]
    assert deal["propale_proposal_url"] in post


def test_a_renewal_on_a_test_clock_sends_the_next_invoice(world):
    customer, clock = world.customer_on_a_test_clock(RENEWED)
    session = world.open_checkout(RENEWED, "card", customer_id=customer.id)
    world.pay(session.id, card_number="4242424242424242")
    world.sync()
    first = world.stripe.v1.invoices.retrieve(world.stripe.v1.checkout.sessions.retrieve(session.id).invoice)
    invoice_email(world, RENEWED, first)

    target = int((datetime.fromtimestamp(clock.frozen_time, UTC) + timedelta(days=32)).timestamp())
    world.stripe.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": target})
    wait_for(lambda: world.stripe.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready")
    world.sync()

    subscription = world.stripe.v1.subscriptions.retrieve(world.deal(RENEWED)["stripe_subscription_id"])
    renewal = world.stripe.v1.invoices.retrieve(subscription.latest_invoice)
    assert renewal.id != first.id and renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    message = invoice_email(world, RENEWED, renewal)
    assert "a été renouvelé" in world.email_detail(message)["text"]
    assert_invoice_and_receipt(world, message, renewal)
    assert any(renewal.number in n and "renouvellement" in n for n in world.note_bodies(RENEWED))
    assert len(world.slack_about(RENEWED)) == 1, "a renewal is not news for the team"


def test_a_crash_after_the_first_email_resends_nothing(world):
    """Kill the whole Airflow process as soon as the first email lands, then run again."""
    for name in CRASH:
        world.pay(world.open_checkout(name, "card").id, card_number="4242424242424242")
    before = {m["id"] for m in world.emails()}
    arrived = world.run_killed_after_first_email("propale_sync_stripe")
    assert arrived, "the run was killed after at least one email"

    world.sync()
    new = [m for m in world.emails() if m["id"] not in before]
    sent = sorted((tuple(m["envelope_to"]), m["subject"]) for m in new)
    assert len(sent) == len(set(sent)), "no email twice"
    unconfirmed = [p for p in world.slack_posts() if "E-mail peut-être non envoyé" in " ".join(p["block_texts"])]
    # Two per deal (the rep's and the customer's invoice); one cut off mid-send is reported, not resent.
    assert len(sent) + len(unconfirmed) >= 4 and len(unconfirmed) <= 1
    for name in CRASH:
        assert world.deal(name)["propale_status"] == "accepted"
        assert len(world.slack_about(name)) == 1


def test_a_rerun_sends_nothing_twice(world):
    emails, posts = len(world.emails()), len(world.slack_posts())
    notes = len(world.note_bodies(CARD_SUBSCRIPTION))
    world.sync()
    assert (len(world.emails()), len(world.slack_posts()), len(world.note_bodies(CARD_SUBSCRIPTION))) == (
        emails,
        posts,
        notes,
    )
