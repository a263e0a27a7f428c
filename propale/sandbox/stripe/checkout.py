"""Checkout Sessions: create, retrieve, list, line items, expire.

Paying one (on the hosted page or through the test helper) is in `completion.py`.
"""

from __future__ import annotations

from typing import Any

from propale.sandbox.stripe import catalog
from propale.sandbox.stripe.core import Stripe, internal
from propale.sandbox.stripe.errors import StripeError
from propale.sandbox.stripe.forms import as_bool, as_dict, as_int, as_list, metadata, require
from propale.sandbox.stripe.invoices import taxes_for
from propale.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale.sandbox.stripe.routing import Call

LINE_ITEMS = internal("checkout_line_items")
METHODS = ("card", "sepa_debit")
LOCALES = {
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr",
    "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl",
    "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
}  # fmt: skip
MIN_EXPIRY_S = 30 * 60
MAX_EXPIRY_S = 24 * 3600
CREATE_PARAMS = {
    "mode", "line_items", "success_url", "cancel_url", "customer", "customer_email", "customer_creation",
    "payment_method_types", "metadata", "subscription_data", "payment_intent_data", "invoice_creation", "locale",
    "expires_at", "client_reference_id", "submit_type", "billing_address_collection", "allow_promotion_codes",
    "tax_id_collection", "phone_number_collection", "ui_mode",
}  # fmt: skip


