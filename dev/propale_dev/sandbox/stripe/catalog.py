"""Products, prices and tax rates."""

from __future__ import annotations

import re
from typing import Any

import stripe.params as stripe_params

from propale.money import THREE_DECIMAL_CURRENCIES, charge_step
from propale_dev.sandbox.stripe.core import Stripe, changed
from propale_dev.sandbox.stripe.errors import StripeError
from propale_dev.sandbox.stripe.forms import as_bool, as_dict, as_int, as_list, check_length, metadata, require
from propale_dev.sandbox.stripe.lists import created_filter, newest_first, paginate
from propale_dev.sandbox.stripe.routing import Call, Row
from propale_dev.sandbox.stripe.search import search_result

# A subset of Stripe's presentment currencies (https://docs.stripe.com/currencies), with an example
# of each of its special cases: zero-decimal (JPY, KRW, XOF…), three-decimal (BHD, JOD, KWD, OMR,
# TND), two decimals always 00 (ISK, UGX), zero-decimal for payouts only (HUF, TWD).
CURRENCIES = {
    "eur", "usd", "gbp", "chf", "cad", "aud", "nzd", "jpy", "krw", "sek", "dkk", "nok", "pln", "czk", "ron",
    "huf", "twd", "isk", "ugx", "bhd", "jod", "kwd", "omr", "tnd", "mad", "xof", "xaf", "xpf", "clp", "vnd",
    "brl", "mxn", "inr", "idr", "cop", "zar", "hkd", "sgd", "aed", "ils", "thb", "myr", "php",
}  # fmt: skip
INTERVALS = ("day", "week", "month", "year")


# products ---------------------------------------------------------------------------------
PRODUCT_NAME_MAX = 5000


def new_product(stripe: Stripe, params: dict[str, Any], param_prefix: str = "") -> dict[str, Any]:
    name = require(params, "name", param=f"{param_prefix}name")
    check_length(name, PRODUCT_NAME_MAX, f"{param_prefix}name")
    now = stripe.wall_time()
    product = {
        "id": params.get("id") or stripe.new_id("prod_", 14),
        "object": "product",
        "active": as_bool(params, "active", default=True),
        "created": now,
        "default_price": None,
        "description": params.get("description") or None,
        "images": [str(i) for i in as_list(params.get("images"))],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata(params),
        "name": name,
        "package_dimensions": None,
        "shippable": as_bool(params, "shippable"),
        "statement_descriptor": params.get("statement_descriptor") or None,
        "tax_code": params.get("tax_code") or None,
        "tax_details": _tax_details(params.get("tax_code") or None),
        "type": "service",
        "unit_label": params.get("unit_label") or None,
        "updated": now,
        "url": params.get("url") or None,
    }
    stripe.save(product)
    stripe.emit("product.created", product, created=now)
    return product


def _tax_details(tax_code: str | None) -> dict[str, Any] | None:
    """The product's `tax_details` hash, which carries its `tax_code` (no performance location here)."""
    return {"performance_location": None, "tax_code": tax_code} if tax_code else None


def create_product(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    if params.get("id"):
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,200}", str(params["id"])):
            raise StripeError("Invalid product id: use letters, digits, '_' and '-'.", param="id")
        if stripe.find("product", params["id"]):
            raise StripeError("Product already exists.", param="id", code="resource_already_exists")
    product = new_product(stripe, params)
    if "default_price_data" in params:
        data = as_dict(params, "default_price_data")
        price = new_price(stripe, {**data, "product": product["id"]}, "default_price_data[")
        product = {**product, "default_price": price["id"]}
        stripe.save(product)
    return product


def retrieve_product(call: Call) -> dict[str, Any]:
    return call.stripe.get("product", call.path["id"])


