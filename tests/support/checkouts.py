"""A proposal accepted by its customer, paid through the Stripe stand-in's Checkout test helper, and
the sync's reading step run on it, without Airflow (tests/propale/test_syncing.py and the old
API version tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import stripe

from propale.billing import CheckoutRequest, StripeBilling
from propale.ledger import PROPOSAL_EMAIL, Ledger, NewDelivery, delivery_key, new_token, seal_token
from propale.proposals import build_snapshot, source_fingerprint, validity_period
from propale.syncing import read_events
from support.factories import sample_deal, sample_settings

SETTINGS = sample_settings()


def deal_url(deal_id: str) -> str:
    return f"https://hubspot.example/deals/{deal_id}"


def accepted_checkout(ledger: Ledger, client: stripe.StripeClient, method: str = "card", **deal_fields):
    """A sent proposal, accepted by its customer, with its Checkout Session open (as the web page leaves it)."""
    deal = sample_deal(**deal_fields)
    now = datetime.now(UTC)
    proposal = ledger.issue_proposal(
        deal.id,
        request_key=f"r-{now.isoformat()}",
        source_fingerprint=source_fingerprint(deal),
        issued_at=now,
        validity_days=30,
    )
    valid_until, _ = validity_period(now, 30)
    snapshot = build_snapshot(deal, SETTINGS, proposal.number, proposal.version, now, valid_until)
    key = delivery_key(PROPOSAL_EMAIL, proposal.number, proposal.version)
    token = new_token()
    ledger.attach_document(
        proposal.id,
        snapshot=snapshot,
        pdf=b"%PDF-1.7",
        token=token,
        token_sealed=seal_token(SETTINGS.link_key, token),
        deliveries=[NewDelivery(key, PROPOSAL_EMAIL, b"x")],
    )
    ledger.start_delivery(key)
    ledger.complete_delivery(key)
    ledger.record_acceptance(proposal.id, method=method, accepted_at=now, ip=None, user_agent=None)
    billing = StripeBilling(client, ledger.installation_id())
    customer = billing.customer_for(snapshot)
    session = billing.create_checkout_session(
        CheckoutRequest(snapshot, method, customer, "https://propale.example/merci", "https://propale.example/p/x")
    )
    record_session(ledger, proposal.id, session, method)
    return ledger.get_proposal(proposal.id), session


def record_session(ledger: Ledger, proposal_id: int, session: stripe.checkout.Session, method: str = "card") -> None:
    """The Checkout Session in the ledger, as the customer page records each one it opens."""
    ledger.record_checkout_session(
        proposal_id,
        method=method,
        stripe_session_id=session.id,
        url=session.url,
        expires_at=datetime.fromtimestamp(session.expires_at, UTC),
    )


def pay(client: stripe.StripeClient, session_id: str, **fields: str):
    response = client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **fields)
    return client.deserialize(response, api_mode="V1")


def read(client, ledger, now: datetime | None = None):
    return read_events(
        client,
        ledger,
        SETTINGS,
        deal_url=deal_url,
        from_address="propale@bureauxducanal.fr",
        now=now or datetime.now(UTC),
    )
