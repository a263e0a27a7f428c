"""Hosted pages of the Stripe stand-in: Checkout (filled like a browser would), invoice PDF, receipts."""

from __future__ import annotations

import io
import re

import httpx
import pypdf
import pytest

from support.polling import wait_for
from support.stripe_sandbox import card_form, complete, new_customer, payment_session, subscription_session


def test_checkout_page_is_french_with_stripes_field_ids(client, catalog):
    session = subscription_session(
        client, catalog, new_customer(client), line_items=[catalog.line(catalog.desk), catalog.line(catalog.setup_fee)]
    )
    page = httpx.get(session.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for field_id in ("cardNumber", "cardExpiry", "cardCvc", "billingName", "iban"):
        assert re.search(rf'<input[^>]*id="{field_id}"', html), field_id
    assert 'lang="fr"' in html and "Prélèvement SEPA" in html and "Carte bancaire" in html
    assert "vous autorisez" in html  # the SEPA mandate
    assert "Bureau nomade" in html and "Frais de mise en service" in html
    assert "420,00\u00a0€" in html  # total with VAT, French format
    assert 'href="https://propale.example/p/abc"' in html
    assert 'id="email"' not in html  # the customer's email is known


def test_paying_on_the_page_redirects_to_success_url(client, catalog):
    session = subscription_session(client, catalog, new_customer(client))
    response = httpx.post(session.url, data=card_form("4242 4242 4242 4242"))
    assert response.status_code == 303
    assert response.headers["location"] == f"https://propale.example/merci?session={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details.name == "Camille Martin"
    again = httpx.get(session.url)
    assert "déjà été effectué" in again.text


def test_a_declined_card_is_shown_in_french_and_can_be_retried(client, catalog):
    session = payment_session(client, catalog, None)
    form = card_form("4000000000000002", email="acheteur@exemple.fr")
    declined = httpx.post(session.url, data=form)
    assert declined.status_code == 402
    assert "Votre carte a été refusée." in declined.text
    assert 'value="acheteur@exemple.fr"' in declined.text  # what was typed is kept
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    insufficient = httpx.post(session.url, data={**form, "cardNumber": "4000000000009995"})
    assert "Les fonds de votre carte sont insuffisants." in insufficient.text
    expired = httpx.post(session.url, data={**form, "cardNumber": "4242424242424242", "cardExpiry": "01 / 20"})
    assert "expiration" in expired.text and expired.status_code == 402
    ok = httpx.post(session.url, data={**form, "cardNumber": "4242424242424242"})
    assert ok.status_code == 303
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_email_is_asked_when_unknown(client, catalog):
    session = payment_session(client, catalog, None)
    page = httpx.get(session.url)
    assert re.search(r'<input[^>]*id="email"', page.text)
    missing = httpx.post(session.url, data=card_form("4242424242424242"))
    assert missing.status_code == 402 and "adresse e-mail" in missing.text


def test_sepa_on_the_page(client, catalog, fast_sepa):
    session = subscription_session(client, catalog, new_customer(client))
    response = httpx.post(
        session.url,
        data={
            "payment_method": "sepa_debit",
            "iban": "FR14 2004 1010 0505 0001 3M02 606",
            "billingName": "Camille Martin",
        },
    )
    assert response.status_code == 303
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"
    wait_for(lambda: client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid")
    bad = subscription_session(client, catalog, new_customer(client))
    refused = httpx.post(
        bad.url, data={"payment_method": "sepa_debit", "iban": "FR00 1234", "billingName": "Camille Martin"}
    )
    assert "Le code IBAN saisi est incorrect." in refused.text


def test_expired_and_unknown_sessions_get_a_clear_page(client, catalog):
    session = subscription_session(client, catalog, new_customer(client))
    url = session.url
    client.v1.checkout.sessions.expire(session.id)
    page = httpx.get(url)
    assert page.status_code == 410 and "Session expirée" in page.text
    assert httpx.post(url, data=card_form("4242424242424242")).status_code == 410
    assert httpx.get(url.replace(session.id, "cs_test_unknown")).status_code == 404


def test_invoice_pdf_is_a_real_pdf_with_number_and_amounts(client, catalog):
    customer = new_customer(client, name="Société Exemple SAS")
    session = subscription_session(
        client, catalog, customer, line_items=[catalog.line(catalog.desk), catalog.line(catalog.setup_fee)]
    )
    completed = complete(client, session.id, card_number="4242424242424242")
    invoice = client.v1.invoices.retrieve(completed.invoice)
    # The first PDF a stand-in renders loads the fonts: seconds on a busy machine.
    response = httpx.get(invoice.invoice_pdf, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    text = text.replace("\u202f", " ").replace("\u00a0", " ")
    assert invoice.number in text
    assert "Facture" in text and "Société Exemple SAS" in text
    for amount in ("300,00 €", "50,00 €", "350,00 €", "70,00 €", "420,00 €"):
        assert amount in text, amount
    assert "Payée" in text
    hosted = httpx.get(invoice.hosted_invoice_url)
    assert hosted.status_code == 200 and invoice.number in hosted.text and invoice.invoice_pdf in hosted.text


def test_receipt_page_and_pdf(client, catalog):
    session = payment_session(client, catalog, new_customer(client))
    completed = complete(client, session.id, card_number="5555555555554444")
    intent = client.v1.payment_intents.retrieve(completed.payment_intent, params={"expand": ["latest_charge"]})
    charge = intent.latest_charge
    assert charge.payment_method_details.card.brand == "mastercard"
    page = httpx.get(charge.receipt_url)
    assert page.status_code == 200
    assert "Reçu" in page.text and "288,00" in page.text and "4444" in page.text
    invoice = client.v1.invoices.retrieve(completed.invoice)
    assert invoice.number in page.text
    pdf_url = re.search(r'id="download-pdf" href="([^"]+)"', page.text).group(1)
    pdf = httpx.get(pdf_url, timeout=60)
    assert pdf.content.startswith(b"%PDF-")
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "288,00" in text


@pytest.mark.parametrize("locale", [None, "en"])
def test_page_is_english_without_french_locale(client, catalog, locale):
    session = subscription_session(client, catalog, new_customer(client), locale=locale)
    page = httpx.get(session.url)
    assert "Card number" in page.text and "SEPA Direct Debit" in page.text
