"""Stripe API stand-in: the API at the version the installed `stripe` library sends, hosted
Checkout, invoice and receipt pages, events, idempotency, test clocks and the Checkout test helper."""

from propale_dev.sandbox.stripe.app import create_service
from propale_dev.sandbox.stripe.seed import seed_demo

__all__ = ["create_service", "seed_demo"]
