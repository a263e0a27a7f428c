"""`propale_sync_stripe` end to end: `airflow dags test` against a sandbox seeded with the demo.

Proposals are sent by `propale_send_proposals`; the customer's click is played as the customer
page records it (acceptance in the ledger, Checkout Session from `StripeBilling`); payments go
through the Stripe stand-in's Checkout test helper. What users notice is read back: deals and notes
in HubSpot, emails and their PDFs in the mailbox, Slack posts.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import stripe
from demo_world import DemoWorld, running_demo
from polling import wait_for

from propale.billing import CheckoutRequest, StripeBilling
from propale.ledger import Ledger
from propale.money import format_amount

pytestmark = pytest.mark.timeout(900)

CARD_SUBSCRIPTION = "Atelier Lumen — 3 postes nomades"
CARD_ONE_OFF = "Studio Kairos — 4 demi-journées de salle"
MIXED = "Boulangerie Numérique — bureau privé 4 places"
DECLINED_THEN_PAID = "Boulangerie Numérique — séminaire d'équipe"
SEPA_PAID = "Onde Verte — 2 bureaux fixes au trimestre"
SEPA_REJECTED = "Collectif Paprika — bureau privé 2 places"
EXPIRED = "Atelier Lumen — bureau fixe supplémentaire"
RENEWED = "Onde Verte — 5 postes nomades pour l'été"
CRASH = ["Cabinet Vasseur — bureau privé 6 places, engagement annuel", "Studio Kairos — bureau privé 2 places et mise en service"]
ALL = [CARD_SUBSCRIPTION, CARD_ONE_OFF, MIXED, DECLINED_THEN_PAID, SEPA_PAID, SEPA_REJECTED, EXPIRED, RENEWED, *CRASH]

SEPA_OK = "FR1420041010050500013M02606"
SEPA_KO = "FR8420041010050500013M02607"


class World(DemoWorld):
    """The demo company after its proposals went out, and its customers' side."""

    def __init__(self, sandbox, airflow):
        super().__init__(sandbox, airflow)
        config = sandbox.config
        self.stripe = stripe.StripeClient(config.stripe_secret_key, base_addresses={"api": config.stripe_url})

    # --- the customer's side --------------------------------------------------------------------

    def proposal(self, name: str):
        with Ledger(self.airflow.ledger_url) as ledger:
            return ledger.current_proposal(self.deal_ids[name])

    def open_checkout(self, name: str, method: str, customer_id: str | None = None):
        """What the customer page does on a click: record the acceptance, open a Checkout Session."""
        with Ledger(self.airflow.ledger_url) as ledger:
            proposal = ledger.current_proposal(self.deal_ids[name])
            ledger.record_acceptance(
                proposal.id, method=method, accepted_at=datetime.now(timezone.utc), ip="203.0.113.9", user_agent="pytest"
            )
            billing = StripeBilling(self.stripe)
            snapshot = proposal.snapshot
            customer_id = customer_id or billing.find_customer(snapshot) or billing.create_customer(snapshot)
            base = f"{self.airflow.public_url}/p/x"
            session = billing.create_checkout_session(
                CheckoutRequest(snapshot, method, customer_id, f"{base}/merci?session={{CHECKOUT_SESSION_ID}}", base)
            )
            ledger.record_checkout_session(
                proposal.id,
                method=method,
                stripe_session_id=session.id,
                url=session.url,
                expires_at=datetime.fromtimestamp(session.expires_at, timezone.utc),
            )
        return session

    def customer_on_a_test_clock(self, name: str):
        """The deal's customer at Stripe, on a new test clock (returned too) so that a test can make time pass.

        The customer page creates customers without a clock."""
        snapshot = self.proposal(name).snapshot
        clock = self.stripe.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time()), "name": "Renouvellement"})
        customer = self.stripe.v1.customers.create(
            {
                "email": snapshot.customer.email,
                "name": snapshot.customer.display_name,
                "test_clock": clock.id,
                "metadata": {"hubspot_contact_id": snapshot.customer.contact_id, "hubspot_deal_id": snapshot.deal_id},
            }
        )
        return customer, clock

    def pay(self, session_id: str, **fields: str):
        response = self.stripe.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **fields)
        return self.stripe.deserialize(response, api_mode="V1")

    def stripe_faults(self, **settings: float) -> None:
        httpx.patch(f"{self.sandbox.config.stripe_url}/_sandbox/faults", json=settings).raise_for_status()

    # --- what users see -------------------------------------------------------------------------

    def sync(self) -> subprocess.CompletedProcess[str]:
        return self.airflow.dags_test("propale_sync_stripe")

    def emails_about(self, text: str) -> list[dict]:
        return [m for m in self.emails() if text in m["subject"]]

    def slack_about(self, name: str, title: str = "") -> list[str]:
        """Posts about this deal (with `title`), leaving out the proposals' sending summaries."""
        texts = [" ".join(post["block_texts"]) for post in self.slack_posts()]
        return [t for t in texts if name in t and title in t and "Propositions Propale" not in t]

    def note_bodies(self, name: str) -> list[str]:
        return [note["hs_note_body"] for note in self.notes_on(name)]

    def rep_email(self, name: str) -> str:
        return self.proposal(name).snapshot.rep.email

    def customer_email(self, name: str) -> str:
        return self.proposal(name).snapshot.customer.email


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


