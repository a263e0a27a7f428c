"""An accepted proposal that leads somewhere: the checkout lock held across processes, the payment
window closing unpaid proposals (their sessions expired at Stripe, the rep told once), and an
accepted, unpaid proposal replaced by a new version once its sessions are closed."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from propale.billing import StripeBilling
from propale.emails import parse_stored
from propale.ledger import (
    CheckoutBusy,
    CheckoutStillOpen,
    Ledger,
    ProposalAlreadyAccepted,
    ProposalStatus,
)
from propale.payment_window import close_open_sessions
from propale.syncing import DEAL_UPDATE, EMAIL, SLACK
from propale.syncing.overdue import close_overdue_payment_windows
from support.checkouts import accepted_checkout, deal_url, pay
from support.factories import sample_settings

pytestmark = pytest.mark.timeout(300)
SETTINGS = sample_settings()


def _issued(ledger: Ledger, deal_id: str = "42") -> int:
    now = datetime.now(UTC)
    return ledger.issue_proposal(deal_id, request_key="r1", source_fingerprint="f", issued_at=now, validity_days=30).id


def test_the_checkout_lock_holds_across_connections_and_a_waiter_gives_up(db_url):
    """Two ledgers (two processes' worth of connections) on one database: while one holds a
    proposal's checkout, the other waits, and is told it is busy when the wait runs out."""
    with Ledger(db_url) as first, Ledger(db_url) as second:
        proposal_id, other_id = _issued(first, "42"), _issued(first, "43")
        inside, release, order = threading.Event(), threading.Event(), []

        def hold() -> None:
            with first.checkout_claim(proposal_id):
                order.append("first in")
                inside.set()
                release.wait(10)
                order.append("first out")

        holder = threading.Thread(target=hold)
        holder.start()
        assert inside.wait(10)
        with pytest.raises(CheckoutBusy), second.checkout_claim(proposal_id, wait_s=0.5):
            order.append("second in too early")
        with second.checkout_claim(other_id, wait_s=0.5):
            order.append("another proposal is not held up")
        threading.Timer(0.5, release.set).start()
        with second.checkout_claim(proposal_id, wait_s=10):
            order.append("second in")
        holder.join()
        assert order == ["first in", "another proposal is not held up", "first out", "second in"]


def test_sqlite_claim_of_a_crashed_holder_lapses_with_its_lease(tmp_path):
    """A holder that died without releasing: the next click takes over once the lease has run out."""
    with Ledger(f"sqlite:///{tmp_path / 'propale.db'}") as ledger:
        proposal_id = _issued(ledger)
        claim = ledger.checkout_claim(proposal_id)
        claim.__enter__()  # never left: the process "crashed"
        with pytest.raises(CheckoutBusy), ledger.checkout_claim(proposal_id, wait_s=0.3):
            pass
        with ledger._engine.begin() as connection:  # the lease runs out
            connection.exec_driver_sql("UPDATE propale_checkout_claims SET expires_at = '2000-01-01 00:00:00'")
        with ledger.checkout_claim(proposal_id, wait_s=0.3):
            pass


def _billing(client: stripe.StripeClient, ledger: Ledger) -> StripeBilling:
    return StripeBilling(client, ledger.installation_id())


def test_an_unpaid_acceptance_closes_after_its_window_and_the_rep_is_told_once(ledger, client):
    proposal, session = accepted_checkout(ledger, client)
    billing = _billing(client, ledger)

    def close(now: datetime) -> list[str]:
        return close_overdue_payment_windows(
            billing, ledger, SETTINGS, deal_url=deal_url, from_address="propale@bureauxducanal.fr", now=now
        )

    assert close(datetime.now(UTC) + timedelta(days=13)) == [], "still within its window"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"

    later = datetime.now(UTC) + timedelta(days=SETTINGS.payment_window_days, minutes=1)
    assert close(later) == [proposal.number]
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired", "it can no longer be paid"
    assert ledger.get_proposal(proposal.id).status == ProposalStatus.EXPIRED
    [email] = ledger.pending_deliveries(kind=EMAIL)
    message = parse_stored(email.payload)
    assert message["Subject"] == f"Délai de paiement dépassé : Acme SARL, proposition {proposal.number}"
    assert message["To"] == "Paul Durand <paul.durand@bureauxducanal.fr>"
    [update] = ledger.pending_deliveries(kind=DEAL_UPDATE)
    properties = json.loads(update.payload)["properties"]
    assert properties["propale_status"] == "error"
    assert "remettez le statut Propale de la transaction à « À proposer »" in properties["propale_error"]
    [slack] = ledger.pending_deliveries(kind=SLACK)
    assert "Délai de paiement dépassé" in slack.payload.decode()

    assert close(later + timedelta(days=1)) == [], "once"
    assert len(ledger.pending_deliveries(kind=EMAIL)) == 1


def test_a_proposal_paid_as_its_window_closes_stays_paid(ledger, client):
    proposal, session = accepted_checkout(ledger, client)
    pay(client, session.id, card_number="4242424242424242")
    closed = close_overdue_payment_windows(
        _billing(client, ledger),
        ledger,
        SETTINGS,
        deal_url=deal_url,
        from_address=None,
        now=datetime.now(UTC) + timedelta(days=30),
    )
    assert closed == []
    assert ledger.get_proposal(proposal.id).status == ProposalStatus.ACCEPTED
    assert ledger.payment_of_record(proposal.id) == session.id
    assert ledger.pending_deliveries(kind=EMAIL) == []


def _reissue(ledger: Ledger, proposal) -> int:
    return ledger.issue_proposal(
        proposal.deal_id,
        request_key="the rep's second request",
        source_fingerprint="changed",
        issued_at=datetime.now(UTC),
        validity_days=30,
    ).id


def test_an_accepted_unpaid_proposal_is_replaced_once_its_sessions_are_closed(ledger, client):
    proposal, session = accepted_checkout(ledger, client)
    with pytest.raises(CheckoutStillOpen):
        _reissue(ledger, proposal)  # a session that may still be paid blocks the replacement
    with ledger.checkout_claim(proposal.id):
        assert close_open_sessions(ledger, _billing(client, ledger), proposal.id)
        new_id = _reissue(ledger, proposal)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert ledger.get_proposal(proposal.id).status == ProposalStatus.REPLACED
    new = ledger.get_proposal(new_id)
    assert (new.version, new.status) == (proposal.version + 1, ProposalStatus.DRAFT)


def test_a_paid_proposal_cannot_be_replaced(ledger, client):
    proposal, session = accepted_checkout(ledger, client)
    pay(client, session.id, card_number="4242424242424242")
    with ledger.checkout_claim(proposal.id):
        assert not close_open_sessions(ledger, _billing(client, ledger), proposal.id), "found paid"
        with pytest.raises(ProposalAlreadyAccepted):
            _reissue(ledger, proposal)
    assert ledger.get_proposal(proposal.id).status == ProposalStatus.ACCEPTED
