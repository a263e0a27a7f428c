"""The Stripe side of an acceptance with names longer than Stripe takes (HubSpot takes far longer).

Against the sandbox's Stripe, which refuses what the real API refuses (maxLength in its OpenAPI
spec): the customer and the Checkout Session are still created, with the names cut visibly.
"""

from __future__ import annotations

import pytest
import stripe

from propale.billing import CUSTOMER_NAME_MAX, PRODUCT_NAME_MAX, CheckoutRequest, StripeBilling
from propale.proposals import CompanyInput
from support.factories import line, sample_deal, sample_snapshot

LONG_COMPANY = "Société Coopérative d’Intérêt Collectif 共同組合 « Les Ateliers Réunis » 🌍 " * 6
LONG_LINE = "Poste nomade 🪑 (accès 24 h/24, casier, café à volonté, 会議室 2 h/mois) " * 80


def test_the_sandbox_refuses_names_longer_than_stripe_takes(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create({"name": "x" * (CUSTOMER_NAME_MAX + 1)})
    assert refused.value.param == "name"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.products.create({"name": "x" * (PRODUCT_NAME_MAX + 1)})
    assert refused.value.param == "name"
    assert client.v1.customers.create({"name": "x" * CUSTOMER_NAME_MAX}).name == "x" * CUSTOMER_NAME_MAX


def test_a_customer_with_a_very_long_company_name_can_still_accept(client):
    company = CompanyInput("601", LONG_COMPANY, ("5 rue Mercière",), "69002", "Lyon", "France", None, None)
    lines = (
        line(LONG_LINE, "2", "190", product_id="p-long", recurring_billing_frequency="monthly"),
        line(LONG_LINE + " (sans produit)", "1", "150"),
    )
    snapshot = sample_snapshot(sample_deal(company=company, line_items=lines), number="DEV-2026-90001")
    billing = StripeBilling(client)

    customer = client.v1.customers.retrieve(billing.create_customer(snapshot))
    assert len(customer.name) <= CUSTOMER_NAME_MAX
    assert customer.name.startswith("Société Coopérative d’Intérêt Collectif 共同組合") and customer.name.endswith("…")

    session = billing.create_checkout_session(
        CheckoutRequest(snapshot, "card", customer.id, "https://propale.example/ok", "https://propale.example/retour")
    )
    items = client.v1.checkout.sessions.line_items.list(session.id).data
    assert len(items) == 2
    for item in items:
        assert item.description.startswith("Poste nomade 🪑") and len(item.description) <= PRODUCT_NAME_MAX
