"""Customer tax IDs: `tax_id_data` on customer creation and `/v1/customers/{id}/tax_ids`.

A customer's tax IDs are printed on its invoices and copied into each invoice's `customer_tax_ids`
when it is finalized (https://docs.stripe.com/billing/customer/tax-ids). Stripe checks the value's
format for the type and answers `tax_id_invalid` ("Invalid value for eu_vat.") otherwise, without
asking any government register (https://docs.stripe.com/tax/custom#tax-ids quotes the error).
`fr_siren` came with API version 2026-10-28.endive
(https://docs.stripe.com/changelog/endive/2026-10-28/customer-tax-id-types).
"""

from __future__ import annotations

import re
from typing import Any

import stripe.params as stripe_params

from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import require
from propale_dev.sandbox.stripe.lists import newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row

# The VAT number's format in each EU member state after its country prefix (the European
# Commission's VIES formats; EL is Greece, XI Northern Ireland), as Stripe's examples have them
# (ATU12345678, BE0123456789, DE123456789, FRAB123456789…).
EU_VAT_FORMATS = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}", "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"\d{2,10}", "SE": r"\d{10}01",
    "SI": r"\d{8}", "SK": r"\d{10}", "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
}  # fmt: skip


def _valid(type_: str, value: str) -> bool:
    """The formats the sandbox knows (a SIREN is 9 digits); any other type takes any value."""
    if type_ == "eu_vat":
        pattern = EU_VAT_FORMATS.get(value[:2])
        return pattern is not None and re.fullmatch(pattern, value[2:]) is not None
    if type_ == "fr_siren":
        return re.fullmatch(r"\d{9}", value) is not None
    return True


def _country(type_: str, value: str) -> str:
    """Every type but `eu_vat` starts with its country's code (`fr_siren`); a VAT number says its own."""
    if type_ == "eu_vat":
        return {"EL": "GR", "XI": "GB"}.get(value[:2], value[:2])
    return type_.split("_", 1)[0].upper()


def checked(data: dict[str, Any], prefix: str = "") -> tuple[str, str]:
    """(type, value) of a tax ID to create, or Stripe's error naming `prefix[value]` (`tax_id_data[0][value]`)."""

    def param(name: str) -> str:
        return f"{prefix}[{name}]" if prefix else name

    type_ = str(require(data, "type", param=param("type")))
    value = str(require(data, "value", param=param("value")))
    if not _valid(type_, value):
        raise StripeError(f"Invalid value for {type_}.", code="tax_id_invalid", param=param("value"))
    return type_, value


def new_tax_id(stripe: Stripe, customer: dict[str, Any], type_: str, value: str) -> dict[str, Any]:
    created = stripe.clock_time(customer.get("test_clock"))
    tax_id = {
        "id": stripe.new_id("txi_"),
        "object": "tax_id",
        "country": _country(type_, value),
        "created": created,
        "customer": customer["id"],
        "customer_account": None,
        "livemode": False,
        "owner": {"account": None, "application": None, "customer": customer["id"], "type": "customer"},
        "type": type_,
        "value": value,
        # Stripe checks EU VAT numbers with VIES after the fact; the sandbox never gets an answer.
        "verification": {"status": "pending", "verified_address": None, "verified_name": None}
        if type_ == "eu_vat"
        else None,
    }
    stripe.save(tax_id)
    stripe.emit("customer.tax_id.created", tax_id, created=created)
    return tax_id


def of_customer(stripe: Stripe, customer_id: str) -> list[dict[str, Any]]:
    """The customer's tax IDs in the order they were added (the store's order)."""
    return [t for t in stripe.all("tax_id") if t["customer"] == customer_id and not t.get("deleted")]


def listed(stripe: Stripe, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    items = newest_first(of_customer(stripe, customer_id))
    return paginate(items, params, f"/v1/customers/{customer_id}/tax_ids", "tax_id")


# endpoints --------------------------------------------------------------------------------
def create(call: Call) -> dict[str, Any]:
    customer = call.stripe.get("customer", call.path["customer"], "customer")
    return new_tax_id(call.stripe, customer, *checked(call.params))


def list_(call: Call) -> dict[str, Any]:
    customer = call.stripe.get("customer", call.path["customer"], "customer")
    return listed(call.stripe, customer["id"], call.params)


def _owned(call: Call) -> dict[str, Any]:
    tax_id = call.stripe.get("tax_id", call.path["id"])
    if tax_id["customer"] != call.path["customer"]:
        raise StripeError(f"No such tax_id: '{call.path['id']}'", status=404, code="resource_missing", param="id")
    return tax_id


def retrieve(call: Call) -> dict[str, Any]:
    return _owned(call)


def delete(call: Call) -> dict[str, Any]:
    stripe = call.stripe
    tax_id = _owned(call)
    stripe.save({**tax_id, "deleted": True})
    stripe.emit("customer.tax_id.deleted", tax_id, created=stripe.clock_time(stripe.customer_clock(tax_id["customer"])))
    return {"id": tax_id["id"], "object": "tax_id", "deleted": True}


def routes() -> list[Row]:
    return [
        ("POST", "/v1/customers/{customer}/tax_ids", create, stripe_params.CustomerTaxIdCreateParams),
        ("GET", "/v1/customers/{customer}/tax_ids", list_, stripe_params.CustomerTaxIdListParams),
        ("GET", "/v1/customers/{customer}/tax_ids/{id}", retrieve, stripe_params.CustomerTaxIdRetrieveParams),
        ("DELETE", "/v1/customers/{customer}/tax_ids/{id}", delete, stripe_params.CustomerTaxIdDeleteParams),
    ]