def _line(stripe: Stripe, raw: Any, i: int, currency: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    p = f"line_items[{i}]"
    if not isinstance(raw, dict):
        raise StripeError(f"Invalid {p}: must be a hash", param=p)
    if raw.get("price") and raw.get("price_data"):
        raise StripeError("You may only specify one of these parameters: price, price_data.", param=f"{p}[price]")
    if raw.get("price"):
        price = stripe.get("price", raw["price"], f"{p}[price]")
        if not price["active"]:
            raise StripeError(f"The price `{price['id']}` is not available to be purchased because it is not active.", param=f"{p}[price]")
    elif raw.get("price_data"):
        price = catalog.new_price(stripe, as_dict(raw, "price_data"), f"{p}[price_data][", inline=True)
    else:
        raise StripeError(f"Missing required param: {p}[price].", param=f"{p}[price]", code="parameter_missing")
    quantity = as_int(raw, "quantity", param=f"{p}[quantity]")
    if quantity is None:
        raise StripeError(f"Missing required param: {p}[quantity].", param=f"{p}[quantity]", code="parameter_missing")
    if quantity < 1:
        raise StripeError("Quantity must be greater than or equal to 1.", param=f"{p}[quantity]")
    if currency and price["currency"] != currency:
        raise StripeError("All prices on a Checkout Session must have the same currency.", param=f"{p}[price]")
    rates = [stripe.get("tax_rate", rid, f"{p}[tax_rates][{j}]") for j, rid in enumerate(as_list(raw.get("tax_rates")))]
    amount = price["unit_amount"] * quantity
    taxes = taxes_for(amount, rates)
    exclusive = sum(t["amount"] for t in taxes if t["tax_behavior"] == "exclusive")
    product = stripe.get("product", price["product"])
    item = {
        "id": stripe.new_id("li_"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": sum(t["amount"] for t in taxes),
        "amount_total": amount + exclusive,
        "currency": price["currency"],
        "description": product["name"],
        "metadata": {},
        "price": price,
        "quantity": quantity,
        "taxes": [
            {"amount": t["amount"], "rate": rate, "taxability_reason": "standard_rated", "taxable_amount": t["taxable_amount"]}
            for t, rate in zip(taxes, rates)
        ],
    }
    return item, rates


def create(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    mode = require(params, "mode")
    if mode not in ("payment", "subscription"):
        raise StripeError(
            "Invalid mode: the sandbox simulates `payment` and `subscription` Checkout Sessions.", param="mode"
        )
    if params.get("customer") and params.get("customer_email"):
        raise StripeError("You may only specify one of these parameters: customer, customer_email.", param="customer")
    customer = stripe.get("customer", params["customer"], "customer") if params.get("customer") else None
    now = stripe.clock_time(customer.get("test_clock") if customer else None)
    raw_lines = as_list(params.get("line_items"))
    if not raw_lines:
        raise StripeError("Missing required param: line_items.", param="line_items", code="parameter_missing")
    items: list[dict[str, Any]] = []
    specs = []
    currency = None
    for i, raw in enumerate(raw_lines):
        item, rates = _line(stripe, raw, i, currency)
        currency = item["currency"]
        items.append(item)
        specs.append({"price": item["price"]["id"], "quantity": item["quantity"], "tax_rates": [r["id"] for r in rates]})
    recurring = [item for item in items if item["price"]["recurring"]]
    if mode == "payment" and recurring:
        raise StripeError(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use "
            "only one-time prices.",
            param="line_items",
        )
    if mode == "subscription":
        if not recurring:
            raise StripeError("You must provide at least one recurring price in `subscription` mode when using prices.", param="line_items")
        intervals = {(i["price"]["recurring"]["interval"], i["price"]["recurring"]["interval_count"]) for i in recurring}
        if len(intervals) > 1:
            raise StripeError(
                "Checkout does not support multiple prices with different billing intervals.", param="line_items"
            )
    methods = [str(m) for m in as_list(params.get("payment_method_types"))] or ["card"]
    for j, method in enumerate(methods):
        if method not in METHODS:
            raise StripeError(
                f"Invalid payment_method_types[{j}]: the sandbox supports card and sepa_debit", param=f"payment_method_types[{j}]"
            )
        if method == "sepa_debit" and currency != "eur":
            raise StripeError(
                "The payment method `sepa_debit` cannot be used with currency `%s`." % currency, param=f"payment_method_types[{j}]"
            )
    expires_at = as_int(params, "expires_at", default=now + MAX_EXPIRY_S)
    assert expires_at is not None
    if expires_at < now + MIN_EXPIRY_S:
        raise StripeError("The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.", param="expires_at")
    if expires_at > now + MAX_EXPIRY_S:
        raise StripeError("The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.", param="expires_at")
    locale = params.get("locale") or None
    if locale and locale not in LOCALES:
        raise StripeError(f"Invalid locale: {locale}", param="locale")
    invoice_creation = None
    if "invoice_creation" in params:
        if mode != "payment":
            raise StripeError("You can only set `invoice_creation` in `payment` mode.", param="invoice_creation")
        ic = as_dict(params, "invoice_creation")
        data = as_dict(ic, "invoice_data")
        invoice_creation = {
            "enabled": bool(as_bool(ic, "enabled", param="invoice_creation[enabled]")),
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": [{"name": f["name"], "value": f["value"]} for f in as_list(data.get("custom_fields"))] or None,
                "description": data.get("description") or None,
                "footer": data.get("footer") or None,
                "issuer": None,
                "metadata": metadata(data),
                "rendering_options": None,
            },
        }
    elif mode == "payment":
        invoice_creation = {
            "enabled": False,
            "invoice_data": {"account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                             "issuer": None, "metadata": {}, "rendering_options": None},
        }  # fmt: skip
    subscription_data = as_dict(params, "subscription_data")
    if subscription_data and mode != "subscription":
        raise StripeError("You can only set `subscription_data` in `subscription` mode.", param="subscription_data")
    payment_intent_data = as_dict(params, "payment_intent_data")
    if payment_intent_data and mode != "payment":
        raise StripeError("You can only set `payment_intent_data` in `payment` mode.", param="payment_intent_data")
    success_url = params.get("success_url") or None
    for name in ("success_url", "cancel_url"):
        url = params.get(name)
        if url and not str(url).startswith(("http://", "https://")):
            raise StripeError("Not a valid URL", param=name, code="url_invalid")
    subtotal = sum(i["amount_subtotal"] for i in items)
    total = sum(i["amount_total"] for i in items)
    session_id = stripe.new_id("cs_test_a1", 56)
    customer_creation = params.get("customer_creation") or None
    if customer_creation and (mode != "payment" or customer_creation not in ("always", "if_required")):
        raise StripeError(
            "`customer_creation` can only be `always` or `if_required`, in `payment` mode.", param="customer_creation"
        )
    if mode == "payment" and not customer and not customer_creation:
        customer_creation = "if_required"
    session = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": as_bool(params, "allow_promotion_codes"),
        "amount_subtotal": subtotal,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection") or None,
        "cancel_url": params.get("cancel_url") or None,
        "client_reference_id": params.get("client_reference_id") or None,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None},
        "customer": customer["id"] if customer else None,
        "customer_creation": customer_creation,
        "customer_details": {"address": None, "business_name": None, "email": customer.get("email"), "individual_name": None,
                             "name": None, "phone": None, "tax_exempt": "none", "tax_ids": None} if customer else None,
        "customer_email": params.get("customer_email") or None,
        "discounts": [],
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": invoice_creation,
        "livemode": False,
        "locale": locale,
        "metadata": metadata(params),
        "mode": mode,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always" if mode == "subscription" else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}} if "card" in methods else {},
        "payment_method_types": methods,
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type") or None,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": sum(i["amount_tax"] for i in items)},
        "ui_mode": "hosted",
        "url": f"{stripe.base_url}/c/pay/{session_id}",
        "wallet_options": None,
    }  # fmt: skip
    stripe.store.put(
        LINE_ITEMS,
        session_id,
        {
            "data": items,
            "specs": specs,
            "subscription_data": {
                "metadata": metadata(subscription_data),
                "description": subscription_data.get("description") or None,
            },
            "payment_intent_data": {
                "metadata": metadata(payment_intent_data),
                "description": payment_intent_data.get("description") or None,
                "receipt_email": payment_intent_data.get("receipt_email") or None,
            },
        },
    )
    return stripe.save(session)


