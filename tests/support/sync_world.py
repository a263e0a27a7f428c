"""The demo company after its proposals went out, and its customers' side, for `propale_sync_stripe`
run end to end (tests/dags/test_sync_dag.py, tests/dags/test_sync_api_versions.py)."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

import httpx
import stripe

from propale.billing import CheckoutRequest, StripeBilling
from propale.ledger import Ledger
from propale.money import format_amount
from support.demo_world import DemoWorld

CARD_SUBSCRIPTION = "Atelier Lumen — 3 postes nomades"
CARD_ONE_OFF = "Studio Kairos — 4 demi-journées de salle"
MIXED = "Boulangerie Numérique — bureau privé 4 places"
DECLINED_THEN_PAID = "Boulangerie Numérique — séminaire d'équipe"
SEPA_PAID = "Onde Verte — 2 bureaux fixes au trimestre"
SEPA_REJECTED = "Collectif Paprika — bureau privé 2 places"
EXPIRED = "Atelier Lumen — bureau fixe supplémentaire"
RENEWED = "Onde Verte — 5 postes nomades pour l'été"
CRASH = [
    "Cabinet Vasseur — bureau privé 6 places, engagement annuel",
    "Studio Kairos — bureau privé 2 places et mise en service",
]
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
                proposal.id, method=method, accepted_at=datetime.now(UTC), ip="203.0.113.9", user_agent="pytest"
            )
            billing = StripeBilling(self.stripe, ledger.installation_id())
            snapshot = proposal.snapshot
            customer_id = customer_id or billing.customer_for(snapshot)
            base = f"{self.airflow.public_url}/p/x"
            session = billing.create_checkout_session(
                CheckoutRequest(snapshot, method, customer_id, f"{base}/merci?session={{CHECKOUT_SESSION_ID}}", base)
            )
            ledger.record_checkout_session(
                proposal.id,
                method=method,
                stripe_session_id=session.id,
                url=session.url,
                expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            )
        return session

    def customer_on_a_test_clock(self, name: str):
        """The deal's customer at Stripe, on a new test clock (returned too) so that a test can make time pass.

        The customer page creates customers without a clock."""
        snapshot = self.proposal(name).snapshot
        clock = self.stripe.v1.test_helpers.test_clocks.create(
            {"frozen_time": int(time.time()), "name": "Renouvellement"}
        )
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
        response = self.stripe.raw_request(
            "post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **fields
        )
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


def invoice_email(world, name: str, invoice) -> dict:
    [message] = [m for m in world.emails_about(invoice.number) if world.customer_email(name) in m["envelope_to"]]
    return message


def assert_invoice_and_receipt(world, message: dict, invoice) -> None:
    assert [a["filename"] for a in message["attachments"]] == [
        f"Facture-{invoice.number}.pdf",
        f"Recu-{invoice.number}.pdf",
    ]
    assert all(a["content_type"] == "application/pdf" for a in message["attachments"])
    stripe_pdf, receipt = world.pdf_text(message, 0), world.pdf_text(message, 1)
    assert invoice.number in stripe_pdf and invoice.number in receipt
    french = format_amount(invoice.amount_paid, invoice.currency)
    assert french in receipt
    figures = f"{invoice.amount_paid // 100:,}".replace(",", "")
    assert figures in stripe_pdf.replace(",", "").replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    seller = world.proposal(CARD_SUBSCRIPTION).snapshot.seller
    assert "Reçu de paiement" in receipt and seller.name in receipt and seller.siren in receipt
