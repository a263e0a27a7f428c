"""Subscriptions: created by Checkout, renewed as test clocks advance, retrieved, listed, cancelled.

Billing periods sit on the items (`current_period_start/end`), as in this API version. A period
is counted from the billing cycle anchor, so a subscription started on 31 January renews on
28 February, then 31 March.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe import invoices
from propale_dev.sandbox.stripe.core import Stripe, changed
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_bool, as_dict, metadata
from propale_dev.sandbox.stripe.invoices import LineSpec
from propale_dev.sandbox.stripe.lists import created_filter, list_object, newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.search import search_result

LIVE_STATUSES = ("active", "past_due", "trialing", "incomplete")


def period_boundary(anchor: int, interval: str, count: int, n: int) -> int:
    """The start of the n-th period after `anchor` (n=0 is the anchor itself)."""
    start = datetime.fromtimestamp(anchor, UTC)
    if interval in ("day", "week"):
        return anchor + n * count * (86400 if interval == "day" else 7 * 86400)
    months = n * count * (12 if interval == "year" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return int(start.replace(year=year, month=month + 1, day=day).timestamp())


def _plan(price: dict[str, Any]) -> dict[str, Any]:
    recurring = price["recurring"]
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring["interval"],
        "interval_count": recurring["interval_count"],
        "livemode": False,
        "metadata": price["metadata"],
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _item(
    stripe: Stripe, sub_id: str, price: dict[str, Any], quantity: int, rates: list[dict[str, Any]], start: int, end: int
) -> dict[str, Any]:
    return {
        "id": stripe.new_id("si_", 14),
        "object": "subscription_item",
        "billed_until": None,
        "billing_thresholds": None,
        "created": start,
        "current_period_end": end,
        "current_period_start": start,
        "current_trial": None,
        "discounts": [],
        "metadata": {},
        "plan": _plan(price),
        "price": price,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": rates,
    }


def create_for_checkout(
    stripe: Stripe, *, customer: dict[str, Any], pm: dict[str, Any], recurring: list[tuple[dict[str, Any], int, list[dict[str, Any]]]],
    one_off: list[tuple[dict[str, Any], int, list[dict[str, Any]]]], currency: str, metadata_: dict[str, str],
    description: str | None, now: int, session_id: str,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The subscription, its first invoice (recurring and one-off lines) and the payment: (sub, invoice, intent)."""
    sub_id = stripe.new_id("sub_")
    first = recurring[0][0]["recurring"]
    end = period_boundary(now, first["interval"], first["interval_count"], 1)
    items = [_item(stripe, sub_id, price, qty, rates, now, end) for price, qty, rates in recurring]
    sub: dict[str, Any] = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": now,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible", "updated_at": now},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": pm["id"],
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": list_object(items, f"/v1/subscription_items?subscription={sub_id}", total_count=len(items)),
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata_,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": now,
        "status": "incomplete",
        "status_details": None,
        "test_clock": customer.get("test_clock"),
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
    # Stripe lists pending invoice items (the one-off lines) before subscription items.
    lines = []
    for price, qty, rates in one_off:
        ii = invoices.new_invoice_item(
            stripe, customer=customer, price=price, quantity=qty, tax_rates=rates, invoice_id=None,
            subscription_id=sub_id, created=now,
        )  # fmt: skip
        lines.append(
            LineSpec(
                price, qty, rates, (now, now), subscription=sub_id, invoice_item=ii["id"], description=ii["description"]
            )
        )
    lines += [
        LineSpec(
            item["price"],
            item["quantity"],
            item["tax_rates"],
            (now, end),
            subscription=sub_id,
            subscription_item=item["id"],
        )
        for item in items
    ]
    invoice = invoices.new_invoice(
        stripe, customer=customer, currency=currency, billing_reason="subscription_create", created=now, lines=lines,
        subscription=sub, announce=False,
    )  # fmt: skip
    for line in invoice["lines"]["data"]:
        item_id = (line["parent"].get("invoice_item_details") or {}).get("invoice_item")
        if item_id:
            stripe.save({**stripe.get("invoiceitem", item_id), "invoice": invoice["id"]})
    sub["latest_invoice"] = invoice["id"]
    stripe.save(sub)
    stripe.emit("customer.subscription.created", sub, created=now)
    stripe.emit("invoice.created", invoice, created=now)
    invoice = invoices.finalize(stripe, invoice, now)
    invoice, pi = invoices.collect(stripe, invoice, pm, now, session=session_id)
    if pi["status"] in ("succeeded", "processing"):
        # Delayed-notification methods (SEPA) activate the subscription while the debit is pending.
        set_status(stripe, sub["id"], "active", now)
    return stripe.get("subscription", sub["id"]), invoice, pi