def session_extras(stripe: Stripe, session_id: str) -> dict[str, Any]:
    return stripe.store.get(LINE_ITEMS, session_id) or {"data": [], "specs": []}


def line_items_list(stripe: Stripe, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
    items = session_extras(stripe, session_id)["data"]
    return paginate(items, params, f"/v1/checkout/sessions/{session_id}/line_items", "item")


def expire_session(stripe: Stripe, session: dict[str, Any], now: int) -> dict[str, Any]:
    session = {**session, "status": "expired", "url": None}
    stripe.save(session)
    stripe.emit("checkout.session.expired", session, created=now)
    return session


def expire_due(stripe: Stripe) -> None:
    """Sessions whose `expires_at` has passed in their own time (a test clock's or the wall clock)."""
    for session in stripe.all("checkout.session"):
        if session["status"] != "open":
            continue
        now = stripe.customer_time(session.get("customer"))
        if session["expires_at"] <= now:
            expire_session(stripe, session, session["expires_at"])


def fresh(stripe: Stripe, session_id: str, param: str = "session") -> dict[str, Any]:
    """The session, expired first if its time is up (the background sweep may not have run yet)."""
    session = stripe.get("checkout.session", session_id, param)
    if session["status"] == "open" and session["expires_at"] <= stripe.customer_time(session.get("customer")):
        session = expire_session(stripe, session, session["expires_at"])
    return session


# endpoints --------------------------------------------------------------------------------
def retrieve(call: Call) -> dict[str, Any]:
    return fresh(call.stripe, call.path["id"])


def expire(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    session = fresh(stripe, call.path["id"])
    if session["status"] != "open":
        raise StripeError(
            f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status "
            f"of \"{session['status']}\".",
            param="session",
        )
    return expire_session(stripe, session, stripe.customer_time(session.get("customer")))


def line_items(call: Call) -> dict[str, Any]:
    session = call.stripe.get("checkout.session", call.path["id"])
    return line_items_list(call.stripe, session["id"], call.params)


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    expire_due(call.stripe)
    items = [
        s
        for s in newest_first(call.stripe.all("checkout.session"))
        if keep(s)
        and (not params.get("customer") or s.get("customer") == params["customer"])
        and (not params.get("payment_intent") or s.get("payment_intent") == params["payment_intent"])
        and (not params.get("subscription") or s.get("subscription") == params["subscription"])
        and (not params.get("status") or s.get("status") == params["status"])
        and (not params.get("client_reference_id") or s.get("client_reference_id") == params["client_reference_id"])
        and (not as_dict(params, "customer_details").get("email") or (s.get("customer_details") or {}).get("email") == as_dict(params, "customer_details")["email"])
    ]
    return paginate(items, params, "/v1/checkout/sessions", "checkout.session")


def routes() -> list[tuple[str, str, Any, set[str] | None]]:
    page = {"limit", "starting_after", "ending_before"}
    return [
        ("POST", "/v1/checkout/sessions", create, CREATE_PARAMS),
        ("GET", "/v1/checkout/sessions", list_, page | {"customer", "payment_intent", "subscription", "status", "created", "client_reference_id", "customer_details"}),
        ("GET", "/v1/checkout/sessions/{id}", retrieve, set()),
        ("POST", "/v1/checkout/sessions/{id}/expire", expire, set()),
        ("GET", "/v1/checkout/sessions/{id}/line_items", line_items, page),
    ]
