"""Checkout Sessions: create, retrieve, list, line items, expire.

Paying one (on the hosted page or through the test helper) is in `completion.py`.
"""

from __future__ import annotations

from typing import Any

import stripe.params as stripe_params

from propale.money import maximum_charge, minimum_charge
from propale_dev.sandbox.stripe import catalog, i18n, payment_method_configurations
from propale_dev.sandbox.stripe.core import Stripe, internal
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_bool, as_dict, as_int, as_list, metadata, require
from propale_dev.sandbox.stripe.invoices import taxes_for
from propale_dev.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row

LINE_ITEMS = internal("checkout_line_items")
# Methods that charge only some currencies; the others take any. SEPA Direct Debit is euros only.
METHOD_CURRENCIES = {"sepa_debit": {"eur"}}
LOCALES = {
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr",
    "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl",
    "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
}  # fmt: skip
MIN_EXPIRY_S = 30 * 60
MAX_EXPIRY_S = 24 * 3600
# https://docs.stripe.com/api/checkout/sessions/create, `line_items`: "For payment mode, there is a
# maximum of 100 line items […]. For subscription mode, there is a maximum of 20 line items with
# recurring Prices and 20 line items with one-time Prices."
MAX_PAYMENT_LINES = 100
MAX_SUBSCRIPTION_LINES_PER_KIND = 20


