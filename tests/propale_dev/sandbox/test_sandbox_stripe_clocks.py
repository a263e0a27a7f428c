"""Test clocks on the Stripe stand-in: renewals, failed renewals, expiry, cancellation in clock time."""

from __future__ import annotations

import pytest
import stripe

from support.stripe_sandbox import (
    FEB_28,
    HOUR,
    JAN_31,
    MAR_31,
    advance,
    events_since,
    in_order,
    latest_event_id,
    new_customer,
    subscribed_on_clock,
    subscription_session,
    types_for,
)


def test_clock_lifecycle(client):
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": JAN_31, "name": "Essai"})
    assert clock.id.startswith("clock_") and clock.object == "test_helpers.test_clock"
    assert (clock.status, clock.frozen_time, clock.name) == ("ready", JAN_31, "Essai")
    marker = latest_event_id(client)
    ready = advance(client, clock.id, JAN_31 + 5 * 86400)
    assert ready.frozen_time == JAN_31 + 5 * 86400
    types = [e.type for e in events_since(client, marker) if e.data.object.id == clock.id]
    assert types == ["test_helpers.test_clock.advancing", "test_helpers.test_clock.ready"]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": JAN_31})
    assert raised.value.param == "frozen_time"
    assert clock.id in [c.id for c in client.v1.test_helpers.test_clocks.list(params={"limit": 100}).data]
    assert client.v1.test_helpers.test_clocks.delete(clock.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.retrieve(clock.id)


def test_objects_of_a_clock_customer_live_in_clock_time(client, catalog):
    clock, customer, sub = subscribed_on_clock(client, catalog)
    assert customer.created == JAN_31 and customer.test_clock == clock.id
    assert sub.created == JAN_31 and sub.test_clock == clock.id
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (JAN_31, FEB_28)
    assert client.v1.invoices.retrieve(sub.latest_invoice).created == JAN_31


def test_advancing_past_the_period_end_renews_and_charges(client, catalog):
    clock, customer, sub = subscribed_on_clock(client, catalog)
    first_invoice = client.v1.invoices.retrieve(sub.latest_invoice)
    marker = latest_event_id(client)

    advance(client, clock.id, FEB_28 + 2 * HOUR)

    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    item = renewed["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (FEB_28, MAR_31)  # back on the 31st
    invoice = renewed.latest_invoice
    assert invoice.id != first_invoice.id
    assert (invoice.billing_reason, invoice.status, invoice.total) == ("subscription_cycle", "paid", 36000)
    assert invoice.created == FEB_28 and invoice.status_transitions.finalized_at == FEB_28 + HOUR
    assert (invoice.period_start, invoice.period_end) == (JAN_31, FEB_28)
    assert (invoice.lines.data[0].period.start, invoice.lines.data[0].period.end) == (FEB_28, MAR_31)
    assert int(invoice.number.split("-")[-1]) > int(first_invoice.number.split("-")[-1])
    events = [e for e in events_since(client, marker) if e.data.object.to_dict().get("customer") == customer.id]
    types = [e.type for e in events]
    assert in_order(
        types,
        [
            "customer.subscription.updated",
            "invoice.created",
            "invoice.finalized",
            "payment_intent.succeeded",
            "invoice.paid",
            "invoice.payment_succeeded",
        ],
    ), types
    assert next(e for e in events if e.type == "invoice.paid").created == FEB_28 + HOUR
    assert renewed.status == "active"


def test_the_renewal_invoice_waits_an_hour_as_a_draft(client, catalog):
    clock, _, sub = subscribed_on_clock(client, catalog)
    advance(client, clock.id, FEB_28 + 60)
    draft = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert (draft.status, draft.number, draft.automatically_finalizes_at) == ("draft", None, FEB_28 + HOUR)
    advance(client, clock.id, FEB_28 + 2 * HOUR)
    assert client.v1.invoices.retrieve(draft.id).status == "paid"


def test_a_failing_card_makes_the_renewal_fail_and_the_subscription_past_due(client, catalog):
    clock, customer, sub = subscribed_on_clock(client, catalog)
    failing = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})
    client.v1.subscriptions.update(sub.id, params={"default_payment_method": failing.id})
    marker = latest_event_id(client)

    advance(client, clock.id, FEB_28 + 2 * HOUR)

    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert renewed.status == "past_due"
    invoice = renewed.latest_invoice
    assert (invoice.status, invoice.attempt_count, invoice.amount_remaining) == ("open", 1, 36000)
    assert invoice.next_payment_attempt is not None
    types = types_for(client, marker, customer.id)
    assert in_order(
        types,
        [
            "invoice.finalized",
            "payment_intent.payment_failed",
            "invoice.payment_failed",
            "customer.subscription.updated",
        ],
    ), types
    assert "invoice.paid" not in types


def test_an_open_session_expires_when_the_clock_passes_expires_at(client, catalog):
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": JAN_31})
    customer = new_customer(client, test_clock=clock.id)
    session = subscription_session(client, catalog, customer)
    assert session.expires_at == JAN_31 + 24 * HOUR
    marker = latest_event_id(client)
    advance(client, clock.id, JAN_31 + 25 * HOUR)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    expired = [
        e
        for e in events_since(client, marker)
        if e.type == "checkout.session.expired" and e.data.object.id == session.id
    ]
    assert len(expired) == 1 and expired[0].created == session.expires_at


def test_cancel_now_and_at_period_end(client, catalog):
    clock, customer, sub = subscribed_on_clock(client, catalog)
    marker = latest_event_id(client)
    scheduled = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert scheduled.cancel_at_period_end is True and scheduled.cancel_at == FEB_28
    advance(client, clock.id, FEB_28 + 2 * HOUR)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", FEB_28)
    assert types_for(client, marker, customer.id)[-1] == "customer.subscription.deleted"
    assert client.v1.invoices.list(params={"subscription": sub.id}).data[0].billing_reason == "subscription_create"

    _, _, other = subscribed_on_clock(client, catalog)
    canceled = client.v1.subscriptions.cancel(other.id, params={"cancellation_details": {"comment": "Départ"}})
    assert (canceled.status, canceled.canceled_at, canceled.cancellation_details.comment) == (
        "canceled",
        JAN_31,
        "Départ",
    )
    assert other.id not in [s.id for s in client.v1.subscriptions.list(params={"customer": other.customer}).data]
    assert other.id in [
        s.id for s in client.v1.subscriptions.list(params={"customer": other.customer, "status": "canceled"}).data
    ]