def set_status(stripe: Stripe, sub_id: str, status: str, now: int) -> dict[str, Any]:
    before = stripe.get("subscription", sub_id)
    if before["status"] == status:
        return before
    after = {**before, "status": status}
    stripe.save(after)
    stripe.emit("customer.subscription.updated", after, created=now, previous=changed(before, after))
    return after


def payment_settled(stripe: Stripe, invoice: dict[str, Any], pi: dict[str, Any], now: int) -> None:
    """A subscription follows the fate of its invoices' payments."""
    parent = (invoice.get("parent") or {}).get("subscription_details")
    if not parent:
        return
    sub = stripe.find("subscription", parent["subscription"])
    if not sub or sub["status"] == "canceled":
        return
    if pi["status"] == "succeeded" and sub["status"] in ("incomplete", "past_due"):
        set_status(stripe, sub["id"], "active", now)
    elif pi["status"] == "requires_payment_method" and sub["status"] in ("active", "incomplete"):
        set_status(stripe, sub["id"], "past_due", now)


def next_period_end(sub: dict[str, Any]) -> int | None:
    if sub["status"] not in ("active", "past_due"):
        return None
    return min(item["current_period_end"] for item in sub["items"]["data"])


def next_transition(sub: dict[str, Any]) -> int | None:
    """When the subscription next renews or, if `cancel_at` comes first, ends (see `renew`)."""
    end = next_period_end(sub)
    if end is None or sub["cancel_at"] is None:
        return end
    return min(end, sub["cancel_at"])


def end_due(stripe: Stripe) -> None:
    """Subscriptions without a test clock whose `cancel_at` has passed in wall time end then
    (the sandbox renews only subscriptions on a test clock)."""
    now = stripe.wall_time()
    for sub in stripe.all("subscription"):
        due = sub["cancel_at"] is not None and sub["cancel_at"] <= now
        if due and sub.get("test_clock") is None and sub["status"] in LIVE_STATUSES:
            _end(stripe, sub, sub["cancel_at"], reason="cancellation_requested")


def renew(stripe: Stripe, sub_id: str, at: int) -> dict[str, Any]:
    """Period end reached at `at`: cancel if asked, else start the next period and draft its invoice."""
    before = stripe.get("subscription", sub_id)
    if before["cancel_at_period_end"] or (before["cancel_at"] is not None and before["cancel_at"] <= at):
        return _end(stripe, before, at, reason="cancellation_requested")
    items = []
    for item in before["items"]["data"]:
        recurring = item["price"]["recurring"]
        n = 0
        while (
            period_boundary(before["billing_cycle_anchor"], recurring["interval"], recurring["interval_count"], n)
            <= item["current_period_start"]
        ):
            n += 1
        end = period_boundary(before["billing_cycle_anchor"], recurring["interval"], recurring["interval_count"], n + 1)
        # The last period stops at `cancel_at` (the sandbox bills it whole: it makes no prorations).
        end = min(end, before["cancel_at"] or end)
        items.append({**item, "current_period_start": item["current_period_end"], "current_period_end": end})
    after = {**before, "items": {**before["items"], "data": items}}
    customer = stripe.get("customer", before["customer"])
    old = before["items"]["data"][0]
    lines = [
        LineSpec(item["price"], item["quantity"], item["tax_rates"], (item["current_period_start"], item["current_period_end"]),
                 subscription=sub_id, subscription_item=item["id"])
        for item in items
    ]  # fmt: skip
    invoice = invoices.new_invoice(
        stripe, customer=customer, currency=before["currency"], billing_reason="subscription_cycle", created=at,
        lines=lines, subscription=after, period=(old["current_period_start"], old["current_period_end"]), announce=False,
    )  # fmt: skip
    invoice["automatically_finalizes_at"] = at + invoices.FINALIZE_AFTER_S
    stripe.save(invoice)
    after["latest_invoice"] = invoice["id"]
    stripe.save(after)
    stripe.emit("customer.subscription.updated", after, created=at, previous=changed(before, after))
    stripe.emit("invoice.created", invoice, created=at)
    return after


