"""Demo state for the Stripe stand-in: the account is the demo coworking company's."""

from __future__ import annotations

from propale_dev.sandbox.store import Store
from propale_dev.sandbox.stripe.core import account

DEMO_ACCOUNT_NAME = "La Fabrique Commune"


def seed_demo(store: Store) -> None:
    """Name the account after the demo seller, so invoices and receipts carry its name."""
    account(store, name=DEMO_ACCOUNT_NAME)
