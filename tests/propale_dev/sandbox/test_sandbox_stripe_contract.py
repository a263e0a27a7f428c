"""The Stripe stand-in accepts exactly the parameters the pinned `stripe` library defines.

Each `/v1` route is checked against the `stripe.params` TypedDict the library declares for that
call, so a parameter Stripe removed (Checkout's `payment_method_types`, gone at API version
2026-09-30.endive) is refused here as the real API refuses it, instead of passing unnoticed.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil
import re
import time

import httpx
import pytest
import stripe
import stripe.params as stripe_params

import propale_dev.sandbox.stripe
from propale_dev.sandbox.stripe import contract
from propale_dev.sandbox.stripe.errors import StripeError
from support.stripe_sandbox import Catalog, complete, new_customer

# Endpoints the sandbox adds under Stripe's `test_helpers` namespace that Stripe itself does not have.
SANDBOX_ONLY = {("POST", "/v1/test_helpers/checkout/sessions/{}/complete")}


def _session_params(catalog: Catalog, customer: stripe.Customer, **extra: object) -> dict[str, object]:
    return {
        "mode": "subscription",
        "customer": customer.id,
        "line_items": [catalog.line(catalog.desk)],
        "success_url": "https://propale.example/merci",
        "cancel_url": "https://propale.example/p/abc",
        **extra,
    }


# --- through the official client -----------------------------------------------------------
def test_payment_method_types_is_refused_as_stripe_refuses_it_since_endive(client, catalog):
    customer = new_customer(client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(_session_params(catalog, customer, payment_method_types=["card"]))
    error = raised.value
    assert error.http_status == 400 and error.code == "parameter_unknown"
    assert error.param == "payment_method_types"
    assert error.user_message == "Received unknown parameter: payment_method_types"
    assert error.error.type == "invalid_request_error"
    assert client.v1.checkout.sessions.list({"customer": customer.id}).data == [], "nothing was created"


def test_an_unknown_nested_parameter_is_named_in_brackets(client, catalog):
    line = {"price_data": {"currency": "eur", "unit_amount": 1000, "product_data": {"name": "Salle"}, "foo": "bar"},
            "quantity": 1}  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            _session_params(catalog, new_customer(client), mode="payment", line_items=[line])
        )
    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "line_items[0][price_data][foo]"
    assert raised.value.user_message == "Received unknown parameter: line_items[0][price_data][foo]"


def test_sepa_only_session_offers_only_sepa_on_the_page_and_in_the_helper(client, catalog):
    session = client.v1.checkout.sessions.create(
        _session_params(catalog, new_customer(client), allowed_payment_method_types=["sepa_debit"])
    )
    assert session.payment_method_types == ["sepa_debit"]
    page = httpx.get(session.url).text
    assert re.search(r'<input[^>]*id="iban"', page) and not re.search(r'<input[^>]*id="cardNumber"', page)
    with pytest.raises(stripe.InvalidRequestError):
        complete(client, session.id, card_number="4242424242424242")
    paid = complete(client, session.id, iban="FR1420041010050500013M02606", name="Camille Martin")
    assert paid["status"] == "complete"


def test_allowed_methods_are_filtered_by_what_the_account_offers_for_the_currency(client, catalog):
    usd = client.v1.prices.create({"currency": "usd", "unit_amount": 1000, "product_data": {"name": "Desk pass"}})
    session = client.v1.checkout.sessions.create(
        {"mode": "payment", "line_items": [{"price": usd.id, "quantity": 1}], "success_url": "https://propale.example/ok",
         "allowed_payment_method_types": ["sepa_debit", "card"]}
    )  # fmt: skip
    assert session.payment_method_types == ["card"], "SEPA Direct Debit charges euros only: silently left out"
    card_only = client.v1.checkout.sessions.create(
        _session_params(catalog, new_customer(client), excluded_payment_method_types=["sepa_debit"])
    )
    assert card_only.payment_method_types == ["card"]
    with pytest.raises(stripe.InvalidRequestError, match="No valid payment method types"):
        client.v1.checkout.sessions.create(
            _session_params(catalog, new_customer(client), allowed_payment_method_types=["ideal"])
        )


def test_a_method_turned_off_in_the_account_is_no_longer_offered(client, catalog):
    [default] = [c for c in client.v1.payment_method_configurations.list().data if c.is_default]
    client.v1.payment_method_configurations.update(
        default.id, {"sepa_debit": {"display_preference": {"preference": "off"}}}
    )
    try:
        session = client.v1.checkout.sessions.create(
            _session_params(catalog, new_customer(client), allowed_payment_method_types=["card", "sepa_debit"])
        )
        assert session.payment_method_types == ["card"]
        with pytest.raises(stripe.InvalidRequestError, match="No valid payment method types"):
            client.v1.checkout.sessions.create(
                _session_params(catalog, new_customer(client), allowed_payment_method_types=["sepa_debit"])
            )
    finally:
        client.v1.payment_method_configurations.update(
            default.id, {"sepa_debit": {"display_preference": {"preference": "on"}}}
        )


def test_enums_and_empty_strings_are_checked_as_stripe_does(client, catalog):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(
            _session_params(catalog, new_customer(client), billing_address_collection="sometimes")
        )
    assert raised.value.param == "billing_address_collection"
    assert raised.value.user_message == "Invalid billing_address_collection: must be one of auto or required"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.create({"email": "vide@exemple.fr", "address": {"line1": "1 rue Neuve", "line2": ""}})
    assert raised.value.code == "parameter_invalid_empty" and raised.value.param == "address[line2]"
    # Where the library declares `Literal[""]`, an empty string unsets the param.
    customer = client.v1.customers.create({"email": "vide@exemple.fr", "address": {"line1": "1 rue Neuve"}})
    assert client.v1.customers.update(customer.id, {"address": ""}).address is None


def test_request_options_are_headers_not_parameters(client, sandbox_config):
    customer = client.v1.customers.create({"email": "options@exemple.fr"}, {"idempotency_key": f"k-{time.time_ns()}"})
    assert customer.email == "options@exemple.fr"
    response = httpx.post(
        f"{sandbox_config.stripe_url}/v1/customers",
        data={"email": "x@exemple.fr", "idempotency_key": "abc"},
        auth=(sandbox_config.stripe_secret_key, ""),
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "idempotency_key"


# --- every route names its contract --------------------------------------------------------
def _library_endpoints() -> dict[tuple[str, str], type]:
    """(method, path with `{}` for ids) → the params class the library's service method takes."""
    root = pathlib.Path(stripe.__file__).parent
    endpoints: dict[tuple[str, str], type] = {}
    for source in root.rglob("_*_service.py"):
        tree = ast.parse(source.read_text())
        modules = {
            alias.asname or alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stripe.params")
            for alias in node.names
        }
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            annotation = next((a.annotation for a in function.args.args if a.arg == "params" and a.annotation), None)
            name = re.search(r"(\w+Params)\b", ast.unparse(annotation)) if annotation is not None else None
            for call in ast.walk(function):
                if name and isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "_request":
                    url = (
                        call.args[1].func.value if isinstance(call.args[1], ast.Call) else call.args[1]
                    )  # "…".format(…)
                    key = (call.args[0].value.upper(), re.sub(r"\{[^}]*\}", "{}", url.value))
                    endpoints[key] = getattr(importlib.import_module(modules[name[1]]), name[1])
    return endpoints


