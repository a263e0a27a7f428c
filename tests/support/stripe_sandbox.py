"""Helpers for tests that talk to the Stripe stand-in (its fixtures `client`, `catalog`,
`stripe_faults`, `fast_sepa` are in the conftest.py files).

Everything goes through the official `stripe` library (`StripeClient` with `base_addresses`), as
Propale talks to Stripe; only the hosted pages and the admin API are reached with httpx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import stripe

from propale_dev.sandbox.config import SandboxConfig
from support.polling import wait_for


def make_client(config: SandboxConfig, **options: Any) -> stripe.StripeClient:
    return stripe.StripeClient(config.stripe_secret_key, base_addresses={"api": config.stripe_url}, **options)


def complete(client: stripe.StripeClient, session_id: str, **fields: str) -> dict[str, Any]:
    """The SPEC's Checkout test helper (not in the library: a raw request)."""
    response = client.raw_request("post", f"/v1/test_helpers/checkout/sessions/{session_id}/complete", **fields)
    return client.deserialize(response, api_mode="V1")


class Catalog:
    """The coworking catalogue Propale sells: a monthly desk, a setup fee, French VAT on top."""

    def __init__(self, client: stripe.StripeClient):
        self.client = client
        self.vat = client.v1.tax_rates.create(
            params={
                "display_name": "TVA",
                "percentage": 20.0,
                "inclusive": False,
                "country": "FR",
                "jurisdiction": "FR",
            }
        )
        self.desk = client.v1.prices.create(
            params={
                "currency": "eur",
                "unit_amount": 30000,
                "recurring": {"interval": "month"},
                "product_data": {"name": "Bureau nomade"},
            }
        )
        self.setup_fee = client.v1.prices.create(
            params={"currency": "eur", "unit_amount": 5000, "product_data": {"name": "Frais de mise en service"}}
        )
        self.meeting_room = client.v1.prices.create(
            params={"currency": "eur", "unit_amount": 12000, "product_data": {"name": "Salle de réunion (journée)"}}
        )

    def line(self, price: stripe.Price, quantity: int = 1) -> dict[str, Any]:
        return {"price": price.id, "quantity": quantity, "tax_rates": [self.vat.id]}


def new_customer(client: stripe.StripeClient, **fields: Any) -> stripe.Customer:
    params = {"email": f"client-{time.time_ns()}@exemple.fr", "name": "Camille Martin", **fields}
    return client.v1.customers.create(params=params)


def subscription_session(
    client: stripe.StripeClient, catalog: Catalog, customer: stripe.Customer, **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer.id,
        "line_items": [catalog.line(catalog.desk)],
        "allowed_payment_method_types": ["card", "sepa_debit"],
        "success_url": "https://propale.example/merci?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://propale.example/p/abc",
        "locale": "fr",
        "metadata": {"deal_id": "4242"},
        "subscription_data": {"metadata": {"deal_id": "4242"}},
        **extra,
    }
    return client.v1.checkout.sessions.create(params={k: v for k, v in params.items() if v is not None})


def payment_session(
    client: stripe.StripeClient, catalog: Catalog, customer: stripe.Customer | None, **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [catalog.line(catalog.meeting_room, 2)],
        "allowed_payment_method_types": ["card", "sepa_debit"],
        "invoice_creation": {"enabled": True, "invoice_data": {"metadata": {"deal_id": "77"}}},
        "success_url": "https://propale.example/merci?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://propale.example/p/abc",
        "locale": "fr",
        **extra,
    }
    if customer is not None:
        params["customer"] = customer.id
    return client.v1.checkout.sessions.create(params=params)


def latest_event_id(client: stripe.StripeClient) -> str | None:
    data = client.v1.events.list(params={"limit": 1}).data
    return data[0].id if data else None


def events_since(client: stripe.StripeClient, marker: str | None) -> list[stripe.Event]:
    """Every event newer than `marker`, oldest first (walks `ending_before` pages)."""
    if marker is None:
        return list(reversed(list(client.v1.events.list(params={"limit": 100}).auto_paging_iter())))
    found: list[stripe.Event] = []
    cursor = marker
    while True:
        page = client.v1.events.list(params={"limit": 100, "ending_before": cursor})
        found = list(page.data) + found
        if not page.has_more:
            return list(reversed(found))
        cursor = page.data[0].id


def belongs_to(event: stripe.Event, customer_id: str) -> bool:
    obj = event.data.object.to_dict()
    return obj.get("id") == customer_id or obj.get("customer") == customer_id


def types_for(client: stripe.StripeClient, marker: str | None, customer_id: str) -> list[str]:
    return [e.type for e in events_since(client, marker) if belongs_to(e, customer_id)]


def in_order(sequence: list[str], expected: list[str]) -> bool:
    """`expected` appears in `sequence` in this order (other events may sit between)."""
    it: Iterator[str] = iter(sequence)
    return all(any(item == wanted for item in it) for wanted in expected)


# --- test clocks -------------------------------------------------------------------------------

JAN_31 = int(datetime(2027, 1, 31, 10, 0, tzinfo=UTC).timestamp())
FEB_28 = int(datetime(2027, 2, 28, 10, 0, tzinfo=UTC).timestamp())
MAR_31 = int(datetime(2027, 3, 31, 10, 0, tzinfo=UTC).timestamp())
HOUR = 3600


def advance(client: stripe.StripeClient, clock_id: str, to: int) -> stripe.test_helpers.TestClock:
    clock = client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})
    assert clock.status == "advancing"
    return wait_for(lambda: (c := client.v1.test_helpers.test_clocks.retrieve(clock_id)).status == "ready" and c)


def subscribed_on_clock(client, catalog, card: str = "4242424242424242"):
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": JAN_31, "name": "Renouvellement"})
    customer = new_customer(client, test_clock=clock.id)
    session = subscription_session(client, catalog, customer)
    completed = complete(client, session.id, card_number=card)
    return clock, customer, client.v1.subscriptions.retrieve(completed.subscription)


# --- the hosted Checkout page, filled as a browser would ----------------------------------------

NEXT_YEAR = f"12 / {(datetime.now().year + 1) % 100:02d}"


def card_form(number: str, **extra: str) -> dict[str, str]:
    return {
        "payment_method": "card",
        "cardNumber": number,
        "cardExpiry": NEXT_YEAR,
        "cardCvc": "123",
        "billingName": "Camille Martin",
        **extra,
    }
