"""The Stripe stand-in's JSON matches the pinned `stripe` library's resource classes.

Each object type Propale reads is produced in realistic states through the official client and the
sandbox's documented paths (Checkout's `test_helpers` complete endpoint, test clocks), then fetched
raw over HTTP, as Stripe serves it at the pinned API version, and checked field by field against
the class the library would deserialise it into (see `stripe_shapes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stripe

from propale_dev.sandbox.process import SandboxProcess
from support.polling import wait_for
from support.stripe_sandbox import (
    FEB_28,
    HOUR,
    Catalog,
    advance,
    complete,
    events_since,
    latest_event_id,
    make_client,
    new_customer,
    payment_session,
    subscribed_on_clock,
    subscription_session,
)
from support.stripe_shapes import class_for, declared_fields, mismatches


@dataclass
class World:
    """One of each object Propale reads, in the states it meets them, and a raw HTTP reader."""

    client: stripe.StripeClient
    http: httpx.Client
    marker: str | None = None
    ids: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, *ids: str | None) -> None:
        self.ids.setdefault(kind, []).extend(i for i in ids if i)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, f"GET {path} {params}: {response.status_code} {response.text[:500]}"
        return response.json()


@pytest.fixture(scope="module")
def world(sandbox: SandboxProcess) -> World:
    config = sandbox.config
    client = make_client(config)
    http = httpx.Client(
        base_url=config.stripe_url,
        # The pinned client's version: objects are rendered in the shape its classes declare.
        headers={"Authorization": f"Bearer {config.stripe_secret_key}", "Stripe-Version": stripe.api_version},
        timeout=30,
    )
    httpx.patch(f"{config.stripe_url}/_sandbox/faults", json={"sepa_delay_s": 0.3}).raise_for_status()
    try:
        world = World(client, http, marker=latest_event_id(client))
        catalog = Catalog(client)
        world.add("product", catalog.desk.product, catalog.setup_fee.product)
        world.add("price", catalog.desk.id, catalog.setup_fee.id, catalog.meeting_room.id)
        world.add("tax_rate", catalog.vat.id)

        # A card subscription, paid on Checkout (a recurring and a one-off line).
        card_customer = new_customer(
            client, address={"line1": "3 rue de la Paix", "postal_code": "69001", "city": "Lyon", "country": "FR"}
        )
        card = subscription_session(
            client, catalog, card_customer, line_items=[catalog.line(catalog.desk, 2), catalog.line(catalog.setup_fee)]
        )
        card_done = complete(client, card.id, card_number="4242424242424242", name="Camille Martin")

        # A one-off payment with invoice_creation, by a guest whom Checkout makes a customer.
        one_off = payment_session(client, catalog, None, customer_email="acheteur@exemple.fr")
        one_off_done = complete(client, one_off.id, card_number="4242424242424242", name="Alex Dupont")

        # A SEPA Direct Debit subscription, until the debit clears.
        sepa_customer = new_customer(client)
        sepa = subscription_session(client, catalog, sepa_customer)
        sepa_done = complete(client, sepa.id, iban="FR1420041010050500013M02606", name="Camille Martin")
        wait_for(lambda: client.v1.checkout.sessions.retrieve(sepa.id).payment_status == "paid")

        # A session left to expire.
        expired = client.v1.checkout.sessions.expire(subscription_session(client, catalog, new_customer(client)).id)

        # A renewal that fails on a test clock: the invoice stays open, the subscription past_due.
        clock, clock_customer, clock_sub = subscribed_on_clock(client, catalog)
        failing = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": clock_customer.id})
        client.v1.subscriptions.update(clock_sub.id, params={"default_payment_method": failing.id})
        advance(client, clock.id, FEB_28 + 2 * HOUR)
        renewal = client.v1.subscriptions.retrieve(clock_sub.id, params={"expand": ["latest_invoice"]})
        assert (renewal.status, renewal.latest_invoice.status) == ("past_due", "open")
        failed_invoice = renewal.latest_invoice.id
        assert (card_done["payment_status"], one_off_done["payment_status"], expired.status) == (
            "paid",
            "paid",
            "expired",
        )

        world.add("customer", card_customer.id, one_off_done["customer"], sepa_customer.id, clock_customer.id)
        world.add("checkout.session", card.id, one_off.id, sepa.id, expired.id)
        world.add("subscription", card_done["subscription"], sepa_done["subscription"], clock_sub.id)
        world.add("invoice", card_done["invoice"], one_off_done["invoice"], sepa_done["invoice"], failed_invoice)
        world.add("test_clock", clock.id)
        for invoice_id in world.ids["invoice"]:
            invoice = client.v1.invoices.retrieve(invoice_id, params={"expand": ["payments"]})
            for payment in invoice.payments.data:
                intent = client.v1.payment_intents.retrieve(payment.payment.payment_intent)
                world.add("payment_intent", intent.id)
                world.add("charge", intent.latest_charge)
        failed_intents = client.v1.payment_intents.list(params={"customer": clock_customer.id, "limit": 100}).data
        world.add("payment_intent", *(i.id for i in failed_intents if i.status != "succeeded"))
        world.add(
            "charge", *(c.id for c in client.v1.charges.list(params={"customer": clock_customer.id, "limit": 100}).data)
        )
        world.ids = {kind: list(dict.fromkeys(ids)) for kind, ids in world.ids.items()}
        return world
    finally:
        with sandbox.admin("stripe") as admin:
            admin.reset_faults()


def _objects(world: World, kind: str, path: str, **params: Any) -> list[tuple[str, dict[str, Any]]]:
    assert world.ids.get(kind), f"the world has no {kind}"
    return [(f"{kind} {id_}", world.get(path.format(id=id_), **params)) for id_ in world.ids[kind]]


def _lists(world: World) -> list[tuple[str, dict[str, Any]]]:
    customer = world.ids["customer"][0]
    subscription = world.ids["subscription"][0]
    return [
        (f"GET {path} {params}", world.get(path, **params))
        for path, params in [
            ("/v1/customers", {"limit": 3}),
            ("/v1/products", {"limit": 3}),
            ("/v1/prices", {"limit": 3}),
            ("/v1/tax_rates", {"active": "true", "inclusive": "false", "limit": 3}),
            ("/v1/checkout/sessions", {"customer": customer, "limit": 3}),
            ("/v1/subscriptions", {"customer": customer}),
            ("/v1/invoices", {"subscription": subscription, "limit": 3}),
            (f"/v1/invoices/{world.ids['invoice'][0]}/lines", {}),
            ("/v1/invoice_payments", {"invoice": world.ids["invoice"][0]}),
            ("/v1/payment_intents", {"customer": customer}),
            ("/v1/charges", {"customer": customer}),
            ("/v1/events", {"limit": 5}),
            ("/v1/test_helpers/test_clocks", {"limit": 3}),
        ]
    ]


# Object type → the raw objects to check (label, JSON). A list is checked against `ListObject`
# and each item against the class its `object` names.
CASES: dict[str, Callable[[World], list[tuple[str, dict[str, Any]]]]] = {
    "customer": lambda w: _objects(w, "customer", "/v1/customers/{id}"),
    "product": lambda w: _objects(w, "product", "/v1/products/{id}"),
    "price": lambda w: _objects(w, "price", "/v1/prices/{id}"),
    "tax_rate": lambda w: _objects(w, "tax_rate", "/v1/tax_rates/{id}"),
    "checkout.session": lambda w: _objects(w, "checkout.session", "/v1/checkout/sessions/{id}"),
    "checkout.session expanded": lambda w: _objects(
        w,
        "checkout.session",
        "/v1/checkout/sessions/{id}",
        **{"expand[]": ["line_items", "customer", "invoice", "subscription", "payment_intent"]},
    ),
    "checkout.session line_items": lambda w: _objects(w, "checkout.session", "/v1/checkout/sessions/{id}/line_items"),
    "subscription": lambda w: _objects(w, "subscription", "/v1/subscriptions/{id}", **{"expand[]": ["latest_invoice"]}),
    "invoice": lambda w: _objects(w, "invoice", "/v1/invoices/{id}"),
    "invoice with payments": lambda w: _objects(w, "invoice", "/v1/invoices/{id}", **{"expand[]": ["payments"]}),
    "payment_intent": lambda w: _objects(
        w, "payment_intent", "/v1/payment_intents/{id}", **{"expand[]": ["latest_charge"]}
    ),
    "charge": lambda w: _objects(w, "charge", "/v1/charges/{id}"),
    "test_clock": lambda w: _objects(w, "test_clock", "/v1/test_helpers/test_clocks/{id}"),
    "lists": _lists,
}


def _check(payload: dict[str, Any]) -> list[str]:
    return mismatches(class_for(payload["object"]), payload)


def _report(found: dict[str, list[str]]) -> str:
    lines = [f"{label}:\n    " + "\n    ".join(problems) for label, problems in found.items() if problems]
    return f"{sum(len(p) for p in found.values())} mismatches with stripe {stripe.VERSION}'s classes\n" + "\n".join(
        lines
    )


@pytest.mark.parametrize("object_type", list(CASES))
def test_objects_match_the_pinned_client_classes(world: World, object_type: str):
    found = {label: _check(payload) for label, payload in CASES[object_type](world)}
    assert found
    if any(found.values()):
        pytest.fail(_report(found), pytrace=False)


def test_events_and_their_objects_match_the_pinned_client_classes(world: World):
    events = [e.to_dict() for e in events_since(world.client, world.marker)]
    assert {
        "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.expired",
        "customer.subscription.updated", "invoice.paid", "invoice.payment_failed", "payment_intent.payment_failed",
        "payment_method.attached", "test_helpers.test_clock.ready",
    } <= {e["type"] for e in events}  # fmt: skip
    found: dict[str, list[str]] = {}
    for listed in events:
        event = world.get(f"/v1/events/{listed['id']}")
        obj = event["data"]["object"]
        problems = mismatches(stripe.Event, event)
        if event["api_version"] != stripe.api_version:  # the sandbox account's default version
            problems.append(f"event.api_version: {event['api_version']!r}, not {stripe.api_version!r}")
        problems += mismatches(class_for(obj["object"]), obj, "data.object")
        declared = set(declared_fields(class_for(obj["object"])))
        problems += [
            f"data.previous_attributes.{name}: not a field of {obj['object']}"
            for name in event["data"].get("previous_attributes") or {}
            if name not in declared
        ]
        found[f"event {event['type']} {event['id']}"] = problems
    if any(found.values()):
        pytest.fail(_report(found), pytrace=False)


def test_the_check_catches_what_real_stripe_would_not_send():
    """The checker itself: a renamed enum, a missing field, a wrong type, an invented field."""
    good = {
        "id": "clock_1",
        "object": "test_helpers.test_clock",
        "created": 1,
        "deletes_after": 2,
        "frozen_time": 1,
        "livemode": False,
        "name": None,
        "status": "ready",
        "status_details": {},
    }
    assert mismatches(stripe.test_helpers.TestClock, good) == []
    bad = {**good, "status": "frozen", "livemode": "false", "colour": "blue"}
    del bad["frozen_time"]
    problems = mismatches(stripe.test_helpers.TestClock, bad)
    assert any(p.startswith("test_helpers.test_clock.status: 'frozen' is not one of") for p in problems), problems
    assert any(p.startswith("test_helpers.test_clock.frozen_time: missing") for p in problems), problems
    assert any(p.startswith("test_helpers.test_clock.livemode: expected bool") for p in problems), problems
    assert any(p.startswith("test_helpers.test_clock.colour: not a field") for p in problems), problems
    session = mismatches(stripe.checkout.Session, {"object": "checkout.session", "ui_mode": "hosted", "customer": 42})
    assert any("ui_mode: 'hosted' is not one of" in p for p in session), session
    assert any(p.startswith("checkout.session.customer:") for p in session), session
    assert not any(p.startswith("checkout.session.line_items") for p in session)  # includable: absent is fine


def test_the_check_knows_what_real_stripe_leaves_out():
    """Fields the API omits are not reported: another type's hash, an includable list, a list's total."""
    card = {
        "id": "pm_1", "object": "payment_method", "allow_redisplay": "unspecified", "created": 1, "customer": None,
        "customer_account": None, "livemode": False, "metadata": {}, "radar_options": None, "type": "card",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None, "tax_id": None},
        "card": {"brand": "visa", "checks": None, "country": "US", "display_brand": "visa", "exp_month": 12,
                 "exp_year": 2030, "fingerprint": "f", "funding": "credit", "generated_from": None, "last4": "4242",
                 "networks": None, "regulated_status": "unregulated", "three_d_secure_usage": None, "wallet": None},
    }  # fmt: skip
    assert mismatches(stripe.PaymentMethod, card) == []
    no_card = mismatches(stripe.PaymentMethod, {k: v for k, v in card.items() if k != "card"})
    assert no_card == ["payment_method.card: missing (declared Optional[Card])"]  # its own type's hash is due

    listing = {"object": "list", "data": [], "has_more": False, "url": "/v1/payment_methods"}
    assert mismatches(stripe.ListObject, listing) == []
    assert mismatches(stripe.ListObject, {**listing, "total_count": 0}) == ["list.total_count: not a field of a list"]
    nested = mismatches(
        stripe.checkout.Session, {"object": "checkout.session", "line_items": {**listing, "total_count": 0}}
    )
    assert not any(p.startswith("checkout.session.line_items") for p in nested), nested