def _line(stripe: Stripe, raw: Any, i: int, currency: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    p = f"line_items[{i}]"
    if not isinstance(raw, dict):
        raise StripeError(f"Invalid {p}: must be a hash", param=p)
    if raw.get("price") and raw.get("price_data"):
        raise StripeError("You may only specify one of these parameters: price, price_data.", param=f"{p}[price]")
    if raw.get("price"):
        price = stripe.get("price", raw["price"], f"{p}[price]")
        if not price["active"]:
            raise StripeError(
                f"The price `{price['id']}` is not available to be purchased because it is not active.",
                param=f"{p}[price]",
            )
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
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": sum(t["amount"] for t in taxes),
        "amount_total": amount + exclusive,
        "currency": price["currency"],
        "description": product["name"],
        "discounts": [],
        "metadata": {},
        "price": price,
        "quantity": quantity,
        "taxes": [
            {
                "amount": t["amount"],
                "rate": rate,
                "taxability_reason": "standard_rated",
                "taxable_amount": t["taxable_amount"],
            }
            for t, rate in zip(taxes, rates, strict=True)
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
    if mode == "payment" and len(raw_lines) > MAX_PAYMENT_LINES:
        raise StripeError(
            f"You can only pass up to {MAX_PAYMENT_LINES} line items in `payment` mode. You passed {len(raw_lines)}.",
            param="line_items",
        )
    items: list[dict[str, Any]] = []
    specs = []
    currency = None
    for i, raw in enumerate(raw_lines):
        item, rates = _line(stripe, raw, i, currency)
        currency = item["currency"]
        items.append(item)
        specs.append(
            {"price": item["price"]["id"], "quantity": item["quantity"], "tax_rates": [r["id"] for r in rates]}
        )
    recurring = [item for item in items if item["price"]["recurring"]]
    if mode == "payment" and recurring:
        raise StripeError(
            "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use "
            "only one-time prices.",
            param="line_items",
        )
    if mode == "subscription":
        if not recurring:
            raise StripeError(
                "You must provide at least one recurring price in `subscription` mode when using prices.",
                param="line_items",
            )
        intervals = {
            (i["price"]["recurring"]["interval"], i["price"]["recurring"]["interval_count"]) for i in recurring
        }
        if len(intervals) > 1:
            raise StripeError(
                "Checkout does not support multiple prices with different billing intervals.", param="line_items"
            )
        for kind, count in (("recurring", len(recurring)), ("one-time", len(items) - len(recurring))):
            if count > MAX_SUBSCRIPTION_LINES_PER_KIND:
                raise StripeError(
                    f"You can only pass up to {MAX_SUBSCRIPTION_LINES_PER_KIND} line items with {kind} prices in "
                    f"`subscription` mode. You passed {count}.",
                    param="line_items",
                )
    assert currency is not None
    total = sum(i["amount_total"] for i in items)
    check_amount_due(total, currency)
    methods = offered_methods(stripe, params, currency)
    expires_at = as_int(params, "expires_at", default=now + MAX_EXPIRY_S)
    assert expires_at is not None
    if expires_at < now + MIN_EXPIRY_S:
        raise StripeError(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.", param="expires_at"
        )
    if expires_at > now + MAX_EXPIRY_S:
        raise StripeError(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.", param="expires_at"
        )
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
                "custom_fields": [{"name": f["name"], "value": f["value"]} for f in as_list(data.get("custom_fields"))]
                or None,
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
        "allowed_payment_method_types": [str(m) for m in as_list(params.get("allowed_payment_method_types"))] or None,
        "amount_subtotal": subtotal,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection") or None,
        "branding_settings": None,
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
        "customer_account": None,
        "customer_creation": customer_creation,
        "customer_details": {"address": None, "business_name": None, "email": customer.get("email"), "individual_name": None,
                             "name": None, "phone": None, "tax_exempt": "none", "tax_ids": None} if customer else None,
        "customer_email": params.get("customer_email") or None,
        "discounts": [],
        "excluded_payment_method_types": [str(m) for m in as_list(params.get("excluded_payment_method_types"))] or None,
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": invoice_creation,
        "livemode": False,
        "locale": locale,
        "managed_payments": None,
        "metadata": metadata(params),
        "mode": mode,
        "name_collection": None,
        "optional_items": None,
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
        "presentment_details": None,
        "recovered_from": None,
        "redirect_on_completion": None,
        "return_url": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type") or None,
        "subscription": None,
        "success_url": success_url,
        "tax_id_collection": {
            "enabled": as_bool(as_dict(params, "tax_id_collection"), "enabled", default=False),
            "required": as_dict(params, "tax_id_collection").get("required") or "never",
        },
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": sum(i["amount_tax"] for i in items)},
        # `hosted` became `hosted_page` at 2026-03-25.dahlia
        # (https://docs.stripe.com/changelog/dahlia/2026-03-25/updates-available-checkout-session-ui-modes).
        "ui_mode": "hosted_page",
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


def check_amount_due(amount: int, currency: str) -> None:
    """The session's total amount due (its first invoice in `subscription` mode: one-off lines and the
    first period of recurring ones, taxes included) within Stripe's charge limits
    (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts), in Stripe's words as
    integrations quote them: "The Checkout Session's total amount due must add up to at least €0.50 eur",
    "… must be no more than …"."""
    least = minimum_charge(currency)
    if least is not None and amount < least:
        raise StripeError(
            "The Checkout Session's total amount due must add up to at least "
            f"{i18n.english_amount(least, currency)} {currency}",
            code="amount_too_small",
        )
    most = maximum_charge(currency)
    if amount > most:
        raise StripeError(
            "The Checkout Session's total amount due must be no more than "
            f"{i18n.english_amount(most, currency)} {currency}",
            code="amount_too_large",
        )


def offered_methods(stripe: Stripe, params: dict[str, Any], currency: str) -> list[str]:
    """The payment methods the session offers, which its `payment_method_types` then lists.

    Since API version 2026-09-30.endive Checkout has no `payment_method_types` parameter: it
    offers the methods available in the account's default payment method configuration (the
    Dashboard's Settings > Payment methods) that suit the session's currency, and
    `allowed_payment_method_types` keeps only those it names, silently dropping the others
    (https://docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-types-checkout-sessions).
    `excluded_payment_method_types` takes some away
    (https://docs.stripe.com/changelog/clover/2025-09-30/exclude-payment-methods-checkout-sessions).
    """
    available = payment_method_configurations.available_methods(stripe)
    eligible = [
        m for m in payment_method_configurations.payment_method_fields()
        if m in available and currency in METHOD_CURRENCIES.get(m, {currency})
    ]  # fmt: skip
    allowed = [str(m) for m in as_list(params.get("allowed_payment_method_types"))]
    excluded = {str(m) for m in as_list(params.get("excluded_payment_method_types"))}
    if allowed:
        eligible = [m for m in dict.fromkeys(allowed) if m in eligible]
    methods = [m for m in eligible if m not in excluded]
    if not methods:
        # Stripe's wording, as integrations quote it (e.g. in their error handling) when no method fits.
        raise StripeError(
            "No valid payment method types for this Checkout Session. Please ensure that you have activated "
            "payment methods compatible with your chosen currency in your dashboard "
            "(https://dashboard.stripe.com/settings/payment_methods)."
        )
    return methods


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
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status '
            f'of "{session["status"]}".',
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
        and (
            not as_dict(params, "customer_details").get("email")
            or (s.get("customer_details") or {}).get("email") == as_dict(params, "customer_details")["email"]
        )
    ]
    return paginate(items, params, "/v1/checkout/sessions", "checkout.session")


def routes() -> list[Row]:
    return [
        ("POST", "/v1/checkout/sessions", create, stripe_params.checkout.SessionCreateParams),
        ("GET", "/v1/checkout/sessions", list_, stripe_params.checkout.SessionListParams),
        ("GET", "/v1/checkout/sessions/{id}", retrieve, stripe_params.checkout.SessionRetrieveParams),
        ("POST", "/v1/checkout/sessions/{id}/expire", expire, stripe_params.checkout.SessionExpireParams),
        ("GET", "/v1/checkout/sessions/{id}/line_items", line_items, stripe_params.checkout.SessionLineItemListParams),
    ]
