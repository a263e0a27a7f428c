"""The Stripe side of an acceptance: the customer as its invoices must name it, and names longer
than Stripe takes (HubSpot takes far longer).

Against the sandbox's Stripe, which refuses what the real API refuses (maxLength in its OpenAPI
spec): the customer and the Checkout Session are still created, with the names cut visibly; the
invoices carry the customer's address and tax ids and the mentions French law requires.
"""

from __future__ import annotations

import io

import httpx
import pytest
import stripe
from pypdf import PdfReader

from propale.billing import CUSTOMER_NAME_MAX, PRODUCT_NAME_MAX, CheckoutRequest, StripeBilling
from propale.proposals import CompanyInput, PersonInput
from support.checkouts import pay
from support.factories import ROOM, line, sample_deal, sample_snapshot

LONG_COMPANY = "Société Coopérative d’Intérêt Collectif 共同組合 « Les Ateliers Réunis » 🌍 " * 6
LONG_LINE = "Poste nomade 🪑 (accès 24 h/24, casier, café à volonté, 会議室 2 h/mois) " * 80

# Each test has proposal numbers of its own (DEV-2026-9000N): one installation id serves them all.
INSTALLATION = "tests-billing"


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


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
    billing = StripeBilling(client, INSTALLATION)

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


def tax_ids_of(client, customer_id: str) -> list[tuple[str, str]]:
    return sorted((t.type, t.value) for t in client.v1.customers.tax_ids.list(customer_id).data)


def test_the_customer_carries_its_address_tax_ids_and_the_invoice_mentions(client):
    snapshot = sample_snapshot(number="DEV-2026-90002")
    customer = client.v1.customers.retrieve(StripeBilling(client, INSTALLATION).customer_for(snapshot))

    assert customer.address.line1 == "3 rue des Lilas" and customer.address.line2 == "Bâtiment B"
    assert (customer.address.postal_code, customer.address.city, customer.address.country) == ("69003", "Lyon", "FR")
    assert customer.preferred_locales == ["fr"]
    company, seller = snapshot.customer, snapshot.seller
    assert tax_ids_of(client, customer.id) == [("eu_vat", company.vat_number), ("fr_siren", company.siren)]
    fields = [(f.name, f.value) for f in customer.invoice_settings.custom_fields]
    assert fields == [("SIREN", seller.siren), ("N° TVA", seller.vat_number)]
    assert "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €" in (
        customer.invoice_settings.footer
    )


def test_an_existing_customer_is_brought_up_to_date_once(client):
    # A contact of its own: the shared sandbox holds the other tests' customers.
    deal = sample_deal(contact=PersonInput("90003", "lea.bernard@acme.fr", "Léa", "Bernard"))
    snapshot = sample_snapshot(deal, number="DEV-2026-90003")
    contact = snapshot.customer
    # The contact's customer from an earlier acceptance, made before Propale sent addresses and tax ids.
    earlier = client.v1.customers.create(
        {
            "email": contact.email,
            "name": "Acme",
            "metadata": {"hubspot_contact_id": contact.contact_id},
            "tax_id_data": [{"type": "eu_vat", "value": contact.vat_number}],
        }
    )
    billing = StripeBilling(client, INSTALLATION)

    assert billing.customer_for(snapshot) == earlier.id
    assert billing.customer_for(snapshot) == earlier.id, "a retried acceptance changes nothing more"

    customer = client.v1.customers.retrieve(earlier.id)
    assert customer.name == "Acme SARL" and customer.address.city == "Lyon" and customer.address.country == "FR"
    assert tax_ids_of(client, earlier.id) == [("eu_vat", contact.vat_number), ("fr_siren", contact.siren)]
    assert [f.name for f in customer.invoice_settings.custom_fields] == ["SIREN", "N° TVA"]


def test_a_paid_invoice_prints_the_mentions_french_law_requires(client):
    snapshot = sample_snapshot(sample_deal(line_items=(ROOM,)), number="DEV-2026-90004")
    billing = StripeBilling(client, INSTALLATION)
    session = billing.create_checkout_session(
        CheckoutRequest(
            snapshot, "card", billing.customer_for(snapshot), "https://propale.example/ok", "https://propale.example/p"
        )
    )
    pay(client, session.id, card_number="4242424242424242")
    invoice = client.v1.invoices.retrieve(client.v1.checkout.sessions.retrieve(session.id).invoice)

    company, seller = snapshot.customer, snapshot.seller
    assert [(f.name, f.value) for f in invoice.custom_fields] == [
        ("SIREN", seller.siren),
        ("N° TVA", seller.vat_number),
    ]
    assert invoice.customer_address.city == "Lyon"
    assert sorted((t.type, t.value) for t in invoice.customer_tax_ids) == [
        ("eu_vat", company.vat_number),
        ("fr_siren", company.siren),
    ]
    text = " ".join(pdf_text(httpx.get(invoice.invoice_pdf, follow_redirects=True).content).split())
    for printed in (seller.siren, seller.vat_number, company.vat_number, company.siren, "3 rue des Lilas", "69003"):
        assert printed in text
    assert "taux directeur de la BCE majoré de 10 points" in text and "40 €" in text
