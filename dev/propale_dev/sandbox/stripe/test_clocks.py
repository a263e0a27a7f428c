"""Test clocks: `/v1/test_helpers/test_clocks` create, retrieve, list, delete, advance.

Advancing returns at once with status `advancing`; the background worker then walks the clock
forward through every moment something is due for its customers (subscription period ends and
`cancel_at`, renewal invoices finalized an hour after their draft, Checkout Sessions expiring), in order, and
ends with status `ready`. Everything it produces carries clock time.
"""

from __future__ import annotations

from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe import checkout, subscriptions
from propale_dev.sandbox.stripe.core import Stripe, internal
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_int, require
from propale_dev.sandbox.stripe.lists import newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row

JOBS = internal("job")
DELETE_AFTER_S = 30 * 24 * 3600


def create(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    frozen = as_int(params, "frozen_time")
    if frozen is None:
        raise StripeError("Missing required param: frozen_time.", param="frozen_time", code="parameter_missing")
    now = stripe.wall_time()
    clock = {
        "id": stripe.new_id("clock_"),
        "object": "test_helpers.test_clock",
        "created": now,
        "deletes_after": now + DELETE_AFTER_S,
        "frozen_time": frozen,
        "livemode": False,
        "name": params.get("name") or None,
        "status": "ready",
        "status_details": {},
    }
    stripe.save(clock)
    stripe.emit("test_helpers.test_clock.created", clock, created=now)
    return clock


def retrieve(call: Call) -> dict[str, Any]:
    return call.stripe.get("test_helpers.test_clock", call.path["id"])


def delete(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    clock = stripe.get("test_helpers.test_clock", call.path["id"])
    # Stripe deletes a clock's customers (and so their subscriptions) with it.
    for customer in stripe.all("customer"):
        if customer.get("test_clock") == clock["id"] and not customer.get("deleted"):
            stripe.save({**customer, "deleted": True})
    stripe.save({**clock, "deleted": True})
    stripe.emit("test_helpers.test_clock.deleted", clock, created=stripe.wall_time())
    return {"id": clock["id"], "object": "test_helpers.test_clock", "deleted": True}


def list_(call: Call) -> dict[str, Any]:
    items = [c for c in newest_first(call.stripe.all("test_helpers.test_clock")) if not c.get("deleted")]
    return paginate(items, call.params, "/v1/test_helpers/test_clocks", "test_clock")


def advance(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    clock = stripe.get("test_helpers.test_clock", call.path["id"])
    target = as_int(call.params, "frozen_time")
    require(call.params, "frozen_time")
    assert target is not None
    if clock["status"] == "advancing":
        raise StripeError("The test clock is already advancing; wait until its status is ready.", param="frozen_time")
    if target <= clock["frozen_time"]:
        raise StripeError("The frozen_time must be after the test clock's current frozen_time.", param="frozen_time")
    clock = {**clock, "status": "advancing", "status_details": {"advancing": {"target_frozen_time": target}}}
    stripe.save(clock)
    stripe.emit("test_helpers.test_clock.advancing", clock, created=stripe.wall_time())
    stripe.store.put(
        JOBS,
        "advance-" + clock["id"],
        {
            "type": "clock_advance",
            "due": stripe.wall_time_precise() + stripe.faults["clock_advance_s"],
            "clock": clock["id"],
            "target": target,
        },
    )
    return clock


def _due_moments(stripe: Stripe, clock_id: str, until: int) -> list[tuple[int, int, str, str]]:
    """(time, order, what, id) of everything due on this clock up to `until`."""
    customers = {c["id"] for c in stripe.all("customer") if c.get("test_clock") == clock_id}
    due = []
    for sub in stripe.all("subscription"):
        if sub["customer"] in customers:
            at = subscriptions.next_transition(sub)
            if at is not None and at <= until:
                due.append((at, 1, "renew", sub["id"]))
    for invoice in stripe.all("invoice"):
        at = invoice.get("automatically_finalizes_at")
        if invoice["customer"] in customers and invoice["status"] == "draft" and at and at <= until:
            due.append((at, 2, "finalize", invoice["id"]))
    for session in stripe.all("checkout.session"):
        if session.get("customer") in customers and session["status"] == "open" and session["expires_at"] <= until:
            due.append((session["expires_at"], 0, "expire", session["id"]))
    return sorted(due)


def run_advance(stripe: Stripe, clock_id: str, target: int) -> None:
    for _ in range(10_000):  # a bound, in case something keeps itself due
        clock = stripe.get("test_helpers.test_clock", clock_id)
        due = _due_moments(stripe, clock_id, target)
        if not due:
            break
        at, _, what, id_ = due[0]
        stripe.save({**clock, "frozen_time": max(clock["frozen_time"], at)})
        if what == "renew":
            subscriptions.renew(stripe, id_, at)
        elif what == "finalize":
            subscriptions.finalize_and_charge(stripe, id_, at)
        else:
            checkout.expire_session(stripe, stripe.get("checkout.session", id_), at)
    clock = stripe.get("test_helpers.test_clock", clock_id)
    clock = {**clock, "frozen_time": target, "status": "ready", "status_details": {}}
    stripe.save(clock)
    stripe.emit("test_helpers.test_clock.ready", clock, created=stripe.wall_time())


def routes() -> list[Row]:
    return [
        ("POST", "/v1/test_helpers/test_clocks", create, stripe_params.test_helpers.TestClockCreateParams),
        ("GET", "/v1/test_helpers/test_clocks", list_, stripe_params.test_helpers.TestClockListParams),
        ("GET", "/v1/test_helpers/test_clocks/{id}", retrieve, stripe_params.test_helpers.TestClockRetrieveParams),
        ("DELETE", "/v1/test_helpers/test_clocks/{id}", delete, stripe_params.test_helpers.TestClockDeleteParams),
        (
            "POST",
            "/v1/test_helpers/test_clocks/{id}/advance",
            advance,
            stripe_params.test_helpers.TestClockAdvanceParams,
        ),
    ]