def _route_tables() -> list[tuple]:
    """Every `(method, path, handler, accepts)` row of the stand-in's modules (app.py serves them all)."""
    rows = []
    for info in pkgutil.iter_modules(propale_dev.sandbox.stripe.__path__):
        module = importlib.import_module(f"propale_dev.sandbox.stripe.{info.name}")
        routes = getattr(module, "routes", None)
        if callable(routes) and not inspect.signature(routes).parameters:  # pages.routes(stripe) builds pages
            rows += routes()
    return rows


def test_every_stripe_route_names_the_params_class_the_library_uses_for_it():
    endpoints = _library_endpoints()
    assert len(endpoints) > 300, "the library's services were read"
    rows = _route_tables()
    assert len(rows) > 60
    for method, path, _handler, accepts in rows:
        key = (method, re.sub(r"\{[^}]*\}", "{}", path))
        if key in SANDBOX_ONLY:
            assert key not in endpoints and isinstance(accepts, frozenset), path
            continue
        assert key in endpoints, f"{method} {path}: Stripe has no such endpoint"
        assert accepts is endpoints[key], f"{method} {path} should be checked against {endpoints[key].__name__}"


# --- contract.py on its own ----------------------------------------------------------------
def test_the_schema_comes_from_the_library_without_client_options():
    fields = contract.schema(stripe_params.checkout.SessionCreateParams)
    assert "allowed_payment_method_types" in fields and "excluded_payment_method_types" in fields
    assert "payment_method_types" not in fields
    assert not {"api_key", "idempotency_key", "stripe_version", "stripe_account", "headers"} & set(fields)
    assert "expand" in fields and "expand" in contract.schema(stripe_params.CustomerListParams)
    assert fields["mode"].enum == ("payment", "setup", "subscription")
    assert contract.schema(stripe_params.checkout.SessionCreateParams) is fields, "cached per class"