def _invoice_email(world, name: str, invoice) -> dict:
    [message] = [m for m in world.emails_about(invoice.number) if world.customer_email(name) in m["envelope_to"]]
    return message


def _assert_invoice_and_receipt(world, message: dict, invoice) -> None:
    assert [a["filename"] for a in message["attachments"]] == [f"Facture-{invoice.number}.pdf", f"Recu-{invoice.number}.pdf"]
    assert all(a["content_type"] == "application/pdf" for a in message["attachments"])
    stripe_pdf, receipt = world.pdf_text(message, 0), world.pdf_text(message, 1)
    assert invoice.number in stripe_pdf and invoice.number in receipt
    french = format_amount(invoice.amount_paid, invoice.currency)
    assert french in receipt
    figures = f"{invoice.amount_paid // 100:,}".replace(",", "")
    assert figures in stripe_pdf.replace(",", "").replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    seller = world.proposal(CARD_SUBSCRIPTION).snapshot.seller
    assert "Reçu de paiement" in receipt and seller.name in receipt and seller.siren in receipt


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
    message = _invoice_email(world, CARD_SUBSCRIPTION, invoice)
    assert message["subject"] == f"Votre facture {invoice.number} – {world.proposal(CARD_SUBSCRIPTION).snapshot.seller.name}"
    assert world.rep_email(CARD_SUBSCRIPTION) in message["reply_to"]
    text = world.email_detail(message)["text"]
    assert "Bonjour Léa," in text and "chaque mois" in text
    _assert_invoice_and_receipt(world, message, invoice)

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
    _assert_invoice_and_receipt(world, _invoice_email(world, CARD_ONE_OFF, invoice), invoice)
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
    _assert_invoice_and_receipt(world, _invoice_email(world, MIXED, invoice), invoice)


def test_a_declined_card_then_a_good_one_is_one_acceptance(world, paid_by_card):
    deal = world.deal(DECLINED_THEN_PAID)
    assert deal["propale_status"] == "accepted"
    assert len(world.emails_about(f"a accepté la proposition {deal['propale_proposal_number']}")) == 1
    invoice = world.stripe.v1.invoices.retrieve(paid_by_card[DECLINED_THEN_PAID].invoice)
    message = _invoice_email(world, DECLINED_THEN_PAID, invoice)
    assert "Mastercard se terminant par 4444" in world.pdf_text(message, 1)
    assert len(world.slack_about(DECLINED_THEN_PAID)) == 1


@pytest.fixture(scope="module")
def sepa_and_expiry(world):
    """SEPA debits that take a while to clear, and a payment page left to expire after a click."""
    # Long enough for the first sync to run while the debits are still pending, even on a busy machine.
    world.stripe_faults(sepa_delay_s=45)
    sessions = {SEPA_PAID: world.open_checkout(SEPA_PAID, "sepa_debit"), SEPA_REJECTED: world.open_checkout(SEPA_REJECTED, "sepa_debit")}
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
    invoice = world.stripe.v1.invoices.retrieve(world.stripe.v1.checkout.sessions.retrieve(sessions[SEPA_PAID].id).invoice)
    assert invoice.status == "paid"
    message = _invoice_email(world, SEPA_PAID, invoice)
    _assert_invoice_and_receipt(world, message, invoice)
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
    assert not [m for m in world.emails() if world.customer_email(SEPA_REJECTED) in m["envelope_to"] and "facture" in m["subject"].lower()]


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
    _invoice_email(world, RENEWED, first)

    target = int((datetime.fromtimestamp(clock.frozen_time, timezone.utc) + timedelta(days=32)).timestamp())
    world.stripe.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": target})
    wait_for(lambda: world.stripe.v1.test_helpers.test_clocks.retrieve(clock.id).status == "ready")
    world.sync()

    subscription = world.stripe.v1.subscriptions.retrieve(world.deal(RENEWED)["stripe_subscription_id"])
    renewal = world.stripe.v1.invoices.retrieve(subscription.latest_invoice)
    assert renewal.id != first.id and renewal.billing_reason == "subscription_cycle" and renewal.status == "paid"
    message = _invoice_email(world, RENEWED, renewal)
    assert "a été renouvelé" in world.email_detail(message)["text"]
    _assert_invoice_and_receipt(world, message, renewal)
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
    assert (len(world.emails()), len(world.slack_posts()), len(world.note_bodies(CARD_SUBSCRIPTION))) == (emails, posts, notes)
