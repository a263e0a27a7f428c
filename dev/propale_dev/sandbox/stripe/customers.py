"""Customers: create (optionally on a test clock), retrieve, update, delete, list, search."""

from __future__ import annotations

import secrets
import string
from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe import tax_ids
from propale_dev.sandbox.stripe.core import Stripe, changed
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_dict, as_list, check_length, metadata, require
from propale_dev.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale_dev.sandbox.stripe.payment_methods import attach_payment_method
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.search import search_result
from propale_dev.sandbox.stripe.subscriptions import cancel_all_for_customer

EDITABLE = ("name", "email", "phone", "description")
MAX_LENGTHS = {"name": 256, "email": 512, "phone": 20, "description": 5000}  # Stripe's OpenAPI spec
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
SEARCH_FIELDS = {"email", "name", "phone", "created"}
# `invoice_settings.custom_fields` (the client's CustomerCreateParamsInvoiceSettingsCustomField, from
# https://docs.stripe.com/api/customers/create#create_customer-invoice_settings-custom_fields): "up to
# 4 default custom fields", a name "up to 40 characters", a value "up to 140 characters".
MAX_CUSTOM_FIELDS = 4
MAX_CUSTOM_FIELD_NAME = 40
MAX_CUSTOM_FIELD_VALUE = 140
MAX_FOOTER = 5000  # Stripe's OpenAPI spec, `invoice_settings[footer]`