@pytest.mark.parametrize(
    ("params_class", "params", "param", "code"),
    [
        (
            stripe_params.CustomerListParams,
            {"email": "a@b.fr", "created": {"gte": "1", "around": "2"}},
            "created[around]",
            "parameter_unknown",
        ),
        (stripe_params.CustomerListParams, {"expand": ["data.test_clock"], "limit": "3"}, None, None),
        (stripe_params.CustomerCreateParams, {"metadata": {"any_key": "x", "gone": ""}}, None, None),
        (stripe_params.CustomerUpdateParams, {"metadata": "", "address": "", "tax": {"ip_address": ""}}, None, None),
        (stripe_params.CustomerCreateParams, {"preferred_locales": "fr"}, "preferred_locales", None),
        (stripe_params.CustomerCreateParams, {"name": {"first": "Camille"}}, "name", None),
        (stripe_params.CustomerCreateParams, {"tax_exempt": "maybe"}, "tax_exempt", None),
        (
            stripe_params.checkout.SessionCreateParams,
            {"allowed_payment_method_types": ["card", "cheque"]},
            "allowed_payment_method_types[1]",
            None,
        ),
        (
            stripe_params.checkout.SessionCreateParams,
            {"line_items": [{"price": "p", "quantity": "1"}, {"tax_rate": "t"}]},
            "line_items[1][tax_rate]",
            "parameter_unknown",
        ),
        (
            stripe_params.checkout.SessionCreateParams,
            {"customer_email": ""},
            "customer_email",
            "parameter_invalid_empty",
        ),
        (stripe_params.InvoiceItemCreateParams, {"pricing": {"price": "price_1"}, "customer": "cus_1"}, None, None),
    ],
)
def test_validate_on_real_params_classes(params_class, params, param, code):
    if param is None:
        contract.validate(params, params_class)
        return
    with pytest.raises(StripeError) as raised:
        contract.validate(params, params_class)
    assert (raised.value.status, raised.value.param, raised.value.code) == (400, param, code)


def test_the_enum_message_lists_the_values_as_stripe_does():
    with pytest.raises(StripeError) as raised:
        contract.validate({"mode": "rent"}, stripe_params.checkout.SessionCreateParams)
    assert raised.value.message == "Invalid mode: must be one of payment, setup, or subscription"
