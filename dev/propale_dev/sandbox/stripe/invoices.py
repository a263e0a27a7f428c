"""Invoices, their lines and payments: built by subscriptions and Checkout, or by hand via the API.

Lifecycle as on Stripe: draft → (finalize: number, hosted page, PDF) open → paid | uncollectible |
void. A payment attempt leaves an `invoice_payment`; its outcome emits invoice.paid +
invoice.payment_succeeded or invoice.payment_failed. The API endpoints are in `invoice_api.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from propale.money import charged_amount
from propale_dev.sandbox.stripe import i18n, payments, tax_ids
from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.lists import list_object, newest_first

RETRY_AFTER_FAILURE_S = 3 * 24 * 3600
FINALIZE_AFTER_S = 3600


@dataclass
class LineSpec:
    price: dict[str, Any]
    quantity: int
    tax_rates: list[dict[str, Any]]
    period: tuple[int, int]
    subscription: str | None = None
    subscription_item: str | None = None
    invoice_item: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def taxes_for(amount: int, rates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-rate tax of one line, as `line.taxes` / `total_taxes` entries."""
    result = []
    for rate in rates:
        pct = rate["percentage"] / 100
        if rate["inclusive"]:
            taxable = round(amount / (1 + pct))
            tax = amount - taxable
        else:
            taxable = amount
            tax = round(amount * pct)
        result.append(
            {
                "amount": tax,
                "tax_behavior": "inclusive" if rate["inclusive"] else "exclusive",
                "tax_rate_details": {"tax_rate": rate["id"]},
                "taxability_reason": "standard_rated",
                "taxable_amount": taxable,
                "type": "tax_rate_details",
            }
        )
    return result


def describe_price(stripe: Stripe, price: dict[str, Any], quantity: int) -> str:
    product = stripe.find("product", price["product"]) or {"name": price["product"]}
    if not price.get("recurring"):
        return product["name"]
    recurring = price["recurring"]
    every = (
        recurring["interval"]
        if recurring["interval_count"] == 1
        else f"{recurring['interval_count']} {recurring['interval']}s"
    )
    return (
        f"{quantity} × {product['name']} (at {i18n.english_amount(price['unit_amount'], price['currency'])} / {every})"
    )


def build_line(stripe: Stripe, invoice_id: str, spec: LineSpec) -> dict[str, Any]:
    amount = spec.price["unit_amount"] * spec.quantity
    if spec.subscription_item:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": spec.subscription,
                "subscription_item": spec.subscription_item,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": spec.invoice_item,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": spec.subscription,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "id": stripe.new_id("il_"),
        "object": "line_item",
        "amount": amount,
        "currency": spec.price["currency"],
        "description": spec.description or describe_price(stripe, spec.price, spec.quantity),
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": dict(spec.metadata),
        "parent": parent,
        "period": {"start": spec.period[0], "end": spec.period[1]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": spec.price["id"], "product": spec.price["product"]},
            "type": "price_details",
            "unit_amount_decimal": str(spec.price["unit_amount"]),
        },
        "quantity": spec.quantity,
        "quantity_decimal": str(spec.quantity),
        "subscription": spec.subscription,
        "subtotal": amount,
        "taxes": taxes_for(amount, spec.tax_rates),
    }


def new_invoice_item(
    stripe: Stripe, *, customer: dict[str, Any], price: dict[str, Any], quantity: int, tax_rates: list[dict[str, Any]],
    invoice_id: str | None, subscription_id: str | None, created: int, description: str | None = None,
    metadata_: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    item = {
        "id": stripe.new_id("ii_"),
        "object": "invoiceitem",
        "amount": price["unit_amount"] * quantity,
        "currency": price["currency"],
        "customer": customer["id"],
        "date": created,
        "description": description or describe_price(stripe, price, quantity),
        "discountable": True,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": metadata_ or {},
        "net_amount": price["unit_amount"] * quantity,
        "parent": {
            "subscription_details": {"subscription": subscription_id, "subscription_proration_date": None},
            "type": "subscription_details",
        }
        if subscription_id
        else None,
        "period": {"start": created, "end": created},
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": str(price["unit_amount"]),
        },
        "proration": False,
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "tax_rates": tax_rates,
        "test_clock": customer.get("test_clock"),
    }
    stripe.save(item)
    return item


def recompute(invoice: dict[str, Any]) -> dict[str, Any]:
    lines = invoice["lines"]["data"]
    subtotal = sum(line["amount"] for line in lines)
    totals: dict[str, dict[str, Any]] = {}
    for line in lines:
        for tax in line["taxes"]:
            key = tax["tax_rate_details"]["tax_rate"]
            entry = totals.setdefault(key, {**tax, "amount": 0, "taxable_amount": 0})
            entry["amount"] += tax["amount"]
            entry["taxable_amount"] += tax["taxable_amount"]
    exclusive = sum(t["amount"] for t in totals.values() if t["tax_behavior"] == "exclusive")
    inclusive = sum(t["amount"] for t in totals.values() if t["tax_behavior"] == "inclusive")
    total = subtotal + exclusive
    # ISK and UGX: the difference to a whole amount goes to the customer's balance when the invoice
    # is finalized (https://docs.stripe.com/currencies#special-cases).
    due = charged_amount(total, invoice["currency"])
    invoice.update(
        {
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal - inclusive,
            "total": total,
            "total_excluding_tax": subtotal - inclusive,
            "total_taxes": list(totals.values()),
            "amount_due": due,
            "amount_remaining": due - invoice.get("amount_paid", 0),
        }
    )
    invoice["lines"]["total_count"] = len(lines)
    return invoice