def finalize_and_charge(stripe: Stripe, invoice_id: str, at: int) -> None:
    """What Stripe does an hour after drafting a renewal invoice (auto_advance)."""
    invoice = invoices.finalize(stripe, stripe.get("invoice", invoice_id), at)
    if invoice["status"] != "open" or invoice["collection_method"] != "charge_automatically":
        return
    pm = invoices.default_payment_method(stripe, invoice)
    if pm is None:
        invoice = invoices.payment_settled(stripe, invoice["id"], {"status": "requires_payment_method"}, at)
        payment_settled(stripe, invoice, {"status": "requires_payment_method"}, at)
        return
    invoice, pi = invoices.collect(stripe, invoice, pm, at)
    payment_settled(stripe, invoice, pi, at)


def _end(
    stripe: Stripe,
    before: dict[str, Any],
    now: int,
    *,
    reason: str,
    comment: str | None = None,
    feedback: str | None = None,
) -> dict[str, Any]:
    after = {
        **before,
        "status": "canceled",
        "canceled_at": before.get("canceled_at") or now,
        "ended_at": now,
        "cancellation_details": {"comment": comment, "feedback": feedback, "reason": reason},
    }
    stripe.save(after)
    stripe.emit("customer.subscription.deleted", after, created=now, previous=changed(before, after))
    return after


# endpoints --------------------------------------------------------------------------------
def retrieve(call: Call) -> dict[str, Any]:
    return call.stripe.get("subscription", call.path["id"])


