"""The payment window of an accepted proposal, and closing its Checkout Sessions at Stripe.

A click records the customer's acceptance before the payment (the acceptance is the customer's
word; Checkout is only how they pay). An accepted proposal that is never paid must not freeze the
deal: it may be paid for `propale_payment_window_days` days after the acceptance (14 by default),
then its sessions are closed and the rep is told (`propale.syncing.overdue`), and the rep may
re-propose it at any time before it is paid (`propale.sending`).

Whoever opens or closes a proposal's sessions does it under `Ledger.checkout_claim`, so that at most
one session of a proposal is open, whichever process or thread acts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from propale.billing import StripeBilling
from propale.ledger import CheckoutStatus, Ledger
from propale.settings import Settings


def payment_due(accepted_at: datetime, settings: Settings) -> datetime:
    """When the payment window of a proposal accepted at `accepted_at` closes."""
    return accepted_at + timedelta(days=settings.payment_window_days)


def settle(ledger: Ledger, stripe_session_id: str, live: Any) -> bool:
    """Record what Stripe says of a session it has closed (`live`); True when it was paid."""
    if live.status == "complete":
        ledger.record_payment(stripe_session_id)
        return True
    if live.status == "expired":
        ledger.set_checkout_session_status(stripe_session_id, CheckoutStatus.EXPIRED)
    return False


def close_open_sessions(ledger: Ledger, billing: StripeBilling, proposal_id: int) -> bool:
    """Expire at Stripe every session of the proposal the ledger knows as open, so that none can be
    paid any more; False when one was paid meanwhile (the proposal is then paid and must stay so).

    To be called under `ledger.checkout_claim(proposal_id)`, or a click could open another one.
    Stripe refuses to expire a session that is complete, and expiring an expired one changes nothing
    (https://docs.stripe.com/api/checkout/sessions/expire): `billing` then hands back its state.
    """
    paid = False
    for recorded in ledger.checkout_sessions(proposal_id):
        if recorded.status == CheckoutStatus.OPEN:
            live = billing.expire_checkout_session(recorded.stripe_session_id)
            paid = settle(ledger, recorded.stripe_session_id, live) or paid
    return not paid