def customer_details(stripe: Stripe, customer: dict[str, Any]) -> dict[str, Any]:
    """The customer's details an invoice copies, as they are until it is finalized."""
    return {
        "customer_address": customer.get("address"),
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"),
        "customer_tax_exempt": customer.get("tax_exempt", "none"),
        "customer_tax_ids": [
            {"type": t["type"], "value": t["value"]} for t in tax_ids.of_customer(stripe, customer["id"])
        ],
    }


def new_invoice(
    stripe: Stripe, *, customer: dict[str, Any], currency: str, billing_reason: str, created: int,
    lines: list[LineSpec], subscription: dict[str, Any] | None = None, period: tuple[int, int] | None = None,
    metadata_: dict[str, str] | None = None, description: str | None = None, footer: str | None = None,
    custom_fields: list[dict[str, str]] | None = None, auto_advance: bool = True,
    collection_method: str = "charge_automatically", days_until_due: int | None = None,
    default_tax_rates: list[dict[str, Any]] | None = None, announce: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """A draft invoice with `lines`, saved; `invoice.created` unless `announce` is False."""
    invoice_id = stripe.new_id("in_")
    account = stripe.account()
    settings = customer.get("invoice_settings") or {}
    start, end = period or (created, created)
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": account["country"],
        "account_name": account["name"],
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_paid_off_stripe": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "confirmation_secret": None,
        "created": created,
        "currency": currency,
        # The customer's are "Default custom fields [and footer] to be displayed on invoices for this
        # customer" (https://docs.stripe.com/api/customers/object#customer_object-invoice_settings):
        # the invoice's own, such as Checkout's `invoice_creation.invoice_data`, come first.
        "custom_fields": custom_fields or settings.get("custom_fields"),
        "customer": customer["id"],
        "customer_account": None,
        **customer_details(stripe, customer),
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": default_tax_rates or [],
        "description": description,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "footer": footer if footer is not None else settings.get("footer"),
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": list_object([], f"/v1/invoices/{invoice_id}/lines", total_count=0),
        "livemode": False,
        "metadata": metadata_ or {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription.get("metadata") or {}),
                "subscription": subscription["id"],
                "subscription_proration_date": None,
            },
            "type": "subscription_details",
        }
        if subscription
        else None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": end,
        "period_start": start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": customer.get("test_clock"),
        "threshold_reason": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    }
    if collection_method == "send_invoice":
        invoice["days_until_due"] = days_until_due
    invoice["lines"]["data"] = [build_line(stripe, invoice_id, spec) for spec in lines]
    recompute(invoice)
    invoice.pop("days_until_due", None)
    stripe.store.put("stripe-internal:invoice_terms", invoice_id, {"days_until_due": days_until_due})
    stripe.save(invoice)
    if announce:
        stripe.emit("invoice.created", invoice, created=created)
    return invoice


def finalize(stripe: Stripe, invoice: dict[str, Any], now: int) -> dict[str, Any]:
    if invoice["status"] != "draft":
        raise StripeError("This invoice is already finalized, you can't re-finalize a non-draft invoice.")
    invoice = dict(invoice)
    customer = stripe.get("customer", invoice["customer"])
    # The rounding of an ISK or UGX amount (see `amount_due`) is owed by, or to, the customer.
    balance = customer["balance"] + invoice["total"] - invoice["amount_due"]
    if balance != customer["balance"]:
        customer = stripe.save({**customer, "balance": balance})
    invoice.update(
        {
            **customer_details(stripe, customer),
            "number": stripe.next_invoice_number(),
            "status": "open",
            "hosted_invoice_url": f"{stripe.base_url}/invoice/{invoice['id']}",
            "invoice_pdf": f"{stripe.base_url}/invoice/{invoice['id']}/pdf",
            "effective_at": now,
            "ending_balance": balance,
            "automatically_finalizes_at": None,
            "status_transitions": {**invoice["status_transitions"], "finalized_at": now},
        }
    )
    if invoice["collection_method"] == "send_invoice":
        terms = stripe.store.get("stripe-internal:invoice_terms", invoice["id"]) or {}
        invoice["due_date"] = now + 86400 * int(terms.get("days_until_due") or 30)
    stripe.save(invoice)
    stripe.emit("invoice.finalized", invoice, created=now)
    if invoice["amount_due"] == 0:
        invoice = mark_paid(stripe, invoice, None, now)
    return invoice


