"""Checkout on the Stripe stand-in: sessions, and the event sequence of every payment path."""

from __future__ import annotations

import time

import pytest
import stripe

from support.polling import wait_for
from support.stripe_sandbox import (
    complete,
    events_since,
    in_order,
    latest_event_id,
    new_customer,
    payment_session,
    subscription_session,
    types_for,
)


def test_subscription_session_totals_line_items_and_url(client, catalog):
    customer = new_customer(client)
    session = subscription_session(
        client, catalog, customer, line_items=[catalog.line(catalog.desk, 2), catalog.line(catalog.setup_fee)]
    )
    assert session.id.startswith("cs_test_")
    assert (session.object, session.status, session.payment_status, session.mode) == (
        "checkout.session",
        "open",
        "unpaid",
        "subscription",
    )
    assert session.amount_subtotal == 2 * 30000 + 5000
    assert session.total_details.amount_tax == 13000
    assert session.amount_total == 78000
    assert session.url.endswith(f"/c/pay/{session.id}")
    assert session.customer == customer.id and session.locale == "fr"
    assert session.livemode is False and session.metadata.to_dict() == {"deal_id": "4242"}
    assert "line_items" not in session  # includable: only when expanded

    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items", "customer"]})
    assert expanded.customer.email == customer.email
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [i.description for i in items.data] == ["Bureau nomade", "Frais de mise en service"]
    assert [i.quantity for i in expanded.line_items.data] == [2, 1]
    desk = items.data[0]
    assert (desk.amount_subtotal, desk.amount_tax, desk.amount_total) == (60000, 12000, 72000)
    assert desk.price.recurring.interval == "month"
    assert desk.taxes[0].rate.id == catalog.vat.id


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"expires_at": int(time.time()) + 10 * 60}, "expires_at"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at"),
        ({"mode": "payment"}, "line_items"),
        ({"customer_email": "x@exemple.fr"}, "customer"),
        ({"payment_method_types": ["card"]}, "payment_method_types"),  # gone since 2026-09-30.endive
        ({"allowed_payment_method_types": ["ideal"]}, None),  # not turned on for the account: none left
        ({"line_items": [{"price": "price_missing", "quantity": 1}]}, "line_items[0][price]"),
        (
            {"line_items": [{"price_data": {"currency": "eur", "unit_amount": 100, "product_data": {"name": "x"}}}]},
            "line_items[0][quantity]",
        ),
    ],
)
def test_invalid_sessions_are_refused_with_the_offending_param(client, catalog, change, param):
    customer = new_customer(client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        subscription_session(client, catalog, customer, **change)
    assert raised.value.http_status in (400, 404)
    assert raised.value.param == param


def test_subscription_mode_needs_a_recurring_price(client, catalog):
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        subscription_session(client, catalog, new_customer(client), line_items=[catalog.line(catalog.setup_fee)])


def test_expires_at_within_the_allowed_window_is_kept(client, catalog):
    expires_at = int(time.time()) + 3600
    session = subscription_session(client, catalog, new_customer(client), expires_at=expires_at)
    assert session.expires_at == expires_at


def test_card_subscription_emits_stripes_sequence(client, catalog):
    customer = new_customer(client)
    session = subscription_session(client, catalog, customer, line_items=[catalog.line(catalog.desk)])
    marker = latest_event_id(client)

    completed = complete(client, session.id, card_number="4242 4242 4242 4242", name="Camille Martin")

    assert (completed.status, completed.payment_status) == ("complete", "paid")
    types = types_for(client, marker, customer.id)
    assert in_order(
        types,
        [
            "payment_method.attached",
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "payment_intent.succeeded",
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated",
            "checkout.session.completed",
        ],
    ), types
    assert "charge.succeeded" in types
    sub = client.v1.subscriptions.retrieve(completed.subscription, params={"expand": ["latest_invoice.payments"]})
    assert sub.status == "active" and sub.metadata.to_dict() == {"deal_id": "4242"}
    item = sub["items"].data[0]
    assert item.current_period_end > item.current_period_start
    invoice = sub.latest_invoice
    assert invoice.billing_reason == "subscription_create" and invoice.status == "paid"
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.parent.subscription_details.metadata.to_dict() == {"deal_id": "4242"}
    assert (invoice.subtotal, invoice.total, invoice.amount_paid, invoice.amount_remaining) == (30000, 36000, 36000, 0)
    assert invoice.total_taxes[0].amount == 6000
    assert invoice.number and invoice.hosted_invoice_url and invoice.invoice_pdf
    payment = invoice.payments.data[0]
    assert payment.status == "paid" and payment.amount_paid == 36000
    intent = client.v1.payment_intents.retrieve(payment.payment.payment_intent, params={"expand": ["latest_charge"]})
    assert intent.status == "succeeded" and intent.amount == 36000
    charge = intent.latest_charge
    assert charge.payment_method_details.type == "card"
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.receipt_url
    updated = next(
        e
        for e in events_since(client, marker)
        if e.type == "customer.subscription.updated" and belongs_to_sub(e, sub.id)
    )
    assert updated.data.previous_attributes["status"] == "incomplete"
    assert updated.data.object["status"] == "active"


def belongs_to_sub(event, sub_id):
    return event.data.object.id == sub_id


def test_mixed_subscription_puts_one_off_lines_on_the_first_invoice_only(client, catalog):
    customer = new_customer(client)
    session = subscription_session(
        client, catalog, customer, line_items=[catalog.line(catalog.desk), catalog.line(catalog.setup_fee)]
    )
    completed = complete(client, session.id, card_number="4242424242424242")
    invoice = client.v1.invoices.retrieve(completed.invoice)
    kinds = [line.parent.type for line in invoice.lines.data]
    assert kinds == ["invoice_item_details", "subscription_item_details"]
    assert invoice.total == (30000 + 5000) * 12 // 10 == completed.amount_total
    sub = client.v1.subscriptions.retrieve(completed.subscription)
    assert [i.price.id for i in sub["items"].data] == [catalog.desk.id]


def test_card_payment_with_invoice_creation(client, catalog):
    session = payment_session(client, catalog, None, customer_email="acheteur@exemple.fr")
    marker = latest_event_id(client)

    completed = complete(client, session.id, card_number="4242424242424242", name="Alex Dupont")

    assert (completed.status, completed.payment_status) == ("complete", "paid")
    assert completed.customer and completed.customer_details.email == "acheteur@exemple.fr"
    types = types_for(client, marker, completed.customer)
    assert in_order(
        types,
        [
            "customer.created",
            "payment_intent.succeeded",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "checkout.session.completed",
        ],
    ), types
    invoice = client.v1.invoices.retrieve(completed.invoice)
    assert (invoice.status, invoice.billing_reason, invoice.parent) == ("paid", "manual", None)
    assert invoice.total == 2 * 12000 * 12 // 10 == completed.amount_total
    assert invoice.metadata.to_dict() == {"deal_id": "77"}
    listed = client.v1.checkout.sessions.list(params={"payment_intent": completed.payment_intent})
    assert [s.id for s in listed.data] == [session.id]


def test_declined_card_leaves_the_session_open_until_a_good_card(client, catalog):
    customer = new_customer(client)
    session = subscription_session(client, catalog, customer)
    marker = latest_event_id(client)

    with pytest.raises(stripe.CardError) as raised:
        complete(client, session.id, card_number="4000000000000002")

    assert raised.value.http_status == 402
    assert raised.value.code == "card_declined"
    assert raised.value.error.decline_code == "generic_decline"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert "checkout.session.completed" not in types_for(client, marker, customer.id)

    completed = complete(client, session.id, card_number="4242424242424242")
    assert completed.payment_status == "paid"
    assert types_for(client, marker, customer.id).count("checkout.session.completed") == 1


def test_a_completed_session_cannot_be_paid_twice(client, catalog):
    session = subscription_session(client, catalog, new_customer(client))
    complete(client, session.id, card_number="4242424242424242")
    with pytest.raises(stripe.InvalidRequestError, match="complete"):
        complete(client, session.id, card_number="4242424242424242")


def test_sepa_subscription_completes_unpaid_then_succeeds(client, catalog, fast_sepa):
    customer = new_customer(client)
    session = subscription_session(client, catalog, customer)
    marker = latest_event_id(client)

    completed = complete(client, session.id, iban="DE89370400440532013000", name="Camille Martin")

    assert (completed.status, completed.payment_status) == ("complete", "unpaid")
    assert "checkout.session.async_payment_succeeded" not in types_for(client, marker, customer.id)
    wait_for(lambda: "checkout.session.async_payment_succeeded" in types_for(client, marker, customer.id))
    types = types_for(client, marker, customer.id)
    assert in_order(
        types,
        ["payment_intent.processing", "checkout.session.completed", "payment_intent.succeeded", "invoice.paid",
         "checkout.session.async_payment_succeeded"],
    ), types  # fmt: skip
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    invoice = client.v1.invoices.retrieve(completed.invoice, params={"expand": ["payments"]})
    assert invoice.status == "paid"
    charge = client.v1.charges.list(params={"payment_intent": invoice.payments.data[0].payment.payment_intent}).data[0]
    assert charge.id.startswith("py_")
    assert charge.payment_method_details.type == "sepa_debit"
    assert charge.payment_method_details.sepa_debit.last4 == "3000"


def test_sepa_failing_iban_fails_asynchronously(client, catalog, fast_sepa):
    customer = new_customer(client)
    session = subscription_session(client, catalog, customer)
    marker = latest_event_id(client)

    completed = complete(client, session.id, iban="FR8420041010050500013M02607", name="Camille Martin")

    assert completed.payment_status == "unpaid"
    wait_for(lambda: "checkout.session.async_payment_failed" in types_for(client, marker, customer.id))
    types = types_for(client, marker, customer.id)
    assert in_order(
        types,
        [
            "checkout.session.completed",
            "payment_intent.payment_failed",
            "invoice.payment_failed",
            "checkout.session.async_payment_failed",
        ],
    ), types
    assert "checkout.session.async_payment_succeeded" not in types
    assert client.v1.invoices.retrieve(completed.invoice).status == "open"
    assert client.v1.subscriptions.retrieve(completed.subscription).status == "past_due"
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"


def test_sepa_one_off_payment_issues_its_invoice_once_paid(client, catalog, fast_sepa):
    customer = new_customer(client)
    session = payment_session(client, catalog, customer)
    completed = complete(client, session.id, iban="FR1420041010050500013M02606", name="Camille Martin")
    assert completed.payment_status == "unpaid" and completed.invoice is None
    paid = wait_for(lambda: (s := client.v1.checkout.sessions.retrieve(session.id)).payment_status == "paid" and s)
    assert client.v1.invoices.retrieve(paid.invoice).status == "paid"


def test_invalid_iban_is_refused(client, catalog):
    session = subscription_session(client, catalog, new_customer(client))
    with pytest.raises(stripe.InvalidRequestError) as raised:
        complete(client, session.id, iban="FR7630006000011234567890188")
    assert raised.value.param == "iban"


def test_expire_only_open_sessions_and_emit_expired(client, catalog):
    customer = new_customer(client)
    session = subscription_session(client, catalog, customer)
    marker = latest_event_id(client)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    assert types_for(client, marker, customer.id) == ["checkout.session.expired"]
    with pytest.raises(stripe.InvalidRequestError, match="expired"):
        client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(stripe.InvalidRequestError):
        complete(client, session.id, card_number="4242424242424242")


def test_sessions_list_filters(client, catalog):
    customer = new_customer(client)
    first = subscription_session(client, catalog, customer)
    second = subscription_session(client, catalog, customer)
    complete(client, second.id, card_number="4242424242424242")
    listed = client.v1.checkout.sessions.list(params={"customer": customer.id})
    assert [s.id for s in listed.data] == [second.id, first.id]
    assert [
        s.id for s in client.v1.checkout.sessions.list(params={"customer": customer.id, "status": "open"}).data
    ] == [first.id]
    sub = client.v1.checkout.sessions.retrieve(second.id).subscription
    assert [s.id for s in client.v1.checkout.sessions.list(params={"subscription": sub}).data] == [second.id]


def test_checkout_creates_the_customer_when_given_only_an_email(client, catalog):
    email = f"nouveau-{time.time_ns()}@exemple.fr"
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer_email": email,
            "line_items": [catalog.line(catalog.desk)],
            "success_url": "https://propale.example/merci",
        }
    )
    # No allowed_payment_method_types: what the account has turned on for euros.
    assert session.customer is None and session.payment_method_types == ["card", "sepa_debit"]
    marker = latest_event_id(client)
    completed = complete(client, session.id, card_number="4242424242424242", name="Dominique Leroy")
    customer = client.v1.customers.retrieve(completed.customer)
    assert (customer.email, customer.name) == (email, "Dominique Leroy")
    types = types_for(client, marker, customer.id)
    assert types[:3] == ["customer.created", "payment_method.attached", "customer.subscription.created"], types
    assert types[-1] == "checkout.session.completed"
    with pytest.raises(stripe.InvalidRequestError):
        complete(
            client,
            subscription_session(client, catalog, customer).id,
            iban="DE89370400440532013000",
            card_number="4242424242424242",
        )


def test_subscription_items_and_deleting_the_customer_cancels_the_subscription(client, catalog):
    customer = new_customer(client)
    completed = complete(client, subscription_session(client, catalog, customer).id, card_number="4242424242424242")
    items = client.v1.subscription_items.list(params={"subscription": completed.subscription})
    assert [i.price.id for i in items.data] == [catalog.desk.id]
    assert client.v1.subscription_items.retrieve(items.data[0].id).subscription == completed.subscription
    marker = latest_event_id(client)
    client.v1.customers.delete(customer.id)
    assert client.v1.subscriptions.retrieve(completed.subscription).status == "canceled"
    assert types_for(client, marker, customer.id) == ["customer.subscription.deleted", "customer.deleted"]
