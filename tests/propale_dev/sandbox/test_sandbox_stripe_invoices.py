"""Invoices made by hand through the API (billing_reason manual), their statuses and numbering."""

from __future__ import annotations

import pytest
import stripe

from support.stripe_sandbox import new_customer


def _draft(client, catalog, customer, **params):
    invoice = client.v1.invoices.create(params={"customer": customer.id, "currency": "eur", **params})
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": invoice.id, "pricing": {"price": catalog.meeting_room.id},
                "quantity": 3, "tax_rates": [catalog.vat.id]}
    )  # fmt: skip
    return client.v1.invoices.retrieve(invoice.id)


def test_draft_finalize_and_pay_out_of_band(client, catalog):
    customer = new_customer(client)
    draft = _draft(client, catalog, customer, collection_method="send_invoice", days_until_due=30)
    assert (draft.status, draft.number, draft.hosted_invoice_url, draft.invoice_pdf) == ("draft", None, None, None)
    assert (draft.billing_reason, draft.subtotal, draft.total) == ("manual", 36000, 43200)
    assert draft.lines.data[0].parent.type == "invoice_item_details"

    opened = client.v1.invoices.finalize_invoice(draft.id)
    assert (
        opened.status == "open"
        and opened.number
        and opened.due_date == opened.status_transitions.finalized_at + 30 * 86400
    )
    assert opened.amount_remaining == 43200
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.finalize_invoice(draft.id)

    paid = client.v1.invoices.pay(draft.id, params={"paid_out_of_band": True})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 43200, 0)
    assert paid.status_transitions.paid_at is not None


def test_numbers_are_sequential_for_the_account(client, catalog):
    numbers = []
    for _ in range(3):
        draft = _draft(client, catalog, new_customer(client))
        numbers.append(client.v1.invoices.finalize_invoice(draft.id).number)
    prefixes = {n.rsplit("-", 1)[0] for n in numbers}
    sequence = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert len(prefixes) == 1 and sequence == list(range(sequence[0], sequence[0] + 3))


def test_charging_the_default_payment_method_and_declines(client, catalog):
    customer = new_customer(client)
    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": good.id}})
    paid = client.v1.invoices.pay(_draft(client, catalog, customer).id)
    assert paid.status == "paid"

    other = new_customer(client)
    with pytest.raises(stripe.InvalidRequestError, match="no attached payment source"):
        client.v1.invoices.pay(_draft(client, catalog, other).id)
    bad = client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": other.id})
    invoice = _draft(client, catalog, other)
    with pytest.raises(stripe.CardError) as raised:
        client.v1.invoices.pay(invoice.id, params={"payment_method": bad.id})
    assert raised.value.error.decline_code == "generic_decline"
    assert client.v1.invoices.retrieve(invoice.id).status == "open"


def test_void_uncollectible_and_list_filters(client, catalog):
    customer = new_customer(client)
    to_void = client.v1.invoices.finalize_invoice(_draft(client, catalog, customer).id)
    to_write_off = client.v1.invoices.finalize_invoice(_draft(client, catalog, customer).id)
    assert client.v1.invoices.void_invoice(to_void.id).status == "void"
    assert client.v1.invoices.mark_uncollectible(to_write_off.id).status == "uncollectible"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(to_void.id)
    assert [i.id for i in client.v1.invoices.list(params={"customer": customer.id, "status": "void"}).data] == [
        to_void.id
    ]
    assert [i.id for i in client.v1.invoices.list(params={"customer": customer.id}).data] == [
        to_write_off.id,
        to_void.id,
    ]
    lines = client.v1.invoices.line_items.list(to_void.id)
    assert lines.data[0].quantity == 3 and lines.data[0].taxes[0].amount == 7200
