"""What a proposal link can do now, and accepting it: from the click to a Stripe Checkout Session.

Kept apart from HTTP so that the rules read in one place:
- only a sent, unexpired proposal can be accepted; the acceptance is recorded once, with the
  proposal's number, version and PDF hash, before anything is asked of Stripe;
- an accepted proposal that is not paid yet can be paid during its payment window (the customer may
  come back later, or choose another method); once a session is paid, no other one is opened;
- one open Checkout Session per proposal: the Stripe calls run under the proposal's checkout lock
  in the ledger (`Ledger.checkout_claim`), held across processes; a second click reuses the open
  session, a session Stripe has expired is replaced, and opening one method's session closes the
  other's, so that a customer with two tabs, or two clicks reaching two servers, cannot pay twice;
- amounts come from the frozen snapshot only (see `StripeBilling`).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from propale.billing import CheckoutRequest
from propale.ledger import CheckoutBusy, CheckoutStatus, Proposal, ProposalNotAcceptable, ProposalStatus
from propale.payment_window import payment_due, settle
from propale.proposals import ProposalSnapshot
from propale.settings import Settings
from propale.web.services import Services

log = logging.getLogger(__name__)

# A session about to expire is not worth sending the customer to.
REUSE_MARGIN_S = 10 * 60
MAX_USER_AGENT = 512


class State(enum.StrEnum):
    OPEN = "open"  # can be accepted
    ACCEPTED = "accepted"  # accepted, not paid yet: can still be paid
    PAID = "paid"  # a Checkout Session completed
    EXPIRED = "expired"
    REPLACED = "replaced"
    UNAVAILABLE = "unavailable"  # issued but not sent yet (its email is being sent)
    IN_PROGRESS = "in_progress"  # another click is opening or closing a payment for it right now


def state_of(services: Services, proposal: Proposal, now: datetime) -> State:
    if proposal.status == ProposalStatus.REPLACED:
        return State.REPLACED
    if proposal.status == ProposalStatus.ACCEPTED:
        if any(s.status == CheckoutStatus.COMPLETE for s in services.ledger.checkout_sessions(proposal.id)):
            return State.PAID
        acceptance = services.ledger.acceptance(proposal.id)
        if acceptance is not None and now >= payment_due(acceptance.accepted_at, services.settings):
            # Past its payment window: the sync closes it (propale.syncing.overdue) on its next run.
            return State.EXPIRED
        return State.ACCEPTED
    if proposal.is_expired(now):
        return State.EXPIRED
    if proposal.status != ProposalStatus.SENT or proposal.snapshot is None:
        return State.UNAVAILABLE
    return State.OPEN


@dataclass(frozen=True)
class Refused:
    """The click cannot lead to a payment; `state` says why (the page to show)."""

    state: State


@dataclass(frozen=True)
class Redirect:
    url: str


def accept(
    services: Services,
    proposal: Proposal,
    method: str,
    *,
    success_url: str,
    cancel_url: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> Refused | Redirect:
    now = now or datetime.now(UTC)
    state = state_of(services, proposal, now)
    if state not in (State.OPEN, State.ACCEPTED):
        return Refused(state)
    assert proposal.snapshot is not None
    if state == State.OPEN:
        try:
            services.ledger.record_acceptance(
                proposal.id,
                method=method,
                accepted_at=now,
                ip=ip,
                user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
            )
        except ProposalNotAcceptable:
            # Replaced or expired between the page and the click.
            return Refused(state_of(services, services.ledger.get_proposal(proposal.id) or proposal, now))
        log.info("Proposal %s v%d accepted (%s)", proposal.number, proposal.version, method)
    try:
        with services.ledger.checkout_claim(proposal.id):
            # Read again under the lock: while this click waited, another may have paid, or the rep
            # re-proposed, or the payment window closed.
            current = services.ledger.get_proposal(proposal.id) or proposal
            state = state_of(services, current, now)
            if state != State.ACCEPTED:
                return Refused(state)
            return _checkout(services, current, method, success_url, cancel_url, now)
    except CheckoutBusy:
        log.warning("Proposal %s: another click held its checkout too long, this one is refused", proposal.number)
        return Refused(State.IN_PROGRESS)


def _checkout(
    services: Services, proposal: Proposal, method: str, success_url: str, cancel_url: str, now: datetime
) -> Refused | Redirect:
    ledger, billing = services.ledger, services.billing
    sessions = ledger.checkout_sessions(proposal.id)
    for recorded in sessions:
        if recorded.status != CheckoutStatus.OPEN:
            continue
        # The ledger's view is only as fresh as the last sync: ask Stripe.
        live = billing.retrieve_checkout_session(recorded.stripe_session_id)
        reusable = recorded.method == method and live.expires_at > now.timestamp() + REUSE_MARGIN_S
        if live.status == "open" and live.url and reusable:
            return Redirect(live.url)
        if live.status == "open":
            live = billing.expire_checkout_session(recorded.stripe_session_id)
        if settle(ledger, recorded.stripe_session_id, live):
            return Refused(State.PAID)

    snapshot = proposal.snapshot
    assert snapshot is not None
    customer_id = billing.customer_for(snapshot)
    attempt = sum(1 for s in sessions if s.method == method)
    for _ in range(3):
        session = billing.create_checkout_session(
            CheckoutRequest(snapshot, method, customer_id, success_url, cancel_url, attempt=attempt)
        )
        if _replayed(session):
            # Stripe answered from its idempotency cache: an earlier click created this session but
            # stopped before the ledger recorded it. Its state may have changed since.
            session = billing.retrieve_checkout_session(session.id)
        recorded = ledger.record_checkout_session(
            proposal.id,
            method=method,
            stripe_session_id=session.id,
            url=session.url or "",
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )
        if session.status == "open":
            assert session.url, "a hosted Checkout Session (Propale's kind) has a URL while open"
            log.info("Checkout Session opened for %s v%d (%s)", proposal.number, proposal.version, method)
            return Redirect(session.url)
        if settle(ledger, recorded.stripe_session_id, session):
            return Refused(State.PAID)
        attempt += 1
    raise RuntimeError(f"Stripe keeps answering with closed Checkout Sessions for {proposal.number}")


def _replayed(stripe_object: Any) -> bool:
    response = getattr(stripe_object, "last_response", None)
    return bool(response is not None and response.headers.get("Idempotent-Replayed") == "true")


def paid_session(services: Services, proposal: Proposal, session_id: str) -> str | None:
    """The payment method of the Checkout Session the success page names, if it is one of this
    proposal's and Stripe says it is complete (the id comes from the browser: anyone can type one)."""
    recorded = next(
        (s for s in services.ledger.checkout_sessions(proposal.id) if s.stripe_session_id == session_id), None
    )
    if recorded is None:
        return None
    if recorded.status != CheckoutStatus.COMPLETE:
        live = services.billing.retrieve_checkout_session(session_id)
        if not settle(services.ledger, session_id, live):
            return None
    return recorded.method


def paid_method(services: Services, proposal: Proposal) -> str | None:
    """How the proposal was paid, if a session of it is known to be complete."""
    return next(
        (s.method for s in services.ledger.checkout_sessions(proposal.id) if s.status == CheckoutStatus.COMPLETE), None
    )


def offered_methods(settings: Settings, snapshot: ProposalSnapshot) -> list[str]:
    """The payment methods to offer, in the order of `propale_payment_methods`: those the proposal
    was issued with (its terms name them) and that are still enabled."""
    return [method for method in settings.payment_methods if method in snapshot.payment_methods]
