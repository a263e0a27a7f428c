"""Events rendered in the account's API version, as real Stripe renders them.

The stand-in builds every object in the pinned library's API version (`core.API_VERSION`). Stripe
renders an event's `data.object` (and `previous_attributes`) in the API version that was the
account's default when the event was created, whatever version the client that lists the events
sends, and says which in the event's `api_version`; the data never changes afterwards:
- the pinned client's own docstring of `events.list` and of `Event.api_version`
  (.venv/…/stripe/_event_service.py, _event.py), from https://docs.stripe.com/api/events/list
  ("Each event data is rendered according to Stripe API version at its creation time … not
  according to your current Stripe API version or Stripe-Version header");
- https://docs.stripe.com/webhooks/versioning ("Webhook endpoints either have a specific API
  version set or use the default API version of the Stripe account");
- https://docs.stripe.com/api/versioning ("Webhook events also use your account's API version by
  default").

So an event created while the account is on an older version carries the older shape. Each
breaking change below is undone, newest first, when the account's version predates it. Only the
changes that touch objects Propale meets in events are here (invoices and their lines, invoice
items, subscriptions, payment intents, charges, Checkout Sessions); others (e.g. the basil
`pricing` field of invoice lines, which replaced `price` and `plan`) are not rendered.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Lookup(Protocol):
    """Where a transform reads related objects (the stand-in's `Stripe`)."""

    def find(self, object_name: str, id_: str | None) -> dict[str, Any] | None: ...

    def all(self, object_name: str) -> list[dict[str, Any]]: ...


def release_date(version: str) -> str:
    """`2025-03-31.basil` → `2025-03-31`: versions are ordered by their date (older ones have no name)."""
    return version.split(".", 1)[0]


@dataclass(frozen=True)
class Change:
    """A breaking change: objects from `version` on have the new shape; `undo` gives the old one.

    `undo` edits the object in place and only touches keys it finds, so that it also fits an
    event's `previous_attributes` (the changed keys only)."""

    version: str
    objects: frozenset[str]
    undo: Callable[[str, dict[str, Any], Lookup], None]
    source: str


# --- 2025-03-31.basil: `parent` on invoices, invoice items and invoice line items -----------------


def _invoice_without_parent(object_name: str, obj: dict[str, Any], lookup: Lookup) -> None:
    if object_name == "invoice":
        if "parent" in obj:
            parent = obj.pop("parent") or {}
            details = parent.get("subscription_details") or {}
            quote = parent.get("quote_details") or {}
            obj["quote"] = quote.get("quote")
            obj["subscription"] = details.get("subscription")
            # Before basil, `subscription_details` held only the subscription's metadata.
            obj["subscription_details"] = {"metadata": details.get("metadata")} if details else None
            obj["subscription_proration_date"] = details.get("subscription_proration_date")
        lines = (obj.get("lines") or {}).get("data") if isinstance(obj.get("lines"), dict) else None
        for line in lines or []:
            _invoice_without_parent("line_item", line, lookup)
    elif object_name == "line_item" and "parent" in obj:
        parent = obj.pop("parent") or {}
        from_subscription = parent.get("type") == "subscription_item_details"
        details = parent.get("subscription_item_details" if from_subscription else "invoice_item_details") or {}
        obj["type"] = "subscription" if from_subscription else "invoiceitem"
        obj["invoice_item"] = details.get("invoice_item")
        obj["proration"] = bool(details.get("proration"))
        obj["proration_details"] = details.get("proration_details")
        obj["subscription"] = details.get("subscription")
        obj["subscription_item"] = details.get("subscription_item")
    elif object_name == "invoiceitem" and "parent" in obj:
        details = (obj.pop("parent") or {}).get("subscription_details") or {}
        obj["subscription"] = details.get("subscription")
        obj["subscription_item"] = details.get("subscription_item")


# --- 2025-03-31.basil: several payments per invoice ------------------------------------------------


def _default_payment(invoice_id: str, lookup: Lookup) -> dict[str, Any] | None:
    records = [p for p in lookup.all("invoice_payment") if p.get("invoice") == invoice_id]
    return next((p for p in records if p.get("is_default")), records[-1] if records else None)


def _invoice_of_intent(intent_id: str | None, lookup: Lookup) -> str | None:
    if not intent_id:
        return None
    record = next(
        (p for p in lookup.all("invoice_payment") if (p.get("payment") or {}).get("payment_intent") == intent_id), None
    )
    return record["invoice"] if record else None


def _single_payment(object_name: str, obj: dict[str, Any], lookup: Lookup) -> None:
    if object_name == "invoice":
        if "status" in obj:
            obj["paid"] = obj["status"] == "paid"
        for added in ("payments", "amount_overpaid", "confirmation_secret"):
            obj.pop(added, None)
        if "id" not in obj:  # previous_attributes: the old intent and charge are not known any more
            return
        obj["paid_out_of_band"] = obj.get("status") == "paid" and bool(obj.get("amount_paid_off_stripe"))
        record = _default_payment(obj["id"], lookup)
        intent_id = ((record or {}).get("payment") or {}).get("payment_intent")
        intent = lookup.find("payment_intent", intent_id) if intent_id else None
        obj["payment_intent"] = intent_id
        obj["charge"] = (intent or {}).get("latest_charge")
    elif object_name == "payment_intent" and "id" in obj:
        obj["invoice"] = _invoice_of_intent(obj["id"], lookup)
    elif object_name == "charge" and "id" in obj:
        obj["invoice"] = _invoice_of_intent(obj.get("payment_intent"), lookup)


# --- 2025-03-31.basil: billing periods on subscription items ---------------------------------------


def _subscription_period(object_name: str, obj: dict[str, Any], lookup: Lookup) -> None:
    items = obj.get("items")
    if not isinstance(items, dict):
        return
    data = [dict(item) for item in items.get("data") or []]
    if data and "current_period_start" in data[0]:
        obj["current_period_start"] = data[0]["current_period_start"]
        obj["current_period_end"] = data[0]["current_period_end"]
    for item in data:
        item.pop("current_period_start", None)
        item.pop("current_period_end", None)
    obj["items"] = {**items, "data": data}


# --- 2025-03-31.basil: `taxes` on invoice lines, `total_taxes` on invoices -------------------------


def _tax_amount(tax: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": tax.get("amount"),
        "inclusive": tax.get("tax_behavior") == "inclusive",
        "tax_rate": (tax.get("tax_rate_details") or {}).get("tax_rate"),
        "taxability_reason": tax.get("taxability_reason"),
        "taxable_amount": tax.get("taxable_amount"),
    }


def _tax_amounts(object_name: str, obj: dict[str, Any], lookup: Lookup) -> None:
    if object_name == "invoice":
        if "total_taxes" in obj:
            obj["total_tax_amounts"] = [_tax_amount(t) for t in obj.pop("total_taxes") or []]
        lines = (obj.get("lines") or {}).get("data") if isinstance(obj.get("lines"), dict) else None
        for line in lines or []:
            _tax_amounts("line_item", line, lookup)
    elif object_name == "line_item" and "taxes" in obj:
        taxes = obj.pop("taxes") or []
        obj["tax_amounts"] = [_tax_amount(t) for t in taxes]
        rate_ids = [a["tax_rate"] for a in obj["tax_amounts"] if a["tax_rate"]]
        obj["tax_rates"] = [rate for rate in (lookup.find("tax_rate", i) for i in rate_ids) if rate]


# --- 2026-03-25.dahlia: Checkout Session `ui_mode` values ------------------------------------------

_OLD_UI_MODES = {"hosted_page": "hosted", "embedded_page": "embedded", "elements": "custom"}


def _ui_mode(object_name: str, obj: dict[str, Any], lookup: Lookup) -> None:
    if obj.get("ui_mode") in _OLD_UI_MODES:
        obj["ui_mode"] = _OLD_UI_MODES[obj["ui_mode"]]


CHANGES: list[Change] = [
    Change(
        "2025-03-31.basil",
        frozenset({"invoice", "line_item", "invoiceitem"}),
        _invoice_without_parent,
        "https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects",
    ),
    Change(
        "2025-03-31.basil",
        frozenset({"invoice", "payment_intent", "charge"}),
        _single_payment,
        "https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices",
    ),
    Change(
        "2025-03-31.basil",
        frozenset({"subscription"}),
        _subscription_period,
        "https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end",
    ),
    Change(
        "2025-03-31.basil",
        frozenset({"invoice", "line_item"}),
        _tax_amounts,
        "https://docs.stripe.com/changelog/basil/2025-03-31/invoice-tax-configurations",
    ),
    Change(
        "2026-03-25.dahlia",
        frozenset({"checkout.session"}),
        _ui_mode,
        "https://docs.stripe.com/changelog/dahlia/2026-03-25/updates-available-checkout-session-ui-modes",
    ),
]


def changes_since(version: str) -> list[Change]:
    """The changes an object of the current shape must undo to look as at `version`, newest first."""
    since = release_date(version)
    return sorted(
        (c for c in CHANGES if release_date(c.version) > since), key=lambda c: release_date(c.version), reverse=True
    )


def render(object_name: str, obj: dict[str, Any], version: str, lookup: Lookup) -> dict[str, Any]:
    """A copy of `obj` (built in the pinned version) as Stripe renders it at `version`."""
    rendered = copy.deepcopy(obj)
    for change in changes_since(version):
        if object_name in change.objects:
            change.undo(object_name, rendered, lookup)
    return rendered
