"""Invoice endpoints: invoices made by hand (`billing_reason: manual`), invoice items, invoice payments."""

from __future__ import annotations

from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe.catalog import new_price, new_product
from propale_dev.sandbox.stripe.core import Stripe, changed
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_bool, as_dict, as_int, as_list, metadata, require
from propale_dev.sandbox.stripe.invoices import (
    LineSpec,
    build_line,
    collect,
    default_payment_method,
    finalize,
    mark_paid,
    new_invoice,
    new_invoice_item,
    recompute,
)
from propale_dev.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.search import search_result


def _tax_rates(stripe: Stripe, ids: Any, param: str) -> list[dict[str, Any]]:
    return [stripe.get("tax_rate", rid, f"{param}[{i}]") for i, rid in enumerate(as_list(ids))]


def create_invoice(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    customer = stripe.get("customer", require(params, "customer"), "customer")
    collection = params.get("collection_method") or "charge_automatically"
    if collection not in ("charge_automatically", "send_invoice"):
        raise StripeError(
            "Invalid collection_method: must be one of charge_automatically or send_invoice", param="collection_method"
        )
    days = as_int(params, "days_until_due")
    if collection == "send_invoice" and days is None:
        raise StripeError("Missing required param: days_until_due.", param="days_until_due", code="parameter_missing")
    if collection == "charge_automatically" and days is not None:
        raise StripeError(
            "You can only set days_until_due when collection_method is send_invoice.", param="days_until_due"
        )
    now = stripe.clock_time(customer.get("test_clock"))
    default_rates = _tax_rates(stripe, params.get("default_tax_rates"), "default_tax_rates")
    lines: list[LineSpec] = []
    pending = []
    if params.get("pending_invoice_items_behavior") == "include":
        pending = [ii for ii in stripe.all("invoiceitem") if ii["customer"] == customer["id"] and ii["invoice"] is None]
        for ii in pending:
            price = stripe.get("price", ii["pricing"]["price_details"]["price"])
            lines.append(LineSpec(price, ii["quantity"], ii["tax_rates"] or default_rates, (ii["period"]["start"], ii["period"]["end"]),
                                  invoice_item=ii["id"], description=ii["description"]))  # fmt: skip
    currency = (params.get("currency") or (pending[0]["currency"] if pending else "eur")).lower()
    invoice = new_invoice(
        stripe, customer=customer, currency=currency, billing_reason="manual", created=now, lines=lines,
        metadata_=metadata(params), description=params.get("description") or None, footer=params.get("footer"),
        custom_fields=[{"name": f["name"], "value": f["value"]} for f in as_list(params.get("custom_fields"))] or None,
        auto_advance=bool(as_bool(params, "auto_advance", default=False)), collection_method=collection,
        days_until_due=days, default_tax_rates=default_rates,
    )  # fmt: skip
    if params.get("default_payment_method"):
        stripe.get("payment_method", params["default_payment_method"], "default_payment_method")
        invoice["default_payment_method"] = params["default_payment_method"]
        stripe.save(invoice)
    for ii in pending:
        stripe.save({**ii, "invoice": invoice["id"]})
    return invoice


def create_invoice_item(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    customer = stripe.get("customer", require(params, "customer"), "customer")
    invoice_id = params.get("invoice") or None
    invoice = None
    if invoice_id:
        invoice = stripe.get("invoice", invoice_id, "invoice")
        if invoice["status"] != "draft":
            raise StripeError("You can only add invoice items to draft invoices.", param="invoice")
    quantity = as_int(params, "quantity", default=1) or 1
    if params.get("pricing") and as_dict(params, "pricing").get("price"):
        price = stripe.get("price", as_dict(params, "pricing")["price"], "pricing[price]")
    elif params.get("price_data"):
        price = new_price(stripe, as_dict(params, "price_data"), "price_data[", inline=True)
    else:
        amount = as_int(params, "amount")
        if amount is None:
            raise StripeError(
                "Missing required param: pricing[price] or price_data or amount.",
                param="amount",
                code="parameter_missing",
            )
        product = new_product(stripe, {"name": require(params, "description")})
        price = new_price(
            stripe,
            {"currency": require(params, "currency"), "unit_amount": str(amount), "product": product["id"]},
            inline=True,
        )
    default_rates = invoice["default_tax_rates"] if invoice else []
    rates = _tax_rates(stripe, params.get("tax_rates"), "tax_rates") or default_rates
    now = stripe.clock_time(customer.get("test_clock"))
    item = new_invoice_item(
        stripe, customer=customer, price=price, quantity=quantity, tax_rates=rates, invoice_id=invoice_id,
        subscription_id=None, created=now, description=params.get("description") or None, metadata_=metadata(params),
    )  # fmt: skip
    if invoice:
        spec = LineSpec(price, quantity, rates, (now, now), invoice_item=item["id"], description=item["description"])
        invoice["lines"]["data"].append(build_line(stripe, invoice["id"], spec))
        stripe.save(recompute(invoice))
    stripe.emit("invoiceitem.created", item, created=now)
    return item


def retrieve_invoice_item(call: Call) -> dict[str, Any]:
    return call.stripe.get("invoiceitem", call.path["id"])


def list_invoice_items(call: Call) -> dict[str, Any]:
    params = call.params
    items = [
        ii
        for ii in newest_first(call.stripe.all("invoiceitem"))
        if (not params.get("customer") or ii["customer"] == params["customer"])
        and (not params.get("invoice") or ii["invoice"] == params["invoice"])
        and (as_bool(params, "pending") is None or (ii["invoice"] is None) == as_bool(params, "pending"))
    ]
    return paginate(items, params, "/v1/invoiceitems", "invoiceitem")


def retrieve(call: Call) -> dict[str, Any]:
    return call.stripe.get("invoice", call.path["id"])


def update(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    before = stripe.get("invoice", call.path["id"])
    after = dict(before)
    if before["status"] != "draft" and set(params) - {"metadata", "description", "footer", "expand"}:
        raise StripeError("Finalized invoices can't be updated in this way.")
    for name in ("description", "footer"):
        if name in params:
            after[name] = params[name] or None
    if "auto_advance" in params:
        after["auto_advance"] = as_bool(params, "auto_advance")
    after["metadata"] = metadata(params, before["metadata"])
    previous = changed(before, after)
    if previous:
        stripe.save(after)
        stripe.emit("invoice.updated", after, created=stripe.clock_time(after.get("test_clock")), previous=previous)
    return after


def delete(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    invoice = stripe.get("invoice", call.path["id"])
    if invoice["status"] != "draft":
        raise StripeError("You can only delete draft invoices.")
    stripe.save({**invoice, "deleted": True})
    stripe.emit("invoice.deleted", invoice, created=stripe.clock_time(invoice.get("test_clock")))
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


def finalize_endpoint(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    invoice = stripe.get("invoice", call.path["id"])
    return finalize(stripe, invoice, stripe.clock_time(invoice.get("test_clock")))


def pay(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    invoice = stripe.get("invoice", call.path["id"])
    now = stripe.clock_time(invoice.get("test_clock"))
    if invoice["status"] == "draft":
        invoice = finalize(stripe, invoice, now)
    if invoice["status"] == "paid":
        raise StripeError("Invoice is already paid.")
    if invoice["status"] not in ("open", "uncollectible"):
        raise StripeError(f"You cannot pay an invoice with status {invoice['status']}.")
    if as_bool(params, "paid_out_of_band"):
        invoice = {**invoice, "amount_paid_off_stripe": invoice["amount_remaining"]}
        return mark_paid(stripe, invoice, None, now)
    if params.get("payment_method"):
        pm = stripe.get("payment_method", params["payment_method"], "payment_method")
    else:
        pm = default_payment_method(stripe, invoice)
    if pm is None:
        raise StripeError(
            "This customer has no attached payment source or default payment method. Please consider adding a default "
            "payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.",
        )
    invoice, pi = collect(stripe, invoice, pm, now)
    if pi["status"] == "requires_payment_method":
        error = pi["last_payment_error"]
        raise StripeError(
            error["message"], status=402, type="card_error", code=error["code"],
            extra={"decline_code": error.get("decline_code"), "payment_intent": pi},
        )  # fmt: skip
    return invoice


def _transition(call: Call, status: str, stamp: str, event: str) -> dict[str, Any]:
    stripe = call.stripe
    invoice = stripe.get("invoice", call.path["id"])
    allowed = {"void": ("open", "uncollectible"), "uncollectible": ("open",)}[status]
    if invoice["status"] not in allowed:
        raise StripeError(
            f"You can only set an invoice to {status} if it is {' or '.join(allowed)}; it is {invoice['status']}."
        )
    now = stripe.clock_time(invoice.get("test_clock"))
    invoice = {**invoice, "status": status, "status_transitions": {**invoice["status_transitions"], stamp: now}}
    if status == "void":
        invoice["amount_remaining"] = 0
    stripe.save(invoice)
    stripe.emit(event, invoice, created=now)
    return invoice


def void(call: Call) -> dict[str, Any]:
    return _transition(call, "void", "voided_at", "invoice.voided")


def mark_uncollectible(call: Call) -> dict[str, Any]:
    return _transition(call, "uncollectible", "marked_uncollectible_at", "invoice.marked_uncollectible")


def send(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    invoice = stripe.get("invoice", call.path["id"])
    if invoice["status"] != "open":
        raise StripeError("You can only send an open invoice.")
    stripe.emit("invoice.sent", invoice, created=stripe.clock_time(invoice.get("test_clock")))
    return invoice


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    items = [
        inv
        for inv in newest_first(call.stripe.all("invoice"))
        if not inv.get("deleted")
        and keep(inv)
        and (not params.get("customer") or inv["customer"] == params["customer"])
        and (not params.get("status") or inv["status"] == params["status"])
        and (not params.get("collection_method") or inv["collection_method"] == params["collection_method"])
        and (
            not params.get("subscription")
            or ((inv.get("parent") or {}).get("subscription_details") or {}).get("subscription")
            == params["subscription"]
        )
    ]
    return paginate(items, params, "/v1/invoices", "invoice")


def search(call: Call) -> dict[str, Any]:
    items = [i for i in newest_first(call.stripe.all("invoice")) if not i.get("deleted")]
    return search_result(
        items, call.params, "/v1/invoices/search", {"customer", "number", "status", "total", "created", "currency"}
    )


def lines(call: Call) -> dict[str, Any]:
    invoice = call.stripe.get("invoice", call.path["id"])
    return paginate(invoice["lines"]["data"], call.params, f"/v1/invoices/{invoice['id']}/lines", "line_item")


def list_invoice_payments(call: Call) -> dict[str, Any]:
    params = call.params
    items = [
        p
        for p in newest_first(call.stripe.all("invoice_payment"))
        if (not params.get("invoice") or p["invoice"] == params["invoice"])
        and (
            not as_dict(params, "payment").get("payment_intent")
            or p["payment"]["payment_intent"] == as_dict(params, "payment")["payment_intent"]
        )
    ]
    return paginate(items, params, "/v1/invoice_payments", "invoice_payment")


def retrieve_invoice_payment(call: Call) -> dict[str, Any]:
    return call.stripe.get("invoice_payment", call.path["id"])


def routes() -> list[Row]:
    return [
        ("POST", "/v1/invoices", create_invoice, stripe_params.InvoiceCreateParams),
        ("GET", "/v1/invoices", list_, stripe_params.InvoiceListParams),
        ("GET", "/v1/invoices/search", search, stripe_params.InvoiceSearchParams),
        ("GET", "/v1/invoices/{id}", retrieve, stripe_params.InvoiceRetrieveParams),
        ("POST", "/v1/invoices/{id}", update, stripe_params.InvoiceUpdateParams),
        ("DELETE", "/v1/invoices/{id}", delete, stripe_params.InvoiceDeleteParams),
        ("GET", "/v1/invoices/{id}/lines", lines, stripe_params.InvoiceLineItemListParams),
        ("POST", "/v1/invoices/{id}/finalize", finalize_endpoint, stripe_params.InvoiceFinalizeInvoiceParams),
        ("POST", "/v1/invoices/{id}/pay", pay, stripe_params.InvoicePayParams),
        ("POST", "/v1/invoices/{id}/void", void, stripe_params.InvoiceVoidInvoiceParams),
        (
            "POST",
            "/v1/invoices/{id}/mark_uncollectible",
            mark_uncollectible,
            stripe_params.InvoiceMarkUncollectibleParams,
        ),
        ("POST", "/v1/invoices/{id}/send", send, stripe_params.InvoiceSendInvoiceParams),
        ("POST", "/v1/invoiceitems", create_invoice_item, stripe_params.InvoiceItemCreateParams),
        ("GET", "/v1/invoiceitems", list_invoice_items, stripe_params.InvoiceItemListParams),
        ("GET", "/v1/invoiceitems/{id}", retrieve_invoice_item, stripe_params.InvoiceItemRetrieveParams),
        ("GET", "/v1/invoice_payments", list_invoice_payments, stripe_params.InvoicePaymentListParams),
        ("GET", "/v1/invoice_payments/{id}", retrieve_invoice_payment, stripe_params.InvoicePaymentRetrieveParams),
    ]