def cancel(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    sub = stripe.get("subscription", call.path["id"])
    if sub["status"] == "canceled":
        raise StripeError(f"No such subscription: '{sub['id']}'", status=404, code="resource_missing", param="id")
    details = as_dict(call.params, "cancellation_details")
    now = stripe.clock_time(sub.get("test_clock"))
    return _end(
        stripe,
        sub,
        now,
        reason="cancellation_requested",
        comment=details.get("comment") or None,
        feedback=details.get("feedback") or None,
    )


def update(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    before = stripe.get("subscription", call.path["id"])
    if before["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
        raise StripeError("A canceled subscription can only update its cancellation_details and metadata.")
    after = dict(before)
    now = stripe.clock_time(before.get("test_clock"))
    if "cancel_at" in params:
        if as_bool(params, "cancel_at_period_end"):
            raise StripeError(
                "You may only specify one of these parameters: cancel_at, cancel_at_period_end.", param="cancel_at"
            )
        cancel_at = _cancel_at(before, params["cancel_at"], now)
        after["cancel_at"] = cancel_at
        after["cancel_at_period_end"] = False
        after["canceled_at"] = None
        after["cancellation_details"] = {
            **before["cancellation_details"],
            "reason": "cancellation_requested" if cancel_at else None,
        }
    elif "cancel_at_period_end" in params:
        flag = bool(as_bool(params, "cancel_at_period_end"))
        after["cancel_at_period_end"] = flag
        after["cancel_at"] = next_period_end(before) if flag else None
        after["canceled_at"] = now if flag else None
        after["cancellation_details"] = {
            **before["cancellation_details"],
            "reason": "cancellation_requested" if flag else None,
        }
    if "default_payment_method" in params:
        pm_id = params["default_payment_method"] or None
        if pm_id:
            pm = stripe.get("payment_method", pm_id, "default_payment_method")
            if pm.get("customer") != before["customer"]:
                raise StripeError(
                    f"The customer does not have a payment method with the ID {pm_id}. The payment method must be "
                    "attached to the customer.",
                    param="default_payment_method",
                )
        after["default_payment_method"] = pm_id
    if "description" in params:
        after["description"] = params["description"] or None
    after["metadata"] = metadata(params, before["metadata"])
    previous = changed(before, after)
    if previous:
        stripe.save(after)
        stripe.emit("customer.subscription.updated", after, created=now, previous=previous)
    return after


def _cancel_at(sub: dict[str, Any], value: str, now: int) -> int | None:
    """`cancel_at` as SubscriptionUpdateParams allows it: a timestamp, "" to unset it, or the end of
    the items' current periods (`min_period_end`, `max_period_end`, and `max_billed_until`, the same
    here since the sandbox has no prebilling; https://docs.stripe.com/api/subscriptions/update#update_subscription-cancel_at)."""
    if value == "":
        return None
    ends = [item["current_period_end"] for item in sub["items"]["data"]]
    if value == "min_period_end":
        return min(ends)
    if value in ("max_period_end", "max_billed_until"):
        return max(ends)
    at = int(value)
    if at <= now:
        raise StripeError("Invalid cancel_at: must be a timestamp in the future.", param="cancel_at")
    return at


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    status = params.get("status")
    price = params.get("price")
    items = [
        s
        for s in newest_first(call.stripe.all("subscription"))
        if keep(s)
        and (not params.get("customer") or s["customer"] == params["customer"])
        and (not params.get("test_clock") or s.get("test_clock") == params["test_clock"])
        and (not price or any(i["price"]["id"] == price for i in s["items"]["data"]))
        and (status == "all" or (s["status"] == status if status else s["status"] != "canceled"))
    ]
    return paginate(items, params, "/v1/subscriptions", "subscription")


def search(call: Call) -> dict[str, Any]:
    items = newest_first(call.stripe.all("subscription"))
    return search_result(items, call.params, "/v1/subscriptions/search", {"status", "created", "customer"})


def list_items(call: Call) -> dict[str, Any]:
    sub_id = call.params.get("subscription")
    if not sub_id:
        raise StripeError("Missing required param: subscription.", param="subscription", code="parameter_missing")
    sub = call.stripe.get("subscription", sub_id, "subscription")
    return paginate(
        sub["items"]["data"], call.params, f"/v1/subscription_items?subscription={sub_id}", "subscription_item"
    )


def retrieve_item(call: Call) -> dict[str, Any]:
    for sub in call.stripe.all("subscription"):
        for item in sub["items"]["data"]:
            if item["id"] == call.path["id"]:
                return item
    raise StripeError(
        f"No such subscription_item: '{call.path['id']}'", status=404, code="resource_missing", param="id"
    )


def cancel_all_for_customer(stripe: Stripe, customer_id: str, now: int) -> None:
    """Deleting a customer cancels their subscriptions at once, as on Stripe."""
    for sub in stripe.all("subscription"):
        if sub["customer"] == customer_id and sub["status"] != "canceled":
            _end(stripe, sub, now, reason="cancellation_requested")


def routes() -> list[Row]:
    return [
        ("GET", "/v1/subscription_items", list_items, stripe_params.SubscriptionItemListParams),
        ("GET", "/v1/subscription_items/{id}", retrieve_item, stripe_params.SubscriptionItemRetrieveParams),
        ("POST", "/v1/subscriptions", _create_unsupported, stripe_params.SubscriptionCreateParams),
        ("GET", "/v1/subscriptions", list_, stripe_params.SubscriptionListParams),
        ("GET", "/v1/subscriptions/search", search, stripe_params.SubscriptionSearchParams),
        ("GET", "/v1/subscriptions/{id}", retrieve, stripe_params.SubscriptionRetrieveParams),
        ("POST", "/v1/subscriptions/{id}", update, stripe_params.SubscriptionUpdateParams),
        ("DELETE", "/v1/subscriptions/{id}", cancel, stripe_params.SubscriptionCancelParams),
    ]


def _create_unsupported(call: Call) -> dict[str, Any]:
    raise StripeError(
        "The sandbox creates subscriptions through Checkout only (mode=subscription); "
        "POST /v1/subscriptions is not simulated.",
        status=400,
    )