def update_product(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    before = stripe.get("product", call.path["id"])
    after = dict(before)
    for name in ("name", "description", "statement_descriptor", "tax_code", "unit_label", "url"):
        if name in params:
            if name == "name" and not params[name]:
                raise StripeError("You cannot unset the name of a product.", param="name")
            if name == "name":
                check_length(params[name], PRODUCT_NAME_MAX, name)
            after[name] = params[name] or None
    after["tax_details"] = _tax_details(after["tax_code"])
    if "active" in params:
        after["active"] = as_bool(params, "active")
    if "default_price" in params:
        if params["default_price"]:
            price = stripe.get("price", params["default_price"], "default_price")
            if price["product"] != before["id"]:
                raise StripeError("The default price must belong to this product.", param="default_price")
        after["default_price"] = params["default_price"] or None
    after["metadata"] = metadata(params, before["metadata"])
    previous = changed(before, after)
    if previous:
        after["updated"] = stripe.wall_time()
        stripe.save(after)
        stripe.emit("product.updated", after, created=after["updated"], previous=previous)
    return after


def list_products(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    active = as_bool(params, "active")
    ids = set(as_list(params.get("ids"))) or None
    items = [
        p
        for p in newest_first(call.stripe.all("product"))
        if keep(p) and (active is None or p["active"] == active) and (ids is None or p["id"] in ids)
    ]
    return paginate(items, params, "/v1/products", "product")


def search_products(call: Call) -> dict[str, Any]:
    items = newest_first(call.stripe.all("product"))
    return search_result(items, call.params, "/v1/products/search", {"name", "active", "description", "created"})


# prices -----------------------------------------------------------------------------------
def currency_of(params: dict[str, Any], param: str = "currency") -> str:
    currency = str(require(params, "currency", param=param)).lower()
    if currency not in CURRENCIES:
        raise StripeError(f"Invalid currency: {currency}.", param=param)
    return currency


def check_charge_step(amount: int, currency: str, param: str) -> None:
    """Three-decimal currencies take amounts whose last digit is 0: "To ensure compatibility with
    Stripe's payments partners, these API calls require the least-significant (last) digit to be 0"
    (https://docs.stripe.com/currencies#three-decimal). ISK and UGX, whose minor units never carry a
    fraction of a unit, are rounded on invoices instead (see `invoices.recompute`)."""
    step = charge_step(currency)
    if currency.upper() in THREE_DECIMAL_CURRENCIES and amount % step:
        raise StripeError(
            f"Invalid amount: {amount}. Amounts in {currency} must be a multiple of {step}, since the last digit "
            "of a three-decimal currency's amount must be 0.",
            param=param,
        )


def recurring_of(value: Any, param: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise StripeError("Invalid hash", param=param)
    interval = require(value, "interval", param=f"{param}[interval]")
    if interval not in INTERVALS:
        raise StripeError(
            f"Invalid {param}[interval]: must be one of day, week, month, or year", param=f"{param}[interval]"
        )
    count = as_int(value, "interval_count", param=f"{param}[interval_count]", default=1)
    assert count is not None
    limit = {"day": 1095, "week": 156, "month": 36, "year": 3}[interval]
    if count < 1 or count > limit:
        raise StripeError(
            "The maximum billing interval is three years (1095 days, 156 weeks or 36 months).",
            param=f"{param}[interval_count]",
        )
    return {
        "interval": interval,
        "interval_count": count,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def new_price(stripe: Stripe, params: dict[str, Any], prefix: str = "", *, inline: bool = False) -> dict[str, Any]:
    """A price from `/v1/prices` params, or from a `price_data` hash (inline: not reusable, inactive)."""

    def p(name: str) -> str:
        return f"{prefix}{name}]" if prefix else name

    currency = currency_of(params, p("currency"))
    if params.get("product_data"):
        product = new_product(
            stripe, as_dict(params, "product_data"), f"{prefix}product_data][" if prefix else "product_data["
        )
        product_id = product["id"]
    else:
        product_id = require(params, "product", param=p("product"))
        stripe.get("product", product_id, p("product"))
    if params.get("unit_amount_decimal") not in (None, ""):
        try:
            amount = round(float(params["unit_amount_decimal"]))
        except ValueError:
            raise StripeError("Invalid decimal", param=p("unit_amount_decimal")) from None
    else:
        amount = as_int(params, "unit_amount", param=p("unit_amount"))
        if amount is None:
            raise StripeError(
                f"Missing required param: {p('unit_amount')}.", param=p("unit_amount"), code="parameter_missing"
            )
    if amount < 0:
        raise StripeError("This value must be greater than or equal to 0.", param=p("unit_amount"))
    check_charge_step(amount, currency, p("unit_amount"))
    recurring = recurring_of(params.get("recurring"), p("recurring"))
    tax_behavior = params.get("tax_behavior") or "unspecified"
    if tax_behavior not in ("exclusive", "inclusive", "unspecified"):
        raise StripeError(
            "Invalid tax_behavior: must be one of exclusive, inclusive, or unspecified", param=p("tax_behavior")
        )
    lookup_key = params.get("lookup_key") or None
    if lookup_key:
        holder = next((x for x in stripe.all("price") if x.get("lookup_key") == lookup_key), None)
        if holder:
            if as_bool(params, "transfer_lookup_key"):
                stripe.save({**holder, "lookup_key": None})
            else:
                raise StripeError(f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
    now = stripe.wall_time()
    price = {
        "id": stripe.new_id("price_"),
        "object": "price",
        "active": False if inline else as_bool(params, "active", default=True),
        "billing_scheme": "per_unit",
        "created": now,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata(params) if not inline else {},
        "nickname": params.get("nickname") or None,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": tax_behavior,
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }
    stripe.save(price)
    if not inline:
        stripe.emit("price.created", price, created=now)
    return price


def create_price(call: Call) -> dict[str, Any]:
    return new_price(call.stripe, call.params)


def retrieve_price(call: Call) -> dict[str, Any]:
    return call.stripe.get("price", call.path["id"])


def update_price(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    before = stripe.get("price", call.path["id"])
    after = dict(before)
    if "active" in params:
        after["active"] = as_bool(params, "active")
    if "nickname" in params:
        after["nickname"] = params["nickname"] or None
    if "lookup_key" in params:
        key = params["lookup_key"] or None
        holder = next(
            (x for x in stripe.all("price") if key and x.get("lookup_key") == key and x["id"] != before["id"]), None
        )
        if holder:
            if not as_bool(params, "transfer_lookup_key"):
                raise StripeError(f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
            stripe.save({**holder, "lookup_key": None})
        after["lookup_key"] = key
    after["metadata"] = metadata(params, before["metadata"])
    previous = changed(before, after)
    if previous:
        stripe.save(after)
        stripe.emit("price.updated", after, created=stripe.wall_time(), previous=previous)
    return after


def list_prices(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    active = as_bool(params, "active")
    lookup_keys = set(as_list(params.get("lookup_keys"))) or None
    recurring = as_dict(params, "recurring")
    items = [
        x
        for x in newest_first(call.stripe.all("price"))
        if keep(x)
        and (active is None or x["active"] == active)
        and (not params.get("product") or x["product"] == params["product"])
        and (not params.get("currency") or x["currency"] == params["currency"])
        and (not params.get("type") or x["type"] == params["type"])
        and (lookup_keys is None or x.get("lookup_key") in lookup_keys)
        and (not recurring.get("interval") or (x["recurring"] or {}).get("interval") == recurring["interval"])
    ]
    return paginate(items, params, "/v1/prices", "price")


def search_prices(call: Call) -> dict[str, Any]:
    items = newest_first(call.stripe.all("price"))
    return search_result(
        items, call.params, "/v1/prices/search", {"active", "currency", "lookup_key", "product", "type", "created"}
    )


# tax rates --------------------------------------------------------------------------------
def create_tax_rate(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    display_name = require(params, "display_name")
    inclusive = as_bool(params, "inclusive")
    if inclusive is None:
        raise StripeError("Missing required param: inclusive.", param="inclusive", code="parameter_missing")
    try:
        percentage = float(require(params, "percentage"))
    except ValueError:
        raise StripeError("Invalid decimal: percentage", param="percentage") from None
    if not 0 <= percentage <= 100:
        raise StripeError("Percentage must be between 0 and 100.", param="percentage")
    now = stripe.wall_time()
    rate = {
        "id": stripe.new_id("txr_"),
        "object": "tax_rate",
        "active": as_bool(params, "active", default=True),
        "country": params.get("country") or None,
        "created": now,
        "description": params.get("description") or None,
        "display_name": display_name,
        "effective_percentage": percentage,
        "flat_amount": None,
        "inclusive": inclusive,
        "jurisdiction": params.get("jurisdiction") or None,
        "jurisdiction_level": None,
        "livemode": False,
        "metadata": metadata(params),
        "percentage": percentage,
        "rate_type": "percentage",
        "state": params.get("state") or None,
        "tax_type": params.get("tax_type") or None,
    }
    stripe.save(rate)
    stripe.emit("tax_rate.created", rate, created=now)
    return rate


def retrieve_tax_rate(call: Call) -> dict[str, Any]:
    return call.stripe.get("tax_rate", call.path["id"])


def update_tax_rate(call: Call) -> dict[str, Any]:
    stripe, params = call.stripe, call.params
    before = stripe.get("tax_rate", call.path["id"])
    after = dict(before)
    for name in ("display_name", "description", "jurisdiction", "country", "state", "tax_type"):
        if name in params:
            after[name] = params[name] or None
    if "active" in params:
        after["active"] = as_bool(params, "active")
    after["metadata"] = metadata(params, before["metadata"])
    previous = changed(before, after)
    if previous:
        stripe.save(after)
        stripe.emit("tax_rate.updated", after, created=stripe.wall_time(), previous=previous)
    return after


def list_tax_rates(call: Call) -> dict[str, Any]:
    params = call.params
    keep = created_filter(params)
    active = as_bool(params, "active")
    inclusive = as_bool(params, "inclusive")
    items = [
        x
        for x in newest_first(call.stripe.all("tax_rate"))
        if keep(x) and (active is None or x["active"] == active) and (inclusive is None or x["inclusive"] == inclusive)
    ]
    return paginate(items, params, "/v1/tax_rates", "tax_rate")


def routes() -> list[Row]:
    return [
        ("POST", "/v1/products", create_product, stripe_params.ProductCreateParams),
        ("GET", "/v1/products", list_products, stripe_params.ProductListParams),
        ("GET", "/v1/products/search", search_products, stripe_params.ProductSearchParams),
        ("GET", "/v1/products/{id}", retrieve_product, stripe_params.ProductRetrieveParams),
        ("POST", "/v1/products/{id}", update_product, stripe_params.ProductUpdateParams),
        ("POST", "/v1/prices", create_price, stripe_params.PriceCreateParams),
        ("GET", "/v1/prices", list_prices, stripe_params.PriceListParams),
        ("GET", "/v1/prices/search", search_prices, stripe_params.PriceSearchParams),
        ("GET", "/v1/prices/{id}", retrieve_price, stripe_params.PriceRetrieveParams),
        ("POST", "/v1/prices/{id}", update_price, stripe_params.PriceUpdateParams),
        ("POST", "/v1/tax_rates", create_tax_rate, stripe_params.TaxRateCreateParams),
        ("GET", "/v1/tax_rates", list_tax_rates, stripe_params.TaxRateListParams),
        ("GET", "/v1/tax_rates/{id}", retrieve_tax_rate, stripe_params.TaxRateRetrieveParams),
        ("POST", "/v1/tax_rates/{id}", update_tax_rate, stripe_params.TaxRateUpdateParams),
    ]
