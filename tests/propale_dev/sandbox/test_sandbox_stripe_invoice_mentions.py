"""What a French invoice must mention about the customer, carried by the Stripe stand-in from the
customer (address, tax IDs, default custom fields and footer) or from Checkout's `invoice_data`
to the invoice object and the PDF behind its `invoice_pdf`."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pypdf
import pytest
import stripe

from support.stripe_sandbox import FEB_28, HOUR, JAN_31, advance, complete, new_customer, subscription_session

ADDRESS = {"line1": "12 rue de la République", "line2": "Bâtiment B", "postal_code": "69002", "city": "Lyon", "country": "FR"}  # fmt: skip
VAT_NUMBER = "FR65912345675"
SIREN = "912345675"
CUSTOMER_FIELDS = [{"name": "Bon de commande", "value": "BC-2027-042"}, {"name": "Service", "value": "Achats"}]
CUSTOMER_FOOTER = "Merci de votre confiance."


def _french_customer(client: stripe.StripeClient, **extra: Any) -> stripe.Customer:
    return new_customer(
        client,
        name="Atelier Soierie SAS",
        address=ADDRESS,
        tax_id_data=[{"type": "eu_vat", "value": VAT_NUMBER}, {"type": "fr_siren", "value": SIREN}],
        invoice_settings={"custom_fields": CUSTOMER_FIELDS, "footer": CUSTOMER_FOOTER},
        **extra,
    )


def _pdf_text(url: str) -> str:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " "))


def _assert_mentions(text: str, fields: list[dict[str, str]], footer: str) -> None:
    for line in ("12 rue de la République", "Bâtiment B", "69002 Lyon", "France"):
        assert line in text, line
    assert f"N° TVA : {VAT_NUMBER}" in text
    assert f"SIREN : {SIREN}" in text
    for field in fields:
        assert f"{field['name']} : {field['value']}" in text, field
    assert footer in text


# --- the customer -----------------------------------------------------------------------------
def test_a_customer_carries_its_address_tax_ids_and_invoice_settings(client):
    customer = _french_customer(client)
    assert customer.address.to_dict() == {**ADDRESS, "state": None}
    assert [f.to_dict() for f in customer.invoice_settings.custom_fields] == CUSTOMER_FIELDS
    assert customer.invoice_settings.footer == CUSTOMER_FOOTER
    tax_ids = client.v1.customers.tax_ids.list(customer.id).data
    assert [(t.object, t.type, t.value, t.country, t.customer) for t in tax_ids] == [  # newest first
        ("tax_id", "fr_siren", SIREN, "FR", customer.id),
        ("tax_id", "eu_vat", VAT_NUMBER, "FR", customer.id),
    ]
    expanded = client.v1.customers.retrieve(customer.id, params={"expand": ["tax_ids"]})
    assert [t.value for t in expanded.tax_ids.data] == [SIREN, VAT_NUMBER]

    moved = client.v1.customers.update(customer.id, params={"address": {**ADDRESS, "city": "Villeurbanne"}})
    assert moved.address.city == "Villeurbanne"
    added = client.v1.customers.tax_ids.create(customer.id, params={"type": "eu_vat", "value": "DE123456789"})
    assert (added.country, added.verification.status) == ("DE", "pending")
    assert client.v1.customers.tax_ids.retrieve(customer.id, added.id).value == "DE123456789"


@pytest.mark.parametrize(
    ("type_", "value"),
    [("eu_vat", "FR1234"), ("eu_vat", "912345675"), ("eu_vat", "ZZ123456789"), ("fr_siren", "91234567")],
)
def test_a_malformed_tax_id_is_refused_as_stripe_refuses_it(client, type_, value):
    email = f"refus-{type_}-{value}@exemple.fr"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        new_customer(
            client, email=email, tax_id_data=[{"type": "fr_siren", "value": SIREN}, {"type": type_, "value": value}]
        )
    assert client.v1.customers.list(params={"email": email}).data == [], "a refused customer is not created"
    assert raised.value.code == "tax_id_invalid"
    assert raised.value.param == "tax_id_data[1][value]"
    assert raised.value.user_message == f"Invalid value for {type_}."
    customer = new_customer(client)
    with pytest.raises(stripe.InvalidRequestError) as direct:
        client.v1.customers.tax_ids.create(customer.id, params={"type": type_, "value": value})
    assert (direct.value.code, direct.value.param) == ("tax_id_invalid", "value")
    assert client.v1.customers.tax_ids.list(customer.id).data == []


def test_invoice_custom_fields_are_held_to_stripes_limits(client):
    customer = new_customer(client)

    def refused(fields: list[dict[str, str]]) -> stripe.InvalidRequestError:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.customers.update(customer.id, params={"invoice_settings": {"custom_fields": fields}})
        return raised.value

    five = [{"name": f"Champ {i}", "value": "x"} for i in range(5)]
    assert refused(five).param == "invoice_settings[custom_fields]"
    with pytest.raises(stripe.InvalidRequestError):
        new_customer(client, email="cinq-champs@exemple.fr", invoice_settings={"custom_fields": five})
    assert client.v1.customers.list(params={"email": "cinq-champs@exemple.fr"}).data == []
    assert refused([{"name": "n" * 41, "value": "x"}]).param == "invoice_settings[custom_fields][0][name]"
    assert refused([{"name": "n", "value": "v" * 141}]).param == "invoice_settings[custom_fields][0][value]"
    fitting = [{"name": "n" * 40, "value": "v" * 140}] * 4
    updated = client.v1.customers.update(customer.id, params={"invoice_settings": {"custom_fields": fitting}})
    assert len(updated.invoice_settings.custom_fields) == 4
    cleared = client.v1.customers.update(customer.id, params={"invoice_settings": {"custom_fields": ""}})
    assert cleared.invoice_settings.custom_fields is None


# --- the invoices -----------------------------------------------------------------------------
def test_a_checkout_invoice_shows_the_customer_and_its_own_invoice_data(client, catalog):
    customer = _french_customer(client)
    fields = [{"name": "Devis", "value": "D-2027-17"}, {"name": "Commande", "value": "Salle, 2 jours"}]
    footer = "Pénalités de retard : trois fois le taux d’intérêt légal."
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "customer": customer.id,
            "line_items": [catalog.line(catalog.meeting_room, 2)],
            "invoice_creation": {"enabled": True, "invoice_data": {"custom_fields": fields, "footer": footer}},
            "success_url": "https://propale.example/merci",
            "locale": "fr",
        }
    )
    invoice = client.v1.invoices.retrieve(complete(client, session.id, card_number="4242424242424242").invoice)
    assert invoice.customer_address.to_dict() == {**ADDRESS, "state": None}
    assert [t.to_dict() for t in invoice.customer_tax_ids] == [
        {"type": "eu_vat", "value": VAT_NUMBER},
        {"type": "fr_siren", "value": SIREN},
    ]
    # Checkout's invoice_data comes before the customer's defaults.
    assert [f.to_dict() for f in invoice.custom_fields] == fields
    assert invoice.footer == footer
    text = _pdf_text(invoice.invoice_pdf)
    _assert_mentions(text, fields, footer)
    assert "BC-2027-042" not in text


def test_a_renewal_invoice_takes_the_customers_invoice_settings(client, catalog):
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": JAN_31})
    customer = _french_customer(client, test_clock=clock.id)
    sub = client.v1.subscriptions.retrieve(
        complete(
            client, subscription_session(client, catalog, customer).id, card_number="4242424242424242"
        ).subscription
    )
    advance(client, clock.id, FEB_28 + 2 * HOUR)
    renewal = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]}).latest_invoice
    assert (renewal.billing_reason, renewal.status) == ("subscription_cycle", "paid")
    assert [f.to_dict() for f in renewal.custom_fields] == CUSTOMER_FIELDS
    assert renewal.footer == CUSTOMER_FOOTER
    assert [t.value for t in renewal.customer_tax_ids] == [VAT_NUMBER, SIREN]
    _assert_mentions(_pdf_text(renewal.invoice_pdf), CUSTOMER_FIELDS, CUSTOMER_FOOTER)