def _record_payment(stripe: Stripe, invoice: dict[str, Any], pi: dict[str, Any], now: int) -> dict[str, Any]:
    record = {
        "id": stripe.new_id("inpay_"),
        "object": "invoice_payment",
        "amount_paid": None,
        "amount_requested": invoice["amount_remaining"],
        "created": now,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"charge": None, "payment_intent": pi["id"], "payment_record": None, "type": "payment_intent"},
        "status": "open",
        "status_transitions": {"canceled_at": None, "paid_at": None},
    }
    for other in stripe.all("invoice_payment"):
        if other["invoice"] == invoice["id"] and other["is_default"]:
            stripe.save({**other, "is_default": False})
    return stripe.save(record)


def _payment_for(stripe: Stripe, invoice_id: str, pi_id: str) -> dict[str, Any] | None:
    return next(
        (
            p
            for p in stripe.all("invoice_payment")
            if p["invoice"] == invoice_id and p["payment"]["payment_intent"] == pi_id
        ),
        None,
    )


def mark_paid(stripe: Stripe, invoice: dict[str, Any], pi: dict[str, Any] | None, now: int) -> dict[str, Any]:
    invoice = dict(invoice)
    invoice.update(
        {
            "status": "paid",
            "amount_paid": invoice["amount_due"],
            "amount_remaining": 0,
            "attempted": True,
            "next_payment_attempt": None,
            "status_transitions": {**invoice["status_transitions"], "paid_at": now},
        }
    )
    stripe.save(invoice)
    if pi is not None:
        record = _payment_for(stripe, invoice["id"], pi["id"])
        if record:
            record = {
                **record,
                "amount_paid": pi["amount_received"],
                "status": "paid",
                "status_transitions": {**record["status_transitions"], "paid_at": now},
            }
            stripe.save(record)
            stripe.emit("invoice_payment.paid", record, created=now)
    stripe.emit("invoice.paid", invoice, created=now)
    stripe.emit("invoice.payment_succeeded", invoice, created=now)
    return invoice


def payment_settled(stripe: Stripe, invoice_id: str, pi: dict[str, Any], now: int) -> dict[str, Any]:
    """Move the invoice along once a payment intent for it has an outcome."""
    invoice = stripe.get("invoice", invoice_id)
    if pi["status"] == "succeeded":
        return mark_paid(stripe, invoice, pi, now)
    invoice.update(
        {
            "next_payment_attempt": now + RETRY_AFTER_FAILURE_S
            if invoice["billing_reason"] == "subscription_cycle"
            else None,
        }
    )
    stripe.save(invoice)
    stripe.emit("invoice.payment_failed", invoice, created=now)
    return invoice


def collect(
    stripe: Stripe, invoice: dict[str, Any], pm: dict[str, Any], now: int, *, session: str | None = None,
    metadata_: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Attempt payment of an open invoice with `pm`: (invoice, payment intent)."""
    invoice = {**invoice, "attempt_count": invoice["attempt_count"] + 1, "attempted": True}
    stripe.save(invoice)
    description = {
        "subscription_create": "Subscription creation",
        "subscription_cycle": "Subscription update",
    }.get(invoice["billing_reason"])
    pi = payments.collect(
        stripe, customer=invoice["customer"], pm=pm, amount=invoice["amount_remaining"], currency=invoice["currency"],
        description=description, metadata_=metadata_, now=now, receipt_email=None,
        purpose={"invoice": invoice["id"], "session": session},
    )  # fmt: skip
    _record_payment(stripe, invoice, pi, now)
    if pi["status"] in ("succeeded", "requires_payment_method"):
        invoice = payment_settled(stripe, invoice["id"], pi, now)
    return invoice, pi


def attach_paid_intent(stripe: Stripe, invoice: dict[str, Any], pi: dict[str, Any], now: int) -> dict[str, Any]:
    """Checkout's payment-mode invoice: created after the payment, paid by it."""
    _record_payment(stripe, invoice, pi, now)
    invoice = {**invoice, "attempt_count": 1, "attempted": True}
    return mark_paid(stripe, invoice, pi, now)


def payments_list(stripe: Stripe, invoice_id: str) -> dict[str, Any]:
    items = [p for p in newest_first(stripe.all("invoice_payment")) if p["invoice"] == invoice_id]
    return list_object(items, f"/v1/invoice_payments?invoice={invoice_id}", total_count=len(items))


def default_payment_method(stripe: Stripe, invoice: dict[str, Any]) -> dict[str, Any] | None:
    pm_id = invoice.get("default_payment_method")
    parent = invoice.get("parent") or {}
    if not pm_id and parent.get("subscription_details"):
        sub = stripe.find("subscription", parent["subscription_details"]["subscription"])
        pm_id = sub and sub.get("default_payment_method")
    if not pm_id:
        customer = stripe.find("customer", invoice["customer"]) or {}
        pm_id = (customer.get("invoice_settings") or {}).get("default_payment_method")
    return stripe.find("payment_method", pm_id) if pm_id else None
