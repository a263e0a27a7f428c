"""What the proposal quotes is what Stripe charges, in the currencies whose amounts Stripe writes
differently from ISO 4217 (https://docs.stripe.com/currencies#special-cases) and in a zero-decimal
one: the proposal is issued, accepted and paid through the official client on the Stripe stand-in,
and the Checkout Session and the invoice Stripe makes are compared with the frozen snapshot.
"""

from __future__ import annotations

import pytest
import stripe

from propale.ledger import Ledger
from propale.money import charged_amount, format_amount
from propale.syncing import SLACK
from propale_dev.sandbox.process import SandboxProcess, config_on_free_ports
from support.checkouts import accepted_checkout, pay, read
from support.factories import line


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A sandbox of the module's own: Stripe's idempotency keys carry the proposal numbers, which
    every new ledger starts again from DEV-2026-00001."""
    with SandboxProcess(config_on_free_ports(tmp_path_factory.mktemp("quoted") / "state"), reset=True) as process:
        yield process


@pytest.fixture(scope="module")
def client(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(sandbox.config.stripe_secret_key, base_addresses={"api": sandbox.config.stripe_url})


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """One ledger for the module, so that each proposal has a number of its own."""
    with Ledger(f"sqlite:///{tmp_path_factory.mktemp('quoted') / 'ledger.db'}") as ledger:
        yield ledger


@pytest.mark.parametrize(
    ("currency", "price", "first_payment", "shown"),
    [
        # 1 234 ISK + 20 % VAT = 1 480,8 ISK: Stripe charges whole krónur, so 1 481 ISK, written 148100.
        ("ISK", "1234", 148100, "1 481 ISK"),
        ("UGX", "1234", 148100, "1 481 UGX"),
        # HUF and TWD are charged with two decimals; only their payouts are whole.
        ("HUF", "12345.67", 1481480, "14 814,80 HUF"),
        ("TWD", "800.45", 96054, "960,54 TWD"),
        ("JPY", "1234", 1481, "1 481 JPY"),
    ],
)
@pytest.mark.parametrize("recurring", [False, True], ids=["one-off", "monthly"])
def test_the_customer_pays_exactly_the_amount_quoted(ledger, client, currency, price, first_payment, shown, recurring):
    frequency = "monthly" if recurring else None
    offer = line("Salle de réunion", "1", price, recurring_billing_frequency=frequency, currency=currency)
    deal_id = f"{currency}-{frequency or 'once'}"
    proposal, session = accepted_checkout(ledger, client, id=deal_id, currency=currency, line_items=(offer,))
    snapshot = proposal.snapshot
    assert snapshot.first_payment == first_payment
    assert format_amount(snapshot.first_payment, currency).replace("\u202f", " ").replace("\xa0", " ") == shown

    # The session's total may keep a fraction of a króna that its invoice rounds away.
    assert (charged_amount(session.amount_total, currency), session.currency) == (first_payment, currency.lower())
    paid = pay(client, session.id, card_number="4242424242424242")
    invoice_id = client.v1.subscriptions.retrieve(paid.subscription).latest_invoice if recurring else paid.invoice
    invoice = client.v1.invoices.retrieve(invoice_id)
    assert (invoice.amount_paid, invoice.currency) == (first_payment, currency.lower())

    read(client, ledger)
    alerts = [d.payload.decode() for d in ledger.pending_deliveries(kind=SLACK)]
    assert alerts and not [a for a in alerts if "Montant payé différent" in a], "the sync finds the amount right"
