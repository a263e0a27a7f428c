"""`/v1/payment_method_configurations`: list, retrieve and update, as Stripe has them.

A payment method configuration says which payment methods Stripe offers where the integration
does not name them itself; Checkout Sessions created with `allowed_payment_method_types` only
filter that set, so a method must be on in the configuration Checkout uses (the account's default
one) for customers to see it. References:
https://docs.stripe.com/api/payment_method_configurations (object, list, retrieve, update) and
https://docs.stripe.com/payments/multiple-payment-method-configs (the default configuration).

The sandbox account has one configuration, its default, named "Default" as in a new Stripe
account, with card and SEPA Direct Debit on and available. Each payment method's entry is
`{"available", "display_preference": {"overridable", "preference", "value"}}`: `preference` is the
account's choice (`on`, `off`, `none`), `value` the effective one, and `available` is true when
the value is `on` and the account's capability for the method is active (the reference's wording).
Tests turn a method off with the real API's update, e.g.
`sepa_debit[display_preference][preference]=off`.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

import stripe as stripe_library
import stripe.params as stripe_params
from stripe import StripeObject

from propale_dev.sandbox.stripe.core import Stripe
from propale_dev.sandbox.stripe.errors import StripeError, resource_missing
from propale_dev.sandbox.stripe.forms import as_bool, as_dict
from propale_dev.sandbox.stripe.lists import paginate
from propale_dev.sandbox.stripe.routing import Call, Row

OBJECT = "payment_method_configuration"
# The payment methods whose capability is active on the sandbox account (a French account
# selling in euros): only they can become `available`; others can be turned on but stay
# unavailable, as on a real account that has not activated them.
ACTIVE_CAPABILITIES = frozenset({"card", "sepa_debit"})
ON_BY_DEFAULT = frozenset({"card", "sepa_debit"})
PREFERENCES = ("none", "off", "on")


@functools.cache
def payment_method_fields() -> tuple[str, ...]:
    """Every payment method the pinned library's `PaymentMethodConfiguration` declares.

    Read from the resource class at run time (each method is a nested class with
    `display_preference`), so a bump of `stripe` moves the list with it.
    """
    resource = stripe_library.PaymentMethodConfiguration
    names = []
    for name, hint in resource.__annotations__.items():
        for candidate in typing.get_args(hint) or (hint,):
            if (
                isinstance(candidate, type)
                and issubclass(candidate, StripeObject)
                and "display_preference" in getattr(candidate, "__annotations__", {})
            ):
                names.append(name)
    return tuple(sorted(names))


def _entry(method: str, preference: str) -> dict[str, Any]:
    # `none` leaves the choice to Stripe's default for the method.
    value = preference if preference in ("on", "off") else ("on" if method in ON_BY_DEFAULT else "off")
    return {
        "available": value == "on" and method in ACTIVE_CAPABILITIES,
        "display_preference": {"overridable": None, "preference": preference, "value": value},
    }


def default_configuration(stripe: Stripe) -> dict[str, Any]:
    """The account's default configuration, made on first use (a Stripe account always has one)."""
    for configuration in stripe.all(OBJECT):
        if configuration["is_default"]:
            return configuration
    configuration: dict[str, Any] = {
        "id": stripe.new_id("pmc_"),
        "object": OBJECT,
        "active": True,
        "application": None,
        "is_default": True,
        "livemode": False,
        "name": "Default",
        "parent": None,
    }
    for method in payment_method_fields():
        configuration[method] = _entry(method, "on" if method in ON_BY_DEFAULT else "off")
    return stripe.save(configuration)


def available_methods(stripe: Stripe) -> set[str]:
    """What Checkout may offer when a session does not name a configuration: the default's available methods."""
    configuration = default_configuration(stripe)
    return {method for method in payment_method_fields() if (configuration.get(method) or {}).get("available")}


def _get(stripe: Stripe, configuration_id: str) -> dict[str, Any]:
    default_configuration(stripe)
    configuration = stripe.find(OBJECT, configuration_id)
    if configuration is None:
        raise resource_missing(OBJECT, configuration_id, "configuration")
    return configuration


def list_(call: Call) -> dict[str, Any]:
    default_configuration(call.stripe)
    configurations = list(reversed(call.stripe.all(OBJECT)))
    active = as_bool(call.params, "active")
    if active is not None:
        configurations = [c for c in configurations if c["active"] == active]
    if call.params.get("application"):
        # Child configurations belong to Connect applications; the sandbox account has none.
        configurations = [c for c in configurations if c["application"] == call.params["application"]]
    return paginate(configurations, call.params, "/v1/payment_method_configurations", OBJECT)


def retrieve(call: Call) -> dict[str, Any]:
    return _get(call.stripe, call.path["configuration"])


def update(call: Call) -> dict[str, Any]:
    configuration = dict(_get(call.stripe, call.path["configuration"]))
    params = call.params
    if "name" in params:
        configuration["name"] = str(params["name"])
    active = as_bool(params, "active")
    if active is not None:
        configuration["active"] = active
    for method in payment_method_fields():
        if method not in params:
            continue
        preference = as_dict(as_dict(params, method), "display_preference", param=f"{method}[display_preference]")
        if "preference" not in preference:
            continue
        choice = preference["preference"]
        if choice not in PREFERENCES:
            name = f"{method}[display_preference][preference]"
            # Worded as Stripe's other enum errors ("Invalid mode: must be one of …").
            raise StripeError(f"Invalid {name}: must be one of none, off, or on", param=name)
        configuration[method] = _entry(method, choice)
    return call.stripe.save(configuration)


def routes() -> list[Row]:
    return [
        ("GET", "/v1/payment_method_configurations", list_, stripe_params.PaymentMethodConfigurationListParams),
        (
            "GET",
            "/v1/payment_method_configurations/{configuration}",
            retrieve,
            stripe_params.PaymentMethodConfigurationRetrieveParams,
        ),
        (
            "POST",
            "/v1/payment_method_configurations/{configuration}",
            update,
            stripe_params.PaymentMethodConfigurationUpdateParams,
        ),
    ]
