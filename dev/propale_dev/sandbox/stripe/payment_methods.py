"""Payment methods: card and SEPA Direct Debit, created by Checkout or the API, attached to customers."""

from __future__ import annotations

import hashlib
from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe.core import Stripe, internal
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_dict, metadata, require
from propale_dev.sandbox.stripe.lists import newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.test_instruments import (
    CARDS,
    MAGIC_PAYMENT_METHODS,
    TOKENS,
    card_error,
    card_problem,
    iban_ok,
    normalise_card,
    normalise_iban,
)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def billing_details(name: str | None = None, email: str | None = None) -> dict[str, Any]:
    return {
        "address": {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
        "email": email,
        "name": name,
        "phone": None,
        "tax_id": None,
    }


def new_card_method(
    stripe: Stripe, number: str, *, exp_month: int = 12, exp_year: int = 2034, name: str | None = None,
    email: str | None = None, created: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    brand, funding, country = CARDS.get(number, ("visa", "credit", "US"))
    pm = {
        "id": stripe.new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(name, email),
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": country,
            "display_brand": brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": fingerprint(number),
            "funding": funding,
            "generated_from": None,
            "last4": number[-4:],
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created or stripe.wall_time(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "radar_options": None,
        "type": "card",
    }
    _remember_card(stripe, pm["id"], number)
    return stripe.save(pm)


def new_sepa_method(
    stripe: Stripe, iban: str, *, name: str | None = None, email: str | None = None, created: int | None = None
) -> dict[str, Any]:
    pm = {
        "id": stripe.new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(name, email),
        "created": created or stripe.wall_time(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "radar_options": None,
        "sepa_debit": {
            "bank_code": iban[4:9] if len(iban) > 9 else None,
            "branch_code": iban[9:14] if iban.startswith("FR") else "",
            "country": iban[:2],
            "fingerprint": fingerprint(iban),
            "generated_from": {"charge": None, "setup_attempt": None},
            "last4": iban[-4:],
        },
        "type": "sepa_debit",
    }
    _remember_card(stripe, pm["id"], iban)
    return stripe.save(pm)


def _remember_card(stripe: Stripe, pm_id: str, secret: str) -> None:
    # Stripe never shows the full number again; the stand-in needs it to decide the outcome.
    stripe.store.put(internal("payment_method_secret"), pm_id, {"value": secret})


def secret_of(stripe: Stripe, pm_id: str) -> str:
    record = stripe.store.get(internal("payment_method_secret"), pm_id)
    return record["value"] if record else ""


def attach_payment_method(
    stripe: Stripe, pm_id: str, customer_id: str, *, param: str = "payment_method"
) -> dict[str, Any]:
    if pm_id in MAGIC_PAYMENT_METHODS:
        pm = new_card_method(stripe, MAGIC_PAYMENT_METHODS[pm_id])
    else:
        pm = stripe.get("payment_method", pm_id, param)
    customer = stripe.get("customer", customer_id, "customer")
    if pm.get("customer") and pm["customer"] != customer_id:
        raise StripeError("The payment method you provided has already been attached to a customer.", param=param)
    if pm.get("customer") == customer_id:
        return pm
    pm = {**pm, "customer": customer_id}
    stripe.save(pm)
    stripe.emit("payment_method.attached", pm, created=stripe.clock_time(customer.get("test_clock")))
    return pm


def _pm_from_params(stripe: Stripe, params: dict[str, Any]) -> dict[str, Any]:
    type_ = require(params, "type")
    details = billing_details()
    given = as_dict(params, "billing_details")
    details.update({k: given.get(k) or None for k in ("name", "email", "phone") if k in given})
    if type_ == "card":
        card = as_dict(params, "card")
        token = card.get("token")
        if token:
            if token not in TOKENS:
                raise StripeError(f"No such token: '{token}'", status=404, code="resource_missing", param="card[token]")
            number = TOKENS[token]
        else:
            number = normalise_card(require(card, "number", param="card[number]"))
            problem = card_problem(number)
            if problem:
                raise card_error(problem, param="card[number]")
        pm = new_card_method(stripe, number, name=details["name"], email=details["email"])
    elif type_ == "sepa_debit":
        iban = normalise_iban(require(as_dict(params, "sepa_debit"), "iban", param="sepa_debit[iban]"))
        if not iban_ok(iban):
            raise StripeError(
                "The IBAN you entered is invalid.", param="sepa_debit[iban]", code="invalid_bank_account_iban"
            )
        pm = new_sepa_method(stripe, iban, name=details["name"], email=details["email"])
    else:
        raise StripeError("Invalid type: must be one of card or sepa_debit (in this sandbox)", param="type")
    pm = {**pm, "billing_details": details, "metadata": metadata(params)}
    return stripe.save(pm)


def create_payment_method(call: Call) -> dict[str, Any]:
    return _pm_from_params(call.stripe, call.params)


def retrieve_payment_method(call: Call) -> dict[str, Any]:
    return call.stripe.get("payment_method", call.path["id"])


def attach(call: Call) -> dict[str, Any]:
    customer = require(call.params, "customer")
    return attach_payment_method(call.stripe, call.path["id"], customer, param="id")


def detach(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    pm = stripe.get("payment_method", call.path["id"])
    if not pm.get("customer"):
        raise StripeError("The payment method you provided is not attached to a customer so detachment is impossible.")
    previous_customer = pm["customer"]
    pm = {**pm, "customer": None}
    stripe.save(pm)
    stripe.emit(
        "payment_method.detached",
        pm,
        created=stripe.customer_time(previous_customer),
        previous={"customer": previous_customer},
    )
    return pm


def list_payment_methods(call: Call) -> dict[str, Any]:
    params = call.params
    customer = params.get("customer") or call.path.get("customer")
    if customer:
        call.stripe.get("customer", customer, "customer")
    type_ = params.get("type")
    items = [
        pm
        for pm in newest_first(call.stripe.all("payment_method"))
        if (not customer or pm.get("customer") == customer) and (not type_ or pm["type"] == type_)
    ]
    url = f"/v1/customers/{customer}/payment_methods" if call.path.get("customer") else "/v1/payment_methods"
    return paginate(items, params, url, "payment_method")


def routes() -> list[Row]:
    return [
        ("POST", "/v1/payment_methods", create_payment_method, stripe_params.PaymentMethodCreateParams),
        ("GET", "/v1/payment_methods", list_payment_methods, stripe_params.PaymentMethodListParams),
        ("GET", "/v1/payment_methods/{id}", retrieve_payment_method, stripe_params.PaymentMethodRetrieveParams),
        ("POST", "/v1/payment_methods/{id}/attach", attach, stripe_params.PaymentMethodAttachParams),
        ("POST", "/v1/payment_methods/{id}/detach", detach, stripe_params.PaymentMethodDetachParams),
        (
            "GET",
            "/v1/customers/{customer}/payment_methods",
            list_payment_methods,
            stripe_params.CustomerPaymentMethodListParams,
        ),
    ]
