"""Closing the payment window of accepted proposals left unpaid (`propale_payment_window_days`).

For each proposal accepted longer ago than the window and still unpaid: under the proposal's
checkout lock, its open Checkout Sessions are expired at Stripe; if none was paid meanwhile, the
proposal is marked expired in the ledger together with what tells the team, once: an email to the
deal's rep, the deal in « Erreur » with the reason (so the rep sees it and can act: contact the
customer, then set « À proposer » again for a new version), and a Slack alert. Those are the sync's
deliveries: its later tasks deliver them in the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from propale.billing import StripeBilling
from propale.crm import STATUS, Status
from propale.emails import build_team_email
from propale.ledger import Acceptance, CheckoutBusy, Ledger, NewDelivery, Proposal
from propale.payment_window import close_open_sessions
from propale.rendering import format_long_date
from propale.settings import Settings
from propale.slack_messages import DealLine, alert
from propale.syncing.handling import DEAL_UPDATE, EMAIL, SLACK, to_json

log = logging.getLogger(__name__)


def close_overdue_payment_windows(
    billing: StripeBilling,
    ledger: Ledger,
    settings: Settings,
    *,
    deal_url: Callable[[str], str],
    from_address: str | None,
    now: datetime,
) -> list[str]:
    """Close the payment window of every accepted proposal unpaid past it; returns their numbers."""
    closed = []
    for proposal, acceptance in ledger.awaiting_payment(now - timedelta(days=settings.payment_window_days)):
        try:
            with ledger.checkout_claim(proposal.id):
                if not close_open_sessions(ledger, billing, proposal.id):
                    log.info("Proposal %s was paid as its payment window closed: left as it is", proposal.number)
                    continue
                told = _tell_team(proposal, acceptance, settings, deal_url, from_address, now)
                if ledger.close_payment_window(proposal.id, told):
                    closed.append(proposal.number)
                    log.info("Payment window of %s closed, unpaid", proposal.number)
        except CheckoutBusy:
            # The customer is clicking right now: the next run looks again.
            log.info("Proposal %s is being paid for right now: its payment window is closed later", proposal.number)
    return closed


def _tell_team(
    proposal: Proposal,
    acceptance: Acceptance,
    settings: Settings,
    deal_url: Callable[[str], str],
    from_address: str | None,
    now: datetime,
) -> list[NewDelivery]:
    snapshot = proposal.snapshot
    assert snapshot is not None  # an accepted proposal was sent
    customer = snapshot.customer.display_name
    url = deal_url(proposal.deal_id)
    detail = (
        f"{customer} a accepté la proposition {proposal.number} le {format_long_date(acceptance.accepted_at)} "
        f"mais ne l’a pas payée dans le délai de {settings.payment_window_days} jours : ses pages de paiement "
        "Stripe ont été fermées et son lien ne permet plus de payer."
    )
    action = (
        "Contactez le client ; pour lui adresser une nouvelle proposition, remettez le statut Propale de la "
        "transaction à « À proposer »."
    )
    once = f"payment-window:{proposal.number}:v{proposal.version}"
    rep, seller = snapshot.rep, snapshot.seller
    email = build_team_email(
        to=(rep.name, rep.email) if rep and rep.email else (seller.name, seller.email),
        subject=f"Délai de paiement dépassé : {customer}, proposition {proposal.number}",
        title="Proposition acceptée, délai de paiement dépassé",
        paragraphs=[detail, "La transaction est passée en « Erreur » dans HubSpot.", action],
        facts=[("Offre", snapshot.summary[0]), ("Contact", snapshot.customer.contact_name)],
        links=[("Voir la transaction dans HubSpot", url)],
        seller=seller,
        sent_at=now,
        idempotency_key=once,
        from_address=from_address,
    )
    update = {
        "deal_id": proposal.deal_id,
        "deal_name": snapshot.deal_name,
        "properties": {STATUS: Status.ERROR, "propale_error": f"{detail} {action}"},
    }
    return [
        NewDelivery(f"{EMAIL}:{once}", EMAIL, email.as_bytes(), proposal.id),
        NewDelivery(f"{DEAL_UPDATE}:{once}", DEAL_UPDATE, to_json(update), proposal.id),
        NewDelivery(
            f"{SLACK}:{once}",
            SLACK,
            to_json(alert("Délai de paiement dépassé", DealLine(snapshot.deal_name, url, detail), action)),
            proposal.id,
        ),
    ]
