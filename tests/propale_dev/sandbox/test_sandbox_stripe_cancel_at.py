"""A subscription set to end at `cancel_at` on the Stripe stand-in: renewals until then, none after,
and `customer.subscription.deleted` at that moment, in test clock time or in wall time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import stripe

from support.polling import wait_for
from support.stripe_sandbox import (
    FEB_28,
    JAN_31,
    MAR_31,
    advance,
    complete,
    events_since,
    latest_event_id,
    new_customer,
    subscribed_on_clock,
    subscription_session,
)

# Three months after a subscription started on 31 January 2027 (April has 30 days).
APR_30 = int(datetime(2027, 4, 30, 10, 0, tzinfo=UTC).timestamp())


def test_a_subscription_ends_at_cancel_at_after_the_renewals_before_it(client, catalog):
    clock, customer, sub = subscribed_on_clock(client, catalog)
    updated = client.v1.subscriptions.update(sub.id, params={"cancel_at": APR_30, "proration_behavior": "none"})
    assert (updated.cancel_at, updated.cancel_at_period_end, updated.status) == (APR_30, False, "active")
    assert updated.cancellation_details.reason == "cancellation_requested"
    marker = latest_event_id(client)

    advance(client, clock.id, APR_30 + 20 * 86400)

    ended = client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert (ended.canceled_at, ended.ended_at, ended.cancellation_details.reason) == (
        APR_30,
        APR_30,
        "cancellation_requested",
    )
    invoices = client.v1.invoices.list(params={"customer": customer.id, "limit": 100}).data
    renewals = sorted(i.created for i in invoices if i.billing_reason == "subscription_cycle")
    assert renewals == [FEB_28, MAR_31]
    assert all(i.created < APR_30 for i in invoices)
    mine = [e for e in events_since(client, marker) if e.data.object.to_dict().get("customer") == customer.id]
    deleted = [e for e in mine if e.type == "customer.subscription.deleted"]
    assert len(deleted) == 1 and deleted[0].created == APR_30
    assert deleted[0].data.object.status == "canceled" and deleted[0].data.object.ended_at == APR_30
    assert mine[-1].type == "customer.subscription.deleted"


def test_cancel_at_takes_the_forms_the_client_allows(client, catalog):
    clock, _customer, sub = subscribed_on_clock(client, catalog)
    at_period_end = client.v1.subscriptions.update(sub.id, params={"cancel_at": "min_period_end"})
    assert (at_period_end.cancel_at, at_period_end.cancel_at_period_end) == (FEB_28, False)
    unset = client.v1.subscriptions.update(sub.id, params={"cancel_at": ""})
    assert (unset.cancel_at, unset.cancellation_details.reason) == (None, None)
    with pytest.raises(stripe.InvalidRequestError) as past:
        client.v1.subscriptions.update(sub.id, params={"cancel_at": JAN_31 - 60})
    assert past.value.param == "cancel_at"
    with pytest.raises(stripe.InvalidRequestError) as both:
        client.v1.subscriptions.update(sub.id, params={"cancel_at": APR_30, "cancel_at_period_end": True})
    assert both.value.param == "cancel_at"

    advance(client, clock.id, MAR_31 + 86400)  # nothing set: it renews as usual
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_subscription_without_a_clock_ends_at_cancel_at_in_wall_time(client, catalog):
    customer = new_customer(client)
    completed = complete(client, subscription_session(client, catalog, customer).id, card_number="4242424242424242")
    cancel_at = int(time.time()) + 2
    client.v1.subscriptions.update(completed.subscription, params={"cancel_at": cancel_at})
    ended = wait_for(
        lambda: (s := client.v1.subscriptions.retrieve(completed.subscription)).status == "canceled" and s, timeout=15
    )
    assert (ended.canceled_at, ended.ended_at) == (cancel_at, cancel_at)