def new_customer(stripe: Stripe, fields: dict[str, Any], *, test_clock: str | None = None) -> dict[str, Any]:
    """Create and announce a customer (also used by Checkout when it creates one)."""
    created = stripe.clock_time(test_clock)
    customer = {
        "id": stripe.new_id("cus_", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": created,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "individual_name": None,
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": test_clock,
    }
    customer.update(fields)
    stripe.save(customer)
    stripe.emit("customer.created", customer, created=created)
    return customer


def _fields(stripe: Stripe, params: dict[str, Any], customer: dict[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in EDITABLE:
        if name in params:
            check_length(params[name], MAX_LENGTHS[name], name)
            fields[name] = params[name] or None
    if "address" in params:
        address = as_dict(params, "address")
        fields["address"] = {key: address.get(key) or None for key in ADDRESS_FIELDS} if address else None
    if "preferred_locales" in params:
        value = params["preferred_locales"]
        fields["preferred_locales"] = value if isinstance(value, list) else ([] if value == "" else [value])
    if "tax_exempt" in params:
        if params["tax_exempt"] not in ("none", "exempt", "reverse"):
            raise StripeError("Invalid tax_exempt: must be one of none, exempt, or reverse", param="tax_exempt")
        fields["tax_exempt"] = params["tax_exempt"]
    if "invoice_settings" in params:
        settings = as_dict(params, "invoice_settings")
        current = dict((customer or {}).get("invoice_settings") or {})
        if "default_payment_method" in settings:
            pm_id = settings["default_payment_method"] or None
            if pm_id:
                pm = stripe.get("payment_method", pm_id, "invoice_settings[default_payment_method]")
                if customer is not None and pm.get("customer") != customer["id"]:
                    raise StripeError(
                        f"The customer does not have a payment method with the ID {pm_id}. The payment method "
                        "must be attached to the customer.",
                        param="invoice_settings[default_payment_method]",
                    )
            current["default_payment_method"] = pm_id
        if "footer" in settings:
            check_length(settings["footer"], MAX_FOOTER, "invoice_settings[footer]")
            current["footer"] = settings["footer"] or None
        if "custom_fields" in settings:
            current["custom_fields"] = custom_fields(settings["custom_fields"], "invoice_settings[custom_fields]")
        fields["invoice_settings"] = {
            "custom_fields": current.get("custom_fields"),
            "default_payment_method": current.get("default_payment_method"),
            "footer": current.get("footer"),
            "rendering_options": current.get("rendering_options"),
        }
    if "invoice_prefix" in params:
        prefix = str(params["invoice_prefix"]).upper()
        if not (3 <= len(prefix) <= 12 and prefix.isalnum()):
            raise StripeError(
                "Invoice prefix must be between 3 and 12 uppercase letters or numbers.", param="invoice_prefix"
            )
        fields["invoice_prefix"] = prefix
    fields["metadata"] = metadata(params, (customer or {}).get("metadata"))
    return fields


def custom_fields(value: Any, param: str) -> list[dict[str, str]] | None:
    """Invoice custom fields within Stripe's limits; `None` when unset (an empty string clears them)."""
    fields = as_list(value)
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise StripeError(f"You can only specify up to {MAX_CUSTOM_FIELDS} custom fields.", param=param)
    result = []
    for i, field in enumerate(fields):
        name = require(field, "name", param=f"{param}[{i}][name]")
        content = require(field, "value", param=f"{param}[{i}][value]")
        check_length(name, MAX_CUSTOM_FIELD_NAME, f"{param}[{i}][name]")
        check_length(content, MAX_CUSTOM_FIELD_VALUE, f"{param}[{i}][value]")
        result.append({"name": name, "value": content})
    return result or None


def create(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    clock_id = params.get("test_clock") or None
    if clock_id:
        stripe.get("test_helpers.test_clock", clock_id, "test_clock")
    invoice_settings = params.pop("invoice_settings", None)
    # Everything is checked before anything is created, so a refusal leaves no customer behind;
    # invoice settings are applied once the customer has its payment method.
    if invoice_settings is not None:
        _fields(stripe, {"invoice_settings": invoice_settings}, None)
    requested_tax_ids = [
        tax_ids.checked(data, f"tax_id_data[{i}]") for i, data in enumerate(as_list(params.get("tax_id_data")))
    ]
    customer = new_customer(stripe, _fields(stripe, params, None), test_clock=clock_id)
    for type_, value in requested_tax_ids:
        tax_ids.new_tax_id(stripe, customer, type_, value)
    if params.get("payment_method"):
        attach_payment_method(stripe, params["payment_method"], customer["id"], param="payment_method")
    if invoice_settings is not None:
        before = stripe.get("customer", customer["id"])
        after = {**before, **_fields(stripe, {"invoice_settings": invoice_settings}, before)}
        stripe.save(after)
        customer = after
    return customer


def retrieve(call: Call) -> dict[str, Any]:
    customer = call.stripe.find("customer", call.path["id"])
    if customer and customer.get("deleted"):
        return {"id": customer["id"], "object": "customer", "deleted": True}
    return call.stripe.get("customer", call.path["id"])


def update(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    before = stripe.get("customer", call.path["id"])
    after = {**before, **_fields(stripe, call.params, before)}
    stripe.save(after)
    previous = changed(before, after)
    if previous:
        stripe.emit("customer.updated", after, created=stripe.clock_time(after.get("test_clock")), previous=previous)
    return after


def delete(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    customer = stripe.get("customer", call.path["id"])
    cancel_all_for_customer(stripe, customer["id"], stripe.clock_time(customer.get("test_clock")))
    stripe.save({**customer, "deleted": True})
    stripe.emit("customer.deleted", customer, created=stripe.clock_time(customer.get("test_clock")))
    return {"id": customer["id"], "object": "customer", "deleted": True}


def _live(stripe: Stripe) -> list[dict[str, Any]]:
    return [c for c in newest_first(stripe.all("customer")) if not c.get("deleted")]


def list_(call: Call) -> dict[str, Any]:
    params = call.params
    keep_created = created_filter(params)
    email = params.get("email")
    clock = params.get("test_clock")
    items = [
        c
        for c in _live(call.stripe)
        if keep_created(c)
        and (email is None or c.get("email") == email)
        and (not clock or c.get("test_clock") == clock)
    ]
    return paginate(items, params, "/v1/customers", "customer")


def search(call: Call) -> dict[str, Any]:
    return search_result(_live(call.stripe), call.params, "/v1/customers/search", SEARCH_FIELDS)


def routes() -> list[Row]:
    return [
        ("POST", "/v1/customers", create, stripe_params.CustomerCreateParams),
        ("GET", "/v1/customers", list_, stripe_params.CustomerListParams),
        ("GET", "/v1/customers/search", search, stripe_params.CustomerSearchParams),
        ("GET", "/v1/customers/{id}", retrieve, stripe_params.CustomerRetrieveParams),
        ("POST", "/v1/customers/{id}", update, stripe_params.CustomerUpdateParams),
        ("DELETE", "/v1/customers/{id}", delete, stripe_params.CustomerDeleteParams),
    ]
